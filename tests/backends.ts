/**
 * The backends under test: every flavour this host supports, each forced in turn. Shared by
 * the kernel tests so that every kernel is checked on every flavour.
 * @module
 */
import { type Backend, type Flavour, init, supportedFlavours } from "../mod.ts";
import type { Exports } from "../kernels/wasm.ts";

/** Every backend this host can run, fastest first; the TypeScript one is always there. */
export async function allBackends(): Promise<Backend[]> {
  return await Promise.all(supportedFlavours().map((flavour: Flavour) => init({ flavour })));
}

/**
 * The raw exports of one built kernel module (`as/build/sparsekit.<flavour>.wasm`), for the
 * kernel-level tests that call the wasm functions without the host library.
 */
export async function loadKernelExports(
  flavour: "relaxed" | "simd" | "scalar",
): Promise<Exports> {
  const bytes = await Deno.readFile(
    new URL(`../as/build/sparsekit.${flavour}.wasm`, import.meta.url),
  );
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const ex = instance.exports as unknown as Exports & { _initialize?: () => void };
  ex._initialize?.();
  return ex;
}
