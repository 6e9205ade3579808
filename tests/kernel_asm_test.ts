// The instruction-mix tool's parsing (bench/kernel_asm.ts), on a hand-written listing in the
// shape objdump prints for V8's code, and a hand-built jitdump.
import assert from "node:assert/strict";
import { classify, mainLoop, parseJitdump, parseObjdump, tally } from "../bench/kernel_asm.ts";

const LISTING = `
code.bin:     file format binary

Disassembly of section .data:

00000000 <.data>:
     100:	mov    %ecx,%edi
     102:	cmpb   $0x0,-0x4f(%r13)
     107:	jne    0x900
     10d:	lea    -0xf(%r11),%rax
     111:	cmp    %rax,%rdi
     114:	jae    0xc00
     11a:	vmovdqu (%rsi,%rdi,1),%xmm0
     11f:	cmp    %r14,%r8
     122:	jae    0xc05
     128:	vbroadcastss (%rsi,%r8,1),%xmm1
     12e:	vfmadd231ps %xmm1,%xmm0,%xmm12
     133:	lea    -0x1f(%r11),%rax
     137:	cmp    %rax,%rdi
     13a:	jae    0xc0a
     140:	vmovdqu 0x10(%rsi,%rdi,1),%xmm0
     146:	vfmadd231ps %xmm1,%xmm0,%xmm11
     149:	vpshufd $0x55,%xmm11,%xmm13
     14b:	vmovups %xmm2,-0xa0(%rbp)
     14e:	mov    0x4(%rsi,%r8,1),%edi
     150:	add    %edi,%ecx
     152:	add    $0x8,%r8d
     156:	cmp    %ebx,%r8d
     159:	jb     0x102
     15f:	vfmadd231ps %xmm2,%xmm3,%xmm12
     164:	cmp    %ebx,%r9d
     167:	jb     0x100
`;

Deno.test("kernel_asm: objdump listing parsed and its innermost loop found", () => {
  const code = parseObjdump(LISTING);
  assert.equal(code.length, 26);
  assert.deepEqual(code[0], { at: 0x100, op: "mov", args: "%ecx,%edi" });
  const loop = mainLoop(code);
  // The inner loop runs from the interrupt check at 0x102 to the branch back at 0x159. The
  // outer one (back to 0x100) has more multiply-adds, but holds the inner one.
  assert.equal(loop[0].at, 0x102);
  assert.equal(loop[loop.length - 1].at, 0x159);
});

Deno.test("kernel_asm: loop instructions sorted by kind", () => {
  const loop = mainLoop(parseObjdump(LISTING));
  const kinds = classify(loop);
  assert.deepEqual(kinds, [
    "loop control", // cmpb $0x0 (interrupt check)
    "loop control", // jne
    "bounds limit (lea)",
    "bounds check (compare + branch)",
    "bounds check (compare + branch)",
    "vector load",
    "bounds check (compare + branch)",
    "bounds check (compare + branch)",
    "vector load", // vbroadcastss
    "multiply-add",
    "bounds limit (lea)",
    "bounds check (compare + branch)",
    "bounds check (compare + branch)",
    "vector load",
    "multiply-add",
    "lane splat (shuffle)",
    "register spill (stack)",
    "scalar load",
    "pointer arithmetic",
    "pointer arithmetic",
    "loop control", // cmp before the branch back
    "loop control", // jb
  ]);
  const counts = tally(kinds);
  assert.equal(counts.get("multiply-add"), 2);
  assert.equal(counts.get("bounds check (compare + branch)"), 6);
  assert.equal(counts.get("other"), 0);
  assert.deepEqual(classify([]), []);
  assert.deepEqual(mainLoop([]), []);
});

Deno.test("kernel_asm: jitdump code-load records read, others skipped", () => {
  const enc = new TextEncoder();
  const record = (id: number, name: string, code: number[]) => {
    const n = enc.encode(name);
    const size = 16 + 40 + n.length + 1 + code.length;
    const b = new Uint8Array(size);
    const v = new DataView(b.buffer);
    v.setUint32(0, id, true);
    v.setUint32(4, size, true);
    v.setBigUint64(16 + 24, BigInt(code.length), true);
    b.set(n, 16 + 40);
    b.set(code, 16 + 40 + n.length + 1);
    return b;
  };
  const header = new Uint8Array(40);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0x4a695444, true);
  hv.setUint32(8, 40, true);
  const parts = [header, record(0, "a", [1, 2, 3]), record(2, "moved", []), record(0, "bb", [9])];
  const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  const recs = parseJitdump(bytes);
  assert.deepEqual(recs.map((r) => r.name), ["a", "bb"]);
  assert.deepEqual([...recs[0].code], [1, 2, 3]);
  assert.deepEqual([...recs[1].code], [9]);
  assert.throws(() => parseJitdump(new Uint8Array(40)), /bad magic/);
});
