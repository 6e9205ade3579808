/**
 * Matrix Market exchange files (coordinate format): reading them into Csr matrices and writing
 * Csr matrices out, so weights can travel to and from SciPy, MATLAB and SuiteSparse.
 * @module
 */
import { checkCsr, type Csr, csrFromCoo } from "./csr.ts";
import { ShapeError, SparseFormatError, ValueError } from "./errors.ts";
import { MAX_ELEMENTS } from "./validate.ts";

/** How a Matrix Market file stores its values: as reals, as integers, or not at all. */
export type MatrixMarketField = "real" | "integer" | "pattern";

/** Whether a Matrix Market file stores every entry or only the lower triangle of a symmetric matrix. */
export type MatrixMarketSymmetry = "general" | "symmetric";

/** Options for {@link writeMatrixMarket}. */
export interface WriteMatrixMarketOptions {
  /**
   * How values are written: `"real"` (default; the shortest decimal that reads back to the same
   * f32), `"integer"` (every value must be an integer), or `"pattern"` (no values at all).
   */
  readonly field?: MatrixMarketField;
  /**
   * `"general"` (default) writes every stored entry; `"symmetric"` writes only the lower
   * triangle and diagonal, and needs a square, symmetric matrix.
   */
  readonly symmetry?: MatrixMarketSymmetry;
  /** Text written after the banner as `%` comment lines, one per line of the text. */
  readonly comment?: string;
}

const FIELDS: readonly string[] = ["real", "integer", "pattern"];
const UNSUPPORTED_FIELDS: readonly string[] = ["complex"];
const SYMMETRIES: readonly string[] = ["general", "symmetric"];
const UNSUPPORTED_SYMMETRIES: readonly string[] = ["hermitian", "skew-symmetric"];

// A decimal number as C's strtod reads it, without hex or inf/nan (handled apart).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:inf|infinity|nan)$/i;
const UNSIGNED = /^\d+$/;

function formatError(line: number, value: string, message: string): SparseFormatError {
  return new SparseFormatError({ argument: "text", index: line, value }, message);
}

function parseIndex(token: string, line: number, size: number, what: string): number {
  if (!UNSIGNED.test(token)) {
    throw formatError(line, token, `${what} index must be a positive integer`);
  }
  const i = Number(token);
  if (i < 1 || i > size) {
    throw formatError(line, token, `${what} index out of range [1, ${size}]`);
  }
  return i - 1;
}

function parseValue(token: string, line: number, integer: boolean): number {
  if (NON_FINITE.test(token)) {
    throw new ValueError(
      { argument: "text", index: line, value: token },
      "expected a finite value",
    );
  }
  if (!DECIMAL.test(token)) throw formatError(line, token, "expected a number");
  const v = Number(token);
  if (integer && !Number.isInteger(v)) {
    throw new ValueError(
      { argument: "text", index: line, value: token },
      "expected an integer in an integer file",
    );
  }
  if (!Number.isFinite(Math.fround(v))) {
    throw new ValueError({ argument: "text", index: line, value: token }, "overflows float32");
  }
  return v;
}

/**
 * Reads a Matrix Market file in coordinate format into a Csr matrix. The fields `real`,
 * `integer` and `pattern` (whose entries all read as 1) are supported, with `general` or
 * `symmetric` symmetry; a symmetric file must store only the lower triangle and diagonal, and
 * its off-diagonal entries are mirrored. The banner is case-insensitive; `%` comment lines and
 * blank lines may appear anywhere after it. Values are rounded to f32.
 *
 * Every error names the argument `"text"`, the 1-based line number as `index` (one past the
 * last line when the file ends too soon) and the offending token or line as `value`.
 *
 * @param text the contents of a `.mtx` file
 * @returns a fresh Csr with sorted columns
 * @throws {SparseFormatError} when the banner, size line or an entry is malformed, an index is
 *   not an integer or out of range, an entry lies above the diagonal of a symmetric file, the
 *   number of entries differs from the size line, or an entry is repeated
 * @throws {ValueError} when the file is a format this reader does not support (`array`,
 *   `complex`, `hermitian`, `skew-symmetric`), a value is not finite or overflows f32, or a
 *   value in an `integer` file is not an integer
 * @throws {ShapeError} when a size is too large, or a symmetric matrix is not square
 *
 * @example A 2x3 matrix with three entries
 * ```ts
 * import { csrToDense, readMatrixMarket } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const a = readMatrixMarket(
 *   "%%MatrixMarket matrix coordinate real general\n" +
 *     "% a comment\n" +
 *     "2 3 3\n" +
 *     "1 2 5\n" +
 *     "2 1 7\n" +
 *     "2 3 -0.5\n",
 * );
 * assert.deepEqual([...csrToDense(a).data], [0, 5, 0, 7, 0, -0.5]);
 * ```
 */
export function readMatrixMarket(text: string): Csr {
  if (typeof text !== "string") {
    throw new SparseFormatError({ argument: "text", value: text }, "expected a string");
  }
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  // A final newline ends the last line; it does not start another.
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const end = lines.length + 1;

  const banner = lines[0].trim();
  const head = banner.split(/\s+/);
  if (
    head.length !== 5 || head[0].toLowerCase() !== "%%matrixmarket" ||
    head[1].toLowerCase() !== "matrix"
  ) {
    throw formatError(
      1,
      banner,
      "expected the banner %%MatrixMarket matrix coordinate <field> <symmetry>",
    );
  }
  const [format, field, symmetry] = head.slice(2).map((s) => s.toLowerCase());
  const checks: [string, readonly string[], readonly string[], string][] = [
    [format, ["coordinate"], ["array"], "format"],
    [field, FIELDS, UNSUPPORTED_FIELDS, "field"],
    [symmetry, SYMMETRIES, UNSUPPORTED_SYMMETRIES, "symmetry"],
  ];
  for (const [token, supported, unsupported, what] of checks) {
    if (supported.includes(token)) continue;
    if (unsupported.includes(token)) {
      throw new ValueError(
        { argument: "text", index: 1, value: token },
        `unsupported ${what}; expected ${supported.join(", ")}`,
      );
    }
    throw formatError(1, token, `unknown ${what}; expected ${supported.join(", ")}`);
  }
  const pattern = field === "pattern";
  const integer = field === "integer";
  const symmetric = symmetry === "symmetric";

  let n = 1;
  const skip = () => {
    while (n < lines.length) {
      const t = lines[n].trim();
      if (t !== "" && t[0] !== "%") return;
      n++;
    }
  };

  skip();
  if (n >= lines.length) throw formatError(end, "", "expected the size line: rows cols nnz");
  const sizeLine = n + 1;
  const sizeText = lines[n].trim();
  const sizes = sizeText.split(/\s+/);
  if (sizes.length !== 3 || !sizes.every((s) => UNSIGNED.test(s))) {
    throw formatError(sizeLine, sizeText, "expected the size line: rows cols nnz");
  }
  const [rows, cols, count] = sizes.map(Number);
  for (const [s, v] of [[sizes[0], rows], [sizes[1], cols], [sizes[2], count]] as const) {
    if (v > MAX_ELEMENTS) {
      throw new ShapeError(
        { argument: "text", index: sizeLine, value: s },
        `exceeds the largest supported size ${MAX_ELEMENTS}`,
      );
    }
  }
  if (symmetric && rows !== cols) {
    throw new ShapeError(
      { argument: "text", index: sizeLine, value: sizeText },
      "a symmetric matrix must be square",
    );
  }
  n++;

  // Each entry needs a line of its own, so the lines left bound what a lying nnz can allocate.
  const capacity = Math.min(count, lines.length - n) * (symmetric ? 2 : 1);
  const rowIdx = new Int32Array(capacity);
  const colIdx = new Int32Array(capacity);
  const values = new Float32Array(capacity);
  const lineOf = new Int32Array(capacity);
  const width = pattern ? 2 : 3;
  let read = 0;
  let m = 0;
  for (skip(); n < lines.length; n++, skip()) {
    const line = n + 1;
    const entry = lines[n].trim();
    if (read === count) {
      throw formatError(line, entry, `more entries than the ${count} the size line declares`);
    }
    const tokens = entry.split(/\s+/);
    if (tokens.length !== width) {
      throw formatError(
        line,
        entry,
        `expected ${width} fields: row column${pattern ? "" : " value"}`,
      );
    }
    const i = parseIndex(tokens[0], line, rows, "row");
    const j = parseIndex(tokens[1], line, cols, "column");
    const v = pattern ? 1 : parseValue(tokens[2], line, integer);
    if (symmetric && j > i) {
      throw formatError(
        line,
        entry,
        "a symmetric file stores only the lower triangle (row >= column)",
      );
    }
    rowIdx[m] = i;
    colIdx[m] = j;
    values[m] = v;
    lineOf[m++] = line;
    if (symmetric && i !== j) {
      rowIdx[m] = j;
      colIdx[m] = i;
      values[m] = v;
      lineOf[m++] = line;
    }
    read++;
  }
  if (read < count) {
    throw formatError(end, "", `expected ${count} entries, found ${read}`);
  }
  try {
    return csrFromCoo(
      rows,
      cols,
      rowIdx.subarray(0, m),
      colIdx.subarray(0, m),
      values.subarray(0, m),
    );
  } catch (e) {
    // Every entry was checked above, so the only complaint left is a repeated entry.
    if (e instanceof SparseFormatError && e.index !== undefined) {
      const line = lineOf[e.index];
      const k = e.index;
      throw formatError(
        line,
        lines[line - 1].trim(),
        `duplicate entry (${rowIdx[k] + 1}, ${colIdx[k] + 1})`,
      );
    }
    throw e;
  }
}

/** The shortest decimal that reads back (through a double) to exactly the f32 `v`. */
function formatReal(v: number): string {
  if (Object.is(v, -0)) return "-0";
  for (let p = 1; p <= 9; p++) {
    const x = Number(v.toPrecision(p));
    if (Math.fround(x) === v) return String(x);
  }
  return String(v);
}

/** An integer in plain digits: String() switches to exponent form from 1e21. */
function formatInteger(v: number): string {
  if (Object.is(v, -0)) return "-0";
  return Math.abs(v) < 1e21 ? String(v) : BigInt(v).toString();
}

/** The position of the entry (i, j) in `a.colIdx`, or -1 when none is stored. */
function find(a: Csr, i: number, j: number): number {
  let lo = a.rowPtr[i];
  let hi = a.rowPtr[i + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = a.colIdx[mid];
    if (c === j) return mid;
    if (c < j) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/**
 * Writes a Csr matrix as a Matrix Market file in coordinate format, one stored entry per line
 * in row order, with 1-based indices. Real values are written with the fewest digits that read
 * back to exactly the same f32 (a negative zero as `-0`), so {@link readMatrixMarket} restores
 * the matrix bit for bit. With `symmetry: "symmetric"` only the entries on or below the
 * diagonal are written.
 *
 * @param a the matrix to write
 * @param options `field` (`"real"`, `"integer"` or `"pattern"`), `symmetry` (`"general"` or
 *   `"symmetric"`) and a `comment`
 * @returns the text of the file, ending with a newline
 * @throws {ShapeError} or {SparseFormatError} when `a` is not a valid Csr
 * @throws {ValueError} when a value is not finite, a value is not an integer under
 *   `field: "integer"`, the matrix is not square or not symmetric under
 *   `symmetry: "symmetric"`, or an option is not one of the names above
 *
 * @example Writing and reading back
 * ```ts
 * import { csr, readMatrixMarket, writeMatrixMarket } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const a = csr(2, 2, [0, 1, 3], [0, 0, 1], [0.1, 2, 3]);
 * const text = writeMatrixMarket(a);
 * assert.equal(
 *   text,
 *   "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 0.1\n2 1 2\n2 2 3\n",
 * );
 * assert.deepEqual(readMatrixMarket(text), a);
 * ```
 */
export function writeMatrixMarket(a: Csr, options: WriteMatrixMarketOptions = {}): string {
  checkCsr("a", a);
  const field = options.field ?? "real";
  const symmetry = options.symmetry ?? "general";
  const comment = options.comment;
  if (!FIELDS.includes(field)) {
    throw new ValueError(
      { argument: "options.field", value: field },
      `expected one of ${FIELDS.join(", ")}`,
    );
  }
  if (!SYMMETRIES.includes(symmetry)) {
    throw new ValueError(
      { argument: "options.symmetry", value: symmetry },
      `expected one of ${SYMMETRIES.join(", ")}`,
    );
  }
  if (comment !== undefined && typeof comment !== "string") {
    throw new ValueError({ argument: "options.comment", value: comment }, "expected a string");
  }
  const { rows, cols, rowPtr, colIdx, values } = a;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isFinite(v)) {
      throw new ValueError(
        { argument: "a.values", index: k, value: v },
        "expected a finite number",
      );
    }
    if (field === "integer" && !Number.isInteger(v)) {
      throw new ValueError(
        { argument: "a.values", index: k, value: v },
        'expected an integer for field "integer"',
      );
    }
  }
  const symmetric = symmetry === "symmetric";
  if (symmetric) {
    if (rows !== cols) {
      throw new ValueError(
        { argument: "a", value: `${rows}x${cols}` },
        'symmetry "symmetric" needs a square matrix',
      );
    }
    for (let i = 0; i < rows; i++) {
      for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
        const j = colIdx[k];
        // A pattern has no values, so its symmetry is that of the structure alone.
        const t = find(a, j, i);
        const mirrored = field === "pattern" ? t >= 0 : (t >= 0 ? values[t] : 0) === values[k];
        if (!mirrored) {
          throw new ValueError(
            { argument: "a", index: k, value: values[k] },
            `not symmetric: entry (${i}, ${j}) differs from (${j}, ${i})`,
          );
        }
      }
    }
  }
  const out: string[] = [`%%MatrixMarket matrix coordinate ${field} ${symmetry}`];
  if (comment !== undefined) {
    for (const line of comment.split(/\r\n|\n|\r/)) out.push(line === "" ? "%" : `% ${line}`);
  }
  const sizeAt = out.length;
  out.push("");
  let written = 0;
  for (let i = 0; i < rows; i++) {
    for (let k = rowPtr[i]; k < rowPtr[i + 1]; k++) {
      const j = colIdx[k];
      if (symmetric && j > i) break;
      const where = `${i + 1} ${j + 1}`;
      if (field === "pattern") out.push(where);
      else if (field === "integer") out.push(`${where} ${formatInteger(values[k])}`);
      else out.push(`${where} ${formatReal(values[k])}`);
      written++;
    }
  }
  out[sizeAt] = `${rows} ${cols} ${written}`;
  out.push("");
  return out.join("\n");
}
