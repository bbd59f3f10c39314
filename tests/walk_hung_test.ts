/**
 * walk() and walkDirs() on a tree with a file system that stops answering
 * below it (bench/slowfs.c stopped with SIGSTOP, as a hung NFS server):
 * what was read elsewhere still comes out at once, not when the walk ends,
 * and leaving the walk (an abort, a break) settles while the server is
 * still stopped; the job is freed once it answers again.
 *
 * The tree: `fast/` (50 files) and `a/mnt`, the slowfs mount point (over a
 * folder `inner/` of 3 files). Stopped, the server holds the worker that
 * stats `a/mnt` (a FUSE request); nothing else needs it.
 */
import { assert, assertEquals, assertStrictEquals } from "@std/assert";
import { walk, walkDirs } from "../mod.ts";
import { backgroundFrees } from "../lib/job.ts";
import { mountSlowfs, type Slowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { leaveHungWalk, threadsLeft } from "./helpers/walk_tree.ts";

/**
 * How long a step may take before the test lets the server go on and
 * fails: a hang guard (the step settles at once when things work), never
 * a timing check.
 */
const HANG_GUARD_MS = 20_000;

/** The tree above, the mount made; the server answers. */
async function hungTree(tmp: string): Promise<{ root: string; fs: Slowfs }> {
  const served = `${tmp}/served`;
  await Deno.mkdir(`${served}/inner`, { recursive: true });
  for (let i = 1; i <= 3; i++) await Deno.writeTextFile(`${served}/inner/g${i}`, "g");
  const root = `${tmp}/tree`;
  await Deno.mkdir(`${root}/fast`, { recursive: true });
  for (let i = 1; i <= 50; i++) await Deno.writeTextFile(`${root}/fast/f${i}`, "f");
  // a/ holds the mount point alone: its worker stats nothing else first
  await Deno.mkdir(`${root}/a`);
  const fs = await mountSlowfs(tmp, served, { SLOWFS_DELAY_US: "0" }, undefined, `${root}/a/mnt`);
  return { root, fs };
}

/** Every path below root (root too), folders alone with `dirsOnly`: Deno.readDir's view. */
async function reference(root: string, dirsOnly = false): Promise<string[]> {
  const out = [root];
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory) out.push(...await reference(`${root}/${e.name}`, dirsOnly));
    else if (!dirsOnly) out.push(`${root}/${e.name}`);
  }
  return out.sort();
}

/**
 * Wait for `p` while the server stays stopped (at most HANG_GUARD_MS),
 * call `atResume`, then let the server go on: whether `p` settled before
 * that, and how.
 */
async function whileStopped<T>(
  fs: Slowfs,
  p: Promise<T>,
  atResume = () => {},
): Promise<[boolean, PromiseSettledResult<T>]> {
  const settled: Promise<PromiseSettledResult<T>> = p.then(
    (value) => ({ status: "fulfilled", value }),
    (reason) => ({ status: "rejected", reason }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"guard">((r) => timer = setTimeout(() => r("guard"), HANG_GUARD_MS));
  const first = await Promise.race([settled, guard]);
  clearTimeout(timer);
  atResume();
  fs.resume();
  return [first !== "guard", await settled];
}

/** Descriptors of this process open on paths below `dir`. */
function fdsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const fd of Deno.readDirSync("/proc/self/fd")) {
    try {
      const to = Deno.readLinkSync(`/proc/self/fd/${fd.name}`);
      if (to === dir || to.startsWith(`${dir}/`)) out.push(to);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

const NEEDS = [CC, PKG_CONFIG, FUSERMOUNT];

testNeeding(NEEDS, {
  name: "walk, walkDirs: what was read comes out while another folder hangs in the file system",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const { root, fs } = await hungTree(tmp.path);
    await using _ = fs;
    const fast = [
      `${root}/fast`,
      ...Array.from({ length: 50 }, (_, i) => `${root}/fast/f${i + 1}`),
    ];
    const modes = [
      // walk(): the root's row and all of fast/ (a/ waits on the server)
      { name: "walk", it: () => walk(root, { threads: 4 }) },
      // bottom-up: fast/ (the root waits for a/)
      { name: "walkDirs bottom-up", it: () => walkDirs(root, { threads: 4, topDown: false }) },
      // top-down (held folders): the root, then fast/
      { name: "walkDirs top-down", it: () => walkDirs(root, { threads: 4 }) },
    ];
    const reachable: Record<string, string[]> = {
      "walk": [root, ...fast],
      "walkDirs bottom-up": [`${root}/fast`],
      "walkDirs top-down": [root, `${root}/fast`],
    };
    for (const mode of modes) {
      const want = reachable[mode.name];
      await fs.pause();
      const it = mode.it() as AsyncIterableIterator<{ path: string }>;
      const seen: string[] = [];
      const early = (async () => {
        while (!want.every((p) => seen.includes(p))) {
          const r = await it.next();
          if (r.done) break;
          seen.push(r.value.path);
        }
      })();
      let before: string[] = [];
      const [inTime] = await whileStopped(fs, early, () => before = seen.slice());
      assert(
        inTime,
        `${mode.name}: with the server stopped, ${before.length} of the ${want.length} ` +
          `items read elsewhere came: ${JSON.stringify(before)}`,
      );
      // the server answers again: the rest, everything once
      for await (const x of it) seen.push(x.path);
      const all = await reference(root, mode.name !== "walk");
      assertEquals(seen.sort(), all, mode.name);
    }
  },
});

testNeeding(NEEDS, {
  name: "walk, walkDirs: an abort or a break settles while a worker hangs in the file system; " +
    "freed once it answers",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const { root, fs } = await hungTree(tmp.path);
    await using _ = fs;
    for (const api of ["walk", "walkDirs top-down", "walkDirs bottom-up"]) {
      for (const how of ["abort", "break"]) {
        const what = `${api}, ${how}`;
        await fs.pause();
        const { it, left, reason } = await leaveHungWalk(
          api,
          how,
          root,
          {},
          what,
          HANG_GUARD_MS,
          fs,
        );
        const [inTime, settled] = await whileStopped(fs, left);
        assert(inTime, `${what}: did not settle while the server was stopped`);
        if (how === "abort") {
          assertEquals(settled.status, "rejected", what);
          assertStrictEquals((settled as PromiseRejectedResult).reason, reason, what);
        } else {
          assertEquals(settled.status, "fulfilled", what);
        }
        // the server answers again: the worker comes back, the job is freed
        await backgroundFrees();
        assertEquals(await threadsLeft(), [], what);
        assertEquals(fdsBelow(root), [], what);
        assertEquals(await it.next(), { done: true, value: undefined }, what);
      }
    }
  },
});
