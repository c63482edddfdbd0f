"""The message format between kernel and browser, and the throttle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbscale.notebook._wire import Throttle, data_change, json_columns


def decode(change: dict, buffers: list[memoryview]) -> pd.DataFrame:
    """What widgets/dashboard.js decodeRows does, in Python."""
    columns = {}
    for column in change["columns"]:
        if "values" in column:
            columns[column["name"]] = column["values"]
        else:
            columns[column["name"]] = np.frombuffer(
                buffers[column["buffer"]], dtype="<f8"
            )
    return pd.DataFrame(columns)


def test_numeric_columns_travel_as_float64_buffers() -> None:
    frame = pd.DataFrame(
        {
            "point": ["a", "b", "c"],
            "k": np.array([1, 2, 3], dtype=np.int64),
            "value": [0.5, np.nan, -np.inf],
        }
    )
    buffers: list[memoryview] = []
    change = data_change(
        "curves", "cloud", frame, buffers, mode="upsert", key=["point"]
    )
    assert (
        change["rows"] == 3
        and change["mode"] == "upsert"
        and change["key"] == ["point"]
    )
    assert len(buffers) == 2
    assert all(buffer.nbytes == 3 * 8 for buffer in buffers)

    decoded = decode(change, buffers)
    assert decoded["point"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(decoded["k"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(decoded["value"], [0.5, np.nan, -np.inf])


def test_buffers_accumulate_across_changes() -> None:
    buffers: list[memoryview] = []
    first = data_change("a", "x", pd.DataFrame({"u": [1.0]}), buffers)
    second = data_change("a", "y", pd.DataFrame({"v": [2.0, 3.0]}), buffers)
    assert first["columns"][0]["buffer"] == 0
    assert second["columns"][0]["buffer"] == 1
    assert decode(second, buffers)["v"].tolist() == [2.0, 3.0]


def test_empty_frames_are_valid_changes() -> None:
    buffers: list[memoryview] = []
    frame = pd.DataFrame({"point": pd.Series([], dtype=object), "k": []})
    change = data_change("curves", "fit", frame, buffers, mode="replace")
    assert change["rows"] == 0
    assert decode(change, buffers).empty


def test_json_columns_round_and_drop_non_finite_numbers() -> None:
    frame = pd.DataFrame({"name": ["x", "y"], "value": [1 / 3, np.inf]})
    assert json_columns(frame, digits=3) == {
        "rows": 2,
        "columns": [
            {"name": "name", "values": ["x", "y"]},
            {"name": "value", "values": [0.333, None]},
        ],
    }


def test_throttle_allows_one_action_per_interval() -> None:
    now = [100.0]
    throttle = Throttle(4.0, clock=lambda: now[0])
    allowed = 0
    for _ in range(400):  # 4 simulated seconds in 10 ms steps
        if throttle.ready():
            throttle.mark()
            allowed += 1
        now[0] += 0.01
    assert allowed == pytest.approx(16, abs=1)
