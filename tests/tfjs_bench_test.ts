// The tfjs MobileNet v1 baseline (bench/tfjs.ts) against a naive f64 NHWC reference written here
// from the architecture's description, and the v2 baseline against our own reference network
// (`referenceNetwork`), at small input sizes.
// Needs --allow-read: the backend reads its .wasm from Deno's npm cache.
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  createTfjsMobileNetV1,
  createTfjsMobileNetV2,
  measureLatency,
  type MobileNetV1Weights,
  parseTfjsArgs,
  randomImage,
  randomMobileNetV1Weights,
  type TfjsMobileNet,
} from "../bench/tfjs.ts";
import { mobileNetV2, type NetworkSpec, randomWeights, referenceNetwork } from "../mod.ts";

/**
 * Tolerance, relative to the largest |logit|. Derived per layer, f32 dot products in any order
 * satisfy |fl(sum w*x + b) - (sum w*x + b)| <= (n + 2) * 2^-23 * (sum |w*x| + |b|); but carried
 * rigorously through the next layer an input error e grows to sum |w| * e, and sum |w| is 10 to 30
 * here (He-normal, fan-in 9 to 1024), so after 28 layers the worst case is ~1e18 times the logits
 * and tests nothing. Rounding errors of random signs do not line up like that: measured at 32,
 * 50 and 96 pixels with these weights, the largest difference is ~1e-6 of the largest logit
 * (about 10 f32 ulps). 1e-4 leaves a factor 100 for other hosts and summation orders, and is still
 * 2500 times smaller than what a wiring mistake does: the padding put on the wrong side moves the
 * logits by ~0.25 of their scale (checked below).
 */
const RELATIVE_TOLERANCE = 1e-4;

/** An NHWC feature map (N = 1) in f64. */
interface Map64 {
  h: number;
  w: number;
  c: number;
  v: Float64Array;
}

/** TensorFlow SAME padding along one axis: output size and padding before. */
function same(size: number, k: number, stride: number, topHeavy: boolean) {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  // TF puts the odd pixel at the bottom / right; `topHeavy` is the deliberate mistake.
  return { out, before: topHeavy ? Math.ceil(total / 2) : Math.floor(total / 2) };
}

/**
 * One convolution in f64 (`depthwise`: kernel `[k, k, c, 1]`, else `[k, k, cin, cout]`) with bias
 * and optional ReLU6, TensorFlow SAME padding.
 */
function conv(
  x: Map64,
  kernel: Float32Array,
  bias: Float32Array,
  k: number,
  cout: number,
  stride: number,
  depthwise: boolean,
  relu6: boolean,
  topHeavy: boolean,
): Map64 {
  const sy = same(x.h, k, stride, topHeavy), sx = same(x.w, k, stride, topHeavy);
  const h = sy.out, w = sx.out, c = depthwise ? x.c : cout;
  const v = new Float64Array(h * w * c);
  for (let oy = 0; oy < h; oy++) {
    for (let ox = 0; ox < w; ox++) {
      for (let co = 0; co < c; co++) {
        let sum = bias[co];
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride + ky - sy.before;
          if (iy < 0 || iy >= x.h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride + kx - sx.before;
            if (ix < 0 || ix >= x.w) continue;
            const at = (iy * x.w + ix) * x.c, tap = (ky * k + kx) * x.c;
            if (depthwise) sum += kernel[tap + co] * x.v[at + co];
            else {for (let ci = 0; ci < x.c; ci++) {
                sum += kernel[(tap + ci) * cout + co] * x.v[at + ci];
              }}
          }
        }
        v[(oy * w + ox) * c + co] = relu6 ? Math.min(Math.max(sum, 0), 6) : sum;
      }
    }
  }
  return { h, w, c, v };
}

/** Global average pool to `1 x 1 x c`. */
function meanPool(x: Map64): Map64 {
  const n = x.h * x.w;
  const v = new Float64Array(x.c);
  for (let p = 0; p < n; p++) for (let ch = 0; ch < x.c; ch++) v[ch] += x.v[p * x.c + ch];
  for (let ch = 0; ch < x.c; ch++) v[ch] /= n;
  return { h: 1, w: 1, c: x.c, v };
}

/** Pointwise output channels and depthwise strides of blocks 1..13, from the paper's table. */
const CHANNELS = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024];
const STRIDE2 = [2, 4, 6, 12];

/** MobileNet v1 in f64: the 1000 logits. */
function reference(
  weights: MobileNetV1Weights,
  image: Float32Array,
  size: number,
  topHeavy = false,
): Float64Array {
  const get = (name: string) => {
    const t = weights.get(name);
    if (t === undefined) throw new Error(`missing ${name}`);
    return t.data;
  };
  let x: Map64 = { h: size, w: size, c: 3, v: Float64Array.from(image) };
  x = conv(x, get("conv1/kernel"), get("conv1/bias"), 3, 32, 2, false, true, topHeavy);
  for (let i = 1; i <= 13; i++) {
    const stride = STRIDE2.includes(i) ? 2 : 1;
    const dw = get(`conv_dw_${i}/depthwise_kernel`), dwb = get(`conv_dw_${i}/bias`);
    x = conv(x, dw, dwb, 3, x.c, stride, true, true, topHeavy);
    const pw = get(`conv_pw_${i}/kernel`), pwb = get(`conv_pw_${i}/bias`);
    x = conv(x, pw, pwb, 1, CHANNELS[i - 1], 1, false, true, topHeavy);
  }
  x = meanPool(x);
  x = conv(x, get("conv_preds/kernel"), get("conv_preds/bias"), 1, 1000, 1, false, false, false);
  return x.v;
}

/** Largest |got - want| as a fraction of the largest |want|. */
function relativeError(got: Float32Array, want: Float64Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

const weights = randomMobileNetV1Weights(11);
let shared: TfjsMobileNet | undefined;
async function net32(): Promise<TfjsMobileNet> {
  return shared ??= await createTfjsMobileNetV1(weights, { inputSize: 32 });
}

Deno.test("tfjs MobileNet v1 runs on one thread of the wasm backend", async () => {
  const net = await net32();
  assert.equal(net.backend, "wasm");
  assert.equal(net.threads, 1);
  assert.equal(net.inputSize, 32);
  assert.equal(
    net.binary,
    net.simd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm",
  );
});

// 32: every stride-2 layer sees an even size (32, 16, 8, 4, 2), so SAME pads 0 before and 1 after,
// and the map is 1x1 at the pool. 50: 50 and 4 are even, 25, 13 and 7 odd (pad 1 and 1), and
// the pool averages a 2x2 map.
for (const size of [32, 50]) {
  Deno.test(`tfjs MobileNet v1 at ${size}x${size} matches the f64 reference`, async () => {
    const net = size === 32
      ? await net32()
      : await createTfjsMobileNetV1(weights, { inputSize: size });
    try {
      for (const seed of [1, 2]) {
        const image = randomImage(seed, size);
        const got = net.run(image);
        assert.equal(got.length, 1000);
        const rel = relativeError(got, reference(weights, image, size));
        assert.ok(rel <= RELATIVE_TOLERANCE, `seed ${seed}: relative error ${rel}`);
      }
    } finally {
      if (size !== 32) net.dispose();
    }
  });
}

Deno.test("the tolerance catches SAME padding on the wrong side", async () => {
  const net = await net32();
  const image = randomImage(3, 32);
  const got = net.run(image);
  assert.ok(relativeError(got, reference(weights, image, 32)) <= RELATIVE_TOLERANCE);
  const wrong = relativeError(got, reference(weights, image, 32, true));
  assert.ok(wrong > 100 * RELATIVE_TOLERANCE, `relative error ${wrong}`);
});

Deno.test("run leaves no tensor behind, dispose frees the weights, and is idempotent", async () => {
  const net = await createTfjsMobileNetV1(weights, { inputSize: 32 });
  const before = tf.memory().numTensors;
  const image = randomImage(4, 32);
  const a = net.run(image);
  const b = net.run(image);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(a, b); // same input, same operators: bit-identical
  net.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before - (2 + 13 * 4 + 2));
  assert.throws(() => net.run(image), /disposed/);
});

Deno.test("bad weights, inputs and options are refused", async () => {
  const net = await net32();
  assert.throws(() => net.run(new Float32Array(10)), RangeError);
  const missing = new Map(weights);
  missing.delete("conv_pw_7/bias");
  await assert.rejects(() => createTfjsMobileNetV1(missing), /conv_pw_7\/bias/);
  const wrong = new Map(weights);
  wrong.set("conv1/bias", { shape: [31], data: new Float32Array(31) });
  await assert.rejects(() => createTfjsMobileNetV1(wrong), /conv1\/bias has shape \[31\]/);
  await assert.rejects(() => createTfjsMobileNetV1(weights, { threads: 2 }), RangeError);
  await assert.rejects(() => createTfjsMobileNetV1(weights, { inputSize: 0 }), RangeError);
  await assert.rejects(() => createTfjsMobileNetV1(weights, { simd: !net.simd }), /simd/);
});

Deno.test("random weights are seeded and He-normal", () => {
  const again = randomMobileNetV1Weights(11);
  assert.deepEqual([...again.keys()], [...weights.keys()]);
  assert.deepEqual(again.get("conv_pw_13/kernel"), weights.get("conv_pw_13/kernel"));
  assert.equal(weights.size, 2 + 13 * 4 + 2);
  const k = weights.get("conv_pw_13/kernel")!; // fan-in 1024
  assert.deepEqual(k.shape, [1, 1, 1024, 1024]);
  const variance = k.data.reduce((s, x) => s + x * x, 0) / k.data.length;
  assert.ok(Math.abs(variance / (2 / 1024) - 1) < 0.01, `variance ${variance}`);
});

Deno.test("command line and timer", () => {
  assert.deepEqual(parseTfjsArgs([]), {
    runs: 30,
    warmup: 5,
    size: 224,
    noSimd: false,
    model: "v1",
  });
  assert.deepEqual(
    parseTfjsArgs(["--runs", "7", "--size=64", "--no-simd", "--warmup=0", "--model", "v2"]),
    { runs: 7, warmup: 0, size: 64, noSimd: true, model: "v2" },
  );
  assert.equal(parseTfjsArgs(["--model=v1"]).model, "v1");
  assert.throws(() => parseTfjsArgs(["--model", "v3"]), /v1 or v2/);
  assert.throws(() => parseTfjsArgs(["--runs", "0"]), RangeError);
  assert.throws(() => parseTfjsArgs(["--threads", "2"]), RangeError);
  let calls = 0;
  const lat = measureLatency(() => calls++, 5, 2);
  assert.equal(calls, 7);
  assert.equal(lat.samples.length, 5);
  assert.ok(lat.min <= lat.median && lat.median <= lat.max);
});

// MobileNet v2: the tfjs graph is built by walking our spec, and checked against our reference
// network (plain loops, f64 sums, rounded to f32 at the end) on the same He-normal weights. The
// tolerance is v1's, for the same reasons (see RELATIVE_TOLERANCE): a rigorous bound through 50-odd
// layers tests nothing, while the measured difference at 32, 33 and 64 pixels is 1.6e-6 to 3.4e-6
// of the largest logit (a few tens of f32 ulps), a factor 30 under 1e-4; leaving out the 10
// residual adds moves the logits by 0.8 to 5 times their scale (checked below).
function relativeError32(got: Float32Array, want: ArrayLike<number>): number {
  return relativeError(got, Float64Array.from(want));
}

const v2Weights = randomWeights(mobileNetV2({ size: 32, classes: 1000 }), 12);

// 32: every stride-2 layer sees an even size (32, 16, 8, 4, 2: pad 0 before, 1 after) and the
// map is 1x1 at the pool. 33: odd sizes at every stride (33, 17, 9, 5, 3: pad 1 and 1) and a 2x2
// map at the pool. The weights do not depend on the input size.
for (const size of [32, 33]) {
  Deno.test(`tfjs MobileNet v2 at ${size}x${size} matches our reference network`, async () => {
    const spec = mobileNetV2({ size, classes: 1000 });
    const net = await createTfjsMobileNetV2(v2Weights, { inputSize: size });
    try {
      assert.equal(net.inputSize, size);
      assert.equal(net.threads, 1);
      for (const seed of [1, 2]) {
        const image = randomImage(seed, size);
        const got = net.run(image);
        assert.equal(got.length, 1000);
        const want = referenceNetwork(spec, v2Weights, image).output;
        assert.deepEqual([want.rows, want.cols], [1, 1000]);
        const rel = relativeError32(got, want.data);
        assert.ok(rel <= RELATIVE_TOLERANCE, `seed ${seed}: relative error ${rel}`);
      }
    } finally {
      net.dispose();
    }
  });
}

Deno.test("tfjs MobileNet v2: the tolerance catches missing residual adds", async () => {
  const spec = mobileNetV2({ size: 32, classes: 1000 });
  // The spec's adds are linear (no activation), as in Keras.
  const adds = spec.layers.filter((l) => l.kind === "add");
  assert.equal(adds.length, 10);
  assert.ok(adds.every((l) => l.activation === undefined));
  const noAdds: NetworkSpec = { ...spec, layers: spec.layers.filter((l) => l.kind !== "add") };
  const net = await createTfjsMobileNetV2(v2Weights, { inputSize: 32 });
  try {
    const image = randomImage(3, 32);
    const got = net.run(image);
    const wrong = relativeError32(got, referenceNetwork(noAdds, v2Weights, image).output.data);
    assert.ok(wrong > 100 * RELATIVE_TOLERANCE, `relative error ${wrong}`);
  } finally {
    net.dispose();
  }
});

Deno.test("tfjs MobileNet v2: no tensor left behind, weights freed, bad weights refused", async () => {
  const before = tf.memory().numTensors;
  const net = await createTfjsMobileNetV2(v2Weights, { inputSize: 32 });
  // One kernel and one bias per weighted layer: every layer but the adds and the pool.
  const weighted = mobileNetV2().layers.filter((l) =>
    l.kind !== "add" && l.kind !== "globalAvgPool"
  );
  assert.equal(tf.memory().numTensors, before + 2 * weighted.length);
  const image = randomImage(4, 32);
  const a = net.run(image);
  assert.deepEqual(net.run(image), a);
  assert.equal(tf.memory().numTensors, before + 2 * weighted.length);
  net.dispose();
  net.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => net.run(image), /disposed/);

  const missing = new Map(v2Weights);
  missing.delete("block_5_depthwise/depthwise_kernel");
  await assert.rejects(() => createTfjsMobileNetV2(missing), /block_5_depthwise\/depthwise_kernel/);
  const wrong = new Map(v2Weights);
  wrong.set("Logits/kernel", { shape: [1000, 1280], data: new Float32Array(1280 * 1000) });
  await assert.rejects(() => createTfjsMobileNetV2(wrong), /Logits\/kernel has shape/);
  assert.equal(tf.memory().numTensors, before); // nothing left by the failed builds
  await assert.rejects(() => createTfjsMobileNetV2(v2Weights, { inputSize: 0 }), RangeError);
});
