/**
 * sparsekit on WebGPU: the sparse and dense kernels and the CHW operators as WGSL compute
 * shaders, GPU-resident tensors for chaining them with no readback between steps, and the
 * network runner on the GPU. Every kernel is checked against the same dense references as the
 * CPU paths.
 *
 * @example SpMM on the GPU
 * ```ts
 * import { csrFromDense, dense, referenceGemm, csrToDense } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * const a = csrFromDense(dense(3, 4, [1, 0, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0]));
 * const b = dense(4, 5, Array.from({ length: 20 }, (_, i) => i));
 * using ag = gpu.uploadCsr(a);
 * using bg = gpu.upload(b);
 * using cg = gpu.alloc(3, 5);
 * const c = await gpu.spmm(ag, bg, cg).read();
 * assert.deepEqual([...c.data], [...referenceGemm(csrToDense(a), b).data]);
 * ```
 * @module
 */
export { Gpu, type GpuEncoder, requestGpu } from "./gpu.ts";
export type { AdapterFacts, Dispatch, LimitName, RequestGpuOptions } from "./device.ts";
export { GpuError, type GpuErrorCode, type GpuErrorDetails } from "./errors.ts";
export { GpuTensor } from "./tensor.ts";
export { GpuCsr, GpuPlan } from "./sparse.ts";
export type { GemmTile, GpuGemmOptions } from "./gemm.ts";
export { compileGpuNetwork, type GpuCompileOptions, type GpuNetwork } from "./network.ts";
// The core types the GPU API takes and gives, so that this entry point documents itself.
export type {
  Activation,
  AddLayer,
  BlockSize,
  Conv1x1Layer,
  Conv1x1Plan,
  Conv2dLayer,
  Csr,
  Dense,
  DepthwiseLayer,
  ErrorDetails,
  FullyConnectedLayer,
  GlobalAvgPoolLayer,
  LayerBase,
  LayerShape,
  LayerSpec,
  LayerTime,
  NetworkSpec,
  NumberArray,
  Padding,
  Padding4,
  PlanSection,
  Weight,
  WeightMap,
  WeightNames,
  Window,
} from "../mod.ts";
