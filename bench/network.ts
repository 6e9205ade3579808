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
import { measure, type MeasureOptions, quantile } from "./layers.ts";

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

/** Options of {@link benchNetwork}. */
export interface NetworkBenchOptions {
  /** Time budget for latency samples, ms (default 3000). */
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

/** Latency and per-layer medians of one compiled network. */
export function timeNetwork(
  net: Network,
  input: Float32Array,
  options: NetworkBenchOptions = {},
): Pick<NetworkResult, "medianMs" | "minMs" | "maxMs" | "samples" | "layers"> {
  const m = measure(() => net.run(input), latencyOptions(options.budgetMs ?? 3000));
  const runs = options.profileRuns ?? 15;
  const per: number[][] = net.shapes.map(() => []);
  for (let r = 0; r < runs; r++) {
    net.profile(input).layers.forEach((l, i) => per[i].push(l.ms));
  }
  const layers = net.shapes.map((s, i) => ({
    name: s.layer.name,
    kind: s.layer.kind,
    path: net.paths[i],
    shape: `${s.cout}x${s.height}x${s.width}`,
    medianMs: quantile(per[i].sort((a, b) => a - b), 0.5),
  }));
  return {
    medianMs: m.median * 1e3,
    minMs: m.min * 1e3,
    maxMs: m.max * 1e3,
    samples: m.samples,
    layers,
  };
}

/** Compiles, times and (optionally) verifies one variant of a network. */
export function benchNetwork(
  backend: Backend,
  spec: NetworkSpec,
  v: Variant,
  options: NetworkBenchOptions = {},
): NetworkResult {
  const weights = variantWeights(spec, v);
  const input = image(spec);
  using net = compileNetwork(spec, weights, { backend, mode: v.mode });
  options.progress?.(`${spec.name} ${v.id}: timing`);
  const timed = timeNetwork(net, input, options);
  let maxRatio: number | undefined, relDiff: number | undefined;
  if (options.verify ?? true) {
    options.progress?.(`${spec.name} ${v.id}: checking against the reference`);
    const trace = net.trace(input);
    maxRatio = Math.max(...compareLayers(spec, weights, input, trace).map((l) => l.ratio));
    const want = referenceNetwork(spec, weights, input).output.data;
    relDiff = relativeDiff(net.run(input).data, want);
  }
  return {
    network: spec.name ?? "network",
    variant: v.id,
    label: v.label,
    ...timed,
    maxRatio,
    relDiff,
  };
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
