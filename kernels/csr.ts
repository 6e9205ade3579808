/**
 * Compressed sparse row matrices: the validated record, and conversions from dense matrices
 * and COO triplets and back to dense.
 * @module
 */
import { checkDense, type Dense, dense } from "./dense.ts";
import { ShapeError, SparseFormatError, ValueError } from "./errors.ts";
import { checkLength, checkProduct, checkSize, type NumberArray, toFloat32 } from "./validate.ts";

/**
 * A sparse matrix in compressed sparse row form. Row `i` holds the entries
 * `rowPtr[i] <= k < rowPtr[i + 1]`, at columns `colIdx[k]` (strictly increasing within a
 * row) with values `values[k]`.
 */
export interface Csr {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** `rows + 1` offsets into `colIdx` and `values`; `rowPtr[0] = 0`, `rowPtr[rows] = nnz`. */
  readonly rowPtr: Int32Array;
  /** Column of each stored entry, sorted and unique within each row. */
  readonly colIdx: Int32Array;
  /** Value of each stored entry (finite; explicit zeros are allowed). */
  readonly values: Float32Array;
}

/** Number of stored entries of a Csr matrix. */
export function nnz(a: Csr): number {
  return a.rowPtr[a.rows];
}

function toInt32(argument: string, data: NumberArray): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new SparseFormatError(
        { argument, index: i, value: v },
        "expected a non-negative integer",
      );
    }
    out[i] = v;
  }
  return out;
}

function checkStructure(
  rows: number,
  cols: number,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  prefix: string,
): void {
  if (rowPtr[0] !== 0) {
    throw new SparseFormatError(
      { argument: `${prefix}rowPtr`, index: 0, value: rowPtr[0] },
      "must be 0",
    );
  }
  for (let i = 0; i < rows; i++) {
    if (rowPtr[i + 1] < rowPtr[i]) {
      throw new SparseFormatError(
        { argument: `${prefix}rowPtr`, index: i + 1, value: rowPtr[i + 1] },
        `must not be less than rowPtr[${i}] = ${rowPtr[i]}`,
      );
    }
  }
  if (rowPtr[rows] !== colIdx.length) {
    throw new SparseFormatError(
      { argument: `${prefix}rowPtr`, index: rows, value: rowPtr[rows] },
      `must equal the number of stored entries, colIdx.length = ${colIdx.length}`,
    );
  }
  for (let i = 0; i < rows; i++) {
    for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
      const c = colIdx[k];
      if (c < 0 || c >= cols) {
        throw new SparseFormatError(
          { argument: `${prefix}colIdx`, index: k, value: c },
          `column out of range [0, ${cols}) in row ${i}`,
        );
      }
      if (k > rowPtr[i] && c <= colIdx[k - 1]) {
        throw new SparseFormatError(
          { argument: `${prefix}colIdx`, index: k, value: c },
          c === colIdx[k - 1]
            ? `duplicate column in row ${i}`
            : `columns must increase within row ${i} (previous is ${colIdx[k - 1]})`,
        );
      }
    }
  }
}

/**
 * Makes a validated Csr matrix from its three arrays, which are copied.
 *
 * @param rows number of rows
 * @param cols number of columns
 * @param rowPtr `rows + 1` non-decreasing offsets starting at 0
 * @param colIdx column of each entry, increasing within each row, each in `[0, cols)`
 * @param values finite value of each entry
 * @returns a fresh Csr
 * @throws {ShapeError} when a size is invalid or an array has the wrong length
 * @throws {SparseFormatError} when the structure is malformed (the error names array and index)
 * @throws {ValueError} when a value is NaN or infinite
 *
 * @example The 2x3 matrix [[0, 5, 0], [7, 0, 8]]
 * ```ts
 * import { csr, csrToDense } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const a = csr(2, 3, [0, 1, 3], [1, 0, 2], [5, 7, 8]);
 * assert.deepEqual([...csrToDense(a).data], [0, 5, 0, 7, 0, 8]);
 * ```
 */
export function csr(
  rows: number,
  cols: number,
  rowPtr: NumberArray,
  colIdx: NumberArray,
  values: NumberArray,
): Csr {
  checkSize("rows", rows);
  checkSize("cols", cols);
  checkLength("rowPtr", rowPtr, rows + 1);
  const ptr = toInt32("rowPtr", rowPtr);
  const n = ptr[rows];
  checkSize("rowPtr[rows] (nnz)", n);
  checkLength("colIdx", colIdx, n);
  checkLength("values", values, n);
  const idx = toInt32("colIdx", colIdx);
  checkStructure(rows, cols, ptr, idx, "");
  const vals = toFloat32("values", values);
  return Object.freeze({ rows, cols, rowPtr: ptr, colIdx: idx, values: vals });
}

/**
 * Checks a Csr-shaped value that did not come from {@link csr}: sizes, array types and
 * lengths, and the full index structure (O(nnz)); values are not scanned.
 * @internal
 */
export function checkCsr(argument: string, a: unknown): Csr {
  if (a === null || typeof a !== "object") {
    throw new ShapeError(
      { argument, value: a },
      "expected a Csr {rows, cols, rowPtr, colIdx, values}",
    );
  }
  const m = a as Csr;
  checkSize(`${argument}.rows`, m.rows);
  checkSize(`${argument}.cols`, m.cols);
  for (
    const [name, T] of [["rowPtr", Int32Array], ["colIdx", Int32Array], [
      "values",
      Float32Array,
    ]] as const
  ) {
    if (!(m[name] instanceof T)) {
      throw new ShapeError(
        { argument: `${argument}.${name}`, value: m[name] },
        `expected a ${T.name}`,
      );
    }
  }
  if (m.rowPtr.length !== m.rows + 1) {
    throw new ShapeError(
      { argument: `${argument}.rowPtr`, value: m.rowPtr.length },
      `length must be rows + 1 = ${m.rows + 1}`,
    );
  }
  if (m.values.length !== m.colIdx.length) {
    throw new ShapeError(
      { argument: `${argument}.values`, value: m.values.length },
      `length must equal colIdx.length = ${m.colIdx.length}`,
    );
  }
  checkStructure(m.rows, m.cols, m.rowPtr, m.colIdx, `${argument}.`);
  return m;
}

/** Options for {@link csrFromDense}. */
export interface FromDenseOptions {
  /** Entries with `|value| <= threshold` are dropped. Default 0 (keep every nonzero). */
  readonly threshold?: number;
}

/**
 * Converts a dense matrix to CSR, keeping the entries whose magnitude exceeds `threshold`.
 *
 * @param d the dense matrix
 * @param options `threshold` (default 0)
 * @returns a fresh Csr
 * @throws {ShapeError} when `d` is not a valid Dense
 * @throws {ValueError} when `threshold` is negative or NaN
 *
 * @example
 * ```ts
 * import { csrFromDense, dense, nnz } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const a = csrFromDense(dense(2, 2, [0, 1, 2, 0]));
 * assert.equal(nnz(a), 2);
 * assert.deepEqual([...a.colIdx], [1, 0]);
 * ```
 */
export function csrFromDense(d: Dense, options: FromDenseOptions = {}): Csr {
  checkDense("d", d);
  const threshold = options.threshold ?? 0;
  if (!(threshold >= 0)) {
    throw new ValueError(
      { argument: "options.threshold", value: threshold },
      "expected a number >= 0",
    );
  }
  const { rows, cols, data } = d;
  let count = 0;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > threshold) count++;
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(count);
  const values = new Float32Array(count);
  let k = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j];
      if (Math.abs(v) > threshold) {
        colIdx[k] = j;
        values[k++] = v;
      }
    }
    rowPtr[i + 1] = k;
  }
  return Object.freeze({ rows, cols, rowPtr, colIdx, values });
}

/** Options for {@link csrFromCoo}. */
export interface FromCooOptions {
  /**
   * What to do with repeated (row, column) pairs: `"error"` (default) throws a
   * SparseFormatError naming the second occurrence; `"sum"` adds them, as finite-element
   * assembly and SciPy do.
   */
  readonly duplicates?: "error" | "sum";
}

/**
 * Builds a CSR matrix from COO triplets given in any order.
 *
 * @param rows number of rows
 * @param cols number of columns
 * @param rowIdx row of each triplet, in `[0, rows)`
 * @param colIdx column of each triplet, in `[0, cols)`
 * @param values finite value of each triplet
 * @param options how to treat duplicates
 * @returns a fresh Csr with sorted columns
 * @throws {ShapeError} when a size is invalid or the arrays differ in length
 * @throws {SparseFormatError} when an index is out of range, or duplicated under `"error"`
 * @throws {ValueError} when a value is NaN or infinite
 *
 * @example Triplets out of order
 * ```ts
 * import { csrFromCoo, csrToDense } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const a = csrFromCoo(2, 2, [1, 0], [0, 1], [3, 4]);
 * assert.deepEqual([...csrToDense(a).data], [0, 4, 3, 0]);
 * ```
 */
export function csrFromCoo(
  rows: number,
  cols: number,
  rowIdx: NumberArray,
  colIdx: NumberArray,
  values: NumberArray,
  options: FromCooOptions = {},
): Csr {
  checkSize("rows", rows);
  checkSize("cols", cols);
  if (rowIdx === null || typeof rowIdx !== "object") {
    throw new ShapeError({ argument: "rowIdx", value: rowIdx }, "expected an array or typed array");
  }
  const n = checkSize("rowIdx.length", rowIdx.length);
  checkLength("colIdx", colIdx, n);
  checkLength("values", values, n);
  const mode = options.duplicates ?? "error";
  if (mode !== "error" && mode !== "sum") {
    throw new ValueError(
      { argument: "options.duplicates", value: mode },
      'expected "error" or "sum"',
    );
  }
  const r = toInt32("rowIdx", rowIdx);
  const c = toInt32("colIdx", colIdx);
  const v = toFloat32("values", values);
  for (let k = 0; k < n; k++) {
    if (r[k] >= rows) {
      throw new SparseFormatError(
        { argument: "rowIdx", index: k, value: r[k] },
        `row out of range [0, ${rows})`,
      );
    }
    if (c[k] >= cols) {
      throw new SparseFormatError(
        { argument: "colIdx", index: k, value: c[k] },
        `column out of range [0, ${cols})`,
      );
    }
  }
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((x, y) => r[x] - r[y] || c[x] - c[y] || x - y);
  const rowPtr = new Int32Array(rows + 1);
  const outIdx = new Int32Array(n);
  const outVal = new Float32Array(n);
  let m = 0;
  for (let t = 0; t < n; t++) {
    const k = order[t];
    if (m > 0 && t > 0 && r[order[t - 1]] === r[k] && c[order[t - 1]] === c[k]) {
      if (mode === "error") {
        throw new SparseFormatError(
          { argument: "colIdx", index: k, value: c[k] },
          `duplicate entry (${r[k]}, ${c[k]}), first given at index ${order[t - 1]}`,
        );
      }
      outVal[m - 1] += v[k];
      continue;
    }
    outIdx[m] = c[k];
    outVal[m] = v[k];
    rowPtr[r[k] + 1]++;
    m++;
  }
  for (let i = 0; i < rows; i++) rowPtr[i + 1] += rowPtr[i];
  for (let k = 0; k < m; k++) {
    if (!Number.isFinite(outVal[k])) {
      throw new ValueError(
        { argument: "values", value: outVal[k] },
        "a sum of duplicates overflows float32",
      );
    }
  }
  return Object.freeze({
    rows,
    cols,
    rowPtr,
    colIdx: outIdx.slice(0, m),
    values: outVal.slice(0, m),
  });
}

/**
 * Expands a CSR matrix to a fresh dense one.
 *
 * @param a the sparse matrix
 * @returns a fresh Dense with the stored entries in place and zeros elsewhere
 * @throws {ShapeError} or {SparseFormatError} when `a` is not a valid Csr
 *
 * @example
 * ```ts
 * import { csr, csrToDense } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const d = csrToDense(csr(1, 3, [0, 1], [2], [9]));
 * assert.deepEqual([...d.data], [0, 0, 9]);
 * ```
 */
export function csrToDense(a: Csr): Dense {
  checkCsr("a", a);
  checkProduct("a.rows * a.cols", a.rows, a.cols);
  const out = dense(a.rows, a.cols);
  const { rowPtr, colIdx, values, cols } = a;
  for (let i = 0; i < a.rows; i++) {
    for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) out.data[i * cols + colIdx[k]] = values[k];
  }
  return out;
}
