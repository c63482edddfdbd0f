"""The scikit-learn learner: two fits per observation, any estimator.

This is the reference engine. It clones the user's estimator for every fit,
so it works for anything with ``fit`` and ``predict``; it is also the
slowest, since the paired design costs two full trainings per observation.
"""

from __future__ import annotations

import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from nbscale.data import Dataset, draw_subset
from nbscale.learners.base import BatchResult, build_model
from nbscale.metrics import Metric
from nbscale.sampling import DrawBatch

__all__ = ["SklearnLearner"]

_REASON_LIMIT = 200


class FitFailure(Exception):
    """A fit that could not produce a usable validation loss."""


class SklearnLearner:
    """Evaluate draws by fitting clones of a scikit-learn estimator.

    Parameters
    ----------
    model : str or estimator
        A built-in name or an estimator, as accepted by
        :class:`nbscale.Study`.
    fit_timeout : float, optional
        Seconds one fit may take before it is abandoned and recorded as a
        failure ("fit exceeded the time limit").
    random_state : int, optional
        The seed of the built-in ``"mlp"`` (see
        :func:`~nbscale.learners.build_model`); other models ignore it.

    Notes
    -----
    The time limit uses a POSIX interval timer, so it is enforced where the
    fit runs on a process's main thread: in the default worker processes.
    Under ``executor="threads"``, ``"inline"`` or dask (whose tasks run on
    worker threads) it is not enforced.

    When the estimator has a ``random_state`` parameter left at None, both
    fits of an observation get the same seed, derived from the draw: the
    with- and without-point models then share their randomness (common
    random numbers), and every observation is reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from nbscale.data import check_dataset
    >>> from nbscale.metrics import check_metric
    >>> from nbscale.sampling import DrawBatch
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> data = check_dataset(X, y, random_state=0)
    >>> one = np.ones(1, dtype=int)
    >>> batch = DrawBatch.paired(one * 0, one * 50, one * 123, one * 7)
    >>> metric = check_metric(None, is_classifier=True)
    >>> result = SklearnLearner("logistic").evaluate(data, batch, metric)
    >>> result.n_observations + result.n_failures
    1
    """

    def __init__(
        self,
        model: Any,
        fit_timeout: float | None = None,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.fit_timeout = fit_timeout
        self.random_state = random_state

    def evaluate(self, data: Dataset, batch: DrawBatch, metric: Metric) -> BatchResult:
        """Fit, score and difference every request of ``batch``.

        Parameters
        ----------
        data : Dataset
        batch : DrawBatch
        metric : Metric

        Returns
        -------
        BatchResult
        """
        started = time.perf_counter()
        rows: list[tuple[int, int, int, float, float, float]] = []
        failed: list[tuple[int, int, int, str]] = []

        for position in range(batch.n_draws):
            draw = int(batch.draw[position])
            size = int(batch.size[position])
            excluded = int(batch.excluded[position])
            subset = draw_subset(
                data,
                None if excluded < 0 else excluded,
                size,
                int(batch.seed[position]),
            )
            points = batch.request_point[batch.request_draw == position]
            seed = int(batch.seed[position] % (2**31 - 1))

            # The baseline fit on D serves every point requested on this draw.
            try:
                without = self._loss(data, subset, metric, seed)
            except Exception as err:
                reason = _describe(err)
                failed.extend((draw, int(p), size, reason) for p in points)
                continue

            for point in points:
                try:
                    with_point = np.append(subset, point)
                    loss_with = self._loss(data, with_point, metric, seed)
                except Exception as err:
                    failed.append((draw, int(point), size, _describe(err)))
                    continue
                rows.append(
                    (draw, int(point), size, without - loss_with, without, loss_with)
                )

        return _assemble(rows, failed, time.perf_counter() - started)

    def _loss(
        self, data: Dataset, subset: np.ndarray, metric: Metric, seed: int
    ) -> float:
        """Train a fresh model on ``subset`` and score it on validation."""
        y = data.y_train[subset]
        if data.is_classifier and len(np.unique(y)) < 2:
            raise FitFailure("the subset holds a single class")

        estimator = build_model(
            self.model, is_classifier=data.is_classifier, random_state=self.random_state
        )
        params = estimator.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            estimator.set_params(random_state=seed)
        with _quiet(), _time_limit(self.fit_timeout):
            estimator.fit(data.X_train[subset], y)
            prediction = _predict(estimator, data, metric)

        loss = float(metric.function(data.y_val, prediction))
        if not np.isfinite(loss):
            raise FitFailure(f"the validation loss is {loss!r}")
        return loss


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence per-fit warnings (convergence chatter) where that is safe.

    ``warnings.catch_warnings`` swaps process-wide state, so entering it
    from several threads at once can leave filters changed for everyone.
    Fits on a process's main thread (worker processes) are silenced; on
    other threads the interpreter's default once-per-location display
    applies instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise FitFailure in the main thread after ``seconds``; else no limit."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise FitFailure(f"fit exceeded the time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _predict(estimator: Any, data: Dataset, metric: Metric) -> np.ndarray:
    """Predictions on the validation split, probabilities aligned to classes."""
    if not metric.needs_proba:
        prediction = np.asarray(estimator.predict(data.X_val))
        if prediction.dtype.kind == "f" and not np.isfinite(prediction).all():
            raise FitFailure("the model predicted NaN or inf")
        return prediction
    if not hasattr(estimator, "predict_proba"):
        raise FitFailure(
            f"{type(estimator).__name__} has no predict_proba, which log loss "
            f"needs; pass metric='accuracy' or a callable"
        )
    proba = np.asarray(estimator.predict_proba(data.X_val), dtype=np.float64)
    if not np.isfinite(proba).all():
        raise FitFailure("the model predicted NaN or inf probabilities")
    aligned = np.zeros((data.n_val, data.n_classes))
    columns = np.asarray(getattr(estimator, "classes_", np.arange(proba.shape[1])))
    aligned[:, columns.astype(np.int64)] = proba
    return aligned


def _describe(err: BaseException) -> str:
    """A short, single-line failure reason."""
    text = " ".join(str(err).split()) or "no message"
    if isinstance(err, FitFailure):
        return text[:_REASON_LIMIT]
    return f"{type(err).__name__}: {text}"[:_REASON_LIMIT]


def _assemble(
    rows: list[tuple[int, int, int, float, float, float]],
    failed: list[tuple[int, int, int, str]],
    seconds: float,
) -> BatchResult:
    """Pack per-request tuples into a :class:`BatchResult`."""
    result = BatchResult.empty()
    if rows:
        draw, point, size, delta, without, with_point = map(
            np.array, zip(*rows, strict=True)
        )
        result.draw = draw.astype(np.int64)
        result.point = point.astype(np.int64)
        result.size = size.astype(np.int64)
        result.delta = delta.astype(np.float64)
        result.loss_without = without.astype(np.float64)
        result.loss_with = with_point.astype(np.float64)
    if failed:
        draw, point, size, reason = zip(*failed, strict=True)
        result.failed_draw = np.array(draw, dtype=np.int64)
        result.failed_point = np.array(point, dtype=np.int64)
        result.failed_size = np.array(size, dtype=np.int64)
        result.failed_reason = list(reason)
    result.seconds = seconds
    return result
