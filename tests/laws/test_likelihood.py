"""Maximum-likelihood fits: recovery, optimality, derivatives, hostile data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nbscale.exceptions import LawFitWarning
from nbscale.laws import fit_laws
from nbscale.laws.likelihood import (
    ALPHA_BOUNDS,
    BETA_BOUNDS,
    _information,
    _moments,
    _prepare,
    _profile,
    fit_likelihood,
)

NUMERIC = ["c", "alpha", "sigma", "beta", "c_se", "alpha_se", "c_alpha_cov", "nll"]


def simulate(
    n_points: int, n_obs: int, seed: int, sizes: tuple[int, int] = (100, 1000)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Realistic observations: sd of delta 1-4x its mean, beta near 2 alpha."""
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.5, 2.5, n_points)
    beta = 2 * alpha + rng.normal(0, 0.2, n_points)
    sign = np.where(rng.random(n_points) < 0.2, -1.0, 1.0)
    k_mid = np.sqrt(sizes[0] * sizes[1])
    psi_mid = sign * rng.lognormal(-3, 1, n_points)  # contribution at k_mid
    c = psi_mid * k_mid**alpha
    ratio = rng.uniform(1, 4, n_points)

    point = np.repeat(np.arange(n_points), n_obs)
    size = rng.integers(sizes[0], sizes[1] + 1, n_points * n_obs)
    mean = c[point] * size ** -alpha[point]
    sd = np.abs(psi_mid[point]) * ratio[point] * (size / k_mid) ** (-beta[point] / 2)
    delta = mean + sd * rng.standard_normal(point.size)
    obs = pd.DataFrame({"point": point, "size": size, "delta": delta})
    truth = pd.DataFrame({"c": c, "alpha": alpha, "beta": beta})
    return obs, truth


def fit_allowing_flags(obs: pd.DataFrame) -> pd.DataFrame:
    """fit_laws with LawFitWarning silenced: edge estimates are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawFitWarning)
        return fit_laws(obs)


def test_recovers_alpha_with_realistic_noise() -> None:
    obs, truth = simulate(n_points=300, n_obs=400, seed=0)
    laws = fit_allowing_flags(obs)

    error = np.abs(laws["alpha"].to_numpy() - truth["alpha"].to_numpy())
    assert np.median(error) < 0.2
    beta_error = np.abs(laws["beta"].to_numpy() - truth["beta"].to_numpy())
    assert np.median(beta_error) < 0.15
    sign_agrees = np.sign(laws["c"].to_numpy()) == np.sign(truth["c"].to_numpy())
    assert sign_agrees.mean() > 0.95


def test_error_shrinks_with_more_samples() -> None:
    few, truth = simulate(n_points=200, n_obs=25, seed=1)
    many, _ = simulate(n_points=200, n_obs=400, seed=1)
    error_few = np.abs(fit_allowing_flags(few)["alpha"] - truth["alpha"].to_numpy())
    error_many = np.abs(fit_allowing_flags(many)["alpha"] - truth["alpha"].to_numpy())

    # 16 times the samples: about 4 times smaller errors.
    assert np.median(error_many) < 0.5 * np.median(error_few)


def test_standard_errors_are_calibrated() -> None:
    obs, truth = simulate(n_points=300, n_obs=400, seed=2)
    laws = fit_allowing_flags(obs)
    ok = (laws["flag"] == "ok").to_numpy()

    z = (laws["alpha"].to_numpy() - truth["alpha"].to_numpy()) / laws["alpha_se"]
    robust_sd = np.median(np.abs(z[ok])) / 0.6745
    assert 0.75 < robust_sd < 1.35


def brute_force_nll(size: np.ndarray, delta: np.ndarray) -> float:
    """Smallest mean NLL over a fine (alpha, beta) grid, c and sigma profiled."""
    alpha = np.linspace(*ALPHA_BOUNDS, 801)
    beta = np.linspace(*BETA_BOUNDS, 801)
    log_k = np.log(size)
    t = log_k - log_k.mean()
    scale = np.abs(delta).max()
    d = delta / scale
    u = np.exp(-alpha[:, None] * t)  # (n_alpha, n_obs)
    w = np.exp(beta[:, None] * t)  # (n_beta, n_obs)
    s_uu = w @ (u * u).T
    s_ud = w @ (u * d).T
    c = s_ud / s_uu
    rss = (w @ (d * d))[:, None] - c * s_ud
    sigma2 = np.maximum(rss / size.size, 1e-300)
    nll = 0.5 * np.log(2 * np.pi) + 0.5 * np.log(sigma2) + 0.5 + np.log(scale)
    return float(nll.min())


@pytest.mark.parametrize("seed", [3, 4])
def test_at_least_as_good_as_a_fine_grid(seed: int) -> None:
    obs, _ = simulate(n_points=8, n_obs=60, seed=seed)
    laws = fit_allowing_flags(obs)

    for point, rows in obs.groupby("point"):
        grid = brute_force_nll(
            rows["size"].to_numpy(float), rows["delta"].to_numpy(float)
        )
        assert laws.loc[point, "nll"] <= grid + 1e-9


def test_nll_matches_direct_formula() -> None:
    obs, _ = simulate(n_points=3, n_obs=50, seed=5)
    laws = fit_allowing_flags(obs)

    for point, rows in obs.groupby("point"):
        law = laws.loc[point]
        k, d = rows["size"].to_numpy(float), rows["delta"].to_numpy(float)
        var = law["sigma"] ** 2 * k ** -law["beta"]
        resid = d - law["c"] * k ** -law["alpha"]
        direct = np.mean(0.5 * np.log(2 * np.pi * var) + 0.5 * resid**2 / var)
        assert law["nll"] == pytest.approx(direct, rel=1e-9, abs=1e-9)


def full_nll(params: np.ndarray, t: np.ndarray, d: np.ndarray) -> float:
    """Total NLL in (c', alpha, log sigma', beta), centred coordinates."""
    c, alpha, log_sigma, beta = params
    r = d - c * np.exp(-alpha * t)
    w = np.exp(beta * t)
    return float(
        np.sum(log_sigma - 0.5 * beta * t + 0.5 * w * r**2 * np.exp(-2 * log_sigma))
    )


def test_information_matches_finite_differences() -> None:
    rng = np.random.default_rng(6)
    size = rng.integers(20, 201, 80).astype(float)
    delta = 0.5 * size**-1.2 * (1 + rng.standard_normal(80))
    prep = _prepare(np.zeros(80, dtype=np.intp), size, delta, 1)
    seg = prep.segments
    alpha, beta = np.array([1.1]), np.array([2.5])
    m = _moments(seg, alpha, beta)
    sigma2 = m.rr / seg.counts
    info = _information(m, sigma2)[0]

    at = np.array([m.c[0], 1.1, 0.5 * np.log(sigma2[0]), 2.5])
    h = 1e-4
    numeric = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * h, np.eye(4)[j] * h
            numeric[i, j] = (
                full_nll(at + ei + ej, seg.t, seg.d)
                - full_nll(at + ei - ej, seg.t, seg.d)
                - full_nll(at - ei + ej, seg.t, seg.d)
                + full_nll(at - ei - ej, seg.t, seg.d)
            ) / (4 * h * h)
    np.testing.assert_allclose(info, numeric, rtol=1e-4, atol=1e-4 * abs(info).max())


def test_profile_derivatives_match_finite_differences() -> None:
    rng = np.random.default_rng(7)
    size = rng.integers(100, 1001, 60).astype(float)
    delta = size**-0.8 * (1 + 2 * rng.standard_normal(60))
    seg = _prepare(np.zeros(60, dtype=np.intp), size, delta, 1).segments

    def objective(a: float, b: float) -> float:
        m = _moments(seg, np.array([a]), np.array([b]))
        return float(_profile(m, seg.counts)[0][0])

    _, grad, hess = _profile(
        _moments(seg, np.array([0.7]), np.array([1.9])), seg.counts
    )
    h = 1e-5
    numeric_grad = [
        (objective(0.7 + h, 1.9) - objective(0.7 - h, 1.9)) / (2 * h),
        (objective(0.7, 1.9 + h) - objective(0.7, 1.9 - h)) / (2 * h),
    ]
    np.testing.assert_allclose(grad[0], numeric_grad, rtol=1e-5, atol=1e-8)
    h = 1e-3
    cross = (
        objective(0.7 + h, 1.9 + h)
        - objective(0.7 + h, 1.9 - h)
        - objective(0.7 - h, 1.9 + h)
        + objective(0.7 - h, 1.9 - h)
    ) / (4 * h * h)
    assert hess[0, 0, 1] == pytest.approx(cross, rel=1e-3, abs=1e-6)


def test_estimates_stay_in_the_box() -> None:
    obs, _ = simulate(n_points=200, n_obs=10, seed=8)
    laws = fit_allowing_flags(obs)

    assert laws["alpha"].between(*ALPHA_BOUNDS).all()
    assert laws["beta"].between(*BETA_BOUNDS).all()
    assert np.isfinite(laws[NUMERIC].to_numpy()).all()


def test_rescaling_deltas_rescales_c_and_sigma_only() -> None:
    obs, _ = simulate(n_points=5, n_obs=80, seed=9)
    small = obs.assign(delta=obs["delta"] * 1e-6)
    base, scaled = fit_allowing_flags(obs), fit_allowing_flags(small)

    np.testing.assert_allclose(scaled["alpha"], base["alpha"], rtol=1e-6)
    np.testing.assert_allclose(scaled["beta"], base["beta"], rtol=1e-6)
    np.testing.assert_allclose(scaled["c"], base["c"] * 1e-6, rtol=1e-6)
    np.testing.assert_allclose(scaled["sigma"], base["sigma"] * 1e-6, rtol=1e-6)
    np.testing.assert_allclose(scaled["nll"], base["nll"] + np.log(1e-6), rtol=1e-9)


def test_hostile_inputs_give_finite_flagged_rows() -> None:
    rng = np.random.default_rng(10)
    frames = {
        "constant": (np.repeat([10, 20, 30, 40], 3), np.full(12, 0.25)),
        "all_zero": (np.repeat([10, 20, 30], 2), np.zeros(6)),
        "one_obs": (np.array([50]), np.array([0.3])),
        "single_size": (np.full(8, 100), rng.normal(0.01, 0.02, 8)),
        "huge": (np.arange(10, 60, 5), rng.normal(1e200, 3e200, 10)),
        "tiny": (np.arange(10, 60, 5), rng.normal(1e-200, 3e-200, 10)),
        "exact_law": (np.arange(10, 60, 5), 3.0 * np.arange(10, 60, 5) ** -1.5),
        "two_sizes": (np.repeat([10, 1000], 3), np.array([1, 2, 3, -1, 0, 1.0])),
    }
    obs = pd.concat(
        pd.DataFrame({"point": name, "size": size, "delta": delta})
        for name, (size, delta) in frames.items()
    )
    with pytest.warns(LawFitWarning, match="could not be fitted reliably"):
        laws = fit_laws(obs)

    assert np.isfinite(laws[NUMERIC].to_numpy()).all()
    assert laws.loc["constant", "flag"] == "zero_variance"
    assert laws.loc["all_zero", "flag"] == "zero_variance"
    assert laws.loc["one_obs", "flag"] == "too_few_observations"
    assert laws.loc["single_size", "flag"] == "single_size"
    assert not laws.loc[["constant", "one_obs", "single_size"], "converged"].any()
    assert laws.loc["one_obs", "alpha"] == 1.0
    assert laws.loc["one_obs", "beta"] == 2.0
    assert laws.loc["one_obs", "c"] == pytest.approx(0.3 * 50)
    assert laws.loc["exact_law", "alpha"] == pytest.approx(1.5, rel=1e-6)
    assert laws.loc["exact_law", "c"] == pytest.approx(3.0, rel=1e-5)


def test_fallback_standard_errors_are_large_and_finite() -> None:
    obs = pd.DataFrame({"point": [0, 0], "size": [10, 20], "delta": [0.1, 0.05]})
    with pytest.warns(LawFitWarning):
        law = fit_laws(obs).iloc[0]

    assert np.isfinite([law["c_se"], law["alpha_se"]]).all()
    assert law["alpha_se"] >= 1e5
    assert law["c_se"] >= 1e5 * abs(law["c"])
    assert law["c_alpha_cov"] == 0.0


def test_array_engine_matches_front_door() -> None:
    obs, _ = simulate(n_points=4, n_obs=40, seed=11)
    laws = fit_allowing_flags(obs)
    arrays = fit_likelihood(
        obs["point"].to_numpy(), obs["size"].to_numpy(float), obs["delta"].to_numpy(), 4
    )
    np.testing.assert_array_equal(arrays.alpha, laws["alpha"].to_numpy())
    np.testing.assert_array_equal(arrays.n_obs, laws["n_obs"].to_numpy())


def plain_and_shrunk(obs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The laws without a prior and with the empirical prior."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawFitWarning)
        return fit_laws(obs), fit_laws(obs, prior="empirical")


def test_empirical_prior_tames_few_observations() -> None:
    # 20 observations a point: plain maximum likelihood sends many laws to
    # an edge of the box; the empirical prior pulls them back towards the
    # population and recovers alpha and the value better.
    from nbscale import values

    obs, truth = simulate(n_points=400, n_obs=20, seed=3)
    plain, shrunk = plain_and_shrunk(obs)

    true_alpha = truth["alpha"].to_numpy()
    plain_error = np.median(np.abs(plain["alpha"].to_numpy() - true_alpha))
    shrunk_error = np.median(np.abs(shrunk["alpha"].to_numpy() - true_alpha))
    assert shrunk_error < 0.75 * plain_error
    assert (shrunk["flag"] == "at_bound").mean() < (plain["flag"] == "at_bound").mean()
    assert plain.attrs["prior"] is None
    assert set(shrunk.attrs["prior"]) == {
        "log_alpha_mean",
        "log_alpha_sd",
        "beta_mean",
        "beta_sd",
    }

    # Values over the window: the wild ones (the worst 1 %) are tamed.
    exact = truth.assign(c_se=0.0, alpha_se=0.0, c_alpha_cov=0.0)
    target = values(exact, (100, 1000))["value"].to_numpy()

    def worst_error(laws: pd.DataFrame) -> float:
        estimate = values(laws, (100, 1000))["value"].to_numpy()
        return float(np.quantile(np.abs(estimate - target) / np.abs(target), 0.99))

    assert worst_error(shrunk) < 0.4 * worst_error(plain)


def test_prior_changes_little_with_many_observations() -> None:
    obs, _ = simulate(n_points=60, n_obs=400, seed=4)
    plain, shrunk = plain_and_shrunk(obs)

    ok = (plain["flag"] == "ok").to_numpy()
    shift = np.abs(shrunk["alpha"] - plain["alpha"]).to_numpy()[ok]
    assert np.median(shift) < 0.5 * np.median(plain["alpha_se"].to_numpy()[ok])


def test_a_fixed_prior_pulls_towards_its_centre() -> None:
    from nbscale.laws import Prior

    obs, _ = simulate(n_points=50, n_obs=15, seed=5)
    tight = Prior(
        log_alpha_mean=np.log(1.5), log_alpha_sd=0.01, beta_mean=3.0, beta_sd=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawFitWarning)
        laws = fit_laws(obs, prior=tight)

    assert np.allclose(laws["alpha"], 1.5, atol=0.05)
    assert np.allclose(laws["beta"], 3.0, atol=0.05)
    assert (laws["alpha_se"] < 0.02 * 1.5 * 3).all()


def test_too_few_points_for_a_prior_keep_the_plain_fit() -> None:
    obs, _ = simulate(n_points=5, n_obs=60, seed=6)
    plain, shrunk = plain_and_shrunk(obs)

    assert shrunk.attrs["prior"] is None
    pd.testing.assert_frame_equal(plain, shrunk)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"prior": "bayes"},
            r"prior: expected 'empirical', None or a Prior, got 'bayes'",
        ),
        (
            {"prior": "empirical", "method": "loglinear"},
            r"prior: applies to method='likelihood' only",
        ),
    ],
)
def test_bad_prior_is_named(kwargs: dict, match: str) -> None:
    obs, _ = simulate(n_points=5, n_obs=20, seed=7)
    with pytest.raises(ValueError, match=match):
        fit_laws(obs, **kwargs)
