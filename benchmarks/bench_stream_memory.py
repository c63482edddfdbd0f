"""RAM while a 1,000,000-observation study streams to its store and a listener.

Contributions come from :class:`nbscale.testing.KnownLawLearner` (no model
training), so the run is dominated by nbscale's own bookkeeping: planning
draws, committing batches to SQLite and notifying a listener that keeps a
bounded summary, as the dashboard does. The script samples the process's
resident memory as the study grows and prints it at each tenth of the run;
bounded memory shows as a flat line once the run is under way.

    python benchmarks/bench_stream_memory.py            # 1,000,000 observations
    python benchmarks/bench_stream_memory.py --quick    # 100,000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy as np
import pandas as pd
import psutil

import nbscale
from nbscale.testing import KnownLawLearner, random_laws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_points, samples = (10_000, 100) if not args.quick else (10_000, 10)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12_000, 4))
    y = (X[:, 0] > 0).astype(int)
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "stream.nbscale")
    study = nbscale.Study(
        X,
        y,
        model=KnownLawLearner(random_laws(12_000)),
        sizes=(100, 1000),
        samples=samples,
        points=list(range(n_points)),
        validation=0.05,
        store=path,
        random_state=0,
    )

    # A listener that keeps a bounded running summary, like the dashboard.
    summary = {"n": 0, "sum": 0.0}

    def listen(batch: pd.DataFrame) -> None:
        summary["n"] += len(batch)
        summary["sum"] += float(batch["delta"].sum())

    study.add_listener(listen)
    process = psutil.Process()
    samples_rss: list[tuple[int, float]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            samples_rss.append(
                (study.n_observations, process.memory_info().rss / 2**20)
            )
            time.sleep(0.05)

    baseline = process.memory_info().rss / 2**20
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    study.run(progress=False, executor="threads")
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()

    frame = pd.DataFrame(samples_rss, columns=["n_observations", "rss_mib"])
    target = study.n_target
    rows = []
    for tenth in range(1, 11):
        upto = frame[frame["n_observations"] <= tenth * target / 10]
        rows.append(
            {"progress": f"{tenth * 10}%", "peak_rss_mib": upto["rss_mib"].max()}
        )
    print(pd.DataFrame(rows).to_string(index=False))
    second_half = frame[frame["n_observations"] >= target / 2]["rss_mib"]
    first_quarter_peak = frame[frame["n_observations"] <= target / 4]["rss_mib"].max()
    print(
        f"\nobservations={study.n_observations:,} listener saw={summary['n']:,} "
        f"seconds={seconds:.0f} ({study.n_observations / seconds:,.0f} obs/s)"
    )
    print(f"RSS before the run: {baseline:.0f} MiB")
    print(
        f"peak RSS at 25%: {first_quarter_peak:.0f} MiB, at 100%: "
        f"{second_half.max():.0f} MiB (growth over the last 75%: "
        f"{second_half.max() / first_quarter_peak - 1:+.1%})"
    )
    print(
        f"store file: {os.path.getsize(path) / 2**20:.0f} MiB "
        f"({os.path.getsize(path) / study.n_observations:.0f} bytes/observation)"
    )


if __name__ == "__main__":
    main()
