"""Fidelity 1: the individualized law holds on real data, at unseen sizes.

For ``load_digits`` and ``load_breast_cancer`` with logistic regression,
every studied point is observed at the paper's ten geometric sizes (the
``"geometric"`` schedule), several times each. Laws are fitted on some
sizes and judged on the others:

- interpolation: fitted on sizes 1, 3, 5, 7, 9 of the ten, judged on
  2, 4, 6, 8, 10;
- extrapolation: fitted on the seven smallest, judged on the three largest;
- in-sample (the paper's measure, for reference): fitted and judged on all.

The judged quantity is each point's mean contribution at a size; R² is
computed over all (point, size) pairs and per size. Per-size means of a
few observations are noisy themselves, so a "ceiling" column gives the R²
that a perfect law would reach against them. The α distribution of
well-fitted helpful points is compared with PAPER.md §5.

Usage::

    python benchmarks/fidelity/law_holds.py            # about 3 minutes
    python benchmarks/fidelity/law_holds.py --quick    # under a minute
    python benchmarks/fidelity/law_holds.py --rounds 40 --points 100  # closer
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import (
    fit_quietly,
    parse_args,
    quiet_laws,
    r_squared,
    run_study,
    save_chart,
    standardised,
)
from sklearn.datasets import load_breast_cancer, load_digits


def held_out_r2(
    observations: pd.DataFrame, grid: np.ndarray, fit_sizes: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on ``fit_sizes``; score per-size means at the other sizes.

    Returns the per-(point, size) table of observed and predicted means
    and a per-size summary (R² and its noise ceiling).
    """
    judged_sizes = np.setdiff1d(grid, fit_sizes) if len(fit_sizes) < len(grid) else grid
    fit_rows = observations["size"].isin(fit_sizes)
    laws = fit_quietly(observations[fit_rows])

    judged = observations[observations["size"].isin(judged_sizes)]
    means = (
        judged.groupby(["point", "size"])["delta"]
        .agg(observed="mean", sd="std", count="size")
        .reset_index()
    )
    law = laws.loc[means["point"]]
    means["predicted"] = (
        law["c"].to_numpy() * means["size"].to_numpy() ** -law["alpha"].to_numpy()
    )
    means["se2"] = means["sd"] ** 2 / means["count"]

    rows = []
    for size, group in means.groupby("size"):
        variance = group["observed"].var()
        rows.append(
            {
                "size": int(size),
                "r2": r_squared(group["observed"], group["predicted"]),
                "ceiling": 1 - group["se2"].mean() / variance,
            }
        )
    return means, pd.DataFrame(rows)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0, rounds=0)
    quick = args.quick
    setups = {
        "digits": (load_digits, (40, 575), 20 if quick else 50),
        "breast_cancer": (load_breast_cancer, (20, 180), 30 if quick else 100),
    }
    rounds = args.rounds or (3 if quick else 10)

    summary_rows, scatter, alphas = [], [], []
    for name, (loader, window, n_points) in setups.items():
        X, y = loader(return_X_y=True)
        X = standardised(X)
        n_points = args.points or n_points
        rng = np.random.default_rng(args.seed)
        points = np.sort(rng.choice(len(X), n_points, replace=False))
        study = run_study(
            args,
            f"law-{name}-{n_points}x{rounds}",
            X,
            y,
            model="logistic",
            sizes=window,
            schedule="geometric",
            samples=10 * rounds,
            points=points,
        )
        observations = study.observations()
        grid = np.sort(observations["size"].unique())

        designs = {
            "interpolation": grid[0::2],
            "extrapolation": grid[:7],
            "in-sample": grid,
        }
        for design, fit_sizes in designs.items():
            means, per_size = held_out_r2(observations, grid, fit_sizes)
            summary_rows.append(
                {
                    "dataset": name,
                    "design": design,
                    "judged sizes": ", ".join(str(s) for s in per_size["size"]),
                    "R² overall": r_squared(means["observed"], means["predicted"]),
                    "R² per size (min-max)": (
                        f"{per_size['r2'].min():.2f}-{per_size['r2'].max():.2f}"
                    ),
                    "ceiling per size": (
                        f"{per_size['ceiling'].min():.2f}-"
                        f"{per_size['ceiling'].max():.2f}"
                    ),
                }
            )
            if design == "interpolation":
                scatter.append(means.assign(dataset=name))
                print(f"\n{name}, interpolation, per size:")
                print(per_size.round(3).to_string(index=False))

        # Alpha of well-fitted, helpful points; the aggregate law's a + 1.
        laws = quiet_laws(study)
        good = laws[(laws["flag"] == "ok") & (laws["c"] > 0)]
        q10, q50, q90 = np.quantile(good["alpha"], [0.1, 0.5, 0.9])
        a = study.aggregate().attrs["a"]
        print(
            f"\n{name}: alpha of {len(good)} helpful ok points of {len(laws)}: "
            f"median {q50:.2f}, 10-90% {q10:.2f}-{q90:.2f}; aggregate a + 1 = "
            f"{a + 1:.2f}; harmful (c < 0): {int((laws['c'] < 0).sum())}"
        )
        alphas.append(good[["alpha"]].assign(dataset=name))

    summary = pd.DataFrame(summary_rows)
    print("\nR² of per-size mean contributions predicted by the fitted laws")
    print(summary.round(3).to_string(index=False))
    print("Paper (IMDB, logistic, in-sample): overall 0.987, per size ~0.97-1.0;")
    print("alpha 10-90% ~0.75-1.4 (PAPER.md §5).")
    chart(pd.concat(scatter), pd.concat(alphas))


def chart(scatter: pd.DataFrame, alphas: pd.DataFrame) -> None:
    """Predicted against observed means, and the alpha histograms."""
    import altair as alt

    points = (
        alt.Chart(scatter)
        .mark_circle(size=18, opacity=0.6)
        .encode(
            x=alt.X("predicted:Q", title="law's prediction (held-out size)"),
            y=alt.Y("observed:Q", title="observed mean contribution"),
            color=alt.Color(
                "size:O", title="size k", scale=alt.Scale(scheme="viridis")
            ),
        )
        .properties(width=260, height=220)
    )
    diagonal = (
        alt.Chart(scatter)
        .mark_line(color="gray", strokeDash=[4, 4])
        .encode(x="predicted:Q", y="predicted:Q")
    )
    left = (points + diagonal).facet(column=alt.Column("dataset:N", title=None))
    left = left.resolve_scale(x="independent", y="independent")
    right = (
        alt.Chart(alphas)
        .mark_bar(opacity=0.7)
        .encode(
            x=alt.X("alpha:Q", bin=alt.Bin(maxbins=30), title="alpha (helpful, ok)"),
            y=alt.Y("count():Q", stack=None, title="points"),
            color=alt.Color("dataset:N", scale=alt.Scale(range=["#f58518", "#54a24b"])),
        )
        .properties(width=260, height=220)
    )
    combined = alt.hconcat(left, right).resolve_scale(color="independent")
    save_chart(combined, "law_holds")


if __name__ == "__main__":
    main()
