/**
 * `pwalk summary` / summarize() against independent references, on a
 * generated tree (tests/helpers/answers_tree.ts: several owners, real and
 * sparse files, times over ten years, links, one hard-linked pair):
 *
 * - totals, per-user and per-group sums, extensions, size and age
 *   histograms, busiest folders, largest files and cold data: recomputed
 *   here from Deno.readDir + Deno.lstat;
 * - recursive folder totals: `du --apparent-size -s -B1` and `du -s -B1` of
 *   every folder of the folder view; of every folder of a 250-deep folder
 *   chain (and diff's growing folders there), sums of Deno.lstat;
 * - the same numbers from the scan with and without header, .csv.gz, a
 *   folder of .csv.zst shards and a glob over them, and Parquet;
 * - Parquet: DuckDB reads it back with the documented types and the same
 *   rows as the CSV; converted back to .csv.zst it holds the same lines.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { AGE_BUCKETS, convert, diff, report, summarize, type Summary } from "../mod.ts";
import { formatSummary } from "../lib/cli/summary.ts";
import {
  answersTree,
  du,
  extraNames,
  type RefEntry,
  sums,
  walkRef,
} from "./helpers/answers_tree.ts";
import { lineSet, splitHeader } from "./helpers/csv.ts";
import { assertSameParquet } from "./helpers/duckdb.ts";
import { rootSlashScans, slashRootScans } from "./helpers/c_scan.ts";
import { cli } from "./helpers/run.ts";
import { makePlan, runShards, unzstd } from "./helpers/shard.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

const NOW = 1_800_000_000;
const UIDS = [0, 1001, 1002, 1003];
const GIDS = [0, 2001, 2002];

/** A summary without what differs between equal inputs. */
function numbers(s: Summary): Omit<Summary, "scans" | "elapsedSeconds"> {
  const { scans: _s, elapsedSeconds: _e, ...rest } = s;
  return rest;
}

let ALL: RefEntry[] = [];

function amount(es: RefEntry[]) {
  const [ab, al] = sums(es, ALL);
  return {
    allocatedBytes: al,
    apparentBytes: ab,
    entries: es.length,
    files: es.filter((e) => e.kind === "f").length,
  };
}

function groupBy<K>(es: RefEntry[], key: (e: RefEntry) => K): Map<K, RefEntry[]> {
  const m = new Map<K, RefEntry[]>();
  for (const e of es) m.set(key(e), [...(m.get(key(e)) ?? []), e]);
  return m;
}

const extOf = (p: string) => {
  const name = p.slice(p.lastIndexOf("/") + 1);
  const i = name.lastIndexOf(".");
  return i > 0 ? name.slice(i + 1) : "";
};

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

testNeeding([ZSTD], {
  name: "summary: every number against Deno.lstat and du, from CSV, shards, gzip and Parquet",
  async fn(t) {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await answersTree(root, { seed: 11, files: 500, uids: UIDS, gids: GIDS, now: NOW });
    const withHeader = `${tmp.path}/h.csv.zst`;
    const plain = `${tmp.path}/n.csv`;
    // A first listing sets the folders' atimes (relatime); later ones do not.
    for (
      const args of [["-o", `${tmp.path}/settle.csv`, root], ["--header", "-o", withHeader, root], [
        "-o",
        plain,
        root,
      ]]
    ) {
      const r = await cli(args);
      assertEquals(r.code, 0, r.stderr);
    }
    await Deno.remove(`${tmp.path}/settle.csv`);
    const ref = await walkRef(root);
    ALL = ref;
    const files = ref.filter((e) => e.kind === "f");
    const s = await summarize([withHeader], { top: 100_000, depth: 3, now: NOW });

    await t.step("totals", () => {
      const [ab, al] = sums(ref);
      assertEquals(s.totals, {
        entries: ref.length,
        files: files.length,
        folders: ref.filter((e) => e.kind === "d").length,
        links: ref.filter((e) => e.kind === "l").length,
        other: 0,
        apparentBytes: ab,
        allocatedBytes: al,
        hardLinkNames: 1,
        errors: null,
        nonUtf8Names: 0,
        foldersSeenTwice: 0, // one walk, no bind mount
      });
      assertEquals(s.roots, [root]);
      assert(al > 0 && ab > al, "real data and sparse files");
    });

    await t.step("users and groups (names from getent)", async () => {
      for (
        const [col, rows, count] of [["uid", s.users, s.userCount], [
          "gid",
          s.groups,
          s.groupCount,
        ]] as const
      ) {
        const want = groupBy(ref, (e) => e[col]);
        assertEquals(count, want.size);
        assertEquals(
          new Map(rows.map((r) => [r.id, { ...r, name: undefined, id: undefined }])),
          new Map(
            [...want].map(([id, es]) => [id, { ...amount(es), name: undefined, id: undefined }]),
          ),
        );
        const order = rows.map((r) => r.allocatedBytes);
        assertEquals(order, [...order].sort((a, b) => b - a), "by allocated size");
      }
      const root = await new Deno.Command("getent", { args: ["passwd", "0"] }).output();
      const name = new TextDecoder().decode(root.stdout).split(":")[0];
      assertEquals(s.users.find((u) => u.id === 0)?.name, name || null);
    });

    await t.step("extensions, sizes and ages", () => {
      const byExt = groupBy(files, (e) => extOf(e.path));
      assertEquals(
        new Map(s.extensions.map((x) => [x.ext, { ...x, ext: undefined }])),
        new Map([...byExt].map(([x, es]) => [x, { ...amount(es), ext: undefined }])),
      );
      // how many there are, as for users and groups, in the JSON and the
      // text's title
      assertEquals(s.extensionCount, byExt.size);
      const cut = { ...s, extensions: s.extensions.slice(0, 3) };
      assert(
        formatSummary(cut, Infinity).includes(
          `Extensions (files; top 3 of ${byExt.size}) by allocated size`,
        ),
      );
      const bucket = (size: number) => {
        if (size === 0) return 0;
        let b = 1;
        while (b * 2 <= size) b *= 2;
        return b;
      };
      const bySize = groupBy(files, (e) => bucket(e.size));
      assertEquals(
        s.sizeHistogram.map((b) => [b.min, b.max, b.files, b.apparentBytes, b.allocatedBytes]),
        [...bySize].sort((a, b) => a[0] - b[0]).map(([min, es]) => {
          const a = amount(es);
          return [min, min === 0 ? 1 : min * 2, a.files, a.apparentBytes, a.allocatedBytes];
        }),
      );
      for (const [col, ages] of [["mtime", s.mtimeAges], ["atime", s.atimeAges]] as const) {
        const want = AGE_BUCKETS.map(([label, lo, hi]) => {
          const es = files.filter((e) => {
            const age = NOW - e[col];
            return age >= lo * 86400 && (hi === null || age < hi * 86400);
          });
          return { label, files: es.length, bytes: amount(es).allocatedBytes };
        });
        assertEquals(
          ages.map((a) => ({ label: a.label, files: a.files, bytes: a.allocatedBytes })),
          want,
        );
        assert(want.filter((w) => w.files > 0).length >= 5, "the tree spreads over the buckets");
      }
      // not read for 365 days or more
      const cold = groupBy(files.filter((e) => e.atime <= NOW - 365 * 86400), (e) => e.uid);
      assertEquals(
        new Map(s.coldByUser.map((u) => [u.id, u.allocatedBytes])),
        new Map([...cold].map(([id, es]) => [id, amount(es).allocatedBytes])),
      );
    });

    await t.step("folders: recursive totals equal du's, every folder to depth 3", async () => {
      const folders = ref.filter((e) => e.kind === "d" && e.depth + 1 <= 3);
      assertEquals(s.folders.length, folders.length);
      for (const f of s.folders) {
        const [ab, al] = await du(f.path);
        assertEquals([f.apparentBytes, f.allocatedBytes], [ab, al], f.path);
        const below = ref.filter((e) => e.path.startsWith(f.path + "/"));
        assertEquals(f.entries, below.length, f.path);
        assertEquals(f.files, below.filter((e) => e.kind === "f").length, f.path);
        assertEquals(
          f.level,
          f.path === root ? 0 : f.path.slice(root.length).split("/").length - 1,
        );
      }
      // the tree for charts: each node's parent is in it
      const seen = new Set(s.folderTree.map((f) => f.path));
      for (const f of s.folderTree) assert(f.parent === null || seen.has(f.parent));
    });

    await t.step("busiest folders and largest files", async () => {
      assertEquals(
        new Map(s.busiestFolders.map((f) => [f.path, f.entries])),
        new Map(ref.filter((e) => e.kind === "d").map((e) => [e.path, e.children])),
      );
      // each hard-linked inode once, under its first name
      const extra = extraNames(ALL);
      assert(extra.size > 0, "the tree has no hard link");
      const once = files.filter((e) => !extra.has(e.path));
      const sizes = once.map((e) => e.size).sort((a, b) => b - a);
      assertEquals(s.largestFiles.map((f) => f.apparentBytes), sizes);
      assertEquals(
        new Set(s.largestFiles.map((f) => f.path)),
        new Set(once.map((e) => e.path)),
      );
      const big = s.largestFiles[0];
      const st = await Deno.lstat(big.path);
      assertEquals([big.apparentBytes, big.uid, big.mtime], [
        st.size,
        st.uid,
        Math.floor(st.mtime!.getTime() / 1000),
      ]);
    });

    const want = numbers(s);
    await t.step("without header, .csv.gz, shard folder, glob: the same numbers", async () => {
      assertEquals(numbers(await summarize([plain], { top: 100_000, depth: 3, now: NOW })), want);
      await run("gzip", ["-k", plain]);
      assertEquals(
        numbers(await summarize([`${plain}.gz`], { top: 100_000, depth: 3, now: NOW })),
        want,
      );
      // many gzip members, as pwalk writes them (one per chunk of rows):
      // the header's, then the body cut in three
      const multi = `${tmp.path}/multi.csv.gz`;
      const body = (await Deno.readTextFile(plain)).split("\n").filter(Boolean);
      const third = Math.ceil(body.length / 3);
      const parts = [(await headerLine(withHeader)) + "\n"];
      for (let i = 0; i < 3; i++) {
        parts.push(body.slice(i * third, (i + 1) * third).join("\n") + "\n");
      }
      for (const part of parts) {
        const gz = new Blob([part]).stream().pipeThrough(new CompressionStream("gzip"));
        await Deno.writeFile(multi, await new Response(gz).bytes(), { append: true });
      }
      const members = await new Deno.Command("gzip", { args: ["-lv", multi] }).output();
      assert(members.success, "gzip reads the joined members");
      assertEquals(
        numbers(await summarize([multi], { top: 100_000, depth: 3, now: NOW })),
        want,
      );
      const lines = (await Deno.readTextFile(plain)).split("\n").filter(Boolean);
      const shards = `${tmp.path}/shards`;
      await Deno.mkdir(shards);
      const n = 3, per = Math.ceil(lines.length / n);
      for (let i = 0; i < n; i++) {
        const body = lines.slice(i * per, (i + 1) * per).join("\n") + "\n";
        // shard 1 carries pwalk's header, the others do not
        const text = i === 1 ? (await headerLine(withHeader)) + "\n" + body : body;
        await Deno.writeTextFile(`${shards}/scan-${i}.csv`, text);
        await run("zstd", ["-q", "--rm", `${shards}/scan-${i}.csv`]);
      }
      assertEquals(numbers(await summarize([shards], { top: 100_000, depth: 3, now: NOW })), want);
      assertEquals(
        numbers(
          await summarize([`${shards}/scan-*.csv.zst`], { top: 100_000, depth: 3, now: NOW }),
        ),
        want,
      );
    });

    await t.step(
      "a small memory limit (DuckDB spills to its temp folder): the same numbers",
      async () => {
        const spill = `${tmp.path}/spill`;
        await Deno.mkdir(spill);
        const small = await summarize([withHeader], {
          top: 100_000,
          depth: 3,
          now: NOW,
          memoryLimit: "48MB",
          tempDirectory: spill,
          threads: 1,
        });
        assertEquals(numbers(small), want);
        assertEquals([...Deno.readDirSync(spill)], [], "the spill folder is removed");
      },
    );

    await t.step("Parquet: typed, the same rows, the same numbers, and back to CSV", async () => {
      const pq = `${tmp.path}/scan.parquet`;
      const c = await convert([withHeader], pq);
      assertEquals(c.rows, ref.length);
      assertEquals(numbers(await summarize([pq], { top: 100_000, depth: 3, now: NOW })), want);
      const db = await DuckDBInstance.create(":memory:");
      const con = await db.connect();
      try {
        const types = (await con.runAndReadAll(`DESCRIBE SELECT * FROM '${pq}'`))
          .getRowObjectsJson()
          .map((r) => [r.column_name, r.column_type]);
        assertEquals(types, [
          ["inode", "UBIGINT"],
          ["parent-inode", "UBIGINT"],
          ["directory-depth", "INTEGER"],
          ["filename", "VARCHAR"],
          ["fileExtension", "VARCHAR"],
          ["UID", "UINTEGER"],
          ["GID", "UINTEGER"],
          ["st_size", "BIGINT"],
          ["st_dev", "BIGINT"],
          ["st_blocks", "BIGINT"],
          ["st_nlink", "UBIGINT"],
          ["st_mode", "UINTEGER"],
          ["st_atime", "BIGINT"],
          ["st_mtime", "BIGINT"],
          ["st_ctime", "BIGINT"],
          ["pw_fcount", "BIGINT"],
          ["pw_dirsum", "BIGINT"],
        ]);
        // every row, written here as pwalk's CSV line, equals the scan's lines
        const rows = (await con.runAndReadAll(`SELECT * FROM '${pq}'`)).getRowsJS();
        const q = (v: unknown) => `"${String(v).replaceAll('"', '""')}"`;
        const lines = rows.map((r) =>
          r.map((v, i) =>
            i === 3 || i === 4
              ? q(v)
              : i === 11
              ? `"0${Number(v).toString(8).padStart(6, "0")}"`
              : String(v)
          )
            .join(",")
        ).sort();
        assertEquals(lines, lineSet(await Deno.readFile(plain)));
      } finally {
        con.closeSync();
        db.closeSync();
      }
      // `pwalk -o scan.parquet ROOT`: the report straight to Parquet
      const direct = `${tmp.path}/direct.parquet`;
      const rep = await cli(["-o", direct, root]);
      assertEquals(rep.code, 0, rep.stderr);
      assertEquals(numbers(await summarize([direct], { top: 100_000, depth: 3, now: NOW })), want);
      // the library writes it itself: the very rows and types of DuckDB's conversion of the CSV
      await assertSameParquet(pq, direct, ref.length);
      const back = `${tmp.path}/back.csv.zst`;
      await convert([pq], back);
      const unz = await new Deno.Command("zstd", { args: ["-dc", back], stdout: "piped" }).output();
      const { header, rest } = splitHeader(unz.stdout);
      assertEquals(header, await headerLine(withHeader));
      assertEquals(lineSet(rest), lineSet(await Deno.readFile(plain)));
    });

    await t.step(
      "Parquet that DuckDB wrote from README's view (st_mode as text) or all text: the same numbers",
      async () => {
        // README's SQL defines the scan with st_mode as VARCHAR ("0100644");
        // COPY of that view writes st_mode as text, and with all_varchar
        // every column (the sizes and times as decimal text)
        const db = await DuckDBInstance.create(":memory:");
        const con = await db.connect();
        const view = `${tmp.path}/view.parquet`, text = `${tmp.path}/text.parquet`;
        const mixed = `${tmp.path}/mixed`;
        await Deno.mkdir(mixed);
        try {
          await con.run(
            `CREATE VIEW scan AS SELECT * FROM read_csv('${withHeader}', ` +
              `types = {'st_mode': 'VARCHAR'})`,
          );
          await con.run(`COPY (SELECT * FROM scan) TO '${view}' (FORMAT parquet)`);
          await con.run(
            `COPY (SELECT * FROM read_csv('${withHeader}', all_varchar = true)) TO '${text}' ` +
              "(FORMAT parquet)",
          );
          // one scan in two files of different types: pwalk's Parquet (st_mode
          // a number) first, then the view's (st_mode text), which DuckDB's
          // read_parquet of both would cast to the first file's types
          const own = `${tmp.path}/own.parquet`;
          await convert([withHeader], own);
          await con.run(
            `COPY (FROM '${own}' WHERE "directory-depth" < 1) TO '${mixed}/a.parquet' ` +
              "(FORMAT parquet)",
          );
          await con.run(
            `COPY (FROM '${view}' WHERE "directory-depth" >= 1) TO '${mixed}/b.parquet' ` +
              "(FORMAT parquet)",
          );
          const types = async (f: string) =>
            Object.fromEntries(
              (await con.runAndReadAll(`DESCRIBE SELECT * FROM '${f}'`)).getRowObjectsJson()
                .map((r) => [r.column_name, r.column_type]),
            );
          assertEquals((await types(view)).st_mode, "VARCHAR");
          assertEquals([(await types(text)).st_mode, (await types(text)).st_mtime], [
            "VARCHAR",
            "VARCHAR",
          ]);
          assertEquals((await types(`${mixed}/a.parquet`)).st_mode, "UINTEGER");
        } finally {
          con.closeSync();
          db.closeSync();
        }
        for (const f of [view, text, mixed]) {
          assertEquals(
            numbers(await summarize([f], { top: 100_000, depth: 3, now: NOW })),
            want,
            f,
          );
        }
        // and back to CSV: the scan's very lines (st_mode "0100644", not "0304444")
        for (const f of [view, text, mixed]) {
          const back = `${tmp.path}/back-${f.split("/").pop()}.csv`;
          const r = await cli(["convert", "--no-header", f, back]);
          assertEquals(r.code, 0, r.stderr);
          assertEquals(lineSet(await Deno.readFile(back)), lineSet(await Deno.readFile(plain)), f);
        }
      },
    );

    await t.step("ages as of the scan's time by default (its newest file's mtime)", async () => {
      const copy = `${tmp.path}/dated.csv.zst`;
      await Deno.copyFile(withHeader, copy);
      await Deno.utime(copy, NOW, NOW);
      const d = await summarize([copy], { top: 100_000, depth: 3 });
      assertEquals(d.now, NOW);
      assertEquals(numbers(d), numbers(s));
      const r = await cli(["summary", "--top", "3", copy]);
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(
        new TextDecoder().decode(r.stdout),
        `ages as of ${new Date(NOW * 1000).toISOString().slice(0, 10)} UTC`,
      );
      // --now without a zone is local time ($TZ); the dates printed are UTC's,
      // and say so: 18:00 in Los Angeles on Jan 31 is Feb 1 in UTC
      const la = await cli(["summary", "--now", "2026-01-31T18:00", "--top", "1", copy], {
        env: { TZ: "America/Los_Angeles" },
      });
      assertEquals(la.code, 0, la.stderr);
      const want = new Date(Date.UTC(2026, 1, 1, 2)).toISOString().slice(0, 10);
      assertStringIncludes(la.text, `ages as of ${want} UTC`);
    });

    await t.step("CLI --json prints what summarize() returns", async () => {
      const r = await cli([
        "summary",
        "--json",
        "--top",
        "100000",
        "--depth",
        "3",
        "--now",
        String(NOW),
        withHeader,
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(numbers(JSON.parse(new TextDecoder().decode(r.stdout))), want);
      const text = await cli(["summary", "--top", "3", "--now", String(NOW), withHeader], {
        env: { COLUMNS: "80" },
      });
      assertEquals(text.code, 0, text.stderr);
      const out = new TextDecoder().decode(text.stdout);
      for (const l of out.split("\n")) assert([...l].length <= 80, `wider than 80: ${l}`);
      assert(out.includes("Cold data"), out);
    });
  },
});

async function headerLine(zst: string): Promise<string> {
  const r = await new Deno.Command("zstd", { args: ["-dc", zst], stdout: "piped" }).output();
  return splitHeader(r.stdout).header;
}

testNeeding([ZSTD], {
  name: "summary of one shard's file: folders without their own row count every entry below them",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const d of ["a", "b", "c"]) {
      await Deno.mkdir(`${root}/${d}/sub`, { recursive: true });
      for (let i = 0; i < 20; i++) await Deno.writeTextFile(`${root}/${d}/sub/f${i}`, "x");
    }
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const { shards } = await makePlan(root, 3, `${dir}/plan.json`);
    await runShards(`${dir}/plan.json`, dir, shards);
    // the last shard holds no row of the root: every row of it is below the root
    const last = `${dir}/scan-${shards - 1}.csv.zst`;
    const text = new TextDecoder().decode(await unzstd(last));
    const rows = text.split("\n").filter((l) => l).length;
    assert(!text.includes(`"${root}",`), "the root's row is in it");
    const s = await summarize([last], { depth: 1 });
    const top = s.folderTree.find((f) => f.path === root);
    assertEquals(top?.entries, rows, JSON.stringify(s.folderTree));
  },
});

Deno.test("summary and diff with a name service that hangs: numbers after PWALK_NAMES_TIMEOUT, one warning, both lookups at once", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  await Deno.writeTextFile(`${root}/g`, "y"); // (for diff: a change, a user and a group to name)
  const scan2 = `${tmp.path}/s2.csv`;
  assertEquals((await cli(["-o", scan2, root])).code, 0);
  // a getent that never answers (a dead LDAP server), first on PATH; each
  // notes whether the other one ran when it began (its PID alive)
  const bin = `${tmp.path}/bin`, log = `${tmp.path}/getent`;
  await Deno.mkdir(bin);
  await Deno.mkdir(log);
  await Deno.writeTextFile(
    `${bin}/getent`,
    `#!/bin/sh
echo $$ > '${log}'/"$1.pid"
for f in '${log}'/*.pid; do
  [ "$f" = '${log}'/"$1.pid" ] && continue
  [ -d /proc/"$(cat "$f")" ] && echo "$1 began while $f ran" >> '${log}/overlap'
done
exec sleep 600
`,
    { mode: 0o755 },
  );
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}`, PWALK_NAMES_TIMEOUT: "1" };
  for (const args of [["summary", "--json", scan], ["diff", "--json", scan, scan2]]) {
    await Deno.remove(`${log}/overlap`).catch(() => {});
    const r = await cli(args, { env, timeoutMs: 120_000 });
    assert(!r.timedOut, `${args[0]} hung on getent`);
    assertEquals(r.code, 0, r.stderr);
    const s = JSON.parse(r.text) as Summary;
    if (args[0] === "summary") {
      assertEquals(s.users.map((u) => [u.id, u.name]), [[Deno.uid(), null]]);
    }
    // said in one line; both getents asked (passwd and group), the one
    // begun while the other ran
    assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assertMatch(
      r.stderr,
      /^pwalk: getent passwd and getent group did not answer within 1 s.*PWALK_NAMES_TIMEOUT/,
    );
    assertEquals(
      [...Deno.readDirSync(log)].map((e) => e.name).filter((n) => n.endsWith(".pid")).sort(),
      ["group.pid", "passwd.pid"],
    );
    assert(
      (await Deno.stat(`${log}/overlap`).catch(() => null))?.size,
      `${args[0]}: getent passwd and group one after the other`,
    );
  }
  // a value that is no number of seconds above 0 (at most an hour): bad usage, one line
  for (const v of ["abc", "-1", "0", "3601", "1s", "0x10"]) {
    const r = await cli(["summary", scan], { env: { PWALK_NAMES_TIMEOUT: v } });
    assertEquals([r.code, r.stderr.trimEnd().split("\n").length], [2, 1], `${v}: ${r.stderr}`);
    assertMatch(r.stderr, new RegExp(`^pwalk: PWALK_NAMES_TIMEOUT .*'${v}'`));
  }
  // (taken: no usage line; 0.5 s may pass on a loaded machine before the
  // real getent answers, which says so in a line of its own)
  for (const v of ["", "0.5", "30"]) {
    const r = await cli(["summary", "--json", scan], { env: { PWALK_NAMES_TIMEOUT: v } });
    assertEquals(r.code, 0, `'${v}': ${r.stderr}`);
    assert(!r.stderr.includes("PWALK_NAMES_TIMEOUT "), `'${v}': ${r.stderr}`);
    if (v !== "0.5") assertEquals(r.stderr, "", `'${v}'`);
  }
});

Deno.test("summary: sizes just below a power of two land in their own bucket, up to 2^62", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/big.csv`;
  // a hand-written scan: one file of each size (no file system holds them)
  const sizes: bigint[] = [];
  for (const k of [1n, 31n, 49n, 53n, 55n, 62n]) sizes.push((1n << k) - 1n, 1n << k);
  const rows = ['1,0,-1,"h","",0,0,4096,1,8,2,"0040755",1,2,3,' + sizes.length + ",0"];
  sizes.forEach((size, i) =>
    rows.push(`${i + 2},1,0,"h/f${i}","",0,0,${size},1,8,1,"0100644",1,2,3,-1,0`)
  );
  await Deno.writeTextFile(scan, rows.join("\n") + "\n");
  const s = await summarize([scan], { names: false, now: NOW });
  // the bucket of a size: [2^(bit length - 1), 2^bit length), by BigInt
  const want = new Map<number, number>();
  for (const size of sizes) {
    const b = size.toString(2).length - 1;
    want.set(b, (want.get(b) ?? 0) + 1);
  }
  const got = new Map(s.sizeHistogram.map((b) => [Math.round(Math.log2(b.min)), b.files]));
  assertEquals(got, want);
});

Deno.test("summarize: a now that is no number of seconds is a RangeError, before any work", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/s.csv`;
  await Deno.writeTextFile(scan, '1,0,-1,"/t","",0,0,4096,1,8,2,"0040755",1,2,3,0,0\n');
  for (const now of ["2027-01-01", NaN, Infinity]) {
    await assertRejects(
      () => summarize([scan], { now: now as number }),
      RangeError,
      "now must be seconds since 1970",
    );
  }
  // a number is taken as it is
  assertEquals((await summarize([scan], { now: 1_800_000_000 })).now, 1_800_000_000);
});

Deno.test("summary: hard links whose names print the same (a\\nb beside ab) count their inode once, as du", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/hl`;
  await Deno.mkdir(root);
  await Deno.writeFile(`${root}/ab`, new Uint8Array(100_000).fill(0x78));
  // pwalk drops the control byte: both names print as hl/ab, one inode
  await Deno.link(`${root}/ab`, `${root}/a\nb`);
  await Deno.writeFile(`${root}/c`, new Uint8Array(10));
  const scan = `${tmp.path}/hl.csv`;
  const r = await cli(["--header", "-o", scan, root]);
  assertEquals(r.code, 0, r.stderr);
  // the reference: each inode once, from Deno.lstat; and du's total
  const inodes = new Map<number, Deno.FileInfo>();
  for (const p of [root, `${root}/ab`, `${root}/a\nb`, `${root}/c`]) {
    const st = await Deno.lstat(p);
    inodes.set(st.ino!, st);
  }
  assertEquals(inodes.size, 3);
  const du = await new Deno.Command("du", { args: ["-sB1", root] }).output();
  const duBytes = Number(new TextDecoder().decode(du.stdout).split("\t")[0]);
  const all = [...inodes.values()];
  const allocated = all.reduce((a, s) => a + s.blocks! * 512, 0);
  assertEquals(allocated, duBytes);
  for (const pq of [false, true]) {
    let input = scan;
    if (pq) {
      input = `${tmp.path}/hl.parquet`;
      await convert([scan], input);
    }
    const s = await summarize([input], { names: false, top: 100 });
    assertEquals(
      [s.totals.entries, s.totals.hardLinkNames, s.totals.allocatedBytes, s.totals.apparentBytes],
      [4, 1, duBytes, all.reduce((a, s) => a + s.size, 0)],
      input,
    );
    assertEquals(
      s.largestFiles.map((f) => [f.path, f.apparentBytes]),
      [[`${root}/ab`, 100_000], [`${root}/c`, 10]],
      input,
    );
    assertEquals(s.users.map((u) => u.allocatedBytes), [duBytes]);
  }
});

Deno.test("summary: folders whose names print the same (d beside d\\n) are one folder, whose entries are the names below both", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/R`;
  // pwalk drops the control byte: both folders print as R/d
  for (const d of ["d", "d\n"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  await Deno.writeFile(`${root}/d/f`, new Uint8Array(1000));
  await Deno.writeFile(`${root}/d\n/g`, new Uint8Array(3000));
  const scan = `${tmp.path}/r.csv`;
  const r = await cli(["-o", scan, root]);
  assertEquals(r.code, 0, r.stderr);
  // the reference: the names in both folders (Deno.readDir), and the bytes
  // of both folders and everything in them (Deno.lstat), as du -s counts
  let entries = 0, apparent = 0, allocated = 0;
  for (const d of ["d", "d\n"]) {
    const st = await Deno.lstat(`${root}/${d}`);
    apparent += st.size, allocated += st.blocks! * 512;
    for await (const e of Deno.readDir(`${root}/${d}`)) {
      const es = await Deno.lstat(`${root}/${d}/${e.name}`);
      entries++, apparent += es.size, allocated += es.blocks! * 512;
    }
  }
  assertEquals(entries, 2);
  for (const pq of [false, true]) {
    let input = scan;
    if (pq) {
      input = `${tmp.path}/r.parquet`;
      await convert([scan], input);
    }
    const s = await summarize([input], { names: false, top: 100, depth: 3 });
    const d = s.folders.find((f) => f.path === `${root}/d`);
    assertEquals(
      [d?.entries, d?.files, d?.apparentBytes, d?.allocatedBytes],
      [entries, entries, apparent, allocated],
      input,
    );
  }
});

/** A pwalk CSV row (no header) of the fields that matter here. */
function hostRow(
  ino: number,
  parent: number,
  depth: number,
  path: string,
  size: number,
  nlink: number,
  dir: boolean,
  dev = 64768,
): string {
  const mode = dir ? "0040755" : "0100644";
  return `${ino},${parent},${depth},"${path}","",1001,2001,${size},${dev},${
    Math.ceil(size / 512)
  },${nlink},"${mode}",1700000000,1700000000,1700000000,${dir ? 1 : -1},0\n`;
}

/** Totals of CSV files the independent way: DuckDB, each file's (st_dev, inode) once. */
async function hostTotals(files: string[][]): Promise<[number, number, number]> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    // files: groups of paths that are one namespace
    const src = files.flatMap((g, i) =>
      g.map((f) =>
        `SELECT ${i} AS g, column03 AS name, column07 AS size, column08 AS dev, column00 AS ino, ` +
        `column11 AS mode FROM read_csv('${f}', header = false, all_varchar = true)`
      )
    ).join(" UNION ALL ");
    const r = await c.runAndReadAll(`WITH t AS (${src}),
      u AS (SELECT g, dev, ino, CASE WHEN mode = '0040755' THEN name ELSE '' END AS d,
                   any_value(size::BIGINT) AS size, count(*) AS names FROM t GROUP BY ALL)
      SELECT sum(size), sum(names - 1), count(*) FILTER (d <> '') -
             count(DISTINCT (g, dev, ino)) FILTER (d <> '') FROM u`);
    return r.getRows()[0].map(Number) as [number, number, number];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

Deno.test("summary: scans of unrelated roots whose st_dev and inodes coincide (two hosts' 253:0) are apart; a plan's shards still share hard links", async () => {
  // before: hostB's /scratch/d/x was taken for a second name of hostA's
  // /home/d/x (st_dev 64768 and inode 5000 both), its bytes dropped, and
  // the folders numbered 131073 in both "seen twice"
  await using tmp = await tempDir();
  const GiB = 2 ** 30;
  const a = `${tmp.path}/hostA-home.csv`, b = `${tmp.path}/hostB-scratch.csv`;
  await Deno.writeTextFile(
    a,
    hostRow(2, 2, -1, "/home", 4096, 4, true) +
      hostRow(131073, 2, 0, "/home/d", 4096, 2, true) +
      hostRow(5000, 131073, 1, "/home/d/x", 4 * GiB, 2, false) +
      hostRow(5000, 2, 0, "/home/y", 4 * GiB, 2, false), // (a hard link in A: once)
  );
  await Deno.writeTextFile(
    b,
    hostRow(2, 2, -1, "/scratch", 4096, 3, true) +
      hostRow(131073, 2, 0, "/scratch/d", 4096, 2, true) +
      hostRow(5000, 131073, 1, "/scratch/d/x", 6.5 * GiB, 2, false) +
      hostRow(77, 2, 0, "/scratch/z", 700 * 2 ** 20, 1, false),
  );
  const [bytes, extra, twice] = await hostTotals([[a], [b]]);
  assertEquals([bytes, extra, twice], [4 * GiB + 6.5 * GiB + 700 * 2 ** 20 + 4 * 4096, 1, 0]);
  const s = await summarize([a, b], { names: false, top: 100, depth: 1 });
  assertEquals(
    [s.totals.apparentBytes, s.totals.hardLinkNames, s.totals.foldersSeenTwice],
    [bytes, extra, twice],
  );
  const byPath = new Map(s.folders.map((f) => [f.path, f.apparentBytes]));
  assertEquals(byPath.get("/home"), 4 * GiB + 2 * 4096);
  assertEquals(byPath.get("/scratch"), 6.5 * GiB + 700 * 2 ** 20 + 2 * 4096);
  assertEquals(byPath.get("/scratch/d"), 6.5 * GiB + 4096);
  const text = await cli(["summary", "--no-names", a, b]);
  assertEquals(text.code, 0, text.stderr);
  assert(!text.text.includes("two or more paths"), text.text);
  // diff: B's x against itself with A beside it on both sides: nothing changed
  const d = await cli(["diff", "--json", "--no-names", `${tmp.path}/`, `${tmp.path}/`]);
  assertEquals(d.code, 0, d.stderr);
  assertEquals(JSON.parse(d.text).new.apparentBytes, bytes);

  // shards of one plan: shard 0 holds ROOT's row, shard 1 rows below it
  // only; a hard link between them is one inode (as a single run's scan)
  const sh = `${tmp.path}/shards`;
  await Deno.mkdir(sh);
  await Deno.writeTextFile(
    `${sh}/scan-0.csv`,
    hostRow(2, 2, -1, "/data", 4096, 4, true) +
      hostRow(5000, 2, 0, "/data/x", 3 * GiB, 2, false),
  );
  await Deno.writeTextFile(
    `${sh}/scan-1.csv`,
    hostRow(131073, 2, 0, "/data/d", 4096, 2, true) +
      hostRow(5000, 131073, 1, "/data/d/x", 3 * GiB, 2, false),
  );
  const [sb, se] = await hostTotals([[`${sh}/scan-0.csv`, `${sh}/scan-1.csv`]]);
  const ss = await summarize([sh], { names: false });
  assertEquals([ss.totals.apparentBytes, ss.totals.hardLinkNames], [sb, se]);
  assertEquals([sb, se], [3 * GiB + 2 * 4096, 1]);
});

Deno.test("summary and diff: --top and --depth up to the limits --help tells, $COLUMNS below 40 ignored as --help says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/a-folder-with-a-name-long-enough-to-be-cut`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/sub/a-file-with-a-long-name-too.txt`, "x".repeat(5000));
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  for (const [command, scans] of [["summary", [scan]], ["diff", [scan, scan]]] as const) {
    const help = (await cli([command, "--help"])).text;
    for (const option of ["top", "depth"]) {
      const m = new RegExp(`--${option} [A-Z][\\s\\S]*?at most ([\\d,]+)\\)`).exec(help);
      assert(m, `${command} --help tells --${option}'s limit`);
      const limit = Number(m![1].replaceAll(",", ""));
      const ok = await cli([command, "--no-names", `--${option}`, String(limit), ...scans]);
      assertEquals(ok.code, 0, `${command} --${option} ${limit}: ${ok.stderr}`);
      const over = await cli([command, `--${option}`, String(limit + 1), ...scans]);
      assertEquals(over.code, 2, `${command} --${option} ${limit + 1}`);
      assertStringIncludes(over.stderr, `--${option} needs a whole number from`);
      assertStringIncludes(over.stderr, ` to ${limit}, got '${limit + 1}'`);
    }
    assertStringIncludes(
      help.replace(/\s+/g, " "),
      "$COLUMNS when it is 40 or more (a smaller one is ignored",
    );
    const at = async (columns: string) =>
      (await cli([command, "--no-names", ...scans], { env: { COLUMNS: columns } })).text;
    const whole = await at("1000000");
    assertEquals(await at("39"), whole, `${command}: COLUMNS=39 is ignored`);
    const narrow = await at("40");
    assert(narrow !== whole, `${command}: COLUMNS=40 is taken`);
    for (const line of narrow.split("\n")) assert(line.length <= 40, `${command}: ${line}`);
    assert(whole.split("\n").some((l) => l.length > 40), `${command}: a line wider than 40`);
  }
});

Deno.test("summary of an old C pwalk's scan with ROOT typed as 'R/' ('R/', 'R//a'): the same answer as this pwalk's scan ('R', 'R/a')", async () => {
  await using tmp = await tempDir();
  const { root, now, old } = await slashRootScans(tmp.path);
  const answer = async (scan: string) => {
    const { scans: _s, elapsedSeconds: _e, ...rest } = await summarize([scan], {
      names: false,
      now: 1_800_000_000,
      depth: 3,
    });
    return rest;
  };
  const c = await answer(old);
  assertEquals(c.roots, [root]);
  assertEquals(c, await answer(now));
  assert(!JSON.stringify(c).includes("//"), JSON.stringify(c));
});

Deno.test("summary of an old C pwalk's scan of ROOT '/' ('/', '//a'): the same answer as this pwalk's ('/', '/a')", async () => {
  await using tmp = await tempDir();
  const { now, old } = await rootSlashScans(tmp.path);
  const answer = async (scan: string) => {
    const { scans: _s, elapsedSeconds: _e, ...rest } = await summarize([scan], {
      names: false,
      now: 1_800_000_000,
      depth: 3,
    });
    return rest;
  };
  const c = await answer(old);
  assertEquals(c.roots, ["/"]);
  assertEquals(c, await answer(now));
  assert(!JSON.stringify(c).includes("//"), JSON.stringify(c));
});

/** Recursive totals of every folder below `dir` (itself included), by Deno.readDir and Deno.lstat, as du -s counts them. */
async function chainTotals(
  dir: string,
  level: number,
  parent: string | null,
  out: Map<string, [number, string | null, number, number, number, number]>,
): Promise<[number, number, number, number]> {
  const st = await Deno.lstat(dir);
  let al = st.blocks! * 512, ab = st.size, n = 0, nf = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    n++;
    if (e.isDirectory) {
      const [a, b, c, d] = await chainTotals(p, level + 1, dir, out);
      al += a, ab += b, n += c, nf += d;
    } else {
      const es = await Deno.lstat(p);
      al += es.blocks! * 512, ab += es.size;
      if (es.isFile) nf++;
    }
  }
  out.set(dir, [level, parent, al, ab, n, nf]);
  return [al, ab, n, nf];
}

Deno.test("summary and diff: a folder chain 250 deep, --depth past it and inside it: every level's recursive totals are Deno.lstat's", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/R`;
  const deep = 250;
  let d = root;
  for (let i = 0; i < deep; i++) {
    d += i % 50 === 7 ? "/x y" : "/d";
    await Deno.mkdir(d, { recursive: true });
    await Deno.writeFile(`${d}/f`, new Uint8Array((i * 37) % 5000));
    // a side folder now and then, and a link
    if (i % 90 === 3) {
      await Deno.mkdir(`${d}/side/s`, { recursive: true });
      await Deno.writeFile(`${d}/side/s/g`, new Uint8Array(9000));
      await Deno.symlink("f", `${d}/ln`);
    }
  }
  const bottom = d;
  const oldScan = `${tmp.path}/old.csv`, newScan = `${tmp.path}/new.csv`;
  await report(root, { output: oldScan });
  const before = new Map<string, [number, string | null, number, number, number, number]>();
  await chainTotals(root, 0, null, before);
  const rows = (s: Summary) =>
    new Map(s.folders.map((f) => [f.path, [
      f.level,
      f.parent,
      f.allocatedBytes,
      f.apparentBytes,
      f.entries,
      f.files,
    ]]));
  for (const depth of [10_000, 100, 0]) {
    const s = await summarize([oldScan], { names: false, top: 1_000_000, depth });
    const want = new Map([...before].filter(([, v]) => v[0] <= depth));
    assertEquals(rows(s), want, `--depth ${depth}`);
    assertEquals(s.folderTree.length, want.size);
  }
  // a file added at the bottom, one removed half way: every folder above
  // each changed by the file's bytes, the others not at all
  await Deno.writeFile(`${bottom}/new`, new Uint8Array(12345));
  const half = [...before].find(([, v]) => v[0] === deep / 2)![0];
  await Deno.remove(`${half}/f`);
  await report(root, { output: newScan });
  const after = new Map<string, [number, string | null, number, number, number, number]>();
  await chainTotals(root, 0, null, after);
  const r = await diff([oldScan], [newScan], { names: false, top: 1_000_000, depth: 10_000 });
  const want = [...after].filter(([p, v]) => before.get(p)!.join() !== v.join()).map((
    [p, v],
  ) => [p, v[0], before.get(p)!.slice(2), v.slice(2)]);
  assertEquals(want.length, deep + 1);
  assertEquals(
    r.growingFolders.map((f) => [f.path, f.level, Object.values(f.old), Object.values(f.new)])
      .sort(),
    want.map(([p, l, o, n]) => [p, l, o, n]).sort(),
  );
});
