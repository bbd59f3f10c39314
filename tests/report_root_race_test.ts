/**
 * ROOT renamed away, or replaced by another folder, between the checks
 * the CLI makes of it and the walk: ROOT is opened once, when the walk
 * starts, and its row and its listing come from that descriptor. A ROOT
 * gone by then fails the run (one line, status 1, nothing written: not a
 * report of ROOT's row alone with status 0); a ROOT replaced is walked as
 * the folder now there, its row that folder's.
 *
 * An LD_PRELOAD shim does the rename at the very moment: just before the
 * second open of ROOT as a folder by its path (O_DIRECTORY: the first is the
 * CLI's check that ROOT can be listed, pw_dir_probe, the second the
 * engine's; Deno's own checks of ROOT open it without that flag).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { parsePwalk } from "./helpers/csv.ts";
import { beforeOpenat, shimTest } from "./helpers/shim.ts";

const ROOT_RACE_C = beforeOpenat(
  "race",
  `static int done, opens;
/* RACE_ROOT renamed to RACE_ROOT.old; with RACE_NEW set, a new folder
   made in its place holding the file "g" (2 bytes). */
static void race(const char *name, int flags) {
  const char *r = getenv("RACE_ROOT");
  if (done || !r || !(flags & O_DIRECTORY) || strcmp(name, r)) return;
  if (++opens < 2) return;
  done = 1;
  char old[4096];
  snprintf(old, sizeof old, "%s.old", r);
  if (rename(r, old)) abort();
  if (!getenv("RACE_NEW")) return;
  char g[4096];
  snprintf(g, sizeof g, "%s/g", r);
  if (mkdir(r, 0755)) abort();
  int fd = open(g, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, "y\\n", 2) != 2) abort();
  close(fd);
}`,
);

shimTest("ROOT renamed away or replaced as the walk starts", ROOT_RACE_C, async (shim, t) => {
  const root = `${shim.dir}/root`;
  const make = async () => {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(`${root}.old`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${root}/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/f`, "x\n");
  };

  await t.step("renamed away: one line, status 1, no -o file", async () => {
    await make();
    const out = `${shim.dir}/gone.csv`;
    const r = await shim.cli(["-o", out, root], { RACE_ROOT: root });
    // the shim did rename it: ROOT's old folder is beside it
    assert((await Deno.stat(`${root}.old/a`)).isDirectory, "the shim did not run");
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, `pwalk: ${root}: No such file or directory\n`);
    await Deno.stat(out).then(
      () => assert(false, "an output file was written"),
      (e) => assert(e instanceof Deno.errors.NotFound, String(e)),
    );
  });

  await t.step("replaced: the folder now at ROOT is walked, its row its own", async () => {
    await make();
    const r = await shim.cli([root], { RACE_ROOT: root, RACE_NEW: "1" });
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, / 0 errors /);
    const rows = parsePwalk(r.stdout).rows;
    const now = await Deno.lstat(root);
    const g = await Deno.lstat(`${root}/g`);
    const byPath = new Map(rows.map((x) => [x.key, x]));
    assertEquals([...byPath.keys()].sort(), [root, `${root}/g`]);
    const top = byPath.get(root)!;
    assertEquals(top.ino, now.ino, "ROOT's row is the new folder's");
    assertEquals([top.fcount, top.dirsum], [1, g.size]);
    assertEquals(byPath.get(`${root}/g`)!.parentIno, now.ino);
  });
});
