/**
 * zstd decompression of a whole stream of concatenated frames (pwalk writes
 * one frame per 256 KiB of rows). node:zlib's zstd stream stops after the
 * first frame, so the stream is cut into frames here (by reading the frame
 * and block headers, never the data) and each frame is decompressed by
 * node:zlib on its own. Skippable frames are skipped.
 *
 * @module
 */
import { zstdDecompressSync } from "node:zlib";

const MAGIC = 0xfd2fb528;

/** Bytes held: a window [start, end) of a buffer that grows by doubling. */
class Buf {
  #buf = new Uint8Array(1 << 16);
  #start = 0;
  #end = 0;
  get data(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }
  add(chunk: Uint8Array): void {
    const held = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buf.length) {
      let size = this.#buf.length;
      while (size < held + chunk.length) size *= 2;
      const next = size === this.#buf.length ? this.#buf : new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = held;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
  take(n: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

const u32 = (b: Uint8Array, o: number) =>
  (b[o] | b[o + 1] << 8 | b[o + 2] << 16) + b[o + 3] * 2 ** 24;

/**
 * The length of the frame at the start of `b`, or -1 when `b` does not hold
 * all of it yet. Throws on bytes that are not a zstd frame.
 */
export function frameLength(b: Uint8Array): number {
  if (b.length < 8) return -1;
  const magic = u32(b, 0);
  if ((magic & 0xfffffff0) === 0x184d2a50) {
    const n = 8 + u32(b, 4);
    return b.length >= n ? n : -1;
  }
  if (magic !== MAGIC) throw new Error("not a zstd stream (bad frame magic)");
  const fhd = b[4];
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictSize = [0, 1, 2, 4][fhd & 3];
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  let o = 5 + (single ? 0 : 1) + dictSize + fcsSize;
  for (;;) {
    if (b.length < o + 3) return -1;
    const h = b[o] | b[o + 1] << 8 | b[o + 2] << 16;
    const last = h & 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    if (type === 3) throw new Error("corrupt zstd stream (reserved block type)");
    o += 3 + (type === 1 ? 1 : size);
    if (last) break;
  }
  o += checksum ? 4 : 0;
  return b.length >= o ? o : -1;
}

/** The decompressed bytes of a zstd stream of one or more frames. */
export async function* zstdFrames(
  input: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const buf = new Buf();
  for await (const chunk of input) {
    buf.add(chunk);
    for (;;) {
      const n = frameLength(buf.data);
      if (n < 0) break;
      const frame = buf.take(n);
      if (u32(frame, 0) === MAGIC) yield new Uint8Array(zstdDecompressSync(frame));
    }
  }
  if (buf.data.length > 0) throw new Error("truncated zstd stream");
}
