/**
 * The files summary, diff and convert read and write whole: a .csv.zst cut
 * short is refused (DuckDB alone reads it as if whole), an output that is a
 * device, FIFO or link is written as report's `-o` writes it (never
 * replaced), any case of suffix reads as report writes it, and a signal
 * removes the partial output and the spill folder. What another user could
 * change is not trusted: an output's folder (its temporary never used by
 * name there; --errors too), a link in a sticky folder, the spill folder's
 * parent.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { CLI, cli, run, runOk, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { notHere, STRACE, testNeeding } from "./helpers/system.ts";
import { ERRORS_HEADER } from "../lib/cli/common.ts";
import { openPartial } from "../lib/outfile.ts";
import { tempDir } from "./helpers/temp.ts";
import { smallTree } from "./helpers/tree.ts";
import { waitFor } from "./helpers/wait.ts";
import { threadWchans } from "./helpers/proc.ts";
import { shimTest, VANISH_C } from "./helpers/shim.ts";

const dec = new TextDecoder();

/** A scan of a small tree (made in dir/tree) written by report as dir/name. */
async function scanOf(dir: string, name: string): Promise<string> {
  await Deno.mkdir(`${dir}/tree`, { recursive: true });
  await smallTree(`${dir}/tree`);
  const out = `${dir}/${name}`;
  const r = await cli(["--header", "-o", out, `${dir}/tree`]);
  assertEquals(r.code, 0, r.stderr);
  return out;
}

/**
 * The inodes of a scan's rows, decoded by convert into plain CSV, sorted
 * (scans made one after the other differ in the folders' atime).
 */
async function rows(dir: string, scan: string): Promise<string[]> {
  const out = `${dir}/rows-${crypto.randomUUID()}.csv`;
  const r = await cli(["convert", scan, out]);
  assertEquals(r.code, 0, r.stderr);
  const text = await Deno.readTextFile(out);
  await Deno.remove(out);
  return text.split("\n").filter((l) => l).map((l) => l.split(",")[0]).sort();
}

Deno.test("a .csv.zst cut short is refused by summary, diff and convert; whole, it reads", async () => {
  await using tmp = await tempDir("pwalk-files-");
  // the last 7 bytes cut off: the last frame is incomplete
  const scan = await scanOf(tmp.path, "scan.csv.zst");
  const whole = await Deno.readFile(scan);
  const cut = `${tmp.path}/cut.csv.zst`;
  await Deno.writeFile(cut, whole.subarray(0, whole.length - 7));
  // (every run below two at a time, then checked in turn)
  const runs = [["summary", cut], ["diff", scan, cut], ["convert", cut, `${tmp.path}/o.csv`]];
  const [json, csv, ...ran] = await pooled([
    ["summary", "--json", scan],
    ["--header", `${tmp.path}/tree`],
    ...runs,
  ], (args) => cli(args));
  for (const [i, args] of runs.entries()) {
    const r = ran[i];
    assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(r.stderr, `pwalk: ${cut}: truncated: its zstd data ends inside a frame`);
  }
  // The whole file reads, with every row report wrote.
  assertEquals(json.code, 0, json.stderr);
  const entries = csv.text.split("\n").filter((l) => l).length - 1;
  assertEquals(JSON.parse(json.text).totals.entries, entries);
});

Deno.test("a scan of another format than its suffix says is told so, not as cut short", async () => {
  await using tmp = await tempDir("pwalk-files-");
  const plain = await scanOf(tmp.path, "scan.csv");
  const made: Record<string, string> = {};
  const suffixes = ["csv.zst", "csv.gz", "parquet"];
  for (const suffix of suffixes) made[suffix] = `${tmp.path}/real.${suffix}`;
  const converted = await pooled(suffixes, (suffix) => cli(["convert", plain, made[suffix]]));
  for (const c of converted) assertEquals(c.code, 0);
  // what the file is, from its first bytes, as file(1) tells it
  const kind = async (f: string) => (await runOk("file", ["-b", f])).text;
  assertMatch(await kind(made["csv.zst"]), /^Zstandard/);
  assertMatch(await kind(made["csv.gz"]), /^gzip/);
  assertMatch(await kind(made["parquet"]), /^Apache Parquet/);
  const cases: [string, string, string][] = [
    ["csv.zst", "z.csv", "not CSV text: zstd data (wrong suffix?)"],
    ["parquet", "p.csv", "not CSV text: Parquet data (wrong suffix?)"],
    ["csv.gz", "g.csv", "not CSV text: gzip data (wrong suffix?)"],
    ["csv.zst", "z.csv.gz", "not gzip data at byte 0: zstd data (wrong suffix?)"],
    ["parquet", "p.csv.gz", "not gzip data at byte 0: Parquet data (wrong suffix?)"],
    ["csv.gz", "g.csv.zst", "not zstd data at byte 0: gzip data (wrong suffix?)"],
    ["csv", "t.csv.gz", "not gzip data at byte 0: text (wrong suffix?)"],
    ["csv", "t.csv.zst", "not zstd data at byte 0: text (wrong suffix?)"],
    ["csv", "t.parquet", "not Parquet data (no PAR1 at byte 0): text (wrong suffix?)"],
    ["csv.zst", "z.parquet", "not Parquet data (no PAR1 at byte 0): zstd data (wrong suffix?)"],
    ["csv.gz", "g.parquet", "not Parquet data (no PAR1 at byte 0): gzip data (wrong suffix?)"],
  ];
  made["csv"] = plain;
  for (const [from, name, says] of cases) {
    const f = `${tmp.path}/${name}`;
    await Deno.copyFile(made[from], f);
    const runs = [["summary", f], ["convert", f, `${tmp.path}/o.parquet`]];
    const ran = await pooled(runs, (args) => cli(args));
    for (const [i, args] of runs.entries()) {
      const r = ran[i];
      assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertEquals(r.stderr.trim(), `pwalk: ${f}: ${says}`);
    }
  }
  // a Parquet file cut short, or empty: as the other formats' copies cut short
  const bytes = await Deno.readFile(made["parquet"]);
  for (
    const [name, data, says] of [
      [
        "cut.parquet",
        bytes.subarray(0, bytes.length - 1),
        "truncated: its Parquet data does not end with PAR1 (byte " + (bytes.length - 1) +
        "); an incomplete copy?",
      ],
      ["empty.parquet", new Uint8Array(0), "empty (0 bytes): no Parquet data; an incomplete copy?"],
    ] as const
  ) {
    const f = `${tmp.path}/${name}`;
    await Deno.writeFile(f, data);
    const runs = [["summary", f], ["diff", plain, f], ["convert", f, `${tmp.path}/o.csv`]];
    const ran = await pooled(runs, (args) => cli(args));
    for (const [i, args] of runs.entries()) {
      const r = ran[i];
      assertEquals([r.code, r.stderr.trim()], [1, `pwalk: ${f}: ${says}`], args.join(" "));
    }
  }
});

Deno.test("suffixes in any case, and .zstd, read as report wrote them", async () => {
  await using tmp = await tempDir("pwalk-files-");
  const plain = await scanOf(tmp.path, "scan.csv");
  const want = await rows(tmp.path, plain);
  // each name written, then read back (rows(): a file of its own), two names at a time
  const names = ["UP.CSV.ZST", "s.csv.zstd", "g.CSV.GZ", "p.PARQUET"];
  const ran = await pooled(names, async (name) => {
    const scan = `${tmp.path}/${name}`;
    const w = await cli(["--header", "-o", scan, `${tmp.path}/tree`]);
    return { w, back: w.code === 0 ? await rows(tmp.path, scan) : undefined };
  });
  for (const [i, name] of names.entries()) {
    const { w, back } = ran[i];
    assertEquals(w.code, 0, w.stderr);
    assertEquals(back, want, name);
  }
  // convert writes those names too, and refuses --level where it cannot apply
  const out = `${tmp.path}/OUT.CSV.ZST`;
  assertEquals((await cli(["convert", "--level", "5", plain, out])).code, 0);
  assertEquals(await rows(tmp.path, out), want);
  const bads = await pooled(
    ["x.csv", "x.csv.gz"],
    (bad) => cli(["convert", "--level", "5", plain, `${tmp.path}/${bad}`]),
  );
  for (const r of bads) {
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, "--level applies to .csv.zst and .parquet outputs");
  }
  // and --no-header where there is no header line to leave out (Parquet):
  // one line, status 2, nothing written
  const pq = `${tmp.path}/nh.parquet`;
  const nh = await cli(["convert", "--no-header", plain, pq]);
  assertEquals([nh.code, nh.stderr.trim().split("\n").length], [2, 1], nh.stderr);
  assertStringIncludes(nh.stderr, "--no-header applies to CSV outputs");
  assertEquals([...Deno.readDirSync(tmp.path)].filter((e) => e.name.includes("nh")), []);
});

Deno.test("convert and --html write through a link and into a device or FIFO, never replacing them", async () => {
  await using tmp = await tempDir("pwalk-files-");
  const scan = await scanOf(tmp.path, "scan.csv");
  const expected = `${tmp.path}/expected.csv`;
  assertEquals((await cli(["convert", scan, expected])).code, 0);
  const want = await Deno.readTextFile(expected);

  // a link: the link stays, its target gets the file
  await Deno.mkdir(`${tmp.path}/real`);
  await Deno.writeTextFile(`${tmp.path}/real/t.csv`, "old");
  await Deno.symlink("real/t.csv", `${tmp.path}/link.csv`);
  assertEquals((await cli(["convert", scan, `${tmp.path}/link.csv`])).code, 0);
  assert(Deno.lstatSync(`${tmp.path}/link.csv`).isSymlink);
  assertEquals(await Deno.readTextFile(`${tmp.path}/real/t.csv`), want);

  // a FIFO: the reader gets the whole file, the FIFO stays
  for (
    const [args, check] of [
      [["convert", scan], (got: string) => assertEquals(got, want)],
      [
        ["summary", "--html"],
        (got: string) =>
          assertStringIncludes(got, '<script type="application/json" id="pwalk-data">'),
      ],
    ] as const
  ) {
    const fifo = `${tmp.path}/fifo-${args[0]}.${args[0] === "convert" ? "csv" : "html"}`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    const full = args[0] === "convert" ? [...args, fifo] : [...args, fifo, scan];
    const r = await cli(full);
    assertEquals(r.code, 0, r.stderr);
    check(dec.decode((await reader.output()).stdout));
    assert(Deno.lstatSync(fifo).isFifo, `${fifo} was replaced`);
  }

  // a FIFO named .csv.zst, another --level than DuckDB's, in a folder the
  // writer cannot add to (root's capabilities dropped, the folder another
  // user's): the text staged in the private folder, nothing made beside the
  // FIFO (as beside /dev/null), so it is written
  if (Deno.uid() === 0) {
    const apart = `${tmp.path}/fifo-dir`, zfifo = `${apart}/out.csv.zst`;
    await Deno.mkdir(apart);
    await new Deno.Command("mkfifo", { args: ["-m", "666", zfifo] }).output();
    await Deno.chown(apart, 1042, 1042);
    const reader = new Deno.Command("zstd", { args: ["-dc", zfifo], stdout: "piped" }).spawn();
    const r = await cli(["convert", "--level", "5", scan, zfifo], { prefix: UNPRIVILEGED });
    if (r.code !== 0) await Deno.writeFile(zfifo, new Uint8Array()).catch(() => {}); // (the reader freed)
    assertEquals(r.code, 0, r.stderr);
    assertEquals(dec.decode((await reader.output()).stdout), want);
    assertEquals([...Deno.readDirSync(apart)].map((e) => e.name), ["out.csv.zst"]);
  }
  // a character device (as root: mknod), here /dev/null's twin
  if (Deno.uid() === 0) {
    const dev = `${tmp.path}/null.csv`;
    const mk = await new Deno.Command("mknod", { args: [dev, "c", "1", "3"] }).output();
    assert(mk.success, dec.decode(mk.stderr));
    for (const args of [["convert", scan, dev], ["summary", "--html", dev, scan]]) {
      const r = await cli(args);
      assertEquals(r.code, 0, r.stderr);
      assert(Deno.lstatSync(dev).isCharDevice, `${args[0]} replaced the device`);
    }
  }
  // into a missing folder: the error names OUT (not the input, not a temporary name)
  const missing = `${tmp.path}/nodir/x.parquet`;
  const m = await cli(["convert", scan, missing]);
  assertEquals(m.code, 1, m.stderr);
  assertEquals(m.stderr.trim(), `pwalk: cannot write ${missing}: No such file or directory`);
  // a link to nothing: one line, bad usage (as a folder), nothing written
  await Deno.symlink("nowhere/x.csv", `${tmp.path}/dangling.csv`);
  const r = await cli(["convert", scan, `${tmp.path}/dangling.csv`]);
  assertEquals(r.code, 2, r.stderr);
  assertStringIncludes(r.stderr, "a link to nothing");
  assert(Deno.lstatSync(`${tmp.path}/dangling.csv`).isSymlink);
});

Deno.test("SIGINT or SIGTERM while convert waits to write: the partial file and the spill folder are removed, OUT left as it was", async () => {
  await using tmp = await tempDir("pwalk-files-");
  const scan = await scanOf(tmp.path, "scan.csv");
  for (const [signal, status] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    const spill = `${tmp.path}/spill-${signal}`;
    await Deno.mkdir(spill);
    // A FIFO with no reader: convert finishes the file in the spill folder,
    // closes DuckDB, then waits to open the FIFO; that is when it is stopped.
    const fifo = `${tmp.path}/out-${signal}.csv`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const p = spawnCli(["convert", "--temp-dir", spill, scan, fifo]);
    await waitFor(() => {
      const names = [...Deno.readDirSync(spill)].map((e) => e.name);
      // only the finished file left: DuckDB's spill folder is gone (closed)
      const done = names.length === 1 && names[0].startsWith(".pwalk-convert-") &&
        Deno.statSync(`${spill}/${names[0]}`).size > 0;
      return done ? names : undefined;
    }, { what: "convert to wait for a reader with its file made" });
    p.kill(signal);
    const out = await p.output();
    assertEquals(out.code, status, dec.decode(out.stderr));
    // a FIFO has no partial output (the staged copy, removed, was no file
    // of OUT's): none is claimed
    assertEquals(dec.decode(out.stderr).trim(), `pwalk: interrupted by ${signal}`);
    assertEquals([...Deno.readDirSync(spill)], []);
    assert(Deno.lstatSync(fifo).isFifo);
  }
});

Deno.test("summary --html: a signal after the page took its name (the text stuck on a full stdout): said written whole, not left as it was (review)", async () => {
  await using tmp = await tempDir("pwalk-files-");
  const root = `${tmp.path}/t`;
  // 2,000 files of long names: the text of --top 2000 is far more than a
  // pipe holds (64 KiB), so the run waits on the stdout nobody reads
  for (let d = 0; d < 20; d++) {
    const dir = `${root}/dir${d}_${"x".repeat(40)}`;
    Deno.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 100; i++) Deno.writeTextFileSync(`${dir}/f${i}_${"y".repeat(40)}`, "z");
  }
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const page = `${tmp.path}/page.html`;
  const p = spawnCli(["summary", "--no-names", "--top", "2000", "--html", page, scan]);
  await waitFor(() => Deno.lstat(page).then(() => true, () => false), {
    what: "the page in place",
  });
  // and its text waiting on the full pipe (a thread of Deno's in the write;
  // the main thread free to take the signal)
  await waitFor(() => threadWchans(p.pid).some((w) => w.endsWith("pipe_write")), {
    what: "summary's text waiting on stdout",
  });
  p.kill("SIGINT");
  const out = await p.output();
  const stderr = dec.decode(out.stderr);
  assertEquals(out.code, 130, stderr);
  assertEquals(stderr.trim(), `pwalk: interrupted by SIGINT; ${page} was written whole before it`);
  // whole indeed: the page's end is there
  assertStringIncludes(Deno.readTextFileSync(page).trimEnd().slice(-20), "</html>");
});

Deno.test("convert and --html keep a replaced file's owner and mode, as -o does; convert keeps the scan's time", async () => {
  await using tmp = await tempDir();
  const scan = await scanOf(tmp.path, "scan.csv.zst");
  const when = new Date("2025-06-01T00:00:00Z");
  await Deno.utime(scan, when, when);
  for (
    const [out, args] of [
      [`${tmp.path}/o.parquet`, ["convert", scan, `${tmp.path}/o.parquet`]],
      [`${tmp.path}/o.csv.gz`, ["convert", scan, `${tmp.path}/o.csv.gz`]],
      [`${tmp.path}/s.html`, ["summary", "--no-names", "--html", `${tmp.path}/s.html`, scan]],
    ] as const
  ) {
    await Deno.writeTextFile(out, "old");
    await Deno.chown(out, 1042, 5000);
    await Deno.chmod(out, 0o600);
    const r = await cli([...args]);
    assertEquals(r.code, 0, r.stderr);
    const st = await Deno.stat(out);
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], [1042, 5000, 0o600], out);
    assert(st.size > 3, out);
    if (args[0] === "convert") assertEquals(st.mtime?.getTime(), when.getTime(), out);
  }
  // a scan dated before 1970 (a copy restored with a wrong clock) keeps its time too
  const before = new Date("1969-07-20T20:17:00Z");
  await Deno.utime(scan, before, before);
  assertEquals((await cli(["convert", scan, `${tmp.path}/o.parquet`])).code, 0);
  assertEquals(
    (await Deno.stat(`${tmp.path}/o.parquet`)).mtime?.getTime(),
    (await Deno.stat(scan)).mtime?.getTime(),
  );
  await Deno.utime(scan, when, when);
  // temporaries a convert killed outright left (its own and DuckDB's): gone after the next
  const p = spawnCli(["--version"]);
  await p.stdout.cancel();
  await p.stderr.cancel();
  const dead = (await p.status, p.pid);
  const uuid = crypto.randomUUID();
  const left = [`.o.parquet.partial-${dead}-${uuid}`, `tmp_.o.parquet.partial-${dead}-${uuid}`];
  for (const n of left) await Deno.writeTextFile(`${tmp.path}/${n}`, "rows");
  const r = await cli(["convert", scan, `${tmp.path}/o.parquet`]);
  assertEquals(r.code, 0, r.stderr);
  const names = [...Deno.readDirSync(tmp.path)].map((e) => e.name);
  for (const n of left) assert(!names.includes(n), `${n} left`);
  // and one a killed --html run left, by summary's and diff's --html (a live
  // run's temporary, its process alive and its lock held, is kept)
  for (const cmd of ["summary", "diff"]) {
    const gone = `${tmp.path}/.s.html.partial-${dead}-${crypto.randomUUID()}`;
    const live = `${tmp.path}/.s.html.partial-${Deno.pid}-${crypto.randomUUID()}`;
    for (const n of [gone, live]) await Deno.writeTextFile(n, "<html>");
    using held = await Deno.open(live, { write: true });
    await held.lock(true);
    const h = await cli([
      cmd,
      "--no-names",
      "--html",
      `${tmp.path}/s.html`,
      ...(cmd === "diff" ? [scan, scan] : [scan]),
    ]);
    assertEquals(h.code, 0, h.stderr);
    const after = [...Deno.readDirSync(tmp.path)].map((e) => `${tmp.path}/${e.name}`);
    assert(!after.includes(gone), `${cmd}: ${gone} left`);
    assert(after.includes(live), `${cmd}: a live run's ${live} removed`);
    await Deno.remove(live);
  }
  // a write that fails: said as OUT's
  await Deno.symlink("/dev/full", `${tmp.path}/full.csv`);
  const f = await cli(["convert", scan, `${tmp.path}/full.csv`]);
  assertEquals(f.code, 1, f.stderr);
  assertEquals(f.stderr, `pwalk: cannot write ${tmp.path}/full.csv: No space left on device\n`);
});

testNeeding([STRACE], {
  name:
    "in a folder another user can change, --html, convert and --errors never use their temporary by its name: the new file is the runner's",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const scan = await scanOf(tmp.path, "scan.csv");
    const reference = `${tmp.path}/reference.csv`;
    assertEquals((await cli(["convert", scan, reference])).code, 0);
    // uid 60001's folder, open to all and not sticky: she could rename a link
    // over the temporary between its creation and a chown, chmod or write by
    // its name (the audit's race, won 7 of 10). Instead of racing her, the
    // rule itself is checked: no system call but the O_EXCL creation (and
    // the library's O_NOFOLLOW open of --errors) names the temporary.
    const out = `${tmp.path}/hers`;
    await Deno.mkdir(out);
    await Deno.chown(out, 60001, 60001);
    await Deno.chmod(out, 0o777);
    const runs: [string, string[]][] = [
      ["s.html", ["summary", "--no-names", "--html", `${out}/s.html`, scan]],
      ["c.csv", ["convert", scan, `${out}/c.csv`]],
      ["n.csv", ["convert", "--no-header", scan, `${out}/n.csv`]],
      ["c.parquet", ["convert", scan, `${out}/c.parquet`]],
      ["e.csv", ["--errors", `${out}/e.csv`, "-o", `${tmp.path}/r.csv`, `${tmp.path}/tree`]],
    ];
    for (const [name, args] of runs) {
      await Deno.writeTextFile(`${out}/${name}`, "hers");
      await Deno.chown(`${out}/${name}`, 60001, 60001);
      await Deno.chmod(`${out}/${name}`, 0o640);
      const log = `${tmp.path}/strace-${name}.log`;
      const r = await run("strace", [
        "-f",
        "-e",
        "trace=open,openat,creat,truncate,chown,lchown,fchownat,chmod,fchmodat,utimensat",
        "-o",
        log,
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        ...args,
      ]);
      assertEquals(r.code, 0, r.stderr);
      const byName = Deno.readTextFileSync(log).split("\n")
        .filter((l) => l.includes(`/.${name}.partial-`) && !/O_EXCL|O_NOFOLLOW/.test(l));
      assertEquals(byName, [], `${name}: the temporary used by its name`);
      // the runner's, with the old file's permission bits
      const st = Deno.statSync(`${out}/${name}`);
      assertEquals([st.uid, st.gid, st.mode! & 0o7777], [0, 0, 0o640], name);
    }
    // and whole: as convert writes into a folder of the runner's
    const want = Deno.readTextFileSync(reference);
    assertEquals(Deno.readTextFileSync(`${out}/c.csv`), want);
    assertEquals(Deno.readTextFileSync(`${out}/n.csv`), want.slice(want.indexOf("\n") + 1));
    const back = `${tmp.path}/back.csv`;
    assertEquals((await cli(["convert", `${out}/c.parquet`, back])).code, 0);
    assertEquals(Deno.readTextFileSync(back), want);
    assertStringIncludes(Deno.readTextFileSync(`${out}/s.html`), 'id="pwalk-data"');
    assertEquals(Deno.readTextFileSync(`${out}/e.csv`).split("\n")[0], ERRORS_HEADER);
  },
});

Deno.test({
  name:
    "a link another user put in a sticky folder (/tmp) is not followed by any output, as the kernel's protected_symlinks refuses",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const scan = await scanOf(tmp.path, "scan.csv");
    const sticky = `${tmp.path}/sticky`;
    await Deno.mkdir(sticky);
    await Deno.chmod(sticky, 0o1777);
    const victim = `${tmp.path}/victim`;
    const link = async (at: string, to: string, uid: number) => {
      await Deno.symlink(to, at);
      await runOk("chown", ["-h", `${uid}:${uid}`, at]);
    };
    // uid 60001's links, and root's own links to hers
    for (const x of ["html", "csv"]) {
      await link(`${sticky}/hers.${x}`, victim, 60001);
      await link(`${sticky}/mine.${x}`, `${sticky}/hers.${x}`, 0);
    }
    for (const who of ["hers", "mine"]) {
      const [html, csv] = [`${sticky}/${who}.html`, `${sticky}/${who}.csv`];
      for (
        const args of [
          ["summary", "--html", html, scan],
          ["convert", scan, csv],
          ["--errors", html, "-o", `${tmp.path}/r.csv`, `${tmp.path}/tree`],
          ["-o", csv, `${tmp.path}/tree`],
        ]
      ) {
        Deno.writeTextFileSync(victim, "secret");
        const r = await cli(args);
        assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assertMatch(r.stderr, /^pwalk: .*: not followed: .* owned by uid 60001 in .*\n$/);
        assertEquals(Deno.readTextFileSync(victim), "secret", args.join(" "));
      }
    }
    // the folder's owner's link is followed, as the kernel follows it
    const hersToo = `${tmp.path}/hers-too`;
    await Deno.mkdir(hersToo);
    await Deno.chown(hersToo, 60001, 60001);
    await Deno.chmod(hersToo, 0o1777);
    await link(`${hersToo}/s.html`, victim, 60001);
    const r = await cli(["summary", "--html", `${hersToo}/s.html`, scan]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(Deno.readTextFileSync(victim), 'id="pwalk-data"');
  },
});

Deno.test({
  name:
    "a link another user put in a sticky folder is not followed as a folder of an output's path either (every output, new file or not); root's and the folder owner's are",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const scan = await scanOf(tmp.path, "scan.csv");
    await Deno.mkdir(`${tmp.path}/plan`); // (a plan beside the scan would make it a shard's)
    const plan = `${tmp.path}/plan/plan.json`;
    assertEquals((await cli(["plan", `${tmp.path}/tree`, "--shards", "2", "-o", plan])).code, 0);
    const sticky = `${tmp.path}/sticky`;
    await Deno.mkdir(sticky);
    await Deno.chmod(sticky, 0o1777);
    // a folder of root's, with a file in it: what her link leads to
    const victim = `${tmp.path}/victim`;
    await Deno.mkdir(victim);
    Deno.writeTextFileSync(`${victim}/keep.csv`, "secret");
    Deno.writeTextFileSync(`${victim}/keep.html`, "secret"); // (--html's: a page's name)
    const link = async (at: string, to: string, uid: number) => {
      await Deno.symlink(to, at);
      await runOk("chown", ["-h", `${uid}:${uid}`, at]);
    };
    await link(`${sticky}/hers`, victim, 60001);
    await link(`${sticky}/mine`, `${sticky}/hers`, 0); // root's own link to hers
    await link(`${sticky}/up`, "hers/../victim", 0); // ".." taken in the folder reached
    const outputs = (dir: string, name: string): string[][] => [
      ["summary", "--html", `${dir}/${name.replace(/\.csv$/, ".html")}`, scan],
      ["convert", scan, `${dir}/${name}`],
      ["--errors", `${dir}/${name}`, "-o", `${tmp.path}/r.csv`, `${tmp.path}/tree`],
      ["-o", `${dir}/${name}`, `${tmp.path}/tree`],
      ["plan", `${tmp.path}/tree`, "--shards", "2", "-o", `${dir}/${name}`],
      ["report", "--plan", plan, "--shard", "0", "-o", `${dir}/${name}`], // replaceLink
    ];
    const cases: [string, string[], string][] = [];
    for (const name of ["new.csv", "keep.csv"]) {
      for (const args of outputs(`${sticky}/hers`, name)) {
        cases.push([tmp.path, args, `the link ${sticky}/hers in its path`]);
      }
      for (const args of outputs(`${sticky}/mine`, name)) {
        cases.push([tmp.path, args, `the link ${sticky}/hers it leads to`]);
      }
    }
    // relative to the working folder, and through ".." after her link
    cases.push([sticky, ["convert", scan, "hers/new.csv"], `the link ${sticky}/hers in its path`]);
    cases.push([sticky, ["-o", "up/new.csv", `${tmp.path}/tree`], `${sticky}/hers it leads to`]);
    // (all refused before any work, two at a time, then checked in turn)
    const ran = await pooled(cases, ([cwd, args]) => cli(args, { cwd }));
    for (const [i, [, args, which]] of cases.entries()) {
      const r = ran[i];
      assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertMatch(r.stderr, /^pwalk: .*: not followed: .* owned by uid 60001 in .*\n$/);
      assertStringIncludes(r.stderr, which, args.join(" "));
      // nothing written there: no file, no temporary left
      assertEquals(
        [...Deno.readDirSync(victim)].map((e) => e.name).sort(),
        ["keep.csv", "keep.html"],
        args.join(" "),
      );
      assertEquals(Deno.readTextFileSync(`${victim}/keep.csv`), "secret", args.join(" "));
      assertEquals(Deno.readTextFileSync(`${victim}/keep.html`), "secret", args.join(" "));
    }
    // root's link in the sticky folder, and the link of a sticky folder's
    // owner (hers), are followed, as the kernel follows them
    const hersToo = `${tmp.path}/hers-too`;
    await Deno.mkdir(hersToo);
    await Deno.chown(hersToo, 60001, 60001);
    await Deno.chmod(hersToo, 0o1777);
    for (const [at, owner] of [[`${sticky}/root`, 0], [`${hersToo}/d`, 60001]] as const) {
      const into = `${tmp.path}/into-${owner}`;
      await Deno.mkdir(into);
      await link(at, into, owner);
      for (const args of outputs(at, "o.csv")) {
        const r = await cli(args);
        assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
        const made = `${into}/o.${args[0] === "summary" ? "html" : "csv"}`;
        assert(Deno.statSync(made).size > 0, args.join(" "));
        Deno.removeSync(made);
      }
    }
  },
});

Deno.test({
  name:
    "a spill folder's parent (TMPDIR, --temp-dir) another user can change is refused by summary and convert, nothing written",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const scan = await scanOf(tmp.path, "scan.csv");
    const hers = `${tmp.path}/hers`;
    await Deno.mkdir(`${hers}/tmp`, { recursive: true });
    await Deno.chown(hers, 60001, 60001);
    const open = `${tmp.path}/open`; // root's, but anyone may rename in it
    await Deno.mkdir(open);
    await Deno.chmod(open, 0o777);
    for (const dir of [`${hers}/tmp`, open]) {
      const why = dir === open
        ? `${open} is writable by group or others (mode 0777)`
        : `${hers} is owned by uid 60001, not by you or root`;
      for (const cmd of [["summary", scan], ["convert", scan, `${tmp.path}/c.csv`]]) {
        const env = await cli(cmd, { env: { TMPDIR: dir } });
        assertEquals(env.code, 1, env.stderr);
        assertEquals(
          env.stderr,
          `pwalk: DuckDB's spill folder would go in ${dir} ($TMPDIR), which others can change ` +
            `(${why}): set TMPDIR or --temp-dir to a folder of yours\n`,
        );
        const opt = await cli([cmd[0], "--temp-dir", dir, ...cmd.slice(1)]);
        assertEquals(opt.code, 2, opt.stderr);
        assertStringIncludes(
          opt.stderr,
          `pwalk: --temp-dir ${dir}: others can change it (${why}): give a folder of yours\n`,
        );
        assertEquals([...Deno.readDirSync(dir)], [], cmd.join(" "));
        assertEquals(Deno.readDirSync(tmp.path).some((e) => e.name.includes("c.csv")), false);
      }
    }
    // a sticky one (as /tmp) is the runner's to use
    await Deno.chmod(open, 0o1777);
    const r = await cli(["convert", "--temp-dir", open, scan, `${tmp.path}/c.csv`]);
    assertEquals(r.code, 0, r.stderr);
  },
});

/**
 * The other user's move the rule above leaves her: a link renamed over the
 * temporary just before it is renamed into place (an LD_PRELOAD shim makes
 * her move, deterministically, inside the runner's rename()).
 */
const SWAP_BEFORE_RENAME_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* SWAP_TO: her link's target; SWAP_ONLY: the temporary's name holds this.
   She moves just before a rename, and just after a chown made the file hers. */
static int hers(int dir, const char *old) {
  const char *to = getenv("SWAP_TO"), *only = getenv("SWAP_ONLY");
  if (!to || !only || !strstr(old, only)) return 0;
  static int (*real)(int, const char *, int, const char *);
  if (!real) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
  char name[4096];
  snprintf(name, sizeof name, "%s.hers", old);
  unlinkat(dir, name, 0);
  return symlinkat(to, dir, name) == 0 ? real(dir, name, dir, old) : 0;
}
int rename(const char *old, const char *new) { /* Deno's */
  static int (*real)(const char *, const char *);
  if (!real) real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
  hers(AT_FDCWD, old);
  return real(old, new);
}
int chown(const char *path, uid_t uid, gid_t gid) { /* Deno's: then hers, as the file is */
  static int (*real)(const char *, uid_t, gid_t);
  if (!real) real = (int (*)(const char *, uid_t, gid_t))dlsym(RTLD_NEXT, "chown");
  int r = real(path, uid, gid);
  hers(AT_FDCWD, path);
  return r;
}
int renameat(int od, const char *old, int nd, const char *new) { /* the library's */
  static int (*real)(int, const char *, int, const char *);
  if (!real) real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
  hers(od, old);
  return real(od, old, nd, new);
}
`;

shimTest(
  "in a folder another user can change, a link she renames over the temporary just before its rename fails the run (exit 1), never a success without the output (-o too)",
  SWAP_BEFORE_RENAME_C,
  async (shim) => {
    if (Deno.uid() !== 0) return; // chown to another user: root only
    const scan = await scanOf(shim.dir, "scan.csv");
    const out = `${shim.dir}/hers`;
    await Deno.mkdir(out);
    await Deno.chown(out, 60001, 60001);
    await Deno.chmod(out, 0o777);
    const victim = `${shim.dir}/victim`;
    const runs: [string, string[]][] = [
      ["s.html", ["summary", "--no-names", "--html", `${out}/s.html`, scan]],
      ["c.csv", ["convert", scan, `${out}/c.csv`]],
      ["e.csv", ["--errors", `${out}/e.csv`, "-o", `${shim.dir}/r.csv`, `${shim.dir}/tree`]],
      ["r.csv.zst", ["-o", `${out}/r.csv.zst`, `${shim.dir}/tree`]], // the library's
    ];
    for (const [name, args] of runs) {
      Deno.writeTextFileSync(victim, "secret");
      const r = await shim.cli(args, { SWAP_TO: victim, SWAP_ONLY: `${name}.partial-` });
      assertEquals(r.code, 1, `${name}: ${r.stderr}`);
      assertMatch(
        r.stderr,
        /^pwalk: .*cannot write.*: another file took the place of the one written/m,
      );
      // what she put there is at the name (a link of hers), nothing of the run's
      assert(Deno.lstatSync(`${out}/${name}`).isSymlink, name);
      assertEquals(Deno.readTextFileSync(victim), "secret", name);
      await Deno.remove(`${out}/${name}`);
    }
    // the same check in the runner's own folder (where only the runner
    // could make that move): the link the shim put there is at the name
    const mine = `${shim.dir}/mine.html`;
    const r = await shim.cli(["summary", "--no-names", "--html", mine, scan], {
      SWAP_TO: victim,
      SWAP_ONLY: "mine.html.partial-",
    });
    assertEquals(r.code, 1, r.stderr);
    assert(Deno.lstatSync(mine).isSymlink);
  },
);

shimTest(
  "in a sticky folder, a replaced file of another user's: her link renamed over the temporary once it is hers is never chmodded through (--html, convert, --errors)",
  SWAP_BEFORE_RENAME_C,
  async (shim) => {
    if (Deno.uid() !== 0) return; // chown to another user: root only
    // the old file is hers, mode 6777: the temporary is chowned to her, and
    // a chmod by its name after that followed her link to a file of root's
    const scan = await scanOf(shim.dir, "scan.csv");
    const sticky = `${shim.dir}/sticky`;
    await Deno.mkdir(sticky);
    await Deno.chmod(sticky, 0o1777);
    const victim = `${shim.dir}/victim`;
    const runs: [string, string[]][] = [
      ["s.html", ["summary", "--no-names", "--html", `${sticky}/s.html`, scan]],
      ["c.csv", ["convert", scan, `${sticky}/c.csv`]],
      ["e.csv", ["--errors", `${sticky}/e.csv`, "-o", `${shim.dir}/r.csv`, `${shim.dir}/tree`]],
    ];
    for (const [name, args] of runs) {
      Deno.writeTextFileSync(victim, "secret");
      Deno.chmodSync(victim, 0o600);
      Deno.writeTextFileSync(`${sticky}/${name}`, "hers");
      Deno.chownSync(`${sticky}/${name}`, 60001, 60001);
      Deno.chmodSync(`${sticky}/${name}`, 0o6777);
      const r = await shim.cli(args, { SWAP_TO: victim, SWAP_ONLY: `${name}.partial-` });
      const st = Deno.statSync(victim);
      assertEquals([st.uid, st.mode! & 0o7777], [0, 0o600], `${name}: ${r.stderr}`);
      assertEquals(Deno.readTextFileSync(victim), "secret", name);
      // her move is seen: the run fails, not a success without its output
      assertEquals(r.code, 1, `${name}: ${r.stderr}`);
      assertMatch(r.stderr, /another file took the place of the one written/);
      await Deno.remove(`${sticky}/${name}`);
    }
  },
);

/**
 * The end of an LD_PRELOAD shim whose `hers(path, flags)` (defined before
 * it) makes her move: open() and open64() call it, then the real call.
 */
const OPEN_HOOK_C = `#include <dlfcn.h>
#include <stdarg.h>
#define WRAP(name) \\
  int name(const char *path, int flags, ...) { \\
    static int (*real)(const char *, int, ...); \\
    if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \\
    va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap); \\
    hers(path, flags); \\
    return real(path, flags, mode); \\
  }
WRAP(open)
WRAP(open64)
`;

/** {@link OPEN_HOOK_C} for openat() and openat64(). */
const OPENAT_HOOK_C = `#include <dlfcn.h>
#include <stdarg.h>
#define WRAPAT(name) \\
  int name(int dir, const char *path, int flags, ...) { \\
    static int (*real)(int, const char *, int, ...); \\
    if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \\
    va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap); \\
    hers(path, flags); \\
    return real(dir, path, flags, mode); \\
  }
WRAPAT(openat)
WRAPAT(openat64)
`;

/** Her move against a direct output: the FIFO she planted becomes a link to a file of root's just before it is opened. */
const FIFO_TO_LINK_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void hers(const char *path, int flags) {
  const char *fifo = getenv("SWAP_FIFO"), *to = getenv("SWAP_TO");
  if (fifo && to && !strcmp(path, fifo) && (flags & O_ACCMODE) != O_RDONLY && !(flags & O_CREAT)) {
    unlink(fifo);
    symlink(to, fifo);
  }
}
` + OPEN_HOOK_C;

shimTest(
  "a FIFO as OUT, replaced by a link to another file before it is opened: nothing written there (--html, convert)",
  FIFO_TO_LINK_C,
  async (shim) => {
    const scan = await scanOf(shim.dir, "scan.csv");
    const victim = `${shim.dir}/victim`;
    for (const args of [["summary", "--no-names", "--html"], ["convert"]]) {
      const fifo = `${shim.dir}/out.csv`;
      await run("mkfifo", [fifo]);
      Deno.writeTextFileSync(victim, "secret");
      const [a, b] = args[0] === "convert" ? [scan, fifo] : [fifo, scan];
      const r = await shim.cli([...args, a, b], { SWAP_FIFO: fifo, SWAP_TO: victim });
      assertEquals(r.code, 1, `${args[0]}: ${r.stderr}`);
      assertMatch(
        r.stderr,
        /cannot write .*out\.csv: it was replaced by another file since it was checked/,
      );
      assertEquals(Deno.readTextFileSync(victim), "secret", args[0]);
      assert(Deno.lstatSync(fifo).isSymlink, "the shim's move happened");
      await Deno.remove(fifo);
    }
  },
);

shimTest(
  "--errors FIFO, replaced by a link to a file of root's before it is opened: nothing written there, the run fails before any work",
  FIFO_TO_LINK_C,
  async (shim) => {
    await Deno.mkdir(`${shim.dir}/tree`);
    await smallTree(`${shim.dir}/tree`);
    const victim = `${shim.dir}/victim`;
    const fifo = `${shim.dir}/errors.csv`;
    await run("mkfifo", [fifo]);
    Deno.writeTextFileSync(victim, "secret");
    const out = `${shim.dir}/r.csv`;
    const r = await shim.cli(["--errors", fifo, "-o", out, `${shim.dir}/tree`], {
      SWAP_FIFO: fifo,
      SWAP_TO: victim,
    });
    assertEquals(Deno.readTextFileSync(victim), "secret", r.stderr);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stderr,
      `pwalk: --errors ${fifo}: cannot write: it was replaced by another file since it was checked\n`,
    );
    assert(Deno.lstatSync(fifo).isSymlink, "the shim's move happened");
    assert(!Deno.readDirSync(shim.dir).some((e) => e.name.includes("r.csv")), "the report ran");
  },
);

/**
 * Her move against the library's own descriptor of a direct --errors: once
 * the FIFO is held open (a reader on it), a hard link to a file of root's
 * is renamed over its name just before the library opens that name
 * (O_APPEND: the library's open, not the runner's own); with SWAP_UNLINK
 * the FIFO is removed instead. With VANISH_C: an entry vanishes during the
 * walk, an error row for --errors.
 */
const FIFO_TO_FILE_AT_CREATE_C = VANISH_C + `
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void hers(const char *path, int flags) {
  const char *fifo = getenv("SWAP_FIFO"), *to = getenv("SWAP_TO");
  /* the library's open: O_APPEND (pw_fd_open_direct; the runner's own opens
     of a FIFO never ask for it) */
  if (fifo && to && !strcmp(path, fifo) && (flags & O_APPEND)) {
    if (getenv("SWAP_UNLINK")) {
      unlink(fifo);
      return;
    }
    char name[4096];
    snprintf(name, sizeof name, "%s.hers", fifo);
    unlink(name);
    if (link(to, name) == 0) rename(name, fifo);
  }
}
` + OPEN_HOOK_C;

shimTest(
  "--errors FIFO, replaced by another file just before the library opens it by its name: the run fails, that file is not written",
  FIFO_TO_FILE_AT_CREATE_C,
  async (shim) => {
    await Deno.mkdir(`${shim.dir}/tree`);
    await smallTree(`${shim.dir}/tree`);
    const victim = `${shim.dir}/victim`;
    Deno.writeTextFileSync(`${shim.dir}/tree/vanish-1`, "x"); // an error row, if walked
    Deno.writeTextFileSync(victim, "secret");
    const fifo = `${shim.dir}/errors.csv`;
    await run("mkfifo", [fifo]);
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    const out = `${shim.dir}/r.csv`;
    const r = await shim.cli(["--errors", fifo, "-o", out, `${shim.dir}/tree`], {
      SWAP_FIFO: fifo,
      SWAP_TO: victim,
    });
    try {
      reader.kill(); // (only if the run never opened the FIFO)
    } catch { /* ended: the FIFO was opened and closed */ }
    const read = dec.decode((await reader.output()).stdout);
    assertEquals(Deno.readTextFileSync(victim), "secret", r.stderr);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stderr,
      `pwalk: --errors ${fifo}: cannot write: it was replaced by another file since it was checked\n`,
    );
    // the shim's move happened: the name is the victim's now
    assertEquals(Deno.statSync(fifo).ino, Deno.statSync(victim).ino);
    assertEquals(read, ERRORS_HEADER + "\n", "the FIFO held got the header");
    assert(!Deno.readDirSync(shim.dir).some((e) => e.name.includes("r.csv")), "the report ran");
  },
);

shimTest(
  "--errors FIFO, removed just before the library opens it by its name: the run fails, no file is made there",
  FIFO_TO_FILE_AT_CREATE_C,
  async (shim) => {
    await Deno.mkdir(`${shim.dir}/tree`);
    await smallTree(`${shim.dir}/tree`);
    const fifo = `${shim.dir}/errors.csv`;
    await run("mkfifo", [fifo]);
    const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
    const out = `${shim.dir}/r.csv`;
    const r = await shim.cli(["--errors", fifo, "-o", out, `${shim.dir}/tree`], {
      SWAP_FIFO: fifo,
      SWAP_TO: fifo,
      SWAP_UNLINK: "1",
    });
    await reader.output();
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, `pwalk: --errors ${fifo}: No such file or directory\n`);
    // nothing made at the name (a new file of root's, 0600, before)
    assert(!Deno.readDirSync(shim.dir).some((e) => e.name === "errors.csv"), "a file was made");
    assert(!Deno.readDirSync(shim.dir).some((e) => e.name.includes("r.csv")), "the report ran");
  },
);

/** An output file replaced by a FIFO (or, with SWAP_DEV, /dev/null's twin) just before it is first opened by its name. */
const FILE_TO_FIFO_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
static void hers(const char *path, int flags) {
  static int done;
  const char *out = getenv("SWAP_OUT");
  if (done || !out || strcmp(path, out) || (flags & O_CREAT)) return;
  done = 1;
  unlink(out);
  if (getenv("SWAP_DEV")) mknod(out, S_IFCHR | 0666, makedev(1, 3));
  else mkfifo(out, 0666);
}
` + OPEN_HOOK_C + OPENAT_HOOK_C;

shimTest(
  "an existing output replaced by a FIFO or device between its look and the check that it can be written: refused before any work, nothing waited for (--html, convert, --errors, plan -o)",
  FILE_TO_FIFO_C,
  async (shim) => {
    const scan = await scanOf(shim.dir, "scan.csv");
    const out = `${shim.dir}/out`;
    await Deno.mkdir(out);
    const runs: [string, string[]][] = [
      ["s.html", ["summary", "--no-names", "--html", `${out}/s.html`, scan]],
      ["c.csv", ["convert", scan, `${out}/c.csv`]],
      ["e.csv", ["--errors", `${out}/e.csv`, "-o", `${out}/r.csv`, `${shim.dir}/tree`]],
      ["p.json", ["plan", `${shim.dir}/tree`, "--shards", "2", "-o", `${out}/p.json`]],
    ];
    const kinds = Deno.uid() === 0 ? ["fifo", "device"] : ["fifo"]; // mknod: root only
    for (const kind of kinds) {
      for (const [name, args] of runs) {
        const file = `${out}/${name}`;
        Deno.writeTextFileSync(file, "old");
        const r = await cli(args, {
          env: {
            LD_PRELOAD: `${shim.dir}/shim.so`,
            SWAP_OUT: file,
            ...(kind === "device" ? { SWAP_DEV: "1" } : {}),
          },
          timeoutMs: 120_000, // a hang guard: the old check waited for a reader forever
        });
        assert(!r.timedOut, `${kind} ${name}: waited for the FIFO`);
        assertEquals(r.code, 1, `${kind} ${name}: ${r.stderr}`);
        const why = "it was replaced by another file since it was checked";
        assertEquals(
          r.stderr,
          name === "e.csv"
            ? `pwalk: --errors ${file}: cannot write: ${why}\n`
            : `pwalk: cannot write ${file}: ${why}\n`,
        );
        const st = Deno.lstatSync(file); // the shim's move happened; still there, nothing else
        assert(kind === "fifo" ? st.isFifo : st.isCharDevice, `${kind} ${name}`);
        Deno.removeSync(file);
        assertEquals([...Deno.readDirSync(out)], [], `${kind} ${name}: work done`);
      }
    }
  },
);

testNeeding([STRACE], {
  name:
    "an existing output is checked writable without opening it by its name for writing; a file the runner may not write is still refused before any work",
  async fn() {
    await using tmp = await tempDir();
    const scan = await scanOf(tmp.path, "scan.csv");
    const out = `${tmp.path}/out`;
    await Deno.mkdir(out);
    const runs: [string, string[]][] = [
      ["s.html", ["summary", "--no-names", "--html", `${out}/s.html`, scan]],
      ["c.csv", ["convert", scan, `${out}/c.csv`]],
      ["e.csv", ["--errors", `${out}/e.csv`, "-o", `${tmp.path}/r.csv`, `${tmp.path}/tree`]],
      ["p.json", ["plan", `${tmp.path}/tree`, "--shards", "2", "-o", `${out}/p.json`]],
    ];
    for (const [name, args] of runs) {
      const file = `${out}/${name}`;
      Deno.writeTextFileSync(file, "old");
      const log = `${tmp.path}/strace-${name}.log`;
      const r = await run("strace", [
        "-f",
        "-e",
        "trace=open,openat,openat2,creat",
        "-o",
        log,
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        ...args,
      ]);
      assertEquals(r.code, 0, `${name}: ${r.stderr}`);
      const byName = Deno.readTextFileSync(log).split("\n")
        .filter((l) => l.includes(`"${file}"`) && /O_WRONLY|O_RDWR/.test(l));
      assertEquals(byName, [], `${name}: opened by its name for writing`);
      assert(Deno.readTextFileSync(file) !== "old", `${name}: not written`);
    }
    Deno.removeSync(`${tmp.path}/r.csv`);
    // still refused, before any work: a file of another user's the runner
    // (uid 0 without capabilities) may not write, and (as root) an
    // immutable one, which its mode alone would not tell
    const refusals: [string, () => Promise<void>, () => Promise<void>, string][] = [[
      "theirs",
      async () => {
        for (const [name] of runs) {
          await Deno.chown(`${out}/${name}`, 1001, 1001);
          await Deno.chmod(`${out}/${name}`, 0o644);
        }
        await Deno.chmod(out, 0o777);
      },
      async () => await Deno.chmod(out, 0o755),
      "Permission denied",
    ]];
    // (chattr missing, or a file system without the flag: not tried, said)
    const chattr = await run("chattr", ["+i", `${out}/c.csv`]).then(
      (r) => r.code === 0 ? "" : r.stderr.trim(),
      (e) => String(e),
    );
    if (Deno.uid() === 0 && chattr !== "") {
      notHere(`the immutable case: chattr +i ${out}/c.csv fails: ${chattr}`);
    }
    if (Deno.uid() === 0 && chattr === "") {
      await run("chattr", ["-i", `${out}/c.csv`]);
      refusals.push([
        "immutable",
        async () => {
          for (const [name] of runs) await runOk("chattr", ["+i", `${out}/${name}`]);
        },
        async () => {
          for (const [name] of runs) await runOk("chattr", ["-i", `${out}/${name}`]);
        },
        "Operation not permitted",
      ]);
    }
    for (const [what, set, unset, why] of refusals) {
      if (what === "theirs" && Deno.uid() !== 0) continue; // chown: root only
      await set();
      try {
        for (const [name, args] of runs) {
          const before = Deno.readTextFileSync(`${out}/${name}`);
          const r = await cli(args, { prefix: what === "theirs" ? UNPRIVILEGED : [] });
          assertEquals(r.code, 1, `${what} ${name}: ${r.stderr}`);
          const file = `${out}/${name}`;
          assertEquals(
            r.stderr,
            name === "e.csv"
              ? `pwalk: --errors ${file}: cannot write: ${why}\n`
              : `pwalk: cannot write ${file}: ${why}\n`,
          );
          assertEquals(Deno.readTextFileSync(file), before, `${what} ${name}`);
        }
        assertEquals([...Deno.readDirSync(out)].length, runs.length, `${what}: a temporary left`);
        assert(!Deno.readDirSync(tmp.path).some((e) => e.name === "r.csv"), "the report ran");
      } finally {
        await unset();
      }
    }
  },
});

Deno.test("convert --level N compresses a .csv.zst at level N, as the zstd command does", async () => {
  await using tmp = await tempDir("pwalk-files-");
  await Deno.mkdir(`${tmp.path}/tree`);
  for (let i = 0; i < 600; i++) await Deno.writeTextFile(`${tmp.path}/tree/f${i}.txt`, `${i}`);
  const plain = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["--header", "-o", plain, `${tmp.path}/tree`])).code, 0);
  const text = await Deno.readTextFile(plain);
  const size: Record<number, number> = {}, cliSize: Record<number, number> = {};
  for (const level of [1, 19]) {
    const out = `${tmp.path}/l${level}.csv.zst`;
    const r = await cli(["convert", "--level", `${level}`, plain, out]);
    assertEquals(r.code, 0, r.stderr);
    size[level] = (await Deno.stat(out)).size;
    // the zstd command reads it back as the input's text (rows in any order)
    const sorted = (t: string) => t.split("\n").sort().join("\n");
    assertEquals(sorted((await runOk("zstd", ["-dc", out])).text), sorted(text));
    cliSize[level] = (await runOk("zstd", [`-${level}`, "-c", plain])).stdout.length;
  }
  assert(cliSize[19] < cliSize[1], `zstd: ${JSON.stringify(cliSize)}`);
  // level 19 saves at least half of what it saves for the zstd command
  // (DuckDB's own zstd, at one level whatever was asked, saved a few bytes)
  const saved = size[1] - size[19], cliSaved = cliSize[1] - cliSize[19];
  assert(
    saved * 2 >= cliSaved,
    `convert: ${JSON.stringify(size)}, zstd: ${JSON.stringify(cliSize)}`,
  );
});

Deno.test("an interrupt's clean-up run as soon as --html's temporary (or the write probe) is registered finds it made and removes it; none is made after", async () => {
  // The CLI's signal handler is removePending(), run between two steps of
  // the event loop. Here it runs at the first such point after the
  // registration (a microtask queued when the first path is registered:
  // interrupt.ts then adds its "unload" listener, where the folder is
  // listed), in a child process of its own (the clean-up ends the
  // process's outputs).
  await using tmp = await tempDir();
  const script = `${tmp.path}/interrupt.ts`;
  await Deno.writeTextFile(
    script,
    `import { checkedOutput, openPartial } from ${
      JSON.stringify(new URL("../lib/outfile.ts", import.meta.url).href)
    };
import { removePending } from ${
      JSON.stringify(new URL("../lib/interrupt.ts", import.meta.url).href)
    };
const [what, dir] = Deno.args;
const temps = () => [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".partial-"));
const seen = [];
const add = globalThis.addEventListener.bind(globalThis);
globalThis.addEventListener = (type, l, o) => {
  if (type === "unload") {
    const there = temps(); // as it is registered
    queueMicrotask(() => seen.push({ there, removed: removePending() }));
  }
  return add(type, l, o);
};
let error = null, out = null;
try {
  out = what === "probe" ? await checkedOutput(dir + "/page.html") : await openPartial(dir + "/page.html");
} catch (e) {
  error = e.name;
}
const after = temps();
if (out?.discard) out.discard();
console.log(JSON.stringify({ seen, error, after }));
`,
  );
  for (const what of ["partial", "probe"]) {
    const dir = `${tmp.path}/${what}`;
    await Deno.mkdir(dir);
    const r = await run(Deno.execPath(), ["run", "-A", script, what, dir]);
    assertEquals(r.code, 0, r.stderr);
    const got = JSON.parse(r.text);
    // registered once it was made; the clean-up ran once and removed it (a
    // probe is no partial output: not counted; its own removal, started
    // before, may have been first)
    assertEquals(got.seen.length, 1, `${what}: ${r.text}`);
    assertEquals(got.seen[0].there.length, 1, `${what}: made when registered: ${r.text}`);
    if (what === "partial") assertEquals(got.seen[0].removed, 1, r.text);
    // and nothing is left, nor made after it (the partial output: refused)
    assertEquals(got.after, [], `${what}: ${r.text}`);
    assertEquals(got.error, what === "partial" ? "Interrupted" : null, `${what}: ${r.text}`);
    assertEquals([...Deno.readDirSync(dir)], []);
  }
});

Deno.test("openPartial noReplace: a file made at the name meanwhile is kept, the commit throws AlreadyExists, no temporary left", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/plan.json`;
  {
    using p = await openPartial(path, { noReplace: true });
    await p.file.write(new TextEncoder().encode("mine\n"));
    await Deno.writeTextFile(path, "theirs\n"); // another process, meanwhile
    let threw: unknown;
    try {
      p.commit();
    } catch (e) {
      threw = e;
    }
    assert(threw instanceof Deno.errors.AlreadyExists, String(threw));
  }
  assertEquals(await Deno.readTextFile(path), "theirs\n");
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["plan.json"]);
  // still missing at the commit: made, one name, the temporary gone
  const fresh = `${tmp.path}/new.json`;
  {
    using p = await openPartial(fresh, { noReplace: true });
    await p.file.write(new TextEncoder().encode("mine\n"));
    p.commit();
  }
  assertEquals(await Deno.readTextFile(fresh), "mine\n");
  assertEquals((await Deno.stat(fresh)).nlink, 1);
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
    "new.json",
    "plan.json",
  ]);
  // there already at the open: refused then, nothing made
  let atOpen: unknown;
  await openPartial(path, { noReplace: true }).catch((e) => atOpen = e);
  assert(atOpen instanceof Deno.errors.AlreadyExists, String(atOpen));
  // the temporary swapped for another user's link before the commit: not
  // taken for the file written
  const third = `${tmp.path}/third.json`;
  await Deno.writeTextFile(`${tmp.path}/secret`, "not mine\n");
  {
    using p = await openPartial(third, { noReplace: true });
    await p.file.write(new TextEncoder().encode("mine\n"));
    await Deno.rename(p.path, `${tmp.path}/moved`);
    await Deno.symlink(`${tmp.path}/secret`, p.path);
    let threw: unknown;
    try {
      p.commit();
    } catch (e) {
      threw = e;
    }
    assertMatch(String(threw), /another file took the place of the one written/);
  }
  assertEquals(await Deno.readTextFile(`${tmp.path}/secret`), "not mine\n");
});

Deno.test("a partial output committed after an interrupt's clean-up is not put in place, though a writer by name made the temporary again; one renamed over by another file is refused before its rename (review)", async () => {
  // convert's DuckDB COPY writes OUT's temporary by its name: a signal's
  // clean-up removed it, the COPY made it again, and the commit renamed
  // that over OUT, which the interrupt's line said was left as it was
  await using tmp = await tempDir();
  const script = `${tmp.path}/commit.ts`;
  await Deno.writeTextFile(
    script,
    `import { openPartial } from ${
      JSON.stringify(new URL("../lib/outfile.ts", import.meta.url).href)
    };
import { removePending } from ${
      JSON.stringify(new URL("../lib/interrupt.ts", import.meta.url).href)
    };
const [what, dir] = Deno.args;
const out = dir + "/out.csv";
// (noReplace, as plan's: a new file only, linked into place)
if (what !== "linked") Deno.writeTextFileSync(out, "OLD");
const p = await openPartial(out, { removeOnInterrupt: what === "interrupt", noReplace: what === "linked" });
Deno.writeTextFileSync(p.path, "NEW, written by name");
if (what === "interrupt") {
  removePending(); // the signal's handler
  Deno.writeTextFileSync(p.path, "NEW again, by name"); // the writer goes on
} else {
  // another file renamed over the temporary's name
  Deno.writeTextFileSync(dir + "/other", "NOT OURS");
  Deno.renameSync(dir + "/other", p.path);
}
let error = null;
try { p.commit(); } catch (e) { error = e.name + ": " + e.message; }
let now = null;
try { now = Deno.readTextFileSync(out); } catch { /* none */ }
console.log(JSON.stringify({ error, out: now, left: [...Deno.readDirSync(dir)].map((e) => e.name).sort() }));
`,
  );
  for (const what of ["interrupt", "renamed", "linked"]) {
    const dir = `${tmp.path}/${what}`;
    await Deno.mkdir(dir);
    const r = await run(Deno.execPath(), ["run", "-A", script, what, dir]);
    assertEquals(r.code, 0, r.stderr);
    const got = JSON.parse(r.text);
    assertEquals(got.out, what === "linked" ? null : "OLD", `${what}: OUT kept: ${r.text}`);
    assertEquals(
      got.error,
      what === "interrupt" ? "Interrupted: Interrupted" : "Error: another file took the place of " +
        `the one written before it was ${what} (another run writing to the same name at once, ` +
        "or another user who can change its folder): give each run a name of its own in a " +
        "folder of yours",
      r.text,
    );
    // and no temporary left: the interrupted run's, made again by name,
    // and the file renamed over the temporary's name (hidden, the run's own
    // name), removed by the commit's discard
    assertEquals(got.left, what === "linked" ? [] : ["out.csv"], r.text);
  }
});

Deno.test("DuckDB's session asked for after an interrupt's clean-up makes no spill folder, which would be left (review)", async () => {
  await using tmp = await tempDir();
  const script = `${tmp.path}/open.ts`;
  await Deno.writeTextFile(
    script,
    `import { Engine } from ${
      JSON.stringify(new URL("../lib/answers/duck.ts", import.meta.url).href)
    };
import { removePending } from ${
      JSON.stringify(new URL("../lib/interrupt.ts", import.meta.url).href)
    };
removePending(); // the signal's handler ran
let error = null;
try { await Engine.open({ tempDirectory: Deno.args[0] }); } catch (e) { error = e.name; }
console.log(JSON.stringify({ error, left: [...Deno.readDirSync(Deno.args[0])].map((e) => e.name) }));
`,
  );
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const r = await run(Deno.execPath(), ["run", "-A", script, spill]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.text), { error: "Interrupted", left: [] });
});
