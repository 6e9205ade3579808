// deno-fmt-ignore-file
// deno-lint-ignore-file
// (AssemblyScript: deno fmt would drop the @inline decorators, and deno lint does not know the
// compiler's builtins, so both leave this file alone, as deno.json excludes the other sources.)
//
// The CHW operators around the sparse 1x1 convolution: depthwise convolution (3x3 and 5x5,
// stride 1 and 2), the first-layer 3x3 convolution from HWC images, global average pooling and
// the residual add. All pointers are byte offsets into memory; every operand is f32. Activations
// are CHW with the batch inside each channel: the plane of channel c, image n (height x width,
// row-major) starts at element (c * batch + n) * height * width.
//
// Depthwise, SIMD flavours. 3x3 stride 1 with one column of padding each side (MobileNet's
// "same" layers) reads straight from the image: each group of output rows takes pointers to
// its input rows (a row of zeros for those outside the image), and the first and last vector
// of a row shift a zero into the lane that falls in the padding. 3x3 stride 2 with no padding
// on the left (MobileNet's stride-2 layers) does the same, splitting each pair of loaded
// vectors into even and odd pixels (taps 0 and 1) and moving the even ones down a lane with the
// next pixel coming in (tap 2). Every other window copies each plane into a zero-bordered
// scratch plane first
// (the window's padding made real, so the inner loops test no edges); the border is zeroed
// once per call, since every plane overwrites the same interior. For stride 2 the copy
// de-interleaves even and odd padded columns into the two halves of each scratch row (E | O),
// so output pixels ox..ox+3 read E[ox + kx/2] (even kx) or O[ox + (kx-1)/2] (odd kx): every
// tap is one unaligned unit-stride v128 load. A vector holds four output pixels of one row;
// a group kernel computes R output rows at once across the whole width (R = 4 for 3x3, 2 for
// 5x5; the rows left at the bottom of a plane by a kernel of their own, R = 1..3), so each
// loaded input vector feeds every output row whose window covers it (3x3 stride 1: 18 loads
// for 36 multiply-adds; stride 2: 27 for 36). The weights stay in registers as splats (5x5: V8
// spills some to the stack, whose reloads carry no bounds check); f32x4.relaxed_madd in the
// relaxed flavour, mul + add in the SIMD one. The group kernels are written once for any R
// (`if (R > r)` around the taps of row r) and expanded with constant R, so the unused rows fold
// away. A row whose width is not a multiple of 4 ends with a vector computed at pixel ow - 4,
// of which only the lanes of the pixels not yet stored are written (lane stores); rows narrower
// than 4 go through a small tile buffer. Every output element is written exactly once, and
// nothing outside the operands and scratch is read or written (the scratch plane is as wide as
// the last vector reads, even for rows narrower than 4).
//
// Depthwise, scalar flavour: the same zero-bordered plane (no de-interleaving), one output
// pixel at a time; 3x3 with its nine weights in locals.
//
// First layer (conv2d): the dense GEMM of as/gemm.ts multiplies the [cout x 9 cin] weights by
// the im2col matrix (row t = (ky * 3 + kx) * cin + ci, one column per output pixel in (image,
// row, column) order) straight into the CHW output, with its bias and clamp. Where the GEMM's
// tiled path runs (packsImage) it packs its panels straight from the image (gemmImage); else,
// and in the scalar flavour, im2col is written to scratch first.
//
// The clamp is min(max(x, lo), hi) with f32x4.max/min semantics (NaN-propagating, -0 < +0),
// done as pmax/pmin with a sign-bit fix-up, as in as/gemm.ts.

import {
  describeImage,
  gemm,
  gemmImage,
  gemmScratchBytes,
  IMAGE_BYTES,
  packsImage,
} from "./gemm";

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// Scratch returned when the sizes overflow: the host's allocator refuses it.
// @ts-ignore: decorator
@inline const TOO_LARGE: u64 = 0xffffffc0;

// Bytes at the start of depthwise scratch: the tile buffer for rows narrower than a vector
// (4 x 4 floats).
// @ts-ignore: decorator
@inline const TILE_BYTES: usize = 64;

// @ts-ignore: decorator
@inline function roundUp(x: u32, q: u32): u32 {
  return (x + q - 1) / q * q;
}

// @ts-ignore: decorator
@inline function align64(x: u64): u64 {
  return (x + 63) & ~(<u64>63);
}

// @ts-ignore: decorator
@inline function saturate(bytes: u64): usize {
  return <usize>(bytes > TOO_LARGE ? TOO_LARGE : bytes);
}

// Clamp vectors (see as/gemm.ts setClamp): max(x, +0) never returns -0, min(x, -0) never +0.
// @ts-ignore: decorator
@inline function loMaskOf(minv: f32): v128 {
  return i32x4.splat(reinterpret<u32>(minv) == 0 ? 0x7fffffff : -1);
}

// @ts-ignore: decorator
@inline function hiMaskOf(maxv: f32): v128 {
  return i32x4.splat(reinterpret<u32>(maxv) == 0x80000000 ? 0x80000000 : 0);
}

// @ts-ignore: decorator
@inline function clampv(x: v128, lo: v128, hi: v128, loMask: v128, hiMask: v128): v128 {
  const y = v128.and(f32x4.pmax(x, lo), loMask);
  return v128.or(f32x4.pmin(y, hi), hiMask);
}

// The depthwise kernels' clamp, one instruction and one live vector fewer than clampv: pmax and
// pmin, then + fix, which is +0 when minv is +0 (turning the -0 that pmax(-0, +0) keeps into
// the +0 max gives; no other value changes, and no right answer is -0 then) and -0 otherwise
// (adding -0 changes nothing). Exact for every maxv but -0, where min(+0, -0) is -0 and pmin
// gives +0: `depthwise` then sets the sign bit of its outputs afterwards (see orSign).
// @ts-ignore: decorator
@inline function fixOf(minv: f32): v128 {
  return f32x4.splat(reinterpret<u32>(minv) == 0 ? 0.0 : -0.0);
}

// @ts-ignore: decorator
@inline function clampFix(x: v128, lo: v128, hi: v128, fix: v128): v128 {
  return f32x4.add(f32x4.pmin(f32x4.pmax(x, lo), hi), fix);
}

// Sets the sign bit of n floats at p. For outputs clamped to a maxv of -0, every right answer
// is at most -0 or NaN, so this turns the +0 that pmin leaves into -0 and changes nothing else
// (a NaN stays a NaN).
function orSign(p: usize, n: usize): void {
  const end = p + (n << 2);
  const sign = i32x4.splat(0x80000000);
  for (; p + 16 <= end; p += 16) v128.store(p, v128.or(v128.load(p), sign));
  for (; p < end; p += 4) store<u32>(p, load<u32>(p) | 0x80000000);
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution.

/**
 * Floats per row of the SIMD scratch plane: stride 1, the columns the last vector of a row
 * reads (a whole vector even for rows narrower than 4); stride 2, two halves (E | O), each as
 * wide as the even columns the last vector reads.
 */
// @ts-ignore: decorator
@inline function rowFloats(kernel: u32, stride: u32, outWidth: u32): u32 {
  const ow = max<u32>(outWidth, 4);
  return stride == 1 ? roundUp(ow + kernel - 1, 4) : roundUp(ow + (kernel - 1) / 2, 4) * 2;
}

/**
 * Bytes of scratch `depthwise` needs for this window (a 16-byte aligned pointer), 0 for an empty
 * output; sizes past 4 GiB give a value the host cannot allocate.
 */
export function depthwiseScratchBytes(
  kernel: u32,
  stride: u32,
  outHeight: u32,
  outWidth: u32,
): usize {
  if (outHeight == 0 || outWidth == 0) return 0;
  if (outHeight > 0x3fffffff || outWidth > 0x3fffffff) return saturate(TOO_LARGE + 1);
  if (!ASC_FEATURE_SIMD) {
    const ph = <u64>(outHeight - 1) * stride + kernel;
    const pw = <u64>(outWidth - 1) * stride + kernel;
    return saturate(ph * pw * 4);
  }
  const rsBytes = <u64>rowFloats(kernel, stride, outWidth) * 4;
  const rows = <u64>(stripRows(kernel, stride, outHeight, rsBytes) - 1) * stride + kernel;
  return saturate(<u64>TILE_BYTES + rows * rsBytes);
}

// Narrowest image the 3x3 stride-1 depthwise reads directly: a row's first column loads the
// vector one pixel on as its right tap, which must end inside the row.
// @ts-ignore: decorator
@inline const DIRECT_WIDTH: u32 = 5;

// Scratch bytes a strip of the padded plane may take: with room for the rows being written and
// the input streaming in, a strip stays in a 32 KiB L1 data cache between its copy and its use.
// @ts-ignore: decorator
@inline const STRIP_BYTES: u64 = 12288;

/**
 * Output rows per strip of the SIMD depthwise: the whole plane when its padded rows fit
 * STRIP_BYTES, else the most rows whose input does, a multiple of 4 (every group kernel's row
 * count divides it, so only a plane's last strip runs the remainder kernels), at least 4.
 */
// @ts-ignore: decorator
@inline function stripRows(kernel: u32, stride: u32, outHeight: u32, rsBytes: u64): u32 {
  const fit = STRIP_BYTES / rsBytes; // padded rows that fit
  if (fit >= <u64>(outHeight - 1) * stride + kernel) return outHeight;
  const rows = fit > <u64>kernel ? <u32>((fit - kernel) / stride + 1) : 0;
  return max<u32>(rows & ~3, 4);
}

/**
 * Depthwise convolution of `channels` CHW channels of `batch` images:
 * y[c][n](oy, ox) = clamp(bias[c] + sum w[c](ky, kx) x[c][n](oy s - padTop + ky, ox s - padLeft + kx))
 * reading zeros outside the image. `weights` holds kernel x kernel floats per channel
 * (row-major), `bias` one per channel or is 0 for none; kernel 3 or 5, stride 1 or 2, padTop
 * and padLeft below kernel, and outHeight/outWidth no larger than the padded input allows (the
 * host checks all of it). `scratch` holds `depthwiseScratchBytes(kernel, stride, outHeight,
 * outWidth)` bytes, 16-byte aligned. y may not overlap x, weights, bias or scratch.
 */
export function depthwise(
  channels: u32,
  batch: u32,
  height: u32,
  width: u32,
  kernel: u32,
  stride: u32,
  padTop: u32,
  padLeft: u32,
  outHeight: u32,
  outWidth: u32,
  x: usize,
  weights: usize,
  bias: usize,
  y: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
): void {
  if (channels == 0 || batch == 0 || outHeight == 0 || outWidth == 0) return;
  const k = kernel;
  const s = stride;
  // The padded input the windows read, and the part of the image inside it.
  const ph = (outHeight - 1) * s + k;
  const pw = (outWidth - 1) * s + k;
  const rowsIn = padTop < ph ? min(height, ph - padTop) : 0;
  const colsIn = padLeft < pw ? min(width, pw - padLeft) : 0;
  const inPlane = (<usize>height * width) << 2;
  const outPlane = (<usize>outHeight * outWidth) << 2;
  const inRow = <usize>width << 2;
  const clamp = minv != -Infinity || maxv != Infinity;
  if (!ASC_FEATURE_SIMD) {
    const rs = <usize>pw << 2;
    memory.fill(scratch, 0, <usize>ph * rs);
    const dst = scratch + <usize>padTop * rs + (<usize>padLeft << 2);
    let xp = x;
    let yp = y;
    for (let c: u32 = 0; c < channels; c++) {
      const wp = weights + ((<usize>c * k * k) << 2);
      const b: f32 = bias != 0 ? load<f32>(bias + (<usize>c << 2)) : 0;
      for (let n: u32 = 0; n < batch; n++) {
        copyRows1(xp, inRow, rowsIn, colsIn, dst, rs);
        if (k == 3) {
          dwScalar3(scratch, rs, s, yp, outHeight, outWidth, wp, b, minv, maxv);
        } else {
          dwScalarK(scratch, rs, k, s, yp, outHeight, outWidth, wp, b, minv, maxv);
        }
        xp += inPlane;
        yp += outPlane;
      }
    }
    return;
  }
  const negZeroMax = reinterpret<u32>(maxv) == 0x80000000;
  const tile = scratch;
  const plane = scratch + TILE_BYTES;
  const rs = <usize>rowFloats(k, s, outWidth) << 2;
  const strip = stripRows(k, s, outHeight, <u64>rs);
  memory.fill(plane, 0, <usize>((strip - 1) * s + k) * rs);
  const outRow = <usize>outWidth << 2;
  // 3x3 stride 1 with one column of padding each side reads its taps straight from the image
  // (no copy), rows outside the image from the scratch plane's first row (zeros).
  const direct = k == 3 && s == 1 && padLeft == 1 && outWidth == width && width >= DIRECT_WIDTH;
  // 3x3 stride 2 with no padding on the left does the same, de-interleaving as it loads: output
  // pixel ox reads image pixels 2 ox .. 2 ox + 2, all inside the row but the last one's last
  // (the padding when width == 2 outWidth).
  const direct2 = k == 3 && s == 2 && padLeft == 0 && outWidth >= 4 && width >= 2 * outWidth;
  let xp = x;
  let yp = y;
  for (let c: u32 = 0; c < channels; c++) {
    const wp = weights + ((<usize>c * k * k) << 2);
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>c << 2)) : 0;
    for (let n: u32 = 0; n < batch; n++) {
      if (direct) {
        dw3s1Plane(true, xp, inRow, <i32>padTop, <i32>height, plane, yp, outHeight, outWidth,
          wp, b, minv, maxv, clamp, tile);
      } else if (direct2) {
        dw3s2DirectPlane(width == 2 * outWidth, xp, inRow, <i32>padTop, <i32>height, plane, yp,
          outHeight, outWidth, wp, b, minv, maxv, clamp, tile);
      } else {
        paddedRows(outHeight, strip, xp, inRow, height, padTop, padLeft, colsIn, k, s,
          plane, rs, yp, outRow, outWidth, wp, b, minv, maxv, clamp, tile);
      }
      if (negZeroMax) orSign(yp, <usize>outHeight * outWidth);
      xp += inPlane;
      yp += outPlane;
    }
  }
}

// The output rows of one plane in strips of at most `strip` rows (one, for a plane that fits),
// each from its own padded rows copied to the scratch plane: scratch row r holds image row
// oy0 * s + r - padTop, zeros where that is outside the image. With one strip per plane every
// plane writes the same rows, so the rows outside the image stay as zeroed once per call; with
// more, earlier strips wrote image rows there, and they are zeroed again.
// @ts-ignore: decorator
@inline function paddedRows(
  outHeight: u32,
  strip: u32,
  xp: usize,
  inRow: usize,
  height: u32,
  padTop: u32,
  padLeft: u32,
  colsIn: u32,
  k: u32,
  s: u32,
  plane: usize,
  rs: usize,
  yp: usize,
  outRow: usize,
  outWidth: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const half = rs >> 1;
  for (let oy0: u32 = 0; oy0 < outHeight; oy0 += strip) {
    const so = min(strip, outHeight - oy0);
    const rows = (so - 1) * s + k;
    const top = <i32>(oy0 * s) - <i32>padTop; // image row of scratch row 0
    const r0 = <u32>max<i32>(0, -top); // first scratch row inside the image
    const r1 = <u32>max<i32>(<i32>r0, min<i32>(<i32>rows, <i32>height - top));
    if (strip != outHeight) {
      if (r0 > 0) memory.fill(plane, 0, <usize>r0 * rs);
      if (r1 < rows) memory.fill(plane + <usize>r1 * rs, 0, <usize>(rows - r1) * rs);
    }
    const src = xp + <usize>(<i32>r0 + top) * inRow;
    const dst = plane + <usize>r0 * rs;
    if (s == 1) copyRows1(src, inRow, r1 - r0, colsIn, dst + (<usize>padLeft << 2), rs);
    else copyRows2(src, inRow, r1 - r0, colsIn, dst, padLeft, rs, half);
    const q = yp + <usize>oy0 * outRow;
    dwPlane(k, s, plane, rs, half, q, so, outWidth, wp, b, minv, maxv, clamp, tile);
  }
}

// Copies `rows` rows of `cols` floats from src (row stride srcStride bytes) to dst (row stride
// rs bytes).
function copyRows1(src: usize, srcStride: usize, rows: u32, cols: u32, dst: usize, rs: usize): void {
  const bytes = <usize>cols << 2;
  for (let r: u32 = 0; r < rows; r++) {
    if (ASC_FEATURE_SIMD && cols >= 4) {
      let o: usize = 0;
      for (; o + 16 <= bytes; o += 16) v128.store(dst + o, v128.load(src + o));
      // The last floats as one vector overlapping the previous one (same values).
      if (o < bytes) v128.store(dst + bytes - 16, v128.load(src + bytes - 16));
    } else {
      for (let o: usize = 0; o < bytes; o += 4) store<f32>(dst + o, load<f32>(src + o));
    }
    src += srcStride;
    dst += rs;
  }
}

// Stride 2: copies `rows` rows of `cols` floats from src into scratch rows at dst (stride rs),
// padded column padLeft + i going to E[(padLeft + i) / 2] (the first half of the row) when even
// and to O[(padLeft + i) / 2] (the second half, `half` bytes on) when odd.
function copyRows2(
  src: usize,
  srcStride: usize,
  rows: u32,
  cols: u32,
  dst: usize,
  padLeft: u32,
  rs: usize,
  half: usize,
): void {
  if (cols == 0) return;
  // An odd first padded column goes to O; from i0 on, pairs (i, i + 1) go to E and O.
  const i0: u32 = padLeft & 1;
  const n = cols - i0;
  for (let r: u32 = 0; r < rows; r++) {
    if (i0 != 0) store<f32>(dst + half + (<usize>(padLeft >> 1) << 2), load<f32>(src));
    const s0 = src + (<usize>i0 << 2);
    const e0 = dst + (<usize>((padLeft + i0) >> 1) << 2);
    if (n >= 8) {
      // Eight floats give four E and four O values; the last eight (from an even offset, so
      // overlapping the previous ones with the same values) end the row but for one odd float.
      let j: u32 = 0;
      for (; j + 8 <= n; j += 8) deinterleave8(s0 + (<usize>j << 2), e0 + (<usize>j << 1), half);
      if (j < n) {
        const t = (n - 8) & ~1;
        deinterleave8(s0 + (<usize>t << 2), e0 + (<usize>t << 1), half);
        if (t + 8 < n) store<f32>(e0 + (<usize>(t + 8) << 1), load<f32>(s0 + (<usize>(t + 8) << 2)));
      }
    } else {
      for (let j: u32 = 0; j < n; j++) {
        const d = e0 + (<usize>(j >> 1) << 2) + ((j & 1) != 0 ? half : 0);
        store<f32>(d, load<f32>(s0 + (<usize>j << 2)));
      }
    }
    src += srcStride;
    dst += rs;
  }
}

// src[0, 2, 4, 6] to e, src[1, 3, 5, 7] to e + half.
// @ts-ignore: decorator
@inline function deinterleave8(src: usize, e: usize, half: usize): void {
  const a = v128.load(src);
  const b = v128.load(src, 16);
  v128.store(e, f32x4.shuffle(a, b, 0, 2, 4, 6));
  v128.store(e + half, f32x4.shuffle(a, b, 1, 3, 5, 7));
}

// Rows narrower than a vector: the first `lanes` floats of R vectors in the tile buffer (16
// bytes each) to q (row stride ldy bytes).
function putTail(q: usize, ldy: usize, R: u32, lanes: u32, tile: usize): void {
  for (let r: u32 = 0; r < R; r++) {
    for (let l: u32 = 0; l < lanes; l++) {
      store<f32>(q + (<usize>l << 2), load<f32>(tile + (<usize>l << 2)));
    }
    q += ldy;
    tile += 16;
  }
}

// Clamps R <= 4 output vectors (when asked) and stores them for the 4 pixels from ox of a row of
// ow, computed at byte offset `at` of the row (pixel min(ox, ow - 4)): whole vectors, the top
// lanes of the last vector of a ragged row, or through the tile for rows narrower than a vector.
// Accumulators past R are ignored; R is a constant in every expansion, so the unused ones fold away.
// @ts-ignore: decorator
@inline function storeGroup(
  R: u32,
  q: usize,
  at: usize,
  ox: u32,
  ow: u32,
  ldy: usize,
  tile: usize,
  a0: v128,
  a1: v128,
  a2: v128,
  a3: v128,
  clamp: bool,
  lo: v128,
  hi: v128,
  fix: v128,
): void {
  if (clamp) {
    a0 = clampFix(a0, lo, hi, fix);
    if (R > 1) a1 = clampFix(a1, lo, hi, fix);
    if (R > 2) a2 = clampFix(a2, lo, hi, fix);
    if (R > 3) a3 = clampFix(a3, lo, hi, fix);
  }
  const d = q + at;
  if (ox + 4 <= ow) {
    v128.store(d, a0);
    if (R > 1) v128.store(d + ldy, a1);
    if (R > 2) v128.store(d + ldy * 2, a2);
    if (R > 3) v128.store(d + ldy * 3, a3);
  } else if (ow >= 4) {
    // The last 1-3 pixels: the top lanes of vectors computed at pixel ow - 4.
    const lanes = ow - ox;
    if (lanes == 1) {
      v128.store32_lane(d, a0, 3, 12);
      if (R > 1) v128.store32_lane(d + ldy, a1, 3, 12);
      if (R > 2) v128.store32_lane(d + ldy * 2, a2, 3, 12);
      if (R > 3) v128.store32_lane(d + ldy * 3, a3, 3, 12);
    } else if (lanes == 2) {
      v128.store64_lane(d, a0, 1, 8);
      if (R > 1) v128.store64_lane(d + ldy, a1, 1, 8);
      if (R > 2) v128.store64_lane(d + ldy * 2, a2, 1, 8);
      if (R > 3) v128.store64_lane(d + ldy * 3, a3, 1, 8);
    } else {
      v128.store32_lane(d, a0, 1, 4);
      if (R > 1) v128.store32_lane(d + ldy, a1, 1, 4);
      if (R > 2) v128.store32_lane(d + ldy * 2, a2, 1, 4);
      if (R > 3) v128.store32_lane(d + ldy * 3, a3, 1, 4);
      v128.store64_lane(d, a0, 1, 8);
      if (R > 1) v128.store64_lane(d + ldy, a1, 1, 8);
      if (R > 2) v128.store64_lane(d + ldy * 2, a2, 1, 8);
      if (R > 3) v128.store64_lane(d + ldy * 3, a3, 1, 8);
    }
  } else {
    // Rows narrower than a vector.
    v128.store(tile, a0);
    if (R > 1) v128.store(tile, a1, 16);
    if (R > 2) v128.store(tile, a2, 32);
    if (R > 3) v128.store(tile, a3, 48);
    putTail(q, ldy, R, ow, tile);
  }
}

// The tap vectors of one input row for a column of 4 output pixels, in the order they are
// loaded, by edge mode E (a constant in every expansion). E = 0: r points at the pixel left of
// the column, and the taps are the vectors at r, r + 1 and r + 2 pixels (left, middle, right),
// one load each. The direct path reads image rows, with no padding: E = 1, the first column of
// a row, r at the row's start: the middle vector is loaded first and the left one is it moved up
// a lane with a zero coming in, so the first two taps come in the order (middle, left); E = 2,
// the last column, r as for E = 0: the right vector is the middle one moved down a lane with a
// zero coming in. Each tap replaces the one before it, so one vector is live at a time.
// @ts-ignore: decorator
@inline function tap1(E: u32, r: usize): v128 {
  return v128.load(r);
}

// @ts-ignore: decorator
@inline function tap2(E: u32, r: usize, t1: v128): v128 {
  return (E & 1) != 0 ? v128.shuffle<f32>(f32x4.splat(0), t1, 3, 4, 5, 6) : v128.load(r, 4);
}

// @ts-ignore: decorator
@inline function tap3(E: u32, r: usize, t2: v128): v128 {
  if ((E & 2) != 0) return v128.shuffle<f32>(t2, f32x4.splat(0), 1, 2, 3, 4);
  return (E & 1) != 0 ? v128.load(r, 4) : v128.load(r, 8);
}

// 3x3, stride 1: one column (4 pixels) of R <= 4 output rows from input rows i = 0..R+1 at
// ri + off (see tap1 for off and E), stored at byte offset `at` of the output rows. Input row i
// feeds output row j with weight row i - j.
// @ts-ignore: decorator
@inline function dw3s1Col(
  R: u32,
  E: u32,
  r0: usize,
  r1: usize,
  r2: usize,
  r3: usize,
  r4: usize,
  r5: usize,
  off: usize,
  q: usize,
  at: usize,
  ox: u32,
  ow: u32,
  ldy: usize,
  tile: usize,
  w00: v128,
  w01: v128,
  w02: v128,
  w10: v128,
  w11: v128,
  w12: v128,
  w20: v128,
  w21: v128,
  w22: v128,
  bv: v128,
  clamp: bool,
  lo: v128,
  hi: v128,
  fix: v128,
): void {
  let x: v128;
  let a0 = bv;
  let a1 = bv;
  let a2 = bv;
  let a3 = bv;
  // The taps' weight columns: (0, 1, 2), or (1, 0, 2) for E = 1 (see tap1).
  const e = (E & 1) != 0;
  // Input row 0: a0 weight row 0.
  x = tap1(E, r0 + off);
  a0 = madd(x, e ? w01 : w00, a0);
  x = tap2(E, r0 + off, x);
  a0 = madd(x, e ? w00 : w01, a0);
  x = tap3(E, r0 + off, x);
  a0 = madd(x, w02, a0);
  // Input row 1: a0 weight row 1, a1 weight row 0.
  x = tap1(E, r1 + off);
  a0 = madd(x, e ? w11 : w10, a0);
  if (R > 1) a1 = madd(x, e ? w01 : w00, a1);
  x = tap2(E, r1 + off, x);
  a0 = madd(x, e ? w10 : w11, a0);
  if (R > 1) a1 = madd(x, e ? w00 : w01, a1);
  x = tap3(E, r1 + off, x);
  a0 = madd(x, w12, a0);
  if (R > 1) a1 = madd(x, w02, a1);
  // Input row 2: a0 weight row 2, a1 weight row 1, a2 weight row 0.
  x = tap1(E, r2 + off);
  a0 = madd(x, e ? w21 : w20, a0);
  if (R > 1) a1 = madd(x, e ? w11 : w10, a1);
  if (R > 2) a2 = madd(x, e ? w01 : w00, a2);
  x = tap2(E, r2 + off, x);
  a0 = madd(x, e ? w20 : w21, a0);
  if (R > 1) a1 = madd(x, e ? w10 : w11, a1);
  if (R > 2) a2 = madd(x, e ? w00 : w01, a2);
  x = tap3(E, r2 + off, x);
  a0 = madd(x, w22, a0);
  if (R > 1) a1 = madd(x, w12, a1);
  if (R > 2) a2 = madd(x, w02, a2);
  // Input row 3: a1 weight row 2, a2 weight row 1, a3 weight row 0.
  if (R > 1) {
    x = tap1(E, r3 + off);
    a1 = madd(x, e ? w21 : w20, a1);
    if (R > 2) a2 = madd(x, e ? w11 : w10, a2);
    if (R > 3) a3 = madd(x, e ? w01 : w00, a3);
    x = tap2(E, r3 + off, x);
    a1 = madd(x, e ? w20 : w21, a1);
    if (R > 2) a2 = madd(x, e ? w10 : w11, a2);
    if (R > 3) a3 = madd(x, e ? w00 : w01, a3);
    x = tap3(E, r3 + off, x);
    a1 = madd(x, w22, a1);
    if (R > 2) a2 = madd(x, w12, a2);
    if (R > 3) a3 = madd(x, w02, a3);
  }
  // Input row 4: a2 weight row 2, a3 weight row 1.
  if (R > 2) {
    x = tap1(E, r4 + off);
    a2 = madd(x, e ? w21 : w20, a2);
    if (R > 3) a3 = madd(x, e ? w11 : w10, a3);
    x = tap2(E, r4 + off, x);
    a2 = madd(x, e ? w20 : w21, a2);
    if (R > 3) a3 = madd(x, e ? w10 : w11, a3);
    x = tap3(E, r4 + off, x);
    a2 = madd(x, w22, a2);
    if (R > 3) a3 = madd(x, w12, a3);
  }
  // Input row 5: a3 weight row 2.
  if (R > 3) {
    x = tap1(E, r5 + off);
    a3 = madd(x, e ? w21 : w20, a3);
    x = tap2(E, r5 + off, x);
    a3 = madd(x, e ? w20 : w21, a3);
    x = tap3(E, r5 + off, x);
    a3 = madd(x, w22, a3);
  }
  storeGroup(R, q, at, ox, ow, ldy, tile, a0, a1, a2, a3, clamp, lo, hi, fix);
}

// 3x3, stride 1: R <= 4 output rows (one group) across the whole width, from input rows
// i = 0..R+1 at ri: rows of the padded scratch plane (see the file comment), or, when `direct`,
// image rows (or a row of zeros for those outside the image), the output as wide as the image,
// which is at least DIRECT_WIDTH wide, with one column of padding each side.
// @ts-ignore: decorator
@inline function dw3s1Group(
  R: u32,
  direct: bool,
  r0: usize,
  r1: usize,
  r2: usize,
  r3: usize,
  r4: usize,
  r5: usize,
  q: usize,
  ldy: usize,
  ow: u32,
  w00: v128,
  w01: v128,
  w02: v128,
  w10: v128,
  w11: v128,
  w12: v128,
  w20: v128,
  w21: v128,
  w22: v128,
  bv: v128,
  clamp: bool,
  lo: v128,
  hi: v128,
  fix: v128,
  tile: usize,
): void {
  if (direct) {
    dw3s1Col(R, 1, r0, r1, r2, r3, r4, r5, 0, q, 0, 0, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
    let ox: u32 = 4;
    for (; ox + 4 < ow; ox += 4) {
      const at = <usize>ox << 2;
      dw3s1Col(R, 0, r0, r1, r2, r3, r4, r5, at - 4, q, at, ox, ow, ldy, tile,
        w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
    }
    const at = <usize>(ow - 4) << 2;
    dw3s1Col(R, 2, r0, r1, r2, r3, r4, r5, at - 4, q, at, ow - 4, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
    return;
  }
  const last = ow >= 4 ? ow - 4 : 0;
  for (let ox: u32 = 0; ox < ow; ox += 4) {
    const at = <usize>min(ox, last) << 2;
    dw3s1Col(R, 0, r0, r1, r2, r3, r4, r5, at, q, at, ox, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
  }
}

// 3x3, stride 2, straight from the image (no padding on the left; see depthwise): one column
// (4 output pixels from pixel c) of R <= 4 output rows from input rows i = 0..2R at ri + off,
// off = 8c bytes, stored at byte offset `at` of the output rows. Per input row, the 8 pixels
// from 2c come in as two vectors, split into the even ones (tap 0) and the odd ones (tap 1);
// tap 2 is the even ones moved down a lane with pixel 2c + 8 coming in, loaded alone, or a
// zero when `edge` (that pixel is the padding right of the image). Input row i feeds output
// row j with weight row i - 2j.
// @ts-ignore: decorator
@inline function dw3s2DirectCol(
  R: u32,
  edge: bool,
  r0: usize,
  r1: usize,
  r2: usize,
  r3: usize,
  r4: usize,
  r5: usize,
  r6: usize,
  r7: usize,
  r8: usize,
  off: usize,
  q: usize,
  at: usize,
  ox: u32,
  ow: u32,
  ldy: usize,
  tile: usize,
  w00: v128,
  w01: v128,
  w02: v128,
  w10: v128,
  w11: v128,
  w12: v128,
  w20: v128,
  w21: v128,
  w22: v128,
  bv: v128,
  clamp: bool,
  lo: v128,
  hi: v128,
  fix: v128,
): void {
  let u: v128;
  let v: v128;
  let x: v128;
  let a0 = bv;
  let a1 = bv;
  let a2 = bv;
  let a3 = bv;
  // Input row 0: a0 weight row 0.
  u = v128.load(r0 + off);
  v = v128.load(r0 + off, 16);
  x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
  a0 = madd(x, w01, a0);
  x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
  a0 = madd(x, w00, a0);
  x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r0 + off, 32), 1, 2, 3, 4);
  a0 = madd(x, w02, a0);
  // Input row 1: a0 weight row 1.
  u = v128.load(r1 + off);
  v = v128.load(r1 + off, 16);
  x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
  a0 = madd(x, w11, a0);
  x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
  a0 = madd(x, w10, a0);
  x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r1 + off, 32), 1, 2, 3, 4);
  a0 = madd(x, w12, a0);
  // Input row 2: a0 weight row 2, a1 weight row 0.
  u = v128.load(r2 + off);
  v = v128.load(r2 + off, 16);
  x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
  a0 = madd(x, w21, a0);
  if (R > 1) a1 = madd(x, w01, a1);
  x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
  a0 = madd(x, w20, a0);
  if (R > 1) a1 = madd(x, w00, a1);
  x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r2 + off, 32), 1, 2, 3, 4);
  a0 = madd(x, w22, a0);
  if (R > 1) a1 = madd(x, w02, a1);
  // Input row 3: a1 weight row 1.
  if (R > 1) {
    u = v128.load(r3 + off);
    v = v128.load(r3 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a1 = madd(x, w11, a1);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a1 = madd(x, w10, a1);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r3 + off, 32), 1, 2, 3, 4);
    a1 = madd(x, w12, a1);
  }
  // Input row 4: a1 weight row 2, a2 weight row 0.
  if (R > 1) {
    u = v128.load(r4 + off);
    v = v128.load(r4 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a1 = madd(x, w21, a1);
    if (R > 2) a2 = madd(x, w01, a2);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a1 = madd(x, w20, a1);
    if (R > 2) a2 = madd(x, w00, a2);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r4 + off, 32), 1, 2, 3, 4);
    a1 = madd(x, w22, a1);
    if (R > 2) a2 = madd(x, w02, a2);
  }
  // Input row 5: a2 weight row 1.
  if (R > 2) {
    u = v128.load(r5 + off);
    v = v128.load(r5 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a2 = madd(x, w11, a2);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a2 = madd(x, w10, a2);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r5 + off, 32), 1, 2, 3, 4);
    a2 = madd(x, w12, a2);
  }
  // Input row 6: a2 weight row 2, a3 weight row 0.
  if (R > 2) {
    u = v128.load(r6 + off);
    v = v128.load(r6 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a2 = madd(x, w21, a2);
    if (R > 3) a3 = madd(x, w01, a3);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a2 = madd(x, w20, a2);
    if (R > 3) a3 = madd(x, w00, a3);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r6 + off, 32), 1, 2, 3, 4);
    a2 = madd(x, w22, a2);
    if (R > 3) a3 = madd(x, w02, a3);
  }
  // Input row 7: a3 weight row 1.
  if (R > 3) {
    u = v128.load(r7 + off);
    v = v128.load(r7 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a3 = madd(x, w11, a3);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a3 = madd(x, w10, a3);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r7 + off, 32), 1, 2, 3, 4);
    a3 = madd(x, w12, a3);
  }
  // Input row 8: a3 weight row 2.
  if (R > 3) {
    u = v128.load(r8 + off);
    v = v128.load(r8 + off, 16);
    x = v128.shuffle<f32>(u, v, 1, 3, 5, 7);
    a3 = madd(x, w21, a3);
    x = v128.shuffle<f32>(u, v, 0, 2, 4, 6);
    a3 = madd(x, w20, a3);
    x = v128.shuffle<f32>(x, edge ? f32x4.splat(0) : v128.load32_zero(r8 + off, 32), 1, 2, 3, 4);
    a3 = madd(x, w22, a3);
  }
  storeGroup(R, q, at, ox, ow, ldy, tile, a0, a1, a2, a3, clamp, lo, hi, fix);
}

// 3x3, stride 2, straight from the image: R <= 4 output rows across the whole width (at least
// 4 pixels), from input rows i = 0..2R at ri; `edge`: pixel 2 ow of a row is the padding.
// @ts-ignore: decorator
@inline function dw3s2DirectGroup(
  R: u32,
  edge: bool,
  r0: usize,
  r1: usize,
  r2: usize,
  r3: usize,
  r4: usize,
  r5: usize,
  r6: usize,
  r7: usize,
  r8: usize,
  q: usize,
  ldy: usize,
  ow: u32,
  w00: v128,
  w01: v128,
  w02: v128,
  w10: v128,
  w11: v128,
  w12: v128,
  w20: v128,
  w21: v128,
  w22: v128,
  bv: v128,
  clamp: bool,
  lo: v128,
  hi: v128,
  fix: v128,
  tile: usize,
): void {
  let ox: u32 = 0;
  for (; ox + 4 < ow; ox += 4) {
    dw3s2DirectCol(R, false, r0, r1, r2, r3, r4, r5, r6, r7, r8, <usize>ox << 3, q, <usize>ox << 2, ox, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
  }
  ox = ow - 4;
  if (edge) {
    dw3s2DirectCol(R, true, r0, r1, r2, r3, r4, r5, r6, r7, r8, <usize>ox << 3, q, <usize>ox << 2, ox, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
  } else {
    dw3s2DirectCol(R, false, r0, r1, r2, r3, r4, r5, r6, r7, r8, <usize>ox << 3, q, <usize>ox << 2, ox, ow, ldy, tile,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix);
  }
}

// All output rows of one plane, 3x3 stride 2 straight from the image at p (row stride rs;
// input row t of the window is image row t - top, or the zero row outside the image).
function dw3s2DirectPlane(
  edge: bool,
  p: usize,
  rs: usize,
  top: i32,
  height: i32,
  zero: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  if (edge) dw3s2DirectRows(true, p, rs, top, height, zero, q, oh, ow, wp, b, minv, maxv, clamp, tile);
  else dw3s2DirectRows(false, p, rs, top, height, zero, q, oh, ow, wp, b, minv, maxv, clamp, tile);
}

// @ts-ignore: decorator
@inline function dw3s2DirectRows(
  edge: bool,
  p: usize,
  rs: usize,
  top: i32,
  height: i32,
  zero: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const ldy = <usize>ow << 2;
  const w00 = v128.load32_splat(wp);
  const w01 = v128.load32_splat(wp, 4);
  const w02 = v128.load32_splat(wp, 8);
  const w10 = v128.load32_splat(wp, 12);
  const w11 = v128.load32_splat(wp, 16);
  const w12 = v128.load32_splat(wp, 20);
  const w20 = v128.load32_splat(wp, 24);
  const w21 = v128.load32_splat(wp, 28);
  const w22 = v128.load32_splat(wp, 32);
  const bv = f32x4.splat(b);
  const lo = f32x4.splat(minv);
  const hi = f32x4.splat(maxv);
  const fix = fixOf(minv);
  for (let oy: u32 = 0; oy < oh; oy += 4) {
    const r0 = rowAt(true, p, rs, 2 * oy + 0, top, height, zero);
    const r1 = rowAt(true, p, rs, 2 * oy + 1, top, height, zero);
    const r2 = rowAt(true, p, rs, 2 * oy + 2, top, height, zero);
    const r3 = rowAt(true, p, rs, 2 * oy + 3, top, height, zero);
    const r4 = rowAt(true, p, rs, 2 * oy + 4, top, height, zero);
    const r5 = rowAt(true, p, rs, 2 * oy + 5, top, height, zero);
    const r6 = rowAt(true, p, rs, 2 * oy + 6, top, height, zero);
    const r7 = rowAt(true, p, rs, 2 * oy + 7, top, height, zero);
    const r8 = rowAt(true, p, rs, 2 * oy + 8, top, height, zero);
    const qo = q + <usize>oy * ldy;
    const rem = oh - oy;
    if (rem >= 4) dw3s2DirectGroup(4, edge, r0, r1, r2, r3, r4, r5, r6, r7, r8, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else if (rem == 3) dw3s2DirectGroup(3, edge, r0, r1, r2, r3, r4, r5, r6, r7, r8, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else if (rem == 2) dw3s2DirectGroup(2, edge, r0, r1, r2, r3, r4, r5, r6, r7, r8, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else dw3s2DirectGroup(1, edge, r0, r1, r2, r3, r4, r5, r6, r7, r8, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
  }
}

// 3x3, stride 2: R <= 4 output rows (one group) across the whole width; see the
// file comment. Input row i feeds output row r with weight row i - 2*r.
// @ts-ignore: decorator
@inline function dw3s2Group(
  R: u32,
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  ldy: usize,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const w00 = v128.load32_splat(wp);
  const w01 = v128.load32_splat(wp, 4);
  const w02 = v128.load32_splat(wp, 8);
  const w10 = v128.load32_splat(wp, 12);
  const w11 = v128.load32_splat(wp, 16);
  const w12 = v128.load32_splat(wp, 20);
  const w20 = v128.load32_splat(wp, 24);
  const w21 = v128.load32_splat(wp, 28);
  const w22 = v128.load32_splat(wp, 32);
  const bv = f32x4.splat(b);
  const lo = f32x4.splat(minv);
  const hi = f32x4.splat(maxv);
  const fix = fixOf(minv);
  const last = ow >= 4 ? ow - 4 : 0;
  for (let ox: u32 = 0; ox < ow; ox += 4) {
    const at = <usize>min(ox, last) << 2;
    let r = p + at;
    let x: v128;
      let o: usize;
    let a0 = bv;
    let a1 = bv;
    let a2 = bv;
    let a3 = bv;
    // Input row 0: a0 weight row 0.
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w00, a0);
    x = v128.load(o);
    a0 = madd(x, w01, a0);
    x = v128.load(r, 4);
    a0 = madd(x, w02, a0);
    // Input row 1: a0 weight row 1.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w10, a0);
    x = v128.load(o);
    a0 = madd(x, w11, a0);
    x = v128.load(r, 4);
    a0 = madd(x, w12, a0);
    // Input row 2: a0 weight row 2, a1 weight row 0.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w20, a0);
    if (R > 1) a1 = madd(x, w00, a1);
    x = v128.load(o);
    a0 = madd(x, w21, a0);
    if (R > 1) a1 = madd(x, w01, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w22, a0);
    if (R > 1) a1 = madd(x, w02, a1);
    // Input row 3: a1 weight row 1.
    if (R > 1) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a1 = madd(x, w10, a1);
      x = v128.load(o);
      a1 = madd(x, w11, a1);
      x = v128.load(r, 4);
      a1 = madd(x, w12, a1);
    }
    // Input row 4: a1 weight row 2, a2 weight row 0.
    if (R > 1) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a1 = madd(x, w20, a1);
      if (R > 2) a2 = madd(x, w00, a2);
      x = v128.load(o);
      a1 = madd(x, w21, a1);
      if (R > 2) a2 = madd(x, w01, a2);
      x = v128.load(r, 4);
      a1 = madd(x, w22, a1);
      if (R > 2) a2 = madd(x, w02, a2);
    }
    // Input row 5: a2 weight row 1.
    if (R > 2) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a2 = madd(x, w10, a2);
      x = v128.load(o);
      a2 = madd(x, w11, a2);
      x = v128.load(r, 4);
      a2 = madd(x, w12, a2);
    }
    // Input row 6: a2 weight row 2, a3 weight row 0.
    if (R > 2) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a2 = madd(x, w20, a2);
      if (R > 3) a3 = madd(x, w00, a3);
      x = v128.load(o);
      a2 = madd(x, w21, a2);
      if (R > 3) a3 = madd(x, w01, a3);
      x = v128.load(r, 4);
      a2 = madd(x, w22, a2);
      if (R > 3) a3 = madd(x, w02, a3);
    }
    // Input row 7: a3 weight row 1.
    if (R > 3) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a3 = madd(x, w10, a3);
      x = v128.load(o);
      a3 = madd(x, w11, a3);
      x = v128.load(r, 4);
      a3 = madd(x, w12, a3);
    }
    // Input row 8: a3 weight row 2.
    if (R > 3) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a3 = madd(x, w20, a3);
      x = v128.load(o);
      a3 = madd(x, w21, a3);
      x = v128.load(r, 4);
      a3 = madd(x, w22, a3);
    }
    storeGroup(R, q, at, ox, ow, ldy, tile, a0, a1, a2, a3, clamp, lo, hi, fix);
  }
}

// 5x5, stride 1: R <= 2 output rows (one group) across the whole width; see the
// file comment. Input row i feeds output row r with weight row i - r.
// @ts-ignore: decorator
@inline function dw5s1Group(
  R: u32,
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  ldy: usize,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const w00 = v128.load32_splat(wp);
  const w01 = v128.load32_splat(wp, 4);
  const w02 = v128.load32_splat(wp, 8);
  const w03 = v128.load32_splat(wp, 12);
  const w04 = v128.load32_splat(wp, 16);
  const w10 = v128.load32_splat(wp, 20);
  const w11 = v128.load32_splat(wp, 24);
  const w12 = v128.load32_splat(wp, 28);
  const w13 = v128.load32_splat(wp, 32);
  const w14 = v128.load32_splat(wp, 36);
  const w20 = v128.load32_splat(wp, 40);
  const w21 = v128.load32_splat(wp, 44);
  const w22 = v128.load32_splat(wp, 48);
  const w23 = v128.load32_splat(wp, 52);
  const w24 = v128.load32_splat(wp, 56);
  const w30 = v128.load32_splat(wp, 60);
  const w31 = v128.load32_splat(wp, 64);
  const w32 = v128.load32_splat(wp, 68);
  const w33 = v128.load32_splat(wp, 72);
  const w34 = v128.load32_splat(wp, 76);
  const w40 = v128.load32_splat(wp, 80);
  const w41 = v128.load32_splat(wp, 84);
  const w42 = v128.load32_splat(wp, 88);
  const w43 = v128.load32_splat(wp, 92);
  const w44 = v128.load32_splat(wp, 96);
  const bv = f32x4.splat(b);
  const lo = f32x4.splat(minv);
  const hi = f32x4.splat(maxv);
  const fix = fixOf(minv);
  const last = ow >= 4 ? ow - 4 : 0;
  for (let ox: u32 = 0; ox < ow; ox += 4) {
    const at = <usize>min(ox, last) << 2;
    let r = p + at;
    let x: v128;
    let a0 = bv;
    let a1 = bv;
    // Input row 0: a0 weight row 0.
    x = v128.load(r);
    a0 = madd(x, w00, a0);
    x = v128.load(r, 4);
    a0 = madd(x, w01, a0);
    x = v128.load(r, 8);
    a0 = madd(x, w02, a0);
    x = v128.load(r, 12);
    a0 = madd(x, w03, a0);
    x = v128.load(r, 16);
    a0 = madd(x, w04, a0);
    // Input row 1: a0 weight row 1, a1 weight row 0.
    r += rs;
    x = v128.load(r);
    a0 = madd(x, w10, a0);
    if (R > 1) a1 = madd(x, w00, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w11, a0);
    if (R > 1) a1 = madd(x, w01, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w12, a0);
    if (R > 1) a1 = madd(x, w02, a1);
    x = v128.load(r, 12);
    a0 = madd(x, w13, a0);
    if (R > 1) a1 = madd(x, w03, a1);
    x = v128.load(r, 16);
    a0 = madd(x, w14, a0);
    if (R > 1) a1 = madd(x, w04, a1);
    // Input row 2: a0 weight row 2, a1 weight row 1.
    r += rs;
    x = v128.load(r);
    a0 = madd(x, w20, a0);
    if (R > 1) a1 = madd(x, w10, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w21, a0);
    if (R > 1) a1 = madd(x, w11, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w22, a0);
    if (R > 1) a1 = madd(x, w12, a1);
    x = v128.load(r, 12);
    a0 = madd(x, w23, a0);
    if (R > 1) a1 = madd(x, w13, a1);
    x = v128.load(r, 16);
    a0 = madd(x, w24, a0);
    if (R > 1) a1 = madd(x, w14, a1);
    // Input row 3: a0 weight row 3, a1 weight row 2.
    r += rs;
    x = v128.load(r);
    a0 = madd(x, w30, a0);
    if (R > 1) a1 = madd(x, w20, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w31, a0);
    if (R > 1) a1 = madd(x, w21, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w32, a0);
    if (R > 1) a1 = madd(x, w22, a1);
    x = v128.load(r, 12);
    a0 = madd(x, w33, a0);
    if (R > 1) a1 = madd(x, w23, a1);
    x = v128.load(r, 16);
    a0 = madd(x, w34, a0);
    if (R > 1) a1 = madd(x, w24, a1);
    // Input row 4: a0 weight row 4, a1 weight row 3.
    r += rs;
    x = v128.load(r);
    a0 = madd(x, w40, a0);
    if (R > 1) a1 = madd(x, w30, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w41, a0);
    if (R > 1) a1 = madd(x, w31, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w42, a0);
    if (R > 1) a1 = madd(x, w32, a1);
    x = v128.load(r, 12);
    a0 = madd(x, w43, a0);
    if (R > 1) a1 = madd(x, w33, a1);
    x = v128.load(r, 16);
    a0 = madd(x, w44, a0);
    if (R > 1) a1 = madd(x, w34, a1);
    // Input row 5: a1 weight row 4.
    if (R > 1) {
      r += rs;
      x = v128.load(r);
      a1 = madd(x, w40, a1);
      x = v128.load(r, 4);
      a1 = madd(x, w41, a1);
      x = v128.load(r, 8);
      a1 = madd(x, w42, a1);
      x = v128.load(r, 12);
      a1 = madd(x, w43, a1);
      x = v128.load(r, 16);
      a1 = madd(x, w44, a1);
    }
    storeGroup(R, q, at, ox, ow, ldy, tile, a0, a1, a0, a0, clamp, lo, hi, fix);
  }
}

// 5x5, stride 2: R <= 2 output rows (one group) across the whole width; see the
// file comment. Input row i feeds output row r with weight row i - 2*r.
// @ts-ignore: decorator
@inline function dw5s2Group(
  R: u32,
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  ldy: usize,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const w00 = v128.load32_splat(wp);
  const w01 = v128.load32_splat(wp, 4);
  const w02 = v128.load32_splat(wp, 8);
  const w03 = v128.load32_splat(wp, 12);
  const w04 = v128.load32_splat(wp, 16);
  const w10 = v128.load32_splat(wp, 20);
  const w11 = v128.load32_splat(wp, 24);
  const w12 = v128.load32_splat(wp, 28);
  const w13 = v128.load32_splat(wp, 32);
  const w14 = v128.load32_splat(wp, 36);
  const w20 = v128.load32_splat(wp, 40);
  const w21 = v128.load32_splat(wp, 44);
  const w22 = v128.load32_splat(wp, 48);
  const w23 = v128.load32_splat(wp, 52);
  const w24 = v128.load32_splat(wp, 56);
  const w30 = v128.load32_splat(wp, 60);
  const w31 = v128.load32_splat(wp, 64);
  const w32 = v128.load32_splat(wp, 68);
  const w33 = v128.load32_splat(wp, 72);
  const w34 = v128.load32_splat(wp, 76);
  const w40 = v128.load32_splat(wp, 80);
  const w41 = v128.load32_splat(wp, 84);
  const w42 = v128.load32_splat(wp, 88);
  const w43 = v128.load32_splat(wp, 92);
  const w44 = v128.load32_splat(wp, 96);
  const bv = f32x4.splat(b);
  const lo = f32x4.splat(minv);
  const hi = f32x4.splat(maxv);
  const fix = fixOf(minv);
  const last = ow >= 4 ? ow - 4 : 0;
  for (let ox: u32 = 0; ox < ow; ox += 4) {
    const at = <usize>min(ox, last) << 2;
    let r = p + at;
    let x: v128;
      let o: usize;
    let a0 = bv;
    let a1 = bv;
    // Input row 0: a0 weight row 0.
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w00, a0);
    x = v128.load(o);
    a0 = madd(x, w01, a0);
    x = v128.load(r, 4);
    a0 = madd(x, w02, a0);
    x = v128.load(o, 4);
    a0 = madd(x, w03, a0);
    x = v128.load(r, 8);
    a0 = madd(x, w04, a0);
    // Input row 1: a0 weight row 1.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w10, a0);
    x = v128.load(o);
    a0 = madd(x, w11, a0);
    x = v128.load(r, 4);
    a0 = madd(x, w12, a0);
    x = v128.load(o, 4);
    a0 = madd(x, w13, a0);
    x = v128.load(r, 8);
    a0 = madd(x, w14, a0);
    // Input row 2: a0 weight row 2, a1 weight row 0.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w20, a0);
    if (R > 1) a1 = madd(x, w00, a1);
    x = v128.load(o);
    a0 = madd(x, w21, a0);
    if (R > 1) a1 = madd(x, w01, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w22, a0);
    if (R > 1) a1 = madd(x, w02, a1);
    x = v128.load(o, 4);
    a0 = madd(x, w23, a0);
    if (R > 1) a1 = madd(x, w03, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w24, a0);
    if (R > 1) a1 = madd(x, w04, a1);
    // Input row 3: a0 weight row 3, a1 weight row 1.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w30, a0);
    if (R > 1) a1 = madd(x, w10, a1);
    x = v128.load(o);
    a0 = madd(x, w31, a0);
    if (R > 1) a1 = madd(x, w11, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w32, a0);
    if (R > 1) a1 = madd(x, w12, a1);
    x = v128.load(o, 4);
    a0 = madd(x, w33, a0);
    if (R > 1) a1 = madd(x, w13, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w34, a0);
    if (R > 1) a1 = madd(x, w14, a1);
    // Input row 4: a0 weight row 4, a1 weight row 2.
    r += rs;
    o = r + half;
    x = v128.load(r);
    a0 = madd(x, w40, a0);
    if (R > 1) a1 = madd(x, w20, a1);
    x = v128.load(o);
    a0 = madd(x, w41, a0);
    if (R > 1) a1 = madd(x, w21, a1);
    x = v128.load(r, 4);
    a0 = madd(x, w42, a0);
    if (R > 1) a1 = madd(x, w22, a1);
    x = v128.load(o, 4);
    a0 = madd(x, w43, a0);
    if (R > 1) a1 = madd(x, w23, a1);
    x = v128.load(r, 8);
    a0 = madd(x, w44, a0);
    if (R > 1) a1 = madd(x, w24, a1);
    // Input row 5: a1 weight row 3.
    if (R > 1) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a1 = madd(x, w30, a1);
      x = v128.load(o);
      a1 = madd(x, w31, a1);
      x = v128.load(r, 4);
      a1 = madd(x, w32, a1);
      x = v128.load(o, 4);
      a1 = madd(x, w33, a1);
      x = v128.load(r, 8);
      a1 = madd(x, w34, a1);
    }
    // Input row 6: a1 weight row 4.
    if (R > 1) {
      r += rs;
      o = r + half;
      x = v128.load(r);
      a1 = madd(x, w40, a1);
      x = v128.load(o);
      a1 = madd(x, w41, a1);
      x = v128.load(r, 4);
      a1 = madd(x, w42, a1);
      x = v128.load(o, 4);
      a1 = madd(x, w43, a1);
      x = v128.load(r, 8);
      a1 = madd(x, w44, a1);
    }
    storeGroup(R, q, at, ox, ow, ldy, tile, a0, a1, a0, a0, clamp, lo, hi, fix);
  }
}

function dw3s1Plane(
  direct: bool,
  p: usize,
  rs: usize,
  top: i32,
  height: i32,
  zero: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  if (direct) dw3s1Rows(true, p, rs, top, height, zero, q, oh, ow, wp, b, minv, maxv, clamp, tile);
  else dw3s1Rows(false, p, rs, 0, 0, 0, q, oh, ow, wp, b, minv, maxv, clamp, tile);
}

// Input row t of a 3x3 stride-1 plane: row t of the scratch plane at p, or, when `direct`, image
// row t - top, or the zero row where that is outside the image.
// @ts-ignore: decorator
@inline function rowAt(direct: bool, p: usize, rs: usize, t: u32, top: i32, height: i32, zero: usize): usize {
  if (!direct) return p + <usize>t * rs;
  const i = <i32>t - top;
  return i >= 0 && i < height ? p + <usize>i * rs : zero;
}

// @ts-ignore: decorator
@inline function dw3s1Rows(
  direct: bool,
  p: usize,
  rs: usize,
  top: i32,
  height: i32,
  zero: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const ldy = <usize>ow << 2;
  const w00 = v128.load32_splat(wp);
  const w01 = v128.load32_splat(wp, 4);
  const w02 = v128.load32_splat(wp, 8);
  const w10 = v128.load32_splat(wp, 12);
  const w11 = v128.load32_splat(wp, 16);
  const w12 = v128.load32_splat(wp, 20);
  const w20 = v128.load32_splat(wp, 24);
  const w21 = v128.load32_splat(wp, 28);
  const w22 = v128.load32_splat(wp, 32);
  const bv = f32x4.splat(b);
  const lo = f32x4.splat(minv);
  const hi = f32x4.splat(maxv);
  const fix = fixOf(minv);
  for (let oy: u32 = 0; oy < oh; oy += 4) {
    const r0 = rowAt(direct, p, rs, oy, top, height, zero);
    const r1 = rowAt(direct, p, rs, oy + 1, top, height, zero);
    const r2 = rowAt(direct, p, rs, oy + 2, top, height, zero);
    const r3 = rowAt(direct, p, rs, oy + 3, top, height, zero);
    const r4 = rowAt(direct, p, rs, oy + 4, top, height, zero);
    const r5 = rowAt(direct, p, rs, oy + 5, top, height, zero);
    const qo = q + <usize>oy * ldy;
    const rem = oh - oy;
    if (rem >= 4) dw3s1Group(4, direct, r0, r1, r2, r3, r4, r5, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else if (rem == 3) dw3s1Group(3, direct, r0, r1, r2, r3, r4, r5, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else if (rem == 2) dw3s1Group(2, direct, r0, r1, r2, r3, r4, r5, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
    else dw3s1Group(1, direct, r0, r1, r2, r3, r4, r5, qo, ldy, ow,
      w00, w01, w02, w10, w11, w12, w20, w21, w22, bv, clamp, lo, hi, fix, tile);
  }
}

function dw3s2Plane(
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const ldy = <usize>ow << 2;
  let oy: u32 = 0;
  for (; oy + 4 <= oh; oy += 4) {
    dw3s2Group(4, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
    p += rs * 8;
    q += ldy * 4;
  }
  const rem = oh - oy;
  if (rem == 3) dw3s2Group(3, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
  else if (rem == 2) dw3s2Group(2, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
  else if (rem == 1) dw3s2Group(1, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
}

function dw5s1Plane(
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const ldy = <usize>ow << 2;
  let oy: u32 = 0;
  for (; oy + 2 <= oh; oy += 2) {
    dw5s1Group(2, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
    p += rs * 2;
    q += ldy * 2;
  }
  const rem = oh - oy;
  if (rem == 1) dw5s1Group(1, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
}

function dw5s2Plane(
  p: usize,
  rs: usize,
  half: usize,
  q: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  const ldy = <usize>ow << 2;
  let oy: u32 = 0;
  for (; oy + 2 <= oh; oy += 2) {
    dw5s2Group(2, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
    p += rs * 4;
    q += ldy * 2;
  }
  const rem = oh - oy;
  if (rem == 1) dw5s2Group(1, p, rs, half, q, ldy, ow, wp, b, minv, maxv, clamp, tile);
}

// All output rows of one plane from its scratch copy at `plane`.
function dwPlane(
  k: u32,
  s: u32,
  plane: usize,
  rs: usize,
  half: usize,
  yp: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
  clamp: bool,
  tile: usize,
): void {
  if (k == 3) {
    if (s == 1) dw3s1Plane(false, plane, rs, 0, 0, 0, yp, oh, ow, wp, b, minv, maxv, clamp, tile);
    else dw3s2Plane(plane, rs, half, yp, oh, ow, wp, b, minv, maxv, clamp, tile);
  } else if (s == 1) {
    dw5s1Plane(plane, rs, half, yp, oh, ow, wp, b, minv, maxv, clamp, tile);
  } else {
    dw5s2Plane(plane, rs, half, yp, oh, ow, wp, b, minv, maxv, clamp, tile);
  }
}

// Scalar flavour, 3x3: the padded plane at sp (row stride rs bytes), one pixel at a time.
function dwScalar3(
  sp: usize,
  rs: usize,
  s: u32,
  yp: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
): void {
  const w0 = load<f32>(wp);
  const w1 = load<f32>(wp, 4);
  const w2 = load<f32>(wp, 8);
  const w3 = load<f32>(wp, 12);
  const w4 = load<f32>(wp, 16);
  const w5 = load<f32>(wp, 20);
  const w6 = load<f32>(wp, 24);
  const w7 = load<f32>(wp, 28);
  const w8 = load<f32>(wp, 32);
  const step = <usize>s << 2;
  for (let oy: u32 = 0; oy < oh; oy++) {
    let r0 = sp + <usize>(oy * s) * rs;
    for (let ox: u32 = 0; ox < ow; ox++) {
      const r1 = r0 + rs;
      const r2 = r1 + rs;
      let acc = b;
      acc += w0 * load<f32>(r0);
      acc += w1 * load<f32>(r0, 4);
      acc += w2 * load<f32>(r0, 8);
      acc += w3 * load<f32>(r1);
      acc += w4 * load<f32>(r1, 4);
      acc += w5 * load<f32>(r1, 8);
      acc += w6 * load<f32>(r2);
      acc += w7 * load<f32>(r2, 4);
      acc += w8 * load<f32>(r2, 8);
      store<f32>(yp, min(max(acc, minv), maxv));
      yp += 4;
      r0 += step;
    }
  }
}

// Scalar flavour, any kernel side.
function dwScalarK(
  sp: usize,
  rs: usize,
  k: u32,
  s: u32,
  yp: usize,
  oh: u32,
  ow: u32,
  wp: usize,
  b: f32,
  minv: f32,
  maxv: f32,
): void {
  for (let oy: u32 = 0; oy < oh; oy++) {
    for (let ox: u32 = 0; ox < ow; ox++) {
      let acc = b;
      let row = sp + <usize>(oy * s) * rs + (<usize>(ox * s) << 2);
      let w = wp;
      for (let ky: u32 = 0; ky < k; ky++) {
        for (let kx: u32 = 0; kx < k; kx++) {
          acc += load<f32>(w) * load<f32>(row + (<usize>kx << 2));
          w += 4;
        }
        row += rs;
      }
      store<f32>(yp, min(max(acc, minv), maxv));
      yp += 4;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// First-layer convolution: 3x3 from HWC images to CHW.

/**
 * Bytes of scratch `conv2d` needs (a 16-byte aligned pointer): the im2col matrix and the GEMM's
 * scratch; sizes past 4 GiB give a value the host cannot allocate.
 */
export function conv2dScratchBytes(
  cout: u32,
  cin: u32,
  batch: u32,
  outHeight: u32,
  outWidth: u32,
): usize {
  const n = <u64>batch * outHeight * outWidth;
  if (n == 0 || cout == 0) return 0;
  const kk = <u64>9 * cin;
  if (n > TOO_LARGE || kk > TOO_LARGE) return saturate(TOO_LARGE + 1);
  if (ASC_FEATURE_SIMD && packsImage(cout, <u32>kk, <u32>n)) {
    return saturate(<u64>IMAGE_BYTES + gemmScratchBytes(cout, <u32>kk, <u32>n));
  }
  const cols = align64(kk * n * 4);
  if (cols > TOO_LARGE) return saturate(cols);
  return saturate(cols + gemmScratchBytes(cout, <u32>kk, <u32>n));
}

/**
 * 3x3 convolution of `batch` HWC images (height x width x cin each, one after the other) into
 * CHW output: y[o][n](oy, ox) = clamp(bias[o] + sum w[o](ky, kx, ci) x[n](iy, ix, ci)) with
 * iy = oy s - padTop + ky, ix = ox s - padLeft + kx, zeros outside the image. `weights` is
 * cout x 9 cin (ky, kx, ci order), `bias` cout floats or 0. `scratch` holds
 * `conv2dScratchBytes(cout, cin, batch, outHeight, outWidth)` bytes, 16-byte aligned. y may not
 * overlap x, weights, bias or scratch.
 */
export function conv2d(
  cout: u32,
  cin: u32,
  batch: u32,
  height: u32,
  width: u32,
  stride: u32,
  padTop: u32,
  padLeft: u32,
  outHeight: u32,
  outWidth: u32,
  x: usize,
  weights: usize,
  bias: usize,
  y: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
): void {
  const n = batch * outHeight * outWidth;
  if (cout == 0 || cin == 0 || n == 0) return;
  const kk = 9 * cin;
  if (ASC_FEATURE_SIMD && packsImage(cout, kk, n)) {
    // The GEMM packs its B panels straight from the image (no im2col matrix).
    describeImage(scratch, cin, height, width, stride, padTop, padLeft, outHeight, outWidth, x);
    gemmImage(cout, kk, n, weights, scratch, bias, y, minv, maxv, scratch + IMAGE_BYTES);
    return;
  }
  im2col(cin, batch, height, width, stride, padTop, padLeft, outHeight, outWidth, x, scratch);
  const gs = scratch + <usize>align64(<u64>kk * n * 4);
  gemm(cout, kk, n, weights, scratch, bias, y, minv, maxv, gs);
}

// col[t][p] = x[image](iy, ix, ci) for t = (ky * 3 + kx) * cin + ci and p = (image, oy, ox),
// zero outside the image; col rows are batch * outHeight * outWidth floats.
function im2col(
  cin: u32,
  batch: u32,
  height: u32,
  width: u32,
  s: u32,
  padTop: u32,
  padLeft: u32,
  oh: u32,
  ow: u32,
  x: usize,
  col: usize,
): void {
  const ldc = (<usize>batch * oh * ow) << 2;
  const image = (<usize>height * width * cin) << 2;
  const pixel = <usize>cin << 2;
  const step = <usize>(s * cin) << 2;
  const rowBytes = <usize>ow << 2;
  for (let kx: u32 = 0; kx < 3; kx++) {
    // Output columns whose tap kx lands inside the image: lo <= ox < hi.
    const first = <i32>padLeft - <i32>kx; // ox * s >= first
    let lo: u32 = first <= 0 ? 0 : <u32>((first + <i32>s - 1) / <i32>s);
    const last = <i32>width - 1 + <i32>padLeft - <i32>kx; // ox * s <= last
    let hi: u32 = last < 0 ? 0 : min(ow, <u32>(last / <i32>s) + 1);
    if (lo > hi) lo = hi;
    for (let ky: u32 = 0; ky < 3; ky++) {
      for (let ci: u32 = 0; ci < cin; ci++) {
        const t = (ky * 3 + kx) * cin + ci;
        let dst = col + <usize>t * ldc;
        let img = x + (<usize>ci << 2);
        for (let nn: u32 = 0; nn < batch; nn++) {
          for (let oy: u32 = 0; oy < oh; oy++) {
            const iy = <i32>(oy * s + ky) - <i32>padTop;
            if (iy < 0 || iy >= <i32>height || hi == 0) {
              memory.fill(dst, 0, rowBytes);
            } else {
              if (lo > 0) memory.fill(dst, 0, <usize>lo << 2);
              let src = img + <usize>iy * width * pixel + <usize>(lo * s + kx - padLeft) * pixel;
              for (let ox = lo; ox < hi; ox++) {
                store<f32>(dst + (<usize>ox << 2), load<f32>(src));
                src += step;
              }
              if (hi < ow) memory.fill(dst + (<usize>hi << 2), 0, <usize>(ow - hi) << 2);
            }
            dst += rowBytes;
          }
          img += image;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Global average pooling and add.

/** y[i] = mean of the `pixels` floats at x + i * pixels, for i < count (0 for no pixels). */
export function globalAvgPool(count: u32, pixels: u32, x: usize, y: usize): void {
  const bytes = <usize>pixels << 2;
  for (let i: u32 = 0; i < count; i++) {
    let p = x + <usize>i * bytes;
    const end = p + bytes;
    let sum: f32 = 0;
    if (ASC_FEATURE_SIMD) {
      let a0 = f32x4.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      while (end - p >= 64) {
        a0 = f32x4.add(a0, v128.load(p));
        a1 = f32x4.add(a1, v128.load(p, 16));
        a2 = f32x4.add(a2, v128.load(p, 32));
        a3 = f32x4.add(a3, v128.load(p, 48));
        p += 64;
      }
      while (end - p >= 16) {
        a0 = f32x4.add(a0, v128.load(p));
        p += 16;
      }
      const t = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
      sum = (f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1)) +
        (f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3));
    }
    while (p < end) {
      sum += load<f32>(p);
      p += 4;
    }
    // Divide rather than multiply by the reciprocal: one rounding, as the reference.
    store<f32>(y + (<usize>i << 2), pixels == 0 ? 0 : sum / <f32>pixels);
  }
}

/** y[i] = clamp(a[i] + b[i], minv, maxv) for i < n; y may be a or b (not a partial overlap). */
export function add(n: u32, a: usize, b: usize, y: usize, minv: f32, maxv: f32): void {
  const bytes = <usize>n << 2;
  let o: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const lo = f32x4.splat(minv);
    const hi = f32x4.splat(maxv);
    const lm = loMaskOf(minv);
    const hm = hiMaskOf(maxv);
    for (; bytes - o >= 32; o += 32) {
      const s0 = f32x4.add(v128.load(a + o), v128.load(b + o));
      const s1 = f32x4.add(v128.load(a + o, 16), v128.load(b + o, 16));
      v128.store(y + o, clampv(s0, lo, hi, lm, hm));
      v128.store(y + o, clampv(s1, lo, hi, lm, hm), 16);
    }
    for (; bytes - o >= 16; o += 16) {
      v128.store(y + o, clampv(f32x4.add(v128.load(a + o), v128.load(b + o)), lo, hi, lm, hm));
    }
  }
  for (; o < bytes; o += 4) {
    store<f32>(y + o, min(max(load<f32>(a + o) + load<f32>(b + o), minv), maxv));
  }
}
