"""nbscale: per-point data scaling laws, live in Jupyter.

A data point's expected contribution to a model shrinks with the dataset
size ``k`` as ``c * k**-alpha`` (Covert et al., ICML 2024), with ``c`` and
``alpha`` its own. nbscale samples those contributions on your data and
model in the background, stores them safely, and fits the laws.

Examples
--------
>>> import nbscale
>>> sorted(n for n in nbscale.__all__ if n[0].islower())[:3]
['evaluate_selection', 'fit_amortized', 'fit_laws']
"""

from __future__ import annotations

from typing import Any

from nbscale.apply import recommend, values
from nbscale.exceptions import (
    AllFitsFailedError,
    FitFailureWarning,
    LawFitWarning,
    NbscaleWarning,
    StoreError,
)
from nbscale.laws import fit_amortized, fit_laws
from nbscale.reopen import open_study
from nbscale.selection import evaluate_selection
from nbscale.stopping import AlphaPrecision, ObservationBudget, StoppingRule, TimeBudget
from nbscale.study import Study

__all__ = [
    "AllFitsFailedError",
    "AlphaPrecision",
    "FitFailureWarning",
    "LawFitWarning",
    "NbscaleWarning",
    "ObservationBudget",
    "StoppingRule",
    "StoreError",
    "Study",
    "TimeBudget",
    "evaluate_selection",
    "fit_amortized",
    "fit_laws",
    "load_ipython_extension",
    "open",
    "recommend",
    "unload_ipython_extension",
    "values",
]

__version__ = "0.1.0"

open = open_study


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%nbscale`` magics: ``%load_ext nbscale``.

    Examples
    --------
    >>> callable(load_ipython_extension)
    True
    """
    from nbscale.notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the ``%nbscale`` magics: ``%unload_ext nbscale``.

    Examples
    --------
    >>> callable(unload_ipython_extension)
    True
    """
    from nbscale.notebook.magics import unload_ipython_extension as unload

    unload(ipython)
