"""The learner protocol, batch results, and model resolution.

A *learner* turns a :class:`~nbscale.sampling.DrawBatch` into a
:class:`BatchResult`: for every requested (draw, point) pair it fits the
model on the draw's subset ``D`` and on ``D`` plus the point, scores both
on the validation split and reports the difference. Learners are the only
place models are trained, so a faster engine is a drop-in replacement.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nbscale.data import Dataset
from nbscale.metrics import Metric
from nbscale.sampling import DrawBatch

__all__ = [
    "BUILTIN_MODELS",
    "BatchResult",
    "Learner",
    "build_model",
    "check_model",
    "model_spec",
    "rebuild_model",
]

BUILTIN_MODELS = ("logistic", "linear", "ridge", "mlp")

# Estimators that `nbscale.open` may rebuild from a store: only classes from
# these packages, and only from their public modules, are ever imported.
_REBUILDABLE_PREFIXES = ("sklearn.",)


@dataclass
class BatchResult:
    """What a learner returns for one batch.

    Attributes
    ----------
    draw, point, size : ndarray of int64, shape (n_obs,)
        The successful observations (``point`` is a pool position).
    delta, loss_without, loss_with : ndarray of float64, shape (n_obs,)
        The contribution and the two validation losses behind it.
    failed_draw, failed_point, failed_size : ndarray of int64, shape (n_failed,)
    failed_reason : list of str
        One reason per failed request.
    seconds : float
        Wall time the learner spent on the batch.

    Examples
    --------
    >>> BatchResult.empty().n_observations
    0
    """

    draw: np.ndarray
    point: np.ndarray
    size: np.ndarray
    delta: np.ndarray
    loss_without: np.ndarray
    loss_with: np.ndarray
    failed_draw: np.ndarray
    failed_point: np.ndarray
    failed_size: np.ndarray
    failed_reason: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def empty(cls) -> BatchResult:
        """A result with no observations and no failures."""
        ints = np.zeros(0, dtype=np.int64)
        floats = np.zeros(0, dtype=np.float64)
        return cls(ints, ints, ints, floats, floats, floats, ints, ints, ints)

    @property
    def n_observations(self) -> int:
        """Number of successful observations."""
        return len(self.delta)

    @property
    def n_failures(self) -> int:
        """Number of failed requests."""
        return len(self.failed_reason)


@runtime_checkable
class Learner(Protocol):
    """Anything that evaluates batches of draws.

    Examples
    --------
    >>> from nbscale.learners import SklearnLearner
    >>> isinstance(SklearnLearner("logistic"), Learner)
    True
    """

    def evaluate(self, data: Dataset, batch: DrawBatch, metric: Metric) -> BatchResult:
        """Fit, score and difference every request of ``batch``."""
        ...


def check_model(model: Any, *, is_classifier: bool) -> Any:
    """Validate the ``model`` argument of :class:`nbscale.Study`.

    Parameters
    ----------
    model : str, estimator or Learner
        A built-in name (``"logistic"``, ``"linear"``, ``"ridge"``,
        ``"mlp"``), any
        scikit-learn compatible estimator (it needs ``fit`` and
        ``predict``, and ``get_params`` to be cloned), or a ready
        :class:`Learner` (an object with ``evaluate``), used as is.
    is_classifier : bool
        Whether the study's targets are classes.

    Returns
    -------
    str or estimator
        ``model`` itself, once checked.

    Raises
    ------
    ValueError, TypeError
        Naming ``model``.

    Examples
    --------
    >>> check_model("logistic", is_classifier=True)
    'logistic'
    """
    if isinstance(model, str):
        if model not in BUILTIN_MODELS:
            raise ValueError(
                f"model: expected one of {list(BUILTIN_MODELS)!r} or a "
                f"scikit-learn estimator, got {model!r}"
            )
        if model == "logistic" and not is_classifier:
            raise ValueError(
                "model: 'logistic' needs class labels, but y holds continuous "
                "targets; use 'linear', 'ridge' or 'mlp'"
            )
        if model in ("linear", "ridge") and is_classifier:
            raise ValueError(
                f"model: {model!r} is a regressor, but y holds class labels; "
                f"use 'logistic', 'mlp' or pass a classifier"
            )
        return model
    if isinstance(model, Learner):
        return model
    missing = [m for m in ("fit", "predict", "get_params") if not hasattr(model, m)]
    if missing:
        raise TypeError(
            f"model: expected a built-in name or a scikit-learn estimator, got "
            f"{type(model).__name__}, which lacks {missing!r}"
        )
    return model


def build_model(
    model: Any, *, is_classifier: bool = True, random_state: int | None = None
) -> Any:
    """An unfitted estimator for a built-in name, or a clone of ``model``.

    Parameters
    ----------
    model : str or estimator
    is_classifier : bool, default=True
        Chooses between ``MLPClassifier`` and ``MLPRegressor`` for
        ``"mlp"``.
    random_state : int, optional
        The fixed seed of ``"mlp"``'s initialisation (the study's, so every
        fit starts from the same weights).

    Notes
    -----
    ``"logistic"`` is ``LogisticRegression()``'s model solved to
    convergence (``solver="newton-cholesky", tol=1e-12``), so that
    ``engine="sklearn"`` and the batched engine agree within 1e-6.
    The scikit-learn form of ``"mlp"`` is ``MLPClassifier`` (or
    ``MLPRegressor``) with ``hidden_layer_sizes=(32,)``, its defaults
    otherwise, and ``random_state``. The batched engine trains a different,
    full-batch version (:class:`nbscale.learners.mlp.MLPLearner`).

    Examples
    --------
    >>> type(build_model("ridge")).__name__
    'Ridge'
    >>> build_model("mlp", is_classifier=False, random_state=3).random_state
    3
    """
    from sklearn.base import clone

    if not isinstance(model, str):
        return clone(model)
    if model == "logistic":
        from sklearn.linear_model import LogisticRegression

        # The converged L2 model, as the batched engine computes it;
        # lbfgs at its default tol=1e-4 stops about 1e-5 short in deltas.
        return LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000)
    if model == "linear":
        from sklearn.linear_model import LinearRegression

        return LinearRegression()
    if model == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        network = MLPClassifier if is_classifier else MLPRegressor
        return network(hidden_layer_sizes=(32,), random_state=random_state)
    from sklearn.linear_model import Ridge

    return Ridge()


def model_spec(model: Any) -> dict[str, Any]:
    """A JSON description of ``model`` for the store (never a pickle).

    Built-in names are stored as such. An estimator is stored as its class
    path and parameters when both are plain JSON, and marked as not
    rebuildable otherwise: such a study reopens for reading, and needs the
    estimator passed again to resume.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> model_spec(Ridge(alpha=2.0))["params"]["alpha"]
    2.0
    """
    if isinstance(model, str):
        return {"kind": "builtin", "name": model}
    cls = type(model)
    path = f"{cls.__module__}.{cls.__qualname__}"
    if not hasattr(model, "get_params"):
        return {"kind": "opaque", "class": path}
    try:
        params = json.loads(json.dumps(model.get_params(deep=False)))
    except (TypeError, ValueError):
        return {"kind": "opaque", "class": path}
    return {"kind": "estimator", "class": path, "params": params}


def rebuild_model(spec: dict[str, Any]) -> Any:
    """The model described by :func:`model_spec`, or None if it cannot be.

    Only classes from scikit-learn are imported; anything else returns
    None, so opening a store never runs code named by the store.

    Examples
    --------
    >>> rebuild_model({"kind": "builtin", "name": "linear"})
    'linear'
    """
    kind = spec.get("kind")
    if kind == "builtin" and spec.get("name") in BUILTIN_MODELS:
        return spec["name"]
    if kind != "estimator":
        return None
    path = str(spec.get("class", ""))
    module_name, _, class_name = path.rpartition(".")
    if not path.startswith(_REBUILDABLE_PREFIXES) or not class_name.isidentifier():
        return None
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls(**dict(spec.get("params", {})))
    except (ImportError, AttributeError, TypeError, ValueError):
        return None
