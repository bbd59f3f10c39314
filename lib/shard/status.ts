/**
 * Which shards of a scan folder are done: a completion record of the
 * folder's plan (its id, and the digest of its content: a record made
 * before plan.json was edited does not count) whose output is there, whole (its size, and with `verify`
 * its SHA-256); the others are queued or running (Slurm's squeue, when
 * available), incomplete (a temporary output is there), failed (a Slurm
 * log says the task ran) or missing.
 *
 * A scan folder holds plan.json and, per shard, `scan-I.csv.zst` (or
 * `.csv`) and `scan-I.done.json`; `pwalk slurm` adds job.sbatch,
 * slurm.json and logs/.
 *
 * @module
 */
import { planDigest, readPlan, type ShardPlan } from "./plan.ts";
import { sha256File, type ShardRecord } from "./run.ts";
import { jobName, queuedTasks, readSubmissions } from "./squeue.ts";
import { lockHeldHere, lockHolder } from "./lock.ts";
import { aliveHere } from "../outfile.ts";
import { count, groupDigits } from "../digits.ts";
import { checkBools, checkOptionNames, type OptionNames, typed, withoutNulls } from "../options.ts";

/** What became of one shard. */
export type ShardState = "done" | "pending" | "running" | "incomplete" | "failed" | "missing";

/** One shard's status. */
export interface ShardStatus {
  /** The shard. */
  shard: number;
  /** Its state. */
  state: ShardState;
  /** Its completion record, when done. */
  record?: ShardRecord;
  /** The output file (when done). */
  output?: string;
  /**
   * More about the state: Slurm's state, the last line of a failed task's
   * log (or, when that log ended with the shard done, that its record is
   * gone since), ...; for a shard with records of two runs (outputs of two
   * names), which record is taken and which are set aside: the latest (by
   * its `end`) whose output is whole, and the later runs' records whose
   * outputs are not (gone, another size, with `verify` another SHA-256);
   * none whole, the shard is failed and its line says why for each.
   */
  detail?: string;
  /**
   * A run outside Slurm (by hand) that its output's lock file names, when
   * its temporary output is there: `running` when that process lives on
   * this host, else `incomplete` (on another node, or dead).
   */
  holder?: { pid: number; host: string };
}

/** What {@link scanStatus} returns. */
export interface ScanStatus {
  /** The folder's plan. */
  plan: ShardPlan;
  /** Every shard, in order. */
  shards: ShardStatus[];
  /** Shard numbers per state. */
  counts: Record<ShardState, number>;
  /** Whether every shard is done. */
  complete: boolean;
  /** Whether squeue answered (else queued and running shards look incomplete, failed or missing). */
  squeue: boolean;
  /**
   * Whether squeue was asked: by default when the folder is one of `pwalk
   * slurm` (it has job.sbatch or slurm.json), since its tasks may have been
   * submitted by hand (`sbatch ... DIR/job.sbatch` after `--dry-run`).
   */
  squeueAsked: boolean;
  /** Slurm submissions recorded in the folder (slurm.json). */
  submissions: number;
  /**
   * Files in the folder that are not this plan's shards', by name: shard
   * outputs (`scan-I.csv.zst`, ...) that no done shard's record names,
   * beyond this plan's shards, spelled with zeros (`scan-02.csv.zst`) or
   * of a done shard whose record names another file (`scan-2.csv.zst` left
   * by an earlier run when a rerun wrote `scan-2.csv.gz`); records of
   * another plan and the outputs they name (but no done shard's); a done
   * shard's records other than the one taken (two runs into outputs of two
   * names: the earlier ones, and later ones whose output is not whole) and
   * the outputs they name; never a record or output of a shard that is not
   * done (its line names them). A glob such as
   * `DIR/scan-*.csv.zst` would read them with this plan's.
   */
  strays: string[];
}

/** The names of {@link StatusOptions} (any other: a TypeError). */
export const STATUS_OPTIONS: OptionNames<StatusOptions> = {
  verify: true,
  squeue: true,
  signal: true,
};

/** Options of {@link scanStatus}. */
export interface StatusOptions {
  /** Check each done shard's output against its record's SHA-256 (reads every output). */
  verify?: boolean;
  /**
   * Ask Slurm's squeue about shards without a record, for the tasks of the
   * plan's job name ({@link jobName}: job.sbatch sets it, whoever submits
   * it). Default: when the folder has job.sbatch or slurm.json.
   */
  squeue?: boolean;
  /**
   * Stops the status: squeue's queries (squeue ended) and `verify`'s reading
   * of the outputs; it rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/**
 * Why a pending task waits, for its line: ` (Priority)`; a held one (by its
 * user, an admin, or Slurm after a failed launch) runs only once released.
 */
function waitsFor(reason: string | undefined): string {
  if (!reason) return "";
  return /held/i.test(reason)
    ? ` (${reason}: held, it runs once released with scontrol release)`
    : ` (${reason})`;
}

/** A shard output's suffix after `scan-I.` (as recordPath reads it). */
const OUTPUT = /^csv(\.zstd?|\.gz)?$/i;

function resolveIn(dir: string, p: string): string {
  return p.startsWith("/") ? p : `${dir}/${p}`;
}

/**
 * A task's log, its last run's lines (a log appended to, `--open-mode=append`,
 * holds every run of a requeued task; job.sbatch says `pwalk: shard I of N
 * on HOST` as each starts): its last line, whether it holds the shard's
 * line of success (`pwalk: shard I of N: ..., record FILE`, which only a
 * finished run prints; lines about removed leftovers or warnings may follow
 * it), and why Slurm ended it when it says (`*** JOB 12 ON node07 CANCELLED
 * AT ... DUE TO TIME LIMIT ***`: "cancelled by Slurm due to time limit").
 */
async function readLog(
  path: string,
  shard: number,
  shards: number,
): Promise<{ last: string; done: boolean; ended?: string }> {
  try {
    const t = await Deno.readTextFile(path);
    let lines = t.split("\n").map((l) => l.trim()).filter(Boolean);
    const start = `pwalk: shard ${shard} of ${shards} on `;
    const from = lines.findLastIndex((l) => l.startsWith(start));
    if (from > 0) lines = lines.slice(from);
    const ok = `pwalk: shard ${shard} of ${shards}: `;
    const slurm = lines.map((l) =>
      /\*\*\* JOB \S+ ON \S+ CANCELLED AT \S+(?: DUE TO (.+?))? \*\*\*/.exec(l)
    )
      .findLast((m) => m);
    return {
      last: lines.at(-1) ?? "",
      done: lines.some((l) => l.startsWith(ok) && /, record .+$/.test(l)),
      ended: slurm
        ? `cancelled by Slurm${slurm[1] ? ` due to ${slurm[1].toLowerCase()}` : ""}`
        : undefined,
    };
  } catch {
    return { last: "", done: false };
  }
}

/**
 * A completion record, read and checked; null when it is not one.
 *
 * @example
 * ```ts
 * import { planShards, readRecord, runShard } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/a/f.txt`, "x");
 * const plan = await planShards(`${tmp}/data`, { shards: 1 });
 * await runShard(plan, 0, { output: `${tmp}/scan-0.csv` });
 *
 * const r = await readRecord(`${tmp}/scan-0.done.json`);
 * const lines = (await Deno.readTextFile(`${tmp}/scan-0.csv`)).trim().split("\n");
 * assertEquals([r?.shard, r?.rows, r?.host], [0, lines.length, Deno.hostname()]);
 * assertEquals(await readRecord(`${tmp}/scan-0.csv`), null); // not a record
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function readRecord(path: string): Promise<ShardRecord | null> {
  try {
    const r = JSON.parse(await Deno.readTextFile(path)) as ShardRecord;
    if (r.format !== "pwalk-shard-done" || !Number.isInteger(r.shard)) return null;
    return r;
  } catch {
    return null;
  }
}

/** Why a file named as a completion record is not one ({@link readRecord} said null). */
async function recordProblem(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    return (e as Error).message.replace(/ \(os error \d+\).*$/s, "");
  }
  try {
    JSON.parse(text);
  } catch {
    return text.trim() ? "not JSON" : "empty";
  }
  return "not a pwalk completion record";
}

/** A shard output's name in a scan folder (`scan-I.csv.zst`, ...), and its shard. */
const SHARD_OUTPUT = /^scan-(\d+)\.csv(\.zstd?|\.gz)?$/i;

/**
 * The files of a sharded scan in the folder `dir` that a new plan there
 * would mix with: completion records (and the outputs they name), shard
 * outputs (`scan-I.csv.zst`, ...), slurm.json, and task logs in `logs/`
 * (one entry, `logs/ (N task logs)`). Sorted names; none when the folder
 * is not there.
 *
 * @example
 * ```ts
 * import { planShards, runShard, scanLeftovers } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * await Deno.mkdir(`${tmp}/scan`);
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * await runShard(plan, 0, { output: `${tmp}/scan/scan-0.csv.zst` });
 * await Deno.writeTextFile(`${tmp}/scan/notes.txt`, "not a scan's");
 *
 * assertEquals(await scanLeftovers(`${tmp}/scan`), ["scan-0.csv.zst", "scan-0.done.json"]);
 * assertEquals(await scanLeftovers(`${tmp}/nothing`), []);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function scanLeftovers(dir: string): Promise<string[]> {
  const found = new Set<string>();
  const files: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile) files.push(e.name);
  } catch {
    return [];
  }
  for (const name of files) {
    if (SHARD_OUTPUT.test(name) || name === "slurm.json") found.add(name);
    if (!name.endsWith(".done.json")) continue;
    const r = await readRecord(`${dir}/${name}`);
    if (!r) continue;
    found.add(name);
    if (typeof r.output === "string" && files.includes(r.output)) found.add(r.output);
  }
  const out = [...found].sort();
  let logs = 0;
  try {
    for await (const e of Deno.readDir(`${dir}/logs`)) if (/^\d+_\d+\.out$/.test(e.name)) logs++;
  } catch { /* none */ }
  if (logs) out.push(`logs/ (${count(logs, "task log")})`);
  return out;
}

/** Why a folder holding another scan's files ({@link scanLeftovers}) takes no new plan. */
export function leftoversText(dir: string, names: string[]): string {
  const shown = names.length > 6 ? [...names.slice(0, 6), `and ${names.length - 6} more`] : names;
  return `${dir} holds files of another scan (${shown.join(", ")}): a new plan there would ` +
    "mix with them (a glob of scan-*.csv.zst reads them all); remove them, or choose another folder";
}

/**
 * The state of every shard of the scan in `dir` (a folder holding
 * plan.json and the shards' outputs and completion records).
 *
 * @example Which shards of a scan folder are done?
 * ```ts
 * import { planShards, runShard, scanStatus, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * await Deno.mkdir(`${tmp}/scan`);
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * await writePlan(plan, `${tmp}/scan/plan.json`);
 * await runShard(plan, 0, { output: `${tmp}/scan/scan-0.csv.zst` });
 *
 * let s = await scanStatus(`${tmp}/scan`);
 * assertEquals(s.shards.map((x) => x.state), ["done", "missing"]);
 * assertEquals(s.complete, false); // failed, missing and incomplete shards: run them again
 * await runShard(plan, 1, { output: `${tmp}/scan/scan-1.csv.zst` });
 * s = await scanStatus(`${tmp}/scan`);
 * assertEquals([s.complete, s.counts.done], [true, 2]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function scanStatus(dir: string, options: StatusOptions = {}): Promise<ScanStatus> {
  options = withoutNulls(options);
  checkOptionNames("scanStatus", options, STATUS_OPTIONS);
  checkBools(options, ["verify", "squeue"]); // a string "false" would turn it on
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError(`pwalk: signal must be an AbortSignal, got ${typed(options.signal)}`);
  }
  dir = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  const plan = await readPlan(`${dir}/plan.json`);
  const shards: ShardStatus[] = Array.from({ length: plan.shards }, (_, shard) => ({
    shard,
    state: "missing" as ShardState,
  }));
  // Slurm's queue first, then the folder: a task that ends between the two
  // has its record read (done), never seen neither queued nor recorded
  // (failed, and resubmitted by --resume over its finished output)
  // (one that cannot be read: the tasks of the plan's job name are still found)
  const subs = await readSubmissions(dir).catch(() => []);
  let squeue = false;
  let queued = new Map<number, string>();
  const reasons = new Map<number, string>(); // why pending tasks wait
  // job.sbatch names its tasks by the plan (#SBATCH --job-name): submitted
  // by pwalk slurm (slurm.json) or by hand, squeue finds them
  const squeueAsked = options.squeue ??
    (subs.length > 0 || await Deno.lstat(`${dir}/job.sbatch`).then(() => true, () => false));
  if (squeueAsked) {
    const q = await queuedTasks(jobName(plan), subs.map((x) => x.jobId), options.signal, reasons);
    if (q) {
      squeue = true;
      queued = q;
    }
  }
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  names.sort();

  // completion records of this plan (its content too) whose output is whole
  const digest = planDigest(plan);
  const foreign = new Map<number, string>(); // records of another plan, by shard
  const stale = new Map<number, string>(); // records of another version of plan.json, by shard
  const strays = new Set<string>();
  const unreadable = new Map<number, string>(); // scan-I.done.json that is no record, by shard
  const foreignOutputs = new Set<string>(); // the outputs records of another plan name
  const records: { name: string; r: ShardRecord }[][] = []; // this plan's, by shard
  const otherOutputs = new Set<string>(); // the outputs of a done shard's records not taken
  for (const name of names) {
    if (!name.endsWith(".done.json")) continue;
    options.signal?.throwIfAborted(); // (thousands of records on a slow file system)
    const r = await readRecord(`${dir}/${name}`);
    const own = /^scan-(\d+)\.done\.json$/.exec(name);
    if (!r && own && String(Number(own[1])) === own[1]) {
      unreadable.set(Number(own[1]), await recordProblem(`${dir}/${name}`));
    }
    if (r && r.plan !== plan.id) {
      strays.add(name);
      if (typeof r.output === "string" && names.includes(r.output)) foreignOutputs.add(r.output);
    }
    if (r && r.plan !== plan.id && r.shard >= 0 && r.shard < plan.shards) {
      foreign.set(r.shard, `${name}: a record of another plan (${r.plan}), not of this one`);
    }
    if (!r || r.plan !== plan.id || r.shard < 0 || r.shard >= plan.shards) continue;
    if (r.planSha256 !== digest) {
      // plan.json edited after the shard ran: its rows are not this plan's
      stale.set(
        r.shard,
        `${name}: made from another version of plan.json (edited since): run the shard again`,
      );
      continue;
    }
    (records[r.shard] ??= []).push({ name, r });
  }
  // a shard with two records of this plan (outputs of two names, run one
  // after the other): the latest run (its record's end) whose output is
  // whole is the shard's, the other runs' records and outputs strays; a
  // later run whose output is not whole (gone, cut short) is named on the
  // shard's line, and an earlier whole output taken, never called a stray.
  // None whole: failed, by the latest, and no record of it a stray (the
  // user decides which output to keep).
  for (const [i, list] of records.entries()) {
    if (!list) continue;
    const when = (x: { r: ShardRecord }) => {
      const t = Date.parse(x.r.end);
      return Number.isFinite(t) ? t : -Infinity;
    };
    list.sort((a, b) => when(b) - when(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    stale.delete(i);
    const s = shards[i];
    // why a record's output is not the one it describes, or null when it is
    const problem = async ({ name, r }: { name: string; r: ShardRecord }) => {
      const output = resolveIn(dir, r.output);
      let size = -1;
      try {
        size = (await Deno.stat(output)).size;
      } catch { /* gone */ }
      if (size !== r.outputBytes) {
        return size < 0
          ? `${name}: its output ${r.output} is gone`
          : `${name}: its output ${r.output} has ${count(size, "byte")}, the record says ${
            groupDigits(r.outputBytes)
          }`;
      }
      if (options.verify && (await sha256File(output, options.signal)) !== r.sha256) {
        return `${name}: the SHA-256 of ${r.output} is not the record's`;
      }
      return null;
    };
    const failed: string[] = []; // the later runs' problems, latest first
    let taken = -1;
    for (const [k, x] of list.entries()) {
      const why = await problem(x);
      if (why === null) {
        taken = k;
        break;
      }
      failed.push(why);
    }
    const listed = (xs: { name: string }[]) => xs.map((x) => x.name).join(", ");
    const runs = (n: number) => `run${n > 1 ? "s" : ""}`;
    if (taken < 0) {
      s.state = "failed";
      s.detail = failed[0] +
        (list.length > 1
          ? `; the latest of ${list.length} records (by their end): the earlier ${
            list.length > 2 ? "runs' outputs are" : "run's output is"
          } not whole either (${failed.slice(1).join("; ")})`
          : "");
      continue;
    }
    const { name, r } = list[taken];
    const output = resolveIn(dir, r.output);
    const later = list.slice(0, taken);
    const earlier = list.slice(taken + 1);
    for (const x of [...later, ...earlier]) {
      strays.add(x.name);
      const o = x.r.output;
      if (typeof o === "string" && resolveIn(dir, o) !== output && names.includes(o)) {
        otherOutputs.add(o);
      }
    }
    const parts: string[] = [];
    if (later.length) {
      parts.push(
        `${name} taken, an earlier run's; set aside the later ${runs(later.length)}, which ` +
          `left no whole output: ${failed.join("; ")}`,
      );
    }
    if (earlier.length) {
      parts.push(
        later.length
          ? `earlier ${runs(earlier.length)} ${listed(earlier)} set aside`
          : `the latest of ${list.length} records (by their end): earlier ${runs(earlier.length)} ${
            listed(earlier)
          } set aside`,
      );
    }
    Object.assign(s, { state: "done", record: r, output, detail: parts.join("; ") || undefined });
  }

  // shard outputs no done record of this plan names: beyond the plan's
  // shards, spelled with zeros, or a done shard's under another name (an
  // earlier run's, left by a rerun written with another suffix). One that
  // a done record names is that shard's, whatever its number says (a
  // shard run by hand with -o scan-1.csv.zst for shard 0, as pwalk report
  // refuses now): never to be removed.
  const named = new Set(shards.filter((s) => s.state === "done").map((s) => s.output));
  // another plan's record naming a file that a done record of this plan
  // names too (its output written over since): this plan's, not a stray
  for (const name of [...foreignOutputs, ...otherOutputs]) {
    if (!named.has(`${dir}/${name}`)) strays.add(name);
  }
  for (const name of names) {
    const m = SHARD_OUTPUT.exec(name);
    if (!m || named.has(`${dir}/${name}`)) continue;
    const s = shards[Number(m[1])];
    if (!s || m[1] !== String(Number(m[1])) || s.state === "done") strays.add(name);
  }

  // the rest: temporary outputs, Slurm's queue (asked first, above), Slurm's logs
  // logs/JOB_TASK.out, the last written last (a shard run in two jobs, the
  // later refused by the first's lock: the first's end is its latest), then
  // the latest job
  const logs: [number, number, string, number][] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/logs`)) {
      const m = /^(\d+)_(\d+)\.out$/.exec(e.name);
      if (!e.isFile || !m) continue;
      const at = (await Deno.lstat(`${dir}/logs/${e.name}`).catch(() => null))?.mtime?.getTime();
      logs.push([Number(m[1]), Number(m[2]), e.name, at ?? 0]);
    }
  } catch { /* no logs */ }
  logs.sort((a, b) => a[3] - b[3] || a[0] - b[0]);
  for (const s of shards) {
    const q = queued.get(s.shard);
    // a done shard's task that Slurm holds again (requeued; submitted twice)
    // removes the record as it starts, and a rerun that fails leaves none:
    // not done until it has left the queue. One ending (COMPLETING, its
    // epilogue; STAGE_OUT) is the run that wrote the record: done.
    const rerun = s.state === "done" && !!q && q !== "COMPLETING" && q !== "STAGE_OUT";
    if (s.state === "done" && !rerun) continue;
    if (q) {
      s.state = q === "PENDING" ? "pending" : "running";
      s.detail = `Slurm: ${q}${waitsFor(reasons.get(s.shard))}` +
        (rerun
          ? `, though scan-${s.shard}.done.json is there: a rerun (requeued, or submitted again) ` +
            "that will replace it"
          : "");
      continue;
    }
    if (s.state === "failed") continue;
    const prefix = `scan-${s.shard}.`;
    // a run outside Slurm (by hand) names itself in its output's lock file,
    // taken before its temporary output is made and kept until its record is
    // written: either is a trace of a run
    const holder = names.find((n) => n.startsWith(prefix) && n.endsWith(".lock"));
    const temp = names.some((n) => n.startsWith(prefix) && /\.(partial|top|front)-\d+/.test(n));
    const who = holder ? await lockHolder(`${dir}/${holder}`) : null;
    const here = who?.host === Deno.hostname();
    // held: as the kernel tells it (lockHeldHere: the pid in the file may be
    // another process's now), else, where it cannot tell, by its pid being alive
    const held = here
      ? (await lockHeldHere(`${dir}/${holder}`, who!.pid)) ?? aliveHere(who!.pid)
      : false;
    // a lock another plan's run left (killed outright, the folder planned
    // again since), with no temporary: no trace of a run of this plan's
    const foreignLock = !!who?.plan && who.plan !== plan.id && !held && !temp;
    if ((temp || holder) && !foreignLock) {
      if (who) s.holder = { pid: who.pid, host: who.host };
      if (who && here && held) {
        s.state = "running";
        // (squeue asked and silent: a Slurm task's run looks so too)
        const where = squeueAsked && !squeue ? "" : ", outside Slurm";
        s.detail = `pid ${who.pid} on ${who.host}${where} (${holder} is its lock)`;
      } else {
        s.state = "incomplete";
        const there = temp ? "a temporary output is there" : `${holder} is there`;
        s.detail = !who
          ? `${there}: running elsewhere, or it died`
          : here && aliveHere(who.pid)
          ? `${there}, and ${holder} names pid ${who.pid} on this host, which does not ` +
            "hold it (another process has that pid now): it died"
          : here
          ? `${there}, and ${holder} names pid ${who.pid} on this host, ` +
            "which is not running: it died"
          : `${there}, and ${holder} names pid ${who.pid} on ${who.host}: ` +
            "running there, or it died";
      }
      continue;
    }
    if (stale.has(s.shard)) {
      s.state = "failed"; // it ran, from another plan.json
      s.detail = stale.get(s.shard);
      continue;
    }
    const log = logs.filter((l) => l[1] === s.shard).at(-1)?.[2];
    if (log) {
      s.state = "failed";
      const { last, done, ended } = await readLog(`${dir}/logs/${log}`, s.shard, plan.shards);
      // that task ended well, and its record is gone since: not its line
      const bad = unreadable.get(s.shard);
      s.detail = done && bad
        ? `logs/${log} ended done, but scan-${s.shard}.done.json is unreadable now (${bad}): ` +
          "run the shard again"
        : done
        ? `logs/${log} ended done, but no record is there now: a later run (by hand) failed ` +
          "or was stopped, or the record was removed"
        : `logs/${log}: ${last || "(empty)"}${
          ended && !last.includes(" CANCELLED AT ") ? ` (${ended})` : ""
        }`;
    } else if (foreign.has(s.shard)) {
      s.detail = foreign.get(s.shard); // still missing: this plan's run of it is
    } else {
      // an output without a record: a run that did not end (its record is
      // written last), or whose record could not be written (a full disk)
      const out = names.find((n) => n.startsWith(prefix) && OUTPUT.test(n.slice(prefix.length)));
      const bad = unreadable.get(s.shard);
      if (out) s.state = "incomplete";
      if (bad) {
        // there, but not a record: damaged or edited, not absent
        s.detail = `scan-${s.shard}.done.json is unreadable (${bad})${
          out ? `, so ${out} is not known whole` : ""
        }: run the shard again`;
      } else if (out) {
        s.detail = `${out} is there without its record scan-${s.shard}.done.json: its run did ` +
          "not end, or could not write the record; run the shard again";
      }
    }
  }
  const counts: Record<ShardState, number> = {
    done: 0,
    pending: 0,
    running: 0,
    incomplete: 0,
    failed: 0,
    missing: 0,
  };
  for (const s of shards) counts[s.state]++;
  return {
    plan,
    shards,
    counts,
    complete: counts.done === plan.shards,
    squeue,
    squeueAsked,
    submissions: subs.length,
    strays: [...strays].sort(),
  };
}
