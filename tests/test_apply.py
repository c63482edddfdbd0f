"""values and recommend: exact power sums, delta-method errors, ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nbscale.apply import recommend, values


def make_laws(
    c: list[float],
    alpha: list[float],
    flag: list[str] | None = None,
    index: list[object] | None = None,
) -> pd.DataFrame:
    n = len(c)
    return pd.DataFrame(
        {
            "c": c,
            "alpha": alpha,
            "c_se": np.full(n, 0.1),
            "alpha_se": np.full(n, 0.05),
            "c_alpha_cov": np.full(n, 0.002),
            "flag": flag or ["ok"] * n,
        },
        index=pd.Index(index or list(range(n)), name="point"),
    )


ALPHAS = [1e-3, 0.5, 1.0 - 1e-9, 1.0, 1.0 + 1e-7, 1.33, 2.0, 2.5, 8.0, -0.5]


@pytest.mark.parametrize(
    "window", [(1, 1), (1, 5), (3, 70), (100, 1000), (20, 200), (1, 100_000)]
)
def test_values_match_brute_force_sums(window: tuple[int, int]) -> None:
    laws = make_laws([1.0] * len(ALPHAS), ALPHAS)
    result = values(laws, sizes=window)

    k = np.arange(window[0], window[1] + 1, dtype=np.float64)
    powers = k[None, :] ** -np.array(ALPHAS)[:, None]
    brute = powers.mean(axis=1)
    np.testing.assert_allclose(result["value"], brute, rtol=1e-10, atol=0)


@pytest.mark.parametrize("window", [(1, 30), (100, 1000), (5, 50_000)])
def test_values_stderr_is_the_delta_method(window: tuple[int, int]) -> None:
    laws = make_laws([2.0, -0.5, 1.0, 0.3], [1.3, 0.7, 1.0, 1.0 + 1e-9])
    result = values(laws, sizes=window)

    k = np.arange(window[0], window[1] + 1, dtype=np.float64)
    for point, law in laws.iterrows():
        power = np.mean(k ** -law["alpha"])
        slope = -law["c"] * np.mean(np.log(k) * k ** -law["alpha"])
        variance = (
            power**2 * law["c_se"] ** 2
            + 2 * power * slope * law["c_alpha_cov"]
            + slope**2 * law["alpha_se"] ** 2
        )
        assert result.loc[point, "value"] == pytest.approx(law["c"] * power, rel=1e-12)
        assert result.loc[point, "stderr"] == pytest.approx(np.sqrt(variance), rel=1e-9)


def test_values_layout_and_validation() -> None:
    laws = make_laws([1.0, 2.0], [1.0, 1.0], index=["a", "b"])
    result = values(laws, sizes=(10, 20))
    assert result.columns.tolist() == ["value", "stderr"]
    assert result.index.equals(laws.index)

    with pytest.raises(
        ValueError, match=r"sizes: expected k_min <= k_max, got \(20, 10\)"
    ):
        values(laws, sizes=(20, 10))
    with pytest.raises(ValueError, match=r"sizes: expected an int >= 1, got 0"):
        values(laws, sizes=(0, 10))
    with pytest.raises(TypeError, match=r"sizes: expected an int, got 1.5"):
        values(laws, sizes=(1.5, 10))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"sizes: expected a pair"):
        values(laws, sizes=100)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"weights: use 'uniform', .* got 'log'"):
        values(laws, sizes=(1, 2), weights="log")
    with pytest.raises(
        ValueError, match=r"laws: expected columns .* missing \['c_se'\]"
    ):
        values(laws.drop(columns="c_se"), sizes=(1, 2))
    with pytest.raises(TypeError, match=r"laws: expected the DataFrame"):
        values(laws.to_numpy(), sizes=(1, 2))  # type: ignore[arg-type]


def beta_cell_weights(k_min: int, k_max: int, a: float, b: float) -> np.ndarray:
    """Brute force: integrate the Beta Shapley density over each size's cell."""
    from scipy import integrate

    n = k_max - k_min + 1
    density = stats.beta(b, a).pdf
    cells = [integrate.quad(density, i / n, (i + 1) / n)[0] for i in range(n)]
    return np.array(cells) / np.sum(cells)


@pytest.mark.parametrize(
    ("window", "shape"),
    [
        ((1, 40), (16.0, 1.0)),
        ((100, 300), (1.0, 16.0)),
        ((5, 60), (2.0, 3.0)),
        ((10, 90), (0.5, 0.5)),
    ],
)
def test_beta_weights_match_brute_force(
    window: tuple[int, int], shape: tuple[float, float]
) -> None:
    laws = make_laws([2.0, -0.5, 1.0], [1.3, 0.7, 1.0])
    result = values(laws, sizes=window, weights=("beta", *shape))

    k = np.arange(window[0], window[1] + 1, dtype=np.float64)
    weights = beta_cell_weights(*window, *shape)
    for point, law in laws.iterrows():
        power = np.sum(weights * k ** -law["alpha"])
        slope = -law["c"] * np.sum(weights * np.log(k) * k ** -law["alpha"])
        variance = (
            power**2 * law["c_se"] ** 2
            + 2 * power * slope * law["c_alpha_cov"]
            + slope**2 * law["alpha_se"] ** 2
        )
        assert result.loc[point, "value"] == pytest.approx(law["c"] * power, rel=1e-7)
        assert result.loc[point, "stderr"] == pytest.approx(np.sqrt(variance), rel=1e-7)


def test_beta_one_one_is_uniform_and_strings_parse() -> None:
    laws = make_laws([1.0, 3.0], [0.8, 1.6])
    uniform = values(laws, sizes=(20, 5000))
    pd.testing.assert_frame_equal(
        values(laws, sizes=(20, 5000), weights=("beta", 1, 1)), uniform, rtol=1e-9
    )
    spelled = values(laws, sizes=(20, 500), weights="Beta(16, 1)")
    pd.testing.assert_frame_equal(
        spelled, values(laws, sizes=(20, 500), weights=("beta", 16, 1))
    )
    # Small sizes have larger contributions, so weighting them raises values.
    small = values(laws, sizes=(20, 500), weights="beta(16,1)")["value"]
    large = values(laws, sizes=(20, 500), weights="beta(1,16)")["value"]
    assert (small > values(laws, sizes=(20, 500))["value"]).all()
    assert (large < values(laws, sizes=(20, 500))["value"]).all()


@pytest.mark.parametrize(
    "weights",
    [
        "beta(0, 1)",
        ("beta", -1, 2),
        ("beta", 1),
        ("gamma", 1, 1),
        "beta(a,b)",
        3,
        ("beta", True, 1),
        ("beta", np.inf, 1),
    ],
)
def test_bad_weights_say_what_is_allowed(weights: object) -> None:
    with pytest.raises(ValueError, match=r"weights: use 'uniform', \('beta', a, b\)"):
        values(make_laws([1.0], [1.0]), sizes=(1, 9), weights=weights)  # type: ignore[arg-type]


def test_rankings_change_with_size() -> None:
    # A fast-decaying point wins small datasets, a slow one large datasets.
    laws = make_laws([50.0, 1.0, -3.0], [1.5, 0.5, 1.0], index=["fast", "slow", "bad"])
    small = recommend(laws, size=10, n=2)
    large = recommend(laws, size=10_000, n=2)

    assert small.index.tolist() == ["fast", "slow"]
    assert large.index.tolist() == ["slow", "fast"]
    assert small.columns.tolist() == ["rank", "score", "stderr", "c", "alpha"]
    assert small["rank"].tolist() == [1, 2] and small["rank"].dtype == np.int64
    assert small.loc["fast", "score"] == pytest.approx(50.0 * 10**-1.5)


def test_remove_returns_the_most_harmful_first() -> None:
    laws = make_laws([-1.0, 2.0, -5.0, -0.1], [1.0, 1.0, 1.0, 1.0])
    result = recommend(laws, size=100, n=3, action="remove")
    assert result.index.tolist() == [2, 0, 3]
    assert result["score"].is_monotonic_increasing


def test_recommend_stderr_is_the_delta_method() -> None:
    laws = make_laws([2.0], [1.2])
    row = recommend(laws, size=300, n=1).iloc[0]
    power = 300**-1.2
    slope = -2.0 * np.log(300) * power
    variance = power**2 * 0.01 + 2 * power * slope * 0.002 + slope**2 * 0.0025
    assert row["stderr"] == pytest.approx(np.sqrt(variance), rel=1e-12)


def test_balanced_takes_classes_in_turn() -> None:
    c = [9.0, 8.0, 7.0, 6.0, 1.0, 0.5]
    laws = make_laws(c, [1.0] * 6, index=list("abcdef"))
    # Labels align by index, not by position.
    labels = pd.Series({"f": "y", "e": "y", "d": "x", "c": "x", "b": "x", "a": "x"})
    result = recommend(laws, size=10, n=4, labels=labels, balanced=True)

    assert result.index.tolist() == ["a", "e", "b", "f"]
    assert result["label"].tolist() == ["x", "y", "x", "y"]

    # A class that runs out leaves its turns to the others.
    result = recommend(laws, size=10, n=5, labels=labels, balanced=True)
    assert result["label"].tolist() == ["x", "y", "x", "y", "x"]


def test_flagged_points_are_skipped_unless_asked() -> None:
    laws = make_laws([9.0, 1.0], [1.0, 1.0], flag=["at_bound", "ok"])
    assert recommend(laws, size=10).index.tolist() == [1]
    kept = recommend(laws, size=10, skip_flagged=False)
    assert kept.index.tolist() == [0, 1]
    no_flag = laws.drop(columns="flag")
    assert len(recommend(no_flag, size=10, skip_flagged=False)) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": 0}, ValueError, r"size: expected an int >= 1, got 0"),
        ({"size": 10.0}, TypeError, r"size: expected an int, got 10.0"),
        ({"size": True}, TypeError, r"size: expected an int, got True"),
        ({"size": 10, "n": 0}, ValueError, r"n: expected an int >= 1, got 0"),
        (
            {"size": 10, "action": "drop"},
            ValueError,
            r"action: expected one of \['add', 'remove'\], got 'drop'",
        ),
        ({"size": 10, "balanced": True}, ValueError, r"labels: balanced=True needs"),
        (
            {"size": 10, "balanced": "yes"},
            TypeError,
            r"balanced: expected True or False",
        ),
        (
            {"size": 10, "labels": ["x", "y"]},
            TypeError,
            r"labels: expected a pandas Series",
        ),
        (
            {"size": 10, "labels": pd.Series(["x"], index=[0])},
            ValueError,
            r"labels: expected a class for every point of laws, got none for \[1\]",
        ),
    ],
)
def test_recommend_validation_names_the_argument(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    laws = make_laws([1.0, 2.0], [1.0, 1.0])
    with pytest.raises(error, match=match):
        recommend(laws, **kwargs)  # type: ignore[arg-type]


def test_min_r2_drops_poor_log_fits() -> None:
    laws = make_laws([9.0, 5.0, 1.0], [1.0, 1.0, 1.0]).assign(r2_log=[0.5, 0.95, 0.9])
    assert recommend(laws, size=10, min_r2=0.9).index.tolist() == [1, 2]
    assert recommend(laws, size=10).index.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"min_r2: expected a number in \[0, 1\]"):
        recommend(laws, size=10, min_r2=2.0)
    with pytest.raises(ValueError, match=r"missing \['r2_log'\]"):
        recommend(laws.drop(columns="r2_log"), size=10, min_r2=0.9)


def test_recommend_needs_flag_column_when_skipping() -> None:
    laws = make_laws([1.0], [1.0]).drop(columns="flag")
    with pytest.raises(ValueError, match=r"laws: .* missing \['flag'\]"):
        recommend(laws, size=10)
