/**
 * What V8's explicit wasm bounds checks cost the kernels on this host: the nine MobileNet v1
 * 1x1 layers (90% unstructured, 90% in 1x4 blocks, dense GEMM; relaxed flavour, one thread)
 * timed in child processes run as shipped and with `--v8-flags=--no-wasm-bounds-checks`, a
 * V8 testing flag that drops the checks (unsafe: an out-of-bounds access is then undefined).
 *
 * Deno does not install V8's guard-page trap handler (denoland/deno#35658), so every wasm
 * memory access is compiled with an explicit compare and branch; browsers and current Node
 * install the handler and emit none. The difference between the two runs is therefore what
 * the same kernels would gain where the handler is installed, on this machine.
 *
 * The two kinds of child alternate (A B A B ...) so machine noise falls on both alike; each
 * figure is the median over the rounds of each child's per-layer median. Writes
 * `bench/results/bounds-checks.json`, which bench/report.ts shows in docs/performance.md.
 *
 * Usage: deno task bench:bounds [--rounds 3] [--out FILE]
 * (that is: deno run --allow-read --allow-write --allow-run --allow-env
 *   --allow-sys=hostname,osRelease bench/bounds_checks.ts ...)
 * @module
 */
import { init } from "../mod.ts";
import { config, type ConfigId, geomean, LAYERS, measure, quantile, setupLayer } from "./layers.ts";

/** The configurations timed, as in the suite's per-layer tables. */
export const BOUNDS_CONFIGS: readonly (ConfigId | "dense")[] = ["u90", "b4-90", "dense"];

/** Saved results: effective GFLOP/s per configuration and layer, with and without checks. */
export interface BoundsCheckResults {
  readonly date: string;
  readonly host: string;
  readonly deno: string;
  readonly v8: string;
  readonly flavour: string;
  readonly rounds: number;
  /** Layer names, in order. */
  readonly layers: readonly string[];
  /** Per configuration: median effective GFLOP/s per layer, checked (as shipped). */
  readonly checked: Readonly<Record<string, readonly number[]>>;
  /** The same with `--no-wasm-bounds-checks`. */
  readonly unchecked: Readonly<Record<string, readonly number[]>>;
}

type Gflops = Record<string, number[]>;

/** One child's measurement: per configuration, GFLOP/s per layer. */
async function child(): Promise<void> {
  const backend = await init({ flavour: "relaxed" });
  const out: Gflops = {};
  for (const id of BOUNDS_CONFIGS) out[id] = [];
  for (const layer of LAYERS) {
    using setup = setupLayer(backend, layer, [config("u90"), config("b4-90")]);
    const works = [...setup.sparse, setup.dense!];
    for (const w of works) {
      // A long first warm-up: V8 swaps in optimised code for the big kernel functions only
      // after compiling them in the background.
      const m = measure(w.run, { warmupMs: layer === LAYERS[0] ? 1500 : 150, budgetMs: 400 });
      out[w.config].push(w.flops / m.median / 1e9);
    }
  }
  console.log(JSON.stringify(out));
}

async function runChild(checked: boolean): Promise<Gflops> {
  const args = ["run", "--allow-read", "--allow-env"];
  if (!checked) args.push("--v8-flags=--no-wasm-bounds-checks");
  args.push(new URL(import.meta.url).pathname, "--child");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), { args }).output();
  if (code !== 0) throw new Error(`child failed: ${new TextDecoder().decode(stderr)}`);
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as Gflops;
}

function medians(runs: Gflops[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const id of BOUNDS_CONFIGS) {
    out[id] = LAYERS.map((_, i) => quantile(runs.map((r) => r[id][i]).sort((a, b) => a - b), 0.5));
  }
  return out;
}

async function main(): Promise<void> {
  const i = Deno.args.indexOf("--rounds");
  const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 3;
  const o = Deno.args.indexOf("--out");
  const file = o >= 0
    ? Deno.args[o + 1]
    : new URL("./results/bounds-checks.json", import.meta.url).pathname;
  const checked: Gflops[] = [];
  const unchecked: Gflops[] = [];
  for (let r = 0; r < rounds; r++) {
    console.error(`round ${r + 1}/${rounds}: with bounds checks`);
    checked.push(await runChild(true));
    console.error(`round ${r + 1}/${rounds}: without (--no-wasm-bounds-checks)`);
    unchecked.push(await runChild(false));
  }
  const results: BoundsCheckResults = {
    date: new Date().toISOString(),
    host: `${Deno.hostname()} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    flavour: "relaxed",
    rounds,
    layers: LAYERS.map((l) => l.name),
    checked: medians(checked),
    unchecked: medians(unchecked),
  };
  await Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
  console.log("configuration   checked GFLOP/s   unchecked GFLOP/s   unchecked/checked");
  for (const id of BOUNDS_CONFIGS) {
    const a = geomean(results.checked[id]);
    const b = geomean(results.unchecked[id]);
    console.log(
      `${id.padEnd(14)}  ${a.toFixed(1).padStart(15)}   ${b.toFixed(1).padStart(17)}   ${
        (b / a).toFixed(2).padStart(16)
      }x`,
    );
  }
  console.log(`(geometric means over the nine layers; written to ${file})`);
}

if (import.meta.main) {
  if (Deno.args.includes("--child")) await child();
  else await main();
}
