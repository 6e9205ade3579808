// Tests for Matrix Market reading and writing: exact round trips for every field and symmetry,
// small files parsed by hand, and a typed error naming the line for every kind of bad file.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Csr, csr, csrFromCoo, csrFromDense, csrToDense, nnz } from "../kernels/csr.ts";
import { dense } from "../kernels/dense.ts";
import { ShapeError, SparseFormatError, ValueError } from "../kernels/errors.ts";
import { readMatrixMarket, writeMatrixMarket } from "../kernels/matrix_market.ts";
import { type Expected, throwsWith } from "./expect.ts";

const RUNS = { numRuns: 150 };

/** Asserts that reading `text` fails with `type` at line `line`, optionally with `value`. */
function badFile(
  text: string,
  type: new (...args: never[]) => Error,
  line: number,
  value?: string,
): void {
  const expected: Expected = { argument: "text", index: line };
  if (value !== undefined) expected.value = value;
  throwsWith(() => readMatrixMarket(text), type, expected);
}

/** A finite f32, including zeros of both signs, subnormals and the extremes. */
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });

/** An f32 that is an integer: small ones, and large ones up to the f32 maximum. */
const f32Integer = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  f32.map((v) => Math.fround(Math.trunc(v))),
);

/** A Csr of up to 8x8 (zero sizes, empty rows and fully dense ones included). */
function csrArb(value: fc.Arbitrary<number>, square = false): fc.Arbitrary<Csr> {
  return fc
    .record({
      rows: fc.integer({ min: 0, max: 8 }),
      cols: fc.integer({ min: 0, max: 8 }),
      density: fc.constantFrom(0, 0.2, 0.6, 1),
    })
    .chain(({ rows, cols, density }) => {
      const c = square ? rows : cols;
      return fc
        .array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), value), {
          minLength: rows * c,
          maxLength: rows * c,
        })
        .map((cells) => {
          const r: number[] = [];
          const k: number[] = [];
          const v: number[] = [];
          cells.forEach(([u, x], n) => {
            if (density === 1 || u < density) {
              r.push(Math.floor(n / c));
              k.push(n % c);
              v.push(x);
            }
          });
          return csrFromCoo(rows, c, r, k, v);
        });
    });
}

/** A symmetric Csr: a random lower triangle, mirrored. */
function symmetricArb(value: fc.Arbitrary<number>): fc.Arbitrary<Csr> {
  return csrArb(value, true).map((a) => {
    const r: number[] = [];
    const c: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < a.rows; i++) {
      for (let k = a.rowPtr[i]; k < a.rowPtr[i + 1]; k++) {
        const j = a.colIdx[k];
        if (j > i) continue;
        r.push(i), c.push(j), v.push(a.values[k]);
        if (j < i) r.push(j), c.push(i), v.push(a.values[k]);
      }
    }
    return csrFromCoo(a.rows, a.cols, r, c, v);
  });
}

/** The entry lines of a written file: what follows the banner, comments and the size line. */
function entryLines(text: string): string[] {
  const lines = text.split("\n").filter((l) => l !== "" && !l.startsWith("%"));
  return lines.slice(1);
}

Deno.test("property: real general files round-trip every f32 exactly", () => {
  fc.assert(
    fc.property(csrArb(f32), (a) => {
      const text = writeMatrixMarket(a);
      assert.ok(text.startsWith("%%MatrixMarket matrix coordinate real general\n"));
      assert.ok(text.endsWith("\n"));
      assert.equal(entryLines(text).length, nnz(a));
      const b = readMatrixMarket(text);
      // Bit for bit, -0 included.
      assert.deepEqual(b, a);
      assert.deepEqual(
        new Uint32Array(b.values.buffer),
        new Uint32Array(a.values.buffer),
      );
    }),
    RUNS,
  );
});

Deno.test("property: a real value is written with the fewest digits that read back", () => {
  fc.assert(
    fc.property(f32, (v) => {
      const text = writeMatrixMarket(csr(1, 1, [0, 1], [0], [v]));
      const token = entryLines(text)[0].split(" ")[2];
      assert.ok(Object.is(Math.fround(Number(token)), v), `${v} written as ${token}`);
      const digits = token.replace(/^-/, "").replace(/e.*$/, "").replace(".", "")
        .replace(/^0+|0+$/g, "");
      // No f32 needs more than 9 significant digits.
      assert.ok(digits.length <= 9, token);
    }),
    { numRuns: 500 },
  );
  const one = (v: number) => entryLines(writeMatrixMarket(csr(1, 1, [0, 1], [0], [v])))[0];
  assert.equal(one(0.1), "1 1 0.1");
  assert.equal(one(-2.5), "1 1 -2.5");
  assert.equal(one(-0), "1 1 -0");
  assert.equal(one(0), "1 1 0");
  assert.equal(one(1 / 3), "1 1 0.33333334");
  assert.equal(one(3.4028234663852886e38), "1 1 3.4028235e+38");
  assert.equal(one(2 ** -149), "1 1 1e-45");
});

Deno.test("property: integer files round-trip integer values, however large", () => {
  fc.assert(
    fc.property(csrArb(f32Integer), (a) => {
      const text = writeMatrixMarket(a, { field: "integer" });
      assert.ok(text.startsWith("%%MatrixMarket matrix coordinate integer general\n"));
      for (const line of entryLines(text)) assert.match(line, /^\d+ \d+ -?\d+$/);
      assert.deepEqual(csrToDense(readMatrixMarket(text)), csrToDense(a));
    }),
    RUNS,
  );
  const text = writeMatrixMarket(csr(1, 2, [0, 2], [0, 1], [2 ** 100, -(2 ** 70)]), {
    field: "integer",
  });
  assert.equal(
    entryLines(text).join("|"),
    "1 1 1267650600228229401496703205376|1 2 -1180591620717411303424",
  );
  assert.deepEqual([...readMatrixMarket(text).values], [2 ** 100, -(2 ** 70)]);
});

Deno.test("property: pattern files keep the structure and read back as ones", () => {
  fc.assert(
    fc.property(csrArb(f32), (a) => {
      const text = writeMatrixMarket(a, { field: "pattern" });
      assert.ok(text.startsWith("%%MatrixMarket matrix coordinate pattern general\n"));
      for (const line of entryLines(text)) assert.match(line, /^\d+ \d+$/);
      const b = readMatrixMarket(text);
      assert.deepEqual(b.rowPtr, a.rowPtr);
      assert.deepEqual(b.colIdx, a.colIdx);
      assert.ok(b.values.every((v) => v === 1));
    }),
    RUNS,
  );
});

Deno.test("property: symmetric files store the lower triangle and round-trip", () => {
  for (const field of ["real", "integer", "pattern"] as const) {
    fc.assert(
      fc.property(symmetricArb(field === "integer" ? f32Integer : f32), (a) => {
        const text = writeMatrixMarket(a, { field, symmetry: "symmetric" });
        assert.ok(text.startsWith(`%%MatrixMarket matrix coordinate ${field} symmetric\n`));
        const entries = entryLines(text);
        let diagonal = 0;
        for (const line of entries) {
          const [i, j] = line.split(" ").map(Number);
          assert.ok(i >= j, `above the diagonal: ${line}`);
          if (i === j) diagonal++;
        }
        assert.equal(nnz(a), 2 * entries.length - diagonal);
        const b = readMatrixMarket(text);
        assert.deepEqual(b.rowPtr, a.rowPtr);
        assert.deepEqual(b.colIdx, a.colIdx);
        if (field === "pattern") assert.ok(b.values.every((v) => v === 1));
        else assert.deepEqual(b.values, a.values);
      }),
      { numRuns: 60 },
    );
  }
});

Deno.test("writeMatrixMarket writes sizes, comments and empty matrices", () => {
  assert.equal(
    writeMatrixMarket(csr(0, 0, [0], [], [])),
    "%%MatrixMarket matrix coordinate real general\n0 0 0\n",
  );
  assert.equal(
    writeMatrixMarket(csr(3, 0, [0, 0, 0, 0], [], []), { field: "pattern" }),
    "%%MatrixMarket matrix coordinate pattern general\n3 0 0\n",
  );
  const a = csr(2, 3, [0, 1, 3], [1, 0, 2], [5, 7, 8]);
  const text = writeMatrixMarket(a, { comment: "made by sparsekit\n\nsecond line" });
  assert.equal(
    text,
    "%%MatrixMarket matrix coordinate real general\n" +
      "% made by sparsekit\n%\n% second line\n" +
      "2 3 3\n1 2 5\n2 1 7\n2 3 8\n",
  );
  assert.deepEqual(readMatrixMarket(text), a);
  // A symmetric matrix whose upper triangle holds an explicit zero the lower one lacks.
  const s = csr(2, 2, [0, 2, 3], [0, 1, 1], [1, 0, 4]);
  const st = writeMatrixMarket(s, { symmetry: "symmetric" });
  assert.equal(st, "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n1 1 1\n2 2 4\n");
  assert.deepEqual(csrToDense(readMatrixMarket(st)), csrToDense(s));
});

Deno.test("writeMatrixMarket rejects what it cannot write", () => {
  const a = csr(2, 2, [0, 1, 2], [1, 0], [1, 2]);
  throwsWith(() => writeMatrixMarket(a, { symmetry: "symmetric" }), ValueError, {
    argument: "a",
    index: 0,
  });
  // Structure symmetric, values not; a pattern only needs the structure.
  assert.equal(
    writeMatrixMarket(a, { field: "pattern", symmetry: "symmetric" }),
    "%%MatrixMarket matrix coordinate pattern symmetric\n2 2 1\n2 1\n",
  );
  const lower = csr(2, 2, [0, 0, 1], [0], [3]);
  throwsWith(() => writeMatrixMarket(lower, { symmetry: "symmetric" }), ValueError, {
    argument: "a",
    index: 0,
    value: 3,
  });
  throwsWith(
    () => writeMatrixMarket(lower, { field: "pattern", symmetry: "symmetric" }),
    ValueError,
    { argument: "a", index: 0 },
  );
  throwsWith(
    () => writeMatrixMarket(csr(2, 3, [0, 0, 0], [], []), { symmetry: "symmetric" }),
    ValueError,
    { argument: "a", value: "2x3" },
  );
  throwsWith(
    () => writeMatrixMarket(csr(1, 3, [0, 2], [0, 2], [1, 2.5]), { field: "integer" }),
    ValueError,
    { argument: "a.values", index: 1, value: 2.5 },
  );
  throwsWith(
    () => writeMatrixMarket(a, { field: "complex" as unknown as "real" }),
    ValueError,
    { argument: "options.field", value: "complex" },
  );
  throwsWith(
    () => writeMatrixMarket(a, { symmetry: "hermitian" as unknown as "general" }),
    ValueError,
    { argument: "options.symmetry", value: "hermitian" },
  );
  throwsWith(
    () => writeMatrixMarket(a, { comment: 5 as unknown as string }),
    ValueError,
    { argument: "options.comment", value: 5 },
  );
  const nan = {
    rows: 1,
    cols: 1,
    rowPtr: new Int32Array([0, 1]),
    colIdx: new Int32Array([0]),
    values: new Float32Array([NaN]),
  };
  throwsWith(() => writeMatrixMarket(nan), ValueError, { argument: "a.values", index: 0 });
  throwsWith(() => writeMatrixMarket({ ...nan, colIdx: new Int32Array([1]) }), SparseFormatError, {
    argument: "a.colIdx",
    index: 0,
  });
  throwsWith(() => writeMatrixMarket(null as unknown as Csr), ShapeError, { argument: "a" });
});

Deno.test("readMatrixMarket parses small files written by hand", () => {
  const general = readMatrixMarket(
    "%%MatrixMarket matrix coordinate real general\n" +
      "% a comment\n" +
      "%\n" +
      "3 4 4\n" +
      "3 4 1.5e-3\n" +
      "1 1 -2E+2\n" +
      "2 3 .5\n" +
      "1 4 5.\n",
  );
  assert.equal(general.rows, 3);
  assert.equal(general.cols, 4);
  assert.deepEqual([...general.rowPtr], [0, 2, 3, 4]);
  assert.deepEqual([...general.colIdx], [0, 3, 2, 3]);
  assert.deepEqual([...general.values], [-200, 5, 0.5, Math.fround(1.5e-3)]);

  // Case-insensitive banner, CRLF, tabs, blank and comment lines anywhere, no final newline.
  const loose = readMatrixMarket(
    "%%matrixmarket MATRIX Coordinate Real General\r\n\r\n% c\r\n  2\t2   2  \r\n" +
      "\r\n1\t1\t+3\r\n% between\r\n  2 2 -4",
  );
  assert.deepEqual([...csrToDense(loose).data], [3, 0, 0, -4]);

  const symmetric = readMatrixMarket(
    "%%MatrixMarket matrix coordinate real symmetric\n3 3 4\n1 1 1\n2 1 2\n3 2 3\n3 3 4\n",
  );
  assert.deepEqual([...csrToDense(symmetric).data], [1, 2, 0, 2, 0, 3, 0, 3, 4]);
  assert.equal(nnz(symmetric), 6);

  const pattern = readMatrixMarket(
    "%%MatrixMarket matrix coordinate pattern general\n2 3 2\n2 3\n1 2\n",
  );
  assert.deepEqual([...csrToDense(pattern).data], [0, 1, 0, 0, 0, 1]);

  const patternSymmetric = readMatrixMarket(
    "%%MatrixMarket matrix coordinate pattern symmetric\n2 2 1\n2 1\n",
  );
  assert.deepEqual([...csrToDense(patternSymmetric).data], [0, 1, 1, 0]);

  const integer = readMatrixMarket(
    "%%MatrixMarket matrix coordinate integer general\n2 2 3\n1 1 -7\n2 2 12\n1 2 3.0\n",
  );
  assert.deepEqual([...csrToDense(integer).data], [-7, 3, 0, 12]);

  const empty = readMatrixMarket("%%MatrixMarket matrix coordinate real general\n0 0 0\n");
  assert.deepEqual(empty, csr(0, 0, [0], [], []));
  const noRows = readMatrixMarket("%%MatrixMarket matrix coordinate real general\n0 5 0");
  assert.deepEqual(noRows, csr(0, 5, [0], [], []));
  const zeros = readMatrixMarket("%%MatrixMarket matrix coordinate real general\n2 2 0\n");
  assert.deepEqual(zeros, csrFromDense(dense(2, 2)));
  // Explicit zeros are stored.
  const explicit = readMatrixMarket("%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 0");
  assert.equal(nnz(explicit), 1);
});

Deno.test("readMatrixMarket rejects a bad banner", () => {
  badFile("", SparseFormatError, 1, "");
  badFile("2 2 0\n", SparseFormatError, 1, "2 2 0");
  badFile("%%MatrixMarket matrix coordinate real\n1 1 0\n", SparseFormatError, 1);
  badFile(
    "%%MatrixMarket matrix coordinate real general extra\n1 1 0\n",
    SparseFormatError,
    1,
  );
  badFile("%MatrixMarket matrix coordinate real general\n1 1 0\n", SparseFormatError, 1);
  badFile("%%MatrixMarket vector coordinate real general\n1 1 0\n", SparseFormatError, 1);
  badFile("%%MatrixMarket matrix sparse real general\n1 1 0\n", SparseFormatError, 1, "sparse");
  badFile("%%MatrixMarket matrix coordinate float general\n1 1 0\n", SparseFormatError, 1, "float");
  badFile("%%MatrixMarket matrix coordinate real lower\n1 1 0\n", SparseFormatError, 1, "lower");
  // The banner must come first.
  badFile(
    "% comment\n%%MatrixMarket matrix coordinate real general\n1 1 0\n",
    SparseFormatError,
    1,
  );
  throwsWith(() => readMatrixMarket(42 as unknown as string), SparseFormatError, {
    argument: "text",
    value: 42,
  });
});

Deno.test("readMatrixMarket says which formats it does not support", () => {
  for (
    const [banner, token] of [
      ["%%MatrixMarket matrix array real general", "array"],
      ["%%MatrixMarket matrix coordinate complex general", "complex"],
      ["%%MatrixMarket matrix coordinate real hermitian", "hermitian"],
      ["%%MatrixMarket matrix coordinate real skew-symmetric", "skew-symmetric"],
      ["%%MatrixMarket matrix Array Real General", "array"],
    ]
  ) {
    badFile(`${banner}\n1 1 0\n`, ValueError, 1, token);
    assert.throws(() => readMatrixMarket(`${banner}\n1 1 0\n`), /unsupported/);
  }
});

Deno.test("readMatrixMarket rejects a bad size line", () => {
  const b = "%%MatrixMarket matrix coordinate real general\n";
  badFile(b, SparseFormatError, 2, "");
  badFile(`${b}% only a comment\n`, SparseFormatError, 3, "");
  badFile(`${b}2 2\n`, SparseFormatError, 2, "2 2");
  badFile(`${b}% c\n2 2 1 1\n1 1 1\n`, SparseFormatError, 3, "2 2 1 1");
  badFile(`${b}2 -2 0\n`, SparseFormatError, 2, "2 -2 0");
  badFile(`${b}2 2.5 0\n`, SparseFormatError, 2);
  badFile(`${b}two 2 0\n`, SparseFormatError, 2);
  badFile(`${b}268435457 1 0\n`, ShapeError, 2, "268435457");
  badFile(
    "%%MatrixMarket matrix coordinate real symmetric\n2 3 0\n",
    ShapeError,
    2,
    "2 3 0",
  );
});

Deno.test("readMatrixMarket rejects the wrong number of entries", () => {
  const b = "%%MatrixMarket matrix coordinate real general\n2 2 2\n";
  // Too few: the error points one past the last line.
  badFile(`${b}1 1 1\n`, SparseFormatError, 4, "");
  badFile(`${b}1 1 1\n% trailing comment\n\n`, SparseFormatError, 6, "");
  badFile(`${b}1 1 1`, SparseFormatError, 4, "");
  // Too many: the error points at the first extra one.
  badFile(`${b}1 1 1\n2 2 2\n% c\n1 2 3\n`, SparseFormatError, 6, "1 2 3");
  // A huge declared count does not make the reader allocate for it.
  badFile(
    "%%MatrixMarket matrix coordinate real general\n1 1 268435456\n1 1 1\n",
    SparseFormatError,
    4,
  );
});

Deno.test("readMatrixMarket rejects malformed entries and indices", () => {
  const b = "%%MatrixMarket matrix coordinate real general\n% c\n2 3 1\n";
  badFile(`${b}1 1\n`, SparseFormatError, 4, "1 1");
  badFile(`${b}1 1 1 1\n`, SparseFormatError, 4, "1 1 1 1");
  badFile(`${b}0 1 1\n`, SparseFormatError, 4, "0");
  badFile(`${b}3 1 1\n`, SparseFormatError, 4, "3");
  badFile(`${b}1 4 1\n`, SparseFormatError, 4, "4");
  badFile(`${b}1 0 1\n`, SparseFormatError, 4, "0");
  badFile(`${b}-1 1 1\n`, SparseFormatError, 4, "-1");
  badFile(`${b}1.5 1 1\n`, SparseFormatError, 4, "1.5");
  badFile(`${b}1 1e0 1\n`, SparseFormatError, 4, "1e0");
  badFile(`${b}1 x 1\n`, SparseFormatError, 4, "x");
  badFile(`${b}1 1 abc\n`, SparseFormatError, 4, "abc");
  badFile(`${b}1 1 0x10\n`, SparseFormatError, 4, "0x10");
  badFile(
    "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n",
    SparseFormatError,
    3,
    "1 1 1",
  );
});

Deno.test("readMatrixMarket rejects values that are not finite f32", () => {
  const b = "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n";
  for (const token of ["nan", "NaN", "inf", "-Inf", "Infinity", "-infinity", "1e39", "-4e38"]) {
    badFile(`${b}2 2 ${token}\n`, ValueError, 4, token);
  }
  // The largest f32 itself is fine, and so is a value that underflows to zero.
  const a = readMatrixMarket(`${b}2 2 3.4028235e38\n`);
  assert.equal(a.values[1], 3.4028234663852886e38);
  assert.equal(readMatrixMarket(`${b}2 2 1e-50\n`).values[1], 0);
});

Deno.test("readMatrixMarket rejects a non-integer in an integer file", () => {
  const b = "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 1\n";
  badFile(`${b}2 2 1.5\n`, ValueError, 4, "1.5");
  badFile(`${b}2 2 -0.25\n`, ValueError, 4, "-0.25");
  badFile(`${b}2 2 1e-3\n`, ValueError, 4, "1e-3");
  badFile(`${b}2 2 nan\n`, ValueError, 4, "nan");
  assert.deepEqual([...readMatrixMarket(`${b}2 2 -3\n`).values], [1, -3]);
});

Deno.test("readMatrixMarket rejects repeated entries, naming the second", () => {
  badFile(
    "%%MatrixMarket matrix coordinate real general\n3 3 3\n2 1 1\n1 3 2\n% c\n2 1 3\n",
    SparseFormatError,
    6,
    "2 1 3",
  );
  badFile(
    "%%MatrixMarket matrix coordinate pattern general\n3 3 2\n3 3\n3 3\n",
    SparseFormatError,
    4,
    "3 3",
  );
  badFile(
    "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n3 1 1\n2 2 5\n3 1 2\n",
    SparseFormatError,
    5,
    "3 1 2",
  );
  badFile(
    "%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 2 1\n2 2 2\n",
    SparseFormatError,
    4,
    "2 2 2",
  );
});

Deno.test("readMatrixMarket rejects an entry above the diagonal of a symmetric file", () => {
  badFile(
    "%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 1\n1 3 2\n",
    SparseFormatError,
    4,
    "1 3 2",
  );
});
