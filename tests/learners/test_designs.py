"""The shared-baseline design: its plan, reproducibility and resumption."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbscale
from nbscale.data import check_dataset, draw_subset
from nbscale.designs import SharedPlan, SharedSource


@pytest.fixture(scope="module")
def regression_data():
    X = np.random.default_rng(0).normal(size=(400, 3))
    return check_dataset(X, X[:, 0], random_state=0)


def plan_of(data, **options):
    settings = {
        "points": np.arange(0, 150),
        "samples": 3,
        "window": (100, 250),
        "grid": None,
        "root_seed": 7,
        "data": data,
        "group_size": 40,
    }
    settings.update(options)
    return SharedPlan(**settings)


def test_every_point_gets_its_samples_from_subsets_without_it(regression_data) -> None:
    plan = plan_of(regression_data)
    batch = plan.batch(np.arange(plan.n_units))
    assert batch.n_requests == plan.n_target
    counts = np.bincount(batch.request_point, minlength=150)
    assert (counts == 3).all()
    for position in range(batch.n_draws):
        excluded = int(batch.excluded[position])
        subset = draw_subset(
            regression_data,
            None if excluded < 0 else excluded,
            int(batch.size[position]),
            int(batch.seed[position]),
        )
        served = batch.request_point[batch.request_draw == position]
        assert not np.isin(served, subset).any()


def test_large_subsets_fall_back_to_paired_draws(regression_data) -> None:
    # With k close to the pool, most points sit in every attempt's D.
    plan = plan_of(regression_data, window=(300, 310), max_attempts=2)
    batch = plan.batch(np.arange(plan.n_units))
    assert (np.bincount(batch.request_point, minlength=150) == 3).all()
    paired = batch.excluded >= 0
    assert paired.any() and (~paired).any()
    assert (
        batch.request_point[np.isin(batch.request_draw, np.flatnonzero(paired))]
        == batch.excluded[paired]
    ).all()


def test_units_are_deterministic_and_draw_specs_agree(regression_data) -> None:
    plan = plan_of(regression_data)
    whole = plan.batch(np.arange(plan.n_units))
    parts = [plan.batch(np.array([u])) for u in range(plan.n_units)]
    assert np.array_equal(np.concatenate([p.draw for p in parts]), whole.draw)
    for position, draw in enumerate(whole.draw.tolist()):
        excluded, size, seed = plan.draw_spec(draw)
        assert size == whole.size[position] and seed == whole.seed[position]
        assert (excluded is None) == (whole.excluded[position] < 0)
    # Same root seed, same plan; another root seed, another plan.
    again = plan_of(regression_data).batch(np.arange(2))
    other = plan_of(regression_data, root_seed=8).batch(np.arange(2))
    assert np.array_equal(again.seed, plan.batch(np.arange(2)).seed)
    assert not np.array_equal(other.seed, again.seed)


def test_grid_sizes_cycle_per_point(regression_data) -> None:
    grid = np.array([100, 150, 200])
    plan = plan_of(regression_data, samples=6, grid=grid)
    batch = plan.batch(np.arange(plan.n_units))
    sizes = batch.size[batch.request_draw]
    for point in (0, 77, 149):
        assert sorted(sizes[batch.request_point == point].tolist()) == [
            100,
            100,
            150,
            150,
            200,
            200,
        ]


def test_source_hands_out_units_by_request_budget(regression_data) -> None:
    plan = plan_of(regression_data)
    source = SharedSource(plan, plan.pending(np.zeros(0, dtype=np.int64)))
    first = source.next_batch(100)  # about 2 units of ~37 requests
    assert len(np.unique(first.draw // plan.block)) == 2
    done = plan.pending(first.draw)
    assert len(done) == plan.n_units - 2


def shared_study(X, y, **options):
    settings = {
        "sizes": (20, 60),
        "samples": 4,
        "points": list(range(30)),
        "store": ":memory:",
        "random_state": 0,
        "design": "shared",
    }
    settings.update(options)
    return nbscale.Study(X, y, **settings)


def test_shared_study_is_reproducible_across_executors(wine) -> None:
    frames = [
        shared_study(*wine).run(progress=False, executor=executor).observations()
        for executor in ("inline", "threads", 2)
    ]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], frame)
    assert len(frames[0]) == 120
    assert (frames[0].groupby("point").size() == 4).all()
    assert frames[0]["draw"].nunique() < 40  # far fewer fits than observations


def test_shared_study_resumes_to_the_same_observations(wine, tmp_path) -> None:
    path = tmp_path / "shared.nbscale"
    partial = shared_study(*wine, store=path)
    partial.run(progress=False, executor="inline", stop=nbscale.ObservationBudget(40))
    assert 0 < partial.n_observations < 120
    reopened = nbscale.open(path)
    reopened.run(progress=False, executor="threads")
    reference = shared_study(*wine).run(progress=False, executor="inline")
    pd.testing.assert_frame_equal(reopened.observations(), reference.observations())


def test_shared_subsets_audit(diabetes) -> None:
    X, y = diabetes
    study = shared_study(X, y, model="ridge", samples=2).run(
        progress=False, executor="inline"
    )
    frame = study.observations()
    assert not frame.duplicated(["draw", "point"]).any()
    for row in frame.itertuples():
        subset = study.subset(row.draw)
        assert len(subset) == row.size and row.point not in subset
    with pytest.raises(ValueError, match="draw: expected a draw id"):
        study.subset(10**9)
