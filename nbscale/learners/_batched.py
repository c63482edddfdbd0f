"""What every batched engine shares: subsets, blocks, scoring, fallbacks.

An engine subclass supplies three things: the arrays it prepares once per
dataset, a solver that turns a block of draws into validation *scores*
(logits or predictions) for the fit on each ``D`` and on each ``D`` plus a
requested point, and a scikit-learn estimator with the same definition.
Everything else lives here: regenerating subsets, routing draws the engine
does not cover to that estimator, turning scores into losses with the
study's metric, and assembling the :class:`~nbscale.learners.BatchResult`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nbscale.data import Dataset, draw_subset
from nbscale.learners._backend import Backend, check_device, single_threaded
from nbscale.learners.base import BatchResult
from nbscale.metrics import Metric, error_rate, log_loss, squared_error
from nbscale.sampling import DrawBatch

__all__ = ["BatchedLearner", "BlockArrays", "BlockScores", "DrawWork", "gather_block"]

logger = logging.getLogger(__name__)

_EPS = float(np.finfo(np.float64).eps)


@dataclass
class DrawWork:
    """One draw of a batch, ready for an engine.

    Attributes
    ----------
    position : int
        The draw's position in its :class:`~nbscale.sampling.DrawBatch`.
    subset : ndarray of int64, shape (size,)
        Pool positions of ``D``.
    points : ndarray of int64, shape (n_requests,)
        Pool positions of the points to add to ``D``, one fit each.
    """

    position: int
    subset: np.ndarray
    points: np.ndarray


@dataclass
class BlockScores:
    """Validation scores of a block of draws, as float64 numpy arrays.

    Attributes
    ----------
    without : list of ndarray or None
        Per draw, the scores of the fit on ``D``, shape ``(n_val,)`` or
        ``(n_val, n_classes)``; None when that fit failed.
    with_points : list of ndarray
        Per draw, the scores of the fits on ``D`` plus each point, shape
        ``(n_requests, n_val)`` or ``(n_requests, n_val, n_classes)``.
    ok : list of ndarray of bool
        Per draw, shape ``(n_requests,)``: whether each with-point fit
        converged. The others are refitted by scikit-learn.
    """

    without: list[np.ndarray | None]
    with_points: list[np.ndarray]
    ok: list[np.ndarray]


@dataclass
class BlockArrays:
    """The rows of a block of draws, padded to common sizes.

    Attributes
    ----------
    X : array of shape (n_draws, n_rows, n_columns)
        Rows of each ``D``; padding rows are zero.
    y : array of shape (n_draws, n_rows)
        Their targets (class codes as floats for classifiers).
    mask : array of shape (n_draws, n_rows)
        1.0 for real rows, 0.0 for padding.
    n : array of shape (n_draws,)
        ``|D|``.
    Z : array of shape (n_draws, n_points, n_columns)
        Rows of the requested points, zero-padded.
    z_target : array of shape (n_draws, n_points)
    z_mask : array of shape (n_draws, n_points)
    """

    X: Any
    y: Any
    mask: Any
    n: Any
    Z: Any
    z_target: Any
    z_mask: Any


def gather_block(
    backend: Backend, X: Any, y: Any, block: list[DrawWork]
) -> BlockArrays:
    """Gather and pad the rows of a block of draws.

    With numpy a block holds one draw and nothing is padded.

    Examples
    --------
    >>> import numpy as np
    >>> backend = Backend(None)
    >>> X, y = np.arange(12.0).reshape(6, 2), np.arange(6.0)
    >>> work = DrawWork(0, np.array([0, 2, 4]), np.array([5]))
    >>> arrays = gather_block(backend, X, y, [work])
    >>> arrays.X.shape, arrays.Z.shape
    ((1, 3, 2), (1, 1, 2))
    """
    if len(block) == 1:
        work = block[0]
        rows, points = backend.index(work.subset), backend.index(work.points)
        n_rows, n_points = len(work.subset), len(work.points)
        return BlockArrays(
            X=X[rows][None],
            y=y[rows][None],
            mask=backend.asarray(np.ones((1, n_rows))),
            n=backend.asarray([float(n_rows)]),
            Z=X[points][None],
            z_target=y[points][None],
            z_mask=backend.asarray(np.ones((1, n_points))),
        )

    # Pad rows by repeating each draw's first row, masked out.
    n_rows = max(len(work.subset) for work in block)
    n_points = max(len(work.points) for work in block)
    rows = np.stack([_padded(work.subset, n_rows) for work in block])
    points = np.stack([_padded(work.points, n_points) for work in block])
    mask = np.stack([np.arange(n_rows) < len(work.subset) for work in block])
    z_mask = np.stack([np.arange(n_points) < len(work.points) for work in block])
    mask_b, z_mask_b = backend.asarray(mask), backend.asarray(z_mask)
    rows_b, points_b = backend.index(rows), backend.index(points)
    return BlockArrays(
        X=X[rows_b] * mask_b[..., None],
        y=y[rows_b] * mask_b,
        mask=mask_b,
        n=backend.asarray(mask.sum(axis=1).astype(np.float64)),
        Z=X[points_b] * z_mask_b[..., None],
        z_target=y[points_b] * z_mask_b,
        z_mask=z_mask_b,
    )


def _padded(positions: np.ndarray, length: int) -> np.ndarray:
    out = np.full(length, positions[0], dtype=np.int64)
    out[: len(positions)] = positions
    return out


class BatchedLearner:
    """Base class of the engines that fit many subsets at once.

    Subclasses set :attr:`kind` and implement ``_prepare``, ``_solve`` and
    ``_reference_estimator``.

    Parameters
    ----------
    device : None or str
        None runs numpy on the CPU; a torch device name (``"cpu"``,
        ``"cuda"``) runs torch there. See :func:`check_device`.
    """

    def __init__(self, device: Any = None) -> None:
        self.device = check_device(device)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self.n_fallback_fits_ = 0

    # Learners travel to worker processes: send settings, not caches.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_lock"] = None
        state["_cache"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({options})"

    def _options(self) -> dict[str, Any]:
        return {"device": self.device}

    # ------------------------------------------------------------ subclasses
    def _prepare(self, data: Dataset, backend: Backend) -> dict[str, Any]:
        """Arrays computed once per dataset (design matrices, targets)."""
        raise NotImplementedError

    def _solve(
        self, prepared: dict[str, Any], backend: Backend, block: list[DrawWork]
    ) -> BlockScores:
        """Fit every draw of the block and every requested point."""
        raise NotImplementedError

    def _reference_estimator(self, data: Dataset) -> Any:
        """A scikit-learn estimator with the engine's exact definition."""
        raise NotImplementedError

    def _new_backend(self) -> Backend:
        return Backend(self.device)

    def _covers(self, data: Dataset, subset: np.ndarray) -> bool:
        """Whether the engine fits this subset exactly (else scikit-learn)."""
        return True

    # ------------------------------------------------------------- evaluate
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
        with single_threaded(self._new_backend().device):
            result = self._evaluate(data, batch, metric)
        result.seconds = time.perf_counter() - started
        return result

    def _evaluate(self, data: Dataset, batch: DrawBatch, metric: Metric) -> BatchResult:
        backend, prepared = self._prepared(data)

        # Regenerate every D; draws the engine does not cover go elsewhere.
        works: list[DrawWork] = []
        fallback: list[tuple[int, np.ndarray]] = []
        for position in range(batch.n_draws):
            excluded = int(batch.excluded[position])
            subset = draw_subset(
                data,
                None if excluded < 0 else excluded,
                int(batch.size[position]),
                int(batch.seed[position]),
            )
            points = batch.request_point[batch.request_draw == position]
            if len(points) == 0:
                continue
            if self._covers(data, subset):
                works.append(DrawWork(position, subset, points))
            else:
                fallback.append((position, points))

        # Solve blocks of similar sizes; score every fit on validation.
        parts: list[BatchResult] = []
        for block in _blocks(works, backend):
            scores = self._solve(prepared, backend, block)
            parts.append(self._score(data, batch, metric, block, scores, fallback))

        if fallback:
            parts.append(self._refit_with_sklearn(data, batch, metric, fallback))
        return _concatenate(parts)

    def _prepared(self, data: Dataset) -> tuple[Backend, dict[str, Any]]:
        """The backend and the per-dataset arrays, computed once."""
        with self._lock:
            if self._cache.get("data") is not data:
                backend = self._new_backend()
                self._cache = {
                    "data": data,
                    "backend": backend,
                    "prepared": self._prepare(data, backend),
                }
            return self._cache["backend"], self._cache["prepared"]

    def _score(
        self,
        data: Dataset,
        batch: DrawBatch,
        metric: Metric,
        block: list[DrawWork],
        scores: BlockScores,
        fallback: list[tuple[int, np.ndarray]],
    ) -> BatchResult:
        """Losses and deltas of one solved block; failures go to fallback."""
        rows: list[tuple[np.ndarray, ...]] = []
        for i, work in enumerate(block):
            without = scores.without[i]
            ok = scores.ok[i]
            if without is None:
                fallback.append((work.position, work.points))
                continue
            if not ok.all():
                fallback.append((work.position, work.points[~ok]))
            if not ok.any():
                continue
            loss_without = self._losses(data, metric, without[None])[0]
            loss_with = self._losses(data, metric, scores.with_points[i][ok])
            n = int(ok.sum())
            rows.append(
                (
                    np.full(n, batch.draw[work.position], dtype=np.int64),
                    work.points[ok].astype(np.int64),
                    np.full(n, batch.size[work.position], dtype=np.int64),
                    np.full(n, loss_without),
                    loss_with,
                )
            )
        return _rows_to_result(rows)

    # --------------------------------------------------------------- losses
    def _losses(self, data: Dataset, metric: Metric, scores: np.ndarray) -> np.ndarray:
        """Validation loss of each fit, from its scores.

        ``scores`` has shape ``(n_fits, n_val)`` (binary logits or
        regression predictions) or ``(n_fits, n_val, n_classes)``.
        """
        y = data.y_val
        multiclass = scores.ndim == 3
        if data.is_classifier and metric.function is log_loss:
            picked = _true_class_proba(scores, y, multiclass)
            clipped = np.clip(picked, _EPS, 1.0 - _EPS)
            return np.asarray(-np.mean(np.log(clipped), axis=1))
        if not data.is_classifier and metric.function is squared_error:
            return np.asarray(np.mean((y[None, :] - scores) ** 2, axis=1))

        predictions = _predictions(scores, data.is_classifier, multiclass)
        if metric.function is error_rate:
            return np.asarray(np.mean(predictions != y[None, :], axis=1))
        if metric.needs_proba:
            proba = _probabilities(scores, multiclass)
            return np.array([metric.function(y, p) for p in proba], dtype=np.float64)
        return np.array([metric.function(y, p) for p in predictions], dtype=np.float64)

    # ------------------------------------------------------------- fallback
    def _refit_with_sklearn(
        self,
        data: Dataset,
        batch: DrawBatch,
        metric: Metric,
        fallback: list[tuple[int, np.ndarray]],
    ) -> BatchResult:
        """Evaluate uncovered draws and unconverged fits with scikit-learn."""
        from nbscale.learners.sklearn import SklearnLearner

        positions = np.array([p for p, _ in fallback], dtype=np.int64)
        counts = np.array([len(points) for _, points in fallback], dtype=np.int64)
        sub = DrawBatch(
            draw=batch.draw[positions],
            size=batch.size[positions],
            seed=batch.seed[positions],
            excluded=batch.excluded[positions],
            request_draw=np.repeat(np.arange(len(positions)), counts),
            request_point=np.concatenate([points for _, points in fallback]),
        )
        self.n_fallback_fits_ += int(counts.sum())
        logger.debug("%d requests refitted by scikit-learn", int(counts.sum()))
        reference = SklearnLearner(self._reference_estimator(data))
        return reference.evaluate(data, sub, metric)


def _blocks(works: list[DrawWork], backend: Backend) -> list[list[DrawWork]]:
    """Draws grouped by size, each group within the backend's row budget.

    Small subsets are many to a block (per-call overhead dominates them);
    large ones one to a block (arithmetic does, and padding would waste it).
    """
    blocks: list[list[DrawWork]] = []
    current: list[DrawWork] = []
    for work in sorted(works, key=lambda w: (len(w.subset), w.position)):
        rows = len(work.subset) * (len(current) + 1)
        if current and (
            rows > backend.block_rows or len(current) >= backend.block_size
        ):
            blocks.append(current)
            current = []
        current.append(work)
    if current:
        blocks.append(current)
    return blocks


def _true_class_proba(
    scores: np.ndarray, y: np.ndarray, multiclass: bool
) -> np.ndarray:
    """Probability of each validation row's true class, as scikit-learn has it."""
    from scipy.special import expit

    if not multiclass:
        positive = expit(scores)
        return np.where(y[None, :] == 1, positive, 1.0 - positive)
    proba = _softmax(scores)
    return np.take_along_axis(proba, y[None, :, None], axis=2)[..., 0]


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True))


def _probabilities(scores: np.ndarray, multiclass: bool) -> np.ndarray:
    """Class-probability matrices, shape (n_fits, n_val, n_classes)."""
    from scipy.special import expit

    if multiclass:
        return _softmax(scores)
    positive = expit(scores)
    return np.stack([1.0 - positive, positive], axis=-1)


def _predictions(
    scores: np.ndarray, is_classifier: bool, multiclass: bool
) -> np.ndarray:
    """What ``predict`` returns: class codes, or the regression values."""
    if not is_classifier:
        return scores
    if multiclass:
        return np.argmax(scores, axis=-1)
    return (scores > 0).astype(np.int64)


def _rows_to_result(rows: list[tuple[np.ndarray, ...]]) -> BatchResult:
    result = BatchResult.empty()
    if not rows:
        return result
    draw, point, size, without, with_point = (
        np.concatenate(c) for c in zip(*rows, strict=True)
    )
    result.draw, result.point, result.size = draw, point, size
    result.loss_without = without.astype(np.float64)
    result.loss_with = with_point.astype(np.float64)
    result.delta = result.loss_without - result.loss_with

    # A loss that is not finite is a failure, as in the scikit-learn learner.
    bad = ~(np.isfinite(result.loss_without) & np.isfinite(result.loss_with))
    if bad.any():
        result.failed_draw = draw[bad]
        result.failed_point = point[bad]
        result.failed_size = size[bad]
        result.failed_reason = [
            f"the validation loss is {w!r} without and {v!r} with the point"
            for w, v in zip(
                result.loss_without[bad], result.loss_with[bad], strict=True
            )
        ]
        keep = ~bad
        for name in ("draw", "point", "size", "delta", "loss_without", "loss_with"):
            setattr(result, name, getattr(result, name)[keep])
    return result


def _concatenate(parts: list[BatchResult]) -> BatchResult:
    """One result from several, observations and failures in order."""
    result = BatchResult.empty()
    if not parts:
        return result
    for name in (
        "draw",
        "point",
        "size",
        "delta",
        "loss_without",
        "loss_with",
        "failed_draw",
        "failed_point",
        "failed_size",
    ):
        setattr(result, name, np.concatenate([getattr(p, name) for p in parts]))
    result.failed_reason = [r for p in parts for r in p.failed_reason]
    return result
