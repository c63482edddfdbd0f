"""Routing models to engines, forcing scikit-learn, and study identity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

import nbscale
from nbscale.learners import (
    LinearLearner,
    LogisticLearner,
    MLPLearner,
    SklearnLearner,
    learner_for,
)
from nbscale.testing import KnownLawLearner, random_laws


class MyLogistic(LogisticRegression):
    """A subclass may change fit; it is never routed to the engine."""


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("logistic", LogisticLearner),
        ("linear", LinearLearner),
        ("ridge", LinearLearner),
        ("mlp", MLPLearner),
        (LogisticRegression(), LogisticLearner),
        (LogisticRegression(C=10.0, fit_intercept=False), LogisticLearner),
        (LogisticRegression(solver="newton-cholesky", penalty="l2"), LogisticLearner),
        (Ridge(alpha=0.5, solver="svd"), LinearLearner),
        (LinearRegression(fit_intercept=False), LinearLearner),
        (LogisticRegression(l1_ratio=1.0, solver="saga"), SklearnLearner),
        (LogisticRegression(solver="liblinear"), SklearnLearner),
        (LogisticRegression(class_weight="balanced"), SklearnLearner),
        (Ridge(positive=True, solver="lbfgs"), SklearnLearner),
        (Ridge(alpha=0.0), SklearnLearner),
        (LinearRegression(positive=True), SklearnLearner),
        (MyLogistic(), SklearnLearner),
        (DecisionTreeClassifier(), SklearnLearner),
    ],
)
def test_auto_routes_covered_models_to_engines(model, expected) -> None:
    assert type(learner_for(model)) is expected


def test_engine_options_follow_the_estimator() -> None:
    learner = learner_for(LogisticRegression(C=0.25, fit_intercept=False))
    assert (learner.C, learner.fit_intercept) == (0.25, False)
    assert learner_for(Ridge(alpha=4.0)).alpha == 4.0
    assert learner_for(LinearRegression(tol=1e-9)).tol == 1e-9


def test_sklearn_engine_is_forced_and_batched_is_insisted_on() -> None:
    assert type(learner_for("logistic", engine="sklearn")) is SklearnLearner
    assert type(learner_for(Ridge(), engine="sklearn")) is SklearnLearner
    assert type(learner_for("ridge", engine="batched")) is LinearLearner
    with pytest.raises(ValueError, match="engine: no batched engine covers"):
        learner_for(DecisionTreeClassifier(), engine="batched")
    known = KnownLawLearner(random_laws(5))
    assert learner_for(known, engine="sklearn") is known


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"engine": "fast"}, "engine: expected one of"),
        ({"device": "tpu"}, "device: expected"),
    ],
)
def test_bad_engine_or_device(kwargs, needle) -> None:
    with pytest.raises(ValueError, match=needle):
        learner_for("logistic", **kwargs)


def test_cuda_unavailable_is_explained() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="device: 'cuda' asks for a CUDA GPU"):
        learner_for("logistic", device="cuda")


def small(X, y, **kwargs):
    options = {
        "sizes": (20, 60),
        "samples": 2,
        "points": list(range(5)),
        "store": ":memory:",
        "random_state": 0,
    }
    options.update(kwargs)
    return nbscale.Study(X, y, **options)


def test_engine_keeps_the_fingerprint_and_the_observations(wine, tmp_path) -> None:
    X, y = wine
    fast = small(X, y).run(progress=False, executor="inline")
    slow = small(X, y, engine="sklearn").run(progress=False, executor="inline")
    assert fast.name == slow.name
    assert (
        np.abs(fast.observations()["delta"] - slow.observations()["delta"]).max() < 1e-6
    )

    # A store made by one engine resumes with the other.
    path = tmp_path / "engines.nbscale"
    small(X, y, store=path, engine="sklearn").run(progress=False, executor="inline")
    again = small(X, y, store=path, samples=3)
    assert again._config["engine"] == "auto"
    again.run(progress=False, executor="inline")
    assert again.n_observations == 15


def test_design_and_mlp_trainer_change_the_fingerprint(wine) -> None:
    X, y = wine
    names = {
        small(X, y, design="paired").name,
        small(X, y, design="shared").name,
        small(X, y, model="mlp").name,
        small(X, y, model="mlp", engine="sklearn").name,
    }
    assert len(names) == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"engine": "gpu"}, ValueError, "engine: expected one of"),
        ({"design": "pairs"}, ValueError, "design: expected"),
        (
            {"design": "shared", "allocation": "adaptive"},
            ValueError,
            "design: the shared design needs allocation='uniform'",
        ),
        (
            {"model": DecisionTreeClassifier(), "engine": "batched"},
            ValueError,
            "engine: no batched engine covers",
        ),
    ],
)
def test_bad_study_arguments(wine, kwargs, error, needle) -> None:
    with pytest.raises(error, match=needle):
        small(*wine, **kwargs)
