"""What a study has learned: observations, audits, laws, values, picks.

:class:`StudyResults` holds the read side of :class:`nbscale.Study`. Every
method reads the store (committed rows only), so it can be called at any
time, also while the study samples in the background: the answer covers
what has been committed so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nbscale.data import Dataset, draw_subset
from nbscale.designs import SharedPlan
from nbscale.exceptions import StoreError
from nbscale.sampling import Plan
from nbscale.store import SQLiteStore

__all__ = ["StudyResults"]


class StudyResults:
    """The results API of :class:`nbscale.Study` (a mixin).

    It expects the study's ``_store``, ``_data``, ``_config`` and
    ``_plan``, and its ``n_target`` and ``sizes``.

    Examples
    --------
    >>> import nbscale
    >>> issubclass(nbscale.Study, StudyResults)
    True
    """

    _store: SQLiteStore
    _data: Dataset
    _config: dict[str, Any]
    _plan: Any
    n_target: int
    sizes: tuple[int, int]

    # ----------------------------------------------------------- results API
    def observations(self) -> pd.DataFrame:
        """Every committed observation.

        Returns
        -------
        DataFrame
            One row per observation, ordered by draw, with a RangeIndex and
            columns ``point`` (the row label in the user's data: position
            for arrays, index label for DataFrames), ``size`` (int64,
            ``|D|``), ``delta`` (float64, loss without minus loss with the
            point), ``draw`` (int64, pass it to :meth:`subset`),
            ``loss_without`` and ``loss_with`` (float64 validation losses).

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=2, points=[5],
        ...                       store=":memory:", random_state=0)
        >>> study.run(progress=False).observations().columns.tolist()[:4]
        ['point', 'size', 'delta', 'draw']
        """
        frame = self._store.observations()
        frame["point"] = self._labels_of(frame["point"].to_numpy())
        return frame[["point", "size", "delta", "draw", "loss_without", "loss_with"]]

    def _labels_of(self, rows: np.ndarray) -> Any:
        """The user's labels of rows given by position in X."""
        n_rows = len(self._data.labels)
        if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
            raise StoreError("path: the store refers to rows outside the data")
        if self._labels_are_positions():
            return rows
        return np.asarray(self._data.labels, dtype=object)[rows]

    def _labels_are_positions(self) -> bool:
        return self._config["labels"].get("kind") == "range"

    def failures(self) -> pd.DataFrame:
        """Every recorded failure.

        Returns
        -------
        DataFrame
            Columns ``point`` (row label), ``size``, ``draw`` and
            ``reason`` (str), with a RangeIndex.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> nbscale.Study(X, y, store=":memory:", sizes=(10, 20)).failures().shape
        (0, 4)
        """
        frame = self._store.failures()
        frame["point"] = self._labels_of(frame["point"].to_numpy(dtype=np.int64))
        return frame[["point", "size", "draw", "reason"]]

    def subset(self, draw: int) -> np.ndarray:
        """The training rows of the subset D an observation's draw used.

        The subset is regenerated from the draw's stored seed, so any
        observation can be audited: refit your model on ``X[subset]`` and
        on ``X[subset]`` plus the point, and compare.

        Parameters
        ----------
        draw : int
            A draw id from :meth:`observations`.

        Returns
        -------
        ndarray of int64, shape (size,)
            Sorted positions in the user's ``X``; the studied point is
            never among them.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1, points=[5],
        ...                       store=":memory:", random_state=0)
        >>> row = study.run(progress=False).observations().iloc[0]
        >>> bool(len(study.subset(row["draw"])) == row["size"])
        True
        """
        if isinstance(draw, float | np.floating) and float(draw).is_integer():
            draw = int(draw)
        if isinstance(draw, bool) or not isinstance(draw, int | np.integer):
            raise TypeError(f"draw: expected an int draw id, got {draw!r}")
        stored = self._store.draw(int(draw))
        if stored is not None:
            point, size, seed = stored
            excluded = (
                None
                if point is None
                else int(self._data.pool_position(np.array([point]))[0])
            )
        elif isinstance(self._plan, SharedPlan) and self._plan.draw_spec(draw):
            excluded, size, seed = self._plan.draw_spec(draw)  # type: ignore[misc]
        elif (
            isinstance(self._plan, Plan)
            and 0 <= draw < self.n_target
            and self._config.get("allocation") != "adaptive"
        ):
            batch = self._plan.batch(np.array([draw]))
            excluded = int(batch.excluded[0])
            size, seed = int(batch.size[0]), int(batch.seed[0])
        else:
            raise ValueError(
                f"draw: expected a draw id of this study's plan or one stored "
                f"in it, got {draw!r}"
            )
        return self._data.rows[draw_subset(self._data, excluded, size, seed)]

    def laws(
        self, method: str = "likelihood", *, warn: bool = True, **options: Any
    ) -> pd.DataFrame:
        """Fit the per-point scaling laws ``psi_k = c * k**-alpha``.

        Parameters
        ----------
        method : {"likelihood", "loglinear", "amortized"}, default="likelihood"
            ``"likelihood"`` and ``"loglinear"`` fit each point on its own
            (see :func:`nbscale.fit_laws`). ``"amortized"`` trains one
            network from the points' features (and classes) to their laws
            (see :func:`nbscale.laws.fit_amortized`); it needs far fewer
            observations per point. Its result is cached until new
            observations arrive.
        warn : bool, default=True
            Issue a :class:`~nbscale.LawFitWarning` when some per-point
            laws are flagged; the dashboard passes False.
        **options
            Keyword arguments of :func:`nbscale.laws.fit_amortized`
            (``hidden``, ``max_epochs``, ``random_state``, ...) with
            ``method="amortized"``; ``prior`` of :func:`nbscale.fit_laws`
            (``prior="empirical"`` for empirical Bayes) with
            ``method="likelihood"``.

        Returns
        -------
        DataFrame
            Indexed by point (row labels); columns as in
            :func:`nbscale.fit_laws`; the amortized fit adds diagnostics
            such as ``val_loss`` in ``attrs``.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6, points=[0, 1],
        ...                       store=":memory:", random_state=0)
        >>> study.run(progress=False).laws().index.tolist()
        [0, 1]
        """
        from nbscale.laws import fit_amortized, fit_laws

        observations = self.observations()
        if observations.empty:
            raise ValueError(
                "laws: the study has no observations yet; call run() or start()"
            )
        if method != "amortized":
            prior = options.pop("prior", None)
            if options:
                raise TypeError(
                    f"laws: options {sorted(options)!r} apply only to "
                    f"method='amortized', got method={method!r}"
                )
            return fit_laws(observations, method=method, prior=prior, warn=warn)

        # The amortized fit trains a network: reuse it until new data arrive.
        key = (len(observations), repr(sorted(options.items())))
        cache = self.__dict__.setdefault("_amortized_cache", {})
        if key not in cache:
            # Every pool row goes in: the classifier pretraining uses them all.
            index = pd.Index(self._labels_of(self._data.rows))
            features = pd.DataFrame(self._data.X_train, index=index)
            labels = (
                pd.Series(self._data.y_train, index=index)
                if self._data.is_classifier
                else None
            )
            cache.clear()
            cache[key] = fit_amortized(observations, features, labels, **options)
        return cache[key].copy()

    def values(
        self,
        sizes: tuple[int, int] | None = None,
        method: str = "likelihood",
        *,
        weights: str | tuple[str, float, float] = "uniform",
        **options: Any,
    ) -> pd.DataFrame:
        """Per-point values: the weighted mean contribution over a size window.

        Parameters
        ----------
        sizes : tuple (k_min, k_max), optional
            The window; default the study's sizes.
        method : str, default="likelihood"
            Law estimator, as in :meth:`laws`.
        weights : "uniform", ("beta", a, b) or "beta(a, b)", default="uniform"
            Weighting of the window's sizes; see :func:`nbscale.values`.
        **options
            Passed to :meth:`laws` (amortized settings).

        Returns
        -------
        DataFrame
            Indexed by point; columns ``value`` and ``stderr`` (float64).

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6, points=[0, 1],
        ...                       store=":memory:", random_state=0)
        >>> study.run(progress=False).values().columns.tolist()
        ['value', 'stderr']
        """
        from nbscale.apply import values

        laws = self.laws(method, **options)
        return values(laws, sizes=sizes or self.sizes, weights=weights)

    def recommend(
        self,
        size: int,
        n: int = 10,
        action: str = "add",
        *,
        balanced: bool = False,
        skip_flagged: bool = True,
        method: str = "likelihood",
        **options: Any,
    ) -> pd.DataFrame:
        """The points with the highest expected contribution at ``size``.

        Parameters
        ----------
        size : int
            The dataset size the points will join.
        n : int, default=10
            How many points.
        action : {"add", "remove"}, default="add"
            ``"add"`` ranks by ``c * size**-alpha`` descending; ``"remove"``
            returns the most harmful points (lowest scores first).
        balanced : bool, default=False
            Keep the selection class-balanced (classification only).
        skip_flagged : bool, default=True
            Leave out points whose law is flagged as unreliable (``flag``
            is not ``"ok"``); see :func:`nbscale.recommend`.
        method : str, default="likelihood"
            Law estimator, as in :meth:`laws`.
        **options
            Passed to :meth:`laws` (amortized settings).

        Returns
        -------
        DataFrame
            Indexed by point; see :func:`nbscale.recommend`.

        Raises
        ------
        ValueError
            If ``balanced`` is asked of a regression study, or an argument
            is out of range (see :func:`nbscale.recommend`).

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6,
        ...                       points=[0, 1, 2], store=":memory:", random_state=0)
        >>> study.run(progress=False).recommend(size=50, n=2).columns.tolist()[:3]
        ['rank', 'score', 'stderr']
        """
        from nbscale.apply import recommend

        if balanced is True and not self._data.is_classifier:
            raise ValueError(
                "balanced: a class-balanced selection needs classes, but this "
                "study is a regression; pass balanced=False"
            )
        laws = self.laws(method, **options)
        labels = None
        if self._data.is_classifier:
            positions = self._point_positions(laws.index)
            codes = self._data.y_train[positions]
            classes: Any = self._data.classes
            labels = pd.Series(classes[codes], index=laws.index)
        return recommend(
            laws,
            size=size,
            n=n,
            action=action,
            labels=labels,
            balanced=balanced,
            skip_flagged=skip_flagged,
        )

    def _point_positions(self, index: pd.Index) -> np.ndarray:
        """Pool positions of points given by their labels."""
        if self._labels_are_positions():
            rows = np.asarray(index, dtype=np.int64)
        else:
            lookup = {label: i for i, label in enumerate(self._data.labels)}
            rows = np.array([lookup[label] for label in index], dtype=np.int64)
        return self._data.pool_position(rows)

    def aggregate(self, *, warn: bool = True) -> pd.DataFrame:
        """The dataset-level curve: mean validation loss at each size.

        Each draw contributes two losses: that of the model trained on its
        subset ``D`` (size ``k``) and the mean loss of the models trained
        on ``D`` plus one of its points (size ``k + 1``). The draw, not
        the observation, is the unit: under the shared design many
        observations reuse one fit on ``D``, and counting that fit once
        per observation would make its size look far more precise than
        it is.

        Parameters
        ----------
        warn : bool, default=True
            Issue a :class:`~nbscale.LawFitWarning` when the law cannot be
            fitted yet (too few sizes); the dashboard passes False.

        Returns
        -------
        DataFrame
            Indexed by size; see :func:`nbscale.laws.fit_aggregate`. The
            fitted law ``loss(k) = epsilon + C * k**-a`` is in ``attrs``.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=[10, 40], samples=4, points=[0, 1],
        ...                       store=":memory:", random_state=0)
        >>> sorted(study.run(progress=False).aggregate().attrs)
        ['C', 'a', 'converged', 'epsilon']
        """
        from nbscale.laws import fit_aggregate

        frame = self._store.observations()
        per_draw = frame.groupby("draw", sort=False).agg(
            size=("size", "first"),
            loss_without=("loss_without", "first"),
            loss_with=("loss_with", "mean"),
        )
        sizes = np.concatenate([per_draw["size"], per_draw["size"] + 1])
        losses = np.concatenate([per_draw["loss_without"], per_draw["loss_with"]])
        return fit_aggregate(sizes.astype(np.float64), losses, warn=warn)

    # ----------------------------------------------------------- notebooks
    def dashboard(self, **options: Any) -> Any:
        """A live dashboard widget that follows this study.

        Parameters
        ----------
        **options
            Keyword arguments of :class:`nbscale.notebook.Dashboard`
            (for example ``n_curves``).

        Returns
        -------
        nbscale.notebook.Dashboard
            An anywidget; display it (the last expression of a cell) to
            see progress, scaling curves, the spread of the laws and live
            recommendations. It keeps updating while the study samples.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=1,
        ...                       points=[0, 1], store=":memory:")
        >>> board = study.dashboard()
        >>> type(board).__name__
        'Dashboard'
        >>> board.close()
        """
        from nbscale.notebook.dashboard import Dashboard

        return Dashboard(self, **options)

    def chart(self, kind: str, **options: Any) -> Any:
        """A static Altair chart of this study, for scripts and reports.

        Parameters
        ----------
        kind : {"curves", "alpha", "c", "laws", "aggregate", "values"}
            Which chart: scaling curves of a few points, the spread of the
            exponents or of the scales, both together, the dataset-level
            curve, or the values over the size window.
        **options
            Options of that kind; see
            :func:`nbscale.notebook.charts.study_chart`.

        Returns
        -------
        altair.Chart
            Save it with ``chart.save("curves.png")`` (vl-convert renders
            it offline) or display it in a notebook.

        Examples
        --------
        >>> import nbscale
        >>> from sklearn.datasets import load_wine
        >>> X, y = load_wine(return_X_y=True)
        >>> study = nbscale.Study(X, y, sizes=(10, 40), samples=4,
        ...                       points=[0, 1], store=":memory:", random_state=0)
        >>> chart = study.run(progress=False).chart("aggregate")
        >>> "$schema" in chart.to_dict()
        True
        """
        from nbscale.notebook.charts import study_chart

        return study_chart(self, kind, **options)
