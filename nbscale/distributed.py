"""Scale-out on ``dask.distributed``: the same study, on a cluster.

``Study.start(executor=client)`` with a :class:`distributed.Client` runs
every batch as a dask task. What crosses the wire:

- once per run, the evaluation context (the training pool, the validation
  split, the learner and the metric), scattered to every worker;
- per task, a :class:`~nbscale.sampling.DrawBatch` (a few integer arrays:
  draw ids, sizes, seeds, points) one way, and a
  :class:`~nbscale.learners.BatchResult` (the deltas and losses) back.

The driver still runs in the kernel and is still the only writer of the
store. Results stream back as tasks finish (``distributed.as_completed``).
A task lost with its worker is rerun by the scheduler; because draws are
keyed by id, a rerun can never add an observation twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from nbscale.runner import EvaluationContext, evaluate_batch
from nbscale.sampling import DrawBatch

__all__ = ["DaskExecutor", "import_distributed"]

_POLL_SECONDS = 0.02


def import_distributed() -> Any:
    """Import ``distributed`` or explain which extra installs it.

    Examples
    --------
    >>> import_distributed().__name__
    'distributed'
    """
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "nbscale's dask executor needs dask.distributed: "
            "pip install 'nbscale[distributed]'"
        ) from err
    return distributed


class DaskExecutor:
    """Run batches as tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client
        A connected client; its workers must have nbscale installed.
    context : EvaluationContext
        Scattered to every worker once, here.
    retries : int, default=3
        Reruns of a task whose worker died or which raised unexpectedly.

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> import nbscale
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=2, points=[0, 1],
    ...                       store=":memory:", random_state=0)
    >>> with LocalCluster(n_workers=1, processes=False,
    ...                   dashboard_address=None) as cluster, Client(cluster) as client:
    ...     study.run(progress=False, executor=client).n_observations
    4
    """

    def __init__(
        self, client: Any, context: EvaluationContext, retries: int = 3
    ) -> None:
        distributed = import_distributed()
        self.client = client
        self.retries = retries
        self.n_workers = max(1, sum(client.nthreads().values()))
        self._context = client.scatter(context, broadcast=True, hash=False)
        self._completed = distributed.as_completed()

    def submit(self, batch: DrawBatch) -> Any:
        future = self.client.submit(
            evaluate_batch,
            self._context,
            batch,
            pure=False,
            retries=self.retries,
        )
        self._completed.add(future)
        return future

    def wait_any(self, futures: Iterable[Any], timeout: float) -> set[Any]:
        """Futures finished so far, waiting up to ``timeout`` for the first."""
        wanted = set(futures)
        deadline = time.monotonic() + timeout
        while True:
            if self._completed.has_ready():
                finished = set(self._completed.next_batch(block=False))
                return finished & wanted
            if time.monotonic() >= deadline:
                return set()
            time.sleep(_POLL_SECONDS)

    def shutdown(self, cancel: bool) -> None:
        if cancel:
            pending = [f for f in self._completed.futures if not f.done()]
            if pending:
                self.client.cancel(pending)
        self._completed.clear()
        self._context.release()
