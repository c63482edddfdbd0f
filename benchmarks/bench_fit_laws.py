"""Benchmark: nbscale.fit_laws against a per-point Adam loop.

The baseline restates the reference estimator of PAPER.md, section 3,
item 2: for each point on its own, Adam (lr 0.05) in float32 on
``(log alpha, log beta)``, starting at ``alpha = 1``, ``beta = 2``, both
capped at ``e^2``, stopping after 100 steps without improvement, with
``c`` and ``sigma`` profiled in closed form. It is too slow for every
point, so it runs on a random subset and its time is extrapolated per
point.

Usage::

    python benchmarks/bench_fit_laws.py              # 10,000 x 100
    python benchmarks/bench_fit_laws.py --quick      # 1,000 x 100, 10 baseline
    python benchmarks/bench_fit_laws.py --points 2000 --baseline-points 20
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import pandas as pd

from nbscale.exceptions import LawFitWarning
from nbscale.laws import fit_laws


def simulate(n_points: int, n_obs: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic observations with the paper's noise: sd 1-4x the mean."""
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.5, 2.5, n_points)
    beta = 2 * alpha + rng.normal(0, 0.2, n_points)
    sign = np.where(rng.random(n_points) < 0.2, -1.0, 1.0)
    psi_mid = sign * rng.lognormal(-3, 1, n_points)  # contribution at k = 316
    ratio = rng.uniform(1, 4, n_points)
    k_mid = math.sqrt(100 * 1000)

    point = np.repeat(np.arange(n_points), n_obs)
    size = rng.integers(100, 1000, point.size)
    relative = (size / k_mid) ** -alpha[point]
    spread = ratio[point] * (size / k_mid) ** (-beta[point] / 2)
    delta = psi_mid[point] * relative + np.abs(psi_mid[point]) * spread * (
        rng.standard_normal(point.size)
    )
    obs = pd.DataFrame({"point": point, "size": size, "delta": delta})
    truth = pd.DataFrame({"alpha": alpha, "beta": beta, "c": psi_mid * k_mid**alpha})
    return obs, truth


def adam_one_point(size: np.ndarray, delta: np.ndarray) -> tuple[float, float]:
    """The reference per-point fit; returns ``(alpha, beta)``, maybe NaN."""
    import torch

    k = torch.tensor(size, dtype=torch.float32)
    d = torch.tensor(delta, dtype=torch.float32)
    log_k_mean = torch.log(k).mean()
    params = torch.tensor([0.0, math.log(2.0)], requires_grad=True)
    optimiser = torch.optim.Adam([params], lr=0.05)

    best, best_params, since_best = math.inf, params.detach().clone(), 0
    while since_best < 100:
        alpha, beta = torch.exp(params)
        c = torch.mean(d * k ** (beta - alpha)) / torch.mean(k ** (beta - 2 * alpha))
        sigma2 = torch.mean(k**beta * (d - c * k**-alpha) ** 2)
        loss = 0.5 * torch.log(sigma2) - 0.5 * beta * log_k_mean

        value = float(loss.detach())
        if value < best:
            best, best_params, since_best = value, params.detach().clone(), 0
        else:
            since_best += 1
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            params.clamp_(max=2.0)  # alpha, beta <= e^2
    if not math.isfinite(best):
        return math.nan, math.nan
    alpha, beta = torch.exp(best_params).tolist()
    return alpha, beta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--baseline-points", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 points, 10 for the baseline"
    )
    args = parser.parse_args()
    if args.quick:
        args.points, args.baseline_points = 1_000, 10

    obs, truth = simulate(args.points, args.observations, args.seed)
    print(
        f"data: {args.points:,} points x {args.observations} observations, "
        "sizes 100-999, sd of delta 1-4x its mean, beta ~ 2 alpha"
    )

    # nbscale on every point.
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LawFitWarning)
        laws = fit_laws(obs)
    nbscale_seconds = time.perf_counter() - start
    nbscale_error = np.abs(laws["alpha"].to_numpy() - truth["alpha"].to_numpy())
    flagged = int((laws["flag"] != "ok").sum())

    # The baseline on a random subset, timed after a warm-up call.
    rng = np.random.default_rng(args.seed + 1)
    subset = np.sort(rng.choice(args.points, args.baseline_points, replace=False))
    groups = obs.groupby("point")
    warm_up = groups.get_group(0)
    adam_one_point(warm_up["size"].to_numpy(float), warm_up["delta"].to_numpy(float))
    start = time.perf_counter()
    baseline = np.array(
        [
            adam_one_point(
                groups.get_group(p)["size"].to_numpy(np.float64),
                groups.get_group(p)["delta"].to_numpy(np.float64),
            )
            for p in subset
        ]
    )
    baseline_seconds = time.perf_counter() - start
    baseline_error = np.abs(baseline[:, 0] - truth["alpha"].to_numpy()[subset])

    # Report.
    per_point_nbscale = nbscale_seconds / args.points
    per_point_baseline = baseline_seconds / args.baseline_points
    print(
        f"nbscale fit_laws: {nbscale_seconds:.2f} s for {args.points:,} points "
        f"= {per_point_nbscale * 1e6:.0f} us/point"
    )
    print(
        f"per-point Adam:   {baseline_seconds:.2f} s for {args.baseline_points} "
        f"points = {per_point_baseline * 1e3:.0f} ms/point "
        f"(extrapolated {per_point_baseline * args.points / 60:.1f} min "
        f"for {args.points:,})"
    )
    print(f"speed-up per point: {per_point_baseline / per_point_nbscale:,.0f}x")
    print(
        "median |alpha error|, all points: "
        f"nbscale {np.median(nbscale_error):.3f} "
        f"({flagged} flagged, {int(np.isnan(laws['alpha']).sum())} NaN)"
    )
    print(
        f"median |alpha error|, the {args.baseline_points} baseline points: "
        f"nbscale {np.median(nbscale_error[subset]):.3f}, "
        f"Adam {np.nanmedian(baseline_error):.3f} "
        f"({int(np.isnan(baseline[:, 0]).sum())} NaN)"
    )
    nll_better = _compare_nll(obs, laws, baseline, subset)
    print(
        f"nbscale likelihood >= Adam's on {nll_better} of "
        f"{args.baseline_points} baseline points"
    )


def _compare_nll(
    obs: pd.DataFrame, laws: pd.DataFrame, baseline: np.ndarray, subset: np.ndarray
) -> int:
    """Count subset points where nbscale's mean NLL is at most Adam's."""
    count = 0
    for (alpha, beta), point in zip(baseline, subset, strict=True):
        rows = obs[obs["point"] == point]
        k, d = rows["size"].to_numpy(float), rows["delta"].to_numpy(float)
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            count += 1
            continue
        u, w = k**-alpha, k**beta
        c = np.sum(w * u * d) / np.sum(w * u * u)
        sigma2 = np.mean(w * (d - c * u) ** 2)
        adam_nll = (
            0.5 * math.log(2 * math.pi * sigma2) + 0.5 - 0.5 * beta * np.log(k).mean()
        )
        count += bool(laws.loc[point, "nll"] <= adam_nll + 1e-9)
    return count


if __name__ == "__main__":
    main()
