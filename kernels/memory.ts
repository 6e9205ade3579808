/**
 * A first-fit allocator over a WebAssembly memory that the host owns above the module's heap
 * base: Plans live in it for as long as they are prepared, and each call takes its scratch
 * from it and gives it back before returning. Out of memory is a BackendError, never a
 * corrupt result.
 * @module
 */
import { BackendError } from "./errors.ts";

const PAGE = 65536;
const MAX_PAGES = 65536;

/** A block handed out by {@link Arena.alloc}: its byte offset and size. */
export interface Block {
  readonly ptr: number;
  readonly bytes: number;
}

/** The allocator. Synchronous, single-threaded: one instance per backend. */
export class Arena {
  readonly #memory: WebAssembly.Memory;
  // Free ranges sorted by address, as [start, end) pairs.
  #free: number[] = [];
  #top: number;

  /** @param memory the module's memory; @param base first byte the host may use */
  constructor(memory: WebAssembly.Memory, base: number) {
    this.#memory = memory;
    this.#top = Math.ceil(base / 64) * 64;
  }

  /** The memory's current buffer (it changes when memory grows). */
  get buffer(): ArrayBuffer {
    return this.#memory.buffer as ArrayBuffer;
  }

  /** Bytes currently handed out or free below the top (for tests and reports). */
  get top(): number {
    return this.#top;
  }

  /** Allocates `bytes` (rounded up to 64) at a 64-byte aligned offset. */
  alloc(bytes: number): Block {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    const free = this.#free;
    for (let i = 0; i < free.length; i += 2) {
      if (free[i + 1] - free[i] >= size) {
        const ptr = free[i];
        if (free[i + 1] - free[i] === size) free.splice(i, 2);
        else free[i] += size;
        return { ptr, bytes: size };
      }
    }
    const ptr = this.#top;
    const end = ptr + size;
    if (end > MAX_PAGES * PAGE) {
      throw new BackendError(
        { argument: "memory", value: end },
        `out of WebAssembly memory: ${bytes} bytes requested, the 4 GiB limit would be exceeded`,
      );
    }
    const have = this.#memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.#memory.grow(pages);
      } catch (e) {
        throw new BackendError(
          { argument: "memory", value: end },
          `out of WebAssembly memory: could not grow by ${pages} pages (${e})`,
        );
      }
    }
    this.#top = end;
    return { ptr, bytes: size };
  }

  /** Returns a block; neighbouring free ranges merge, and a free range at the top lowers it. */
  free(block: Block): void {
    let start = block.ptr;
    let end = block.ptr + block.bytes;
    const free = this.#free;
    let i = 0;
    while (i < free.length && free[i] < start) i += 2;
    if (i > 0 && free[i - 1] === start) {
      start = free[i - 2];
      free.splice(i - 2, 2);
      i -= 2;
    }
    if (i < free.length && free[i] === end) {
      end = free[i + 1];
      free.splice(i, 2);
    }
    if (end === this.#top) this.#top = start;
    else free.splice(i, 0, start, end);
  }

  /** A Float32Array view of a block (valid until the next allocation). */
  f32(block: Block, length = block.bytes >> 2): Float32Array {
    return new Float32Array(this.#memory.buffer, block.ptr, length);
  }
}
