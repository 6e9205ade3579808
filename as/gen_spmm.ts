/**
 * Generates as/spmm.ts, the sparse-times-dense microkernels, from one template: every
 * (output-channel block, pixel-tile width) pair is written out with its accumulators in
 * named locals, so V8 keeps them in registers. Run by `deno task build` before compiling;
 * tests/build_test.ts checks the committed file is what this script writes.
 *
 * The kernels read one interleaved stream per plan section (laid out by kernels/wasm.ts from
 * a PlanSection, see {@link CHUNK}): per block of B output channels, B biases, then the
 * block's stored columns in chunks of U (U*B weights, then the U increments), then the
 * n mod U leftover columns one at a time (B weights, then the increment). One pointer
 * walks weights and increments together, and a chunk's weights come in with one vector
 * load: without WebAssembly trap handlers (Deno does not enable them) V8 bounds-checks
 * every memory access with a compare and a branch, so fewer loads per FMA is what counts.
 * Increments are in bytes, written by the host for the distance between input channels as
 * the kernel reads them (a multiply per column fewer: about 2.5% on the MobileNet v1 layers).
 *
 * Staging: when the host passes a slot size `stage`, each tile's inputs are first copied
 * into `scratch`, one slot per input channel, and the tile reads them there (see
 * kernels/wasm.ts STAGE_MIN_TILE_BYTES for when that pays).
 *
 * Usage: deno run --allow-write as/gen_spmm.ts [--check]
 * @module
 */

/** Main tile width, in 4-pixel vectors, per block size: B * V accumulators. */
export const MAIN_VECTORS: Record<number, number> = { 1: 12, 2: 4, 4: 2 };
/**
 * Stored columns per chunk of the stream, per block size (exported to the host by
 * `spmmChunk`). A chunk of 2 lets 2-channel blocks take both columns' weights in one vector
 * load; 1-channel and 4-channel kernels measured fastest column by column (larger chunks
 * made V8 spill accumulators).
 */
export const CHUNK: Record<number, number> = { 1: 1, 2: 2, 4: 1 };
/**
 * Columns per trip of the main loop, for block sizes whose chunk is one column: the 1-channel
 * kernel runs two columns per trip (one loop-back branch and one interrupt check per two
 * columns instead of one: about 6% faster on the MobileNet v1 layers at 90%).
 */
export const UNROLL: Record<number, number> = { 1: 2, 2: 1, 4: 1 };
/** Scalar flavour: a 4-pixel main tile (B*4 f32 accumulators). */
export const SCALAR_WIDTH = 4;

/** Splat of lane `i` of an f32x4 (weights loaded as one vector). */
function lane(m: string, i: number): string {
  return `i32x4.shuffle(${m}, ${m}, ${i}, ${i}, ${i}, ${i})`;
}

/**
 * One SIMD microkernel: `groups` blocks of `b` output channels over `v` vectors of `lanes`
 * pixels (lanes < 4 only with v = 1, for rows of fewer than 4 pixels).
 */
function simdKernel(b: number, v: number, lanes = 4): string {
  const u = CHUNK[b];
  const chunkBytes = 4 * u * (b + 1);
  const tailBytes = 4 * (b + 1);
  const name = lanes === 4 ? `tile_b${b}_v${v}` : `tile_b${b}_p${lanes}`;
  const L: string[] = [];
  L.push(
    `// ${b} output channel${b > 1 ? "s" : ""} x ${v * lanes} pixel${v * lanes > 1 ? "s" : ""}`,
  );
  L.push(`@inline function ${name}(`);
  L.push(`  groups: u32, x: usize, y: usize, yStride: usize,`);
  L.push(`  w: usize, nnzmap: usize, vmin: v128, vmax: v128,`);
  L.push(`): void {`);
  L.push(`  for (let g: u32 = 0; g < groups; g++) {`);
  L.push(`    const n = load<u32>(nnzmap);`);
  L.push(`    nnzmap += 4;`);
  // The block's biases: one load, each splatted from its lane (a lone bias loaded splatted).
  if (b > 1) {
    L.push(`    const bv = ${b === 4 ? "v128.load" : "v128.load64_zero"}(w);`);
  }
  for (let c = 0; c < b; c++) {
    L.push(`    const s${c} = ${b === 1 ? "v128.load32_splat(w)" : lane("bv", c)};`);
    for (let i = 0; i < v; i++) L.push(`    let a${c}_${i} = s${c};`);
  }
  L.push(`    w += ${4 * b};`);
  const load = (i: number) =>
    lanes === 4
      ? `v128.load(x, ${16 * i})`
      : lanes === 2
      ? `v128.load64_zero(x)`
      : `v128.load32_zero(x)`;
  // One column: inputs loaded one vector at a time and used at once, so at most the
  // block's weight splats and one input vector are live besides the accumulators.
  const column = (ks: string[], ind: string, tag: string, acc = "a") => {
    for (let i = 0; i < v; i++) {
      const xv = `x${tag}_${i}`;
      L.push(`${ind}const ${xv} = ${load(i)};`);
      for (let c = 0; c < b; c++) {
        L.push(`${ind}${acc}${c}_${i} = madd(${xv}, ${ks[c]}, ${acc}${c}_${i});`);
      }
    }
  };
  // One stored column at byte offset `at` of the stream: B weights (each loaded splatted),
  // then its increment.
  const columnAt = (at: number, ind2: string, tag: string, acc = "a") => {
    const ks: string[] = [];
    for (let c = 0; c < b; c++) {
      L.push(`${ind2}const k${tag}_${c} = v128.load32_splat(w, ${at + 4 * c});`);
      ks.push(`k${tag}_${c}`);
    }
    L.push(`${ind2}const d${tag} = load<usize>(w, ${at + 4 * b});`);
    column(ks, ind2, tag, acc);
    L.push(`${ind2}x += <usize>d${tag};`);
  };
  const epilogue = () => {
    for (let c = 0; c < b; c++) {
      for (let i = 0; i < v; i++) {
        // pmax/pmin in this order propagate a NaN accumulator, as min/max would, in one
        // instruction each (f32x4.min/max need a NaN-fixing sequence on x86).
        const val = `f32x4.pmin(f32x4.pmax(a${c}_${i}, vmin), vmax)`;
        const at = c === 0 ? "y" : `y + ${c} * yStride`;
        if (lanes === 4) L.push(`    v128.store(${at}, ${val}, ${16 * i});`);
        else if (lanes === 2) L.push(`    v128.store64_lane(${at}, ${val}, 0);`);
        else L.push(`    v128.store32_lane(${at}, ${val}, 0);`);
      }
    }
    L.push(`    y += ${b} * yStride;`);
    L.push(`  }`);
    L.push(`}`);
  };
  const ind = "        ";
  if (u === 1 && UNROLL[b] > 1) {
    // Whole trips of UNROLL columns, each column as the tail below (weights splatted, then its
    // increment), then the n mod UNROLL columns left one at a time.
    // Narrow tiles (a vector or two, as in a fully connected layer on one image) would wait on
    // each multiply-add's latency: there the trip's columns go to separate accumulators, summed
    // before the clamp. They start at -0, which adds nothing to any value, -0 included.
    const r = UNROLL[b];
    const split = lanes < 4 || v <= 2;
    const sets = split ? r : 1;
    for (let j = 1; j < sets; j++) {
      for (let c = 0; c < b; c++) {
        for (let i = 0; i < v; i++) L.push(`    let h${j}_${c}_${i} = f32x4.splat(-0.0);`);
      }
    }
    L.push(`    let end = w + (<usize>(n / ${r}) * ${r * tailBytes});`);
    L.push(`    if (w < end) {`);
    L.push(`      do {`);
    for (let j = 0; j < r; j++) {
      columnAt(j * tailBytes, ind, `${j}`, split && j > 0 ? `h${j}_` : "a");
    }
    L.push(`${ind}w += ${r * tailBytes};`);
    L.push(`      } while (w < end);`);
    L.push(`    }`);
    L.push(`    end += <usize>(n % ${r}) * ${tailBytes};`);
    L.push(`    while (w < end) {`);
    columnAt(0, "      ", "t");
    L.push(`      w += ${tailBytes};`);
    L.push(`    }`);
    for (let j = 1; j < sets; j++) {
      for (let c = 0; c < b; c++) {
        for (let i = 0; i < v; i++) {
          L.push(`    a${c}_${i} = f32x4.add(a${c}_${i}, h${j}_${c}_${i});`);
        }
      }
    }
    epilogue();
    return L.join("\n");
  }
  L.push(`    let end = w + (<usize>(n / ${u}) * ${chunkBytes});`);
  L.push(`    if (w < end) {`);
  L.push(`      do {`);
  // The chunk's weights come in as whole vectors, each weight splatted from its lane (a
  // lone weight is loaded splatted).
  const wvecs = Math.ceil((u * b) / 4);
  for (let q = 0; q < wvecs; q++) {
    const bytes = Math.min(4, u * b - 4 * q) * 4;
    const ld = u * b === 1
      ? "v128.load32_splat"
      : bytes === 16
      ? "v128.load"
      : bytes === 8
      ? "v128.load64_zero"
      : "v128.load32_zero";
    L.push(`${ind}const m${q} = ${ld}(w, ${16 * q});`);
  }
  for (let j = 0; j < u; j++) {
    const ks: string[] = [];
    for (let c = 0; c < b; c++) {
      const idx = j * b + c;
      L.push(
        `${ind}const k${j}_${c} = ${u * b === 1 ? "m0" : lane(`m${idx >> 2}`, idx & 3)};`,
      );
      ks.push(`k${j}_${c}`);
    }
    L.push(`${ind}const d${j} = load<usize>(w, ${4 * (u * b + j)});`);
    column(ks, ind, `${j}`);
    L.push(`${ind}x += <usize>d${j};`);
  }
  L.push(`${ind}w += ${chunkBytes};`);
  L.push(`      } while (w < end);`);
  L.push(`    }`);
  const tail = (ind2: string) => {
    columnAt(0, ind2, "t");
    L.push(`${ind2}w += ${tailBytes};`);
  };
  if (u === 1) {
    // No leftover columns.
  } else if (u === 2) {
    L.push(`    if (n & 1) {`);
    tail("      ");
    L.push(`    }`);
  } else {
    L.push(`    end += <usize>(n % ${u}) * ${tailBytes};`);
    L.push(`    while (w < end) {`);
    tail("      ");
    L.push(`    }`);
  }
  epilogue();
  return L.join("\n");
}

/** The scalar twin of {@link simdKernel}, for hosts without SIMD: `p` pixels, same stream. */
function scalarKernel(b: number, p: number): string {
  const u = CHUNK[b];
  const L: string[] = [];
  L.push(`@inline function scalar_b${b}_p${p}(`);
  L.push(`  groups: u32, x: usize, y: usize, yStride: usize,`);
  L.push(`  w: usize, nnzmap: usize, fmin: f32, fmax: f32,`);
  L.push(`): void {`);
  L.push(`  for (let g: u32 = 0; g < groups; g++) {`);
  L.push(`    const n = load<u32>(nnzmap);`);
  L.push(`    nnzmap += 4;`);
  for (let c = 0; c < b; c++) {
    L.push(`    const s${c} = load<f32>(w, ${4 * c});`);
    for (let i = 0; i < p; i++) L.push(`    let a${c}_${i} = s${c};`);
  }
  L.push(`    w += ${4 * b};`);
  L.push(`    for (let k: u32 = 0; k < n; k++) {`);
  L.push(
    `      // Column k sits in a chunk of ${u} (weights, then increments) or among the leftovers.`,
  );
  L.push(`      const j = k % ${u};`);
  L.push(`      const full = k < n - n % ${u};`);
  L.push(`      const wk = full ? w + (<usize>j << 2) * ${b} : w;`);
  L.push(`      const dk = full ? w + ${4 * u * b} + (<usize>j << 2) : w + ${4 * b};`);
  for (let i = 0; i < p; i++) L.push(`      const x${i} = load<f32>(x, ${4 * i});`);
  for (let c = 0; c < b; c++) {
    L.push(`      const k${c} = load<f32>(wk, ${4 * c});`);
    for (let i = 0; i < p; i++) L.push(`      a${c}_${i} += x${i} * k${c};`);
  }
  L.push(`      x += load<usize>(dk);`);
  L.push(`      if (!full) w += ${4 * (b + 1)};`);
  L.push(`      else if (j == ${u - 1}) w += ${4 * u * (b + 1)};`);
  L.push(`    }`);
  for (let c = 0; c < b; c++) {
    for (let i = 0; i < p; i++) {
      const at = c === 0 ? "y" : `y + ${c} * yStride`;
      L.push(`    store<f32>(${at}, clamp(a${c}_${i}, fmin, fmax), ${4 * i});`);
    }
  }
  L.push(`    y += ${b} * yStride;`);
  L.push(`  }`);
  L.push(`}`);
  return L.join("\n");
}

/**
 * Staging copies, for inputs read many times per tile (see kernels/wasm.ts stageBytes): the
 * tile's columns of every channel go to slots \`stage\` bytes apart (a multiple of 64), so a
 * tile's inputs sit in few cache lines and pages instead of one stretch per channel row.
 */
const STAGING =
  `/** Copies \`vecs\` vectors from each of \`channels\` rows into slots \`stage\` bytes apart. */
@inline function stageVectors(
  x: usize, xStride: usize, channels: u32, s: usize, stage: usize, vecs: u32,
): void {
  const bytes = <usize>vecs << 4;
  for (let c: u32 = 0; c < channels; c++) {
    let i: usize = 0;
    do {
      v128.store(s + i, v128.load(x + i));
      i += 16;
    } while (i < bytes);
    x += xStride;
    s += stage;
  }
}

/** Copies the first \`pixels\` floats of each of \`channels\` rows into slots \`stage\` bytes apart. */
@inline function stageRow(
  x: usize, xStride: usize, channels: u32, s: usize, stage: usize, pixels: u32,
): void {
  const whole = <usize>(pixels >> 2) << 4;
  const bytes = <usize>pixels << 2;
  for (let c: u32 = 0; c < channels; c++) {
    let i: usize = 0;
    for (; i < whole; i += 16) v128.store(s + i, v128.load(x + i));
    for (; i < bytes; i += 4) store<f32>(s + i, load<f32>(x + i));
    x += xStride;
    s += stage;
  }
}`;

function call(fn: string, at: string, lim: string, xat = at): string {
  return `${fn}(groups, x0 + (<usize>(${xat}) << 2), y + (<usize>(${at}) << 2), yStride, w, nnzmap, ${lim});`;
}

function entry(b: number): string {
  const main = MAIN_VECTORS[b];
  const L: string[] = [];
  L.push(`/**`);
  L.push(
    ` * Sparse (${b}-channel blocks) x dense: for each of \`groups\` blocks of ${b} output channels,`,
  );
  L.push(` * y[c][p] = clamp(bias[c] + sum over the block's nonzeros of w * x[channel][p]).`);
  L.push(
    ` * Pointers are byte offsets; \`x\` starts at input channel \`first\`; \`w\` is the section's`,
  );
  L.push(
    ` * stream (see as/gen_spmm.ts), whose increments chain over all groups, wrapping to \`first\`.`,
  );
  L.push(
    ` * The row is cut into the fewest tiles of at most ${4 * main} pixels, of near-equal widths.`,
  );
  L.push(` */`);
  L.push(`export function spmm${b}(`);
  L.push(`  pixels: u32, x: usize, xStride: usize, y: usize, yStride: usize,`);
  L.push(`  groups: u32, w: usize, nnzmap: usize, first: u32, fmin: f32, fmax: f32,`);
  L.push(`  channels: u32, stage: usize, scratch: usize,`);
  L.push(`): void {`);
  L.push(`  let p: u32 = 0;`);
  L.push(`  if (ASC_FEATURE_SIMD) {`);
  L.push(
    `    // Staged: each tile's inputs are first copied to \`scratch\`, one slot per channel.`,
  );
  L.push(`    const x0 = stage ? scratch + <usize>first * stage : x + <usize>first * xStride;`);
  L.push(`    const vmin = f32x4.splat(fmin);`);
  L.push(`    const vmax = f32x4.splat(fmax);`);
  // Split the row's vectors evenly over the fewest tiles of at most ${main}: a narrow last
  // tile would pay the whole per-nonzero overhead for a few pixels.
  L.push(`    const nv = (pixels + 3) >> 2;`);
  L.push(`    const tiles = (nv + ${main - 1}) / ${main};`);
  L.push(`    if (tiles > 1 || nv << 2 == pixels) {`);
  L.push(`      const narrow = nv / tiles;`);
  L.push(`      const wide = nv % tiles;`);
  L.push(`      for (let t: u32 = 0; t < tiles; t++) {`);
  L.push(`        const vecs = narrow + u32(t < wide);`);
  L.push(
    `        // The last tile ends at the last pixel (it may recompute a few pixels of the one`,
  );
  L.push(`        // before it, which is harmless).`);
  L.push(`        const at = min(p, pixels - (vecs << 2));`);
  L.push(`        let xa = at;`);
  L.push(`        if (stage) {`);
  L.push(`          stageVectors(x + (<usize>at << 2), xStride, channels, scratch, stage, vecs);`);
  L.push(`          xa = 0;`);
  L.push(`        }`);
  L.push(`        switch (vecs) {`);
  for (let v = 1; v <= main; v++) {
    L.push(`          case ${v}: ${call(`tile_b${b}_v${v}`, "at", "vmin, vmax", "xa")} break;`);
  }
  L.push(`        }`);
  L.push(`        p += vecs << 2;`);
  L.push(`      }`);
  L.push(`    } else {`);
  L.push(
    `      // Fewer than ${4 * main} pixels, not a multiple of 4: whole vectors, then 2 and 1.`,
  );
  L.push(`      if (stage) stageRow(x, xStride, channels, scratch, stage, pixels);`);
  L.push(`      const full = pixels >> 2;`);
  L.push(`      switch (full) {`);
  for (let v = 1; v < main; v++) {
    L.push(`        case ${v}: ${call(`tile_b${b}_v${v}`, "0", "vmin, vmax")} break;`);
  }
  L.push(`      }`);
  L.push(`      p = full << 2;`);
  L.push(`      if (p + 2 <= pixels) {`);
  L.push(`        ${call(`tile_b${b}_p2`, "p", "vmin, vmax")}`);
  L.push(`        p += 2;`);
  L.push(`      }`);
  L.push(`      if (p < pixels) ${call(`tile_b${b}_p1`, "p", "vmin, vmax")}`);
  L.push(`    }`);
  L.push(`  } else {`);
  L.push(`    const x0 = x + <usize>first * xStride;`);
  L.push(`    while (p + ${SCALAR_WIDTH} <= pixels) {`);
  L.push(`      ${call(`scalar_b${b}_p${SCALAR_WIDTH}`, "p", "fmin, fmax")}`);
  L.push(`      p += ${SCALAR_WIDTH};`);
  L.push(`    }`);
  for (let r = SCALAR_WIDTH >> 1; r >= 1; r >>= 1) {
    L.push(`    if (p + ${r} <= pixels) {`);
    L.push(`      ${call(`scalar_b${b}_p${r}`, "p", "fmin, fmax")}`);
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
    STAGING,
    "",
    "/**",
    " * Bytes of the widest tile `spmm<block>` (SIMD) cuts a row of `pixels` into, per input channel:",
    " * a staging slot (see `stage`) must hold at least this many.",
    " */",
    "export function spmmTileBytes(block: u32, pixels: u32): u32 {",
    `  const main: u32 = block == 4 ? ${MAIN_VECTORS[4]} : block == 2 ? ${MAIN_VECTORS[2]} : ${
      MAIN_VECTORS[1]
    };`,
    "  const nv = (pixels + 3) >> 2;",
    "  const tiles = (nv + main - 1) / main;",
    "  const widest = tiles == 0 ? 0 : (nv + tiles - 1) / tiles;",
    "  return widest << 4;",
    "}",
    "",
    "/** Stored columns per chunk of the weight stream for `block`-channel sections. */",
    "export function spmmChunk(block: u32): u32 {",
    `  return block == 4 ? ${CHUNK[4]} : block == 2 ? ${CHUNK[2]} : ${CHUNK[1]};`,
    "}",
    "",
  ];
  for (const b of [1, 2, 4]) {
    for (let v = MAIN_VECTORS[b]; v >= 1; v--) parts.push(simdKernel(b, v), "");
    parts.push(simdKernel(b, 1, 2), "", simdKernel(b, 1, 1), "");
    for (let p = SCALAR_WIDTH; p >= 1; p >>= 1) parts.push(scalarKernel(b, p), "");
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
