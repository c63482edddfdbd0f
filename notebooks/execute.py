"""Execute the tutorial notebooks in place and stamp them as fresh.

Usage::

    python notebooks/execute.py                 # every notebook here
    python notebooks/execute.py 03 05           # those whose names start so

Each notebook runs top to bottom in a fresh ``python3`` kernel whose
working directory is a temporary folder, so the study stores it writes
never land in the repository. On success the outputs are written back
into the ``.ipynb`` file together with a hash of its code cells
(``metadata["nbscale"]["code_sha256"]``); ``tests/notebooks`` recomputes
that hash to catch notebooks whose code changed after their last run. A
notebook that raises is reported and left untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KERNEL = "python3"
CELL_TIMEOUT = 600  # seconds; the tests hold each notebook to a tighter budget


def code_hash(notebook: Any) -> str:
    """SHA-256 of a notebook's code cells, in order.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        A notebook as read by ``nbformat.read``.

    Returns
    -------
    str
        Hex digest over the JSON list of the code cells' sources; markdown
        edits leave it unchanged, any code edit changes it.
    """
    sources = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    payload = json.dumps(sources, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def tutorials() -> list[Path]:
    """The tutorial notebooks, in reading order."""
    return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> float:
    """Run one notebook in place; return its wall time in seconds.

    Parameters
    ----------
    path : Path
        The ``.ipynb`` file; rewritten with fresh outputs on success.
    timeout : int, default=600
        Seconds any one cell may take.

    Returns
    -------
    float
        Seconds the execution took.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        If a cell raises; the file is then left as it was.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="nbscale-tutorial-") as workdir:
        client = NotebookClient(
            notebook,
            kernel_name=KERNEL,
            timeout=timeout,
            resources={"metadata": {"path": workdir}},
            # Keep the files small and their diffs quiet: no per-cell
            # timestamps and no widget state (the dashboard's front-end
            # alone is close to a megabyte).
            record_timing=False,
            store_widget_state=False,
        )
        started = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - started

    notebook.metadata.pop("widgets", None)
    notebook.metadata["nbscale"] = {"code_sha256": code_hash(notebook)}
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        help="prefixes of the notebooks to run (e.g. 01 04); default all",
    )
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell"
    )
    args = parser.parse_args(argv)

    paths = [
        path
        for path in tutorials()
        if not args.names or any(path.name.startswith(n) for n in args.names)
    ]
    if not paths:
        parser.error(f"no notebook in {HERE} matches {args.names!r}")

    failed = []
    for path in paths:
        print(f"{path.name}: running", flush=True)
        try:
            seconds = execute(path, timeout=args.timeout)
        except Exception as err:  # report every notebook, then fail
            failed.append(path.name)
            print(f"{path.name}: FAILED, left unchanged\n{err}", flush=True)
            continue
        print(f"{path.name}: {seconds:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
