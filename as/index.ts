// Entry point of the kernel module: re-exports every kernel so one .wasm holds them all.
export { flavour, heapBase } from "./memory";
export { spmm1, spmm2, spmm4, spmmChunk, spmmTileBytes } from "./spmm";
export { gemm, gemmScratchBytes } from "./gemm";
export {
  add,
  conv2d,
  conv2dScratchBytes,
  depthwise,
  depthwiseScratchBytes,
  globalAvgPool,
} from "./chw";
