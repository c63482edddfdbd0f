"""The dashboard's front-end in headless Chromium, wired to a real Dashboard.

The page (``widgets/test/page.html``) renders the very ES module the
widget ships, with a stand-in for the anywidget model. A relay passes the
Python dashboard's messages and trait changes to the page and the page's
messages and edits back, which is what the Jupyter comm does for real.
The JupyterLab test (``test_browser_jupyterlab.py``) covers the real comm.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import offline_page, save_screenshot

from nbscale.notebook._bundle import dashboard_css, dashboard_esm
from nbscale.notebook.dashboard import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fake_recommend_patch")]

PAGE = Path(__file__).resolve().parents[2] / "widgets" / "test" / "page.html"
TRAITS = ("config", "snapshot", "progress", "selected", "target_size", "error")
REVISION = "Number(document.querySelector('.nbscale-dashboard').dataset.revision)"


class RelayedDashboard(Dashboard):
    """A dashboard whose custom messages are kept for the relay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.outbox: list[tuple[dict[str, Any], list[str]]] = []
        super().__init__(*args, **kwargs)

    def send(self, content: dict[str, Any], buffers: Any = None) -> None:
        encoded = [base64.b64encode(bytes(buffer)).decode() for buffer in buffers or []]
        self.outbox.append((content, encoded))

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TRAITS}


class Relay:
    """Carries messages and trait changes between a dashboard and a page."""

    def __init__(self, dashboard: RelayedDashboard, page: Any) -> None:
        self.dashboard = dashboard
        self.page = page
        self.n_forwarded = 0
        self.n_received = 0
        self.n_saved = 0
        self.traits = json.loads(json.dumps(dashboard.state()))

    def pump(self) -> None:
        dashboard, page = self.dashboard, self.page
        # Python to browser: trait changes, then custom messages, in order.
        state = json.loads(json.dumps(dashboard.state()))
        for name, value in state.items():
            if value != self.traits[name]:
                page.evaluate("([k, v]) => nbscaleTest.setState(k, v)", [name, value])
        self.traits = state
        pending = dashboard.outbox[self.n_forwarded :]
        for content, buffers in pending:
            page.evaluate("([m, b]) => nbscaleTest.emit(m, b)", [content, buffers])
        self.n_forwarded += len(pending)

        # Browser to Python: messages, then edits of synced traits.
        sent = page.evaluate("nbscaleTest.sent")
        for content in sent[self.n_received :]:
            dashboard._on_message(dashboard, content, [])
        self.n_received = len(sent)
        saved = page.evaluate("nbscaleTest.saved")
        for snapshot in saved[self.n_saved :]:
            for name in ("selected", "target_size"):
                if snapshot[name] != getattr(dashboard, name):
                    setattr(dashboard, name, snapshot[name])
                    self.traits[name] = snapshot[name]
        self.n_saved = len(saved)


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve the page, the module, the stylesheet and a given state."""
    files: dict[str, tuple[str, str]] = {
        "/page.html": ("text/html", PAGE.read_text(encoding="utf-8")),
        "/dashboard.js": ("text/javascript", dashboard_esm()),
        "/dashboard.css": ("text/css", dashboard_css()),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind, body = files.get(self.path, ("", ""))
            if not kind:
                self.send_response(204)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body.encode("utf-8"))

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def url_for(state: dict[str, Any]) -> str:
        files["/state.json"] = ("application/json", json.dumps(state))
        return f"http://127.0.0.1:{server.server_address[1]}/page.html"

    yield url_for
    server.shutdown()


@pytest.fixture
def live(make_study, wait_until) -> Iterator[RelayedDashboard]:
    study = make_study(n_points=12)
    study.running = True
    dashboard = RelayedDashboard(study)
    wait_until(lambda: "specs" in dashboard.config)
    yield dashboard
    dashboard.close()


def test_dashboard_streams_in_a_real_browser(live, serve, wait_until, tmp_path) -> None:
    study = live.study
    with offline_page() as (page, blocked):
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(serve(live.state()))
        page.wait_for_selector(".nbscale-dashboard[data-ready=true]", timeout=60_000)
        relay = Relay(live, page)

        # The page asks for everything once its charts are embedded.
        relay.pump()
        wait_until(lambda: relay.n_received >= 1)

        # Stream batches; each reaches the page as one Vega update.
        for _ in range(4):
            n_messages = len(live.outbox)
            study.emit(40)
            wait_until(lambda n=n_messages: len(live.outbox) > n)
            relay.pump()
        page.wait_for_function(f"{REVISION} >= 3", timeout=60_000)
        marks = page.locator("[data-view=curves] svg .mark-symbol path")
        assert marks.count() > 10
        assert page.locator("[data-view=laws] canvas").count() == 1
        # The table follows the first fit, which may land after the third
        # update on a busy machine: keep relaying until it arrives.
        rows = page.locator("table[data-table=add] tr[data-point]")

        def table_filled() -> bool:
            relay.pump()
            return rows.count() > 0

        wait_until(table_filled)

        # Buttons send commands the dashboard carries out.
        page.wait_for_selector("button[data-action=pause]:not([disabled])")
        page.click("button[data-action=pause]")
        relay.pump()
        wait_until(lambda: "pause" in study.calls)

        # Typed points reach Python, which sends their curves back.
        page.fill(".nbscale-controls input", "1, 2")
        page.press(".nbscale-controls input", "Enter")
        relay.pump()
        wait_until(lambda: live.selected == ["1", "2"])
        wait_until(lambda: live._inbox.empty() and not live._feed.pending())
        relay.pump()
        legend = page.locator("[data-view=curves] svg .role-legend-label text")
        wait_until(lambda: sorted(legend.all_text_contents()) == ["1", "2"])

        # Errors show inside the widget and in the console, prefixed.
        live.error = "something broke"
        relay.pump()
        assert page.locator(".nbscale-error").inner_text() == "something broke"
        assert any(text.startswith("[nbscale] something broke") for text in console)

        save_screenshot(page, tmp_path, "dashboard-fake-model.png")
    assert blocked == []


def test_saved_state_redraws_without_a_kernel(live, serve, wait_until) -> None:
    live.study.emit(300)
    live.study.running = False
    assert live.wait_idle(timeout=120)
    state = live.state()
    assert state["snapshot"]["data"]["laws"]["laws"]["rows"] == 12

    with offline_page() as (page, blocked):
        page.goto(serve(state))
        page.wait_for_selector(".nbscale-dashboard[data-ready=true]", timeout=60_000)
        # No messages arrive: everything drawn comes from the snapshot.
        assert page.evaluate(REVISION) == 0
        means = page.locator("[data-view=curves] svg .mark-symbol path")
        assert means.count() >= len(live.selected)
        assert page.locator("table[data-table=remove] tr[data-point]").count() > 0
    assert blocked == []
