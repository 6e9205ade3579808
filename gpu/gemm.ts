// PLACEHOLDER: replaced by the dense GEMM.
import type { NumberArray } from "../kernels/validate.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import type { GpuTensor } from "./tensor.ts";

/** Tile of the GEMM. */
export interface GemmTile {
  /** Rows. */
  readonly rows: number;
}
/** Options of the GPU GEMM. */
export interface GpuGemmOptions {
  /** Bias per row of A. */
  readonly bias?: NumberArray;
  /** Lower clamp. */
  readonly min?: number;
  /** Upper clamp. */
  readonly max?: number;
  /** Destination. */
  readonly out: GpuTensor;
  /** Tile. */
  readonly tile?: GemmTile;
}
export function encodeGemm(
  _ctx: GpuContext,
  _a: GpuTensor,
  _b: GpuTensor,
  _o: GpuGemmOptions,
): Dispatch[] {
  throw new Error("not yet");
}
