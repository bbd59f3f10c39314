/**
 * The zstd output (`.csv.zst`):
 * - `zstd -dc` of it gives exactly the plain report's rows (as sets; row
 *   order is not defined), from report() and from the CLI, with and without
 *   the header, at the default and at other levels;
 * - DuckDB (npm @duckdb/node-api) reads it directly: its row count and
 *   sum(st_size) equal the independent reference, both with
 *   `read_csv('….csv.zst', header=true, …)` and with the plain
 *   `FROM 'scan.csv.zst'` form.
 *
 * DuckDB only reads UTF-8 text: a report of a tree with names that are not
 * UTF-8 (which pwalk prints raw) needs `ignore_errors=true`, which keeps
 * those rows (the count check below would see a dropped row). The plain
 * `FROM 'scan.csv.zst'` form is checked on a tree whose names are all UTF-8.
 */
import { assert, assertEquals } from "@std/assert";
import { report } from "../mod.ts";
import { lineSet, parsePwalk, splitHeader } from "./helpers/csv.ts";
import { duck } from "./helpers/duckdb.ts";
import { assertRowsMatch } from "./helpers/compare.ts";
import { settledReference } from "./helpers/reference.ts";
import { cli, runOk } from "./helpers/run.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { mktree } from "./helpers/tree.ts";

const FIXTURE = new URL("./fixtures/example-small.csv", import.meta.url);
const HEADER = new TextDecoder().decode(await Deno.readFile(FIXTURE)).split("\n")[0];

/** `zstd -dc FILE`: the independent decompressor. */
async function unzstd(file: string): Promise<Uint8Array> {
  return (await runOk("zstd", ["-dc", "--", file])).stdout;
}

testNeeding([ZSTD], {
  name: ".csv.zst: zstd -dc gives the plain report's rows; DuckDB sums equal the reference",
  async fn(t) {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await mktree(root, 8000, 4, true);
    const ref = settledReference(root);
    const refCount = ref.rows.size;
    const refBytes = [...ref.rows.values()].reduce((n, r) => n + r.size, 0);
    const plainFile = `${tmp.path}/plain.csv`;
    await report(root, { output: plainFile });
    const plain = await Deno.readFile(plainFile);
    assertRowsMatch(parsePwalk(plain).rows, ref.rows);
    const plainLines = lineSet(plain);

    await t.step("report() to .csv.zst: a zstd stream of the same rows", async () => {
      const zst = `${tmp.path}/r.csv.zst`;
      const s = await report(root, { output: zst });
      assert(s.compressed);
      const packed = await Deno.readFile(zst);
      assertEquals([...packed.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
      assertEquals(s.outputBytes, packed.length);
      assert(packed.length < plain.length / 4, "compressed");
      assertEquals(lineSet(await unzstd(zst)), plainLines);
    });

    await t.step("levels 3 and 19, and the .zstd and .ZST suffixes", async () => {
      for (const level of [3, 19]) {
        const zst = `${tmp.path}/l${level}.csv.zst`;
        await report(root, { output: zst, level });
        assertEquals(lineSet(await unzstd(zst)), plainLines, `level ${level}`);
      }
      for (const name of ["s.csv.zstd", "S.CSV.ZST"]) {
        const s = await report(root, { output: `${tmp.path}/${name}` });
        assertEquals([s.compress, s.compressed], ["zstd", true]);
        assertEquals(lineSet(await unzstd(`${tmp.path}/${name}`)), plainLines, name);
      }
    });

    await t.step("CLI --header -o scan.csv.zst", async () => {
      const zst = `${tmp.path}/scan.csv.zst`;
      const r = await cli(["--header", "-o", zst, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.length, 0);
      const { header, rest } = splitHeader(await unzstd(zst));
      assertEquals(header, HEADER);
      assertEquals(lineSet(rest), plainLines);
    });

    await t.step("DuckDB read_csv('….csv.zst', header=true): count and sum(st_size)", async () => {
      const zst = `${tmp.path}/scan.csv.zst`;
      const rows = await duck(
        `SELECT count(*), sum(st_size), count(DISTINCT inode) FROM read_csv('${zst}', ` +
          `header=true, ignore_errors=true)`,
      );
      assertEquals(rows, [[
        refCount,
        refBytes,
        new Set([...ref.rows.values()].map((r) => r.ino)).size,
      ]]);
    });
  },
});

Deno.test({
  name: "DuckDB: SELECT … FROM 'scan.csv.zst' on a report with --header",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await mktree(root, 3000, 6);
    for (const n of ['quo"te,comma.csv', "日本語ファイル.txt", "with space.txt", "x,y\\z"]) {
      await Deno.writeTextFile(`${root}/${n}`, "0123456789".repeat(n.length));
    }
    const ref = settledReference(root);
    const zst = `${tmp.path}/scan.csv.zst`;
    const r = await cli(["--header", "-o", zst, root]);
    assertEquals(r.code, 0, r.stderr);
    const refBytes = [...ref.rows.values()].reduce((n, x) => n + x.size, 0);
    assertEquals(await duck(`SELECT count(*), sum(st_size) FROM '${zst}'`), [[
      ref.rows.size,
      refBytes,
    ]]);
    // the quoted names are parsed as one field each
    assertEquals(
      await duck(`SELECT st_size FROM '${zst}' WHERE filename = '${root}/quo"te,comma.csv'`),
      [[160]],
    );
    const byUid = await duck(`SELECT UID, sum(st_size) FROM '${zst}' GROUP BY 1`);
    assertEquals(byUid, [[Deno.uid(), refBytes]]);
  },
});
