// Tests for the Dense and Csr records: construction, validation at the boundary, and the
// conversions dense <-> csr and coo -> csr, checked against plain dense arithmetic.
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkDense, type Dense, dense } from "../kernels/dense.ts";
import {
  checkCsr,
  type Csr,
  csr,
  csrFromCoo,
  csrFromDense,
  csrToDense,
  nnz,
} from "../kernels/csr.ts";
import { ShapeError, SparseFormatError, ValueError } from "../kernels/errors.ts";
import { throwsWith } from "./expect.ts";

const RUNS = { numRuns: 150 };

/** A finite f32, including zeros of both signs, subnormals and the extremes. */
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });

/** A dense matrix of up to 8x8 (zero sizes included), with a random share of zeros. */
const denseArb: fc.Arbitrary<Dense> = fc
  .record({
    rows: fc.integer({ min: 0, max: 8 }),
    cols: fc.integer({ min: 0, max: 8 }),
    density: fc.constantFrom(0, 0.3, 0.7, 1),
  })
  .chain(({ rows, cols, density }) =>
    fc
      .array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), f32), {
        minLength: rows * cols,
        maxLength: rows * cols,
      })
      .map((cells) =>
        dense(rows, cols, cells.map(([u, v]) => (density === 1 || u < density ? v : 0)))
      )
  );

/** The dense data with -0 read as 0, as a conversion through CSR may store it. */
function plain(data: Float32Array): number[] {
  return [...data].map((v) => v + 0);
}

Deno.test("dense copies its data and defaults to zeros", () => {
  const src = [1, 2, 3, 4, 5, 6];
  const m = dense(2, 3, src);
  src[0] = 99;
  assert.equal(m.rows, 2);
  assert.equal(m.cols, 3);
  assert.ok(m.data instanceof Float32Array);
  assert.deepEqual([...m.data], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...dense(2, 2).data], [0, 0, 0, 0]);
  assert.ok(Object.isFrozen(m));
  for (const [r, c] of [[0, 0], [0, 5], [5, 0]]) {
    const z = dense(r, c);
    assert.equal(z.data.length, 0);
    assert.equal(dense(r, c, []).data.length, 0);
  }
  // Values round to f32.
  assert.equal(dense(1, 1, [0.1]).data[0], Math.fround(0.1));
});

Deno.test("dense rejects bad sizes with a ShapeError naming the size", () => {
  throwsWith(() => dense(-1, 2), ShapeError, { argument: "rows", value: -1 });
  throwsWith(() => dense(2, -3), ShapeError, { argument: "cols", value: -3 });
  throwsWith(() => dense(1.5, 2), ShapeError, { argument: "rows", value: 1.5 });
  throwsWith(() => dense(2, NaN), ShapeError, { argument: "cols" });
  throwsWith(() => dense(Infinity, 1), ShapeError, { argument: "rows", value: Infinity });
  throwsWith(() => dense("2" as unknown as number, 1), ShapeError, {
    argument: "rows",
    value: "2",
  });
  throwsWith(() => dense(2 ** 28 + 1, 1), ShapeError, { argument: "rows", value: 2 ** 28 + 1 });
  // Each size fits, but the product would overflow 32-bit wasm memory.
  throwsWith(() => dense(2 ** 15, 2 ** 14), ShapeError, {
    argument: "rows * cols",
    value: 2 ** 29,
  });
});

Deno.test("dense rejects bad data: wrong length, not an array, not finite", () => {
  throwsWith(() => dense(2, 2, [1, 2, 3]), ShapeError, { argument: "data", value: 3 });
  throwsWith(() => dense(1, 1, [1, 2]), ShapeError, { argument: "data", value: 2 });
  throwsWith(() => dense(1, 1, 5 as unknown as number[]), ShapeError, {
    argument: "data",
    value: 5,
  });
  throwsWith(() => dense(1, 2, [1, NaN]), ValueError, { argument: "data", index: 1 });
  throwsWith(() => dense(1, 3, [1, 2, Infinity]), ValueError, {
    argument: "data",
    index: 2,
    value: Infinity,
  });
  throwsWith(() => dense(1, 1, [-Infinity]), ValueError, { argument: "data", index: 0 });
  throwsWith(() => dense(1, 2, [0, 1e39]), ValueError, {
    argument: "data",
    index: 1,
    value: 1e39,
  });
  throwsWith(() => dense(1, 2, new Float64Array([0, NaN])), ValueError, {
    argument: "data",
    index: 1,
  });
});

Deno.test("checkDense accepts a literal and rejects malformed ones", () => {
  const ok = { rows: 1, cols: 2, data: new Float32Array(2) };
  assert.equal(checkDense("x", ok), ok);
  throwsWith(() => checkDense("x", null), ShapeError, { argument: "x", value: null });
  throwsWith(() => checkDense("x", { rows: 1, cols: 2, data: [0, 0] }), ShapeError, {
    argument: "x.data",
  });
  throwsWith(
    () => checkDense("x", { rows: 1, cols: 2, data: new Float32Array(3) }),
    ShapeError,
    { argument: "x.data", value: 3 },
  );
  throwsWith(() => checkDense("x", { rows: -1, cols: 2, data: new Float32Array(0) }), ShapeError, {
    argument: "x.rows",
    value: -1,
  });
  throwsWith(
    () => checkDense("x", { rows: 2 ** 15, cols: 2 ** 14, data: new Float32Array(0) }),
    ShapeError,
    { argument: "x.rows * x.cols", value: 2 ** 29 },
  );
});

Deno.test("csr builds a validated record and copies its arrays", () => {
  const ptr = [0, 1, 3];
  const idx = [1, 0, 2];
  const val = [5, 7, 8];
  const a = csr(2, 3, ptr, idx, val);
  ptr[1] = 0;
  idx[0] = 2;
  val[0] = 1;
  assert.ok(a.rowPtr instanceof Int32Array);
  assert.ok(a.colIdx instanceof Int32Array);
  assert.ok(a.values instanceof Float32Array);
  assert.deepEqual([...a.rowPtr], [0, 1, 3]);
  assert.deepEqual([...a.colIdx], [1, 0, 2]);
  assert.deepEqual([...a.values], [5, 7, 8]);
  assert.equal(nnz(a), 3);
  assert.deepEqual([...csrToDense(a).data], [0, 5, 0, 7, 0, 8]);
  assert.ok(Object.isFrozen(a));
  // Zero sizes and empty rows.
  assert.equal(nnz(csr(0, 0, [0], [], [])), 0);
  assert.equal(nnz(csr(0, 4, [0], [], [])), 0);
  assert.equal(csrToDense(csr(3, 0, [0, 0, 0, 0], [], [])).data.length, 0);
  assert.deepEqual([...csrToDense(csr(3, 2, [0, 0, 1, 1], [1], [4])).data], [0, 0, 0, 4, 0, 0]);
  // Explicit zeros are kept.
  assert.equal(nnz(csr(1, 2, [0, 1], [0], [0])), 1);
});

Deno.test("csr rejects bad sizes and lengths with a ShapeError", () => {
  throwsWith(() => csr(-1, 2, [0], [], []), ShapeError, { argument: "rows", value: -1 });
  throwsWith(() => csr(1, 0.5, [0, 0], [], []), ShapeError, { argument: "cols", value: 0.5 });
  throwsWith(() => csr(2 ** 28 + 1, 1, [0], [], []), ShapeError, {
    argument: "rows",
    value: 2 ** 28 + 1,
  });
  throwsWith(() => csr(2, 2, [0, 1], [0], [1]), ShapeError, { argument: "rowPtr", value: 2 });
  throwsWith(() => csr(1, 2, [0, 2], [0], [1, 2]), ShapeError, { argument: "colIdx", value: 1 });
  throwsWith(() => csr(1, 2, [0, 2], [0, 1], [1]), ShapeError, { argument: "values", value: 1 });
  throwsWith(() => csr(1, 2, null as unknown as number[], [], []), ShapeError, {
    argument: "rowPtr",
  });
  throwsWith(() => csr(1, 1, [0, 2 ** 28 + 1], [], []), ShapeError, {
    argument: "rowPtr[rows] (nnz)",
    value: 2 ** 28 + 1,
  });
});

Deno.test("csr rejects malformed row pointers with a SparseFormatError", () => {
  throwsWith(() => csr(1, 2, [1, 1], [0], [1]), SparseFormatError, {
    argument: "rowPtr",
    index: 0,
    value: 1,
  });
  throwsWith(() => csr(3, 3, [0, 2, 1, 2], [0, 1], [1, 2]), SparseFormatError, {
    argument: "rowPtr",
    index: 2,
    value: 1,
  });
  throwsWith(() => csr(2, 2, [0, -1, 1], [0], [1]), SparseFormatError, {
    argument: "rowPtr",
    index: 1,
    value: -1,
  });
  throwsWith(() => csr(1, 2, [0, 1.5], [0], [1]), SparseFormatError, {
    argument: "rowPtr",
    index: 1,
    value: 1.5,
  });
  throwsWith(() => csr(1, 2, [0, NaN], [], []), SparseFormatError, {
    argument: "rowPtr",
    index: 1,
  });
});

Deno.test("csr rejects malformed column indices with a SparseFormatError", () => {
  // Out of range.
  throwsWith(() => csr(2, 3, [0, 1, 2], [0, 3], [1, 2]), SparseFormatError, {
    argument: "colIdx",
    index: 1,
    value: 3,
  });
  // Negative and non-integer.
  throwsWith(() => csr(1, 3, [0, 2], [0, -1], [1, 2]), SparseFormatError, {
    argument: "colIdx",
    index: 1,
    value: -1,
  });
  throwsWith(() => csr(1, 3, [0, 1], [0.5], [1]), SparseFormatError, {
    argument: "colIdx",
    index: 0,
    value: 0.5,
  });
  // Unsorted and duplicated within a row.
  throwsWith(() => csr(1, 3, [0, 3], [0, 2, 1], [1, 2, 3]), SparseFormatError, {
    argument: "colIdx",
    index: 2,
    value: 1,
  });
  throwsWith(() => csr(2, 3, [0, 1, 3], [2, 1, 1], [1, 2, 3]), SparseFormatError, {
    argument: "colIdx",
    index: 2,
    value: 1,
  });
  // A decreasing column across a row boundary is fine.
  assert.equal(nnz(csr(2, 3, [0, 1, 2], [2, 0], [1, 2])), 2);
});

Deno.test("csr rejects values that are not finite f32 with a ValueError", () => {
  throwsWith(() => csr(1, 3, [0, 2], [0, 2], [1, NaN]), ValueError, {
    argument: "values",
    index: 1,
  });
  throwsWith(() => csr(1, 3, [0, 2], [0, 2], [Infinity, 1]), ValueError, {
    argument: "values",
    index: 0,
    value: Infinity,
  });
  throwsWith(() => csr(1, 3, [0, 1], [1], [-Infinity]), ValueError, {
    argument: "values",
    index: 0,
    value: -Infinity,
  });
  throwsWith(() => csr(1, 3, [0, 1], [1], [-1e40]), ValueError, {
    argument: "values",
    index: 0,
    value: -1e40,
  });
});

Deno.test("checkCsr checks a literal's types, lengths and structure", () => {
  const good = {
    rows: 2,
    cols: 2,
    rowPtr: new Int32Array([0, 1, 2]),
    colIdx: new Int32Array([1, 0]),
    values: new Float32Array([1, 2]),
  };
  assert.equal(checkCsr("a", good), good);
  throwsWith(() => checkCsr("a", undefined), ShapeError, { argument: "a" });
  throwsWith(() => checkCsr("a", { ...good, rowPtr: [0, 1, 2] }), ShapeError, {
    argument: "a.rowPtr",
  });
  throwsWith(() => checkCsr("a", { ...good, values: new Float64Array(2) }), ShapeError, {
    argument: "a.values",
  });
  throwsWith(() => checkCsr("a", { ...good, rowPtr: new Int32Array([0, 2]) }), ShapeError, {
    argument: "a.rowPtr",
    value: 2,
  });
  throwsWith(() => checkCsr("a", { ...good, values: new Float32Array(1) }), ShapeError, {
    argument: "a.values",
    value: 1,
  });
  throwsWith(
    () => checkCsr("a", { ...good, rowPtr: new Int32Array([0, 1, 1]) }),
    SparseFormatError,
    { argument: "a.rowPtr", index: 2, value: 1 },
  );
  // A negative column in an Int32Array never passes through csr()'s own check.
  throwsWith(
    () => checkCsr("a", { ...good, colIdx: new Int32Array([-1, 0]) }),
    SparseFormatError,
    { argument: "a.colIdx", index: 0, value: -1 },
  );
  throwsWith(
    () => checkCsr("a", { ...good, colIdx: new Int32Array([1, 2]) }),
    SparseFormatError,
    { argument: "a.colIdx", index: 1, value: 2 },
  );
});

Deno.test("csrToDense refuses a matrix too large to expand", () => {
  const big = csr(2 ** 15, 2 ** 14, new Int32Array(2 ** 15 + 1), [], []);
  throwsWith(() => csrToDense(big), ShapeError, { argument: "a.rows * a.cols", value: 2 ** 29 });
});

Deno.test("property: dense -> csr -> dense is the identity (up to the sign of zero)", () => {
  fc.assert(
    fc.property(denseArb, (d) => {
      const a = csrFromDense(d);
      checkCsr("a", a);
      const back = csrToDense(a);
      assert.equal(back.rows, d.rows);
      assert.equal(back.cols, d.cols);
      assert.deepEqual(plain(back.data), plain(d.data));
      assert.equal(nnz(a), [...d.data].filter((v) => v !== 0).length);
      assert.ok(a.values.every((v) => v !== 0));
    }),
    RUNS,
  );
});

Deno.test("property: csrFromDense drops entries at or below the threshold", () => {
  fc.assert(
    fc.property(denseArb, fc.float({ min: 0, max: 10, noNaN: true }), (d, t) => {
      const back = csrToDense(csrFromDense(d, { threshold: t }));
      const want = [...d.data].map((v) => (Math.abs(v) > t ? v : 0));
      assert.deepEqual(plain(back.data), want);
    }),
    RUNS,
  );
});

Deno.test("csrFromDense rejects a negative or NaN threshold and a bad matrix", () => {
  const d = dense(1, 2, [1, 2]);
  throwsWith(() => csrFromDense(d, { threshold: -1 }), ValueError, {
    argument: "options.threshold",
    value: -1,
  });
  throwsWith(() => csrFromDense(d, { threshold: NaN }), ValueError, {
    argument: "options.threshold",
  });
  throwsWith(() => csrFromDense({ rows: 1, cols: 1, data: [1] } as unknown as Dense), ShapeError, {
    argument: "d.data",
  });
});

/** The triplets of a Csr, in row order. */
function triplets(a: Csr): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < a.rows; i++) {
    for (let k = a.rowPtr[i]; k < a.rowPtr[i + 1]; k++) out.push([i, a.colIdx[k], a.values[k]]);
  }
  return out;
}

Deno.test("property: csrFromCoo of shuffled triplets rebuilds the same csr", () => {
  fc.assert(
    fc.property(
      denseArb.chain((d) => {
        const a = csrFromDense(d);
        return fc.tuple(fc.constant(a), fc.shuffledSubarray(triplets(a), { minLength: nnz(a) }));
      }),
      ([a, shuffled]) => {
        const b = csrFromCoo(
          a.rows,
          a.cols,
          shuffled.map((t) => t[0]),
          shuffled.map((t) => t[1]),
          shuffled.map((t) => t[2]),
        );
        assert.deepEqual(b, a);
      },
    ),
    RUNS,
  );
});

Deno.test('property: csrFromCoo with duplicates "sum" adds them in the order given', () => {
  const arb = fc
    .record({ rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 5 }) })
    .chain(({ rows, cols }) =>
      fc.tuple(
        fc.constant(rows),
        fc.constant(cols),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: rows - 1 }),
            fc.integer({ min: 0, max: cols - 1 }),
            fc.float({ min: -100, max: 100, noNaN: true }),
          ),
          { maxLength: 40 },
        ),
      )
    );
  fc.assert(
    fc.property(arb, ([rows, cols, ts]) => {
      const a = csrFromCoo(
        rows,
        cols,
        ts.map((t) => t[0]),
        ts.map((t) => t[1]),
        ts.map((t) => t[2]),
        { duplicates: "sum" },
      );
      checkCsr("a", a);
      const want = new Float32Array(rows * cols);
      const seen = new Set<number>();
      for (const [r, c, v] of ts) {
        want[r * cols + c] += v;
        seen.add(r * cols + c);
      }
      assert.equal(nnz(a), seen.size);
      assert.deepEqual(plain(csrToDense(a).data), plain(want));
    }),
    RUNS,
  );
});

Deno.test('csrFromCoo with duplicates "error" names the second occurrence', () => {
  throwsWith(
    () => csrFromCoo(3, 3, [2, 0, 1, 0], [1, 2, 0, 2], [1, 2, 3, 4]),
    SparseFormatError,
    { argument: "colIdx", index: 3, value: 2 },
  );
  throwsWith(
    () => csrFromCoo(3, 3, [1, 1], [1, 1], [1, 2], { duplicates: "error" }),
    SparseFormatError,
    { argument: "colIdx", index: 1, value: 1 },
  );
  // The same pair summed instead.
  const a = csrFromCoo(3, 3, [1, 1], [1, 1], [1, 2], { duplicates: "sum" });
  assert.deepEqual([...a.values], [3]);
});

Deno.test("csrFromCoo rejects bad indices, lengths, values and options", () => {
  throwsWith(() => csrFromCoo(2, 2, [0, 2], [0, 0], [1, 1]), SparseFormatError, {
    argument: "rowIdx",
    index: 1,
    value: 2,
  });
  throwsWith(() => csrFromCoo(2, 2, [0, 1], [0, 5], [1, 1]), SparseFormatError, {
    argument: "colIdx",
    index: 1,
    value: 5,
  });
  throwsWith(() => csrFromCoo(2, 2, [-1], [0], [1]), SparseFormatError, {
    argument: "rowIdx",
    index: 0,
    value: -1,
  });
  throwsWith(() => csrFromCoo(2, 2, [0], [0.5], [1]), SparseFormatError, {
    argument: "colIdx",
    index: 0,
    value: 0.5,
  });
  throwsWith(() => csrFromCoo(2, 2, [0, 1], [0], [1, 1]), ShapeError, {
    argument: "colIdx",
    value: 1,
  });
  throwsWith(() => csrFromCoo(2, 2, [0, 1], [0, 1], [1]), ShapeError, {
    argument: "values",
    value: 1,
  });
  throwsWith(() => csrFromCoo(2, 2, 7 as unknown as number[], [], []), ShapeError, {
    argument: "rowIdx",
    value: 7,
  });
  throwsWith(() => csrFromCoo(-2, 2, [], [], []), ShapeError, { argument: "rows", value: -2 });
  throwsWith(() => csrFromCoo(2, 2.5, [], [], []), ShapeError, { argument: "cols", value: 2.5 });
  throwsWith(() => csrFromCoo(2, 2, [0, 1], [0, 1], [1, NaN]), ValueError, {
    argument: "values",
    index: 1,
  });
  throwsWith(() => csrFromCoo(2, 2, [0], [1], [Infinity]), ValueError, {
    argument: "values",
    index: 0,
    value: Infinity,
  });
  throwsWith(
    () =>
      csrFromCoo(1, 1, [0], [0], [1], {
        duplicates: "max" as unknown as "sum",
      }),
    ValueError,
    { argument: "options.duplicates", value: "max" },
  );
  // Two values that fit f32 but whose sum does not.
  throwsWith(
    () => csrFromCoo(1, 1, [0, 0], [0, 0], [3e38, 3e38], { duplicates: "sum" }),
    ValueError,
    { argument: "values" },
  );
  // Empty input, zero sizes.
  assert.equal(nnz(csrFromCoo(0, 0, [], [], [])), 0);
  assert.deepEqual([...csrFromCoo(3, 1, [], [], []).rowPtr], [0, 0, 0, 0]);
});
