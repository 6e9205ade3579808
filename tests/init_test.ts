// Loading the kernel module every way a host may need: feature detection, forced flavours,
// bytes, a precompiled module where compiling is forbidden, and over HTTP as from JSR.
import assert from "node:assert/strict";
import { BackendError, csr, dense, init, spmm, supportedFlavours } from "../mod.ts";

const root = new URL("../", import.meta.url);
const wasmFile = (flavour: string) => new URL(`as/build/sparsekit.${flavour}.wasm`, root);
// [[0, 2], [3, 0]] times [[1, 2], [3, 4]]
const a = csr(2, 2, [0, 1, 2], [1, 0], [2, 3]);
const b = dense(2, 2, [1, 2, 3, 4]);
const product = [6, 8, 3, 6];

Deno.test("init picks the best flavour the host supports", async () => {
  const backend = await init();
  assert.equal(backend.flavour, supportedFlavours()[0]);
  assert.deepEqual([...spmm(a, b, { backend }).data], product);
});

Deno.test("every flavour can be forced, and computes the same", async () => {
  for (const flavour of supportedFlavours()) {
    const backend = await init({ flavour });
    assert.equal(backend.flavour, flavour);
    assert.deepEqual([...spmm(a, b, { backend }).data], product);
  }
});

Deno.test("an unknown flavour is a BackendError naming it", async () => {
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => init({ flavour: "avx512" as any }),
    (e) => e instanceof BackendError && e.argument === "options.flavour" && e.value === "avx512",
  );
});

Deno.test("forcing a flavour the host lacks is a BackendError; detection falls back", async () => {
  const validate = WebAssembly.validate;
  // A host without relaxed SIMD: its validator rejects the relaxed-SIMD probe.
  WebAssembly.validate = (bytes: BufferSource) => {
    const u = new Uint8Array(bytes as ArrayBuffer);
    const relaxedMadd = u.length < 100 && u.at(-4) === 253 && u.at(-3) === 133 && u.at(-2) === 2;
    return relaxedMadd ? false : validate(bytes);
  };
  try {
    assert.deepEqual(supportedFlavours(), ["simd", "scalar", "js"]);
    await assert.rejects(
      () => init({ flavour: "relaxed" }),
      (e) => e instanceof BackendError && /not supported by this host/.test(e.message),
    );
    assert.equal((await init()).flavour, "simd");
  } finally {
    WebAssembly.validate = validate;
  }
});

Deno.test("init from bytes reads the flavour from the module, and checks a forced one", async () => {
  const bytes = await Deno.readFile(wasmFile("scalar"));
  const backend = await init({ bytes });
  assert.equal(backend.flavour, "scalar");
  assert.deepEqual([...spmm(a, b, { backend }).data], product);
  await assert.rejects(() => init({ bytes, flavour: "simd" }), BackendError);
  await assert.rejects(() => init({ bytes: new Uint8Array([1, 2, 3]) }), BackendError);
});

Deno.test("a missing module file is a BackendError naming the URL", async () => {
  await assert.rejects(
    () => init({ baseUrl: new URL("does-not-exist/", root), flavour: "simd" }),
    (e) => e instanceof BackendError && String(e.value).includes("does-not-exist"),
  );
});

Deno.test("a precompiled module works where compiling from bytes throws (Workers, Vercel Edge)", async () => {
  const module = await WebAssembly.compile(await Deno.readFile(wasmFile("simd")));
  const saved = {
    compile: WebAssembly.compile,
    compileStreaming: WebAssembly.compileStreaming,
    instantiate: WebAssembly.instantiate,
    Module: WebAssembly.Module,
  };
  const refuse = () => {
    throw new WebAssembly.CompileError("Wasm code generation disallowed by embedder");
  };
  const w = WebAssembly as unknown as Record<string, unknown>;
  w.compile = refuse;
  w.compileStreaming = refuse;
  w.instantiate = (source: unknown, imports?: WebAssembly.Imports) =>
    source instanceof saved.Module ? saved.instantiate(source, imports) : refuse();
  w.Module = new Proxy(saved.Module, { construct: refuse });
  try {
    // Loading from the package URL needs compiling: it fails cleanly...
    await assert.rejects(() => init({ flavour: "simd" }), BackendError);
    // ...while the module handed in runs.
    const backend = await init({ module });
    assert.equal(backend.flavour, "simd");
    assert.deepEqual([...spmm(a, b, { backend }).data], product);
  } finally {
    Object.assign(w, saved);
  }
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => init({ module: {} as any }),
    (e) => e instanceof BackendError && e.argument === "options.module",
  );
});

Deno.test("importing the package over HTTP (as from JSR) loads the kernels from the same origin", async () => {
  const types: Record<string, string> = { ts: "application/typescript", wasm: "application/wasm" };
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    served.push(path);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(new URL(`.${path}`, root));
      return new Response(body, {
        headers: { "content-type": types[path.split(".").pop()!] ?? "text/plain" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const script = `
    import { csr, dense, init, spmm } from "${origin}/mod.ts";
    const backend = await init();
    const c = spmm(csr(2, 2, [0, 1, 2], [1, 0], [2, 3]), dense(2, 2, [1, 2, 3, 4]), { backend });
    console.log(JSON.stringify({ flavour: backend.flavour, data: [...c.data] }));
  `;
  const denoDir = await Deno.makeTempDir();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        "--no-config",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        `--allow-net=127.0.0.1`,
        "-",
      ],
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assert.deepEqual(result.data, product);
    assert.equal(result.flavour, supportedFlavours()[0]);
    assert.ok(served.includes(`/as/build/sparsekit.${result.flavour}.wasm`), served.join(" "));
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
  }
});
