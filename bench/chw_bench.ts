// `deno bench` over the depthwise 3x3 layers of MobileNet v1 (224x224 input, "same" padding,
// bias, ReLU6) on resident tensors: the relaxed-SIMD and SIMD flavours against the TypeScript
// backend, one group per layer. Each group name carries the layer's MFLOP (2 * 9 * channels *
// output pixels), so GFLOP/s = MFLOP / (time in ms) / 1000.
//
// Run: deno bench --allow-read bench/chw_bench.ts
//
// `deno bench` reports means, which on a shared or small host are pulled up by other processes
// (and by the garbage the TypeScript baseline leaves for the collector's threads). For the
// figures in docs, `deno run --allow-read bench/chw_bench.ts --table` times each layer in
// batches on its own and prints the median and GFLOP/s per flavour.
import { type Backend, dense, type Flavour, init, resolveWindow, type Window } from "../mod.ts";
import { seededRandom } from "../testing.ts";

/** A depthwise layer: channels, input side, stride. */
export interface DepthwiseLayer {
  readonly channels: number;
  readonly side: number;
  readonly stride: 1 | 2;
}

/** The thirteen depthwise layers of MobileNet v1 (224), in network order. */
export const DEPTHWISE_LAYERS: readonly DepthwiseLayer[] = Object.freeze([
  { channels: 32, side: 112, stride: 1 },
  { channels: 64, side: 112, stride: 2 },
  { channels: 128, side: 56, stride: 1 },
  { channels: 128, side: 56, stride: 2 },
  { channels: 256, side: 28, stride: 1 },
  { channels: 256, side: 28, stride: 2 },
  { channels: 512, side: 14, stride: 1 },
  { channels: 512, side: 14, stride: 1 },
  { channels: 512, side: 14, stride: 1 },
  { channels: 512, side: 14, stride: 1 },
  { channels: 512, side: 14, stride: 1 },
  { channels: 512, side: 14, stride: 2 },
  { channels: 1024, side: 7, stride: 1 },
]);

/** The layer's name and floating-point operations. */
export function describe(layer: DepthwiseLayer): { name: string; flops: number; window: Window } {
  const { channels, side, stride } = layer;
  const window = resolveWindow(3, { height: side, width: side, stride, min: 0, max: 6 });
  const flops = 2 * 9 * channels * window.outHeight * window.outWidth;
  return { name: `${channels}ch ${side}x${side} s${stride}`, flops, window };
}

/** Resident seeded operands of one layer on one backend, and a function running it once. */
export function setupDepthwise(backend: Backend, layer: DepthwiseLayer): () => void {
  const { channels, side } = layer;
  const { window } = describe(layer);
  const rand = seededRandom(channels * side + layer.stride);
  const values = (n: number, scale: number) =>
    Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const x = backend.upload(dense(channels, side * side, values(channels * side * side, 1)));
  const w = backend.upload(dense(channels, 9, values(channels * 9, 0.5)));
  const b = backend.upload(dense(channels, 1, values(channels, 0.1)));
  const y = backend.alloc(channels, window.outHeight * window.outWidth);
  return () => void backend.depthwise(x, w, b, y, window);
}

const FLAVOURS: Flavour[] = ["relaxed", "simd", "js"];
const backends = await Promise.all(FLAVOURS.map((flavour) => init({ flavour })));

/** Median milliseconds per run over `samples` batches of about 20 ms each. */
function medianMs(run: () => void, samples = 21): number {
  for (let i = 0; i < 3; i++) run();
  let reps = 1;
  const start = performance.now();
  for (; performance.now() - start < 20; reps++) run();
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    times.push((performance.now() - t0) / reps);
  }
  return times.sort((a, b) => a - b)[samples >> 1];
}

if (import.meta.main && Deno.args.includes("--table")) {
  // Every layer of the network (the repeated ones once per occurrence), one flavour after the
  // other, the TypeScript one last (its garbage keeps the collector busy for a while).
  const ms = backends.map((backend) =>
    DEPTHWISE_LAYERS.map((layer) => medianMs(setupDepthwise(backend, layer)))
  );
  const cell = (t: number, flops: number) => `${t.toFixed(3)} (${(flops / t / 1e6).toFixed(1)})`;
  const rows = [["layer", "MFLOP", ...FLAVOURS.map((f) => `${f} ms (GFLOP/s)`)]];
  DEPTHWISE_LAYERS.forEach((layer, l) => {
    const { name, flops } = describe(layer);
    rows.push([name, (flops / 1e6).toFixed(2), ...ms.map((m) => cell(m[l], flops))]);
  });
  const flops = DEPTHWISE_LAYERS.reduce((s, layer) => s + describe(layer).flops, 0);
  const sum = (m: number[]) => m.reduce((s, t) => s + t, 0);
  rows.push(["all 13", (flops / 1e6).toFixed(2), ...ms.map((m) => cell(sum(m), flops))]);
  for (const r of rows) console.log(r.map((c, i) => (i ? c.padStart(22) : c.padEnd(16))).join(""));
}

// The five identical 512ch 14x14 layers are measured once. Deno.bench does nothing under
// `deno run`.
const seen = new Set<string>();
for (const layer of DEPTHWISE_LAYERS) {
  const { name, flops } = describe(layer);
  if (seen.has(name)) continue;
  seen.add(name);
  const group = `depthwise 3x3 ${name} (${(flops / 1e6).toFixed(1)} MFLOP)`;
  for (const backend of backends) {
    // Set up lazily, so that `--table` and a filtered run allocate only what they measure.
    let run: (() => void) | undefined;
    Deno.bench({
      name: `${backend.flavour} ${name}`,
      group,
      baseline: backend.flavour === "js",
      fn: () => (run ??= setupDepthwise(backend, layer))(),
    });
  }
}
