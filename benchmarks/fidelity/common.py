"""Shared helpers of the fidelity benchmarks: arguments, studies, charts.

Each benchmark script builds its studies through :func:`run_study`, which
keeps every observation in an SQLite store under ``--cache`` (when given)
so that a rerun reuses what was sampled, and prints how long sampling
took. Charts are saved as PNG through Altair and vl-convert, offline.
"""

from __future__ import annotations

import argparse
import inspect
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

import nbscale

FIGURES = Path(__file__).resolve().parent / "figures"


def parse_args(description: str, **extra: Any) -> argparse.Namespace:
    """The common command line: --quick, --seed, --cache, plus extras."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a small run, about a minute"
    )
    parser.add_argument("--seed", type=int, default=0, help="root random seed")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder for the study stores (reused by reruns); default in memory",
    )
    parser.add_argument(
        "--executor",
        default="inline",
        help="where fits run: inline (default), threads, processes or a number",
    )
    for name, default in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    return parser.parse_args()


def run_study(
    args: argparse.Namespace, name: str, X: np.ndarray, y: np.ndarray, **options: Any
) -> nbscale.Study:
    """Build and run a study; print what it cost."""
    if "engine" in inspect.signature(nbscale.Study).parameters:
        options.setdefault("engine", "auto")  # the batched engine, where it exists
    store = ":memory:"
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
        suffix = "-quick" if args.quick else ""
        store = str(args.cache / f"{name}{suffix}-seed{args.seed}.nbscale")
    study = nbscale.Study(X, y, store=store, random_state=args.seed, **options)
    executor: Any = args.executor
    if isinstance(executor, str) and executor.isdigit():
        executor = int(executor)
    started = time.perf_counter()
    before = study.n_observations
    # One BLAS thread per fit: on a shared machine, threads that wait for
    # each other make every small fit several times slower.
    with threadpool_limits(1):
        study.run(progress=False, executor=executor)
    seconds = time.perf_counter() - started
    added = study.n_observations - before
    rate = f"{added / seconds:.0f} obs/s" if added else "from the store"
    print(
        f"[{name}] {study.n_observations:,} observations "
        f"({added:,} new in {seconds:.0f} s, {rate})"
    )
    return study


def quiet_laws(study: nbscale.Study, method: str = "likelihood", **options: Any) -> Any:
    """``study.laws`` without the per-call flag warning (flags are reported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.LawFitWarning)
        return study.laws(method, **options)


def fit_quietly(observations: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """``nbscale.fit_laws`` without the flag warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nbscale.LawFitWarning)
        return nbscale.fit_laws(observations, **options)


def r_squared(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination of ``predicted`` for ``observed``."""
    observed = np.asarray(observed, dtype=np.float64)
    residual = np.sum((observed - np.asarray(predicted)) ** 2)
    total = np.sum((observed - observed.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def save_chart(chart: Any, name: str) -> Path:
    """Save an Altair chart as ``figures/<name>.png``; print the path."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    chart.save(str(path), scale_factor=2)
    print(f"chart: {path.relative_to(FIGURES.parent.parent.parent)}")
    return path


def standardised(X: np.ndarray) -> np.ndarray:
    """Features scaled to zero mean and unit variance (constant columns: 0)."""
    spread = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
