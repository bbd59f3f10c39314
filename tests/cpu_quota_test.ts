/**
 * A cgroup CPU quota caps the CPUs the default thread count counts
 * (native/sys.c pw_cpu_count, native/govern.c). A container or batch job
 * limited to 2 CPUs on a 64-CPU node may use 2: before, the library counted
 * its affinity only, and under a quota of 1 CPU on this 2-CPU machine the
 * governor took the waits of a throttled process for readers blocked in
 * the file system and ran all 64 workers (66 threads seen).
 *
 * Two tests: the quota reader (native/driver/cpuquota.c linked with
 * native/sys.c) against fake /proc and cgroup trees of each kind (v2, v1,
 * nested quotas, a container's view), the numbers checked against the
 * files the test wrote; and a real report in a real cgroup with a quota
 * of a tenth of a CPU (root, with a writable cpu controller), its threads
 * counted in /proc the whole time.
 */
import { cgroupMount } from "./helpers/cgroup.ts";
import { assertEquals, assertLess } from "@std/assert";
import { REPO, runOk, spawnCli } from "./helpers/run.ts";
import { allowedCpus, CC, notHere, testNeeding, watchThreads } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { emptyFilesTree } from "./helpers/tree.ts";

/** A fake system: file path (below the prefix) to content. */
type Files = Record<string, string>;

const MOUNT_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate\n";
const MOUNT_V1_CPU =
  "35 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
const MOUNT_V1_OTHER = "36 25 0:31 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset\n";

interface Case {
  name: string;
  files: Files;
  /**
   * CPUs and period (us) of the tightest quota, and every cgroup folder
   * with a quota (own first), or null for none.
   */
  want: [number, number, string[]] | null;
}

const CASES: Case[] = [
  {
    name: "v2, a job's quota of 1.5 CPUs below a folder without one",
    files: {
      "proc/self/cgroup": "0::/user.slice/job1\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/user.slice/cpu.max": "max 100000\n",
      "sys/fs/cgroup/user.slice/job1/cpu.max": "150000 100000\n",
    },
    want: [1.5, 100000, ["sys/fs/cgroup/user.slice/job1"]],
  },
  {
    name: "v2, the folder above is tighter (its period kept)",
    files: {
      "proc/self/cgroup": "0::/slurm/uid_0/job_7\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/slurm/uid_0/job_7/cpu.max": "300000 100000\n",
      "sys/fs/cgroup/slurm/uid_0/cpu.max": "100000 50000\n",
      "sys/fs/cgroup/slurm/cpu.max": "max 100000\n",
    },
    want: [2, 50000, ["sys/fs/cgroup/slurm/uid_0/job_7", "sys/fs/cgroup/slurm/uid_0"]],
  },
  {
    name: "v2, no quota anywhere",
    files: {
      "proc/self/cgroup": "0::/user.slice\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/user.slice/cpu.max": "max 100000\n",
    },
    want: null,
  },
  {
    name: "v2, a quota too large to mean anything (no overflow: the affinity counts)",
    files: {
      "proc/self/cgroup": "0::/big\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/big/cpu.max": "9999999999999 1000\n",
    },
    want: [9999999999.999, 1000, ["sys/fs/cgroup/big"]],
  },
  {
    name: "v2, a container's view: its cgroup is the mount's root",
    files: {
      "proc/self/cgroup": "0::/\n",
      "proc/self/mountinfo": MOUNT_V2.replace(
        " / /sys/fs/cgroup",
        " /kubepods/pod1 /sys/fs/cgroup",
      ),
      "sys/fs/cgroup/cpu.max": "250000 100000\n",
    },
    want: [2.5, 100000, ["sys/fs/cgroup"]],
  },
  {
    name: "v2, no cgroup namespace: the path names the mount's root first",
    files: {
      "proc/self/cgroup": "0::/docker/abc/worker\n",
      "proc/self/mountinfo": MOUNT_V2.replace(" / /sys/fs/cgroup", " /docker/abc /sys/fs/cgroup"),
      "sys/fs/cgroup/worker/cpu.max": "400000 100000\n",
      "sys/fs/cgroup/cpu.max": "800000 100000\n",
    },
    want: [4, 100000, ["sys/fs/cgroup/worker", "sys/fs/cgroup"]],
  },
  {
    name: "v2, escapes in mountinfo: a root with a backslash, a mount point with a space",
    files: {
      "proc/self/cgroup": "0::/machine.slice/machine-my\\x2dct.scope/payload\n",
      "proc/self/mountinfo": MOUNT_V2.replace(
        " / /sys/fs/cgroup",
        " /machine.slice/machine-my\\134x2dct.scope /sys/fs/cg\\040v2",
      ),
      "sys/fs/cg v2/payload/cpu.max": "50000 100000\n",
    },
    want: [0.5, 100000, ["sys/fs/cg v2/payload"]],
  },
  {
    name: "v2, two mounts: the one whose root holds the cgroup, not the first",
    files: {
      "proc/self/cgroup": "0::/jobs/j1\n",
      "proc/self/mountinfo": MOUNT_V2.replace(" / /sys/fs/cgroup", " /other /mnt/other-cg") +
        MOUNT_V2,
      "sys/fs/cgroup/jobs/j1/cpu.max": "200000 100000\n",
    },
    want: [2, 100000, ["sys/fs/cgroup/jobs/j1"]],
  },
  {
    name: "v1, cpu with cpuacct, beside other controllers",
    files: {
      "proc/self/cgroup": "5:cpuset:/\n4:cpu,cpuacct:/slurm/job2\n3:memory:/slurm/job2\n0::/\n",
      "proc/self/mountinfo": MOUNT_V1_OTHER + MOUNT_V1_CPU + MOUNT_V2,
      "sys/fs/cgroup/cpu,cpuacct/slurm/job2/cpu.cfs_quota_us": "50000\n",
      "sys/fs/cgroup/cpu,cpuacct/slurm/job2/cpu.cfs_period_us": "100000\n",
      "sys/fs/cgroup/cpu,cpuacct/slurm/cpu.cfs_quota_us": "-1\n",
      "sys/fs/cgroup/cpu,cpuacct/slurm/cpu.cfs_period_us": "100000\n",
    },
    want: [0.5, 100000, ["sys/fs/cgroup/cpu,cpuacct/slurm/job2"]],
  },
  {
    name: "v1, no quota (-1)",
    files: {
      "proc/self/cgroup": "4:cpu,cpuacct:/user.slice\n",
      "proc/self/mountinfo": MOUNT_V1_CPU,
      "sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_quota_us": "-1\n",
      "sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_period_us": "100000\n",
    },
    want: null,
  },
];

testNeeding([CC], {
  name: "cgroup CPU quotas are read as the kernel writes them: v2, v1, nested, containers",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const fake = `${tmp.path}/fake`;
    const probe = `${tmp.path}/cpuquota`;
    // the reader and its sanitizers: any report fails the run
    await runOk("cc", [
      "-std=gnu11",
      "-O1",
      "-g",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-fsanitize=address,undefined,float-cast-overflow",
      "-fno-sanitize-recover=all",
      `-DPW_PROC_PREFIX="${fake}"`,
      "-o",
      probe,
      `${REPO}/native/driver/cpuquota.c`,
      `${REPO}/native/sys.c`,
      "-ldl",
      "-lm",
    ]);
    const affinity = allowedCpus();
    for (const c of CASES) {
      await Deno.remove(fake, { recursive: true }).catch(() => {});
      for (const [path, text] of Object.entries(c.files)) {
        const full = `${fake}/${path}`;
        await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(full, text);
      }
      const out = (await runOk(probe, [])).text.trim().split(" ");
      const [quota, periodNs, count, aff] = out.slice(0, 4).map(Number);
      const dirs = out.slice(4).join(" ");
      assertEquals(aff, affinity, c.name);
      if (!c.want) {
        assertEquals([quota, count, dirs], [0, affinity, "-"], c.name);
        continue;
      }
      const [cpus, periodUs, folders] = c.want;
      assertEquals(quota, cpus, c.name);
      assertEquals(periodNs, periodUs * 1000, c.name);
      assertEquals(dirs, folders.map((f) => `${fake}/${f}`).join("|"), c.name);
      assertEquals(count, Math.min(affinity, Math.ceil(cpus)), c.name);
    }
  },
});

/** A writable cgroup with the cpu controller to make a child in, or null. */
function cpuCgroupParent(): { dir: string; v2: boolean } | null {
  const m = cgroupMount("cpu");
  return typeof m === "string" ? null : m;
}

Deno.test({
  name: "a report under a cgroup quota of a tenth of a CPU runs one reader, not every worker",
  // root makes cgroups; the bound below is for a few CPUs
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0 || allowedCpus() > 4,
  async fn(t) {
    const parent = cpuCgroupParent();
    if (!parent) return notHere("no writable cgroup with the cpu controller");
    const cg = `${parent.dir}/pwalk-test-${Deno.pid}`;
    try {
      await Deno.mkdir(cg);
      if (parent.v2) {
        const sub = await Deno.readTextFile(`${parent.dir}/cgroup.subtree_control`);
        if (!sub.split(/\s+/).includes("cpu")) {
          await Deno.writeTextFile(`${parent.dir}/cgroup.subtree_control`, "+cpu");
        }
        await Deno.writeTextFile(`${cg}/cpu.max`, "10000 100000");
      } else {
        await Deno.writeTextFile(`${cg}/cpu.cfs_period_us`, "100000");
        await Deno.writeTextFile(`${cg}/cpu.cfs_quota_us`, "10000");
      }
    } catch (e) {
      await Deno.remove(cg).catch(() => {});
      return notHere(`cannot make a cgroup with a CPU quota (${e})`);
    }
    await using tmp = await tempDir();
    try {
      const root = `${tmp.path}/wide`;
      // a tmpfs when root may mount one: ext4 on these VMs takes ~0.5 ms per file made
      await Deno.mkdir(root);
      if (canMountTmpfs()) assertEquals(await mountTmpfs(root, "size=64m"), "");
      const entries = 1 + await emptyFilesTree(root, 60, 1000);
      // the process moves itself into the cgroup, then becomes the CLI
      const p = spawnCli(["-o", `${tmp.path}/out.csv`, root], {
        prefix: ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg],
      });
      const { most } = await watchThreads(p);
      const rows = (await Deno.readTextFile(`${tmp.path}/out.csv`)).split("\n").length - 1;
      assertEquals(rows, entries);
      await t.step("threads: the main one, the governor, one reader (and a few moves)", () => {
        // 4 seen alone, 9 or 10 while other runs loaded the machine (a
        // worker waiting for a CPU looks like one blocked in the file
        // system); the library before counted 2 CPUs, took the waits of its
        // throttled workers for blocked readers, and ran 19 threads (66 first)
        assertLess(most, 13, `threads named like the main one at most ${most}`);
      });
    } finally {
      // the child is gone: its cgroup is empty
      await Deno.remove(cg).catch(() => {});
    }
  },
});
