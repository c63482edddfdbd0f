"""The observation store: one SQLite file per study, append-only.

Schema (version 1)
------------------
``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``schema_version``, ``config`` (the study's configuration as JSON) and
    ``created`` (UTC timestamp).
``arrays(name TEXT PRIMARY KEY, dtype TEXT, shape TEXT, data BLOB)``
    The study's numeric data (training pool, validation split, row map) as
    raw little-endian bytes, so a reopened study can resume and audit
    without the user's variables. Never pickled.
``draws(draw INTEGER PRIMARY KEY, point INTEGER, size INTEGER, seed INTEGER)``
    One row per executed draw: the subset ``D`` of ``size`` rows drawn with
    ``seed`` from the pool without ``point`` (a row position in the user's
    ``X``; NULL for a draw from the whole pool).
``observations(draw, point, size, delta, loss_without, loss_with)``
    One row per marginal contribution; primary key ``(draw, point)``, so a
    retried task can never add the same observation twice.
``failures(draw, point, size, reason)``
    Fits that failed, with a one-line reason; same key.

Every batch of results is written in one transaction, so a crash leaves the
file at a batch boundary. Files use WAL journaling; ``synchronous=NORMAL``
keeps committed batches across a killed process. All SQL is parameterised
and nothing read from a store is ever executed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from nbscale.exceptions import StoreError

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

SCHEMA_VERSION = 1

_TABLES = {
    "meta": "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "arrays": (
        "CREATE TABLE IF NOT EXISTS arrays (name TEXT PRIMARY KEY, dtype TEXT "
        "NOT NULL, shape TEXT NOT NULL, data BLOB NOT NULL)"
    ),
    "draws": (
        "CREATE TABLE IF NOT EXISTS draws (draw INTEGER PRIMARY KEY, point "
        "INTEGER, size INTEGER NOT NULL, seed INTEGER NOT NULL)"
    ),
    "observations": (
        "CREATE TABLE IF NOT EXISTS observations (draw INTEGER NOT NULL, point "
        "INTEGER NOT NULL, size INTEGER NOT NULL, delta REAL NOT NULL, "
        "loss_without REAL NOT NULL, loss_with REAL NOT NULL, "
        "PRIMARY KEY (draw, point)) WITHOUT ROWID"
    ),
    "failures": (
        "CREATE TABLE IF NOT EXISTS failures (draw INTEGER NOT NULL, point "
        "INTEGER NOT NULL, size INTEGER NOT NULL, reason TEXT NOT NULL, "
        "PRIMARY KEY (draw, point)) WITHOUT ROWID"
    ),
}
_ALLOWED_DTYPES = ("<f8", "<i8", "|b1")
_OBSERVATION_COLUMNS = ("draw", "point", "size", "delta", "loss_without", "loss_with")


class SQLiteStore:
    """An SQLite file (or memory) holding one study's observations.

    Parameters
    ----------
    path : str or None
        A file path, or None / ``":memory:"`` for a store that lives only
        as long as this object.
    create : bool, default=True
        Create the file and its tables when missing. With False a missing
        file raises :class:`~nbscale.StoreError`.

    Notes
    -----
    One connection serves all threads, guarded by a lock; only the study's
    driver thread writes. Other processes may read the file at any time.

    Examples
    --------
    >>> store = SQLiteStore(None)
    >>> store.write_config({"samples": 3})
    >>> store.read_config()
    {'samples': 3}
    >>> store.counts()
    (0, 0)
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, create: bool = True):
        self.path = None if path in (None, ":memory:") else os.fspath(path)  # type: ignore[arg-type]
        self._lock = threading.RLock()
        if self.path is not None and not create and not os.path.exists(self.path):
            raise StoreError(f"path: no store at {self.path!r}")
        self._connection = self._connect()
        self._check_or_create(create)
        self._n_observations, self._n_failures = self._count()

    # ----------------------------------------------------------------- setup
    def _connect(self) -> sqlite3.Connection:
        """Open the connection with safe, crash-tolerant settings."""
        target = self.path if self.path is not None else ":memory:"
        if self.path is not None:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
        try:
            connection = sqlite3.connect(
                target, check_same_thread=False, isolation_level=None, timeout=30
            )
            if self.path is not None:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"path: {self.path!r} is not a readable nbscale store ({err})"
            ) from err
        return connection

    def _check_or_create(self, create: bool) -> None:
        """Validate an existing store, or lay out a new one."""
        try:
            names = {
                row[0]
                for row in self._connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"path: {self.path!r} is not a readable nbscale store ({err}); "
                f"the file may be truncated or not SQLite at all"
            ) from err

        if not names:
            if not create:
                raise StoreError(f"path: {self.path!r} holds no nbscale study")
            with self.transaction() as cursor:
                for statement in _TABLES.values():
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)",
                    ("schema_version", str(SCHEMA_VERSION), "created", _now()),
                )
            return

        missing = sorted(set(_TABLES) - names)
        if missing:
            raise StoreError(
                f"path: {self.path!r} is not an nbscale store: tables {missing!r} "
                f"are missing"
            )
        version = self._meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"path: {self.path!r} has schema version {version!r}, but this "
                f"nbscale reads version {SCHEMA_VERSION}; open it with the "
                f"nbscale release that wrote it"
            )

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM meta WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One atomic write: everything inside commits, or nothing does."""
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; the file stays readable by others."""
        with self._lock:
            self._connection.close()

    # ---------------------------------------------------------------- config
    def write_config(self, config: dict[str, Any]) -> None:
        """Store the study's configuration as JSON (replacing any earlier)."""
        text = json.dumps(config, sort_keys=True, allow_nan=False)
        with self.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                ("config", text),
            )

    def read_config_or_none(self) -> dict[str, Any] | None:
        """The stored configuration, or None for a fresh store."""
        if self._meta("config") is None:
            return None
        return self.read_config()

    def read_config(self) -> dict[str, Any]:
        """The configuration written by :meth:`write_config`."""
        text = self._meta("config")
        if text is None:
            raise StoreError(f"path: {self.path!r} holds no study configuration")
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise StoreError(
                f"path: the configuration in {self.path!r} is not valid JSON"
            ) from err
        if not isinstance(config, dict):
            raise StoreError(
                f"path: the configuration in {self.path!r} is not a JSON object"
            )
        return config

    def write_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Store numeric arrays as raw bytes with their dtype and shape."""
        rows = []
        for name, array in arrays.items():
            data = np.ascontiguousarray(array)
            data = data.astype(data.dtype.newbyteorder("<"), copy=False)
            if data.dtype.str not in _ALLOWED_DTYPES:
                raise TypeError(f"arrays: {name!r} has unsupported dtype {data.dtype}")
            shape = json.dumps(list(data.shape))
            rows.append((name, data.dtype.str, shape, data.tobytes()))
        with self.transaction() as cursor:
            cursor.executemany(
                "INSERT OR REPLACE INTO arrays (name, dtype, shape, data) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    def read_arrays(self) -> dict[str, np.ndarray]:
        """The arrays written by :meth:`write_arrays`, checked."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT name, dtype, shape, data FROM arrays"
            ).fetchall()
        arrays = {}
        for name, dtype, shape_text, blob in rows:
            try:
                shape = tuple(int(n) for n in json.loads(shape_text))
                if dtype not in _ALLOWED_DTYPES or not isinstance(blob, bytes):
                    raise ValueError(f"dtype {dtype!r}")
                array = np.frombuffer(blob, dtype=np.dtype(dtype)).reshape(shape)
            except (TypeError, ValueError, json.JSONDecodeError) as err:
                raise StoreError(
                    f"path: array {name!r} in {self.path!r} is damaged ({err})"
                ) from err
            arrays[str(name)] = array.copy()
        return arrays

    # ---------------------------------------------------------- observations
    def append(
        self,
        draws: list[tuple[int, int | None, int, int]],
        observations: list[tuple[int, int, int, float, float, float]],
        failures: list[tuple[int, int, int, str]],
    ) -> tuple[int, int]:
        """Commit one batch atomically; duplicates are ignored.

        Parameters
        ----------
        draws : list of (draw, point or None, size, seed)
        observations : list of (draw, point, size, delta, loss_without, loss_with)
        failures : list of (draw, point, size, reason)

        Returns
        -------
        tuple of int
            Observations and failures actually added (duplicates of rows
            already stored are not counted).
        """
        with self.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO draws (draw, point, size, seed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (draw) DO NOTHING",
                draws,
            )
            before = self._connection.total_changes
            cursor.executemany(
                "INSERT INTO observations (draw, point, size, delta, "
                "loss_without, loss_with) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (draw, point) DO NOTHING",
                observations,
            )
            added_observations = self._connection.total_changes - before
            before = self._connection.total_changes
            cursor.executemany(
                "INSERT INTO failures (draw, point, size, reason) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (draw, point) DO NOTHING",
                failures,
            )
            added_failures = self._connection.total_changes - before
        self._n_observations += added_observations
        self._n_failures += added_failures
        return added_observations, added_failures

    def _count(self) -> tuple[int, int]:
        with self._lock:
            n_obs = self._connection.execute(
                "SELECT COUNT(*) FROM observations"
            ).fetchone()[0]
            n_fail = self._connection.execute(
                "SELECT COUNT(*) FROM failures"
            ).fetchone()[0]
        return int(n_obs), int(n_fail)

    def counts(self) -> tuple[int, int]:
        """Committed observations and failures."""
        return self._n_observations, self._n_failures

    def done_draws(self) -> np.ndarray:
        """Ids of every draw with a committed observation or failure."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT draw FROM observations UNION SELECT draw FROM failures"
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def observations(self) -> pd.DataFrame:
        """Every committed observation, ordered by draw and point."""
        with self._lock:
            frame = pd.read_sql_query(
                "SELECT draw, point, size, delta, loss_without, loss_with "
                "FROM observations ORDER BY draw, point",
                self._connection,
            )
        return _checked(frame, self.path)

    def failures(self) -> pd.DataFrame:
        """Every recorded failure: draw, point, size and reason."""
        with self._lock:
            return pd.read_sql_query(
                "SELECT draw, point, size, reason FROM failures ORDER BY draw, point",
                self._connection,
            )

    def draw(self, draw: int) -> tuple[int | None, int, int] | None:
        """``(point, size, seed)`` of a stored draw, or None if unknown."""
        with self._lock:
            row = self._connection.execute(
                "SELECT point, size, seed FROM draws WHERE draw = ?", (int(draw),)
            ).fetchone()
        if row is None:
            return None
        return (None if row[0] is None else int(row[0]), int(row[1]), int(row[2]))


def _checked(frame: pd.DataFrame, path: str | None) -> pd.DataFrame:
    """Coerce stored observations to their dtypes, or raise StoreError."""
    try:
        for column in ("draw", "point", "size"):
            frame[column] = frame[column].astype(np.int64)
        for column in ("delta", "loss_without", "loss_with"):
            frame[column] = frame[column].astype(np.float64)
    except (TypeError, ValueError) as err:
        raise StoreError(
            f"path: observations in {path!r} hold values of the wrong type ({err})"
        ) from err
    if len(frame) and not np.isfinite(frame["delta"].to_numpy()).all():
        raise StoreError(f"path: observations in {path!r} hold non-finite deltas")
    return frame


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
