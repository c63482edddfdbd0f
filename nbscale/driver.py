"""The driver: the one thread that submits work and records results.

It keeps a few batches in flight per worker, commits each finished batch
to the store in one transaction, updates the counters that
:attr:`nbscale.Study.n_observations` reads (so they count only committed
rows), and then calls the listeners. It never trains a model itself.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from nbscale.allocation import DrawSource
from nbscale.data import Dataset
from nbscale.exceptions import AllFitsFailedError
from nbscale.learners.base import BatchResult
from nbscale.runner import EvaluationContext, ExecutorFactory, StopFlag
from nbscale.sampling import DrawBatch
from nbscale.store import SQLiteStore

__all__ = ["Driver"]

logger = logging.getLogger(__name__)

_TARGET_BATCH_SECONDS = 0.5
_MAX_BATCH = 256
_POLL_SECONDS = 0.1
# With this many failures and not one success, a run stops with an error.
_ALL_FAILED_AFTER = 20


class Driver:
    """Submit the pending draws of a plan and record what comes back.

    Parameters
    ----------
    source : DrawSource
        Hands out the draws to run (the fixed plan, or adaptive rounds).
    context : EvaluationContext
    factory : callable
        Builds the executor from ``context``.
    store : SQLiteStore
    flag : StopFlag
    on_batch : callable
        ``on_batch(observations, n_new_failures)`` after each commit, with
        the committed observations as ``(draw, row, size, delta)`` arrays.
    should_stop : callable, optional
        Asked after each commit; True ends the run early (a stopping rule).

    Examples
    --------
    >>> Driver.__name__
    'Driver'
    """

    def __init__(
        self,
        source: DrawSource,
        context: EvaluationContext,
        factory: ExecutorFactory,
        store: SQLiteStore,
        flag: StopFlag,
        on_batch: Callable[[dict[str, np.ndarray], int], None],
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.source = source
        self.should_stop = should_stop
        self.stopped_by_rule = False
        self.context = context
        self.factory = factory
        self.store = store
        self.flag = flag
        self.on_batch = on_batch
        self.error: BaseException | None = None
        self.reasons: Counter[str] = Counter()
        self.n_observations = 0
        self.n_failures = 0

    @property
    def data(self) -> Dataset:
        return self.context.data

    def run(self) -> None:
        """Drive the plan to completion, a stop, or a fatal error."""
        executor = None
        cancel = True
        try:
            executor = self.factory(self.context)
            self._loop(executor)
            cancel = self.flag.stopped or self.stopped_by_rule
        except BaseException as err:
            self.error = err
            logger.error("nbscale run stopped: %s", err)
        finally:
            if executor is not None:
                executor.shutdown(cancel=cancel)

    def _loop(self, executor: Any) -> None:
        """Keep the executor busy; record batches as they finish."""
        n_workers = max(1, int(executor.n_workers))
        cap = 2 * n_workers
        batch_size = 2
        in_flight: dict[Any, DrawBatch] = {}

        while not self.flag.stopped:
            # Submit new batches unless paused.
            while not self.flag.paused and len(in_flight) < cap:
                batch = self.source.next_batch(batch_size)
                if batch is None:
                    break
                if batch.n_draws:
                    in_flight[executor.submit(batch)] = batch

            if not in_flight:
                if self.source.exhausted:
                    return
                time.sleep(_POLL_SECONDS)
                continue

            # Record whatever finished.
            for future in executor.wait_any(list(in_flight), _POLL_SECONDS):
                batch = in_flight.pop(future)
                result = self._result_of(future, batch)
                self._commit(batch, result)
                if result.n_requests_done:
                    per_request = result.seconds / result.n_requests_done
                    wanted = _TARGET_BATCH_SECONDS / max(per_request, 1e-6)
                    batch_size = int(np.clip(wanted, 1, _MAX_BATCH))
            self._check_all_failed()
            if self.should_stop is not None and self.should_stop():
                self.stopped_by_rule = True
                logger.info(
                    "stopping rule met after %d observations", self.n_observations
                )
                return

    def _result_of(self, future: Any, batch: DrawBatch) -> _Result:
        """The batch's result, or the whole batch as failures."""
        try:
            return _Result(future.result())
        except BrokenProcessPool:
            raise
        except Exception as err:
            reason = f"{type(err).__name__}: {err}"[:200]
            failed = BatchResult.empty()
            failed.failed_draw = batch.draw[batch.request_draw]
            failed.failed_point = batch.request_point
            failed.failed_size = batch.size[batch.request_draw]
            failed.failed_reason = [reason] * batch.n_requests
            return _Result(failed)

    def _commit(self, batch: DrawBatch, wrapped: _Result) -> None:
        """Write one batch in one transaction, then tell the study."""
        result = wrapped.result
        rows = self.data.rows
        excluded = [None if p < 0 else int(rows[p]) for p in batch.excluded]
        draws = list(
            zip(
                batch.draw.tolist(),
                excluded,
                batch.size.tolist(),
                batch.seed.tolist(),
                strict=True,
            )
        )
        point_rows = rows[result.point]
        observations = list(
            zip(
                result.draw.tolist(),
                point_rows.tolist(),
                result.size.tolist(),
                result.delta.tolist(),
                result.loss_without.tolist(),
                result.loss_with.tolist(),
                strict=True,
            )
        )
        failures = list(
            zip(
                result.failed_draw.tolist(),
                rows[result.failed_point].tolist(),
                result.failed_size.tolist(),
                result.failed_reason,
                strict=True,
            )
        )
        added, added_failures = self.store.append(draws, observations, failures)
        self.source.committed(batch.draw)

        self.n_observations += added
        self.n_failures += added_failures
        self.reasons.update(result.failed_reason)
        committed = {
            "draw": result.draw,
            "point": point_rows,
            "size": result.size,
            "delta": result.delta,
            "loss_without": result.loss_without,
        }
        self.on_batch(committed, added_failures)

    def _check_all_failed(self) -> None:
        if self.n_observations == 0 and self.n_failures >= _ALL_FAILED_AFTER:
            common = "; ".join(
                f"{reason} ({count}x)" for reason, count in self.reasons.most_common(3)
            )
            raise AllFitsFailedError(
                f"all of the first {self.n_failures} fits failed, so the "
                f"run stopped. Most common reasons: {common}. See "
                f"Study.failures() for all of them"
            )


class _Result:
    """A batch result plus how many requests it settled."""

    def __init__(self, result: BatchResult) -> None:
        self.result = result
        self.n_requests_done = result.n_observations + result.n_failures
        self.seconds = result.seconds
