/**
 * A refusal mark (the journal line after a change, NEW as OLD) says the
 * system refused the change whole, so that undo never puts it back. Only
 * errors that say so may write one (a permission, a read-only mount, a
 * quota...): a chown that fails with EIO (an NFS soft mount timing out on a
 * SETATTR its server did apply; a FUSE server) may have been made, and its
 * line, left unmarked, is judged by undo by the values the entry holds, as
 * every unmarked line is (README: "Repair and chown").
 *
 * Made deterministic by an LD_PRELOAD shim: with $SHIM_EIO set, fchown and
 * fchownat make the change, then return EIO.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { shimTest } from "./helpers/shim.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";

/** With $SHIM_EIO set, fchown and fchownat change the entry, then say EIO. */
const EIO_AFTER = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
typedef int (*fchownat_fn)(int, const char *, uid_t, gid_t, int);
typedef int (*fchown_fn)(int, uid_t, gid_t);
int fchownat(int fd, const char *p, uid_t u, gid_t g, int fl) {
  static fchownat_fn real;
  if (!real) real = (fchownat_fn)dlsym(RTLD_NEXT, "fchownat");
  int r = real(fd, p, u, g, fl);
  if (r == 0 && getenv("SHIM_EIO")) return errno = EIO, -1;
  return r;
}
int fchown(int fd, uid_t u, gid_t g) {
  static fchown_fn real;
  if (!real) real = (fchown_fn)dlsym(RTLD_NEXT, "fchown");
  int r = real(fd, u, g);
  if (r == 0 && getenv("SHIM_EIO")) return errno = EIO, -1;
  return r;
}
`;

shimTest(
  "a chown that fails with EIO after it was made is not marked as refused: undo puts it back",
  EIO_AFTER,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    const j = `${shim.dir}/j`;
    const r = await shim.cli(["repair", "--apply", "--journal", j, root], { SHIM_EIO: "1" });
    assertStringIncludes(r.stderr, `pwalk: chown '${root}/f': Input/output error\n`);
    // the premise: the change was made
    assertEquals(Deno.lstatSync(`${root}/f`).gid, G.PROJECT, r.stderr);
    // its line, and no mark after it (no line whose NEW is its OLD)
    const lines = Deno.readTextFileSync(j).split("\n").filter((l) => /^\d/.test(l));
    assertEquals(lines.length, 1, lines.join("\n"));
    const f = lines[0].split(" ");
    assert(f.slice(3, 6).join(" ") !== f.slice(6, 9).join(" "), lines[0]);
    const u = await shim.cli(["undo", "--apply", j]);
    assertEquals(u.code, 0, u.stderr);
    assertStringIncludes(u.stderr, "1 journal entry, 1 restored, ");
    const st = Deno.lstatSync(`${root}/f`);
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], [1001, 1001, 0o600]);
  },
);
