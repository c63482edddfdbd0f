"""fit_aggregate: the dataset-level curve loss(k) = epsilon + C k^-a."""

from __future__ import annotations

import numpy as np
import pytest

from nbscale.exceptions import LawFitWarning
from nbscale.laws import fit_aggregate


def test_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(0)
    sizes = np.repeat(np.geomspace(50, 2000, 8).round(), 30)
    truth = 0.2 + 3.0 * sizes**-0.6
    curve = fit_aggregate(sizes, truth + rng.normal(0, 0.003, sizes.size))

    assert curve.attrs["converged"] is True
    assert curve.attrs["a"] == pytest.approx(0.6, abs=0.1)
    assert curve.attrs["epsilon"] == pytest.approx(0.2, abs=0.02)
    assert curve.attrs["C"] > 0
    fitted = (
        curve.attrs["epsilon"] + curve.attrs["C"] * curve.index ** -curve.attrs["a"]
    )
    np.testing.assert_allclose(curve["fitted"], fitted)
    np.testing.assert_allclose(
        curve["fitted"], 0.2 + 3.0 * curve.index**-0.6, atol=3e-3
    )


def test_sizes_without_spread_do_not_dominate() -> None:
    # Fits sharing one subset give identical losses at a size: a spread of
    # zero that says nothing about precision. Such sizes must weigh as
    # much as sizes with the same means and an ordinary spread, no more.
    rng = np.random.default_rng(1)
    sizes = np.repeat(np.arange(40.0, 401.0, 10.0), 6)
    clean = 5.0 / sizes + rng.normal(0, 0.004, sizes.size)
    flat, spread = clean.copy(), clean.copy()
    for size, offset in ((40, -0.04), (70, -0.05), (90, 0.01), (110, -0.01)):
        at = sizes == size
        flat[at] = 5.0 / size + offset
        spread[at] = flat[at] + clean[at] - clean[at].mean()
    curve = fit_aggregate(sizes, flat)
    reference = fit_aggregate(sizes, spread)

    assert curve.loc[40.0, "loss_se"] == 0.0
    assert curve.attrs["a"] == pytest.approx(reference.attrs["a"], abs=0.05)
    assert curve.attrs["C"] == pytest.approx(reference.attrs["C"], rel=0.1)


def test_a_size_whose_few_losses_agree_does_not_dominate() -> None:
    # Four fits at 40 that happen to agree to 1e-6: an empirical standard
    # error would give that size a million times the weight of the others.
    # The modelled spread must weigh it as if its losses had the ordinary
    # spread of their neighbours, no more.
    rng = np.random.default_rng(2)
    sizes = np.repeat(np.arange(40.0, 401.0, 10.0), 4)
    losses = 0.05 + 5.0 / sizes + rng.normal(0, 0.004, sizes.size)
    at = sizes == 40
    losses[at] += 0.008  # off the curve by chance, as a small size can be
    agreeing = losses.copy()
    agreeing[at] = losses[at].mean() + np.array([0, 1, 0, 1]) * 1e-6
    curve = fit_aggregate(sizes, agreeing)
    reference = fit_aggregate(sizes, losses)

    assert curve.loc[40.0, "loss_se"] < 1e-5
    assert curve.attrs["a"] == pytest.approx(reference.attrs["a"], abs=0.02)
    assert curve.attrs["epsilon"] == pytest.approx(
        reference.attrs["epsilon"], abs=0.002
    )
    assert reference.attrs["a"] == pytest.approx(1.0, abs=0.3)


def test_table_layout() -> None:
    sizes = np.array([300.0, 100.0, 100.0, 200.0, 200.0, 300.0])
    losses = np.array([0.30, 0.50, 0.52, 0.40, 0.41, 0.31])
    curve = fit_aggregate(sizes, losses)

    assert curve.columns.tolist() == ["loss", "loss_se", "n_obs", "fitted"]
    assert curve.index.name == "size"
    assert curve.index.tolist() == [100.0, 200.0, 300.0]
    assert curve["n_obs"].dtype == np.int64
    assert curve.loc[100.0, "loss"] == pytest.approx(0.51)
    assert curve.loc[100.0, "loss_se"] == pytest.approx(0.01)


def test_single_observations_borrow_the_pooled_sd() -> None:
    sizes = np.array([10.0, 10.0, 20.0, 20.0, 40.0])
    losses = np.array([0.5, 0.7, 0.3, 0.5, 0.2])
    curve = fit_aggregate(sizes, losses)

    pooled = np.sqrt(0.02)
    assert curve.loc[40.0, "loss_se"] == pytest.approx(pooled)


def test_too_few_sizes_fall_back_without_raising() -> None:
    sizes = np.array([10.0, 10.0, 20.0])
    losses = np.array([0.5, 0.6, 0.4])
    with pytest.warns(LawFitWarning, match="at least 3 needed"):
        curve = fit_aggregate(sizes, losses)

    assert curve.attrs["converged"] is False
    assert np.isnan(curve.attrs["a"])
    np.testing.assert_allclose(curve["fitted"], curve["loss"])


def test_increasing_losses_give_a_flat_law() -> None:
    sizes = np.array([10.0, 20.0, 40.0, 80.0])
    curve = fit_aggregate(sizes, np.array([0.1, 0.2, 0.3, 0.4]))
    assert curve.attrs["C"] >= 0
    assert np.isfinite(curve["fitted"]).all()


@pytest.mark.parametrize(
    ("sizes", "losses", "error", "match"),
    [
        (np.array(["a"]), np.array([0.1]), TypeError, "sizes: expected an array"),
        (np.ones((2, 2)), np.ones(4), ValueError, r"sizes: .* got shape \(2, 2\)"),
        (np.array([1.0]), np.array([np.nan]), ValueError, "losses: expected finite"),
        (np.array([1.0, 2.0]), np.array([0.1]), ValueError, "losses: expected one"),
        (np.array([0.0]), np.array([0.1]), ValueError, "sizes: expected positive"),
        (np.array([]), np.array([]), ValueError, "sizes: expected a non-empty"),
    ],
)
def test_bad_input_is_named(
    sizes: np.ndarray, losses: np.ndarray, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fit_aggregate(sizes, losses)
