"""A learner whose contributions follow known scaling laws.

:class:`KnownLawLearner` skips model training altogether: the contribution
of point ``z`` on a draw of size ``k`` is sampled from the noise model
``Normal(c_z * k**-alpha_z, sigma_z**2 * k**-beta_z)``, seeded by the draw.
Because the true laws are known, it measures estimators and sampling
strategies exactly, in seconds rather than hours. Tests, benchmarks and the
tutorials use it; a study takes it through ``model=``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nbscale.data import Dataset
from nbscale.learners.base import BatchResult
from nbscale.metrics import Metric
from nbscale.sampling import DrawBatch

__all__ = ["KnownLawLearner", "random_laws"]


def random_laws(n_points: int, random_state: int = 0) -> pd.DataFrame:
    """Laws with realistic spread: alpha 0.6-1.8, beta = 2 alpha, noisy.

    The noise is set so that the standard deviation of one contribution is
    1 to 4 times its mean, as measured on real models (PAPER.md §1); a
    tenth of the points are harmful (``c < 0``).

    Parameters
    ----------
    n_points : int
    random_state : int, default=0

    Returns
    -------
    DataFrame
        Indexed by point position ``0..n_points-1``; columns ``c``,
        ``alpha``, ``sigma``, ``beta`` (float64).

    Examples
    --------
    >>> laws = random_laws(5)
    >>> laws.columns.tolist()
    ['c', 'alpha', 'sigma', 'beta']
    >>> bool((laws["beta"] == 2 * laws["alpha"]).all())
    True
    """
    rng = np.random.default_rng(random_state)
    alpha = rng.uniform(0.6, 1.8, n_points)
    c = rng.lognormal(0.0, 0.5, n_points) * np.where(rng.random(n_points) < 0.1, -1, 1)
    sigma = np.abs(c) * rng.uniform(1.0, 4.0, n_points)
    return pd.DataFrame(
        {"c": c, "alpha": alpha, "sigma": sigma, "beta": 2.0 * alpha},
        index=pd.RangeIndex(n_points, name="point"),
    )


@dataclass
class KnownLawLearner:
    """Sample contributions from known per-point laws instead of training.

    Parameters
    ----------
    laws : DataFrame
        Columns ``c, alpha, sigma, beta``, one row per training-pool
        position (row ``i`` is pool position ``i``).
    seconds_per_fit : float, default=0.0
        Optional pretend cost of one observation, to exercise timing code.

    Examples
    --------
    >>> import nbscale
    >>> from nbscale.testing import KnownLawLearner, random_laws
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> learner = KnownLawLearner(random_laws(400))
    >>> study = nbscale.Study(X, y, model=learner, sizes=(10, 100), samples=3,
    ...                       points=[0, 1], store=":memory:", random_state=0)
    >>> study.run(progress=False).n_observations
    6
    """

    laws: pd.DataFrame
    seconds_per_fit: float = 0.0

    def evaluate(self, data: Dataset, batch: DrawBatch, metric: Metric) -> BatchResult:
        """Sample one contribution per request, seeded by its draw."""
        started = time.perf_counter()
        points = batch.request_point
        sizes = batch.size[batch.request_draw].astype(np.float64)
        seeds = batch.seed[batch.request_draw]
        table = self.laws.to_numpy(dtype=np.float64)
        c, alpha, sigma, beta = table[points].T

        noise = np.array(
            [
                np.random.default_rng([int(s), int(p)]).normal()
                for s, p in zip(seeds, points, strict=True)
            ]
        )
        delta = c * sizes**-alpha + sigma * sizes ** (-beta / 2.0) * noise
        if self.seconds_per_fit:
            time.sleep(self.seconds_per_fit * len(points))

        result = BatchResult.empty()
        result.draw = batch.draw[batch.request_draw]
        result.point = points.astype(np.int64)
        result.size = sizes.astype(np.int64)
        result.delta = delta
        result.loss_without = np.ones_like(delta)
        result.loss_with = 1.0 - delta
        result.seconds = time.perf_counter() - started
        return result
