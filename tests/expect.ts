// Shared assertion for the typed errors: the class, and the argument / index / value it names.
import assert from "node:assert/strict";

/** The details a typed error is expected to carry; omitted keys are not checked. */
export interface Expected {
  argument?: string;
  index?: number;
  value?: unknown;
}

/** Asserts that `fn` throws an instance of `type` whose details match `expected`. */
export function throwsWith(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  expected: Expected,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    const got = e as unknown as Expected;
    for (const key of Object.keys(expected) as (keyof Expected)[]) {
      assert.deepEqual(got[key], expected[key], `${key} of ${(e as Error).message}`);
    }
    return true;
  });
}
