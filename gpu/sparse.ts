/**
 * The sparse kernels of the WebGPU backend: the packed 1x1 convolution (a Conv1x1Plan, the
 * same one the CPU runs, repacked once for the GPU) and SpMM of a CSR matrix times a GPU
 * tensor.
 *
 * Both run one WGSL kernel design, in two widths. A *slot* is one output row (or, for 1x4
 * blocks, four consecutive output rows sharing their stored columns) with its bias and its
 * list of `(input row, weight)` entries. Slots are sorted by entry count, longest first, and
 * taken in that order (Sputnik's row swizzle), so the slots that share a workgroup have
 * similar lengths and none waits long on a neighbour.
 *
 * A workgroup has 64 threads laid out as `R` slots by `V` vec4 columns of the output: `4 x 16`
 * (64 pixels wide) normally, `16 x 4` when the output has 16 pixels or fewer. Each thread owns
 * one vec4 (four pixels) of one slot's output row(s), and accumulates in registers, starting
 * from the bias. The slot's entries are walked in chunks of `V`: every thread loads one entry
 * of its slot's chunk into workgroup memory, then each thread multiplies the chunk's weights
 * by the vec4 of the input row they name (a coalesced vec4 load along the padded row) and adds
 * them up. The number of chunks is that of the tile's first, hence longest, slot, read through
 * `workgroupUniformLoad`, so both barriers of the loop sit in uniform control flow. At the end
 * the sum is clamped to `[min, max]` (the plan's clamp, fused) and stored; the padding lanes
 * past the last real column are written as zeros. The grid is the tiles along the slots times
 * the tiles along the pixels, folded into x and y by `GpuContext.fold`.
 * @module
 */
import { checkCsr, type Csr } from "../kernels/csr.ts";
import { ShapeError } from "../kernels/errors.ts";
import type { Conv1x1Plan } from "../kernels/pack.ts";
import { checkPlan } from "../kernels/plan_check.ts";
import { checkShape } from "../kernels/validate.ts";
import type { Dispatch, GpuContext } from "./device.ts";
import { GpuError } from "./errors.ts";
import { GpuTensor } from "./tensor.ts";

/** Threads per workgroup. */
const THREADS = 64;

/** Output channels per slot: single rows, or the 1x4 blocks of a plan. */
type SlotWidth = 1 | 4;

/**
 * One kernel's worth of slots, uploaded: per slot `(first output row, first entry, entries,
 * 0)`, per slot the bias (`width` values), per entry the input row and the weight (`width`
 * values). Slots are in swizzled order: entry count descending.
 */
interface SlotSet {
  readonly width: SlotWidth;
  readonly slots: number;
  readonly info: GPUBuffer;
  readonly bias: GPUBuffer;
  readonly cols: GPUBuffer;
  readonly vals: GPUBuffer;
}

/** One slot on the host, before upload. */
interface HostSlot {
  /** First output row. */
  readonly out: number;
  /** `width` biases. */
  readonly bias: ArrayLike<number>;
  /** Input row of each entry. */
  readonly cols: ArrayLike<number>;
  /** `width` weights per entry. */
  readonly vals: ArrayLike<number>;
}

/** Sorts the slots longest first (stable) and uploads them as one SlotSet. */
function uploadSlots(
  ctx: GpuContext,
  argument: string,
  width: SlotWidth,
  host: readonly HostSlot[],
): SlotSet {
  const order = host.map((_, i) => i).sort((p, q) => host[q].cols.length - host[p].cols.length);
  let entries = 0;
  for (const s of host) entries += s.cols.length;
  const info = new Uint32Array(4 * host.length);
  const bias = new Float32Array(width * host.length);
  const cols = new Uint32Array(entries);
  const vals = new Float32Array(width * entries);
  let at = 0;
  order.forEach((i, slot) => {
    const s = host[i];
    const n = s.cols.length;
    info[4 * slot] = s.out;
    info[4 * slot + 1] = at;
    info[4 * slot + 2] = n;
    for (let c = 0; c < width; c++) bias[width * slot + c] = s.bias[c];
    for (let k = 0; k < n; k++) cols[at + k] = s.cols[k];
    for (let k = 0; k < width * n; k++) vals[width * at + k] = s.vals[k];
    at += n;
  });
  const made: GPUBuffer[] = [];
  try {
    for (const data of [info, bias, cols, vals]) made.push(ctx.storage(argument, data));
  } catch (e) {
    for (const b of made) b.destroy();
    throw e;
  }
  const [i, b, c, v] = made;
  return { width, slots: host.length, info: i, bias: b, cols: c, vals: v };
}

function destroySlots(sets: readonly SlotSet[]): void {
  for (const s of sets) {
    s.info.destroy();
    s.bias.destroy();
    s.cols.destroy();
    s.vals.destroy();
  }
}

/** Checks that a GpuPlan or GpuCsr may be used on `ctx`. */
function checkOwner(
  ctx: GpuContext,
  owner: GpuContext,
  disposed: boolean,
  argument: string,
  what: string,
): void {
  if (disposed) throw new GpuError({ code: "disposed", argument }, `this ${what} was disposed`);
  if (owner !== ctx) {
    throw new GpuError({ code: "foreign", argument }, `this ${what} belongs to another device`);
  }
  ctx.check();
}

/**
 * A {@link Conv1x1Plan} uploaded for the GPU by `Gpu.prepare`: the same packed weights the
 * CPU runs, repacked once. The 1x4 blocks of the plan stay blocks (four output channels'
 * weights as one vec4 per stored input channel); the single-channel rows, and the 1x2 blocks
 * split into single-channel rows with their filler zeros (and any other zero weight) dropped,
 * are sorted by length for balanced workgroups. Free it with `dispose()` or `using`.
 *
 * @example Prepare once, run on several inputs
 * ```ts
 * import { dense, packConv1x1, referenceConv1x1 } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * const w = dense(4, 3, [1, 0, 2, 0, 3, 0, -1, 0, 0, 0, 0, 4]);
 * const plan = packConv1x1(w, { bias: [0, 1, 0, -1], min: 0, max: 6 }); // ReLU6
 * using p = gpu.prepare(plan);
 * assert.equal(p.cout, 4);
 * for (const seed of [1, 2, 3]) {
 *   const x = dense(3, 5, Array.from({ length: 15 }, (_, i) => Math.sin(i * seed)));
 *   using xt = gpu.upload(x);
 *   using yt = gpu.alloc(4, 5);
 *   const y = await gpu.conv1x1(p, xt, yt).read();
 *   const want = referenceConv1x1(w, x, { bias: [0, 1, 0, -1], min: 0, max: 6 });
 *   assert.ok(y.data.every((v, i) => Math.abs(v - want.data[i]) < 1e-6));
 * }
 * p.dispose();
 * assert.ok(p.disposed);
 * ```
 */
export class GpuPlan implements Disposable {
  /** The CPU plan this was prepared from. */
  readonly plan: Conv1x1Plan;
  /** Output channels. */
  readonly cout: number;
  /** Input channels. */
  readonly cin: number;
  readonly #ctx: GpuContext;
  readonly #sets: readonly SlotSet[];
  #disposed = false;

  /** @internal Use `Gpu.prepare`. */
  constructor(ctx: GpuContext, plan: Conv1x1Plan, sets: readonly SlotSet[]) {
    this.#ctx = ctx;
    this.plan = plan;
    this.cout = plan.cout;
    this.cin = plan.cin;
    this.#sets = sets;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The uploaded slot sets, checked: not disposed, and of `ctx`'s device.
   * @internal
   */
  setsFor(ctx: GpuContext, argument: string): readonly SlotSet[] {
    checkOwner(ctx, this.#ctx, this.#disposed, argument, "GPU plan");
    return this.#sets;
  }

  /** Frees the GPU memory. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    destroySlots(this.#sets);
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Repacks a Conv1x1Plan for the GPU and uploads it. The plan's `dmap` increments are decoded
 * into absolute input channels here, on the host. 1x4 block sections stay blocks (one vec4 of
 * four output channels' weights per stored column); 1x2 sections are split into
 * single-channel rows, dropping the zeros that fill their blocks; single-channel rows keep
 * their nonzeros. Rows (and blocks) are sorted by stored length, longest first. Bias and the
 * plan's clamp are applied inside the kernel.
 *
 * @param ctx the device
 * @param plan a plan from `packConv1x1`, checked structurally first
 * @returns the GPU plan
 * @throws {ShapeError} {SparseFormatError} {ValueError} when the plan is malformed
 * @throws {GpuError} `"limit"` when a buffer exceeds the device's limits, `"lost"` when the
 *   device is lost
 */
export function prepareGpuPlan(ctx: GpuContext, plan: Conv1x1Plan): GpuPlan {
  checkPlan(plan);
  const rows: HostSlot[] = [];
  const blocks: HostSlot[] = [];
  for (const s of plan.sections) {
    const { block, weights, dmap, nnzmap } = s;
    let w = 0;
    let d = 0;
    let channel = s.first;
    for (let g = 0; g < s.groups; g++) {
      const out = s.channelStart + g * block;
      const bias = weights.subarray(w, w + block);
      w += block;
      const n = nnzmap[g];
      const channels = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        channels[k] = channel;
        channel += dmap[d++];
      }
      if (block === 4) {
        blocks.push({ out, bias, cols: channels, vals: weights.subarray(w, w + 4 * n) });
      } else {
        for (let c = 0; c < block; c++) {
          const cols: number[] = [];
          const vals: number[] = [];
          for (let k = 0; k < n; k++) {
            const v = weights[w + k * block + c];
            if (v !== 0) {
              cols.push(channels[k]);
              vals.push(v);
            }
          }
          rows.push({ out: out + c, bias: [bias[c]], cols, vals });
        }
      }
      w += block * n;
    }
  }
  const sets: SlotSet[] = [];
  try {
    if (blocks.length > 0) sets.push(uploadSlots(ctx, "plan", 4, blocks));
    if (rows.length > 0) sets.push(uploadSlots(ctx, "plan", 1, rows));
  } catch (e) {
    destroySlots(sets);
    throw e;
  }
  return new GpuPlan(ctx, plan, sets);
}

/**
 * A CSR matrix uploaded for the GPU by `Gpu.uploadCsr`, its rows ordered by length (longest
 * first) so that the rows sharing a workgroup have similar work. Free it with `dispose()` or
 * `using`.
 *
 * @example Upload once, multiply twice
 * ```ts
 * import { csr, dense } from "@sparsekit/core";
 * import { requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * using gpu = await requestGpu();
 * using a = gpu.uploadCsr(csr(2, 3, [0, 1, 3], [2, 0, 1], [2, -1, 3]));
 * assert.deepEqual([a.rows, a.cols, a.nnz], [2, 3, 3]);
 * using b = gpu.upload(dense(3, 2, [1, 2, 3, 4, 5, 6]));
 * using c = gpu.alloc(2, 2);
 * assert.deepEqual([...(await gpu.spmm(a, b, c).read()).data], [10, 12, 8, 10]);
 * using c2 = gpu.alloc(2, 2);
 * gpu.spmm(a, b, c2);
 * assert.deepEqual([...(await c2.read()).data], [10, 12, 8, 10]);
 * ```
 */
export class GpuCsr implements Disposable {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** Number of stored entries. */
  readonly nnz: number;
  readonly #ctx: GpuContext;
  readonly #set: SlotSet;
  #disposed = false;

  /** @internal Use `Gpu.uploadCsr`. */
  constructor(ctx: GpuContext, rows: number, cols: number, nnz: number, set: SlotSet) {
    this.#ctx = ctx;
    this.rows = rows;
    this.cols = cols;
    this.nnz = nnz;
    this.#set = set;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The uploaded rows, checked: not disposed, and of `ctx`'s device.
   * @internal
   */
  setFor(ctx: GpuContext, argument: string): SlotSet {
    checkOwner(ctx, this.#ctx, this.#disposed, argument, "GPU CSR matrix");
    return this.#set;
  }

  /** Frees the GPU memory. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    destroySlots([this.#set]);
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Uploads a CSR matrix for {@link encodeSpmm}, its rows sorted by length, longest first.
 *
 * @param ctx the device
 * @param a the matrix, validated with `checkCsr` (structure; values are taken as they are)
 * @returns the GPU matrix
 * @throws {ShapeError} {SparseFormatError} when `a` is malformed
 * @throws {GpuError} `"limit"` when a buffer exceeds the device's limits, `"lost"` when the
 *   device is lost
 */
export function uploadCsr(ctx: GpuContext, a: Csr): GpuCsr {
  checkCsr("a", a);
  const { rowPtr, colIdx, values } = a;
  const host: HostSlot[] = [];
  for (let i = 0; i < a.rows; i++) {
    host.push({
      out: i,
      bias: [0],
      cols: colIdx.subarray(rowPtr[i], rowPtr[i + 1]),
      vals: values.subarray(rowPtr[i], rowPtr[i + 1]),
    });
  }
  return new GpuCsr(ctx, a.rows, a.cols, rowPtr[a.rows], uploadSlots(ctx, "a", 1, host));
}

/** Throws unless `t` is a GpuTensor; returns its buffer (checked for disposal and device). */
function tensorBuffer(ctx: GpuContext, t: GpuTensor, argument: string): GPUBuffer {
  if (!(t instanceof GpuTensor)) {
    throw new ShapeError({ argument, value: t }, "expected a GpuTensor");
  }
  return t.bufferFor(ctx, argument);
}

/** The WGSL of the slot kernel for slots `width` rows wide, `rows x vecs` threads. */
function slotKernel(width: SlotWidth, rows: number, vecs: number): string {
  const w = width === 4 ? "vec4<f32>" : "f32";
  const channels = width === 4 ? ["x", "y", "z", "w"] : [""];
  const acc = channels.map((_, c) => `acc${c}`);
  const init = channels
    .map((ch, c) => `  var ${acc[c]} = vec4<f32>(b${ch === "" ? "" : "." + ch});`)
    .join("\n");
  const madd = channels
    .map((ch, c) => `        ${acc[c]} = ${acc[c]} + wk${ch === "" ? "" : "." + ch} * xv;`)
    .join("\n");
  const store = channels
    .map((_, c) => `    y[(slot_info.x + ${c}u) * params.stride_vec + j] = finish(${acc[c]}, j);`)
    .join("\n");
  return /* wgsl */ `
struct Params {
  total: u32,       // workgroups doing work: slot tiles x column tiles
  col_tiles: u32,   // column tiles (of V vec4s) per slot tile
  slots: u32,
  stride_vec: u32,  // vec4s per padded row of x and y
  cols: u32,        // real columns; the padding lanes are written as 0
  lo: f32,
  hi: f32,
  unused: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per slot: first output row, first entry, entry count, 0. Longest slots first.
@group(0) @binding(1) var<storage, read> info: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bias: array<${w}>;
@group(0) @binding(3) var<storage, read> cols: array<u32>;
@group(0) @binding(4) var<storage, read> vals: array<${w}>;
@group(0) @binding(5) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> y: array<vec4<f32>>;

const R = ${rows}u;  // slots per workgroup
const V = ${vecs}u;  // vec4 columns per workgroup, and entries per slot per chunk

var<workgroup> stage_cols: array<u32, ${THREADS}>;
var<workgroup> stage_vals: array<${w}, ${THREADS}>;
var<workgroup> longest: u32;

fn finish(a: vec4<f32>, j: u32) -> vec4<f32> {
  let v = min(max(a, vec4<f32>(params.lo)), vec4<f32>(params.hi));
  let lane = vec4<u32>(j * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
  return select(vec4<f32>(0.0), v, lane < vec4<u32>(params.cols));
}

@compute @workgroup_size(${THREADS})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let linear = wid.x + wid.y * nwg.x;
  if (linear >= params.total) {
    return;
  }
  let tile = linear / params.col_tiles;
  let r = t / V;
  let v = t % V;
  let slot = tile * R + r;
  let j = (linear % params.col_tiles) * V + v;
  let live = slot < params.slots && j < params.stride_vec;
  var slot_info = vec4<u32>(0u);
  var b = ${w}(0.0);
  if (slot < params.slots) {
    slot_info = info[slot];
    b = bias[slot];
  }
  // The tile's first slot is its longest (slots are sorted): its length bounds the loop.
  if (t == 0u) {
    longest = info[tile * R].z;
  }
  let entries = workgroupUniformLoad(&longest);
${init}
  for (var c = 0u; c < entries; c = c + V) {
    var col = 0u;
    var wv = ${w}(0.0);
    if (c + v < slot_info.z) {
      col = cols[slot_info.y + c + v];
      wv = vals[slot_info.y + c + v];
    }
    stage_cols[t] = col;
    stage_vals[t] = wv;
    workgroupBarrier();
    if (live) {
      let n = min(V, slot_info.z - min(c, slot_info.z));
      for (var k = 0u; k < n; k = k + 1u) {
        let wk = stage_vals[r * V + k];
        let xv = x[stage_cols[r * V + k] * params.stride_vec + j];
${madd}
      }
    }
    workgroupBarrier();
  }
  if (live) {
${store}
  }
}
`;
}

/** The dispatch of one slot set over `pixels` columns, or none when there is nothing to do. */
function encodeSlots(
  ctx: GpuContext,
  set: SlotSet,
  x: GPUBuffer,
  out: GPUBuffer,
  pixels: number,
  min: number,
  max: number,
): Dispatch[] {
  const strideVec = Math.ceil(pixels / 4);
  if (set.slots === 0 || strideVec === 0) return [];
  // Narrow outputs: 16 slots x 4 vec4s per workgroup; otherwise 4 slots x 16 vec4s.
  const vecs = strideVec <= 4 ? 4 : 16;
  const rows = THREADS / vecs;
  const colTiles = Math.ceil(strideVec / vecs);
  const total = Math.ceil(set.slots / rows) * colTiles;
  const grid = ctx.fold("grid", total);
  const key = `sparse/${set.width === 4 ? "block4" : "rows"}/${rows}x${vecs}`;
  const pipeline = ctx.pipeline(key, () => slotKernel(set.width, rows, vecs));
  const params = ctx.uniform([
    { u: total },
    { u: colTiles },
    { u: set.slots },
    { u: strideVec },
    { u: pixels },
    { f: min },
    { f: max },
    { u: 0 },
  ]);
  return [
    ctx.dispatch(
      pipeline,
      [params, set.info, set.bias, set.cols, set.vals, x, out],
      grid,
      [params],
    ),
  ];
}

/**
 * The dispatches of the sparse 1x1 convolution `out = clamp(W x + bias, min, max)`, with x
 * `[plan.cin x pixels]` and out `[plan.cout x pixels]`: one for the plan's 1x4 blocks and one
 * for its single-channel rows (each only when there is work). Checks and binds; submits
 * nothing. The parameter buffers are the dispatches' `owned` ones.
 *
 * @param ctx the device
 * @param plan from {@link prepareGpuPlan}
 * @param x the input activation
 * @param out the output, distinct from `x`
 * @returns the dispatches, in order
 * @throws {GpuError} `"disposed"` or `"foreign"` for a plan or tensor that was disposed or
 *   belongs to another device, `"lost"` when the device is lost
 * @throws {ShapeError} naming `"x"` or `"out"` when a shape does not agree, `"out"` when
 *   `out` is `x`
 */
export function encodeConv1x1(
  ctx: GpuContext,
  plan: GpuPlan,
  x: GpuTensor,
  out: GpuTensor,
): Dispatch[] {
  if (!(plan instanceof GpuPlan)) {
    throw new ShapeError({ argument: "plan", value: plan }, "expected a GpuPlan from Gpu.prepare");
  }
  const sets = plan.setsFor(ctx, "plan");
  const xb = tensorBuffer(ctx, x, "x");
  const ob = tensorBuffer(ctx, out, "out");
  if (out === x) {
    throw new ShapeError({ argument: "out", value: "x" }, "must not be the input x");
  }
  if (x.rows !== plan.cin) {
    throw new ShapeError(
      { argument: "x", value: `${x.rows}x${x.cols}` },
      `expected plan.cin = ${plan.cin} rows`,
    );
  }
  checkShape("out", out, plan.cout, x.cols);
  const { min, max } = plan.plan;
  return sets.flatMap((s) => encodeSlots(ctx, s, xb, ob, x.cols, min, max));
}

/**
 * The dispatch of `out = A B`, with A `[m x k]` sparse, B `[k x n]` and out `[m x n]` (none
 * when out is empty). Checks and binds; submits nothing. The parameter buffer is the
 * dispatch's `owned` one.
 *
 * @param ctx the device
 * @param a from {@link uploadCsr}
 * @param b the dense factor
 * @param out the product, distinct from `b`
 * @returns the dispatches, in order
 * @throws {GpuError} `"disposed"` or `"foreign"` for a matrix or tensor that was disposed or
 *   belongs to another device, `"lost"` when the device is lost
 * @throws {ShapeError} naming `"b"` or `"out"` when a shape does not agree, `"out"` when
 *   `out` is `b`
 */
export function encodeSpmm(
  ctx: GpuContext,
  a: GpuCsr,
  b: GpuTensor,
  out: GpuTensor,
): Dispatch[] {
  if (!(a instanceof GpuCsr)) {
    throw new ShapeError({ argument: "a", value: a }, "expected a GpuCsr from Gpu.uploadCsr");
  }
  const set = a.setFor(ctx, "a");
  const bb = tensorBuffer(ctx, b, "b");
  const ob = tensorBuffer(ctx, out, "out");
  if (out === b) {
    throw new ShapeError({ argument: "out", value: "b" }, "must not be the input b");
  }
  if (b.rows !== a.cols) {
    throw new ShapeError(
      { argument: "b", value: `${b.rows}x${b.cols}` },
      `expected a.cols = ${a.cols} rows`,
    );
  }
  checkShape("out", out, a.rows, b.cols);
  return encodeSlots(ctx, set, bb, ob, b.cols, -Infinity, Infinity);
}
