"""evaluate_selection: the point-addition experiment on a held-out split."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import nbscale

COLUMNS = [
    f"{metric}_{part}"
    for metric in ("accuracy", "log_loss")
    for part in ("change", "change_se", "vs_random", "vs_random_se")
]


def synthetic_laws(points: np.ndarray, harmful: np.ndarray) -> pd.DataFrame:
    """Laws that call the ``harmful`` points harmful and the rest helpful."""
    n = len(points)
    return pd.DataFrame(
        {
            "c": np.where(harmful, -1.0, 1.0) * (1 + np.arange(n) / n),
            "alpha": np.ones(n),
            "c_se": np.full(n, 0.1),
            "alpha_se": np.full(n, 0.1),
            "c_alpha_cov": np.zeros(n),
            "flag": ["ok"] * n,
        },
        index=pd.Index(points, name="point"),
    )


def test_structure_on_a_small_study(wine: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(20, 60),
        samples=6,
        points=range(0, 178, 5),
        store=":memory:",
        random_state=0,
    )
    study.run(progress=False, executor="inline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.LawFitWarning)
        table = nbscale.evaluate_selection(
            study, size=30, n=3, repeats=3, other_sizes=[60], random_state=1
        )

    assert table.index.tolist() == ["matched", "window", "random", "size=60"]
    assert table.index.name == "strategy"
    assert table.columns.tolist() == COLUMNS
    assert (table.dtypes == np.float64).all()
    assert np.isfinite(table.to_numpy()).all()
    assert table.loc["random", "accuracy_vs_random"] == 0.0
    assert table.attrs["test"] == "carved" and table.attrs["repeats"] == 3
    # A quarter of the pool (142 rows), taken from non-studied rows first,
    # so every studied point stays a candidate.
    assert table.attrs["n_test"] == 36
    assert table.attrs["n_candidates"] == 36


def test_detects_a_clearly_helpful_selection(
    cancer: tuple[np.ndarray, np.ndarray],
) -> None:
    # Half the studied points carry flipped labels and their laws say so:
    # the laws' choice avoids them, random choice does not.
    X, y = cancer
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(len(X), 120, replace=False))
    harmful = rng.random(len(points)) < 0.5
    y_noisy = y.copy()
    y_noisy[points[harmful]] = 1 - y_noisy[points[harmful]]
    study = nbscale.Study(
        X, y_noisy, sizes=(10, 100), points=points, store=":memory:", random_state=0
    )

    table = nbscale.evaluate_selection(
        study,
        size=20,
        n=20,
        repeats=12,
        laws=synthetic_laws(points, harmful),
        random_state=0,
    )
    gain = table.loc["matched"]
    assert gain["accuracy_vs_random"] > 2 * gain["accuracy_vs_random_se"] > 0
    assert gain["log_loss_vs_random"] < -2 * gain["log_loss_vs_random_se"] < 0
    assert (
        table.loc["window", "accuracy_change"] > table.loc["random", "accuracy_change"]
    )

    # The other way round, the laws pick exactly the flipped points.
    table = nbscale.evaluate_selection(
        study,
        size=20,
        n=20,
        repeats=4,
        laws=synthetic_laws(points, ~harmful),
        random_state=0,
    )
    assert table.loc["matched", "accuracy_vs_random"] < 0


def test_explicit_test_set_and_regression(
    diabetes: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = diabetes
    points = np.arange(0, 300, 3)
    study = nbscale.Study(
        X[:300],
        y[:300],
        model="ridge",
        sizes=(20, 100),
        points=points,
        store=":memory:",
        random_state=0,
    )
    laws = synthetic_laws(points, np.zeros(len(points), dtype=bool))
    table = nbscale.evaluate_selection(
        study, size=50, n=5, repeats=2, laws=laws, test=(X[300:], y[300:])
    )
    assert table.columns.tolist() == [
        "squared_error_change",
        "squared_error_change_se",
        "squared_error_vs_random",
        "squared_error_vs_random_se",
    ]
    assert table.attrs["test"] == "explicit" and table.attrs["n_test"] == 142
    assert table.attrs["n_candidates"] == len(points)

    with pytest.raises(ValueError, match=r"balanced: a class-balanced choice"):
        nbscale.evaluate_selection(study, 50, 5, 2, laws=laws, balanced=True)


def test_bad_arguments_name_themselves(wine: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = wine
    points = np.arange(0, 178, 4)
    study = nbscale.Study(
        X, y, sizes=(10, 50), points=points, store=":memory:", random_state=0
    )
    laws = synthetic_laws(points, np.zeros(len(points), dtype=bool))

    def run(**kwargs: object) -> pd.DataFrame:
        arguments: dict[str, object] = {"size": 20, "n": 3, "repeats": 2, "laws": laws}
        arguments.update(kwargs)
        return nbscale.evaluate_selection(study, **arguments)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"study: expected an nbscale.Study"):
        nbscale.evaluate_selection("study", 20, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"repeats: expected an int >= 2, got 1"):
        run(repeats=1)
    with pytest.raises(TypeError, match=r"size: expected an int, got 20.5"):
        run(size=20.5)
    with pytest.raises(ValueError, match=r"test: expected a fraction in \(0, 0.5\]"):
        run(test=0.9)
    with pytest.raises(ValueError, match=r"size: a base set of 500 plus 3"):
        run(size=500)
    with pytest.raises(ValueError, match=r"n: strategy 'matched' found only"):
        run(size=60, n=40)
    with pytest.raises(ValueError, match=r"test: expected X_test of shape"):
        run(test=(np.zeros((5, 2)), np.zeros(5)))
    with pytest.raises(ValueError, match=r"test: y_test holds classes"):
        run(test=(X[:5], np.full(5, 9)))
    outside = synthetic_laws(np.array([10_000]), np.array([False]))
    with pytest.raises(ValueError, match=r"laws: expected rows indexed by studied"):
        run(laws=outside)
