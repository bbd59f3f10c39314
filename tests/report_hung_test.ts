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
import { inFuse } from "./helpers/walk_tree.ts";

/**
 * How long the abort may take to settle before the test lets the server go
 * on and fails: a hang guard (it settles within a second when things
 * work), never a timing check.
 */
const HANG_GUARD_MS = 30_000;

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
      await fs.pause();
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

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "report: the late end of a report left after an abort does not remove the temporary " +
    "of a later report to the same file (it takes the same name)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    // every request waits 50 ms: the later report is still walking when the
    // left one's worker comes back
    const served = `${tmp.path}/served`;
    for (let d = 0; d < 20; d++) {
      await Deno.mkdir(`${served}/d${d}`, { recursive: true });
      await Deno.writeTextFile(`${served}/d${d}/f`, "f");
    }
    // the mount below a local root: a report's start (which examines the
    // root on this thread) never waits on the stopped server
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    const fs = await mountSlowfs(
      tmp.path,
      served,
      { SLOWFS_DELAY_US: "50000" },
      undefined,
      `${root}/m`,
    );
    await using _ = fs;
    const out = `${tmp.path}/rep.csv`;
    await fs.pause();
    const ac = new AbortController();
    const left = report(root, { output: out, threads: 2, signal: ac.signal });
    await waitFor(() => inFuse().length > 0, {
      what: "a worker to wait on the stopped server",
      timeoutMs: HANG_GUARD_MS,
    });
    ac.abort();
    await left.catch(() => {});
    assertEquals(names(tmp.path).filter((n) => n.startsWith("rep.csv")), []);
    // the same file again, while the first one's worker still waits: the
    // library gives its temporary the same name
    const later = report(root, { output: out, threads: 2 });
    await waitFor(() => names(tmp.path).some((n) => n.startsWith("rep.csv.partial-")), {
      what: "the later report's temporary",
      timeoutMs: HANG_GUARD_MS,
    });
    fs.resume();
    const s = await later;
    await backgroundFrees();
    // every entry, by Deno.readDir: the root, the mount point, 20 folders, 20 files
    let want = 2;
    for (const e of Deno.readDirSync(served)) {
      want += 1 + [...Deno.readDirSync(`${served}/${e.name}`)].length;
    }
    assertEquals(s.entries, want);
    assertEquals((await Deno.readTextFile(out)).split("\n").length - 1, want);
    assertEquals(names(tmp.path).filter((n) => n.startsWith("rep.csv")), ["rep.csv"]);
  },
});
