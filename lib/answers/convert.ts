/**
 * convert(): a scan from one format to another (.csv, .csv.zst, .csv.gz,
 * .parquet), and reportParquet(): a report straight to Parquet (written by
 * the library, native/parquet.c, with the same columns and types).
 *
 * Parquet files hold pwalk's 17 columns under the header's names, typed
 * (see {@link TYPED_COLUMNS}): integers as integers (inode, parent-inode
 * and st_nlink UBIGINT; UID, GID UINTEGER; directory-depth INTEGER; st_dev,
 * sizes, blocks, times, pw_fcount, pw_dirsum BIGINT), filename and
 * fileExtension VARCHAR, and **st_mode as a number (UINTEGER)**: the CSV's
 * "0100644" is 33188, so `st_mode // 4096 = 8` selects regular files and
 * `printf('%07o', st_mode)` gives the CSV's text back.
 *
 * CSV output is pwalk's format (the header line quoted as
 * pwalk quotes it, filename, fileExtension and st_mode in quotes with `"`
 * doubled), with the header unless `header: false`; row order is not kept
 * (pwalk's is not defined either). Names that were not UTF-8 in a CSV
 * input are written with `\xNN` escapes (see scan.ts).
 *
 * @module
 */
import {
  cancellable,
  checkEngineOptions,
  Engine,
  ENGINE_OPTIONS,
  type EngineOptions,
  lit,
  spillError,
  spillParent,
  spillPrefix,
  type StageOptions,
  tellStage,
  writable,
} from "./duck.ts";
import {
  allowLines,
  checkOneScan,
  checkScanList,
  duckCompression,
  formatOf,
  isEncodingError,
  lineSizeAfter,
  loadScan,
  namingScans,
  nullText,
  PWALK_HEADER,
  resolveScans,
  type ScanFormat,
  TYPED_COLUMNS,
  viewErrorAsLoaded,
} from "./scan.ts";
import { report, REPORT_OPTIONS, type ReportOptions, type ReportSummary } from "../report.ts";
import {
  checkBool,
  checkInt,
  checkOptionNames,
  type OptionNames,
  withoutNulls,
} from "../options.ts";
import {
  checkedOutput,
  fifoReader,
  openDirect,
  openPartial,
  osErrorText,
  PARTIAL_BESIDE,
  type PartialFile,
  removeBeside,
  safeByName,
  writeAll,
} from "./files.ts";
import { removeOnInterrupt } from "../interrupt.ts";
import { zstdChunks } from "../zstd.ts";
import { oneLine } from "../utf8.ts";

/** The names of {@link ConvertOptions} (any other: a TypeError). */
export const CONVERT_OPTIONS: OptionNames<ConvertOptions> = {
  ...ENGINE_OPTIONS,
  header: true,
  level: true,
};

/** Options of {@link convert}. */
export interface ConvertOptions extends EngineOptions, StageOptions {
  /** Write pwalk's header line first (CSV outputs). Default true. */
  header?: boolean;
  /** zstd level of .csv.zst and .parquet outputs (a RangeError for others). Default 3 (DuckDB's). */
  level?: number;
}

/** What {@link convert} returns. */
export interface ConvertSummary {
  /** The files read. */
  inputs: string[];
  /** The file written, as given. */
  output: string;
  /** Its format, from its name. */
  format: ScanFormat;
  /** Rows written. */
  rows: number;
  /**
   * Rows whose name was not UTF-8 (written with `\xNN` escapes); 0 for
   * Parquet inputs, whose names are stored escaped already.
   */
  nonUtf8Names: number;
}

/** The output names convert writes (any case, as report's `-o`). */
export const CONVERT_OUTPUT = /\.(csv|csv\.zstd?|csv\.gz|parquet)$/i;

/**
 * SQL: one pwalk CSV line (without newline) of a typed row, of its 17
 * fields always: DuckDB's concat_ws leaves out NULL arguments, so a NULL
 * number (which the readers refuse already) stops the copy here too,
 * naming its column, rather than write a row of 16 fields.
 */
export const LINE_SQL: string = (() => {
  const q = (c: string) => `'"' || replace(coalesce("${c}", ''), '"', '""') || '"'`;
  const set = (c: string, text: string) =>
    `CASE WHEN "${c}" IS NULL THEN error(${lit(nullText(c))}) ELSE ${text} END`;
  return "concat_ws(','," +
    TYPED_COLUMNS.map(([c]) =>
      c === "filename" || c === "fileExtension"
        ? q(c)
        : c === "st_mode"
        ? set(c, `'"' || printf('%07o', "st_mode") || '"'`)
        : c === "st_nlink"
        // pwalk's %d of the count (read mod 2^32): 3,000,000,000 as -1294967296
        ? set(
          c,
          `(("st_nlink" % 4294967296)::BIGINT - ` +
            `CASE WHEN "st_nlink" % 4294967296 >= 2147483648 THEN 4294967296 ELSE 0 END)::VARCHAR`,
        )
        : set(c, `"${c}"::VARCHAR`)
    ).join(", ") + ")";
})();

/** A failure to write convert's output (told as OUT's, never as an input's). */
class OutputError extends Error {}

/**
 * An error of writing `partial` (OUT's temporary) told as writing `shown`
 * (OUT): DuckDB's 'IO Error: Could not write file "PARTIAL": No space left
 * on device' as "pwalk: cannot write OUT: No space left on device"; pwalk's
 * own "cannot write OUT" as it is; anything else (an input's: COPY reads
 * the input too) unchanged.
 */
function asOutputError(err: unknown, partial: string, shown: string): unknown {
  const msg = String((err as Error)?.message ?? err);
  const first = msg.split("\n")[0];
  if (msg.startsWith(`pwalk: cannot write ${oneLine(shown)}: `)) {
    return new OutputError(msg, { cause: err });
  }
  const at = first.indexOf(partial);
  if (at < 0) return err;
  const why = first.slice(at + partial.length).replace(/^["']?:\s*/, "") || first;
  return new OutputError(`pwalk: cannot write ${oneLine(shown)}: ${why}`, { cause: err });
}

/**
 * Open `out` (a new file, or as it is: a device, a FIFO; or a file open for
 * writing, from its start, left open), run `write` on it, close what was
 * opened here; a failure is told as writing `shown` (OUT).
 */
async function writeInto(
  out: string | Deno.FsFile,
  shown: string,
  create: boolean,
  write: (f: Deno.FsFile) => Promise<void>,
): Promise<void> {
  const held = typeof out !== "string";
  let failed: unknown;
  const f = held ? out : await Deno.open(out, { write: true, create, truncate: create });
  try {
    if (held && create) { // (a second attempt, after names that were not UTF-8)
      await f.truncate(0);
      await f.seek(0, Deno.SeekMode.Start);
    }
    await write(f);
  } catch (e) {
    failed = e;
  } finally {
    try {
      if (!held) f.close();
    } catch (e) {
      failed ??= e;
    }
  }
  if (!failed) return;
  const message = `pwalk: cannot write ${oneLine(shown)}: ${osErrorText(failed)}`;
  // a FIFO (or stdout, by a link) closed early by its reader: a BrokenPipe
  // still, which the CLI ends quietly with 141, as a report's
  if (failed instanceof Deno.errors.BrokenPipe) {
    throw new Deno.errors.BrokenPipe(message, { cause: failed });
  }
  throw new Error(message);
}

/**
 * Write `head` then the bytes of `body` into `out`, as {@link writeInto}
 * opens it; an abort of `signal` stops it (a write that waits too: a
 * FIFO whose reader takes nothing) and rejects.
 */
function concatInto(
  out: string | Deno.FsFile,
  head: Uint8Array,
  body: string,
  shown: string,
  create = true,
  signal?: AbortSignal,
): Promise<void> {
  return writeInto(out, shown, create, async (f) => {
    await writeAll(f, head, signal);
    using src = await Deno.open(body);
    const buf = new Uint8Array(1 << 20);
    for (let n; (n = await src.read(buf)) !== null;) {
      signal?.throwIfAborted();
      await writeAll(f, buf.subarray(0, n), signal);
    }
  });
}

/**
 * Write the text of `body` (a .zst file, DuckDB's, at its level) into the
 * new file `out`, as one zstd frame at `level`: DuckDB's
 * COPY to CSV takes no COMPRESSION_LEVEL. The body is read back
 * compressed, so the staged body never holds the CSV text whole. A
 * failure is told as writing `shown` (OUT). An abort of `signal` stops
 * the compression (minutes at a high level on a large scan) and rejects.
 * (Exported for tests.)
 */
export async function recompressInto(
  out: string | Deno.FsFile,
  body: string,
  level: number,
  shown: string,
  signal?: AbortSignal,
): Promise<void> {
  const zlib = await import("node:zlib");
  const { Readable } = await import("node:stream");
  await writeInto(out, shown, true, async (f) => {
    signal?.throwIfAborted();
    using src = await Deno.open(body);
    const text = Readable.from(zstdChunks(src.readable));
    const z = text.pipe(zlib.createZstdCompress({
      params: { [zlib.constants.ZSTD_c_compressionLevel]: level },
    }));
    const stop = () => {
      text.destroy();
      z.destroy(signal!.reason);
    };
    signal?.addEventListener("abort", stop, { once: true });
    try {
      for await (const b of z) {
        await writeAll(f, new Uint8Array(b.buffer, b.byteOffset, b.byteLength), signal);
      }
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  });
}

/**
 * Convert scan files (a file, glob or shard folder; CSV with or without
 * header, or Parquet) into one `output` file whose format its name gives:
 * `.csv`, `.csv.zst`, `.csv.gz` or `.parquet`. The output appears only when
 * complete (written beside it under a temporary name, then renamed).
 *
 * @example CSV to typed Parquet, and back
 * ```ts
 * import { convert, report } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 * await report(`${tmp}/data`, { output: `${tmp}/scan.csv`, header: true });
 *
 * const p = await convert([`${tmp}/scan.csv`], `${tmp}/scan.parquet`);
 * assertEquals([p.format, p.rows], ["parquet", 2]); // data and a.txt
 * await convert([`${tmp}/scan.parquet`], `${tmp}/again.csv`);
 * // the same rows (in another order, maybe)
 * const rows = async (f: string) => (await Deno.readTextFile(f)).split("\n").sort();
 * assertEquals(await rows(`${tmp}/again.csv`), await rows(`${tmp}/scan.csv`));
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {RangeError} when `output` has no known suffix, is one of the
 * input files, or is a shard's output in a sharded scan's folder (checked
 * before any work; nothing is written)
 * @throws {TypeError} when `inputs` is not an array of strings (one file
 * alone too: give `["scan.csv"]`), or `header` is not true or false
 * (checked before any work)
 * @throws {ScanInputError} when an input names nothing readable, or the same file twice
 * @throws {SpillFullError} when DuckDB's spill folder runs out of space
 * @throws {Error} when `output` cannot be written (its folder is missing,
 * it is a file the caller could not write itself, or its disk fills up:
 * "pwalk: cannot write OUT: No space left on device", OUT as given)
 */
export async function convert(
  inputs: string[],
  output: string,
  options: ConvertOptions = {},
): Promise<ConvertSummary> {
  options = withoutNulls(options);
  checkOptionNames("convert", options, CONVERT_OPTIONS);
  checkEngineOptions(options);
  checkScanList("inputs", inputs);
  if (!CONVERT_OUTPUT.test(output)) {
    throw new RangeError(
      `pwalk: ${oneLine(output)}: the output must end in .csv, .csv.zst, .csv.gz or .parquet`,
    );
  }
  const format = formatOf(output);
  if (options.level !== undefined && (format === "csv" || format === "csv.gz")) {
    throw new RangeError(
      `pwalk: level applies to .csv.zst and .parquet outputs, not ${oneLine(output)}`,
    );
  }
  const level = checkInt("level", options.level ?? 3, 1, 19);
  // (checked: it is written into DuckDB's COPY options)
  const header = checkBool("header", options.header) ?? true;
  options.signal?.throwIfAborted();
  return await cancellable(options.signal, async () => {
    const files = await resolveScans(inputs, options.signal);
    const target = await checkedOutput(output, files.map((f) => f.path), { who: "convert" });
    const spill = spillParent(options);
    // The temporary beside OUT, made now, so that a folder that is missing or
    // not writable is told as OUT's, not as an error of DuckDB's reading the
    // input. A device or FIFO is written directly once the file is whole
    // (made in the temporary folder then, not beside it: never a new file in
    // /dev).
    let out: PartialFile | undefined;
    try {
      if (!target.direct) out = await openPartial(target.path);
    } catch (e) {
      (e as Error).message = `pwalk: cannot write ${oneLine(output)}: ${osErrorText(e)}`;
      throw e;
    }
    const partial = out?.path ??
      await Deno.makeTempFile({ dir: spill, prefix: spillPrefix(".pwalk-convert") }).catch((e) => {
        throw spillError(options, e, `the temporary of ${oneLine(output)}`);
      });
    const forget = out ? () => {} : removeOnInterrupt(partial);
    // Beside OUT in a folder others can change (safeByName), the temporary
    // is never used by its name after it is made: DuckDB writes in its
    // private spill folder, the bytes are copied through the descriptor that
    // made the temporary, and the new file keeps the runner as its owner.
    const made = out && !safeByName(target.path) ? out.file : undefined;
    // With views DuckDB reads the files during COPY, so a name that is not
    // UTF-8 shows there: then all of it again, through the escaping filter.
    // A line longer than DuckDB reads by default: all of it again, letting
    // DuckDB read lines that long (lineSizeAfter).
    let lineSize = 0;
    const attempt = async (escape: boolean): Promise<ConvertSummary> => {
      tellStage(options, "reading", inputs);
      const e = await Engine.open(options);
      allowLines(e, lineSize);
      const writing = async <T>(write: () => Promise<T>): Promise<T> => {
        try {
          return await write();
        } catch (err) {
          throw asOutputError(err, partial, output);
        }
      };
      try {
        const info = await loadScan(e, files, "t", "", escape, true);
        await checkOneScan(e, "t", files); // (a pass over the input before the copy)
        tellStage(options, "writing", output);
        let rows: number;
        if (format === "parquet") {
          // straight into the temporary file (not DuckDB's own tmp_ beside it,
          // which an interrupt would leave)
          const into = made ? `${e.tempDir}/out.parquet` : partial;
          const r = await writing(() =>
            e.all(
              `COPY (SELECT * FROM t) TO ${lit(writable(into))} ` +
                `(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${level}, USE_TMP_FILE false)`,
            )
          );
          rows = Number(r[0]?.Count ?? 0);
          // (the copy out of the spill folder: minutes for a large scan, so
          // an abort stops it too)
          if (made) {
            await writing(() =>
              concatInto(made, new Uint8Array(0), into, output, true, options.signal)
            );
          }
        } else {
          // DuckDB's zstd is level 3; another level is the text again,
          // recompressed. DuckDB writes the header itself (the one column is
          // named by it), so the text is written once, where it is to be:
          // into the temporary beside OUT; only where that cannot be used by
          // its name (made) or another level is asked for is it staged first,
          // beside OUT too where the folder is safe by name (so that OUT's
          // disk alone needs the room: the spill folder may be a small
          // tmpfs), in the private spill folder otherwise.
          const again = format === "csv.zst" && level !== 3;
          // (a device or FIFO, no out: staged in the private folder, never beside it in /dev)
          const staged = again && out && !made ? await openPartial(target.path) : undefined;
          try {
            const body = staged
              ? staged.path
              : again || made
              ? `${e.tempDir}/body.csv${again ? ".zst" : ""}`
              : partial;
            const r = await writing(() =>
              e.all(
                `COPY (SELECT ${LINE_SQL} AS "${PWALK_HEADER.replaceAll('"', '""')}" FROM t) ` +
                  `TO ${lit(writable(body))} (FORMAT csv, HEADER ${header}, QUOTE '', ESCAPE '', ` +
                  `DELIMITER '\t', COMPRESSION ${duckCompression(format)}, USE_TMP_FILE false)`,
              )
            );
            rows = Number(r[0]?.Count ?? 0);
            if (again) {
              await writing(() =>
                recompressInto(made ?? partial, body, level, output, options.signal)
              );
            } else if (made) {
              await writing(() =>
                concatInto(made, new Uint8Array(0), body, output, true, options.signal)
              );
            }
          } catch (err) {
            throw staged ? asOutputError(err, staged.path, output) : err;
          } finally {
            await staged?.abandon();
          }
        }
        return { inputs: info.files, output, format, rows, nonUtf8Names: info.nonUtf8Rows };
      } catch (err) {
        // (the view is read here: told as summary's and diff's loading tells it)
        // (a line too long: read again, see lineSize)
        throw escape || err instanceof OutputError || lineSizeAfter(err, lineSize)
          ? err
          : await viewErrorAsLoaded(e, err, files);
      } finally {
        await e.close();
      }
    };
    try {
      let r: ConvertSummary;
      for (;;) {
        try {
          r = await attempt(false);
          break;
        } catch (err) {
          if (err instanceof OutputError) throw err;
          lineSize = lineSizeAfter(err, lineSize);
          if (lineSize) continue;
          if (!isEncodingError(err)) throw namingScans(err, files.map((f) => f.path));
          r = await attempt(true);
          break;
        }
      }
      if (!out) {
        // (not written once cancelled; a FIFO with no reader yet waited
        // for where the signal reaches the wait: a blocking open is not)
        options.signal?.throwIfAborted();
        const release = await fifoReader(target.path, options.signal);
        let opened: Deno.FsFile;
        try {
          opened = await openDirect(target, output);
        } finally {
          release();
        }
        using f = opened;
        await concatInto(f, new Uint8Array(0), partial, output, false, options.signal);
        await Deno.remove(partial);
      } else {
        // the scan's time (its newest input's mtime: summary's "ages as
        // of"), as a copy of the scan keeps it; then the old OUT's owner and
        // mode, and the rename
        // (a time at or before 1970 is one too)
        let newest: number | undefined;
        for (const f of files) {
          const t = (await Deno.stat(f.path)).mtime?.getTime();
          if (t !== undefined && (newest === undefined || t > newest)) newest = t;
        }
        if (newest !== undefined) await out.file.utime(new Date(), new Date(newest));
        options.signal?.throwIfAborted(); // (not put in place once cancelled)
        try {
          out.commit();
        } catch (e) {
          (e as Error).message = `pwalk: cannot write ${oneLine(output)}: ${osErrorText(e)}`;
          throw e;
        }
        // temporaries of runs killed outright (kill -9): theirs, and DuckDB's
        const slash = target.path.lastIndexOf("/");
        const dir = target.path.slice(0, slash + 1), name = target.path.slice(slash + 1);
        for (const lead of [".", "tmp_."]) {
          await removeBeside(`${dir}${lead}${name}`, PARTIAL_BESIDE);
        }
      }
      return r;
    } catch (err) {
      if (out) await out.abandon();
      else await Deno.remove(partial).catch(() => {});
      throw err;
    } finally {
      forget();
    }
  });
}

/** Options of {@link reportParquet}. */
export interface ReportParquetOptions
  extends Omit<ReportOptions, "output" | "header" | "compress"> {
  /** The Parquet file to write. */
  output: string;
  /** Unused: the library writes Parquet itself, without DuckDB (kept for old callers). */
  engine?: EngineOptions;
}

/**
 * A report of `root` written as typed Parquet: `report(root, { output })`
 * with a `.parquet` output, which the library writes itself, row groups in
 * parallel on its worker threads (see report()'s `compress: "parquet"`);
 * the output appears only when complete. Returns report()'s summary.
 *
 * @example
 * ```ts
 * import { reportParquet, summarize } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 *
 * const s = await reportParquet(`${tmp}/data`, { output: `${tmp}/scan.parquet` });
 * assertEquals([s.entries, s.errors], [2, 0]); // data and a.txt
 * assertEquals(s.outputBytes, (await Deno.lstat(`${tmp}/scan.parquet`)).size);
 * // read back (by DuckDB)
 * const back = await summarize([`${tmp}/scan.parquet`]);
 * assertEquals(back.largestFiles.map((f) => [f.path, f.apparentBytes]), [
 *   [`${tmp}/data/a.txt`, 5],
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function reportParquet(
  root: string,
  options: ReportParquetOptions,
): Promise<ReportSummary> {
  const { output: _o, header: _h, compress: _c, ...names } = REPORT_OPTIONS;
  const known: OptionNames<ReportParquetOptions> = { ...names, output: true, engine: true };
  options = withoutNulls(options);
  checkOptionNames("reportParquet", options, known);
  const { output, engine: _, ...rest } = options;
  if (!/\.parquet$/i.test(output)) {
    throw new RangeError(
      `pwalk: reportParquet's output must end in .parquet, got ${oneLine(output)}`,
    );
  }
  return await report(root, { ...rest, output, compress: "parquet" });
}
