// Roofline probe: the best f32x4 multiply-add throughput and streaming read bandwidth this host
// reaches from WebAssembly, measured by the benchmarks next to the kernels' own speed. Built in
// the relaxed flavour (f32x4.relaxed_madd) and the SIMD flavour (f32x4.mul + f32x4.add), the
// same instructions the kernels use in each flavour.

/** First byte the host may use (as in memory.ts). */
export function heapBase(): usize {
  return __heap_base;
}

// Multiply-add as the kernels do it in this flavour.
// @ts-ignore: decorator
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

const ACC: u32 = 13;

/** Number of f32x4 multiply-adds in one iteration of {@link fmaPeak}'s loop. */
export function fmaPerIter(): u32 {
  return ACC;
}

/**
 * Runs `iters` iterations of thirteen independent f32x4 multiply-add chains (13 accumulators
 * measured best on Zen 4 in V8 for both flavours: 14 spills, 12 leaves the SIMD flavour short).
 * Each accumulator is multiplied into its neighbour, so every product differs and none can be
 * shared or hoisted; the last one takes its product from a small static buffer. Every chain is
 * one add long per iteration, so throughput, not latency, bounds the loop. Returns a sum of
 * lanes so the work cannot be dropped.
 */
export function fmaPeak(iters: u32): f32 {
  // Built from the argument, so V8 keeps them in registers instead of rematerializing them.
  const s = f32x4.splat(<f32> iters * 1.0e-30);
  // Small positive multiplier: values grow slowly and never become subnormal.
  const c = f32x4.add(s, f32x4.splat(1.0e-3));
  const src = memory.data(256, 16);
  let a0 = f32x4.add(s, f32x4.splat(1.0));
  let a1 = f32x4.add(s, f32x4.splat(2.0));
  let a2 = f32x4.add(s, f32x4.splat(3.0));
  let a3 = f32x4.add(s, f32x4.splat(4.0));
  let a4 = f32x4.add(s, f32x4.splat(5.0));
  let a5 = f32x4.add(s, f32x4.splat(6.0));
  let a6 = f32x4.add(s, f32x4.splat(7.0));
  let a7 = f32x4.add(s, f32x4.splat(8.0));
  let a8 = f32x4.add(s, f32x4.splat(9.0));
  let a9 = f32x4.add(s, f32x4.splat(10.0));
  let a10 = f32x4.add(s, f32x4.splat(11.0));
  let a11 = f32x4.add(s, f32x4.splat(12.0));
  let a12 = f32x4.add(s, f32x4.splat(13.0));
  for (let i: u32 = 0; i < iters; i++) {
    a0 = madd(a1, c, a0);
    a1 = madd(a2, c, a1);
    a2 = madd(a3, c, a2);
    a3 = madd(a4, c, a3);
    a4 = madd(a5, c, a4);
    a5 = madd(a6, c, a5);
    a6 = madd(a7, c, a6);
    a7 = madd(a8, c, a7);
    a8 = madd(a9, c, a8);
    a9 = madd(a10, c, a9);
    a10 = madd(a11, c, a10);
    a11 = madd(a12, c, a11);
    a12 = madd(v128.load(src + ((<usize> i & 15) << 4)), c, a12);
  }
  let t = f32x4.add(a0, a1);
  t = f32x4.add(t, a2);
  t = f32x4.add(t, a3);
  t = f32x4.add(t, a4);
  t = f32x4.add(t, a5);
  t = f32x4.add(t, a6);
  t = f32x4.add(t, a7);
  t = f32x4.add(t, a8);
  t = f32x4.add(t, a9);
  t = f32x4.add(t, a10);
  t = f32x4.add(t, a11);
  t = f32x4.add(t, a12);
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) +
    f32x4.extract_lane(t, 3);
}

/**
 * Sums `bytes` bytes of f32 data at `ptr` (a multiple of 64 bytes is read; the rest is
 * ignored), `reps` times over, with eight independent accumulators (enough to cover the add
 * latency, so loads, not adds, bound the loop). Returns the sum so the reads cannot be dropped.
 */
export function streamRead(ptr: usize, bytes: usize, reps: u32): f32 {
  const end = ptr + (bytes & ~(<usize>127));
  const tail = (bytes & 64) != 0;
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let s2 = s0;
  let s3 = s0;
  let s4 = s0;
  let s5 = s0;
  let s6 = s0;
  let s7 = s0;
  for (let r: u32 = 0; r < reps; r++) {
    for (let p = ptr; p < end; p += 128) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      s4 = f32x4.add(s4, v128.load(p, 64));
      s5 = f32x4.add(s5, v128.load(p, 80));
      s6 = f32x4.add(s6, v128.load(p, 96));
      s7 = f32x4.add(s7, v128.load(p, 112));
    }
    if (tail) {
      s0 = f32x4.add(s0, v128.load(end));
      s1 = f32x4.add(s1, v128.load(end, 16));
      s2 = f32x4.add(s2, v128.load(end, 32));
      s3 = f32x4.add(s3, v128.load(end, 48));
    }
  }
  const t = f32x4.add(
    f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)),
    f32x4.add(f32x4.add(s4, s5), f32x4.add(s6, s7)),
  );
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) +
    f32x4.extract_lane(t, 3);
}
