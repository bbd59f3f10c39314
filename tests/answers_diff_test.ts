/**
 * `pwalk diff` / diff() on a tree changed in known ways between two scans:
 * files added, removed, grown, shrunk, replaced (a new inode renamed over
 * the old path), and one given to another owner. Every count and byte sum
 * is recomputed here from Deno.lstat before and after; the per-user net is
 * lstat's sum per uid after minus before.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Buffer } from "node:buffer";
import { DuckDBInstance } from "@duckdb/node-api";
import { type Diff, diff, type FileChange, summarize } from "../mod.ts";
import { answersTree, extraNames, type RefEntry, sums, walkRef } from "./helpers/answers_tree.ts";
import { COLUMNS } from "./helpers/csv.ts";
import { rootSlashScans, slashRootScans } from "./helpers/c_scan.ts";
import { cli, run, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { formatDiff } from "../lib/cli/diff.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { iecTenths } from "./helpers/units.ts";
import { python } from "./helpers/tree.ts";

const NOW = 1_800_000_000;

/** A report of `root` written by the CLI to `dir/name` (with pwalk's header when `header`): its path. */
async function scanTo(dir: string, name: string, root: string, header = false): Promise<string> {
  const out = `${dir}/${name}`;
  const r = await cli([...header ? ["--header"] : [], "-o", out, root]);
  assertEquals(r.code, 0, r.stderr);
  return out;
}

/** Bytes allocated under `path` as du counts them (each hard-linked inode once). */
async function duBytes(path: string): Promise<number> {
  const r = await new Deno.Command("du", { args: ["-sB1", path] }).output();
  return Number(new TextDecoder().decode(r.stdout).split("\t")[0]);
}

function perUid(es: RefEntry[]): Map<number, [number, number]> {
  const m = new Map<number, RefEntry[]>();
  for (const e of es) m.set(e.uid, [...(m.get(e.uid) ?? []), e]);
  return new Map([...m].map(([k, v]) => [k, sums(v, es)]));
}

Deno.test("diff: added, removed, grown, shrunk, replaced, chowned: counts and bytes vs Deno.lstat", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const files = await answersTree(root, {
    seed: 5,
    files: 200,
    uids: [0, 1001, 1002],
    gids: [0, 2001],
    now: NOW,
  });
  const r1 = await cli(["--header", "-o", `${tmp.path}/old.csv.zst`, root]);
  assertEquals(r1.code, 0, r1.stderr);
  const before = await walkRef(root);
  const at = (es: RefEntry[], p: string) => es.find((e) => e.path === p)!;

  // Known changes (files chosen among those with one name and no link to them).
  const plainFiles = files.slice(5, -1).filter((p) => Deno.statSync(p).size > 10);
  const removed = plainFiles.slice(0, 4);
  const grown = plainFiles.slice(4, 7);
  const shrunk = plainFiles.slice(7, 9);
  const replaced = plainFiles.slice(9, 11);
  const chowned = plainFiles[11];
  for (const p of removed) await Deno.remove(p);
  for (const p of grown) {
    const f = await Deno.open(p, { append: true });
    await f.write(new Uint8Array(70_000).fill(0x7a));
    f.close();
  }
  for (const p of shrunk) await Deno.truncate(p, 1);
  for (const p of replaced) {
    await Deno.writeFile(`${p}.new`, new Uint8Array(12_345).fill(0x71));
    await Deno.rename(`${p}.new`, p); // a new inode under the old path
  }
  await Deno.chown(chowned, 1002, 2001);
  await Deno.mkdir(`${root}/fresh`);
  const added = [`${root}/fresh/a.bin`, `${root}/fresh/b.bin`, `${root}/c.bin`];
  for (const [i, p] of added.entries()) {
    await Deno.writeFile(p, new Uint8Array(10_000 * (i + 1)).fill(0x62));
  }
  const r2 = await cli(["-o", `${tmp.path}/new.csv`, root]);
  assertEquals(r2.code, 0, r2.stderr);
  const after = await walkRef(root);

  const d = await diff([`${tmp.path}/old.csv.zst`], [`${tmp.path}/new.csv`], { top: 1000 });
  const inBefore = new Set(before.map((e) => e.path));
  const inAfter = new Set(after.map((e) => e.path));
  const addedRef = after.filter((e) => !inBefore.has(e.path));
  const removedRef = before.filter((e) => !inAfter.has(e.path));
  assertEquals(addedRef.map((e) => e.path).sort(), [`${root}/fresh`, ...added].sort());
  assertEquals(removedRef.map((e) => e.path).sort(), [...removed].sort());

  assertEquals(d.totals.added.entries, addedRef.length);
  assertEquals(d.totals.added.allocatedBytes, sums(addedRef, after)[1]);
  assertEquals(d.totals.removed.entries, removedRef.length);
  assertEquals(d.totals.removed.apparentBytes, sums(removedRef, before)[0]);
  assertEquals(d.totals.replaced.entries, replaced.length);
  assertEquals(d.totals.replaced.apparentBytes, replaced.length * 12_345);
  const grownBytes = grown.reduce((n, p) => n + at(after, p).size - at(before, p).size, 0);
  assertEquals(d.totals.grown.apparentBytes, grownBytes);
  assert(d.totals.grown.entries >= grown.length); // folders whose size grew count too
  const shrunkBytes = shrunk.reduce((n, p) => n + at(after, p).size - at(before, p).size, 0);
  assertEquals(d.totals.shrunk.apparentBytes, shrunkBytes);
  assertEquals(d.totals.net.entries, after.length - before.length);
  assertEquals(d.totals.net.allocatedBytes, sums(after)[1] - sums(before)[1]);

  // per user: net = lstat's sums after minus before, for every uid
  const b = perUid(before), a = perUid(after);
  for (const u of d.users) {
    const [ab0, al0] = b.get(u.id!) ?? [0, 0];
    const [ab1, al1] = a.get(u.id!) ?? [0, 0];
    assertEquals(
      [u.net.apparentBytes, u.net.allocatedBytes],
      [ab1 - ab0, al1 - al0],
      `uid ${u.id}`,
    );
  }
  const changedUids = new Set(
    [...b.keys(), ...a.keys()].filter((k) => JSON.stringify(b.get(k)) !== JSON.stringify(a.get(k))),
  );
  for (const k of changedUids) assert(d.users.some((u) => u.id === k), `uid ${k} listed`);

  // files lists
  assertEquals(
    d.newFiles.map((f) => f.path).sort(),
    [...added, ...replaced].sort(),
  );
  assertEquals(
    d.newFiles.filter((f) => f.status === "replaced").map((f) => f.path).sort(),
    [...replaced].sort(),
  );
  assertEquals(
    d.deletedFiles.map((f) => f.path).sort(),
    [...removed, ...replaced].sort(),
  );
  const changed = new Set(d.changedFiles.map((f) => f.path));
  for (const p of [...grown, ...shrunk]) assert(changed.has(p), p);
  for (const f of d.changedFiles) {
    assertEquals([f.oldSize, f.newSize], [at(before, f.path).size, at(after, f.path).size]);
  }

  // growing folders: the root's recursive change equals the whole tree's
  const top = d.growingFolders.find((f) => f.path === root)!;
  assertEquals(top.delta.allocatedBytes, sums(after)[1] - sums(before)[1]);
  const fresh = d.growingFolders.find((f) => f.path === `${root}/fresh`)!;
  assertEquals(fresh.old.entries, 0);
  assertEquals(fresh.new.files, 2);
  // the per-folder table at level 1 holds "fresh" with its bytes
  const freshRow = d.folders.find((f) => f.key === `${root}/fresh`)!;
  // its two files, the entries below it; its bytes the folder's own too
  assertEquals(
    freshRow.added.entries,
    after.filter((e) => e.path.startsWith(`${root}/fresh/`)).length,
  );
  assertEquals(
    freshRow.added.allocatedBytes,
    sums(after.filter((e) => e.path.startsWith(`${root}/fresh`)), after)[1],
  );

  // the CLI prints the same as JSON
  const r = await cli([
    "diff",
    "--json",
    "--top",
    "1000",
    `${tmp.path}/old.csv.zst`,
    `${tmp.path}/new.csv`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const j = JSON.parse(new TextDecoder().decode(r.stdout));
  assertEquals(j.totals, d.totals);
  assertEquals(j.users, d.users);

  // the same diff of the Parquet files DuckDB writes from README's view of
  // each scan (st_mode as text, "0100644")
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    for (const [csv, pq] of [["old.csv.zst", "old.parquet"], ["new.csv", "new.parquet"]]) {
      const header = csv === "new.csv"
        ? ", header = false, names = [" +
          COLUMNS.map((c) => `'${c}'`).join(", ") + "]"
        : "";
      await con.run(
        `COPY (SELECT * FROM read_csv('${tmp.path}/${csv}'${header}, ` +
          `types = {'st_mode': 'VARCHAR'})) TO '${tmp.path}/${pq}' (FORMAT parquet)`,
      );
    }
  } finally {
    con.closeSync();
    db.closeSync();
  }
  const fromParquet = await diff([`${tmp.path}/old.parquet`], [`${tmp.path}/new.parquet`], {
    top: 1000,
  });
  const { old: _o, new: _n, elapsedSeconds: _e, ...same } = d;
  const { old: _po, new: _pn, elapsedSeconds: _pe, ...got } = fromParquet;
  assertEquals(got, same);
  assertEquals(
    [fromParquet.old.entries, fromParquet.new.allocatedBytes],
    [d.old.entries, d.new.allocatedBytes],
  );
});

Deno.test("diff: names that print the same (control bytes dropped) pair one to one, by inode", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  const c = `${root}/c`;
  await Deno.mkdir(c, { recursive: true });
  // four names that pwalk prints as c/ab, and one other file
  const names = ["ab", "a\nb", "a\tb", "a\x01b"];
  for (const [i, n] of names.entries()) {
    await Deno.writeFile(`${c}/${n}`, new Uint8Array(1000 * (i + 1)).fill(0x61));
  }
  await Deno.writeFile(`${c}/other`, new Uint8Array(10));
  const r1 = await cli(["-o", `${tmp.path}/old.csv`, root]);
  assertEquals(r1.code, 0, r1.stderr);
  const before = await walkRef(root);

  const ino = (p: string) => Deno.lstatSync(p).ino;
  const f = await Deno.open(`${c}/ab`, { append: true }); // grown
  await f.write(new Uint8Array(5000));
  f.close();
  const oldIno = ino(`${c}/a\nb`);
  await Deno.writeFile(`${c}/new`, new Uint8Array(12_345));
  await Deno.rename(`${c}/new`, `${c}/a\nb`); // replaced: a new inode
  assert(ino(`${c}/a\nb`) !== oldIno);
  // removed after the new inode was made: the new file cannot reuse its inode
  await Deno.remove(`${c}/a\tb`);
  const r2 = await cli(["-o", `${tmp.path}/new.csv`, root]);
  assertEquals(r2.code, 0, r2.stderr);
  const after = await walkRef(root);

  const d = await diff([`${tmp.path}/old.csv`], [`${tmp.path}/new.csv`], { top: 1000 });
  const t = d.totals;
  // every row of each scan counted once
  assertEquals(
    t.removed.entries + t.replaced.entries + t.changed.entries + t.unchanged.entries,
    before.length,
  );
  assertEquals(
    t.added.entries + t.replaced.entries + t.changed.entries + t.unchanged.entries,
    after.length,
  );
  // Of the two old entries gone (2,000 and 3,000 bytes), which one the new
  // inode replaced cannot be told from the scans: one is each.
  assertEquals(t.removed.entries, 1);
  assertEquals([t.replaced.entries, t.replaced.apparentBytes], [1, 12_345]);
  assertEquals(
    d.deletedFiles.map((x) => x.oldSize).sort(),
    [2000, 3000],
    "the old sides of removed and replaced",
  );
  assert([2000, 3000].includes(t.removed.apparentBytes));
  assertEquals(t.added.entries, 0);
  assertEquals(
    t.grown.apparentBytes,
    5000 + (after.find((e) => e.path === c)!.size -
      before.find((e) => e.path === c)!.size),
  );
  assertEquals(t.net.apparentBytes, sums(after)[0] - sums(before)[0]);
  assertEquals(d.deletedFiles.map((x) => [x.path, x.status]).sort(), [
    [`${c}/ab`, "removed"],
    [`${c}/ab`, "replaced"],
  ]);
});

Deno.test("diff: files whose names print the same, of one size, are listed alike whatever the order of the scan's rows", async () => {
  // before: with --top 1, the deleted (or new) file listed of "r/a<newline>b"
  // (uid 61001) and "r/ab" (61002), both 5 bytes, was the scan's first row
  await using tmp = await tempDir();
  const row = (ino: number, path: string, uid: number, mtime: number, dir = false) =>
    `${ino},${dir ? 0 : 1000},${dir ? -1 : 0},"${path}","",${uid},0,${dir ? 4096 : 5},64768,8,` +
    `${dir ? 3 : 1},"${dir ? "0040755" : "0100644"}",1700000000,${mtime},1700000000,` +
    `${dir ? 2 : -1},0\n`;
  const files = [row(11, "/r/ab", 61001, 1600000000), row(12, "/r/ab", 61002, 1600000001)];
  const rootRow = (mtime: number) => row(1000, "/r", 0, mtime, true);
  const write = async (name: string, text: string) => {
    await Deno.writeTextFile(`${tmp.path}/${name}`, text);
    return `${tmp.path}/${name}`;
  };
  const full = [
    await write("a.csv", rootRow(1700000000) + files.join("")),
    await write("b.csv", rootRow(1700000000) + [...files].reverse().join("")),
  ];
  const empty = await write("e.csv", rootRow(1700000001).replace(",2,0\n", ",0,0\n"));
  const listed = (fs: FileChange[]) => fs.map((f) => [f.path, f.uid, f.oldMtime, f.newMtime]);
  // (--top 1: which is listed; --top 2, deleted only: in which order)
  for (const [top, sides] of [[1, ["del", "add"]], [2, ["del"]]] as const) {
    for (const side of sides) {
      const lists = [];
      for (const scan of full) {
        lists.push(listed(
          side === "del"
            ? (await diff([scan], [empty], { names: false, top })).deletedFiles
            : (await diff([empty], [scan], { names: false, top })).newFiles,
        ));
      }
      assertEquals(lists[0].length, top);
      assertEquals(lists[1], lists[0], `${side}, --top ${top}`);
    }
  }
});

Deno.test("diff: a grown file with hard links is grown under each name, its bytes counted once", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  const f1 = `${root}/d/f1.txt`, hard = `${root}/hard.txt`, sp = `${root}/with space.txt`;
  await Deno.writeFile(f1, new Uint8Array(1000));
  await Deno.link(f1, hard);
  await Deno.writeFile(sp, new Uint8Array(2));
  await Deno.writeFile(`${root}/same.txt`, new Uint8Array(5));
  assertEquals((await cli(["-o", `${tmp.path}/old.csv`, root])).code, 0);
  const before = await walkRef(root);
  await Deno.writeFile(f1, new Uint8Array(500), { append: true }); // hard.txt grows with it
  await Deno.writeFile(sp, new Uint8Array(8), { append: true });
  assertEquals((await cli(["-o", `${tmp.path}/new.csv`, root])).code, 0);
  const after = await walkRef(root);

  // reference: the names whose size grew, and the growth of each inode once
  const old = new Map(before.map((e) => [e.path, e]));
  const grownNames = after.filter((e) => old.has(e.path) && e.size > old.get(e.path)!.size);
  const byInode = new Map(grownNames.map((e) => [e.ino, e.size - old.get(e.path)!.size]));
  assertEquals(grownNames.map((e) => e.path).sort(), [f1, hard, sp].sort());
  const d = await diff([`${tmp.path}/old.csv`], [`${tmp.path}/new.csv`], { top: 100 });
  assertEquals(d.totals.grown.entries, grownNames.length);
  assertEquals(d.totals.grown.apparentBytes, [...byInode.values()].reduce((a, b) => a + b, 0));
  assertEquals(d.totals.shrunk.entries, 0);
  const user = d.users.find((u) => u.id === Deno.uid())!;
  assertEquals(user.grown.entries, grownNames.length);
  assertEquals(user.grown.apparentBytes, d.totals.grown.apparentBytes);
});

Deno.test("diff: a hard link added beside a file moves no bytes to anyone (du: the same)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(`${root}/x`, { recursive: true });
  await Deno.writeFile(`${root}/x/f`, new Uint8Array(1 << 20).fill(7));
  const du = () => duBytes(root);
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  const duOld = await du();
  // a new name that sorts before the old one (it would carry the bytes)
  await Deno.link(`${root}/x/f`, `${root}/a_link`);
  const now = await scan("new.csv");
  const grew = (await du()) - duOld; // du counts the inode once: 0
  const d = await diff([old], [now]);
  assertEquals(d.totals.added.entries, 1);
  assertEquals(d.totals.added.allocatedBytes, 0, "the new name carried the file's bytes");
  assertEquals(d.totals.net.allocatedBytes, grew);
  for (const row of [...d.users, ...d.groups, ...d.folders]) {
    assertEquals(row.net.allocatedBytes, grew, `${row.key}: ${JSON.stringify(row.net)}`);
  }
});

Deno.test("diff: a hard-linked file deleted, its inode number reused by a symbolic link at one of its paths: its bytes stay with its first name, as summary counts them", async () => {
  // before: /r/y/b, a link in NEW (another entry: replaced), was taken for
  // a name of the file in both scans, and carried OLD's bytes: /r/x lost
  // nothing in the folder tables, /r/y lost the file, recarried 1
  await using tmp = await tempDir();
  const row = (
    ino: number,
    parent: number,
    depth: number,
    path: string,
    size: number,
    mode: string,
    nlink: number,
  ) =>
    `${ino},${parent},${depth},"${path}","",0,0,${size},64768,${Math.ceil(size / 4096) * 8},` +
    `${nlink},"${mode}",1700000000,1700000000,1700000000,${mode === "0040755" ? 1 : -1},0\n`;
  const dirs = row(1, 0, -1, "/r", 4096, "0040755", 4) + row(2, 1, 0, "/r/x", 4096, "0040755", 2) +
    row(3, 1, 0, "/r/y", 4096, "0040755", 2);
  const old = `${tmp.path}/old.csv`, now = `${tmp.path}/new.csv`;
  await Deno.writeTextFile(
    old,
    dirs + row(100, 2, 1, "/r/x/a", 5000, "0100644", 2) +
      row(100, 3, 1, "/r/y/b", 5000, "0100644", 2),
  );
  await Deno.writeTextFile(now, dirs + row(100, 3, 1, "/r/y/b", 5, "0120777", 1));
  const d = await diff([old], [now], { names: false });
  assertEquals(d.recarried, { old: 0, new: 0 });
  // the reference: summary of each scan, whose hard links the first name carries
  const s = {
    old: await summarize([old], { names: false }),
    new: await summarize([now], { names: false }),
  };
  for (const f of d.growingFolders) {
    for (const side of ["old", "new"] as const) {
      const sf = s[side].folders.find((x) => x.path === f.path);
      assertEquals(f[side].allocatedBytes, sf?.allocatedBytes ?? 0, `${side} ${f.path}`);
      assertEquals(f[side].apparentBytes, sf?.apparentBytes ?? 0, `${side} ${f.path}`);
    }
  }
  assertEquals(d.growingFolders.length, 3);
  const lost = new Map(d.folders.map((f) => [f.key, -f.net.allocatedBytes]));
  assertEquals(
    lost.get("/r/x"),
    s.old.folders.find((f) => f.path === "/r/x")!.allocatedBytes -
      s.new.folders.find((f) => f.path === "/r/x")!.allocatedBytes,
  );
  assertEquals(
    d.deletedFiles.map((f) => [f.path, f.extraName]),
    [["/r/x/a", false], ["/r/y/b", true]],
  );
});

Deno.test("diff: a hard link whose name prints as the old one's (a\\nb beside ab) moves no bytes (du: the same)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(root);
  await Deno.writeFile(`${root}/ab`, new Uint8Array(100_000).fill(7));
  await Deno.writeFile(`${root}/c`, new Uint8Array(10));
  const du = () => duBytes(root);
  const scan = async (name: string) => {
    const r = await cli(["--header", "-o", `${tmp.path}/${name}`, root]);
    assertEquals(r.code, 0, r.stderr);
    return [`${tmp.path}/${name}`, await du()] as const;
  };
  const [one, duOne] = await scan("one.csv");
  // pwalk drops the control byte: both names print as t/ab, one inode
  const before = await Deno.lstat(root);
  await Deno.link(`${root}/ab`, `${root}/a\nb`);
  // the folder's mtime as it was: a second boundary between the scan and
  // the link changed the folder, one unchanged entry fewer
  await Deno.utime(root, before.atime!, before.mtime!);
  const [two, duTwo] = await scan("two.csv");
  await Deno.writeFile(`${root}/ab`, new Uint8Array(50_000).fill(7), { append: true });
  const [grown, duGrown] = await scan("grown.csv");
  const zero = { entries: 0, apparentBytes: 0, allocatedBytes: 0 };
  {
    const d = await diff([one], [two]);
    assertEquals([d.old.allocatedBytes, d.new.allocatedBytes], [duOne, duTwo]);
    assertEquals(d.totals.added, { entries: 1, apparentBytes: 0, allocatedBytes: 0 });
    assertEquals(d.totals.net.allocatedBytes, duTwo - duOne);
    assertEquals(d.totals.unchanged.entries, 3);
    for (const row of [...d.users, ...d.groups, ...d.folders]) {
      assertEquals(row.net.allocatedBytes, duTwo - duOne, `${row.key}: ${JSON.stringify(row.net)}`);
    }
  }
  {
    const d = await diff([two], [one]);
    assertEquals(d.totals.removed, { entries: 1, apparentBytes: 0, allocatedBytes: 0 });
    assertEquals(d.totals.added, zero);
    assertEquals(d.totals.net.allocatedBytes, duOne - duTwo);
  }
  {
    // the scan against itself: every row paired, nothing moves
    const d = await diff([two], [two]);
    assertEquals(d.totals.unchanged.entries, 4);
    assertEquals(d.totals.unchanged.allocatedBytes, duTwo);
    assertEquals([d.totals.added, d.totals.removed, d.totals.net.allocatedBytes], [zero, zero, 0]);
  }
  {
    // grown under both names, its bytes counted once
    const d = await diff([two], [grown]);
    assertEquals([d.old.allocatedBytes, d.new.allocatedBytes], [duTwo, duGrown]);
    assertEquals([d.totals.grown.entries, d.totals.grown.apparentBytes], [2, 50_000]);
    assertEquals(d.totals.net.allocatedBytes, duGrown - duTwo);
    assertEquals([d.totals.added, d.totals.removed], [zero, zero]);
  }
});

Deno.test("diff across a remount (NEW's st_dev differs): the same totals, breakdowns and moves", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(root);
  const files = await answersTree(root, {
    seed: 11,
    files: 60,
    uids: [0, 1001, 1002],
    gids: [0, 2001],
    now: NOW,
  });
  await Deno.mkdir(`${root}/zz`);
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  // hard links added before (in byte order) and after the old name, one
  // owned by someone else; a file renamed, one moved to another folder, one
  // removed, one added
  const plain = files.slice(5, -1).filter((p) => Deno.statSync(p).size > 100);
  await Deno.chown(plain[0], 1002, 2001);
  await Deno.link(plain[0], `${root}/0_link`);
  await Deno.link(plain[1], `${root}/zz/link`);
  await Deno.rename(plain[2], `${plain[2]}.renamed`);
  await Deno.rename(plain[3], `${root}/zz/moved`);
  await Deno.remove(plain[4]);
  await Deno.writeFile(`${root}/zz/new`, new Uint8Array(70_000).fill(3));
  const now = await scan("new.csv");
  // the same scan as if the file system had another device number
  const lines = (await Deno.readTextFile(now)).split("\n");
  const shifted = lines.map((l, i) => {
    if (i === 0 || l === "") return l;
    const f = l.split(","); // st_dev is the 9th field from the end (names may hold commas)
    f[f.length - 9] = String(Number(f[f.length - 9]) + 7);
    return f.join(",");
  });
  assert(shifted[1] !== lines[1]);
  await Deno.writeTextFile(`${tmp.path}/new-remounted.csv`, shifted.join("\n"));

  const want = await diff([old], [now], { top: 1000, depth: 2 });
  const got = await diff([old], [`${tmp.path}/new-remounted.csv`], { top: 1000, depth: 2 });
  assertEquals(want.totals.moved.entries, 2, "the renamed and the moved file");
  // the new names of linked files carry no bytes: added are the new file's, the moved ones'
  const alloc = (p: string) => Deno.lstatSync(p).blocks! * 512;
  assertEquals(
    want.totals.added.allocatedBytes,
    alloc(`${root}/zz/new`) + alloc(`${plain[2]}.renamed`) + alloc(`${root}/zz/moved`),
  );
  for (const k of ["totals", "users", "groups", "folders", "growingFolders"] as const) {
    assertEquals(got[k], want[k], k);
  }
  for (const d of [want, got]) {
    for (const rows of [d.users, d.groups]) {
      const sum = (f: (c: typeof d.totals.net) => number) => rows.reduce((a, r) => a + f(r.net), 0);
      assertEquals(
        [sum((c) => c.entries), sum((c) => c.apparentBytes), sum((c) => c.allocatedBytes)],
        [d.totals.net.entries, d.totals.net.apparentBytes, d.totals.net.allocatedBytes],
      );
    }
  }
});

Deno.test("diff: a deleted file's owner is OLD's (also when another user's file replaced it), a new or changed file's NEW's", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(root);
  const put = async (p: string, n: number, uid: number) => {
    await Deno.writeFile(p, new Uint8Array(n).fill(5));
    await Deno.chown(p, uid, 2001);
  };
  await put(`${root}/replaced`, 50_000, 1001);
  await put(`${root}/gone`, 30_000, 1001);
  await put(`${root}/changed`, 1_000, 1001);
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  await put(`${root}/replaced.new`, 1_000, 1002);
  await Deno.rename(`${root}/replaced.new`, `${root}/replaced`); // 1002's file over 1001's
  await Deno.remove(`${root}/gone`);
  await Deno.writeFile(`${root}/changed`, new Uint8Array(9_000), { append: true });
  await Deno.chown(`${root}/changed`, 1003, 2001); // grown and given to 1003
  await put(`${root}/added`, 2_000, 1004);
  const now = await scan("new.csv");
  const after = await walkRef(root);
  const uid = (es: RefEntry[], p: string) => es.find((e) => e.path === p)!.uid;
  const owners = (fs: FileChange[]) => fs.map((f) => [f.path, f.status, f.uid]);
  const want = {
    deletedFiles: [
      [`${root}/replaced`, "replaced", uid(before, `${root}/replaced`)],
      [`${root}/gone`, "removed", uid(before, `${root}/gone`)],
    ],
    newFiles: [
      [`${root}/added`, "added", uid(after, `${root}/added`)],
      [`${root}/replaced`, "replaced", uid(after, `${root}/replaced`)],
    ],
    changedFiles: [[`${root}/changed`, "changed", uid(after, `${root}/changed`)]],
  };
  assertEquals(want.deletedFiles.map((r) => r[2]), [1001, 1001]);
  assertEquals(want.newFiles.map((r) => r[2]), [1004, 1002]);
  assertEquals(want.changedFiles[0][2], 1003);
  const d = await diff([old], [now], { names: false });
  for (const k of ["deletedFiles", "newFiles", "changedFiles"] as const) {
    assertEquals(owners(d[k]), want[k], k);
  }
  // --json says the same; the text's owner column too
  const j = await cli(["diff", "--json", "--no-names", old, now]);
  assertEquals(j.code, 0, j.stderr);
  const json = JSON.parse(j.text) as Diff;
  for (const k of ["deletedFiles", "newFiles", "changedFiles"] as const) {
    assertEquals(owners(json[k]), want[k], `--json ${k}`);
  }
  const text = await cli(["diff", "--no-names", old, now], { env: { COLUMNS: "" } });
  assertEquals(text.code, 0, text.stderr);
  for (
    const [title, k] of [
      ["Largest deleted files", "deletedFiles"],
      ["Largest new files", "newFiles"],
      ["Files changed most (size or mtime)", "changedFiles"],
    ] as const
  ) {
    const rows = text.text.split("\n\n").find((b) => b.startsWith(title))!.split("\n").slice(2)
      .filter((l) => l !== "");
    assertEquals(
      rows.map((l) => l.trim().split(/\s+/)).map((c) => [c[0], c[1], Number(c.at(-1))]),
      want[k],
      `${title}:\n${rows.join("\n")}`,
    );
  }
});

Deno.test("diff: a file that became a folder is removed from its parent, the folder added as itself", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(`${root}/y`, { recursive: true });
  await Deno.writeFile(`${root}/x`, new Uint8Array(12 * 1024).fill(1));
  const fileAlloc = Deno.lstatSync(`${root}/x`).blocks! * 512;
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  await Deno.remove(`${root}/x`);
  await Deno.mkdir(`${root}/x`);
  const dirAlloc = Deno.lstatSync(`${root}/x`).blocks! * 512;
  const now = await scan("new.csv");
  // at level 0 the root holds both: the file removed, the folder added
  const d0 = await diff([old], [now], { depth: 0 });
  assertEquals(d0.folders.map((f) => f.key), [root]);
  assertEquals(d0.folders[0].removed, {
    entries: 1,
    apparentBytes: 12 * 1024,
    allocatedBytes: fileAlloc,
  });
  assertEquals(d0.folders[0].added.entries, 1);
  // at level 1 the folder is added as itself; the file, in the root, in none
  const d = await diff([old], [now], { depth: 1 });
  const row = (key: string) => d.folders.find((f) => f.key === key);
  assertEquals(row(root), undefined);
  // (its own row: its bytes, but no entry below it, as the recursive table counts it)
  assertEquals(row(`${root}/x`)?.added.entries, 0);
  assertEquals(row(`${root}/x`)?.added.allocatedBytes, dirAlloc);
  const rec = d.growingFolders.find((f) => f.path === `${root}/x`)!;
  assertEquals([rec.delta.entries, rec.delta.allocatedBytes], [0, dirAlloc]);
  assertEquals(row(`${root}/x`)?.removed.entries, 0, "the old file filed under the new folder");
});

Deno.test("diff of scans under two roots says that entries are paired by path", async () => {
  await using tmp = await tempDir();
  for (const r of ["a", "b"]) {
    await Deno.mkdir(`${tmp.path}/${r}`);
    await Deno.writeTextFile(`${tmp.path}/${r}/f`, "x");
    assertEquals((await cli(["-o", `${tmp.path}/${r}.csv`, `${tmp.path}/${r}`])).code, 0);
  }
  const other = await cli(["diff", `${tmp.path}/a.csv`, `${tmp.path}/b.csv`]);
  assertEquals(other.code, 0, other.stderr);
  assertEquals(
    other.stderr.trim(),
    `pwalk diff: note: OLD's root (${tmp.path}/a) is not NEW's (${tmp.path}/b); entries are ` +
      "paired by path, so those under another root show as added and removed",
  );
  const same = await cli(["diff", `${tmp.path}/a.csv`, `${tmp.path}/a.csv`]);
  assertEquals([same.code, same.stderr], [0, ""]);
});

Deno.test("diff: a folder moved and a file renamed are counted as moved, a new file of the same size not", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  for (const d of ["proj/a/sub", "proj/b", "archive"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  for (
    const [f, n] of [["proj/a/one", 5000], ["proj/a/sub/two", 70000], ["proj/b/three", 9000], [
      "proj/b/gone",
      4096,
    ]] as const
  ) {
    await Deno.writeFile(`${root}/${f}`, new Uint8Array(n).fill(1));
  }
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  await Deno.rename(`${root}/proj/a`, `${root}/archive/a`); // a folder moved, with what is in it
  await Deno.rename(`${root}/proj/b/three`, `${root}/proj/b/three.bak`); // a file renamed
  await Deno.remove(`${root}/proj/b/gone`);
  // same size, written later (its inode may well be gone's, freed a moment ago): not moved
  await Deno.writeFile(`${root}/proj/b/new`, new Uint8Array(4096).fill(2));
  const later = Math.floor(Date.now() / 1000) + 60;
  await Deno.utime(`${root}/proj/b/new`, later, later);
  const now = await scan("new.csv");
  const after = await walkRef(root);
  // the reference: at a path OLD had not, an entry OLD had at a path NEW has not
  const oldPaths = new Set(before.map((e) => e.path));
  const newPaths = new Set(after.map((e) => e.path));
  const sig = (e: RefEntry) => `${e.ino} ${e.kind} ${e.size} ${e.mtime}`;
  const gone = new Set(before.filter((e) => !newPaths.has(e.path)).map(sig));
  const moved = after.filter((e) => !oldPaths.has(e.path) && gone.has(sig(e)));
  assertEquals(moved.length, 5, moved.map((e) => e.path).join()); // a, a/one, a/sub, a/sub/two, three.bak
  const d = await diff([old], [now]);
  assertEquals(d.totals.moved.entries, moved.length);
  assertEquals(d.totals.moved.allocatedBytes, sums(moved, after)[1]);
  assertEquals(d.totals.moved.apparentBytes, sums(moved, after)[0]);
  const text = await cli(["diff", old, now]);
  assert(/moved\s+5 entries/.test(new TextDecoder().decode(text.stdout)), text.text);
  // its note shortened to fit the width, never cut inside the line's words
  for (
    const [columns, note] of [["120", "(of added and replaced"], ["80", "(renamed or moved here)"]]
  ) {
    const narrow = await cli(["diff", old, now], { env: { COLUMNS: columns } });
    const moved = narrow.text.split("\n").find((l) => l.startsWith("moved"))!;
    assert(moved.length <= Number(columns) && moved.includes(" allocated " + note), moved);
  }
});

/**
 * A pwalk row of st_dev 64768 (two hosts' 253:0), uid 1001, gid 2001: a
 * file of `size` bytes, or a folder for a negative size.
 */
const row = (ino: number, parent: number, depth: number, path: string, size: number, links = 1) =>
  `${ino},${parent},${depth},"${path}","",1001,2001,${Math.max(size, 4096)},64768,` +
  `${Math.ceil(Math.max(size, 4096) / 512)},${links},"${size < 0 ? "0040755" : "0100644"}",` +
  `1700000000,1600000000,1700000000,-1,0\n`;
/** A folder's {@link row} (its link count told from another root's: else two roots read as one folder scanned twice). */
const dir = (ino: number, parent: number, depth: number, path: string) =>
  row(ino, parent, depth, path, -1, path.length);

Deno.test("diff: scans of unrelated roots are apart for moves too: hostB's new file is no rename of hostA's deleted one of the same st_dev and inode", async () => {
  // before: hostA's deleted /home/x and hostB's new /scratch/y (st_dev 64768,
  // inode 5000, size and mtime alike: two hosts' 253:0) counted as moved
  await using tmp = await tempDir();
  // what happened: on hostA, x deleted and m renamed to n; on hostB, y
  // written (the same inode number as A's x and m, on a device of the same number)
  const scans: Record<string, string> = {
    "old/a.csv": dir(2, 0, -1, "/home") + row(5000, 2, 0, "/home/x", 7000) +
      row(5001, 2, 0, "/home/m", 9000),
    "old/b.csv": dir(2, 0, -1, "/scratch") + row(5001, 2, 0, "/scratch/k", 9000),
    "new/a.csv": dir(2, 0, -1, "/home") + row(5001, 2, 0, "/home/n", 9000),
    "new/b.csv": dir(2, 0, -1, "/scratch") + row(5000, 2, 0, "/scratch/y", 7000) +
      row(5001, 2, 0, "/scratch/k2", 9000),
  };
  for (const side of ["old", "new"]) await Deno.mkdir(`${tmp.path}/${side}`);
  for (const [f, text] of Object.entries(scans)) await Deno.writeTextFile(`${tmp.path}/${f}`, text);
  // the reference: a NEW path OLD had not whose entry OLD had at a path NEW
  // has not, under the same root (k renamed to k2 on B, m to n on A)
  const rows = (side: string) =>
    Object.entries(scans).filter(([f]) => f.startsWith(side)).flatMap(([, t]) =>
      t.trim().split("\n").map((l) => l.split(","))
    ).map((c) => ({ ino: c[0], path: c[3].slice(1, -1), size: c[7] }));
  const [o, n] = [rows("old"), rows("new")];
  const root = (p: string) => p.split("/")[1];
  const moved = n.filter((e) =>
    !o.some((x) => x.path === e.path) &&
    o.some((x) =>
      !n.some((y) => y.path === x.path) && x.ino === e.ino && x.size === e.size &&
      root(x.path) === root(e.path)
    )
  ).map((e) => e.path);
  assertEquals(moved, ["/home/n", "/scratch/k2"]);
  const d = await diff([`${tmp.path}/old/`], [`${tmp.path}/new/`], { names: false });
  assertEquals(d.totals.moved.entries, moved.length, JSON.stringify(d.totals));
  assertEquals(d.newFiles.filter((f) => f.moved).map((f) => f.path).sort(), moved);
  assertEquals(
    d.deletedFiles.filter((f) => f.moved).map((f) => f.path).sort(),
    ["/home/m", "/scratch/k"],
  );
  // one root in OLD, two nested below it in NEW: one namespace, a rename across them is moved
  await Deno.writeTextFile(
    `${tmp.path}/one.csv`,
    dir(2, 0, -1, "/data") + dir(3, 2, 0, "/data/p") + dir(4, 2, 0, "/data/q") +
      row(5000, 3, 1, "/data/p/x", 7000),
  );
  await Deno.writeTextFile(`${tmp.path}/p.csv`, dir(3, 2, -1, "/data/p"));
  await Deno.writeTextFile(
    `${tmp.path}/q.csv`,
    dir(4, 2, -1, "/data/q") + row(5000, 4, 0, "/data/q/x", 7000),
  );
  const nested = await diff([`${tmp.path}/one.csv`], [`${tmp.path}/p.csv`, `${tmp.path}/q.csv`], {
    names: false,
  });
  assertEquals(nested.totals.moved.entries, 1);
});

Deno.test("diff: rows under no root (a shard's file without shard 0's) go with any root for moves, beside one unrelated root's scan too", async () => {
  // before: OLD = hostA's /home scan + a /scratch shard's file (no root row),
  // NEW = /scratch: k renamed to k2 was not moved (the shard's rows took
  // /home's namespace, the one root of OLD)
  await using tmp = await tempDir();
  const scans: Record<string, string> = {
    "home.csv": dir(2, 0, -1, "/home") + row(5000, 2, 0, "/home/x", 7000),
    "part.csv": dir(3, 2, 0, "/scratch/a") + row(6000, 3, 1, "/scratch/a/k", 9000) +
      row(6001, 3, 1, "/scratch/a/j", 3000),
    "new.csv": dir(2, 0, -1, "/scratch") + dir(3, 2, 0, "/scratch/a") +
      row(6000, 3, 1, "/scratch/a/k2", 9000) + row(6001, 3, 1, "/scratch/a/j", 3000) +
      row(5000, 2, 0, "/scratch/y", 7000),
  };
  for (const [f, text] of Object.entries(scans)) await Deno.writeTextFile(`${tmp.path}/${f}`, text);
  const rows = (files: string[]) =>
    files.flatMap((f) => scans[f].trim().split("\n").map((l) => l.split(",")))
      .map((c) => ({ ino: c[0], depth: c[2], path: c[3].slice(1, -1), size: c[7] }));
  // the reference: a NEW path OLD had not whose entry OLD had at a path NEW
  // has not, under a root of the same tree, or under no root at all
  const moved = (oldFiles: string[]) => {
    const [o, n] = [rows(oldFiles), rows(["new.csv"])];
    const roots = o.filter((x) => x.depth === "-1").map((x) => x.path);
    const rootOf = (p: string) => roots.find((r) => p === r || p.startsWith(`${r}/`));
    const sameTree = (a: string, b: string) =>
      a === b || b.startsWith(`${a}/`) || a.startsWith(`${b}/`);
    return n.filter((e) =>
      !o.some((x) => x.path === e.path) &&
      o.some((x) => {
        const r = rootOf(x.path);
        return !n.some((y) => y.path === x.path) && x.ino === e.ino && x.size === e.size &&
          (r === undefined || sameTree(r, "/scratch"));
      })
    ).map((e) => e.path);
  };
  for (const oldFiles of [["part.csv"], ["home.csv", "part.csv"]]) {
    const expected = moved(oldFiles);
    assertEquals(expected, ["/scratch/a/k2"]);
    const d = await diff(oldFiles.map((f) => `${tmp.path}/${f}`), [`${tmp.path}/new.csv`], {
      names: false,
    });
    assertEquals(
      d.totals.moved.entries,
      expected.length,
      `${oldFiles}: ${JSON.stringify(d.totals)}`,
    );
    assertEquals(d.newFiles.filter((f) => f.moved).map((f) => f.path).sort(), expected);
  }
});

Deno.test("diff: a hard link made to a moved file (or beside one left in place) is added, not moved", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  for (const [i, f] of ["f1", "f2", "f3", "f4", "g"].entries()) {
    await Deno.writeFile(`${root}/${f}`, new Uint8Array(20_000 * (i + 1)).fill(i + 1));
  }
  await Deno.link(`${root}/f3`, `${root}/f3b`);
  const scan = (name: string) => scanTo(tmp.path, name, root, true);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  const duBefore = await duBytes(root);
  // what happens on disk: four renames, four links
  const renames = [["f1", "d/f1m"], ["f3", "f3m"], ["f4", "f4m"], ["g", "g2"]];
  const links = [["d/f1m", "a_link1"], ["f2", "link2"], ["f4m", "f4n"], ["f4m", "f4o"]];
  for (const [from, to] of renames) await Deno.rename(`${root}/${from}`, `${root}/${to}`);
  for (const [to, name] of links) await Deno.link(`${root}/${to}`, `${root}/${name}`);
  const now = await scan("new.csv");
  const after = await walkRef(root);
  const at = (es: RefEntry[], p: string) => es.find((e) => e.path === `${root}/${p}`)!;
  for (const [from, to] of renames) assertEquals(at(after, to).ino, at(before, from).ino, to);
  const oldPaths = new Set(before.map((e) => e.path));
  const added = after.filter((e) => !oldPaths.has(e.path));
  assertEquals(added.length, renames.length + links.length);
  assertEquals(await duBytes(root), duBefore, "no data written: du the same");

  const d = await diff([old], [now]);
  assertEquals(d.totals.added.entries, added.length);
  assertEquals(d.totals.moved.entries, renames.length, JSON.stringify(d.totals.moved));
  // the bytes moved: the renamed files' but f3's, whose bytes f3b (left
  // in place) carries; the links carry none
  const alloc = (p: string) => at(after, p).blocks * 512;
  assertEquals(d.totals.moved.allocatedBytes, alloc("d/f1m") + alloc("f4m") + alloc("g2"));
  assertEquals(d.totals.moved.allocatedBytes, d.totals.added.allocatedBytes);
  assertEquals(d.totals.net.allocatedBytes, 0);
  const text = await cli(["diff", old, now]);
  assert(/^moved\s+4 entries/m.test(text.text), text.text);
});

Deno.test("diff and summary text: every line fits COLUMNS; written to a file, whole paths", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  const deep = `${root}/a_rather_long_project_folder_name/another_long_subfolder_name`;
  await Deno.mkdir(deep, { recursive: true });
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  const file = `${deep}/results_of_the_experiment_2026.h5`;
  await Deno.writeFile(file, new Uint8Array(300_000).fill(7));
  const now = await scan("new.csv");
  // every run below two at a time, then checked in turn; "" (no terminal
  // and no COLUMNS: cron mail, > file) last
  const runs = ["40", "60", "80", "120", ""].flatMap((columns) =>
    [["diff", old, now], ["summary", now]].map((args) => ({ columns, args }))
  );
  const ran = await pooled(runs, ({ columns, args }) => cli(args, { env: { COLUMNS: columns } }));
  for (const [i, { columns, args }] of runs.entries()) {
    if (columns === "") continue;
    const r = ran[i];
    assertEquals(r.code, 0, r.stderr);
    for (const l of r.text.split("\n")) {
      assert([...l].length <= Number(columns), `${args[0]} at ${columns}: ${l}`);
    }
  }
  // no terminal and no COLUMNS (cron mail, > file): nothing cut
  for (const [i, { columns }] of runs.entries()) {
    if (columns !== "") continue;
    const r = ran[i];
    assertEquals(r.code, 0, r.stderr);
    assert(r.text.includes(file.slice(tmp.path.length + 1)) || r.text.includes(file), r.text);
    assert(!r.text.includes("…"), r.text);
  }
});

Deno.test("diff and summary text on a narrow terminal: lines wrapped or laid out anew between words, never a word cut", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/a_rather_long_root_folder_name`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.writeFile(`${root}/sub/one`, new Uint8Array(100_000).fill(1));
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  await Deno.writeFile(`${root}/sub/two`, new Uint8Array(300_000).fill(2));
  await Deno.rename(`${root}/sub/one`, `${root}/one`);
  const now = await scan("new.csv");
  const kinds = [
    "added",
    "removed",
    "replaced",
    "changed",
    "moved",
    "grown",
    "shrunk",
    "unchanged",
    "net",
  ] as const;
  // each kind's figures as the whole (uncut) text gives them: "added 2
  // entries 304.0 KiB allocated" -> ["2", "304.0", "KiB"]
  const figures = (text: string) =>
    new Map(kinds.map((k) => {
      const l = text.split("\n").find((x) => x.split(/\s+/)[0] === k)!;
      return [k, l.split(/\s+/).slice(1).filter((w) => /^[-+]?[\d,.]+$|^[KMGTPE]?i?B$/.test(w))];
    }));
  const check = (text: string, width: number, want: Map<string, string[]>) => {
    for (const l of text.split("\n")) assert([...l].length <= width, `at ${width}: ${l}`);
    // "…" only inside a path (a folder or file name cut keeping its ends)
    for (const w of text.split(/\s+/).filter((w) => w.includes("…"))) {
      assert(w.startsWith("/"), `at ${width}: a word cut: ${w}\n${text}`);
    }
    assertEquals(figures(text), want, `at ${width}:\n${text}`);
  };
  // each row's figures written apart from the code under test: entries as
  // Intl writes them, allocated bytes by iecTenths, net's bytes signed; the
  // totals themselves from diff() and checked against the sizes written
  const d = await diff([old], [now]);
  assertEquals(
    [d.totals.added.apparentBytes, d.totals.removed.apparentBytes, d.totals.moved.apparentBytes],
    [400_000, 100_000, 100_000],
  );
  const intl = new Intl.NumberFormat("en-US");
  const pinned = (totals: Diff["totals"]) =>
    new Map(kinds.map((k) => {
      const t = totals[k];
      const sign = k === "net" && t.allocatedBytes > 0 ? "+" : "";
      return [k, [intl.format(t.entries), ...`${sign}${iecTenths(t.allocatedBytes)}`.split(" ")]];
    }));
  // the CLI's runs two at a time: diff uncut, then cut to each width;
  // summary --json, then summary cut; checked below in that order
  const widths = [40, 44, 50, 55, 60], summaryWidths = [40, 50];
  const [whole, ...rest] = await pooled([
    () => cli(["diff", old, now], { env: { COLUMNS: "" } }),
    ...widths.map((columns) => () =>
      cli(["diff", old, now], { env: { COLUMNS: String(columns) } })
    ),
    () => cli(["summary", "--json", now]),
    ...summaryWidths.map((columns) => () =>
      cli(["summary", now], { env: { COLUMNS: String(columns) } })
    ),
  ], (run) => run());
  const cut = rest.slice(0, widths.length), sj = rest[widths.length];
  const summaryCut = rest.slice(widths.length + 1);
  assertEquals(whole.code, 0, whole.stderr);
  const want = pinned(d.totals);
  assertEquals(figures(whole.text), want, whole.text);
  assertEquals(want.get("moved"), ["1", "100.0", "KiB"]);
  for (const [i, columns] of widths.entries()) {
    const r = cut[i];
    assertEquals(r.code, 0, r.stderr);
    check(r.text, columns, want);
    // the titles' words whole, wrapped where they are too wide
    const titles = r.text.split("\n\n").slice(1).map((b) => b.split("\n"));
    const folderTitle = `Folders at level 1 (top ${d.folders.length} of ${
      intl.format(d.folderCount)
    }) by net allocated change`;
    // (sub/one renamed to one: marked moved, its mark told in the title)
    for (const t of [folderTitle, "Largest new files (moved: renamed or moved here)"]) {
      const block = titles.find((b) => t.startsWith(b[0].trim()))!;
      assertEquals(block.slice(0, t.length <= columns ? 1 : 2).join(" ").replace(/\s+/g, " "), t);
    }
  }
  // summary's totals alike: each name on the line of its figure
  const st = JSON.parse(sj.text).totals;
  const pairs = [
    `entries ${st.entries}`,
    `files ${st.files}`,
    `folders ${st.folders}`,
    `allocated ${iecTenths(st.allocatedBytes)}`,
    `apparent ${iecTenths(st.apparentBytes)}`,
    `users 1`,
    `groups 1`,
  ];
  for (const [i, columns] of summaryWidths.entries()) {
    const r = summaryCut[i];
    assertEquals(r.code, 0, r.stderr);
    for (const l of r.text.split("\n")) assert([...l].length <= columns, `at ${columns}: ${l}`);
    for (const w of r.text.split(/\s+/).filter((w) => w.includes("…"))) {
      assert(w.startsWith("/"), `summary at ${columns}: a word cut: ${w}\n${r.text}`);
    }
    for (const p of pairs) assert(r.text.split("\n").some((l) => l.includes(p)), `${p}\n${r.text}`);
  }
  // figures too wide for "N entries  B allocated" lines at 40 columns: a
  // header over the columns instead
  const big = { entries: 1_234_567_890, apparentBytes: 2 ** 50, allocatedBytes: 1.5 * 2 ** 50 };
  const wide = {
    ...d,
    totals: { ...d.totals, unchanged: big, net: { ...big, entries: -big.entries } },
  };
  const bigWant = pinned(wide.totals);
  assertEquals(bigWant.get("unchanged"), ["1,234,567,890", "1.5", "PiB"]);
  assertEquals(bigWant.get("net"), ["-1,234,567,890", "+1.5", "PiB"]);
  const bigText = formatDiff(wide, Infinity);
  assertEquals(figures(bigText), bigWant, bigText);
  for (const columns of [40, 50]) {
    const text = formatDiff(wide, columns);
    check(text, columns, bigWant);
    assert(/^\s+entries\s+allocated$/m.test(text), text);
  }
});

testNeeding([PYTHON3], {
  name: "diff and summary text with CJK names: lines fit COLUMNS in display width, columns aligned",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    const cjk = `${root}/数据分析结果/子目录`;
    await Deno.mkdir(cjk, { recursive: true });
    await Deno.mkdir(`${root}/plain`);
    await Deno.writeFile(`${cjk}/大文件.dat`, new Uint8Array(300_000).fill(1));
    await Deno.writeFile(`${root}/plain/x.dat`, new Uint8Array(100_000).fill(2));
    const scan = (name: string) => scanTo(tmp.path, name, root);
    const old = await scan("old.csv");
    // (the CJK folders changed too: the recursive table lists only folders that changed)
    await Deno.writeFile(`${cjk}/大文件.dat`, new Uint8Array(70_000).fill(4), { append: true });
    await Deno.mkdir(`${root}/新しいフォルダ`);
    await Deno.writeFile(
      `${root}/新しいフォルダ/ファイル名がとても長い日本語のファイル.bin`,
      new Uint8Array(50_000).fill(3),
    );
    const now = await scan("new.csv");
    // display width by Unicode's East Asian Width (W and F take two columns)
    const widths = async (lines: string[]) => {
      await Deno.writeTextFile(`${tmp.path}/lines.json`, JSON.stringify(lines));
      return JSON.parse(
        await python(
          `import json, sys, unicodedata
lines = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps([sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in l) for l in lines]))`,
          `${tmp.path}/lines.json`,
        ),
      ) as number[];
    };
    // the four runs two at a time, then checked in turn
    const runs = [50, 80].flatMap((columns) =>
      [["summary", "--depth", "2", now], ["diff", old, now]].map((args) => ({ columns, args }))
    );
    const ran = await pooled(
      runs,
      ({ columns, args }) => cli(args, { env: { COLUMNS: String(columns) } }),
    );
    for (const [j, { columns, args }] of runs.entries()) {
      const r = ran[j];
      assertEquals(r.code, 0, r.stderr);
      assert(/[\u4e00-\u9fff]/.test(r.text), "CJK names shown");
      const lines = r.text.trimEnd().split("\n");
      const w = await widths(lines);
      for (const [i, l] of lines.entries()) {
        assert(w[i] <= columns, `${args[0]} at ${columns}: ${w[i]} columns: ${l}`);
      }
      // each table (after the totals): the header and its rows end in the
      // same column, the last column being right-aligned (after its title,
      // wrapped onto lines indented by two spaces where it is too wide)
      let at = 0;
      for (const block of r.text.trimEnd().split("\n\n")) {
        const bl = block.split("\n"), n = bl.length;
        let t = 1;
        while (t < n && bl[t].startsWith("  ") && bl[t] !== "  (none)") t++;
        const rows = w.slice(at + t, at + n).filter((_, k) => lines[at + t + k] !== "  (none)");
        if (at > 0) {
          assert(
            rows.every((x) => x === rows[0]),
            `${args[0]} at ${columns}: misaligned\n${block}\n${rows}`,
          );
        }
        at += n + 1;
      }
    }
  },
});

Deno.test("diff: an old C pwalk's scan with ROOT typed as 'R/' ('R/', 'R//a') pairs with this pwalk's ('R', 'R/a'), no note of other roots", async () => {
  // before: every entry of the tree was removed, added and moved
  await using tmp = await tempDir();
  const { root, now, old } = await slashRootScans(tmp.path);
  // the reference: the entries on disk, by Deno.lstat
  let entries = 0;
  for (const p of ["", "/a.txt", "/sub", "/sub/b.bin", "/sub/deeper", "/sub/deeper/c"]) {
    await Deno.lstat(`${root}${p}`);
    entries++;
  }
  const d = await diff([old], [now], { names: false });
  const t = d.totals;
  assertEquals(
    [t.added.entries, t.removed.entries, t.moved.entries, t.replaced.entries, t.unchanged.entries],
    [0, 0, 0, 0, entries],
  );
  assertEquals([d.old.roots, d.new.roots], [[root], [root]]);
  // (the note of roots that differ, once "R/" is not "R", is not printed)
  const c = await cli(["diff", "--no-names", old, now]);
  assertEquals([c.code, c.stderr], [0, ""]);
});

Deno.test("diff: an old C pwalk's scan of ROOT '/' ('/', '//a') pairs with this pwalk's ('/', '/a')", async () => {
  // before: the root '/' was left out of the fix-up, every entry below it
  // removed and added
  await using tmp = await tempDir();
  const { root, now, old } = await rootSlashScans(tmp.path);
  // the reference: the entries on disk the rows describe, by Deno.lstat
  let entries = 0;
  for (const p of ["", "/a.txt", "/sub", "/sub/b.bin", "/sub/deeper", "/sub/deeper/c"]) {
    await Deno.lstat(`${root}${p}`);
    entries++;
  }
  const d = await diff([old], [now], { names: false });
  const t = d.totals;
  assertEquals(
    [t.added.entries, t.removed.entries, t.moved.entries, t.replaced.entries, t.unchanged.entries],
    [0, 0, 0, 0, entries],
  );
  assertEquals([d.old.roots, d.new.roots], [["/"], ["/"]]);
  assert(!JSON.stringify(d).includes("//"), JSON.stringify(d));
  const c = await cli(["diff", "--no-names", old, now]);
  assertEquals([c.code, c.stderr], [0, ""]);
});

Deno.test("diff --top: the largest net changes either way (the user who freed most is listed), and how many changed", async () => {
  // A crafted pair of scans: many owners' files grow a little, a few
  // owners delete or shrink much, some files change owner. The reference
  // is computed here from the rows written (no hard links: each row's
  // bytes count), ranked by the size of the change.
  await using tmp = await tempDir();
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  type Row = { ino: number; path: string; depth: number; uid: number; size: number; mt: number };
  // (parent-inode: the folder's inode, as pwalk writes it)
  const parent = (r: Row) =>
    dirs.find((d) => r.path.startsWith(`${d.path}/`) && d.depth === r.depth - 1)?.ino ?? 0;
  const row = (r: Row, dir = false) =>
    [
      r.ino,
      parent(r),
      r.depth,
      `"${r.path}"`,
      `""`,
      r.uid,
      r.uid + 1000,
      r.size,
      2049,
      Math.ceil(r.size / 4096) * 8,
      dir ? 2 : 1,
      dir ? `"0040755"` : `"0100644"`,
      1,
      r.mt,
      1,
      dir ? 3 : -1,
      0,
    ].join(",");
  const folders = ["/p/a", "/p/b", "/p/c", "/p/d", "/p/e", "/p/f"];
  const dirs: Row[] = [
    { ino: 1, path: "/p", depth: -1, uid: 0, size: 4096, mt: 1 },
    ...folders.map((path, i) => ({ ino: 2 + i, path, depth: 0, uid: 0, size: 4096, mt: 1 })),
  ];
  const old: Row[] = [], neu: Row[] = [];
  for (let i = 0; i < 120; i++) {
    const r: Row = {
      ino: 100 + i,
      path: `${folders[i % folders.length]}/f${i}`,
      depth: 1,
      uid: 2000 + (i % 15),
      size: 1 + rnd(3) * 50_000 + rnd(4000),
      mt: 10,
    };
    old.push(r);
    const k = rnd(20);
    if (k === 0) continue; // deleted
    if (k === 1) neu.push({ ...r, size: 1 + rnd(10) * 4096, mt: 20 }); // shrunk
    else if (k === 2) neu.push({ ...r, uid: 2000 + rnd(15) }); // given away
    else if (k < 12) neu.push({ ...r, size: r.size + 1 + rnd(9_000), mt: 20 }); // grown a little
    else neu.push(r);
  }
  // a few big deletions, and new files
  for (const [i, uid] of [[0, 2003], [1, 2011]]) {
    old.push({ ino: 900 + i, path: `/p/${"ef"[i]}/big`, depth: 1, uid, size: 3 * 2 ** 30, mt: 5 });
  }
  for (let i = 0; i < 6; i++) {
    neu.push({
      ino: 1000 + i,
      path: `/p/a/new${i}`,
      depth: 1,
      uid: 2020 + i,
      size: 5000 * i,
      mt: 30,
    });
  }
  const header = COLUMNS.join(",");
  const write = (f: string, rows: Row[]) =>
    Deno.writeTextFile(
      f,
      [header, ...dirs.map((d) => row(d, true)), ...rows.map((r) => row(r))].join("\n") + "\n",
    );
  await write(`${tmp.path}/old.csv`, old);
  await write(`${tmp.path}/new.csv`, neu);

  // the reference: per key, NEW's sums minus OLD's; the keys with a row
  // that changed (or changed owner) on either side
  const al = (r: Row) => Math.ceil(r.size / 4096) * 4096;
  const byPath = (rows: Row[]) => new Map(rows.map((r) => [r.path, r]));
  const om = byPath(old), nm = byPath(neu);
  // the same entry unchanged; for owners, also with the same owner (a file
  // given away is the old owner's loss and the new one's gain)
  const same = (a: Row | undefined, b: Row | undefined, owner: boolean) =>
    a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size &&
    a.mt === b.mt && (!owner || a.uid === b.uid);
  const rank = (net: Map<string, number[]>) => (a: string, b: string) => {
    const [x, y] = [net.get(a)!, net.get(b)!];
    for (const i of [0, 1, 2]) {
      if (Math.abs(x[i]) !== Math.abs(y[i])) return Math.abs(y[i]) - Math.abs(x[i]);
    }
    for (const i of [0, 1, 2]) if (x[i] !== y[i]) return y[i] - x[i];
    return a < b ? -1 : 1;
  };
  const ref = (key: (r: Row) => string, owner = true) => {
    const net = new Map<string, number[]>();
    const add = (r: Row, s: number) => {
      const v = net.get(key(r)) ?? [0, 0, 0];
      net.set(key(r), [v[0] + s * al(r), v[1] + s * r.size, v[2] + s]);
    };
    const changed = new Set<string>();
    for (const r of old) if (!same(r, nm.get(r.path), owner)) add(r, -1), changed.add(key(r));
    for (const r of neu) if (!same(om.get(r.path), r, owner)) add(r, 1), changed.add(key(r));
    return { order: [...changed].sort(rank(net)), net, count: changed.size };
  };
  const users = ref((r) => String(r.uid));
  const groups = ref((r) => String(r.uid + 1000));
  const fold = ref((r) => r.path.slice(0, r.path.lastIndexOf("/")), false);
  // the crafted data holds what the cut used to hide: a loss larger than
  // every growth, ranked past --top by growth
  const top = 4;
  const lossUid = users.order[0];
  assert(users.net.get(lossUid)![0] < 0, "the largest change is a loss");
  assert(users.count > top);

  const d = await diff([`${tmp.path}/old.csv`], [`${tmp.path}/new.csv`], { top, names: false });
  for (
    const [got, want, n] of [
      [d.users, users, d.userCount],
      [d.groups, groups, d.groupCount],
      [d.folders, fold, d.folderCount],
    ] as const
  ) {
    assertEquals(got.map((r) => r.key), want.order.slice(0, top));
    assertEquals(
      got.map((r) => [r.net.allocatedBytes, r.net.apparentBytes, r.net.entries]),
      want.order.slice(0, top).map((k) => want.net.get(k)),
    );
    assertEquals(n, want.count);
  }
  // the recursive folder table, ranked the same way: the root and the
  // level-1 folders (all of them compared)
  const rec = new Map<string, number[]>(dirs.map((d) => [d.path, [0, 0, 0]]));
  for (const [rows, s] of [[old, -1], [neu, 1]] as const) {
    for (const r of rows) {
      for (const f of new Set(["/p", r.path.slice(0, r.path.lastIndexOf("/"))])) {
        const v = rec.get(f)!;
        rec.set(f, [v[0] + s * al(r), v[1] + s * r.size, v[2] + s]);
      }
    }
  }
  const recChanged = [...rec.keys()].filter((k) => rec.get(k)!.some((v) => v !== 0));
  assertEquals(d.growingFolderCount, recChanged.length);
  assertEquals(
    d.growingFolders.map((f) => [
      f.path,
      f.delta.allocatedBytes,
      f.delta.apparentBytes,
      f.delta.entries,
    ]),
    recChanged.sort(rank(rec)).slice(0, top).map((k) => [k, ...rec.get(k)!]),
  );

  // the text says where the cut is, and lists the loss; JSON the counts
  const t = await cli([
    "diff",
    "--no-names",
    "--top",
    `${top}`,
    `${tmp.path}/old.csv`,
    `${tmp.path}/new.csv`,
  ]);
  assertEquals(t.code, 0, t.stderr);
  const users1 = t.text.split("\n\n").find((p) => p.startsWith("Users"))!;
  assert(users1.startsWith(`Users (top ${top} of ${users.count})`), users1);
  assert(new RegExp(`^${lossUid}\\s+-`, "m").test(users1), users1);
  // the HTML page's tables alike
  const html = `${tmp.path}/d.html`;
  const h = await cli([
    "diff",
    "--no-names",
    "--top",
    `${top}`,
    "--html",
    html,
    `${tmp.path}/old.csv`,
    `${tmp.path}/new.csv`,
  ]);
  assertEquals(h.code, 0, h.stderr);
  const page = await Deno.readTextFile(html);
  for (const [what, n] of [["Users", users.count], ["Groups", groups.count]] as const) {
    assert(page.includes(`<h2>${what} (top ${top} of ${n}) by net allocated change`), what);
  }
  const j = await cli([
    "diff",
    "--json",
    "--no-names",
    "--top",
    `${top}`,
    `${tmp.path}/old.csv`,
    `${tmp.path}/new.csv`,
  ]);
  const jd = JSON.parse(j.text);
  assertEquals(
    [jd.userCount, jd.groupCount, jd.folderCount, jd.growingFolderCount],
    [users.count, groups.count, fold.count, recChanged.length],
  );
});

Deno.test("diff: the folders table at --depth D holds folders of level D only (the root's own files are in none), each with the bytes below it", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  await Deno.mkdir(`${root}/sub/deep`, { recursive: true });
  const files = [`${root}/top.bin`, `${root}/sub/b.bin`, `${root}/sub/deep/c.bin`];
  for (const f of files) await Deno.writeFile(f, new Uint8Array(5000));
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  for (const [i, f] of files.entries()) {
    await Deno.writeFile(f, new Uint8Array(70_000 * (i + 1)).fill(1), { append: true });
  }
  const now = await scan("new.csv");
  const after = await walkRef(root);
  // the reference: each level's folders, and the change below each, by lstat
  const under = (es: RefEntry[], p: string) => es.filter((e) => e.path.startsWith(`${p}/`));
  const grew = (p: string) => sums(under(after, p), after)[0] - sums(under(before, p), before)[0];
  for (
    const [depth, want] of [[0, [root]], [1, [`${root}/sub`]], [2, [`${root}/sub/deep`]]] as const
  ) {
    const d = await diff([old], [now], { depth, names: false });
    assertEquals(d.folders.map((f) => f.key), want, `depth ${depth}`);
    assertEquals(d.folderCount, want.length);
    // (depth 0: the root itself, its own row in it too; below, folders' rows unchanged)
    if (depth > 0) assertEquals(d.folders[0].net.apparentBytes, grew(want[0]), `depth ${depth}`);
  }
});

/**
 * A file whose blocks changed while its size and mtime stayed (an HSM
 * recall, a preallocation, a hole filled and the time put back): no
 * 'changed' entry, but its bytes moved, so its user's, group's and folder's
 * nets carry them, as the totals do.
 */
Deno.test("diff: a file whose allocation changed alone (size and mtime kept) is in its user's, group's and folder's net", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  await Deno.mkdir(`${root}/tape`, { recursive: true });
  await Deno.mkdir(`${root}/quiet`);
  await Deno.writeFile(`${root}/quiet/q`, new Uint8Array(9000).fill(1));
  const f = `${root}/tape/recalled.bin`;
  await Deno.writeFile(f, new Uint8Array(0));
  await Deno.truncate(f, 1 << 20); // a hole: no blocks, as a file released to tape
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  const st = await Deno.lstat(f);
  const file = await Deno.open(f, { write: true });
  await file.write(new Uint8Array(1 << 20).fill(7)); // recalled: the same size, allocated
  file.close();
  await Deno.utime(f, st.atime!, st.mtime!);
  const now = await scan("new.csv");
  const after = await walkRef(root);
  const one = (es: RefEntry[]) => es.find((e) => e.path === f)!;
  assertEquals([one(after).size, one(after).mtime], [one(before).size, one(before).mtime]);
  const grew = sums(after)[1] - sums(before)[1];
  assert(grew >= 1 << 20, `the file's blocks grew on this file system: ${grew}`);
  const d = await diff([old], [now], { depth: 1, names: false });
  assertEquals(d.totals.changed.entries, 0, "size and mtime kept: not changed");
  assertEquals(d.totals.net.allocatedBytes, grew);
  const nets = (rows: { key: string; net: { entries: number; allocatedBytes: number } }[]) =>
    rows.map((r) => [r.key, r.net.entries, r.net.allocatedBytes]);
  assertEquals(nets(d.users), [[String(one(after).uid), 0, grew]]);
  assertEquals(nets(d.groups), [[String(one(after).gid), 0, grew]]);
  assertEquals([d.userCount, d.groupCount], [1, 1]);
  assertEquals(nets(d.folders), [[`${root}/tape`, 0, grew]]);
  assertEquals(d.folderCount, 1);
});

Deno.test("diff: the recursive folder table leaves out folders that did not change, and counts those that did", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  for (const d of ["grows/deep", "same/deep", "quiet"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  for (const f of ["grows/deep/a", "same/deep/b", "quiet/c"]) {
    await Deno.writeFile(`${root}/${f}`, new Uint8Array(9000).fill(1));
  }
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  await Deno.writeFile(`${root}/grows/deep/a`, new Uint8Array(90_000).fill(2), { append: true });
  await Deno.mkdir(`${root}/fresh`);
  await Deno.writeFile(`${root}/fresh/n`, new Uint8Array(5000).fill(3));
  const now = await scan("new.csv");
  const after = await walkRef(root);
  // the reference: each folder of levels 0..depth in either tree, its
  // recursive totals by lstat (bytes with its own, entries below it); the
  // folders whose totals differ, or that one tree lacks
  for (const depth of [1, 2]) {
    const rec = (es: RefEntry[], p: string) => {
      const below = es.filter((e) => e.path.startsWith(`${p}/`));
      const own = es.find((e) => e.path === p);
      return own ? [...sums([own, ...below], es), below.length].join() : "none";
    };
    const folders = new Set(
      [...before, ...after].filter((e) => e.kind === "d" && e.depth < depth).map((e) => e.path),
    );
    const changed = [...folders].filter((p) => rec(before, p) !== rec(after, p)).sort();
    assert(changed.length < folders.size, "some folders did not change");
    const d = await diff([old], [now], { depth, names: false, top: 1000 });
    assertEquals(d.growingFolders.map((f) => f.path).sort(), changed, `depth ${depth}`);
    assertEquals(d.growingFolderCount, changed.length);
    // the text's title counts the same
    assertStringIncludes(
      formatDiff(d, Infinity),
      `Folders (levels 0-${depth}; top ${changed.length} of ${changed.length}) that changed most`,
    );
  }
});

Deno.test("diff: a folder's row in the folders table counts what the recursive table counts for it (entries below it, bytes with its own)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  await Deno.mkdir(`${root}/t1/old`, { recursive: true });
  await Deno.writeFile(`${root}/t1/old/f`, new Uint8Array(3000));
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("old.csv");
  const before = await walkRef(root);
  // a new folder with a subfolder and 25 files; the old one removed
  await Deno.mkdir(`${root}/t1/newdir/sub`, { recursive: true });
  for (let i = 0; i < 25; i++) {
    await Deno.writeFile(`${root}/t1/newdir/${i < 12 ? "" : "sub/"}f${i}`, new Uint8Array(i * 700));
  }
  await Deno.remove(`${root}/t1/old`, { recursive: true });
  const now = await scan("new.csv");
  const after = await walkRef(root);
  // the reference, by lstat: each folder's entries below it, and its bytes with its own
  const rec = (es: RefEntry[], p: string) => {
    const below = es.filter((e) => e.path.startsWith(`${p}/`));
    const own = es.filter((e) => e.path === p);
    return { entries: below.length, allocatedBytes: sums([...own, ...below], es)[1] };
  };
  for (
    const [depth, paths] of [
      [1, [`${root}/t1`]],
      [2, [`${root}/t1/newdir`, `${root}/t1/old`]],
    ] as const
  ) {
    const d = await diff([old], [now], { depth, names: false, top: 1000 });
    for (const p of paths) {
      const want = {
        entries: rec(after, p).entries - rec(before, p).entries,
        allocatedBytes: rec(after, p).allocatedBytes - rec(before, p).allocatedBytes,
      };
      const row = d.folders.find((f) => f.key === p)!;
      const r = d.growingFolders.find((f) => f.path === p)!;
      assertEquals(
        { entries: row.net.entries, allocatedBytes: row.net.allocatedBytes },
        want,
        `${p}: folders table`,
      );
      assertEquals(
        { entries: r.delta.entries, allocatedBytes: r.delta.allocatedBytes },
        want,
        `${p}: recursive table`,
      );
    }
  }
});

Deno.test("diff: the file tables mark files moved and a hard link's extra names, and agree with the totals", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/mv`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  const rnd = (n: number) => new Uint8Array(n).fill(7);
  await Deno.writeFile(`${root}/d/a`, rnd(300_000));
  await Deno.writeFile(`${root}/e1`, rnd(120_000)); // two names, both deleted
  await Deno.link(`${root}/e1`, `${root}/e2`);
  await Deno.writeFile(`${root}/g1`, rnd(50_000)); // two names, grown
  await Deno.link(`${root}/g1`, `${root}/g2`);
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const old = await scan("m1.csv");
  const before = await walkRef(root);
  await Deno.rename(`${root}/d/a`, `${root}/d/b`);
  await Deno.link(`${root}/d/b`, `${root}/d/c`);
  await Deno.remove(`${root}/e1`);
  await Deno.remove(`${root}/e2`);
  await Deno.writeFile(`${root}/g1`, rnd(90_000), { append: true });
  const now = await scan("m2.csv");
  const after = await walkRef(root);
  // the reference, by lstat: moved = at a new path, an entry of OLD (inode,
  // size, mtime) at a path gone, one per name gone; extra names = a hard
  // link's names but the first in byte order (no name of these files is in
  // both scans but g1's and g2's, whose first is g1 in both)
  const oldPaths = new Set(before.map((e) => e.path));
  const newPaths = new Set(after.map((e) => e.path));
  const sig = (e: RefEntry) => `${e.ino} ${e.size} ${e.mtime}`;
  const goneSigs = before.filter((e) => !newPaths.has(e.path)).map(sig);
  const cameSigs = after.filter((e) => !oldPaths.has(e.path)).map(sig);
  const movedHere = new Set<string>(), movedAway = new Set<string>();
  for (
    const [es, set, other] of [[after, movedHere, goneSigs], [before, movedAway, cameSigs]] as const
  ) {
    const left = [...other];
    for (const e of es.filter((e) => e.kind === "f").sort((a, b) => a.path < b.path ? -1 : 1)) {
      const at = left.indexOf(sig(e));
      if ((es === after ? !oldPaths.has(e.path) : !newPaths.has(e.path)) && at >= 0) {
        set.add(e.path);
        left.splice(at, 1);
      }
    }
  }
  assertEquals([...movedHere], [`${root}/d/b`]);
  assertEquals([...movedAway], [`${root}/d/a`]);
  const extraNew = extraNames(after), extraOld = extraNames(before);
  const d = await diff([old], [now], { names: false, top: 100 });
  const marks = (fs: FileChange[]) => fs.map((f) => [f.path, f.moved, f.extraName]);
  const want = (fs: FileChange[], moved: Set<string>, extra: Set<string>) =>
    fs.map((f) => [f.path, moved.has(f.path), extra.has(f.path)]);
  assertEquals(marks(d.newFiles), want(d.newFiles, movedHere, extraNew));
  assertEquals(marks(d.deletedFiles), want(d.deletedFiles, movedAway, extraOld));
  assertEquals(marks(d.changedFiles), want(d.changedFiles, new Set(), extraNew));
  assert(d.newFiles.some((f) => f.extraName) && d.deletedFiles.some((f) => f.extraName));
  assert(d.changedFiles.some((f) => f.extraName));
  // every added or removed entry is a file listed here: the tables' sizes,
  // extra names at 0, are the totals', and so are the moved ones
  const alloc = (es: RefEntry[], p: string) => es.find((e) => e.path === p)!.blocks * 512;
  const counted = (fs: FileChange[], es: RefEntry[], only = (_: FileChange) => true) =>
    fs.filter((f) => !f.extraName && only(f)).reduce((n, f) => n + alloc(es, f.path), 0);
  assertEquals(counted(d.newFiles, after), d.totals.added.allocatedBytes);
  assertEquals(counted(d.deletedFiles, before), d.totals.removed.allocatedBytes);
  assertEquals(counted(d.newFiles, after, (f) => f.moved), d.totals.moved.allocatedBytes);
  assertEquals(d.newFiles.filter((f) => f.moved).length, d.totals.moved.entries);
  // the text marks them, and says what the marks mean
  const text = formatDiff(d, Infinity);
  const line = (p: string) => text.split("\n").find((l) => l.startsWith(`${p} `))!;
  assertStringIncludes(line(`${root}/d/b`), "added, moved");
  assertStringIncludes(line(`${root}/d/c`), "added, link");
  assertStringIncludes(line(`${root}/d/a`), "removed, moved");
  assertStringIncludes(text, "link: another name of a hard-linked file, 0 bytes in the totals");
});

Deno.test("diff: the recursive table's old and new sizes count hard links as the totals do, and say where summary's differ", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/ht`;
  for (const d of ["A", "B", "C"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  await Deno.writeFile(`${root}/B/y`, new Uint8Array(1_000_000).fill(1));
  await Deno.link(`${root}/B/y`, `${root}/A/x`); // A/x first in byte order: summary's carrier
  await Deno.writeFile(`${root}/C/p`, new Uint8Array(200_000).fill(2));
  await Deno.link(`${root}/C/p`, `${root}/C/q`); // both stay: no change of carrier
  const scan = (name: string) => scanTo(tmp.path, name, root);
  const h1 = await scan("h1.csv");
  const before = await walkRef(root);
  await Deno.remove(`${root}/A/x`);
  const h2 = await scan("h2.csv");
  const after = await walkRef(root);
  // the reference, by lstat: a hard-linked file's bytes under its first
  // name (byte order) present in both trees, else its first name
  const byteOrder = (a: RefEntry, b: RefEntry) =>
    Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
  const carriers = (es: RefEntry[], other: RefEntry[]) => {
    const inOther = new Set(other.map((e) => `${e.path} ${e.ino}`));
    const names = new Map<number, RefEntry[]>();
    for (const e of es.filter((e) => e.kind !== "d" && e.nlink > 1)) {
      names.set(e.ino, [...(names.get(e.ino) ?? []), e]);
    }
    const carrier = new Set<string>();
    let moved = 0;
    for (const ns of names.values()) {
      ns.sort(byteOrder);
      const shared = ns.filter((e) => inOther.has(`${e.path} ${e.ino}`));
      const c = shared.length ? shared[0] : ns[0];
      carrier.add(c.path);
      if (c !== ns[0]) moved++;
    }
    return { carrier, moved };
  };
  const alloc = (es: RefEntry[], other: RefEntry[], p: string) => {
    const { carrier } = carriers(es, other);
    return es.filter((e) => e.path === p || e.path.startsWith(`${p}/`))
      .reduce(
        (n, e) => n + (e.kind !== "d" && e.nlink > 1 && !carrier.has(e.path) ? 0 : e.blocks * 512),
        0,
      );
  };
  const d = await diff([h1], [h2], { names: false, top: 100 });
  assertEquals(d.recarried, {
    old: carriers(before, after).moved,
    new: carriers(after, before).moved,
  });
  assertEquals(d.recarried.old, 1);
  for (const f of d.growingFolders) {
    assertEquals(f.old.allocatedBytes, alloc(before, after, f.path), `${f.path} old`);
    assertEquals(f.new.allocatedBytes, alloc(after, before, f.path), `${f.path} new`);
  }
  // the totals: the link removed is 0 bytes, and no folder's size changed
  assertEquals(d.totals.removed.allocatedBytes, 0);
  assert(d.growingFolders.every((f) => f.delta.allocatedBytes === 0));
  // summary of OLD counts the file under A/x: A's size there is not diff's,
  // and the table's title says why
  const s = await summarize([h1], { names: false, depth: 1 });
  const sa = s.folders.find((f) => f.path === `${root}/A`)!;
  assert(
    sa.allocatedBytes !== d.growingFolders.find((f) => f.path === `${root}/A`)!.old.allocatedBytes,
  );
  const text = formatDiff(d, Infinity);
  assertStringIncludes(text, "not summary's first name, for 1 file of OLD)");
  // no such note where every carrier is summary's (h2 against itself)
  const same = await diff([h2], [h2], { names: false });
  assertEquals(same.recarried, { old: 0, new: 0 });
  assert(!formatDiff(same, Infinity).includes("summary's first name"));
});

Deno.test({
  name: "diff: the net change is exact when the totals are past 2^53 (an 8 EiB sparse file)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const mnt = `${tmp.path}/mnt`;
    await Deno.mkdir(mnt);
    assertEquals(await mountTmpfs(mnt, "size=8m"), "");
    const root = `${mnt}/t`;
    await Deno.mkdir(root);
    // (tmpfs takes a sparse file of any size; its allocation is 0)
    const t = await run("truncate", ["-s", String(2n ** 63n - 1n), `${root}/sparse`]);
    assertEquals(t.code, 0, t.stderr);
    // the reference: stat(1)'s sizes and allocations as big integers
    const statSums = async () => {
      const paths = [root, ...Array.from(Deno.readDirSync(root), (e) => `${root}/${e.name}`)];
      const r = await run("stat", ["-c", "%s %b %B", ...paths]);
      let ab = 0n, al = 0n;
      for (const l of r.text.trim().split("\n")) {
        const [s, b, unit] = l.split(" ").map(BigInt);
        ab += s, al += b * unit;
      }
      return { ab, al };
    };
    const scan = async (name: string) => {
      const r = await cli(["--header", "-o", `${tmp.path}/${name}.csv`, root]);
      assertEquals(r.code, 0, r.stderr);
      return await statSums();
    };
    const before = await scan("old");
    await Deno.writeFile(`${root}/new`, new Uint8Array(1000).fill(1));
    const after = await scan("new");
    const d = await diff([`${tmp.path}/old.csv`], [`${tmp.path}/new.csv`], {
      names: false,
      depth: 0,
    });
    const want = [Number(after.ab - before.ab), Number(after.al - before.al)];
    assert(want[0] >= 1000 && want[0] < 10_000, `the premise: ${want}`);
    assertEquals([d.totals.net.apparentBytes, d.totals.net.allocatedBytes], want);
    const top = d.growingFolders.find((f) => f.path === root);
    assertEquals([top?.delta.apparentBytes, top?.delta.allocatedBytes], want);
  },
});

Deno.test("diff's mtime columns are days in UTC, whatever $TZ is, and say so, in the text and the HTML page (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  await Deno.mkdir(root);
  const f = `${root}/f`;
  await Deno.writeTextFile(f, "x");
  // 23:30 UTC: already the next day in Kiritimati (UTC+14)
  const old = Date.UTC(2026, 10, 30, 23, 30) / 1000, now = Date.UTC(2026, 11, 5, 23, 30) / 1000;
  await Deno.utime(f, old, old);
  const [a, b] = [`${tmp.path}/old.csv`, `${tmp.path}/new.csv`];
  assertEquals((await cli(["-o", a, root])).code, 0);
  await Deno.writeTextFile(f, "more");
  await Deno.utime(f, now, now);
  assertEquals((await cli(["-o", b, root])).code, 0);
  const html = `${tmp.path}/d.html`;
  const r = await cli(["diff", "--no-names", "--html", html, a, b], {
    env: { TZ: "Pacific/Kiritimati" },
  });
  assertEquals(r.code, 0, r.stderr);
  const table = r.text.slice(r.text.indexOf("Files changed most")).split("\n");
  assertEquals(table[1].split(/\s{2,}/).slice(4, 6), ["old mtime UTC", "new mtime UTC"]);
  assertEquals(table[2].split(/\s{2,}/).slice(4, 6), ["2026-11-30", "2026-12-05"], r.text);
  const page = Deno.readTextFileSync(html);
  assertStringIncludes(page, "<th>old mtime UTC</th>");
  assertStringIncludes(page, "2026-12-05");
});

Deno.test({
  name:
    "diff: a folder that could not be read in NEW, unchanged since OLD, is named as unlisted (its entries look removed); a folder emptied is not",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-diff-");
    const root = `${tmp.path}/tree`;
    for (const d of ["locked", "emptied", "kept"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
    }
    for (const d of ["locked", "emptied"]) {
      for (const f of ["f1", "f2", "f3"]) await Deno.writeTextFile(`${root}/${d}/${f}`, f);
    }
    await Deno.writeTextFile(`${root}/kept/g`, "g");
    const old = await scanTo(tmp.path, "old.csv", root);
    // NEW, as a user who cannot read `locked` (uid 0 without
    // capabilities, mode 000: its mtime unchanged, as chmod leaves it),
    // and `emptied` really emptied (its mtime changes)
    const lockedMtime = Deno.lstatSync(`${root}/locked`).mtime;
    await Deno.chmod(`${root}/locked`, 0o000);
    for (const f of ["f1", "f2", "f3"]) await Deno.remove(`${root}/emptied/${f}`);
    // (the premise: another mtime for the folder emptied; none for the locked one)
    await Deno.utime(`${root}/emptied`, new Date(), new Date(Date.now() + 5000));
    assertEquals(Deno.lstatSync(`${root}/locked`).mtime, lockedMtime);
    const neu = `${tmp.path}/new.csv`;
    const r = await cli(["-o", neu, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `pwalk: open '${root}/locked': Permission denied`);
    await Deno.chmod(`${root}/locked`, 0o755);

    const d = await diff([old], [neu], { names: false });
    // every entry of both folders counts as removed all the same
    assertEquals(d.totals.removed.entries, 6);
    assertEquals(d.unlisted, {
      new: [{ path: `${root}/locked`, listed: 3 }],
      newCount: 1,
      old: [],
      oldCount: 0,
    });
    // the other way round: the locked folder's entries look added
    const back = await diff([neu], [old], { names: false });
    assertEquals(back.unlisted.old, [{ path: `${root}/locked`, listed: 3 }]);
    assertEquals(back.unlisted.newCount, 0);
    // the text says so, below the totals
    const text = formatDiff(d, 1000);
    assertStringIncludes(
      text,
      "Folders that listed nothing in NEW though unchanged since OLD (same inode, size and " +
        "mtime): most likely unreadable when NEW was scanned (see its errors), not emptied; " +
        "the entries below them count as removed (top 1 of 1)",
    );
    assert(text.indexOf("listed nothing") < text.indexOf("Users ("), text);
  },
});
