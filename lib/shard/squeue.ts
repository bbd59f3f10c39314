/**
 * What Slurm knows of a scan folder's jobs: the submissions pwalk recorded
 * (slurm.json) and the tasks squeue still holds.
 *
 * @module
 */
import { envWithout } from "./env.ts";
import type { ShardPlan } from "./plan.ts";
import { oneLine } from "../utf8.ts";

/** One sbatch submission of a scan folder. */
export interface Submission {
  /** Slurm's job id of the array. */
  jobId: string;
  /** The array indexes (shards), as given to --array. */
  array: string;
  /** When (ISO 8601). */
  submitted: string;
  /** Extra sbatch arguments given on the command line. */
  sbatch: string[];
  /** At most this many tasks ran at once (`--array=...%K`), when limited. */
  maxRunning?: number;
}

/**
 * The Slurm job name of a plan's tasks: `pwalk-` and the plan id's first 8 characters.
 *
 * @example
 * ```ts
 * import { jobName, planShards } from "jsr:@pwalk/cli";
 * import { assertEquals, assertMatch } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * const name = jobName(plan);
 * assertMatch(name, /^pwalk-[0-9a-f]{8}$/); // as "pwalk-0baa1cb3"
 * assertEquals(name, `pwalk-${plan.id.slice(0, 8)}`);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function jobName(plan: ShardPlan): string {
  return `pwalk-${plan.id.slice(0, 8)}`;
}

/**
 * The submissions recorded in a scan folder's slurm.json (none when it has
 * none). One that cannot be read, or is not their JSON (damaged), is an
 * Error saying so: a new submission must not write over the ids of the
 * earlier ones, which status asks squeue about.
 *
 * @example
 * ```ts
 * import { readSubmissions } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const scan = await Deno.makeTempDir();
 * assertEquals(await readSubmissions(scan), []); // nothing submitted yet
 * // as pwalk slurm records a job (sbatch not run here)
 * const job = { jobId: "4242", array: "0-7", submitted: "2026-12-01T09:00:00Z", sbatch: [] };
 * await Deno.writeTextFile(`${scan}/slurm.json`, JSON.stringify({ submissions: [job] }));
 * assertEquals(await readSubmissions(scan), [job]);
 * await Deno.remove(scan, { recursive: true });
 * ```
 */
export async function readSubmissions(dir: string): Promise<Submission[]> {
  const file = `${dir}/slurm.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new Error(`pwalk: ${oneLine(file)}: cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let v: { submissions?: unknown } | undefined;
  try {
    v = JSON.parse(text);
  } catch { /* said below */ }
  if (!Array.isArray(v?.submissions)) {
    throw new Error(
      `pwalk: ${oneLine(file)}: not pwalk's record of Slurm jobs (damaged?): ` +
        "put it right or remove it (it lists the job ids of the earlier submissions)",
    );
  }
  return v.submissions as Submission[];
}

/** squeue's input variables that leave tasks out of what it lists. */
const SQUEUE_FILTERS = [
  "SQUEUE_ACCOUNT",
  "SQUEUE_LICENSES",
  "SQUEUE_NAMES",
  "SQUEUE_PARTITION",
  "SQUEUE_QOS",
  "SQUEUE_STATES",
  "SQUEUE_USERS",
];

/**
 * The array tasks of a job name that Slurm still holds (pending, running,
 * ...), by task index, from `squeue -r`; null when squeue cannot be asked.
 * With `jobIds` (the submissions slurm.json records), the tasks of those
 * array jobs too, whatever their name (an SBATCH_JOB_NAME in sbatch's
 * environment overrides the script's job name). `signal` stops it (squeue
 * ended; it rejects with the signal's reason). `reasons`, when given, gets
 * why each pending task waits (squeue's reason: `Priority`, `Resources`,
 * `JobHeldUser`...).
 *
 * @example Not run as a test: it needs Slurm's squeue
 * ```ts ignore
 * import { queuedTasks } from "jsr:@pwalk/cli";
 * const q = await queuedTasks("pwalk-0baa1cb3"); // Map { 2 => "RUNNING", 3 => "PENDING" }
 * ```
 */
export async function queuedTasks(
  name: string,
  jobIds: string[] = [],
  signal?: AbortSignal,
  reasons?: Map<number, string>,
): Promise<Map<number, string> | null> {
  const m = new Map<number, string>();
  const ids = jobIds.filter((j) => /^\d+$/.test(j));
  // squeue ANDs --name and --jobs: asked once for each. With one job id,
  // squeue fails ("Invalid job id specified") once the job has left the
  // queue; with a list it lists those still there, so one id is given twice
  // (Slurm 22.05).
  const asks = [
    [`--name=${name}`],
    ...(ids.length ? [[`--jobs=${[...ids, ...ids].join(",")}`]] : []),
  ];
  // (under --allow-env=LIST without them: squeue run as before they were looked at)
  const env = envWithout(SQUEUE_FILTERS, "squeue", "would hide tasks Slurm holds", {
    unreadable: "pass",
  });
  for (const ask of asks) {
    signal?.throwIfAborted(); // (stopped: squeue asked no more)
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("squeue", {
        // every partition's (hidden ones too), whatever the user's SQUEUE_*
        // defaults would leave out (SQUEUE_STATES=RUNNING: the pending
        // ones, which would be resubmitted as missing)
        args: ["-h", "-r", "--all", ...ask, "-o", "%K|%T|%r"],
        ...env,
        cwd: "/", // (not a working folder the runner cannot search: Deno would fail to start it)
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal, // (stopped: squeue ended, SIGTERM)
      }).output();
      signal?.throwIfAborted();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      // no --allow-run for it: said so, not taken for a Slurm that did not answer
      if (e instanceof Deno.errors.NotCapable) throw e;
      return null;
    }
    if (!out.success) return null;
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [task, state, reason] = line.trim().split("|");
      if (!/^\d+$/.test(task ?? "") || !state) continue;
      m.set(Number(task), state);
      if (reasons && state === "PENDING" && reason && reason !== "None") {
        reasons.set(Number(task), reason);
      }
    }
  }
  return m;
}
