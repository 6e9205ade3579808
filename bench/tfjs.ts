// The dense baselines: MobileNet v1 and v2 (1.0, 1000 classes) on TensorFlow.js's WebAssembly
// backend (@tensorflow/tfjs-backend-wasm, whose convolutions are XNNPACK operators), one thread,
// in this Deno process, so they can be timed next to our own kernels. v1 is written out here from
// the paper's table; v2 is built by walking our own spec (`mobileNetV2()` in ../mod.ts), so its
// layer names and structure are ours by construction.
//
// Usage: deno run -A bench/tfjs.ts [--model v1|v2] [--runs N] [--warmup N] [--size N] [--no-simd]
//
// (--allow-read is the one permission it needs: to read the .wasm out of the npm cache.)
//
// Loading under Deno. Deno resolves the npm package through its "main" field to
// dist/tf-backend-wasm.node.js, the Node bundle, and runs it under Node compatibility: the
// Emscripten glue sees `process.versions.node`, takes its Node path and reads the binary with
// `fs.readFileSync` from the package's own dist/ folder in Deno's npm cache. That needs read
// permission on that folder (Deno lets npm code *import* from its cache without permission, not
// read files there), so we resolve the folder with `import.meta.resolve`, check the permission
// up front (Emscripten would abort with an unreadable error otherwise) and pass it explicitly to
// `setWasmPaths` as a `file:` prefix, which the glue turns into a URL for `fs.readFileSync`
// (pointing it at a missing folder fails with ENOENT on .../tfjs-backend-wasm-simd.wasm, so this
// is the path taken, and that is the binary chosen).
// No network, no fetch: it works offline once `deno install` has filled the cache.
//
// Threads. tfjs chooses among three binaries with two flags: WASM_HAS_SIMD_SUPPORT (a
// `WebAssembly.validate` probe) and WASM_HAS_MULTITHREAD_SUPPORT, which is always false where
// tfjs-core detects Node (IS_NODE, true under Deno). The threaded-SIMD binary would start
// Emscripten pthreads as `worker_threads` from a blob: URL, which Deno's worker_threads refuses
// (ERR_WORKER_PATH), so only one thread can run here. We set both flags ourselves before the
// backend starts, so the binary reported is the one loaded by construction, call
// `setThreadsCount(1)`, and read the thread count back from XNNPACK's pthreadpool
// (`getThreadsCount`) to check it.
import * as tf from "@tensorflow/tfjs-core";
import * as tfwasm from "@tensorflow/tfjs-backend-wasm";
import { fileURLToPath } from "node:url";
import {
  inferShapes,
  type LayerShape,
  mobileNetV2,
  type NetworkSpec,
  randomWeights,
} from "../mod.ts";
import { seededRandom } from "../testing.ts";

/** One weight tensor: the shape in tfjs layout and its values, row-major. */
export interface WeightTensor {
  /** Shape, e.g. `[3, 3, 3, 32]` for a `[kh, kw, cin, cout]` kernel. */
  readonly shape: readonly number[];
  /** `shape` product values. */
  readonly data: Float32Array;
}

/** Weight tensors by Keras name (`<layer>/kernel`, `<layer>/depthwise_kernel`, `<layer>/bias`). */
export type TfjsWeights = ReadonlyMap<string, WeightTensor>;

/** The weights of MobileNet v1 by Keras layer name (`conv1/kernel`, `conv_dw_1/bias`, ...). */
export type MobileNetV1Weights = TfjsWeights;

/**
 * The weights of MobileNet v2 by Keras layer name, as `randomWeights(mobileNetV2())` names them
 * (`Conv1/kernel`, `block_1_expand/kernel`, `block_1_depthwise/depthwise_kernel`,
 * `Logits/kernel` `[1280, 1000]`, ...), BatchNorm folded into the biases.
 */
export type MobileNetV2Weights = TfjsWeights;

/** Options of {@link createTfjsMobileNetV1} and {@link createTfjsMobileNetV2}. */
export interface TfjsMobileNetOptions {
  /** XNNPACK threads; only 1 can run under Deno (see the top of this file). Default 1. */
  readonly threads?: number;
  /** Side of the square input image. Default 224; tests use small sizes. */
  readonly inputSize?: number;
  /** Load the SIMD binary (true) or the plain one (false). Default: whatever the host supports. */
  readonly simd?: boolean;
}

/** A MobileNet ready to run on the tfjs WebAssembly backend. */
export interface TfjsMobileNet {
  /**
   * Runs one image, `inputSize x inputSize x 3` in HWC order, and reads the 1000 logits back
   * synchronously (no softmax). Leaves no tensor behind.
   */
  run(input: Float32Array): Float32Array;
  /** The tfjs backend name, `"wasm"`. */
  readonly backend: string;
  /** Whether the SIMD binary was loaded. */
  readonly simd: boolean;
  /** XNNPACK's thread count, as the backend reports it. */
  readonly threads: number;
  /** File name of the binary loaded, e.g. `tfjs-backend-wasm-simd.wasm`. */
  readonly binary: string;
  /** Side of the square input image. */
  readonly inputSize: number;
  /** Frees the weight tensors; the backend itself stays up for later networks. */
  dispose(): void;
}

/** Stride of the depthwise convolution and output channels of the pointwise one, blocks 1..13. */
export const MOBILENET_V1_BLOCKS: readonly { readonly stride: 1 | 2; readonly cout: number }[] =
  Object.freeze(
    ([
      [1, 64],
      [2, 128],
      [1, 128],
      [2, 256],
      [1, 256],
      [2, 512],
      [1, 512],
      [1, 512],
      [1, 512],
      [1, 512],
      [1, 512],
      [2, 1024],
      [1, 1024],
    ] as const).map(([stride, cout]) => Object.freeze({ stride, cout })),
  );

/** Channels of the stem convolution (`conv1`). */
const STEM = 32;
/** Classes of the classifier (`conv_preds`). */
const CLASSES = 1000;

/**
 * The name and shape of every weight tensor, in network order.
 *
 * @returns `[name, shape]` pairs
 */
export function mobileNetV1WeightShapes(): [string, number[]][] {
  const shapes: [string, number[]][] = [
    ["conv1/kernel", [3, 3, 3, STEM]],
    ["conv1/bias", [STEM]],
  ];
  let c = STEM;
  MOBILENET_V1_BLOCKS.forEach(({ cout }, b) => {
    const i = b + 1;
    shapes.push([`conv_dw_${i}/depthwise_kernel`, [3, 3, c, 1]], [`conv_dw_${i}/bias`, [c]]);
    shapes.push([`conv_pw_${i}/kernel`, [1, 1, c, cout]], [`conv_pw_${i}/bias`, [cout]]);
    c = cout;
  });
  shapes.push(["conv_preds/kernel", [1, 1, c, CLASSES]], ["conv_preds/bias", [CLASSES]]);
  return shapes;
}

/**
 * Random MobileNet v1 weights: He-normal kernels (standard deviation `sqrt(2 / fan_in)`, fan-in
 * `kh * kw * cin`, or `kh * kw` for a depthwise kernel) and biases uniform in `[-0.1, 0.1)`, from
 * the seeded generator, so one seed gives the same network everywhere.
 *
 * @param seed any integer
 * @returns the weights by name
 */
export function randomMobileNetV1Weights(seed: number): Map<string, WeightTensor> {
  const rand = seededRandom(seed);
  const normal = () => {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const u = 1 - rand(), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const weights = new Map<string, WeightTensor>();
  for (const [name, shape] of mobileNetV1WeightShapes()) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) {
      for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * 0.1;
    } else {
      const depthwise = name.endsWith("depthwise_kernel");
      const fanIn = shape[0] * shape[1] * (depthwise ? 1 : shape[2]);
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    }
    weights.set(name, Object.freeze({ shape: Object.freeze(shape), data }));
  }
  return weights;
}

/**
 * A random image in `[-1, 1)` (MobileNet's input range), HWC order.
 *
 * @param seed any integer
 * @param size side of the square image
 * @returns `size * size * 3` values
 */
export function randomImage(seed: number, size = 224): Float32Array {
  const rand = seededRandom(seed);
  const image = new Float32Array(size * size * 3);
  for (let i = 0; i < image.length; i++) image[i] = rand() * 2 - 1;
  return image;
}

interface BackendState {
  readonly simd: boolean;
  readonly threads: number;
  readonly binary: string;
}

// The backend is process-wide state in tfjs and can start only once; every network shares it.
let started: Promise<BackendState> | undefined;

function wasmFolder(): URL | undefined {
  const main = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  return main.startsWith("file:") ? new URL(".", main) : undefined;
}

async function startBackend(simd: boolean | undefined, threads: number): Promise<BackendState> {
  const folder = wasmFolder();
  if (folder !== undefined) {
    const path = fileURLToPath(folder);
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
      throw new Error(
        `tfjs-backend-wasm: reading its .wasm needs read permission on ${path} (--allow-read)`,
      );
    }
    tfwasm.setWasmPaths(folder.href);
  }
  const env = tf.env();
  const hostSimd = await env.getAsync("WASM_HAS_SIMD_SUPPORT") as boolean;
  if (simd === true && !hostSimd) throw new Error("this host has no WebAssembly SIMD");
  const useSimd = simd ?? hostSimd;
  env.set("WASM_HAS_SIMD_SUPPORT", useSimd);
  env.set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  tfwasm.setThreadsCount(threads);
  if (!await tf.setBackend("wasm")) throw new Error("tfjs: the wasm backend failed to start");
  await tf.ready();
  // Production mode skips tfjs's debug-only checks, as a deployed model would.
  tf.enableProdMode();
  const actual = tfwasm.getThreadsCount();
  if (actual !== threads) throw new Error(`tfjs: asked for ${threads} thread(s), got ${actual}`);
  return Object.freeze({
    simd: useSimd,
    threads: actual,
    binary: useSimd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm",
  });
}

function take(weights: TfjsWeights, name: string, shape: readonly number[]): tf.Tensor {
  const w = weights.get(name);
  if (w === undefined) throw new RangeError(`weights: missing ${name}`);
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`weights: ${name} has shape [${w.shape}], expected [${shape}]`);
  }
  if (w.data.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new RangeError(`weights: ${name} has ${w.data.length} values for shape [${shape}]`);
  }
  return tf.tensor(w.data, [...shape], "float32");
}

/**
 * Builds MobileNet v1 (BatchNorm folded into the biases, SAME padding, ReLU6 after every
 * convolution but the classifier) on the tfjs WebAssembly backend with fused
 * convolution + bias + ReLU6 operators, as a converted tfjs model runs. The weight tensors are
 * created once here.
 *
 * @param weights the weights by name, shapes as {@link mobileNetV1WeightShapes}
 * @param options threads (only 1), input size, SIMD or plain binary
 * @returns the network
 * @throws {RangeError} on a missing or misshapen weight, a bad option, or options differing
 *   from those the backend already started with
 * @throws {Error} when the backend cannot start (e.g. no read permission on the .wasm)
 */
export async function createTfjsMobileNetV1(
  weights: MobileNetV1Weights,
  options: TfjsMobileNetOptions = {},
): Promise<TfjsMobileNet> {
  const { size, state } = await prepare(options);
  const all: tf.Tensor[] = [];
  const t = <R extends tf.Rank>(name: string, shape: readonly number[]) => {
    const x = take(weights, name, shape);
    all.push(x);
    return x as tf.Tensor<R>;
  };
  const stem = {
    kernel: t<tf.Rank.R4>("conv1/kernel", [3, 3, 3, STEM]),
    bias: t("conv1/bias", [STEM]),
  };
  let c = STEM;
  const blocks = MOBILENET_V1_BLOCKS.map(({ stride, cout }, b) => {
    const i = b + 1;
    const block = {
      stride,
      dw: t<tf.Rank.R4>(`conv_dw_${i}/depthwise_kernel`, [3, 3, c, 1]),
      dwBias: t(`conv_dw_${i}/bias`, [c]),
      pw: t<tf.Rank.R4>(`conv_pw_${i}/kernel`, [1, 1, c, cout]),
      pwBias: t(`conv_pw_${i}/bias`, [cout]),
    };
    c = cout;
    return block;
  });
  const head = {
    kernel: t<tf.Rank.R4>("conv_preds/kernel", [1, 1, c, CLASSES]),
    bias: t("conv_preds/bias", [CLASSES]),
  };

  const forward = (input: Float32Array): tf.Tensor => {
    let x = tf.tensor4d(input, [1, size, size, 3]);
    x = tf.fused.conv2d({
      x,
      filter: stem.kernel,
      strides: 2,
      pad: "same",
      bias: stem.bias,
      activation: "relu6",
    });
    for (const b of blocks) {
      x = tf.fused.depthwiseConv2d({
        x,
        filter: b.dw,
        strides: b.stride,
        pad: "same",
        bias: b.dwBias,
        activation: "relu6",
      });
      x = tf.fused.conv2d({
        x,
        filter: b.pw,
        strides: 1,
        pad: "same",
        bias: b.pwBias,
        activation: "relu6",
      });
    }
    const pooled = tf.mean(x, [1, 2], true) as tf.Tensor4D; // [1, 1, 1, 1024]
    const logits = tf.fused.conv2d({
      x: pooled,
      filter: head.kernel,
      strides: 1,
      pad: "same",
      bias: head.bias,
      activation: "linear",
    });
    return tf.reshape(logits, [CLASSES]);
  };
  return wrap(forward, all, size, state);
}

/** Checks the options and starts the backend (once per process); the checked input size. */
async function prepare(
  options: TfjsMobileNetOptions,
): Promise<{ size: number; state: BackendState }> {
  const threads = options.threads ?? 1;
  const size = options.inputSize ?? 224;
  if (threads !== 1) {
    throw new RangeError(`threads: only 1 runs under Deno (no threaded binary), got ${threads}`);
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`inputSize: expected a positive integer, got ${size}`);
  }
  started ??= startBackend(options.simd, threads);
  const state = await started;
  if (options.simd !== undefined && options.simd !== state.simd) {
    throw new RangeError(`simd: the backend already runs with simd ${state.simd}`);
  }
  return { size, state };
}

/** The network around a forward pass (run inside `tf.tidy`) and its weight tensors. */
function wrap(
  forward: (input: Float32Array) => tf.Tensor,
  weights: readonly tf.Tensor[],
  size: number,
  state: BackendState,
): TfjsMobileNet {
  let disposed = false;
  return {
    run(input: Float32Array): Float32Array {
      if (disposed) throw new Error("run: the network was disposed");
      if (input.length !== size * size * 3) {
        throw new RangeError(
          `input: expected ${size}x${size}x3 = ${size * size * 3} values, got ${input.length}`,
        );
      }
      const out = tf.tidy(() => forward(input));
      try {
        // The wasm backend copies out of its heap, so the array outlives the tensor.
        return out.dataSync() as Float32Array;
      } finally {
        out.dispose();
      }
    },
    backend: tf.getBackend(),
    simd: state.simd,
    threads: state.threads,
    binary: state.binary,
    inputSize: size,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const x of weights) x.dispose();
    },
  };
}

/** A layer's clamp as a tfjs fused activation. */
function fusedActivation(s: LayerShape): "linear" | "relu" | "relu6" {
  if (s.min === -Infinity && s.max === Infinity) return "linear";
  if (s.min === 0 && s.max === Infinity) return "relu";
  if (s.min === 0 && s.max === 6) return "relu6";
  throw new RangeError(`${s.layer.name}: no tfjs fused activation clamps to [${s.min}, ${s.max}]`);
}

/** A windowed layer's padding as tfjs takes it ("same" by default, as in the spec). */
function tfPadding(s: LayerShape): "same" | "valid" {
  const p = (s.layer as { padding?: unknown }).padding ?? "same";
  if (p !== "same" && p !== "valid") {
    throw new RangeError(`${s.layer.name}: padding ${JSON.stringify(p)} is not built here`);
  }
  return p;
}

/**
 * Builds a network spec (the kinds {@link mobileNetV2} uses: conv2d, depthwise, conv1x1, add,
 * globalAvgPool, fullyConnected) on the tfjs WebAssembly backend, walking `inferShapes(spec)`:
 * fused convolution + bias + activation operators with TensorFlow "same" padding, `tf.add` for
 * the residuals, `tf.mean` for the pooling and a fused matMul + bias for the classifier, as a
 * converted tfjs model runs. Weights are read at the Keras names `randomWeights(spec)` writes
 * (`<layer>/kernel`, `<layer>/depthwise_kernel`, `<layer>/bias`, or the spec's own names), in
 * TensorFlow layouts, BatchNorm already folded; a classifier kernel may also come as a 1x1
 * convolution `[1, 1, cin, units]`. Each activation is freed after its last reader, as tfjs's
 * graph executor does.
 *
 * @param spec the network; its input is the square `inputSize` of the result
 * @param weights the weights by name
 * @param options threads (only 1), SIMD or plain binary (`inputSize` must match the spec)
 * @returns the network; `run` returns the flattened last layer
 * @throws {RangeError} on a missing or misshapen weight, unfolded batch norm parameters, a layer
 *   tfjs cannot fuse (a custom clamp, explicit padding), or a bad option
 */
export async function createTfjsNetwork(
  spec: NetworkSpec,
  weights: TfjsWeights,
  options: TfjsMobileNetOptions = {},
): Promise<TfjsMobileNet> {
  const { height, width, channels } = spec.input;
  if (height !== width || channels !== 3) {
    throw new RangeError(
      `spec: expected a square 3-channel input, got ${height}x${width}x${channels}`,
    );
  }
  const { size, state } = await prepare({ ...options, inputSize: options.inputSize ?? height });
  if (size !== height) throw new RangeError(`inputSize: ${size} differs from the spec's ${height}`);
  const shapes = inferShapes(spec);
  const all: tf.Tensor[] = [];
  const t = (name: string, shape: readonly number[]) => {
    const x = take(weights, name, shape);
    all.push(x);
    return x;
  };
  try {
    // Every layer as a step from the previous output (and, for an add, an earlier one).
    const steps = shapes.map((s): (x: tf.Tensor, from?: tf.Tensor) => tf.Tensor => {
      const layer = s.layer;
      const names = layer.weights ?? {};
      const bn = names.batchNorm;
      if (bn !== undefined && weights.has(`${bn}/gamma`)) {
        throw new RangeError(`${layer.name}: batch norm ${bn} is not folded into the weights`);
      }
      const bias = () => t(names.bias ?? `${layer.name}/bias`, [s.cout]);
      const activation = fusedActivation(s);
      switch (layer.kind) {
        case "conv2d":
        case "conv1x1": {
          const k = layer.kind === "conv2d" ? 3 : 1;
          const filter = t(names.kernel ?? `${layer.name}/kernel`, [k, k, s.cin, s.cout]);
          const b = bias();
          const strides = s.window?.stride ?? 1;
          const pad = layer.kind === "conv2d" ? tfPadding(s) : "same";
          return (x) =>
            tf.fused.conv2d({
              x: x as tf.Tensor4D,
              filter: filter as tf.Tensor4D,
              strides,
              pad,
              bias: b,
              activation,
            });
        }
        case "depthwise": {
          const k = s.window!.kernel;
          const filter = t(names.kernel ?? `${layer.name}/depthwise_kernel`, [k, k, s.cin, 1]);
          const b = bias();
          const strides = s.window!.stride, pad = tfPadding(s);
          return (x) =>
            tf.fused.depthwiseConv2d({
              x: x as tf.Tensor4D,
              filter: filter as tf.Tensor4D,
              strides,
              pad,
              bias: b,
              activation,
            });
        }
        case "add":
          return (x, from) => {
            const y = tf.add(x, from!);
            return activation === "linear" ? y : activation === "relu" ? tf.relu(y) : tf.relu6(y);
          };
        case "globalAvgPool":
          if (activation !== "linear") throw new RangeError(`${layer.name}: pooling clamps`);
          return (x) => tf.mean(x, [1, 2], true);
        case "fullyConnected": {
          const name = names.kernel ?? `${layer.name}/kernel`;
          const w = weights.get(name);
          // Keras's MobileNet v1 stores its classifier as a 1x1 convolution: take either layout.
          const conv = w !== undefined && w.shape.length === 4;
          const kernel = t(name, conv ? [1, 1, s.cin, s.cout] : [s.cin, s.cout]);
          const b = bias();
          const matrix = conv ? tf.reshape(kernel, [s.cin, s.cout]) : kernel;
          if (conv) all.push(matrix);
          return (x) =>
            tf.fused.matMul({
              a: tf.reshape(x, [1, s.cin]) as tf.Tensor2D,
              b: matrix as tf.Tensor2D,
              bias: b,
              activation,
            });
        }
      }
    });
    // The last layer reading each output: the next one, or a later add.
    const lastUse = shapes.map((_, i) => i + 1);
    for (const s of shapes) if (s.from !== undefined) lastUse[s.from] = s.index;
    const forward = (input: Float32Array): tf.Tensor => {
      const outs: (tf.Tensor | undefined)[] = [];
      let x: tf.Tensor = tf.tensor4d(input, [1, size, size, 3]);
      for (let i = 0; i < steps.length; i++) {
        const y = steps[i](x, shapes[i].from === undefined ? undefined : outs[shapes[i].from!]);
        if (i === 0) x.dispose();
        outs.push(y);
        for (let j = 0; j < i; j++) {
          if (lastUse[j] === i) {
            outs[j]!.dispose();
            outs[j] = undefined;
          }
        }
        x = y;
      }
      return tf.reshape(x, [-1]);
    };
    return wrap(forward, all, size, state);
  } catch (e) {
    for (const x of all) x.dispose();
    throw e;
  }
}

/**
 * Builds MobileNet v2 (1.0) on the tfjs WebAssembly backend from our own spec,
 * `mobileNetV2({ size: inputSize, classes: 1000 })` (see {@link createTfjsNetwork}): fused
 * convolution + bias + ReLU6 (linear for the projections), TensorFlow "same" padding, `tf.add`
 * residuals, mean pooling and a fused matMul classifier `Logits` `[1280, 1000]`.
 *
 * @param weights the weights by name, as `randomWeights(mobileNetV2())` writes them
 * @param options threads (only 1), input size (default 224), SIMD or plain binary
 * @returns the network
 * @throws {RangeError} on a missing or misshapen weight, a bad option, or options differing
 *   from those the backend already started with
 * @throws {Error} when the backend cannot start (e.g. no read permission on the .wasm)
 */
export function createTfjsMobileNetV2(
  weights: MobileNetV2Weights,
  options: TfjsMobileNetOptions = {},
): Promise<TfjsMobileNet> {
  const size = options.inputSize ?? 224;
  if (!Number.isInteger(size) || size < 1) {
    return Promise.reject(new RangeError(`inputSize: expected a positive integer, got ${size}`));
  }
  return createTfjsNetwork(mobileNetV2({ size, classes: CLASSES }), weights, options);
}

/** Latency statistics in milliseconds. */
export interface Latency {
  /** Median of the samples. */
  readonly median: number;
  /** Fastest sample. */
  readonly min: number;
  /** Slowest sample. */
  readonly max: number;
  /** Every sample, in run order. */
  readonly samples: readonly number[];
}

/**
 * Times `fn` with `performance.now()` around each call, after `warmup` untimed calls.
 *
 * @param fn the work to time
 * @param runs timed calls (at least 1)
 * @param warmup untimed calls first
 * @returns median, min, max and the samples
 */
export function measureLatency(fn: () => unknown, runs: number, warmup: number): Latency {
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs: expected >= 1, got ${runs}`);
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples };
}

/** Parsed command line of the stand-alone mode. */
export interface TfjsArgs {
  /** Timed runs (default 30). */
  readonly runs: number;
  /** Untimed runs first (default 5). */
  readonly warmup: number;
  /** Input side (default 224). */
  readonly size: number;
  /** Force the plain (non-SIMD) binary. */
  readonly noSimd: boolean;
  /** The network: MobileNet `"v1"` (default) or `"v2"`. */
  readonly model: "v1" | "v2";
}

/**
 * Parses `--model v1|v2`, `--runs N`, `--warmup N`, `--size N` (or `--opt=N`) and `--no-simd`.
 *
 * @param args the command-line arguments
 * @returns the options
 * @throws {RangeError} on an unknown option, model or a bad number
 */
export function parseTfjsArgs(args: readonly string[]): TfjsArgs {
  const out: { -readonly [K in keyof TfjsArgs]: TfjsArgs[K] } = {
    runs: 30,
    warmup: 5,
    size: 224,
    noSimd: false,
    model: "v1",
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--no-simd") {
      out.noSimd = true;
      continue;
    }
    const key = a.startsWith("--") ? a.slice(2).split("=")[0] : "";
    if (key !== "runs" && key !== "warmup" && key !== "size" && key !== "model") {
      throw new RangeError(
        `unknown option ${a} (try --model, --runs, --warmup, --size, --no-simd)`,
      );
    }
    const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
    if (key === "model") {
      if (v !== "v1" && v !== "v2") throw new RangeError(`--model: expected v1 or v2, got ${v}`);
      out.model = v;
      continue;
    }
    const n = Number(v);
    if (!Number.isInteger(n) || n < (key === "warmup" ? 0 : 1)) {
      throw new RangeError(`--${key}: expected an integer, got ${v}`);
    }
    out[key] = n;
  }
  return out;
}

if (import.meta.main) {
  const args = parseTfjsArgs(Deno.args);
  const options = { inputSize: args.size, simd: args.noSimd ? false : undefined };
  const net = args.model === "v1"
    ? await createTfjsMobileNetV1(randomMobileNetV1Weights(1), options)
    : await createTfjsMobileNetV2(
      randomWeights(mobileNetV2({ size: args.size, classes: CLASSES }), 1),
      options,
    );
  const image = randomImage(2, args.size);
  const lat = measureLatency(() => net.run(image), args.runs, args.warmup);
  const ms = (x: number) => x.toFixed(2);
  console.log(
    `tfjs ${tf.version_core} ${net.backend} (${net.binary}, simd ${net.simd}, ` +
      `${net.threads} thread) MobileNet ${args.model} ${args.size}x${args.size}: median ${
        ms(lat.median)
      } ms ` +
      `(min ${ms(lat.min)}, max ${ms(lat.max)}, ${args.runs} runs after ${args.warmup} warm-up)`,
  );
  net.dispose();
}
