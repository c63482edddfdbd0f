"""The least-squares theory check: alpha is near 2 (PAPER.md §5)."""

from __future__ import annotations

import numpy as np
import pytest

import nbscale


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_ordinary_least_squares_gives_alpha_near_two() -> None:
    # Synthetic Gaussian design: x ~ N(0, I), y = x . w + noise.
    rng = np.random.default_rng(0)
    n, d = 3000, 4
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.normal(scale=1.0, size=n)

    study = nbscale.Study(
        X,
        y,
        model="linear",
        sizes=(40, 400),
        samples=150,
        points=list(range(30)),
        validation=0.3,
        store=":memory:",
        random_state=0,
    )
    study.run(progress=False, executor="inline")
    laws = study.laws()

    # Points with a clear positive contribution carry the slope; noisy points
    # (|residual| > sqrt(2) sigma) have c < 0 by the theory.
    helpful = laws[(laws["c"] > 0) & (laws["flag"] == "ok")]
    assert len(helpful) >= 10
    assert abs(helpful["alpha"].median() - 2.0) < 0.35
