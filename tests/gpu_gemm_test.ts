// Property tests of the WebGPU dense GEMM against the reference and the CPU backend, over awkward
// shapes and several tiles, with padding columns full of garbage; typed errors for bad inputs and
// tiles beyond the device's limits; encode-then-submit, the pipeline cache and a folded grid.
import fc from "fast-check";
import assert from "node:assert/strict";
import { type Dense, dense, init, referenceGemm, ShapeError, ValueError } from "../mod.ts";
import { GpuError, requestGpu } from "../gpu/mod.ts";
import { DEFAULT_GEMM_TILE, type GemmTile } from "../gpu/gemm.ts";
import { assertWithinBound, denseArb, productBound, sizeArb } from "../testing.ts";
import { throwsWith } from "./expect.ts";
import { testGpu, uploadWithGarbage } from "./gpu_helpers.ts";

const gpu = await testGpu();
const cpu = await init();
const ignore = gpu === undefined;

const upload = uploadWithGarbage;

/** The CPU backend's resident result, as the GPU's must agree with it. */
function onCpu(a: Dense, b: Dense, bias: number[] | undefined, min: number, max: number): Dense {
  using at = cpu.upload(a);
  using bt = cpu.upload(b);
  using ct = cpu.alloc(a.rows, b.cols);
  return cpu.gemm(at, bt, { out: ct, bias, min, max }).read();
}

const TILES: readonly GemmTile[] = [
  DEFAULT_GEMM_TILE,
  { rows: 4, cols: 4, depth: 4 },
  { rows: 8, cols: 16, depth: 8 },
  { rows: 32, cols: 16, depth: 12 },
  { rows: 16, cols: 64, depth: 32 },
];

const caseArb = fc.tuple(sizeArb(40), sizeArb(70), sizeArb(70)).chain(([m, k, n]) =>
  fc.record({
    a: denseArb({ rows: m, cols: k }),
    b: denseArb({ rows: k, cols: n }),
    bias: fc.option(
      fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: m, maxLength: m }),
      { nil: undefined },
    ),
    clamp: fc.constantFrom([-Infinity, Infinity], [0, Infinity], [0, 6], [-1, 1]),
    tile: fc.option(fc.constantFrom(...TILES), { nil: undefined }),
  })
);

Deno.test({
  name: "gpu gemm matches the reference and the CPU backend",
  ignore,
  async fn() {
    const g = gpu!;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ a, b, bias, clamp: [min, max], tile }) => {
        const want = referenceGemm(a, b, { bias, min, max });
        const bound = productBound(a, b, bias);
        using at = upload(g, a);
        using bt = upload(g, b);
        using out = g.alloc(a.rows, b.cols);
        assert.equal(g.gemm(at, bt, { out, bias, min, max, tile }), out);
        const got = await out.read();
        assertWithinBound(got, want, bound, a.cols);
        // Both within the bound of the reference, so within twice it of each other.
        assertWithinBound(got, onCpu(a, b, bias, min, max), bound, 2 * a.cols + 2);
        assert.deepEqual((await at.read()).data, a.data, "a was mutated");
        assert.deepEqual((await bt.read()).data, b.data, "b was mutated");
      }),
      { numRuns: 100 },
    );
  },
});

Deno.test({
  name: "gpu gemm on MobileNet-like shapes with every tile",
  ignore,
  async fn() {
    const g = gpu!;
    for (const [m, k, n] of [[64, 32, 300], [128, 128, 49], [24, 200, 33], [7, 513, 17]]) {
      const a = dense(m, k, Array.from({ length: m * k }, (_, i) => Math.sin(i)));
      const b = dense(k, n, Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.7)));
      const bias = Array.from({ length: m }, (_, i) => i / m);
      const want = referenceGemm(a, b, { bias, min: -4, max: 4 });
      using at = upload(g, a);
      using bt = upload(g, b);
      using out = g.alloc(m, n);
      for (const tile of TILES) {
        g.gemm(at, bt, { out, bias, min: -4, max: 4, tile });
        assertWithinBound(await out.read(), want, productBound(a, b, bias), k);
      }
    }
  },
});

Deno.test({
  name: "gpu gemm: an empty inner dimension gives the clamped bias, empty outputs nothing",
  ignore,
  async fn() {
    const g = gpu!;
    using a = g.alloc(3, 0);
    using b = g.alloc(0, 5);
    using out = g.upload(dense(3, 5, Array(15).fill(99)));
    g.gemm(a, b, { out, bias: [1, -2, 7], min: -1, max: 6 });
    assert.deepEqual([...(await out.read()).data], [
      ...Array(5).fill(1),
      ...Array(5).fill(-1),
      ...Array(5).fill(6),
    ]);
    using z = g.alloc(0, 4);
    using zb = g.alloc(4, 0);
    using zo = g.alloc(0, 0);
    assert.equal(g.gemm(z, zb, { out: zo }), zo);
    assert.equal((await zo.read()).data.length, 0);
  },
});

Deno.test({
  name: "gpu gemm: encoding submits nothing; the dispatches run as often as submitted",
  ignore,
  async fn() {
    const g = gpu!;
    const a = dense(2, 3, [1, 2, 3, 4, 5, 6]);
    const b = dense(3, 2, [1, -1, 2, -2, 3, -3]);
    using at = g.upload(a);
    using bt = g.upload(b);
    using out = g.alloc(2, 2);
    const dispatches = g.encode.gemm(at, bt, { out, bias: [1, 2] });
    await g.finish();
    assert.deepEqual([...(await out.read()).data], [0, 0, 0, 0]);
    try {
      for (let i = 0; i < 2; i++) {
        g.submit(dispatches);
        assert.deepEqual([...(await out.read()).data], [15, -13, 34, -30]);
      }
    } finally {
      g.context.release(dispatches);
    }
  },
});

Deno.test({
  name: "gpu gemm: bad inputs are typed errors naming the argument",
  ignore,
  fn() {
    const g = gpu!;
    using a = g.alloc(2, 3);
    using b = g.alloc(3, 4);
    using out = g.alloc(2, 4);
    using square = g.alloc(3, 3);
    const gemm = (o: object, x = a, y = b) => () => g.gemm(x, y, { out, ...o });
    throwsWith(gemm({}, a, out), ShapeError, { argument: "b.rows", value: 2 });
    throwsWith(gemm({ out: b }), ShapeError, { argument: "options.out", value: "3x4" });
    throwsWith(gemm({ out: square }, square, square), ShapeError, {
      argument: "options.out",
      value: "a",
    });
    throwsWith(gemm({ bias: [1] }), ShapeError, { argument: "options.bias", value: 1 });
    throwsWith(gemm({ bias: [1, NaN] }), ValueError, { argument: "options.bias", index: 1 });
    throwsWith(gemm({ bias: [1, 1e39] }), ValueError, { argument: "options.bias", index: 1 });
    throwsWith(gemm({ min: 2, max: 1 }), ValueError, { argument: "options.min" });
    throwsWith(gemm({ max: NaN }), ValueError, { argument: "options.max" });
    throwsWith(gemm({ tile: { rows: 6, cols: 4, depth: 4 } }), ShapeError, {
      argument: "options.tile.rows",
      value: 6,
    });
    throwsWith(gemm({ tile: { rows: 4, cols: 0, depth: 4 } }), ShapeError, {
      argument: "options.tile.cols",
    });
    throwsWith(gemm({ tile: { rows: 4, cols: 4, depth: 2.5 } }), ShapeError, {
      argument: "options.tile.depth",
    });
    const gone = g.alloc(2, 3);
    gone.dispose();
    assert.throws(
      () => g.gemm(gone, b, { out }),
      (e) => e instanceof GpuError && e.code === "disposed" && e.argument === "a",
    );
  },
});

Deno.test({
  name: "gpu gemm: a tile beyond the device's limits is a limit error naming the limit",
  ignore,
  fn() {
    const g = gpu!;
    const { maxComputeInvocationsPerWorkgroup: inv, maxComputeWorkgroupStorageSize: bytes } =
      g.limits;
    using a = g.alloc(4, 4);
    using b = g.alloc(4, 4);
    using out = g.alloc(4, 4);
    const before = g.context.pipelineCount;
    // (rows/4) * (cols/4) = inv + 1 invocations.
    const wide = { rows: 4, cols: 4 * (inv + 1), depth: 4 };
    assert.throws(
      () => g.gemm(a, b, { out, tile: wide }),
      (e) =>
        e instanceof GpuError && e.code === "limit" && e.argument === "options.tile" &&
        e.limit === "maxComputeInvocationsPerWorkgroup" && e.max === inv &&
        e.value === inv + 1,
    );
    // (4 + 4) * depth * 4 bytes, just over the limit.
    const deep = { rows: 4, cols: 4, depth: 4 * Math.floor(bytes / 128 + 1) };
    assert.throws(
      () => g.gemm(a, b, { out, tile: deep }),
      (e) =>
        e instanceof GpuError && e.code === "limit" &&
        e.limit === "maxComputeWorkgroupStorageSize" && e.max === bytes,
    );
    assert.equal(g.context.pipelineCount, before, "a refused tile compiled a pipeline");
  },
});

Deno.test({
  name: "gpu gemm: one pipeline per tile, reused by later calls",
  ignore,
  async fn() {
    const g = gpu!;
    using a = g.upload(dense(5, 6, Array.from({ length: 30 }, (_, i) => i % 7)));
    using b = g.upload(dense(6, 7, Array.from({ length: 42 }, (_, i) => i % 5)));
    using out = g.alloc(5, 7);
    const tile = { rows: 8, cols: 8, depth: 20 };
    g.gemm(a, b, { out, tile });
    const count = g.context.pipelineCount;
    for (let i = 0; i < 3; i++) g.gemm(a, b, { out, tile, bias: [1, 2, 3, 4, 5], min: 0 });
    await g.finish();
    assert.equal(g.context.pipelineCount, count);
    g.gemm(a, b, { out, tile: { rows: 8, cols: 8, depth: 24 } });
    assert.equal(g.context.pipelineCount, count + 1);
  },
});

Deno.test({
  name: "gpu gemm: a grid of more workgroups than one dimension allows is folded",
  ignore,
  async fn() {
    const g = gpu!;
    const n = 4 * (g.limits.maxComputeWorkgroupsPerDimension + 7);
    const a = dense(4, 1, [1, -2, 0.5, 3]);
    const b = dense(1, n, Array.from({ length: n }, (_, i) => (i % 13) - 6));
    using at = g.upload(a);
    using bt = g.upload(b);
    using out = g.alloc(4, n);
    g.gemm(at, bt, { out, bias: [0, 1, 2, 3], tile: { rows: 4, cols: 4, depth: 4 } });
    const bias = [0, 1, 2, 3];
    assertWithinBound(
      await out.read(),
      referenceGemm(a, b, { bias }),
      productBound(a, b, bias),
      1,
    );
  },
});

Deno.test({
  name: "gpu gemm: tensors of another device, and a destroyed device, are refused",
  ignore,
  async fn() {
    const g = gpu!;
    const other = await requestGpu();
    using a = g.alloc(2, 2);
    using out = g.alloc(2, 2);
    const foreign = other.alloc(2, 2);
    assert.throws(
      () => g.gemm(a, foreign, { out }),
      (e) => e instanceof GpuError && e.code === "foreign" && e.argument === "b",
    );
    const mine = other.alloc(2, 2);
    const theirs = other.alloc(2, 2);
    other.dispose();
    await other.context.device.lost;
    assert.throws(
      () => other.gemm(mine, foreign, { out: theirs }),
      (e) => e instanceof GpuError && e.code === "lost",
    );
  },
});
