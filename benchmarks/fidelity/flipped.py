"""Fidelity 4: low values find flipped labels.

10% of the training pool of ``load_digits`` gets a wrong label (a random
other class); the validation split stays clean. A study samples the
contributions of random pool points, and each estimator values them over
the size window: Monte Carlo (mean contribution), likelihood laws and
amortized laws (features and noisy labels of the points). The AUC says
how well a low value singles out a flipped point (1 is perfect, 0.5 is
chance), for the first ``m`` observations of every point; "precision at
k" is the share of flipped points among the ``k`` lowest values, ``k``
the number of flipped points.

Usage::

    python benchmarks/fidelity/flipped.py            # about 3 minutes
    python benchmarks/fidelity/flipped.py --quick    # about a minute
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from common import fit_quietly, parse_args, run_study, save_chart, standardised
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

import nbscale

WINDOW = (40, 575)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0, samples=0)
    quick = args.quick
    n_points = args.points or (100 if quick else 300)
    samples = args.samples or (10 if quick else 25)
    counts = [m for m in (5, 10, 25, 50) if m <= samples]

    # Clean validation split; 10% of the pool flipped to another class.
    X, y = load_digits(return_X_y=True)
    X = standardised(X)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(X))
    val, pool = order[:360], np.sort(order[360:])
    X_pool, y_pool = X[pool], y[pool].copy()
    flipped = rng.random(len(pool)) < 0.1
    y_pool[flipped] = (y_pool[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    points = np.sort(rng.choice(len(pool), n_points, replace=False))

    study = run_study(
        args,
        f"flipped-{n_points}x{samples}",
        X_pool,
        y_pool,
        model="logistic",
        sizes=WINDOW,
        samples=samples,
        points=points,
        validation=(X[val], y[val]),
    )
    observations = study.observations().sort_values("draw", kind="stable")
    is_flipped = pd.Series(flipped[points], index=points)

    rows, last = [], {}
    for m in counts:
        sample = observations[observations.groupby("point").cumcount() < m]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nbscale.LawFitWarning)
            estimates = {
                "Monte Carlo": sample.groupby("point")["delta"].mean(),
                "likelihood": nbscale.values(fit_quietly(sample), WINDOW)["value"],
                "amortized": nbscale.values(
                    nbscale.fit_amortized(sample, X_pool, y_pool, random_state=0),
                    WINDOW,
                )["value"],
            }
        for name, value in estimates.items():
            truth = is_flipped.loc[value.index]
            rows.append(
                {
                    "m": m,
                    "estimator": name,
                    "AUC": roc_auc_score(truth, -value),
                    "precision at k": float(
                        truth.loc[value.nsmallest(int(truth.sum())).index].mean()
                    ),
                    "share with value < 0 (flipped)": float(np.mean(value[truth] < 0)),
                    "share with value < 0 (clean)": float(np.mean(value[~truth] < 0)),
                }
            )
        last = estimates

    table = pd.DataFrame(rows)
    print(
        f"\n{int(is_flipped.sum())} flipped of {n_points} studied points; "
        f"values over sizes {WINDOW}"
    )
    print(table.round(3).to_string(index=False))
    chart(table, last, is_flipped)


def chart(table: pd.DataFrame, last: dict[str, pd.Series], flipped: pd.Series) -> None:
    """AUC against observations; value distributions at the largest count."""
    import altair as alt

    lines = (
        alt.Chart(table)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "m:Q",
                scale=alt.Scale(type="log", domain=[4, 60]),
                title="observations per point",
            ),
            y=alt.Y("AUC:Q", scale=alt.Scale(domain=[0.4, 1.0])),
            color=alt.Color(
                "estimator:N",
                scale=alt.Scale(range=["#4c78a8", "#f58518", "#54a24b"]),
            ),
        )
        .properties(width=240, height=220, title="AUC of -value for flipped points")
    )
    frames = []
    for name, value in last.items():
        scaled = value / value.abs().median()
        frames.append(
            pd.DataFrame(
                {
                    "estimator": name,
                    "value / median |value|": scaled.clip(-8, 8).to_numpy(),
                    "label": np.where(flipped.loc[value.index], "flipped", "clean"),
                }
            )
        )
    bars = (
        alt.Chart(pd.concat(frames))
        .mark_bar(opacity=0.6)
        .encode(
            x=alt.X("value / median |value|:Q", bin=alt.Bin(maxbins=40)),
            y=alt.Y("count():Q", stack=None, title="points"),
            color=alt.Color(
                "label:N",
                title="true label",
                scale=alt.Scale(range=["#9d9d9d", "#e45756"]),
            ),
        )
        .properties(width=200, height=220)
        .facet(column=alt.Column("estimator:N", title=None))
    )
    combined = alt.hconcat(lines, bars).resolve_scale(color="independent")
    save_chart(combined, "flipped")


if __name__ == "__main__":
    main()
