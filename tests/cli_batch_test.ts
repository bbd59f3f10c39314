/**
 * The CLI in batch logs, narrow terminals and plain installs:
 * - stderr in a log file (Slurm, cron): exactly one summary line, whose
 *   counts equal the report's rows, and no progress line; `--progress=1`
 *   writes plain progress lines while the run goes on;
 * - in a 60-column tmux pane the redrawn progress line (drawn many times)
 *   always fits: no frame is wider than the pane or holds a line break, and
 *   the screen never shows a spilled fragment;
 * - in a 12-column tmux pane the redrawn line still shows the clock;
 * - `--errors FILE`: every error as a CSV row, read back by DuckDB: one row
 *   per error line on stderr, the same paths, errno names;
 * - `deno task report .` from a subfolder reports that subfolder;
 * - README's install path works with only npm: `npm install -g deno`, then
 *   `deno install ... --config deno.json` without a warning, and the
 *   installed `pwalk --version` runs with no other deno on PATH;
 * - --help lists every CSV column and every exit status.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, fail } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { HEADER_FIELDS, parsePwalk } from "./helpers/csv.ts";
import { ERRORS_HEADER } from "../lib/cli/common.ts";
import { CLI, cli, REPO, UNPRIVILEGED } from "./helpers/run.ts";
import { flatTree } from "./helpers/tree.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { NPM, PYTHON3, STRACE, testNeeding, TMUX } from "./helpers/system.ts";
import { closeLibc, mkdirRaw } from "./helpers/libc.ts";
import { existsSync } from "node:fs";

const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) => s.split("\n").filter((l) => l !== "");
const SUMMARY =
  /^pwalk: ([\d,]+) (?:entry|entries), ([\d,]+) folders?, [\d.]+ [KMGT]?i?B apparent, [\d.]+ [KMGT]?i?B allocated, (\d+) errors? (?:\(listed in .*\) )?in .* -> .* \([\d.]+ [KMGT]?i?B\)$/;

/** A progress frame starts with the elapsed time. */
const CLOCK = /^\d+:\d\d:\d\d {2}/;

/** Poll until `cond` holds (a hang guard, not a timing threshold). */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await cond())) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test("stderr in a log file: one summary line, no progress; --progress=1 writes plain lines", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // about 1 MB of CSV: more than a pipe holds (its files links to one empty
  // file, flatTree's `links`: this test and the tmux ones only read their trees)
  await flatTree(root, 5, 1000, 0, true);

  for (const extra of [[], ["--progress"]]) {
    await t.step(
      `${["default", ...extra].at(-1)}: the summary once, counts as in the CSV`,
      async () => {
        const log = `${tmp.path}/err.log`, out = `${tmp.path}/out.csv`;
        const r = await new Deno.Command("sh", {
          args: [
            "-c",
            `"$0" run -A "$@" 2>"${log}"`,
            Deno.execPath(),
            CLI,
            ...extra,
            "-o",
            out,
            root,
          ],
          env: { NO_COLOR: "1" },
        }).output();
        assert(r.success);
        const err = lines(await Deno.readTextFile(log));
        assertEquals(err.length, 1, err.join("\n"));
        const m = SUMMARY.exec(err[0]);
        if (!m) throw new Error(`not a summary line: ${err[0]}`);
        const rows = parsePwalk(await Deno.readFile(out)).rows;
        const folders = rows.filter((row) => row.mode.startsWith("004")).length;
        assertEquals(
          [m[1], m[2], m[3]],
          [rows.length, folders, 0].map((n) => n.toLocaleString("en-US")),
        );
      },
    );
  }

  await t.step("--progress=1: plain progress lines in the log while it runs", async () => {
    const p = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "--progress=1", "--threads", "1", root],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // stdout is not read: the walk blocks once the pipe is full, and goes on
    // counting time; a progress line must come.
    let err = "";
    const reader = p.stderr.getReader();
    const pump = (async () => {
      for (let c = await reader.read(); !c.done; c = await reader.read()) {
        err += dec.decode(c.value);
      }
    })();
    await until(() => err.includes("pwalk: progress "), "a progress line");
    const out = await new Response(p.stdout).arrayBuffer();
    assert((await p.status).success);
    await pump;
    assert(out.byteLength > 65536);
    const l = lines(err);
    assertMatch(l[0], /^pwalk: progress 0:00:0\d {2}[\d,]+ (?:entry|entries) {2}/);
    assert(!err.includes("\r") && !err.includes("\x1b"), "plain lines only");
    assertEquals(l.filter((x) => SUMMARY.test(x)).length, 1);
    assert(SUMMARY.test(l.at(-1)!), "the summary comes last");
  });
});

testNeeding([TMUX], {
  name: "a 60-column tmux pane: the progress line fits and never spills",
  async fn() {
    await using tmp = await tempDir();
    // A long root: the folder being read must be shortened in the middle.
    const root = `${tmp.path}/a-rather-long-folder-name-that-cannot-fit-the-pane/wide`;
    await Deno.mkdir(root, { recursive: true });
    await flatTree(root, 10, 1000, 0, true);
    // Its folders' names end in emoji a terminal draws two columns wide (a
    // narrow count of them made the line wrap, leaving a copy at each redraw).
    for (let d = 0; d < 10; d++) {
      await Deno.rename(`${root}/dir000${d}`, `${root}/d${d}-✅⌛✅⌛✅⌛⭐`);
    }
    // and folders it may not read (without capabilities): error lines come
    // while the line is drawn, and must start lines of their own
    const locked = 5;
    for (let d = 0; d < locked; d++) await Deno.mkdir(`${root}/locked-${d}`, { mode: 0o000 });
    const fifo = `${tmp.path}/out.fifo`, log = `${tmp.path}/pane.log`;
    assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const sock = `pwalk-test-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const r = await new Deno.Command("tmux", { args: ["-L", sock, ...args] }).output();
      assert(r.success, dec.decode(r.stderr));
      return dec.decode(r.stdout);
    };
    const cmd = `${UNPRIVILEGED.join(" ")} '${Deno.execPath()}' run -A '${CLI}' --threads 1 ` +
      `'${root}' > '${fifo}'; ` +
      `echo "EXIT=$?"; sleep 600`;
    try {
      // The shell blocks opening the FIFO until the test reads it: nothing
      // is drawn before the pane's output is logged.
      await tmux("new-session", "-d", "-s", "t", "-x", "60", "-y", "20", "-e", "NO_COLOR=1", cmd);
      await tmux("pipe-pane", "-t", "t", "-o", `cat >> '${log}'`);
      const out = await Deno.open(fifo, { read: true });
      const frames = () => {
        try {
          return Deno.readTextFileSync(log).split("\r").map((f) => f.replaceAll("\x1b[K", ""))
            .filter((f) => CLOCK.test(f) && !f.startsWith("pwalk: "));
        } catch {
          return [];
        }
      };
      // stdout is not read: the walk waits on the full pipe while the line is redrawn.
      await until(() => frames().length >= 5, "five progress frames");
      const mid = (await tmux("capture-pane", "-p", "-J", "-t", "t")).split("\n");
      assertEquals(
        mid.filter((l) => CLOCK.test(l) && !l.startsWith("pwalk: ")).length,
        1,
        mid.join("\n"),
      );
      for (const l of mid) assert([...l].length <= 60, `wider than the pane: ${l}`);
      await new Response(out.readable).arrayBuffer(); // let it finish
      await until(
        async () => (await tmux("capture-pane", "-p", "-t", "t")).includes("EXIT="),
        "the end",
      );
      const all = (await tmux("capture-pane", "-p", "-J", "-t", "t")).split("\n").filter((l) => l);
      // each error on a line of its own, none glued after a progress frame
      const errors = all.filter((l) => l.includes("pwalk: open "));
      assertEquals(errors.length, locked, all.join("\n"));
      for (const l of errors) assert(l.startsWith("pwalk: open "), `glued: ${l}`);
      const screen = all.filter((l) => !l.startsWith("pwalk: open "));
      assertEquals(screen.at(-1), "EXIT=0", screen.join("\n"));
      // Only the summary line is left: a progress line that had wrapped would
      // have left its first part behind.
      assertEquals(screen.length, 2, screen.join("\n"));
      assert(SUMMARY.test(screen[0]), screen[0]);
      for (const text of frames()) {
        assert(!text.includes("\n") && !text.includes("\x1b"), JSON.stringify(text));
        const cols = [...text].length + [...text].filter((c) => "✅⌛⭐".includes(c)).length;
        assert(cols <= 59, `a frame of ${cols} columns: ${text}`);
      }
      assert(frames().some((f) => f.includes("…")), "the folder was shortened in the middle");
    } finally {
      await new Deno.Command("tmux", { args: ["-L", sock, "kill-server"] }).output();
    }
  },
});

testNeeding([TMUX], {
  name: "a 12-column tmux pane: the redrawn progress line still shows the clock",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await flatTree(root, 10, 1000, 0, true);
    const fifo = `${tmp.path}/out.fifo`, log = `${tmp.path}/pane.log`;
    assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const sock = `pwalk-test-narrow-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const r = await new Deno.Command("tmux", { args: ["-L", sock, ...args] }).output();
      assert(r.success, dec.decode(r.stderr));
      return dec.decode(r.stdout);
    };
    const cmd = `'${Deno.execPath()}' run -A '${CLI}' --threads 1 '${root}' > '${fifo}'; ` +
      `echo "EXIT=$?"; sleep 600`;
    try {
      await tmux("new-session", "-d", "-s", "t", "-x", "12", "-y", "20", "-e", "NO_COLOR=1", cmd);
      await tmux("pipe-pane", "-t", "t", "-o", `cat >> '${log}'`);
      const out = await Deno.open(fifo, { read: true });
      // each draw is "\r" LINE "\x1b[K" (a clear is the same with no LINE)
      const draws = () => {
        try {
          return Deno.readTextFileSync(log).split("\r").filter((f) => f.endsWith("\x1b[K"))
            .map((f) => f.slice(0, -3));
        } catch {
          return [];
        }
      };
      // stdout is not read: the walk waits on the full pipe while the line is redrawn
      await until(() => draws().length >= 5, "five draws of the line");
      const frames = draws();
      await new Response(out.readable).arrayBuffer(); // let it finish
      await until(
        async () => (await tmux("capture-pane", "-p", "-t", "t")).includes("EXIT="),
        "the end",
      );
      // every draw is the elapsed time as h:mm:ss,
      // maybe with the entries, in the 11 columns the line may take
      for (const f of frames) {
        assert(f.length <= 11, `a frame of ${f.length} columns: ${JSON.stringify(f)}`);
        const m = /^\d+:([0-5]\d):([0-5]\d)(?: {2}[\d,]+)?$/.exec(f);
        if (!m) fail(`not a clock: ${JSON.stringify(f)} (of ${JSON.stringify(frames)})`);
      }
    } finally {
      await new Deno.Command("tmux", { args: ["-L", sock, "kill-server"] }).output();
    }
  },
});

Deno.test("--errors FILE: one CSV row per error, read back by DuckDB", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  const locked = ["a", 'quo"te', "com,ma", "deep/er"];
  for (const d of locked) await Deno.mkdir(`${root}/${d}/inside`, { recursive: true });
  for (const d of locked) await Deno.chmod(`${root}/${d}`, 0o000);
  const csv = `${tmp.path}/errors.csv`;
  for (const cmd of [["report", "-o", `${tmp.path}/out.csv`], ["repair"]]) {
    const r = await cli([...cmd, "--errors", csv, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 0, r.stderr);
    const stderrPaths = lines(r.stderr)
      .map((l) => /^pwalk: (\w+) '(.*)': (.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[2], m[1], m[3]].join("|"))
      .sort();
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    try {
      const rows = (await c.runAndReadAll(
        `SELECT path, operation, errno, message FROM read_csv('${csv}', header=true, all_varchar=true, quote='"', escape='"')`,
      )).getRows().map((row) => row.map(String));
      assertEquals(rows.map((row) => [row[0], row[1], row[3]].join("|")).sort(), stderrPaths);
      const opens = rows.filter((row) => row[1] === "open");
      assertEquals(opens.map((row) => row[0]).sort(), locked.map((d) => `${root}/${d}`).sort());
      assert(opens.every((row) => row[2] === "EACCES"), JSON.stringify(opens));
    } finally {
      c.closeSync();
      db.closeSync();
    }
    assert(r.stderr.includes(`(listed in ${csv})`), r.stderr);
  }
});

testNeeding([PYTHON3], {
  name:
    "--errors FILE with a path that is not UTF-8: the README's filter makes it a file DuckDB reads, the path as \\xNN",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    // caf\xe9 (Latin-1), a folder it cannot open
    mkdirRaw(new Uint8Array([...new TextEncoder().encode(`${root}/caf`), 0xe9]), 0o000);
    closeLibc();
    const csv = `${tmp.path}/errors.csv`;
    const r = await cli(["-o", `${tmp.path}/out.csv`, "--errors", csv, root], {
      prefix: UNPRIVILEGED,
    });
    assertEquals(r.code, 0, r.stderr);
    const raw = Deno.readFileSync(csv);
    assert(raw.includes(0xe9), "the path's own bytes");
    // the README's command, as written there
    const readme = Deno.readTextFileSync(`${REPO}/README.md`);
    const filter = /^python3 -c '(.*)' \\\n {2}< errors\.csv > errors-utf8\.csv$/m.exec(readme);
    if (!filter) throw new Error("the README's filter is not there");
    const fixed = `${tmp.path}/errors-utf8.csv`;
    const p = new Deno.Command("python3", {
      args: ["-c", filter[1]],
      stdin: "piped",
      stdout: "piped",
    })
      .spawn();
    const w = p.stdin.getWriter();
    await w.write(raw);
    await w.close();
    Deno.writeFileSync(fixed, (await p.output()).stdout);
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    try {
      const rows = (await c.runAndReadAll(
        `SELECT path, operation, errno FROM read_csv('${fixed}')`,
      )).getRows().map((row) => row.map(String));
      assertEquals(rows, [[`${root}/caf\\xe9`, "open", "EACCES"]]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  },
});

Deno.test({
  name:
    "--errors on a full disk: the run fails (exit 1), no file looks whole, the report is not kept",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    // 400 unreadable folders: 400 rows of about 90 bytes, more than 16 KiB
    for (let i = 0; i < 400; i++) {
      await Deno.mkdir(`${root}/locked-${i}/inside`, { recursive: true });
    }
    for (let i = 0; i < 400; i++) await Deno.chmod(`${root}/locked-${i}`, 0o000);
    const small = `${tmp.path}/small`;
    await Deno.mkdir(small);
    assertEquals(await mountTmpfs(small, "size=16k,mode=0777"), "");
    const csv = `${small}/errors.csv`, out = `${tmp.path}/out.csv`;
    const r = await cli(["-o", out, "--errors", csv, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      lines(r.stderr).at(-1),
      `pwalk: --errors ${csv}: cannot write: No space left on device`,
    );
    // nothing renamed into place, no temporary left, on the full disk or beside -o
    assertEquals([...Deno.readDirSync(small)].map((e) => e.name), []);
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["small", "tree"]);
    // a read-only file system: refused before the walk, in the same words
    const ro = `${tmp.path}/ro`;
    await Deno.mkdir(ro);
    assertEquals(await mountTmpfs(ro, "ro,size=16k"), "");
    const r2 = await cli(["-o", out, "--errors", `${ro}/errors.csv`, root]);
    assertEquals(r2.code, 1, r2.stderr);
    assertEquals(
      lines(r2.stderr).at(-1),
      `pwalk: --errors ${ro}/errors.csv: cannot write: Read-only file system`,
    );
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
      "ro",
      "small",
      "tree",
    ]);
  },
});

Deno.test("--errors FILE is written as -o is: whole, through a link, never clobbered by a failed run", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/f`, "f");
  const out = `${tmp.path}/out.csv`;
  const HEAD = "path,operation,errno,message\n";
  const names = () => [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();

  // a run that fails keeps an existing errors file as it was, and leaves nothing
  const old = `${tmp.path}/old.csv`;
  await Deno.writeTextFile(old, "OLD\n");
  const before = names();
  let r = await cli(["--errors", old, "-o", `${tmp.path}/no/such/out.csv`, root]);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(await Deno.readTextFile(old), "OLD\n");
  assertEquals(names(), before, "a temporary file was left");

  // a link is written through: the link stays, the file it names keeps its mode
  const precious = `${tmp.path}/precious.csv`;
  await Deno.writeTextFile(precious, "X");
  await Deno.chmod(precious, 0o640);
  await Deno.symlink("precious.csv", `${tmp.path}/link.csv`);
  r = await cli(["--errors", `${tmp.path}/link.csv`, "-o", out, root]);
  assertEquals(r.code, 0, r.stderr);
  assert(Deno.lstatSync(`${tmp.path}/link.csv`).isSymlink);
  assertEquals(await Deno.readTextFile(precious), HEAD);
  assertEquals(Deno.statSync(precious).mode! & 0o777, 0o640);

  // a link to nothing, a socket and a folder are refused before anything is
  // written: bad usage, as for -o
  await Deno.symlink("nowhere.csv", `${tmp.path}/dangling.csv`);
  const listener = Deno.listen({ transport: "unix", path: `${tmp.path}/sock` });
  try {
    for (const bad of [`${tmp.path}/dangling.csv`, `${tmp.path}/sock`, `${tmp.path}/tree`]) {
      const was = names();
      r = await cli(["--errors", bad, "-o", out, root]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /^pwalk: --errors [^\n]*\n$/);
      assertEquals(names(), was);
    }
  } finally {
    listener.close(); // (removes the socket)
  }

  // a file that cannot take even the header: the same words as a row that does not fit
  r = await cli(["--errors", "/dev/full", "-o", out, root]);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(r.stderr, "pwalk: --errors /dev/full: cannot write: No space left on device\n");

  // the report's own stdout is a usage error; stderr in a log takes the rows in order
  r = await cli(["--errors", "/dev/stdout", root]);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /is the report's stdout/);
  // `--errors -` is stdout, as `-o -` is (never a file named "-")
  r = await cli(["--errors", "-", root]);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /is the report's stdout/);
  r = await cli(["--errors", "-", "-o", out, root]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.text, /^path,operation,errno,message\n/);
  assert(!existsSync(`${REPO}/-`), "no file named -");
  const log = `${tmp.path}/log.txt`;
  const sh = await new Deno.Command("sh", {
    args: [
      "-c",
      `"$0" run -A "$1" --errors /dev/stderr -o "$2" "$3" 2>"$4"`,
      Deno.execPath(),
      CLI,
      out,
      root,
      log,
    ],
    env: { NO_COLOR: "1" },
  }).output();
  assertEquals(sh.code, 0);
  const logLines = lines(await Deno.readTextFile(log));
  assertEquals(logLines[0] + "\n", HEAD);
  assert(SUMMARY.test(logLines.at(-1)!), logLines.at(-1));

  // an option's value that looks like --help is its value: -o -h writes a file "-h"
  r = await cli(["-o", "-h", root], { cwd: tmp.path });
  assertEquals(r.code, 0, r.stderr);
  assert(Deno.statSync(`${tmp.path}/-h`).isFile);
});

Deno.test("deno task report . from a subfolder reports the subfolder", async () => {
  const sub = `${REPO}/tests/fixtures`;
  // As typed in a shell: no INIT_CWD yet (`deno task test` set one for this
  // process, and deno task, like npm, keeps an INIT_CWD it inherits).
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", "report", "."],
    cwd: sub,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
  }).output();
  const task = { code: r.code, stdout: r.stdout, stderr: dec.decode(r.stderr) };
  assertEquals(task.code, 0, task.stderr);
  const direct = await cli(["."], { cwd: sub });
  const paths = (b: Uint8Array) => parsePwalk(b).rows.map((row) => row.key).sort();
  assertEquals(paths(task.stdout), paths(direct.stdout));
  assert(paths(task.stdout).some((p) => p.includes("example-small.csv")));
  assert(!dec.decode(task.stdout).includes("cli.ts"), "the checkout was reported");
});

testNeeding([NPM], {
  name: "README's install path: npm's deno, deno install --config, pwalk --version",
  async fn() {
    await using tmp = await tempDir();
    const home = `${tmp.path}/home`;
    await Deno.mkdir(home);
    const npm = await new Deno.Command("npm", {
      args: ["install", "-g", "--prefer-offline", "--prefix", `${tmp.path}/npm`, "deno@2.9.6"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(npm.success, dec.decode(npm.stderr));
    // Nothing else on PATH: no other deno.
    const env = {
      HOME: home,
      PATH: `${tmp.path}/deno/bin:${tmp.path}/npm/bin:/usr/bin:/bin`,
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1",
    };
    const run = (cmd: string, args: string[], cwd = REPO) =>
      new Deno.Command(cmd, { args, env, clearEnv: true, cwd, stdout: "piped", stderr: "piped" })
        .output();
    const which = await run("sh", ["-c", "command -v deno"]);
    assertEquals(dec.decode(which.stdout).trim(), `${tmp.path}/npm/bin/deno`);
    const inst = await run("deno", [
      "install",
      "-g",
      "-A",
      "--config",
      "deno.json",
      "-n",
      "pwalk",
      "--root",
      `${tmp.path}/deno`,
      "./cli.ts",
    ]);
    const said = dec.decode(inst.stdout) + dec.decode(inst.stderr);
    assert(inst.success, said);
    assert(!/warning/i.test(said), said);
    const v = await run("pwalk", ["--version"], tmp.path);
    assertEquals(v.code, 0, dec.decode(v.stderr));
    const version = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)).version;
    assertEquals(dec.decode(v.stdout).trim(), `pwalk ${version} (native ${version})`);
  },
});

Deno.test("--help lists every CSV column and every exit status", async () => {
  for (const args of [["--help"], ["help", "report"]]) {
    const r = await cli(args);
    assertEquals(r.code, 0);
    const text = dec.decode(r.stdout);
    for (const col of HEADER_FIELDS) assert(text.includes(col), col);
    for (const status of ["0", "1", "2", "129", "130", "141", "143"]) {
      assertMatch(text, new RegExp(`^  (.*\\b)?${status}\\b`, "m"), `exit status ${status}`);
    }
    assert(text.includes("--progress=SECONDS") && text.includes("--errors FILE"));
  }
});

testNeeding([TMUX], {
  name: "--errors /dev/stderr on a terminal: a name's control bytes are shown escaped, not obeyed",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    // an unreadable folder whose name would turn the terminal red
    await Deno.mkdir(root);
    await Deno.mkdir(`${root}/esc\x1b[31mred`, { mode: 0o000 });
    // and one with a lone 0x9b, a CSI to an 8-bit terminal, not UTF-8
    mkdirRaw(new Uint8Array([...new TextEncoder().encode(`${root}/csi`), 0x9b, 0x78]), 0o000);
    closeLibc();
    const sock = `pwalk-test-esc-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const r = await new Deno.Command("tmux", { args: ["-L", sock, ...args] }).output();
      assert(r.success, dec.decode(r.stderr));
      return dec.decode(r.stdout);
    };
    const cmd = `${UNPRIVILEGED.join(" ")} '${Deno.execPath()}' run -A '${CLI}' --no-progress ` +
      `--errors /dev/stderr -o '${tmp.path}/out.csv' '${root}'; echo "EXIT=$?"; sleep 600`;
    try {
      await tmux("new-session", "-d", "-s", "t", "-x", "200", "-y", "20", "-e", "NO_COLOR=1", cmd);
      await until(
        async () => (await tmux("capture-pane", "-p", "-t", "t")).includes("EXIT="),
        "the end",
      );
      const screen = await tmux("capture-pane", "-p", "-e", "-t", "t"); // with attributes
      assert(screen.includes("EXIT=0"), screen);
      assert(!screen.includes("\x1b[31m"), `the terminal obeyed a name: ${JSON.stringify(screen)}`);
      assertStringIncludes(screen, `"${root}/esc\\x1b[31mred",open,EACCES`);
      assertStringIncludes(screen, `"${root}/csi\\x9bx",open,EACCES`);
    } finally {
      await new Deno.Command("tmux", { args: ["-L", sock, "kill-server"] }).output();
    }
  },
});

Deno.test("--errors FIFO: its reader gets the header and every row, run after run", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.mkdir(`${root}/locked`, { mode: 0o000 });
  const fifo = `${tmp.path}/errors.fifo`;
  // The header used to be written by an open and close of its own: a
  // reader could see its input end there, and the run then waited forever
  // for a reader to open the FIFO again.
  for (let i = 0; i < 10; i++) {
    assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const reader = Deno.open(fifo, { read: true }).then(async (f) =>
      dec.decode(await new Response(f.readable).arrayBuffer())
    );
    const r = await cli(["--errors", fifo, "-o", `${tmp.path}/out.csv`, root], {
      prefix: UNPRIVILEGED,
      timeoutMs: 60_000,
    });
    assert(!r.timedOut, `run ${i} hung on the FIFO`);
    assertEquals(r.code, 0, r.stderr);
    const got = (await reader).split("\n").filter((l) => l);
    assertEquals(
      got,
      [ERRORS_HEADER, `"${root}/locked",open,EACCES,"Permission denied"`],
      `run ${i}`,
    );
    await Deno.remove(fifo);
  }
});

testNeeding([TMUX, STRACE], {
  name: "a run put in the background (Ctrl-Z, bg) stops drawing over the shell's prompt",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await flatTree(root, 10, 1000, 0, true);
    const fifo = `${tmp.path}/out.fifo`;
    assert((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    const sock = `pwalk-test-bg-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const r = await new Deno.Command("tmux", { args: ["-L", sock, ...args] }).output();
      assert(r.success, dec.decode(r.stderr));
      return dec.decode(r.stdout);
    };
    const pane = async () => (await tmux("capture-pane", "-p", "-t", "t")).trimEnd();
    try {
      await tmux(
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "20",
        "-e",
        "NO_COLOR=1",
        "bash --norc --noprofile -i",
      );
      // stdout is a FIFO nobody reads until the end: the walk waits, the
      // progress line goes on being redrawn (opened here, so the shell's
      // redirection does not wait for a reader)
      const reader = Deno.open(fifo, { read: true });
      await tmux(
        "send-keys",
        "-t",
        "t",
        `'${Deno.execPath()}' run -A '${CLI}' --threads 1 '${root}' > '${fifo}'`,
        "Enter",
      );
      await until(async () => (await pane()).split("\n").some((l) => CLOCK.test(l)), "a frame");
      await tmux("send-keys", "-t", "t", "C-z");
      await until(async () => /Stopped/.test(await pane()), "the job stopped");
      await tmux("send-keys", "-t", "t", "bg", "Enter");
      await until(async () => /&$/m.test(await pane()), "the job in the background");
      await tmux("send-keys", "-t", "t", "echo typed-at-the-prompt");
      // the shell's prompt and what was typed, no progress frame over them
      const atPrompt = (l: string) =>
        l.endsWith("# echo typed-at-the-prompt") || l.endsWith("$ echo typed-at-the-prompt");
      await until(async () => atPrompt((await pane()).split("\n").at(-1)!), "the typed text");
      // then progress ticks while the shell has the terminal: each asks
      // whether it has the foreground (pw_foreground: tcgetpgrp, the ioctl
      // TIOCGPGRP on stderr) before it would draw, seen by strace
      const shell = (await tmux("display-message", "-p", "-t", "t", "#{pane_pid}")).trim();
      const kids = Deno.readTextFileSync(`/proc/${shell}/task/${shell}/children`).trim();
      assertEquals(kids.split(" ").length, 1, `the shell's children: ${kids}`);
      const log = `${tmp.path}/strace.log`;
      const strace = new Deno.Command("strace", {
        args: ["-f", "-e", "trace=ioctl,write", "-o", log, "-p", kids],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const traced = () => Deno.readTextFileSync(log).split("\n");
      const asks = (ls: string[]) => ls.filter((l) => /\bioctl\(2, TIOCGPGRP\b/.test(l)).length;
      try {
        await until(() => existsSync(log) && asks(traced()) >= 2, "two progress ticks");
      } finally {
        strace.kill("SIGTERM"); // detaches
        await strace.status;
      }
      const drawn = traced().filter((l) => /\bwrite\(2, /.test(l));
      assertEquals(drawn, [], "written to the terminal in the background");
      const last = (await pane()).split("\n").at(-1)!;
      assert(atPrompt(last), `the prompt was drawn over: ${JSON.stringify(last)}`);
      await new Response((await reader).readable).arrayBuffer(); // let it finish
    } finally {
      await new Deno.Command("tmux", { args: ["-L", sock, "kill-server"] }).output();
    }
  },
});

testNeeding([TMUX], {
  name: "-o /dev/tty in a terminal: no progress line among the rows",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await flatTree(root, 20, 1000, 0, true); // writing 20,000 rows to the pane takes a while
    const log = `${tmp.path}/pane.log`;
    const sock = `pwalk-tty-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const r = await new Deno.Command("tmux", { args: ["-L", sock, ...args] }).output();
      assert(r.success, dec.decode(r.stderr));
      return dec.decode(r.stdout);
    };
    const go = `${tmp.path}/go`;
    const cmd = `while [ ! -e '${go}' ]; do sleep 0.05; done; ` +
      `'${Deno.execPath()}' run -A '${CLI}' --threads 1 -o /dev/tty '${root}'; ` +
      `echo "EXIT=$?"; sleep 600`;
    try {
      await tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "30", "-e", "NO_COLOR=1", cmd);
      await tmux("pipe-pane", "-t", "t", "-o", `cat >> '${log}'`);
      await Deno.writeTextFile(go, ""); // logged from the start
      // the end, as the log has it: pipe-pane's copy may lag behind the
      // pane itself on a busy machine
      await until(
        async () => (await Deno.readTextFile(log).catch(() => "")).includes("EXIT="),
        "the end",
      );
      const text = await Deno.readTextFile(log);
      assertStringIncludes(text, "EXIT=0");
      assert(text.split("\n").length > 20_000, "the rows went to the pane");
      const frames = text.split(/[\r\n]/).filter((f) => CLOCK.test(f) && !f.startsWith("pwalk: "));
      assertEquals(frames, [], "a progress frame among the rows");
      assert(SUMMARY.test(lines(text.replaceAll("\r", "")).filter((l) => SUMMARY.test(l)).at(-1)!));
    } finally {
      await new Deno.Command("tmux", { args: ["-L", sock, "kill-server"] }).output();
    }
  },
});
