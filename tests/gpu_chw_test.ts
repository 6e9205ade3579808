// Property tests of the WebGPU CHW operators (depthwise convolution, the first-layer conv2d,
// global average pooling, add) against the references in kernels/reference/chw.ts and against
// the CPU backend's resident operators, with the tolerances derived as in tests/chw_test.ts and
// every input's padding columns full of garbage; aliasing, typed errors, the pipeline cache and
// folded grids.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  type Dense,
  dense,
  init,
  type Padding,
  referenceAdd,
  referenceConv2d,
  referenceDepthwise,
  referenceGlobalAvgPool,
  resolveWindow,
  ShapeError,
  ValueError,
  type Window,
} from "../mod.ts";
import { type Gpu, GpuError, type GpuTensor } from "../gpu/mod.ts";
import { assertWithinBound } from "../testing.ts";
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
import { testGpu, uploadWithGarbage } from "./gpu_helpers.ts";

const gpu = await testGpu();
const cpu = await init();
const ignore = gpu === undefined;
const RUNS = 80;

const upload = uploadWithGarbage;

const column = (b: readonly number[]) => dense(b.length, 1, b);

/** Asserts that every tensor still holds its Dense. */
async function unchanged(pairs: [GpuTensor | undefined, Dense | undefined, string][]) {
  for (const [t, d, name] of pairs) {
    if (t !== undefined && d !== undefined) {
      assert.deepEqual((await t.read()).data, d.data, `${name} was mutated`);
    }
  }
}

/** The windowed operators, by their name on the `Gpu` and on the CPU `Backend`. */
type Windowed = "depthwise" | "conv2d";

/** A windowed operator on the GPU (garbage padding everywhere), inputs checked after. */
async function gpuWindowed(
  op: Windowed,
  g: Gpu,
  x: Dense,
  w: Dense,
  bias: number[] | undefined,
  window: Window,
): Promise<Dense> {
  const rows = op === "depthwise" ? x.rows : w.rows;
  using xt = upload(g, x);
  using wt = upload(g, w);
  using bt = bias && upload(g, column(bias));
  using out = upload(g, matrix(rows, window.batch * window.outHeight * window.outWidth, 99));
  assert.equal(g[op](xt, wt, bt, out, window), out);
  const got = await out.read();
  await unchanged([[xt, x, "x"], [wt, w, "weights"], [bt, bias && column(bias), "bias"]]);
  return got;
}

/** The same operator on the CPU backend. */
function cpuWindowed(
  op: Windowed,
  x: Dense,
  w: Dense,
  bias: number[] | undefined,
  window: Window,
): Dense {
  const rows = op === "depthwise" ? x.rows : w.rows;
  using xt = cpu.upload(x);
  using wt = cpu.upload(w);
  using bt = bias && cpu.upload(column(bias));
  using out = cpu.alloc(rows, window.batch * window.outHeight * window.outWidth);
  return cpu[op](xt, wt, bt, out, window).read();
}

type GpuArgs = [Gpu, Dense, Dense, number[] | undefined, Window];
type CpuArgs = [Dense, Dense, number[] | undefined, Window];
const gpuDepthwise = (...a: GpuArgs) => gpuWindowed("depthwise", ...a);
const gpuConv2d = (...a: GpuArgs) => gpuWindowed("conv2d", ...a);
const cpuDepthwise = (...a: CpuArgs) => cpuWindowed("depthwise", ...a);
const cpuConv2d = (...a: CpuArgs) => cpuWindowed("conv2d", ...a);

// cin past one step of four input channels (5, 8), cout past one group of eight (9, 17).
const conv2dCases = conv2dCaseArb([1, 2, 3, 3, 4, 5, 8], [0, 1, 3, 4, 5, 9, 17]);

Deno.test({
  name: "gpu depthwise matches the reference and the CPU backend",
  ignore,
  async fn() {
    const g = gpu!;
    await fc.assert(
      fc.asyncProperty(depthwiseCaseArb, async (c) => {
        const { kernel, stride, height, width, batch, channels, padding } = c;
        const window = tryWindow(kernel, { height, width, batch, stride, padding, ...c.clamp });
        if (window === undefined) return; // refused before any backend sees it
        const x = matrix(channels, batch * height * width, c.seed);
        const w = matrix(channels, kernel * kernel, c.seed + 1);
        const bias = c.bias ? values(channels, c.seed + 2) : undefined;
        const got = await gpuDepthwise(g, x, w, bias, window);
        const bound = depthwiseBound(x, w, bias, window);
        const terms = kernel * kernel;
        assertWithinBound(got, referenceDepthwise(x, w, bias, window), bound, terms);
        assertWithinBound(got, cpuDepthwise(x, w, bias, window), bound, 2 * terms + 2);
      }),
      { numRuns: RUNS },
    );
  },
});

Deno.test({
  name: "gpu depthwise over every padding per side, tail widths, and tiny and odd images",
  ignore,
  async fn() {
    // Each width gives each side the padding (width + side) % kernel, so every padding 0..k-1
    // appears on every side; widths cross one and two 8-pixel tiles at both strides.
    const g = gpu!;
    let seed = 1;
    for (const kernel of [3, 5]) {
      for (const stride of [1, 2]) {
        for (let width = 1; width <= 19; width++) {
          const height = 1 + ((width * 3) % 10);
          const p = (i: number) => (width + i) % kernel;
          const padding: Padding = [p(0), p(1), p(2), p(3)];
          const options = { height, width, batch: 2, stride, padding, min: -1, max: 1.5 };
          const window = tryWindow(kernel, options);
          if (window === undefined) continue;
          const x = matrix(3, 2 * height * width, seed++);
          const w = matrix(3, kernel * kernel, seed++);
          const bias = values(3, seed++);
          assertWithinBound(
            await gpuDepthwise(g, x, w, bias, window),
            referenceDepthwise(x, w, bias, window),
            depthwiseBound(x, w, bias, window),
            kernel * kernel,
          );
        }
      }
    }
  },
});

Deno.test({
  name: "gpu conv2d matches the reference and the CPU backend",
  ignore,
  async fn() {
    const g = gpu!;
    await fc.assert(
      fc.asyncProperty(conv2dCases, async (c) => {
        const { stride, height, width, batch, cin, cout, padding } = c;
        const window = tryWindow(3, { height, width, batch, stride, padding, ...c.clamp }, [3]);
        if (window === undefined) return;
        const x = matrix(batch, height * width * cin, c.seed);
        const w = matrix(cout, 9 * cin, c.seed + 1);
        const bias = c.bias ? values(cout, c.seed + 2) : undefined;
        const got = await gpuConv2d(g, x, w, bias, window);
        const bound = conv2dBound(x, w, bias, window);
        assertWithinBound(got, referenceConv2d(x, w, bias, window), bound, 9 * cin);
        assertWithinBound(got, cpuConv2d(x, w, bias, window), bound, 18 * cin + 2);
      }),
      { numRuns: RUNS },
    );
  },
});

Deno.test({
  name: "gpu conv2d: every padding per side, stride 2 on odd sizes, many input channels",
  ignore,
  async fn() {
    const g = gpu!;
    let seed = 100;
    for (const stride of [1, 2]) {
      for (let width = 1; width <= 11; width += 2) {
        const height = 12 - width;
        const p = (i: number) => (width + i) % 3;
        const padding: Padding = [p(0), p(1), p(2), p(3)];
        const cin = [3, 1, 6, 13][width % 4];
        const window = tryWindow(3, { height, width, batch: 2, stride, padding, min: -2 }, [3]);
        if (window === undefined) continue;
        const x = matrix(2, height * width * cin, seed++);
        const w = matrix(10, 9 * cin, seed++);
        const bias = values(10, seed++);
        assertWithinBound(
          await gpuConv2d(g, x, w, bias, window),
          referenceConv2d(x, w, bias, window),
          conv2dBound(x, w, bias, window),
          9 * cin,
        );
      }
    }
  },
});

Deno.test({
  name: "gpu globalAvgPool matches the reference and the CPU backend",
  ignore,
  async fn() {
    // The GPU sums a row's pixels in some order (error up to (pixels-1) u sum|x|) and multiplies
    // by the f32 reciprocal of pixels (two more roundings of u |mean|); the reference rounds
    // its f64 mean once. Together under (pixels + 2) u in units of mean|x|, within the
    // (pixels + 2) 2^-23 that assertWithinBound allows for `pixels` terms.
    const g = gpu!;
    const caseArb = fc.record({
      rows: fc.constantFrom(0, 1, 3, 6),
      batch: fc.constantFrom(0, 1, 3),
      pixels: fc.constantFrom(0, 1, 3, 4, 5, 15, 16, 17, 49, 63, 64, 65, 196),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ rows, batch, pixels, seed }) => {
        const x = matrix(rows, batch * pixels, seed);
        using xt = upload(g, x);
        using out = upload(g, matrix(rows, batch, seed + 1));
        assert.equal(g.globalAvgPool(xt, out, batch), out);
        const got = await out.read();
        const bound = referenceGlobalAvgPool(abs(x), batch);
        assertWithinBound(got, referenceGlobalAvgPool(x, batch), bound, pixels);
        using ct = cpu.upload(x);
        using co = cpu.alloc(rows, batch);
        assertWithinBound(got, cpu.globalAvgPool(ct, co, batch).read(), bound, 2 * pixels + 2);
        await unchanged([[xt, x, "x"]]);
      }),
      { numRuns: RUNS },
    );
  },
});

Deno.test({
  name: "gpu add matches the reference and the CPU backend, into either operand",
  ignore,
  async fn() {
    const g = gpu!;
    const caseArb = fc.record({
      rows: fc.constantFrom(0, 1, 2, 5),
      cols: fc.constantFrom(0, 1, 3, 4, 7, 8, 9, 31, 33, 50),
      clamp: clampArb,
      into: fc.constantFrom("fresh", "a", "b", "a=b", "a=b=out"),
      seed: fc.integer(),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ rows, cols, clamp, into, seed }) => {
        const a = matrix(rows, cols, seed);
        const b = into.startsWith("a=b") ? a : matrix(rows, cols, seed + 1);
        const { min = -Infinity, max = Infinity } = clamp;
        using at = upload(g, a);
        using bt = into.startsWith("a=b") ? undefined : upload(g, b);
        const bg = bt ?? at;
        using fresh = into === "fresh" || into === "a=b"
          ? upload(g, matrix(rows, cols, 7))
          : undefined;
        const out = fresh ?? (into === "b" ? bg : at);
        assert.equal(g.add(at, bg, out, min, max), out);
        const got = await out.read();
        const bound = referenceAdd(abs(a), abs(b));
        assertWithinBound(got, referenceAdd(a, b, clamp), bound, 2);
        using ca = cpu.upload(a);
        using cb = cpu.upload(b);
        using co = cpu.alloc(rows, cols);
        assertWithinBound(got, cpu.add(ca, cb, co, min, max).read(), bound, 6);
        if (out !== at) await unchanged([[at, a, "a"]]);
        if (out !== bg) await unchanged([[bg, b, "b"]]);
      }),
      { numRuns: RUNS },
    );
  },
});

Deno.test({
  name: "gpu CHW: an output that is also an input is computed aside, as on the CPU",
  ignore,
  async fn() {
    const g = gpu!;
    // Depthwise into its weights (same shape here).
    const window = resolveWindow(3, { height: 3, width: 3, padding: 1, min: -1, max: 2 });
    const x = matrix(4, 9, 11);
    const w = matrix(4, 9, 12);
    const bias = values(4, 13);
    using xt = upload(g, x);
    using bt = upload(g, column(bias));
    using wt = upload(g, w);
    assert.equal(g.depthwise(xt, wt, bt, wt, window), wt);
    assertWithinBound(
      await wt.read(),
      referenceDepthwise(x, w, bias, window),
      depthwiseBound(x, w, bias, window),
      9,
    );
    throwsWith(() => g.depthwise(xt, wt, bt, xt, window), ShapeError, { argument: "out" });
    // Depthwise into its bias: one channel, one output pixel.
    const one = resolveWindow(3, { height: 1, width: 1, padding: 1 });
    using x1 = upload(g, dense(1, 1, [2]));
    using w1 = upload(g, dense(1, 9, [1, 1, 1, 1, 3, 1, 1, 1, 1]));
    using b1 = upload(g, dense(1, 1, [0.5]));
    g.depthwise(x1, w1, b1, b1, one);
    assert.deepEqual([...(await b1.read()).data], [6.5]);

    // conv2d into its input: one 3x3 single-channel image, one output channel.
    const cw = resolveWindow(3, { height: 3, width: 3, padding: 1, batch: 1 }, [3]);
    const img = matrix(1, 9, 14);
    const filt = matrix(1, 9, 15);
    using it = upload(g, img);
    using ft = upload(g, filt);
    assert.equal(g.conv2d(it, ft, undefined, it, cw), it);
    assertWithinBound(
      await it.read(),
      referenceConv2d(img, filt, undefined, cw),
      conv2dBound(img, filt, undefined, cw),
      9,
    );

    // Pooling 1-pixel images in place.
    using pt = upload(g, x);
    assert.equal(g.globalAvgPool(pt, pt, 9), pt);
    assertWithinBound(
      await pt.read(),
      referenceGlobalAvgPool(x, 9),
      referenceGlobalAvgPool(abs(x), 9),
      1,
    );
  },
});

Deno.test({
  name: "gpu CHW: empty shapes write nothing, images of no pixels pool to zero",
  ignore,
  async fn() {
    const g = gpu!;
    const window = resolveWindow(3, { height: 4, width: 4, batch: 0 });
    using x = g.alloc(2, 0);
    using w = g.alloc(2, 9);
    using out = g.alloc(2, 0);
    assert.deepEqual(g.encode.depthwise(x, w, undefined, out, window), []);
    using none = g.alloc(0, 16);
    using noneW = g.alloc(0, 9);
    using noneOut = g.alloc(0, 16);
    const one = resolveWindow(3, { height: 4, width: 4 });
    assert.deepEqual(g.encode.depthwise(none, noneW, undefined, noneOut, one), []);
    using pooled = g.upload(dense(3, 2, Array(6).fill(99)));
    using empty = g.alloc(3, 0);
    g.globalAvgPool(empty, pooled, 2);
    assert.deepEqual([...(await pooled.read()).data], [0, 0, 0, 0, 0, 0]);
  },
});

Deno.test({
  name: "gpu CHW: encoding submits nothing; the dispatches run as often as submitted",
  ignore,
  async fn() {
    const g = gpu!;
    const window = resolveWindow(3, { height: 5, width: 6, stride: 2, min: 0 });
    const x = matrix(2, 30, 1);
    const w = matrix(2, 9, 2);
    using xt = g.upload(x);
    using wt = g.upload(w);
    using out = g.alloc(2, window.outHeight * window.outWidth);
    const dispatches = g.encode.depthwise(xt, wt, undefined, out, window);
    await g.finish();
    assert.ok((await out.read()).data.every((v) => v === 0));
    try {
      for (let i = 0; i < 2; i++) {
        g.submit(dispatches);
        assertWithinBound(
          await out.read(),
          referenceDepthwise(x, w, undefined, window),
          depthwiseBound(x, w, undefined, window),
          9,
        );
      }
    } finally {
      g.context.release(dispatches);
    }
  },
});

Deno.test({
  name: "gpu CHW: bad inputs are typed errors naming the argument",
  ignore,
  fn() {
    const g = gpu!;
    const window = resolveWindow(3, { height: 4, width: 4 });
    using x = g.alloc(2, 16);
    using w = g.alloc(2, 9);
    using b = g.alloc(2, 1);
    using y = g.alloc(2, 16);
    const dw =
      (xx: GpuTensor, ww: GpuTensor, bb: GpuTensor | undefined, o: GpuTensor, win = window) => () =>
        g.depthwise(xx, ww, bb, o, win);
    using x15 = g.alloc(2, 15);
    using w16 = g.alloc(2, 16);
    using w3 = g.alloc(3, 9);
    using b3 = g.alloc(3, 1);
    throwsWith(dw(x15, w, b, y), ShapeError, { argument: "x" });
    throwsWith(dw(x, w16, b, y), ShapeError, { argument: "weights", value: "2x16" });
    throwsWith(dw(x, w3, b, y), ShapeError, { argument: "weights" });
    throwsWith(dw(x, w, b3, y), ShapeError, { argument: "bias" });
    throwsWith(dw(x, w, b, x15), ShapeError, { argument: "out" });
    throwsWith(dw(x, w, b, x), ShapeError, { argument: "out", value: "x" });
    // A forged window never reaches a kernel.
    throwsWith(dw(x, w, b, y, { ...window, kernel: 4 }), ShapeError, { argument: "window.kernel" });
    throwsWith(dw(x, w, b, y, { ...window, stride: 3 }), ShapeError, { argument: "window.stride" });
    throwsWith(dw(x, w, b, y, { ...window, outWidth: 9 }), ShapeError, {
      argument: "window.outWidth",
    });
    throwsWith(dw(x, w, b, y, { ...window, padLeft: 3 }), ShapeError, {
      argument: "window.padLeft",
    });
    throwsWith(dw(x, w, b, y, { ...window, min: 1, max: 0 }), ValueError, {
      argument: "window.min",
    });
    throwsWith(dw(x, w, b, y, { ...window, max: NaN }), ValueError, { argument: "window.min" });

    const cw = resolveWindow(3, { height: 4, width: 4, batch: 1 }, [3]);
    using img = g.alloc(1, 48);
    using cwt = g.alloc(4, 27);
    using cout = g.alloc(4, 16);
    throwsWith(() => g.conv2d(img, w16, undefined, cout, cw), ShapeError, {
      argument: "weights.cols",
    });
    using img47 = g.alloc(1, 47);
    throwsWith(() => g.conv2d(img47, cwt, undefined, cout, cw), ShapeError, { argument: "x" });
    throwsWith(() => g.conv2d(img, cwt, b, cout, cw), ShapeError, { argument: "bias" });
    throwsWith(() => g.conv2d(img, cwt, undefined, y, cw), ShapeError, { argument: "out" });
    const five = resolveWindow(5, { height: 4, width: 4 });
    throwsWith(() => g.conv2d(img, cwt, undefined, cout, five), ShapeError, {
      argument: "window.kernel",
    });

    using p7 = g.alloc(2, 7);
    using p2 = g.alloc(2, 2);
    throwsWith(() => g.globalAvgPool(p7, p2, 2), ShapeError, { argument: "x.cols" });
    throwsWith(() => g.globalAvgPool(x, p2, 1), ShapeError, { argument: "out" });
    throwsWith(() => g.globalAvgPool(x, p2, -1), ShapeError, { argument: "batch" });
    throwsWith(() => g.add(x, x15, y, -Infinity, Infinity), ShapeError, { argument: "b" });
    throwsWith(() => g.add(x, x, x15, -Infinity, Infinity), ShapeError, { argument: "out" });
    throwsWith(() => g.add(x, x, y, 1, -1), ValueError, { argument: "options.min" });
    throwsWith(() => g.add(x, x, y, NaN, 1), ValueError, { argument: "options.min" });

    const gone = g.alloc(2, 9);
    gone.dispose();
    const disposed = (argument: string) => (e: unknown) =>
      e instanceof GpuError && e.code === "disposed" && e.argument === argument;
    assert.throws(() => g.depthwise(x, gone, undefined, y, window), disposed("weights"));
    assert.throws(() => g.conv2d(img, cwt, undefined, gone, cw), disposed("out"));
    assert.throws(() => g.globalAvgPool(gone, p2, 1), disposed("x"));
    assert.throws(() => g.add(x, x, gone, 0, 1), disposed("out"));
  },
});

Deno.test({
  name: "gpu CHW: one pipeline per kernel variant, reused by later calls",
  ignore,
  async fn() {
    const g = gpu!;
    const dw = resolveWindow(5, { height: 6, width: 5, stride: 2, min: 0 });
    const cw = resolveWindow(3, { height: 6, width: 5, batch: 1 }, [3]);
    using x = g.upload(matrix(3, 30, 1));
    using w = g.upload(matrix(3, 25, 2));
    using y = g.alloc(3, dw.outHeight * dw.outWidth);
    using img = g.upload(matrix(1, 30 * 3, 3));
    using cwt = g.upload(matrix(4, 27, 4));
    using cy = g.alloc(4, 30);
    using pooled = g.alloc(3, 1);
    using sum = g.alloc(3, 30);
    const all = () => {
      g.depthwise(x, w, undefined, y, dw);
      g.conv2d(img, cwt, undefined, cy, cw);
      g.globalAvgPool(x, pooled, 1);
      g.add(x, x, sum, 0, 1);
      g.add(sum, x, sum, 0, 1);
    };
    all();
    const count = g.context.pipelineCount;
    for (let i = 0; i < 3; i++) all();
    await g.finish();
    assert.equal(g.context.pipelineCount, count);
  },
});

Deno.test({
  name: "gpu CHW: grids of more workgroups than one dimension allows are folded",
  ignore,
  async fn() {
    const g = gpu!;
    const channels = g.limits.maxComputeWorkgroupsPerDimension + 5;
    // Depthwise: one workgroup per channel of a 1x1 image.
    const window = resolveWindow(3, { height: 1, width: 1, padding: 1, max: 3 });
    const x = matrix(channels, 1, 1);
    const w = matrix(channels, 9, 2);
    const bias = values(channels, 3);
    assertWithinBound(
      await gpuDepthwise(g, x, w, bias, window),
      referenceDepthwise(x, w, bias, window),
      depthwiseBound(x, w, bias, window),
      9,
    );
    // Pooling: one workgroup per row.
    using xt = g.upload(x);
    using pooled = g.alloc(channels, 1);
    g.globalAvgPool(xt, pooled, 1);
    assert.deepEqual((await pooled.read()).data, x.data);
    // conv2d: one workgroup per image of one pixel.
    const cw = resolveWindow(3, { height: 1, width: 1, padding: 1, batch: channels }, [3]);
    const filt = matrix(1, 9, 4);
    assertWithinBound(
      await gpuConv2d(g, x, filt, [0.25], cw),
      referenceConv2d(x, filt, [0.25], cw),
      conv2dBound(x, filt, [0.25], cw),
      9,
    );
  },
});
