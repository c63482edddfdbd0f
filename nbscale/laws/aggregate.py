"""The dataset-level scaling curve ``loss(k) = epsilon + C * k**-a``.

Where :func:`nbscale.laws.fit_laws` describes single points, this module
describes the whole dataset: how the validation loss of a model trained on
``k`` points falls with ``k``. It doubles as a sanity check, since the
average point should decay with ``alpha`` close to ``a + 1`` (PAPER.md,
section 1).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from nbscale.exceptions import LawFitWarning, user_stacklevel

__all__ = ["fit_aggregate"]

FloatArray = NDArray[np.float64]

_A_BOUNDS = (1e-2, 10.0)
_A_GRID = np.geomspace(0.01, 5.0, 60)
# Smallest standard error a size may claim, relative to the median size's.
_SE_FLOOR = 1e-3


def fit_aggregate(
    sizes: ArrayLike, losses: ArrayLike, *, warn: bool = True
) -> pd.DataFrame:
    """Fit the dataset-level law ``loss(k) = epsilon + C * k**-a``.

    Parameters
    ----------
    sizes : array-like of float, shape (n_fits,)
        Training-set size ``k > 0`` of each model fit.
    losses : array-like of float, shape (n_fits,)
        Finite validation loss of each fit.
    warn : bool, default=True
        Issue a :class:`~nbscale.LawFitWarning` when the law cannot be
        fitted (``attrs["converged"]`` says so either way).

    Returns
    -------
    DataFrame
        Indexed by ``size`` (float64, sorted, one row per distinct size),
        columns:

        - ``loss`` (float64): mean loss at the size.
        - ``loss_se`` (float64): its standard error; sizes seen once use
          the pooled within-size sd, and NaN when no size repeats.
        - ``n_obs`` (int64): fits at the size.
        - ``fitted`` (float64): the fitted law at the size, or ``loss``
          when the fit failed.

        ``attrs`` holds ``epsilon``, ``C``, ``a`` (floats, NaN after a
        failure) and ``converged`` (bool).

    Raises
    ------
    TypeError
        If ``sizes`` or ``losses`` are not numeric.
    ValueError
        If they are not one-dimensional, differ in length, are empty, or
        hold non-finite values or non-positive sizes.

    Warns
    -----
    LawFitWarning
        When the law could not be fitted (fewer than three distinct sizes,
        or the optimiser failed); nothing is raised.

    Notes
    -----
    Weighted nonlinear least squares on the per-size means, weights
    ``n_obs / sd(k)^2``, where ``sd(k)`` is a power law fitted in log
    space to the per-size sds of the sizes that repeat: a per-size sd from
    a few fits is too noisy to weight by. With fewer than three repeated
    sizes the weights are ``1 / loss_se^2`` (uniform without standard
    errors), each error floored at 1e-3 of the median one, and a size
    whose losses show no spread (fits that share one subset) takes the
    median error. Bounds
    ``C >= 0`` and ``a`` in ``[0.01, 10]``. The size is measured relative
    to its geometric mean during the fit for conditioning; a grid over
    ``a`` with ``epsilon`` and ``C`` solved linearly gives the start of
    :func:`scipy.optimize.least_squares`.

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.laws import fit_aggregate
    >>> sizes = np.repeat([100.0, 200.0, 400.0, 800.0], 3)
    >>> noise = np.tile([-0.001, 0.0, 0.001], 4)
    >>> curve = fit_aggregate(sizes, 0.1 + 2.0 * sizes**-0.5 + noise)
    >>> curve.columns.tolist()
    ['loss', 'loss_se', 'n_obs', 'fitted']
    >>> round(curve.attrs["a"], 2), curve.attrs["converged"]
    (0.5, True)
    """
    sizes_, losses_ = _check_inputs(sizes, losses)

    # Per-size summaries.
    table = pd.DataFrame({"size": sizes_, "loss": losses_}).groupby("size")
    n_obs = table["loss"].count().to_numpy(dtype=np.int64)
    mean = table["loss"].mean().to_numpy(dtype=np.float64)
    sd = table["loss"].std(ddof=1).to_numpy(dtype=np.float64)
    unique = table["loss"].mean().index.to_numpy(dtype=np.float64)
    loss_se = _standard_errors(n_obs, sd)

    # Fit, or fall back to the means.
    params, reason = _fit(unique, mean, _weighting_errors(unique, n_obs, sd))
    if params is None:
        fitted = mean.copy()
        if warn:
            warnings.warn(
                f"fit_aggregate: the law loss(k) = epsilon + C k^-a could not "
                f"be fitted ({reason}); 'fitted' repeats the per-size means.",
                LawFitWarning,
                stacklevel=user_stacklevel(),
            )
        attrs = {"epsilon": np.nan, "C": np.nan, "a": np.nan, "converged": False}
    else:
        epsilon, big_c, a = params
        fitted = epsilon + big_c * unique**-a
        attrs = {"epsilon": epsilon, "C": big_c, "a": a, "converged": True}

    curve = pd.DataFrame(
        {"loss": mean, "loss_se": loss_se, "n_obs": n_obs, "fitted": fitted},
        index=pd.Index(unique, name="size"),
    )
    curve.attrs.update(attrs)
    return curve


def _check_inputs(sizes: ArrayLike, losses: ArrayLike) -> tuple[FloatArray, ...]:
    """Validate the two arrays; return them as float64."""
    arrays = []
    for name, value in (("sizes", sizes), ("losses", losses)):
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(
                f"{name}: expected an array of numbers, got dtype {str(array.dtype)!r}"
            )
        if array.ndim != 1 or array.size == 0:
            raise ValueError(
                f"{name}: expected a non-empty one-dimensional array, got "
                f"shape {array.shape!r}"
            )
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise ValueError(
                f"{name}: expected finite numbers, got "
                f"{array[~np.isfinite(array)][0]!r}"
            )
        arrays.append(array)
    if arrays[0].size != arrays[1].size:
        raise ValueError(
            f"losses: expected one loss per size ({arrays[0].size}), got "
            f"{arrays[1].size}"
        )
    if not (arrays[0] > 0).all():
        raise ValueError(
            f"sizes: expected positive sizes, got {arrays[0][arrays[0] <= 0][0]!r}"
        )
    return tuple(arrays)


def _weighting_errors(
    sizes: FloatArray, n_obs: NDArray[np.int64], sd: FloatArray
) -> FloatArray:
    """Standard errors for the fit's weights, from a smooth model of the sd.

    The spread of the losses changes slowly with the size, but the sd of
    two or three fits at one size is itself very noisy: weighting by it
    lets a size whose few losses happen to agree pull the curve through
    itself. A power law ``sd(k)`` fitted robustly (Theil-Sen) in log
    space to the sizes that repeat replaces the per-size sd; with fewer
    than three such sizes the per-size errors are used.
    """
    repeated = (n_obs >= 2) & (sd > 0)  # sizes are distinct here
    if repeated.sum() < 3:
        return _standard_errors(n_obs, sd)
    from scipy.stats import theilslopes

    # Theil-Sen: a size whose few losses agree by chance is an outlier in
    # log sd, and must not drag the line (least squares would).
    slope, intercept, _, _ = theilslopes(np.log(sd[repeated]), np.log(sizes[repeated]))
    modelled = np.exp(intercept + slope * np.log(sizes))
    return modelled / np.sqrt(n_obs)


def _standard_errors(n_obs: NDArray[np.int64], sd: FloatArray) -> FloatArray:
    """Standard error of each mean; singletons borrow the pooled sd."""
    repeated = n_obs >= 2
    if not repeated.any():
        return np.full(n_obs.size, np.nan)
    dof = n_obs[repeated] - 1
    pooled = np.sqrt(np.sum(dof * sd[repeated] ** 2) / np.sum(dof))
    sd = np.where(repeated, sd, pooled)
    return sd / np.sqrt(n_obs)


def _fit(
    sizes: FloatArray, mean: FloatArray, loss_se: FloatArray
) -> tuple[tuple[float, float, float] | None, str]:
    """Weighted least squares for ``(epsilon, C, a)``; None on failure."""
    if sizes.size < 3:
        return None, f"{sizes.size} distinct sizes, at least 3 needed"

    # Weights: inverse standard errors, floored so no size dominates. A
    # size whose fits all share one subset shows no spread at all, which
    # says nothing about its precision: it gets the median error.
    positive = loss_se[np.isfinite(loss_se) & (loss_se > 0)]
    if positive.size:
        typical = np.median(positive)
        floor = _SE_FLOOR * typical
        scale = np.where(loss_se > 0, np.maximum(loss_se, floor), typical)
        scale = np.nan_to_num(scale, nan=typical)
    else:
        scale = np.ones_like(mean)
    weight = 1.0 / scale

    # Start: for each a on a grid, epsilon and C' >= 0 solve linearly.
    x = sizes / np.exp(np.mean(np.log(sizes)))
    best = (np.inf, 0.0, 0.0, 1.0)
    for a in _A_GRID:
        basis = x**-a
        design = np.stack([np.ones_like(x), basis], axis=1) * weight[:, None]
        coef = np.linalg.lstsq(design, mean * weight, rcond=None)[0]
        if coef[1] < 0:
            coef = np.array([np.average(mean, weights=weight**2), 0.0])
        cost = np.sum((weight * (coef[0] + coef[1] * basis - mean)) ** 2)
        if cost < best[0]:
            best = (cost, coef[0], coef[1], a)

    # Refine all three together.
    def residuals(p: FloatArray) -> FloatArray:
        model = p[0] + p[1] * x ** -p[2]
        return np.asarray(weight * (model - mean), dtype=np.float64)

    try:
        result = least_squares(
            residuals,
            np.array(best[1:]),
            bounds=([-np.inf, 0.0, _A_BOUNDS[0]], [np.inf, np.inf, _A_BOUNDS[1]]),
        )
    except (ValueError, np.linalg.LinAlgError) as err:
        return None, f"least_squares failed: {err}"
    epsilon, c_rel, a = (float(v) for v in result.x)
    big_c = c_rel * float(np.exp(a * np.mean(np.log(sizes))))
    if not (result.success and np.isfinite([epsilon, big_c, a]).all()):
        return None, f"least_squares did not converge: {result.message}"
    return (epsilon, big_c, a), ""
