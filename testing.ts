/**
 * Property-test helpers for sparsekit and for code built on it: fast-check arbitraries of
 * matrices in every format with the awkward shapes included (zero and one rows or columns,
 * sizes that are not multiples of the SIMD width, empty rows, all-zero and fully dense
 * matrices), and the error bound every kernel is checked against.
 *
 * @example Check a kernel against the reference with the derived tolerance
 * ```ts
 * import { csrToDense, jsBackend, referenceGemm } from "@sparsekit/core";
 * import { assertWithinBound, productBound, spmmCaseArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 *
 * fc.assert(fc.property(spmmCaseArb(), ({ a, b }) => {
 *   const ad = csrToDense(a);
 *   const got = jsBackend.spmm(a, b);
 *   assertWithinBound(got, referenceGemm(ad, b), productBound(ad, b), a.cols);
 * }), { numRuns: 20 });
 * ```
 * @module
 */
import { seededRandom } from "./kernels/random.ts";
import fc, { type Arbitrary } from "fast-check";
import { type Csr, csrFromDense } from "./kernels/csr.ts";
import { type Dense, dense } from "./kernels/dense.ts";
import { referenceGemm } from "./kernels/reference/gemm.ts";
import type { NumberArray } from "./kernels/validate.ts";

/** A fast-check arbitrary: what every generator here returns, usable with `fc.property`. */
export type Arb<T> = Arbitrary<T>;

/** Sizes that trip vectorised kernels: 0, 1, around every power of two up to 65. */
export const AWKWARD_SIZES: readonly number[] = Object.freeze([
  0,
  1,
  2,
  3,
  4,
  5,
  7,
  8,
  9,
  15,
  16,
  17,
  31,
  32,
  33,
  47,
  48,
  49,
  63,
  64,
  65,
]);

/**
 * A size: mostly one of {@link AWKWARD_SIZES} up to `max`, sometimes any integer in `[0, max]`.
 *
 * @param max the largest size
 * @returns an arbitrary of sizes
 *
 * @example
 * ```ts
 * import { sizeArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 * import assert from "node:assert/strict";
 *
 * for (const n of fc.sample(sizeArb(10), 50)) assert.ok(n >= 0 && n <= 10);
 * ```
 */
export function sizeArb(max: number): Arb<number> {
  const awkward = AWKWARD_SIZES.filter((s) => s <= max);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...awkward) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max }) },
  );
}

/** Options of {@link sparseArb}. */
export interface SparseArbOptions {
  /** Largest number of rows; default 40. */
  readonly maxRows?: number;
  /** Largest number of columns; default 40. */
  readonly maxCols?: number;
  /** Exact row count, overriding `maxRows`. */
  readonly rows?: number;
  /** Exact column count, overriding `maxCols`. */
  readonly cols?: number;
}

/** A finite f32 value of moderate size with a random sign; sometimes an exact small integer. */
export const valueArb: Arb<number> = fc.oneof(
  fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -3, max: 3 }),
);

/**
 * A dense matrix whose zero pattern is the interesting part: each case draws a density (0,
 * 1, or in between) and an empty-row rate, so all-zero, fully dense and empty-row matrices all
 * appear.
 *
 * @param options size limits
 * @returns an arbitrary of Dense
 *
 * @example
 * ```ts
 * import { sparseArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 * import assert from "node:assert/strict";
 *
 * const [m] = fc.sample(sparseArb({ rows: 3, cols: 5 }), 1);
 * assert.equal(m.data.length, 15);
 * ```
 */
export function sparseArb(options: SparseArbOptions = {}): Arb<Dense> {
  const rows = options.rows !== undefined
    ? fc.constant(options.rows)
    : sizeArb(options.maxRows ?? 40);
  const cols = options.cols !== undefined
    ? fc.constant(options.cols)
    : sizeArb(options.maxCols ?? 40);
  const density = fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true }));
  const emptyRows = fc.constantFrom(0, 0, 0.3);
  return fc.tuple(rows, cols, density, emptyRows, fc.integer()).map(([r, c, d, e, seed]) => {
    const rand = seededRandom(seed);
    const data = new Float32Array(r * c);
    for (let i = 0; i < r; i++) {
      if (rand() < e) continue;
      for (let j = 0; j < c; j++) {
        if (rand() < d) data[i * c + j] = Math.fround((rand() * 2 - 1) * 4) || 1;
      }
    }
    return dense(r, c, data);
  });
}

/**
 * A dense matrix of random finite values (no structural zeros), with awkward sizes.
 *
 * @param options size limits
 * @returns an arbitrary of Dense
 *
 * @example
 * ```ts
 * import { denseArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 * import assert from "node:assert/strict";
 *
 * const [m] = fc.sample(denseArb({ rows: 2, maxCols: 4 }), 1);
 * assert.equal(m.rows, 2);
 * ```
 */
export function denseArb(options: SparseArbOptions = {}): Arb<Dense> {
  const rows = options.rows !== undefined
    ? fc.constant(options.rows)
    : sizeArb(options.maxRows ?? 40);
  const cols = options.cols !== undefined
    ? fc.constant(options.cols)
    : sizeArb(options.maxCols ?? 40);
  return fc.tuple(rows, cols, fc.integer()).map(([r, c, seed]) => {
    const rand = seededRandom(seed);
    const data = new Float32Array(r * c);
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(rand() * 4 - 2);
    return dense(r, c, data);
  });
}

/**
 * A CSR matrix built from {@link sparseArb}.
 *
 * @param options size limits
 * @returns an arbitrary of Csr
 *
 * @example
 * ```ts
 * import { csrArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 * import assert from "node:assert/strict";
 *
 * const [a] = fc.sample(csrArb({ rows: 4 }), 1);
 * assert.equal(a.rowPtr.length, 5);
 * ```
 */
export function csrArb(options: SparseArbOptions = {}): Arb<Csr> {
  return sparseArb(options).map((d) => csrFromDense(d));
}

/** One SpMM case: `a` `[m x k]` sparse and `b` `[k x n]` dense with agreeing shapes. */
export interface SpmmCase {
  /** The sparse factor. */
  readonly a: Csr;
  /** The dense factor. */
  readonly b: Dense;
}

/**
 * Pairs of agreeing shapes for `C = A B`, with every awkward size in every dimension; `n` (the
 * vectorised dimension) reaches past the widest SIMD tile.
 *
 * @param options largest m, k and n
 * @returns an arbitrary of cases
 *
 * @example
 * ```ts
 * import { spmmCaseArb } from "@sparsekit/core/testing";
 * import fc from "fast-check";
 * import assert from "node:assert/strict";
 *
 * for (const { a, b } of fc.sample(spmmCaseArb(), 5)) assert.equal(a.cols, b.rows);
 * ```
 */
export function spmmCaseArb(
  options: { maxM?: number; maxK?: number; maxN?: number } = {},
): Arb<SpmmCase> {
  return fc.tuple(
    sizeArb(options.maxM ?? 40),
    sizeArb(options.maxK ?? 40),
    sizeArb(options.maxN ?? 80),
  )
    .chain(([m, k, n]) =>
      fc.tuple(csrArb({ rows: m, cols: k }), denseArb({ rows: k, cols: n })).map(([a, b]) => ({
        a,
        b,
      }))
    );
}

/**
 * The magnitude each element of a product may err by: `|bias_i| + sum_p |a_ip b_pj|` for every
 * (i, j). Multiply by `(terms + 2) * 2^-23` (see {@link assertWithinBound}) for the tolerance of
 * an f32 kernel that sums `terms` products in any order, with or without fused multiply-add.
 *
 * @param a left factor
 * @param b right factor
 * @param bias optional bias per row
 * @returns a fresh Dense of bounds, the shape of `a b`
 *
 * @example
 * ```ts
 * import { dense } from "@sparsekit/core";
 * import { productBound } from "@sparsekit/core/testing";
 * import assert from "node:assert/strict";
 *
 * const m = productBound(dense(1, 2, [1, -2]), dense(2, 1, [3, 4]));
 * assert.deepEqual([...m.data], [11]);
 * ```
 */
export function productBound(a: Dense, b: Dense, bias?: NumberArray): Dense {
  const abs = (d: Dense) => dense(d.rows, d.cols, d.data.map(Math.abs));
  return referenceGemm(abs(a), abs(b), {
    bias: bias === undefined ? undefined : Array.from(bias, Math.abs),
  });
}

/**
 * Asserts `|got - want| <= (terms + 2) * 2^-23 * bound + 2^-120` elementwise (the error of
 * f32 summation of `terms` products, plus the two final roundings), naming the first element
 * that breaks it. Shapes must agree.
 *
 * @param got the kernel's result
 * @param want the reference result (f64 accumulation)
 * @param bound from {@link productBound}
 * @param terms the number of products summed per element (the inner dimension)
 * @throws {Error} describing the first element out of tolerance
 *
 * @example
 * ```ts
 * import { dense } from "@sparsekit/core";
 * import { assertWithinBound } from "@sparsekit/core/testing";
 * import assert from "node:assert/strict";
 *
 * assertWithinBound(dense(1, 1, [1]), dense(1, 1, [1]), dense(1, 1, [1]), 1);
 * assert.throws(() => assertWithinBound(dense(1, 1, [1.5]), dense(1, 1, [1]), dense(1, 1, [1]), 1));
 * ```
 */
export function assertWithinBound(got: Dense, want: Dense, bound: Dense, terms: number): void {
  if (got.rows !== want.rows || got.cols !== want.cols) {
    throw new Error(
      `shape ${got.rows}x${got.cols} differs from the reference ${want.rows}x${want.cols}`,
    );
  }
  const k = (terms + 2) * 2 ** -23;
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i], w = want.data[i];
    const tol = k * bound.data[i] + 2 ** -120;
    if (!(Math.abs(g - w) <= tol) && !(Object.is(g, w))) {
      const r = Math.floor(i / want.cols), c = i % want.cols;
      throw new Error(
        `element (${r}, ${c}): got ${g}, reference ${w}, |diff| ${
          Math.abs(g - w)
        } > tolerance ${tol}`,
      );
    }
  }
}

export { seededRandom } from "./kernels/random.ts";
