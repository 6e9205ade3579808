/**
 * The typed error of the WebGPU paths.
 * @module
 */
import { type ErrorDetails, show } from "../kernels/errors.ts";

/**
 * What went wrong on the GPU side: `"unavailable"` (this host has no WebGPU), `"no-adapter"`
 * (WebGPU is there but no adapter could be had), `"no-device"` (the adapter refused a device),
 * `"limit"` (a request exceeds one of the device's limits, named in `limit`), `"lost"` (the
 * device was lost or destroyed), `"disposed"` (a disposed tensor or plan was used),
 * `"foreign"` (a tensor or plan of another device was passed), `"gpu"` (the device reported an
 * error of its own).
 */
export type GpuErrorCode =
  | "unavailable"
  | "no-adapter"
  | "no-device"
  | "limit"
  | "lost"
  | "disposed"
  | "foreign"
  | "gpu";

/** The details a {@link GpuError} carries. */
export interface GpuErrorDetails extends ErrorDetails {
  /** What went wrong. */
  readonly code: GpuErrorCode;
  /** For `"limit"`: the name of the device limit, e.g. `"maxStorageBufferBindingSize"`. */
  readonly limit?: string;
  /** For `"limit"`: the limit's value on this device. */
  readonly max?: number;
}

/**
 * An error of the WebGPU paths. `code` says what kind; `argument` names the argument or
 * resource at fault, `value` the bad value, and for a limit `limit` and `max` name the device
 * limit and its value.
 *
 * @example No WebGPU on this host
 * ```ts
 * import { GpuError, requestGpu } from "@sparsekit/core/gpu";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(
 *   () => requestGpu({ gpu: null }),
 *   (e) => e instanceof GpuError && e.code === "unavailable",
 * );
 * ```
 */
export class GpuError extends Error {
  /** What went wrong. */
  readonly code: GpuErrorCode;
  /** The argument or resource at fault. */
  readonly argument: string;
  /** The position of the bad element, if any. */
  readonly index: number | undefined;
  /** The bad value, if any. */
  readonly value: unknown;
  /** The device limit exceeded, for `code: "limit"`. */
  readonly limit: string | undefined;
  /** That limit's value on the device, for `code: "limit"`. */
  readonly max: number | undefined;
  /**
   * Makes the error; the message is composed from the details.
   * @param details what was bad
   * @param message what went wrong
   */
  constructor(details: GpuErrorDetails, message: string) {
    const where = details.index === undefined
      ? details.argument
      : `${details.argument}[${details.index}]`;
    const what = "value" in details ? ` = ${show(details.value)}` : "";
    const limit = details.limit === undefined
      ? ""
      : ` (device limit ${details.limit} = ${details.max})`;
    super(`${where}${what}: ${message}${limit}`);
    this.name = "GpuError";
    this.code = details.code;
    this.argument = details.argument;
    this.index = details.index;
    this.value = details.value;
    this.limit = details.limit;
    this.max = details.max;
  }
}
