/**
 * Dense matrix product with fused bias and clamp: the dense path of a 1x1 convolution and the
 * baseline every sparse kernel is measured against.
 * @module
 */
import type { Backend, GemmOptions } from "./backend.ts";
import type { Dense } from "./dense.ts";
import { jsBackend } from "./js.ts";

/** Options of {@link gemm}: bias, clamp and destination, plus the backend. */
export interface GemmCallOptions extends GemmOptions {
  /** The backend to run on; default the TypeScript backend. Get a fast one from {@link init}. */
  readonly backend?: Backend;
}

/**
 * `C = clamp(A B + bias, min, max)` for dense A `[m x k]` and B `[k x n]`, bias per row of C.
 * With A the weights `[cout x cin]` and B a CHW activation `[cin x H*W]` this is a dense 1x1
 * convolution.
 *
 * @param a left factor `[m x k]`
 * @param b right factor `[k x n]`
 * @param options bias, clamp, destination and backend
 * @returns `options.out`, or a fresh `[m x n]` Dense
 * @throws {ShapeError} when `b.rows` is not `a.cols`, or bias or `out` has the wrong size
 * @throws {ValueError} when a bias is not finite, or `min > max`
 *
 * @example
 * ```ts
 * import { dense, gemm, init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const c = gemm(dense(1, 2, [1, 2]), dense(2, 2, [3, 4, 5, 6]), { bias: [-20], min: 0, backend });
 * assert.deepEqual([...c.data], [0, 0]);
 * ```
 */
export function gemm(a: Dense, b: Dense, options: GemmCallOptions = {}): Dense {
  return (options.backend ?? jsBackend).gemm(a, b, options);
}
