/**
 * sparsekit: sparse neural-network kernels for Deno, browsers and edge runtimes. Pack sparse
 * weights once, then run sparse 1x1 convolutions and SpMM on WebAssembly SIMD (relaxed SIMD,
 * SIMD or scalar, detected at run time) or plain TypeScript, every kernel tested against a
 * dense reference.
 *
 * @example Prune a layer to 90% sparsity and run it on the best backend of this host
 * ```ts
 * import { conv1x1, dense, init, packConv1x1, pruneMagnitude, referenceConv1x1 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const cin = 16, cout = 32, pixels = 7 * 7;
 * const weights = pruneMagnitude(dense(cout, cin, Array.from({ length: cout * cin }, (_, i) => Math.sin(i))), 0.9);
 * const x = dense(cin, pixels, Array.from({ length: cin * pixels }, (_, i) => Math.cos(i)));
 * using plan = backend.prepare(packConv1x1(weights, { min: 0, max: 6 })); // ReLU6
 * const y = conv1x1(plan, x);
 * const want = referenceConv1x1(weights, x, { min: 0, max: 6 });
 * assert.ok(y.data.every((v, i) => Math.abs(v - want.data[i]) < 1e-5));
 * ```
 * @module
 */
export type {
  Backend,
  Flavour,
  GemmOptions,
  PreparedPlan,
  ResidentGemmOptions,
  Tensor,
} from "./kernels/backend.ts";
export { FLAVOURS } from "./kernels/backend.ts";
export { conv1x1, type Conv1x1Options } from "./kernels/conv.ts";
export { conv2d, type Conv2dOptions } from "./kernels/conv2d.ts";
export {
  type Csr,
  csr,
  csrFromCoo,
  csrFromDense,
  csrToDense,
  type FromCooOptions,
  type FromDenseOptions,
  nnz,
} from "./kernels/csr.ts";
export { type Dense, dense } from "./kernels/dense.ts";
export { depthwise, type DepthwiseOptions } from "./kernels/depthwise.ts";
export {
  BackendError,
  type ErrorDetails,
  ShapeError,
  SparseFormatError,
  SpecError,
  ValueError,
} from "./kernels/errors.ts";
export { gemm, type GemmCallOptions } from "./kernels/gemm.ts";
export { init, type InitOptions, supportedFlavours } from "./kernels/init.ts";
export { jsBackend } from "./kernels/js.ts";
export { type MobileNetOptions, mobileNetV1, mobileNetV2 } from "./kernels/mobilenet.ts";
export {
  type Activation,
  type AddLayer,
  type Conv1x1Layer,
  type Conv2dLayer,
  type DepthwiseLayer,
  type FullyConnectedLayer,
  type GlobalAvgPoolLayer,
  inferShapes,
  type LayerBase,
  type LayerShape,
  type LayerSpec,
  type NetworkSpec,
  type WeightNames,
} from "./kernels/network.ts";
export {
  pruneNetwork,
  type PruneNetworkOptions,
  randomWeights,
} from "./kernels/network_weights.ts";
export {
  type MatrixMarketField,
  type MatrixMarketSymmetry,
  readMatrixMarket,
  writeMatrixMarket,
  type WriteMatrixMarketOptions,
} from "./kernels/matrix_market.ts";
export {
  BLOCK_FILL_THRESHOLD,
  type BlockSize,
  chooseBlockSize,
  type Conv1x1Plan,
  packConv1x1,
  type PackOptions,
  type PlanSection,
} from "./kernels/pack.ts";
export { add, type AddOptions, globalAvgPool, type PoolOptions } from "./kernels/pool.ts";
export {
  pruneBlocks,
  type PruneBlocksOptions,
  pruneMagnitude,
  type PruneMagnitudeOptions,
} from "./kernels/prune.ts";
export {
  referenceAdd,
  referenceConv2d,
  referenceDepthwise,
  referenceGlobalAvgPool,
} from "./kernels/reference/chw.ts";
export { referenceConv1x1 } from "./kernels/reference/conv1x1.ts";
export {
  compareLayers,
  type LayerComparison,
  type ReferenceLayer,
  referenceLayer,
  referenceNetwork,
  type ReferenceRun,
} from "./kernels/reference/network.ts";
export { seededNormal, seededRandom } from "./kernels/random.ts";
export {
  compileNetwork,
  type CompileOptions,
  type LayerTime,
  type Network,
  SPARSE_DENSITY_LIMIT,
} from "./kernels/runner.ts";
export { referenceGemm, type ReferenceOptions } from "./kernels/reference/gemm.ts";
export {
  type Padding,
  type Padding4,
  resolvePadding,
  resolveWindow,
  type Window,
  type WindowOptions,
} from "./kernels/spatial.ts";
export { spmm, type SpmmOptions } from "./kernels/spmm.ts";
export type { NumberArray } from "./kernels/validate.ts";
export {
  decodeTfjsModel,
  decodeTfjsWeights,
  type EncodedTfjsWeights,
  type EncodeTfjsOptions,
  encodeTfjsWeights,
  loadTfjsWeights,
  saveTfjsWeights,
  type ShardReader,
  TFJS_SHARD_BYTES,
  type TfjsDtype,
  type TfjsModelJson,
  type TfjsQuantization,
  type TfjsQuantizationDtype,
  type TfjsShard,
  type TfjsWeightEntry,
  type TfjsWeightGroup,
  type TfjsWeightsManifest,
  type Weight,
  type WeightMap,
} from "./kernels/weights.ts";
