/**
 * A scan file's bytes, decompressed by its kind: what `pwalk summary`,
 * `diff`, `convert` and the planner's `--from` read.
 *
 * @module
 */
import { createGunzip } from "node:zlib";
import { Duplex } from "node:stream";
import { zstdChunks } from "./zstd.ts";
import type { Compression } from "./report.ts";

/**
 * The decompressed bytes of `body`, a scan file's stream compressed as
 * `kind` ("none" and "parquet": as they are).
 *
 * @example
 * ```ts ignore
 * const f = await Deno.open("scan.csv.gz");
 * for await (const chunk of decompressedStream(f.readable, "gzip")) console.log(chunk.length);
 * ```
 */
export function decompressedStream(
  body: ReadableStream<Uint8Array>,
  kind: Compression,
): AsyncIterable<Uint8Array> {
  if (kind === "zstd") return zstdChunks(body);
  // node:zlib's gunzip, not DecompressionStream("gzip"): a pwalk .gz is
  // many gzip members (one per 256 KiB of rows, and the header's own),
  // and DecompressionStream rejects whatever follows the first.
  if (kind === "gzip") {
    return body.pipeThrough(
      Duplex.toWeb(createGunzip()) as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  return body;
}
