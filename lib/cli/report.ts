/**
 * `pwalk [report] [options] ROOT`: John Dey's pwalk CSV of ROOT.
 *
 * @module
 */
import { report } from "../report.ts";
import { ensureNative, nativeVersion } from "../ffi.ts";
import {
  count,
  intArg,
  oneRoot,
  parse,
  runJob,
  UsageError,
  VERSION,
  WALK_OPTIONS,
  walkArgs,
} from "./common.ts";
import { formatBytes } from "./progress.ts";

/** `pwalk report --help`. */
export const HELP = `Usage: pwalk [report] [options] ROOT   CSV of every entry under ROOT

Report options (pwalk's):
  --header               print the CSV header line first
  --NoSnap               skip folders named .snapshot
  --depth N              do not list folders at depth N or deeper (0: no limit)
  --exclude FILE         FILE lists full folder paths to skip, one per line
  -x, --one-file-system  skip entries on other file systems than ROOT's
  --maxthreads N         worker threads (the same as --threads)

More:
  -o, --output FILE      write to FILE instead of stdout; a .zst suffix
                         compresses with zstd. FILE appears only when the
                         report is complete
  --level N              zstd level 1-19 (default 1 with .zst); 0 = plain
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

/**
 * Run `pwalk report` with the arguments after the command's name.
 * `Deno.exit(await run(["--header", "-o", "scan.csv.zst", "/data"]));`
 */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, {
    ...WALK_OPTIONS,
    depth: "value",
    output: "value",
    level: "value",
    header: "flag",
    version: "flag",
  });
  if (f.version) {
    await ensureNative();
    console.log(`pwalk ${VERSION} (native ${nativeVersion()})`);
    return 0;
  }
  const root = oneRoot(f);
  const { warnings, ...walk } = await walkArgs(f, root);
  const level = intArg("level", f.level, 0, 19);
  const output = f.output as string | undefined;
  if (output !== undefined && output !== "-") {
    try {
      if (Deno.statSync(output).isDirectory) throw new UsageError(`--output ${output} is a folder`);
    } catch (e) {
      if (e instanceof UsageError) throw e;
    }
  }
  const progress = (f.progress as boolean | undefined) ?? Deno.stderr.isTerminal();
  const toStdout = output === undefined || output === "-";
  return await runJob({
    tag: "pwalk:",
    warnings,
    progress,
    toStdout,
    start: (signal, onProgress) =>
      report(root, {
        ...walk,
        output,
        level,
        header: !!f.header,
        printErrors: true,
        signal,
        onProgress,
      }),
    done: (s) => {
      if (!progress) return [];
      const out = s.output ? ` -> ${s.output} (${formatBytes(s.outputBytes)})` : "";
      const what = `${count(s.entries, "entry", "entries")} (${count(s.folders, "folder")}, ${
        formatBytes(s.bytes)
      })`;
      const secs = (s.elapsedMs / 1000).toFixed(2);
      return [`pwalk: ${what} in ${secs} s, ${count(s.errors, "error")}${out}`];
    },
    interrupted: (p) =>
      !toStdout
        ? `no output file was left (${output} was not written)`
        : `the CSV on stdout is incomplete` +
          (p?.outputBytes ? ` (${formatBytes(p.outputBytes)} were written before)` : ""),
  });
}
