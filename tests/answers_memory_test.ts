/**
 * DuckDB's default memory limit counts the process's cgroup memory limit
 * (lib/answers/duck.ts defaultMemoryLimit): a quarter of the machine's RAM
 * in a Slurm job or container capped below it got DuckDB OOM-killed
 * instead of spilling.
 *
 * Two tests: the reader (cgroupMemoryLimit) against fake /proc and cgroup
 * trees of each kind (v2, v1, nested, a container's view), the numbers
 * checked against the files the test wrote; and a real DuckDB session
 * opened by the library in a real cgroup with a memory limit (root, with a
 * writable memory controller), its `memory_limit` setting read back from
 * DuckDB and compared with the limit the test wrote and /proc/meminfo.
 */
import { cgroupMount } from "./helpers/cgroup.ts";
import { assertEquals, assertNotEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { cgroupMemoryLimit } from "../lib/answers/duck.ts";
import { deno, REPO } from "./helpers/run.ts";

/** README's permissions for summary, diff and convert (not --allow-all). */
const SIX = [
  "--no-prompt",
  "--allow-ffi",
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "--allow-sys",
  "--allow-run",
];
import { tempDir } from "./helpers/temp.ts";

/** A fake system: file path (below the prefix) to content. */
type Files = Record<string, string>;

const MOUNT_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate\n";
const MOUNT_V1_MEMORY =
  "35 25 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
const MOUNT_V1_CPU = "32 25 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
/** v1's "no limit" (2^63 - 1 rounded down to a 4 KiB page). */
const V1_NONE = "9223372036854771712\n";
const GIB = 2 ** 30;

const CASES: { name: string; files: Files; want: number | undefined }[] = [
  {
    name: "v2, a job's limit below a slice without one",
    files: {
      "proc/self/cgroup": "0::/system.slice/slurmstepd.scope/job_1/step_0\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/memory.max": "max\n", // (the root has none: no file there)
      "sys/fs/cgroup/system.slice/memory.max": "max\n",
      "sys/fs/cgroup/system.slice/slurmstepd.scope/job_1/memory.max": `${4 * GIB}\n`,
      "sys/fs/cgroup/system.slice/slurmstepd.scope/job_1/step_0/memory.max": "max\n",
    },
    want: 4 * GIB,
  },
  {
    name: "v2, the folder above is tighter",
    files: {
      "proc/self/cgroup": "0::/slurm/uid_0/job_7\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/slurm/uid_0/job_7/memory.max": `${8 * GIB}\n`,
      "sys/fs/cgroup/slurm/uid_0/memory.max": `${2 * GIB}\n`,
      "sys/fs/cgroup/slurm/memory.max": "max\n",
    },
    want: 2 * GIB,
  },
  {
    name: "v2, no limit anywhere",
    files: {
      "proc/self/cgroup": "0::/user.slice\n",
      "proc/self/mountinfo": MOUNT_V2,
      "sys/fs/cgroup/user.slice/memory.max": "max\n",
    },
    want: undefined,
  },
  {
    name: "v2, a container's view: its cgroup is the mount's root",
    files: {
      "proc/self/cgroup": "0::/\n",
      "proc/self/mountinfo": MOUNT_V2.replace(
        " / /sys/fs/cgroup",
        " /kubepods/pod1 /sys/fs/cgroup",
      ),
      "sys/fs/cgroup/memory.max": "1073741824\n",
    },
    want: GIB,
  },
  {
    name: "v2, no cgroup namespace: the path names the mount's root first",
    files: {
      "proc/self/cgroup": "0::/docker/abc/worker\n",
      "proc/self/mountinfo": MOUNT_V2.replace(" / /sys/fs/cgroup", " /docker/abc /sys/fs/cgroup"),
      "sys/fs/cgroup/worker/memory.max": `${3 * GIB}\n`,
      "sys/fs/cgroup/memory.max": `${5 * GIB}\n`,
    },
    want: 3 * GIB,
  },
  {
    name: "v2, a mount point with a space (mountinfo's \\040)",
    files: {
      "proc/self/cgroup": "0::/j\n",
      "proc/self/mountinfo": MOUNT_V2.replace(" /sys/fs/cgroup ", " /cg\\040two "),
      "cg two/j/memory.max": "123456789\n",
    },
    want: 123456789,
  },
  {
    name: "v1 (hybrid: the v2 mount has no memory controller), a job's limit",
    files: {
      "proc/self/cgroup": "5:cpu:/\n4:memory:/slurm/job2\n0::/\n",
      "proc/self/mountinfo": MOUNT_V1_CPU + MOUNT_V1_MEMORY +
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
      "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NONE,
      "sys/fs/cgroup/memory/slurm/memory.limit_in_bytes": V1_NONE,
      "sys/fs/cgroup/memory/slurm/job2/memory.limit_in_bytes": "536870912\n",
      "sys/fs/cgroup/cpu/memory.limit_in_bytes": "1\n", // (not the memory hierarchy's)
    },
    want: 512 * 2 ** 20,
  },
  {
    name: "v1, no limit (2^63 - 1 rounded to a page)",
    files: {
      "proc/self/cgroup": "4:memory:/user.slice\n",
      "proc/self/mountinfo": MOUNT_V1_MEMORY,
      "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NONE,
      "sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes": V1_NONE,
    },
    want: undefined,
  },
  {
    name: "no cgroup file system mounted",
    files: {
      "proc/self/cgroup": "0::/user.slice\n",
      "proc/self/mountinfo": "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n",
    },
    want: undefined,
  },
];

Deno.test({
  name: "cgroup memory limits are read as the kernel writes them: v2, v1, nested, containers",
  async fn(t) {
    await using tmp = await tempDir();
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const fake = `${tmp.path}/${CASES.indexOf(c)}`;
        for (const [path, text] of Object.entries(c.files)) {
          const full = `${fake}/${path}`;
          await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
          await Deno.writeTextFile(full, text);
        }
        assertEquals(cgroupMemoryLimit(fake), c.want);
      });
    }
  },
});

/** A writable cgroup hierarchy with the memory controller to make a child in, or why not. */
function memoryCgroupParent(): { dir: string; v2: boolean } | string {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not root";
  return cgroupMount("memory");
}

/** The memory limit DuckDB shows (current_setting) for a limit given as `value`. */
async function duckShows(value: string): Promise<string> {
  const db = await DuckDBInstance.create(":memory:", { memory_limit: value });
  const con = await db.connect();
  try {
    const r = await con.runAndReadAll("SELECT current_setting('memory_limit') AS m");
    return String(r.getRowObjectsJS()[0].m);
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

const parent = memoryCgroupParent();
if (typeof parent === "string") {
  console.log(`ignored: the test in a real memory cgroup (${parent})`);
}

/** DuckDB's default limit for `total` bytes: a quarter, at least 256 MiB but at most half, at most 8 GiB. */
const defaultMib = (total: number) =>
  Math.min(
    8192,
    Math.max(Math.floor(total / 4 / 2 ** 20), Math.min(256, Math.floor(total / 2 / 2 ** 20))),
  );

for (
  const [limit, what] of [
    [2 * GIB, "a quarter of it"],
    [300 * 2 ** 20, "half of it, not the 256 MiB floor (the kernel would kill it first)"],
  ] as const
) {
  Deno.test({
    name: `in a cgroup limited to ${
      limit / 2 ** 20
    } MiB, a session's default memory_limit is ${what}`,
    ignore: typeof parent === "string",
    async fn() {
      if (typeof parent === "string") return;
      // a job's cgroup with the limit, and a step below it without one: the
      // limit is found up the tree
      const job = `${parent.dir}/pwalk-test-${Deno.pid}`;
      const step = `${job}/step`;
      const removeCgroups = async () => {
        await Deno.remove(step).catch(() => {});
        await Deno.remove(job).catch(() => {});
        if (enabled) {
          await Deno.writeTextFile(`${parent.dir}/cgroup.subtree_control`, "-memory").catch(
            () => {},
          );
        }
      };
      let enabled = false; // the memory controller for the root's children, by this test
      try {
        await Deno.mkdir(job);
        if (parent.v2) {
          const sub = await Deno.readTextFile(`${parent.dir}/cgroup.subtree_control`);
          if (!sub.split(/\s+/).includes("memory")) {
            await Deno.writeTextFile(`${parent.dir}/cgroup.subtree_control`, "+memory");
            enabled = true;
          }
          await Deno.writeTextFile(`${job}/memory.max`, String(limit));
          await Deno.writeTextFile(`${job}/cgroup.subtree_control`, "+memory");
        } else {
          await Deno.writeTextFile(`${job}/memory.limit_in_bytes`, String(limit));
        }
        await Deno.mkdir(step);
      } catch (e) {
        await removeCgroups();
        throw new Error(`cannot make a cgroup with a memory limit in ${parent.dir}: ${e}`);
      }
      try {
        // the process moves itself into the cgroup, then becomes Deno: a
        // session opened by the library, its memory_limit as DuckDB has it
        const script = `import { Engine } from ${JSON.stringify(`${REPO}/lib/answers/duck.ts`)};` +
          "const e = await Engine.open();" +
          "const [r] = await e.all(\"SELECT current_setting('memory_limit') AS m\");" +
          "await e.close(); console.log(r.m);";
        await using tmp = await tempDir();
        await Deno.writeTextFile(`${tmp.path}/limit.ts`, script);
        // the reference: MemTotal from the kernel, the limit as written
        const memTotal = Number(
          /^MemTotal:\s+(\d+) kB$/m.exec(await Deno.readTextFile("/proc/meminfo"))![1],
        ) * 1024;
        const mib = defaultMib(Math.min(memTotal, limit));
        const machine = defaultMib(memTotal);
        assertNotEquals(mib, machine, "this machine's RAM gives the same default: nothing shown");
        // -A, and README's permissions for summary (Deno refuses /proc and
        // /sys without --allow-all: read through the C library)
        for (const perms of [["-A"], SIX]) {
          const r = await deno(["run", ...perms, `${tmp.path}/limit.ts`], {
            prefix: ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', step],
          });
          assertEquals(r.stderr, "", perms.join(" "));
          assertEquals(r.text.trim(), await duckShows(`${mib}MiB`), perms.join(" "));
        }
      } finally {
        // the child is gone: its cgroups are empty
        await removeCgroups();
      }
    },
  });
}
