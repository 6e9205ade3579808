/**
 * The dense reference network: runs a spec with the reference operators only (plain loops,
 * f64 sums), and checks a fast run layer by layer against it, each layer within a bound
 * derived from its own arithmetic. It is the oracle the network runner is tested against.
 * @module
 */
import type { Dense } from "../dense.ts";
import {
  batchMajor,
  endsPooled,
  inferShapes,
  type LayerShape,
  type NetworkSpec,
} from "../network.ts";
import { layerWeights } from "../network_weights.ts";
import type { Window } from "../spatial.ts";
import type { WeightMap } from "../weights.ts";
import {
  referenceAdd,
  referenceConv2d,
  referenceDepthwise,
  referenceGlobalAvgPool,
} from "./chw.ts";
import { referenceConv1x1 } from "./conv1x1.ts";

/** The result of {@link referenceNetwork}. */
export interface ReferenceRun {
  /** The output, laid out as `Network.run` returns it. */
  readonly output: Dense;
  /** Every layer's output, `[channels x batch*height*width]`, as `Network.trace` returns them. */
  readonly activations: readonly Dense[];
}

/** One layer's reference output and the bound on a correct f32 kernel's difference from it. */
export interface ReferenceLayer {
  /** The layer's output, `[channels x batch*height*width]`. */
  readonly y: Dense;
  /**
   * Per element, `(terms + 3) * 2^-23 * (|bias| + sum |w x|) + 2^-120`: the rounding of a
   * sum of `terms` products in f32 in any order (with or without fused multiply-add), of the
   * bias, and of the stored result, against an exact sum.
   */
  readonly bound: Float64Array;
}

const U = 2 ** -23;
const TINY = 2 ** -120;

function mapData(d: Dense, f: (v: number, i: number) => number): Dense {
  const data = new Float32Array(d.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(d.data[i], i);
  return Object.freeze({ rows: d.rows, cols: d.cols, data });
}

const abs = (d: Dense) => mapData(d, Math.abs);

/** The input of the first layer: `batch` HWC images, one per row. */
function images(spec: NetworkSpec, input: ArrayLike<number>, batch: number): Dense {
  const { height, width, channels } = spec.input;
  return Object.freeze({
    rows: batch,
    cols: height * width * channels,
    data: Float32Array.from(input),
  });
}

/**
 * Runs one layer of a checked spec with the reference operators on a given input, and bounds
 * the difference of a correct f32 kernel from the result.
 *
 * @param s the layer's shape, from `inferShapes`
 * @param weights the network's weights
 * @param x the layer's input: the previous layer's output, or for the first layer
 *   `[batch x height*width*channels]` images
 * @param batch images in the batch
 * @param from for an add layer, the output of the layer it adds
 */
export function referenceLayer(
  s: LayerShape,
  weights: WeightMap,
  x: Dense,
  batch: number,
  from?: Dense,
): ReferenceLayer {
  const lw = layerWeights(s, weights);
  const clamp = { min: s.min, max: s.max };
  const free = { min: -Infinity, max: Infinity };
  let y: Dense, mag: Dense, terms: number;
  switch (s.layer.kind) {
    case "conv2d":
    case "depthwise": {
      const op = s.layer.kind === "conv2d" ? referenceConv2d : referenceDepthwise;
      const w: Window = { ...s.window!, batch };
      const k = lw!.kernel;
      y = op(x, k, lw!.bias, { ...w, ...clamp });
      mag = op(abs(x), abs(k), lw!.bias.map(Math.abs), { ...w, ...free });
      terms = k.cols;
      break;
    }
    case "conv1x1":
    case "fullyConnected": {
      const k = lw!.kernel;
      y = referenceConv1x1(k, x, { bias: lw!.bias, ...clamp });
      mag = referenceConv1x1(abs(k), abs(x), { bias: lw!.bias.map(Math.abs) });
      terms = k.cols;
      break;
    }
    case "globalAvgPool":
      y = referenceGlobalAvgPool(x, batch);
      mag = referenceGlobalAvgPool(abs(x), batch);
      terms = batch === 0 ? 0 : x.cols / batch;
      break;
    case "add":
      y = referenceAdd(x, from!, clamp);
      mag = referenceAdd(abs(x), abs(from!));
      terms = 1;
      break;
  }
  const bound = new Float64Array(y.data.length);
  // mag is itself rounded to f32: scale by (1 + 2^-22) so that it stays an upper bound.
  const scale = (terms + 3) * U * (1 + 2 ** -22);
  for (let i = 0; i < bound.length; i++) bound[i] = scale * mag.data[i] + TINY;
  return { y, bound };
}

/**
 * Runs a network with the reference operators only. Differences between this and a fast run
 * grow through the layers (each layer's rounding is carried, and can be amplified, by the
 * layers after it), so compare a fast run layer by layer with {@link compareLayers}, where
 * every layer gets a bound from its own arithmetic.
 *
 * @param spec the network
 * @param weights TensorFlow-layout weights, as for `compileNetwork`
 * @param input `batch` HWC images laid end to end
 * @param batch images in `input`; default 1
 *
 * @example
 * ```ts
 * import { compileNetwork, randomWeights, referenceNetwork } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   input: { height: 5, width: 5, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 4, stride: 2, activation: "relu6" },
 *     { kind: "depthwise", name: "dw", kernel: 5 },
 *   ],
 * } as const;
 * const weights = randomWeights(spec, 3);
 * const input = Float32Array.from({ length: 75 }, (_, i) => Math.sin(i));
 * using net = compileNetwork(spec, weights);
 * const { output } = referenceNetwork(spec, weights, input);
 * assert.ok(net.run(input).data.every((v, i) => Math.abs(v - output.data[i]) < 1e-5));
 * ```
 */
export function referenceNetwork(
  spec: NetworkSpec,
  weights: WeightMap,
  input: ArrayLike<number>,
  batch = 1,
): ReferenceRun {
  const shapes = inferShapes(spec);
  let x = images(spec, input, batch);
  const activations: Dense[] = [];
  for (const s of shapes) {
    x = referenceLayer(s, weights, x, batch, s.from === undefined ? undefined : activations[s.from])
      .y;
    activations.push(x);
  }
  return { output: endsPooled(shapes) ? batchMajor(x, batch) : x, activations };
}

/** One layer's result in {@link compareLayers}. */
export interface LayerComparison {
  /** The layer's name. */
  readonly name: string;
  /** The largest `|got - want|` over the layer's output. */
  readonly maxError: number;
  /** The largest `|got - want| / bound`: at most 1 for a correct kernel. */
  readonly ratio: number;
  /** Where the largest ratio is (element index), or -1 for an empty output. */
  readonly at: number;
}

/**
 * Checks a fast run layer by layer: every layer's output (from `Network.trace`) against the
 * reference layer applied to the fast run's own input to that layer, within that layer's
 * bound. A ratio above 1 means a wrong result.
 *
 * @param spec the network
 * @param weights its weights
 * @param input the images the trace ran on
 * @param activations every layer's output from `Network.trace`
 * @param batch images in `input`; default 1
 *
 * @example Every layer of a small sparse network within its bound
 * ```ts
 * import { compareLayers, compileNetwork, init, pruneNetwork, randomWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   input: { height: 6, width: 6, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 8, activation: "relu6" },
 *     { kind: "conv1x1", name: "pw", outChannels: 8 },
 *     { kind: "add", name: "res", from: "stem" },
 *   ],
 * } as const;
 * const weights = pruneNetwork(spec, randomWeights(spec, 5), { sparsity: 0.8 });
 * const input = Float32Array.from({ length: 108 }, (_, i) => Math.cos(i));
 * using net = compileNetwork(spec, weights, { backend: await init() });
 * const report = compareLayers(spec, weights, input, net.trace(input));
 * assert.ok(report.every((l) => l.ratio <= 1));
 * ```
 */
export function compareLayers(
  spec: NetworkSpec,
  weights: WeightMap,
  input: ArrayLike<number>,
  activations: readonly Dense[],
  batch = 1,
): LayerComparison[] {
  const shapes = inferShapes(spec);
  const first = images(spec, input, batch);
  return shapes.map((s, i) => {
    const x = i === 0 ? first : activations[i - 1];
    const from = s.from === undefined ? undefined : activations[s.from];
    const { y, bound } = referenceLayer(s, weights, x, batch, from);
    const got = activations[i].data;
    let maxError = 0, ratio = 0, at = -1;
    for (let j = 0; j < bound.length; j++) {
      const d = Math.abs(got[j] - y.data[j]);
      maxError = Math.max(maxError, d);
      const r = Number.isNaN(d) ? Infinity : d / bound[j];
      if (at < 0 || r > ratio) {
        ratio = r;
        at = j;
      }
    }
    return { name: s.layer.name, maxError, ratio, at };
  });
}
