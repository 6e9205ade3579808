/**
 * Tuning harness for the depthwise kernels: the thirteen MobileNet v1 depthwise layers on
 * resident tensors, GFLOP/s = 2 * 9 * C * output pixels / t (median of rounds). Several builds
 * of the kernel module can be compared in one run (rounds interleaved, so machine noise hits
 * them alike).
 *
 * Usage: deno run -A bench/dw_tune.ts [--flavour relaxed] [--rounds 15] [DIR ...]
 * DIR: folders holding sparsekit.<flavour>.wasm (default: as/build).
 * @module
 */
import { tuneSetup } from "./tune.ts";
import { DEPTHWISE_LAYERS, describe, setupDepthwise } from "./chw_bench.ts";

const { opts, dirs, backends } = await tuneSetup({ flavour: "relaxed", rounds: "15" });
const rounds = Number(opts.rounds);
const runs = backends.map((be) => DEPTHWISE_LAYERS.map((layer) => setupDepthwise(be, layer)));
// Warm-up: optimised code replaces the baseline tier only after a while.
for (const r of runs) {
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) for (const f of r) f();
}
/** Milliseconds per call of `f` over a batch of about 5 ms. */
function batch(f: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    f();
    n++;
    t = performance.now();
  } while (t - t0 < 5);
  return (t - t0) / n;
}
const samples = runs.map((r) => r.map(() => [] as number[]));
for (let k = 0; k < rounds; k++) {
  for (let l = 0; l < DEPTHWISE_LAYERS.length; l++) {
    for (let b = 0; b < runs.length; b++) samples[b][l].push(batch(runs[b][l]));
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const head = ["layer".padEnd(18), ...dirs.map((d) => d.split("/").pop()!.padStart(16))];
console.log(head.join(""));
const totals = dirs.map(() => 0);
DEPTHWISE_LAYERS.forEach((layer, l) => {
  const { name, flops } = describe(layer);
  const cells = samples.map((s, b) => {
    const ms = median(s[l]);
    totals[b] += ms;
    return `${ms.toFixed(4)} ${(flops / ms / 1e6).toFixed(1).padStart(5)}`.padStart(16);
  });
  console.log(name.padEnd(18) + cells.join(""));
});
console.log("sum ms".padEnd(18) + totals.map((t) => t.toFixed(4).padStart(16)).join(""));
