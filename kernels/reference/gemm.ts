/**
 * The dense reference GEMM: plain loops with f64 accumulation, one rounding to f32 at the end.
 * It is the oracle every product kernel is tested against, never a fast path.
 * @module
 */
import type { Dense } from "../dense.ts";
import type { NumberArray } from "../validate.ts";

/** Options of the reference products. */
export interface ReferenceOptions {
  /** Bias per output row; default zeros. */
  readonly bias?: NumberArray;
  /** Lower clamp; default -Infinity. */
  readonly min?: number;
  /** Upper clamp; default +Infinity. */
  readonly max?: number;
}

/**
 * `C = clamp(A B + bias, min, max)` with A `[m x k]`, B `[k x n]`, bias per row of C,
 * accumulated in f64 in index order. Inputs are trusted (callers are tests).
 *
 * @param a left factor `[m x k]`
 * @param b right factor `[k x n]`
 * @param options bias and clamp
 * @returns a fresh `[m x n]` Dense
 *
 * @example
 * ```ts
 * import { dense, referenceGemm } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const c = referenceGemm(dense(1, 2, [1, 2]), dense(2, 1, [3, 4]), { bias: [0.5] });
 * assert.deepEqual([...c.data], [11.5]);
 * ```
 */
export function referenceGemm(a: Dense, b: Dense, options: ReferenceOptions = {}): Dense {
  const m = a.rows, k = a.cols, n = b.cols;
  const data = new Float32Array(m * n);
  const lo = options.min ?? -Infinity;
  const hi = options.max ?? Infinity;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = options.bias === undefined ? 0 : options.bias[i];
      for (let p = 0; p < k; p++) s += a.data[i * k + p] * b.data[p * n + j];
      data[i * n + j] = Math.min(Math.max(s, lo), hi);
    }
  }
  return Object.freeze({ rows: m, cols: n, data });
}
