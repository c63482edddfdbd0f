"""Learners: the engines that train models on subsets and score them.

:class:`SklearnLearner` clones and fits any scikit-learn estimator, two
fits per observation. The batched engines fit many subsets at once:
:class:`LogisticLearner` (binary and multinomial), :class:`LinearLearner`
(ordinary least squares and ridge) and :class:`MLPLearner` (a small
network with a fixed initialisation). :func:`learner_for` picks one for a
study's model.
"""

from __future__ import annotations

from nbscale.learners.base import (
    BUILTIN_MODELS,
    BatchResult,
    Learner,
    build_model,
    check_model,
    model_spec,
    rebuild_model,
)
from nbscale.learners.linear import LinearLearner
from nbscale.learners.logistic import LogisticLearner
from nbscale.learners.mlp import MLPLearner
from nbscale.learners.routing import ENGINES, batched_learner, check_engine, learner_for
from nbscale.learners.sklearn import SklearnLearner

__all__ = [
    "BUILTIN_MODELS",
    "ENGINES",
    "BatchResult",
    "Learner",
    "LinearLearner",
    "LogisticLearner",
    "MLPLearner",
    "SklearnLearner",
    "batched_learner",
    "build_model",
    "check_engine",
    "check_model",
    "learner_for",
    "model_spec",
    "rebuild_model",
]
