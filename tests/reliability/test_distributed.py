"""Scale-out on a real dask LocalCluster with worker processes."""

from __future__ import annotations

import os
import signal
import time

import pandas as pd
import pytest

import nbscale

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as connected:
        yield connected


def make_study(wine, **kwargs) -> nbscale.Study:
    X, y = wine
    options = {
        "sizes": (20, 80),
        "samples": 4,
        "points": list(range(10)),
        "store": ":memory:",
        "random_state": 11,
    }
    options.update(kwargs)
    return nbscale.Study(X, y, **options)


def test_cluster_gives_the_same_observations_as_local(wine, client) -> None:
    local = make_study(wine).run(progress=False, executor="inline")
    remote = make_study(wine).run(progress=False, executor=client)
    pd.testing.assert_frame_equal(local.observations(), remote.observations())


def test_killed_worker_loses_and_duplicates_nothing(wine, client, tmp_path) -> None:
    study = make_study(wine, samples=30, store=tmp_path / "k.nbscale")
    study.start(executor=client)
    while study.n_observations < 20:
        time.sleep(0.02)

    # SIGKILL one worker process mid-run; its nanny restarts it.
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)

    assert study.wait(timeout=240)
    frame = study.observations()
    assert len(frame) == study.n_target == 300
    assert not frame.duplicated(["draw", "point"]).any()
    reference = make_study(wine, samples=30).run(progress=False, executor="inline")
    pd.testing.assert_frame_equal(frame, reference.observations())


def test_stop_on_cluster_cancels_and_keeps(wine, client) -> None:
    study = make_study(wine, samples=40).start(executor=client)
    while study.n_observations < 5:
        time.sleep(0.02)
    study.stop(timeout=5)
    assert not study.running
    kept = study.n_observations
    assert 5 <= kept < study.n_target
    study.run(progress=False, executor=client)
    assert not study.observations().duplicated(["draw", "point"]).any()
    assert study.n_observations == study.n_target
