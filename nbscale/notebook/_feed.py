"""What the dashboard shows, kept up to date batch by batch.

:class:`Feed` is the dashboard's state without the widget and without the
threads: it folds observation batches into running per-size means and a
capped raw cloud for the selected points, keeps the latest fitted laws,
and on :meth:`Feed.flush` hands back exactly what changed since the last
flush, as one message of Vega data changes plus the widget traits to set.
The widget (:mod:`nbscale.notebook.dashboard`) owns one feed and calls it
from a single consumer thread, so the feed needs no locks of its own.

Rules that keep the traffic small:

- new observations are *inserted*; per-size means are *upserted* by
  (point, bin), and only the cells that changed;
- a dataset is *replaced* only when its meaning changes (another selection,
  a new fit, or a browser view that asks for everything after it loads);
- the snapshot trait (for notebooks reopened without a kernel) is rebuilt
  only when a fit arrives or the selection changes, and stays small: means
  and curves of the selected points, at most ``SNAPSHOT_LAWS`` laws.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nbscale.notebook._frames import (
    MeanAccumulator,
    aggregate_frame,
    cloud_frame,
    fit_curves,
    laws_frame,
    point_key,
    recommend_rows,
    size_bin_edges,
    spanning_points,
)
from nbscale.notebook._wire import data_change, json_columns

__all__ = ["SNAPSHOT_LAWS", "Feed", "FitResult", "fit_study"]

logger = logging.getLogger(__name__)

SNAPSHOT_LAWS = 500
"""At most this many points' laws go into the snapshot trait."""


@dataclass
class FitResult:
    """What one refresh of the fits produced (any part may be missing).

    Attributes
    ----------
    laws : DataFrame or None
        ``Study.laws()``.
    aggregate : DataFrame or None
        ``Study.aggregate()``.
    table : dict or None
        ``{"size", "add", "remove"}`` rows from ``recommend``.
    errors : list of str
        One line per part that failed.
    """

    laws: pd.DataFrame | None = None
    aggregate: pd.DataFrame | None = None
    table: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


def fit_study(
    study: Any, target: int, n_table: int, laws: pd.DataFrame | None = None
) -> FitResult:
    """Refresh the laws, the aggregate curve and the recommendation table.

    Runs in the dashboard's fitting thread. Each part fails on its own:
    the message goes to ``errors`` and the rest still arrives.

    Parameters
    ----------
    study : nbscale.Study
        The study.
    target : int
        Dataset size for the recommendation table.
    n_table : int
        Rows in each half of the table.
    laws : DataFrame, optional
        Reuse these laws and recompute only the table (the target moved).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import nbscale
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> study = nbscale.Study(X, y, sizes=(10, 60), samples=6, points=range(4),
    ...                       store=":memory:", random_state=0)
    >>> result = fit_study(study.run(progress=False), target=30, n_table=2)
    >>> result.errors, sorted(result.table)
    ([], ['add', 'remove', 'size'])
    """
    result = FitResult()
    only_table = laws is not None
    if laws is None:
        try:
            laws = _laws_quietly(study)
        except ValueError as err:  # no observations yet: nothing to show
            logger.debug("laws not ready: %s", err)
            return result
        except Exception as err:
            result.errors.append(f"fitting the laws failed: {err}")
            return result
        result.laws = laws
        try:
            result.aggregate = study.aggregate(warn=False)
        except Exception as err:
            result.errors.append(f"fitting the aggregate curve failed: {err}")

    try:
        from nbscale.apply import recommend

        result.table = {
            "size": int(target),
            "add": recommend_rows(
                recommend(laws, size=target, n=n_table, action="add")
            ),
            "remove": recommend_rows(
                recommend(laws, size=target, n=n_table, action="remove")
            ),
        }
    except Exception as err:
        result.errors.append(f"ranking points at size {target} failed: {err}")
    if only_table:
        result.laws = None
    return result


def _laws_quietly(study: Any) -> pd.DataFrame:
    """``study.laws()``, without a LawFitWarning at every refresh.

    A refresh every few seconds would repeat the warning in the notebook
    each time. ``warnings.catch_warnings`` is no way out in a background
    thread (it swaps the process-wide filters), so this uses the study's
    own switch.
    """
    return study.laws(warn=False)


class Feed:
    """The dashboard's data, folded in batch by batch.

    Parameters
    ----------
    sizes : tuple (k_min, k_max)
        The study's size window.
    n_curves : int, default=5
        Points drawn by default, spanning the ``alpha`` distribution.
    max_cloud : int, default=1000
        Raw observations kept per selected point.
    max_laws : int, default=5000
        Points drawn in the distribution panel.

    Attributes
    ----------
    selected : list of str
        Selected point keys, in order.
    chosen_by_user : bool
        Whether the selection came from the user (it is then kept).
    laws : DataFrame or None
        The latest fitted laws.

    Examples
    --------
    >>> import pandas as pd
    >>> feed = Feed((10, 100), n_curves=1)
    >>> batch = pd.DataFrame({"point": [4, 4], "size": [10, 50],
    ...                       "delta": [0.1, 0.02], "draw": [0, 1]})
    >>> feed.select(["4"], batch, by_user=True)
    >>> message, buffers, traits = feed.flush()
    >>> [change["data"] for change in message["changes"]]
    ['cloud', 'means', 'fit']
    """

    def __init__(
        self,
        sizes: tuple[int, int],
        *,
        n_curves: int = 5,
        max_cloud: int = 1000,
        max_laws: int = 5000,
    ) -> None:
        self.sizes = (int(sizes[0]), int(sizes[1]))
        self.n_curves = n_curves
        self.max_cloud = max_cloud
        self.max_laws = max_laws
        self.selected: list[str] = []
        self.chosen_by_user = False
        self.laws: pd.DataFrame | None = None
        self.known: set[str] = set()
        self._spanned = False

        self._means = MeanAccumulator(size_bin_edges(*self.sizes))
        self._cloud: list[pd.DataFrame] = []
        self._cloud_counts: dict[str, int] = {}
        self._aggregate: pd.DataFrame | None = None
        self._table: dict[str, Any] | None = None

        # What the next flush must send.
        self._new_cloud: list[pd.DataFrame] = []
        self._changed_cells: set[tuple[str, int]] = set()
        self._replace_curves = False
        self._replace_all = False
        self._new_fit = False
        self._new_table = False
        self._snapshot_due = False
        self._seq = 0
        self._draws: set[int] = set()

    # -------------------------------------------------------------- inputs
    def add(self, batch: pd.DataFrame) -> None:
        """Fold in a batch of observations (columns point, size, delta).

        Parameters
        ----------
        batch : DataFrame
            As passed to ``Study.add_listener`` callbacks.
        """
        if batch.empty:
            return
        self.known.update(batch["point"].map(point_key).unique().tolist())
        if not self.selected:
            return
        batch = self._unseen(batch)
        self._changed_cells |= self._means.add(batch, self.selected)
        self._keep_cloud(cloud_frame(batch, self.selected), fresh=True)

    def select(
        self, keys: list[str], observations: pd.DataFrame, *, by_user: bool
    ) -> None:
        """Draw other points, rebuilding their curves from all observations.

        Parameters
        ----------
        keys : list of str
            Point keys (:func:`~nbscale.notebook._frames.point_key`).
        observations : DataFrame
            Every observation so far (``Study.observations()``).
        by_user : bool
            A user's choice is kept; an automatic one gives way to the
            points spanning ``alpha`` once the first fit arrives.
        """
        self.selected = list(dict.fromkeys(keys))
        self.chosen_by_user = self.chosen_by_user or by_user
        if not observations.empty:
            self.known.update(observations["point"].map(point_key).unique().tolist())
        self._means.clear()
        self._cloud.clear()
        self._cloud_counts.clear()
        self._new_cloud.clear()
        self._changed_cells.clear()
        self._draws.clear()
        if self.selected and not observations.empty:
            observations = self._unseen(observations)
            self._means.add(observations, self.selected)
            self._keep_cloud(cloud_frame(observations, self.selected), fresh=False)
        self._replace_curves = True
        self._snapshot_due = True

    def default_selection(self) -> list[str] | None:
        """The points to draw when the user has not chosen any, if new.

        Returns
        -------
        list of str or None
            Points spanning ``alpha``, once, when the first fit gives
            enough usable laws; None when the current selection stays.
        """
        if self.chosen_by_user or self.laws is None or self._spanned:
            return None
        keys = [point_key(label) for label in spanning_points(self.laws, self.n_curves)]
        if len(keys) >= min(self.n_curves, len(self.laws)):
            self._spanned = True
            return keys if keys != self.selected else None
        if self.selected:
            return None  # too few usable fits yet: wait for a better spread
        # Nothing drawn yet (no batch came): the fitted points there are.
        return keys or [point_key(label) for label in self.laws.index[: self.n_curves]]

    def first_points(self, batch: pd.DataFrame) -> list[str]:
        """Provisional points to draw before any fit: the first seen.

        Parameters
        ----------
        batch : DataFrame
            A batch of observations.

        Returns
        -------
        list of str
        """
        keys = batch["point"].map(point_key).unique()
        return [str(key) for key in keys[: self.n_curves]]

    def fitted(self, result: FitResult) -> None:
        """Take in a refresh of the fits."""
        if result.laws is not None:
            self.laws = result.laws
            self.known.update(point_key(label) for label in result.laws.index)
            self._aggregate = result.aggregate
            self._new_fit = True
            self._snapshot_due = True
        if result.table is not None:
            self._table = result.table
            self._new_table = True
            self._snapshot_due = True

    def resend(self) -> None:
        """Send every dataset again at the next flush (a view just loaded)."""
        self._replace_all = True

    def unknown(self, keys: list[str]) -> list[str]:
        """The keys among ``keys`` with no observation and no law yet."""
        if not self.known:
            return []
        return [key for key in keys if key not in self.known]

    # ------------------------------------------------------------- outputs
    def pending(self) -> bool:
        """Whether :meth:`flush` has anything to send."""
        return bool(
            self._new_cloud
            or self._changed_cells
            or self._replace_curves
            or self._replace_all
            or self._new_fit
            or self._new_table
            or self._snapshot_due
        )

    def flush(self) -> tuple[dict[str, Any] | None, list[memoryview], dict[str, Any]]:
        """Everything that changed since the last flush.

        Returns
        -------
        message : dict or None
            An ``update`` message for the browser, or None when no data
            changed.
        buffers : list of memoryview
            Its binary buffers.
        traits : dict
            Widget traits to set (``snapshot`` when it is due).
        """
        buffers: list[memoryview] = []
        changes: list[dict[str, Any]] = []

        def change(view: str, name: str, frame: pd.DataFrame, **how: Any) -> None:
            changes.append(data_change(view, name, frame, buffers, **how))

        everything = self._replace_all
        curves = everything or self._replace_curves
        fits = everything or self._new_fit

        # The observations of the selected points: new rows, or all of them.
        if curves:
            change("curves", "cloud", self._cloud_frame(), mode="replace")
            change("curves", "means", self._means.frame(), mode="replace")
        else:
            if self._new_cloud:
                fresh = pd.concat(self._new_cloud, ignore_index=True)
                change("curves", "cloud", fresh)
            if self._changed_cells:
                cells = self._means.frame(sorted(self._changed_cells))
                change("curves", "means", cells, mode="upsert", key=("point", "bin"))

        # The fitted curves, laws and aggregate: replaced as a whole.
        if curves or fits:
            change("curves", "fit", self._fit_frame(), mode="replace")
        if fits and self.laws is not None:
            frame = laws_frame(self.laws, self.max_laws, keep=self.selected)
            change("laws", "laws", frame, mode="replace")
        if fits and self._aggregate is not None:
            frame = aggregate_frame(self._aggregate)
            change("aggregate", "aggregate", frame, mode="replace")

        message = None
        table = self._table if (everything or self._new_table) else None
        if changes or table is not None:
            self._seq += 1
            message = {"type": "update", "seq": self._seq, "changes": changes}
            if table is not None:
                message["table"] = table
        traits = {"snapshot": self.snapshot()} if self._snapshot_due else {}

        self._new_cloud.clear()
        self._changed_cells.clear()
        self._replace_curves = self._replace_all = False
        self._new_fit = self._new_table = self._snapshot_due = False
        return message, buffers, traits

    def snapshot(self) -> dict[str, Any]:
        """The compact state a reopened notebook redraws from.

        Returns
        -------
        dict
            ``{"data": {view: {dataset: columns}}, "table": ...}`` with
            columns as in :func:`~nbscale.notebook._wire.json_columns`.
        """
        data: dict[str, dict[str, Any]] = {
            "curves": {
                "means": json_columns(self._means.frame()),
                "fit": json_columns(self._fit_frame()),
            }
        }
        if self.laws is not None:
            frame = laws_frame(self.laws, SNAPSHOT_LAWS, keep=self.selected)
            data["laws"] = {"laws": json_columns(frame)}
        if self._aggregate is not None:
            data["aggregate"] = {
                "aggregate": json_columns(aggregate_frame(self._aggregate))
            }
        return {"data": data, "table": self._table}

    # ------------------------------------------------------------- helpers
    def _unseen(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Rows of selected points not folded in yet, remembering their draws.

        A batch can reach the feed twice: in ``Study.observations()`` read
        for a new selection, and from the queue of batches behind it.
        """
        if "draw" not in batch:
            return batch
        keys = batch["point"].map(point_key)
        mine = keys.isin(set(self.selected)).to_numpy()
        draws = batch["draw"].to_numpy()
        fresh = ~np.isin(draws, np.fromiter(self._draws, dtype=np.int64))
        self._draws.update(draws[mine & fresh].tolist())
        return batch[~mine | fresh]

    def _keep_cloud(self, frame: pd.DataFrame, *, fresh: bool) -> None:
        """Keep up to ``max_cloud`` raw observations per selected point."""
        if frame.empty:
            return
        rank = frame.groupby("point", sort=False).cumcount().to_numpy()
        already = frame["point"].map(self._cloud_counts).fillna(0).to_numpy()
        kept = frame[rank + already < self.max_cloud]
        if kept.empty:
            return
        for key, count in kept["point"].value_counts().items():
            previous = self._cloud_counts.get(str(key), 0)
            self._cloud_counts[str(key)] = previous + int(count)
        self._cloud.append(kept)
        if fresh:
            self._new_cloud.append(kept)

    def _cloud_frame(self) -> pd.DataFrame:
        if not self._cloud:
            return pd.DataFrame(
                {"point": np.array([], dtype=object), "k": [], "abs_delta": []}
            )
        return pd.concat(self._cloud, ignore_index=True)

    def _fit_frame(self) -> pd.DataFrame:
        if self.laws is None or not self.selected:
            return pd.DataFrame(
                {
                    "point": np.array([], dtype=object),
                    **{name: [] for name in ("k", "fit", "lower", "upper")},
                }
            )
        return fit_curves(self.laws, self.selected, *self.sizes)
