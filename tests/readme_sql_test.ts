/**
 * README's SQL, as written there, run by DuckDB on real scans: the two
 * definitions of the `scan` view and every question query below them.
 *
 * The scans' first rows carry only numeric extensions (rotated logs
 * `x.log.1`), so DuckDB's type detection, which samples the first rows,
 * would take fileExtension for a number and fail at the first `txt` unless
 * the view names its type.
 */
import { assert, assertEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { cli, REPO } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

/** README's ```sql blocks, in order. */
function readmeSql(): string[] {
  const readme = Deno.readTextFileSync(`${REPO}/README.md`);
  return [...readme.matchAll(/^```sql\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** The statements of a block (split at `;` ending a line), comments dropped. */
function statements(block: string): string[] {
  return block.split(/;\s*$/m)
    .map((s) => s.split("\n").filter((l) => !l.startsWith("--")).join("\n").trim())
    .filter((s) => s !== "");
}

Deno.test("README's SQL runs as written on scans whose first rows have numeric extensions", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  await Deno.mkdir(root);
  // the root folder's own entries come first in a one-thread scan: 25,000
  // numbered logs, more than DuckDB's sample of 20,480 rows. Each a name of
  // one of seven files of 0-6 bytes kept outside the tree (i % 7 bytes, as
  // if each were its own): its row reads the same but for its inode and
  // link count, and links are made ten times faster or more than files on
  // a disk slow to make inodes
  const N = 25_000;
  const sizes = Array.from({ length: 7 }, (_, n) => {
    const f = `${tmp.path}/size-${n}`;
    Deno.writeFileSync(f, new Uint8Array(n));
    return f;
  });
  for (let i = 0; i < N; i++) Deno.linkSync(sizes[i % 7], `${root}/app.log.${i}`);
  await Deno.mkdir(`${root}/docs`);
  await Deno.writeTextFile(`${root}/docs/readme.txt`, "hello\n");
  await Deno.writeTextFile(`${root}/docs/notes.md`, "# notes\n");
  // the independent count by extension, from the tree
  const want = new Map<string, number>([["", 2]]); // ROOT's row and docs' row
  for (const d of [root, `${root}/docs`]) {
    for (const e of Deno.readDirSync(d)) {
      if (!e.isFile) continue;
      const ext = e.name.includes(".") ? e.name.slice(e.name.lastIndexOf(".") + 1) : "";
      want.set(ext, (want.get(ext) ?? 0) + 1);
    }
  }
  const withHeader = `${tmp.path}/scan.csv.zst`, bare = `${tmp.path}/bare.csv.zst`;
  for (const [out, h] of [[withHeader, ["--header"]], [bare, []]] as const) {
    const r = await cli(["--threads", "1", ...h, "-o", out, root]);
    assertEquals(r.code, 0, r.stderr);
  }
  const blocks = readmeSql();
  const views = blocks.filter((b) => b.startsWith("CREATE VIEW scan AS SELECT * FROM read_csv("));
  assertEquals(views.length, 2, "README defines the view with and without header");
  const questions = blocks.find((b) => b.startsWith("-- Who uses the space")) ?? "";
  assert(questions !== "", "README's question queries");
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    for (const [view, file] of [[views[0], withHeader], [views[1], bare]]) {
      await con.run("DROP VIEW IF EXISTS scan");
      await con.run(view.replaceAll("'scan.csv.zst'", `'${file}'`));
      const got = (await con.runAndReadAll(
        "SELECT fileExtension, count(*) FROM scan GROUP BY ALL",
      )).getRows().map(([e, n]) => [String(e ?? ""), Number(n)] as [string, number]);
      assertEquals(new Map(got), want, file);
      // every question query runs on it, the two-scan ones on this scan and itself
      for (const q of statements(questions)) {
        const sql = q.replaceAll("'last-week.csv.zst'", `'${withHeader}'`)
          .replaceAll("'scan.csv.zst'", `'${withHeader}'`)
          .replaceAll("'today.csv.zst'", `'${withHeader}'`)
          .replaceAll("/data/", `${root}/`);
        const rows = (await con.runAndReadAll(sql)).getRows();
        if (sql.includes("regexp_extract")) {
          // du -s ROOT/*: docs holds 3 entries (itself, two files)
          const docs = rows.find((r) => r[0] === `${root}/docs`);
          assertEquals(Number(docs?.[2]), 3, sql);
        }
      }
    }
    // inode numbers at 2^63 and above (overlayfs xino, some NFS servers),
    // past DuckDB's sample: each view reads them exactly (DOUBLE would merge
    // neighbours; BIGINT, taken from the sample, would refuse the query)
    for (const [view, h] of [[views[0], ["--header"]], [views[1], []]] as const) {
      const plain = `${tmp.path}/plain.csv`;
      const r = await cli(["--threads", "1", ...h, "-o", plain, root]);
      assertEquals(r.code, 0, r.stderr);
      const big = [2n ** 63n + 3n, 2n ** 63n + 4n, 2n ** 64n - 2n];
      // rows of the scan's last file again, with those numbers (and as parents)
      const last = Deno.readTextFileSync(plain).trimEnd().split("\n").at(-1)!;
      const rows = big.map((ino, i) =>
        last.replace(/^\d+,\d+,/, `${ino},${big[(i + 1) % big.length]},`)
          .replace(/"[^"]*"/, `"${root}/big-${i}.txt"`)
      );
      Deno.writeTextFileSync(plain, rows.join("\n") + "\n", { append: true });
      await con.run("DROP VIEW IF EXISTS scan");
      await con.run(view.replaceAll("'scan.csv.zst'", `'${plain}'`));
      const got = (await con.runAndReadAll(
        `SELECT inode, "parent-inode" FROM scan WHERE filename LIKE '%/big-%' ORDER BY filename`,
      )).getRows().map(([a, b]) => [BigInt(a as bigint), BigInt(b as bigint)]);
      assertEquals(got, big.map((ino, i) => [ino, big[(i + 1) % big.length]]), view);
    }
  } finally {
    con.closeSync();
    db.closeSync();
  }
});

Deno.test("README's cold-data query counts what pwalk summary's Cold data counts: read 365 days or more before the scan's time (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/data`;
  await Deno.mkdir(root);
  // the scan's time, ahead of the clock (DuckDB's now() would differ from
  // it), and a file read at each side of 365 days before it, one per user
  const S = Math.floor(Date.now() / 1000) + 1000;
  const day = 86400;
  const read = new Map([[1001, S - 365 * day], [1002, S - 365 * day + 1], [1003, S - 400 * day], [
    1004,
    S - 300 * day,
  ]]);
  for (const [uid, atime] of read) {
    const f = `${root}/u${uid}.dat`;
    await Deno.writeFile(f, new Uint8Array(5000 + uid));
    await Deno.chown(f, uid, uid);
    await Deno.utime(f, atime, atime);
  }
  const scan = `${tmp.path}/scan.csv.zst`;
  const r = await cli(["--header", "-o", scan, root]);
  assertEquals(r.code, 0, r.stderr);
  await Deno.utime(scan, S, S);
  const s = await cli(["summary", "--no-names", "--json", scan]);
  assertEquals(s.code, 0, s.stderr);
  const want = (JSON.parse(s.text).coldByUser as { id: number; allocatedBytes: number }[])
    .map((u) => [u.id, u.allocatedBytes]).sort();
  assertEquals(want.map(([id]) => id), [1001, 1003], "the premise: summary's cold users");

  const questions = readmeSql().find((b) => b.startsWith("-- Who uses the space")) ?? "";
  const coldSql = statements(questions).find((q) => q.includes(" AS cold FROM scan")) ?? "";
  assert(coldSql !== "", "README's cold-data query");
  const view =
    readmeSql().find((b) =>
      b.startsWith("CREATE VIEW scan AS SELECT * FROM read_csv('scan.csv.zst',")
    ) ?? "";
  assert(view !== "", "README's view");
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    await con.run(view.replaceAll("'scan.csv.zst'", `'${scan}'`));
    const got = (await con.runAndReadAll(coldSql.replaceAll("'scan.csv.zst'", `'${scan}'`)))
      .getRows().map(([uid, b]) => [Number(uid), Number(b)]).sort();
    assertEquals(got, want);
  } finally {
    con.closeSync();
    db.closeSync();
  }
});
