/**
 * report(): pwalk's CSV of a tree, plain, zstd or gzip, written by the
 * native library straight to a file, a device, a FIFO or stdout.
 *
 * @module
 */
import { Compress, native, Opt } from "./ffi.ts";
import {
  checkBools,
  checkExcludeNotRoot,
  checkNoNul,
  checkOptionNames,
  COMMON_OPTIONS,
  commonNative,
  type CommonOptions,
  type OptionNames,
  typed,
  withoutNulls,
} from "./options.ts";
import { checkRun, type NativeOption, runJob, type WalkError } from "./job.ts";
import {
  LIBRARY_PARTIAL,
  libraryPartial,
  outputTarget,
  ProtectedLinkError,
  refuseDescriptorFile,
  removeBeside,
} from "./outfile.ts";
import { removeOnInterrupt } from "./interrupt.ts";

/** The names of {@link ReportOptions} (any other: a TypeError). */
export const REPORT_OPTIONS: OptionNames<ReportOptions> = {
  ...COMMON_OPTIONS,
  output: true,
  header: true,
  compress: true,
  level: true,
  printErrors: true,
  clearLineBeforeErrors: true,
  deviceMap: true,
};

/** Options of {@link report}. */
export interface ReportOptions extends CommonOptions {
  /**
   * Where the CSV goes: a path, or `"-"`/omitted for stdout. Its suffix
   * decides the format (see `compress`).
   *
   * - A new name or a regular file is written under a temporary name beside
   *   it (`FILE.partial-PID-N`) and renamed into place only when the report
   *   succeeded; an existing file keeps its permission bits (and, as root,
   *   its owner and group). A cancel, a failure, or `Deno.exit()` while it
   *   runs (its "unload" event) removes the temporary. A process that ends
   *   otherwise leaves it: one killed outright (`kill -9`, a batch time
   *   limit), or a script ended by an uncaught exception, an unhandled
   *   rejection or a signal it does not listen for (SIGTERM, SIGHUP, SIGINT:
   *   Deno's default; no "unload" event then). Such a leftover is removed by the next report to
   *   FILE, before its walk, once that process is not alive on this host
   *   and no process holds a lock on the file (a run locks its temporary,
   *   flock, while it writes it: a live run on another host or in another
   *   PID namespace keeps it) (see {@link ReportSummary.leftoversRemoved}).
   * - A character or block device (`/dev/null`) or a FIFO is written
   *   directly, as the shell's `>` does; a FIFO with no reader yet is waited
   *   for. A write error (`/dev/full`) fails the report.
   * - A symbolic link is written through: the file it names is replaced (or
   *   the device or FIFO written), the link stays.
   * - A folder, a socket and a symbolic link to a missing file are refused;
   *   `""` (no name at all) is a TypeError, before anything is walked.
   * - `/dev/stdout`, `/dev/fd/1` and `/proc/self/fd/1` are this process's
   *   stdout, written through its descriptor as `"-"` is (by name it would
   *   be replaced: a log that stdout appends to would be lost).
   */
  output?: string;
  /** Print pwalk's header line first. Default false (as pwalk). */
  header?: boolean;
  /**
   * How the report is written. Default: from the output's suffix, case
   * insensitive: `.zst` or `.zstd` zstd, `.gz` gzip, `.parquet` typed
   * Parquet, anything else (and stdout) `"none"`, plain CSV. A value the
   * suffix contradicts (`"zstd"` for `scan.csv.gz` or `scan.csv`) throws a
   * RangeError; on stdout any value goes. A suffix of a format pwalk does
   * not write (`.xz`, `.bz2`, `.lz4`, `.zip`, ...) throws a RangeError
   * unless `compress` is given (`"none"`: plain CSV under that name).
   *
   * `"parquet"`: pwalk's 17 columns under the header's names, typed as
   * summary and DuckDB read them (inode UBIGINT, directory-depth INTEGER,
   * UID and GID UINTEGER, st_mode UINTEGER: the mode as a number, 33188
   * for the CSV's "0100644"; the rest BIGINT or UBIGINT), zstd pages,
   * written by the library itself (DuckDB is not loaded). Names hold what
   * DuckDB reads from the CSV: control bytes dropped, and in a name that is
   * not UTF-8 every byte that is not part of a UTF-8 character as `\xNN`
   * (as `convert` writes them).
   * `header` changes nothing (the columns carry their names).
   */
  compress?: Compression;
  /**
   * Compression level: zstd and Parquet's zstd pages 1-19 (default 1, fast;
   * about 13:1 on pwalk CSV), gzip 1-9 (default 1). Plain CSV has no level:
   * giving one, or one out of the range, throws a RangeError.
   */
  level?: number;
  /** Stream one line per error to stderr while walking (the CLI does). Default false. */
  printErrors?: boolean;
  /**
   * With printErrors: each error line starts by clearing the terminal's
   * current line, where a progress line is drawn (the CLI's, on a terminal;
   * it is redrawn at its next tick). Default false.
   */
  clearLineBeforeErrors?: boolean;
  /**
   * Device numbers to print in the st_dev column (CSV and Parquet): each
   * pair `[from, to]` makes the rows of files on device `from` carry `to`.
   * A shard uses it to write its plan's device numbers on a node whose
   * mounts have other ones (NFS, Lustre, FUSE: a number per mount, in mount
   * order). Nothing else changes (`oneFileSystem` compares the real
   * numbers). A `from` or a `to` given twice throws a RangeError.
   */
  deviceMap?: [from: number | bigint, to: number | bigint][];
}

/** What {@link report} returns. */
export interface ReportSummary {
  /** The output file, or null for stdout. */
  output: string | null;
  /** How the output was written. */
  compress: Compression;
  /** Whether the output is compressed (zstd, gzip, or Parquet's zstd pages). */
  compressed: boolean;
  /** Rows written (folders included). */
  entries: number;
  /** Folder rows. */
  folders: number;
  /**
   * Sum of st_size over all rows (apparent size), modulo 2^64 (only sparse
   * files of 16 EiB in all wrap it; `summarize()` sums exactly).
   */
  bytes: number;
  /**
   * Sum of st_blocks x 512 over all rows (allocated size; a file with
   * several names counts once per name, where `du` counts it once: `summary`
   * counts it once), modulo 2^64 as `bytes` (16 EiB summed over names, or a
   * file system's made-up block counts, wrap it; `summarize()` sums exactly).
   */
  allocatedBytes: number;
  /** Bytes written to the output. */
  outputBytes: number;
  /** Errors met (each also in errorDetails, up to maxErrors). */
  errors: number;
  /** The first errors, in detail. */
  errorDetails: WalkError[];
  /** Names holding control bytes, printed with those bytes dropped (pwalk's "Bad File"). */
  badNames: number;
  /**
   * Parts of large folders whose names were handed to idle workers, so that
   * several statted them at once (0 when no worker idled during one).
   */
  sharedParts: number;
  /** Wall time in milliseconds. */
  elapsedMs: number;
  /**
   * The temporary files (`FILE.partial-PID-N` beside the output) that
   * earlier runs killed before their end left, removed before the walk
   * (so that one inside the tree is never a row): those whose process is
   * not alive on this host and that no live process holds locked (a run
   * locks its own while it writes it). Nothing is printed (the CLI says
   * "removed ..., left by an earlier run killed before its end" for each).
   */
  leftoversRemoved: string[];
}

/** How a report is written: CSV compressed with zstd or gzip, plain CSV, or typed Parquet. */
export type Compression = "zstd" | "gzip" | "none" | "parquet";

/** Default zstd level for `.zst` outputs. */
export const DEFAULT_LEVEL = 1;
/** Default gzip level for `.gz` outputs. */
export const DEFAULT_GZIP_LEVEL = 1;

const LEVELS: Record<Exclude<Compression, "none">, [min: number, max: number, dflt: number]> = {
  zstd: [1, 19, DEFAULT_LEVEL],
  gzip: [1, 9, DEFAULT_GZIP_LEVEL],
  parquet: [1, 19, DEFAULT_LEVEL],
};

/**
 * The format an output name asks for, by its suffix (any case):
 * `.zst`/`.zstd` zstd, `.gz` gzip, `.parquet` Parquet, anything else none.
 *
 * @example
 * ```ts ignore
 * import { compressionOf } from "./report.ts";
 * console.log(compressionOf("scan.csv.GZ")); // "gzip"
 * ```
 */
export function compressionOf(name: string): Compression {
  const n = name.toLowerCase();
  if (n.endsWith(".zst") || n.endsWith(".zstd")) return "zstd";
  if (n.endsWith(".gz")) return "gzip";
  if (n.endsWith(".parquet")) return "parquet";
  return "none";
}

/** Suffixes of compressed or archive formats pwalk does not write, and what they name. */
const FOREIGN_SUFFIXES: [string, string][] = [
  [".bz2", "bzip2 compression"],
  [".xz", "xz compression"],
  [".lzma", "lzma compression"],
  [".lz", "lzip compression"],
  [".lz4", "lz4 compression"],
  [".br", "brotli compression"],
  [".sz", "snappy compression"],
  [".z", "Unix compress"],
  [".zip", "a zip archive"],
  [".tgz", "a gzipped tar archive"],
  [".tzst", "a zstd-compressed tar archive"],
  [".txz", "an xz-compressed tar archive"],
  [".tbz2", "a bzip2-compressed tar archive"],
  [".tbz", "a bzip2-compressed tar archive"],
  [".tar", "a tar archive"],
  [".7z", "a 7-Zip archive"],
];

/**
 * The format a name's suffix names that pwalk does not write (`scan.csv.xz`:
 * "xz"), or undefined: such a file written as plain CSV would carry a name
 * that every tool (DuckDB too) reads as that format, and fails on. A tar
 * name under a compression pwalk writes (`scan.tar.gz`, `scan.tar.zst`)
 * is one too: its content would be compressed CSV, not an archive; and so
 * is a Parquet name under one (`scan.parquet.gz`: compressed CSV, which
 * DuckDB, told by the name, reads as Parquet and fails on).
 */
export function foreignFormat(name: string): string | undefined {
  const n = name.toLowerCase();
  const tar = /\.tar\.(gz|zstd?)$/.exec(n);
  if (tar) return `a ${tar[1] === "gz" ? "gzipped" : "zstd-compressed"} tar archive`;
  // (its content would be compressed CSV, which no Parquet reader opens)
  const pq = /\.parquet\.(gz|zstd?)$/.exec(n);
  if (pq) return `a ${pq[1] === "gz" ? "gzipped" : "zstd-compressed"} Parquet file`;
  return FOREIGN_SUFFIXES.find(([suffix]) => n.endsWith(suffix))?.[1];
}

/**
 * The format of a report: `compress` and `level` checked against each other
 * and against the output's suffix, defaults filled in. Throws a RangeError
 * with a one-line message on a contradiction, which names `suffixes` as
 * the names that compress (a shard's: ".zst or .gz").
 *
 * @example
 * ```ts ignore
 * import { reportFormat } from "./report.ts";
 * console.log(reportFormat("scan.csv.gz")); // { compress: "gzip", level: 1 }
 * // reportFormat("scan.csv", undefined, 19) throws: plain CSV has no level
 * ```
 */
export function reportFormat(
  output: string | undefined,
  compress?: Compression,
  level?: number,
  suffixes = ".zst, .gz or .parquet",
): { compress: Compression; level: number } {
  const toStdout = output === undefined || output === "-";
  const where = toStdout ? "stdout" : output;
  if (compress !== undefined && !["zstd", "gzip", "none", "parquet"].includes(compress)) {
    throw new RangeError(
      `pwalk: compress must be "zstd", "gzip", "none" or "parquet", got ${
        JSON.stringify(compress)
      }`,
    );
  }
  const named = toStdout ? undefined : compressionOf(output);
  if (named !== undefined && compress !== undefined && compress !== named) {
    const says = named === "none" ? "plain CSV (no .zst, .zstd, .gz or .parquet suffix)" : named;
    throw new RangeError(`pwalk: compress "${compress}" contradicts ${where}, which names ${says}`);
  }
  const foreign = named !== undefined && (named !== "none" || compress === undefined)
    ? foreignFormat(output!)
    : undefined;
  if (foreign) {
    throw new RangeError(
      `pwalk: ${where} names ${foreign}, which pwalk does not write: name it ${suffixes} (or .csv for plain CSV)`,
    );
  }
  const kind = compress ?? named ?? "none";
  if (level !== undefined && typeof level !== "number") {
    throw new TypeError(`pwalk: level must be an integer, got ${typed(level)}`);
  }
  if (level !== undefined && !Number.isInteger(level)) {
    throw new RangeError(`pwalk: level must be an integer, got ${level}`);
  }
  if (kind === "none") {
    if (level !== undefined) {
      throw new RangeError(
        `pwalk: level ${level} given for plain CSV to ${where} (a ${suffixes} name compresses)`,
      );
    }
    return { compress: kind, level: 0 };
  }
  const [min, max, dflt] = LEVELS[kind];
  if (level !== undefined && (level < min || level > max)) {
    throw new RangeError(
      `pwalk: level ${level} is not a ${kind} level (${min}-${max}) for ${where}`,
    );
  }
  return { compress: kind, level: level ?? dflt };
}

/** Names of this process's own stdout: an output so named is `"-"`. */
const STDOUT_NAMES = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

/** Whether `output` names this process's stdout (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`). */
export function stdoutName(output: string | undefined): boolean {
  return output !== undefined && STDOUT_NAMES.includes(output);
}

/**
 * Refuse an output that leads to one of this process's descriptors (other
 * than stdout's names, written through fd 1) behind which lies a regular
 * file: `-o /dev/fd/3 3>scan.csv`, `-o /dev/stderr 2>>run.log`, a link to
 * either ({@link refuseDescriptorFile}). A report replaces its file whole,
 * by renaming a new file over it, which the descriptor would never see (a
 * log redirected with `2>>` would be replaced by the report). A FIFO or
 * device behind it (`-o /dev/fd/63` of `>(zstd ...)`) is written directly,
 * as any FIFO is.
 */
export function checkDescriptorOutput(output: string): void {
  refuseDescriptorFile(output);
}

/** ReportOptions.deviceMap checked, as the library's "FROM TO" strings. */
function checkDeviceMap(map: unknown): string[] {
  if (map === undefined) return [];
  const dev = (v: unknown) =>
    (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) ||
    (typeof v === "bigint" && v >= 0n && v < 2n ** 64n);
  if (
    !Array.isArray(map) || !map.every((m) => Array.isArray(m) && m.length === 2 && m.every(dev))
  ) {
    throw new TypeError("pwalk: deviceMap must be an array of [from, to] device numbers");
  }
  const froms = new Set(map.map((m) => String(m[0])));
  const tos = new Set(map.map((m) => String(m[1])));
  if (froms.size !== map.length || tos.size !== map.length) {
    throw new RangeError("pwalk: deviceMap: a device is mapped twice, or two onto one");
  }
  return map.map((m) => `${m[0]} ${m[1]}`);
}

/**
 * Write pwalk's CSV report of `root` (or the same rows as typed Parquet:
 * `output: "scan.parquet"`).
 *
 * @example Report a folder to a zstd file and read the summary
 * ```ts
 * import { report } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/sub`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 * await Deno.writeTextFile(`${tmp}/data/sub/b.txt`, "hi");
 *
 * const s = await report(`${tmp}/data`, { output: `${tmp}/scan.csv.zst`, header: true });
 * assertEquals([s.entries, s.folders, s.errors], [4, 2, 0]); // data, sub, a.txt, b.txt
 * assertEquals(s.compress, "zstd");
 * assertEquals(s.outputBytes, (await Deno.lstat(`${tmp}/scan.csv.zst`)).size);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {TypeError} when `output` is `""` or not a string, or an option has
 *   the wrong type (a boolean one not true, false or undefined; an option
 *   given as `null` is not given, as for walk()) (nothing is walked)
 * @throws {RangeError} when `compress`, `level` and the output's suffix
 *   contradict each other, or the root, `output` or an `exclude` holds a NUL
 *   byte (nothing is written)
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.NotADirectory} when the root is not a folder
 * @throws the signal's reason when cancelled (no output file is left). A
 *   worker blocked in a hung file system (an NFS or FUSE server that does
 *   not answer) cannot be interrupted: 1 s after the abort the promise
 *   rejects anyway and the temporary output is removed; the workers end,
 *   and the job is freed, when the file system answers (until then they
 *   keep the process alive). With `errorsCsvFd` it waits for them (they
 *   may still write to it).
 */
export async function report(root: string, options: ReportOptions = {}): Promise<ReportSummary> {
  return await reportRun(root, options, true, true);
}

/**
 * {@link report}, but an abort waits for every worker, also one that hangs
 * in a file system: for the CLI and a shard's run, which say what they
 * wait for and quit on a second signal (their process could not end before
 * the workers return anyway).
 */
export async function reportToEnd(
  root: string,
  options: ReportOptions = {},
): Promise<ReportSummary> {
  return await reportRun(root, options, false, false);
}

/**
 * {@link report}; `leave`: an abort settles without waiting for workers that
 * hang; `api`: an exclude naming the root is refused here (the CLI refuses
 * it itself, and a shard's excludes are its plan's, checked when it was made).
 */
async function reportRun(
  root: string,
  options: ReportOptions,
  leave: boolean,
  api: boolean,
): Promise<ReportSummary> {
  options = withoutNulls(options);
  checkOptionNames("report", options, REPORT_OPTIONS);
  // "" names no file (the library refuses it too, ENOENT): refused here
  // with the API's own error, before anything starts, as the CLI's -o "" is.
  if (options.output !== undefined && (typeof options.output !== "string" || !options.output)) {
    throw new TypeError(
      `pwalk: output must be a file name, or "-" (or omitted) for stdout, got ${
        JSON.stringify(options.output) ?? String(options.output)
      }`,
    );
  }
  if (options.output !== undefined) checkNoNul("output", options.output);
  checkBools(options, ["header", "printErrors", "clearLineBeforeErrors"]);
  const output = stdoutName(options.output) ? "-" : options.output;
  const toStdout = output === undefined || output === "-";
  if (!toStdout) checkDescriptorOutput(output!);
  const { compress, level } = reportFormat(output, options.compress, options.level);
  const opts: NativeOption[] = commonNative(root, options);
  if (api) checkExcludeNotRoot(root, options.exclude);
  const native_compress = { zstd: Compress.ZSTD, gzip: Compress.GZIP, none: Compress.NONE };
  opts.push([Opt.COMPRESS, compress === "parquet" ? Compress.PARQUET : native_compress[compress]]);
  opts.push([Opt.LEVEL, level]);
  if (options.header) opts.push([Opt.HEADER, 1]);
  for (const m of checkDeviceMap(options.deviceMap)) opts.push([Opt.DEV_MAP, m]);
  opts.push(toStdout ? [Opt.OUTPUT_FD, 1] : [Opt.OUTPUT, output!]);
  if (options.printErrors) opts.push([Opt.ERROR_FD, 2]);
  if (options.printErrors && options.clearLineBeforeErrors) opts.push([Opt.ERROR_CLEAR, 1]);
  // signal and onProgress checked, and a signal aborted already its reason,
  // before anything is done (the leftovers of dead runs removed, below)
  checkRun(options);
  options.signal?.throwIfAborted();
  // A file, written under the library's FILE.partial-PID-N: those of runs
  // killed before their end removed now, and this run's removed should the
  // process end in Deno.exit() while it is written (a device or FIFO, a
  // link to nothing, a folder: none; the library says what is wrong). A
  // link the kernel's protected_symlinks would not follow is refused here.
  const target = toStdout ? null : await outputTarget(output!).catch((e) => {
    if (e instanceof ProtectedLinkError) throw e;
    return null;
  });
  const file = target && !target.direct ? target.path : null;
  const leftoversRemoved = file ? await removeBeside(file, LIBRARY_PARTIAL, { locked: true }) : [];
  let forget = () => {};
  let made: { path: string; ino: number | null } | undefined;
  const start = (o: Deno.PointerValue) => {
    const partial = file ? libraryPartial(file) : undefined;
    const job = native().pw_report_start(o);
    try {
      const info = partial ? Deno.lstatSync(partial) : undefined;
      if (info?.isFile) {
        forget = removeOnInterrupt(partial!);
        made = { path: partial!, ino: info.ino };
      }
    } catch { /* not made: the library failed, or wrote no temporary */ }
    return job;
  };
  let r;
  try {
    // An abort settles even while a worker hangs in the file system (see
    // `signal`), unless the workers may still write to the caller's
    // errorsCsvFd, which she may close once this settled.
    r = await runJob(opts, start, options, leave && options.errorsCsvFd === undefined);
  } catch (e) {
    // Left while workers hang: the library removes its temporary only when
    // they return; removed now (still the one it made: by its inode).
    if (made && options.signal?.aborted) {
      try {
        if (Deno.lstatSync(made.path).ino === made.ino) Deno.removeSync(made.path);
      } catch { /* removed by the library */ }
    }
    throw e;
  } finally {
    forget();
  }
  const c = r.counters;
  return {
    output: toStdout ? null : output!,
    compress,
    compressed: compress !== "none",
    entries: c.entries,
    folders: c.folders,
    bytes: c.bytes,
    allocatedBytes: c.allocatedBytes,
    outputBytes: c.outputBytes,
    errors: c.errors,
    errorDetails: r.errors,
    badNames: c.badNames,
    sharedParts: c.sharedParts,
    elapsedMs: r.elapsedMs,
    leftoversRemoved,
  };
}
