// End to end in a browser: the GPU kernels (CSR SpMM, sparse 1x1 convolution from a packed
// plan with 1x4 blocks and unstructured, dense GEMM, depthwise convolution) run on WebGPU in
// headless Chromium, driven by playwright-core, and are checked in the page against the f64
// references and the WebAssembly CPU backend within the f32 bound of testing.ts.
//
// tests/browser/entry.ts is bundled for the browser with `deno bundle`, and served with
// tests/browser/index.html and the kernel modules (as/build/*.wasm) from 127.0.0.1 (a secure
// context, as WebGPU requires). tests/browser/drive.ts, a child `deno run -A` (playwright-core
// needs every permission under Deno; see there), opens the page in Chromium, waits for the
// report the page publishes as `globalThis.__sparsekitBrowser` and writes it to a file.
//
// Needs Debian's /usr/bin/chromium (CI installs it, and mesa-vulkan-drivers). Without it the
// test is skipped, saying so, unless SPARSEKIT_REQUIRE_GPU=1 (as CI sets it): then it fails.
// Chromium's adapter is its own SwiftShader Vulkan (a fallback adapter, not Mesa's llvmpipe
// that Deno's WebGPU gets), so this also runs every kernel on a second WebGPU implementation.
import assert from "node:assert/strict";
import type { BrowserReport } from "./browser/entry.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../", import.meta.url);
const REQUIRED = Deno.env.get("SPARSEKIT_REQUIRE_GPU") === "1";
/** The driver's own limits (launch 60 s, page 120 s) plus its start; then it is killed. */
const DRIVER_TIMEOUT_MS = 240_000;

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const haveChromium = await exists(CHROMIUM);
if (!haveChromium && !REQUIRED) {
  console.warn(
    `browser test skipped: ${CHROMIUM} is missing (apt-get install chromium; ` +
      "SPARSEKIT_REQUIRE_GPU=1 makes this a failure)",
  );
}

/** Bundles tests/browser/entry.ts for the browser into `dir`; returns the script's text. */
async function bundle(dir: string): Promise<string> {
  const out = `${dir}/entry.js`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--output",
      out,
      new URL("tests/browser/entry.ts", ROOT).pathname,
    ],
    cwd: ROOT.pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(out);
}

/** Serves the page, the bundle and the kernel modules on 127.0.0.1 (a secure context). */
function serve(script: string): Deno.HttpServer<Deno.NetAddr> {
  const page = new URL("tests/browser/index.html", ROOT);
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/" || path === "/index.html") {
      return new Response(await Deno.readFile(page), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    if (path === "/entry.js") {
      return new Response(script, {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      });
    }
    const wasm = /^\/wasm\/(sparsekit\.[a-z]+\.wasm)$/.exec(path);
    if (wasm !== null) {
      try {
        return new Response(await Deno.readFile(new URL(`as/build/${wasm[1]}`, ROOT)), {
          headers: { "content-type": "application/wasm" },
        });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    return new Response("not found", { status: 404 });
  });
}

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs tests/browser/drive.ts on `url`; returns the page's report, or throws with its output. */
async function drive(url: string, dir: string): Promise<BrowserReport> {
  const reportFile = `${dir}/report.json`;
  const { code, signal, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      new URL("tests/browser/drive.ts", ROOT).pathname,
      url,
      CHROMIUM,
      reportFile,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DRIVER_TIMEOUT_MS),
  }).output();
  const output = `${decode(stdout)}${decode(stderr)}`.trim();
  if (code !== 0) {
    throw new Error(
      `tests/browser/drive.ts failed (exit ${code}${signal ? `, ${signal}` : ""}):\n${output}`,
    );
  }
  if (output !== "") console.log(output); // the page's console, if it said anything
  return JSON.parse(await Deno.readTextFile(reportFile));
}

Deno.test({
  name: "browser: GPU kernels in headless Chromium match the CPU within the f32 bound",
  ignore: !haveChromium && !REQUIRED,
  async fn() {
    assert.ok(
      haveChromium,
      `${CHROMIUM} is missing and SPARSEKIT_REQUIRE_GPU=1: the browser GPU test cannot run`,
    );
    const dir = await Deno.makeTempDir({ prefix: "sparsekit-browser-" });
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;
    try {
      server = serve(await bundle(dir));
      const report = await drive(`http://127.0.0.1:${server.addr.port}/`, dir);
      const a = report.adapter;
      console.log(
        a === undefined ? "adapter: none" : `adapter: ${a.description || "(no description)"} ` +
          `(vendor ${a.vendor}, architecture ${a.architecture}, device ${a.device}` +
          `${a.isFallbackAdapter ? ", fallback" : ""}); CPU backend ${report.cpu}`,
      );
      for (const k of report.kernels) {
        console.log(
          `  ${k.pass ? "ok  " : "FAIL"} ${k.name}: max |error| ${k.maxError.toExponential(2)}, ` +
            `${(100 * k.maxRatio).toFixed(1)}% of the bound, ${k.elements} elements` +
            (k.error === undefined ? "" : ` (${k.error})`),
        );
      }
      assert.equal(report.status, "done", `the page could not run the kernels: ${report.error}`);
      assert.ok(report.kernels.length > 0, "the page ran no kernels");
      const failed = report.kernels.filter((k) => !k.pass).map((k) => `${k.name}: ${k.error}`);
      assert.deepEqual(failed, [], `kernels failed in the browser:\n${failed.join("\n")}`);
    } finally {
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
