"""Repository-level pytest set-up shared by tests and docstring examples."""

from __future__ import annotations

import pytest
from _pytest.doctest import DoctestItem


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Docstring examples fit laws on a handful of observations on purpose.

    Their per-call LawFitWarning (some laws flagged) is expected there, so it
    is not turned into an error as it is in the test suite proper.
    """
    for item in items:
        if isinstance(item, DoctestItem):
            item.add_marker(pytest.mark.filterwarnings("ignore::nbscale.LawFitWarning"))
