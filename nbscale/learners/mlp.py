"""The batched MLP engine: one hidden layer, many networks trained at once.

The fit on a draw's ``D`` and the fits on ``D`` plus each requested point
are independent networks with the same architecture, the same starting
weights (fixed per study, as in the paper) and the same number of
full-batch Adam steps. They are stacked along a leading axis and trained
together: every product is one batched matrix multiplication, and because
Adam's update is elementwise, stacking changes nothing about any single
network's trajectory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nbscale.data import Dataset
from nbscale.learners._backend import Backend, import_torch
from nbscale.learners._batched import BatchedLearner, BlockScores, DrawWork

__all__ = ["MLPLearner"]

_MAX_FITS_PER_CHUNK = 256


class MLPLearner(BatchedLearner):
    """A one-hidden-layer ReLU network, trained on many subsets at once.

    Parameters
    ----------
    hidden : int, default=32
        Hidden units (the paper's MLP has 32).
    alpha : float, default=1e-4
        L2 penalty on the weights, scaled as in scikit-learn:
        ``alpha / 2 * ||W||^2 / n_rows`` next to the mean loss.
    learning_rate : float, default=0.001
        Adam's step size.
    max_iter : int, default=200
        Full-batch Adam steps per fit (no early stopping, so every fit of
        a study does the same amount of work).
    random_state : int, default=0
        Seed of the starting weights, shared by every fit.
    device : None or str, optional
        A torch device; None means ``"cpu"``.
    dtype : {"float64", "float32"}, default="float64"

    Notes
    -----
    The loss is the mean log loss (binary: one sigmoid output; more
    classes: softmax) or half the mean squared error for regression.
    Starting weights follow scikit-learn's Glorot-uniform rule. This is
    not ``MLPClassifier``: that trains in mini-batches with early stopping
    on the loss, and is what ``engine="sklearn"`` uses for ``"mlp"``.
    Non-convex training has no unique optimum, so this engine offers
    reproducibility (fixed starts, deterministic steps) rather than an
    exactness contract.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from nbscale.data import check_dataset
    >>> from nbscale.metrics import check_metric
    >>> from nbscale.sampling import DrawBatch
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> data = check_dataset((X - X.mean(0)) / X.std(0), y, random_state=0)
    >>> one = np.ones(1, dtype=int)
    >>> batch = DrawBatch.paired(one * 0, one * 60, one * 5, one * 3)
    >>> metric = check_metric(None, is_classifier=True)
    >>> learner = MLPLearner(max_iter=20, random_state=0)
    >>> learner.evaluate(data, batch, metric).n_observations
    1
    """

    def __init__(
        self,
        hidden: int = 32,
        *,
        alpha: float = 1e-4,
        learning_rate: float = 0.001,
        max_iter: int = 200,
        random_state: int = 0,
        device: Any = None,
        dtype: str = "float64",
    ) -> None:
        for name, value in (("hidden", hidden), ("max_iter", max_iter)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtype: expected 'float64' or 'float32', got {dtype!r}")
        super().__init__(device)
        self.hidden = hidden
        self.alpha = float(alpha)
        self.learning_rate = float(learning_rate)
        self.max_iter = max_iter
        self.random_state = int(random_state)
        self.dtype = dtype

    def _options(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
            "device": self.device,
        }

    def _new_backend(self) -> Backend:
        backend = Backend(self.device or "cpu", dtype=self.dtype)
        backend.block_size = 1  # each draw's networks are one stacked batch
        return backend

    def _reference_estimator(self, data: Dataset) -> Any:
        from nbscale.learners.base import build_model

        return build_model(
            "mlp", is_classifier=data.is_classifier, random_state=self.random_state
        )

    def _covers(self, data: Dataset, subset: np.ndarray) -> bool:
        if not data.is_classifier:
            return True
        counts = np.bincount(data.y_train[subset], minlength=data.n_classes)
        return bool((counts > 0).all())

    # ------------------------------------------------------------- prepare
    def _prepare(self, data: Dataset, backend: Backend) -> dict[str, Any]:
        torch = import_torch()
        n_features = data.X_train.shape[1]
        n_outputs = data.n_classes if data.n_classes > 2 else 1
        generator = torch.Generator().manual_seed(self.random_state)

        def uniform(
            fan_in: int, fan_out: int, shape: tuple[int, ...], gain: float
        ) -> Any:
            bound = math.sqrt(gain / (fan_in + fan_out))
            values = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
            return backend.asarray(values * bound)

        # scikit-learn's rule: gain 6, or 2 into a logistic output.
        out_gain = 2.0 if data.is_classifier else 6.0
        start = {
            "W1": uniform(n_features, self.hidden, (n_features, self.hidden), 6.0),
            "b1": uniform(n_features, self.hidden, (1, self.hidden), 6.0),
            "W2": uniform(self.hidden, n_outputs, (self.hidden, n_outputs), out_gain),
            "b2": uniform(self.hidden, n_outputs, (1, n_outputs), out_gain),
        }
        y_dtype = torch.int64 if data.n_classes > 2 else None
        return {
            "X": backend.asarray(data.X_train),
            "y": backend.asarray(
                data.y_train.astype(np.float64) if y_dtype is None else data.y_train,
                dtype=y_dtype,
            ),
            "X_val": backend.asarray(data.X_val),
            "start": start,
            "task": "multinomial"
            if n_outputs > 1
            else ("binary" if data.is_classifier else "regression"),
        }

    # --------------------------------------------------------------- solve
    def _solve(
        self, prepared: dict[str, Any], backend: Backend, block: list[DrawWork]
    ) -> BlockScores:
        out = BlockScores([], [], [])
        for work in block:
            # The fit on D is network 0; network j + 1 adds point j.
            scores = []
            for first in range(0, len(work.points), _MAX_FITS_PER_CHUNK):
                points = work.points[first : first + _MAX_FITS_PER_CHUNK]
                part = self._train(prepared, backend, work.subset, points)
                scores.append(part if first == 0 else part[1:])
            stacked = np.concatenate(scores)
            finite = np.isfinite(stacked).reshape(len(stacked), -1).all(axis=1)
            out.without.append(stacked[0] if finite[0] else None)
            out.with_points.append(stacked[1:])
            out.ok.append(finite[1:])
        return out

    def _train(
        self,
        prepared: dict[str, Any],
        backend: Backend,
        subset: np.ndarray,
        points: np.ndarray,
    ) -> np.ndarray:
        """Train the network on D and on D plus each point; validation scores."""
        torch = import_torch()
        X, y = (
            prepared["X"][backend.index(subset)],
            prepared["y"][backend.index(subset)],
        )
        Z, y_z = (
            prepared["X"][backend.index(points)],
            prepared["y"][backend.index(points)],
        )
        n_fits, n_rows = 1 + len(points), len(subset)
        task = prepared["task"]
        params = {
            name: value.expand(n_fits, *value.shape).clone().requires_grad_(True)
            for name, value in prepared["start"].items()
        }
        moments = {
            name: (torch.zeros_like(p), torch.zeros_like(p))
            for name, p in params.items()
        }
        has_point = backend.asarray((np.arange(n_fits) > 0).astype(np.float64))
        n_each = n_rows + has_point

        for step in range(1, self.max_iter + 1):
            # Mean loss of each network on its rows, plus the L2 penalty.
            hidden = torch.relu(X @ params["W1"] + params["b1"])
            output = hidden @ params["W2"] + params["b2"]  # (n_fits, n_rows, out)
            total = _row_losses(torch, task, output, y).sum(dim=1)
            z_hidden = torch.relu(Z[:, None, :] @ params["W1"][1:] + params["b1"][1:])
            z_output = z_hidden @ params["W2"][1:] + params["b2"][1:]
            z_loss = _row_losses(torch, task, z_output, y_z[:, None])[:, 0]
            total = total + torch.cat([z_loss.new_zeros(1), z_loss])
            squares = (params["W1"] ** 2).sum(dim=(1, 2)) + (params["W2"] ** 2).sum(
                dim=(1, 2)
            )
            objective = (total + 0.5 * self.alpha * squares) / n_each
            gradients = torch.autograd.grad(objective.sum(), list(params.values()))

            # Adam, elementwise, so every network evolves on its own.
            with torch.no_grad():
                for (name, value), gradient in zip(
                    params.items(), gradients, strict=True
                ):
                    first, second = moments[name]
                    first.mul_(0.9).add_(gradient, alpha=0.1)
                    second.mul_(0.999).addcmul_(gradient, gradient, value=0.001)
                    corrected = first / (1 - 0.9**step)
                    scale = (second / (1 - 0.999**step)).sqrt_().add_(1e-8)
                    value.sub_(self.learning_rate * corrected / scale)

        with torch.no_grad():
            hidden = torch.relu(prepared["X_val"] @ params["W1"] + params["b1"])
            output = hidden @ params["W2"] + params["b2"]
        scores = backend.numpy(output)
        return scores if task == "multinomial" else scores[..., 0]


def _row_losses(torch: Any, task: str, output: Any, y: Any) -> Any:
    """Per-row loss, shape (n_fits, n_rows)."""
    if task == "regression":
        return 0.5 * (output[..., 0] - y) ** 2
    if task == "binary":
        logits = output[..., 0]
        return torch.nn.functional.softplus(logits) - logits * y
    log_proba = torch.log_softmax(output, dim=-1)
    target = y.expand(output.shape[0], -1) if y.dim() == 1 else y
    return -log_proba.gather(-1, target[..., None])[..., 0]
