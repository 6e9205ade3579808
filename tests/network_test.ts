// The network runner on every backend against the reference network, layer by layer within
// each layer's derived bound: random small specs, MobileNet v1/v2 at small sizes (dense, 90%
// unstructured, 90% in 1x4 blocks), batches, batch norm folding, weights through the tfjs
// format, and the spec errors.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  type Backend,
  BackendError,
  compareLayers,
  compileNetwork,
  decodeTfjsWeights,
  dense,
  encodeTfjsWeights,
  inferShapes,
  type LayerSpec,
  mobileNetV1,
  mobileNetV2,
  type NetworkSpec,
  packConv1x1,
  pruneNetwork,
  randomWeights,
  referenceNetwork,
  resolveWindow,
  seededRandom,
  ShapeError,
  SpecError,
  type Weight,
} from "../mod.ts";
import { TENSOR_VIEW, type TensorView } from "../kernels/backend.ts";
import { sharedOutputs } from "../kernels/runner.ts";
import { allBackends } from "./backends.ts";
import { image, specArb } from "./network_cases.ts";

const backends: Backend[] = await allBackends();

/** Compiles, traces and checks every layer within its bound; returns the run's output. */
function check(
  spec: NetworkSpec,
  weights: Map<string, Weight>,
  backend: Backend,
  options: { batch?: number; mode?: "auto" | "sparse" | "dense"; seed?: number } = {},
) {
  const batch = options.batch ?? 1;
  const input = image(spec, batch, options.seed ?? 1);
  using net = compileNetwork(spec, weights, { backend, batch, mode: options.mode });
  const trace = net.trace(input);
  const report = compareLayers(spec, weights, input, trace, batch);
  for (const l of report) {
    assert.ok(l.ratio <= 1, `${backend.flavour}: layer ${l.name} off by ${l.ratio}x its bound`);
  }
  const out = net.run(input);
  assert.equal(out.data.length, trace[trace.length - 1].data.length);
  return { out, net: { paths: net.paths } };
}

for (const backend of backends) {
  Deno.test(`${backend.flavour}: random networks agree with the reference layer by layer`, () => {
    fc.assert(
      fc.property(
        specArb,
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(0, 0.5, 0.9, 1),
        fc.constantFrom<"auto" | "sparse" | "dense">("auto", "sparse", "dense"),
        fc.integer(),
        (spec, batch, sparsity, mode, seed) => {
          const weights = pruneNetwork(spec, randomWeights(spec, seed), { sparsity });
          check(spec, weights, backend, { batch, mode, seed });
        },
      ),
      { numRuns: backend.flavour === "js" ? 40 : 80 },
    );
  });

  for (const [name, make] of [["v1", mobileNetV1], ["v2", mobileNetV2]] as const) {
    Deno.test(`${backend.flavour}: MobileNet ${name} at 32x32, dense and 90% sparse`, () => {
      const spec = make({ size: 32, classes: 10 });
      const weights = randomWeights(spec, 11);
      check(spec, weights, backend, { mode: "dense" });
      const { net } = check(spec, pruneNetwork(spec, weights, { sparsity: 0.9 }), backend);
      assert.ok(net.paths.every((p) => p !== "dense"), "90% sparse layers run sparse");
      check(spec, pruneNetwork(spec, weights, { sparsity: 0.9, block: 4 }), backend, {
        batch: 2,
      });
    });
  }
}

Deno.test("batch > 1 gives each image the answer it gets alone", () => {
  const spec = mobileNetV2({ size: 17, classes: 5 });
  const weights = pruneNetwork(spec, randomWeights(spec, 2), { sparsity: 0.8 });
  const input = image(spec, 3, 9);
  const per = input.length / 3;
  using net = compileNetwork(spec, weights, { batch: 3 });
  using one = compileNetwork(spec, weights);
  const all = net.run(input);
  assert.deepEqual([all.rows, all.cols], [3, 5]);
  for (let n = 0; n < 3; n++) {
    const alone = one.run(input.subarray(n * per, (n + 1) * per));
    // The TypeScript backend computes every pixel the same way whatever the batch.
    assert.deepEqual([...all.data.subarray(n * 5, n * 5 + 5)], [...alone.data]);
  }
});

Deno.test("end to end, the runner's output is the reference network's to 1e-4 of its scale", () => {
  const spec = mobileNetV1({ size: 24, classes: 7 });
  const weights = pruneNetwork(spec, randomWeights(spec, 4), { sparsity: 0.9 });
  const input = image(spec, 1, 3);
  using net = compileNetwork(spec, weights);
  const got = net.run(input);
  const want = referenceNetwork(spec, weights, input).output;
  assert.deepEqual([got.rows, got.cols], [want.rows, want.cols]);
  const scale = Math.max(...want.data.map(Math.abs));
  got.data.forEach((v, i) => assert.ok(Math.abs(v - want.data[i]) <= 1e-4 * scale));
});

Deno.test("batch norm is folded into the kernel and bias", () => {
  const spec: NetworkSpec = {
    input: { height: 5, width: 5, channels: 2 },
    layers: [
      { kind: "conv2d", name: "c", outChannels: 3, weights: { batchNorm: "c_bn" } },
      { kind: "depthwise", name: "d", weights: { batchNorm: "d_bn", epsilon: 0.01 } },
    ],
  };
  const base = randomWeights(spec, 8);
  const bn = (n: number, seed: number) => {
    const r = seededRandom(seed);
    const v = () => Float32Array.from({ length: n }, () => r() + 0.5);
    return { gamma: v(), beta: v(), moving_mean: v(), moving_variance: v() };
  };
  const withBn = new Map(base);
  const folded = new Map(base);
  for (
    const [layer, eps, kernelName] of [["c", 1e-3, "c/kernel"], [
      "d",
      0.01,
      "d/depthwise_kernel",
    ]] as const
  ) {
    const p = bn(3, layer.length + 1);
    for (const [k, v] of Object.entries(p)) withBn.set(`${layer}_bn/${k}`, { shape: [3], data: v });
    const k = base.get(kernelName)!;
    const b = base.get(`${layer}/bias`)!;
    const kd = new Float32Array(k.data.length);
    const bd = new Float32Array(3);
    for (let o = 0; o < 3; o++) {
      const s = p.gamma[o] / Math.sqrt(p.moving_variance[o] + eps);
      for (let i = o; i < kd.length; i += 3) kd[i] = k.data[i] * s;
      bd[o] = (b.data[o] - p.moving_mean[o]) * s + p.beta[o];
    }
    folded.set(kernelName, { shape: k.shape, data: kd });
    folded.set(`${layer}/bias`, { shape: [3], data: bd });
  }
  const input = image(spec, 1, 5);
  const a = referenceNetwork(spec, withBn, input).output;
  const specNoBn: NetworkSpec = {
    ...spec,
    layers: spec.layers.map((l) => ({ ...l, weights: undefined })),
  };
  const b = referenceNetwork(specNoBn, folded, input).output;
  a.data.forEach((v, i) => assert.ok(Math.abs(v - b.data[i]) <= 1e-5 * (1 + Math.abs(v))));
  const partial = new Map(withBn);
  partial.delete("d_bn/moving_mean");
  assert.throws(
    () => compileNetwork(spec, partial),
    (e) => e instanceof SpecError && e.layer === "d" && e.argument === "d_bn/moving_mean",
  );
});

Deno.test("weights written in the tfjs format and read back run the same network", async () => {
  const spec = mobileNetV2({ size: 9, classes: 3 });
  const weights = randomWeights(spec, 6);
  const { weightsManifest, shards } = encodeTfjsWeights(weights, { shardBytes: 4096 });
  const byPath = new Map(shards.map((s) => [s.path, s.bytes]));
  const back = await decodeTfjsWeights(weightsManifest, (p) => byPath.get(p)!);
  const input = image(spec, 1, 1);
  using a = compileNetwork(spec, weights);
  using b = compileNetwork(spec, back);
  assert.deepEqual([...a.run(input).data], [...b.run(input).data]);
});

Deno.test("spec errors name the layer", () => {
  const input = { height: 4, width: 4, channels: 3 };
  const stem: LayerSpec = { kind: "conv2d", name: "stem", outChannels: 4 };
  const cases: [NetworkSpec, string | undefined, string][] = [
    [{ input, layers: [] }, undefined, "layers"],
    // deno-lint-ignore no-explicit-any
    [{ input, layers: [stem, { kind: "maxPool", name: "p" } as any] }, "p", "kind"],
    [{ input, layers: [{ kind: "depthwise", name: "d" }] }, "d", "kind"],
    [{ input, layers: [stem, { kind: "conv2d", name: "c2", outChannels: 2 }] }, "c2", "kind"],
    [{ input, layers: [stem, { kind: "depthwise", name: "stem" }] }, "stem", "name"],
    [{ input, layers: [stem, { kind: "depthwise", name: "d", kernel: 4 }] }, "d", "kernel"],
    [{ input, layers: [stem, { kind: "depthwise", name: "d", stride: 3 }] }, "d", "stride"],
    [{ input, layers: [stem, { kind: "depthwise", name: "d", padding: 3 }] }, "d", "padding"],
    [{ input, layers: [stem, { kind: "conv1x1", name: "p", outChannels: 0 }] }, "p", "outChannels"],
    [{ input, layers: [stem, { kind: "fullyConnected", name: "f", units: 2 }] }, "f", "kind"],
    [
      {
        input,
        layers: [stem, { kind: "conv1x1", name: "p", outChannels: 5 }, {
          kind: "add",
          name: "a",
          from: "stem",
        }],
      },
      "a",
      "from",
    ],
    [{ input, layers: [stem, { kind: "add", name: "a", from: "nowhere" }] }, "a", "from"],
    [
      // deno-lint-ignore no-explicit-any
      { input, layers: [stem, { kind: "depthwise", name: "d", activation: "gelu" as any }] },
      "d",
      "activation",
    ],
    [
      { input: { ...input, channels: 0 }, layers: [stem] },
      "input",
      "input.channels",
    ],
  ];
  for (const [spec, layer, argument] of cases) {
    assert.throws(
      () => compileNetwork(spec, new Map()),
      (e) => {
        assert.ok(e instanceof SpecError, String(e));
        assert.equal(e.layer, layer, e.message);
        assert.equal(e.argument, argument, e.message);
        return true;
      },
    );
  }
});

Deno.test("weight errors name the layer and the weight", () => {
  const spec: NetworkSpec = {
    input: { height: 4, width: 4, channels: 3 },
    layers: [
      { kind: "conv2d", name: "stem", outChannels: 4 },
      { kind: "conv1x1", name: "pw", outChannels: 6 },
    ],
  };
  const good = randomWeights(spec, 1);
  const missing = new Map(good);
  missing.delete("pw/kernel");
  assert.throws(
    () => compileNetwork(spec, missing),
    (e) => e instanceof SpecError && e.layer === "pw" && e.argument === "pw/kernel",
  );
  const misshapen = new Map(good);
  misshapen.set("stem/bias", { shape: [5], data: new Float32Array(5) });
  assert.throws(
    () => compileNetwork(spec, misshapen),
    (e) => e instanceof SpecError && e.layer === "stem" && e.argument === "stem/bias",
  );
  using net = compileNetwork(spec, good);
  assert.throws(() => net.run(new Float32Array(3)), /input/);
  assert.throws(() => net.run(new Float32Array(48).fill(NaN)), /input\[0\]/);
  net.dispose();
  assert.throws(() => net.run(new Float32Array(48)), /disposed/);
});

Deno.test("run does not change its input, and weights are not changed by compiling", () => {
  const spec = mobileNetV1({ size: 8, classes: 4 });
  const weights = randomWeights(spec, 3);
  const before = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v.data)]));
  const input = image(spec, 1, 2);
  const copy = Float32Array.from(input);
  using net = compileNetwork(spec, weights);
  const a = net.run(input);
  const b = net.run(input);
  assert.deepEqual(input, copy);
  assert.deepEqual(a.data, b.data);
  assert.notEqual(a.data, b.data);
  for (const [k, v] of weights) assert.deepEqual(v.data, before.get(k));
});

Deno.test("compareLayers catches one wrong element", () => {
  const spec = mobileNetV2({ size: 8, classes: 3 });
  const weights = randomWeights(spec, 12);
  const input = image(spec, 1, 4);
  using net = compileNetwork(spec, weights);
  const trace = net.trace(input);
  assert.ok(compareLayers(spec, weights, input, trace).every((l) => l.ratio <= 1));
  const layer = 5, at = 7;
  const bad = Float32Array.from(trace[layer].data);
  bad[at] += Math.max(1e-3, Math.abs(bad[at]) * 1e-4);
  trace[layer] = { ...trace[layer], data: bad };
  const report = compareLayers(spec, weights, input, trace);
  assert.ok(report[layer].ratio > 1);
  assert.equal(report[layer].at, at);
});

Deno.test("MobileNet v1 at 224x224, 90% sparse, on the best backend: every layer within its bound", () => {
  const spec = mobileNetV1();
  const weights = pruneNetwork(spec, randomWeights(spec, 21), { sparsity: 0.9 });
  const input = image(spec, 1, 8);
  using net = compileNetwork(spec, weights, { backend: backends[0] });
  const report = compareLayers(spec, weights, input, net.trace(input));
  assert.equal(report.length, 29);
  for (const l of report) assert.ok(l.ratio <= 1, `${l.name}: ${l.ratio}`);
  // End to end, the logits agree with the all-reference network far inside f32 noise.
  const want = referenceNetwork(spec, weights, input).output.data;
  const got = net.run(input).data;
  const scale = Math.max(...want.map(Math.abs));
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-4 * scale, `logit ${i}`));
});

Deno.test("activations share buffers, and no output takes the memory of a value still to be read", () => {
  const check = (spec: NetworkSpec, batch: number) => {
    const shapes = inferShapes(spec);
    const sizes: number[] = [];
    const views = sharedOutputs(
      shapes,
      batch,
      (elements) => sizes.push(elements) - 1,
      (base, rows, cols) => ({ base, rows, cols }),
    );
    // Layer i reads layer i - 1 and the layer an add names; the caller reads the last.
    const readers = shapes.map((s) => [s.index + 1]);
    for (const s of shapes) if (s.from !== undefined) readers[s.from].push(s.index);
    readers[shapes.length - 1].push(Infinity);
    views.forEach((v, i) => {
      const s = shapes[i];
      assert.deepEqual([v.rows, v.cols], [s.cout, batch * s.height * s.width]);
      assert.ok(v.rows * v.cols <= sizes[v.base], `layer ${i} fits its buffer`);
      for (let j = 0; j < i; j++) {
        if (views[j].base === v.base) {
          assert.ok(
            readers[j].every((r) => r < i),
            `layer ${i} overwrites layer ${j}, still read at ${readers[j]}`,
          );
        }
      }
    });
    return sizes;
  };
  fc.assert(
    fc.property(specArb, fc.integer({ min: 0, max: 3 }), (spec, batch) => void check(spec, batch)),
    { numRuns: 300 },
  );
  // MobileNet v1 is a chain: two buffers, the larger as large as its largest activation.
  const v1 = mobileNetV1();
  const largest = Math.max(...inferShapes(v1).map((s) => s.cout * s.height * s.width));
  const sizes = check(v1, 1);
  assert.equal(sizes.length, 2);
  assert.equal(Math.max(...sizes), largest);
  // v2's residuals hold a block's input across the block: one more buffer.
  assert.equal(check(mobileNetV2(), 2).length, 3);
});

for (const backend of backends) {
  Deno.test(`${backend.flavour}: tensor views share their base's memory`, () => {
    const view = (backend as { readonly [TENSOR_VIEW]?: TensorView })[TENSOR_VIEW];
    assert.ok(view !== undefined, "the package's CPU backends lend views");
    const rand = seededRandom(5);
    const values = (n: number) => Array.from({ length: n }, () => rand() * 2 - 1);
    using base = backend.alloc(3, 10);
    const v = view(base, 4, 7);
    assert.deepEqual([v.rows, v.cols, v.flavour], [4, 7, backend.flavour]);
    using a = backend.upload(dense(4, 7, values(28)));
    using b = backend.upload(dense(4, 7, values(28)));
    backend.add(a, b, v, -Infinity, Infinity);
    const sum = v.read();
    assert.deepEqual([...base.read().data.subarray(0, 28)], [...sum.data]);
    assert.deepEqual([...base.read().data.subarray(28)], [0, 0]);
    // Operators whose output shares memory with an operand through a view still compute
    // from the operand's values: the same answer as into a tensor of its own.
    const window = resolveWindow(3, { height: 4, width: 7, stride: 1, min: 0, max: 6 });
    using x = backend.upload(dense(2, 28, values(56)));
    using w = backend.upload(dense(2, 9, values(18)));
    using own = backend.alloc(2, 28);
    const want = backend.depthwise(x, w, undefined, own, window).read();
    const onX = backend.depthwise(x, w, undefined, view(x, 2, 28), window).read();
    assert.deepEqual([...onX.data], [...want.data]);
    using m = backend.upload(dense(5, 5, values(25)));
    using p = backend.upload(dense(5, 5, values(25)));
    using fresh = backend.alloc(5, 5);
    const gemmWant = backend.gemm(m, p, { out: fresh }).read();
    const onP = backend.gemm(m, p, { out: view(p, 5, 5) }).read();
    assert.deepEqual([...onP.data], [...gemmWant.data]);
    using plan = backend.prepare(packConv1x1(dense(8, 8, values(64))));
    using xs = backend.upload(dense(8, 9, values(72)));
    using ys = backend.alloc(8, 9);
    const convWant = backend.conv1x1(plan, xs, ys).read();
    const onXs = backend.conv1x1(plan, xs, view(xs, 8, 9)).read();
    assert.deepEqual([...onXs.data], [...convWant.data]);
    // Bad views, and views die with their base.
    assert.throws(
      () => view(base, 31, 1),
      (e) => e instanceof ShapeError && /rows \* cols/.test(e.message),
    );
    assert.throws(() => view(base, -1, 2), ShapeError);
    v.dispose();
    assert.equal(base.disposed, false, "disposing a view leaves its base");
    base.dispose();
    assert.equal(v.disposed, true);
    assert.throws(() => v.read(), BackendError);
    assert.throws(() => view(base, 1, 1), BackendError);
  });
}
