"""nbscale in notebooks: the ``%nbscale`` magics, live dashboard and charts.

- :func:`load_ipython_extension` registers ``%nbscale`` (``%load_ext
  nbscale`` calls it).
- :class:`Dashboard` is the anywidget ``Study.dashboard()`` returns.
- :func:`study_chart` draws the static Altair charts behind
  ``Study.chart(kind)``.

The names load lazily, so ``import nbscale`` does not import anywidget or
Altair.

Examples
--------
>>> import nbscale.notebook
>>> nbscale.notebook.study_chart.__name__
'study_chart'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "CHART_KINDS",
    "Dashboard",
    "NbscaleMagics",
    "load_ipython_extension",
    "study_chart",
    "unload_ipython_extension",
]

_HOMES = {
    "CHART_KINDS": "nbscale.notebook.charts",
    "Dashboard": "nbscale.notebook.dashboard",
    "NbscaleMagics": "nbscale.notebook.magics",
    "load_ipython_extension": "nbscale.notebook.magics",
    "study_chart": "nbscale.notebook.charts",
    "unload_ipython_extension": "nbscale.notebook.magics",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nbscale.notebook' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
