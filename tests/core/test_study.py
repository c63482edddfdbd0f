"""The Study API: runs, reproducibility, reopening, failures, bad input."""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import nbscale


def small(X, y, **kwargs):
    options = {
        "sizes": (20, 60),
        "samples": 3,
        "points": list(range(6)),
        "store": ":memory:",
        "random_state": 0,
    }
    options.update(kwargs)
    return nbscale.Study(X, y, **options)


def test_observations_have_documented_columns(wine) -> None:
    study = small(*wine).run(progress=False, executor="inline")
    frame = study.observations()
    assert frame.columns.tolist()[:4] == ["point", "size", "delta", "draw"]
    assert len(frame) == study.n_observations == study.n_target == 18
    assert not frame.duplicated(["draw", "point"]).any()
    assert frame.groupby("point").size().tolist() == [3] * 6


@pytest.mark.parametrize(("engine", "tolerance"), [("sklearn", 1e-12), ("auto", 1e-6)])
def test_delta_matches_an_independent_refit(cancer, engine, tolerance) -> None:
    # "logistic" is LogisticRegression()'s model solved to convergence.
    X, y = cancer
    study = small(X, y, points=[10, 20], engine=engine)
    study.run(progress=False, executor="inline")
    data = study.data
    for row in study.observations().itertuples():
        subset = study.subset(row.draw)
        assert row.point not in subset and len(subset) == row.size
        with_point = np.append(subset, row.point)
        losses = []
        for rows in (subset, with_point):
            model = LogisticRegression(
                solver="newton-cholesky", tol=1e-12, max_iter=1000
            )
            model.fit(X[rows], y[rows])
            losses.append(log_loss(data.y_val, model.predict_proba(data.X_val)))
        assert row.delta == pytest.approx(losses[0] - losses[1], abs=tolerance)


def test_same_seed_same_observations_across_executors(wine) -> None:
    inline = small(*wine).run(progress=False, executor="inline").observations()
    threads = small(*wine).run(progress=False, executor="threads").observations()
    processes = small(*wine).run(progress=False, executor=2).observations()
    pd.testing.assert_frame_equal(inline, threads)
    pd.testing.assert_frame_equal(inline, processes)


def test_different_seed_different_observations(wine) -> None:
    first = small(*wine).run(progress=False, executor="inline").observations()
    other = small(*wine, random_state=1).run(progress=False, executor="inline")
    assert not np.allclose(first["delta"], other.observations()["delta"])


def test_stop_then_run_completes_without_duplicates(wine, tmp_path) -> None:
    path = tmp_path / "w.nbscale"
    study = small(*wine, samples=6, store=path).start(executor="threads")
    while study.n_observations == 0:
        time.sleep(0.01)
    study.stop()
    assert not study.running
    kept = study.n_observations
    assert 0 < kept
    study.run(progress=False, executor="inline")
    frame = study.observations()
    assert len(frame) == study.n_target == 36
    assert not frame.duplicated(["draw", "point"]).any()


def test_reopen_resumes_to_the_target(wine, tmp_path) -> None:
    path = tmp_path / "w.nbscale"
    study = small(*wine, samples=4, store=path)
    study.start(executor="inline").stop()
    partial = nbscale.open(path)
    assert partial.n_target == 24
    partial.run(progress=False, executor="inline")
    reference = small(*wine, samples=4).run(progress=False, executor="inline")
    pd.testing.assert_frame_equal(partial.observations(), reference.observations())


def test_same_call_reuses_its_store(wine, tmp_path) -> None:
    path = tmp_path / "w.nbscale"
    small(*wine, store=path, design="paired").run(progress=False, executor="inline")
    again = small(*wine, store=path, design="paired")
    assert again.n_observations == again.n_target
    with pytest.raises(nbscale.StoreError, match="already holds a different study"):
        small(*wine, store=path, sizes=(20, 70), design="paired")
    extended = small(*wine, store=path, samples=5, design="paired")
    extended.run(progress=False)
    assert extended.n_observations == 30
    assert extended.observations()["draw"].tolist() == list(range(30))


def test_default_store_is_a_file_named_by_fingerprint(
    wine, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    X, y = wine
    study = nbscale.Study(X, y, sizes=(20, 40), samples=1, points=[0], random_state=3)
    assert study.store_path.endswith(f".nbscale/study-{study.name}.nbscale")
    assert (tmp_path / ".nbscale").is_dir()


def test_reopened_dataframe_labels(wine, tmp_path) -> None:
    X, y = wine
    frame = pd.DataFrame(X, index=[f"id{i}" for i in range(len(X))])
    frame.columns = [f"f{i}" for i in range(X.shape[1])]
    frame["cls"] = y
    path = tmp_path / "labels.nbscale"
    study = nbscale.Study(
        frame,
        target="cls",
        sizes=(20, 40),
        samples=2,
        points=[1, 2],
        store=path,
        random_state=0,
    )
    study.run(progress=False, executor="inline")
    assert set(study.observations()["point"]) == {"id1", "id2"}
    assert set(nbscale.open(path).observations()["point"]) == {"id1", "id2"}


def test_listener_sees_every_committed_observation(wine) -> None:
    study = small(*wine)
    seen: list[pd.DataFrame] = []
    unsubscribe = study.add_listener(seen.append)
    study.run(progress=False, executor="threads")
    assert sum(len(batch) for batch in seen) == study.n_observations
    assert set(seen[0].columns) == {"point", "size", "delta", "draw"}
    unsubscribe()
    assert study.progress()["n_points_covered"] == 6


def test_failing_listener_is_removed_not_fatal(wine) -> None:
    study = small(*wine)
    study.add_listener(lambda batch: 1 / 0)
    study.run(progress=False, executor="inline")
    assert study.n_observations == study.n_target


class Flaky(ClassifierMixin, BaseEstimator):
    """Raises on subsets smaller than `limit` rows."""

    def __init__(self, limit: int = 40) -> None:
        self.limit = limit

    def fit(self, X, y):
        if len(X) < self.limit:
            raise RuntimeError("too small for me")
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_failures_are_recorded_and_warned_once(wine) -> None:
    study = small(*wine, model=Flaky(limit=40), samples=6)
    with pytest.warns(nbscale.FitFailureWarning, match="fits failed") as caught:
        study.run(progress=False, executor="inline")
    assert len(caught) == 1
    failures = study.failures()
    assert len(failures) == study.n_failures > 0
    assert failures["reason"].str.contains("too small for me").all()
    assert study.n_observations + study.n_failures == study.n_target


def test_every_fit_failing_stops_with_a_clear_error(wine) -> None:
    study = small(*wine, model=Flaky(limit=10_000), samples=6)
    with pytest.raises(nbscale.AllFitsFailedError, match="too small for me"):
        with pytest.warns(nbscale.FitFailureWarning):
            study.run(progress=False, executor="inline")


def test_regression_with_ridge(diabetes) -> None:
    study = small(*diabetes, model="ridge").run(progress=False, executor="inline")
    assert study.n_observations == 18
    assert np.isfinite(study.observations()["delta"]).all()


def test_accuracy_and_callable_metrics(wine) -> None:
    by_accuracy = small(*wine, metric="accuracy").run(progress=False, executor="inline")
    deltas = by_accuracy.observations()["delta"]
    assert np.allclose(deltas * 36, np.round(deltas * 36))  # multiples of 1/n_val

    def worst(y_true, y_pred):
        return float(np.mean(y_true != y_pred))

    custom = small(*wine, metric=worst).run(progress=False, executor="inline")
    assert np.allclose(custom.observations()["delta"], deltas)


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"model": "forest"}, ValueError, "model: expected one of"),
        ({"model": object()}, TypeError, "model: expected a built-in name"),
        ({"model": "linear"}, ValueError, "model: 'linear' is a regressor"),
        ({"metric": "auc"}, ValueError, "metric: expected one of"),
        ({"metric": 3}, TypeError, "metric: expected None"),
        ({"samples": 0}, ValueError, "samples: expected at least 1"),
        ({"samples": 2.5}, TypeError, "samples: expected a positive int"),
        ({"sizes": (0, 10)}, ValueError, "sizes: expected sizes between"),
        ({"sizes": (20, 500)}, ValueError, "sizes: expected sizes between"),
        ({"sizes": (40, 20)}, ValueError, "k_min <= k_max"),
        ({"points": [1000]}, ValueError, "points: expected positions"),
        ({"random_state": -1}, ValueError, "random_state: expected"),
        ({"schedule": "random"}, ValueError, "schedule: expected"),
    ],
)
def test_bad_arguments(wine, kwargs, error, needle) -> None:
    with pytest.raises(error, match=needle):
        small(*wine, **kwargs)


def test_bad_draw_for_subset(wine) -> None:
    study = small(*wine)
    with pytest.raises(ValueError, match="draw: expected a draw id"):
        study.subset(10_000)
    with pytest.raises(TypeError, match="draw: expected an int"):
        study.subset("3")


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_laws_values_recommend_aggregate_flow(cancer) -> None:
    X, y = cancer
    study = small(X, y, sizes=(20, 120), samples=12, points=list(range(12)))
    study.run(progress=False, executor=2)
    laws = study.laws()
    assert laws.index.name == "point" and len(laws) == 12
    assert np.isfinite(laws[["c", "alpha", "sigma", "beta"]].to_numpy()).all()
    values = study.values()
    assert values.columns.tolist() == ["value", "stderr"]
    top = study.recommend(size=100, n=4)
    assert top["score"].is_monotonic_decreasing and len(top) <= 4
    worst = study.recommend(size=100, n=3, action="remove")
    assert worst["score"].is_monotonic_increasing
    curve = study.aggregate()
    assert curve.index.name == "size" and (curve["n_obs"] > 0).all()


def test_progress_bar_reports_only_news(wine, capsys) -> None:
    # The bar reaches the target and redraws on new observations only,
    # not on every poll: a script's log must not fill with copies.
    from nbscale.testing import KnownLawLearner, random_laws

    # About 3 s of pretend work in batches of about half a second: a dozen
    # polls of the bar, half a dozen of them with news.
    learner = KnownLawLearner(random_laws(len(wine[0])), seconds_per_fit=0.1)
    study = small(*wine, model=learner, samples=5, points=list(range(6)))
    study.run(progress=True, executor="inline")
    err = capsys.readouterr().err

    frames = [frame for frame in err.replace("\r", "\n").splitlines() if frame]
    assert any("30/30" in frame for frame in frames)
    counts = [frame.split("|")[-1].split()[0] for frame in frames if "|" in frame]
    repeats = sum(a == b for a, b in pairwise(counts))
    assert repeats <= 2  # tqdm's own final refresh and close


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_aggregate_counts_each_draw_once(cancer) -> None:
    # Under the shared design one fit on D serves many points: the curve
    # must count that fit once, not once per observation that reuses it.
    X, y = cancer
    study = small(X, y, sizes=(20, 120), samples=6, points=list(range(30)))
    study.run(progress=False, executor="inline")
    observations = study.observations()
    curve = study.aggregate()

    draws = observations.groupby("draw")["size"].first()
    assert draws.size < len(observations)  # the design shared its fits
    assert curve["n_obs"].sum() == 2 * draws.size
    without = curve.loc[draws.value_counts().index, "n_obs"]
    assert (without >= draws.value_counts().reindex(without.index)).all()


@pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning")
def test_loglinear_needs_repeated_sizes(wine) -> None:
    study = small(*wine, samples=4).run(progress=False, executor="inline")
    with pytest.raises(ValueError, match="needs sizes observed repeatedly"):
        study.laws(method="loglinear")
    geometric = small(
        *wine, sizes=(20, 60), schedule="geometric", samples=20, points=[0, 1]
    )
    laws = geometric.run(progress=False, executor="inline").laws("loglinear")
    assert len(laws) == 2


def test_law_warnings_point_at_the_callers_line(wine) -> None:
    # Study.laws calls fit_laws inside nbscale: the warning must still name
    # the user's line, not nbscale's.
    study = small(*wine, samples=3).run(progress=False, executor="inline")
    with pytest.warns(nbscale.LawFitWarning) as caught:
        study.laws()

    assert caught[0].filename == __file__
