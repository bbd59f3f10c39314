/**
 * `pwalk convert IN... OUT`: argument parsing for {@link convert}.
 * Exit status: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */
import { statSync } from "../procfs.ts";
import { ANSWER_EXIT, engineOptions, eprint, intArg, runAnswer, UsageError } from "./common.ts";
import { convert, CONVERT_OUTPUT } from "../answers/convert.ts";
import { recordWarnings, resolveScans, shardWarnings } from "../answers/scan.ts";
import { checkedOutput } from "../outfile.ts";

/** `pwalk convert --help`. */
export const HELP: string = `pwalk convert: a scan in another format

Usage:
  pwalk convert [options] IN... OUT

IN is a scan: .csv, .csv.zst, .csv.gz or .parquet files, a glob, or a folder
of shards (with or without pwalk's header); all CSV or all Parquet, not both.
OUT's name picks the format:
.csv, .csv.zst (or .csv.zstd), .csv.gz (pwalk's CSV format; a name that is
not UTF-8 is written with \\xNN for its bad bytes, as DuckDB reads only UTF-8)
or .parquet (typed columns under the header's names; st_mode as a number), in
any case. OUT appears only when complete; a link is written through, a
character device or FIFO written directly (never replaced).

On a terminal, after 2 s of work, a progress line on stderr shows the stage
(reading, writing) and the time elapsed, cleared at the end; nothing is
added to stderr in a log or a pipe, nor while OUT is that terminal.

Options:
  --no-header        CSV output without pwalk's header line (--header: with
                     it, the default)
  --level N          zstd level of .csv.zst and .parquet output (1-19, default 3)
  --memory-limit M   DuckDB's memory limit (default 25% of RAM, or of the
                     cgroup's memory limit when lower, that default at most
                     8 GiB; a larger M is taken as given)
  --temp-dir DIR     where DuckDB spills
  -h, --help         this help

${ANSWER_EXIT}`;

/** Run `pwalk convert ARGS`; resolves to the exit status. */
export function run(args: string[]): Promise<number> {
  const spec = { level: "value", header: "toggle" } as const;
  return runAnswer(args, spec, "pwalk convert", async (flags, operands, line) => {
    if (operands.length < 2) throw new UsageError("convert needs IN and OUT (try --help)");
    const out = operands.at(-1)!;
    if (out === "") throw new UsageError("OUT is empty");
    if (operands.includes("")) throw new UsageError("IN is empty");
    if (!CONVERT_OUTPUT.test(out)) {
      throw new UsageError(`${out}: OUT must end in .csv, .csv.zst, .csv.gz or .parquet`);
    }
    if (flags.level !== undefined && !/\.(csv\.zstd?|parquet)$/i.test(out)) {
      throw new UsageError(`--level applies to .csv.zst and .parquet outputs, not ${out}`);
    }
    // (Parquet has no header line: --no-header would be silently ignored)
    if (flags.header === false && /\.parquet$/i.test(out)) {
      throw new UsageError(`--no-header applies to CSV outputs, not ${out}`);
    }
    // the values next: a bad one is one line, before OUT's check (a status
    // 1 of its own) and the inputs' warnings
    const options = {
      header: flags.header !== false,
      level: intArg("level", flags.level, 1, 19),
      ...engineOptions(flags),
    };
    // OUT on stderr's terminal (/dev/stdout, /dev/tty): the rows are
    // written there directly, so no status line over them
    if (onStderrTerminal(out)) line.stop();
    // OUT checked before the warnings about the inputs, so that a forgotten
    // OUT (`convert scans/scan-*.csv.zst`: the last shard taken for OUT) is
    // one line of bad usage; convert checks it again
    await checkOutputFirst(operands.slice(0, -1), out);
    for (const w of await shardWarnings(operands.slice(0, -1))) eprint(`pwalk: ${w}`);
    for (const w of await recordWarnings(operands.slice(0, -1))) eprint(`pwalk: ${w}`);
    await convert(operands.slice(0, -1), out, {
      ...options,
      onStage: (stage) => line.set(stage),
    });
  }, (f) => f._.length >= 2 ? [String(f._.at(-1))] : []);
}

/**
 * convert's own check of OUT against the files the inputs name (when they
 * all resolve: else convert tells what is wrong with them).
 */
async function checkOutputFirst(inputs: string[], out: string): Promise<void> {
  let files: string[];
  try {
    files = (await resolveScans(inputs)).map((f) => f.path);
  } catch {
    return;
  }
  await checkedOutput(out, files, { who: "convert" });
}

/**
 * Whether `path` is (a link to) the terminal stderr is on, or /dev/tty (the
 * controlling terminal, device 5,0); false when not known.
 */
function onStderrTerminal(path: string): boolean {
  try {
    // (/dev and /proc also without --allow-all: lib/procfs.ts)
    const o = statSync(path);
    if (!o.isCharDevice || o.rdev === null) return false;
    return o.rdev === 5 << 8 || o.rdev === statSync("/proc/self/fd/2").rdev;
  } catch {
    return false;
  }
}
