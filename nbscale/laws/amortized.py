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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nbscale.laws.fit import LAW_COLUMNS, _check_observations
from nbscale.laws.likelihood import ALPHA_BOUNDS, fit_likelihood

__all__ = ["fit_amortized"]

FloatArray = NDArray[np.float64]

# Range of beta: the network outputs log beta, so beta stays positive.
BETA_RANGE = (1e-3, 16.0)

# Penalty weight on (alpha - 1)^2, as in the reference design.
_ALPHA_PENALTY = 1e-5
_WARMUP_EPOCHS = 5
# Held-out points for early stopping: at least this many (up to a quarter).
_MIN_VAL_POINTS = 32
# Batches shrink for small problems so that an epoch has this many steps.
_MIN_STEPS_PER_EPOCH = 8
_GRADIENT_CLIP = 0.5
# Floors on variances, relative to the scale they are compared with.
_EIGEN_FLOOR = 1e-12
_BOUND_TOL = 1e-6
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class _Problem:
    """The observations of every point, padded, in scaled coordinates.

    ``t`` is ``log(k / k_ref)`` and ``d`` is ``delta / scale``, both of
    shape ``(n_points, n_max)`` with ``mask`` marking real entries;
    ``x`` are the standardised features and ``block`` the output block of
    each point.
    """

    x: FloatArray
    block: NDArray[np.int64]
    t: FloatArray
    d: FloatArray
    mask: NDArray[np.bool_]
    counts: NDArray[np.int64]
    n_sizes: NDArray[np.int64]
    log_k_ref: float
    scale: float
    n_blocks: int


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
        ``[0, n_rows)`` (as in a study on arrays). Features are
        standardised internally.
    labels : Series or array-like of shape (n_rows,), optional
        Class of each point, indexed like ``features``. Each class gets
        its own output block. None (regression, or no classes) uses one
        block for every point.
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
        predicted law; ``converged`` is True for every point of a finished
        training; ``flag`` is ``"at_bound"`` where ``alpha`` or ``beta``
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
    training starts from one law per class. No classifier pretraining is
    done (it needs classes, and regression has none). AdamW, cosine
    schedule with a linear warm-up of 5 epochs, gradient norm clipped at
    0.5, early stopping on the held-out points with the best weights kept.
    ``alpha`` is clamped to ``[1e-3, 8]`` and ``beta`` to ``[1e-3, 16]``.
    The sign of ``c`` is the sign of the logit.

    Standard errors: the amortized law is not a per-point maximum
    likelihood estimate, and its sampling error has no closed form. The
    errors reported are those a per-point fit would have at the predicted
    law: the inverse Fisher information of ``(c, alpha)`` under the
    point's own noise model, with eigenvalues floored at ``1e-12`` of the
    largest. Pooling across points usually makes the amortized law more
    accurate than that, so read them as conservative; they are never NaN.

    Runs in float32 on the CPU: about 10-30 s for a few thousand points
    with tens of observations each.

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
    x = _check_features(features, index)
    block, n_blocks = _check_labels(labels, features, index)
    settings = _check_settings(
        hidden=hidden,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        validation_fraction=validation_fraction,
        refit=refit,
    )
    seed = _check_seed(random_state)
    torch = _import_torch()

    # Prepare padded tensors and the starting law of each block.
    problem = _prepare(codes, sizes, deltas, x, block, n_blocks)
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
        trainer = _Trainer(torch, problem, bias, settings, seed)
        result = trainer.fit(train_points, val_points, stop_early=True)
        network = result["network"]
        if settings["refit"]:
            every = np.arange(len(index))
            refitted = trainer.fit(every, None, n_epochs=result["best_epoch"])
            network = refitted["network"]
        raw = _predict(torch, network, problem)
    finally:
        torch.set_num_threads(threads)

    # Assemble the documented frame.
    laws = _assemble(problem, raw, index)
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


def _check_features(features: Any, index: pd.Index) -> FloatArray:
    """Feature rows of the observed points, shape ``(n_points, n_features)``."""
    if isinstance(features, pd.DataFrame):
        missing = index.difference(features.index)
        if len(missing):
            raise ValueError(
                f"features: expected a row for every observed point, missing "
                f"{missing[:5].tolist()!r}"
            )
        try:
            matrix = features.loc[index].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                "features: expected numeric columns; encode or drop the others"
            ) from err
    else:
        try:
            table = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"features: expected a numeric array of shape (n_rows, "
                f"n_features) or a DataFrame, got {type(features).__name__!r}"
            ) from err
        if table.ndim != 2:
            raise ValueError(
                f"features: expected a 2-D array of shape (n_rows, n_features), "
                f"got shape {table.shape!r}"
            )
        matrix = table[_positions(index, table.shape[0], "features")]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"features: expected at least one column, got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError(
            f"features: expected finite values, got "
            f"{int((~np.isfinite(matrix)).sum())} NaN or infinite entries"
        )

    # Standardise over the points; constant columns stay at zero.
    centre = matrix.mean(axis=0)
    spread = matrix.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    return np.asarray((matrix - centre) / spread, dtype=np.float64)


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
    labels: Any, features: Any, index: pd.Index
) -> tuple[NDArray[np.int64], int]:
    """Output block of each observed point and the number of blocks."""
    if labels is None:
        return np.zeros(len(index), dtype=np.int64), 1
    if isinstance(labels, pd.Series):
        aligned = labels.reindex(index)
        if aligned.isna().any():
            missing = index[aligned.isna().to_numpy()][:5].tolist()
            raise ValueError(
                f"labels: expected a class for every observed point, got none "
                f"for {missing!r}"
            )
        values = aligned.to_numpy()
    else:
        array = np.asarray(labels)
        if array.ndim != 1:
            raise ValueError(f"labels: expected a 1-D array, got shape {array.shape!r}")
        if isinstance(features, pd.DataFrame):
            if len(array) != len(features):
                raise ValueError(
                    f"labels: expected {len(features)} labels, one per row of "
                    f"features, got {len(array)}"
                )
            values = pd.Series(array, index=features.index).loc[index].to_numpy()
        else:
            values = array[_positions(index, len(array), "labels")]
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
    for name in ("max_epochs", "patience", "batch_size"):
        value = settings[name]
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
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
) -> _Problem:
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
    return _Problem(
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


def _initial_bias(problem: _Problem) -> FloatArray:
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


# ---------------------------------------------------------------- training
class _Trainer:
    """Builds, trains and early-stops the law network."""

    def __init__(
        self,
        torch: Any,
        problem: _Problem,
        bias: FloatArray,
        settings: dict[str, Any],
        seed: int,
    ) -> None:
        self.torch = torch
        self.problem = problem
        self.bias = bias
        self.settings = settings
        self.seed = seed
        as_tensor = torch.as_tensor
        self.x = as_tensor(problem.x, dtype=torch.float32)
        self.block = as_tensor(problem.block, dtype=torch.int64)
        self.t = as_tensor(problem.t, dtype=torch.float32)
        self.d = as_tensor(problem.d, dtype=torch.float32)
        self.mask = as_tensor(problem.mask, dtype=torch.float32)

    def network(self) -> Any:
        """A fresh MLP whose head starts at the pooled laws."""
        torch = self.torch
        torch.manual_seed(self.seed)
        layers: list[Any] = []
        width = self.problem.x.shape[1]
        for size in self.settings["hidden"]:
            layers += [torch.nn.Linear(width, size), torch.nn.GELU()]
            width = size
        head = torch.nn.Linear(width, 5 * self.problem.n_blocks)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.copy_(torch.as_tensor(self.bias.reshape(-1)))
        return torch.nn.Sequential(*layers, head)

    def fit(
        self,
        train_points: NDArray[np.int64],
        val_points: NDArray[np.int64] | None,
        *,
        stop_early: bool = False,
        n_epochs: int | None = None,
    ) -> dict[str, Any]:
        """Train on ``train_points``; early-stop on ``val_points``."""
        torch = self.torch
        settings = self.settings
        network = self.network()
        optimiser = torch.optim.AdamW(
            network.parameters(),
            lr=settings["learning_rate"],
            weight_decay=settings["weight_decay"],
        )
        # Small problems get smaller batches, so an epoch is several steps.
        batch_size = min(
            settings["batch_size"],
            max(1, math.ceil(len(train_points) / _MIN_STEPS_PER_EPOCH)),
        )
        steps_per_epoch = math.ceil(len(train_points) / batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, _cosine_with_warmup(steps_per_epoch, settings["max_epochs"])
        )
        generator = torch.Generator().manual_seed(self.seed)
        train = torch.as_tensor(train_points, dtype=torch.int64)
        last_epoch = settings["max_epochs"] if n_epochs is None else n_epochs

        best: dict[str, Any] = {"val_loss": math.inf, "best_epoch": last_epoch}
        history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
        epoch = 0
        for epoch in range(1, last_epoch + 1):
            # One pass over the training points in random batches.
            network.train()
            permutation = train[torch.randperm(len(train), generator=generator)]
            for batch in torch.split(permutation, batch_size):
                loss = self._loss(network, batch)["objective"]
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), _GRADIENT_CLIP)
                optimiser.step()
                schedule.step()
            if not stop_early or val_points is None:
                continue

            # Held-out loss; keep the best weights.
            train_loss = self._evaluate(network, train_points)
            val_loss = self._evaluate(network, val_points)
            history["train_loss"].append(train_loss)
            history["val_loss"].append(val_loss)
            if val_loss < best["val_loss"]:
                best = {
                    "val_loss": val_loss,
                    "train_loss": train_loss,
                    "best_epoch": epoch,
                    "state": {k: v.clone() for k, v in network.state_dict().items()},
                }
            elif epoch - best["best_epoch"] >= settings["patience"]:
                break

        if "state" in best:
            network.load_state_dict(best["state"])
        else:
            best.setdefault("train_loss", math.nan)
        best.update(network=network, n_epochs=epoch, history=history)
        return best

    def _loss(self, network: Any, points: Any) -> dict[str, Any]:
        """Per-point losses of a batch of points, and the batch objective."""
        torch = self.torch
        out = network(self.x[points]).view(len(points), self.problem.n_blocks, 5)
        own = out[torch.arange(len(points)), self.block[points]]
        return _point_loss(
            torch, own, self.t[points], self.d[points], self.mask[points]
        )

    def _evaluate(self, network: Any, points: NDArray[np.int64]) -> float:
        """Mean negative log-likelihood per observation, in delta units."""
        torch = self.torch
        network.eval()
        with torch.no_grad():
            index = torch.as_tensor(points, dtype=torch.int64)
            nll = self._loss(network, index)["nll"]
        return float(nll.mean()) + math.log(self.problem.scale) + 0.5 * _LOG_2PI


def _cosine_with_warmup(steps_per_epoch: int, max_epochs: int) -> Any:
    """Learning-rate factor per step: linear warm-up, then cosine to zero."""
    warmup = max(1, _WARMUP_EPOCHS * steps_per_epoch)
    total = max(warmup + 1, max_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / (total - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _point_loss(torch: Any, own: Any, t: Any, d: Any, mask: Any) -> dict[str, Any]:
    """The loss of each point from its block of five outputs.

    Returns ``objective`` (the batch mean of the training loss), ``nll``
    (per point: mean negative log-likelihood per observation of the
    better sign, in scaled units, without the ``log 2 pi / 2`` constant)
    and ``positive`` (per point: whether the positive sign won).
    """
    logit, log_c, log_alpha, log_sigma, log_beta = own.unbind(dim=1)
    log_alpha = log_alpha.clamp(math.log(ALPHA_BOUNDS[0]), math.log(ALPHA_BOUNDS[1]))
    log_beta = log_beta.clamp(math.log(BETA_RANGE[0]), math.log(BETA_RANGE[1]))
    alpha, beta = log_alpha.exp(), log_beta.exp()

    # Law and noise sd in units of the detached noise scale sigma'.
    unit = log_sigma.detach()[:, None]
    mean = torch.exp(log_c[:, None] - alpha[:, None] * t - unit)
    log_sd = log_sigma[:, None] - 0.5 * beta[:, None] * t - unit
    scaled = d * torch.exp(-unit)
    inverse_sd = torch.exp(-log_sd)

    # Mean NLL per observation for both signs; the better sign wins.
    n_obs = mask.sum(dim=1).clamp(min=1.0)
    common = (log_sd * mask).sum(dim=1)
    plus = 0.5 * (((scaled - mean) * inverse_sd) ** 2 * mask).sum(dim=1)
    minus = 0.5 * (((scaled + mean) * inverse_sd) ** 2 * mask).sum(dim=1)
    nll_plus = (common + plus) / n_obs
    nll_minus = (common + minus) / n_obs
    positive = (nll_plus <= nll_minus).to(own.dtype)
    best = torch.minimum(nll_plus, nll_minus)

    sign_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logit, positive.detach(), reduction="none"
    )
    penalty = _ALPHA_PENALTY * (alpha - 1.0) ** 2
    objective = (best + sign_loss + penalty).mean()
    # Undo the detached shift so the reported NLL is the true one.
    return {"objective": objective, "nll": best + unit[:, 0], "positive": positive}


# ------------------------------------------------------------ predictions
def _predict(torch: Any, network: Any, problem: _Problem) -> dict[str, FloatArray]:
    """The five outputs of every point's own block, in float64."""
    network.eval()
    with torch.no_grad():
        x = torch.as_tensor(problem.x, dtype=torch.float32)
        out = network(x).view(len(problem.x), problem.n_blocks, 5)
        own = out[torch.arange(len(problem.x)), torch.as_tensor(problem.block)]
    own_np = own.double().numpy()
    return {
        "logit": own_np[:, 0],
        "log_c": own_np[:, 1],
        "alpha": np.exp(
            np.clip(own_np[:, 2], math.log(ALPHA_BOUNDS[0]), math.log(ALPHA_BOUNDS[1]))
        ),
        "log_sigma": own_np[:, 3],
        "beta": np.exp(
            np.clip(own_np[:, 4], math.log(BETA_RANGE[0]), math.log(BETA_RANGE[1]))
        ),
    }


def _assemble(
    problem: _Problem, raw: dict[str, FloatArray], index: pd.Index
) -> pd.DataFrame:
    """Predicted laws in delta units, with errors, NLL and flags."""
    sign = np.where(raw["logit"] >= 0, 1.0, -1.0)
    c_ref = sign * np.exp(raw["log_c"])
    sigma_ref = np.exp(raw["log_sigma"])
    alpha, beta = raw["alpha"], raw["beta"]

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
    u = np.exp(-alpha[:, None] * problem.t)
    sd = sigma_ref[:, None] * np.exp(-0.5 * beta[:, None] * problem.t)
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
    problem: _Problem,
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
