/**
 * The browser side of tests/browser_test.ts, bundled with `deno bundle --platform browser`
 * and loaded by tests/browser/index.html: acquires a WebGPU device with `requestGpu()`, runs
 * each GPU kernel on seeded data, computes the same on the CPU in the page (the f64 reference
 * and the WebAssembly backend from `init()`, loaded over HTTP from `/wasm/`), checks the GPU
 * result within the f32 bound of `productBound` / `assertWithinBound`, and publishes a
 * {@link BrowserReport} as `globalThis.__sparsekitBrowser` for the test to read.
 *
 * Not a test file itself (no `_test` suffix): it only runs in the page. It needs no DOM
 * types, only WebGPU's, which Deno's own library declares too.
 * @module
 */
import {
  type Backend,
  csrFromDense,
  csrToDense,
  type Dense,
  dense,
  init,
  packConv1x1,
  pruneBlocks,
  pruneMagnitude,
  referenceConv1x1,
  referenceDepthwise,
  referenceGemm,
  resolveWindow,
  seededRandom,
  type Window,
} from "../../mod.ts";
import { type Gpu, requestGpu } from "../../gpu/mod.ts";
import { assertWithinBound, productBound } from "../../testing.ts";

/** One kernel's outcome in the page. */
export interface KernelResult {
  /** Which kernel, and the case. */
  readonly name: string;
  /** Whether the GPU result is within the bound of the reference and of the CPU backend. */
  readonly pass: boolean;
  /** Largest |GPU - reference| over the output (NaN where the kernel threw). */
  readonly maxError: number;
  /** Largest |GPU - reference| / tolerance: at most 1 when it passes. */
  readonly maxRatio: number;
  /** Output elements compared. */
  readonly elements: number;
  /** The error message, where it failed. */
  readonly error?: string;
}

/** What the page hands to the test. */
export interface BrowserReport {
  /** `"done"`, or `"error"` when nothing could run (no adapter, no device, a load failure). */
  readonly status: "done" | "error";
  /** The adapter, as `requestGpu()` saw it. */
  readonly adapter?: {
    readonly vendor: string;
    readonly architecture: string;
    readonly device: string;
    readonly description: string;
    readonly isFallbackAdapter: boolean;
  };
  /** The CPU backend the page compared with (`init()`'s flavour). */
  readonly cpu?: string;
  /** One entry per kernel. */
  readonly kernels: readonly KernelResult[];
  /** What stopped the page, when status is `"error"`. */
  readonly error?: string;
}

declare global {
  var __sparsekitBrowser: BrowserReport | undefined;
}

/** A `[rows x cols]` matrix of seeded values in [-2, 2). */
function matrix(rows: number, cols: number, seed: number): Dense {
  const rand = seededRandom(seed);
  return dense(rows, cols, Array.from({ length: rows * cols }, () => rand() * 4 - 2));
}

const abs = (d: Dense) => dense(d.rows, d.cols, d.data.map(Math.abs));

function message(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Checks `got` against the reference (within `terms` products' bound) and against the CPU
 * backend (within twice that, as the GPU tests do), and measures the largest error.
 */
function judge(
  name: string,
  got: Dense,
  want: Dense,
  cpu: Dense,
  bound: Dense,
  terms: number,
): KernelResult {
  let maxError = 0, maxRatio = 0;
  const k = (terms + 2) * 2 ** -23;
  for (let i = 0; i < want.data.length; i++) {
    const d = Math.abs(got.data[i] - want.data[i]);
    maxError = Math.max(maxError, d);
    maxRatio = Math.max(maxRatio, d / (k * bound.data[i] + 2 ** -120));
  }
  const elements = want.data.length;
  try {
    assertWithinBound(got, want, bound, terms);
    assertWithinBound(got, cpu, bound, 2 * terms + 2);
    return { name, pass: true, maxError, maxRatio, elements };
  } catch (e) {
    return { name, pass: false, maxError, maxRatio, elements, error: message(e) };
  }
}

/** Runs one kernel case, turning a throw into a failed result. */
async function attempt(name: string, run: () => Promise<KernelResult>): Promise<KernelResult> {
  try {
    return await run();
  } catch (e) {
    return { name, pass: false, maxError: NaN, maxRatio: NaN, elements: 0, error: message(e) };
  }
}

/** upload and read back, bit for bit (a width that is not a multiple of 4 pads every row). */
async function roundTrip(gpu: Gpu): Promise<KernelResult> {
  const x = matrix(7, 13, 1);
  using t = gpu.upload(x);
  const back = await t.read();
  const same = back.rows === x.rows && back.cols === x.cols &&
    back.data.every((v, i) => Object.is(v, x.data[i]));
  return {
    name: "upload/read round trip 7x13",
    pass: same,
    maxError: same ? 0 : NaN,
    maxRatio: 0,
    elements: x.data.length,
    ...(same ? {} : { error: "read() differs from what was uploaded" }),
  };
}

async function spmmCase(gpu: Gpu, cpu: Backend): Promise<KernelResult> {
  const m = 37, k = 53, n = 70;
  const a = csrFromDense(pruneMagnitude(matrix(m, k, 2), 0.8));
  const b = matrix(k, n, 3);
  using ag = gpu.uploadCsr(a);
  using bt = gpu.upload(b);
  using ct = gpu.alloc(m, n);
  const got = await gpu.spmm(ag, bt, ct).read();
  const ad = csrToDense(a);
  return judge(
    `spmm ${m}x${k} (80% sparse) x ${k}x${n}`,
    got,
    referenceGemm(ad, b),
    cpu.spmm(a, b),
    productBound(ad, b),
    k,
  );
}

async function conv1x1Case(gpu: Gpu, cpu: Backend, blockSize: 1 | 4): Promise<KernelResult> {
  const cout = 34, cin = 48, pixels = 14 * 14;
  const dense0 = matrix(cout, cin, 10 + blockSize);
  const w = blockSize === 4 ? pruneBlocks(dense0, 0.8, { block: 4 }) : pruneMagnitude(dense0, 0.9);
  const x = matrix(cin, pixels, 20 + blockSize);
  const bias = Array.from(matrix(1, cout, 30 + blockSize).data);
  const min = 0, max = 6;
  const plan = packConv1x1(w, { bias, min, max, blockSize });
  using gp = gpu.prepare(plan);
  using xt = gpu.upload(x);
  using yt = gpu.alloc(cout, pixels);
  const got = await gpu.conv1x1(gp, xt, yt).read();
  using cp = cpu.prepare(plan);
  const label = blockSize === 4 ? "1x4 blocks, 80% sparse" : "unstructured, 90% sparse";
  return judge(
    `conv1x1 ${cout}x${cin} (${label}), ${pixels} pixels, bias, ReLU6`,
    got,
    referenceConv1x1(w, x, { bias, min, max }),
    cpu.conv1x1(cp, x),
    productBound(w, x, bias),
    cin,
  );
}

async function gemmCase(gpu: Gpu, cpu: Backend): Promise<KernelResult> {
  const m = 45, k = 67, n = 83;
  const a = matrix(m, k, 40), b = matrix(k, n, 41);
  const bias = Array.from(matrix(1, m, 42).data);
  using at = gpu.upload(a);
  using bt = gpu.upload(b);
  using out = gpu.alloc(m, n);
  const got = await gpu.gemm(at, bt, { out, bias, min: -1 }).read();
  return judge(
    `gemm ${m}x${k} x ${k}x${n}, bias, min -1`,
    got,
    referenceGemm(a, b, { bias, min: -1 }),
    cpu.gemm(a, b, { bias, min: -1 }),
    productBound(a, b, bias),
    k,
  );
}

async function depthwiseCase(
  gpu: Gpu,
  cpu: Backend,
  kernel: 3 | 5,
  stride: 1 | 2,
): Promise<KernelResult> {
  const channels = 12, height = 17, width = 19;
  const window: Window = resolveWindow(kernel, { height, width, stride, min: 0, max: 6 });
  const x = matrix(channels, height * width, 50 + kernel);
  const w = matrix(channels, kernel * kernel, 60 + kernel);
  const bias = Array.from(matrix(1, channels, 70 + kernel).data);
  const column = dense(channels, 1, bias);
  const outCols = window.outHeight * window.outWidth;
  using xt = gpu.upload(x);
  using wt = gpu.upload(w);
  using bt = gpu.upload(column);
  using out = gpu.alloc(channels, outCols);
  const got = await gpu.depthwise(xt, wt, bt, out, window).read();
  using xc = cpu.upload(x);
  using wc = cpu.upload(w);
  using bc = cpu.upload(column);
  using oc = cpu.alloc(channels, outCols);
  const onCpu = cpu.depthwise(xc, wc, bc, oc, window).read();
  const unclamped: Window = { ...window, min: -Infinity, max: Infinity };
  return judge(
    `depthwise ${kernel}x${kernel} stride ${stride}, ${channels} channels ${height}x${width}, ` +
      `"same", bias, ReLU6`,
    got,
    referenceDepthwise(x, w, bias, window),
    onCpu,
    referenceDepthwise(abs(x), abs(w), bias.map(Math.abs), unclamped),
    kernel * kernel,
  );
}

async function main(): Promise<BrowserReport> {
  let gpu: Gpu;
  try {
    gpu = await requestGpu();
  } catch (e) {
    return { status: "error", kernels: [], error: `requestGpu(): ${message(e)}` };
  }
  try {
    const cpu = await init({ baseUrl: new URL("/wasm/", location.href) });
    const { vendor, architecture, device, description, isFallbackAdapter } = gpu.adapter;
    const kernels = [
      await attempt("upload/read round trip", () => roundTrip(gpu)),
      await attempt("spmm", () => spmmCase(gpu, cpu)),
      await attempt("conv1x1 1x4 blocks", () => conv1x1Case(gpu, cpu, 4)),
      await attempt("conv1x1 unstructured", () => conv1x1Case(gpu, cpu, 1)),
      await attempt("gemm", () => gemmCase(gpu, cpu)),
      await attempt("depthwise 3x3", () => depthwiseCase(gpu, cpu, 3, 1)),
      await attempt("depthwise 5x5 stride 2", () => depthwiseCase(gpu, cpu, 5, 2)),
    ];
    return {
      status: "done",
      adapter: { vendor, architecture, device, description, isFallbackAdapter },
      cpu: cpu.flavour,
      kernels,
    };
  } catch (e) {
    return { status: "error", kernels: [], error: message(e) };
  } finally {
    gpu.dispose();
  }
}

main().then(
  (report) => globalThis.__sparsekitBrowser = report,
  (e) => globalThis.__sparsekitBrowser = { status: "error", kernels: [], error: message(e) },
);
