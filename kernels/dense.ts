/**
 * The dense matrix record: row-major f32 data with an explicit shape. A CHW activation tensor
 * is a Dense with `rows = C` and `cols = H*W`.
 * @module
 */
import { ShapeError } from "./errors.ts";
import {
  checkLength,
  checkProduct,
  checkShape,
  checkSize,
  type NumberArray,
  toFloat32,
} from "./validate.ts";

/** A row-major dense f32 matrix. Treat it as immutable: sparsekit never writes to one it did not create. */
export interface Dense {
  /** Number of rows (channels, for a CHW tensor). */
  readonly rows: number;
  /** Number of columns (pixels, H*W, for a CHW tensor). */
  readonly cols: number;
  /** `rows * cols` values, row-major: element (i, j) is `data[i * cols + j]`. */
  readonly data: Float32Array;
}

/**
 * Makes a validated Dense matrix. The data is copied, so later changes to `data` do not
 * reach the matrix. Without `data` the matrix is all zeros.
 *
 * @param rows number of rows, a non-negative integer
 * @param cols number of columns, a non-negative integer
 * @param data `rows * cols` finite values in row-major order
 * @returns a fresh Dense
 * @throws {ShapeError} when a size is negative, not an integer or too large, or `data` has the wrong length
 * @throws {ValueError} when a value is NaN or infinite (the error names its index)
 *
 * @example A 2x3 matrix
 * ```ts
 * import { dense } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const m = dense(2, 3, [1, 2, 3, 4, 5, 6]);
 * assert.equal(m.data[1 * 3 + 2], 6);
 * ```
 */
export function dense(rows: number, cols: number, data?: NumberArray): Dense {
  checkSize("rows", rows);
  checkSize("cols", cols);
  const n = checkProduct("rows * cols", rows, cols);
  if (data === undefined) return Object.freeze({ rows, cols, data: new Float32Array(n) });
  checkLength("data", data, n);
  return Object.freeze({ rows, cols, data: toFloat32("data", data) });
}

/**
 * Checks a Dense-shaped value that did not come from {@link dense} (an object literal, say):
 * the sizes are valid and the data is a Float32Array of the right length. Values are not
 * scanned (that is {@link dense}'s job), so this is cheap enough for every call.
 */
export function checkDense(argument: string, m: unknown): Dense {
  if (m === null || typeof m !== "object") {
    throw new ShapeError({ argument, value: m }, "expected a Dense {rows, cols, data}");
  }
  const d = m as Dense;
  checkSize(`${argument}.rows`, d.rows);
  checkSize(`${argument}.cols`, d.cols);
  const n = checkProduct(`${argument}.rows * ${argument}.cols`, d.rows, d.cols);
  if (!(d.data instanceof Float32Array)) {
    throw new ShapeError(
      { argument: `${argument}.data`, value: d.data },
      "expected a Float32Array",
    );
  }
  if (d.data.length !== n) {
    throw new ShapeError(
      { argument: `${argument}.data`, value: d.data.length },
      `length must be rows * cols = ${n}`,
    );
  }
  return d;
}

/**
 * Checks a caller-provided `out` matrix: right shape, a Float32Array of the right length.
 * @internal
 */
export function checkOut(out: Dense, rows: number, cols: number): Dense {
  checkDense("out", out);
  checkShape("out", out, rows, cols);
  return out;
}
