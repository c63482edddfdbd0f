"""The batched logistic-regression engine: binary and multinomial.

Objective
---------
The engine minimises exactly what scikit-learn's ``LogisticRegression``
with an L2 penalty minimises (up to its constant scaling):

    F(W, b) = sum_i loss(x_i' W + b, y_i) + ||W||^2 / (2 C)

with an unpenalised intercept ``b``; the loss is the logistic loss for two
classes (one weight vector) and the multinomial loss over all classes
beyond two (one weight vector per class). In the multinomial case ``F``
does not change when a constant is added to every intercept, so the engine
adds ``(sum_k b_k)^2 / 2``, which fixes that free direction at
``sum_k b_k = 0`` without moving the minimiser of anything else, and keeps
the Hessian positive definite.

Solvers
-------
The fit on each ``D`` runs damped Newton steps from a warm start: the
solution on the whole training pool, with its loss weighted down to the
size of ``D``. It stops when the Newton decrement ``g' H^-1 g`` (twice the
remaining suboptimality) is below ``1e-20``, far below what moves a
validation loss by 1e-10.

Each fit on ``D + {z}`` starts from ``D``'s solution and takes *chord*
steps: Newton steps that reuse the Cholesky factor of ``D``'s Hessian,
corrected for the new point's curvature by a Woodbury update. A chord step
costs a gradient, not a Hessian, and for most points converges in 3-6
steps. It is only linearly convergent, and for a point that moves the
solution far it can crawl or diverge; the safeguard watches the decrement
of every point and hands a point whose decrement stops falling fast enough
to damped full Newton steps on its own. A fit that still fails is redone
by scikit-learn (with a tight tolerance), so no observation is lost.
"""

from __future__ import annotations

import math
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

__all__ = ["LogisticLearner"]

_TOLERANCE = 1e-20  # Newton decrement at which a fit counts as converged
_FLOOR = 1e-14  # a decrement that stalls below this is at rounding level
_MAX_NEWTON = 60
_MAX_CHORD = 40
_SLOW_RATE = 0.5  # a chord point whose decrement falls slower is handed off
_CHORD_RATIO = 1e-2  # D's fit reuses its factor once decrements fall this fast
_MAX_POOL_ROWS = 20_000


class LogisticLearner(BatchedLearner):
    """L2-penalised logistic regression on many subsets at once.

    Parameters
    ----------
    C : float, default=1.0
        Inverse penalty strength, as in scikit-learn: the penalty is
        ``||w||^2 / (2 C)`` next to the summed log loss.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    device : None or str, optional
        None computes with numpy on the CPU, one draw at a time;
        ``"cpu"`` or ``"cuda"`` with torch there, in padded blocks.

    Notes
    -----
    Two classes give one logistic model; three or more the multinomial
    model, as ``LogisticRegression`` does. Every observation matches a
    converged scikit-learn refit (``LogisticRegression(C=C, tol=1e-10,
    max_iter=10000)``) on the same subsets within 1e-6, usually within
    1e-10. Note that scikit-learn's *default* ``tol=1e-4`` stops short of
    that optimum: its own deltas then differ from the converged ones by
    about 1e-5, a tenth of a typical contribution at k = 1000.

    A subset that lacks a class (possible when ``k`` is below the number
    of classes) is fitted by scikit-learn, which then models only the
    classes present, exactly as a refit would.

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
    >>> batch = DrawBatch.paired(one * 0, one * 80, one * 5, one * 3)
    >>> metric = check_metric(None, is_classifier=True)
    >>> LogisticLearner().evaluate(data, batch, metric).n_observations
    1
    """

    def __init__(
        self, C: float = 1.0, *, fit_intercept: bool = True, device: Any = None
    ) -> None:
        if not (isinstance(C, int | float) and math.isfinite(C) and C > 0):
            raise ValueError(f"C: expected a finite float > 0, got {C!r}")
        super().__init__(device)
        self.C = float(C)
        self.fit_intercept = bool(fit_intercept)

    def _options(self) -> dict[str, Any]:
        return {"C": self.C, "fit_intercept": self.fit_intercept, "device": self.device}

    def _reference_estimator(self, data: Dataset) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.C,
            fit_intercept=self.fit_intercept,
            solver="newton-cholesky",
            tol=1e-12,
            max_iter=1000,
        )

    def _covers(self, data: Dataset, subset: np.ndarray) -> bool:
        counts = np.bincount(data.y_train[subset], minlength=data.n_classes)
        return bool((counts > 0).all())

    # ------------------------------------------------------------- prepare
    def _prepare(self, data: Dataset, backend: Backend) -> dict[str, Any]:
        if not data.is_classifier:
            raise ValueError(
                "model: logistic regression needs class labels, but y holds "
                "continuous targets"
            )
        problem = _Problem(backend, data, self.C, self.fit_intercept)
        return {"problem": problem, "initial": {}}

    def _initial(self, prepared: dict[str, Any], size: int) -> Any:
        """The warm start for subsets of about ``size`` rows (cached)."""
        problem: _Problem = prepared["problem"]
        bucket = round(math.log2(max(size, 2)) * 2)
        cache: dict[int, Any] = prepared["initial"]
        if bucket not in cache:
            weight = 2.0 ** (bucket / 2) / len(problem.pool_rows)
            cache[bucket] = problem.fit_pool(weight)
        return cache[bucket]

    # --------------------------------------------------------------- solve
    def _solve(
        self, prepared: dict[str, Any], backend: Backend, block: list[DrawWork]
    ) -> BlockScores:
        problem: _Problem = prepared["problem"]
        arrays = gather_block(backend, problem.A, problem.y, block)
        n_draws = len(block)

        # The fit on each D, from the pooled warm start.
        start = [self._initial(prepared, len(work.subset)) for work in block]
        theta0 = backend.xp.stack(start) if n_draws > 1 else start[0][None]
        rows = _Rows(arrays.X, problem.targets(arrays.y), arrays.mask)
        theta, factors, converged = problem.newton(theta0, rows)

        # The fits on D + {z}: chord steps, then Newton for the stragglers.
        points = _Rows(arrays.Z, problem.targets(arrays.z_target), arrays.z_mask)
        theta_z, ok = problem.chord(theta, factors, rows, points)
        ok = ok & converged[:, None]
        for b, m in zip(
            *np.nonzero(~ok & backend.numpy(arrays.z_mask).astype(bool)), strict=True
        ):
            if converged[b]:
                theta_z[b, :, m], ok[b, m] = problem.newton_one(
                    theta[b], rows, points, int(b), int(m)
                )

        return block_scores(backend, problem, block, theta, theta_z, converged, ok)


def block_scores(
    backend: Backend,
    problem: _Problem,
    block: list[DrawWork],
    theta: Any,
    theta_z: Any,
    converged: Any,
    ok: Any,
) -> BlockScores:
    """Validation scores of every fit of a block, unpadded.

    ``theta`` holds the fits on each ``D``, shape ``(n_draws, ...)``, and
    ``theta_z`` those on ``D + {z}``, one per padded point slot; ``ok``
    marks the with-point fits to keep, ``converged`` the fits on ``D``.
    """
    without = backend.numpy(problem.scores(theta))
    with_points = backend.numpy(problem.scores_many(theta_z))
    out = BlockScores([], [], [])
    for b, work in enumerate(block):
        m = len(work.points)
        out.without.append(without[b] if converged[b] else None)
        out.with_points.append(with_points[b, :m])
        out.ok.append(ok[b, :m])
    return out


class _Rows:
    """Design rows, their targets and weights (0 for padding)."""

    def __init__(self, A: Any, Y: Any, weight: Any) -> None:
        self.A, self.Y, self.weight = A, Y, weight


class _Problem:
    """The objective, its derivatives and the solvers, on one backend.

    Parameters live in arrays of shape ``(n_draws, n_columns, n_outputs)``:
    one output for two classes, one per class otherwise. Flattened for
    linear algebra they are class-major: entry ``k * n_columns + j``.
    """

    def __init__(self, backend: Backend, data: Dataset, C: float, intercept: bool):
        self.backend = backend
        ones_train = np.ones((data.n_pool, int(intercept)))
        ones_val = np.ones((data.n_val, int(intercept)))
        self.A = backend.asarray(np.hstack([data.X_train, ones_train]))
        self.A_val = backend.asarray(np.hstack([data.X_val, ones_val]))
        self.y = backend.asarray(data.y_train.astype(np.float64))
        self.n_classes = data.n_classes
        self.multinomial = data.n_classes > 2
        self.n_outputs = data.n_classes if self.multinomial else 1
        self.n_columns = int(self.A.shape[1])
        self.intercept = intercept

        penalty = np.full(self.n_columns, 1.0 / C)
        if intercept:
            penalty[-1] = 0.0
        self.penalty = backend.asarray(penalty)[:, None]  # (n_columns, 1)
        self.flat_penalty = backend.asarray(np.tile(penalty, self.n_outputs))
        # The gauge term (sum of intercepts)^2 / 2, multinomial only.
        self.gauge = 1.0 if (self.multinomial and intercept) else 0.0
        self.gauge_index = backend.index(
            np.arange(self.n_outputs) * self.n_columns + self.n_columns - 1
        )
        self.eye_outputs = backend.eye(self.n_outputs)
        self.pool_rows = np.linspace(
            0, data.n_pool - 1, min(data.n_pool, _MAX_POOL_ROWS)
        ).astype(np.int64)

    # --------------------------------------------------------------- pieces
    def targets(self, y: Any) -> Any:
        """Targets as the loss needs them: 0/1, or one-hot over classes."""
        if not self.multinomial:
            return y[..., None]
        return self.backend.cast(y[..., None] == self.backend.arange(self.n_classes))

    def _link(self, logits: Any) -> Any:
        """Predicted probabilities from logits (last axis: outputs)."""
        if self.multinomial:
            return self.backend.softmax(logits, axis=-1)
        return self.backend.sigmoid(logits)

    def _row_losses(self, logits: Any, Y: Any) -> Any:
        """Per-row loss, summed over the output axis."""
        if self.multinomial:
            return self.backend.logsumexp(logits, axis=-1) - (logits * Y).sum(axis=-1)
        return (self.backend.softplus(logits) - logits * Y)[..., 0]

    def _regularisation(self, theta: Any) -> Any:
        value = 0.5 * (self.penalty * theta * theta).sum(axis=(-2, -1))
        if self.gauge:
            value = value + 0.5 * self.gauge * theta[..., -1, :].sum(axis=-1) ** 2
        return value

    def value(self, theta: Any, logits: Any, rows: _Rows) -> Any:
        """The objective of each draw, shape (n_draws,), given its logits."""
        losses = self._row_losses(logits, rows.Y) * rows.weight
        return losses.sum(axis=-1) + self._regularisation(theta)

    def _flat(self, theta: Any) -> Any:
        return theta.mT.reshape(theta.shape[0], -1)

    def _unflat(self, flat: Any) -> Any:
        return flat.reshape(flat.shape[0], self.n_outputs, self.n_columns).mT

    def gradient(self, theta: Any, proba: Any, rows: _Rows) -> Any:
        """Flat gradient (n_draws, q), given the rows' probabilities."""
        weight = rows.weight[..., None]
        gradient = rows.A.mT @ ((proba - rows.Y) * weight) + self.penalty * theta
        if self.gauge:
            gradient[..., -1, :] += (
                self.gauge * theta[..., -1, :].sum(axis=-1)[..., None]
            )
        return self._flat(gradient)

    def hessian(self, proba: Any, rows: _Rows) -> Any:
        """Hessian (n_draws, q, q), given the rows' probabilities."""
        weight = rows.weight[..., None]
        if not self.multinomial:
            curvature = proba * (1.0 - proba) * weight
            hessian = (rows.A * curvature).mT @ rows.A
        else:
            n_draws, n_rows = proba.shape[0], proba.shape[1]
            outer = (proba[..., :, None] * rows.A[..., None, :]).reshape(
                n_draws, n_rows, -1
            )
            hessian = -(outer * weight).mT @ outer
            p = self.n_columns
            for k in range(self.n_outputs):
                part = (rows.A * (proba[..., k : k + 1] * weight)).mT @ rows.A
                hessian[..., k * p : (k + 1) * p, k * p : (k + 1) * p] += part
        q = self.n_outputs * self.n_columns
        diagonal = self.backend.index(np.arange(q))
        hessian[..., diagonal, diagonal] += self.flat_penalty
        if self.gauge:
            g = self.gauge_index
            hessian[..., g[:, None], g[None, :]] += self.gauge
        return hessian

    # -------------------------------------------------------------- solvers
    def newton(self, theta: Any, rows: _Rows) -> tuple[Any, Any, np.ndarray]:
        """Damped Newton on every draw of a block.

        Returns
        -------
        theta : array of shape (n_draws, n_columns, n_outputs)
        factors : array of shape (n_draws, q, q)
            Cholesky factors of the Hessian at the last iterate.
        converged : ndarray of bool, shape (n_draws,)
        """
        backend = self.backend
        theta = backend.copy(theta)
        n_draws = theta.shape[0]
        done = np.zeros(n_draws, dtype=bool)
        failed = np.zeros(n_draws, dtype=bool)
        previous = np.full(n_draws, np.inf)
        factors: Any = None
        factored = np.ones(n_draws, dtype=bool)
        refresh = True
        logits = rows.A @ theta
        value = backend.numpy(self.value(theta, logits, rows))

        for _ in range(_MAX_NEWTON):
            # A fresh Hessian only while convergence is not yet fast: close
            # to the optimum, steps with the last factor (chord steps) gain
            # many digits each at the cost of a gradient.
            proba = self._link(logits)
            gradient = self.gradient(theta, proba, rows)
            if refresh:
                new_factors, factored = backend.cholesky(self.hessian(proba, rows))
                factors = (
                    new_factors
                    if factors is None
                    else backend.where(done, factors, new_factors)
                )
            step = backend.cho_solve(factors, gradient[..., None])[..., 0]
            decrement = backend.numpy((gradient * step).sum(axis=-1))
            failed |= ~factored | ~np.isfinite(decrement)
            stalled = (decrement <= _FLOOR) & (decrement >= 0.5 * previous)
            done |= ~failed & ((decrement <= _TOLERANCE) | stalled)
            if (done | failed).all():
                break
            fast = decrement <= _CHORD_RATIO * np.minimum(previous, 1.0)
            previous = np.where(done, previous, decrement)

            # Backtracking on the objective; converged draws stay put. The
            # logits move linearly along the step, so trials need no product.
            moving = ~(done | failed)
            scale = np.where(moving, 1.0, 0.0)
            step = self._unflat(step)
            direction = rows.A @ step
            for _ in range(40):
                factor = backend.asarray(scale)[:, None, None]
                trial, trial_logits = theta - step * factor, logits - direction * factor
                trial_value = backend.numpy(self.value(trial, trial_logits, rows))
                slack = 1e-12 * np.abs(value) + 1e-300
                accepted = trial_value <= value - 0.25 * scale * decrement + slack
                retry = moving & ~accepted & np.isfinite(value)
                if not retry.any():
                    break
                scale = np.where(retry, scale / 2, scale)
            theta, logits = trial, trial_logits
            value = np.where(moving, trial_value, value)
            refresh = bool(np.any(moving & ((scale < 1.0) | ~fast)))

        converged = done & ~failed
        return theta, factors, converged

    def newton_one(
        self, theta: Any, rows: _Rows, points: _Rows, b: int, m: int
    ) -> tuple[Any, bool]:
        """Full Newton for one point on ``D + {z}``, from D's solution."""
        xp = self.backend.xp
        real = self.backend.numpy(rows.weight[b]) > 0
        keep = self.backend.index(np.flatnonzero(real))
        one = _Rows(
            xp.concatenate([rows.A[b][keep], points.A[b, m : m + 1]])[None],
            xp.concatenate([rows.Y[b][keep], points.Y[b, m : m + 1]])[None],
            xp.concatenate([rows.weight[b][keep], points.weight[b, m : m + 1]])[None],
        )
        solution, _, converged = self.newton(theta[None], one)
        return solution[0], bool(converged[0])

    def fit_pool(self, weight: float) -> Any:
        """The solution on the pool with each row's loss weighted by ``weight``."""
        backend = self.backend
        rows = backend.index(self.pool_rows)
        pool = _Rows(
            self.A[rows][None],
            self.targets(self.y[rows][None]),
            backend.asarray(np.full((1, len(self.pool_rows)), weight)),
        )
        start = backend.zeros((1, self.n_columns, self.n_outputs))
        theta, _, converged = self.newton(start, pool)
        return theta[0] if converged[0] else start[0]

    def chord(
        self, theta: Any, factors: Any, rows: _Rows, points: _Rows
    ) -> tuple[Any, np.ndarray]:
        """Chord steps for every point of every draw.

        Returns
        -------
        theta : array of shape (n_draws, n_columns, n_points, n_outputs)
        ok : ndarray of bool, shape (n_draws, n_points)
            Points whose decrement reached the tolerance.
        """
        return _Chord(self, theta, factors, rows, points).run()

    # --------------------------------------------------------------- scores
    def scores(self, theta: Any) -> Any:
        """Validation logits, (n_draws, n_val) or (n_draws, n_val, n_classes)."""
        logits = self.A_val @ theta
        return logits if self.multinomial else logits[..., 0]

    def scores_many(self, theta: Any) -> Any:
        """Validation logits of the with-point fits, points on axis 1."""
        n_draws, p, n_points, k = theta.shape
        logits = (self.A_val @ theta.reshape(n_draws, p, n_points * k)).reshape(
            n_draws, -1, n_points, k
        )
        logits = self.backend.permute(logits, (0, 2, 1, 3))
        return logits if self.multinomial else logits[..., 0]


class _Chord:
    """Chord iterations for the with-point fits of a block."""

    def __init__(
        self, problem: _Problem, theta: Any, factors: Any, rows: _Rows, points: _Rows
    ) -> None:
        backend = problem.backend
        xp = backend.xp
        self.problem, self.backend, self.rows, self.points = (
            problem,
            backend,
            rows,
            points,
        )
        self.factors = factors
        n_draws, p, k = theta.shape
        self.n_points = int(points.A.shape[1])
        self.theta = backend.repeat(theta, self.n_points, axis=2)

        # The new point's curvature at D's solution, for the Woodbury update:
        # U = H^-1 Q and T = S (I + Q' H^-1 Q S)^-1, with Q = I_k (x) z.
        proba = problem._link(points.A @ theta)  # (n_draws, n_points, k)
        if problem.multinomial:
            S = _diag(xp, proba) - proba[..., :, None] * proba[..., None, :]
        else:
            S = (proba * (1.0 - proba))[..., None]
        S = S * points.weight[..., None, None]
        placed = (
            points.A[:, None, :, :, None] * problem.eye_outputs[None, :, None, None, :]
        )
        # placed[b, l, m, j, l'] = z[b, m, j] if l == l';
        # reorder to (b, l*p + j, m*k + l')
        rhs = backend.permute(placed, (0, 1, 3, 2, 4)).reshape(
            n_draws, k * p, self.n_points * k
        )
        # An explicit inverse: one product per step beats two triangular
        # solves, and it is only a preconditioner (the fixed point is set by
        # the gradient), so its rounding does not reach the solution.
        self.inverse = backend.cho_solve(
            factors, backend.eye(k * p)[None] + 0.0 * factors
        )
        self.U = (self.inverse @ rhs).reshape(n_draws, k, p, self.n_points, k)
        QU = xp.einsum("bmj,bkjml->bmkl", points.A, self.U)
        eye = problem.eye_outputs
        self.T = S @ backend.solve(eye + QU @ S, eye + 0.0 * QU)

        # Anderson acceleration (depth 1) remembers each point's last move.
        flat_shape = (n_draws, k * p, self.n_points)
        self.last_gradient = backend.zeros(flat_shape)
        self.last_step = backend.zeros(flat_shape)
        self.last_update = backend.zeros(flat_shape)
        self.started = False

    def run(self) -> tuple[Any, np.ndarray]:
        backend = self.backend
        n_draws = self.theta.shape[0]
        real = backend.numpy(self.points.weight) > 0
        ok = np.zeros((n_draws, self.n_points), dtype=bool)
        alive = real.copy()
        previous = np.full((n_draws, self.n_points), np.inf)
        for iteration in range(_MAX_CHORD):
            if not alive.any():
                break
            decrement = self._step(alive)
            bad = ~np.isfinite(decrement)
            converged = (decrement <= _TOLERANCE) | (
                (decrement <= _FLOOR) & (decrement >= 0.5 * previous)
            )
            ok |= alive & converged & ~bad
            slow = (iteration >= 2) & (decrement > _SLOW_RATE * previous)
            alive &= ~(converged | bad | slow | (decrement > previous))
            previous = np.where(np.isfinite(decrement), decrement, np.inf)
        return self.theta, ok

    def _step(self, alive: np.ndarray) -> np.ndarray:
        """One chord step for the points still alive; their decrements."""
        backend, problem, xp = self.backend, self.problem, self.backend.xp
        n_draws, p, n_points, k = self.theta.shape
        if backend.name == "numpy":
            columns = np.flatnonzero(alive.any(axis=0))
        else:
            columns = np.arange(n_points)
        cols = backend.index(columns)
        theta = self.theta[:, :, cols, :]
        width = len(columns)

        # Gradient of every with-point objective at its current iterate.
        flat = theta.reshape(n_draws, p, width * k)
        logits = (self.rows.A @ flat).reshape(n_draws, -1, width, k)
        residual = (problem._link(logits) - self.rows.Y[:, :, None, :]) * (
            self.rows.weight[..., None, None]
        )
        gradient = (self.rows.A.mT @ residual.reshape(n_draws, -1, width * k)).reshape(
            n_draws, p, width, k
        ) + problem.penalty[..., None] * theta
        z = self.points.A[:, cols, :]
        z_logits = xp.einsum("bmj,bjmk->bmk", z, theta)
        z_residual = (problem._link(z_logits) - self.points.Y[:, cols, :]) * (
            self.points.weight[:, cols, None]
        )
        gradient = gradient + z.mT[..., None] * z_residual[:, None, :, :]
        if problem.gauge:
            gradient[:, -1] += problem.gauge * theta[:, -1].sum(axis=-1)[..., None]

        # Chord step: D's inverse Hessian, plus the Woodbury term of the point.
        flat_gradient = _class_major(backend, gradient)  # (b, k*p, m)
        V = (self.inverse @ flat_gradient).reshape(n_draws, k, p, width)
        QV = xp.einsum("bmj,bkjm->bmk", z, V)
        coefficient = (self.T[:, cols] @ QV[..., None])[..., 0]
        correction = xp.einsum("bkjml,bml->bkjm", self.U[:, :, :, cols, :], coefficient)
        step = (V - correction).reshape(n_draws, k * p, width)
        decrement = backend.numpy((flat_gradient * step).sum(axis=1))
        update = self._accelerated(cols, flat_gradient, step)

        # Move the points that are still alive.
        live = alive[:, columns]
        gate = backend.asarray(live.astype(np.float64))
        update = update * gate[:, None, :]
        self.last_update[:, :, cols] = update
        moved = theta + _parameter_major(backend, update.reshape(n_draws, k, p, width))
        self.theta[:, :, cols, :] = moved
        out = np.full(alive.shape, np.nan)
        out[:, columns] = np.where(live, decrement, np.nan)
        return out

    def _accelerated(self, cols: Any, gradient: Any, step: Any) -> Any:
        """Anderson-accelerated move, ``-step`` corrected by the last move.

        Type-II Anderson mixing of depth 1 on the fixed-point map
        ``x -> x - step(x)``, with inner products in the metric of the
        chord Hessian ``H``: since ``H step = gradient``, they reduce to
        dot products of steps and gradients.
        """
        if not self.started:
            self.started = True
        else:
            d_step = step - self.last_step[:, :, cols]
            d_gradient = gradient - self.last_gradient[:, :, cols]
            numerator = (d_step * gradient).sum(axis=1)
            denominator = (d_step * d_gradient).sum(axis=1)
            usable = self.backend.xp.abs(denominator) > 1e-300
            gamma = self.backend.xp.where(
                usable,
                numerator / (denominator + (1.0 - usable * 1.0)),
                0.0 * numerator,
            )
            last = self.last_update[:, :, cols]
            self.last_gradient[:, :, cols] = gradient
            self.last_step[:, :, cols] = step
            return -step - gamma[:, None, :] * (last - d_step)
        self.last_gradient[:, :, cols] = gradient
        self.last_step[:, :, cols] = step
        return -step


def _class_major(backend: Backend, gradient: Any) -> Any:
    """(b, p, m, k) -> (b, k*p, m)."""
    n_draws, p, m, k = gradient.shape
    return backend.permute(gradient, (0, 3, 1, 2)).reshape(n_draws, k * p, m)


def _parameter_major(backend: Backend, step: Any) -> Any:
    """(b, k, p, m) -> (b, p, m, k)."""
    return backend.permute(step, (0, 2, 3, 1))


def _diag(xp: Any, values: Any) -> Any:
    """Diagonal matrices from the last axis."""
    if xp is np:
        out = np.zeros((*values.shape, values.shape[-1]), dtype=values.dtype)
        index = np.arange(values.shape[-1])
        out[..., index, index] = values
        return out
    return xp.diag_embed(values)
