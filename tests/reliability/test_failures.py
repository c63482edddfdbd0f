"""Failing fits and degenerate data are recorded, counted and survived."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import nbscale
from nbscale.data import check_dataset
from nbscale.learners import SklearnLearner
from nbscale.metrics import check_metric
from nbscale.sampling import DrawBatch


class Wrapped(ClassifierMixin, BaseEstimator):
    """Logistic regression that misbehaves when asked to."""

    def __init__(self, mode: str = "ok", every: int = 3) -> None:
        self.mode = mode
        self.every = every

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        self.bad_ = int(np.round(X[:, 0].sum() * 1000)) % self.every == 0
        if self.mode == "slow" and self.bad_:
            time.sleep(30)
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        proba = self.model_.predict_proba(X)
        if self.mode == "nan" and self.bad_:
            proba[0, 0] = np.nan
        return proba


def one_batch(data, model, size=30, n=6, timeout=None):
    one = np.ones(n, dtype=np.int64)
    batch = DrawBatch.paired(
        np.arange(n), one * size, np.arange(n) * 7 + 1, np.arange(n)
    )
    metric = check_metric(None, is_classifier=True)
    return SklearnLearner(model, fit_timeout=timeout).evaluate(data, batch, metric)


def test_nan_predictions_become_failures(wine) -> None:
    data = check_dataset(*wine, random_state=0)
    result = one_batch(data, Wrapped("nan", every=2), n=12)
    assert result.n_failures > 0 and result.n_observations > 0
    assert all("NaN" in reason for reason in result.failed_reason)


def test_subset_missing_a_class_keeps_columns_aligned(wine) -> None:
    # k = 2 cannot hold all three wine classes; probabilities are aligned to
    # all classes, so the loss is finite (clipped) rather than misindexed.
    data = check_dataset(*wine, random_state=0)
    result = one_batch(data, "logistic", size=2, n=6)
    assert result.n_observations == 6
    assert np.isfinite(result.delta).all()


def test_single_class_subset_is_a_failure(wine) -> None:
    data = check_dataset(*wine, random_state=0)
    result = one_batch(data, "logistic", size=1, n=4)
    assert result.n_failures == 4
    assert result.failed_reason[0] == "the subset holds a single class"


def test_fit_time_limit_in_main_thread(wine) -> None:
    data = check_dataset(*wine, random_state=0)
    result = one_batch(data, Wrapped("slow", every=2), n=6, timeout=0.5)
    assert result.n_failures > 0
    assert "time limit" in result.failed_reason[0]


def test_k_max_next_to_the_pool_size(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(100, 141),
        samples=2,
        points=[0, 1, 2],
        store=":memory:",
        random_state=0,
    )
    assert study.sizes == (100, 141)  # 142 pool rows minus the point
    study.run(progress=False, executor="inline")
    assert study.n_observations == 6
    for draw in study.observations()["draw"]:
        assert len(study.subset(int(draw))) <= 141


def test_nan_fits_in_a_run_warn_once_and_continue(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        model=Wrapped("nan", every=3),
        sizes=(20, 60),
        samples=4,
        points=list(range(6)),
        store=":memory:",
        random_state=0,
    )
    with pytest.warns(nbscale.FitFailureWarning) as caught:
        study.run(progress=False, executor="threads")
    assert len(caught) == 1
    assert study.n_failures > 0 and study.n_observations > 0
    assert study.progress()["n_failures"] == study.n_failures
