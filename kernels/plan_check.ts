/**
 * Structural check of a Conv1x1Plan before its weights reach WebAssembly memory: a forged or
 * corrupted plan must be a typed error, never an out-of-bounds read inside the kernel.
 * @module
 */
import { ShapeError, SparseFormatError, ValueError } from "./errors.ts";
import type { Conv1x1Plan } from "./pack.ts";
import { checkSize } from "./validate.ts";

/** Throws unless every section of `plan` is consistent with its sizes. O(stored weights). */
export function checkPlan(plan: Conv1x1Plan): Conv1x1Plan {
  if (plan === null || typeof plan !== "object" || !Array.isArray(plan.sections)) {
    throw new ShapeError(
      { argument: "plan", value: plan },
      "expected a Conv1x1Plan from packConv1x1",
    );
  }
  const cin = checkSize("plan.cin", plan.cin);
  const cout = checkSize("plan.cout", plan.cout);
  if (Number.isNaN(plan.min) || Number.isNaN(plan.max) || plan.min > plan.max) {
    throw new ValueError(
      { argument: "plan.min", value: plan.min },
      `must be a number not above plan.max = ${plan.max}`,
    );
  }
  let channel = 0;
  plan.sections.forEach((s, i) => {
    const name = `plan.sections[${i}]`;
    if (s.block !== 1 && s.block !== 2 && s.block !== 4) {
      throw new ValueError({ argument: `${name}.block`, value: s.block }, "expected 1, 2 or 4");
    }
    if (s.channelStart !== channel) {
      throw new SparseFormatError(
        { argument: `${name}.channelStart`, value: s.channelStart },
        `expected ${channel}`,
      );
    }
    checkSize(`${name}.groups`, s.groups);
    if (
      !(s.weights instanceof Float32Array) || !(s.dmap instanceof Int32Array) ||
      !(s.nnzmap instanceof Uint32Array)
    ) {
      throw new ShapeError(
        { argument: name, value: s },
        "weights, dmap and nnzmap must be Float32Array, Int32Array, Uint32Array",
      );
    }
    if (s.nnzmap.length !== s.groups) {
      throw new ShapeError(
        { argument: `${name}.nnzmap`, value: s.nnzmap.length },
        `length must be groups = ${s.groups}`,
      );
    }
    let columns = 0;
    for (let g = 0; g < s.groups; g++) columns += s.nnzmap[g];
    if (s.dmap.length !== columns) {
      throw new ShapeError(
        { argument: `${name}.dmap`, value: s.dmap.length },
        `length must be the sum of nnzmap = ${columns}`,
      );
    }
    if (s.weights.length !== s.block * (s.groups + columns)) {
      throw new ShapeError(
        { argument: `${name}.weights`, value: s.weights.length },
        `length must be block * (groups + columns) = ${s.block * (s.groups + columns)}`,
      );
    }
    let at = s.first;
    if (columns > 0 && !(Number.isInteger(at) && at >= 0 && at < cin)) {
      throw new SparseFormatError(
        { argument: `${name}.first`, value: at },
        `input channel out of range [0, ${cin})`,
      );
    }
    for (let k = 0; k < columns; k++) {
      at += s.dmap[k];
      if (!(at >= 0 && at < cin)) {
        throw new SparseFormatError(
          { argument: `${name}.dmap`, index: k, value: s.dmap[k] },
          `walks to input channel ${at}, out of range [0, ${cin})`,
        );
      }
    }
    channel += s.groups * s.block;
  });
  if (channel !== cout) {
    throw new SparseFormatError(
      { argument: "plan.sections", value: channel },
      `cover ${channel} output channels, expected plan.cout = ${cout}`,
    );
  }
  return plan;
}
