/**
 * Where the report goes (`-o` / `output`), checked against Deno.lstat and a
 * plain report of the same tree:
 * - the output file inside the walked tree is never a row of it: not under
 *   its temporary name, and not the existing file it replaces;
 * - an `-o` or `--errors` FIFO inside the tree keeps its row (only regular
 *   files are left out), as in pwalk;
 * - a character device is written in place and stays a device: `null`
 *   takes the report, `full` fails the run (exit 1, one line).  The devices
 *   are mknod copies of /dev/null and /dev/full (same major and minor) in a
 *   temporary folder, so that a regression replaces a copy, never /dev/null;
 * - a FIFO stays a FIFO and its reader gets the whole report, whether it
 *   opened the FIFO before pwalk or after, plain or gzip;
 * - a socket is refused with one line (bad usage, exit 2, as a folder) and
 *   stays a socket;
 * - a symbolic link stays a link and the file it names takes the report; a
 *   dangling link is refused (bad usage) and nothing is created;
 * - an existing file keeps its permission bits, owner and group (root);
 * - without privileges, a device in a folder the user cannot write (as
 *   /dev/null is for a user) is written (no temporary file is needed).
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { report } from "../mod.ts";
import { lineSet, parsePwalk } from "./helpers/csv.ts";
import { CLI, cli, deno, REPO, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { CHATTR, notHere, PYTHON3, STRACE, testNeeding, ZSTD } from "./helpers/system.ts";
import {
  openNames,
  PY_WAITING_ON_PIPE,
  threadWchans,
  waitingForFifoReader,
} from "./helpers/proc.ts";
import { tempDir } from "./helpers/temp.ts";
import { beforeOpenat, shimTest } from "./helpers/shim.ts";
import { waitFor } from "./helpers/wait.ts";

const isRoot = Deno.uid() === 0;

async function sh(cmd: string, ...args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** A small tree of 2 folders and 60 files at `root`. */
function smallTree(root: string): void {
  Deno.mkdirSync(`${root}/sub`, { recursive: true });
  for (let i = 0; i < 60; i++) Deno.writeTextFileSync(`${root}/sub/f${i}`, "x".repeat(i));
}

/** The plain report's lines of root (sorted), after a first run settled atimes. */
async function plainLines(tmp: string, root: string, header = false): Promise<string[]> {
  const out = `${tmp}/reference.csv`;
  await report(root, { output: out, header });
  await report(root, { output: out, header });
  const lines = lineSet(await Deno.readFile(out));
  await Deno.remove(out);
  return lines;
}

/** Files in dir whose name holds ".partial-" (a temporary file left behind). */
function leftovers(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".partial-"));
}

/** One line on stderr, holding `what`. */
function oneLine(stderr: string, what: RegExp): void {
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 1, stderr);
  assertMatch(lines[0], what);
}

testNeeding([ZSTD], {
  name: "the output file inside the tree is left out: its temporary file and the file it replaces",
  async fn() {
    await using tmp = await tempDir("pwalk-out-");
    const root = `${tmp.path}/tree`;
    Deno.mkdirSync(`${root}/sub`, { recursive: true });
    for (let i = 0; i < 50; i++) Deno.writeTextFileSync(`${root}/sub/f${i}`, "x".repeat(i));
    const expected = new Set(["tree", "sub", ...Array.from({ length: 50 }, (_, i) => `f${i}`)]);
    for (const out of [`${root}/scan.csv`, `${root}/sub/scan.csv.zst`, `${root}/sub/s.csv.gz`]) {
      // The first run creates the file, the second replaces it: neither lists it.
      for (const run of ["new", "replacing"]) {
        const s = await report(root, { output: out, threads: 2 });
        const unpack = out.endsWith(".zst") ? "zstd" : out.endsWith(".gz") ? "gzip" : undefined;
        const data = unpack
          ? (await new Deno.Command(unpack, { args: ["-dc", out], stdout: "piped" }).output())
            .stdout
          : await Deno.readFile(out);
        const rows = parsePwalk(data).rows;
        const paths = rows.map((r) => new TextDecoder().decode(r.path));
        const names = new Set(paths.map((p) => p.slice(p.lastIndexOf("/") + 1)));
        assertEquals(names, expected, `${out} (${run}): rows of the output itself`);
        assertEquals(s.entries, expected.size);
        // The folder holding the output counts only what else it holds.
        const dir = out.slice(0, out.lastIndexOf("/"));
        const holder = rows[paths.indexOf(dir)];
        const others = [...Deno.readDirSync(dir)].filter((e) => !out.endsWith(`/${e.name}`));
        assertEquals(holder.fcount, others.length, `${out} (${run})`);
      }
      Deno.removeSync(out);
    }
  },
});

/** ROOT and every name below it, as Deno.readDir lists them. */
function namesUnder(root: string): string[] {
  const names: string[] = [root];
  const list = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      names.push(`${dir}/${e.name}`);
      if (e.isDirectory) list(`${dir}/${e.name}`);
    }
  };
  list(root);
  return names;
}

Deno.test("-o and --errors FIFOs inside the tree keep their rows, as pwalk's (only regular files are left out)", async () => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const out = `${root}/out.fifo`;
  const errs = `${root}/sub/errors.fifo`;
  await sh("mkfifo", out);
  await sh("mkfifo", errs);
  const rdOut = reader(out);
  const rdErrs = reader(errs);
  const r = await cli(["-o", out, "--errors", errs, root]);
  if (r.code !== 0) {
    for (const p of [rdOut, rdErrs]) p.kill("SIGKILL"); // no writer came: not left waiting
  }
  const got = await rdOut.output();
  await rdErrs.output();
  assertEquals(r.code, 0, r.stderr);
  const rows = parsePwalk(got.stdout).rows;
  // the reference: every name under ROOT, the FIFOs too, by Deno.lstat's inode
  const all = namesUnder(root);
  assertEquals(rows.map((x) => x.ino).sort(), all.map((p) => Deno.lstatSync(p).ino).sort());
  for (const fifo of [out, errs]) {
    assert(Deno.lstatSync(fifo).isFifo);
    const row = rows.find((x) => x.ino === Deno.lstatSync(fifo).ino);
    assertEquals(row && new TextDecoder().decode(row.path), fifo);
  }
  // and counted in their folders
  for (const dir of [root, `${root}/sub`]) {
    const row = rows.find((x) => x.ino === Deno.lstatSync(dir).ino)!;
    assertEquals(row.fcount, [...Deno.readDirSync(dir)].length);
  }
});

Deno.test("a file -o or --errors replaces is left out by that name only: its other hard-linked names are rows", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/archive`, { recursive: true });
  await Deno.writeTextFile(`${root}/a`, "a");
  // the output outside the tree, a hard link to it inside (an archived copy)
  const out = `${tmp.path}/scan.csv`;
  await Deno.writeTextFile(out, "old scan\n");
  await Deno.link(out, `${root}/archive/scan-copy.csv`);
  // the errors file inside the tree, with a second name there too
  const errs = `${root}/errs.csv`;
  await Deno.writeTextFile(errs, "old errors\n");
  await Deno.link(errs, `${root}/archive/errs-copy.csv`);
  const r = await cli(["--no-progress", "-o", out, "--errors", errs, root]);
  assertEquals(r.code, 0, r.stderr);
  // Every name Deno.readDir finds, but errs.csv itself (replaced by the run)
  const names = namesUnder(root);
  const expected = names.filter((n) => n !== errs).sort();
  const { rows } = parsePwalk(await Deno.readFile(out));
  assertEquals(rows.map((row) => row.key).sort(), expected);
  // the other names keep the old files: their rows are theirs (inode, size)
  for (const name of ["scan-copy.csv", "errs-copy.csv"]) {
    const row = rows.find((row) => row.key === `${root}/archive/${name}`)!;
    const st = await Deno.lstat(`${root}/archive/${name}`);
    assertEquals([row.ino, row.size], [st.ino, st.size], name);
  }
  assertEquals(await Deno.readTextFile(`${root}/archive/scan-copy.csv`), "old scan\n");
  // the folders count them: archive holds 2 names, the root a, archive (not errs.csv)
  assertEquals(rows.find((row) => row.key === `${root}/archive`)!.fcount, 2);
  assertEquals(rows.find((row) => row.key === root)!.fcount, 2);
});

Deno.test("stdout redirected into the walked tree (pwalk ROOT > ROOT/scan.csv) is not a row of it, nor counted by its folder", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const out = `${root}/sub/scan.csv`;
  // the shell opens the file before pwalk starts, as a user's redirect does
  const r = await run("sh", [
    "-c",
    `"$0" run -A "$1" --no-progress "$2" > "$3"`,
    Deno.execPath(),
    CLI,
    root,
    out,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const names = namesUnder(root);
  assert(names.includes(out), "the redirect made the file");
  const { rows } = parsePwalk(await Deno.readFile(out));
  assertEquals(rows.map((row) => row.key).sort(), names.filter((n) => n !== out).sort());
  // sub's files, as Deno.readDir counts them, less the output
  assertEquals(rows.find((row) => row.key === `${root}/sub`)!.fcount, 60);
});

Deno.test({
  name: "-o a character device: written in place, it stays a device; /dev/full fails with exit 1",
  ignore: !isRoot,
  async fn() {
    await using tmp = await tempDir("pwalk-out-");
    const root = `${tmp.path}/tree`;
    smallTree(root);
    const devs = `${tmp.path}/dev`;
    Deno.mkdirSync(devs);
    await sh("mknod", "-m", "666", `${devs}/null`, "c", "1", "3");
    await sh("mknod", "-m", "666", `${devs}/full`, "c", "1", "7");
    const before = {
      null: Deno.lstatSync(`${devs}/null`).rdev,
      full: Deno.lstatSync(`${devs}/full`).rdev,
    };

    for (const out of [`${devs}/null`, `${devs}/null.csv.zst`, `${devs}/null.csv.gz`]) {
      if (out !== `${devs}/null`) await sh("mknod", "-m", "666", out, "c", "1", "3");
      const r = await cli(["-o", out, root]);
      assertEquals(r.code, 0, r.stderr);
      const st = Deno.lstatSync(out);
      assert(st.isCharDevice, `${out} is no longer a character device`);
      assertEquals(st.rdev, before.null);
    }
    // the API too
    const s = await report(root, { output: `${devs}/null` });
    assertEquals(s.entries, 62);
    assert(Deno.lstatSync(`${devs}/null`).isCharDevice);

    const r = await cli(["-o", `${devs}/full`, root]);
    assertEquals(r.code, 1, r.stderr);
    oneLine(r.stderr, /^pwalk: cannot write .*\/full: No space left on device$/);
    const st = Deno.lstatSync(`${devs}/full`);
    assert(st.isCharDevice, "full is no longer a character device");
    assertEquals(st.rdev, before.full);
    await assertRejects(() => report(root, { output: `${devs}/full` }), Error, "No space left");
    assertEquals(leftovers(devs), []);
  },
});

Deno.test({
  name: "-o a device without privileges: no temporary file is needed beside it",
  ignore: !isRoot,
  async fn() {
    await using tmp = await tempDir("pwalk-out-");
    const root = `${tmp.path}/tree`;
    smallTree(root);
    // As /dev is for a user: a folder the process may not write, holding a
    // device it may.  (UNPRIVILEGED keeps uid 0 without capabilities, so
    // the folder belongs to another user.)
    const devs = `${tmp.path}/dev`;
    Deno.mkdirSync(devs, { mode: 0o755 });
    await sh("mknod", "-m", "666", `${devs}/null`, "c", "1", "3");
    Deno.chownSync(devs, 65534, 65534);
    const r = await cli(["-o", `${devs}/null`, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 0, r.stderr);
    assert(Deno.lstatSync(`${devs}/null`).isCharDevice);
  },
});

/**
 * Start a reader of `path` (`cat`, or `gzip -dc` for gzip) with stdout
 * piped.  The shell opens the FIFO (blocking, as `< fifo` does): gzip opens
 * its input with O_NONBLOCK and would see an empty FIFO.
 */
function reader(path: string, gzip = false): Deno.ChildProcess {
  const args = ["-c", `exec ${gzip ? "gzip -dc" : "cat"} < "$1"`, "sh", path];
  return new Deno.Command("sh", { args, stdout: "piped", stderr: "null" }).spawn();
}

Deno.test("-o a FIFO: its reader gets the whole report, plain or gzip; it stays a FIFO", async (t) => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const expected = await plainLines(tmp.path, root, true);

  const cases: [string, string, "before" | "after"][] = [
    ["a reader there first", "fifo", "before"],
    ["a reader that comes later", "late", "after"],
    ["gzip, for a .csv.gz name", "fifo.csv.gz", "before"],
  ];
  for (const [what, name, when] of cases) {
    await t.step(what, async () => {
      const fifo = `${tmp.path}/${name}`;
      await sh("mkfifo", fifo);
      const gz = name.endsWith(".gz");
      let rd: Deno.ChildProcess | undefined = when === "before" ? reader(fifo, gz) : undefined;
      const pw = spawnCli(["--header", "-o", fifo, root]);
      // pwalk waits for a reader as long as there is none: never forever here
      const watchdog = setTimeout(() => pw.kill("SIGKILL"), 60_000);
      try {
        if (!rd) {
          // the reader comes once pwalk tries the FIFO and waits for one
          await waitFor(() => waitingForFifoReader(pw.pid, Deno.realPathSync(tmp.path)), {
            what: "pwalk to wait for a reader of the FIFO",
            timeoutMs: 50_000,
            detail: () =>
              `threads in ${threadWchans(pw.pid).join(", ")}; open: ${
                openNames(pw.pid).join(", ")
              }`,
          });
          rd = reader(fifo, gz);
        }
        const r = await pw.output();
        assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
        assert(Deno.lstatSync(fifo).isFifo, `${fifo} is no longer a FIFO`);
        const got = await rd.output();
        assert(got.success);
        assertEquals(lineSet(got.stdout), expected);
      } finally {
        clearTimeout(watchdog);
        // A regression leaves the reader waiting on a FIFO nobody opens.
        for (const p of [rd, pw]) {
          try {
            p?.kill("SIGKILL");
          } catch { /* ended */ }
        }
        await rd?.status;
        await pw.status;
      }
    });
  }
});

Deno.test("-o a socket or a link to nothing is bad usage, as a folder: one line, exit 2, nothing made", async () => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const sock = `${tmp.path}/sock`;
  const listener = Deno.listen({ transport: "unix", path: sock });
  try {
    const r = await cli(["-o", sock, root]);
    assertEquals(r.code, 2, r.stderr);
    oneLine(r.stderr, /^pwalk: .*\/sock is a socket: give the name of a file to write$/);
    assert(Deno.lstatSync(sock).isSocket, "the socket was replaced");
    assertEquals(leftovers(tmp.path), []);
  } finally {
    listener.close();
  }
  const dangling = `${tmp.path}/dangling.csv`;
  await Deno.symlink("nowhere/x.csv", dangling);
  const d = await cli(["-o", dangling, root]);
  assertEquals(d.code, 2, d.stderr);
  oneLine(d.stderr, /^pwalk: .*\/dangling.csv is a link to nothing: write to its target's name/);
  assert(Deno.lstatSync(dangling).isSymlink, "the link was replaced");
  assertEquals(leftovers(tmp.path), []);
  // a folder: the same status
  const f = await cli(["-o", root, root]);
  assertEquals(f.code, 2, f.stderr);
});

Deno.test("-o a file that may be written in a folder that may not: the message says the folder", async () => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const dir = `${tmp.path}/closed`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/scan.csv`, "old\n");
  await Deno.chmod(dir, 0o555); // the file stays 0644: writable by its owner
  try {
    // without capabilities (uid 0 keeps its owner rights, not DAC override)
    const r = await cli(["-o", `${dir}/scan.csv`, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 1, r.stderr);
    oneLine(r.stderr, /^pwalk: cannot write .*\/scan\.csv: Permission denied in its folder \(/);
    assertEquals(await Deno.readTextFile(`${dir}/scan.csv`), "old\n");
  } finally {
    await Deno.chmod(dir, 0o755);
  }
});

Deno.test({
  name:
    "-o a file that may be written in a folder that takes no new file (/proc): the message says the temporary",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-out-");
    const root = `${tmp.path}/tree`;
    smallTree(root);
    // the reference: /proc/version is there and writable to root, and /proc
    // takes no new name (the reason the kernel gives for it)
    const before = await Deno.readTextFile("/proc/version");
    const why = await Deno.writeTextFile("/proc/pwalk-test", "").then(
      () => null,
      (e: Error) => e.message.replace(/ \(os error \d+\).*/, ""),
    );
    assert(why !== null, "/proc took a new file");
    const want = `pwalk: cannot write /proc/version: cannot make its temporary file in its ` +
      `folder: ${why} (a report is written whole beside it, then renamed over it)`;
    const e = await assertRejects(() => report(root, { output: "/proc/version" }), Error);
    assertEquals(e.message, want);
    const r = await cli(["-o", "/proc/version", root]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr.trim(), want);
    assertEquals(await Deno.readTextFile("/proc/version"), before);
  },
});

Deno.test("-o a symbolic link: the link stays, the file it names takes the report", async () => {
  await using tmp = await tempDir("pwalk-out-");
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const expected = await plainLines(tmp.path, root);
  Deno.mkdirSync(`${tmp.path}/data`);
  const target = `${tmp.path}/data/real.csv`;
  Deno.writeTextFileSync(target, "old\n");
  const link = `${tmp.path}/link.csv`;
  Deno.symlinkSync("data/real.csv", link);

  const r = await cli(["-o", link, root]);
  assertEquals(r.code, 0, r.stderr);
  assert(Deno.lstatSync(link).isSymlink, "the link was replaced");
  assertEquals(Deno.readLinkSync(link), "data/real.csv");
  assertEquals(lineSet(await Deno.readFile(target)), expected);
  assertEquals(leftovers(tmp.path), []);
  assertEquals(leftovers(`${tmp.path}/data`), []);

  // a link to a missing file: refused, nothing created
  const dangling = `${tmp.path}/dangling.csv`;
  Deno.symlinkSync("data/missing.csv", dangling);
  const d = await cli(["-o", dangling, root]);
  assertEquals(d.code, 2, d.stderr); // bad usage, as a folder
  oneLine(d.stderr, /^pwalk: .*dangling\.csv is a link to nothing: write to its target's name/);
  assert(Deno.lstatSync(dangling).isSymlink);
  assertEquals([...Deno.readDirSync(`${tmp.path}/data`)].map((e) => e.name), ["real.csv"]);
});

Deno.test({
  name: "-o an existing file: it keeps its permission bits, owner and group",
  ignore: !isRoot,
  async fn() {
    await using tmp = await tempDir("pwalk-out-");
    const root = `${tmp.path}/tree`;
    smallTree(root);
    const expected = await plainLines(tmp.path, root);
    const files: [string, number, number, number][] = [
      ["a.csv", 0o640, 1234, 5678],
      ["b.csv.gz", 0o604, 0, 42],
    ];
    for (const [name, mode, uid, gid] of files) {
      const out = `${tmp.path}/${name}`;
      Deno.writeTextFileSync(out, "old\n");
      Deno.chmodSync(out, mode);
      Deno.chownSync(out, uid, gid);
      const r = await cli(["-o", out, root]);
      assertEquals(r.code, 0, r.stderr);
      const st = Deno.lstatSync(out);
      assertEquals((st.mode! & 0o7777).toString(8), mode.toString(8), name);
      assertEquals([st.uid, st.gid], [uid, gid], name);
      const data = name.endsWith(".gz")
        ? (await new Deno.Command("gzip", { args: ["-dc", out], stdout: "piped" }).output()).stdout
        : await Deno.readFile(out);
      assertEquals(lineSet(data), expected);
    }
    // through the API as well
    const out = `${tmp.path}/a.csv`;
    Deno.chmodSync(out, 0o600);
    await report(root, { output: out });
    assertEquals(Deno.lstatSync(out).mode! & 0o7777, 0o600);
    assertEquals(Deno.lstatSync(out).uid, 1234);
  },
});

Deno.test("-o and --errors with names of 250-254 bytes: written, and a killed run's temporary found", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, "x");
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  const out = `${tmp.path}/${"n".repeat(246)}.csv`; // 250 bytes
  const errs = `${tmp.path}/${"é".repeat(125)}.err`; // 254 bytes, 2 per é
  assertEquals([bytes(out.slice(tmp.path.length + 1)), bytes(errs.slice(tmp.path.length + 1))], [
    250,
    254,
  ]);
  // a run killed with SIGKILL left its temporary: the name's first 175
  // bytes, "~" and its FNV-1a hash (8 hex digits), then .partial-PID-N (a
  // name of 250 + 14 bytes cannot be made)
  const p = spawnCli(["-o", `${tmp.path}/x.csv`, root]);
  await p.stdout.cancel();
  await p.stderr.cancel();
  const dead = (await p.status, p.pid);
  await Deno.remove(`${tmp.path}/x.csv`);
  let h = 0x811c9dc5;
  for (const x of new TextEncoder().encode(out.slice(tmp.path.length + 1))) {
    h = Math.imul(h ^ x, 0x01000193) >>> 0;
  }
  const head = `${"n".repeat(175)}~${h.toString(16).padStart(8, "0")}`;
  const stale = `${tmp.path}/${head}.partial-${dead}-0`;
  // another output's, whose name begins alike: not this one's, left
  const otherName = `${"n".repeat(246)}.tsv`;
  let h2 = 0x811c9dc5;
  for (const x of new TextEncoder().encode(otherName)) h2 = Math.imul(h2 ^ x, 0x01000193) >>> 0;
  const other = `${tmp.path}/${"n".repeat(175)}~${
    h2.toString(16).padStart(8, "0")
  }.partial-${dead}-0`;
  await Deno.writeTextFile(other, "rows");
  await Deno.writeTextFile(stale, "rows");
  const r = await cli(["-o", out, "--errors", errs, root]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await Deno.readTextFile(out)).split("\n").filter(Boolean).length, 3);
  assertEquals(await Deno.readTextFile(errs), "path,operation,errno,message\n");
  assert(r.stderr.includes(`removed ${stale}`), r.stderr);
  const left = [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();
  assertEquals(left, [out, errs, root, other].map((f) => f.slice(tmp.path.length + 1)).sort());
});

Deno.test("report() ended by Deno.exit() while it writes: no FILE.partial-* is left, in any format", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  const link = `${tmp.path}/empty`; // (only read: files that are links to one)
  wideTree(root, 40, link);
  // the child exits as soon as the library's temporary is there, the
  // report still running (an output inside the tree: it would be a row of
  // the next report, were it left)
  const script = `${tmp.path}/exit.ts`;
  await Deno.writeTextFile(
    script,
    `import { report, reportParquet } from "${REPO}/mod.ts";
const [root, out] = Deno.args;
const dir = out.slice(0, out.lastIndexOf("/")), name = out.slice(out.lastIndexOf("/") + 1);
const write = name.endsWith(".parquet") ? reportParquet(root, { output: out, threads: 2 })
  : report(root, { output: out, threads: 2 });
write.then(() => { console.log("finished first"); Deno.exit(0); });
setInterval(() => {
  const t = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith(name + ".partial-"));
  if (t) { console.log(t.name); Deno.exit(3); }
}, 1);
`,
  );
  for (const name of ["scan.csv", "scan.csv.zst", "scan.csv.gz", "scan.parquet"]) {
    await t.step(name, async () => {
      const out = `${root}/d0/${name}`;
      let r = await deno(["run", "-A", "--no-check", script, root, out], { timeoutMs: 60_000 });
      for (let more = 1; r.code === 0 && r.text.includes("finished first") && more < 4; more++) {
        // the report ended before the child's first look (a loaded
        // machine): again, on a larger tree
        await Deno.remove(out);
        wideTree(`${root}/more-${name}-${more}`, 80, link);
        r = await deno(["run", "-A", "--no-check", script, root, out], { timeoutMs: 60_000 });
      }
      assertEquals(r.code, 3, `${r.text}${r.stderr}`);
      assertMatch(r.text.trim(), new RegExp(`^${name.replaceAll(".", "\\.")}\\.partial-\\d+-0$`));
      assertEquals(leftovers(`${root}/d0`), []);
      assertEquals(await Deno.lstat(out).catch(() => null), null);
    });
  }
});

Deno.test("report() in a script ended by an uncaught exception, an unhandled rejection or SIGTERM: its FILE.partial-PID-N stays (no unload event), and the next report removes it (audit: README said only kill -9)", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  wideTree(root, 40, `${tmp.path}/empty`); // (only read: files that are links to one)
  const script = `${tmp.path}/end.ts`;
  await Deno.writeTextFile(
    script,
    `import { report } from "${REPO}/mod.ts";
const [root, out, how] = Deno.args;
const dir = out.slice(0, out.lastIndexOf("/")), name = out.slice(out.lastIndexOf("/") + 1);
report(root, { output: out, threads: 2 }).then(() => { console.log("finished first"); Deno.exit(0); });
setInterval(() => {
  const t = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith(name + ".partial-"));
  if (!t) return;
  console.log(t.name);
  if (how === "throw") throw new Error("uncaught");
  if (how === "reject") Promise.reject(new Error("unhandled"));
  if (how === "SIGTERM") Deno.kill(Deno.pid, "SIGTERM");
}, 1);
`,
  );
  for (const how of ["throw", "reject", "SIGTERM"]) {
    await t.step(how, async () => {
      const dir = `${tmp.path}/${how}`;
      await Deno.mkdir(dir);
      const out = `${dir}/scan.csv`;
      const r = await deno(["run", "-A", "--no-check", script, root, out, how], {
        timeoutMs: 60_000,
      });
      const said = r.text.trim().split("\n")[0];
      assertMatch(said, /^scan\.csv\.partial-\d+-0$/, `${r.text}${r.stderr}`);
      assert(r.code !== 0, `${r.text}${r.stderr}`);
      assertEquals(leftovers(dir), [said]);
      const s = await report(root, { output: out });
      assertEquals(s.leftoversRemoved, [`${dir}/${said}`]);
      assertEquals(leftovers(dir), []);
    });
  }
});

Deno.test("report() with a signal aborted already, or a signal or onProgress of the wrong type, rejects before it removes a dead run's FILE.partial-PID-N: nothing done (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const ended = new Deno.Command("true").spawn();
  const dead = (await ended.status, ended.pid); // ended: its pid names no process now
  const out = `${tmp.path}/scan.csv`;
  const stale = `${out}.partial-${dead}-0`;
  await Deno.writeTextFile(stale, "rows");
  const reason = new Error("aborted before");
  const e = await report(root, { output: out, signal: AbortSignal.abort(reason) }).catch((e) => e);
  assert(e === reason, String(e));
  const bad = { signal: "no signal" } as unknown as { signal: AbortSignal };
  await assertRejects(() => report(root, { output: out, ...bad }), TypeError, "signal");
  const badProgress = { onProgress: 5 } as unknown as { onProgress: () => void };
  await assertRejects(() => report(root, { output: out, ...badProgress }), TypeError, "onProgress");
  // still there (Deno.lstat), no output made
  assert((await Deno.lstat(stale)).isFile);
  assertEquals(await Deno.lstat(out).catch(() => null), null);
  // a report that runs removes it
  assertEquals((await report(root, { output: out })).leftoversRemoved, [stale]);
});

Deno.test("report() removes the FILE.partial-PID-N a killed run left beside its output, never a row; a live one's (locked) stays", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const ended = new Deno.Command("true").spawn();
  const dead = (await ended.status, ended.pid); // ended: its pid names no process now
  const out = `${root}/sub/scan.csv`;
  const stale = `${out}.partial-${dead}-0`, live = `${out}.partial-${dead}-1`;
  const other = `${out}.partial-notes`;
  for (const f of [stale, live, other]) await Deno.writeTextFile(f, "rows");
  using held = await Deno.open(live, { read: true, write: true });
  await held.lock(true); // as a live run (another host, another PID namespace) holds its own
  const s = await report(root, { output: out });
  assertEquals(s.leftoversRemoved, [stale]);
  assertEquals(leftovers(`${root}/sub`).sort(), [
    `scan.csv.partial-${dead}-1`,
    "scan.csv.partial-notes",
  ]);
  // the rows: what find lists there now, but the output itself
  const found = (await run("find", [root])).text.trim().split("\n").filter((p) => p !== out);
  const rows = parsePwalk(await Deno.readFile(out)).rows;
  assertEquals(rows.map((r) => new TextDecoder().decode(r.path)).sort(), found.sort());
  assertEquals(s.entries, found.length);
});

Deno.test("report() removes a dead run's FILE.partial-PID-N whose PID a live process has now (this one's, another's): the lock tells, not the PID", async () => {
  // in a PID namespace (a container) every run has the same PID; after a
  // reboot a dead run's PID is another process's
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const sleeper = new Deno.Command("sleep", { args: ["300"] }).spawn();
  try {
    const out = `${root}/sub/scan.csv`;
    const stale = [`${out}.partial-${Deno.pid}-0`, `${out}.partial-${sleeper.pid}-0`];
    const live = `${out}.partial-${Deno.pid}-1`;
    for (const f of [...stale, live]) await Deno.writeTextFile(f, "rows");
    // left an hour ago (a live PID's made in the last seconds is taken for
    // a run's between making and locking it)
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const f of stale) await Deno.utime(f, hourAgo, hourAgo);
    for (const pid of [Deno.pid, sleeper.pid]) {
      assert((await Deno.stat(`/proc/${pid}`)).isDirectory);
    }
    using held = await Deno.open(live, { read: true, write: true });
    await held.lock(true); // this process's live temporary: locked, as the library's
    const s = await report(root, { output: out });
    assertEquals(s.leftoversRemoved.sort(), stale.sort());
    for (const f of stale) assertEquals(await Deno.lstat(f).catch(() => null), null);
    assertEquals(leftovers(`${root}/sub`), [`scan.csv.partial-${Deno.pid}-1`]);
    // never a row: the rows are what Deno.readDir finds there now, but the output
    const rows = parsePwalk(await Deno.readFile(out)).rows.map((r) =>
      new TextDecoder().decode(r.path)
    );
    const onDisk = [...Deno.readDirSync(`${root}/sub`)].map((e) => `${root}/sub/${e.name}`)
      .filter((p) => p !== out);
    assertEquals(rows.filter((p) => p.startsWith(`${root}/sub/`)).sort(), onDisk.sort());
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("report() with 100 dead runs' FILE.partial-PID-N of this process's PID: removed, the report written; 100 live (locked) ones: an honest error", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  smallTree(root);
  const out = `${tmp.path}/scan.csv`;
  const names = Array.from({ length: 100 }, (_, n) => `${out}.partial-${Deno.pid}-${n}`);
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const f of names) {
    await Deno.writeTextFile(f, "x\n");
    await Deno.utime(f, hourAgo, hourAgo); // left an hour ago
  }
  const s = await report(root, { output: out });
  assertEquals(s.leftoversRemoved.length, 100);
  assertEquals(leftovers(tmp.path), []);
  assertEquals(parsePwalk(await Deno.readFile(out)).rows.length, s.entries);
  // each held by a live run: none removed, and the error says what is wrong
  const held: Deno.FsFile[] = [];
  try {
    for (const f of names) {
      await Deno.writeTextFile(f, "x\n");
      const h = await Deno.open(f, { read: true, write: true });
      await h.lock(true);
      held.push(h);
    }
    const before = await Deno.readFile(out);
    const e = await assertRejects(() => report(root, { output: out }));
    assertMatch(
      (e as Error).message,
      /cannot write .*scan\.csv: cannot make its temporary file in its folder: the 100 names .* are all there already/,
    );
    assertEquals(leftovers(tmp.path).length, 100);
    assertEquals(await Deno.readFile(out), before);
  } finally {
    for (const h of held) h.close();
  }
});

Deno.test("-o /dev/stdout with stdout appended to a log: written through it, the log kept", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, "x");
  const log = `${tmp.path}/log.csv`;
  for (const name of ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]) {
    await Deno.writeTextFile(log, "an earlier line\n");
    const r = await run("sh", [
      "-c",
      `exec "$0" run -A "$1" -o "$2" "$3" >> "$4"`,
      Deno.execPath(),
      CLI,
      name,
      root,
      log,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
    assertEquals(lines[0], "an earlier line", name);
    assertEquals(lines.length, 1 + 3, name); // the root, d, d/f
    assert(r.stderr.includes("-> stdout"), r.stderr);
  }
});

Deno.test("-o naming a descriptor open on a file (/dev/fd/3, /dev/stderr >> log): refused, the file kept; on a pipe: written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, "x");
  const log = `${tmp.path}/log.txt`;
  for (
    const [name, redirect] of [
      ["/dev/fd/3", `3>> "$4"`],
      ["/proc/self/fd/3", `3>> "$4"`],
      ["/dev/stderr", `2>> "$4"`],
    ]
  ) {
    await Deno.writeTextFile(log, "an earlier line\n");
    const r = await run("sh", [
      "-c",
      `exec "$0" run -A "$1" -o "$2" "$3" ${redirect}`,
      Deno.execPath(),
      CLI,
      name,
      root,
      log,
    ]);
    assertEquals(r.code, 2, `${name}: ${r.stderr}`);
    const text = await Deno.readTextFile(log);
    assert(text.startsWith("an earlier line\n"), `${name}: ${text}`);
    assert(!text.includes(`"${root}/d/f"`), `${name}: no row written`);
    assertEquals([...Deno.readDirSync(tmp.path)].length, 2, "nothing left beside it");
  }
  // a pipe behind the descriptor (as >(zstd ...) gives): the rows go through it
  const r = await run("sh", [
    "-c",
    `exec 3>&1 1>/dev/null; exec "$0" run -A "$1" -o /dev/fd/3 "$2"`,
    Deno.execPath(),
    CLI,
    root,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text.split("\n").filter(Boolean).length, 3, r.text);
});

Deno.test("report({ output: '/dev/stdout' }) with stdout appended to a log: written through it, the log kept", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/f`, "x");
  const log = `${tmp.path}/log.csv`;
  const mod = new URL("../mod.ts", import.meta.url).href;
  for (const name of ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]) {
    await Deno.writeTextFile(log, "an earlier line\n");
    const program = `import { report } from ${JSON.stringify(mod)};
const s = await report(Deno.args[0], { output: Deno.args[1] });
console.error(JSON.stringify({ output: s.output, entries: s.entries }));`;
    const r = await run("sh", [
      "-c",
      `exec "$0" eval "$1" "$2" "$3" >> "$4"`,
      Deno.execPath(),
      program,
      root,
      name,
      log,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const lines = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
    assertEquals(lines[0], "an earlier line", name);
    // the root, d, d/f, as Deno.lstat sees them
    const { rows } = parsePwalk(new TextEncoder().encode(lines.slice(1).join("\n") + "\n"));
    assertEquals(rows.length, 3, name);
    for (const row of rows) assertEquals(row.ino, (await Deno.lstat(row.key)).ino, row.key);
    assertEquals(JSON.parse(r.stderr.trim()), { output: null, entries: 3 }, name);
  }
});

testNeeding([PYTHON3], {
  name: "stdout handed down non-blocking (O_NONBLOCK pipe) and read slowly: every row, exit 0",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    // ~3,000 rows: several times a pipe's 64 KiB
    for (let i = 0; i < 3000; i++) await Deno.writeFile(`${root}/file-${i}.dat`, new Uint8Array());
    const r = await run("python3", [
      "-c",
      `
import fcntl, os, struct, subprocess, sys, termios, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)
os.close(w)
# the pipe fills: the writer gets EAGAIN, and waits for room (a thread of
# it in poll, or pipe_write); read only then
size = fcntl.fcntl(r, 1032)  # F_GETPIPE_SZ
full = lambda: struct.unpack("i", fcntl.ioctl(r, termios.FIONREAD, bytes(4)))[0] >= size - 4096
${PY_WAITING_ON_PIPE}deadline = time.time() + 60
while not (full() and waiting_on_pipe(p.pid)) and p.poll() is None and time.time() < deadline:
    time.sleep(0.01)
held = full() and waiting_on_pipe(p.pid)
out = b""
while True:
    b = os.read(r, 4096)
    if not b:
        break
    out += b
    time.sleep(0.001)
err = p.stderr.read().decode()
print(p.wait(), out.count(b"\\n"), int(held), err.strip().splitlines()[-1] if err.strip() else "")
`,
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const [code, rows, held] = r.text.trim().split(" ");
    assertEquals([code, rows], ["0", String(3001)], r.text);
    assertEquals(held, "1", `the pipe never filled with the writer waiting on it: ${r.text}`);
  },
});

/**
 * A tree of `dirs` folders of 500 empty files each. With `link` (a path
 * outside the tree), each file is a name of that one empty file (made if
 * need be): listed and stat-ed as the empty file it is, and made ten times
 * faster or more where making inodes is slow (the dev and CI disks). For
 * trees only read, whose rows need not differ but for their names (not for
 * a size a compressed report must reach: rows of one inode compress more).
 */
function wideTree(root: string, dirs: number, link?: string): number {
  if (link) Deno.writeFileSync(link, new Uint8Array(), { append: true });
  for (let d = 0; d < dirs; d++) {
    Deno.mkdirSync(`${root}/d${d}`, { recursive: true });
    for (let i = 0; i < 500; i++) {
      const f = `${root}/d${d}/f${i}`;
      if (link) Deno.linkSync(link, f);
      else Deno.writeFileSync(f, new Uint8Array());
    }
  }
  return dirs * 501 + 1;
}

Deno.test("-o in a folder renamed during the run: the report lands there whole, as with the shell's >; no temporary left", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  const link = `${tmp.path}/empty`; // (only read: files that are links to one)
  let entries = wideTree(root, 40, link);
  for (let attempt = 1;; attempt++) {
    Deno.mkdirSync(`${tmp.path}/out`);
    let seenAtMove = -1;
    const r = await report(root, {
      output: `${tmp.path}/out/scan.csv`,
      threads: 1,
      progressIntervalMs: 1,
      onProgress: (p) => {
        if (seenAtMove >= 0) return;
        seenAtMove = p.entries;
        Deno.renameSync(`${tmp.path}/out`, `${tmp.path}/moved`);
      },
    });
    assertEquals(r.entries, entries);
    if (seenAtMove === entries && attempt < 4) {
      // no tick before the walk ended (a loaded machine): moved after it,
      // no test of a move during the run; again, on a larger tree
      Deno.removeSync(`${tmp.path}/moved`, { recursive: true });
      entries += wideTree(`${root}/more${attempt}`, 40, link);
      continue;
    }
    assert(seenAtMove >= 0 && seenAtMove < entries, `moved after ${seenAtMove} of ${entries}`);
    break;
  }
  assertEquals([...Deno.readDirSync(`${tmp.path}/moved`)].map((e) => e.name), ["scan.csv"]);
  const rows = Deno.readTextFileSync(`${tmp.path}/moved/scan.csv`).trimEnd().split("\n");
  assertEquals(rows.length, entries);
});

testNeeding([CHATTR], {
  name:
    "-o in an append-only folder (chattr +a): the run fails, the temporary it cannot remove is emptied",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    wideTree(root, 2);
    const out = `${tmp.path}/out`;
    Deno.mkdirSync(out);
    const a = await run("chattr", ["+a", out]);
    // a file system without the flag (tmpfs): nothing to test
    if (a.code !== 0) return notHere(`chattr +a ${out} fails: ${a.stderr.trim()}`);
    try {
      const r = await cli(["-o", `${out}/scan.csv`, root]);
      assertEquals(r.code, 1, r.stderr);
      assertMatch(r.stderr, /^pwalk: cannot write .*scan\.csv: Operation not permitted\n$/);
      const left = [...Deno.readDirSync(out)];
      assertEquals(left.length, 1);
      assertMatch(left[0].name, /^scan\.csv\.partial-\d+-0$/);
      assertEquals(Deno.statSync(`${out}/${left[0].name}`).size, 0);
    } finally {
      await run("chattr", ["-a", out]);
    }
  },
});

testNeeding([STRACE], {
  name: "-o FILE: the report is flushed to the disk (fdatasync) before it takes FILE's name",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    smallTree(root);
    const log = `${tmp.path}/strace.log`;
    const r = await run("strace", [
      "-f",
      "-e",
      "trace=fdatasync,fsync,rename,renameat,renameat2",
      "-o",
      log,
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      "-o",
      `${tmp.path}/scan.csv.zst`,
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const lines = Deno.readTextFileSync(log).split("\n");
    const renamed = lines.findIndex((l) =>
      /rename.*scan\.csv\.zst\.partial-.*scan\.csv\.zst"/.test(l)
    );
    assert(renamed > 0, "no rename of the temporary file");
    assert(
      lines.slice(0, renamed).some((l) => /\b(fdatasync|fsync)\(\d+\) += 0/.test(l)),
      "no sync before the rename",
    );
  },
});

Deno.test("-o past a file size limit (ulimit -f, as Slurm passes on): one line, status 1, no temporary left", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  wideTree(root, 24); // some 1.8 MB of CSV, 100 KB of gzip
  const out = `${tmp.path}/out`;
  Deno.mkdirSync(out);
  await cli(["-o", `${out}/warm.csv`, root]); // Deno's caches written before the limit
  Deno.removeSync(`${out}/warm.csv`);
  for (const name of ["scan.csv", "scan.csv.gz"]) {
    const r = await run("sh", [
      "-c",
      `ulimit -f 64; exec "$0" run -A "$1" -o "$2" "$3"`,
      Deno.execPath(),
      CLI,
      `${out}/${name}`,
      root,
    ]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, `pwalk: cannot write ${out}/${name}: File too large\n`);
    assertEquals([...Deno.readDirSync(out)], []);
  }
});

testNeeding([CHATTR], {
  name:
    "--errors FILE that cannot take its name at the end: the run fails naming --errors, with no summary claiming it",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    smallTree(root);
    const dir = `${tmp.path}/errs`;
    Deno.mkdirSync(dir);
    const a = await run("chattr", ["+a", dir]); // names may come, none go (no rename)
    // a file system without the flag (tmpfs): nothing to test
    if (a.code !== 0) return notHere(`chattr +a ${dir} fails: ${a.stderr.trim()}`);
    try {
      const r = await cli(["-o", `${tmp.path}/scan.csv`, "--errors", `${dir}/errs.csv`, root]);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(
        r.stderr,
        `pwalk: --errors ${dir}/errs.csv: cannot write: Operation not permitted\n`,
      );
    } finally {
      await run("chattr", ["-a", dir]);
    }
  },
});

/** An O_PATH open of a name ending in SWAP_AT (once) is preceded by the rename of SWAP_FROM over it. */
const SWAP_OVER_C = beforeOpenat(
  "swap",
  `static int done;
static void swap(const char *p, int flags) {
  const char *at = getenv("SWAP_AT"), *from = getenv("SWAP_FROM");
  size_t n = strlen(p), k = at ? strlen(at) : 0;
  if (done || !from || !k || !(flags & O_PATH) || n < k || strcmp(p + n - k, at)) return;
  done = 1;
  rename(from, p);
}`,
);

shimTest(
  "--errors FILE another run renames a whole file over just as it is checked: looked at again, not 'replaced'",
  SWAP_OVER_C,
  async (shim) => {
    const root = `${shim.dir}/tree`;
    await Deno.mkdir(`${root}/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/f`, "x");
    const errors = `${shim.dir}/err.csv`;
    await Deno.writeTextFile(errors, "an older errors file\n");
    // another run's whole errors file, renamed over FILE at the check's open
    await Deno.writeTextFile(`${shim.dir}/.other`, "another run's errors\n");
    const r = await shim.cli(["--errors", errors, "-o", `${shim.dir}/out.csv`, root], {
      SWAP_AT: "/err.csv",
      SWAP_FROM: `${shim.dir}/.other`,
    });
    assertEquals(r.code, 0, r.stderr);
    const other = await Deno.stat(`${shim.dir}/.other`).then(() => true, () => false);
    assert(!other, "the shim did not run");
    assertEquals(await Deno.readTextFile(errors), "path,operation,errno,message\n");
    const rows = parsePwalk(await Deno.readFile(`${shim.dir}/out.csv`)).rows;
    assertEquals(rows.map((x) => x.key).sort(), [root, `${root}/a`, `${root}/a/f`]);
  },
);

/**
 * An LD_PRELOAD shim: just after the library's renameat of its finished
 * temporary to a name ending in $TAKE_AT, the file $TAKE_FROM is renamed
 * over that name (another run writing to the same name, finishing a moment
 * later), once.
 */
const TAKE_OVER_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef int (*renameat_fn)(int, const char *, int, const char *);
int renameat(int ofd, const char *from, int nfd, const char *to) {
  static renameat_fn real;
  static int done;
  if (!real) real = (renameat_fn)dlsym(RTLD_NEXT, "renameat");
  int r = real(ofd, from, nfd, to);
  const char *at = getenv("TAKE_AT"), *other = getenv("TAKE_FROM");
  size_t n = strlen(to), k = at ? strlen(at) : 0;
  if (r == 0 && !done && other && k && n >= k && !strcmp(to + n - k, at)) {
    done = 1;
    rename(other, getenv("TAKE_TO"));
  }
  return r;
}
`;

shimTest(
  "-o FILE another run renames its report over FILE just after this one's: the message names both causes",
  TAKE_OVER_C,
  async (shim) => {
    const root = `${shim.dir}/tree`;
    await Deno.mkdir(`${root}/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/f`, "x");
    const out = `${shim.dir}/scan.csv`;
    await Deno.writeTextFile(`${shim.dir}/.other`, "another run's report\n");
    const r = await shim.cli(["-o", out, root], {
      TAKE_AT: "scan.csv",
      TAKE_FROM: `${shim.dir}/.other`,
      TAKE_TO: out,
    });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stderr.trim(),
      `pwalk: cannot write ${out}: another file took the place of the one written as it was ` +
        "renamed (another run writing to the same name at once, or another user who can change " +
        "its folder): give each run a name of its own in a folder of yours",
    );
    // the other run's file is whole, and nothing of this run's is left beside it
    assertEquals(await Deno.readTextFile(out), "another run's report\n");
    const left = [...Deno.readDirSync(shim.dir)].map((e) => e.name).sort();
    assertEquals(left, ["scan.csv", "shim.c", "shim.so", "tree"]);
  },
);
