"""Warning and error classes raised by nbscale.

Every warning nbscale emits carries one of the categories below, so users can
filter them precisely::

    import warnings
    import nbscale
    warnings.simplefilter("ignore", nbscale.FitFailureWarning)
"""

from __future__ import annotations

__all__ = [
    "AllFitsFailedError",
    "FitFailureWarning",
    "LawFitWarning",
    "NbscaleWarning",
    "StoreError",
]


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
