/**
 * Signals stop the CLI cleanly (batch schedulers send SIGTERM, a closed
 * terminal SIGHUP):
 * - a report to -o FILE stopped by SIGINT, SIGTERM or SIGHUP ends killed
 *   by that signal (status 128 + its number: a shell loop stops too) and
 *   leaves neither FILE nor FILE.partial-*;
 * - a report to stdout stopped by SIGINT says the CSV on stdout is
 *   incomplete (not that no file was left);
 * - `repair --apply` stopped by SIGTERM exits 143 and its journal is exact:
 *   every line is a change really made (lstat shows the line's new owner,
 *   group and mode on the same inode), and every entry that changed has
 *   its line.
 * A run that finished before the signal landed proves nothing: the tree is
 * made bigger and the step runs again.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, fail } from "@std/assert";
import { CLI, cli, deno, REPO, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import {
  CC,
  FUSERMOUNT,
  PKG_CONFIG,
  procStat,
  PYTHON3,
  SETPRIV,
  testNeeding,
  UNSHARE,
} from "./helpers/system.ts";
import { flatTree, type GrowingTree, growingTree, python } from "./helpers/tree.ts";
import { scratchDir, tempDir } from "./helpers/temp.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { snapshot } from "./helpers/repair_tree.ts";
import { waitFor } from "./helpers/wait.ts";
import { PY_WAITING_ON_PIPE, threadWchans } from "./helpers/proc.ts";
import { iecTenths } from "./helpers/units.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = (dir: string) => Array.from(Deno.readDirSync(dir), (e) => e.name).sort();
const dec = new TextDecoder();
/**
 * What the quit on a second signal says it cannot do (the kernel waits for
 * a FUSE request its server took, through SIGKILL too).
 */
const HELD = "(a thread in a request the file system's server already took keeps the process " +
  "until it answers, or until umount -f)";

/** Poll `cond` until it holds or `done()` (the child ended); a hang guard, not a timing threshold. */
async function until(cond: () => boolean, done: () => boolean, what: string): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (cond()) return true;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
  return false;
}

/**
 * Whether a thread of process `pid` waits for room in a full pipe: in poll()
 * (the library writes pipes through non-blocking descriptions of its own,
 * so that a cancel reaches it) or in pipe_write (a blocking write).
 */
function waitingOnPipe(pid: number): boolean {
  return Array.from(Deno.readDirSync(`/proc/${pid}/task`)).some((t) => {
    try {
      const w = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/wchan`);
      // (pipe_write, anon_pipe_write since Linux 6.14)
      return w.endsWith("pipe_write") || w.startsWith("poll_schedule");
    } catch {
      return false; // the thread ended meanwhile
    }
  });
}

/**
 * Run the CLI with `args` (after `prefix`), stdout a pipe never read; once
 * a thread waits for room in it ({@link waitingOnPipe}), send one SIGTERM:
 * the run must end killed by it (143), not by the hang guard. Resolves to
 * what the pipe held.
 */
async function termWhenBlocked(args: string[], prefix: string[] = []): Promise<string> {
  const p = spawnCli(args, { prefix });
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  let stderr = "";
  const read = (async () => {
    for await (const c of p.stderr) stderr += dec.decode(c);
  })();
  while (!waitingOnPipe(p.pid)) await sleep(10);
  p.kill("SIGTERM");
  await read;
  const r = await p.status;
  clearTimeout(guard);
  assert(r.signal !== "SIGKILL", `killed by the hang guard: ${stderr.slice(-2000)}`);
  assertEquals([r.code, r.signal], [143, "SIGTERM"], stderr.slice(-2000));
  return dec.decode(await new Response(p.stdout).bytes());
}

/** Run the CLI, send `signal` once `ready()` holds; the child's result, or null if it finished first. */
async function interrupt(args: string[], ready: () => boolean, signal: Deno.Signal) {
  const p = spawnCli(args);
  let ended = false;
  const result = p.output().finally(() => ended = true);
  const guard = setTimeout(() => p.kill("SIGKILL"), 90_000);
  if (await until(ready, () => ended, "the run to start writing")) p.kill(signal);
  const r = await result;
  clearTimeout(guard);
  assert(r.signal !== "SIGKILL", "killed by the hang guard");
  if (r.code === 0) return null;
  // stopped, it ends killed by the signal it got (after its cleanup), as a
  // shell loop around it needs to stop too; its status is 128 + n
  assertEquals(r.signal, signal, dec.decode(r.stderr));
  return { code: r.code, stdout: r.stdout, stderr: dec.decode(r.stderr) };
}

/** A tree of the module's, made once, and its root. */
interface Shared {
  root: string;
  tree: GrowingTree;
}

const shared = new Map<string, Promise<Shared>>();

/**
 * The module's trees of long names, each made once, since on some disks
 * one takes tens of seconds (growingTree): "wide", 40 folders of 1,000
 * (40,000 entries, about 10 MB of CSV), and "small", 10 folders of 1,000
 * (2.2 MB): both far more than a pipe holds. Their files are links to one
 * empty file (flatTree's `links`): reports list and stat them as any empty
 * files, and none of these tests changes a file. Tests only read them, and a
 * test whose run ended before its signal landed grows the tree it used
 * (tree.grow()), which leaves it only bigger for the others, its
 * tree.entries counting what it holds now.
 */
function sharedTree(name: "wide" | "small"): Promise<Shared> {
  let made = shared.get(name);
  if (!made) {
    made = (async () => {
      const root = `${scratchDir()}/${name}`;
      return { root, tree: await growingTree(root, name === "wide" ? 40 : 10, 1000, true) };
    })();
    shared.set(name, made);
  }
  return made;
}

/** The root of the module's tree of 40,000 long names ({@link sharedTree}). */
async function sharedWide(): Promise<string> {
  return (await sharedTree("wide")).root;
}

Deno.test("CLI: SIGINT, SIGTERM, SIGHUP stop a report: 128+n, nothing left", async (t) => {
  await using tmp = await tempDir();
  const { root, tree: wide } = await sharedTree("wide");
  const outDir = `${tmp.path}/out`;
  await Deno.mkdir(outDir);

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    await t.step(`${signal}: status ${code}, no FILE, no FILE.partial-*`, async () => {
      for (let attempt = 0;; attempt++) {
        const out = `${outDir}/scan.csv`;
        const partial = () =>
          names(outDir).some((n) =>
            n.startsWith("scan.csv.partial-") && sizeOf(`${outDir}/${n}`) > 0
          );
        const r = await interrupt(["--threads", "1", "-o", out, root], partial, signal);
        if (!r) {
          if (attempt >= 3) fail("the report always finished before the signal");
          await Deno.remove(out);
          await wide.grow();
          continue;
        }
        assertEquals(r.code, code, r.stderr);
        assertEquals(r.stdout.length, 0);
        assertStringIncludes(r.stderr, `pwalk: interrupted by ${signal}; no output file was left`);
        assertEquals(names(outDir), [], "no output file and no partial file");
        break;
      }
    });
  }

  await t.step(
    "SIGTERM with FILE there before: FILE is said to be left as it was, and is",
    async () => {
      for (let attempt = 0;; attempt++) {
        const out = `${outDir}/scan.csv`;
        const before = "path,an earlier scan\n";
        await Deno.writeTextFile(out, before);
        const partial = () =>
          names(outDir).some((n) =>
            n.startsWith("scan.csv.partial-") && sizeOf(`${outDir}/${n}`) > 0
          );
        const r = await interrupt(["--threads", "1", "-o", out, root], partial, "SIGTERM");
        if (!r) {
          if (attempt >= 3) fail("the report always finished before the signal");
          await wide.grow();
          continue;
        }
        assertEquals(r.code, 143, r.stderr);
        assertStringIncludes(
          r.stderr,
          `pwalk: interrupted by SIGTERM; no new output was left (${out} was left as it was); `,
        );
        assert(!r.stderr.includes("was not written"), r.stderr);
        assertEquals(await Deno.readTextFile(out), before);
        assertEquals(names(outDir), ["scan.csv"], "no partial file");
        await Deno.remove(out);
        break;
      }
    },
  );

  await t.step("SIGINT while writing to stdout: the CSV is said to be incomplete", async () => {
    for (let attempt = 0;; attempt++) {
      const p = spawnCli(["--threads", "1", root]);
      const reader = p.stdout.getReader();
      const first = await reader.read(); // rows are arriving: the walk is under way
      assert(!first.done);
      p.kill("SIGINT");
      // the rest read once it ended: drained at once, the pipe could let a
      // loaded machine's report finish before it saw the signal; stopped,
      // it waits on the full pipe, and the signal's cancel wakes it there
      const errText = new Response(p.stderr).arrayBuffer();
      const status = await p.status;
      let bytes = first.value!.length;
      for (let c = await reader.read(); !c.done; c = await reader.read()) bytes += c.value.length;
      const stderr = dec.decode(await errText);
      if (status.code === 0) {
        if (attempt >= 3) fail("the report always finished before the signal");
        await wide.grow();
        continue;
      }
      assertEquals(status.code, 130, stderr);
      assert(bytes > 0);
      assertStringIncludes(stderr, "pwalk: interrupted by SIGINT; the CSV on stdout is incomplete");
      assert(!stderr.includes("no output file"), stderr);
      // what reached the pipe, as counted when the job stopped (stderr is
      // no terminal here: no progress line, only the job's final count)
      assertStringIncludes(stderr, `(${iecTenths(bytes)} were written)`);
      // what the job had walked: not rows the pipe took
      assertMatch(stderr, /were written\); [\d,]+ entr(y|ies) walked, \d+ errors? in /);
      break;
    }
  });
});

Deno.test("CLI: SIGINT while writing to a FIFO: what reached it is said to be incomplete", async () => {
  await using tmp = await tempDir();
  const { root, tree: wide } = await sharedTree("wide");
  const fifo = `${tmp.path}/fifo`;
  for (let attempt = 0;; attempt++) {
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const p = spawnCli(["--threads", "1", "-o", fifo, root]);
    const file = await Deno.open(fifo, { read: true });
    const reader = file.readable.getReader();
    const first = await reader.read(); // rows are arriving
    assert(!first.done);
    p.kill("SIGINT");
    // drained once it ended (as stdout above)
    const r = await p.output();
    for (let c = await reader.read(); !c.done; c = await reader.read()) { /* drain */ }
    const stderr = dec.decode(r.stderr);
    await Deno.remove(fifo);
    if (r.code === 0) {
      if (attempt >= 3) fail("the report always finished before the signal");
      await wide.grow();
      continue;
    }
    assertEquals(r.code, 130, stderr);
    assertStringIncludes(
      stderr,
      `pwalk: interrupted by SIGINT; the CSV written to ${fifo} is incomplete`,
    );
    assert(!stderr.includes("no output file"), stderr);
    break;
  }
});

Deno.test("CLI: one SIGTERM stops a report whose stdout reader reads nothing: 143, what the pipe holds said", async () => {
  const root = await sharedWide(); // about 10 MB of CSV: far more than a pipe holds
  // stdout a pipe never read: the workers fill it and wait for room
  const p = spawnCli(["--progress=1", root]);
  const guard = setTimeout(() => p.kill("SIGKILL"), 20_000); // a hang guard
  const reader = p.stderr.getReader();
  let stderr = "";
  while (!stderr.includes("\n")) { // a second in: the pipe is full by now
    const c = await reader.read();
    assert(!c.done, stderr);
    stderr += dec.decode(c.value);
  }
  p.kill("SIGTERM"); // once, as Slurm does before its SIGKILL
  for (let c = await reader.read(); !c.done; c = await reader.read()) stderr += dec.decode(c.value);
  const r = await p.status;
  clearTimeout(guard);
  assert(r.signal !== "SIGKILL", `killed by the hang guard: ${stderr}`);
  assertEquals([r.code, r.signal], [143, "SIGTERM"], stderr);
  // what the pipe holds is all that was written
  const held = (await new Response(p.stdout).bytes()).length;
  assert(held > 0);
  assertStringIncludes(
    stderr,
    `pwalk: interrupted by SIGTERM; the CSV on stdout is incomplete (${
      iecTenths(held)
    } were written)`,
  );
  assert(!stderr.includes("waiting for the workers"), stderr);
});

testNeeding([SETPRIV], {
  name:
    "CLI: one SIGTERM stops a run whose --errors - reader reads nothing: 143, the report not kept",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    // 1,500 folders it cannot open (an unprivileged run: root's mode 000
    // folders), each an error row of some 250 bytes: far more than a pipe holds
    const root = `${tmp.path}/closed`;
    await Deno.mkdir(root);
    for (let i = 0; i < 1500; i++) await Deno.mkdir(`${root}/${"x".repeat(200)}-${i}`, { mode: 0 });
    const out = `${tmp.path}/out.csv`;
    // stdout, where the error rows go, a pipe never read: the workers fill it and wait for room
    const stdout = await termWhenBlocked(["--errors", "-", "-o", out, root], UNPRIVILEGED);
    // stopped before its end: no report, and the rows the pipe holds are whole rows
    assertEquals(names(tmp.path), ["closed"]);
    const rows = stdout.split("\n");
    assert(rows.length > 100 && rows.length < 1500, `${rows.length} rows`);
    assertEquals(rows[0], "path,operation,errno,message");
  },
});

testNeeding([SETPRIV, PYTHON3], {
  name:
    "CLI: one SIGTERM stops a run whose stderr reader reads nothing (its error lines fill it): 143",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir();
    // 3,000 folders it cannot open, each a short line on stderr (shorter than
    // the "interrupted by" line, which then cannot fit in what room is left)
    const root = `${tmp.path}/closed`;
    await Deno.mkdir(root);
    for (let i = 0; i < 3000; i++) await Deno.mkdir(`${root}/d-${i}`, { mode: 0 });
    // stderr a FIFO held open and never read (a stopped pager): once the
    // error lines fill it, SIGTERM; the "interrupted by" line cannot be
    // written either, and must not keep the process from ending
    const r = JSON.parse(
      await python(
        `import fcntl, json, os, signal, struct, subprocess, sys, termios, time
fifo = sys.argv[1]
os.mkfifo(fifo)
held = os.open(fifo, os.O_RDWR)
size = fcntl.fcntl(held, 1032)  # F_GETPIPE_SZ
w = os.open(fifo, os.O_WRONLY)
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=w, stdin=subprocess.DEVNULL)
os.close(w)
full = lambda: struct.unpack("i", fcntl.ioctl(held, termios.FIONREAD, bytes(4)))[0] >= size - 4096
${PY_WAITING_ON_PIPE}deadline = time.time() + 60
while not full() and p.poll() is None and time.time() < deadline: time.sleep(0.01)
filled = full()
# the walk goes on until its error lines wait on the full pipe: then SIGTERM
while not waiting_on_pipe(p.pid) and p.poll() is None and time.time() < deadline: time.sleep(0.01)
p.send_signal(signal.SIGTERM)
try:
  code = p.wait(20)
except subprocess.TimeoutExpired:
  p.kill(); code = "hung"; p.wait()
print(json.dumps({"filled": filled, "code": code}))`,
        `${tmp.path}/stderr`,
        ...UNPRIVILEGED,
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "-o",
        "/dev/null",
        root,
      ),
    );
    assert(r.filled, "stderr never filled up");
    assertEquals(r.code, -15); // killed by SIGTERM, as it ends after its clean-up
  },
});

Deno.test("CLI: one SIGTERM stops a chown dry run whose stdout reader reads nothing: 143, nothing changed", async () => {
  await using tmp = await tempDir();
  // 3,000 files of uid 4242 with long names: a "would change:" line each,
  // far more than a pipe holds
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  for (let i = 0; i < 3000; i++) {
    const f = `${root}/${"y".repeat(200)}-${i}`;
    Deno.writeFileSync(f, new Uint8Array());
    Deno.chownSync(f, 4242, 4242);
  }
  const stdout = await termWhenBlocked(["--chown_from", "4242", "--chown_to", "4343:4343", root]);
  const lines = stdout.split("\n");
  assert(lines.length > 100 && lines.length < 3000, `${lines.length} lines`);
  assert(lines[0].startsWith("would change: "), lines[0]);
  // a dry run: every file is still uid 4242's
  for (const e of Deno.readDirSync(root)) {
    assertEquals(Deno.lstatSync(`${root}/${e.name}`).uid, 4242);
  }
});

testNeeding([PYTHON3], {
  name: "CLI: a stop that waits on a socket taking no more says so, and SIGTERM again quits",
  async fn() {
    const root = await sharedWide();
    // stdout a socket never read (no description of its own to make
    // non-blocking): the workers wait in write(2), where no cancel reaches
    const r = JSON.parse(
      await python(
        `import json, signal, socket, subprocess, sys, time
mine, theirs = socket.socketpair()
p = subprocess.Popen(sys.argv[1:], stdout=theirs, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
theirs.close()
err = p.stderr.readline()  # the first progress line: the socket is full by now
p.send_signal(signal.SIGTERM)
line = p.stderr.readline()
while line and b"stopping" not in line: err += line; line = p.stderr.readline()
err += line
p.send_signal(signal.SIGTERM)
err += p.stderr.read()
print(json.dumps({"code": p.wait(20), "stderr": err.decode()}))`,
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "--progress=1",
        root,
      ),
    );
    assertEquals(r.code, -15, r.stderr);
    assertStringIncludes(
      r.stderr,
      "pwalk: stopping (SIGTERM): waiting for the workers to return from writing the output, " +
        "which takes no more; SIGTERM again quits without them",
    );
    // (a write to a socket is interrupted: nothing about the file system)
    assertStringIncludes(r.stderr, "pwalk: SIGTERM again: quit without waiting for the workers; ");
  },
});

Deno.test("report() to a FIFO whose reader reads nothing: aborted, it rejects instead of hanging", async () => {
  await using tmp = await tempDir();
  const root = await sharedWide();
  const fifo = `${tmp.path}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  // in a child: a hang would keep a native thread (and the test) forever
  const code = `import { report } from "${REPO}/mod.ts";
const abort = new AbortController();
let waiting = 0; // progress calls in a row that found workers in a write
const done = report(${JSON.stringify(root)}, {
  output: ${JSON.stringify(fifo)},
  signal: abort.signal,
  progressIntervalMs: 50,
  // ten in a row: the workers wait for the full FIFO to take more
  onProgress: (p) => { waiting = p.outputWriting > 0 ? waiting + 1 : 0; },
});
// opened once the report's first write opens it, and never read
const reader = await Deno.open(${JSON.stringify(fifo)}, { read: true });
while (waiting < 10) await new Promise((r) => setTimeout(r, 20));
abort.abort(new Error("stop"));
await done.then(() => console.log("resolved"), (e) => console.log("rejected:", e.message));
reader.close();`;
  const r = await deno(["eval", "--ext=ts", code], { timeoutMs: 120_000 }); // a hang guard
  assert(!r.timedOut, `hung: ${r.stderr}`);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text, "rejected: stop\n");
});

Deno.test("CLI: SIGINT while waiting for a FIFO's reader: nothing was written, it says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const fifo = `${tmp.path}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  // a progress line a second: the first says the run is under way (the
  // walk done, its first write waiting for a reader that never comes)
  const p = spawnCli(["--progress=1", "-o", fifo, root]);
  const reader = p.stderr.getReader();
  let stderr = "";
  while (!stderr.includes("\n")) {
    const c = await reader.read();
    assert(!c.done, stderr);
    stderr += dec.decode(c.value);
  }
  p.kill("SIGINT");
  for (let c = await reader.read(); !c.done; c = await reader.read()) stderr += dec.decode(c.value);
  await p.stdout.cancel();
  const r = await p.status;
  assertEquals(r.code, 130, stderr);
  assertStringIncludes(stderr, `pwalk: interrupted by SIGINT; nothing was written to ${fifo}`);
  assert(!stderr.includes("incomplete"), stderr);
  assertEquals((await Deno.lstat(fifo)).isFifo, true);
});

/**
 * Run the CLI with `args`, send `sig` once one of its threads waits where
 * `waiting` says (by the kernel's wait channels), and collect its end.
 */
async function signalledWhile(
  args: readonly string[],
  sig: Deno.Signal,
  waiting: (wchans: string[]) => boolean,
  what: string,
): Promise<{ code: number; out: string; err: string }> {
  const p = spawnCli([...args]);
  await waitFor(() => waiting(threadWchans(p.pid)), { what: `${sig}: ${what}` });
  p.kill(sig);
  const [out, err, r] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.status,
  ]);
  return { code: r.code, out, err };
}

Deno.test("CLI: a signal while an --exclude list's FIFO waits for its writer: one line, 128+n, nothing written (report, plan)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const fifo = `${tmp.path}/list`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const runs = [
    ["SIGTERM", 143, ["-o", `${tmp.path}/out.csv`, "--exclude", fifo, root]],
    ["SIGINT", 130, ["plan", root, "--shards", "2", "--exclude", fifo, "-o", `${tmp.path}/p.json`]],
  ] as const;
  for (const [sig, status, args] of runs) {
    // its open of the FIFO waits for a writer (the kernel's wait_for_partner)
    const r = await signalledWhile(
      args,
      sig,
      (w) => w.includes("wait_for_partner"),
      "the FIFO's open waiting",
    );
    assertEquals([r.code, r.err, r.out], [
      status,
      `pwalk: interrupted by ${sig}; nothing was done\n`,
      "",
    ]);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["d", "list"]);
});

Deno.test("CLI: a signal while a --from scan's FIFO waits for its writer: one line, 128+n, no plan (plan, slurm); a writer coming later finds no reader left", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  const fifo = `${tmp.path}/scan.csv`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const runs = [
    ["SIGTERM", 143, ["plan", root, "--shards", "2", "--from", fifo, "-o", `${tmp.path}/p.json`]],
    ["SIGHUP", 129, ["plan", root, "--shards", "2", "--from", fifo]],
    [
      "SIGINT",
      130,
      ["slurm", root, "--shards", "2", "--from", fifo, "--out", `${tmp.path}/s`, "--dry-run"],
    ],
  ] as const;
  for (const [sig, status, args] of runs) {
    const { code, out, err } = await signalledWhile(
      args,
      sig,
      (w) => w.includes("wait_for_partner"),
      "the FIFO's open waiting",
    );
    assertEquals([code, out], [status, ""], err);
    assertMatch(err, new RegExp(`^pwalk (plan|slurm): interrupted by ${sig}; [^\n]*\n$`));
    // its reader gone: a writer now is refused at once (ENXIO), never fed to it
    const w = await new Deno.Command("sh", {
      args: ["-c", `timeout 2 sh -c ': > "$0"' "${fifo}"; echo $?`],
    }).output();
    assertEquals(new TextDecoder().decode(w.stdout).trim(), "124", "a writer waits: no reader");
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["d", "scan.csv"]);
});

Deno.test("CLI: a signal while a --from FIFO's writer is there but silent: one line, 128+n, nothing left (plan, slurm) (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  const fifo = `${tmp.path}/scan.csv`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const runs = [
    ["SIGTERM", 143, ["plan", root, "--shards", "2", "--from", fifo, "-o", `${tmp.path}/p.json`]],
    ["SIGINT", 130, ["slurm", root, "--shards", "2", "--from", fifo, "--out", `${tmp.path}/s`]],
  ] as const;
  for (const [sig, status, args] of runs) {
    // a writer that opens the FIFO and writes nothing: the read waits for data
    const writer = new Deno.Command("sh", { args: ["-c", `exec 3>"$0"; sleep 60`, fifo] }).spawn();
    try {
      const { code, out, err } = await signalledWhile(
        args,
        sig,
        (w) => w.some((c) => c.endsWith("pipe_read")),
        "the FIFO's read waiting",
      );
      assertEquals([code, out], [status, ""], err);
      assertMatch(err, new RegExp(`^pwalk (plan|slurm): interrupted by ${sig}; [^\\n]*\\n$`));
      assert(!err.includes("Cannot set property"), err);
    } finally {
      writer.kill("SIGKILL");
      await writer.status;
    }
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["d", "scan.csv"]);
});

Deno.test("readScanCounts of a FIFO with no writer, aborted, with --allow-read and --allow-ffi only: rejects with the reason, and the process ends (review)", async () => {
  await using tmp = await tempDir();
  const fifo = `${tmp.path}/scan.csv`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const script = `${tmp.path}/abort.ts`;
  await Deno.writeTextFile(
    script,
    `import { readScanCounts } from ${JSON.stringify(`${REPO}/mod.ts`)};
const ac = new AbortController();
setTimeout(() => ac.abort(new Error("stopped here")), 300);
try {
  await readScanCounts([${JSON.stringify(fifo)}], { signal: ac.signal });
  console.log("read");
} catch (e) {
  console.log(String(e));
}
`,
  );
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-ffi", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  try {
    const r = await p.output();
    assertEquals([r.signal, r.code], [null, 0], dec.decode(r.stderr));
    assertEquals(dec.decode(r.stdout), "Error: stopped here\n");
  } finally {
    clearTimeout(guard);
  }
});

testNeeding([PYTHON3], {
  name:
    "CLI: a signal while an --exclude FIFO waits, its line slow to leave (stderr full), the writer then coming: nothing is done after all",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/f`, "x");
    // (Python: a FIFO for stderr filled up first, read only after the writer came)
    const got = JSON.parse(
      await python(
        `import fcntl, json, os, signal, subprocess, sys, time
d, deno, cli = sys.argv[1:4]
os.mkfifo(d + "/list"); os.mkfifo(d + "/err")
rfd = os.open(d + "/err", os.O_RDONLY | os.O_NONBLOCK)
wfd = os.open(d + "/err", os.O_WRONLY | os.O_NONBLOCK)
try:
    while True: os.write(wfd, b"." * 4096)
except BlockingIOError: pass
fcntl.fcntl(wfd, fcntl.F_SETFL, 0)
p = subprocess.Popen([deno, "run", "-A", cli, "-o", d + "/out.csv", "--exclude", d + "/list", d + "/t"],
                     stderr=wfd, stdout=subprocess.DEVNULL)
os.close(wfd)
for _ in range(1200):
    w = ""
    try:
        for t in os.listdir("/proc/%d/task" % p.pid):
            w += open("/proc/%d/task/%s/wchan" % (p.pid, t)).read() + " "
    except OSError: pass
    if "wait_for_partner" in w: break
    time.sleep(0.025)
p.send_signal(signal.SIGINT)
time.sleep(0.2)
with open(d + "/list", "w"): pass  # the writer comes: an empty list
time.sleep(1.0)
fcntl.fcntl(rfd, fcntl.F_SETFL, 0)
out = b""
while True:
    b = os.read(rfd, 65536)
    if not b: break
    out += b
rc = p.wait(timeout=60)
print(json.dumps({"rc": rc, "made": sorted(os.listdir(d)), "err": out.replace(b".", b"").decode()}))`,
        tmp.path,
        Deno.execPath(),
        CLI,
      ),
    );
    // killed by SIGINT (130 said as the signal itself), its one line, no report run
    assertEquals(got, {
      rc: -2,
      made: ["err", "list", "t"],
      err: "pwalk: interrupted by SIGINT; nothing was done\n",
    });
  },
});

for (
  const [sig, trap, how] of [
    ["SIGHUP", "HUP", "under nohup (SIGHUP ignored)"],
    ["SIGINT", "INT", "as a script's background job (SIGINT ignored)"],
  ] as const
) {
  for (
    const perms of [["-A"], ["--no-prompt", "--allow-ffi", "--allow-read", "--allow-env"]]
  ) {
    // README's three permissions too: Deno refuses /proc/self/status to a
    // script without --allow-all, and the signal must stay ignored anyway
    Deno.test(`CLI: ${how}, a ${sig} does not stop a report (${perms.join(" ")})`, async () => {
      await using tmp = await tempDir();
      // 2.2 MB of CSV: far more than a pipe holds
      const { root, tree: wide } = await sharedTree("small");
      const fifo = `${tmp.path}/fifo`;
      await new Deno.Command("mkfifo", { args: [fifo] }).output();
      // nohup's way, and a shell's for `cmd &` in a script: ignored, then exec
      // (the shell's trap '' is kept across exec)
      const p = new Deno.Command("sh", {
        args: [
          "-c",
          `trap '' ${trap}; exec "$0" "$@"`,
          Deno.execPath(),
          "run",
          ...perms,
          CLI,
          "--threads",
          "1",
          "-o",
          fifo,
          root,
        ],
        cwd: REPO,
        env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const file = await Deno.open(fifo, { read: true });
      const reader = file.readable.getReader();
      let rows = 0;
      const count = (b: Uint8Array) => b.forEach((x) => x === 10 && rows++);
      const first = await reader.read(); // rows are arriving: the run's signal listeners are set
      if (first.done || !first.value) throw new Error("no rows came");
      count(first.value);
      // The report cannot end while nothing is read: its writes wait for the pipe.
      p.kill(sig);
      let ended = false;
      const status = p.status.finally(() => ended = true);
      await sleep(500);
      assert(!ended, `the report ended at ${sig}`);
      for (let c = await reader.read(); !c.done; c = await reader.read()) count(c.value);
      const r = await p.output();
      await status;
      assertEquals(r.code, 0, dec.decode(r.stderr));
      assertEquals(rows, wide.entries);
    });
  }

  Deno.test(`CLI: ${how}, a ${sig} after a job's listeners are gone still changes nothing`, async () => {
    // between two jobs, or after the last: Deno's own handler stays in
    const script = `import { listen } from "${REPO}/lib/cli/common.ts";
const stop = listen("${sig}", () => console.log("stopped"));
stop();
console.log("ready");
await new Promise((r) => setTimeout(r, 1500));
console.log("alive");`;
    const p = new Deno.Command("sh", {
      args: ["-c", `trap '' ${trap}; exec "$0" eval "$1"`, Deno.execPath(), script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = p.stdout.getReader();
    let out = "";
    while (!out.includes("ready")) {
      const c = await reader.read();
      if (c.done) break;
      out += dec.decode(c.value);
    }
    p.kill(sig);
    for (let c = await reader.read(); !c.done; c = await reader.read()) out += dec.decode(c.value);
    const err = await new Response(p.stderr).text();
    const st = await p.status;
    assertEquals([st.code, st.signal], [0, null], err);
    assertEquals(out.trim().split("\n"), ["ready", "alive"]);
  });
}

Deno.test("CLI: a signal whose event runs only once its phase stopped listening still ends the process, 128+n, never lost (review)", async () => {
  // the main thread busy when the signal came (a phase ending, the next
  // not yet listening): its event runs with no phase's listener left
  const script = `import { listen } from ${JSON.stringify(`${REPO}/lib/cli/common.ts`)};
const stop = listen("SIGTERM", () => console.log("heard"));
Deno.kill(Deno.pid, "SIGTERM");
const t = Date.now();
while (Date.now() - t < 300) { /* busy */ }
stop();
await new Promise((r) => setTimeout(r, 1000));
console.log("survived");`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(
    [r.code, r.signal, dec.decode(r.stdout)],
    [143, "SIGTERM", ""],
    dec.decode(r.stderr),
  );
});

Deno.test("CLI: a signal that came while the last work kept the main thread busy ends the process, 128+n, not passed over by its end (review)", async () => {
  // its event still waiting for a turn of the event loop when the command
  // has returned: the process's end waits for it (a Ctrl-C as a summary's
  // text was formatted ended it 0, and a shell loop went on)
  const script = `import { exitAfterSaying, listen } from ${
    JSON.stringify(`${REPO}/lib/cli/common.ts`)
  };
listen("SIGTERM", () => {})(); // Deno's listener in, no phase listening
Deno.kill(Deno.pid, "SIGTERM");
const t = Date.now();
while (Date.now() - t < 300) { /* busy */ }
console.log("returned");
await exitAfterSaying(0);`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(
    [r.code, r.signal, dec.decode(r.stdout)],
    [143, "SIGTERM", "returned\n"],
    dec.decode(r.stderr),
  );
});

/** Journal entry lines: DEV INO TYPE OLDUID OLDGID OLDMODE NEWUID NEWGID NEWMODE BIRTH PATH. */
function journalEntries(text: string) {
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const f = l.split(" ");
    const rel = f.slice(10).join(" ").replace(
      /\\x([0-9a-f]{2})/g,
      (_, h) => String.fromCharCode(parseInt(h, 16)),
    );
    return {
      ino: Number(f[1]),
      uid: Number(f[6]),
      gid: Number(f[7]),
      mode: parseInt(f[8], 8),
      rel,
    };
  });
}

Deno.test("CLI: repair --apply stopped by SIGTERM: 143, and the journal is exact", async () => {
  await using tmp = await tempDir();
  for (let attempt = 0;; attempt++) {
    const root = `${tmp.path}/proj${attempt}`;
    await Deno.mkdir(root);
    Deno.chownSync(root, 0, 5000); // a shared group for the private ones (gid 0) below
    // 5,000 files, then 10,000, 20,000...: the signal lands within the first
    // few hundred changes (200-310 of 20,000 in runs here), and a repair
    // that still ended first is tried again on a tree twice as large
    await flatTree(root, 5 << attempt, 1000);
    const before = snapshot(root);
    const journal = `${tmp.path}/j${attempt}`;
    const started = () => {
      try {
        return Deno.readTextFileSync(journal).split("\n").length > 100;
      } catch {
        return false;
      }
    };
    const args = ["repair", "--apply", "--threads", "1", "--journal", journal, root];
    const r = await interrupt(args, started, "SIGTERM");
    if (!r) {
      if (attempt >= 3) fail("the repair always finished before the signal");
      continue;
    }
    assertEquals(r.code, 143, r.stderr);
    assertStringIncludes(r.stderr, `every change made is in the journal ${journal}`);
    const after = snapshot(root);
    const entries = journalEntries(Deno.readTextFileSync(journal));
    for (const e of entries) {
      const s = after.get(e.rel);
      if (!s) throw new Error(`${e.rel} in the journal but not in the tree`);
      assertEquals([s.ino, s.uid, s.gid, s.mode], [e.ino, e.uid, e.gid, e.mode], e.rel);
    }
    const changed = [...after].filter(([rel, s]) => {
      const b = before.get(rel)!;
      return s.uid !== b.uid || s.gid !== b.gid || s.mode !== b.mode;
    }).map(([rel]) => rel).sort();
    assert(changed.length > 0);
    assertEquals(entries.map((e) => e.rel).sort(), changed, "changed entries = journal lines");
    assert(changed.length < after.size - 1, "the repair was stopped half-way");
    break;
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "CLI: a second SIGINT quits a run stuck in a hung file system, its temporaries removed and counted (--errors' too)",
  async fn() {
    await using tmp = await tempDir();
    // a tree whose "hung" folder answers after 20 s, as a dead NFS server's part
    const src = `${tmp.path}/src`;
    for (const d of ["ok", "hung/deep"]) Deno.mkdirSync(`${src}/${d}`, { recursive: true });
    for (let i = 0; i < 20; i++) Deno.writeTextFileSync(`${src}/ok/f${i}`, "x");
    Deno.writeTextFileSync(`${src}/hung/deep/f`, "x");
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "20000000",
      SLOWFS_ONLY: "/hung",
    });
    const mnt = fs.path;
    const out = `${tmp.path}/out.csv`, errs = `${tmp.path}/errs.csv`;
    // the temporaries each run makes, by the start of their names
    const ours = (n: string) => n.startsWith("out.csv") || n.startsWith(".errs.csv.partial-");
    for (
      const [args, temps] of [
        [["-o", out], ["out.csv.partial-"]],
        [["-o", out, "--errors", errs], ["out.csv.partial-", ".errs.csv.partial-"]],
        [["--errors", errs], [".errs.csv.partial-"]], // the report on stdout
      ] as const
    ) {
      // a progress line a second: the first comes a second in, when a worker
      // waits in the hung folder (the temporary output appears before any)
      const p = spawnCli(["--threads", "2", "--progress=1", ...args, mnt]);
      const guard = setTimeout(() => p.kill("SIGKILL"), 120_000);
      let err = "";
      const reader = p.stderr.getReader();
      const readUntil = async (text: string) => {
        while (!err.includes(text)) {
          const { value, done } = await reader.read();
          if (done) fail(`stderr ended without "${text}": ${err}`);
          err += dec.decode(value);
        }
      };
      const made = () => temps.every((t) => names(tmp.path).some((n) => n.startsWith(t)));
      await until(made, () => false, "the run's temporary files");
      await readUntil("\n");
      // the first signal cancels, but the workers wait in the file system
      p.kill("SIGINT");
      await readUntil(
        "pwalk: stopping (SIGINT): waiting for the workers to return from the file system",
      );
      assert(made());
      p.kill("SIGINT");
      await readUntil("\n");
      // the workers wait in requests the server took (it sleeps in them):
      // the process can end only once it answers, and says so
      await readUntil(
        `pwalk: SIGINT again: quit without waiting for the workers ${HELD}; `,
      );
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        err += dec.decode(value);
      }
      const st = await p.status;
      await p.stdout.cancel();
      clearTimeout(guard);
      assertEquals(st.signal, "SIGINT", err);
      assertStringIncludes(
        err,
        `; ${temps.length} temporary file${temps.length > 1 ? "s" : ""} removed`,
      );
      assertEquals(names(tmp.path).filter(ours), []);
    }
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "CLI: SIGTERM, SIGINT stop pwalk plan: one line, 143/130, no plan written",
  async fn() {
    await using tmp = await tempDir();
    // a tree whose "slow" part answers each request after 0.3 s (a slow
    // network file system): the planner is still listing it when stopped
    const src = `${tmp.path}/src`;
    for (let i = 0; i < 40; i++) Deno.mkdirSync(`${src}/slow/d${i}/e`, { recursive: true });
    Deno.mkdirSync(`${src}/fast`);
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "300000",
      SLOWFS_ONLY: "/slow",
    });
    const mnt = fs.path;
    const out = `${tmp.path}/out`;
    await Deno.mkdir(out);
    for (
      const [signal, code, toFile] of [["SIGTERM", 143, true], ["SIGINT", 130, false]] as const
    ) {
      const args = ["plan", mnt, "--shards", "2", ...(toFile ? ["-o", `${out}/plan.json`] : [])];
      const p = spawnCli(args);
      const guard = setTimeout(() => p.kill("SIGKILL"), 120_000); // a hang guard
      let ended = false;
      const result = p.output().finally(() => ended = true);
      // planning: a folder of the tree open in the process (its listing waits)
      const listing = () => {
        try {
          return Array.from(Deno.readDirSync(`/proc/${p.pid}/fd`)).some((e) => {
            try {
              return Deno.readLinkSync(`/proc/${p.pid}/fd/${e.name}`).startsWith(`${mnt}/slow`);
            } catch {
              return false; // closed meanwhile
            }
          });
        } catch {
          return false; // ended
        }
      };
      assert(await until(listing, () => ended, "the planner to list the tree"), "plan ended first");
      p.kill(signal);
      const r = await result;
      clearTimeout(guard);
      const stderr = dec.decode(r.stderr);
      assertEquals([r.code, r.signal], [code, signal], stderr);
      // its last line says so (a stop that waits on the file system says that first)
      const lines = stderr.trimEnd().split("\n");
      assertEquals(
        lines.at(-1),
        `pwalk plan: interrupted by ${signal}; ` +
          (toFile ? `no plan was written to ${out}/plan.json` : "no plan was printed"),
      );
      assert(lines.slice(0, -1).every((l) => l.startsWith(`pwalk plan: stopping (${signal})`)));
      assertEquals(r.stdout.length, 0);
      assertEquals(names(out), [], "no plan, no temporary");
    }
  },
});

// cli.ts, and mod.ts: the package's main entry (`deno run jsr:@pwalk/cli`)
for (const entry of ["cli.ts", "mod.ts"]) {
  Deno.test(`CLI: Ctrl-C stops a shell loop of reports, not only the report running (${entry})`, async () => {
    await using tmp = await tempDir();
    // 10,000 entries at one thread take some 0.04 s: the signal goes to the
    // group at once (a pkill process, started first, once came after it);
    // a report that still ended first (a loaded machine) is tried again on a
    // tree twice as large
    const { root, tree } = await sharedTree("small");
    // bash runs three reports in turn, in a process group of its own; Ctrl-C
    // is SIGINT to the whole group, as a terminal sends it
    const script = `for i in 1 2 3; do "$0" run -A "$1" -o "$2/out$i.csv" --threads 1 "$3"; ` +
      `echo "rc=$?"; done; echo finished`;
    for (let attempt = 1;; attempt++) {
      const p = new Deno.Command("setsid", {
        args: ["-w", "bash", "-c", script, Deno.execPath(), `${REPO}/${entry}`, tmp.path, root],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let ended = false;
      const result = p.output().finally(() => ended = true);
      const started = await until(
        () => names(tmp.path).some((n) => n.startsWith("out1.csv.partial-")),
        () => ended,
        "the first report to start writing",
      );
      if (started) Deno.kill(-pgidOf(p.pid), "SIGINT"); // the group, at once
      const r = await result;
      const out = dec.decode(r.stdout);
      if (!started || out.includes("rc=0")) {
        // the first report ended before it took the signal: no test of it
        assert(attempt < 4, `${attempt} reports of up to ${tree.entries} entries ended first`);
        for (const n of names(tmp.path)) {
          if (n.startsWith("out")) await Deno.remove(`${tmp.path}/${n}`);
        }
        await tree.grow();
        continue;
      }
      // bash saw its child killed by SIGINT and stopped too (a child that only
      // exited 130 would have let it print rc=130 and start the next report)
      assert(!out.includes("finished"), "the signal came after the loop: " + out);
      assert(!out.includes("rc=130"), out + dec.decode(r.stderr));
      assertEquals(r.signal, "SIGINT", out);
      assertStringIncludes(
        dec.decode(r.stderr),
        "pwalk: interrupted by SIGINT; no output file was left",
      );
      assert(!names(tmp.path).some((n) => n.includes(".partial-")), names(tmp.path).join(" "));
      break;
    }
  });
}

/** The size of the file at `path`; 0 once it is gone (a partial file renamed meanwhile). */
function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

/** The process group of pid (/proc/PID/stat's 5th field). */
function pgidOf(pid: number): number {
  return Number(procStat(`/proc/${pid}/stat`)[2]);
}

Deno.test("CLI: a report removes the FILE.partial-PID-N a killed run left (its PID another's now too), not a live one's (locked)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  // a run killed with SIGKILL (a batch job's time limit) leaves its
  // temporary: made here by hand, named with the pid of a process that has
  // ended (a real run's, so that no live process has it)
  const out = `${tmp.path}/out.csv`;
  const p = spawnCli(["-o", out, root]);
  await p.stdout.cancel();
  await p.stderr.cancel();
  const dead = (await p.status, p.pid); // ended: its pid names no process now
  // one whose PID is a live process's now (this one's: a reused PID, a
  // PID namespace where every run has the same): unlocked, a dead run's
  const stale = [`${out}.partial-${dead}-0`, `${out}.partial-${Deno.pid}-1`];
  const live = `${out}.partial-${Deno.pid}-0`;
  const other = `${out}.partial-notes`;
  for (const f of [...stale, live, other]) await Deno.writeTextFile(f, "rows");
  // left an hour ago (a live PID's made in the last seconds is taken for a
  // run's between making and locking it)
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const f of stale) await Deno.utime(f, hourAgo, hourAgo);
  using held = await Deno.open(live, { read: true, write: true });
  await held.lock(true); // as a live run holds its own
  const r = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, "-o", out, root]);
  assertEquals(r.code, 0, r.stderr);
  for (const t of stale) {
    assertStringIncludes(
      r.stderr,
      `pwalk: removed ${t}, left by an earlier run killed before its end`,
    );
  }
  // said before the summary, which ends the run (README)
  const lines = r.stderr.trimEnd().split("\n");
  assertEquals(lines.length, 3, r.stderr);
  assertMatch(lines[2], /^pwalk: 2 entries, 1 folder, .* -> .*\/out\.csv \(/);
  assertEquals(
    names(tmp.path),
    ["out.csv", "out.csv.partial-notes", `out.csv.partial-${Deno.pid}-0`, "tree"].sort(),
  );
});

Deno.test("CLI: a killed run's leftovers inside the tree are removed before the walk (never rows), and --errors' too", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const p = spawnCli(["-o", `${tmp.path}/x.csv`, root]);
  await p.stdout.cancel();
  await p.stderr.cancel();
  const dead = (await p.status, p.pid); // ended: its pid names no process now
  await Deno.remove(`${tmp.path}/x.csv`);
  // -o inside the tree; the errors file beside the tree
  const out = `${root}/scan.csv`, errs = `${tmp.path}/errs.csv`;
  const stale = `${out}.partial-${dead}-0`;
  const staleErrs = `${tmp.path}/.errs.csv.partial-${dead}-${crypto.randomUUID()}`;
  // (its PID a live process's: this one's; unlocked, a dead run's all the same)
  const staleLivePid = `${tmp.path}/.errs.csv.partial-${Deno.pid}-${crypto.randomUUID()}`;
  const liveErrs = `${tmp.path}/.errs.csv.partial-${Deno.pid}-${crypto.randomUUID()}`;
  // (a live PID's unlocked one made just now: its run between making and
  // locking it; left)
  const justMade = `${tmp.path}/.errs.csv.partial-${Deno.pid}-${crypto.randomUUID()}`;
  for (const f of [stale, staleErrs, staleLivePid, liveErrs, justMade]) {
    await Deno.writeTextFile(f, "rows");
  }
  // an hour old: a killed run's, whose PID is this process's now
  const hourAgo = new Date(Date.now() - 3600_000);
  await Deno.utime(staleLivePid, hourAgo, hourAgo);
  using held = await Deno.open(liveErrs, { read: true, write: true });
  await held.lock(true); // as a live run holds its own
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    `${REPO}/cli.ts`,
    "-o",
    out,
    "--errors",
    errs,
    root,
  ]);
  assertEquals(r.code, 0, r.stderr);
  for (const t of [stale, staleErrs, staleLivePid]) {
    assertStringIncludes(
      r.stderr,
      `pwalk: removed ${t}, left by an earlier run killed before its end`,
    );
  }
  // the rows: the tree as it is at the end (root and f), as Deno.readDir sees it
  const rows = (await Deno.readTextFile(out)).split("\n").filter(Boolean);
  const onDisk = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n !== "scan.csv");
  assertEquals(onDisk, ["f"]);
  assertEquals(rows.length, 1 + onDisk.length, rows.join("\n"));
  assert(!rows.some((l) => l.includes(".partial-")), rows.join("\n"));
  assertEquals(
    names(tmp.path),
    ["errs.csv", liveErrs.slice(tmp.path.length + 1), justMade.slice(tmp.path.length + 1), "tree"]
      .sort(),
  );
  assert(!r.stderr.includes(justMade), r.stderr);
});

Deno.test("CLI: a temporary that a live process holds locked is never removed as a leftover, whatever its PID says", async () => {
  // a run on another host or in another PID namespace (its PID not in this
  // host's /proc) locks its temporaries for as long as it writes them
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const p = spawnCli(["-o", `${tmp.path}/x.csv`, root]);
  await p.stdout.cancel();
  await p.stderr.cancel();
  const dead = (await p.status, p.pid); // ended: its pid names no process here now
  await Deno.remove(`${tmp.path}/x.csv`);
  const out = `${tmp.path}/out.csv`, errs = `${tmp.path}/errs.csv`;
  const held = [
    `${out}.partial-${dead}-0`,
    `${tmp.path}/.errs.csv.partial-${dead}-${crypto.randomUUID()}`,
  ];
  const stale = [
    `${out}.partial-${dead}-1`,
    `${tmp.path}/.errs.csv.partial-${dead}-${crypto.randomUUID()}`,
  ];
  for (const f of [...held, ...stale]) await Deno.writeTextFile(f, "rows");
  const locks = await Promise.all(held.map(async (f) => {
    const h = await Deno.open(f, { read: true, write: true });
    await h.lock(true); // as a live run holds its own
    return h;
  }));
  try {
    const r = await cli(["-o", out, "--errors", errs, root]);
    assertEquals(r.code, 0, r.stderr);
    for (const t of stale) {
      assertStringIncludes(
        r.stderr,
        `pwalk: removed ${t}, left by an earlier run killed before its end`,
      );
    }
    for (const t of held) assert(!r.stderr.includes(t), r.stderr);
    assertEquals(
      names(tmp.path),
      ["errs.csv", "out.csv", "tree", ...held.map((f) => f.slice(tmp.path.length + 1))].sort(),
    );
  } finally {
    for (const h of locks) h.close();
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT, UNSHARE], {
  name:
    "CLI: a report in another PID namespace to the same -o and --errors leaves a live run's temporaries alone",
  ignore: Deno.uid() !== 0,
  async fn() {
    // The first run must still be walking when the mount is paused: on a
    // loaded machine the pause may land after its walk (under 2 s at 20 ms
    // a request) ended; then the tree's mount is made slower and it is tried again.
    for (let attempt = 0;; attempt++) {
      if (await pidNamespaceRun(20_000 << (2 * attempt))) return;
      assert(attempt < 3, "the first run always ended before the mount was paused");
    }
  },
});

/**
 * The PID-namespace test with SLOWFS_DELAY_US `delayUs`: false when the
 * first run was not held in the paused mount (its walk ended first).
 */
async function pidNamespaceRun(delayUs: number): Promise<boolean> {
  await using tmp = await tempDir();
  const src = `${tmp.path}/src`, other = `${tmp.path}/other`;
  await Deno.mkdir(src);
  await Deno.mkdir(other);
  for (let i = 0; i < 40; i++) await Deno.writeTextFile(`${src}/f${i}`, "x");
  await Deno.writeTextFile(`${other}/g`, "y");
  await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: String(delayUs) });
  const out = `${tmp.path}/shared.csv`, errs = `${tmp.path}/errs.csv`;
  // the first run: its temporaries made, its walk then held in the paused mount
  const first = spawnCli(["--threads", "1", "-o", out, "--errors", errs, fs.path]);
  const firstOut = first.output();
  const temps = () =>
    names(tmp.path).filter((n) =>
      n.startsWith("shared.csv.partial-") || n.startsWith(".errs.csv.partial-")
    );
  await waitFor(() => temps().length === 2, {
    what: "the first run's two temporaries",
    timeoutMs: 60_000,
    detail: () => names(tmp.path).join(", "),
  });
  await fs.pause();
  let held = false;
  try {
    // held: a thread of it waits for the paused server (or it ended first)
    await waitFor(() => (held = waitingOnFuse(first.pid)) || temps().length < 2, {
      what: "the first run to wait in the paused mount or to end",
      timeoutMs: 60_000,
    });
    if (held) {
      const before = temps();
      assertEquals(before.length, 2, "the first run's temporaries, held");
      // the second: its own PID namespace, where the first's PID is no process
      const second = await run("unshare", [
        "-p",
        "-f",
        "--mount-proc",
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "-o",
        out,
        "--errors",
        errs,
        other,
      ], { cwd: REPO, env: { NO_COLOR: "1" }, timeoutMs: 120_000 });
      assertEquals(second.code, 0, second.stderr);
      assert(!second.stderr.includes("removed"), second.stderr);
      assertEquals(temps(), before);
    }
  } finally {
    fs.resume();
  }
  const r = await firstOut;
  assertEquals(r.code, 0, dec.decode(r.stderr));
  if (!held) return false;
  // the first run's rows in place: its 41 entries, the mount's
  const rows = (await Deno.readTextFile(out)).split("\n").filter(Boolean);
  assertEquals(rows.length, 41);
  assertEquals(temps(), []);
  return true;
}

/** Whether a thread of process `pid` waits for an answer of a FUSE server (false: it ended). */
function waitingOnFuse(pid: number): boolean {
  let tasks: Deno.DirEntry[];
  try {
    tasks = Array.from(Deno.readDirSync(`/proc/${pid}/task`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false; // the process ended
    throw e;
  }
  return tasks.some((t) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/wchan`).trim() ===
        "request_wait_answer";
    } catch {
      return false; // the thread ended meanwhile
    }
  });
}

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "CLI: a ROOT on a hung mount: a signal is heard while ROOT is looked at (stopping..., a second quits; or, once it answers, nothing done)",
  async fn(t) {
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(`${src}/a`, { recursive: true });
    await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "0" });
    const out = `${tmp.path}/hung.csv`;
    // each command that takes a ROOT looks at it the same way
    const runs: [string, string[], Deno.Signal, number, boolean][] = [
      ["report", ["-o", out, fs.path], "SIGINT", 130, true],
      ["report", ["-o", out, fs.path], "SIGTERM", 143, false],
      ["repair", ["repair", fs.path], "SIGTERM", 143, true],
      [
        "plan",
        ["plan", "--shards", "2", "-o", `${tmp.path}/plan.json`, fs.path],
        "SIGINT",
        130,
        false,
      ],
      ["chown", ["--chown_from", "1", "--chown_to", "2:2", fs.path], "SIGHUP", 129, true],
    ];
    for (const [what, args, signal, code, twice] of runs) {
      await t.step(`${what}: ${signal}${twice ? " twice" : ", then ROOT answers"}`, async () => {
        await fs.pause();
        const p = spawnCli(args);
        const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
        try {
          let stderr = "";
          const reader = p.stderr.getReader();
          while (!waitingOnFuse(p.pid)) await sleep(10);
          p.kill(signal);
          // told what it waits on (2 s after it took the signal): the signal
          // is taken, before ROOT may answer (resumed at once, a loaded
          // machine's run could have walked ROOT before it saw the signal)
          while (!stderr.includes(`stopping (${signal})`)) {
            const c = await reader.read();
            if (c.done) break;
            stderr += dec.decode(c.value);
          }
          assertStringIncludes(
            stderr,
            `pwalk: stopping (${signal}): ROOT ${fs.path} does not answer`,
          );
          // then a second signal quits without it, or ROOT answers: the run
          // ends, nothing done
          if (twice) p.kill(signal);
          else fs.resume();
          for (let c = await reader.read(); !c.done; c = await reader.read()) {
            stderr += dec.decode(c.value);
          }
          await p.stdout.cancel();
          const r = await p.status;
          assert(r.signal !== "SIGKILL", `killed by the hang guard: ${stderr}`);
          assertEquals([r.code, r.signal], [code, signal], stderr);
          assertStringIncludes(
            stderr,
            twice
              ? `pwalk: ${signal} again: quit without waiting for ROOT ${fs.path} ${HELD}; ` +
                "nothing was done"
              : `pwalk: interrupted by ${signal}; nothing was done`,
          );
          assert(
            !names(tmp.path).some((n) => n.startsWith("hung.csv") || n.startsWith("plan.json")),
          );
        } finally {
          clearTimeout(guard);
          fs.resume();
        }
      });
    }
  },
});

/**
 * A project folder of 900 files with long names, repaired with --apply into
 * the journal `tmp`/j: their undo lines (about 240 KB) outgrow a pipe
 * several times, so undo blocks writing them. `grouped()`: the files still
 * in the project's group (5000).
 */
async function repairedForUndo(tmp: string) {
  const root = `${tmp}/proj`;
  await Deno.mkdir(root);
  Deno.chownSync(root, 0, 5000);
  Deno.chmodSync(root, 0o2770);
  const n = 900; // (fewer than 1000)
  for (let i = 0; i < n; i++) {
    const f = `${root}/${"z".repeat(150)}_${i}`;
    Deno.writeTextFileSync(f, "x");
    Deno.chownSync(f, 1042, 1042);
    Deno.chmodSync(f, 0o600);
  }
  const journal = `${tmp}/j`;
  const env = { HOME: tmp };
  const r = await cli(["repair", "--apply", "--journal", journal, root], { env });
  assertEquals(r.code, 0, r.stderr);
  const grouped = () => names(root).filter((f) => Deno.lstatSync(`${root}/${f}`).gid === 5000);
  return { n, journal, env, grouped };
}

Deno.test("CLI: undo of a short journal, its lines to a slow reader: a SIGINT stops it between two entries, 130 (review)", async () => {
  await using tmp = await tempDir();
  const { n, journal, env, grouped } = await repairedForUndo(tmp.path);
  assertEquals(grouped().length, n);
  const p = spawnCli(["undo", "--apply", journal], { env });
  // (pipe_write, anon_pipe_write since Linux 6.14)
  await waitFor(() => threadWchans(p.pid).some((w) => w.endsWith("pipe_write")), {
    what: "undo blocked writing its lines",
  });
  p.kill("SIGINT");
  // the reader now takes a line at a time, slowly
  const err = new Response(p.stderr).text();
  const reader = p.stdout.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
    await sleep(100);
  }
  const [status, text] = await Promise.all([p.status, err]);
  assertEquals(status.code, 130, text);
  assertEquals(
    text,
    "pwalk undo: interrupted by SIGINT; the entries not reached yet were left as they are\n",
  );
  // stopped between two entries: some put back, not all
  const left = grouped().length;
  assert(left > 0 && left < n, `${left} of ${n} entries still in group 5000`);
});

Deno.test("CLI: undo --apply whose lines go to a pipe nobody reads (a terminal stopped with Ctrl-S): a SIGTERM still stops it, 143 (review)", async () => {
  await using tmp = await tempDir();
  const { n, journal, env, grouped } = await repairedForUndo(tmp.path);
  const p = spawnCli(["undo", "--apply", journal], { env });
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  try {
    await waitFor(() => threadWchans(p.pid).some((w) => w.endsWith("pipe_write")), {
      what: "undo blocked writing its lines",
    });
    p.kill("SIGTERM");
    // its stdout is never read
    const [status, text] = await Promise.all([p.status, new Response(p.stderr).text()]);
    assert(status.signal !== "SIGKILL", `killed by the hang guard: ${text}`);
    assertEquals(status.code, 143, text);
    assertEquals(
      text,
      "pwalk undo: interrupted by SIGTERM; the entries not reached yet were left as they are\n",
    );
    const left = grouped().length;
    assert(left > 0 && left < n, `${left} of ${n} entries still in group 5000`);
  } finally {
    clearTimeout(guard);
    await p.stdout.cancel().catch(() => {});
  }
});

Deno.test("CLI: plan -o a FIFO whose reader takes nothing: a SIGTERM stops it, 143, saying the plan there is incomplete (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/d`;
  for (let i = 0; i < 3000; i++) Deno.mkdirSync(`${root}/a${i}`, { recursive: true });
  const fifo = `${tmp.path}/plan.fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  // a reader that holds the FIFO open and reads nothing
  const reader = new Deno.Command("sh", { args: ["-c", `exec 3<"$0"; sleep 60`, fifo] }).spawn();
  const p = spawnCli(["plan", root, "--shards", "2000", "-o", fifo]);
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  try {
    await waitFor(() => threadWchans(p.pid).some((w) => w.endsWith("pipe_write")), {
      what: "plan blocked writing to the FIFO",
    });
    p.kill("SIGTERM");
    const [status, err] = await Promise.all([p.status, new Response(p.stderr).text()]);
    await p.stdout.cancel();
    assert(status.signal !== "SIGKILL", `killed by the hang guard: ${err}`);
    assertEquals(status.code, 143, err);
    assertEquals(
      err,
      `pwalk plan: interrupted by SIGTERM; the plan written to ${fifo} is incomplete\n`,
    );
  } finally {
    clearTimeout(guard);
    reader.kill("SIGKILL");
    await reader.status;
  }
});

Deno.test("CLI: summary, diff and plan printing to a reader that does not read: a signal stops them at once, 128+n (review)", async () => {
  await using tmp = await tempDir();
  // answers longer than a pipe holds: 400 entries with long names, 600 folders
  const big = `${tmp.path}/big`, empty = `${tmp.path}/empty`, dirs = `${tmp.path}/dirs`;
  for (const d of [big, empty, dirs]) await Deno.mkdir(d);
  for (let i = 0; i < 400; i++) Deno.writeTextFileSync(`${big}/${"x".repeat(150)}_${i}`, "");
  for (let i = 0; i < 600; i++) Deno.mkdirSync(`${dirs}/d${i}`);
  for (const [tree, csv] of [[big, "big.csv"], [empty, "empty.csv"]]) {
    const r = await cli(["--header", "-o", `${tmp.path}/${csv}`, tree]);
    assertEquals(r.code, 0, r.stderr);
  }
  const runs = [
    [
      ["summary", "--top", "1000", `${tmp.path}/big.csv`],
      "SIGTERM",
      143,
      "pwalk: interrupted by SIGTERM\n",
    ],
    [
      ["diff", "--top", "1000", `${tmp.path}/empty.csv`, `${tmp.path}/big.csv`],
      "SIGINT",
      130,
      "pwalk: interrupted by SIGINT\n",
    ],
    [
      ["plan", dirs, "--shards", "600"],
      "SIGTERM",
      143,
      "pwalk plan: interrupted by SIGTERM; the plan on stdout is incomplete\n",
    ],
  ] as const;
  for (const [args, sig, status, line] of runs) {
    const p = spawnCli([...args]);
    await waitFor(() => waitingOnPipe(p.pid), { what: `${args[0]} blocked on its stdout` });
    p.kill(sig);
    // (not heard: killed after 20 s, and the status says so)
    const unheard = setTimeout(() => p.kill("SIGKILL"), 20_000);
    const [r, err] = await Promise.all([p.status, new Response(p.stderr).text()]);
    clearTimeout(unheard);
    await p.stdout.cancel();
    assertEquals([r.code, err.replace(/^.*\r/gm, "")], [status, line], args[0]);
  }
});

/**
 * An LD_PRELOAD shim that holds the report's last steps for 1.5 s, saying
 * so by a file in $SHIM_DIR: `syncing` as the temporary output (a name
 * holding ".partial-") is flushed to the disk (fdatasync), or `renamed`
 * once it took the name `out.csv` (renameat).
 */
const SLOW_END_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void mark(const char *what) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", getenv("SHIM_DIR"), what);
  close(open(p, O_WRONLY | O_CREAT, 0644));
  usleep(1500000);
}
typedef int (*sync_fn)(int);
int fdatasync(int fd) {
  static sync_fn real;
  if (!real) real = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n > 0) {
    target[n] = 0;
    if (strstr(target, ".partial-")) mark("syncing");
  }
  return real(fd);
}
typedef int (*rename_fn)(int, const char *, int, const char *);
int renameat(int a, const char *from, int b, const char *to) {
  static rename_fn real;
  if (!real) real = (rename_fn)dlsym(RTLD_NEXT, "renameat");
  int r = real(a, from, b, to);
  if (r == 0 && strcmp(to, "out.csv") == 0) mark("renamed");
  return r;
}
`;

testNeeding([CC], {
  name:
    "report -o FILE: a signal while the output is flushed to the disk: not put in place, 128+n; one after its rename: let end, said (review)",
  async fn() {
    await using tmp = await tempDir();
    const so = `${tmp.path}/shim.so`;
    Deno.writeTextFileSync(`${tmp.path}/shim.c`, SLOW_END_C);
    const cc = await run("cc", ["-shared", "-fPIC", "-O2", "-o", so, `${tmp.path}/shim.c`, "-ldl"]);
    assertEquals(cc.code, 0, cc.stderr);
    const root = `${tmp.path}/tree`;
    Deno.mkdirSync(root);
    for (let i = 0; i < 5; i++) Deno.writeTextFileSync(`${root}/f${i}`, "x".repeat(i));
    for (const [mark, code] of [["syncing", 130], ["renamed", 0]] as const) {
      const dir = `${tmp.path}/${mark}`;
      Deno.mkdirSync(dir);
      const out = `${dir}/out.csv`;
      const p = spawnCli(["-o", out, root], { env: { LD_PRELOAD: so, SHIM_DIR: dir } });
      await waitFor(() => names(dir).includes(mark), { what: `the output ${mark}` });
      p.kill("SIGINT");
      const r = await p.output();
      const stderr = dec.decode(r.stderr);
      assertEquals(r.code, code, stderr);
      if (mark === "syncing") {
        // as a moment earlier: nothing left, and said so
        assertMatch(stderr, /^pwalk: interrupted by SIGINT; no output file was left/m);
        assertEquals(names(dir), ["syncing"]);
      } else {
        // whole and in place: the run's status, and the signal said
        assertStringIncludes(stderr, "pwalk: SIGINT came as the run ended; it was let end\n");
        assertMatch(stderr, /-> .*out\.csv/);
        const rows = Deno.readTextFileSync(out).trimEnd().split("\n").length;
        assertEquals(rows, 1 + names(root).length); // the root's row and each file's
      }
    }
  },
});
