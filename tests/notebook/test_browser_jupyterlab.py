"""End to end: JupyterLab and Notebook 7 in headless Chromium, offline.

A JupyterLab server on 127.0.0.1 (no token, notebook windowing off) opens
a notebook that loads the extension and runs ``%nbscale start`` on
load_digits. The test waits for the dashboard to apply three data updates,
checks that the scaling curves have marks, presses stop, and asserts that
no request left the machine. Notebook 7 gets a smoke test on the same
server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import offline_page, save_screenshot

pytestmark = pytest.mark.browser

DASHBOARD = ".nbscale-dashboard"
REVISION = f"Number(document.querySelector('{DASHBOARD}')?.dataset.revision ?? -1)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)


def _settings(folder: Path) -> None:
    """User settings: no notebook windowing, no news or update checks."""
    values = {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {
            "checkForUpdates": False,
            "fetchNews": "false",
        },
    }
    for name, value in values.items():
        target = folder / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value), encoding="utf-8")


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A JupyterLab server on 127.0.0.1 with a folder of notebooks."""
    pytest.importorskip("jupyterlab") if not os.environ.get("CI") else None
    root = tmp_path_factory.mktemp("jupyter")
    (root / "notebooks").mkdir()
    _settings(root / "settings")
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "NBSCALE_CACHE_DIR": os.environ.get("NBSCALE_CACHE_DIR", str(root / "cache")),
        "PYTHONWARNINGS": "ignore",
    }
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root / 'notebooks'}",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log = (root / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n"
                        + (root / "server.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield {"url": url, "notebooks": root / "notebooks"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


KERNEL_ID = """() => {
  const context = window.jupyterapp?.shell?.currentWidget?.sessionContext;
  const kernel = context?.session?.kernel;
  return context?.isReady && kernel?.status === "idle" ? kernel.id : null;
}"""


def _run_all(page: Any) -> None:
    """Run every cell once the notebook's kernel is up and stays up."""
    page.wait_for_function("window.jupyterapp?.commands !== undefined", timeout=120_000)
    previous = None
    deadline = time.monotonic() + 180
    while True:  # the first kernel of a fresh session may be replaced
        current = page.evaluate(KERNEL_ID)
        if current is not None and current == previous:
            break
        if time.monotonic() > deadline:
            raise AssertionError("the notebook's kernel did not settle")
        previous = current
        time.sleep(3)
    # Do not await the command: its promise settles when all cells finish.
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
    )


def test_live_dashboard_in_jupyterlab(jupyter, tmp_path) -> None:
    _write_notebook(
        jupyter["notebooks"] / "digits.ipynb",
        [
            "%load_ext nbscale",
            "from sklearn.datasets import load_digits\n"
            "X, y = load_digits(return_X_y=True)",
            # Enough samples that the run cannot finish before stop is pressed.
            "study = %nbscale start X y --sizes 100:1000 --samples 30 "
            "--store digits.nbscale --seed 0\nstudy",
        ],
    )
    with offline_page() as (page, blocked):
        page.goto(f"{jupyter['url']}/lab/tree/digits.ipynb")
        _run_all(page)
        page.wait_for_selector(DASHBOARD, timeout=240_000)
        page.wait_for_function(f"{REVISION} >= 3", timeout=300_000)

        marks = page.locator(f"{DASHBOARD} [data-view=curves] svg .mark-symbol path")
        assert marks.count() > 0
        page.wait_for_selector(f"{DASHBOARD}[data-state=running]", timeout=60_000)

        page.click(f"{DASHBOARD} button[data-action=stop]")
        try:
            page.wait_for_selector(f"{DASHBOARD}[data-state=stopped]", timeout=120_000)
        except Exception:
            save_screenshot(page, tmp_path, "dashboard-jupyterlab-failed.png")
            state = page.evaluate(
                f"document.querySelector('{DASHBOARD}')?.dataset.state"
            )
            raise AssertionError(
                f"the dashboard did not stop; state {state!r}"
            ) from None
        assert page.locator(f"{DASHBOARD} .nbscale-error").is_hidden()
        save_screenshot(page, tmp_path, "dashboard-jupyterlab.png")
    assert blocked == []


def test_notebook7_smoke(jupyter, tmp_path) -> None:
    _write_notebook(
        jupyter["notebooks"] / "wine.ipynb",
        [
            "%load_ext nbscale\nfrom sklearn.datasets import load_wine\n"
            "X, y = load_wine(return_X_y=True)",
            "%nbscale start X y --sizes 10:60 --samples 4 --points 0:20 "
            "--store :memory: --executor threads --seed 0",
        ],
    )
    with offline_page() as (page, blocked):
        page.goto(f"{jupyter['url']}/notebooks/wine.ipynb")
        _run_all(page)
        page.wait_for_function(f"{REVISION} >= 1", timeout=300_000)
        assert page.locator(f"{DASHBOARD} [data-view=curves] svg").count() == 1
        save_screenshot(page, tmp_path, "dashboard-notebook7.png")
    assert blocked == []
