"""Adaptive allocation and stopping rules."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import nbscale
from nbscale.allocation import AdaptiveSource
from nbscale.sampling import Plan
from nbscale.testing import KnownLawLearner, random_laws


def known_study(allocation: str, samples: int = 30, points: int = 30, **kwargs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 2))
    y = (X[:, 0] > 0).astype(int)
    return nbscale.Study(
        X,
        y,
        model=KnownLawLearner(random_laws(1200, random_state=1)),
        sizes=(100, 1000),
        samples=samples,
        points=list(range(points)),
        validation=0.1,
        store=kwargs.pop("store", ":memory:"),
        random_state=0,
        allocation=allocation,
        **kwargs,
    )


def alpha_error(study) -> float:
    laws = study.laws()
    truth = random_laws(1200, random_state=1)["alpha"].to_numpy()
    pool = study.data.pool_position(laws.index.to_numpy())
    return float(np.median(np.abs(laws["alpha"].to_numpy() - truth[pool])))


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_adaptive_beats_uniform_at_equal_budget() -> None:
    uniform = known_study("uniform").run(progress=False, executor="inline")
    adaptive = known_study("adaptive").run(progress=False, executor="inline")
    assert uniform.n_observations == adaptive.n_observations == 900
    assert alpha_error(adaptive) < 0.7 * alpha_error(uniform)


def test_adaptive_sizes_sit_at_the_ends_of_the_log_window() -> None:
    study = known_study("adaptive", samples=12).run(progress=False, executor="inline")
    frame = study.observations()
    late = frame[frame["draw"] >= 6 * 30]
    log_position = (np.log(late["size"]) - np.log(100)) / (np.log(1000) - np.log(100))
    assert ((log_position <= 0.21) | (log_position >= 0.79)).all()
    assert 0.4 < (log_position >= 0.79).mean() < 0.6


def test_adaptive_is_reproducible_across_executors_and_resume(tmp_path) -> None:
    inline = known_study("adaptive", samples=14).run(progress=False, executor="inline")
    threads = known_study("adaptive", samples=14).run(
        progress=False, executor="threads"
    )
    pd.testing.assert_frame_equal(inline.observations(), threads.observations())

    path = tmp_path / "adaptive.nbscale"
    partial = known_study("adaptive", samples=14, store=path)
    partial.run(progress=False, executor="inline", stop=nbscale.ObservationBudget(250))
    assert 250 <= partial.n_observations < 420
    resumed = nbscale.open(path, model=KnownLawLearner(random_laws(1200, 1)))
    resumed.run(progress=False, executor="threads")
    pd.testing.assert_frame_equal(resumed.observations(), inline.observations())


def test_adaptive_favours_uncertain_points() -> None:
    plan = Plan(np.arange(3), samples=10, window=(10, 100), grid=None, root_seed=0)
    laws = pd.DataFrame(
        {
            "alpha_se": [0.5, 0.05, 0.05],
            "n_obs": [10, 10, 10],
            "flag": ["ok", "ok", "ok"],
        },
        index=np.arange(3),
    )
    source = AdaptiveSource(plan, np.arange(18), lambda limit: laws)
    batch = source.next_batch(100)
    assert (batch.request_point == 0).sum() == 3


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_alpha_precision_rule_stops_early() -> None:
    study = known_study("adaptive", samples=400, points=10)
    study.run(
        progress=False,
        executor="inline",
        stop=nbscale.AlphaPrecision(0.25, quantile=0.8),
    )
    assert study.n_observations < study.n_target
    laws = study.laws()
    assert ((laws["alpha_se"] <= 0.25) & (laws["flag"] == "ok")).mean() >= 0.8


def test_rules_combine_with_or_and_and() -> None:
    now = time.monotonic()
    state = nbscale.stopping.RunState(n_observations=50, started=now)
    assert (nbscale.ObservationBudget(10) | nbscale.TimeBudget(1000))(state)
    assert not (nbscale.ObservationBudget(10) & nbscale.TimeBudget(1000))(state)


def test_time_budget_ends_a_run(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(20, 60),
        samples=500,
        points=list(range(20)),
        store=":memory:",
        random_state=0,
    )
    study.run(progress=False, executor="threads", stop=nbscale.TimeBudget(1.0))
    assert 0 < study.n_observations < study.n_target


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: nbscale.TimeBudget(-1), "seconds: expected"),
        (lambda: nbscale.AlphaPrecision("x"), "bound: expected"),
        (lambda: nbscale.AlphaPrecision(0.1, quantile=2), "quantile: expected"),
        (lambda: nbscale.ObservationBudget(0), "n: expected"),
    ],
)
def test_bad_rules(make, needle) -> None:
    with pytest.raises((ValueError, TypeError), match=needle):
        make()


def test_bad_allocation_and_stop(wine) -> None:
    X, y = wine
    with pytest.raises(ValueError, match="allocation: expected"):
        nbscale.Study(X, y, sizes=(20, 60), store=":memory:", allocation="greedy")
    study = nbscale.Study(X, y, sizes=(20, 60), samples=1, points=[0], store=":memory:")
    with pytest.raises(TypeError, match="stop: expected a stopping rule"):
        study.run(progress=False, stop=10)
