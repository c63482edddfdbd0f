"""Datasets: validated arrays, encoded labels, a validation split, and draws.

A :class:`Dataset` is the checked form of what the user handed to
:class:`nbscale.Study`. It holds the training pool (the rows whose
contributions are studied, plus the rows subsets are drawn from), the
validation split that every fitted model is scored on, and the mapping
back to the user's own row labels.

Subsets are drawn here too, because the draw depends on the data: for
classification a subset of size ``k`` is class-stratified, exactly as in
the paper's procedure (PAPER.md §2): each class gets ``round(p_c * k)``
rows, at least one, with the remainder given to the majority class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Dataset", "check_dataset", "draw_subset", "stratified_counts"]


@dataclass(frozen=True)
class Dataset:
    """The training pool and validation split of a study.

    Parameters
    ----------
    X_train : ndarray of shape (n_pool, n_features)
        Features of the training pool, float64.
    y_train : ndarray of shape (n_pool,)
        Targets of the pool: class codes ``0..n_classes-1`` for
        classification, floats for regression.
    X_val : ndarray of shape (n_val, n_features)
        Validation features.
    y_val : ndarray of shape (n_val,)
        Validation targets, encoded as ``y_train``.
    rows : ndarray of shape (n_pool,)
        Position of each pool row in the user's ``X``.
    labels : list
        The user's label of each row of ``X`` (positions for arrays, the
        index for DataFrames), so results can be reported in the user's
        terms.
    classes : ndarray or None
        The original class values for classification, None for
        regression.

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.data import check_dataset
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.array([0, 1] * 10)
    >>> data = check_dataset(X, y, validation=0.25, random_state=0)
    >>> data.n_pool, data.n_val, data.n_classes
    (15, 5, 2)
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    rows: np.ndarray
    labels: list[Any]
    classes: np.ndarray | None
    feature_names: list[str] = field(default_factory=list)

    @property
    def is_classifier(self) -> bool:
        """True when the targets are class labels."""
        return self.classes is not None

    @property
    def n_pool(self) -> int:
        """Number of rows in the training pool."""
        return int(self.X_train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation rows."""
        return int(self.X_val.shape[0])

    @property
    def n_classes(self) -> int:
        """Number of classes, or 0 for regression."""
        return 0 if self.classes is None else len(self.classes)

    @cached_property
    def class_members(self) -> list[np.ndarray]:
        """Pool positions of each class (empty for regression)."""
        return [np.flatnonzero(self.y_train == c) for c in range(self.n_classes)]

    def pool_position(self, rows: np.ndarray) -> np.ndarray:
        """Translate positions in the user's X to positions in the pool."""
        lookup = np.full(len(self.labels), -1, dtype=np.int64)
        lookup[self.rows] = np.arange(self.n_pool)
        return lookup[rows]


def _as_feature_array(X: Any) -> tuple[np.ndarray, list[str]]:
    """Turn X into a finite float64 matrix, or raise naming ``X``."""
    names: list[str] = []
    if isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise TypeError(
                f"X: expected numeric feature columns, got non-numeric columns "
                f"{bad[:5]!r}; encode them first (for example with "
                f"pandas.get_dummies) or drop them"
            )
        names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64)
    try:
        array = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"X: expected a numeric array of shape (n_samples, n_features), "
            f"got {type(X).__name__} that cannot be converted to float"
        ) from err
    if array.ndim != 2:
        raise ValueError(
            f"X: expected a 2-D array of shape (n_samples, n_features), "
            f"got an array of shape {array.shape!r}"
        )
    if array.shape[0] < 4 or array.shape[1] < 1:
        raise ValueError(
            f"X: expected at least 4 rows and 1 column, got shape {array.shape!r}"
        )
    if not np.isfinite(array).all():
        n_bad = int((~np.isfinite(array)).sum())
        raise ValueError(
            f"X: expected finite values, got {n_bad} NaN or infinite entries; "
            f"impute or drop them first"
        )
    if not names:
        names = [f"x{i}" for i in range(array.shape[1])]
    return array, names


def _split_target(X: Any, y: Any, target: str | None) -> tuple[Any, Any]:
    """Pull the target column out of a DataFrame when ``target`` names it."""
    if target is None:
        return X, y
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"target: a column name needs X to be a pandas DataFrame, got X of "
            f"type {type(X).__name__}"
        )
    if y is not None:
        raise ValueError("target: pass either y or target, not both")
    if target not in X.columns:
        raise ValueError(
            f"target: expected one of the columns of X, got {target!r}; "
            f"columns are {list(X.columns)[:10]!r}"
        )
    return X.drop(columns=[target]), X[target]


def _encode_target(
    y: Any, n_rows: int, task: str | None, name: str = "y"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate y and encode classes as codes ``0..n_classes-1``."""
    if y is None:
        raise ValueError(f"{name}: expected targets, got None")
    values = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y)
    if values.ndim != 1:
        values = (
            values.reshape(-1) if values.ndim == 2 and 1 in values.shape else values
        )
    if values.ndim != 1 or len(values) != n_rows:
        raise ValueError(
            f"{name}: expected {n_rows} targets, one per row of X, got an "
            f"array of shape {np.shape(values)!r}"
        )
    if task is None:
        is_float = values.dtype.kind == "f"
        task = (
            "regression"
            if is_float and not _looks_integral(values)
            else ("classification")
        )
    if task == "regression":
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"{name}: expected finite targets, got NaN or inf")
        return values, None
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ValueError(f"{name}: expected class labels, got NaN or inf")
    classes, codes = np.unique(values, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{name}: expected at least 2 classes, got a single class "
            f"{classes.tolist()!r}"
        )
    return codes.astype(np.int64), classes


def _looks_integral(values: np.ndarray) -> bool:
    """True for float targets that are whole numbers with few levels."""
    if not np.isfinite(values).all():
        return False
    return bool(np.all(values == np.round(values)) and len(np.unique(values)) <= 20)


def check_dataset(
    X: Any,
    y: Any = None,
    *,
    target: str | None = None,
    points: Any = None,
    validation: Any = 0.2,
    task: str | None = None,
    random_state: int | None = 0,
) -> Dataset:
    """Validate user data once and build the study's :class:`Dataset`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Numeric features, finite.
    y : array-like of shape (n_samples,), optional
        Targets. Omit it when ``target`` names a column of ``X``.
    target : str, optional
        The label column of a DataFrame ``X``.
    points : array-like of int, optional
        Positions in ``X`` of the rows to study. They always land in the
        training pool: a held-out validation fraction is drawn from the
        other rows.
    validation : float or tuple (X_val, y_val), default=0.2
        A fraction in (0, 1) held out from ``X`` (stratified for
        classification), or an explicit validation set.
    task : {"classification", "regression"}, optional
        Inferred from ``y`` when omitted: integer, string or boolean
        targets, and float targets with at most 20 whole-number levels,
        are classes.
    random_state : int, default=0
        Seed of the validation split.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError, TypeError
        With a message naming the argument at fault.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> data = check_dataset(X, y, validation=0.3, random_state=0)
    >>> data.n_classes, data.n_pool + data.n_val == len(X)
    (3, True)
    """
    # Features and targets.
    X, y = _split_target(X, y, target)
    labels = list(X.index) if isinstance(X, pd.DataFrame) else None
    features, names = _as_feature_array(X)
    n_rows = features.shape[0]
    if labels is None:
        labels = list(range(n_rows))
    codes, classes = _encode_target(y, n_rows, task)
    chosen = _check_points(points, n_rows)

    # Validation rows.
    if isinstance(validation, tuple | list) and len(validation) == 2:
        X_val, _ = _as_feature_array(validation[0])
        if X_val.shape[1] != features.shape[1]:
            raise ValueError(
                f"validation: expected X_val with {features.shape[1]} columns, "
                f"got {X_val.shape[1]}"
            )
        y_val = _encode_validation_target(validation[1], len(X_val), classes)
        train_rows = np.arange(n_rows)
    else:
        val_rows = _split_rows(codes, classes, chosen, validation, random_state)
        train_rows = np.setdiff1d(np.arange(n_rows), val_rows)
        X_val, y_val = features[val_rows], codes[val_rows]

    return Dataset(
        X_train=features[train_rows],
        y_train=codes[train_rows],
        X_val=X_val,
        y_val=y_val,
        rows=train_rows,
        labels=labels,
        classes=classes,
        feature_names=names,
    )


def _check_points(points: Any, n_rows: int) -> np.ndarray | None:
    """Validate ``points`` as unique positions into X."""
    if points is None:
        return None
    try:
        positions = np.asarray(points)
    except (TypeError, ValueError) as err:
        raise TypeError(f"points: expected integer positions, got {points!r}") from err
    if positions.ndim != 1 or positions.size == 0:
        raise ValueError(
            f"points: expected a non-empty 1-D list of positions, got shape "
            f"{positions.shape!r}"
        )
    if positions.dtype.kind not in "iu":
        raise TypeError(
            f"points: expected integer positions, got dtype {positions.dtype}"
        )
    bad = positions[(positions < 0) | (positions >= n_rows)]
    if bad.size:
        raise ValueError(
            f"points: expected positions in [0, {n_rows - 1}], got {bad[:5].tolist()!r}"
        )
    if len(np.unique(positions)) != len(positions):
        raise ValueError("points: expected unique positions, got duplicates")
    return np.sort(positions.astype(np.int64))


def _split_rows(
    codes: np.ndarray,
    classes: np.ndarray | None,
    chosen: np.ndarray | None,
    validation: Any,
    random_state: int | None,
) -> np.ndarray:
    """Pick validation rows, stratified by class, never among ``chosen``."""
    if isinstance(validation, bool) or not isinstance(validation, float | int):
        raise TypeError(
            f"validation: expected a fraction in (0, 1) or a pair (X_val, y_val), "
            f"got {validation!r}"
        )
    if not 0.0 < float(validation) < 1.0:
        raise ValueError(
            f"validation: expected a fraction in (0, 1), got {validation!r}"
        )
    n_rows = len(codes)
    candidates = np.arange(n_rows)
    if chosen is not None:
        candidates = np.setdiff1d(candidates, chosen)
    n_val = round(float(validation) * n_rows)
    if n_val < 2 or n_val > len(candidates):
        raise ValueError(
            f"validation: a fraction of {validation!r} asks for {n_val} "
            f"validation rows, but {len(candidates)} rows outside `points` are "
            f"available and at least 2 are needed"
        )
    rng = np.random.default_rng(random_state)
    if classes is None:
        return np.sort(rng.choice(candidates, n_val, replace=False))
    groups = [candidates[codes[candidates] == c] for c in range(len(classes))]
    sizes = np.array([len(g) for g in groups], dtype=np.float64)
    counts = stratified_counts(sizes, n_val)
    picked = [
        rng.choice(g, n, replace=False) for g, n in zip(groups, counts, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def _encode_validation_target(
    y_val: Any, n_rows: int, classes: np.ndarray | None
) -> np.ndarray:
    """Encode an explicit validation target with the training classes."""
    if classes is None:
        values, _ = _encode_target(y_val, n_rows, "regression", name="validation")
        return values
    raw = np.asarray(y_val).reshape(-1)
    if len(raw) != n_rows:
        raise ValueError(
            f"validation: expected {n_rows} targets for X_val, got {len(raw)}"
        )
    unknown = np.setdiff1d(np.unique(raw), classes)
    if unknown.size:
        raise ValueError(
            f"validation: y_val holds classes absent from y: {unknown[:5].tolist()!r}"
        )
    return np.searchsorted(classes, raw).astype(np.int64)


def stratified_counts(class_sizes: np.ndarray, k: int) -> np.ndarray:
    """Rows per class in a class-stratified subset of size ``k``.

    Each class gets ``round(p_c * k)`` rows, where ``p_c`` is its share of
    the pool, and at least one; the majority class absorbs the remainder.
    No class gets more rows than it has. When ``k`` is smaller than the
    number of non-empty classes, the largest classes get one row each.

    Parameters
    ----------
    class_sizes : ndarray of shape (n_classes,)
        Rows available per class.
    k : int
        Subset size, at most ``class_sizes.sum()``.

    Returns
    -------
    ndarray of int64, shape (n_classes,)
        Rows to draw from each class; they sum to ``k``.

    Examples
    --------
    >>> stratified_counts(np.array([60, 30, 10]), 10)
    array([6, 3, 1])
    >>> stratified_counts(np.array([98, 1, 1]), 10)
    array([8, 1, 1])
    """
    sizes = np.asarray(class_sizes, dtype=np.int64)
    order = np.argsort(-sizes, kind="stable")
    n_nonempty = int((sizes > 0).sum())
    counts = np.zeros(len(sizes), dtype=np.int64)
    if k < n_nonempty:
        counts[order[:k]] = 1
        return counts

    # Proportional shares, at least one per non-empty class.
    share = sizes / sizes.sum()
    counts = np.minimum(np.maximum(np.round(share * k), sizes > 0), sizes)
    counts = counts.astype(np.int64)

    # The majority class absorbs the remainder; spill over when it is full.
    remainder = k - int(counts.sum())
    for c in order:
        if remainder == 0:
            break
        room = sizes[c] - counts[c] if remainder > 0 else counts[c] - 1
        step = min(abs(remainder), int(room))
        counts[c] += step if remainder > 0 else -step
        remainder += -step if remainder > 0 else step
    return counts


def draw_subset(data: Dataset, point: int | None, size: int, seed: int) -> np.ndarray:
    """Regenerate the subset D of one draw, as pool positions.

    Parameters
    ----------
    data : Dataset
    point : int or None
        Pool position of the studied point, which is never in D; None for
        a draw from the whole pool.
    size : int
        ``|D|``.
    seed : int
        The draw's stored seed.

    Returns
    -------
    ndarray of int64, shape (size,)
        Sorted pool positions.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 2))
    >>> data = check_dataset(X, np.array([0, 1] * 20), random_state=0)
    >>> subset = draw_subset(data, point=3, size=10, seed=7)
    >>> len(subset), 3 in subset
    (10, False)
    """
    rng = np.random.default_rng(seed)
    if not data.is_classifier:
        pool = np.arange(data.n_pool)
        if point is not None:
            pool = np.delete(pool, point)
        return np.sort(rng.choice(pool, size, replace=False))

    members = data.class_members
    if point is not None:
        own = int(data.y_train[point])
        members = list(members)
        members[own] = members[own][members[own] != point]
    sizes = np.array([len(m) for m in members])
    counts = stratified_counts(sizes, size)
    picked = [
        rng.choice(m, n, replace=False)
        for m, n in zip(members, counts, strict=True)
        if n > 0
    ]
    return np.sort(np.concatenate(picked))
