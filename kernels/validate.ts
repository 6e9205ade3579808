/**
 * Checks shared by every constructor at the public boundary: sizes, lengths and finiteness.
 * Internal; the public functions call these and the kernels behind them trust the result.
 * @module
 */
import { ShapeError, ValueError } from "./errors.ts";

/**
 * The most f32 elements one array may hold so that it, and a few like it, fit in a 32-bit
 * WebAssembly memory (4 GiB): 2^28 elements, 1 GiB.
 */
export const MAX_ELEMENTS = 2 ** 28;

/** Throws unless `value` is a non-negative integer no larger than `max`. */
export function checkSize(argument: string, value: unknown, max = MAX_ELEMENTS): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ShapeError({ argument, value }, "expected a non-negative integer");
  }
  if (value > max) {
    throw new ShapeError({ argument, value }, `exceeds the largest supported size ${max}`);
  }
  return value;
}

/** Throws unless rows*cols elements fit in WebAssembly memory. */
export function checkProduct(argument: string, rows: number, cols: number): number {
  const n = rows * cols;
  if (n > MAX_ELEMENTS) {
    throw new ShapeError(
      { argument, value: n },
      `${rows} x ${cols} elements exceed the largest supported array of ${MAX_ELEMENTS} ` +
        "(it would overflow 32-bit WebAssembly memory)",
    );
  }
  return n;
}

/** A read-only view of numbers: a typed array or a plain array. */
export type NumberArray = ArrayLike<number>;

/** Throws unless `data` is array-like with exactly `length` elements. */
export function checkLength(argument: string, data: unknown, length: number): NumberArray {
  if (
    data === null || typeof data !== "object" ||
    typeof (data as { length?: unknown }).length !== "number"
  ) {
    throw new ShapeError({ argument, value: data }, "expected an array or typed array");
  }
  const got = (data as NumberArray).length;
  if (got !== length) {
    throw new ShapeError({ argument, value: got }, `length must be ${length}`);
  }
  return data as NumberArray;
}

/** Throws at the first element of `data` that is not a finite number. */
export function checkFinite(argument: string, data: NumberArray): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new ValueError({ argument, index: i, value: v }, "expected a finite number");
    }
  }
}

/** Throws unless `value` is a finite number (or, with `allowInfinite`, ±Infinity). */
export function checkNumber(argument: string, value: unknown, allowInfinite = false): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new ValueError({ argument, value }, "expected a number");
  }
  if (!allowInfinite && !Number.isFinite(value)) {
    throw new ValueError({ argument, value }, "expected a finite number");
  }
  return value;
}

/** Copies numbers into a fresh Float32Array, checking each is finite on the way. */
export function toFloat32(argument: string, data: NumberArray): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new ValueError({ argument, index: i, value: v }, "expected a finite number");
    }
    out[i] = v;
    if (!Number.isFinite(out[i])) {
      throw new ValueError({ argument, index: i, value: v }, "overflows float32");
    }
  }
  return out;
}

/** Reads an optional output clamp: defaults to ±Infinity, NaN refused, and `min <= max`. */
export function checkClamp(options: { readonly min?: number; readonly max?: number }): {
  min: number;
  max: number;
} {
  const min = options.min === undefined ? -Infinity : checkNumber("options.min", options.min, true);
  const max = options.max === undefined ? Infinity : checkNumber("options.max", options.max, true);
  if (min > max) {
    throw new ValueError(
      { argument: "options.min", value: min },
      `must not exceed options.max = ${max}`,
    );
  }
  return { min, max };
}

/** Anything with a matrix shape: a Dense, or a resident tensor of any backend. */
export interface Shaped {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
}

/** Throws a ShapeError naming `argument` unless `t` is `rows x cols`. */
export function checkShape(argument: string, t: Shaped, rows: number, cols: number): void {
  if (t.rows !== rows || t.cols !== cols) {
    throw new ShapeError(
      { argument, value: `${t.rows}x${t.cols}` },
      `expected shape ${rows}x${cols}`,
    );
  }
}
