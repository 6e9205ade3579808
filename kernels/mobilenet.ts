/**
 * MobileNet v1 and v2 (width 1.0) as network specs, with Keras's layer and weight names, so
 * that weights converted from Keras (`tensorflowjs_converter`) load as they are.
 * @module
 */
import type { LayerSpec, NetworkSpec } from "./network.ts";

/** Options of the MobileNet specs. */
export interface MobileNetOptions {
  /** Input height and width; default 224. */
  readonly size?: number;
  /** Classes of the classifier; default 1000 (ImageNet). */
  readonly classes?: number;
}

/**
 * MobileNet v1 (1.0): a 3x3 stride-2 convolution, 13 depthwise-separable blocks
 * (depthwise 3x3 + 1x1), global average pooling and a fully connected classifier; ReLU6
 * after every convolution, TensorFlow "same" padding. Weight names follow Keras
 * (`conv1/kernel`, `conv_dw_1/depthwise_kernel`, `conv_pw_1/kernel`, `conv_preds/kernel`,
 * batch norms `conv1_bn`, `conv_dw_1_bn`, ...).
 *
 * @example 4.2 million weights, 569 million multiply-adds at 224x224
 * ```ts
 * import { inferShapes, mobileNetV1 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes(mobileNetV1());
 * assert.equal(shapes.length, 1 + 13 * 2 + 2);
 * assert.deepEqual([shapes[26].cout, shapes[26].height], [1024, 7]);
 * ```
 */
export function mobileNetV1(options: MobileNetOptions = {}): NetworkSpec {
  const size = options.size ?? 224;
  const layers: LayerSpec[] = [
    {
      kind: "conv2d",
      name: "conv1",
      outChannels: 32,
      stride: 2,
      activation: "relu6",
      weights: { batchNorm: "conv1_bn" },
    },
  ];
  const blocks: [number, number][] = [
    [64, 1],
    [128, 2],
    [128, 1],
    [256, 2],
    [256, 1],
    [512, 2],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [512, 1],
    [1024, 2],
    [1024, 1],
  ];
  blocks.forEach(([cout, stride], i) => {
    const dw = `conv_dw_${i + 1}`, pw = `conv_pw_${i + 1}`;
    layers.push(
      {
        kind: "depthwise",
        name: dw,
        stride,
        activation: "relu6",
        weights: { batchNorm: `${dw}_bn` },
      },
      {
        kind: "conv1x1",
        name: pw,
        outChannels: cout,
        activation: "relu6",
        weights: { batchNorm: `${pw}_bn` },
      },
    );
  });
  layers.push(
    { kind: "globalAvgPool", name: "global_average_pooling2d" },
    { kind: "fullyConnected", name: "conv_preds", units: options.classes ?? 1000 },
  );
  return Object.freeze({
    name: "MobileNet v1 1.0",
    input: { height: size, width: size, channels: 3 },
    layers: Object.freeze(layers),
  });
}

/**
 * MobileNet v2 (1.0): a 3x3 stride-2 convolution, 17 inverted residual blocks (1x1
 * expansion, depthwise 3x3, linear 1x1 projection, residual add where shapes allow), a 1x1
 * convolution to 1280 channels, global average pooling and a fully connected classifier.
 * Weight names follow Keras (`Conv1`, `expanded_conv_depthwise`, `block_1_expand`,
 * `block_1_depthwise`, `block_1_project`, `Conv_1`, `Logits`, batch norms `bn_Conv1`,
 * `block_1_expand_BN`, ...).
 *
 * @example 10 residual adds
 * ```ts
 * import { mobileNetV2 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const spec = mobileNetV2();
 * assert.equal(spec.layers.filter((l) => l.kind === "add").length, 10);
 * ```
 */
export function mobileNetV2(options: MobileNetOptions = {}): NetworkSpec {
  const size = options.size ?? 224;
  const layers: LayerSpec[] = [
    {
      kind: "conv2d",
      name: "Conv1",
      outChannels: 32,
      stride: 2,
      activation: "relu6",
      weights: { batchNorm: "bn_Conv1" },
    },
  ];
  // expansion t, output channels c, repeats n, first stride s
  const config: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  let cin = 32, block = 0;
  let blockInput = "Conv1";
  for (const [t, c, n, s] of config) {
    for (let r = 0; r < n; r++, block++) {
      const stride = r === 0 ? s : 1;
      const prefix = block === 0 ? "expanded_conv" : `block_${block}`;
      const bn = (name: string) => ({ batchNorm: `${name}_BN` });
      if (t !== 1) {
        layers.push({
          kind: "conv1x1",
          name: `${prefix}_expand`,
          outChannels: cin * t,
          activation: "relu6",
          weights: bn(`${prefix}_expand`),
        });
      }
      layers.push(
        {
          kind: "depthwise",
          name: `${prefix}_depthwise`,
          stride,
          activation: "relu6",
          weights: bn(`${prefix}_depthwise`),
        },
        {
          kind: "conv1x1",
          name: `${prefix}_project`,
          outChannels: c,
          weights: bn(`${prefix}_project`),
        },
      );
      if (stride === 1 && cin === c) {
        layers.push({ kind: "add", name: `${prefix}_add`, from: blockInput });
      }
      blockInput = layers[layers.length - 1].name;
      cin = c;
    }
  }
  layers.push(
    {
      kind: "conv1x1",
      name: "Conv_1",
      outChannels: 1280,
      activation: "relu6",
      weights: { batchNorm: "Conv_1_bn" },
    },
    { kind: "globalAvgPool", name: "global_average_pooling2d" },
    { kind: "fullyConnected", name: "Logits", units: options.classes ?? 1000 },
  );
  return Object.freeze({
    name: "MobileNet v2 1.0",
    input: { height: size, width: size, channels: 3 },
    layers: Object.freeze(layers),
  });
}
