"""Shared fixtures: small datasets that make studies quick."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def wine() -> tuple[np.ndarray, np.ndarray]:
    """178 rows, 13 standardised features, 3 classes."""
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """569 rows, 30 standardised features, 2 classes."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """442 rows, 10 features, continuous target."""
    return load_diabetes(return_X_y=True)
