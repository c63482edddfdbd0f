"""Log-space least squares: recovery on repeated sizes, refusals, fallbacks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nbscale.exceptions import LawFitWarning
from nbscale.laws import LAW_COLUMNS, fit_laws

GEOMETRIC = np.array([100, 129, 166, 215, 278, 359, 464, 599, 774, 1000])
NUMERIC = ["c", "alpha", "sigma", "beta", "c_se", "alpha_se", "c_alpha_cov", "nll"]


def simulate_rounds(
    n_points: int, n_rounds: int, seed: int, ratio: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The paper's validation schedule: ten geometric sizes, many rounds."""
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.5, 2.5, n_points)
    beta = 2 * alpha
    c = np.where(rng.random(n_points) < 0.2, -1.0, 1.0) * 300.0**alpha * 0.01

    point = np.repeat(np.arange(n_points), n_rounds * GEOMETRIC.size)
    size = np.tile(GEOMETRIC, n_points * n_rounds)
    mean = c[point] * size ** -alpha[point]
    sd = ratio * np.abs(c[point]) * size ** (-beta[point] / 2)
    delta = mean + sd * rng.standard_normal(point.size)
    obs = pd.DataFrame({"point": point, "size": size, "delta": delta})
    return obs, pd.DataFrame({"c": c, "alpha": alpha, "beta": beta})


def test_recovers_laws_from_repeated_sizes() -> None:
    obs, truth = simulate_rounds(n_points=50, n_rounds=40, seed=0)
    laws = fit_laws(obs, method="loglinear")

    assert laws.columns.tolist() == [*LAW_COLUMNS, "r2_log"]
    assert (laws["flag"] == "ok").all() and laws["converged"].all()
    alpha_error = np.abs(laws["alpha"] - truth["alpha"].to_numpy())
    assert np.median(alpha_error) < 0.05
    np.testing.assert_array_equal(np.sign(laws["c"]), np.sign(truth["c"]))
    assert np.median(np.abs(laws["beta"] - truth["beta"].to_numpy())) < 0.2
    assert laws["r2_log"].between(0.9, 1.0).all()
    assert (laws["n_sizes"] == 10).all()

    # The standard error of alpha is of the size of the actual error.
    z = (laws["alpha"] - truth["alpha"].to_numpy()) / laws["alpha_se"]
    assert 0.5 < np.median(np.abs(z)) / 0.6745 < 2.0


def test_refuses_sizes_that_never_repeat() -> None:
    rng = np.random.default_rng(1)
    obs = pd.DataFrame(
        {
            "point": np.repeat([0, 1], 50),
            "size": np.tile(np.arange(100, 150), 2),
            "delta": rng.normal(0.01, 0.01, 100),
        }
    )
    with pytest.raises(ValueError, match="schedule='geometric'") as caught:
        fit_laws(obs, method="loglinear")
    assert "observations" in str(caught.value)
    assert "two distinct sizes observed at least twice" in str(caught.value)


def test_sizes_with_zero_mean_are_skipped() -> None:
    obs, _ = simulate_rounds(n_points=1, n_rounds=20, seed=2, ratio=0.2)
    zero = pd.DataFrame({"point": 0, "size": 50, "delta": [1.0, -1.0]})
    with_zero = pd.concat([obs, zero])
    laws = fit_laws(with_zero, method="loglinear")

    # The zero-mean size does not enter the log regression.
    assert np.isfinite(laws["alpha"]).all()
    assert laws.loc[0, "r2_log"] > 0.9


def test_points_without_repeats_fall_back() -> None:
    obs, _ = simulate_rounds(n_points=3, n_rounds=10, seed=3)
    lonely = pd.DataFrame(
        {"point": 9, "size": [100, 200, 300, 400, 500], "delta": [5, 4, 3, 2, 1.0]}
    )
    with pytest.warns(LawFitWarning, match="no_repeated_sizes: 1"):
        laws = fit_laws(pd.concat([obs, lonely]), method="loglinear")

    row = laws.loc[9]
    assert row["flag"] == "no_repeated_sizes" and not row["converged"]
    assert row["alpha"] == 1.0 and row["beta"] == 2.0 and row["r2_log"] == 0.0
    assert np.isfinite(laws[NUMERIC].to_numpy()).all()


def test_hostile_points_stay_finite() -> None:
    obs, _ = simulate_rounds(n_points=2, n_rounds=5, seed=4)
    hostile = pd.DataFrame(
        {
            "point": [10] * 6 + [11] * 4 + [12],
            "size": [10, 10, 20, 20, 40, 40, 10, 10, 20, 20, 10],
            "delta": [0.5] * 6 + [1e300, 2e300, -1e300, 5e299, 0.1],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawFitWarning)
        laws = fit_laws(pd.concat([obs, hostile]), method="loglinear")

    assert np.isfinite(laws[[*NUMERIC, "r2_log"]].to_numpy()).all()
    assert laws.loc[10, "flag"] == "zero_variance"
    assert laws.loc[12, "flag"] == "too_few_observations"
