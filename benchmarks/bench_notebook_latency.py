"""Benchmark: how promptly a notebook's cells run while a study samples.

Starts a Jupyter kernel with nbclient, runs ``%nbscale start`` on
load_digits (local processes, the default executor, dashboard displayed),
then times trivial cells (``1 + 1``) one after another while sampling goes
on, as a user typing into the notebook would. The time is the client's
round trip: execute request sent to reply received. For reference it
first times the same cells before any study starts.

Usage::

    python benchmarks/bench_notebook_latency.py              # 30 cells
    python benchmarks/bench_notebook_latency.py --cells 100 --executor threads
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import nbclient
import nbformat


def time_cells(
    client: nbclient.NotebookClient, n_cells: int, pause: float
) -> list[float]:
    """Seconds each of ``n_cells`` trivial cells takes, ``pause`` apart."""
    durations = []
    for _ in range(n_cells):
        cell = nbformat.v4.new_code_cell("1 + 1")
        client.nb.cells.append(cell)
        started = time.perf_counter()
        client.execute_cell(cell, len(client.nb.cells) - 1)
        durations.append(time.perf_counter() - started)
        time.sleep(pause)
    return durations


def summary(name: str, durations: list[float]) -> str:
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name}: median {1000 * statistics.median(ordered):.0f} ms, "
        f"p95 {1000 * p95:.0f} ms, max {1000 * ordered[-1]:.0f} ms "
        f"({len(ordered)} cells)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--executor", default="processes")
    args = parser.parse_args()

    notebook = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell(
        "%load_ext nbscale\n"
        "from sklearn.datasets import load_digits\n"
        "X, y = load_digits(return_X_y=True)"
    )
    start = nbformat.v4.new_code_cell(
        "study = %nbscale start X y --sizes 100:1000 --samples 100 "
        f"--store :memory: --seed 0 --executor {args.executor}"
    )
    progress = nbformat.v4.new_code_cell(
        "print(study.n_observations, 'observations,', study.running)"
    )
    with tempfile.TemporaryDirectory() as folder:
        client = nbclient.NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": folder}},
        )
        with client.setup_kernel():
            notebook.cells.append(setup)
            client.execute_cell(setup, 0)
            idle = time_cells(client, args.cells, args.pause)

            notebook.cells.append(start)
            started = time.perf_counter()
            client.execute_cell(start, len(notebook.cells) - 1)
            start_seconds = time.perf_counter() - started
            time.sleep(5)  # let the workers spin up and the dashboard stream
            busy = time_cells(client, args.cells, args.pause)

            notebook.cells.append(progress)
            client.execute_cell(progress, len(notebook.cells) - 1)
            state = progress.outputs[0]["text"].strip()

    print(f"%nbscale start returned in {1000 * start_seconds:.0f} ms")
    print(summary("trivial cell, no study     ", idle))
    print(summary("trivial cell, while sampling", busy))
    print(f"after the run: {state}")


if __name__ == "__main__":
    main()
