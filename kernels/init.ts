/**
 * Finding and loading the best backend for this host: feature detection of relaxed SIMD and
 * SIMD, loading the matching .wasm from the package's own URL (file or http), from bytes, or
 * from a precompiled WebAssembly.Module for hosts that forbid compiling at run time.
 * @module
 */
import { type Backend, type Flavour, FLAVOURS } from "./backend.ts";
import { BackendError } from "./errors.ts";
import { jsBackend } from "./js.ts";
import { wasmBackend } from "./wasm.ts";

/** Where the kernel module comes from, and which flavour to use. */
export interface InitOptions {
  /**
   * Force a flavour instead of detecting the best one. Forcing a flavour the host cannot run
   * is a BackendError. With `module` or `bytes`, the flavour is read from the module itself
   * and this, if given, must match it.
   */
  readonly flavour?: Flavour;
  /**
   * A compiled kernel module (one of `as/build/sparsekit.*.wasm`), for hosts where compiling
   * WebAssembly from bytes at run time is forbidden (Cloudflare Workers, Vercel Edge): import
   * the .wasm there as a module and hand it in.
   */
  readonly module?: WebAssembly.Module;
  /** The bytes of a kernel module. */
  readonly bytes?: BufferSource;
  /**
   * Where to load the .wasm files from: a folder URL holding `sparsekit.<flavour>.wasm`.
   * Default: the package's own `as/build/` folder, next to this module (file: or http:).
   */
  readonly baseUrl?: string | URL;
}

// Smallest modules that use one SIMD and one relaxed-SIMD instruction: WebAssembly.validate
// on them tells what the engine supports without compiling anything large.
const HEADER = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0];
const CONST = [253, 12, ...new Array(16).fill(0)];
const SIMD_PROBE = new Uint8Array([...HEADER, 10, 22, 1, 20, 0, ...CONST, 11]);
const RELAXED_PROBE = new Uint8Array([
  ...HEADER,
  10,
  61,
  1,
  59,
  0,
  ...CONST,
  ...CONST,
  ...CONST,
  253,
  133,
  2,
  11,
]);

/**
 * Which flavours this host can run, fastest first (always ending in `"js"`).
 *
 * @example
 * ```ts
 * import { supportedFlavours } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(supportedFlavours().at(-1), "js");
 * ```
 */
export function supportedFlavours(): Flavour[] {
  const out: Flavour[] = [];
  if (typeof WebAssembly === "object") {
    if (WebAssembly.validate(RELAXED_PROBE)) out.push("relaxed");
    if (WebAssembly.validate(SIMD_PROBE)) out.push("simd");
    out.push("scalar");
  }
  out.push("js");
  return out;
}

async function readUrl(url: URL): Promise<Uint8Array | Response> {
  if (url.protocol === "file:") {
    // deno-lint-ignore no-explicit-any
    const deno = (globalThis as any).Deno;
    if (deno?.readFile) return await deno.readFile(url);
    const fs = await import("node:fs/promises");
    return new Uint8Array(await fs.readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new BackendError(
      { argument: "baseUrl", value: url.href },
      `HTTP ${response.status} loading the kernel module`,
    );
  }
  return response;
}

async function compile(source: Uint8Array | Response, where: string): Promise<WebAssembly.Module> {
  try {
    if (source instanceof Response) {
      const streaming = source.headers.get("content-type") === "application/wasm" &&
        typeof WebAssembly.compileStreaming === "function";
      return streaming
        ? await WebAssembly.compileStreaming(source)
        : await WebAssembly.compile(await source.arrayBuffer());
    }
    return await WebAssembly.compile(source as BufferSource);
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError(
      { argument: "module", value: where },
      `could not compile the kernel module: ${e}`,
    );
  }
}

async function instantiate(
  module: WebAssembly.Module,
  flavour: Flavour | undefined,
): Promise<Backend> {
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, {});
  } catch (e) {
    throw new BackendError(
      { argument: "module", value: "instantiate" },
      `could not instantiate the kernel module: ${e}`,
    );
  }
  const backend = wasmBackend(instance);
  if (flavour !== undefined && backend.flavour !== flavour) {
    throw new BackendError(
      { argument: "options.flavour", value: flavour },
      `does not match the module handed in, which is the ${backend.flavour} build`,
    );
  }
  return backend;
}

/**
 * Creates a backend: detects the best flavour this host supports (relaxed SIMD, then SIMD,
 * then scalar WebAssembly, then TypeScript) and loads its kernel module, or uses the module,
 * bytes or flavour given. The result is an immutable value; create as many as you like.
 *
 * @param options flavour override and module source
 * @returns a ready backend
 * @throws {BackendError} when a forced flavour is unsupported here, or the module cannot be loaded
 *
 * @example Detect the best backend and multiply
 * ```ts
 * import { csr, dense, init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const backend = await init();
 * const c = backend.spmm(csr(2, 2, [0, 1, 2], [1, 0], [2, 3]), dense(2, 1, [10, 20]));
 * assert.deepEqual([...c.data], [40, 30]);
 * ```
 *
 * @example Force a flavour
 * ```ts
 * import { init } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const scalar = await init({ flavour: "scalar" });
 * assert.equal(scalar.flavour, "scalar");
 * ```
 */
export async function init(options: InitOptions = {}): Promise<Backend> {
  const { flavour } = options;
  if (flavour !== undefined && !FLAVOURS.includes(flavour)) {
    throw new BackendError(
      { argument: "options.flavour", value: flavour },
      `expected one of ${FLAVOURS.join(", ")}`,
    );
  }
  if (options.module !== undefined) {
    if (!(options.module instanceof WebAssembly.Module)) {
      throw new BackendError(
        { argument: "options.module", value: options.module },
        "expected a WebAssembly.Module",
      );
    }
    return await instantiate(options.module, flavour);
  }
  if (options.bytes !== undefined) {
    return await instantiate(await compile(options.bytes as Uint8Array, "options.bytes"), flavour);
  }
  const supported = supportedFlavours();
  if (flavour !== undefined && !supported.includes(flavour)) {
    throw new BackendError(
      { argument: "options.flavour", value: flavour },
      `is not supported by this host (it supports ${supported.join(", ")})`,
    );
  }
  const chosen = flavour ?? supported[0];
  if (chosen === "js") return jsBackend;
  let base: URL;
  try {
    base = new URL(options.baseUrl ?? "../as/build/", import.meta.url);
  } catch {
    throw new BackendError(
      { argument: "options.baseUrl", value: options.baseUrl },
      "is not a valid URL",
    );
  }
  if (!base.pathname.endsWith("/")) base = new URL(base.href + "/");
  const url = new URL(`sparsekit.${chosen}.wasm`, base);
  let source: Uint8Array | Response;
  try {
    source = await readUrl(url);
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError(
      { argument: "baseUrl", value: url.href },
      `could not load the kernel module: ${e}`,
    );
  }
  return await instantiate(await compile(source, url.href), chosen);
}
