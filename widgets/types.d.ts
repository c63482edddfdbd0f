// Types of what dashboard.js receives from outside: the vendored Vega
// libraries (nbscale/notebook/_bundle.py defines `nbscaleVendor` in front of
// the module) and the anywidget model.

interface VegaChangeset {
  insert(rows: object[]): VegaChangeset;
  remove(predicate: (datum: Record<string, unknown>) => boolean): VegaChangeset;
}

interface VegaItem {
  datum?: Record<string, unknown>;
}

interface VegaView {
  changeset(): VegaChangeset;
  change(name: string, changes: VegaChangeset): VegaView;
  data(name: string): Record<string, unknown>[];
  signal(name: string, value: unknown): VegaView;
  runAsync(): Promise<VegaView>;
  addEventListener(
    type: string,
    handler: (event: Event, item: VegaItem | null | undefined) => void,
  ): VegaView;
  finalize(): VegaView;
}

interface VegaEmbedResult {
  view: VegaView;
  finalize(): void;
}

type VegaEmbed = (
  element: HTMLElement,
  spec: object,
  options?: object,
) => Promise<VegaEmbedResult>;

declare const nbscaleVendor: { vegaEmbed: VegaEmbed };

type WireBuffer = ArrayBuffer | ArrayBufferView;

interface AnyModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event: string, callback?: (...args: any[]) => void): void;
  send(content: object, callbacks?: unknown, buffers?: WireBuffer[]): void;
}
