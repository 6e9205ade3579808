/**
 * The backends under test: every flavour this host supports, each forced in turn. Shared by
 * the kernel tests so that every kernel is checked on every flavour.
 * @module
 */
import { type Backend, type Flavour, init, supportedFlavours } from "../mod.ts";

/** Every backend this host can run, fastest first; the TypeScript one is always there. */
export async function allBackends(): Promise<Backend[]> {
  return await Promise.all(supportedFlavours().map((flavour: Flavour) => init({ flavour })));
}
