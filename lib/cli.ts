/**
 * The `pwalk` command line: argument parsing, the progress line, Ctrl-C,
 * exit codes.  cli.ts only calls {@link main}.
 *
 * Exit status: 0 done (per-entry errors are reported but, as in pwalk, do
 * not fail the run), 1 a fatal error while running (output not writable),
 * 2 bad usage (unknown option, missing or unusable root), 130 cancelled,
 * 141 stdout closed early (`| head`), quietly, as SIGPIPE would.
 *
 * @module
 */
// A full specifier rather than deno.json's "@std/cli/parse-args": this
// module also runs when imported by URL (https:), where no import map applies.
// deno-lint-ignore no-import-prefix
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import { report } from "./report.ts";
import { chownMain, repairMain } from "./cli_repair.ts";
import { formatBytes, ProgressLine } from "./progress.ts";
import { ensureNative, nativeVersion } from "./ffi.ts";
import { normaliseFolder } from "./options.ts";
import { eprint, intArg, isTerminal, unknownOptions, UsageError } from "./args.ts";
import denoJson from "../deno.json" with { type: "json" };

const n = (x: number) => x.toLocaleString("en-US");

/** The version of this package. */
export const VERSION: string = denoJson.version;

const HELP = `pwalk ${VERSION}: inventory a file system fast (John Dey's pwalk CSV)

Usage:
  pwalk [report] [options] ROOT        CSV of every entry under ROOT
  pwalk repair [options] ROOT          fix group sharing below ROOT (a dry run
                                       unless --apply; see pwalk repair --help)
  pwalk repair --undo JOURNAL          put back what a repair or chown changed
  pwalk --chown_from UID --chown_to UID:GID [--apply] ROOT
                                       give UID's entries (links themselves
                                       included) to UID:GID, printing each path;
                                       a dry run unless --apply. With --apply a
                                       journal goes to $XDG_STATE_HOME/pwalk/
                                       (~/.local/state/pwalk/) or --journal FILE

Report options (pwalk's):
  --header               print the CSV header line first
  --NoSnap               skip folders named .snapshot
  --depth N              do not list folders at depth N or deeper (0: no limit)
  --exclude FILE         FILE lists full folder paths to skip, one per line
  -x, --one-file-system  skip entries on other file systems than ROOT's
  --maxthreads N         worker threads (the same as --threads)

More:
  -o, --output FILE      write to FILE instead of stdout; its suffix decides:
                         .zst/.zstd zstd, .gz gzip, else plain CSV. A file
                         appears (or is replaced, keeping its mode) only
                         when the report is complete; a device or FIFO is
                         written directly, a link is written through
  --level N              compression level: zstd 1-19, gzip 1-9 (default 1);
                         refused with plain CSV
  --threads N            worker threads (default: one per CPU, more, up to
                         16, while the file system makes them wait)
  --progress             progress line on stderr even when not a terminal
  --no-progress          no progress line, even on a terminal
  -h, --help             this help
  -V, --version          print the version

Errors (unreadable folders, vanished files) go to stderr, one line each,
and the walk goes on. Exit status: 0 done, 1 failed, 2 bad usage,
130 interrupted.
`;

async function readExcludeFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`--exclude ${path}: ${(e as Error).message}`);
  }
  return text.split(/\r?\n/).filter((l) => l.length > 0).map(normaliseFolder);
}

/** Run the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      eprint(`pwalk: ${e.message}`);
      return 2;
    }
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      eprint((e as Error).message);
      return 2;
    }
    // report(): --level and the output's suffix disagree (nothing written)
    if (e instanceof RangeError) {
      eprint(e.message);
      return 2;
    }
    eprint(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const args = [...argv];
  if (args[0] === "repair") return repairMain(args.slice(1));
  if (args.some((a) => /^--chown_(from|to)(=|$)/.test(a))) return chownMain(args);
  if (args[0] === "report") args.shift();
  const unknown = unknownOptions();
  const flags = parseArgs(args, {
    string: ["depth", "exclude", "maxthreads", "threads", "output", "level"],
    boolean: ["header", "NoSnap", "x", "one-file-system", "help", "version", "progress"],
    collect: ["exclude"],
    negatable: ["progress"],
    alias: { o: "output", h: "help", V: "version" },
    default: { progress: undefined },
    unknown: unknown.hook,
  });
  unknown.check();
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.version) {
    await ensureNative();
    console.log(`pwalk ${VERSION} (native ${nativeVersion()})`);
    return 0;
  }
  const roots = (flags._ as unknown[]).map(String);
  if (roots.length === 0) throw new UsageError("missing ROOT folder (try --help)");
  if (roots.length > 1) throw new UsageError(`one ROOT folder only, got ${roots.length}`);
  const root = roots[0];
  // A root that cannot be walked is bad usage (2); whatever fails later is 1.
  let rootInfo: Deno.FileInfo;
  try {
    rootInfo = Deno.statSync(root);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (e as Error).message;
    throw new UsageError(`${root}: ${why}`);
  }
  if (!rootInfo.isDirectory) throw new UsageError(`${root}: Not a directory`);

  const threads = intArg("maxthreads", flags.maxthreads, 1, 1024) ??
    intArg("threads", flags.threads, 1, 1024);
  const maxDepth = intArg("depth", flags.depth, 0, 2 ** 31 - 1);
  const level = intArg("level", flags.level, 0, 19);
  const exclude: string[] = [];
  for (const f of (flags.exclude as string[] | undefined) ?? []) {
    exclude.push(...await readExcludeFile(f));
  }
  const output = flags.output as string | undefined;
  if (output === "") throw new UsageError("--output needs a file name");
  if (output !== undefined && output !== "-") {
    try {
      if (Deno.statSync(output).isDirectory) {
        throw new UsageError(`--output ${output} is a folder`);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
    }
  }

  const tty = isTerminal();
  const showProgress = flags.progress ?? tty;
  const line = showProgress ? new ProgressLine(tty) : undefined;
  const abort = new AbortController();
  const onSigint = () => abort.abort(new DOMException("interrupted", "AbortError"));
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const s = await report(root, {
      output,
      header: !!flags.header,
      noSnap: !!flags.NoSnap,
      maxDepth,
      exclude,
      oneFileSystem: !!(flags.x || flags["one-file-system"]),
      threads,
      level,
      printErrors: true,
      signal: abort.signal,
      onProgress: line ? (p) => line.update(p) : undefined,
    });
    line?.clear();
    if (showProgress) {
      const secs = (s.elapsedMs / 1000).toFixed(2);
      const out = s.output ? ` -> ${s.output} (${formatBytes(s.outputBytes)})` : "";
      const what = `${n(s.entries)} entries (${n(s.folders)} folders, ${formatBytes(s.bytes)})`;
      eprint(`pwalk: ${what} in ${secs} s, ${n(s.errors)} errors${out}`);
    }
    return 0;
  } catch (e) {
    line?.clear();
    if (abort.signal.aborted) {
      eprint("pwalk: interrupted; no output file was left");
      return 130;
    }
    // stdout closed early (`pwalk /data | head`): stop quietly, as a
    // program killed by SIGPIPE would (status 128 + 13).
    if (e instanceof Deno.errors.BrokenPipe && (output === undefined || output === "-")) {
      return 141;
    }
    // The root was checked above: a NotFound now is the output's folder.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      throw new Error((e as Error).message);
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}
