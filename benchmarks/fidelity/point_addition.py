"""Fidelity 5: the point-addition experiment, small and large base sets.

PAPER.md §4: score candidate points at the size of the set they will
join, add the top ``n`` (equal per class) to a random base set, and
measure the change in test accuracy and log loss against random points
and against a size-agnostic ranking (the value over the study's window).
Here ``load_digits`` is split into a validation split (for the study's
contributions), an explicit test split (for the experiment only) and the
pool. ``nbscale.evaluate_selection`` runs the experiment with laws from
the likelihood and the amortized estimator, at a small and a large base
size; each also scores at the other size ("size=<k>"), to show what
matching the size is worth.

Usage::

    python benchmarks/fidelity/point_addition.py            # about 4 minutes
    python benchmarks/fidelity/point_addition.py --quick    # about a minute
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import parse_args, quiet_laws, run_study, save_chart, standardised
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

import nbscale

WINDOW = (40, 430)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0, samples=0, repeats=0)
    quick = args.quick
    n_points = args.points or (150 if quick else 400)
    samples = args.samples or (8 if quick else 20)
    repeats = args.repeats or (10 if quick else 40)
    small, large, n_add = 50, 400, 40

    # Validation (study), test (experiment) and pool: disjoint splits.
    X, y = load_digits(return_X_y=True)
    X = standardised(X)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(X))
    val, test, pool = order[:360], order[360:720], np.sort(order[720:])
    points = np.sort(rng.choice(len(pool), n_points, replace=False))
    study = run_study(
        args,
        f"addition-{n_points}x{samples}",
        X[pool],
        y[pool],
        model="logistic",
        sizes=WINDOW,
        samples=samples,
        points=points,
        validation=(X[val], y[val]),
    )

    rows = []
    for method in ("likelihood", "amortized"):
        laws = quiet_laws(study, method)
        n_ok = int((laws["flag"] == "ok").sum())
        for size, other in ((small, large), (large, small)):
            with threadpool_limits(1):
                table = nbscale.evaluate_selection(
                    study,
                    size=size,
                    n=n_add,
                    repeats=repeats,
                    test=(X[test], y[test]),
                    laws=laws,
                    other_sizes=[other],
                    random_state=args.seed,
                )
            table = table.reset_index().assign(method=method, base=size, ok=n_ok)
            rows.append(table)
    results = pd.concat(rows, ignore_index=True)

    print(
        f"\nadding {n_add} of {n_points} studied points (equal per class) to random "
        f"base sets; {repeats} repeats; test split of {len(test)} rows"
    )
    shown = results[
        [
            "method",
            "base",
            "strategy",
            "accuracy_change",
            "accuracy_vs_random",
            "accuracy_vs_random_se",
            "log_loss_change",
            "log_loss_vs_random",
            "log_loss_vs_random_se",
        ]
    ]
    print(shown.round(4).to_string(index=False))
    chart(results)


def chart(results: pd.DataFrame) -> None:
    """Accuracy gain over random choice, with two-standard-error bars."""
    import altair as alt

    # One name per strategy across panels: the other size is "other size".
    names = {"matched": "matched size", "window": "size-agnostic (window)"}
    strategy = results["strategy"].map(names).fillna("other size")
    frame = results.assign(
        strategy=strategy,
        gain=100 * results["accuracy_vs_random"],
        low=100
        * (results["accuracy_vs_random"] - 2 * results["accuracy_vs_random_se"]),
        high=100
        * (results["accuracy_vs_random"] + 2 * results["accuracy_vs_random_se"]),
        panel=results["method"] + " laws, base set of " + results["base"].astype(str),
    )
    frame = frame[results["strategy"] != "random"]
    order = ["matched size", "other size", "size-agnostic (window)"]
    base = alt.Chart(frame).encode(y=alt.Y("strategy:N", title=None, sort=order))
    bars = base.mark_bar().encode(
        x=alt.X("gain:Q", title="accuracy gain over random (% points)"),
        color=alt.Color(
            "strategy:N",
            sort=order,
            legend=None,
            scale=alt.Scale(range=["#4c78a8", "#e45756", "#72b7b2"]),
        ),
    )
    errors = base.mark_rule().encode(x="low:Q", x2="high:Q")
    layered = (bars + errors).properties(width=240, height=80)
    panels = list(dict.fromkeys(frame["panel"]))  # in the order they ran
    faceted = layered.facet(
        facet=alt.Facet("panel:N", title=None, sort=panels), columns=2
    ).properties(title="Adding 40 points chosen by their laws (bars: ±2 SE)")
    save_chart(faceted, "point_addition")


if __name__ == "__main__":
    main()
