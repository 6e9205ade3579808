// PLACEHOLDER: replaced by the CHW operators.
import type { Window } from "../kernels/spatial.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import type { GpuTensor } from "./tensor.ts";

export function encodeDepthwise(
  _ctx: GpuContext,
  _x: GpuTensor,
  _w: GpuTensor,
  _b: GpuTensor | undefined,
  _out: GpuTensor,
  _window: Window,
): Dispatch[] {
  throw new Error("not yet");
}
export function encodeConv2d(
  _ctx: GpuContext,
  _x: GpuTensor,
  _w: GpuTensor,
  _b: GpuTensor | undefined,
  _out: GpuTensor,
  _window: Window,
): Dispatch[] {
  throw new Error("not yet");
}
export function encodeGlobalAvgPool(
  _ctx: GpuContext,
  _x: GpuTensor,
  _out: GpuTensor,
  _batch: number,
): Dispatch[] {
  throw new Error("not yet");
}
export function encodeAdd(
  _ctx: GpuContext,
  _a: GpuTensor,
  _b: GpuTensor,
  _out: GpuTensor,
  _min: number,
  _max: number,
): Dispatch[] {
  throw new Error("not yet");
}
