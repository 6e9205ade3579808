// Turns a results file of the benchmark suite into docs/performance.md, with hand-made SVG bar
// charts in docs/img/. Usage: deno run --allow-read --allow-write bench/report.ts [results.json]
import type { BoundsCheckResults } from "./bounds_checks.ts";
import { geomean } from "./layers.ts";

/** Flavours the suite measures. */
export type BenchFlavour = "relaxed" | "simd" | "scalar";

/** Where and with what the suite ran. */
export interface HostInfo {
  /** Host name (or "unknown"). */
  readonly hostname: string;
  /** `Deno.build.os` / `Deno.build.arch`. */
  readonly os: string;
  /** Kernel release, where readable. */
  readonly osRelease?: string;
  /** CPU arch. */
  readonly arch: string;
  /** CPU model from /proc/cpuinfo, where readable. */
  readonly cpu: string;
  /** Logical CPUs (navigator.hardwareConcurrency). */
  readonly cores: number;
  /** L2 data cache per core, bytes, where readable. */
  readonly l2Bytes?: number;
  /** Deno version. */
  readonly deno: string;
  /** V8 version. */
  readonly v8: string;
  /** TypeScript version bundled with Deno. */
  readonly typescript: string;
}

/** The roofline of one probe flavour, as saved. */
export interface SavedRoofline {
  /** Median peak f32x4 multiply-add throughput, GFLOP/s. */
  readonly peakGflops: number;
  /** Best sample of the peak. */
  readonly bestPeakGflops: number;
  /** Streaming reads, large buffer. */
  readonly dram: { readonly bytes: number; readonly gbs: number; readonly bestGbs: number };
  /** Streaming reads, L2-sized buffer. */
  readonly l2: { readonly bytes: number; readonly gbs: number; readonly bestGbs: number };
}

/** One timed case: a layer and a configuration (or the dense baseline) on one flavour. */
export interface ResultRow {
  /** Flavour of the kernels. */
  readonly flavour: BenchFlavour;
  /** Layer name, e.g. `"128->256 @28x28"`. */
  readonly layer: string;
  /** Input channels. */
  readonly cin: number;
  /** Output channels. */
  readonly cout: number;
  /** Pixels (H*W). */
  readonly pixels: number;
  /** Configuration id, or `"dense"`. */
  readonly config: string;
  /** For the dense baseline: `"gemm"` (the wasm GEMM) or a stand-in. */
  readonly denseKind?: string;
  /** Output-channel block size of the plan (dense: 0). */
  readonly blockSize: number;
  /** Real nonzero weights. */
  readonly nnz: number;
  /** Stored weights including block padding. */
  readonly stored: number;
  /** Median seconds per call. */
  readonly seconds: number;
  /** Fastest sample, seconds per call. */
  readonly minSeconds: number;
  /** Relative margin of error reported by benchmark.js, per cent. */
  readonly rme: number;
  /** Samples taken. */
  readonly samples: number;
  /** `2 * nnz * pixels / seconds / 1e9`. */
  readonly effGflops: number;
  /** `2 * cout * cin * pixels / seconds / 1e9`. */
  readonly denseEqGflops: number;
  /** The peak the fraction is taken of, GFLOP/s (null where none was measured). */
  readonly peakGflops: number | null;
  /** Which probe flavour the peak comes from (scalar has no probe: the SIMD peak). */
  readonly peakFlavour: string | null;
  /** `effGflops / peakGflops`. */
  readonly fracPeak: number | null;
  /** Dense baseline time over this time, same flavour and shape (null for the baseline). */
  readonly speedupVsDense: number | null;
  /** Fastest dense baseline of any flavour on this shape over this time. */
  readonly speedupVsBestDense: number | null;
}

/** Geometric means over the nine layers of one flavour and configuration. */
export interface GeomeanRow {
  /** Flavour. */
  readonly flavour: BenchFlavour;
  /** Configuration id, or `"dense"`. */
  readonly config: string;
  /** Layers included. */
  readonly layers: number;
  /** Geomean effective GFLOP/s. */
  readonly effGflops: number;
  /** Geomean dense-equivalent GFLOP/s. */
  readonly denseEqGflops: number;
  /** Geomean fraction of peak. */
  readonly fracPeak: number | null;
  /** Geomean speed-up over the same flavour's dense baseline. */
  readonly speedupVsDense: number | null;
  /** Geomean speed-up over the fastest dense baseline. */
  readonly speedupVsBestDense: number | null;
}

/** One of the project's performance targets, checked against a run. */
export interface TargetResult {
  /** Short id. */
  readonly id: string;
  /** What is promised. */
  readonly text: string;
  /** The threshold (a fraction of peak, or a speed-up). */
  readonly threshold: number;
  /** `"fraction"` (shown as %) or `"ratio"` (shown as x). */
  readonly unit: "fraction" | "ratio";
  /** The value in this run, or null when it could not be measured. */
  readonly value: number | null;
  /** Whether it was met; null when not measured, or when only reported. */
  readonly met: boolean | null;
  /** Why it was not measured, or what it is measured on. */
  readonly note: string;
  /**
   * True for a figure reported next to a threshold for comparison but not judged (`met` stays
   * null even when it was measured). Absent in older results: every target was judged.
   */
  readonly reportOnly?: boolean;
}

/** One layer's median time in an end-to-end run (see `LayerResult` in bench/network.ts). */
export interface SavedNetworkLayer {
  /** Layer name, as in the spec (Keras names). */
  readonly name: string;
  /** Layer kind: `"conv2d"`, `"depthwise"`, `"conv1x1"`, `"add"`, ... */
  readonly kind: string;
  /** How it ran: `"sparse"`, `"dense"`, or its kind. */
  readonly path: string;
  /** Output channels x height x width, e.g. `"64x112x112"`. */
  readonly shape: string;
  /** Median milliseconds over the profiled runs. */
  readonly medianMs: number;
}

/** One variant of one network, end to end (see `NetworkResult` in bench/network.ts). */
export interface SavedNetworkResult {
  /** The spec's name, e.g. `"MobileNet v1 1.0"`. */
  readonly network: string;
  /** Variant id: `"dense"`, `"u90"`, `"b4-90"`. */
  readonly variant: string;
  /** Human label of the variant. */
  readonly label: string;
  /** Median latency of `run(image)`, ms. */
  readonly medianMs: number;
  /** Fastest sample, ms. */
  readonly minMs: number;
  /** Slowest sample, ms. */
  readonly maxMs: number;
  /** Latency samples taken. */
  readonly samples: number;
  /** Per-layer medians from profiled runs, in network order. */
  readonly layers: readonly SavedNetworkLayer[];
  /** Largest per-layer difference / rounding bound against the reference (ok when <= 1). */
  readonly maxRatio?: number;
  /** Largest absolute output difference from the reference network over its largest output. */
  readonly relDiff?: number;
}

/** A dense MobileNet (v1 or v2) on TensorFlow.js's WebAssembly backend, timed in the same run. */
export interface SavedTfjsResult {
  /** The network it runs (the same spec and weights as ours), e.g. `"MobileNet v1 1.0"`. */
  readonly network: string;
  /** tfjs-core version. */
  readonly version: string;
  /** tfjs backend name, `"wasm"`. */
  readonly backend: string;
  /** The binary it loaded, e.g. `"tfjs-backend-wasm-simd.wasm"`. */
  readonly binary: string;
  /** Whether that binary is the SIMD one. */
  readonly simd: boolean;
  /** XNNPACK threads. */
  readonly threads: number;
  /** Median latency of `run(image)` including `dataSync()`, ms. */
  readonly medianMs: number;
  /** Fastest sample, ms. */
  readonly minMs: number;
  /** Slowest sample, ms. */
  readonly maxMs: number;
  /** Samples taken. */
  readonly samples: number;
  /** Largest absolute logit difference from our dense network, over our largest logit. */
  readonly relDiff: number;
}

/** The end-to-end network benchmarks of a run. */
export interface SavedNetworks {
  /** Backend flavour the networks ran on (the best one of the run). */
  readonly flavour: string;
  /** Input side (224). */
  readonly size: number;
  /** How latency was timed (bench/layers.ts `measure`) and how many profiled runs per variant. */
  readonly timing: {
    readonly warmupMs: number;
    readonly minSamples: number;
    readonly maxSamples: number;
    readonly budgetMs: number;
    readonly profileRuns: number;
  };
  /** Every network and variant, in run order. */
  readonly results: readonly SavedNetworkResult[];
  /** The TensorFlow.js MobileNet v1 baseline, or null when skipped or failed (see `tfjsNote`). */
  readonly tfjs: SavedTfjsResult | null;
  /** Why there is no TensorFlow.js v1 result. */
  readonly tfjsNote?: string;
  /**
   * The TensorFlow.js MobileNet v2 baseline, or null when skipped or failed (see `tfjsV2Note`);
   * absent in older results, which had none.
   */
  readonly tfjsV2?: SavedTfjsResult | null;
  /** Why there is no TensorFlow.js v2 result. */
  readonly tfjsV2Note?: string;
  /** The end-to-end targets. */
  readonly targets: readonly TargetResult[];
}

/** Everything one run of `bench/suite.ts` saves. */
export interface BenchResults {
  /** Format version. */
  readonly schema: 1;
  /** ISO time the run started. */
  readonly date: string;
  /** The command that produced it. */
  readonly command: string;
  /** Whether it was a `--quick` smoke run. */
  readonly quick: boolean;
  /** Host and runtime. */
  readonly host: HostInfo;
  /** The timing engine and its settings. */
  readonly engine: { readonly name: string; readonly options: Record<string, number> };
  /** Flavours measured, best first. */
  readonly flavours: readonly BenchFlavour[];
  /** The flavour the targets are judged on. */
  readonly best: BenchFlavour;
  /** The layers. */
  readonly layers: readonly {
    readonly name: string;
    readonly cin: number;
    readonly cout: number;
    readonly side: number;
    readonly pixels: number;
  }[];
  /** The configurations. */
  readonly configs: readonly {
    readonly id: string;
    readonly label: string;
    readonly sparsity: number;
    readonly block: number;
  }[];
  /** Roofline per probe flavour. */
  readonly roofline: Readonly<Partial<Record<"relaxed" | "simd", SavedRoofline>>>;
  /** Every timed case. */
  readonly rows: readonly ResultRow[];
  /** Geometric means over the layers. */
  readonly geomeans: readonly GeomeanRow[];
  /** The targets, judged on the best flavour. */
  readonly targets: readonly TargetResult[];
  /** Anything a reader should know about this run. */
  readonly notes: readonly string[];
  /** End-to-end MobileNet v1 and v2, where measured (absent in older results). */
  readonly networks?: SavedNetworks;
}

// ---------------------------------------------------------------------------------------------
// SVG charts

const COLOURS: Record<string, string> = {
  u70: "#9ecae1",
  u80: "#6baed6",
  u90: "#3182bd",
  u95: "#08519c",
  "b4-90": "#e6550d",
  dense: "#737373",
  relaxed: "#3182bd",
  simd: "#31a354",
  scalar: "#969696",
};

/** A series of a grouped bar chart. */
export interface Series {
  /** Legend label. */
  readonly name: string;
  /** Fill colour. */
  readonly colour: string;
  /** One value per group (null: no bar). */
  readonly values: readonly (number | null)[];
}

/** A horizontal reference line. */
export interface RefLine {
  /** Height in data units. */
  readonly value: number;
  /** Label drawn at the right end. */
  readonly label: string;
  /** Line colour. */
  readonly colour: string;
}

/** What {@link barChart} draws. */
export interface BarChartSpec {
  /** Title above the plot. */
  readonly title: string;
  /** Label of the y axis. */
  readonly yLabel: string;
  /** Group labels (x axis); a `\n` splits one into two lines. */
  readonly groups: readonly string[];
  /** The bar series. */
  readonly series: readonly Series[];
  /** Reference lines. */
  readonly lines?: readonly RefLine[];
  /** Value format on the bars' tooltips. */
  readonly format?: (v: number) => string;
  /** Width of the image in pixels (default 960); wider for many groups. */
  readonly width?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

const n1 = (v: number) => v.toFixed(1);

/**
 * Draws a grouped bar chart as a standalone SVG document (no scripts, no external fonts).
 *
 * @param spec groups, series, reference lines and labels
 * @returns the SVG text
 */
export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 960, height = 400;
  // The right margin holds the reference lines' labels.
  const left = 60, right = (spec.lines?.length ?? 0) > 0 ? 150 : 30, top = 64, bottom = 64;
  const plotW = width - left - right, plotH = height - top - bottom;
  const fmt = spec.format ?? n1;
  const values = spec.series.flatMap((s) => s.values).filter((v): v is number => v !== null);
  const maxV = Math.max(1e-9, ...values, ...(spec.lines ?? []).map((l) => l.value)) * 1.08;
  const step = niceStep(maxV, 6);
  const yMax = Math.ceil(maxV / step) * step;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, ` +
      `Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="600">${esc(spec.title)}</text>`,
  );
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${yy}" dy="4" text-anchor="end" fill="#444">${
        esc(+v.toPrecision(6) + "")
      }</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" ` +
      `fill="#444">${esc(spec.yLabel)}</text>`,
  );
  const groupW = plotW / spec.groups.length;
  const barW = (groupW * 0.8) / Math.max(1, spec.series.length);
  spec.groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + groupW * 0.1;
    spec.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || !Number.isFinite(v)) return;
      const x = x0 + si * barW;
      const yy = y(Math.max(0, v));
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW * 0.92).toFixed(1)}" ` +
          `height="${(top + plotH - yy).toFixed(1)}" fill="${s.colour}">` +
          `<title>${esc(`${g.replace("\n", " ")}, ${s.name}: ${fmt(v)}`)}</title></rect>`,
      );
    });
    const lines = g.split("\n");
    lines.forEach((line, li) => {
      out.push(
        `<text x="${(left + (gi + 0.5) * groupW).toFixed(1)}" y="${
          top + plotH + 18 + li * 15
        }" text-anchor="middle" fill="#333">${esc(line)}</text>`,
      );
    });
  });
  out.push(
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${
      top + plotH
    }" stroke="#333"/>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
  );
  for (const l of spec.lines ?? []) {
    const yy = y(l.value).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="${l.colour}" ` +
        `stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${left + plotW + 6}" y="${yy}" dy="4" fill="${l.colour}">${esc(l.label)}</text>`,
    );
  }
  // Legend in rows under the title; the right margin is left to the reference lines' labels.
  let lx = left, ly = 44;
  for (const s of spec.series) {
    const w = 30 + s.name.length * 7.2;
    if (lx + w > width - 10) {
      lx = left;
      ly += 18;
    }
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${s.colour}"/>`,
      `<text x="${lx + 17}" y="${ly}" fill="#333">${esc(s.name)}</text>`,
    );
    lx += w;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Short chart label of a MobileNet layer or block name (other names stay as they are). */
function shortLayer(name: string): string {
  const m = /^conv_(dw|pw)_(\d+)$/.exec(name) ?? /^block_(\d+)$/.exec(name);
  if (m !== null) return m.length === 3 ? `${m[1]}${m[2]}` : `b${m[1]}`;
  if (name === "expanded_conv") return "b0";
  if (name === "conv1" || name === "Conv1") return "stem";
  if (name === "global_average_pooling2d") return "pool";
  if (name === "conv_preds" || name === "Logits") return "fc";
  return name;
}

/** A bar group of a network chart: one layer, or the layers of one block. */
export interface LayerGroup {
  /** Axis label. */
  readonly label: string;
  /** Indices of the layers summed into it, in network order. */
  readonly indices: readonly number[];
}

/**
 * Groups a network's layers for its chart: one group per layer while there are at most
 * `maxGroups` of them; otherwise one per block (MobileNet v2's `block_N_expand`,
 * `block_N_depthwise`, `block_N_project` and `block_N_add` sum into `bN`; `expanded_conv_*`
 * is `b0`), every other layer on its own.
 *
 * @param layers the layers, in network order
 * @param maxGroups most groups shown layer by layer (default 32)
 * @returns the groups, in network order
 */
export function layerGroups(
  layers: readonly { readonly name: string }[],
  maxGroups = 32,
): LayerGroup[] {
  const perBlock = layers.length > maxGroups;
  const groups: { label: string; indices: number[] }[] = [];
  layers.forEach((l, i) => {
    const key = perBlock ? l.name.replace(/_(expand|depthwise|project|add)$/, "") : l.name;
    const label = shortLayer(key);
    const last = groups[groups.length - 1];
    if (last !== undefined && last.label === label) last.indices.push(i);
    else groups.push({ label, indices: [i] });
  });
  return groups;
}

/** File name of a network's per-layer chart: `"MobileNet v1 1.0"` -> `mobilenet_v1_layers.svg`. */
export function networkChartName(network: string): string {
  const base = network.toLowerCase().replace(/\s+\d+(\.\d+)?$/, "").replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return `${base || "network"}_layers.svg`;
}

function networkChart(
  network: string,
  results: readonly SavedNetworkResult[],
  flavour: string,
): string {
  const groups = layerGroups(results[0].layers);
  const perBlock = groups.length < results[0].layers.length;
  return barChart({
    title: `${network}: median ms per ${perBlock ? "block" : "layer"} (${flavour}; ` +
      "profiled runs; lower is better)",
    yLabel: `ms per ${perBlock ? "block (sum of its layers)" : "layer"}`,
    groups: groups.map((g) => g.label),
    series: results.map((r) => ({
      name: r.label,
      colour: COLOURS[r.variant] ?? "#999",
      values: groups.map((g) =>
        g.indices.reduce((sum, i) => sum + (r.layers[i]?.medianMs ?? NaN), 0)
      ),
    })),
    format: (v) => `${v.toFixed(3)} ms`,
    width: Math.max(960, 210 + groups.length * 42),
  });
}

// ---------------------------------------------------------------------------------------------
// Markdown

const pct = (
  v: number | null,
) => (v === null || !Number.isFinite(v) ? "–" : `${(v * 100).toFixed(1)}%`);
const times = (v: number | null) => (v === null || !Number.isFinite(v) ? "–" : `${v.toFixed(2)}x`);
const gf = (v: number | null) => (v === null || !Number.isFinite(v) ? "–" : v.toFixed(1));

function ms(s: number): string {
  return s >= 1e-3 ? `${(s * 1e3).toFixed(2)} ms` : `${(s * 1e6).toFixed(0)} µs`;
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`;
}

function layerLabel(l: { cin: number; cout: number; side: number }): string {
  return `${l.cin}→${l.cout}\n${l.side}×${l.side}`;
}

function configLabel(r: BenchResults, id: string): string {
  if (id === "dense") {
    const kind = r.rows.find((x) => x.config === "dense")?.denseKind;
    return kind === "gemm" || kind === undefined ? "dense GEMM" : `dense (${kind})`;
  }
  return r.configs.find((c) => c.id === id)?.label ?? id;
}

/** Breaks a long line at spaces, greedily, never starting a line with list or quote syntax. */
function wrap(text: string, width: number, first: string, rest: string): string[] {
  const words = text.split(" ").filter((w) => w !== "");
  const lines: string[] = [];
  let line = first;
  let empty = true;
  const risky = /^([-+*>#]|\d+[.)])$|^#/;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (!empty && line.length + 1 + w.length > width && !risky.test(w)) {
      lines.push(line);
      line = rest + w;
    } else {
      line += (empty ? "" : " ") + w;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** Pads a table's cells to common widths, as `deno fmt` lays tables out. */
function formatTable(lines: readonly string[]): string[] {
  const cells = lines.map((l) =>
    l.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim())
  );
  const right = cells[1].map((c) => c.endsWith(":"));
  const widths = cells[0].map((_, j) =>
    Math.max(3, ...cells.filter((_, i) => i !== 1).map((r) => (r[j] ?? "").length))
  );
  return cells.map((r, i) => {
    const out = r.map((c, j) => {
      if (i === 1) return right[j] ? "-".repeat(widths[j] - 1) + ":" : "-".repeat(widths[j]);
      return right[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]);
    });
    return `| ${out.join(" | ")} |`;
  });
}

/**
 * Lays generated Markdown out the way `deno fmt` would (prose wrapped at 100 columns, tables
 * padded), so that the committed page passes `deno fmt --check`. Only handles what
 * {@link renderReport} emits: one line per paragraph, list item or quote; left or right
 * aligned tables; fenced code; headings; HTML comments.
 */
export function formatMarkdown(md: string, width = 100): string {
  const src = md.split("\n");
  const out: string[] = [];
  let fenced = false;
  for (let i = 0; i < src.length; i++) {
    const line = src[i];
    if (line.startsWith("```")) {
      fenced = !fenced;
      out.push(line);
    } else if (fenced || line === "" || line.startsWith("#") || line.startsWith("<!--")) {
      out.push(line);
    } else if (line.startsWith("|")) {
      const block: string[] = [];
      while (i < src.length && src[i].startsWith("|")) block.push(src[i++]);
      i--;
      out.push(...formatTable(block));
    } else if (line.startsWith("- ")) {
      out.push(...wrap(line.slice(2), width, "- ", "  "));
    } else if (line.startsWith("> ")) {
      out.push(...wrap(line.slice(2), width, "> ", "> "));
    } else {
      out.push(...wrap(line, width, "", ""));
    }
  }
  return out.join("\n");
}

/** The rendered report: the Markdown page and the SVG files it links to. */
export interface RenderedReport {
  /** Contents of docs/performance.md. */
  readonly markdown: string;
  /** File name (in docs/img/) to SVG text. */
  readonly images: Readonly<Record<string, string>>;
}

/**
 * The measured cost of the bounds checks (`bench/bounds_checks.ts`), as Markdown lines; when
 * no such measurement was saved, a line saying how to make one.
 */
function boundsSection(b: BoundsCheckResults | undefined, peak: number | undefined): string[] {
  const how = "`deno task bench:bounds` (bench/bounds_checks.ts)";
  if (b === undefined) {
    return [`How much the checks cost is measured by ${how} (no measurement saved).`, ""];
  }
  const names: Record<string, string> = {
    "u90": "90% unstructured",
    "b4-90": "90% in 1x4 blocks",
    "dense": "dense GEMM",
  };
  const pct = (g: number) => peak === undefined ? "–" : `${(100 * g / peak).toFixed(1)}%`;
  const md = [
    `Measured (${how}, ${b.date.slice(0, 10)}, Deno ${b.deno}, V8 ${b.v8}, ${b.flavour}): the ` +
    "same kernels in child processes run as shipped and with V8's testing flag " +
    "`--no-wasm-bounds-checks`, which drops the checks (what a host with the trap handler " +
    `gets), alternating, median of ${b.rounds} rounds each. Geometric means over the nine ` +
    "layers; the fraction of peak uses this page's peak" +
    (peak === undefined ? "." : ` (${gf(peak)} GFLOP/s).`),
    "",
    "| configuration | with checks (as shipped) | without checks | gain | % of peak with | % of peak without |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  for (const id of Object.keys(b.checked)) {
    const a = geomean(b.checked[id]);
    const u = geomean(b.unchecked[id]);
    md.push(
      `| ${names[id] ?? id} | ${gf(a)} | ${gf(u)} | ${(u / a).toFixed(2)}x | ${pct(a)} | ${
        pct(u)
      } |`,
    );
  }
  const cost = (id: string) => {
    const a = b.checked[id], u = b.unchecked[id];
    return a === undefined || u === undefined
      ? "–"
      : `${Math.round(100 * (1 - geomean(a) / geomean(u)))}%`;
  };
  const u90 = b.unchecked["u90"];
  md.push(
    "",
    `The checks take ${cost("u90")} of the unstructured kernel's time, ${cost("b4-90")} of the ` +
      `1x4 kernel's and ${cost("dense")} of the GEMM's (those load less per multiply-add). ` +
      "Without them the unstructured kernel would run at " +
      (u90 === undefined ? "–" : pct(geomean(u90))) +
      " of peak: in Deno they are what stands between it and the 55% target. The rest is " +
      "the kernel's own work: about three instructions per multiply-add (the input load, its " +
      "address, the multiply-add) plus its share of the weight, increment and loop, and on the " +
      "layers with few nonzeros per output channel, the clamp and store of every output. " +
      "These runs time each layer alone, after a long warm-up, so their figures may differ " +
      "from the suite's above.",
    "",
  );
  return md;
}

/**
 * Renders a results object into the performance page and its charts, in memory.
 *
 * @param r the results of one suite run
 * @param source the path of the results file, named on the page
 * @returns the Markdown and the SVG images
 */
export function renderReport(
  r: BenchResults,
  source: string,
  bounds?: BoundsCheckResults,
): RenderedReport {
  const best = r.best;
  const net = r.networks;
  // A --networks-only run saves no layer rows: the layer sections are left out.
  const hasLayers = r.rows.length > 0;
  const configIds = [...r.configs.map((c) => c.id), "dense"];
  const row = (f: string, layer: string, config: string) =>
    r.rows.find((x) => x.flavour === f && x.layer === layer && x.config === config);
  const geo = (f: string, config: string) =>
    r.geomeans.find((g) => g.flavour === f && g.config === config);
  const groups = r.layers.map(layerLabel);
  const peak = r.roofline[best as "relaxed" | "simd"] ??
    (best === "scalar" ? r.roofline.simd : undefined);

  const images: Record<string, string> = {};
  if (hasLayers) {
    images["gflops.svg"] = barChart({
      title: `Effective GFLOP/s per MobileNet v1 1x1 layer (${best}; median; higher is better)`,
      yLabel: "effective GFLOP/s (2·nnz·HW / t)",
      groups,
      series: configIds.map((id) => ({
        name: configLabel(r, id),
        colour: COLOURS[id] ?? "#999",
        values: r.layers.map((l) => row(best, l.name, id)?.effGflops ?? null),
      })),
      lines: peak === undefined ? [] : [{
        value: peak.peakGflops,
        label: `peak ${peak.peakGflops.toFixed(1)}`,
        colour: "#d62728",
      }],
    });
    const sparseIds = r.configs.map((c) => c.id);
    images["speedup.svg"] = barChart({
      title: `Sparse over dense GEMM, same layer and flavour (${best}; higher is better)`,
      yLabel: "speed-up over dense (x)",
      groups,
      series: sparseIds.map((id) => ({
        name: configLabel(r, id),
        colour: COLOURS[id] ?? "#999",
        values: r.layers.map((l) => row(best, l.name, id)?.speedupVsDense ?? null),
      })),
      lines: [
        { value: 1, label: "1x (dense)", colour: "#333" },
        { value: 6.5, label: "target 6.5x (90%)", colour: "#d62728" },
      ],
      format: (v) => `${v.toFixed(2)}x`,
    });
    images["flavours.svg"] = barChart({
      title: "Fraction of the flavour's measured peak, geometric mean over the nine layers",
      yLabel: "% of peak",
      groups: configIds.map((id) => configLabel(r, id).replace(" unstructured", "\nunstructured")),
      series: r.flavours.map((f) => ({
        name: f === "scalar" ? "scalar (of SIMD peak)" : f,
        colour: COLOURS[f] ?? "#999",
        values: configIds.map((id) => {
          const g = geo(f, id)?.fracPeak;
          return g === null || g === undefined ? null : g * 100;
        }),
      })),
      lines: [
        { value: 55, label: "55% (90% target)", colour: "#3182bd" },
        { value: 65, label: "65% (1x4 target)", colour: "#e6550d" },
        { value: 80, label: "80% (GEMM target)", colour: "#737373" },
      ],
      format: (v) => `${v.toFixed(1)}%`,
    });
  }

  const h = r.host;
  const md: string[] = [];
  md.push(
    "# Performance",
    "",
    `<!-- Generated by bench/report.ts from ${source}; edit the generator, not this page. -->`,
    "",
  );
  if (hasLayers) {
    md.push(
      "Sparse 1x1 convolutions (SpMM, CHW layout, bias and ReLU6 fused) on the nine pointwise " +
        "layers of MobileNet v1 (224x224), against the dense wasm GEMM on the same shapes" +
        (net === undefined
          ? ", measured in one process by `bench/suite.ts`."
          : "; then whole MobileNet v1 and v2 networks end to end, dense and 90% sparse, " +
            "against each other and against TensorFlow.js's WebAssembly backend, all measured " +
            "in one process by `bench/suite.ts`."),
    );
  } else {
    md.push(
      "Whole MobileNet v1 and v2 networks end to end, dense and 90% sparse, against each other " +
        "and against TensorFlow.js's WebAssembly backend, measured in one process by " +
        "`bench/suite.ts --networks-only` (this run has no layer sweep and no roofline).",
    );
  }
  md.push(
    "",
    `- **When / where:** ${r.date}, ${h.cpu} (${h.cores} logical CPUs${
      h.l2Bytes ? `, L2 ${bytes(h.l2Bytes)} per core` : ""
    }), ${h.os}/${h.arch}${h.osRelease ? ` ${h.osRelease}` : ""}.`,
    `- **Runtime:** Deno ${h.deno}, V8 ${h.v8}.`,
  );
  if (hasLayers) {
    md.push(
      `- **Timing:** ${r.engine.name}; ${
        Object.entries(r.engine.options).map(([k, v]) => `${k} ${v}`).join(", ")
      }; every figure is the median over samples, after a warm-up that lets V8 tier the ` +
        "kernels up to TurboFan. " +
        ((r.engine.options.rounds ?? 1) > 1
          ? `Each flavour's workloads are timed in ${r.engine.options.rounds} passes over all ` +
            "of them (one benny suite per pass, `maxTime` per workload and pass) and a figure " +
            "is the median of the samples pooled over the passes, so a slow phase of the " +
            "shared host falls on every workload alike rather than on the few timed during it. "
          : "") +
        "Operands are resident in wasm memory (no copies inside the timed call)." +
        (net === undefined ? "" : " The networks are timed differently: see below."),
    );
  }
  md.push(
    `- **Best flavour** (the one \`init()\` picks here, and the one the targets are judged on): ` +
      `**${best}**.`,
    "",
    "> These are measurements of one shared virtual machine with few cores, not of the kernels' " +
      "ceiling: medians move by several per cent between runs, more when the host is busy, and " +
      "the peak and bandwidth are measured by the same kind of loop from WebAssembly, not taken " +
      "from a data sheet.",
  );
  if (r.quick) {
    md.push(
      "",
      "> **This was a `--quick` smoke run** (few samples); do not quote its figures.",
    );
  }
  for (const n of r.notes) md.push("", `> ${n}`);

  const targetText: string[] = [];
  if (hasLayers) {
    targetText.push(
      "The project's targets. Per layer, each a geometric mean over the nine layers on the best " +
        "flavour: sparse 90% unstructured at ≥ 55% of peak; 90% with 1x4 blocks at ≥ 65% of " +
        "peak; dense GEMM at ≥ 80% of peak; sparse 90% at ≥ 6.5x the best dense GEMM.",
    );
  } else targetText.push("The project's targets.");
  if (net !== undefined) {
    targetText.push(
      "End to end: MobileNet v1 with 90% unstructured sparsity at ≥ 3x the dense MobileNet v1 " +
        "on TensorFlow.js's WebAssembly backend (same run, same weights) and at ≥ 4x our own " +
        "dense network; MobileNet v2's ratios are reported next to the same thresholds, not " +
        "judged.",
    );
  }
  md.push(
    "",
    "## Targets",
    "",
    targetText.join(" "),
    "",
    "| target | threshold | this run | met? | measured on |",
    "|---|---:|---:|---|---|",
  );
  for (const t of [...r.targets, ...(net?.targets ?? [])]) {
    const show = t.unit === "fraction" ? pct : times;
    const met = t.reportOnly
      ? (t.value === null ? "not measured" : "reported")
      : t.met === null
      ? "not measured"
      : t.met
      ? "**yes**"
      : "no";
    md.push(
      `| ${t.text} | ${show(t.threshold)} | ${show(t.value)} | ${met} | ${t.note} |`,
    );
  }

  if (net !== undefined) {
    const section = networkSection(net);
    md.push(...section.md);
    Object.assign(images, section.images);
  }

  if (hasLayers) {
    md.push(
      "",
      "## The 1x1 layers",
      "",
      "### What limits the sparse figures",
      "",
      "In unstructured sparsity every multiply-add needs an input vector of its own. " +
        "`deno task bench:asm` (bench/kernel_asm.ts) disassembles the machine code V8 writes " +
        "for a kernel (from a `--perf-prof` dump) and sorts its main loop's instructions by " +
        "kind. For the 1-channel kernel on 256->256 at 28x28, one trip of the main loop over " +
        "two stored columns of a 12-vector tile is 135 instructions for 24 multiply-adds: 24 " +
        "input loads and 4 loads of weights and increments, each behind its own bounds check " +
        "(a `cmp` and a `jae`, 56 instructions: Deno runs V8 without the WebAssembly trap " +
        "handler, denoland/deno#35658), 14 `lea` computing the checks' limits, 4 moves of an " +
        "accumulator to and from the stack (the twelve accumulators, two weights and two " +
        "inputs a trip keeps live are one more than the 15 vector registers V8 allocates) and 9 " +
        "for the pointers, the loop " +
        "and V8's interrupt check: 5.6 instructions per multiply-add, which " +
        "holds the kernel near half of the FMA peak. Output-channel blocks reuse each input " +
        "load for 2 or 4 multiply-adds: on the same layer the 1x4 kernel's loop is 3.7 instructions per " +
        "multiply-add and the dense GEMM's 3.9, which is why they run much closer to peak.",
      "",
      "Where the unstructured layers lose beyond that (measured with `bench/spmm_tune.ts`, " +
        "relaxed): the 7x7 layers' 49-pixel rows need two tiles (7 and 6 vectors), each paying " +
        "the per-column work, and run at about 27 GFLOP/s where the same layer on 48-pixel rows " +
        "(one 12-vector tile) reaches about 34 (58% of peak); the first layer (32->64 at " +
        "112x112, about three nonzeros per output channel) spends about a third of its time " +
        "storing its 3.2 MB of output (86 µs with no nonzeros at all, 252 µs at 90%). On the " +
        "wide layers, where reading a tile's inputs from every channel row touched a page per " +
        "row, the kernel now first copies them into one compact block (staging, see " +
        "docs/architecture.md): 7-15% on the layers from 256->256 at 28x28 down. Tried and not " +
        "kept, all slower or no better: four columns per trip (8- and 10-vector tiles), one " +
        "vector load for a trip's two weights and increments (increments taken from its lanes), " +
        "a 13th accumulator or a 1-pixel lane for 196- and 49-pixel rows, splitting the input " +
        "channels so each part of the input stays in L1 (the partial sums' extra traffic costs " +
        "more than it saves), reversing every other row's column order so consecutive rows " +
        "meet in the inputs they share, 8-, 10- or 11-vector tiles throughout (11 needs no " +
        "spill, and gains under 1%), splitting a tile's " +
        "loads over two base pointers (half the limit `lea`s), loading the next tile's input " +
        "lines or the output lines ahead of use (wasm has no prefetch), and running the large " +
        "layers in bands of 384 to 1536 pixels by blocks of 8 to 64 output channels, so the " +
        "output is written as a few sequential streams.",
      "",
      ...boundsSection(bounds, peak?.peakGflops),
      "### Roofline of this host",
      "",
      "Measured with `as/build/probe.<flavour>.wasm` (`bench/roofline.ts`): thirteen " +
        "independent f32x4 multiply-add chains (relaxed: `f32x4.relaxed_madd`; simd: " +
        "`f32x4.mul` + `f32x4.add`, the instructions the kernels use), and a four-accumulator " +
        "streaming sum.",
      "",
      "| flavour | peak GFLOP/s (median) | best sample | DRAM read GB/s | L2 read GB/s |",
      "|---|---:|---:|---:|---:|",
    );
    for (const f of ["relaxed", "simd"] as const) {
      const p = r.roofline[f];
      if (p === undefined) continue;
      md.push(
        `| ${f} | ${gf(p.peakGflops)} | ${gf(p.bestPeakGflops)} | ${gf(p.dram.gbs)} (${
          bytes(p.dram.bytes)
        }) | ${gf(p.l2.gbs)} (${bytes(p.l2.bytes)}) |`,
      );
    }
    if (r.flavours.includes("scalar")) {
      md.push(
        "",
        "The scalar flavour has no probe of its own; its fraction of peak is taken of the SIMD " +
          "peak (so a perfect scalar kernel would reach about 25%).",
      );
    }

    md.push(
      "",
      "### Charts",
      "",
      `![Effective GFLOP/s per layer and configuration, ${best}, with the measured peak](img/gflops.svg)`,
      "",
      `![Speed-up of each sparse configuration over the dense GEMM, ${best}](img/speedup.svg)`,
      "",
      "![Fraction of peak by flavour, geometric means](img/flavours.svg)",
      "",
      "### Geometric means over the nine layers",
      "",
      "| flavour | configuration | effective GFLOP/s | dense-equivalent GFLOP/s | % of peak | vs dense (same flavour) | vs best dense |",
      "|---|---|---:|---:|---:|---:|---:|",
    );
    for (const f of r.flavours) {
      for (const id of configIds) {
        const g = geo(f, id);
        if (g === undefined) continue;
        md.push(
          `| ${f} | ${configLabel(r, id)} | ${gf(g.effGflops)} | ${gf(g.denseEqGflops)} | ${
            pct(g.fracPeak)
          } | ${id === "dense" ? "1x" : times(g.speedupVsDense)} | ${
            times(g.speedupVsBestDense)
          } |`,
        );
      }
    }

    md.push("", "### Per layer");
    for (const f of r.flavours) {
      md.push(
        "",
        `#### ${f}`,
        "",
        "| layer (Cin→Cout, H×W) | configuration | block | nnz | median time | ±% | effective GFLOP/s | dense-equivalent GFLOP/s | % of peak | vs dense |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      );
      for (const l of r.layers) {
        for (const id of configIds) {
          const x = row(f, l.name, id);
          if (x === undefined) continue;
          md.push(
            `| ${l.cin}→${l.cout}, ${l.side}×${l.side} | ${configLabel(r, id)} | ${
              x.blockSize || "–"
            } | ${x.nnz} | ${ms(x.seconds)} | ${x.rme.toFixed(1)} | ${gf(x.effGflops)} | ${
              gf(x.denseEqGflops)
            } | ${pct(x.fracPeak)} | ${id === "dense" ? "1x" : times(x.speedupVsDense)} |`,
          );
        }
      }
    }

    md.push(
      "",
      "### How the layer figures are defined",
      "",
      "- **effective GFLOP/s** = 2 · nnz · H·W / t: the useful work, counting only real nonzero " +
        "weights (not the zeros that pad 1x4 blocks, nor bias and clamp).",
      "- **dense-equivalent GFLOP/s** = 2 · Cout · Cin · H·W / t: what a dense kernel would " +
        "have to reach to be as fast.",
      "- **% of peak** = effective GFLOP/s over the peak multiply-add throughput measured by the " +
        "probe of the same flavour in the same run.",
      "- **vs dense** = median time of the dense wasm GEMM (bias and ReLU6 fused, same flavour, " +
        "same shape, same run) over the sparse median time; **vs best dense** uses the fastest " +
        "dense GEMM of any flavour measured in the run.",
      "- **Weights** are uniform in [-1, 1) from a seeded generator; unstructured " +
        "configurations are pruned by magnitude over the whole matrix and packed with " +
        '`blockSize: "auto"` (the block column shows what it chose); the 1x4 configuration is ' +
        "`pruneBlocks(w, 0.9, { block: 4 })` packed with `blockSize: 4`. Activations are " +
        "uniform in [0, 1).",
      "- **±%** is benchmark.js's relative margin of error of the mean (95% confidence from the " +
        "spread of the samples; with several passes, the largest of the passes'): a noise " +
        "indicator, not a bound on systematic error.",
    );
  }

  md.push(
    "",
    "## Reproduce",
    "",
    "```sh",
    `${r.command}`,
    "```",
    "",
    "Other entry points:",
    "",
    "```sh",
    "deno task bench                      # full suite: bench/results/<date>-<host>.json, latest.json, this page",
    "deno task bench --quick              # smoke run: fewer samples, results to *.tmp.json, page not written",
    "deno task bench --flavour simd       # only some flavours (comma-separated)",
    "deno task bench --networks-only      # only the end-to-end networks: *.networks.tmp.json, page not written",
    "deno task bench --no-tfjs            # without the TensorFlow.js baseline",
    "deno task demo                       # MobileNet v1 224x224: dense vs 90% sparse, latency, per-layer times",
    "deno run --allow-read --allow-sys=hostname,osRelease,cpus bench/sweep.ts   # the 1x1 layer sweep",
    "deno run --allow-read bench/tfjs.ts                                        # TensorFlow.js alone (MobileNet v1)",
    "deno run --allow-read bench/tfjs.ts --model v2                             # TensorFlow.js alone (MobileNet v2)",
    "deno bench --allow-read bench/spmm_bench.ts                                # deno bench",
    "deno run --allow-read bench/roofline.ts                                    # the roofline alone",
    "deno task bench:bounds                     # what the wasm bounds checks cost (bench/results/bounds-checks.json)",
    "deno task bench:asm --config u90           # instruction mix of a kernel's main loop (also b4-90, dense; --layer 1-9)",
    "deno run --allow-read --allow-write bench/report.ts bench/results/latest.json  # re-render",
    "```",
    "",
    `Source data: \`${source}\`.`,
    "",
  );
  return { markdown: formatMarkdown(md.join("\n")), images };
}

/** The TensorFlow.js baseline of the network named `name` (v1 or v2), if measured. */
export function tfjsFor(net: SavedNetworks, name: string): SavedTfjsResult | undefined {
  return [net.tfjs, net.tfjsV2].find((t) => t?.network === name) ?? undefined;
}

/** The end-to-end section of the page and its per-layer charts. */
function networkSection(net: SavedNetworks): { md: string[]; images: Record<string, string> } {
  const images: Record<string, string> = {};
  const names = [...new Set(net.results.map((x) => x.network))];
  const size = `${net.size}x${net.size}`;
  const md: string[] = [
    "",
    `## End to end: MobileNet v1 and v2 (${size}, one image, one thread)`,
    "",
    `Whole networks compiled once by \`compileNetwork\` on the **${net.flavour}** backend and run ` +
    `on one ${size} image at a time, in one thread, in the suite's process. ` +
    "Dense: the 1x1 convolutions and the classifier on the dense wasm GEMM. 90% sparse: " +
    "those layers pruned by magnitude to 90% (unstructured, or in blocks of 4 output channels) " +
    "and run as sparse plans; the first convolution and the depthwise layers are dense in every " +
    "variant. Latency is the median of `run(image)`; the per-layer charts come from separate " +
    "profiled runs (definitions below).",
  ];
  const flag = (x: SavedNetworkResult) =>
    x.maxRatio === undefined
      ? "not checked"
      : x.maxRatio <= 1
      ? `ok (${x.maxRatio.toFixed(2)})`
      : `**FAILED** (${x.maxRatio.toFixed(2)})`;
  const exp = (v: number | undefined) => (v === undefined ? "–" : v.toExponential(1));
  const msf = (v: number) => v.toFixed(2);
  for (const name of names) {
    const rs = net.results.filter((x) => x.network === name);
    const dense = rs.find((x) => x.variant === "dense");
    const tfjs = tfjsFor(net, name);
    md.push("", `### ${name}`, "");
    const head = [
      "variant",
      "median ms",
      "min ms",
      "samples",
      "vs our dense",
      ...(tfjs ? ["vs TensorFlow.js"] : []),
      "max rel. diff",
      "layer check (max ratio)",
    ];
    md.push(
      `| ${head.join(" | ")} |`,
      `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join("|")}|`,
    );
    for (const x of rs) {
      md.push(
        `| ${x.label} | ${msf(x.medianMs)} | ${msf(x.minMs)} | ${x.samples} | ${
          dense ? times(dense.medianMs / x.medianMs) : "–"
        } | ${tfjs ? `${times(tfjs.medianMs / x.medianMs)} | ` : ""}${exp(x.relDiff)} | ${
          flag(x)
        } |`,
      );
    }
    if (tfjs) {
      md.push(
        `| TensorFlow.js ${tfjs.version} ${tfjs.backend}, dense (\`${tfjs.binary}\`, ` +
          `${tfjs.threads} thread) | ${msf(tfjs.medianMs)} | ${
            msf(tfjs.minMs)
          } | ${tfjs.samples} | ${dense ? times(dense.medianMs / tfjs.medianMs) : "–"} | ${
            times(1)
          } | ${exp(tfjs.relDiff)} vs our dense | – |`,
      );
    }
    md.push("");
    if (tfjs) {
      md.push(
        "The TensorFlow.js row is the same dense network (same weights, same image) built from " +
          "tfjs's fused operators on `@tensorflow/tfjs-backend-wasm` (XNNPACK) by " +
          "`bench/tfjs.ts`" +
          (/v1/.test(name) ? "" : " (layer by layer from our own spec, `mobileNetV2()`)") +
          ", timed the same way in the same run.",
        "",
      );
    } else if (/v1/.test(name)) {
      md.push(`No TensorFlow.js baseline in this run: ${net.tfjsNote ?? "skipped"}.`, "");
    } else if (net.tfjsV2 === undefined) {
      md.push(
        "There is no TensorFlow.js counterpart in this run (`bench/tfjs.ts` built MobileNet v1 " +
          "only then), so this network is compared with our own dense run.",
        "",
      );
    } else {
      md.push(`No TensorFlow.js baseline in this run: ${net.tfjsV2Note ?? "skipped"}.`, "");
    }
    if (rs.length > 0 && rs[0].layers.length > 0) {
      const file = networkChartName(name);
      images[file] = networkChart(name, rs, net.flavour);
      const perBlock = layerGroups(rs[0].layers).length < rs[0].layers.length;
      md.push(
        `![${name}: median ms per ${perBlock ? "block" : "layer"} and variant](img/${file})`,
      );
      if (perBlock) {
        md.push(
          "",
          "One bar per inverted residual block (`bN` sums `block_N_expand`, `_depthwise`, " +
            "`_project` and `_add`; `b0` is `expanded_conv`), the stem convolution `Conv1`, the " +
            "last 1x1 `Conv_1`, the pooling and the classifier (`fc`).",
        );
      } else {
        md.push(
          "",
          "One bar per layer: the stem convolution `conv1`, then each block's depthwise (`dwN`) and " +
            "pointwise 1x1 (`pwN`) layer, the pooling and the classifier (`fc`). Sparsity only " +
            "changes the 1x1 layers and the classifier.",
        );
      }
    }
  }
  const t = net.timing;
  md.push(
    "",
    "### How the end-to-end figures are defined",
    "",
    "- **Latency** (median, min) = wall time of one `net.run(image)`: copying the HWC image " +
      "into wasm memory, every layer, and copying the logits out. Timed with " +
      "`interleavedLatency` (bench/network.ts): each variant of a network, and TensorFlow.js's " +
      `network, gets a warm-up of at least ${t.warmupMs} ms that runs until the speed settles ` +
      "(V8 tiers up to TurboFan); then they are sampled in turn, in rounds of one untimed call " +
      "(its weights back in cache after the others ran) and five timed ones each, so a slow " +
      "phase of the host falls on all of them alike; one call per sample, at least " +
      `${t.minSamples} samples and until ${t.budgetMs} ms per network have passed (at most ` +
      `${t.maxSamples}); the median of the samples, and the fastest one.`,
    "- **vs our dense** = the dense variant's median over this row's median; **vs " +
      "TensorFlow.js** = the TensorFlow.js median over this row's median.",
    "- **TensorFlow.js** is timed in the same rounds; each of its runs creates the input " +
      "tensor from the image, runs the network, and reads the logits back with `dataSync()`, " +
      "in one thread (the only one Deno can run: `bench/tfjs.ts`).",
    `- **Per layer** = the median over ${t.profileRuns} \`net.profile(image)\` runs of each ` +
      "layer's own time (`performance.now()` around its kernel call; copies in and out are not " +
      "in any layer, so the layers sum to a little less than the latency).",
    "- **max rel. diff** = the largest absolute difference between the output and that of the " +
      "reference network (`referenceNetwork`: plain loops, f64 sums) on the same weights (the " +
      "pruned ones for the sparse variants), over the largest absolute reference output. For " +
      "TensorFlow.js: against our dense network's logits on the same image.",
    "- **layer check** = every layer's output against the reference operator applied to that " +
      "layer's input (`compareLayers`), within a bound derived from its own f32 arithmetic; the " +
      "figure is the largest ratio of difference to bound, ok when at most 1.",
    "- **Weights** are `randomWeights(spec, 1)` (He-normal kernels, small random biases, the " +
      "same draw for every variant and for TensorFlow.js), pruned by `pruneNetwork`; the image " +
      "is a fixed pseudo-random one in [-1, 1).",
  );
  return { md, images };
}

/**
 * Writes the performance page and its charts.
 *
 * @param r the results of one suite run
 * @param source the path of the results file, named on the page
 * @param docsDir the docs folder (default `docs/` of this repository)
 * @returns the paths written
 */
export async function writeReport(
  r: BenchResults,
  source: string,
  docsDir: URL = new URL("../docs/", import.meta.url),
  bounds: BoundsCheckResults | undefined = undefined,
): Promise<string[]> {
  const { markdown, images } = renderReport(r, source, bounds);
  const img = new URL("img/", docsDir);
  await Deno.mkdir(img, { recursive: true });
  const written: string[] = [];
  for (const [name, svg] of Object.entries(images)) {
    const u = new URL(name, img);
    await Deno.writeTextFile(u, svg);
    written.push(u.pathname);
  }
  const page = new URL("performance.md", docsDir);
  await Deno.writeTextFile(page, markdown);
  written.push(page.pathname);
  return written;
}

/**
 * The saved bounds-check measurement (`bench/results/bounds-checks.json`), if there is one.
 */
export async function loadBoundsChecks(
  file: URL = new URL("./results/bounds-checks.json", import.meta.url),
): Promise<BoundsCheckResults | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(file)) as BoundsCheckResults;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

if (import.meta.main) {
  const path = Deno.args[0] ?? "bench/results/latest.json";
  const results = JSON.parse(await Deno.readTextFile(path)) as BenchResults;
  const bounds = await loadBoundsChecks();
  for (const p of await writeReport(results, path, undefined, bounds)) console.log(`wrote ${p}`);
}
