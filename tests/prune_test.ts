// Tests for magnitude and output-channel block pruning: exact zero counts, the kept entries are
// the largest, ties go by index, blocks are all-or-nothing, and the input is never touched.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Dense, dense } from "../kernels/dense.ts";
import { ShapeError, ValueError } from "../kernels/errors.ts";
import { pruneBlocks, pruneMagnitude } from "../kernels/prune.ts";
import { throwsWith } from "./expect.ts";

const RUNS = { numRuns: 150 };

/**
 * Values with many ties and zeros (small integers of both signs), or arbitrary finite f32s;
 * `zeros: false` keeps zeros out, so the zero count of a result is exactly the pruned count.
 */
function valueArb(zeros = true): fc.Arbitrary<number> {
  const v = fc.oneof(
    fc.integer({ min: -3, max: 3 }),
    fc.float({ noNaN: true, noDefaultInfinity: true }),
  );
  return zeros ? v : v.filter((x) => x !== 0);
}

/** A dense matrix of up to 9x9, zero sizes included. */
function denseArb(zeros = true): fc.Arbitrary<Dense> {
  return fc
    .record({ rows: fc.integer({ min: 0, max: 9 }), cols: fc.integer({ min: 0, max: 9 }) })
    .chain(({ rows, cols }) =>
      fc
        .array(valueArb(zeros), { minLength: rows * cols, maxLength: rows * cols })
        .map((data) => dense(rows, cols, data))
    );
}

const sparsityArb = fc.oneof(
  fc.constantFrom(0, 0.25, 0.5, 0.75, 0.9, 1),
  fc.double({ min: 0, max: 1, noNaN: true }),
);

function zerosIn(data: ArrayLike<number>, from = 0, to = data.length): number {
  let n = 0;
  for (let i = from; i < to; i++) if (data[i] === 0) n++;
  return n;
}

/** The reference: sort positions by (score, position) with a comparator and take the first k. */
function smallest(scores: number[], k: number): Set<number> {
  const order = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  return new Set(order.slice(0, k));
}

function referenceMagnitude(w: Dense, sparsity: number, per: "matrix" | "row"): number[] {
  const out = [...w.data];
  const groups = per === "matrix" ? [[0, out.length]] : Array.from(
    { length: w.rows },
    (_, i) => [i * w.cols, (i + 1) * w.cols],
  );
  for (const [from, to] of groups) {
    const part = out.slice(from, to);
    for (const i of smallest(part.map(Math.abs), Math.round(sparsity * part.length))) {
      out[from + i] = 0;
    }
  }
  return out;
}

/** Copies a Dense so a later comparison shows whether a function wrote to it. */
function copy(w: Dense): Dense {
  return { rows: w.rows, cols: w.cols, data: w.data.slice() };
}

/** Compares element by element with Object.is, so -0 and 0 differ. */
function sameData(got: Float32Array, want: ArrayLike<number>): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Object.is(got[i], want[i]), `element ${i}: got ${got[i]}, want ${want[i]}`);
  }
}

Deno.test("property: pruneMagnitude per matrix zeroes exactly the smallest, ties by index", () => {
  fc.assert(
    fc.property(denseArb(), sparsityArb, (w, s) => {
      const before = copy(w);
      const p = pruneMagnitude(w, s);
      assert.deepEqual(w, before, "input changed");
      assert.notEqual(p.data, w.data);
      assert.equal(p.rows, w.rows);
      assert.equal(p.cols, w.cols);
      sameData(p.data, referenceMagnitude(w, s, "matrix"));
      const k = Math.round(s * w.data.length);
      assert.equal(zerosIn(p.data), Math.max(k, zerosIn(w.data)));
    }),
    RUNS,
  );
});

Deno.test("property: without zeros in the input, exactly round(s * n) entries become zero", () => {
  fc.assert(
    fc.property(denseArb(false), sparsityArb, (w, s) => {
      const p = pruneMagnitude(w, s);
      assert.equal(zerosIn(p.data), Math.round(s * w.data.length));
      // Every kept entry is at least as large as every pruned one, and unchanged.
      let maxPruned = -1;
      let minKept = Infinity;
      for (let i = 0; i < p.data.length; i++) {
        if (p.data[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(w.data[i]));
        else {
          assert.ok(Object.is(p.data[i], w.data[i]));
          minKept = Math.min(minKept, Math.abs(w.data[i]));
        }
      }
      assert.ok(maxPruned <= minKept);
    }),
    RUNS,
  );
});

Deno.test("property: pruneMagnitude per row prunes each row to the same count", () => {
  fc.assert(
    fc.property(denseArb(), sparsityArb, (w, s) => {
      const before = copy(w);
      const p = pruneMagnitude(w, s, { per: "row" });
      assert.deepEqual(w, before, "input changed");
      sameData(p.data, referenceMagnitude(w, s, "row"));
      const k = Math.round(s * w.cols);
      for (let i = 0; i < w.rows; i++) {
        const from = i * w.cols;
        const to = from + w.cols;
        assert.equal(zerosIn(p.data, from, to), Math.max(k, zerosIn(w.data, from, to)));
      }
    }),
    RUNS,
  );
});

Deno.test("pruneMagnitude by hand: ties go to the lower index, signs do not matter", () => {
  const w = dense(2, 3, [0.5, -3, 1, 2, -0.25, 4]);
  assert.deepEqual([...pruneMagnitude(w, 0.5).data], [0, -3, 0, 2, 0, 4]);
  assert.deepEqual([...pruneMagnitude(w, 1 / 3, { per: "row" }).data], [0, -3, 1, 2, 0, 4]);
  const ties = dense(1, 5, [2, -1, 1, -1, 3]);
  assert.deepEqual([...pruneMagnitude(ties, 0.2).data], [2, 0, 1, -1, 3]);
  assert.deepEqual([...pruneMagnitude(ties, 0.4).data], [2, 0, 0, -1, 3]);
  assert.deepEqual([...pruneMagnitude(ties, 0.6).data], [2, 0, 0, 0, 3]);
  // round(0.5 * 3) = 2 (Math.round rounds halves up).
  assert.deepEqual([...pruneMagnitude(dense(1, 3, [3, 2, 1]), 0.5).data], [3, 0, 0]);
  // Existing zeros count among the pruned.
  assert.deepEqual([...pruneMagnitude(dense(1, 4, [5, 0, 1, 2]), 0.5).data], [5, 0, 0, 2]);
});

Deno.test("pruneMagnitude at sparsity 0 and 1, and on empty matrices", () => {
  const w = dense(3, 4, Array.from({ length: 12 }, (_, i) => (i % 5) - 2.5));
  const none = pruneMagnitude(w, 0);
  assert.notEqual(none.data, w.data);
  assert.deepEqual(none, w);
  assert.deepEqual([...pruneMagnitude(w, 1).data], new Array(12).fill(0));
  assert.deepEqual([...pruneMagnitude(w, 1, { per: "row" }).data], new Array(12).fill(0));
  assert.deepEqual(pruneMagnitude(w, 0, { per: "row" }), w);
  for (const [r, c] of [[0, 0], [0, 4], [4, 0]]) {
    for (const per of ["matrix", "row"] as const) {
      const p = pruneMagnitude(dense(r, c), 0.5, { per });
      assert.equal(p.rows, r);
      assert.equal(p.cols, c);
      assert.equal(p.data.length, 0);
    }
  }
  // A plain literal is accepted and left alone.
  const literal = { rows: 1, cols: 2, data: new Float32Array([1, 2]) };
  assert.deepEqual([...pruneMagnitude(literal, 0.5).data], [0, 2]);
  assert.deepEqual([...literal.data], [1, 2]);
});

Deno.test("pruneMagnitude rejects bad arguments", () => {
  const w = dense(2, 2, [1, 2, 3, 4]);
  for (const s of [-0.1, 1.5, NaN, Infinity, -Infinity]) {
    throwsWith(() => pruneMagnitude(w, s), ValueError, { argument: "sparsity", value: s });
  }
  throwsWith(() => pruneMagnitude(w, "0.5" as unknown as number), ValueError, {
    argument: "sparsity",
    value: "0.5",
  });
  throwsWith(
    () => pruneMagnitude(w, 0.5, { per: "column" as unknown as "row" }),
    ValueError,
    { argument: "options.per", value: "column" },
  );
  throwsWith(() => pruneMagnitude(null as unknown as Dense, 0.5), ShapeError, { argument: "w" });
  throwsWith(
    () => pruneMagnitude({ rows: 2, cols: 2, data: new Float32Array(3) }, 0.5),
    ShapeError,
    { argument: "w.data", value: 3 },
  );
  throwsWith(
    () => pruneMagnitude({ rows: 1, cols: 3, data: new Float32Array([1, NaN, 2]) }, 0.5),
    ValueError,
    { argument: "w.data", index: 1 },
  );
});

/** The block of each element: group-major, then column. */
function blockOf(w: Dense, b: number, i: number, j: number): number {
  return Math.floor(i / b) * w.cols + j;
}

function referenceBlocks(w: Dense, sparsity: number, b: number): number[] {
  const blocks = Math.ceil(w.rows / b) * w.cols;
  const norm2 = new Array(blocks).fill(0);
  for (let i = 0; i < w.rows; i++) {
    for (let j = 0; j < w.cols; j++) norm2[blockOf(w, b, i, j)] += w.data[i * w.cols + j] ** 2;
  }
  const pruned = smallest(norm2, Math.round(sparsity * blocks));
  const out = [...w.data];
  for (let i = 0; i < w.rows; i++) {
    for (let j = 0; j < w.cols; j++) if (pruned.has(blockOf(w, b, i, j))) out[i * w.cols + j] = 0;
  }
  return out;
}

const blockArb = fc.constantFrom(1 as const, 2 as const, 4 as const);

Deno.test("property: pruneBlocks zeroes whole blocks of least L2 norm", () => {
  fc.assert(
    fc.property(denseArb(), sparsityArb, blockArb, (w, s, b) => {
      const before = copy(w);
      const p = pruneBlocks(w, s, { block: b });
      assert.deepEqual(w, before, "input changed");
      assert.notEqual(p.data, w.data);
      sameData(p.data, referenceBlocks(w, s, b));
      // Every block is all zero or untouched, and the zero blocks number max(k, already zero).
      const blocks = Math.ceil(w.rows / b) * w.cols;
      const zeroBlocks = new Array(blocks).fill(true);
      const zeroBefore = new Array(blocks).fill(true);
      const changed = new Array(blocks).fill(false);
      for (let i = 0; i < w.rows; i++) {
        for (let j = 0; j < w.cols; j++) {
          const n = i * w.cols + j;
          const k = blockOf(w, b, i, j);
          if (p.data[n] !== 0) zeroBlocks[k] = false;
          if (w.data[n] !== 0) zeroBefore[k] = false;
          if (!Object.is(p.data[n], w.data[n])) changed[k] = true;
        }
      }
      for (let k = 0; k < blocks; k++) assert.ok(!changed[k] || zeroBlocks[k]);
      assert.equal(
        zeroBlocks.filter(Boolean).length,
        Math.max(Math.round(s * blocks), zeroBefore.filter(Boolean).length),
      );
    }),
    RUNS,
  );
});

Deno.test("property: pruneBlocks with block 1 is magnitude pruning per matrix", () => {
  fc.assert(
    fc.property(denseArb(), sparsityArb, (w, s) => {
      sameData(pruneBlocks(w, s, { block: 1 }).data, pruneMagnitude(w, s).data);
    }),
    RUNS,
  );
});

Deno.test("pruneBlocks by hand: partial groups, ties by block index", () => {
  // Blocks (rows 0-1, col 0), (rows 0-1, col 1), (rows 2-3, col 0), (rows 2-3, col 1).
  const w = dense(4, 2, [1, 5, 1, 5, 3, 0.5, 3, 0.5]);
  assert.deepEqual([...pruneBlocks(w, 0.5, { block: 2 }).data], [0, 5, 0, 5, 3, 0, 3, 0]);
  // 5 rows in blocks of 2: the last group is row 4 alone, with smaller norms.
  const odd = dense(5, 2, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(
    [...pruneBlocks(odd, 2 / 6, { block: 2 }).data],
    [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
  );
  // Equal norms: the lower block index goes first (group 0 before group 1).
  const even = dense(4, 1, [1, 1, 1, 1]);
  assert.deepEqual([...pruneBlocks(even, 0.5, { block: 2 }).data], [0, 0, 1, 1]);
  assert.deepEqual([...pruneBlocks(even, 0.5, { block: 4 }).data], [0, 0, 0, 0]);
  // Norm, not the sum of magnitudes: (3, 0) has norm 3 > (2, 2) with norm 2.83.
  const norm = dense(2, 2, [3, 2, 0, 2]);
  assert.deepEqual([...pruneBlocks(norm, 0.5, { block: 2 }).data], [3, 0, 0, 0]);
  // Fewer rows than the block size: one group.
  const short = dense(3, 2, [1, 4, 1, 4, 1, 4]);
  assert.deepEqual([...pruneBlocks(short, 0.5, { block: 4 }).data], [0, 4, 0, 4, 0, 4]);
});

Deno.test("pruneBlocks at sparsity 0 and 1, and on empty matrices", () => {
  const w = dense(5, 3, Array.from({ length: 15 }, (_, i) => i - 7));
  for (const block of [1, 2, 4] as const) {
    const none = pruneBlocks(w, 0, { block });
    assert.notEqual(none.data, w.data);
    assert.deepEqual(none, w);
    assert.deepEqual([...pruneBlocks(w, 1, { block }).data], new Array(15).fill(0));
    for (const [r, c] of [[0, 0], [0, 3], [3, 0]]) {
      const p = pruneBlocks(dense(r, c), 0.5, { block });
      assert.equal(p.rows, r);
      assert.equal(p.cols, c);
      assert.equal(p.data.length, 0);
    }
  }
});

Deno.test("pruneBlocks rejects bad arguments", () => {
  const w = dense(2, 2, [1, 2, 3, 4]);
  for (const block of [0, 3, 8, 2.5, "2", undefined]) {
    throwsWith(
      () => pruneBlocks(w, 0.5, { block: block as unknown as 2 }),
      ValueError,
      { argument: "options.block", value: block },
    );
  }
  throwsWith(
    () => pruneBlocks(w, 0.5, undefined as unknown as { block: 2 }),
    ValueError,
    { argument: "options.block" },
  );
  for (const s of [-1, 2, NaN]) {
    throwsWith(() => pruneBlocks(w, s, { block: 2 }), ValueError, {
      argument: "sparsity",
      value: s,
    });
  }
  throwsWith(() => pruneBlocks(undefined as unknown as Dense, 0.5, { block: 2 }), ShapeError, {
    argument: "w",
  });
  throwsWith(
    () =>
      pruneBlocks({ rows: 1, cols: 2, data: new Float32Array([Infinity, 1]) }, 0.5, {
        block: 1,
      }),
    ValueError,
    { argument: "w.data", index: 0 },
  );
});
