/**
 * Tuning harness for the sparse 1x1-convolution kernels: the nine MobileNet v1 1x1 layers on
 * resident tensors, effective GFLOP/s = 2 * nnz * HW / t (median of rounds). Several builds of
 * the kernel module can be compared in one run (rounds interleaved, so machine noise hits
 * them alike).
 *
 * Usage: deno run -A bench/spmm_tune.ts [--flavour relaxed] [--sparsity 0.9]
 *          [--block 1|2|4|auto] [--prune unstructured|blocks] [--rounds 25]
 *          [--layers mobilenet|micro] [DIR ...]
 * DIR: folders holding sparsekit.<flavour>.wasm (default: as/build).
 * `--prune blocks` prunes whole 1xB output-channel blocks (B = --block) with pruneBlocks.
 * @module
 */
import { dense } from "../kernels/dense.ts";
import { packConv1x1 } from "../kernels/pack.ts";
import { pruneBlocks, pruneMagnitude } from "../kernels/prune.ts";
import { tuneSetup } from "./tune.ts";

/** MobileNet v1 1x1 layers: [cin, cout, H*W]. */
export const LAYERS = [
  [32, 64, 12544],
  [64, 128, 3136],
  [128, 128, 3136],
  [128, 256, 784],
  [256, 256, 784],
  [256, 512, 196],
  [512, 512, 196],
  [512, 1024, 49],
  [1024, 1024, 49],
] as const;
/** Cache-resident shapes for kernel-only measurements (`--layers micro`). */
export const MICRO = [
  [256, 64, 32],
  [128, 64, 28],
  [64, 64, 64],
] as const;

const { opts: args, dirs, backends } = await tuneSetup({
  flavour: "relaxed",
  sparsity: "0.9",
  block: "1",
  prune: "unstructured",
  rounds: "25",
  layers: "mobilenet",
});
const flavour = args.flavour;
const sparsity = Number(args.sparsity);
const block = args.block === "auto" ? "auto" : Number(args.block) as 1 | 2 | 4;
const rounds = Number(args.rounds);

// Deterministic pseudo-random data, so runs are comparable.
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

// Warm-up: V8 first runs a wasm function on its baseline compiler and swaps in the optimised
// code (compiled in the background; the big kernel functions take a while) only later, so
// every build first runs a mid-sized layer for at least a second.
for (const be of backends) {
  const w = pruneMagnitude(
    dense(128, 128, Array.from({ length: 128 * 128 }, () => rand() - 0.5)),
    0.9,
  );
  using p = be.prepare(packConv1x1(w, { blockSize: block }));
  using xt = be.upload(dense(128, 784, new Float32Array(128 * 784).fill(0.5)));
  using out = be.alloc(128, 784);
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) be.conv1x1(p, xt, out);
}

const logs = new Array(dirs.length).fill(0);
console.log(`flavour=${flavour} sparsity=${sparsity} block=${block} prune=${args.prune}`);
const layers = args.layers === "micro" ? MICRO : LAYERS;
for (const [cin, cout, hw] of layers) {
  const w0 = dense(cout, cin, Array.from({ length: cout * cin }, () => rand() - 0.5));
  const w = args.prune === "blocks"
    ? pruneBlocks(w0, sparsity, { block: block === "auto" ? 4 : block })
    : pruneMagnitude(w0, sparsity);
  const x = dense(cin, hw, Array.from({ length: cin * hw }, () => rand()));
  const plan = packConv1x1(w, { blockSize: block });
  const flops = 2 * plan.nnz * hw;
  const reps = Math.max(1, Math.round(2e7 / flops));
  const runs = backends.map((be) => ({
    be,
    p: be.prepare(plan),
    xt: be.upload(x),
    out: be.alloc(cout, hw),
    times: [] as number[],
  }));
  for (let r = 0; r < rounds + 2; r++) {
    for (const run of runs) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) run.be.conv1x1(run.p, run.xt, run.out);
      if (r >= 2) run.times.push((performance.now() - t0) / reps);
    }
  }
  const cells = runs.map((run, i) => {
    run.times.sort((a, b) => a - b);
    const g = flops / (run.times[run.times.length >> 1] / 1e3) / 1e9;
    logs[i] += Math.log(g);
    run.p.dispose();
    run.xt.dispose();
    run.out.dispose();
    return g.toFixed(1).padStart(6);
  });
  console.log(
    `${String(cin).padStart(4)}->${String(cout).padEnd(4)} hw=${
      String(hw).padEnd(5)
    } B=${plan.blockSize} nnz=${String(plan.nnz).padEnd(6)} stored=${
      String(plan.stored).padEnd(6)
    }${cells.join("")}`,
  );
}
console.log(
  `geomean GFLOP/s${" ".repeat(38)}${
    logs.map((l) => Math.exp(l / layers.length).toFixed(1).padStart(6)).join("")
  }`,
);
