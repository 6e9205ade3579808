/**
 * Network specs: a plain, serialisable list of CHW layers (first convolution, depthwise,
 * 1x1 convolution, global average pooling, fully connected, residual add), and the shape
 * inference that checks one before it is compiled.
 * @module
 */
import type { Dense } from "./dense.ts";
import { SpecError } from "./errors.ts";
import { type Padding, resolveWindow, type Window } from "./spatial.ts";

/**
 * The activation fused into a layer's output: none, ReLU (`max(x, 0)`), ReLU6
 * (`min(max(x, 0), 6)`), or any clamp.
 */
export type Activation = "none" | "relu" | "relu6" | { readonly min: number; readonly max: number };

/**
 * Where a layer finds its weights in a {@link WeightMap}. Defaults: `"<name>/kernel"` (for a
 * depthwise layer `"<name>/depthwise_kernel"` is tried too) and `"<name>/bias"`. With
 * `batchNorm`, the entries `"<batchNorm>/gamma"`, `beta`, `moving_mean` and
 * `moving_variance` (Keras's names) are folded into the kernel and bias when present.
 */
export interface WeightNames {
  /** Name of the kernel, in TensorFlow's layout (see {@link LayerSpec}). */
  readonly kernel?: string;
  /** Name of the bias; a missing bias is zero. */
  readonly bias?: string;
  /** Prefix of a batch normalisation to fold in. */
  readonly batchNorm?: string;
  /** The batch normalisation's epsilon; default 1e-3 (Keras's). */
  readonly epsilon?: number;
}

/** Fields every layer has. */
export interface LayerBase {
  /** The layer's name, unique in the spec; weights are found by it. */
  readonly name: string;
  /** Where its weights are, when not at the default names. */
  readonly weights?: WeightNames;
}

/**
 * The first layer: a 3x3 convolution of the HWC input images into CHW. Kernel
 * `[3, 3, cin, outChannels]`.
 */
export interface Conv2dLayer extends LayerBase {
  /** The layer kind. */
  readonly kind: "conv2d";
  /** Output channels. */
  readonly outChannels: number;
  /** 1 or 2; default 1. */
  readonly stride?: number;
  /** Default `"same"`. */
  readonly padding?: Padding;
  /** Default `"none"`. */
  readonly activation?: Activation;
}

/** A depthwise convolution, 3x3 or 5x5. Kernel `[k, k, channels, 1]`. */
export interface DepthwiseLayer extends LayerBase {
  /** The layer kind. */
  readonly kind: "depthwise";
  /** 3 or 5; default 3. */
  readonly kernel?: number;
  /** 1 or 2; default 1. */
  readonly stride?: number;
  /** Default `"same"`. */
  readonly padding?: Padding;
  /** Default `"none"`. */
  readonly activation?: Activation;
}

/**
 * A 1x1 (pointwise) convolution, sparse or dense as the weights and compile options decide.
 * Kernel `[1, 1, cin, outChannels]`.
 */
export interface Conv1x1Layer extends LayerBase {
  /** The layer kind. */
  readonly kind: "conv1x1";
  /** Output channels. */
  readonly outChannels: number;
  /** Default `"none"`. */
  readonly activation?: Activation;
}

/** Global average pooling: every channel of every image to one value. No weights. */
export interface GlobalAvgPoolLayer extends LayerBase {
  /** The layer kind. */
  readonly kind: "globalAvgPool";
}

/**
 * A fully connected layer on pooled (1x1) input, sparse or dense. Kernel `[cin, units]`
 * (Keras Dense) or `[1, 1, cin, units]` (a 1x1 convolution, as MobileNet v1 stores it).
 */
export interface FullyConnectedLayer extends LayerBase {
  /** The layer kind. */
  readonly kind: "fullyConnected";
  /** Output units. */
  readonly units: number;
  /** Default `"none"`. */
  readonly activation?: Activation;
}

/** The residual connection: adds the output of an earlier layer to the previous one. */
export interface AddLayer extends LayerBase {
  /** The layer kind. */
  readonly kind: "add";
  /** The name of the earlier layer whose output is added; `"input"` is not allowed. */
  readonly from: string;
  /** Default `"none"`. */
  readonly activation?: Activation;
}

/** One layer of a {@link NetworkSpec}; each reads the output of the layer before it. */
export type LayerSpec =
  | Conv2dLayer
  | DepthwiseLayer
  | Conv1x1Layer
  | GlobalAvgPoolLayer
  | FullyConnectedLayer
  | AddLayer;

/**
 * A network: its input images (HWC) and its layers in order. A plain value: it can be
 * written as JSON and read back.
 */
export interface NetworkSpec {
  /** A name for reports. */
  readonly name?: string;
  /** The input images. */
  readonly input: {
    readonly height: number;
    readonly width: number;
    readonly channels: number;
  };
  /** The layers, the first of which reads the input. */
  readonly layers: readonly LayerSpec[];
}

/** A checked layer with its resolved geometry and output shape (per image). */
export interface LayerShape {
  /** The layer as given. */
  readonly layer: LayerSpec;
  /** Its position in the spec. */
  readonly index: number;
  /** Input channels. */
  readonly cin: number;
  /** Output channels (units for a fully connected layer). */
  readonly cout: number;
  /** Output height and width per image (1x1 after pooling). */
  readonly height: number;
  /** Output width per image. */
  readonly width: number;
  /** Output clamp. */
  readonly min: number;
  /** Output clamp. */
  readonly max: number;
  /** For windowed layers, the window at batch 1. */
  readonly window?: Window;
  /** For an add, the index of the layer it adds. */
  readonly from?: number;
}

const KINDS = ["conv2d", "depthwise", "conv1x1", "globalAvgPool", "fullyConnected", "add"];

/** Resolves an activation to its clamp. */
export function activationClamp(
  a: Activation | undefined,
  where: { layer: string; index: number } = { layer: "", index: 0 },
): { min: number; max: number } {
  if (a === undefined || a === "none") return { min: -Infinity, max: Infinity };
  if (a === "relu") return { min: 0, max: Infinity };
  if (a === "relu6") return { min: 0, max: 6 };
  if (
    a !== null && typeof a === "object" && typeof a.min === "number" &&
    typeof a.max === "number" && !Number.isNaN(a.min) && !Number.isNaN(a.max) && a.min <= a.max
  ) {
    return { min: a.min, max: a.max };
  }
  throw new SpecError(
    { ...where, argument: "activation", value: JSON.stringify(a) },
    'expected "none", "relu", "relu6" or {min, max} with min <= max',
  );
}

function positive(v: unknown, argument: string, where: { layer: string; index: number }): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 2 ** 24) {
    throw new SpecError({ ...where, argument, value: v }, "expected a positive integer");
  }
  return v;
}

/**
 * Checks a spec and infers every layer's shape. Errors name the layer.
 *
 * @throws {SpecError} for an unknown kind, a duplicate or missing name, a bad size, stride,
 *   padding or activation, a first layer that is not a conv2d on the input, a windowed layer
 *   after pooling, a fully connected layer before pooling, or an add of different shapes
 *
 * @example
 * ```ts
 * import { inferShapes } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const shapes = inferShapes({
 *   input: { height: 8, width: 8, channels: 3 },
 *   layers: [
 *     { kind: "conv2d", name: "stem", outChannels: 8, stride: 2, activation: "relu6" },
 *     { kind: "depthwise", name: "dw", activation: "relu6" },
 *     { kind: "conv1x1", name: "pw", outChannels: 16 },
 *     { kind: "globalAvgPool", name: "pool" },
 *     { kind: "fullyConnected", name: "fc", units: 10 },
 *   ],
 * });
 * assert.deepEqual(shapes.map((s) => [s.cout, s.height, s.width]), [[8, 4, 4], [8, 4, 4], [16, 4, 4], [16, 1, 1], [10, 1, 1]]);
 * ```
 */
export function inferShapes(spec: NetworkSpec): LayerShape[] {
  if (spec === null || typeof spec !== "object" || !Array.isArray(spec.layers)) {
    throw new SpecError({ argument: "spec", value: spec }, "expected {input, layers: [...]}");
  }
  const input = spec.input ?? ({} as NetworkSpec["input"]);
  const top = { layer: "input", index: -1 };
  let c = positive(input.channels, "input.channels", top);
  let h = positive(input.height, "input.height", top);
  let w = positive(input.width, "input.width", top);
  let pooled = false;
  const byName = new Map<string, number>();
  const shapes: LayerShape[] = [];
  spec.layers.forEach((layer: LayerSpec, index) => {
    const name = layer?.name;
    const where = { layer: typeof name === "string" ? name : `#${index}`, index };
    if (typeof name !== "string" || name === "" || name === "input") {
      throw new SpecError({ ...where, argument: "name", value: name }, "expected a unique name");
    }
    if (byName.has(name)) {
      throw new SpecError({ ...where, argument: "name", value: name }, "is used twice");
    }
    if (!KINDS.includes(layer.kind)) {
      throw new SpecError(
        { ...where, argument: "kind", value: (layer as { kind?: unknown }).kind },
        `expected one of ${KINDS.join(", ")}`,
      );
    }
    if ((index === 0) !== (layer.kind === "conv2d")) {
      throw new SpecError(
        { ...where, argument: "kind", value: layer.kind },
        "the first layer, and only it, is a conv2d reading the HWC input",
      );
    }
    if (pooled && (layer.kind === "depthwise" || layer.kind === "conv2d")) {
      throw new SpecError({ ...where, argument: "kind", value: layer.kind }, "follows pooling");
    }
    const { min, max } = activationClamp(
      (layer as { activation?: Activation }).activation,
      where,
    );
    let cout = c, window: Window | undefined, from: number | undefined;
    const windowed = (kernel: number, stride?: number, padding?: Padding) => {
      try {
        return resolveWindow(kernel, { height: h, width: w, stride, padding });
      } catch (e) {
        const err = e as Error & { argument?: string; value?: unknown };
        throw new SpecError(
          {
            ...where,
            argument: (err.argument ?? "window").replace("options.", ""),
            value: err.value,
          },
          err.message.slice(err.message.indexOf(": ") + 2),
        );
      }
    };
    switch (layer.kind) {
      case "conv2d":
        cout = positive(layer.outChannels, "outChannels", where);
        window = windowed(3, layer.stride, layer.padding);
        break;
      case "depthwise":
        window = windowed(layer.kernel ?? 3, layer.stride, layer.padding);
        break;
      case "conv1x1":
        cout = positive(layer.outChannels, "outChannels", where);
        break;
      case "globalAvgPool":
        pooled = true;
        break;
      case "fullyConnected":
        if (!pooled) {
          throw new SpecError(
            { ...where, argument: "kind", value: layer.kind },
            "needs pooled 1x1 input (put a globalAvgPool before it)",
          );
        }
        cout = positive(layer.units, "units", where);
        break;
      case "add": {
        from = byName.get(layer.from);
        if (from === undefined) {
          throw new SpecError(
            { ...where, argument: "from", value: layer.from },
            "names no earlier layer",
          );
        }
        const f = shapes[from];
        if (f.cout !== c || f.height !== h || f.width !== w) {
          throw new SpecError(
            { ...where, argument: "from", value: layer.from },
            `its output ${f.cout}x${f.height}x${f.width} differs from the previous ${c}x${h}x${w}`,
          );
        }
        break;
      }
    }
    if (window !== undefined) {
      h = window.outHeight;
      w = window.outWidth;
    }
    if (layer.kind === "globalAvgPool") h = w = 1;
    shapes.push(
      Object.freeze({ layer, index, cin: c, cout, height: h, width: w, min, max, window, from }),
    );
    byName.set(name, index);
    c = cout;
  });
  if (shapes.length === 0) {
    throw new SpecError({ argument: "layers", value: 0 }, "a network needs at least one layer");
  }
  return shapes;
}

/** @internal `[features x batch]` to `[batch x features]`, for networks that end pooled. */
export function batchMajor(y: Dense, batch: number): Dense {
  const f = y.rows;
  const data = new Float32Array(y.data.length);
  for (let i = 0; i < f; i++) {
    for (let n = 0; n < batch; n++) data[n * f + i] = y.data[i * batch + n];
  }
  return Object.freeze({ rows: batch, cols: f, data });
}

/** @internal Whether a checked network ends in pooled features (then it outputs batch-major). */
export function endsPooled(shapes: readonly LayerShape[]): boolean {
  const last = shapes[shapes.length - 1];
  return last.height === 1 && last.width === 1 &&
    shapes.some((s) => s.layer.kind === "globalAvgPool");
}
