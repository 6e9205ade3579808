/**
 * The GPU context: one adapter and device acquired by {@link requestGpu}, its limits, the
 * pipeline cache, buffer creation checked against the limits, and submission of dispatches.
 * Internal plumbing shared by the kernel files; users hold it through a `Gpu`.
 * @module
 */
import { GpuError } from "./errors.ts";

/** Options of `requestGpu`. */
export interface RequestGpuOptions {
  /**
   * The WebGPU entry point to use; default `navigator.gpu`. Pass `null` to act as a host
   * without WebGPU (for tests), or another object to use a polyfill.
   */
  readonly gpu?: GPU | null;
  /** Passed to `requestAdapter`; default none. */
  readonly powerPreference?: GPUPowerPreference;
  /** Ask for a fallback (software) adapter; default false. */
  readonly forceFallbackAdapter?: boolean;
}

/** One compute dispatch, ready to encode: a pipeline, its bindings and the grid. */
export interface Dispatch {
  /** The compute pipeline. */
  readonly pipeline: GPUComputePipeline;
  /** Its bind group 0. */
  readonly bindGroup: GPUBindGroup;
  /** Workgroups in x, y and z. */
  readonly grid: readonly [number, number, number];
  /** Buffers made for this dispatch alone (parameters, copies of host arrays); see `release`. */
  readonly owned: readonly GPUBuffer[];
}

/** The facts about the adapter a benchmark or an error report wants. */
export interface AdapterFacts {
  /** Vendor, as the adapter reports it. */
  readonly vendor: string;
  /** Architecture, as the adapter reports it. */
  readonly architecture: string;
  /** Device, as the adapter reports it. */
  readonly device: string;
  /** Description, as the adapter reports it (e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`). */
  readonly description: string;
  /** Whether this is a fallback (software) adapter. */
  readonly isFallbackAdapter: boolean;
  /** Whether GPU timestamp queries are available. */
  readonly timestamps: boolean;
}

/** The limits the kernels check their requests against. */
export type LimitName =
  | "maxStorageBufferBindingSize"
  | "maxBufferSize"
  | "maxComputeWorkgroupStorageSize"
  | "maxComputeWorkgroupsPerDimension"
  | "maxComputeInvocationsPerWorkgroup";

const LIMITS: readonly LimitName[] = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
];

/** Rounds `n` up to a multiple of `m`. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * The device and everything bound to it. Its mutable parts (the pipeline cache, the lost and
 * error records) belong to this one value; nothing is global.
 */
export class GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** What the adapter says about itself. */
  readonly adapter: AdapterFacts;
  /** The device's limits that matter here. */
  readonly limits: Readonly<Record<LimitName, number>>;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #lost: string | undefined;
  #error: string | undefined;
  readonly #lostPromise: Promise<never>;

  constructor(device: GPUDevice, adapter: AdapterFacts) {
    this.device = device;
    this.adapter = adapter;
    const limits = {} as Record<LimitName, number>;
    for (const name of LIMITS) limits[name] = device.limits[name];
    this.limits = Object.freeze(limits);
    this.#lostPromise = device.lost.then((info) => {
      this.#lost = `${info.reason ?? "unknown"}: ${info.message}`;
      throw this.lostError();
    });
    // Never an unhandled rejection: the promise is only raced against readbacks.
    this.#lostPromise.catch(() => {});
    device.addEventListener("uncapturederror", (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.#error ??= e.message;
    });
  }

  /** Whether the device has been lost (or destroyed). */
  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** The error for a lost device. */
  lostError(): GpuError {
    return new GpuError(
      { code: "lost", argument: "device", value: this.#lost },
      "the GPU device was lost; request a new one with requestGpu()",
    );
  }

  /** Throws if the device is lost, or has reported an error of its own. */
  check(): void {
    if (this.#lost !== undefined) throw this.lostError();
    if (this.#error !== undefined) {
      throw new GpuError(
        { code: "gpu", argument: "device", value: this.#error },
        "the GPU device reported an error; results since then are not to be trusted",
      );
    }
  }

  /** Resolves with `p`, or rejects when the device is lost first. Never hangs on a lost device. */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#lostPromise]);
  }

  /** Throws a limit error unless `value <= limits[limit]`. */
  checkLimit(argument: string, value: number, limit: LimitName): void {
    const max = this.limits[limit];
    if (value > max) {
      throw new GpuError(
        { code: "limit", argument, value, limit, max },
        "exceeds what this GPU device allows",
      );
    }
  }

  /** A buffer of `bytes` (at least 16), checked against the device's limits. */
  buffer(argument: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    this.check();
    const size = Math.max(16, roundUp(bytes, 16));
    if (usage & GPUBufferUsage.STORAGE) {
      this.checkLimit(argument, size, "maxStorageBufferBindingSize");
    }
    this.checkLimit(argument, size, "maxBufferSize");
    return this.device.createBuffer({ size, usage });
  }

  /** A storage buffer holding `data` (padded to 16 bytes). */
  storage(argument: string, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
    const buf = this.buffer(
      argument,
      data.byteLength,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage,
    );
    if (data.byteLength > 0) {
      this.device.queue.writeBuffer(
        buf,
        0,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        data.byteLength,
      );
    }
    return buf;
  }

  /** A uniform buffer of parameters: u32 and f32 words in order, padded to 16 bytes. */
  uniform(words: readonly { u?: number; i?: number; f?: number }[]): GPUBuffer {
    const bytes = Math.max(16, roundUp(words.length * 4, 16));
    const view = new DataView(new ArrayBuffer(bytes));
    words.forEach((w, k) => {
      if (w.u !== undefined) view.setUint32(k * 4, w.u, true);
      else if (w.i !== undefined) view.setInt32(k * 4, w.i, true);
      else view.setFloat32(k * 4, w.f!, true);
    });
    const buf = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buf, 0, view.buffer);
    return buf;
  }

  /** The compute pipeline for `key`, compiled from `code()` once per device. */
  pipeline(key: string, code: () => string): GPUComputePipeline {
    this.check();
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      const module = this.device.createShaderModule({ label: key, code: code() });
      p = this.device.createComputePipeline({
        label: key,
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** How many pipelines have been compiled (for tests of the cache). */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /** A dispatch of `pipeline` with `buffers` bound at 0, 1, 2, … of group 0. */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    grid: readonly [number, number, number],
    owned: readonly GPUBuffer[] = [],
  ): Dispatch {
    for (let d = 0; d < 3; d++) {
      this.checkLimit(`grid[${d}]`, grid[d], "maxComputeWorkgroupsPerDimension");
    }
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { pipeline, bindGroup, grid, owned };
  }

  /**
   * A grid of `count` workgroups folded into x and y so that neither exceeds the device's
   * per-dimension limit; shaders recover the linear index as `x + y * num_workgroups.x`.
   */
  fold(argument: string, count: number): [number, number, number] {
    const maxDim = this.limits.maxComputeWorkgroupsPerDimension;
    if (count <= maxDim) return [count, 1, 1];
    const y = Math.ceil(count / maxDim);
    this.checkLimit(argument, y, "maxComputeWorkgroupsPerDimension");
    return [Math.ceil(count / y), y, 1];
  }

  /** Encodes the dispatches into one compute pass each, in order. */
  encode(
    encoder: GPUCommandEncoder,
    dispatches: readonly Dispatch[],
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    for (const d of dispatches) {
      if (d.grid[0] * d.grid[1] * d.grid[2] === 0) continue;
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.grid[0], d.grid[1], d.grid[2]);
    }
    pass.end();
  }

  /** Destroys the buffers the dispatches own (after their last submission). */
  release(dispatches: readonly Dispatch[]): void {
    for (const d of dispatches) for (const b of d.owned) b.destroy();
  }

  /**
   * Runs each group of dispatches in its own compute pass, all in one submission, and returns
   * each group's GPU time in milliseconds from timestamp queries, or, on an adapter without
   * them, the wall-clock time of submitting each group alone and waiting for it.
   */
  async time(
    groups: readonly (readonly Dispatch[])[],
  ): Promise<{ ms: number[]; source: "timestamp" | "wall-clock" }> {
    this.check();
    if (!this.adapter.timestamps) {
      const ms: number[] = [];
      for (const g of groups) {
        const t0 = performance.now();
        this.submit(g);
        await this.guard(this.device.queue.onSubmittedWorkDone());
        ms.push(performance.now() - t0);
      }
      return { ms, source: "wall-clock" };
    }
    const count = groups.length * 2;
    const querySet = this.device.createQuerySet({ type: "timestamp", count: Math.max(2, count) });
    const bytes = Math.max(16, count * 8);
    const resolve = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    try {
      const ms = await this.readBack("timestamps", bytes, (encoder, staging) => {
        groups.forEach((g, i) =>
          this.encode(encoder, g, {
            querySet,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          })
        );
        if (count > 0) {
          encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
          encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
        }
      }, (mapped) => {
        const t = new BigInt64Array(mapped, 0, count);
        return groups.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
      });
      return { ms, source: "timestamp" };
    } finally {
      if (!this.lost) {
        querySet.destroy();
        resolve.destroy();
      }
    }
  }

  /**
   * The one way bytes come back from the GPU: encodes `fill` (which ends by copying `bytes`
   * into the staging buffer it is given), submits it, waits for the mapping (rejecting with a
   * `GpuError` if the device is lost first or has reported an error), hands the mapped bytes
   * to `use`, and frees the staging buffer.
   */
  async readBack<T>(
    argument: string,
    bytes: number,
    fill: (encoder: GPUCommandEncoder, staging: GPUBuffer) => void,
    use: (mapped: ArrayBuffer) => T,
  ): Promise<T> {
    const staging = this.buffer(argument, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const encoder = this.device.createCommandEncoder();
      fill(encoder, staging);
      this.device.queue.submit([encoder.finish()]);
      await this.guard(staging.mapAsync(GPUMapMode.READ));
      this.check();
      const result = use(staging.getMappedRange());
      staging.unmap();
      return result;
    } finally {
      if (!this.lost) staging.destroy();
    }
  }

  /** Encodes and submits the dispatches, in order, in one command buffer. */
  submit(dispatches: readonly Dispatch[]): void {
    this.check();
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, dispatches);
    this.device.queue.submit([encoder.finish()]);
  }
}

/** Acquires an adapter and a device, with the adapter's largest buffer limits. */
export async function acquire(options: RequestGpuOptions = {}): Promise<GpuContext> {
  const gpu = options.gpu === undefined
    ? (globalThis.navigator as Navigator | undefined)?.gpu
    : options.gpu;
  if (gpu === null || gpu === undefined) {
    throw new GpuError(
      { code: "unavailable", argument: "navigator.gpu", value: gpu },
      "this host has no WebGPU (in Deno it needs no flag since 2.0; in Chromium, a secure " +
        "context and a supported GPU or --enable-unsafe-webgpu)",
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({
      powerPreference: options.powerPreference,
      forceFallbackAdapter: options.forceFallbackAdapter,
    });
  } catch (e) {
    throw new GpuError(
      { code: "no-adapter", argument: "requestAdapter", value: String(e) },
      "requesting a WebGPU adapter failed",
    );
  }
  if (adapter === null) {
    throw new GpuError(
      { code: "no-adapter", argument: "requestAdapter", value: null },
      "no WebGPU adapter is available (on Linux without a GPU, install Mesa's software " +
        "drivers: apt-get install mesa-vulkan-drivers)",
    );
  }
  const timestamps = adapter.features.has("timestamp-query");
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: timestamps ? ["timestamp-query"] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  } catch (e) {
    throw new GpuError(
      { code: "no-device", argument: "requestDevice", value: String(e) },
      "the WebGPU adapter refused to give a device",
    );
  }
  const info = adapter.info;
  return new GpuContext(device, {
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    device: info?.device ?? "",
    description: info?.description ?? "",
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean })?.isFallbackAdapter ?? false,
    timestamps,
  });
}
