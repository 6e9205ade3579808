// Dense f32 GEMM with fused bias and clamp: the dense 1x1 convolution in CHW layout.
//
//   C[i][j] = clamp(bias[i] + sum_p A[i][p] * B[p][j], minv, maxv)
//
// A is m x k, B is k x n, C is m x n, all row-major f32 at byte pointers into memory. The clamp
// is min(max(x, minv), maxv) with f32x4.max/min semantics (NaN-propagating, -0 < +0).
//
// SIMD flavours (relaxed: f32x4.relaxed_madd; simd: f32x4.mul + f32x4.add). What limits them in
// V8 is not the arithmetic but the instructions around it: every wasm load carries a bounds
// check (V8 in Deno has no guard-page trap handler), so the kernels are shaped to need few loads
// per multiply-add and small loops that V8 unrolls itself (it does so below about 80 operations;
// unrolling in the source makes binaryen interleave the steps and V8 spill).
//
// gemmSimd, BLIS-style register tiling. The problem is seen as rows x cols of C' = A' B' in one
// of two orientations, whichever pads less:
//   normal:     C' = C,   A' = A,   B' = B   (rows = m, cols = n, bias per row)
//   transposed: C' = C^T, A' = B^T, B' = A^T (rows = n, cols = m, bias per col)
// B' is packed into NR-column panels (kc x NR floats, contiguous per k), A' into MR-row panels,
// k-major. The MR x NR = 4 x 8 microkernel keeps its tile in eight registers and per k loads two
// B' vectors and
//   relaxed: four pre-broadcast A' vectors (16 bytes per packed value): 6 loads per 8 madds;
//   simd: one A' vector and three lane rotations of it, the accumulators holding the tile
//     diagonally (rotated back at the end): 3 loads and 3 shuffles per 8 mul + add pairs.
// Full tiles store straight into C (through a 4x4 transpose per half in the transposed
// orientation), one-row panels have a kernel of their own, other edge tiles go through a tile
// buffer. Loops: cols in blocks (a B' block of BLOCK_BYTES, L2), k in KC blocks, A' panels
// (packed on the fly, L1), B' panels (from L2).
//
// gemmDot (relaxed only; few columns, long k): dot products in 3 x 3 tiles of nine accumulators
// with lanes along k, both operands packed three rows/columns interleaved: 6 loads per 9 madds.
//
// Scalar flavour: a 2x4 register-blocked loop over k and column blocks, no packing, no scratch.

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

// @ts-ignore: decorator
@inline const MR: u32 = 4;
// @ts-ignore: decorator
@inline const NR: u32 = 8;
// @ts-ignore: decorator
@inline const KC: u32 = 256;
// Bytes of a packed B' block (kc x nc): the column block nc is as wide as fits.
// @ts-ignore: decorator
@inline const BLOCK_BYTES: u32 = 512 * 1024;
// Bytes per packed A' value: pre-broadcast to a whole v128 (relaxed), or a plain f32 (SIMD,
// where the kernel rotates instead of broadcasting; see the microkernel section).
// @ts-ignore: decorator
@inline const ASZ: u32 = ASC_FEATURE_RELAXED_SIMD ? 16 : 4;
// Where gemmDot is used (see useDot).
// @ts-ignore: decorator
@inline const DOT_MIN_N: u32 = 8;
// @ts-ignore: decorator
@inline const DOT_MAX_N: u32 = 128;
// @ts-ignore: decorator
@inline const DOT_MIN_K: u32 = 256;
// @ts-ignore: decorator
@inline const DOT_MIN_M: u32 = 128;
// gemmDot packs A panels for this many rows (a multiple of 3) at a time.
// @ts-ignore: decorator
@inline const DOT_ROWS: u32 = 24;
// Bytes of the clamp constants at the start of scratch (see setClamp).
// @ts-ignore: decorator
@inline const CONST_BYTES: usize = 64;
// Bytes of the edge tile buffer at the start of scratch (MR x NR floats).
// @ts-ignore: decorator
@inline const TILE_BYTES: usize = MR * NR * 4;
// Scalar flavour: k block.
// @ts-ignore: decorator
@inline const KC_SCALAR: u32 = 256;
// Scalar flavour: column block.
// @ts-ignore: decorator
@inline const NC_SCALAR: u32 = 256;

// Microkernel initialisation modes.
// @ts-ignore: decorator
@inline const INIT_ZERO: u32 = 0;
// @ts-ignore: decorator
@inline const INIT_LOAD: u32 = 1;
// @ts-ignore: decorator
@inline const INIT_ROW: u32 = 2;
// @ts-ignore: decorator
@inline const INIT_COL: u32 = 3;

// @ts-ignore: decorator
@inline function roundUp(x: u32, q: u32): u32 {
  return (x + q - 1) / q * q;
}

// @ts-ignore: decorator
@inline function align64(x: usize): usize {
  return (x + 63) & ~(<usize>63);
}

/**
 * Bytes from one packed B' panel to the next: kc x NR floats and a cache line of padding, so
 * that panels do not start at the same cache set (kc x 32 is often a multiple of 4 KiB), which
 * made the row-by-row packing thrash L1.
 */
// @ts-ignore: decorator
@inline function panelBytes(kc: u32): usize {
  return <usize>kc * (NR << 2) + 64;
}

/** Columns of a B' block for k block kc: a multiple of NR, BLOCK_BYTES in all. */
// @ts-ignore: decorator
@inline function blockCols(kc: u32): u32 {
  return max(NR, BLOCK_BYTES / (kc * 4) / NR * NR);
}

/**
 * Whether to use the dot-product kernels (gemmDot): relaxed flavour, few columns, long k and
 * enough rows to pay for packing B's columns. Measured on Zen 4: 5-20% faster than the tiled
 * kernels there (padding to 8 columns, or packing A^T, costs more); slower elsewhere, and in
 * the SIMD flavour, whose rotated tiled kernel needs fewer loads than nine mul + add pairs.
 */
// @ts-ignore: decorator
@inline function useDot(m: u32, k: u32, n: u32): bool {
  return ASC_FEATURE_RELAXED_SIMD && n >= DOT_MIN_N && n <= DOT_MAX_N && k >= DOT_MIN_K &&
    m >= DOT_MIN_M;
}

/** Bytes of one packed panel of three A rows or three B columns for gemmDot. */
// @ts-ignore: decorator
@inline function dotPanelBytes(k: u32): usize {
  return <usize>(k >> 2) * 48;
}

/** Whether the transposed orientation pads less than the normal one. */
// @ts-ignore: decorator
@inline function useTransposed(m: u32, n: u32): bool {
  const normal = <u64>roundUp(m, MR) * <u64>roundUp(n, NR);
  const trans = <u64>roundUp(n, MR) * <u64>roundUp(m, NR);
  return trans < normal;
}

/**
 * Bytes of scratch `gemm` needs at its `scratch` argument for these sizes (0 in the scalar
 * flavour). The pointer must be 16-byte aligned.
 */
export function gemmScratchBytes(m: u32, k: u32, n: u32): usize {
  if (!ASC_FEATURE_SIMD) return 0;
  if (m == 0 || n == 0 || k == 0) return 0;
  if (useDot(m, k, n)) {
    // Constants, tile, A panels for DOT_ROWS rows, B panels for all columns.
    return CONST_BYTES + TILE_BYTES + dotPanelBytes(k) * (DOT_ROWS / 3 + (n + 2) / 3);
  }
  const cols = useTransposed(m, n) ? m : n;
  const kc = min(KC, k);
  const nc = min(blockCols(kc), roundUp(cols, NR));
  // Constants, tile, one A' panel, one B' block.
  const apanel = align64(<usize>MR * kc * ASZ);
  return CONST_BYTES + TILE_BYTES + apanel + <usize>(nc / NR) * panelBytes(kc);
}

/**
 * C = clamp(bias + A B, minv, maxv) for row-major f32 matrices A (m x k), B (k x n), C (m x n)
 * at byte pointers `a`, `b`, `c`; `bias` points at m values or is 0 for none. `scratch` must
 * hold `gemmScratchBytes(m, k, n)` bytes, 16-byte aligned. C may not overlap A, B or bias.
 */
export function gemm(
  m: u32,
  k: u32,
  n: u32,
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
): void {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    fillBias(m, n, bias, c, minv, maxv);
    return;
  }
  if (ASC_FEATURE_SIMD) {
    gemmSimd(m, k, n, a, b, bias, c, minv, maxv, scratch);
  } else {
    gemmScalar(m, k, n, a, b, bias, c, minv, maxv);
  }
}

// C[i][j] = clamp(bias[i] or 0) for the k == 0 case.
function fillBias(m: u32, n: u32, bias: usize, c: usize, minv: f32, maxv: f32): void {
  for (let i: u32 = 0; i < m; i++) {
    const v = min(max(bias != 0 ? load<f32>(bias + (<usize>i << 2)) : 0, minv), maxv);
    const row = c + ((<usize>i * n) << 2);
    for (let j: u32 = 0; j < n; j++) store<f32>(row + (<usize>j << 2), v);
  }
}

// ---------------------------------------------------------------------------------------------
// Scalar flavour.

function gemmScalar(
  m: u32,
  k: u32,
  n: u32,
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  minv: f32,
  maxv: f32,
): void {
  const lda = <usize>k << 2;
  const ldb = <usize>n << 2;
  for (let jc: u32 = 0; jc < n; jc += NC_SCALAR) {
    const je = min(n, jc + NC_SCALAR);
    for (let pc: u32 = 0; pc < k; pc += KC_SCALAR) {
      const pe = min(k, pc + KC_SCALAR);
      const first = pc == 0;
      const last = pe == k;
      let i: u32 = 0;
      for (; i + 2 <= m; i += 2) {
        const a0 = a + <usize>i * lda + (<usize>pc << 2);
        const a1 = a0 + lda;
        const c0 = c + <usize>i * ldb;
        const c1 = c0 + ldb;
        let b0: f32 = 0;
        let b1: f32 = 0;
        if (bias != 0) {
          b0 = load<f32>(bias + (<usize>i << 2));
          b1 = load<f32>(bias + (<usize>i << 2), 4);
        }
        let j = jc;
        for (; j + 4 <= je; j += 4) {
          const o = <usize>j << 2;
          let s00 = b0, s01 = b0, s02 = b0, s03 = b0;
          let s10 = b1, s11 = b1, s12 = b1, s13 = b1;
          if (!first) {
            s00 = load<f32>(c0 + o);
            s01 = load<f32>(c0 + o, 4);
            s02 = load<f32>(c0 + o, 8);
            s03 = load<f32>(c0 + o, 12);
            s10 = load<f32>(c1 + o);
            s11 = load<f32>(c1 + o, 4);
            s12 = load<f32>(c1 + o, 8);
            s13 = load<f32>(c1 + o, 12);
          }
          let pa0 = a0;
          let pa1 = a1;
          let pb = b + <usize>pc * ldb + o;
          for (let p = pc; p < pe; p++) {
            const x0 = load<f32>(pa0);
            const x1 = load<f32>(pa1);
            const y0 = load<f32>(pb);
            const y1 = load<f32>(pb, 4);
            const y2 = load<f32>(pb, 8);
            const y3 = load<f32>(pb, 12);
            s00 += x0 * y0;
            s01 += x0 * y1;
            s02 += x0 * y2;
            s03 += x0 * y3;
            s10 += x1 * y0;
            s11 += x1 * y1;
            s12 += x1 * y2;
            s13 += x1 * y3;
            pa0 += 4;
            pa1 += 4;
            pb += ldb;
          }
          if (last) {
            s00 = min(max(s00, minv), maxv);
            s01 = min(max(s01, minv), maxv);
            s02 = min(max(s02, minv), maxv);
            s03 = min(max(s03, minv), maxv);
            s10 = min(max(s10, minv), maxv);
            s11 = min(max(s11, minv), maxv);
            s12 = min(max(s12, minv), maxv);
            s13 = min(max(s13, minv), maxv);
          }
          store<f32>(c0 + o, s00);
          store<f32>(c0 + o, s01, 4);
          store<f32>(c0 + o, s02, 8);
          store<f32>(c0 + o, s03, 12);
          store<f32>(c1 + o, s10);
          store<f32>(c1 + o, s11, 4);
          store<f32>(c1 + o, s12, 8);
          store<f32>(c1 + o, s13, 12);
        }
        for (; j < je; j++) {
          scalarDot(i, j, pc, pe, a, b, bias, c, lda, ldb, first, last, minv, maxv);
          scalarDot(i + 1, j, pc, pe, a, b, bias, c, lda, ldb, first, last, minv, maxv);
        }
      }
      for (; i < m; i++) {
        for (let j = jc; j < je; j++) {
          scalarDot(i, j, pc, pe, a, b, bias, c, lda, ldb, first, last, minv, maxv);
        }
      }
    }
  }
}

// One element of the scalar flavour, for the edges.
function scalarDot(
  i: u32,
  j: u32,
  pc: u32,
  pe: u32,
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  lda: usize,
  ldb: usize,
  first: bool,
  last: bool,
  minv: f32,
  maxv: f32,
): void {
  const cp = c + <usize>i * ldb + (<usize>j << 2);
  let s: f32 = 0;
  if (!first) s = load<f32>(cp);
  else if (bias != 0) s = load<f32>(bias + (<usize>i << 2));
  let pa = a + <usize>i * lda + (<usize>pc << 2);
  let pb = b + <usize>pc * ldb + (<usize>j << 2);
  for (let p = pc; p < pe; p++) {
    s += load<f32>(pa) * load<f32>(pb);
    pa += 4;
    pb += ldb;
  }
  if (last) s = min(max(s, minv), maxv);
  store<f32>(cp, s);
}

// ---------------------------------------------------------------------------------------------
// SIMD flavours.

function gemmSimd(
  m: u32,
  k: u32,
  n: u32,
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
  img: usize = 0,
): void {
  if (isNaN(minv) || isNaN(maxv)) {
    // max(x, NaN) and min(x, NaN) are NaN whatever x is.
    fillBias(m, n, 0, c, minv, maxv);
    return;
  }
  // With an image source (img != 0) the caller has checked packsImage: neither of these holds.
  if (useDot(m, k, n)) {
    gemmDot(m, k, n, a, b, bias, c, minv, maxv, scratch);
    return;
  }
  const trans = useTransposed(m, n);
  const rows = trans ? n : m;
  const cols = trans ? m : n;
  // Clamping to [-inf, +inf] is the identity (NaN stays NaN), so it is skipped.
  const clampAny = minv != -Infinity || maxv != Infinity;
  const kcMax = min(KC, k);
  const consts = scratch;
  const tile = consts + CONST_BYTES;
  const apan = tile + TILE_BYTES;
  const bblk = apan + align64(<usize>MR * kcMax * ASZ);
  setClamp(consts, minv, maxv);
  const ldc = <usize>n << 2;
  const ncMax = blockCols(kcMax);
  for (let jc: u32 = 0; jc < cols; jc += ncMax) {
    const nc = min(ncMax, cols - jc);
    for (let pc: u32 = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const first = pc == 0;
      // Clamp after the last k block only; cl points at the constants either way.
      const clamp = clampAny && pc + kc == k;
      const cl = consts;
      // Pack B' block: rows pc..pc+kc, cols jc..jc+nc, in NR-wide panels.
      if (trans) {
        for (let jr: u32 = 0; jr < nc; jr += NR) {
          const dst = bblk + <usize>(jr / NR) * panelBytes(kc);
          const src = a + ((<usize>(jc + jr) * k + pc) << 2);
          packBTrans(dst, src, <usize>k << 2, kc, min(NR, nc - jr));
        }
      } else if (img != 0) {
        packBImage(bblk, img, pc, jc, kc, nc);
      } else {
        packBNormal(bblk, b + ((<usize>pc * n + jc) << 2), ldc, kc, nc);
      }
      for (let ir: u32 = 0; ir < rows; ir += MR) {
        const mr = min(MR, rows - ir);
        if (trans) {
          packATrans(apan, b + ((<usize>pc * n + ir) << 2), ldc, kc, mr);
        } else {
          packANormal(apan, a + ((<usize>ir * k + pc) << 2), <usize>k << 2, kc, mr);
        }
        // Full tiles of this row panel in one call, then the partial ones. A single-row panel
        // has its own kernel, which does not spend the time of four rows on one.
        const full = mr == MR || mr == 1 ? nc / NR : 0;
        if (full > 0 && mr == 1) {
          let mode = INIT_LOAD;
          if (first && bias == 0) mode = INIT_ZERO;
          else if (first) mode = trans ? INIT_COL : INIT_ROW;
          const cp = c + ((trans ? <usize>jc * n + ir : <usize>ir * n + jc) << 2);
          const ip = bias + ((trans ? <usize>jc : <usize>ir) << 2);
          row1(trans, kc, apan, bblk, full, cp, ldc, mode, ip, cl, clamp);
        } else if (full > 0) {
          if (trans) {
            // C'(ir + r, j + q) = C[j + q][ir + r]
            const cp = c + ((<usize>jc * n + ir) << 2);
            let mode = INIT_LOAD;
            if (first) mode = bias != 0 ? INIT_COL : INIT_ZERO;
            rowT(kc, apan, bblk, full, cp, ldc, mode, bias + (<usize>jc << 2), cl, clamp);
          } else {
            const cp = c + ((<usize>ir * n + jc) << 2);
            let mode = INIT_LOAD;
            if (first) mode = bias != 0 ? INIT_ROW : INIT_ZERO;
            rowN(kc, apan, bblk, full, cp, ldc, mode, bias + (<usize>ir << 2), cl, clamp);
          }
        }
        for (let jr = full * NR; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = bblk + <usize>(jr / NR) * panelBytes(kc);
          edgeTile(trans, n, ir, jc + jr, mr, nr, kc, first, cl, clamp, apan, bp, bias, c, tile);
        }
      }
    }
  }
}

// Few columns, long k: C[i][j] as dot products of A rows with B columns, in 3 x 3 tiles of nine
// f32x4 accumulators (lanes along k), reduced across lanes at the end. Both operands are packed
// as panels of three rows (A) or columns (B) interleaved in steps of four k (48 bytes a step),
// so the kernel walks two pointers: six loads per nine multiply-adds, against six per eight in
// the register-tiled kernel, and no broadcasts. The k % 4 tail, bias and clamp are applied per
// element. Missing rows and columns of edge panels are zero and never stored.
function gemmDot(
  m: u32,
  k: u32,
  n: u32,
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
): void {
  const clamp = minv != -Infinity || maxv != Infinity;
  setClamp(scratch, minv, maxv);
  const tile = scratch + CONST_BYTES;
  const apan = tile + TILE_BYTES;
  const pstep = dotPanelBytes(k);
  const bt = apan + pstep * (DOT_ROWS / 3);
  const k4 = k >> 2;
  const kv = k4 << 2;
  const nt = (n + 2) / 3;
  const lda = <usize>k << 2;
  const ldb = <usize>n << 2;
  for (let t: u32 = 0; t < nt; t++) {
    const d = bt + <usize>t * pstep;
    for (let jj: u32 = 0; jj < 3; jj++) {
      const j = t * 3 + jj;
      let dd = d + (<usize>jj << 4);
      if (j < n) {
        let src = b + (<usize>j << 2);
        for (let s: u32 = 0; s < k4; s++) {
          store<f32>(dd, load<f32>(src));
          store<f32>(dd, load<f32>(src + ldb), 4);
          store<f32>(dd, load<f32>(src + ldb * 2), 8);
          store<f32>(dd, load<f32>(src + ldb * 3), 12);
          src += ldb * 4;
          dd += 48;
        }
      } else {
        for (let s: u32 = 0; s < k4; s++) {
          v128.store(dd, f32x4.splat(0));
          dd += 48;
        }
      }
    }
  }
  for (let i0: u32 = 0; i0 < m; i0 += DOT_ROWS) {
    // Pack the A panels of up to DOT_ROWS rows (a cache line of each of three rows at a time,
    // which streams from memory about twice as fast as a vector at a time).
    const rows = min(DOT_ROWS, m - i0);
    const full = rows / 3;
    for (let g: u32 = 0; g < full; g++) {
      packDotA(apan + <usize>g * pstep, a + <usize>(i0 + g * 3) * lda, lda, k4);
    }
    if (rows > full * 3) {
      const arow = a + <usize>(i0 + full * 3) * lda;
      const mr = rows - full * 3;
      for (let r: u32 = 0; r < 3; r++) {
        let src = arow + <usize>r * lda;
        let dd = apan + <usize>full * pstep + (<usize>r << 4);
        for (let s: u32 = 0; s < k4; s++) {
          v128.store(dd, r < mr ? v128.load(src) : f32x4.splat(0));
          src += 16;
          dd += 48;
        }
      }
    }
    for (let i = i0; i < i0 + rows; i += 3) {
      const mr = min<u32>(3, m - i);
      const arow = a + <usize>i * lda;
      const panel = apan + <usize>((i - i0) / 3) * pstep;
      // Full tiles (three rows, three columns, k a multiple of 4) finish in vector registers.
      let t: u32 = 0;
      if (mr == 3 && kv == k && n >= 3) {
        t = n / 3;
        const cp = c + ((<usize>i * n) << 2);
        const bi = bias != 0 ? bias + (<usize>i << 2) : 0;
        dotRow(k4, panel, bt, t, cp, ldb, bi, clamp, scratch);
      }
      for (; t < nt; t++) {
        const j = t * 3;
        const nr = min<u32>(3, n - j);
        dotTile(k4, panel, bt + <usize>t * pstep, tile);
        for (let r: u32 = 0; r < mr; r++) {
          const ar = arow + <usize>r * lda;
          for (let q: u32 = 0; q < nr; q++) {
            let x = load<f32>(tile + (<usize>(r * 4 + q) << 2));
            for (let p = kv; p < k; p++) {
              x += load<f32>(ar + (<usize>p << 2)) * load<f32>(b + ((<usize>p * n + j + q) << 2));
            }
            x = (bias != 0 ? load<f32>(bias + (<usize>(i + r) << 2)) : 0) + x;
            if (clamp) x = min(max(x, minv), maxv);
            store<f32>(c + ((<usize>(i + r) * n + j + q) << 2), x);
          }
        }
      }
    }
  }
}

// Packs three A rows (at src, stride lda) into a gemmDot panel at dst: k4 steps of 48 bytes.
function packDotA(dst: usize, src: usize, lda: usize, k4: u32): void {
  const s1 = src + lda;
  const s2 = s1 + lda;
  let o: usize = 0;
  const lines = (<usize>k4 >> 2) << 6;
  for (; o < lines; o += 64) {
    const x0 = v128.load(src + o);
    const x1 = v128.load(src + o, 16);
    const x2 = v128.load(src + o, 32);
    const x3 = v128.load(src + o, 48);
    const y0 = v128.load(s1 + o);
    const y1 = v128.load(s1 + o, 16);
    const y2 = v128.load(s1 + o, 32);
    const y3 = v128.load(s1 + o, 48);
    const z0 = v128.load(s2 + o);
    const z1 = v128.load(s2 + o, 16);
    const z2 = v128.load(s2 + o, 32);
    const z3 = v128.load(s2 + o, 48);
    v128.store(dst, x0);
    v128.store(dst, y0, 16);
    v128.store(dst, z0, 32);
    v128.store(dst, x1, 48);
    v128.store(dst, y1, 64);
    v128.store(dst, z1, 80);
    v128.store(dst, x2, 96);
    v128.store(dst, y2, 112);
    v128.store(dst, z2, 128);
    v128.store(dst, x3, 144);
    v128.store(dst, y3, 160);
    v128.store(dst, z3, 176);
    dst += 192;
  }
  for (; o < (<usize>k4 << 4); o += 16) {
    v128.store(dst, v128.load(src + o));
    v128.store(dst, v128.load(s1 + o), 16);
    v128.store(dst, v128.load(s2 + o), 32);
    dst += 48;
  }
}

// `tiles` full 3 x 3 tiles of gemmDot along one row panel: the A panel at ap against the B
// panels from bp on, written to C at cp (row stride ldc bytes), three floats a row, with the
// row bias at bias (0 for none) and the clamp constants at cl when clamp.
function dotRow(
  k4: u32,
  ap: usize,
  bp: usize,
  tiles: u32,
  cp: usize,
  ldc: usize,
  bias: usize,
  clamp: bool,
  cl: usize,
): void {
  const pstep = <usize>k4 * 48;
  const end = ap + pstep;
  let b0 = f32x4.splat(0);
  let b1 = b0;
  let b2 = b0;
  if (bias != 0) {
    b0 = v128.load32_splat(bias);
    b1 = v128.load32_splat(bias, 4);
    b2 = v128.load32_splat(bias, 8);
  }
  const lo = v128.load(cl);
  const hi = v128.load(cl, 16);
  const loMask = v128.load(cl, 32);
  const hiMask = v128.load(cl, 48);
  for (let t: u32 = 0; t < tiles; t++) {
    let s00 = f32x4.splat(-0.0);
    let s01 = s00;
    let s02 = s00;
    let s10 = s00;
    let s11 = s00;
    let s12 = s00;
    let s20 = s00;
    let s21 = s00;
    let s22 = s00;
    let a = ap;
    let b = bp;
    while (a < end) {
      const x0 = v128.load(a);
      const x1 = v128.load(a, 16);
      const x2 = v128.load(a, 32);
      let y = v128.load(b);
      s00 = madd(x0, y, s00);
      s10 = madd(x1, y, s10);
      s20 = madd(x2, y, s20);
      y = v128.load(b, 16);
      s01 = madd(x0, y, s01);
      s11 = madd(x1, y, s11);
      s21 = madd(x2, y, s21);
      y = v128.load(b, 32);
      s02 = madd(x0, y, s02);
      s12 = madd(x1, y, s12);
      s22 = madd(x2, y, s22);
      a += 48;
      b += 48;
    }
    let v0 = f32x4.add(b0, hsum3(s00, s01, s02));
    let v1 = f32x4.add(b1, hsum3(s10, s11, s12));
    let v2 = f32x4.add(b2, hsum3(s20, s21, s22));
    if (clamp) {
      v0 = clampv(v0, lo, hi, loMask, hiMask);
      v1 = clampv(v1, lo, hi, loMask, hiMask);
      v2 = clampv(v2, lo, hi, loMask, hiMask);
    }
    v128.store64_lane(cp, v0, 0);
    v128.store32_lane(cp, v0, 2, 8);
    v128.store64_lane(cp + ldc, v1, 0);
    v128.store32_lane(cp + ldc, v1, 2, 8);
    v128.store64_lane(cp + ldc * 2, v2, 0);
    v128.store32_lane(cp + ldc * 2, v2, 2, 8);
    bp += pstep;
    cp += 12;
  }
}

// One 3 x 3 tile of gemmDot over k4 steps of the A panel at ap and the B panel at bp; writes
// the nine sums as three vectors (row r at out + 16 r, lane = column).
function dotTile(k4: u32, ap: usize, bp: usize, out: usize): void {
  // Lane sums start at -0, the identity of +: the bias (or +0) is added to their total.
  let s00 = f32x4.splat(-0.0);
  let s01 = s00;
  let s02 = s00;
  let s10 = s00;
  let s11 = s00;
  let s12 = s00;
  let s20 = s00;
  let s21 = s00;
  let s22 = s00;
  const end = ap + <usize>k4 * 48;
  while (ap < end) {
    const x0 = v128.load(ap);
    const x1 = v128.load(ap, 16);
    const x2 = v128.load(ap, 32);
    let y = v128.load(bp);
    s00 = madd(x0, y, s00);
    s10 = madd(x1, y, s10);
    s20 = madd(x2, y, s20);
    y = v128.load(bp, 16);
    s01 = madd(x0, y, s01);
    s11 = madd(x1, y, s11);
    s21 = madd(x2, y, s21);
    y = v128.load(bp, 32);
    s02 = madd(x0, y, s02);
    s12 = madd(x1, y, s12);
    s22 = madd(x2, y, s22);
    ap += 48;
    bp += 48;
  }
  v128.store(out, hsum3(s00, s01, s02));
  v128.store(out, hsum3(s10, s11, s12), 16);
  v128.store(out, hsum3(s20, s21, s22), 32);
}

// [sum of x0's lanes, sum of x1's, sum of x2's, (sum of x2's)].
// @ts-ignore: decorator
@inline function hsum3(x0: v128, x1: v128, x2: v128): v128 {
  const u = f32x4.add(f32x4.shuffle(x0, x1, 0, 4, 1, 5), f32x4.shuffle(x0, x1, 2, 6, 3, 7));
  const v = f32x4.add(x2, f32x4.shuffle(x2, x2, 2, 3, 0, 1));
  return f32x4.add(f32x4.shuffle(u, v, 0, 1, 4, 4), f32x4.shuffle(u, v, 2, 3, 5, 5));
}

// Runs the microkernel over `tiles` consecutive full tiles of one row panel (normal
// orientation): B' panels follow each other at bp, C tiles at cp, 32 bytes apart. Init mode
// INIT_LOAD reads C itself; INIT_ROW splats the row bias at ip.
function rowN(
  kc: u32,
  ap: usize,
  bp: usize,
  tiles: u32,
  cp: usize,
  ldc: usize,
  mode: u32,
  ip: usize,
  cl: usize,
  clamp: bool,
): void {
  const bstep = panelBytes(kc);
  const lo = v128.load(cl);
  const hi = v128.load(cl, 16);
  const loMask = v128.load(cl, 32);
  const hiMask = v128.load(cl, 48);
  for (let t: u32 = 0; t < tiles; t++) {
    kernel(false, kc, ap, bp, cp, ldc, mode, ip, clamp, lo, hi, loMask, hiMask);
    bp += bstep;
    cp += NR << 2;
  }
}

// One-row panels, in either orientation: tile t is C'(ir, j0 + 8t .. j0 + 8t + 7), which is
// C[ir][...] (contiguous, at cp + 32 t) or C[j0 + 8t + q][ir] (at cp + (8t + q) ldc) when
// transposed. The k loop is split into even and odd steps, so four accumulators hide the
// multiply-add latency that two would expose.
function row1(
  trans: bool,
  kc: u32,
  ap: usize,
  bp: usize,
  tiles: u32,
  cp: usize,
  ldc: usize,
  mode: u32,
  ip: usize,
  cl: usize,
  clamp: bool,
): void {
  const bstep = panelBytes(kc);
  const aend = ap + <usize>kc * (MR * ASZ);
  const cstep = trans ? ldc * NR : <usize>(NR << 2);
  for (let t: u32 = 0; t < tiles; t++) {
    let c0 = f32x4.splat(0);
    let c1 = c0;
    if (mode == INIT_LOAD) {
      if (trans) {
        c0 = f32x4.replace_lane(c0, 0, load<f32>(cp));
        c0 = f32x4.replace_lane(c0, 1, load<f32>(cp + ldc));
        c0 = f32x4.replace_lane(c0, 2, load<f32>(cp + ldc * 2));
        c0 = f32x4.replace_lane(c0, 3, load<f32>(cp + ldc * 3));
        const cq = cp + ldc * 4;
        c1 = f32x4.replace_lane(c1, 0, load<f32>(cq));
        c1 = f32x4.replace_lane(c1, 1, load<f32>(cq + ldc));
        c1 = f32x4.replace_lane(c1, 2, load<f32>(cq + ldc * 2));
        c1 = f32x4.replace_lane(c1, 3, load<f32>(cq + ldc * 3));
      } else {
        c0 = v128.load(cp);
        c1 = v128.load(cp, 16);
      }
    } else if (mode == INIT_ROW) {
      c0 = v128.load32_splat(ip);
      c1 = c0;
    } else if (mode == INIT_COL) {
      c0 = v128.load(ip);
      c1 = v128.load(ip, 16);
    }
    // The odd steps' sums start at -0, the identity of +, so that a sum of -0 stays -0.
    let d0 = f32x4.splat(-0.0);
    let d1 = d0;
    let a = ap;
    let b = bp;
    while (a + 2 * MR * ASZ <= aend) {
      const x = loadA(a);
      c0 = madd(x, v128.load(b), c0);
      c1 = madd(x, v128.load(b, 16), c1);
      const y = loadA(a + MR * ASZ);
      d0 = madd(y, v128.load(b, 32), d0);
      d1 = madd(y, v128.load(b, 48), d1);
      a += 2 * MR * ASZ;
      b += NR << 3;
    }
    if (a < aend) {
      const x = loadA(a);
      c0 = madd(x, v128.load(b), c0);
      c1 = madd(x, v128.load(b, 16), c1);
    }
    c0 = f32x4.add(c0, d0);
    c1 = f32x4.add(c1, d1);
    if (clamp) {
      const lo = v128.load(cl);
      const hi = v128.load(cl, 16);
      const loMask = v128.load(cl, 32);
      const hiMask = v128.load(cl, 48);
      c0 = clampv(c0, lo, hi, loMask, hiMask);
      c1 = clampv(c1, lo, hi, loMask, hiMask);
    }
    if (trans) {
      store<f32>(cp, f32x4.extract_lane(c0, 0));
      store<f32>(cp + ldc, f32x4.extract_lane(c0, 1));
      store<f32>(cp + ldc * 2, f32x4.extract_lane(c0, 2));
      store<f32>(cp + ldc * 3, f32x4.extract_lane(c0, 3));
      const cq = cp + ldc * 4;
      store<f32>(cq, f32x4.extract_lane(c1, 0));
      store<f32>(cq + ldc, f32x4.extract_lane(c1, 1));
      store<f32>(cq + ldc * 2, f32x4.extract_lane(c1, 2));
      store<f32>(cq + ldc * 3, f32x4.extract_lane(c1, 3));
    } else {
      v128.store(cp, c0);
      v128.store(cp, c1, 16);
    }
    bp += bstep;
    cp += cstep;
    if (mode == INIT_COL) ip += NR << 2;
  }
}

// Accumulator r of a tile whose row r' starts at bias[r'] (ip points at bias[0] of the tile):
// the splat of bias[r], or in the SIMD flavour's rotated layout lane i = bias[(i + r) % 4].
// @ts-ignore: decorator
@inline function rowInit(ip: usize, r: u32): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return v128.load32_splat(ip + (<usize>r << 2));
  } else {
    const v = v128.load(ip);
    if (r == 1) return rotl1(v);
    if (r == 2) return rotl2(v);
    if (r == 3) return rotl3(v);
    return v;
  }
}

// A packed A' value as a v128 of four copies.
// @ts-ignore: decorator
@inline function loadA(p: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return v128.load(p);
  } else {
    return v128.load32_splat(p);
  }
}

// As rowN for the transposed orientation: consecutive tiles are NR rows of C apart, and the
// column bias (INIT_COL) moves along with them.
function rowT(
  kc: u32,
  ap: usize,
  bp: usize,
  tiles: u32,
  cp: usize,
  ldc: usize,
  mode: u32,
  ip: usize,
  cl: usize,
  clamp: bool,
): void {
  const bstep = panelBytes(kc);
  const cstep = ldc * NR;
  const lo = v128.load(cl);
  const hi = v128.load(cl, 16);
  const loMask = v128.load(cl, 32);
  const hiMask = v128.load(cl, 48);
  for (let t: u32 = 0; t < tiles; t++) {
    kernel(true, kc, ap, bp, cp, ldc, mode, ip, clamp, lo, hi, loMask, hiMask);
    bp += bstep;
    cp += cstep;
    ip += NR << 2;
  }
}

// The clamp min(max(x, lo), hi) with f32x4.max/min semantics at a quarter of their cost in V8
// (which expands each of them to about eight instructions for NaN and signed-zero handling):
// pmax/pmin are one instruction each and already propagate a NaN x (lo and hi are not NaN);
// they differ from max/min only on zeros of opposite signs, which the masks fix: max(x, +0)
// never returns -0 (clear the sign bit), min(x, -0) never returns +0 (set it). Every other
// lane is unchanged by the masks. The four vectors live at cl: lo, hi, lo mask, hi mask.
function setClamp(cl: usize, minv: f32, maxv: f32): void {
  v128.store(cl, f32x4.splat(minv));
  v128.store(cl, f32x4.splat(maxv), 16);
  const loPlusZero = reinterpret<u32>(minv) == 0;
  const hiMinusZero = reinterpret<u32>(maxv) == 0x80000000;
  v128.store(cl, i32x4.splat(loPlusZero ? 0x7fffffff : -1), 32);
  v128.store(cl, i32x4.splat(hiMinusZero ? 0x80000000 : 0), 48);
}

// @ts-ignore: decorator
@inline function clampv(x: v128, lo: v128, hi: v128, loMask: v128, hiMask: v128): v128 {
  const y = v128.and(f32x4.pmax(x, lo), loMask);
  return v128.or(f32x4.pmin(y, hi), hiMask);
}

// A partial tile: gather C' (or the bias) into the tile buffer, run the full kernel on it, and
// scatter the valid part back.
function edgeTile(
  trans: bool,
  n: u32,
  ir: u32,
  j0: u32,
  mr: u32,
  nr: u32,
  kc: u32,
  first: bool,
  cl: usize,
  clamp: bool,
  apan: usize,
  bp: usize,
  bias: usize,
  c: usize,
  tile: usize,
): void {
  // Offset in floats of C'(r, q) relative to C'(ir, j0): r * rs + q * qs.
  const rs: usize = trans ? <usize>1 : <usize>n;
  const qs: usize = trans ? <usize>n : <usize>1;
  const base = c + ((trans ? <usize>j0 * n + ir : <usize>ir * n + j0) << 2);
  for (let r: u32 = 0; r < MR; r++) {
    for (let q: u32 = 0; q < NR; q++) {
      let v: f32 = 0;
      if (r < mr && q < nr) {
        if (!first) {
          v = load<f32>(base + ((<usize>r * rs + <usize>q * qs) << 2));
        } else if (bias != 0) {
          v = load<f32>(bias + (<usize>(trans ? j0 + q : ir + r) << 2));
        }
      }
      store<f32>(tile + (<usize>(r * NR + q) << 2), v);
    }
  }
  const lo = v128.load(cl);
  const hi = v128.load(cl, 16);
  const loMask = v128.load(cl, 32);
  const hiMask = v128.load(cl, 48);
  kernel(false, kc, apan, bp, tile, NR << 2, INIT_LOAD, tile, clamp, lo, hi, loMask, hiMask);
  for (let r: u32 = 0; r < mr; r++) {
    for (let q: u32 = 0; q < nr; q++) {
      store<f32>(
        base + ((<usize>r * rs + <usize>q * qs) << 2),
        load<f32>(tile + (<usize>(r * NR + q) << 2)),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// B from an image: the first-layer 3x3 convolution (as/chw.ts conv2d) multiplies its weights by
// the im2col matrix of the image, B[t][p] with t = (ky * 3 + kx) * cin + ci and p = (image, oy,
// ox), 0 outside the image. Instead of writing that matrix and then packing it, packBImage
// builds the packed B' panels straight from the HWC image: for one pixel and one ky, the 3 cin
// values t = ky * 3 cin .. are contiguous in the image, so four pixels' runs are four rows of a
// transpose. The image's geometry is a descriptor of u32 fields at these byte offsets.
// @ts-ignore: decorator
@inline const IM_CIN: usize = 0;
// @ts-ignore: decorator
@inline const IM_HEIGHT: usize = 4;
// @ts-ignore: decorator
@inline const IM_WIDTH: usize = 8;
// @ts-ignore: decorator
@inline const IM_STRIDE: usize = 12;
// @ts-ignore: decorator
@inline const IM_PAD_TOP: usize = 16;
// @ts-ignore: decorator
@inline const IM_PAD_LEFT: usize = 20;
// @ts-ignore: decorator
@inline const IM_OUT_HEIGHT: usize = 24;
// @ts-ignore: decorator
@inline const IM_OUT_WIDTH: usize = 28;
// @ts-ignore: decorator
@inline const IM_X: usize = 32;
/** Bytes of the image descriptor (a cache line, so the scratch after it stays aligned). */
export const IMAGE_BYTES: usize = 64;

/** Writes the descriptor of a 3x3 convolution's HWC image source at img (IMAGE_BYTES). */
export function describeImage(
  img: usize,
  cin: u32,
  height: u32,
  width: u32,
  stride: u32,
  padTop: u32,
  padLeft: u32,
  outHeight: u32,
  outWidth: u32,
  x: usize,
): void {
  store<u32>(img + IM_CIN, cin);
  store<u32>(img + IM_HEIGHT, height);
  store<u32>(img + IM_WIDTH, width);
  store<u32>(img + IM_STRIDE, stride);
  store<u32>(img + IM_PAD_TOP, padTop);
  store<u32>(img + IM_PAD_LEFT, padLeft);
  store<u32>(img + IM_OUT_HEIGHT, outHeight);
  store<u32>(img + IM_OUT_WIDTH, outWidth);
  store<u32>(img + IM_X, <u32>x);
}

/**
 * Whether `gemmImage` runs for these sizes: the SIMD flavours' tiled kernels in the normal
 * orientation (the dot-product and transposed paths pack differently).
 */
export function packsImage(m: u32, k: u32, n: u32): bool {
  return ASC_FEATURE_SIMD && m != 0 && n != 0 && k != 0 && !useDot(m, k, n) &&
    !useTransposed(m, n);
}

/**
 * C = clamp(bias + A B, minv, maxv) where B is the im2col matrix of the 3x3 convolution
 * described at `img` (IMAGE_BYTES, see the section comment; 9 cin = k). Only where packsImage
 * holds; `scratch` as for gemm(m, k, n).
 */
export function gemmImage(
  m: u32,
  k: u32,
  n: u32,
  a: usize,
  img: usize,
  bias: usize,
  c: usize,
  minv: f32,
  maxv: f32,
  scratch: usize,
): void {
  if (ASC_FEATURE_SIMD) gemmSimd(m, k, n, a, 0, bias, c, minv, maxv, scratch, img);
}

// Packs rows pc..pc+kc, columns (pixels) jc..jc+nc of the image's im2col matrix into NR-column
// panels at dst, the last one zero-padded. Four pixels at a time: with 3 input channels (the
// RGB stem), k in one block and the four pixels' windows inside one image row, each ky is two
// 4x4 transposes and a gathered ninth row (or zeros above and below the image); other pixels
// go value by value.
function packBImage(dst: usize, img: usize, pc: u32, jc: u32, kc: u32, nc: u32): void {
  const cin = load<u32>(img, IM_CIN);
  const height = load<u32>(img, IM_HEIGHT);
  const width = load<u32>(img, IM_WIDTH);
  const s = load<u32>(img, IM_STRIDE);
  const padTop = load<u32>(img, IM_PAD_TOP);
  const padLeft = load<u32>(img, IM_PAD_LEFT);
  const oh = load<u32>(img, IM_OUT_HEIGHT);
  const ow = load<u32>(img, IM_OUT_WIDTH);
  const x = <usize>load<u32>(img, IM_X);
  const pstep = panelBytes(kc);
  const pixel = <usize>cin << 2;
  const rowBytes = <usize>width * pixel;
  const imageBytes = <usize>height * rowBytes;
  const step = <usize>s * pixel; // from one output pixel's window to the next
  const fast = cin == 3 && pc == 0 && kc == 27;
  const planePixels = oh * ow;
  const cols = (nc + NR - 1) / NR * NR;
  for (let j: u32 = 0; j < cols; j += 4) {
    const d = dst + <usize>(j / NR) * pstep + (<usize>(j & 4) << 2);
    // Column jc + j is pixel (image nn, row oy, column ox).
    const nn = (jc + j) / planePixels;
    const oy = (jc + j) % planePixels / ow;
    const ox = (jc + j) % ow;
    if (
      fast && j + 4 <= nc && ox + 4 <= ow && ox * s >= padLeft &&
      (ox + 3) * s + 3 <= width + padLeft
    ) {
      const p0 = x + <usize>nn * imageBytes + <usize>(ox * s - padLeft) * pixel;
      for (let ky: u32 = 0; ky < 3; ky++) {
        const dk = d + <usize>ky * (9 * NR * 4);
        const iy = <i32>(oy * s + ky) - <i32>padTop;
        if (iy < 0 || iy >= <i32>height) {
          for (let t: usize = 0; t < 9; t++) v128.store(dk + t * (NR * 4), i32x4.splat(0));
        } else {
          const p = p0 + <usize>iy * rowBytes;
          transposeStore4(dk, NR * 4, p, step);
          transposeStore4(dk + 4 * (NR * 4), NR * 4, p + 16, step);
          let v = f32x4.splat(load<f32>(p, 32));
          v = f32x4.replace_lane(v, 1, load<f32>(p + step, 32));
          v = f32x4.replace_lane(v, 2, load<f32>(p + step * 2, 32));
          v = f32x4.replace_lane(v, 3, load<f32>(p + step * 3, 32));
          v128.store(dk + 8 * (NR * 4), v);
        }
      }
      continue;
    }
    for (let q: u32 = 0; q < 4; q++) {
      const col = d + (<usize>q << 2);
      if (j + q >= nc) {
        for (let r: u32 = 0; r < kc; r++) store<f32>(col + <usize>r * (NR * 4), 0);
        continue;
      }
      const pn = (jc + j + q) / planePixels;
      const py = (jc + j + q) % planePixels / ow;
      const px = (jc + j + q) % ow;
      const base = x + <usize>pn * imageBytes;
      let t: u32 = 0;
      for (let ky: u32 = 0; ky < 3; ky++) {
        const iy = <i32>(py * s + ky) - <i32>padTop;
        for (let kx: u32 = 0; kx < 3; kx++) {
          const ix = <i32>(px * s + kx) - <i32>padLeft;
          const inside = iy >= 0 && iy < <i32>height && ix >= 0 && ix < <i32>width;
          const src = base + <usize>(inside ? iy : 0) * rowBytes + <usize>(inside ? ix : 0) * pixel;
          for (let ci: u32 = 0; ci < cin; ci++) {
            if (t >= pc && t < pc + kc) {
              const v: f32 = inside ? load<f32>(src + (<usize>ci << 2)) : 0;
              store<f32>(col + <usize>(t - pc) * (NR * 4), v);
            }
            t++;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing.

// B' = B, a kc x nc block at src (row stride ld bytes) into NR-column panels of kc x NR
// floats at dst, the last one zero-padded. Row by row, so B is read sequentially.
function packBNormal(dst: usize, src: usize, ld: usize, kc: u32, nc: u32): void {
  const full = nc / NR;
  const rest = nc - full * NR;
  const pstep = panelBytes(kc);
  for (let p: u32 = 0; p < kc; p++) {
    let s = src;
    let d = dst;
    for (let t: u32 = 0; t < full; t++) {
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
      s += NR << 2;
      d += pstep;
    }
    if (rest != 0) {
      for (let q: u32 = 0; q < NR; q++) {
        store<f32>(d + (<usize>q << 2), q < rest ? load<f32>(s + (<usize>q << 2)) : 0);
      }
    }
    src += ld;
    dst += NR << 2;
  }
}

// B' = A^T: panel[p][q] = src[q * ld + p] for q < nr, 0 beyond (ld in bytes).
function packBTrans(dst: usize, src: usize, ld: usize, kc: u32, nr: u32): void {
  if (nr == NR) {
    let p: u32 = 0;
    for (; p + 4 <= kc; p += 4) {
      const s = src + (<usize>p << 2);
      const d = dst + (<usize>p * NR << 2);
      transposeStore4(d, NR << 2, s, ld);
      transposeStore4(d + 16, NR << 2, s + ld * 4, ld);
    }
    for (; p < kc; p++) {
      for (let q: u32 = 0; q < NR; q++) {
        store<f32>(
          dst + (<usize>(p * NR + q) << 2),
          load<f32>(src + <usize>q * ld + (<usize>p << 2)),
        );
      }
    }
  } else {
    for (let p: u32 = 0; p < kc; p++) {
      for (let q: u32 = 0; q < NR; q++) {
        store<f32>(
          dst + (<usize>(p * NR + q) << 2),
          q < nr ? load<f32>(src + <usize>q * ld + (<usize>p << 2)) : 0,
        );
      }
    }
  }
}

// Loads 4 rows of 4 floats (rows at s, s + ls, ...), stores the transposed rows at d, d + ld, ...
// @ts-ignore: decorator
@inline function transposeStore4(d: usize, ld: usize, s: usize, ls: usize): void {
  const r0 = v128.load(s);
  const r1 = v128.load(s + ls);
  const r2 = v128.load(s + ls * 2);
  const r3 = v128.load(s + ls * 3);
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(d, i64x2.shuffle(t0, t2, 0, 2));
  v128.store(d + ld, i64x2.shuffle(t0, t2, 1, 3));
  v128.store(d + ld * 2, i64x2.shuffle(t1, t3, 0, 2));
  v128.store(d + ld * 3, i64x2.shuffle(t1, t3, 1, 3));
}

// A' = A: panel[p][r] = A value (r, p) = src[r * ld + p] for r < mr, 0 beyond (ld in bytes);
// pre-broadcast to a v128 in the relaxed flavour, a plain f32 in the SIMD flavour.
function packANormal(dst: usize, src: usize, ld: usize, kc: u32, mr: u32): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (mr == MR) {
      const s1 = src + ld;
      const s2 = s1 + ld;
      const s3 = s2 + ld;
      for (let p: usize = 0; p < (<usize>kc << 2); p += 4) {
        v128.store(dst, v128.load32_splat(src + p));
        v128.store(dst, v128.load32_splat(s1 + p), 16);
        v128.store(dst, v128.load32_splat(s2 + p), 32);
        v128.store(dst, v128.load32_splat(s3 + p), 48);
        dst += MR * ASZ;
      }
      return;
    }
  } else if (mr == MR) {
    let p: u32 = 0;
    for (; p + 4 <= kc; p += 4) {
      transposeStore4(dst + (<usize>p << 4), 16, src + (<usize>p << 2), ld);
    }
    for (; p < kc; p++) {
      for (let r: u32 = 0; r < MR; r++) {
        const x = load<f32>(src + <usize>r * ld + (<usize>p << 2));
        store<f32>(dst + (<usize>(p * MR + r) << 2), x);
      }
    }
    return;
  }
  for (let p: u32 = 0; p < kc; p++) {
    for (let r: u32 = 0; r < MR; r++) {
      const x: f32 = r < mr ? load<f32>(src + <usize>r * ld + (<usize>p << 2)) : 0;
      storeA(dst + <usize>r * ASZ, x);
    }
    dst += MR * ASZ;
  }
}

// A' = B^T: panel[p][r] = src[p * ld + r] for r < mr, 0 beyond (ld in bytes), stored as in
// packANormal.
function packATrans(dst: usize, src: usize, ld: usize, kc: u32, mr: u32): void {
  if (mr == MR) {
    for (let p: u32 = 0; p < kc; p++) {
      if (ASC_FEATURE_RELAXED_SIMD) {
        v128.store(dst, v128.load32_splat(src));
        v128.store(dst, v128.load32_splat(src, 4), 16);
        v128.store(dst, v128.load32_splat(src, 8), 32);
        v128.store(dst, v128.load32_splat(src, 12), 48);
      } else {
        v128.store(dst, v128.load(src));
      }
      src += ld;
      dst += MR * ASZ;
    }
  } else {
    for (let p: u32 = 0; p < kc; p++) {
      for (let r: u32 = 0; r < MR; r++) {
        storeA(dst + <usize>r * ASZ, r < mr ? load<f32>(src + (<usize>r << 2)) : 0);
      }
      src += ld;
      dst += MR * ASZ;
    }
  }
}

// One packed A' value.
// @ts-ignore: decorator
@inline function storeA(dst: usize, x: f32): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    v128.store(dst, f32x4.splat(x));
  } else {
    store<f32>(dst, x);
  }
}

// ---------------------------------------------------------------------------------------------
// Microkernel: a 4 x 8 tile of C' in eight f32x4 accumulators c{r}{h}, h the half (columns
// 4h .. 4h + 3). Per k: two B' vector loads b0, b1 and eight multiply-adds.
//
// Relaxed flavour: four pre-broadcast A' loads; c{r}{h} holds row r, as C' itself.
// SIMD flavour: one A' load a = A'(0..3, p) and three rotations of it (a{r} lane i holds
// A'((i + r) % 4, p)), so c{r}{h} lane i holds C'((i + r) % 4, 4h + i). With mul + add, six
// loads (each with its bounds check) per eight multiply-adds is more than V8's code can issue
// in time; one load and three shuffles is less. diag() converts at the ends.

// The diagonal of four vectors: [a0, b1, c2, d3].
// @ts-ignore: decorator
@inline function diag(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.shuffle(a, b, 0, 5, 2, 7);
  const cd = f32x4.shuffle(c, d, 0, 5, 2, 7);
  return f32x4.shuffle(ab, cd, 0, 1, 6, 7);
}

// a rotated by r lanes: lane i holds lane (i + r) % 4.
// @ts-ignore: decorator
@inline function rotl1(a: v128): v128 {
  return f32x4.shuffle(a, a, 1, 2, 3, 0);
}

// @ts-ignore: decorator
@inline function rotl2(a: v128): v128 {
  return f32x4.shuffle(a, a, 2, 3, 0, 1);
}

// @ts-ignore: decorator
@inline function rotl3(a: v128): v128 {
  return f32x4.shuffle(a, a, 3, 0, 1, 2);
}

// Loads, multiplies and stores a tile. Normal orientation (trans false): C'(r, q) is at
// cp + r ldc + 4q. Transposed: C'(r, q) = C[q][r] is at cp + q ldc + 4r, so each of the eight
// C rows gets four contiguous floats, through a 4x4 transpose per half.
// Init: INIT_ZERO; INIT_LOAD from C' itself; INIT_ROW, C'(r, q) = ip[r] (see rowInit);
// INIT_COL, C'(r, q) = ip[q]. Clamps with lo, hi, loMask, hiMask (see setClamp) if clamp.
// @ts-ignore: decorator
@inline function kernel(
  trans: bool,
  kc: u32,
  ap: usize,
  bp: usize,
  cp: usize,
  ldc: usize,
  mode: u32,
  ip: usize,
  clamp: bool,
  lo: v128,
  hi: v128,
  loMask: v128,
  hiMask: v128,
): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  if (mode == INIT_LOAD) {
    if (trans) {
      let r0 = v128.load(cp);
      let r1 = v128.load(cp + ldc);
      let r2 = v128.load(cp + ldc * 2);
      let r3 = v128.load(cp + ldc * 3);
      let t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
      let t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
      let t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
      let t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
      c00 = i64x2.shuffle(t0, t2, 0, 2);
      c10 = i64x2.shuffle(t0, t2, 1, 3);
      c20 = i64x2.shuffle(t1, t3, 0, 2);
      c30 = i64x2.shuffle(t1, t3, 1, 3);
      const cq = cp + ldc * 4;
      r0 = v128.load(cq);
      r1 = v128.load(cq + ldc);
      r2 = v128.load(cq + ldc * 2);
      r3 = v128.load(cq + ldc * 3);
      t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
      t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
      t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
      t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
      c01 = i64x2.shuffle(t0, t2, 0, 2);
      c11 = i64x2.shuffle(t0, t2, 1, 3);
      c21 = i64x2.shuffle(t1, t3, 0, 2);
      c31 = i64x2.shuffle(t1, t3, 1, 3);
    } else {
      c00 = v128.load(cp);
      c01 = v128.load(cp, 16);
      c10 = v128.load(cp + ldc);
      c11 = v128.load(cp + ldc, 16);
      c20 = v128.load(cp + ldc * 2);
      c21 = v128.load(cp + ldc * 2, 16);
      c30 = v128.load(cp + ldc * 3);
      c31 = v128.load(cp + ldc * 3, 16);
    }
    if (!ASC_FEATURE_RELAXED_SIMD) {
      // Rows to the rotated layout.
      const r00 = c00;
      const r10 = c10;
      const r20 = c20;
      const r30 = c30;
      c00 = diag(r00, r10, r20, r30);
      c10 = diag(r10, r20, r30, r00);
      c20 = diag(r20, r30, r00, r10);
      c30 = diag(r30, r00, r10, r20);
      const r01 = c01;
      const r11 = c11;
      const r21 = c21;
      const r31 = c31;
      c01 = diag(r01, r11, r21, r31);
      c11 = diag(r11, r21, r31, r01);
      c21 = diag(r21, r31, r01, r11);
      c31 = diag(r31, r01, r11, r21);
    }
  } else if (mode == INIT_ROW) {
    c00 = rowInit(ip, 0);
    c10 = rowInit(ip, 1);
    c20 = rowInit(ip, 2);
    c30 = rowInit(ip, 3);
    c01 = c00;
    c11 = c10;
    c21 = c20;
    c31 = c30;
  } else if (mode == INIT_COL) {
    // Every row the same, so the rotated layout is the same too.
    c00 = v128.load(ip);
    c01 = v128.load(ip, 16);
    c10 = c00;
    c11 = c01;
    c20 = c00;
    c21 = c01;
    c30 = c00;
    c31 = c01;
  }
  const aend = ap + <usize>kc * (MR * ASZ);
  while (ap < aend) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    if (ASC_FEATURE_RELAXED_SIMD) {
      let x = v128.load(ap);
      c00 = madd(x, b0, c00);
      c01 = madd(x, b1, c01);
      x = v128.load(ap, 16);
      c10 = madd(x, b0, c10);
      c11 = madd(x, b1, c11);
      x = v128.load(ap, 32);
      c20 = madd(x, b0, c20);
      c21 = madd(x, b1, c21);
      x = v128.load(ap, 48);
      c30 = madd(x, b0, c30);
      c31 = madd(x, b1, c31);
    } else {
      const a = v128.load(ap);
      c00 = madd(a, b0, c00);
      c01 = madd(a, b1, c01);
      let x = rotl1(a);
      c10 = madd(x, b0, c10);
      c11 = madd(x, b1, c11);
      x = rotl2(a);
      c20 = madd(x, b0, c20);
      c21 = madd(x, b1, c21);
      x = rotl3(a);
      c30 = madd(x, b0, c30);
      c31 = madd(x, b1, c31);
    }
    ap += MR * ASZ;
    bp += NR << 2;
  }
  if (!ASC_FEATURE_RELAXED_SIMD) {
    // Back to rows: row r, lane i is in c{(r - i) % 4}.
    const q00 = c00;
    const q10 = c10;
    const q20 = c20;
    const q30 = c30;
    c00 = diag(q00, q30, q20, q10);
    c10 = diag(q10, q00, q30, q20);
    c20 = diag(q20, q10, q00, q30);
    c30 = diag(q30, q20, q10, q00);
    const q01 = c01;
    const q11 = c11;
    const q21 = c21;
    const q31 = c31;
    c01 = diag(q01, q31, q21, q11);
    c11 = diag(q11, q01, q31, q21);
    c21 = diag(q21, q11, q01, q31);
    c31 = diag(q31, q21, q11, q01);
  }
  if (clamp) {
    c00 = clampv(c00, lo, hi, loMask, hiMask);
    c01 = clampv(c01, lo, hi, loMask, hiMask);
    c10 = clampv(c10, lo, hi, loMask, hiMask);
    c11 = clampv(c11, lo, hi, loMask, hiMask);
    c20 = clampv(c20, lo, hi, loMask, hiMask);
    c21 = clampv(c21, lo, hi, loMask, hiMask);
    c30 = clampv(c30, lo, hi, loMask, hiMask);
    c31 = clampv(c31, lo, hi, loMask, hiMask);
  }
  if (trans) {
    let t0 = f32x4.shuffle(c00, c10, 0, 4, 1, 5);
    let t1 = f32x4.shuffle(c00, c10, 2, 6, 3, 7);
    let t2 = f32x4.shuffle(c20, c30, 0, 4, 1, 5);
    let t3 = f32x4.shuffle(c20, c30, 2, 6, 3, 7);
    v128.store(cp, i64x2.shuffle(t0, t2, 0, 2));
    v128.store(cp + ldc, i64x2.shuffle(t0, t2, 1, 3));
    v128.store(cp + ldc * 2, i64x2.shuffle(t1, t3, 0, 2));
    v128.store(cp + ldc * 3, i64x2.shuffle(t1, t3, 1, 3));
    const cq = cp + ldc * 4;
    t0 = f32x4.shuffle(c01, c11, 0, 4, 1, 5);
    t1 = f32x4.shuffle(c01, c11, 2, 6, 3, 7);
    t2 = f32x4.shuffle(c21, c31, 0, 4, 1, 5);
    t3 = f32x4.shuffle(c21, c31, 2, 6, 3, 7);
    v128.store(cq, i64x2.shuffle(t0, t2, 0, 2));
    v128.store(cq + ldc, i64x2.shuffle(t0, t2, 1, 3));
    v128.store(cq + ldc * 2, i64x2.shuffle(t1, t3, 0, 2));
    v128.store(cq + ldc * 3, i64x2.shuffle(t1, t3, 1, 3));
  } else {
    v128.store(cp, c00);
    v128.store(cp, c01, 16);
    cp += ldc;
    v128.store(cp, c10);
    v128.store(cp, c11, 16);
    cp += ldc;
    v128.store(cp, c20);
    v128.store(cp, c21, 16);
    cp += ldc;
    v128.store(cp, c30);
    v128.store(cp, c31, 16);
  }
}
