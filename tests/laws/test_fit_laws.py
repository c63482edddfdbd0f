"""fit_laws: the DataFrame contract, validation messages and the warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nbscale.exceptions import LawFitWarning
from nbscale.laws import LAW_COLUMNS, fit_laws


def clean_observations(labels: list[object] | None = None) -> pd.DataFrame:
    """Three well-behaved points, 120 observations each."""
    labels = labels if labels is not None else [2, 0, 1]
    rng = np.random.default_rng(0)
    size = rng.integers(50, 500, 360)
    point = np.repeat(np.array(labels, dtype=object), 120)
    c = np.repeat([1.0, 2.0, -1.0], 120)
    mean = c * size**-1.2
    delta = mean + 0.8 * np.abs(mean) * rng.standard_normal(360)
    return pd.DataFrame({"point": point, "size": size, "delta": delta})


def test_columns_dtypes_and_sorted_index() -> None:
    laws = fit_laws(clean_observations())

    assert laws.columns.tolist() == LAW_COLUMNS
    assert laws.index.name == "point"
    assert laws.index.tolist() == [0, 1, 2]
    floats = [
        c for c in LAW_COLUMNS if c not in ("n_obs", "n_sizes", "converged", "flag")
    ]
    assert all(laws[c].dtype == np.float64 for c in floats)
    assert laws["n_obs"].dtype == np.int64 and laws["n_sizes"].dtype == np.int64
    assert laws["converged"].dtype == bool
    assert all(isinstance(f, str) for f in laws["flag"])
    assert laws["n_obs"].tolist() == [120, 120, 120]


def test_string_labels_and_extra_columns() -> None:
    obs = clean_observations(["zeta", "alpha", "mid"]).assign(note="ignored")
    laws = fit_laws(obs)

    assert laws.index.tolist() == ["alpha", "mid", "zeta"]
    assert laws.loc["mid", "c"] < 0
    assert (laws["flag"] == "ok").all() and laws["converged"].all()


def test_mixed_labels_are_sorted_numbers_first() -> None:
    obs = clean_observations([3, "b", 1])
    laws = fit_laws(obs)
    assert laws.index.tolist() == [1, 3, "b"]


def test_one_warning_with_counts() -> None:
    obs = pd.concat(
        [
            clean_observations(),
            pd.DataFrame({"point": [7, 8], "size": [10, 10], "delta": [0.1, 0.2]}),
        ]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        laws = fit_laws(obs)

    law_warnings = [w for w in caught if issubclass(w.category, LawFitWarning)]
    assert len(law_warnings) == 1
    message = str(law_warnings[0].message)
    assert "2 of 5 points" in message and "too_few_observations: 2" in message
    assert law_warnings[0].filename == __file__
    assert laws.loc[[7, 8], "flag"].tolist() == ["too_few_observations"] * 2


@pytest.mark.parametrize(
    ("observations", "error", "match"),
    [
        ([1, 2, 3], TypeError, r"observations: expected a pandas DataFrame"),
        (
            pd.DataFrame({"a": [1], "b": [2]}),
            ValueError,
            r"observations: expected columns \['point', 'size', 'delta'\], "
            r"got \['a', 'b'\]",
        ),
        (
            pd.DataFrame({"point": [], "size": [], "delta": []}),
            ValueError,
            "at least one row",
        ),
        (
            pd.DataFrame({"point": [1], "size": ["10"], "delta": [0.1]}),
            TypeError,
            r"observations\['size'\]: expected numbers",
        ),
        (
            pd.DataFrame({"point": [1], "size": [10], "delta": [True]}),
            TypeError,
            r"observations\['delta'\]: expected numbers, got dtype 'bool'",
        ),
        (
            pd.DataFrame({"point": [1, 1], "size": [10, 20], "delta": [0.1, np.nan]}),
            ValueError,
            r"observations\['delta'\]: expected finite numbers, got 1 non-finite "
            r"values such as nan",
        ),
        (
            pd.DataFrame({"point": [1], "size": [np.inf], "delta": [0.1]}),
            ValueError,
            r"observations\['size'\]: expected finite",
        ),
        (
            pd.DataFrame({"point": [1, 1], "size": [10, -5], "delta": [0.1, 0.2]}),
            ValueError,
            r"observations\['size'\]: expected positive training-set sizes, got -5",
        ),
        (
            pd.DataFrame({"point": [1, None], "size": [10, 20], "delta": [0.1, 0.2]}),
            ValueError,
            r"observations\['point'\]: expected a label on every row",
        ),
    ],
)
def test_bad_observations_are_named(
    observations: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fit_laws(observations)  # type: ignore[arg-type]


def test_unknown_method_is_named() -> None:
    with pytest.raises(
        ValueError,
        match=r"method: expected one of \['likelihood', 'loglinear'\], got 'mle'",
    ):
        fit_laws(clean_observations(), method="mle")


def test_float_sizes_accepted() -> None:
    obs = clean_observations()
    laws_int = fit_laws(obs)
    laws_float = fit_laws(obs.assign(size=obs["size"].astype(float)))
    pd.testing.assert_frame_equal(laws_int, laws_float)
