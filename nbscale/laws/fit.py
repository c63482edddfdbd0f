"""The DataFrame front door of the per-point estimators: :func:`fit_laws`."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd

from nbscale.exceptions import LawFitWarning
from nbscale.laws.likelihood import FLAG_OK, LawArrays, fit_likelihood
from nbscale.laws.loglinear import fit_loglinear

__all__ = ["LAW_COLUMNS", "fit_laws"]

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


def fit_laws(
    observations: pd.DataFrame, method: str = "likelihood", *, warn: bool = True
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
        ``method`` is unknown, or ``"loglinear"`` finds no repeated sizes.

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
    observed information of the full likelihood. See Covert et al.,
    "Scaling Laws for the Value of Individual Data Points in Machine
    Learning", ICML 2024, section 3.

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
    codes, labels, sizes, deltas = _check_observations(observations)

    # Fit.
    estimator = fit_likelihood if method == "likelihood" else fit_loglinear
    arrays = estimator(codes, sizes, deltas, len(labels))
    laws = _assemble(arrays, labels)

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
            stacklevel=2,
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
