/**
 * A generated tree of tens of thousands of entries (bench/mktree.py
 * --files 30000 --seed 3 --weird: skewed folders, sparse files, names with
 * quotes, commas, newlines, tabs and non-UTF-8 bytes, a path beyond
 * PATH_MAX, a symlink loop, a dangling link, a FIFO, a hard link and a
 * mode-000 folder, which root still reads): every row of report() equals the
 * independent reference of tests/helpers/reference.ts, every column, and
 * the thread count does not change the rows.
 */
import { assert, assertEquals } from "@std/assert";
import { report, type ReportSummary } from "../mod.ts";
import { key, lineSet, parsePwalk, type PwalkRow } from "./helpers/csv.ts";
import { assertRowsMatch, must } from "./helpers/compare.ts";
import { referenceReport } from "./helpers/reference.ts";
import { mktree } from "./helpers/tree.ts";
import { tempDir } from "./helpers/temp.ts";
import { closeLibc } from "./helpers/libc.ts";

async function reportRows(
  root: string,
  out: string,
  threads?: number,
): Promise<{ s: ReportSummary; data: Uint8Array; rows: PwalkRow[] }> {
  const s = await report(root, { output: out, threads });
  const data = await Deno.readFile(out);
  return { s, data, rows: parsePwalk(data).rows };
}

Deno.test("generated tree (30,000 files, --weird): every row equals the reference", async (t) => {
  await using tmp = await tempDir();
  await using outDir = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 30000, 3, true);
  // The weird part's mode-000 folder really is there (root reads it anyway).
  assertEquals(Deno.lstatSync(`${root}/weird/locked`).mode! & 0o7777, 0);

  // A first walk lists every folder once, so that atimes (relatime) are
  // settled before the rows that are compared are taken.
  await report(root, { output: `${outDir.path}/warm.csv`, threads: 16 });
  const ref = referenceReport(root);
  closeLibc();
  const { s, data, rows } = await reportRows(root, `${outDir.path}/r.csv`);

  await t.step("same paths and every field as the reference", () => {
    assert(rows.length > 30000, `only ${rows.length} rows`);
    assertRowsMatch(rows, ref.rows);
  });

  await t.step("the reference came mostly from Deno.readDir/Deno.lstat", () => {
    // libc (FFI) only for the non-UTF-8 names and the path beyond PATH_MAX.
    assert(ref.sources.deno > 30000, JSON.stringify(ref.sources));
    assert(ref.sources.libc > 0 && ref.sources.libc < 200, JSON.stringify(ref.sources));
  });

  await t.step("the weird entries are there, as the spec prints them", () => {
    const by = new Map(rows.map((r) => [r.key, r]));
    const w = `${root}/weird`;
    const get = (p: string) => must(by.get(p), `the row of ${JSON.stringify(p)}`);
    assertEquals(get(`${w}/loop`).mode, "0120777");
    assertEquals(get(`${w}/dangling`).mode, "0120777");
    assertEquals(get(`${w}/fifo`).mode.slice(0, 3), "001");
    assertEquals(get(`${w}/newline.txt`).size, 10); // "new\nline.txt", newline dropped
    assertEquals(get(`${w}/tabhere.log`).size, 10);
    assertEquals(key(get(`${w}/multi.dot.tar.gz`).ext), "gz");
    assertEquals(key(get(`${w}/trailing.`).ext), "");
    assertEquals(key(get(`${w}/.hidden`).ext), "");
    assertEquals(get(`${w}/hardlink.txt`).nlink, 2);
    assertEquals(get(`${w}/locked`).fcount, 1);
    assert(by.has(`${w}/latin1-\xe9\xff.bin`), "the latin-1 name is printed raw");
    assert(rows.some((r) => r.path.length > 6000), "the path beyond PATH_MAX is there");
    assert(!rows.some((r) => r.key.startsWith(`${w}/loop/`)), "the loop was followed");
  });

  await t.step("the summary counts what the report holds", () => {
    assertEquals(s.entries, rows.length);
    assertEquals(s.folders, rows.filter((r) => r.mode.startsWith("004")).length);
    assertEquals(s.bytes, rows.reduce((n, r) => n + r.size, 0));
    assertEquals(s.errors, 0);
    assertEquals(s.errorDetails, []);
    assertEquals(s.badNames, 2, "new<LF>line.txt and tab<TAB>here.log");
    assertEquals(s.outputBytes, data.length);
    assertEquals(s.compressed, false);
  });

  await t.step("threads 1, 2 and 16 print the same rows", async () => {
    const base = lineSet(data);
    for (const threads of [1, 2, 16]) {
      const out = `${outDir.path}/t${threads}.csv`;
      const r = await report(root, { output: out, threads });
      assertEquals(r.entries, rows.length);
      assertEquals(lineSet(await Deno.readFile(out)), base, `threads ${threads}`);
    }
  });
});
