"""Dataset validation, the validation split and stratified draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbscale.data import check_dataset, draw_subset, stratified_counts


def test_stratified_counts_follow_class_shares() -> None:
    counts = stratified_counts(np.array([500, 300, 200]), 100)
    assert counts.tolist() == [50, 30, 20]


def test_stratified_counts_keep_every_class_and_sum_to_k() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(1, 50, size=rng.integers(2, 6))
        k = int(rng.integers(len(sizes), sizes.sum() + 1))
        counts = stratified_counts(sizes, k)
        assert counts.sum() == k
        assert (counts >= 1).all()
        assert (counts <= sizes).all()


def test_subset_excludes_point_and_is_stratified(wine) -> None:
    X, y = wine
    data = check_dataset(X, y, random_state=0)
    shares = np.bincount(data.y_train) / data.n_pool
    for seed in range(20):
        subset = draw_subset(data, point=seed, size=60, seed=seed)
        assert seed not in subset
        assert len(np.unique(subset)) == 60
        counts = np.bincount(data.y_train[subset], minlength=3)
        assert np.all(np.abs(counts - shares * 60) <= 1.0)


def test_subset_is_regenerated_from_seed(wine) -> None:
    X, y = wine
    data = check_dataset(X, y, random_state=0)
    first = draw_subset(data, 4, 30, seed=99)
    assert np.array_equal(first, draw_subset(data, 4, 30, seed=99))
    assert not np.array_equal(first, draw_subset(data, 4, 30, seed=100))


def test_validation_split_is_stratified_and_avoids_points(wine) -> None:
    X, y = wine
    points = np.arange(0, len(y), 5)
    data = check_dataset(X, y, points=points, validation=0.3, random_state=1)
    assert set(points) <= set(data.rows.tolist())
    val_share = np.bincount(data.y_val) / data.n_val
    all_share = np.bincount(y) / len(y)
    assert np.allclose(val_share, all_share, atol=0.05)


def test_explicit_validation_pair(wine) -> None:
    X, y = wine
    data = check_dataset(X[:150], y[:150], validation=(X[150:], y[150:]))
    assert data.n_pool == 150 and data.n_val == 28


def test_dataframe_with_target_keeps_index_labels(wine) -> None:
    X, y = wine
    frame = pd.DataFrame(X, index=[f"r{i}" for i in range(len(X))])
    frame.columns = [f"f{i}" for i in range(X.shape[1])]
    frame["label"] = y
    data = check_dataset(frame, target="label", random_state=0)
    assert data.labels[3] == "r3"
    assert data.feature_names[0] == "f0"
    assert data.X_train.shape[1] == X.shape[1]


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"X": [[np.nan, 1.0]] * 10}, ValueError, "X: expected finite"),
        ({"X": [[np.inf, 1.0]] * 10}, ValueError, "X: expected finite"),
        ({"y": [0, 1, 0]}, ValueError, "y: expected 10 targets"),
        ({"y": [1] * 10}, ValueError, "y: expected at least 2 classes"),
        ({"points": [0, 99]}, ValueError, "points: expected positions in"),
        ({"points": [0.5]}, TypeError, "points: expected integer"),
        ({"validation": 1.5}, ValueError, "validation: expected a fraction"),
        ({"validation": "half"}, TypeError, "validation: expected a fraction"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, needle) -> None:
    arguments = {"X": np.eye(10), "y": [0, 1] * 5, **kwargs}
    with pytest.raises(error, match=needle):
        check_dataset(arguments.pop("X"), arguments.pop("y"), **arguments)


def test_non_numeric_columns_are_rejected() -> None:
    frame = pd.DataFrame({"a": np.arange(10.0), "b": list("abcdefghij")})
    with pytest.raises(TypeError, match=r"X: expected numeric feature columns.*'b'"):
        check_dataset(frame, [0, 1] * 5)


def test_missing_target_column_is_named() -> None:
    frame = pd.DataFrame({"a": np.arange(10.0), "y": [0, 1] * 5})
    with pytest.raises(ValueError, match="target: expected one of the columns"):
        check_dataset(frame, target="label")
