// The saved benchmark suite (deno task bench): roofline probe, then every MobileNet v1 1x1 layer
// and configuration per flavour, timed with benny; then MobileNet v1 and v2 end to end on the
// best flavour (dense, 90% unstructured, 90% in 1x4 blocks) and the dense MobileNet v1 on
// TensorFlow.js's wasm backend; saved to bench/results/ and rendered.
//
// Usage: deno task bench [--quick] [--flavour relaxed,simd,scalar] [--no-report]
//                        [--networks-only] [--no-tfjs]
import { add, configure, cycle, suite } from "benny";
import os from "node:os";
import {
  type Backend,
  compileNetwork,
  init,
  mobileNetV1,
  mobileNetV2,
  type NetworkSpec,
  supportedFlavours,
} from "../mod.ts";
import {
  config,
  CONFIGS,
  geomean,
  LAYERS,
  quantile,
  setupLayer,
  type SparseConfig,
  warmUp,
  type Workload,
} from "./layers.ts";
import {
  benchVariants,
  image,
  latencyOptions,
  type NetworkResult,
  relativeDiff,
  tfjsWeights,
  VARIANTS,
  variantWeights,
} from "./network.ts";
import {
  type BenchFlavour,
  type BenchResults,
  type GeomeanRow,
  type HostInfo,
  loadBoundsChecks,
  renderReport,
  type ResultRow,
  type SavedNetworkResult,
  type SavedNetworks,
  type SavedRoofline,
  type SavedTfjsResult,
  type TargetResult,
  tfjsFor,
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
  /**
   * Only the end-to-end networks (no roofline, no layer sweep); results to a *.tmp.json,
   * latest.json and the page not written.
   */
  readonly networksOnly: boolean;
  /** Skip the TensorFlow.js baseline. */
  readonly noTfjs: boolean;
}

/**
 * Parses `--quick`, `--flavour a,b` (or `--flavour=a,b`, repeatable), `--no-report`,
 * `--networks-only` and `--no-tfjs`.
 *
 * @param args the command-line arguments
 * @returns the options
 * @throws {RangeError} on an unknown option or flavour
 */
export function parseArgs(args: readonly string[]): SuiteArgs {
  let quick = false, noReport = false, networksOnly = false, noTfjs = false;
  const flavours: BenchFlavour[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") quick = true;
    else if (a === "--no-report") noReport = true;
    else if (a === "--networks-only") networksOnly = true;
    else if (a === "--no-tfjs") noTfjs = true;
    else if (a === "--flavour" || a.startsWith("--flavour=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      for (const f of (v ?? "").split(",").filter((s) => s !== "")) {
        if (!ALL.includes(f as BenchFlavour)) {
          throw new RangeError(`--flavour: expected some of ${ALL.join(", ")}, got ${f}`);
        }
        if (!flavours.includes(f as BenchFlavour)) flavours.push(f as BenchFlavour);
      }
    } else {
      throw new RangeError(
        `unknown option ${a} (try --quick, --flavour, --no-report, --networks-only, --no-tfjs)`,
      );
    }
  }
  const supported = supportedFlavours();
  const chosen = (flavours.length > 0 ? flavours : ALL).filter((f) => supported.includes(f));
  if (chosen.length === 0) throw new RangeError("none of the flavours asked for runs on this host");
  // Best first, whatever the order on the command line.
  return {
    quick,
    noReport,
    networksOnly,
    noTfjs,
    flavours: ALL.filter((f) => chosen.includes(f)),
  };
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

/**
 * Times every workload of one flavour with benny, in `rounds` passes over all of them (one benny
 * suite per pass, `options.maxTime` each), so that a slow phase of the shared host falls on
 * every workload alike instead of on the few timed while it lasts. Returns per workload the
 * median and fastest of the samples pooled over the passes, and the largest of the passes'
 * margins of error.
 */
async function runFlavour(
  backend: Backend,
  f: BenchFlavour,
  quick: boolean,
  options: Record<string, number>,
  rounds: number,
): Promise<Timed[]> {
  const setups = LAYERS.map((l) => setupLayer(backend, l, configsFor(f)));
  try {
    const works = setups.flatMap((s) => [...(s.dense ? [s.dense] : []), ...s.sparse]);
    // Warm-up: every kernel of this module until its speed settles (TurboFan tier reached).
    for (const w of works) warmUp(w.run, { minMs: quick ? 10 : 100 });
    const name = (w: Workload) => `${w.layer.name} ${w.config}`;
    const pooled = new Map<string, { samples: number[]; rme: number }>(
      works.map((w) => [name(w), { samples: [], rme: 0 }]),
    );
    for (let round = 1; round <= rounds; round++) {
      let done = 0;
      const summary = await suite(
        `sparsekit ${f} pass ${round}/${rounds}`,
        ...works.map((w) => add(name(w), w.run)),
        cycle((result) => {
          done++;
          progress(
            `  [${f} pass ${round}/${rounds} ${String(done).padStart(2)}/${works.length}] ${
              result.name.padEnd(24)
            } ${(result.details.median * 1e3).toFixed(3)} ms ±${result.margin.toFixed(1)}%`,
          );
          return undefined;
        }),
        configure({ cases: options }),
      );
      for (const r of summary.results) {
        const p = pooled.get(r.name);
        if (p === undefined || r.details.sampleResults.length === 0) {
          throw new Error(`benny returned no samples for ${r.name}`);
        }
        p.samples.push(...r.details.sampleResults);
        p.rme = Math.max(p.rme, r.margin);
      }
    }
    return works.map((w) => {
      const p = pooled.get(name(w))!;
      const sorted = p.samples.slice().sort((a, b) => a - b);
      if (sorted.length === 0) throw new Error(`benny returned no result for ${name(w)}`);
      return {
        flavour: f,
        work: w,
        seconds: quantile(sorted, 0.5),
        minSeconds: sorted[0],
        rme: p.rme,
        samples: sorted.length,
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

/**
 * How the networks are timed: the sampling options `benchVariants` (bench/network.ts) uses, every
 * variant and TensorFlow.js's network sampled in the same rounds.
 */
export function networkTiming(quick: boolean): SavedNetworks["timing"] {
  const { warmupMs, minSamples, maxSamples, budgetMs } = latencyOptions(quick ? 800 : 3000);
  return {
    warmupMs,
    minSamples,
    maxSamples,
    budgetMs,
    profileRuns: quick ? 5 : 15,
  };
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** TensorFlow.js's network, ready to time, and what the result records besides the timing. */
interface TfjsRun {
  readonly run: () => unknown;
  readonly info: Omit<SavedTfjsResult, "medianMs" | "minMs" | "maxMs" | "samples">;
  readonly dispose: () => void;
}

/**
 * The dense MobileNet v1 or v2 on TensorFlow.js's wasm backend, with the weights of our dense
 * variant, its logits compared with our dense network's on the same image; timed in the same
 * rounds as our variants (see `benchVariants`).
 */
async function prepareTfjs(
  backend: Backend,
  spec: NetworkSpec,
  model: "v1" | "v2",
): Promise<TfjsRun> {
  // Loaded only when used, so --no-tfjs runs without the npm packages.
  const { createTfjsMobileNetV1, createTfjsMobileNetV2 } = await import("./tfjs.ts");
  const { version_core } = await import("@tensorflow/tfjs-core");
  const dense = VARIANTS[0];
  const weights = variantWeights(spec, dense);
  const input = image(spec);
  let ours: Float32Array;
  {
    using net = compileNetwork(spec, weights, { backend, mode: dense.mode });
    ours = net.run(input).data;
  }
  const create = model === "v1" ? createTfjsMobileNetV1 : createTfjsMobileNetV2;
  const net = await create(tfjsWeights(spec, weights), { inputSize: spec.input.height });
  try {
    const relDiff = relativeDiff(net.run(input), ours);
    return {
      run: () => net.run(input),
      info: {
        network: spec.name ?? "network",
        version: version_core,
        backend: net.backend,
        binary: net.binary,
        simd: net.simd,
        threads: net.threads,
        relDiff,
      },
      dispose: () => net.dispose(),
    };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** The TensorFlow.js baseline of one network, or why there is none. */
export interface TfjsBaseline {
  /** The result, or null when skipped or failed. */
  readonly result: SavedTfjsResult | null;
  /** Why there is no result. */
  readonly note?: string;
}

/**
 * The end-to-end targets: MobileNet v1 90% unstructured over TensorFlow.js's dense v1 (>= 3x)
 * and over our dense v1 (>= 4x), judged; MobileNet v2 90% unstructured over TensorFlow.js's
 * dense v2 and over our dense v2, reported next to the same thresholds, not judged. A variant
 * that failed its layer check does not meet one.
 *
 * @param results the network results
 * @param tfjs the TensorFlow.js baselines of v1 and v2
 * @param names the spec names of MobileNet v1 and v2
 * @returns the targets
 */
export function networkTargets(
  results: readonly SavedNetworkResult[],
  tfjs: { readonly v1: TfjsBaseline; readonly v2: TfjsBaseline },
  names: { readonly v1: string; readonly v2: string },
): TargetResult[] {
  const find = (network: string, variant: string) =>
    results.find((r) => r.network === network && r.variant === variant);
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  const x = (v: number) => `${v.toFixed(2)}x`;
  const checked = (r: SavedNetworkResult | undefined) =>
    r?.maxRatio === undefined || r.maxRatio <= 1;
  const target = (
    id: string,
    text: string,
    threshold: number,
    sparse: SavedNetworkResult | undefined,
    base: { medianMs: number; what: string } | undefined,
    blocks: SavedNetworkResult | undefined,
    missing: string,
    reportOnly = false,
  ): TargetResult => {
    if (sparse === undefined || base === undefined) {
      return {
        id,
        text,
        threshold,
        unit: "ratio",
        value: null,
        met: null,
        note: missing,
        ...(reportOnly ? { reportOnly } : {}),
      };
    }
    const value = base.medianMs / sparse.medianMs;
    const ok = checked(sparse);
    const note = (ok ? "" : "layer check FAILED; ") +
      `${ms(sparse.medianMs)} vs ${base.what} ${ms(base.medianMs)}` +
      (blocks === undefined ? "" : `; 1x4 blocks: ${x(base.medianMs / blocks.medianMs)}`) +
      (reportOnly ? "; reported, not judged" : "");
    return {
      id,
      text,
      threshold,
      unit: "ratio",
      value,
      met: reportOnly ? null : ok && value >= threshold,
      note,
      ...(reportOnly ? { reportOnly } : {}),
    };
  };
  const v1Dense = find(names.v1, "dense"), v2Dense = find(names.v2, "dense");
  const notRun = "not measured in this run";
  const base = (b: TfjsBaseline) =>
    b.result === null ? undefined : {
      medianMs: b.result.medianMs,
      what: `TensorFlow.js ${b.result.version} (${b.result.binary})`,
    };
  const missing = (b: TfjsBaseline) =>
    b.result === null ? `no TensorFlow.js baseline: ${b.note ?? notRun}` : notRun;
  return [
    target(
      "mobilenet-v1-u90-vs-tfjs",
      "MobileNet v1 90% unstructured over TensorFlow.js wasm dense, same run",
      3,
      find(names.v1, "u90"),
      base(tfjs.v1),
      find(names.v1, "b4-90"),
      missing(tfjs.v1),
    ),
    target(
      "mobilenet-v1-u90-vs-dense",
      "MobileNet v1 90% unstructured over our dense",
      4,
      find(names.v1, "u90"),
      v1Dense && { medianMs: v1Dense.medianMs, what: "dense" },
      find(names.v1, "b4-90"),
      notRun,
    ),
    target(
      "mobilenet-v2-u90-vs-tfjs",
      "MobileNet v2 90% unstructured over TensorFlow.js wasm dense, same run (reported)",
      3,
      find(names.v2, "u90"),
      base(tfjs.v2),
      find(names.v2, "b4-90"),
      missing(tfjs.v2),
      true,
    ),
    target(
      "mobilenet-v2-u90-vs-dense",
      "MobileNet v2 90% unstructured over our dense (reported)",
      4,
      find(names.v2, "u90"),
      v2Dense && { medianMs: v2Dense.medianMs, what: "dense" },
      find(names.v2, "b4-90"),
      notRun,
      true,
    ),
  ];
}

/**
 * MobileNet v1 and v2 at 224 on one flavour, every variant, timed and checked; the dense
 * network on TensorFlow.js's wasm backend right after our variants of it (unless `noTfjs`).
 * A network that throws is left out and named in `failures`; the others still run.
 */
async function runNetworks(
  flavour: BenchFlavour,
  quick: boolean,
  noTfjs: boolean,
  failures: string[],
): Promise<SavedNetworks> {
  const backend = await init({ flavour });
  const timing = networkTiming(quick);
  const v1 = mobileNetV1(), v2 = mobileNetV2();
  const names = { v1: v1.name ?? "MobileNet v1", v2: v2.name ?? "MobileNet v2" };
  const results: NetworkResult[] = [];
  const skipped = noTfjs ? "skipped (--no-tfjs)" : undefined;
  const tfjs: Record<"v1" | "v2", { result: SavedTfjsResult | null; note?: string }> = {
    v1: { result: null, note: skipped },
    v2: { result: null, note: skipped },
  };
  for (const [model, spec] of [["v1", v1], ["v2", v2]] as const) {
    let t: TfjsRun | undefined;
    if (!noTfjs) {
      progress(`network ${spec.name} on TensorFlow.js wasm: loading ...`);
      try {
        t = await prepareTfjs(backend, spec, model);
      } catch (e) {
        const note = `failed: ${message(e)}`;
        tfjs[model] = { result: null, note };
        failures.push(`TensorFlow.js ${spec.name} ${note}`);
        progress(`  ${note}`);
      }
    }
    progress(
      `network ${spec.name}: ${VARIANTS.map((v) => v.id).join(", ")}${t ? ", tfjs" : ""} ` +
        `(${backend.flavour}), timed in turn ...`,
    );
    try {
      const out = benchVariants(backend, spec, VARIANTS, {
        budgetMs: timing.budgetMs,
        profileRuns: timing.profileRuns,
        verify: true,
      }, t ? [t.run] : []);
      for (const o of out.variants) {
        if (!o.ok) {
          failures.push(
            `${spec.name} ${o.variant.id} on ${backend.flavour} failed: ${message(o.error)}`,
          );
          progress(`  ${o.variant.id} failed: ${message(o.error)}`);
          continue;
        }
        const r = o.result;
        results.push(r);
        progress(
          `  ${r.variant}: median ${r.medianMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)}, ` +
            `${r.samples} runs), max rel. diff ${r.relDiff?.toExponential(1)}, layer check ${
              r.maxRatio === undefined ? "–" : r.maxRatio <= 1 ? "ok" : "FAILED"
            }`,
        );
      }
      if (t) {
        const m = out.others[0];
        const result: SavedTfjsResult = {
          ...t.info,
          medianMs: m.median * 1e3,
          minMs: m.min * 1e3,
          maxMs: m.max * 1e3,
          samples: m.samples,
        };
        tfjs[model] = { result };
        progress(
          `  tfjs: median ${result.medianMs.toFixed(2)} ms (min ${result.minMs.toFixed(2)}, ` +
            `${result.samples} runs; ${result.binary}), rel. diff vs ours ` +
            result.relDiff.toExponential(1),
        );
      }
    } catch (e) {
      failures.push(`${spec.name} on ${backend.flavour} failed: ${message(e)}`);
      progress(`  failed: ${message(e)}`);
      if (t) tfjs[model] = { result: null, note: `not timed: ${message(e)}` };
    } finally {
      t?.dispose();
    }
  }
  const saved: SavedNetworkResult[] = results;
  return {
    flavour: backend.flavour,
    size: v1.input.height,
    timing,
    results: saved,
    tfjs: tfjs.v1.result,
    ...(tfjs.v1.note === undefined ? {} : { tfjsNote: tfjs.v1.note }),
    tfjsV2: tfjs.v2.result,
    ...(tfjs.v2.note === undefined ? {} : { tfjsV2Note: tfjs.v2.note }),
    targets: networkTargets(saved, tfjs, names),
  };
}

/** Prints the end-to-end figures. */
function printNetworks(n: SavedNetworks): void {
  console.log(
    `\nend to end, ${n.size}x${n.size}, one image, one thread (${n.flavour}; median ms):`,
  );
  for (const name of [...new Set(n.results.map((r) => r.network))]) {
    const rs = n.results.filter((r) => r.network === name);
    const dense = rs.find((r) => r.variant === "dense");
    const tfjs = tfjsFor(n, name);
    for (const r of rs) {
      console.log(
        `  ${`${name} ${r.variant}`.padEnd(26)} ${r.medianMs.toFixed(2).padStart(8)} ms` +
          `${dense ? `  ${(dense.medianMs / r.medianMs).toFixed(2).padStart(5)}x vs dense` : ""}` +
          `${tfjs ? `  ${(tfjs.medianMs / r.medianMs).toFixed(2).padStart(5)}x vs tfjs` : ""}` +
          `  check ${r.maxRatio === undefined ? "–" : r.maxRatio <= 1 ? "ok" : "FAILED"}`,
      );
    }
    if (tfjs) {
      console.log(
        `  ${`${name} tfjs`.padEnd(26)} ${tfjs.medianMs.toFixed(2).padStart(8)} ms` +
          `  (${tfjs.version} ${tfjs.binary}, ${tfjs.threads} thread; logits vs ours ` +
          `${tfjs.relDiff.toExponential(1)})`,
      );
    }
  }
  if (n.tfjs === null) console.log(`  TensorFlow.js v1: ${n.tfjsNote ?? "not run"}`);
  if (!n.tfjsV2) console.log(`  TensorFlow.js v2: ${n.tfjsV2Note ?? "not run"}`);
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "") || "host";
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  const started = new Date();
  const t0 = performance.now();
  const { quick, networksOnly } = args;
  // Three passes of a third of a second per workload each (one pass in --quick).
  const engineOptions = quick
    ? { rounds: 1, minTime: 0.005, maxTime: 0.05, minSamples: 5, initCount: 1 }
    : { rounds: 3, minTime: 0.02, maxTime: 0.35, minSamples: 10, initCount: 1 };

  // Roofline first, on a quiet machine, for the flavours that have a probe (scalar uses SIMD's).
  const roofline: Partial<Record<"relaxed" | "simd", SavedRoofline>> = {};
  const probes = new Set(
    networksOnly ? [] : args.flavours.map((f) => (f === "scalar" ? "simd" : f)),
  );
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
  for (const f of networksOnly ? [] : args.flavours) {
    progress(`kernels ${f} ...`);
    const backend = await init({ flavour: f });
    const { rounds, ...benny } = engineOptions;
    const results = await runFlavour(backend, f, quick, benny, rounds);
    if (results.some((t) => t.work.denseKind === "spmm-unpruned")) {
      const note = `The ${f} kernel module has no dense GEMM; its dense baseline is the sparse ` +
        "kernel run on the unpruned weights (1x4 blocks), and the GEMM targets are not judged.";
      if (!notes.includes(note)) notes.push(note);
    }
    timed.push(...results);
  }
  const { rows, geomeans, targets } = networksOnly
    ? { rows: [], geomeans: [], targets: [] }
    : analyse(timed, roofline, args.flavours);

  // End to end, in the same process, on the best flavour measured.
  const failures: string[] = [];
  const networks = await runNetworks(args.flavours[0], quick, args.noTfjs, failures);
  notes.push(...failures);

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
    layers: networksOnly
      ? []
      : LAYERS.map(({ name, cin, cout, side, pixels }) => ({ name, cin, cout, side, pixels })),
    configs: networksOnly
      ? []
      : CONFIGS.map(({ id, label, sparsity, block }) => ({ id, label, sparsity, block })),
    roofline,
    rows,
    geomeans,
    targets,
    notes,
    networks,
  };

  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const day = started.toISOString().slice(0, 10);
  const base = `${day}-${slug(host.hostname)}`;
  const json = JSON.stringify(results, null, 2) + "\n";
  // A smoke run or a networks-only run is not a full result: a *.tmp.json, no latest.json.
  const partial = quick || networksOnly;
  const file = partial
    ? `${base}${networksOnly ? ".networks" : ""}${quick ? ".quick" : ""}.tmp.json`
    : `${base}.json`;
  await Deno.writeTextFile(new URL(file, dir), json);
  if (!partial) await Deno.writeTextFile(new URL("latest.json", dir), json);
  console.log(`\nwrote bench/results/${file}${partial ? "" : " and bench/results/latest.json"}`);

  if (!args.noReport) {
    if (partial) {
      renderReport(results, `bench/results/${file}`);
      console.log(
        `report rendered (not written in ${quick ? "--quick" : "--networks-only"} mode; ` +
          "the page keeps its last full run)",
      );
    } else {
      const bounds = await loadBoundsChecks();
      for (const p of await writeReport(results, `bench/results/${file}`, undefined, bounds)) {
        console.log(`wrote ${p}`);
      }
    }
  }

  if (!networksOnly) {
    console.log(`\nbest flavour: ${results.best}; geometric means over the nine layers:`);
    for (const g of geomeans) {
      console.log(
        `  ${g.flavour.padEnd(8)} ${g.config.padEnd(6)} ${g.effGflops.toFixed(1).padStart(6)} ` +
          `GFLOP/s  ${
            g.fracPeak === null ? "   –  " : (g.fracPeak * 100).toFixed(1).padStart(5)
          }% ` +
          `of peak  ${g.speedupVsDense === null ? "" : `${g.speedupVsDense.toFixed(2)}x vs dense`}`,
      );
    }
  }
  printNetworks(networks);
  console.log("");
  for (const t of [...targets, ...networks.targets]) {
    const v = t.value === null
      ? "not measured"
      : t.unit === "fraction"
      ? `${(t.value * 100).toFixed(1)}%`
      : `${t.value.toFixed(2)}x`;
    const verdict = t.reportOnly
      ? `reported (threshold ${t.threshold}x)`
      : t.met === null
      ? "–"
      : t.met
      ? "met"
      : "not met";
    console.log(`  target ${t.id}: ${v} -> ${verdict}`);
  }
  for (const f of failures) console.error(`FAILED: ${f}`);
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (failures.length > 0) Deno.exitCode = 1;
}

if (import.meta.main) await main();
