/**
 * What the CHW operator tests share, on the CPU and on the GPU: seeded matrices, the error
 * bounds of depthwise and first-layer convolution, and the arbitraries of their cases (odd and
 * tiny images, every padding, clamps).
 * @module
 */
import fc from "fast-check";
import {
  type Dense,
  dense,
  type Padding,
  referenceConv2d,
  referenceDepthwise,
  resolveWindow,
  ShapeError,
  type Window,
} from "../mod.ts";
import { seededRandom } from "../testing.ts";

/** A `[rows x cols]` matrix of seeded values in [-2, 2), with some exact zeros. */
export function matrix(rows: number, cols: number, seed: number): Dense {
  const rand = seededRandom(seed);
  return dense(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => (rand() < 0.1 ? 0 : rand() * 4 - 2)),
  );
}

export function values(n: number, seed: number): number[] {
  return Array.from(matrix(1, n, seed).data);
}

export const abs = (d: Dense) => dense(d.rows, d.cols, d.data.map(Math.abs));
export const absArray = (b: readonly number[] | undefined) => b && b.map(Math.abs);
export const unclamped = (w: Window): Window => ({ ...w, min: -Infinity, max: Infinity });

// The magnitude each output's f32 error scales with: |bias| + sum |w x| over the output's
// window (the same windows, through the reference on absolute values, unclamped: the clamp
// only shrinks differences). assertWithinBound allows (terms + 2) 2^-23 times it.
export function depthwiseBound(
  x: Dense,
  w: Dense,
  bias: number[] | undefined,
  window: Window,
): Dense {
  return referenceDepthwise(abs(x), abs(w), absArray(bias), unclamped(window));
}

export function conv2dBound(x: Dense, w: Dense, bias: number[] | undefined, window: Window): Dense {
  return referenceConv2d(abs(x), abs(w), absArray(bias), unclamped(window));
}

/** Resolves a window, or undefined where the options are refused (then so is the call). */
export function tryWindow(
  kernel: number,
  options: Parameters<typeof resolveWindow>[1],
  kernels?: number[],
): Window | undefined {
  try {
    return resolveWindow(kernel, options, kernels);
  } catch (e) {
    if (e instanceof ShapeError) return undefined;
    throw e;
  }
}

export const clampArb: fc.Arbitrary<{ min?: number; max?: number }> = fc.oneof(
  fc.constant({}),
  fc.constant({ min: 0 }),
  fc.constant({ min: 0, max: 6 }),
  fc.tuple(
    fc.double({ min: -3, max: 3, noNaN: true }),
    fc.double({ min: -3, max: 3, noNaN: true }),
  ).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) })),
);

export function paddingArb(kernel: number): fc.Arbitrary<Padding> {
  const side = fc.integer({ min: 0, max: kernel - 1 });
  return fc.oneof(
    fc.constantFrom<Padding>("same", "valid"),
    side,
    fc.tuple(side, side, side, side),
  );
}

/** Image sides: the small and odd ones mostly, up to a few vectors wide. */
export const sideArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 13) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 21 }) },
);

export const depthwiseCaseArb = fc.constantFrom(3, 5).chain((kernel) =>
  fc.record({
    kernel: fc.constant(kernel),
    stride: fc.constantFrom(1, 2),
    height: sideArb,
    width: sideArb,
    batch: fc.constantFrom(0, 1, 1, 3),
    channels: fc.constantFrom(0, 1, 2, 5),
    padding: paddingArb(kernel),
    clamp: clampArb,
    bias: fc.boolean(),
    seed: fc.integer(),
  })
);

/**
 * First-layer convolution cases; `cin` and `cout` list the channel counts to draw from (the
 * GPU's kernel steps four input channels and eight output channels at a time).
 */
export function conv2dCaseArb(
  cin: readonly number[] = [1, 2, 3, 3, 4],
  cout: readonly number[] = [0, 1, 3, 4, 5, 9],
) {
  return fc.record({
    stride: fc.constantFrom(1, 2),
    height: sideArb,
    width: sideArb,
    batch: fc.constantFrom(0, 1, 1, 2),
    cin: fc.constantFrom(...cin),
    cout: fc.constantFrom(...cout),
    padding: paddingArb(3),
    clamp: clampArb,
    bias: fc.boolean(),
    seed: fc.integer(),
  });
}
