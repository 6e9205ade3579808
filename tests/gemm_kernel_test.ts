// Kernel-level tests of the wasm `gemm` export in every built flavour, without the host
// library: random shapes (every small size and edge, and a few large enough for k blocking,
// column blocking and the transposed orientation) against an f64-accumulating reference, with
// sentinels around C and after the scratch area and a check that A, B and bias are unchanged.
// Run `deno task build` first.
import fc from "fast-check";
import assert from "node:assert/strict";
import type { Exports } from "../kernels/wasm.ts";
import { seededRandom } from "../testing.ts";
import { loadKernelExports } from "./backends.ts";

const FLAVOURS = ["relaxed", "simd", "scalar"] as const;

type GemmExports = Pick<Exports, "memory" | "heapBase" | "gemm" | "gemmScratchBytes">;

const rng = seededRandom;

interface Case {
  m: number;
  k: number;
  n: number;
  seed: number;
  withBias: boolean;
  clamp: [number, number];
  /** Offset of C from a 16-byte boundary, in floats (0..3), to exercise unaligned rows. */
  cShift: number;
  /** Fixed operand values instead of random ones. */
  values?: { a: number; b: number; bias: number; nanAt?: number };
}

const GUARD = 64; // floats of sentinel before and after C, and after the scratch area
const SENTINEL = 0x7fa5a5a5; // a NaN pattern no kernel result can equal bit for bit

/** Runs one case on one module; throws on any mismatch. */
function check(ex: GemmExports, { m, k, n, seed, withBias, clamp, cShift, values }: Case): void {
  const rand = rng(seed);
  const a = Float32Array.from({ length: m * k }, () => values ? values.a : rand() * 2 - 1);
  const b = Float32Array.from({ length: k * n }, () => values ? values.b : rand() * 2 - 1);
  const bias = withBias
    ? Float32Array.from({ length: m }, () => values ? values.bias : rand() * 4 - 2)
    : null;
  if (values?.nanAt !== undefined) a[values.nanAt] = NaN;
  // The kernel takes f32 bounds.
  const [minv, maxv] = clamp.map(Math.fround);

  // Layout above the heap base: A | B | bias | guard C guard | scratch guard, 16-byte aligned.
  const align = (x: number) => (x + 15) & ~15;
  let at = align(ex.heapBase());
  const pa = at;
  at = align(at + 4 * m * k);
  const pb = at;
  at = align(at + 4 * k * n);
  const pbias = at;
  at = align(at + 4 * m);
  const cLo = at;
  const pc = cLo + 4 * (GUARD + cShift);
  const cHi = pc + 4 * m * n;
  at = align(cHi + 4 * GUARD);
  const scratchBytes = ex.gemmScratchBytes(m, k, n);
  const ps = at;
  const sHi = align(ps + scratchBytes);
  const end = sHi + 4 * GUARD;
  const have = ex.memory.buffer.byteLength;
  if (end > have) ex.memory.grow(Math.ceil((end - have) / 65536));

  const f32 = new Float32Array(ex.memory.buffer);
  const u32 = new Uint32Array(ex.memory.buffer);
  f32.set(a, pa / 4);
  f32.set(b, pb / 4);
  if (bias) f32.set(bias, pbias / 4);
  u32.fill(SENTINEL, cLo / 4, (cHi >> 2) + GUARD);
  u32.fill(SENTINEL, sHi / 4, sHi / 4 + GUARD);
  // Scratch starts as garbage: the kernel must not rely on it.
  u32.fill(0x7fc00001, ps / 4, sHi / 4);

  ex.gemm(m, k, n, pa, pb, bias ? pbias : 0, pc, minv, maxv, ps);

  const out = new Float32Array(ex.memory.buffer);
  const outU = new Uint32Array(ex.memory.buffer);
  const where = `m=${m} k=${k} n=${n} bias=${withBias} clamp=[${minv}, ${maxv}] seed=${seed}`;
  for (let i = cLo / 4; i < pc / 4; i++) {
    if (outU[i] !== SENTINEL) assert.fail(`${where}: wrote ${pc / 4 - i} floats before C`);
  }
  for (let i = cHi / 4; i < cHi / 4 + GUARD; i++) {
    if (outU[i] !== SENTINEL) assert.fail(`${where}: wrote float ${i - cHi / 4} after C`);
  }
  for (let i = sHi / 4; i < sHi / 4 + GUARD; i++) {
    if (outU[i] !== SENTINEL) assert.fail(`${where}: wrote past the scratch area`);
  }
  assert.deepEqual(out.subarray(pa / 4, pa / 4 + m * k), a, `${where}: A changed`);
  assert.deepEqual(out.subarray(pb / 4, pb / 4 + k * n), b, `${where}: B changed`);
  if (bias) {
    assert.deepEqual(out.subarray(pbias / 4, pbias / 4 + m), bias, `${where}: bias changed`);
  }

  const eps = 2 ** -23;
  const sum = new Float64Array(n);
  const mag = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const b0 = bias ? bias[i] : 0;
    sum.fill(b0);
    mag.fill(Math.abs(b0));
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      const row = p * n;
      for (let j = 0; j < n; j++) {
        const t = x * b[row + j];
        sum[j] += t;
        mag[j] += Math.abs(t);
      }
    }
    for (let j = 0; j < n; j++) {
      const want = Math.min(Math.max(sum[j], minv), maxv);
      const got = out[pc / 4 + i * n + j];
      const tol = (k + 2) * eps * mag[j] + 1e-30;
      // NaN must stay NaN; a zero must have the sign f32 min/max give it (which no summation
      // order changes: a sum of zeros is -0 only if all are -0, an exact cancellation is +0).
      const ok = Number.isNaN(want)
        ? Number.isNaN(got)
        : Math.abs(got - want) <= tol && !(got === 0 && want === 0 && !Object.is(got, want));
      if (!ok) {
        assert.fail(`${where}: C[${i}][${j}] = ${got}, want ${want} (tolerance ${tol})`);
      }
    }
  }
}

const SMALL = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 33];
const sizeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SMALL) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 70 }) },
);
const clampArb = fc.oneof(
  fc.constantFrom<[number, number]>(
    [-Infinity, Infinity],
    [0, Infinity],
    [0, 6],
    [-1, 1],
    [-Infinity, 0.5],
  ),
  fc.tuple(fc.float({ min: -3, max: 3, noNaN: true }), fc.float({ min: 0, max: 3, noNaN: true }))
    .map(([lo, w]): [number, number] => [lo, lo + w]),
);
const caseArb: fc.Arbitrary<Case> = fc.record({
  m: sizeArb,
  k: sizeArb,
  n: sizeArb,
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  withBias: fc.boolean(),
  clamp: clampArb,
  cShift: fc.integer({ min: 0, max: 3 }),
});

// Large enough for k blocking (k > 256), column blocking (> 512 columns), both orientations,
// the dot-product path (relaxed: m >= 128, 8 <= n <= 128, k >= 256) and every kind of tail.
const BIG: [number, number, number][] = [
  [130, 258, 10],
  [131, 256, 64],
  [200, 300, 128],
  [600, 40, 49],
  [64, 32, 300],
  [9, 600, 70],
  [70, 300, 49],
  [1030, 9, 7],
  [13, 5, 1100],
  [100, 513, 196],
  [6, 257, 1031],
  [128, 64, 196],
];

for (const flavour of FLAVOURS) {
  const ex: GemmExports = await loadKernelExports(flavour);

  Deno.test(`gemm kernel (${flavour}): random shapes match the f64 reference`, () => {
    fc.assert(fc.property(caseArb, (c) => check(ex, c)), { numRuns: 400 });
  });

  Deno.test(`gemm kernel (${flavour}): large shapes, tails and both orientations`, () => {
    BIG.forEach(([m, k, n], i) => {
      check(ex, { m, k, n, seed: 17 + i, withBias: i % 2 === 0, clamp: [-1, 6], cShift: i % 4 });
      check(ex, {
        m,
        k,
        n,
        seed: 99 + i,
        withBias: i % 2 === 1,
        clamp: [-Infinity, Infinity],
        cShift: 0,
      });
    });
  });

  Deno.test(`gemm kernel (${flavour}): k = 0 gives the clamped bias`, () => {
    for (const [m, n] of [[1, 1], [3, 5], [9, 17]]) {
      check(ex, { m, k: 0, n, seed: 5, withBias: true, clamp: [-0.5, 0.75], cShift: 1 });
      check(ex, { m, k: 0, n, seed: 6, withBias: false, clamp: [0.25, 1], cShift: 2 });
    }
  });

  Deno.test(`gemm kernel (${flavour}): signed zeros and NaN as f32 min/max have them`, () => {
    // Shapes through every path: tiles, edges, one-row panels, transposed, k blocks, dot.
    const shapes: [number, number, number][] = [
      [8, 4, 16],
      [5, 3, 7],
      [9, 2, 16],
      [16, 3, 5],
      [16, 3, 49],
      [40, 8, 9],
      [6, 300, 9],
      [130, 256, 10],
    ];
    for (const [m, k, n] of shapes) {
      const base = { m, k, n, seed: 1, cShift: 0 };
      // Products -0, bias -0: the sum is -0, which max with +0 turns into +0.
      const negZero = { a: 0, b: -1, bias: -0 };
      check(ex, { ...base, withBias: true, clamp: [-Infinity, Infinity], values: negZero });
      check(ex, { ...base, withBias: true, clamp: [0, 6], values: negZero });
      check(ex, { ...base, withBias: true, clamp: [-0, 6], values: negZero });
      // Sum +0, and min with -0 gives -0.
      const posZero = { a: 0, b: 1, bias: 0 };
      check(ex, { ...base, withBias: true, clamp: [-Infinity, -0], values: posZero });
      check(ex, { ...base, withBias: false, clamp: [-1, -0], values: posZero });
      // A NaN in A spreads along its row whatever the clamp; a NaN bound makes everything NaN.
      const nan = { a: 0.5, b: 0.25, bias: 1, nanAt: k > 0 ? k - 1 : undefined };
      check(ex, { ...base, withBias: true, clamp: [0, 6], values: nan });
      check(ex, { ...base, withBias: false, clamp: [NaN, 6], values: nan });
      check(ex, { ...base, withBias: true, clamp: [0, NaN], values: nan });
    }
  });

  Deno.test(`gemm kernel (${flavour}): scratch size`, () => {
    assert.equal(ex.gemmScratchBytes(0, 5, 5), 0);
    assert.equal(ex.gemmScratchBytes(5, 0, 5), 0);
    if (flavour === "scalar") assert.equal(ex.gemmScratchBytes(64, 64, 64), 0);
    else assert.ok(ex.gemmScratchBytes(64, 64, 64) > 0);
  });
}
