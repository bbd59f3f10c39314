/**
 * The progress line's measure of text (lib/width.ts, which the answers'
 * tables use too) against the running system's own: every code point that
 * glibc's wcwidth (through Python's ctypes) shows two columns wide counts
 * two in columns(), none it shows one column wide counts more, and middle()
 * never gives more columns than asked, on names of such characters, so that
 * the redrawn line never wraps in a terminal; and formatProgress() fits any
 * width, never an empty line where the clock fits.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  duration,
  formatProgress,
  formatStage,
  middle,
  ProgressLine,
  StatusLine,
  terminalColumns,
} from "../lib/cli/progress.ts";
import type { Progress } from "../lib/job.ts";
import { columns } from "../lib/width.ts";
import { PYTHON3, SCRIPT, testNeeding } from "./helpers/system.ts";
import { CLI, run } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";

const WCWIDTH = `
import ctypes, json, locale
locale.setlocale(locale.LC_ALL, "C.UTF-8")
libc = ctypes.CDLL("libc.so.6")
libc.wcwidth.argtypes = [ctypes.c_wchar]
wide, narrow = [], []
for c in range(0x1100, 0x110000):
    if 0xd800 <= c <= 0xdfff: continue
    w = libc.wcwidth(chr(c))
    if w == 2: wide.append(c)
    elif w == 1: narrow.append(c)
print(json.dumps({"wide": wide, "narrow": narrow}))
`;

testNeeding([PYTHON3], {
  name: "progress line: columns() counts wide what wcwidth shows wide, and middle() fits",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const ref: { wide: number[]; narrow: number[] } = JSON.parse(await python(WCWIDTH));
    assert(ref.wide.length > 100_000, `${ref.wide.length} wide code points`);
    const under = ref.wide.filter((c) => columns(String.fromCodePoint(c)) !== 2);
    assertEquals(
      under.slice(0, 20).map((c) => c.toString(16)),
      [],
      `${under.length} counted narrow`,
    );
    // CJK compatibility forms, vertical forms, Tangut and Kana supplement, each once
    for (const c of [0xfe50, 0xfe10, 0x2329, 0xa960, 0x17000, 0x1b000]) {
      assertEquals(columns(String.fromCodePoint(c)), 2, c.toString(16));
    }
    // and none wcwidth shows one column wide counts two (a table's row would end early)
    const over = ref.narrow.filter((c) => columns(String.fromCodePoint(c)) !== 1);
    assertEquals(over.slice(0, 20).map((c) => c.toString(16)), [], `${over.length} counted wide`);
    // a long name of small forms fits any width asked
    const name = `/tmp/small_${"﹐﹑﹒﹔﹕﹖﹗﹘﹙﹚".repeat(8)}/x`;
    for (const w of [10, 37, 40, 61, 79]) {
      const m = middle(name, w);
      assert(columns(m) <= w, `${columns(m)} > ${w}: ${m}`);
    }
  },
});

Deno.test("durations of the closing lines (report, repair, undo, plan): seconds, then h:mm:ss", () => {
  assertEquals(duration(1234), "1.23 s");
  assertEquals(duration(59_994), "59.99 s");
  // what rounds to a whole minute is one: never "60.00 s"
  assertEquals(duration(59_995), "0:01:00");
  assertEquals(duration(59_999), "0:01:00");
  // 10,800 s, as a three-hour repair's line once said: now a clock, as report's
  for (const s of [60, 3723, 10_800, 36_000 + 59]) {
    const want = `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${
      String(s % 60).padStart(2, "0")
    }`;
    assertEquals(duration(s * 1000), want, `${s} s`);
  }
});

Deno.test("progress line: a pane of any width gets a line that fits, with the clock when narrow", () => {
  const base = {
    folders: 45_678,
    bytes: 2 ** 40,
    allocatedBytes: 2 ** 40,
    current: "/data/projects/genome/run1",
    errors: 3,
    rate: 14_874,
    outputBytes: 0,
    outputWriting: 0,
    changes: 0,
  };
  for (const [elapsedMs, entries] of [[83_000, 1_234_567], [3_723_000, 5], [4_000, 0]]) {
    const p = { ...base, elapsedMs, entries };
    // the clock as date(1) would write the elapsed time, without the hour's leading zero
    const clock = new Date(elapsedMs).toISOString().slice(11, 19).replace(/^0/, "");
    for (let w = 1; w <= 120; w++) {
      const line = formatProgress(p, w);
      assert(columns(line) <= w, `${w}: ${line}`);
      if (w >= clock.length) {
        assert(
          line.startsWith(clock) || line.startsWith(`${entries.toLocaleString("en-US")} entr`),
          `${w} columns: ${JSON.stringify(line)}`,
        );
      }
      // under an hour, m:ss or mm:ss fits in 5
      if (w >= 5 && w < clock.length && elapsedMs < 3_600_000) {
        assert(line !== "" && clock.endsWith(line), `${w} columns: ${JSON.stringify(line)}`);
      }
    }
  }
});

Deno.test("progress line: a folder shorter than the narrowest shown takes only its own width, leaving room for the next field", () => {
  const p = {
    folders: 45_678,
    bytes: 2 ** 40,
    allocatedBytes: 2 ** 40,
    errors: 3,
    rate: 14_874,
    outputBytes: 0,
    outputWriting: 0,
    changes: 0,
    elapsedMs: 83_000,
    entries: 1_234_567,
  };
  for (const current of ["/data", "/d", "/data/x1"]) {
    // the fields by rank, as the doc lists them, down to the folders
    const want =
      `0:01:23  1,234,567 entries  14,874/s  45,678 folders  1.0 TiB  3 errors  ${current}`;
    // just wide enough for all of them: the folders are kept (79 columns for an 80-column pane)
    assertEquals(formatProgress({ ...p, current }, columns(want)), want);
  }
});

Deno.test("status line of summary, diff, convert: fits any width, the clock kept longest", () => {
  const name = "/data/projects/genome/scan-2026-01-31.csv.zst";
  const stage = { step: "reading", name };
  assertEquals(
    formatStage("pwalk summary", stage, 83_000),
    `pwalk summary: reading ${name}  0:01:23`,
  );
  for (let w = 1; w <= 120; w++) {
    const l = formatStage("pwalk summary", stage, 83_000, w);
    assert(columns(l) <= w, `${w}: ${l}`);
    // the clock is the last to go (its hour first)
    if (w >= 5) assert(l.endsWith(w >= 7 ? "0:01:23" : "01:23"), `${w}: ${l}`);
    // the name is shown in the middle-shortened form, or not at all
    const shown = l.match(/^pwalk summary: reading (.+) {2}0:01:23$/)?.[1];
    if (shown !== undefined && shown !== name) {
      const [head, tail] = shown.split("…");
      assert(name.startsWith(head) && name.endsWith(tail) && columns(shown) >= 16, shown);
    }
  }
  // a step without a name, and a name that would break the line
  assertEquals(
    formatStage("pwalk diff", { step: "comparing" }, 5_000),
    "pwalk diff: comparing  0:00:05",
  );
  assertEquals(
    formatStage("pwalk convert", { step: "writing", name: "a\nb" }, 0),
    "pwalk convert: writing a?b  0:00:00",
  );
  // too narrow for the command: the step and the clock
  assertEquals(
    formatStage("pwalk summary", { step: "users, groups, sizes, ages" }, 70_000, 39),
    "users, groups, sizes, ages  0:01:10",
  );
});

Deno.test("status line: drawn in place once started, cleared, and never again after stop()", async () => {
  // what the line writes to stderr, caught
  const written: string[] = [];
  const real = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (b: Uint8Array) => {
    written.push(new TextDecoder().decode(b));
    return b.length;
  };
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const off = new StatusLine("pwalk summary", { tty: false, afterMs: 0, everyMs: 5 });
    off.set({ step: "reading", name: "/data/scan.csv" });
    await tick(30);
    off.stop();
    assertEquals(written, [], "not a terminal: nothing");
    const on = new StatusLine("pwalk summary", { tty: true, afterMs: 0, everyMs: 5 });
    await tick(30);
    assertEquals(written, [], "no stage yet: nothing drawn");
    on.set({ step: "reading", name: "/data/scan.csv" });
    await tick(30);
    assert(written.length >= 2, `redrawn: ${JSON.stringify(written)}`);
    for (const w of written) {
      const text = w.slice(1, -3); // between "\r" and "\x1b[K"
      assertEquals(w, `\r${text}\x1b[K`);
      assertMatch(text, /^pwalk summary: reading \/data\/scan\.csv {2}\d+:\d\d:\d\d$/);
    }
    on.clear();
    assertEquals(written.at(-1), "\r\x1b[K");
    on.stop();
    const n = written.length;
    on.stop(); // twice: nothing more, the line already clear
    await tick(30);
    assertEquals(written.length, n, "drawn after stop()");
    // stopped before its delay: never drawn
    const later = new StatusLine("pwalk summary", { tty: true, afterMs: 10, everyMs: 5 });
    later.set({ step: "comparing" });
    later.stop();
    await tick(30);
    assertEquals(written.length, n);
  } finally {
    Deno.stderr.writeSync = real;
  }
});

Deno.test("progress line: a terminal that tells 0 columns (script with no terminal above) takes $COLUMNS when valid, else 80 (audit)", () => {
  const realSize = Deno.consoleSize;
  const before = Deno.env.get("COLUMNS");
  try {
    Deno.consoleSize = () => ({ columns: 0, rows: 0 });
    for (
      const [env, want] of [
        ["40", 40],
        ["137", 137],
        [" 50 ", 50],
        ["0", 80],
        ["x", 80],
        ["-3", 80],
        ["", 80],
        [undefined, 80],
      ] as const
    ) {
      if (env === undefined) Deno.env.delete("COLUMNS");
      else Deno.env.set("COLUMNS", env);
      assertEquals(terminalColumns(), want, `COLUMNS=${env}`);
    }
    // the redrawn line fits in them (one column short)
    Deno.env.set("COLUMNS", "40");
    const written: string[] = [];
    const realWrite = Deno.stderr.writeSync;
    Deno.stderr.writeSync = (b: Uint8Array) => {
      written.push(new TextDecoder().decode(b));
      return b.length;
    };
    try {
      new ProgressLine(true).update({
        entries: 123456789,
        folders: 4567,
        bytes: 98765432101,
        allocatedBytes: 98765432101,
        current: "/data/some/folder/with/a/long/name",
        errors: 12,
        elapsedMs: 3_723_000,
        rate: 45678,
        outputBytes: 123456789,
        outputWriting: 0,
        changes: 0,
      } as Progress);
    } finally {
      Deno.stderr.writeSync = realWrite;
    }
    assertEquals(written.length, 1);
    const w = written[0];
    assert(w.startsWith("\r") && w.endsWith("\x1b[K"), JSON.stringify(w));
    const text = w.slice(1, -3);
    assert(text.length > 0 && columns(text) <= 39, JSON.stringify(text));
    // a size the terminal tells wins over $COLUMNS
    Deno.consoleSize = () => ({ columns: 120, rows: 30 });
    Deno.env.set("COLUMNS", "40");
    assertEquals(terminalColumns(), 120);
    // none known at all (not a terminal): $COLUMNS too
    Deno.consoleSize = () => {
      throw new Deno.errors.NotConnected("not a terminal");
    };
    assertEquals(terminalColumns(), 40);
  } finally {
    Deno.consoleSize = realSize;
    if (before === undefined) Deno.env.delete("COLUMNS");
    else Deno.env.set("COLUMNS", before);
  }
});

testNeeding([SCRIPT], {
  name:
    "--progress with stdout on the same terminal: plain lines, never a line redrawn into the change lines or the CSV; stdout elsewhere: redrawn (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-progress-");
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(root);
    await Deno.chmod(root, 0o2770);
    await Deno.chown(root, 0, 100);
    for (let i = 0; i < 300; i++) {
      const f = `${root}/f${i}`;
      await Deno.writeTextFile(f, "x");
      await Deno.chmod(f, 0o600);
      await Deno.chown(f, 1001, 1001);
    }
    const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const term = async (cmd: string) => {
      const r = await run("script", ["-q", "-e", "-c", `stty cols 100; ${cmd}`, "/dev/null"]);
      assertEquals(r.code, 0, r.stderr);
      return r.text;
    };
    const pwalk = `${q(Deno.execPath())} run -A ${q(CLI)}`;
    const REDRAW = "\x1b[K";
    // repair's change lines and a report's CSV on the terminal stderr is on
    const changes = await term(`${pwalk} repair --progress --threads 1 ${q(root)}`);
    assert(!changes.includes(REDRAW), JSON.stringify(changes.slice(0, 400)));
    const lines = changes.split(/\r?\n/).filter((l) => l.includes(`${root}/f`));
    // every change line whole, each file's there
    for (const l of lines) assert(l.startsWith(`would change: ${root}/f`), JSON.stringify(l));
    assertEquals(new Set(lines.map((l) => l.split(": ")[1])).size, 300, changes.slice(0, 400));
    const csv = await term(`${pwalk} --progress --threads 1 ${q(root)}`);
    assert(!csv.includes(REDRAW), JSON.stringify(csv.slice(0, 400)));
    assertEquals(csv.split(/\r?\n/).filter((l) => l.includes(`"${root}/f`)).length, 300);
    // stdout to a file: the line is redrawn on the terminal, as before
    const apart = await term(
      `${pwalk} --progress --threads 1 -o ${q(`${tmp.path}/o.csv`)} ${q(root)}`,
    );
    assert(apart.includes(REDRAW), JSON.stringify(apart));
  },
});

testNeeding([PYTHON3], {
  name:
    "progress line: a line separator, a bidi control or an invisible character in a name shows as '?', as Python's unicodedata classes it",
  async fn() {
    const names = [
      "a\u2028b",
      "a\u2029b",
      "a\u202etxt.exe",
      "a\u200bb",
      "a\u200db",
      "\ufeffab",
      "a\u2060b",
      "a\u00adb",
      "a\u{e0041}b",
      "a\nb\u009b",
      "é€日本",
    ];
    // the reference: Unicode's category from Python, not the library's regex
    const want = JSON.parse(
      await python(
        `import json, sys, unicodedata
def shown(s):
    return "".join("?" if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\\u2028\\u2029"
                   or unicodedata.category(c) == "Cf" else c for c in s)
print(json.dumps([shown(s) for s in json.loads(sys.argv[1])]))`,
        JSON.stringify(names),
      ),
    );
    assertEquals(names.map((n) => middle(n, Infinity)), want);
  },
});

Deno.test("progress line: a pane too narrow for the clock and the count shows the clock, not the entries alone", () => {
  const p = {
    folders: 1,
    bytes: 0,
    allocatedBytes: 0,
    errors: 0,
    rate: 170,
    outputBytes: 0,
    outputWriting: 0,
    changes: 0,
    elapsedMs: 3_000,
    entries: 512,
    current: "/data",
  };
  // 11 columns (a 12-column pane): "0:00:03  512" is 12, "512 entries" would fit
  assertEquals(formatProgress(p, 11), "0:00:03");
  assertEquals(formatProgress(p, 12), "0:00:03  512");
  assertEquals(formatProgress(p, 5), "00:03");
});

testNeeding([SCRIPT], {
  name:
    "TERM=dumb on a terminal: the progress and status lines are drawn with no escape sequence (no ESC[K), blanks over the previous line, and still tell the counts",
  async fn() {
    await using tmp = await tempDir("pwalk-progress-");
    const root = `${tmp.path}/tree`;
    for (let d = 0; d < 3; d++) {
      await Deno.mkdir(`${root}/d${d}`, { recursive: true });
      for (let f = 0; f < 4; f++) await Deno.writeTextFile(`${root}/d${d}/f${f}`, "x");
    }
    // the reference: the entries there, the root included, as Deno lists them
    let entries = 1;
    const list = async (dir: string) => {
      for await (const e of Deno.readDir(dir)) {
        entries++;
        if (e.isDirectory) await list(`${dir}/${e.name}`);
      }
    };
    await list(root);
    const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const pwalk = `${q(Deno.execPath())} run -A ${q(CLI)}`;
    const term = async (env: string, cmd: string) => {
      const r = await run("script", [
        "-q",
        "-e",
        "-c",
        `stty cols 100; ${env} ${cmd}`,
        "/dev/null",
      ]);
      assertEquals(r.code, 0, r.stderr);
      return r.text;
    };
    const out = q(`${tmp.path}/o.csv`);
    const report = `${pwalk} --progress --threads 1 -o ${out} ${q(root)}`;
    const summary = `${pwalk} summary ${out} >/dev/null`;
    // the premise: a terminal that is not dumb gets ESC[K
    const xterm = await term("TERM=xterm", report);
    assert(xterm.includes("\x1b[K"), JSON.stringify(xterm));
    const drawn = await term("TERM=dumb", report);
    assert(!drawn.includes("\x1b"), JSON.stringify(drawn));
    // the progress line was drawn in place ("\r" first): its last count is
    // every entry; what follows it is blanks, then the summary line
    const counts = [...drawn.matchAll(/\r\d+:\d\d:\d\d {2}([\d,]+) entries {2}/g)];
    assert(counts.length > 0, JSON.stringify(drawn));
    assertEquals(Number(counts.at(-1)![1].replaceAll(",", "")), entries, JSON.stringify(drawn));
    assertMatch(drawn, /\r +\rpwalk: [\d,]+ entries, /);
    // summary's status line, drawn at once (no 2 s wait)
    const stages = await term("TERM=dumb PWALK_PROGRESS_AFTER_MS=0", summary);
    assert(!stages.includes("\x1b"), JSON.stringify(stages));
    assert(stages.includes("\rpwalk summary: reading "), JSON.stringify(stages));
    const premise = await term("TERM=xterm PWALK_PROGRESS_AFTER_MS=0", summary);
    assert(premise.includes("\x1b[K"), JSON.stringify(premise));
  },
});
