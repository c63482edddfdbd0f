"""Amortized against per-point likelihood laws with 10-30 observations a point.

Real data never tell the true laws, so this comparison uses laws that are
known: each point's ``c`` and ``alpha`` are smooth functions of its
features (and, for classification, of its class), and a study with
:class:`nbscale.testing.KnownLawLearner` samples contributions from them
with the paper's noise (sd of one contribution 1-4 times its mean, beta =
2 alpha, about 15% harmful points). Two studies of 3,000 points each,
one classification (three classes, labels given to the network) and one
regression (no labels), take 30 observations a point; both estimators
then fit the first ``m`` of them, for ``m`` = 10, 20, 30.

Scores against the true laws: Spearman and R² of the value over the size
window, median absolute error of alpha, and the share of points whose
value has the right sign. The amortized fit is timed (one CPU thread, as
it always runs) and its held-out loss is printed.

Usage::

    python benchmarks/fidelity/amortized.py            # about 3 minutes
    python benchmarks/fidelity/amortized.py --quick    # about a minute
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from common import fit_quietly, parse_args, r_squared, run_study, save_chart
from scipy import stats

import nbscale
from nbscale.testing import KnownLawLearner

WINDOW = (100, 1000)
K_REF = np.sqrt(WINDOW[0] * WINDOW[1])


def known_laws(
    X: np.ndarray, classes: np.ndarray | None, rng: np.random.Generator
) -> pd.DataFrame:
    """Laws that depend on the features (and the class, when given)."""
    shift = 0.0 if classes is None else 0.25 * (classes - 1)
    alpha = np.clip(1.0 + 0.45 * np.tanh(X[:, 0]) + shift, 0.3, 2.0)
    sign = np.where(X[:, 2] > 1.05, -1.0, 1.0)
    value_at_ref = sign * np.exp(-4.0 + 0.6 * X[:, 1])
    c = value_at_ref * K_REF**alpha
    ratio = rng.uniform(1.0, 4.0, len(X))
    sigma = ratio * np.abs(c)
    return pd.DataFrame(
        {"c": c, "alpha": alpha, "sigma": sigma, "beta": 2.0 * alpha},
        index=pd.RangeIndex(len(X), name="point"),
    )


def scores(laws: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Value and alpha accuracy of ``laws`` against the true laws."""
    estimated = nbscale.values(laws, WINDOW)["value"].to_numpy()
    exact = truth.loc[laws.index].assign(c_se=0.0, alpha_se=0.0, c_alpha_cov=0.0)
    target = nbscale.values(exact, WINDOW)["value"].to_numpy()
    alpha_error = np.abs(laws["alpha"].to_numpy() - truth.loc[laws.index, "alpha"])
    return {
        "value Spearman": stats.spearmanr(estimated, target)[0],
        "value R²": r_squared(target, estimated),
        "median |alpha error|": float(np.median(alpha_error)),
        "sign": float(np.mean(np.sign(estimated) == np.sign(target))),
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0)
    n_points = args.points or (1000 if args.quick else 3000)
    counts = (10, 20, 30)
    rng = np.random.default_rng(args.seed)

    rows = []
    for task in ("classification", "regression"):
        # Features, targets and the known laws of every pool row; the
        # pool is at least 1,500 rows so that sizes reach 1,000.
        n_pool = max(n_points, 1500)
        X = rng.normal(size=(n_pool, 8))
        if task == "classification":
            y = np.argmax(X[:, 3:6] + 0.5 * rng.normal(size=(n_pool, 3)), axis=1)
            labels = y
        else:
            y = X[:, 3] + 0.5 * rng.normal(size=n_pool)
            labels = None
        truth = known_laws(X, labels, rng)
        study = run_study(
            args,
            f"amortized-{task}-{n_points}",
            X,
            y,
            model=KnownLawLearner(truth),
            sizes=WINDOW,
            samples=counts[-1],
            points=np.arange(n_points),
            validation=(X[:50], y[:50]),
        )
        observations = study.observations().sort_values("draw", kind="stable")

        # Both estimators on the first m observations of every point.
        for m in counts:
            sample = observations[observations.groupby("point").cumcount() < m]
            started = time.perf_counter()
            per_point = fit_quietly(sample)
            per_point_seconds = time.perf_counter() - started
            started = time.perf_counter()
            amortized = nbscale.fit_amortized(sample, X, labels, random_state=args.seed)
            amortized_seconds = time.perf_counter() - started
            attrs = amortized.attrs
            for name, laws, seconds in (
                ("likelihood", per_point, per_point_seconds),
                ("amortized", amortized, amortized_seconds),
            ):
                extra = {}
                if name == "amortized":
                    extra = {
                        "val loss": attrs["val_loss"],
                        "epochs": f"{attrs['best_epoch']}/{attrs['n_epochs']}",
                    }
                rows.append(
                    {
                        "task": task,
                        "m": m,
                        "estimator": name,
                        **scores(laws, truth),
                        "s": seconds,
                        **extra,
                    }
                )

    table = pd.DataFrame(rows)
    print(
        f"\n{n_points:,} points per task, known laws that depend on the "
        f"features; value over sizes {WINDOW}"
    )
    print(table.round(3).astype(object).fillna("").to_string(index=False))
    chart(table)


def chart(table: pd.DataFrame) -> None:
    """Value Spearman and alpha error against m, per task and estimator."""
    import altair as alt

    long = table.melt(
        id_vars=["task", "m", "estimator"],
        value_vars=["value Spearman", "median |alpha error|"],
        var_name="score",
    )
    # Lines dashed by task; the legend shows the task as the point shape,
    # since a dash legend draws no visible symbol here.
    base = alt.Chart(long).encode(
        x=alt.X("m:Q", title="observations per point", scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("estimator:N"),
    )
    lines = (
        alt.layer(
            base.mark_line().encode(strokeDash=alt.StrokeDash("task:N", legend=None)),
            base.mark_point(filled=True, size=60).encode(
                shape=alt.Shape("task:N", title="task (solid / dashed)")
            ),
        )
        .properties(width=240, height=200)
        .facet(column=alt.Column("score:N", title=None))
        .resolve_scale(y="independent")
    )
    save_chart(lines, "amortized")


if __name__ == "__main__":
    main()
