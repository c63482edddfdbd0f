"""The SQLite store: schema, atomic batches, hostile files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from nbscale.exceptions import StoreError
from nbscale.store import SQLiteStore


def _batch(first: int, n: int):
    draws = [(d, 3, 10, 1000 + d) for d in range(first, first + n)]
    observations = [
        (d, 3, 10, 0.1 * d, 1.0, 1.0 - 0.1 * d) for d in range(first, first + n)
    ]
    return draws, observations, []


def test_append_counts_and_reads_back(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "s.nbscale")
    store.write_config({"a": 1})
    assert store.append(*_batch(0, 5)) == (5, 0)
    frame = store.observations()
    assert frame["draw"].tolist() == [0, 1, 2, 3, 4]
    assert frame["delta"].dtype == np.float64
    assert store.draw(2) == (3, 10, 1002)
    assert store.draw(99) is None


def test_duplicates_are_ignored(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "s.nbscale")
    store.append(*_batch(0, 5))
    assert store.append(*_batch(3, 5)) == (3, 0)
    assert store.counts() == (8, 0)
    assert len(store.observations()) == 8


def test_reopen_sees_committed_rows_and_wal_mode(tmp_path) -> None:
    path = tmp_path / "s.nbscale"
    store = SQLiteStore(path)
    store.append(*_batch(0, 4))
    reopened = SQLiteStore(path, create=False)
    assert reopened.counts() == (4, 0)
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_failed_batch_leaves_store_unchanged(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "s.nbscale")
    store.append(*_batch(0, 2))
    draws, observations, _ = _batch(10, 3)
    observations[-1] = (12, 3, 10, None, 1.0, 1.0)  # NOT NULL violation
    with pytest.raises(sqlite3.IntegrityError):
        store.append(draws, observations, [])
    assert store.counts() == (2, 0)
    assert len(store.observations()) == 2
    assert store.draw(10) is None


def test_arrays_round_trip_without_pickle(tmp_path) -> None:
    store = SQLiteStore(tmp_path / "s.nbscale")
    arrays = {"X": np.arange(6.0).reshape(2, 3), "y": np.array([1, 2])}
    store.write_arrays(arrays)
    back = SQLiteStore(tmp_path / "s.nbscale").read_arrays()
    assert np.array_equal(back["X"], arrays["X"]) and back["y"].dtype == np.int64
    with pytest.raises(TypeError, match="unsupported dtype"):
        store.write_arrays({"bad": np.array(["a"], dtype=object)})


def test_truncated_file_gives_store_error(tmp_path) -> None:
    path = tmp_path / "s.nbscale"
    store = SQLiteStore(path)
    store.write_config({"a": 1})
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[:50])
    with pytest.raises(StoreError, match=r"path: .* not a readable nbscale store"):
        SQLiteStore(path, create=False)


def test_foreign_sqlite_file_gives_store_error(tmp_path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE people (name TEXT)")
    connection.commit()
    with pytest.raises(StoreError, match="not an nbscale store"):
        SQLiteStore(path, create=False)


def test_wrong_schema_version_gives_store_error(tmp_path) -> None:
    path = tmp_path / "s.nbscale"
    SQLiteStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.commit()
    with pytest.raises(StoreError, match="schema version '99'"):
        SQLiteStore(path, create=False)


def test_rows_of_wrong_type_give_store_error(tmp_path) -> None:
    path = tmp_path / "s.nbscale"
    SQLiteStore(path).append(*_batch(0, 2))
    connection = sqlite3.connect(path)
    connection.execute(
        "INSERT INTO observations VALUES (7, 3, 10, 'DROP TABLE draws', 1.0, 1.0)"
    )
    connection.commit()
    with pytest.raises(StoreError, match="wrong type"):
        SQLiteStore(path, create=False).observations()
    assert SQLiteStore(path).draw(0) is not None  # the text was never executed


def test_missing_file_with_create_false(tmp_path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        SQLiteStore(tmp_path / "absent.nbscale", create=False)
