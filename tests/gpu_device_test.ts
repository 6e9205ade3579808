// The GPU device and tensors: acquisition errors, limits named, upload/read round trips with
// awkward widths, disposed and foreign tensors, device loss as an error (never a hang), and
// errors the device reports itself.
import assert from "node:assert/strict";
import { dense, ShapeError } from "../mod.ts";
import { GpuError, requestGpu } from "../gpu/mod.ts";
import { testGpu } from "./gpu_helpers.ts";

const gpu = await testGpu();
const ignore = gpu === undefined;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<GpuError> {
  let caught: unknown;
  await assert.rejects(p, (e) => {
    caught = e;
    return e instanceof GpuError && e.code === code;
  });
  return caught as GpuError;
}

function throwsWith(fn: () => unknown, code: string): GpuError {
  let caught: unknown;
  assert.throws(fn, (e) => {
    caught = e;
    return e instanceof GpuError && e.code === code;
  });
  return caught as GpuError;
}

Deno.test("no WebGPU, no adapter, no device: typed errors that say so", async () => {
  const none = await rejectsWith(requestGpu({ gpu: null }), "unavailable");
  assert.match(none.message, /no WebGPU/);
  const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
  const e = await rejectsWith(requestGpu({ gpu: noAdapter }), "no-adapter");
  assert.match(e.message, /mesa-vulkan-drivers/);
  const failing = { requestAdapter: () => Promise.reject(new Error("boom")) } as unknown as GPU;
  await rejectsWith(requestGpu({ gpu: failing }), "no-adapter");
  const refusing = {
    requestAdapter: () =>
      Promise.resolve({
        features: new Set(),
        limits: { maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
        info: {},
        requestDevice: () => Promise.reject(new Error("no")),
      }),
  } as unknown as GPU;
  await rejectsWith(requestGpu({ gpu: refusing }), "no-device");
});

Deno.test({
  name: "upload and read back, every width around the vec4 padding",
  ignore,
  async fn() {
    for (const [rows, cols] of [[0, 0], [0, 5], [3, 0], [1, 1], [2, 3], [3, 4], [4, 5], [5, 17]]) {
      const d = dense(rows, cols, Array.from({ length: rows * cols }, (_, i) => i - 3.25));
      using t = gpu!.upload(d);
      assert.equal(t.stride % 4, 0);
      assert.ok(t.stride >= cols && t.stride < cols + 4);
      const back = await t.read();
      assert.deepEqual([rows, cols, [...back.data]], [rows, cols, [...d.data]]);
      const out = dense(rows, cols);
      assert.equal(await t.read(out), out);
      assert.deepEqual([...out.data], [...d.data]);
      using z = gpu!.alloc(rows, cols);
      assert.ok((await z.read()).data.every((v) => v === 0));
      z.write(d);
      assert.deepEqual([...(await z.read()).data], [...d.data]);
    }
  },
});

Deno.test({
  name: "tensor shape errors name the argument",
  ignore,
  async fn() {
    using t = gpu!.alloc(2, 3);
    assert.throws(() => t.write(dense(3, 2)), (e) => e instanceof ShapeError && e.argument === "d");
    await assert.rejects(
      () => t.read(dense(2, 2)),
      (e) => e instanceof ShapeError && e.argument === "out",
    );
    assert.throws(() => gpu!.alloc(-1, 2), (e) => e instanceof ShapeError && e.argument === "rows");
    assert.throws(
      () => gpu!.alloc(2, 1.5),
      (e) => e instanceof ShapeError && e.argument === "cols",
    );
  },
});

Deno.test({
  name: "a buffer beyond the device's limit is refused, naming the limit",
  ignore,
  fn() {
    const limit = gpu!.limits.maxStorageBufferBindingSize;
    const cols = 4096;
    const rows = Math.floor(limit / 4 / cols) + 1;
    if (rows * cols <= 2 ** 28) {
      const e = throwsWith(() => gpu!.alloc(rows, cols), "limit");
      assert.equal(e.limit, "maxStorageBufferBindingSize");
      assert.equal(e.max, limit);
      assert.match(e.message, /maxStorageBufferBindingSize/);
    }
    const grid = throwsWith(
      () => gpu!.context.fold("grid", gpu!.limits.maxComputeWorkgroupsPerDimension ** 2 + 1),
      "limit",
    );
    assert.equal(grid.limit, "maxComputeWorkgroupsPerDimension");
    const [x, y] = gpu!.context.fold("grid", 100_000);
    assert.ok(x * y >= 100_000 && x <= gpu!.limits.maxComputeWorkgroupsPerDimension);
  },
});

Deno.test({
  name: "disposed and foreign tensors are refused",
  ignore,
  async fn() {
    const t = gpu!.upload(dense(1, 2, [1, 2]));
    t.dispose();
    t.dispose();
    assert.ok(t.disposed);
    await rejectsWith(t.read(), "disposed");
    throwsWith(() => t.write(dense(1, 2)), "disposed");
    using other = await requestGpu();
    using mine = gpu!.alloc(1, 2);
    const e = throwsWith(() => mine.bufferFor(other.context, "x"), "foreign");
    assert.equal(e.argument, "x");
  },
});

Deno.test({
  name: "a lost device is an error, never a hang",
  ignore,
  async fn() {
    const own = await requestGpu();
    const t = own.upload(dense(2, 2, [1, 2, 3, 4]));
    const pending = t.read();
    own.dispose();
    // The read submitted before the loss may finish or fail, but must settle.
    await pending.then(() => {}, (e) => assert.ok(e instanceof GpuError, String(e)));
    await own.finish().catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(own.lost);
    await rejectsWith(t.read(), "lost");
    throwsWith(() => own.alloc(1, 1), "lost");
    t.dispose();
  },
});

Deno.test({
  name: "an error the device reports is surfaced on the next call",
  ignore,
  async fn() {
    const own = await requestGpu();
    try {
      const t = own.upload(dense(1, 1, [1]));
      // A validation error no operator of ours makes: a storage buffer that is also mappable.
      own.context.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE,
      });
      await own.context.device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 50));
      const e = await rejectsWith(t.read(), "gpu");
      assert.match(e.message, /not to be trusted/);
    } finally {
      own.dispose();
    }
  },
});
