// @ts-check
/**
 * The nbscale dashboard: the browser half of nbscale.notebook.Dashboard.
 *
 * Three Vega-Lite specs (curves, laws, aggregate) are embedded once per
 * view. From then on the kernel sends only data: "update" messages whose
 * changes name a view and one of its datasets and carry numeric columns as
 * float64 binary buffers (see nbscale/notebook/_wire.py). Each change
 * becomes one Vega changeset, so zoom and hover survive and nothing flickers.
 *
 * The `snapshot` trait holds a compact copy of the last fitted state: a
 * notebook reopened without its kernel redraws from it. A live kernel
 * answers the "ready" message this module sends after embedding with a
 * full refresh.
 *
 * This module imports nothing; the Python side prepends the vendored Vega
 * libraries as `nbscaleVendor`. The root element's `data-revision`
 * attribute counts the updates applied, for tests and curious users.
 */

const PREFIX = "[nbscale]";
const MAX_SELECTED = 8;
const SLIDER_STEPS = 1000;

/**
 * @typedef {{name: string, buffer?: number, values?: Array<string | number | null>}} Column
 * @typedef {{view: string, data: string, mode: "insert" | "replace" | "upsert",
 *   key?: string[], rows: number, columns: Column[]}} DataChange
 * @typedef {{point: string, rank: number, score: number | null,
 *   stderr: number | null, c: number | null, alpha: number | null,
 *   label?: string}} TableRow
 * @typedef {{size: number, add: TableRow[], remove: TableRow[]}} TableState
 * @typedef {{type: "update", seq?: number, changes?: DataChange[],
 *   table?: TableState}} UpdateMessage
 * @typedef {Record<string, Record<string, {rows: number,
 *   columns: Column[]}>>} SnapshotData
 * @typedef {{n_observations?: number, n_target?: number, n_failures?: number,
 *   n_points?: number, n_points_covered?: number, rate?: number,
 *   eta_seconds?: number | null, elapsed?: number, running?: boolean,
 *   paused?: boolean}} Progress
 */

/**
 * Numbers from one little-endian float64 buffer.
 * @param {WireBuffer} buffer
 * @returns {number[]}
 */
export function readFloats(buffer) {
  const bytes = ArrayBuffer.isView(buffer)
    ? new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new DataView(buffer);
  const count = Math.floor(bytes.byteLength / 8);
  const numbers = new Array(count);
  for (let i = 0; i < count; i++) {
    numbers[i] = bytes.getFloat64(8 * i, true);
  }
  return numbers;
}

/**
 * Row objects from a change's columns; NaN and infinities become null.
 * @param {{rows: number, columns: Column[]}} change
 * @param {WireBuffer[]} [buffers]
 * @returns {Record<string, string | number | null>[]}
 */
export function decodeRows(change, buffers = []) {
  /** @type {Array<[string, Array<string | number | null>]>} */
  const columns = change.columns.map((column) => {
    if (column.values) {
      return [column.name, column.values];
    }
    const buffer = buffers[column.buffer ?? -1];
    if (buffer === undefined) {
      throw new Error(`column ${column.name} refers to a missing buffer`);
    }
    return [column.name, readFloats(buffer)];
  });
  const rows = new Array(change.rows);
  for (let i = 0; i < change.rows; i++) {
    /** @type {Record<string, string | number | null>} */
    const row = {};
    for (const [name, values] of columns) {
      const value = values[i];
      row[name] = typeof value === "number" && !Number.isFinite(value) ? null : value;
    }
    rows[i] = row;
  }
  return rows;
}

/**
 * Apply one change to a Vega view (call `runAsync` afterwards).
 * @param {VegaView} view
 * @param {DataChange} change
 * @param {Record<string, unknown>[]} rows
 */
export function applyChange(view, change, rows) {
  const changes = view.changeset();
  if (change.mode === "replace") {
    changes.remove(() => true);
  } else if (change.mode === "upsert") {
    const key = change.key ?? [];
    /** @param {Record<string, unknown>} row */
    const keyOf = (row) => key.map((name) => String(row[name])).join("\u0000");
    const incoming = new Set(rows.map(keyOf));
    changes.remove((datum) => incoming.has(keyOf(datum)));
  }
  changes.insert(rows);
  view.change(change.data, changes);
}

/**
 * Point names typed by the user: commas or spaces between them.
 * @param {string} text
 * @returns {string[]}
 */
export function parsePoints(text) {
  const names = text.split(/[\s,;]+/).filter((name) => name.length > 0);
  return [...new Set(names)].slice(0, MAX_SELECTED);
}

/**
 * Add a point to the selection, or take it out if it is there.
 * @param {string[]} selected
 * @param {string} point
 * @returns {string[]}
 */
export function togglePoint(selected, point) {
  if (selected.includes(point)) {
    return selected.filter((name) => name !== point);
  }
  return [...selected, point].slice(-MAX_SELECTED);
}

/**
 * The size a log-scaled slider position stands for, and back.
 * @param {number} position in [0, SLIDER_STEPS]
 * @param {[number, number]} sizes
 * @returns {number}
 */
export function sliderSize(position, [kMin, kMax]) {
  const t = position / SLIDER_STEPS;
  return Math.round(Math.exp(Math.log(kMin) + t * (Math.log(kMax) - Math.log(kMin))));
}

/**
 * @param {number} size
 * @param {[number, number]} sizes
 * @returns {number}
 */
export function sliderPosition(size, [kMin, kMax]) {
  if (kMax <= kMin) {
    return 0;
  }
  const t = (Math.log(size) - Math.log(kMin)) / (Math.log(kMax) - Math.log(kMin));
  return Math.round(Math.min(1, Math.max(0, t)) * SLIDER_STEPS);
}

/**
 * A duration for people: "45 s", "12 min", "3.5 h".
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) {
    return "–";
  }
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * One line of progress, and the state word.
 * @param {Progress} progress
 * @returns {{text: string, state: string, fraction: number}}
 */
export function describeProgress(progress) {
  const count = (/** @type {number | undefined} */ value) =>
    (value ?? 0).toLocaleString("en-US");
  const done = progress.n_observations ?? 0;
  const target = progress.n_target ?? 0;
  const parts = [
    `${count(done)} / ${count(target)} observations`,
    `${count(progress.n_points_covered)} / ${count(progress.n_points)} points`,
    `${(progress.rate ?? 0).toFixed(1)} obs/s`,
    `${formatDuration(progress.eta_seconds)} left`,
    `${count(progress.n_failures)} failures`,
  ];
  let state = "stopped";
  if (progress.running) {
    state = progress.paused ? "paused" : "running";
  } else if (target > 0 && done + (progress.n_failures ?? 0) >= target) {
    state = "done";
  }
  const fraction = target > 0 ? Math.min(1, done / target) : 0;
  return { text: parts.join(" · "), state, fraction };
}

/**
 * Create an element with attributes and children.
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {Array<Node | string>} [children]
 * @returns {HTMLElement}
 */
function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

/**
 * @param {number | null | undefined} value
 * @returns {string}
 */
function formatNumber(value) {
  return value == null ? "–" : Number(value).toPrecision(3);
}

/**
 * Render one dashboard view.
 * @param {{model: AnyModel, el: HTMLElement}} context
 * @returns {() => void} cleanup
 */
function render({ model, el }) {
  const config = model.get("config") ?? {};
  /** @type {[number, number]} */
  const sizes = config.sizes ?? [1, 1];
  /** @type {Record<string, VegaView>} */
  const views = {};
  /** @type {Array<() => void>} */
  const cleanups = [];
  let revision = 0;

  // -- layout --------------------------------------------------------------
  const stateBadge = h("span", { class: "nbscale-state" }, ["loading"]);
  /** @type {Record<string, HTMLButtonElement>} */
  const buttons = {};
  for (const action of ["pause", "resume", "stop"]) {
    const button = /** @type {HTMLButtonElement} */ (
      h("button", { type: "button", "data-action": action }, [action])
    );
    button.addEventListener("click", () => {
      model.send({ type: "command", action });
    });
    buttons[action] = button;
  }
  const barFill = h("div", { class: "nbscale-bar-fill" });
  const stats = h("div", { class: "nbscale-stats" });
  const errorBox = h("div", { class: "nbscale-error", hidden: "" });
  const pointsInput = /** @type {HTMLInputElement} */ (
    h("input", { type: "text", placeholder: "e.g. 3, 17, 250", size: "18" })
  );
  const displaySelect = /** @type {HTMLSelectElement} */ (
    h("select", {}, ["means", "cloud", "both"].map((mode) =>
      h("option", { value: mode }, [mode])))
  );
  const slider = /** @type {HTMLInputElement} */ (
    h("input", { type: "range", min: "0", max: String(SLIDER_STEPS), step: "1" })
  );
  const sizeLabel = h("output", {}, []);
  const addTable = h("table", { class: "nbscale-table", "data-table": "add" });
  const removeTable = h("table", { class: "nbscale-table", "data-table": "remove" });
  /** @type {Record<string, HTMLElement>} */
  const chartSlots = {
    curves: h("div", { class: "nbscale-chart", "data-view": "curves" }),
    laws: h("div", { class: "nbscale-chart", "data-view": "laws" }),
    aggregate: h("div", { class: "nbscale-chart", "data-view": "aggregate" }),
  };
  const root = h("div", { class: "nbscale-dashboard", "data-revision": "0" }, [
    h("div", { class: "nbscale-header" }, [
      h("span", { class: "nbscale-title" }, [`nbscale · ${config.name ?? "study"}`]),
      stateBadge,
      buttons.pause,
      buttons.resume,
      buttons.stop,
    ]),
    h("div", { class: "nbscale-bar" }, [barFill]),
    stats,
    errorBox,
    h("div", { class: "nbscale-grid" }, [
      h("section", { class: "nbscale-panel" }, [
        h("h4", {}, ["Scaling curves: |Δ| against k"]),
        h("div", { class: "nbscale-controls" }, [
          h("label", {}, ["points ", pointsInput]),
          h("label", {}, ["show ", displaySelect]),
        ]),
        chartSlots.curves,
      ]),
      h("section", { class: "nbscale-panel" }, [
        h("h4", {}, ["Aggregate loss"]),
        chartSlots.aggregate,
      ]),
      h("section", { class: "nbscale-panel nbscale-wide" }, [
        h("h4", {}, ["α and c across points (click a point to plot it)"]),
        chartSlots.laws,
      ]),
      h("section", { class: "nbscale-panel nbscale-wide" }, [
        h("h4", {}, ["Points to add or remove at size ", sizeLabel]),
        slider,
        h("div", { class: "nbscale-tables" }, [addTable, removeTable]),
      ]),
    ]),
  ]);
  el.replaceChildren(root);

  // -- errors and progress -------------------------------------------------
  /** @param {string} message */
  const showError = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = message.length === 0;
    if (message) {
      console.error(`${PREFIX} ${message}`);
    }
  };
  /** @param {unknown} error */
  const fail = (error) => {
    showError(error instanceof Error ? error.message : String(error));
  };

  const drawProgress = () => {
    const { text, state, fraction } = describeProgress(model.get("progress") ?? {});
    stats.textContent = text;
    stateBadge.textContent = state;
    root.dataset.state = state;
    barFill.style.width = `${(100 * fraction).toFixed(1)}%`;
    buttons.pause.disabled = state !== "running";
    buttons.resume.disabled = state === "running" || state === "done";
    buttons.stop.disabled = state !== "running" && state !== "paused";
  };

  // -- selection and target size -------------------------------------------
  /** @returns {string[]} */
  const selected = () => model.get("selected") ?? [];
  /** @param {string[]} points */
  const choose = (points) => {
    model.set("selected", points);
    model.save_changes();
  };
  const drawSelection = () => {
    if (document.activeElement !== pointsInput) {
      pointsInput.value = selected().join(", ");
    }
  };
  pointsInput.addEventListener("change", () => choose(parsePoints(pointsInput.value)));

  const drawTarget = () => {
    const size = model.get("target_size") || sizes[1];
    sizeLabel.textContent = String(size);
    slider.value = String(sliderPosition(size, sizes));
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let pendingTarget;
  slider.addEventListener("input", () => {
    const size = sliderSize(Number(slider.value), sizes);
    sizeLabel.textContent = String(size);
    clearTimeout(pendingTarget);
    pendingTarget = setTimeout(() => {
      model.set("target_size", size);
      model.save_changes();
    }, 200);
  });
  cleanups.push(() => clearTimeout(pendingTarget));

  /** @param {HTMLElement} table @param {string} title @param {TableRow[]} rows */
  const fillTable = (table, title, rows) => {
    const names = ["point", "score ± se", "α", "c"];
    const head = h("tr", {}, names.map((name) => h("th", {}, [name])));
    const body = rows.map((row) => {
      const line = h("tr", { "data-point": row.point }, [
        h("td", {}, [row.label ? `${row.point} (${row.label})` : row.point]),
        h("td", {}, [`${formatNumber(row.score)} ± ${formatNumber(row.stderr)}`]),
        h("td", {}, [formatNumber(row.alpha)]),
        h("td", {}, [formatNumber(row.c)]),
      ]);
      line.addEventListener("click", () => choose(togglePoint(selected(), row.point)));
      return line;
    });
    table.replaceChildren(h("caption", {}, [title]), head, ...body);
  };
  /** @param {TableState | undefined} table */
  const drawTable = (table) => {
    if (table) {
      fillTable(addTable, "most valuable", table.add ?? []);
      fillTable(removeTable, "most harmful", table.remove ?? []);
    }
  };

  // -- charts ----------------------------------------------------------------
  // The specs may follow the widget by a moment (the kernel builds them in
  // the background); embed once they are there.
  /** @type {(value: Record<string, object>) => void} */
  let gotSpecs = () => {};
  /** @type {Promise<Record<string, object>>} */
  const specsReady = new Promise((resolve) => {
    gotSpecs = resolve;
  });
  const checkSpecs = () => {
    const specs = (model.get("config") ?? {}).specs;
    if (specs) {
      gotSpecs(specs);
    }
  };
  model.on("change:config", checkSpecs);
  cleanups.push(() => model.off("change:config", checkSpecs));
  checkSpecs();

  const { vegaEmbed } = nbscaleVendor;
  const embedAll = async (/** @type {Record<string, object>} */ specs) =>
    Promise.all(Object.entries(chartSlots).map(async ([name, slot]) => {
      const spec = specs[name];
      if (!spec) {
        throw new Error(`no spec for the ${name} chart`);
      }
      const renderer = name === "laws" ? "canvas" : "svg";
      const result = await vegaEmbed(slot, spec, { actions: false, renderer, logLevel: 1 });
      views[name] = result.view;
      cleanups.push(() => result.finalize());
    }));
  const embedded = specsReady.then(embedAll).then(() => {
    views.laws.addEventListener("click", (_event, item) => {
      const point = item?.datum?.point;
      if (point != null) {
        choose(togglePoint(selected(), String(point)));
      }
    });
    displaySelect.addEventListener("change", () => {
      views.curves.signal("display", displaySelect.value).runAsync().catch(fail);
    });
    const snapshot = model.get("snapshot") ?? {};
    return applyData(snapshot.data ?? {}).then(() => {
      drawTable(snapshot.table);
      root.dataset.ready = "true";
      model.send({ type: "ready" });
    });
  });

  /** @param {SnapshotData} data */
  const applyData = async (data) => {
    for (const [viewName, datasets] of Object.entries(data)) {
      for (const [dataName, columns] of Object.entries(datasets)) {
        /** @type {DataChange} */
        const change = { view: viewName, data: dataName, mode: "replace", ...columns };
        const view = views[viewName];
        if (view) {
          applyChange(view, change, decodeRows(change));
        }
      }
    }
    await Promise.all(Object.values(views).map((view) => view.runAsync()));
  };

  /** @param {UpdateMessage} message @param {WireBuffer[]} buffers */
  const applyUpdate = async (message, buffers) => {
    const touched = new Set();
    for (const change of message.changes ?? []) {
      const view = views[change.view];
      if (!view) {
        throw new Error(`update for an unknown view ${change.view}`);
      }
      applyChange(view, change, decodeRows(change, buffers));
      touched.add(view);
    }
    await Promise.all([...touched].map((view) => view.runAsync()));
    drawTable(message.table);
    revision += 1;
    root.dataset.revision = String(revision);
  };

  // Updates queue behind the embedding and behind each other.
  let queue = embedded.catch(fail);
  /** @param {{type?: string}} message @param {WireBuffer[]} buffers */
  const onMessage = (message, buffers) => {
    if (message?.type === "update") {
      const update = /** @type {UpdateMessage} */ (message);
      queue = queue.then(() => applyUpdate(update, buffers ?? [])).catch(fail);
    }
  };
  const onError = () => showError(model.get("error") ?? "");

  model.on("msg:custom", onMessage);
  model.on("change:progress", drawProgress);
  model.on("change:selected", drawSelection);
  model.on("change:target_size", drawTarget);
  model.on("change:error", onError);
  drawProgress();
  drawSelection();
  drawTarget();
  onError();

  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:progress", drawProgress);
    model.off("change:selected", drawSelection);
    model.off("change:target_size", drawTarget);
    model.off("change:error", onError);
    for (const cleanup of cleanups) {
      cleanup();
    }
  };
}

export default { render };
