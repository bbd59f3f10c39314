/**
 * `pwalk [report] [options] ROOT`: John Dey's pwalk CSV of ROOT.
 *
 * @module
 */
import { statSync, unlessRefused } from "../procfs.ts";
import {
  checkDescriptorOutput,
  compressionOf,
  reportFormat,
  reportToEnd,
  stdoutName,
} from "../report.ts";
import { ensureNative, nativeVersion } from "../ffi.ts";
import {
  BARE_OPTIONS,
  count,
  errorCount,
  errorsApart,
  formatUsage,
  helpAmong,
  HelpRequested,
  intArg,
  isStderrTerminal,
  oneRoot,
  optionsAmong,
  parse,
  runJob,
  usage,
  UsageError,
  VERSION,
  WALK_OPTIONS,
  walkArgs,
  writeStdout,
} from "./common.ts";
import { duration, formatBytes } from "./progress.ts";
import { outputApart, outputTarget } from "../outfile.ts";

/** `pwalk report --help`. */
export const HELP = `Usage: pwalk [report] [options] ROOT
       pwalk report --plan PLAN --shard I [-o FILE]
                             (one shard: pwalk report --plan --help)

One CSV row for every entry under ROOT (ROOT included), in John Dey's pwalk
format byte for byte, on stdout or in -o FILE.

Report options (pwalk's):
  --header               print the CSV header line first
  --NoSnap               skip folders named .snapshot
  --depth N              do not list folders at depth N or deeper (0: no limit)
  --exclude PATH         skip this folder and everything below it; a PATH that
                         is a file lists such folders, one per line. Repeatable.
                         A relative path, or line, is from the current folder
                         (not ROOT, nor the list's folder)
  -x, --one-file-system  skip entries on other file systems than ROOT's, by
                         device as find -xdev (a mount point gets no row
                         either, as in pwalk). A bind mount of ROOT's own
                         file system is entered (--exclude it); an overlayfs
                         folder's entries other than folders are kept,
                         whatever device they report
  --maxthreads N         worker threads (the same as --threads; it wins over
                         --threads when both are given)

More:
  -o, --output FILE      write to FILE instead of stdout; its suffix decides:
                         .zst/.zstd zstd, .gz gzip, .parquet typed Parquet,
                         else plain CSV (.xz, .bz2, .zip and other formats
                         pwalk does not write: refused). A file appears
                         (or is replaced, keeping its mode) only when the
                         report is complete; a device or FIFO is written
                         directly, a link is written through
  --level N              compression level: zstd (and Parquet's zstd pages)
                         1-19, gzip 1-9 (default 1);
                         refused with plain CSV
  --threads N            worker threads (default: one per CPU, more while the
                         file system makes them wait: up to 64, 32 for a
                         cold disk)
  --errors FILE          every error also as a CSV row in FILE:
                         path,operation,errno,message (neither -o's FILE nor
                         an --exclude list)
  --progress             a progress line on stderr: redrawn on a terminal
                         (the default there), else a plain line every 60 s
                         (also when the output goes to that terminal too:
                         the lines stay apart)
  --progress=SECONDS     a plain progress line every SECONDS (for logs)
  --no-progress          no progress line (the default when stderr is not a
                         terminal). The summary line comes in any case
  -h, --help             this help
  -V, --version          print the version (alone: anything beside it is bad usage)

Columns (--header prints their names):
  inode              inode number
  parent-inode       inode of the folder holding it (0 for ROOT)
  directory-depth    0 for ROOT's entries, 1 below them, ... (ROOT: -1)
  "filename"         the path: ROOT as given (trailing slashes dropped), then
                     the names (quotes doubled, bytes below 32 dropped)
  "fileExtension"    what follows the base name's last dot ("" if none, if
                     that dot starts the name, and for folders)
  UID, GID           owner and group ids
  st_size            size in bytes (apparent)
  st_dev             device number
  st_blocks          512-byte blocks allocated
  st_nlink           hard links
  "st_mode"          type and permissions, 7 octal digits ("0100644")
  st_atime, st_mtime, st_ctime   access, change of data, change of inode
                     (seconds since 1970)
  pw_fcount          folders: entries directly inside; others: -1
  pw_dirsum          folders: sum of st_size of the entries directly inside

stderr: one line per error (unreadable folder, vanished file; the walk goes
on), the progress line, and at the end one summary line: entries, folders,
apparent and allocated bytes, errors, time, the output and its size.

Exit status:
  0    done (errors met on the way included, as in pwalk)
  1    failed while running (output or --errors file not writable)
  2    bad usage: unknown option, bad value, an empty ROOT,
       a ROOT that is missing, not a folder, or that cannot be
       opened and listed, or searched (r but no x permission; nothing
       is written; a folder below ROOT that cannot be is an error line,
       and its row), an -o or --errors that
       is a folder, a socket, a link to nothing, a file the report reads,
       or a descriptor of pwalk's open on a file (-o /dev/stderr 2>>log:
       give the file's own name)
  129, 130, 143   stopped by SIGHUP, SIGINT (Ctrl-C), SIGTERM: the partial
       output file is removed
  141  stdout, or an -o FIFO, closed early by its reader (| head): stopped
       quietly, as SIGPIPE would
`;

/**
 * Run `pwalk report` with the arguments after the command's name.
 * `Deno.exit(await run(["--header", "-o", "scan.csv.zst", "/data"]));`
 */

export async function run(args: string[]): Promise<number> {
  // One shard of a planned scan: its own options (lib/cli/report_shard.ts).
  // (as an option: not a value, `-o --plan`, nor after `--`)
  if (optionsAmong(args, BARE_OPTIONS).has("plan")) {
    const shard = await import("./report_shard.ts");
    try {
      return await shard.run(args);
    } catch (e) {
      // `pwalk report --plan --help` (--help taken as the plan): the shard's own options
      if (!(e instanceof HelpRequested || (e instanceof UsageError && helpAmong(args)))) throw e;
      writeStdout(`${shard.HELP}\n`);
      return 0;
    }
  }
  const f = parse(args, {
    ...WALK_OPTIONS,
    depth: "value",
    output: "once",
    level: "value",
    header: "flag",
    version: "flag",
  });
  if (f.version) {
    // alone: an operand or another option (a bad value too) is bad usage, not ignored
    const other = args.find((a) => a !== "-V" && a !== "--version");
    if (other !== undefined) throw new UsageError(`--version takes nothing else, got '${other}'`);
    await ensureNative();
    writeStdout(`pwalk ${VERSION} (native ${nativeVersion()})\n`);
    return 0;
  }
  const root = await oneRoot(f, { walked: true, deep: true });
  const { ui, ...walk } = await walkArgs(f, root);
  // -o /dev/stdout: this process's stdout, written through its descriptor
  // as -o - is (by name it would be replaced: a log redirected with >> lost)
  const given = f.output as string | undefined;
  const output = stdoutName(given) ? "-" : given;
  const toStdout = output === undefined || output === "-";
  // gzip's levels are 1-9, zstd's (and Parquet's pages) 1-19: the range the output takes
  const level = intArg("level", f.level, 1, !toStdout && compressionOf(output) === "gzip" ? 9 : 19);
  // a folder, a socket, a link to nothing, or an --exclude list read above:
  // bad usage (anything else the library tells, as it opens it)
  if (!toStdout) {
    await outputTarget(output).catch((e) => {
      if (e instanceof RangeError) throw usage(e);
    });
    await outputApart(output, ui.inputs ?? []).catch((e) => {
      throw e instanceof RangeError ? usage(e) : e;
    });
  }
  errorsApart(ui.errors, toStdout ? undefined : output, "report's output");
  // -o DEVICE or FIFO: written directly, not replaced (lib/report.ts)
  let direct = false;
  try {
    const st = toStdout ? undefined : statSync(output); // (/dev too: lib/procfs.ts)
    direct = !!st && !st.isFile && !st.isDirectory;
  } catch (e) {
    unlessRefused(e); // (a scoped --allow-read that hides it: refused, not taken for new)
  }
  // The suffix decides the format: a --level it contradicts is bad usage,
  // told before anything is written.
  try {
    reportFormat(output, undefined, level);
    if (!toStdout) checkDescriptorOutput(output);
  } catch (e) {
    if (e instanceof RangeError) throw formatUsage(e);
    throw e;
  }
  return await runJob({
    ...ui,
    tag: "pwalk:",
    toStdout,
    toTerminal: direct && isStderrTerminal(output!),
    outputs: toStdout || direct ? [] : [output],
    // -o FILE.parquet: typed Parquet, written by the library (no DuckDB).
    // FILE.partial-PID-N of runs killed before their end (kill -9, a batch
    // job's time limit): report() removes them before the walk and names them
    start: (run) =>
      reportToEnd(root, {
        ...walk,
        ...run,
        output,
        level,
        header: !!f.header,
        printErrors: true,
      }),
    done: (s) => {
      const sizes = `${formatBytes(s.bytes)} apparent, ${formatBytes(s.allocatedBytes)} allocated`;
      const out = `${s.output ?? "stdout"} (${formatBytes(s.outputBytes)})`;
      // the summary last: every run ends with it (a log's last line)
      return [
        ...s.leftoversRemoved.map((t) =>
          `pwalk: removed ${t}, left by an earlier run killed before its end`
        ),
        `pwalk: ${count(s.entries, "entry", "entries")}, ${
          count(s.folders, "folder")
        }, ${sizes}, ` +
        `${errorCount(s.errors, ui.errors)} in ${duration(s.elapsedMs)} -> ${out}`,
      ];
    },
    interrupted: (p) => {
      // all that reached it: no write begins after the cancel, and one cut
      // short by it counts its part
      const before = p?.outputBytes ? ` (${formatBytes(p.outputBytes)} were written)` : "";
      // nothing written yet (a FIFO no reader opened): nothing incomplete
      if (p && !p.outputBytes && (toStdout || direct)) {
        return toStdout ? "nothing was written to stdout" : `nothing was written to ${output}`;
      }
      if (toStdout) return `the CSV on stdout is incomplete${before}`;
      // a device or FIFO is written directly: what reached it stays
      if (direct) return `the CSV written to ${output} is incomplete${before}`;
      // the temporary is gone; a file there now is the one there before
      // (a report renames its own over it only once done)
      let there = false;
      try {
        there = !!Deno.lstatSync(output!);
      } catch { /* none */ }
      return there
        ? `no new output was left (${output} was left as it was)`
        : `no output file was left (${output} was not written)`;
    },
  });
}
