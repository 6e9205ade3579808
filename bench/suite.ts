// The saved benchmark suite (deno task bench): roofline probe, then every MobileNet v1 1x1 layer
// and configuration per flavour, timed with benny, saved to bench/results/ and rendered.
//
// Usage: deno task bench [--quick] [--flavour relaxed,simd,scalar] [--no-report]
import { add, configure, cycle, suite } from "benny";
import os from "node:os";
import { type Backend, init, supportedFlavours } from "../mod.ts";
import {
  config,
  CONFIGS,
  geomean,
  LAYERS,
  setupLayer,
  type SparseConfig,
  warmUp,
  type Workload,
} from "./layers.ts";
import {
  type BenchFlavour,
  type BenchResults,
  type GeomeanRow,
  type HostInfo,
  renderReport,
  type ResultRow,
  type SavedRoofline,
  type TargetResult,
  writeReport,
} from "./report.ts";
import { measureRoofline } from "./roofline.ts";

const ALL: readonly BenchFlavour[] = ["relaxed", "simd", "scalar"];

/** Parsed command line of the suite. */
export interface SuiteArgs {
  /** Fewer samples, results to a *.tmp.json, page not written. */
  readonly quick: boolean;
  /** Flavours to measure (default: every one this host supports). */
  readonly flavours: readonly BenchFlavour[];
  /** Skip rendering the report. */
  readonly noReport: boolean;
}

/**
 * Parses `--quick`, `--flavour a,b` (or `--flavour=a,b`, repeatable) and `--no-report`.
 *
 * @param args the command-line arguments
 * @returns the options
 * @throws {RangeError} on an unknown option or flavour
 */
export function parseArgs(args: readonly string[]): SuiteArgs {
  let quick = false, noReport = false;
  const flavours: BenchFlavour[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") quick = true;
    else if (a === "--no-report") noReport = true;
    else if (a === "--flavour" || a.startsWith("--flavour=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      for (const f of (v ?? "").split(",").filter((s) => s !== "")) {
        if (!ALL.includes(f as BenchFlavour)) {
          throw new RangeError(`--flavour: expected some of ${ALL.join(", ")}, got ${f}`);
        }
        if (!flavours.includes(f as BenchFlavour)) flavours.push(f as BenchFlavour);
      }
    } else throw new RangeError(`unknown option ${a} (try --quick, --flavour, --no-report)`);
  }
  const supported = supportedFlavours();
  const chosen = (flavours.length > 0 ? flavours : ALL).filter((f) => supported.includes(f));
  if (chosen.length === 0) throw new RangeError("none of the flavours asked for runs on this host");
  // Best first, whatever the order on the command line.
  return { quick, noReport, flavours: ALL.filter((f) => chosen.includes(f)) };
}

function granted(desc: Deno.PermissionDescriptor): boolean {
  // Querying never prompts; calling without the permission would, on a terminal.
  return Deno.permissions.querySync(desc).state === "granted";
}

function readText(path: string): string | undefined {
  if (!granted({ name: "read", path })) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Host and runtime facts, each only where readable without prompting. */
export function hostInfo(l2Bytes?: number): HostInfo {
  let hostname = "unknown";
  if (granted({ name: "sys", kind: "hostname" })) hostname = Deno.hostname();
  else hostname = readText("/etc/hostname")?.trim() || hostname;
  const osRelease = granted({ name: "sys", kind: "osRelease" }) ? Deno.osRelease() : undefined;
  // Deno lets only --allow-all read /proc/cpuinfo (it throws, never prompts, otherwise);
  // node:os asks for --allow-sys=cpus instead.
  const cpuinfo = readText("/proc/cpuinfo") ?? "";
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ??
    (granted({ name: "sys", kind: "cpus" }) ? os.cpus()[0]?.model?.trim() : undefined) ??
    "unknown CPU";
  return {
    hostname,
    os: Deno.build.os,
    osRelease,
    arch: Deno.build.arch,
    cpu,
    cores: navigator.hardwareConcurrency,
    l2Bytes,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}

/** Configurations measured per flavour: all of them, but only the 90% ones on scalar. */
function configsFor(f: BenchFlavour): readonly SparseConfig[] {
  return f === "scalar" ? [config("u90"), config("b4-90")] : CONFIGS;
}

interface Timed {
  readonly flavour: BenchFlavour;
  readonly work: Workload;
  readonly seconds: number;
  readonly minSeconds: number;
  readonly rme: number;
  readonly samples: number;
}

function progress(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
}

/** Times every workload of one flavour with benny; returns the medians. */
async function runFlavour(
  backend: Backend,
  f: BenchFlavour,
  quick: boolean,
  options: Record<string, number>,
): Promise<Timed[]> {
  const setups = LAYERS.map((l) => setupLayer(backend, l, configsFor(f)));
  try {
    const works = setups.flatMap((s) => [...(s.dense ? [s.dense] : []), ...s.sparse]);
    // Warm-up: every kernel of this module until its speed settles (TurboFan tier reached).
    for (const w of works) warmUp(w.run, { minMs: quick ? 10 : 100 });
    const name = (w: Workload) => `${w.layer.name} ${w.config}`;
    let done = 0;
    const summary = await suite(
      `sparsekit ${f}`,
      ...works.map((w) => add(name(w), w.run)),
      cycle((result) => {
        done++;
        progress(
          `  [${f} ${String(done).padStart(2)}/${works.length}] ${result.name.padEnd(24)} ${
            (result.details.median * 1e3).toFixed(3)
          } ms ±${result.margin.toFixed(1)}%`,
        );
        return undefined;
      }),
      configure({ cases: options }),
    );
    const byName = new Map(summary.results.map((r) => [r.name, r]));
    return works.map((w) => {
      const r = byName.get(name(w));
      if (r === undefined) throw new Error(`benny returned no result for ${name(w)}`);
      return {
        flavour: f,
        work: w,
        seconds: r.details.median,
        minSeconds: r.details.min,
        rme: r.margin,
        samples: r.samples,
      };
    });
  } finally {
    for (const s of setups) s.dispose();
  }
}

/** Derives the rows, geometric means and targets from the medians. */
export function analyse(
  timed: readonly Timed[],
  roofline: Partial<Record<"relaxed" | "simd", SavedRoofline>>,
  flavours: readonly BenchFlavour[],
): Pick<BenchResults, "rows" | "geomeans" | "targets"> {
  const peakOf = (f: BenchFlavour) => {
    const pf = f === "scalar" ? "simd" : f;
    const p = roofline[pf];
    return p === undefined ? { peak: null, from: null } : { peak: p.peakGflops, from: pf };
  };
  const denseTime = (f: BenchFlavour, layer: string) =>
    timed.find((t) => t.flavour === f && t.work.layer.name === layer && t.work.config === "dense")
      ?.seconds;
  const bestDense = (layer: string) => {
    const ts = timed.filter((t) => t.work.layer.name === layer && t.work.config === "dense");
    return ts.length === 0 ? undefined : Math.min(...ts.map((t) => t.seconds));
  };
  const rows: ResultRow[] = timed.map((t) => {
    const w = t.work;
    const { peak, from } = peakOf(t.flavour);
    const eff = w.flops / t.seconds / 1e9;
    const dt = denseTime(t.flavour, w.layer.name);
    const bd = bestDense(w.layer.name);
    return {
      flavour: t.flavour,
      layer: w.layer.name,
      cin: w.layer.cin,
      cout: w.layer.cout,
      pixels: w.layer.pixels,
      config: w.config,
      denseKind: w.denseKind,
      blockSize: w.blockSize,
      nnz: w.nnz,
      stored: w.stored,
      seconds: t.seconds,
      minSeconds: t.minSeconds,
      rme: t.rme,
      samples: t.samples,
      effGflops: eff,
      denseEqGflops: w.denseFlops / t.seconds / 1e9,
      peakGflops: peak,
      peakFlavour: from,
      fracPeak: peak === null ? null : eff / peak,
      speedupVsDense: w.config === "dense" || dt === undefined ? null : dt / t.seconds,
      speedupVsBestDense: bd === undefined ? null : bd / t.seconds,
    };
  });
  const geomeans: GeomeanRow[] = [];
  for (const f of flavours) {
    for (const id of [...CONFIGS.map((c) => c.id), "dense"]) {
      const rs = rows.filter((r) => r.flavour === f && r.config === id);
      if (rs.length === 0) continue;
      const g = (pick: (r: ResultRow) => number | null) => {
        const vs = rs.map(pick);
        return vs.some((v) => v === null) ? null : geomean(vs as number[]);
      };
      geomeans.push({
        flavour: f,
        config: id,
        layers: rs.length,
        effGflops: geomean(rs.map((r) => r.effGflops)),
        denseEqGflops: geomean(rs.map((r) => r.denseEqGflops)),
        fracPeak: g((r) => r.fracPeak),
        speedupVsDense: g((r) => r.speedupVsDense),
        speedupVsBestDense: g((r) => r.speedupVsBestDense),
      });
    }
  }
  const best = flavours[0];
  const gm = (id: string) => geomeans.find((g) => g.flavour === best && g.config === id);
  const denseIsGemm = rows.some((r) => r.config === "dense" && r.denseKind === "gemm");
  const noGemm = "the wasm GEMM is not in this build of the kernels";
  const target = (
    id: string,
    text: string,
    threshold: number,
    unit: "fraction" | "ratio",
    value: number | null | undefined,
    note: string,
    missing?: string,
  ): TargetResult => {
    const v = missing === undefined && value !== undefined && value !== null ? value : null;
    return {
      id,
      text,
      threshold,
      unit,
      value: v,
      met: v === null ? null : v >= threshold,
      note: v === null ? (missing ?? "not measured in this run") : note,
    };
  };
  const b490 = gm("b4-90")?.speedupVsBestDense;
  const targets = [
    target(
      "u90-peak",
      "sparse 90% unstructured, fraction of peak",
      0.55,
      "fraction",
      gm("u90")?.fracPeak,
      `${best}, geomean of 9 layers`,
    ),
    target(
      "b4-90-peak",
      "sparse 90% in 1x4 blocks, fraction of peak",
      0.65,
      "fraction",
      gm("b4-90")?.fracPeak,
      `${best}, geomean of 9 layers`,
    ),
    target(
      "gemm-peak",
      "dense GEMM, fraction of peak",
      0.8,
      "fraction",
      gm("dense")?.fracPeak,
      `${best}, geomean of 9 layers`,
      denseIsGemm ? undefined : noGemm,
    ),
    target(
      "u90-vs-dense",
      "sparse 90% unstructured over the best dense GEMM",
      6.5,
      "ratio",
      gm("u90")?.speedupVsBestDense,
      `${best} sparse vs fastest dense of any flavour per layer, geomean` +
        (b490 ? `; 1x4 blocks: ${b490.toFixed(2)}x` : ""),
      denseIsGemm ? undefined : noGemm,
    ),
  ];
  return { rows, geomeans, targets };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "") || "host";
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const started = new Date();
  const t0 = performance.now();
  const { quick } = args;
  const engineOptions = quick
    ? { minTime: 0.005, maxTime: 0.05, minSamples: 5, initCount: 1 }
    : { minTime: 0.02, maxTime: 1, minSamples: 20, initCount: 1 };

  // Roofline first, on a quiet machine, for the flavours that have a probe (scalar uses SIMD's).
  const roofline: Partial<Record<"relaxed" | "simd", SavedRoofline>> = {};
  const probes = new Set(args.flavours.map((f) => (f === "scalar" ? "simd" : f)));
  let l2Bytes: number | undefined;
  for (const pf of ["relaxed", "simd"] as const) {
    if (!probes.has(pf)) continue;
    progress(`roofline ${pf} ...`);
    const r = await measureRoofline(pf, { quick });
    l2Bytes ??= r.l2.bytes * 2;
    roofline[pf] = {
      peakGflops: r.peakGflops,
      bestPeakGflops: r.bestPeakGflops,
      dram: r.dram,
      l2: r.l2,
    };
    progress(
      `  peak ${r.peakGflops.toFixed(1)} GFLOP/s, DRAM ${r.dram.gbs.toFixed(1)} GB/s, L2 ${
        r.l2.gbs.toFixed(1)
      } GB/s`,
    );
  }

  const timed: Timed[] = [];
  const notes: string[] = [];
  for (const f of args.flavours) {
    progress(`kernels ${f} ...`);
    const backend = await init({ flavour: f });
    const results = await runFlavour(backend, f, quick, engineOptions);
    if (results.some((t) => t.work.denseKind === "spmm-unpruned")) {
      const note = `The ${f} kernel module has no dense GEMM; its dense baseline is the sparse ` +
        "kernel run on the unpruned weights (1x4 blocks), and the GEMM targets are not judged.";
      if (!notes.includes(note)) notes.push(note);
    }
    timed.push(...results);
  }

  const { rows, geomeans, targets } = analyse(timed, roofline, args.flavours);
  const host = hostInfo(l2Bytes);
  const command = ["deno task bench", ...Deno.args].join(" ");
  const results: BenchResults = {
    schema: 1,
    date: started.toISOString(),
    command,
    quick,
    host,
    engine: { name: "benny 3.7.1 (benchmark.js)", options: engineOptions },
    flavours: args.flavours,
    best: args.flavours[0],
    layers: LAYERS.map(({ name, cin, cout, side, pixels }) => ({ name, cin, cout, side, pixels })),
    configs: CONFIGS.map(({ id, label, sparsity, block }) => ({ id, label, sparsity, block })),
    roofline,
    rows,
    geomeans,
    targets,
    notes,
  };

  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const day = started.toISOString().slice(0, 10);
  const base = `${day}-${slug(host.hostname)}`;
  const json = JSON.stringify(results, null, 2) + "\n";
  const file = quick ? `${base}.quick.tmp.json` : `${base}.json`;
  await Deno.writeTextFile(new URL(file, dir), json);
  if (!quick) await Deno.writeTextFile(new URL("latest.json", dir), json);
  console.log(`\nwrote bench/results/${file}${quick ? "" : " and bench/results/latest.json"}`);

  if (!args.noReport) {
    if (quick) {
      renderReport(results, `bench/results/${file}`);
      console.log("report rendered (not written in --quick mode)");
    } else {
      for (const p of await writeReport(results, `bench/results/${file}`)) {
        console.log(`wrote ${p}`);
      }
    }
  }

  console.log(`\nbest flavour: ${results.best}; geometric means over the nine layers:`);
  for (const g of geomeans) {
    console.log(
      `  ${g.flavour.padEnd(8)} ${g.config.padEnd(6)} ${g.effGflops.toFixed(1).padStart(6)} ` +
        `GFLOP/s  ${g.fracPeak === null ? "   –  " : (g.fracPeak * 100).toFixed(1).padStart(5)}% ` +
        `of peak  ${g.speedupVsDense === null ? "" : `${g.speedupVsDense.toFixed(2)}x vs dense`}`,
    );
  }
  for (const t of targets) {
    const v = t.value === null
      ? "not measured"
      : t.unit === "fraction"
      ? `${(t.value * 100).toFixed(1)}%`
      : `${t.value.toFixed(2)}x`;
    console.log(`  target ${t.id}: ${v} -> ${t.met === null ? "–" : t.met ? "met" : "not met"}`);
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

if (import.meta.main) await main();
