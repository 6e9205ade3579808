// `deno bench` over the MobileNet v1 1x1 layers: every sparse configuration and the dense GEMM
// on the best flavour of this host, one group per layer with the dense GEMM as its baseline.
//
// Run: deno bench --allow-read bench/spmm_bench.ts  (SPARSEKIT_FLAVOUR=simd to pick a flavour,
// which then also needs --allow-env)
import { type Flavour, init } from "../mod.ts";
import { CONFIGS, LAYERS, setupLayer } from "./layers.ts";

function flavourFromEnv(): Flavour | undefined {
  // Ask first: reading the variable without the permission would prompt on a terminal.
  const env = Deno.permissions.querySync({ name: "env", variable: "SPARSEKIT_FLAVOUR" });
  if (env.state !== "granted") return undefined; // detect the best flavour
  return (Deno.env.get("SPARSEKIT_FLAVOUR") as Flavour | undefined) || undefined;
}

const backend = await init({ flavour: flavourFromEnv() });

for (const layer of LAYERS) {
  // Kept for the whole process: deno bench runs the registered functions after this loop.
  const setup = setupLayer(backend, layer, CONFIGS);
  const group = `${layer.name} (${backend.flavour})`;
  if (setup.dense !== undefined) {
    Deno.bench({
      name: `dense ${setup.dense.denseKind} ${layer.name}`,
      group,
      baseline: true,
      fn: setup.dense.run,
    });
  }
  for (const w of setup.sparse) {
    Deno.bench({ name: `${w.config} ${layer.name}`, group, fn: w.run });
  }
}
