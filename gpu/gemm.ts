/**
 * The dense GEMM on WebGPU, `out = clamp(A B + bias)`: a tiled kernel that stages a block of A
 * and a block of B in workgroup memory per step along the inner dimension, each invocation
 * accumulating a 4x4 register block of outputs (four rows, one `vec4` of columns).
 * @module
 */
import { ShapeError } from "../kernels/errors.ts";
import { gemmOperands } from "../kernels/js.ts";
import { checkShape } from "../kernels/validate.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import type { GpuTensor } from "./tensor.ts";

/**
 * The blocking of the GPU GEMM. One workgroup computes a `rows x cols` block of the output;
 * each step along the inner dimension stages a `rows x depth` block of A and a
 * `depth x cols` block of B in workgroup memory, and every invocation accumulates a 4x4
 * register block (4 rows, one `vec4` of 4 columns). Hence:
 * - invocations per workgroup: `(rows / 4) * (cols / 4)`, checked against the device's
 *   `maxComputeInvocationsPerWorkgroup`;
 * - workgroup memory: `(rows + cols) * depth * 4` bytes, checked against
 *   `maxComputeWorkgroupStorageSize`.
 *
 * All three fields are positive multiples of 4. The default, {@link DEFAULT_GEMM_TILE}, is
 * 64x64 with depth 16: 256 invocations and 8 KiB, within the limits every WebGPU device has.
 * Each distinct tile compiles its own pipeline once per device.
 *
 * @example A smaller tile, for small matrices
 * ```ts
 * import { dense, referenceGemm } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * using a = gpu.upload(dense(2, 3, [1, 2, 3, 4, 5, 6]));
 * using b = gpu.upload(dense(3, 2, [1, 0, 0, 1, 1, 1]));
 * using out = gpu.alloc(2, 2);
 * gpu.gemm(a, b, { out, bias: [0.5, -20], min: 0, tile: { rows: 16, cols: 16, depth: 8 } });
 * assert.deepEqual([...(await out.read()).data], [4.5, 5.5, 0, 0]);
 * ```
 */
export interface GemmTile {
  /** Output rows per workgroup (rows of A staged per step); a positive multiple of 4. */
  readonly rows: number;
  /** Output columns per workgroup (columns of B staged per step); a positive multiple of 4. */
  readonly cols: number;
  /** Inner-dimension depth of one shared-memory step; a positive multiple of 4. */
  readonly depth: number;
}

/** The tile the GPU GEMM uses when none is given: 64x64 outputs per workgroup, depth 16. */
export const DEFAULT_GEMM_TILE: GemmTile = Object.freeze({ rows: 64, cols: 64, depth: 16 });

/** Options of the GPU GEMM: bias per row of A, output clamp, destination and tile. */
export interface GpuGemmOptions {
  /**
   * Added to every element of row i; `a.rows` finite values (a typed or plain array, the
   * `NumberArray` of the CPU options). Default none.
   */
  readonly bias?: ArrayLike<number>;
  /** Lower clamp of the result; default -Infinity. */
  readonly min?: number;
  /** Upper clamp of the result; default +Infinity. */
  readonly max?: number;
  /** The destination, `a.rows x b.cols`; neither `a` nor `b`. */
  readonly out: GpuTensor;
  /** The blocking; default {@link DEFAULT_GEMM_TILE}. */
  readonly tile?: GemmTile;
}

/** The largest finite f32, which stands for an infinite clamp bound inside the shaders. */
const F32_MAX = 3.4028234663852886e38;

/**
 * @internal A checked clamp as the f32 words the shaders receive. WGSL lets an implementation
 * assume no infinities at run time, so an infinite bound becomes the largest finite f32: the
 * clamp then leaves every finite value alone, and turns an overflow into ±F32_MAX.
 */
export function clampWords(min: number, max: number): [{ f: number }, { f: number }] {
  const f32 = (v: number) => Math.min(Math.max(Math.fround(v), -F32_MAX), F32_MAX);
  return [{ f: f32(min) }, { f: f32(max) }];
}

/** The WGSL of the GEMM for one tile. */
function gemmShader(tile: GemmTile): string {
  const bm4 = tile.rows / 4, bn4 = tile.cols / 4, bk4 = tile.depth / 4;
  const rows = [0, 1, 2, 3];
  return /* wgsl */ `
struct Params {
  m: u32, n: u32, k: u32, n4: u32,
  k4: u32, tilesN: u32, count: u32, hasBias: u32,
  lo: f32, hi: f32,
}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: Params;

const BM4 = ${bm4}u;
const BN4 = ${bn4}u;
const BK4 = ${bk4}u;
const THREADS = BM4 * BN4;
const LANE = vec4<u32>(0u, 1u, 2u, 3u);
// A block: [BM rows][BK4 vec4 along k]. B block: [BK rows][BN4 vec4 along columns].
var<workgroup> tileA: array<vec4<f32>, ${tile.rows * bk4}>;
var<workgroup> tileB: array<vec4<f32>, ${tile.depth * bn4}>;

fn store(r: u32, cv: u32, v: vec4<f32>) {
  if (r < p.m) {
    var s = v;
    if (p.hasBias != 0u) { s += bias[r]; }
    c[r * p.n4 + cv] = clamp(s, vec4<f32>(p.lo), vec4<f32>(p.hi));
  }
}

@compute @workgroup_size(${bn4}, ${bm4})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  // The grid is folded into x and y; workgroups past the last tile have nothing to do
  // (a uniform exit: the whole workgroup leaves together).
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.count) { return; }
  let row0 = (t / p.tilesN) * (BM4 * 4u);
  let col0 = (t % p.tilesN) * BN4;
${rows.map((i) => `  var acc${i} = vec4<f32>();`).join("\n")}
  let steps = (p.k + BK4 * 4u - 1u) / (BK4 * 4u);
  for (var s = 0u; s < steps; s++) {
    let k0 = s * BK4;
    // Consecutive invocations load consecutive vec4s of a row; what lies past the matrix
    // (rows, columns, or the padding of a row) is staged as zero.
    for (var v = li; v < BM4 * 4u * BK4; v += THREADS) {
      let r = row0 + v / BK4;
      let kv = k0 + v % BK4;
      var x = vec4<f32>();
      if (r < p.m && kv < p.k4) {
        x = select(vec4<f32>(), a[r * p.k4 + kv], kv * 4u + LANE < vec4<u32>(p.k));
      }
      tileA[v] = x;
    }
    for (var v = li; v < BK4 * 4u * BN4; v += THREADS) {
      let kk = k0 * 4u + v / BN4;
      let cv = col0 + v % BN4;
      var x = vec4<f32>();
      if (kk < p.k && cv < p.n4) {
        x = select(vec4<f32>(), b[kk * p.n4 + cv], cv * 4u + LANE < vec4<u32>(p.n));
      }
      tileB[v] = x;
    }
    workgroupBarrier();
    for (var q = 0u; q < BK4; q++) {
${rows.map((i) => `      let b${i} = tileB[(q * 4u + ${i}u) * BN4 + lid.x];`).join("\n")}
${
    rows.map((i) =>
      `      let a${i} = tileA[(lid.y * 4u + ${i}u) * BK4 + q];\n` +
      `      acc${i} = fma(vec4<f32>(a${i}.w), b3, fma(vec4<f32>(a${i}.z), b2, ` +
      `fma(vec4<f32>(a${i}.y), b1, fma(vec4<f32>(a${i}.x), b0, acc${i}))));`
    ).join("\n")
  }
    }
    workgroupBarrier();
  }
  let cv = col0 + lid.x;
  if (cv < p.n4) {
${rows.map((i) => `    store(row0 + lid.y * 4u + ${i}u, cv, acc${i});`).join("\n")}
  }
}
`;
}

/** Checks a tile's fields and its needs against the device; returns the tile. */
function checkTile(ctx: GpuContext, tile: GemmTile): GemmTile {
  if (tile === null || typeof tile !== "object") {
    throw new ShapeError({ argument: "options.tile", value: tile }, "expected a GemmTile");
  }
  for (const key of ["rows", "cols", "depth"] as const) {
    const v = tile[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v % 4 !== 0) {
      throw new ShapeError(
        { argument: `options.tile.${key}`, value: v },
        "expected a positive multiple of 4",
      );
    }
  }
  ctx.checkLimit(
    "options.tile",
    (tile.rows / 4) * (tile.cols / 4),
    "maxComputeInvocationsPerWorkgroup",
  );
  ctx.checkLimit(
    "options.tile",
    (tile.rows + tile.cols) * tile.depth * 4,
    "maxComputeWorkgroupStorageSize",
  );
  return tile;
}

/**
 * @internal Encodes `out = clamp(A B + bias, min, max)` for GPU tensors A `[m x k]` and
 * B `[k x n]` into `options.out` `[m x n]`, as one dispatch (not submitted). The bias is
 * copied into a buffer the dispatch owns. An infinite clamp bound acts as the largest finite
 * f32 (so an overflowing sum reads ±3.4028235e38, not ±Infinity). The padding columns of
 * `out` receive `clamp(bias)`; the padding of A and B is never read into a result.
 *
 * @throws {ShapeError} when `b.rows` is not `a.cols`, `options.out` is not `m x n` or is `a` or
 *   `b`, `options.bias` has the wrong length, or a tile field is not a positive multiple of 4
 * @throws {ValueError} when a bias is not finite, a clamp bound is NaN, or `min > max`
 * @throws {GpuError} `"limit"` when the tile needs more invocations or workgroup memory than the
 *   device allows, or the grid does not fit; `"disposed"`, `"foreign"` or `"lost"` for a bad
 *   tensor or device
 */
export function encodeGemm(
  ctx: GpuContext,
  a: GpuTensor,
  b: GpuTensor,
  options: GpuGemmOptions,
): Dispatch[] {
  const aBuf = a.bufferFor(ctx, "a");
  const bBuf = b.bufferFor(ctx, "b");
  const out = options.out;
  const outBuf = out.bufferFor(ctx, "options.out");
  const { bias, min, max } = gemmOperands(a, b, options);
  const m = a.rows, k = a.cols, n = b.cols;
  checkShape("options.out", out, m, n);
  if (out === a || out === b) {
    throw new ShapeError(
      { argument: "options.out", value: out === a ? "a" : "b" },
      "must not be an input tensor",
    );
  }
  const tile = checkTile(ctx, options.tile ?? DEFAULT_GEMM_TILE);
  const tilesN = Math.ceil(n / tile.cols);
  const count = Math.ceil(m / tile.rows) * tilesN;
  if (count === 0) return [];
  const grid = ctx.fold("grid", count);
  const pipeline = ctx.pipeline(
    `gemm:${tile.rows}x${tile.cols}x${tile.depth}`,
    () => gemmShader(tile),
  );
  // Without a bias the flag is off and A stands in for the binding (read-only twice is fine).
  const biasBuf = bias === undefined ? undefined : ctx.storage("options.bias", bias);
  const params = ctx.uniform([
    { u: m },
    { u: n },
    { u: k },
    { u: out.stride / 4 },
    { u: a.stride / 4 },
    { u: tilesN },
    { u: count },
    { u: bias === undefined ? 0 : 1 },
    ...clampWords(min, max),
  ]);
  const owned = biasBuf === undefined ? [params] : [biasBuf, params];
  return [ctx.dispatch(pipeline, [aBuf, bBuf, biasBuf ?? aBuf, outBuf, params], grid, owned)];
}
