/**
 * TensorFlow.js weights: reading a `model.json` weights manifest and its binary shards into
 * named f32 tensors, and writing named tensors back out exactly as TensorFlow.js and its Python
 * converter write them (groups of shards named `group1-shard1of3.bin`, 4 MiB each by default,
 * optionally quantized to uint8, uint16 or float16).
 *
 * The format, as TensorFlow.js defines it (`tfjs-core/src/io/types.ts`, `io_utils.ts`,
 * `weights_loader.ts`, and the converter's `write_weights.py` and `quantization.py`):
 *
 * - The manifest is a list of groups `{ paths, weights }`. A group's shards, concatenated in
 *   the order of `paths`, hold its weights one after another with no padding, so a weight may
 *   start at any byte and may span a shard boundary.
 * - A weight takes `size(shape) * bytes(dtype)` bytes, little-endian: float32 and int32 take 4
 *   bytes; with `quantization` it takes 1 (uint8) or 2 (uint16, float16) bytes per element.
 * - uint8 and uint16 are affine: `value = q * scale + min`, computed in f64 and rounded to f32
 *   (for an int32 weight, rounded to an integer with `Math.round`). float16 is IEEE binary16.
 *
 * Every value is checked on the way in and on the way out; nothing wrong is returned quietly.
 * Errors are typed and name the argument (a path into the manifest such as
 * `manifest[1].weights[0].shape`, or `weights["conv/kernel"]` for a weight's data), the index
 * and the bad value:
 *
 * - {@link SparseFormatError}: the manifest or model.json is malformed (a missing or
 *   mistyped field, an unknown dtype, a repeated weight name, a shard that is not bytes).
 * - {@link ShapeError}: a size is wrong (a shape entry that is not a non-negative integer, a
 *   weight too large, shards too short for the weights or longer than them, a shape that does
 *   not match its data).
 * - {@link ValueError}: a value is wrong or unsupported (NaN or ±Infinity in the data, an
 *   int32 that f32 cannot hold exactly, a dtype this library does not read such as `bool`, a
 *   quantization range that overflows f32, an HTTP error).
 * @module
 */
import { ShapeError, SparseFormatError, ValueError } from "./errors.ts";
import { MAX_ELEMENTS } from "./validate.ts";

/** A named tensor's value: its shape and its elements in row-major order. */
export interface Weight {
  /** The dimensions; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** The product of `shape` elements (1 for a scalar), row-major. */
  readonly data: Float32Array;
}

/** Tensors by name, in the order they are stored. */
export type WeightMap = ReadonlyMap<string, Weight>;

/** The element types a TensorFlow.js manifest can name. Only float32 and int32 are read. */
export type TfjsDtype = "float32" | "int32" | "bool" | "string" | "complex64";

/** The storage types of TensorFlow.js weight quantization. */
export type TfjsQuantizationDtype = "uint8" | "uint16" | "float16";

/** How a quantized weight is stored: `q * scale + min` for uint8/uint16, binary16 for float16. */
export interface TfjsQuantization {
  /** The storage type of each element. */
  readonly dtype: TfjsQuantizationDtype;
  /** The step between quantized levels (uint8 and uint16 only). */
  readonly scale?: number;
  /** The value of quantized level 0 (uint8 and uint16 only). */
  readonly min?: number;
  /** The weight's own dtype, as the Python converter records it; must equal the entry's dtype. */
  readonly original_dtype?: string;
}

/** One weight of a manifest group: where it is is implied by its place in the group. */
export interface TfjsWeightEntry {
  /** The weight's name, unique across the manifest. */
  readonly name: string;
  /** Its dimensions; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Its element type. */
  readonly dtype: TfjsDtype;
  /** `"optimizer"` for optimizer state; read like any other weight. */
  readonly group?: "model" | "optimizer";
  /** Present when the weight is stored quantized. */
  readonly quantization?: TfjsQuantization;
}

/** A group of weights stored together, concatenated and split across `paths`. */
export interface TfjsWeightGroup {
  /** The shard files, in order, relative to the model.json. */
  readonly paths: readonly string[];
  /** The weights, in the order their bytes are laid out. */
  readonly weights: readonly TfjsWeightEntry[];
}

/** A TensorFlow.js weights manifest: the `weightsManifest` field of a model.json. */
export type TfjsWeightsManifest = readonly TfjsWeightGroup[];

/** The parts of a TensorFlow.js `model.json` that matter here; other fields are kept as is. */
export interface TfjsModelJson {
  /** The weights and where their bytes are. */
  readonly weightsManifest: TfjsWeightsManifest;
  /** The model's graph or layers; `null` in a weights-only model.json. */
  readonly modelTopology?: unknown;
  /** `"layers-model"`, `"graph-model"`, or here `"weights-only"`. */
  readonly format?: string;
  /** The library that wrote the model. */
  readonly generatedBy?: string;
  /** The converter that produced it, or `null`. */
  readonly convertedBy?: string | null;
  /** Anything else a model.json holds. */
  readonly [key: string]: unknown;
}

/** Reads the shard at a manifest path: the bytes of that file. */
export type ShardReader = (
  path: string,
) => Promise<Uint8Array | ArrayBuffer> | Uint8Array | ArrayBuffer;

/** Options of {@link encodeTfjsWeights} and {@link saveTfjsWeights}. */
export interface EncodeTfjsOptions {
  /**
   * Store every weight quantized: `"uint8"` or `"uint16"` (affine, `q * scale + min`, with the
   * converter's range nudged so that 0 is exact) or `"float16"`. Default: float32, exact.
   */
  readonly quantization?: TfjsQuantizationDtype;
  /** The largest shard in bytes, a positive integer; default 4 MiB, as TensorFlow.js. */
  readonly shardBytes?: number;
  /** Shard names are `${pathPrefix}${i}of${n}.bin`; default `"group1-shard"`. */
  readonly pathPrefix?: string;
}

/** One shard file of an encoded group. */
export interface TfjsShard {
  /** Its path in the manifest, e.g. `group1-shard1of2.bin`. */
  readonly path: string;
  /** Its contents. Shards of one encoding are views of one buffer. */
  readonly bytes: Uint8Array;
}

/** The result of {@link encodeTfjsWeights}: a manifest of one group, and its shards. */
export interface EncodedTfjsWeights {
  /** The manifest to store as a model.json's `weightsManifest`. */
  readonly weightsManifest: TfjsWeightsManifest;
  /** The shard files, in the order of the manifest's paths. */
  readonly shards: readonly TfjsShard[];
}

/** The shard size TensorFlow.js and its converter use by default: 4 MiB. */
export const TFJS_SHARD_BYTES = 4 * 1024 * 1024;

const DTYPES: readonly string[] = ["float32", "int32"];
const UNSUPPORTED_DTYPES: readonly string[] = ["bool", "string", "complex64"];
const QUANTIZATIONS: readonly string[] = ["uint8", "uint16", "float16"];
const QUANTIZATION_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };
const QUANT_MAX: Readonly<Record<string, number>> = { uint8: 255, uint16: 65535 };
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A manifest entry that passed every check: what to read, and how. */
interface Spec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: "float32" | "int32";
  readonly quantization: "uint8" | "uint16" | "float16" | undefined;
  readonly scale: number;
  readonly min: number;
  readonly bytes: number;
  /** The entry's place, e.g. `manifest[0].weights[2]`. */
  readonly where: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `weights["name"]`: how errors name a weight's data. */
function weightArg(name: string): string {
  return `weights[${JSON.stringify(name)}]`;
}

/** Checks one shape; returns its number of elements. */
function checkShape(argument: string, shape: unknown): number {
  if (!Array.isArray(shape)) {
    throw new SparseFormatError({ argument, value: shape }, "expected an array of dimensions");
  }
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new ShapeError({ argument, index: i, value: d }, "expected a non-negative integer");
    }
    if (d > MAX_ELEMENTS) {
      throw new ShapeError(
        { argument, index: i, value: d },
        `exceeds the largest supported size ${MAX_ELEMENTS}`,
      );
    }
  }
  // A zero anywhere makes the tensor empty, whatever the other dimensions.
  if (shape.includes(0)) return 0;
  let size = 1;
  for (const d of shape as number[]) {
    size *= d;
    if (size > MAX_ELEMENTS) {
      throw new ShapeError(
        { argument, value: `[${shape.join(", ")}]` },
        `more elements than the largest supported tensor of ${MAX_ELEMENTS}`,
      );
    }
  }
  return size;
}

/** A finite number from a quantization record, or a typed error. */
function checkParameter(argument: string, value: unknown): number {
  if (value === undefined) {
    throw new SparseFormatError({ argument }, "missing; uint8 and uint16 need min and scale");
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValueError({ argument, value }, "expected a finite number");
  }
  return value;
}

function checkEntry(where: string, entry: unknown): Spec {
  if (!isObject(entry)) {
    throw new SparseFormatError(
      { argument: where, value: entry },
      "expected a weight entry {name, shape, dtype}",
    );
  }
  const name = entry.name;
  if (typeof name !== "string") {
    throw new SparseFormatError({ argument: `${where}.name`, value: name }, "expected a string");
  }
  const size = checkShape(`${where}.shape`, entry.shape);
  const dtype = entry.dtype;
  if (typeof dtype !== "string" || !DTYPES.includes(dtype)) {
    if (typeof dtype === "string" && UNSUPPORTED_DTYPES.includes(dtype)) {
      throw new ValueError(
        { argument: `${where}.dtype`, value: dtype },
        `weight ${JSON.stringify(name)}: unsupported dtype; only float32 and int32 are read`,
      );
    }
    throw new SparseFormatError(
      { argument: `${where}.dtype`, value: dtype },
      `unknown dtype; expected one of ${[...DTYPES, ...UNSUPPORTED_DTYPES].join(", ")}`,
    );
  }
  const shape = Object.freeze((entry.shape as number[]).slice());
  if (!("quantization" in entry) || entry.quantization === undefined) {
    return {
      name,
      shape,
      size,
      dtype: dtype as "float32" | "int32",
      quantization: undefined,
      scale: 1,
      min: 0,
      bytes: size * 4,
      where,
    };
  }
  const q = entry.quantization;
  const qArg = `${where}.quantization`;
  if (!isObject(q)) {
    throw new SparseFormatError({ argument: qArg, value: q }, "expected {dtype, scale?, min?}");
  }
  const qDtype = q.dtype;
  if (typeof qDtype !== "string" || !QUANTIZATIONS.includes(qDtype)) {
    throw new SparseFormatError(
      { argument: `${qArg}.dtype`, value: qDtype },
      `unknown quantization; expected one of ${QUANTIZATIONS.join(", ")}`,
    );
  }
  if (q.original_dtype !== undefined && q.original_dtype !== dtype) {
    throw new SparseFormatError(
      { argument: `${qArg}.original_dtype`, value: q.original_dtype },
      `disagrees with the entry's dtype ${JSON.stringify(dtype)}`,
    );
  }
  let scale = 1;
  let min = 0;
  if (qDtype === "float16") {
    if (dtype !== "float32") {
      throw new ValueError(
        { argument: `${qArg}.dtype`, value: qDtype },
        `weight ${JSON.stringify(name)}: float16 quantization holds only float32 weights`,
      );
    }
  } else {
    scale = checkParameter(`${qArg}.scale`, q.scale);
    min = checkParameter(`${qArg}.min`, q.min);
  }
  return {
    name,
    shape,
    size,
    dtype: dtype as "float32" | "int32",
    quantization: qDtype as "uint8" | "uint16" | "float16",
    scale,
    min,
    bytes: size * QUANTIZATION_BYTES[qDtype],
    where,
  };
}

interface Group {
  readonly paths: readonly string[];
  readonly specs: readonly Spec[];
}

/** Checks a whole manifest before any shard is read. */
function checkManifest(argument: string, manifest: unknown): Group[] {
  if (!Array.isArray(manifest)) {
    throw new SparseFormatError(
      { argument, value: manifest },
      "expected an array of groups {paths, weights}",
    );
  }
  const seen = new Map<string, string>();
  return manifest.map((group, g) => {
    const at = `${argument}[${g}]`;
    if (!isObject(group)) {
      throw new SparseFormatError({ argument: at, value: group }, "expected {paths, weights}");
    }
    const paths = group.paths;
    if (!Array.isArray(paths)) {
      throw new SparseFormatError(
        { argument: `${at}.paths`, value: paths },
        "expected an array of strings",
      );
    }
    paths.forEach((p, i) => {
      if (typeof p !== "string") {
        throw new SparseFormatError(
          { argument: `${at}.paths`, index: i, value: p },
          "expected a string",
        );
      }
    });
    const weights = group.weights;
    if (!Array.isArray(weights)) {
      throw new SparseFormatError(
        { argument: `${at}.weights`, value: weights },
        "expected an array of weight entries",
      );
    }
    const specs = weights.map((entry, w) => {
      const spec = checkEntry(`${at}.weights[${w}]`, entry);
      const first = seen.get(spec.name);
      if (first !== undefined) {
        throw new SparseFormatError(
          { argument: `${spec.where}.name`, value: spec.name },
          `duplicate weight name; first at ${first}`,
        );
      }
      seen.set(spec.name, spec.where);
      return spec;
    });
    return { paths: paths as string[], specs };
  });
}

/** A shard's bytes as a Uint8Array, or a typed error naming the path. */
function asBytes(argument: string, index: number, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new SparseFormatError(
    { argument, index, value },
    "the shard reader must give a Uint8Array or an ArrayBuffer",
  );
}

/** The bytes [start, end) of shards laid end to end: a view when one shard holds them all. */
function sliceShards(shards: readonly Uint8Array[], starts: number[], start: number, end: number) {
  let k = 0;
  while (k + 1 < shards.length && starts[k + 1] <= start) k++;
  if (shards.length === 0 || end - start === 0) return new Uint8Array(0);
  if (end <= starts[k] + shards[k].length) {
    return shards[k].subarray(start - starts[k], end - starts[k]);
  }
  const out = new Uint8Array(end - start);
  let at = 0;
  for (let pos = start; pos < end; k++) {
    const from = pos - starts[k];
    const take = Math.min(shards[k].length - from, end - pos);
    out.set(shards[k].subarray(from, from + take), at);
    at += take;
    pos += take;
  }
  return out;
}

/** The value of an IEEE binary16 bit pattern (exact in f32). */
function fromHalf(h: number): number {
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * The binary16 bit pattern nearest the f32 `x`, ties to even (as NumPy's `astype(float16)`);
 * 0x7c00 (or 0xfc00) when `x` rounds beyond the largest half, 65504.
 */
function toHalf(x: number): number {
  F32[0] = x;
  const bits = U32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 112; // rebiased: 127 - 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h; // a carry into bit 10 is the smallest normal, correctly encoded
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h; // a carry into the exponent is right, and 0x7c00 means overflow
}

/** Decodes one weight's bytes into f32 values, checking every element. */
function decodeSpec(spec: Spec, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(spec.size);
  const argument = weightArg(spec.name);
  const context = `(${spec.where})`;
  const int = spec.dtype === "int32";
  for (let i = 0; i < spec.size; i++) {
    let v: number;
    switch (spec.quantization) {
      case undefined:
        v = int ? view.getInt32(i * 4, true) : view.getFloat32(i * 4, true);
        break;
      case "uint8":
        v = bytes[i] * spec.scale + spec.min;
        break;
      case "uint16":
        v = view.getUint16(i * 2, true) * spec.scale + spec.min;
        break;
      case "float16":
        v = fromHalf(view.getUint16(i * 2, true));
        break;
    }
    if (int && spec.quantization !== undefined) {
      // As TensorFlow.js: the affine value rounded to an int32.
      v = Math.round(v);
      if (!(v >= INT32_MIN && v <= INT32_MAX)) {
        throw new ValueError(
          { argument, index: i, value: v },
          `dequantizes outside the int32 range ${context}`,
        );
      }
    }
    const f = Math.fround(v);
    if (!Number.isFinite(f)) {
      const why = Number.isFinite(v) ? "dequantizes beyond the float32 range" : "not finite";
      throw new ValueError({ argument, index: i, value: f }, `${why} ${context}`);
    }
    if (int && f !== v) {
      throw new ValueError(
        { argument, index: i, value: v },
        `int32 value not exactly representable in float32 ${context}`,
      );
    }
    out[i] = f;
  }
  return out;
}

type Reader = (path: string, group: number, index: number) => Promise<unknown>;

async function decodeManifest(
  argument: string,
  manifest: unknown,
  read: Reader,
): Promise<WeightMap> {
  const groups = checkManifest(argument, manifest);
  const loaded = await Promise.all(
    groups.map((group, g) =>
      Promise.all(
        group.paths.map(async (path, p) =>
          asBytes(`${argument}[${g}].paths`, p, await read(path, g, p))
        ),
      )
    ),
  );
  const out = new Map<string, Weight>();
  groups.forEach((group, g) => {
    const shards = loaded[g];
    const starts: number[] = [];
    let total = 0;
    for (const s of shards) {
      starts.push(total);
      total += s.length;
    }
    let offset = 0;
    for (const spec of group.specs) {
      const end = offset + spec.bytes;
      if (end > total) {
        throw new ShapeError(
          { argument: spec.where, value: spec.name },
          `needs bytes [${offset}, ${end}) of group ${g}, whose ${shards.length} shard(s) ` +
            `hold only ${total} bytes`,
        );
      }
      offset = end;
    }
    if (offset !== total) {
      throw new ShapeError(
        { argument: `${argument}[${g}].paths`, value: total },
        `the group's shards hold ${total} bytes but its weights take ${offset}; ` +
          "the manifest does not describe these shards",
      );
    }
    offset = 0;
    for (const spec of group.specs) {
      const bytes = sliceShards(shards, starts, offset, offset + spec.bytes);
      offset += spec.bytes;
      const data = decodeSpec(spec, bytes);
      out.set(spec.name, Object.freeze({ shape: spec.shape, data }));
    }
  });
  return out;
}

/**
 * Decodes a TensorFlow.js weights manifest and its shards into f32 tensors. Each group's
 * shards are read through `shards` (all at once), laid end to end in the order of the group's
 * `paths`, and the group's weights are read from them one after another.
 *
 * float32 weights are read bit for bit; int32 weights become floats (each must be exactly
 * representable in f32, so up to 2^24 in magnitude, or any multiple of a larger power of two);
 * quantized weights are dequantized as TensorFlow.js does (`q * scale + min` in f64, rounded to
 * f32; `Math.round` of it for int32; float16 widened exactly). The manifest is checked whole
 * before any shard is read; then the shards must hold exactly the bytes the weights take.
 *
 * @param manifest the `weightsManifest` of a model.json (or a `weights_manifest.json`)
 * @param shards reads the shard at a manifest path; its errors pass through unchanged
 * @returns the weights by name, in manifest order; each Weight and its `shape` are frozen
 * @throws {SparseFormatError} when the manifest is malformed: not an array of `{paths, weights}`,
 *   an entry without a string `name` or an array `shape`, an unknown `dtype` or quantization
 *   dtype, uint8/uint16 quantization without `min` and `scale`, an `original_dtype` that
 *   differs from `dtype`, a name used twice, or a shard that is not a Uint8Array or ArrayBuffer
 * @throws {ShapeError} when a shape entry is not a non-negative integer, a weight exceeds 2^28
 *   elements, the shards are too short for a weight (the error names the weight and group), or
 *   longer than the group's weights
 * @throws {ValueError} for a `bool`, `string` or `complex64` weight, float16-quantized int32, a
 *   `scale` or `min` that is not finite, or an element that is NaN, infinite, beyond f32 after
 *   dequantizing, or an int32 that f32 cannot hold exactly (these name `weights["name"]` and
 *   the element index)
 *
 * @example Two weights in one group, the second spanning the boundary of its two shards
 * ```ts
 * import { decodeTfjsWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
 * const files: Record<string, Uint8Array> = {
 *   "group1-shard1of2.bin": bytes.subarray(0, 10),
 *   "group1-shard2of2.bin": bytes.subarray(10),
 * };
 * const weights = await decodeTfjsWeights(
 *   [{
 *     paths: ["group1-shard1of2.bin", "group1-shard2of2.bin"],
 *     weights: [
 *       { name: "bias", shape: [], dtype: "float32" },
 *       { name: "kernel", shape: [2, 2], dtype: "float32" },
 *     ],
 *   }],
 *   (path) => files[path],
 * );
 * assert.deepEqual(weights.get("bias")?.shape, []);
 * assert.deepEqual([...weights.get("kernel")!.data], [2, 3, 4, 5]);
 * ```
 */
export function decodeTfjsWeights(
  manifest: TfjsWeightsManifest,
  shards: ShardReader,
): Promise<WeightMap> {
  return decodeWith("manifest", manifest, shards);
}

function decodeWith(argument: string, manifest: unknown, shards: unknown): Promise<WeightMap> {
  if (typeof shards !== "function") {
    return Promise.reject(
      new ValueError({ argument: "shards", value: shards }, "expected a function (path) => bytes"),
    );
  }
  return decodeManifest(argument, manifest, async (path) => await shards(path));
}

/**
 * Decodes the weights of a parsed TensorFlow.js `model.json`: {@link decodeTfjsWeights} on its
 * `weightsManifest`, with errors naming `modelJson.weightsManifest[...]`. The model's topology
 * is not read. Use this where the files do not come from a URL (a bundle, a cache, a zip).
 *
 * @param modelJson the parsed model.json
 * @param shards reads the shard at a manifest path
 * @returns the weights by name, in manifest order
 * @throws {SparseFormatError} when `modelJson` is not an object with a `weightsManifest`, and
 *   otherwise as {@link decodeTfjsWeights}
 *
 * @example An int32 weight from a model.json held in memory
 * ```ts
 * import { decodeTfjsModel } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const modelJson = JSON.parse(
 *   '{"modelTopology": null, "weightsManifest": [{"paths": ["w.bin"],' +
 *     '"weights": [{"name": "steps", "shape": [3], "dtype": "int32"}]}]}',
 * );
 * const weights = await decodeTfjsModel(modelJson, () => new Int32Array([7, -1, 1 << 24]).buffer);
 * assert.deepEqual([...weights.get("steps")!.data], [7, -1, 16777216]);
 * ```
 */
export function decodeTfjsModel(
  modelJson: TfjsModelJson,
  shards: ShardReader,
): Promise<WeightMap> {
  if (!isObject(modelJson)) {
    return Promise.reject(
      new SparseFormatError(
        { argument: "modelJson", value: modelJson },
        "expected a model.json object with a weightsManifest",
      ),
    );
  }
  if (modelJson.weightsManifest == null) {
    return Promise.reject(
      new SparseFormatError(
        { argument: "modelJson.weightsManifest", value: modelJson.weightsManifest },
        "missing; a model.json without weights has nothing to decode",
      ),
    );
  }
  return decodeWith("modelJson.weightsManifest", modelJson.weightsManifest, shards);
}

// deno-lint-ignore no-explicit-any
const host = globalThis as any;

/** A string as a URL: an absolute URL as is, anything else a file path (or, in a browser, a URL relative to the page). */
async function toUrl(argument: string, input: unknown): Promise<URL> {
  if (input instanceof URL) return input;
  if (typeof input !== "string") {
    throw new ValueError({ argument, value: input }, "expected a URL or a path string");
  }
  // Two letters at least before the colon, so that "C:\\models" stays a Windows path.
  if (/^[a-z][a-z0-9+.-]+:/i.test(input)) {
    try {
      return new URL(input);
    } catch {
      // not a URL after all: a path such as "ab:c/model.json"
    }
  }
  const server = host.Deno !== undefined || typeof host.process?.versions?.node === "string";
  if (!server && typeof host.location?.href === "string") return new URL(input, host.location.href);
  const { pathToFileURL } = await import("node:url");
  return pathToFileURL(input) as URL;
}

async function readUrl(url: URL, argument: string, index?: number): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    if (typeof host.Deno?.readFile === "function") return await host.Deno.readFile(url);
    const fs = await import("node:fs/promises");
    return new Uint8Array(await fs.readFile(url));
  }
  if (url.protocol === "http:" || url.protocol === "https:") {
    const response = await fetch(url);
    if (!response.ok) {
      await response.body?.cancel();
      throw new ValueError(
        { argument, index, value: url.href },
        `HTTP ${response.status} ${response.statusText}`.trimEnd(),
      );
    }
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new ValueError(
    { argument, index, value: url.href },
    "unsupported URL scheme; expected file:, http: or https:",
  );
}

/**
 * Loads the weights of a TensorFlow.js model: reads its `model.json` (or a bare
 * `weights_manifest.json` array) and every shard it lists, and decodes them as
 * {@link decodeTfjsWeights} does. Shard paths are resolved relative to the model.json URL,
 * and, as TensorFlow.js does, an http(s) model URL's query string is appended to shard URLs
 * that have none; a shard may not resolve to a different scheme than the model.json.
 *
 * `file:` URLs are read with `Deno.readFile` (or `node:fs` outside Deno), `http:` and `https:`
 * with `fetch`. A string that is not an absolute URL is a file path (relative to the working
 * directory), or in a browser a URL relative to the page. File-system errors (such as
 * `Deno.errors.NotFound`) pass through unchanged.
 *
 * @param modelJsonUrl where the model.json is: a URL, or a path
 * @returns the weights by name, in manifest order
 * @throws {ValueError} for an HTTP error status or a URL scheme other than file:, http:,
 *   https: (the error names the URL as `value`; for a shard, `argument` is the group's
 *   `paths` and `index` the shard)
 * @throws {SparseFormatError} when the model.json is not JSON, has no `weightsManifest`, or a
 *   shard path cannot be resolved or changes scheme
 * @throws {ShapeError} and the other errors of {@link decodeTfjsWeights}, with arguments
 *   named `modelJson.weightsManifest[...]`
 *
 * @example Save weights to a folder and load them back
 * ```ts
 * import { loadTfjsWeights, saveTfjsWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const weights = new Map([["dense/kernel", { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }]]);
 * const modelJson = await saveTfjsWeights(dir, weights);
 * const loaded = await loadTfjsWeights(modelJson);
 * assert.deepEqual(loaded, weights);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadTfjsWeights(modelJsonUrl: string | URL): Promise<WeightMap> {
  const base = await toUrl("modelJsonUrl", modelJsonUrl);
  const text = new TextDecoder().decode(await readUrl(base, "modelJsonUrl"));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SparseFormatError(
      { argument: "modelJsonUrl", value: base.href },
      `not valid JSON: ${(e as Error).message}`,
    );
  }
  let argument = "manifest";
  let manifest = json;
  if (!Array.isArray(json)) {
    if (!isObject(json) || json.weightsManifest == null) {
      throw new SparseFormatError(
        { argument: "modelJson.weightsManifest", value: isObject(json) ? undefined : json },
        `missing in ${base.href}; expected a model.json with a weightsManifest, ` +
          "or a weights manifest array",
      );
    }
    argument = "modelJson.weightsManifest";
    manifest = json.weightsManifest;
  }
  const http = base.protocol === "http:" || base.protocol === "https:";
  return await decodeManifest(argument, manifest, async (path, g, p) => {
    const at = `${argument}[${g}].paths`;
    let url: URL;
    try {
      url = new URL(path, base);
    } catch {
      throw new SparseFormatError(
        { argument: at, index: p, value: path },
        `cannot be resolved against ${base.href}`,
      );
    }
    if (url.protocol !== base.protocol) {
      throw new SparseFormatError(
        { argument: at, index: p, value: path },
        `resolves to ${url.protocol} but the model.json is ${base.protocol}`,
      );
    }
    if (http && base.search !== "" && url.search === "") url.search = base.search;
    return await readUrl(url, at, p);
  });
}

/** Round half to even, as NumPy's `round`. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Checked {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

function checkWeights(weights: unknown): Checked[] {
  if (
    weights === null || typeof weights !== "object" ||
    typeof (weights as Map<unknown, unknown>).entries !== "function"
  ) {
    throw new ShapeError(
      { argument: "weights", value: weights },
      "expected a Map of names to {shape, data}",
    );
  }
  const out: Checked[] = [];
  for (const [name, w] of (weights as Map<unknown, unknown>).entries()) {
    if (typeof name !== "string") {
      throw new ValueError({ argument: "weights", value: name }, "every name must be a string");
    }
    const argument = weightArg(name);
    if (!isObject(w)) {
      throw new ShapeError({ argument, value: w }, "expected {shape, data}");
    }
    const data = w.data;
    if (!(data instanceof Float32Array)) {
      throw new ShapeError(
        { argument: `${argument}.data`, value: data },
        "expected a Float32Array",
      );
    }
    const size = checkShape(`${argument}.shape`, w.shape);
    if (size !== data.length) {
      throw new ShapeError(
        { argument: `${argument}.data`, value: data.length },
        `length must be ${size}, the product of the shape [${(w.shape as number[]).join(", ")}]`,
      );
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new ValueError(
          { argument: `${argument}.data`, index: i, value: data[i] },
          "expected a finite number",
        );
      }
    }
    out.push({ name, shape: (w.shape as number[]).slice(), data });
  }
  return out;
}

interface Affine {
  readonly min: number;
  readonly scale: number;
  readonly codes: Uint8Array | Uint16Array;
}

/** The converter's affine quantization of one tensor (`quantization.py`, `quantize_weights`). */
function quantizeAffine(w: Checked, dtype: "uint8" | "uint16"): Affine {
  const { data } = w;
  const quantMax = QUANT_MAX[dtype];
  const codes = dtype === "uint8" ? new Uint8Array(data.length) : new Uint16Array(data.length);
  // The converter cannot quantize an empty tensor (NumPy has no min of nothing); any
  // parameters decode it, so write the neutral ones.
  if (data.length === 0) return { min: 0, scale: 1, codes };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < lo) lo = data[i];
    if (data[i] > hi) hi = data[i];
  }
  // A constant tensor: every code 0 and min the value, decoded exactly.
  if (lo === hi) return { min: lo, scale: 1, codes };
  const scale = (hi - lo) / quantMax;
  let min = lo;
  let max = hi;
  if (lo <= 0 && 0 <= hi) {
    // Nudge the range so that 0 is a level exactly (as TF Lite), keeping the scale.
    min = -roundHalfEven(-lo / scale) * scale;
    max = quantMax * scale + min;
  }
  for (let i = 0; i < data.length; i++) {
    const x = Math.min(Math.max(data[i], min), max);
    codes[i] = Math.min(Math.max(roundHalfEven((x - min) / scale), 0), quantMax);
    const back = Math.fround(codes[i] * scale + min);
    if (!Number.isFinite(back)) {
      throw new ValueError(
        { argument: `${weightArg(w.name)}.data`, index: i, value: data[i] },
        `the tensor's range [${lo}, ${hi}] is too wide for ${dtype} quantization: ` +
          "this element would dequantize beyond the float32 range",
      );
    }
  }
  return { min, scale, codes };
}

/**
 * Encodes f32 tensors as TensorFlow.js weights: one group, its bytes split into shards of
 * `shardBytes` (the last one shorter), named `group1-shard1of3.bin` and so on, with the
 * manifest entries TensorFlow.js and its converter write (`{name, shape, dtype: "float32"}`,
 * plus `quantization: {dtype, min, scale, original_dtype}` when quantized). The weights are
 * stored in the map's order, little-endian.
 *
 * Unquantized, {@link decodeTfjsWeights} gives back every value bit for bit (negative zero
 * included). Quantization follows the converter exactly: uint8 and uint16 take the tensor's
 * range [lo, hi], `scale = (hi - lo) / (2^bits - 1)`, and when the range holds 0 nudge `min`
 * so that 0 is a level; each value is clipped to the range and rounded half to even, so every
 * value decodes within `scale / 2` (plus the f32 rounding of the result). A constant tensor is
 * stored as all zeros with `min` the value and `scale` 1, and decodes exactly; an empty one
 * gets `min` 0 and `scale` 1. float16 rounds to the nearest binary16, ties to even. The
 * arithmetic is in f64 (as the converter on NumPy 2; on NumPy 1 it was partly f32, which can
 * move a value lying exactly between two levels to the other level).
 *
 * @param weights the tensors by name (a Map; its order is the storage order)
 * @param options `quantization`, `shardBytes` (default 4 MiB) and `pathPrefix` (default
 *   `"group1-shard"`)
 * @returns the manifest (one group; with no bytes at all its `paths` is empty) and the shards
 * @throws {ShapeError} when `weights` is not a Map, a weight is not `{shape, data}` with a
 *   Float32Array, a shape entry is not a non-negative integer, the shape does not match the
 *   data's length, or `shardBytes` is not a positive integer
 * @throws {ValueError} when a name is not a string, a value is NaN or infinite, a value is
 *   beyond the float16 range (65504) under `"float16"`, a tensor's range is so wide that
 *   uint8/uint16 levels would overflow f32, or an option is not one of its values
 *
 * @example Quantize to uint8 and decode within scale / 2
 * ```ts
 * import { decodeTfjsWeights, encodeTfjsWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const data = new Float32Array([0, -0.1, 1.2]);
 * const { weightsManifest, shards } = encodeTfjsWeights(
 *   new Map([["w", { shape: [3], data }]]),
 *   { quantization: "uint8" },
 * );
 * assert.deepEqual(weightsManifest[0].paths, ["group1-shard1of1.bin"]);
 * assert.deepEqual([...shards[0].bytes], [20, 0, 255]); // as the tfjs converter writes them
 * const { scale } = weightsManifest[0].weights[0].quantization!;
 * const back = await decodeTfjsWeights(weightsManifest, () => shards[0].bytes);
 * back.get("w")!.data.forEach((v, i) => assert.ok(Math.abs(v - data[i]) <= scale! / 2));
 * ```
 */
export function encodeTfjsWeights(
  weights: WeightMap,
  options: EncodeTfjsOptions = {},
): EncodedTfjsWeights {
  const quantization = options.quantization;
  if (quantization !== undefined && !QUANTIZATIONS.includes(quantization)) {
    throw new ValueError(
      { argument: "options.quantization", value: quantization },
      `expected one of ${QUANTIZATIONS.join(", ")}`,
    );
  }
  const shardBytes = options.shardBytes ?? TFJS_SHARD_BYTES;
  if (typeof shardBytes !== "number" || !Number.isInteger(shardBytes) || shardBytes < 1) {
    throw new ShapeError(
      { argument: "options.shardBytes", value: shardBytes },
      "expected a positive integer",
    );
  }
  const pathPrefix = options.pathPrefix ?? "group1-shard";
  if (typeof pathPrefix !== "string") {
    throw new ValueError(
      { argument: "options.pathPrefix", value: pathPrefix },
      "expected a string",
    );
  }
  const checked = checkWeights(weights);
  const perElement = quantization === undefined ? 4 : QUANTIZATION_BYTES[quantization];
  let total = 0;
  for (const w of checked) total += w.data.length * perElement;
  const buffer = new Uint8Array(total);
  const view = new DataView(buffer.buffer);
  const entries: TfjsWeightEntry[] = [];
  let offset = 0;
  for (const w of checked) {
    const { name, shape, data } = w;
    const entry = { name, shape, dtype: "float32" as const };
    if (quantization === undefined) {
      for (let i = 0; i < data.length; i++) view.setFloat32(offset + 4 * i, data[i], true);
      entries.push(entry);
    } else if (quantization === "float16") {
      for (let i = 0; i < data.length; i++) {
        const h = toHalf(data[i]);
        if ((h & 0x7c00) === 0x7c00) {
          throw new ValueError(
            { argument: `${weightArg(name)}.data`, index: i, value: data[i] },
            "beyond the float16 range (largest 65504)",
          );
        }
        view.setUint16(offset + 2 * i, h, true);
      }
      entries.push({ ...entry, quantization: { dtype: "float16", original_dtype: "float32" } });
    } else {
      const { min, scale, codes } = quantizeAffine(w, quantization);
      if (quantization === "uint8") buffer.set(codes, offset);
      else for (let i = 0; i < codes.length; i++) view.setUint16(offset + 2 * i, codes[i], true);
      entries.push({
        ...entry,
        quantization: { dtype: quantization, min, scale, original_dtype: "float32" },
      });
    }
    offset += data.length * perElement;
  }
  const count = Math.ceil(total / shardBytes);
  const shards: TfjsShard[] = [];
  for (let i = 0; i < count; i++) {
    shards.push({
      path: `${pathPrefix}${i + 1}of${count}.bin`,
      bytes: buffer.subarray(i * shardBytes, Math.min((i + 1) * shardBytes, total)),
    });
  }
  return {
    weightsManifest: [{ paths: shards.map((s) => s.path), weights: entries }],
    shards,
  };
}

/** A folder as a URL ending in "/". */
async function toFolderUrl(dir: unknown): Promise<URL> {
  const url = new URL(await toUrl("dir", dir));
  if (url.protocol !== "file:") {
    throw new ValueError({ argument: "dir", value: url.href }, "expected a file: URL or a path");
  }
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/**
 * Writes weights as a weights-only TensorFlow.js model: the shards of
 * {@link encodeTfjsWeights} and then a `model.json` holding `modelTopology: null`,
 * `format: "weights-only"`, `generatedBy`, `convertedBy: null` and the `weightsManifest`.
 * TensorFlow.js reads such a file with `tf.io.http(url).load()` (it needs a topology or a
 * manifest, not both), and {@link loadTfjsWeights} reads it back. The folder is created if
 * missing; files of the same names are replaced. Shards are written before the model.json, so
 * a model.json on disk never lists a shard that is not there yet.
 *
 * @param dir the folder: a path or a `file:` URL
 * @param weights the tensors by name
 * @param options as {@link encodeTfjsWeights}
 * @returns the URL of the model.json written
 * @throws {ValueError} when `dir` is not a path or file: URL, and otherwise as
 *   {@link encodeTfjsWeights}; file-system errors pass through unchanged
 *
 * @example Float16 weights on disk
 * ```ts
 * import { loadTfjsWeights, saveTfjsWeights } from "@sparsekit/core";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const url = await saveTfjsWeights(dir, new Map([["b", { shape: [2], data: new Float32Array([0.5, -3]) }]]), {
 *   quantization: "float16",
 * });
 * const json = JSON.parse(await Deno.readTextFile(url));
 * assert.deepEqual(json.weightsManifest[0].paths, ["group1-shard1of1.bin"]);
 * assert.deepEqual([...(await loadTfjsWeights(url)).get("b")!.data], [0.5, -3]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveTfjsWeights(
  dir: string | URL,
  weights: WeightMap,
  options: EncodeTfjsOptions = {},
): Promise<URL> {
  const folder = await toFolderUrl(dir);
  const { weightsManifest, shards } = encodeTfjsWeights(weights, options);
  const modelJson: TfjsModelJson = {
    modelTopology: null,
    format: "weights-only",
    generatedBy: "@sparsekit/core",
    convertedBy: null,
    weightsManifest,
  };
  const text = new TextEncoder().encode(JSON.stringify(modelJson));
  const target = new URL("model.json", folder);
  if (typeof host.Deno?.writeFile === "function") {
    await host.Deno.mkdir(folder, { recursive: true });
    for (const s of shards) await host.Deno.writeFile(new URL(s.path, folder), s.bytes);
    await host.Deno.writeFile(target, text);
  } else {
    const fs = await import("node:fs/promises");
    await fs.mkdir(folder, { recursive: true });
    for (const s of shards) await fs.writeFile(new URL(s.path, folder), s.bytes);
    await fs.writeFile(target, text);
  }
  return target;
}
