"""The DataFrame front door of the per-point estimators: :func:`fit_laws`."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd

from nbscale.exceptions import LawFitWarning, user_stacklevel
from nbscale.laws.likelihood import FLAG_OK, LawArrays, Prior, fit_likelihood
from nbscale.laws.loglinear import fit_loglinear

__all__ = ["LAW_COLUMNS", "empirical_prior", "fit_laws"]

LAW_COLUMNS = [
    "c",
    "alpha",
    "sigma",
    "beta",
    "c_se",
    "alpha_se",
    "c_alpha_cov",
    "n_obs",
    "n_sizes",
    "nll",
    "converged",
    "flag",
]
"""Columns of :func:`fit_laws`, in order (``"loglinear"`` adds ``r2_log``)."""

_REQUIRED = ["point", "size", "delta"]
_METHODS = ("likelihood", "loglinear")

# Empirical priors: enough well-fitted points to learn from, and floors on
# the spreads so that a study of near-identical points does not pin every
# law to one value.
_MIN_PRIOR_POINTS = 10
_MIN_LOG_ALPHA_SD = 0.25
_MIN_BETA_SD = 0.5


def fit_laws(
    observations: pd.DataFrame,
    method: str = "likelihood",
    *,
    prior: str | Prior | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """Fit the scaling law ``psi_k = c * k**-alpha`` of every data point.

    Parameters
    ----------
    observations : DataFrame
        One row per observation with columns ``point`` (hashable labels,
        for example ints or strings), ``size`` (the training-set size
        ``k``, positive numbers) and ``delta`` (finite floats: validation
        loss without the point minus loss with it, so positive helps).
        Other columns are ignored.
    method : {"likelihood", "loglinear"}, default="likelihood"
        ``"likelihood"`` maximises the likelihood of the noise model
        ``delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` and works with any
        sizes. ``"loglinear"`` regresses ``log |mean delta|`` on ``-log k``
        and needs sizes observed repeatedly (an explicit list of sizes or
        ``schedule="geometric"`` when sampling).
    prior : {None, "empirical"} or Prior, default=None
        ``"likelihood"`` only. None is plain maximum likelihood.
        ``"empirical"`` fits every point once by maximum likelihood, takes
        the median and spread of ``log(alpha)`` and ``beta`` over the
        well-fitted points as normal priors, and fits again maximising the
        posterior (empirical Bayes): a point with few or very noisy
        observations is pulled towards the laws of the other points
        instead of an edge of the search box. With fewer than 10
        well-fitted points there is nothing to learn a prior from, and the
        plain fit stands. A :class:`~nbscale.laws.likelihood.Prior` fixes
        the priors. See Notes for when it helps.
    warn : bool, default=True
        Issue one :class:`~nbscale.LawFitWarning` when some laws are
        flagged. Pass False where the flags are read anyway, or in a
        background thread (``warnings.catch_warnings`` is not thread-safe).

    Returns
    -------
    DataFrame
        Indexed by ``point`` (the labels, sorted as ``pd.factorize(...,
        sort=True)`` sorts them, or in order of first appearance when they
        cannot be sorted), one row per point, columns in the order of
        ``LAW_COLUMNS``:

        - ``c`` (float64): scale of the law; negative for harmful points.
        - ``alpha`` (float64): decay exponent.
        - ``sigma``, ``beta`` (float64): noise scale and exponent, so the
          sd of delta at size ``k`` is ``sigma * k**(-beta / 2)``.
        - ``c_se``, ``alpha_se`` (float64): standard errors.
        - ``c_alpha_cov`` (float64): covariance of ``c`` and ``alpha``, for
          delta-method errors of derived values.
        - ``n_obs``, ``n_sizes`` (int64): observations and distinct sizes.
        - ``nll`` (float64): mean Gaussian negative log-likelihood per
          observation of the noise model at the estimates.
        - ``converged`` (bool): the estimator's own fit succeeded; False
          for fallback laws and stalled optimisations.
        - ``flag`` (str): ``"ok"`` or why the row deserves caution.
        - ``r2_log`` (float64, ``"loglinear"`` only): R² of the log-space
          regression, 0 where it could not run.

        No value is NaN or infinite.

    Raises
    ------
    TypeError
        If ``observations`` is not a DataFrame or ``size`` / ``delta`` are
        not numeric.
    ValueError
        If columns are missing, there are no rows, a point label is
        missing, sizes are not finite and positive, deltas are not finite,
        ``method`` is unknown, ``prior`` is not one of its choices, or
        ``"loglinear"`` finds no repeated sizes.

    Warns
    -----
    LawFitWarning
        Once per call, with counts, when some rows are flagged. Silence
        it with ``warnings.simplefilter("ignore", nbscale.LawFitWarning)``.

    See Also
    --------
    nbscale.laws.fit_amortized : One network for every point's law.
    nbscale.apply.values : Valuation scores from the fitted laws.
    nbscale.apply.recommend : Points to add or remove at a size.

    Notes
    -----
    Flags: ``too_few_observations`` (fewer than 4), ``single_size``,
    ``zero_variance`` (every delta of the point equal), ``no_repeated_sizes``
    (``"loglinear"``: fewer than two usable repeated sizes) get the
    fallback law ``alpha = 1``, ``beta = 2`` with ``c`` and ``sigma`` fitted
    to the data, ``converged = False``, ``c_alpha_cov = 0`` and standard
    errors of ``1e6`` times the natural scale of the parameter (a finite
    stand-in for "unknown"). ``at_bound`` marks estimates on an edge of the
    search box, ``alpha`` in [1e-3, 8] and ``beta`` in [-4, 16]: a nearly
    flat law or too little signal. ``not_converged`` marks a Newton search
    that ran out of iterations; ``no_variance_trend`` (``"loglinear"``)
    marks ``beta = 2 alpha`` used for want of per-size variances.

    The likelihood fit profiles ``c`` and ``sigma`` out in closed form,
    ``c* = sum(w u d) / sum(w u^2)`` and ``sigma*^2 = mean(w (d - c* u)^2)``
    with ``u = k^-alpha`` and ``w = k^beta``, then minimises over
    ``(alpha, beta)`` for all points at once: a coarse grid, then bounded
    Newton steps from its best local minima. Standard errors come from the
    observed information of the full likelihood, plus the prior's
    curvature when there is one; ``attrs["prior"]`` records the prior used
    (a dict, or None).

    With few observations per point (about 10 or fewer), plain maximum
    likelihood often ends on the upper edge of ``alpha`` with an enormous
    ``c``: the data cannot rule out a curve that shoots up at the small
    end of the window, and values computed from such laws can be
    hundreds of times too large (they are flagged ``at_bound`` and carry
    large standard errors). ``prior="empirical"`` tames them. Measured
    (``benchmarks/fidelity/estimators.py``, breast cancer, 100 points
    against a 150-observation target): the R² of the values rises from
    -18 to -0.1 at 10 observations, and from 0.92 to 0.94 at 50, but the
    rank correlation falls slightly with many observations (0.885 to
    0.851 at 100), so it is not the default. On simulated laws with the
    paper's noise it helps at every count. For rankings from 10-30
    observations per point, ``Study.laws(method="amortized")`` or the
    plain mean of the observations are often better still.

    The noise model follows Covert et al., "Scaling Laws for the Value of
    Individual Data Points in Machine Learning", ICML 2024, section 3.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from nbscale.laws import fit_laws
    >>> rng = np.random.default_rng(0)
    >>> size = rng.integers(100, 1000, size=600)
    >>> point = np.repeat(["a", "b", "c"], 200)
    >>> c = np.repeat([3.0, 1.0, -2.0], 200)
    >>> mean = c * size**-1.0
    >>> delta = mean + np.abs(mean) * rng.standard_normal(600)
    >>> obs = pd.DataFrame({"point": point, "size": size, "delta": delta})
    >>> laws = fit_laws(obs)
    >>> laws.index.tolist(), bool(laws.loc["c", "c"] < 0)
    (['a', 'b', 'c'], True)
    >>> laws["flag"].tolist()
    ['ok', 'ok', 'ok']
    """
    # Validate once, here.
    if method == "amortized":
        raise ValueError(
            "method: 'amortized' needs the points' features; call "
            "nbscale.laws.fit_amortized(observations, features, labels) or "
            "Study.laws(method='amortized')"
        )
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {list(_METHODS)}, got {method!r}")
    if not (prior is None or prior == "empirical" or isinstance(prior, Prior)):
        raise ValueError(f"prior: expected 'empirical', None or a Prior, got {prior!r}")
    if prior is not None and method != "likelihood":
        raise ValueError(
            f"prior: applies to method='likelihood' only, got method={method!r} "
            f"with prior={prior!r}"
        )
    codes, labels, sizes, deltas = _check_observations(observations)

    # Fit; the empirical prior comes from a first, plain fit.
    # TODO(estimators): a prior that also keeps the ranking of points with
    # many observations (see Notes), so that it can become the default.
    used: Prior | None = None
    if method == "loglinear":
        arrays = fit_loglinear(codes, sizes, deltas, len(labels))
    else:
        used = prior if isinstance(prior, Prior) else None
        arrays = fit_likelihood(codes, sizes, deltas, len(labels), prior=used)
        if prior == "empirical":
            used = empirical_prior(arrays)
            if used is not None:
                arrays = fit_likelihood(codes, sizes, deltas, len(labels), used)
    laws = _assemble(arrays, labels)
    laws.attrs["prior"] = None if used is None else used._asdict()

    # Warn once, with counts, about rows that deserve caution.
    flagged = Counter(f for f in arrays.flag.tolist() if f != FLAG_OK)
    if flagged and warn:
        n_flagged = sum(flagged.values())
        reasons = ", ".join(f"{name}: {n}" for name, n in flagged.most_common())
        warnings.warn(
            f"fit_laws: {n_flagged} of {len(labels)} points could not be "
            f"fitted reliably ({reasons}); see the 'flag' column, and keep "
            "laws[laws.flag == 'ok'] or collect more observations.",
            LawFitWarning,
            stacklevel=user_stacklevel(),
        )
    return laws


def _check_observations(
    observations: pd.DataFrame,
) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Validate the observations; return codes, labels, sizes and deltas."""
    if not isinstance(observations, pd.DataFrame):
        raise TypeError(
            f"observations: expected a pandas DataFrame with columns "
            f"{_REQUIRED}, got {type(observations).__name__!r}"
        )
    missing = [name for name in _REQUIRED if name not in observations.columns]
    if missing:
        raise ValueError(
            f"observations: expected columns {_REQUIRED}, got "
            f"{list(observations.columns)!r}"
        )
    if len(observations) == 0:
        raise ValueError("observations: expected at least one row, got 0 rows")

    sizes = _numeric_column(observations, "size")
    deltas = _numeric_column(observations, "delta")
    if not (sizes > 0).all():
        bad = _plain(observations["size"].iloc[np.argmin(sizes > 0)])
        raise ValueError(
            f"observations['size']: expected positive training-set sizes, got {bad!r}"
        )

    # Encode the labels, sorted when they can be compared.
    points = observations["point"]
    try:
        codes, labels = pd.factorize(points, sort=True)
    except TypeError:
        codes, labels = pd.factorize(points, sort=False)
    if (codes < 0).any():
        raise ValueError(
            "observations['point']: expected a label on every row, got "
            f"{int((codes < 0).sum())} missing labels"
        )
    index = pd.Index(labels, name="point")
    return codes.astype(np.intp), index, sizes, deltas


def _numeric_column(observations: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric, finite column as float64."""
    column = observations[name]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise TypeError(
            f"observations[{name!r}]: expected numbers, got dtype {str(column.dtype)!r}"
        )
    values: np.ndarray = column.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            f"observations[{name!r}]: expected finite numbers, got "
            f"{int((~finite).sum())} non-finite values such as "
            f"{_plain(column.iloc[np.argmin(finite)])!r}"
        )
    return values


def _plain(value: object) -> object:
    """A numpy scalar as the Python scalar it holds, for messages."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _assemble(arrays: LawArrays, labels: pd.Index) -> pd.DataFrame:
    """Law arrays as the documented DataFrame."""
    columns: dict[str, np.ndarray] = {
        "c": arrays.c,
        "alpha": arrays.alpha,
        "sigma": arrays.sigma,
        "beta": arrays.beta,
        "c_se": arrays.c_se,
        "alpha_se": arrays.alpha_se,
        "c_alpha_cov": arrays.c_alpha_cov,
        "n_obs": arrays.n_obs.astype(np.int64),
        "n_sizes": arrays.n_sizes.astype(np.int64),
        "nll": arrays.nll,
        "converged": arrays.converged.astype(bool),
        "flag": arrays.flag.astype(str).astype(object),
    }
    columns.update(arrays.extra)
    return pd.DataFrame(columns, index=labels)


def empirical_prior(arrays: LawArrays) -> Prior | None:
    """Normal priors on ``log(alpha)`` and ``beta`` from a plain fit.

    Parameters
    ----------
    arrays : LawArrays
        A maximum-likelihood fit of every point.

    Returns
    -------
    Prior or None
        Centred at the medians over the points that are flagged ``ok`` and
        converged, with sds of 1.4826 times the median absolute deviation
        (the sd of a normal population, robust to the few wild estimates),
        floored at 0.25 for ``log(alpha)`` and 0.5 for ``beta``; None with
        fewer than 10 such points.

    Examples
    --------
    >>> import numpy as np
    >>> from nbscale.laws.fit import empirical_prior
    >>> from nbscale.laws.likelihood import fit_likelihood
    >>> rng = np.random.default_rng(0)
    >>> codes = np.repeat(np.arange(40), 50)
    >>> sizes = rng.integers(100, 1000, size=2000).astype(float)
    >>> deltas = sizes**-1.0 * (1 + rng.standard_normal(2000))
    >>> prior = empirical_prior(fit_likelihood(codes, sizes, deltas, 40))
    >>> bool(abs(np.exp(prior.log_alpha_mean) - 1.0) < 0.3)
    True
    """
    usable = (arrays.flag == FLAG_OK) & arrays.converged
    if usable.sum() < _MIN_PRIOR_POINTS:
        return None
    log_alpha, beta = np.log(arrays.alpha[usable]), arrays.beta[usable]

    def spread(values: np.ndarray) -> float:
        return float(1.4826 * np.median(np.abs(values - np.median(values))))

    return Prior(
        log_alpha_mean=float(np.median(log_alpha)),
        log_alpha_sd=max(spread(log_alpha), _MIN_LOG_ALPHA_SD),
        beta_mean=float(np.median(beta)),
        beta_sd=max(spread(beta), _MIN_BETA_SD),
    )
