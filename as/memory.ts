// Memory layout shared with the host: everything above __heap_base belongs to the host's
// allocator (kernels/wasm.ts); the module itself allocates nothing.

/** First byte the host may use. */
export function heapBase(): usize {
  return __heap_base;
}

/** Which flavour this build is: 2 relaxed SIMD, 1 SIMD, 0 scalar. */
export function flavour(): u32 {
  if (ASC_FEATURE_RELAXED_SIMD) return 2;
  if (ASC_FEATURE_SIMD) return 1;
  return 0;
}
