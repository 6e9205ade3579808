/**
 * The dense reference 1x1 convolution in CHW layout: every output channel is a weighted sum of
 * every input channel's plane, plus bias, clamped. Plain loops, f64 accumulation.
 * @module
 */
import type { Dense } from "../dense.ts";
import type { ReferenceOptions } from "./gemm.ts";

/**
 * `y[o][p] = clamp(bias[o] + sum_i w[o][i] x[i][p], min, max)` for weights `[cout x cin]` and
 * a CHW activation `[cin x pixels]`. Inputs are trusted (callers are tests).
 *
 * @param weights `[cout x cin]`
 * @param x `[cin x pixels]` activation, channels outermost
 * @param options bias per output channel and clamp
 * @returns a fresh `[cout x pixels]` Dense
 *
 * @example ReLU6 on a two-pixel image
 * ```ts
 * import { dense, referenceConv1x1 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const y = referenceConv1x1(dense(1, 2, [1, -1]), dense(2, 2, [4, 5, 1, -3]), { min: 0, max: 6 });
 * assert.deepEqual([...y.data], [3, 6]);
 * ```
 */
export function referenceConv1x1(weights: Dense, x: Dense, options: ReferenceOptions = {}): Dense {
  const cout = weights.rows, cin = weights.cols, pixels = x.cols;
  const data = new Float32Array(cout * pixels);
  const lo = options.min ?? -Infinity;
  const hi = options.max ?? Infinity;
  const plane = new Float64Array(pixels);
  for (let o = 0; o < cout; o++) {
    plane.fill(options.bias === undefined ? 0 : options.bias[o]);
    for (let i = 0; i < cin; i++) {
      const w = weights.data[o * cin + i];
      for (let p = 0; p < pixels; p++) plane[p] += w * x.data[i * pixels + p];
    }
    for (let p = 0; p < pixels; p++) data[o * pixels + p] = Math.min(Math.max(plane[p], lo), hi);
  }
  return Object.freeze({ rows: cout, cols: pixels, data });
}
