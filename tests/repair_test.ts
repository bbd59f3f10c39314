/**
 * repair(), chown(), undo() and their CLI (issue 4; rules in
 * docs/repair.md, restated in tests/helpers/repair_tree.ts). The
 * tests run as root and use arbitrary uid/gid numbers.
 *
 * - apply: on generated trees (private groups, group 0, --change-gids
 *   groups, other shared groups, folders without setgid, entries without
 *   group bits, setuid/setgid files, links, FIFOs) every entry ends exactly
 *   as the rules computed independently from a Deno.lstat snapshot say;
 *   with --force-group-writable too; and with no shared group above, the
 *   notice comes once per tree;
 * - dry run: the snapshot is unchanged, and the changes listed (API list and
 *   CLI lines) are exactly those that --apply then makes;
 * - undo: restores the snapshot exactly (names with newlines, backslashes,
 *   bytes that are not UTF-8), leaves replaced entries and fields changed
 *   since alone, skips dry-run journals;
 * - races: a deterministic one (an LD_PRELOAD shim replaces entries, and
 *   swaps folders for links to the outside, at the very moment repair opens
 *   them) and a real one (another process swaps a folder for a link to a
 *   folder outside the tree in a loop while repair --apply runs, 40 times):
 *   nothing outside changes; the same harness catches a naive by-path repair;
 * - chown: only entries of UID change, links themselves and never their
 *   targets, the root included, undo puts it back;
 * - exclusions, --NoSnap, -x (a tmpfs mounted in the tree), an entry that
 *   vanishes, a run without privileges (changes refused: reported, the run
 *   goes on), and refusing `/`.
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { chown, readJournal, repair, undo } from "../mod.ts";
import { closeLibc, lstatRaw, mkfifo } from "./helpers/libc.ts";
import { CLI, cli, cliInMountNamespace, run, UNPRIVILEGED } from "./helpers/run.ts";
import { afterFstatat, beforeOpenat, type Shim, shimTest } from "./helpers/shim.ts";
import { PYTHON3, SETPRIV, STRACE, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";
import { groupShown } from "./helpers/names.ts";
import { ctimesPast, waitFor } from "./helpers/wait.ts";
import {
  ACL,
  type AclEntry,
  at,
  buildTree,
  changeKey,
  changesBetween,
  diffSnapshots,
  type EntrySpec,
  expectRepair,
  G,
  generateTree,
  setAccessAcls,
  setOwnerMode,
  type Snapshot,
  snapshot,
  undoneSnapshot,
} from "./helpers/repair_tree.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

/** Whether anything is at `path` (lstat). */
function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The rel path of a change record's path below root. */
function relOf(root: string, path: string): string {
  return path === root ? "." : path.slice(root.length + 1);
}

/** stdout lines of a CLI run, sorted. */
function lines(b: Uint8Array): string[] {
  return dec.decode(b).split("\n").filter((l) => l !== "").sort();
}

/** A summary's error details, as far as notices go. */
type Notices = { errorDetails: { op: string; path: string }[] };

/** The paths of a run's notices (or errors) of one operation: "acl", "capability", "links"... */
function noticesOf(s: Notices, op: string): string[] {
  return s.errorDetails.filter((e) => e.op === op).map((e) => e.path);
}

/** A folder of the project group, setgid, as repair leaves it: one it does not change. */
function shared(rel: string): EntrySpec {
  return { rel, type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 };
}

/** A private entry of user 1001 (group 1001, no group bits): one that repair changes. */
function own(rel: string, type: "file" | "dir" = "file"): EntrySpec {
  return { rel, type, uid: 1001, gid: 1001, mode: type === "dir" ? 0o700 : 0o600 };
}

/** Count what the tree holds, so the generated tree is known to cover every rule. */
function coverage(s: Snapshot): Record<string, number> {
  const c: Record<string, number> = {};
  const add = (k: string) => c[k] = (c[k] ?? 0) + 1;
  for (const [rel, e] of s) {
    if (rel === ".") continue;
    if (e.type === "symlink") add("link");
    else if (e.gid === e.uid) add("private");
    else if (e.gid === 0) add("group0");
    else if (e.gid === G.LISTED) add("listed");
    else add("shared");
    if (e.type === "dir" && !(e.mode & 0o2000)) add("dir-no-setgid");
    if (e.type === "dir" && (e.mode & 0o050) !== 0o050) add("dir-no-group-rx");
    if (e.type !== "dir" && e.type !== "symlink" && !(e.mode & 0o040)) add("no-group-r");
    if (e.type === "other") add("fifo");
    if (e.type === "file" && e.mode & 0o6000 && (e.gid === e.uid || e.gid === 0)) {
      add("setid-private");
    }
  }
  return c;
}

Deno.test("repair --apply: every entry ends exactly as the spec says", async (t) => {
  await using tmp = await tempDir("pwalk-repair-");

  await t.step("generated tree with --change-gids", async () => {
    const root = `${tmp.path}/a`;
    buildTree(root, generateTree(1, 80));
    const before = snapshot(root);
    const cov = coverage(before);
    for (
      const k of [
        "private",
        "group0",
        "listed",
        "shared",
        "link",
        "fifo",
        "dir-no-setgid",
        "dir-no-group-rx",
        "no-group-r",
        "setid-private",
      ]
    ) {
      assert((cov[k] ?? 0) > 0, `the generated tree has no '${k}' entry: ${JSON.stringify(cov)}`);
    }
    const want = expectRepair(root, before, { changeGids: [G.LISTED] });
    const s = await repair(root, {
      apply: true,
      journal: false,
      changeGids: [G.LISTED],
      threads: 4,
    });
    const after = snapshot(root);
    assertEquals(diffSnapshots(want.after, after), []);
    const changed = changesBetween(before, after);
    assert(changed.length > 100, `only ${changed.length} changes`);
    assertEquals(s.entriesChanged, changed.length);
    assertEquals(s.entriesSeen, before.size);
    assertEquals(s.applied, true);
    assertEquals(s.noAncestor, 0);
    assertEquals(s.errors, 0, JSON.stringify(s.errorDetails));
    // Changes by kind, counted from the snapshots.
    let group = 0, mode = 0, setgid = 0;
    for (const [rel, b] of before) {
      const a = after.get(rel)!;
      const added = b.type === "dir" && !(b.mode & 0o2000) && (a.mode & 0o2000) !== 0;
      if (a.gid !== b.gid) group++;
      if (added) setgid++;
      if ((added ? a.mode & ~0o2000 : a.mode) !== b.mode) mode++;
    }
    assertEquals(s.changes, { total: group + mode + setgid, group, mode, setgid, owner: 0 });
    // Links and the root are never changed.
    for (const [rel, b] of before) {
      if (rel === "." || b.type === "symlink") assertEquals(after.get(rel), b, rel);
    }
    // A second run finds nothing left to do.
    const again = await repair(root, { apply: true, journal: false, changeGids: [G.LISTED] });
    assertEquals(again.entriesChanged, 0);
  });

  await t.step("--force-group-writable, through the CLI", async () => {
    const root = `${tmp.path}/b`;
    buildTree(root, generateTree(2, 40));
    const before = snapshot(root);
    const want = expectRepair(root, before, { forceGroupWritable: true });
    const r = await cli([
      "repair",
      "--apply",
      "--force-group-writable",
      "--journal",
      `${tmp.path}/b.journal`,
      "--threads",
      "3",
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
    assertStringIncludes(r.stderr, "pwalk repair: journal ");
  });

  await t.step("no shared group above: reported once per tree, entries left", async () => {
    // The root's group is private (0), and so are its temporary parents; one
    // subfolder has a shared group, so the entries below it are still fixed.
    const root = `${tmp.path}/c`;
    const spec: EntrySpec[] = [
      { rel: ".", type: "dir", uid: 100, gid: 0, mode: 0o755 },
      own("p1"),
      { rel: "p2", type: "file", uid: 1002, gid: 0, mode: 0o644 },
      own("d", "dir"),
      own("d/p3"),
      { rel: "s", type: "dir", uid: 1003, gid: 6100, mode: 0o750 },
      own("s/p4"),
      { rel: "s/x", type: "dir", uid: 1001, gid: 0, mode: 0o700 },
      { rel: "s/x/p5", type: "file", uid: 1002, gid: 1002, mode: 0o600 },
    ];
    buildTree(root, spec);
    const before = snapshot(root);
    const want = expectRepair(root, before);
    assertEquals(want.noAncestor, 4); // p1 p2 d d/p3
    const s = await repair(root, { apply: true, journal: false });
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
    assertEquals(s.noAncestor, 4);
    const notices = s.errorDetails.filter((e) => e.op === "ancestor");
    assertEquals(notices.length, 1, JSON.stringify(s.errorDetails));
    assertEquals(notices[0].path, root);
    assertStringIncludes(notices[0].message, "no ancestor folder has a shared group");
    assertEquals(notices[0].code, "", "a notice is no system error");
    assertEquals(snapshot(root).get("s/x/p5")!.gid, 6100);
  });
  closeLibc();
});

Deno.test("dry run changes nothing and lists exactly what --apply then changes", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  buildTree(root, generateTree(3, 60));
  const before = snapshot(root);

  // API: listChanges and onChange.
  const seen: string[] = [];
  const dry = await repair(root, {
    changeGids: [G.LISTED],
    listChanges: true,
    onChange: (c) => seen.push(c.path),
  });
  assertEquals(dry.applied, false);
  assertEquals(diffSnapshots(before, snapshot(root)), [], "the dry run changed the tree");
  const planned = dry.changeList!.map((c) => changeKey(relOf(root, c.path), c.old, c.new)).sort();
  assertEquals(seen.length, planned.length);
  assertEquals(dry.entriesChanged, planned.length);

  // CLI: dry run (the default) and --dry-run print the same lines, change nothing.
  const d1 = await cli(["repair", "--change-gids", String(G.LISTED), root]);
  const d2 = await cli(["repair", "--dry-run", "--change-gids", `${G.LISTED},9999`, root]);
  assertEquals(d1.code, 0, d1.stderr);
  assertEquals(d2.code, 0, d2.stderr);
  assertEquals(lines(d1.stdout), lines(d2.stdout));
  assertStringIncludes(d1.stderr, "dry run, nothing was changed");
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  assertEquals(lines(d1.stdout).length, dry.changes.total);
  // Every dry-run line says so (a saved log is never ambiguous).
  const WOULD = "would change: ";
  assert(lines(d1.stdout).every((l) => l.startsWith(WOULD)), lines(d1.stdout)[0]);

  // Apply through the CLI: the same lines, and the tree changes exactly as planned.
  const ap = await cli([
    "repair",
    "--apply",
    "--change-gids",
    String(G.LISTED),
    "--journal",
    `${tmp.path}/j`,
    root,
  ]);
  assertEquals(ap.code, 0, ap.stderr);
  assertEquals(lines(ap.stdout), lines(d1.stdout).map((l) => l.slice(WOULD.length)).sort());
  assertEquals(changesBetween(before, snapshot(root)), planned);
  closeLibc();
});

Deno.test("undo restores the snapshot exactly", async (t) => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  buildTree(root, generateTree(4, 50));
  // Names a journal must carry exactly.
  const odd: EntrySpec[] = [
    own("new\nline", "dir"),
    { rel: "new\nline/back\\slash two", type: "file", uid: 1002, gid: 0, mode: 0o600 },
    { rel: "tab\tand 'quote\" ", type: "file", uid: 1003, gid: 1003, mode: 0o400 },
    { rel: "\\x41", type: "file", uid: 1003, gid: 1003, mode: 0o600 },
  ];
  buildTree(root, odd);
  // A name that is not UTF-8 (Deno cannot spell it: made by the shell).
  const raw = await new Deno.Command("sh", {
    args: [
      "-c",
      `printf x > "$1/$(printf 'bad\\377name')" && chown 1004:1004 "$1/$(printf 'bad\\377name')" && chmod 600 "$1/$(printf 'bad\\377name')"`,
      "sh",
      root,
    ],
  }).output();
  assert(raw.success, dec.decode(raw.stderr));
  const badPath = new Uint8Array([...enc.encode(root + "/bad"), 0xff, ...enc.encode("name")]);
  const rawBefore = lstatRaw(badPath);
  const before = snapshot(root);
  const journal = `${tmp.path}/repair.journal`;

  await t.step("apply writes a parseable journal line per changed entry", async () => {
    const s = await repair(root, { apply: true, journal, threads: 4 });
    assertEquals(s.journal, journal);
    assert(s.entriesChanged > 50);
    const text = await Deno.readFile(journal);
    const ls = dec.decode(text).split("\n").filter((l) => l);
    assert(ls[0].startsWith("#pwalk-journal 2 repair apply "), ls[0]);
    assertEquals(ls.length - 1, s.entriesChanged);
    for (const l of ls.slice(1)) {
      assert(
        /^\d+ \d+ [dfpsclb] \d+ \d+ [0-7]{4} \d+ \d+ [0-7]{4} (?:-|\d+\.\d{9}) [\x21-\x7e]+$/.test(
          l,
        ),
        `journal line: ${JSON.stringify(l)}`,
      );
    }
    assert(ls.some((l) => l.endsWith(" new\\x0aline/back\\x5cslash\\x20two")), "escaped names");
    assert(ls.some((l) => l.endsWith(" bad\\xffname")), "a name that is not UTF-8");
    assertEquals(lstatRaw(badPath).gid, G.PROJECT);
    assert(diffSnapshots(before, snapshot(root)).length > 50);
    // The journal is private to root.
    assertEquals((await Deno.stat(journal)).mode! & 0o777, 0o600);
  });

  await t.step("undo puts every owner, group and mode back", async () => {
    // setgid, which the repair took off files of users, stays off them
    const want = undoneSnapshot(before, snapshot(root));
    const held = diffSnapshots(before, want).length;
    assert(held > 0, "no setgid file of a user's in the tree");
    const u = await undo(journal, { apply: true });
    assertEquals(u.errors, 0, JSON.stringify(u.errorDetails));
    assertEquals([u.kept, u.setidKept], [held, held]);
    assertEquals(diffSnapshots(want, snapshot(root)), []);
    const r = lstatRaw(badPath);
    assertEquals([r.uid, r.gid, r.mode, r.ino], [
      rawBefore.uid,
      rawBefore.gid,
      rawBefore.mode,
      rawBefore.ino,
    ]);
    // Undoing again finds everything as it was before (setgid said again).
    const again = await undo(journal, { apply: true });
    assertEquals([again.restored, again.unchanged, again.kept, again.errors], [
      0,
      u.entries - held,
      held,
      0,
    ]);
  });

  await t.step("replaced entries and fields changed since are left alone", async () => {
    const j2 = `${tmp.path}/second.journal`;
    await repair(root, { apply: true, journal: j2 });
    const afterRepair = snapshot(root);
    // Someone replaces one file (new inode) and chmods another after the repair.
    const victims = [...afterRepair].filter(([, s]) => s.type === "file").map(([r]) => r);
    const replaced = victims.find((r) => before.get(r)!.gid !== afterRepair.get(r)!.gid)!;
    const touched = victims.find((r) =>
      r !== replaced && before.get(r)!.gid !== afterRepair.get(r)!.gid &&
      before.get(r)!.mode !== afterRepair.get(r)!.mode
    )!;
    // (Made beside it and renamed over it, so it cannot reuse the inode.)
    Deno.writeTextFileSync(at(root, "replacement"), "new");
    Deno.chownSync(at(root, "replacement"), 1001, G.PROJECT);
    Deno.renameSync(at(root, "replacement"), at(root, replaced));
    const replacedNow = snapshot(root).get(replaced)!;
    Deno.chmodSync(at(root, touched), 0o444);
    const u = await undo(j2, { apply: true });
    assertEquals(u.errors, 1);
    assertEquals(u.errorDetails[0].op, "race");
    assertEquals(u.errorDetails[0].code, "ESTALE");
    assertEquals(u.errorDetails[0].path, at(Deno.realPathSync(root), replaced));
    assertEquals(u.kept, 1);
    const now = snapshot(root);
    assertEquals(now.get(replaced), replacedNow, "the new file was left alone");
    assertEquals(now.get(touched)!.mode, 0o444, "a mode changed since is kept");
    assertEquals(now.get(touched)!.gid, before.get(touched)!.gid, "its group went back");
  });

  await t.step("a dry run's journal holds the plan; undo skips it", async () => {
    const j3 = `${tmp.path}/dry.journal`;
    const s = await repair(root, { journal: j3 });
    const text = await Deno.readTextFile(j3);
    assert(text.startsWith("#pwalk-journal 2 repair dry-run "));
    const u = await undo(j3, { apply: true });
    assertEquals([u.entries, u.skippedDryRun, u.restored], [0, s.entriesChanged, 0]);
  });

  await t.step("CLI --undo, and what it refuses", async () => {
    const j4 = `${tmp.path}/cli.journal`;
    const mid = snapshot(root);
    const ap = await cli(["repair", "--apply", "--journal", j4, root]);
    assertEquals(ap.code, 0, ap.stderr);
    // A dry run by default, and with --dry-run; --apply in any place applies.
    const dry = await cli(["repair", "--undo", j4, "--dry-run"]);
    assertEquals(dry.code, 0, dry.stderr);
    const plain = await cli(["repair", "--undo", j4]);
    assertEquals(plain.code, 0, plain.stderr);
    assertEquals(lines(plain.stdout), lines(dry.stdout));
    const WOULD = "would restore: ";
    assert(lines(dry.stdout).length > 0);
    assert(lines(dry.stdout).every((l) => l.startsWith(WOULD)), lines(dry.stdout)[0]);
    assertStringIncludes(dry.stderr, "dry run, nothing was changed");
    assert(diffSnapshots(mid, snapshot(root)).length > 0, "a dry run undid");
    const un = await cli(["repair", "--apply", "--undo", j4]);
    assertEquals(un.code, 0, un.stderr);
    assertEquals(lines(un.stdout), lines(dry.stdout).map((l) => l.slice(WOULD.length)).sort());
    assertEquals(diffSnapshots(mid, snapshot(root)), []);
    Deno.writeTextFileSync(`${tmp.path}/not-a-journal`, "hello\n");
    const bad = await cli(["repair", "--undo", `${tmp.path}/not-a-journal`]);
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, "not a pwalk journal");
    const both = await cli(["repair", "--undo", j4, root]);
    assertEquals(both.code, 2);
    // an option undo would ignore is refused, and nothing is written
    for (const extra of [["--errors", `${tmp.path}/undo-errors.csv`], ["--threads", "3"], ["-x"]]) {
      const r = await cli(["repair", "--undo", j4, "--apply", ...extra]);
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, "does not go with --undo");
    }
    assertEquals(diffSnapshots(mid, snapshot(root)), []);
    assertEquals([...Deno.readDirSync(tmp.path)].filter((e) => e.name === "undo-errors.csv"), []);
  });
  closeLibc();
});

// ---------------------------------------------------------------------------
// Races.

/**
 * An LD_PRELOAD shim around openat: at the moment repair opens an entry,
 * make the worst happen to it.
 * - `replace-*` (O_PATH open of a file): replaced by a new file (new inode)
 *   owned by uid 4242 with a private group: a repair that changed it would
 *   change an entry it never examined;
 * - `relink-*` (O_PATH open): replaced by a symlink to $SHIM_OUTSIDE/target;
 * - `vanish-*` (O_PATH open): deleted;
 * - `swapdir*` (folder open, first time): moved aside and replaced by a
 *   symlink to $SHIM_OUTSIDE;
 * - `inner*` (folder open): its parent folder is moved aside and replaced by
 *   a symlink to $SHIM_OUTSIDE, which holds an `inner` folder too, so a
 *   path through it would now lead outside through a link in the middle.
 */
const MISCHIEF = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
typedef int (*openat_fn)(int, const char *, int, ...);
static int real_openat(int fd, const char *p, int fl, mode_t m) {
  static openat_fn real;
  if (!real) real = (openat_fn)dlsym(RTLD_NEXT, "openat");
  return real(fd, p, fl, m);
}
static void mischief(int fd, const char *p, int fl) {
  const char *b = strrchr(p, '/');
  b = b ? b + 1 : p;
  const char *out = getenv("SHIM_OUTSIDE");
  if (!out) return;
  char tmp[8192], tgt[4096];
  if ((fl & O_PATH) && !strncmp(b, "replace-", 8)) {
    snprintf(tmp, sizeof tmp, "%s.new", p);
    int t = real_openat(fd, tmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (t >= 0) {
      fchown(t, 4242, 4242);
      close(t);
      renameat(fd, tmp, fd, p);
    }
  } else if ((fl & O_PATH) && !strncmp(b, "relink-", 7)) {
    snprintf(tgt, sizeof tgt, "%s/target", out);
    unlinkat(fd, p, 0);
    symlinkat(tgt, fd, p);
  } else if ((fl & O_PATH) && !strncmp(b, "vanish-", 7)) {
    unlinkat(fd, p, 0);
  } else if ((fl & O_DIRECTORY) && !(fl & O_PATH) && !strncmp(b, "swapdir", 7)) {
    snprintf(tmp, sizeof tmp, "%s.aside", p);
    if (renameat(fd, p, fd, tmp) == 0) symlinkat(out, fd, p);
  } else if ((fl & O_DIRECTORY) && !(fl & O_PATH) && !strncmp(b, "inner", 5)) {
    char parent[8192];
    if (b > p) { /* opened by a path: its folder part */
      size_t n = (size_t)(b - 1 - p);
      if (n >= sizeof parent) return;
      memcpy(parent, p, n);
      parent[n] = 0;
    } else { /* opened by name in the folder open at fd: that folder's path */
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(link, parent, sizeof parent - 1);
      if (n <= 0) return;
      parent[n] = 0;
    }
    struct stat st;
    if (fstatat(AT_FDCWD, parent, &st, AT_SYMLINK_NOFOLLOW) || S_ISLNK(st.st_mode)) return;
    snprintf(tmp, sizeof tmp, "%s.aside", parent);
    if (renameat(AT_FDCWD, parent, AT_FDCWD, tmp) == 0) symlinkat(out, AT_FDCWD, parent);
  }
}
int openat(int fd, const char *p, int fl, ...) {
  mode_t m = 0;
  if (fl & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, fl);
    m = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  mischief(fd, p, fl);
  return real_openat(fd, p, fl, m);
}
int openat64(int fd, const char *p, int fl, ...) __attribute__((alias("openat")));
`;

/** An outside folder whose every entry a repair would change if it reached it. */
function buildOutside(dir: string, names: string[]): EntrySpec[] {
  const spec: EntrySpec[] = [{ rel: ".", type: "dir", uid: 3001, gid: 3001, mode: 0o700 }];
  for (const n of names) spec.push({ rel: n, type: "file", uid: 3001, gid: 3001, mode: 0o600 });
  spec.push({ rel: "inner", type: "dir", uid: 3001, gid: 3001, mode: 0o700 });
  spec.push({ rel: "inner/secret", type: "file", uid: 3001, gid: 0, mode: 0o600 });
  spec.push({ rel: "target", type: "file", uid: 3001, gid: 3001, mode: 0o600 });
  buildTree(dir, spec);
  return spec;
}

/**
 * A test with the MISCHIEF shim (shim.ts) and, in its folder, the project
 * folder `proj` (group PROJECT, setgid) holding `entries`.
 */
function mischiefTest(
  name: string,
  entries: EntrySpec[],
  fn: (shim: Shim, root: string) => Promise<void>,
): void {
  shimTest(name, MISCHIEF, async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      ...entries,
    ]);
    await fn(shim, root);
    closeLibc();
  });
}

mischiefTest(
  "race, made exact: entries replaced at the moment repair opens them change nothing",
  [
    own("replace-1"),
    own("relink-1"),
    own("vanish-1"),
    own("keep"),
    own("swapdir", "dir"),
    own("swapdir/f1"),
    own("box", "dir"),
    own("box/inner", "dir"),
    own("box/inner/secret"),
  ],
  async (shim, root) => {
    const outside = `${shim.dir}/outside`;
    buildOutside(outside, ["f1", "f2"]);
    const outsideBefore = snapshot(outside);
    const r = await shim.cli(["repair", "--apply", "--journal", `${shim.dir}/j`, root], {
      SHIM_OUTSIDE: outside,
    });
    assertEquals(r.code, 0, r.stderr);
    // The mischief really happened.
    assert(Deno.lstatSync(`${root}/swapdir`).isSymlink, "swapdir was not swapped");
    assert(Deno.lstatSync(`${root}/box`).isSymlink, "box was not swapped");
    assert(Deno.lstatSync(`${root}/relink-1`).isSymlink, "relink-1 was not relinked");
    assertEquals(Deno.lstatSync(`${root}/replace-1`).uid, 4242, "replace-1 was not replaced");
    // Nothing outside changed, and the replacements were not touched.
    assertEquals(diffSnapshots(outsideBefore, snapshot(outside)), []);
    const rep = Deno.lstatSync(`${root}/replace-1`);
    assertEquals([rep.gid, rep.mode! & 0o7777], [4242, 0o600]);
    // The untouched file was repaired; every incident was reported.
    assertEquals(Deno.lstatSync(`${root}/keep`).gid, G.PROJECT);
    assertStringIncludes(r.stderr, `pwalk: race '${root}/replace-1': `);
    assertStringIncludes(r.stderr, `pwalk: race '${root}/relink-1': `);
    assertStringIncludes(r.stderr, `pwalk: stat '${root}/vanish-1': No such file or directory`);
    assertStringIncludes(r.stderr, `pwalk: race '${root}/swapdir': Not a directory`);
    // box/inner is opened by its name inside the box folder already open:
    // swapping box for a link cannot redirect it, so the real inner folder
    // (moved aside with box) was repaired, and nothing outside.
    assertEquals(Deno.lstatSync(`${root}/box.aside/inner/secret`).gid, G.PROJECT);
  },
);

/**
 * An LD_PRELOAD shim: the second open of $SHIM_ROOT as a folder by its path
 * (O_DIRECTORY: the first is the CLI's check that ROOT can be listed,
 * pw_dir_probe; the second the engine's open of ROOT as a job starts,
 * after the real path was checked against the system folders; Deno's own
 * looks open it without that flag) first moves ROOT aside and puts a link
 * to $SHIM_OUTSIDE in its place: the swap of a folder the user owns,
 * between the two lookups.
 */
const ROOT_SWAP = beforeOpenat(
  "swap",
  `static int done, opens;
static void swap(const char *p, int flags) {
  const char *root = getenv("SHIM_ROOT"), *out = getenv("SHIM_OUTSIDE");
  if (done || !root || !out || !(flags & O_DIRECTORY) || strcmp(p, root)) return;
  if (++opens < 2) return;
  char aside[8192];
  snprintf(aside, sizeof aside, "%s.aside", root);
  if (rename(root, aside) == 0 && symlink(out, root) == 0) done = 1;
}`,
);

shimTest(
  "ROOT swapped for a link after its real path was checked: the run stops, nothing outside changes",
  ROOT_SWAP,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      own("a"),
    ]);
    const outside = `${shim.dir}/outside`;
    buildOutside(outside, ["f1", "f2"]);
    const before = snapshot(outside);
    for (const args of [["repair"], ["--chown_from", "3001", "--chown_to", "4001:4001"]]) {
      const r = await shim.cli([...args, "--apply", "--journal", `${shim.dir}/j`, root], {
        SHIM_ROOT: root,
        SHIM_OUTSIDE: outside,
      });
      assert(Deno.lstatSync(root).isSymlink, "ROOT was not swapped");
      assertEquals(r.code, 1, r.stderr);
      assertStringIncludes(
        r.stderr,
        `pwalk: ${root} changed while starting (it is no longer the folder ${root})`,
      );
      assertEquals(diffSnapshots(before, snapshot(outside)), []);
      Deno.removeSync(root);
      Deno.renameSync(`${root}.aside`, root);
    }
    closeLibc();
  },
);

shimTest(
  "a folder removed between its listing and its open: one error (its open, ENOENT), not a second one for its change (review)",
  beforeOpenat(
    "gone",
    `static void gone(const char *p, int flags) {
  const char *dir = getenv("SHIM_GONE");
  const char *base = dir ? strrchr(dir, '/') : NULL;
  if (base && (flags & O_DIRECTORY) && !strcmp(p, base + 1)) rmdir(dir);
}`,
  ),
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      own("a"),
      own("gone-dir", "dir"), // a change planned for it: its group and setgid
    ]);
    const gone = `${root}/gone-dir`;
    for (const apply of [false, true]) {
      if (apply) { // (the dry run's shim removed it)
        Deno.mkdirSync(gone);
        Deno.chownSync(gone, 1001, 1001);
        Deno.chmodSync(gone, 0o700);
      }
      const r = await shim.cli(
        ["repair", ...(apply ? ["--apply", "--journal", `${shim.dir}/j`] : []), root],
        { SHIM_GONE: gone },
      );
      assertEquals(r.code, 0, r.stderr);
      assert(!Deno.lstatSync(root).isFile && !existsSync(gone), "removed at its open");
      const errors = r.stderr.split("\n").filter((l) =>
        l.startsWith("pwalk: ") && l.includes(gone)
      );
      assertEquals(errors, [`pwalk: open '${gone}': No such file or directory`], `apply ${apply}`);
      assertStringIncludes(r.stderr, " 1 error", `apply ${apply}`);
    }
  },
);

Deno.test("an entry whose ACL keeps the group out is a notice, dry run and --apply", async () => {
  await using tmp = await tempDir("pwalk-acl-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("denied"),
    own("allowed"),
    own("plain"),
    own("d", "dir"),
    // (review of rule 7: what rule 3 gives, r or r-x, is there; the mask
    // holds more, the owner's: no notice)
    own("wide"),
    own("dwide", "dir"),
  ]);
  // access ACLs (tag, perm, id): user::rw- group::--- (denied) or
  // group::r-- (allowed), a named user, mask::r--, other::---
  const acl = (groupPerm: number, mask = 4): AclEntry[] => [
    [ACL.USER_OBJ, 6, ACL.ANY],
    [ACL.USER, 4, 1005],
    [ACL.GROUP_OBJ, groupPerm, ACL.ANY],
    [ACL.MASK, mask, ACL.ANY],
    [ACL.OTHER, 0, ACL.ANY],
  ];
  await setAccessAcls(root, {
    denied: acl(0),
    allowed: acl(4),
    d: acl(4),
    wide: acl(4, 6),
    dwide: acl(5, 7),
  });
  // the premise: their modes' group bits are the masks, rw- and rwx
  assertEquals(Deno.lstatSync(`${root}/wide`).mode! & 0o70, 0o60);
  assertEquals(Deno.lstatSync(`${root}/dwide`).mode! & 0o70, 0o70);
  const notices = (s: Notices) => noticesOf(s, "acl");
  // a folder needs r-x: its group::r-- lacks x
  const dry = await repair(root, { journal: false });
  assertEquals(notices(dry).sort(), [`${root}/d`, `${root}/denied`]);
  assertStringIncludes(dry.errorDetails.find((e) => e.op === "acl")!.message, "group::");
  const applied = await repair(root, { apply: true, journal: false });
  assertEquals(notices(applied).sort(), [`${root}/d`, `${root}/denied`]);
  assertEquals(Deno.lstatSync(`${root}/denied`).gid, G.PROJECT, "the change is made all the same");
});

Deno.test("an ACL whose named users or groups the mask keeps out: left alone, never let in by the group bits", async () => {
  await using tmp = await tempDir("pwalk-acl-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("shut"), // user:1005:rw- group:1006:r-- mask::--- (an owner's chmod 600)
    own("open"), // user:1005:r-- mask::r--: the mask lets 1005 in already
    own("dshut", "dir"), // group:1006:r-x mask::---
    own("plain"),
  ]);
  // access ACLs (version 2; tag, perm, id, in the kernel's order): user::rwx, named users,
  // group::r--, named groups, mask, other::---
  const acl = (named: [number, number, number][], mask: number) => {
    const e = (tag: number) =>
      named.filter(([t]) => t === tag).map(([t, p, id]) => `(${t},${p},${id}),`).join("");
    return `struct.pack('<I',2)+b''.join(struct.pack('<HHI',*x) for x in ` +
      `[(1,7,0xffffffff),${e(2)}(4,4,0xffffffff),${e(8)}(0x10,${mask},0xffffffff),` +
      `(0x20,0,0xffffffff)])`;
  };
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1] + '/shut', 'system.posix_acl_access', ${
      acl([[2, 6, 1005], [8, 4, 1006]], 0)
    })
os.setxattr(sys.argv[1] + '/open', 'system.posix_acl_access', ${acl([[2, 4, 1005]], 4)})
os.setxattr(sys.argv[1] + '/dshut', 'system.posix_acl_access', ${acl([[8, 5, 1006]], 0)})`,
    root,
  );
  const before = snapshot(root);
  assertEquals(before.get("shut")!.mode & 0o070, 0, "the mask (group bits) shuts them out");
  const named = (x: Notices) => noticesOf(x, "acl_named").sort();
  const dry = await repair(root, { journal: false });
  assertEquals(named(dry), [`${root}/dshut`, `${root}/shut`]);
  assertStringIncludes(
    dry.errorDetails.find((e) => e.op === "acl_named")!.message,
    "would let them in too: left alone",
  );
  const applied = await repair(root, { apply: true, journal: false });
  assertEquals(named(applied), [`${root}/dshut`, `${root}/shut`]);
  const after = snapshot(root);
  for (const rel of ["shut", "dshut"]) {
    assertEquals(after.get(rel), before.get(rel), `${rel}: left exactly as it was`);
  }
  // the others are repaired as any entry is
  for (const rel of ["open", "plain"]) {
    assertEquals(after.get(rel)!.gid, G.PROJECT, rel);
    assertEquals(after.get(rel)!.mode & 0o040, 0o040, `${rel}: g+r`);
  }
});

Deno.test("an ACL that names only the project's group itself, mask::---: repaired as any entry is, and undone whole (audit)", async () => {
  await using tmp = await tempDir("pwalk-acl-proj-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("projnamed"), // group:PROJECT:r-- mask::--- (a default ACL's entry, then chmod 600)
    own("dprojnamed", "dir"), // group:PROJECT:r-x mask::---
    own("projandbob"), // the same and user:1005:r--: 1005 is an outsider
    own("othergroup"), // group:1006:r-- mask::---: an outsider
  ]);
  const acl = (named: [number, number, number][]) => {
    const e = (tag: number) =>
      named.filter(([t]) => t === tag).map(([t, p, id]) => `(${t},${p},${id}),`).join("");
    return `struct.pack('<I',2)+b''.join(struct.pack('<HHI',*x) for x in ` +
      `[(1,7,0xffffffff),${e(2)}(4,0,0xffffffff),${e(8)}(0x10,0,0xffffffff),` +
      `(0x20,0,0xffffffff)])`;
  };
  const P = G.PROJECT;
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1] + '/projnamed', 'system.posix_acl_access', ${acl([[8, 4, P]])})
os.setxattr(sys.argv[1] + '/dprojnamed', 'system.posix_acl_access', ${acl([[8, 5, P]])})
os.setxattr(sys.argv[1] + '/projandbob', 'system.posix_acl_access', ${
      acl([[2, 4, 1005], [8, 4, P]])
    })
os.setxattr(sys.argv[1] + '/othergroup', 'system.posix_acl_access', ${acl([[8, 4, 1006]])})`,
    root,
  );
  /** The access ACL of each entry, as the kernel gives it (hex). */
  const acls = async () =>
    JSON.parse(
      await python(
        `import json, os, sys
print(json.dumps({n: os.getxattr(sys.argv[1] + '/' + n, 'system.posix_acl_access').hex()
  for n in sorted(os.listdir(sys.argv[1]))}))`,
        root,
      ),
    );
  const before = snapshot(root);
  const aclsBefore = await acls();
  for (const rel of ["projnamed", "dprojnamed"]) {
    assertEquals(before.get(rel)!.mode & 0o070, 0, `${rel}: the mask shuts the group out`);
  }
  const named = (x: Notices) => noticesOf(x, "acl_named").sort();
  const dry = await repair(root, { journal: false });
  assertEquals(named(dry), [`${root}/othergroup`, `${root}/projandbob`]);
  const journal = `${tmp.path}/j`;
  const r = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(r.code, 0, r.stderr);
  const after = snapshot(root);
  // the project's own entry is no outsider: opened to the group as rule 3 says
  // (user::rwx: the mode was 0700)
  assertEquals([after.get("projnamed")!.gid, after.get("projnamed")!.mode & 0o7777], [P, 0o740]);
  assertEquals(
    [after.get("dprojnamed")!.gid, after.get("dprojnamed")!.mode & 0o7777],
    [P, 0o2750],
  );
  for (const rel of ["projandbob", "othergroup"]) {
    assertEquals(after.get(rel), before.get(rel), `${rel}: left exactly as it was`);
  }
  // undo puts mode and group back whole: the mask shuts the group out again
  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assert(!un.text.includes("mode kept"), un.text);
  assertEquals(snapshot(root), before);
  assertEquals(await acls(), aclsBefore);
});

Deno.test("a hard-linked file whose ACL names users the mask keeps out: one acl_named notice per file, not one per name (audit)", async () => {
  await using tmp = await tempDir("pwalk-acl-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("shut"), // user:1005:rw- mask::---, and two more names
    { rel: "sub", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
  ]);
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1] + '/shut', 'system.posix_acl_access', struct.pack('<I',2)+b''.join(
  struct.pack('<HHI',*x) for x in [(1,6,0xffffffff),(2,6,1005),(4,4,0xffffffff),
  (0x10,0,0xffffffff),(0x20,0,0xffffffff)]))`,
    root,
  );
  Deno.linkSync(`${root}/shut`, `${root}/shut-too`);
  Deno.linkSync(`${root}/shut`, `${root}/sub/shut-three`);
  await ctimesPast(`${root}/shut`); // its names settled before the runs (rule 9)
  const names = [`${root}/shut`, `${root}/shut-too`, `${root}/sub/shut-three`];
  const before = snapshot(root);
  for (const apply of [false, true]) {
    const s = await repair(root, { apply, journal: false });
    const told = noticesOf(s, "acl_named");
    assertEquals(told.length, 1, `apply ${apply}: ${told}`);
    assert(names.includes(told[0]), told[0]);
  }
  assertEquals(diffSnapshots(before, snapshot(root)), [], "left exactly as it was");
});

Deno.test({
  name: "an ACL larger than 4096 bytes (600 named entries) is read whole: its named entries " +
    "stay shut out, its group entry is told",
  ignore: !canMountTmpfs(),
  fn: async () => {
    await using tmp = await tempDir("pwalk-bigacl-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(root);
    // tmpfs holds an attribute value of up to 64 KiB (ext4 one of a block at most)
    assertEquals(await mountTmpfs(root, "size=4m"), "");
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      own("shut"), // 600 named users r--, mask::---: 4,828 bytes
      own("dshut", "dir"), // 600 named groups r-x, mask::---
      own("small"), // 10 named users r--, mask::---: the same, 108 bytes
      own("blind"), // 600 named users ---, group::---: none let in, the group kept out
      own("plain"),
    ]);
    // access ACLs (version 2; tag, perm, id, in the kernel's order): user::rw-,
    // named users, group::, named groups, mask::---, other::---
    const acl = (tag: number, perm: number, n: number, groupPerm = 4) =>
      `struct.pack('<I',2)+b''.join(struct.pack('<HHI',*x) for x in ` +
      `[(1,6,0xffffffff)]+[(2,${perm},20000+i) for i in range(${tag === 2 ? n : 0})]+` +
      `[(4,${groupPerm},0xffffffff)]+[(8,${perm},30000+i) for i in range(${tag === 8 ? n : 0})]+` +
      `[(0x10,0,0xffffffff),(0x20,0,0xffffffff)])`;
    await python(
      `import os, struct, sys
for name, value in (('shut', ${acl(2, 4, 600)}), ('dshut', ${acl(8, 5, 600)}),
                    ('small', ${acl(2, 4, 10)}), ('blind', ${acl(2, 0, 600, 0)})):
    os.setxattr(sys.argv[1] + '/' + name, 'system.posix_acl_access', value)`,
      root,
    );
    /** The mask's permissions (mask::) as the kernel holds the ACL now (python reads it). */
    const mask = async (rel: string) => {
      const [size, perm] = (await python(
        `import os, struct, sys
v = os.getxattr(sys.argv[1], 'system.posix_acl_access')
print(len(v), [p for t, p, i in struct.iter_unpack('<HHI', v[4:]) if t == 0x10][0])`,
        `${root}/${rel}`,
      )).trim().split(" ").map(Number);
      assert(rel === "small" || size > 4096, `${rel}: ${size} bytes`);
      return perm;
    };
    const before = snapshot(root);
    for (const rel of ["shut", "dshut", "small", "blind"]) {
      assertEquals(await mask(rel), 0, rel);
      assertEquals(before.get(rel)!.mode & 0o070, 0, `${rel}: the mask (group bits) is ---`);
    }
    for (const apply of [false, true]) {
      const s = await repair(root, { apply, journal: false });
      assertEquals(
        noticesOf(s, "acl_named").sort(),
        [`${root}/dshut`, `${root}/shut`, `${root}/small`],
        `apply ${apply}`,
      );
      for (const e of s.errorDetails.filter((e) => e.op === "acl_named")) {
        assertStringIncludes(e.message, "would let them in too: left alone", e.path);
      }
      // the group entry of the large one is read too: told
      assertEquals(noticesOf(s, "acl"), [`${root}/blind`], `apply ${apply}`);
    }
    const after = snapshot(root);
    for (const rel of ["shut", "dshut", "small"]) {
      assertEquals(after.get(rel), before.get(rel), `${rel}: left exactly as it was`);
      assertEquals(await mask(rel), 0, `${rel}: its named entries still shut out`);
    }
    // a large ACL that names no one the group bits would let in is repaired as any entry
    for (const rel of ["blind", "plain"]) {
      assertEquals(after.get(rel)!.gid, G.PROJECT, rel);
      assertEquals(after.get(rel)!.mode & 0o070, 0o040, `${rel}: g+r`);
    }
    assertEquals(await mask("blind"), 4, "blind: the mask is the group bits");
  },
});

/**
 * An LD_PRELOAD shim for the access ACL reads (getxattr of /proc/self/fd/N,
 * fgetxattr, and a dry run's getxattrat by name, made through syscall(2))
 * of entries by name: "eio-" ones fail (EIO); the first read into a buffer
 * of a "grow-" one (per process) says ERANGE, as if the ACL grew past the
 * buffer, and every such read of an "always-" one does (an ACL that grows
 * each time its size is asked).
 */
const ACL_READS = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
typedef ssize_t (*get_fn)(const char *, const char *, void *, size_t);
typedef ssize_t (*fget_fn)(int, const char *, void *, size_t);
typedef long (*sys_fn)(long, ...);
static int grown;
/* errno to fail a read of the entry named name with, or 0 */
static int by_name(const char *name, const char *attr, size_t cap) {
  if (strcmp(attr, "system.posix_acl_access")) return 0;
  if (!strncmp(name, "eio-", 4)) return EIO;
  if (cap && !strncmp(name, "grow-", 5) && !grown++) return ERANGE;
  return cap && !strncmp(name, "always-", 7) ? ERANGE : 0;
}
/* getxattrat(dirfd, name, flags, attr, args, size): args->size is the buffer's */
struct xattr_args { uint64_t value; uint32_t size, flags; };
long syscall(long nr, ...) {
  static sys_fn real;
  if (!real) real = (sys_fn)dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr == 464) {
    int err = by_name((const char *)a[1], (const char *)a[3],
                      ((struct xattr_args *)a[4])->size);
    if (err) return errno = err, -1;
  }
  return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
/* errno to fail this read with, or 0: link leads to the entry */
static int mischief(const char *link, const char *attr, size_t cap) {
  char b[4096];
  ssize_t n = readlink(link, b, sizeof b - 1);
  if (n < 0) return 0;
  b[n] = 0;
  return by_name(strrchr(b, '/') ? strrchr(b, '/') + 1 : b, attr, cap);
}
ssize_t getxattr(const char *p, const char *attr, void *v, size_t cap) {
  static get_fn real;
  if (!real) real = (get_fn)dlsym(RTLD_NEXT, "getxattr");
  int err = mischief(p, attr, cap);
  if (err) return errno = err, -1;
  return real(p, attr, v, cap);
}
ssize_t fgetxattr(int fd, const char *attr, void *v, size_t cap) {
  static fget_fn real;
  if (!real) real = (fget_fn)dlsym(RTLD_NEXT, "fgetxattr");
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int err = mischief(link, attr, cap);
  if (err) return errno = err, -1;
  return real(fd, attr, v, cap);
}
`;

shimTest(
  "an ACL that cannot be read whole: the entry is left alone, and the notice says why",
  ACL_READS,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      own("eio-f"), // read, its ACL would let no one in: it would be repaired
      own("eio-d", "dir"),
      own("always-f"),
      own("grow-shut"), // read again, whole: user:1005:r-- shut out
      own("grow-open"), // read again, whole: nobody named let in (named perms ---)
      own("plain"),
    ]);
    // user::rw-, user:1005 (perm), group::r--, mask::---, other::---
    const acl = (perm: number) =>
      `struct.pack('<I',2)+b''.join(struct.pack('<HHI',*x) for x in ` +
      `[(1,6,0xffffffff),(2,${perm},1005),(4,4,0xffffffff),(0x10,0,0xffffffff),(0x20,0,0xffffffff)])`;
    await python(
      `import os, struct, sys
for name, value in (('eio-f', ${acl(0)}), ('eio-d', ${acl(0)}), ('always-f', ${acl(0)}),
                    ('grow-shut', ${acl(4)}), ('grow-open', ${acl(0)})):
    os.setxattr(sys.argv[1] + '/' + name, 'system.posix_acl_access', value)`,
      root,
    );
    const before = snapshot(root);
    for (const apply of [false, true]) {
      const s = await shim.api("repair", root, { apply, journal: false });
      const told = s.errorDetails.filter((e) => e.op === "acl_named")
        .map((e) => [e.path.slice(root.length + 1), e.code, e.message]).sort();
      const unread = (text: string) =>
        `its access ACL could not be read (${text}), so whether the group bits the rules give ` +
        "(the mask) would let users or groups it names in is unknown: left alone (see getfacl)";
      assertEquals(told.map(([rel, code]) => [rel, code]), [
        ["always-f", "ERANGE"],
        ["eio-d", "EIO"],
        ["eio-f", "EIO"],
        ["grow-shut", ""],
      ], `apply ${apply}`);
      assertEquals(told[0][2], unread("Numerical result out of range"));
      assertEquals(told[1][2], unread("Input/output error"));
      assertStringIncludes(told[3][2], "would let them in too: left alone");
    }
    const after = snapshot(root);
    for (const rel of ["eio-f", "eio-d", "always-f", "grow-shut"]) {
      assertEquals(after.get(rel), before.get(rel), `${rel}: left exactly as it was`);
    }
    for (const rel of ["grow-open", "plain"]) {
      assertEquals(after.get(rel)!.gid, G.PROJECT, rel);
      assertEquals(after.get(rel)!.mode & 0o070, 0o040, `${rel}: g+r`);
    }
  },
);

Deno.test("a file with capabilities: repair leaves it alone, chown says they go", async () => {
  await using tmp = await tempDir("pwalk-caps-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "tool", type: "file", uid: 1001, gid: 1001, mode: 0o750 },
    { rel: "plain", type: "file", uid: 1001, gid: 1001, mode: 0o750 },
  ]);
  // cap_net_raw in the permitted set, effective (VFS_CAP_REVISION_2)
  const caps = `struct.pack('<IIIII', 0x02000001, 1 << 13, 0, 0, 0)`;
  const getCaps = () =>
    python(
      `import os, sys
print(os.getxattr(sys.argv[1], 'security.capability').hex())`,
      `${root}/tool`,
    );
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1], 'security.capability', ${caps})`,
    `${root}/tool`,
  );
  const had = await getCaps();
  // the same deeper than PATH_MAX (20 folders of 250 bytes): found through
  // descriptors, as the walker reaches it, not by its path
  const deep = await python(
    `import os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for l in range(20):
    n = 'd' * 250; os.mkdir(n, dir_fd=fd); os.chown(n, 100, ${G.PROJECT}, dir_fd=fd)
    os.chmod(n, 0o2770, dir_fd=fd); m = os.open(n, os.O_RDONLY, dir_fd=fd); os.close(fd); fd = m
f = os.open('tool', os.O_CREAT | os.O_WRONLY, 0o750, dir_fd=fd); os.fchown(f, 1001, 1001)
os.setxattr(f, 'security.capability', ${caps}); os.close(f)
print(os.path.join(sys.argv[1], *(['d' * 250] * 20), 'tool'), end='')`,
    root,
  );
  const notices = (s: Notices) => noticesOf(s, "capability");
  for (const apply of [false, true]) {
    const s = await repair(root, { apply, journal: false });
    assertEquals(notices(s).sort(), [deep, `${root}/tool`].sort(), `apply ${apply}`);
    assertEquals(s.entriesChanged, 1, "plain only");
  }
  const tool = Deno.lstatSync(`${root}/tool`);
  assertEquals([tool.gid, tool.mode! & 0o7777], [1001, 0o750], "left alone");
  assertEquals(await getCaps(), had, "capabilities kept");
  assertEquals(Deno.lstatSync(`${root}/plain`).gid, G.PROJECT);
  // chown, asked for by owner: the change is made, and said to drop them
  const c = await chown(root, { from: 1001, to: { uid: 1002 }, apply: true, journal: false });
  assertEquals(notices(c).sort(), [deep, `${root}/tool`].sort());
  assertEquals(Deno.lstatSync(`${root}/tool`).uid, 1002);
});

Deno.test("chown's summary counts its owner changes (changes.owner), as lstat sees them changed", async () => {
  await using tmp = await tempDir("pwalk-chown-count-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "d", type: "dir", uid: 1001, gid: 1001, mode: 0o2755 },
    { rel: "d/f", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o4755 },
    { rel: "g", type: "file", uid: 1001, gid: 1001, mode: 0o644 },
    { rel: "other", type: "file", uid: 1002, gid: 1002, mode: 0o644 },
  ]);
  const rels = [".", "d", "d/f", "g", "other"];
  const uids = () => rels.map((r) => Deno.lstatSync(`${root}/${r}`).uid);
  const before = uids();
  const dry = await chown(root, { from: 1001, to: { uid: 1003, gid: 1003 }, journal: false });
  const s = await chown(root, {
    from: 1001,
    to: { uid: 1003, gid: 1003 },
    apply: true,
    journal: false,
  });
  const changed = uids().filter((u, i) => u !== before[i]).length;
  assertEquals(changed, 3); // the premise: d, d/f, g
  for (const r of [dry, s]) {
    assertEquals(r.changes, { total: changed, owner: changed, group: 0, mode: 0, setgid: 0 });
    assertEquals(r.entriesChanged, changed);
  }
});

Deno.test("--force-group-writable: a setuid or setgid file that keeps its group gets no group write (setid notice)", async () => {
  await using tmp = await tempDir("pwalk-setid-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    // a setuid-root helper only the project may run; a setgid tool of a user's
    { rel: "helper", type: "file", uid: 0, gid: G.PROJECT, mode: 0o4750 },
    { rel: "sgid", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o2710 },
    // setgid without group execute (a mandatory-locking mark), setuid with no
    // execute bit: nothing runs with other rights, g+w is given, no notice
    { rel: "lockmark", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o2640 },
    { rel: "noexec", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o4600 },
    // a FIFO's setuid and execute bits: never run, g+w given, no notice
    // (review of rule 4: "where they take effect")
    { rel: "fifo", type: "fifo", uid: 1001, gid: G.PROJECT, mode: 0o4750 },
    // its private group replaced: rule 4 takes setuid off, then g+w is harmless
    { rel: "own", type: "file", uid: 1001, gid: 1001, mode: 0o4700 },
    { rel: "plain", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o600 },
  ]);
  const modes = () =>
    Object.fromEntries(
      ["helper", "sgid", "own", "plain", "lockmark", "noexec", "fifo"].map((n) => {
        const st = Deno.lstatSync(`${root}/${n}`);
        return [n, [st.gid, st.mode! & 0o7777]];
      }),
    );
  const before = modes();
  const told = [`${root}/helper`, `${root}/sgid`];
  const dry = await repair(root, { forceGroupWritable: true });
  assertEquals(noticesOf(dry, "setid").sort(), told);
  assertStringIncludes(
    dry.errorDetails.find((e) => e.op === "setid")!.message,
    "not made group-writable",
  );
  assertEquals(modes(), before, "a dry run changed something");
  // without --force-group-writable nothing is made group-writable: no notice
  assertEquals(noticesOf(await repair(root, {}), "setid"), []);
  const s = await repair(root, { apply: true, forceGroupWritable: true, journal: false });
  assertEquals(noticesOf(s, "setid").sort(), told);
  assertEquals(modes(), {
    helper: [G.PROJECT, 0o4750],
    sgid: [G.PROJECT, 0o2750],
    own: [G.PROJECT, 0o760],
    plain: [G.PROJECT, 0o660],
    lockmark: [G.PROJECT, 0o2660],
    noexec: [G.PROJECT, 0o4660],
    fifo: [G.PROJECT, 0o4770],
  });
  // once more: nothing left to change, the kept files still told
  const again = await repair(root, { apply: true, forceGroupWritable: true, journal: false });
  assertEquals([again.entriesChanged, noticesOf(again, "setid").sort()], [0, told]);
});

Deno.test("device nodes: repair leaves them alone with a device notice, chown changes them", async () => {
  await using tmp = await tempDir("pwalk-dev-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "chroot", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "plain", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
  ]);
  // a copied chroot's devices: a block device and a random number
  // generator node of root's own, a user's null (mknod: the tests run as root)
  await python(
    `import os, stat, sys
os.mknod(sys.argv[1] + '/chroot/sda', 0o660 | stat.S_IFBLK, os.makedev(8, 0)); os.chown(sys.argv[1] + '/chroot/sda', 0, 0)
os.mknod(sys.argv[1] + '/chroot/hwrng', 0o600 | stat.S_IFCHR, os.makedev(10, 183)); os.chmod(sys.argv[1] + '/chroot/hwrng', 0o600)
os.mknod(sys.argv[1] + '/chroot/mine', 0o600 | stat.S_IFCHR, os.makedev(1, 3)); os.chown(sys.argv[1] + '/chroot/mine', 1001, 1001)`,
    root,
  );
  const devices = ["chroot/hwrng", "chroot/mine", "chroot/sda"].map((d) => `${root}/${d}`);
  const facts = () => devices.map((d) => Deno.lstatSync(d)).map((st) => [st.uid, st.gid, st.mode]);
  const before = facts();
  for (const apply of [false, true]) {
    for (const forceGroupWritable of [false, true]) {
      const s = await repair(root, { apply, forceGroupWritable, journal: false });
      assertEquals(noticesOf(s, "device").sort(), devices, `apply ${apply}`);
      for (const e of s.errorDetails.filter((e) => e.op === "device")) {
        assertStringIncludes(e.message, "a device node: left alone");
      }
      assertEquals(facts(), before, "a device changed");
    }
  }
  assertEquals(Deno.lstatSync(`${root}/plain`).gid, G.PROJECT, "the rest is repaired");
  // chown, asked for by owner, moves the node it names as everything else
  const c = await chown(root, { from: 1001, to: { uid: 1002 }, apply: true, journal: false });
  assertEquals(noticesOf(c, "device"), []);
  assertEquals(Deno.lstatSync(`${root}/chroot/mine`).uid, 1002);
});

Deno.test("hard-linked files: changed once every name is reached in ROOT; a name elsewhere leaves it alone, told", async () => {
  await using tmp = await tempDir("pwalk-hl-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "u", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "v", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "skip", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "u/plain", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    { rel: "u/both", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    { rel: "u/half", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
  ]);
  // root's private file outside the project, linked into it (as a user may
  // where fs.protected_hardlinks is off, or with read and write access to it)
  await Deno.mkdir(`${tmp.path}/outside`);
  const secret = `${tmp.path}/outside/secret`;
  Deno.writeTextFileSync(secret, "s", { mode: 0o600 });
  Deno.chmodSync(secret, 0o600);
  Deno.linkSync(secret, `${root}/u/innocent`);
  Deno.linkSync(`${root}/u/both`, `${root}/v/both2`); // every name inside
  Deno.linkSync(`${root}/u/half`, `${root}/skip/half2`); // one name in an excluded folder
  // names linked in the second a run starts in may be changing still: left alone (rule 9)
  await ctimesPast(secret, `${root}/u/both`, `${root}/u/half`);
  const facts = (p: string) => {
    const st = Deno.lstatSync(p);
    return [st.uid, st.gid, st.mode! & 0o7777];
  };
  const secretBefore = facts(secret), halfBefore = facts(`${root}/u/half`);
  for (const apply of [false, true]) {
    const args = ["repair", ...(apply ? ["--apply", "--journal", `${tmp.path}/j`] : [])];
    const r = await cli([...args, "--exclude", `${root}/skip`, "--errors", "/dev/stderr", root]);
    assertEquals(r.code, 0, r.stderr);
    const told = [...r.stderr.matchAll(/^"([^"]+)",hardlinks,,/gm)].map((m) => m[1]).sort();
    assertEquals(told, [`${root}/u/half`, `${root}/u/innocent`], r.stderr);
    // the file whose names are all inside: listed once, through one of them
    const listed = lines(r.stdout).filter((l) => /both2?: group/.test(l));
    assertEquals(listed.length, 1, listed.join("\n"));
    assertEquals(facts(secret), secretBefore, "the linked-in file is left alone");
    assertEquals(facts(`${root}/u/half`), halfBefore, "a name not reached: left alone");
  }
  assertEquals(facts(`${root}/u/both`)[1], G.PROJECT, "every name inside: changed");
  assertEquals(Deno.lstatSync(`${root}/u/plain`).gid, G.PROJECT, "the rest is repaired");
});

testNeeding([PYTHON3], {
  name:
    "a FIFO or socket with other hard links is a hard-linked file: a name outside ROOT leaves it alone, told; all names inside: changed once, flagged (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-hlfifo-");
    // root's private FIFO and socket outside the project, and a FIFO and a
    // socket whose two names both lie inside it
    const out = `${tmp.path}/outside`, root = `${tmp.path}/proj`;
    Deno.mkdirSync(out);
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2770 },
      { rel: "d", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2770 },
      { rel: "e", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2770 },
    ]);
    const sock = (p: string) =>
      python("import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", p);
    mkfifo(`${out}/fifo`, 0o600);
    await sock(`${out}/sock`);
    mkfifo(`${root}/d/fifo-in`, 0o600);
    await sock(`${root}/d/sock-in`);
    for (const p of [`${out}/fifo`, `${out}/sock`, `${root}/d/fifo-in`, `${root}/d/sock-in`]) {
      Deno.chownSync(p, 0, 0); // root's private group, as under a setgid folder they are not
      Deno.chmodSync(p, 0o600);
    }
    Deno.linkSync(`${out}/fifo`, `${root}/d/fifo`);
    Deno.linkSync(`${out}/sock`, `${root}/d/sock`);
    Deno.linkSync(`${root}/d/fifo-in`, `${root}/e/fifo-in`);
    Deno.linkSync(`${root}/d/sock-in`, `${root}/e/sock-in`);
    const all = [`${out}/fifo`, `${out}/sock`, `${root}/d/fifo-in`, `${root}/d/sock-in`];
    await ctimesPast(...all); // names settled before the runs (rule 9)
    const facts = (p: string) => {
      const st = Deno.lstatSync(p);
      return [st.uid, st.gid, st.mode! & 0o7777, st.nlink];
    };
    const outBefore = [facts(`${out}/fifo`), facts(`${out}/sock`)];
    assertEquals(outBefore, [[0, 0, 0o600, 2], [0, 0, 0o600, 2]]);
    const inside = ["fifo-in", "sock-in"];
    for (const apply of [false, true]) {
      const args = apply ? ["--apply", "--journal", `${tmp.path}/j`] : [];
      const r = await cli(
        ["repair", ...args, "--force-group-writable", "--errors", "/dev/stderr", root],
      );
      assertEquals(r.code, 0, r.stderr);
      // the names of the files linked in from outside: told, left alone
      const told = [...r.stderr.matchAll(/^"([^"]+)",hardlinks,,/gm)].map((m) => m[1]).sort();
      assertEquals(told, [`${root}/d/fifo`, `${root}/d/sock`], r.stderr);
      assertEquals(
        [facts(`${out}/fifo`), facts(`${out}/sock`)],
        outBefore,
        "changed outside ROOT",
      );
      // the ones whose names are all inside: listed once each (group and
      // mode), under one of their names, flagged in a dry run
      const listed = lines(r.stdout).filter((l) => /(fifo|sock)(-in)?:/.test(l));
      assertEquals(listed.length, 4, listed.join("\n"));
      for (const n of inside) {
        assertEquals(listed.filter((l) => l.includes(`/${n}:`)).length, 2, listed.join("\n"));
      }
      assertEquals(
        listed.every((l) => l.endsWith(" [2 hard links: its other names change too]")),
        !apply,
        listed.join("\n"),
      );
      assertStringIncludes(
        r.stderr,
        `pwalk repair: 2 of them files with other hard links: every name of each ${
          apply ? "was changed" : "would change"
        }`,
      );
    }
    for (const n of inside) {
      assertEquals(facts(`${root}/d/${n}`), [0, G.PROJECT, 0o660, 2], n);
    }
    // chown moves an owner's entries through their first name: once each
    for (const p of all) Deno.chownSync(p, 4242, 4242);
    const c = await cli(["--chown_from", "4242", "--chown_to", "4243:4243", root]);
    assertEquals(c.code, 0, c.stderr);
    const chowned = lines(c.stdout);
    assertEquals(chowned.length, 4, chowned.join("\n"));
    for (const n of ["fifo", "sock", ...inside]) {
      assertEquals(chowned.filter((l) => new RegExp(`/${n}( |$)`).test(l)).length, 1, n);
    }
    closeLibc();
  },
});

/**
 * An LD_PRELOAD shim: just after the walker's stat of a name "mover" (the
 * first time), the name is renamed into the folder SHIM_TO, a subfolder of
 * its own, listed later (one worker): reached there again, it would be
 * counted as a second name of the file.
 */
const MOVER = afterFstatat(
  "move",
  `static int moved;
static void move(int fd, const char *p) {
  if (moved || strcmp(p, "mover")) return;
  moved = 1;
  int t = open(getenv("SHIM_TO"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (t >= 0) {
    renameat(fd, "mover", t, "mover");
    close(t);
  }
}`,
);

shimTest(
  "hard-linked file whose name is moved during the walk into a folder not yet listed: not counted twice, left alone",
  MOVER,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "a", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
      { rel: "a/sub", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    ]);
    // root's private file outside, with one name inside: two names, one reached
    Deno.mkdirSync(`${shim.dir}/outside`);
    const secret = `${shim.dir}/outside/secret`;
    Deno.writeTextFileSync(secret, "s", { mode: 0o600 });
    Deno.chmodSync(secret, 0o600);
    Deno.linkSync(secret, `${root}/a/mover`);
    const before = Deno.lstatSync(secret);
    const r = await shim.cli(
      [
        "repair",
        "--apply",
        "--threads",
        "1",
        "--journal",
        `${shim.dir}/j`,
        "--errors",
        "/dev/stderr",
        root,
      ],
      { SHIM_TO: `${root}/a/sub` },
    );
    assertEquals(r.code, 0, r.stderr);
    // the premise: the name was moved once, after its first sighting
    assert(Deno.lstatSync(`${root}/a/sub/mover`).isFile, "the name was not moved");
    const after = Deno.lstatSync(secret);
    assertEquals([after.gid, after.mode! & 0o7777], [before.gid, before.mode! & 0o7777], r.text);
    assertStringIncludes(r.stderr, ",hardlinks,,");
    closeLibc();
  },
);

Deno.test("hard-linked file whose names changed in the second the run starts in: left alone, told; a later run changes it", async () => {
  await using tmp = await tempDir("pwalk-hlnow-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "d1", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "d2", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    own("d1/A"),
  ]);
  const a = `${root}/d1/A`, b = `${root}/d2/B`;
  const facts = () => {
    const st = Deno.lstatSync(a);
    return [st.gid, st.mode! & 0o7777];
  };
  const before = facts();
  // Where ctime changes once a second (ext4 with 128-byte inodes, Lustre), a
  // user's loop of link and unlink between the walk's two sightings of a
  // file leaves its ctime as it was, and the second name may be one linked
  // in from outside: a ctime of the run's start second proves nothing. The
  // runs must start in the second of the link: early in a second (not in
  // its first milliseconds, which the kernel's coarse clock of ctimes may
  // still count in the second before), link, run (in this process:
  // milliseconds), and the premise is checked after (tried again, the file
  // as it was, the rare time it does not hold).
  for (let attempt = 1;; attempt++) {
    await waitFor(() => Date.now() % 1000 >= 50 && Date.now() % 1000 < 300, {
      what: "the start of a second",
    });
    if (attempt > 1) {
      Deno.removeSync(b);
      Deno.chownSync(a, 1001, 1001); // as own() made it
      Deno.chmodSync(a, 0o600);
    }
    Deno.linkSync(a, b);
    const second = Math.floor(Deno.lstatSync(a).ctime!.getTime() / 1000);
    const dry = await repair(root, { journal: false, listChanges: true });
    const apply = await repair(root, { apply: true, journal: false, listChanges: true });
    if (Math.floor(Date.now() / 1000) !== second) {
      assert(attempt < 5, "the runs never started in the second of the link");
      continue;
    }
    for (const [what, s] of [["dry run", dry], ["apply", apply]] as const) {
      assertEquals(s.changeList, [], what);
      const told = s.errorDetails.filter((e) => e.op === "hardlinks");
      assertEquals(told.length, 1, what);
      assert([a, b].includes(told[0].path), what);
      assertStringIncludes(told[0].message, "names changed during the run or just before it");
    }
    assertEquals(facts(), before, "changed while its names may be changing");
    break;
  }
  // in a later second its names are known to have stayed: changed, through one of them
  await ctimesPast(a);
  const s = await repair(root, { apply: true, journal: false });
  assertEquals(noticesOf(s, "hardlinks"), [], JSON.stringify(s.errorDetails));
  assertEquals(s.entriesChanged, 1);
  assertEquals(facts(), [G.PROJECT, 0o640]);
});

/**
 * An LD_PRELOAD shim: just after the walker's stat of the second name
 * starting "relink-" it reaches, that name is linked as ".relinked" and
 * unlinked again: the file's names are as many as before, its ctime the
 * time now, between that name's counting and its change.
 */
const RELINK = afterFstatat(
  "relink",
  `static int seen;
static void relink(int fd, const char *p) {
  if (strncmp(p, "relink-", 7) || ++seen != 2) return;
  if (linkat(fd, p, fd, ".relinked", 0) == 0) unlinkat(fd, ".relinked", 0);
}`,
);

shimTest(
  "hard-linked file whose names change between their counting and the change: left alone, told",
  RELINK,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "u", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
      own("u/relink-a"),
    ]);
    Deno.linkSync(`${root}/u/relink-a`, `${root}/u/relink-b`);
    await ctimesPast(`${root}/u/relink-a`); // settled when counted
    const before = Deno.lstatSync(`${root}/u/relink-a`);
    const r = await shim.cli(
      [
        "repair",
        "--apply",
        "--threads",
        "1",
        "--journal",
        `${shim.dir}/j`,
        "--errors",
        "/dev/stderr",
        root,
      ],
    );
    assertEquals(r.code, 0, r.stderr);
    const after = Deno.lstatSync(`${root}/u/relink-a`);
    // the premise: its names changed (and came back to two) during the run
    assert(after.ctime!.getTime() > before.ctime!.getTime(), "the names did not change");
    assertEquals(after.nlink, 2);
    assertEquals([after.gid, after.mode! & 0o7777], [before.gid, before.mode! & 0o7777], r.text);
    assertStringIncludes(r.stderr, ",hardlinks,,");
  },
);

Deno.test("--force-group-writable leaves a file with capabilities that keeps its group alone: a member could rewrite it keeping them (audit)", async () => {
  await using tmp = await tempDir("pwalk-capgw-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2775 },
    // of the project's group already: no new group, no owner change
    { rel: "tool", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o750 },
    { rel: "plain", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o750 },
  ]);
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1] + '/tool', 'security.capability',
  struct.pack('<IIIII', 0x02000001, 1 << 13, 0, 0, 0))`,
    root,
  );
  const caps = () =>
    python(
      `import os, sys
print(os.getxattr(sys.argv[1], 'security.capability').hex())`,
      `${root}/tool`,
    );
  const capsBefore = await caps();
  const before = snapshot(root);
  for (const apply of [false, true]) {
    const s = await repair(root, { apply, forceGroupWritable: true, journal: false });
    assertEquals(noticesOf(s, "capability"), [`${root}/tool`], `apply ${apply}`);
    assertStringIncludes(
      s.errorDetails.find((e) => e.op === "capability")!.message,
      "shared mapping",
    );
  }
  const after = snapshot(root);
  assertEquals(after.get("tool"), before.get("tool"), "left exactly as it was");
  assertEquals(await caps(), capsBefore);
  // the file beside it, without capabilities, is made group-writable
  assertEquals(after.get("plain")!.mode & 0o7777, 0o770);
  // without --force-group-writable nothing gives it group write: no notice
  // (its g+r is there already)
  const plain = await repair(root, { apply: true, journal: false });
  assertEquals(noticesOf(plain, "capability"), []);
});

Deno.test("ACL and capability notices: a dry run tells what --apply tells", async () => {
  await using tmp = await tempDir("pwalk-notices-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2775 },
    { rel: "d", type: "dir", uid: 1001, gid: 1001, mode: 0o300 }, // not readable below
    { rel: "tool", type: "file", uid: 1001, gid: 1001, mode: 0o750 },
  ]);
  Deno.linkSync(`${root}/tool`, `${root}/toollink`);
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1] + '/d', 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(
  struct.pack('<HHI', *x) for x in [(1, 7, 0xffffffff), (2, 4, 1005), (4, 0, 0xffffffff),
    (0x10, 5, 0xffffffff), (0x20, 0, 0xffffffff)]))
os.setxattr(sys.argv[1] + '/tool', 'security.capability',
  struct.pack('<IIIII', 0x02000001, 1 << 13, 0, 0, 0))`,
    root,
  );
  // a folder the run cannot read (uid 0 without capabilities): its ACL is
  // read through an O_PATH descriptor all the same
  const dry = await cli(["repair", root], { prefix: UNPRIVILEGED });
  assertStringIncludes(dry.stderr, `pwalk: acl '${root}/d': `);
  // a file with capabilities and two names is told once (at the last name
  // reached, where it is left alone for them), dry run and --apply alike;
  // its names settled first (the attribute just set changed its ctime)
  await ctimesPast(`${root}/tool`);
  for (const apply of [false, true]) {
    const s = await repair(root, { apply, journal: false });
    const told = noticesOf(s, "capability");
    assertEquals(told.length, 1, `${apply}: ${told}`);
    assert([`${root}/tool`, `${root}/toollink`].includes(told[0]), told[0]);
  }
  // chown changes it all the same, through the first name reached: told
  // there once, dry run and --apply alike (a dry run told it at each name)
  for (const apply of [false, true]) {
    const s = await chown(root, { from: 1001, to: { uid: 1002 }, apply, journal: false });
    const told = noticesOf(s, "capability");
    assertEquals(told.length, 1, `chown, apply ${apply}: ${told}`);
    assertEquals(Deno.lstatSync(`${root}/tool`).uid, apply ? 1002 : 1001);
  }
  closeLibc();
});

Deno.test("undo keeps a mode whose mask would shut out users an ACL given since the run names; owner and group go back, with /proc and without (review)", async () => {
  for (const proc of [true, false]) {
    await using tmp = await tempDir("pwalk-undo-acl-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2771 },
      own("shared"), // the owner lets user 1002 read it after the run
      { rel: "modeonly", type: "file", uid: 1001, gid: G.PROJECT, mode: 0o600 }, // the same, g+r alone
      own("plain"), // no ACL: goes back whole
    ]);
    const journal = `${tmp.path}/j`;
    const r = await cli(["repair", "--apply", "--journal", journal, root]);
    assertEquals(r.code, 0, r.stderr);
    for (const rel of ["shared", "modeonly", "plain"]) {
      const st = Deno.lstatSync(`${root}/${rel}`);
      assertEquals([st.gid, st.mode! & 0o7777], [G.PROJECT, 0o640], rel);
    }
    // setfacl -m u:1002:r (user::rw-, user:1002:r--, group::r--, mask::r--, other::---)
    for (const rel of ["shared", "modeonly"]) {
      await python(
        `import os, struct, sys
os.setxattr(sys.argv[1], 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(
  struct.pack('<HHI', *x) for x in [(1, 6, 0xffffffff), (2, 4, 1002), (4, 4, 0xffffffff),
    (0x10, 4, 0xffffffff), (0x20, 0, 0xffffffff)]))`,
        `${root}/${rel}`,
      );
      assertEquals(Deno.lstatSync(`${root}/${rel}`).mode! & 0o7777, 0o640, "the ACL kept the mode");
    }
    const note = "(mode kept: its access ACL names users or groups the old mode's mask would " +
      "shut out (see getfacl))";
    const want = [
      `${root}/modeonly: left as it is ${note}`,
      `${root}/plain: group ${groupShown(G.PROJECT)} -> ${groupShown(1001)}, mode 0640 -> 0600`,
      `${root}/shared: group ${groupShown(G.PROJECT)} -> ${groupShown(1001)} ${note}`,
    ];
    const dry = await cli(["undo", journal]);
    assertEquals(
      dry.text.trimEnd().split("\n").sort(),
      [want[0], `would restore: ${want[1]}`, `would restore: ${want[2]}`],
    );
    // where /proc is not mounted the ACL is read all the same (by name, in the folder above)
    const un = proc
      ? await cli(["undo", "--apply", journal])
      : await cliInMountNamespace("umount -l /proc", ["undo", "--apply", journal]);
    assertEquals(un.code, 0, un.stderr);
    assertEquals(un.text.trimEnd().split("\n").sort(), want, `/proc ${proc}`);
    // the mode kept is no restore
    assertStringIncludes(
      un.stderr,
      "3 journal entries, 2 restored, 0 already as before, 2 with fields kept",
    );
    const [shared, modeonly, plain] = ["shared", "modeonly", "plain"].map((f) =>
      Deno.lstatSync(`${root}/${f}`)
    );
    assertEquals([shared.gid, shared.mode! & 0o7777], [1001, 0o640], "user 1002 shut out");
    assertEquals([modeonly.gid, modeonly.mode! & 0o7777], [G.PROJECT, 0o640]);
    assertEquals([plain.gid, plain.mode! & 0o7777], [1001, 0o600]);
  }
  closeLibc();
});

/** Whether this kernel has getxattrat(2) (Linux 6.13), a dry run's attribute read. */
function hasGetxattrat(): boolean {
  const [major, minor] = Deno.osRelease().split(".").map((x) => parseInt(x, 10));
  return major > 6 || (major === 6 && minor >= 13);
}

testNeeding([STRACE], {
  name:
    "a dry run reads each entry's capability and ACL by name: no descriptor, no /proc lookup per entry",
  ignore: !hasGetxattrat(),
  async fn() {
    // every file here plans a new group (the capability read) and g+r (the
    // ACL read); the dry run made both through an O_PATH open, an fstat, a
    // /proc/self/fd lookup and a close each: 5.7x the report's time on a
    // tree where every entry changes (deno task bench's repair-dry row)
    await using tmp = await tempDir("pwalk-dryreads-");
    const root = `${tmp.path}/proj`;
    const names = Array.from({ length: 40 }, (_, i) => `dryf-${i}`);
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      ...names.map((rel) => own(rel)),
      { rel: "tool", type: "file", uid: 1001, gid: 1001, mode: 0o750 },
    ]);
    await python(
      `import os, struct, sys
os.setxattr(sys.argv[1] + '/tool', 'security.capability',
  struct.pack('<IIIII', 0x02000001, 1 << 13, 0, 0, 0))
os.setxattr(sys.argv[1] + '/dryf-0', 'system.posix_acl_access', struct.pack('<I', 2) + b''.join(
  struct.pack('<HHI', *x) for x in [(1, 6, 0xffffffff), (2, 4, 1005), (4, 0, 0xffffffff),
    (0x10, 0, 0xffffffff), (0x20, 0, 0xffffffff)]))`,
      root,
    );
    const log = `${tmp.path}/strace.log`;
    const r = await cli(["repair", root], {
      prefix: ["strace", "-f", "-o", log, "-e", "trace=openat,getxattr"],
    });
    assertEquals(r.code, 0, r.stderr);
    // what the dry run found is what the attributes hold
    assertStringIncludes(r.stderr, `pwalk: capability '${root}/tool': `);
    assertStringIncludes(r.stderr, `pwalk: acl_named '${root}/dryf-0': `);
    for (const rel of names.slice(1)) assertStringIncludes(r.text, `${root}/${rel}: group`);
    const lines = Deno.readTextFileSync(log).split("\n");
    const opened = lines.filter((l) => /openat\(.*"(dryf-\d+|tool)"/.test(l));
    assertEquals(opened, [], "no entry opened");
    const proc = lines.filter((l) => /getxattr\("\/proc\/self\/fd\//.test(l));
    assertEquals(proc, [], "no attribute read through /proc/self/fd");
  },
});

testNeeding([STRACE], {
  name:
    "per changed entry: no signal mask call, one ACL read, no fstatfs (repair, chown; dry run, --apply)",
  async fn() {
    // each worker blocked and restored SIGXFSZ around every write (three
    // calls), read the ACL twice (before and after the change) and asked
    // fstatfs of every entry it changed. (Its change line is still a write
    // of its own, whole, as it is made: buffered, a cancel cut a line
    // short, notices on stderr came before the lines of entries before
    // them, and --apply to a full stdout went on for 32 KiB of lines.)
    await using tmp = await tempDir("pwalk-perentry-");
    const dirs = ["a", "b", "c"];
    const files = dirs.flatMap((d) => Array.from({ length: 40 }, (_, i) => `${d}/f${i}`));
    const n = files.length;
    const runs: [string, string[], boolean][] = [
      ["repair", ["repair"], false],
      ["repair --apply", ["repair", "--apply", "--journal", "JOURNAL"], false],
      ["chown", ["chown", "--chown_from", "1001", "--chown_to", `1002:${G.PROJECT}`], true],
      ["chown --apply", [
        "chown",
        "--apply",
        "--journal",
        "JOURNAL",
        "--chown_from",
        "1001",
        "--chown_to",
        `1002:${G.PROJECT}`,
      ], true],
    ];
    for (const [k, [what, args, chownMode]] of runs.entries()) {
      const root = `${tmp.path}/proj${k}`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        ...dirs.map(shared),
        ...files.map((rel) => own(rel)),
      ]);
      const log = `${tmp.path}/strace${k}.log`;
      const argv = [...args.map((a) => a === "JOURNAL" ? `${tmp.path}/j${k}` : a), root];
      const r = await cli(argv, { prefix: ["strace", "-f", "-o", log] });
      assertEquals(r.code, 0, `${what}: ${r.stderr}`);
      // every file changes, listed (the lines are the independent check
      // that the work was done: one per file, each path once)
      for (const rel of files) {
        const path = `${root}/${rel}`;
        assert(r.text.includes(`${path}: `) || r.text.includes(`${path}\n`), `${what}: ${path}`);
      }
      const after = snapshot(root);
      for (const rel of files) {
        const e = after.get(rel)!;
        const applied = args.includes("--apply");
        if (chownMode) {
          assertEquals([e.uid, e.gid], applied ? [1002, G.PROJECT] : [1001, 1001], what);
        } else assertEquals(e.gid, applied ? G.PROJECT : 1001, what);
      }
      const lines = Deno.readTextFileSync(log).split("\n").filter((l) => !l.includes("resumed>"));
      // the library's worker threads: those that stat the tree's files
      const tids = new Set(
        lines.filter((l) => /^\d+ +newfstatat\(\d+, "f\d+"/.test(l)).map((l) => l.split(" ")[0]),
      );
      assert(tids.size > 0, `${what}: no worker thread found in the trace`);
      // the calls matching `re` of each worker thread
      const perWorker = (re: RegExp) =>
        [...tids].map((t) =>
          lines.filter((l) => l.split(" ")[0] === t && re.test(l.replace(/^\d+ +/, ""))).length
        );
      const byWorkers = (re: RegExp) => perWorker(re).reduce((a, b) => a + b, 0);
      // Each worker makes a few mask calls of its own, however many entries
      // it takes: at its start, and glibc's around its first look-ups of a
      // group or user name (about 11 in all, counted per thread); a call
      // per entry would be 3 for each (block, pending, restore).
      const most = Math.max(...perWorker(/^rt_sig(procmask|pending)\(/));
      assert(
        most <= 16,
        `${what}: ${most} signal mask calls in one worker (${n} entries, ${tids.size} workers)`,
      );
      const statfs = byWorkers(/^fstatfs\(/);
      assert(statfs <= dirs.length + 2, `${what}: ${statfs} fstatfs for ${n} entries`);
      if (!chownMode) {
        // by name in a dry run (getxattrat), through the descriptor with --apply
        const acl = args.includes("--apply")
          ? byWorkers(/^getxattr\(.*"system\.posix_acl_access"/)
          : byWorkers(/^(getxattrat|syscall_0x1d0)\(/) - n; // (less the capability reads)
        assert(
          acl >= n && acl <= n + dirs.length + 1,
          `${what}: ${acl} ACL reads for ${n} entries`,
        );
      }
    }
  },
});

/** A tree of files 6 folders down, each needing a change: for undo's path walk. */
function deepTree(root: string, files: number): string[] {
  const folders = ["d1", "d1/d2", "d1/d2/d3", "d1/d2/d3/d4", "d1/d2/d3/d4/d5", "d1/d2/d3/d4/d5/d6"];
  const rels = Array.from({ length: files }, (_, i) => `${folders.at(-1)}/f${i}`);
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    ...folders.map(shared),
    ...rels.map((rel) => own(rel)),
  ]);
  return rels;
}

/** {@link deepTree} in `dir`/proj, repaired with --apply: the journal undo takes, and the tree before. */
async function repairedDeepTree(dir: string, files: number) {
  const root = `${dir}/proj`;
  const rels = deepTree(root, files);
  const before = snapshot(root);
  const journal = `${dir}/j`;
  assertEquals((await cli(["repair", "--apply", "--journal", journal, root])).code, 0);
  assertEquals(diffSnapshots(before, snapshot(root), ["gid"]).length, rels.length);
  return { root, rels, before, journal };
}

testNeeding([STRACE], {
  name:
    "undo --apply opens each entry in one call however deep (openat2 beneath the root, no link followed) and writes its lines together",
  async fn() {
    // undo reached each journal path a folder at a time: an open and a
    // close per component (6 folders down: 15 calls more per entry than
    // one openat2), and wrote each entry's line by itself
    await using tmp = await tempDir("pwalk-undoopen-");
    const { root, rels, before, journal } = await repairedDeepTree(tmp.path, 60);
    const log = `${tmp.path}/strace.log`;
    const r = await cli(["undo", "--apply", journal], {
      prefix: ["strace", "-f", "-s", "200", "-o", log],
    });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree is as before the repair");
    for (const rel of rels) assertStringIncludes(r.text, `${root}/${rel}: `);
    const lines = Deno.readTextFileSync(log).split("\n").filter((l) => !l.includes("resumed>"));
    const opens = lines.filter((l) => /^\d+ +openat2?\(\d+, "(d\d|f\d+)/.test(l));
    const deep = opens.filter((l) => l.includes(`"d1/d2/d3/d4/d5/d6/f`));
    assertEquals(deep.length, rels.length, "one open of each file, its whole path");
    assert(deep.every((l) => /RESOLVE_NO_SYMLINKS/.test(l) && /RESOLVE_BENEATH/.test(l)), deep[0]);
    assert(opens.length <= rels.length + 8, `${opens.length} opens for ${rels.length} entries`);
    const writes = lines.filter((l) => new RegExp(`^\\d+ +write\\(\\d+, "${root}/`).test(l));
    // (together: every 1000 entries or 50 ms, which a traced run on a
    // loaded machine may pass a few times; one per entry would be 60)
    assert(
      writes.length > 0 && writes.length < rels.length / 4,
      `${writes.length} writes of undo's lines for ${rels.length} entries`,
    );
  },
});

/**
 * Python (fd-relative, past PATH_MAX) on the chain of {@link deepChainUndo}:
 * "build" it, "swap" its folder at level 20 for a link to it (renamed
 * "moved"), or "dump" each entry's path below ROOT, owner, group and mode
 * as JSON.
 */
const DEEP_CHAIN_PY = `import os, sys, json, stat
what, root = sys.argv[1], sys.argv[2].encode()
name = lambda i: b'c%02d' % i + b'y' * 250
if what == 'build':
    os.makedirs(root); fd = os.open(root, os.O_RDONLY)
    for i in range(24):
        os.mkdir(name(i), dir_fd=fd)
        for f in (b'f', b'g\\n', b'\\xffh'):
            os.close(os.open(f, os.O_CREAT | os.O_WRONLY, 0o640, dir_fd=fd))
            os.chown(f, 61001, 61001, dir_fd=fd, follow_symlinks=False)
        os.chown(name(i), 61001, 61001, dir_fd=fd, follow_symlinks=False)
        m = os.open(name(i), os.O_RDONLY, dir_fd=fd); os.close(fd); fd = m
elif what == 'swap':
    fd = os.open(root, os.O_RDONLY)
    for i in range(20):
        m = os.open(name(i), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd); os.close(fd); fd = m
    os.rename(name(20), b'moved', src_dir_fd=fd, dst_dir_fd=fd); os.symlink(b'moved', name(20), dir_fd=fd)
else:
    out = {}
    def visit(fd, rel):
        for e in os.listdir(fd):
            e = os.fsencode(e); r = rel + b'/' + e if rel else e
            st = os.stat(e, dir_fd=fd, follow_symlinks=False)
            out[r.hex()] = [st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)]
            if stat.S_ISDIR(st.st_mode):
                c = os.open(e, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd); visit(c, r); os.close(c)
    visit(os.open(root, os.O_RDONLY), b'')
    print(json.dumps(out))`;

testNeeding([STRACE, PYTHON3], {
  name:
    "undo --apply past PATH_MAX: each entry reached from ROOT in a few openat2 calls, a stretch of its path within PATH_MAX each, no link followed; below a folder swapped for a link since the run, nothing changes",
  async fn() {
    // past PATH_MAX (openat2 refuses the whole path: ENAMETOOLONG) undo
    // reached each entry a folder at a time: an open and a close per
    // component, 5,000 folders down 10,000 calls for each journal line
    await using tmp = await tempDir("pwalk-undodeep-");
    const root = `${tmp.path}/proj`;
    await python(DEEP_CHAIN_PY, "build", root);
    const dump = async () =>
      JSON.parse(await python(DEEP_CHAIN_PY, "dump", root)) as Record<string, number[]>;
    const before = await dump();
    const journal = `${tmp.path}/j`;
    const c = ["--chown_from", "61001", "--chown_to", "61002:61002", "--apply", "--journal"];
    assertEquals((await cli([...c, journal, root])).code, 0);
    const changed = await dump();
    assertEquals(Object.values(changed).filter(([u]) => u === 61002).length, 24 * 4);
    // the folder at level 20 renamed, a link to it in its place
    await python(DEEP_CHAIN_PY, "swap", root);
    const log = `${tmp.path}/strace.log`;
    const r = await cli(["undo", "--apply", journal], {
      prefix: ["strace", "-f", "-s", "5000", "-o", log],
    });
    assertEquals(r.code, 0, r.stderr); // (the lines below the link: errors, left alone)
    const after = await dump();
    const hex = (s: string) =>
      Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");
    const c20 = hex(`c20${"y".repeat(250)}`);
    let kept = 0;
    for (const [rel, was] of Object.entries(before)) {
      if (rel.startsWith(`${hex("moved")}`) || rel.includes(hex("/moved"))) continue;
      const below = rel.includes(`${hex("/")}${c20}${hex("/")}`);
      if (rel.endsWith(c20)) continue; // (now the link; the folder is "moved")
      if (below) continue;
      assertEquals(after[rel], was, `restored: ${rel.length / 2} bytes deep`);
    }
    // what the run changed below the link: left alone, where it is now
    for (const [rel, now] of Object.entries(after)) {
      if (rel.includes(hex("moved"))) {
        assertEquals(now.slice(0, 2), [61002, 61002], "left alone below the link");
        kept++;
      }
    }
    assertEquals(kept, 13); // moved, c21, c22, c23, and the 3 files of each but c23
    assertStringIncludes(
      r.stderr,
      "a symbolic link (or a non-folder) is on the way now: left alone",
    );
    const lines = Deno.readTextFileSync(log).split("\n").filter((l) => !l.includes("resumed>"));
    const opens = lines.filter((l) => /^\d+ +openat2?\(\d+, "c\d\d/.test(l));
    // every open relative to a descriptor, beneath it, never following a link
    for (const l of opens) {
      const path = l.slice(l.indexOf('"') + 1, l.indexOf('"', l.indexOf('"') + 1));
      assert(path.split("/").every((n) => n !== ".." && n !== "." && n !== ""), l);
      assert(path.length < 4096, `${path.length} bytes in one call`);
    }
    const stretches = opens.filter((l) => /^\d+ +openat2\(/.test(l));
    assert(
      stretches.every((l) => /RESOLVE_NO_SYMLINKS/.test(l) && /RESOLVE_BENEATH/.test(l)),
      stretches[0],
    );
    assert(
      opens.filter((l) => /^\d+ +openat\(/.test(l)).every((l) => /O_NOFOLLOW/.test(l)),
      "each name opened alone: O_NOFOLLOW",
    );
    // 96 lines, 24 levels, PATH_MAX crossed at the 17th: a folder at a
    // time, the 32 lines past it took some 650 opens; in stretches of 16
    // names, about 2 a line (the loop's own opens only from the link on)
    assert(opens.length < 96 * 3, `${opens.length} opens for 96 journal lines`);
  },
});

shimTest(
  "undo --apply where openat2 is refused (ENOSYS: before Linux 5.6, or a seccomp filter): asked once, then a folder at a time, the same tree back",
  `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
long syscall(long n, ...) {
  static long (*real)(long, ...);
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, n);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  if (n == 437 /* openat2 */) {
    const char *log = getenv("OPENAT2_LOG");
    int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd >= 0) {
      (void)!write(fd, "x", 1);
      close(fd);
    }
    errno = ENOSYS;
    return -1;
  }
  return real(n, a, b, c, d, e, f);
}
`,
  async (shim) => {
    const { root, rels, before, journal } = await repairedDeepTree(shim.dir, 30);
    const log = `${shim.dir}/openat2.log`;
    const r = await shim.cli(["undo", "--apply", journal], { OPENAT2_LOG: log });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree is as before the repair");
    for (const rel of rels) assertStringIncludes(r.text, `${root}/${rel}: `);
    assertEquals(Deno.readTextFileSync(log), "x", "openat2 asked once, never again after ENOSYS");
  },
);

Deno.test("hard links: a file is changed, listed and counted once, dry run as --apply; two groups told", async () => {
  await using tmp = await tempDir("pwalk-links-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "a", type: "dir", uid: 1001, gid: 5000, mode: 0o2750 },
    { rel: "b", type: "dir", uid: 1001, gid: 6000, mode: 0o2750 },
    { rel: "c", type: "dir", uid: 1001, gid: 5000, mode: 0o2750 },
    { rel: "a/f", type: "file", uid: 1001, gid: 1001, mode: 0o640 },
    { rel: "a/g", type: "file", uid: 1001, gid: 1001, mode: 0o640 },
  ]);
  Deno.linkSync(`${root}/a/f`, `${root}/b/f2`); // under two shared groups
  Deno.linkSync(`${root}/a/g`, `${root}/c/g2`); // under one
  await ctimesPast(`${root}/a/f`, `${root}/a/g`); // names settled before the runs (rule 9)
  const notices = (s: Notices) => noticesOf(s, "links");
  const dry = await repair(root, { journal: false, listChanges: true });
  const apply = await repair(root, { apply: true, journal: false, listChanges: true });
  for (const [what, s] of [["dry run", dry], ["apply", apply]] as const) {
    assertEquals(s.entriesChanged, 2, what); // one per inode
    assertEquals(s.changeList!.length, 2, what);
    assertEquals(notices(s).length, 1, what);
    assert([`${root}/a/f`, `${root}/b/f2`].includes(notices(s)[0]), what);
  }
  const f = Deno.lstatSync(`${root}/a/f`), g = Deno.lstatSync(`${root}/a/g`);
  assert([5000, 6000].includes(f.gid!), `${f.gid}`);
  assertEquals(g.gid, 5000);
});

Deno.test("hard links under two shared groups, --threads 1: the first name's plan, rule 4 and capabilities by the group the file gets; the dry run lists what --apply changes", async (t) => {
  await using tmp = await tempDir("pwalk-links1-");
  const OTHER = 6001;
  // A private file of uid 5000 (group 5000) named f in ROOT and t/f in a
  // subfolder of another shared group. With one thread a folder's files are
  // all reached before anything below its subfolders: f first, t/f last.
  const cases = [
    {
      what: "setgid program given another group by its first name: setgid goes (rule 4)",
      top: OTHER,
      sub: G.PROJECT,
      mode: 0o2711,
      want: [OTHER, 0o751],
    },
    {
      what: "setuid program whose first name keeps its group: setuid stays",
      top: G.PROJECT,
      sub: OTHER,
      mode: 0o4711,
      want: [G.PROJECT, 0o4751],
    },
    {
      what: "file capabilities, first name keeps the group: the mode changes, capabilities kept",
      top: G.PROJECT,
      sub: OTHER,
      mode: 0o700,
      caps: true,
      want: [G.PROJECT, 0o740],
    },
    {
      what: "the first name's plan changes nothing: left as it is, all names reached",
      top: G.PROJECT,
      sub: OTHER,
      mode: 0o640,
      want: [G.PROJECT, 0o640],
    },
    {
      what: "the last name's own plan changes nothing: changed through it as the first planned",
      top: OTHER,
      sub: G.PROJECT,
      mode: 0o640,
      want: [OTHER, 0o640],
    },
  ];
  const notices = (stderr: string, op: string) =>
    [...stderr.matchAll(new RegExp(`^pwalk: ${op} '([^']+)'`, "gm"))].map((m) => m[1]);
  for (const [i, c] of cases.entries()) {
    await t.step(c.what, async () => {
      const root = `${tmp.path}/p${i}`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: c.top, mode: 0o2775 },
        { rel: "t", type: "dir", uid: 100, gid: c.sub, mode: 0o2775 },
        { rel: "f", type: "file", uid: 5000, gid: 5000, mode: c.mode },
      ]);
      const f = `${root}/f`, last = `${root}/t/f`;
      if (c.caps) {
        await python(
          `import os, struct, sys
os.setxattr(sys.argv[1], 'security.capability', struct.pack('<IIIII', 0x02000001, 1 << 13, 0, 0, 0))`,
          f,
        );
      }
      Deno.linkSync(f, last);
      await ctimesPast(f); // names settled before the runs (rule 9)
      const facts = () => {
        const st = Deno.lstatSync(f);
        return [st.gid!, st.mode! & 0o7777];
      };
      const before = facts();
      const dry = await cli(["repair", "--threads", "1", root]);
      assertEquals(dry.code, 0, dry.stderr);
      assertEquals(facts(), before, "the dry run changed it");
      const apply = await cli(
        ["repair", "--apply", "--threads", "1", "--journal", `${tmp.path}/j${i}`, root],
      );
      assertEquals(apply.code, 0, apply.stderr);
      const after = facts();
      assertEquals(after, c.want, apply.text + apply.stderr);
      // --apply's lines are what lstat shows changed, through the last name
      const oct = (m: number) => m.toString(8).padStart(4, "0");
      const want = [
        ...(after[0] !== before[0]
          ? [`${last}: group ${groupShown(before[0])} -> ${groupShown(after[0])}`]
          : []),
        ...(after[1] !== before[1] ? [`${last}: mode ${oct(before[1])} -> ${oct(after[1])}`] : []),
      ].sort();
      assertEquals(lines(apply.stdout), want, apply.stderr);
      // and the dry run listed exactly those
      const listed = lines(dry.stdout).map((l) =>
        l.replace(/^would change: /, "").replace(
          / \[2 hard links: its other names change too\]$/,
          "",
        )
      );
      assertEquals(listed, want, dry.stderr);
      for (const r of [dry, apply]) {
        // every name reached: nothing told of names outside the tree
        assertEquals(notices(r.stderr, "hardlinks"), [], r.stderr);
        assertEquals(notices(r.stderr, "capability"), [], r.stderr);
        assertEquals(notices(r.stderr, "links"), [last], r.stderr);
      }
      if (c.caps) {
        const kept = await python(
          `import os, sys
print(os.getxattr(sys.argv[1], 'security.capability').hex())`,
          f,
        );
        assertEquals(kept.trim(), "0100000200200000000000000000000000000000");
      }
    });
  }
});

Deno.test("hard links under two shared groups: the links notice names the group the file takes, its name reached first and this name's folder's group, as the change lines and lstat show (audit)", async () => {
  await using tmp = await tempDir("pwalk-links2-");
  const root = `${tmp.path}/lk`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2775 },
    { rel: "g1", type: "dir", uid: 100, gid: 6000, mode: 0o2775 },
    { rel: "g2", type: "dir", uid: 100, gid: 7000, mode: 0o2775 },
    { rel: "g1/f", type: "file", uid: 1042, gid: 1042, mode: 0o644 },
  ]);
  Deno.linkSync(`${root}/g1/f`, `${root}/g2/f`);
  await ctimesPast(`${root}/g1/f`); // names settled before the runs (rule 9)
  const names = [`${root}/g1/f`, `${root}/g2/f`];
  const gidOf = (p: string) => Deno.lstatSync(p).gid!;
  for (const args of [[], ["--apply", "--journal", `${tmp.path}/j`]]) {
    const r = await cli(["repair", "--threads", "1", ...args, root]);
    assertEquals(r.code, 0, r.stderr);
    const told = [...r.stderr.matchAll(/^pwalk: links '([^']+)': (.*)$/gm)];
    assertEquals(told.length, 1, r.stderr);
    const [, at, text] = told[0];
    assert(names.includes(at), at);
    const other = names.find((n) => n !== at)!;
    // the group change is listed once, under the last name reached
    const changes = lines(r.stdout).filter((l) => l.includes(": group "));
    assertEquals(changes.length, 1, r.text);
    const took = Number(changes[0].match(/-> (\d+)/)![1]);
    if (args.length) assertEquals(gidOf(other), took, "the group lstat shows");
    // took: the group of the other name's folder, reached first
    assertEquals(took, gidOf(other.slice(0, other.lastIndexOf("/"))));
    // (groups as the lines show them: "6000 (name)" where 6000 has one)
    assertStringIncludes(
      text,
      `it takes group ${groupShown(took)}, that of the folder above its name `,
    );
    assertStringIncludes(text, `reached first (${other})`);
    assertStringIncludes(
      text,
      `not this name's folder's group ${groupShown(gidOf(at.slice(0, at.lastIndexOf("/"))))}`,
    );
    assert(!text.includes("not changed again"), text);
  }
});

Deno.test("hard links of a file in a shared group, under folders of two shared groups: it keeps its group, no links notice (it would name one group twice: review)", async () => {
  await using tmp = await tempDir("pwalk-links3-");
  const root = `${tmp.path}/lk`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "a", type: "dir", uid: 100, gid: G.OTHER, mode: 0o2770 },
    { rel: "b", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    // one in the group of b, reached second; one in the group of a
    { rel: "a/f", type: "file", uid: 1042, gid: G.PROJECT, mode: 0o600 },
    { rel: "b/g", type: "file", uid: 1042, gid: G.OTHER, mode: 0o600 },
  ]);
  Deno.linkSync(`${root}/a/f`, `${root}/b/f`);
  Deno.linkSync(`${root}/b/g`, `${root}/a/g`);
  await ctimesPast(`${root}/a/f`, `${root}/b/g`); // names settled before the runs (rule 9)
  for (const args of [[], ["--apply", "--journal", `${tmp.path}/j`]]) {
    const r = await cli(["repair", "--threads", "1", ...args, root]);
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stderr.includes("pwalk: links '"), r.stderr);
    assertStringIncludes(r.stderr, " 0 errors in ");
    // each file's mode once, its group never
    const changes = lines(r.stdout);
    assertEquals(changes.filter((l) => l.includes(": group ")), [], r.text);
    assertEquals(changes.filter((l) => l.includes(": mode 0600 -> 0640")).length, 2, r.text);
  }
  for (const [name, gid] of [["a/f", G.PROJECT], ["b/g", G.OTHER]] as const) {
    const st = Deno.lstatSync(`${root}/${name}`);
    assertEquals([st.gid, st.mode! & 0o7777], [gid, 0o640], name);
  }
});

Deno.test("hard links whose first name has no shared group above it: left alone, and the links notice says so, dry run and --apply", async () => {
  await using tmp = await tempDir("pwalk-links0-");
  // ROOT private, with no shared group above it (the temporary folder and
  // /tmp are root's, group 0); x in ROOT, reached first with one thread,
  // and S/x, a name of it below a shared group
  const root = `${tmp.path}/h`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 1042, gid: 1042, mode: 0o755 },
    { rel: "x", type: "file", uid: 1042, gid: 1042, mode: 0o600 },
    { rel: "S", type: "dir", uid: 1042, gid: G.PROJECT, mode: 0o2775 },
  ]);
  Deno.linkSync(`${root}/x`, `${root}/S/x`);
  await ctimesPast(`${root}/x`); // names settled before the runs (rule 9)
  const facts = () => {
    const st = Deno.lstatSync(`${root}/x`);
    return [st.gid!, st.mode! & 0o7777, st.nlink];
  };
  assertEquals(facts(), [1042, 0o600, 2]);
  for (const args of [[], ["--apply", "--journal", `${tmp.path}/j`]]) {
    const r = await cli(["repair", "--threads", "1", ...args, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(facts(), [1042, 0o600, 2], r.stderr);
    assertEquals(lines(r.stdout), [], r.stderr);
    assert(!r.stderr.includes("takes the group of the name reached first"), r.stderr);
    assertStringIncludes(
      r.stderr,
      `pwalk: links '${root}/S/x': a file with hard links: the name reached first has no folder ` +
        "with a shared group above it, so the file is left as it is, and not changed for this " +
        "one either\n",
    );
    assertStringIncludes(r.stderr, `pwalk: ancestor '${root}': no ancestor folder`);
  }
});

Deno.test("hard links, one name below its own group shared (a folder of another owner), the other below none: a links notice at the second name, whichever comes first; a set-id file left alone has no setid notice (review of the rules)", async () => {
  await using tmp = await tempDir("pwalk-links1-");
  // p: owner 0, group 1001 (shared for that folder, the file's own
  // group); q/r: no shared group above (root's group 0 up to /)
  const tree = (root: string, first: "p" | "q") => {
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      // listed before the other with one thread: named to come first
      { rel: first === "p" ? "a" : "b", type: "dir", uid: 0, gid: 1001, mode: 0o2755 },
      { rel: first === "p" ? "b" : "a", type: "dir", uid: 0, gid: 0, mode: 0o755 },
    ]);
  };
  for (const first of ["p", "q"] as const) {
    const root = `${tmp.path}/${first}`;
    tree(root, first);
    const [shared, none] = first === "p" ? ["a", "b"] : ["b", "a"];
    Deno.writeTextFileSync(`${root}/${shared}/y`, "y");
    Deno.chownSync(`${root}/${shared}/y`, 1001, 1001);
    Deno.chmodSync(`${root}/${shared}/y`, 0o600);
    Deno.linkSync(`${root}/${shared}/y`, `${root}/${none}/y`);
    await ctimesPast(`${root}/${shared}/y`);
    const r = await cli(["repair", "--threads", "1", root]);
    assertEquals(r.code, 0, r.stderr);
    const second = first === "p" ? `${root}/${none}/y` : `${root}/${shared}/y`;
    const notices = r.stderr.split("\n").filter((l) => l.startsWith("pwalk: links '"));
    assertEquals(notices.length, 1, r.stderr);
    assertStringIncludes(notices[0], `pwalk: links '${second}': a file with hard links`);
    assertStringIncludes(
      notices[0],
      first === "p"
        ? `it takes group ${groupShown(1001)}, that of the folder above its name reached first`
        : "the name reached first has no folder with a shared group above it",
    );
  }
  // a setuid file of two names below private groups only: rule 2 leaves
  // it entirely alone (no "the other rules applied" notice); nor one name
  const root = `${tmp.path}/s`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
    { rel: "a", type: "dir", uid: 1002, gid: 1002, mode: 0o755 },
    { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o4755 },
    { rel: "g", type: "file", uid: 1001, gid: 1001, mode: 0o4755 },
  ]);
  Deno.linkSync(`${root}/f`, `${root}/a/f2`);
  await ctimesPast(`${root}/f`);
  for (const args of [[], ["--apply", "--journal", `${tmp.path}/j`]]) {
    const r = await cli(["repair", "--force-group-writable", "--threads", "1", ...args, root]);
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stderr.includes("pwalk: setid '"), r.stderr);
    assertEquals(lines(r.stdout), [], r.stderr);
  }
});

Deno.test("hard-linked files: what repair keeps of each once all its names are reached is a slot, not its names and path (24,000 files, 2 names)", async () => {
  await using tmp = await tempDir("pwalk-linkmem-");
  const root = `${tmp.path}/p`;
  const N = 24_000;
  // 24 folders of a shared group; in each, files f<i> with a second name
  // g<i> beside them (long names, as data files have), already shared
  // (group 5000, 0640): nothing to plan, nothing counted
  await python(
    `import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.mkdir(root); os.chown(root, 100, 5000); os.chmod(root, 0o2775)
pad = "-" + "x" * 80
for d in range(24):
    p = f"{root}/d{d}"; os.mkdir(p); os.chown(p, 100, 5000); os.chmod(p, 0o2775)
for i in range(n):
    f = f"{root}/d{i % 24}/f{i}{pad}"
    fd = os.open(f, os.O_CREAT | os.O_WRONLY, 0o640); os.fchown(fd, 1042, 5000); os.close(fd)
    os.link(f, f"{root}/d{i % 24}/g{i}{pad}")`,
    root,
    String(N),
  );
  const child = `${tmp.path}/child.ts`;
  Deno.writeTextFileSync(
    child,
    `import { repair } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
const s = await repair(Deno.args[0], { threads: 4, journal: false });
const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))![1]);
console.log(JSON.stringify({ changed: s.entriesChanged, linked: s.hardLinked, errors: s.errors, hwm }));
`,
  );
  const peak = async () => {
    const r = await run(Deno.execPath(), ["run", "-A", child, root]);
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(r.text);
  };
  const shared = await peak();
  assertEquals([shared.changed, shared.linked, shared.errors], [0, 0, 0]);
  // now each file private (1042:1042, 0600): every one planned, through
  // both of its names, and counted at each (rule 9)
  await python(
    `import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    f = f"{root}/d{i % 24}/f{i}-" + "x" * 80
    os.chown(f, 1042, 1042); os.chmod(f, 0o600)`,
    root,
    String(N),
  );
  await ctimesPast(`${root}/d${(N - 1) % 24}/f${N - 1}-${"x".repeat(80)}`);
  const linked = await peak();
  assertEquals([linked.changed, linked.linked, linked.errors], [N, N, 0]);
  // a 32-byte slot in a table at most half full (and the table before its
  // last growth, freed after it), and the files whose second name is not
  // reached yet: 180 bytes a file here; each slot kept the first name's
  // path and its names' array besides till the run ended: 480 bytes
  const perFile = (linked.hwm - shared.hwm) * 1024 / N;
  assert(perFile < 320, `${Math.round(perFile)} bytes per hard-linked file`);
});

Deno.test("repair --apply where /proc is not mounted: modes set all the same, or refused before any change", async () => {
  await using tmp = await tempDir("pwalk-noproc-");
  const root = `${tmp.path}/proj`;
  const spec: EntrySpec[] = [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("a", "dir"),
    own("a/f"),
    { rel: "a/x", type: "file", uid: 1001, gid: 1001, mode: 0o4700 },
    own("b"),
  ];
  buildTree(root, spec);
  const before = snapshot(root);
  const want = expectRepair(root, before);
  // a mount namespace of its own, /proc unmounted in it (as in some containers)
  const r = await cliInMountNamespace("umount -l /proc", [
    "repair",
    "--apply",
    "--journal",
    `${tmp.path}/j`,
    root,
  ]);
  if (r.code === 1) {
    // a kernel without fchmodat2 (before Linux 6.6): refused, nothing changed
    assertStringIncludes(r.stderr, "/proc is not mounted");
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  } else {
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
    assert(!r.stderr.includes("chmod"), r.stderr);
    // and undo, there too, puts every mode back
    const u = await cliInMountNamespace("umount -l /proc", ["undo", "--apply", `${tmp.path}/j`]);
    assertEquals(u.code, 0, u.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  }
  closeLibc();
});

Deno.test("where /proc is not mounted: a FIFO's ACL is read all the same, an existing --errors FILE is rewritten, and the commands that need Deno's Node.js layer say so in one line", async () => {
  await using tmp = await tempDir("pwalk-noproc-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "shut", type: "fifo", uid: 1001, gid: 1001, mode: 0o600 },
  ]);
  // user::rw- user:1005:rw- group::--- mask::--- other::---: the mask shuts 1005 out
  await python(
    `import os, struct, sys
os.setxattr(sys.argv[1], 'system.posix_acl_access', struct.pack('<I',2)+b''.join(
  struct.pack('<HHI',*x) for x in [(1,6,0xffffffff),(2,6,1005),(4,0,0xffffffff),(0x10,0,0xffffffff),(0x20,0,0xffffffff)]))`,
    `${root}/shut`,
  );
  const before = snapshot(root);
  const errors = `${tmp.path}/errors.csv`;
  Deno.writeTextFileSync(errors, "an old list\n");
  // with /proc, for reference: the FIFO is left alone, its named entry told
  const withProc = await cli(["repair", "--apply", "--journal", `${tmp.path}/j0`, root]);
  assertEquals(withProc.code, 0, withProc.stderr);
  assertStringIncludes(withProc.stderr, `acl_named '${root}/shut': its access ACL names users`);
  const r = await cliInMountNamespace("umount -l /proc", [
    "repair",
    "--apply",
    "--journal",
    `${tmp.path}/j`,
    "--errors",
    errors,
    root,
  ]);
  const [major, minor] = Deno.osRelease().split(".").map(Number);
  if (r.code === 1) {
    // a kernel without fchmodat2 (before Linux 6.6): refused, nothing changed
    assertStringIncludes(r.stderr, "/proc is not mounted");
  } else if (major * 1000 + minor < 6013) {
    // no getxattrat (Linux 6.13) either: unreadable, so left alone all the same
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, "its access ACL could not be read (Function not implemented)");
  } else {
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `acl_named '${root}/shut': its access ACL names users`);
    const rows = Deno.readTextFileSync(errors).split("\n");
    assertEquals(rows[0], "path,operation,errno,message");
    assertStringIncludes(rows[1], `"${root}/shut",acl_named,,"its access ACL names users`);
  }
  assertEquals(diffSnapshots(before, snapshot(root)), [], "the FIFO was changed");
  // an answer, which loads DuckDB: one line, status 1, not Deno's panic
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  for (
    const args of [["summary", scan], ["convert", scan, `${tmp.path}/s.parquet`], [
      "plan",
      "--help",
    ]]
  ) {
    const a = await cliInMountNamespace("umount -l /proc", args);
    assertEquals(a.code, 1, a.stderr);
    assertEquals(
      a.stderr,
      `pwalk ${args[0]}: /proc is not mounted, and Deno's Node.js layer, which this command ` +
        "loads, needs it: mount /proc (report, repair, chown and undo run without it)\n",
    );
  }
  closeLibc();
});

Deno.test("repair --apply where /proc is a plain folder with planted fd links: nothing outside ROOT changes", async () => {
  await using tmp = await tempDir("pwalk-fakeproc-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("a", "dir"),
    own("a/f"),
  ]);
  const victim = `${tmp.path}/victim`;
  Deno.writeTextFileSync(victim, "v");
  Deno.chmodSync(victim, 0o600);
  const before = snapshot(root);
  const want = expectRepair(root, before);
  // a mount namespace whose /proc is a tmpfs (a chroot's ordinary folder),
  // every self/fd/N a link to the victim
  const r = await cliInMountNamespace(
    `mount -t tmpfs tmpfs /proc && mkdir -p /proc/self/fd && ` +
      `for i in $(seq 0 255); do ln -s "$VICTIM" /proc/self/fd/$i; done`,
    ["repair", "--apply", "--journal", `${tmp.path}/j`, root],
    { VICTIM: victim },
  );
  assertEquals(Deno.lstatSync(victim).mode! & 0o7777, 0o600, "the planted link was followed");
  if (r.code === 1) {
    // a kernel without fchmodat2 (before Linux 6.6): refused, nothing changed
    assertStringIncludes(r.stderr, "/proc is not mounted");
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  } else {
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
  }
  closeLibc();
});

/**
 * An LD_PRELOAD shim: each fdatasync(fd) first appends the file's size at
 * that moment to $SHIM_LOG, one number a line, so the test sees which of
 * the journal's lines had reached the disk when.
 */
const DATASYNC_LOG = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
typedef int (*sync_fn)(int);
int fdatasync(int fd) {
  static sync_fn real;
  if (!real) real = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
  struct stat st;
  const char *log = getenv("SHIM_LOG");
  if (log && fstat(fd, &st) == 0) {
    char b[32];
    int n = snprintf(b, sizeof b, "%lld\\n", (long long)st.st_size);
    int l = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (l >= 0) { if (write(l, b, n) != n) {} close(l); }
  }
  return real(fd);
}
/* with $SHIM_SLOW_US, each change of owner takes that long (a slow file system) */
typedef int (*chown_fn)(int, const char *, uid_t, gid_t, int);
int fchownat(int fd, const char *p, uid_t u, gid_t g, int fl) {
  static chown_fn real;
  if (!real) real = (chown_fn)dlsym(RTLD_NEXT, "fchownat");
  const char *slow = getenv("SHIM_SLOW_US");
  if (slow) usleep((useconds_t)atoi(slow));
  return real(fd, p, u, g, fl);
}
`;

shimTest(
  "the journal reaches the disk during the run, not only at its end",
  DATASYNC_LOG,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const spec: EntrySpec[] = [{ rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 }];
    for (let i = 0; i < 300; i++) spec.push(own(`f${i}`));
    buildTree(root, spec);
    /** Ends of the journal's lines (byte offsets), and the sizes the shim saw synced. */
    const run = async (journal: string, env: Record<string, string>) => {
      const log = `${journal}.syncs`;
      const r = await shim.cli(["repair", "--apply", "--journal", journal, root], {
        SHIM_LOG: log,
        ...env,
      });
      assertEquals(r.code, 0, r.stderr);
      const bytes = Deno.readFileSync(journal);
      const ends: number[] = [];
      bytes.forEach((b, i) => b === 10 && ends.push(i + 1));
      let synced: number[] = [];
      try {
        synced = Deno.readTextFileSync(log).split("\n").filter(Boolean).map(Number);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      return { ends, synced };
    };
    // Synced after every line: a sync per line (made after it, outside the
    // lock: it may take later lines along), each at a line's end.
    const every = await run(`${shim.dir}/every.journal`, { PWALK_JOURNAL_SYNC_MS: "0" });
    assertEquals(every.ends.length, 301); // the header and a line per file
    assertEquals(every.synced.length, 301);
    for (const s of every.synced) assert(every.ends.includes(s), `synced mid-line at ${s}`);
    assertEquals(Math.max(...every.synced), every.ends.at(-1));
    // Put back, then the default: at most once a second, so a fast run of 300
    // changes syncs far fewer times than it writes lines.
    const putBack = () => {
      for (const e of spec.slice(1)) setOwnerMode(root, e);
    };
    putBack();
    const dflt = await run(`${shim.dir}/default.journal`, {});
    assertEquals(dflt.ends.length, 301);
    assert(dflt.synced.length < 100, `${dflt.synced.length} syncs for 301 lines`);
    for (const s of dflt.synced) assert(dflt.ends.includes(s), `synced mid-line at ${s}`);
    // A run longer than the interval (each chown 10 ms, every 100 ms a
    // sync): lines reach the disk during it, not only at its end.
    putBack();
    const slow = await run(`${shim.dir}/slow.journal`, {
      PWALK_JOURNAL_SYNC_MS: "100",
      SHIM_SLOW_US: "10000",
    });
    assert(slow.synced.length >= 3, `${slow.synced.length} syncs in a run of 3 s`);
    assert(slow.synced.some((s) => s < slow.ends.at(-1)! / 2), "one in its first half");
    for (const s of slow.synced) assert(slow.ends.includes(s), `synced mid-line at ${s}`);
    closeLibc();
  },
);

/**
 * An LD_PRELOAD shim: each fdatasync logs `datasync SIZE` (the file's size,
 * once synced) and each fsync `fsync PATH` (what the descriptor names) to
 * $SHIM_LOG; the walker's fstatat of a file named "quiet" then waits (10 s
 * at most, then it logs `quiet gave up`) until a fdatasync has taken the
 * journal ($SHIM_JOURNAL) as it is: a walk that stays quiet, no line
 * written, long enough for any sync due to come.  With $SHIM_CLOCK_AHEAD
 * the wall clock (CLOCK_REALTIME) reads a day ahead, as after NTP stepped
 * it back a day.
 */
const QUIET_SYNC = afterFstatat(
  "quiet",
  `#include <stdio.h>
#include <time.h>
static long long synced = -1; /* the size the last fdatasync took */
static void logline(const char *l) {
  const char *log = getenv("SHIM_LOG");
  if (!log) return;
  int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) { if (write(fd, l, strlen(l)) < 0) {} close(fd); }
}
typedef int (*clock_fn)(clockid_t, struct timespec *);
int clock_gettime(clockid_t c, struct timespec *t) {
  static clock_fn real;
  if (!real) real = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
  int r = real(c, t);
  if (r == 0 && c == CLOCK_REALTIME && getenv("SHIM_CLOCK_AHEAD")) t->tv_sec += 86400;
  return r;
}
typedef int (*sync_fn)(int);
int fdatasync(int fd) {
  static sync_fn real;
  if (!real) real = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
  struct stat st;
  int have = fstat(fd, &st) == 0;
  int r = real(fd);
  if (have) {
    char b[64];
    snprintf(b, sizeof b, "datasync %lld\\n", (long long)st.st_size);
    logline(b);
    __atomic_store_n(&synced, (long long)st.st_size, __ATOMIC_SEQ_CST);
  }
  return r;
}
int fsync(int fd) {
  static sync_fn real;
  if (!real) real = (sync_fn)dlsym(RTLD_NEXT, "fsync");
  char link[64], path[4096], b[4200];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  path[n > 0 ? n : 0] = 0;
  snprintf(b, sizeof b, "fsync %s\\n", path);
  logline(b);
  return real(fd);
}
static void quiet(int fd, const char *p) {
  (void)fd;
  const char *j = getenv("SHIM_JOURNAL");
  if (!j || strcmp(p, "quiet") != 0) return;
  struct stat st;
  for (int i = 0; i < 1000 && stat(j, &st) == 0; i++) {
    if (__atomic_load_n(&synced, __ATOMIC_SEQ_CST) >= (long long)st.st_size) return;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  logline("quiet gave up\\n");
}
`,
);

/**
 * DIR/proj for QUIET_SYNC: with one worker, the root's five private files
 * first (changed), then the folder below, already right, whose file keeps
 * the walk quiet.  Its path.
 */
function quietTree(dir: string): string {
  const root = `${dir}/proj`;
  const spec: EntrySpec[] = [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "sub", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "sub/quiet", type: "file", uid: 100, gid: G.PROJECT, mode: 0o640 },
  ];
  for (let i = 0; i < 5; i++) spec.push(own(`f${i}`));
  buildTree(root, spec);
  return root;
}

shimTest(
  "journal lines reach the disk within the interval though no later line comes (a burst, then a quiet walk), and a new journal's folder is synced (audit)",
  QUIET_SYNC,
  async (shim) => {
    const root = quietTree(shim.dir);
    const before = snapshot(root);
    const want = expectRepair(root, before);
    const folder = `${shim.dir}/journals`;
    Deno.mkdirSync(folder);
    const journal = `${folder}/j`;
    const log = `${shim.dir}/syncs`;
    const r = await shim.cli(
      ["repair", "--apply", "--threads", "1", "--journal", journal, root],
      { SHIM_LOG: log, SHIM_JOURNAL: journal, PWALK_JOURNAL_SYNC_MS: "100" },
    );
    assertEquals(r.code, 0, r.stderr);
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
    const changed = diffSnapshots(before, snapshot(root)).length;
    assertEquals(journalLines(journal).length, changed, "a line per changed entry");
    const size = Deno.statSync(journal).size;
    const events = Deno.readTextFileSync(log).split("\n").filter(Boolean);
    const whole = events.indexOf(`datasync ${size}`);
    const last = events.lastIndexOf(`fsync ${journal}`);
    assert(last >= 0, `the journal's final fsync: ${events}`);
    assert(whole >= 0 && whole < last, `every line synced before the final fsync: ${events}`);
    // the journal made now: its folder synced, before any line was
    assert(
      events.indexOf(`fsync ${folder}`) >= 0 &&
        events.indexOf(`fsync ${folder}`) < events.findIndex((e) => e.startsWith("datasync")),
      `the journal's folder synced: ${events}`,
    );
    // the default journal, in folders made now: each synced in its parent
    const state = `${shim.dir}/state`;
    const log2 = `${shim.dir}/syncs2`;
    const r2 = await shim.cli(["repair", "--apply", root], {
      SHIM_LOG: log2,
      XDG_STATE_HOME: state,
    });
    assertEquals(r2.code, 0, r2.stderr);
    const [made] = [...Deno.readDirSync(`${state}/pwalk`)].map((e) => `${state}/pwalk/${e.name}`);
    const synced = Deno.readTextFileSync(log2).split("\n").filter(Boolean);
    for (const f of [shim.dir, state, `${state}/pwalk`, made]) {
      assert(synced.includes(`fsync ${f}`), `${f} not synced: ${synced}`);
    }
    closeLibc();
  },
);

shimTest(
  "a step of the wall clock does not stall the journal's syncer (its waits are timed by the monotonic clock)",
  QUIET_SYNC,
  async (shim) => {
    const root = quietTree(shim.dir);
    const journal = `${shim.dir}/j`;
    const log = `${shim.dir}/syncs`;
    // the wall clock a day ahead of the monotonic one: a wait timed by the
    // wall clock from a reading taken now would last a day
    const r = await shim.cli(
      ["repair", "--apply", "--threads", "1", "--journal", journal, root],
      {
        SHIM_LOG: log,
        SHIM_JOURNAL: journal,
        SHIM_CLOCK_AHEAD: "1",
        PWALK_JOURNAL_SYNC_MS: "100",
      },
    );
    assertEquals(r.code, 0, r.stderr);
    assertEquals(journalLines(journal).length, 5, "a line per changed file");
    const size = Deno.statSync(journal).size;
    const events = Deno.readTextFileSync(log).split("\n").filter(Boolean);
    assert(!events.includes("quiet gave up"), `no sync came while the walk was quiet: ${events}`);
    const whole = events.indexOf(`datasync ${size}`);
    const last = events.lastIndexOf(`fsync ${journal}`);
    assert(whole >= 0 && whole < last, `every line synced before the final fsync: ${events}`);
    closeLibc();
  },
);

/**
 * An LD_PRELOAD shim: while $SHIM_DENY is set, the engine's check of ROOT's
 * real path (pw_open_nofollow: `/` opened O_PATH|O_NOFOLLOW|O_DIRECTORY,
 * then each component below it) fails with EACCES at its first step: the
 * check cannot be made, as when a folder on the way stopped being
 * searchable between the two lookups.
 */
const ROOT_CHECK_DENIED = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
typedef int (*open_fn)(const char *, int, ...);
static int deny(const char *p, int flags) {
  const int check = O_PATH | O_NOFOLLOW | O_DIRECTORY;
  return getenv("SHIM_DENY") && strcmp(p, "/") == 0 && (flags & check) == check;
}
#define SHIM(name) \\
  int name(const char *p, int flags, ...) { \\
    static open_fn real; \\
    if (!real) real = (open_fn)dlsym(RTLD_NEXT, #name); \\
    va_list ap; \\
    va_start(ap, flags); \\
    int mode = va_arg(ap, int); \\
    va_end(ap); \\
    if (deny(p, flags)) { \\
      errno = EACCES; \\
      return -1; \\
    } \\
    return real(p, flags, mode); \\
  }
SHIM(open)
SHIM(open64)
`;

shimTest(
  "ROOT's real path cannot be checked when the job starts: nothing is walked or changed",
  ROOT_CHECK_DENIED,
  async (shim) => {
    const root = `${shim.dir}/proj`;
    const spec: EntrySpec[] = [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      own("a"),
      own("d", "dir"),
      own("d/b"),
    ];
    buildTree(root, spec);
    const before = snapshot(root);
    for (const args of [["repair"], ["--chown_from", "1001", "--chown_to", "4001:4001"]]) {
      const r = await shim.cli([...args, "--apply", "--journal", `${shim.dir}/j`, root], {
        SHIM_DENY: "1",
      });
      assertEquals(r.code, 1, r.stderr);
      assertStringIncludes(
        r.stderr,
        `pwalk: ${root}: cannot check it is ${root}: Permission denied`,
      );
      assertEquals(diffSnapshots(before, snapshot(root)), []);
    }
    // The same runs without the denial change the tree: the check is what stopped them.
    const r = await shim.cli(["repair", "--apply", "--journal", `${shim.dir}/j2`, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.lstatSync(`${root}/d/b`).gid, G.PROJECT);
    closeLibc();
  },
);

/** The swapper: swaps ROOT/victim for a link to OUTSIDE and back until STOP exists. */
const SWAPPER = `
const [root, outside, stop] = Deno.args;
Deno.symlinkSync(outside, root + "/.swap");
let n = 0;
for (;;) {
  Deno.renameSync(root + "/victim", root + "/.hold");
  Deno.renameSync(root + "/.swap", root + "/victim");
  Deno.renameSync(root + "/victim", root + "/.swap");
  Deno.renameSync(root + "/.hold", root + "/victim");
  n++;
  if (n % 16 === 0) {
    try { Deno.lstatSync(stop); break; } catch { /* go on */ }
  }
}
Deno.removeSync(root + "/.swap");
console.log(n);
`;

/** Start the swapper; returns a function that stops it and resolves to its swap count. */
async function startSwapper(
  dir: string,
  root: string,
  outside: string,
): Promise<() => Promise<number>> {
  const script = `${dir}/swapper.ts`;
  await Deno.writeTextFile(script, SWAPPER);
  const stop = `${dir}/stop`;
  await Deno.remove(stop).catch(() => {});
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, root, outside, stop],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // It has started once its link exists (it is renamed back and forth from then on).
  await waitFor(() => {
    try {
      return Deno.lstatSync(`${root}/.swap`).isSymlink;
    } catch {
      return false;
    }
  }, { what: "the swapper to start swapping" });
  return async () => {
    await Deno.writeTextFile(stop, "");
    const out = await child.output();
    assert(out.success, dec.decode(out.stderr));
    return Number(dec.decode(out.stdout).trim());
  };
}

/** A naive repair: list by path, change by path (what repair-shared does). */
function naiveRepairByPath(root: string): void {
  const visit = (dir: string) => {
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names) {
      const p = `${dir}/${n}`;
      try {
        const s = Deno.lstatSync(p);
        if (s.isSymlink) continue;
        if (s.gid === s.uid || s.gid === 0) Deno.chownSync(p, null, G.PROJECT);
        Deno.chmodSync(p, (s.mode! & 0o7777) | (s.isDirectory ? 0o2050 : 0o040));
        if (s.isDirectory) visit(p);
      } catch {
        // vanished meanwhile
      }
    }
  };
  visit(root);
}

Deno.test("race: a folder swapped for a link to the outside while repair --apply runs", async (t) => {
  await using tmp = await tempDir("pwalk-repair-");
  const names = Array.from({ length: 300 }, (_, i) => `f${i}`);
  const outside = `${tmp.path}/outside`;
  buildOutside(outside, names);
  const outsideBefore = snapshot(outside);
  const root = `${tmp.path}/proj`;
  const spec = generateTree(5, 60, 8);
  spec.push(own("victim", "dir"));
  for (const n of names) {
    spec.push(own(`victim/${n}`));
  }
  spec.push(own("victim/inner", "dir"));
  spec.push({ rel: "victim/inner/secret", type: "file", uid: 1001, gid: 0, mode: 0o600 });
  buildTree(root, spec);
  const reset = () => {
    for (const e of spec) setOwnerMode(root, e);
  };

  // Each session: the tree is reset (its entries need changes again), the
  // swapper starts, PASSES runs go over the tree while it swaps, the outside
  // is checked. The outside always needs changes, so any pass that followed
  // the link would show. The naive repair below is caught within this same
  // budget (typically after a few dozen passes).
  const SESSIONS = 40, PASSES = 8;
  await t.step(
    `repair --apply with 4 threads, ${SESSIONS * PASSES} runs: nothing outside changes`,
    async () => {
      let swaps = 0, raced = 0, changed = 0;
      for (let session = 0; session < SESSIONS; session++) {
        const stop = await startSwapper(tmp.path, root, outside);
        try {
          for (let pass = 0; pass < PASSES; pass++) {
            const s = await repair(root, { apply: true, journal: false, threads: 4 });
            changed += s.entriesChanged;
            raced += s.errorDetails.filter((e) => e.op === "race" || e.op === "open").length;
          }
        } finally {
          swaps += await stop();
        }
        assertEquals(diffSnapshots(outsideBefore, snapshot(outside)), [], `session ${session}`);
        assert(Deno.lstatSync(`${root}/victim`).isDirectory);
        reset();
      }
      assert(swaps > SESSIONS * 10, `the swapper barely ran (${swaps} swaps)`);
      assert(changed > SESSIONS * 100, `repair did little (${changed} changes)`);
      console.log(
        `  ${swaps} swaps, ${changed} changes, ${raced} open/race reports, outside intact`,
      );
    },
  );

  await t.step("the same harness catches a naive by-path repair", async () => {
    let caught = false, passes = 0;
    for (let session = 0; session < SESSIONS && !caught; session++) {
      const stop = await startSwapper(tmp.path, root, outside);
      try {
        for (let pass = 0; pass < PASSES && !caught; pass++, passes++) {
          naiveRepairByPath(root);
          caught = diffSnapshots(outsideBefore, snapshot(outside)).length > 0;
        }
      } finally {
        await stop();
      }
      reset();
    }
    assert(caught, "a naive repair following paths was not caught: the race test would be blind");
    console.log(`  the naive repair changed the outside after ${passes + 1} passes`);
  });
  closeLibc();
});

// ---------------------------------------------------------------------------
// chown.

Deno.test("chown: only entries of UID change; links themselves, never their targets", async (t) => {
  await using tmp = await tempDir("pwalk-repair-");
  const A = 1500, B = 1600, C = 1700, GC = 1777;
  const outside = `${tmp.path}/outside`;
  buildTree(outside, [
    { rel: ".", type: "dir", uid: B, gid: B, mode: 0o755 },
    { rel: "target", type: "file", uid: A, gid: A, mode: 0o644 },
  ]);
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: A, gid: A, mode: 0o755 },
    { rel: "a1", type: "file", uid: A, gid: A, mode: 0o644 },
    { rel: "b1", type: "file", uid: B, gid: B, mode: 0o644 },
    { rel: "sub", type: "dir", uid: A, gid: 300, mode: 0o750 },
    { rel: "sub/a2", type: "file", uid: A, gid: 0, mode: 0o600 },
    { rel: "sub/b2", type: "file", uid: B, gid: A, mode: 0o600 },
    { rel: "lnA", type: "symlink", uid: A, gid: A, mode: 0o777, target: "b1" },
    { rel: "lnB", type: "symlink", uid: B, gid: B, mode: 0o777, target: "a1" },
    { rel: "lnOut", type: "symlink", uid: A, gid: A, mode: 0o777, target: `${outside}/target` },
    { rel: "fifo", type: "fifo", uid: A, gid: A, mode: 0o600 },
    // given away, a file loses setuid, and setgid when group-executable (the
    // kernel's rule); a folder keeps both
    { rel: "su", type: "file", uid: A, gid: A, mode: 0o4755 },
    { rel: "sg", type: "file", uid: A, gid: A, mode: 0o2755 },
    { rel: "sgnx", type: "file", uid: A, gid: A, mode: 0o2644 },
    { rel: "sgdir", type: "dir", uid: A, gid: A, mode: 0o2775 },
  ]);
  const before = snapshot(root);
  const outBefore = snapshot(outside);
  const left: Record<string, number> = { su: 0o755, sg: 0o755 };
  const want = new Map(
    [...before].map((
      [rel, s],
    ) => [rel, s.uid === A ? { ...s, uid: C, gid: GC, mode: left[rel] ?? s.mode } : s]),
  );

  await t.step("dry run (the API default) plans and changes nothing", async () => {
    const s = await chown(root, { from: A, to: { uid: C, gid: GC }, listChanges: true });
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    assertEquals(
      s.changeList!.map((c) => changeKey(relOf(root, c.path), c.old, c.new)).sort(),
      changesBetween(before, want),
    );
    assert(s.changeList!.every((c) => c.kinds.includes("owner")));
    const su = s.changeList!.find((c) => relOf(root, c.path) === "su")!;
    assertEquals([su.old.mode & 0o7777, su.new.mode & 0o7777], [0o4755, 0o755]);
  });

  await t.step(
    "CLI dry run: each path, with the mode chown leaves when it takes a bit off",
    async () => {
      const r = await cli(["--chown_from", String(A), "--chown_to", `${C}:${GC}`, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(diffSnapshots(before, snapshot(root)), []);
      const oct = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");
      assertEquals(
        lines(r.stdout).sort(),
        [...before].filter(([, s]) => s.uid === A).map(([rel, s]) => {
          const m = want.get(rel)!.mode;
          const mode = (m & 0o7777) === (s.mode & 0o7777)
            ? ""
            : `: mode ${oct(s.mode)} -> ${oct(m)}`;
          return `would change: ${at(root, rel)}${mode}`;
        }).sort(),
      );
      assert(r.text.includes(": mode 4755 -> 0755"), r.text);
    },
  );

  const journal = `${tmp.path}/chown.journal`;
  await t.step(
    "CLI --apply prints each changed path, with the mode chown left as the dry run says",
    async () => {
      const r = await cli([
        "--chown_from",
        String(A),
        "--chown_to",
        `${C}:${GC}`,
        "--apply",
        "--journal",
        journal,
        root,
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(diffSnapshots(want, snapshot(root)), []);
      assertEquals(diffSnapshots(outBefore, snapshot(outside)), [], "a link's target changed");
      // the mode read back (lstat), not the plan: an applied run's log tells
      // setuid/setgid were cleared, as its dry run did (audit)
      const after = snapshot(root);
      const oct = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");
      assertEquals(
        lines(r.stdout).sort(),
        [...before].filter(([, s]) => s.uid === A).map(([rel, s]) => {
          const m = after.get(rel)!.mode;
          const mode = s.type === "symlink" || (m & 0o7777) === (s.mode & 0o7777)
            ? ""
            : `: mode ${oct(s.mode)} -> ${oct(m)}`;
          return `${at(root, rel)}${mode}`;
        }).sort(),
      );
      assert(r.text.includes(": mode 4755 -> 0755"), r.text);
      assertStringIncludes(r.stderr, `chown UID_orig: ${A}  UID_new: ${C} GID_new: ${GC}`);
    },
  );

  await t.step(
    "undo puts the owners back; setuid/setgid not on files C could have rewritten",
    async () => {
      const r = await cli(["repair", "--undo", journal, "--apply"]);
      assertEquals(r.code, 0, r.stderr);
      // su and sg were C's since the run: C could have rewritten them, so
      // they go back to A without the bits (a setuid-A file with C's code)
      const back = new Map(
        [...before].map((
          [rel, s],
        ) => [rel, rel === "su" || rel === "sg" ? { ...s, mode: 0o755 } : s]),
      );
      assertEquals(diffSnapshots(back, snapshot(root)), []);
      for (const f of ["su", "sg"]) {
        const line = lines(r.stdout).find((l) => l.startsWith(`${at(root, f)}: `)) ?? "";
        assertStringIncludes(line, `owner ${C} -> ${A}`);
        assertStringIncludes(line, "(setuid/setgid not put back: someone besides its owner could");
      }
    },
  );

  await t.step("bad usage: one line, exit 2", async () => {
    for (
      const args of [
        ["--chown_from", String(A), root],
        ["--chown_from", "abc", "--chown_to", "1:2", root],
        ["--chown_from", "1", "--chown_to", "12", root],
        ["--chown_from", "1", "--chown_to", "1:2", "--apply", "--dry-run", root],
        ["--chown_from", "1", "--chown_to", "1:2", "--bogus", root],
      ]
    ) {
      const r = await cli(args);
      assertEquals(r.code, 2, args.join(" "));
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
  closeLibc();
});

// ---------------------------------------------------------------------------
// Options and errors.

Deno.test("exclusions, --NoSnap and -x leave those folders untouched", async (t) => {
  await using tmp = await tempDir("pwalk-repair-");
  const make = (name: string) => {
    const root = `${tmp.path}/${name}`;
    const spec = generateTree(6, 30);
    for (const d of ["skip1", "skip2", ".snapshot"]) {
      spec.push(own(d, "dir"));
      spec.push({ rel: `${d}/deep`, type: "dir", uid: 1001, gid: 0, mode: 0o700 });
      spec.push({ rel: `${d}/deep/f`, type: "file", uid: 1002, gid: 1002, mode: 0o600 });
    }
    buildTree(root, spec);
    return root;
  };

  await t.step("API exclude (absolute and relative spellings) and noSnap", async () => {
    const root = make("api");
    const before = snapshot(root);
    const rel = `${tmp.path.slice(tmp.path.lastIndexOf("/") + 1)}/api/skip2`;
    const want = expectRepair(root, before, { exclude: ["skip1", "skip2"], noSnap: true });
    const cwd = Deno.cwd();
    Deno.chdir(`${tmp.path}/..`);
    try {
      await repair(root, {
        apply: true,
        journal: false,
        exclude: [`${root}/skip1`, rel],
        noSnap: true,
      });
    } finally {
      Deno.chdir(cwd);
    }
    const after = snapshot(root);
    assertEquals(diffSnapshots(want.after, after), []);
    for (const d of ["skip1", "skip2", ".snapshot"]) {
      for (const r of [d, `${d}/deep`, `${d}/deep/f`]) assertEquals(after.get(r), before.get(r), r);
    }
  });

  await t.step("CLI --exclude PATH, --exclude FILE, --NoSnap", async () => {
    const root = make("cli");
    const before = snapshot(root);
    const list = `${tmp.path}/exclude.list`;
    await Deno.writeTextFile(list, `${root}/skip2\n`);
    const r = await cli([
      "repair",
      "--apply",
      "--journal",
      `${tmp.path}/j`,
      "--exclude",
      `${root}/skip1`,
      "--exclude",
      list,
      "--NoSnap",
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const want = expectRepair(root, before, { exclude: ["skip1", "skip2"], noSnap: true });
    assertEquals(diffSnapshots(want.after, snapshot(root)), []);
  });

  await t.step("without --NoSnap, .snapshot is repaired like any folder", async () => {
    const root = make("snap");
    const before = snapshot(root);
    await repair(root, { apply: true, journal: false });
    assertEquals(diffSnapshots(expectRepair(root, before).after, snapshot(root)), []);
    assertEquals(snapshot(root).get(".snapshot/deep/f")!.gid, G.PROJECT);
  });

  await t.step({
    name: "-x: a file system mounted inside the tree is left alone",
    ignore: !canMountTmpfs(),
    fn: async () => {
      const root = make("xdev");
      const mnt = `${root}/mnt`;
      Deno.mkdirSync(mnt);
      assertEquals(await mountTmpfs(mnt, "size=4m"), "");
      buildTree(mnt, [
        own(".", "dir"),
        own("f"),
      ]);
      const before = snapshot(root);
      assert(before.get("mnt")!.dev !== before.get(".")!.dev);
      const r = await cli(["repair", "--apply", "-x", "--journal", `${tmp.path}/jx`, root]);
      assertEquals(r.code, 0, r.stderr);
      const want = expectRepair(root, before, { oneDev: before.get(".")!.dev });
      const after = snapshot(root);
      assertEquals(diffSnapshots(want.after, after), []);
      assertEquals(after.get("mnt/f"), before.get("mnt/f"));
      // Without -x the mounted folder is repaired too.
      await repair(root, { apply: true, journal: false });
      assertEquals(snapshot(root).get("mnt/f")!.gid, G.PROJECT);
    },
  });
  closeLibc();
});

Deno.test({
  name:
    "ROOT reached again through a bind mount inside the tree (-x crosses it): never changed, not entered, a loop notice",
  ignore: !canMountTmpfs(),
  fn: async () => {
    await using tmp = await tempDir("pwalk-rootagain-");
    // ROOT private (no shared group above it), a shared project folder in
    // it, and in that a folder over which ROOT itself is bind-mounted (in
    // a mount namespace of the run's own: nothing is left mounted)
    const root = `${tmp.path}/b`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 1042, gid: 1042, mode: 0o700 },
      { rel: "proj", type: "dir", uid: 1042, gid: G.PROJECT, mode: 0o2775 },
      { rel: "proj/loop", type: "dir", uid: 1042, gid: 1042, mode: 0o700 },
      { rel: "proj/f", type: "file", uid: 1042, gid: 1042, mode: 0o600 },
    ]);
    const before = snapshot(root);
    // the rules, with proj/loop hidden under the mount: ROOT is reached
    // there, and the folder it covers is not reached at all
    const want = expectRepair(root, before).after;
    want.set("proj/loop", before.get("proj/loop")!);
    const journal = `${tmp.path}/j`;
    const bind = 'mount --bind "$ROOT" "$ROOT/proj/loop"';
    const r = await cliInMountNamespace(
      bind,
      ["repair", "-x", "--apply", "--journal", journal, root],
      { ROOT: root },
    );
    assertEquals(r.code, 0, r.stderr);
    const after = snapshot(root);
    assertEquals(after.get("."), before.get("."), "ROOT changed");
    assertEquals(diffSnapshots(want, after), []);
    assertEquals(after.get("proj/f")!.gid, G.PROJECT); // the rest is repaired
    assertStringIncludes(
      r.stderr,
      `pwalk: loop '${root}/proj/loop': ROOT itself, reached again (a bind mount inside the ` +
        "tree): not changed, not entered\n",
    );
    // no journal line for ROOT's inode (undo would "put back" what never changed)
    const rootIno = ` ${before.get(".")!.ino} `;
    const entries = Deno.readTextFileSync(journal).split("\n").filter((l) => /^\d/.test(l));
    assertEquals(entries.filter((l) => l.includes(rootIno)), [], entries.join("\n"));
    // chown: ROOT once, at its own row; nothing below it a second time
    const c = await cliInMountNamespace(
      bind,
      ["--chown_from", "1042", "--chown_to", "1043:1043", root],
      { ROOT: root },
    );
    assertEquals(c.code, 0, c.stderr);
    assertEquals(
      lines(c.stdout),
      [root, `${root}/proj`, `${root}/proj/f`].map((p) => `would change: ${p}`).sort(),
      c.stderr,
    );
    assert(!Deno.readTextFileSync("/proc/self/mountinfo").includes(root), "left mounted");
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "without privileges: refused changes are reported and the run goes on",
  async fn() {
    await using tmp = await tempDir("pwalk-repair-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2775 },
      // Owned by the caller (uid 0): chgrp to 5000 is refused (root without
      // CAP_CHOWN is not a member of 5000), so its g+r, meant for 5000, is
      // not made either: it would open the file to its private group 0.
      { rel: "mine", type: "file", uid: 0, gid: 0, mode: 0o600 },
      { rel: "mine-ok", type: "file", uid: 0, gid: G.PROJECT, mode: 0o600 },
      // Someone else's: every change is refused.
      { rel: "theirs", type: "file", uid: 1001, gid: 1001, mode: 0o644 },
      // A folder the caller cannot read: its open fails, its changes are refused.
      own("locked", "dir"),
      own("locked/f"),
      { rel: "later", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o755 },
      { rel: "later/f", type: "file", uid: 0, gid: G.PROJECT, mode: 0o600 },
    ]);
    const before = snapshot(root);
    const r = await cli(["repair", "--apply", "--journal", `${tmp.path}/j`, root], {
      prefix: UNPRIVILEGED,
    });
    assertEquals(r.code, 0, r.stderr);
    const after = snapshot(root);
    // What the caller may change, changed; the rest reported.
    assertEquals(after.get("mine-ok")!.mode, 0o640);
    assertEquals(after.get("mine"), before.get("mine"), "chgrp refused: its mode left too");
    assertStringIncludes(r.stderr, `pwalk: chown '${root}/mine': Operation not permitted`);
    assert(!r.text.includes(`${root}/mine: mode`), "no mode change claimed for mine");
    // The kernel drops setgid silently for a caller outside the folder's
    // group: reported as refused, not claimed as done.
    assertEquals(after.get("later")!.mode, 0o755);
    assertStringIncludes(r.stderr, `pwalk: chmod '${root}/later': Operation not permitted`);
    assertEquals(after.get("later/f")!.mode, 0o640);
    assertEquals(after.get("theirs"), before.get("theirs"));
    assertEquals(after.get("locked/f"), before.get("locked/f"));
    assertStringIncludes(r.stderr, `pwalk: chown '${root}/theirs': Operation not permitted`);
    assertStringIncludes(r.stderr, `pwalk: open '${root}/locked': Permission denied`);
    assertStringIncludes(r.stderr, `pwalk: chown '${root}/locked': Operation not permitted`);
    assert(/\d+ errors in/.test(r.stderr));
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "chown without CAP_FSETID: the journal tells the setgid bits the kernel's chown clears",
  async fn() {
    await using tmp = await tempDir("pwalk-repair-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      // setgid without group execute: kept by a chown only when the caller
      // is in the file's group (Linux 6.2 on, or has CAP_FSETID)
      { rel: "outside-group", type: "file", uid: 0, gid: 60004, mode: 0o2644 },
      { rel: "in-group", type: "file", uid: 0, gid: 0, mode: 0o2644 },
      // with group execute: cleared whoever chowns it
      { rel: "exec", type: "file", uid: 0, gid: 60004, mode: 0o2754 },
    ]);
    // uid 0 without capabilities, in groups 0 and 60003 (not 60004)
    const prefix = [...UNPRIVILEGED.slice(0, -1), "--groups=0,60003", "--"];
    const args = ["chown", "--chown_from", "0", "--chown_to", "0:60003"];
    const plan = `${tmp.path}/plan.journal`, journal = `${tmp.path}/j`;
    const dry = await cli([...args, "--journal", plan, root], { prefix });
    assertEquals(dry.code, 0, dry.stderr);
    const r = await cli([...args, "--apply", "--journal", journal, root], { prefix });
    assertEquals(r.code, 0, r.stderr);
    const modes = (file: string) =>
      new Map(
        Deno.readTextFileSync(file).split("\n").filter((l) => /^\d/.test(l)).map((l) => {
          const f = l.split(" ");
          return [f[10], `${f[6]}:${f[7]}:${f[8]}`];
        }),
      );
    // the file itself, as lstat shows it
    const now = new Map(
      ["outside-group", "in-group", "exec", "."].map((rel) => {
        const st = Deno.lstatSync(at(root, rel));
        return [rel, `${st.uid}:${st.gid}:${(st.mode! & 0o7777).toString(8).padStart(4, "0")}`];
      }),
    );
    assertEquals(now.get("outside-group"), "0:60003:0644", "a kernel before 6.2 keeps setgid");
    assertEquals(now.get("in-group"), "0:60003:2644");
    assertEquals(now.get("exec"), "0:60003:0754");
    assertEquals(modes(journal), now, "the journal's new values are not the files'");
    assertEquals(modes(plan), now, "the dry run's plan is not what --apply did");
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "chown without CAP_FSETID of a setuid+setgid file: setgid goes when the caller " +
    "is outside the new group (the kernel sets the mode, and checks the new group)",
  async fn() {
    await using tmp = await tempDir("pwalk-repair-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 60001, gid: 0, mode: 0o755 },
      // chowned to 60003:7777 by a caller in group 0 only
      { rel: "both", type: "file", uid: 60001, gid: 0, mode: 0o6745 },
      { rel: "sgid-only", type: "file", uid: 60001, gid: 0, mode: 0o2745 },
      { rel: "both-outside", type: "file", uid: 60001, gid: 60004, mode: 0o6745 },
      { rel: "both-gx", type: "file", uid: 60001, gid: 0, mode: 0o6755 },
      // chowned to 60013:0, its group kept: the caller is in it
      { rel: "both-in", type: "file", uid: 60011, gid: 0, mode: 0o6745 },
    ]);
    // root with CAP_CHOWN (any new group) but not CAP_FSETID, in group 0 only
    const prefix = [
      "setpriv",
      "--inh-caps=-fsetid",
      "--bounding-set=-fsetid",
      "--clear-groups",
      "--",
    ];
    const runs = [["60001", "60003:7777"], ["60011", "60013:0"]];
    const planned = new Map<string, string>(), journaled = new Map<string, string>();
    const modes = (file: string, into: Map<string, string>) => {
      for (const l of Deno.readTextFileSync(file).split("\n").filter((l) => /^\d/.test(l))) {
        const f = l.split(" ");
        into.set(f[10], `${f[6]}:${f[7]}:${f[8]}`);
      }
    };
    for (const [i, [from, to]] of runs.entries()) {
      const args = ["chown", "--chown_from", from, "--chown_to", to];
      const plan = `${tmp.path}/plan${i}.journal`, journal = `${tmp.path}/j${i}`;
      const dry = await cli([...args, "--journal", plan, root], { prefix });
      assertEquals(dry.code, 0, dry.stderr);
      const r = await cli([...args, "--apply", "--journal", journal, root], { prefix });
      assertEquals(r.code, 0, r.stderr);
      // no chmod of a setgid bit the kernel refuses to set
      assertStringIncludes(r.stderr, "0 errors");
      modes(plan, planned);
      modes(journal, journaled);
    }
    // the files themselves, as lstat shows them
    const now = new Map(
      ["both", "sgid-only", "both-outside", "both-gx", "both-in", "."].map((rel) => {
        const st = Deno.lstatSync(at(root, rel));
        return [rel, `${st.uid}:${st.gid}:${(st.mode! & 0o7777).toString(8).padStart(4, "0")}`];
      }),
    );
    assertEquals(now.get("both"), "60003:7777:0745");
    assertEquals(now.get("sgid-only"), "60003:7777:2745", "the kernel set no mode: setgid kept");
    assertEquals(now.get("both-outside"), "60003:7777:0745");
    assertEquals(now.get("both-gx"), "60003:7777:0755");
    assertEquals(now.get("both-in"), "60013:0:2745");
    assertEquals(journaled, now, "the journal's new values are not the files'");
    assertEquals(planned, now, "the dry run's plan is not what --apply did");
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "chown --apply without CAP_CHOWN to another owner, or of another owner's entries: " +
    "refused up front (one line, exit 2, no journal, nothing changed); its dry run still lists",
  async fn() {
    await using tmp = await tempDir("pwalk-repair-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 1001, gid: 1001, mode: 0o755 },
      { rel: "a", type: "file", uid: 1001, gid: 1001, mode: 0o644 },
      { rel: "r", type: "file", uid: 0, gid: 0, mode: 0o644 },
    ]);
    const before = snapshot(root);
    const journal = `${tmp.path}/j`;
    // uid 0 without capabilities: an ordinary user to chown(2), in root's groups
    const cases: [string, string, string, number][] = [
      ["1001", "1002:1002", "giving uid 1001's entries to uid 1002 needs CAP_CHOWN (root's)", 2],
      ["1001", "1001:5000", "changing the group of uid 1001's entries needs CAP_CHOWN", 2],
      // its own entries, to a group it is not in
      ["0", "0:5000", "giving entries to group 5000 needs CAP_CHOWN (root's) or being in", 1],
    ];
    for (const [from, to, message, planned] of cases) {
      const args = ["--chown_from", from, "--chown_to", to, "--journal", journal];
      const r = await cli([...args, "--apply", root], { prefix: UNPRIVILEGED });
      assertEquals(r.code, 2, r.stderr);
      assertEquals(r.stderr.split("\n").filter(Boolean).length, 1, r.stderr);
      assertStringIncludes(r.stderr, `pwalk: chown: ${message}`);
      assertEquals(r.text, "");
      assertEquals(existsSync(journal), false, "a journal written");
      assertEquals(diffSnapshots(before, snapshot(root)), []);
      // the dry run: what root's --apply would do
      const dry = await cli(["--chown_from", from, "--chown_to", to, root], {
        prefix: UNPRIVILEGED,
      });
      assertEquals(dry.code, 0, dry.stderr);
      assertEquals(dry.text.split("\n").filter(Boolean).length, planned, dry.text);
    }
  },
});

mischiefTest(
  "an entry that vanishes before repair changes it: reported, the run goes on",
  [own("vanish-a"), own("d", "dir"), own("d/vanish-b"), own("d/stays")],
  async (shim, root) => {
    const s = await shim.api("repair", root, { apply: true, journal: false }, {
      SHIM_OUTSIDE: shim.dir,
    });
    assertEquals(s.errors, 2);
    assertEquals(
      s.errorDetails.map((e) => `${e.op}|${e.message}|${e.path}`).sort(),
      [
        `stat|No such file or directory|${root}/d/vanish-b`,
        `stat|No such file or directory|${root}/vanish-a`,
      ],
    );
    assertEquals(s.entriesChanged, 2); // d and d/stays
    assertEquals(Deno.lstatSync(`${root}/d/stays`).gid, G.PROJECT);
  },
);

Deno.test("refuses / unless forced", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  Deno.symlinkSync("/", `${tmp.path}/slash`);
  for (const root of ["/", "//", `${tmp.path}/slash`, "/tmp/.."]) {
    const r = await cli(["repair", root]);
    assertEquals(r.code, 2, root);
    assertStringIncludes(r.stderr, "refusing to repair /");
    assertEquals(r.stdout.length, 0);
    const c = await cli(["--chown_from", "4242", "--chown_to", "4243:4243", root]);
    assertEquals(c.code, 2, root);
    assertStringIncludes(c.stderr, "refusing to chown /");
  }
  await assertRejects(() => repair("/"), Deno.errors.PermissionDenied);
  await assertRejects(
    () => chown(`${tmp.path}/slash`, { from: 4242, to: { uid: 4243 } }),
    Deno.errors.PermissionDenied,
  );
  // Usage errors: one line, exit 2.
  for (
    const args of [
      ["repair"],
      ["repair", "--apply", "--dry-run", tmp.path],
      ["repair", "--threads", "0", tmp.path],
      ["repair", "--change-gids", "x", tmp.path],
      // no group named: refused as well, not run as if none were given
      ["repair", "--change-gids", ",", tmp.path],
      ["repair", "--change-gids", "", tmp.path],
      ["repair", "--change-gids", "5000,", tmp.path],
      ["repair", "--change-gids", "5000,,6000", tmp.path],
      ["repair", "--what", tmp.path],
      ["repair", `${tmp.path}/missing`],
    ]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 2, args.join(" "));
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("stdout closed early (| head -1): repair --apply and undo --apply go on to their end, status 0", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  buildTree(root, generateTree(5, 60));
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  // bash's PIPESTATUS: pwalk's own exit status, written to a file
  const status = `${tmp.path}/status`;
  const piped = (args: string[]) =>
    run("bash", [
      "-c",
      `"$0" run -A "$1" "\${@:3}" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}" > "$2"`,
      Deno.execPath(),
      CLI,
      status,
      ...args,
    ]);
  let r = await piped(["repair", "--apply", "--journal", journal, root]);
  assertEquals(Deno.readTextFileSync(status).trim(), "0", r.stderr);
  assertStringIncludes(r.stderr, "pwalk repair:");
  const want = expectRepair(root, before);
  assertEquals(diffSnapshots(want.after, snapshot(root)), [], "every change made");
  r = await piped(["undo", "--apply", journal]);
  assertEquals(Deno.readTextFileSync(status).trim(), "0", r.stderr);
  assert(!r.stderr.includes("Broken pipe"), r.stderr);
  // (setgid, which the repair took off files of users, stays off them)
  assertEquals(
    diffSnapshots(undoneSnapshot(before, want.after), snapshot(root)),
    [],
    "everything restored",
  );
});

/** A tree of `n` private files (user 1001) in 20 folders below the shared project root. */
function manyFiles(root: string, n: number, name = "a-file-with-a-longish-name-"): EntrySpec[] {
  const spec: EntrySpec[] = [{ rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 }];
  for (let d = 0; d < 20; d++) spec.push(own(`folder-${d}`, "dir"));
  for (let i = 0; i < n; i++) spec.push(own(`folder-${i % 20}/${name}${i}`));
  buildTree(root, spec);
  return spec;
}

/** The journal's lines of changes (its header lines left out). */
function journalLines(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

Deno.test("a dry run's stdout closed early (| head -1): repair and chown stop their walk, status 141, quietly", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  // 6,000 change lines, many times what a pipe holds (64 KiB): the run
  // cannot reach its end before head has gone, and its next line meets EPIPE
  const n = 6000;
  manyFiles(root, n);
  const before = snapshot(root);
  const status = `${tmp.path}/status`;
  const piped = (args: string[]) =>
    run("bash", [
      "-c",
      `"$0" run -A "$1" "\${@:3}" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}" > "$2"`,
      Deno.execPath(),
      CLI,
      status,
      ...args,
    ]);
  const chownArgs = ["--chown_from", "1001", "--chown_to", "2000:2000"];
  for (
    const [args, stderr] of [
      [["repair"], ""],
      [chownArgs, "chown UID_orig: 1001  UID_new: 2000 GID_new: 2000\n"],
    ] as const
  ) {
    // a dry run's journal holds a line per change planned: how far the walk went
    const journal = `${tmp.path}/j-${args[0]}`;
    const r = await piped([...args, "--journal", journal, root]);
    assertEquals(
      [Deno.readTextFileSync(status).trim(), r.stderr],
      ["141", stderr],
      "quietly, as SIGPIPE would",
    );
    const planned = journalLines(journal).length;
    assert(planned > 0 && planned < n, `the walk went on to plan ${planned} of ${n + 20} changes`);
  }
  assertEquals(diffSnapshots(before, snapshot(root)), [], "a dry run changes nothing");
  // --apply, its lines past what the pipe holds: on to its end, status 0
  const r = await piped(["repair", "--apply", "--journal", `${tmp.path}/applied`, root]);
  assertEquals(Deno.readTextFileSync(status).trim(), "0", r.stderr);
  assertEquals(journalLines(`${tmp.path}/applied`).length, n + 20);
  assertEquals(diffSnapshots(expectRepair(root, before).after, snapshot(root)), [], "all made");
});

Deno.test("stdout that cannot be written (/dev/full): repair and chown stop, status 1, one line; with --apply every change made is in the journal and undo puts it back", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  const n = 2000;
  manyFiles(root, n);
  const before = snapshot(root);
  const toFull = (args: string[]) =>
    run("bash", [
      "-c",
      `"$0" run -A "$1" "\${@:2}" > /dev/full`,
      Deno.execPath(),
      CLI,
      ...args,
    ], { env: { NO_COLOR: "1" } });
  const chownArgs = ["--chown_from", "1001", "--chown_to", "2000:2000"];
  const line = "pwalk: cannot write stdout: No space left on device";
  // dry runs: one line, no summary counting changes the list lacks
  for (
    const [args, banner] of [[["repair"], ""], [
      chownArgs,
      "chown UID_orig: 1001  UID_new: 2000 GID_new: 2000\n",
    ]] as const
  ) {
    const r = await toFull([...args, root]);
    assertEquals([r.code, r.stderr], [1, `${banner}${line}\n`], args[0]);
  }
  assertEquals(diffSnapshots(before, snapshot(root)), [], "a dry run changes nothing");
  // --apply: stopped after a change or a few (one per worker at most), each
  // in the journal, which undo reads back whole. The journal holds an
  // earlier run: repair's a dry run's plan (nothing for undo to put back:
  // not mentioned), chown's an applied repair of another tree (mentioned,
  // and put back too).
  const other = `${tmp.path}/other`;
  manyFiles(other, 3);
  const otherBefore = snapshot(other);
  for (const args of [["repair"], chownArgs]) {
    const journal = `${tmp.path}/apply-${args[0]}.journal`;
    const applied = args !== chownArgs;
    const prior = await cli([
      "repair",
      ...(applied ? [] : ["--apply"]),
      "--journal",
      journal,
      other,
    ]);
    assertEquals(prior.code, 0, prior.stderr);
    const r = await toFull([...args, "--apply", "--journal", journal, root]);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(
      r.stderr,
      `${line}; stopped part way: every change made, its line written or not, is in ${journal}: ` +
        `pwalk undo --apply ${journal} puts them back` +
        (applied
          ? "\n"
          : `, with the changes of the earlier runs it holds (pwalk undo ${journal} lists them all)\n`),
    );
    assert(!r.stderr.includes(" changed, "), `a summary: ${r.stderr}`);
    const { entries, tornLine } = await readJournal(journal);
    assertEquals(tornLine, 0);
    const changed = diffSnapshots(before, snapshot(root)).map((d) => d.split(":")[0]).sort();
    const ours = entries.filter((e) => dec.decode(e.header.root) === Deno.realPathSync(root));
    assertEquals(ours.map((e) => dec.decode(e.line.rel)).sort(), changed, "journal = changes");
    assert(changed.length > 0 && changed.length < n, `${changed.length} of ${n} changed`);
    const u = await cli(["undo", "--apply", journal]);
    assertEquals(u.code, 0, u.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "everything put back");
    assertEquals(diffSnapshots(otherBefore, snapshot(other)), [], "the earlier run's put back");
  }
});

Deno.test("stdout that cannot be written (/dev/full): undo --apply goes on to its end, then says so, status 1; a dry-run undo stops, one line; a dry-run undo's closed pipe: 141, quietly (audit)", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  // lines enough to outgrow a pipe twice (undo writes them 64 KiB at a
  // time: a shorter list is in the pipe whole before head goes away)
  manyFiles(root, 1500);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const r0 = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(r0.code, 0, r0.stderr);
  const changed = snapshot(root);
  const entries = journalLines(journal).length;
  assert(entries > 1500, `${entries} journal lines`);
  const shell = (script: string, args: string[]) =>
    run("bash", ["-c", script, Deno.execPath(), CLI, ...args], { env: { NO_COLOR: "1" } });
  const toFull = (args: string[]) => shell(`"$0" run -A "$1" "\${@:2}" > /dev/full`, args);
  const line = "pwalk: cannot write stdout: No space left on device";
  // a dry run: stopped at its first line, nothing else said
  let r = await toFull(["undo", journal]);
  assertEquals([r.code, r.stderr], [1, `${line}\n`]);
  assertEquals(diffSnapshots(changed, snapshot(root)), [], "a dry run changes nothing");
  // a dry run whose reader goes away: stopped quietly, as SIGPIPE would
  const status = `${tmp.path}/status`;
  r = await shell(
    `"$0" run -A "$1" undo "$2" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}" > "$3"`,
    [journal, status],
  );
  assertEquals([Deno.readTextFileSync(status).trim(), r.stderr], ["141", ""]);
  // --apply: every entry put back, the summary counting them all, then the failure
  r = await toFull(["undo", "--apply", journal]);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(diffSnapshots(before, snapshot(root)), [], "everything put back");
  const err = r.stderr.trimEnd().split("\n");
  const count = entries.toLocaleString("en-US");
  assertStringIncludes(err.at(-2)!, `${count} journal entries, ${count} restored, `);
  assertEquals(
    err.at(-1),
    `${line}; the undo went on to its end without its lines: every entry was handled, and the ` +
      "summary above counts them all",
  );
});

Deno.test("apply and the other boolean options: a value that is not true or false is a TypeError, nothing changed (audit)", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    own("a"),
    own("d", "dir"),
  ]);
  const before = snapshot(root);
  // the tree has what an applied repair and chown would change
  const dry = await repair(root, { listChanges: true });
  assert(dry.entriesChanged > 0, "nothing for repair to change");
  assert((await chown(root, { from: 1001, to: { uid: 1002 } })).entriesChanged > 0);
  const bad = async (run: () => Promise<unknown>, msg: string) => {
    const e = await assertRejects(run, TypeError);
    assertEquals(e.message, msg);
    assertEquals(diffSnapshots(before, snapshot(root)), [], `changed by ${msg}`);
  };
  const journal = `${tmp.path}/j`;
  await bad(
    () => repair(root, { apply: "false" as unknown as boolean, journal }),
    'pwalk: apply must be true or false, got "false" (a string)',
  );
  await bad(
    () => repair(root, { apply: 1 as unknown as boolean, journal }),
    "pwalk: apply must be true or false, got 1 (a number)",
  );
  await bad(
    () => chown(root, { from: 1001, to: { uid: 1002 }, apply: "false" as unknown as boolean }),
    'pwalk: apply must be true or false, got "false" (a string)',
  );
  await bad(
    () => repair(root, { forceGroupWritable: "no" as unknown as boolean }),
    'pwalk: forceGroupWritable must be true or false, got "no" (a string)',
  );
  await bad(
    () => repair(root, { changeGids: 100 as unknown as number[] }),
    "pwalk: changeGids must be an array of group ids, got 100 (a number)",
  );
  await bad(
    () => repair(root, { apply: true, journal: "" }),
    'pwalk: journal must be a file path or false, got "" (a string)',
  );
  await assertRejects(() => Deno.lstat(journal), Deno.errors.NotFound);

  // undo: a journal of an applied repair; apply "false" is refused, the tree stays repaired
  const applied = await repair(root, { apply: true, journal });
  assert(applied.entriesChanged > 0);
  const repaired = snapshot(root);
  const undone = async (opts: Record<string, unknown>, type: typeof TypeError, msg: string) => {
    const e = await assertRejects(() => undo(journal, opts), type);
    assertEquals(e.message, msg);
    assertEquals(diffSnapshots(repaired, snapshot(root)), [], `undo changed the tree: ${msg}`);
  };
  await undone(
    { apply: "false" },
    TypeError,
    'pwalk: apply must be true or false, got "false" (a string)',
  );
  await undone(
    { printErrors: 0 },
    TypeError,
    "pwalk: printErrors must be true or false, got 0 (a number)",
  );
  // maxErrors as report, repair and chown check it
  for (const m of [-1, 1.5, 2_000_000]) {
    await undone(
      { maxErrors: m, apply: true },
      RangeError,
      `pwalk: maxErrors must be an integer from 0 to 1000000, got ${m}`,
    );
  }
  await undone(
    { maxErrors: "5", apply: true },
    TypeError,
    'pwalk: maxErrors must be an integer from 0 to 1000000, got "5" (a string)',
  );
  // true and false still do what they did
  assertEquals((await undo(journal, { apply: false })).applied, false);
  assertEquals(diffSnapshots(repaired, snapshot(root)), []);
  assertEquals((await undo(journal, { apply: true })).applied, true);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  closeLibc();
});

Deno.test("frontier (a shard's folders) with repair or chown: a TypeError, nothing changed (audit)", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  // s/d's nearest shared group is s's (OTHER), not the root's
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "s", type: "dir", uid: 100, gid: G.OTHER, mode: 0o2770 },
    own("s/d", "dir"),
    own("s/d/f"),
  ]);
  const before = snapshot(root);
  const d = Deno.lstatSync(`${root}/s/d`), s = Deno.lstatSync(`${root}/s`);
  const frontier = [{ path: `${root}/s/d`, dev: d.dev, ino: d.ino!, parentIno: s.ino!, depth: 1 }];
  const msg = "pwalk: frontier is for report() and walk() shards, not repair() or chown(): they " +
    "walk the whole tree from the root (a shard's folders alone would leave the folders above " +
    "them unchanged, and miss its hard links' other names)";
  const journal = `${tmp.path}/j`;
  // (not in the options' types: as a caller without type checks passes it)
  const bad = async (run: () => Promise<unknown>) => {
    const e = await assertRejects(run, TypeError);
    assertEquals(e.message, msg);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "changed");
  };
  await bad(() => repair(root, { apply: true, journal, frontier } as Parameters<typeof repair>[1]));
  await bad(() =>
    chown(
      root,
      { from: 1001, to: { uid: 1002 }, apply: true, journal, frontier } as Parameters<
        typeof chown
      >[1],
    )
  );
  await assertRejects(() => Deno.lstat(journal), Deno.errors.NotFound);
  // the whole tree: s/d and s/d/f get s's group, the nearest shared one
  await repair(root, { apply: true, journal: false });
  assertEquals(Deno.lstatSync(`${root}/s/d/f`).gid, G.OTHER);
  closeLibc();
});

Deno.test("callback options that are not functions: a TypeError before any change; an onChange that throws stops the run, the changes made so far in the journal, undo puts them back (audit)", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/t`;
  // (names of 241+ bytes: their change records fill the records'
  // channel, five 64 KiB batches at threads 1, in fewer changes than the
  // 2,520 the tree needs, and a worker whose batches are all full and
  // unread waits: the run stopped by the callback has changed fewer than
  // all however late its rejection comes (1,363 with a 3 s timer; 2,731
  // of 10,020 with short names; before, all 2,020 of a tree of 2,000
  // short names on a loaded machine)
  const n = 2500;
  manyFiles(root, n, "f".repeat(240));
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const bad = async (run: () => Promise<unknown>, msg: string) => {
    const e = await assertRejects(run, TypeError);
    assertEquals(e.message, msg);
    assertEquals(diffSnapshots(before, snapshot(root)), [], `changed by ${msg}`);
    await assertRejects(() => Deno.lstat(journal), Deno.errors.NotFound);
  };
  const x = "x" as unknown as () => void;
  await bad(
    () => repair(root, { apply: true, journal, onChange: x }),
    'pwalk: onChange must be a function, got "x" (a string)',
  );
  await bad(
    () => repair(root, { apply: true, journal, onJournal: x }),
    'pwalk: onJournal must be a function, got "x" (a string)',
  );
  await bad(
    () => chown(root, { from: 1001, to: { uid: 1002 }, apply: true, journal, onChange: x }),
    'pwalk: onChange must be a function, got "x" (a string)',
  );
  // an onChange that throws: the run stops with what it threw; what was
  // changed stays, each change in the journal, and undo puts it back
  const boom = new Error("enough");
  let calls = 0;
  const e = await assertRejects(() =>
    repair(root, {
      apply: true,
      journal,
      threads: 1,
      onChange: () => {
        if (++calls === 1) throw boom;
      },
    })
  );
  assert(e === boom, String(e));
  const { entries, tornLine } = await readJournal(journal);
  assertEquals(tornLine, 0);
  const changed = diffSnapshots(before, snapshot(root)).map((d) => d.split(":")[0]).sort();
  assertEquals(entries.map((e) => dec.decode(e.line.rel)).sort(), changed, "journal = changes");
  assert(changed.length > 0 && changed.length < n + 20, `${changed.length} changed`);
  const u = await undo(journal, { apply: true });
  assertEquals(u.applied, true);
  assertEquals(diffSnapshots(before, snapshot(root)), [], "everything put back");
  // async callbacks are awaited: a rejection is the run's, as a throw (none left unhandled)
  const later = new Error("later");
  const rejecting = async () => {
    await new Promise((r) => setTimeout(r, 1));
    throw later;
  };
  const j2 = `${tmp.path}/j2`, j3 = `${tmp.path}/j3`;
  const e2 = await assertRejects(() =>
    repair(root, { apply: true, journal: j2, onJournal: rejecting })
  );
  assert(e2 === later, String(e2));
  assertEquals(
    diffSnapshots(before, snapshot(root)),
    [],
    "an onJournal's rejection: nothing changed",
  );
  let asyncCalls = 0;
  const e3 = await assertRejects(() =>
    repair(root, {
      apply: true,
      journal: j3,
      threads: 1,
      onChange: async () => {
        if (++asyncCalls === 1) await rejecting();
      },
    })
  );
  assert(e3 === later, String(e3));
  assertEquals(asyncCalls, 1, "the run stopped at the first rejection");
  const changed3 = diffSnapshots(before, snapshot(root)).length;
  assert(changed3 > 0 && changed3 < n + 20, `${changed3} changed`);
  const e4 = await assertRejects(() => undo(j3, { apply: true, onRestore: rejecting }));
  assert(e4 === later, String(e4));
  await undo(j3, { apply: true });
  assertEquals(diffSnapshots(before, snapshot(root)), [], "everything put back again");
  // undo's callback too
  const r = await undo(journal, { onRestore: x }).catch((e) => e);
  assert(r instanceof TypeError, String(r));
  assertEquals(r.message, 'pwalk: onRestore must be a function, got "x" (a string)');
  closeLibc();
});

/**
 * A colon and a Unicode space separator, which a terminal shows as ": "
 * (the ASCII one: the parse of each line by its first ": " tells).
 */
const COLON_SPACE = /:[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/;

/** A path of a change line, its escapes (`\\`, `\xHH`: bytes of UTF-8) undone. */
function unescapePath(s: string): string {
  const bytes: number[] = [];
  for (const m of s.matchAll(/\\\\|\\x([0-9a-f]{2})|[^\\]+/gu)) {
    if (m[1]) bytes.push(parseInt(m[1], 16));
    else if (m[0] === "\\\\") bytes.push(0x5c);
    else bytes.push(...enc.encode(m[0]));
  }
  return dec.decode(new Uint8Array(bytes));
}

Deno.test("chown lines: ': ' in a name is written ':\\x20', so no name reads as another's mode line", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/c`;
  await Deno.mkdir(root);
  // x loses setgid (group-executable); the other two keep their modes
  // (a no-break space or an ideographic one after the colon shows as a
  // space on screen: escaped too)
  const names = ["x", "x: mode 2755 -> 0755", "y: z", "x:\u00a0mode 2755 -> 0755", "y:\u3000z"];
  for (const n of names) await Deno.writeTextFile(`${root}/${n}`, "");
  await Deno.chmod(`${root}/x`, 0o2755);
  await Deno.chmod(`${root}/${names[1]}`, 0o644);
  const before = new Map<string, number>();
  for (const p of [root, ...names.map((n) => `${root}/${n}`)]) {
    before.set(p, (await Deno.lstat(p)).mode! & 0o7777);
  }
  // each line: PATH, or PATH: mode A -> B (its first ": " ends the path)
  const oct = (m: number) => m.toString(8).padStart(4, "0");
  const parsed = (text: Uint8Array, prefix: string) =>
    lines(text).map((l) => {
      assert(l.startsWith(prefix), l);
      const at = l.indexOf(": ", prefix.length);
      return at < 0
        ? [unescapePath(l.slice(prefix.length)), ""]
        : [unescapePath(l.slice(prefix.length, at)), l.slice(at)];
    }).sort();
  const from = String(Deno.uid()), to = ["--chown_to", "1234:1234"];
  const dry = await cli(["chown", "--chown_from", from, ...to, root]);
  assertEquals(dry.code, 0, dry.stderr);
  const journal = `${tmp.path}/chown.journal`;
  const applied = await cli([
    "chown",
    "--chown_from",
    from,
    ...to,
    "--apply",
    "--journal",
    journal,
    root,
  ]);
  assertEquals(applied.code, 0, applied.stderr);
  // the mode parts: the modes lstat saw before and sees now, where they differ
  const want: string[][] = [];
  for (const [p, m] of before) {
    const now = (await Deno.lstat(p)).mode! & 0o7777;
    want.push([p, now === m ? "" : `: mode ${oct(m)} -> ${oct(now)}`]);
  }
  want.sort();
  assertEquals(want.filter(([, m]) => m).length, 1, "the premise: x lost setgid");
  assertEquals(parsed(dry.stdout, "would change: "), want);
  assertEquals(parsed(applied.stdout, ""), want);
  for (const out of [dry.stdout, applied.stdout]) {
    assertEquals(
      lines(out).filter((l) => COLON_SPACE.test(l)),
      [],
      "a colon and a space that shows as one",
    );
  }
});

Deno.test("repair and undo lines: ': ' in a name is written ':\\x20', as chown's, so each line's first ': ' ends its path", async () => {
  await using tmp = await tempDir("pwalk-repair-");
  const root = `${tmp.path}/p`;
  await Deno.mkdir(root);
  await Deno.chown(root, null, 5000); // the shared group: files take it, group-readable
  await Deno.chmod(root, 0o2770);
  const names = [
    "x",
    "x: mode 0600 -> 0640",
    "y: group 0 -> 5000",
    "x:\u00a0mode 0600 -> 0640", // a no-break space: a space on screen
    "y:\u2009group 0 -> 5000", // a thin space
  ];
  for (const n of names) {
    await Deno.writeTextFile(`${root}/${n}`, "");
    await Deno.chmod(`${root}/${n}`, 0o600);
  }
  const paths = [root, ...names.map((n) => `${root}/${n}`)];
  const facts = async () => {
    const m = new Map<string, string>();
    for (const p of paths) {
      const st = await Deno.lstat(p);
      m.set(p, `${st.gid} ${(st.mode! & 0o7777).toString(8)}`);
    }
    return m;
  };
  // the paths the lines name, each cut at the line's first ": "
  const named = (text: Uint8Array, prefix: string) =>
    [
      ...new Set(
        lines(text).map((l) => {
          assert(l.startsWith(prefix), l);
          const at = l.indexOf(": ", prefix.length);
          assert(at > 0, l);
          return unescapePath(l.slice(prefix.length, at));
        }),
      ),
    ].sort();
  const changed = (a: Map<string, string>, b: Map<string, string>) =>
    paths.filter((p) => a.get(p) !== b.get(p)).sort();
  const before = await facts();
  const dry = await cli(["repair", root]);
  assertEquals(dry.code, 0, dry.stderr);
  const journal = `${tmp.path}/j`;
  const applied = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(applied.code, 0, applied.stderr);
  const after = await facts();
  const want = changed(before, after);
  assertEquals(want.length, 5, "the premise: the five files change (group and mode)");
  assertEquals(named(dry.stdout, "would change: "), want);
  assertEquals(named(applied.stdout, ""), want);
  const undoDry = await cli(["undo", journal]);
  assertEquals(undoDry.code, 0, undoDry.stderr);
  assertEquals(named(undoDry.stdout, "would restore: "), want);
  const undone = await cli(["undo", "--apply", journal]);
  assertEquals(undone.code, 0, undone.stderr);
  assertEquals(named(undone.stdout, ""), want);
  for (const out of [dry.stdout, applied.stdout, undoDry.stdout, undone.stdout]) {
    assertEquals(
      lines(out).filter((l) => COLON_SPACE.test(l)),
      [],
      "a colon and a space that shows as one",
    );
  }
  assertEquals(changed(before, await facts()), [], "undo put everything back");
});

Deno.test("repair() and chown() throw for a root that cannot be resolved the class and code Deno's own lstat gives (a link loop: FilesystemLoop, not a plain Error)", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/file`, "x");
  await Deno.symlink("loop2", `${tmp.path}/loop1`);
  await Deno.symlink("loop1", `${tmp.path}/loop2`);
  for (const root of [`${tmp.path}/gone`, `${tmp.path}/loop1`, `${tmp.path}/file/x`]) {
    // the reference: Deno's error for the same path
    const ref = await Deno.lstat(`${root}/.`).then(
      () => {
        throw new Error(`${root} resolves`);
      },
      (e: Error & { code: string }) => e,
    );
    const calls: [string, () => Promise<unknown>][] = [
      ["repair", () => repair(root)],
      ["chown", () => chown(root, { from: 61002, to: { uid: 61003 } })],
    ];
    for (const [name, call] of calls) {
      const e = await assertRejects(call) as Error & { code?: string };
      assertEquals(
        [e.constructor, e.code],
        [ref.constructor, ref.code],
        `${name}(${root}): ${e.message}`,
      );
      assert(e.message.startsWith(`pwalk: ${root}: `), e.message);
    }
  }
});
