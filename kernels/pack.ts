/**
 * Packing of sparse 1x1-convolution weights into a Plan, as XNNPACK does it: measure how full
 * 1x2 and 1x4 output-channel blocks would be, choose the block size, and lay out each block's
 * bias followed by its nonzeros, with the input-channel increments the kernel walks by.
 * @module
 */
import { checkCsr, type Csr, csrFromDense } from "./csr.ts";
import { checkDense, type Dense } from "./dense.ts";
import { ShapeError, ValueError } from "./errors.ts";
import { checkClamp, checkLength, type NumberArray, toFloat32 } from "./validate.ts";

/** Output-channel block sizes the kernels implement. */
export type BlockSize = 1 | 2 | 4;

/**
 * One run of output channels packed with one block size. A Plan has at most two: the blocks
 * of `block` channels, then the channels left over (`cout % block`) as single channels.
 */
export interface PlanSection {
  /** Channels per block in this section. */
  readonly block: BlockSize;
  /** First output channel of the section. */
  readonly channelStart: number;
  /** Number of blocks; the section covers `groups * block` output channels. */
  readonly groups: number;
  /**
   * Per block: `block` biases, then `block` weights for every input channel where any channel
   * of the block is nonzero (zeros fill the others).
   */
  readonly weights: Float32Array;
  /** Per stored column: the step, in input channels, to the next stored column (wrapping to the first). */
  readonly dmap: Int32Array;
  /** Per block: the number of stored columns. */
  readonly nnzmap: Uint32Array;
  /** Input channel of the section's first stored column (0 when it has none). */
  readonly first: number;
}

/**
 * Packed weights of a sparse 1x1 convolution `[cout x cin]` with bias and clamp, ready to run
 * on any backend (see {@link conv1x1}). Immutable; pack once, run many times.
 */
export interface Conv1x1Plan {
  /** Output channels. */
  readonly cout: number;
  /** Input channels. */
  readonly cin: number;
  /** The block size chosen (or forced). */
  readonly blockSize: BlockSize;
  /** Nonzero weights in the source matrix. */
  readonly nnz: number;
  /** Weights stored, including the zeros that fill partial blocks. */
  readonly stored: number;
  /** Lower clamp of the output. */
  readonly min: number;
  /** Upper clamp of the output. */
  readonly max: number;
  /** The packed sections, in output-channel order. */
  readonly sections: readonly PlanSection[];
}

/** Options for {@link packConv1x1}. */
export interface PackOptions {
  /** Bias per output channel (`cout` finite values); default zeros. */
  readonly bias?: NumberArray;
  /** Lower clamp; default -Infinity. Use 0 for ReLU. */
  readonly min?: number;
  /** Upper clamp; default +Infinity. Use 6 (with min 0) for ReLU6. */
  readonly max?: number;
  /**
   * Output-channel block size, or `"auto"` (default) to choose from the sparsity pattern:
   * the largest block whose padding stays under {@link BLOCK_FILL_THRESHOLD}.
   */
  readonly blockSize?: BlockSize | "auto";
}

/**
 * Smallest fraction of real nonzeros among stored weights for which `"auto"` picks a block
 * size above 1. Blocked kernels reuse each loaded input vector for 2 or 4 channels, which
 * pays for a moderate number of stored zeros; measured in bench/block_threshold.ts.
 */
export const BLOCK_FILL_THRESHOLD = 0.7;

/** Number of stored columns if rows are grouped in blocks of `b` (leftover rows singly). */
function storedColumns(a: Csr, b: number): number {
  const groups = Math.floor(a.rows / b);
  const { rowPtr, colIdx } = a;
  let total = 0;
  const seen = new Int32Array(a.cols).fill(-1);
  for (let g = 0; g < groups; g++) {
    for (let r = g * b; r < (g + 1) * b; r++) {
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
        if (seen[colIdx[k]] !== g) {
          seen[colIdx[k]] = g;
          total++;
        }
      }
    }
  }
  return total * b + (rowPtr[a.rows] - rowPtr[groups * b]);
}

/** Chooses the block size for a weight matrix: see {@link PackOptions.blockSize}. */
export function chooseBlockSize(a: Csr): BlockSize {
  const n = a.rowPtr[a.rows];
  if (n === 0) return 1;
  for (const b of [4, 2] as const) {
    if (a.rows >= b && n / storedColumns(a, b) >= BLOCK_FILL_THRESHOLD) return b;
  }
  return 1;
}

function packSection(
  a: Csr,
  bias: Float32Array,
  start: number,
  groups: number,
  b: BlockSize,
): PlanSection {
  const { rowPtr, colIdx, values } = a;
  const cols: number[] = [];
  const nnzmap = new Uint32Array(groups);
  const weightParts: number[] = [];
  for (let g = 0; g < groups; g++) {
    const r0 = start + g * b;
    // Merge the sorted column lists of the block's rows.
    const union = new Set<number>();
    for (let r = r0; r < r0 + b; r++) {
      for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) union.add(colIdx[k]);
    }
    const sorted = [...union].sort((x, y) => x - y);
    nnzmap[g] = sorted.length;
    for (let c = 0; c < b; c++) weightParts.push(bias[r0 + c]);
    const cursor = new Int32Array(b);
    for (let c = 0; c < b; c++) cursor[c] = rowPtr[r0 + c];
    for (const col of sorted) {
      cols.push(col);
      for (let c = 0; c < b; c++) {
        const k = cursor[c];
        if (k < rowPtr[r0 + c + 1] && colIdx[k] === col) {
          weightParts.push(values[k]);
          cursor[c]++;
        } else {
          weightParts.push(0);
        }
      }
    }
  }
  const dmap = new Int32Array(cols.length);
  for (let i = 0; i < cols.length; i++) {
    dmap[i] = cols[(i + 1) % cols.length] - cols[i];
  }
  return Object.freeze({
    block: b,
    channelStart: start,
    groups,
    weights: Float32Array.from(weightParts),
    dmap,
    nnzmap,
    first: cols.length > 0 ? cols[0] : 0,
  });
}

/**
 * Packs the weights of a 1x1 convolution (a `[cout x cin]` matrix, dense or CSR) with its
 * bias and output clamp into a Plan for {@link conv1x1}.
 *
 * @param weights `[cout x cin]`; zeros of a Dense, and stored entries of a Csr, are what is skipped
 * @param options bias, clamp and block size
 * @returns an immutable Plan
 * @throws {ShapeError} when `bias` has the wrong length or the weights are malformed
 * @throws {ValueError} when a bias is not finite, `min > max`, or `blockSize` is not 1, 2, 4 or "auto"
 *
 * @example Pack a ReLU6 layer with 1x4 blocks
 * ```ts
 * import { dense, packConv1x1 } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const w = dense(4, 3, [1, 0, 2, 3, 0, 4, 5, 0, 6, 7, 0, 8]);
 * const plan = packConv1x1(w, { min: 0, max: 6 });
 * assert.equal(plan.blockSize, 4);
 * assert.equal(plan.nnz, 8);
 * ```
 */
export function packConv1x1(weights: Dense | Csr, options: PackOptions = {}): Conv1x1Plan {
  const a = "rowPtr" in (weights as object)
    ? checkCsr("weights", weights)
    : csrFromDense(checkDense("weights", weights));
  const cout = a.rows;
  const bias = options.bias === undefined
    ? new Float32Array(cout)
    : toFloat32("options.bias", checkLength("options.bias", options.bias, cout));
  const { min, max } = checkClamp(options);
  const requested = options.blockSize ?? "auto";
  if (requested !== "auto" && requested !== 1 && requested !== 2 && requested !== 4) {
    throw new ValueError(
      { argument: "options.blockSize", value: requested },
      'expected 1, 2, 4 or "auto"',
    );
  }
  const b: BlockSize = requested === "auto" ? chooseBlockSize(a) : requested;
  const groups = Math.floor(cout / b);
  const sections: PlanSection[] = [];
  if (groups > 0) sections.push(packSection(a, bias, 0, groups, b));
  if (cout - groups * b > 0) sections.push(packSection(a, bias, groups * b, cout - groups * b, 1));
  let stored = 0;
  for (const s of sections) stored += s.weights.length - s.groups * s.block;
  return Object.freeze({
    cout,
    cin: a.cols,
    blockSize: b,
    nnz: a.rowPtr[a.rows],
    stored,
    min,
    max,
    sections: Object.freeze(sections),
  });
}

/** @internal Throws unless `x` is a valid `[plan.cin x pixels]` activation. */
export function checkActivation(plan: Conv1x1Plan, x: Dense): Dense {
  checkDense("x", x);
  if (x.rows !== plan.cin) {
    throw new ShapeError(
      { argument: "x.rows", value: x.rows },
      `expected plan.cin = ${plan.cin} input channels`,
    );
  }
  return x;
}
