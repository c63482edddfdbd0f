"""Background threads import nothing: the caller's thread did it first.

Two threads importing packages that share dependencies at the same time
can trip Python's import-lock deadlock detection (seen in CI: the
dashboard's warm-up imported Altair while the user's cell imported
scikit-learn, and both reached narwhals). Each check runs in a fresh
interpreter, where nothing is imported yet, and lists the modules that
appeared while only the background thread was running.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def modules_imported_in_background(script: str) -> list[str]:
    """Run ``script``; it prints the new modules, one per line."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return [line for line in completed.stdout.splitlines() if line]


def test_load_ext_warm_up_imports_in_the_callers_thread() -> None:
    new = modules_imported_in_background(
        """
        import sys
        from nbscale.notebook._bundle import warm_up

        thread = warm_up()
        before = set(sys.modules)
        thread.join()
        print("\\n".join(sorted(set(sys.modules) - before)))
        """
    )

    assert new == []


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_the_driver_thread_imports_nothing(executor: str) -> None:
    new = modules_imported_in_background(
        f"""
        import sys
        from sklearn.datasets import load_wine
        import nbscale

        X, y = load_wine(return_X_y=True)
        study = nbscale.Study(X, y, sizes=(10, 40), samples=2,
                              points=list(range(4)), store=":memory:",
                              random_state=0)
        study.start(executor={executor!r})
        before = set(sys.modules)
        assert study.wait(timeout=120)
        print("\\n".join(sorted(set(sys.modules) - before)))
        """
    )

    assert new == []
