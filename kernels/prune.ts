/**
 * Pruning: making dense weights sparse by zeroing the entries (or output-channel blocks) of
 * least magnitude. Pure functions; each returns a fresh Dense and leaves its input alone.
 * @module
 */
import { checkDense, type Dense } from "./dense.ts";
import { ValueError } from "./errors.ts";
import { checkFinite } from "./validate.ts";

/** Options for {@link pruneMagnitude}. */
export interface PruneMagnitudeOptions {
  /**
   * `"matrix"` (default) ranks every entry against every other; `"row"` prunes each row
   * (output channel) on its own, to the same count in every row.
   */
  readonly per?: "matrix" | "row";
}

/** Options for {@link pruneBlocks}. */
export interface PruneBlocksOptions {
  /** The number of consecutive rows (output channels) in one block: 1, 2 or 4. */
  readonly block: 1 | 2 | 4;
}

function checkSparsity(sparsity: unknown): number {
  if (typeof sparsity !== "number" || !(sparsity >= 0 && sparsity <= 1)) {
    throw new ValueError({ argument: "sparsity", value: sparsity }, "expected a number in [0, 1]");
  }
  return sparsity;
}

/**
 * Marks in `pruned` the `k` positions of `scores[from, from + n)` with the smallest scores,
 * breaking ties by position (the lower one first). A native sort finds the k-th score, then
 * one pass in position order takes everything below it and the first of its equals.
 */
function markSmallest(
  scores: Float32Array | Float64Array,
  from: number,
  n: number,
  k: number,
  pruned: Uint8Array,
): void {
  if (k === 0) return;
  const part = scores.subarray(from, from + n);
  const threshold = part.slice().sort()[k - 1];
  let below = 0;
  for (let i = 0; i < n; i++) if (part[i] < threshold) below++;
  let ties = k - below;
  for (let i = 0; i < n; i++) {
    const s = part[i];
    if (s < threshold || (s === threshold && ties-- > 0)) pruned[from + i] = 1;
  }
}

/**
 * Magnitude pruning: zeroes the `Math.round(sparsity * count)` entries of smallest absolute
 * value, where `count` is the number of entries of the matrix (or, with `per: "row"`, of each
 * row, and then every row loses that many). Ties are broken by position: of equal magnitudes,
 * the entry with the lower row-major index is pruned first. Entries that are already zero are
 * the smallest of all, so the result has exactly that many zeros unless the input had more.
 *
 * @param w the weights, rows being output channels
 * @param sparsity the fraction of entries to zero, in [0, 1]
 * @param options `per`: `"matrix"` (default) or `"row"`
 * @returns a fresh Dense of the same shape; `w` is not changed
 * @throws {ShapeError} when `w` is not a valid Dense
 * @throws {ValueError} when `sparsity` is not in [0, 1], `options.per` is not `"matrix"` or
 *   `"row"`, or `w` holds a value that is not finite
 *
 * @example Half of the entries, smallest first
 * ```ts
 * import { dense, pruneMagnitude } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const w = dense(2, 3, [0.5, -3, 1, 2, -0.25, 4]);
 * assert.deepEqual([...pruneMagnitude(w, 0.5).data], [0, -3, 0, 2, 0, 4]);
 * assert.deepEqual([...pruneMagnitude(w, 1 / 3, { per: "row" }).data], [0, -3, 1, 2, 0, 4]);
 * ```
 */
export function pruneMagnitude(
  w: Dense,
  sparsity: number,
  options: PruneMagnitudeOptions = {},
): Dense {
  checkDense("w", w);
  checkSparsity(sparsity);
  const per = options.per ?? "matrix";
  if (per !== "matrix" && per !== "row") {
    throw new ValueError({ argument: "options.per", value: per }, 'expected "matrix" or "row"');
  }
  checkFinite("w.data", w.data);
  const { rows, cols } = w;
  const data = w.data.slice();
  const magnitude = data.map(Math.abs);
  const pruned = new Uint8Array(data.length);
  if (per === "matrix") {
    markSmallest(magnitude, 0, data.length, Math.round(sparsity * data.length), pruned);
  } else {
    const k = Math.round(sparsity * cols);
    for (let i = 0; i < rows; i++) markSmallest(magnitude, i * cols, cols, k, pruned);
  }
  for (let i = 0; i < data.length; i++) if (pruned[i]) data[i] = 0;
  return Object.freeze({ rows, cols, data });
}

/**
 * Output-channel block pruning, the structure that 1x2 and 1x4 sparse kernels run fastest on.
 * Rows are output channels; a block is `block` consecutive rows at one column, the rows being
 * grouped from the top (0..b-1, b..2b-1, ...), so when `rows` is not a multiple of `block` the
 * last group holds smaller blocks. Blocks are ranked by L2 norm and the
 * `Math.round(sparsity * blocks)` smallest are zeroed, where `blocks` is
 * `ceil(rows / block) * cols`; ties go by block index (group-major, then column), the lower
 * first. Every block of the result is therefore either all zero or untouched.
 *
 * @param w the weights, rows being output channels
 * @param sparsity the fraction of blocks to zero, in [0, 1]
 * @param options `block`: rows per block, 1, 2 or 4
 * @returns a fresh Dense of the same shape; `w` is not changed
 * @throws {ShapeError} when `w` is not a valid Dense
 * @throws {ValueError} when `sparsity` is not in [0, 1], `options.block` is not 1, 2 or 4, or
 *   `w` holds a value that is not finite
 *
 * @example 2x1 blocks over a 4x2 matrix
 * ```ts
 * import { dense, pruneBlocks } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * // Blocks (rows 0-1, col 0), (rows 0-1, col 1), (rows 2-3, col 0), (rows 2-3, col 1).
 * const w = dense(4, 2, [1, 5, 1, 5, 3, 0.5, 3, 0.5]);
 * assert.deepEqual([...pruneBlocks(w, 0.5, { block: 2 }).data], [0, 5, 0, 5, 3, 0, 3, 0]);
 * ```
 */
export function pruneBlocks(w: Dense, sparsity: number, options: PruneBlocksOptions): Dense {
  checkDense("w", w);
  checkSparsity(sparsity);
  const b = options?.block;
  if (b !== 1 && b !== 2 && b !== 4) {
    throw new ValueError({ argument: "options.block", value: b }, "expected 1, 2 or 4");
  }
  checkFinite("w.data", w.data);
  const { rows, cols } = w;
  const data = w.data.slice();
  const groups = Math.ceil(rows / b);
  const blocks = groups * cols;
  // Squared norms rank like norms; doubles hold the sum of a few squared f32 exactly enough.
  const norm2 = new Float64Array(blocks);
  for (let i = 0; i < rows; i++) {
    const g = ((i / b) | 0) * cols;
    for (let j = 0; j < cols; j++) norm2[g + j] += data[i * cols + j] ** 2;
  }
  const pruned = new Uint8Array(blocks);
  markSmallest(norm2, 0, blocks, Math.round(sparsity * blocks), pruned);
  for (let i = 0; i < rows; i++) {
    const g = ((i / b) | 0) * cols;
    for (let j = 0; j < cols; j++) if (pruned[g + j]) data[i * cols + j] = 0;
  }
  return Object.freeze({ rows, cols, data });
}
