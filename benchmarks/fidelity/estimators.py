"""Fidelity 3: law estimators against Monte Carlo, as observations grow.

The paper's comparison (PAPER.md §4): how well does each estimator,
given ``m`` observations per point, recover a point's value (its mean
contribution over the size window) measured with many more samples?

- Monte Carlo: the mean of the point's ``m`` contributions (sizes are
  uniform on the window, so it is an unbiased estimate of the value);
- likelihood: ``fit_laws`` on the ``m`` observations, then ``values``;
  plain maximum likelihood as in the paper, and again with
  ``prior="empirical"`` ("likelihood, prior");
- amortized: ``fit_amortized`` on the ``m`` observations of every
  studied point at once (features and class of each point), then
  ``values``.

The target comes from a second, independent study of a subset of the
points with many samples (its Monte Carlo mean). Two studies share one
explicit validation split, so both measure the same contributions. The
target is noisy too; its split-half reliability says how high any
estimator could score. Data: ``load_breast_cancer``, logistic regression,
sizes uniform on [20, 180].

Usage::

    python benchmarks/fidelity/estimators.py            # about 5 minutes
    python benchmarks/fidelity/estimators.py --quick    # about a minute
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from common import (
    fit_quietly,
    parse_args,
    r_squared,
    run_study,
    save_chart,
    standardised,
)
from scipy import stats
from sklearn.datasets import load_breast_cancer

import nbscale

WINDOW = (20, 180)


def first(observations: pd.DataFrame, m: int) -> pd.DataFrame:
    """The first ``m`` observations (in draw order) of every point."""
    ordered = observations.sort_values("draw", kind="stable")
    return ordered[ordered.groupby("point").cumcount() < m]


def estimate(
    name: str, sample: pd.DataFrame, X_pool: np.ndarray, y_pool: np.ndarray, seed: int
) -> pd.Series:
    """Value of every point of ``sample`` by one estimator."""
    if name == "Monte Carlo":
        return sample.groupby("point")["delta"].mean()
    if name == "likelihood":
        laws = fit_quietly(sample)
    elif name == "likelihood, prior":
        laws = fit_quietly(sample, prior="empirical")
    else:
        laws = nbscale.fit_amortized(sample, X_pool, y_pool, random_state=seed)
    return nbscale.values(laws, WINDOW)["value"]


def scores(estimated: pd.Series, target: pd.Series) -> dict[str, float]:
    """R², Pearson, Spearman and sign agreement against the target."""
    e = estimated.loc[target.index].to_numpy()
    t = target.to_numpy()
    return {
        "R²": r_squared(t, e),
        "Pearson": stats.pearsonr(e, t)[0],
        "Spearman": stats.spearmanr(e, t)[0],
        "sign": float(np.mean(np.sign(e) == np.sign(t))),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0, target_points=0)
    quick = args.quick
    n_points = args.points or (80 if quick else 300)
    n_target = args.target_points or (30 if quick else 100)
    counts = [5, 10, 20, 40] if quick else [5, 10, 20, 50, 100]
    target_samples = 60 if quick else 150

    # One validation split for both studies; points index the pool.
    X, y = load_breast_cancer(return_X_y=True)
    X = standardised(X)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(X))
    val, pool = order[:114], np.sort(order[114:])
    X_pool, y_pool = X[pool], y[pool]
    points = np.sort(rng.choice(len(pool), n_points, replace=False))
    target_points = np.sort(rng.choice(points, n_target, replace=False))
    common = {"model": "logistic", "sizes": WINDOW, "validation": (X[val], y[val])}

    study = run_study(
        args,
        f"estimators-{n_points}x{counts[-1]}",
        X_pool,
        y_pool,
        samples=counts[-1],
        points=points,
        **common,
    )
    target_args = argparse.Namespace(**{**vars(args), "seed": args.seed + 1})
    target_study = run_study(
        target_args,
        f"estimators-target-{n_target}x{target_samples}",
        X_pool,
        y_pool,
        samples=target_samples,
        points=target_points,
        **common,
    )

    # The target and its split-half reliability.
    target_obs = target_study.observations()
    target = target_obs.groupby("point")["delta"].mean()
    halves = target_obs.sort_values("draw").groupby("point").cumcount() % 2
    split = [target_obs[halves == h].groupby("point")["delta"].mean() for h in (0, 1)]
    r_half = stats.pearsonr(split[0], split[1])[0]
    reliability = 2 * r_half / (1 + r_half)

    # Every estimator at every count.
    observations = study.observations()
    rows = []
    for m in counts:
        sample = first(observations, m)
        for name in ("Monte Carlo", "likelihood", "likelihood, prior", "amortized"):
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", nbscale.LawFitWarning)
                estimated = estimate(name, sample, X_pool, y_pool, args.seed)
            seconds = time.perf_counter() - started
            rows.append(
                {"m": m, "estimator": name, **scores(estimated, target), "s": seconds}
            )
    table = pd.DataFrame(rows)
    print(
        f"\nvalue over sizes {WINDOW} against a {target_samples}-sample target on "
        f"{n_target} points (amortized trains on all {n_points} points)"
    )
    print(f"target split-half reliability (Spearman-Brown): {reliability:.3f}")
    print(table.round(3).to_string(index=False))
    chart(table)


def chart(table: pd.DataFrame) -> None:
    """Each score against the number of observations per point.

    Scores below the frame's floor of -0.5 are drawn on the floor as
    downward triangles, so a clipped value is visible as such.
    """
    import altair as alt

    floor = -0.5
    long = table.melt(
        id_vars=["m", "estimator"],
        value_vars=["R²", "Pearson", "Spearman"],
        var_name="score",
    )
    long["clipped"] = long["value"] < floor
    long["shown"] = long["value"].clip(lower=floor)
    base = alt.Chart(long).encode(
        x=alt.X(
            "m:Q",
            scale=alt.Scale(type="log", domain=[4, 120]),
            axis=alt.Axis(values=[5, 10, 20, 50, 100]),
            title="observations per point",
        ),
        y=alt.Y("shown:Q", title=None, scale=alt.Scale(domain=[floor - 0.1, 1])),
        color=alt.Color("estimator:N"),
    )
    layers = alt.layer(
        base.mark_line(),
        base.mark_point(filled=True, size=70, opacity=1).encode(
            shape=alt.Shape(
                "clipped:N",
                scale=alt.Scale(
                    domain=[False, True], range=["circle", "triangle-down"]
                ),
                title=f"below {floor}",
            )
        ),
    )
    chart = layers.properties(width=220, height=200).facet(
        column=alt.Column("score:N", title=None)
    )
    save_chart(chart, "estimators")


if __name__ == "__main__":
    main()
