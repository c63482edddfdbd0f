"""The batched least-squares engine: ordinary least squares and ridge.

For a subset ``D`` with centred rows ``Xc`` and targets ``yc``, the fit
solves ``(Xc' Xc + alpha I) w = Xc' yc`` and sets the intercept to
``mean(y) - mean(X) w``: exactly what scikit-learn's ``Ridge`` (and, with
``alpha = 0`` on a well-conditioned subset, ``LinearRegression``) does.
Adding one point ``z`` changes the centred Gram matrix by a rank-one term,

    Xc' Xc  ->  Xc' Xc + n / (n + 1) (x_z - mean(X)) (x_z - mean(X))',

so the fit on ``D + {z}`` for every requested point follows from the
Cholesky factor of ``D``'s matrix by a Sherman-Morrison update, at the
cost of two triangular solves per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nbscale.data import Dataset
from nbscale.learners._backend import Backend
from nbscale.learners._batched import (
    BatchedLearner,
    BlockScores,
    DrawWork,
    gather_block,
)

__all__ = ["LinearLearner"]

# Below this ratio of extreme eigenvalues of Xc'Xc (a condition number of
# X above 1e4) the normal equations could lose the 1e-6 contract, so the
# fit is done as scikit-learn does it: a minimum-norm least-squares solve.
_MIN_EIGEN_RATIO = 1e-8


class _ShermanMorrison:
    """Solve ``(H + gamma s s') x = g`` for each point, given H's factors."""

    def __init__(
        self,
        backend: Backend,
        factors: Any,
        U: Any,
        shift: Any,
        shift_u: Any,
        gamma: Any,
    ) -> None:
        self.backend, self.factors, self.U, self.shift = backend, factors, U, shift
        self.gamma = gamma[:, None]
        self.denominator = 1.0 + self.gamma * shift_u

    def __call__(self, rhs: Any) -> Any:
        """``rhs`` and the result have shape (n_draws, n_features, n_points)."""
        V = self.backend.cho_solve(self.factors, rhs)
        shift_v = (self.shift * V.mT).sum(axis=-1)
        return V - self.U * (self.gamma * shift_v / self.denominator)[:, None, :]


class LinearLearner(BatchedLearner):
    """Least-squares contributions in closed form, many subsets at once.

    Parameters
    ----------
    alpha : float, default=0.0
        Ridge penalty ``alpha * ||w||^2`` (the intercept is not penalised).
        0 is ordinary least squares.
    fit_intercept : bool, default=True
        Fit an intercept (by centring ``X`` and ``y`` on each subset).
    tol : float, default=1e-6
        With ``alpha = 0``: singular values of the centred subset below
        ``tol`` times the largest count as zero, as in
        ``LinearRegression(tol=...)``.
    device : None or str, optional
        None computes with numpy on the CPU; ``"cpu"`` or ``"cuda"`` with
        torch there.

    Notes
    -----
    Every observation equals a converged scikit-learn refit
    (``Ridge(alpha)`` or ``LinearRegression()``) on the same subsets
    within 1e-6. Subsets whose centred design is rank-deficient or badly
    conditioned (fewer rows than features, constant or duplicated columns)
    are solved by ``scipy.linalg.lstsq`` with the same cut-off as
    scikit-learn, which returns the minimum-norm solution.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_diabetes
    >>> from nbscale.data import check_dataset
    >>> from nbscale.metrics import check_metric
    >>> from nbscale.sampling import DrawBatch
    >>> X, y = load_diabetes(return_X_y=True)
    >>> data = check_dataset(X, y, random_state=0)
    >>> one = np.ones(1, dtype=int)
    >>> batch = DrawBatch.paired(one * 0, one * 60, one * 5, one * 3)
    >>> metric = check_metric(None, is_classifier=False)
    >>> result = LinearLearner(alpha=1.0).evaluate(data, batch, metric)
    >>> result.n_observations
    1
    """

    def __init__(
        self,
        alpha: float = 0.0,
        *,
        fit_intercept: bool = True,
        tol: float = 1e-6,
        device: Any = None,
    ) -> None:
        if not (isinstance(alpha, int | float) and np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha: expected a finite float >= 0, got {alpha!r}")
        super().__init__(device)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.tol = float(tol)

    def _options(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "fit_intercept": self.fit_intercept,
            "device": self.device,
        }

    def _reference_estimator(self, data: Dataset) -> Any:
        from sklearn.linear_model import LinearRegression, Ridge

        if self.alpha > 0:
            return Ridge(alpha=self.alpha, fit_intercept=self.fit_intercept)
        return LinearRegression(fit_intercept=self.fit_intercept, tol=self.tol)

    def _prepare(self, data: Dataset, backend: Backend) -> dict[str, Any]:
        return {
            "X": backend.asarray(data.X_train),
            "y": backend.asarray(data.y_train),
            "X_val": backend.asarray(data.X_val),
            "data": data,
        }

    def _solve(
        self, prepared: dict[str, Any], backend: Backend, block: list[DrawWork]
    ) -> BlockScores:
        arrays = gather_block(backend, prepared["X"], prepared["y"], block)
        n = arrays.n
        n_features = arrays.X.shape[-1]

        # Centre each subset (padding rows stay zero) and form its Gram matrix.
        if self.fit_intercept:
            mean = arrays.X.sum(axis=1) / n[:, None]
            y_mean = arrays.y.sum(axis=1) / n
            Xc = (arrays.X - mean[:, None, :]) * arrays.mask[..., None]
            yc = (arrays.y - y_mean[:, None]) * arrays.mask
            gamma = n / (n + 1.0)
        else:
            mean = backend.zeros((len(block), n_features))
            y_mean = backend.zeros((len(block),))
            Xc, yc = arrays.X, arrays.y
            gamma = n * 0.0 + 1.0
        gram = Xc.mT @ Xc
        moment = (Xc.mT @ yc[..., None])[..., 0]
        system = backend.copy(gram)
        diagonal = backend.index(np.arange(n_features))
        system[..., diagonal, diagonal] += self.alpha

        # The fit on D, and a Sherman-Morrison update per requested point.
        # Everything is in coordinates centred at D's means; ``t`` is each
        # fit's intercept there (0 for D itself).
        factors, factored = backend.cholesky(system)
        shift = arrays.Z - mean[:, None, :]
        residual = arrays.z_target - y_mean[:, None]
        U = backend.cho_solve(factors, shift.mT)
        shift_u = (shift * U.mT).sum(axis=-1)
        solve = _ShermanMorrison(backend, factors, U, shift, shift_u, gamma)
        w = backend.cho_solve(factors, moment[..., None])[..., 0]
        W = solve(
            moment[..., None] + shift.mT * (gamma[:, None] * residual)[:, None, :]
        )
        t = self._intercepts(shift, residual, W, n)

        # One step of iterative refinement: the normal equations lose
        # accuracy as cond(X)**2; a correction computed from the residuals
        # brings it back to what scikit-learn's SVD-based solve gives.
        r = (yc - (Xc @ w[..., None])[..., 0]) * arrays.mask
        gradient = (Xc.mT @ r[..., None])[..., 0] - self.alpha * w
        w = w + backend.cho_solve(factors, gradient[..., None])[..., 0]
        R = (yc[..., None] - Xc @ W - t[:, None, :]) * arrays.mask[..., None]
        r_z = residual - (shift * W.mT).sum(axis=-1) - t
        G = Xc.mT @ R + shift.mT * r_z[:, None, :] - self.alpha * W
        if self.fit_intercept:
            total = R.sum(axis=1) + r_z
            G = G - shift.mT * (total * (1.0 - gamma[:, None]))[:, None, :]
        W = W + solve(G)
        t = self._intercepts(shift, residual, W, n)

        # Validation predictions.
        X_val = prepared["X_val"][None] - mean[:, None, :]
        without = (X_val @ w[..., None])[..., 0] + y_mean[:, None]
        with_points = (X_val @ W).mT + (y_mean[:, None] + t)[..., None]

        direct = self._direct(backend, gram, shift, gamma, factored)
        return self._assemble(prepared, backend, block, without, with_points, direct)

    def _intercepts(self, shift: Any, residual: Any, W: Any, n: Any) -> Any:
        """Intercepts of the with-point fits in D-centred coordinates."""
        if not self.fit_intercept:
            return residual * 0.0
        return (residual - (shift * W.mT).sum(axis=-1)) / (n + 1.0)[:, None]

    def _direct(
        self, backend: Backend, gram: Any, shift: Any, gamma: Any, factored: np.ndarray
    ) -> np.ndarray:
        """Which fits the normal equations solve exactly, shape (n_draws, 1 + n_points).

        Column 0 is the fit on ``D``. Adding a row never lowers the
        smallest eigenvalue and raises the largest by at most
        ``gamma * ||shift||^2``, which bounds the condition of each
        with-point fit without another eigen-decomposition.
        """
        n_points = shift.shape[1]
        if self.alpha > 0:
            return np.repeat(factored[:, None], 1 + n_points, axis=1)
        eigen = backend.numpy(backend.eigvalsh(gram))
        low, high = eigen[:, 0], eigen[:, -1]
        growth = backend.numpy(gamma[:, None] * (shift * shift).sum(axis=-1))
        base = factored & (high > 0) & (low >= _MIN_EIGEN_RATIO * high)
        points = base[:, None] & (
            low[:, None] >= _MIN_EIGEN_RATIO * (high[:, None] + growth)
        )
        return np.concatenate([base[:, None], points], axis=1)

    def _assemble(
        self,
        prepared: dict[str, Any],
        backend: Backend,
        block: list[DrawWork],
        without: Any,
        with_points: Any,
        direct: np.ndarray,
    ) -> BlockScores:
        """Per-draw scores; ill-conditioned fits redone by least squares."""
        without_np = backend.numpy(without)
        with_np = backend.numpy(with_points)
        data: Dataset = prepared["data"]
        out = BlockScores([], [], [])
        for i, work in enumerate(block):
            m = len(work.points)
            base, scores = without_np[i], with_np[i, :m].copy()
            if not direct[i, 0]:
                base = self._lstsq_scores(data, work.subset)
            for j in np.flatnonzero(~direct[i, 1 : m + 1]):
                rows = np.append(work.subset, work.points[j])
                scores[j] = self._lstsq_scores(data, rows)
            out.without.append(base)
            out.with_points.append(scores)
            out.ok.append(np.ones(m, dtype=bool))
        return out

    def _lstsq_scores(self, data: Dataset, rows: np.ndarray) -> np.ndarray:
        """Validation predictions of scikit-learn's minimum-norm solution."""
        from scipy.linalg import lstsq

        X, y = data.X_train[rows], data.y_train[rows]
        mean = X.mean(axis=0) if self.fit_intercept else np.zeros(X.shape[1])
        y_mean = float(y.mean()) if self.fit_intercept else 0.0
        Xc, yc = X - mean, y - y_mean
        if self.alpha > 0:
            system = Xc.T @ Xc + self.alpha * np.eye(X.shape[1])
            w = np.linalg.solve(system, Xc.T @ yc)
        else:
            w = lstsq(Xc, yc, cond=self.tol)[0]
        return np.asarray(data.X_val @ w + (y_mean - mean @ w))
