"""The dashboard's front-end: self-contained, cached, type-checked."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nbscale.notebook import _bundle

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"


@pytest.fixture
def fresh_bundle(monkeypatch, tmp_path):
    """An empty memo and cache folder; a stand-in for vl-convert's bundler."""
    import vl_convert

    calls: list[str] = []

    def fake_bundle(snippet: str, vl_version: str | None = None) -> str:
        calls.append(snippet)
        return f"/* vendored {vl_version} */ {snippet}"

    monkeypatch.setattr(_bundle, "_esm", None)
    monkeypatch.setenv("NBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(vl_convert, "javascript_bundle", fake_bundle)
    yield calls
    _bundle._esm = None


def test_the_module_is_self_contained() -> None:
    esm = _bundle.dashboard_esm()
    # Nothing to fetch: no static or dynamic imports, least of all from a CDN.
    assert not re.search(r"^\s*import[\s{*\"']", esm, re.MULTILINE)
    assert not re.search(r"\bimport\s*\(\s*[\"'`]", esm)
    assert not re.search(r"\bfrom\s*[\"'`]https?:", esm)
    assert "cdn.jsdelivr" not in esm and "unpkg.com" not in esm
    assert esm.count("export default") == 1
    assert esm.index("const nbscaleVendor") < esm.index("export default")


def test_vendor_bundle_is_cached_on_disk(fresh_bundle, tmp_path) -> None:
    first = _bundle.dashboard_esm()
    cached = list((tmp_path / "cache").glob("vendor-*.js"))
    assert len(cached) == 1 and len(fresh_bundle) == 1
    assert "nbscaleVendorSink.vegaEmbed = vegaEmbed" in fresh_bundle[0]

    _bundle._esm = None
    assert _bundle.dashboard_esm() == first
    assert len(fresh_bundle) == 1  # read back, not rebuilt


def test_an_incomplete_cache_is_rebuilt(fresh_bundle, tmp_path) -> None:
    _bundle.dashboard_esm()
    cached = next((tmp_path / "cache").glob("vendor-*.js"))
    cached.write_text("const nbscaleVendor = (function () {", encoding="utf-8")
    _bundle._esm = None
    _bundle.dashboard_esm()
    assert len(fresh_bundle) == 2
    assert cached.read_text(encoding="utf-8").rstrip().endswith("*/")


def test_an_unwritable_cache_only_costs_time(
    fresh_bundle, monkeypatch, tmp_path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("NBSCALE_CACHE_DIR", str(blocker / "cache"))
    assert "export default" in _bundle.dashboard_esm()


def test_imports_in_the_widget_source_are_refused(
    fresh_bundle, monkeypatch, tmp_path
) -> None:
    (tmp_path / "dashboard.js").write_text(
        'import embed from "https://cdn.example/vega-embed.js";\nexport default {};\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(_bundle, "source_dir", lambda: tmp_path)
    with pytest.raises(RuntimeError, match="must not import anything"):
        _bundle.dashboard_esm()


def test_warm_up_builds_in_the_background(fresh_bundle) -> None:
    thread = _bundle.warm_up()
    thread.join(timeout=120)
    assert _bundle._esm is not None


def test_css_is_shipped() -> None:
    assert ".nbscale-error" in _bundle.dashboard_css()


@pytest.mark.skipif(
    not (WIDGETS / "node_modules" / ".bin" / "tsc").exists(),
    reason="TypeScript not installed: cd widgets && npm ci",
)
def test_jsdoc_types_check() -> None:
    tsc = WIDGETS / "node_modules" / ".bin" / "tsc"
    done = subprocess.run(
        [str(tsc), "--project", "tsconfig.json"],
        cwd=WIDGETS,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_unit_tests() -> None:
    done = subprocess.run(
        ["node", "--test", "test/"],
        cwd=WIDGETS,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
