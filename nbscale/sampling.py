"""Sampling plans: which point is observed at which size, with which seed.

A study's work is a list of *draws*. Draw ``i`` is fully determined by the
study's root seed and ``i`` itself: the point it studies, the size of its
subset ``D`` and the seed that regenerates ``D``. Nothing depends on the
order in which draws execute, so two runs with the same ``random_state``
produce identical observations whatever the executor or worker count, and
any observation can be audited by regenerating its subset.

Draw ids run round by round: ids ``r * n_points .. (r + 1) * n_points - 1``
give every studied point its ``r``-th observation, so a study stopped early
has an even number of observations per point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DrawBatch", "Plan", "check_sizes", "derive_seeds"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SIZE_SALT = np.uint64(0x5851F42D4C957F2D)
SEED_MASK = (1 << 63) - 1


def _splitmix(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised over uint64 (wrapping)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


def derive_seeds(root: int, draws: np.ndarray) -> np.ndarray:
    """Per-draw seeds from the root seed and the draw ids.

    Parameters
    ----------
    root : int
        The study's root seed, ``0 <= root < 2**63``.
    draws : ndarray of int, shape (n_draws,)
        Draw ids.

    Returns
    -------
    ndarray of int64, shape (n_draws,)
        Non-negative seeds; equal inputs give equal seeds on any machine.

    Examples
    --------
    >>> import numpy as np
    >>> a = derive_seeds(7, np.array([0, 1, 2]))
    >>> b = derive_seeds(7, np.array([2]))
    >>> bool(a[2] == b[0]), bool(a[0] != a[1])
    (True, True)
    """
    ids = np.asarray(draws, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix(np.uint64(root) ^ _splitmix((ids + np.uint64(1)) * _GOLDEN))
    return (mixed & np.uint64(SEED_MASK)).astype(np.int64)


@dataclass(frozen=True)
class DrawBatch:
    """A batch of draws sent to a learner, and the observations wanted.

    Each draw names a subset ``D`` (its ``size`` and ``seed``, and the
    ``excluded`` pool position that ``D`` must not contain, or -1). Each
    request asks for the contribution of one point added to one draw's
    ``D``. In the paired design every draw has exactly one request, for
    its excluded point.

    Parameters
    ----------
    draw, size, seed, excluded : ndarray of int64, shape (n_draws,)
    request_draw : ndarray of int64, shape (n_requests,)
        Position in this batch of the draw each request uses.
    request_point : ndarray of int64, shape (n_requests,)
        Pool position of the point each request adds.

    Examples
    --------
    >>> import numpy as np
    >>> one = np.array([1])
    >>> batch = DrawBatch.paired(one * 3, one * 20, one * 99, one * 5)
    >>> batch.n_draws, batch.request_point.tolist()
    (1, [5])
    """

    draw: np.ndarray
    size: np.ndarray
    seed: np.ndarray
    excluded: np.ndarray
    request_draw: np.ndarray
    request_point: np.ndarray

    @classmethod
    def paired(
        cls,
        draw: np.ndarray,
        size: np.ndarray,
        seed: np.ndarray,
        point: np.ndarray,
    ) -> DrawBatch:
        """A batch of the paper's paired design: one point per draw."""
        return cls(
            draw=np.asarray(draw, dtype=np.int64),
            size=np.asarray(size, dtype=np.int64),
            seed=np.asarray(seed, dtype=np.int64),
            excluded=np.asarray(point, dtype=np.int64),
            request_draw=np.arange(len(draw), dtype=np.int64),
            request_point=np.asarray(point, dtype=np.int64),
        )

    @property
    def n_draws(self) -> int:
        """Number of draws (subsets) in the batch."""
        return len(self.draw)

    @property
    def n_requests(self) -> int:
        """Number of observations the batch asks for."""
        return len(self.request_point)

    def __len__(self) -> int:
        return self.n_requests


def check_sizes(
    sizes: Any, schedule: str, n_pool: int, n_classes: int
) -> tuple[tuple[int, int], np.ndarray | None]:
    """Validate ``sizes`` and ``schedule``; return the window and the grid.

    Parameters
    ----------
    sizes : tuple (k_min, k_max) or sequence of int
        An inclusive range, or an explicit list of sizes.
    schedule : {"uniform", "geometric"}
        With a range: ``"uniform"`` draws each size uniformly from the
        range; ``"geometric"`` cycles through 10 geometrically spaced
        sizes, the paper's validation schedule. An explicit list is always
        cycled through.
    n_pool : int
        Rows in the training pool. ``D`` excludes the studied point, so
        sizes may reach ``n_pool - 1``.
    n_classes : int
        Number of classes (0 for regression).

    Returns
    -------
    window : tuple of int
        ``(k_min, k_max)``.
    grid : ndarray of int64 or None
        The sizes to cycle through, or None for uniform draws.

    Raises
    ------
    ValueError, TypeError
        Naming ``sizes`` or ``schedule``.

    Examples
    --------
    >>> check_sizes((100, 1000), "geometric", 2000, 2)[1].tolist()
    [100, 129, 167, 215, 278, 359, 464, 599, 774, 1000]
    """
    if schedule not in ("uniform", "geometric"):
        raise ValueError(
            f"schedule: expected 'uniform' or 'geometric', got {schedule!r}"
        )
    values = _as_int_sizes(sizes)
    limit = n_pool - 1
    if values.min() < 1 or values.max() > limit:
        raise ValueError(
            f"sizes: expected sizes between 1 and {limit} (the training pool "
            f"minus the studied point), got {sizes!r}"
        )

    explicit = not (isinstance(sizes, tuple) and len(sizes) == 2)
    if explicit:
        grid = np.unique(values)
        return (int(grid[0]), int(grid[-1])), grid
    k_min, k_max = int(values[0]), int(values[1])
    if k_min > k_max:
        raise ValueError(
            f"sizes: expected k_min <= k_max, got (k_min, k_max) = {sizes!r}"
        )
    if schedule == "geometric":
        grid = np.unique(np.round(np.geomspace(k_min, k_max, 10)).astype(np.int64))
        return (k_min, k_max), grid
    return (k_min, k_max), None


def _as_int_sizes(sizes: Any) -> np.ndarray:
    """Parse ``sizes`` into a non-empty int64 array."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray):
        raise TypeError(
            f"sizes: expected a (k_min, k_max) tuple or a list of sizes, got {sizes!r}"
        )
    values = np.asarray(sizes)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"sizes: expected a non-empty list of sizes, got {sizes!r}")
    if values.dtype.kind == "f" and np.all(np.isfinite(values)):
        if np.all(values == np.round(values)):
            values = values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise TypeError(f"sizes: expected whole numbers, got {sizes!r}")
    return values.astype(np.int64)


@dataclass(frozen=True)
class Plan:
    """The deterministic list of draws of a study.

    Parameters
    ----------
    points : ndarray of int64, shape (n_points,)
        Pool positions of the studied points.
    samples : int
        Observations per point.
    window : tuple of int
        ``(k_min, k_max)``, inclusive.
    grid : ndarray of int64 or None
        Sizes to cycle through, or None for uniform sizes in the window.
    root_seed : int
        The study's root seed.

    Examples
    --------
    >>> import numpy as np
    >>> plan = Plan(np.arange(3), samples=2, window=(5, 9), grid=None, root_seed=1)
    >>> plan.n_target
    6
    >>> batch = plan.batch(np.array([0, 4]))
    >>> batch.request_point.tolist()
    [0, 1]
    >>> bool(all(5 <= s <= 9 for s in batch.size))
    True
    """

    points: np.ndarray
    samples: int
    window: tuple[int, int]
    grid: np.ndarray | None
    root_seed: int

    @property
    def n_points(self) -> int:
        """Number of studied points."""
        return len(self.points)

    @property
    def n_target(self) -> int:
        """Total number of observations the plan asks for."""
        return self.n_points * self.samples

    def batch(self, draws: np.ndarray) -> DrawBatch:
        """The paired batch of the given draw ids."""
        draws = np.asarray(draws, dtype=np.int64)
        rounds, slots = np.divmod(draws, self.n_points)
        seeds = derive_seeds(self.root_seed, draws)
        if self.grid is None:
            k_min, k_max = self.window
            span = np.uint64(k_max - k_min + 1)
            mixed = _splitmix(seeds.astype(np.uint64) ^ _SIZE_SALT)
            sizes = (mixed % span).astype(np.int64) + k_min
        else:
            sizes = self.grid[(rounds + slots) % len(self.grid)]
        return DrawBatch.paired(draws, sizes, seeds, self.points[slots])
