"""Validation losses: the utility side of every marginal contribution.

A metric here is always a *loss* (lower is better), so that
``delta = loss(f_D) - loss(f_{D + z})`` is positive when the point helps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Metric", "check_metric", "error_rate", "log_loss", "squared_error"]

_EPS = float(np.finfo(np.float64).eps)


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes, clipped.

    The same definition as :func:`sklearn.metrics.log_loss`: probabilities
    are clipped to ``[eps, 1 - eps]`` with float64's machine epsilon.

    Parameters
    ----------
    y_true : ndarray of int, shape (n_val,)
        Class codes ``0..n_classes-1``.
    proba : ndarray of shape (n_val, n_classes)
        Predicted probabilities, columns aligned to every class.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> round(log_loss(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])), 4)
    0.1643
    """
    picked = proba[np.arange(len(y_true)), y_true]
    return float(-np.mean(np.log(np.clip(picked, _EPS, 1.0 - _EPS))))


def squared_error(y_true: np.ndarray, prediction: np.ndarray) -> float:
    """Mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> squared_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    2.0
    """
    return float(np.mean((np.asarray(y_true) - np.asarray(prediction)) ** 2))


def error_rate(y_true: np.ndarray, prediction: np.ndarray) -> float:
    """One minus accuracy: the share of wrong predictions.

    Examples
    --------
    >>> import numpy as np
    >>> error_rate(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))
    0.25
    """
    return float(np.mean(np.asarray(y_true) != np.asarray(prediction)))


@dataclass(frozen=True)
class Metric:
    """A validation loss and what it needs from a fitted model.

    Parameters
    ----------
    name : str
        ``"log_loss"``, ``"squared_error"``, ``"accuracy"`` or the name of a
        user callable.
    function : callable
        ``function(y_true, prediction) -> float``, lower is better.
    needs_proba : bool
        Whether ``prediction`` is the class-probability matrix (columns
        aligned to all classes) rather than the output of ``predict``.

    Examples
    --------
    >>> check_metric(None, is_classifier=True).name
    'log_loss'
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    needs_proba: bool


def check_metric(metric: Any, *, is_classifier: bool) -> Metric:
    """Resolve the ``metric`` argument of :class:`nbscale.Study`.

    Parameters
    ----------
    metric : None, str or callable
        None picks log loss for classifiers and squared error for
        regressors. Strings: ``"log_loss"``, ``"accuracy"`` (scored as the
        error rate, one minus accuracy), ``"squared_error"`` (alias
        ``"mse"``). A callable ``loss(y_true, y_pred) -> float`` receives the
        model's ``predict`` output and must return a loss, lower is better.
    is_classifier : bool
        Whether the study's targets are classes.

    Returns
    -------
    Metric

    Raises
    ------
    ValueError
        For an unknown name, or a name that does not suit the task.
    TypeError
        For anything else.

    Examples
    --------
    >>> check_metric("accuracy", is_classifier=True).needs_proba
    False
    """
    if metric is None:
        metric = "log_loss" if is_classifier else "squared_error"
    if callable(metric):
        name = getattr(metric, "__name__", type(metric).__name__)
        return Metric(str(name), metric, needs_proba=False)
    if not isinstance(metric, str):
        raise TypeError(
            f"metric: expected None, a name or a callable loss(y_true, y_pred), "
            f"got {type(metric).__name__}"
        )
    known = {
        "log_loss": Metric("log_loss", log_loss, needs_proba=True),
        "accuracy": Metric("accuracy", error_rate, needs_proba=False),
        "squared_error": Metric("squared_error", squared_error, needs_proba=False),
        "mse": Metric("squared_error", squared_error, needs_proba=False),
    }
    if metric not in known:
        raise ValueError(
            f"metric: expected one of {sorted(known)!r} or a callable, got {metric!r}"
        )
    resolved = known[metric]
    if not is_classifier and resolved.name in ("log_loss", "accuracy"):
        raise ValueError(
            f"metric: {metric!r} needs class labels, but y holds continuous "
            f"targets; use 'squared_error' or a callable"
        )
    return resolved
