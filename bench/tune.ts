/**
 * What the kernel tuning harnesses (bench/spmm_tune.ts, bench/dw_tune.ts) share: their command
 * line (`--name value` options over defaults, then folders of builds) and one backend per build.
 * @module
 */
import { init } from "../kernels/init.ts";
import type { Backend, Flavour } from "../kernels/backend.ts";

/** A harness's options, its build folders, and a backend on each build's `--flavour` module. */
export interface TuneSetup {
  readonly opts: Record<string, string>;
  readonly dirs: readonly string[];
  readonly backends: readonly Backend[];
}

/**
 * Reads `--name value` options over `defaults` (which must name `flavour`) and the build folders
 * (DIR arguments holding sparsekit.<flavour>.wasm; as/build when none), and loads each build.
 */
export async function tuneSetup(defaults: Record<string, string>): Promise<TuneSetup> {
  const opts = { ...defaults };
  const positional: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a.startsWith("--")) opts[a.slice(2)] = Deno.args[++i];
    else positional.push(a);
  }
  const flavour = opts.flavour as Flavour;
  const dirs = positional.length > 0
    ? positional
    : [new URL("../as/build", import.meta.url).pathname];
  const backends: Backend[] = [];
  for (const d of dirs) {
    backends.push(
      await init({ flavour, bytes: await Deno.readFile(`${d}/sparsekit.${flavour}.wasm`) }),
    );
  }
  return { opts, dirs, backends };
}
