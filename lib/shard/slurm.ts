/**
 * A sharded scan as a Slurm job array: one array task per shard, each
 * running `pwalk report --plan DIR/plan.json --shard $SLURM_ARRAY_TASK_ID`
 * with the same Deno and the same pwalk as the command that submitted it.
 *
 * The scan folder DIR holds plan.json, job.sbatch (the batch script),
 * slurm.json (the submissions), logs/ (one log per task) and, per shard,
 * scan-I.csv.zst and its completion record scan-I.done.json.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { count } from "../digits.ts";
import {
  PLAN_OPTIONS,
  planOf,
  type PlanOptions,
  planText,
  readPlan,
  type ShardPlan,
  writeAtomic,
} from "./plan.ts";
import { envWithout } from "./env.ts";
import { absolutePath, insideRootText, scanEnters } from "./paths.ts";
import { leftoversText, scanLeftovers, scanStatus } from "./status.ts";
import { jobName, readSubmissions, type Submission } from "./squeue.ts";
import { lockScanFolder, lockShard, ShardBusyError, type ShardLock } from "./lock.ts";
import { shellQuote } from "../shell.ts";
import { oneLine } from "../utf8.ts";
import {
  checkInt,
  checkOptionNames,
  excludeList,
  MAX_THREADS,
  type OptionNames,
  typed,
  withoutNulls,
} from "../options.ts";

export { shellQuote };

export { jobName, queuedTasks, readSubmissions, type Submission } from "./squeue.ts";

/**
 * The command that runs this pwalk: the running Deno with this checkout's
 * cli.ts (absolute), the same module by URL when it was loaded from one
 * (jsr:, https:), or the executable itself when it is a `deno compile`
 * binary.
 *
 * @example
 * ```ts
 * import { pwalkCommand } from "jsr:@pwalk/cli";
 * import { assertEquals, assertMatch } from "@std/assert";
 *
 * // as ["/usr/local/bin/deno", "run", "-A", "/opt/pwalk/cli.ts"]
 * const [deno, run, all, cli] = pwalkCommand();
 * assertEquals([deno, run, all], [Deno.execPath(), "run", "-A"]);
 * assertMatch(cli, /\/cli\.ts$/); // a path in a checkout, a URL from JSR
 * ```
 */
export function pwalkCommand(): string[] {
  const exe = Deno.execPath();
  if (Deno.build.standalone) return [exe];
  const cli = new URL("../../cli.ts", import.meta.url);
  return [exe, "run", "-A", cli.protocol === "file:" ? decodeURIComponent(cli.pathname) : cli.href];
}

/**
 * An sbatch --array list for these indexes: runs joined, `0-3,7,9-10`.
 *
 * @example
 * ```ts
 * import { arrayList } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(arrayList([0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
 * assertEquals(arrayList([5, 2, 3, 2]), "2-3,5"); // sorted, once each
 * ```
 */
export function arrayList(indexes: number[]): string {
  if (!Array.isArray(indexes)) {
    throw new TypeError(`pwalk: indexes must be an array of shard numbers, got ${typed(indexes)}`);
  }
  const bad = indexes.find((i) => !Number.isSafeInteger(i) || i < 0);
  if (bad !== undefined) {
    throw new RangeError(`pwalk: a shard number is a whole number from 0, got ${typed(bad)}`);
  }
  const ix = [...new Set(indexes)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < ix.length;) {
    let j = i;
    while (j + 1 < ix.length && ix[j + 1] === ix[j] + 1) j++;
    out.push(j === i ? `${ix[i]}` : `${ix[i]}-${ix[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/** The names of {@link ScriptOptions} (any other: a TypeError). */
export const SCRIPT_OPTIONS: OptionNames<ScriptOptions> = {
  dir: true,
  threads: true,
  level: true,
  sbatch: true,
  command: true,
  maxRunning: true,
  progress: true,
};

/** The names of {@link SubmitOptions} (any other: a TypeError). */
export const SUBMIT_OPTIONS: OptionNames<SubmitOptions> = {
  sbatch: true,
  maxRunning: true,
  dryRun: true,
  signal: true,
};

/** Options of {@link slurmScript}. */
export interface ScriptOptions {
  /**
   * The scan folder, an absolute path (a relative one is a RangeError: the
   * tasks run in the folder sbatch is run from, not in the caller's), with
   * no line break (a RangeError: it would end the script's `#SBATCH
   * --output` line, and the rest be run as a command), nor '"', '%' or '\\'
   * (a RangeError: Slurm's log path cannot hold them).
   */
  dir: string;
  /** Worker threads per task (default: the walker's own: one reader per CPU of the allocation, more while waiting). */
  threads?: number;
  /** zstd level of the outputs (default 1). */
  level?: number;
  /**
   * `#SBATCH` directives to add, one option each, e.g. `--partition=scan`,
   * `--time=4:00:00` (a value with blanks quoted as in an `#SBATCH` line,
   * `--comment="two words"`: sbatch splits such a line at blanks); not `--job-name`, `-J`, `--output`, `-o`, `--error`,
   * `-e`, `--array` or `-a` ({@link ownSbatchOption}: a RangeError), which
   * pwalk sets.
   */
  sbatch?: string[];
  /** How to run pwalk (default {@link pwalkCommand}). */
  command?: string[];
  /** The submission's `%K` (see {@link SubmitOptions}), shown in the script's submit line. */
  maxRunning?: number;
  /**
   * Seconds between the plain progress lines each task writes to its log
   * (`--progress=SECONDS`: entries, rate, folders, bytes, errors), a whole
   * number from 1 to 86400; default none (`--no-progress`: the log holds
   * the errors and the closing summary line only).
   */
  progress?: number;
}

/**
 * The sbatch options pwalk sets itself, and why: the job name (status and
 * --resume find the tasks in squeue by it), the tasks' logs (status reads
 * them in DIR/logs) and the array (the shards a submission runs). A later
 * `#SBATCH` line, or the same option later on sbatch's command line, would
 * win over pwalk's.
 */
const OWN_OPTIONS: [short: string, long: string, why: string][] = [
  ["J", "job-name", "status and --resume find the tasks in squeue by their job name"],
  ["o", "output", "status reads the tasks' logs in DIR/logs"],
  ["e", "error", "status reads the tasks' logs in DIR/logs"],
  ["a", "array", "each submission's array is the shards it runs"],
];

/** sbatch's short options that take no argument (sbatch --help, Slurm 22.05). */
const SHORT_FLAGS = "hHOQsuvVW";

/** The words of an `#SBATCH` line as sbatch splits it: at blanks, quotes kept together. */
function sbatchWords(line: string): string[] {
  return line.match(/(?:"[^"]*"?|'[^']*'?|[^\s"']+)+/g) ?? [];
}

/**
 * The arguments sbatch takes from an `#SBATCH` line: its words, each
 * without its quotes (`--comment="two words"` is one argument,
 * `--comment=two words`), so that a `--sbatch` value given to sbatch on
 * --resume means what the same value means in job.sbatch.
 */
export function sbatchLineArgs(line: string): string[] {
  return sbatchWords(line).map((w) =>
    w.replace(/"([^"]*)"?|'([^']*)'?/g, (_, d, s) => d ?? s ?? "")
  );
}

/**
 * The option of an sbatch argument (one `--sbatch` value) that would
 * override one pwalk sets (`--job-name`, `-J`, `--output`, `-o`, `--error`,
 * `-e`, `--array`, `-a`, their abbreviations as `--job=`, and `-HJname`),
 * or null. Each word is checked: an `#SBATCH` line may hold several
 * options.
 *
 * @example
 * ```ts
 * import { ownSbatchOption } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(ownSbatchOption("--job-name=myscan"), "--job-name");
 * assertEquals(ownSbatchOption("--partition=io -o x.log"), "-o"); // any word of it
 * assertEquals(ownSbatchOption("--partition=io"), null);
 * ```
 */
export function ownSbatchOption(arg: string): string | null {
  return ownOption(arg)?.[0] ?? null;
}

/** {@link ownSbatchOption}, and why pwalk sets it. */
function ownOption(arg: string): [option: string, why: string] | null {
  for (const w of sbatchWords(arg)) {
    const word = w.replace(/["']/g, "");
    if (word.startsWith("--")) {
      const name = word.slice(2).split("=")[0];
      // getopt takes any unambiguous start of a long option (--job=x, --out=x)
      const own = OWN_OPTIONS.find(([, l]) => name && l.startsWith(name));
      if (own) return [`--${own[1]}`, own[2]];
    } else if (/^-[A-Za-z]/.test(word)) {
      // a cluster of short options: flags, then at most one taking the rest as its value
      for (const c of word.slice(1)) {
        const own = OWN_OPTIONS.find(([sh]) => sh === c);
        if (own) return [`-${own[0]}`, own[2]];
        if (!SHORT_FLAGS.includes(c)) break;
      }
    }
  }
  return null;
}

/**
 * Why an sbatch argument (one `--sbatch` value) is refused: a line break,
 * or an option pwalk sets ({@link ownSbatchOption}); null when it is taken.
 */
export function sbatchRefusal(arg: string): string | null {
  if (/[\n\r]/.test(arg)) return "--sbatch: no line breaks in an argument";
  // sbatch reads an #SBATCH line with rules of its own: `\` escapes the
  // next character, an unquoted `#` ends the line, a quote left open
  // fails the whole script, and '' or "" is no argument. pwalk splits a
  // value only at blanks and quotes (sbatchLineArgs, for --resume), so a
  // value that leans on the other rules would mean two things, and could
  // hide one of pwalk's own options (--job\-name): refused.
  const words = arg.replace(/"[^"]*"|'[^']*'/g, (q) => q.length === 2 ? "\0" : "");
  if (arg.includes("\\") || /[#"']/.test(words) || words.includes("\0")) {
    return `--sbatch ${arg}: no backslash, #, empty or unmatched quotes (sbatch reads an ` +
      "#SBATCH line otherwise than --resume could pass it): write the option without them";
  }
  const own = ownOption(arg);
  return own && `--sbatch ${arg}: pwalk sets ${own[0]} itself (${own[1]}); leave it out`;
}

/** Refuse (RangeError) sbatch arguments {@link sbatchRefusal} refuses. */
function checkSbatch(args: string[]): void {
  checkStrings("sbatch", args);
  for (const a of args) {
    const why = sbatchRefusal(a);
    if (why) throw new RangeError(why);
  }
}

/** An option that is a list of strings, else a TypeError naming it. */
function checkStrings(name: string, v: unknown): void {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new TypeError(`pwalk: ${name} must be an array of strings, got ${typed(v)}`);
  }
}

/**
 * The values of the options a task's line and the submission take, as the
 * CLI takes its flags (--threads 1-1024, --level 1-19 for the .csv.zst
 * outputs, --max-running 1-1,000,000, --progress 1-86400): a bad one
 * refused before anything is planned or written, not by every task of a
 * job already queued.
 */
function checkScriptValues(o: Partial<ScriptOptions>): void {
  if (o.dir !== undefined && typeof o.dir !== "string") {
    throw new TypeError(`pwalk: dir must be a string, got ${typed(o.dir)}`);
  }
  if (o.threads !== undefined) checkInt("threads", o.threads, 1, MAX_THREADS);
  if (o.level !== undefined) checkInt("level", o.level, 1, 19);
  if (o.maxRunning !== undefined) checkInt("maxRunning", o.maxRunning, 1, 1_000_000);
  const every = o.progress;
  if (every !== undefined && (!Number.isInteger(every) || every < 1 || every > 86_400)) {
    throw new RangeError(
      "pwalk: progress must be a whole number of seconds from 1 to 86400, got " +
        (typeof every === "number" ? every : typed(every)),
    );
  }
  if (o.sbatch !== undefined) checkStrings("sbatch", o.sbatch);
  if (o.command !== undefined) {
    checkStrings("command", o.command);
    if (o.command.length === 0) throw new RangeError("pwalk: command must name a program to run");
  }
}

/** Control characters, written as \xNN where a name is shown in the script. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/g;

/**
 * The batch script of a scan: an array task runs shard
 * `$SLURM_ARRAY_TASK_ID` of DIR/plan.json into DIR/scan-I.csv.zst.
 *
 * @example
 * ```ts
 * import { jobName, planShards, slurmScript } from "jsr:@pwalk/cli";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 16 });
 * const script = slurmScript(plan, { dir: "/scratch/scan", sbatch: ["--time=4:00:00"] });
 *
 * const lines = script.split("\n");
 * assertEquals(lines[0], "#!/bin/bash");
 * for (
 *   const line of [
 *     `#SBATCH --job-name=${jobName(plan)}`,
 *     '#SBATCH --output="/scratch/scan/logs/%A_%a.out"',
 *     "#SBATCH --time=4:00:00",
 *   ]
 * ) assert(lines.includes(line), line);
 * // each task: its shard of the plan, into its own output
 * assert(lines.at(-2)!.endsWith(
 *   'report --plan /scratch/scan/plan.json --shard "$shard" --no-progress ' +
 *     '-o /scratch/scan/scan-"$shard".csv.zst',
 * ));
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function slurmScript(plan: ShardPlan, o: ScriptOptions): string {
  if (o == null) throw new TypeError("pwalk: slurmScript needs its options: { dir }");
  o = withoutNulls(o);
  checkOptionNames("slurmScript", o, SCRIPT_OPTIONS);
  checkScriptValues(o);
  if (typeof o.dir !== "string") throw new TypeError("pwalk: dir must be a string, got undefined");
  // sbatch runs the script in the folder it is submitted from, not this
  // one: a relative DIR would put the tasks' plan, outputs and logs there
  if (!o.dir.startsWith("/")) {
    throw new RangeError(
      `pwalk: dir must be an absolute path (the script's tasks run in the folder sbatch is ` +
        `run from), got '${oneLine(o.dir)}'`,
    );
  }
  // #SBATCH --output="DIR/logs/...": a line break there ends the line, and
  // what follows it is a command of the script; '"' ends the quoted value,
  // '%' is expanded by Slurm, and a '\\' anywhere turns off the expansion
  // of %A_%a (every task's log one file): refused, as slurmScan refuses them
  const odd = /["\\%\r\n]/.exec(o.dir);
  if (odd) {
    throw new RangeError(
      `pwalk: dir: Slurm cannot take ${
        /[\r\n]/.test(odd[0]) ? "a line break" : `'${odd[0]}'`
      } in a job's log path (#SBATCH --output), got '${oneLine(o.dir)}'`,
    );
  }
  return scriptOf(plan, o);
}

/** {@link slurmScript} without the check of its option names (slurmScan's hold more). */
function scriptOf(plan: ShardPlan, o: ScriptOptions, submitted = false): string {
  const q = shellQuote;
  checkScriptValues(o);
  checkSbatch(o.sbatch ?? []);
  const cmd = o.command ?? pwalkCommand();
  const every = o.progress;
  const args = [
    ...cmd.slice(1).map(q),
    "report",
    "--plan",
    q(`${o.dir}/plan.json`),
    "--shard",
    '"$shard"',
    every === undefined ? "--no-progress" : `--progress=${every}`,
    "-o",
    `${q(`${o.dir}/scan-`)}"$shard".csv.zst`,
  ];
  if (o.threads !== undefined) args.push("--threads", String(o.threads));
  if (o.level !== undefined) args.push("--level", String(o.level));
  return [
    "#!/bin/bash",
    // ROOT may hold any byte but "/" and NUL: a line break in it would end
    // the comment and make the rest a command (the plan carries ROOT).
    `# pwalk ${denoJson.version}: a sharded scan of ${
      plan.root.path.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
    } as a Slurm job array,`,
    `# one task per shard (plan ${plan.id}, ${count(plan.shards, "shard")}).`,
    `#   submit:  sbatch --array=0-${plan.shards - 1}${o.maxRunning ? `%${o.maxRunning}` : ""} ${
      q(`${o.dir}/job.sbatch`)
    }${submitted ? "   (pwalk slurm did)" : ""}`,
    `#   status:  pwalk status ${q(o.dir)}`,
    `#   resume:  pwalk slurm --resume ${
      q(o.dir)
    }   (resubmits the shards without a completion record)`,
    `#SBATCH --job-name=${jobName(plan)}`,
    `#SBATCH --output="${o.dir}/logs/%A_%a.out"`,
    ...(o.sbatch ?? []).map((a) => `#SBATCH ${a}`),
    "set -eu",
    'shard="${SLURM_ARRAY_TASK_ID:?run this script as a Slurm array: sbatch --array=...}"',
    `exe=${q(cmd[0])}`,
    'if [ ! -x "$exe" ]; then',
    '  echo "pwalk: $exe is not on $(hostname): install Deno there at that path" >&2',
    "  exit 1",
    "fi",
    "# The walker starts one reader per CPU it may run on (the allocation, when",
    "# Slurm's task/affinity or task/cgroup plugin confines the task) and adds",
    "# readers while the file system makes them wait.",
    'echo "pwalk: shard $shard of ' + plan.shards +
    ' on $(hostname), ${SLURM_CPUS_ON_NODE:-?} CPUs allocated, $(nproc) usable"',
    `exec "$exe" ${args.join(" ")}`,
    "",
  ].join("\n");
}

/** Options of a submission. */
export interface SubmitOptions {
  /**
   * Extra sbatch arguments for this submission, as {@link ScriptOptions.sbatch}:
   * each an `#SBATCH` line's text, split and unquoted as sbatch reads such a
   * line ({@link sbatchLineArgs}), so it means here what it means there.
   */
  sbatch?: string[];
  /**
   * At most this many tasks at once (`--array=...%K`): with more shards than
   * that, Slurm starts the next shard as one ends, which evens out shards
   * of unequal size.
   */
  maxRunning?: number;
  /** Say what would be run, submit nothing. */
  dryRun?: boolean;
  /**
   * Stops it before sbatch runs (it rejects with the signal's reason,
   * nothing submitted); once sbatch runs, it is waited for and its job
   * recorded.
   */
  signal?: AbortSignal;
}

/** What a submission ran (or, dry, would run). */
export interface Submitted {
  /** The sbatch command line. */
  command: string[];
  /** The job id (none for a dry run). */
  jobId?: string;
  /** The shards submitted. */
  shards: number[];
  /**
   * Why slurm.json could not be written after sbatch took the job (a full
   * disk): the job is submitted all the same, but not recorded there.
   */
  unrecorded?: string;
}

/**
 * sbatch's input variables that set what job.sbatch sets (they override
 * `#SBATCH` lines): the job name, by which status and --resume find the
 * tasks, and the task logs, which status reads in DIR/logs.
 */
const OWN_VARIABLES = ["SBATCH_JOB_NAME", "SBATCH_OUTPUT", "SBATCH_ERROR"];

/**
 * The environment for sbatch without {@link OWN_VARIABLES} (an
 * `export SBATCH_OUTPUT=...` in a profile), or nothing to change.
 */
function sbatchEnv(): { clearEnv?: boolean; env?: Record<string, string> } {
  try {
    return envWithout(OWN_VARIABLES, "sbatch", "would move or rename the tasks' logs");
  } catch (e) {
    throw new NotSubmitted((e as Error).message); // (what was made is taken back)
  }
}

/** sbatch could not be run, or refused the job: nothing was submitted. */
class NotSubmitted extends Error {}

/**
 * Submit shards of a scan folder (its job.sbatch) as one array job, and
 * record it in slurm.json. With `dryRun`, only say what would be run. When
 * slurm.json cannot be written after sbatch took the job, the job id is
 * returned all the same, with `unrecorded` saying why.
 *
 * @example Dry run: the sbatch command it would run
 * ```ts
 * import { submitShards } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const s = await submitShards("/scratch/scan", [2, 5], {
 *   sbatch: ["--time=2:00:00"],
 *   dryRun: true,
 * });
 * assertEquals(s.command, [
 *   "sbatch",
 *   "--parsable",
 *   "--array=2,5",
 *   "--time=2:00:00",
 *   "/scratch/scan/job.sbatch",
 * ]);
 * assertEquals(s.jobId, undefined); // nothing submitted
 * ```
 *
 * @example Submit (not run as a test: it needs a Slurm cluster)
 * ```ts ignore
 * import { submitShards } from "jsr:@pwalk/cli";
 * const s = await submitShards("/scratch/scan", [2, 5], { sbatch: ["--time=2:00:00"] });
 * console.log(s.jobId, s.command.join(" "));
 * ```
 */
export async function submitShards(
  dir: string,
  shards: number[],
  o: SubmitOptions = {},
): Promise<Submitted> {
  o = withoutNulls(o);
  checkOptionNames("submitShards", o, SUBMIT_OPTIONS);
  checkScriptValues({ maxRunning: o.maxRunning, sbatch: o.sbatch });
  checkSbatch(o.sbatch ?? []);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`pwalk: signal must be an AbortSignal, got ${typed(o.signal)}`);
  }
  const array = arrayList(shards);
  const limit = o.maxRunning ? `%${o.maxRunning}` : "";
  const command = [
    "sbatch",
    "--parsable",
    `--array=${array}${limit}`,
    ...(o.sbatch ?? []).flatMap(sbatchLineArgs),
    `${dir}/job.sbatch`,
  ];
  if (o.dryRun) return { command, shards };
  // read before submitting: one that cannot be read is not written over
  const subs = await recorded(dir);
  o.signal?.throwIfAborted();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...sbatchEnv(),
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotSubmitted(
        "sbatch not found: is Slurm installed here? (--dry-run writes the script only)",
      );
    }
    throw e;
  }
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    // every line: the last is often only 'Try "sbatch --help" for more information'
    const err = new TextDecoder().decode(out.stderr).split("\n").map((l) => l.trim())
      .filter((l) => l).join("; ");
    throw new NotSubmitted(`sbatch failed (exit ${out.code}): ${err || "it said nothing"}`);
  }
  const jobId = text.split(";")[0].trim();
  // --parsable prints "ID" or "ID;CLUSTER": anything else (nothing, as for
  // --test-only, whose answer goes to stderr; a text, as for --help or
  // --version) is no job: none may be recorded, nor told as submitted
  if (!/^\d+$/.test(jobId)) {
    const said = [text, new TextDecoder().decode(out.stderr)].join("\n").split("\n")
      .map((l) => l.trim()).filter((l) => l)[0];
    throw new NotSubmitted(
      `sbatch printed no job id, so queued no job (${
        said
          ? `it said: ${said.length > 200 ? `${said.slice(0, 200)}...` : said}`
          : "it said nothing"
      }; an --sbatch option such as --test-only, --help or --version?)`,
    );
  }
  subs.push({
    jobId,
    array,
    submitted: new Date().toISOString(),
    sbatch: o.sbatch ?? [],
    ...(o.maxRunning ? { maxRunning: o.maxRunning } : {}),
  });
  try {
    await writeAtomic(`${dir}/slurm.json`, JSON.stringify({ submissions: subs }, null, 1) + "\n");
  } catch (e) {
    // the job is queued: its id must not be lost with the error
    return { command, jobId, shards, unrecorded: (e as Error).message };
  }
  return { command, jobId, shards };
}

/**
 * The scan folder cannot take a new scan: it holds a plan already, or it is inside the root;
 * or a new submission: its slurm.json cannot be read.
 *
 * @example
 * ```ts
 * import { ScanFolderError, slurmScan } from "jsr:@pwalk/cli";
 * import { assertRejects } from "@std/assert";
 *
 * // refused before anything is planned or submitted (no Slurm needed)
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await assertRejects(
 *   () => slurmScan(`${tmp}/data`, { shards: 8, out: `${tmp}/data/scan` }),
 *   ScanFolderError,
 *   `${tmp}/data/scan is inside ${tmp}/data`,
 * );
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class ScanFolderError extends Error {
  /** An error named "ScanFolderError" (as RefusedError is named). */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ScanFolderError";
  }
}

/**
 * The submissions slurm.json records; one that cannot be read (damaged, a
 * folder there) is a ScanFolderError: no job is submitted, as its record
 * would be written over the earlier ones'.
 */
async function recorded(dir: string): Promise<Submission[]> {
  try {
    return await readSubmissions(dir);
  } catch (e) {
    throw new ScanFolderError((e as Error).message.replace(/^pwalk: /, ""), { cause: e });
  }
}

/** Options of {@link slurmScan}. */
export interface SlurmScanOptions extends PlanOptions, Omit<ScriptOptions, "dir"> {
  /**
   * The scan folder (made if needed; it must not hold a plan or another
   * scan's files yet, nor be inside the root where the scan enters: a
   * folder excluded, or with `oneFileSystem` on another file system, is taken).
   */
  out: string;
  /** At most this many shards at once (`--array=0-(N-1)%K`). Default: no limit. */
  maxRunning?: number;
  /** Write plan.json and job.sbatch, but submit nothing. */
  dryRun?: boolean;
}

/** The names of {@link SlurmScanOptions} (any other: a TypeError). */
export const SLURM_SCAN_OPTIONS: OptionNames<SlurmScanOptions> = {
  ...PLAN_OPTIONS,
  out: true,
  maxRunning: true,
  dryRun: true,
  threads: true,
  level: true,
  sbatch: true,
  command: true,
  progress: true,
};

/** What {@link slurmScan} did. */
export interface SlurmScan extends Submitted {
  /** The plan written to DIR/plan.json. */
  plan: ShardPlan;
  /** The batch script written to DIR/job.sbatch. */
  script: string;
  /** The scan folder, absolute. */
  dir: string;
}

/**
 * Why the folder `path` (a scan folder, or its `logs`), when it is there,
 * cannot take the tasks' logs, or null. Slurm's slurmstepd writes
 * `logs/JOBID_I.out` there (as root, or as the job's user); the job ids are
 * predictable, so a link planted there by someone else would be written
 * through. So the folder must be the runner's own and no group or other
 * user may write it (a sticky bit does not make it safe: it lets anyone add
 * names). `logs` must not be a link; the scan folder may be one (to a
 * folder of the runner's).
 */
async function unsafeFolder(path: string, link: "refused" | "followed"): Promise<string | null> {
  let st: Deno.FileInfo;
  try {
    st = link === "refused" ? await Deno.lstat(path) : await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null; // made by this run
    throw e;
  }
  if (st.isSymlink) return `${path} is a link, not a folder: remove it first`;
  if (!st.isDirectory) return `${path} is not a folder`;
  const uid = Deno.uid();
  const why = uid !== null && st.uid !== uid
    ? `is owned by uid ${st.uid}, not by you (uid ${uid})`
    : (st.mode! & 0o022)
    ? `may be written by ${
      ["its group", "others"].filter((_, i) => st.mode! & (i ? 0o002 : 0o020)).join(" and ")
    } (mode ${(st.mode! & 0o7777).toString(8).padStart(4, "0")})`
    : null;
  return why &&
    `${path} ${why}: Slurm writes the tasks' logs in it, through any link put there; ` +
      "use a folder of yours that only you may write (or a new one)";
}

/**
 * Why `dir`, a scan folder to be, cannot be one, or null: a folder (or a
 * link to one) is, and so is a name not there yet (the run makes it, as
 * mkdir -p); a file, a FIFO, a link to nothing or a path through a file
 * is not.
 */
async function notAFolder(dir: string): Promise<string | null> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return null;
    return `${dir} is not a folder: give the scan folder (made when missing)`;
  } catch (e) {
    if (e instanceof Deno.errors.NotADirectory) {
      return `${dir}: a part of its path is not a folder`;
    }
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    if (await Deno.lstat(dir).then(() => true, () => false)) {
      return `${dir} is a link to nothing: give the scan folder itself (made when missing)`;
    }
    return null;
  }
}

/** Refuse a scan folder or `logs` that is not safe for the tasks' logs ({@link unsafeFolder}). */
async function checkLogFolders(dir: string): Promise<void> {
  for (const [p, link] of [[dir, "followed"], [`${dir}/logs`, "refused"]] as const) {
    const why = await unsafeFolder(p, link);
    if (why) throw new ScanFolderError(why);
  }
}

/**
 * Plan a scan of `root` into the folder `out`, write its batch script, and
 * submit it as a Slurm job array (one task per shard). A folder holding
 * another scan's files ({@link scanLeftovers}: outputs, records,
 * slurm.json, task logs) is refused (ScanFolderError). A scan folder or
 * `logs` already there must be the runner's, written by no one else
 * (ScanFolderError otherwise). When sbatch cannot be run or refuses the
 * job, or the run fails before it, nothing was submitted: the plan and the
 * script are removed again, and every folder this run made, when empty, so
 * that the same call, corrected, can run. DIR/slurm.lock is held from
 * before the plan is written until slurm.json records the job (see
 * {@link resumeScan}).
 *
 * @example Dry run: the plan and the batch script, nothing submitted
 * ```ts
 * import { slurmScan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const s = await slurmScan(`${tmp}/data`, { shards: 2, out: `${tmp}/scan`, dryRun: true });
 * assertEquals(s.command, ["sbatch", "--parsable", "--array=0-1", `${tmp}/scan/job.sbatch`]);
 * assertEquals(await Deno.readTextFile(`${tmp}/scan/job.sbatch`), s.script);
 * const names: string[] = [];
 * for await (const e of Deno.readDir(`${tmp}/scan`)) names.push(e.name);
 * assertEquals(names.sort(), ["job.sbatch", "logs", "plan.json"]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @example Submit (not run as a test: it needs a Slurm cluster)
 * ```ts ignore
 * import { slurmScan } from "jsr:@pwalk/cli";
 * const s = await slurmScan("/data", { shards: 32, out: "/scratch/scan", sbatch: ["--time=8:00:00"] });
 * console.log(`job ${s.jobId}: ${s.plan.shards} shards`);
 * ```
 */
export async function slurmScan(root: string, options: SlurmScanOptions): Promise<SlurmScan> {
  if (options == null) {
    throw new TypeError("pwalk: slurmScan needs its options: { shards, out }");
  }
  options = withoutNulls(options);
  checkOptionNames("slurmScan", options, SLURM_SCAN_OPTIONS);
  checkScriptValues(options); // before the (long) planning
  checkSbatch(options.sbatch ?? []);
  const dir = absolutePath(options.out);
  // The script's `#SBATCH --output="DIR/logs/%A_%a.out"`: sbatch reads a
  // double-quoted value whole (blanks and ' included; tried on Slurm 22.05)
  // but has no escape for '"' or '\\', and Slurm expands % in file names.
  const odd = /["\\%\r\n]/.exec(dir);
  if (odd) {
    throw new ScanFolderError(
      `${oneLine(dir)}: Slurm cannot take ${
        /[\r\n]/.test(odd[0]) ? "a line break" : `'${odd[0]}'`
      } in a job's log path (#SBATCH --output); choose a folder without '"', '\\', '%' ` +
        "or line breaks",
    );
  }
  // DIR there but no folder: said so (not as DIR/plan.json's stat error, or
  // DIR/logs's mkdir's, a failure to write), before anything is made
  const notFolder = await notAFolder(dir);
  if (notFolder) throw new ScanFolderError(notFolder);
  try {
    await Deno.stat(`${dir}/plan.json`);
    throw new ScanFolderError(
      `${dir} already holds a plan: resume it (--resume) or choose another folder`,
    );
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // plan.json removed to plan again: the old plan's outputs, records,
  // slurm.json and logs would mix with the new plan's
  const old = await scanLeftovers(dir);
  if (old.length) throw new ScanFolderError(leftoversText(dir, old));
  // the folder as it will be (pwalk plan -o and a shard's -o refuse the same)
  // (a folder the scan does not enter, excluded or with -x on another file
  // system, is as good as one outside ROOT)
  const skips = {
    exclude: excludeList(root, options.exclude),
    oneFileSystem: options.oneFileSystem,
    noSnap: options.noSnap,
  };
  if (await scanEnters(dir, root, skips)) throw new ScanFolderError(insideRootText(dir, root));
  // the tasks' logs go there: refused before the (long) planning
  await checkLogFolders(dir);
  const plan = await planOf(root, options);
  // the folders this run makes (as mkdir -p), deepest first: removed again,
  // when empty, if nothing is submitted
  const there = async (p: string) => !!(await Deno.lstat(p).catch(() => null));
  const made: string[] = (await there(`${dir}/logs`)) ? [] : [`${dir}/logs`];
  for (let p = dir; p !== "/" && !(await there(p)); p = p.slice(0, p.lastIndexOf("/")) || "/") {
    made.push(p);
  }
  const wrote: string[] = [];
  // DIR/slurm.lock, held from before plan.json is written until slurm.json
  // is: another pwalk slurm of DIR meanwhile (a --resume, a second scan) is refused
  const held: { lock: ShardLock | null } = { lock: null };
  // Nothing was submitted: what this run wrote and made is removed, so
  // that the command corrected (an sbatch option sbatch refused) just runs;
  // a plan left there would be refused as one to resume.
  const undo = async () => {
    for (const f of wrote) await Deno.remove(f).catch(() => {});
    await held.lock?.release();
    held.lock = null;
    for (const d of made) await Deno.remove(d).catch(() => {}); // when empty
  };
  let script: string;
  try {
    for (const d of [...made].reverse()) {
      // DIR and logs writable by the runner alone (whatever the umask)
      await Deno.mkdir(d, d === dir || d === `${dir}/logs` ? { mode: 0o755 } : {});
    }
    await checkLogFolders(dir); // as they are now
    held.lock = await lockScanFolder(dir);
    // another pwalk slurm of DIR may have planned it meanwhile
    if (await Deno.lstat(`${dir}/plan.json`).then(() => true, () => false)) {
      throw new ScanFolderError(
        `${dir} already holds a plan (another pwalk slurm wrote it meanwhile): resume it ` +
          "(--resume) or choose another folder",
      );
    }
    script = scriptOf(plan, { ...options, dir }, !options.dryRun);
    // replaced whole, never written through a link (writePlan, as -o, would)
    wrote.push(`${dir}/plan.json`);
    await writeAtomic(`${dir}/plan.json`, planText(plan));
    // never through a link put there: root would write and chmod its target
    wrote.push(`${dir}/job.sbatch`);
    await writeAtomic(`${dir}/job.sbatch`, script, 0o755);
    // stopped before sbatch runs: nothing left (once it runs, it is
    // waited for: a job it submits is recorded, not orphaned)
    options.signal?.throwIfAborted();
  } catch (e) {
    await undo();
    throw e;
  }
  const shards = Array.from({ length: plan.shards }, (_, i) => i);
  let s: Submitted;
  try {
    s = await submitShards(dir, shards, {
      dryRun: options.dryRun,
      maxRunning: options.maxRunning,
    });
  } catch (e) {
    // whatever it threw, sbatch submitted nothing (a job it queued is
    // returned, recorded or not): sbatch refused, not found or not to be
    // run (--allow-run), slurm.json damaged or put there meanwhile
    await undo();
    const removed = " (nothing was submitted; the plan and the script were removed)";
    if (e instanceof NotSubmitted) throw new Error(`${e.message}${removed}`, { cause: e });
    if (e instanceof Error) {
      try {
        e.message += removed; // (its class kept: NotCapable, ScanFolderError)
      } catch {
        throw new Error(`${e.message}${removed}`, { cause: e }); // (a DOMException's is read only)
      }
    }
    throw e;
  }
  await held.lock?.release();
  return { ...s, plan, script, dir };
}

/** A word as {@link shellQuote} writes it, read back. */
const QUOTED = String.raw`('(?:[^']|'\\'')*'|\$'(?:[^'\\]|\\.)*'|[A-Za-z0-9_./:=@%+,-]+)`;

/** The word {@link shellQuote} wrote, unquoted. */
function unquote(w: string): string {
  if (w.startsWith("$'")) {
    // a word with control characters: $'…' with \\ \' \n \t \xHH escapes
    const bytes: number[] = [];
    const body = Array.from(w.slice(2, -1)); // by code point
    const enc = new TextEncoder();
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c !== "\\") {
        bytes.push(...enc.encode(c));
      } else if (body[i + 1] === "x") {
        bytes.push(parseInt(body.slice(i + 2, i + 4).join(""), 16));
        i += 3;
      } else {
        const e = body[++i];
        bytes.push((e === "n" ? "\n" : e === "t" ? "\t" : e).charCodeAt(0));
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
  return w.startsWith("'") ? w.slice(1, -1).replaceAll(`'\\''`, "'") : w;
}

/**
 * The scan folders a batch script from {@link slurmScript} writes to: the
 * folder of its tasks' logs (`#SBATCH --output`), of its plan (`--plan`)
 * and of its outputs (`-o`), each null when the script does not say it as
 * slurmScript writes it (edited by hand).
 *
 * @example
 * ```ts
 * import { planShards, scriptFolders, slurmScript } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 4 });
 * const script = slurmScript(plan, { dir: "/scratch/my scan" });
 *
 * assertEquals(scriptFolders(script), {
 *   logs: "/scratch/my scan",
 *   plan: "/scratch/my scan",
 *   outputs: "/scratch/my scan",
 * });
 * // edited by hand: the tasks' outputs go elsewhere, which it cannot say
 * const edited = script.replace(/ -o .*$/m, " -o /tmp/out.csv.zst");
 * assertEquals(scriptFolders(edited).outputs, null);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function scriptFolders(
  script: string,
): { logs: string | null; plan: string | null; outputs: string | null } {
  // quoted since 9899ef9; a script written before says --output=DIR/logs/...
  const logs = /^#SBATCH --output=("?)(.*)\/logs\/%A_%a\.out\1$/m.exec(script)?.[2] ?? null;
  const exec = script.split("\n").find((l) => l.startsWith("exec ")) ?? "";
  const plan = new RegExp(` --plan ${QUOTED}(?= )`).exec(exec);
  const outputs = new RegExp(` -o ${QUOTED}"\\$shard"\\.csv\\.zst(?: |$)`).exec(exec);
  const folder = (m: RegExpExecArray | null, tail: string) => {
    const p = m ? unquote(m[1]) : null;
    return p?.endsWith(tail) ? p.slice(0, -tail.length) : null;
  };
  return { logs, plan: folder(plan, "/plan.json"), outputs: folder(outputs, "/scan-") };
}

/**
 * Refuse (ScanFolderError) a scan folder whose job.sbatch is missing (a
 * folder of `pwalk plan`) or writes to another folder than `dir`: a folder
 * moved or copied keeps the script written for where it was, whose tasks
 * would write their outputs and logs there (over another scan's, or fail
 * when it is gone). The same folder by another path (a link on the way) is
 * taken.
 */
async function checkScript(dir: string): Promise<void> {
  let script: string;
  try {
    script = await Deno.readTextFile(`${dir}/job.sbatch`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new ScanFolderError(
      `${dir} has a plan but no job.sbatch (a folder of pwalk plan, not of pwalk slurm): ` +
        `run its shards with pwalk report --plan ${dir}/plan.json --shard I ` +
        `(pwalk status ${dir} tells which)`,
    );
  }
  const named = scriptFolders(script);
  const here = await Deno.stat(dir);
  for (const [what, p] of Object.entries(named)) {
    if (p === null) {
      throw new ScanFolderError(
        `${dir}/job.sbatch does not say where its tasks ${
          what === "plan" ? "read the plan" : `write their ${what}`
        } as pwalk slurm writes it: nothing was resubmitted (submit it with sbatch yourself)`,
      );
    }
    if (p === dir) continue;
    const st = await Deno.stat(p).catch((e) => {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
      throw e;
    });
    if (st && st.dev === here.dev && st.ino === here.ino) continue; // the same folder
    throw new ScanFolderError(
      `${dir}/job.sbatch was written for ${p}${
        st ? "" : " (gone)"
      }, not for ${dir}: the scan folder was moved or copied, and its tasks would ` +
        `write there; nothing was resubmitted (move the folder back, or replace ${p} ` +
        `by ${dir} in ${dir}/job.sbatch)`,
    );
  }
}

/**
 * Resubmit the shards of a scan folder that have no completion record and
 * that Slurm does not hold (pending or running), as one array job (with the
 * last submission's `maxRunning` unless another is given). Their leftover
 * temporary outputs are removed first, each shard's under its lock; a shard
 * whose lock another process holds (a run by hand) is left alone, and
 * `busy` says so. Throws, changing nothing, when squeue does not answer,
 * and (ScanFolderError) when the scan folder or its `logs` is not the
 * runner's alone, as {@link slurmScan} refuses it, and when its job.sbatch
 * is missing or writes to another folder (the folder was moved or copied:
 * see {@link scriptFolders}). Holds DIR/slurm.lock from squeue's answer
 * until slurm.json records the job: throws ShardBusyError, submitting
 * nothing, while another resumeScan or slurmScan of DIR holds it.
 *
 * @example Not run as a test: it needs a Slurm cluster
 * ```ts ignore
 * import { resumeScan } from "jsr:@pwalk/cli";
 * const r = await resumeScan("/scratch/scan");
 * console.log(r.shards.length ? `job ${r.jobId}: shards ${r.shards}` : "all done");
 * ```
 */
export async function resumeScan(
  out: string,
  o: SubmitOptions = {},
): Promise<Submitted & { plan: ShardPlan; busy: string[] }> {
  o = withoutNulls(o);
  checkOptionNames("resumeScan", o, SUBMIT_OPTIONS);
  checkScriptValues({ maxRunning: o.maxRunning, sbatch: o.sbatch });
  checkSbatch(o.sbatch ?? []);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`pwalk: signal must be an AbortSignal, got ${typed(o.signal)}`);
  }
  const dir = absolutePath(out);
  const plan = await readPlan(`${dir}/plan.json`);
  await checkScript(dir);
  await checkLogFolders(dir); // the resubmitted tasks' logs go there too
  // one pwalk slurm of DIR at a time, from squeue's answer to slurm.json's
  // update: two at once would both submit the shards neither sees queued
  const lock = await lockScanFolder(dir);
  try {
    return await resumeLocked(dir, plan, o);
  } finally {
    await lock?.release();
  }
}

/** {@link resumeScan}, DIR's slurm.lock held. */
async function resumeLocked(
  dir: string,
  plan: ShardPlan,
  o: SubmitOptions,
): Promise<Submitted & { plan: ShardPlan; busy: string[] }> {
  o = withoutNulls(o);
  checkOptionNames("resumeScan", o, SUBMIT_OPTIONS);
  const st = await scanStatus(dir, { squeue: true, signal: o.signal });
  o.signal?.throwIfAborted(); // (nothing removed or submitted yet)
  // Without squeue's answer a running shard looks unfinished: resubmitting
  // it, and removing its temporary output, would break it.
  if (!st.squeue) {
    throw new Error(
      `squeue did not answer: the shards of ${dir} still queued or running cannot be told ` +
        `from those that died; nothing was resubmitted or removed (try again when Slurm answers)`,
    );
  }
  const candidates = st.shards.filter((s) => !["done", "pending", "running"].includes(s.state))
    .map((s) => s.shard);
  // A shard whose lock is held runs outside Slurm's view (by hand, on
  // another node): left alone, its temporaries kept. The others' dead
  // temporaries are removed under their lock, which no run of them can
  // then hold (a run takes it before it writes anything).
  const shards: number[] = [];
  const busy = st.shards.filter((s) => s.state === "running" && s.holder).map((s) =>
    `shard ${s.shard} is running outside Slurm (pid ${s.holder!.pid} on ${s.holder!.host})`
  );
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  for (const i of candidates) {
    let lock: ShardLock | null;
    try {
      // (a dry run leaves DIR as it is: a dead run's lock file, which status names, stays)
      lock = await lockShard(`${dir}/scan-${i}.csv.zst`, i, plan.id, { probe: o.dryRun });
    } catch (e) {
      if (!(e instanceof ShardBusyError)) throw e;
      busy.push(e.message);
      continue;
    }
    try {
      if (!o.dryRun) {
        const re = new RegExp(`^scan-${i}\\..*\\.(partial|top|front)-\\d+`);
        for (const n of names.filter((n) => re.test(n))) {
          await Deno.remove(`${dir}/${n}`).catch(() => {});
        }
      }
    } finally {
      await lock?.release();
    }
    shards.push(i);
  }
  if (shards.length === 0) return { command: [], shards, plan, busy };
  // the last submission's limit of tasks at once, unless another is given
  const maxRunning = o.maxRunning ?? (await recorded(dir)).at(-1)?.maxRunning;
  return { ...await submitShards(dir, shards, { ...o, maxRunning }), plan, busy };
}
