/**
 * The status line of summary, diff and convert, and of plan's listing
 * (lib/cli/progress.ts's StatusLine), seen as a terminal sees it: each command runs under a
 * pseudo-terminal of a given width (python3's pty module, the window size
 * set with TIOCSWINSZ as `stty cols` does) with PWALK_PROGRESS_AFTER_MS=0,
 * and every byte it wrote to the terminal is checked: the line is drawn
 * (`\r...\x1b[K`) with the command, the stage and an h:mm:ss clock, fits
 * the width less one column, and is cleared (`\r\x1b[K`) right before the
 * answer, the error message, the "interrupted" line, or as the last bytes.
 * The reference for what follows the clear is the same command run with
 * stdout and stderr piped, where nothing is added to stderr.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { cli, REPO, runOk } from "./helpers/run.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, PYTHON3, testNeeding } from "./helpers/system.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

/**
 * python3 -c DRIVER COLS MARK CMD...: run CMD under a new pseudo-terminal
 * COLS wide (stdin, stdout and stderr on it); when MARK (if not empty)
 * first appears in what it wrote, send it SIGINT; after 100 s, SIGTERM, then
 * SIGKILL (a hang guard, never a timing check: no child is left behind).
 * Prints JSON:
 * what it wrote (base64) and how it ended.
 */
const DRIVER = `
import base64, fcntl, json, os, pty, select, signal, struct, sys, termios, time
cols, mark, argv = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.execvp(argv[0], argv)
out, sent = b"", False
# a hang guard: SIGTERM after 100 s (pwalk removes its spill folder), SIGKILL
# 10 s later; the child never outlives the test (which then fails)
guard = [(100, signal.SIGTERM), (10, signal.SIGKILL)]
deadline = time.monotonic() + guard[0][0]
while True:
    if not select.select([fd], [], [], max(0, deadline - time.monotonic()))[0]:
        os.kill(pid, guard.pop(0)[1])
        deadline = time.monotonic() + guard[0][0] if guard else float("inf")
        continue
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
    if mark and not sent and mark in out:
        os.kill(pid, signal.SIGINT)
        sent = True
_, st = os.waitpid(pid, 0)
print(json.dumps({
    "out": base64.b64encode(out).decode(),
    "code": os.WEXITSTATUS(st) if os.WIFEXITED(st) else None,
    "signal": os.WTERMSIG(st) if os.WIFSIGNALED(st) else None,
}))
`;

/** What a command wrote to its terminal, and how it ended. */
interface OnTerminal {
  /** Every byte, decoded (the terminal's own "\r\n" for a newline included). */
  out: string;
  code: number | null;
  signal: number | null;
}

const ENV = { PWALK_PROGRESS_AFTER_MS: "0", NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };

/** `pwalk ARGS` under a terminal `cols` wide; stdout into `stdoutTo` when given. */
async function onTerminal(
  cols: number,
  args: string[],
  o: {
    stdoutTo?: string;
    interruptAt?: string;
    env?: Record<string, string>;
    /** DuckDB's spill folder goes here (the test's folder: removed with it). */
    tmp?: string;
  } = {},
): Promise<OnTerminal> {
  const deno = [Deno.execPath(), "run", "-A", `${REPO}/cli.ts`, ...args];
  const cmd = o.stdoutTo === undefined
    ? deno
    : ["sh", "-c", 'f=$1; shift; exec "$@" >"$f"', "sh", o.stdoutTo, ...deno];
  const r = await runOk("python3", ["-c", DRIVER, String(cols), o.interruptAt ?? "", ...cmd], {
    env: { ...ENV, ...o.tmp ? { TMPDIR: o.tmp } : {}, ...o.env },
    cwd: REPO,
    timeoutMs: 120_000,
  });
  const j = JSON.parse(r.text);
  const bytes = Uint8Array.from(atob(j.out), (c) => c.charCodeAt(0));
  // (Deno's own clear of its loading line, when DuckDB's npm module is
  // imported with stderr on a terminal, is Deno's, not pwalk's: left out)
  const out = new TextDecoder().decode(bytes).replaceAll("\x1b[0G\x1b[2K\x1b[J", "");
  return { out, code: j.code, signal: j.signal };
}

/** The status lines drawn (`\rTEXT\x1b[K` with some TEXT), and where the last one ends. */
function draws(out: string): { lines: string[]; end: number } {
  const lines: string[] = [];
  let end = -1;
  // deno-lint-ignore no-control-regex
  for (const m of out.matchAll(/\r([^\r\n\x1b]+)\x1b\[K/g)) {
    lines.push(m[1]);
    end = m.index + m[0].length;
  }
  return { lines, end };
}

/** "COMMAND: STAGE  H:MM:SS" split, or the stage without the command (narrow). */
const STATUS = /^(?:(pwalk (?:summary|diff|convert)): )?(.+?) {2}(\d+:\d\d:\d\d)$/;

/** A scan (the small example) under a long folder name in `dir`. */
async function longScan(dir: string, name = "scan.csv"): Promise<string> {
  const folder = `${dir}/projects-genome-sequencing-runs-2026-archive`;
  await Deno.mkdir(folder);
  const scan = `${folder}/${name}`;
  await Deno.copyFile(`${REPO}/tests/fixtures/example-small.csv`, scan);
  return scan;
}

testNeeding([PYTHON3], {
  name:
    "summary on a terminal: the status line shows the stages and a clock, cleared before the answer",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const scan = await longScan(tmp.path);
    const t = await onTerminal(200, ["summary", scan], { tmp: tmp.path });
    assertEquals([t.code, t.signal], [0, null], t.out);
    const { lines, end } = draws(t.out);
    assert(lines.length > 0, `no status line drawn: ${JSON.stringify(t.out.slice(0, 300))}`);
    const stages = new Set<string>();
    for (const l of lines) {
      const m = STATUS.exec(l);
      if (!m) throw new Error(`not a status line: ${JSON.stringify(l)}`);
      assertEquals(m[1], "pwalk summary", l);
      stages.add(m[2]);
    }
    assert(stages.has(`reading ${scan}`), [...stages].join(" | "));
    assert(stages.has("users, groups, sizes, ages"), [...stages].join(" | "));
    // what follows the last draw: the clear, then the answer as a pipe gets
    // it (same width), and nothing else
    const plain = await cli(["summary", scan], { env: { ...ENV, COLUMNS: "200" } });
    assertEquals([plain.code, plain.stderr], [0, ""]);
    assertEquals(t.out.slice(end), "\r\x1b[K" + plain.text.replaceAll("\n", "\r\n"));
  },
});

testNeeding([PYTHON3], {
  name: "a 40-column terminal: every status line fits in 39 columns and keeps its clock",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const scan = await longScan(tmp.path);
    const t = await onTerminal(40, ["summary", scan], {
      stdoutTo: `${tmp.path}/out.txt`,
      tmp: tmp.path,
    });
    assertEquals([t.code, t.signal], [0, null], t.out);
    const { lines, end } = draws(t.out);
    assert(lines.length > 0, JSON.stringify(t.out));
    for (const l of lines) {
      assert([...l].length <= 39, `${[...l].length} columns: ${l}`);
      assertMatch(l, STATUS);
    }
    // the stage that does not fit whole with the command is shown without it
    assert(lines.some((l) => l.startsWith("users, groups, sizes, ages  ")), lines.join(" | "));
    // the answer went to the file: the last bytes on the terminal are the clear
    assertEquals(t.out.slice(end), "\r\x1b[K");
    assert((await Deno.readTextFile(`${tmp.path}/out.txt`)).startsWith("pwalk summary of "));
  },
});

testNeeding([PYTHON3], {
  name:
    "diff on a terminal: reading OLD, reading NEW, comparing; a long name shortened in the middle",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const scan = await longScan(tmp.path);
    const t = await onTerminal(60, ["diff", scan, scan], {
      stdoutTo: `${tmp.path}/out.txt`,
      tmp: tmp.path,
    });
    assertEquals([t.code, t.signal], [0, null], t.out);
    const { lines, end } = draws(t.out);
    const stages: string[] = [];
    for (const l of lines) {
      assert([...l].length <= 59, `${[...l].length} columns: ${l}`);
      const m = STATUS.exec(l);
      if (!m) throw new Error(`not a status line: ${JSON.stringify(l)}`);
      assertEquals(m[1], "pwalk diff", l);
      stages.push(m[2]);
    }
    // the scan's name, too long for the line, kept at both ends
    const head = scan.slice(0, 5), tail = scan.slice(-5);
    for (const which of ["OLD", "NEW"]) {
      const s = stages.find((s) => s.startsWith(`reading ${which} `));
      if (!s) throw new Error(`no reading ${which}: ${stages.join(" | ")}`);
      const name = s.slice(`reading ${which} `.length);
      assert(name.startsWith(head) && name.endsWith(tail) && name.includes("…"), name);
    }
    assert(stages.includes("comparing"), stages.join(" | "));
    assert(
      stages.indexOf("comparing") > stages.findLastIndex((s) => s.startsWith("reading NEW")),
      stages.join(" | "),
    );
    assertEquals(t.out.slice(end), "\r\x1b[K");
  },
});

testNeeding([PYTHON3], {
  name: "convert on a terminal: reading, then writing OUT; cleared at the end",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const scan = await longScan(tmp.path);
    const out = `${tmp.path}/o.parquet`;
    const t = await onTerminal(200, ["convert", scan, out], { tmp: tmp.path });
    assertEquals([t.code, t.signal], [0, null], t.out);
    const { lines, end } = draws(t.out);
    const stages = lines.map((l) => STATUS.exec(l)?.slice(1, 3).join(": "));
    assert(stages.includes(`pwalk convert: reading ${scan}`), stages.join(" | "));
    assert(stages.includes(`pwalk convert: writing ${out}`), stages.join(" | "));
    assertEquals(t.out.slice(end), "\r\x1b[K");
    assert((await Deno.stat(out)).size > 0);
  },
});

testNeeding([PYTHON3], {
  name: "a scan DuckDB refuses: the status line is cleared before the error message",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const bad = `${tmp.path}/bad.csv`;
    await Deno.writeTextFile(bad, "1,2,3\n4,5,6\n");
    const plain = await cli(["summary", bad], { env: ENV });
    assert(plain.code !== 0 && plain.stderr.startsWith("pwalk: "), plain.stderr);
    const t = await onTerminal(200, ["summary", bad], { tmp: tmp.path });
    assertEquals(t.code, plain.code, t.out);
    const { lines, end } = draws(t.out);
    assert(lines.some((l) => l.startsWith(`pwalk summary: reading ${bad}  `)), t.out);
    assertEquals(t.out.slice(end), "\r\x1b[K" + plain.stderr.replaceAll("\n", "\r\n"));
  },
});

/**
 * An LD_PRELOAD shim: DuckDB's open of a path that holds "hang-here" never
 * returns (Deno's own opens, with O_CLOEXEC, go through: the checks of the
 * file before the work read it on the main thread, which must stay free).
 */
const HANG_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
static void hang(const char *p, int fl) {
  if (p && strstr(p, "hang-here") && !(fl & O_CLOEXEC)) for (;;) pause();
}
#define WRAP(fn, ...) \\
  typedef int (*fn##_t)(__VA_ARGS__); \\
  static fn##_t real_##fn;
WRAP(open, const char *, int, ...)
WRAP(open64, const char *, int, ...)
WRAP(openat, int, const char *, int, ...)
WRAP(openat64, int, const char *, int, ...)
#define MODE(fl) mode_t m = 0; if ((fl) & (O_CREAT | O_TMPFILE)) { va_list a; va_start(a, fl); m = va_arg(a, mode_t); va_end(a); }
int open(const char *p, int fl, ...) { MODE(fl) hang(p, fl);
  if (!real_open) real_open = (open_t)dlsym(RTLD_NEXT, "open"); return real_open(p, fl, m); }
int open64(const char *p, int fl, ...) { MODE(fl) hang(p, fl);
  if (!real_open64) real_open64 = (open64_t)dlsym(RTLD_NEXT, "open64"); return real_open64(p, fl, m); }
int openat(int d, const char *p, int fl, ...) { MODE(fl) hang(p, fl);
  if (!real_openat) real_openat = (openat_t)dlsym(RTLD_NEXT, "openat"); return real_openat(d, p, fl, m); }
int openat64(int d, const char *p, int fl, ...) { MODE(fl) hang(p, fl);
  if (!real_openat64) real_openat64 = (openat64_t)dlsym(RTLD_NEXT, "openat64"); return real_openat64(d, p, fl, m); }
`;

testNeeding([PYTHON3, CC], {
  name:
    "SIGINT while reading: the status line is cleared before the interrupted line, never drawn after",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const so = `${tmp.path}/hang.so`;
    await Deno.writeTextFile(`${tmp.path}/hang.c`, HANG_C);
    await runOk("cc", ["-shared", "-fPIC", "-O2", "-o", so, `${tmp.path}/hang.c`, "-ldl"]);
    // the scan's file cannot be opened: its reading goes on until the signal
    const scan = await longScan(tmp.path, "hang-here.csv");
    const t = await onTerminal(200, ["summary", scan], {
      interruptAt: `pwalk summary: reading ${scan}`,
      tmp: tmp.path,
      env: { LD_PRELOAD: so },
    });
    assertEquals([t.code, t.signal], [null, 2], t.out); // killed by SIGINT, as the shell expects
    const { lines, end } = draws(t.out);
    assert(lines.some((l) => l.startsWith(`pwalk summary: reading ${scan}  `)), t.out);
    assertEquals(t.out.slice(end), "\r\x1b[Kpwalk: interrupted by SIGINT\r\n");
  },
});

Deno.test("not a terminal: summary, diff and convert add nothing to stderr", async () => {
  await using tmp = await tempDir();
  const scan = await longScan(tmp.path);
  for (
    const args of [["summary", scan], ["diff", scan, scan], ["convert", scan, `${tmp.path}/o.csv`]]
  ) {
    const r = await cli(args, { env: ENV });
    assertEquals([r.code, r.stderr], [0, ""], args.join(" "));
  }
});

testNeeding([PYTHON3, CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "plan on a terminal: a status line of the folders listed while it lists, cleared before its line",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    // three levels of folders on a file system that answers each request
    // in 0.15 s: the listing takes seconds (at least three listings one after
    // another, each several requests), past the line's first redraw (0.5 s)
    const src = `${tmp.path}/src`;
    for (const a of ["a", "b"]) {
      for (const b of ["x", "y"]) await Deno.mkdir(`${src}/${a}/${b}/z`, { recursive: true });
    }
    await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "150000" });
    const out = `${tmp.path}/plan.json`;
    const t = await onTerminal(100, ["plan", fs.path, "--shards", "2", "-o", out]);
    assertEquals([t.code, t.signal], [0, null], t.out);
    const { lines, end } = draws(t.out);
    assert(lines.length > 0, `no status line drawn: ${JSON.stringify(t.out)}`);
    for (const l of lines) {
      assert([...l].length <= 99, l);
      assertMatch(
        l,
        /^pwalk plan: listing [\d,]+ folders?(?: \(frontier [1-9][\d,]*\))? {2}\d+:\d\d:\d\d$/,
      );
    }
    // drawn while the tree is listed, before any frontier is split off
    // (the listing was silent: most of the time on a big tree); no
    // frontier told before there is one
    assert(lines.some((l) => !l.includes("frontier")), JSON.stringify(lines));
    // cleared, then plan's own line, as a pipe gets it
    const rest = t.out.slice(end);
    assert(rest.startsWith("\r\x1b[Kpwalk plan: "), JSON.stringify(rest));
    assertEquals(rest.split("\r\n").filter((l) => l).length, 1, rest);
    assertEquals(JSON.parse(await Deno.readTextFile(out)).root.path, fs.path);
  },
});

Deno.test("SIGTERM while summary waits for a hung name service: getent is killed with it, not left running (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/r`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  // a getent that hangs (a dead LDAP server), telling its pid
  const bin = `${tmp.path}/bin`, pids = `${tmp.path}/pids`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(`${bin}/getent`, `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 300\n`);
  await Deno.chmod(`${bin}/getent`, 0o755);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO}/cli.ts`, "summary", scan],
    env: { PATH: `${bin}:${Deno.env.get("PATH")}`, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await waitFor(() => {
    try {
      return Deno.readTextFileSync(pids).trim() !== "";
    } catch {
      return false;
    }
  }, { what: "getent to start" });
  child.kill("SIGTERM");
  const r = await child.output();
  assertEquals(r.signal ?? r.code, r.signal ? "SIGTERM" : 143, new TextDecoder().decode(r.stderr));
  // every getent it started is gone (killed, then reaped by init)
  const alive = (pid: string) => {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return !/^\d+ \([^)]*\) Z/.test(stat);
    } catch {
      return false;
    }
  };
  const started = Deno.readTextFileSync(pids).trim().split("\n");
  await waitFor(() => started.every((p) => !alive(p)), {
    what: `getent ${started.join(", ")} to end`,
  }).catch((e) => {
    for (const p of started) {
      try {
        Deno.kill(Number(p), "SIGKILL");
      } catch { /* gone */ }
    }
    throw e;
  });
});
