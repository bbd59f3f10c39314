/**
 * The spec's example (tests/fixtures/example-small.csv, real pwalk output;
 * its `trailing.` row's empty extension is what pwalk's stack happened to
 * hold: pwalk prints uninitialised memory there, docs/csv-format.md)
 * rebuilt in a temporary folder: report() and the CLI must print every row
 * of it, field by field, except what differs on every machine (inode,
 * st_dev, ctime, the root's atime/mtime, row order), which is checked
 * against lstat instead. The example was made on ext4: what depends on the
 * file system (a folder's st_size and st_nlink, st_blocks, and so the
 * pw_dirsum of a folder holding folders) is taken from lstat, so the test
 * passes on any file system (TMPDIR on a tmpfs, btrfs) and equals the
 * example's numbers on ext4.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { report } from "../mod.ts";
import { key, parseCsv, parsePwalk, type PwalkRow } from "./helpers/csv.ts";
import { cli } from "./helpers/run.ts";
import { must } from "./helpers/compare.ts";
import { EXAMPLE_TIME, smallTree } from "./helpers/tree.ts";
import { type Temp, tempDir } from "./helpers/temp.ts";
import { concat } from "./helpers/bytes.ts";
import { lstatRaw, type RawStat } from "./helpers/libc.ts";

const FIXTURE = new URL("./fixtures/example-small.csv", import.meta.url);
const EXAMPLE_ROOT = "/tmp/small";

/** The example's rows, with the example's root replaced by `root`. */
async function exampleRows(root: string): Promise<{ header: Uint8Array; rows: PwalkRow[] }> {
  const { header, rows } = parsePwalk(await Deno.readFile(FIXTURE), { header: true });
  const from = new TextEncoder().encode(EXAMPLE_ROOT);
  for (const r of rows) {
    assertEquals(r.path.subarray(0, from.length), from);
    r.path = concat(root, r.path.subarray(from.length));
    r.key = key(r.path);
  }
  return { header: header!, rows };
}

/** Where the folder that holds a printed path is (the path up to its last '/'). */
function parentKey(k: string): string {
  return k.slice(0, k.lastIndexOf("/"));
}

/** lstat of an example row's entry (the printed path of new<LF>line.txt lost its newline). */
function lstatOf(e: PwalkRow): RawStat {
  return lstatRaw(
    e.key.endsWith("/newline.txt")
      ? concat(e.path.subarray(0, e.path.length - "newline.txt".length), "new\nline.txt")
      : e.path,
  );
}

/**
 * The example's rows as this file system makes them: every entry's
 * st_blocks, and a folder's st_size and st_nlink, from lstat; a folder's
 * pw_dirsum with its subfolders' example sizes replaced by their sizes here.
 */
function onThisFileSystem(rows: PwalkRow[]): PwalkRow[] {
  const isDir = (r: PwalkRow) => r.mode.startsWith("004");
  const here = rows.map((e) => {
    const st = lstatOf(e);
    return isDir(e) ? { ...e, size: st.size, blocks: st.blocks, nlink: st.nlink } : {
      ...e,
      blocks: st.blocks,
    };
  });
  return here.map((h, i) => {
    if (!isDir(h)) return h;
    let dirsum = rows[i].dirsum;
    for (let j = 0; j < rows.length; j++) {
      if (isDir(rows[j]) && parentKey(rows[j].key) === h.key) {
        dirsum += here[j].size - rows[j].size;
      }
    }
    return { ...h, dirsum };
  });
}

/** Check a report of the example tree at `root` against the example. */
async function checkAgainstExample(root: string, actual: PwalkRow[]): Promise<void> {
  const expected = onThisFileSystem((await exampleRows(root)).rows);
  const byKey = new Map(actual.map((r) => [r.key, r]));
  assertEquals(byKey.size, actual.length, "a path was printed twice");
  assertEquals(
    [...byKey.keys()].sort(),
    expected.map((r) => r.key).sort(),
    "the set of paths differs from the example",
  );
  const asRoot = Deno.uid() === 0;
  for (const e of expected) {
    const a = byKey.get(e.key)!;
    const what = JSON.stringify(e.key);
    // Fields that must equal the example.
    assertEquals(a.depth, e.depth, `${what} depth`);
    assertEquals(key(a.ext), key(e.ext), `${what} extension`);
    assertEquals(a.size, e.size, `${what} st_size`);
    assertEquals(a.blocks, e.blocks, `${what} st_blocks`);
    assertEquals(a.nlink, e.nlink, `${what} st_nlink`);
    assertEquals(a.mode, e.mode, `${what} st_mode`);
    assertEquals(a.fcount, e.fcount, `${what} pw_fcount`);
    assertEquals(a.dirsum, e.dirsum, `${what} pw_dirsum`);
    if (e.depth !== -1) {
      assertEquals(a.atime, e.atime, `${what} st_atime`);
      assertEquals(a.mtime, e.mtime, `${what} st_mtime`);
      assertEquals(a.mtime, EXAMPLE_TIME);
    }
    // The example was made as root: owner 0:0. Otherwise check the owner.
    if (asRoot) {
      assertEquals([a.uid, a.gid], [e.uid, e.gid], `${what} UID/GID`);
    }
    // Fields that differ per machine: checked against lstat.
    const st = lstatOf(e); // the root is a folder, not a link: lstat = stat
    assertEquals(a.ino, st.ino, `${what} inode`);
    assertEquals(a.dev, st.dev, `${what} st_dev`);
    assertEquals(a.ctime, st.ctime, `${what} st_ctime vs lstat`);
    if (e.depth === -1) assertEquals(a.mtime, st.mtime, "the root's st_mtime vs lstat");
    assertEquals([a.uid, a.gid], [st.uid, st.gid], `${what} UID/GID vs lstat`);
    // parent-inode: the inode of the parent's row; 0 for the root.
    if (e.depth === -1) {
      assertEquals(a.parentIno, 0, "the root's parent-inode");
    } else {
      const parent = must(byKey.get(parentKey(e.key)), `${what}: the row of its folder`);
      assertEquals(a.parentIno, parent.ino, `${what} parent-inode`);
      assertEquals(a.depth, parent.depth + 1, `${what} depth vs its folder's`);
    }
  }
}

/** The example's tree in a temporary folder (`root`), its times set; `out` is a folder beside it. */
async function exampleTree(): Promise<Temp & { root: string; out: string }> {
  const t = await tempDir();
  const root = `${t.path}/small`;
  await Deno.mkdir(root);
  await Deno.mkdir(`${t.path}/out`);
  await smallTree(root);
  return Object.assign(t, { root, out: `${t.path}/out` });
}

Deno.test("example-small.csv: report() prints every row of the spec's example", async () => {
  await using t = await exampleTree();
  const root = t.root;
  const s = await report(root, { output: `${t.out}/r.csv` });
  const { rows } = parsePwalk(await Deno.readFile(`${t.out}/r.csv`));
  await checkAgainstExample(root, rows);
  assertEquals(s.entries, 13);
  assertEquals(s.folders, 4);
  assertEquals(s.bytes, rows.reduce((n, r) => n + r.size, 0));
  assertEquals(s.errors, 0);
  assertEquals(s.badNames, 1, "new<LF>line.txt is pwalk's one 'Bad File'");
});

Deno.test("example-small.csv: the CLI prints every row of the spec's example", async () => {
  await using t = await exampleTree();
  const root = t.root;
  const r = await cli([root]);
  assertEquals(r.code, 0, r.stderr);
  const { rows } = parsePwalk(r.stdout);
  await checkAgainstExample(root, rows);
  // The name with a newline is printed without it, and reported on stderr.
  const bad = r.stderr.split("\n").filter((l) => l.startsWith("Bad File: "));
  assertEquals(bad.length, 1, r.stderr);
  assert(bad[0].includes(`${root}/proj/new`) && bad[0].endsWith("line.txt"), bad[0]);
});

Deno.test("example-small.csv: --header prints the spec's header line first", async () => {
  await using t = await exampleTree();
  const root = t.root;
  const r = await cli(["--header", root]);
  assertEquals(r.code, 0, r.stderr);
  const { header, rows } = parsePwalk(r.stdout, { header: true });
  const expected = await exampleRows(root);
  assertEquals(key(header!), key(expected.header));
  await checkAgainstExample(root, rows);
});

Deno.test("the tests' CSV parser: quoting, empty fields, and malformed input", () => {
  const e = (s: string) => new TextEncoder().encode(s);
  const fields = (s: string) =>
    parseCsv(e(s)).map((r) => r.map((f) => [new TextDecoder().decode(f.bytes), f.quoted]));
  assertEquals(fields('a,"b""c",,"",x\n1\n'), [
    [["a", false], ['b"c', true], ["", false], ["", true], ["x", false]],
    [["1", false]],
  ]);
  assertEquals(fields('"""",""""""\n"a,b\nc"\n'), [[['"', true], ['""', true]], [[
    "a,b\nc",
    true,
  ]]]);
  assertEquals(parseCsv(new Uint8Array([0x22, 0xff, 0x22, 0x0a]))[0][0].bytes, Uint8Array.of(0xff));
  for (const bad of ["a", '"a\n', '"a"b\n', 'a"b\n']) assertThrows(() => parseCsv(e(bad)));
  const row = '1,0,-1,"/x","",0,0,4096,1,8,2,"0040755",1,2,3,0,0\n';
  assertEquals(parsePwalk(e(row)).rows[0].depth, -1);
  for (
    const bad of [
      row.replace("-1", "01"),
      row.replace("-1", "-"),
      row.replace("-1", "-0"),
      row.replace('"0040755"', "0040755"),
      row.replace('"0040755"', '"040755"'),
      row.replace('"/x"', "/x"),
      row.replace(",0,0\n", ",0\n"),
      row.replace(",0,0\n", ',0,"0"\n'),
    ]
  ) {
    assertThrows(() => parsePwalk(e(bad)), SyntaxError, undefined, bad);
  }
});
