"""The live dashboard: an anywidget that streams a running study.

``Study.dashboard()`` and ``%nbscale start`` return a :class:`Dashboard`.
It shows progress with pause / resume / stop buttons, the scaling curves
of a few points, the distribution of the fitted ``alpha`` and ``c``, the
aggregate loss curve, and a table of the points most worth adding or
removing at a size chosen with a slider.

How the work is split
---------------------
- The study's driver thread calls the dashboard's listener with each
  committed batch; the listener only queues it.
- The widget appears at once; the Vega-Lite specs (built with Altair,
  which is slow to import) follow from the consumer thread.
- One consumer thread per dashboard drains the queue, folds batches into
  a :class:`~nbscale.notebook._feed.Feed`, and at most
  ``max_updates_per_second`` times a second sends what changed: one custom
  message of Vega changesets with binary buffers, plus the ``progress``
  trait. It is the only thread that sets widget state.
- Fits (``laws``, ``aggregate``, ``recommend``) run in a separate
  single-thread executor, every ``refresh_seconds`` at most, so a slow fit
  never holds back the stream.
- Button clicks and trait changes from the browser may arrive on any
  thread (comms can be handled off the main thread); their handlers only
  queue work, or run the study's own thread-safe pause / resume / stop.

The consumer thread ends when the study is idle and everything is sent,
and starts again with the next batch or browser request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import anywidget
import pandas as pd
import traitlets

from nbscale.notebook._bundle import dashboard_css, dashboard_esm
from nbscale.notebook._feed import Feed, FitResult, fit_study
from nbscale.notebook._frames import point_key
from nbscale.notebook._wire import Throttle
from nbscale.notebook.charts import dashboard_specs

__all__ = ["Dashboard"]

logger = logging.getLogger(__name__)

_ACTIONS = ("pause", "resume", "stop")


class Dashboard(anywidget.AnyWidget):
    """A live view of a study, updated as observations arrive.

    Parameters
    ----------
    study : nbscale.Study
        The study to show; running, paused, finished or reopened.
    points : sequence, optional
        Point labels to draw in the scaling-curve panel. Default: points
        spanning the ``alpha`` distribution once the first fit is in
        (before that, the first points observed).
    n_curves : int, default=5
        How many points to draw by default, 1 to 8.
    refresh_seconds : float, default=2.0
        Minimum time between two refreshes of the fits, > 0.
    max_updates_per_second : float, default=4.0
        Upper bound on updates sent to the browser, in (0, 4].
    n_table : int, default=10
        Rows in each half of the recommendation table.
    max_cloud : int, default=1000
        Raw observations drawn per selected point.

    Attributes
    ----------
    study : nbscale.Study
        The study shown.
    selected : list of str
        Point labels (as strings) in the scaling-curve panel; assign to
        change them, or use :meth:`select`.
    target_size : int
        Size at which the table ranks points (the slider).

    Raises
    ------
    ValueError
        If an option is out of range.

    Notes
    -----
    Charts redraw from the ``snapshot`` trait when a saved notebook is
    reopened without a kernel: the means, fitted curves, laws (at most
    500 points), aggregate curve and table of the last refresh, without
    the raw cloud.

    Examples
    --------
    >>> import nbscale
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=4, points=range(6),
    ...                       store=":memory:", random_state=0)
    >>> dashboard = Dashboard(study.run(progress=False), n_curves=2)
    >>> dashboard.wait_idle(timeout=60)
    True
    >>> len(dashboard.selected)
    2
    >>> dashboard.close()
    """

    _esm = traitlets.Unicode().tag(sync=True)
    _css = traitlets.Unicode().tag(sync=True)
    config = traitlets.Dict().tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    target_size = traitlets.Int(0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    _clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(
        self,
        study: Any,
        *,
        points: Sequence[Any] | None = None,
        n_curves: int = 5,
        refresh_seconds: float = 2.0,
        max_updates_per_second: float = 4.0,
        n_table: int = 10,
        max_cloud: int = 1000,
    ) -> None:
        # Validate the options once, here.
        _check_range("n_curves", n_curves, 1, 8, integer=True)
        _check_range("refresh_seconds", refresh_seconds, 1e-3, None)
        _check_range("max_updates_per_second", max_updates_per_second, 1e-3, 4.0)
        _check_range("n_table", n_table, 1, 100, integer=True)
        _check_range("max_cloud", max_cloud, 0, None, integer=True)
        k_min, k_max = (int(size) for size in study.sizes)
        keys = [point_key(label) for label in points] if points is not None else []

        super().__init__(
            _esm=dashboard_esm(),
            _css=dashboard_css(),
            config={"sizes": [k_min, k_max], "name": str(study.name)},
            target_size=k_max,
            selected=keys,
        )
        self.study = study
        self._feed = Feed((k_min, k_max), n_curves=n_curves, max_cloud=max_cloud)
        self._n_table = n_table
        self._refresh_seconds = float(refresh_seconds)
        self._throttle = Throttle(max_updates_per_second, clock=self._clock)

        # Shared between threads: guarded by _lock.
        self._lock = threading.RLock()
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._consumer: threading.Thread | None = None
        self._closed = False
        self._applied: list[str] = keys
        self._idle = threading.Event()

        # Owned by the consumer thread.
        self._fitter: ThreadPoolExecutor | None = None  # lives with the consumer
        self._fit: Future[FitResult] | None = None
        self._fit_due = True
        self._fit_at: float | None = None
        self._last_progress: dict[str, Any] = {}

        self.observe(self._on_selected, names="selected")
        self.observe(self._on_target, names="target_size")
        self.on_msg(self._on_message)
        self._unsubscribe = study.add_listener(self._on_batch)
        # Altair is slow to import: the specs follow from the consumer thread.
        self._post(("specs",))
        self._post(("select", keys, bool(keys)))

    # ------------------------------------------------------------ public API
    def select(self, points: Sequence[Any]) -> None:
        """Draw these points in the scaling-curve panel.

        Parameters
        ----------
        points : sequence
            Point labels, as in ``study.observations()["point"]``.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=2, points=range(3),
        ...                       store=":memory:", random_state=0)
        >>> dashboard = Dashboard(study)
        >>> dashboard.select([0, 2])
        >>> dashboard.selected
        ['0', '2']
        >>> dashboard.close()
        """
        self.selected = [point_key(label) for label in points]

    def refresh(self) -> None:
        """Refit the laws now rather than at the next scheduled refresh.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=2, points=range(3),
        ...                       store=":memory:", random_state=0)
        >>> dashboard = Dashboard(study)
        >>> dashboard.refresh()
        >>> dashboard.close()
        """
        self._post(("refresh",))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything is fitted and sent and the study is idle.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most.

        Returns
        -------
        bool
            True when the dashboard went idle, False on timeout.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> dashboard = Dashboard(study)
        >>> dashboard.wait_idle(timeout=30)
        True
        >>> dashboard.close()
        """
        return self._idle.wait(timeout)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> dashboard = Dashboard(study)
        >>> dashboard.close()
        >>> dashboard.closed
        True
        """
        return self._closed

    def close(self) -> None:
        """Stop listening to the study and close the widget.

        The study keeps running.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> Dashboard(study).close()
        """
        if "_lock" not in self.__dict__:  # __init__ failed before wiring up
            super().close()
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._unsubscribe()
        self._inbox.put(("wake",))  # the consumer sees _closed and ends
        super().close()

    # ------------------------------------------------- producers, any thread
    def _on_batch(self, batch: pd.DataFrame) -> None:
        """Study listener: runs on the driver thread, so only queue."""
        self._post(("batch", batch))

    def _on_selected(self, change: dict[str, Any]) -> None:
        with self._lock:
            if list(change["new"]) == self._applied:
                return
        self._post(("select", list(change["new"]), True))

    def _on_target(self, change: dict[str, Any]) -> None:
        self._post(("target", int(change["new"])))

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Messages from the browser: a view loaded, or a button."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ready":
            self._post(("ready",))
        elif kind == "command" and content.get("action") in _ACTIONS:
            # stop() joins the driver: never block the thread handling comms.
            threading.Thread(
                target=self._command,
                args=(content["action"],),
                name="nbscale-command",
                daemon=True,
            ).start()
        else:
            logger.warning(
                "ignoring an unexpected message from the browser: %r", content
            )

    def _command(self, action: str) -> None:
        study = self.study
        try:
            if action == "pause":
                study.pause()
            elif action == "stop":
                study.stop()
            elif study.paused:
                study.resume()
            elif not study.running:
                study.start()
            logger.info("%s: %s", study.name, action)
        except Exception as err:
            self._post(("error", f"{action} failed: {err}"))
        else:
            self._post(("error", ""))
        self._post(("wake",))

    def _post(self, item: tuple[Any, ...]) -> None:
        """Queue work for the consumer and make sure one is running."""
        self._inbox.put(item)
        with self._lock:
            if self._closed or self._consumer is not None:
                return
            self._idle.clear()
            self._consumer = threading.Thread(
                target=self._consume, name="nbscale-dashboard", daemon=True
            )
            self._consumer.start()

    # ------------------------------------------------- the consumer thread
    def _consume(self) -> None:
        try:
            while not self._closed:
                for item in self._drain(self._throttle.wait_time() or 0.25):
                    self._handle(item)
                self._collect_fit()
                self._schedule_fit()
                if self._throttle.ready():
                    self._flush()
                if self._finished():
                    return
        except Exception as err:
            logger.exception("the nbscale dashboard stopped updating")
            self.error = f"the dashboard stopped updating: {err}"
        finally:
            with self._lock:
                if self._consumer is threading.current_thread():
                    self._retire()

    def _drain(self, timeout: float) -> list[tuple[Any, ...]]:
        """Every queued item, waiting up to ``timeout`` for the first."""
        try:
            items = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    def _handle(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        feed = self._feed
        if kind == "batch":
            if not feed.selected and not feed.chosen_by_user:
                self._apply_selection(feed.first_points(item[1]), by_user=False)
            feed.add(item[1])
            self._fit_due = True
        elif kind == "select":
            self._apply_selection(item[1], by_user=item[2])
        elif kind == "target":
            laws = feed.laws
            if laws is not None:
                self._submit(
                    lambda: fit_study(self.study, item[1], self._n_table, laws)
                )
        elif kind == "ready":
            feed.resend()
        elif kind == "refresh":
            self._fit_due = True
            self._fit_at = None
        elif kind == "error":
            self.error = item[1]
        elif kind == "specs":
            specs = dashboard_specs(self._feed.sizes)
            self.config = {**self.config, "specs": specs}

    def _apply_selection(self, keys: list[str], *, by_user: bool) -> None:
        observations = self.study.observations() if keys else pd.DataFrame()
        self._feed.select(keys, observations, by_user=by_user)
        unknown = self._feed.unknown(keys)
        if unknown:
            self.error = (
                f"points: no observations yet for {', '.join(unknown[:5])}; "
                f"type row labels of the studied points"
            )
        elif by_user:
            self.error = ""
        with self._lock:
            self._applied = list(self._feed.selected)
        if self.selected != self._feed.selected:
            self.selected = list(self._feed.selected)

    def _schedule_fit(self) -> None:
        now = self._clock()
        if not self._fit_due or self._fit is not None:
            return
        if self._fit_at is not None and now - self._fit_at < self._refresh_seconds:
            return
        self._fit_due = False
        self._fit_at = now
        target = self.target_size
        self._submit(lambda: fit_study(self.study, target, self._n_table))

    def _submit(self, job: Callable[[], FitResult]) -> None:
        if self._fit is not None:
            # One fit at a time; the finished one triggers the next.
            self._fit_due = True
            return
        if self._fitter is None:
            self._fitter = ThreadPoolExecutor(1, thread_name_prefix="nbscale-fit")
        self._fit = self._fitter.submit(job)

    def _collect_fit(self) -> None:
        fit = self._fit
        if fit is None or not fit.done():
            return
        self._fit = None
        if fit.cancelled():
            return
        result = fit.result()
        self._feed.fitted(result)
        if result.errors:
            self.error = "; ".join(result.errors)
        picks = self._feed.default_selection()
        if picks is not None:
            self._apply_selection(picks, by_user=False)

    def _flush(self) -> None:
        feed = self._feed
        sent = False
        if feed.pending():
            message, buffers, traits = feed.flush()
            if message is not None:
                self.send(message, buffers)
                sent = True
            for name, value in traits.items():
                setattr(self, name, value)
        progress = _jsonable(self.study.progress())
        steady = {name: progress[name] for name in progress if name != "elapsed"}
        if steady != self._last_progress:
            self._last_progress = steady
            self.progress = progress
            sent = True
        if sent:
            self._throttle.mark()

    def _finished(self) -> bool:
        """Exit when idle; True tells the loop to return."""
        busy = (
            self.study.running
            or self._fit is not None
            or self._fit_due
            or self._feed.pending()
        )
        if busy and not self._closed:
            return False
        with self._lock:
            if not self._inbox.empty() and not self._closed:
                return False
            self._retire()
            return True

    def _retire(self) -> None:
        """Hand over: no consumer, no fitting thread (hold ``_lock``)."""
        if self._fitter is not None:
            self._fitter.shutdown(wait=False, cancel_futures=True)
            self._fitter = None
            self._fit = None
        self._consumer = None
        self._idle.set()


def _check_range(
    name: str,
    value: Any,
    low: float,
    high: float | None,
    *,
    integer: bool = False,
) -> None:
    """Raise if ``value`` is not a number in ``[low, high]``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        expected = "an int" if integer else "a number"
        raise TypeError(f"{name}: expected {expected}, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}: expected a value in {bounds}, got {value!r}")


def _jsonable(progress: dict[str, Any]) -> dict[str, Any]:
    """Plain Python numbers, rounded, for the ``progress`` trait."""
    out: dict[str, Any] = {}
    for name, value in progress.items():
        if isinstance(value, float):
            value = round(value, 2)
        elif hasattr(value, "item"):
            value = value.item()
        out[name] = value
    return out
