// Property tests of the dense GEMM (the dense path and the speed baseline) on every flavour,
// against the reference, with bias, clamps, caller-owned outputs and resident tensors.
import fc from "fast-check";
import assert from "node:assert/strict";
import { dense, gemm, referenceGemm } from "../mod.ts";
import { assertWithinBound, denseArb, productBound, sizeArb } from "../testing.ts";
import { allBackends } from "./backends.ts";

const backends = await allBackends();

const caseArb = fc.tuple(sizeArb(40), sizeArb(70), sizeArb(70)).chain(([m, k, n]) =>
  fc.record({
    a: denseArb({ rows: m, cols: k }),
    b: denseArb({ rows: k, cols: n }),
    bias: fc.option(
      fc.array(fc.float({ min: -3, max: 3, noNaN: true }), { minLength: m, maxLength: m }),
      {
        nil: undefined,
      },
    ),
    clamp: fc.constantFrom([-Infinity, Infinity], [0, Infinity], [0, 6], [-1, 1]),
  })
);

for (const backend of backends) {
  Deno.test(`${backend.flavour}: gemm matches the reference`, () => {
    fc.assert(
      fc.property(caseArb, ({ a, b, bias, clamp: [min, max] }) => {
        const before = [a.data.slice(), b.data.slice()];
        const want = referenceGemm(a, b, { bias, min, max });
        const bound = productBound(a, b, bias);
        assertWithinBound(gemm(a, b, { backend, bias, min, max }), want, bound, a.cols);
        assert.deepEqual([a.data, b.data], before, "an input was mutated");
        const out = dense(a.rows, b.cols);
        assert.equal(gemm(a, b, { backend, bias, min, max, out }), out);
        assertWithinBound(out, want, bound, a.cols);
        using at = backend.upload(a);
        using bt = backend.upload(b);
        using ct = backend.alloc(a.rows, b.cols);
        assert.equal(backend.gemm(at, bt, { out: ct, bias, min, max }), ct);
        assertWithinBound(ct.read(), want, bound, a.cols);
      }),
      { numRuns: 120 },
    );
  });

  Deno.test(`${backend.flavour}: gemm on MobileNet-like shapes`, () => {
    for (const [m, k, n] of [[64, 32, 300], [128, 128, 49], [24, 200, 33], [7, 513, 17]]) {
      const a = dense(m, k, Array.from({ length: m * k }, (_, i) => Math.sin(i)));
      const b = dense(k, n, Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.7)));
      const bias = Array.from({ length: m }, (_, i) => i / m);
      assertWithinBound(
        gemm(a, b, { backend, bias, min: -4, max: 4 }),
        referenceGemm(a, b, { bias, min: -4, max: 4 }),
        productBound(a, b, bias),
        k,
      );
    }
  });
}
