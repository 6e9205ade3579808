/**
 * The first layer of a CHW network: a full 3x3 convolution (stride 1 or 2, any padding) that
 * reads HWC images, as they arrive from a camera or a decoder, and writes CHW activations.
 * @module
 */
import type { Backend } from "./backend.ts";
import { checkDense, type Dense } from "./dense.ts";
import { ShapeError } from "./errors.ts";
import { jsBackend } from "./js.ts";
import { biasColumn, viaResident } from "./resident.ts";
import { resolveWindow, type WindowOptions } from "./spatial.ts";
import type { NumberArray } from "./validate.ts";

/** Options of {@link conv2d}: the input geometry, stride, padding, bias, clamp. */
export interface Conv2dOptions extends WindowOptions {
  /** Input channels of the HWC images (3 for RGB). */
  readonly channels: number;
  /** Added to every output pixel of channel o; `weights.rows` finite values. Default none. */
  readonly bias?: NumberArray;
  /** Where to write the result; it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /** The backend to run on; default the TypeScript backend. */
  readonly backend?: Backend;
}

/**
 * A 3x3 convolution from HWC images to CHW activations:
 * `y[o](oy, ox) = clamp(bias[o] + sum_{ky,kx,i} w[o](ky, kx, i) x(oy*s - top + ky, ox*s - left + kx, i))`,
 * reading zeros outside the image.
 *
 * @param x `[batch x height*width*channels]`: one HWC image per row
 * @param weights `[cout x 9*channels]`: for each output channel, the window in row, column,
 *   input-channel order (TensorFlow's `[3, 3, cin, cout]` kernel, transposed)
 * @param options geometry (`height`, `width`, `channels`, `stride`, `padding`), bias, clamp,
 *   `out`, backend; the batch is `x.rows`
 * @returns `[cout x batch*outHeight*outWidth]`: `options.out` or a fresh Dense
 * @throws {ShapeError} when the shapes disagree, the stride is not 1 or 2, or the padding is bad
 * @throws {ValueError} for a non-finite bias or a bad clamp
 *
 * @example MobileNet's first layer on a tiny RGB image: 3x3, stride 2, padding 1, ReLU6
 * ```ts
 * import { conv2d, dense, init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const image = dense(1, 5 * 5 * 3, Array.from({ length: 75 }, (_, i) => (i % 7) / 7));
 * const w = dense(4, 27, Array.from({ length: 108 }, (_, i) => Math.sin(i)));
 * const y = conv2d(image, w, { height: 5, width: 5, channels: 3, stride: 2, padding: 1, min: 0, max: 6, backend });
 * assert.equal(y.rows, 4);
 * assert.equal(y.cols, 3 * 3);
 * ```
 */
export function conv2d(x: Dense, weights: Dense, options: Conv2dOptions): Dense {
  checkDense("x", x);
  checkDense("weights", weights);
  const window = resolveWindow(3, { ...options, batch: x.rows }, [3]);
  const cin = options.channels;
  if (!Number.isInteger(cin) || cin <= 0) {
    throw new ShapeError(
      { argument: "options.channels", value: cin },
      "expected a positive integer",
    );
  }
  if (weights.cols !== 9 * cin) {
    throw new ShapeError(
      { argument: "weights.cols", value: weights.cols },
      `expected 3*3*channels = ${9 * cin}`,
    );
  }
  const expected = window.height * window.width * cin;
  if (x.cols !== expected) {
    throw new ShapeError(
      { argument: "x.cols", value: x.cols },
      `expected height*width*channels = ${expected}`,
    );
  }
  const bias = biasColumn("options.bias", options.bias, weights.rows);
  const backend = options.backend ?? jsBackend;
  return viaResident(
    backend,
    [["x", x], ["weights", weights], ["options.bias", bias]],
    weights.rows,
    window.batch * window.outHeight * window.outWidth,
    options.out,
    ([xt, wt, bt], y) => backend.conv2d(xt!, wt!, bt, y, window),
  );
}
