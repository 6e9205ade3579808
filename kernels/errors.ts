/**
 * Typed errors thrown at sparsekit's public boundary. Every error names the argument, and where
 * it applies the index and the offending value, so a caller can find the bad input at once.
 * @module
 */

/** Formats a value for an error message: short, and exact for numbers. */
export function show(value: unknown): string {
  if (typeof value === "number") {
    return Object.is(value, -0) ? "-0" : String(value);
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as unknown as { length: number }).length})`;
  }
  if (Array.isArray(value)) return `Array(${value.length})`;
  return typeof value;
}

/** The details every sparsekit error carries. */
export interface ErrorDetails {
  /** The name of the argument (or field) that was bad, e.g. `"a.colIdx"`. */
  readonly argument: string;
  /** The position of the bad element, when the argument is an array. */
  readonly index?: number;
  /** The bad value itself. */
  readonly value?: unknown;
}

function compose(details: ErrorDetails, message: string): string {
  const where = details.index === undefined
    ? details.argument
    : `${details.argument}[${details.index}]`;
  const what = "value" in details ? ` = ${show(details.value)}` : "";
  return `${where}${what}: ${message}`;
}

/**
 * A sparse structure is malformed: index arrays of the wrong length, indices unsorted,
 * duplicated or out of range, or a row pointer that is not monotone.
 *
 * @example Catching a malformed CSR matrix
 * ```ts
 * import { csr, SparseFormatError } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => csr(1, 2, [0, 2], [1, 0], [1, 2]),
 *   (e) => e instanceof SparseFormatError && e.argument === "colIdx" && e.index === 1,
 * );
 * ```
 */
export class SparseFormatError extends TypeError {
  /** The name of the bad argument. */
  readonly argument: string;
  /** The position of the bad element, if any. */
  readonly index: number | undefined;
  /** The bad value, if any. */
  readonly value: unknown;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad and where
   * @param message what was expected
   */
  constructor(details: ErrorDetails, message: string) {
    super(compose(details, message));
    this.name = "SparseFormatError";
    this.argument = details.argument;
    this.index = details.index;
    this.value = details.value;
  }
}

/**
 * A size is wrong: negative, not an integer, too large for WebAssembly memory, or two shapes
 * that must agree do not.
 *
 * @example Catching a shape mismatch
 * ```ts
 * import { dense, ShapeError } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => dense(2, 2, [1, 2, 3]), ShapeError);
 * ```
 */
export class ShapeError extends RangeError {
  /** The name of the bad argument. */
  readonly argument: string;
  /** The position of the bad element, if any. */
  readonly index: number | undefined;
  /** The bad value, if any. */
  readonly value: unknown;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad and where
   * @param message what was expected
   */
  constructor(details: ErrorDetails, message: string) {
    super(compose(details, message));
    this.name = "ShapeError";
    this.argument = details.argument;
    this.index = details.index;
    this.value = details.value;
  }
}

/**
 * A value that must be finite (or otherwise in a range) is not: NaN, ±Infinity, or a clamp
 * whose minimum exceeds its maximum.
 *
 * @example Catching a NaN in the data
 * ```ts
 * import { dense, ValueError } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => dense(1, 2, [1, NaN]),
 *   (e) => e instanceof ValueError && e.index === 1,
 * );
 * ```
 */
export class ValueError extends RangeError {
  /** The name of the bad argument. */
  readonly argument: string;
  /** The position of the bad element, if any. */
  readonly index: number | undefined;
  /** The bad value, if any. */
  readonly value: unknown;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad and where
   * @param message what was expected
   */
  constructor(details: ErrorDetails, message: string) {
    super(compose(details, message));
    this.name = "ValueError";
    this.argument = details.argument;
    this.index = details.index;
    this.value = details.value;
  }
}

/**
 * A backend cannot be had or used: the host lacks a WebAssembly feature that a forced flavour
 * needs, the module could not be loaded, memory could not grow, or a Plan was disposed.
 *
 * @example Forcing a flavour that does not exist
 * ```ts
 * import { init, BackendError } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * // deno-lint-ignore no-explicit-any
 * await assert.rejects(() => init({ flavour: "avx9000" as any }), BackendError);
 * ```
 */
export class BackendError extends Error {
  /** The name of the argument or resource at fault. */
  readonly argument: string;
  /** The bad value, if any. */
  readonly value: unknown;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad
   * @param message what went wrong
   */
  constructor(details: ErrorDetails, message: string) {
    super(compose(details, message));
    this.name = "BackendError";
    this.argument = details.argument;
    this.value = details.value;
  }
}

/**
 * A network spec or its weights are wrong: an unknown layer kind, a layer whose input does
 * not fit the layer before it, a residual add between different shapes, a missing or
 * misshapen weight. `layer` names the layer (and `index` is its position in `spec.layers`).
 *
 * @example A layer kind the runner does not know
 * ```ts
 * import { compileNetwork, SpecError } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = { input: { height: 4, width: 4, channels: 3 }, layers: [{ kind: "maxPool", name: "pool" }] };
 * // deno-lint-ignore no-explicit-any
 * assert.throws(() => compileNetwork(spec as any, new Map()), (e) => e instanceof SpecError && e.layer === "pool");
 * ```
 */
export class SpecError extends TypeError {
  /** The name of the field at fault, e.g. `"layers[3].stride"` or a weight name. */
  readonly argument: string;
  /** The name of the layer at fault, if any. */
  readonly layer: string | undefined;
  /** The position of the layer in `spec.layers`, if any. */
  readonly index: number | undefined;
  /** The bad value, if any. */
  readonly value: unknown;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad, and in which layer
   * @param message what was expected
   */
  constructor(details: ErrorDetails & { readonly layer?: string }, message: string) {
    super(
      (details.layer === undefined ? "" : `layer "${details.layer}": `) +
        compose({ ...details, index: undefined }, message),
    );
    this.name = "SpecError";
    this.argument = details.argument;
    this.layer = details.layer;
    this.index = details.index;
    this.value = details.value;
  }
}
