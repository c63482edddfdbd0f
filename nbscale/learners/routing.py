"""Routing: which engine evaluates a study's model.

:func:`learner_for` sends a built-in name, or a scikit-learn estimator
whose definition a batched engine reproduces exactly, to that engine, and
anything else to :class:`~nbscale.learners.SklearnLearner`, which clones
and fits the estimator as it is.
"""

from __future__ import annotations

import math
from typing import Any

from nbscale.learners._backend import check_device
from nbscale.learners.base import Learner
from nbscale.learners.linear import LinearLearner
from nbscale.learners.logistic import LogisticLearner
from nbscale.learners.sklearn import SklearnLearner

__all__ = ["ENGINES", "batched_learner", "check_engine", "learner_for"]

ENGINES = ("auto", "batched", "sklearn")

# Solvers that minimise the L2-penalised objective to (near) convergence;
# liblinear penalises the intercept, so it defines another model.
_LOGISTIC_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky")
_RIDGE_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga")


def check_engine(engine: Any) -> str:
    """Validate the ``engine`` argument.

    Examples
    --------
    >>> check_engine("sklearn")
    'sklearn'
    """
    if engine not in ENGINES:
        raise ValueError(
            f"engine: expected one of {list(ENGINES)!r}, got {engine!r}; "
            f"'auto' picks the batched engine when it covers the model"
        )
    return str(engine)


def batched_learner(
    model: Any, *, device: Any = None, random_state: int = 0
) -> Learner | None:
    """The batched engine that reproduces ``model`` exactly, or None.

    Parameters
    ----------
    model : str or estimator
        A built-in name, or a scikit-learn estimator.
    device : None or str, optional
        See :func:`learner_for`.
    random_state : int, default=0
        Seed of the MLP's fixed initialisation (``"mlp"`` only).

    Returns
    -------
    Learner or None
        None when no engine covers the model (another class, or options
        such as an L1 penalty, class weights or ``positive=True``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> batched_learner(LogisticRegression(C=0.5))
    LogisticLearner(C=0.5, fit_intercept=True, device=None)
    >>> batched_learner(LogisticRegression(penalty="l1", solver="saga")) is None
    True
    """
    if isinstance(model, str):
        if model == "logistic":
            return LogisticLearner(device=device)
        if model == "linear":
            return LinearLearner(device=device)
        if model == "ridge":
            return LinearLearner(alpha=1.0, device=device)
        if model == "mlp":
            from nbscale.learners.mlp import MLPLearner

            return MLPLearner(random_state=random_state, device=device)
        return None
    if not hasattr(model, "get_params"):
        return None
    name = f"{type(model).__module__}.{type(model).__qualname__}"
    params = model.get_params(deep=False)
    if name.endswith("LogisticRegression") and _covered_logistic(name, params):
        return LogisticLearner(
            C=float(params["C"]),
            fit_intercept=bool(params["fit_intercept"]),
            device=device,
        )
    if name == "sklearn.linear_model._ridge.Ridge" and _covered_ridge(params):
        return LinearLearner(
            alpha=float(params["alpha"]),
            fit_intercept=bool(params["fit_intercept"]),
            device=device,
        )
    if name == "sklearn.linear_model._base.LinearRegression" and not params.get(
        "positive", False
    ):
        return LinearLearner(
            fit_intercept=bool(params["fit_intercept"]),
            tol=float(params.get("tol", 1e-6)),
            device=device,
        )
    return None


def _covered_logistic(name: str, params: dict[str, Any]) -> bool:
    """Whether a LogisticRegression's options define the engine's model."""
    if name != "sklearn.linear_model._logistic.LogisticRegression":
        return False
    penalty = params.get("penalty", "deprecated")
    l1_ratio = params.get("l1_ratio")
    l2 = penalty == "l2" or (penalty == "deprecated" and l1_ratio in (0, 0.0, None))
    C = params.get("C")
    return (
        l2
        and isinstance(C, int | float)
        and math.isfinite(C)
        and C > 0
        and params.get("solver") in _LOGISTIC_SOLVERS
        and params.get("class_weight") is None
        and not params.get("dual", False)
        and isinstance(params.get("fit_intercept"), bool)
    )


def _covered_ridge(params: dict[str, Any]) -> bool:
    alpha = params.get("alpha")
    return (
        isinstance(alpha, int | float)
        and math.isfinite(alpha)
        and alpha > 0
        and not params.get("positive", False)
        and params.get("solver") in _RIDGE_SOLVERS
        and isinstance(params.get("fit_intercept"), bool)
    )


def learner_for(
    model: Any,
    *,
    engine: str = "auto",
    device: Any = None,
    random_state: int = 0,
    fit_timeout: float | None = None,
) -> Learner:
    """The learner that evaluates ``model`` in a study.

    Parameters
    ----------
    model : str, estimator or Learner
        A built-in name (``"logistic"``, ``"linear"``, ``"ridge"``,
        ``"mlp"``), a scikit-learn estimator, or a ready learner (returned
        as it is).
    engine : {"auto", "batched", "sklearn"}, default="auto"
        ``"auto"`` uses a batched engine for the built-in names and for
        ``LogisticRegression`` (L2 penalty, any ``C``, with or without
        intercept, solvers lbfgs, newton-cg or newton-cholesky),
        ``Ridge`` (any ``alpha > 0``) and ``LinearRegression`` (not
        ``positive``), and :class:`SklearnLearner` for everything else.
        ``"batched"`` insists on an engine and raises when none covers
        the model; ``"sklearn"`` always clones and fits the estimator.
    device : None or str, optional
        Where batched engines compute: None for numpy on the CPU (the
        fastest choice on a CPU, measured), ``"cpu"`` or ``"cuda"`` for
        torch there, ``"auto"`` for CUDA when available.
    random_state : int, default=0
        The study's seed for the MLP's fixed initialisation.
    fit_timeout : float, optional
        Time limit of one scikit-learn fit (see :class:`SklearnLearner`).

    Returns
    -------
    Learner

    Raises
    ------
    ValueError
        For an unknown engine or device, or ``engine="batched"`` with a
        model no engine covers.

    Notes
    -----
    The batched engines return the *converged* optimum of the same
    objective, so their contributions match a scikit-learn refit with a
    tight tolerance within 1e-6 (see :class:`LogisticLearner`). The
    ``"mlp"`` built-in is the exception: its batched engine
    (:class:`~nbscale.learners.mlp.MLPLearner`) and its scikit-learn
    fallback, ``MLPClassifier`` or ``MLPRegressor`` with
    ``hidden_layer_sizes=(32,)`` and the study's ``random_state``, are two
    different training procedures, so a study records which one it used.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> learner_for(Ridge(alpha=3.0))
    LinearLearner(alpha=3.0, fit_intercept=True, device=None)
    >>> type(learner_for(DecisionTreeRegressor())).__name__
    'SklearnLearner'
    >>> type(learner_for("logistic", engine="sklearn")).__name__
    'SklearnLearner'
    """
    engine = check_engine(engine)
    device = check_device(device)
    if isinstance(model, Learner):
        return model
    if engine != "sklearn":
        batched = batched_learner(model, device=device, random_state=random_state)
        if batched is not None:
            return batched
        if engine == "batched":
            raise ValueError(
                f"engine: no batched engine covers {model!r}; pass engine='auto' "
                f"to fit it with scikit-learn, or use a covered model (see "
                f"nbscale.learners.learner_for)"
            )
    return SklearnLearner(model, fit_timeout=fit_timeout, random_state=random_state)
