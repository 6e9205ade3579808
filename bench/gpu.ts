// GPU benchmarks: the nine MobileNet v1 1x1 layers of the CPU suite on the GPU, sparse at
// 70/80/90/95% unstructured and 90% in 1x4 blocks against the GPU's tiled dense GEMM, and
// MobileNet v1/v2 at 224 end to end (dense, 90%, 90% in 1x4 blocks), timed with GPU timestamp
// queries where the adapter has them and wall-clock otherwise. The adapter is printed and
// saved: on a software adapter (llvmpipe/lavapipe, isFallbackAdapter) the figures say nothing
// about GPUs, only that the kernels run.
//
// Usage: deno task bench:gpu [--quick] [--no-networks]
//   writes bench/results/gpu-<date>-<host>.json, gpu-latest.json and docs/performance-gpu.md;
//   deno task bench:gpu --render [results.json] re-renders the page from a results file.
import { mobileNetV1, mobileNetV2 } from "../mod.ts";
import { compileGpuNetwork, type Dispatch, type Gpu, requestGpu } from "../gpu/mod.ts";
import {
  CONFIGS,
  denseFlops,
  geomean,
  type Layer,
  layerBias,
  layerInput,
  layerPlan,
  LAYERS,
  layerWeights,
  quantile,
} from "./layers.ts";
import { image, VARIANTS, variantWeights } from "./network.ts";
import { formatMarkdown } from "./report.ts";

/** One kernel on one layer: median GPU time and the dense-equivalent rate. */
export interface GpuLayerResult {
  readonly layer: string;
  readonly kernel: "gemm" | string;
  readonly medianMs: number;
  readonly denseGflops: number;
  readonly samples: number;
}

/** One network variant end to end. */
export interface GpuNetworkResult {
  readonly network: string;
  readonly variant: string;
  /** Median wall-clock of `run(image)`: upload, one submission, readback. */
  readonly runMs: number;
  /** Median of the summed per-layer GPU times (timestamps or wall-clock). */
  readonly gpuMs: number;
}

/** What bench/gpu.ts saves. */
export interface GpuResults {
  readonly date: string;
  readonly adapter: Gpu["adapter"];
  readonly timing: "timestamp" | "wall-clock";
  readonly deno: string;
  readonly layers: GpuLayerResult[];
  readonly networks: GpuNetworkResult[];
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);

/** Times `dispatches` `reps` times, each in its own pass; returns the per-pass times. */
async function timeReps(gpu: Gpu, dispatches: readonly Dispatch[], reps: number) {
  await gpu.context.time([dispatches]); // warm-up: pipelines, first touch
  return await gpu.context.time(Array.from({ length: reps }, () => dispatches));
}

async function benchLayer(gpu: Gpu, l: Layer, reps: number): Promise<GpuLayerResult[]> {
  const results: GpuLayerResult[] = [];
  using x = gpu.upload(layerInput(l));
  using y = gpu.alloc(l.cout, l.pixels);
  using w = gpu.upload(layerWeights(l));
  const flops = denseFlops(l);
  const record = (kernel: string, ms: number[]) => {
    const m = median(ms);
    results.push({
      layer: l.name,
      kernel,
      medianMs: m,
      denseGflops: flops / (m * 1e6),
      samples: ms.length,
    });
  };
  const gemm = gpu.encode.gemm(w, x, { bias: layerBias(l), min: 0, max: 6, out: y });
  try {
    record("gemm", (await timeReps(gpu, gemm, reps)).ms);
  } finally {
    gpu.context.release(gemm);
  }
  for (const c of CONFIGS) {
    using plan = gpu.prepare(layerPlan(l, c));
    const d = gpu.encode.conv1x1(plan, x, y);
    try {
      record(c.id, (await timeReps(gpu, d, reps)).ms);
    } finally {
      gpu.context.release(d);
    }
  }
  return results;
}

async function benchNetworks(gpu: Gpu, runs: number): Promise<GpuNetworkResult[]> {
  const out: GpuNetworkResult[] = [];
  for (
    const [network, make] of [["MobileNet v1", mobileNetV1], ["MobileNet v2", mobileNetV2]] as const
  ) {
    const spec = make();
    const input = image(spec);
    for (const v of VARIANTS) {
      using net = compileGpuNetwork(gpu, spec, variantWeights(spec, v), { mode: v.mode });
      await net.run(input);
      const wall: number[] = [], gpuMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await net.run(input);
        wall.push(performance.now() - t0);
        const { layers } = await net.profile(input);
        gpuMs.push(layers.reduce((s, l) => s + l.ms, 0));
      }
      const r = { network, variant: v.id, runMs: median(wall), gpuMs: median(gpuMs) };
      console.log(
        `  ${network} ${v.id}: run ${r.runMs.toFixed(2)} ms, GPU ${r.gpuMs.toFixed(2)} ms`,
      );
      out.push(r);
    }
  }
  return out;
}

/** The markdown page of a GPU results file. */
export function renderGpuReport(r: GpuResults, source: string): string {
  const a = r.adapter;
  const lines = [
    "# GPU performance report",
    "",
    `Generated from \`${source}\` by \`deno task bench:gpu\` on ${r.date}.`,
    "",
    `**Adapter: ${a.description || a.vendor || "unknown"}** (vendor ${a.vendor || "-"}, ` +
    `fallback adapter: ${a.isFallbackAdapter ? "yes" : "no"}), timing from ${
      r.timing === "timestamp" ? "GPU timestamp queries" : "wall-clock per submission"
    }, Deno ${r.deno}.`,
    "",
  ];
  if (a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(a.description)) {
    lines.push(
      "> This ran on a **software adapter** (the CPU emulating a GPU). These figures say that the " +
        "kernels run and how they compare with each other on this emulation; they say nothing " +
        "about the speed of any GPU. Run `deno task bench:gpu` on a machine with a GPU for that.",
      "",
    );
  }
  const kernels = ["gemm", ...CONFIGS.map((c) => c.id)];
  lines.push(
    "## MobileNet v1 1x1 layers (median GPU ms; speed-up over the GPU dense GEMM)",
    "",
    `| layer | ${kernels.join(" | ")} |`,
    `|---|${kernels.map(() => "---:").join("|")}|`,
  );
  const at = (layer: string, k: string) =>
    r.layers.find((x) => x.layer === layer && x.kernel === k);
  for (const l of LAYERS) {
    const g = at(l.name, "gemm");
    if (g === undefined) continue;
    const cells = kernels.map((k) => {
      const x = at(l.name, k)!;
      return k === "gemm"
        ? x.medianMs.toFixed(3)
        : `${x.medianMs.toFixed(3)} (${(g.medianMs / x.medianMs).toFixed(2)}x)`;
    });
    lines.push(`| ${l.name} | ${cells.join(" | ")} |`);
  }
  const gm = kernels.map((k) => {
    const ratios = LAYERS.flatMap((l) => {
      const g = at(l.name, "gemm"), x = at(l.name, k);
      return g && x ? [g.medianMs / x.medianMs] : [];
    });
    return ratios.length ? `${geomean(ratios).toFixed(2)}x` : "-";
  });
  lines.push(`| geomean speed-up | ${gm.join(" | ")} |`, "");
  if (r.networks.length > 0) {
    lines.push(
      "## End to end, 224x224, one image",
      "",
      "| network | variant | run (upload, submit, readback) ms | sum of layer GPU times ms |",
      "|---|---|---:|---:|",
      ...r.networks.map((n) =>
        `| ${n.network} | ${n.variant} | ${n.runMs.toFixed(2)} | ${n.gpuMs.toFixed(2)} |`
      ),
      "",
    );
  }
  lines.push(
    "Reproduce: `deno task bench:gpu` (`--quick` for fewer repetitions, `--no-networks` for the " +
      "layers only).",
    "",
  );
  return formatMarkdown(lines.join("\n"));
}

async function writeGpuReport(r: GpuResults, source: string): Promise<void> {
  await Deno.writeTextFile(
    new URL("../docs/performance-gpu.md", import.meta.url),
    renderGpuReport(r, source),
  );
}

if (import.meta.main && Deno.args[0] === "--render") {
  const source = Deno.args[1] ?? "bench/results/gpu-latest.json";
  await writeGpuReport(JSON.parse(await Deno.readTextFile(source)), source);
  console.log("wrote docs/performance-gpu.md");
} else if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const gpu = await requestGpu();
  const a = gpu.adapter;
  console.log(
    `adapter: ${a.description || a.vendor} (fallback: ${a.isFallbackAdapter}; timing: ${
      a.timestamps ? "timestamp queries" : "wall-clock"
    })`,
  );
  if (a.isFallbackAdapter) {
    console.log("  a software adapter: these timings say nothing about GPU speed");
  }
  const layers: GpuLayerResult[] = [];
  for (const l of LAYERS) {
    const rs = await benchLayer(gpu, l, quick ? 5 : 21);
    const g = rs[0].medianMs;
    console.log(
      `  ${l.name}: ` + rs.map((x) =>
        `${x.kernel} ${x.medianMs.toFixed(3)} ms` +
        (x.kernel === "gemm" ? "" : ` (${(g / x.medianMs).toFixed(2)}x)`)
      ).join(", "),
    );
    layers.push(...rs);
  }
  const networks = Deno.args.includes("--no-networks")
    ? []
    : await benchNetworks(gpu, quick ? 3 : 11);
  const date = new Date().toISOString().slice(0, 10);
  const results: GpuResults = {
    date,
    adapter: a,
    timing: a.timestamps ? "timestamp" : "wall-clock",
    deno: Deno.version.deno,
    layers,
    networks,
  };
  gpu.dispose();
  const dir = new URL("./results/", import.meta.url);
  const host = (Deno.hostname?.() ?? "host").replace(/[^\w.-]/g, "_");
  const file = `gpu-${date}-${host}.json`;
  const json = JSON.stringify(results, null, 2) + "\n";
  await Deno.writeTextFile(new URL(file, dir), json);
  await Deno.writeTextFile(new URL("gpu-latest.json", dir), json);
  await writeGpuReport(results, `bench/results/${file}`);
  console.log(`wrote bench/results/${file}, gpu-latest.json and docs/performance-gpu.md`);
}
