/**
 * Decompressing a .zst file of many frames (pwalk writes one frame per
 * buffer of rows). Deno's node:zlib zstd decoder stops at the end of the
 * first frame, so the frames are found here (their headers and block
 * headers give every frame's length without decoding it) and each is
 * decoded on its own: small ones at once, big ones (another tool's single
 * frame) streamed, so memory holds one compressed frame and never a whole
 * decompressed one.
 *
 * @module
 */

const MAGIC = 0xfd2fb528;
const SKIPPABLE = 0x184d2a50; // & 0xfffffff0
const SMALL_FRAME = 8 << 20;

/** A byte queue: appended at the end, consumed from the start. */
class Bytes {
  buf = new Uint8Array(1 << 20);
  start = 0;
  end = 0;
  get length(): number {
    return this.end - this.start;
  }
  push(b: Uint8Array): void {
    if (this.end + b.length > this.buf.length) {
      const need = this.length + b.length;
      if (need * 2 > this.buf.length) {
        const next = new Uint8Array(Math.max(need * 2, 1 << 20));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(b, this.end);
    this.end += b.length;
  }
  at(i: number): number {
    return this.buf[this.start + i];
  }
  u32(i: number): number {
    return (this.at(i) | (this.at(i + 1) << 8) | (this.at(i + 2) << 16) |
      (this.at(i + 3) << 24)) >>> 0;
  }
  take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }
}

/**
 * Where the frame at the queue's start ends: its length, or -1 when more
 * bytes are needed. `scan` carries the parse position between calls.
 */
function frameLength(q: Bytes, scan: { pos: number; last: boolean; checksum: boolean }): number {
  if (scan.pos === 0) {
    if (q.length < 8) return -1;
    const magic = q.u32(0);
    if ((magic & 0xfffffff0) >>> 0 === SKIPPABLE) return 8 + q.u32(4);
    if (magic !== MAGIC) throw new Error("not a zstd file (bad frame magic number)");
    const fhd = q.at(4);
    const single = (fhd >> 5) & 1, fcsFlag = fhd >> 6, didFlag = fhd & 3;
    scan.checksum = ((fhd >> 2) & 1) === 1;
    const fcs = fcsFlag === 0 ? single : 1 << fcsFlag;
    scan.pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag] + fcs;
    scan.last = false;
  }
  while (!scan.last) {
    if (q.length < scan.pos + 3) return -1;
    const h = q.at(scan.pos) | (q.at(scan.pos + 1) << 8) | (q.at(scan.pos + 2) << 16);
    scan.last = (h & 1) === 1;
    const type = (h >> 1) & 3;
    if (type === 3) throw new Error("corrupt zstd data (reserved block type)");
    scan.pos += 3 + (type === 1 ? 1 : h >>> 3);
  }
  const len = scan.pos + (scan.checksum ? 4 : 0);
  return q.length < len ? -1 : len;
}

/**
 * The decompressed bytes of a stream of zstd frames, chunk by chunk.
 *
 * @example
 * ```ts ignore
 * using f = await Deno.open("scan.csv.zst");
 * for await (const chunk of zstdChunks(f.readable)) console.log(chunk.length);
 * ```
 */
export async function* zstdChunks(src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const zlib = await import("node:zlib"); // only here: other commands never load it
  const q = new Bytes();
  const scan = { pos: 0, last: false, checksum: false };
  const decode = async function* (frame: Uint8Array): AsyncGenerator<Uint8Array> {
    if ((frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24)) >>> 0 !== MAGIC) {
      return; // skippable
    }
    if (frame.length <= SMALL_FRAME) {
      const b = zlib.zstdDecompressSync(frame);
      yield new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      return;
    }
    const { Readable } = await import("node:stream");
    const z = Readable.from([frame]).pipe(zlib.createZstdDecompress());
    for await (const b of z) yield new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  for await (const chunk of src) {
    q.push(chunk);
    for (;;) {
      const n = frameLength(q, scan);
      if (n < 0) break;
      scan.pos = 0;
      yield* decode(q.take(n));
    }
  }
  if (q.length) throw new Error("truncated zstd data (the last frame is incomplete)");
}
