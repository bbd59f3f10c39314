/**
 * `report -o scan.parquet`: each row group's column statistics (min and max)
 * hold its rows, checked two ways against references that do not read them:
 *
 * - every column chunk's bounds against the least and greatest value of its
 *   own rows, computed here in TypeScript from the rows DuckDB reads (numbers
 *   compared as their type says: UID, GID, inode... unsigned, so UIDs past
 *   2^31 sort last; text by UTF-8 bytes); numbers exact, text cut to 64 bytes
 *   at a character's end (min a prefix, max its successor, "not exact"),
 *   exact where it was not cut;
 * - filtered queries: DuckDB skips the row groups whose bounds exclude the
 *   filter, so a wrong bound loses rows. Counts of `col = v`, `col < v`,
 *   `col > v` at every group's bounds (and one past them), and of path
 *   prefixes, against the same filters applied here to all the rows.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { report } from "../mod.ts";
import { closeLibc, lchown, lutimes, writeFileRaw } from "./helpers/libc.ts";
import { bytes, join } from "./helpers/bytes.ts";
import { rng } from "./helpers/tree.ts";
import { COLUMNS } from "./helpers/csv.ts";
import { tempDir } from "./helpers/temp.ts";
import { cli } from "./helpers/run.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding } from "./helpers/system.ts";

const utf8 = new TextEncoder();

/** Each string's UTF-8, encoded once: byteCmp runs over every pair of thousands of names. */
const encoded = new Map<string, Uint8Array>();
function utf8Of(s: string): Uint8Array {
  let b = encoded.get(s);
  if (b === undefined) encoded.set(s, b = utf8.encode(s));
  return b;
}

/** Byte order of two strings' UTF-8 (Parquet's order for UTF8 columns). */
function byteCmp(a: string, b: string): number {
  const x = utf8Of(a), y = utf8Of(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

const TEXT = ["filename", "fileExtension"];
const NUMBERS: string[] = COLUMNS.filter((c) => !TEXT.includes(c));

/**
 * A tree whose columns spread: owners on both sides of 2^31 (a signed
 * comparison would put 4,000,000,000 first), times before 1970 and in the
 * future, sizes from 0 up, names with characters of every UTF-8 length,
 * a folder whose path runs on in U+10FFFF (the greatest character: its
 * bound's successor must drop them), an extension longer than 64 bytes,
 * and a name that is not UTF-8 (escaped as \xNN).
 */
function buildTree(root: string): number {
  const rand = rng(41);
  const owners = [0, 1, 1000, 2147483647, 2147483648, 3000000000, 4000000000, 4294967294];
  const names = ["a", "é", "日本", "😀", "Z", "~"];
  let n = 0;
  for (let d = 0; d < 24; d++) {
    const dir = `${root}/${names[d % names.length]}${d}`;
    Deno.mkdirSync(dir);
    for (let f = 0; f < 250; f++) {
      const p = `${dir}/${names[f % names.length]}${f}.${["txt", "h5", "日本", ""][f % 4]}`;
      Deno.writeFileSync(p, new Uint8Array(Math.floor(rand() * 5000)));
      lchown(p, owners[Math.floor(rand() * owners.length)], owners[Math.floor(rand() * 8)]);
      const t = Math.floor(rand() * 5e9) - 2e9; // 1906 to 2128
      lutimes(p, t, t + Math.floor(rand() * 1000));
      n++;
    }
  }
  const top = `${root}/${"\u{10FFFF}".repeat(20)}`;
  Deno.mkdirSync(top);
  Deno.writeFileSync(`${top}/${"\u{10FFFF}".repeat(10)}`, new Uint8Array(3));
  Deno.writeFileSync(`${root}/long.${"\u{FFFD}".repeat(30)}`, new Uint8Array(1));
  writeFileRaw(join(bytes(root), new Uint8Array([0x62, 0xff, 0x2e, 0xfe])), new Uint8Array(2));
  return n + 25 + 3 + 1; // files, folders (root too), the three beside them
}

type Row = Record<string, string | bigint | number>;

Deno.test("report to .parquet: every row group's min/max hold its rows; filtered queries lose none", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  Deno.mkdirSync(root);
  const entries = buildTree(root);
  closeLibc();
  const file = `${tmp.path}/scan.parquet`;
  // 64 workers: row groups of 2,048 rows at most, so this tree has several
  await report(root, { output: file, threads: 64 });

  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const rows = (await c.runAndReadAll(
      `SELECT * FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`,
    )).getRowObjects() as Row[];
    assertEquals(rows.length, entries);
    const meta = (await c.runAndReadAll(
      `SELECT row_group_id, row_group_num_rows, path_in_schema, stats_min_value, stats_max_value,
              min_is_exact, max_is_exact, stats_null_count
       FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`,
    )).getRowObjects();
    const groups = new Map<number, { first: number; n: number }>();
    for (const m of meta) {
      const g = Number(m.row_group_id);
      if (!groups.has(g)) groups.set(g, { first: 0, n: Number(m.row_group_num_rows) });
    }
    assert(groups.size >= 3, `${groups.size} row groups`);
    let first = 0;
    for (const g of [...groups.keys()].sort((a, b) => a - b)) {
      groups.get(g)!.first = first;
      first += groups.get(g)!.n;
    }
    assertEquals(first, entries);

    let cut = 0;
    for (const m of meta) {
      const col = String(m.path_in_schema);
      const { first, n } = groups.get(Number(m.row_group_id))!;
      const own = rows.slice(first, first + n).map((r) => r[col]);
      assert(m.stats_min_value !== null && m.stats_max_value !== null, `${col}: no bounds`);
      assertEquals(Number(m.stats_null_count), 0);
      if (TEXT.includes(col)) {
        const values = own.map(String).sort(byteCmp);
        const [lo, hi] = [String(m.stats_min_value), String(m.stats_max_value)];
        assert(byteCmp(lo, values[0]) <= 0, `${col} min ${lo} above ${values[0]}`);
        assert(byteCmp(hi, values.at(-1)!) >= 0, `${col} max ${hi} below ${values.at(-1)}`);
        assert(utf8.encode(lo).length <= 64 && utf8.encode(hi).length <= 67);
        if (m.min_is_exact) assertEquals(lo, values[0]);
        else assert(values[0].startsWith(lo) && utf8.encode(values[0]).length > 64);
        if (m.max_is_exact) assertEquals(hi, values.at(-1));
        else cut++;
      } else {
        const values = own.map((v) => BigInt(v as bigint | number));
        const min = values.reduce((a, b) => (b < a ? b : a));
        const max = values.reduce((a, b) => (b > a ? b : a));
        assertEquals([BigInt(String(m.stats_min_value)), BigInt(String(m.stats_max_value))], [
          min,
          max,
        ], `${col} in row group ${m.row_group_id}`);
        assert(m.min_is_exact && m.max_is_exact);
      }
    }
    assert(cut >= 2, "the U+10FFFF path and the long extension were cut");

    // filtered queries: DuckDB prunes row groups by these bounds
    const count = async (where: string) =>
      Number(
        (await c.runAndReadAll(`SELECT count(*) FROM '${file}' WHERE ${where}`))
          .getRows()[0][0],
      );
    for (const col of NUMBERS) {
      const values = rows.map((r) => BigInt(r[col] as bigint | number));
      const probes = new Set<bigint>();
      for (const m of meta.filter((m) => m.path_in_schema === col)) {
        for (const v of [BigInt(String(m.stats_min_value)), BigInt(String(m.stats_max_value))]) {
          for (const p of [v - 1n, v, v + 1n]) probes.add(p);
        }
      }
      for (const v of probes) {
        if (
          v < 0n &&
          ["inode", "parent-inode", "UID", "GID", "st_nlink", "st_mode"].includes(col)
        ) continue;
        const q = `"${col}"`;
        assertEquals(
          await count(`${q} = ${v}`),
          values.filter((x) => x === v).length,
          `${q} = ${v}`,
        );
        assertEquals(await count(`${q} < ${v}`), values.filter((x) => x < v).length, `${q} < ${v}`);
        assertEquals(await count(`${q} > ${v}`), values.filter((x) => x > v).length, `${q} > ${v}`);
      }
    }
    const names = rows.map((r) => String(r.filename));
    const exts = rows.map((r) => String(r.fileExtension));
    const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;
    for (
      const name of [
        ...names.slice(0, 50),
        ...names.slice(-50),
        `${root}/${"\u{10FFFF}".repeat(20)}`,
      ]
    ) {
      assertEquals(
        await count(`filename = ${quote(name)}`),
        names.filter((x) => x === name).length,
      );
      assertEquals(
        await count(`filename > ${quote(name)}`),
        names.filter((x) => byteCmp(x, name) > 0).length,
        `filename > ${name}`,
      );
      assertEquals(
        await count(`starts_with(filename, ${quote(name)})`),
        names.filter((x) => x.startsWith(name)).length,
      );
    }
    for (const ext of new Set(exts)) {
      assertEquals(
        await count(`fileExtension = ${quote(ext)}`),
        exts.filter((x) => x === ext).length,
      );
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "a link count of 2^31 or more (a FUSE or NFS server's): the CSV prints it as pwalk does (signed 32-bit), summary and convert read it back, Parquet holds the count (review)",
  async fn() {
    // the CSV's -1294967296 for 3,000,000,000 links was refused by summary
    // and convert ("not a number as pwalk's CSV writes it"), and a scan
    // written to .parquet held 2^64 - 1,294,967,296
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(src);
    await Deno.writeTextFile(`${src}/f`, "x");
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "0",
      SLOWFS_NLINK: "3000000000",
    });
    assertEquals(Deno.lstatSync(`${fs.path}/f`).nlink, 3_000_000_000, "the premise");
    const csv = `${tmp.path}/scan.csv`, pq = `${tmp.path}/scan.parquet`;
    const conv = `${tmp.path}/conv.parquet`;
    for (const out of [csv, pq]) assertEquals((await cli(["-o", out, fs.path])).code, 0);
    const row = Deno.readTextFileSync(csv).split("\n").find((l) => l.includes(`"${fs.path}/f"`))!;
    assertEquals(row.split(",")[10], "-1294967296", "pwalk's %d of the count");
    const c = await cli(["convert", csv, conv]);
    assertEquals(c.code, 0, c.stderr);
    // and back to pwalk's CSV, from either: its %d again
    for (const [from, to] of [[csv, `${tmp.path}/again.csv`], [pq, `${tmp.path}/back.csv`]]) {
      const b = await cli(["convert", from, to]);
      assertEquals(b.code, 0, b.stderr);
      const line = Deno.readTextFileSync(to).split("\n").find((l) => l.includes(`"${fs.path}/f"`))!;
      assertEquals(line.split(",")[10], "-1294967296", `${from} -> ${to}`);
    }
    const s = await cli(["summary", "--json", csv]);
    assertEquals(s.code, 0, s.stderr);
    assertEquals(JSON.parse(s.text).totals.files, 1);
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    try {
      for (const file of [pq, conv]) {
        const rows = (await con.runAndReadAll(
          `SELECT st_nlink::VARCHAR AS n FROM read_parquet('${file}') WHERE filename LIKE '%/f'`,
        )).getRowObjects();
        assertEquals(rows.map((r) => r.n), ["3000000000"], file);
      }
    } finally {
      con.closeSync();
      db.closeSync();
    }
  },
});
