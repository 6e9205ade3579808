// The demo (deno task demo): MobileNet v1 at 224x224 on the best backend of this host, dense,
// 90% sparse unstructured and 90% sparse in 1x4 blocks, with a progress display; prints the
// median latency, the speed-ups, a per-layer time breakdown, and how far each run is from the
// dense reference network on the same weights.
import { init, mobileNetV1 } from "../mod.ts";
import { benchVariants, type NetworkResult, VARIANTS } from "./network.ts";

const encoder = new TextEncoder();
const tty = Deno.stderr.isTerminal();
const args = new Set(Deno.args);
const quick = args.has("--quick");

/** Redraws the progress line on a terminal; elsewhere prints each step once. */
function status(done: number, total: number, what: string, final = false): void {
  const width = 24;
  const bar = "#".repeat(Math.round((done / total) * width)).padEnd(width, ".");
  const line = `[${bar}] ${done}/${total} ${what}`;
  if (tty) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}${final ? "\n" : ""}`));
  else Deno.stderr.writeSync(encoder.encode(`${line}\n`));
}

const backend = await init();
const spec = mobileNetV1();
const steps = VARIANTS.length + 1;
let done = 0;
const t0 = performance.now();
// The variants are compiled together and their runs sampled in turn, so their ratios hold on a
// busy host; then each one's layers are timed and checked against the reference.
const outcomes = benchVariants(backend, spec, VARIANTS, {
  budgetMs: quick ? 800 : 3000,
  profileRuns: quick ? 5 : 15,
  progress: (what) => status(done++, steps, what),
}).variants;
status(steps, steps, `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`, true);
const results: NetworkResult[] = outcomes.map((o) => {
  if (!o.ok) throw o.error;
  return o.result;
});

const dense = results[0];
const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(
  `\n${spec.name}, 224x224, one image, one thread: sparsekit ${backend.flavour} on Deno ` +
    `${Deno.version.deno} (median of ${Math.min(...results.map((r) => r.samples))}+ runs)\n`,
);
console.log(
  `${"".padEnd(28)}${pad("median ms", 10)}${pad("min ms", 9)}${pad("speed-up", 10)}` +
    `${pad("max diff", 10)}${pad("layer check", 13)}`,
);
for (const r of results) {
  console.log(
    `${r.label.padEnd(28)}${pad(r.medianMs.toFixed(2), 10)}${pad(r.minMs.toFixed(2), 9)}` +
      `${pad(`${(dense.medianMs / r.medianMs).toFixed(2)}x`, 10)}` +
      `${pad(r.relDiff === undefined ? "-" : r.relDiff.toExponential(1), 10)}` +
      `${pad(r.maxRatio === undefined ? "-" : r.maxRatio <= 1 ? "ok" : "FAILED", 13)}`,
  );
}
console.log(
  "\nmax diff: largest |output - dense reference network| over the largest |reference logit|, " +
    "same (pruned) weights.\nlayer check: every layer within its rounding bound against the " +
    "reference applied to that layer's input (largest ratio " +
    `${Math.max(...results.map((r) => r.maxRatio ?? 0)).toFixed(3)} of 1).`,
);

console.log("\nper-layer median ms (profiled runs)");
console.log(
  `${"layer".padEnd(26)}${"output".padStart(13)}` +
    results.map((r) => pad(r.variant, 9)).join("") + pad("dense/u90", 11),
);
const sums = results.map(() => 0);
dense.layers.forEach((l, i) => {
  const cells = results.map((r, j) => {
    sums[j] += r.layers[i].medianMs;
    return pad(r.layers[i].medianMs.toFixed(3), 9);
  });
  const ratio = l.medianMs / results[1].layers[i].medianMs;
  console.log(
    `${`${l.name} (${l.kind === "conv1x1" ? "1x1" : l.kind})`.padEnd(26)}${pad(l.shape, 13)}` +
      cells.join("") + pad(`${ratio.toFixed(2)}x`, 11),
  );
});
console.log(`${"sum".padEnd(39)}${sums.map((s) => pad(s.toFixed(2), 9)).join("")}`);
console.log(
  "\nThe dense-vs-TensorFlow.js comparison and MobileNet v2 are in the full suite: " +
    "deno task bench (docs/performance.md).",
);
