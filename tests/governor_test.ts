/**
 * The default thread count is governed (native/govern.c): one reader per
 * CPU, more while the readers leave the CPUs idle (blocked in the file
 * system). CPUs taken by other processes, or stolen by a hypervisor, are
 * not idle CPUs: readers waiting for a CPU must not look blocked. Before
 * the governor counted the machine's other work, a report beside busy
 * loops (or on a VM with a few % of steal) ran 32 or all 64 workers.
 *
 * The report (60,000 files) runs in a child CLI process while two busy
 * loops per CPU run; its worker threads (named like its main thread, as
 * they inherit the name) are counted in /proc the whole time.
 */
import { assertLess } from "@std/assert";
import { spawnCli } from "./helpers/run.ts";
import { allowedCpus, watchThreads } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { emptyFilesTree } from "./helpers/tree.ts";

Deno.test({
  name:
    "default threads beside busy processes: the governor adds no readers for CPUs it cannot have",
  // The bound below is for a few CPUs: with more, the floor (one reader
  // per CPU) and its moves come near it.
  ignore: Deno.build.os !== "linux" || allowedCpus() > 4,
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/wide`;
    await emptyFilesTree(root, 60, 1000);
    const ncpu = allowedCpus();
    const loops = Array.from(
      { length: 2 * ncpu },
      () =>
        new Deno.Command("sh", {
          args: ["-c", "while :; do :; done"],
          stdout: "null",
          stderr: "null",
        })
          .spawn(),
    );
    try {
      const p = spawnCli(["-o", `${tmp.path}/out.csv.zst`, root]);
      const { most } = await watchThreads(p);
      // the main thread, the governor and the readers: a few more than the
      // CPUs as the CPU shares move (5-10 seen with 2 CPUs), not the 32 or
      // 64 workers the governor ran before it counted the others' CPU time
      // (35 threads seen with 2 CPUs, in each of 3 runs)
      assertLess(
        most,
        4 * ncpu + 8,
        `threads named like the main one at most ${most}, CPUs ${ncpu}`,
      );
    } finally {
      for (const l of loops) {
        l.kill("SIGKILL");
        await l.status;
      }
    }
  },
});
