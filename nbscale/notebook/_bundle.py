"""The dashboard's front-end, assembled offline.

The widget's ES module is two parts joined:

1. Vega, Vega-Lite and Vega-Embed, bundled by ``vl_convert.javascript_bundle``
   from the copies vl-convert-python carries, so nothing is fetched from a
   CDN. vl-convert bundles a snippet that may reference ``vegaEmbed`` but
   may not import or export anything, so the snippet hands ``vegaEmbed`` to
   an object the wrapper below returns; the whole bundle runs inside a
   function, which keeps its minified top-level names out of the module
   scope. The result is cached on disk (it takes a second or two to build)
   under a name that carries the vl-convert and Vega-Lite versions.
2. ``dashboard.js`` from ``widgets/``: plain ESM without imports that reads
   the vendored libraries from ``nbscaleVendor``.

The sources are looked up next to this module (``static/``, where the
wheel puts them) and then in the repository's ``widgets/`` folder, which
serves editable installs.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from importlib import resources
from pathlib import Path

__all__ = ["dashboard_css", "dashboard_esm", "source_dir", "warm_up"]

logger = logging.getLogger(__name__)

_VENDOR_SNIPPET = "nbscaleVendorSink.vegaEmbed = vegaEmbed;\n"
_END_MARK = "/* nbscale-vendor-end */"
_IMPORT_STATEMENT = re.compile(r"^\s*import\s*[\s({*\"'\w]", re.MULTILINE)

_lock = threading.Lock()
_esm: str | None = None


def source_dir() -> Path:
    """The folder holding ``dashboard.js`` and ``dashboard.css``.

    Returns
    -------
    Path
        ``nbscale/notebook/static`` in an installed wheel, otherwise the
        repository's ``widgets/`` folder.

    Raises
    ------
    FileNotFoundError
        If neither holds ``dashboard.js`` (a broken installation).

    Examples
    --------
    >>> (source_dir() / "dashboard.js").is_file()
    True
    """
    packaged = Path(str(resources.files("nbscale.notebook"))) / "static"
    repository = Path(__file__).resolve().parents[2] / "widgets"
    for folder in (packaged, repository):
        if (folder / "dashboard.js").is_file():
            return folder
    raise FileNotFoundError(
        f"nbscale's dashboard front-end is missing: neither {packaged} nor "
        f"{repository} holds dashboard.js; reinstall nbscale"
    )


def dashboard_css() -> str:
    """The dashboard's stylesheet.

    Examples
    --------
    >>> ".nbscale-dashboard" in dashboard_css()
    True
    """
    return (source_dir() / "dashboard.css").read_text(encoding="utf-8")


def dashboard_esm() -> str:
    """The dashboard's complete ES module, vendored libraries included.

    Built once per process (and once per machine thanks to the disk cache).

    Returns
    -------
    str
        An ES module with a default export ``{render}``; it imports
        nothing.

    Raises
    ------
    RuntimeError
        If ``dashboard.js`` contains an import statement: the module must
        be self-contained.

    Examples
    --------
    >>> esm = dashboard_esm()
    >>> "export default" in esm and "nbscaleVendor" in esm
    True
    """
    global _esm
    with _lock:
        if _esm is None:
            source = (source_dir() / "dashboard.js").read_text(encoding="utf-8")
            if _IMPORT_STATEMENT.search(source):
                raise RuntimeError(
                    "dashboard.js must not import anything: the widget loads "
                    "offline; take libraries from nbscaleVendor instead"
                )
            _esm = _vendor_bundle() + "\n" + source
        return _esm


def warm_up() -> threading.Thread:
    """Build the module and import Altair in the background.

    Called by ``%load_ext nbscale``, so that the first dashboard opens fast.

    Returns
    -------
    threading.Thread
        The (daemon) thread; errors are logged, and raised again by the
        next :func:`dashboard_esm` call.

    Notes
    -----
    The imports (Altair, anywidget, vl-convert: about a second) happen in
    the calling thread; only the bundling runs in the background. Two
    threads importing packages that share dependencies at the same time
    (Altair and scikit-learn both import narwhals) can trip Python's
    import-lock deadlock detection, which would fail the user's next cell.

    Examples
    --------
    >>> warm_up().join()
    """
    try:
        import altair  # noqa: F401 - slow to import; the charts need it
        import anywidget  # noqa: F401
        import vl_convert  # noqa: F401
    except ImportError:
        logger.warning("could not import the dashboard's libraries", exc_info=True)

    def build() -> None:
        try:
            dashboard_esm()
        except Exception:
            logger.warning("could not prepare the dashboard front-end", exc_info=True)

    thread = threading.Thread(target=build, name="nbscale-bundle", daemon=True)
    thread.start()
    return thread


def _vendor_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed wrapped to define ``nbscaleVendor``."""
    import vl_convert

    vl_version = _vega_lite_version(vl_convert)
    release = getattr(vl_convert, "__version__", "unknown")
    cache = _cache_dir() / f"vendor-vlc{release}-vl{vl_version or 'latest'}.js"
    if cache.is_file():
        text = cache.read_text(encoding="utf-8")
        if text.rstrip().endswith(_END_MARK):
            return text
        logger.info("ignoring an incomplete cached bundle at %s", cache)

    logger.info("bundling Vega-Lite %s with vl-convert", vl_version or "(latest)")
    bundle = vl_convert.javascript_bundle(_VENDOR_SNIPPET, vl_version=vl_version)
    text = (
        "const nbscaleVendor = (function () {\n"
        "const nbscaleVendorSink = {};\n"
        f"{bundle}\n"
        "return nbscaleVendorSink;\n"
        f"}})();\n{_END_MARK}\n"
    )
    _write_atomically(cache, text)
    return text


def _vega_lite_version(vl_convert: object) -> str | None:
    """The Vega-Lite release Altair writes specs for, if vl-convert has it."""
    import altair

    wanted = ".".join(altair.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    available: list[str] = list(getattr(vl_convert, "get_vegalite_versions", list)())
    return wanted if wanted in available else None


def _cache_dir() -> Path:
    """``$NBSCALE_CACHE_DIR``, else the user cache folder's ``nbscale``."""
    configured = os.environ.get("NBSCALE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nbscale"


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file; a failure only costs the cache."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as err:
        logger.info("could not cache the bundle at %s: %s", path, err)
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
