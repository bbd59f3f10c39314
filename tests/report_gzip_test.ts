/**
 * The gzip output (`.csv.gz`):
 * - `gzip -dc` of it gives exactly the plain report's rows (as multisets;
 *   row order is not defined), from report() and from the CLI, with and
 *   without the header, at the default level and at levels 6 and 9;
 * - it is several gzip members (one per chunk of rows), each complete:
 *   Python's zlib counts them independently;
 * - DuckDB (npm @duckdb/node-api) reads the whole multi-member file with
 *   header=true: the same row count, sum(st_size) and distinct inodes as
 *   the plain report, and as the independent reference.
 */
import { assert, assertEquals } from "@std/assert";
import { report } from "../mod.ts";
import { lineSet, parsePwalk, splitHeader } from "./helpers/csv.ts";
import { duck } from "./helpers/duckdb.ts";
import { assertRowsMatch } from "./helpers/compare.ts";
import { settledReference } from "./helpers/reference.ts";
import { cli } from "./helpers/run.ts";
import { mktree } from "./helpers/tree.ts";
import { tempDir } from "./helpers/temp.ts";

const FIXTURE = new URL("./fixtures/example-small.csv", import.meta.url);
const HEADER = new TextDecoder().decode(await Deno.readFile(FIXTURE)).split("\n")[0];

async function gunzip(file: string): Promise<Uint8Array> {
  const r = await new Deno.Command("gzip", { args: ["-dc", "--", file], stderr: "piped" }).output();
  assert(r.success, new TextDecoder().decode(r.stderr));
  return r.stdout;
}

/** Python's zlib: the number of complete gzip members in a file. */
async function gzipMembers(file: string): Promise<number> {
  const script = `
import sys, zlib
data = open(sys.argv[1], "rb").read()
n = 0
while data:
    d = zlib.decompressobj(31)
    d.decompress(data)
    assert d.eof, "truncated member"
    data = d.unused_data
    n += 1
print(n)`;
  const r = await new Deno.Command("python3", { args: ["-c", script, file], stderr: "piped" })
    .output();
  assert(r.success, new TextDecoder().decode(r.stderr));
  return Number(new TextDecoder().decode(r.stdout).trim());
}

Deno.test(".csv.gz: gzip -dc gives the plain report's rows; DuckDB reads every member", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 8000, 4);
  const ref = settledReference(root);
  const plainFile = `${tmp.path}/plain.csv`;
  await report(root, { output: plainFile });
  const plain = await Deno.readFile(plainFile);
  assertRowsMatch(parsePwalk(plain).rows, ref.rows);
  const plainLines = lineSet(plain);

  await t.step("report() to .csv.gz: several gzip members of the same rows", async () => {
    const gz = `${tmp.path}/r.csv.gz`;
    const s = await report(root, { output: gz });
    assertEquals([s.compress, s.compressed], ["gzip", true]);
    const packed = await Deno.readFile(gz);
    assertEquals([...packed.subarray(0, 3)], [0x1f, 0x8b, 0x08], "gzip magic, deflate");
    assertEquals(s.outputBytes, packed.length);
    assert(packed.length < plain.length / 4, "compressed");
    // one member per 256 KiB chunk of rows at most
    assert(await gzipMembers(gz) >= Math.ceil(plain.length / (256 * 1024)));
    assertEquals(lineSet(await gunzip(gz)), plainLines);
  });

  await t.step("levels 6 and 9, and an upper-case .CSV.GZ name", async () => {
    for (const [name, level] of [["l6.csv.gz", 6], ["l9.csv.gz", 9], ["UP.CSV.GZ", undefined]]) {
      const gz = `${tmp.path}/${name}`;
      const s = await report(root, { output: gz as string, level: level as number | undefined });
      assertEquals(s.compress, "gzip");
      assertEquals(lineSet(await gunzip(gz)), plainLines, `${name}`);
    }
  });

  await t.step("CLI --header --level 9 -o scan.csv.gz", async () => {
    const gz = `${tmp.path}/scan.csv.gz`;
    const r = await cli(["--header", "--level", "9", "-o", gz, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout.length, 0);
    const { header, rest } = splitHeader(await gunzip(gz));
    assertEquals(header, HEADER);
    assertEquals(lineSet(rest), plainLines);
  });

  await t.step("DuckDB read_csv('….csv.gz', header=true) against the plain file", async () => {
    const gz = `${tmp.path}/scan.csv.gz`;
    const q = (f: string, header: boolean) =>
      `SELECT count(*), sum(st_size), count(DISTINCT inode) FROM read_csv('${f}', ` +
      `header=${header}, names=['inode','parent_inode','depth','filename','fileExtension',` +
      `'UID','GID','st_size','st_dev','st_blocks','st_nlink','st_mode','st_atime','st_mtime',` +
      `'st_ctime','pw_fcount','pw_dirsum'])`;
    const fromGz = await duck(q(gz, true));
    assertEquals(fromGz, await duck(q(plainFile, false)));
    assertEquals(fromGz, [[
      ref.rows.size,
      [...ref.rows.values()].reduce((n, r) => n + r.size, 0),
      new Set([...ref.rows.values()].map((r) => r.ino)).size,
    ]]);
    // and the plain form, the header naming the columns
    assertEquals(await duck(`SELECT count(*), sum(st_size) FROM '${gz}'`), [[
      fromGz[0][0],
      fromGz[0][1],
    ]]);
  });
});
