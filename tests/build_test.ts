// The committed .wasm files and the generated as/spmm.ts must be exactly what the sources
// build today: rebuild into a temporary folder and compare byte for byte.
import assert from "node:assert/strict";
import { build } from "../as/build.ts";
import { generate } from "../as/gen_spmm.ts";

Deno.test("as/spmm.ts is what as/gen_spmm.ts generates", async () => {
  const committed = await Deno.readTextFile(new URL("../as/spmm.ts", import.meta.url));
  assert.ok(committed === generate(), "as/spmm.ts is stale: run `deno task build`");
});

Deno.test("the committed .wasm files are byte-identical to a fresh build", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = await build(dir);
    assert.ok(files.length >= 5);
    for (const file of files) {
      const name = file.slice(dir.length + 1);
      const fresh = await Deno.readFile(file);
      const committed = await Deno.readFile(new URL(`../as/build/${name}`, import.meta.url));
      assert.ok(
        fresh.length === committed.length && fresh.every((b, i) => b === committed[i]),
        `as/build/${name} is stale against the sources: run \`deno task build\``,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the kernel modules import nothing from the host", async () => {
  for (const flavour of ["relaxed", "simd", "scalar"]) {
    const bytes = await Deno.readFile(
      new URL(`../as/build/sparsekit.${flavour}.wasm`, import.meta.url),
    );
    const module = new WebAssembly.Module(bytes);
    assert.deepEqual(WebAssembly.Module.imports(module), [], flavour);
    assert.ok(WebAssembly.Module.exports(module).some((e) => e.name === "memory"));
  }
});
