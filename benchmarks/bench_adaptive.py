"""Adaptive against uniform allocation: observations saved for equal accuracy.

Contributions come from :class:`nbscale.testing.KnownLawLearner`, so every
point's true exponent is known. For a grid of budgets (observations per
point) the script runs a uniform and an adaptive study on the same points,
fits the likelihood laws and measures the median absolute error of alpha.
It then interpolates, for each uniform budget, the adaptive budget that
reaches the same median error, and prints the share of observations saved.

    python benchmarks/bench_adaptive.py            # full run (~1-2 minutes)
    python benchmarks/bench_adaptive.py --quick    # smoke test
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import nbscale
from nbscale.testing import KnownLawLearner, random_laws


def median_alpha_error(allocation: str, samples: int, args, truth) -> float:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.pool, 2))
    y = (X[:, 0] > 0).astype(int)
    errors = []
    for repeat in range(args.repeats):
        study = nbscale.Study(
            X,
            y,
            model=KnownLawLearner(truth),
            sizes=(100, 1000),
            samples=samples,
            points=list(range(args.points)),
            validation=0.1,
            store=":memory:",
            random_state=repeat,
            allocation=allocation,
        )
        study.run(progress=False, executor="inline")
        laws = study.laws()
        pool = study.data.pool_position(laws.index.to_numpy())
        errors.append(
            np.median(
                np.abs(laws["alpha"].to_numpy() - truth["alpha"].to_numpy()[pool])
            )
        )
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.points, args.repeats = 40, 1
    args.pool = 2000
    uniform_budgets = [20, 30, 45, 70, 100] if not args.quick else [20, 40]
    adaptive_budgets = [10, 14, 20, 30, 45, 70, 100] if not args.quick else [10, 20, 40]
    truth = random_laws(args.pool, random_state=1)

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.NbscaleWarning)
        uniform = [
            median_alpha_error("uniform", b, args, truth) for b in uniform_budgets
        ]
        adaptive = [
            median_alpha_error("adaptive", b, args, truth) for b in adaptive_budgets
        ]

    print("adaptive curve:")
    print(
        pd.Series(
            adaptive,
            index=pd.Index(adaptive_budgets, name="samples"),
            name="median_alpha_error",
        ).to_string()
    )

    # For each uniform budget: the adaptive budget reaching the same error,
    # interpolated in log budget along the (decreasing) adaptive curve.
    order = np.argsort(adaptive)
    log_budget = np.interp(
        uniform,
        np.asarray(adaptive)[order],
        np.log(np.asarray(adaptive_budgets))[order],
    )
    table = pd.DataFrame(
        {
            "uniform_error": uniform,
            "adaptive_budget_same_error": np.exp(log_budget).round(1),
        },
        index=pd.Index(uniform_budgets, name="uniform_samples"),
    )
    table["observations_saved"] = (
        1 - table["adaptive_budget_same_error"] / table.index.to_numpy()
    ).round(3)
    inside = table[
        (table["uniform_error"] <= max(adaptive))
        & (table["uniform_error"] >= min(adaptive))
    ]
    print("\nuniform against adaptive:")
    print(table.to_string())
    print(
        f"\npoints={args.points} repeats={args.repeats} "
        f"seconds={time.perf_counter() - started:.0f}"
    )
    print(f"median saving where matched: {inside['observations_saved'].median():.1%}")


if __name__ == "__main__":
    main()
