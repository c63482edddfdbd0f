"""The dashboard widget: threads, throttling, messages, buttons."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from nbscale.notebook.dashboard import Dashboard

pytestmark = pytest.mark.usefixtures("fake_recommend_patch")


class CapturingDashboard(Dashboard):
    """A dashboard that records the custom messages it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[dict[str, Any]] = []
        self.sender_threads: set[str] = set()
        super().__init__(*args, **kwargs)

    def send(self, content: dict[str, Any], buffers: Any = None) -> None:
        self.sender_threads.add(threading.current_thread().name)
        self.messages.append(content)

    def changes(self, dataset: str) -> list[dict[str, Any]]:
        return [
            change
            for message in list(self.messages)
            for change in message["changes"]
            if change["data"] == dataset
        ]


@pytest.fixture
def dashboards() -> Iterator[list[Dashboard]]:
    made: list[Dashboard] = []
    yield made
    for dashboard in made:
        dashboard.close()


def test_streams_only_new_observations(make_study, dashboards, wait_until) -> None:
    study = make_study(n_points=6)
    study.running = True
    dashboard = CapturingDashboard(study, points=[1, 4])
    dashboards.append(dashboard)
    expected = 0
    for _ in range(6):
        expected += int(study.emit(20)["point"].isin([1, 4]).sum())

    def rows_in_view() -> int:
        count = 0
        for change in dashboard.changes("cloud"):
            count = change["rows"] + (count if change["mode"] == "insert" else 0)
        return count

    wait_until(lambda: dashboard._inbox.empty() and not dashboard._feed.pending())
    wait_until(lambda: rows_in_view() == expected)
    assert dashboard.selected == ["1", "4"]
    assert dashboard.sender_threads == {"nbscale-dashboard"}
    assert dashboard.progress["n_observations"] == study.n_observations


def test_finished_study_gets_fits_and_default_points(make_study, dashboards) -> None:
    study = make_study(n_points=10)
    study.emit(400)
    dashboard = CapturingDashboard(study, n_curves=3)
    dashboards.append(dashboard)
    assert dashboard.wait_idle(timeout=120)

    alphas = study.laws()["alpha"]
    assert len(dashboard.selected) == 3
    assert dashboard.selected[0] == str(alphas.idxmin())
    assert dashboard.selected[-1] == str(alphas.idxmax())
    assert set(dashboard.config["specs"]) == {"curves", "laws", "aggregate"}
    snapshot = dashboard.snapshot["data"]
    assert snapshot["laws"]["laws"]["rows"] == 10
    assert snapshot["curves"]["fit"]["rows"] > 0
    assert dashboard.error == ""


def test_updates_wait_for_the_throttle(
    make_study, dashboards, wait_until, monkeypatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(Dashboard, "_clock", staticmethod(lambda: now[0]))
    study = make_study(n_points=4)
    study.running = True
    dashboard = CapturingDashboard(study, points=[0, 1, 2, 3], refresh_seconds=1e6)
    dashboards.append(dashboard)

    def absorbed() -> int:
        return sum(dashboard._feed._cloud_counts.values())

    # Whatever the first flush sent, the clock now stands still.
    wait_until(lambda: dashboard.progress)
    now[0] += 0.25
    wait_until(lambda: dashboard.changes("cloud"))

    # Batches pile up while the clock stands still, and are not sent ...
    n_messages = len(dashboard.messages)
    rows = sum(len(study.emit(10)) for _ in range(5))
    wait_until(lambda: absorbed() == rows)
    assert len(dashboard.messages) == n_messages

    # ... until the interval has passed: then they go as one insert.
    now[0] += 0.25
    wait_until(lambda: len(dashboard.messages) > n_messages)
    assert len(dashboard.messages) == n_messages + 1
    inserted = [c for c in dashboard.messages[-1]["changes"] if c["data"] == "cloud"]
    assert inserted[0]["mode"] == "insert" and inserted[0]["rows"] == rows


@pytest.mark.parametrize(
    ("action", "running", "paused", "expected"),
    [
        ("pause", True, False, "pause"),
        ("resume", True, True, "resume"),
        ("resume", False, False, "start"),
        ("stop", True, False, "stop"),
    ],
)
def test_buttons_drive_the_study(
    make_study, dashboards, wait_until, action, running, paused, expected
) -> None:
    study = make_study()
    study.running, study.paused = running, paused
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    # Comm messages may arrive on any thread: send from another one.
    thread = threading.Thread(
        target=dashboard._on_message,
        args=(dashboard, {"type": "command", "action": action}, []),
    )
    thread.start()
    thread.join()
    wait_until(lambda: expected in study.calls)


def test_failing_button_shows_an_error(make_study, dashboards, wait_until) -> None:
    study = make_study()
    study.running = True

    def broken() -> None:
        raise RuntimeError("cannot pause now")

    study.pause = broken
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    dashboard._on_message(dashboard, {"type": "command", "action": "pause"}, [])
    wait_until(lambda: "cannot pause now" in dashboard.error)


def test_browser_selection_and_unknown_points(
    make_study, dashboards, wait_until
) -> None:
    study = make_study(n_points=5)
    study.emit(100)
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    assert dashboard.wait_idle(timeout=120)
    dashboard.selected = ["2", "nope"]  # what a browser edit does
    wait_until(lambda: "nope" in dashboard.error)
    replaced = [c for c in dashboard.changes("cloud") if c["mode"] == "replace"]
    wait_until(
        lambda: any(
            set(next(col["values"] for col in c["columns"] if col["name"] == "point"))
            == {"2"}
            for c in dashboard.changes("cloud")
            if c["rows"]
        )
    )
    assert replaced


def test_select_method_and_target_size_reranks(
    make_study, dashboards, wait_until
) -> None:
    study = make_study()
    study.emit(200)
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    dashboard.select([0, 3])
    assert dashboard.selected == ["0", "3"]
    assert dashboard.wait_idle(timeout=120)
    dashboard.target_size = 20
    wait_until(
        lambda: any(
            message.get("table", {}).get("size") == 20 for message in dashboard.messages
        )
    )


def test_ready_resends_everything(make_study, dashboards, wait_until) -> None:
    study = make_study()
    study.emit(200)
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    assert dashboard.wait_idle(timeout=120)
    n_messages = len(dashboard.messages)
    dashboard._on_message(dashboard, {"type": "ready"}, [])
    wait_until(lambda: len(dashboard.messages) > n_messages)
    last = dashboard.messages[-1]
    assert {c["data"] for c in last["changes"]} >= {"cloud", "means", "fit", "laws"}
    assert {c["mode"] for c in last["changes"]} == {"replace"}
    assert "table" in last


def test_fit_failures_show_in_the_widget(make_study, dashboards) -> None:
    study = make_study()
    study.emit(50)

    def broken(warn: bool = True) -> Any:
        raise RuntimeError("singular matrix")

    study.laws = broken
    dashboard = CapturingDashboard(study)
    dashboards.append(dashboard)
    assert dashboard.wait_idle(timeout=120)
    assert "singular matrix" in dashboard.error


def test_close_stops_listening(make_study) -> None:
    study = make_study()
    dashboard = CapturingDashboard(study)
    assert study._listeners
    dashboard.close()
    assert dashboard.closed and not study._listeners
    study.emit(10)  # nobody listens; nothing breaks
    dashboard.close()  # twice is fine


def test_unexpected_messages_are_logged(make_study, dashboards, caplog) -> None:
    dashboard = CapturingDashboard(make_study())
    dashboards.append(dashboard)
    with caplog.at_level(logging.WARNING, logger="nbscale.notebook.dashboard"):
        dashboard._on_message(dashboard, {"type": "launch-missiles"}, [])
    assert "unexpected message" in caplog.text


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n_curves": 0}, ValueError, r"n_curves: expected a value in \[1, 8\], got 0"),
        ({"n_curves": 2.5}, TypeError, "n_curves: expected an int"),
        ({"max_updates_per_second": 10}, ValueError, "max_updates_per_second"),
        ({"refresh_seconds": -1}, ValueError, "refresh_seconds"),
        ({"n_table": True}, TypeError, "n_table"),
    ],
)
def test_options_are_validated(make_study, options, error, match) -> None:
    with pytest.raises(error, match=match):
        Dashboard(make_study(), **options)
