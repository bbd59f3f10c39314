/**
 * The files the answer commands write and read whole: where an output goes
 * (lib/outfile.ts, shared with the CLI's --errors), and whether a .csv.zst
 * scan is complete.
 *
 * @module
 */

export {
  checkedOutput,
  fifoReader,
  openDirect,
  openPartial,
  osErrorText,
  type OutputTarget,
  outputTarget,
  PARTIAL_BESIDE,
  type PartialFile,
  removeBeside,
  safeByName,
  writeAll,
} from "../outfile.ts";
import { oneLine } from "../utf8.ts";

/**
 * What another format's file is, from its first bytes (zstd's, gzip's and
 * Parquet's magic numbers): "zstd data", "gzip data", "Parquet data",
 * "text" (printable ASCII, as pwalk's CSV starts), or undefined (anything
 * else). A scan named with the wrong suffix is told so, not as a copy cut
 * short.
 */
function formatSeen(path: string): string | undefined {
  using f = Deno.openSync(path, { read: true });
  const b = new Uint8Array(4);
  let got = 0;
  for (let r; got < 4 && (r = f.readSync(b.subarray(got))) !== null;) got += r;
  if (got >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) {
    return "zstd data";
  }
  if (got >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "gzip data";
  if (got >= 4 && new TextDecoder().decode(b) === "PAR1") return "Parquet data";
  const printable = (c: number) => c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0x7f);
  if (got > 0 && b.subarray(0, got).every(printable)) return "text";
  return undefined;
}

/**
 * Check that a Parquet scan starts and ends with Parquet's magic bytes
 * (PAR1): another format's file (a wrong suffix) or a copy cut short
 * throws, told so, as the other formats' checks do (DuckDB's own message
 * names neither).
 */
export function checkParquetComplete(path: string): void {
  using f = Deno.openSync(path, { read: true });
  const size = f.statSync().size;
  if (size === 0) {
    throw new Error(
      `pwalk: ${oneLine(path)}: empty (0 bytes): no Parquet data; an incomplete copy?`,
    );
  }
  const seen = formatSeen(path);
  if (seen !== "Parquet data") {
    throw new Error(
      `pwalk: ${oneLine(path)}: not Parquet data (no PAR1 at byte 0)` +
        (seen ? `: ${seen} (wrong suffix?)` : ""),
    );
  }
  const tail = new Uint8Array(4);
  let got = 0;
  if (size >= 12) {
    f.seekSync(size - 4, Deno.SeekMode.Start);
    for (let r; got < 4 && (r = f.readSync(tail.subarray(got))) !== null;) got += r;
  }
  if (got < 4 || new TextDecoder().decode(tail) !== "PAR1") {
    throw new Error(
      `pwalk: ${
        oneLine(path)
      }: truncated: its Parquet data does not end with PAR1 (byte ${size}); ` +
        "an incomplete copy?",
    );
  }
}

/**
 * A promise run by `start` over the streams it returns, which an abort of
 * `signal` destroys: it rejects with the signal's reason then (a check of a
 * large scan's data takes seconds a GiB).
 */
function stoppable(
  signal: AbortSignal | undefined,
  start: (
    resolve: () => void,
    reject: (e: unknown) => void,
  ) => { destroy(): unknown }[],
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let streams: { destroy(): unknown }[] = [];
    const stop = () => {
      for (const s of streams) s.destroy();
      reject(signal!.reason);
    };
    const done = (settle: () => void) => {
      signal?.removeEventListener("abort", stop);
      settle();
    };
    streams = start(() => done(resolve), (e) => done(() => reject(e)));
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
}

/** The message of a compressed scan whose data ends inside a row. */
const noLineEnd = (path: string, what: string) =>
  new Error(
    `pwalk: ${
      oneLine(path)
    }: truncated: its ${what} data ends inside a row (no line end); an incomplete ` +
      "copy, or the compressor ended before pwalk did?",
  );

/**
 * Check that a zstd file ends where a frame ends: it walks the frame and
 * block headers (a few bytes read per 128 KiB block) and throws when the
 * data stops inside a frame, as a copy cut short does (DuckDB reads such a
 * file as if it were whole), or holds no frame at all. Then the last frame
 * that holds data is decompressed (pwalk's frames are a buffer of rows
 * each; another tool's may be the whole file, streamed): its last byte must
 * end a row, which a stream cut inside a row and closed whole (`pwalk ... |
 * zstd` when pwalk is killed) does not. A cut exactly after a row cannot
 * be seen.
 */
export async function checkZstdComplete(path: string, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  using f = Deno.openSync(path, { read: true });
  const size = f.statSync().size;
  const head = new Uint8Array(18);
  const read = (at: number, n: number): Uint8Array | undefined => {
    if (at + n > size) return undefined;
    f.seekSync(at, Deno.SeekMode.Start);
    let got = 0;
    while (got < n) {
      const r = f.readSync(head.subarray(got, n));
      if (r === null) return undefined;
      got += r;
    }
    return head.subarray(0, n);
  };
  const cut = (at: number) =>
    new Error(
      `pwalk: ${
        oneLine(path)
      }: truncated: its zstd data ends inside a frame (frame at byte ${at} of ${size}); ` +
        "an incomplete copy?",
    );
  // (a shard with nothing to walk writes one empty frame: 0 bytes is a cut)
  if (size === 0) {
    throw new Error(`pwalk: ${oneLine(path)}: empty (0 bytes): no zstd frame; an incomplete copy?`);
  }
  let at = 0;
  const frames: [number, number][] = []; // zstd frames (not skippable): start, end
  while (at < size) {
    const frame = at;
    const m = read(at, 4);
    if (!m) throw cut(frame);
    const magic = (m[0] | m[1] << 8 | m[2] << 16 | m[3] << 24) >>> 0;
    if ((magic & 0xfffffff0) === 0x184d2a50) { // a skippable frame: its length follows
      const l = read(at + 4, 4);
      if (!l) throw cut(frame);
      at += 8 + ((l[0] | l[1] << 8 | l[2] << 16 | l[3] << 24) >>> 0);
      if (at > size) throw cut(frame);
      continue;
    }
    if (magic !== 0xfd2fb528) {
      const seen = at === 0 ? formatSeen(path) : undefined;
      throw new Error(
        `pwalk: ${oneLine(path)}: not zstd data at byte ${at}` +
          (seen ? `: ${seen} (wrong suffix?)` : ""),
      );
    }
    const d = read(at + 4, 1);
    if (!d) throw cut(frame);
    const fhd = d[0];
    const single = (fhd >> 5) & 1;
    const fcs = [single, 2, 4, 8][fhd >> 6];
    at += 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + fcs;
    for (let last = 0; !last;) {
      const b = read(at, 3);
      if (!b) throw cut(frame);
      const h = b[0] | b[1] << 8 | b[2] << 16;
      last = h & 1;
      const type = (h >> 1) & 3;
      if (type === 3) throw new Error(`pwalk: ${oneLine(path)}: corrupt zstd data at byte ${at}`);
      at += 3 + (type === 1 ? 1 : h >>> 3);
      if (at > size) throw cut(frame);
    }
    if ((fhd >> 2) & 1) at += 4; // the content checksum
    if (at > size) throw cut(frame);
    frames.push([frame, at]);
  }
  // the frame streamed from the file (another tool's may be the whole
  // scan: memory holds a chunk, not the frame)
  const { createZstdDecompress } = await import("node:zlib");
  const { createReadStream } = await import("node:fs");
  for (let i = frames.length - 1; i >= 0; i--) {
    const [start, end] = frames[i];
    let last = -1;
    await stoppable(signal, (resolve, reject) => {
      const z = createZstdDecompress();
      z.on("data", (b: Uint8Array) => {
        if (b.length) last = b[b.length - 1];
      });
      z.on("end", () => resolve());
      z.on(
        "error",
        (e: Error) =>
          reject(
            new Error(
              // (whole data, of a window over zstd's default limit: not corrupt)
              /too much memory/i.test(e.message)
                ? `pwalk: ${
                  oneLine(path)
                }: its zstd frame at byte ${start} needs a window over the ` +
                  "128 MiB that zstd decodes by default (zstd --long=28 or more, from a pipe); " +
                  "zstd -dc --long=31 FILE | zstd -o COPY.csv.zst writes a copy pwalk reads"
                : `pwalk: ${
                  oneLine(path)
                }: corrupt zstd data in the frame at byte ${start}: ${e.message}`,
            ),
          ),
      );
      const src = createReadStream(path, { start, end: end - 1 }).on("error", reject);
      src.pipe(z);
      return [src, z];
    });
    if (last < 0) continue; // an empty frame: the one before ends the data
    if (last !== 10) throw noLineEnd(path, "zstd");
    return;
  }
}

/**
 * Check that a gzip file is whole: every member decompressed to its end,
 * its CRC and length checked (node:zlib reads concatenated members, as
 * report writes them). A copy cut short throws (DuckDB would read the rows
 * before the cut as the whole scan); a cut exactly between two members
 * cannot be seen. About 4 ms a MiB of compressed data.
 */
export async function checkGzipComplete(path: string, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  // (a missing file: Deno's NotFound, as for the other formats)
  const seen = Deno.statSync(path).size >= 2 ? formatSeen(path) : "gzip data";
  if (seen !== "gzip data") {
    throw new Error(
      `pwalk: ${oneLine(path)}: not gzip data at byte 0` +
        (seen ? `: ${seen} (wrong suffix?)` : ""),
    );
  }
  const { createGunzip } = await import("node:zlib");
  const { createReadStream } = await import("node:fs");
  // (the last byte of the data must end a row: a stream cut inside a row
  // and closed whole, `pwalk ... | gzip` when pwalk is killed, does not)
  let last = -1;
  await stoppable(signal, (resolve, reject) => {
    const g = createGunzip();
    g.on("data", (b: Uint8Array) => {
      if (b.length) last = b[b.length - 1];
    });
    g.on("end", () => resolve());
    g.on("error", (e: Error) =>
      reject(
        new Error(
          `pwalk: ${
            oneLine(path)
          }: truncated or damaged: its gzip data does not end whole (${e.message}); ` +
            "an incomplete copy?",
        ),
      ));
    const src = createReadStream(path).on("error", reject);
    src.pipe(g);
    return [src, g];
  });
  if (last >= 0 && last !== 10) throw noLineEnd(path, "gzip");
}

/**
 * Check that a plain CSV scan ends with a line end, as every row pwalk
 * writes does: a copy cut inside its last row throws. (A cut exactly after
 * a row cannot be seen.) A zstd, gzip or Parquet file (a wrong suffix)
 * throws, told so.
 */
export function checkCsvComplete(path: string): void {
  using f = Deno.openSync(path, { read: true });
  const size = f.statSync().size;
  if (size === 0) return;
  const seen = formatSeen(path);
  if (seen && seen !== "text") {
    throw new Error(`pwalk: ${oneLine(path)}: not CSV text: ${seen} (wrong suffix?)`);
  }
  const last = new Uint8Array(1);
  f.seekSync(size - 1, Deno.SeekMode.Start);
  if (f.readSync(last) === 1 && last[0] !== 10) {
    throw new Error(
      `pwalk: ${
        oneLine(path)
      }: truncated: its last row has no line end (byte ${size}); an incomplete copy?`,
    );
  }
}
