/**
 * What Slurm knows of a scan folder's jobs: the submissions pwalk recorded
 * (slurm.json) and the tasks squeue still holds.
 *
 * @module
 */
import type { ShardPlan } from "./plan.ts";

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
 * ```ts ignore
 * import { jobName, readPlan } from "jsr:@pwalk/cli";
 * console.log(jobName(await readPlan("scan/plan.json"))); // e.g. "pwalk-0baa1cb3"
 * ```
 */
export function jobName(plan: ShardPlan): string {
  return `pwalk-${plan.id.slice(0, 8)}`;
}

/**
 * The submissions recorded in a scan folder's slurm.json (none when it has none).
 *
 * @example
 * ```ts ignore
 * import { readSubmissions } from "jsr:@pwalk/cli";
 * for (const s of await readSubmissions("scan")) console.log(s.jobId, s.array);
 * ```
 */
export async function readSubmissions(dir: string): Promise<Submission[]> {
  try {
    const v = JSON.parse(await Deno.readTextFile(`${dir}/slurm.json`));
    return Array.isArray(v?.submissions) ? v.submissions : [];
  } catch {
    return [];
  }
}

/**
 * The array tasks of a job name that Slurm still holds (pending, running,
 * ...), by task index, from `squeue -r`; null when squeue cannot be asked.
 *
 * @example
 * ```ts ignore
 * import { queuedTasks } from "jsr:@pwalk/cli";
 * const q = await queuedTasks("pwalk-0baa1cb3"); // Map { 2 => "RUNNING", 3 => "PENDING" }
 * ```
 */
export async function queuedTasks(name: string): Promise<Map<number, string> | null> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("squeue", {
      args: ["-h", "-r", `--name=${name}`, "-o", "%K|%T"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    return null;
  }
  if (!out.success) return null;
  const m = new Map<number, string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [task, state] = line.trim().split("|");
    if (/^\d+$/.test(task ?? "") && state) m.set(Number(task), state);
  }
  return m;
}
