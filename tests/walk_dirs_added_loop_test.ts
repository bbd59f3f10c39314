/**
 * walkDirs, followSymlinks: a folder the caller adds to `dirs` is walked
 * (as a walkDirs of its own) by the walk's rules, the cycle rule too: a
 * link to a folder of its own walked path, above the added folder as well
 * as below it, is not entered (a `loop` error), as it is in the rest of
 * the walk. Checked against Deno.stat: no folder yielded is a folder of
 * the path above it, and a folder walked twice gives the same folders.
 */
import { assertEquals } from "@std/assert";
import { walkDirs, type WalkDirsOptions } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";

/** Folders yielded (below `root`, "." for it) and the errors, with `added` run in the loop body. */
async function walked(
  root: string,
  o: WalkDirsOptions,
  added: (path: string, dirs: string[]) => void | Promise<void>,
): Promise<{ folders: string[]; errors: string[] }> {
  const folders: string[] = [];
  const it = walkDirs(root, o);
  for await (const d of it) {
    folders.push(d.path.slice(root.length + 1) || ".");
    await added(d.path, d.dirs);
  }
  const errors = it.errors.map((e) => `${e.op} ${e.code} ${e.path.slice(root.length + 1)}`);
  return { folders: folders.sort(), errors: errors.sort() };
}

/** Paths (below `root`) that lead to a folder of their own path, by Deno.stat: cycles entered. */
async function cyclesEntered(root: string, folders: string[]): Promise<string[]> {
  const key = async (p: string) => {
    const st = await Deno.stat(p);
    return `${st.dev}:${st.ino}`;
  };
  const out: string[] = [];
  for (const f of folders) {
    if (f === ".") continue;
    const names = f.split("/");
    const own = await key(`${root}/${f}`);
    for (let i = 0; i < names.length; i++) {
      const above = i === 0 ? root : `${root}/${names.slice(0, i).join("/")}`;
      if (await key(above) === own) out.push(f);
    }
  }
  return out;
}

Deno.test("walkDirs, followSymlinks: a name added twice walks its folder twice alike, a link back to ROOT in it not entered", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.mkdir(`${root}/a`);
  await Deno.symlink("..", `${root}/a/up`);
  const r = await walked(root, { followSymlinks: true }, (path, dirs) => {
    // os.walk walks a name as often as dirs holds it
    if (path === root) dirs.push("a");
  });
  assertEquals(await cyclesEntered(root, r.folders), []);
  // a walked twice, the same each time: a/up, back to ROOT, not entered
  assertEquals(r.folders, [".", "a", "a"]);
  assertEquals(r.errors, ["loop ELOOP a/up", "loop ELOOP a/up"]);
});

Deno.test("walkDirs, followSymlinks: an added name that is a link back to a folder above it is a loop, not walked", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  const r = await walked(root, { followSymlinks: true }, async (path, dirs) => {
    if (path === `${root}/a/b`) {
      await Deno.symlink("../..", `${path}/top`); // ROOT
      await Deno.symlink("..", `${path}/up`); // a
      dirs.push("top", "up");
    }
  });
  assertEquals(await cyclesEntered(root, r.folders), []);
  assertEquals(r.folders, [".", "a", "a/b"]);
  assertEquals(r.errors, ["loop ELOOP a/b/top", "loop ELOOP a/b/up"]);
});

Deno.test("walkDirs, followSymlinks: a folder added deeper than a link back above it, and pruned there, is no error", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  await Deno.mkdir(`${root}/a/c`, { recursive: true });
  await Deno.symlink("../..", `${root}/a/c/top`); // ROOT, from a/c
  const r = await walked(root, { followSymlinks: true }, async (path, dirs) => {
    if (path === root) {
      // a/c walked again, from a new name; in its walk, top is pruned
      await Deno.symlink("a/c", `${root}/again`);
      dirs.push("again");
    }
    const i = dirs.indexOf("top");
    if (path === `${root}/again` && i >= 0) dirs.splice(i, 1);
  });
  assertEquals(await cyclesEntered(root, r.folders), []);
  assertEquals(r.folders, [".", "a", "a/c", "again"]);
  // (top pruned under again: no error there; under a/c it is a loop)
  assertEquals(r.errors, ["loop ELOOP a/c/top"]);
});
