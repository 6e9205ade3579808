// Property tests of spmm and the packed sparse 1x1 convolution on every flavour, against the
// dense references, with the tolerance derived from f32 summation.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  conv1x1,
  csrFromDense,
  csrToDense,
  type Dense,
  dense,
  packConv1x1,
  referenceConv1x1,
  referenceGemm,
  spmm,
} from "../mod.ts";
import {
  assertWithinBound,
  denseArb,
  productBound,
  seededRandom,
  sparseArb,
  spmmCaseArb,
} from "../testing.ts";
import { STAGE_MIN_TILE_BYTES, stageBytes } from "../kernels/wasm.ts";
import { allBackends, loadKernelExports } from "./backends.ts";

const backends = await allBackends();
const RUNS = 150;

// The kernel module's own tiling, to pick layers wide enough that the SIMD kernels stage.
const kernelModule = await loadKernelExports("relaxed");

/**
 * A 1x1 layer (`cout` rows at density 0.9, so each input channel is read 0.9 * cout times
 * per tile) just wide enough that `pixels`-long rows stage their inputs on SIMD flavours.
 */
function wideLayer(seed: number, pixels: number, extra: number, cout = 20) {
  const rand = seededRandom(seed);
  const tile = kernelModule.spmmTileBytes(1, pixels);
  const cin = Math.ceil(STAGE_MIN_TILE_BYTES / Math.min(tile, 4 * pixels)) + extra;
  const w = dense(
    cout,
    cin,
    Array.from({ length: cout * cin }, () => (rand() < 0.9 ? rand() - 0.5 : 0)),
  );
  const x = dense(cin, pixels, Array.from({ length: cin * pixels }, () => 4 * rand() - 2));
  const bias = Array.from({ length: cout }, () => rand() - 0.5);
  return { w, x, bias };
}

Deno.test("every flavour is found on this host", () => {
  // CI runs Deno on x86-64 / arm64, where relaxed SIMD and SIMD are both available.
  assert.deepEqual(backends.map((b) => b.flavour), ["relaxed", "simd", "scalar", "js"]);
});

const copy = (d: Dense) => dense(d.rows, d.cols, d.data);

for (const backend of backends) {
  Deno.test(`${backend.flavour}: spmm matches the reference`, () => {
    fc.assert(
      fc.property(spmmCaseArb(), ({ a, b }) => {
        const before = copy(b);
        const ad = csrToDense(a);
        const got = spmm(a, b, { backend });
        assertWithinBound(got, referenceGemm(ad, b), productBound(ad, b), a.cols);
        assert.deepEqual(b.data, before.data, "b was mutated");
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${backend.flavour}: conv1x1 with every block size, bias and clamp matches the reference`, () => {
    const caseArb = fc.tuple(
      sparseArb({ maxRows: 37, maxCols: 37 }),
      fc.integer({ min: 0, max: 70 }),
    )
      .chain(([w, pixels]) =>
        fc.record({
          w: fc.constant(w),
          x: denseArb({ rows: w.cols, cols: pixels }),
          bias: fc.array(fc.float({ min: -2, max: 2, noNaN: true }), {
            minLength: w.rows,
            maxLength: w.rows,
          }),
          clamp: fc.constantFrom(
            [-Infinity, Infinity],
            [0, Infinity],
            [0, 6],
            [-0.5, 0.25],
          ),
          blockSize: fc.constantFrom(1, 2, 4, "auto") as fc.Arbitrary<1 | 2 | 4 | "auto">,
        })
      );
    fc.assert(
      fc.property(caseArb, ({ w, x, bias, clamp: [min, max], blockSize }) => {
        const plan = packConv1x1(w, { bias, min, max, blockSize });
        const want = referenceConv1x1(w, x, { bias, min, max });
        const bound = productBound(w, x, bias);
        assertWithinBound(conv1x1(plan, x, { backend }), want, bound, w.cols);
        // Prepared, into a caller's out, and between resident tensors: the same answer.
        using prepared = backend.prepare(plan);
        const out = dense(w.rows, x.cols);
        assert.equal(conv1x1(prepared, x, { out }), out);
        assertWithinBound(out, want, bound, w.cols);
        using xt = backend.upload(x);
        using yt = backend.alloc(w.rows, x.cols);
        assert.equal(backend.conv1x1(prepared, xt, yt), yt);
        assertWithinBound(yt.read(), want, bound, w.cols);
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${backend.flavour}: conv1x1 over long rows exercises every tile width`, () => {
    // Pixel counts around the 32/16/8/4/2/1 tiles, and one long enough to repeat them.
    for (const pixels of [1, 2, 3, 5, 9, 17, 31, 33, 49, 63, 95, 196, 257]) {
      for (const blockSize of [1, 2, 4] as const) {
        const w = dense(
          11,
          9,
          Array.from({ length: 99 }, (_, i) => (i % 3 === 0 ? 0 : Math.sin(i))),
        );
        const x = dense(9, pixels, Array.from({ length: 9 * pixels }, (_, i) => Math.cos(i)));
        const bias = Array.from({ length: 11 }, (_, i) => i / 10);
        const plan = packConv1x1(w, { bias, blockSize, min: -1, max: 1 });
        assertWithinBound(
          conv1x1(plan, x, { backend }),
          referenceConv1x1(w, x, { bias, min: -1, max: 1 }),
          productBound(w, x, bias),
          9,
        );
      }
    }
  });

  Deno.test(`${backend.flavour}: all-zero and fully dense weights`, () => {
    const x = dense(6, 35, Array.from({ length: 210 }, (_, i) => i % 7 - 3));
    const zero = dense(5, 6);
    const y = conv1x1(packConv1x1(zero, { bias: [1, 2, 3, 4, 5] }), x, { backend });
    for (let o = 0; o < 5; o++) {
      assert.ok(y.data.slice(o * 35, (o + 1) * 35).every((v) => v === o + 1));
    }
    const full = dense(5, 6, Array.from({ length: 30 }, (_, i) => i - 15));
    const plan = packConv1x1(csrFromDense(full), { blockSize: 4 });
    assert.equal(plan.stored, 30);
    assert.deepEqual(conv1x1(plan, x, { backend }).data, referenceConv1x1(full, x).data);
  });

  Deno.test(`${backend.flavour}: conv1x1 on wide layers (staged inputs) matches the reference`, () => {
    const simd = backend.flavour === "relaxed" || backend.flavour === "simd";
    fc.assert(
      fc.property(
        fc.integer(),
        // Rows cut into tiles of whole vectors, and rows of 16-47 pixels with a ragged end.
        fc.oneof(fc.integer({ min: 16, max: 60 }), fc.constantFrom(49, 97, 196, 260)),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom([-Infinity, Infinity], [0, 6]),
        (seed, pixels, extra, [min, max]) => {
          const { w, x, bias } = wideLayer(seed, pixels, extra);
          const plan = packConv1x1(w, { bias, min, max, blockSize: 1 });
          const s = plan.sections[0];
          if (backend.flavour !== "js") {
            assert.equal(stageBytes(kernelModule, backend.flavour, s, w.cols, pixels) > 0, simd);
          }
          const want = referenceConv1x1(w, x, { bias, min, max });
          const bound = productBound(w, x, bias);
          assertWithinBound(conv1x1(plan, x, { backend }), want, bound, w.cols);
          using prepared = backend.prepare(plan);
          using xt = backend.upload(x);
          using yt = backend.alloc(w.rows, x.cols);
          backend.conv1x1(prepared, xt, yt);
          assertWithinBound(yt.read(), want, bound, w.cols);
        },
      ),
      { numRuns: 40 },
    );
  });

  Deno.test(`${backend.flavour}: a prepared plan runs on rows of changing lengths`, () => {
    // Staged (196, 49, 23 pixels) and read in place (5 and 8 pixels are too narrow), in turn:
    // the plan's stream is rewritten for each row length it meets.
    const { w } = wideLayer(7, 23, 0, 24);
    const bias = Array.from({ length: 24 }, (_, i) => i / 8 - 1);
    const plan = packConv1x1(w, { bias, min: -3, max: 3, blockSize: 1 });
    using prepared = backend.prepare(plan);
    const rand = seededRandom(11);
    for (const pixels of [196, 49, 5, 196, 23, 8, 8, 49]) {
      const x = dense(w.cols, pixels, Array.from({ length: w.cols * pixels }, () => rand() - 0.5));
      assertWithinBound(
        conv1x1(prepared, x),
        referenceConv1x1(w, x, { bias, min: -3, max: 3 }),
        productBound(w, x, bias),
        w.cols,
      );
    }
  });
}
