/**
 * Runs a resident-tensor backend operation on Dense operands: upload, allocate the result,
 * run, read back, free. The Dense-level CHW functions are built on it.
 * @module
 */
import type { Backend, Tensor } from "./backend.ts";
import { checkDense, type Dense } from "./dense.ts";
import { destination } from "./js.ts";
import { checkLength, type NumberArray, toFloat32 } from "./validate.ts";

/**
 * @internal Uploads `inputs` (Dense, checked under their argument names, or undefined), runs
 * `op` into a fresh resident `[rows x cols]` tensor and reads it into `out` or a fresh Dense.
 * Every temporary tensor is freed, also on error.
 */
export function viaResident(
  backend: Backend,
  inputs: readonly [string, Dense | undefined][],
  rows: number,
  cols: number,
  out: Dense | undefined,
  op: (tensors: (Tensor | undefined)[], y: Tensor) => void,
): Dense {
  for (const [name, d] of inputs) if (d !== undefined) checkDense(name, d);
  const y = destination(out, rows, cols);
  const temps: Tensor[] = [];
  try {
    const tensors = inputs.map(([, d]) => {
      if (d === undefined) return undefined;
      const t = backend.upload(d);
      temps.push(t);
      return t;
    });
    const yt = backend.alloc(rows, cols);
    temps.push(yt);
    op(tensors, yt);
    return yt.read(y);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** @internal A bias of `n` finite values as an `[n x 1]` Dense, or undefined. */
export function biasColumn(
  argument: string,
  bias: NumberArray | undefined,
  n: number,
): Dense | undefined {
  if (bias === undefined) return undefined;
  const data = toFloat32(argument, checkLength(argument, bias, n));
  return Object.freeze({ rows: n, cols: 1, data });
}
