// The benchmark workloads: MobileNet v1 (224) 1x1 layers, the sparsity configurations, seeded
// weights and activations, resident tensors and prepared plans per backend, and the timer.
// Everything is seeded, so runs on different days and hosts measure the same matrices.
import {
  type Backend,
  type Conv1x1Plan,
  type Dense,
  dense,
  packConv1x1,
  type PreparedPlan,
  pruneBlocks,
  pruneMagnitude,
  type Tensor,
} from "../mod.ts";
import { seededRandom } from "../testing.ts";

/** A 1x1 convolution layer: `[cin x pixels] -> [cout x pixels]` in CHW layout. */
export interface Layer {
  /** Short name, e.g. `"128->256 @28x28"`. */
  readonly name: string;
  /** Input channels. */
  readonly cin: number;
  /** Output channels. */
  readonly cout: number;
  /** Side of the (square) feature map. */
  readonly side: number;
  /** Pixels per channel, `side * side`. */
  readonly pixels: number;
}

function layer(cin: number, cout: number, side: number): Layer {
  return Object.freeze({
    name: `${cin}->${cout} @${side}x${side}`,
    cin,
    cout,
    side,
    pixels: side * side,
  });
}

/** The nine pointwise (1x1) layers of MobileNet v1 at 224x224 input, in network order. */
export const LAYERS: readonly Layer[] = Object.freeze([
  layer(32, 64, 112),
  layer(64, 128, 56),
  layer(128, 128, 56),
  layer(128, 256, 28),
  layer(256, 256, 28),
  layer(256, 512, 14),
  layer(512, 512, 14),
  layer(512, 1024, 7),
  layer(1024, 1024, 7),
]);

/** Identifier of a sparsity configuration. */
export type ConfigId = "u70" | "u80" | "u90" | "u95" | "b4-90";

/** How a layer's weights are made sparse and packed. */
export interface SparseConfig {
  /** Short identifier used in result files. */
  readonly id: ConfigId;
  /** Human-readable label. */
  readonly label: string;
  /** Fraction of weights set to zero. */
  readonly sparsity: number;
  /**
   * 1: unstructured magnitude pruning, packed with `blockSize: "auto"` (what a user gets);
   * 4: 1x4 output-channel block pruning, packed with `blockSize: 4`.
   */
  readonly block: 1 | 4;
}

/** The configurations benchmarked: unstructured 70/80/90/95% and 90% in 1x4 blocks. */
export const CONFIGS: readonly SparseConfig[] = Object.freeze(
  [
    { id: "u70", label: "70% unstructured", sparsity: 0.7, block: 1 },
    { id: "u80", label: "80% unstructured", sparsity: 0.8, block: 1 },
    { id: "u90", label: "90% unstructured", sparsity: 0.9, block: 1 },
    { id: "u95", label: "95% unstructured", sparsity: 0.95, block: 1 },
    { id: "b4-90", label: "90% in 1x4 blocks", sparsity: 0.9, block: 4 },
  ] as const,
);

/** Looks a configuration up by id; throws on an unknown one. */
export function config(id: ConfigId): SparseConfig {
  const c = CONFIGS.find((c) => c.id === id);
  if (c === undefined) throw new RangeError(`unknown configuration ${id}`);
  return c;
}

/** Output clamp used everywhere (ReLU6), fused into both the sparse and the dense kernels. */
export const CLAMP = Object.freeze({ min: 0, max: 6 });

/** A seeded generator of uniform numbers in [0, 1): the one in `testing.ts`. */
export const rng: (seed: number) => () => number = seededRandom;

function seedOf(l: Layer, salt: number): number {
  return (l.cin * 7919 + l.cout * 104729 + l.pixels * 31 + salt * 1000003) >>> 0;
}

const cache = new Map<string, unknown>();

function memo<T>(key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key) as T;
}

/** Dense weights `[cout x cin]` of a layer, uniform in [-1, 1), seeded by its shape. */
export function layerWeights(l: Layer): Dense {
  return memo(`w:${l.name}`, () => {
    const r = rng(seedOf(l, 1));
    const data = new Float32Array(l.cout * l.cin);
    for (let i = 0; i < data.length; i++) data[i] = 2 * r() - 1;
    return dense(l.cout, l.cin, data);
  });
}

/** Bias per output channel of a layer, uniform in [-0.5, 0.5). */
export function layerBias(l: Layer): Float32Array {
  return memo(`b:${l.name}`, () => {
    const r = rng(seedOf(l, 2));
    return Float32Array.from({ length: l.cout }, () => r() - 0.5);
  });
}

/** Activations `[cin x pixels]` of a layer, uniform in [0, 1) like the output of a ReLU. */
export function layerInput(l: Layer): Dense {
  return memo(`x:${l.name}`, () => {
    const r = rng(seedOf(l, 3));
    const data = new Float32Array(l.cin * l.pixels);
    for (let i = 0; i < data.length; i++) data[i] = r();
    return dense(l.cin, l.pixels, data);
  });
}

/** The layer's weights pruned as the configuration says (memoized: pruning is not free). */
export function prunedWeights(l: Layer, c: SparseConfig): Dense {
  return memo(`p:${l.name}:${c.id}`, () => {
    const w = layerWeights(l);
    return c.block === 1
      ? pruneMagnitude(w, c.sparsity)
      : pruneBlocks(w, c.sparsity, { block: c.block });
  });
}

/** The packed plan of a layer and configuration, with bias and ReLU6 (memoized). */
export function layerPlan(l: Layer, c: SparseConfig): Conv1x1Plan {
  return memo(`plan:${l.name}:${c.id}`, () =>
    packConv1x1(prunedWeights(l, c), {
      bias: layerBias(l),
      ...CLAMP,
      blockSize: c.block === 1 ? "auto" : c.block,
    }));
}

/** Floating-point operations of the dense layer: `2 * cout * cin * pixels`. */
export function denseFlops(l: Layer): number {
  return 2 * l.cout * l.cin * l.pixels;
}

/** What the dense baseline is: the wasm GEMM, or (where a build lacks it) a stand-in. */
export type DenseKind = "gemm" | "spmm-unpruned";

/** One runnable benchmark: a kernel call on resident operands, and what it computes. */
export interface Workload {
  /** The layer. */
  readonly layer: Layer;
  /** The sparse configuration, or `"dense"` for the dense baseline. */
  readonly config: ConfigId | "dense";
  /** For the dense baseline: what ran. */
  readonly denseKind?: DenseKind;
  /** Output-channel block size of the packed plan (dense: 0). */
  readonly blockSize: number;
  /** Real nonzero weights (dense: `cout * cin`). */
  readonly nnz: number;
  /** Weights stored, including zeros that fill partial blocks. */
  readonly stored: number;
  /** Useful work per call: `2 * nnz * pixels`. */
  readonly flops: number;
  /** Work of the dense layer: `2 * cout * cin * pixels`. */
  readonly denseFlops: number;
  /** Runs the kernel once (resident operands, no copies). */
  readonly run: () => void;
}

/** The workloads of one layer on one backend, holding backend memory until disposed. */
export interface LayerSetup extends Disposable {
  /** The layer. */
  readonly layer: Layer;
  /** The sparse workloads, in the order of the configurations asked for. */
  readonly sparse: readonly Workload[];
  /** The dense baseline, when asked for. */
  readonly dense?: Workload;
  /** Frees every tensor and plan. */
  dispose(): void;
}

const gemmSupport = new WeakMap<Backend, boolean>();

/**
 * Whether this backend's dense GEMM runs (a kernel module built before `as/gemm.ts` landed
 * has no `gemm` export, and calling it throws).
 */
export function hasGemm(backend: Backend): boolean {
  let ok = gemmSupport.get(backend);
  if (ok === undefined) {
    try {
      const y = backend.gemm(dense(1, 1, [2]), dense(1, 1, [3]));
      ok = y.data[0] === 6;
    } catch {
      ok = false;
    }
    gemmSupport.set(backend, ok);
  }
  return ok;
}

/**
 * Uploads a layer's activations, allocates its output, prepares the plan of every
 * configuration and (with `dense`) uploads the dense weights, all resident in the backend.
 *
 * @param backend where to run
 * @param l the layer
 * @param configs the sparse configurations to prepare
 * @param options `dense`: also prepare the dense baseline (default true)
 * @returns the workloads; dispose of them (or use `using`) to free the backend memory
 */
export function setupLayer(
  backend: Backend,
  l: Layer,
  configs: readonly SparseConfig[],
  options: { readonly dense?: boolean } = {},
): LayerSetup {
  const owned: Disposable[] = [];
  const x: Tensor = backend.upload(layerInput(l));
  owned.push(x);
  const y: Tensor = backend.alloc(l.cout, l.pixels);
  owned.push(y);
  const make = (
    config: ConfigId | "dense",
    p: PreparedPlan,
    extra: Partial<Workload> = {},
  ): Workload => {
    owned.push(p);
    return Object.freeze({
      layer: l,
      config,
      blockSize: p.plan.blockSize,
      nnz: p.plan.nnz,
      stored: p.plan.stored,
      flops: 2 * p.plan.nnz * l.pixels,
      denseFlops: denseFlops(l),
      run: () => void backend.conv1x1(p, x, y),
      ...extra,
    });
  };
  const sparse = configs.map((c) => make(c.id, backend.prepare(layerPlan(l, c))));
  let denseWork: Workload | undefined;
  if (options.dense ?? true) {
    const n = l.cout * l.cin;
    if (hasGemm(backend)) {
      const w = backend.upload(layerWeights(l));
      owned.push(w);
      const gemmOptions = { out: y, bias: layerBias(l), ...CLAMP };
      denseWork = Object.freeze({
        layer: l,
        config: "dense",
        denseKind: "gemm",
        blockSize: 0,
        nnz: n,
        stored: n,
        flops: denseFlops(l),
        denseFlops: denseFlops(l),
        run: () => void backend.gemm(w, x, gemmOptions),
      });
    } else {
      const plan = memo(
        `dense-plan:${l.name}`,
        () => packConv1x1(layerWeights(l), { bias: layerBias(l), ...CLAMP, blockSize: 4 }),
      );
      denseWork = make("dense", backend.prepare(plan), { denseKind: "spmm-unpruned" });
    }
  }
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    for (let i = owned.length - 1; i >= 0; i--) owned[i][Symbol.dispose]();
  };
  return { layer: l, sparse, dense: denseWork, dispose, [Symbol.dispose]: dispose };
}

/** Options of {@link measure}. */
export interface MeasureOptions {
  /** Minimum warm-up time in milliseconds, so that V8 tiers the code up (default 150). */
  readonly warmupMs?: number;
  /** Longest warm-up in milliseconds, if the speed never settles (default 3000). */
  readonly maxWarmupMs?: number;
  /** Minimum duration of one sample in milliseconds; repetitions are chosen to reach it (2). */
  readonly minSampleMs?: number;
  /** Samples to take at least (default 7). */
  readonly minSamples?: number;
  /** Samples to take at most (default 51). */
  readonly maxSamples?: number;
  /** Time budget for sampling in milliseconds, after the minimum samples (default 600). */
  readonly budgetMs?: number;
}

/** The result of {@link measure}; times are seconds per call. */
export interface Measurement {
  /** Median over the samples of the mean time per call within a sample. */
  readonly median: number;
  /** Fastest sample. */
  readonly min: number;
  /** Slowest sample. */
  readonly max: number;
  /** Median absolute deviation of the samples, relative to the median. */
  readonly relMad: number;
  /** Number of samples. */
  readonly samples: number;
  /** Calls per sample. */
  readonly reps: number;
}

/** Keeps results observable so no engine can drop the work. */
export let sink: unknown = 0;

/**
 * Runs a function in chunks until at least `minMs` have passed and three chunks in a row are
 * no faster than the best so far (or `maxMs` have passed): by then V8 has tiered the wasm and
 * JS up to TurboFan. It compiles that tier in the background, which takes longer when the
 * other core is busy, so a fixed warm-up time is not enough on a small shared machine.
 *
 * @param fn the work
 * @param options `minMs` (default 150), `maxMs` (3000), `chunkMs` (at least 5)
 * @returns the fastest chunk's milliseconds per call
 */
export function warmUp(
  fn: () => unknown,
  options: { readonly minMs?: number; readonly maxMs?: number; readonly chunkMs?: number } = {},
): number {
  const minMs = options.minMs ?? 150;
  const maxMs = Math.max(minMs, options.maxMs ?? 3000);
  const chunkMs = Math.max(options.chunkMs ?? 5, 5);
  const w0 = performance.now();
  let best = Infinity, steady = 0, calls = 0;
  while (performance.now() - w0 < maxMs) {
    let n = 0;
    const c0 = performance.now();
    do {
      sink = fn();
      n++;
    } while (performance.now() - c0 < chunkMs);
    calls += n;
    const per = (performance.now() - c0) / n;
    if (per < best * 0.97) steady = 0;
    else steady++;
    best = Math.min(best, per);
    if (calls >= 10 && steady >= 3 && performance.now() - w0 >= minMs) break;
  }
  return best;
}

/**
 * Times a function: warms it up (at least `warmupMs` and ten calls, and until its speed has
 * settled, so that V8 has tiered wasm and JS up to TurboFan), chooses repetitions so each sample lasts at least
 * `minSampleMs`, then takes samples until both the minimum count and the time budget are
 * reached (or `maxSamples`), and reports the median.
 *
 * @param fn the work; called many times
 * @param options warm-up, sample length and budget
 * @returns seconds per call: median, min, max, and the spread
 */
export function measure(fn: () => unknown, options: MeasureOptions = {}): Measurement {
  const warmupMs = options.warmupMs ?? 150;
  const minSampleMs = options.minSampleMs ?? 2;
  const minSamples = options.minSamples ?? 7;
  const maxSamples = Math.max(minSamples, options.maxSamples ?? 51);
  const budgetMs = options.budgetMs ?? 600;
  const maxWarmupMs = options.maxWarmupMs ?? 3000;
  const perCall = warmUp(fn, { minMs: warmupMs, maxMs: maxWarmupMs, chunkMs: minSampleMs });
  const reps = Math.max(1, Math.ceil(minSampleMs / Math.max(perCall, 1e-6)));
  const times: number[] = [];
  const s0 = performance.now();
  while (
    times.length < maxSamples &&
    (times.length < minSamples || performance.now() - s0 < budgetMs)
  ) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) sink = fn();
    times.push((performance.now() - t0) / 1000 / reps);
  }
  return summarize(times, reps);
}

/** The {@link Measurement} of samples (seconds per call) of `reps` calls each. */
export function summarize(times: readonly number[], reps: number): Measurement {
  const sorted = times.slice().sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const dev = sorted.map((t) => Math.abs(t - median)).sort((a, b) => a - b);
  return {
    median,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    relMad: quantile(dev, 0.5) / median,
    samples: times.length,
    reps,
  };
}

/** The q-quantile of sorted numbers (linear interpolation). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i), hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

/** Geometric mean of positive numbers (NaN if any is missing or not positive). */
export function geomean(values: readonly number[]): number {
  if (values.length === 0 || values.some((v) => !(v > 0))) return NaN;
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}
