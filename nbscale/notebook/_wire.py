"""How dashboard data travel from the kernel to the browser.

A data change names a Vega view and one of its datasets, says how to
apply the rows (``insert`` new rows, ``replace`` the dataset, or
``upsert`` rows by a key) and describes each column. Numeric columns go
as little-endian float64 binary buffers next to the JSON message, so a
batch of observations never passes through JSON; text columns (point
names, flags) go as JSON lists. The front-end (``widgets/dashboard.js``,
``decodeRows``) turns both back into row objects for ``view.change``.

The snapshot kept in the widget's state uses the same column layout with
every column as a JSON list, rounded, so that a saved notebook redraws
without a kernel.

:class:`Throttle` holds the update rate down: the dashboard flushes
whatever accumulated at most ``rate`` times a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Throttle", "data_change", "json_columns"]

logger = logging.getLogger(__name__)

Mode = Literal["insert", "replace", "upsert"]


def data_change(
    view: str,
    dataset: str,
    frame: pd.DataFrame,
    buffers: list[memoryview],
    *,
    mode: Mode = "insert",
    key: Sequence[str] = (),
) -> dict[str, Any]:
    """Describe one dataset change, appending its numeric columns to buffers.

    Parameters
    ----------
    view : str
        The dashboard view (``"curves"``, ``"laws"``, ``"aggregate"``).
    dataset : str
        The named Vega dataset in that view.
    frame : DataFrame
        The rows; numeric columns are sent as float64 (NaN becomes null
        in the browser), other columns as strings.
    buffers : list of memoryview
        The message's binary buffers; this function appends to it.
    mode : {"insert", "replace", "upsert"}, default="insert"
        ``upsert`` removes the rows whose ``key`` columns match an incoming
        row before inserting.
    key : sequence of str
        Key columns for ``upsert``.

    Returns
    -------
    dict
        JSON-ready description: ``view``, ``data``, ``mode``, ``key``,
        ``rows`` and ``columns`` (each ``{"name", "buffer"}`` or
        ``{"name", "values"}``).

    Examples
    --------
    >>> import pandas as pd
    >>> buffers = []
    >>> frame = pd.DataFrame({"point": ["3"], "k": [10.0]})
    >>> change = data_change("curves", "cloud", frame, buffers)
    >>> change["columns"], len(buffers), buffers[0].nbytes
    ([{'name': 'point', 'values': ['3']}, {'name': 'k', 'buffer': 0}], 1, 8)
    """
    columns = []
    for name in frame.columns:
        series = frame[name]
        if _is_number(series):
            values = np.ascontiguousarray(series.to_numpy(dtype="<f8"))
            columns.append({"name": str(name), "buffer": len(buffers)})
            buffers.append(memoryview(values.tobytes()))
        else:
            columns.append({"name": str(name), "values": series.astype(str).tolist()})
    return {
        "view": view,
        "data": dataset,
        "mode": mode,
        "key": list(key),
        "rows": len(frame),
        "columns": columns,
    }


def json_columns(frame: pd.DataFrame, digits: int = 4) -> dict[str, Any]:
    """A frame as JSON columns, rounded, for the widget's snapshot.

    Parameters
    ----------
    frame : DataFrame
        Any frame of numbers and strings.
    digits : int, default=4
        Significant digits kept for floats.

    Returns
    -------
    dict
        ``{"rows": n, "columns": [{"name", "values"}, ...]}``; missing and
        infinite numbers become None.

    Examples
    --------
    >>> import pandas as pd
    >>> json_columns(pd.DataFrame({"k": [1.23456, float("nan")]}))
    {'rows': 2, 'columns': [{'name': 'k', 'values': [1.235, None]}]}
    """
    columns = []
    for name in frame.columns:
        series = frame[name]
        if _is_number(series):
            numbers = series.to_numpy(dtype=np.float64)
            values = [
                float(f"{number:.{digits}g}") if np.isfinite(number) else None
                for number in numbers
            ]
        else:
            values = series.astype(str).tolist()
        columns.append({"name": str(name), "values": values})
    return {"rows": len(frame), "columns": columns}


def _is_number(series: pd.Series) -> bool:
    """Numeric and not boolean: sent as float64."""
    dtypes = pd.api.types
    return bool(dtypes.is_numeric_dtype(series) and not dtypes.is_bool_dtype(series))


class Throttle:
    """Allow an action at most ``rate`` times a second.

    Parameters
    ----------
    rate : float
        Maximum actions per second, > 0.
    clock : callable, optional
        Returns seconds; default :func:`time.monotonic`. Tests pass a fake.

    Examples
    --------
    >>> now = [0.0]
    >>> throttle = Throttle(4.0, clock=lambda: now[0])
    >>> throttle.ready()
    True
    >>> throttle.mark()
    >>> throttle.ready(), throttle.wait_time()
    (False, 0.25)
    >>> now[0] = 0.25
    >>> throttle.ready()
    True
    """

    def __init__(self, rate: float, clock: Callable[[], float] | None = None) -> None:
        self.interval = 1.0 / rate
        self._clock = clock or time.monotonic
        self._last: float | None = None

    def ready(self) -> bool:
        """Whether enough time passed since the last :meth:`mark`."""
        return self.wait_time() <= 0.0

    def wait_time(self) -> float:
        """Seconds until :meth:`ready` turns true (0 when it is)."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.interval - self._clock())

    def mark(self) -> None:
        """Record that the action happened now."""
        self._last = self._clock()
