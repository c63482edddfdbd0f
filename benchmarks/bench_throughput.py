"""Benchmark: observations a second, nbscale against the paper's procedure.

The paper's procedure (PAPER.md, section 2) is restated here from its
description: one observation draws a point ``z`` of the training pool, a
size ``k`` uniform on ``[k_min, k_max]`` and a class-stratified subset
``D`` of the pool without ``z`` (``round(p_c k)`` rows per class, at least
one, the remainder to the majority class), fits scikit-learn's
``LogisticRegression()`` with its defaults on ``D`` and on ``D + {z}``, and
records the difference of their validation log losses. It runs in one
process per core, each pinned to one BLAS thread.

nbscale runs ``Study(X, y, sizes=..., store=":memory:")`` with its default
executor (one worker process per core). Rates are counted after a warm-up
(worker start-up, first batches) over a fixed window of wall time, from
the commit times of the study's batches, so start-up costs are left out
on both sides. The first table adds nbscale's ideas one at a time:

- ``engine="sklearn"``: nbscale's runner around the same two
  scikit-learn fits per observation;
- batched Newton engine, paired design, each ``D + {z}`` fit by damped
  Newton from the pooled start (no warm start from ``D``'s solution);
- the same engine with its warm start: chord steps from ``D``'s solution;
- the shared-baseline design (the default): one fit on ``D`` serves every
  point of a group that ``D`` misses;
- the default on torch (``device="cpu"`` or the ``--device`` given),
  which fits padded blocks of subsets at once.

Then come rates as the work grows (``k``, features, classes, studied
points) and, at equal wall time, the accuracy of per-point values from
the paired and the shared designs against a long reference run.

Usage::

    python benchmarks/bench_throughput.py            # about 9 minutes
    python benchmarks/bench_throughput.py --quick    # about 2 minutes
    python benchmarks/bench_throughput.py --device cuda --executor inline
"""

from __future__ import annotations

import argparse
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import nbscale
from nbscale.learners import LogisticLearner
from nbscale.learners._batched import BlockScores, DrawWork, gather_block
from nbscale.learners.logistic import _Rows, block_scores

_N_CORES = os.cpu_count() or 1


# ------------------------------------------------------------------ data
@dataclass
class Problem:
    """A classification data set, split once into pool and validation."""

    X: np.ndarray
    y: np.ndarray
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def make_problem(
    n_samples: int = 6000, n_features: int = 50, n_classes: int = 2
) -> Problem:
    """``make_classification`` data with a stratified 20% validation split."""
    extra = {} if n_classes == 2 else {"n_informative": 5}
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=0,
        **extra,
    )
    X_pool, X_val, y_pool, y_val = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    return Problem(X, y, X_pool, y_pool, X_val, y_val)


# ------------------------------------------------- the paper's procedure
def stratified_subset(
    y: np.ndarray, without: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Pool rows of a class-stratified ``D`` of size ``k`` that misses ``without``.

    Each class gets ``round(p_c k)`` rows (at least one), ``p_c`` its
    share of the pool without ``without``; what rounding leaves over or
    takes away goes to, or comes from, the majority class.
    """
    candidates = np.delete(np.arange(len(y)), without)
    labels = y[candidates]
    classes, counts = np.unique(labels, return_counts=True)
    take = np.maximum(np.rint(counts / counts.sum() * k).astype(int), 1)
    take[np.argmax(counts)] += k - take.sum()

    chosen = [
        rng.choice(candidates[labels == c], size=n, replace=False)
        for c, n in zip(classes, take, strict=True)
    ]
    return np.concatenate(chosen)


def paper_observation(
    problem: Problem, window: tuple[int, int], rng: np.random.Generator
) -> float:
    """One observation of the paper's procedure: two fresh fits, one delta."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    z = int(rng.integers(len(problem.y_pool)))
    k = int(rng.integers(window[0], window[1] + 1))
    subset = stratified_subset(problem.y_pool, z, k, rng)
    with_z = np.append(subset, z)

    losses = []
    for rows in (subset, with_z):
        model = LogisticRegression()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(problem.X_pool[rows], problem.y_pool[rows])
        proba = model.predict_proba(problem.X_val)
        losses.append(log_loss(problem.y_val, proba, labels=model.classes_))
    return losses[0] - losses[1]


def _paper_worker(
    problem: Problem, window: tuple[int, int], seed: int, begin: float, end: float
) -> int:
    """Observations one process completes inside ``[begin, end]`` (wall clock)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    count = 0
    with threadpool_limits(limits=1):
        while True:
            started = time.time()
            if started >= end:
                return count
            paper_observation(problem, window, rng)
            count += int(started >= begin and time.time() <= end)


def paper_rate(
    problem: Problem, window: tuple[int, int], seconds: float, warmup: float
) -> float:
    """Observations a second of the paper's procedure, one process per core."""
    with ProcessPoolExecutor(max_workers=_N_CORES) as pool:
        pool.submit(int, 0).result()  # the processes exist before the clock
        begin = time.time() + warmup
        end = begin + seconds
        futures = [
            pool.submit(_paper_worker, problem, window, seed, begin, end)
            for seed in range(_N_CORES)
        ]
        count = sum(f.result() for f in futures)
    return count / seconds


# ----------------------------------------------------------------- nbscale
class ColdLogisticLearner(LogisticLearner):
    """The logistic engine without its warm start for ``D + {z}``.

    Every with-point fit runs damped Newton from the same pooled start as
    the fit on ``D``, not from ``D``'s solution, so it measures what the
    chord steps from ``D``'s solution save.
    """

    def _solve(
        self, prepared: dict[str, Any], backend: Any, block: list[DrawWork]
    ) -> BlockScores:
        problem = prepared["problem"]
        arrays = gather_block(backend, problem.A, problem.y, block)

        # The fit on D, as the engine does it.
        start = [self._initial(prepared, len(work.subset)) for work in block]
        theta0 = backend.xp.stack(start)
        rows = _Rows(arrays.X, problem.targets(arrays.y), arrays.mask)
        theta, _, converged = problem.newton(theta0, rows)

        # Each fit on D + {z} from the pooled start.
        points = _Rows(arrays.Z, problem.targets(arrays.z_target), arrays.z_mask)
        n_points = int(arrays.Z.shape[1])
        theta_z = backend.repeat(theta, n_points, axis=2)
        ok = np.zeros((len(block), n_points), dtype=bool)
        for b, work in enumerate(block):
            for m in range(len(work.points)):
                theta_z[b, :, m], ok[b, m] = problem.newton_one(
                    theta0[b], rows, points, b, m
                )

        # Scores, as in the engine.
        ok = ok & converged[:, None]
        return block_scores(backend, problem, block, theta, theta_z, converged, ok)


def study_rate(
    problem: Problem,
    seconds: float,
    warmup: float,
    executor: Any = None,
    points: Any = None,
    sizes: Any = (100, 1000),
    samples: int = 1000,
    **options: Any,
) -> float:
    """Observations a second of a study, over a window after a warm-up.

    The study runs with the pool and validation split of ``problem``;
    the rate counts observations committed between the first batch after
    the warm-up and the last one before the window closes.
    """
    study = nbscale.Study(
        problem.X_pool,
        problem.y_pool,
        validation=(problem.X_val, problem.y_val),
        sizes=sizes,
        samples=samples,
        points=points,
        store=":memory:",
        random_state=0,
        **options,
    )
    commits: list[tuple[float, int]] = []
    lock = threading.Lock()

    def listen(batch: pd.DataFrame) -> None:
        with lock:
            total = commits[-1][1] if commits else 0
            commits.append((time.perf_counter(), total + len(batch)))

    study.add_listener(listen)

    # Warm up until a batch has landed and `warmup` seconds have passed.
    study.start(executor=executor)
    started = time.perf_counter()
    while not commits or time.perf_counter() - started < warmup:
        time.sleep(0.05)
    with lock:
        t0, n0 = commits[-1]
    time.sleep(seconds)
    study.stop()

    with lock:
        inside = [(t, n) for t, n in commits if t0 < t <= t0 + seconds]
    if not inside:  # one batch longer than the window
        t1, n1 = commits[-1]
    else:
        t1, n1 = inside[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else math.nan


# ---------------------------------------------------------------- tables
def first_table(args: argparse.Namespace) -> None:
    """Benchmark 1: the paper's procedure and nbscale's ideas, one by one."""
    problem = make_problem()
    window = (100, 1000)
    print(
        f"\n1. make_classification(6000, 50 features), pool {len(problem.y_pool)}, "
        f"validation {len(problem.y_val)}, sizes uniform on [100, 1000], "
        f"{_N_CORES} cores, {args.seconds:g} s windows"
    )
    paper = paper_rate(problem, window, args.paper_seconds, args.warmup)

    run = {"seconds": args.seconds, "warmup": args.warmup, "executor": args.executor}
    device = args.device
    rows: list[tuple[str, Callable[[], float]]] = [
        (
            "nbscale runner, engine='sklearn', paired",
            lambda: study_rate(
                problem,
                **{**run, "seconds": args.paper_seconds},
                design="paired",
                engine="sklearn",
            ),
        ),
        (
            "batched Newton, paired, no warm start",
            lambda: study_rate(
                problem,
                **run,
                design="paired",
                model=ColdLogisticLearner(device=device),
            ),
        ),
        (
            "+ warm start (chord from D's solution)",
            lambda: study_rate(problem, **run, design="paired", device=device),
        ),
        (
            "+ shared baseline = nbscale default",
            lambda: study_rate(problem, **run, device=device),
        ),
        (
            "default, one process (inline)",
            lambda: study_rate(problem, **{**run, "executor": "inline"}, device=device),
        ),
        (
            f"default, torch blocks (device={device or 'cpu'!r})",
            lambda: study_rate(problem, **run, device=device or "cpu"),
        ),
    ]
    table = [("paper: 2 sklearn fits per observation", paper)]
    for label, measure in rows:
        table.append((label, measure()))

    frame = pd.DataFrame(table, columns=["procedure", "obs_per_s"]).set_index(
        "procedure"
    )
    frame["x_paper"] = frame["obs_per_s"] / paper
    with pd.option_context(
        "display.width", 120, "display.float_format", "{:,.1f}".format
    ):
        print(frame.to_string())


def scaling_table(args: argparse.Namespace) -> None:
    """Rates of the paper's procedure and nbscale's default as work grows."""
    print(
        f"\n2. rates as the work grows (default: d = 50, 2 classes, every pool "
        f"point, k on [100, 1000]; {args.scale_seconds:g} s windows)"
    )
    run = {
        "seconds": args.scale_seconds,
        "warmup": args.warmup,
        "executor": args.executor,
        "device": args.device,
    }
    paper_seconds = args.scale_seconds
    base = make_problem()

    cases: list[tuple[str, Problem, tuple[int, int], Any, bool]] = []
    for k in (100, 300, 1000, 3000):
        window = (int(k * 0.9), int(k * 1.1))
        cases.append((f"k ~ {k}", base, window, None, True))
    for d in (10, 200):
        cases.append((f"d = {d}", make_problem(n_features=d), (100, 1000), None, True))
    for n_classes in (5, 10):
        problem = make_problem(n_classes=n_classes)
        cases.append((f"classes = {n_classes}", problem, (100, 1000), None, True))
    for n_points in (10, 100, 1000):
        points = np.linspace(0, len(base.y_pool) - 1, n_points).astype(int)
        cases.append((f"points = {n_points}", base, (100, 1000), points, False))

    rows = []
    for label, problem, window, points, with_paper in cases:
        paper = (
            paper_rate(problem, window, paper_seconds, args.warmup)
            if with_paper
            else math.nan
        )
        ours = study_rate(problem, points=points, sizes=window, **run)
        rows.append((label, paper, ours, ours / paper))
        print(f"   {label}: done", flush=True)
    frame = pd.DataFrame(
        rows, columns=["work", "paper_obs_per_s", "nbscale_obs_per_s", "ratio"]
    ).set_index("work")
    with pd.option_context("display.float_format", "{:,.1f}".format):
        print(frame.to_string())
    print(
        "   (the paper's procedure does not depend on the number of studied "
        "points: each observation is two fresh fits)"
    )


def design_accuracy(args: argparse.Namespace) -> None:
    """Per-point values from the paired and shared designs at equal wall time."""
    problem = make_problem()
    points = np.arange(args.design_points)
    print(
        f"\n3. accuracy per second: {args.design_points} points, per-point value = "
        f"mean delta over k in [100, 1000]; reference: shared design, other seed, "
        f"{args.reference_seconds:g} s; each design runs {args.design_seconds:g} s"
    )
    reference = _design_run(problem, points, "shared", 10_000, args.reference_seconds)
    ref_value = reference.groupby("point")["delta"].mean()
    ref_se = reference.groupby("point")["delta"].sem()
    ref_sd_values = float(ref_value.std())

    rows = []
    for design in ("paired", "shared"):
        obs = _design_run(problem, points, design, 1, args.design_seconds)
        value = obs.groupby("point")["delta"].mean().reindex(ref_value.index)
        error = value - ref_value
        rows.append(
            (
                design,
                len(obs) / args.design_seconds,
                len(obs) / len(points),
                float(np.sqrt(np.mean(error**2))),
                float(np.sqrt(np.mean(error**2)) / ref_sd_values),
                float(value.corr(ref_value, method="spearman")),
            )
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "design",
            "obs_per_s",
            "obs_per_point",
            "rmse_value",
            "rmse_over_spread",
            "spearman",
        ],
    ).set_index("design")
    with pd.option_context("display.float_format", "{:,.4g}".format):
        print(frame.to_string())
    print(
        f"   reference: {len(reference) / len(points):,.0f} obs/point, its own "
        f"rmse about {float(np.sqrt(np.mean(ref_se**2))):.3g}; spread of the "
        f"reference values (sd across points) {ref_sd_values:.3g}"
    )


def _design_run(
    problem: Problem, points: np.ndarray, design: str, seed: int, seconds: float
) -> pd.DataFrame:
    """Observations of a study stopped after ``seconds`` of sampling."""
    study = nbscale.Study(
        problem.X_pool,
        problem.y_pool,
        validation=(problem.X_val, problem.y_val),
        sizes=(100, 1000),
        samples=100_000,
        points=points,
        store=":memory:",
        random_state=seed,
        design=design,
    )
    study.start()
    time.sleep(seconds)
    study.stop()
    return study.observations()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows")
    parser.add_argument(
        "--device", default=None, help="batched engines' device (None: numpy)"
    )
    parser.add_argument(
        "--executor",
        default=None,
        help="Study executor: None (a process per core), 'inline', 'threads'",
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: 1, 2, 3"
    )
    args = parser.parse_args()
    full = not args.quick
    args.warmup = 3.0 if full else 2.0
    args.seconds = 15.0 if full else 4.0
    args.paper_seconds = 30.0 if full else 8.0
    args.scale_seconds = 8.0 if full else 2.0
    args.design_points = 128 if full else 64
    args.reference_seconds = 60.0 if full else 15.0
    args.design_seconds = 10.0 if full else 4.0
    skip = set(args.skip.split(","))

    started = time.perf_counter()
    if "1" not in skip:
        first_table(args)
    if "2" not in skip:
        scaling_table(args)
    if "3" not in skip:
        design_accuracy(args)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
