// Kernel-level tests of the wasm CHW exports (depthwise, conv2d, globalAvgPool, add) in every
// built flavour, without the host library: every operand between sentinels, the output
// pre-filled with a NaN pattern that must be overwritten everywhere, the scratch area starting
// as garbage with sentinels after it, inputs checked unchanged, results against the references
// within the derived f32 bound. Run `deno task build` first.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  type Dense,
  dense,
  type Padding4,
  referenceConv2d,
  referenceDepthwise,
  resolveWindow,
  ShapeError,
  type Window,
} from "../mod.ts";
import type { Exports } from "../kernels/wasm.ts";
import { assertWithinBound, seededRandom } from "../testing.ts";
import { loadKernelExports } from "./backends.ts";

const FLAVOURS = ["relaxed", "simd", "scalar"] as const;

type ChwExports = Pick<
  Exports,
  | "memory"
  | "heapBase"
  | "depthwise"
  | "depthwiseScratchBytes"
  | "conv2d"
  | "conv2dScratchBytes"
  | "globalAvgPool"
  | "add"
>;

const GUARD = 32; // floats of sentinel around every region
const SENTINEL = 0x7fa5a5a5; // a NaN pattern no kernel result can equal bit for bit
const GARBAGE = 0x7fc00001; // what the scratch area holds before a call

interface Region {
  /** Byte offset of the data. */
  readonly ptr: number;
  /** Floats of data. */
  readonly floats: number;
}

/** Places regions one after the other above the heap base, each between sentinels. */
class Layout {
  #at: number;
  readonly #ex: ChwExports;
  readonly #regions: Region[] = [];

  constructor(ex: ChwExports) {
    this.#ex = ex;
    this.#at = (ex.heapBase() + 15) & ~15;
  }

  /** A region of `floats`, starting `shift` floats after a 16-byte boundary. */
  region(floats: number, shift = 0): Region {
    const ptr = this.#at + 4 * (GUARD + shift);
    this.#at = (ptr + 4 * (floats + GUARD) + 15) & ~15;
    const r = { ptr, floats };
    this.#regions.push(r);
    return r;
  }

  /** Grows memory to fit, writes the sentinels; `fill` gives each region's contents. */
  write(fill: (r: Region) => Float32Array | number): void {
    const have = this.#ex.memory.buffer.byteLength;
    if (this.#at > have) this.#ex.memory.grow(Math.ceil((this.#at - have) / 65536));
    const u32 = new Uint32Array(this.#ex.memory.buffer);
    const f32 = new Float32Array(this.#ex.memory.buffer);
    for (const r of this.#regions) {
      const i = r.ptr / 4;
      u32.fill(SENTINEL, i - GUARD, i);
      u32.fill(SENTINEL, i + r.floats, i + r.floats + GUARD);
      const v = fill(r);
      if (typeof v === "number") u32.fill(v, i, i + r.floats);
      else f32.set(v, i);
    }
  }

  /** Asserts that no sentinel around any region was overwritten. */
  checkGuards(where: string): void {
    const u32 = new Uint32Array(this.#ex.memory.buffer);
    for (const [n, r] of this.#regions.entries()) {
      const i = r.ptr / 4;
      for (let g = 1; g <= GUARD; g++) {
        if (u32[i - g] !== SENTINEL) assert.fail(`${where}: wrote ${g} floats before region ${n}`);
        if (u32[i + r.floats + g - 1] !== SENTINEL) {
          assert.fail(`${where}: wrote ${g} floats after region ${n}`);
        }
      }
    }
  }

  read(r: Region): Float32Array {
    return new Float32Array(this.#ex.memory.buffer, r.ptr, r.floats).slice();
  }
}

function matrix(rows: number, cols: number, seed: number): Dense {
  const rand = seededRandom(seed);
  return dense(rows, cols, Array.from({ length: rows * cols }, () => rand() * 4 - 2));
}

const abs = (d: Dense) => dense(d.rows, d.cols, d.data.map(Math.abs));

/** Asserts every output float was written (no sentinel left) and the inputs are unchanged. */
function checkWritten(where: string, y: Float32Array): void {
  const u = new Uint32Array(y.buffer, y.byteOffset, y.length);
  const i = u.indexOf(SENTINEL);
  if (i >= 0) assert.fail(`${where}: output element ${i} was never written`);
}

interface DepthwiseCase {
  kernel: number;
  stride: number;
  height: number;
  width: number;
  batch: number;
  channels: number;
  padding: Padding4;
  clamp: [number, number];
  withBias: boolean;
  shift: number;
  seed: number;
}

function checkDepthwise(ex: ChwExports, c: DepthwiseCase): void {
  let window: Window;
  try {
    window = resolveWindow(c.kernel, {
      height: c.height,
      width: c.width,
      batch: c.batch,
      stride: c.stride,
      padding: c.padding,
      min: c.clamp[0],
      max: c.clamp[1],
    });
  } catch (e) {
    if (e instanceof ShapeError) return;
    throw e;
  }
  const { kernel: k, batch, outHeight: oh, outWidth: ow } = window;
  const x = matrix(c.channels, batch * c.height * c.width, c.seed);
  const w = matrix(c.channels, k * k, c.seed + 1);
  const bias = c.withBias ? Array.from(matrix(1, c.channels, c.seed + 2).data) : undefined;
  const count = c.channels * batch * oh * ow;
  const lay = new Layout(ex);
  const xr = lay.region(x.data.length, c.shift);
  const wr = lay.region(w.data.length, (c.shift + 1) % 4);
  const br = lay.region(c.channels);
  const yr = lay.region(count, (c.shift + 2) % 4);
  const sr = lay.region(count === 0 ? 0 : ex.depthwiseScratchBytes(k, c.stride, oh, ow) / 4);
  lay.write((r) =>
    r === xr
      ? x.data
      : r === wr
      ? w.data
      : r === br
      ? new Float32Array(bias ?? [])
      : r === yr
      ? SENTINEL
      : GARBAGE
  );
  const where = JSON.stringify(c);
  if (count > 0) {
    ex.depthwise(
      c.channels,
      batch,
      c.height,
      c.width,
      k,
      c.stride,
      window.padTop,
      window.padLeft,
      oh,
      ow,
      xr.ptr,
      wr.ptr,
      bias ? br.ptr : 0,
      yr.ptr,
      Math.fround(window.min),
      Math.fround(window.max),
      sr.ptr,
    );
  }
  lay.checkGuards(where);
  assert.deepEqual(lay.read(xr), x.data, `${where}: x changed`);
  assert.deepEqual(lay.read(wr), w.data, `${where}: weights changed`);
  const y = lay.read(yr);
  checkWritten(where, y);
  const got = dense(c.channels, batch * oh * ow, y);
  const want = referenceDepthwise(x, w, bias, window);
  const bound = referenceDepthwise(abs(x), abs(w), bias?.map(Math.abs), {
    ...window,
    min: -Infinity,
    max: Infinity,
  });
  assertWithinBound(got, want, bound, k * k);
}

/** The clamps the swept depthwise cases cycle through, [-inf, -0] among them. */
const SWEEP_CLAMPS: [number, number][] = [
  [0, 6],
  [-Infinity, Infinity],
  [-0.5, 0.75],
  [-Infinity, -0],
];

/**
 * checkDepthwise over every 3x3 case at `stride` of widths w0..w1 and heights 1..h1, two
 * channels, padded and batched as the callbacks say; the clamp, bias and alignment vary by case.
 */
function sweep3x3(
  ex: ChwExports,
  stride: number,
  [w0, w1]: [number, number],
  h1: number,
  padding: (width: number, height: number) => Padding4,
  batch: (width: number, height: number) => number,
): void {
  let seed = 1;
  for (let width = w0; width <= w1; width++) {
    for (let height = 1; height <= h1; height++) {
      checkDepthwise(ex, {
        kernel: 3,
        stride,
        height,
        width,
        batch: batch(width, height),
        channels: 2,
        padding: padding(width, height),
        clamp: SWEEP_CLAMPS[seed % 4],
        withBias: seed % 3 !== 0,
        shift: seed % 4,
        seed: seed++,
      });
    }
  }
}

const side = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) },
);

const depthwiseArb: fc.Arbitrary<DepthwiseCase> = fc.constantFrom(3, 5).chain((kernel) => {
  const pad = fc.integer({ min: 0, max: kernel - 1 });
  return fc.record({
    kernel: fc.constant(kernel),
    stride: fc.constantFrom(1, 2),
    height: side,
    width: side,
    batch: fc.constantFrom(1, 1, 2),
    channels: fc.constantFrom(1, 2, 3),
    padding: fc.tuple(pad, pad, pad, pad),
    clamp: fc.constantFrom<[number, number]>(
      [-Infinity, Infinity],
      [0, Infinity],
      [0, 6],
      [-0.5, 0.75],
    ),
    withBias: fc.boolean(),
    shift: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
});

for (const flavour of FLAVOURS) {
  const ex: ChwExports = await loadKernelExports(flavour);

  Deno.test(`depthwise kernel (${flavour}): within bounds, every output written once`, () => {
    fc.assert(fc.property(depthwiseArb, (c) => checkDepthwise(ex, c)), { numRuns: 400 });
  });

  Deno.test(`depthwise kernel (${flavour}): planes cut into strips`, () => {
    // The SIMD flavours run planes whose padded rows pass 12 KiB in strips of output rows
    // (a multiple of 4): wide rows make strips of 4 to 12 rows, and the heights land on,
    // before and after strip boundaries, with every padding at the top and bottom.
    const stripArb = fc.constantFrom(3, 5).chain((kernel) => {
      const pad = fc.integer({ min: 0, max: kernel - 1 });
      return fc.record({
        kernel: fc.constant(kernel),
        stride: fc.constantFrom(1, 2),
        height: fc.integer({ min: 1, max: 60 }),
        width: fc.oneof(fc.integer({ min: 250, max: 420 }), fc.integer({ min: 700, max: 1100 })),
        batch: fc.constantFrom(1, 2),
        channels: fc.constantFrom(1, 2),
        padding: fc.tuple(pad, pad, pad, pad),
        clamp: fc.constantFrom<[number, number]>([-Infinity, Infinity], [0, 6]),
        withBias: fc.boolean(),
        shift: fc.integer({ min: 0, max: 3 }),
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      });
    });
    fc.assert(fc.property(stripArb, (c) => checkDepthwise(ex, c)), { numRuns: 60 });
  });

  Deno.test(`depthwise kernel (${flavour}): 3x3 stride 1 read straight from the image`, () => {
    // The SIMD flavours read 3x3 stride-1 taps straight from images at least 5 wide with one
    // column of padding each side (a first and a last column with a lane of zeros shifted in,
    // whole vectors between; rows outside the image read as a row of zeros). Every width mod 4,
    // every row remainder of the groups of four, images shorter than the window, and every
    // padding at the top and bottom.
    sweep3x3(ex, 1, [4, 17], 11, (w, h) => [h % 3, 1, (h + w) % 3, 1], (w) => 1 + (w % 2));
  });

  Deno.test(`depthwise kernel (${flavour}): 3x3 stride 2 read straight from the image`, () => {
    // The SIMD flavours read 3x3 stride-2 taps straight from images with no padding on the
    // left and outputs at least 4 wide, de-interleaving even and odd pixels as they load; the
    // last tap of a row is the padding (a zero) when the image is exactly twice the output
    // wide. Widths even and odd with 0 to 2 columns of padding on the right, every row
    // remainder of the groups of four, images shorter than the window, and every padding at
    // the top and bottom.
    sweep3x3(
      ex,
      2,
      [7, 19],
      10,
      (w, h) => [(h >> 1) % 3, 0, h % 3, (w + h) % 3],
      (_, h) => 1 + (h % 2),
    );
  });

  Deno.test(`depthwise kernel (${flavour}): MobileNet-sized planes`, () => {
    let seed = 1;
    for (const [size, stride] of [[112, 1], [112, 2], [56, 2], [28, 1], [14, 2], [7, 1]]) {
      const pad: Padding4 = stride === 1 ? [1, 1, 1, 1] : [0, 0, 1, 1];
      checkDepthwise(ex, {
        kernel: 3,
        stride,
        height: size,
        width: size,
        batch: 1,
        channels: 2,
        padding: pad,
        clamp: [0, 6],
        withBias: true,
        shift: seed % 4,
        seed: seed++,
      });
    }
  });

  Deno.test(`depthwise kernel (${flavour}): scratch size`, () => {
    assert.equal(ex.depthwiseScratchBytes(3, 1, 0, 5), 0);
    assert.equal(ex.depthwiseScratchBytes(3, 1, 5, 0), 0);
    assert.ok(ex.depthwiseScratchBytes(3, 2, 1, 1) > 0);
    // Sizes past 4 GiB come back as a request no allocator can meet.
    assert.ok(ex.depthwiseScratchBytes(5, 2, 2 ** 20, 2 ** 29) >>> 0 > 2 ** 31);
    // Tall planes of wide rows take a strip of them (SIMD flavours), not the whole padded plane.
    const strip = ex.depthwiseScratchBytes(3, 1, 4096, 1020) >>> 0;
    if (flavour === "scalar") assert.ok(strip > 4096 * 1020 * 4, `scalar ${strip} bytes`);
    else assert.ok(strip > 0 && strip < 64 * 1024, `strip scratch ${strip} bytes`);
    // An im2col matrix past 4 GiB (one output pixel: the GEMM runs transposed, so its B panels
    // are not packed from the image) comes back as a request no allocator can meet.
    assert.ok(ex.conv2dScratchBytes(64, 2 ** 27, 1, 1, 1) >>> 0 > 2 ** 31);
    // The SIMD flavours pack the stem's GEMM panels straight from the image: no im2col matrix
    // (27 x 12544 floats for MobileNet's 224x224 stem).
    const stem = ex.conv2dScratchBytes(32, 3, 1, 112, 112) >>> 0;
    const im2col = 27 * 112 * 112 * 4;
    if (flavour === "scalar") assert.ok(stem >= im2col, `scalar stem ${stem} bytes`);
    else assert.ok(stem > 0 && stem < im2col / 2, `stem scratch ${stem} bytes`);
  });

  const conv2dArb = (sideArb: fc.Arbitrary<number>, cins: number[]) =>
    fc.record({
      stride: fc.constantFrom(1, 2),
      height: sideArb,
      width: sideArb,
      batch: fc.constantFrom(1, 2),
      cin: fc.constantFrom(...cins),
      cout: fc.constantFrom(1, 4, 9),
      padding: fc.tuple(...[0, 0, 0, 0].map(() => fc.integer({ min: 0, max: 2 }))),
      withBias: fc.boolean(),
      shift: fc.integer({ min: 0, max: 3 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
  type Conv2dCase = typeof conv2dArb extends (...a: never[]) => fc.Arbitrary<infer C> ? C : never;

  const checkConv2d = (c: Conv2dCase) => {
    let window: Window;
    try {
      window = resolveWindow(3, {
        height: c.height,
        width: c.width,
        batch: c.batch,
        stride: c.stride,
        padding: c.padding as unknown as Padding4,
        min: -1,
        max: 2,
      }, [3]);
    } catch (e) {
      if (e instanceof ShapeError) return;
      throw e;
    }
    const { batch, outHeight: oh, outWidth: ow } = window;
    const x = matrix(batch, c.height * c.width * c.cin, c.seed);
    const w = matrix(c.cout, 9 * c.cin, c.seed + 1);
    const bias = c.withBias ? Array.from(matrix(1, c.cout, c.seed + 2).data) : undefined;
    const count = c.cout * batch * oh * ow;
    const lay = new Layout(ex);
    const xr = lay.region(x.data.length, c.shift);
    const wr = lay.region(w.data.length);
    const br = lay.region(c.cout);
    const yr = lay.region(count, (c.shift + 1) % 4);
    const bytes = count === 0 ? 0 : ex.conv2dScratchBytes(c.cout, c.cin, batch, oh, ow);
    const sr = lay.region(bytes / 4);
    lay.write((r) =>
      r === xr
        ? x.data
        : r === wr
        ? w.data
        : r === br
        ? new Float32Array(bias ?? [])
        : r === yr
        ? SENTINEL
        : GARBAGE
    );
    if (count > 0) {
      ex.conv2d(
        c.cout,
        c.cin,
        batch,
        c.height,
        c.width,
        c.stride,
        window.padTop,
        window.padLeft,
        oh,
        ow,
        xr.ptr,
        wr.ptr,
        bias ? br.ptr : 0,
        yr.ptr,
        -1,
        2,
        sr.ptr,
      );
    }
    const where = JSON.stringify(c);
    lay.checkGuards(where);
    assert.deepEqual(lay.read(xr), x.data, `${where}: x changed`);
    const y = lay.read(yr);
    checkWritten(where, y);
    const bound = referenceConv2d(abs(x), abs(w), bias?.map(Math.abs), {
      ...window,
      min: -Infinity,
      max: Infinity,
    });
    assertWithinBound(
      dense(c.cout, batch * oh * ow, y),
      referenceConv2d(x, w, bias, window),
      bound,
      9 * c.cin,
    );
  };

  Deno.test(`conv2d kernel (${flavour}): within bounds, every output written once`, () => {
    fc.assert(fc.property(conv2dArb(side, [1, 3, 4]), checkConv2d), { numRuns: 200 });
  });

  // Images of more pixels than one block of the GEMM's packed columns (about 4800 for the RGB
  // stem), so blocks start inside a row: the panels packed from the image pick up there.
  Deno.test(`conv2d kernel (${flavour}): images wider than a GEMM column block`, () => {
    fc.assert(
      fc.property(conv2dArb(fc.integer({ min: 50, max: 130 }), [3]), checkConv2d),
      { numRuns: 16 },
    );
  });

  Deno.test(`globalAvgPool and add kernels (${flavour}): within bounds, in place`, () => {
    for (const count of [1, 3, 8]) {
      for (const pixels of [1, 3, 4, 15, 16, 17, 49, 196]) {
        const x = matrix(1, count * pixels, count * 1000 + pixels);
        const lay = new Layout(ex);
        const xr = lay.region(x.data.length, pixels % 4);
        const yr = lay.region(count, count % 4);
        lay.write((r) => (r === xr ? x.data : SENTINEL));
        ex.globalAvgPool(count, pixels, xr.ptr, yr.ptr);
        const where = `pool count=${count} pixels=${pixels}`;
        lay.checkGuards(where);
        const y = lay.read(yr);
        checkWritten(where, y);
        for (let i = 0; i < count; i++) {
          const plane = x.data.subarray(i * pixels, (i + 1) * pixels);
          const want = plane.reduce((s, v) => s + v, 0) / pixels;
          const tol = (pixels + 2) * 2 ** -23 * plane.reduce((s, v) => s + Math.abs(v), 0) /
            pixels;
          assert.ok(Math.abs(y[i] - want) <= tol, `${where}: [${i}] ${y[i]} vs ${want}`);
        }
      }
    }
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100]) {
      const a = matrix(1, n, n);
      const b = matrix(1, n, n + 1);
      const want = a.data.map((v, i) => Math.min(Math.max(Math.fround(v + b.data[i]), -1), 1.5));
      const lay = new Layout(ex);
      const ar = lay.region(n, n % 4);
      const br = lay.region(n, (n + 1) % 4);
      const yr = lay.region(n, (n + 2) % 4);
      lay.write((r) => (r === ar ? a.data : r === br ? b.data : SENTINEL));
      ex.add(n, ar.ptr, br.ptr, yr.ptr, -1, 1.5);
      lay.checkGuards(`add n=${n}`);
      assert.deepEqual(lay.read(yr), want, `add n=${n}`);
      // In place, into either operand.
      ex.add(n, ar.ptr, br.ptr, ar.ptr, -1, 1.5);
      assert.deepEqual(lay.read(ar), want, `add n=${n} into a`);
      ex.add(n, yr.ptr, br.ptr, br.ptr, -Infinity, Infinity);
      assert.deepEqual(
        lay.read(br),
        want.map((v, i) => Math.fround(v + b.data[i])),
        `add n=${n} into b`,
      );
      lay.checkGuards(`add n=${n} in place`);
    }
  });

  Deno.test(`CHW kernels (${flavour}): signed zeros as f32 min/max give them`, () => {
    // x = 0, weights -1, bias -0: every sum is -0 (relaxed FMA or mul + add alike); max with
    // +0 must give +0, and a clamp to [-inf, -0] keeps -0.
    // Through the scratch plane, and (SIMD) straight from the image: [side, stride, padding
    // top and left, output side].
    const cases = [[0, 6, 1], [-Infinity, -0, -1], [-1, Infinity, -1], [0, -0, -1], [-1, -0, -1]];
    const planes = [[4, 1, 1, 4], [9, 1, 1, 9], [7, 2, 1, 4], [8, 2, 0, 4]];
    for (const [n, stride, pad, m] of planes) {
      for (const [min, max, sign] of cases) {
        const lay = new Layout(ex);
        const xr = lay.region(2 * n * n);
        const wr = lay.region(2 * 9);
        const br = lay.region(2);
        const yr = lay.region(2 * m * m);
        const sr = lay.region(ex.depthwiseScratchBytes(3, stride, m, m) / 4);
        lay.write((r) =>
          r === xr
            ? new Float32Array(2 * n * n)
            : r === wr
            ? new Float32Array(18).fill(-1)
            : r === br
            ? new Float32Array([-0, -0])
            : r === yr
            ? SENTINEL
            : GARBAGE
        );
        ex.depthwise(
          2,
          1,
          n,
          n,
          3,
          stride,
          pad,
          pad,
          m,
          m,
          xr.ptr,
          wr.ptr,
          br.ptr,
          yr.ptr,
          min,
          max,
          sr.ptr,
        );
        lay.checkGuards(`${n}/${stride}`);
        for (const v of lay.read(yr)) {
          const where = `${n}/${stride}: [${min}, ${max}]`;
          assert.ok(v === 0 && Object.is(v, sign > 0 ? 0 : -0), `${where}: got ${v}`);
        }
      }
    }
    // Negative sums clamped to [-inf, -0] stay as they are; positive ones become -0.
    const lay = new Layout(ex);
    const xr = lay.region(64);
    const wr = lay.region(9);
    const yr = lay.region(64);
    const sr = lay.region(ex.depthwiseScratchBytes(3, 1, 8, 8) / 4);
    const x = Float32Array.from({ length: 64 }, (_, i) => (i % 3) - 1);
    lay.write((r) => r === xr ? x : r === wr ? new Float32Array(9).fill(0.5) : GARBAGE);
    ex.depthwise(1, 1, 8, 8, 3, 1, 1, 1, 8, 8, xr.ptr, wr.ptr, 0, yr.ptr, -Infinity, -0, sr.ptr);
    const want = referenceDepthwise(
      dense(1, 64, x),
      dense(1, 9, new Float32Array(9).fill(0.5)),
      undefined,
      resolveWindow(3, { height: 8, width: 8, padding: "same", min: -Infinity, max: -0 }),
    ).data;
    lay.read(yr).forEach((v, i) => {
      assert.ok(Object.is(v, want[i] === 0 ? -0 : want[i]), `at ${i}: got ${v}, want ${want[i]}`);
    });
  });
}
