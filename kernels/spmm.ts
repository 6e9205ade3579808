/**
 * Sparse times dense, `C = A B`, the public face over whichever backend the caller chooses.
 * @module
 */
import type { Backend } from "./backend.ts";
import type { Csr } from "./csr.ts";
import type { Dense } from "./dense.ts";
import { jsBackend } from "./js.ts";

/** Options of {@link spmm}. */
export interface SpmmOptions {
  /** Where to write `C` (`a.rows x b.cols`); it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /** The backend to run on; default the TypeScript backend. Get a fast one from {@link init}. */
  readonly backend?: Backend;
}

/**
 * Multiplies a sparse matrix by a dense one: `C = A B` with A `[m x k]` in CSR and B `[k x n]`
 * row-major. The product is vectorised along the rows of B, as in a CHW 1x1 convolution.
 * Packs A on every call: to run the same A many times, pack it once with
 * {@link packConv1x1} and call {@link conv1x1}.
 *
 * @param a the sparse left factor
 * @param b the dense right factor; `b.rows` must equal `a.cols`
 * @param options destination and backend
 * @returns `options.out`, or a fresh `[a.rows x b.cols]` Dense
 * @throws {ShapeError} when the shapes disagree, or `out` has the wrong shape
 * @throws {SparseFormatError} when `a` is malformed
 *
 * @example On the fastest backend of this host
 * ```ts
 * import { csr, dense, init, spmm } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const a = csr(2, 3, [0, 1, 3], [2, 0, 1], [1, 2, 3]); // [[0, 0, 1], [2, 3, 0]]
 * const b = dense(3, 2, [1, 2, 3, 4, 5, 6]);
 * const c = spmm(a, b, { backend });
 * assert.deepEqual([...c.data], [5, 6, 11, 16]);
 * ```
 */
export function spmm(a: Csr, b: Dense, options: SpmmOptions = {}): Dense {
  return (options.backend ?? jsBackend).spmm(a, b, options.out);
}
