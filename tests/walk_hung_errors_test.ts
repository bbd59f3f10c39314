/**
 * walk() and walkDirs() given `errorsCsvFd`, left (an abort, a break)
 * while a worker hangs in a file system (bench/slowfs.c stopped with
 * SIGSTOP, as a hung NFS server): they wait for that worker, as report()
 * does, since it may still write its error row to the caller's
 * descriptor. The caller here closes her errors file as soon as the walk
 * settles and opens another file (which takes the number): the late row
 * must be in the errors file, and nothing in the other one.
 *
 * The tree: `fast/` (50 files) and `a/mnt`, the slowfs mount point (over a
 * folder `inner/` of 3 files). Stopped, the server holds the worker that
 * stats `a/mnt`; killed, that stat fails, and the worker writes its row.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { backgroundFrees, FREE_WAIT_MS } from "../lib/job.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { closeFd, closeLibc, openFile } from "./helpers/libc.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { leaveHungWalk } from "./helpers/walk_tree.ts";

/** A hang guard for the steps that must happen (never a timing check). */
const HANG_GUARD_MS = 20_000;

const OTHER_TEXT = "another file of the caller's\n";

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "walk, walkDirs with errorsCsvFd: left while a worker hangs, they wait for it; its late " +
    "row goes to the errors file, not to a file opened later under the same number (audit)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const cases = [
      ["walk", "abort"],
      ["walk", "break"],
      ["walkDirs top-down", "abort"],
      ["walkDirs bottom-up", "break"],
    ];
    try {
      for (const [n, [api, how]] of cases.entries()) {
        const what = `${api}, ${how}`;
        // a tree and a mount of its own: the server is killed at the end
        const work = `${tmp.path}/${n}`;
        const served = `${work}/served`;
        await Deno.mkdir(`${served}/inner`, { recursive: true });
        for (let i = 1; i <= 3; i++) await Deno.writeTextFile(`${served}/inner/g${i}`, "g");
        const root = `${work}/tree`;
        await Deno.mkdir(`${root}/fast`, { recursive: true });
        for (let i = 1; i <= 50; i++) await Deno.writeTextFile(`${root}/fast/f${i}`, "f");
        await Deno.mkdir(`${root}/a`);
        // (outside the tree: neither file is a row of the walk)
        const errorsFile = `${work}/errors.csv`;
        const otherFile = `${work}/other.txt`;
        await Deno.writeTextFile(errorsFile, "");
        await Deno.writeTextFile(otherFile, "");
        const fs = await mountSlowfs(
          work,
          served,
          { SLOWFS_DELAY_US: "0" },
          undefined,
          `${root}/a/mnt`,
        );
        await using _ = fs;
        const fd = openFile(errorsFile, true);
        let otherFd = -1;
        await fs.pause();
        const { left, reason } = await leaveHungWalk(
          api,
          how,
          root,
          { errorsCsvFd: fd },
          what,
          HANG_GUARD_MS,
          fs,
        );
        // The caller, once the walk settled: done with her errors file, she
        // closes it and opens another file, which takes the lowest free
        // number (hers, as nothing else opens one meanwhile), and writes to it.
        let settledEarly = false;
        const settled = left.then(
          (value) => ({ status: "fulfilled", value }) as const,
          (reason: unknown) => ({ status: "rejected", reason }) as const,
        ).finally(() => {
          closeFd(fd);
          otherFd = openFile(otherFile, true);
          Deno.writeTextFileSync(otherFile, OTHER_TEXT);
        });
        // Time for a walk that gives up on its workers (after FREE_WAIT_MS)
        // to settle while the server is stopped; one that waits for them
        // settles only once it answers, however long that takes.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const given = new Promise<"waiting">((r) =>
          timer = setTimeout(() => r("waiting"), 3 * FREE_WAIT_MS)
        );
        settledEarly = await Promise.race([settled, given]) !== "waiting";
        clearTimeout(timer);
        // the server dies: the worker's stat fails, and it writes its row
        await fs.killServer();
        const result = await settled;
        await backgroundFrees();
        closeFd(otherFd);
        assert(!settledEarly, `${what}: settled while a worker could still write to the errors fd`);
        if (how === "abort") {
          assertEquals(result.status, "rejected", what);
          assertStrictEquals((result as { reason: unknown }).reason, reason, what);
        } else {
          assertEquals(result.status, "fulfilled", what);
        }
        assertEquals(await Deno.readTextFile(otherFile), OTHER_TEXT, `${what}: the other file`);
        // the errors file: the row of the mount point, whose stat or open failed
        // (Deno.lstat fails there too now)
        let failed = false;
        await Deno.lstat(`${root}/a/mnt`).catch(() => failed = true);
        assert(failed, `${what}: the dead mount point is stat'ed fine`);
        const rows = (await Deno.readTextFile(errorsFile)).split("\n").filter((l) => l);
        assertEquals(rows.length, 1, `${what}: ${JSON.stringify(rows)}`);
        // (its stat, its open when the kernel answered the stat from what it
        // held of the mount's root, or the check of the folder opened, a
        // race with ESTALE, once the server is gone: each waits on it)
        assert(
          ["stat", "open", "race"].some((op) => rows[0].startsWith(`"${root}/a/mnt",${op},E`)),
          `${what}: ${rows[0]}`,
        );
      }
    } finally {
      closeLibc();
    }
  },
});
