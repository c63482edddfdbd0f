// Unit tests of the dashboard's pure helpers: node --test widgets/test/
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  applyChange,
  decodeRows,
  describeProgress,
  formatDuration,
  parsePoints,
  readFloats,
  sliderPosition,
  sliderSize,
  togglePoint,
} from "../dashboard.js";

/** @param {number[]} numbers */
function float64Bytes(numbers) {
  const bytes = new ArrayBuffer(8 * numbers.length);
  const view = new DataView(bytes);
  numbers.forEach((number, i) => view.setFloat64(8 * i, number, true));
  return bytes;
}

test("readFloats reads little-endian float64 at any offset", () => {
  const padded = new Uint8Array(8 * 2 + 3);
  padded.set(new Uint8Array(float64Bytes([1.5, -2])), 3);
  assert.deepEqual(readFloats(new DataView(padded.buffer, 3, 16)), [1.5, -2]);
  assert.deepEqual(readFloats(float64Bytes([0.25])), [0.25]);
});

test("decodeRows joins buffers and JSON columns; NaN becomes null", () => {
  const change = {
    rows: 2,
    columns: [
      { name: "point", values: ["3", "9"] },
      { name: "k", buffer: 1 },
    ],
  };
  const rows = decodeRows(change, [float64Bytes([7]), float64Bytes([10, Number.NaN])]);
  assert.deepEqual(rows, [
    { point: "3", k: 10 },
    { point: "9", k: null },
  ]);
  const dangling = { rows: 1, columns: [{ name: "x", buffer: 4 }] };
  assert.throws(() => decodeRows(dangling, []), /missing buffer/);
});

/** A stand-in for a Vega view holding one dataset. */
function fakeView(/** @type {Record<string, unknown>[]} */ initial) {
  let data = initial.slice();
  return {
    data: () => data,
    changeset() {
      /** @type {(d: Record<string, unknown>) => boolean} */
      let drop = () => false;
      /** @type {Record<string, unknown>[]} */
      let added = [];
      const changes = {
        remove(/** @type {(d: Record<string, unknown>) => boolean} */ predicate) {
          drop = predicate;
          return changes;
        },
        insert(/** @type {Record<string, unknown>[]} */ rows) {
          added = rows;
          return changes;
        },
        apply() {
          data = data.filter((d) => !drop(d)).concat(added);
        },
      };
      return changes;
    },
    change(/** @type {string} */ _name, /** @type {{apply(): void}} */ changes) {
      changes.apply();
    },
  };
}

test("applyChange inserts, replaces and upserts by key", () => {
  const view = fakeView([{ point: "1", bin: 0, v: 1 }, { point: "1", bin: 1, v: 2 }]);
  const apply = (/** @type {any} */ change, /** @type {any[]} */ rows) =>
    applyChange(/** @type {any} */ (view), change, rows);

  apply({ data: "means", mode: "upsert", key: ["point", "bin"] }, [{ point: "1", bin: 1, v: 5 }]);
  assert.deepEqual(view.data(), [{ point: "1", bin: 0, v: 1 }, { point: "1", bin: 1, v: 5 }]);

  apply({ data: "means", mode: "insert" }, [{ point: "2", bin: 0, v: 3 }]);
  assert.equal(view.data().length, 3);

  apply({ data: "means", mode: "replace" }, [{ point: "9", bin: 0, v: 0 }]);
  assert.deepEqual(view.data(), [{ point: "9", bin: 0, v: 0 }]);
});

test("points typed by the user and toggled by clicks", () => {
  assert.deepEqual(parsePoints(" 3, 17 250;3 "), ["3", "17", "250"]);
  assert.deepEqual(togglePoint(["1", "2"], "2"), ["1"]);
  assert.deepEqual(togglePoint(["1"], "5"), ["1", "5"]);
  const many = ["a", "b", "c", "d", "e", "f", "g", "h"];
  assert.deepEqual(togglePoint(many, "z"), [...many.slice(1), "z"]);
});

test("the size slider is logarithmic and round-trips", () => {
  /** @type {[number, number]} */
  const sizes = [100, 10000];
  assert.equal(sliderSize(0, sizes), 100);
  assert.equal(sliderSize(1000, sizes), 10000);
  assert.equal(sliderSize(500, sizes), 1000);
  assert.equal(sliderPosition(1000, sizes), 500);
  assert.equal(sliderPosition(5, sizes), 0);
  assert.equal(sliderPosition(7, [7, 7]), 0);
});

test("progress reads like a sentence and knows the state", () => {
  const running = describeProgress({
    n_observations: 1500, n_target: 3000, n_failures: 2, n_points: 30,
    n_points_covered: 12, rate: 12.345, eta_seconds: 125, running: true, paused: false,
  });
  assert.equal(running.state, "running");
  assert.equal(running.fraction, 0.5);
  assert.equal(
    running.text,
    "1,500 / 3,000 observations · 12 / 30 points · 12.3 obs/s · 2 min left · 2 failures",
  );
  assert.equal(describeProgress({ running: true, paused: true }).state, "paused");
  assert.equal(describeProgress({ n_observations: 5, n_target: 5 }).state, "done");
  assert.equal(describeProgress({}).state, "stopped");
  assert.equal(formatDuration(null), "–");
  assert.equal(formatDuration(7200), "2.0 h");
});
