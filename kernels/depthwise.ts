/**
 * Depthwise convolution in CHW layout (3x3 and 5x5, stride 1 and 2, any padding) with fused
 * bias and clamp: every channel is filtered by its own window.
 * @module
 */
import type { Backend } from "./backend.ts";
import { checkDense, type Dense } from "./dense.ts";
import { ShapeError } from "./errors.ts";
import { jsBackend } from "./js.ts";
import { biasColumn, viaResident } from "./resident.ts";
import { resolveWindow, type WindowOptions } from "./spatial.ts";
import type { NumberArray } from "./validate.ts";

/** Options of {@link depthwise}: the input geometry, stride, padding, bias, clamp. */
export interface DepthwiseOptions extends WindowOptions {
  /** Added to every output pixel of channel c; `channels` finite values. Default none. */
  readonly bias?: NumberArray;
  /** Where to write the result; it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /** The backend to run on; default the TypeScript backend. */
  readonly backend?: Backend;
}

/** @internal The kernel side of a depthwise weight matrix: 9 columns are 3x3, 25 are 5x5. */
export function depthwiseKernel(weights: Dense): number {
  if (weights.cols === 9) return 3;
  if (weights.cols === 25) return 5;
  throw new ShapeError(
    { argument: "weights.cols", value: weights.cols },
    "expected 9 (3x3) or 25 (5x5) weights per channel",
  );
}

/**
 * Depthwise convolution of CHW activations:
 * `y[c](oy, ox) = clamp(bias[c] + sum_{ky,kx} w[c](ky, kx) x[c](oy*s - top + ky, ox*s - left + kx))`,
 * reading zeros outside the image. With a batch, each channel's row holds the images one
 * after the other (`batch*height*width` pixels).
 *
 * @param x `[channels x batch*height*width]`
 * @param weights `[channels x 9]` (3x3) or `[channels x 25]` (5x5), each row a row-major window
 * @param options geometry (`height`, `width`, `batch`, `stride`, `padding`), bias, clamp,
 *   `out`, backend
 * @returns `[channels x batch*outHeight*outWidth]`: `options.out` or a fresh Dense
 * @throws {ShapeError} when the shapes disagree, the kernel is not 3x3/5x5, the stride is not
 *   1 or 2, or the padding is bad
 * @throws {ValueError} for a non-finite bias or a bad clamp
 *
 * @example A 3x3 ReLU6 depthwise layer, stride 2, TensorFlow "same" padding, on the best backend
 * ```ts
 * import { dense, depthwise, init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const x = dense(2, 16, Array.from({ length: 32 }, (_, i) => i % 5)); // 2 channels, 4x4
 * const w = dense(2, 9, Array.from({ length: 18 }, (_, i) => (i % 3) - 1));
 * const y = depthwise(x, w, { height: 4, width: 4, stride: 2, min: 0, max: 6, backend });
 * assert.equal(y.cols, 4); // 2x2 output per channel
 * ```
 */
export function depthwise(x: Dense, weights: Dense, options: DepthwiseOptions): Dense {
  checkDense("x", x);
  checkDense("weights", weights);
  const window = resolveWindow(depthwiseKernel(weights), options);
  if (weights.rows !== x.rows) {
    throw new ShapeError(
      { argument: "weights.rows", value: weights.rows },
      `must equal the channels of x (${x.rows})`,
    );
  }
  const expected = window.batch * window.height * window.width;
  if (x.cols !== expected) {
    throw new ShapeError(
      { argument: "x.cols", value: x.cols },
      `expected batch*height*width = ${expected}`,
    );
  }
  const bias = biasColumn("options.bias", options.bias, x.rows);
  const backend = options.backend ?? jsBackend;
  return viaResident(
    backend,
    [["x", x], ["weights", weights], ["options.bias", bias]],
    x.rows,
    window.batch * window.outHeight * window.outWidth,
    options.out,
    ([xt, wt, bt], y) => backend.depthwise(xt!, wt!, bt, y, window),
  );
}
