"""Tidy frames behind the charts and the dashboard.

The study hands out raw observations (one row per sampled contribution)
and fitted laws (one row per point). Charts need something in between:
per-size means with error bars, the fitted curve ``|c| k^-alpha`` on a grid
with its confidence band, and the laws as plain columns. Every function
here is pure: frames in, frames out. The static charts
(:mod:`nbscale.notebook.charts`) and the live dashboard
(:mod:`nbscale.notebook.dashboard`) both draw from them, so a picture in a
report and the live view agree.

Point labels travel as strings (``key``): a Vega dataset cannot hold
arbitrary Python objects, and a user may label rows with anything.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BAND_Z",
    "N_SIZE_BINS",
    "UNFITTED_FLAGS",
    "MeanAccumulator",
    "aggregate_frame",
    "cloud_frame",
    "fit_curves",
    "laws_frame",
    "point_key",
    "recommend_rows",
    "size_bin_edges",
    "spanning_points",
]

logger = logging.getLogger(__name__)

N_SIZE_BINS = 16
"""Log-spaced size bins for per-size means (sizes may be drawn continuously)."""

BAND_Z = 1.96
"""Half-width, in standard errors, of every band and error bar (95 %)."""

_N_GRID = 24
_MAX_LOG_HALF_WIDTH = float(np.log(100.0))

UNFITTED_FLAGS = frozenset({"too_few_observations", "single_size", "zero_variance"})
"""Flags of laws that were not fitted at all (their numbers are placeholders)."""


def point_key(label: Hashable) -> str:
    """The string that names a point in charts and widget messages.

    Examples
    --------
    >>> point_key(17), point_key("row-3")
    ('17', 'row-3')
    """
    if isinstance(label, np.generic):
        label = label.item()
    return str(label)


def size_bin_edges(k_min: int, k_max: int, n_bins: int = N_SIZE_BINS) -> np.ndarray:
    """Edges of log-spaced bins covering the inclusive range of sizes.

    Parameters
    ----------
    k_min, k_max : int
        The study's size window.
    n_bins : int, default=16
        Number of bins; a window narrower than that gets one bin per size.

    Returns
    -------
    ndarray of float64, shape (n_edges,)
        Increasing edges; size ``k`` falls in bin ``searchsorted(edges, k,
        side="right") - 1``.

    Examples
    --------
    >>> size_bin_edges(100, 1000, n_bins=2).round(1).tolist()
    [99.5, 315.5, 1000.5]
    """
    n_bins = max(1, min(n_bins, k_max - k_min + 1))
    return np.geomspace(k_min - 0.5, k_max + 0.5, n_bins + 1)


def cloud_frame(batch: pd.DataFrame, keys: Iterable[str] | None = None) -> pd.DataFrame:
    """Raw observations ready for a log-log scatter.

    Parameters
    ----------
    batch : DataFrame
        Observations with columns ``point``, ``size`` and ``delta``.
    keys : iterable of str, optional
        Keep only these points (as :func:`point_key` strings).

    Returns
    -------
    DataFrame
        Columns ``point`` (str), ``k`` (float64, the size) and
        ``abs_delta`` (float64, ``|delta|``), RangeIndex. Rows whose
        ``delta`` is zero or not finite are dropped: a log axis cannot
        show them.

    Examples
    --------
    >>> import pandas as pd
    >>> batch = pd.DataFrame({"point": [1, 2], "size": [10, 20],
    ...                       "delta": [-0.5, 0.0]})
    >>> cloud_frame(batch).to_dict("records")
    [{'point': '1', 'k': 10.0, 'abs_delta': 0.5}]
    """
    frame = pd.DataFrame(
        {
            "point": batch["point"].map(point_key).astype(object),
            "k": batch["size"].to_numpy(dtype=np.float64),
            "abs_delta": np.abs(batch["delta"].to_numpy(dtype=np.float64)),
        }
    )
    if keys is not None:
        frame = frame[frame["point"].isin(set(keys))]
    visible = np.isfinite(frame["abs_delta"]) & (frame["abs_delta"] > 0)
    return frame[visible].reset_index(drop=True)


class MeanAccumulator:
    """Running per-point, per-size-bin statistics of the contributions.

    Keeps, for each (point, bin), the count, the sums of sizes, of deltas
    and of squared deltas, so that new observations update the means
    without revisiting old ones.

    Parameters
    ----------
    edges : ndarray of shape (n_edges,)
        Size bin edges, from :func:`size_bin_edges`.

    Examples
    --------
    >>> import pandas as pd
    >>> acc = MeanAccumulator(size_bin_edges(10, 100, n_bins=1))
    >>> batch = pd.DataFrame({"point": [0, 0], "size": [10, 30],
    ...                       "delta": [0.2, 0.4]})
    >>> acc.add(batch)
    {('0', 0)}
    >>> acc.frame()["mean"].round(3).tolist()
    [0.3]
    """

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self._sums: dict[tuple[str, int], np.ndarray] = {}

    def clear(self) -> None:
        """Forget every observation."""
        self._sums.clear()

    def add(
        self, batch: pd.DataFrame, keys: Iterable[str] | None = None
    ) -> set[tuple[str, int]]:
        """Fold observations in; return the (point, bin) cells that changed.

        Parameters
        ----------
        batch : DataFrame
            Columns ``point``, ``size`` and ``delta``.
        keys : iterable of str, optional
            Keep only these points.

        Returns
        -------
        set of tuple (str, int)
        """
        if batch.empty:
            return set()
        point = batch["point"].map(point_key).to_numpy(dtype=object)
        size = batch["size"].to_numpy(dtype=np.float64)
        delta = batch["delta"].to_numpy(dtype=np.float64)
        keep = np.isfinite(delta)
        if keys is not None:
            keep &= np.isin(point, np.asarray(list(keys), dtype=object))
        if not keep.any():
            return set()

        # Group the batch by cell, then add each group's sums to the totals.
        bins = np.searchsorted(self.edges, size[keep], side="right") - 1
        bins = np.clip(bins, 0, len(self.edges) - 2)
        grouped = (
            pd.DataFrame(
                {
                    "point": point[keep],
                    "bin": bins,
                    "n": 1.0,
                    "k": size[keep],
                    "d": delta[keep],
                    "d2": delta[keep] ** 2,
                }
            )
            .groupby(["point", "bin"], sort=False)
            .sum()
        )
        changed: set[tuple[str, int]] = set()
        for (key, cell), row in zip(grouped.index, grouped.to_numpy(), strict=True):
            cell_key = (str(key), int(cell))
            total = self._sums.get(cell_key)
            self._sums[cell_key] = row if total is None else total + row
            changed.add(cell_key)
        return changed

    def frame(self, cells: Iterable[tuple[str, int]] | None = None) -> pd.DataFrame:
        """Means with error bars for some or all cells.

        Parameters
        ----------
        cells : iterable of (str, int), optional
            The (point, bin) cells to report; default all.

        Returns
        -------
        DataFrame
            One row per cell, RangeIndex, columns ``point`` (str), ``bin``
            (float64), ``k`` (float64, mean size in the bin), ``n``
            (float64), ``mean`` (float64, mean delta), ``stderr`` (float64,
            NaN for a single observation), ``abs_mean``, ``lower`` and
            ``upper`` (float64: ``|mean|`` and its error bar of
            ``BAND_Z`` standard errors; where the bar would cross zero the
            lower end is clipped to a tenth of ``|mean|`` so that a log
            axis can draw it).
        """
        chosen = list(self._sums) if cells is None else list(cells)
        chosen = [cell for cell in chosen if cell in self._sums]
        columns = ["point", "bin", "k", "n", "mean", "stderr"]
        columns += ["abs_mean", "lower", "upper"]
        if not chosen:
            return pd.DataFrame({name: [] for name in columns}).astype(
                {"point": object, **{name: float for name in columns[1:]}}
            )

        sums = np.array([self._sums[cell] for cell in chosen])
        n, k_sum, d_sum, d2_sum = sums.T
        mean = d_sum / n
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.maximum(d2_sum - n * mean**2, 0.0) / (n - 1)
            stderr = np.where(n > 1, np.sqrt(variance / n), np.nan)
        abs_mean = np.abs(mean)
        half = np.nan_to_num(BAND_Z * stderr, nan=0.0)
        lower = np.where(abs_mean - half > 0, abs_mean - half, abs_mean / 10)
        return pd.DataFrame(
            {
                "point": np.array([cell[0] for cell in chosen], dtype=object),
                "bin": np.array([cell[1] for cell in chosen], dtype=np.float64),
                "k": k_sum / n,
                "n": n,
                "mean": mean,
                "stderr": stderr,
                "abs_mean": abs_mean,
                "lower": lower,
                "upper": abs_mean + half,
            }
        )


def fit_curves(
    laws: pd.DataFrame,
    keys: Sequence[str],
    k_min: int,
    k_max: int,
    n_grid: int = _N_GRID,
) -> pd.DataFrame:
    """The fitted law ``|c| k^-alpha`` of some points on a grid, with a band.

    Parameters
    ----------
    laws : DataFrame
        Indexed by point, with columns ``c`` and ``alpha``; the optional
        ``c_se``, ``alpha_se`` and ``c_alpha_cov`` give the band.
    keys : sequence of str
        The points to draw, as :func:`point_key` strings.
    k_min, k_max : int
        The size window.
    n_grid : int, default=24
        Grid points per curve, log-spaced.

    Returns
    -------
    DataFrame
        ``n_grid`` rows per drawable point, RangeIndex, columns ``point``
        (str), ``k``, ``fit``, ``lower`` and ``upper`` (float64). The band
        is ``BAND_Z`` standard errors of ``log|c| - alpha log k`` by the
        delta method, at most a factor 100 either side; missing standard
        errors count as zero. Points without a
        finite, non-zero ``c``, and laws not fitted (``UNFITTED_FLAGS``),
        are skipped.

    Examples
    --------
    >>> import pandas as pd
    >>> laws = pd.DataFrame({"c": [2.0], "alpha": [1.0]}, index=[7])
    >>> curve = fit_curves(laws, ["7"], 1, 100, n_grid=3)
    >>> curve["fit"].round(3).tolist()
    [2.0, 0.2, 0.02]
    """
    by_key = _fitted(laws).rename(index=point_key)
    wanted = [key for key in keys if key in by_key.index]
    rows = by_key.loc[wanted]
    c = rows["c"].to_numpy(dtype=np.float64)
    drawable = np.isfinite(c) & (c != 0) & np.isfinite(rows["alpha"].to_numpy(float))
    rows = rows[drawable]

    # The line and its delta-method variance in log space, per grid size.
    grid = np.geomspace(k_min, k_max, n_grid)
    log_k = np.log(grid)[None, :]
    c = rows["c"].to_numpy(dtype=np.float64)[:, None]
    alpha = rows["alpha"].to_numpy(dtype=np.float64)[:, None]
    log_fit = np.log(np.abs(c)) - alpha * log_k
    c_se, alpha_se, cov = (
        np.nan_to_num(_column(rows, name), nan=0.0)[:, None]
        for name in ("c_se", "alpha_se", "c_alpha_cov")
    )
    variance = (c_se / c) ** 2 - 2 * log_k * cov / c + (log_k * alpha_se) ** 2
    half = BAND_Z * np.sqrt(np.clip(variance, 0.0, None))
    # An early fit can have a band of many decades; beyond 100x it says
    # nothing more and would only squash the axis.
    half = np.minimum(half, _MAX_LOG_HALF_WIDTH)

    n_rows = len(rows)
    return pd.DataFrame(
        {
            "point": np.repeat(np.asarray(rows.index, dtype=object), n_grid),
            "k": np.tile(grid, n_rows),
            "fit": np.exp(log_fit).ravel(),
            "lower": np.exp(log_fit - half).ravel(),
            "upper": np.exp(log_fit + half).ravel(),
        }
    )


def _fitted(laws: pd.DataFrame) -> pd.DataFrame:
    """The laws that were fitted: flagged neither too few nor constant."""
    if "flag" not in laws:
        return laws
    return laws[~laws["flag"].isin(UNFITTED_FLAGS)]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A float column, or NaN when the frame lacks it."""
    if name not in frame:
        return np.full(len(frame), np.nan)
    values: np.ndarray = frame[name].to_numpy(dtype=np.float64)
    return values


def laws_frame(
    laws: pd.DataFrame, max_rows: int | None = None, keep: Iterable[str] = ()
) -> pd.DataFrame:
    """The laws as plain columns for the distribution panels.

    Parameters
    ----------
    laws : DataFrame
        From ``Study.laws()``: indexed by point, with ``c`` and ``alpha``
        and optionally ``flag``.
    max_rows : int, optional
        Keep at most this many points, evenly spread over the ranking by
        ``alpha`` (the points in ``keep`` always stay).
    keep : iterable of str
        Points never dropped by ``max_rows``.

    Returns
    -------
    DataFrame
        RangeIndex, columns ``point`` (str), ``alpha``, ``c``, ``abs_c``
        (float64) and ``flag`` (str, ``"ok"`` when the fit is fine). Points
        whose ``alpha`` or ``c`` is not finite, whose ``c`` is zero, or
        that were not fitted (``UNFITTED_FLAGS``) are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> laws = pd.DataFrame({"c": [1.0, -2.0, float("nan")],
    ...                      "alpha": [0.5, 1.0, 1.0]})
    >>> laws_frame(laws)[["point", "abs_c"]].to_dict("list")
    {'point': ['0', '1'], 'abs_c': [1.0, 2.0]}
    """
    laws = _fitted(laws)
    c = laws["c"].to_numpy(dtype=np.float64)
    alpha = laws["alpha"].to_numpy(dtype=np.float64)
    flag = laws["flag"] if "flag" in laws else pd.Series("ok", index=laws.index)
    frame = pd.DataFrame(
        {
            "point": np.array([point_key(label) for label in laws.index], dtype=object),
            "alpha": alpha,
            "c": c,
            "abs_c": np.abs(c),
            "flag": flag.fillna("ok").astype(str).to_numpy(),
        }
    )
    frame = frame[np.isfinite(alpha) & np.isfinite(c) & (c != 0)]
    if max_rows is not None and len(frame) > max_rows:
        order = frame.sort_values("alpha", kind="stable")
        spread = np.unique(np.linspace(0, len(order) - 1, max_rows).round().astype(int))
        kept = order.iloc[spread]
        pinned = order[order["point"].isin(set(keep)) & ~order.index.isin(kept.index)]
        frame = pd.concat([kept, pinned]).sort_index()
    return frame.reset_index(drop=True)


def spanning_points(laws: pd.DataFrame, n: int) -> list[Any]:
    """Points whose ``alpha`` spans the distribution, from low to high.

    Parameters
    ----------
    laws : DataFrame
        From ``Study.laws()``.
    n : int
        How many points.

    Returns
    -------
    list
        Up to ``n`` point labels (the laws' index values) at evenly spaced
        quantiles of ``alpha`` among the usable fits: finite, non-zero
        ``c`` and, when a ``flag`` column exists, flagged ``"ok"``.

    Examples
    --------
    >>> import pandas as pd
    >>> laws = pd.DataFrame({"c": [1.0] * 5, "alpha": [0.1, 0.9, 0.5, 0.3, 0.7]},
    ...                     index=[10, 11, 12, 13, 14])
    >>> spanning_points(laws, 3)
    [10, 12, 11]
    """
    laws = _fitted(laws)
    usable = laws[
        np.isfinite(laws["alpha"]) & np.isfinite(laws["c"]) & (laws["c"] != 0)
    ]
    if "flag" in usable and (usable["flag"] == "ok").any():
        usable = usable[usable["flag"] == "ok"]
    if usable.empty or n <= 0:
        return []
    ranked = usable.sort_values("alpha", kind="stable")
    positions = np.unique(np.linspace(0, len(ranked) - 1, n).round().astype(int))
    return list(ranked.index[positions])


def aggregate_frame(aggregate: pd.DataFrame) -> pd.DataFrame:
    """The dataset-level loss curve with error bars.

    Parameters
    ----------
    aggregate : DataFrame
        From ``Study.aggregate()``: indexed by size, columns ``loss``,
        ``loss_se`` and ``fitted``.

    Returns
    -------
    DataFrame
        RangeIndex, columns ``k``, ``loss``, ``lower``, ``upper`` and
        ``fitted`` (float64); the bars span ``BAND_Z`` standard errors.

    Examples
    --------
    >>> import pandas as pd
    >>> agg = pd.DataFrame({"loss": [0.5], "loss_se": [0.1], "fitted": [0.45]},
    ...                    index=pd.Index([100], name="size"))
    >>> aggregate_frame(agg)["upper"].round(3).tolist()
    [0.696]
    """
    se = np.nan_to_num(_column(aggregate, "loss_se"), nan=0.0)
    loss = aggregate["loss"].to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "k": np.asarray(aggregate.index, dtype=np.float64),
            "loss": loss,
            "lower": loss - BAND_Z * se,
            "upper": loss + BAND_Z * se,
            "fitted": _column(aggregate, "fitted"),
        }
    )


def recommend_rows(ranked: pd.DataFrame, digits: int = 4) -> list[dict[str, Any]]:
    """A ``recommend`` result as small JSON rows for the live table.

    Parameters
    ----------
    ranked : DataFrame
        From ``Study.recommend()``: indexed by point, columns ``rank``,
        ``score``, ``stderr``, ``c``, ``alpha`` and optionally ``label``.
    digits : int, default=4
        Significant digits kept.

    Returns
    -------
    list of dict
        One dict per row with keys ``point`` (str), ``rank`` (int),
        ``score``, ``stderr``, ``c``, ``alpha`` (float or None) and
        ``label`` (str, when present).

    Examples
    --------
    >>> import pandas as pd
    >>> ranked = pd.DataFrame({"rank": [1], "score": [0.0123456], "stderr": [0.001],
    ...                        "c": [1.5], "alpha": [0.5]}, index=[42])
    >>> recommend_rows(ranked)[0]["score"]
    0.01235
    """
    rows: list[dict[str, Any]] = []
    for label, record in zip(ranked.index, ranked.to_dict("records"), strict=True):
        row: dict[str, Any] = {"point": point_key(label)}
        row["rank"] = int(record.get("rank", len(rows) + 1))
        for name in ("score", "stderr", "c", "alpha"):
            row[name] = _rounded(record.get(name), digits)
        if "label" in record:
            row["label"] = point_key(record["label"])
        rows.append(row)
    return rows


def _rounded(value: Any, digits: int) -> float | None:
    """A float with ``digits`` significant digits; None for missing values."""
    if value is None:
        return None
    number = float(value)
    if not np.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")
