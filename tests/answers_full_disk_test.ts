/**
 * summary, diff and convert on a full disk: DuckDB's spill folder (its
 * --temp-dir) or convert's OUT on a small tmpfs. The message says which
 * folder or file ran out of space, on one line, and names no scan: before,
 * a full spill folder read "pwalk: SCAN: Out of Memory Error: failed to
 * offload data block ...", blamed on the first scan file, and a full OUT's
 * disk "pwalk: IN: pwalk: cannot write OUT: ..." or "pwalk: IN: IO Error:
 * Could not write file OUT's-temporary ...".
 *
 * The reference that it is the disk's fault: the same command with the
 * same memory limit and a spill folder (or OUT) on the large disk
 * succeeds (and writes an OUT larger than the small disk).
 */
import { assert, assertEquals, assertLess, assertMatch, assertStringIncludes } from "@std/assert";
import { CLI, cli, run } from "./helpers/run.ts";
import { PWALK_HEADER } from "../lib/answers/scan.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { closeLibc, mkfifo } from "./helpers/libc.ts";

/** A scan of one folder /d of `n` files with longish names (n=100000: 13 MB). */
async function wideScan(path: string, n: number): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const w = f.writable.getWriter();
  const enc = new TextEncoder();
  await w.write(enc.encode(`2,0,-1,"/d","",0,0,4096,1,8,2,"0040755",1,1,1,${n},0\n`));
  for (let i = 0; i < n; i += 10_000) {
    let chunk = "";
    for (let j = i; j < Math.min(n, i + 10_000); j++) {
      chunk += `${j + 10},2,0,"/d/file-with-a-longish-name-${String(j).padStart(9, "0")}.dat",` +
        `"dat",${j % 500},0,${j * 37},1,8,1,"0100644",1700000000,1700000000,1700000000,-1,0\n`;
    }
    await w.write(enc.encode(chunk));
  }
  await w.close();
}

/** A 100,000-row scan in `dir`, and a tmpfs of `size` mounted at dir/small (gone with dir). */
async function scanBesideSmallDisk(
  dir: string,
  size: string,
): Promise<{ scan: string; small: string }> {
  const scan = `${dir}/scan.csv`;
  await wideScan(scan, 100_000);
  const small = `${dir}/small`;
  await Deno.mkdir(small);
  assertEquals(await mountTmpfs(small, `size=${size}`), "");
  return { scan, small };
}

Deno.test({
  name: "a full spill folder: one line naming the folder and what to change, not the scan",
  ignore: !canMountTmpfs(),
  async fn(t) {
    await using tmp = await tempDir();
    const { scan, small } = await scanBesideSmallDisk(tmp.path, "1m");
    // (diff: summary's peak is near its memory limit's, spilled or not; a
    // limit that spills reliably fails now and then without spilling)
    const runs: [string, string[]][] = [
      ["diff", ["diff", "--no-names", "--memory-limit", "100MB", scan, scan]],
    ];
    for (const [name, args] of runs) {
      await t.step(`${name}: with a spill folder on the large disk, it succeeds`, async () => {
        const r = await cli([...args, "--temp-dir", tmp.path]);
        assertEquals([r.code, r.stderr], [0, ""]);
      });
      await t.step(`${name}: --temp-dir on a 1 MiB tmpfs`, async () => {
        const r = await cli([...args, "--temp-dir", small]);
        assertEquals(r.code, 1);
        assertEquals(r.text, "");
        const memory = args[args.indexOf("--memory-limit") + 1];
        assertEquals(
          r.stderr,
          `pwalk: DuckDB's spill folder in --temp-dir ${small} ran out of space (memory limit ` +
            `${memory}): give --temp-dir a folder on a larger disk, or a larger --memory-limit\n`,
        );
      });
      await t.step(`${name}: TMPDIR on a 1 MiB tmpfs`, async () => {
        const r = await cli(args, { env: { TMPDIR: small } });
        assertEquals(r.code, 1);
        assertStringIncludes(
          r.stderr,
          `pwalk: DuckDB's spill folder in ${small} ($TMPDIR, or /tmp)`,
        );
        assert(!r.stderr.includes(scan), r.stderr);
      });
      await t.step(`${name}: a file size limit (ulimit -f) under the spill folder`, async () => {
        // (it blamed the scan: "SCAN: IO Error: Could not write file ...: File too large")
        const r = await run("prlimit", [
          "--fsize=500000",
          "--",
          Deno.execPath(),
          "run",
          "-A",
          CLI,
          ...args,
          "--temp-dir",
          tmp.path,
        ], { env: { NO_COLOR: "1" } });
        assertEquals([r.code, r.stderr], [
          1,
          `pwalk: DuckDB's spill folder in --temp-dir ${tmp.path}: a file there grew past the ` +
          "file size limit (ulimit -f): raise it, or give a larger --memory-limit\n",
        ]);
      });
      // the spill folder is removed at the end
      assertEquals([...Deno.readDirSync(small)], []);
    }
  },
});

Deno.test({
  name: "convert to a full disk: 'cannot write OUT: No space left on device', OUT named, no input",
  ignore: !canMountTmpfs(),
  async fn(t) {
    await using tmp = await tempDir();
    const { scan, small } = await scanBesideSmallDisk(tmp.path, "256k");
    for (const name of ["out.csv", "out.csv.zst", "out.csv.gz", "out.parquet"]) {
      // with its header or without, DuckDB writes OUT's temporary (the
      // header too, as its one column's name); Parquet has no header line
      // (--no-header is bad usage there)
      for (const header of name.endsWith(".parquet") ? [[]] : [[], ["--no-header"]]) {
        const args = ["convert", ...header, scan];
        await t.step([name, ...header].join(" "), async () => {
          // the reference: on the large disk it is written, larger than the tmpfs
          const big = `${tmp.path}/${name}`;
          assertEquals((await cli([...args, big])).code, 0);
          assertLess(256 * 1024, (await Deno.stat(big)).size);
          await Deno.remove(big);
          const out = `${small}/${name}`;
          const r = await cli([...args, out]);
          assertEquals(
            [r.code, r.text, r.stderr],
            [1, "", `pwalk: cannot write ${out}: No space left on device\n`],
          );
          // neither OUT nor its temporary left behind
          assertEquals([...Deno.readDirSync(small)], []);
        });
      }
    }
  },
});

Deno.test("a memory limit too small for a query: one line naming the limit and the option, not the scan", async () => {
  // before: "pwalk: SCAN: Out of Memory Error: could not allocate block ...",
  // the limit's fault blamed on the first scan file
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  await wideScan(scan, 20_000);
  const runs = [
    ["summary", "--no-names", scan],
    ["diff", "--no-names", scan, scan],
    ["convert", scan, `${tmp.path}/out.parquet`],
  ];
  for (const args of runs) {
    // the reference: the same command at the default limit succeeds
    const ok = await cli(args);
    assertEquals([ok.code, ok.stderr], [0, ""], args.join(" "));
    await Deno.remove(`${tmp.path}/out.parquet`).catch(() => {});
    const r = await cli([args[0], "--memory-limit", "1MB", ...args.slice(1)]);
    assertEquals(r.code, 1, args.join(" "));
    const lines = r.stderr.split("\n").filter((l) => l);
    assertEquals(lines.length, 1, r.stderr);
    assertMatch(
      lines[0],
      /^pwalk: DuckDB ran out of memory within its limit of 1MB \((could not|failed to) allocate [^\n]*\): give a larger --memory-limit$/,
    );
    assert(!r.stderr.includes(scan), r.stderr);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["scan.csv"]);
});

Deno.test("a --temp-dir that cannot hold the spill folder: the same line and status 2 in summary, diff and convert, no scan named", async () => {
  // convert said "pwalk: SCAN: pwalk: --temp-dir ...", status 1
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  await wideScan(scan, 10);
  const missing = `${tmp.path}/nope`;
  const want = `pwalk: --temp-dir ${missing}: cannot make DuckDB's spill folder: ` +
    "No such file or directory";
  for (
    const args of [["summary", scan], ["diff", scan, scan], ["convert", scan, `${tmp.path}/o.csv`]]
  ) {
    const r = await cli([args[0], "--temp-dir", missing, ...args.slice(1)]);
    assertEquals([r.code, r.stderr.split("\n").filter((l) => l)], [2, [want]], args[0]);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["scan.csv"]);
  // to a FIFO, whose temporary is made in that folder first: said of it
  // too, not "No such file or directory: tmpfile", status 1 (review)
  const fifo = `${tmp.path}/o.fifo.csv`;
  mkfifo(fifo);
  const r = await cli(["convert", "--temp-dir", missing, scan, fifo]);
  assertEquals([r.code, r.stderr.split("\n").filter((l) => l)], [2, [
    `pwalk: --temp-dir ${missing}: cannot make the temporary of ${fifo}: No such file or directory`,
  ]]);
  // $TMPDIR's folder named, as --temp-dir's is: a batch job's TMPDIR of a
  // node-local folder not made on this node (it said "in $TMPDIR (or
  // /tmp)", which folder left to guess)
  const t = await cli(["convert", scan, fifo], { env: { TMPDIR: missing } });
  assertEquals([t.code, t.stderr.split("\n").filter((l) => l)], [1, [
    `pwalk: cannot make the temporary of ${fifo} in ${missing} ($TMPDIR): No such file or directory`,
  ]]);
  const s = await cli(["summary", scan], { env: { TMPDIR: missing } });
  assertEquals([s.code, s.stderr.split("\n").filter((l) => l)], [1, [
    `pwalk: cannot make DuckDB's spill folder in ${missing} ($TMPDIR): No such file or directory`,
  ]]);
  closeLibc();
});

Deno.test({
  name: "convert with TMPDIR on a disk too small for OUT: OUT's disk alone holds its body",
  ignore: !canMountTmpfs(),
  async fn(t) {
    // before: with a header (and for .csv.zst at a level other than 3) the
    // body was written whole in the spill folder first, then copied beside
    // OUT: "DuckDB's spill folder ... ran out of space"
    await using tmp = await tempDir();
    const { scan, small } = await scanBesideSmallDisk(tmp.path, "256k");
    const want = [
      PWALK_HEADER,
      ...new TextDecoder().decode(await Deno.readFile(scan)).split("\n").filter((l) => l).sort(),
    ];
    for (
      const [name, extra, read] of [
        ["out.csv", [], ["cat"]],
        ["out.csv.gz", [], ["gzip", "-dc"]],
        ["out.csv.zst", [], ["zstd", "-dc"]],
        ["out.csv.zst", ["--level", "9"], ["zstd", "-dc"]],
      ] as const
    ) {
      await t.step([name, ...extra].join(" "), async () => {
        const out = `${tmp.path}/${name}`;
        const r = await cli(["convert", ...extra, scan, out], { env: { TMPDIR: small } });
        assertEquals([r.code, r.stderr], [0, ""]);
        assertLess(256 * 1024, (await Deno.stat(out)).size);
        const o = await new Deno.Command(read[0], { args: [...read.slice(1), out] }).output();
        assert(o.success);
        const [head, ...rows] = new TextDecoder().decode(o.stdout).split("\n").filter((l) => l);
        assertEquals([head, ...rows.sort()], want);
        // (a zstd frame check: the file is one whole stream zstd -t accepts)
        if (read[0] === "zstd") {
          assert((await new Deno.Command("zstd", { args: ["-tq", out] }).output()).success);
        }
        // nothing left beside OUT or in the spill folder
        assertEquals([...Deno.readDirSync(small)], []);
        await Deno.remove(out);
        assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
          "scan.csv",
          "small",
        ]);
      });
    }
  },
});

Deno.test("a spill folder left by a run killed outright is removed by the next run on this host, saying so; a live process's, another host's and another user's are kept", async () => {
  // before: /tmp/pwalk-duckdb-XXXX of a kill -9'd (or OOM-killed) run stayed forever
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  await wideScan(scan, 10);
  const spills = `${tmp.path}/spills`;
  await Deno.mkdir(spills);
  const host = Deno.hostname().replace(/[^A-Za-z0-9._]/g, "_");
  // a pid that is surely gone: a child that has exited and been reaped
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  const live = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const dead = `${spills}/pwalk-duckdb-${host}-${gone.pid}-a1b2c3`;
    const kept = `${spills}/pwalk-duckdb-${host}-${live.pid}-d4e5f6`;
    const other = `${spills}/pwalk-duckdb-${host}x-${gone.pid}-a1b2c3`;
    const deadConvert = `${spills}/.pwalk-convert-${host}-${gone.pid}-a1b2c3`;
    // another user's, of a dead process too: not the running user's to remove
    const theirs = `${spills}/pwalk-duckdb-${host}-${gone.pid}-g7h8i9`;
    for (const d of [dead, kept, other, theirs]) {
      await Deno.mkdir(d);
      await Deno.writeFile(`${d}/duckdb_temp_storage-0.tmp`, new Uint8Array(4096));
    }
    await Deno.chown(theirs, Deno.uid() === 0 ? 65534 : 0, null);
    await Deno.writeFile(deadConvert, new Uint8Array(10));
    const r = await cli(["summary", "--no-names", scan], { env: { TMPDIR: spills } });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      r.stderr.split("\n").filter((l) => l).sort(),
      [dead, deadConvert].map((p) =>
        `pwalk: removed ${p}, left by an earlier run killed before its end`
      )
        .sort(),
    );
    // the reference: what is left in the folder, by Deno.readDir
    assertEquals(
      [...Deno.readDirSync(spills)].map((e) => e.name).sort(),
      [kept, other, theirs].map((p) => p.slice(spills.length + 1)).sort(),
    );
    // the next run finds nothing more to remove
    const again = await cli(["summary", "--no-names", scan], { env: { TMPDIR: spills } });
    assertEquals([again.code, again.stderr], [0, ""]);
  } finally {
    live.kill();
    await live.status;
  }
});

Deno.test({
  name:
    "convert into a folder others can write, its spill folder too small for OUT (made there first): the line says so, and no larger --memory-limit is offered (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const { scan, small } = await scanBesideSmallDisk(tmp.path, "256k");
    const shared = `${tmp.path}/shared`;
    await Deno.mkdir(shared);
    await Deno.chmod(shared, 0o777);
    for (const name of ["out.csv", "out.parquet"]) {
      const r = await cli([
        "convert",
        "--memory-limit",
        "16GB",
        "--temp-dir",
        small,
        scan,
        `${shared}/${name}`,
      ]);
      assertEquals([r.code, r.stderr], [
        1,
        `pwalk: DuckDB's spill folder in --temp-dir ${small} ran out of space for the output, ` +
        "made there first (its folder is one others can write to): give --temp-dir a folder on " +
        "a disk with room for it\n",
      ], name);
      assertEquals([...Deno.readDirSync(shared)], [], name);
      assertEquals([...Deno.readDirSync(small)], [], name);
    }
    // the same past a file size limit: the output named, no --memory-limit offered
    const r = await run("prlimit", [
      "--fsize=40000",
      "--",
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      "convert",
      "--memory-limit",
      "16GB",
      "--temp-dir",
      tmp.path,
      scan,
      `${shared}/out.csv`,
    ], { env: { NO_COLOR: "1" } });
    assertEquals([r.code, r.stderr], [
      1,
      `pwalk: DuckDB's spill folder in --temp-dir ${tmp.path}: the output, made there first (its ` +
      "folder is one others can write to), grew past the file size limit (ulimit -f): raise it\n",
    ]);
    assertEquals([...Deno.readDirSync(shared)], []);
  },
});
