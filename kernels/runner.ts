/**
 * The CHW network runner: a spec and its weights compile once into a {@link Network} that
 * holds every layer's Plan (or dense weights) and the activations in the backend's memory;
 * `run(input)` then copies the images in, runs the layers with no copies between them, and
 * copies the result out.
 * @module
 */
import {
  type Backend,
  type PreparedPlan,
  type Tensor,
  TENSOR_VIEW,
  type TensorView,
} from "./backend.ts";
import type { Dense } from "./dense.ts";
import { SpecError } from "./errors.ts";
import { jsBackend } from "./js.ts";
import {
  batchMajor,
  endsPooled,
  inferShapes,
  type LayerShape,
  type NetworkSpec,
} from "./network.ts";
import { layerWeights } from "./network_weights.ts";
import { type BlockSize, type Conv1x1Plan, packConv1x1 } from "./pack.ts";
import type { Window } from "./spatial.ts";
import { checkLength, checkSize, type NumberArray, toFloat32 } from "./validate.ts";
import type { WeightMap } from "./weights.ts";

/** Options of {@link compileNetwork}. */
export interface CompileOptions {
  /** The backend to run on; default the TypeScript backend (pass one from `init()`). */
  readonly backend?: Backend;
  /** Images per run; default 1. */
  readonly batch?: number;
  /**
   * How the 1x1 convolutions and fully connected layers run: `"sparse"` (packed plans),
   * `"dense"` (the dense GEMM), or `"auto"` (default): sparse where at most
   * {@link SPARSE_DENSITY_LIMIT} of the weights are nonzero.
   */
  readonly mode?: "auto" | "sparse" | "dense";
  /** Output-channel block size of the sparse plans; default `"auto"` (see `packConv1x1`). */
  readonly blockSize?: BlockSize | "auto";
}

/** Above this fraction of nonzero weights, `mode: "auto"` runs a layer on the dense GEMM. */
export const SPARSE_DENSITY_LIMIT = 0.5;

/** One layer's share of a profiled run. */
export interface LayerTime {
  /** The layer's name. */
  readonly name: string;
  /** Its kind. */
  readonly kind: string;
  /** How it ran: `"sparse"`, `"dense"`, or the kind for the other layers. */
  readonly path: string;
  /** Milliseconds it took. */
  readonly ms: number;
}

/**
 * A compiled network. `run` is a pure function of its input; the network owns backend memory
 * until `dispose()` (or a `using` declaration).
 */
export interface Network extends Disposable {
  /** The spec it was compiled from. */
  readonly spec: NetworkSpec;
  /** The backend it runs on. */
  readonly backend: Backend;
  /** Images per run. */
  readonly batch: number;
  /** Every layer's checked shape. */
  readonly shapes: readonly LayerShape[];
  /** How each layer runs (`"sparse"`, `"dense"`, or its kind), in order. */
  readonly paths: readonly string[];
  /** Whether `dispose()` has been called. */
  readonly disposed: boolean;
  /**
   * Runs the network on `batch` HWC images laid end to end
   * (`batch * height * width * channels` values). A network that ends pooled returns
   * `[batch x features]` (one row per image, e.g. the logits); otherwise the last CHW
   * activation `[channels x batch*height*width]`.
   */
  run(input: NumberArray | Dense): Dense;
  /**
   * Runs the network and returns every layer's output, `[channels x batch*height*width]`
   * (copied out after each layer; for checking and debugging, see `compareLayers`).
   */
  trace(input: NumberArray | Dense): Dense[];
  /** Like `run`, and times every layer. */
  profile(input: NumberArray | Dense): { output: Dense; layers: LayerTime[] };
  /** Frees the backend memory. Idempotent. */
  dispose(): void;
}

/**
 * The input as finite f32 values: a Float32Array that is all finite is used as it is (the
 * upload copies it), anything else is converted by `toFloat32`, which names the first bad
 * element. `x * 0` is 0 for every finite x and NaN otherwise, so one sum tests them all.
 */
function finiteImages(data: NumberArray): Float32Array {
  if (data instanceof Float32Array) {
    // x * 0 is 0 for every finite x and NaN otherwise; four sums keep the adds independent
    // (one sum made this check cost a few per cent of a MobileNet run).
    let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
    const n = data.length;
    const m = n - n % 4;
    let i = 0;
    for (; i < m; i += 4) {
      z0 += data[i] * 0;
      z1 += data[i + 1] * 0;
      z2 += data[i + 2] * 0;
      z3 += data[i + 3] * 0;
    }
    for (; i < n; i++) z0 += data[i] * 0;
    if (z0 + z1 + z2 + z3 === 0) return data;
  }
  return toFloat32("input", data);
}

function withBatch(w: Window, batch: number): Window {
  return Object.freeze({ ...w, batch });
}

/**
 * @internal The resident operations the layer builder needs, with the CPU {@link Backend}'s
 * signatures: the Backend itself (each call runs at once and returns its output), or the GPU
 * encoder (each call returns dispatches to submit later). `T` is the resident tensor type,
 * `P` the prepared plan, `R` what an operator returns.
 */
export interface LayerOps<T extends Disposable, P extends Disposable, R> {
  /** A zero-filled resident `rows x cols` tensor. */
  alloc(rows: number, cols: number): T;
  /** A resident copy of `d`. */
  upload(d: Dense): T;
  /** A Plan in the backend's memory. */
  prepare(plan: Conv1x1Plan): P;
  /** Sparse 1x1 convolution. */
  conv1x1(plan: P, x: T, out: T): R;
  /** Dense product with bias and clamp. */
  gemm(
    a: T,
    b: T,
    options: {
      readonly bias?: NumberArray;
      readonly min: number;
      readonly max: number;
      readonly out: T;
    },
  ): R;
  /** Depthwise convolution. */
  depthwise(x: T, weights: T, bias: T | undefined, out: T, window: Window): R;
  /** First-layer convolution. */
  conv2d(x: T, weights: T, bias: T | undefined, out: T, window: Window): R;
  /** Global average pooling. */
  globalAvgPool(x: T, out: T, batch: number): R;
  /** Residual add. */
  add(a: T, b: T, out: T, min: number, max: number): R;
}

/** @internal One compiled layer: its shape, how it runs, its output and the operator call. */
export interface Step<T, R> {
  /** The layer's checked shape. */
  readonly shape: LayerShape;
  /** `"sparse"`, `"dense"`, or the layer's kind. */
  readonly path: string;
  /** The layer's output tensor. */
  readonly out: T;
  /** Runs (or encodes) the layer on input `x`. */
  readonly run: (x: T) => R;
}

/**
 * @internal Checks a spec and its weights and builds every layer on `ops`: weights packed or
 * uploaded, one output tensor per layer. Shared by the CPU and GPU runners. On error, frees
 * what it made and throws.
 */
export function buildSteps<T extends Disposable, P extends Disposable, R>(
  spec: NetworkSpec,
  weights: WeightMap,
  options: Omit<CompileOptions, "backend">,
  ops: LayerOps<T, P, R>,
  view?: (base: T, rows: number, cols: number) => T,
): { shapes: LayerShape[]; batch: number; steps: Step<T, R>[]; owned: Disposable[] } {
  const shapes = inferShapes(spec);
  if (!(weights instanceof Map)) {
    throw new SpecError({ argument: "weights", value: weights }, "expected a Map of weights");
  }
  const batch = checkSize("options.batch", options.batch ?? 1);
  const mode = options.mode ?? "auto";
  if (!["auto", "sparse", "dense"].includes(mode)) {
    throw new SpecError(
      { argument: "options.mode", value: mode },
      'expected "auto", "sparse" or "dense"',
    );
  }
  const owned: Disposable[] = [];
  const own = <V extends Disposable>(v: V): V => {
    owned.push(v);
    return v;
  };
  const steps: Step<T, R>[] = [];
  try {
    const outputs = view === undefined
      ? undefined
      : sharedOutputs(shapes, batch, (n) => own(ops.alloc(1, n)), view);
    for (const s of shapes) {
      const lw = layerWeights(s, weights);
      const out = outputs?.[s.index] ?? own(ops.alloc(s.cout, batch * s.height * s.width));
      const where = { layer: s.layer.name, index: s.index };
      let path: string = s.layer.kind;
      let run: (x: T) => R;
      switch (s.layer.kind) {
        case "conv2d":
        case "depthwise": {
          const w = own(ops.upload(lw!.kernel));
          const b = own(ops.upload({ rows: s.cout, cols: 1, data: lw!.bias }));
          const window = withBatch({ ...s.window!, min: s.min, max: s.max }, batch);
          run = s.layer.kind === "conv2d"
            ? (x) => ops.conv2d(x, w, b, out, window)
            : (x) => ops.depthwise(x, w, b, out, window);
          break;
        }
        case "conv1x1":
        case "fullyConnected": {
          const k = lw!.kernel;
          let nonzero = 0;
          for (let i = 0; i < k.data.length; i++) if (k.data[i] !== 0) nonzero++;
          const sparse = mode === "sparse" ||
            (mode === "auto" && nonzero <= SPARSE_DENSITY_LIMIT * k.data.length);
          const clamp = { min: s.min, max: s.max };
          if (sparse) {
            path = "sparse";
            const plan = own(ops.prepare(
              packConv1x1(k, { ...clamp, bias: lw!.bias, blockSize: options.blockSize }),
            ));
            run = (x) => ops.conv1x1(plan, x, out);
          } else {
            path = "dense";
            const w = own(ops.upload(k));
            const gemmOptions = { ...clamp, bias: lw!.bias, out };
            run = (x) => ops.gemm(w, x, gemmOptions);
          }
          break;
        }
        case "globalAvgPool":
          run = (x) => ops.globalAvgPool(x, out, batch);
          break;
        case "add": {
          const other = steps[s.from!].out;
          run = (x) => ops.add(x, other, out, s.min, s.max);
          break;
        }
        default:
          throw new SpecError({ ...where, argument: "kind" }, "unknown");
      }
      steps.push({ shape: s, path, out, run });
    }
  } catch (e) {
    for (const o of owned) o[Symbol.dispose]();
    throw e;
  }
  return { shapes, batch, steps, owned };
}

/**
 * @internal Every layer's output tensor, as views of a few buffers shared by outputs whose
 * lifetimes do not overlap, so that a run touches a few megabytes of activations that stay in
 * cache rather than a fresh buffer per layer. Layer i's output is read by layer i + 1 and by
 * any `add` that names it; the last layer's by the caller. An output takes a buffer none of
 * whose earlier owners is still to be read at its layer (so no layer writes over its own
 * inputs): the smallest such buffer that holds it, or else the largest, grown to fit.
 */
export function sharedOutputs<B, V>(
  shapes: readonly LayerShape[],
  batch: number,
  alloc: (elements: number) => B,
  view: (base: B, rows: number, cols: number) => V,
): V[] {
  const n = shapes.length;
  const lastRead = shapes.map((s) => s.index === n - 1 ? n : s.index + 1);
  for (const s of shapes) {
    if (s.from !== undefined) lastRead[s.from] = Math.max(lastRead[s.from], s.index);
  }
  const size: number[] = []; // elements of each buffer
  const busyUntil: number[] = []; // the layer that last reads each buffer's current value
  const owner: number[] = []; // the buffer of each output
  for (const s of shapes) {
    const need = s.cout * batch * s.height * s.width;
    let fit = -1;
    let largest = -1;
    for (let b = 0; b < size.length; b++) {
      if (busyUntil[b] >= s.index) continue;
      if (size[b] >= need && (fit < 0 || size[b] < size[fit])) fit = b;
      if (largest < 0 || size[b] > size[largest]) largest = b;
    }
    const b = fit >= 0 ? fit : largest >= 0 ? largest : size.length;
    size[b] = Math.max(size[b] ?? 0, need);
    busyUntil[b] = lastRead[s.index];
    owner.push(b);
  }
  const buffers = size.map((elements) => alloc(elements));
  return shapes.map((s, i) => view(buffers[owner[i]], s.cout, batch * s.height * s.width));
}

/**
 * @internal The network's input as finite f32 images of the right length, from an array or
 * a Dense.
 */
export function inputImages(input: NumberArray | Dense, length: number): Float32Array {
  const data = input !== null && typeof input === "object" && "data" in input &&
      "rows" in input
    ? input.data
    : input as NumberArray;
  return finiteImages(checkLength("input", data, length));
}

/**
 * Compiles a spec and its weights for a backend: every layer's weights are checked,
 * converted, packed (sparse 1x1 and fully connected layers) and copied into the backend's
 * memory once, and the activations get their buffers (on this package's CPU backends, shared by
 * layers whose outputs are not alive at once, so a run's activations stay in cache).
 *
 * @param spec the network
 * @param weights TensorFlow-layout weights by name (see {@link WeightNames}); for example from
 *   `randomWeights`, `pruneNetwork` or `loadTfjsWeights`
 * @throws {SpecError} naming the layer, for a bad spec or a missing or misshapen weight
 *
 * @example A small sparse network on the best backend of this host
 * ```ts
 * import { compileNetwork, init, pruneNetwork, randomWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = {
 *   input: { height: 8, width: 8, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 16, stride: 2, activation: "relu6" },
 *     { kind: "depthwise", name: "dw", activation: "relu6" },
 *     { kind: "conv1x1", name: "pw", outChannels: 32, activation: "relu6" },
 *     { kind: "globalAvgPool", name: "pool" },
 *     { kind: "fullyConnected", name: "fc", units: 10 },
 *   ],
 * } as const;
 * const weights = pruneNetwork(spec, randomWeights(spec, 7), { sparsity: 0.9 });
 * using net = compileNetwork(spec, weights, { backend: await init() });
 * const logits = net.run(new Float32Array(8 * 8 * 3).fill(0.5));
 * assert.equal(logits.rows, 1);
 * assert.equal(logits.cols, 10);
 * assert.deepEqual(net.paths, ["conv2d", "depthwise", "sparse", "globalAvgPool", "sparse"]);
 * ```
 */
export function compileNetwork(
  spec: NetworkSpec,
  weights: WeightMap,
  options: CompileOptions = {},
): Network {
  const backend = options.backend ?? jsBackend;
  const { shapes, batch, steps, owned } = buildSteps<Tensor, PreparedPlan, Tensor>(
    spec,
    weights,
    options,
    backend,
    (backend as { readonly [TENSOR_VIEW]?: TensorView })[TENSOR_VIEW],
  );
  const { height, width, channels } = spec.input;
  const pooled = endsPooled(shapes);
  const inputLength = batch * height * width * channels;
  let disposed = false;

  function execute(input: NumberArray | Dense, times?: LayerTime[], trace?: Dense[]): Dense {
    if (disposed) {
      throw new SpecError({ argument: "network", value: "disposed" }, "this network was disposed");
    }
    const images = inputImages(input, inputLength);
    using x = backend.upload({ rows: batch, cols: height * width * channels, data: images });
    let prev: Tensor = x;
    for (const step of steps) {
      const t0 = times === undefined ? 0 : performance.now();
      step.run(prev);
      if (times !== undefined) {
        times.push({
          name: step.shape.layer.name,
          kind: step.shape.layer.kind,
          path: step.path,
          ms: performance.now() - t0,
        });
      }
      prev = step.out;
      trace?.push(prev.read());
    }
    // A trace has read every layer's output already; its caller returns the trace.
    if (trace !== undefined) return trace[trace.length - 1];
    const y = prev.read();
    return pooled ? batchMajor(y, batch) : y;
  }

  const network: Network = {
    spec,
    backend,
    batch,
    shapes,
    paths: Object.freeze(steps.map((s) => s.path)),
    get disposed() {
      return disposed;
    },
    run: (input) => execute(input),
    trace(input) {
      const all: Dense[] = [];
      execute(input, undefined, all);
      return all;
    },
    profile(input) {
      const layers: LayerTime[] = [];
      const output = execute(input, layers);
      return { output, layers };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const o of owned) o[Symbol.dispose]();
    },
    [Symbol.dispose]() {
      network.dispose();
    },
  };
  return Object.freeze(network);
}
