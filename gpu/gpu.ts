/**
 * The `Gpu`: one WebGPU device and the sparsekit operators on it.
 * @module
 */
import type { Csr } from "../kernels/csr.ts";
import type { Dense } from "../kernels/dense.ts";
import type { Conv1x1Plan } from "../kernels/pack.ts";
import type { Window } from "../kernels/spatial.ts";
import { encodeAdd, encodeConv2d, encodeDepthwise, encodeGlobalAvgPool } from "./chw.ts";
import {
  acquire,
  type AdapterFacts,
  type Dispatch,
  type GpuContext,
  type LimitName,
  type RequestGpuOptions,
} from "./device.ts";
import { encodeGemm, type GpuGemmOptions } from "./gemm.ts";
import {
  encodeConv1x1,
  encodeSpmm,
  type GpuCsr,
  type GpuPlan,
  prepareGpuPlan,
  uploadCsr,
} from "./sparse.ts";
import { allocTensor, type GpuTensor, uploadTensor } from "./tensor.ts";

/**
 * The operators of a {@link Gpu} as dispatches not yet submitted: each call checks its
 * arguments, binds its buffers and returns the dispatches, which `Gpu.submit` runs (as many
 * times as wanted). The network runner builds a whole network this way once.
 */
export interface GpuEncoder {
  /** Sparse 1x1 convolution `out = clamp(W x + bias)` from a prepared plan. */
  conv1x1(plan: GpuPlan, x: GpuTensor, out: GpuTensor): readonly Dispatch[];
  /** Sparse times dense, `out = A B`. */
  spmm(a: GpuCsr, b: GpuTensor, out: GpuTensor): readonly Dispatch[];
  /** Dense product with fused bias and clamp, `out = clamp(A B + bias)`. */
  gemm(a: GpuTensor, b: GpuTensor, options: GpuGemmOptions): readonly Dispatch[];
  /** Depthwise convolution (see the CPU `Backend.depthwise` for the layouts). */
  depthwise(
    x: GpuTensor,
    weights: GpuTensor,
    bias: GpuTensor | undefined,
    out: GpuTensor,
    window: Window,
  ): readonly Dispatch[];
  /** First-layer convolution, HWC images in, CHW out (see `Backend.conv2d`). */
  conv2d(
    x: GpuTensor,
    weights: GpuTensor,
    bias: GpuTensor | undefined,
    out: GpuTensor,
    window: Window,
  ): readonly Dispatch[];
  /** Global average pooling, `[channels x batch*pixels]` to `[channels x batch]`. */
  globalAvgPool(x: GpuTensor, out: GpuTensor, batch: number): readonly Dispatch[];
  /** Elementwise `out = clamp(a + b, min, max)`; `out` may be `a` or `b`. */
  add(a: GpuTensor, b: GpuTensor, out: GpuTensor, min: number, max: number): readonly Dispatch[];
}

/**
 * One WebGPU device with sparsekit's operators. Get one from {@link requestGpu}; it is an
 * ordinary value (make as many as you like), and holds the device's pipeline cache.
 *
 * Data lives on the GPU as {@link GpuTensor}s: `upload` copies a Dense in, the operators
 * write into tensors without reading back (so a chain of them never leaves the GPU), and
 * `tensor.read()` copies one out. Weights are prepared once (`prepare` for a sparse 1x1
 * Plan, `uploadCsr` for a CSR matrix) and reused. Every operator checks its arguments and
 * throws a typed error before anything is submitted.
 *
 * @example A sparse 1x1 convolution on the GPU, checked against the CPU
 * ```ts
 * import { conv1x1, dense, packConv1x1, pruneMagnitude } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * const w = pruneMagnitude(dense(8, 6, Array.from({ length: 48 }, (_, i) => Math.sin(i))), 0.5);
 * const x = dense(6, 10, Array.from({ length: 60 }, (_, i) => Math.cos(i)));
 * const plan = packConv1x1(w, { min: 0 });
 * using p = gpu.prepare(plan);
 * using xt = gpu.upload(x);
 * using yt = gpu.alloc(8, 10);
 * gpu.conv1x1(p, xt, yt);
 * const y = await yt.read();
 * const want = conv1x1(plan, x);
 * assert.ok(y.data.every((v, i) => Math.abs(v - want.data[i]) < 1e-5));
 * ```
 */
export class Gpu implements Disposable {
  readonly #ctx: GpuContext;
  /** The operators as unsubmitted dispatches; see {@link GpuEncoder}. */
  readonly encode: GpuEncoder;

  /** @internal Use {@link requestGpu}. */
  constructor(ctx: GpuContext) {
    this.#ctx = ctx;
    this.encode = Object.freeze(
      {
        conv1x1: (plan, x, out) => encodeConv1x1(ctx, plan, x, out),
        spmm: (a, b, out) => encodeSpmm(ctx, a, b, out),
        gemm: (a, b, options) => encodeGemm(ctx, a, b, options),
        depthwise: (x, w, b, out, window) => encodeDepthwise(ctx, x, w, b, out, window),
        conv2d: (x, w, b, out, window) => encodeConv2d(ctx, x, w, b, out, window),
        globalAvgPool: (x, out, batch) => encodeGlobalAvgPool(ctx, x, out, batch),
        add: (a, b, out, min, max) => encodeAdd(ctx, a, b, out, min, max),
      } satisfies GpuEncoder,
    );
  }

  /** @internal The device context, for the kernels, the runner and the benchmarks. */
  get context(): GpuContext {
    return this.#ctx;
  }

  /** What the adapter says about itself (benchmarks print it). */
  get adapter(): AdapterFacts {
    return this.#ctx.adapter;
  }

  /** The device limits the operators check their requests against. */
  get limits(): Readonly<Record<LimitName, number>> {
    return this.#ctx.limits;
  }

  /** Whether the device has been lost or destroyed (then every call throws `GpuError`). */
  get lost(): boolean {
    return this.#ctx.lost;
  }

  /** Copies a Dense into a new GPU tensor. */
  upload(d: Dense): GpuTensor {
    return uploadTensor(this.#ctx, d);
  }

  /** A zero-filled `rows x cols` GPU tensor. */
  alloc(rows: number, cols: number): GpuTensor {
    return allocTensor(this.#ctx, rows, cols);
  }

  /** Uploads a sparse 1x1 Plan (the one the CPU runs), repacked for the GPU, once. */
  prepare(plan: Conv1x1Plan): GpuPlan {
    return prepareGpuPlan(this.#ctx, plan);
  }

  /** Uploads a CSR matrix, its rows ordered by length for balanced work, once. */
  uploadCsr(a: Csr): GpuCsr {
    return uploadCsr(this.#ctx, a);
  }

  /** Runs encoded dispatches, in order, in one submission. */
  submit(dispatches: readonly Dispatch[]): void {
    this.#ctx.submit(dispatches);
  }

  #now(dispatches: readonly Dispatch[], out: GpuTensor): GpuTensor {
    try {
      this.#ctx.submit(dispatches);
    } finally {
      this.#ctx.release(dispatches);
    }
    return out;
  }

  /** Sparse 1x1 convolution `out = clamp(W x + bias)`, `[cin x pixels] -> [cout x pixels]`. Returns `out`. */
  conv1x1(plan: GpuPlan, x: GpuTensor, out: GpuTensor): GpuTensor {
    return this.#now(this.encode.conv1x1(plan, x, out), out);
  }

  /** Sparse times dense, `out = A B`. Returns `out`. */
  spmm(a: GpuCsr, b: GpuTensor, out: GpuTensor): GpuTensor {
    return this.#now(this.encode.spmm(a, b, out), out);
  }

  /** Dense product with fused bias and clamp, `out = clamp(A B + bias)`. Returns `options.out`. */
  gemm(a: GpuTensor, b: GpuTensor, options: GpuGemmOptions): GpuTensor {
    return this.#now(this.encode.gemm(a, b, options), options.out);
  }

  /** Depthwise convolution; see `Backend.depthwise` for the layouts. Returns `out`. */
  depthwise(
    x: GpuTensor,
    weights: GpuTensor,
    bias: GpuTensor | undefined,
    out: GpuTensor,
    window: Window,
  ): GpuTensor {
    return this.#now(this.encode.depthwise(x, weights, bias, out, window), out);
  }

  /** First-layer convolution, HWC images to CHW; see `Backend.conv2d`. Returns `out`. */
  conv2d(
    x: GpuTensor,
    weights: GpuTensor,
    bias: GpuTensor | undefined,
    out: GpuTensor,
    window: Window,
  ): GpuTensor {
    return this.#now(this.encode.conv2d(x, weights, bias, out, window), out);
  }

  /** Global average pooling, `[channels x batch*pixels]` to `[channels x batch]`. Returns `out`. */
  globalAvgPool(x: GpuTensor, out: GpuTensor, batch: number): GpuTensor {
    return this.#now(this.encode.globalAvgPool(x, out, batch), out);
  }

  /** Elementwise `out = clamp(a + b, min, max)`; `out` may be `a` or `b`. Returns `out`. */
  add(a: GpuTensor, b: GpuTensor, out: GpuTensor, min: number, max: number): GpuTensor {
    return this.#now(this.encode.add(a, b, out, min, max), out);
  }

  /** Resolves when all submitted work has finished (rejects if the device is lost). */
  async finish(): Promise<void> {
    this.#ctx.check();
    await this.#ctx.guard(this.#ctx.device.queue.onSubmittedWorkDone());
  }

  /** Destroys the device: every tensor and plan on it becomes unusable. Idempotent. */
  dispose(): void {
    this.#ctx.device.destroy();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Acquires a WebGPU adapter and device and returns a {@link Gpu} on it.
 *
 * @throws {GpuError} `"unavailable"` when the host has no WebGPU, `"no-adapter"` when no
 *   adapter can be had, `"no-device"` when the adapter refuses a device
 *
 * @example Which adapter this host gives
 * ```ts
 * import { requestGpu } from "@sparsekit/core/gpu";
 *
 * using gpu = await requestGpu();
 * console.log(gpu.adapter.description, gpu.adapter.isFallbackAdapter);
 * ```
 */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  return new Gpu(await acquire(options));
}
