"""Fidelity 2: ordinary least squares on Gaussian data gives alpha = 2.

For linear regression with Gaussian features ``x ~ N(0, I)`` and noise of
sd ``s``, the expected contribution of a point at size ``k`` is, to
leading order, ``(x' S^-1 x) (2 s^2 - e^2) / k^2`` with ``e`` its
residual (PAPER.md §5, derived): every point decays with ``alpha = 2``,
and points with ``|e| > sqrt(2) s`` are harmful. This script samples
contributions for such data with ``model="linear"`` and fits the laws.
Points whose true contribution is near zero (``|e|`` close to
``sqrt(2) s``) carry little information about their slope, so the alpha
summary is given for all helpful, well-fitted points and for the strong
ones, whose value at the window's middle is at least half the median.

The theory describes the population loss. A finite validation split
with noisy targets adds a term of order ``1 / (k sqrt(n_val))`` to each
contribution, whose sign differs from point to point and which decays
with ``alpha = 1``; at these sizes it would swamp the ``1 / k^2`` term.
The validation split is therefore large (20,000 rows) with noise-free
targets ``x' w``, so its mean squared error is the excess risk
``(w_D - w)' S_val (w_D - w)``, the quantity the theory speaks of. The
aggregate law ``loss(k) = epsilon + C k^-a`` then has ``epsilon = 0``
and ``a = 1``, so ``a + 1 = 2`` as for the average point.

Usage::

    python benchmarks/fidelity/theory.py            # about 1 minute
    python benchmarks/fidelity/theory.py --quick
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import parse_args, quiet_laws, run_study, save_chart
from scipy import stats


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], points=0, samples=0)
    quick = args.quick
    n_points = args.points or (30 if quick else 80)
    samples = args.samples or (60 if quick else 150)

    # Synthetic Gaussian design with known residuals; the validation
    # targets are noise-free, so validation error is the excess risk.
    rng = np.random.default_rng(args.seed)
    n, d, noise = 3000, 4, 1.0
    X = rng.normal(size=(n, d))
    weights = rng.normal(size=d)
    residual = rng.normal(scale=noise, size=n)
    y = X @ weights + residual
    X_val = rng.normal(size=(20_000, d))
    y_val = X_val @ weights
    points = np.arange(n_points)

    study = run_study(
        args,
        f"theory-clean-{n_points}x{samples}",
        X,
        y,
        model="linear",
        sizes=(40, 400),
        samples=samples,
        points=points,
        validation=(X_val, y_val),
    )
    laws = quiet_laws(study)

    # Theory at the window's geometric middle, against the fitted law.
    k_mid = np.sqrt(40 * 400)
    # x' S^-1 x for the model's inputs (1, x): S = I, with the intercept.
    leverage = 1.0 + np.sum(X[points] ** 2, axis=1)
    theory = leverage * (2 * noise**2 - residual[points] ** 2) / k_mid**2
    fitted = laws["c"].to_numpy() * k_mid ** -laws["alpha"].to_numpy()
    helpful = (laws["c"] > 0) & (laws["flag"] == "ok")
    strong = helpful & (fitted >= 0.5 * np.median(fitted[helpful]))

    rows = []
    for name, subset in (("helpful, ok", helpful), ("strong helpful", strong)):
        q10, q25, q50, q75, q90 = np.quantile(
            laws.loc[subset, "alpha"], [0.1, 0.25, 0.5, 0.75, 0.9]
        )
        rows.append(
            {
                "points": name,
                "n": int(subset.sum()),
                "alpha median": q50,
                "alpha IQR": f"{q25:.2f}-{q75:.2f}",
                "alpha 10-90%": f"{q10:.2f}-{q90:.2f}",
            }
        )
    # The dataset-level curve: nbscale's aggregate fit (epsilon free), and
    # the log-log slope of the excess loss, one value per draw (epsilon = 0
    # here, so the slope is -a directly).
    a = study.aggregate(warn=False).attrs["a"]
    per_draw = study.observations().groupby("draw")[["size", "loss_without"]].first()
    slope = np.polyfit(
        np.log(per_draw["size"]), np.log(per_draw["loss_without"]), deg=1
    )[0]

    print("\nOLS on Gaussian data (theory: alpha = 2)")
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    print(
        f"aggregate law: a + 1 = {a + 1:.2f} (study.aggregate, epsilon free); "
        f"log-log slope of the excess loss over {len(per_draw)} draws: "
        f"a + 1 = {1 - slope:.2f}"
    )
    print(
        f"sign agreement of the fitted value at k_mid with theory "
        f"{np.mean(np.sign(fitted) == np.sign(theory)):.2f}, "
        f"Spearman {stats.spearmanr(fitted, theory)[0]:.2f} ({len(laws)} points)"
    )

    chart(laws, strong, theory, fitted)


def chart(
    laws: pd.DataFrame, strong: pd.Series, theory: np.ndarray, fitted: np.ndarray
) -> None:
    """Alpha histogram with the theory line; fitted against theoretical value."""
    import altair as alt

    frame = pd.DataFrame(
        {
            "alpha": laws["alpha"].to_numpy(),
            "used": np.where(strong, "strong helpful", "other"),
            "theory": theory,
            "fitted": fitted,
        }
    )
    histogram = (
        alt.Chart(frame[frame["used"] == "strong helpful"])
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("alpha:Q", bin=alt.Bin(step=0.2), title="fitted alpha"),
            y=alt.Y("count():Q", title="points"),
        )
        .properties(width=280, height=220, title="alpha of strong helpful points")
    )
    rule = (
        alt.Chart(pd.DataFrame({"alpha": [2.0]}))
        .mark_rule(color="red")
        .encode(x="alpha:Q")
    )
    scatter = (
        alt.Chart(frame)
        .mark_circle(size=25)
        .encode(
            x=alt.X("theory:Q", title="theory at k_mid: (1 + x'x)(2s² - e²) / k²"),
            y=alt.Y("fitted:Q", title="fitted c k^-alpha at k_mid"),
            color=alt.Color("used:N", title=None),
        )
        .properties(width=280, height=220, title="value at the window's middle")
    )
    diagonal = (
        alt.Chart(frame)
        .mark_line(color="gray", strokeDash=[4, 4])
        .encode(x="theory:Q", y="theory:Q")
    )
    save_chart(alt.hconcat(histogram + rule, scatter + diagonal), "theory")


if __name__ == "__main__":
    main()
