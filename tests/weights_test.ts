// Tests for TensorFlow.js weights: exact float32 round trips and quantized ones within scale / 2
// (property tests over awkward shapes and many shards), the converter's own quantization
// examples, hand-built manifests (two groups, a weight across a shard boundary, unaligned
// weights after uint8 ones, int32), a typed error naming argument / index / value for every
// kind of bad input, loading from file: and http: URLs, and a cross-check against
// TensorFlow.js itself (tfjs-core 4.22.0 on its CPU backend) in both directions.
import assert from "node:assert/strict";
import fc from "fast-check";
// deno-lint-ignore no-import-prefix -- test-only dependency, kept out of deno.json on purpose
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
// deno-lint-ignore no-import-prefix -- test-only dependency, kept out of deno.json on purpose
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { ShapeError, SparseFormatError, ValueError } from "../kernels/errors.ts";
import {
  decodeTfjsModel,
  decodeTfjsWeights,
  encodeTfjsWeights,
  loadTfjsWeights,
  saveTfjsWeights,
  TFJS_SHARD_BYTES,
  type TfjsWeightsManifest,
  type Weight,
  type WeightMap,
} from "../kernels/weights.ts";
import { type Expected, throwsWith } from "./expect.ts";

await tf.setBackend("cpu");

const RUNS = { numRuns: 150 };

type ErrorType = new (...args: never[]) => Error;

/** Asserts that `promise` rejects with `type` whose details match `expected`. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: ErrorType,
  expected: Expected,
): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  const got = caught as unknown as Expected;
  for (const key of Object.keys(expected) as (keyof Expected)[]) {
    assert.deepEqual(got[key], expected[key], `${key} of ${(caught as Error).message}`);
  }
  return caught as Error;
}

/** The bit patterns of f32 values, so that -0 and 0 differ. */
function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.slice().buffer));
}

/** Little-endian bytes of typed-array values. */
function bytesOf(a: Float32Array | Int32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.slice().buffer);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

/** Stores the manifest as a model.json would (JSON), and reads it back. */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/** A shard reader over named byte arrays; unknown paths fail the test. */
function reader(files: Record<string, Uint8Array | ArrayBuffer>) {
  return (path: string) => {
    assert.ok(path in files, `unexpected shard ${path}`);
    return files[path];
  };
}

/** Encodes, stores the manifest as JSON, and decodes through the shard paths. */
async function roundTrip(
  weights: WeightMap,
  options: Parameters<typeof encodeTfjsWeights>[1] = {},
): Promise<{ back: WeightMap; manifest: TfjsWeightsManifest; shards: Uint8Array[] }> {
  const { weightsManifest, shards } = encodeTfjsWeights(weights, options);
  const manifest = viaJson(weightsManifest);
  const files = Object.fromEntries(shards.map((s) => [s.path, s.bytes]));
  const back = await decodeTfjsWeights(manifest, reader(files));
  return { back, manifest, shards: shards.map((s) => s.bytes) };
}

/** The size of one unit in the last place of the f32 `v` (the spacing of f32s near it). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;
const Float16 = (globalThis as unknown as {
  Float16Array?: new (buffer: ArrayBuffer) => ArrayLike<number>;
}).Float16Array;

/** A finite f32, including zeros of both signs, subnormals and the extremes. */
const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });

/** Shapes with scalars, zero-size dimensions and lengths around small powers of two. */
const shapeArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(fc.constantFrom(0, 1, 2, 3, 5), { maxLength: 4 }),
  fc.constantFrom<number[]>([], [0], [1], [7], [17], [33], [2, 0, 3], [1, 1, 1, 1, 1]),
);

function weightArb(value: fc.Arbitrary<number>): fc.Arbitrary<Weight> {
  return shapeArb.chain((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc
      .array(value, { minLength: n, maxLength: n })
      .map((v) => ({ shape, data: Float32Array.from(v) }));
  });
}

/** A map of up to 8 weights with unique (arbitrary, including empty) names. */
function mapArb(value: fc.Arbitrary<number>): fc.Arbitrary<Map<string, Weight>> {
  return fc
    .uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), weightArb(value)), {
      selector: ([name]) => name,
      maxLength: 8,
    })
    .map((entries) => new Map(entries));
}

/** A small shard size (so that weights span many shards), or the default. */
const shardBytesArb = fc.oneof(
  fc.integer({ min: 1, max: 70 }),
  fc.constant(undefined),
);

/** Checks the layout tfjs writes: shard count, sizes and names, and the manifest entries. */
function checkLayout(
  weights: WeightMap,
  manifest: TfjsWeightsManifest,
  shards: Uint8Array[],
  perElement: number,
  shardBytes: number,
): void {
  let total = 0;
  for (const w of weights.values()) total += w.data.length * perElement;
  const n = Math.ceil(total / shardBytes);
  assert.equal(manifest.length, 1);
  assert.deepEqual(
    manifest[0].paths,
    Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`),
  );
  assert.equal(shards.length, n);
  shards.forEach((s, i) => assert.equal(s.length, i < n - 1 ? shardBytes : total - i * shardBytes));
  assert.deepEqual(
    manifest[0].weights.map((e) => [e.name, e.shape, e.dtype]),
    [...weights].map(([name, w]) => [name, w.shape, "float32"]),
  );
}

// ---------------------------------------------------------------------------------------------
// Round trips

Deno.test("float32 round trip is bit exact, across many shards, with tfjs's layout", async () => {
  await fc.assert(
    fc.asyncProperty(mapArb(f32), shardBytesArb, async (weights, shardBytes) => {
      const { back, manifest, shards } = await roundTrip(weights, { shardBytes });
      checkLayout(weights, manifest, shards, 4, shardBytes ?? TFJS_SHARD_BYTES);
      assert.ok(manifest[0].weights.every((e) => !("quantization" in e)));
      assert.deepEqual([...back.keys()], [...weights.keys()]);
      for (const [name, w] of weights) {
        const b = back.get(name)!;
        assert.deepEqual(b.shape, w.shape);
        assert.ok(Object.isFrozen(b) && Object.isFrozen(b.shape));
        assert.deepEqual(bits(b.data), bits(w.data));
      }
    }),
    RUNS,
  );
});

/** Values for quantization: ordinary ranges, tiny ones, constants, and up to ±1e30. */
const quantValue = fc.oneof(
  fc.float({ min: -4, max: 4, noNaN: true }),
  fc.float({ min: -1e6, max: 1e6, noNaN: true }),
  fc.float({ min: Math.fround(-1e-30), max: Math.fround(1e-30), noNaN: true }),
  fc.float({ min: Math.fround(-1e30), max: Math.fround(1e30), noNaN: true }),
  fc.constantFrom(0, -0, 1, 2.5),
);

for (const dtype of ["uint8", "uint16"] as const) {
  Deno.test(`${dtype} round trip: every value within scale / 2 of the original`, async () => {
    await fc.assert(
      fc.asyncProperty(mapArb(quantValue), shardBytesArb, async (weights, shardBytes) => {
        const { back, manifest, shards } = await roundTrip(weights, {
          quantization: dtype,
          shardBytes,
        });
        const per = dtype === "uint8" ? 1 : 2;
        checkLayout(weights, manifest, shards, per, shardBytes ?? TFJS_SHARD_BYTES);
        const all = concat(shards);
        const view = new DataView(all.buffer);
        let offset = 0;
        for (const entry of manifest[0].weights) {
          const { dtype: qd, scale, min, original_dtype } = entry.quantization!;
          assert.equal(qd, dtype);
          assert.equal(original_dtype, "float32");
          const x = weights.get(entry.name)!.data;
          const got = back.get(entry.name)!.data;
          let lo = Infinity, hi = -Infinity;
          for (const v of x) lo = Math.min(lo, v), hi = Math.max(hi, v);
          if (x.length > 0 && lo === hi) {
            // A constant tensor: stored as zeros, decoded exactly (up to the sign of zero).
            assert.equal(scale, 1);
            assert.ok(got.every((v, i) => v === x[i]));
          }
          for (let i = 0; i < x.length; i++) {
            const q = per === 1 ? all[offset + i] : view.getUint16(offset + 2 * i, true);
            const exact = q * scale! + min!;
            // The quantization error itself: at most half a level (f64 arithmetic slack).
            assert.ok(
              Math.abs(exact - x[i]) <= scale! * (0.5 + 2 ** -20),
              `${entry.name}[${i}]: ${x[i]} -> q ${q} -> ${exact}, scale ${scale}`,
            );
            // What the decoder returns is that value rounded to f32, as TensorFlow.js does.
            assert.equal(got[i], Math.fround(exact));
            assert.ok(Math.abs(got[i] - x[i]) <= scale! * (0.5 + 2 ** -20) + ulp32(exact) / 2);
          }
          // Zero is a level whenever the range holds it (the converter's nudge).
          if (lo <= 0 && 0 <= hi && lo !== hi) {
            const z = Math.round(-min! / scale!);
            assert.equal(Math.fround(z * scale! + min!), 0);
          }
          offset += x.length * per;
        }
      }),
      RUNS,
    );
  });
}

Deno.test("float16 round trip: every value is its nearest half (ties to even)", async () => {
  assert.equal(typeof f16round, "function", "this Deno has Math.f16round to compare with");
  const half = fc.oneof(
    fc.float({ min: -65504, max: 65504, noNaN: true }),
    fc.float({ min: Math.fround(-1e-4), max: Math.fround(1e-4), noNaN: true }),
    // exactly halfway between two halves, around 1 and among the subnormals
    fc.integer({ min: 0, max: 1023 }).map((m) => 1 + (2 * m + 1) * 2 ** -11),
    fc.integer({ min: 0, max: 1023 }).map((m) => (2 * m + 1) * 2 ** -25),
  );
  await fc.assert(
    fc.asyncProperty(mapArb(half), shardBytesArb, async (weights, shardBytes) => {
      const { back, manifest, shards } = await roundTrip(weights, {
        quantization: "float16",
        shardBytes,
      });
      checkLayout(weights, manifest, shards, 2, shardBytes ?? TFJS_SHARD_BYTES);
      for (const entry of manifest[0].weights) {
        assert.deepEqual(entry.quantization, { dtype: "float16", original_dtype: "float32" });
      }
      for (const [name, w] of weights) {
        const want = Float32Array.from(w.data, (v) => f16round!(v));
        assert.deepEqual(bits(back.get(name)!.data), bits(want));
      }
    }),
    RUNS,
  );
});

Deno.test("float16 decoding matches Float16Array on every finite bit pattern", async () => {
  assert.equal(typeof Float16, "function", "this Deno has Float16Array to compare with");
  const patterns: number[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) patterns.push(h);
  const raw = Uint16Array.from(patterns);
  const w = await decodeTfjsWeights(
    [{
      paths: ["h.bin"],
      weights: [{
        name: "h",
        shape: [patterns.length],
        dtype: "float32",
        quantization: { dtype: "float16" },
      }],
    }],
    () => bytesOf(raw),
  );
  const want = Float32Array.from(new Float16!(raw.slice().buffer) as ArrayLike<number>);
  assert.deepEqual(bits(w.get("h")!.data), bits(want));
  // and encoding every one of those halves gives the same bits back
  const enc = encodeTfjsWeights(new Map([["h", { shape: [want.length], data: want }]]), {
    quantization: "float16",
  });
  assert.deepEqual(enc.shards[0].bytes, bytesOf(raw));
});

Deno.test("float16 encoding rounds like Math.f16round over all of f32", () => {
  fc.assert(
    fc.property(f32, (x) => {
      const want = f16round!(x);
      const w = new Map([["x", { shape: [], data: Float32Array.of(x) }]]);
      if (!Number.isFinite(want)) {
        throwsWith(() => encodeTfjsWeights(w, { quantization: "float16" }), ValueError, {
          argument: 'weights["x"].data',
          index: 0,
          value: x,
        });
        return;
      }
      const h = new DataView(
        encodeTfjsWeights(w, { quantization: "float16" }).shards[0].bytes.buffer,
      )
        .getUint16(0, true);
      const back = new Float16!(Uint16Array.of(h).buffer)[0];
      assert.ok(Object.is(back, want), `${x} -> ${back}, want ${want}`);
    }),
    { numRuns: 2000 },
  );
  // the edges of the range: 65519.99 rounds down to 65504, 65520 rounds up to infinity
  const edge = (x: number) => new Map([["e", { shape: [1], data: Float32Array.of(x) }]]);
  assert.doesNotThrow(() => encodeTfjsWeights(edge(65519.99), { quantization: "float16" }));
  throwsWith(() => encodeTfjsWeights(edge(-65520), { quantization: "float16" }), ValueError, {
    argument: 'weights["e"].data',
    index: 0,
    value: -65520,
  });
});

// ---------------------------------------------------------------------------------------------
// The converter's own examples (tfjs-converter write_weights.py and quantization_test.py)

Deno.test("uint8 quantization writes what the tfjs converter writes", async () => {
  // write_weights.py, _quantize_entry: [0, -0.1, 1.2] -> [20, 0, 255],
  // min -0.10196078817, scale 0.00509803940852
  const { weightsManifest, shards } = encodeTfjsWeights(
    new Map([["weight1", { shape: [3], data: new Float32Array([0, -0.1, 1.2]) }]]),
    { quantization: "uint8" },
  );
  assert.deepEqual([...shards[0].bytes], [20, 0, 255]);
  const q = weightsManifest[0].weights[0].quantization!;
  assert.deepEqual(Object.keys(q), ["dtype", "min", "scale", "original_dtype"]);
  assert.ok(Math.abs(q.min! - -0.10196078817) < 1e-11);
  assert.ok(Math.abs(q.scale! - 0.00509803940852) < 1e-13);
  const back = await decodeTfjsWeights(weightsManifest, () => shards[0].bytes);
  assert.equal(back.get("weight1")!.data[0], 0); // zero is exact
});

Deno.test("affine scales of quantization_test.py, and zero exact when in range", async () => {
  for (const [lo, hi] of [[-3, -1], [-3, 0], [-3, 3], [0, 3], [1, 3]]) {
    const data = Float32Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
    for (const [dtype, levels] of [["uint8", 255], ["uint16", 65535]] as const) {
      const { weightsManifest, shards } = encodeTfjsWeights(
        new Map([["d", { shape: [data.length], data }]]),
        { quantization: dtype },
      );
      const q = weightsManifest[0].weights[0].quantization!;
      assert.equal(q.scale, (hi - lo) / levels, `${dtype} [${lo}, ${hi}]`);
      if (lo > 0 || hi < 0) assert.equal(q.min, lo); // no nudge outside zero
      const back = (await decodeTfjsWeights(weightsManifest, () => shards[0].bytes)).get("d")!;
      // within half a level (up to f64 slack: [-3, 3] lands exactly on it), then f32 rounding
      back.data.forEach((v, i) =>
        assert.ok(Math.abs(v - data[i]) <= q.scale! * (0.5 + 2 ** -20) + ulp32(v) / 2)
      );
      if (lo <= 0 && 0 <= hi) assert.equal(back.data[-lo], 0);
    }
  }
});

Deno.test("constant and empty tensors quantize: zeros with min the value, scale 1", async () => {
  const weights = new Map<string, Weight>([
    ["ones", { shape: [5], data: new Float32Array(5).fill(1) }],
    ["neg", { shape: [2, 1], data: new Float32Array([-2.5, -2.5]) }],
    ["empty", { shape: [3, 0], data: new Float32Array(0) }],
    ["scalar", { shape: [], data: Float32Array.of(7.25) }],
  ]);
  for (const dtype of ["uint8", "uint16"] as const) {
    const { back, manifest, shards } = await roundTrip(weights, { quantization: dtype });
    assert.ok(concat(shards).every((b) => b === 0));
    assert.deepEqual(
      manifest[0].weights.map((e) => [e.quantization!.min, e.quantization!.scale]),
      [[1, 1], [-2.5, 1], [0, 1], [7.25, 1]],
    );
    for (const [name, w] of weights) assert.deepEqual(back.get(name), w);
  }
});

Deno.test("no weights, or only empty ones: a group with no shards", async () => {
  for (
    const weights of [
      new Map<string, Weight>(),
      new Map([["e", { shape: [0, 4], data: new Float32Array(0) }]]),
    ]
  ) {
    const { weightsManifest, shards } = encodeTfjsWeights(weights);
    assert.deepEqual(weightsManifest[0].paths, []);
    assert.equal(shards.length, 0);
    const back = await decodeTfjsWeights(weightsManifest, () => assert.fail("no shard to read"));
    assert.deepEqual(back, weights);
  }
});

Deno.test("the default shards are 4 MiB, as tfjs: 6 MB of weights make two", async () => {
  const big = Float32Array.from({ length: 1_200_000 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
  const weights = new Map<string, Weight>([
    ["small", { shape: [3], data: new Float32Array([1, 2, 3]) }],
    ["big", { shape: [1000, 1200], data: big }],
    ["after", { shape: [2, 2], data: new Float32Array([4, 5, 6, 7]) }],
  ]);
  const { back, manifest, shards } = await roundTrip(weights);
  assert.deepEqual(manifest[0].paths, ["group1-shard1of2.bin", "group1-shard2of2.bin"]);
  assert.deepEqual(shards.map((s) => s.length), [4 * 1024 * 1024, 4 * 1_200_007 - 4194304]);
  for (const [name, w] of weights) assert.deepEqual(bits(back.get(name)!.data), bits(w.data));
});

Deno.test("pathPrefix and shardBytes name and cut the shards", () => {
  const data = Float32Array.from({ length: 10 }, (_, i) => i);
  const { weightsManifest, shards } = encodeTfjsWeights(
    new Map([["w", { shape: [10], data }]]),
    { shardBytes: 16, pathPrefix: "layer-shard" },
  );
  assert.deepEqual(weightsManifest[0].paths, [
    "layer-shard1of3.bin",
    "layer-shard2of3.bin",
    "layer-shard3of3.bin",
  ]);
  assert.deepEqual(shards.map((s) => s.bytes.length), [16, 16, 8]);
  assert.deepEqual(concat(shards.map((s) => s.bytes)), bytesOf(data));
});

// ---------------------------------------------------------------------------------------------
// Hand-built manifests

Deno.test("two groups; a weight across a shard boundary; unaligned weights after uint8", async () => {
  // group 1: a (float32 [2,2]) then b (int32 [3]) in shards of 5, 9 and 14 bytes
  const g1 = concat([
    bytesOf(new Float32Array([1.5, -2, 0, 3.25])),
    bytesOf(Int32Array.of(-7, 0, 8)),
  ]);
  // group 2: u (uint8 [3]) then f (float32 [] at byte 3) then h (uint16 [2] at byte 7)
  //          then s (float16 [2] at byte 11), one shard
  const g2 = concat([
    Uint8Array.of(0, 1, 255),
    bytesOf(Float32Array.of(-0.75)),
    bytesOf(Uint16Array.of(2, 65535)),
    bytesOf(Uint16Array.of(0x3c00, 0xc200)), // 1, -3 in binary16
  ]);
  const files = {
    "g1-a.bin": g1.subarray(0, 5),
    "g1-b.bin": g1.subarray(5, 14).slice().buffer, // an ArrayBuffer
    "g1-c.bin": g1.subarray(14),
    "g2.bin": g2,
  };
  const manifest: TfjsWeightsManifest = [
    {
      paths: ["g1-a.bin", "g1-b.bin", "g1-c.bin"],
      weights: [
        { name: "a", shape: [2, 2], dtype: "float32" },
        { name: "b", shape: [3], dtype: "int32" },
      ],
    },
    {
      paths: ["g2.bin"],
      weights: [
        {
          name: "u",
          shape: [3],
          dtype: "float32",
          quantization: { dtype: "uint8", min: -1, scale: 0.5, original_dtype: "float32" },
        },
        { name: "f", shape: [], dtype: "float32", group: "optimizer" },
        {
          name: "h",
          shape: [1, 2],
          dtype: "int32",
          quantization: { dtype: "uint16", min: -10, scale: 0.25 },
        },
        { name: "s", shape: [2], dtype: "float32", quantization: { dtype: "float16" } },
      ],
    },
  ];
  const w = await decodeTfjsWeights(manifest, reader(files));
  assert.deepEqual([...w.keys()], ["a", "b", "u", "f", "h", "s"]);
  assert.deepEqual(w.get("a"), { shape: [2, 2], data: new Float32Array([1.5, -2, 0, 3.25]) });
  assert.deepEqual(w.get("b"), { shape: [3], data: new Float32Array([-7, 0, 8]) });
  assert.deepEqual([...w.get("u")!.data], [-1, -0.5, 126.5]);
  assert.deepEqual(w.get("f"), { shape: [], data: Float32Array.of(-0.75) });
  // int32 dequantized with Math.round, as TensorFlow.js: 2*0.25-10 = -9.5 -> -9
  assert.deepEqual(w.get("h"), { shape: [1, 2], data: new Float32Array([-9, 16374]) });
  assert.deepEqual([...w.get("s")!.data], [1, -3]);
  // the same through decodeTfjsModel, with the manifest in a model.json
  const model = await decodeTfjsModel(
    viaJson({ modelTopology: {}, format: "graph-model", weightsManifest: manifest }),
    reader(files),
  );
  assert.deepEqual(model, w);
});

Deno.test("int32 weights decode to exact floats; an int32 f32 cannot hold is refused", async () => {
  const ints = Int32Array.of(0, 1, -1, 2 ** 24, -(2 ** 24), 2 ** 30, -(2 ** 31));
  const spec = (
    n: number,
  ) => [{ paths: ["i.bin"], weights: [{ name: "i", shape: [n], dtype: "int32" as const }] }];
  const w = await decodeTfjsWeights(spec(ints.length), () => bytesOf(ints));
  assert.deepEqual([...w.get("i")!.data], [...ints]);
  await rejectsWith(
    decodeTfjsWeights(spec(3), () => bytesOf(Int32Array.of(5, 2 ** 24 + 1, 0))),
    ValueError,
    { argument: 'weights["i"]', index: 1, value: 2 ** 24 + 1 },
  );
});

// ---------------------------------------------------------------------------------------------
// Bad input to the decoder

/** A valid one-group manifest of one float32 [2] weight, to break one field at a time. */
function goodManifest(): {
  paths: unknown[];
  weights: Record<string, unknown>[];
}[] {
  return [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2], dtype: "float32" }] }];
}

const twoFloats = () => bytesOf(new Float32Array([1, 2]));

/** Decodes a (possibly broken) manifest over a two-float shard. */
function decodeBad(manifest: unknown, shard: () => unknown = twoFloats): Promise<WeightMap> {
  // deno-lint-ignore no-explicit-any
  return decodeTfjsWeights(manifest as any, shard as any);
}

Deno.test("a malformed manifest is a SparseFormatError naming the field", async () => {
  const cases: [(m: ReturnType<typeof goodManifest>) => unknown, Expected][] = [
    [() => ({ weights: [] }), { argument: "manifest" }],
    [() => [null], { argument: "manifest[0]", value: null }],
    [(m) => [{ ...m[0], paths: "w.bin" }], { argument: "manifest[0].paths", value: "w.bin" }],
    [(m) => (m[0].paths = ["w.bin", 3], m), { argument: "manifest[0].paths", index: 1, value: 3 }],
    [(m) => [{ paths: m[0].paths }], { argument: "manifest[0].weights", value: undefined }],
    [(m) => (m[0].weights = [7 as never], m), { argument: "manifest[0].weights[0]", value: 7 }],
    [(m) => (m[0].weights[0].name = 1, m), { argument: "manifest[0].weights[0].name", value: 1 }],
    [
      (m) => (m[0].weights[0].shape = "2", m),
      { argument: "manifest[0].weights[0].shape", value: "2" },
    ],
    [
      (m) => (m[0].weights[0].dtype = "float64", m),
      { argument: "manifest[0].weights[0].dtype", value: "float64" },
    ],
    [
      (m) => (m[0].weights[0].dtype = undefined, m),
      { argument: "manifest[0].weights[0].dtype", value: undefined },
    ],
    [
      (m) => (m[0].weights[0].quantization = null, m),
      { argument: "manifest[0].weights[0].quantization", value: null },
    ],
    [
      (m) => (m[0].weights[0].quantization = { dtype: "int8", min: 0, scale: 1 }, m),
      { argument: "manifest[0].weights[0].quantization.dtype", value: "int8" },
    ],
    [
      (m) => (m[0].weights[0].quantization = { dtype: "uint8", min: 0 }, m),
      { argument: "manifest[0].weights[0].quantization.scale" },
    ],
    [
      (m) => (m[0].weights[0].quantization = { dtype: "uint16", scale: 1 }, m),
      { argument: "manifest[0].weights[0].quantization.min" },
    ],
    [
      (m) => (m[0].weights[0].quantization = { dtype: "float16", original_dtype: "int32" }, m),
      { argument: "manifest[0].weights[0].quantization.original_dtype", value: "int32" },
    ],
  ];
  for (const [breakIt, expected] of cases) {
    let read = false;
    await rejectsWith(
      decodeBad(breakIt(goodManifest()), () => (read = true, twoFloats())),
      SparseFormatError,
      expected,
    );
    assert.ok(!read, "the manifest is checked before any shard is read");
  }
});

Deno.test("a weight name used twice, even across groups, is refused at its second use", async () => {
  const m = [
    { paths: ["a.bin"], weights: [{ name: "x", shape: [1], dtype: "float32" }] },
    {
      paths: ["b.bin"],
      weights: [
        { name: "y", shape: [], dtype: "float32" },
        { name: "x", shape: [1], dtype: "float32" },
      ],
    },
  ];
  const e = await rejectsWith(decodeBad(m), SparseFormatError, {
    argument: "manifest[1].weights[1].name",
    value: "x",
  });
  assert.match(e.message, /first at manifest\[0\]\.weights\[0\]/);
});

Deno.test("bad shapes are ShapeErrors naming the dimension", async () => {
  const cases: [unknown[], number | undefined, unknown][] = [
    [[2, -1], 1, -1],
    [[1.5], 0, 1.5],
    [["2"], 0, "2"],
    [[NaN], 0, NaN],
    [[2 ** 28 + 1], 0, 2 ** 28 + 1],
    [[2 ** 14, 2 ** 14, 2], undefined, "[16384, 16384, 2]"],
  ];
  for (const [shape, index, value] of cases) {
    const m = goodManifest();
    m[0].weights[0].shape = shape;
    const expected: Expected = { argument: "manifest[0].weights[0].shape", value };
    if (index !== undefined) expected.index = index;
    await rejectsWith(decodeBad(m), ShapeError, expected);
  }
  // a zero dimension makes any other legal dimension fine
  const m = goodManifest();
  m[0].weights[0].shape = [2 ** 28, 2 ** 28, 0];
  m[0].paths = [];
  assert.equal((await decodeBad(m)).get("w")!.data.length, 0);
});

Deno.test("unsupported dtypes and quantizations are ValueErrors", async () => {
  for (const dtype of ["bool", "string", "complex64"]) {
    const m = goodManifest();
    m[0].weights[0].dtype = dtype;
    await rejectsWith(decodeBad(m), ValueError, {
      argument: "manifest[0].weights[0].dtype",
      value: dtype,
    });
  }
  const m = goodManifest();
  m[0].weights[0].dtype = "int32";
  m[0].weights[0].quantization = { dtype: "float16" };
  await rejectsWith(decodeBad(m), ValueError, {
    argument: "manifest[0].weights[0].quantization.dtype",
    value: "float16",
  });
  for (const [field, value] of [["scale", NaN], ["min", Infinity], ["scale", "0.5"]] as const) {
    const m = goodManifest();
    m[0].weights[0].quantization = { dtype: "uint8", min: 0, scale: 1, [field]: value };
    await rejectsWith(decodeBad(m), ValueError, {
      argument: `manifest[0].weights[0].quantization.${field}`,
      value,
    });
  }
});

Deno.test("shards too short name the weight and group; too long name the group", async () => {
  const m = [
    { paths: ["a.bin"], weights: [{ name: "first", shape: [1], dtype: "float32" }] },
    {
      paths: ["b1.bin", "b2.bin"],
      weights: [
        { name: "fits", shape: [1], dtype: "float32" },
        { name: "short", shape: [2, 2], dtype: "float32" },
      ],
    },
  ];
  const files = {
    "a.bin": bytesOf(Float32Array.of(1)),
    "b1.bin": bytesOf(Float32Array.of(1, 2)),
    "b2.bin": new Uint8Array(3),
  };
  const e = await rejectsWith(decodeBad(m, reader(files) as never), ShapeError, {
    argument: "manifest[1].weights[1]",
    value: "short",
  });
  assert.match(e.message, /bytes \[4, 20\) of group 1, whose 2 shard\(s\) hold only 11 bytes/);
  // one byte too many: the manifest does not describe these shards
  await rejectsWith(decodeBad(goodManifest(), () => new Uint8Array(9)), ShapeError, {
    argument: "manifest[0].paths",
    value: 9,
  });
  // a quantized weight needs fewer bytes: 2 uint8 levels, not 8 bytes of floats
  const q = goodManifest();
  q[0].weights[0].quantization = { dtype: "uint8", min: 0, scale: 1 };
  await rejectsWith(decodeBad(q), ShapeError, { argument: "manifest[0].paths", value: 8 });
});

Deno.test("NaN and infinities in the data name the weight and the element", async () => {
  const m = [{
    paths: ["w.bin"],
    weights: [
      { name: "ok", shape: [2], dtype: "float32" },
      { name: "conv/kernel", shape: [2, 2], dtype: "float32" },
    ],
  }];
  for (const bad of [NaN, Infinity, -Infinity]) {
    const shard = bytesOf(new Float32Array([1, 2, 3, 4, bad, 6]));
    const e = await rejectsWith(decodeBad(m, () => shard), ValueError, {
      argument: 'weights["conv/kernel"]',
      index: 2,
      value: bad,
    });
    assert.match(e.message, /manifest\[0\]\.weights\[1\]/);
  }
  // a binary16 infinity, and a NaN
  for (const h of [0x7c00, 0xfe01]) {
    const f = goodManifest();
    f[0].weights[0].quantization = { dtype: "float16" };
    await rejectsWith(decodeBad(f, () => bytesOf(Uint16Array.of(0, h))), ValueError, {
      argument: 'weights["w"]',
      index: 1,
    });
  }
  // affine levels that overflow f32
  const q = goodManifest();
  q[0].weights[0].quantization = { dtype: "uint8", min: 0, scale: 1e38 };
  await rejectsWith(decodeBad(q, () => Uint8Array.of(3, 4)), ValueError, {
    argument: 'weights["w"]',
    index: 1,
    value: Infinity,
  });
  // int32 levels outside int32
  const i = goodManifest();
  i[0].weights[0].dtype = "int32";
  i[0].weights[0].quantization = { dtype: "uint16", min: 2 ** 31 - 256, scale: 1 };
  await rejectsWith(decodeBad(i, () => bytesOf(Uint16Array.of(0, 65535))), ValueError, {
    argument: 'weights["w"]',
    index: 1,
    value: 2 ** 31 - 256 + 65535,
  });
  // and inside the range, one that f32 cannot hold exactly
  await rejectsWith(decodeBad(i, () => bytesOf(Uint16Array.of(0, 1))), ValueError, {
    argument: 'weights["w"]',
    index: 1,
    value: 2 ** 31 - 255,
  });
});

Deno.test("the shard reader: bad results are typed errors, its own errors pass through", async () => {
  await rejectsWith(decodeBad(goodManifest(), () => "bytes"), SparseFormatError, {
    argument: "manifest[0].paths",
    index: 0,
    value: "bytes",
  });
  await rejectsWith(decodeBad(goodManifest(), () => [0, 0, 128, 63]), SparseFormatError, {
    argument: "manifest[0].paths",
    index: 0,
  });
  // any typed-array view is bytes; a DataView at an odd offset too
  const buf = new Uint8Array(9);
  buf.set(twoFloats(), 1);
  const w = await decodeBad(goodManifest(), () => new DataView(buf.buffer, 1, 8));
  assert.deepEqual([...w.get("w")!.data], [1, 2]);
  const mine = new Error("disk on fire");
  await assert.rejects(decodeBad(goodManifest(), () => Promise.reject(mine)), (e) => e === mine);
  await rejectsWith(decodeBad(goodManifest(), "w.bin" as never), ValueError, {
    argument: "shards",
  });
});

Deno.test("decodeTfjsModel refuses a model.json without a weightsManifest", async () => {
  // deno-lint-ignore no-explicit-any
  const model = (m: unknown) => decodeTfjsModel(m as any, twoFloats);
  await rejectsWith(model(null), SparseFormatError, { argument: "modelJson", value: null });
  await rejectsWith(model([]), SparseFormatError, { argument: "modelJson" });
  await rejectsWith(model({ modelTopology: {} }), SparseFormatError, {
    argument: "modelJson.weightsManifest",
  });
  const m = goodManifest();
  m[0].weights[0].shape = [-2];
  await rejectsWith(model({ weightsManifest: m }), ShapeError, {
    argument: "modelJson.weightsManifest[0].weights[0].shape",
    index: 0,
    value: -2,
  });
});

// ---------------------------------------------------------------------------------------------
// Bad input to the encoder

Deno.test("bad weights and options to the encoder are typed errors", () => {
  const ok = { shape: [2], data: new Float32Array(2) };
  // deno-lint-ignore no-explicit-any
  const enc = (w: unknown, o?: unknown) => encodeTfjsWeights(w as any, o as any);
  throwsWith(() => enc({ w: ok }), ShapeError, { argument: "weights" });
  throwsWith(() => enc(new Map([[3, ok]])), ValueError, { argument: "weights", value: 3 });
  throwsWith(() => enc(new Map([["w", null]])), ShapeError, {
    argument: 'weights["w"]',
    value: null,
  });
  throwsWith(() => enc(new Map([["w", { shape: [2], data: [1, 2] }]])), ShapeError, {
    argument: 'weights["w"].data',
  });
  throwsWith(
    () => enc(new Map([["w", { shape: [3], data: new Float32Array(2) }]])),
    ShapeError,
    { argument: 'weights["w"].data', value: 2 },
  );
  throwsWith(
    () => enc(new Map([["w", { shape: [1, -2], data: new Float32Array(0) }]])),
    ShapeError,
    { argument: 'weights["w"].shape', index: 1, value: -2 },
  );
  throwsWith(
    () => enc(new Map([["w", { shape: [3], data: new Float32Array([0, NaN, 1]) }]])),
    ValueError,
    { argument: 'weights["w"].data', index: 1, value: NaN },
  );
  const w = new Map([["w", ok]]);
  throwsWith(() => enc(w, { quantization: "int8" }), ValueError, {
    argument: "options.quantization",
    value: "int8",
  });
  for (const shardBytes of [0, -4, 1.5, NaN, "4"]) {
    throwsWith(() => enc(w, { shardBytes }), ShapeError, {
      argument: "options.shardBytes",
      value: shardBytes,
    });
  }
  throwsWith(() => enc(w, { pathPrefix: 1 }), ValueError, {
    argument: "options.pathPrefix",
    value: 1,
  });
});

Deno.test("a range too wide for affine levels is refused, not stored as infinity", async () => {
  const max = 3.4028234663852886e38;
  // The zero point 255 * max / (1.997 * max) = 127.69 rounds up, so the nudged min lies
  // below -max by more than f32 can round back (the converter would write -Infinity levels).
  const w = new Map([["wide", {
    shape: [3],
    data: new Float32Array([-max, 0, 0.997 * max]),
  }]]);
  for (const quantization of ["uint8", "uint16"] as const) {
    const e = await rejectsWith(
      Promise.resolve().then(() => encodeTfjsWeights(w, { quantization })),
      ValueError,
      { argument: 'weights["wide"].data' },
    );
    assert.match(e.message, /too wide/);
  }
  // half the range is fine, and still within scale / 2
  const half = new Float32Array([-max / 2, 0, max / 2]);
  const { back, manifest } = await roundTrip(new Map([["h", { shape: [3], data: half }]]), {
    quantization: "uint8",
  });
  const scale = manifest[0].weights[0].quantization!.scale!;
  back.get("h")!.data.forEach((v, i) => assert.ok(Math.abs(v - half[i]) <= scale / 2 + ulp32(v)));
});

// ---------------------------------------------------------------------------------------------
// Loading from URLs

Deno.test("save to a folder and load back through a file: URL and a path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const weights = new Map<string, Weight>([
      ["conv1/kernel", {
        shape: [3, 3, 1, 2],
        data: Float32Array.from({ length: 18 }, (_, i) => Math.sin(i)),
      }],
      ["conv1/bias", { shape: [2], data: new Float32Array([0.5, -0]) }],
      ["step", { shape: [], data: Float32Array.of(3) }],
    ]);
    const url = await saveTfjsWeights(`${dir}/nested/model`, weights, { shardBytes: 20 });
    assert.equal(url.protocol, "file:");
    assert.ok(url.pathname.endsWith("/nested/model/model.json"));
    const json = JSON.parse(await Deno.readTextFile(url));
    assert.equal(json.modelTopology, null);
    assert.equal(json.format, "weights-only");
    assert.equal(json.convertedBy, null);
    assert.deepEqual(
      json.weightsManifest[0].paths,
      [1, 2, 3, 4, 5].map((i) => `group1-shard${i}of5.bin`), // 21 floats, 84 bytes,
    );
    for (const p of json.weightsManifest[0].paths) {
      assert.ok((await Deno.stat(new URL(p, url))).isFile);
    }
    for (const input of [url, url.href, `${dir}/nested/model/model.json`]) {
      const back = await loadTfjsWeights(input);
      assert.deepEqual([...back.keys()], [...weights.keys()]);
      for (const [name, w] of weights) assert.deepEqual(bits(back.get(name)!.data), bits(w.data));
    }
    // a bare weights manifest (weights_manifest.json) in a subfolder's parent
    await Deno.writeTextFile(
      `${dir}/weights_manifest.json`,
      JSON.stringify(
        json.weightsManifest.map((g: { paths: string[] }) => ({
          ...g,
          paths: g.paths.map((p) => `nested/model/${p}`),
        })),
      ),
    );
    assert.deepEqual(await loadTfjsWeights(`${dir}/weights_manifest.json`), weights);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loading: missing files, bad JSON, foreign schemes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadTfjsWeights(`${dir}/none.json`), Deno.errors.NotFound);
    await Deno.writeTextFile(`${dir}/bad.json`, "{ not json");
    await rejectsWith(loadTfjsWeights(`${dir}/bad.json`), SparseFormatError, {
      argument: "modelJsonUrl",
    });
    await Deno.writeTextFile(`${dir}/empty.json`, '{"modelTopology": {}}');
    await rejectsWith(loadTfjsWeights(`${dir}/empty.json`), SparseFormatError, {
      argument: "modelJson.weightsManifest",
    });
    const m = goodManifest();
    m[0].paths = ["http://127.0.0.1:9/w.bin"];
    await Deno.writeTextFile(`${dir}/foreign.json`, JSON.stringify({ weightsManifest: m }));
    await rejectsWith(loadTfjsWeights(`${dir}/foreign.json`), SparseFormatError, {
      argument: "modelJson.weightsManifest[0].paths",
      index: 0,
      value: "http://127.0.0.1:9/w.bin",
    });
    m[0].paths = ["missing.bin"];
    await Deno.writeTextFile(`${dir}/missing.json`, JSON.stringify({ weightsManifest: m }));
    await assert.rejects(loadTfjsWeights(`${dir}/missing.json`), Deno.errors.NotFound);
    await rejectsWith(loadTfjsWeights("ftp://example.com/model.json"), ValueError, {
      argument: "modelJsonUrl",
      value: "ftp://example.com/model.json",
    });
    // deno-lint-ignore no-explicit-any
    await rejectsWith(loadTfjsWeights(42 as any), ValueError, { argument: "modelJsonUrl" });
    await rejectsWith(saveTfjsWeights("https://example.com/m/", new Map()), ValueError, {
      argument: "dir",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Serves `dir` over HTTP on a free port for the duration of `body`. */
async function serving(
  dir: string,
  body: (origin: string, requests: string[]) => Promise<void>,
): Promise<void> {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    if (url.pathname.includes("..")) return new Response("no", { status: 400 });
    try {
      return new Response(await Deno.readFile(`${dir}${url.pathname}`));
    } catch {
      return new Response("not found", { status: 404, statusText: "Not Found" });
    }
  });
  try {
    await body(`http://127.0.0.1:${server.addr.port}`, requests);
  } finally {
    await server.shutdown();
  }
}

Deno.test("loading over http: shards relative to the model.json, query string kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const weights = new Map([["w", { shape: [5], data: new Float32Array([1, 2, 3, 4, 5]) }]]);
    await saveTfjsWeights(`${dir}/m`, weights, { shardBytes: 8 });
    await serving(dir, async (origin, requests) => {
      assert.deepEqual(await loadTfjsWeights(`${origin}/m/model.json`), weights);
      requests.length = 0;
      assert.deepEqual(await loadTfjsWeights(new URL(`${origin}/m/model.json?v=2`)), weights);
      assert.deepEqual(requests.sort(), [
        "/m/group1-shard1of3.bin?v=2",
        "/m/group1-shard2of3.bin?v=2",
        "/m/group1-shard3of3.bin?v=2",
        "/m/model.json?v=2",
      ]);
      await rejectsWith(loadTfjsWeights(`${origin}/nothing/model.json`), ValueError, {
        argument: "modelJsonUrl",
        value: `${origin}/nothing/model.json`,
      });
      await Deno.remove(`${dir}/m/group1-shard2of3.bin`);
      const e = await rejectsWith(loadTfjsWeights(`${origin}/m/model.json`), ValueError, {
        argument: "modelJson.weightsManifest[0].paths",
        index: 1,
        value: `${origin}/m/group1-shard2of3.bin`,
      });
      assert.match(e.message, /HTTP 404/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Cross-check with TensorFlow.js itself

/** A weight map with float32 values tfjs can hold (every finite f32) and awkward shapes. */
const tfjsMapArb = mapArb(f32);

Deno.test("tfjs: what tf.io.encodeWeights writes, we decode (float32 and int32)", async () => {
  await fc.assert(
    fc.asyncProperty(
      tfjsMapArb,
      fc.array(fc.integer(), { maxLength: 9 }),
      fc.integer({ min: 1, max: 4 }),
      async (weights, ints, pieces) => {
        const tensors: Record<string, tf.Tensor> = {};
        for (const [name, w] of weights) tensors[name] = tf.tensor(w.data, [...w.shape], "float32");
        // int32 values f32 holds exactly
        const small = ints.map((v) => v % 2 ** 24);
        tensors["\u0000int"] = tf.tensor(small, [small.length], "int32");
        try {
          const { data, specs } = await tf.io.encodeWeights(tensors);
          // cut tfjs's one buffer into `pieces` shards at arbitrary bytes
          const all = new Uint8Array(data);
          const cuts = Array.from(
            { length: pieces - 1 },
            (_, i) => Math.floor(all.length * (i + 1) / pieces),
          );
          const edges = [0, ...cuts, all.length];
          const files: Record<string, Uint8Array> = {};
          const paths = edges.slice(1).map((end, i) => {
            files[`s${i}`] = all.slice(edges[i], end);
            return `s${i}`;
          });
          const back = await decodeTfjsWeights(viaJson([{ paths, weights: specs }]), reader(files));
          for (const [name, t] of Object.entries(tensors)) {
            const b = back.get(name)!;
            assert.deepEqual(b.shape, t.shape);
            assert.deepEqual(bits(b.data), bits(Float32Array.from(t.dataSync())));
          }
        } finally {
          for (const t of Object.values(tensors)) t.dispose();
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("tfjs: what we encode (every quantization), tf.io.decodeWeights reads alike", async () => {
  await fc.assert(
    fc.asyncProperty(
      mapArb(quantValue.filter((v) => Math.abs(v) <= 65504)),
      fc.constantFrom(undefined, "uint8", "uint16", "float16"),
      shardBytesArb,
      async (weights, quantization, shardBytes) => {
        const { weightsManifest, shards } = encodeTfjsWeights(weights, {
          quantization,
          shardBytes,
        });
        const ours = await decodeTfjsWeights(
          weightsManifest,
          reader(
            Object.fromEntries(shards.map((s) => [s.path, s.bytes])),
          ),
        );
        const theirs = tf.io.decodeWeights(
          shards.map((s) => s.bytes.slice().buffer),
          viaJson(weightsManifest[0].weights) as tf.io.WeightsManifestEntry[],
        );
        try {
          assert.deepEqual(Object.keys(theirs).sort(), [...ours.keys()].sort());
          for (const [name, w] of ours) {
            assert.deepEqual(theirs[name].shape, w.shape);
            assert.deepEqual(bits(Float32Array.from(theirs[name].dataSync())), bits(w.data));
          }
        } finally {
          for (const t of Object.values(theirs)) t.dispose();
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("tfjs: tf.io.http loads a folder we saved, and agrees with loadTfjsWeights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const weights = new Map<string, Weight>([
      ["a", { shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => Math.cos(i)) }],
      ["b", { shape: [], data: Float32Array.of(-1.25) }],
      ["c", { shape: [0, 2], data: new Float32Array(0) }],
    ]);
    for (const quantization of [undefined, "uint8", "uint16", "float16"] as const) {
      await saveTfjsWeights(`${dir}/${quantization}`, weights, { quantization, shardBytes: 10 });
    }
    await serving(dir, async (origin) => {
      for (const quantization of [undefined, "uint8", "uint16", "float16"]) {
        const url = `${origin}/${quantization}/model.json`;
        const artifacts = await tf.io.http(url).load!();
        assert.equal(artifacts.modelTopology, null);
        const theirs = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
        const ours = await loadTfjsWeights(url);
        try {
          for (const [name, w] of ours) {
            assert.deepEqual(bits(Float32Array.from(theirs[name].dataSync())), bits(w.data));
          }
        } finally {
          for (const t of Object.values(theirs)) t.dispose();
        }
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
