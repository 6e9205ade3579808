/**
 * Generates as/spmm.ts, the sparse-times-dense microkernels, from one template: every
 * (output-channel block, pixel-tile width) pair is written out with its accumulators in
 * named locals, so V8 keeps them in registers. Run by `deno task build` before compiling;
 * tests/build_test.ts checks the committed file is what this script writes.
 *
 * Usage: deno run --allow-write as/gen_spmm.ts [--check]
 * @module
 */

/** Main tile width (pixels) per block size: 8 accumulators (two-thirds of the 16 xmm registers). */
export const MAIN_WIDTH: Record<number, number> = {
  1: Number(Deno.env.get("SPMM_W1") ?? 32),
  2: 16,
  4: 8,
};
/** Scalar flavour: a 4-pixel main tile (B*4 f32 accumulators). */
export const SCALAR_WIDTH = 4;

/** The main width, then every power of two below it (the remainder tiles). */
function widthsBelow(w: number): number[] {
  const out: number[] = [w];
  for (let x = 16; x >= 1; x >>= 1) if (x < w) out.push(x);
  return out;
}

/** One SIMD microkernel: `groups` blocks of `b` output channels over a `w`-pixel column. */
function simdKernel(b: number, w: number): string {
  const vecs = Math.max(1, w >> 2);
  const L: string[] = [];
  L.push(`// ${b} output channel${b > 1 ? "s" : ""} x ${w} pixel${w > 1 ? "s" : ""} per step`);
  L.push(`@inline function tile_b${b}_w${w}(`);
  L.push(`  groups: u32, x: usize, xStride: usize, y: usize, yStride: usize,`);
  L.push(`  w: usize, dmap: usize, nnzmap: usize, vmin: v128, vmax: v128,`);
  L.push(`): void {`);
  L.push(`  for (let g: u32 = 0; g < groups; g++) {`);
  L.push(`    const end = dmap + (<usize>load<u32>(nnzmap) << 2);`);
  L.push(`    nnzmap += 4;`);
  for (let c = 0; c < b; c++) {
    L.push(`    const s${c} = v128.load32_splat(w + ${4 * c});`);
    for (let v = 0; v < vecs; v++) L.push(`    let a${c}_${v} = s${c};`);
  }
  L.push(`    w += ${4 * b};`);
  L.push(`    while (dmap < end) {`);
  L.push(`      const d = load<i32>(dmap);`);
  L.push(`      dmap += 4;`);
  // Weights first, then one input vector at a time used at once: at most
  // b + 1 live temporaries besides the accumulators, so nothing spills.
  for (let c = 0; c < b; c++) L.push(`      const k${c} = v128.load32_splat(w + ${4 * c});`);
  const split = Number(Deno.env.get("SPMM_SPLIT") ?? 0);
  for (let v = 0; v < vecs; v++) {
    if (split > 0 && v > 0 && v % split === 0) L.push(`      if (<u32>x != 0xffffffff) {`);
    const load = w >= 4
      ? `v128.load(x, ${16 * v})`
      : w === 2
      ? `v128.load64_zero(x)`
      : `v128.load32_zero(x)`;
    L.push(`      const x${v} = ${load};`);
    for (let c = 0; c < b; c++) L.push(`      a${c}_${v} = madd(x${v}, k${c}, a${c}_${v});`);
  }
  if (split > 0) { for (let v = split; v < vecs; v += split) L.push(`      }`); }
  L.push(`      w += ${4 * b};`);
  L.push(`      x += <usize>(<isize>d * <isize>xStride);`);
  L.push(`    }`);
  for (let c = 0; c < b; c++) {
    for (let v = 0; v < vecs; v++) {
      const val = `f32x4.min(f32x4.max(a${c}_${v}, vmin), vmax)`;
      const at = c === 0 ? "y" : `y + ${c} * yStride`;
      if (w >= 4) L.push(`    v128.store(${at}, ${val}, ${16 * v});`);
      else if (w === 2) L.push(`    v128.store64_lane(${at}, ${val}, 0);`);
      else L.push(`    v128.store32_lane(${at}, ${val}, 0);`);
    }
  }
  L.push(`    y += ${b} * yStride;`);
  L.push(`  }`);
  L.push(`}`);
  return L.join("\n");
}

/** The scalar twin of {@link simdKernel}, for hosts without SIMD. */
function scalarKernel(b: number, w: number): string {
  const L: string[] = [];
  L.push(`@inline function scalar_b${b}_w${w}(`);
  L.push(`  groups: u32, x: usize, xStride: usize, y: usize, yStride: usize,`);
  L.push(`  w: usize, dmap: usize, nnzmap: usize, fmin: f32, fmax: f32,`);
  L.push(`): void {`);
  L.push(`  for (let g: u32 = 0; g < groups; g++) {`);
  L.push(`    const end = dmap + (<usize>load<u32>(nnzmap) << 2);`);
  L.push(`    nnzmap += 4;`);
  for (let c = 0; c < b; c++) {
    L.push(`    const s${c} = load<f32>(w, ${4 * c});`);
    for (let p = 0; p < w; p++) L.push(`    let a${c}_${p} = s${c};`);
  }
  L.push(`    w += ${4 * b};`);
  L.push(`    while (dmap < end) {`);
  L.push(`      const d = load<i32>(dmap);`);
  L.push(`      dmap += 4;`);
  for (let p = 0; p < w; p++) L.push(`      const x${p} = load<f32>(x, ${4 * p});`);
  for (let c = 0; c < b; c++) {
    L.push(`      const k${c} = load<f32>(w, ${4 * c});`);
    for (let p = 0; p < w; p++) L.push(`      a${c}_${p} += x${p} * k${c};`);
  }
  L.push(`      w += ${4 * b};`);
  L.push(`      x += <usize>(<isize>d * <isize>xStride);`);
  L.push(`    }`);
  for (let c = 0; c < b; c++) {
    for (let p = 0; p < w; p++) {
      const at = c === 0 ? "y" : `y + ${c} * yStride`;
      L.push(`    store<f32>(${at}, clamp(a${c}_${p}, fmin, fmax), ${4 * p});`);
    }
  }
  L.push(`    y += ${b} * yStride;`);
  L.push(`  }`);
  L.push(`}`);
  return L.join("\n");
}

function entry(b: number): string {
  const main = MAIN_WIDTH[b];
  const L: string[] = [];
  L.push(`/**`);
  L.push(
    ` * Sparse (${b}-channel blocks) x dense: for each of \`groups\` blocks of ${b} output channels,`,
  );
  L.push(` * y[c][p] = clamp(bias[c] + sum over the block's nonzeros of w * x[channel][p]).`);
  L.push(
    ` * Pointers are byte offsets; \`x\` starts at input channel \`first\`; the dmap holds the`,
  );
  L.push(
    ` * channel increment after each nonzero (chained over all groups, wrapping to \`first\`).`,
  );
  L.push(` */`);
  L.push(`export function spmm${b}(`);
  L.push(`  pixels: u32, x: usize, xStride: usize, y: usize, yStride: usize,`);
  L.push(`  groups: u32, w: usize, dmap: usize, nnzmap: usize, first: u32, fmin: f32, fmax: f32,`);
  L.push(`): void {`);
  L.push(`  const x0 = x + <usize>first * xStride;`);
  L.push(`  let p: u32 = 0;`);
  L.push(`  if (ASC_FEATURE_SIMD) {`);
  L.push(`    const vmin = f32x4.splat(fmin);`);
  L.push(`    const vmax = f32x4.splat(fmax);`);
  L.push(`    while (p + ${main} <= pixels) {`);
  L.push(
    `      tile_b${b}_w${main}(groups, x0 + (<usize>p << 2), xStride, y + (<usize>p << 2), yStride, w, dmap, nnzmap, vmin, vmax);`,
  );
  L.push(`      p += ${main};`);
  L.push(`    }`);
  for (const r of widthsBelow(main).slice(1)) {
    L.push(`    if (p + ${r} <= pixels) {`);
    L.push(
      `      tile_b${b}_w${r}(groups, x0 + (<usize>p << 2), xStride, y + (<usize>p << 2), yStride, w, dmap, nnzmap, vmin, vmax);`,
    );
    L.push(`      p += ${r};`);
    L.push(`    }`);
  }
  L.push(`  } else {`);
  L.push(`    while (p + ${SCALAR_WIDTH} <= pixels) {`);
  L.push(
    `      scalar_b${b}_w${SCALAR_WIDTH}(groups, x0 + (<usize>p << 2), xStride, y + (<usize>p << 2), yStride, w, dmap, nnzmap, fmin, fmax);`,
  );
  L.push(`      p += ${SCALAR_WIDTH};`);
  L.push(`    }`);
  for (const r of widthsBelow(SCALAR_WIDTH).slice(1)) {
    L.push(`    if (p + ${r} <= pixels) {`);
    L.push(
      `      scalar_b${b}_w${r}(groups, x0 + (<usize>p << 2), xStride, y + (<usize>p << 2), yStride, w, dmap, nnzmap, fmin, fmax);`,
    );
    L.push(`      p += ${r};`);
    L.push(`    }`);
  }
  L.push(`  }`);
  L.push(`}`);
  return L.join("\n");
}

/** The whole generated source. */
export function generate(): string {
  const parts: string[] = [
    "// GENERATED by as/gen_spmm.ts — do not edit; run `deno task build`.",
    "// Sparse x dense microkernels (CHW 1x1 convolution / SpMM), XNNPACK-style packed weights.",
    "",
    "@inline function madd(a: v128, b: v128, c: v128): v128 {",
    "  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);",
    "  return f32x4.add(f32x4.mul(a, b), c);",
    "}",
    "",
    "@inline function clamp(v: f32, lo: f32, hi: f32): f32 {",
    "  return min(max(v, lo), hi);",
    "}",
    "",
  ];
  for (const b of [1, 2, 4]) {
    for (const w of widthsBelow(MAIN_WIDTH[b])) parts.push(simdKernel(b, w), "");
    for (const w of widthsBelow(SCALAR_WIDTH)) parts.push(scalarKernel(b, w), "");
    parts.push(entry(b), "");
  }
  return parts.join("\n");
}

if (import.meta.main) {
  const text = generate();
  const file = new URL("./spmm.ts", import.meta.url);
  if (Deno.args.includes("--check")) {
    const old = await Deno.readTextFile(file).catch(() => "");
    if (old !== text) {
      console.error("as/spmm.ts is stale: run `deno task build`");
      Deno.exit(1);
    }
  } else {
    await Deno.writeTextFile(file, text);
  }
}
