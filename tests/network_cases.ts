/**
 * Networks the runner tests share: a seeded input image and an arbitrary of random small CHW
 * networks (stem, depthwise/1x1 blocks, residuals, a classifier).
 * @module
 */
import fc from "fast-check";
import { type Activation, type LayerSpec, type NetworkSpec, seededRandom } from "../mod.ts";

/** `batch` seeded HWC images in [-1, 1) for `spec`. */
export function image(spec: NetworkSpec, batch: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const { height, width, channels } = spec.input;
  return Float32Array.from({ length: batch * height * width * channels }, () => rand() * 2 - 1);
}

/** A random small CHW network: stem, a few blocks, maybe a residual, maybe a classifier. */
export const specArb: fc.Arbitrary<NetworkSpec> = fc.record({
  height: fc.integer({ min: 1, max: 13 }),
  width: fc.integer({ min: 1, max: 13 }),
  channels: fc.integer({ min: 1, max: 4 }),
  stem: fc.integer({ min: 1, max: 9 }),
  stride: fc.constantFrom(1, 2),
  padding: fc.constantFrom("same", "valid", 1, [0, 2, 1, 0]),
  blocks: fc.array(
    fc.record({
      kernel: fc.constantFrom(3, 5),
      stride: fc.constantFrom(1, 2),
      out: fc.integer({ min: 1, max: 12 }),
      residual: fc.boolean(),
      activation: fc.constantFrom<Activation>("none", "relu", "relu6", { min: -0.5, max: 0.75 }),
    }),
    { maxLength: 3 },
  ),
  classifier: fc.option(fc.integer({ min: 1, max: 7 })),
}).map((r) => {
  const layers: LayerSpec[] = [{
    kind: "conv2d",
    name: "stem",
    outChannels: r.stem,
    stride: r.stride,
    // Explicit padding needs an input the window fits in.
    padding: (r.height >= 3 && r.width >= 3 ? r.padding : "same") as "same",
    activation: "relu6",
  }];
  let c = r.stem;
  r.blocks.forEach((b, i) => {
    layers.push({
      kind: "depthwise",
      name: `dw${i}`,
      kernel: b.kernel,
      stride: b.stride,
      activation: b.activation,
    });
    const before = `dw${i}`;
    if (b.residual && b.stride === 1) {
      layers.push({ kind: "conv1x1", name: `pw${i}`, outChannels: c });
      layers.push({ kind: "add", name: `add${i}`, from: before, activation: b.activation });
    } else {
      layers.push({ kind: "conv1x1", name: `pw${i}`, outChannels: b.out, activation: "relu" });
      c = b.out;
    }
  });
  if (r.classifier !== null) {
    layers.push({ kind: "globalAvgPool", name: "pool" });
    layers.push({ kind: "fullyConnected", name: "fc", units: r.classifier });
  }
  return { input: { height: r.height, width: r.width, channels: r.channels }, layers };
});
