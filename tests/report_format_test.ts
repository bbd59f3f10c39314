/**
 * The output's suffix decides the format, case-insensitively: `.zst` and
 * `.zstd` zstd, `.gz` gzip, anything else plain CSV (checked by the files'
 * magic bytes and by `zstd -dc` / `gzip -dc`).  A `--level` (API `level`)
 * or `compress` that contradicts the suffix is refused before anything is
 * written: exit 2 with one line from the CLI, a RangeError from report().
 * On stdout the output is plain unless the API asks for compression.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { report, reportParquet } from "../mod.ts";
import { reportFormat } from "../lib/report.ts";
import { lineSet } from "./helpers/csv.ts";
import { cli, deno, REPO, run } from "./helpers/run.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP = [0x1f, 0x8b];

/** A small tree, listed once so that its folders' atimes stay put. */
async function smallTree(root: string): Promise<void> {
  Deno.mkdirSync(`${root}/sub`, { recursive: true });
  for (let i = 0; i < 40; i++) Deno.writeTextFileSync(`${root}/sub/f${i}`, "y".repeat(i));
  await report(root, { output: `${root}.settle.csv` });
  await Deno.remove(`${root}.settle.csv`);
}

function magic(file: string): "zstd" | "gzip" | "none" | "parquet" {
  const b = [...Deno.readFileSync(file).subarray(0, 4)];
  if (ZSTD_MAGIC.every((x, i) => b[i] === x)) return "zstd";
  if (GZIP.every((x, i) => b[i] === x)) return "gzip";
  if (String.fromCharCode(...b) === "PAR1") return "parquet";
  return "none";
}

async function unpack(tool: string, data: Uint8Array): Promise<Uint8Array> {
  const p = new Deno.Command(tool, { args: ["-dc"], stdin: "piped", stdout: "piped" }).spawn();
  const w = p.stdin.getWriter();
  await w.write(data);
  await w.close();
  const r = await p.output();
  assert(r.success, `${tool} -dc failed`);
  return r.stdout;
}

testNeeding([ZSTD], {
  name: "CLI: the suffix decides the format, in any case",
  async fn() {
    await using tmp = await tempDir("pwalk-fmt-");
    const root = `${tmp.path}/tree`;
    await smallTree(root);
    const cases: [string, "zstd" | "gzip" | "none"][] = [
      ["a.csv", "none"],
      ["b.csv.gz", "gzip"],
      ["c.CSV.GZ", "gzip"],
      ["d.csv.zst", "zstd"],
      ["e.csv.ZST", "zstd"],
      ["f.csv.zstd", "zstd"],
      ["g.csv.Zstd", "zstd"],
      ["h.txt", "none"],
      ["i.gzip", "none"],
    ];
    for (const [name, kind] of cases) {
      const out = `${tmp.path}/${name}`;
      const r = await cli(["-o", out, root]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(magic(out), kind, name);
    }
    const plain = lineSet(Deno.readFileSync(`${tmp.path}/a.csv`));
    assertEquals(lineSet(await unpack("gzip", Deno.readFileSync(`${tmp.path}/c.CSV.GZ`))), plain);
    assertEquals(lineSet(await unpack("zstd", Deno.readFileSync(`${tmp.path}/g.csv.Zstd`))), plain);
  },
});

Deno.test("CLI: a --level the suffix contradicts is bad usage (exit 2, one line, nothing written)", async () => {
  await using tmp = await tempDir("pwalk-fmt-");
  const root = `${tmp.path}/tree`;
  await smallTree(root);
  const cases: [string[], RegExp][] = [
    [["--level", "0", "-o", "x.csv.zst"], /--level needs a whole number from 1 to 19, got '0'/],
    [["--level", "19", "-o", "s.csv"], /^pwalk: --level 19 given for plain CSV/],
    [["--level", "1", "-o", "s.csv"], /^pwalk: --level 1 given for plain CSV/],
    // gzip's range, not zstd's, in the message
    [["--level", "10", "-o", "s.csv.gz"], /--level needs a whole number from 1 to 9, got '10'/],
    [["--level", "0", "-o", "s.csv.gz"], /--level needs a whole number from 1 to 9, got '0'/],
    [["--level", "3"], /^pwalk: --level 3 given for plain CSV to stdout/],
    // a suffix of a format pwalk does not write: never plain CSV under it
    [["-o", "s.csv.xz"], /s\.csv\.xz names xz compression, which pwalk does not write/],
    [["-o", "s.CSV.BZ2"], /names bzip2 compression, which pwalk does not write/],
    [["-o", "s.tgz"], /names a gzipped tar archive/],
    // a tar name under a compression pwalk writes: compressed CSV is no archive
    [["-o", "s.tar.gz"], /s\.tar\.gz names a gzipped tar archive, which pwalk does not write/],
    [
      ["-o", "s.tar.zst"],
      /names a zstd-compressed tar archive, .*: name it \.zst, \.gz or \.parquet/,
    ],
    [["-o", "s.TAR.Zstd"], /names a zstd-compressed tar archive/],
    [["-o", "s.tzst"], /names a zstd-compressed tar archive/],
    [["-o", "s.tar.xz"], /names xz compression/],
    [["-o", "s.txz"], /names an xz-compressed tar archive/],
    [["-o", "s.tbz2"], /names a bzip2-compressed tar archive/],
    [["-o", "s.zip"], /names a zip archive/],
    // a Parquet name under a compression: compressed CSV no Parquet reader opens
    [["-o", "s.parquet.gz"], /s\.parquet\.gz names a gzipped Parquet file, which pwalk does not/],
    [["-o", "s.Parquet.ZST"], /names a zstd-compressed Parquet file/],
    [["-o", "s.parquet.zstd"], /names a zstd-compressed Parquet file/],
  ];
  for (const [args, what] of cases) {
    const full = args.map((a) => a.includes(".") ? `${tmp.path}/${a}` : a);
    const r = await cli([...full, root]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assertMatch(lines[0], /^pwalk: /);
    assertMatch(lines[0], what);
    assertEquals(r.stdout.length, 0);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["tree"]);
  // and levels that fit
  for (const [level, name] of [["19", "ok.csv.zst"], ["9", "ok.csv.gz"], ["1", "ok1.csv.gz"]]) {
    const r = await cli(["--level", level, "-o", `${tmp.path}/${name}`, root]);
    assertEquals(r.code, 0, r.stderr);
  }
});

Deno.test("report(): compress defaults from the suffix; contradictions throw a RangeError", async () => {
  await using tmp = await tempDir("pwalk-fmt-");
  const root = `${tmp.path}/tree`;
  await smallTree(root);
  const bad: [string, Record<string, unknown>, RegExp][] = [
    [
      "s.csv.gz",
      { compress: "zstd" },
      /compress "zstd" contradicts .*s\.csv\.gz, which names gzip/,
    ],
    ["s.csv", { compress: "gzip" }, /compress "gzip" contradicts .*s\.csv, which names plain CSV/],
    ["s.csv.zst", { compress: "none" }, /compress "none" contradicts/],
    ["s.csv.zst", { level: 0 }, /level 0 is not a zstd level/],
    ["s.csv.zst", { level: 2.5 }, /level must be an integer/],
    ["s.csv", { level: 1 }, /level 1 given for plain CSV/],
    ["s.csv.gz", { compress: "gzip", level: 12 }, /level 12 is not a gzip level/],
    ["s.csv", { compress: "brotli" }, /compress must be "zstd", "gzip", "none" or "parquet"/],
    [
      "s.parquet",
      { compress: "zstd" },
      /compress "zstd" contradicts .*s\.parquet, which names parquet/,
    ],
    ["s.parquet", { level: 20 }, /level 20 is not a parquet level/],
    ["s.csv.lz4", {}, /s\.csv\.lz4 names lz4 compression, which pwalk does not write/],
    ["s.tar.gz", { compress: "gzip" }, /s\.tar\.gz names a gzipped tar archive/],
  ];
  for (const [name, opts, what] of bad) {
    const e = await assertRejects(() => report(root, { output: `${tmp.path}/${name}`, ...opts }));
    assert(e instanceof RangeError, `${name} ${JSON.stringify(opts)}: ${e}`);
    assertMatch((e as Error).message, what);
    assertEquals((e as Error).message.split("\n").length, 1);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["tree"]);

  const ok: [string, Record<string, unknown>, "zstd" | "gzip" | "none" | "parquet"][] = [
    ["a.csv.gz", { compress: "gzip", level: 9 }, "gzip"],
    ["b.csv.zst", { compress: "zstd" }, "zstd"],
    ["c.csv", { compress: "none" }, "none"],
    ["d.CSV.ZSTD", { level: 5 }, "zstd"],
    ["e.Parquet", { level: 3 }, "parquet"],
    // plain CSV under a foreign suffix only when asked for by name
    ["f.csv.xz", { compress: "none" }, "none"],
  ];
  for (const [name, opts, kind] of ok) {
    const s = await report(root, { output: `${tmp.path}/${name}`, ...opts });
    assertEquals([s.compress, s.compressed], [kind, kind !== "none"]);
    assertEquals(magic(`${tmp.path}/${name}`), kind, name);
  }
  // the pure function behind it
  assertEquals(reportFormat("x.csv.gz"), { compress: "gzip", level: 1 });
  assertEquals(reportFormat("x.csv.zst"), { compress: "zstd", level: 1 });
  assertEquals(reportFormat("x.parquet"), { compress: "parquet", level: 1 });
  assertEquals(reportFormat(undefined), { compress: "none", level: 0 });
  assertEquals(reportFormat("-", "zstd", 7), { compress: "zstd", level: 7 });
  assertThrows(() => reportFormat("-", undefined, 7), RangeError, "stdout");
});

testNeeding([ZSTD], {
  name: "report() to stdout: plain by default, compressed when the API asks",
  async fn() {
    await using tmp = await tempDir("pwalk-fmt-");
    const root = `${tmp.path}/tree`;
    await smallTree(root);
    const run = async (opts: Record<string, unknown>) => {
      const code = `import { report } from "${REPO}/mod.ts";\n` +
        `await report(${JSON.stringify(root)}, ${JSON.stringify(opts)});`;
      const r = await deno(["eval", "--ext=ts", code]);
      assertEquals(r.code, 0, r.stderr);
      return r.stdout;
    };
    const plain = await run({});
    assert(plain.length > 0 && plain[0] >= 0x30 && plain[0] <= 0x39, "a plain row first");
    const gz = await run({ compress: "gzip" });
    assertEquals([...gz.subarray(0, 2)], GZIP);
    assertEquals(lineSet(await unpack("gzip", gz)), lineSet(plain));
    const zst = await run({ compress: "zstd", level: 3 });
    assertEquals([...zst.subarray(0, 4)], ZSTD_MAGIC);
    assertEquals(lineSet(await unpack("zstd", zst)), lineSet(plain));
  },
});

Deno.test("report(): options of the wrong type or range throw one clear error before anything is written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await smallTree(root);
  const out = `${tmp.path}/out.csv`;
  const cases: [Record<string, unknown>, ErrorConstructor, string][] = [
    [{ exclude: "a" }, TypeError, "exclude must be an array"],
    [{ exclude: [5] }, TypeError, "exclude must be an array"],
    [{ progressIntervalMs: -5, onProgress() {} }, RangeError, "progressIntervalMs"],
    [{ progressIntervalMs: NaN, onProgress() {} }, RangeError, "progressIntervalMs"],
    // of another type: a TypeError, as for every numeric option (maxErrors: "3")
    [{ progressIntervalMs: "5" }, TypeError, 'above 0 (or Infinity), got "5" (a string)'],
    [{ progressIntervalMs: 5n }, TypeError, "got 5 (a bigint)"],
    [{ maxErrors: "3" }, TypeError, 'maxErrors must be an integer from 0 to 1000000, got "3"'],
    // a NUL byte, which no path holds: the option named
    [
      { exclude: ["a\0b"] },
      RangeError,
      'exclude contains a NUL byte, which no path can hold: "a\\u0000b"',
    ],
    [{ exclude: [Uint8Array.of(0x61, 0, 0xff)] }, RangeError, "exclude contains a NUL byte"],
    [{ output: `${tmp.path}/o\0.csv` }, RangeError, "output contains a NUL byte, which no path"],
    [{ skipPaths: ["a\0"] }, RangeError, "skipPaths contains a NUL byte, which no path"],
    [
      { frontier: [{ path: `${root}/a\0`, dev: 1, ino: 2, parentIno: 3, depth: 0 }] },
      RangeError,
      "frontier contains a NUL byte, which no path",
    ],
    [{ onProgress: "yes" }, TypeError, "onProgress must be a function"],
    [{ threads: "4" }, TypeError, 'got "4" (a string)'],
    [{ signal: {} }, TypeError, "AbortSignal"],
  ];
  for (const [opts, type, text] of cases) {
    await assertRejects(() => report(root, { output: out, ...opts }), type, text);
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["tree"]);
  }
  await assertRejects(
    () => report(`${root}\0/sub`, { output: out }),
    RangeError,
    `pwalk: the root folder contains a NUL byte, which no path can hold: ${
      JSON.stringify(`${root}\0/sub`)
    }`,
  );
  // A descriptor that cannot take the error rows fails at the start, not at
  // the first error after the walk: not open, or open for reading only
  // (a child whose stdin, descriptor 0, is a file opened for reading).
  await assertRejects(
    () => report(root, { output: out, errorsCsvFd: 987 }),
    Error,
    "descriptor 987 is not open",
  );
  const program = `import { report } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
try { await report(Deno.args[0], { output: Deno.args[1], errorsCsvFd: 0 }); console.log("accepted"); }
catch (e) { console.log((e as Error).message); }`;
  const r = await run("sh", [
    "-c",
    `exec "$0" eval "$1" "$2" "$3" < "$4"`,
    Deno.execPath(),
    program,
    root,
    out,
    `${root}/sub/f1`,
  ]);
  assertEquals(r.text.trim(), "pwalk: the errors file's descriptor 0 is open for reading only");
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["tree"]);
});

Deno.test("reportParquet() takes the suffix in any case, as report() does; another suffix is a RangeError", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, "x");
  for (const name of ["a.PARQUET", "b.Parquet"]) {
    const s = await reportParquet(root, { output: `${tmp.path}/${name}` });
    assertEquals([s.compress, s.entries], ["parquet", 3]);
    const head = (await Deno.readFile(`${tmp.path}/${name}`)).subarray(0, 4);
    assertEquals(new TextDecoder().decode(head), "PAR1");
  }
  await assertRejects(
    () => reportParquet(root, { output: `${tmp.path}/c.csv` }),
    RangeError,
    "must end in .parquet",
  );
});

Deno.test("report(): an async onProgress that rejects rejects the report, never the process", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  for (let d = 0; d < 10; d++) {
    await Deno.mkdir(`${root}/d${d}`, { recursive: true });
    for (let f = 0; f < 100; f++) await Deno.writeFile(`${root}/d${d}/f${f}`, new Uint8Array());
  }
  for (const interval of [1, Infinity]) { // a periodic call's rejection, and the last call's
    const stop = new Error(`async stop ${interval}`);
    await assertRejects(
      () =>
        report(root, {
          output: `${tmp.path}/out-${interval}.csv`,
          threads: 1,
          progressIntervalMs: interval,
          onProgress: async () => {
            await Promise.resolve();
            throw stop;
          },
        }),
      Error,
      stop.message,
    );
  }
});
