/**
 * What a kernel's main loop is made of, instruction by instruction, on this host: runs one
 * MobileNet v1 1x1 layer in a child process under V8's `--perf-prof` (which writes every piece
 * of JIT code to a jitdump file), disassembles the optimised (TurboFan) wasm function with the
 * most multiply-adds with objdump, picks its innermost loop with the most multiply-adds (the
 * widest tile's, whether or not this layer's rows use that tile) and sorts that loop's
 * instructions by kind.
 *
 * It shows where the kernel's instruction budget goes: without V8's trap handler (Deno installs
 * none, denoland/deno#35658) every wasm memory access carries an explicit bounds check, a
 * compare and a branch, usually after a `lea` that works out the limit for the access's offset.
 * Counts are instructions, not time: bench/bounds_checks.ts measures what the checks cost.
 *
 * Usage: deno task bench:asm [--layer 5] [--config u90|b4-90|dense] [--flavour relaxed]
 *          [--print]
 * `--layer` is 1-based over the nine layers (default 5: 256->256 @28x28; the layer run decides
 * which kernel V8 optimises); `--print` also lists the loop's instructions. Needs objdump (Debian: binutils) and an x86-64 host.
 * @module
 */
import { init } from "../mod.ts";
import type { Flavour } from "../kernels/backend.ts";
import { config, type ConfigId, LAYERS, setupLayer } from "./layers.ts";

/** One disassembled instruction: byte offset in its function, mnemonic, operands (AT&T). */
export interface Insn {
  readonly at: number;
  readonly op: string;
  readonly args: string;
}

/** A jitdump code record: the code's name and machine code. */
export interface JitCode {
  readonly name: string;
  readonly code: Uint8Array;
}

/** The kinds an instruction of a kernel loop is sorted into, in report order. */
export const KINDS = [
  "multiply-add",
  "vector load",
  "scalar load",
  "bounds check (compare + branch)",
  "bounds limit (lea)",
  "register spill (stack)",
  "lane splat (shuffle)",
  "pointer arithmetic",
  "loop control",
  "other",
] as const;

/** One of {@link KINDS}. */
export type Kind = typeof KINDS[number];

/**
 * The code-load records of a jitdump file (the format `perf` reads: a header, then records;
 * record 0, JIT_CODE_LOAD, carries a name and the code bytes).
 */
export function parseJitdump(bytes: Uint8Array): JitCode[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || view.getUint32(0, true) !== 0x4a695444) {
    throw new Error("not a jitdump file (bad magic)");
  }
  const out: JitCode[] = [];
  let o = view.getUint32(8, true);
  while (o + 16 <= bytes.length) {
    const id = view.getUint32(o, true);
    const size = view.getUint32(o + 4, true);
    if (size < 16 || o + size > bytes.length) break;
    if (id === 0) {
      const codeSize = Number(view.getBigUint64(o + 16 + 24, true));
      const nameAt = o + 16 + 40;
      const nameEnd = bytes.indexOf(0, nameAt);
      const name = new TextDecoder().decode(bytes.subarray(nameAt, nameEnd));
      out.push({ name, code: bytes.slice(nameEnd + 1, nameEnd + 1 + codeSize) });
    }
    o += size;
  }
  return out;
}

/** Instructions from `objdump -d --no-show-raw-insn` output (AT&T syntax). */
export function parseObjdump(text: string): Insn[] {
  const out: Insn[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*([0-9a-f]+):\s+([a-z][a-z0-9.]*)\s*(.*)$/.exec(line);
    if (m) out.push({ at: parseInt(m[1], 16), op: m[2], args: m[3].trim() });
  }
  return out;
}

function isMultiplyAdd(i: Insn): boolean {
  return /^vfn?m(add|sub)\d+[ps]s$/.test(i.op) || /^v?(mul|add)ps$/.test(i.op);
}

/** The target of a direct jump, or -1. */
function jumpTarget(i: Insn): number {
  if (!i.op.startsWith("j")) return -1;
  const m = /^0x([0-9a-f]+)$/.exec(i.args);
  return m ? parseInt(m[1], 16) : -1;
}

/**
 * The innermost loop (a backward jump and the instructions from its target to it, holding no
 * other backward jump) with the most multiply-adds; the shortest such loop on a tie. Empty
 * when there is none.
 */
export function mainLoop(code: readonly Insn[]): Insn[] {
  let best: Insn[] = [];
  let bestCount = 0;
  for (const j of code) {
    const t = jumpTarget(j);
    if (t < 0 || t >= j.at) continue;
    const body = code.filter((i) => i.at >= t && i.at <= j.at);
    const inner = body.every((i) => i === j || jumpTarget(i) < 0 || jumpTarget(i) > i.at);
    if (!inner) continue;
    const n = body.filter(isMultiplyAdd).length;
    if (n > bestCount || (n === bestCount && n > 0 && body.length < best.length)) {
      best = body;
      bestCount = n;
    }
  }
  return best;
}

/**
 * Sorts a loop's instructions by {@link Kind}. Moves to and from the stack frame are register
 * spills (wasm memory is reached through another register). A bounds check is a compare
 * followed by a conditional branch out of the loop (to the out-of-line trap); the `lea` whose
 * result such a compare reads is its limit. The interrupt check V8 puts on every loop back edge (a compare
 * of a byte with 0, then a branch) and the backward branch count as loop control.
 */
export function classify(loop: readonly Insn[]): Kind[] {
  if (loop.length === 0) return [];
  const first = loop[0].at;
  const last = loop[loop.length - 1].at;
  const kinds: Kind[] = loop.map(() => "other");
  const exits = (i: number) => {
    const t = jumpTarget(loop[i]);
    return loop[i].op !== "jmp" && t >= 0 && (t < first || t > last);
  };
  for (let i = 0; i < loop.length; i++) {
    const { op, args } = loop[i];
    const memSource = /^[^,]*\(/.test(args);
    if (isMultiplyAdd(loop[i])) kinds[i] = "multiply-add";
    else if (/\(%r[bs]p\)/.test(args) && op !== "lea" && !op.startsWith("cmp")) {
      kinds[i] = "register spill (stack)";
    } else if (
      /^v(movdqu|movups|movaps|movdqa|broadcastss|movss|movq|movd)$/.test(op) && memSource
    ) {
      kinds[i] = "vector load";
    } else if (/^mov/.test(op) && memSource && !/%xmm/.test(args)) kinds[i] = "scalar load";
    else if (/^v(pshufd|shufps|permilps|broadcastss)$/.test(op)) kinds[i] = "lane splat (shuffle)";
    else if (op.startsWith("cmp") && i + 1 < loop.length && exits(i + 1)) {
      const control = /^\$0x0,/.test(args);
      kinds[i] = kinds[i + 1] = control ? "loop control" : "bounds check (compare + branch)";
      if (!control) {
        // The lea that worked out the limit this compare reads, if any, shortly before.
        const reg = /^(%\w+),/.exec(args)?.[1];
        for (let k = i - 1; k >= Math.max(0, i - 4) && reg; k--) {
          if (loop[k].op === "lea" && loop[k].args.endsWith(`,${reg}`)) {
            kinds[k] = "bounds limit (lea)";
            break;
          }
        }
      }
      i++;
    } else if (i === loop.length - 1 && jumpTarget(loop[i]) === first) kinds[i] = "loop control";
    else if (/^(add|lea|sub|mov)$|^(add|sub|mov)[lq]$/.test(op) && !/%xmm/.test(args)) {
      if (kinds[i] === "other") kinds[i] = "pointer arithmetic";
    }
  }
  // Compares that close the loop (the one before the backward branch) are loop control too.
  const n = loop.length;
  if (n >= 2 && loop[n - 2].op.startsWith("cmp") && kinds[n - 1] === "loop control") {
    kinds[n - 2] = "loop control";
  }
  return kinds;
}

/** Counts per kind, in {@link KINDS} order. */
export function tally(kinds: readonly Kind[]): Map<Kind, number> {
  const m = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
  for (const k of kinds) m.set(k, m.get(k)! + 1);
  return m;
}

interface Options {
  layer: number;
  config: ConfigId | "dense";
  flavour: Flavour;
  print: boolean;
}

function options(): Options {
  const get = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : fallback;
  };
  const layer = Number(get("layer", "5"));
  if (!Number.isInteger(layer) || layer < 1 || layer > LAYERS.length) {
    throw new RangeError(`--layer: expected 1 to ${LAYERS.length}, got ${get("layer", "")}`);
  }
  const id = get("config", "u90");
  const ids = ["u70", "u80", "u90", "u95", "b4-90", "dense"];
  if (!ids.includes(id)) throw new RangeError(`--config: expected one of ${ids}, got ${id}`);
  return {
    layer,
    config: id as ConfigId | "dense",
    flavour: get("flavour", "relaxed") as Flavour,
    print: Deno.args.includes("--print"),
  };
}

/** The child: runs the layer's kernel long enough for V8 to swap in its optimised code. */
async function child(o: Options): Promise<void> {
  const backend = await init({ flavour: o.flavour });
  const layer = LAYERS[o.layer - 1];
  using setup = setupLayer(backend, layer, o.config === "dense" ? [] : [config(o.config)], {
    dense: o.config === "dense",
  });
  const work = o.config === "dense" ? setup.dense! : setup.sparse[0];
  const t0 = performance.now();
  while (performance.now() - t0 < 2500) work.run();
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(cmd, { args, cwd }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${cmd} not found: bench/kernel_asm.ts needs it (Debian: binutils)`);
    }
    throw e;
  }
  const { code, stdout, stderr } = result;
  if (code !== 0) throw new Error(`${cmd} failed: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

async function main(o: Options): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sparsekit-asm-" });
  try {
    const self = new URL(import.meta.url).pathname;
    await run(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-env",
      "--v8-flags=--perf-prof",
      self,
      "--child",
      ...Deno.args,
    ], dir);
    const dump = [...Deno.readDirSync(dir)].find((e) => /^jit-\d+\.dump$/.test(e.name));
    if (!dump) throw new Error("the child wrote no jitdump file");
    const records = parseJitdump(await Deno.readFile(`${dir}/${dump.name}`))
      .filter((r) => /wasm-function\[\d+\].*turbofan/.test(r.name));
    let best: { name: string; code: Insn[]; madds: number } | undefined;
    for (const r of records) {
      const file = `${dir}/code.bin`;
      await Deno.writeFile(file, r.code);
      const code = parseObjdump(
        await run("objdump", [
          "-D",
          "-b",
          "binary",
          "-m",
          "i386:x86-64",
          "--no-show-raw-insn",
          file,
        ]),
      );
      const madds = code.filter(isMultiplyAdd).length;
      if (!best || madds > best.madds) best = { name: r.name, code, madds };
    }
    if (!best || best.madds === 0) throw new Error("no optimised wasm function with multiply-adds");
    const loop = mainLoop(best.code);
    const kinds = classify(loop);
    const counts = tally(kinds);
    const madds = counts.get("multiply-add")!;
    const layer = LAYERS[o.layer - 1];
    console.log(`${layer.name}, ${o.config}, ${o.flavour} flavour, Deno ${Deno.version.deno}`);
    console.log(
      `${best.name}: main loop ${loop.length} instructions, ${madds} multiply-adds`,
    );
    const row = (label: string, n: number) =>
      console.log(
        `${label.padEnd(33)} ${String(n).padStart(6)}   ${(n / madds).toFixed(2).padStart(16)}`,
      );
    console.log("kind                               count   per multiply-add");
    for (const [k, n] of counts) row(k, n);
    row("all", loop.length);
    if (o.print) {
      for (const [i, insn] of loop.entries()) {
        console.log(
          `${insn.at.toString(16).padStart(6)}  ${insn.op.padEnd(12)} ${insn.args.padEnd(36)} ${
            kinds[i]
          }`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const o = options();
  if (Deno.args.includes("--child")) await child(o);
  else await main(o);
}
