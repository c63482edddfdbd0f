"""Crash safety: SIGKILL mid-run, killed writers, stop() and Ctrl-C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

import nbscale
from nbscale.store import SQLiteStore

STUDY_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import nbscale
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    study = nbscale.Study(X, y, sizes=(20, 80), samples=10, points=list(range(20)),
                          store=sys.argv[1], random_state=5)
    study.start(executor=sys.argv[2])
    while True:
        print(study.n_observations, flush=True)
        time.sleep(0.01)
    """
)


def _child(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_sigkill_loses_no_reported_observation(tmp_path, executor) -> None:
    path = str(tmp_path / "crash.nbscale")
    child = _child(STUDY_SCRIPT, path, executor)
    reported = 0
    assert child.stdout is not None
    for line in child.stdout:
        reported = int(line)
        if reported >= 40:
            break
    # Kill the whole process group of the study, workers included.
    for process in psutil.Process(child.pid).children(recursive=True):
        process.kill()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    study = nbscale.open(path)
    assert study.n_observations >= reported
    frame = study.observations()
    assert not frame.duplicated(["draw", "point"]).any()

    study.run(progress=False, executor="threads")
    final = study.observations()
    assert len(final) == study.n_target == 200
    assert not final.duplicated(["draw", "point"]).any()


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from nbscale.store import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    batch, draw = 500, 0
    while True:
        rows = [(draw + i, 1, 10, 0.5, 1.0, 0.5) for i in range(batch)]
        draws = [(draw + i, 1, 10, 7) for i in range(batch)]
        store.append(draws, rows, [])
        draw += batch
        print(draw, flush=True)
    """
)


def test_killed_writer_leaves_whole_batches(tmp_path) -> None:
    path = str(tmp_path / "writes.nbscale")
    child = _child(WRITER_SCRIPT, path)
    assert child.stdout is not None
    reported = 0
    for line in child.stdout:
        reported = int(line)
        if reported >= 20_000:
            break
    child.kill()
    child.wait()

    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = SQLiteStore(path, create=False)
    n_observations, _ = store.counts()
    assert n_observations >= reported
    assert n_observations % 500 == 0
    assert len(store.observations()) == n_observations


def _workers() -> set[int]:
    """Live child processes, except the long-lived resource trackers."""
    alive = set()
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if "resource_tracker" in " ".join(process.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        alive.add(process.pid)
    return alive


def test_stop_is_quick_and_leaves_no_workers(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(20, 80),
        samples=200,
        points=list(range(20)),
        store=":memory:",
        random_state=0,
    )
    before = _workers()
    study.start(executor=2)
    while study.n_observations < 10:
        time.sleep(0.01)
    study.stop(timeout=10)
    assert not study.running
    time.sleep(0.5)
    assert _workers() - before == set()
    assert study.n_observations >= 10


def test_keyboard_interrupt_in_run_stops_and_keeps(wine) -> None:
    X, y = wine
    study = nbscale.Study(
        X,
        y,
        sizes=(20, 80),
        samples=200,
        points=list(range(20)),
        store=":memory:",
        random_state=0,
    )
    main = threading.main_thread().ident

    def interrupt() -> None:
        while study.n_observations < 10:
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        study.run(progress=False, executor="threads")
    assert not study.running
    kept = study.n_observations
    assert kept >= 10
    assert not study.observations().duplicated(["draw", "point"]).any()
