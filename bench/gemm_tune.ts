/**
 * Tuning harness for the wasm dense GEMM: instantiates the built kernel and probe modules
 * directly, and prints per MobileNet v1 1x1-convolution shape the median GFLOP/s of `gemm`
 * (2 m k n / t) next to the probe's f32x4 multiply-add peak measured in the same samples
 * (interleaved, so machine noise hits both), and the fraction of peak.
 *
 * Usage: deno run -A bench/gemm_tune.ts [--flavour relaxed|simd|scalar|all] [--samples N]
 *        [--dir as/build] [--shape m,k,n]...
 * @module
 */
import type { Exports } from "../kernels/wasm.ts";

type Kernel = Pick<Exports, "memory" | "heapBase" | "gemm" | "gemmScratchBytes">;

interface Probe {
  fmaPeak(iters: number): number;
  fmaPerIter(): number;
}

/** MobileNet v1 1x1 convolutions at 224x224: (Cout, Cin, H*W). */
export const MOBILENET_SHAPES: [number, number, number][] = [
  [64, 32, 12544],
  [128, 64, 3136],
  [128, 128, 3136],
  [256, 128, 784],
  [256, 256, 784],
  [512, 256, 196],
  [512, 512, 196],
  [1024, 512, 49],
  [1024, 1024, 49],
];

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

async function instantiate<T>(path: string): Promise<T> {
  const { instance } = await WebAssembly.instantiate(await Deno.readFile(path), {});
  const ex = instance.exports as unknown as T & { _initialize?: () => void };
  ex._initialize?.();
  return ex;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

const dir = arg("--dir", "as/build");
const which = arg("--flavour", "all");
const samples = Number(arg("--samples", "15"));
const repeat = Number(arg("--repeat", "1"));
const [clampLo, clampHi] = arg("--clamp", "0,6").split(",").map(Number);
const flavours = which === "all" ? ["relaxed", "simd"] : [which];
const shapes: [number, number, number][] = [];
Deno.args.forEach((a, i) => {
  if (a === "--shape") {
    shapes.push(Deno.args[i + 1].split(",").map(Number) as [number, number, number]);
  }
});
if (shapes.length === 0) shapes.push(...MOBILENET_SHAPES);

for (const flavour of flavours) {
  const ex = await instantiate<Kernel>(`${dir}/sparsekit.${flavour}.wasm`);
  // The scalar flavour has no probe of its own: compare it with the SIMD peak.
  const probe = await instantiate<Probe>(
    `${dir}/probe.${flavour === "scalar" ? "simd" : flavour}.wasm`,
  );
  const probeIters = 1_000_000;
  const probeFlop = probeIters * probe.fmaPerIter() * 8;
  for (let i = 0; i < 30; i++) probe.fmaPeak(probeIters); // tier up
  const rounds = repeat > 1 ? ` (best of ${repeat} rounds of ${samples} samples)` : "";
  console.log(`\n${flavour}: shape (m,k,n)        GFLOP/s   peak    fraction${rounds}`);
  const fractions: number[] = [];
  for (const [m, k, n] of shapes) {
    const align = (x: number) => (x + 63) & ~63;
    const pa = align(ex.heapBase());
    const pb = align(pa + 4 * m * k);
    const pbias = align(pb + 4 * k * n);
    const pc = align(pbias + 4 * m);
    const ps = align(pc + 4 * m * n);
    const end = ps + ex.gemmScratchBytes(m, k, n);
    const have = ex.memory.buffer.byteLength;
    if (end > have) ex.memory.grow(Math.ceil((end - have) / 65536));
    const f32 = new Float32Array(ex.memory.buffer);
    for (let i = 0; i < m * k; i++) f32[pa / 4 + i] = Math.random() - 0.5;
    for (let i = 0; i < k * n; i++) f32[pb / 4 + i] = Math.random() - 0.5;
    for (let i = 0; i < m; i++) f32[pbias / 4 + i] = Math.random() - 0.5;
    const run = () => ex.gemm(m, k, n, pa, pb, pbias, pc, clampLo, clampHi, ps);
    const flop = 2 * m * k * n;
    // Warm up (Liftoff -> TurboFan) and size a sample to about 20 ms.
    let t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < 300) {
      run();
      calls++;
    }
    const perSample = Math.max(1, Math.round(calls * 20 / (performance.now() - t0)));
    let g = 0;
    let p = 1;
    for (let round = 0; round < repeat; round++) {
      const gemmRates: number[] = [];
      const peakRates: number[] = [];
      for (let s = 0; s < samples; s++) {
        t0 = performance.now();
        for (let i = 0; i < perSample; i++) run();
        gemmRates.push(flop * perSample / ((performance.now() - t0) * 1e6));
        t0 = performance.now();
        probe.fmaPeak(probeIters);
        peakRates.push(probeFlop / ((performance.now() - t0) * 1e6));
      }
      const gr = median(gemmRates);
      const pr = median(peakRates);
      if (gr / pr > g / p) {
        g = gr;
        p = pr;
      }
    }
    fractions.push(g / p);
    console.log(
      `${flavour}: (${m},${k},${n})`.padEnd(30) +
        `${g.toFixed(1).padStart(7)} ${p.toFixed(1).padStart(7)}  ${
          (100 * g / p).toFixed(1).padStart(6)
        }%`,
    );
  }
  const mean = fractions.reduce((x, y) => x + y, 0) / fractions.length;
  console.log(
    `${flavour}: mean fraction of peak ${(100 * mean).toFixed(1)}%, min ${
      (100 * Math.min(...fractions)).toFixed(1)
    }%`,
  );
}
