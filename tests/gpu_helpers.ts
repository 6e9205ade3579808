/**
 * The one place GPU tests get their device. On a machine with no WebGPU adapter at all the
 * GPU tests are skipped, and this says so once; with SPARSEKIT_REQUIRE_GPU=1 (as CI sets it)
 * a missing adapter is a failure instead, so CI never skips them.
 * @module
 */
import { type Gpu, GpuError, requestGpu } from "../gpu/mod.ts";

let cached: Promise<Gpu | undefined> | undefined;

async function acquireForTests(): Promise<Gpu | undefined> {
  try {
    return await requestGpu();
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
