"""What the fitted laws are for: valuation and subset recommendation.

With a law ``psi_k = c * k**-alpha`` per point (from
:func:`nbscale.laws.fit_laws`):

- :func:`values` scores each point by its mean expected contribution over
  a window of dataset sizes, a distributional, Data-Shapley-like value;
- :func:`recommend` ranks points by their expected contribution at one
  size, to add the most helpful or remove the most harmful.

Because ``alpha`` differs between points, rankings change with size: the
point worth most in a small dataset is not always the one worth most in a
large one (Covert et al., ICML 2024, section 4).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["recommend", "values"]

FloatArray = NDArray[np.float64]

_LAW_NEEDS = ["c", "alpha", "c_se", "alpha_se", "c_alpha_cov"]
_ACTIONS = ("add", "remove")

# Sizes summed term by term before the Euler-Maclaurin tail takes over.
_N_DIRECT = 64
# Bernoulli numbers B_2, B_4, ..., B_12 for the Euler-Maclaurin tail.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)
# Imaginary step of the complex-step derivative in alpha.
_STEP = 1e-20
# Entries of one block of the (points x sizes) matrix of weighted values.
_BLOCK_ENTRIES = 1 << 22


def values(
    laws: pd.DataFrame,
    sizes: tuple[int, int],
    weights: str | tuple[str, float, float] = "uniform",
) -> pd.DataFrame:
    """Value every point by its weighted mean expected contribution over sizes.

    Parameters
    ----------
    laws : DataFrame
        Output of :func:`nbscale.laws.fit_laws`; needs the columns ``c``,
        ``alpha``, ``c_se``, ``alpha_se`` and ``c_alpha_cov``.
    sizes : tuple (k_min, k_max) of int
        Inclusive window of training-set sizes, ``1 <= k_min <= k_max``.
    weights : "uniform", ("beta", a, b) or "beta(a, b)", default="uniform"
        How the sizes of the window are weighted. ``"uniform"`` gives every
        integer size the same weight. ``("beta", a, b)`` (or the string
        ``"beta(a, b)"``), with ``a, b > 0``, gives size ``k`` the mass of
        its cell ``[(k - k_min) / n, (k - k_min + 1) / n]`` of the window,
        ``n = k_max - k_min + 1``, under the density proportional to
        ``u**(b - 1) * (1 - u)**(a - 1)`` on ``u`` in [0, 1] (``u = 0`` at
        ``k_min``). The parameters follow Beta Shapley's: ``("beta", 16,
        1)`` weights the small end of the window most, ``("beta", 1, 16)``
        the large end, and ``("beta", 1, 1)`` is uniform.

    Returns
    -------
    DataFrame
        Indexed like ``laws``, columns ``value`` (float64) and ``stderr``
        (float64, delta-method standard error).

    Raises
    ------
    TypeError
        If ``laws`` is not a DataFrame or ``sizes`` is not a pair of ints.
    ValueError
        If columns are missing, the window is empty or below 1, or
        ``weights`` is unknown or has parameters that are not positive.

    Notes
    -----
    Uniform weights: ``value = c * S(alpha) / n`` with
    ``S(alpha) = sum_{k=k_min}^{k_max} k^-alpha`` over the
    ``n = k_max - k_min + 1`` integer sizes. The first 64 terms are
    summed directly and the rest by the Euler-Maclaurin formula with six
    Bernoulli corrections, accurate to about 1e-13
    relative for ``alpha`` up to about 20. ``S`` and ``dS/dalpha`` come
    together from one evaluation at complex ``alpha`` (complex-step
    differentiation), and

    ``stderr^2 = g_c^2 c_se^2 + 2 g_c g_a cov + g_a^2 alpha_se^2``

    with ``g_c = S / n`` and ``g_a = c S'(alpha) / n``.

    Beta weights: ``value = c * sum_k w_k k^-alpha`` with the cell masses
    ``w_k`` above (they sum to one), computed as one matrix product over
    the window's sizes, in blocks of points; the errors use
    ``g_c = sum_k w_k k^-alpha`` and ``g_a = -c sum_k w_k log(k) k^-alpha``.
    Its cost grows with the window's length (about a second for 10,000
    points over 10,000 sizes). See Kwon and Zou, "Beta Shapley", AISTATS
    2022, for the weighting of cardinalities this mirrors.

    A value is only as good as its law. With about ten observations per
    point, some likelihood laws end at the ``alpha`` edge of the search
    box with an enormous ``c`` (flag ``at_bound``), and their values can
    be hundreds of times too large; their ``stderr`` is usually huge too.
    Rank by value only among ``flag == "ok"`` rows, fit the laws with
    ``prior="empirical"`` (see :func:`nbscale.fit_laws`), or use
    ``method="amortized"`` when points have few observations each.

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.apply import values
    >>> laws = pd.DataFrame(
    ...     {"c": [1.0, -2.0], "alpha": [1.0, 2.0], "c_se": [0.1, 0.1],
    ...      "alpha_se": [0.05, 0.05], "c_alpha_cov": [0.0, 0.0]},
    ...     index=pd.Index(["a", "b"], name="point"))
    >>> v = values(laws, sizes=(1, 2))
    >>> v["value"].round(4).tolist()
    [0.75, -1.25]
    >>> small_first = values(laws, sizes=(1, 2), weights="beta(16, 1)")
    >>> bool(small_first.loc["a", "value"] > v.loc["a", "value"])
    True
    """
    _check_laws(laws, _LAW_NEEDS)
    k_min, k_max = _check_sizes(sizes)
    shape = _check_weights(weights)

    c = laws["c"].to_numpy(dtype=np.float64)
    alpha = laws["alpha"].to_numpy(dtype=np.float64)
    if shape is None:
        # Power sum and its alpha-derivative in one complex evaluation.
        total = _power_sum(alpha + 1j * _STEP, k_min, k_max)
        n_sizes = k_max - k_min + 1
        mean_power = total.real / n_sizes
        mean_slope = total.imag / _STEP / n_sizes
    else:
        mean_power, mean_slope = _weighted_power(alpha, k_min, k_max, *shape)

    # Value and its delta-method error.
    value = c * mean_power
    stderr = _delta_stderr(laws, mean_power, c * mean_slope)
    return pd.DataFrame({"value": value, "stderr": stderr}, index=laws.index)


def recommend(
    laws: pd.DataFrame,
    size: int,
    n: int = 10,
    action: str = "add",
    labels: pd.Series | None = None,
    balanced: bool = False,
    skip_flagged: bool = True,
    min_r2: float | None = None,
) -> pd.DataFrame:
    """Rank points by their expected contribution at one dataset size.

    Parameters
    ----------
    laws : DataFrame
        Output of :func:`nbscale.laws.fit_laws`; needs ``c``, ``alpha``,
        ``c_se``, ``alpha_se``, ``c_alpha_cov`` and, with ``skip_flagged``,
        ``flag``.
    size : int
        Training-set size ``k >= 1`` at which points are scored.
    n : int, default=10
        How many points to return (fewer when fewer qualify).
    action : {"add", "remove"}, default="add"
        ``"add"``: the highest scores, best first. ``"remove"``: the most
        harmful, lowest scores first.
    labels : Series, optional
        Class of each point, indexed like ``laws``; adds a ``label``
        column, and is required by ``balanced``.
    balanced : bool, default=False
        Take as equal a number of points per class as possible, going
        round the classes by rank.
    skip_flagged : bool, default=True
        Leave out rows whose ``flag`` is not ``"ok"``: laws the estimator
        could not fit reliably (see Notes).
    min_r2 : float, optional
        Also leave out rows whose log-space R² (column ``r2_log``, from
        ``fit_laws(..., method="loglinear")``) is below this value; the
        paper drops points below 0.9 before selecting.

    Returns
    -------
    DataFrame
        At most ``n`` rows, indexed like ``laws``, in recommendation order,
        columns ``rank`` (int64, from 1), ``score`` (float64,
        ``c * size**-alpha``), ``stderr`` (float64, delta method), ``c``
        and ``alpha`` (float64), and ``label`` when ``labels`` is given.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If columns are missing, ``size`` or ``n`` are below 1, ``action``
        is unknown, ``labels`` does not cover every point, ``balanced``
        lacks ``labels``, or ``min_r2`` is not a number in [0, 1].

    Notes
    -----
    ``score = c * size^-alpha`` and ``stderr^2 = g_c^2 c_se^2 + 2 g_c g_a
    cov + g_a^2 alpha_se^2`` with ``g_c = size^-alpha`` and
    ``g_a = -c log(size) size^-alpha``. Balanced selection orders points
    by their rank within their class, then by score, so every class gives
    one point per round until it runs out (the paper's "equal per class").

    Flags that ``skip_flagged`` leaves out (see :func:`nbscale.fit_laws`):
    ``too_few_observations``, ``single_size``, ``zero_variance`` and
    ``no_repeated_sizes`` (fallback laws), ``at_bound`` (an estimate on
    an edge of its range), ``not_converged`` and ``no_variance_trend``.
    Fewer than ``n`` rows come back when fewer points qualify.

    Examples
    --------
    >>> import pandas as pd
    >>> from nbscale.apply import recommend
    >>> laws = pd.DataFrame(
    ...     {"c": [1.0, 50.0, -3.0], "alpha": [0.5, 1.5, 1.0],
    ...      "c_se": [0.1] * 3, "alpha_se": [0.1] * 3,
    ...      "c_alpha_cov": [0.0] * 3, "flag": ["ok"] * 3},
    ...     index=pd.Index(["a", "b", "c"], name="point"))
    >>> recommend(laws, size=10, n=2).index.tolist()
    ['b', 'a']
    >>> recommend(laws, size=1000, n=2).index.tolist()
    ['a', 'b']
    >>> recommend(laws, size=100, n=1, action="remove").index.tolist()
    ['c']
    """
    # Validate every argument.
    needs = _LAW_NEEDS + (["flag"] if skip_flagged else [])
    needs += ["r2_log"] if min_r2 is not None else []
    _check_laws(laws, needs)
    size = _check_int("size", size, minimum=1)
    n = _check_int("n", n, minimum=1)
    if action not in _ACTIONS:
        raise ValueError(f"action: expected one of {list(_ACTIONS)}, got {action!r}")
    for name, flag_value in (("balanced", balanced), ("skip_flagged", skip_flagged)):
        if not isinstance(flag_value, bool | np.bool_):
            raise TypeError(f"{name}: expected True or False, got {flag_value!r}")
    if balanced and labels is None:
        raise ValueError(
            "labels: balanced=True needs the class of each point, got None; "
            "pass labels=pd.Series(classes, index=laws.index)"
        )
    classes = None if labels is None else _check_labels(labels, laws.index)
    if min_r2 is not None and (
        isinstance(min_r2, bool)
        or not isinstance(min_r2, numbers.Real)
        or not 0.0 <= float(min_r2) <= 1.0
    ):
        raise ValueError(f"min_r2: expected a number in [0, 1] or None, got {min_r2!r}")

    # Score the eligible points.
    keep = np.ones(len(laws), dtype=bool)
    if skip_flagged:
        keep = (laws["flag"] == "ok").to_numpy()
    if min_r2 is not None:
        keep = keep & (laws["r2_log"].to_numpy(dtype=np.float64) >= float(min_r2))
    table = laws.loc[keep, ["c", "alpha"]].astype(np.float64)
    power = float(size) ** -table["alpha"].to_numpy()
    table["score"] = table["c"].to_numpy() * power
    slope = -table["c"].to_numpy() * np.log(size) * power
    table["stderr"] = _delta_stderr(laws.loc[keep], power, slope)
    if classes is not None:
        table["label"] = classes[keep]

    # Order: best first, or most harmful first; then round-robin classes.
    ascending = action == "remove"
    order = np.argsort(table["score"].to_numpy(), kind="stable")
    if not ascending:
        order = order[::-1]
    table = table.iloc[order]
    if balanced:
        round_index = table.groupby("label", sort=False).cumcount().to_numpy()
        table = table.iloc[np.argsort(round_index, kind="stable")]

    # Assemble the first n.
    table = table.iloc[:n]
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    columns = ["rank", "score", "stderr", "c", "alpha"]
    return table[columns + (["label"] if classes is not None else [])]


def _check_weights(weights: object) -> tuple[float, float] | None:
    """None for uniform weights, else the Beta Shapley pair ``(a, b)``."""
    remedy = "use 'uniform', ('beta', a, b) or 'beta(a, b)' with a, b > 0"
    if isinstance(weights, str):
        text = weights.replace(" ", "").lower()
        if text == "uniform":
            return None
        if text.startswith("beta(") and text.endswith(")"):
            parts = text[5:-1].split(",")
            try:
                parsed = ("beta", *(float(part) for part in parts))
            except ValueError:
                parsed = ()
            weights_tuple: tuple[object, ...] = parsed
        else:
            weights_tuple = ()
    elif isinstance(weights, tuple | list):
        weights_tuple = tuple(weights)
    else:
        weights_tuple = ()
    if (
        len(weights_tuple) != 3
        or weights_tuple[0] != "beta"
        or not all(_is_positive(v) for v in weights_tuple[1:])
    ):
        raise ValueError(f"weights: {remedy}; got {weights!r}")
    return float(weights_tuple[1]), float(weights_tuple[2])  # type: ignore[arg-type]


def _is_positive(value: object) -> bool:
    """A finite real number above zero (not a bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return False
    return bool(np.isfinite(float(value)) and float(value) > 0)


def _beta_weights(k_min: int, k_max: int, a: float, b: float) -> FloatArray:
    """Mass of each size's cell of the window, shape ``(n_sizes,)``."""
    from scipy.stats import beta as beta_distribution

    n_sizes = k_max - k_min + 1
    edges = np.linspace(0.0, 1.0, n_sizes + 1)
    # Differences of the CDF, or of the survival function in the upper
    # half, where the CDF is close to one and would lose digits.
    cdf = beta_distribution.cdf(edges, b, a)
    sf = beta_distribution.sf(edges, b, a)
    upper = edges[:-1] >= 0.5
    mass = np.where(upper, sf[:-1] - sf[1:], np.diff(cdf))
    mass = np.maximum(mass, 0.0)
    return np.asarray(mass / mass.sum(), dtype=np.float64)


def _weighted_power(
    alpha: FloatArray, k_min: int, k_max: int, a: float, b: float
) -> tuple[FloatArray, FloatArray]:
    """``sum_k w_k k^-alpha`` and its alpha-derivative, for every alpha."""
    weights = _beta_weights(k_min, k_max, a, b)
    keep = weights > 0
    log_k = np.log(np.arange(k_min, k_max + 1, dtype=np.float64))[keep]
    weights = weights[keep]

    # Blocks of points keep the (points x sizes) matrix near 4M entries.
    power = np.empty_like(alpha)
    slope = np.empty_like(alpha)
    block = max(1, _BLOCK_ENTRIES // max(log_k.size, 1))
    for start in range(0, alpha.size, block):
        part = alpha[start : start + block]
        terms = np.exp(-part[:, None] * log_k[None, :])
        power[start : start + block] = terms @ weights
        slope[start : start + block] = -(terms * log_k[None, :]) @ weights
    return power, slope


def _power_sum(
    alpha: NDArray[np.complex128], k_min: int, k_max: int
) -> NDArray[np.complex128]:
    """``sum_{k=k_min}^{k_max} k^-alpha`` for every (complex) alpha.

    Direct terms for the first ``_N_DIRECT`` sizes, Euler-Maclaurin for
    the rest: integral, end-point halves and Bernoulli corrections.
    """
    # Direct part, masked beyond k_max.
    ks = k_min + np.arange(_N_DIRECT, dtype=np.float64)
    inside = ks <= k_max
    direct = np.exp(-alpha[:, None] * np.log(ks[inside])[None, :]).sum(axis=1)
    m = k_min + _N_DIRECT
    if m > k_max:
        return np.asarray(direct, dtype=np.complex128)

    # Tail from m to k_max: the integral of x^-alpha, written with
    # expm1 so alpha near 1 stays exact.
    log_m, span = np.log(m), np.log(k_max / m)
    one_minus = 1.0 - alpha
    integral = np.exp(one_minus * log_m) * _expm1_ratio(one_minus, span)
    f_m, f_b = np.exp(-alpha * log_m), np.exp(-alpha * np.log(k_max))
    tail = integral + 0.5 * (f_m + f_b)

    # Corrections B_2j / (2j)! (f^(2j-1)(k_max) - f^(2j-1)(m)), where
    # f^(p)(x) = (-1)^p alpha (alpha + 1) ... (alpha + p - 1) x^(-alpha - p).
    rising = np.ones_like(alpha)
    factorial = 1.0
    for j, bernoulli in enumerate(_BERNOULLI, start=1):
        p = 2 * j - 1
        rising = rising * (alpha + p - 1) * (alpha + p - 2 if p > 1 else 1.0)
        factorial *= (2 * j) * (2 * j - 1)
        derivative = -rising * (
            np.exp((-alpha - p) * np.log(k_max)) - np.exp((-alpha - p) * log_m)
        )
        tail = tail + bernoulli / factorial * derivative
    return np.asarray(direct + tail, dtype=np.complex128)


def _expm1_ratio(x: NDArray[np.complex128], span: float) -> NDArray[np.complex128]:
    """``(exp(x span) - 1) / x``, continuous at ``x = 0`` (value ``span``)."""
    small = np.abs(x) * span < 1e-8
    safe = np.where(small, 1.0, x)
    ratio = np.expm1(safe * span) / safe
    return np.where(small, span + 0.5 * x * span**2, ratio).astype(np.complex128)


def _delta_stderr(
    laws: pd.DataFrame, grad_c: FloatArray, grad_alpha: FloatArray
) -> FloatArray:
    """Delta-method standard error from the laws' (c, alpha) covariance."""
    c_se = laws["c_se"].to_numpy(dtype=np.float64)
    alpha_se = laws["alpha_se"].to_numpy(dtype=np.float64)
    cov = laws["c_alpha_cov"].to_numpy(dtype=np.float64)
    variance = (
        grad_c**2 * c_se**2
        + 2 * grad_c * grad_alpha * cov
        + grad_alpha**2 * alpha_se**2
    )
    return np.asarray(np.sqrt(np.maximum(variance, 0.0)), dtype=np.float64)


def _check_laws(laws: pd.DataFrame, needs: list[str]) -> None:
    """Laws must be a DataFrame with the needed columns."""
    if not isinstance(laws, pd.DataFrame):
        raise TypeError(
            f"laws: expected the DataFrame of nbscale.fit_laws, got "
            f"{type(laws).__name__!r}"
        )
    missing = [name for name in needs if name not in laws.columns]
    if missing:
        raise ValueError(
            f"laws: expected columns {needs}, missing {missing}; got "
            f"{list(laws.columns)!r}"
        )


def _check_int(name: str, value: object, minimum: int) -> int:
    """An integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _check_sizes(sizes: object) -> tuple[int, int]:
    """A window ``(k_min, k_max)`` of ints with ``1 <= k_min <= k_max``."""
    if not isinstance(sizes, tuple | list) or len(sizes) != 2:
        raise TypeError(f"sizes: expected a pair (k_min, k_max) of ints, got {sizes!r}")
    k_min = _check_int("sizes", sizes[0], minimum=1)
    k_max = _check_int("sizes", sizes[1], minimum=1)
    if k_min > k_max:
        raise ValueError(
            f"sizes: expected k_min <= k_max, got {sizes!r}; swap the two ends"
        )
    return k_min, k_max


def _check_labels(labels: pd.Series, index: pd.Index) -> NDArray[np.object_]:
    """Labels as an array aligned with ``index``; every point needs one."""
    if not isinstance(labels, pd.Series):
        raise TypeError(
            f"labels: expected a pandas Series indexed like laws, got "
            f"{type(labels).__name__!r}"
        )
    aligned = labels.reindex(index)
    if aligned.isna().any():
        missing = index[aligned.isna().to_numpy()][:3].tolist()
        raise ValueError(
            f"labels: expected a class for every point of laws, got none "
            f"for {missing!r}"
        )
    return np.asarray(aligned.to_numpy(dtype=object), dtype=object)
