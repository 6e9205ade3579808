/**
 * The WebAssembly backend: instantiates one kernel module (relaxed SIMD, SIMD or scalar),
 * copies operands into its memory, runs the kernels and copies results out.
 * @module
 */
import {
  type Backend,
  type Flavour,
  type GemmOptions,
  type PreparedPlan,
  type ResidentGemmOptions,
  type Tensor,
  TENSOR_VIEW,
  type TensorView,
} from "./backend.ts";
import { checkCsr, type Csr } from "./csr.ts";
import { checkDense, type Dense } from "./dense.ts";
import { BackendError, ShapeError } from "./errors.ts";
import {
  convDestination,
  destination,
  gemmArgs,
  isTensor,
  unwrapPlan,
  viewElements,
} from "./js.ts";
import { Arena, type Block } from "./memory.ts";
import { type Conv1x1Plan, packConv1x1, type PlanSection } from "./pack.ts";
import { checkPlan } from "./plan_check.ts";
import {
  checkAddArgs,
  checkConv2dArgs,
  checkDepthwiseArgs,
  checkPoolArgs,
  type Window,
} from "./spatial.ts";
import { checkProduct, checkSize } from "./validate.ts";

/**
 * The exports of as/index.ts (the kernel module), as the host sees them.
 * @internal Shared with the kernel-level tests and tuning harnesses.
 */
export interface Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  flavour(): number;
  spmm1: SpmmKernel;
  spmm2: SpmmKernel;
  spmm4: SpmmKernel;
  spmmChunk(block: number): number;
  spmmTileBytes(block: number, pixels: number): number;
  gemm(
    m: number,
    k: number,
    n: number,
    a: number,
    b: number,
    bias: number,
    c: number,
    min: number,
    max: number,
    scratch: number,
  ): void;
  gemmScratchBytes(m: number, k: number, n: number): number;
  depthwise(
    channels: number,
    batch: number,
    height: number,
    width: number,
    kernel: number,
    stride: number,
    padTop: number,
    padLeft: number,
    outHeight: number,
    outWidth: number,
    x: number,
    weights: number,
    bias: number,
    y: number,
    min: number,
    max: number,
    scratch: number,
  ): void;
  depthwiseScratchBytes(
    kernel: number,
    stride: number,
    outHeight: number,
    outWidth: number,
  ): number;
  conv2d(
    cout: number,
    cin: number,
    batch: number,
    height: number,
    width: number,
    stride: number,
    padTop: number,
    padLeft: number,
    outHeight: number,
    outWidth: number,
    x: number,
    weights: number,
    bias: number,
    y: number,
    min: number,
    max: number,
    scratch: number,
  ): void;
  conv2dScratchBytes(
    cout: number,
    cin: number,
    batch: number,
    outHeight: number,
    outWidth: number,
  ): number;
  globalAvgPool(count: number, pixels: number, x: number, y: number): void;
  add(n: number, a: number, b: number, y: number, min: number, max: number): void;
}

type SpmmKernel = (
  pixels: number,
  x: number,
  xStride: number,
  y: number,
  yStride: number,
  groups: number,
  stream: number,
  nnzmap: number,
  first: number,
  min: number,
  max: number,
  channels: number,
  stage: number,
  scratch: number,
) => void;

const CODES: Record<number, Flavour> = { 2: "relaxed", 1: "simd", 0: "scalar" };

interface Uploaded {
  readonly section: PlanSection;
  readonly stream: Block;
  readonly nnzmap: Block;
  /** Bytes per input-channel step the stream's increments are written for (0: none yet). */
  scale: number;
}

/**
 * When the 1-channel SIMD kernel stages its inputs: the tile's inputs over all input
 * channels (channels times the widest tile's bytes) must take at least this many bytes, and
 * each input channel must be read at least {@link STAGE_MIN_REUSE} times per tile on average.
 *
 * Staging copies each tile's inputs into one slot per channel before the tile runs, so the
 * reads that follow touch one compact, line-aligned block instead of a stretch of every
 * channel row (a page each on wide layers). It pays once the tile's inputs no longer fit in
 * a 32 KiB L1 cache. Measured with bench/spmm_tune.ts on the MobileNet v1 layers at 90%:
 * 256->256 at 28x28 and the 512- and 1024-channel layers gain 7-15%; 128->256 at 28x28
 * (24 KiB of inputs per tile) loses 5%, and 256->512 at 14x14 (40 KiB) breaks even.
 */
export const STAGE_MIN_TILE_BYTES = 48 * 1024;
/** Stored columns per input channel below which the copy does not pay: see {@link STAGE_MIN_TILE_BYTES}. */
export const STAGE_MIN_REUSE = 16;

/**
 * Bytes per channel slot when a section's kernel should stage its inputs for a row of
 * `pixels`, else 0 (see {@link STAGE_MIN_TILE_BYTES}).
 * @internal
 */
export function stageBytes(
  ex: Pick<Exports, "spmmTileBytes">,
  flavour: Flavour,
  s: PlanSection,
  cin: number,
  pixels: number,
): number {
  if (flavour === "scalar" || s.block !== 1 || s.dmap.length < STAGE_MIN_REUSE * cin) return 0;
  const tile = ex.spmmTileBytes(s.block, pixels);
  // Slots are whole 64-byte cache lines.
  return cin * Math.min(tile, pixels * 4) >= STAGE_MIN_TILE_BYTES ? Math.ceil(tile / 64) * 64 : 0;
}

/**
 * The kernels' interleaved weight stream for one section (its format is documented in
 * as/gen_spmm.ts): per block, its biases, then its stored columns in chunks of `chunk`
 * (the chunk's weights, then its increments), then the leftover columns one by one
 * (weights, then increment). Returned as 32-bit words. Increments are in bytes: each
 * channel step times `scale`, the distance between input channels as the kernel reads them,
 * modulo 2^32 (the kernel's pointer arithmetic wraps alike).
 * @internal
 */
export function layoutStream(s: PlanSection, chunk: number, scale: number): Uint32Array {
  const b = s.block;
  const words = new Uint32Array(s.weights.length + s.dmap.length);
  const wbits = new Uint32Array(s.weights.buffer, s.weights.byteOffset, s.weights.length);
  const d = s.dmap;
  let o = 0, wi = 0, di = 0;
  for (let g = 0; g < s.groups; g++) {
    for (let c = 0; c < b; c++) words[o++] = wbits[wi++];
    const n = s.nnzmap[g];
    const whole = n - (n % chunk);
    let k = 0;
    for (; k < whole; k += chunk) {
      for (let i = 0; i < chunk * b; i++) words[o++] = wbits[wi++];
      for (let i = 0; i < chunk; i++) words[o++] = Math.imul(d[di++], scale);
    }
    for (; k < n; k++) {
      for (let i = 0; i < b; i++) words[o++] = wbits[wi++];
      words[o++] = Math.imul(d[di++], scale);
    }
  }
  return words;
}

/**
 * Builds a backend over an instantiated kernel module.
 * @internal Use {@link init}.
 */
export function wasmBackend(instance: WebAssembly.Instance): Backend {
  const ex = instance.exports as unknown as Exports;
  for (
    const name of [
      "memory",
      "heapBase",
      "flavour",
      "spmm1",
      "spmm2",
      "spmm4",
      "spmmChunk",
      "spmmTileBytes",
      "gemm",
      "gemmScratchBytes",
      "depthwise",
      "depthwiseScratchBytes",
      "conv2d",
      "conv2dScratchBytes",
      "globalAvgPool",
      "add",
    ]
  ) {
    if (!(name in ex)) {
      throw new BackendError(
        { argument: "module", value: name },
        "is not a sparsekit kernel module (export missing)",
      );
    }
  }
  const flavour = CODES[ex.flavour()];
  const arena = new Arena(ex.memory, ex.heapBase());
  const kernels: Record<number, SpmmKernel> = { 1: ex.spmm1, 2: ex.spmm2, 4: ex.spmm4 };
  const chunks: Record<number, number> = {
    1: ex.spmmChunk(1),
    2: ex.spmmChunk(2),
    4: ex.spmmChunk(4),
  };

  function copyIn(
    data: ArrayLike<number> & { length: number },
    T: Float32ArrayConstructor | Uint32ArrayConstructor,
  ): Block {
    const block = arena.alloc(data.length * 4);
    new T(arena.buffer, block.ptr, data.length).set(data);
    return block;
  }

  /** Copies a plan's sections into the arena, increments written for `scales[i]` bytes. */
  function upload(plan: Conv1x1Plan, scales: readonly number[]): Uploaded[] {
    const done: Uploaded[] = [];
    try {
      for (const [i, s] of plan.sections.entries()) {
        const scale = scales[i];
        const stream = copyIn(layoutStream(s, chunks[s.block], scale), Uint32Array);
        try {
          done.push({ section: s, stream, nnzmap: copyIn(s.nnzmap, Uint32Array), scale });
        } catch (e) {
          arena.free(stream);
          throw e;
        }
      }
    } catch (e) {
      release(done);
      throw e;
    }
    return done;
  }

  function release(u: Uploaded[]): void {
    for (const { stream, nnzmap } of u) {
      arena.free(nnzmap);
      arena.free(stream);
    }
    u.length = 0;
  }

  // Resident tensors made by this backend, with their memory.
  const tensors = new WeakMap<Tensor, Block>();
  const registry = new FinalizationRegistry<() => void>((free) => free());

  /** A fresh tensor, zeroed unless the caller writes every element (`zero` false). */
  function makeTensor(rows: number, cols: number, zero = true): Tensor {
    checkSize("rows", rows);
    checkSize("cols", cols);
    const n = checkProduct("rows * cols", rows, cols);
    const block = arena.alloc(n * 4);
    if (zero) arena.f32(block, n).fill(0);
    let disposed = false;
    const tensor = residentTensor(block, rows, cols, () => disposed, () => {
      if (disposed) return;
      disposed = true;
      registry.unregister(tensor);
      arena.free(block);
    });
    registry.register(tensor, () => arena.free(block), tensor);
    return tensor;
  }

  /** A tensor over `block`, disposed as `isDisposed` says, freed by `dispose`. */
  function residentTensor(
    block: Block,
    rows: number,
    cols: number,
    isDisposed: () => boolean,
    dispose: () => void,
  ): Tensor {
    const tensor: Tensor = {
      rows,
      cols,
      flavour,
      get disposed() {
        return isDisposed();
      },
      read(out?: Dense): Dense {
        live(tensor, "tensor");
        const y = destination(out, rows, cols);
        y.data.set(arena.f32(block, rows * cols));
        return y;
      },
      dispose,
      [Symbol.dispose]: dispose,
    };
    tensors.set(tensor, block);
    return tensor;
  }

  // A view holds its base, so the base (and its memory) lives as long as any view of it.
  const view: TensorView = (base, rows, cols) => {
    const block = live(base, "base");
    const n = viewElements(base, rows, cols);
    return residentTensor(
      { ptr: block.ptr, bytes: n * 4 },
      rows,
      cols,
      () => base.disposed,
      () => {},
    );
  };

  function live(t: Tensor, argument: string): Block {
    const block = tensors.get(t);
    if (block === undefined) {
      throw new BackendError(
        { argument, value: t.flavour },
        `is a tensor of another backend, not this ${flavour} one`,
      );
    }
    if (t.disposed) {
      throw new BackendError({ argument, value: "disposed" }, "this tensor was disposed");
    }
    return block;
  }

  /**
   * Whether the resident `out` shares memory with operand `v` (the same tensor or a view of
   * the same memory); a Dense operand is copied in and never does.
   */
  function overlaps(out: Tensor, v: Dense | Tensor | undefined): boolean {
    if (v === undefined || !isTensor(v)) return false;
    const a = tensors.get(out);
    const b = tensors.get(v);
    return a !== undefined && b !== undefined && a.ptr < b.ptr + b.bytes &&
      b.ptr < a.ptr + a.bytes;
  }

  /** A pointer to the operand's data in wasm memory, copying a Dense in (freed by `temps`). */
  function operand(v: Dense | Tensor, argument: string, temps: Block[]): number {
    if (isTensor(v)) return live(v, argument).ptr;
    checkDense(argument, v);
    const b = copyIn(v.data, Float32Array);
    temps.push(b);
    return b.ptr;
  }

  function withOperands<T>(body: (temps: Block[]) => T): T {
    const temps: Block[] = [];
    try {
      return body(temps);
    } finally {
      for (let i = temps.length - 1; i >= 0; i--) arena.free(temps[i]);
    }
  }

  /**
   * Runs `plan` on the validated `x` into `y` (from convDestination), each section staged as
   * `stages` says (from stagesFor).
   */
  function runPlan(
    plan: Conv1x1Plan,
    sections: Uploaded[],
    x: Dense | Tensor,
    y: Dense | Tensor,
    stages: readonly number[],
  ): Dense | Tensor {
    const pixels = x.cols;
    const resident = isTensor(y);
    const count = plan.cout * pixels;
    if (count === 0) return y;
    return withOperands((temps) => {
      const xp = operand(x, "x", temps);
      // A resident out that is also the input is computed aside and copied back.
      const direct = isTensor(y) && !overlaps(y, x) ? live(y, "out").ptr : 0;
      let yp = direct;
      if (direct === 0) {
        const yb = arena.alloc(count * 4);
        temps.push(yb);
        yp = yb.ptr;
      }
      const stride = pixels * 4;
      let scratch = 0;
      const slot = Math.max(...stages);
      if (slot > 0) {
        const sb = arena.alloc(slot * plan.cin);
        temps.push(sb);
        scratch = sb.ptr;
      }
      for (const [i, u] of sections.entries()) {
        const s = u.section;
        const scale = stages[i] || stride;
        if (u.scale !== scale) {
          // A prepared plan run on a new row length: rewrite its increments.
          const words = layoutStream(s, chunks[s.block], scale);
          new Uint32Array(arena.buffer, u.stream.ptr, words.length).set(words);
          u.scale = scale;
        }
        kernels[s.block](
          pixels,
          xp,
          stride,
          yp + s.channelStart * stride,
          stride,
          s.groups,
          u.stream.ptr,
          u.nnzmap.ptr,
          s.first,
          plan.min,
          plan.max,
          plan.cin,
          stages[i],
          scratch,
        );
      }
      const result = new Float32Array(arena.buffer, yp, count);
      if (!resident) (y as Dense).data.set(result);
      else if (direct === 0) {
        new Float32Array(arena.buffer, live(y as Tensor, "out").ptr, count).set(result);
      }
      return y;
    });
  }

  const prepared = new WeakMap<PreparedPlan, Uploaded[]>();

  /** Per section, its staging slot bytes for rows of `pixels` (0: read in place). */
  function stagesFor(plan: Conv1x1Plan, pixels: number): number[] {
    return plan.sections.map((s) => stageBytes(ex, flavour, s, plan.cin, pixels));
  }

  function conv1x1(p: Conv1x1Plan | PreparedPlan, x: Dense, out?: Dense): Dense;
  function conv1x1(p: Conv1x1Plan | PreparedPlan, x: Tensor, out: Tensor): Tensor;
  function conv1x1(
    p: Conv1x1Plan | PreparedPlan,
    x: Dense | Tensor,
    out?: Dense | Tensor,
  ): Dense | Tensor {
    const plan = unwrapPlan(p, flavour);
    if (p !== plan) {
      const sections = prepared.get(p as PreparedPlan);
      if (sections === undefined) {
        throw new BackendError(
          { argument: "plan", value: "foreign" },
          "was not prepared by this backend",
        );
      }
      const y = convDestination(plan, x, out);
      return runPlan(plan, sections, x, y, stagesFor(plan, x.cols));
    }
    checkPlan(plan);
    const y = convDestination(plan, x, out);
    const stages = stagesFor(plan, x.cols);
    const sections = upload(plan, stages.map((b) => b || x.cols * 4));
    try {
      return runPlan(plan, sections, x, y, stages);
    } finally {
      release(sections);
    }
  }

  function gemm(a: Dense, b: Dense, options?: GemmOptions): Dense;
  function gemm(a: Tensor, b: Tensor, options: ResidentGemmOptions): Tensor;
  function gemm(
    a: Dense | Tensor,
    b: Dense | Tensor,
    options: GemmOptions | ResidentGemmOptions = {},
  ): Dense | Tensor {
    const { bias, min, max, y } = gemmArgs(a, b, options);
    const resident = isTensor(y);
    const m = a.rows, k = a.cols, n = b.cols;
    if (m * n === 0) return y;
    return withOperands((temps) => {
      const ap = operand(a, "a", temps);
      const bp = operand(b, "b", temps);
      let biasp = 0;
      if (bias !== undefined) {
        const bb = copyIn(bias, Float32Array);
        temps.push(bb);
        biasp = bb.ptr;
      }
      // A resident out that is also an operand is computed aside and copied back.
      const direct = resident && !overlaps(y as Tensor, a) && !overlaps(y as Tensor, b)
        ? live(y as Tensor, "options.out").ptr
        : 0;
      let cp = direct;
      if (direct === 0) {
        const cb = arena.alloc(m * n * 4);
        temps.push(cb);
        cp = cb.ptr;
      }
      const scratch = arena.alloc(ex.gemmScratchBytes(m, k, n));
      temps.push(scratch);
      ex.gemm(m, k, n, ap, bp, biasp, cp, min, max, scratch.ptr);
      const result = new Float32Array(arena.buffer, cp, m * n);
      if (!resident) (y as Dense).data.set(result);
      else if (direct === 0) {
        new Float32Array(arena.buffer, live(y as Tensor, "options.out").ptr, m * n).set(result);
      }
      return y;
    });
  }

  /**
   * Runs a CHW kernel into the resident `out` (`count` floats): straight into it when `direct`,
   * else into a temporary block copied over afterwards (when `out` is also an operand). `run`
   * gets the output pointer and the scratch block (`scratchBytes` from the module, which may
   * be a saturated unsigned value: the allocator refuses it).
   */
  function runInto(
    out: Tensor,
    count: number,
    direct: boolean,
    scratchBytes: number,
    run: (y: number, scratch: number) => void,
  ): Tensor {
    return withOperands((temps) => {
      let yp = live(out, "out").ptr;
      if (!direct) {
        const yb = arena.alloc(count * 4);
        temps.push(yb);
        yp = yb.ptr;
      }
      let scratch = 0;
      if (scratchBytes !== 0) {
        const block = arena.alloc(scratchBytes >>> 0);
        temps.push(block);
        scratch = block.ptr;
      }
      run(yp, scratch);
      if (!direct) {
        new Float32Array(arena.buffer, live(out, "out").ptr, count).set(
          new Float32Array(arena.buffer, yp, count),
        );
      }
      return out;
    });
  }

  function depthwise(
    x: Tensor,
    weights: Tensor,
    bias: Tensor | undefined,
    out: Tensor,
    w: Window,
  ): Tensor {
    checkDepthwiseArgs(x, weights, bias, out, w);
    const xp = live(x, "x").ptr;
    const wp = live(weights, "weights").ptr;
    const bp = bias === undefined ? 0 : live(bias, "bias").ptr;
    live(out, "out");
    const count = out.rows * out.cols;
    if (count === 0) return out;
    // out may be the weights or the bias when the shapes happen to agree, or share memory with
    // x through a view (out === x itself is refused by the check).
    const direct = !overlaps(out, x) && !overlaps(out, weights) && !overlaps(out, bias);
    const bytes = ex.depthwiseScratchBytes(w.kernel, w.stride, w.outHeight, w.outWidth);
    return runInto(out, count, direct, bytes, (yp, scratch) =>
      ex.depthwise(
        x.rows,
        w.batch,
        w.height,
        w.width,
        w.kernel,
        w.stride,
        w.padTop,
        w.padLeft,
        w.outHeight,
        w.outWidth,
        xp,
        wp,
        bp,
        yp,
        w.min,
        w.max,
        scratch,
      ));
  }

  function conv2d(
    x: Tensor,
    weights: Tensor,
    bias: Tensor | undefined,
    out: Tensor,
    w: Window,
  ): Tensor {
    const cin = checkConv2dArgs(x, weights, bias, out, w);
    const xp = live(x, "x").ptr;
    const wp = live(weights, "weights").ptr;
    const bp = bias === undefined ? 0 : live(bias, "bias").ptr;
    live(out, "out");
    const cout = weights.rows;
    const count = out.rows * out.cols;
    if (count === 0) return out;
    const direct = !overlaps(out, x) && !overlaps(out, weights) && !overlaps(out, bias);
    const bytes = ex.conv2dScratchBytes(cout, cin, w.batch, w.outHeight, w.outWidth);
    return runInto(out, count, direct, bytes, (yp, scratch) =>
      ex.conv2d(
        cout,
        cin,
        w.batch,
        w.height,
        w.width,
        w.stride,
        w.padTop,
        w.padLeft,
        w.outHeight,
        w.outWidth,
        xp,
        wp,
        bp,
        yp,
        w.min,
        w.max,
        scratch,
      ));
  }

  function globalAvgPool(x: Tensor, out: Tensor, batch: number): Tensor {
    const pixels = checkPoolArgs(x, out, batch);
    const xp = live(x, "x").ptr;
    const yb = live(out, "out");
    const count = x.rows * batch;
    if (count === 0) return out;
    if (pixels === 0) {
      // Images of no pixels average to 0; nothing for the kernel to do.
      arena.f32(yb, count).fill(0);
      return out;
    }
    return runInto(
      out,
      count,
      !overlaps(out, x),
      0,
      (yp) => ex.globalAvgPool(count, pixels, xp, yp),
    );
  }

  function add(a: Tensor, b: Tensor, out: Tensor, min: number, max: number): Tensor {
    checkAddArgs(a, b, out, min, max);
    const ap = live(a, "a").ptr;
    const bp = live(b, "b").ptr;
    const yp = live(out, "out").ptr;
    const n = a.rows * a.cols;
    // Elementwise, each element read before it is written: out may be a or b.
    if (n > 0) ex.add(n, ap, bp, yp, min, max);
    return out;
  }

  const backend: Backend = {
    flavour,
    upload(d: Dense): Tensor {
      checkDense("d", d);
      // Every element is written from d.data (checkDense: rows * cols of them).
      const t = makeTensor(d.rows, d.cols, false);
      arena.f32(tensors.get(t)!, d.data.length).set(d.data);
      return t;
    },
    alloc: (rows, cols) => makeTensor(rows, cols),
    prepare(plan: Conv1x1Plan): PreparedPlan {
      checkPlan(plan);
      // Increments are written when the plan first runs, for its row length.
      const sections = upload(plan, plan.sections.map(() => 0));
      let disposed = false;
      const handle: PreparedPlan = {
        plan,
        flavour,
        backend,
        get disposed() {
          return disposed;
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          registry.unregister(handle);
          release(sections);
        },
        [Symbol.dispose]() {
          handle.dispose();
        },
      };
      prepared.set(handle, sections);
      registry.register(handle, () => release(sections), handle);
      return handle;
    },
    conv1x1,
    spmm(a: Csr, b: Dense, out?: Dense): Dense {
      checkCsr("a", a);
      checkDense("b", b);
      if (a.cols !== b.rows) {
        throw new ShapeError(
          { argument: "b.rows", value: b.rows },
          `must equal a.cols = ${a.cols}`,
        );
      }
      return conv1x1(packConv1x1(a), b, out);
    },
    gemm,
    depthwise,
    conv2d,
    globalAvgPool,
    add,
  };
  Object.defineProperty(backend, TENSOR_VIEW, { value: view });
  return Object.freeze(backend);
}
