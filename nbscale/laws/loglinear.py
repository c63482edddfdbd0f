"""Log-space least-squares fit of individualized scaling laws.

The estimator of Covert et al. (ICML 2024, section 3, item 1): average the
observed contributions of a point at each size it was observed at
repeatedly, regress ``log |mean delta|`` on ``-log k`` (the slope is
``alpha``), then fit ``c`` to the raw observations with ``alpha`` held
fixed, which keeps its sign. It is simple and transparent, but it needs
sizes that repeat: with sizes drawn uniformly from a range almost none do,
and :func:`fit_loglinear` refuses rather than fit noise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma

from nbscale.laws.likelihood import (
    ALPHA_BOUNDS,
    BETA_BOUNDS,
    FLAG_AT_BOUND,
    FLAG_OK,
    LawArrays,
    _mean_nll,
    _prepare,
    _Segments,
    _to_original,
    _variance,
)

__all__ = ["fit_loglinear"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

FLAG_NO_REPEATS = "no_repeated_sizes"
FLAG_NO_VARIANCE_TREND = "no_variance_trend"

_FALLBACK_ALPHA = 1.0


class _Groups:
    """Observations of one point at one size, as arrays of shape (n_groups,).

    ``point`` is the local point code, ``t`` the centred log size, ``n`` the
    count, ``mean`` and ``var`` (ddof 1, zero for single observations) the
    scaled deltas' moments.
    """

    def __init__(self, seg: _Segments) -> None:
        first = np.ones(seg.codes.size, dtype=bool)
        first[1:] = (seg.codes[1:] != seg.codes[:-1]) | (seg.t[1:] != seg.t[:-1])
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1

        self.point = seg.codes[starts]
        self.t = seg.t[starts]
        self.n = np.diff(np.append(starts, seg.codes.size))
        self.mean = np.add.reduceat(seg.d, starts) / self.n
        squares = np.add.reduceat((seg.d - self.mean[group]) ** 2, starts)
        self.var = squares / np.maximum(self.n - 1, 1)


def _per_point(point: IntArray, values: FloatArray, n_points: int) -> FloatArray:
    """Sum ``values`` within each point (codes need not be sorted)."""
    return np.bincount(point, values, n_points).astype(np.float64)


def _ols(
    point: IntArray, x: FloatArray, y: FloatArray, n_points: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.int64]]:
    """Per-point simple regression of ``y`` on ``x``, grouped by ``point``.

    Returns the slope, the intercept at ``x = 0``, R², the centred
    ``sum (x - mean x)^2`` and the number of pairs; points with fewer than
    two distinct ``x`` get slope 0.
    """
    count = np.bincount(point, minlength=n_points).astype(np.int64)
    safe = np.maximum(count, 1)
    x_mean = _per_point(point, x, n_points) / safe
    y_mean = _per_point(point, y, n_points) / safe
    dx, dy = x - x_mean[point], y - y_mean[point]
    sxx = _per_point(point, dx * dx, n_points)
    sxy = _per_point(point, dx * dy, n_points)
    syy = _per_point(point, dy * dy, n_points)

    valid = sxx > 0
    slope = np.where(valid, sxy / np.where(valid, sxx, 1.0), 0.0)
    intercept = y_mean - slope * x_mean
    r2 = np.where(syy > 0, slope * sxy / np.where(syy > 0, syy, 1.0), 1.0)
    return slope, intercept, np.clip(r2, 0.0, 1.0), sxx, count


def fit_loglinear(
    codes: IntArray, sizes: FloatArray, deltas: FloatArray, n_points: int
) -> LawArrays:
    """Fit scaling laws by least squares in log space, for every point.

    Array-level engine behind ``fit_laws(..., method="loglinear")``; its
    arguments are trusted, so validate them first (``fit_laws`` does).

    Parameters
    ----------
    codes : ndarray of int, shape (n_obs,)
        Point of each observation, in ``0 .. n_points - 1``; every code
        occurs at least once.
    sizes : ndarray of float, shape (n_obs,)
        Training-set size ``k > 0`` of each observation.
    deltas : ndarray of float, shape (n_obs,)
        Finite marginal contributions.
    n_points : int
        Number of points.

    Returns
    -------
    LawArrays
        Estimates of shape ``(n_points,)``, NaN-free and finite, with the
        log-space R² in ``extra["r2_log"]``.

    Raises
    ------
    ValueError
        If no point has at least two distinct sizes each observed at least
        twice.

    Notes
    -----
    Only sizes observed at least twice with a nonzero mean enter the
    log-space regression, unweighted: ``log |mean_k| = a - alpha log k``.
    Then ``c = sum(d k^-alpha) / sum(k^-2 alpha)`` over the raw
    observations. ``beta`` and ``sigma`` come from regressing the log
    sample variance at each repeated size (corrected for the bias of a
    log chi-square) on ``log k``; without two positive variances,
    ``beta = 2 alpha`` and ``sigma`` is fitted to the residuals (flag
    ``no_variance_trend``). Estimates are clipped to the search box of the
    likelihood method (flag ``at_bound``).

    Standard errors use the delta method: ``var(log |mean_k|)`` is about
    ``var_k / (n_k mean_k^2)``, propagated through the regression weights;
    ``c`` gets a residual-based (sandwich) variance given ``alpha`` plus
    ``(dc/dalpha)^2 var(alpha)``, treating the two as independent.

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.laws.loglinear import fit_loglinear
    >>> rng = np.random.default_rng(0)
    >>> sizes = np.repeat([100.0, 200.0, 400.0, 800.0], 50)
    >>> deltas = 5.0 * sizes**-1.5 * (1 + 0.5 * rng.standard_normal(200))
    >>> law = fit_loglinear(np.zeros(200, dtype=int), sizes, deltas, 1)
    >>> bool(abs(law.alpha[0] - 1.5) < 0.2), law.flag.tolist()
    (True, ['ok'])
    """
    prep = _prepare(codes, sizes, deltas, n_points)
    seg = prep.segments
    groups = _Groups(seg)

    # The estimator needs repeated sizes somewhere.
    repeated = groups.n >= 2
    n_repeated = np.bincount(groups.point[repeated], minlength=n_points)
    if n_repeated.max(initial=0) < 2:
        raise ValueError(
            "observations: method='loglinear' needs sizes observed repeatedly, "
            "but no point has two distinct sizes observed at least twice each. "
            "Sample an explicit list of sizes or use schedule='geometric', or "
            "use method='likelihood', which works with any sizes."
        )

    # Log-space regression over repeated sizes with a nonzero mean.
    usable = repeated & (groups.mean != 0)
    g_point, g_t = groups.point[usable], groups.t[usable]
    g_mean, g_var, g_n = groups.mean[usable], groups.var[usable], groups.n[usable]
    slope, _, r2, sxx, n_usable = _ols(g_point, -g_t, np.log(np.abs(g_mean)), n_points)
    fitted = (prep.flag == FLAG_OK) & (n_usable >= 2)
    alpha = np.where(fitted, slope, _FALLBACK_ALPHA)

    # Delta-method variance of the slope.
    x_mean = _per_point(g_point, -g_t, n_points) / np.maximum(n_usable, 1)
    weight = (-g_t - x_mean[g_point]) / np.where(sxx > 0, sxx, 1.0)[g_point]
    var_y = g_var / (g_n * g_mean**2)
    var_alpha = _per_point(g_point, weight**2 * var_y, n_points)

    # Clip to the likelihood method's box.
    clipped = (alpha < ALPHA_BOUNDS[0]) | (alpha > ALPHA_BOUNDS[1])
    alpha = np.clip(alpha, *ALPHA_BOUNDS)

    # c from the raw observations, keeping the sign.
    with np.errstate(over="ignore", invalid="ignore"):
        u = np.exp(-alpha[seg.codes] * seg.t)
        suu = seg.sum(u * u)
        c_scaled = np.nan_to_num(seg.sum(seg.d * u) / suu)
        r = seg.d - c_scaled[seg.codes] * u
        var_c_given_alpha = seg.sum(u * u * r * r) / suu**2
        dc_dalpha = (
            -seg.sum(seg.d * seg.t * u) + 2 * c_scaled * seg.sum(seg.t * u * u)
        ) / suu
    dc_dalpha = np.nan_to_num(dc_dalpha)

    # Noise: log variance against log size, bias-corrected.
    beta, sigma2, has_noise = _noise_trend(groups, alpha, n_points)
    has_noise &= fitted
    beta = np.where(fitted, beta, 2 * _FALLBACK_ALPHA)
    with np.errstate(over="ignore"):
        w = np.exp(beta[seg.codes] * seg.t)
    rr = np.nan_to_num(seg.sum(w * r * r))
    sigma2 = np.where(has_noise, sigma2, _variance(rr, seg.counts))
    clipped |= (beta <= BETA_BOUNDS[0]) | (beta >= BETA_BOUNDS[1])

    # Back to original units, with fallback errors where needed.
    cov = np.empty((n_points, 2, 2))
    cov[:, 0, 0] = var_c_given_alpha + dc_dalpha**2 * var_alpha
    cov[:, 0, 1] = cov[:, 1, 0] = dc_dalpha * var_alpha
    cov[:, 1, 1] = var_alpha
    cov = np.nan_to_num(cov)
    law = _to_original(prep, c_scaled, alpha, sigma2, beta, cov)
    fallback = _to_original(prep, c_scaled, alpha, sigma2, beta, None)

    # Flags: the shared fallback reasons first.
    flag = prep.flag.copy()
    flag[(flag == FLAG_OK) & ~fitted] = FLAG_NO_REPEATS
    flag[fitted & ~has_noise] = FLAG_NO_VARIANCE_TREND
    flag[fitted & clipped] = FLAG_AT_BOUND
    for key in ("c_se", "alpha_se", "c_alpha_cov"):
        law[key] = np.where(fitted, law[key], fallback[key])
    return LawArrays(
        **law,
        n_obs=seg.counts.astype(np.int64),
        n_sizes=prep.n_sizes.astype(np.int64),
        nll=_mean_nll(prep, rr, sigma2),
        converged=fitted,
        flag=flag,
        extra={"r2_log": np.where(fitted, r2, 0.0)},
    )


def _noise_trend(
    groups: _Groups, alpha: FloatArray, n_points: int
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """``beta`` and ``sigma'^2`` from per-size variances, where possible.

    ``E[log s^2] = log sigma^2 + digamma(nu / 2) - log(nu / 2)`` for a
    sample variance with ``nu`` degrees of freedom, so that offset is
    removed before regressing on the centred log size.
    """
    usable = (groups.n >= 2) & (groups.var > 0)
    nu = groups.n[usable] - 1.0
    log_var = np.log(groups.var[usable]) - digamma(nu / 2) + np.log(nu / 2)
    slope, intercept, _, _, count = _ols(
        groups.point[usable], groups.t[usable], log_var, n_points
    )
    has_noise = count >= 2
    beta = np.clip(np.where(has_noise, -slope, 2 * alpha), *BETA_BOUNDS)
    sigma2 = np.exp(np.clip(intercept, -700.0, 700.0))
    return beta, sigma2, has_noise
