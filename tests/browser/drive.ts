/**
 * The playwright side of tests/browser_test.ts, run by it as a child process
 * (`deno run -A tests/browser/drive.ts <page url> <chromium> <report file>`): launches headless
 * Chromium with WebGPU, opens the page, waits for the page's report
 * (`globalThis.__sparsekitBrowser`, see entry.ts) and writes it as JSON to the report file; the
 * page's console and errors go to stderr. Closes the browser in every case.
 *
 * Why a child process: playwright-core works under Deno, but only with every permission. It
 * reads the home directory (`--allow-sys`) and checks `/proc/sys/fs/binfmt_misc/WSLInterop`
 * to detect WSL, and Deno lets a program read under `/proc/sys` only with `--allow-all`. The
 * test task grants less, so the test gives playwright its own process with `-A` (the task's
 * `--allow-run` allows that anyway).
 * @module
 */
import { chromium } from "playwright-core";
import type { BrowserReport } from "./entry.ts";

/** How long the page may take to run every kernel (SwiftShader compiles shaders on the CPU). */
const PAGE_TIMEOUT_MS = 120_000;

/**
 * Chromium's switches. Headless, no sandbox (CI runs as root), WebGPU enabled (on Linux it is
 * still behind a flag) and pinned to SwiftShader, so every host, with or without a GPU or
 * Mesa's drivers, tests the same software adapter; developer features so that the adapter
 * reports its description. The network switches keep a closed-network machine from waiting
 * on update and sync services. Playwright gives each launch a fresh, empty profile directory
 * of its own (it refuses `--user-data-dir` in `launch`) and deletes it on close.
 *
 * Left out on purpose: `--enable-features=Vulkan --use-angle=swiftshader
 * --disable-vulkan-surface` together make Chromium 156's GPU process fail to create Skia's
 * context ("GrContext creation failed", over and over), and the page never loads. WebGPU
 * needs none of them.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--use-webgpu-adapter=swiftshader",
  "--enable-webgpu-developer-features",
  "--ignore-gpu-blocklist",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Opens `url` in Chromium at `executablePath` and returns the page's report. */
export async function drive(url: string, executablePath: string): Promise<BrowserReport> {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS],
    timeout: 60_000,
  });
  try {
    const page = await browser.newPage();
    page.on("console", (m) => console.error(`[page console.${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => globalThis.__sparsekitBrowser !== undefined, undefined, {
      timeout: PAGE_TIMEOUT_MS,
    });
    return await page.evaluate(() => globalThis.__sparsekitBrowser!);
  } finally {
    await browser.close();
  }
}

if (import.meta.main) {
  const [url, executablePath, reportFile] = Deno.args;
  if (reportFile === undefined) {
    console.error("usage: deno run -A tests/browser/drive.ts <page url> <chromium> <report file>");
    Deno.exit(2);
  }
  await Deno.writeTextFile(reportFile, JSON.stringify(await drive(url, executablePath)));
}
