/**
 * The mode repair, chown and undo read back after their chmod: a difference
 * that is exactly the setgid bit the kernel drops (a caller without
 * CAP_FSETID outside the file's group) is "Operation not permitted"; any
 * other is someone's chmod between pwalk's and the read-back (the owner's),
 * or a file system that does not keep modes: repair says "race" with both
 * modes and both causes, undo keeps that mode (a "mode" kept), never
 * "Operation not permitted".
 *
 * The race is made deterministic by an LD_PRELOAD shim: just after each
 * successful chmod of the library (fchmodat, fchmod), it chmods the same
 * inode again to $SHIM_MODE (octal), as the file's owner would.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { type Shim, shimTest } from "./helpers/shim.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";
import { groupShown } from "./helpers/names.ts";
import { deno, REPO } from "./helpers/run.ts";

/** After each successful chmod, chmod the same inode again to $SHIM_MODE. */
const MODE_AFTER = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
typedef int (*fchmodat_fn)(int, const char *, mode_t, int);
typedef int (*fchmod_fn)(int, mode_t);
static mode_t want(void) {
  const char *m = getenv("SHIM_MODE");
  return m ? (mode_t)strtol(m, NULL, 8) : (mode_t)-1;
}
int fchmodat(int fd, const char *p, mode_t mode, int fl) {
  static fchmodat_fn real;
  if (!real) real = (fchmodat_fn)dlsym(RTLD_NEXT, "fchmodat");
  int r = real(fd, p, mode, fl);
  if (r == 0 && want() != (mode_t)-1) real(fd, p, want(), fl);
  return r;
}
int fchmod(int fd, mode_t mode) {
  static fchmod_fn real;
  if (!real) real = (fchmod_fn)dlsym(RTLD_NEXT, "fchmod");
  int r = real(fd, mode);
  if (r == 0 && want() != (mode_t)-1) real(fd, want());
  return r;
}
`;

shimTest(
  "a mode changed by someone else between pwalk's chmod and its read-back: a race with both modes, not 'Operation not permitted'; undo keeps that mode (audit)",
  MODE_AFTER,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    const j = `${shim.dir}/j`;
    const r = await shim.cli(
      ["repair", "--apply", "--journal", j, "--errors", `${shim.dir}/e.csv`, root],
      { SHIM_MODE: "604" },
    );
    const st = Deno.lstatSync(`${root}/f`);
    // the premise: the repair changed the group, and the shim's mode won
    assertEquals([st.gid, st.mode! & 0o7777], [G.PROJECT, 0o604], r.stderr);
    assert(!r.stderr.includes("Operation not permitted"), r.stderr);
    // both causes named: the read-back cannot tell someone's chmod from a
    // file system that does not keep modes
    const said =
      "its mode read back is 0604, not the 0640 set (changed by someone else meanwhile, or the file system does not keep modes); left as it is now";
    assertStringIncludes(r.stderr, `pwalk: race '${root}/f': ${said}`);
    const csv = Deno.readTextFileSync(`${shim.dir}/e.csv`);
    assertStringIncludes(csv, `"${root}/f",race,,"${said}"`);

    // undo: its chmod back to 0600 is followed by the shim's 0604 again
    Deno.chmodSync(`${root}/f`, 0o640); // the mode the run set, so undo puts 0600 back
    const u = await shim.cli(["undo", "--apply", j], { SHIM_MODE: "644" });
    assert(!u.stderr.includes("Operation not permitted"), u.stderr);
    assertEquals(u.code, 0, u.stderr);
    assertStringIncludes(
      u.text,
      `${root}/f: group ${groupShown(G.PROJECT)} -> ${groupShown(1001)} (mode changed since: kept)`,
    );
    assertStringIncludes(u.stderr, "1 with fields kept, 0 errors");
    const back = Deno.lstatSync(`${root}/f`);
    assertEquals([back.uid, back.gid, back.mode! & 0o7777], [1001, 1001, 0o644]);
  },
);

shimTest(
  "the setgid bit the kernel drops on a chmod by a caller outside the group is still 'Operation not permitted' (audit)",
  MODE_AFTER,
  async (shim) => {
    // the shim plays the kernel: the mode set less setgid
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "d", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
    ]);
    const r = await shim.cli(
      ["repair", "--apply", "--journal", `${shim.dir}/j`, root],
      { SHIM_MODE: "750" },
    );
    const st = Deno.lstatSync(`${root}/d`);
    assertEquals([st.gid, st.mode! & 0o7777], [G.PROJECT, 0o750], r.stderr);
    assertStringIncludes(r.stderr, `pwalk: chmod '${root}/d': Operation not permitted`);
    assert(!r.stderr.includes("race"), r.stderr);
  },
);

/**
 * Another run's undo (or the owner's chgrp) giving the entry another group
 * while repair changes its mode: at the write of the run's first journal
 * entry line (after the plan, before the change: $SHIM_AT "journal"), just
 * before the library's chown ("prechown": after its look at the owner and
 * group), just after it ("chown"), or just before the library's chmod
 * ($SHIM_AT "chmod"), the shim gives
 * $SHIM_PATH the group $SHIM_GID (and the owner $SHIM_UID, when given)
 * and, when $SHIM_SET is given, the mode $SHIM_SET (octal), once.
 */
const GROUP_MEANWHILE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*fchmodat_fn)(int, const char *, mode_t, int);
typedef int (*fchmod_fn)(int, mode_t);
static int done;
static void meanwhile(const char *at) {
  const char *w = getenv("SHIM_AT"), *p = getenv("SHIM_PATH"), *g = getenv("SHIM_GID");
  if (done || !w || !p || !g || strcmp(w, at)) return;
  done = 1;
  const char *u = getenv("SHIM_UID");
  if (lchown(p, u ? (uid_t)strtol(u, NULL, 10) : (uid_t)-1, (gid_t)strtol(g, NULL, 10))) abort();
  const char *m = getenv("SHIM_SET");
  if (m && chmod(p, (mode_t)strtol(m, NULL, 8))) abort();
}
ssize_t write(int fd, const void *b, size_t n) {
  static write_fn real;
  if (!real) real = (write_fn)dlsym(RTLD_NEXT, "write");
  ssize_t r = real(fd, b, n);
  /* a journal entry line: "DEV INO TYPE ..." */
  if (r > 0 && n > 2 && ((const char *)b)[0] >= '0' && ((const char *)b)[0] <= '9' &&
      memchr(b, '\\n', n) == (const char *)b + n - 1 && memchr(b, ' ', n))
    meanwhile("journal");
  return r;
}
int fchmodat(int fd, const char *p, mode_t mode, int fl) {
  static fchmodat_fn real;
  if (!real) real = (fchmodat_fn)dlsym(RTLD_NEXT, "fchmodat");
  meanwhile("chmod");
  return real(fd, p, mode, fl);
}
int fchmod(int fd, mode_t mode) {
  static fchmod_fn real;
  if (!real) real = (fchmod_fn)dlsym(RTLD_NEXT, "fchmod");
  meanwhile("chmod");
  return real(fd, mode);
}
typedef int (*fchownat_fn)(int, const char *, uid_t, gid_t, int);
int fchownat(int fd, const char *p, uid_t u, gid_t g, int fl) {
  static fchownat_fn real;
  if (!real) real = (fchownat_fn)dlsym(RTLD_NEXT, "fchownat");
  meanwhile("prechown");
  int r = real(fd, p, u, g, fl);
  if (r == 0) meanwhile("chown");
  return r;
}
`;

shimTest(
  "a group given by someone else while repair changes the mode (another run's undo, a chgrp): the mode is not given to that group, a race; marked not made (audit: runs at once)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    const BROAD = G.LISTED; // a group every user is in (users), given to --change-gids
    // f as an earlier `repair --change-gids BROAD` left it: the project's, 0640;
    // this run (--force-group-writable) makes it 0660
    for (
      const [at, set, left] of [
        // an undo of the earlier run, between this run's plan and its change:
        // group and mode back (BROAD, 0600): left so
        ["journal", "600", 0o600],
        // the owner's chgrp to BROAD just before the chmod: the bit it adds
        // (group write) taken off again after it, the mode as the owner left it
        ["chmod", undefined, 0o640],
      ] as const
    ) {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* first */ }
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        { rel: "f", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o640 },
      ]);
      const j = `${shim.dir}/j-${at}`;
      const r = await shim.cli(
        ["repair", "--apply", "--force-group-writable", "--journal", j, root],
        { SHIM_AT: at, SHIM_PATH: f, SHIM_GID: String(BROAD), ...(set ? { SHIM_SET: set } : {}) },
      );
      assertEquals(r.code, 0, r.stderr);
      const st = Deno.lstatSync(f);
      // BROAD's members get no access this run meant for the project's
      assertEquals([st.uid, st.gid, st.mode! & 0o7777], [1001, BROAD, left], `${at}: ${r.stderr}`);
      assertStringIncludes(
        r.stderr,
        `pwalk: race '${f}': its owner and group are 1001:${BROAD} now, not the 1001:${G.PROJECT} ` +
          "its change was planned for (changed by someone else meanwhile: another run, an undo, " +
          "a chgrp; or the file system does not keep owners); its mode left " +
          `${left.toString(8).padStart(4, "0")}, not made 0660`,
      );
      assertStringIncludes(r.stderr, "0 changed");
      const lines = Deno.readTextFileSync(j).trimEnd().split("\n").slice(1);
      // the change planned, and (before the change: nothing of it made) its
      // refusal mark, NEW as OLD
      const fields = (l: string) => l.split(" ").slice(3, 9).join(" ");
      assertEquals(
        lines.map(fields),
        at === "journal"
          ? [
            `1001 ${G.PROJECT} 0640 1001 ${G.PROJECT} 0660`,
            `1001 ${G.PROJECT} 0640 1001 ${G.PROJECT} 0640`,
          ]
          : [`1001 ${G.PROJECT} 0640 1001 ${G.PROJECT} 0660`],
      );
      // undo leaves it as it is
      const u = await shim.cli(["undo", "--apply", j]);
      assertEquals(u.code, 0, u.stderr);
      const after = Deno.lstatSync(f);
      assertEquals([after.gid, after.mode! & 0o7777], [BROAD, left], u.text);
    }
  },
);

shimTest(
  "an owner or group given by someone else between repair's (or chown's) plan and its chown (another run's undo, the owner's chgrp): left standing, nothing of the change made, a race; marked not made (audit: runs at once)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    // f, private (1001:1001 0600) in the project's folder: repair plans
    // 1001:PROJECT 0640, chown 1043:PROJECT (mode kept); at the write of its
    // journal line (after the plan, before the change), the owner's chgrp to
    // OTHER, or an undo of an earlier run putting 1002:OTHER 0640 back
    for (
      const [cmd, made, uid, set] of [
        [["repair"], `1001:${G.PROJECT} 0640`, undefined, undefined],
        [
          ["chown", "--chown_from", "1001", "--chown_to", `1043:${G.PROJECT}`],
          `1043:${G.PROJECT} 0600`,
          undefined,
          undefined,
        ],
        [["repair"], `1001:${G.PROJECT} 0640`, 1002, "640"],
      ] as const
    ) {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* first */ }
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
      ]);
      const j = `${shim.dir}/j-${cmd[0]}-${uid}`;
      const r = await shim.cli([...cmd, "--apply", "--journal", j, root], {
        SHIM_AT: "journal",
        SHIM_PATH: f,
        SHIM_GID: String(G.OTHER),
        ...(uid ? { SHIM_UID: String(uid) } : {}),
        ...(set ? { SHIM_SET: set } : {}),
      });
      assertEquals(r.code, 0, r.stderr);
      // the other change stands, and nothing of this run's is made
      const want = [uid ?? 1001, G.OTHER, set ? parseInt(set, 8) : 0o600];
      const st = Deno.lstatSync(f);
      assertEquals([st.uid, st.gid, st.mode! & 0o7777], want, `${cmd[0]}: ${r.stderr}`);
      assertStringIncludes(
        r.stderr,
        `pwalk: race '${f}': its owner and group are ${
          want[0]
        }:${G.OTHER} now, not the 1001:1001 ` +
          "its change was planned from (changed by someone else meanwhile: another run, an undo, " +
          `a chgrp); left as it is, not made ${made}`,
      );
      assertStringIncludes(r.stderr, "0 changed");
      // the change planned, and its refusal mark (nothing of it made), NEW as OLD
      const lines = Deno.readTextFileSync(j).trimEnd().split("\n").slice(1);
      const fields = (l: string) => l.split(" ").slice(3, 9).join(" ");
      assertEquals(lines.map(fields), [
        `1001 1001 0600 ${made.replace(":", " ")}`,
        "1001 1001 0600 1001 1001 0600",
      ]);
      // undo leaves the other change standing
      const u = await shim.cli(["undo", "--apply", j]);
      assertEquals(u.code, 0, u.stderr);
      const after = Deno.lstatSync(f);
      assertEquals([after.uid, after.gid, after.mode! & 0o7777], want, u.text);
    }
  },
);

shimTest(
  "a setgid bit the other party's chgrp took off between repair's look and its chmod (group execute: the kernel's rule) is not set again by the chmod for that group (audit: setgid left in the race path)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    // f, the project's, setgid with group execute (2710): this run plans
    // g+r (2750); just before its chmod, a chgrp (root's, an undo's) to OTHER
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "f", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o2710 },
    ]);
    // what that chgrp alone leaves: the same chown of a file of that mode
    const ref = `${shim.dir}/ref`;
    Deno.writeFileSync(ref, new Uint8Array());
    Deno.chmodSync(ref, 0o2710);
    Deno.chownSync(ref, 1001, G.PROJECT);
    Deno.chownSync(ref, null, G.OTHER);
    const left = Deno.lstatSync(ref).mode! & 0o7777;
    assertEquals(left & 0o2000, 0, "the premise: the chgrp takes setgid off");
    const r = await shim.cli(
      ["repair", "--apply", "--journal", `${shim.dir}/j`, root],
      { SHIM_AT: "chmod", SHIM_PATH: f, SHIM_GID: String(G.OTHER) },
    );
    assertEquals(r.code, 0, r.stderr);
    const st = Deno.lstatSync(f);
    // no setgid of OTHER's on it: the mode as the chgrp left it
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], [1001, G.OTHER, left], r.stderr);
    assertStringIncludes(
      r.stderr,
      `pwalk: race '${f}': its owner and group are 1001:${G.OTHER} now, not the 1001:${G.PROJECT} ` +
        "its change was planned for (changed by someone else meanwhile: another run, an undo, " +
        "a chgrp; or the file system does not keep owners); its mode left " +
        `${left.toString(8).padStart(4, "0")}, not made 2750`,
    );
  },
);

/**
 * Root's setuid helper `f` (0:0 `mode`) in a project folder `root` (2770),
 * repaired with journal `j`: it is then 0:PROJECT `repaired` (the chown to
 * the project's group took setuid off).
 */
async function repairedHelper(
  shim: Shim,
  root: string,
  j: string,
  mode: number,
  repaired: number,
): Promise<void> {
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "f", type: "file", uid: 0, gid: 0, mode },
  ]);
  const r = await shim.cli(["repair", "--apply", "--journal", j, root]);
  assertEquals(r.code, 0, r.stderr);
  const st = Deno.lstatSync(`${root}/f`);
  assertEquals([st.uid, st.gid, st.mode! & 0o7777], [0, G.PROJECT, repaired], r.stderr);
}

shimTest(
  "undo putting setuid back just as someone else gives the file another group or owner: the bit taken off again, the mode kept, said so (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    for (
      const [uid, gid] of [
        [0, G.OTHER], // a chgrp just before undo's chmod
        [1001, 0], // a chown to another owner (which clears setuid) just before it
      ] as const
    ) {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* first */ }
      // root's setuid helper, of root's group 0: repair gives it the
      // project's group, which takes setuid off; undo puts 0:0 4755 back
      const j = `${shim.dir}/j-${uid}`;
      await repairedHelper(shim, root, j, 0o4755, 0o755);
      // undo: its owner and group back (0:0), then, just before its chmod
      // to 4755, someone else's chgrp or chown
      const u = await shim.cli(["undo", "--apply", j], {
        SHIM_AT: "chmod",
        SHIM_PATH: f,
        SHIM_UID: String(uid),
        SHIM_GID: String(gid),
      });
      assertEquals(u.code, 0, u.stderr);
      const back = Deno.lstatSync(f);
      // no setuid on a file of another owner or group than the journal's 0:0
      assertEquals(
        [back.uid, back.gid, back.mode! & 0o7777],
        [uid, gid, 0o755],
        `${uid}:${gid}: ${u.text}${u.stderr}`,
      );
      assertStringIncludes(
        u.text,
        `${f}: group ${groupShown(G.PROJECT)} -> ${groupShown(0)} ` +
          "(mode kept: setuid/setgid never go back on an entry someone else owns now)",
      );
    }
  },
);

shimTest(
  "undo taking a group bit off a setgid program just as someone else gives it another group (which takes setgid off): the chmod does not set setgid again for that group, and the line says the mode it is (audit: setgid left in the race path)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    // root's setgid program of the project's, 2710: repair gives it g+r
    // (2750); undo's chmod back to 2710 only takes a bit off
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "f", type: "file", uid: 0, gid: G.PROJECT, mode: 0o2710 },
    ]);
    const j = `${shim.dir}/j`;
    const r = await shim.cli(["repair", "--apply", "--journal", j, root]);
    assertEquals(r.code, 0, r.stderr);
    const st = Deno.lstatSync(f);
    assertEquals([st.gid, st.mode! & 0o7777], [G.PROJECT, 0o2750], r.stderr);
    // just before undo's chmod, root's chgrp to OTHER, which takes setgid off
    const u = await shim.cli(["undo", "--apply", j], {
      SHIM_AT: "chmod",
      SHIM_PATH: f,
      SHIM_GID: String(G.OTHER),
    });
    assertEquals(u.code, 0, u.stderr);
    const back = Deno.lstatSync(f);
    const mode = back.mode! & 0o7777;
    // no setgid program of OTHER's (it was left 2710)
    assertEquals([back.uid, back.gid, mode & 0o6000], [0, G.OTHER, 0], u.text);
    const line = u.text.split("\n").find((l) => l.startsWith(`${f}: `)) ?? "";
    assertStringIncludes(line, `mode 2750 -> ${mode.toString(8).padStart(4, "0")}`, u.text);
  },
);

shimTest(
  "undo putting setuid back and a group bit off just as someone else gives the file another group: setuid taken off again, the group bit stays off, and the line says the mode it is (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    // root's setuid helper 0:0 4700: repair gives it the project's group and
    // g+r, which takes setuid off (0740); undo puts 0:0 4700 back, its chmod
    // both adding setuid and taking g+r off
    const j = `${shim.dir}/j`;
    await repairedHelper(shim, root, j, 0o4700, 0o740);
    const u = await shim.cli(["undo", "--apply", j], {
      SHIM_AT: "chmod",
      SHIM_PATH: f,
      SHIM_GID: String(G.OTHER),
    });
    assertEquals(u.code, 0, u.stderr);
    const back = Deno.lstatSync(f);
    const mode = back.mode! & 0o7777;
    // no setuid for G.OTHER; and the line tells the mode Deno.lstat sees
    // (it said "mode kept" with the mode left 0740, while g+r was gone)
    assertEquals([back.gid, mode & 0o6000], [G.OTHER, 0], u.text);
    const line = u.text.split("\n").find((l) => l.startsWith(`${f}: `)) ?? "";
    const shown = mode === 0o740
      ? !/mode 0740 ->/.test(line) && line.includes("mode kept")
      : line.includes(`mode 0740 -> ${mode.toString(8).padStart(4, "0")}`) &&
        !line.includes("mode kept");
    assert(shown, `lstat ${mode.toString(8)}: ${line}`);
  },
);

shimTest(
  "undo's record of an entry whose owner or group someone changes at its chmod: `left` is what the entry holds then (Deno.lstat), never the setuid mode refused (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    // undo() in a child with the shim preloaded: each record's `left` and
    // `kept` as JSON lines
    const script = `${shim.dir}/undo_left.ts`;
    await Deno.writeTextFile(
      script,
      `import { undo } from ${JSON.stringify(`${REPO}/mod.ts`)};
await undo(Deno.args[0], { apply: true, onRestore: (r) => console.log(JSON.stringify([r.kept, r.left])) });
`,
    );
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    for (
      const [mode, repaired, uid, gid, at] of [
        [0o4755, 0o755, 0, G.OTHER, "chmod"], // a chgrp just before undo's chmod to 4755
        [0o4755, 0o755, 1001, 0, "chmod"], // a chown to another owner there
        [0o4700, 0o740, 0, G.OTHER, "chmod"], // ... of a chmod that also takes g+r off
        // a chgrp just after undo's chown, before its look at the owner
        [0o4755, 0o755, 0, G.OTHER, "chown"],
        [0o4700, 0o740, 0, G.OTHER, "chown"],
      ] as const
    ) {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* first */ }
      const j = `${shim.dir}/j-${mode.toString(8)}-${uid}-${at}`;
      await repairedHelper(shim, root, j, mode, repaired);
      const u = await deno(["run", "-A", script, j], {
        env: {
          LD_PRELOAD: `${shim.dir}/shim.so`,
          SHIM_AT: at,
          SHIM_PATH: f,
          SHIM_UID: String(uid),
          SHIM_GID: String(gid),
        },
      });
      assertEquals(u.code, 0, u.stderr);
      const st = Deno.lstatSync(f);
      // the premise: the race happened, and setuid is not on the file
      assertEquals([st.uid, st.gid, st.mode! & 0o4000], [uid, gid, 0], u.text);
      const [kept, left] = JSON.parse(u.text.trim().split("\n").at(-1)!);
      assert(kept.includes("setid"), u.text);
      // "what the entry holds after undo": it said 0:0 4755, a setuid root
      // helper, of a file Deno.lstat sees without setuid and of another group
      assertEquals(
        [left.uid, left.gid, left.mode.toString(8)],
        [st.uid, st.gid, (st.mode! & 0o7777).toString(8)],
        `${mode.toString(8)} ${uid}:${gid} at ${at}: ${u.text}`,
      );
    }
  },
);

shimTest(
  "chown --apply: a chmod that only takes setuid off is made though someone gives the file another group at the chown (no race left with setuid on another owner's file) (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    // a kernel or file system that keeps setuid through the chown (the
    // shim puts 4755 back just after it), and another group given there: the
    // chmod to 0755 opens nothing to that group, so it is made (84ee567);
    // left for a race, 1002's file would stay setuid
    const root = `${shim.dir}/c`;
    const f = `${root}/f`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: 100, mode: 0o755 },
      { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o4755 },
    ]);
    const r = await shim.cli(
      [
        "--chown_from",
        "1001",
        "--chown_to",
        `1002:${G.PROJECT}`,
        "--apply",
        "--journal",
        `${shim.dir}/j`,
        root,
      ],
      { SHIM_AT: "chown", SHIM_PATH: f, SHIM_GID: String(G.OTHER), SHIM_SET: "4755" },
    );
    assertEquals(r.code, 0, r.stderr);
    const st = Deno.lstatSync(f);
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], [1002, G.OTHER, 0o755], r.stderr);
    assert(!r.stderr.includes("race"), r.stderr);
  },
);

shimTest(
  "chown --apply: the old owner's chgrp between chown's look at the owner and group and its chown does not stand: the file takes the --chown_to group the journal and the line name (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    // 1001's group-writable file of the project's, given to 1002 with the
    // project's group (--chown_to 1002:PROJECT: the group it has); just
    // before the chown (after the look that refuses a change since the
    // plan), 1001's chgrp to OTHER, a group 1001 is in and 1002 is not: 1002's
    // file must not stay writable by OTHER while the journal, the line and
    // the records say the project's
    const root = `${shim.dir}/c`;
    const f = `${root}/f`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: 100, mode: 0o755 },
      { rel: "f", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o775 },
    ]);
    const j = `${shim.dir}/j`;
    const r = await shim.cli(
      ["--chown_from", "1001", "--chown_to", `1002:${G.PROJECT}`, "--apply", "--journal", j, root],
      { SHIM_AT: "prechown", SHIM_PATH: f, SHIM_GID: String(G.OTHER) },
    );
    assertEquals(r.code, 0, r.stderr);
    const st = Deno.lstatSync(f);
    // what the journal says the run made it
    const line = Deno.readTextFileSync(j).trimEnd().split("\n").slice(1).at(-1)!.split(" ");
    const made = [Number(line[6]), Number(line[7]), parseInt(line[8], 8)];
    assertEquals(made, [1002, G.PROJECT, 0o775], line.join(" "));
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], made, r.stderr);
  },
);

shimTest(
  "undo's record of an entry given another group at its chown or chmod when undo adds no bit: `left` is what the entry holds then (Deno.lstat), not the group undo put back (audit)",
  GROUP_MEANWHILE,
  async (shim) => {
    const script = `${shim.dir}/undo_left.ts`;
    await Deno.writeTextFile(
      script,
      `import { undo } from ${JSON.stringify(`${REPO}/mod.ts`)};
await undo(Deno.args[0], { apply: true, onRestore: (r) => console.log(JSON.stringify(r.left)) });
`,
    );
    const root = `${shim.dir}/proj`;
    const f = `${root}/f`;
    for (
      const [mode, at] of [
        [0o640, "chown"], // group only: undo's chown, no chmod; OTHER given just after it
        [0o600, "chown"], // undo's chmod back to 0600 only takes g+r off
        [0o600, "chmod"], // ... OTHER given just before that chmod
      ] as const
    ) {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* first */ }
      // root's file of group 0, which repair gives the project's group
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        { rel: "f", type: "file", uid: 0, gid: 0, mode },
      ]);
      const j = `${shim.dir}/j-${mode.toString(8)}-${at}`;
      const r = await shim.cli(["repair", "--apply", "--journal", j, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(Deno.lstatSync(f).gid, G.PROJECT, r.stderr);
      const u = await deno(["run", "-A", script, j], {
        env: {
          LD_PRELOAD: `${shim.dir}/shim.so`,
          SHIM_AT: at,
          SHIM_PATH: f,
          SHIM_GID: String(G.OTHER),
        },
      });
      assertEquals(u.code, 0, u.stderr);
      const st = Deno.lstatSync(f);
      // the premise: the chgrp happened, after undo's chown
      assertEquals(st.gid, G.OTHER, u.text);
      const left = JSON.parse(u.text.trim().split("\n").at(-1)!);
      // it said 0:0, root's group, of a file OTHER's members may read
      assertEquals(
        [left.uid, left.gid, left.mode.toString(8)],
        [st.uid, st.gid, (st.mode! & 0o7777).toString(8)],
        `${mode.toString(8)} at ${at}: ${u.text}`,
      );
    }
  },
);
