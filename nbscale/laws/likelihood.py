"""Maximum-likelihood fit of individualized scaling laws, all points at once.

A point's marginal contribution at training-set size ``k`` is modelled as

    delta ~ Normal(c * k**(-alpha), sigma**2 * k**(-beta)),

four parameters per point (Covert et al., ICML 2024, section 3). For fixed
``(alpha, beta)`` the remaining parameters ``c`` and ``sigma`` are a weighted
least-squares problem with weights ``k**beta`` and have closed forms, so the
fit is a two-dimensional problem per point. This module solves those
problems for every point together: a coarse grid over ``(alpha, beta)``
proposes a few starts per point, then batched, bounded, damped Newton
steps on the profile run from each and the best optimum wins. Segment sums
over the observations of each point carry all the work, in float64.

The array-level entry point is :func:`fit_likelihood`; most users call
:func:`nbscale.laws.fit_laws`, which validates a DataFrame and calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["ALPHA_BOUNDS", "BETA_BOUNDS", "LawArrays", "Prior", "fit_likelihood"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

ALPHA_BOUNDS = (1e-3, 8.0)
"""Domain searched for ``alpha``; estimates on an edge are flagged."""

BETA_BOUNDS = (-4.0, 16.0)
"""Domain searched for ``beta``; estimates on an edge are flagged."""

# Fallback law for points whose data cannot identify alpha and beta.
_FALLBACK_ALPHA = 1.0
_MIN_OBSERVATIONS = 4

# Standard errors of a point without information: this factor times the
# natural scale of the parameter (finite, so downstream sums stay finite).
_NO_INFORMATION = 1e6

# Smallest residual variance, relative to the largest squared delta of the
# point; keeps log-likelihoods finite for data that lie exactly on a law.
_VARIANCE_FLOOR = 1e-60

# Coarse start grid in steps of one half: alpha = j / 2, beta = -4 + l / 2.
_GRID_ALPHA = np.arange(17) * 0.5
_GRID_BETA = np.arange(41) * 0.5 - 4.0

_N_STARTS = 4
_MAX_ITERATIONS = 100
_MAX_HALVINGS = 30
_MAX_STEP = 1.0
_DECREMENT_TOL = 1e-12
_BOUND_TOL = 1e-9

FLAG_OK = "ok"
FLAG_TOO_FEW = "too_few_observations"
FLAG_SINGLE_SIZE = "single_size"
FLAG_ZERO_VARIANCE = "zero_variance"
FLAG_AT_BOUND = "at_bound"
FLAG_NOT_CONVERGED = "not_converged"


@dataclass(frozen=True)
class LawArrays:
    """Per-point scaling-law estimates as parallel arrays.

    Every field has shape ``(n_points,)``; see
    :func:`nbscale.laws.fit_laws` for the meaning of each one. ``extra``
    holds method-specific diagnostics of the same shape (for example
    ``r2_log`` of the log-space fit).

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.laws.likelihood import fit_likelihood
    >>> codes = np.repeat([0], 6)
    >>> sizes = np.array([10.0, 10, 20, 20, 40, 40])
    >>> deltas = np.array([0.11, 0.09, 0.05, 0.052, 0.026, 0.024])
    >>> fit_likelihood(codes, sizes, deltas, n_points=1).flag.tolist()
    ['ok']
    """

    c: FloatArray
    alpha: FloatArray
    sigma: FloatArray
    beta: FloatArray
    c_se: FloatArray
    alpha_se: FloatArray
    c_alpha_cov: FloatArray
    n_obs: NDArray[np.int64]
    n_sizes: NDArray[np.int64]
    nll: FloatArray
    converged: NDArray[np.bool_]
    flag: NDArray[np.object_]
    extra: dict[str, FloatArray]


@dataclass(frozen=True)
class _Segments:
    """Observations sorted by point, in the scaled coordinates of each point.

    ``t`` is ``log(k)`` minus the point's mean ``log(k)``; ``d`` is delta
    divided by the point's largest ``|delta|``. ``points`` maps the local
    codes back to the full set of points.
    """

    codes: IntArray
    t: FloatArray
    d: FloatArray
    starts: IntArray
    counts: NDArray[np.int64]
    points: IntArray

    def sum(self, values: FloatArray) -> FloatArray:
        """Sum ``values``, shape ``(n_obs,)``, within each point."""
        return np.add.reduceat(values, self.starts)

    def subset(self, mask: NDArray[np.bool_]) -> _Segments:
        """Restrict to the local points where ``mask`` is true."""
        if mask.all():
            return self
        return self.take(np.flatnonzero(mask))

    def take(self, rows: IntArray) -> _Segments:
        """Segments of the local points ``rows``; repeats make copies."""
        counts = self.counts[rows]
        starts = np.zeros(counts.size, dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        gather = np.repeat(self.starts[rows] - starts, counts)
        gather += np.arange(gather.size)
        return _Segments(
            codes=np.repeat(np.arange(counts.size), counts),
            t=self.t[gather],
            d=self.d[gather],
            starts=starts,
            counts=counts,
            points=self.points[rows],
        )


@dataclass(frozen=True)
class _Prepared:
    """Observations in scaled coordinates plus per-point bookkeeping."""

    segments: _Segments
    scale: FloatArray
    log_ref: FloatArray
    n_sizes: NDArray[np.int64]
    flag: NDArray[np.object_]


class _Moments(NamedTuple):
    """Weighted sums of one point at ``(alpha, beta)``, scaled coordinates.

    ``w = exp(beta t)``, ``u = exp(-alpha t)``, ``r = d - c u``; a name
    lists its factors, so ``tur`` is the sum of ``w t u r``.
    """

    c: FloatArray
    uu: FloatArray
    tuu: FloatArray
    ttuu: FloatArray
    ur: FloatArray
    tur: FloatArray
    ttur: FloatArray
    rr: FloatArray
    trr: FloatArray
    ttrr: FloatArray


class Prior(NamedTuple):
    """Independent normal priors on ``log(alpha)`` and ``beta``.

    Added to a point's negative log-likelihood as
    ``0.5 ((log alpha - log_alpha_mean) / log_alpha_sd)^2 +
    0.5 ((beta - beta_mean) / beta_sd)^2``: a fit that knows how laws
    spread across the points of a study, so that a point with few
    observations is pulled towards its population instead of an edge of
    the search box.

    Examples
    --------
    >>> from nbscale.laws.likelihood import Prior
    >>> Prior(log_alpha_mean=0.0, log_alpha_sd=0.5, beta_mean=2.0, beta_sd=1.0)
    Prior(log_alpha_mean=0.0, log_alpha_sd=0.5, beta_mean=2.0, beta_sd=1.0)
    """

    log_alpha_mean: float
    log_alpha_sd: float
    beta_mean: float
    beta_sd: float

    def penalty(
        self, alpha: FloatArray, beta: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Penalty, gradient ``(n, 2)`` and Hessian ``(n, 2, 2)`` in (a, b).

        The Hessian keeps only the always-positive part of the ``alpha``
        curvature (``1 / (sd^2 alpha^2)``), as a Gauss-Newton term.
        """
        z_a = (np.log(alpha) - self.log_alpha_mean) / self.log_alpha_sd
        z_b = (beta - self.beta_mean) / self.beta_sd
        value = 0.5 * (z_a**2 + z_b**2)
        grad = np.stack([z_a / (self.log_alpha_sd * alpha), z_b / self.beta_sd], 1)
        hess = np.zeros((alpha.size, 2, 2))
        hess[:, 0, 0] = 1.0 / (self.log_alpha_sd * alpha) ** 2
        hess[:, 1, 1] = 1.0 / self.beta_sd**2
        return value, grad, hess


def _prepare(
    codes: IntArray, sizes: FloatArray, deltas: FloatArray, n_points: int
) -> _Prepared:
    """Sort, centre and scale the observations; flag hopeless points."""
    order = np.lexsort((sizes, codes))
    codes, sizes, deltas = codes[order], sizes[order], deltas[order]
    counts = np.bincount(codes, minlength=n_points).astype(np.int64)
    starts = np.zeros(n_points, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])

    # Each point is centred at its mean log size and scaled by its
    # largest |delta|, so every fit sees numbers of order one.
    log_size = np.log(sizes)
    log_ref = np.add.reduceat(log_size, starts) / counts
    scale = np.maximum.reduceat(np.abs(deltas), starts)
    scale = np.where(scale > 0, scale, 1.0)
    segments = _Segments(
        codes=codes,
        t=log_size - log_ref[codes],
        d=deltas / scale[codes],
        starts=starts,
        counts=counts,
        points=np.arange(n_points),
    )

    # Count distinct sizes and detect constant deltas.
    new_size = np.ones(codes.size, dtype=np.int64)
    same = (codes[1:] == codes[:-1]) & (sizes[1:] == sizes[:-1])
    new_size[1:][same] = 0
    n_sizes = np.add.reduceat(new_size, starts)
    constant = np.maximum.reduceat(deltas, starts) == np.minimum.reduceat(
        deltas, starts
    )

    flag = np.full(n_points, FLAG_OK, dtype=object)
    flag[constant] = FLAG_ZERO_VARIANCE
    flag[n_sizes < 2] = FLAG_SINGLE_SIZE
    flag[counts < _MIN_OBSERVATIONS] = FLAG_TOO_FEW
    return _Prepared(segments, scale, log_ref, n_sizes, flag)


def _moments(seg: _Segments, alpha: FloatArray, beta: FloatArray) -> _Moments:
    """All weighted sums needed by the profile and the information matrix."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        u = np.exp(-alpha[seg.codes] * seg.t)
        w = np.exp(beta[seg.codes] * seg.t)
        wu = w * u
        wuu = wu * u
        c = seg.sum(wu * seg.d) / seg.sum(wuu)
        r = seg.d - c[seg.codes] * u
        wur = wu * r
        wrr = w * r * r
        tt = seg.t * seg.t
        return _Moments(
            c=c,
            uu=seg.sum(wuu),
            tuu=seg.sum(seg.t * wuu),
            ttuu=seg.sum(tt * wuu),
            ur=seg.sum(wur),
            tur=seg.sum(seg.t * wur),
            ttur=seg.sum(tt * wur),
            rr=seg.sum(wrr),
            trr=seg.sum(seg.t * wrr),
            ttrr=seg.sum(tt * wrr),
        )


def _variance(rr: FloatArray, counts: NDArray[np.int64]) -> FloatArray:
    """Profile residual variance ``sigma'^2``, floored to stay positive."""
    return np.maximum(rr / counts, _VARIANCE_FLOOR)


def _profile(
    m: _Moments, counts: NDArray[np.int64]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Objective ``0.5 log(sigma'^2)``, its gradient and Hessian in (a, b).

    The profile residual sum ``f = min_c sum w r^2`` has derivatives from
    the envelope theorem; eliminating ``c`` adds the Schur correction.
    """
    # Derivatives of g(c, alpha, beta) = sum w r^2 at c = c*; degenerate
    # points give non-finite values, which the optimiser rejects.
    with np.errstate(all="ignore"):
        return _profile_terms(m, counts)


def _profile_terms(
    m: _Moments, counts: NDArray[np.int64]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Body of :func:`_profile`, under suppressed floating-point warnings."""
    g_a = 2 * m.c * m.tur
    g_b = m.trr
    g_aa = 2 * m.c * (m.c * m.ttuu - m.ttur)
    g_ab = 2 * m.c * m.ttur
    g_bb = m.ttrr
    g_ca = -2 * (m.c * m.tuu - m.tur)
    g_cb = -2 * m.tur
    g_cc = 2 * m.uu

    # Profile f and the objective 0.5 log f (constants dropped).
    f = np.maximum(m.rr, _VARIANCE_FLOOR * counts)
    f_aa = g_aa - g_ca * g_ca / g_cc
    f_ab = g_ab - g_ca * g_cb / g_cc
    f_bb = g_bb - g_cb * g_cb / g_cc
    grad = 0.5 * np.stack([g_a, g_b], axis=-1) / f[:, None]
    hess = np.empty((f.size, 2, 2))
    hess[:, 0, 0] = 0.5 * (f_aa / f - (g_a / f) ** 2)
    hess[:, 0, 1] = hess[:, 1, 0] = 0.5 * (f_ab / f - g_a * g_b / f**2)
    hess[:, 1, 1] = 0.5 * (f_bb / f - (g_b / f) ** 2)
    objective = 0.5 * np.log(f / counts)
    return objective, grad, hess


def _grid_starts(
    seg: _Segments, prior: Prior | None = None
) -> tuple[IntArray, FloatArray]:
    """Starting ``(alpha, beta)`` pairs from a coarse grid of the profile.

    Returns the local point of each start, shape ``(n_starts,)``, and the
    starts, shape ``(n_starts, 2)``: the best few local minima of every
    point, so a second basin is not missed.

    Uses the one-pass form ``f = C - B^2 / A`` with
    ``A = sum exp((b - 2a) t)``, ``B = sum d exp((b - a) t)`` and
    ``C = sum d^2 exp(b t)``. On the grid every exponent is a multiple of
    one half, so the exponentials come from one running product each way.
    """
    # Sums over exponents m / 2 for m in [-40, 32], column 40 + m: A needs
    # b - 2a in [-20, 16], B needs b - a in [-12, 16], C needs b in [-4, 16].
    shape = (seg.counts.size, 73)
    sum_a, sum_b, sum_c = np.empty(shape), np.empty(shape), np.empty(shape)
    d2 = seg.d * seg.d
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for sign, n_steps in ((1, 32), (-1, 40)):
            factor = np.exp(0.5 * sign * seg.t)
            power = np.ones_like(seg.t)
            for m in range(1 if sign < 0 else 0, n_steps + 1):
                power = power * factor if m else power
                column = 40 + sign * m
                sum_a[:, column] = seg.sum(power)
                if column >= 16:
                    sum_b[:, column] = seg.sum(seg.d * power)
                if column >= 32:
                    sum_c[:, column] = seg.sum(d2 * power)

        # Profile residual sum on the (alpha, beta) grid.
        j = np.arange(_GRID_ALPHA.size)[:, None]
        l_ = np.arange(_GRID_BETA.size)[None, :]
        f = sum_c[:, 32 + l_] - sum_b[:, 32 + l_ - j] ** 2 / sum_a[:, 32 + l_ - 2 * j]
    f = np.where(np.isfinite(f), f, np.inf)
    f = np.maximum(f, _VARIANCE_FLOOR * seg.counts[:, None, None])
    if prior is not None:
        # Compare cells by the penalised objective, 0.5 log f + P / n.
        grid_alpha = np.clip(_GRID_ALPHA, *ALPHA_BOUNDS)
        cell_alpha, cell_beta = np.meshgrid(grid_alpha, _GRID_BETA, indexing="ij")
        penalty = prior.penalty(cell_alpha.ravel(), cell_beta.ravel())[0]
        f = 0.5 * np.log(f) + (
            penalty.reshape(cell_alpha.shape)[None] / seg.counts[:, None, None]
        )

    # Local minima of the grid (no lower cell among the 8 neighbours).
    padded = np.pad(f, ((0, 0), (1, 1), (1, 1)), constant_values=np.inf)
    n_a, n_b = f.shape[1:]
    lowest = np.full_like(f, np.inf)
    for da in (-1, 0, 1):
        for db in (-1, 0, 1):
            if da or db:
                window = padded[:, 1 + da : 1 + da + n_a, 1 + db : 1 + db + n_b]
                np.minimum(lowest, window, out=lowest)

    # The best cell of each alpha edge joins them: profiles are often
    # nearly flat in alpha, and a grid in beta can hide an edge optimum.
    local = f <= lowest
    for edge in (0, n_a - 1):
        column = np.argmin(f[:, edge, :], axis=1)
        local[np.arange(f.shape[0]), edge, column] = True
    candidates = np.where(local & np.isfinite(f), f, np.inf)
    candidates = candidates.reshape(f.shape[0], -1)

    # Keep the best few minima of every point as separate starts.
    n_keep = min(_N_STARTS, candidates.shape[1])
    best = np.argsort(candidates, axis=1)[:, :n_keep]
    keep = np.isfinite(np.take_along_axis(candidates, best, axis=1))
    keep[:, 0] = True
    rows = np.nonzero(keep)[0]
    j_best, l_best = np.unravel_index(best[keep], (n_a, n_b))
    alpha = np.clip(_GRID_ALPHA[j_best], *ALPHA_BOUNDS)
    return rows, np.stack([alpha, _GRID_BETA[l_best]], axis=1)


def _penalised(
    seg: _Segments, theta: FloatArray, prior: Prior | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Profile objective, gradient and Hessian at ``theta``, plus the prior.

    The objective is a mean over a point's observations, so the prior,
    a term of the point's total negative log-likelihood, enters divided
    by the point's number of observations.
    """
    objective, grad, hess = _profile(_moments(seg, *theta.T), seg.counts)
    if prior is None:
        return objective, grad, hess
    value, p_grad, p_hess = prior.penalty(theta[:, 0], theta[:, 1])
    n = seg.counts.astype(np.float64)
    return (
        objective + value / n,
        grad + p_grad / n[:, None],
        hess + p_hess / n[:, None, None],
    )


def _newton_direction(
    theta: FloatArray, grad: FloatArray, hess: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Projected, damped Newton step of shape ``(n, 2)`` and its decrement.

    Coordinates sitting on a bound with the gradient pushing outward are
    held fixed; an indefinite Hessian is shifted until positive definite.
    """
    # Hold coordinates that the box stops from moving downhill.
    lower = np.array([ALPHA_BOUNDS[0], BETA_BOUNDS[0]])
    upper = np.array([ALPHA_BOUNDS[1], BETA_BOUNDS[1]])
    fixed = ((theta <= lower + _BOUND_TOL) & (grad > 0)) | (
        (theta >= upper - _BOUND_TOL) & (grad < 0)
    )
    g = np.where(fixed, 0.0, grad)
    a = np.where(fixed[:, 0], 1.0, hess[:, 0, 0])
    d = np.where(fixed[:, 1], 1.0, hess[:, 1, 1])
    b = np.where(fixed.any(axis=1), 0.0, hess[:, 0, 1])

    # Shift the 2 x 2 Hessian so its smallest eigenvalue is positive.
    mean, radius = 0.5 * (a + d), np.hypot(0.5 * (a - d), b)
    low, high = mean - radius, mean + radius
    floor = 1e-8 * np.maximum(np.abs(high), 1e-8)
    shift = np.where(low < floor, floor - low, 0.0)
    a, d = a + shift, d + shift
    with np.errstate(all="ignore"):
        det = a * d - b * b
        step = -np.stack([d * g[:, 0] - b * g[:, 1], a * g[:, 1] - b * g[:, 0]], 1)
        step /= det[:, None]

        # Keep steps short; the grid start is already in the right basin.
        length = np.hypot(step[:, 0], step[:, 1])
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(length, 1e-300))[:, None]
        decrement = -np.sum(g * step, axis=1)
    return np.nan_to_num(step), np.nan_to_num(decrement)


def _clip(theta: FloatArray) -> FloatArray:
    """Project ``(alpha, beta)`` pairs onto the search box."""
    lower = np.array([ALPHA_BOUNDS[0], BETA_BOUNDS[0]])
    upper = np.array([ALPHA_BOUNDS[1], BETA_BOUNDS[1]])
    return np.clip(theta, lower, upper)


def _optimise(
    seg: _Segments, theta: FloatArray, prior: Prior | None = None
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Minimise the profile from ``theta``, shape ``(n, 2)``, for all points.

    Returns the optimum, its objective and whether each point met the
    stopping rule.
    """
    objective, grad, hess = _penalised(seg, theta, prior)
    active = np.isfinite(objective)
    converged = np.zeros(theta.shape[0], dtype=bool)

    for _ in range(_MAX_ITERATIONS):
        if not active.any():
            break
        index = np.flatnonzero(active)
        step, decrement = _newton_direction(theta[index], grad[index], hess[index])
        done = decrement < _DECREMENT_TOL
        converged[index[done]] = True
        active[index[done]] = False
        index, step = index[~done], step[~done]

        # Backtrack each point until its objective drops enough.
        searching = np.ones(index.size, dtype=bool)
        length = 1.0
        for _ in range(_MAX_HALVINGS):
            if not searching.any():
                break
            rows = index[searching]
            trial = _clip(theta[rows] + length * step[searching])
            mask = np.zeros(theta.shape[0], dtype=bool)
            mask[rows] = True
            sub = seg.subset(mask)
            new_obj, new_grad, new_hess = _penalised(sub, trial, prior)
            gain = np.sum(grad[rows] * (trial - theta[rows]), axis=1)
            ok = np.isfinite(new_obj) & (new_obj <= objective[rows] + 1e-4 * gain)
            accepted = rows[ok]
            theta[accepted] = trial[ok]
            objective[accepted] = new_obj[ok]
            grad[accepted] = new_grad[ok]
            hess[accepted] = new_hess[ok]
            searching[np.flatnonzero(searching)[ok]] = False
            length *= 0.5

        # No decrease at a tiny step: numerically stationary.
        stalled = index[searching]
        active[stalled] = False
        converged[stalled] = True
    return theta, objective, converged


def _information(m: _Moments, sigma2: FloatArray) -> NDArray[np.float64]:
    """Observed information of the full NLL in (c', alpha, log sigma', beta).

    Shape ``(n_points, 4, 4)``; analytic second derivatives of
    ``sum_i [log sigma - beta t_i / 2 + w_i r_i^2 / (2 sigma^2)]``.
    """
    q = 1.0 / sigma2
    info = np.empty((sigma2.size, 4, 4))
    entries = {
        (0, 0): q * m.uu,
        (0, 1): -q * (m.c * m.tuu - m.tur),
        (0, 2): 2 * q * m.ur,
        (0, 3): -q * m.tur,
        (1, 1): q * m.c * (m.c * m.ttuu - m.ttur),
        (1, 2): -2 * q * m.c * m.tur,
        (1, 3): q * m.c * m.ttur,
        (2, 2): 2 * q * m.rr,
        (2, 3): -q * m.trr,
        (3, 3): 0.5 * q * m.ttrr,
    }
    for (i, j), value in entries.items():
        info[:, i, j] = info[:, j, i] = value
    return info


def _covariance(info: NDArray[np.float64]) -> NDArray[np.float64]:
    """Invert a stack of information matrices, guarding singular ones.

    Eigenvalues below ``1e-12`` times the largest (or negative ones, off
    an interior optimum) are raised to that floor, so weakly identified
    directions get large but finite variances.
    """
    info = np.nan_to_num(info, nan=0.0, posinf=0.0, neginf=0.0)
    values, vectors = np.linalg.eigh(info)
    top = np.maximum(np.abs(values[:, -1:]), 1e-300)
    values = np.maximum(values, 1e-12 * top)
    cov = np.einsum("pik,pk,pjk->pij", vectors, 1.0 / values, vectors)
    return np.asarray(cov, dtype=np.float64)


def _to_original(
    prep: _Prepared,
    c_scaled: FloatArray,
    alpha: FloatArray,
    sigma2_scaled: FloatArray,
    beta: FloatArray,
    cov: NDArray[np.float64] | None,
) -> dict[str, FloatArray]:
    """Undo centring and scaling; propagate (c', alpha) covariance.

    ``c = s c' K^alpha`` and ``sigma = s sigma' K^(beta / 2)``, with ``s``
    the delta scale and ``K`` the geometric mean size of the point.
    ``cov`` holds the covariance of (c', alpha) blocks, shape
    ``(n_points, 2, 2)``; ``None`` means no information.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        unit = prep.scale * np.exp(alpha * prep.log_ref)
        c = c_scaled * unit
        sigma = prep.scale * np.sqrt(sigma2_scaled) * np.exp(0.5 * beta * prep.log_ref)
        if cov is None:
            c_se = _NO_INFORMATION * (np.abs(c) + unit)
            alpha_se = np.full_like(c, _NO_INFORMATION)
            c_alpha_cov = np.zeros_like(c)
        else:
            slope = c * prep.log_ref
            var_c = (
                unit**2 * cov[:, 0, 0]
                + 2 * unit * slope * cov[:, 0, 1]
                + slope**2 * cov[:, 1, 1]
            )
            c_se = np.sqrt(np.maximum(var_c, 0.0))
            alpha_se = np.sqrt(np.maximum(cov[:, 1, 1], 0.0))
            c_alpha_cov = unit * cov[:, 0, 1] + slope * cov[:, 1, 1]
    big = np.finfo(np.float64).max
    out = {
        "c": c,
        "alpha": alpha,
        "sigma": sigma,
        "beta": beta,
        "c_se": c_se,
        "alpha_se": alpha_se,
        "c_alpha_cov": c_alpha_cov,
    }
    return {
        k: np.nan_to_num(v, nan=big, posinf=big, neginf=-big) for k, v in out.items()
    }


def _mean_nll(prep: _Prepared, rr: FloatArray, sigma2: FloatArray) -> FloatArray:
    """Mean Gaussian NLL per observation in the original delta units.

    ``rr`` is ``sum w r^2`` in scaled coordinates; centring makes the
    ``-beta log(k) / 2`` term vanish, and scaling adds ``log s``.
    """
    counts = prep.segments.counts
    nll = (
        0.5 * np.log(2 * np.pi)
        + 0.5 * np.log(sigma2)
        + 0.5 * rr / (counts * sigma2)
        + np.log(prep.scale)
    )
    return np.asarray(nll, dtype=np.float64)


def fit_likelihood(
    codes: IntArray,
    sizes: FloatArray,
    deltas: FloatArray,
    n_points: int,
    prior: Prior | None = None,
) -> LawArrays:
    """Fit the four-parameter noise model to every point by maximum likelihood.

    Array-level engine behind ``fit_laws(..., method="likelihood")``; its
    arguments are trusted, so validate them first (``fit_laws`` does).

    Parameters
    ----------
    codes : ndarray of int, shape (n_obs,)
        Point of each observation, in ``0 .. n_points - 1``; every code
        occurs at least once.
    sizes : ndarray of float, shape (n_obs,)
        Training-set size ``k > 0`` of each observation.
    deltas : ndarray of float, shape (n_obs,)
        Finite marginal contributions (loss without minus loss with).
    n_points : int
        Number of points.
    prior : Prior, optional
        Normal priors on ``log(alpha)`` and ``beta``; with one, the
        estimates maximise the posterior instead of the likelihood, and
        the standard errors include the prior's curvature. None (the
        default) is plain maximum likelihood.

    Returns
    -------
    LawArrays
        Estimates of shape ``(n_points,)``, NaN-free and finite. ``nll``
        is the likelihood's part of the objective, without the prior.

    Notes
    -----
    For fixed ``(alpha, beta)``, with ``u = k^-alpha`` and ``w = k^beta``,
    ``c* = sum(w u d) / sum(w u^2)`` and
    ``sigma*^2 = mean(w (d - c* u)^2)``, so the mean negative
    log-likelihood is ``0.5 log sigma*^2 - beta mean(log k) / 2`` plus
    constants (``k`` is centred at its geometric mean per point, so the
    last term vanishes). It is minimised over ``alpha`` in ``ALPHA_BOUNDS``
    and ``beta`` in ``BETA_BOUNDS``: a grid with steps of 0.5 in both gives
    up to four starts per point (its best local minima and the best cell
    of each alpha edge, since profiles are often nearly flat in alpha),
    then projected Newton steps with backtracking run from every start
    until the Newton decrement drops below 1e-12, and the best optimum is
    kept. Standard errors come from the analytic observed information over
    ``(c, alpha, log sigma, beta)``; eigenvalues below 1e-12 of the largest
    are raised to that floor before inversion, so weakly identified
    directions get large but finite errors.

    Points with fewer than four observations, a single distinct size or
    constant deltas get the fallback law ``alpha = 1``, ``beta = 2`` with
    ``c`` and ``sigma`` profiled, ``converged = False``, and standard errors
    of ``1e6`` times the parameter's natural scale.

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.laws.likelihood import fit_likelihood
    >>> rng = np.random.default_rng(0)
    >>> sizes = rng.integers(100, 1000, size=400).astype(float)
    >>> deltas = 2.0 * sizes**-1.0 * (1 + 0.5 * rng.standard_normal(400))
    >>> law = fit_likelihood(np.zeros(400, dtype=int), sizes, deltas, 1)
    >>> bool(abs(law.alpha[0] - 1.0) < 0.2)
    True
    """
    prep = _prepare(codes, sizes, deltas, n_points)
    seg = prep.segments
    fit_mask = prep.flag == FLAG_OK

    # Fit the identifiable points: grid start, then Newton.
    alpha = np.full(n_points, _FALLBACK_ALPHA)
    beta = np.full(n_points, 2 * _FALLBACK_ALPHA)
    converged = np.zeros(n_points, dtype=bool)
    if fit_mask.any():
        sub = seg.subset(fit_mask)
        rows, start = _grid_starts(sub, prior)
        theta, objective, done = _optimise(sub.take(rows), start, prior)

        # Keep the best optimum of every point's starts.
        order = np.lexsort((np.nan_to_num(objective, nan=np.inf), rows))
        first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        alpha[fit_mask], beta[fit_mask] = theta[first, 0], theta[first, 1]
        converged[fit_mask] = done[first]

    # Profile c and sigma at the final (alpha, beta) of every point.
    m = _moments(seg, alpha, beta)
    sigma2 = _variance(np.nan_to_num(m.rr), seg.counts)
    c_scaled = np.nan_to_num(m.c)
    info = _information(m, sigma2)
    if prior is not None:
        curvature = prior.penalty(alpha, beta)[2]
        info[:, 1, 1] += curvature[:, 0, 0]
        info[:, 3, 3] += curvature[:, 1, 1]
    cov = _covariance(info)[:, :2, :2]
    law = _to_original(prep, c_scaled, alpha, sigma2, beta, cov)
    fallback = _to_original(prep, c_scaled, alpha, sigma2, beta, None)
    for key in ("c_se", "alpha_se", "c_alpha_cov"):
        law[key] = np.where(fit_mask, law[key], fallback[key])

    # Flags: fallback reasons first, then edges and stalls.
    flag = prep.flag.copy()
    on_edge = (
        (alpha <= ALPHA_BOUNDS[0] + _BOUND_TOL)
        | (alpha >= ALPHA_BOUNDS[1] - _BOUND_TOL)
        | (beta <= BETA_BOUNDS[0] + _BOUND_TOL)
        | (beta >= BETA_BOUNDS[1] - _BOUND_TOL)
    )
    flag[fit_mask & ~converged] = FLAG_NOT_CONVERGED
    flag[fit_mask & on_edge] = FLAG_AT_BOUND
    return LawArrays(
        **law,
        n_obs=seg.counts.astype(np.int64),
        n_sizes=prep.n_sizes.astype(np.int64),
        nll=_mean_nll(prep, np.nan_to_num(m.rr), sigma2),
        converged=converged,
        flag=flag,
        extra={},
    )
