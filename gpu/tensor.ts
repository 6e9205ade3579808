/**
 * Matrices that live in GPU memory: upload, allocate, read back.
 * @module
 */
import { checkDense, checkOut, type Dense } from "../kernels/dense.ts";
import { checkProduct, checkShape, checkSize } from "../kernels/validate.ts";
import { type GpuContext, roundUp } from "./device.ts";
import { GpuError } from "./errors.ts";

/**
 * A `rows x cols` f32 matrix in a GPU storage buffer, row-major with each row padded to a
 * multiple of 4 values (`stride`), so that kernels load and store whole `vec4`s along rows.
 * Operators write into tensors without reading back; `read()` copies one out. Free it with
 * `dispose()` or a `using` declaration.
 */
export class GpuTensor implements Disposable {
  /** Number of rows (channels, for a CHW activation). */
  readonly rows: number;
  /** Number of columns (pixels). */
  readonly cols: number;
  /** Values per stored row: `cols` rounded up to a multiple of 4. */
  readonly stride: number;
  readonly #ctx: GpuContext;
  readonly #buffer: GPUBuffer;
  #disposed = false;

  /** @internal Use `Gpu.upload` or `Gpu.alloc`. */
  constructor(ctx: GpuContext, rows: number, cols: number, buffer: GPUBuffer) {
    this.#ctx = ctx;
    this.rows = rows;
    this.cols = cols;
    this.stride = roundUp(cols, 4);
    this.#buffer = buffer;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The storage buffer, for binding (checked: not disposed, and of `ctx`'s device).
   * @internal
   */
  bufferFor(ctx: GpuContext, argument: string): GPUBuffer {
    if (this.#disposed) {
      throw new GpuError({ code: "disposed", argument }, "this GPU tensor was disposed");
    }
    if (ctx !== this.#ctx) {
      throw new GpuError(
        { code: "foreign", argument },
        "this GPU tensor belongs to another device",
      );
    }
    ctx.check();
    return this.#buffer;
  }

  /**
   * Copies the matrix back into `out`, or a fresh Dense. The only way data leaves the GPU;
   * rejects with a `GpuError` if the device is lost or reported an error.
   */
  async read(out?: Dense): Promise<Dense> {
    const ctx = this.#ctx;
    const src = this.bufferFor(ctx, "tensor");
    if (out !== undefined) {
      checkOut(out, this.rows, this.cols);
    }
    const result = out ??
      { rows: this.rows, cols: this.cols, data: new Float32Array(this.rows * this.cols) };
    const bytes = this.rows * this.stride * 4;
    if (bytes === 0) return result;
    await ctx.readBack("read", bytes, (encoder, staging) => {
      encoder.copyBufferToBuffer(src, 0, staging, 0, roundUp(bytes, 16));
    }, (mapped) => {
      const all = new Float32Array(mapped, 0, this.rows * this.stride);
      if (this.stride === this.cols) result.data.set(all);
      else {
        for (let i = 0; i < this.rows; i++) {
          result.data.set(
            all.subarray(i * this.stride, i * this.stride + this.cols),
            i * this.cols,
          );
        }
      }
    });
    return out === undefined ? Object.freeze(result) : result;
  }

  /**
   * Overwrites the tensor with the values of `d` (same shape). The copy is queued: operators
   * submitted after it see the new values.
   */
  write(d: Dense): void {
    checkDense("d", d);
    checkShape("d", d, this.rows, this.cols);
    const buffer = this.bufferFor(this.#ctx, "tensor");
    if (d.rows * d.cols === 0) return;
    let data: Float32Array = d.data;
    if (this.stride !== d.cols) {
      data = new Float32Array(d.rows * this.stride);
      for (let i = 0; i < d.rows; i++) {
        data.set(d.data.subarray(i * d.cols, (i + 1) * d.cols), i * this.stride);
      }
    }
    this.#ctx.device.queue.writeBuffer(
      buffer,
      0,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /** Frees the GPU memory. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#buffer.destroy();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A zero-filled `rows x cols` tensor. */
export function allocTensor(ctx: GpuContext, rows: number, cols: number): GpuTensor {
  checkSize("rows", rows);
  checkSize("cols", cols);
  const stride = roundUp(cols, 4);
  checkProduct("rows * cols", rows, stride);
  const buf = ctx.buffer(
    "tensor",
    rows * stride * 4,
    GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  );
  return new GpuTensor(ctx, rows, cols, buf);
}

/** A tensor holding a copy of `d`. */
export function uploadTensor(ctx: GpuContext, d: Dense, argument = "d"): GpuTensor {
  checkDense(argument, d);
  const t = allocTensor(ctx, d.rows, d.cols);
  t.write(d);
  return t;
}
