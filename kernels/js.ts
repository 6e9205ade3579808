/**
 * The TypeScript backend: the same packed-plan algorithm as the WebAssembly kernels, in plain
 * loops. It runs wherever JavaScript does and is the fallback when WebAssembly is missing.
 * @module
 */
import {
  type Backend,
  type GemmOptions,
  type PreparedPlan,
  type ResidentGemmOptions,
  type Tensor,
  TENSOR_VIEW,
  type TensorView,
} from "./backend.ts";
import { checkCsr, type Csr } from "./csr.ts";
import { checkDense, checkOut, type Dense, dense } from "./dense.ts";
import { addJs, conv2dJs, depthwiseJs, globalAvgPoolJs } from "./chw_js.ts";
import { BackendError, ShapeError } from "./errors.ts";
import { checkActivation, type Conv1x1Plan, packConv1x1 } from "./pack.ts";
import { checkPlan } from "./plan_check.ts";
import {
  checkAddArgs,
  checkConv2dArgs,
  checkDepthwiseArgs,
  checkPoolArgs,
  type Window,
} from "./spatial.ts";
import {
  checkClamp,
  checkLength,
  checkProduct,
  checkShape,
  checkSize,
  type NumberArray,
  type Shaped,
  toFloat32,
} from "./validate.ts";

/** @internal Resolves the destination of a result: the caller's `out`, checked, or a fresh Dense. */
export function destination(out: Dense | undefined, rows: number, cols: number): Dense {
  return out === undefined ? dense(rows, cols) : checkOut(out, rows, cols);
}

/**
 * @internal The checks every backend's gemm makes of its operands' shapes, bias and clamp:
 * `b.rows === a.cols`, `a.rows` finite biases, a sane clamp.
 */
export function gemmOperands(
  a: Shaped,
  b: Shaped,
  options: { readonly bias?: NumberArray; readonly min?: number; readonly max?: number },
): { bias: Float32Array | undefined; min: number; max: number } {
  if (a.cols !== b.rows) {
    throw new ShapeError({ argument: "b.rows", value: b.rows }, `must equal a.cols = ${a.cols}`);
  }
  const bias = options.bias === undefined
    ? undefined
    : toFloat32("options.bias", checkLength("options.bias", options.bias, a.rows));
  return { bias, ...checkClamp(options) };
}

/**
 * @internal Validated gemm operands: all Dense or all resident (then `out` is required),
 * shapes agree, bias and clamp are sane; `y` is where the result goes.
 */
export function gemmArgs(
  a: Dense | Tensor,
  b: Dense | Tensor,
  options: GemmOptions | ResidentGemmOptions,
): {
  bias: Float32Array | undefined;
  min: number;
  max: number;
  y: Dense | Tensor;
} {
  const resident = isTensor(a);
  if (resident !== isTensor(b) || resident !== isTensor(options.out)) {
    throw new BackendError(
      { argument: "options.out", value: options.out },
      "a, b and out must all be Dense or all be resident tensors (out is required for tensors)",
    );
  }
  if (!resident) {
    checkDense("a", a);
    checkDense("b", b);
  }
  const { bias, min, max } = gemmOperands(a, b, options);
  const m = a.rows, n = b.cols;
  let y: Dense | Tensor;
  if (resident) {
    y = options.out as Tensor;
    checkShape("options.out", y, m, n);
  } else y = destination(options.out as Dense | undefined, m, n);
  return { bias, min, max, y };
}

/**
 * @internal Validated conv1x1 operands: both Dense or both resident, `x` has `plan.cin`
 * rows; returns where the result goes (the resident `out`, the caller's Dense, or a fresh one).
 */
export function convDestination(
  plan: Conv1x1Plan,
  x: Dense | Tensor,
  out: Dense | Tensor | undefined,
): Dense | Tensor {
  if (isTensor(x) !== isTensor(out)) {
    throw new BackendError(
      { argument: "out", value: out },
      "x and out must both be Dense or both be resident tensors",
    );
  }
  if (!isTensor(x)) {
    checkActivation(plan, x);
    return destination(out as Dense | undefined, plan.cout, x.cols);
  }
  if (x.rows !== plan.cin) {
    throw new ShapeError(
      { argument: "x.rows", value: x.rows },
      `expected plan.cin = ${plan.cin} input channels`,
    );
  }
  const o = out as Tensor;
  checkShape("out", o, plan.cout, x.cols);
  return o;
}

/** @internal Unwraps a plan or prepared plan, checking it was prepared by `flavour`. */
export function unwrapPlan(p: Conv1x1Plan | PreparedPlan, flavour: string): Conv1x1Plan {
  if (p !== null && typeof p === "object" && "plan" in p && "dispose" in p) {
    if (p.disposed) {
      throw new BackendError(
        { argument: "plan", value: "disposed" },
        "this PreparedPlan was disposed",
      );
    }
    if (p.flavour !== flavour) {
      throw new BackendError(
        { argument: "plan", value: p.flavour },
        `was prepared by another backend (${p.flavour}), not ${flavour}`,
      );
    }
    return p.plan;
  }
  return p as Conv1x1Plan;
}

/**
 * Runs `compute` straight into `y`, or, when `y` shares memory with one of the inputs (a
 * resident out that is an operand, or a view of one), into a temporary then copied to `y`.
 */
function aside(
  y: Float32Array,
  inputs: readonly (Float32Array | undefined)[],
  compute: (dst: Float32Array) => void,
): void {
  const shared = inputs.some((v) =>
    v !== undefined && v.buffer === y.buffer && v.byteOffset < y.byteOffset + y.byteLength &&
    y.byteOffset < v.byteOffset + v.byteLength
  );
  const dst = shared ? new Float32Array(y.length) : y;
  compute(dst);
  if (dst !== y) y.set(dst);
}

function runPlan(plan: Conv1x1Plan, x: Float32Array, pixels: number, y: Float32Array): void {
  const acc = new Float64Array(4 * pixels);
  for (const s of plan.sections) {
    const { block: b, weights, dmap, nnzmap } = s;
    let w = 0;
    let d = 0;
    let channel = s.first;
    for (let g = 0; g < s.groups; g++) {
      for (let c = 0; c < b; c++) acc.fill(weights[w + c], c * pixels, (c + 1) * pixels);
      w += b;
      for (let k = 0; k < nnzmap[g]; k++) {
        const row = channel * pixels;
        for (let c = 0; c < b; c++) {
          const v = weights[w + c];
          if (v === 0) continue;
          const base = c * pixels;
          for (let p = 0; p < pixels; p++) acc[base + p] += v * x[row + p];
        }
        w += b;
        channel += dmap[d++];
      }
      const out0 = (s.channelStart + g * b) * pixels;
      for (let i = 0; i < b * pixels; i++) {
        y[out0 + i] = Math.min(Math.max(acc[i], plan.min), plan.max);
      }
    }
  }
}

function prepareJs(plan: Conv1x1Plan): PreparedPlan {
  checkPlan(plan);
  let disposed = false;
  const handle: PreparedPlan = {
    plan,
    flavour: "js",
    backend: jsBackend,
    get disposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
    },
    [Symbol.dispose]() {
      disposed = true;
    },
  };
  return handle;
}

// The JS backend's resident tensors are plain arrays held here.
const store = new WeakMap<Tensor, Float32Array>();

function makeTensor(rows: number, cols: number): Tensor {
  checkSize("rows", rows);
  checkSize("cols", cols);
  let disposed = false;
  const data = new Float32Array(checkProduct("rows * cols", rows, cols));
  return arrayTensor(data, rows, cols, () => disposed, () => {
    disposed = true;
  });
}

function arrayTensor(
  data: Float32Array,
  rows: number,
  cols: number,
  isDisposed: () => boolean,
  dispose: () => void,
): Tensor {
  const tensor: Tensor = {
    rows,
    cols,
    flavour: "js",
    get disposed() {
      return isDisposed();
    },
    read(out?: Dense): Dense {
      tensorData(tensor, "tensor");
      const y = destination(out, rows, cols);
      y.data.set(data);
      return y;
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
  store.set(tensor, data);
  return tensor;
}

/**
 * @internal The element count of a `[rows x cols]` view of `base` (see {@link TensorView}),
 * checked: sizes natural numbers, no more elements than `base` has.
 */
export function viewElements(base: Tensor, rows: number, cols: number): number {
  checkSize("rows", rows);
  checkSize("cols", cols);
  const n = checkProduct("rows * cols", rows, cols);
  if (n > base.rows * base.cols) {
    throw new ShapeError(
      { argument: "rows * cols", value: n },
      `exceeds the ${base.rows * base.cols} elements of the base tensor`,
    );
  }
  return n;
}

// A view holds its base, so the base lives as long as any view of it.
const view: TensorView = (base, rows, cols) => {
  const data = tensorData(base, "base");
  const n = viewElements(base, rows, cols);
  return arrayTensor(data.subarray(0, n), rows, cols, () => base.disposed, () => {});
};

function tensorData(t: Tensor, argument: string): Float32Array {
  const data = store.get(t);
  if (data === undefined) {
    throw new BackendError(
      { argument, value: t.flavour },
      "is a tensor of another backend, not the js one",
    );
  }
  if (t.disposed) {
    throw new BackendError({ argument, value: "disposed" }, "this tensor was disposed");
  }
  return data;
}

/** @internal Whether a value is a resident Tensor rather than a Dense. */
export function isTensor(v: unknown): v is Tensor {
  return v !== null && typeof v === "object" && "read" in v && "dispose" in v;
}

function conv1x1(p: Conv1x1Plan | PreparedPlan, x: Dense, out?: Dense): Dense;
function conv1x1(p: Conv1x1Plan | PreparedPlan, x: Tensor, out: Tensor): Tensor;
function conv1x1(
  p: Conv1x1Plan | PreparedPlan,
  x: Dense | Tensor,
  out?: Dense | Tensor,
): Dense | Tensor {
  const plan = unwrapPlan(p, "js");
  if (p === plan) checkPlan(plan);
  const y = convDestination(plan, x, out);
  const xd = isTensor(x) ? tensorData(x, "x") : x.data;
  const yd = isTensor(y) ? tensorData(y, "out") : y.data;
  aside(yd, [xd], (dst) => runPlan(plan, xd, x.cols, dst));
  return y;
}

function denseGemm(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  bias: Float32Array | undefined,
  min: number,
  max: number,
): Float32Array {
  const res = new Float32Array(m * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(bias === undefined ? 0 : bias[i]);
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      const row = p * n;
      for (let j = 0; j < n; j++) acc[j] += v * b[row + j];
    }
    for (let j = 0; j < n; j++) res[i * n + j] = Math.min(Math.max(acc[j], min), max);
  }
  return res;
}

function gemm(a: Dense, b: Dense, options?: GemmOptions): Dense;
function gemm(a: Tensor, b: Tensor, options: ResidentGemmOptions): Tensor;
function gemm(
  a: Dense | Tensor,
  b: Dense | Tensor,
  options: GemmOptions | ResidentGemmOptions = {},
): Dense | Tensor {
  const { bias, min, max, y } = gemmArgs(a, b, options);
  const res = denseGemm(
    isTensor(a) ? tensorData(a, "a") : a.data,
    isTensor(b) ? tensorData(b, "b") : b.data,
    a.rows,
    a.cols,
    b.cols,
    bias,
    min,
    max,
  );
  (isTensor(y) ? tensorData(y, "options.out") : y.data).set(res);
  return y;
}

/**
 * The TypeScript backend. Always available, needs no initialisation; slower than the
 * WebAssembly flavours that {@link init} finds.
 *
 * @example
 * ```ts
 * import { csr, dense, jsBackend } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const c = jsBackend.spmm(csr(1, 2, [0, 1], [1], [2]), dense(2, 1, [5, 7]));
 * assert.deepEqual([...c.data], [14]);
 * ```
 */
export const jsBackend: Backend = Object.freeze({
  flavour: "js" as const,
  upload(d: Dense): Tensor {
    checkDense("d", d);
    const t = makeTensor(d.rows, d.cols);
    store.get(t)!.set(d.data);
    return t;
  },
  alloc: makeTensor,
  prepare: prepareJs,
  conv1x1,
  spmm(a: Csr, b: Dense, out?: Dense): Dense {
    checkCsr("a", a);
    checkDense("b", b);
    if (a.cols !== b.rows) {
      throw new ShapeError({ argument: "b.rows", value: b.rows }, `must equal a.cols = ${a.cols}`);
    }
    return conv1x1(packConv1x1(a, { blockSize: 1 }), b, out);
  },
  gemm,
  depthwise(x: Tensor, weights: Tensor, bias: Tensor | undefined, out: Tensor, w: Window) {
    checkDepthwiseArgs(x, weights, bias, out, w);
    const wd = tensorData(weights, "weights");
    const bd = bias === undefined ? undefined : tensorData(bias, "bias");
    const xd = tensorData(x, "x");
    // out may be the weights or the bias when the shapes happen to agree, or share memory with
    // x through a view (out === x itself is refused by the check).
    aside(tensorData(out, "out"), [xd, wd, bd], (dst) => depthwiseJs(xd, wd, bd, dst, x.rows, w));
    return out;
  },
  conv2d(x: Tensor, weights: Tensor, bias: Tensor | undefined, out: Tensor, w: Window) {
    const cin = checkConv2dArgs(x, weights, bias, out, w);
    const xd = tensorData(x, "x");
    const wd = tensorData(weights, "weights");
    const bd = bias === undefined ? undefined : tensorData(bias, "bias");
    // out may be any operand whose shape happens to agree.
    aside(
      tensorData(out, "out"),
      [xd, wd, bd],
      (dst) => conv2dJs(xd, wd, bd, dst, weights.rows, cin, w),
    );
    return out;
  },
  globalAvgPool(x: Tensor, out: Tensor, batch: number) {
    const pixels = checkPoolArgs(x, out, batch);
    const xd = tensorData(x, "x");
    aside(tensorData(out, "out"), [xd], (dst) => globalAvgPoolJs(xd, dst, x.rows, batch, pixels));
    return out;
  },
  add(a: Tensor, b: Tensor, out: Tensor, min: number, max: number) {
    checkAddArgs(a, b, out, min, max);
    addJs(tensorData(a, "a"), tensorData(b, "b"), tensorData(out, "out"), min, max);
    return out;
  },
  [TENSOR_VIEW]: view,
});
