/**
 * Journal format version 2: each entry line holds the entry's birth time
 * at its change (statx STATX_BTIME), and undo leaves alone a file born
 * since under the same inode number (the owner the run gave it deleted it
 * and wrote another, which ext4 puts at the freed inode): without it, undo
 * of a chown gave that owner's new private file to the old owner (on an
 * ext4 of the test's own: tmpfs, where TMPDIR may be, never hands a freed
 * inode number out again). A
 * version 1 journal (no birth time) is still undone as before, also with a
 * version 2 run appended to it. On overlayfs, where the run's own change
 * copies an entry of a lower layer up (same inode number, a new birth
 * time), no birth time is journaled and none is held against the entry.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { closeLibc, lchown } from "./helpers/libc.ts";
import { cli } from "./helpers/run.ts";
import { canMountTmpfs, mountExt4, mountOverlay, mountTmpfs, tempDir } from "./helpers/temp.ts";

const dec = new TextDecoder();

/** The birth time coreutils' stat gives (`%.9W`), as the journal writes it; "-" when unknown. */
function statBirth(path: string): string {
  const o = new Deno.Command("stat", { args: ["-c", "%.9W", path] }).outputSync();
  assert(o.success, dec.decode(o.stderr));
  const s = dec.decode(o.stdout).trim();
  return s === "0.000000000" ? "-" : s;
}

/** A tree of user 1042: d (mode 777, anyone may replace its files) and d/f. */
function tree(root: string): void {
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  Deno.writeTextFileSync(`${root}/d/f`, "secret\n");
  for (const p of [root, `${root}/d`, `${root}/d/f`]) lchown(p, 1042, 1042);
  Deno.chmodSync(`${root}/d`, 0o777);
}

/**
 * Delete p and write a new file of uid:uid, mode 600, that takes p's inode
 * number (ext4 hands a freed one out again; new files are made, and kept
 * meanwhile, until one gets it), in p's place.
 */
function reborn(p: string, uid: number): number {
  const ino = Deno.lstatSync(p).ino!;
  Deno.removeSync(p);
  const made: string[] = [];
  try {
    for (let i = 0; i < 2000; i++) {
      const n = `${p}.${i}`;
      Deno.writeTextFileSync(n, `${uid} private data\n`);
      if (Deno.lstatSync(n).ino !== ino) {
        made.push(n);
        continue;
      }
      lchown(n, uid, uid);
      Deno.chmodSync(n, 0o600);
      Deno.renameSync(n, p);
      return ino;
    }
  } finally {
    for (const n of made) Deno.removeSync(n);
  }
  throw new Error(`the file system gives ${p} no freed inode number again`);
}

/** Where a test's tree goes: see {@link ext4Place}. */
interface Place {
  /** The folder. */
  path: string;
  /** Why no ext4 file system could be mounted for it ("" when one was). */
  why: string;
}

/**
 * A folder for a tree that {@link reborn} works in, whatever TMPDIR is on:
 * on an ext4 file system of the test's own (ext4 hands a freed inode number
 * out again, tmpfs never does), or where none can be mounted (no root, no
 * loop device), in tmp itself.
 */
async function ext4Place(tmp: string): Promise<Place> {
  const path = `${tmp}/ext4`;
  Deno.mkdirSync(path);
  const why = await mountExt4(`${tmp}/ext4.img`, path);
  return why === "" ? { path, why } : { path: tmp, why };
}

/**
 * {@link reborn} of p, or null (with a note printed: the part that needs it
 * is skipped, not passed) where the tree is not on the test's ext4 and the
 * file system there gives no freed inode number again (tmpfs).
 */
function rebornOr(place: Place, p: string, uid: number, part: string): number | null {
  try {
    return reborn(p, uid);
  } catch (e) {
    if (place.why === "") throw e;
    console.log(
      `skipped: ${part}: ${(e as Error).message}, and no ext4 could be mounted (${place.why})`,
    );
    return null;
  }
}

/** `pwalk chown 1042 -> 2000:2000 --apply` of root, journal j. */
async function chown(root: string, j: string): Promise<void> {
  const r = await cli([
    "--chown_from",
    "1042",
    "--chown_to",
    "2000:2000",
    "--apply",
    "--journal",
    j,
    root,
  ]);
  assertEquals(r.code, 0, r.stderr);
}

Deno.test("undo leaves alone a file born since the chown under the inode number of the one changed; the journal holds each entry's birth time (audit)", async () => {
  await using tmp = await tempDir("pwalk-birth-");
  const place = await ext4Place(tmp.path);
  const root = `${place.path}/r`, j = `${tmp.path}/j`;
  tree(root);
  const births = [".", "d", "d/f"].map((rel) => statBirth(rel === "." ? root : `${root}/${rel}`));
  await chown(root, j);
  const lines = Deno.readTextFileSync(j).split("\n").filter((l) => l);
  assert(lines[0].startsWith("#pwalk-journal 2 chown apply "), lines[0]);
  // each line's BIRTH field is the entry's birth time, as stat(1) reads it
  const byRel = new Map(
    lines.slice(1).map((l) => {
      const f = l.split(" ");
      assertEquals(f.length, 11, l);
      return [f[10], f[9]];
    }),
  );
  assertEquals([".", "d", "d/f"].map((rel) => byRel.get(rel)), births);

  const ino = rebornOr(place, `${root}/d/f`, 2000, "undo of a file born since");
  if (ino === null) return closeLibc();
  const u = await cli(["undo", "--apply", j]);
  assertEquals(u.code, 0, u.stderr);
  const f = Deno.lstatSync(`${root}/d/f`);
  // 2000's new file stays 2000's; the folders the run changed go back
  assertEquals([f.ino, f.uid, f.gid, f.mode! & 0o7777], [ino, 2000, 2000, 0o600]);
  assertEquals(Deno.readTextFileSync(`${root}/d/f`), "2000 private data\n");
  for (const p of [root, `${root}/d`]) {
    const s = Deno.lstatSync(p);
    assertEquals([s.uid, s.gid], [1042, 1042], p);
  }
  assertStringIncludes(
    u.stderr,
    `'${root}/d/f': a different file is there now (born since the run, under the same inode number): left alone`,
  );
  assertStringIncludes(u.stderr, "2 restored");
  assertStringIncludes(u.stderr, "1 error");
  closeLibc();
});

Deno.test("a version 1 journal (no birth time) is undone as before, also with a version 2 run appended to it (audit)", async () => {
  await using tmp = await tempDir("pwalk-birth-");
  const place = await ext4Place(tmp.path);
  const root = `${place.path}/r`, j = `${tmp.path}/j`;
  tree(root);
  await chown(root, j);
  // the same run as version 1 wrote it: header 1, no BIRTH field
  const v1 = Deno.readTextFileSync(j).split("\n").filter((l) => l).map((l, i) => {
    if (i === 0) return l.replace(/^#pwalk-journal 2 /, "#pwalk-journal 1 ");
    const f = l.split(" ");
    return [...f.slice(0, 9), f[10]].join(" ");
  });
  assert(v1[0].startsWith("#pwalk-journal 1 chown apply "));
  Deno.writeTextFileSync(j, v1.join("\n") + "\n", { mode: 0o600 });
  // a second run appends to it: 2000 -> 3000, a version 2 run after the version 1 one
  Deno.writeTextFileSync(`${root}/new`, "x");
  lchown(`${root}/new`, 2000, 2000);
  const r = await cli([
    "--chown_from",
    "2000",
    "--chown_to",
    "3000:3000",
    "--apply",
    "--journal",
    j,
    root,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const text = Deno.readTextFileSync(j);
  assertEquals(
    text.split("\n").filter((l) => l.startsWith("#")).map((l) =>
      l.split(" ").slice(0, 4).join(" ")
    ),
    ["#pwalk-journal 1 chown apply", "#pwalk-journal 2 chown apply"],
  );
  const u = await cli(["undo", "--apply", j]);
  assertEquals(u.code, 0, u.stderr);
  for (const p of [root, `${root}/d`, `${root}/d/f`]) {
    const s = Deno.lstatSync(p);
    assertEquals([s.uid, s.gid], [1042, 1042], p);
  }
  const n = Deno.lstatSync(`${root}/new`);
  assertEquals([n.uid, n.gid], [2000, 2000]);
  assertStringIncludes(u.stderr, "0 errors");

  // version 1 cannot tell a file born since: undone by device and inode, as before
  await chown(root, `${tmp.path}/j2`);
  const v1b = Deno.readTextFileSync(`${tmp.path}/j2`).split("\n").filter((l) => l).map((l, i) =>
    i === 0
      ? l.replace(/^#pwalk-journal 2 /, "#pwalk-journal 1 ")
      : [...l.split(" ").slice(0, 9), l.split(" ")[10]].join(" ")
  );
  Deno.writeTextFileSync(`${tmp.path}/j2`, v1b.join("\n") + "\n", { mode: 0o600 });
  if (rebornOr(place, `${root}/d/f`, 2000, "version 1 undo of a file born since") === null) {
    return closeLibc();
  }
  const u2 = await cli(["undo", "--apply", `${tmp.path}/j2`]);
  assertEquals(u2.code, 0, u2.stderr);
  const f = Deno.lstatSync(`${root}/d/f`);
  assertEquals([f.uid, f.gid], [1042, 1042]);
  closeLibc();
});

Deno.test({
  name:
    "on overlayfs, undo puts back the entries the chown copied up from the lower layer (same inode number, new birth time); no birth time is journaled there (audit)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-birth-");
    // the layers on a tmpfs of their own: overlayfs takes no upper layer on
    // overlayfs, whatever TMPDIR is on
    const fs = `${tmp.path}/fs`, mnt = `${tmp.path}/mnt`, j = `${tmp.path}/j`;
    for (const d of [fs, mnt]) Deno.mkdirSync(d);
    assertEquals(await mountTmpfs(fs, "size=4m"), "");
    const [lower, upper, work] = ["lower", "upper", "work"].map((d) => `${fs}/${d}`);
    for (const d of [upper, work]) Deno.mkdirSync(d);
    tree(`${lower}/proj`);
    Deno.chmodSync(`${lower}/proj/d`, 0o755);
    const rels = [".", "d", "d/f"];
    // what the build before journaled: the birth times read before the
    // change, the lower layer's
    const lowerBirths = new Map(rels.map((rel) => [rel, statBirth(`${lower}/proj/${rel}`)]));
    assertEquals(await mountOverlay(lower, upper, work, mnt), "");
    const root = `${mnt}/proj`;
    const inos = rels.map((rel) => Deno.lstatSync(`${root}/${rel}`).ino);

    await chown(root, j);
    const lines = Deno.readTextFileSync(j).split("\n").filter((l) => l);
    assertEquals(lines.length, 1 + rels.length, lines.join("\n"));
    // copied up by the chown: the same inode numbers, other birth times
    assertEquals(rels.map((rel) => Deno.lstatSync(`${root}/${rel}`).ino), inos);
    const copied = rels.map((rel) => statBirth(`${root}/${rel}`));
    assert(
      copied.some((b, i) => b !== "-" && b !== lowerBirths.get(rels[i])),
      `copied up: ${copied}, lower: ${[...lowerBirths.values()]}`,
    );
    // no BIRTH on overlayfs
    for (const l of lines.slice(1)) assertEquals(l.split(" ")[9], "-", l);

    // undo holds no birth time against an entry there either: the lines as
    // the build before wrote them (the lower layer's birth times) are undone
    const old = lines.map((l, i) => {
      if (i === 0) return l;
      const f = l.split(" ");
      f[9] = lowerBirths.get(f[10])!;
      return f.join(" ");
    });
    Deno.writeTextFileSync(j, old.join("\n") + "\n", { mode: 0o600 });
    const u = await cli(["undo", "--apply", j]);
    assertEquals(u.code, 0, u.stderr);
    assertStringIncludes(u.stderr, "3 restored");
    assertStringIncludes(u.stderr, "0 errors");
    rels.forEach((rel, i) => {
      const s = Deno.lstatSync(`${root}/${rel}`);
      assertEquals([s.ino, s.uid, s.gid], [inos[i], 1042, 1042], rel);
    });
    closeLibc();
  },
});

Deno.test({
  name:
    "on overlayfs, a file with hard links in the lower layer is left alone by repair and chown, a hardlinks notice at each name: a change would copy up one name and part it from the others (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-birth-");
    const fs = `${tmp.path}/fs`, mnt = `${tmp.path}/mnt`;
    for (const d of [fs, mnt]) Deno.mkdirSync(d);
    assertEquals(await mountTmpfs(fs, "size=4m"), "");
    const [lower, upper, work] = ["lower", "upper", "work"].map((d) => `${fs}/${d}`);
    for (const d of [upper, work]) Deno.mkdirSync(d);
    // a project folder of group 5000 with a private folder of files, two
    // names of one file among them
    const p = `${lower}/proj`;
    Deno.mkdirSync(`${p}/d1`, { recursive: true });
    Deno.writeTextFileSync(`${p}/d1/hl1`, "h\n");
    Deno.linkSync(`${p}/d1/hl1`, `${p}/d1/hl2`);
    Deno.writeTextFileSync(`${p}/d1/f`, "f\n");
    lchown(p, 0, 5000);
    Deno.chmodSync(p, 0o2775);
    for (const n of ["d1", "d1/hl1", "d1/f"]) lchown(`${p}/${n}`, 1042, 1042);
    Deno.chmodSync(`${p}/d1`, 0o700);
    for (const n of ["d1/hl1", "d1/f"]) Deno.chmodSync(`${p}/${n}`, 0o600);
    assertEquals(await mountOverlay(lower, upper, work, mnt), "");
    const root = `${mnt}/proj`;
    const facts = (n: string) => {
      const s = Deno.lstatSync(`${root}/${n}`);
      return [s.ino, s.nlink, s.uid, s.gid, s.mode! & 0o7777];
    };
    const links = () => ["d1/hl1", "d1/hl2"].map(facts);
    const before = links();
    const notice = (n: string) =>
      `pwalk: hardlinks '${root}/${n}': a file with hard links on overlayfs: a change would copy ` +
      "up only this name, to a new file, and part it from its other names (undo could not find " +
      "it again): left alone; change it where the layer is mounted\n";
    for (
      const args of [["repair"], ["--chown_from", "1042", "--chown_to", "2000:2000"]]
    ) {
      for (const apply of [[], ["--apply", "--journal", `${tmp.path}/j-${args[0]}`]]) {
        const r = await cli([...args, ...apply, root]);
        assertEquals(r.code, 0, r.stderr);
        for (const n of ["d1/hl1", "d1/hl2"]) assertStringIncludes(r.stderr, notice(n));
        assert(!r.text.includes("/hl"), r.text);
        assertEquals(links(), before, `${args[0]} ${apply[0] ?? "dry run"}`);
      }
    }
    // the rest was repaired, then chowned; undo puts both runs back
    assertEquals(facts("d1/f").slice(2), [2000, 2000, 0o640]);
    for (const j of ["--chown_from", "repair"]) {
      const u = await cli(["undo", "--apply", `${tmp.path}/j-${j}`]);
      assertEquals(u.code, 0, u.stderr);
    }
    assertEquals(facts("d1/f").slice(2), [1042, 1042, 0o600]);
    assertEquals(links(), before);
    closeLibc();
  },
});
