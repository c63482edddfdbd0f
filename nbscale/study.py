"""The :class:`Study`: sample contributions, store them, fit scaling laws.

A study owns one dataset, one model, one metric, one sampling plan and one
store. Sampling runs in a background driver thread (:meth:`Study.start`)
or blocks with a progress bar (:meth:`Study.run`); everything it produces
lands in the store first, so stopping, crashing and reopening never lose
committed observations. The estimators are pure functions of those
observations (:mod:`nbscale.laws`, :mod:`nbscale.apply`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from nbscale._results import StudyResults
from nbscale.allocation import AdaptiveSource, DrawSource, PlanSource, check_allocation
from nbscale.config import (
    check_random_state,
    check_samples,
    dataset_config,
    default_store_path,
    study_fingerprint,
)
from nbscale.data import Dataset, check_dataset
from nbscale.designs import GROUP_SIZE, SharedPlan, SharedSource, check_design
from nbscale.driver import Driver
from nbscale.exceptions import FitFailureWarning, user_stacklevel
from nbscale.learners import (
    Learner,
    check_engine,
    check_model,
    learner_for,
    model_spec,
)
from nbscale.metrics import Metric, check_metric
from nbscale.reopen import open_or_create, open_study
from nbscale.runner import (
    EvaluationContext,
    StopFlag,
    check_executor,
    import_background_dependencies,
)
from nbscale.sampling import Plan, check_sizes
from nbscale.stopping import RunState, StoppingRule, check_stopping_rule
from nbscale.store import SQLiteStore

__all__ = ["Study", "open_study"]

logger = logging.getLogger(__name__)

Listener = Callable[[pd.DataFrame], None]

_RULE_REFIT_SECONDS = 2.0
_RULE_REFIT_GROWTH = 1.1  # or when the observations grew by this factor


class Study(StudyResults):
    """Sample per-point contributions and fit their scaling laws.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Numeric, finite features.
    y : array-like of shape (n_samples,), optional
        Targets. Omit when ``target`` names a column of a DataFrame ``X``.
    target : str, optional
        The label column of a DataFrame ``X``.
    model : str or estimator, default="logistic"
        ``"logistic"`` (``LogisticRegression()``'s model: L2, C=1,
        multinomial beyond two classes), ``"linear"`` (ordinary least
        squares), ``"ridge"`` (``Ridge()``), ``"mlp"`` (one hidden layer of
        32 units, fixed initialisation per study), or any scikit-learn
        estimator, cloned for every fit.
    sizes : tuple (k_min, k_max) or list of int, default=(100, 1000)
        The inclusive range of subset sizes ``k``, or explicit sizes.
    samples : int, default=100
        Observations per point.
    points : array-like of int, optional
        Positions in ``X`` of the rows to study; default all training rows.
    validation : float or tuple (X_val, y_val), default=0.2
        Fraction held out from ``X`` (stratified, never among ``points``),
        or an explicit validation set.
    metric : None, str or callable, optional
        Validation loss: log loss for classifiers and squared error for
        regressors by default; ``"accuracy"`` (as the error rate) or a
        callable ``loss(y_true, y_pred)``.
    schedule : {"uniform", "geometric"}, default="uniform"
        How sizes are drawn from a range: uniformly, or cycling through 10
        geometrically spaced sizes (the paper's validation schedule, which
        the ``"loglinear"`` estimator needs).
    store : str or path, optional
        The SQLite file of observations. None uses
        ``.nbscale/study-<fingerprint>.nbscale`` in the working directory,
        where the fingerprint hashes the data and configuration: the same
        call with the same ``random_state`` reopens and resumes it (a
        larger ``samples`` extends it).
        ``":memory:"`` keeps nothing on disk.
    random_state : int, optional
        Root seed of the split and of every draw. None draws one and
        records it in the store.
    allocation : {"uniform", "adaptive"}, default="uniform"
        ``"uniform"`` gives every point the same observations at sizes from
        ``sizes`` and ``schedule``. ``"adaptive"`` spends the same budget
        where it reduces uncertainty most: after a few uniform rounds, on
        the points whose ``alpha_se`` is largest, at the two ends of the
        log-size window (see :class:`nbscale.allocation.AdaptiveSource`).
        Combine it with a stopping rule in :meth:`run`.
    design : {"shared", "paired"}, optional
        ``"paired"`` draws a subset ``D`` per observation, as the paper
        does. ``"shared"`` draws ``D`` from the whole pool and uses its fit
        as the baseline of every point of a group that ``D`` misses:
        per-point results are distributed as in the paired design, at a
        fraction of the cost, while observations of different points on
        one ``D`` are correlated (see :mod:`nbscale.designs`). Default:
        ``"shared"`` with uniform allocation, ``"paired"`` with adaptive.
    engine : {"auto", "batched", "sklearn"}, default="auto"
        Who fits the models. ``"auto"`` uses nbscale's batched engines for
        the built-in models and for the scikit-learn estimators they
        reproduce (``LogisticRegression`` with an L2 penalty, ``Ridge``,
        ``LinearRegression``), and scikit-learn for the rest;
        ``"sklearn"`` always clones and fits the estimator. Engines return
        the converged optimum, so observations agree within 1e-6 and the
        choice does not change the study's identity (except for
        ``"mlp"``, whose two engines train differently); see
        :func:`nbscale.learners.learner_for`.
    device : None or str, optional
        Where the batched engines compute: None for numpy on the CPU,
        ``"cuda"`` (or ``"cpu"``) for torch there, ``"auto"`` for CUDA
        when available.

    Attributes
    ----------
    name : str
        A short identifier (the fingerprint).
    n_target : int
        ``samples * n_points``.

    Notes
    -----
    An observation is ``delta = L(f_D) - L(f_{D + z})`` on the validation
    split, for a class-stratified subset ``D`` of size ``k`` that does not
    contain ``z``. Its seed derives from the root seed and the draw id
    alone, so results do not depend on the executor or worker count.

    The default store is a file rather than memory because the point of a
    study is to survive: a crashed kernel, a stopped run or a re-executed
    cell all continue from what was committed.

    Examples
    --------
    >>> import nbscale
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(20, 60), samples=2, points=range(4),
    ...                       store=":memory:", random_state=0)
    >>> study.run(progress=False).n_observations
    8
    >>> study.laws().columns[:4].tolist()
    ['c', 'alpha', 'sigma', 'beta']
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        *,
        target: str | None = None,
        model: Any = "logistic",
        sizes: Any = (100, 1000),
        samples: int = 100,
        points: Any = None,
        validation: Any = 0.2,
        metric: Any = None,
        schedule: str = "uniform",
        store: str | os.PathLike[str] | None = None,
        random_state: int | None = None,
        allocation: str = "uniform",
        design: str | None = None,
        engine: str = "auto",
        device: Any = None,
    ) -> None:
        # Validate every argument once, here.
        root_seed = check_random_state(random_state)
        samples = check_samples(samples)
        allocation = check_allocation(allocation)
        design = check_design(design, allocation)
        engine = check_engine(engine)
        if isinstance(points, range):
            points = list(points)
        data = check_dataset(
            X,
            y,
            target=target,
            points=points,
            validation=validation,
            random_state=root_seed % (2**32),
        )
        model = check_model(model, is_classifier=data.is_classifier)
        learner = learner_for(model, engine=engine, device=device)
        resolved_metric = check_metric(metric, is_classifier=data.is_classifier)
        window, grid = check_sizes(sizes, schedule, data.n_pool, data.n_classes)
        chosen = (
            np.arange(data.n_pool)
            if points is None
            else data.pool_position(np.sort(np.asarray(points, dtype=np.int64)))
        )

        # Describe the study as JSON, then find or create its store.
        config: dict[str, Any] = {
            "model": model_spec(model),
            "metric": resolved_metric.name,
            "metric_builtin": not callable(metric),
            "window": list(window),
            "grid": None if grid is None else grid.tolist(),
            "schedule": schedule,
            "samples": samples,
            "points": data.rows[chosen].tolist(),
            "root_seed": root_seed,
            "allocation": allocation,
            "design": design,
            "group_size": GROUP_SIZE if design == "shared" else None,
            "engine": engine,
            "device": None if device is None else str(device),
            "trainer": _trainer(model, learner),
            "validation": "explicit" if isinstance(validation, tuple) else validation,
            **dataset_config(data),
        }
        config["fingerprint"] = study_fingerprint(config, data)
        path = store if store is not None else default_store_path(config["fingerprint"])
        handle = open_or_create(path, config, data)
        self._setup(handle, handle.read_config(), data, model, resolved_metric)

    # ---------------------------------------------------------------- set-up
    def _setup(
        self,
        store: SQLiteStore,
        config: dict[str, Any],
        data: Dataset,
        model: Any,
        metric: Metric | None,
    ) -> None:
        """Fill in the state shared by the constructor and :func:`open`."""
        self._store = store
        self._config = config
        self._data = data
        self._model = model
        self._metric = metric
        grid = config["grid"]
        points = data.pool_position(np.asarray(config["points"], dtype=np.int64))
        options = {
            "points": points,
            "samples": int(config["samples"]),
            "window": (int(config["window"][0]), int(config["window"][1])),
            "grid": None if grid is None else np.asarray(grid, dtype=np.int64),
            "root_seed": int(config["root_seed"]),
        }
        self._plan: Plan | SharedPlan = (
            SharedPlan(**options, data=data, group_size=int(config["group_size"]))
            if config.get("design", "paired") == "shared"
            else Plan(**options)
        )
        self._lock = threading.RLock()
        self._flag = StopFlag()
        self._thread: threading.Thread | None = None
        self._driver: Driver | None = None
        self._listeners: list[Listener] = []
        self._covered = np.zeros(data.n_pool, dtype=bool)
        self._history: deque[tuple[float, int]] = deque(maxlen=256)
        self._started_at: float | None = None
        self._warned = False

    # ------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """A short identifier of the study (its data and config hash)."""
        return str(self._config["fingerprint"])

    @property
    def store_path(self) -> str | None:
        """The store's file path, or None for an in-memory store."""
        return self._store.path

    @property
    def sizes(self) -> tuple[int, int]:
        """The size window ``(k_min, k_max)``."""
        return self._plan.window

    @property
    def n_target(self) -> int:
        """Observations the study aims for: ``samples * n_points``."""
        return self._plan.n_target

    @property
    def n_observations(self) -> int:
        """Committed observations (rows safely in the store)."""
        return self._store.counts()[0]

    @property
    def n_failures(self) -> int:
        """Committed failed fits."""
        return self._store.counts()[1]

    @property
    def running(self) -> bool:
        """Whether the background driver is working."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def paused(self) -> bool:
        """Whether a running study holds back new work."""
        return self.running and self._flag.paused

    @property
    def data(self) -> Dataset:
        """The validated dataset (training pool and validation split)."""
        return self._data

    def __repr__(self) -> str:
        state = "running" if self.running else "idle"
        return (
            f"<nbscale.Study {self.name}: {self.n_observations}/{self.n_target} "
            f"observations, {self.n_failures} failures, {state}>"
        )

    # ------------------------------------------------------------- execution
    def start(self, executor: Any = None, stop: Any = None) -> Study:
        """Start sampling in the background and return at once.

        Parameters
        ----------
        executor : None, str, int or dask Client, optional
            Where fits run: None (local processes on every core), ``"processes"``,
            ``"threads"``, ``"inline"`` (in the driver thread), a number of
            processes, or a ``dask.distributed.Client``.
        stop : nbscale.StoppingRule, optional
            End the run early when the rule is met, for example
            ``nbscale.AlphaPrecision(0.1) | nbscale.TimeBudget(600)``. The
            target of ``samples`` per point always ends it.

        Returns
        -------
        Study
            ``self``, already running.

        Raises
        ------
        ValueError
            If the study was reopened without a model or metric it needs.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0, 1],
        ...                       store=":memory:", random_state=0)
        >>> study.start(executor="threads").wait(timeout=60)
        True
        """
        with self._lock:
            if self.running:
                return self
            factory = check_executor(executor)
            rule = None if stop is None else check_stopping_rule(stop)
            context = self._context()
            source = self._source()
            if source.exhausted:
                return self
            self._flag = StopFlag()
            self._started_at = time.monotonic()
            self._driver = Driver(
                source,
                context,
                factory,
                self._store,
                self._flag,
                self._on_batch,
                None if rule is None else self._rule_checker(rule, self._started_at),
            )
            self._history.clear()
            self._history.append((self._started_at, self.n_observations))
            self._warned = False
            import_background_dependencies()
            self._thread = threading.Thread(
                target=self._drive, name=f"nbscale-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def _drive(self) -> None:
        driver = self._driver
        assert driver is not None
        driver.run()
        if driver.n_failures:
            logger.warning(
                "%d fits failed in this run (see Study.failures())", driver.n_failures
            )

    def run(
        self, progress: bool = True, executor: Any = None, stop: Any = None
    ) -> Study:
        """Sample until the target is reached, blocking, with a progress bar.

        Parameters
        ----------
        progress : bool, default=True
            Show a tqdm progress bar (a widget in notebooks).
        executor : optional
            As in :meth:`start`.
        stop : nbscale.StoppingRule, optional
            As in :meth:`start`.

        Returns
        -------
        Study
            ``self``.

        Raises
        ------
        nbscale.AllFitsFailedError
            If every fit fails.
        KeyboardInterrupt
            Re-raised after stopping cleanly; every committed observation
            stays in the store.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True)
        >>> study = nbscale.Study(X, y, model="ridge", sizes=(20, 80), samples=3,
        ...                       points=[0, 1], store=":memory:", random_state=0)
        >>> study.run(progress=False).n_observations
        6
        """
        self.start(executor, stop)
        bar = _progress_bar(self, progress)
        try:
            while not self.wait(timeout=0.25, _raise=False):
                if bar is not None:
                    # update() redraws at most every mininterval, and only
                    # on news: a log file gets no line per poll.
                    settled = self.n_observations + self.n_failures
                    if settled > bar.n:
                        bar.update(settled - bar.n)
        except KeyboardInterrupt:
            self.stop()
            logger.info("interrupted; %d observations kept", self.n_observations)
            raise
        finally:
            if bar is not None:
                bar.n = self.n_observations + self.n_failures
                bar.close()
        self.wait(timeout=0)
        return self

    def wait(self, timeout: float | None = None, *, _raise: bool = True) -> bool:
        """Block until the background run ends, or ``timeout`` seconds pass.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; None waits as long as it takes.

        Returns
        -------
        bool
            True when no run is in progress any more.

        Raises
        ------
        nbscale.AllFitsFailedError
            If the run stopped because every fit failed.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> study.wait()
        True
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        if _raise:
            self._finish()
        return True

    def _finish(self) -> None:
        """Surface a finished run's error and its failure warning, once."""
        driver = self._driver
        if driver is None or self._warned:
            return
        self._warned = True
        if driver.n_failures:
            common = ", ".join(
                f"{reason!r} ({n}x)" for reason, n in driver.reasons.most_common(2)
            )
            warnings.warn(
                f"{driver.n_failures} of {driver.n_failures + driver.n_observations} "
                f"fits failed and were recorded as failures; most common: "
                f"{common}. See Study.failures()",
                FitFailureWarning,
                stacklevel=user_stacklevel(),
            )
        if driver.error is not None:
            raise driver.error

    def stop(self, timeout: float = 2.0) -> Study:
        """Stop the background run; committed observations are kept.

        Batches still in flight are abandoned (worker processes are
        terminated), so this returns within about ``timeout`` seconds.
        :meth:`run` or :meth:`start` later continue up to the target.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> study.stop().running
        False
        """
        self._flag.stop()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self

    def pause(self) -> Study:
        """Hold back new batches; batches in flight still finish.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> study.pause().paused
        False
        """
        self._flag.pause()
        return self

    def resume(self) -> Study:
        """Undo :meth:`pause`.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> study.resume().paused
        False
        """
        self._flag.resume()
        return self

    def _context(self) -> EvaluationContext:
        if self._model is None:
            raise ValueError(
                "model: this study was reopened from a store that cannot "
                "rebuild its estimator; pass it again: nbscale.open(path, "
                "model=estimator)"
            )
        if self._metric is None:
            raise ValueError(
                f"metric: this study used the callable {self._config['metric']!r}; "
                f"pass it again: nbscale.open(path, metric=function)"
            )
        learner = learner_for(
            self._model,
            engine=self._config.get("engine", "auto"),
            device=self._config.get("device"),
            random_state=int(self._config["root_seed"]) % (2**31 - 1),
        )
        return EvaluationContext(self._data, learner, self._metric)

    def _source(self) -> DrawSource:
        """Where the next run takes its draws from."""
        stored = self._store.done_draws()
        if isinstance(self._plan, SharedPlan):
            return SharedSource(self._plan, self._plan.pending(stored))
        if self._config.get("allocation", "uniform") == "adaptive":
            return AdaptiveSource(self._plan, stored, self._laws_below)
        done = np.zeros(self.n_target, dtype=bool)
        done[stored[stored < self.n_target]] = True
        return PlanSource(self._plan, np.flatnonzero(~done))

    def _laws_below(self, limit: int) -> pd.DataFrame:
        """Laws by pool position, from the draws with ids below ``limit``."""
        from nbscale.laws import fit_laws

        frame = self._store.observations()
        frame = frame[frame["draw"] < limit]
        frame["point"] = self._data.pool_position(frame["point"].to_numpy())
        return fit_laws(frame, warn=False)

    def _rule_checker(self, rule: StoppingRule, started: float) -> Callable[[], bool]:
        """A closure the driver calls after each commit."""
        cache: dict[str, Any] = {"at": -np.inf, "count": 0, "laws": None}

        def laws() -> pd.DataFrame | None:
            # Rules are checked after every commit, so refit only when the
            # data grew by a tenth (geometric: the total cost stays a small
            # multiple of one fit, whatever the speed of the machine) or a
            # couple of seconds passed with new data.
            count = self.n_observations
            grown = count >= _RULE_REFIT_GROWTH * cache["count"]
            late = time.monotonic() - cache["at"] >= _RULE_REFIT_SECONDS
            if count > cache["count"] and (grown or late):
                cache["laws"] = self._laws_below(np.iinfo(np.int64).max)
                cache["at"], cache["count"] = time.monotonic(), count
            return cache["laws"]

        def check() -> bool:
            return rule(RunState(self.n_observations, started, laws))

        return check

    # ------------------------------------------------------------- listeners
    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(batch)`` after each committed batch.

        Parameters
        ----------
        callback : callable
            Receives a DataFrame with columns ``point`` (row label),
            ``size``, ``delta`` and ``draw``. It runs on the driver thread,
            so it should be quick (queue the data and return). A callback
            that raises is logged and removed.

        Returns
        -------
        callable
            Call it to unsubscribe.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=2, points=[0],
        ...                       store=":memory:", random_state=0)
        >>> seen = []
        >>> unsubscribe = study.add_listener(lambda batch: seen.append(len(batch)))
        >>> _ = study.run(progress=False, executor="inline")
        >>> sum(seen)
        2
        """
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _on_batch(self, committed: dict[str, np.ndarray], n_failed: int) -> None:
        """Driver hook: update progress, then notify listeners."""
        now = time.monotonic()
        positions = self._data.pool_position(committed["point"])
        with self._lock:
            self._covered[positions] = True
            self._history.append((now, self.n_observations + self.n_failures))
            listeners = list(self._listeners)
        if not listeners or len(committed["draw"]) == 0:
            return
        frame = pd.DataFrame(
            {
                "point": self._labels_of(committed["point"]),
                "size": committed["size"],
                "delta": committed["delta"],
                "draw": committed["draw"],
            }
        )
        for callback in listeners:
            try:
                callback(frame)
            except Exception:
                logger.exception("nbscale listener %r failed; removed", callback)
                with self._lock:
                    if callback in self._listeners:
                        self._listeners.remove(callback)

    def progress(self) -> dict[str, Any]:
        """A snapshot of the run's progress.

        Returns
        -------
        dict
            ``n_observations``, ``n_target``, ``n_failures``, ``n_points``,
            ``n_points_covered``, ``rate`` (settled requests a second over
            the recent window), ``eta_seconds`` (None when unknown),
            ``elapsed`` (seconds since start), ``running`` and ``paused``.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[0, 3],
        ...                       store=":memory:", random_state=0)
        >>> study.progress()["n_target"]
        2
        """
        n_obs, n_failed = self._store.counts()
        with self._lock:
            history = list(self._history)
            covered = int(self._covered[self._plan.points].sum())
        rate = 0.0
        if len(history) >= 2 and history[-1][0] > history[0][0]:
            rate = (history[-1][1] - history[0][1]) / (history[-1][0] - history[0][0])
        remaining = max(self.n_target - n_obs - n_failed, 0)
        eta = remaining / rate if rate > 0 and self.running else None
        started = self._started_at
        return {
            "n_observations": n_obs,
            "n_target": self.n_target,
            "n_failures": n_failed,
            "n_points": self._plan.n_points,
            "n_points_covered": covered if started else self._count_covered(),
            "rate": float(rate),
            "eta_seconds": eta,
            "elapsed": 0.0 if started is None else time.monotonic() - started,
            "running": self.running,
            "paused": self.paused,
        }

    def _count_covered(self) -> int:
        if self.n_observations == 0:
            return 0
        return int(self.observations()["point"].nunique())


def _trainer(model: Any, learner: Learner) -> str | None:
    """For ``"mlp"``, which training the observations come from."""
    if model != "mlp":
        return None
    return "sklearn" if type(learner).__name__ == "SklearnLearner" else "batched"


def _progress_bar(study: Study, progress: bool) -> Any:
    """A tqdm bar over settled requests, or None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=study.n_target,
        initial=study.n_observations + study.n_failures,
        desc=f"nbscale {study.name}",
        unit="obs",
    )
