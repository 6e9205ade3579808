// The network runner on the GPU: random small networks and MobileNet v1/v2 at 32x32 (dense,
// 90% unstructured, 90% in 1x4 blocks, batches) checked layer by layer against the reference
// within each layer's derived bound, and against the CPU runner; profiling; errors.
import fc from "fast-check";
import assert from "node:assert/strict";
import {
  compareLayers,
  compileNetwork,
  mobileNetV1,
  mobileNetV2,
  type NetworkSpec,
  pruneNetwork,
  randomWeights,
  SpecError,
  type Weight,
} from "../mod.ts";
import { compileGpuNetwork } from "../gpu/mod.ts";
import { testGpu } from "./gpu_helpers.ts";
import { image, specArb } from "./network_cases.ts";

const gpu = await testGpu();
const ignore = gpu === undefined;

/** Compiles on the GPU, checks every layer within its bound and the output against the CPU. */
async function check(
  spec: NetworkSpec,
  weights: Map<string, Weight>,
  options: { batch?: number; mode?: "auto" | "sparse" | "dense"; seed?: number } = {},
) {
  const batch = options.batch ?? 1;
  const input = image(spec, batch, options.seed ?? 1);
  using net = compileGpuNetwork(gpu!, spec, weights, { batch, mode: options.mode });
  const trace = await net.trace(input);
  for (const l of compareLayers(spec, weights, input, trace, batch)) {
    assert.ok(l.ratio <= 1, `GPU: layer ${l.name} off by ${l.ratio}x its bound`);
  }
  const out = await net.run(input);
  using cpu = compileNetwork(spec, weights, { batch, mode: options.mode });
  assert.deepEqual(net.paths, cpu.paths);
  const want = cpu.run(input);
  assert.equal(out.rows, want.rows);
  assert.equal(out.cols, want.cols);
  let scale = 0;
  for (const v of want.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.data.length; i++) {
    assert.ok(
      Math.abs(out.data[i] - want.data[i]) <= 1e-4 * scale + 1e-6,
      `element ${i}: GPU ${out.data[i]}, CPU ${want.data[i]}`,
    );
  }
  return { out, paths: net.paths };
}

Deno.test({
  name: "GPU: random networks agree with the reference layer by layer, and with the CPU",
  ignore,
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        specArb,
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(0, 0.5, 0.9, 1),
        fc.constantFrom<"auto" | "sparse" | "dense">("auto", "sparse", "dense"),
        fc.integer(),
        async (spec, batch, sparsity, mode, seed) => {
          const weights = pruneNetwork(spec, randomWeights(spec, seed), { sparsity });
          await check(spec, weights, { batch, mode, seed });
        },
      ),
      { numRuns: 40 },
    );
  },
});

for (const [name, make] of [["v1", mobileNetV1], ["v2", mobileNetV2]] as const) {
  Deno.test({
    name: `GPU: MobileNet ${name} at 32x32, dense, 90% sparse, 90% in 1x4 blocks`,
    ignore,
    async fn() {
      const spec = make({ size: 32, classes: 10 });
      const weights = randomWeights(spec, 11);
      await check(spec, weights, { mode: "dense" });
      const { paths } = await check(spec, pruneNetwork(spec, weights, { sparsity: 0.9 }));
      assert.ok(paths.every((p) => p !== "dense"), "90% sparse layers run sparse");
      await check(spec, pruneNetwork(spec, weights, { sparsity: 0.9, block: 4 }), { batch: 2 });
    },
  });
}

Deno.test({
  name: "GPU: profile times every layer and returns the run's output",
  ignore,
  async fn() {
    const spec = mobileNetV1({ size: 32, classes: 10 });
    const weights = pruneNetwork(spec, randomWeights(spec, 3), { sparsity: 0.9 });
    using net = compileGpuNetwork(gpu!, spec, weights);
    const input = image(spec, 1, 5);
    const { output, layers, timing } = await net.profile(input);
    assert.equal(layers.length, spec.layers.length);
    assert.ok(layers.every((l) => Number.isFinite(l.ms) && l.ms >= 0));
    assert.equal(timing, gpu!.adapter.timestamps ? "timestamp" : "wall-clock");
    assert.deepEqual([...output.data], [...(await net.run(input)).data]);
  },
});

Deno.test({
  name: "GPU: concurrent runs each get their own answer; input not changed",
  ignore,
  async fn() {
    const spec = mobileNetV2({ size: 32, classes: 5 });
    const weights = pruneNetwork(spec, randomWeights(spec, 4), { sparsity: 0.9 });
    using net = compileGpuNetwork(gpu!, spec, weights);
    const a = image(spec, 1, 1), b = image(spec, 1, 2);
    const copy = a.slice();
    const [ya, yb] = await Promise.all([net.run(a), net.run(b)]);
    assert.deepEqual(a, copy);
    assert.deepEqual([...ya.data], [...(await net.run(a)).data]);
    assert.deepEqual([...yb.data], [...(await net.run(b)).data]);
    assert.notDeepEqual([...ya.data], [...yb.data]);
  },
});

Deno.test({
  name: "GPU: spec and input errors are the CPU runner's; a disposed network refuses to run",
  ignore,
  async fn() {
    const spec = mobileNetV1({ size: 32, classes: 3 });
    const weights = randomWeights(spec, 1);
    const missing = new Map(weights);
    missing.delete("conv_pw_5/kernel");
    assert.throws(
      () => compileGpuNetwork(gpu!, spec, missing),
      (e) => e instanceof SpecError && e.layer === "conv_pw_5",
    );
    const net = compileGpuNetwork(gpu!, spec, weights);
    await assert.rejects(() => net.run(new Float32Array(5)), /input/);
    const bad = image(spec, 1, 1);
    bad[7] = NaN;
    await assert.rejects(() => net.run(bad), /input\[7\]/);
    net.dispose();
    net.dispose();
    await assert.rejects(() => net.run(image(spec, 1, 1)), SpecError);
  },
});

Deno.test({
  name: "GPU: MobileNet v1 at 224x224, 90% sparse: every layer within its bound, one readback",
  ignore,
  async fn() {
    const spec = mobileNetV1();
    const weights = pruneNetwork(spec, randomWeights(spec, 224), { sparsity: 0.9 });
    const input = image(spec, 1, 224);
    using net = compileGpuNetwork(gpu!, spec, weights);
    const trace = await net.trace(input);
    for (const l of compareLayers(spec, weights, input, trace)) {
      assert.ok(l.ratio <= 1, `layer ${l.name} off by ${l.ratio}x its bound`);
    }
    const logits = await net.run(input);
    assert.equal(logits.cols, 1000);
    assert.deepEqual([...logits.data], [...trace[trace.length - 1].data]);
  },
});
