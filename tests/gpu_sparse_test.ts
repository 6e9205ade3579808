// The sparse kernels of the WebGPU backend (conv1x1 from a packed Plan, SpMM from a CSR
// matrix) against the dense references and the TypeScript backend, with the tolerance derived
// from f32 summation: every block size, awkward and zero sizes, very long rows, clamps,
// batches on one plan, typed errors, inputs left alone and the pipeline cache.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  type Conv1x1Plan,
  type Csr,
  csr,
  csrFromDense,
  csrToDense,
  type Dense,
  dense,
  jsBackend,
  packConv1x1,
  referenceConv1x1,
  referenceGemm,
  ShapeError,
  SparseFormatError,
} from "../mod.ts";
import { GpuError, requestGpu } from "../gpu/mod.ts";
import {
  assertWithinBound,
  denseArb,
  productBound,
  seededRandom,
  sparseArb,
  spmmCaseArb,
} from "../testing.ts";
import { testGpu } from "./gpu_helpers.ts";
import { throwsWith } from "./expect.ts";

const gpu = await testGpu();
const ignore = gpu === undefined;

type Block = 1 | 2 | 4 | "auto";
const BLOCKS: readonly Block[] = [1, 2, 4, "auto"];

/** A `[rows x cols]` matrix of seeded values in [-2, 2), a fraction `zeros` of them 0. */
function matrix(rows: number, cols: number, seed: number, zeros = 0): Dense {
  const rand = seededRandom(seed);
  return dense(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => (rand() < zeros ? 0 : rand() * 4 - 2)),
  );
}

/** Asserts the input tensor still holds `d`. */
async function assertUnchanged(t: { read(): Promise<Dense> }, d: Dense, name: string) {
  assert.deepEqual((await t.read()).data, d.data, `${name} was mutated`);
}

/** conv1x1 on the GPU; checks x is left alone. */
async function gpuConv(plan: Conv1x1Plan, x: Dense): Promise<Dense> {
  using p = gpu!.prepare(plan);
  using xt = gpu!.upload(x);
  using yt = gpu!.alloc(plan.cout, x.cols);
  assert.equal(gpu!.conv1x1(p, xt, yt), yt);
  const y = await yt.read();
  await assertUnchanged(xt, x, "x");
  return y;
}

/** spmm on the GPU; checks b is left alone. */
async function gpuSpmm(a: Csr, b: Dense): Promise<Dense> {
  using ag = gpu!.uploadCsr(a);
  using bt = gpu!.upload(b);
  using ct = gpu!.alloc(a.rows, b.cols);
  assert.equal(gpu!.spmm(ag, bt, ct), ct);
  const c = await ct.read();
  await assertUnchanged(bt, b, "b");
  return c;
}

interface ConvCase {
  readonly w: Dense;
  readonly x: Dense;
  readonly bias?: readonly number[];
  readonly min?: number;
  readonly max?: number;
  readonly blockSize: Block;
}

/** The GPU conv1x1 against the reference and the CPU, within the f32 summation bound. */
async function checkConv({ w, x, bias, min, max, blockSize }: ConvCase): Promise<void> {
  const plan = packConv1x1(w, { bias, min, max, blockSize });
  if (blockSize !== "auto") assert.equal(plan.blockSize, blockSize);
  const got = await gpuConv(plan, x);
  const bound = productBound(w, x, bias);
  assertWithinBound(got, referenceConv1x1(w, x, { bias, min, max }), bound, w.cols);
  assertWithinBound(got, jsBackend.conv1x1(plan, x), bound, w.cols);
}

/** The GPU spmm against the reference and the CPU, within the f32 summation bound. */
async function checkSpmm(a: Csr, b: Dense): Promise<void> {
  const got = await gpuSpmm(a, b);
  const ad = csrToDense(a);
  const bound = productBound(ad, b);
  assertWithinBound(got, referenceGemm(ad, b), bound, a.cols);
  assertWithinBound(got, jsBackend.spmm(a, b), bound, a.cols);
}

const clampArb = fc.oneof(
  fc.constantFrom<[number, number]>(
    [-Infinity, Infinity],
    [0, Infinity],
    [0, 6],
    [-0.5, 0.25],
  ),
  fc.tuple(
    fc.float({ min: -8, max: 8, noNaN: true }),
    fc.float({ min: -8, max: 8, noNaN: true }),
  ).map(([p, q]): [number, number] => [Math.min(p, q), Math.max(p, q)]),
);

Deno.test({
  name: "gpu spmm matches the reference and the CPU",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        spmmCaseArb({ maxM: 40, maxK: 40, maxN: 90 }),
        ({ a, b }) => checkSpmm(a, b),
      ),
      { numRuns: 150 },
    );
  },
});

Deno.test({
  name: "gpu conv1x1 with every block size, bias and clamp matches the reference and the CPU",
  ignore,
  async fn() {
    const caseArb = fc.tuple(
      sparseArb({ maxRows: 37, maxCols: 37 }),
      fc.integer({ min: 0, max: 90 }),
    ).chain(([w, pixels]) =>
      fc.record({
        w: fc.constant(w),
        x: denseArb({ rows: w.cols, cols: pixels }),
        bias: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
          minLength: w.rows,
          maxLength: w.rows,
        }),
        clamp: clampArb,
        blockSize: fc.constantFrom(...BLOCKS),
      })
    );
    await fc.assert(
      fc.asyncProperty(
        caseArb,
        ({ w, x, bias, clamp: [min, max], blockSize }) =>
          checkConv({ w, x, bias, min, max, blockSize }),
      ),
      { numRuns: 150 },
    );
  },
});

Deno.test({
  name: "gpu conv1x1: each block size forced, pixel counts around the vec4 and tile widths",
  ignore,
  async fn() {
    // 11 output channels: two 1x4 blocks and 3 single rows, five 1x2 blocks and 1 single row.
    const w = dense(11, 9, Array.from({ length: 99 }, (_, i) => (i % 3 === 0 ? 0 : Math.sin(i))));
    const bias = Array.from({ length: 11 }, (_, i) => i / 10 - 0.5);
    for (const pixels of [0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 63, 64, 65, 67, 130, 257]) {
      const x = matrix(9, pixels, pixels);
      for (const blockSize of BLOCKS) {
        await checkConv({ w, x, bias, min: -1, max: 1, blockSize });
        await checkConv({ w, x, bias, blockSize });
      }
    }
  },
});

Deno.test({
  name: "gpu spmm: shapes around the vec4 and tile widths, empty rows",
  ignore,
  async fn() {
    for (const [m, k, n] of [[1, 1, 1], [5, 3, 16], [17, 9, 17], [65, 33, 3], [4, 66, 65]]) {
      for (const zeros of [0, 0.7, 1]) {
        const a = csrFromDense(matrix(m, k, m * k + n, zeros));
        await checkSpmm(a, matrix(k, n, n));
      }
    }
    // Every other row empty.
    const rows = matrix(21, 13, 5, 0.3);
    const a = csrFromDense(
      dense(21, 13, rows.data.map((v, i) => (Math.floor(i / 13) % 2 === 0 ? 0 : v))),
    );
    await checkSpmm(a, matrix(13, 35, 6));
  },
});

Deno.test({
  name: "gpu: a 1 x 3000 row among empty rows, and a 5000-long row among short ones",
  ignore,
  async fn() {
    // One full row of 3000 among 8 empty ones.
    const long = matrix(9, 3000, 1).data.map((v, i) => (Math.floor(i / 3000) === 4 ? v : 0));
    const w1 = dense(9, 3000, long);
    const x1 = matrix(3000, 7, 2);
    await checkSpmm(csrFromDense(w1), x1);
    for (const blockSize of [1, 4] as const) {
      await checkConv({ w: w1, x: x1, bias: [1, 2, 3, 4, 5, 6, 7, 8, 9], blockSize });
    }
    // One row of 5000 nonzeros among 32 rows of 0 to 5.
    const rand = seededRandom(3);
    const w2 = dense(33, 5000);
    for (let i = 0; i < 33; i++) {
      if (i === 10) {
        for (let j = 0; j < 5000; j++) w2.data[i * 5000 + j] = rand() * 2 - 1 || 1;
      } else {
        const n = Math.floor(rand() * 6);
        for (let e = 0; e < n; e++) w2.data[i * 5000 + Math.floor(rand() * 5000)] = rand() + 0.5;
      }
    }
    const x2 = matrix(5000, 20, 4);
    await checkSpmm(csrFromDense(w2), x2);
    for (const blockSize of [1, 2, 4] as const) {
      await checkConv({ w: w2, x: x2, min: -3, max: 3, blockSize });
    }
  },
});

Deno.test({
  name: "gpu spmm: a grid over the per-dimension workgroup limit is folded",
  ignore,
  async fn() {
    // One column of output (16 rows a workgroup): one workgroup more than a dimension allows.
    const m = (gpu!.limits.maxComputeWorkgroupsPerDimension + 1) * 16 + 3;
    const rowPtr = new Int32Array(m + 1);
    for (let i = 0; i < m; i++) rowPtr[i + 1] = rowPtr[i] + (i % 5 === 0 ? 0 : 1);
    const n = rowPtr[m];
    const a: Csr = {
      rows: m,
      cols: 2,
      rowPtr,
      colIdx: Int32Array.from({ length: n }, (_, k) => k % 2),
      values: Float32Array.from({ length: n }, (_, k) => (k % 7) - 3),
    };
    const b = dense(2, 1, [2, -5]);
    const got = await gpuSpmm(a, b);
    for (let i = 0; i < m; i++) {
      const k = rowPtr[i];
      const want = rowPtr[i + 1] === k ? 0 : a.values[k] * b.data[a.colIdx[k]];
      if (got.data[i] !== want) assert.fail(`row ${i}: got ${got.data[i]}, expected ${want}`);
    }
  },
});

Deno.test({
  name: "gpu: zero sizes, empty plans and all-zero weights give bias clamped or zeros",
  ignore,
  async fn() {
    // SpMM with 0 rows, 0 inner dimension (zeros out), 0 columns, no nonzeros.
    for (const [m, k, n] of [[0, 3, 5], [3, 0, 5], [3, 4, 0], [0, 0, 0], [1, 1, 1]]) {
      const a = csrFromDense(matrix(m, k, 1));
      await checkSpmm(a, matrix(k, n, 2));
      const empty = await gpuSpmm(csrFromDense(dense(m, k)), matrix(k, n, 3));
      assert.ok(empty.data.every((v) => v === 0));
    }
    // conv1x1: no output channels, no input channels, no pixels; each block size.
    for (const blockSize of BLOCKS) {
      await checkConv({ w: dense(0, 4), x: matrix(4, 9, 1), blockSize });
      await checkConv({ w: dense(5, 3), x: matrix(3, 0, 1), bias: [1, 2, 3, 4, 5], blockSize });
      const y = await gpuConv(
        packConv1x1(dense(6, 0), { bias: [-2, -1, 0, 1, 2, 9], min: -1, max: 6, blockSize }),
        dense(0, 7),
      );
      assert.deepEqual([...y.data], [-1, -1, 0, 1, 2, 6].flatMap((b) => Array(7).fill(b)));
      const zero = await gpuConv(
        packConv1x1(dense(5, 6), { bias: [1, 2, 3, 4, 5], blockSize }),
        matrix(6, 35, 4),
      );
      for (let o = 0; o < 5; o++) {
        assert.ok(zero.data.slice(o * 35, (o + 1) * 35).every((v) => v === o + 1));
      }
    }
  },
});

Deno.test({
  name: "gpu: fully dense weights, exact on small integers",
  ignore,
  async fn() {
    const x = dense(6, 35, Array.from({ length: 210 }, (_, i) => i % 7 - 3));
    const full = dense(5, 6, Array.from({ length: 30 }, (_, i) => (i < 15 ? i - 15 : i - 14)));
    for (const blockSize of BLOCKS) {
      const plan = packConv1x1(csrFromDense(full), { blockSize });
      assert.equal(plan.stored, 30);
      assert.deepEqual((await gpuConv(plan, x)).data, referenceConv1x1(full, x).data);
    }
    const a = csrFromDense(full);
    assert.deepEqual((await gpuSpmm(a, x)).data, referenceGemm(full, x).data);
  },
});

Deno.test({
  name: "gpu conv1x1: ReLU6 and arbitrary clamps",
  ignore,
  async fn() {
    const w = matrix(13, 10, 7, 0.5);
    const x = dense(10, 19, matrix(10, 19, 8).data.map((v) => v * 4));
    const bias = Array.from({ length: 13 }, (_, i) => i - 6);
    for (const [min, max] of [[0, 6], [-0.75, 0.5], [2, 2], [-Infinity, -1], [3, Infinity]]) {
      for (const blockSize of BLOCKS) await checkConv({ w, x, bias, min, max, blockSize });
    }
    const y = await gpuConv(packConv1x1(w, { bias, min: 0, max: 6 }), x);
    assert.ok(y.data.every((v) => v >= 0 && v <= 6));
    assert.ok(y.data.some((v) => v === 6) && y.data.some((v) => v === 0));
  },
});

Deno.test({
  name: "gpu conv1x1: a batch of runs on one plan, encoded once, submitted together and again",
  ignore,
  async fn() {
    const g = gpu!;
    const w = matrix(24, 16, 9, 0.8);
    const bias = Array.from({ length: 24 }, (_, i) => Math.cos(i));
    for (const blockSize of BLOCKS) {
      const plan = packConv1x1(w, { bias, min: -1, max: 1.5, blockSize });
      using p = g.prepare(plan);
      const xs = [1, 2, 3, 4, 5].map((s) => matrix(16, 10 + 7 * s, s));
      const xts = xs.map((x) => g.upload(x));
      const yts = xs.map((x) => g.alloc(24, x.cols));
      try {
        const dispatches = xts.flatMap((xt, i) => g.encode.conv1x1(p, xt, yts[i]));
        for (let round = 0; round < 2; round++) {
          g.submit(dispatches);
          for (let i = 0; i < xs.length; i++) {
            const want = referenceConv1x1(w, xs[i], { bias, min: -1, max: 1.5 });
            assertWithinBound(await yts[i].read(), want, productBound(w, xs[i], bias), 16);
          }
        }
        g.context.release(dispatches);
        // Chained without readback: the second layer reads the first one's output, padding
        // lanes included, through the vec4 loads.
        const plan2 = packConv1x1(matrix(7, 24, 10, 0.6), { blockSize, min: -2, max: 2 });
        using p2 = g.prepare(plan2);
        using zt = g.alloc(7, xs[0].cols);
        g.conv1x1(p2, yts[0], zt);
        const y0 = await yts[0].read();
        const w2 = matrix(7, 24, 10, 0.6);
        assertWithinBound(
          await zt.read(),
          referenceConv1x1(w2, y0, { min: -2, max: 2 }),
          productBound(w2, y0),
          24,
        );
      } finally {
        for (const t of [...xts, ...yts]) t.dispose();
      }
    }
  },
});

Deno.test({
  name: "gpu sparse: bad inputs are typed errors naming the argument",
  ignore,
  async fn() {
    const g = gpu!;
    const plan = packConv1x1(matrix(4, 3, 1), { blockSize: 4 });
    const p = g.prepare(plan);
    const x = g.upload(matrix(3, 5, 2));
    const y = g.alloc(4, 5);
    const a = g.uploadCsr(csrFromDense(matrix(4, 3, 3)));
    try {
      // Shapes.
      throwsWith(() => g.conv1x1(p, g.alloc(2, 5), y), ShapeError, { argument: "x" });
      throwsWith(() => g.conv1x1(p, x, g.alloc(3, 5)), ShapeError, { argument: "out" });
      throwsWith(() => g.conv1x1(p, x, g.alloc(4, 6)), ShapeError, { argument: "out" });
      using square = g.prepare(packConv1x1(matrix(3, 3, 4)));
      throwsWith(() => g.conv1x1(square, x, x), ShapeError, { argument: "out" });
      throwsWith(() => g.spmm(a, g.alloc(4, 5), y), ShapeError, { argument: "b" });
      throwsWith(() => g.spmm(a, x, g.alloc(4, 4)), ShapeError, { argument: "out" });
      using sq = g.uploadCsr(csrFromDense(matrix(3, 3, 5)));
      throwsWith(() => g.spmm(sq, x, x), ShapeError, { argument: "out" });
      throwsWith(
        () => g.conv1x1(plan as never, x, y),
        ShapeError,
        { argument: "plan" },
      );
      // Malformed host data.
      const bad: Csr = { ...csr(1, 2, [0, 1], [1], [1]), colIdx: new Int32Array([2]) };
      throwsWith(() => g.uploadCsr(bad), SparseFormatError, { argument: "a.colIdx", index: 0 });
      const forged = { ...plan, cout: 5 };
      assert.throws(() => g.prepare(forged), SparseFormatError);
      // Disposed plan, matrix and tensors.
      const gone = g.prepare(plan);
      gone.dispose();
      gone.dispose();
      gone[Symbol.dispose]();
      assert.ok(gone.disposed);
      const disposed = (fn: () => unknown, argument: string) =>
        assert.throws(
          fn,
          (e) => e instanceof GpuError && e.code === "disposed" && e.argument === argument,
        );
      disposed(() => g.conv1x1(gone, x, y), "plan");
      const goneCsr = g.uploadCsr(csrFromDense(matrix(4, 3, 3)));
      goneCsr.dispose();
      goneCsr.dispose();
      assert.ok(goneCsr.disposed);
      disposed(() => g.spmm(goneCsr, x, y), "a");
      const goneX = g.upload(matrix(3, 5, 2));
      goneX.dispose();
      disposed(() => g.conv1x1(p, goneX, y), "x");
      disposed(() => g.spmm(a, goneX, y), "b");
      const goneY = g.alloc(4, 5);
      goneY.dispose();
      disposed(() => g.conv1x1(p, x, goneY), "out");
      // Another device's plan, matrix and tensors.
      using other = await requestGpu();
      const foreign = (fn: () => unknown, argument: string) =>
        assert.throws(
          fn,
          (e) => e instanceof GpuError && e.code === "foreign" && e.argument === argument,
        );
      using op = other.prepare(plan);
      using oa = other.uploadCsr(csrFromDense(matrix(4, 3, 3)));
      using ox = other.upload(matrix(3, 5, 2));
      using oy = other.alloc(4, 5);
      foreign(() => g.conv1x1(op, x, y), "plan");
      foreign(() => g.spmm(oa, x, y), "a");
      foreign(() => g.conv1x1(p, ox, y), "x");
      foreign(() => g.conv1x1(p, x, oy), "out");
      foreign(() => g.spmm(a, ox, y), "b");
      // Nothing bad was submitted: the good call still works.
      g.conv1x1(p, x, y);
      assertWithinBound(
        await y.read(),
        referenceConv1x1(matrix(4, 3, 1), matrix(3, 5, 2)),
        productBound(matrix(4, 3, 1), matrix(3, 5, 2)),
        3,
      );
    } finally {
      p.dispose();
      a.dispose();
      x.dispose();
      y.dispose();
    }
  },
});

Deno.test({
  name: "gpu sparse: a destroyed device makes plans and matrices fail with 'lost'",
  ignore,
  async fn() {
    const own = await requestGpu();
    const p = own.prepare(packConv1x1(matrix(4, 3, 1)));
    const a = own.uploadCsr(csrFromDense(matrix(4, 3, 1)));
    const x = own.upload(matrix(3, 5, 2));
    const y = own.alloc(4, 5);
    own.dispose();
    await own.finish().catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(own.lost);
    const lost = (fn: () => unknown) =>
      assert.throws(fn, (e) => e instanceof GpuError && e.code === "lost");
    lost(() => own.conv1x1(p, x, y));
    lost(() => own.spmm(a, x, y));
    lost(() => own.prepare(packConv1x1(matrix(4, 3, 1))));
    lost(() => own.uploadCsr(csrFromDense(matrix(4, 3, 1))));
    for (const r of [p, a, x, y]) r.dispose();
  },
});

Deno.test({
  name: "gpu sparse: pipelines are compiled once per kernel variant",
  ignore,
  async fn() {
    const g = gpu!;
    const run = async () => {
      for (const blockSize of BLOCKS) {
        for (const pixels of [3, 40]) {
          await gpuConv(
            packConv1x1(matrix(9, 6, 11, 0.3), { blockSize }),
            matrix(6, pixels, 12),
          );
        }
      }
      for (const n of [3, 40]) await gpuSpmm(csrFromDense(matrix(7, 5, 13, 0.5)), matrix(5, n, 14));
    };
    await run();
    const count = g.context.pipelineCount;
    await run();
    await run();
    assert.equal(g.context.pipelineCount, count);
  },
});
