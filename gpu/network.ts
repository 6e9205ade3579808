/**
 * The network runner on the GPU: the same specs and weights as the CPU runner, every layer's
 * weights uploaded and every dispatch encoded once, and a run that is one upload, one
 * submission and one readback.
 * @module
 */
import type { Dense } from "../kernels/dense.ts";
import { SpecError } from "../kernels/errors.ts";
import { batchMajor, endsPooled, type LayerShape, type NetworkSpec } from "../kernels/network.ts";
import { buildSteps, inputImages, type LayerTime } from "../kernels/runner.ts";
import type { BlockSize } from "../kernels/pack.ts";
import type { NumberArray } from "../kernels/validate.ts";
import type { WeightMap } from "../kernels/weights.ts";
import type { Dispatch } from "./device.ts";
import type { Gpu } from "./gpu.ts";
import type { GpuPlan } from "./sparse.ts";
import type { GpuTensor } from "./tensor.ts";

/** Options of {@link compileGpuNetwork}: those of the CPU `compileNetwork` but the backend. */
export interface GpuCompileOptions {
  /** Images per run; default 1. */
  readonly batch?: number;
  /**
   * How the 1x1 convolutions and fully connected layers run: `"sparse"`, `"dense"`, or
   * `"auto"` (default: sparse where at most half the weights are nonzero), as on the CPU.
   */
  readonly mode?: "auto" | "sparse" | "dense";
  /** Output-channel block size of the sparse plans; default `"auto"`. */
  readonly blockSize?: BlockSize | "auto";
}

/**
 * A network compiled for a GPU. `run` is a pure function of its input; the network owns GPU
 * memory until `dispose()` (or a `using` declaration). Concurrent runs are queued in order.
 */
export interface GpuNetwork extends Disposable {
  /** The spec it was compiled from. */
  readonly spec: NetworkSpec;
  /** The GPU it runs on. */
  readonly gpu: Gpu;
  /** Images per run. */
  readonly batch: number;
  /** Every layer's checked shape. */
  readonly shapes: readonly LayerShape[];
  /** How each layer runs (`"sparse"`, `"dense"`, or its kind), in order. */
  readonly paths: readonly string[];
  /** Whether `dispose()` has been called. */
  readonly disposed: boolean;
  /**
   * Runs the network on `batch` HWC images laid end to end, with one readback at the end.
   * Resolves like the CPU `Network.run`: `[batch x features]` for a network that ends pooled,
   * else the last CHW activation.
   */
  run(input: NumberArray | Dense): Promise<Dense>;
  /** Runs the network and reads back every layer's output (for `compareLayers`). */
  trace(input: NumberArray | Dense): Promise<Dense[]>;
  /**
   * Runs the network with every layer in its own compute pass and times each layer: GPU
   * timestamps where the adapter has them (`timing: "timestamp"`), else wall-clock per layer.
   */
  profile(
    input: NumberArray | Dense,
  ): Promise<{ output: Dense; layers: LayerTime[]; timing: "timestamp" | "wall-clock" }>;
  /** Frees the GPU memory. Idempotent. */
  dispose(): void;
}

/**
 * Compiles a spec and its weights for a GPU: the same checks, packing and layer choices as
 * the CPU `compileNetwork` (so `paths` agree), with every weight uploaded and every layer's
 * dispatch encoded once.
 *
 * @param gpu from `requestGpu()`
 * @param spec the network
 * @param weights TensorFlow-layout weights by name
 * @param options batch, mode and block size, as for `compileNetwork`
 * @throws {SpecError} naming the layer, for a bad spec or a missing or misshapen weight
 * @throws {GpuError} when a buffer exceeds the device's limits
 *
 * @example A small sparse network on the GPU agrees with the CPU
 * ```ts
 * import { compileNetwork, pruneNetwork, randomWeights } from "@sparsekit/core";
 * import { compileGpuNetwork, requestGpu } from "@sparsekit/core/gpu";
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
 * const image = new Float32Array(8 * 8 * 3).fill(0.5);
 * using gpu = await requestGpu();
 * using net = compileGpuNetwork(gpu, spec, weights);
 * const logits = await net.run(image);
 * using cpu = compileNetwork(spec, weights);
 * const want = cpu.run(image);
 * assert.ok(logits.data.every((v, i) => Math.abs(v - want.data[i]) < 1e-4));
 * ```
 */
export function compileGpuNetwork(
  gpu: Gpu,
  spec: NetworkSpec,
  weights: WeightMap,
  options: GpuCompileOptions = {},
): GpuNetwork {
  const ops = {
    alloc: (rows: number, cols: number) => gpu.alloc(rows, cols),
    upload: (d: Dense) => gpu.upload(d),
    prepare: (plan: Parameters<Gpu["prepare"]>[0]) => gpu.prepare(plan),
    ...gpu.encode,
  };
  const { shapes, batch, steps, owned } = buildSteps<GpuTensor, GpuPlan, readonly Dispatch[]>(
    spec,
    weights,
    options,
    ops,
  );
  const { height, width, channels } = spec.input;
  const ctx = gpu.context;
  const layers: (readonly Dispatch[])[] = [];
  let input: GpuTensor;
  try {
    input = gpu.alloc(batch, height * width * channels);
    owned.push(input);
    let prev = input;
    for (const step of steps) {
      layers.push(step.run(prev));
      prev = step.out;
    }
  } catch (e) {
    for (const d of layers) ctx.release(d);
    for (const o of owned) o[Symbol.dispose]();
    throw e;
  }
  const all = layers.flat();
  const last = steps.length === 0 ? input : steps[steps.length - 1].out;
  const pooled = endsPooled(shapes);
  const inputLength = batch * height * width * channels;
  let disposed = false;

  function start(images: NumberArray | Dense): void {
    if (disposed) {
      throw new SpecError({ argument: "network", value: "disposed" }, "this network was disposed");
    }
    const data = inputImages(images, inputLength);
    input.write({ rows: batch, cols: height * width * channels, data });
  }
  const shaped = (y: Dense) => pooled ? batchMajor(y, batch) : y;

  const network: GpuNetwork = {
    spec,
    gpu,
    batch,
    shapes,
    paths: Object.freeze(steps.map((s) => s.path)),
    get disposed() {
      return disposed;
    },
    async run(images) {
      start(images);
      ctx.submit(all);
      return shaped(await last.read());
    },
    async trace(images) {
      start(images);
      ctx.submit(all);
      return await Promise.all(steps.map((s) => s.out.read()));
    },
    async profile(images) {
      start(images);
      const { ms, source } = await ctx.time(layers);
      const output = shaped(await last.read());
      return {
        output,
        timing: source,
        layers: steps.map((s, i) => ({
          name: s.shape.layer.name,
          kind: s.shape.layer.kind,
          path: s.path,
          ms: ms[i],
        })),
      };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (ctx.lost) return;
      ctx.release(all);
      for (const o of owned) o[Symbol.dispose]();
    },
    [Symbol.dispose]() {
      network.dispose();
    },
  };
  return Object.freeze(network);
}
