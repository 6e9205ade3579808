/**
 * The weights of a network spec: finding each layer's kernel and bias in a {@link WeightMap}
 * (TensorFlow layouts and Keras names, batch normalisation folded in), He-initialised random
 * weights, and magnitude pruning of the 1x1 and fully connected layers.
 * @module
 */
import type { Dense } from "./dense.ts";
import { SpecError } from "./errors.ts";
import { inferShapes, type LayerShape, type LayerSpec, type NetworkSpec } from "./network.ts";
import { pruneBlocks, pruneMagnitude } from "./prune.ts";
import { seededNormal } from "./random.ts";
import { checkNumber } from "./validate.ts";
import type { Weight, WeightMap } from "./weights.ts";

/** A layer's weights in the layouts the kernels take. */
export interface LayerWeights {
  /**
   * conv2d `[cout x 9*cin]` (row, column, input channel), depthwise `[channels x k*k]`,
   * conv1x1 and fullyConnected `[cout x cin]`.
   */
  readonly kernel: Dense;
  /** One value per output channel (zeros when the map has none). */
  readonly bias: Float32Array;
}

/** The TensorFlow shape of a layer's kernel; `undefined` for layers with no weights. */
export function kernelShape(s: LayerShape): number[] | undefined {
  switch (s.layer.kind) {
    case "conv2d":
      return [3, 3, s.cin, s.cout];
    case "depthwise":
      return [s.window!.kernel, s.window!.kernel, s.cin, 1];
    case "conv1x1":
      return [1, 1, s.cin, s.cout];
    case "fullyConnected":
      return [s.cin, s.cout];
    default:
      return undefined;
  }
}

/** The names a layer's kernel may have, in the order they are tried. */
function kernelNames(layer: LayerSpec): string[] {
  if (layer.weights?.kernel !== undefined) return [layer.weights.kernel];
  return layer.kind === "depthwise"
    ? [`${layer.name}/depthwise_kernel`, `${layer.name}/kernel`]
    : [`${layer.name}/kernel`];
}

function biasName(layer: LayerSpec): string {
  return layer.weights?.bias ?? `${layer.name}/bias`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Transposes a TensorFlow kernel, seen as `[rest x cout]` (the last axis is the output
 * channel; for depthwise, the input channel), into `[cout x rest]`.
 */
function transpose(data: Float32Array, cout: number): Float32Array {
  const rest = cout === 0 ? 0 : data.length / cout;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rest; r++) {
    for (let o = 0; o < cout; o++) out[o * rest + r] = data[r * cout + o];
  }
  return out;
}

/**
 * A layer's kernel and bias from a weight map, in the kernels' layouts, with any batch
 * normalisation folded in: `w' = w * gamma / sqrt(var + eps)`,
 * `b' = (b - mean) * gamma / sqrt(var + eps) + beta`.
 *
 * @throws {SpecError} naming the layer and the weight when the kernel is missing, a weight
 *   has the wrong shape, or a batch normalisation is only partly there
 */
export function layerWeights(s: LayerShape, weights: WeightMap): LayerWeights | undefined {
  const shape = kernelShape(s);
  if (shape === undefined) return undefined;
  const layer = s.layer;
  const where = { layer: layer.name, index: s.index };
  const names = kernelNames(layer);
  const name = names.find((n) => weights.has(n));
  if (name === undefined) {
    throw new SpecError({ ...where, argument: names[0] }, "missing weight");
  }
  let kw = weights.get(name)!;
  // A fully connected layer stored as a 1x1 convolution (MobileNet v1's classifier).
  if (layer.kind === "fullyConnected" && sameShape(kw.shape, [1, 1, s.cin, s.cout])) {
    kw = { shape: [s.cin, s.cout], data: kw.data };
  }
  expectShape(kw, shape, name, where);
  const cout = s.cout; // for depthwise, the channels (TensorFlow's third axis)
  const kernel = transpose(kw.data, cout);
  const bias = new Float32Array(cout);
  const b = weights.get(biasName(layer));
  if (b !== undefined) {
    expectShape(b, [cout], biasName(layer), where);
    bias.set(b.data);
  }
  const bn = layer.weights?.batchNorm;
  if (bn !== undefined) foldBatchNorm(bn, layer.weights?.epsilon, weights, kernel, bias, where);
  const rest = cout === 0 ? 0 : kernel.length / cout;
  return { kernel: Object.freeze({ rows: cout, cols: rest, data: kernel }), bias };
}

function expectShape(
  w: Weight,
  shape: readonly number[],
  name: string,
  where: { layer: string; index: number },
): void {
  if (!sameShape(w.shape, shape)) {
    throw new SpecError(
      { ...where, argument: name, value: `[${w.shape}]` },
      `expected shape [${shape}]`,
    );
  }
}

const BN_PARTS = ["gamma", "beta", "moving_mean", "moving_variance"] as const;

function foldBatchNorm(
  prefix: string,
  epsilon: number | undefined,
  weights: WeightMap,
  kernel: Float32Array,
  bias: Float32Array,
  where: { layer: string; index: number },
): void {
  const found = BN_PARTS.map((p) => weights.get(`${prefix}/${p}`));
  if (found.every((w) => w === undefined)) return; // already folded, or never there
  const cout = bias.length;
  const [gamma, beta, mean, variance] = found.map((w, i) => {
    const name = `${prefix}/${BN_PARTS[i]}`;
    if (w === undefined) {
      throw new SpecError(
        { ...where, argument: name },
        "missing (the rest of the batch norm is there)",
      );
    }
    expectShape(w, [cout], name, where);
    return w.data;
  });
  const eps = checkNumber("epsilon", epsilon ?? 1e-3);
  const rest = cout === 0 ? 0 : kernel.length / cout;
  for (let o = 0; o < cout; o++) {
    const v = variance[o] + eps;
    if (!(v > 0)) {
      throw new SpecError(
        { ...where, argument: `${prefix}/moving_variance`, index: o, value: variance[o] },
        "variance + epsilon must be positive",
      );
    }
    const scale = gamma[o] / Math.sqrt(v);
    for (let r = 0; r < rest; r++) kernel[o * rest + r] *= scale;
    bias[o] = (bias[o] - mean[o]) * scale + beta[o];
  }
}

/**
 * He-initialised random weights for a spec, in TensorFlow layouts at the layers' default
 * names: kernels normal with standard deviation `sqrt(2 / fanIn)`, biases normal with
 * standard deviation 0.1. Deterministic for a seed.
 *
 * @example Random weights for a two-layer spec
 * ```ts
 * import { randomWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const w = randomWeights({
 *   input: { height: 4, width: 4, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 8 },
 *     { kind: "depthwise", name: "dw" },
 *   ],
 * }, 1);
 * assert.deepEqual(w.get("stem/kernel")?.shape, [3, 3, 3, 8]);
 * assert.deepEqual(w.get("dw/depthwise_kernel")?.shape, [3, 3, 8, 1]);
 * ```
 */
export function randomWeights(spec: NetworkSpec, seed = 1): Map<string, Weight> {
  const normal = seededNormal(seed);
  const out = new Map<string, Weight>();
  for (const s of inferShapes(spec)) {
    const shape = kernelShape(s);
    if (shape === undefined) continue;
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1) /
      (s.layer.kind === "depthwise" ? s.cin : 1);
    const std = Math.sqrt(2 / fanIn);
    const n = shape.reduce((a, b) => a * b, 1);
    const kernel = new Float32Array(n);
    for (let i = 0; i < n; i++) kernel[i] = normal() * std;
    const cout = s.cout;
    const bias = new Float32Array(cout);
    for (let i = 0; i < cout; i++) bias[i] = normal() * 0.1;
    out.set(kernelNames(s.layer)[0], { shape, data: kernel });
    out.set(biasName(s.layer), { shape: [cout], data: bias });
  }
  return out;
}

/** Options of {@link pruneNetwork}. */
export interface PruneNetworkOptions {
  /** Fraction of weights to zero in each 1x1 and fully connected layer, in [0, 1]. */
  readonly sparsity: number;
  /**
   * 1 (default): unstructured magnitude pruning; 2 or 4: keep whole blocks of that many
   * consecutive output channels (the 1x4 blocks the blocked kernels run fastest).
   */
  readonly block?: 1 | 2 | 4;
  /** Also prune the fully connected layers; default true. */
  readonly fullyConnected?: boolean;
}

/**
 * Magnitude-prunes the 1x1 convolutions (and fully connected layers) of a network, leaving
 * the first convolution and the depthwise layers dense, as "Fast Sparse ConvNets" does.
 * Returns a new map; the given one is not changed.
 *
 * @example 90% sparse 1x1 layers in 1x4 blocks
 * ```ts
 * import { pruneNetwork, randomWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   input: { height: 4, width: 4, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 8 },
 *     { kind: "conv1x1", name: "pw", outChannels: 40 },
 *   ],
 * } as const;
 * const pruned = pruneNetwork(spec, randomWeights(spec), { sparsity: 0.9, block: 4 });
 * const zeros = pruned.get("pw/kernel")!.data.filter((v) => v === 0).length;
 * assert.equal(zeros, 288); // 90% of 8*40
 * ```
 */
export function pruneNetwork(
  spec: NetworkSpec,
  weights: WeightMap,
  options: PruneNetworkOptions,
): Map<string, Weight> {
  const out = new Map(weights);
  const block = options.block ?? 1;
  for (const s of inferShapes(spec)) {
    const kind = s.layer.kind;
    if (kind !== "conv1x1" && !(kind === "fullyConnected" && options.fullyConnected !== false)) {
      continue;
    }
    const name = kernelNames(s.layer)[0];
    const w = weights.get(name);
    if (w === undefined) {
      throw new SpecError(
        { layer: s.layer.name, index: s.index, argument: name },
        "missing weight",
      );
    }
    const ours: Dense = Object.freeze({
      rows: s.cout,
      cols: s.cin,
      data: transpose(w.data, s.cout),
    });
    const pruned = block === 1
      ? pruneMagnitude(ours, options.sparsity)
      : pruneBlocks(ours, options.sparsity, { block });
    out.set(name, { shape: w.shape, data: transpose(pruned.data, s.cin) });
  }
  return out;
}
