"""Amortized scaling laws: one network maps a point's features to its law.

The per-point estimators of :func:`nbscale.laws.fit_laws` see only the
observations of one point, so with a few dozen noisy observations each
they are noisy too. Points with similar features tend to have similar
laws, and the amortized estimator of Covert et al. (ICML 2024, section 3,
item 3) exploits that: a small multilayer perceptron reads the features
``x`` of a point and outputs its law, and it is trained on the
observations of every point at once. Each point's samples pull on shared
weights, so information flows between neighbours in feature space.

For ``C`` classes the network has ``5 C`` outputs, one block of five per
class: ``[sign logit, log |c'|, log alpha, log sigma', log beta]``, where
``c'`` and ``sigma'`` are the law and noise scale at a reference size. A
point uses the block of its own label; regression (or ``labels=None``)
uses a single block. The loss of a point is the Gaussian negative
log-likelihood of its observations under the noise model

    delta ~ Normal(c * k**(-alpha), sigma**2 * k**(-beta)),

evaluated for both signs of ``c``, keeping the smaller; the sign logit
learns, by binary cross-entropy, which sign won.

The entry point is :func:`fit_amortized`; :meth:`nbscale.Study.laws` with
``method="amortized"`` calls it with the study's features and labels.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nbscale.laws._network import BETA_RANGE, Problem, Trainer, predict, pretrain
from nbscale.laws.fit import LAW_COLUMNS, _check_observations
from nbscale.laws.likelihood import ALPHA_BOUNDS, fit_likelihood

__all__ = ["fit_amortized"]

FloatArray = NDArray[np.float64]


# Held-out points for early stopping: at least this many (up to a quarter).
_MIN_VAL_POINTS = 32
# Floors on variances, relative to the scale they are compared with.
_EIGEN_FLOOR = 1e-12
_BOUND_TOL = 1e-6
_LOG_2PI = math.log(2 * math.pi)


def fit_amortized(
    observations: pd.DataFrame,
    features: Any,
    labels: Any = None,
    *,
    hidden: tuple[int, ...] = (128, 128),
    max_epochs: int = 300,
    patience: int = 30,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-5,
    validation_fraction: float = 0.1,
    refit: bool = True,
    pretrain_epochs: int = 10,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Fit every point's scaling law with one network over point features.

    Parameters
    ----------
    observations : DataFrame
        One row per observation with columns ``point``, ``size`` and
        ``delta``, as for :func:`nbscale.laws.fit_laws`.
    features : DataFrame or array-like of shape (n_rows, n_features)
        Features of the points. A DataFrame is indexed by point label and
        must hold a row for every point of ``observations``; an array is
        indexed by position, so the point labels must be integers in
        ``[0, n_rows)`` (as in a study on arrays). Rows of points without
        observations may be included: they serve the classifier
        pretraining. Features are standardised over the rows.
    labels : Series or array-like of shape (n_rows,), optional
        Class of each row: an array aligned with the rows of
        ``features``, or a Series indexed like them (by point label, or by
        position for an array). Every observed point needs one. Each class
        gets its own output block. None (regression, or no classes) uses
        one block for every point and skips pretraining.
    hidden : tuple of int, default=(128, 128)
        Widths of the hidden layers (GELU activations).
    max_epochs : int, default=300
        Length of the cosine learning-rate schedule and the most epochs
        trained.
    patience : int, default=30
        Stop after this many epochs without a lower held-out loss.
    batch_size : int, default=128
        Points per optimisation step; smaller when there are fewer than
        ``8 * batch_size`` training points, so an epoch takes at least 8
        steps.
    learning_rate : float, default=1e-3
        Peak learning rate of AdamW, reached after 5 warm-up epochs.
    weight_decay : float, default=1e-5
        AdamW weight decay.
    validation_fraction : float, default=0.1
        Share of points held out for early stopping, in (0, 0.5]; at least
        32 points, or a quarter of them when there are fewer than 128.
    refit : bool, default=True
        After early stopping, train a fresh network on every point for the
        best number of epochs, so held-out points contribute their own
        observations too. False keeps the best network of the first run,
        whose laws for the held-out points come from their features alone.
    pretrain_epochs : int, default=10
        Epochs of classifier pretraining: the hidden layers first learn to
        predict ``labels`` from ``features`` over every labelled row, so
        the law head can tell a point whose label does not fit its
        features (a mislabelled point). 0 skips it; ignored without
        ``labels``.
    random_state : int or None, default=0
        Seed of the split, the initial weights and the batch order. The
        same seed gives the same laws on the same machine and torch
        version.

    Returns
    -------
    DataFrame
        Indexed by ``point`` as :func:`nbscale.laws.fit_laws` indexes it,
        with the columns of ``LAW_COLUMNS`` (same meanings and dtypes).
        ``c_se``, ``alpha_se`` and ``c_alpha_cov`` come from the point's
        own likelihood at the predicted law (see Notes); ``nll`` is the
        mean Gaussian negative log-likelihood per observation at the
        predicted law; ``converged`` is True unless the held-out loss was
        never finite; ``flag`` is ``"at_bound"`` where ``alpha`` or ``beta``
        sits on an edge of its range and ``"ok"`` otherwise. No value is
        NaN or infinite. ``attrs`` holds diagnostics:

        - ``method`` (str): ``"amortized"``.
        - ``val_loss`` (float): the best held-out loss, the mean over
          held-out points of their mean negative log-likelihood per
          observation, in delta units (comparable to the ``nll`` column).
        - ``train_loss`` (float): the same on the training points at that
          epoch.
        - ``best_epoch`` (int, from 1) and ``n_epochs`` (int): where the
          held-out loss was lowest and how many epochs ran before stopping.
        - ``n_val_points`` (int): points held out.
        - ``history`` (dict of lists): ``train_loss`` and ``val_loss`` per
          epoch.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If observations are invalid (as in :func:`nbscale.laws.fit_laws`),
        fewer than two points are observed, ``features`` or ``labels``
        lack a point or hold non-finite values, or a setting is out of
        range.
    ImportError
        If torch is not installed.

    See Also
    --------
    nbscale.laws.fit_laws : Per-point likelihood and log-space fits.

    Notes
    -----
    Design, following Covert et al. (ICML 2024, section 3, item 3), with
    these choices of ours: sizes are measured relative to the geometric
    mean size ``k_ref`` of all observations and deltas are divided by
    their root mean square, so the network's outputs are of order one;
    ``c = sign |c'| k_ref^alpha`` and ``sigma = sigma' k_ref^(beta / 2)``
    translate back. Each point's loss is its mean negative
    log-likelihood, the smaller of the two signs, plus the binary
    cross-entropy of the sign logit against the winning sign, plus
    ``1e-5 (alpha - 1)^2``; residuals are divided by the point's current
    noise scale, detached from the graph, which leaves the gradients
    unchanged and keeps float32 values near one. The head starts at zero
    weights with biases set to a pooled likelihood fit of each class, so
    training starts from one law per class. AdamW, cosine
    schedule with a linear warm-up of 5 epochs, gradient norm clipped at
    0.5, early stopping on the held-out points with the best weights kept.
    ``alpha`` is clamped to ``[1e-3, 8]`` and ``beta`` to ``[1e-3, 16]``.
    With labels, the hidden layers are first pretrained as a classifier
    (cross-entropy, AdamW, constant learning rate) on every labelled row
    of ``features``, as in the reference design.

    The sign of ``c`` goes beyond the reference, which takes the sign of
    the logit: here the logit is a prior log-odds from the features, and
    the point's own evidence, the log-likelihood ratio of its observations
    under ``+|c|`` and ``-|c|``, is added to it. A point whose label
    contradicts its features is an outlier the network smooths over; its
    own observations still mark it harmful.

    Standard errors: the amortized law is not a per-point maximum
    likelihood estimate, and its sampling error has no closed form. The
    errors reported are those a per-point fit would have at the predicted
    law: the inverse Fisher information of ``(c, alpha)`` under the
    point's own noise model, with eigenvalues floored at ``1e-12`` of the
    largest. Pooling across points usually makes the amortized law more
    accurate than that, so read them as conservative; they are never NaN.

    Runs in float32 on the CPU, with torch set to one thread during the
    fit (restored afterwards): about 5-30 s for a few thousand points
    with tens of observations each. The network needs many points to
    learn from: with a hundred or so, early stopping ends training almost
    at once and the laws stay close to one pooled law per class.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from nbscale.laws import fit_amortized
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(60, 2))
    >>> point = np.repeat(np.arange(60), 12)
    >>> size = rng.integers(100, 1000, point.size)
    >>> mean = np.exp(x[point, 0]) * size**-1.0
    >>> delta = mean * (1 + rng.standard_normal(point.size))
    >>> obs = pd.DataFrame({"point": point, "size": size, "delta": delta})
    >>> laws = fit_amortized(obs, x, max_epochs=20, hidden=(16,))
    >>> laws.shape, sorted(laws.attrs)[:3]
    ((60, 12), ['best_epoch', 'history', 'method'])
    """
    # Validate once, here.
    codes, index, sizes, deltas = _check_observations(observations)
    if len(index) < 2:
        raise ValueError(
            f"observations: the amortized fit needs at least 2 points to hold "
            f"one out, got {len(index)}; use fit_laws for a single point"
        )
    rows, point_rows, row_labels = _check_features(features, index)
    codes_all, n_blocks = _check_labels(labels, row_labels, point_rows)
    settings = _check_settings(
        hidden=hidden,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        validation_fraction=validation_fraction,
        refit=refit,
        pretrain_epochs=pretrain_epochs,
    )
    seed = _check_seed(random_state)
    torch = _import_torch()

    # Prepare padded tensors and the starting law of each block.
    block = np.zeros(len(index), dtype=np.int64)
    if codes_all is not None:
        block = codes_all[point_rows]
    problem = _prepare(codes, sizes, deltas, rows[point_rows], block, n_blocks)
    bias = _initial_bias(problem)
    rng = np.random.default_rng(seed)
    n_points = len(index)
    n_val = round(settings["validation_fraction"] * n_points)
    n_val = max(n_val, min(_MIN_VAL_POINTS, n_points // 4), 1)
    order = rng.permutation(len(index))
    val_points, train_points = np.sort(order[:n_val]), np.sort(order[n_val:])

    # Train with early stopping, then optionally once more on every point.
    # One thread: small networks gain nothing from more, and on a busy
    # machine threads waiting for each other make every step far slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        body = None
        if codes_all is not None and settings["pretrain_epochs"] > 0:
            labelled = codes_all >= 0
            body = pretrain(
                torch, rows[labelled], codes_all[labelled], n_blocks, settings, seed
            )
        trainer = Trainer(torch, problem, bias, settings, seed, body)
        result = trainer.fit(train_points, val_points, stop_early=True)
        network = result["network"]
        if settings["refit"]:
            every = np.arange(len(index))
            refitted = trainer.fit(every, None, n_epochs=result["best_epoch"])
            network = refitted["network"]
        raw = predict(torch, network, problem)
    finally:
        torch.set_num_threads(threads)

    # Assemble the documented frame.
    laws = _assemble(problem, raw, index)
    laws["converged"] = bool(np.isfinite(result["val_loss"]))
    laws.attrs = {
        "method": "amortized",
        "val_loss": float(result["val_loss"]),
        "train_loss": float(result["train_loss"]),
        "best_epoch": int(result["best_epoch"]),
        "n_epochs": int(result["n_epochs"]),
        "n_val_points": int(n_val),
        "history": result["history"],
    }
    return laws


# ------------------------------------------------------------------ checks
def _import_torch() -> Any:
    """Import torch, or say how to install it."""
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is a dependency
        raise ImportError(
            "the amortized estimator needs torch; install it with "
            "`pip install torch` (a CPU build is enough)"
        ) from err
    return torch


def _check_features(
    features: Any, index: pd.Index
) -> tuple[FloatArray, NDArray[np.int64], pd.Index]:
    """Standardised feature rows, the row of each point, and the row labels.

    Returns the rows, shape ``(n_rows, n_features)``, the row of each
    observed point, shape ``(n_points,)``, and the label of each row (the
    DataFrame's index, or positions for an array).
    """
    if isinstance(features, pd.DataFrame):
        if not features.index.is_unique:
            raise ValueError("features: expected a unique index of point labels")
        point_rows = features.index.get_indexer(index)
        if (point_rows < 0).any():
            missing = index[point_rows < 0][:5].tolist()
            raise ValueError(
                f"features: expected a row for every observed point, missing "
                f"{missing!r}"
            )
        try:
            matrix = features.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                "features: expected numeric columns; encode or drop the others"
            ) from err
        row_labels = features.index
    else:
        try:
            matrix = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"features: expected a numeric array of shape (n_rows, "
                f"n_features) or a DataFrame, got {type(features).__name__!r}"
            ) from err
        if matrix.ndim != 2:
            raise ValueError(
                f"features: expected a 2-D array of shape (n_rows, n_features), "
                f"got shape {matrix.shape!r}"
            )
        point_rows = _positions(index, matrix.shape[0], "features")
        row_labels = pd.RangeIndex(matrix.shape[0])
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"features: expected at least one column, got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(
            f"features: expected finite values, got "
            f"{int((~np.isfinite(matrix)).sum())} NaN or infinite entries"
        )

    # Standardise over the rows; constant columns stay at zero.
    centre = matrix.mean(axis=0)
    spread = matrix.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    rows = np.asarray((matrix - centre) / spread, dtype=np.float64)
    return rows, point_rows.astype(np.int64), row_labels


def _positions(index: pd.Index, n_rows: int, name: str) -> NDArray[np.int64]:
    """Point labels as row positions of an array argument."""
    labels = np.asarray(index)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: an array is indexed by position, so point labels must be "
            f"integers, got labels such as {labels[:3].tolist()!r}; pass a "
            f"DataFrame (or Series) indexed by point label instead"
        )
    outside = labels[(labels < 0) | (labels >= n_rows)]
    if outside.size:
        raise ValueError(
            f"{name}: point labels index its rows, so they must lie in "
            f"[0, {n_rows - 1}], got {outside[:5].tolist()!r}"
        )
    return labels.astype(np.int64)


def _check_labels(
    labels: Any, row_labels: pd.Index, point_rows: NDArray[np.int64]
) -> tuple[NDArray[np.int64] | None, int]:
    """Class code of every row (-1 where unknown) and the number of blocks."""
    if labels is None:
        return None, 1
    if isinstance(labels, pd.Series):
        values = labels.reindex(row_labels)
    else:
        array = np.asarray(labels)
        if array.ndim != 1 or len(array) != len(row_labels):
            raise ValueError(
                f"labels: expected {len(row_labels)} labels, one per row of "
                f"features, got shape {array.shape!r}"
            )
        values = pd.Series(array, index=row_labels)
    missing = values.isna().to_numpy()
    if missing[point_rows].any():
        absent = row_labels[point_rows[missing[point_rows]]][:5].tolist()
        raise ValueError(
            f"labels: expected a class for every observed point, got none for "
            f"{absent!r}"
        )
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64), max(len(uniques), 1)


def _check_settings(**settings: Any) -> dict[str, Any]:
    """Validate the training settings; return them normalised."""
    hidden = settings["hidden"]
    if (
        not isinstance(hidden, tuple | list)
        or len(hidden) == 0
        or not all(_is_int(h) and h >= 1 for h in hidden)
    ):
        raise ValueError(
            f"hidden: expected a non-empty tuple of positive layer widths, "
            f"got {hidden!r}"
        )
    for name in ("max_epochs", "patience", "batch_size", "pretrain_epochs"):
        value, minimum = settings[name], 0 if name == "pretrain_epochs" else 1
        if not _is_int(value) or value < minimum:
            raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    for name in ("learning_rate", "weight_decay"):
        value = settings[name]
        minimum_ok = value > 0 if name == "learning_rate" else value >= 0
        if not isinstance(value, numbers.Real) or not minimum_ok:
            bound = "> 0" if name == "learning_rate" else ">= 0"
            raise ValueError(f"{name}: expected a float {bound}, got {value!r}")
    fraction = settings["validation_fraction"]
    if not isinstance(fraction, numbers.Real) or not 0 < fraction <= 0.5:
        raise ValueError(
            f"validation_fraction: expected a share in (0, 0.5], got {fraction!r}"
        )
    if not isinstance(settings["refit"], bool | np.bool_):
        raise TypeError(f"refit: expected True or False, got {settings['refit']!r}")
    settings["hidden"] = tuple(int(h) for h in hidden)
    return settings


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_seed(random_state: object) -> int:
    """A non-negative seed; None draws one."""
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if not _is_int(random_state) or int(random_state) < 0:  # type: ignore[call-overload]
        raise ValueError(
            f"random_state: expected a non-negative int or None, got {random_state!r}"
        )
    return int(random_state) % (2**31 - 1)  # type: ignore[call-overload]


# ------------------------------------------------------------- preparation
def _prepare(
    codes: NDArray[np.intp],
    sizes: FloatArray,
    deltas: FloatArray,
    x: FloatArray,
    block: NDArray[np.int64],
    n_blocks: int,
) -> Problem:
    """Pad the observations of every point into rectangular arrays."""
    n_points = x.shape[0]
    log_size = np.log(sizes)
    log_k_ref = float(log_size.mean())
    scale = float(np.sqrt(np.mean(deltas**2)))
    scale = scale if scale > 0 else 1.0

    # Column of each observation within its point's row.
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    counts = np.bincount(codes, minlength=n_points).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    column = np.arange(codes.size) - starts[sorted_codes]

    shape = (n_points, int(counts.max()))
    t, d = np.zeros(shape), np.zeros(shape)
    mask = np.zeros(shape, dtype=bool)
    t[sorted_codes, column] = log_size[order] - log_k_ref
    d[sorted_codes, column] = deltas[order] / scale
    mask[sorted_codes, column] = True

    # Distinct sizes per point, for the n_sizes column.
    pairs = np.unique(np.stack([codes, sizes]), axis=1)
    n_sizes = np.bincount(pairs[0].astype(np.int64), minlength=n_points)
    return Problem(
        x=x,
        block=block,
        t=t,
        d=d,
        mask=mask,
        counts=counts,
        n_sizes=n_sizes.astype(np.int64),
        log_k_ref=log_k_ref,
        scale=scale,
        n_blocks=n_blocks,
    )


def _initial_bias(problem: Problem) -> FloatArray:
    """Head biases, shape ``(n_blocks, 5)``: one pooled law per block.

    All observations of a block are fitted as if they came from a single
    point, by the likelihood engine, in the scaled coordinates.
    """
    rows, columns = np.nonzero(problem.mask)
    block_of_obs = problem.block[rows]
    sizes = np.exp(problem.t[rows, columns])
    pooled = fit_likelihood(
        block_of_obs.astype(np.intp),
        sizes,
        problem.d[rows, columns],
        problem.n_blocks,
    )
    alpha = np.clip(pooled.alpha, 0.25, 4.0)
    beta = np.clip(pooled.beta, 0.25, 8.0)
    # Sizes are already relative to k_ref, so c and sigma are c' and sigma'.
    magnitude = np.maximum(np.abs(pooled.c), 1e-3)
    sigma = np.maximum(pooled.sigma, 1e-3)
    bias = np.stack(
        [
            np.zeros_like(alpha),
            np.log(magnitude),
            np.log(alpha),
            np.log(sigma),
            np.log(beta),
        ],
        axis=1,
    )
    return np.asarray(bias, dtype=np.float64)


def _assemble(
    problem: Problem, raw: dict[str, FloatArray], index: pd.Index
) -> pd.DataFrame:
    """Predicted laws in delta units, with errors, NLL and flags."""
    # Sign: the network's log-odds plus the point's own evidence, the
    # log-likelihood ratio of its observations under +|c| and -|c|.
    sigma_ref = np.exp(raw["log_sigma"])
    alpha, beta = raw["alpha"], raw["beta"]
    u = np.exp(-alpha[:, None] * problem.t)
    sd = sigma_ref[:, None] * np.exp(-0.5 * beta[:, None] * problem.t)
    magnitude = np.exp(raw["log_c"])[:, None]
    plus = ((problem.d - magnitude * u) / sd) ** 2
    minus = ((problem.d + magnitude * u) / sd) ** 2
    log_odds = raw["logit"] + 0.5 * ((minus - plus) * problem.mask).sum(axis=1)
    sign = np.where(log_odds >= 0, 1.0, -1.0)
    c_ref = sign * np.exp(raw["log_c"])

    # Errors of (c', alpha) from the Fisher information, then of (c, alpha).
    cov = _fisher_covariance(problem, c_ref, alpha, sigma_ref, beta)
    log_k = problem.log_k_ref
    with np.errstate(over="ignore", invalid="ignore"):
        unit = problem.scale * np.exp(alpha * log_k)
        c = c_ref * unit
        sigma = problem.scale * sigma_ref * np.exp(0.5 * beta * log_k)
        slope = c * log_k
        var_c = unit**2 * cov[:, 0, 0] + 2 * unit * slope * cov[:, 0, 1]
        var_c = var_c + slope**2 * cov[:, 1, 1]
        c_alpha_cov = unit * cov[:, 0, 1] + slope * cov[:, 1, 1]

    # Mean NLL per observation, in delta units.
    z = (problem.d - c_ref[:, None] * u) / sd
    per_obs = np.log(sd) + 0.5 * z**2
    nll = (per_obs * problem.mask).sum(axis=1) / problem.counts
    nll = nll + math.log(problem.scale) + 0.5 * _LOG_2PI

    on_edge = _on_edge(alpha, ALPHA_BOUNDS) | _on_edge(beta, BETA_RANGE)
    big = np.finfo(np.float64).max
    columns: dict[str, Any] = {
        "c": c,
        "alpha": alpha,
        "sigma": sigma,
        "beta": beta,
        "c_se": np.sqrt(np.maximum(var_c, 0.0)),
        "alpha_se": np.sqrt(np.maximum(cov[:, 1, 1], 0.0)),
        "c_alpha_cov": c_alpha_cov,
        "n_obs": problem.counts.astype(np.int64),
        "n_sizes": problem.n_sizes.astype(np.int64),
        "nll": nll,
        "converged": np.ones(len(index), dtype=bool),
        "flag": np.where(on_edge, "at_bound", "ok").astype(object),
    }
    for name in ("c", "sigma", "c_se", "alpha_se", "c_alpha_cov", "nll"):
        columns[name] = np.nan_to_num(
            np.asarray(columns[name], dtype=np.float64),
            nan=big,
            posinf=big,
            neginf=-big,
        )
    return pd.DataFrame(columns, index=index)[LAW_COLUMNS]


def _on_edge(values: FloatArray, bounds: tuple[float, float]) -> NDArray[np.bool_]:
    """Whether values sit on (or beyond) an edge of their range."""
    low, high = bounds
    return (values <= low * (1 + _BOUND_TOL)) | (values >= high * (1 - _BOUND_TOL))


def _fisher_covariance(
    problem: Problem,
    c_ref: FloatArray,
    alpha: FloatArray,
    sigma_ref: FloatArray,
    beta: FloatArray,
) -> NDArray[np.float64]:
    """Inverse Fisher information of ``(c', alpha)``, shape ``(n, 2, 2)``.

    For the mean ``c' u`` with ``u = exp(-alpha t)`` and variance
    ``v = sigma'^2 exp(-beta t)``, the information is ``sum g g^T / v``
    with ``g = (u, -c' t u)``; mean and variance parameters are
    orthogonal, so the noise parameters drop out. Eigenvalues below
    ``1e-12`` of the largest are raised to that floor before inversion.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        u = np.exp(-alpha[:, None] * problem.t)
        precision = np.exp(beta[:, None] * problem.t) / sigma_ref[:, None] ** 2
        precision = precision * problem.mask
        g_c = u
        g_a = -c_ref[:, None] * problem.t * u
        info = np.empty((len(alpha), 2, 2))
        info[:, 0, 0] = (precision * g_c * g_c).sum(axis=1)
        info[:, 0, 1] = info[:, 1, 0] = (precision * g_c * g_a).sum(axis=1)
        info[:, 1, 1] = (precision * g_a * g_a).sum(axis=1)
    info = np.nan_to_num(info, nan=0.0, posinf=0.0, neginf=0.0)
    values, vectors = np.linalg.eigh(info)
    top = np.maximum(np.abs(values[:, -1:]), 1e-300)
    values = np.maximum(values, _EIGEN_FLOOR * top)
    cov = np.einsum("pik,pk,pjk->pij", vectors, 1.0 / values, vectors)
    return np.asarray(cov, dtype=np.float64)
