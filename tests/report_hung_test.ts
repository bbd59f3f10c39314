/**
 * report() with a signal on a tree where a file system stops answering
 * (bench/slowfs.c stopped with SIGSTOP, as a hung NFS server): the abort
 * settles while the server is still stopped, with the signal's reason and
 * no file left beside the output; the job is freed once the server answers.
 *
 * The tree: `fast/` (20 files) and `a/mnt`, the slowfs mount point (over a
 * folder `inner/` of 3 files). Stopped, the server holds the worker that
 * stats `a/mnt`.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { report } from "../mod.ts";
import { backgroundFrees } from "../lib/job.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

/**
 * How long the abort may take to settle before the test lets the server go
 * on and fails: a hang guard (it settles within a second when things
 * work), never a timing check.
 */
const HANG_GUARD_MS = 30_000;

/** Threads of this process waiting for an answer of a FUSE server. */
function inFuse(): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      const wchan = Deno.readTextFileSync(`/proc/self/task/${t.name}/wchan`).trim();
      if (wchan === "request_wait_answer") out.push(Number(t.name));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The names in a folder, sorted (Deno.readDir's view). */
function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "report: an abort settles while a worker hangs in the file system, its temporary " +
    "output removed; freed once it answers",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const served = `${tmp.path}/served`;
    await Deno.mkdir(`${served}/inner`, { recursive: true });
    for (let i = 1; i <= 3; i++) await Deno.writeTextFile(`${served}/inner/g${i}`, "g");
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(`${root}/fast`, { recursive: true });
    for (let i = 1; i <= 20; i++) await Deno.writeTextFile(`${root}/fast/f${i}`, "f");
    await Deno.mkdir(`${root}/a`);
    const fs = await mountSlowfs(
      tmp.path,
      served,
      { SLOWFS_DELAY_US: "0" },
      undefined,
      `${root}/a/mnt`,
    );
    await using _ = fs;
    const outDir = `${tmp.path}/out`;
    await Deno.mkdir(outDir);
    for (const output of ["rep.csv", "rep.csv.zst"]) {
      fs.pause();
      const ac = new AbortController();
      const reason = new Error("enough");
      const settled = report(root, { output: `${outDir}/${output}`, threads: 4, signal: ac.signal })
        .then(
          (value) => ({ status: "fulfilled", value }) as const,
          (reason: unknown) => ({ status: "rejected", reason }) as const,
        );
      await waitFor(() => inFuse().length > 0, {
        what: `${output}: a worker to wait on the stopped server`,
        timeoutMs: HANG_GUARD_MS,
      });
      // the temporary output is there while the report runs
      assertEquals(names(outDir).length, 1, output);
      ac.abort(reason);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const guard = new Promise<"guard">((r) =>
        timer = setTimeout(() => r("guard"), HANG_GUARD_MS)
      );
      const first = await Promise.race([settled, guard]);
      clearTimeout(timer);
      // what the rejection left, seen while the server is still stopped
      const left = names(outDir);
      const stillInFuse = inFuse().length;
      fs.resume();
      assert(first !== "guard", `${output}: the abort did not settle while the server was stopped`);
      const result = await settled;
      assertEquals(result.status, "rejected", output);
      assertStrictEquals((result as { reason: unknown }).reason, reason, output);
      assertEquals(left, [], `${output}: left beside the output while the server was stopped`);
      assert(stillInFuse > 0, `${output}: the worker no longer waited on the server`);
      // the server answers again: the workers come back, the job is freed
      await backgroundFrees();
      assertEquals(inFuse(), [], output);
      assertEquals(names(outDir), [], output);
    }
  },
});
