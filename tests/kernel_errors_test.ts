// Bad input to the kernels and backends: typed errors naming the argument, never a wrong
// answer or a trapped WebAssembly instance. Also the host-side allocator's limits.
import assert from "node:assert/strict";
import {
  BackendError,
  conv1x1,
  type Conv1x1Plan,
  csr,
  dense,
  gemm,
  packConv1x1,
  ShapeError,
  SparseFormatError,
  spmm,
  ValueError,
} from "../mod.ts";
import { Arena } from "../kernels/memory.ts";
import { allBackends } from "./backends.ts";

const backends = await allBackends();
const w = dense(4, 3, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]);
const x = dense(3, 5, Array.from({ length: 15 }, (_, i) => i));

function is<T>(type: new (...a: never[]) => T, argument: string) {
  return (e: unknown) =>
    e instanceof type && (e as unknown as { argument: string }).argument === argument;
}

for (const backend of backends) {
  const f = backend.flavour;
  Deno.test(`${f}: shape mismatches are ShapeErrors naming the argument`, () => {
    const a = csr(2, 3, [0, 1, 2], [0, 2], [1, 1]);
    assert.throws(() => spmm(a, dense(2, 2), { backend }), is(ShapeError, "b.rows"));
    assert.throws(() => spmm(a, dense(3, 2), { backend, out: dense(2, 3) }), is(ShapeError, "out"));
    assert.throws(
      () => conv1x1(packConv1x1(w), dense(4, 5), { backend }),
      is(ShapeError, "x.rows"),
    );
    assert.throws(() => gemm(dense(2, 3), dense(2, 3), { backend }), is(ShapeError, "b.rows"));
    assert.throws(
      () => gemm(dense(2, 3), dense(3, 1), { backend, bias: [1] }),
      is(ShapeError, "options.bias"),
    );
    assert.throws(
      () => gemm(dense(2, 3), dense(3, 1), { backend, min: 2, max: 1 }),
      is(ValueError, "options.min"),
    );
    // deno-lint-ignore no-explicit-any
    const fake = { rows: 3, cols: 5, data: new Float32Array(14) } as any;
    assert.throws(() => conv1x1(packConv1x1(w), fake, { backend }), is(ShapeError, "x.data"));
  });

  Deno.test(`${f}: a forged plan is refused before it reaches the kernel`, () => {
    const plan = packConv1x1(w, { blockSize: 1 });
    const s = plan.sections[0];
    const dmap = s.dmap.slice();
    dmap[1] = 1000; // walks far outside the input
    const forged: Conv1x1Plan = { ...plan, sections: [{ ...s, dmap }] };
    assert.throws(
      () => conv1x1(forged, x, { backend }),
      (e) =>
        e instanceof SparseFormatError && e.argument === "plan.sections[0].dmap" && e.index === 1,
    );
    const short: Conv1x1Plan = { ...plan, sections: [{ ...s, weights: s.weights.slice(1) }] };
    assert.throws(() => conv1x1(short, x, { backend }), is(ShapeError, "plan.sections[0].weights"));
    const uncovered: Conv1x1Plan = { ...plan, cout: 5 };
    assert.throws(() => backend.prepare(uncovered), is(SparseFormatError, "plan.sections"));
  });

  Deno.test(`${f}: disposed and foreign plans and tensors are BackendErrors`, async () => {
    const prepared = backend.prepare(packConv1x1(w));
    prepared.dispose();
    prepared.dispose(); // idempotent
    assert.equal(prepared.disposed, true);
    assert.throws(() => conv1x1(prepared, x, { backend }), is(BackendError, "plan"));
    const other = backends.find((b) => b.flavour !== f)!;
    using foreign = other.prepare(packConv1x1(w));
    assert.throws(() => backend.conv1x1(foreign, x), is(BackendError, "plan"));
    const t = backend.upload(x);
    const y = backend.alloc(4, 5);
    t.dispose();
    assert.throws(() => backend.conv1x1(packConv1x1(w), t, y), is(BackendError, "x"));
    assert.throws(() => t.read(), BackendError);
    using t2 = other.upload(x);
    assert.throws(() => backend.conv1x1(packConv1x1(w), t2, y), is(BackendError, "x"));
    assert.throws(() => backend.conv1x1(packConv1x1(w), x, y as never), is(BackendError, "out"));
    y.dispose();
    await Promise.resolve();
  });

  Deno.test(`${f}: out may alias the input, and inputs are never mutated`, () => {
    const sq = dense(3, 3, [1, 0, 0, 0, 0, 2, 0, 3, 0]);
    const xs = dense(3, 4, Array.from({ length: 12 }, (_, i) => i + 1));
    const want = conv1x1(packConv1x1(sq), xs, { backend });
    const copy = xs.data.slice();
    assert.deepEqual(xs.data, copy);
    const out = conv1x1(packConv1x1(sq), xs, { backend, out: xs });
    assert.equal(out, xs);
    assert.deepEqual(xs.data, want.data);
  });

  Deno.test(`${f}: empty shapes give empty results`, () => {
    assert.equal(spmm(csr(0, 3, [0], [], []), dense(3, 7), { backend }).data.length, 0);
    assert.deepEqual([...spmm(csr(2, 0, [0, 0, 0], [], []), dense(0, 2), { backend }).data], [
      0,
      0,
      0,
      0,
    ]);
    assert.equal(conv1x1(packConv1x1(w), dense(3, 0), { backend }).data.length, 0);
    assert.deepEqual([...gemm(dense(1, 0), dense(0, 2), { backend, bias: [3] }).data], [3, 3]);
  });
}

Deno.test("bad pack options are typed errors", () => {
  assert.throws(() => packConv1x1(w, { bias: [1, 2] }), is(ShapeError, "options.bias"));
  assert.throws(
    () => packConv1x1(w, { bias: [1, 2, NaN, 4] }),
    (e) => e instanceof ValueError && e.index === 2,
  );
  assert.throws(() => packConv1x1(w, { min: 1, max: 0 }), is(ValueError, "options.min"));
  assert.throws(() => packConv1x1(w, { min: NaN }), is(ValueError, "options.min"));
  // deno-lint-ignore no-explicit-any
  assert.throws(() => packConv1x1(w, { blockSize: 3 as any }), is(ValueError, "options.blockSize"));
});

Deno.test("the allocator reuses, merges and refuses past the memory's maximum", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const arena = new Arena(memory, 1000);
  const a = arena.alloc(100);
  const b = arena.alloc(100);
  assert.equal(a.ptr % 64, 0);
  assert.ok(b.ptr >= a.ptr + 100);
  arena.free(a);
  assert.equal(arena.alloc(64).ptr, a.ptr); // first fit reuses the hole
  const big = arena.alloc(3 * 65536); // grows memory
  assert.ok(memory.buffer.byteLength >= big.ptr + big.bytes);
  assert.throws(
    () => arena.alloc(65536),
    (e) => e instanceof BackendError && /out of WebAssembly memory/.test(e.message),
  );
  arena.free(big);
  arena.free(b);
  // Everything above the reused 64-byte block merged back into the top.
  assert.equal(arena.top, a.ptr + 64);
});

for (const backend of backends) {
  Deno.test(`${backend.flavour}: alloc zeroes reused memory, upload overwrites all of it`, () => {
    // Freed tensors leave their values behind in the backend's memory; a new tensor over it is
    // all zeros (alloc) or exactly the uploaded data, whatever was there.
    for (let round = 0; round < 3; round++) {
      const junk = backend.upload(dense(7, 13, new Float32Array(91).fill(7.5)));
      junk.dispose();
      const a = backend.alloc(7, 13);
      assert.deepEqual([...a.read().data], new Array(91).fill(0));
      a.dispose();
      const more = backend.upload(dense(5, 11, new Float32Array(55).fill(-3)));
      more.dispose();
      const data = Float32Array.from({ length: 55 }, (_, i) => i - 27.5);
      const u = backend.upload(dense(5, 11, data));
      assert.deepEqual(u.read().data, data);
      u.dispose();
    }
  });

  Deno.test(`${backend.flavour}: a resident out may be the input tensor`, () => {
    const sq = dense(3, 3, [1, 0, 0, 0, 0, 2, 0, 3, 0]);
    const xs = dense(3, 37, Array.from({ length: 111 }, (_, i) => i % 5 - 2));
    const want = conv1x1(packConv1x1(sq), xs, { backend });
    using t = backend.upload(xs);
    assert.equal(backend.conv1x1(packConv1x1(sq), t, t), t);
    assert.deepEqual(t.read().data, want.data);
    const a = dense(3, 3, [1, 2, 0, 0, 1, 0, 3, 0, 1]);
    const wantG = gemm(a, xs, { backend });
    using at = backend.upload(a);
    using bt = backend.upload(xs);
    assert.equal(backend.gemm(at, bt, { out: bt }), bt);
    assert.deepEqual(bt.read().data, wantG.data);
  });
}
