"""The network behind :func:`nbscale.laws.fit_amortized`: torch code only.

Kept apart from the public module so that the validation, preparation and
assembly read on their own. Everything here receives torch as an
argument, so importing this module does not import torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nbscale.laws.likelihood import ALPHA_BOUNDS

__all__ = ["BETA_RANGE", "Problem", "Trainer", "predict", "pretrain"]

FloatArray = NDArray[np.float64]

BETA_RANGE = (1e-3, 16.0)
"""Range of beta: the network outputs log beta, so beta stays positive."""

# Penalty weight on (alpha - 1)^2, as in the reference design.
_ALPHA_PENALTY = 1e-5
_WARMUP_EPOCHS = 5
_GRADIENT_CLIP = 0.5
# Batches shrink for small problems so that an epoch has this many steps.
_MIN_STEPS_PER_EPOCH = 8
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Problem:
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


class Trainer:
    """Builds, trains and early-stops the law network."""

    def __init__(
        self,
        torch: Any,
        problem: Problem,
        bias: FloatArray,
        settings: dict[str, Any],
        seed: int,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.torch = torch
        self.body = body
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
        """A fresh MLP whose head starts at the pooled laws.

        The hidden layers start from the pretrained classifier's, if any.
        """
        torch = self.torch
        body, width = _body(torch, self.problem.x.shape[1], self.settings, self.seed)
        if self.body is not None:
            body.load_state_dict(self.body)
        head = torch.nn.Linear(width, 5 * self.problem.n_blocks)
        with torch.no_grad():
            head.weight.zero_()
            head.bias.copy_(torch.as_tensor(self.bias.reshape(-1)))
        return torch.nn.Sequential(body, head)

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


def _body(
    torch: Any, n_features: int, settings: dict[str, Any], seed: int
) -> tuple[Any, int]:
    """The hidden layers, freshly initialised from ``seed``, and their width."""
    torch.manual_seed(seed)
    layers: list[Any] = []
    width = n_features
    for size in settings["hidden"]:
        layers += [torch.nn.Linear(width, size), torch.nn.GELU()]
        width = size
    return torch.nn.Sequential(*layers), width


def pretrain(
    torch: Any,
    rows: FloatArray,
    codes: NDArray[np.int64],
    n_classes: int,
    settings: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Train the hidden layers as a classifier; return their weights."""
    body, width = _body(torch, rows.shape[1], settings, seed)
    network = torch.nn.Sequential(body, torch.nn.Linear(width, n_classes))
    optimiser = torch.optim.AdamW(
        network.parameters(),
        lr=settings["learning_rate"],
        weight_decay=settings["weight_decay"],
    )
    x = torch.as_tensor(rows, dtype=torch.float32)
    y = torch.as_tensor(codes, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed + 1)
    for _ in range(settings["pretrain_epochs"]):
        order = torch.randperm(len(x), generator=generator)
        for batch in torch.split(order, settings["batch_size"]):
            loss = torch.nn.functional.cross_entropy(network(x[batch]), y[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), _GRADIENT_CLIP)
            optimiser.step()
    return {key: value.clone() for key, value in body.state_dict().items()}


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


def predict(torch: Any, network: Any, problem: Problem) -> dict[str, FloatArray]:
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
