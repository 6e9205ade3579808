/**
 * The sparse 1x1 convolution over a packed Plan, in CHW layout: `[cin x H*W] -> [cout x H*W]`,
 * with the bias and clamp fused into the store.
 * @module
 */
import type { Backend, PreparedPlan } from "./backend.ts";
import type { Dense } from "./dense.ts";
import { jsBackend } from "./js.ts";
import type { Conv1x1Plan } from "./pack.ts";

/** Options of {@link conv1x1}. */
export interface Conv1x1Options {
  /** Where to write the output (`plan.cout x x.cols`); it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /**
   * The backend to run on. Default: the backend a PreparedPlan belongs to (pass one from
   * `backend.prepare`) or, for a plain Plan, the TypeScript backend.
   */
  readonly backend?: Backend;
}

/**
 * Runs a sparse 1x1 convolution: `y[o] = clamp(bias[o] + sum_i w[o][i] x[i], min, max)` where
 * `x[i]` is input channel i's plane of pixels. The weights, bias and clamp come from a Plan made
 * by {@link packConv1x1}; prepare it on a backend (`backend.prepare(plan)`) to keep the weights
 * in that backend's memory between calls.
 *
 * @param plan packed weights, or a plan prepared on `options.backend`
 * @param x CHW activation `[plan.cin x pixels]`
 * @param options destination and backend
 * @returns `options.out`, or a fresh `[plan.cout x pixels]` Dense
 * @throws {ShapeError} when `x.rows` is not `plan.cin`, or `out` has the wrong shape
 * @throws {BackendError} when a prepared plan was disposed or belongs to another backend
 *
 * @example A ReLU layer, prepared once on the best backend
 * ```ts
 * import { conv1x1, dense, init, packConv1x1 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const w = dense(2, 3, [1, 0, -1, 0, 2, 0]);
 * using plan = backend.prepare(packConv1x1(w, { bias: [0, 1], min: 0 }));
 * const x = dense(3, 2, [1, 2, 3, 4, 5, 6]); // 3 channels of 2 pixels
 * const y = conv1x1(plan, x, { backend });
 * assert.deepEqual([...y.data], [0, 0, 7, 9]);
 * ```
 */
export function conv1x1(
  plan: Conv1x1Plan | PreparedPlan,
  x: Dense,
  options: Conv1x1Options = {},
): Dense {
  const backend = options.backend ?? ("backend" in plan ? plan.backend : jsBackend);
  return backend.conv1x1(plan, x, options.out);
}
