"""Plans, seeds and size schedules."""

from __future__ import annotations

import numpy as np
import pytest

from nbscale.sampling import Plan, check_sizes, derive_seeds


def test_seeds_depend_only_on_root_and_draw() -> None:
    all_seeds = derive_seeds(5, np.arange(1000))
    assert len(np.unique(all_seeds)) == 1000
    assert np.array_equal(derive_seeds(5, np.arange(500, 600)), all_seeds[500:600])
    assert not np.array_equal(derive_seeds(6, np.arange(10)), all_seeds[:10])


def test_uniform_sizes_cover_the_inclusive_range() -> None:
    plan = Plan(np.arange(50), samples=200, window=(10, 14), grid=None, root_seed=0)
    sizes = plan.batch(np.arange(plan.n_target)).size
    assert set(sizes.tolist()) == {10, 11, 12, 13, 14}
    counts = np.bincount(sizes)[10:]
    assert counts.min() > 0.8 * counts.mean()


def test_grid_sizes_are_balanced_per_point() -> None:
    grid = np.array([10, 20, 40])
    plan = Plan(np.arange(4), samples=6, window=(10, 40), grid=grid, root_seed=0)
    batch = plan.batch(np.arange(plan.n_target))
    for point in range(4):
        sizes = batch.size[batch.request_point == point]
        assert sorted(sizes.tolist()) == [10, 10, 20, 20, 40, 40]


def test_draws_run_round_by_round() -> None:
    plan = Plan(np.array([7, 8, 9]), samples=2, window=(5, 6), grid=None, root_seed=0)
    assert plan.batch(np.arange(6)).request_point.tolist() == [7, 8, 9, 7, 8, 9]


def test_geometric_schedule_matches_paper_grid() -> None:
    _, grid = check_sizes((100, 1000), "geometric", 5000, 2)
    assert grid.tolist()[:3] == [100, 129, 167] and grid[-1] == 1000


@pytest.mark.parametrize(
    ("sizes", "error", "needle"),
    [
        ((0, 10), ValueError, "sizes: expected sizes between 1"),
        ((10, 500), ValueError, "sizes: expected sizes between 1 and 99"),
        ((50, 10), ValueError, "k_min <= k_max"),
        ("10:20", TypeError, "sizes: expected a"),
        ((1.5, 10), TypeError, "sizes: expected whole numbers"),
        ([], ValueError, "sizes: expected a non-empty"),
    ],
)
def test_bad_sizes(sizes, error, needle) -> None:
    with pytest.raises(error, match=needle):
        check_sizes(sizes, "uniform", 100, 2)


def test_bad_schedule() -> None:
    with pytest.raises(ValueError, match="schedule: expected"):
        check_sizes((1, 5), "log", 100, 2)
