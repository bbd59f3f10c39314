/**
 * A single-node Slurm cluster on this machine for a test (slurm_up.sh):
 * munged, slurmctld and slurmd started in a temporary folder with free
 * ports, and every daemon stopped (by the pids in its pid files) when the
 * cluster is disposed. Needs root and Debian's slurm-wlm and munge.
 *
 * @example
 * ```ts ignore
 * await using slurm = await startSlurm();
 * await runOk("sbatch", ["--wrap", "true"], { env: slurm.env });
 * ```
 *
 * @module
 */
import { REPO, run } from "./run.ts";
import { procStat, requireTool } from "./system.ts";
import { removeTree } from "./temp.ts";
import { waitFor } from "./wait.ts";

/** What the Slurm tests need: the daemons, the client commands, munge. */
export const SLURM_NEEDS = [
  requireTool("sbatch", "slurm-wlm"),
  requireTool("squeue", "slurm-wlm"),
  requireTool("scancel", "slurm-wlm"),
  requireTool("/usr/sbin/slurmctld", "slurm-wlm"),
  requireTool("/usr/sbin/slurmd", "slurm-wlm"),
  requireTool("/usr/sbin/munged", "munge"),
];

/** A running test cluster. */
export interface SlurmCluster extends AsyncDisposable {
  /** Its state folder (slurm.conf, logs, pid files). */
  dir: string;
  /** The environment its clients need (SLURM_CONF). */
  env: Record<string, string>;
  /** The daemons' logs, for a failure message. */
  logs(): string;
}

/** A TCP port nobody listens on now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether a process is alive (not gone, not a zombie). */
function alive(pid: number): boolean {
  try {
    return procStat(`/proc/${pid}/stat`)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Stop the daemons of a state folder: TERM each pid of its pid files, KILL what stays. */
async function stopAll(dir: string): Promise<void> {
  const pids: number[] = [];
  for (const f of ["slurmd.pid", "slurmctld.pid", "munged.pid"]) {
    try {
      const pid = Number(Deno.readTextFileSync(`${dir}/${f}`).trim());
      if (pid > 1) pids.push(pid);
    } catch { /* not started */ }
  }
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGTERM");
    } catch { /* gone */ }
    try {
      await waitFor(() => !alive(pid), { what: `pid ${pid} to stop`, timeoutMs: 10_000 });
    } catch {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
}

/** Start a cluster in a new temporary folder; dispose it to stop everything. */
export async function startSlurm(): Promise<SlurmCluster> {
  const dir = await Deno.makeTempDir({ prefix: "pwalk-slurm-" });
  const env = { SLURM_CONF: `${dir}/slurm.conf` };
  const logs = () => {
    const out: string[] = [];
    for (const f of ["slurmctld.log", "slurmd.log", "munged.log"]) {
      try {
        out.push(
          `== ${f}\n` + Deno.readTextFileSync(`${dir}/log/${f}`).split("\n").slice(-15).join("\n"),
        );
      } catch { /* none */ }
    }
    return out.join("\n");
  };
  const dispose = async () => {
    await stopAll(dir);
    removeTree(dir);
  };
  try {
    const up = await run("bash", [
      `${REPO}/tests/helpers/slurm_up.sh`,
      dir,
      String(freePort()),
      String(freePort()),
    ]);
    if (up.code !== 0) throw new Error(`slurm_up.sh failed: ${up.stderr}${up.text}\n${logs()}`);
    await waitFor(async () => {
      const r = await run("sinfo", ["-h", "-o", "%T"], { env });
      return r.code === 0 && /^idle/m.test(r.text);
    }, { what: "the Slurm node to be idle", timeoutMs: 30_000, everyMs: 200, detail: logs });
  } catch (e) {
    await dispose();
    throw e;
  }
  return { dir, env, logs, [Symbol.asyncDispose]: dispose };
}
