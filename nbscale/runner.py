"""Execution: task executors and the driver thread that feeds them.

The driver hands batches of draws to a :class:`TaskExecutor` and consumes
results as they finish, writing each batch to the store in one
transaction and then telling listeners. It is the only writer of the
store. An executor needs three operations (``submit``, ``wait_any`` and
``shutdown``), so local processes, threads, an inline executor for
debugging, and a ``dask.distributed`` client all plug in the same way.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from nbscale.data import Dataset
from nbscale.learners.base import BatchResult, Learner
from nbscale.metrics import Metric
from nbscale.sampling import DrawBatch

__all__ = [
    "EvaluationContext",
    "InlineExecutor",
    "ProcessExecutor",
    "TaskExecutor",
    "ThreadExecutor",
    "check_executor",
    "evaluate_batch",
    "import_background_dependencies",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationContext:
    """Everything a worker needs besides the batch: shipped once per worker.

    Examples
    --------
    >>> EvaluationContext.__dataclass_fields__.keys()
    dict_keys(['data', 'learner', 'metric'])
    """

    data: Dataset
    learner: Learner
    metric: Metric


def evaluate_batch(context: EvaluationContext, batch: DrawBatch) -> BatchResult:
    """Evaluate one batch in whatever process holds ``context``.

    Examples
    --------
    >>> callable(evaluate_batch)
    True
    """
    return context.learner.evaluate(context.data, batch, context.metric)


@runtime_checkable
class TaskExecutor(Protocol):
    """What the driver needs from an executor.

    ``submit`` returns a future-like object with ``result()``; ``wait_any``
    returns the subset of ``futures`` that finished within ``timeout``
    seconds (possibly empty); ``shutdown`` releases workers, cancelling
    queued work when ``cancel`` is true.

    Examples
    --------
    >>> isinstance(InlineExecutor(), TaskExecutor)
    True
    """

    n_workers: int

    def submit(self, batch: DrawBatch) -> Any: ...

    def wait_any(self, futures: Iterable[Any], timeout: float) -> set[Any]: ...

    def shutdown(self, cancel: bool) -> None: ...


class _FuturesExecutor:
    """Shared behaviour of the concurrent.futures based executors."""

    pool: cf.Executor
    n_workers: int

    def wait_any(self, futures: Iterable[Any], timeout: float) -> set[Any]:
        done, _ = cf.wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        return set(done)

    def shutdown(self, cancel: bool) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class ThreadExecutor(_FuturesExecutor):
    """Threads in this process; best for models that release the GIL.

    Examples
    --------
    >>> ThreadExecutor(None, n_workers=2).n_workers
    2
    """

    def __init__(self, context: EvaluationContext | None, n_workers: int) -> None:
        self.context = context
        self.n_workers = n_workers
        self.pool = cf.ThreadPoolExecutor(n_workers, thread_name_prefix="nbscale")

    def submit(self, batch: DrawBatch) -> cf.Future[BatchResult]:
        context: Any = self.context  # checked when the executor was built
        return self.pool.submit(evaluate_batch, context, batch)


_WORKER_CONTEXT: EvaluationContext | None = None


def _initialise_worker(context: EvaluationContext) -> None:
    """Keep the context in a worker process, and pin BLAS to one thread."""
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with sklearn
        pass


def _evaluate_in_worker(batch: DrawBatch) -> BatchResult:
    assert _WORKER_CONTEXT is not None, "worker started without a context"
    return evaluate_batch(_WORKER_CONTEXT, batch)


class ProcessExecutor(_FuturesExecutor):
    """Worker processes on this machine; the context is sent once to each.

    Workers come from joblib's loky backend: they start fresh interpreters
    that never re-run the user's script or notebook, and they can receive
    estimator classes defined in a notebook (by value, with cloudpickle).

    Examples
    --------
    >>> ProcessExecutor.__name__
    'ProcessExecutor'
    """

    def __init__(self, context: EvaluationContext, n_workers: int) -> None:
        from joblib.externals.loky.process_executor import ProcessPoolExecutor

        self.n_workers = n_workers
        self.pool = ProcessPoolExecutor(
            n_workers, initializer=_initialise_worker, initargs=(context,)
        )

    def submit(self, batch: DrawBatch) -> cf.Future[BatchResult]:
        return self.pool.submit(_evaluate_in_worker, batch)

    def shutdown(self, cancel: bool) -> None:
        # Running batches are abandoned, not awaited, so stop() stays quick.
        self.pool.shutdown(wait=True, kill_workers=cancel)  # type: ignore[call-arg]


class InlineExecutor:
    """Run each batch at once in the driver thread; for debugging and tests.

    Examples
    --------
    >>> InlineExecutor().n_workers
    1
    """

    n_workers = 1

    def __init__(self, context: EvaluationContext | None = None) -> None:
        self.context = context

    def submit(self, batch: DrawBatch) -> cf.Future[BatchResult]:
        future: cf.Future[BatchResult] = cf.Future()
        try:
            context: Any = self.context
            future.set_result(evaluate_batch(context, batch))
        except BaseException as err:
            future.set_exception(err)
        return future

    def wait_any(self, futures: Iterable[Any], timeout: float) -> set[Any]:
        return {f for f in futures if f.done()}

    def shutdown(self, cancel: bool) -> None:
        return None


ExecutorFactory = Callable[[EvaluationContext], TaskExecutor]


def check_executor(executor: Any) -> ExecutorFactory:
    """Resolve the ``executor`` argument of :meth:`nbscale.Study.start`.

    Parameters
    ----------
    executor : None, str, int, dask Client or TaskExecutor factory
        None uses local processes on every core. ``"processes"``,
        ``"threads"`` and ``"inline"`` choose explicitly; an int chooses
        processes with that many workers. A ``dask.distributed.Client``
        runs on its cluster.

    Returns
    -------
    callable
        Builds the executor from the evaluation context.

    Raises
    ------
    ValueError, TypeError
        Naming ``executor``.

    Examples
    --------
    >>> factory = check_executor("inline")
    >>> type(factory(None)).__name__
    'InlineExecutor'
    """
    n_cores = max(1, os.cpu_count() or 1)
    if _is_dask_client(executor):
        from nbscale.distributed import DaskExecutor

        return lambda context: DaskExecutor(executor, context)
    if isinstance(executor, bool):
        raise TypeError(
            f"executor: expected a name, a worker count or a client, got {executor!r}"
        )
    if isinstance(executor, int):
        if executor < 1:
            raise ValueError(f"executor: expected at least 1 worker, got {executor!r}")
        return lambda context: ProcessExecutor(context, executor)
    if executor is None:
        executor = "processes"
    if executor == "processes":
        return lambda context: ProcessExecutor(context, n_cores)
    if executor == "threads":
        return lambda context: ThreadExecutor(context, n_cores)
    if executor == "inline":
        return lambda context: InlineExecutor(context)
    raise ValueError(
        f"executor: expected None, 'processes', 'threads', 'inline', a worker "
        f"count or a dask.distributed.Client, got {executor!r}"
    )


def _is_dask_client(executor: Any) -> bool:
    cls = type(executor)
    return cls.__name__ == "Client" and cls.__module__.startswith("distributed")


class StopFlag:
    """A thread-safe stop / pause switch shared with the driver.

    Examples
    --------
    >>> flag = StopFlag()
    >>> flag.stop()
    >>> flag.stopped
    True
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()


# Modules the driver thread imports lazily (executors, learners). They are
# imported in the caller's thread before the driver starts: a background
# import racing the user's next `import` of a package that shares
# dependencies can trip Python's import-lock deadlock detection.
_BACKGROUND_IMPORTS = (
    "joblib.externals.loky.process_executor",
    *(
        f"joblib.externals.loky.backend.{name}"  # some fail off their platform
        for name in (
            "fork_exec",
            "popen_loky_posix",
            "queues",
            "reduction",
            "resource_tracker",
            "spawn",
            "synchronize",
            "utils",
        )
    ),
    "threadpoolctl",
    "scipy.linalg",
    "scipy.linalg.lapack",
    "scipy.special",
    "sklearn.base",
    "sklearn.linear_model",
    "nbscale.learners.sklearn",
)


def import_background_dependencies() -> None:
    """Import, in the calling thread, what the driver thread will need.

    Called by ``Study.start`` before the driver starts.

    Examples
    --------
    >>> from nbscale.runner import import_background_dependencies
    >>> import_background_dependencies()
    >>> import sys; "sklearn.linear_model" in sys.modules
    True
    """
    import importlib

    for name in _BACKGROUND_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - all ship with scikit-learn
            logger.debug("could not import %s ahead of the driver", name)
