"""Draw sources: the order in which a run asks for observations.

The driver pulls batches of draws from a *source* and reports back which
draws were committed. Two sources exist:

:class:`PlanSource`
    The study's fixed plan, round by round (``allocation="uniform"``).
:class:`AdaptiveSource`
    Spends each new round where it reduces uncertainty most
    (``allocation="adaptive"``): on the points whose exponent is least
    certain, and at the ends of the log-size range, which pin a slope down
    better than its middle.

Adaptive rounds stay reproducible: round ``r`` is allocated from the
observations of rounds up to ``r - lag`` only, once those rounds are
complete, so the allocation never depends on which batch happened to
finish first. The rounds in between keep every worker busy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from nbscale.sampling import DrawBatch, Plan, derive_seeds

__all__ = ["AdaptiveSource", "DrawSource", "PlanSource", "check_allocation"]

_END_BAND = 0.2  # share of the log-size range sampled at each end
_SIZE_SALT = np.uint64(0xD1B54A32D192ED03)


def check_allocation(allocation: object) -> str:
    """Validate the ``allocation`` argument of :class:`nbscale.Study`.

    Examples
    --------
    >>> check_allocation("adaptive")
    'adaptive'
    """
    if allocation not in ("uniform", "adaptive"):
        raise ValueError(
            f"allocation: expected 'uniform' or 'adaptive', got {allocation!r}"
        )
    return str(allocation)


class DrawSource(Protocol):
    """What the driver pulls draws from."""

    def next_batch(self, max_draws: int) -> DrawBatch | None:
        """Up to ``max_draws`` new draws, or None if none is ready now."""
        ...

    @property
    def exhausted(self) -> bool:
        """True once every draw has been handed out."""
        ...

    def committed(self, draws: np.ndarray) -> None:
        """Note draws whose observations (or failures) are now stored."""
        ...


class PlanSource:
    """Hand out the pending draws of a fixed plan, in order.

    Examples
    --------
    >>> plan = Plan(np.arange(2), samples=2, window=(5, 9), grid=None, root_seed=0)
    >>> source = PlanSource(plan, pending=np.arange(4))
    >>> source.next_batch(3).draw.tolist(), source.next_batch(3).draw.tolist()
    ([0, 1, 2], [3])
    >>> source.exhausted
    True
    """

    def __init__(self, plan: Plan, pending: np.ndarray) -> None:
        self.plan = plan
        self.pending = np.asarray(pending, dtype=np.int64)
        self.cursor = 0

    @property
    def exhausted(self) -> bool:
        return self.cursor >= len(self.pending)

    def next_batch(self, max_draws: int) -> DrawBatch | None:
        if self.exhausted:
            return None
        ids = self.pending[self.cursor : self.cursor + max_draws]
        self.cursor += len(ids)
        return self.plan.batch(ids)

    def committed(self, draws: np.ndarray) -> None:
        return None


class AdaptiveSource:
    """Allocate rounds of draws by the current uncertainty of each law.

    Parameters
    ----------
    plan : Plan
        The study's plan: its points, window, seed and budget
        (``samples`` rounds of ``n_points`` draws).
    done : ndarray of int64
        Draw ids already stored.
    fit : callable
        ``fit(max_draw)`` returns the laws fitted on the observations of
        draws below ``max_draw`` (a DataFrame indexed by pool position with
        at least ``alpha_se``, ``n_obs`` and ``flag``).
    warmup : int, default=6
        Rounds taken from the uniform plan before allocation starts; a
        likelihood fit needs a few observations per point.
    lag : int, default=2
        Round ``r`` is allocated from rounds up to ``r - lag``.

    Notes
    -----
    Points: a round's ``n_points`` draws go to points in proportion to the
    expected drop of ``alpha_se**2`` from one more observation, about
    ``alpha_se**2 / n_obs``. A flagged law counts as the least certain.

    Sizes: half the draws take ``log k`` uniformly from the lowest 20% of
    the log-size window, half from the highest 20%. The exponent is a
    slope in log-log space, and a slope's variance falls with the spread
    of the regressor; the extremes maximise it while the width of the
    bands keeps ``beta`` identifiable.

    Examples
    --------
    >>> plan = Plan(np.arange(4), samples=10, window=(10, 1000), grid=None,
    ...             root_seed=0)
    >>> laws = pd.DataFrame({"alpha_se": [1.0, 0.1, 0.1, 0.1], "n_obs": [6] * 4,
    ...                      "flag": ["ok"] * 4}, index=np.arange(4))
    >>> source = AdaptiveSource(plan, np.arange(24), lambda limit: laws)
    >>> batch = source.next_batch(4)
    >>> int((batch.request_point == 0).sum()) >= 2
    True
    """

    def __init__(
        self,
        plan: Plan,
        done: np.ndarray,
        fit: Callable[[int], pd.DataFrame],
        warmup: int = 6,
        lag: int = 2,
    ) -> None:
        self.plan = plan
        self.fit = fit
        self.warmup = min(warmup, plan.samples)
        self.lag = lag
        n_rounds = plan.samples
        self._remaining = np.full(n_rounds, plan.n_points, dtype=np.int64)
        self._done = set(np.asarray(done, dtype=np.int64).tolist())
        for draw in self._done:
            if draw < plan.n_target:
                self._remaining[draw // plan.n_points] -= 1
        self._round = 0
        self._queue: list[DrawBatch] = []
        self._skip_complete_rounds()

    @property
    def exhausted(self) -> bool:
        return self._round >= self.plan.samples and not self._queue

    def committed(self, draws: np.ndarray) -> None:
        for draw in np.asarray(draws, dtype=np.int64).tolist():
            if draw not in self._done and draw < self.plan.n_target:
                self._done.add(draw)
                self._remaining[draw // self.plan.n_points] -= 1

    def next_batch(self, max_draws: int) -> DrawBatch | None:
        if not self._queue:
            if self._round >= self.plan.samples or not self._ready(self._round):
                return None
            self._queue = [self._allocate(self._round)]
            self._round += 1
            self._skip_complete_rounds()
        batch = self._queue.pop(0)
        if batch.n_draws > max_draws:
            head, tail = _split(batch, max_draws)
            self._queue.insert(0, tail)
            return head
        return batch

    def _skip_complete_rounds(self) -> None:
        while self._round < self.plan.samples and self._remaining[self._round] == 0:
            self._round += 1

    def _ready(self, round_: int) -> bool:
        """Whether the rounds that decide ``round_`` are all stored."""
        if round_ < self.warmup:
            return True
        basis = round_ - self.lag
        return bool(np.all(self._remaining[: basis + 1] == 0))

    def _allocate(self, round_: int) -> DrawBatch:
        """The pending draws of one round, allocated deterministically."""
        n_points = self.plan.n_points
        ids = np.arange(round_ * n_points, (round_ + 1) * n_points, dtype=np.int64)
        if round_ < self.warmup:
            batch = self.plan.batch(ids)
        else:
            limit = (round_ - self.lag + 1) * n_points
            points = self._choose_points(self.fit(limit), n_points)
            sizes = self._end_sizes(ids)
            batch = DrawBatch.paired(
                ids, sizes, derive_seeds(self.plan.root_seed, ids), points
            )
        keep = np.array([d not in self._done for d in ids.tolist()])
        return _select(batch, keep)

    def _choose_points(self, laws: pd.DataFrame, n_draws: int) -> np.ndarray:
        """Pool positions for ``n_draws`` draws, by expected precision gain."""
        points = self.plan.points
        laws = laws.reindex(points)
        se = laws["alpha_se"].to_numpy(dtype=np.float64)
        n_obs = laws["n_obs"].fillna(0).to_numpy(dtype=np.float64)
        unreliable = (laws["flag"] != "ok").to_numpy() | ~np.isfinite(se)
        finite = se[~unreliable]
        worst = float(finite.max()) if finite.size else 1.0
        se = np.where(unreliable, 2.0 * worst, se)
        gain = se**2 / np.maximum(n_obs, 1.0)
        if not np.isfinite(gain).all() or gain.sum() <= 0:
            gain = np.ones(len(points))

        # Largest-remainder rounding of the proportional allocation.
        share = gain / gain.sum() * n_draws
        counts = np.floor(share).astype(np.int64)
        order = np.lexsort((np.arange(len(points)), -(share - counts)))
        counts[order[: n_draws - counts.sum()]] += 1
        return np.repeat(points, counts)

    def _end_sizes(self, ids: np.ndarray) -> np.ndarray:
        """Sizes from the two ends of the log-size window."""
        k_min, k_max = self.plan.window
        seeds = derive_seeds(self.plan.root_seed, ids).astype(np.uint64)
        with np.errstate(over="ignore"):
            mixed = (seeds ^ _SIZE_SALT) * np.uint64(0x9E3779B97F4A7C15)
        u = (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        upper = (np.arange(len(ids)) % 2) == 1
        span = np.log(k_max) - np.log(k_min)
        offset = u * _END_BAND * span
        log_size = np.where(upper, np.log(k_max) - offset, np.log(k_min) + offset)
        return np.clip(np.round(np.exp(log_size)), k_min, k_max).astype(np.int64)


def _select(batch: DrawBatch, keep: np.ndarray) -> DrawBatch:
    """The paired batch restricted to the draws where ``keep`` is true."""
    return DrawBatch.paired(
        batch.draw[keep], batch.size[keep], batch.seed[keep], batch.excluded[keep]
    )


def _split(batch: DrawBatch, n: int) -> tuple[DrawBatch, DrawBatch]:
    head = np.zeros(batch.n_draws, dtype=bool)
    head[:n] = True
    return _select(batch, head), _select(batch, ~head)
