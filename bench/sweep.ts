// The 1x1 layer sweep (deno run --allow-read --allow-sys=hostname,osRelease,cpus bench/sweep.ts):
// every MobileNet v1 1x1 layer, sparse configurations and dense GEMM on the best flavour, with a
// progress display, then a table and geometric means.
import { init } from "../mod.ts";
import {
  CONFIGS,
  geomean,
  LAYERS,
  measure,
  type Measurement,
  setupLayer,
  type Workload,
} from "./layers.ts";
import { measureRoofline, type ProbeFlavour } from "./roofline.ts";

const encoder = new TextEncoder();
const tty = Deno.stderr.isTerminal();

/** Redraws the bar in place on a terminal; elsewhere prints finished steps only, one a line. */
function status(done: number, total: number, what: string, final = false, started = false): void {
  if (tty) {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const line = `[${bar}] ${String(done).padStart(2)}/${total} ${what}`;
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
  } else if (!started) {
    Deno.stderr.writeSync(encoder.encode(`${done}/${total} ${what}\n`));
  }
}

const backend = await init();
const flavour = backend.flavour;
const probe: ProbeFlavour | undefined = flavour === "relaxed" || flavour === "simd"
  ? flavour
  : undefined;
const total = LAYERS.length * (CONFIGS.length + 1) + (probe ? 1 : 0);
let done = 0;
const t0 = performance.now();

let peak: number | undefined;
if (probe) {
  status(done, total, `measuring the ${probe} peak`, false, true);
  peak = (await measureRoofline(probe, { quick: true })).peakGflops;
  status(++done, total, `peak ${peak.toFixed(1)} GFLOP/s`);
}

interface Row {
  readonly work: Workload;
  readonly time: Measurement;
}

const rows: Row[] = [];
let denseKind = "gemm";
for (const layer of LAYERS) {
  using setup = setupLayer(backend, layer, CONFIGS);
  for (const work of [setup.dense!, ...setup.sparse]) {
    status(done, total, `${layer.name} ${work.config}`, false, true);
    const time = measure(work.run, { warmupMs: 60, budgetMs: 150, maxSamples: 41 });
    rows.push({ work, time });
    if (work.denseKind) denseKind = work.denseKind;
    status(++done, total, `${layer.name} ${work.config}`);
  }
}
status(total, total, `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`, true);

const gflops = (w: Workload, s: number) => w.flops / s / 1e9;
const denseOf = (layer: string) =>
  rows.find((r) => r.work.layer.name === layer && r.work.config === "dense")!;

function cell(s: string | number, n: number): string {
  return String(s).padStart(n);
}

const header = [
  "layer".padEnd(17),
  "config".padEnd(6),
  cell("time ms", 9),
  cell("GFLOP/s", 8),
  cell("dense-eq", 9),
  cell("% peak", 7),
  cell("vs dense", 9),
].join(" ");
console.log(
  `\nsparsekit ${flavour} on ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}; ` +
    `median times; dense = ${denseKind === "gemm" ? "wasm GEMM" : denseKind}` +
    (peak ? `; peak ${peak.toFixed(1)} GFLOP/s` : ""),
);
console.log(header);
console.log("-".repeat(header.length));
for (const { work, time } of rows) {
  const s = time.median;
  const eff = gflops(work, s);
  const d = denseOf(work.layer.name).time.median;
  console.log([
    (work.config === "dense" ? work.layer.name : "").padEnd(17),
    work.config.padEnd(6),
    cell((s * 1e3).toFixed(3), 9),
    cell(eff.toFixed(1), 8),
    cell((work.denseFlops / s / 1e9).toFixed(1), 9),
    cell(peak ? `${((eff / peak) * 100).toFixed(1)}%` : "–", 7),
    cell(work.config === "dense" ? "1.00x" : `${(d / s).toFixed(2)}x`, 9),
  ].join(" "));
}

console.log(`\ngeometric means over the ${LAYERS.length} layers`);
console.log(header.replace("layer", "     ").replace("time ms", "       "));
for (const id of ["dense", ...CONFIGS.map((c) => c.id)]) {
  const rs = rows.filter((r) => r.work.config === id);
  const eff = geomean(rs.map((r) => gflops(r.work, r.time.median)));
  const deq = geomean(rs.map((r) => r.work.denseFlops / r.time.median / 1e9));
  const speed = geomean(rs.map((r) => denseOf(r.work.layer.name).time.median / r.time.median));
  console.log([
    "".padEnd(17),
    id.padEnd(6),
    cell("", 9),
    cell(eff.toFixed(1), 8),
    cell(deq.toFixed(1), 9),
    cell(peak ? `${((eff / peak) * 100).toFixed(1)}%` : "–", 7),
    cell(`${speed.toFixed(2)}x`, 9),
  ].join(" "));
}
console.log(
  "\nu70..u95: unstructured magnitude pruning; b4-90: 90% in 1x4 output-channel blocks. " +
    "Effective GFLOP/s counts 2*nnz*HW; dense-eq counts 2*Cout*Cin*HW. " +
    "Full report: deno task bench (docs/performance.md).",
);
