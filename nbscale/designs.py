"""Sampling designs: how subsets ``D`` are shared between observations.

``design="paired"`` (the paper's procedure)
    Every observation gets its own subset ``D``, drawn from the pool
    without the studied point ``z``, and costs two fits: ``D`` and
    ``D + {z}`` (:class:`~nbscale.sampling.Plan`).

``design="shared"`` (the default with uniform allocation)
    One fit on ``D`` is the "without" fit of a whole group of points:
    ``D`` is drawn from the *whole* pool, and every point of the group that
    ``D`` does not contain gets an observation on it (:class:`SharedPlan`).
    An observation then costs one fit plus a share of ``D``'s, and with the
    batched engines the with-point fits start from ``D``'s solution.

What stays the same
-------------------
For one point, the observations are distributed exactly as in the paired
design when draws are uniform (regression). Drawing ``D`` uniformly from
the pool and keeping it only if it misses ``z`` is conditioning on
``z not in D``, and a uniform ``k``-subset conditioned to miss ``z`` is a
uniform ``k``-subset of the pool without ``z``. The group's points that
``D`` does contain are served by further draws of the same size (fresh
seeds), so the size distribution is untouched: a point keeps the size its
group drew, whatever the draws it waited for. After ``max_attempts``
draws a point still waiting gets an ordinary paired draw.

With class-stratified draws, the shared ``D`` takes ``round(p_c k)`` rows
per class from the class sizes of the whole pool, while the paired design
uses the pool without ``z`` (its class one row smaller). The two counts
differ only when ``p_c k`` sits within about ``k / n_c`` of a rounding
boundary; then one row of ``D`` moves between classes. Within each class
the rows are uniform in both designs.

What changes
------------
Observations of *different* points on the same ``D`` are correlated:
they share the subset and the baseline loss (common random numbers).
Per-point estimates (laws, values) are unaffected, since each point's own
observations come from independent draws, round after round. Differences
between points, and therefore rankings, become more precise, as the
shared noise cancels. Averages over many points (the aggregate curve,
the mean value) become less precise than the same number of independent
observations would make them, and their standard errors should be
computed per draw, not per observation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbscale.data import Dataset, draw_subset
from nbscale.sampling import DrawBatch, _splitmix, derive_seeds

__all__ = ["DESIGNS", "SharedPlan", "SharedSource", "check_design"]

DESIGNS = ("paired", "shared")

GROUP_SIZE = 64
MAX_ATTEMPTS = 8
_UNIT_SIZE_SALT = np.uint64(0x2545F4914F6CDD1D)
_GROUP_SALT = 0x51A2ED


def check_design(design: Any, allocation: str) -> str:
    """Validate ``design`` and resolve its default.

    Parameters
    ----------
    design : {"paired", "shared"} or None
        None picks ``"shared"`` for uniform allocation, which measured
        several times more accurate per CPU second (benchmarks/README.md),
        and ``"paired"`` for adaptive allocation, which allocates single
        draws.
    allocation : str
        The study's allocation, already checked.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown design, or ``"shared"`` with adaptive allocation.

    Examples
    --------
    >>> check_design(None, "uniform"), check_design(None, "adaptive")
    ('shared', 'paired')
    """
    if design is None:
        return "shared" if allocation == "uniform" else "paired"
    if design not in DESIGNS:
        raise ValueError(f"design: expected 'paired', 'shared' or None, got {design!r}")
    if design == "shared" and allocation != "uniform":
        raise ValueError(
            "design: the shared design needs allocation='uniform' (adaptive "
            "allocation chooses one point per draw); pass design='paired'"
        )
    return str(design)


@dataclass(frozen=True)
class SharedPlan:
    """The deterministic draws of the shared-baseline design.

    The studied points are split once, by the root seed, into groups of
    about ``group_size``. Work comes in *units*: unit
    ``u = r * n_groups + g`` gives every point of group ``g`` its
    ``r``-th observation, so units run round by round like the paired
    plan's draws. A unit owns the draw ids ``u * block .. (u + 1) * block
    - 1``: ids ``u * block + a`` for attempts ``a < max_attempts`` are
    draws from the whole pool, and ``u * block + max_attempts + i`` is
    the paired fallback draw of the group's ``i``-th point. All of a
    unit's draws share one size, and every seed derives from the root
    seed and the draw id, so a unit regenerates identically anywhere.

    Parameters
    ----------
    points : ndarray of int64, shape (n_points,)
        Pool positions of the studied points.
    samples : int
        Observations per point (rounds).
    window : tuple of int
        ``(k_min, k_max)``.
    grid : ndarray of int64 or None
        Sizes to cycle through, or None for uniform sizes.
    root_seed : int
    data : Dataset
        Needed to know which points each ``D`` contains.
    group_size : int, default=64
    max_attempts : int, default=8

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.data import check_dataset
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> data = check_dataset(X, X[:, 0], random_state=0)
    >>> plan = SharedPlan(np.arange(10), samples=2, window=(20, 40), grid=None,
    ...                   root_seed=0, data=data)
    >>> plan.n_units, plan.n_target
    (2, 20)
    >>> batch = plan.batch(np.array([0]))
    >>> sorted(batch.request_point.tolist()) == list(range(10))
    True
    """

    points: np.ndarray
    samples: int
    window: tuple[int, int]
    grid: np.ndarray | None
    root_seed: int
    data: Dataset = field(repr=False)
    group_size: int = GROUP_SIZE
    max_attempts: int = MAX_ATTEMPTS
    groups: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_groups = max(1, math.ceil(len(self.points) / self.group_size))
        rng = np.random.default_rng([self.root_seed, _GROUP_SALT])
        shuffled = rng.permutation(np.asarray(self.points, dtype=np.int64))
        groups = [np.sort(g) for g in np.array_split(shuffled, n_groups)]
        object.__setattr__(self, "groups", groups)

    @property
    def n_points(self) -> int:
        """Number of studied points."""
        return len(self.points)

    @property
    def n_target(self) -> int:
        """Total number of observations the plan asks for."""
        return self.n_points * self.samples

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_units(self) -> int:
        """Units of work: one per group and round."""
        return self.n_groups * self.samples

    @property
    def block(self) -> int:
        """Draw ids owned by each unit."""
        return self.max_attempts + max(len(g) for g in self.groups)

    @property
    def requests_per_unit(self) -> float:
        return self.n_points / self.n_groups

    def unit_sizes(self, units: np.ndarray) -> np.ndarray:
        """The subset size of each unit, shape (n_units,)."""
        units = np.asarray(units, dtype=np.int64)
        rounds, groups = np.divmod(units, self.n_groups)
        if self.grid is not None:
            return self.grid[(rounds + groups) % len(self.grid)]
        k_min, k_max = self.window
        mixed = _splitmix(
            derive_seeds(self.root_seed, units).astype(np.uint64) ^ _UNIT_SIZE_SALT
        )
        return (mixed % np.uint64(k_max - k_min + 1)).astype(np.int64) + k_min

    def batch(self, units: np.ndarray) -> DrawBatch:
        """All draws and requests of the given units."""
        draws: list[tuple[int, int, int, int]] = []
        requests: list[np.ndarray] = []
        for unit, size in zip(
            np.asarray(units).tolist(),
            self.unit_sizes(units).tolist(),
            strict=True,
        ):
            for draw, seed, excluded, served in self._unit(int(unit), int(size)):
                draws.append((draw, size, seed, excluded))
                requests.append(served)
        if not draws:
            empty = np.zeros(0, dtype=np.int64)
            return DrawBatch(empty, empty, empty, empty, empty, empty)
        draw, size, seed, excluded = (
            np.array(c, dtype=np.int64) for c in zip(*draws, strict=True)
        )
        counts = [len(r) for r in requests]
        return DrawBatch(
            draw=draw,
            size=size,
            seed=seed,
            excluded=excluded,
            request_draw=np.repeat(np.arange(len(draws)), counts).astype(np.int64),
            request_point=np.concatenate(requests).astype(np.int64),
        )

    def _unit(self, unit: int, size: int) -> list[tuple[int, int, int, np.ndarray]]:
        """``(draw, seed, excluded, points served)`` of one unit's draws."""
        members = self.groups[unit % self.n_groups]
        base = unit * self.block
        ids = base + np.arange(self.block, dtype=np.int64)
        seeds = derive_seeds(self.root_seed, ids)
        out = []

        # Draws from the whole pool, until every member has been missed once.
        waiting = members
        for attempt in range(self.max_attempts):
            subset = draw_subset(self.data, None, size, int(seeds[attempt]))
            inside = _contains(subset, waiting)
            if not inside.all():
                out.append(
                    (int(ids[attempt]), int(seeds[attempt]), -1, waiting[~inside])
                )
            waiting = waiting[inside]
            if len(waiting) == 0:
                return out

        # Members that every attempt contained get a paired draw each.
        for member in waiting.tolist():
            slot = self.max_attempts + int(np.searchsorted(members, member))
            out.append((int(ids[slot]), int(seeds[slot]), member, np.array([member])))
        return out

    def draw_spec(self, draw: int) -> tuple[int | None, int, int] | None:
        """``(excluded, size, seed)`` of a draw id of this plan, or None.

        Examples
        --------
        >>> import numpy as np
        >>> from nbscale.data import check_dataset
        >>> X = np.random.default_rng(0).normal(size=(300, 3))
        >>> data = check_dataset(X, X[:, 0], random_state=0)
        >>> plan = SharedPlan(np.arange(4), samples=1, window=(20, 40), grid=None,
        ...                   root_seed=0, data=data)
        >>> plan.draw_spec(0)[0] is None, plan.draw_spec(10**6)
        (True, None)
        """
        unit, slot = divmod(int(draw), self.block)
        if not 0 <= unit < self.n_units:
            return None
        members = self.groups[unit % self.n_groups]
        if slot >= self.max_attempts + len(members):
            return None
        size = int(self.unit_sizes(np.array([unit]))[0])
        seed = int(derive_seeds(self.root_seed, np.array([draw]))[0])
        excluded = (
            None if slot < self.max_attempts else int(members[slot - self.max_attempts])
        )
        return excluded, size, seed

    def pending(self, done_draws: np.ndarray) -> np.ndarray:
        """Units with no committed draw, in order.

        A unit's draws always travel in one batch and are committed in one
        transaction, so a unit is either wholly stored or not at all.
        """
        done = np.unique(np.asarray(done_draws, dtype=np.int64) // self.block)
        return np.setdiff1d(np.arange(self.n_units, dtype=np.int64), done)


def _contains(subset: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each point is in the sorted ``subset``."""
    where = np.searchsorted(subset, points)
    where = np.minimum(where, len(subset) - 1)
    return subset[where] == points


class SharedSource:
    """Hand out the pending units of a :class:`SharedPlan`, in order.

    The driver asks for batches of ``max_draws`` requests; a unit carries
    about ``group_size`` of them, so a batch holds
    ``max_draws / group_size`` units (at least one).

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.data import check_dataset
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> data = check_dataset(X, X[:, 0], random_state=0)
    >>> plan = SharedPlan(np.arange(6), samples=3, window=(20, 40), grid=None,
    ...                   root_seed=0, data=data)
    >>> source = SharedSource(plan, plan.pending(np.zeros(0, dtype=np.int64)))
    >>> source.next_batch(2).n_requests, source.exhausted
    (6, False)
    """

    def __init__(self, plan: SharedPlan, pending: np.ndarray) -> None:
        self.plan = plan
        self.pending = np.asarray(pending, dtype=np.int64)
        self.cursor = 0

    @property
    def exhausted(self) -> bool:
        return self.cursor >= len(self.pending)

    def next_batch(self, max_draws: int) -> DrawBatch | None:
        if self.exhausted:
            return None
        n_units = max(1, int(max_draws / self.plan.requests_per_unit))
        units = self.pending[self.cursor : self.cursor + n_units]
        self.cursor += len(units)
        return self.plan.batch(units)

    def committed(self, draws: np.ndarray) -> None:
        return None
