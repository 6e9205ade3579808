// End-to-end network benchmarks shared by the demo and the suite: MobileNet v1/v2 at 224,
// dense, 90% unstructured and 90% in 1x4 blocks, with median latency, a per-layer breakdown,
// and the check against the reference network.
import {
  type Backend,
  compareLayers,
  compileNetwork,
  type Network,
  type NetworkSpec,
  pruneNetwork,
  randomWeights,
  referenceNetwork,
  seededRandom,
  type Weight,
} from "../mod.ts";
import { type Measurement, type MeasureOptions, quantile, summarize, warmUp } from "./layers.ts";

/** One way of running a network. */
export interface Variant {
  /** Short id, used in the JSON and the report. */
  readonly id: "dense" | "u90" | "b4-90";
  /** Human label. */
  readonly label: string;
  /** How the 1x1 and fully connected layers run. */
  readonly mode: "dense" | "sparse";
  /** Pruning applied to the weights first, if any. */
  readonly prune?: { readonly sparsity: number; readonly block: 1 | 4 };
}

/** Dense, 90% unstructured, 90% in 1x4 blocks. */
export const VARIANTS: readonly Variant[] = Object.freeze([
  { id: "dense", label: "dense (wasm GEMM 1x1)", mode: "dense" },
  {
    id: "u90",
    label: "90% sparse, unstructured",
    mode: "sparse",
    prune: { sparsity: 0.9, block: 1 },
  },
  {
    id: "b4-90",
    label: "90% sparse, 1x4 blocks",
    mode: "sparse",
    prune: { sparsity: 0.9, block: 4 },
  },
]);

/** One layer's median time in a variant. */
export interface LayerResult {
  readonly name: string;
  readonly kind: string;
  readonly path: string;
  /** Output channels x height x width, e.g. "64x112x112". */
  readonly shape: string;
  readonly medianMs: number;
}

/** A variant's result. */
export interface NetworkResult {
  readonly network: string;
  readonly variant: Variant["id"];
  readonly label: string;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly samples: number;
  readonly layers: LayerResult[];
  /** Largest per-layer difference / bound ratio (at most 1 when every layer is right). */
  readonly maxRatio?: number;
  /** Largest |output - reference output| over the largest |reference output|. */
  readonly relDiff?: number;
}

/** A deterministic image in [-1, 1). */
export function image(spec: NetworkSpec, seed = 1): Float32Array {
  const rand = seededRandom(seed);
  const { height, width, channels } = spec.input;
  return Float32Array.from({ length: height * width * channels }, () => rand() * 2 - 1);
}

/** The weights of every variant of a spec, from one random draw. */
export function variantWeights(spec: NetworkSpec, v: Variant, seed = 1): Map<string, Weight> {
  const w = randomWeights(spec, seed);
  return v.prune ? pruneNetwork(spec, w, v.prune) : w;
}

/** Options of {@link benchVariants}. */
export interface NetworkBenchOptions {
  /** Time budget for latency samples, ms per network timed (default 3000). */
  readonly budgetMs?: number;
  /** Profiled runs for the per-layer medians (default 15). */
  readonly profileRuns?: number;
  /** Check every layer against the reference, and the output end to end (default true). */
  readonly verify?: boolean;
  /** Called with a line of progress. */
  readonly progress?: (what: string) => void;
}

/**
 * How a whole network's latency is sampled (ours and TensorFlow.js's alike): every sample one
 * call, at least 9 and at most 61 samples within the budget.
 */
export function latencyOptions(budgetMs: number): Required<
  Pick<MeasureOptions, "warmupMs" | "minSampleMs" | "minSamples" | "maxSamples" | "budgetMs">
> {
  return { warmupMs: 300, minSampleMs: 0, minSamples: 9, maxSamples: 61, budgetMs };
}

/** Largest |a - b| over the largest |b| (NaN when the lengths differ). */
export function relativeDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/**
 * Latency of several functions sampled in turn, so that a slow phase of a shared host falls on
 * all of them alike and their ratios hold (timed one after the other, such a phase could land on
 * one variant only). Each is warmed up first. A round gives each function one untimed call (its
 * weights back in cache after the others ran) and then `perRound` timed calls, one sample each;
 * rounds run until every function has `minSamples` samples and the budget (`budgetMs` per
 * function) is spent, or it has `maxSamples`.
 */
export function interleavedLatency(
  fns: readonly (() => unknown)[],
  budgetMs: number,
  perRound = 5,
): Measurement[] {
  const { warmupMs, minSamples, maxSamples } = latencyOptions(budgetMs);
  for (const fn of fns) warmUp(fn, { minMs: warmupMs });
  const times: number[][] = fns.map(() => []);
  const s0 = performance.now();
  let n = 0;
  while (n < maxSamples && (n < minSamples || performance.now() - s0 < budgetMs * fns.length)) {
    const k = Math.min(perRound, maxSamples - n);
    fns.forEach((fn, i) => {
      fn();
      for (let j = 0; j < k; j++) {
        const t0 = performance.now();
        fn();
        times[i].push((performance.now() - t0) / 1000);
      }
    });
    n += k;
  }
  return times.map((t) => summarize(t, 1));
}

/** Per-layer medians of a compiled network over `runs` profiled runs. */
export function layerTimes(net: Network, input: Float32Array, runs: number): LayerResult[] {
  const per: number[][] = net.shapes.map(() => []);
  for (let r = 0; r < runs; r++) {
    net.profile(input).layers.forEach((l, i) => per[i].push(l.ms));
  }
  return net.shapes.map((s, i) => ({
    name: s.layer.name,
    kind: s.layer.kind,
    path: net.paths[i],
    shape: `${s.cout}x${s.height}x${s.width}`,
    medianMs: quantile(per[i].sort((a, b) => a - b), 0.5),
  }));
}

/** A variant's result, or why it failed. */
export type VariantOutcome =
  | { readonly ok: true; readonly result: NetworkResult }
  | { readonly ok: false; readonly variant: Variant; readonly error: unknown };

/**
 * Compiles every variant of a network, samples their latencies interleaved (with `others`, e.g.
 * TensorFlow.js's network, in the same rounds), then times each variant's layers and (optionally)
 * checks it against the reference. A variant that fails to compile or run is reported, not
 * thrown.
 */
export function benchVariants(
  backend: Backend,
  spec: NetworkSpec,
  variants: readonly Variant[],
  options: NetworkBenchOptions = {},
  others: readonly (() => unknown)[] = [],
): { variants: VariantOutcome[]; others: Measurement[] } {
  const input = image(spec);
  // Each variant compiled, or why it failed to compile; in the order given.
  type Compiled = { v: Variant; weights: Map<string, Weight>; net: Network };
  const slots = variants.map((v): Compiled | { v: Variant; error: unknown } => {
    try {
      const weights = variantWeights(spec, v);
      return { v, weights, net: compileNetwork(spec, weights, { backend, mode: v.mode }) };
    } catch (error) {
      return { v, error };
    }
  });
  const compiled = slots.filter((c): c is Compiled => "net" in c);
  try {
    options.progress?.(`${spec.name}: timing ${compiled.map((c) => c.v.id).join(", ")}`);
    const runs = compiled.map(({ net }) => () => net.run(input));
    const lat = interleavedLatency([...runs, ...others], options.budgetMs ?? 3000);
    const outcomes = slots.map((c): VariantOutcome => {
      if (!("net" in c)) return { ok: false, variant: c.v, error: c.error };
      const { v, weights, net } = c;
      try {
        const layers = layerTimes(net, input, options.profileRuns ?? 15);
        let maxRatio: number | undefined, relDiff: number | undefined;
        if (options.verify ?? true) {
          options.progress?.(`${spec.name} ${v.id}: checking against the reference`);
          const trace = net.trace(input);
          maxRatio = Math.max(...compareLayers(spec, weights, input, trace).map((l) => l.ratio));
          const want = referenceNetwork(spec, weights, input).output.data;
          relDiff = relativeDiff(net.run(input).data, want);
        }
        const m = lat[compiled.indexOf(c)];
        const result: NetworkResult = {
          network: spec.name ?? "network",
          variant: v.id,
          label: v.label,
          medianMs: m.median * 1e3,
          minMs: m.min * 1e3,
          maxMs: m.max * 1e3,
          samples: m.samples,
          layers,
          maxRatio,
          relDiff,
        };
        return { ok: true, result };
      } catch (error) {
        return { ok: false, variant: v, error };
      }
    });
    return { variants: outcomes, others: lat.slice(runs.length) };
  } finally {
    for (const { net } of compiled) net.dispose();
  }
}

/**
 * Classifiers that Keras stores as a 1x1 convolution: MobileNet v1's `conv_preds`
 * (`[1, 1, 1024, classes]`). MobileNet v2's `Logits` is a Dense layer (`[1280, classes]`).
 */
const KERAS_CONV_CLASSIFIERS: ReadonlySet<string> = new Set(["conv_preds"]);

/**
 * A network's weights in the layouts the tfjs harness (bench/tfjs.ts) takes, which are Keras's:
 * as ours, except that a fully connected layer Keras stores as a 1x1 convolution (MobileNet v1's
 * `conv_preds`) gets its kernel reshaped to `[1, 1, cin, units]`; MobileNet v2's `Logits` stays
 * `[1280, units]`. The data are shared, not copied.
 */
export function tfjsWeights(
  spec: NetworkSpec,
  weights: ReadonlyMap<string, Weight>,
): Map<string, Weight> {
  const out = new Map(weights);
  for (const layer of spec.layers) {
    if (layer.kind !== "fullyConnected" || !KERAS_CONV_CLASSIFIERS.has(layer.name)) continue;
    const name = layer.weights?.kernel ?? `${layer.name}/kernel`;
    const k = weights.get(name);
    if (k === undefined || k.shape.length !== 2) continue; // missing: the harness names it
    out.set(name, { shape: [1, 1, ...k.shape], data: k.data });
  }
  return out;
}
