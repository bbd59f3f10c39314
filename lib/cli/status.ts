/**
 * `pwalk status DIR`: which shards of a scan folder are done (see
 * lib/shard/status.ts).
 *
 * @module
 */
import {
  count,
  eprint,
  missingFolder,
  oneLine,
  parse,
  Stopped,
  underSignals,
  UsageError,
  writeStdout,
} from "./common.ts";
import { PlanError } from "../shard/plan.ts";
import { duration } from "./progress.ts";
import { scanStatus, type ShardState } from "../shard/status.ts";

/** `pwalk status --help`. */
export const HELP = `pwalk status: which shards of a scan folder are done

Usage:
  pwalk status DIR [--json] [--verify]

DIR holds plan.json and the shards' outputs (pwalk slurm --out DIR, or
pwalk plan -o DIR/plan.json and pwalk report --plan ... -o DIR/scan-I.csv.zst).
A shard is
  done        its completion record (of this plan, as plan.json is now) is
              there, and its output with the recorded size (--verify: and
              SHA-256); of two records of a shard (outputs of two names),
              the latest run's whose output is whole (the other run's
              record and output are strays; none whole: failed, and
              neither is a stray)
  pending     queued in Slurm (squeue, asked when DIR has job.sbatch or
              slurm.json: the tasks of its job name, pwalk-ID, however
              submitted)
  running     running in Slurm (squeue), or outside Slurm on this host (the
              shard's lock file names a live process here)
  incomplete  a temporary output or lock file is there otherwise: running
              on another node, or it died; or its output scan-I.csv.zst
              is there without its record (the run did not end, or could
              not write the record)
  failed      it ran (a Slurm log, or a record whose output is not whole,
              or one made from another version of plan.json: edited since)
              but left no valid completion record
  missing     no trace of its run (no Slurm log, record, lock file,
              output or temporary output; a record of another plan may be)

Options:
  --json      the whole status as JSON on stdout
  --verify    also check each done shard's output against its SHA-256
  -h, --help  this help

Exit status: 0 every shard is done, 1 some are not, 2 bad usage (no such
folder, no plan, a plan, folder or output this user cannot read, a Deno
permission missing),
129, 130, 143 stopped by SIGHUP, SIGINT (Ctrl-C), SIGTERM (squeue ended, the
outputs' reading stopped): no status is told, 141 stdout closed early
(| head).
`;

const STATES: ShardState[] = ["done", "running", "pending", "incomplete", "failed", "missing"];

/** Say that a signal stopped the status before it was told; its exit status. */
function untold([name, status]: readonly [string, number]): number {
  eprint(`pwalk status: interrupted by ${name}; no status was told`);
  return status;
}

/** `pwalk status ARGS`; resolves to the exit status. */
export async function run(args: string[]): Promise<number> {
  const flags = parse(args, { json: "flag", verify: "flag" });
  const dirs = flags._;
  if (dirs.length !== 1) throw new UsageError("give one scan folder (try --help)");
  const dir = dirs[0];
  if (dir === "") throw new UsageError("DIR is empty");
  let st, stopped;
  try {
    // SIGHUP, SIGINT, SIGTERM: squeue ended and the outputs' reading
    // (--verify) stopped, with one line and 128 + the signal's number; no
    // status is told then (half a table would read as shards not done)
    [st, stopped] = await underSignals(
      (signal) => scanStatus(dir, { verify: !!flags.verify, signal }),
      { tag: "pwalk status:", what: flags.verify ? "squeue or an output's reading" : "squeue" },
    );
  } catch (caught) {
    let e = caught;
    if (e instanceof Stopped) {
      if ((e.cause as Error)?.name === "AbortError") return untold(e.by);
      e = e.cause; // a failure of its own meanwhile, said as it is
    }
    if (e instanceof PlanError) throw new UsageError(e.message);
    if (e instanceof Deno.errors.NotFound) {
      // a folder that is not there at all is no scan folder "without a plan"
      throw new UsageError(
        missingFolder(dir) ?? `${dir}: no plan.json there (not a scan folder)`,
      );
    }
    if (e instanceof Deno.errors.NotADirectory) {
      throw new UsageError(`${dir}: not a folder (give the scan's folder, which holds plan.json)`);
    }
    // a plan or folder this user cannot read: no status to tell (1 would
    // read as "not done yet" to a loop that waits for 0)
    // (nor can it without a Deno permission: --allow-run for squeue)
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      throw new UsageError(String(e.message));
    }
    throw e;
  }
  // (it ended as the signal came: told no more than one stopped midway)
  if (stopped) return untold(stopped);
  if (flags.json) {
    writeStdout(JSON.stringify(st, null, 1) + "\n");
    return st.complete ? 0 : 1;
  }
  const lines = [
    `${dir}: ${count(st.plan.shards, "shard")} of ${st.plan.root.path} (plan ${st.plan.id})`,
  ];
  const w = String(st.plan.shards - 1).length;
  for (const s of st.shards) {
    let what = s.detail ?? "";
    if (s.record) {
      const r = s.record;
      what = `${count(r.rows, "row")}, ${count(r.errors, "error")}, ${r.host}, ` +
        `${duration(r.elapsedMs)}, ended ${r.end}` + (s.detail ? `; ${s.detail}` : "");
    }
    lines.push(`shard ${String(s.shard).padStart(w)}  ${s.state.padEnd(10)}  ${what}`.trimEnd());
  }
  const parts = STATES.filter((k) => st.counts[k]).map((k) => `${st.counts[k]} ${k}`);
  const rows = st.shards.reduce((a, s) => a + (s.record?.rows ?? 0), 0);
  lines.push(
    // (the rows of the shards done: a running shard's are not known yet)
    `${count(st.plan.shards, "shard")}: ${parts.join(", ")}; ${count(rows, "row")}${
      st.complete ? "" : ` in the ${count(st.counts.done ?? 0, "shard")} done so far`
    }` +
      (st.squeue || !st.squeueAsked || st.complete
        ? ""
        : " (squeue did not answer: queued and running shards look incomplete, failed or " +
          "missing)"),
  );
  if (st.strays.length) {
    // the glob's warning only where it holds: data-1.csv.zst is no scan-*
    const globbed = st.strays.some((n) => /^scan-.*\.csv\.zst$/.test(n));
    lines.push(
      `stray files: ${st.strays.join(", ")} (not this plan's shards' outputs: another ` +
        "scan's, or another run's of a done shard under another name: an earlier one, or a " +
        "later one that left no whole output" +
        (globbed ? `; but a glob such as ${dir}/scan-*.csv.zst reads them too: remove them)` : ")"),
    );
  }
  // each line as one line that cannot drive the terminal, as plan and
  // report print names (oneLine): the folder, ROOT, a record's host, a
  // Slurm log's last line, a lock file's host, a stray's name
  writeStdout(lines.map(oneLine).join("\n") + "\n");
  return st.complete ? 0 : 1;
}
