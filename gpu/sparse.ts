// PLACEHOLDER: replaced by the sparse kernels.
import type { Csr } from "../kernels/csr.ts";
import type { Conv1x1Plan } from "../kernels/pack.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import type { GpuTensor } from "./tensor.ts";

/** A sparse 1x1 Plan on the GPU. */
export class GpuPlan implements Disposable {
  /** The plan. */
  readonly plan: Conv1x1Plan;
  constructor(plan: Conv1x1Plan) {
    this.plan = plan;
  }
  /** Frees it. */
  dispose(): void {}
  /** Frees it. */
  [Symbol.dispose](): void {}
}
/** A CSR matrix on the GPU. */
export class GpuCsr implements Disposable {
  /** Frees it. */
  dispose(): void {}
  /** Frees it. */
  [Symbol.dispose](): void {}
}
export function prepareGpuPlan(_ctx: GpuContext, _plan: Conv1x1Plan): GpuPlan {
  throw new Error("not yet");
}
export function uploadCsr(_ctx: GpuContext, _a: Csr): GpuCsr {
  throw new Error("not yet");
}
export function encodeConv1x1(
  _ctx: GpuContext,
  _plan: GpuPlan,
  _x: GpuTensor,
  _out: GpuTensor,
): Dispatch[] {
  throw new Error("not yet");
}
export function encodeSpmm(
  _ctx: GpuContext,
  _a: GpuCsr,
  _b: GpuTensor,
  _out: GpuTensor,
): Dispatch[] {
  throw new Error("not yet");
}
