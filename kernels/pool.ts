/**
 * Global average pooling and the residual add: the small CHW operators between the
 * convolutions of a network.
 * @module
 */
import type { Backend } from "./backend.ts";
import type { Dense } from "./dense.ts";
import { jsBackend } from "./js.ts";
import { viaResident } from "./resident.ts";
import { checkClamp } from "./validate.ts";

/** Options of {@link globalAvgPool}. */
export interface PoolOptions {
  /** Images in the batch (each channel's row holds them one after the other); default 1. */
  readonly batch?: number;
  /** Where to write the `[channels x batch]` result; it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /** The backend to run on; default the TypeScript backend. */
  readonly backend?: Backend;
}

/**
 * Averages every channel of every image: `[channels x batch*pixels] -> [channels x batch]`.
 * The result is a CHW tensor of 1x1 images, ready for a fully connected layer (a 1x1
 * convolution or a GEMM over it).
 *
 * @throws {ShapeError} when `x.cols` is not a multiple of the batch, or `out` has the wrong shape
 *
 * @example Two channels of one 2x2 image
 * ```ts
 * import { dense, globalAvgPool, init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const y = globalAvgPool(dense(2, 4, [1, 2, 3, 4, 0, 0, 0, 8]), { backend: await init() });
 * assert.deepEqual([...y.data], [2.5, 2]);
 * ```
 */
export function globalAvgPool(x: Dense, options: PoolOptions = {}): Dense {
  const backend = options.backend ?? jsBackend;
  const batch = options.batch ?? 1;
  return viaResident(
    backend,
    [["x", x]],
    x.rows,
    batch,
    options.out,
    ([xt], y) => backend.globalAvgPool(xt!, y, batch),
  );
}

/** Options of {@link add}. */
export interface AddOptions {
  /** Lower clamp of the sum; default -Infinity. */
  readonly min?: number;
  /** Upper clamp of the sum; default +Infinity. */
  readonly max?: number;
  /** Where to write the sum; it is returned. Default: a fresh Dense. */
  readonly out?: Dense;
  /** The backend to run on; default the TypeScript backend. */
  readonly backend?: Backend;
}

/**
 * Elementwise `clamp(a + b, min, max)`: the residual connection of MobileNet v2 and ResNets.
 *
 * @throws {ShapeError} when the shapes differ
 * @throws {ValueError} for a NaN clamp or `min > max`
 *
 * @example
 * ```ts
 * import { add, dense } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const y = add(dense(1, 3, [1, 2, 3]), dense(1, 3, [10, -20, 30]), { min: 0 });
 * assert.deepEqual([...y.data], [11, 0, 33]);
 * ```
 */
export function add(a: Dense, b: Dense, options: AddOptions = {}): Dense {
  const backend = options.backend ?? jsBackend;
  const { min, max } = checkClamp(options);
  return viaResident(
    backend,
    [["a", a], ["b", b]],
    a.rows,
    a.cols,
    options.out,
    ([at, bt], y) => backend.add(at!, bt!, y, min, max),
  );
}
