"""Learners: the engines that train models on subsets and score them."""

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
from nbscale.learners.sklearn import SklearnLearner

__all__ = [
    "BUILTIN_MODELS",
    "BatchResult",
    "Learner",
    "SklearnLearner",
    "build_model",
    "check_model",
    "model_spec",
    "rebuild_model",
]
