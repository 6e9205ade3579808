/**
 * Builds the WebAssembly kernels in three flavours (relaxed SIMD, SIMD, scalar) with the
 * pinned AssemblyScript compiler. Output is byte-reproducible; tests/build_test.ts rebuilds
 * into a temporary folder and compares with the committed files.
 *
 * Usage: deno task build [--out DIR]
 * @module
 */
import asc from "assemblyscript/asc";
import { generate } from "./gen_spmm.ts";

/** The flavours, from most to least capable, with the compiler flags that make each. */
export const FLAVOURS = {
  relaxed: ["--enable", "simd,relaxed-simd"],
  simd: ["--enable", "simd", "--disable", "relaxed-simd"],
  scalar: ["--disable", "simd,relaxed-simd"],
} as const;

/** The modules built: the kernels for the library, and the roofline probe for the benchmarks. */
export const MODULES = { sparsekit: "as/index.ts", probe: "as/probe.ts" } as const;

const COMMON = [
  "-O3",
  "--noAssert",
  "--runtime",
  "stub",
  "--use",
  "abort=",
  "--initialMemory",
  "1",
  "--exportStart",
  "_initialize",
];

/** Compiles every module in every flavour; returns the written file names. */
export async function build(outDir: string): Promise<string[]> {
  const root = new URL("../", import.meta.url);
  const written: string[] = [];
  for (const [name, entry] of Object.entries(MODULES)) {
    for (const [flavour, flags] of Object.entries(FLAVOURS)) {
      if (name === "probe" && flavour === "scalar") continue;
      const file = `${outDir}/${name}.${flavour}.wasm`;
      let stderr = "";
      const { error } = await asc.main([entry, ...COMMON, ...flags, "--outFile", file], {
        readFile: (f: string, base: string) => {
          try {
            return Deno.readTextFileSync(new URL(`${base}/${f}`, root));
          } catch {
            return null;
          }
        },
        writeFile: (f: string, contents: string | Uint8Array, base: string) => {
          const path = f.startsWith("/") ? f : new URL(`${base}/${f}`, root);
          if (typeof contents === "string") Deno.writeTextFileSync(path, contents);
          else Deno.writeFileSync(path, contents);
        },
        listFiles: () => [],
        stderr: { write: (s: string) => (stderr += s) },
        stdout: { write: () => {} },
      });
      if (error) throw new Error(`asc failed for ${file}: ${error.message}\n${stderr}`);
      written.push(file);
    }
  }
  return written;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const out = i >= 0 ? Deno.args[i + 1] : "as/build";
  // The generated microkernels are sources too: refresh them before compiling.
  await Deno.writeTextFile(new URL("./spmm.ts", import.meta.url), generate());
  await Deno.mkdir(out, { recursive: true });
  for (const f of await build(out)) {
    console.log(`${f}  ${(await Deno.stat(f)).size} bytes`);
  }
}
