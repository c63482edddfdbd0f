"""Fixtures for the notebook layer: a small fake study and a real shell.

``FakeStudy`` satisfies the part of ``nbscale.Study`` the dashboard and
the charts use, with synthetic contributions ``c k^-alpha`` plus noise,
and emits batches only when a test asks it to. That keeps the streaming
tests deterministic; the tests marked with ``real_study`` use the real
thing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest


class FakeStudy:
    """A study whose observations arrive when ``emit`` is called."""

    def __init__(
        self,
        n_points: int = 12,
        sizes: tuple[int, int] = (10, 200),
        samples: int = 40,
        seed: int = 0,
        name: str = "fake",
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.name = name
        self.store_path: str | None = None
        self.n_points = n_points
        self.n_target = n_points * samples
        self.alpha = self.rng.uniform(0.3, 1.5, n_points)
        self.c = self.rng.lognormal(0.0, 0.5, n_points) * self.rng.choice(
            [-1, 1], n_points
        )
        self._frames: list[pd.DataFrame] = []
        self._listeners: list[Callable[[pd.DataFrame], None]] = []
        self._lock = threading.Lock()
        self._draw = 0
        self.running = False
        self.paused = False
        self.calls: list[str] = []

    # the Study contract -------------------------------------------------
    @property
    def n_observations(self) -> int:
        return sum(len(frame) for frame in self._frames)

    @property
    def n_failures(self) -> int:
        return 0

    def add_listener(
        self, callback: Callable[[pd.DataFrame], None]
    ) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def observations(self) -> pd.DataFrame:
        if not self._frames:
            return pd.DataFrame(
                {
                    "point": pd.Series([], dtype=np.int64),
                    "size": [],
                    "delta": [],
                    "draw": [],
                }
            )
        return pd.concat(self._frames, ignore_index=True)

    def progress(self) -> dict[str, Any]:
        observations = self.observations()
        return {
            "n_observations": len(observations),
            "n_target": self.n_target,
            "n_failures": 0,
            "n_points": self.n_points,
            "n_points_covered": int(observations["point"].nunique()),
            "rate": 10.0,
            "eta_seconds": 12.0 if self.running else None,
            "elapsed": 1.0,
            "running": self.running,
            "paused": self.paused,
        }

    def laws(self, warn: bool = True) -> pd.DataFrame:
        observations = self.observations()
        if observations.empty:
            raise ValueError("laws: the study has no observations yet")
        rows = {}
        for point, group in observations.groupby("point"):
            log_k = np.log(group["size"].to_numpy(float))
            log_d = np.log(np.abs(group["delta"].to_numpy(float)) + 1e-12)
            slope, intercept = np.polyfit(log_k, log_d, 1) if len(group) > 2 else (0, 0)
            sign = np.sign(group["delta"].mean()) or 1.0
            rows[point] = {
                "c": sign * np.exp(intercept),
                "alpha": -slope,
                "sigma": 0.1,
                "beta": 0.5,
                "c_se": 0.05 * np.exp(intercept),
                "alpha_se": 0.05,
                "c_alpha_cov": 0.0,
                "n_obs": len(group),
                "n_sizes": group["size"].nunique(),
                "nll": 0.0,
                "converged": True,
                "flag": "ok" if len(group) > 2 else "too_few_observations",
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def aggregate(self, warn: bool = True) -> pd.DataFrame:
        sizes = np.unique(self.observations()["size"])
        loss = 0.2 + 2.0 * sizes.astype(float) ** -0.5
        return pd.DataFrame(
            {"loss": loss, "loss_se": 0.01, "n_obs": 3, "fitted": loss},
            index=pd.Index(sizes, name="size"),
        )

    def recommend(self, size: int, n: int = 10, action: str = "add") -> pd.DataFrame:
        return fake_recommend(self.laws(), size=size, n=n, action=action)

    def values(self, sizes: Any = None) -> pd.DataFrame:
        laws = self.laws()
        return pd.DataFrame(
            {"value": laws["c"] * 0.01, "stderr": 0.001}, index=laws.index
        )

    def pause(self) -> FakeStudy:
        self.calls.append("pause")
        self.paused = self.running
        return self

    def resume(self) -> FakeStudy:
        self.calls.append("resume")
        self.paused = False
        return self

    def stop(self) -> FakeStudy:
        self.calls.append("stop")
        self.running = self.paused = False
        return self

    def start(self, executor: Any = None) -> FakeStudy:
        self.calls.append("start")
        self.running = True
        return self

    def dashboard(self, **options: Any) -> Any:
        from nbscale.notebook.dashboard import Dashboard

        return Dashboard(self, **options)

    # test controls --------------------------------------------------------
    def emit(self, n_rows: int = 30, points: list[int] | None = None) -> pd.DataFrame:
        """Generate a batch, store it and tell the listeners."""
        choices = np.arange(self.n_points) if points is None else np.asarray(points)
        point = self.rng.choice(choices, n_rows)
        k_min, k_max = self.sizes
        size = np.round(np.exp(self.rng.uniform(np.log(k_min), np.log(k_max), n_rows)))
        mean = self.c[point] * size ** -self.alpha[point]
        delta = mean * (1 + 0.3 * self.rng.standard_normal(n_rows))
        batch = pd.DataFrame(
            {
                "point": point.astype(np.int64),
                "size": size.astype(np.int64),
                "delta": delta,
                "draw": np.arange(self._draw, self._draw + n_rows),
            }
        )
        self._draw += n_rows
        self._frames.append(batch)
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback(batch)
        return batch


def fake_recommend(
    laws: pd.DataFrame, size: int, n: int = 10, action: str = "add", **_: Any
) -> pd.DataFrame:
    """Rank points by ``c size^-alpha`` like nbscale.recommend does."""
    score = laws["c"] * float(size) ** -laws["alpha"]
    ranked = score.sort_values(ascending=action == "remove").iloc[:n]
    frame = laws.loc[ranked.index, ["c", "alpha"]].copy()
    frame.insert(0, "stderr", 0.001)
    frame.insert(0, "score", ranked)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


@pytest.fixture
def fake_study() -> FakeStudy:
    return FakeStudy()


@pytest.fixture
def fake_recommend_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the fake ranking while nbscale.apply.recommend is a placeholder."""
    import nbscale.apply

    study = FakeStudy()
    study.emit(60)
    try:
        nbscale.apply.recommend(study.laws(), size=50, n=2, action="add")
    except NotImplementedError:
        monkeypatch.setattr(nbscale.apply, "recommend", fake_recommend)


@pytest.fixture
def make_study() -> Callable[..., FakeStudy]:
    """Build fake studies with other settings."""
    return FakeStudy


@pytest.fixture
def shell() -> Iterator[Any]:
    """A fresh IPython InteractiveShell with the extension loaded."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    instance = InteractiveShell.instance()
    instance.run_line_magic("load_ext", "nbscale")
    try:
        yield instance
    finally:
        from nbscale.notebook import magics

        for study in list(magics._registry.studies.values()):
            if getattr(study, "running", False):
                study.stop()
        for dashboard in magics._registry.dashboards.values():
            dashboard.close()
        magics._registry.__init__()
        instance.run_line_magic("unload_ext", "nbscale")
        InteractiveShell.clear_instance()


def _wait_until(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``predicate`` until it is truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """Poll a condition (generous timeouts: the test machines are slow)."""
    return _wait_until
