/**
 * The backend interface every implementation (WebAssembly, TypeScript) provides, and the
 * options shared by the kernels' public functions.
 * @module
 */
import type { Csr } from "./csr.ts";
import type { Dense } from "./dense.ts";
import type { Conv1x1Plan } from "./pack.ts";
import type { Window } from "./spatial.ts";
import type { NumberArray } from "./validate.ts";

/**
 * How a backend computes: WebAssembly with relaxed SIMD (fused multiply-add), WebAssembly
 * SIMD, scalar WebAssembly, or plain TypeScript.
 */
export type Flavour = "relaxed" | "simd" | "scalar" | "js";

/** Every flavour, fastest first. */
export const FLAVOURS: readonly Flavour[] = Object.freeze(["relaxed", "simd", "scalar", "js"]);

/** Options of a dense product: bias per output row, output clamp, and a destination. */
export interface GemmOptions {
  /** Added to every element of row i; `a.rows` finite values. Default none. */
  readonly bias?: NumberArray;
  /** Lower clamp of the result; default -Infinity. */
  readonly min?: number;
  /** Upper clamp of the result; default +Infinity. */
  readonly max?: number;
  /** Where to write the result (`a.rows x b.cols`); it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
}

/** Options of a dense product between resident tensors. */
export interface ResidentGemmOptions extends Omit<GemmOptions, "out"> {
  /** The resident destination, `a.rows x b.cols`. */
  readonly out: Tensor;
}

/**
 * A Plan whose weights a backend has copied into its own memory, so that runs skip the copy.
 * Release it with `dispose()` (or a `using` declaration); a disposed plan throws if used.
 */
export interface PreparedPlan extends Disposable {
  /** The plan it was prepared from. */
  readonly plan: Conv1x1Plan;
  /** The flavour of the backend that holds it. */
  readonly flavour: Flavour;
  /** The backend that holds it. */
  readonly backend: Backend;
  /** Whether `dispose()` has been called. */
  readonly disposed: boolean;
  /** Frees the backend memory. Idempotent. */
  dispose(): void;
}

/**
 * A matrix that lives in a backend's own memory (WebAssembly memory for the wasm flavours), so
 * that a chain of kernels runs with no copies between steps. Copy in with
 * {@link Backend.upload}, out with `read()`; free with `dispose()` or `using`.
 */
export interface Tensor extends Disposable {
  /** Number of rows (channels). */
  readonly rows: number;
  /** Number of columns (pixels). */
  readonly cols: number;
  /** The flavour of the backend that holds it. */
  readonly flavour: Flavour;
  /** Whether `dispose()` has been called. */
  readonly disposed: boolean;
  /** Copies the contents out into `out`, or a fresh Dense. */
  read(out?: Dense): Dense;
  /** Frees the backend memory. Idempotent. */
  dispose(): void;
}

/**
 * @internal The key under which this package's CPU backends lend a resident tensor's memory to
 * a tensor of another shape with no more elements (see {@link TensorView}). The network runner
 * lets activations whose lifetimes do not overlap share memory through it; it is not part of
 * the {@link Backend} interface, so a backend without it still runs networks.
 */
export const TENSOR_VIEW: unique symbol = Symbol("sparsekit.tensorView");

/**
 * @internal A `[rows x cols]` tensor over the first `rows * cols` elements of `base`'s memory:
 * writes through either are seen through the other. It is disposed when `base` is; its own
 * `dispose()` does nothing. Throws a ShapeError when `base` has fewer elements.
 */
export type TensorView = (base: Tensor, rows: number, cols: number) => Tensor;

/**
 * A set of kernels bound to one implementation. Obtain one from {@link init}; it is an
 * ordinary value, holds no global state, and may be used by many callers.
 */
export interface Backend {
  /** Which implementation this is. */
  readonly flavour: Flavour;
  /** Copies a Plan's weights into this backend's memory, once, for many runs. */
  prepare(plan: Conv1x1Plan): PreparedPlan;
  /** Copies a Dense into this backend's memory. */
  upload(d: Dense): Tensor;
  /** Allocates a zero-filled `[rows x cols]` tensor in this backend's memory. */
  alloc(rows: number, cols: number): Tensor;
  /** Sparse 1x1 convolution: `[cin x pixels] -> [cout x pixels]`, see {@link conv1x1}. */
  conv1x1(plan: Conv1x1Plan | PreparedPlan, x: Dense, out?: Dense): Dense;
  /** Sparse 1x1 convolution between resident tensors: no copies at all. Returns `out`. */
  conv1x1(plan: Conv1x1Plan | PreparedPlan, x: Tensor, out: Tensor): Tensor;
  /** Sparse times dense, `C = A B`, see {@link spmm}. */
  spmm(a: Csr, b: Dense, out?: Dense): Dense;
  /** Dense product with fused bias and clamp, see {@link gemm}. */
  gemm(a: Dense, b: Dense, options?: GemmOptions): Dense;
  /** Dense product between resident tensors (`out` required in the options). Returns `out`. */
  gemm(a: Tensor, b: Tensor, options: ResidentGemmOptions): Tensor;
  /**
   * Depthwise convolution between resident tensors, see {@link depthwise}: `x` is
   * `[channels x batch*height*width]`, `weights` `[channels x kernel*kernel]` (row-major
   * window per channel), `bias` `[channels x 1]` or undefined, `out`
   * `[channels x batch*outHeight*outWidth]`. Returns `out`, which must not be `x`.
   */
  depthwise(
    x: Tensor,
    weights: Tensor,
    bias: Tensor | undefined,
    out: Tensor,
    window: Window,
  ): Tensor;
  /**
   * Full convolution of HWC images into CHW between resident tensors, see {@link conv2d}: `x`
   * is `[batch x height*width*channels]`, `weights` `[cout x kernel*kernel*channels]` (for
   * each output channel: row, column, input channel), `bias` `[cout x 1]` or undefined, `out`
   * `[cout x batch*outHeight*outWidth]`. Returns `out`.
   */
  conv2d(
    x: Tensor,
    weights: Tensor,
    bias: Tensor | undefined,
    out: Tensor,
    window: Window,
  ): Tensor;
  /**
   * Global average pooling between resident tensors: `x` `[channels x batch*pixels]` to `out`
   * `[channels x batch]`, see {@link globalAvgPool}. Returns `out`.
   */
  globalAvgPool(x: Tensor, out: Tensor, batch: number): Tensor;
  /**
   * Elementwise `out = clamp(a + b, min, max)` between resident tensors of one shape, see
   * {@link add}; `out` may be `a` or `b`. Returns `out`.
   */
  add(a: Tensor, b: Tensor, out: Tensor, min: number, max: number): Tensor;
}
