"""The frames behind the charts: means, fitted curves, laws, rows."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbscale.notebook._frames import (
    MeanAccumulator,
    aggregate_frame,
    cloud_frame,
    fit_curves,
    laws_frame,
    point_key,
    recommend_rows,
    size_bin_edges,
    spanning_points,
)


@pytest.mark.parametrize(("k_min", "k_max"), [(10, 1000), (5, 7), (100, 100)])
def test_size_bins_cover_every_size_once(k_min: int, k_max: int) -> None:
    edges = size_bin_edges(k_min, k_max)
    sizes = np.arange(k_min, k_max + 1)
    bins = np.searchsorted(edges, sizes, side="right") - 1
    assert bins.min() == 0
    assert bins.max() == len(edges) - 2
    assert np.all(np.diff(edges) > 0)


def _observations(seed: int, n_rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "point": rng.integers(0, 4, n_rows),
            "size": rng.integers(10, 200, n_rows),
            "delta": rng.normal(0.01, 0.02, n_rows),
        }
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1000),
    n_rows=st.integers(1, 80),
    cuts=st.lists(st.integers(0, 80), max_size=4),
)
def test_means_do_not_depend_on_how_batches_are_cut(
    seed: int, n_rows: int, cuts: list[int]
) -> None:
    observations = _observations(seed, n_rows)
    edges = size_bin_edges(10, 200)
    whole = MeanAccumulator(edges)
    whole.add(observations)
    pieces = MeanAccumulator(edges)
    bounds = sorted({0, n_rows, *(min(cut, n_rows) for cut in cuts)})
    for start, stop in itertools.pairwise(bounds):
        pieces.add(observations.iloc[start:stop])

    expected = whole.frame().sort_values(["point", "bin"]).reset_index(drop=True)
    actual = pieces.frame().sort_values(["point", "bin"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-9)


def test_means_match_pandas_and_report_changed_cells() -> None:
    observations = _observations(0, 300)
    edges = size_bin_edges(10, 200, n_bins=4)
    accumulator = MeanAccumulator(edges)
    changed = accumulator.add(observations, keys=["1", "2"])
    assert {key for key, _ in changed} == {"1", "2"}

    frame = accumulator.frame().set_index(["point", "bin"])
    observations["bin"] = np.searchsorted(edges, observations["size"], side="right") - 1
    grouped = observations.groupby(["point", "bin"])["delta"]
    for (key, cell), row in frame.iterrows():
        deltas = grouped.get_group((int(key), int(cell)))
        assert row["mean"] == pytest.approx(deltas.mean())
        assert row["stderr"] == pytest.approx(deltas.std() / np.sqrt(len(deltas)))
    assert (frame["lower"] > 0).all()
    assert (frame["lower"] <= frame["abs_mean"]).all()
    assert (frame["upper"] >= frame["abs_mean"]).all()


def test_empty_means_have_the_documented_columns() -> None:
    frame = MeanAccumulator(size_bin_edges(10, 20)).frame()
    assert frame.empty
    assert list(frame.columns) == [
        "point",
        "bin",
        "k",
        "n",
        "mean",
        "stderr",
        "abs_mean",
        "lower",
        "upper",
    ]


def test_cloud_keeps_selected_visible_points() -> None:
    batch = pd.DataFrame(
        {
            "point": [1, 1, 2, 3],
            "size": [10, 20, 30, 40],
            "delta": [0.1, 0.0, -0.2, np.nan],
        }
    )
    cloud = cloud_frame(batch, keys=["1", "2", "3"])
    assert cloud.to_dict("list") == {
        "point": ["1", "2"],
        "k": [10.0, 30.0],
        "abs_delta": [0.1, 0.2],
    }


def test_fit_curve_follows_the_law_and_its_band_widens_away_from_data() -> None:
    laws = pd.DataFrame(
        {
            "c": [-3.0],
            "alpha": [0.7],
            "c_se": [0.3],
            "alpha_se": [0.05],
            "c_alpha_cov": [0.0],
        },
        index=["a"],
    )
    curve = fit_curves(laws, ["a", "missing"], 10, 1000, n_grid=5)
    assert curve["point"].unique().tolist() == ["a"]
    np.testing.assert_allclose(curve["fit"], 3.0 * curve["k"] ** -0.7)
    assert (curve["lower"] < curve["fit"]).all() and (
        curve["upper"] > curve["fit"]
    ).all()
    ratio = curve["upper"] / curve["fit"]
    assert ratio.iloc[-1] > ratio.iloc[0]


def test_fit_curve_skips_points_it_cannot_draw() -> None:
    laws = pd.DataFrame({"c": [0.0, np.nan, 1.0], "alpha": [1.0, 1.0, np.inf]})
    assert fit_curves(laws, ["0", "1", "2"], 10, 100).empty


def test_unfitted_laws_are_not_drawn_and_bands_are_capped() -> None:
    laws = pd.DataFrame(
        {
            "c": [1.0, 1.0, 2.0],
            "alpha": [1.0, 1.0, 0.5],
            "c_se": [np.nan, np.nan, 1e6],
            "flag": ["too_few_observations", "single_size", "at_bound"],
        },
        index=["a", "b", "c"],
    )
    assert laws_frame(laws)["point"].tolist() == ["c"]
    assert spanning_points(laws, 2) == ["c"]
    curve = fit_curves(laws, ["a", "b", "c"], 10, 100)
    assert set(curve["point"]) == {"c"}
    np.testing.assert_allclose(curve["upper"] / curve["fit"], 100.0)


def test_laws_frame_caps_rows_but_keeps_pinned_points() -> None:
    laws = pd.DataFrame(
        {"c": np.linspace(1, 2, 100), "alpha": np.linspace(0, 1, 100), "flag": "ok"}
    )
    frame = laws_frame(laws, max_rows=10, keep=["37"])
    assert len(frame) == 11
    assert "37" in frame["point"].tolist()
    assert frame["alpha"].min() == 0.0 and frame["alpha"].max() == 1.0


def test_spanning_points_prefer_good_fits_and_span_alpha() -> None:
    laws = pd.DataFrame(
        {
            "c": [1.0, 1.0, 1.0, 1.0, 1.0],
            "alpha": [0.1, 0.5, 0.9, 3.0, 0.3],
            "flag": ["ok", "ok", "ok", "at_bound", "ok"],
        },
        index=["a", "b", "c", "d", "e"],
    )
    assert spanning_points(laws, 3) == ["a", "b", "c"]
    assert spanning_points(laws, 0) == []


def test_aggregate_and_recommend_rows() -> None:
    aggregate = pd.DataFrame(
        {"loss": [0.5, 0.4], "loss_se": [np.nan, 0.1], "fitted": [0.5, 0.41]},
        index=pd.Index([10, 20], name="size"),
    )
    frame = aggregate_frame(aggregate)
    assert frame["lower"].tolist()[0] == 0.5
    assert frame["upper"].tolist()[1] == pytest.approx(0.4 + 1.96 * 0.1)

    ranked = pd.DataFrame(
        {
            "rank": [1],
            "score": [np.nan],
            "stderr": [0.0012345],
            "c": [1.0],
            "alpha": [0.5],
            "label": [np.int64(3)],
        },
        index=[np.int64(8)],
    )
    assert recommend_rows(ranked) == [
        {
            "point": "8",
            "rank": 1,
            "score": None,
            "stderr": 0.001234,
            "c": 1.0,
            "alpha": 0.5,
            "label": "3",
        }
    ]


def test_point_key_is_plain() -> None:
    assert point_key(np.int64(5)) == "5"
    assert point_key(("a", 1)) == "('a', 1)"
