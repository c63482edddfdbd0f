"""The tutorial notebooks: stored outputs are fresh, and every one executes.

Two kinds of check live here. The default suite reads the ``.ipynb``
files only: each one ran to the end after its last code edit (the hash
that ``notebooks/execute.py`` stamps matches the code), no output is an
error, each opens with what the reader will learn and ends with
exercises, and the README links it. The ``notebooks`` marker executes
each notebook in a fresh kernel with nbclient, in a temporary folder, and
holds it to a budget of three minutes on two cores (with a margin for a
shared machine) through a timeout, not a timed assertion.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_quickstart.ipynb",
    "02_what_is_a_scaling_law.ipynb",
    "03_estimators.ipynb",
    "04_valuation_and_selection.ipynb",
    "05_finding_mislabeled_data.ipynb",
    "06_scaling_out.ipynb",
]
# Three minutes is the budget on two quiet cores; the timeout allows for
# a machine shared with other jobs and for the kernel's start.
BUDGET_S = 180
TIMEOUT_S = 2 * BUDGET_S


def load_execute() -> ModuleType:
    """``notebooks/execute.py`` as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "nbscale_execute", NOTEBOOKS / "execute.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(name: str):
    import nbformat

    return nbformat.read(NOTEBOOKS / name, as_version=4)


def markdown_of(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def test_the_six_tutorials_are_there() -> None:
    names = [path.name for path in load_execute().tutorials()]

    assert names == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_stored_outputs_are_fresh(name: str) -> None:
    notebook = read(name)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]

    # The stamp is written only after a run that raised nothing.
    stamp = notebook.metadata.get("nbscale", {}).get("code_sha256")
    assert stamp == load_execute().code_hash(notebook), (
        f"{name}: the code changed since the notebook last ran; "
        f"run `python notebooks/execute.py {name[:2]}`"
    )

    # Every code cell ran, in order, and none shows an error.
    counts = [cell.execution_count for cell in code]
    assert None not in counts, f"{name}: a code cell never ran"
    assert counts == sorted(counts)
    for cell in code:
        for output in cell.outputs:
            assert output.output_type != "error", f"{name}: {output.get('ename')}"
            text = output.get("text", "")
            assert "Traceback" not in text, f"{name}: a traceback in the outputs"


@pytest.mark.parametrize("name", EXPECTED)
def test_each_tutorial_says_what_it_teaches_and_ends_with_exercises(
    name: str,
) -> None:
    markdown = markdown_of(read(name))

    assert re.search(r"what you will learn", markdown[0], flags=re.IGNORECASE)
    assert re.search(r"^#+ exercises", markdown[-1], flags=re.IGNORECASE | re.M)


def test_the_readme_links_every_tutorial() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    for name in EXPECTED:
        assert f"(notebooks/{name})" in readme, name


def test_the_paper_is_cited_once_in_notebook_02() -> None:
    citing = [
        name
        for name in EXPECTED
        if any("ICML 2024" in text for text in markdown_of(read(name)))
    ]

    assert citing == ["02_what_is_a_scaling_law.ipynb"]


@pytest.mark.notebooks
@pytest.mark.timeout(TIMEOUT_S)
@pytest.mark.parametrize("name", EXPECTED)
def test_tutorial_executes(name: str) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = read(name)
    with tempfile.TemporaryDirectory(prefix="nbscale-test-") as workdir:
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=TIMEOUT_S,
            resources={"metadata": {"path": workdir}},
        )
        client.execute()

    # The run wrote fresh outputs with no error among them.
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    nbformat.validate(notebook)
