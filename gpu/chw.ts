/**
 * The CHW operators on WebGPU around the 1x1 convolutions of a network: depthwise
 * convolution, the first-layer convolution (HWC images in, CHW out), global average pooling
 * and the residual add, each with its clamp fused, as dispatches that the caller submits.
 *
 * The layouts and semantics are those of the CPU `Backend` (see `Backend.depthwise`): CHW
 * activations with the batch inside each channel row, and the geometry in a checked
 * `Window`. The windowed kernels stage the input patch a workgroup needs in workgroup memory,
 * with the zero border already in place, so each input value is read from memory once per
 * workgroup and the inner loops have no edge tests. Where an input is also the destination
 * (allowed as on the CPU, except `out === x` of a depthwise convolution), the result is
 * computed into a scratch buffer and copied over by a second dispatch.
 *
 * @example A depthwise convolution on the GPU, checked against the CPU
 * ```ts
 * import { dense, depthwise, resolveWindow } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * const x = dense(2, 25, Array.from({ length: 50 }, (_, i) => Math.sin(i)));
 * const w = dense(2, 9, Array.from({ length: 18 }, (_, i) => Math.cos(i)));
 * const window = resolveWindow(3, { height: 5, width: 5, stride: 2, min: 0 });
 * using xt = gpu.upload(x);
 * using wt = gpu.upload(w);
 * using yt = gpu.alloc(2, window.outHeight * window.outWidth);
 * const y = await gpu.depthwise(xt, wt, undefined, yt, window).read();
 * const want = depthwise(x, w, { height: 5, width: 5, stride: 2, min: 0 });
 * assert.ok(y.data.every((v, i) => Math.abs(v - want.data[i]) < 1e-5));
 * ```
 * @module
 */
import {
  checkAddArgs,
  checkConv2dArgs,
  checkDepthwiseArgs,
  checkPoolArgs,
  type Window,
} from "../kernels/spatial.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import { clampWords } from "./gemm.ts";
import type { GpuTensor } from "./tensor.ts";

/** Output pixels per workgroup of the windowed kernels, along each side (one per invocation). */
const TILE = 8;
/** Invocations per workgroup of the pooling reduction. */
const POOL_THREADS = 64;
/** Invocations per workgroup of the elementwise kernels (one `vec4` each). */
const FLAT_THREADS = 256;
/** Output channels per workgroup of the first-layer convolution (a register block). */
const CONV_OUT = 8;

/** The folded-grid prologue: `t` is the linear workgroup index; surplus workgroups leave. */
const PROLOGUE = /* wgsl */ `
  let t = wid.x + wid.y * nwg.x;
  if (t >= p.count) { return; }`;

/** The builtins every kernel here takes. */
const BUILTINS = /* wgsl */ `
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,`;

/** Side of the input patch an 8x8 output tile reads. */
function patchSide(kernel: number, stride: number): number {
  return (TILE - 1) * stride + kernel;
}

function depthwiseShader(kernel: number, stride: number): string {
  const pw = patchSide(kernel, stride);
  return /* wgsl */ `
struct Params {
  batch: u32, height: u32, width: u32, outH: u32,
  outW: u32, padTop: u32, padLeft: u32, xStride: u32,
  wStride: u32, bStride: u32, oStride: u32, tilesX: u32,
  tilesPerPlane: u32, count: u32, hasBias: u32, lo: f32,
  hi: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const K = ${kernel}u;
const S = ${stride}u;
const PW = ${pw}u;
// The zero-bordered input patch of this tile, and the channel's window of weights.
var<workgroup> inPatch: array<f32, ${pw * pw}>;
var<workgroup> taps: array<f32, ${kernel * kernel}>;

@compute @workgroup_size(${TILE}, ${TILE})
fn main(${BUILTINS}
) {${PROLOGUE}
  let plane = t / p.tilesPerPlane;
  let r = t % p.tilesPerPlane;
  let c = plane / p.batch;
  let n = plane % p.batch;
  let oy0 = (r / p.tilesX) * ${TILE}u;
  let ox0 = (r % p.tilesX) * ${TILE}u;
  let src = c * p.xStride + n * p.height * p.width;
  let iy0 = i32(oy0 * S) - i32(p.padTop);
  let ix0 = i32(ox0 * S) - i32(p.padLeft);
  for (var i = li; i < PW * PW; i += ${TILE * TILE}u) {
    let iy = iy0 + i32(i / PW);
    let ix = ix0 + i32(i % PW);
    var v = 0.0;
    if (iy >= 0 && iy < i32(p.height) && ix >= 0 && ix < i32(p.width)) {
      v = x[src + u32(iy) * p.width + u32(ix)];
    }
    inPatch[i] = v;
  }
  if (li < K * K) { taps[li] = w[c * p.wStride + li]; }
  workgroupBarrier();
  let oy = oy0 + lid.y;
  let ox = ox0 + lid.x;
  if (oy < p.outH && ox < p.outW) {
    var acc = 0.0;
    if (p.hasBias != 0u) { acc = bias[c * p.bStride]; }
    for (var ky = 0u; ky < K; ky++) {
      let row = (lid.y * S + ky) * PW + lid.x * S;
      for (var kx = 0u; kx < K; kx++) {
        acc = fma(taps[ky * K + kx], inPatch[row + kx], acc);
      }
    }
    y[c * p.oStride + n * p.outH * p.outW + oy * p.outW + ox] = clamp(acc, p.lo, p.hi);
  }
}
`;
}

function conv2dShader(stride: number): string {
  const pw = patchSide(3, stride);
  const outs = Array.from({ length: CONV_OUT }, (_, o) => o);
  return /* wgsl */ `
struct Params {
  cout: u32, cin: u32, height: u32, width: u32,
  outH: u32, outW: u32, padTop: u32, padLeft: u32,
  xStride: u32, wStride: u32, bStride: u32, oStride: u32,
  tilesX: u32, tilesPerImage: u32, groups: u32, count: u32,
  hasBias: u32, lo: f32, hi: f32,
}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const S = ${stride}u;
const PW = ${pw}u;
const OUTS = ${CONV_OUT}u;
// One step stages four input channels: the zero-bordered HWC patch as one vec4 per pixel,
// and the 3x3 window of each of the OUTS output channels over those four input channels.
var<workgroup> inPatch: array<vec4<f32>, ${pw * pw}>;
var<workgroup> taps: array<vec4<f32>, ${CONV_OUT * 9}>;

// Up to four consecutive values from x or w; lanes at or past 'valid' are zero.
fn loadX(at: u32, valid: u32) -> vec4<f32> {
  var v = vec4<f32>(x[at], 0.0, 0.0, 0.0);
  if (valid > 1u) { v.y = x[at + 1u]; }
  if (valid > 2u) { v.z = x[at + 2u]; }
  if (valid > 3u) { v.w = x[at + 3u]; }
  return v;
}
fn loadW(at: u32, valid: u32) -> vec4<f32> {
  var v = vec4<f32>(w[at], 0.0, 0.0, 0.0);
  if (valid > 1u) { v.y = w[at + 1u]; }
  if (valid > 2u) { v.z = w[at + 2u]; }
  if (valid > 3u) { v.w = w[at + 3u]; }
  return v;
}
fn store(o: u32, at: u32, v: f32) {
  if (o < p.cout) {
    var s = v;
    if (p.hasBias != 0u) { s += bias[o * p.bStride]; }
    y[o * p.oStride + at] = clamp(s, p.lo, p.hi);
  }
}

@compute @workgroup_size(${TILE}, ${TILE})
fn main(${BUILTINS}
) {${PROLOGUE}
  // Workgroups of one image tile are adjacent (the output-channel group varies fastest), so
  // they read the same input while it is in cache.
  let o0 = (t % p.groups) * OUTS;
  let rest = t / p.groups;
  let n = rest / p.tilesPerImage;
  let r = rest % p.tilesPerImage;
  let oy0 = (r / p.tilesX) * ${TILE}u;
  let ox0 = (r % p.tilesX) * ${TILE}u;
  let src = n * p.xStride;
  let iy0 = i32(oy0 * S) - i32(p.padTop);
  let ix0 = i32(ox0 * S) - i32(p.padLeft);
${outs.map((o) => `  var acc${o} = 0.0;`).join("\n")}
  for (var c0 = 0u; c0 < p.cin; c0 += 4u) {
    let valid = min(p.cin - c0, 4u);
    for (var i = li; i < PW * PW; i += ${TILE * TILE}u) {
      let iy = iy0 + i32(i / PW);
      let ix = ix0 + i32(i % PW);
      var v = vec4<f32>();
      if (iy >= 0 && iy < i32(p.height) && ix >= 0 && ix < i32(p.width)) {
        v = loadX(src + (u32(iy) * p.width + u32(ix)) * p.cin + c0, valid);
      }
      inPatch[i] = v;
    }
    for (var i = li; i < OUTS * 9u; i += ${TILE * TILE}u) {
      let o = o0 + i / 9u;
      var v = vec4<f32>();
      if (o < p.cout) { v = loadW(o * p.wStride + (i % 9u) * p.cin + c0, valid); }
      taps[i] = v;
    }
    workgroupBarrier();
    for (var ky = 0u; ky < 3u; ky++) {
      for (var kx = 0u; kx < 3u; kx++) {
        let v = inPatch[(lid.y * S + ky) * PW + lid.x * S + kx];
        let tap = ky * 3u + kx;
${outs.map((o) => `        acc${o} += dot(v, taps[${o * 9}u + tap]);`).join("\n")}
      }
    }
    workgroupBarrier();
  }
  let oy = oy0 + lid.y;
  let ox = ox0 + lid.x;
  if (oy < p.outH && ox < p.outW) {
    let at = (n * p.outH + oy) * p.outW + ox;
${outs.map((o) => `    store(o0 + ${o}u, at, acc${o});`).join("\n")}
  }
}
`;
}

const POOL_SHADER = /* wgsl */ `
struct Params { batch: u32, pixels: u32, xStride: u32, oStride: u32, count: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

const THREADS = ${POOL_THREADS}u;
var<workgroup> part: array<f32, THREADS>;

// One workgroup per (channel, image): strided partial sums over the image's pixels (and only
// those: never the row's padding), then a tree in workgroup memory, times 1/pixels.
@compute @workgroup_size(THREADS)
fn main(${BUILTINS}
) {${PROLOGUE}
  let c = t / p.batch;
  let n = t % p.batch;
  let src = c * p.xStride + n * p.pixels;
  var s = 0.0;
  for (var i = li; i < p.pixels; i += THREADS) { s += x[src + i]; }
  part[li] = s;
  workgroupBarrier();
  for (var h = THREADS / 2u; h > 0u; h >>= 1u) {
    if (li < h) { part[li] += part[li + h]; }
    workgroupBarrier();
  }
  if (li == 0u) { y[c * p.oStride + n] = part[0] * p.scale; }
}
`;

/** How the add binds its operands: all three apart, `out` one of them, or all the same. */
type AddMode = "apart" | "into" | "self";

function addShader(mode: AddMode): string {
  const bindings = {
    apart: `@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;`,
    into: `@group(0) @binding(0) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;`,
    self: `@group(0) @binding(0) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Params;`,
  }[mode];
  // Floating-point addition commutes exactly, so adding into either operand is one kernel.
  const sum = { apart: "a[i] + b[i]", into: "y[i] + b[i]", self: "y[i] + y[i]" }[mode];
  return /* wgsl */ `
struct Params { vectors: u32, count: u32, lo: f32, hi: f32 }
${bindings}

// One vec4 per invocation over the whole padded buffer: padding columns get the clamped sum
// of padding, which is finite and never read as data.
@compute @workgroup_size(${FLAT_THREADS})
fn main(${BUILTINS}
) {${PROLOGUE}
  let i = t * ${FLAT_THREADS}u + li;
  if (i < p.vectors) { y[i] = clamp(${sum}, vec4<f32>(p.lo), vec4<f32>(p.hi)); }
}
`;
}

const COPY_SHADER = /* wgsl */ `
struct Params { vectors: u32, count: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(${FLAT_THREADS})
fn main(${BUILTINS}
) {${PROLOGUE}
  let i = t * ${FLAT_THREADS}u + li;
  if (i < p.vectors) { dst[i] = src[i]; }
}
`;

/** `vec4`s stored by a tensor (rows times padded row). */
function vectors(t: GpuTensor): number {
  return (t.rows * t.stride) / 4;
}

/**
 * Builds the dispatches of an operator that writes `out`. When `out`'s buffer is also one of
 * `inputs`, the operator writes a scratch buffer instead and a copy follows (a buffer may not
 * be bound for reading and writing in one dispatch). `make` receives the buffer to write.
 */
function intoOut(
  ctx: GpuContext,
  out: GpuTensor,
  outBuf: GPUBuffer,
  inputs: readonly GPUBuffer[],
  make: (target: GPUBuffer) => Dispatch,
): Dispatch[] {
  if (!inputs.includes(outBuf)) return [make(outBuf)];
  const n = vectors(out);
  const count = Math.ceil(n / FLAT_THREADS);
  const grid = ctx.fold("grid", count);
  const scratch = ctx.buffer("out", n * 16, GPUBufferUsage.STORAGE);
  const main = make(scratch);
  const params = ctx.uniform([{ u: n }, { u: count }]);
  const copy = ctx.dispatch(
    ctx.pipeline("copy", () => COPY_SHADER),
    [scratch, outBuf, params],
    grid,
    [scratch, params],
  );
  return [main, copy];
}

/**
 * @internal Encodes a depthwise convolution (not submitted), with the layouts of
 * `Backend.depthwise`: `x` `[channels x batch*height*width]`, `weights`
 * `[channels x kernel*kernel]`, `bias` `[channels x 1]` or undefined, `out`
 * `[channels x batch*outHeight*outWidth]`, for 3x3 and 5x5 windows, stride 1 or 2 and any
 * padding the window allows; `clamp(window.min, window.max)` is fused. One workgroup computes
 * an 8x8 tile of one image plane of one channel from its input patch in workgroup memory.
 * `out` must not be `x`; it may be `weights` or `bias` (then a scratch buffer and a copy).
 *
 * @throws {ShapeError} for a bad window or shapes that disagree with it, or `out === x`
 * @throws {ValueError} for a NaN clamp or `window.min > window.max`
 * @throws {GpuError} `"disposed"`, `"foreign"` or `"lost"` for a bad tensor or device;
 *   `"limit"` when the grid does not fit
 */
export function encodeDepthwise(
  ctx: GpuContext,
  x: GpuTensor,
  weights: GpuTensor,
  bias: GpuTensor | undefined,
  out: GpuTensor,
  window: Window,
): Dispatch[] {
  const xBuf = x.bufferFor(ctx, "x");
  const wBuf = weights.bufferFor(ctx, "weights");
  const bBuf = bias?.bufferFor(ctx, "bias");
  const outBuf = out.bufferFor(ctx, "out");
  checkDepthwiseArgs(x, weights, bias, out, window);
  const { kernel, stride, batch, outHeight, outWidth } = window;
  const tilesX = Math.ceil(outWidth / TILE);
  const tilesPerPlane = tilesX * Math.ceil(outHeight / TILE);
  const count = x.rows * batch * tilesPerPlane;
  if (count === 0) return [];
  const grid = ctx.fold("grid", count);
  const pipeline = ctx.pipeline(
    `depthwise:k${kernel}:s${stride}`,
    () => depthwiseShader(kernel, stride),
  );
  const inputs = bBuf === undefined ? [xBuf, wBuf] : [xBuf, wBuf, bBuf];
  return intoOut(ctx, out, outBuf, inputs, (target) => {
    const params = ctx.uniform([
      { u: batch },
      { u: window.height },
      { u: window.width },
      { u: outHeight },
      { u: outWidth },
      { u: window.padTop },
      { u: window.padLeft },
      { u: x.stride },
      { u: weights.stride },
      { u: bias?.stride ?? 0 },
      { u: out.stride },
      { u: tilesX },
      { u: tilesPerPlane },
      { u: count },
      { u: bias === undefined ? 0 : 1 },
      ...clampWords(window.min, window.max),
    ]);
    // Without a bias its flag is off and x stands in for the binding.
    return ctx.dispatch(pipeline, [xBuf, wBuf, bBuf ?? xBuf, target, params], grid, [params]);
  });
}

/**
 * @internal Encodes the first-layer convolution (not submitted), with the layouts of
 * `Backend.conv2d`: HWC images `x` `[batch x height*width*cin]`, `weights`
 * `[cout x 3*3*cin]` (row, column, input channel), `bias` `[cout x 1]` or undefined, into CHW
 * `out` `[cout x batch*outHeight*outWidth]`, 3x3 windows, stride 1 or 2, clamp fused. One
 * workgroup computes an 8x8 tile of one image for 8 output channels (each invocation one pixel
 * of all 8), stepping through the input channels four at a time with the patch and the
 * weights in workgroup memory. `out` may be any of the inputs (then a scratch buffer and a
 * copy).
 *
 * @throws {ShapeError} for a bad window or shapes that disagree with it
 * @throws {ValueError} for a NaN clamp or `window.min > window.max`
 * @throws {GpuError} `"disposed"`, `"foreign"` or `"lost"` for a bad tensor or device;
 *   `"limit"` when the grid does not fit
 */
export function encodeConv2d(
  ctx: GpuContext,
  x: GpuTensor,
  weights: GpuTensor,
  bias: GpuTensor | undefined,
  out: GpuTensor,
  window: Window,
): Dispatch[] {
  const xBuf = x.bufferFor(ctx, "x");
  const wBuf = weights.bufferFor(ctx, "weights");
  const bBuf = bias?.bufferFor(ctx, "bias");
  const outBuf = out.bufferFor(ctx, "out");
  const cin = checkConv2dArgs(x, weights, bias, out, window);
  const { stride, batch, outHeight, outWidth } = window;
  const cout = weights.rows;
  const tilesX = Math.ceil(outWidth / TILE);
  const tilesPerImage = tilesX * Math.ceil(outHeight / TILE);
  const groups = Math.ceil(cout / CONV_OUT);
  const count = batch * tilesPerImage * groups;
  if (count === 0) return [];
  const grid = ctx.fold("grid", count);
  const pipeline = ctx.pipeline(`conv2d:k3:s${stride}`, () => conv2dShader(stride));
  const inputs = bBuf === undefined ? [xBuf, wBuf] : [xBuf, wBuf, bBuf];
  return intoOut(ctx, out, outBuf, inputs, (target) => {
    const params = ctx.uniform([
      { u: cout },
      { u: cin },
      { u: window.height },
      { u: window.width },
      { u: outHeight },
      { u: outWidth },
      { u: window.padTop },
      { u: window.padLeft },
      { u: x.stride },
      { u: weights.stride },
      { u: bias?.stride ?? 0 },
      { u: out.stride },
      { u: tilesX },
      { u: tilesPerImage },
      { u: groups },
      { u: count },
      { u: bias === undefined ? 0 : 1 },
      ...clampWords(window.min, window.max),
    ]);
    return ctx.dispatch(pipeline, [xBuf, wBuf, bBuf ?? xBuf, target, params], grid, [params]);
  });
}

/**
 * @internal Encodes global average pooling (not submitted): `x` `[channels x batch*pixels]`
 * to `out` `[channels x batch]`, each output the sum of its image's pixels times `1/pixels`
 * (computed on the host and rounded to f32 once: WGSL's division is not correctly rounded);
 * an image of no pixels pools to 0. One workgroup reduces one (channel, image). `out` may be
 * `x` (1-pixel images; then a scratch buffer and a copy).
 *
 * @throws {ShapeError} when `x.cols` is not a multiple of `batch` or `out` is not
 *   `channels x batch`
 * @throws {GpuError} `"disposed"`, `"foreign"` or `"lost"` for a bad tensor or device;
 *   `"limit"` when the grid does not fit
 */
export function encodeGlobalAvgPool(
  ctx: GpuContext,
  x: GpuTensor,
  out: GpuTensor,
  batch: number,
): Dispatch[] {
  const xBuf = x.bufferFor(ctx, "x");
  const outBuf = out.bufferFor(ctx, "out");
  const pixels = checkPoolArgs(x, out, batch);
  const count = x.rows * batch;
  if (count === 0) return [];
  const grid = ctx.fold("grid", count);
  const pipeline = ctx.pipeline("globalAvgPool", () => POOL_SHADER);
  return intoOut(ctx, out, outBuf, [xBuf], (target) => {
    const params = ctx.uniform([
      { u: batch },
      { u: pixels },
      { u: x.stride },
      { u: out.stride },
      { u: count },
      { f: pixels === 0 ? 0 : Math.fround(1 / pixels) },
    ]);
    return ctx.dispatch(pipeline, [xBuf, target, params], grid, [params]);
  });
}

/**
 * @internal Encodes `out = clamp(a + b, min, max)` elementwise (not submitted) for tensors of
 * one shape; `out` may be `a` or `b` or both, and `a` may be `b`. One `vec4` per invocation
 * over the padded rows.
 *
 * @throws {ShapeError} when `b` or `out` differs in shape from `a`
 * @throws {ValueError} for a NaN clamp bound or `min > max`
 * @throws {GpuError} `"disposed"`, `"foreign"` or `"lost"` for a bad tensor or device;
 *   `"limit"` when the grid does not fit
 */
export function encodeAdd(
  ctx: GpuContext,
  a: GpuTensor,
  b: GpuTensor,
  out: GpuTensor,
  min: number,
  max: number,
): Dispatch[] {
  const aBuf = a.bufferFor(ctx, "a");
  const bBuf = b.bufferFor(ctx, "b");
  const outBuf = out.bufferFor(ctx, "out");
  checkAddArgs(a, b, out, min, max);
  const n = vectors(out);
  const count = Math.ceil(n / FLAT_THREADS);
  if (count === 0) return [];
  const grid = ctx.fold("grid", count);
  let mode: AddMode, reads: GPUBuffer[];
  if (outBuf === aBuf && outBuf === bBuf) [mode, reads] = ["self", []];
  else if (outBuf === aBuf) [mode, reads] = ["into", [bBuf]];
  else if (outBuf === bBuf) [mode, reads] = ["into", [aBuf]];
  else [mode, reads] = ["apart", [aBuf, bBuf]];
  const pipeline = ctx.pipeline(`add:${mode}`, () => addShader(mode));
  const params = ctx.uniform([{ u: n }, { u: count }, ...clampWords(min, max)]);
  return [ctx.dispatch(pipeline, [...reads, outBuf, params], grid, [params])];
}
