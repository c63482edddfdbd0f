"""Warning and error classes raised by nbscale.

Every warning nbscale emits carries one of the categories below, so users can
filter them precisely::

    import warnings
    import nbscale
    warnings.simplefilter("ignore", nbscale.FitFailureWarning)
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = [
    "AllFitsFailedError",
    "FitFailureWarning",
    "LawFitWarning",
    "NbscaleWarning",
    "StoreError",
    "user_stacklevel",
]

_PACKAGE = str(Path(__file__).resolve().parent)


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the caller of nbscale.

    Counted from the function that calls ``warnings.warn``: the first frame
    whose file lies outside the nbscale package, so a warning raised deep
    inside (``Study.laws`` calling ``fit_laws``) names the user's line.

    Returns
    -------
    int
        At least 2.

    Examples
    --------
    >>> from nbscale.exceptions import user_stacklevel
    >>> user_stacklevel() >= 2
    True
    """
    level = 1
    frame = sys._getframe(1)  # the function about to warn
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return max(level, 2)


class NbscaleWarning(UserWarning):
    """Base class of every warning nbscale emits.

    Examples
    --------
    >>> import warnings, nbscale
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("example", nbscale.NbscaleWarning)
    >>> caught[0].category.__name__
    'NbscaleWarning'
    """


class FitFailureWarning(NbscaleWarning):
    """Some model fits failed and were recorded as failures.

    Issued once per run, with a count, never once per fit.

    Examples
    --------
    >>> import nbscale
    >>> issubclass(nbscale.FitFailureWarning, nbscale.NbscaleWarning)
    True
    """


class LawFitWarning(NbscaleWarning):
    """Some per-point scaling laws could not be fitted reliably.

    The affected rows carry a flag in the ``laws()`` DataFrame.

    Examples
    --------
    >>> import nbscale
    >>> issubclass(nbscale.LawFitWarning, nbscale.NbscaleWarning)
    True
    """


class StoreError(ValueError):
    """A store file cannot be used: damaged, foreign, or of another version.

    Examples
    --------
    >>> import nbscale
    >>> issubclass(nbscale.StoreError, ValueError)
    True
    """


class AllFitsFailedError(RuntimeError):
    """Every model fit of a run failed, so sampling stopped.

    The message carries the most common failure reasons.

    Examples
    --------
    >>> import nbscale
    >>> issubclass(nbscale.AllFitsFailedError, RuntimeError)
    True
    """
