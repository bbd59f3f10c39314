/**
 * Scan input the answers commands must not get wrong, and their command
 * line:
 *
 * - names that are not UTF-8 (files, and a folder with content below it):
 *   no row is lost (counts and byte sums equal the independent reference
 *   of tests/helpers/reference.ts, which reads the raw names through libc),
 *   such names read with `\xNN` escapes, in summary, diff and Parquet;
 * - bad usage: one line on stderr, status 2; a failure: status 1; nothing
 *   half-written;
 * - outputs checked before the work: one that is also an input, a shard's
 *   output of a sharded scan, or a file the caller could not write (report
 *   -o and --errors too) is refused and left as it was;
 * - the module graph: `pwalk --version`, a report and mod.ts never load
 *   DuckDB or ECharts (they are imported dynamically, only by these
 *   commands), and the CLI's static graph does not even reach lib/answers/.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { convert, diff, ScanInputError, summarize } from "../mod.ts";
import { LINE_SQL } from "../lib/answers/convert.ts";
import { Engine } from "../lib/answers/duck.ts";
import { namingScans, TYPED_COLUMNS } from "../lib/answers/scan.ts";
import { referenceReport } from "./helpers/reference.ts";
import { lutimes, mkdirRaw, writeFileRaw } from "./helpers/libc.ts";
import { bytes, concat, join } from "./helpers/bytes.ts";
import { COLUMNS, key, parsePwalk } from "./helpers/csv.ts";
import { closeLibc } from "./helpers/libc.ts";
import { assertSameParquet } from "./helpers/duckdb.ts";
import { cli, deno, type Ran, REPO, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { makePlan, runShards } from "./helpers/shard.ts";
import { python } from "./helpers/tree.ts";
import { PYTHON3, SETPRIV, testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { existsSync } from "node:fs";

const strict = new TextDecoder("utf-8", { fatal: true });
const isUtf8 = (b: Uint8Array) => {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
};

testNeeding([ZSTD], {
  name: "names that are not UTF-8: every row kept, escaped as \\xNN, in summary, diff, Parquet",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    const r = bytes(root);
    writeFileRaw(
      join(r, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74])),
      bytes("x".repeat(5000)),
    ); // caf\xe9.txt
    writeFileRaw(join(r, new Uint8Array([0x80, 0x81, 0x9f])), bytes("y".repeat(9000)));
    writeFileRaw(join(r, bytes("日本語.txt")), bytes("z".repeat(100)));
    // a quote and a control byte (dropped from the CSV) in a UTF-8 name, and
    // a quote in one that is not UTF-8
    writeFileRaw(join(r, bytes('q"u\x01ote.t"x')), bytes("c".repeat(10)));
    writeFileRaw(join(r, new Uint8Array([0x22, 0xe9, 0x22, 0x2e, 0xe9])), bytes("d".repeat(20)));
    const bad = join(r, new Uint8Array([0x64, 0x69, 0x72, 0xff])); // dir\xff
    mkdirRaw(bad);
    mkdirRaw(join(bad, bytes("sub")));
    for (let i = 0; i < 50; i++) {
      writeFileRaw(join(join(bad, bytes("sub")), bytes(`f${i}.dat`)), bytes("q".repeat(3000)));
    }
    for (let i = 0; i < 20; i++) await Deno.writeTextFile(`${root}/ok${i}.txt`, "o".repeat(7000));
    // a folder named in UTF-8 holding a name that is not: one folder still
    const zoe = join(r, bytes("Zoë"));
    mkdirRaw(zoe);
    writeFileRaw(
      join(zoe, new Uint8Array([0xff, 0x2e, 0x62, 0x69, 0x6e])),
      bytes("w".repeat(4000)),
    );
    writeFileRaw(join(zoe, bytes("ok.txt")), bytes("v".repeat(300)));
    // The tree is scanned twice (CSV, then Parquet) and compared column by
    // column: a folder's atime would move when the first scan reads it
    // (relatime updates an atime not after mtime or ctime).  An atime after
    // both stays put.
    const later = Math.floor(Date.now() / 1000) + 3600;
    for (const d of [r, bad, join(bad, bytes("sub")), zoe]) lutimes(d, later, later - 7200);
    const scan = `${tmp.path}/scan.csv.zst`;
    const res = await cli(["--header", "-o", scan, root]);
    assertEquals(res.code, 0, res.stderr);
    const ref = referenceReport(root);
    closeLibc();
    const rows = [...ref.rows.values()];
    const nonUtf8 = rows.filter((x) => !isUtf8(x.path)).length;
    // three files, the folder, its sub folder and 50 files, Zoë's file
    assertEquals(nonUtf8, 3 + 1 + 1 + 50 + 1);

    const s = await summarize([scan], { top: 1000, depth: 2 });
    assertEquals(s.totals.entries, rows.length);
    assertEquals(s.totals.nonUtf8Names, nonUtf8);
    assertEquals(s.totals.apparentBytes, rows.reduce((n, x) => n + x.size, 0));
    assertEquals(s.totals.allocatedBytes, rows.reduce((n, x) => n + x.blocks * 512, 0));
    const badDir = s.folders.find((f) => f.path === `${root}/dir\\xff`)!;
    assert(badDir, `dir\\xff in the folder view: ${s.folders.map((f) => f.path)}`);
    const startsWith = (p: Uint8Array, pre: Uint8Array) =>
      p.length >= pre.length && pre.every((b, i) => p[i] === b);
    const self = rows.filter((x) => x.path.length === bad.length && startsWith(x.path, bad));
    const under = rows.filter((x) => startsWith(x.path, join(bad, new Uint8Array())));
    assertEquals(self.length, 1);
    assertEquals(badDir.entries, under.length);
    assertEquals(badDir.apparentBytes, [...self, ...under].reduce((n, x) => n + x.size, 0));
    // Zoë keeps its ë in its file's row: its totals hold both files
    const zoeDir = s.folders.find((f) => f.path === `${root}/Zoë`)!;
    assert(zoeDir, `Zoë in the folder view: ${s.folders.map((f) => f.path)}`);
    const inZoe = rows.filter((x) => startsWith(x.path, join(zoe, new Uint8Array())));
    assertEquals(inZoe.length, 2);
    assertEquals(zoeDir.entries, inZoe.length);
    assertEquals(
      zoeDir.apparentBytes,
      [...rows.filter((x) => x.path.length === zoe.length && startsWith(x.path, zoe)), ...inZoe]
        .reduce((n, x) => n + x.size, 0),
    );
    assert(s.largestFiles.some((f) => f.path === `${root}/Zoë/\\xff.bin`), "Zoë's file");
    assert(s.largestFiles.some((f) => f.path === `${root}/\\x80\\x81\\x9f`), "escaped name");
    assert(s.largestFiles.some((f) => f.path === `${root}/caf\\xe9.txt`));
    assert(
      s.largestFiles.some((f) => f.path === `${root}/日本語.txt`),
      "UTF-8 names stay as they are",
    );

    // the same scan against itself: nothing changed
    const same = await diff([scan], [scan]);
    assertEquals(same.totals.unchanged.entries, rows.length);
    assertEquals(
      same.totals.added.entries + same.totals.removed.entries + same.totals.changed.entries,
      0,
    );

    const pq = `${tmp.path}/scan.parquet`;
    const c = await convert([scan], pq);
    assertEquals([c.rows, c.nonUtf8Names], [rows.length, nonUtf8]);
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    try {
      const n = (await con.runAndReadAll(
        `SELECT count(*) AS n, count(*) FILTER (filename LIKE '%\\x%') AS esc FROM '${pq}'`,
      )).getRowObjectsJson()[0];
      assertEquals([Number(n.n), Number(n.esc)], [rows.length, nonUtf8]);
    } finally {
      con.closeSync();
      db.closeSync();
    }
    // `-o scan.parquet`, written by the library itself: the same rows (the
    // same escaped names) and types as DuckDB's conversion of the CSV
    const direct = `${tmp.path}/direct.parquet`;
    const rep = await cli(["-o", direct, root]);
    assertEquals(rep.code, 0, rep.stderr);
    await assertSameParquet(pq, direct, rows.length);
  },
});

Deno.test("a negative st_dev (a signed long in the CSV; macOS's dev_t is signed) is read, summarized and converted", async () => {
  await using tmp = await tempDir();
  // a folder, a file with two names (one inode, counted once), a file, all
  // on device -16777218 (macOS prints such numbers for some volumes)
  const dev = -16777218;
  const csv = `${tmp.path}/neg.csv`;
  const lines = [
    `10,0,-1,"/v","",501,20,96,${dev},0,3,"0040755",1796291323,1796291323,1796291323,3,12293`,
    `11,10,0,"/v/a.txt","txt",501,20,4097,${dev},16,2,"0100644",1796291323,1796291323,1796291323,-1,0`,
    `11,10,0,"/v/b.txt","txt",501,20,4097,${dev},16,2,"0100644",1796291323,1796291323,1796291323,-1,0`,
    `12,10,0,"/v/c","",501,20,4100,${dev},8,1,"0100644",1796291323,1796291323,1796291323,-1,0`,
  ];
  await Deno.writeTextFile(csv, lines.join("\n") + "\n");
  const s = await summarize([csv], { names: false });
  assertEquals(
    [s.totals.entries, s.totals.hardLinkNames, s.totals.apparentBytes, s.totals.allocatedBytes],
    [4, 1, 96 + 4097 + 4100, (0 + 16 + 8) * 512],
  );
  const r = await cli(["summary", csv]);
  assertEquals(r.code, 0, r.stderr);

  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const read = async (f: string) =>
    (await c.runAndReadAll(`SELECT DISTINCT "st_dev", typeof("st_dev") FROM '${f}'`)).getRowsJS();
  const back = async (f: string) => {
    const out = `${tmp.path}/back-${f.split("/").pop()}.csv`;
    await convert([f], out, { header: false });
    return (await Deno.readTextFile(out)).trimEnd().split("\n").sort();
  };
  try {
    const pq = `${tmp.path}/neg.parquet`;
    assertEquals((await convert([csv], pq)).rows, 4);
    assertEquals(await read(pq), [[BigInt(dev), "BIGINT"]]);
    assertEquals(await back(pq), [...lines].sort());
    // a Parquet file written while st_dev was UINT_64: the number wrapped
    // to 2^64 - 16777218, read back as the signed value
    const old = `${tmp.path}/old.parquet`;
    await c.run(
      `COPY (SELECT * REPLACE (("st_dev"::HUGEINT + 18446744073709551616)::UBIGINT AS "st_dev") ` +
        `FROM '${pq}') TO '${old}' (FORMAT parquet)`,
    );
    assertEquals(await read(old), [[2n ** 64n + BigInt(dev), "UBIGINT"]]);
    assertEquals(await back(old), [...lines].sort());
    assertEquals((await summarize([old], { names: false })).totals, s.totals);
  } finally {
    c.closeSync();
    db.closeSync();
  }
});

Deno.test("a Parquet scan whose names are bytes (BLOB, as pyarrow's binary writes them): read as the text they are, and one that is not UTF-8 refused, naming the column (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/r`;
  Deno.mkdirSync(`${root}/漢字`, { recursive: true });
  for (const n of ["café.txt", 'quo"te,comma.csv', "back\\slash 'q'", "plain.dat"]) {
    Deno.writeTextFileSync(`${root}/漢字/${n}`, n);
  }
  const csv = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", csv, root])).code, 0);
  const pq = `${tmp.path}/scan.parquet`;
  await convert([csv], pq);
  const blob = `${tmp.path}/blob.parquet`, bad = `${tmp.path}/bad.parquet`;
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    await c.run(
      `COPY (SELECT * REPLACE (encode(filename) AS filename, encode("fileExtension") AS ` +
        `"fileExtension") FROM '${pq}') TO '${blob}' (FORMAT parquet)`,
    );
    const types = (await c.runAndReadAll(
      `SELECT name, duckdb_type FROM parquet_schema('${blob}') WHERE name IN ('filename', 'fileExtension')`,
    )).getRowsJS();
    assertEquals(types.map((r) => String(r[1])), ["BLOB", "BLOB"]); // the premise
    // one name with a byte that is not UTF-8
    await c.run(
      `COPY (SELECT * REPLACE (CASE WHEN filename LIKE '%plain.dat' ` +
        `THEN encode(filename) || '\\xFF'::BLOB ELSE encode(filename) END AS filename) ` +
        `FROM '${pq}') TO '${bad}' (FORMAT parquet)`,
    );
  } finally {
    c.closeSync();
    db.closeSync();
  }
  // byte for byte the scan it was made from, and no change against it
  const back = `${tmp.path}/back.csv`;
  const r = await cli(["convert", "--no-header", blob, back]);
  assertEquals(r.code, 0, r.stderr);
  const sorted = (f: string) => Deno.readTextFileSync(f).split("\n").sort().join("\n");
  assertEquals(sorted(back), sorted(csv));
  const d = await diff([csv], [blob]);
  assertEquals([d.totals.added.entries, d.totals.removed.entries], [0, 0]);
  for (const args of [["summary", bad], ["convert", bad, `${tmp.path}/no.csv`]]) {
    const x = await cli(args);
    assertEquals(x.code, 1, x.stderr);
    assertEquals(x.stderr.trim().split("\n").length, 1, x.stderr);
    assertStringIncludes(
      x.stderr,
      `${bad}: Invalid Input Error: column filename holds bytes (BLOB) that decode to no text`,
    );
  }
  assert(!existsSync(`${tmp.path}/no.csv`), "nothing written");
});

Deno.test("a NULL or an empty field where pwalk writes a number: summary, diff and convert refuse it, naming the column and the file", async (t) => {
  await using tmp = await tempDir();
  // a scan of /t (a folder, a file) and one of /u, as pwalk writes them
  const scan = (root: string, ino: number) => [
    `${ino},0,-1,"${root}","",0,0,4096,1,8,2,"0040755",1,2,3,1,10`,
    `${ino + 1},${ino},0,"${root}/a.txt","txt",0,0,10,1,8,1,"0100644",1,2,3,-1,0`,
  ];
  const good = `${tmp.path}/good.csv`;
  await Deno.writeTextFile(good, scan("/t", 1).join("\n") + "\n");
  const other = `${tmp.path}/u.csv`;
  await Deno.writeTextFile(other, scan("/u", 5).join("\n") + "\n");
  const numbers = COLUMNS.filter((c) => c !== "filename" && c !== "fileExtension");
  assertEquals(numbers.length, 15);
  const names = `names = [${COLUMNS.map((n) => `'${n}'`).join(", ")}]`;
  // per number column, a Parquet file (DuckDB writes it) whose file row
  // holds NULL there: typed as pwalk's Parquet (st_mode as its octal text,
  // as a view over the CSV writes it), and all text; the NULLs counted by
  // DuckDB itself, the reference
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const made: [string, string][] = [];
  try {
    await c.run(
      `CREATE VIEW v AS SELECT * FROM read_csv('${good}', header = false, ${names}, ` +
        `types = {'st_mode': 'VARCHAR'})`,
    );
    await c.run(
      `CREATE VIEW w AS SELECT * FROM read_csv('${good}', header = false, ${names}, ` +
        `all_varchar = true)`,
    );
    for (const col of numbers) {
      for (const [kind, view] of [["typed", "v"], ["text", "w"]]) {
        const f = `${tmp.path}/null-${col}-${kind}.parquet`;
        await c.run(
          `COPY (SELECT * REPLACE (CASE WHEN "directory-depth"::INTEGER = 0 THEN NULL ` +
            `ELSE "${col}" END AS "${col}") FROM ${view}) TO '${f}' (FORMAT parquet)`,
        );
        const [[n]] = (await c.runAndReadAll(
          `SELECT count(*) FILTER ("${col}" IS NULL) FROM '${f}'`,
        )).getRowsJS();
        assertEquals(n, 1n, f);
        made.push([col, f]);
      }
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
  const before = [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();
  const want = (col: string, f: string) =>
    `${f}: Invalid Input Error: column ${col} holds NULL (no value), not a number as pwalk ` +
    "writes it in every row";
  await t.step("Parquet: each of the 15 number columns, by the library", async () => {
    for (const [col, f] of made) {
      const out = `${tmp.path}/out.csv`;
      for (
        const run of [
          () => summarize([f], { names: false }),
          () => diff([good], [f]),
          () => diff([f], [good]),
          () => convert([f], out),
          () => convert([f], `${tmp.path}/out.parquet`),
        ]
      ) {
        const err = await assertRejects(run);
        assertEquals((err as Error).message.split("\n")[0], want(col, f));
      }
      assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), before);
    }
  });
  await t.step("Parquet: the file that holds the NULL is named, among several", async () => {
    // u.parquet of the same column types: one read_parquet reads both
    const u = `${tmp.path}/u.parquet`;
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    await c.run(
      `COPY (SELECT * FROM read_csv('${other}', header = false, ${names}, ` +
        `types = {'st_mode': 'VARCHAR'})) TO '${u}' (FORMAT parquet)`,
    );
    c.closeSync();
    db.closeSync();
    const [col, f] = made.find(([c]) => c === "st_size")!;
    const err = await assertRejects(() => summarize([u, f], { names: false }));
    assertEquals((err as Error).message.split("\n")[0], want(col, f));
    await Deno.remove(u);
  });
  await t.step("the CLI: status 1, one line, nothing written", async () => {
    const [col, f] = made.find(([c]) => c === "st_blocks")!;
    const runs = [
      ["summary", f],
      ["summary", "--html", `${tmp.path}/o.html`, f],
      ["diff", good, f],
      ["convert", f, `${tmp.path}/o.csv`],
      ["convert", f, `${tmp.path}/o.csv.zst`],
    ];
    const ran = await pooled(runs, (args) => cli(args));
    for (const [i, args] of runs.entries()) {
      const r = ran[i];
      assertEquals([r.code, r.stderr], [1, `pwalk: ${want(col, f)}\n`], args.join(" "));
    }
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), before);
  });
  await t.step("CSV: an empty number field is no 0 either", async () => {
    const rows = scan("/t", 1);
    for (const col of ["st_blocks", "st_size", "UID", "st_mode"]) {
      const i = COLUMNS.indexOf(col as typeof COLUMNS[number]);
      const fields = rows[1].split(",");
      fields[i] = "";
      const f = `${tmp.path}/empty-${col}.csv`;
      await Deno.writeTextFile(f, [rows[0], fields.join(",")].join("\n") + "\n");
      const runs = [["summary", f], ["diff", good, f], ["convert", f, `${tmp.path}/o.csv`]];
      const ran = await pooled(runs, (args) => cli(args));
      for (const [i, args] of runs.entries()) {
        const r = ran[i];
        assertEquals(
          [r.code, r.stderr],
          [
            1,
            `pwalk: ${f}: Conversion Error: CSV Error on Line: 2: column ${col} is not a number ` +
            "as pwalk's CSV writes it\n",
          ],
          args.join(" "),
        );
      }
      await Deno.remove(f);
    }
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), before);
  });
  await t.step(
    "convert's CSV row: 17 fields always, a NULL number stops it, naming the column",
    async () => {
      const db = await DuckDBInstance.create(":memory:");
      const c = await db.connect();
      try {
        // a typed row (convert's table): every number 7, st_mode 0100644
        const value = (n: string) =>
          n === "filename" || n === "fileExtension" ? "'x'" : n === "st_mode" ? "33188" : "7";
        await c.run(
          `CREATE TABLE r AS SELECT ${
            TYPED_COLUMNS.map(([n, ty]) => `${value(n)}::${ty} AS "${n}"`).join(", ")
          }`,
        );
        const [[line]] = (await c.runAndReadAll(`SELECT ${LINE_SQL} FROM r`)).getRowsJS();
        assertEquals(line, `7,7,7,"x","x",7,7,7,7,7,7,"0100644",7,7,7,7,7`);
        assertEquals(parsePwalk(new TextEncoder().encode(`${line}\n`)).rows.length, 1);
        for (const col of numbers) {
          await assertRejects(
            () => c.run(`SELECT ${LINE_SQL} FROM (SELECT * REPLACE (NULL AS "${col}") FROM r)`),
            Error,
            `column ${col} holds NULL`,
          );
        }
      } finally {
        c.closeSync();
        db.closeSync();
      }
    },
  );
});

Deno.test("summary and diff text: control characters, bidi overrides and invisible format characters in names shown escaped", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/plain.txt`, "x");
  const old = `${tmp.path}/old.csv`;
  assertEquals((await cli(["-o", old, root])).code, 0);
  // a folder whose name holds CSI (U+009B: ESC [ to terminals obeying C1)
  // and DEL, with a large file, and a file named with a right-to-left override
  const evil = "evil\u009b31mRED\u007f";
  await Deno.mkdir(`${root}/${evil}`);
  await Deno.writeFile(`${root}/${evil}/big.dat`, new Uint8Array(200_000).fill(1));
  await Deno.writeFile(`${root}/${evil}/a\u202etxt.exe`, new Uint8Array(100_000).fill(1));
  // and one with the right-to-left and Arabic letter marks
  await Deno.writeFile(`${root}/m\u200f\u061cz`, new Uint8Array(150_000).fill(1));
  // and invisible ones: the line separator, zero-width space, BOM, word
  // joiner, a tag character (format characters, Unicode's Cf)
  await Deno.writeFile(
    `${root}/z\u2028\u200b\ufeff\u2060\u{e0041}z`,
    new Uint8Array(120_000).fill(1),
  );
  // and one whose name holds a real backslash before "u202e": not to read
  // as the escape of the real control
  await Deno.writeFile(`${root}/lit\\u202eb`, new Uint8Array(110_000).fill(1));
  const scan = `${tmp.path}/new.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  // the scan keeps the names as they are (pwalk drops only bytes below 0x20)
  assertStringIncludes(await Deno.readTextFile(scan), `${root}/${evil}/a\u202etxt.exe`);
  const shown = "evil\\xc2\\x9b31mRED\\x7f";
  // deno-lint-ignore no-control-regex
  const raw = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/u;
  const runs = ([
    [["summary", scan], [
      `${root}/${shown}/big.dat`,
      `${root}/${shown}/a\\u202etxt.exe`,
      `${root}/m\\u200f\\u061cz`,
      `${root}/z\\u2028\\u200b\\ufeff\\u2060\\u{e0041}z`,
      `${root}/lit\\\\u202eb`,
    ]],
    [["diff", old, scan], [
      `${root}/${shown}`,
      `${root}/z\\u2028\\u200b\\ufeff\\u2060\\u{e0041}z`,
    ]],
  ] as const).flatMap(([args, want]) =>
    ([{}, { COLUMNS: "300" }] as Record<string, string>[]).map((env) => ({ args, want, env }))
  );
  const ran = await pooled(runs, ({ args, env }) => cli([...args], { env }));
  for (const [i, { args, want }] of runs.entries()) {
    const r = ran[i];
    assertEquals(r.code, 0, r.stderr);
    assert(!raw.test(r.text), `${args[0]}: a control character reached the terminal`);
    for (const w of want) assertStringIncludes(r.text, w);
  }
});

Deno.test("summary, diff, convert: bad usage is status 2, failures 1, one line, nothing left", async (t) => {
  await using tmp = await tempDir();
  const good = `${tmp.path}/good.csv`;
  await Deno.writeTextFile(
    good,
    '1,0,-1,"/t","",0,0,4096,1,8,2,"0040755",1,2,3,1,10\n2,1,0,"/t/a.txt","txt",0,0,10,1,8,1,"0100644",1,2,3,-1,0\n',
  );
  // a Parquet file of other columns, and scans in Parquet of columns that
  // are no number as pwalk's CSV writes it (DuckDB writes them)
  const other = `${tmp.path}/other.parquet`;
  const pq = (what: string) => `${tmp.path}/pq/${what}.parquet`;
  await Deno.mkdir(`${tmp.path}/pq`);
  {
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    await c.run(`COPY (SELECT 1 AS a, 2 AS b) TO '${other}' (FORMAT parquet)`);
    await c.run(
      `CREATE VIEW v AS SELECT * FROM read_csv('${good}', header = false, names = [${
        COLUMNS.map((n) => `'${n}'`).join(", ")
      }], types = {'st_mode': 'VARCHAR'})`,
    );
    for (
      const [what, replace] of [
        ["decimal-mode", `'33188' AS "st_mode"`], // 0100644 in decimal: no file type in octal
        ["timestamp", `to_timestamp("st_mtime") AS "st_mtime"`],
        ["fraction", `"st_size" || '.5' AS "st_size"`], // DuckDB's cast would round it
        ["hex", `printf('0x%x', "st_size") AS "st_size"`], // and read it as hex
      ]
    ) {
      await c.run(`COPY (SELECT * REPLACE (${replace}) FROM v) TO '${pq(what)}' (FORMAT parquet)`);
    }
    c.closeSync();
    db.closeSync();
  }
  const many = "9".repeat(400);
  const cases: [string, string[], number, string][] = [
    ["no scan", ["summary"], 2, "missing SCAN"],
    [
      "a Parquet file that is not a scan",
      ["summary", other],
      2,
      `${other}: not a pwalk scan in Parquet (no column "inode"; convert writes one)`,
    ],
    ["missing file", ["summary", `${tmp.path}/nope.csv`], 2, "No such file"],
    ["empty glob", ["summary", `${tmp.path}/x-*.csv.zst`], 2, "no file matches"],
    ["bad --top", ["summary", "--top", "0", good], 2, "--top"],
    ["unknown option", ["summary", "--bogus", good], 2, "unknown option"],
    ["a switch given a value", ["summary", "--names=x", good], 2, "--names takes no value"],
    ["diff needs two", ["diff", good], 2, "OLD and NEW"],
    [
      "a --temp-dir that is not there",
      ["summary", "--temp-dir", `${tmp.path}/none`, good],
      2,
      `--temp-dir ${tmp.path}/none: cannot make DuckDB's spill folder: No such file or directory`,
    ],
    ["convert: bad output name", ["convert", good, `${tmp.path}/out.txt`], 2, ".parquet"],
    [
      "--memory-limit of 8 EiB or more (DuckDB: 'Failed to set config', status 1)",
      ["summary", "--memory-limit", "999999999999GB", good],
      2,
      "pwalk: --memory-limit needs a size such as 4GB (1 byte or more, below 8 EiB), got '999999999999GB'",
    ],
    [
      "--now of more digits than a number holds",
      ["summary", "--now", many, good],
      2,
      `pwalk: --now needs seconds since 1970 or a date (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]), ` +
      `got '${many}'`,
    ],
    [
      "--now rounded",
      ["summary", "--now", "99999999999999999999", good],
      2,
      "pwalk: --now needs seconds since 1970 or a date (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]), " +
      "got '99999999999999999999'",
    ],
    // what JavaScript's Date.parse reads as some date: 1.5 as 2001-01-05,
    // " 5" as 2001-05-01, 2026-02-30 as 2026-03-02
    ...[
      "1.5",
      " 5",
      "+5",
      "12/31",
      "project 7",
      "2026-02-30",
      "2023-02-29",
      "2026-13-01",
      "2026-1-31",
      "2026-01-31 10:00",
      "2026-01-31T24:00",
      "2026-01-31T10:60",
      "2026-01-31T10:00:60",
      "2026-01-31T10",
      "2026-01-31T10:00+24:00",
      "Jan 31 2026",
    ].map((v): [string, string[], number, string] => [
      `--now '${v}': neither seconds nor a real ISO 8601 date`,
      ["summary", "--now", v, good],
      2,
      `pwalk: --now needs seconds since 1970 or a date (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]), ` +
      `got '${v}'`,
    ]),
    [
      "Parquet: a column of another type than a number or text",
      ["summary", pq("timestamp")],
      2,
      `${pq("timestamp")}: column "st_mtime" is TIMESTAMP WITH TIME ZONE, not an integer or ` +
      "pwalk's text of one: not a pwalk scan in Parquet (convert writes one)",
    ],
    [
      "Parquet: st_mode as text that is not pwalk's octal",
      ["summary", pq("decimal-mode")],
      1,
      `${pq("decimal-mode")}: Invalid Input Error: column st_mode holds '33188' (text), ` +
      "not a mode in 7 octal digits as pwalk's CSV writes it",
    ],
    [
      "Parquet: a size as text that is not decimal digits",
      ["diff", pq("fraction"), good],
      1,
      ".5' (text), not a number in decimal digits as pwalk's CSV writes it",
    ],
    [
      "Parquet: a size as hex text",
      ["convert", pq("hex"), `${tmp.path}/hex.csv`],
      1,
      `${pq("hex")}: Invalid Input Error: column st_size holds '0x`,
    ],
  ];
  // (each case reads good.csv or another input and writes nothing: run
  // two at a time, then checked one by one)
  const ran = await pooled(cases, ([, args]) => cli(args));
  for (const [i, [what, , code, text]] of cases.entries()) {
    await t.step(what, () => {
      const r = ran[i];
      assertEquals(r.code, code, r.stderr);
      assertStringIncludes(r.stderr, text);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  }
  await t.step(
    "--html - (stdout, which takes the text): refused, no file named - made",
    async () => {
      for (const args of [["summary", "--html", "-", good], ["diff", "--html=-", good, good]]) {
        const r = await cli(args, { cwd: tmp.path });
        assertEquals([r.code, r.text], [2, ""], r.stderr);
        assertEquals(
          r.stderr,
          "pwalk: --html - (stdout): give the page a file name (the text report goes to stdout)\n",
        );
        assertEquals([...Deno.readDirSync(tmp.path)].filter((e) => e.name === "-"), [], "a file -");
      }
    },
  );
  await t.step(
    "--now: a local time a clock change skips is refused, its neighbours read (review)",
    async () => {
      // Date.parse moves a skipped local time on (02:30 to 03:30 EDT)
      const skips = [
        ["America/New_York", "2026-03-08T02:30"],
        ["Europe/London", "2026-03-29T01:30:15"],
        ["Pacific/Apia", "2011-12-30T12:00"], // a day Samoa skipped
      ];
      // after the gap, and a time the clock passes twice (its first): as ISO
      // 8601 with the zone's offset then
      const reads = [
        ["2026-03-08T03:30", "2026-03-08T03:30-04:00"],
        ["2026-11-01T01:30", "2026-11-01T01:30-04:00"],
        ["2026-03-08T01:59:59", "2026-03-08T01:59:59-05:00"],
      ];
      const ran = await pooled([
        ...skips.map(([tz, skipped]) => () =>
          cli(["summary", "--now", skipped, good], { env: { TZ: tz } })
        ),
        ...reads.map(([local]) => () =>
          cli(["summary", "--json", "--now", local, good], { env: { TZ: "America/New_York" } })
        ),
      ], (run) => run());
      for (const [i, [tz, skipped]] of skips.entries()) {
        const r = ran[i];
        assertEquals([r.code, r.stderr.trim()], [
          2,
          `pwalk: --now '${skipped}': no such local time in ${tz} (skipped by a clock change ` +
          "there); give its zone: Z or +HH:MM/-HH:MM",
        ]);
      }
      for (const [i, [local, zoned]] of reads.entries()) {
        const r = ran[skips.length + i];
        assertEquals(r.code, 0, r.stderr);
        assertEquals(JSON.parse(r.text).now, Date.parse(zoned) / 1000, local);
      }
    },
  );
  await t.step(
    "a file that is not a pwalk scan: status 1, no output, no partial file",
    async () => {
      const junk = `${tmp.path}/junk.csv`;
      await Deno.writeTextFile(junk, "this is,not\na scan\n");
      const r = await cli(["convert", junk, `${tmp.path}/out.parquet`]);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      const left = [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();
      assertEquals(left, ["good.csv", "junk.csv", "other.parquet", "pq"]);
      const s = await cli(["summary", junk]);
      assertEquals(s.code, 1, s.stderr);
    },
  );
  await t.step(
    "a text file given as a scan: summary, diff and convert say the same, why",
    async () => {
      // DuckDB meets "Conversion Error" on line 1 filling summary's and
      // diff's table ("hello world" is no inode), its 1 column of 17 in
      // convert's view; and the same with a byte that is not UTF-8 (read
      // again through the escaping filter)
      for (const [name, text] of [["hello", "hello world\nfoo,bar\n"], ["latin", "h\xe9\nfoo\n"]]) {
        const f = `${tmp.path}/${name}.csv`;
        await Deno.writeFile(f, Uint8Array.from(text, (ch) => ch.charCodeAt(0)));
        const want = `pwalk: ${f}: Invalid Input Error: CSV Error on Line: 1 has 1 of the 17 ` +
          "columns (a file cut short, or not pwalk's CSV?)";
        const runs = [
          ["summary", f],
          ["diff", f, good],
          ["diff", good, f],
          ["summary", "--html", `${tmp.path}/o.html`, f],
          ["convert", f, `${tmp.path}/o.parquet`],
        ];
        const ran = await pooled(runs, (args) => cli(args));
        for (const [i, args] of runs.entries()) {
          const r = ran[i];
          assertEquals([r.code, r.stderr.trim()], [1, want], args.join(" "));
        }
        await Deno.remove(f);
      }
      assert(!existsSync(`${tmp.path}/o.html`) && !existsSync(`${tmp.path}/o.parquet`));
      // such a line after 100,000 rows, 300,000 more after it (25 MB:
      // DuckDB reads its parts in parallel, in any order)
      const long = `${tmp.path}/long.csv`;
      const rows = [await Deno.readTextFile(good)];
      const row = (i: number) =>
        `${i},1,0,"/t/f${i}.dat","dat",0,0,${i},1,8,1,"0100644",1,2,3,-1,0\n`;
      for (let i = 3; i <= 100_000; i++) rows.push(row(i));
      rows.push("hello world\n");
      for (let i = 100_001; i <= 400_000; i++) rows.push(row(i));
      await Deno.writeTextFile(long, rows.join(""));
      const runs = [["summary", long], ["convert", long, `${tmp.path}/o.parquet`]];
      const ran = await pooled(runs, (args) => cli(args));
      for (const [i, args] of runs.entries()) {
        const r = ran[i];
        assertEquals([r.code, r.stderr.trim()], [
          1,
          `pwalk: ${long}: Invalid Input Error: CSV Error on Line: 100001 has 1 of the 17 ` +
          "columns (a file cut short, or not pwalk's CSV?)",
        ], args.join(" "));
      }
      await Deno.remove(long);
    },
  );
  await t.step("a truncated compressed scan: status 1, one line naming the file", async () => {
    let text = await Deno.readTextFile(good);
    for (let i = 3; i < 3000; i++) {
      text += `${i},1,0,"/t/f${i * 7919}.dat","dat",0,0,${i},1,8,1,"0100644",1,2,3,-1,0\n`;
    }
    const gz = await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
    ).bytes();
    const cut = `${tmp.path}/cut.csv.gz`;
    await Deno.writeFile(cut, gz.subarray(0, gz.length >> 1)); // in the middle of its data
    const ran = await pooled([["summary", good, cut], ["diff", good, cut]], (args) => cli(args));
    for (const r of ran) {
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, cut);
    }
    await Deno.remove(cut);
  });
  await t.step(
    "a .csv.gz padded with zero bytes (a tape or dd copy): status 1, saying so",
    async () => {
      const gz = await new Response(
        new Blob([await Deno.readFile(good)]).stream().pipeThrough(new CompressionStream("gzip")),
      ).bytes();
      const padded = `${tmp.path}/padded.csv.gz`;
      await Deno.writeFile(padded, concat(gz, new Uint8Array(512)));
      // the premise: gzip reads it whole, ignoring the padding
      const t = await new Deno.Command("gzip", { args: ["-t", padded], stderr: "null" }).output();
      assertEquals(t.code, 0, "gzip -t accepts the padded file");
      const out = `${tmp.path}/p.parquet`;
      const ran = await pooled(
        [["summary", good, padded], ["diff", good, padded], ["convert", padded, out]],
        (args) => cli(args),
      );
      for (const r of ran) {
        assertEquals(r.code, 1, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertStringIncludes(r.stderr, `${padded}: `);
        assertStringIncludes(r.stderr, "bytes follow its gzip data (zero padding");
      }
      assert(!existsSync(out), "nothing written");
      await Deno.remove(padded);
    },
  );
  await t.step(
    "a .csv.gz whose header has a comment, a header CRC or the text mark (valid gzip DuckDB refuses): status 1, saying so and the way out (review)",
    async () => {
      const data = await Deno.readFile(good);
      const gz = await new Response(
        new Blob([data]).stream().pipeThrough(new CompressionStream("gzip")),
      ).bytes();
      const head = gz.slice(0, 10), rest = gz.subarray(10);
      const flagged = (flag: number, extra: Uint8Array) => {
        const h = head.slice();
        h[3] |= flag;
        return concat(h, extra, rest);
      };
      // FHCRC: the low 16 bits of the CRC-32 of the header before it
      const { crc32 } = await import("node:zlib");
      const hcrcHead = head.slice();
      hcrcHead[3] |= 0x02;
      const crc = crc32(hcrcHead) & 0xffff;
      const out = `${tmp.path}/g.parquet`;
      for (
        const [what, bytes] of [
          ["FCOMMENT", flagged(0x10, new TextEncoder().encode("made by pigz -C\0"))],
          ["FHCRC", concat(hcrcHead, new Uint8Array([crc & 0xff, crc >> 8]), rest)],
          ["FTEXT", flagged(0x01, new Uint8Array())],
        ] as const
      ) {
        const f = `${tmp.path}/${what}.csv.gz`;
        await Deno.writeFile(f, bytes);
        // the premise: gzip reads it, the same rows
        const t = await new Deno.Command("gzip", { args: ["-dc", f], stdout: "piped" }).output();
        assertEquals([t.code, t.stdout], [0, data], `${what}: gzip -dc reads it`);
        const ran = await pooled(
          [["summary", f], ["diff", good, f], ["convert", f, out]],
          (args) => cli(args),
        );
        for (const r of ran) {
          assertEquals(r.code, 1, `${what}: ${r.stderr}`);
          assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
          assertStringIncludes(r.stderr, `${f}: `);
          assertStringIncludes(r.stderr, "gzip -dc FILE | gzip > COPY.csv.gz writes a copy");
        }
        assert(!existsSync(out), "nothing written");
        await Deno.remove(f);
      }
    },
  );
  await t.step(
    "a scan cut where whole rows end: .csv.gz without its end, .csv mid-number",
    async () => {
      let rows = "";
      for (let i = 3; i < 3000; i++) {
        rows += `${i},1,0,"/t/f${i * 7919}.dat","dat",0,0,${i},1,8,1,"0100644",1,2,3,-1,0\n`;
      }
      const full = (await Deno.readTextFile(good)) + rows;
      // gzip flushed after every row so far, then cut: the rows before the cut
      // decompress whole, the member's end (its CRC and length) is missing
      const { createGzip, constants } = await import("node:zlib");
      const parts: Uint8Array[] = [];
      const z = createGzip();
      z.on("data", (c: Uint8Array) => parts.push(c));
      await new Promise<void>((r) =>
        z.write(full, () => z.flush(constants.Z_FULL_FLUSH, () => r()))
      );
      const gzCut = `${tmp.path}/flushed.csv.gz`;
      await Deno.writeFile(gzCut, concat(...parts));
      z.destroy();
      // a plain scan whose last row lost the end of its last number
      const csvCut = `${tmp.path}/cut2.csv`;
      await Deno.writeTextFile(
        csvCut,
        full + '77,1,0,"/t/x.dat","dat",0,0,5,1,8,1,"0100644",1,2,3,-1,40',
      );
      for (const cut of [gzCut, csvCut]) {
        const ran = await pooled(
          [["summary", cut], ["convert", cut, `${tmp.path}/c.parquet`]],
          (args) => cli(args),
        );
        for (const r of ran) {
          assertEquals(r.code, 1, r.stderr);
          assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
          assertStringIncludes(r.stderr, `${cut}: truncated`);
        }
        await Deno.remove(cut);
      }
      assert(!existsSync(`${tmp.path}/c.parquet`));
    },
  );
  await t.step("a plain scan cut mid-row: status 1, the reason on its one line", async () => {
    const text = await Deno.readTextFile(good);
    const cut = `${tmp.path}/cut.csv`;
    await Deno.writeTextFile(cut, text + '12345,1,0,"/t/half-a-row"\n');
    const r = await cli(["summary", cut]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertStringIncludes(
      r.stderr,
      "has 4 of the 17 columns (a file cut short, or not pwalk's CSV?)",
    );
    await Deno.remove(cut);
  });
  await t.step("convert, then summary of its output", async () => {
    const r = await cli(["convert", good, `${tmp.path}/g.parquet`]);
    assertEquals(r.code, 0, r.stderr);
    const s = await summarize([`${tmp.path}/g.parquet`]);
    assertEquals([s.totals.entries, s.totals.apparentBytes], [2, 4106]);
  });
  await t.step(
    "CSV and Parquet in one scan: bad usage; CSV of any compression, and diff across",
    async () => {
      // (README: a scan's files are all CSV, any mix of .csv, .csv.zst, .csv.gz, or all Parquet)
      const gz = `${tmp.path}/u.csv.gz`;
      // (another tree than good.csv's: its folders have their own inodes)
      const u = '11,0,-1,"/u","",0,0,50,1,8,2,"0040755",1,2,3,1,10\n' +
        '12,11,0,"/u/b","",0,0,7,1,8,1,"0100644",1,2,3,-1,0\n';
      await Deno.writeFile(
        gz,
        new Uint8Array(
          await new Response(
            new Blob([u]).stream().pipeThrough(new CompressionStream("gzip")),
          ).arrayBuffer(),
        ),
      );
      const mixed = await summarize([good, gz], { names: false });
      assertEquals([mixed.totals.entries, mixed.totals.apparentBytes], [4, 4106 + 57]);
      const pq = `${tmp.path}/g.parquet`;
      const ran = await pooled(
        [["summary", good, pq], ["convert", gz, pq, `${tmp.path}/m.csv`]],
        (args) => cli(args),
      );
      for (const r of ran) {
        assertEquals(r.code, 2, r.stderr);
        assertEquals(
          r.stderr.trim(),
          "pwalk: one scan is either all Parquet or all CSV files, not both",
        );
      }
      assert(!existsSync(`${tmp.path}/m.csv`));
      const d = await cli(["diff", good, pq]);
      assertEquals(d.code, 0, d.stderr);
    },
  );
});

testNeeding([PYTHON3], {
  name: "summary --now: seconds, and ISO 8601 dates and times as python's datetime reads them",
  async fn() {
    await using tmp = await tempDir();
    const scan = `${tmp.path}/s.csv`;
    await Deno.writeTextFile(
      scan,
      '1,0,-1,"/t","",0,0,4096,1,8,2,"0040755",1,2,3,1,10\n' +
        '2,1,0,"/t/a.txt","txt",0,0,10,1,8,1,"0100644",1,2,3,-1,0\n',
    );
    // (Asia/Tokyo: UTC+9, no daylight saving time; the test's own zone may be UTC)
    const tz = "Asia/Tokyo";
    const cases = [
      ["1800000000", "1800000000"],
      ["-5", "-5"],
      ["0", "0"],
      ["9007199254740991", "9007199254740991"],
      // a date alone: midnight UTC
      ["2026-01-31", "datetime(2026, 1, 31, tzinfo=timezone.utc)"],
      ["2024-02-29", "datetime(2024, 2, 29, tzinfo=timezone.utc)"],
      ["2000-02-29", "datetime(2000, 2, 29, tzinfo=timezone.utc)"],
      // a date and time without a zone: local time
      ["2026-01-31T10:00", `datetime(2026, 1, 31, 10, 0, tzinfo=ZoneInfo("${tz}"))`],
      ["2026-07-01T23:59:59", `datetime(2026, 7, 1, 23, 59, 59, tzinfo=ZoneInfo("${tz}"))`],
      // with a zone: that zone's time (fractions of a second dropped)
      ["2026-01-31T10:00:05.5Z", "datetime(2026, 1, 31, 10, 0, 5, tzinfo=timezone.utc)"],
      [
        "2026-01-31T10:00+05:30",
        "datetime(2026, 1, 31, 10, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))",
      ],
      [
        "2026-01-31T10:00:07-08:00",
        "datetime(2026, 1, 31, 10, 0, 7, tzinfo=timezone(timedelta(hours=-8)))",
      ],
    ];
    // (python's reference and the CLI's answer of each value, two values at a time)
    const ran = await pooled(cases, async ([v, ref]) => {
      const want = ref.startsWith("datetime")
        ? Number(
          await python(
            "from datetime import datetime, timezone, timedelta\n" +
              "from zoneinfo import ZoneInfo\n" +
              `print(int((${ref}).timestamp()))`,
          ),
        )
        : Number(ref);
      const r = await cli(["summary", "--json", "--now", v, scan], { env: { TZ: tz } });
      return { want, r };
    });
    for (const [i, [v]] of cases.entries()) {
      const { want, r } = ran[i];
      assertEquals(r.code, 0, `${v}: ${r.stderr}`);
      assertEquals(JSON.parse(r.text).now, want, v);
    }
  },
});

Deno.test("outputs that would replace an input or a shard of the scan are refused, untouched", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  for (let i = 0; i < 30; i++) await Deno.writeTextFile(`${root}/sub/f${i}.txt`, "x".repeat(i));
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const copy = `${tmp.path}/copy.csv`;
  await Deno.copyFile(scan, copy);
  const before = await Deno.readFile(scan);
  // (what refused() checks of a run that has ended)
  const wasRefused = async (r: Ran, text: string, file = scan) => {
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertStringIncludes(r.stderr, text);
    assertEquals(await Deno.readFile(file), before, `${file} untouched`);
    assertEquals(r.text, "", "no answer printed");
  };
  const refused = async (args: string[], text: string, file = scan) =>
    await wasRefused(await cli(args), text, file);
  // runs that share no output, two at a time
  const clis = (runs: string[][]) => pooled(runs, (args) => cli(args));
  await t.step("summary of one file given twice (it would count every row twice)", async () => {
    await Deno.symlink(scan, `${tmp.path}/link.csv`);
    const [twice, linked] = await clis([
      ["summary", scan, scan],
      ["summary", scan, `${tmp.path}/link.csv`],
    ]);
    await wasRefused(twice, "given twice");
    await wasRefused(linked, "are the same file");
  });
  await t.step("two scans of one tree (a copy, yesterday's): the root twice", async () => {
    // convert would write every row twice, in a file summary then refuses
    const out = `${tmp.path}/both.parquet`;
    // the two joined into one file
    const joined = `${tmp.path}/joined.csv`;
    await Deno.writeFile(joined, concat(before, before));
    const [sum, r, conv, ...ofJoined] = await clis([
      ["summary", scan, copy],
      ["diff", copy, scan], // two sides: one scan each
      ["convert", scan, copy, out],
      ["summary", joined],
      ["convert", joined, out],
    ]);
    await wasRefused(sum, `the root ${root} is in more than one of the 2 files`);
    assertEquals(r.code, 0, r.stderr);
    await wasRefused(conv, `the root ${root} is in more than one of the 2 files`);
    assert(!existsSync(out), "nothing written");
    for (const j of ofJoined) {
      await wasRefused(j, `the root ${root} has two rows in ${joined}: two scans of one tree`);
    }
    assert(!existsSync(out), "nothing written");
    await Deno.remove(joined);
  });
  await t.step(
    "one tree scanned by two names (relative and absolute, through a link): refused",
    async () => {
      const rel = `${tmp.path}/rel.csv`;
      await Deno.symlink(root, `${tmp.path}/alias`);
      const viaLink = `${tmp.path}/via-link.csv`;
      const [r, v] = await Promise.all([
        cli(["-o", rel, "tree"], { cwd: tmp.path }),
        cli(["-o", viaLink, `${tmp.path}/alias`]),
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(v.code, 0);
      // the premise, by python: one folder by all three names
      const same = await python(
        "import os, sys; print(len({(s.st_dev, s.st_ino) for s in map(os.stat, sys.argv[1:])}))",
        root,
        `${tmp.path}/tree`,
        `${tmp.path}/alias`,
      );
      assertEquals(same.trim(), "1");
      const ran = await clis(
        [rel, viaLink].flatMap((other) => [
          ["summary", scan, other],
          ["convert", other, scan, `${tmp.path}/b.csv`],
        ]),
      );
      for (const r of ran) {
        await wasRefused(
          r,
          "are one folder (the same st_dev, inode, mtime, ctime, links, owner and mode)",
        );
        assert(!existsSync(`${tmp.path}/b.csv`), "nothing written");
      }
      await Deno.remove(rel);
      await Deno.remove(viaLink);
      await Deno.remove(`${tmp.path}/alias`);
    },
  );
  await t.step(
    "two trees scanned by one relative name ('tree' in two folders): refused as such",
    async () => {
      const elsewhere = `${tmp.path}/elsewhere`;
      await Deno.mkdir(`${elsewhere}/tree/x`, { recursive: true });
      const other = `${tmp.path}/other-tree.csv`;
      const rel = `${tmp.path}/rel.csv`;
      const [r, r2] = await Promise.all([
        cli(["-o", other, "tree"], { cwd: elsewhere }),
        cli(["-o", rel, "tree"], { cwd: tmp.path }),
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r2.code, 0);
      await refused(
        ["summary", rel, other],
        "the root tree names 2 folders (another st_dev or inode) among the 2 files",
      );
      await Deno.remove(rel);
      await Deno.remove(other);
    },
  );
  await t.step(
    "an old C pwalk's scan of 'R/' beside this pwalk's of 'R': the root twice",
    async () => {
      const text = new TextDecoder().decode(before);
      // the C pwalk joins names to ROOT as typed: "R/" and "R//a"
      const cScan = `${tmp.path}/c-pwalk.csv`;
      await Deno.writeTextFile(cScan, text.replaceAll(`"${root}`, `"${root}/`));
      await refused(
        ["summary", cScan, scan],
        `the root ${root} is in more than one of the 2 files`,
      );
      await Deno.remove(cScan);
    },
  );
  await t.step("a scan with no row (empty .csv, .csv.zst): status 1, one line", async () => {
    for (const name of ["empty.csv", "empty.csv.zst"]) {
      const empty = `${tmp.path}/${name}`;
      await Deno.writeFile(empty, new Uint8Array());
      const runs = [["summary", empty], ["diff", empty, scan], [
        "convert",
        empty,
        `${tmp.path}/e.parquet`,
      ]];
      const ran = await clis(runs);
      for (const [i, args] of runs.entries()) {
        const r = ran[i];
        assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertStringIncludes(r.stderr, empty);
        assertEquals(r.text, "", "no answer printed");
      }
      await Deno.remove(empty);
    }
    assert(!existsSync(`${tmp.path}/e.parquet`), "nothing written");
  });
  await t.step("a scan whose lines end in CR LF: refused (DuckDB read 0 rows of it)", async () => {
    const crlf = `${tmp.path}/crlf.csv`;
    const text = new TextDecoder().decode(before);
    await Deno.writeTextFile(crlf, text.replaceAll("\n", "\r\n"));
    const r = await cli(["summary", crlf]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(
      r.stderr.trim(),
      `pwalk: ${crlf}: its lines end in CR LF, pwalk's in LF: convert it back first (dos2unix)`,
    );
  });
  await t.step("--html that is an input, of summary and of diff", async () => {
    const ran = await clis([["summary", "--html", scan, scan], [
      "diff",
      "--html",
      scan,
      copy,
      scan,
    ]]);
    for (const r of ran) await wasRefused(r, "is also an input");
  });
  await t.step("--html named as a scan (another scan typed for the page): refused", async () => {
    const other = `${tmp.path}/other.csv.zst`;
    await Deno.copyFile(scan, other);
    const ran = await clis(
      [other, `${tmp.path}/new.csv`, `${tmp.path}/n.CSV.GZ`, `${tmp.path}/n.parquet`].flatMap((
        name,
      ) => [["summary", "--html", name, scan], ["diff", "--html", name, copy, scan]]),
    );
    for (const r of ran) await wasRefused(r, "a scan's name");
    assertEquals(await Deno.readFile(other), before, "the scan untouched");
    for (const name of ["new.csv", "n.CSV.GZ", "n.parquet"]) {
      assert(!existsSync(`${tmp.path}/${name}`), `${name}: nothing written`);
    }
    await Deno.remove(other);
  });
  await t.step("--html that is a file of a folder or a quoted glob given as the scan", async () => {
    const dir = `${tmp.path}/two`;
    await Deno.mkdir(dir);
    await Deno.copyFile(scan, `${dir}/a.csv`);
    await Deno.copyFile(scan, `${dir}/b.csv`);
    const [folder, glob, diffed] = await clis([
      ["summary", "--html", `${dir}/b.csv`, dir],
      ["summary", "--html", `${dir}/b.csv`, `${dir}/*.csv`],
      ["diff", "--html", `${dir}/a.csv`, scan, dir],
    ]);
    await wasRefused(folder, "is also an input", `${dir}/b.csv`);
    await wasRefused(glob, "is also an input", `${dir}/b.csv`);
    await wasRefused(diffed, "is also an input", `${dir}/a.csv`);
  });
  await t.step(
    "a scan from a pipe: refused (its start would be lost to the header check)",
    async () => {
      const r = await deno(
        [
          "eval",
          `
        const p = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "cli.ts", "summary", "/dev/stdin"], stdin: "piped",
        }).spawn();
        const w = p.stdin.getWriter();
        await w.write(await Deno.readFile(${JSON.stringify(scan)}));
        await w.close();
        Deno.exit((await p.status).code);`,
        ],
      );
      assertEquals(r.code, 2, r.stderr);
      assertEquals(
        r.stderr.trim(),
        "pwalk: /dev/stdin: not a regular file (a pipe or device): write the scan to a file first",
      );
    },
  );
  await t.step("convert onto its input", async () => {
    await refused(["convert", scan, scan], "is also an input");
  });
  await t.step("convert with OUT forgotten, a sharded scan's glob: its last shard", async () => {
    const dir = `${tmp.path}/scans`;
    await Deno.mkdir(dir);
    const plan = await cli(["plan", root, "--shards", "3", "-o", `${dir}/plan.json`]);
    assertEquals(plan.code, 0, plan.stderr);
    // (a tree this small may make fewer shards than asked for)
    const n = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`)).shards as number;
    assert(n >= 2, `${n} shards`);
    await runShards(`${dir}/plan.json`, dir, n);
    const outs = Array.from({ length: n }, (_, i) => `${dir}/scan-${i}.csv.zst`);
    const last = outs[n - 1];
    const shard = await Deno.readFile(last);
    const r = await cli(["convert", ...outs]);
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, "is a shard's output of the scan");
    // bad usage is one line: no warning about the inputs before it
    assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assertEquals(await Deno.readFile(last), shard);
    const st = await cli(["status", dir]);
    assertEquals(st.code, 0, st.stdout + st.stderr);
    // nor is one written over by --html, the scan given as its folder
    const h = await cli(["summary", "--html", last, dir]);
    assertEquals(h.code, 2, h.stderr);
    assertEquals(await Deno.readFile(last), shard);
    const h2 = await cli(["summary", "--html", last, `${dir}/scan-0.csv.zst`]);
    assertEquals(h2.code, 2, h2.stderr);
    assertStringIncludes(h2.stderr, "is a shard's output of the scan");
    assertEquals(await Deno.readFile(last), shard);
    // nor the plan or a shard's record, which the folder is read through
    // (by name or through a link), by --html or --errors
    const record = `${dir}/scan-0.done.json`, planFile = `${dir}/plan.json`;
    await Deno.symlink(planFile, `${tmp.path}/p.html`);
    const own = [record, planFile].map((p) => [p, Deno.readFileSync(p)] as const);
    const guarded = [
      [["summary", "--html", planFile, dir], "the plan"],
      [["summary", "--html", `${tmp.path}/p.html`, dir], "the plan"],
      [["diff", "--html", record, dir, dir], "a shard's record"],
      [["--errors", record, "-o", `${tmp.path}/r.csv`, root], "a shard's record"],
    ] as const;
    const ran = await clis(guarded.map(([args]) => [...args]));
    for (const [i, [args, what]] of guarded.entries()) {
      const o = ran[i];
      assertEquals(o.code, 2, `${args.join(" ")}: ${o.stderr}`);
      assertStringIncludes(o.stderr, `${what} of the sharded scan in ${dir}`);
      for (const [p, bytes] of own) assertEquals(Deno.readFileSync(p), bytes, p);
    }
    assertEquals((await cli(["status", dir])).code, 0);
    // the shards' files by name or glob: read as given; a warning when they
    // are not the whole scan, none when they are
    const [all, some] = await clis([
      ["summary", `${dir}/scan-*.csv.zst`],
      ["summary", ...outs.slice(0, -1)],
    ]);
    assertEquals(all.code, 0, all.stderr);
    assertEquals(all.stderr, "");
    const verb = n - 1 === 1 ? "is" : "are"; // "1 of their outputs is read"
    assertEquals(some.code, 0, some.stderr);
    assertEquals(
      some.stderr.trim(),
      `pwalk: warning: ${dir} holds a scan of ${n} shards: ${
        n - 1
      } of their outputs ${verb} read ` +
        `as given; give the folder ${dir} to have the scan checked whole`,
    );
    await Deno.rename(last, `${tmp.path}/away.csv.zst`);
    const glob = await cli(["convert", `${dir}/scan-*.csv.zst`, `${tmp.path}/m.csv`]);
    assertEquals(glob.code, 0, glob.stderr);
    assertStringIncludes(
      glob.stderr,
      `holds a scan of ${n} shards (${n - 1} done): ${
        n - 1
      } of their outputs ${verb} read as given`,
    );
    await Deno.rename(`${tmp.path}/away.csv.zst`, last);
  });
  await t.step(
    "an OUT or --html that is a folder (or a link to one): bad usage, as -o",
    async () => {
      const folder = `${tmp.path}/dir.csv`;
      await Deno.mkdir(folder);
      await Deno.symlink(folder, `${tmp.path}/link.html`);
      const outs = [
        [["convert", scan, folder], folder],
        [["summary", "--html", folder, scan], folder],
        [["diff", "--html", `${tmp.path}/link.html`, scan, copy], `${tmp.path}/link.html`],
      ] as const;
      const ran = await clis(outs.map(([args]) => [...args]));
      for (const [i, [, out]] of outs.entries()) {
        await wasRefused(
          ran[i],
          `pwalk: ${out} is a folder: give the name of a file to write`,
        );
        assertEquals([...Deno.readDirSync(folder)], [], "nothing written in it");
      }
    },
  );
  await t.step("--html in a folder that does not exist: status 1, naming the file", async () => {
    const r = await cli(["summary", "--html", `${tmp.path}/nope/x.html`, scan]);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, `cannot write ${tmp.path}/nope/x.html: No such file`);
    assert(!r.stderr.includes(".partial"), r.stderr);
  });
});

Deno.test("a scan of a tree beside a scan of a folder in it: refused (entries twice); of a folder it left out: read", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["sub/deep", "other"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  for (const [i, d] of ["", "sub", "sub/deep", "other"].entries()) {
    for (let k = 0; k < 4; k++) {
      await Deno.writeTextFile(`${root}/${d}/f${k}`, "x".repeat(100 * i + k));
    }
  }
  // the reference: entries and st_size sums of the whole tree, by python
  const [entries, size] = JSON.parse(
    await python(
      "import os, sys, json; r = sys.argv[1]; p = [r] + [os.path.join(d, n) for d, ds, fs in " +
        "os.walk(r) for n in ds + fs]; print(json.dumps([len(p), sum(os.lstat(x).st_size " +
        "for x in p)]))",
      root,
    ),
  );
  const scan = async (name: string, ...args: string[]) => {
    const r = await cli(["-o", `${tmp.path}/${name}`, ...args]);
    assertEquals(r.code, 0, r.stderr);
    return `${tmp.path}/${name}`;
  };
  const whole = await scan("whole.csv", root);
  const part = await scan("part.csv", `${root}/sub`);
  const out = `${tmp.path}/both.csv`;
  // (what refused() checks of a run that has ended)
  const wasRefused = (r: Ran, inner: string, outer: string) => {
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertStringIncludes(r.stderr, `the root ${inner} is also a folder in the scan of ${outer}`);
    assertEquals(r.text, "", "no answer printed");
    assert(!existsSync(out), "nothing written");
  };
  const refused = async (args: string[], inner: string, outer: string) =>
    wasRefused(await cli(args), inner, outer);
  await t.step("summary and convert, in either order: status 2, naming both files", async () => {
    // (summary, convert and summary again of each order, two runs at a time)
    const orders = [[whole, part], [part, whole]];
    const ran = await pooled(
      orders.flatMap((files) => [["summary", ...files], ["convert", ...files, out], [
        "summary",
        ...files,
      ]]),
      (args) => cli(args),
    );
    for (const [i, files] of orders.entries()) {
      wasRefused(ran[3 * i], `${root}/sub`, root);
      wasRefused(ran[3 * i + 1], `${root}/sub`, root);
      const r = ran[3 * i + 2];
      for (const f of files) assertStringIncludes(r.stderr, f);
    }
  });
  await t.step(
    "a scan of a folder the other left out (--exclude): read, every entry once",
    async () => {
      const rest = await scan("rest.csv", "--exclude", `${root}/sub`, root);
      const s = await summarize([rest, part], { names: false });
      assertEquals([s.totals.entries, s.totals.apparentBytes], [entries, size]);
      assertEquals(s.roots, [root, `${root}/sub`]);
      assertEquals((await cli(["convert", rest, part, out])).code, 0);
      const back = await summarize([out], { names: false });
      assertEquals([back.totals.entries, back.totals.apparentBytes], [entries, size]);
      await Deno.remove(out);
    },
  );
  await t.step("a sharded scan's folder (one root row in all its shards) and a part", async () => {
    const dir = `${tmp.path}/shards`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 3, `${dir}/plan.json`);
    assert(plan.shards >= 2, `${plan.shards} shards`);
    await runShards(`${dir}/plan.json`, dir, plan.shards);
    const s = await summarize([dir], { names: false });
    assertEquals([s.totals.entries, s.totals.apparentBytes, s.roots], [entries, size, [root]]);
    await refused(["summary", dir, part], `${root}/sub`, root);
  });
  await t.step("the root / and a name that only starts like another root", async () => {
    const row = (ino: number, depth: number, path: string, dir: boolean) =>
      `${ino},1,${depth},"${path}","",0,0,10,1,8,1,"${dir ? "0040755" : "0100644"}",1,1,1,-1,0`;
    const csv = async (name: string, rows: string[]) => {
      await Deno.writeTextFile(`${tmp.path}/${name}`, rows.join("\n") + "\n");
      return `${tmp.path}/${name}`;
    };
    const slash = await csv("slash.csv", [row(2, -1, "/", true), row(3, 0, "/d", true)]);
    const d = await csv("d.csv", [
      row(3, -1, "/d", true),
      row(4, 0, "/d/f", false),
      row(7, 0, "/d/a", true),
    ]);
    const dx = await csv("dx.csv", [row(5, -1, "/dx", true), row(6, 0, "/dx/f", false)]);
    const da = await csv("da.csv", [row(7, -1, "/d/a", true)]);
    await refused(["summary", slash, d], "/d", "/");
    await refused(["summary", dx, d, da], "/d/a", "/d");
    // /dx is not below /d, and / holds no row of it
    const r = await cli(["summary", "--json", slash, dx]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.text).roots, ["/", "/dx"]);
    // the API: the same error
    await assertRejects(() => summarize([d, slash]), ScanInputError, "the root /d is also");
  });
  await t.step(
    "a scan of the folder through a link (ln -s tree/sub alias): refused too, CSV and Parquet",
    async () => {
      const alias = `${tmp.path}/alias`;
      await Deno.symlink(`${root}/sub`, alias);
      // the premise, by python: the link leads to the same folder (st_dev and inode)
      const same = await python(
        "import os, sys; s, t = os.stat(sys.argv[1]), os.lstat(sys.argv[2]); " +
          "print(s.st_dev == t.st_dev and s.st_ino == t.st_ino)",
        alias,
        `${root}/sub`,
      );
      assertEquals(same.trim(), "True");
      const through = await scan("through.csv", alias);
      // ... and the two rows say so: the same st_dev, inode, mtime and ctime
      const [inWhole, itsRoot] = [
        parsePwalk(Deno.readFileSync(whole)).rows.find((x) => x.key === key(bytes(`${root}/sub`)))!,
        parsePwalk(Deno.readFileSync(through)).rows.find((x) => x.depth === -1)!,
      ];
      assertEquals(
        [itsRoot.dev, itsRoot.ino, itsRoot.mtime, itsRoot.ctime],
        [inWhole.dev, inWhole.ino, inWhole.mtime, inWhole.ctime],
      );
      const s = await summarize([through], { names: false });
      assertEquals(s.roots, [alias], "its root is named by the link, not as a path in the tree");
      // (two runs at a time: the runs of each order, then convert's copies)
      const orders = [[whole, through], [through, whole]];
      const pq = [`${tmp.path}/whole.parquet`, `${tmp.path}/through.parquet`];
      const ran = await pooled(
        [
          ...orders.flatMap((files) => [["summary", ...files], ["convert", ...files, out], [
            "summary",
            ...files,
          ]]),
          ["convert", whole, pq[0]],
          ["convert", through, pq[1]],
        ],
        (args) => cli(args),
      );
      for (const [i, files] of orders.entries()) {
        wasRefused(ran[3 * i], alias, root);
        wasRefused(ran[3 * i + 1], alias, root);
        const r = ran[3 * i + 2];
        assertStringIncludes(r.stderr, `(${root}/sub: the same st_dev, inode, mtime and ctime)`);
        for (const f of files) assertStringIncludes(r.stderr, f);
      }
      // the same check on Parquet scans (convert's copies of each)
      assertEquals(ran[6].code, 0);
      assertEquals(ran[7].code, 0);
      const onPq = await pooled([["summary", ...pq], ["convert", ...pq, out]], (args) => cli(args));
      for (const r of onPq) wasRefused(r, alias, root);
      for (const f of [...pq, through]) await Deno.remove(f);
      await Deno.remove(alias);
    },
  );
  await t.step(
    "hand-written scans of two hosts: the same st_dev and inode, other times: read",
    async () => {
      // the fields: inode, st_dev, depth, path, folder?, mtime, ctime, size
      const row = (
        ino: number,
        dev: number,
        depth: number,
        path: string,
        dir: boolean,
        m: number,
        c: number,
        size = 10,
      ) =>
        `${ino},1,${depth},"${path}","",0,0,${size},${dev},8,1,"${
          dir ? "0040755" : "0100644"
        }",1,${m},${c},-1,0`;
      const csv = async (name: string, rows: string[]) => {
        await Deno.writeTextFile(`${tmp.path}/${name}`, rows.join("\n") + "\n");
        return `${tmp.path}/${name}`;
      };
      // host a's /data (inode 2 of device 2049) holds a folder with inode 128;
      // host b's /scratch is inode 128 of its device 2049, and holds inode 2
      const a = await csv("host-a.csv", [
        row(2, 2049, -1, "/data", true, 100, 100, 4096),
        row(128, 2049, 0, "/data/proj", true, 200, 200, 4096),
        row(130, 2049, 1, "/data/proj/f", false, 200, 200, 7),
      ]);
      const b = (m: number, c: number) =>
        csv(`host-b-${m}-${c}.csv`, [
          row(128, 2049, -1, "/scratch", true, m, c, 4096),
          row(2, 2049, 0, "/scratch/tmp", true, 300, 300, 4096),
          row(5, 2049, 0, "/scratch/g", false, 300, 300, 3),
        ]);
      // the same folder only when both times are the same as the other row's
      for (const [m, c] of [[500, 500], [200, 500], [500, 200]]) {
        const other = await b(m, c);
        const r = await cli(["summary", "--json", a, other]);
        assertEquals(r.code, 0, r.stderr);
        const s = JSON.parse(r.text);
        assertEquals(s.roots, ["/data", "/scratch"]);
        // every row once: 6 entries, 4096 * 4 + 7 + 3 bytes
        assertEquals([s.totals.entries, s.totals.apparentBytes], [6, 4096 * 4 + 10]);
        assertEquals((await cli(["convert", a, other, out])).code, 0);
        const rows = parsePwalk(Deno.readFileSync(out), { header: true }).rows;
        assertEquals([rows.length, rows.reduce((n, x) => n + x.size, 0)], [6, 4096 * 4 + 10]);
        await Deno.remove(out);
      }
      // /scratch at /data/proj's moment: the same folder as far as the rows tell
      await refused(["summary", a, await b(200, 200)], "/scratch", "/data");
    },
  );
  await t.step("the folder changed between the two scans: by its path, still refused", async () => {
    await Deno.writeTextFile(`${root}/sub/new`, "n");
    lutimes(`${root}/sub`, 1000, 1000);
    const later = await scan("later.csv", `${root}/sub`);
    const sub = (f: string) =>
      parsePwalk(Deno.readFileSync(f)).rows.find((x) => x.key === key(bytes(`${root}/sub`)))!;
    assert(sub(later).mtime !== sub(whole).mtime, "the folder's mtime moved on");
    const ran = await pooled(
      [["summary", whole, later], ["convert", later, whole, out]],
      (args) => cli(args),
    );
    for (const r of ran) wasRefused(r, `${root}/sub`, root);
    await Deno.remove(`${root}/sub/new`);
  });
});

testNeeding([SETPRIV], {
  name:
    "a file the caller could not write is not replaced by any output (-o, --errors, --html, convert)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/f`, "x");
    const scan = `${tmp.path}/scan.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    // A folder anyone may write in (no sticky bit), a file of someone else's in it.
    const shared = `${tmp.path}/shared`;
    await Deno.mkdir(shared, { mode: 0o777 });
    await Deno.chmod(shared, 0o777);
    const theirs = `${shared}/theirs.csv`;
    await Deno.writeTextFile(theirs, "someone else's\n");
    await Deno.chown(theirs, 1001, 1001);
    await Deno.chmod(theirs, 0o644);
    const cases: [string[], string][] = [
      [["-o", theirs, root], theirs],
      [["-o", `${shared}/mine.csv`, "--errors", theirs, root], `--errors ${theirs}: cannot write`],
      [["summary", "--html", theirs, scan], theirs],
      [["convert", scan, theirs], theirs],
    ];
    for (const [args, named] of cases) {
      // uid 0 without capabilities: not the owner, so "other" may only read
      const r = await cli(args, { prefix: UNPRIVILEGED });
      assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `${named}: Permission denied`);
      const st = await Deno.stat(theirs);
      assertEquals([st.uid, await Deno.readTextFile(theirs)], [1001, "someone else's\n"]);
    }
    const left = [...Deno.readDirSync(shared)].map((e) => e.name);
    assertEquals(left, ["theirs.csv"], "no temporary left, no output made");
  },
});

/** Module specifiers of `deno info --json FILE`, and the static closure from FILE. */
async function graph(file: string): Promise<{ all: string[]; static: Set<string> }> {
  const r = await deno(["info", "--json", file]);
  assertEquals(r.code, 0, r.stderr);
  const info = JSON.parse(new TextDecoder().decode(r.stdout));
  // deno-lint-ignore no-explicit-any
  const mods = new Map<string, any>(info.modules.map((m: any) => [m.specifier, m]));
  // (info.npmPackages lists every package of the lock file, reached or not)
  const all = [...mods.keys()];
  const seen = new Set<string>();
  const todo = [info.roots[0]];
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of mods.get(s)?.dependencies ?? []) {
      const to = d.code?.specifier;
      if (to && !d.isDynamic) todo.push(to);
    }
  }
  return { all, static: seen };
}

Deno.test("module graph: no DuckDB or ECharts in cli.ts's or mod.ts's graph; the CLI's static graph avoids lib/answers", async () => {
  for (const f of ["cli.ts", "mod.ts"]) {
    const g = await graph(`${REPO}/${f}`);
    const heavy = g.all.filter((s) =>
      /duckdb|echarts/i.test(s) && !s.endsWith("/lib/answers/duck.ts")
    );
    assertEquals(heavy, [], `${f} reaches ${heavy.join(", ")}`);
  }
  const cliGraph = await graph(`${REPO}/cli.ts`);
  const answers = [...cliGraph.static].filter((s) => s.includes("/lib/answers/"));
  assertEquals(answers, [], "a report loads the answers code statically");
  // and the dynamic import is what the summary command uses
  assert(cliGraph.all.some((s) => s.endsWith("/lib/answers/summary.ts")));
});

testNeeding([SETPRIV], {
  name:
    "a scan the caller cannot read: summary, diff and convert say 'pwalk: FILE: Permission denied'",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/f`, "x");
    const good = `${tmp.path}/good.csv`;
    assertEquals((await cli(["-o", good, root])).code, 0);
    // someone else's scan, for them alone (uid 0 without capabilities may not read it)
    const theirs = `${tmp.path}/theirs.csv`;
    await Deno.copyFile(good, theirs);
    await Deno.chown(theirs, 1001, 1001);
    await Deno.chmod(theirs, 0o600);
    for (
      const args of [
        ["summary", theirs],
        ["diff", good, theirs],
        ["diff", theirs, good],
        ["convert", theirs, `${tmp.path}/o.parquet`],
      ]
    ) {
      const r = await cli(args, { prefix: UNPRIVILEGED });
      assertEquals(
        [r.code, r.stderr],
        [1, `pwalk: ${theirs}: Permission denied\n`],
        args.join(" "),
      );
    }
  },
});

Deno.test("CSV files read together: a row of too few columns names the file it is in, not the group", async () => {
  await using tmp = await tempDir();
  const root = (ino: number, name: string) =>
    `${ino},0,-1,"${name}","",0,0,4096,1,8,2,"0040755",1,2,3,1,10\n`;
  const file = (ino: number, parent: number, name: string, tail: string) =>
    `${ino},${parent},0,"${name}/a","",0,0,10,1,8,1,"0100644",1,2,3${tail}\n`;
  const u1 = `${tmp.path}/u1.csv`;
  await Deno.writeTextFile(u1, root(5, "/u") + file(6, 5, "/u", ",-1,0"));
  const u2 = `${tmp.path}/u2.csv`;
  await Deno.writeTextFile(u2, root(8, "/v") + file(9, 8, "/v", ",-1,0"));
  // its second line: 15 of the 17 columns
  const short = `${tmp.path}/short.csv`;
  await Deno.writeTextFile(short, root(1, "/w") + file(2, 1, "/w", ""));
  const want = `pwalk: ${short}: Invalid Input Error: CSV Error on Line: 2 has 15 of the 17 ` +
    "columns (a file cut short, or not pwalk's CSV?)\n";
  for (
    const args of [
      ["summary", u1, short, u2],
      ["diff", u1, `${tmp.path}/*.csv`],
      ["convert", u1, short, `${tmp.path}/o.parquet`],
    ]
  ) {
    const r = await cli(args);
    assertEquals([r.code, r.stderr], [1, want], args.join(" "));
  }
});

Deno.test("summary, diff and convert say the same of one bad CSV file: its first bad line, a column it has (convert named another)", async () => {
  await using tmp = await tempDir();
  // pwalk's header line, as it writes it: the names of its columns
  await Deno.mkdir(`${tmp.path}/t`);
  const real = `${tmp.path}/real.csv`;
  assertEquals((await cli(["--header", "-o", real, `${tmp.path}/t`])).code, 0);
  const [head, rootRow] = (await Deno.readTextFile(real)).split("\n");
  const names = head.split(",").map((c) => c.replaceAll('"', ""));
  const fields = rootRow.split(",");
  const size = names.indexOf("st_size");
  const badSize = [...fields.slice(0, size), "x", ...fields.slice(size + 1)].join(",");
  const short = fields.slice(0, 6).join(",");
  const cases: Record<string, string[]> = {
    "not pwalk's": ["a,b,c", "1,2,3"],
    "a bad number, then a short line": [rootRow, badSize, short],
    "a short line, then a bad number": [rootRow, short, badSize],
    "with the header: a bad number, then a short line": [head, rootRow, badSize, short],
  };
  for (const [name, lines] of Object.entries(cases)) {
    const file = `${tmp.path}/bad.csv`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    // the reference: the first line (the header aside) of another count of
    // fields, or whose st_size is not digits
    const n = lines.findIndex((l, i) =>
      !(i === 0 && l === head) &&
      (l.split(",").length !== names.length || !/^\d+$/.test(l.split(",")[size]))
    );
    const k = lines[n].split(",").length;
    const why = k !== names.length
      ? `Invalid Input Error: CSV Error on Line: ${n + 1} has ${k} of the ${names.length} ` +
        "columns (a file cut short, or not pwalk's CSV?)"
      : `Conversion Error: CSV Error on Line: ${n + 1}: column st_size is not a number as ` +
        "pwalk's CSV writes it";
    const runs = [
      ["summary", file],
      ["diff", real, file],
      ["convert", file, `${tmp.path}/o.parquet`],
      ["convert", file, `${tmp.path}/o.csv`],
    ];
    const ran = await pooled(runs, (args) => cli(args));
    for (const [i, args] of runs.entries()) {
      const r = ran[i];
      assertEquals([r.code, r.stderr], [1, `pwalk: ${file}: ${why}\n`], `${name}: ${args[0]}`);
    }
  }
});

Deno.test("convert's header option is true or false, checked before any work (it goes into DuckDB's COPY options)", async () => {
  await using tmp = await tempDir();
  const csv = `${tmp.path}/o1.csv`;
  await Deno.copyFile(`${REPO}/tests/fixtures/example-small.csv`, csv);
  for (const header of ["false, DELIMITER ';'", "nonsense", "false", 0]) {
    const out = `${tmp.path}/c9.csv`;
    const err = await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => convert([csv], out, { header: header as any }),
      TypeError,
    );
    assertStringIncludes(err.message, "pwalk: header must be true or false, got ");
    assert(!existsSync(out), `${out} written for header ${JSON.stringify(header)}`);
  }
});

Deno.test("summarize, diff, convert: a scan list that is a string (one scan alone) or holds another type is a TypeError saying to give an array, before any work (audit)", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/o1.csv`;
  await Deno.copyFile(`${REPO}/tests/fixtures/example-small.csv`, scan);
  const out = `${tmp.path}/c.parquet`;
  const str = (name: string) =>
    `pwalk: ${name} must be an array of scan files, globs or folders, got ` +
    `${JSON.stringify(scan)} (a string: give [${JSON.stringify(scan)}])`;
  const cases: [() => Promise<unknown>, string][] = [
    [() => summarize(scan as never), str("scans")],
    [
      () => summarize([scan, 1] as never),
      "pwalk: scans must be an array of scan files, globs or folders, got an array with another item",
    ],
    [() => convert(scan as never, out), str("inputs")],
    [() => diff(scan as never, [scan]), str("oldScans")],
    [() => diff([scan], scan as never), str("newScans")],
    [
      () => summarize(null as never),
      "pwalk: scans must be an array of scan files, globs or folders, got null",
    ],
  ];
  for (const [call, msg] of cases) {
    const e = await assertRejects(call, TypeError);
    assertEquals(e.message, msg);
  }
  assert(!existsSync(out));
  // an array of one still reads
  assertEquals((await summarize([scan], { names: false })).scans, [scan]);
});

Deno.test("summarize, diff, convert: DuckDB's options and names checked before any work, with pwalk's messages (audit)", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/o1.csv`;
  await Deno.copyFile(`${REPO}/tests/fixtures/example-small.csv`, scan);
  const out = `${tmp.path}/c.parquet`;
  const cases: [Record<string, unknown>, typeof TypeError, string][] = [
    [{ threads: 0 }, RangeError, "pwalk: threads must be an integer from 1 to 1024, got 0"],
    [
      { threads: "2" },
      TypeError,
      'pwalk: threads must be an integer from 1 to 1024, got "2" (a string)',
    ],
    [
      { memoryLimit: "lots" },
      RangeError,
      'pwalk: memoryLimit must be a size such as "4GB" (1 byte or more, below 8 EiB), got "lots"',
    ],
    // (DuckDB said only "Failed to set config", status 1)
    [
      { memoryLimit: "99999999TB" },
      RangeError,
      'pwalk: memoryLimit must be a size such as "4GB" (1 byte or more, below 8 EiB), got "99999999TB"',
    ],
    // DuckDB takes less than a byte as 0 bytes, and fails at its first
    // allocation ("Out of Memory", after the work began: below)
    ...["0KB", "0GB", "0.0MB", "0.0001KB"].map((
      m,
    ): [Record<string, unknown>, typeof TypeError, string] => [
      { memoryLimit: m },
      RangeError,
      `pwalk: memoryLimit must be a size such as "4GB" (1 byte or more, below 8 EiB), got "${m}"`,
    ]),
    [
      { memoryLimit: 4e9 },
      TypeError,
      'pwalk: memoryLimit must be a size such as "4GB", got 4000000000 (a number)',
    ],
    [
      { tempDirectory: 1 },
      TypeError,
      "pwalk: tempDirectory must be a folder's path, got 1 (a number)",
    ],
    [{ onStage: "x" }, TypeError, 'pwalk: onStage must be a function, got "x" (a string)'],
  ];
  let stages = 0;
  const onStage = () => void stages++;
  for (const [opts, type, msg] of cases) {
    for (
      const call of [
        () => summarize([scan], { onStage, ...opts }),
        () => diff([scan], [scan], { onStage, ...opts }),
        () => convert([scan], out, { onStage, ...opts }),
      ]
    ) {
      const e = await assertRejects(call, type);
      assertEquals(e.message, msg);
    }
  }
  for (
    const call of [
      () => summarize([scan], { names: "false" as never }),
      () => diff([scan], [scan], { names: "false" as never }),
    ]
  ) {
    const e = await assertRejects(call, TypeError);
    assertEquals(e.message, 'pwalk: names must be true or false, got "false" (a string)');
  }
  assertEquals(stages, 0, "work began");
  assert(!existsSync(out));
  // the premise of the sizes of no byte: DuckDB itself takes them, then
  // cannot even show its memory limit
  for (const m of ["0KB", "0.0001KB"]) {
    const e = await assertRejects(async () => {
      const db = await DuckDBInstance.create(":memory:", { memory_limit: m });
      try {
        const c = await db.connect();
        try {
          await c.runAndReadAll("SELECT current_setting('memory_limit')");
        } finally {
          c.closeSync();
        }
      } finally {
        db.closeSync();
      }
    });
    assertStringIncludes(String(e), "Out of Memory", m);
  }
  // sizes DuckDB reads, and a thread count, still work
  const s = await summarize([scan], { names: false, threads: 1, memoryLimit: "512MiB" });
  assert(s.totals.entries > 0);
});

Deno.test("scan files named with glob characters (*, ?, [...]) or a leading ~ are read as named, never the files DuckDB's pattern would match (audit)", async () => {
  await using tmp = await tempDir();
  const fixture = await Deno.readTextFile(`${REPO}/tests/fixtures/example-small.csv`);
  const home = `${tmp.path}/home`;
  await Deno.mkdir(home);
  await Deno.mkdir(`${tmp.path}/~`);
  let n = 0;
  // a scan of its own root (so that the root read tells which file was)
  const scan = async (path: string, root: string) =>
    await Deno.writeTextFile(path, fixture.replaceAll('"/tmp/small', `"${root}`));
  // [the scan as given (relative to tmp), the files its pattern matches too]
  const cases: [string, string[]][] = [
    ["scan[1].csv", ["scan1.csv"]],
    ["st*r.csv", ["stAr.csv"]],
    ["q?.csv", ["qx.csv"]],
    ["a\\[1].csv", ["a\\1.csv"]],
    ["~/t.csv", [`${home}/t.csv`]],
    ["sub[ab]/scan-0.csv", ["suba/scan-0.csv"]],
  ];
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const rows = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJson();
  try {
    const at = (p: string) => p.startsWith("/") ? p : `${tmp.path}/${p}`;
    const env = { HOME: home };
    // each case's files made, and its reference read, in turn; then the
    // cases' runs (each its own files) two cases at a time, in order
    // within a case; then each case checked as it ran
    const made = [];
    for (const [given, decoys] of cases) {
      await Deno.mkdir(at(given).slice(0, at(given).lastIndexOf("/")), { recursive: true });
      for (const d of decoys) {
        await Deno.mkdir(at(d).slice(0, at(d).lastIndexOf("/")), { recursive: true });
        await scan(at(d), `/tmp/decoy${++n}`);
      }
      const root = `/tmp/root${++n}`;
      await scan(at(given), root);
      // the reference: DuckDB reading a copy of a plain name
      const plain = `${tmp.path}/plain${n}.csv`;
      await Deno.copyFile(at(given), plain);
      const [want] = await rows(
        `SELECT count(*)::INT AS entries, sum(st_size)::BIGINT AS bytes FROM read_csv('${plain}')`,
      );
      const csv = `${tmp.path}/out${n}.csv`;
      const pq = given.replace(/\.csv$/, ".parquet");
      const decoyPq = decoys.map((d) => d.replace(/\.csv$/, ".parquet"));
      made.push({ given, n, root, plain, want, csv, pq, decoyPq });
    }
    const ran = await pooled(made, async ({ given, plain, csv, pq, decoyPq }) => {
      const s = await cli(["summary", "--json", given], { cwd: tmp.path, env });
      const diffs = [];
      for (const args of [[plain, given], [given, plain]]) {
        diffs.push(await cli(["diff", "--json", ...args], { cwd: tmp.path, env }));
      }
      const toCsv = await cli(["convert", given, csv], { cwd: tmp.path, env });
      const decoysToPq = [];
      for (const d of decoyPq) {
        decoysToPq.push(await cli(["convert", at(d.replace(/parquet$/, "csv")), at(d)]));
      }
      const p = await cli(["convert", given, pq], { cwd: tmp.path, env });
      const b = await cli(["summary", "--json", pq], { cwd: tmp.path, env });
      return { s, diffs, toCsv, decoysToPq, p, b };
    });
    for (const [i, { given, n, root, plain, want, csv, pq }] of made.entries()) {
      const { s, diffs, toCsv, decoysToPq, p, b } = ran[i];
      assertEquals(s.code, 0, `${given}: ${s.stderr}`);
      const sum = JSON.parse(s.text);
      assertEquals([sum.roots, sum.totals.entries], [[root], Number(want.entries)], given);
      // diff: the file against its plain copy, in either order, unchanged
      for (const [k, args] of [[plain, given], [given, plain]].entries()) {
        const d = diffs[k];
        assertEquals(d.code, 0, `${given}: ${d.stderr}`);
        const r = JSON.parse(d.text);
        assertEquals(
          [r.old.roots, r.new.roots, r.new.entries, r.totals.added.entries],
          [[root], [root], Number(want.entries), 0],
          `diff ${args.join(" ")}`,
        );
      }
      // convert: to CSV, the very bytes of the file (it has pwalk's
      // header); to Parquet of a name with the same characters (decoys
      // converted first), its rows
      assertEquals(toCsv.code, 0);
      assertEquals(await Deno.readTextFile(csv), await Deno.readTextFile(plain), given);
      for (const d of decoysToPq) assertEquals(d.code, 0);
      assertEquals(p.code, 0, `${given}: ${p.stderr}`);
      await Deno.copyFile(at(pq), `${tmp.path}/plain${n}.parquet`);
      const names = `SELECT string_agg(filename, '|' ORDER BY filename) AS f, count(*)::INT AS n`;
      assertEquals(
        await rows(`${names} FROM '${tmp.path}/plain${n}.parquet'`),
        await rows(`${names} FROM read_csv('${plain}')`),
        `convert ${given} ${pq}`,
      );
      // and read back from Parquet by the name with those characters
      assertEquals(b.code, 0, `${pq}: ${b.stderr}`);
      assertEquals(JSON.parse(b.text).roots, [root], pq);
    }
    // an error in such a file names it as given
    await Deno.writeTextFile(`${tmp.path}/bad[1].csv`, fixture + "1,2,3\n");
    await scan(`${tmp.path}/bad1.csv`, "/tmp/decoy");
    const lines = fixture.split("\n").length;
    const bad = await pooled(
      [["summary"], ["convert", "bad[1].csv", "o.parquet"]],
      (args) => cli(args.length > 1 ? args : [...args, "bad[1].csv"], { cwd: tmp.path }),
    );
    for (const r of bad) {
      assertEquals(
        [r.code, r.stderr],
        [
          1,
          `pwalk: bad[1].csv: Invalid Input Error: CSV Error on Line: ${lines} has 3 of the 17 columns (a file cut short, or not pwalk's CSV?)\n`,
        ],
      );
    }
    // a folder of such a name: the scan inside it, not another folder's
    await Deno.remove(`${tmp.path}/sub[ab]/scan-0.parquet`);
    const f = await cli(["summary", "--json", "sub[ab]"], { cwd: tmp.path });
    assertEquals([f.code, JSON.parse(f.text).roots], [0, [`/tmp/root${n}`]], f.stderr);
  } finally {
    c.closeSync();
    db.closeSync();
  }
});

Deno.test("a scan with lines longer than DuckDB's default 2,000,000 bytes (a path thousands of folders deep) is read by summary, diff and convert; a line too long says so (audit)", async () => {
  await using tmp = await tempDir();
  const fixture = await Deno.readTextFile(`${REPO}/tests/fixtures/example-small.csv`);
  const [head, rootRow] = fixture.split("\n");
  const root = rootRow.split(",")[3].replaceAll('"', "");
  // pwalk's rows of a chain of folders below the root, each named with
  // 250 bytes, as a tree 12,000 deep gives: its deepest path 3 MB long
  const name = "d".repeat(250);
  const depth = 12000;
  const rows = [head, rootRow];
  let path = root;
  for (let i = 0; i < depth; i++) {
    path += `/${name}`;
    if (i < depth - 3) continue; // (rows of the last three: lines of 3 MB)
    const kind = i === depth - 1 ? `"0100644"` : `"0040755"`;
    rows.push(
      `${1000 + i},${999 + i},${i},"${path}","",0,0,${100 + i},65024,8,1,${kind},1,2,3,-1,0`,
    );
  }
  const file = `${tmp.path}/deep.csv`;
  await Deno.writeTextFile(file, rows.join("\n") + "\n");
  const longest = Math.max(...rows.map((r) => new TextEncoder().encode(r).length));
  assert(longest > 3_000_000);
  // the reference: DuckDB told to read such lines
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const [want] = (await c.runAndReadAll(
      `SELECT count(*)::INT AS n, sum(st_size)::INT AS bytes FROM read_csv('${file}', ` +
        `max_line_size=${2 * longest})`,
    )).getRowObjectsJson();
    const s = await cli(["summary", "--json", file]);
    assertEquals(s.code, 0, s.stderr);
    const sum = JSON.parse(s.text);
    assertEquals(
      [sum.totals.entries, sum.totals.apparentBytes],
      [Number(want.n), Number(want.bytes)],
    );
    // convert: to CSV the very bytes (pwalk's header), to Parquet its rows
    const csv = `${tmp.path}/again.csv`;
    const pq = `${tmp.path}/deep.parquet`;
    for (const out of [csv, pq]) {
      const r = await cli(["convert", file, out]);
      assertEquals(r.code, 0, r.stderr);
    }
    assertEquals(await Deno.readTextFile(csv), await Deno.readTextFile(file));
    const [got] = (await c.runAndReadAll(
      `SELECT count(*)::INT AS n, sum(st_size)::INT AS bytes FROM '${pq}'`,
    )).getRowObjectsJson();
    assertEquals(got, want);
    const d = await cli(["diff", "--json", file, pq]);
    assertEquals(d.code, 0, d.stderr);
    const diff = JSON.parse(d.text);
    assertEquals([diff.new.entries, diff.totals.added.entries], [Number(want.n), 0]);
    // DuckDB's error for such a line, as pwalk tells it: why on its first line
    const err = await c.run(
      `SELECT count(*) FROM read_csv('${file}', header=true, delim=',', quote='"', ` +
        `escape='"', new_line='\\n')`,
    ).then(
      () => null,
      (e) => e,
    );
    assert(err, "DuckDB reads no line over 2,000,000 bytes by default");
    // (DuckDB's own count of the line: its bytes, its newline too)
    const bytes = new TextEncoder().encode(rows[2]).length;
    const first = namingScans(err, [file]).message.split("\n")[0];
    const m = new RegExp(
      `^${file}: Invalid Input Error: CSV Error on Line: \\d+: a line of (\\d+) bytes, ` +
        "longer than the 2000000 that pwalk reads$",
    ).exec(first);
    assert(m && [bytes, bytes + 1].includes(Number(m[1])), first);
  } finally {
    c.closeSync();
    db.closeSync();
  }
});

Deno.test("a CSV header other than pwalk's (its names in another order, one missing) is refused by summary, diff and convert naming the first that differs; a UTF-8 BOM before pwalk's is skipped (audit)", async () => {
  await using tmp = await tempDir();
  const fixture = `${REPO}/tests/fixtures/example-small.csv`;
  const text = await Deno.readTextFile(fixture);
  // pwalk's header as documented
  const doc = await Deno.readTextFile(`${REPO}/docs/csv-format.md`);
  const header = /## The header line[\s\S]*?```\n([^\n]+)\n```/.exec(doc)![1];
  assertEquals(text.split("\n")[0], header);
  const names = header.split(",").map((n) => n.replaceAll('"', ""));
  // st_size and st_dev swapped, in the header and in every row
  const [a, b] = [names.indexOf("st_size"), names.indexOf("st_dev")];
  const swap = (line: string) => {
    const f = line.split(",");
    [f[a], f[b]] = [f[b], f[a]];
    return f.join(",");
  };
  const lines = text.trimEnd().split("\n");
  const reordered = `${tmp.path}/reordered.csv`;
  await Deno.writeTextFile(reordered, lines.map(swap).join("\n") + "\n");
  const short = `${tmp.path}/short.csv`;
  await Deno.writeTextFile(
    short,
    [header.split(",").slice(0, -1).join(","), ...lines.slice(1)].join("\n") + "\n",
  );
  const why = "(its columns are read by their place: see pwalk's header in docs/csv-format.md)";
  const cases: [string, string][] = [
    [
      reordered,
      `name ${Math.min(a, b) + 1} is "${names[Math.max(a, b)]}", pwalk's "${
        names[Math.min(a, b)]
      }"`,
    ],
    [short, `${names.length - 1} names, pwalk's ${names.length}`],
  ];
  for (const [file, what] of cases) {
    const runs = [
      ["summary", file],
      ["diff", fixture, file],
      ["convert", file, `${tmp.path}/o.parquet`],
    ];
    const ran = await pooled(runs, (args) => cli(args));
    for (const [i, args] of runs.entries()) {
      const r = ran[i];
      assertEquals(
        [r.code, r.stderr],
        [2, `pwalk: ${file}: its first line is a header other than pwalk's: ${what} ${why}\n`],
        args.join(" "),
      );
      assert(!existsSync(`${tmp.path}/o.parquet`));
    }
  }
  // a byte order mark before pwalk's header (a file saved by a Windows
  // tool), in UTF-8 text and not (read through the escaping filter): the
  // same scan
  const bom = `${tmp.path}/bom.csv`;
  await Deno.writeTextFile(bom, "\uFEFF" + text);
  // (a name of a byte that is not UTF-8: /tmp/small/\xff... for /tmp/small/a...)
  const bad = `${tmp.path}/bad.csv`;
  const nonUtf8 = concat(bytes("\uFEFF"), bytes(text)); // (the fixture is ASCII)
  nonUtf8[3 + text.indexOf('"/tmp/small/') + '"/tmp/small/'.length] = 0xff;
  await Deno.writeFile(bad, nonUtf8);
  // (the runs two at a time, then checked)
  const [ofBom, ofFixture, ofBad, d, o] = await pooled([
    ["summary", "--json", bom],
    ["summary", "--json", fixture],
    ["summary", "--json", bad],
    ["diff", "--json", fixture, bom],
    ["convert", bom, `${tmp.path}/o.csv`],
  ], (args) => cli(args));
  const totals = (r: Ran) => {
    assertEquals(r.code, 0, r.stderr);
    return JSON.parse(r.text).totals;
  };
  assertEquals(totals(ofBom), totals(ofFixture));
  // (read through the escaping filter: its one name told)
  assertEquals(totals(ofBad), { ...totals(ofFixture), nonUtf8Names: 1 });
  assertEquals([d.code, JSON.parse(d.text).totals.added.entries], [0, 0], d.stderr);
  assertEquals(o.code, 0);
  assertEquals(await Deno.readTextFile(`${tmp.path}/o.csv`), text);
});

Deno.test("a scan file whose name is not UTF-8, found in a folder or by a glob, is refused as not UTF-8 (as such an argument is), not as missing (audit)", async () => {
  await using tmp = await tempDir();
  const dir = `${tmp.path}/scans`;
  await Deno.mkdir(dir);
  const fixture = await Deno.readFile(`${REPO}/tests/fixtures/example-small.csv`);
  const raw = concat(bytes("sc"), new Uint8Array([0xff]), bytes(".csv"));
  writeFileRaw(join(bytes(dir), raw), fixture);
  // the name as Deno lists it (U+FFFD for the byte), which names no file
  const shown = `${dir}/${new TextDecoder().decode(raw)}`;
  assert(!existsSync(shown));
  const want = (spec: string) =>
    `pwalk: ${shown}: not valid UTF-8, so it could name another file (a name that is not ` +
    `valid UTF-8 reaches pwalk from ${spec}'s listing with U+FFFD in place of its bad bytes): ` +
    "rename it\n";
  for (
    const [args, from] of [
      [["summary", dir], dir],
      [["summary", `${dir}/sc*.csv`], dir],
      [["diff", `${REPO}/tests/fixtures/example-small.csv`, dir], dir],
      [["convert", `${dir}/*`, `${tmp.path}/o.parquet`], dir],
    ] as [string[], string][]
  ) {
    const r = await cli(args);
    assertEquals([r.code, r.stderr], [2, want(from)], args.join(" "));
  }
});

Deno.test("scan and OUT names that read as URLs (s3://, https://, file:/) are the local files named, never a bucket or another path; DuckDB loads no extension on its own (audit)", async () => {
  await using tmp = await tempDir();
  const fixture = await Deno.readTextFile(`${REPO}/tests/fixtures/example-small.csv`);
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const rows = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJson();
  let n = 0;
  try {
    // (file:/x.csv is /x.csv to DuckDB; s3:// and https:// need httpfs)
    // each name's files and reference made in turn; its runs, in order,
    // two names at a time; then each name checked
    const made = [];
    for (const given of ["s3://b/x.csv", "https://h/x.csv", "file:/x.csv", "hf://d/x.csv"]) {
      const root = `/tmp/root${++n}`;
      const at = `${tmp.path}/${given}`;
      await Deno.mkdir(at.slice(0, at.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(at, fixture.replaceAll('"/tmp/small', `"${root}`));
      // the reference: DuckDB reading a copy of a plain name
      const plain = `${tmp.path}/plain${n}.csv`;
      await Deno.copyFile(at, plain);
      const [want] = await rows(`SELECT count(*)::INT AS n FROM read_csv('${plain}')`);
      const dir = given.slice(0, given.lastIndexOf("/"));
      const csv = `${dir}/o${n}.csv`, pq = `${dir}/o${n}.parquet`;
      made.push({ given, root, plain, want, csv, pq });
    }
    const ran = await pooled(made, async ({ given, plain, csv, pq }) => {
      const s = await cli(["summary", "--json", given], { cwd: tmp.path });
      const o = await cli(["convert", plain, csv], { cwd: tmp.path });
      const p = await cli(["convert", given, pq], { cwd: tmp.path });
      const d = await cli(["diff", "--json", given, pq], { cwd: tmp.path });
      return { s, o, p, d };
    });
    for (const [i, { given, root, plain, want, csv, pq }] of made.entries()) {
      const { s, o, p, d } = ran[i];
      assertEquals(s.code, 0, `${given}: ${s.stderr}`);
      assertEquals(
        [JSON.parse(s.text).roots, JSON.parse(s.text).totals.entries],
        [[root], Number(want.n)],
        given,
      );
      // converted to such a name: written at the local path, to CSV the
      // very bytes, to Parquet the same rows
      assertEquals(o.code, 0, `${csv}: ${o.stderr}`);
      assertEquals(
        await Deno.readTextFile(`${tmp.path}/${csv}`),
        fixture.replaceAll('"/tmp/small', `"${root}`),
      );
      assertEquals(p.code, 0, `${pq}: ${p.stderr}`);
      const names = `SELECT string_agg(filename, '|' ORDER BY filename) AS f, count(*)::INT AS n`;
      assertEquals(
        await rows(`${names} FROM '${tmp.path}/${pq}'`),
        await rows(`${names} FROM read_csv('${plain}')`),
        pq,
      );
      // diff of the two such names: the same scan
      assertEquals(d.code, 0, `${given} ${pq}: ${d.stderr}`);
      assertEquals(JSON.parse(d.text).totals.added.entries, 0);
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
  // the settings DuckDB itself reports for pwalk's session
  const e = await Engine.open({ tempDirectory: tmp.path });
  try {
    assertEquals(
      await e.all(
        "SELECT current_setting('autoinstall_known_extensions') AS i, " +
          "current_setting('autoload_known_extensions') AS l",
      ),
      [{ i: false, l: false }],
    );
  } finally {
    await e.close();
  }
});

Deno.test("a scan with a newline in its name found in a SCAN folder or by a glob: the message names it whole, escaped, then why (audit)", async () => {
  await using tmp = await tempDir();
  // the same bad scan by a plain name and by one with a newline
  await Deno.mkdir(`${tmp.path}/pd`);
  await Deno.mkdir(`${tmp.path}/nd`);
  await Deno.writeTextFile(`${tmp.path}/pd/badname.csv`, "garbage\n");
  await Deno.writeTextFile(`${tmp.path}/nd/bad\nname.csv`, "garbage\n");
  const lines = (s: string) => s.split("\n").filter((l) => l !== "");
  // [arguments for the plain name, for the other, the directory they run in]
  const cases: [string[], string[], string][] = [
    [["summary", "pd"], ["summary", "nd"], ""],
    [["summary", "pd/*.csv"], ["summary", "nd/*.csv"], ""],
    [["summary", "*.csv"], ["summary", "*.csv"], "/X"],
    [["convert", "pd", "o.parquet"], ["convert", "nd", "o.parquet"], ""],
  ];
  for (const [plainArgs, args, sub] of cases) {
    const cwd = (d: string) => `${tmp.path}${sub.replace("X", d)}`;
    const want = await cli(plainArgs, { cwd: cwd("pd") });
    assertEquals(lines(want.stderr).length, 1, want.stderr);
    const r = await cli(args, { cwd: cwd("nd") });
    assertEquals(
      [r.code, lines(r.stderr)],
      [want.code, [
        want.stderr.trim().replace("badname.csv", "bad\\nname.csv").replace("pd/", "nd/"),
      ]],
      args.join(" "),
    );
  }
});

Deno.test("a scan line past 32 MiB is refused, saying how long it is and what pwalk reads; one of 10 MB is read within a 256MiB --memory-limit (review r2)", async () => {
  await using tmp = await tempDir();
  const fixture = await Deno.readTextFile(`${REPO}/tests/fixtures/example-small.csv`);
  const [head, rootRow] = fixture.split("\n");
  const root = rootRow.split(",")[3].replaceAll('"', "");
  const scanOf = (len: number) =>
    [head, rootRow, `9,1,0,"${root}/${"x".repeat(len)}","",0,0,5,65024,8,1,"0100644",1,2,3,-1,0`]
      .join("\n") + "\n";
  // the reference: the line's own length in bytes (with its newline, as DuckDB counts it)
  const big = `${tmp.path}/big.csv`;
  await Deno.writeTextFile(big, scanOf(60_000_000));
  const text = await Deno.readTextFile(big);
  const line = text.slice(text.lastIndexOf("\n", text.length - 2) + 1);
  const max = 2 ** 25;
  for (const args of [["summary", big], ["convert", big, `${tmp.path}/o.parquet`]]) {
    const r = await cli(args);
    assertEquals(r.code, 1, r.stderr);
    // DuckDB tells the line's length, or (a line past its read buffer) a
    // quote not closed
    const m = new RegExp(
      "^pwalk: .*big\\.csv: Invalid Input Error: CSV Error on Line: 3: (?:a line of (\\d+) " +
        `bytes, longer than the ${max} that pwalk reads|a quoted value not closed \\(a line ` +
        `longer than the ${max} bytes that pwalk reads, or not pwalk's CSV\\))\n$`,
    ).exec(r.stderr);
    if (!m) throw new Error(r.stderr);
    if (m[1]) assert([line.length - 1, line.length].includes(Number(m[1])), r.stderr);
  }
  // 10 MB: read (DuckDB's buffers were 16 times max_line_size, 300 MiB)
  const mid = `${tmp.path}/mid.csv`;
  await Deno.writeTextFile(mid, scanOf(10_000_000));
  const s = await cli(["summary", "--json", "--memory-limit", "256MiB", mid]);
  assertEquals(s.code, 0, s.stderr);
  assertEquals(JSON.parse(s.text).totals.entries, 2);
});

Deno.test("an answer past V8's longest string (a Parquet scan's path of tens of MB) fails with status 1, not as bad usage", async () => {
  const { answerStatus } = await import("../lib/cli/common.ts");
  // V8's own error, as a too long string raises it
  let tooLong: unknown;
  try {
    "x".repeat(2 ** 30 + 2 ** 29);
  } catch (e) {
    tooLong = e;
  }
  assert(tooLong instanceof RangeError && tooLong.message === "Invalid string length");
  assertEquals(answerStatus(tooLong), 1);
  assertEquals(answerStatus(new RangeError("--top needs a whole number")), 2); // still bad usage
});

Deno.test("a quoted glob of scans reads the files bash's glob of it names: dot files only by a leading dot, ']' first in a set, [!set] and [^set]", async () => {
  await using tmp = await tempDir();
  const names = [
    "a.csv",
    "b.csv",
    "ab.csv",
    ".hidden.csv",
    ".a.csv",
    "]x.csv",
    "^x.csv",
    "[x.csv",
    "a-1.csv",
  ];
  // each a scan of a folder of its own (its own root and inode)
  for (const [i, n] of names.entries()) {
    const row = `${100 + i},1,-1,"/r${i}","",0,0,4096,1,8,2,"0040755",1,2,3,0,0\n`;
    await Deno.writeTextFile(`${tmp.path}/${n}`, row);
  }
  const patterns = [
    "*.csv",
    "?.csv",
    "[]a]*.csv",
    "[!a]*.csv",
    "[^a]*.csv",
    ".*.csv",
    "[.]*.csv",
    "[a-b].csv",
    "*[!x].csv",
    "[[]x.csv",
  ];
  for (const pattern of patterns) {
    // the reference: bash's own expansion, in the folder
    const r = await new Deno.Command("bash", {
      args: ["-c", `shopt -s nullglob; for f in ${pattern}; do printf '%s\\n' "$f"; done`],
      cwd: tmp.path,
      stdout: "piped",
    }).output();
    const want = new TextDecoder().decode(r.stdout).split("\n").filter((x) => x).sort()
      .map((n) => `${tmp.path}/${n}`);
    if (want.length === 0) {
      await assertRejects(
        () => summarize([`${tmp.path}/${pattern}`], { names: false }),
        ScanInputError,
        "no file matches",
      );
      continue;
    }
    const s = await summarize([`${tmp.path}/${pattern}`], { names: false });
    assertEquals([...s.scans].sort(), want, pattern);
  }
});

testNeeding([ZSTD], {
  name:
    "a .csv.zst or .csv.gz whose data ends inside a row (the compressor closed its stream whole, pwalk killed) is refused as the .csv is; whole ones, and pwalk's with an empty last frame, are read (review)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/r`;
    await Deno.mkdir(`${root}/sub`, { recursive: true });
    await Deno.writeTextFile(`${root}/a.dat`, "x".repeat(1000));
    await Deno.writeTextFile(`${root}/sub/b.dat`, "y");
    const whole = `${tmp.path}/whole.csv`;
    assertEquals((await cli(["--threads", "1", "-o", whole, root])).code, 0);
    const text = Deno.readTextFileSync(whole);
    // cut inside the last row's last number: a row that still parses
    const cut = `${tmp.path}/cut.csv`;
    Deno.writeTextFileSync(cut, text.slice(0, text.length - 2));
    const pack = async (file: string, tool: string) => {
      const out = `${file}.${tool === "zstd" ? "zst" : "gz"}`;
      const r = await new Deno.Command(tool, { args: ["-q", "-k", "-f", file] }).output();
      assert(r.success, new TextDecoder().decode(r.stderr));
      return out;
    };
    for (const tool of ["zstd", "gzip"]) {
      const bad = await pack(cut, tool), good = await pack(whole, tool);
      for (
        const args of [
          ["summary", bad],
          ["diff", good, bad],
          ["convert", bad, `${tmp.path}/out-${tool}.parquet`],
        ]
      ) {
        const r = await cli(args);
        assertEquals([r.code, r.stderr], [
          1,
          `pwalk: ${bad}: truncated: its ${tool} data ends inside a row (no line end); an ` +
          "incomplete copy, or the compressor ended before pwalk did?\n",
        ], args.join(" "));
      }
      assert(!existsSync(`${tmp.path}/out-${tool}.parquet`), "a Parquet file was left");
      const s = await cli(["summary", "--json", good]);
      assertEquals(s.code, 0, s.stderr);
      assertEquals(JSON.parse(s.text).totals.entries, 4);
    }
    // pwalk's own .csv.zst, an empty zstd frame after it (a shard's with
    // nothing to walk), and a skippable frame: read whole
    const own = `${tmp.path}/own.csv.zst`;
    assertEquals((await cli(["-o", own, root])).code, 0);
    const empty = await new Deno.Command("zstd", {
      args: ["-q", "-c"],
      stdin: "piped",
      stdout: "piped",
    })
      .spawn();
    await empty.stdin.close();
    const frame = (await empty.output()).stdout;
    const skippable = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 7, 7]);
    Deno.writeFileSync(own, frame, { append: true });
    Deno.writeFileSync(own, skippable, { append: true });
    const s = await cli(["summary", "--json", own]);
    assertEquals(s.code, 0, s.stderr);
    assertEquals(JSON.parse(s.text).totals.entries, 4);
  },
});

testNeeding([ZSTD], {
  name:
    "a .csv.zst of a window over zstd's default limit (zstd --long=28 from a pipe): status 1, said so with the way out, not 'corrupt' (review)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/r`;
    Deno.mkdirSync(`${root}/d`, { recursive: true });
    Deno.writeTextFileSync(`${root}/d/f`, "x");
    const csv = `${tmp.path}/scan.csv`;
    assertEquals((await cli(["-o", csv, root])).code, 0);
    const long = `${tmp.path}/long.csv.zst`, copy = `${tmp.path}/copy.csv.zst`;
    const sh = (cmd: string) => new Deno.Command("sh", { args: ["-c", cmd] }).output();
    assertEquals((await sh(`cat '${csv}' | zstd -q --long=28 -o '${long}'`)).code, 0);
    // the premise: zstd itself needs --long to read it
    assert(!(await sh(`zstd -dc '${long}' > /dev/null 2>&1`)).success);
    for (
      const args of [["summary", long], ["diff", csv, long], ["convert", long, `${tmp.path}/o.csv`]]
    ) {
      const r = await cli(args);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `${long}: its zstd frame at byte 0 needs a window over`);
      assert(!r.stderr.includes("corrupt"), r.stderr);
    }
    assert(!existsSync(`${tmp.path}/o.csv`), "nothing written");
    // the way out it gives
    assertEquals((await sh(`zstd -dc --long=31 '${long}' | zstd -q -o '${copy}'`)).code, 0);
    const r = await cli(["summary", "--json", copy]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.text).totals.entries, 3);
  },
});

Deno.test("a scan of two scans joined with cat (a header inside), or of CR LF lines after LF ones: status 1, one line that says what it likely is (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/r`;
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  for (let i = 0; i < 5; i++) Deno.writeTextFileSync(`${root}/d/f${i}`, "x");
  const csv = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["--header", "-o", csv, root])).code, 0);
  const text = Deno.readTextFileSync(csv);
  const joined = `${tmp.path}/joined.csv`;
  Deno.writeTextFileSync(joined, text + text);
  const [head, ...rows] = text.trimEnd().split("\n");
  const mixed = `${tmp.path}/mixed.csv`;
  Deno.writeTextFileSync(
    mixed,
    [head, rows[0], ...rows.slice(1).map((l) => `${l}\r`)].join("\n") + "\n",
  );
  for (
    const [f, said] of [
      [joined, "(that line is pwalk's header: two scans joined with cat?"],
      [mixed, "one that ends in CR LF among lines that end in LF"],
    ]
  ) {
    for (const args of [["summary", f], ["convert", f, `${tmp.path}/o.parquet`]]) {
      const r = await cli(args);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, `${f}: `);
      assertStringIncludes(r.stderr, said);
    }
  }
  assert(!existsSync(`${tmp.path}/o.parquet`), "nothing written");
});
