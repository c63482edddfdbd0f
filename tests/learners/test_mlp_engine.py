"""The batched MLP: fixed starts, independence of networks, study wiring."""

from __future__ import annotations

import numpy as np
import pytest

import nbscale
from nbscale.data import check_dataset
from nbscale.learners import MLPLearner, check_model
from nbscale.metrics import check_metric
from nbscale.sampling import DrawBatch

pytest.importorskip("torch")


def batch_of(draws, sizes, seeds, points_per_draw):
    points = np.concatenate(points_per_draw)
    counts = [len(p) for p in points_per_draw]
    return DrawBatch(
        draw=np.array(draws),
        size=np.array(sizes),
        seed=np.array(seeds),
        excluded=-np.ones(len(draws), dtype=np.int64),
        request_draw=np.repeat(np.arange(len(draws)), counts),
        request_point=points,
    )


@pytest.fixture(scope="module")
def cancer_data(cancer):
    X, y = cancer
    return check_dataset(X, y, random_state=0)


def test_networks_do_not_depend_on_their_batch(cancer_data) -> None:
    metric = check_metric(None, is_classifier=True)
    learner = MLPLearner(max_iter=30, random_state=3)
    together = learner.evaluate(
        cancer_data,
        batch_of([0, 1], [40, 60], [11, 12], [[400, 401, 402], [403]]),
        metric,
    )
    alone = learner.evaluate(cancer_data, batch_of([0], [40], [11], [[401]]), metric)
    again = MLPLearner(max_iter=30, random_state=3).evaluate(
        cancer_data, batch_of([0], [40], [11], [[401]]), metric
    )
    row = together.point.tolist().index(401)
    assert alone.delta[0] == pytest.approx(together.delta[row], abs=1e-12)
    assert again.delta[0] == alone.delta[0]
    other = MLPLearner(max_iter=30, random_state=4).evaluate(
        cancer_data, batch_of([0], [40], [11], [[401]]), metric
    )
    assert other.delta[0] != alone.delta[0]  # another study, another start


def test_mlp_studies_for_classes_and_targets(wine, diabetes) -> None:
    assert check_model("mlp", is_classifier=True) == "mlp"
    assert check_model("mlp", is_classifier=False) == "mlp"
    for X, y in (wine, diabetes):
        study = nbscale.Study(
            X,
            (y - y.mean()) / y.std() if y.dtype.kind == "f" else y,
            model=MLPLearner(max_iter=20),
            sizes=(20, 40),
            samples=2,
            points=[0, 1, 2],
            store=":memory:",
            random_state=0,
        )
        study.run(progress=False, executor="inline")
        frame = study.observations()
        assert len(frame) == 6 and np.isfinite(frame["delta"]).all()


def test_builtin_mlp_uses_the_study_seed(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        model="mlp",
        sizes=(20, 30),
        samples=1,
        points=[0],
        store=":memory:",
        random_state=5,
    )
    learner = study._context().learner
    assert isinstance(learner, MLPLearner) and learner.random_state == 5
    fallback = nbscale.Study(
        X,
        y,
        model="mlp",
        engine="sklearn",
        sizes=(20, 30),
        samples=1,
        points=[0],
        store=":memory:",
        random_state=5,
    )
    assert fallback._context().learner.random_state == 5
    assert fallback.name != study.name


def test_bad_mlp_options() -> None:
    with pytest.raises(ValueError, match="hidden: expected a positive int"):
        MLPLearner(hidden=0)
    with pytest.raises(ValueError, match="dtype: expected"):
        MLPLearner(dtype="float16")
