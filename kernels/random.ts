/**
 * Small deterministic random generators (mulberry32 and Box-Muller) for random weights and
 * test data. Each call makes an independent generator; there is no shared state.
 * @module
 */

/**
 * A small seeded generator of uniform numbers in `[0, 1)` (mulberry32): one seed reproduces a
 * whole matrix, so large test and benchmark data need not come from fast-check.
 *
 * @param seed any integer
 * @returns a function giving the next number of the sequence
 *
 * @example
 * ```ts
 * import { seededRandom } from "@sparsekit/core/testing";
 * import assert from "node:assert/strict";
 *
 * const a = seededRandom(7), b = seededRandom(7);
 * assert.equal(a(), b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded generator of standard normal numbers (Box-Muller over {@link seededRandom}).
 *
 * @param seed any integer
 * @returns a function giving the next number of the sequence
 *
 * @example
 * ```ts
 * import { seededNormal } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const n = seededNormal(3);
 * const xs = Array.from({ length: 2000 }, n);
 * assert.ok(Math.abs(xs.reduce((a, b) => a + b) / xs.length) < 0.1);
 * ```
 */
export function seededNormal(seed: number): () => number {
  const uniform = seededRandom(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = 1 - uniform(), v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
