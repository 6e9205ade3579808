// Roofline of this host as WebAssembly sees it: peak f32x4 multiply-add throughput and streaming
// read bandwidth (DRAM-sized and L2-sized buffers), measured with as/build/probe.<flavour>.wasm.
import { measure, type Measurement } from "./layers.ts";

/** Flavours the probe is built in (the scalar flavour has no probe). */
export type ProbeFlavour = "relaxed" | "simd";

/** The exports of as/probe.ts. */
export interface ProbeExports {
  /** The module's memory (grown by {@link measureRoofline} for the bandwidth buffers). */
  readonly memory: WebAssembly.Memory;
  /** First byte the host may use. */
  heapBase(): number;
  /** Runs `iters` iterations of the multiply-add loop; returns a sum so it cannot be dropped. */
  fmaPeak(iters: number): number;
  /** f32x4 multiply-adds per iteration of {@link ProbeExports.fmaPeak}. */
  fmaPerIter(): number;
  /** Sums `bytes` bytes at `ptr`, `reps` times. */
  streamRead(ptr: number, bytes: number, reps: number): number;
}

/** One bandwidth measurement. */
export interface Bandwidth {
  /** Buffer size in bytes. */
  readonly bytes: number;
  /** Median read bandwidth in GB/s (1e9 bytes per second). */
  readonly gbs: number;
  /** Best sample, GB/s. */
  readonly bestGbs: number;
}

/** The roofline of one flavour. */
export interface Roofline {
  /** The probe flavour. */
  readonly flavour: ProbeFlavour;
  /** Median peak multiply-add throughput, GFLOP/s (a multiply-add on 4 lanes is 8 flops). */
  readonly peakGflops: number;
  /** Best sample of the peak, GFLOP/s. */
  readonly bestPeakGflops: number;
  /** Streaming reads from a buffer far larger than the last-level cache. */
  readonly dram: Bandwidth;
  /** Streaming reads from a buffer that fits in L2 (half its size). */
  readonly l2: Bandwidth;
  /** Raw timing of the peak loop. */
  readonly fmaTiming: Measurement;
}

/** Options of {@link measureRoofline}. */
export interface RooflineOptions {
  /** Fewer samples (CI smoke runs). */
  readonly quick?: boolean;
  /** Bytes of the large buffer (default 64 MiB). */
  readonly dramBytes?: number;
  /** Bytes of the L2-sized buffer (default half of this host's L2, else 512 KiB). */
  readonly l2Bytes?: number;
}

/**
 * Loads and instantiates the probe module of a flavour from as/build/.
 *
 * @param flavour `"relaxed"` or `"simd"`
 * @returns the probe's exports
 * @throws when the file is missing or the host cannot compile it
 */
export async function loadProbe(flavour: ProbeFlavour): Promise<ProbeExports> {
  const url = new URL(`../as/build/probe.${flavour}.wasm`, import.meta.url);
  const { instance } = await WebAssembly.instantiate(await Deno.readFile(url), {});
  const ex = instance.exports as unknown as ProbeExports & { _initialize?: () => void };
  ex._initialize?.();
  return ex;
}

/**
 * The size of this host's L2 data cache (per core) in bytes, from Linux sysfs, or undefined
 * where it cannot be read.
 */
export function l2CacheBytes(): number | undefined {
  try {
    for (let i = 0; i < 8; i++) {
      const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}`;
      const level = Deno.readTextFileSync(`${dir}/level`).trim();
      const type = Deno.readTextFileSync(`${dir}/type`).trim();
      if (level !== "2" || type === "Instruction") continue;
      const m = /^(\d+)([KMG]?)/.exec(Deno.readTextFileSync(`${dir}/size`).trim());
      if (m === null) return undefined;
      return Number(m[1]) * ({ "": 1, K: 1024, M: 1 << 20, G: 1 << 30 }[m[2]] ?? 1);
    }
  } catch {
    // not Linux, or not readable: fall back to the default
  }
  return undefined;
}

/** Grows the probe's memory to hold `bytes` after its heap, 64-byte aligned; returns the pointer. */
function reserve(ex: ProbeExports, bytes: number): number {
  const ptr = (ex.heapBase() + 63) & ~63;
  const need = ptr + bytes;
  const have = ex.memory.buffer.byteLength;
  if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
  // Touch every page: fresh pages map to the shared zero page and would read unrealistically fast.
  new Float32Array(ex.memory.buffer, ptr, bytes / 4).fill(1);
  return ptr;
}

function bandwidth(ex: ProbeExports, bytes: number, quick: boolean): Bandwidth {
  const ptr = reserve(ex, bytes);
  // At least ~32 MiB read per call, so a call lasts milliseconds.
  const reps = Math.max(1, Math.round((32 << 20) / bytes));
  const m = measure(() => ex.streamRead(ptr, bytes, reps), {
    warmupMs: quick ? 30 : 150,
    minSampleMs: 5,
    minSamples: quick ? 5 : 9,
    budgetMs: quick ? 100 : 600,
  });
  const moved = (bytes & ~63) * reps;
  return { bytes, gbs: moved / m.median / 1e9, bestGbs: moved / m.min / 1e9 };
}

/**
 * Measures the roofline of one flavour: the multiply-add loop of the probe for the peak, and
 * streaming reads over a large buffer (default 64 MiB) and an L2-sized one.
 *
 * @param flavour the probe flavour (the kernels' flavour of the same name uses the same
 *   instructions)
 * @param options `quick`, buffer sizes
 * @returns the peak in GFLOP/s and the bandwidths in GB/s, medians and best samples
 */
export async function measureRoofline(
  flavour: ProbeFlavour,
  options: RooflineOptions = {},
): Promise<Roofline> {
  const quick = options.quick ?? false;
  const ex = await loadProbe(flavour);
  const iters = 1 << 18;
  const flopsPerCall = iters * ex.fmaPerIter() * 8;
  const fmaTiming = measure(() => ex.fmaPeak(iters), {
    warmupMs: quick ? 50 : 200,
    minSampleMs: 2,
    minSamples: quick ? 7 : 21,
    budgetMs: quick ? 100 : 800,
  });
  const dramBytes = options.dramBytes ?? 64 << 20;
  const l2Bytes = options.l2Bytes ?? Math.max(64 << 10, (l2CacheBytes() ?? 1 << 20) / 2);
  const l2 = bandwidth(ex, l2Bytes, quick);
  const dram = bandwidth(ex, dramBytes, quick);
  return {
    flavour,
    peakGflops: flopsPerCall / fmaTiming.median / 1e9,
    bestPeakGflops: flopsPerCall / fmaTiming.min / 1e9,
    dram,
    l2,
    fmaTiming,
  };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  for (const f of ["relaxed", "simd"] as const) {
    const r = await measureRoofline(f, { quick });
    console.log(
      `${f.padEnd(8)} peak ${r.peakGflops.toFixed(1)} GFLOP/s (best ${
        r.bestPeakGflops.toFixed(1)
      }), DRAM ${r.dram.gbs.toFixed(1)} GB/s (${r.dram.bytes >> 20} MiB), L2 ${
        r.l2.gbs.toFixed(1)
      } GB/s (${r.l2.bytes >> 10} KiB)`,
    );
  }
}
