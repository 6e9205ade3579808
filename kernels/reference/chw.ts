/**
 * Dense references of the CHW operators around the 1x1 convolution: depthwise convolution,
 * the first-layer convolution (HWC images in, CHW out), global average pooling and residual
 * add. Plain loops over output pixels with explicit bounds tests and f64 accumulation; they
 * are the oracles the kernels are tested against, never a fast path.
 * @module
 */
import type { Dense } from "../dense.ts";
import type { Window } from "../spatial.ts";
import type { NumberArray } from "../validate.ts";

const clamp = (v: number, w: { readonly min: number; readonly max: number }) =>
  Math.min(Math.max(v, w.min), w.max);

/**
 * Depthwise convolution of CHW activations (batch inside each channel, see {@link Window}):
 * `y[c][n][oy][ox] = clamp(bias[c] + sum_{ky,kx} w[c][ky][kx] x[c][n][oy*s-top+ky][ox*s-left+kx])`
 * with out-of-range input pixels read as zero. Inputs are trusted (callers are tests).
 *
 * @param x `[channels x batch*height*width]`
 * @param weights `[channels x kernel*kernel]`, each row a row-major window
 * @param bias per channel, or undefined for none
 * @param window geometry and clamp, from {@link resolveWindow}
 * @returns a fresh `[channels x batch*outHeight*outWidth]` Dense
 *
 * @example A 3x3 box filter on a 2x2 image padded by one pixel
 * ```ts
 * import { dense, referenceDepthwise, resolveWindow } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const window = resolveWindow(3, { height: 2, width: 2, padding: 1 });
 * const y = referenceDepthwise(dense(1, 4, [1, 2, 3, 4]), dense(1, 9, Array(9).fill(1)), undefined, window);
 * assert.deepEqual([...y.data], [10, 10, 10, 10]);
 * ```
 */
export function referenceDepthwise(
  x: Dense,
  weights: Dense,
  bias: NumberArray | undefined,
  window: Window,
): Dense {
  const { kernel: k, stride: s, height: h, width: w, batch, outHeight: oh, outWidth: ow } = window;
  const channels = x.rows;
  const data = new Float32Array(channels * batch * oh * ow);
  let o = 0;
  for (let c = 0; c < channels; c++) {
    for (let n = 0; n < batch; n++) {
      const plane = c * x.cols + n * h * w;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = bias === undefined ? 0 : bias[c];
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * s - window.padTop + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * s - window.padLeft + kx;
              if (ix < 0 || ix >= w) continue;
              acc += weights.data[c * k * k + ky * k + kx] * x.data[plane + iy * w + ix];
            }
          }
          data[o++] = clamp(acc, window);
        }
      }
    }
  }
  return Object.freeze({ rows: channels, cols: batch * oh * ow, data });
}

/**
 * Full convolution of HWC images into a CHW result, the first layer of a CHW network:
 * `y[o][n][oy][ox] = clamp(bias[o] + sum_{ky,kx,i} w[o][ky][kx][i] x[n][iy][ix][i])` with
 * `iy = oy*s-top+ky`, `ix = ox*s-left+kx` and out-of-range pixels read as zero. Inputs are
 * trusted (callers are tests).
 *
 * @param x `[batch x height*width*channels]`, one HWC image per row
 * @param weights `[cout x kernel*kernel*channels]`, per output channel: row, column, input channel
 * @param bias per output channel, or undefined for none
 * @param window geometry and clamp, from {@link resolveWindow}
 * @returns a fresh `[cout x batch*outHeight*outWidth]` Dense
 *
 * @example One 3x3 filter summing both channels of a 1x1 image with padding 1
 * ```ts
 * import { dense, referenceConv2d, resolveWindow } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const window = resolveWindow(3, { height: 1, width: 1, padding: 1 });
 * const y = referenceConv2d(dense(1, 2, [3, 4]), dense(1, 18, Array(18).fill(1)), [0.5], window);
 * assert.deepEqual([...y.data], [7.5]);
 * ```
 */
export function referenceConv2d(
  x: Dense,
  weights: Dense,
  bias: NumberArray | undefined,
  window: Window,
): Dense {
  const { kernel: k, stride: s, height: h, width: w, batch, outHeight: oh, outWidth: ow } = window;
  const cout = weights.rows;
  const cin = k === 0 ? 0 : weights.cols / (k * k);
  const data = new Float32Array(cout * batch * oh * ow);
  let o = 0;
  for (let c = 0; c < cout; c++) {
    for (let n = 0; n < batch; n++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = bias === undefined ? 0 : bias[c];
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * s - window.padTop + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = ox * s - window.padLeft + kx;
              if (ix < 0 || ix >= w) continue;
              for (let i = 0; i < cin; i++) {
                acc += weights.data[c * weights.cols + (ky * k + kx) * cin + i] *
                  x.data[n * x.cols + (iy * w + ix) * cin + i];
              }
            }
          }
          data[o++] = clamp(acc, window);
        }
      }
    }
  }
  return Object.freeze({ rows: cout, cols: batch * oh * ow, data });
}

/**
 * Global average pooling: `y[c][n] = mean over p of x[c][n*pixels + p]`, accumulated in f64.
 * An image of no pixels averages to 0.
 *
 * @param x `[channels x batch*pixels]`
 * @param batch images in the batch (a divisor of `x.cols`, or any count when `x.cols` is 0)
 * @returns a fresh `[channels x batch]` Dense
 *
 * @example
 * ```ts
 * import { dense, referenceGlobalAvgPool } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...referenceGlobalAvgPool(dense(1, 4, [1, 2, 3, 5]), 2).data], [1.5, 4]);
 * ```
 */
export function referenceGlobalAvgPool(x: Dense, batch: number): Dense {
  const pixels = batch === 0 ? 0 : x.cols / batch;
  const data = new Float32Array(x.rows * batch);
  for (let c = 0; c < x.rows; c++) {
    for (let n = 0; n < batch; n++) {
      let acc = 0;
      for (let p = 0; p < pixels; p++) acc += x.data[c * x.cols + n * pixels + p];
      data[c * batch + n] = pixels === 0 ? 0 : acc / pixels;
    }
  }
  return Object.freeze({ rows: x.rows, cols: batch, data });
}

/**
 * Elementwise `clamp(a + b, min, max)`, the residual connection.
 *
 * @example ReLU6 after the add
 * ```ts
 * import { dense, referenceAdd } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const y = referenceAdd(dense(1, 3, [1, -5, 4]), dense(1, 3, [2, 1, 4]), { min: 0, max: 6 });
 * assert.deepEqual([...y.data], [3, 0, 6]);
 * ```
 */
export function referenceAdd(
  a: Dense,
  b: Dense,
  clampTo: { readonly min?: number; readonly max?: number } = {},
): Dense {
  const w = { min: clampTo.min ?? -Infinity, max: clampTo.max ?? Infinity };
  const data = new Float32Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = clamp(a.data[i] + b.data[i], w);
  return Object.freeze({ rows: a.rows, cols: a.cols, data });
}
