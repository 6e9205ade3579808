// The 90% unstructured 1-channel kernel on four MobileNet v1 1x1 shapes, runnable under Deno and,
// bundled, under Node: compares V8 with the wasm trap handler (Node) and without it (Deno).
//
//   deno run --allow-read bench/node_compare.ts relaxed
//   deno bundle --platform=deno -o /tmp/node_compare.mjs bench/node_compare.ts
//   node --experimental-wasm-relaxed-simd /tmp/node_compare.mjs relaxed [path/to/as/build]
import { readFileSync } from "node:fs";
import { dense, init, packConv1x1, pruneMagnitude } from "../mod.ts";

// deno-lint-ignore no-explicit-any
const argv: string[] = (globalThis as any).process?.argv?.slice(2) ?? [];
const flavour = argv[0] ?? "simd";
const dir = argv[1] ?? new URL("../as/build/", import.meta.url).pathname;
const backend = await init({ bytes: readFileSync(`${dir}/sparsekit.${flavour}.wasm`) });
let s = 1;
const rnd = () => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s / 2 ** 32 - 0.5;
};
for (
  const [cin, cout, px] of [[128, 128, 3136], [256, 256, 784], [512, 512, 196], [1024, 1024, 49]]
) {
  const w = pruneMagnitude(dense(cout, cin, Array.from({ length: cin * cout }, rnd)), 0.9);
  const plan = backend.prepare(packConv1x1(w, { min: 0, max: 6, blockSize: 1 }));
  const x = backend.upload(dense(cin, px, Array.from({ length: cin * px }, () => rnd() + 0.5)));
  const y = backend.alloc(cout, px);
  for (let i = 0; i < 200; i++) backend.conv1x1(plan, x, y);
  const t: number[] = [];
  for (let r = 0; r < 31; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) backend.conv1x1(plan, x, y);
    t.push((performance.now() - t0) / 20);
  }
  t.sort((a, b) => a - b);
  const flops = 2 * Math.round(cin * cout * 0.1) * px;
  for (const r of [plan, x, y]) r.dispose(); // no `using`: Node 20 lacks it
  console.log(`${cin}->${cout} @${px} px: ${(flops / t[15] / 1e6).toFixed(1)} GFLOP/s (median)`);
}
