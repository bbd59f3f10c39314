/**
 * `pwalk slurm ROOT --shards N --out DIR`: plan a scan and submit it as a
 * Slurm job array; `pwalk slurm --resume DIR` resubmits the shards without
 * a completion record (see lib/shard/slurm.ts).
 *
 * @module
 */
import {
  eprint,
  intArg,
  missingFolder,
  notUtf8,
  oneRoot,
  parse,
  Stopped,
  threadsArg,
  underSignals,
  UsageError,
  withStatusLine,
  writeStdout,
} from "./common.ts";
import { osErrorText } from "../outfile.ts";
import { PlanError } from "../shard/plan.ts";
import {
  arrayList,
  resumeScan,
  sbatchRefusal,
  ScanFolderError,
  slurmScan,
} from "../shard/slurm.ts";
import { shellQuote } from "../shell.ts";
import { describePlan, listingStage, PLAN_OPTIONS, planOptionsOf } from "./plan.ts";

/** `pwalk slurm --help`. */
export const HELP = `pwalk slurm: scan ROOT as a Slurm job array, one task per shard

Usage:
  pwalk slurm ROOT --shards N --out DIR [options]
  pwalk slurm --resume DIR [--sbatch ARG]... [--max-running K] [--dry-run]

Plans the scan (DIR/plan.json, as pwalk plan does), writes the batch script
DIR/job.sbatch (each array task runs pwalk report --plan DIR/plan.json
--shard $SLURM_ARRAY_TASK_ID -o DIR/scan-$SLURM_ARRAY_TASK_ID.csv.zst with
this Deno and this pwalk, by absolute path), submits it with
sbatch --array=0-(N-1) and prints the job id. Task logs go to DIR/logs/.
DIR must be outside ROOT (or where the scan does not enter: excluded, or
with -x on another file system); a DIR or DIR/logs there already must be
yours, writable by no group or other user (Slurm writes the logs through
links).
Then:
  pwalk status DIR                 which shards are done, queued, failed
  pwalk slurm --resume DIR         resubmit the shards without a completion
                                   record that Slurm does not hold
  duckdb -c "SELECT count(*) FROM 'DIR/scan-*.csv.zst'"

Options:
  --shards N             how many shards (array tasks), 1 to 100,000
  --out DIR              the scan folder (made if needed; not one holding a
                         plan, or another scan's outputs, records,
                         slurm.json or task logs: remove them first)
  --sbatch ARG           an sbatch option for every task, one option a time:
                         --sbatch=--partition=scan --sbatch='--time=8:00:00'
                         (#SBATCH lines in the script; with --resume, given to
                         sbatch for the resubmitted tasks only, split and
                         unquoted as sbatch reads such a line: a value with
                         blanks quoted, --sbatch='--comment="two words"';
                         no backslash, #, empty or unmatched quotes);
                         not --job-name,
                         -J, --output, -o, --error, -e, --array, -a: pwalk sets them
  --max-running K        at most K shards at once (--array=0-(N-1)%K): with
                         several times more shards than K, Slurm starts the
                         next shard as one ends, evening out unequal shards
                         (--resume keeps the last K unless given another)
  --threads N, --maxthreads N
                         worker threads per task (default: the walker's own:
                         one reader per allocated CPU, more while waiting)
  --level N              zstd level of the outputs (default 1)
  --progress=SECONDS     a plain progress line every SECONDS (1-86400) in each
                         task's log (default: none, the errors and the
                         closing summary line only)
  --dry-run              write DIR/plan.json and DIR/job.sbatch and print the
                         script (with --resume: the sbatch command), submit nothing
  --resume DIR           resubmit DIR's unfinished shards
  -h, --help             this help

Plan and report options (see pwalk plan --help): --from SCAN, --min-folders N,
--max-listed N, --header, --NoSnap, --depth N, --exclude PATH, -x.

Exit status:
  0    submitted (or, with --dry-run, written and printed)
  1    failed: sbatch refused the job (its error shown; a first submission
       leaves no plan or script in DIR, so the corrected command runs),
       squeue did not answer for --resume, the plan or the script cannot
       be written, another pwalk slurm of DIR is running (it holds
       DIR/slurm.lock: nothing submitted)
  2    bad usage: unknown option, bad value, a ROOT that is missing, not a
       folder, or that cannot be opened and listed, DIR holding a plan
       or another scan's files already; for --resume, DIR with no job.sbatch (a folder of pwalk
       plan) or one written for another folder (DIR was moved or copied)
  3    submitted (the job id printed on stdout), but DIR/slurm.json could
       not be written (a full disk): a warning names the job, which status
       and --resume still find in squeue by its job name, but a later
       --resume does not know its --max-running
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM while planning: nothing
       submitted, nothing of the run left in DIR (once sbatch runs, it is
       waited for and its job recorded: the status is the submission's)
  141  stdout closed early (| head): stopped quietly
`;

/** Exit status of a job submitted whose DIR/slurm.json could not be written. */
const UNRECORDED = 3;

/** The warning for a job that slurm.json does not record. */
function unrecorded(dir: string, jobId: string, why: string): string {
  return `pwalk slurm: warning: job ${jobId} is submitted, but ${why}: ${dir}/slurm.json ` +
    `does not record job ${jobId}; status and --resume still find its tasks in squeue by ` +
    "their job name, but a later --resume does not know its --max-running (give it again)";
}

/**
 * Take every `--sbatch X` / `--sbatch=X` out of args (X may start with "-");
 * `lossy`: the first that was not valid UTF-8 (sbatch would get another
 * --output or --chdir), refused once the rest is parsed (--help wins).
 */
function takeSbatch(
  args: string[],
): { rest: string[]; sbatch: string[]; lossy?: UsageError } {
  const rest: string[] = [];
  const sbatch: string[] = [];
  let lossy: UsageError | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    if (a === "--sbatch") {
      if (i + 1 >= args.length || args[i + 1] === "") {
        throw new UsageError("--sbatch needs an argument");
      }
      sbatch.push(args[++i]);
      lossy ??= notUtf8(args[i], "--sbatch");
    } else if (a.startsWith("--sbatch=")) {
      if (a.length === 9) throw new UsageError("--sbatch needs an argument");
      sbatch.push(a.slice(9));
      lossy ??= notUtf8(a, "--sbatch", a.slice(9));
    } else rest.push(a);
  }
  for (const s of sbatch) {
    const why = sbatchRefusal(s);
    if (why) throw new UsageError(why);
  }
  return { rest, sbatch, lossy };
}

/**
 * Resubmitted shards, out of a plan's: "shard 2 (of 4)", "shards 1,3 (of 4)"
 * (not "shards 2 of 4", read as two of the four).
 */
function shardsOf(shards: number[], of: number): string {
  return `${shards.length === 1 ? "shard" : "shards"} ${arrayList(shards)} (of ${of})`;
}

/** What a second signal's quit leaves unknown: a job sbatch may have queued. */
function notRecorded(dir: string): string {
  return `; a job sbatch queued meanwhile is not recorded in ${dir}/slurm.json (squeue shows it)`;
}

/** `pwalk slurm ARGS`; resolves to the exit status. */
export async function run(args: string[]): Promise<number> {
  const { rest, sbatch, lossy } = takeSbatch(args);
  const flags = parse(rest, {
    ...PLAN_OPTIONS,
    out: "once",
    resume: "once",
    threads: "value",
    maxthreads: "value",
    level: "value",
    progress: "value",
    "max-running": "value",
    "dry-run": "flag",
  });
  if (lossy) throw lossy;
  const dryRun = !!flags["dry-run"];
  const maxRunning = intArg("max-running", flags["max-running"], 1, 1_000_000);
  if (flags.resume !== undefined) {
    const dir = flags.resume as string;
    if (!dir) throw new UsageError("--resume needs the scan folder");
    const extra = Object.keys(flags).filter((k) =>
      k !== "_" && !["resume", "dry-run", "max-running"].includes(k) &&
      flags[k] !== undefined &&
      flags[k] !== false && !(Array.isArray(flags[k]) && flags[k].length === 0)
    );
    if (extra.length || flags._.length) {
      throw new UsageError(
        `--resume takes the plan in DIR as it is: no ${extra.length ? `--${extra[0]}` : "ROOT"}`,
      );
    }
    try {
      await Deno.stat(`${dir}/plan.json`);
    } catch (e) {
      // (a folder this user cannot search: its plan may well be there)
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new UsageError(`${dir}/plan.json: cannot be read: ${osErrorText(e)}`);
      }
      throw new UsageError(
        missingFolder(dir) ??
          `${dir}: no plan.json there (pwalk slurm ROOT --out ${dir} makes one)`,
      );
    }
    let r, stopped;
    try {
      // a signal before sbatch runs: nothing resubmitted; once it runs, it
      // is waited for, its job recorded
      [r, stopped] = await underSignals(
        (signal) => resumeScan(dir, { sbatch, dryRun, maxRunning, signal }),
        { tag: "pwalk slurm:", what: "squeue or sbatch", quitNote: notRecorded(dir) },
      );
    } catch (e) {
      if (e instanceof Stopped && (e.cause as Error)?.name === "AbortError") {
        eprint(`pwalk slurm: interrupted by ${e.by[0]}; nothing was resubmitted`);
        return e.by[1];
      }
      const cause = e instanceof Stopped ? e.cause : e;
      if (cause instanceof PlanError || cause instanceof ScanFolderError) {
        throw new UsageError(cause.message);
      }
      // (a plan.json this user cannot read: no shard to tell apart)
      if (cause instanceof Deno.errors.PermissionDenied) {
        throw new UsageError(String(cause.message));
      }
      throw cause;
    }
    if (stopped) eprint(`pwalk slurm: ${stopped[0]} came while resuming; it was let end`);
    for (const why of r.busy) eprint(`pwalk slurm: not resubmitted: ${why}`);
    if (r.shards.length === 0) {
      eprint(
        `pwalk slurm: every shard of ${dir} is done${
          r.busy.length ? ", queued or running outside Slurm" : " or queued"
        }; nothing to resubmit`,
      );
      return 0;
    }
    if (dryRun) {
      // (quoted as the first submission's dry run quotes it: a line to paste)
      writeStdout(r.command.map(shellQuote).join(" ") + "\n");
      eprint(`pwalk slurm: dry run: would resubmit ${shardsOf(r.shards, r.plan.shards)}`);
      return 0;
    }
    writeStdout(`${r.jobId}\n`);
    eprint(`pwalk slurm: resubmitted ${shardsOf(r.shards, r.plan.shards)} as job ${r.jobId}`);
    if (r.unrecorded) {
      eprint(unrecorded(dir, r.jobId!, r.unrecorded));
      return UNRECORDED;
    }
    return 0;
  }
  const root = await oneRoot(flags);
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError("missing --out DIR (the scan folder)");
  const { options, warnings } = await planOptionsOf(flags);
  const t0 = performance.now();
  const threads = threadsArg(flags);
  const level = intArg("level", flags.level, 1, 19);
  const progress = intArg("progress", flags.progress, 1, 86_400);
  for (const w of warnings) eprint(w);
  let s, stopped;
  try {
    // SIGHUP, SIGINT, SIGTERM: the planning stops, with nothing left in
    // DIR; once sbatch runs it is waited for, its job recorded
    [s, stopped] = await underSignals(
      (signal) =>
        withStatusLine("pwalk slurm", (line) =>
          slurmScan(root, {
            ...options,
            signal,
            onProgress: listingStage(line),
            out,
            sbatch,
            threads,
            level,
            progress,
            dryRun,
            maxRunning,
          })),
      {
        tag: "pwalk slurm:",
        what: "the planning or sbatch",
        quitNote: `${notRecorded(out)}, and ${out} may hold this run's plan.json and job.sbatch`,
      },
    );
  } catch (e) {
    if (e instanceof Stopped) {
      // (a failure of its own meanwhile, said as it is)
      const cause = e.cause as Error | undefined;
      const own = cause?.name === "AbortError" ? "" : `: ${cause?.message ?? cause}`;
      eprint(
        `pwalk slurm: interrupted by ${e.by[0]}; nothing was submitted, and no plan or script ` +
          `of this run is left in ${out}${own}`,
      );
      return e.by[1];
    }
    if (e instanceof ScanFolderError) throw new UsageError(e.message);
    throw e;
  }
  if (stopped) eprint(`pwalk slurm: ${stopped[0]} came while sbatch ran; it was let end`);
  eprint(describePlan(s.plan, performance.now() - t0) + ` -> ${s.dir}/plan.json`);
  if (dryRun) {
    writeStdout(`${s.script}\n`);
    eprint(`pwalk slurm: dry run: submit with: ${s.command.map(shellQuote).join(" ")}`);
    return 0;
  }
  writeStdout(`${s.jobId}\n`);
  eprint(
    `pwalk slurm: submitted job ${s.jobId} (array ${arrayList(s.shards)}); ` +
      `pwalk status ${s.dir} tells which shards are done`,
  );
  if (s.unrecorded) {
    eprint(unrecorded(s.dir, s.jobId!, s.unrecorded));
    return UNRECORDED;
  }
  return 0;
}
