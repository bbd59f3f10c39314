/**
 * The default thread count is governed (native/govern.c): one reader per
 * CPU, more while the readers leave the CPUs idle (blocked in the file
 * system). CPUs taken by other processes, or stolen by a hypervisor, are
 * not idle CPUs: readers waiting for a CPU must not look blocked. Before
 * the governor counted the machine's other work, a report beside busy
 * loops (or on a VM with a few % of steal) ran 32 or all 64 workers; and
 * while it took the readers' small share of a saturated machine (a few
 * tenths of a CPU) for readers blocked, a report beside 16 busy loops on 2
 * CPUs ran 11 to 45 threads. Readers blocked in a slow file system
 * (bench/slowfs.c: every metadata request waits, as on NFS) must still be
 * added, on an idle machine or a saturated one (the readers' run-queue
 * waits tell them from readers waiting for a CPU).
 *
 * Each report runs in a child CLI process; its threads (those named like
 * its main thread, which inherit its name, and the library's own:
 * pwalk-worker, pwalk-governor) are counted in /proc the whole time: the
 * main thread, the governor, the output's writer and the readers.
 */
import { assertGreater, assertLess } from "@std/assert";
import { spawnCli } from "./helpers/run.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import {
  allowedCpus,
  CC,
  FUSERMOUNT,
  heldLevel,
  PKG_CONFIG,
  testNeeding,
  watchThreads,
} from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { emptyFilesTree } from "./helpers/tree.ts";

/** n processes each running a busy shell loop (nice 0), killed on dispose. */
function busyLoops(n: number): AsyncDisposable {
  const loops = Array.from(
    { length: n },
    () =>
      new Deno.Command("sh", {
        args: ["-c", "while :; do :; done"],
        stdout: "null",
        stderr: "null",
      }).spawn(),
  );
  return {
    async [Symbol.asyncDispose]() {
      for (const l of loops) {
        l.kill("SIGKILL");
        await l.status;
      }
    },
  };
}

Deno.test({
  name:
    "default threads beside busy processes: the governor adds no readers for CPUs it cannot have",
  // The bound below is for a few CPUs: with more, the floor (one reader
  // per CPU) and its moves come near it.
  ignore: Deno.build.os !== "linux" || allowedCpus() > 4,
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/wide`;
    await emptyFilesTree(root, 20, 1000);
    const ncpu = allowedCpus();
    // Eight busy loops per CPU leave each reader a few tenths of a CPU;
    // other load on the machine only saturates it more.
    await using _loops = busyLoops(8 * ncpu);
    const p = spawnCli(["-o", `${tmp.path}/out.csv.zst`, root]);
    const { most, seen } = await watchThreads(p);
    // one reader per CPU and three more threads, now and then a fourth
    // for a moment (5 or 6 seen with 2 CPUs, in 30 runs; more for a moment
    // on a loaded machine, so the level held for 30 ms, three of the
    // governor's looks, is bounded): the
    // machine is saturated from the governor's first reading on, and
    // readers that do not block are never doubled; before, up to 3
    // doublings (up to 19 threads with 2 CPUs; 11 or more in 14 of 15
    // runs, kept to the end) as a reader's small share of the saturated
    // machine read as a reader blocked
    const held = heldLevel(seen, 30);
    assertLess(
      held,
      2 * ncpu + 3,
      `threads named like the main one: ${held} for 30 ms, at most ${most}, CPUs ${ncpu}`,
    );
  },
});

for (const loops of [0, 8]) {
  testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
    name: `default threads on a slow file system${
      loops ? ", beside busy processes" : ""
    }: the governor adds readers blocked in it`,
    ignore: Deno.build.os !== "linux" || allowedCpus() > 4,
    async fn() {
      await using tmp = await tempDir();
      const src = `${tmp.path}/src`;
      await emptyFilesTree(src, 40, 50);
      const ncpu = allowedCpus();
      // 2 ms per request: a reader is blocked nearly all the time
      await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "2000" });
      await using _loops = busyLoops(loops * ncpu);
      const p = spawnCli(["-o", `${tmp.path}/out.csv.zst`, fs.path]);
      const { most } = await watchThreads(p);
      // at least two doublings of the readers (one per CPU at first)
      assertGreater(
        most,
        4 * ncpu + 2,
        `threads named like the main one at most ${most}, CPUs ${ncpu}`,
      );
    },
  });
}
