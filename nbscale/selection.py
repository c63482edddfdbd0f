"""Does size-aware selection help? The point-addition experiment.

Covert et al. (ICML 2024, section 4) test their laws by adding points to
a training set: score the candidates at the size of the set they will
join (``c * k**-alpha``), add the top ``n`` to a random base set of that
size, and measure the change in test accuracy, against adding random
points and against a ranking that ignores the size. Points scored at the
matching size should help most, because rankings change with size.

:func:`evaluate_selection` runs that experiment for a :class:`Study`, on
a test split that neither produced the study's contributions nor is
ever trained on.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nbscale.apply import recommend, values
from nbscale.data import stratified_counts
from nbscale.learners import build_model
from nbscale.metrics import log_loss, squared_error

if TYPE_CHECKING:
    from nbscale.study import Study

__all__ = ["evaluate_selection"]

IntArray = NDArray[np.int64]


def evaluate_selection(
    study: Study,
    size: int,
    n: int,
    repeats: int = 100,
    *,
    test: float | tuple[Any, Any] = 0.25,
    laws: pd.DataFrame | None = None,
    method: str = "likelihood",
    other_sizes: Sequence[int] = (),
    window: tuple[int, int] | None = None,
    balanced: bool | None = None,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Measure how much points chosen by their laws improve a model.

    Each repeat draws a random base set ``D`` of ``size`` rows from the
    training pool (class-stratified), fits the study's model on it, then
    adds ``n`` of the studied points chosen by each strategy and fits
    again. The change in test accuracy and log loss (squared error for
    regression) is averaged over repeats.

    Parameters
    ----------
    study : Study
        A study with a model (a reopened study whose estimator could not
        be rebuilt needs it passed to :func:`nbscale.open`).
    size : int
        Size of the base set ``D``, the size the chosen points join.
    n : int
        Points added by each strategy.
    repeats : int, default=100
        Base sets drawn; at least 2 (standard errors need two).
    test : float or tuple (X_test, y_test), default=0.25
        The test split. A fraction in (0, 0.5] carves that share of the
        study's training pool, class-stratified, taking rows that are not
        studied points first; those rows are then never in a base set
        and never chosen. A pair is an explicit test set, encoded like
        the study's ``y``. The study's validation split is never used:
        it produced the contributions the laws were fitted to, so scores
        measured on it would flatter the laws.
    laws : DataFrame, optional
        Laws of the studied points (rows of :func:`nbscale.fit_laws`
        indexed by point label). Default ``study.laws(method)``.
    method : str, default="likelihood"
        Law estimator when ``laws`` is None, as in :meth:`Study.laws`.
    other_sizes : sequence of int, default=()
        Also score at these sizes (a mismatched size shows what the
        match is worth), each as a strategy ``"size=<k>"``.
    window : tuple (k_min, k_max), optional
        Window of the size-agnostic ``"window"`` strategy; default the
        study's sizes.
    balanced : bool, optional
        Choose an equal number of points per class (the paper's design).
        Default True for classification; must be False for regression.
    random_state : int or None, default=0
        Seed of the test split, the base sets and the random choices.

    Returns
    -------
    DataFrame
        Indexed by ``strategy`` (str): ``"matched"`` (top ``n`` by
        ``c * size**-alpha``), ``"window"`` (top ``n`` by
        :func:`nbscale.values` over ``window``, the same at every size),
        ``"random"`` (``n`` random studied points), then ``"size=<k>"``
        for each of ``other_sizes``. For each metric ``m`` (``accuracy``
        and ``log_loss`` for classification, ``squared_error`` for
        regression), float64 columns:

        - ``m_change``, ``m_change_se``: mean change of the test metric
          after adding the points (after minus before; higher is better
          for accuracy, lower for the losses) and its standard error over
          repeats;
        - ``m_vs_random``, ``m_vs_random_se``: the mean paired difference
          from the random strategy on the same base sets, and its error.

        ``attrs`` records ``size``, ``n``, ``repeats``, ``n_test``,
        ``test`` (``"carved"`` or ``"explicit"``) and ``n_candidates``.

    Raises
    ------
    TypeError
        If ``study`` is not a Study or an argument has the wrong type.
    ValueError
        If a count is out of range, the pool is too small for ``size``
        plus ``n`` points, fewer than ``n`` studied points qualify, the
        study has no model, or ``balanced`` is asked of a regression.

    Notes
    -----
    Candidates are the studied points (the index of ``laws``) outside
    the test rows and outside the repeat's base set. The law-based
    strategies skip points whose ``flag`` is not ``"ok"``; random choice
    does not, since it knows no laws. Models are fitted with warnings
    silenced, as during sampling; ``"logistic"`` is fitted as
    ``LogisticRegression(max_iter=1000)``, at scikit-learn's default
    tolerance rather than the sampler's converged Newton fit, which is
    many times slower with many classes. Estimators with an unset
    ``random_state`` get a seed per repeat, shared by every fit of that
    repeat.

    Examples
    --------
    >>> import warnings, nbscale
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(scale(X), y, sizes=(20, 60), samples=8,
    ...                       points=range(12), store=":memory:", random_state=0,
    ...                       design="paired")
    >>> _ = study.run(progress=False, executor="inline")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", nbscale.LawFitWarning)
    ...     table = nbscale.evaluate_selection(study, size=40, n=3, repeats=3)
    >>> table.index.tolist()
    ['matched', 'window', 'random']
    >>> table.columns.tolist()[:2]
    ['accuracy_change', 'accuracy_change_se']
    """
    # Validate the arguments.
    _check_study(study)
    data = study.data
    size = _check_count("size", size, minimum=1)
    n = _check_count("n", n, minimum=1)
    repeats = _check_count("repeats", repeats, minimum=2)
    extra_sizes = [_check_count("other_sizes", k, minimum=1) for k in other_sizes]
    if balanced is None:
        balanced = data.is_classifier
    if not isinstance(balanced, bool | np.bool_):
        raise TypeError(f"balanced: expected True, False or None, got {balanced!r}")
    if balanced and not data.is_classifier:
        raise ValueError(
            "balanced: a class-balanced choice needs classes, but this study is "
            "a regression; pass balanced=False"
        )
    model = getattr(study, "_model", None)
    if model is None:
        raise ValueError(
            "study: it has no model to refit (reopened from a store that cannot "
            "rebuild it); reopen it with nbscale.open(path, model=estimator)"
        )
    rng = np.random.default_rng(random_state)

    # The studied points and their laws.
    if laws is None:
        laws = study.laws(method)
    if not isinstance(laws, pd.DataFrame) or not {"c", "alpha"} <= set(laws.columns):
        raise TypeError(
            "laws: expected the DataFrame of nbscale.fit_laws, indexed by point"
        )
    try:
        positions = study._point_positions(laws.index)
    except (KeyError, IndexError, TypeError, ValueError):
        positions = np.full(len(laws), -1)
    if len(positions) == 0 or (positions < 0).any():
        raise ValueError(
            "laws: expected rows indexed by studied points (labels of rows in "
            "the study's training pool), got labels outside it"
        )

    # Test split, then what base sets and candidates may use.
    X_test, y_test, test_rows, test_kind = _test_split(study, test, positions, rng)
    available = np.setdiff1d(np.arange(data.n_pool), test_rows)
    studied = ~np.isin(positions, test_rows)
    if size + n > len(available):
        raise ValueError(
            f"size: a base set of {size} plus {n} added points needs "
            f"{size + n} pool rows outside the test split, but only "
            f"{len(available)} remain; lower size or n, or pass an explicit "
            f"test=(X_test, y_test)"
        )

    # Each strategy's ranking of the studied points, best first.
    orders = _rankings(study, laws, positions, size, extra_sizes, window)
    strategies = ["matched", "window", "random"] + [f"size={k}" for k in extra_sizes]
    members = _class_groups(data, available)
    y_all = data.y_train

    # The experiment.
    metric_names = ["accuracy", "log_loss"] if data.is_classifier else ["squared_error"]
    changes = np.zeros((repeats, len(strategies), len(metric_names)))
    for repeat in range(repeats):
        base = _draw_base(data, members, available, size, rng)
        in_base = np.isin(positions, base)
        seed = int(rng.integers(2**31 - 1))
        before = _fit_and_score(model, data, base, X_test, y_test, seed)
        for s, name in enumerate(strategies):
            if name == "random":
                eligible = np.flatnonzero(studied & ~in_base)
                order = rng.permutation(eligible)
            else:
                order = orders[name][studied[orders[name]] & ~in_base[orders[name]]]
            chosen = _take(order, y_all[positions] if balanced else None, n)
            if len(chosen) < n:
                raise ValueError(
                    f"n: strategy {name!r} found only {len(chosen)} eligible "
                    f"studied points outside a base set of {size}; lower n or "
                    f"size, or study more points"
                )
            after = _fit_and_score(
                model,
                data,
                np.concatenate([base, positions[chosen]]),
                X_test,
                y_test,
                seed,
            )
            changes[repeat, s] = [after[m] - before[m] for m in metric_names]

    # Means and standard errors, also paired against random choice.
    table = _summarise(changes, strategies, metric_names)
    table.attrs = {
        "size": size,
        "n": n,
        "repeats": repeats,
        "n_test": len(y_test),
        "test": test_kind,
        "n_candidates": int(studied.sum()),
    }
    return table


# ------------------------------------------------------------------ checks
def _check_study(study: object) -> None:
    from nbscale.study import Study

    if not isinstance(study, Study):
        raise TypeError(
            f"study: expected an nbscale.Study, got {type(study).__name__!r}"
        )


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _test_split(
    study: Study, test: object, positions: IntArray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, IntArray, str]:
    """Test features and targets, the pool rows they use, and their kind."""
    data = study.data
    if isinstance(test, tuple | list):
        if len(test) != 2:
            raise ValueError(
                f"test: expected a fraction or a pair (X_test, y_test), got "
                f"{len(test)} items"
            )
        X_test = np.asarray(test[0], dtype=np.float64)
        if X_test.ndim != 2 or X_test.shape[1] != data.X_train.shape[1]:
            raise ValueError(
                f"test: expected X_test of shape (n_test, "
                f"{data.X_train.shape[1]}), got {X_test.shape!r}"
            )
        y_test = _encode(data, np.asarray(test[1]).reshape(-1), len(X_test))
        return X_test, y_test, np.zeros(0, dtype=np.int64), "explicit"

    if isinstance(test, bool) or not isinstance(test, numbers.Real):
        raise TypeError(
            f"test: expected a fraction in (0, 0.5] or a pair (X_test, y_test), "
            f"got {test!r}"
        )
    if not 0.0 < float(test) <= 0.5:
        raise ValueError(f"test: expected a fraction in (0, 0.5], got {test!r}")

    # Carve the test rows, non-studied rows first within each class.
    n_test = max(2, round(float(test) * data.n_pool))
    studied = np.zeros(data.n_pool, dtype=bool)
    studied[positions] = True
    groups = _class_groups(data, np.arange(data.n_pool))
    counts = stratified_counts(np.array([len(g) for g in groups]), n_test)
    picked = []
    for group, count in zip(groups, counts, strict=True):
        shuffled = rng.permutation(group)
        preferred = shuffled[np.argsort(studied[shuffled], kind="stable")]
        picked.append(preferred[:count])
    rows = np.sort(np.concatenate(picked)).astype(np.int64)
    return data.X_train[rows], data.y_train[rows], rows, "carved"


def _encode(data: Any, y: np.ndarray, n_rows: int) -> np.ndarray:
    """Targets of an explicit test set, encoded like the study's."""
    if len(y) != n_rows:
        raise ValueError(f"test: expected {n_rows} targets for X_test, got {len(y)}")
    if not data.is_classifier:
        return y.astype(np.float64)
    unknown = np.setdiff1d(np.unique(y), data.classes)
    if unknown.size:
        raise ValueError(
            f"test: y_test holds classes the study does not know: "
            f"{unknown[:5].tolist()!r}"
        )
    return np.searchsorted(data.classes, y).astype(np.int64)


# -------------------------------------------------------------- experiment
def _rankings(
    study: Study,
    laws: pd.DataFrame,
    positions: IntArray,
    size: int,
    extra_sizes: list[int],
    window: tuple[int, int] | None,
) -> dict[str, IntArray]:
    """Rows of ``laws`` in each law-based strategy's order, best first."""
    local = laws.reset_index(drop=True)
    skip = "flag" in local.columns
    orders: dict[str, IntArray] = {}
    for name, k in [("matched", size)] + [(f"size={k}", k) for k in extra_sizes]:
        ranked = recommend(local, size=k, n=len(local), skip_flagged=skip)
        orders[name] = ranked.index.to_numpy(dtype=np.int64)
    scored = values(local, sizes=window or study.sizes)["value"]
    if skip:
        scored = scored[(local["flag"] == "ok").to_numpy()]
    orders["window"] = scored.sort_values(
        ascending=False, kind="stable"
    ).index.to_numpy(dtype=np.int64)
    return orders


def _class_groups(data: Any, rows: IntArray) -> list[IntArray]:
    """``rows`` split by class (one group for regression)."""
    if not data.is_classifier:
        return [rows]
    return [rows[data.y_train[rows] == c] for c in range(data.n_classes)]


def _draw_base(
    data: Any,
    members: list[IntArray],
    available: IntArray,
    size: int,
    rng: np.random.Generator,
) -> IntArray:
    """A class-stratified random base set of ``size`` available rows."""
    if not data.is_classifier:
        return np.sort(rng.choice(available, size, replace=False))
    counts = stratified_counts(np.array([len(m) for m in members]), size)
    picked = [
        rng.choice(m, c, replace=False)
        for m, c in zip(members, counts, strict=True)
        if c
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _take(order: IntArray, classes: np.ndarray | None, n: int) -> IntArray:
    """The first ``n`` of ``order``, taking classes in turn when given."""
    if classes is None or len(order) == 0:
        return order[:n]
    labels = classes[order]
    turn = np.zeros(len(order), dtype=np.int64)
    for label in np.unique(labels):
        mine = labels == label
        turn[mine] = np.arange(mine.sum())
    return order[np.argsort(turn, kind="stable")][:n]


def _scoring_model(model: Any) -> Any:
    """A fresh estimator for the test-split fits of the experiment.

    ``"logistic"`` means scikit-learn's ``LogisticRegression()``. During
    sampling its scikit-learn form runs Newton to a tolerance of 1e-12,
    so that every delta matches the batched engine; a test score needs no
    such precision, and lbfgs at its default tolerance is several times
    faster with many classes (given the iterations to converge).
    """
    if isinstance(model, str) and model == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000)
    return build_model(model)


def _fit_and_score(
    model: Any,
    data: Any,
    rows: IntArray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    seed: int,
) -> dict[str, float]:
    """Fit the study's model on pool ``rows``; score it on the test split."""
    estimator = _scoring_model(model)
    params = estimator.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        estimator.set_params(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(data.X_train[rows], data.y_train[rows])
        if not data.is_classifier:
            prediction = np.asarray(estimator.predict(X_test), dtype=np.float64)
            return {"squared_error": squared_error(y_test, prediction)}
        proba = np.asarray(estimator.predict_proba(X_test), dtype=np.float64)

    # Probabilities aligned to every class of the study.
    aligned = np.zeros((len(y_test), data.n_classes))
    columns = np.asarray(estimator.classes_).astype(np.int64)
    aligned[:, columns] = proba
    accuracy = float(np.mean(np.argmax(aligned, axis=1) == y_test))
    return {"accuracy": accuracy, "log_loss": log_loss(y_test, aligned)}


def _summarise(
    changes: np.ndarray, strategies: list[str], metric_names: list[str]
) -> pd.DataFrame:
    """Mean changes, paired differences from random, and their errors."""
    repeats = changes.shape[0]
    random = changes[:, strategies.index("random"), :]
    columns: dict[str, np.ndarray] = {}
    for m, name in enumerate(metric_names):
        change = changes[:, :, m]
        paired = change - random[:, m : m + 1]
        columns[f"{name}_change"] = change.mean(axis=0)
        columns[f"{name}_change_se"] = change.std(axis=0, ddof=1) / np.sqrt(repeats)
        columns[f"{name}_vs_random"] = paired.mean(axis=0)
        columns[f"{name}_vs_random_se"] = paired.std(axis=0, ddof=1) / np.sqrt(repeats)
    ordered = [
        f"{name}_{part}"
        for name in metric_names
        for part in ("change", "change_se", "vs_random", "vs_random_se")
    ]
    table = pd.DataFrame(columns, index=pd.Index(strategies, name="strategy"))
    return table[ordered].astype(np.float64)
