// Property tests of the CHW operators (depthwise convolution, the first-layer conv2d, global
// average pooling, add) on every flavour against the references in kernels/reference/chw.ts,
// with the tolerance derived from f32 summation; resident calls and aliasing; bad inputs.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  add,
  BackendError,
  conv2d,
  type Dense,
  dense,
  depthwise,
  globalAvgPool,
  type Padding,
  referenceAdd,
  referenceConv2d,
  referenceDepthwise,
  referenceGlobalAvgPool,
  resolveWindow,
  ShapeError,
  ValueError,
} from "../mod.ts";
import { assertWithinBound } from "../testing.ts";
import { allBackends } from "./backends.ts";
import {
  abs,
  clampArb,
  conv2dBound,
  conv2dCaseArb,
  depthwiseBound,
  depthwiseCaseArb,
  matrix,
  tryWindow,
  values,
} from "./chw_cases.ts";
import { throwsWith } from "./expect.ts";

const backends = await allBackends();
const RUNS = 200;

const copy = (d: Dense) => dense(d.rows, d.cols, d.data);

for (const backend of backends) {
  const f = backend.flavour;

  Deno.test(`${f}: depthwise matches the reference`, () => {
    fc.assert(
      fc.property(depthwiseCaseArb, (c) => {
        const { kernel, stride, height, width, batch, channels, padding } = c;
        const x = matrix(channels, batch * height * width, c.seed);
        const w = matrix(channels, kernel * kernel, c.seed + 1);
        const bias = c.bias ? values(channels, c.seed + 2) : undefined;
        const options = { height, width, batch, stride, padding, ...c.clamp };
        const window = tryWindow(kernel, options);
        if (window === undefined) {
          assert.throws(() => depthwise(x, w, { ...options, bias, backend }), ShapeError);
          return;
        }
        const [x0, w0] = [copy(x), copy(w)];
        const got = depthwise(x, w, { ...options, bias, backend });
        const want = referenceDepthwise(x, w, bias, window);
        assertWithinBound(got, want, depthwiseBound(x, w, bias, window), kernel * kernel);
        assert.deepEqual(x.data, x0.data, "x was mutated");
        assert.deepEqual(w.data, w0.data, "weights were mutated");
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${f}: depthwise over every tail width, row remainder and padding`, () => {
    // Widths around whole vectors (every ow % 4) and row counts around whole groups of four,
    // wide enough for the vector loops; every padding on each side.
    let seed = 1;
    for (const kernel of [3, 5]) {
      for (const stride of [1, 2]) {
        for (let width = 8; width <= 27; width++) {
          const height = 4 + (width % 7);
          const p = (i: number) => (width + i) % kernel;
          const padding: Padding = [p(0), p(1), p(2), p(3)];
          const options = { height, width, batch: 2, stride, padding, min: -1, max: 1.5 };
          const window = resolveWindow(kernel, options);
          const x = matrix(3, 2 * height * width, seed++);
          const w = matrix(3, kernel * kernel, seed++);
          const bias = values(3, seed++);
          assertWithinBound(
            depthwise(x, w, { ...options, bias, backend }),
            referenceDepthwise(x, w, bias, window),
            depthwiseBound(x, w, bias, window),
            kernel * kernel,
          );
        }
      }
    }
  });

  Deno.test(`${f}: conv2d matches the reference`, () => {
    fc.assert(
      fc.property(conv2dCaseArb(), (c) => {
        const { stride, height, width, batch, cin, cout, padding } = c;
        const x = matrix(batch, height * width * cin, c.seed);
        const w = matrix(cout, 9 * cin, c.seed + 1);
        const bias = c.bias ? values(cout, c.seed + 2) : undefined;
        const options = { height, width, channels: cin, stride, padding, ...c.clamp };
        const window = tryWindow(3, { ...options, batch }, [3]);
        if (window === undefined) {
          assert.throws(() => conv2d(x, w, { ...options, bias, backend }), ShapeError);
          return;
        }
        const [x0, w0] = [copy(x), copy(w)];
        const got = conv2d(x, w, { ...options, bias, backend });
        const want = referenceConv2d(x, w, bias, window);
        assertWithinBound(got, want, conv2dBound(x, w, bias, window), 9 * cin);
        assert.deepEqual(x.data, x0.data, "x was mutated");
        assert.deepEqual(w.data, w0.data, "weights were mutated");
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${f}: globalAvgPool matches the reference`, () => {
    const caseArb = fc.record({
      rows: fc.constantFrom(0, 1, 3, 6),
      batch: fc.constantFrom(0, 1, 3),
      pixels: fc.constantFrom(0, 1, 3, 4, 5, 15, 16, 17, 49, 196),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(caseArb, ({ rows, batch, pixels, seed }) => {
        const x = matrix(rows, batch * pixels, seed);
        const x0 = copy(x);
        const got = globalAvgPool(x, { batch, backend });
        const want = referenceGlobalAvgPool(x, batch);
        assertWithinBound(got, want, referenceGlobalAvgPool(abs(x), batch), pixels);
        assert.deepEqual(x.data, x0.data, "x was mutated");
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${f}: add matches the reference`, () => {
    const caseArb = fc.record({
      rows: fc.constantFrom(0, 1, 2, 5),
      cols: fc.constantFrom(0, 1, 3, 4, 7, 8, 9, 31, 33, 50),
      clamp: clampArb,
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(caseArb, ({ rows, cols, clamp, seed }) => {
        const a = matrix(rows, cols, seed);
        const b = matrix(rows, cols, seed + 1);
        const [a0, b0] = [copy(a), copy(b)];
        const got = add(a, b, { ...clamp, backend });
        assertWithinBound(got, referenceAdd(a, b, clamp), referenceAdd(abs(a), abs(b)), 2);
        assert.deepEqual(a.data, a0.data, "a was mutated");
        assert.deepEqual(b.data, b0.data, "b was mutated");
      }),
      { numRuns: RUNS },
    );
  });

  Deno.test(`${f}: out is honoured and returned`, () => {
    const x = matrix(2, 5 * 6, 7);
    const w = matrix(2, 9, 8);
    const geometry = { height: 5, width: 6, stride: 2 as const, min: 0, max: 6 };
    const out = dense(2, 3 * 3, Array(18).fill(99));
    assert.equal(depthwise(x, w, { ...geometry, out, backend }), out);
    assert.deepEqual(out.data, depthwise(x, w, { ...geometry, backend }).data);
    const img = matrix(1, 5 * 6 * 3, 9);
    const cw = matrix(4, 27, 10);
    const out2 = dense(4, 9, Array(36).fill(99));
    assert.equal(conv2d(img, cw, { ...geometry, channels: 3, out: out2, backend }), out2);
    assert.deepEqual(out2.data, conv2d(img, cw, { ...geometry, channels: 3, backend }).data);
    const out3 = dense(2, 1, [99, 99]);
    assert.equal(globalAvgPool(x, { out: out3, backend }), out3);
    assert.deepEqual(out3.data, globalAvgPool(x, { backend }).data);
    const out4 = dense(2, 30, Array(60).fill(99));
    assert.equal(add(x, x, { out: out4, min: -1, backend }), out4);
    assert.deepEqual(out4.data, add(x, x, { min: -1, backend }).data);
    // Empty images pool to zero, whatever out held.
    const out5 = dense(3, 2, Array(6).fill(99));
    globalAvgPool(dense(3, 0), { batch: 2, out: out5, backend });
    assert.deepEqual([...out5.data], [0, 0, 0, 0, 0, 0]);
  });

  Deno.test(`${f}: resident calls, in place where allowed`, () => {
    const window = resolveWindow(3, { height: 3, width: 3, padding: 1, min: -1, max: 2 });
    const x = matrix(4, 9, 11);
    const w = matrix(4, 9, 12);
    const bias = values(4, 13);
    const want = referenceDepthwise(x, w, bias, window);
    const bound = depthwiseBound(x, w, bias, window);
    using xt = backend.upload(x);
    using bt = backend.upload(dense(4, 1, bias));
    using yt = backend.alloc(4, 9);
    {
      using wt = backend.upload(w);
      assert.equal(backend.depthwise(xt, wt, bt, yt, window), yt);
      assertWithinBound(yt.read(), want, bound, 9);
      // out may be the weights (same shape here): computed aside.
      assert.equal(backend.depthwise(xt, wt, bt, wt, window), wt);
      assertWithinBound(wt.read(), want, bound, 9);
    }
    throwsWith(() => backend.depthwise(xt, yt, bt, xt, window), ShapeError, { argument: "out" });

    // conv2d with out === x: one 3x3 single-channel image, one output channel.
    const cw = resolveWindow(3, { height: 3, width: 3, padding: 1, batch: 1 }, [3]);
    const img = matrix(1, 9, 14);
    const filt = matrix(1, 9, 15);
    const cwant = referenceConv2d(img, filt, undefined, cw);
    using it = backend.upload(img);
    using ft = backend.upload(filt);
    assert.equal(backend.conv2d(it, ft, undefined, it, cw), it);
    assertWithinBound(it.read(), cwant, conv2dBound(img, filt, undefined, cw), 9);

    // Pooling 1-pixel images in place, and add into either operand.
    using pt = backend.upload(x);
    assert.equal(backend.globalAvgPool(pt, pt, 9), pt);
    assertWithinBound(
      pt.read(),
      referenceGlobalAvgPool(x, 9),
      referenceGlobalAvgPool(abs(x), 9),
      1,
    );
    const a = matrix(3, 10, 16);
    const b = matrix(3, 10, 17);
    const sum = referenceAdd(a, b, { min: -1, max: 1 });
    const sumBound = referenceAdd(abs(a), abs(b));
    using at = backend.upload(a);
    using bt2 = backend.upload(b);
    assert.equal(backend.add(at, bt2, at, -1, 1), at);
    assertWithinBound(at.read(), sum, sumBound, 2);
    using at2 = backend.upload(a);
    backend.add(at2, bt2, bt2, -1, 1);
    assertWithinBound(bt2.read(), sum, sumBound, 2);
  });

  Deno.test(`${f}: bad CHW inputs are typed errors naming the argument`, () => {
    const x = matrix(2, 16, 1);
    const w = matrix(2, 9, 2);
    const g = { height: 4, width: 4 };
    const dw = (xx: Dense, ww: Dense, o: object) => () =>
      depthwise(xx, ww, { ...g, ...o, backend } as never);
    throwsWith(dw(matrix(2, 15, 1), w, {}), ShapeError, { argument: "x.cols" });
    throwsWith(dw(x, matrix(3, 9, 2), {}), ShapeError, { argument: "weights.rows" });
    throwsWith(dw(x, matrix(2, 16, 2), {}), ShapeError, { argument: "weights.cols", value: 16 });
    throwsWith(dw(x, w, { stride: 3 }), ShapeError, { argument: "options.stride", value: 3 });
    throwsWith(dw(x, w, { padding: 3 }), ShapeError, { argument: "options.padding", value: 3 });
    throwsWith(dw(x, w, { padding: [0, 0, 3, 0] }), ShapeError, {
      argument: "options.padding[2]",
    });
    throwsWith(dw(x, w, { padding: "full" }), ShapeError, { argument: "options.padding" });
    throwsWith(dw(matrix(2, 4, 1), w, { height: 2, width: 2, padding: "valid" }), ShapeError, {
      argument: "options.padding",
    });
    throwsWith(dw(x, w, { bias: [1, NaN] }), ValueError, { argument: "options.bias", index: 1 });
    throwsWith(dw(x, w, { bias: [1] }), ShapeError, { argument: "options.bias" });
    throwsWith(dw(x, w, { min: 2, max: 1 }), ValueError, { argument: "options.min" });
    throwsWith(dw(x, w, { max: NaN }), ValueError, { argument: "options.max" });
    throwsWith(dw(x, w, { out: dense(2, 15) }), ShapeError, { argument: "out" });

    const img = matrix(1, 16 * 3, 3);
    const cw = matrix(4, 27, 4);
    const cv = (xx: Dense, ww: Dense, o: object) => () =>
      conv2d(xx, ww, { ...g, channels: 3, ...o, backend } as never);
    throwsWith(cv(img, cw, { channels: 0 }), ShapeError, { argument: "options.channels" });
    throwsWith(cv(img, matrix(4, 16, 4), {}), ShapeError, { argument: "weights.cols" });
    throwsWith(cv(matrix(1, 47, 3), cw, {}), ShapeError, { argument: "x.cols" });
    throwsWith(cv(img, cw, { stride: 3 }), ShapeError, { argument: "options.stride" });
    throwsWith(cv(img, cw, { bias: [0, 0, NaN, 0] }), ValueError, {
      argument: "options.bias",
      index: 2,
    });
    throwsWith(cv(img, cw, { min: 1, max: 0 }), ValueError, { argument: "options.min" });

    throwsWith(() => globalAvgPool(matrix(2, 7, 5), { batch: 2, backend }), ShapeError, {
      argument: "x.cols",
    });
    throwsWith(() => globalAvgPool(x, { out: dense(2, 2), backend }), ShapeError, {
      argument: "out",
    });
    throwsWith(() => add(x, matrix(2, 15, 6), { backend }), ShapeError, { argument: "b" });
    throwsWith(() => add(x, x, { min: 1, max: -1, backend }), ValueError, {
      argument: "options.min",
    });
  });

  Deno.test(`${f}: foreign, disposed and forged resident operands are refused`, () => {
    const other = backends.find((b) => b.flavour !== f)!;
    const window = resolveWindow(3, { height: 4, width: 4 });
    using xt = backend.upload(matrix(2, 16, 1));
    using wt = backend.upload(matrix(2, 9, 2));
    using yt = backend.alloc(2, 16);
    using foreign = other.upload(matrix(2, 16, 1));
    throwsWith(() => backend.depthwise(foreign, wt, undefined, yt, window), BackendError, {
      argument: "x",
    });
    throwsWith(() => backend.add(xt, foreign, yt, -Infinity, Infinity), BackendError, {
      argument: "b",
    });
    using pooled = backend.alloc(2, 1);
    throwsWith(() => backend.globalAvgPool(foreign, pooled, 1), BackendError, { argument: "x" });
    const gone = backend.upload(matrix(2, 9, 2));
    gone.dispose();
    throwsWith(() => backend.depthwise(xt, gone, undefined, yt, window), BackendError, {
      argument: "weights",
      value: "disposed",
    });
    const cw = resolveWindow(3, { height: 4, width: 4, batch: 2 }, [3]);
    using ct = backend.alloc(2, 32);
    throwsWith(() => backend.conv2d(xt, gone, undefined, ct, cw), BackendError, {
      argument: "weights",
    });
    const goneOut = backend.alloc(2, 16);
    goneOut.dispose();
    throwsWith(() => backend.add(xt, xt, goneOut, 0, 1), BackendError, { argument: "out" });
    // A forged window never reaches a kernel.
    throwsWith(
      () => backend.depthwise(xt, wt, undefined, yt, { ...window, kernel: 4 }),
      ShapeError,
      { argument: "window.kernel" },
    );
    throwsWith(
      () => backend.depthwise(xt, wt, undefined, yt, { ...window, outWidth: 9 }),
      ShapeError,
      { argument: "window.outWidth" },
    );
    throwsWith(
      () => backend.depthwise(xt, wt, undefined, yt, { ...window, padLeft: 3 }),
      ShapeError,
      { argument: "window.padLeft" },
    );
    throwsWith(
      () => backend.depthwise(xt, wt, undefined, yt, { ...window, min: 1, max: 0 }),
      ValueError,
      { argument: "window.min" },
    );
  });
}
