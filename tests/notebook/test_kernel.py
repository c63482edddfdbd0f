"""The magics in a real Jupyter kernel, driven by nbclient (no browser).

Checks what only a kernel shows: the magic hands the cell back while the
study keeps sampling, later cells run in the meantime, and the widget
state a notebook saves carries the compact snapshot.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def _outputs(cell: Any) -> str:
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", ""))
        texts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(texts)


def test_cells_run_while_the_study_samples(tmp_path) -> None:
    cells = [
        "%load_ext nbscale\n"
        "from sklearn.datasets import load_wine\n"
        "X, y = load_wine(return_X_y=True)",
        "study = %nbscale start X y --sizes 10:60 --samples 40 --points 0:40 "
        "--store :memory: --executor threads --seed 0",
        # A later cell runs while sampling goes on: observations keep coming.
        "import time\n"
        "first = study.n_observations\n"
        "deadline = time.monotonic() + 120\n"
        "while study.n_observations == first and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('running', study.running, 'grew', study.n_observations > first)",
        "%nbscale stop",
        "dashboard = study.dashboard()\n"
        "print('idle', dashboard.wait_idle(timeout=120))\n"
        "dashboard",
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    assert "running True grew True" in _outputs(notebook.cells[2])
    assert "[nbscale] stopped" in _outputs(notebook.cells[3])
    assert "idle True" in _outputs(notebook.cells[4])

    # The saved widget state holds the snapshot a reopened notebook draws.
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    snapshots = [
        model["state"]["snapshot"]
        for model in state["state"].values()
        if model["state"].get("snapshot")
    ]
    assert snapshots
    latest = max(snapshots, key=lambda snapshot: len(json.dumps(snapshot)))
    assert latest["data"]["curves"]["means"]["rows"] > 0
    assert len(json.dumps(latest)) < 100_000
