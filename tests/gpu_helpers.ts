/**
 * The one place GPU tests get their device. On a machine with no WebGPU adapter at all the
 * GPU tests are skipped, and this says so once; with SPARSEKIT_REQUIRE_GPU=1 (as CI sets it)
 * a missing adapter is a failure instead, so CI never skips them.
 * @module
 */
import type { Dense } from "../mod.ts";
import { type Gpu, GpuError, type GpuTensor, requestGpu } from "../gpu/mod.ts";

let cached: Promise<Gpu | undefined> | undefined;

async function acquireForTests(): Promise<Gpu | undefined> {
  try {
    const gpu = await requestGpu();
    // Each test module runs in its own isolate: destroy its device when the module is done
    // rather than leaving it to the isolate's teardown, while other modules use theirs.
    globalThis.addEventListener("unload", () => gpu.dispose());
    return gpu;
  } catch (e) {
    const required = Deno.env.get("SPARSEKIT_REQUIRE_GPU") === "1";
    if (
      e instanceof GpuError && (e.code === "unavailable" || e.code === "no-adapter") && !required
    ) {
      console.warn(`GPU tests skipped: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}

/**
 * The shared test device, or undefined (after one warning) on a host without an adapter.
 * Tests that destroy a device must request their own.
 */
export function testGpu(): Promise<Gpu | undefined> {
  cached ??= acquireForTests();
  return cached;
}

/** Whether GPU tests run here: `ignore: !(await hasGpu())` in a `Deno.test` definition. */
export async function hasGpu(): Promise<boolean> {
  return (await testGpu()) !== undefined;
}

/** What the padding columns of uploaded tensors hold: finite garbage that must not leak. */
export const GARBAGE = 1e30;

/**
 * Uploads `d` with its padding columns (the tail of each stored row past `cols`) set to
 * {@link GARBAGE}, so that a kernel which lets padding reach a real result fails its test.
 */
export function uploadWithGarbage(g: Gpu, d: Dense): GpuTensor {
  const t = g.upload(d);
  if (t.stride === d.cols || d.rows === 0) return t;
  const data = new Float32Array(d.rows * t.stride).fill(GARBAGE);
  for (let i = 0; i < d.rows; i++) {
    data.set(d.data.subarray(i * d.cols, (i + 1) * d.cols), i * t.stride);
  }
  g.context.device.queue.writeBuffer(t.bufferFor(g.context, "d"), 0, data);
  return t;
}
