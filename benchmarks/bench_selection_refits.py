"""Benchmark: one refit of the point-addition experiment, two solvers.

``nbscale.evaluate_selection`` refits the study's model on a base set and
on the base set plus the chosen points, for every strategy and repeat:
hundreds of fits. For ``model="logistic"`` it once used the sampler's
scikit-learn form (Newton-Cholesky to a tolerance of 1e-12, which the
exactness tests need) and now uses ``LogisticRegression(max_iter=1000)``
(lbfgs at scikit-learn's default tolerance). This script times both on
``load_digits`` (scaled to [0, 1], ten classes) at a few base sizes,
alternating the two in one run, and prints their ratio and the largest
difference in test accuracy between them.

Usage::

    python benchmarks/bench_selection_refits.py
    python benchmarks/bench_selection_refits.py --repeats 3
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from nbscale.learners import build_model
from nbscale.selection import _scoring_model


def time_fit(model: object, X: np.ndarray, y: np.ndarray) -> tuple[float, object]:
    """Seconds one fit takes, and the fitted model."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)  # type: ignore[attr-defined]
    return time.perf_counter() - started, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fits per size")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    test, pool = order[:360], order[360:]

    rows = []
    for size in (30, 100, 300, 600):
        newton, lbfgs, gap = [], [], 0.0
        for _ in range(args.repeats):
            base = rng.choice(pool, size, replace=False)
            t_newton, fitted_newton = time_fit(
                build_model("logistic"), X[base], y[base]
            )
            t_lbfgs, fitted_lbfgs = time_fit(
                _scoring_model("logistic"), X[base], y[base]
            )
            newton.append(t_newton)
            lbfgs.append(t_lbfgs)
            accuracy = [
                np.mean(model.predict(X[test]) == y[test])  # type: ignore[attr-defined]
                for model in (fitted_newton, fitted_lbfgs)
            ]
            gap = max(gap, abs(accuracy[0] - accuracy[1]))
        rows.append(
            {
                "base size": size,
                "newton 1e-12 (s)": np.median(newton),
                "lbfgs default (s)": np.median(lbfgs),
                "ratio": np.median(newton) / np.median(lbfgs),
                "max accuracy gap": gap,
            }
        )

    print(f"load_digits, ten classes; median of {args.repeats} fits per size")
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
