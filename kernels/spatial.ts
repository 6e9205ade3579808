/**
 * Geometry of the windowed CHW operators (depthwise and first-layer convolution): padding
 * rules, output sizes, and the resolved {@link Window} the backends receive.
 * @module
 */
import { ShapeError, ValueError } from "./errors.ts";
import { checkClamp, checkShape, checkSize, type Shaped } from "./validate.ts";

/** Explicit padding in pixels: rows above, columns left, rows below, columns right. */
export type Padding4 = readonly [top: number, left: number, bottom: number, right: number];

/**
 * How a windowed operator pads its input:
 * - `"same"`: TensorFlow's rule, output `ceil(size / stride)`, the total padding split with
 *   the odd pixel at the bottom and right;
 * - `"valid"`: no padding;
 * - a number: that many zero pixels on every side;
 * - four numbers: top, left, bottom, right.
 */
export type Padding = "same" | "valid" | number | Padding4;

/**
 * A windowed operator's geometry after checking, as the backends receive it. Activations are
 * CHW with the batch inside each channel: channel c of image n is the plane of `height*width`
 * pixels starting at column `n * height * width` of row c.
 */
export interface Window {
  /** Kernel side (3 or 5). */
  readonly kernel: number;
  /** Stride (1 or 2). */
  readonly stride: number;
  /** Input height in pixels. */
  readonly height: number;
  /** Input width in pixels. */
  readonly width: number;
  /** Images in the batch. */
  readonly batch: number;
  /** Zero rows above the input. */
  readonly padTop: number;
  /** Zero columns left of the input. */
  readonly padLeft: number;
  /** Output height: `floor((height + top + bottom - kernel) / stride) + 1`. */
  readonly outHeight: number;
  /** Output width: `floor((width + left + right - kernel) / stride) + 1`. */
  readonly outWidth: number;
  /** Lower clamp of the output. */
  readonly min: number;
  /** Upper clamp of the output. */
  readonly max: number;
}

/** What a caller gives to describe a windowed operator; see {@link resolveWindow}. */
export interface WindowOptions {
  /** Input height in pixels. */
  readonly height: number;
  /** Input width in pixels. */
  readonly width: number;
  /** Images in the batch; default 1. */
  readonly batch?: number;
  /** Stride, 1 or 2; default 1. */
  readonly stride?: number;
  /** Padding; default `"same"`. */
  readonly padding?: Padding;
  /** Lower clamp of the output; default -Infinity (0 for ReLU and ReLU6). */
  readonly min?: number;
  /** Upper clamp of the output; default +Infinity (6 for ReLU6). */
  readonly max?: number;
}

/** Largest padding on one side we accept, relative to the kernel: more would only add zeros. */
function checkPad(argument: string, v: unknown, kernel: number): number {
  const p = checkSize(argument, v);
  if (p >= kernel) {
    throw new ShapeError(
      { argument, value: p },
      `must be smaller than the kernel (${kernel}): a wider border only computes the bias`,
    );
  }
  return p;
}

/**
 * Resolves padding to four sides for an input of `size` pixels (height, width) under a
 * kernel and stride.
 *
 * @example TensorFlow's "same" on an even input with stride 2 pads only the bottom and right
 * ```ts
 * import { resolvePadding } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(resolvePadding("same", 224, 224, 3, 2), [0, 0, 1, 1]);
 * assert.deepEqual(resolvePadding(1, 5, 5, 3, 1), [1, 1, 1, 1]);
 * ```
 */
export function resolvePadding(
  padding: Padding,
  height: number,
  width: number,
  kernel: number,
  stride: number,
): Padding4 {
  if (padding === "valid") return [0, 0, 0, 0];
  if (padding === "same") {
    const total = (size: number) =>
      Math.max((Math.ceil(size / stride) - 1) * stride + kernel - size, 0);
    const th = total(height), tw = total(width);
    return [th >> 1, tw >> 1, th - (th >> 1), tw - (tw >> 1)];
  }
  if (typeof padding === "number") {
    const p = checkPad("options.padding", padding, kernel);
    return [p, p, p, p];
  }
  if (!Array.isArray(padding) || padding.length !== 4) {
    throw new ShapeError(
      { argument: "options.padding", value: padding },
      'expected "same", "valid", a number or [top, left, bottom, right]',
    );
  }
  return [
    checkPad("options.padding[0]", padding[0], kernel),
    checkPad("options.padding[1]", padding[1], kernel),
    checkPad("options.padding[2]", padding[2], kernel),
    checkPad("options.padding[3]", padding[3], kernel),
  ];
}

/**
 * Checks a windowed operator's options and resolves them to a {@link Window}.
 *
 * @param kernel the kernel side; `kernels` lists the sides allowed
 * @throws {ShapeError} for bad sizes, a stride other than 1 or 2, bad padding, or an empty output
 * @throws {ValueError} for a NaN clamp or `min > max`
 *
 * @example A 3x3 depthwise window, stride 2, on a 7x7 image
 * ```ts
 * import { resolveWindow } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const w = resolveWindow(3, { height: 7, width: 7, stride: 2, padding: 1, min: 0 });
 * assert.equal(w.outHeight, 4);
 * assert.equal(w.padTop, 1);
 * ```
 */
export function resolveWindow(
  kernel: number,
  options: WindowOptions,
  kernels: readonly number[] = [3, 5],
): Window {
  if (!kernels.includes(kernel)) {
    throw new ShapeError({ argument: "kernel", value: kernel }, `expected one of ${kernels}`);
  }
  const height = checkSize("options.height", options.height);
  const width = checkSize("options.width", options.width);
  const batch = checkSize("options.batch", options.batch ?? 1);
  const stride = options.stride ?? 1;
  if (stride !== 1 && stride !== 2) {
    throw new ShapeError({ argument: "options.stride", value: stride }, "expected 1 or 2");
  }
  const [padTop, padLeft, bottom, right] = resolvePadding(
    options.padding ?? "same",
    height,
    width,
    kernel,
    stride,
  );
  const span = (size: number, a: number, b: number) => size + a + b - kernel;
  const sh = span(height, padTop, bottom), sw = span(width, padLeft, right);
  if ((sh < 0 || sw < 0) && height * width * batch > 0) {
    throw new ShapeError(
      { argument: "options.padding", value: `${height}x${width}` },
      `a ${kernel}x${kernel} window does not fit the padded input`,
    );
  }
  const outHeight = sh < 0 ? 0 : Math.floor(sh / stride) + 1;
  const outWidth = sw < 0 ? 0 : Math.floor(sw / stride) + 1;
  const { min, max } = checkClamp(options);
  return Object.freeze({
    kernel,
    stride,
    height,
    width,
    batch,
    padTop,
    padLeft,
    outHeight,
    outWidth,
    min,
    max,
  });
}

/**
 * @internal Checks a Window that reached a backend directly (resident calls), so the kernels
 * can trust it: every field an integer in range and the output sizes consistent.
 */
export function checkWindow(w: Window, kernels: readonly number[] = [3, 5]): void {
  if (w === null || typeof w !== "object") {
    throw new ShapeError({ argument: "window", value: w }, "expected a Window object");
  }
  if (!kernels.includes(w.kernel)) {
    throw new ShapeError({ argument: "window.kernel", value: w.kernel }, `expected ${kernels}`);
  }
  if (w.stride !== 1 && w.stride !== 2) {
    throw new ShapeError({ argument: "window.stride", value: w.stride }, "expected 1 or 2");
  }
  for (const k of ["height", "width", "batch", "outHeight", "outWidth"] as const) {
    checkSize(`window.${k}`, w[k]);
  }
  checkPad("window.padTop", w.padTop, w.kernel);
  checkPad("window.padLeft", w.padLeft, w.kernel);
  // The output may not read past one kernel-width of padding below or right.
  const fits = (out: number, size: number, pad: number) =>
    out === 0 || (out - 1) * w.stride - pad + w.kernel <= size + w.kernel - 1;
  if (!fits(w.outHeight, w.height, w.padTop)) {
    throw new ShapeError({ argument: "window.outHeight", value: w.outHeight }, "too large");
  }
  if (!fits(w.outWidth, w.width, w.padLeft)) {
    throw new ShapeError({ argument: "window.outWidth", value: w.outWidth }, "too large");
  }
  if (Number.isNaN(w.min) || Number.isNaN(w.max) || w.min > w.max) {
    throw new ValueError({ argument: "window.min", value: w.min }, `and max ${w.max} disagree`);
  }
}

/**
 * @internal Checks the operands of a resident depthwise call against its window: shapes
 * agree and `out` is not `x` (the kernels read neighbours that an in-place write would
 * overwrite).
 */
export function checkDepthwiseArgs(
  x: Shaped,
  weights: Shaped,
  bias: Shaped | undefined,
  out: Shaped,
  w: Window,
): void {
  checkWindow(w);
  const c = x.rows;
  checkShape("x", x, c, w.batch * w.height * w.width);
  checkShape("weights", weights, c, w.kernel * w.kernel);
  if (bias !== undefined) checkShape("bias", bias, c, 1);
  checkShape("out", out, c, w.batch * w.outHeight * w.outWidth);
  if (out === x) {
    throw new ShapeError({ argument: "out", value: "x" }, "must not be the input tensor");
  }
}

/**
 * @internal Checks the operands of a resident first-layer convolution; returns the number of
 * input channels (`weights.cols / kernel^2`).
 */
export function checkConv2dArgs(
  x: Shaped,
  weights: Shaped,
  bias: Shaped | undefined,
  out: Shaped,
  w: Window,
): number {
  checkWindow(w, [3]);
  const area = w.kernel * w.kernel;
  if (weights.cols % area !== 0 || weights.cols === 0) {
    throw new ShapeError(
      { argument: "weights.cols", value: weights.cols },
      `must be a positive multiple of kernel*kernel = ${area}`,
    );
  }
  const cin = weights.cols / area;
  const cout = weights.rows;
  checkShape("x", x, w.batch, w.height * w.width * cin);
  if (bias !== undefined) checkShape("bias", bias, cout, 1);
  checkShape("out", out, cout, w.batch * w.outHeight * w.outWidth);
  return cin;
}

/** @internal Checks a resident global average pool; returns the pixels per image. */
export function checkPoolArgs(x: Shaped, out: Shaped, batch: number): number {
  checkSize("batch", batch);
  if (batch === 0 ? x.cols !== 0 : x.cols % batch !== 0) {
    throw new ShapeError(
      { argument: "x.cols", value: x.cols },
      `must be a multiple of batch = ${batch}`,
    );
  }
  checkShape("out", out, x.rows, batch);
  return batch === 0 ? 0 : x.cols / batch;
}

/** @internal Checks a resident add: one shape for all three, and a sane clamp. */
export function checkAddArgs(a: Shaped, b: Shaped, out: Shaped, min: number, max: number): void {
  checkShape("b", b, a.rows, a.cols);
  checkShape("out", out, a.rows, a.cols);
  checkClamp({ min, max });
}
