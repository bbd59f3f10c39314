/**
 * The CLI's and the answers' thousands separators are written by hand (Intl
 * costs the CLI 6.6 MiB): they must print what Intl.NumberFormat("en-US")
 * prints, the independent reference here; wrap() must break lines where
 * Python's textwrap does.
 */
import { assert, assertEquals } from "@std/assert";
import { bytes, count, fit, outputWidth, wrap } from "../lib/answers/text.ts";
import { shortened } from "../lib/answers/html.ts";
import { formatBytes } from "../lib/cli/progress.ts";
import { groupDigits } from "../lib/digits.ts";
import { charColumns, columns } from "../lib/width.ts";
import { num } from "../lib/cli/common.ts";
import { python, rng } from "./helpers/tree.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { iecTenths } from "./helpers/units.ts";

Deno.test("count() and num() print what Intl.NumberFormat('en-US') prints", () => {
  const intl = new Intl.NumberFormat("en-US");
  const rnd = rng(11);
  const values = [0, 1, 12, 123, 999, 1000, 1001, 999999, 1000000, -1, -1000, -1234567, 0.5];
  values.push(2 ** 53, -(2 ** 53), 1.0005, 1234.5678, 0.0004, -0.0004, 1e20, 12.3);
  for (let i = 0; i < 2000; i++) {
    const scale = 10 ** Math.floor(rnd() * 16);
    const v = Math.floor(rnd() * scale) * (rnd() < 0.2 ? -1 : 1);
    values.push(v, v / 100, v / 7, Math.floor(rnd() * 1e7) / 10000);
  }
  for (const v of values) {
    assertEquals(count(v), intl.format(v), `${v}`);
    assertEquals(num(v), intl.format(v), `${v}`);
    assertEquals(groupDigits(v), intl.format(v), `${v}`);
  }
});

Deno.test("bytes() and formatBytes(): the unit is the one whose rounded figure is under 1024", () => {
  const values = [0, 1, 1023, 1024, 1075, 1536, 1048575, 1048576, 1073741823, 2 ** 40 - 1];
  values.push(2 ** 50 - 1, 2 ** 53 - 1, -1048575, -1023, 1024 * 1023.95 - 1, 1024 * 1023.95);
  for (let i = 1; i <= 5; i++) {
    const d = 1024 ** i;
    for (const k of [1, 51, 52, 53, 102, 103, 104, 105]) values.push(1024 * d - k, 1024 * d + k);
  }
  const rnd = rng(12);
  for (let i = 0; i < 5000; i++) values.push(Math.floor(rnd() * 2 ** Math.floor(rnd() * 53)));
  for (const v of values.map(Math.round)) {
    assertEquals(bytes(v), iecTenths(v), `${v}`);
    if (v >= 0) assertEquals(formatBytes(v), iecTenths(v), `${v}`);
  }
  assertEquals(bytes(1048575), "1.0 MiB");
  assertEquals(formatBytes(1073741823), "1.0 GiB");
});

testNeeding([PYTHON3], {
  name:
    "wrap() breaks lines between words as Python's textwrap does; a word wider than a line is cut keeping its ends",
  async fn() {
    const rnd = rng(5);
    const cases: [string, number][] = [];
    for (let i = 0; i < 300; i++) {
      const words = Array.from(
        { length: 1 + Math.floor(rnd() * 14) },
        () => "abcdefghij,.()+-:;0123456789".slice(0, 1 + Math.floor(rnd() * 12)),
      );
      cases.push([words.join(" "), 14 + Math.floor(rnd() * 50)]);
    }
    const want = JSON.parse(
      await python(
        `import json, sys, textwrap
print(json.dumps([textwrap.wrap(s, w, subsequent_indent="  ", break_long_words=False,
                                break_on_hyphens=False) for s, w in json.loads(sys.argv[1])]))`,
        JSON.stringify(cases),
      ),
    ) as string[][];
    for (const [i, [s, w]] of cases.entries()) {
      assertEquals(wrap(s, w).split("\n"), want[i], `${w}: ${s}`);
    }
    // a path wider than its line: cut in the middle, the other words whole
    const path = "/data/projects/a_very_long_folder_name/and_another_one/file.h5";
    const lines = wrap(`pwalk diff: ${path} -> /data`, 30).split("\n");
    assertEquals(lines[0], "pwalk diff:");
    assert(lines[1].startsWith("  /data/proj") && lines[1].endsWith("file.h5"), lines[1]);
    assertEquals([lines[1].length, lines[2]], [30, "  -> /data"]);
  },
});

Deno.test("wrap(): a name cut to its line is escaped once, as on a line wide enough for it (a backslash \\\\, a newline \\x0a)", () => {
  // before: the word cut was made visible twice, printed a\\\\b\\x0ac
  const name = `/d/a\\b\nc/${"x".repeat(60)}`;
  // the reference, by hand: the backslash doubled, the newline \x0a
  const escaped = `/d/a\\\\b\\x0ac/${"x".repeat(60)}:`;
  assertEquals(wrap(`summary of ${name}: 1 scan`, 200), `summary of ${escaped} 1 scan`);
  const lines = wrap(`summary of ${name}: 1 scan`, 40).split("\n");
  assertEquals([lines[0], lines[2]], ["summary of", "  1 scan"]);
  assert(lines[1].startsWith("  "), lines[1]);
  const [head, tail] = lines[1].slice(2).split("\u2026");
  assert(head.length >= 14 && escaped.startsWith(head), lines[1]);
  assert(tail.length > 0 && escaped.endsWith(tail), lines[1]);
});

Deno.test("fit() and the HTML charts' shortened(): a cut never falls inside an escape (a lone backslash: a\\… read as a backslash or a newline cut)", () => {
  // the reference: the escapes read back by hand, each half of a cut name
  // then the start and the end of the name
  const unescape = (t: string): string =>
    t.replace(/\\(\\|xc2\\x([0-9a-f]{2})|x([0-9a-f]{2})|u\{([0-9a-f]+)\}|u([0-9a-f]{4})|)/g, (
      _m,
      all,
      c1,
      x,
      big,
      u,
    ) => {
      if (all === "") throw new Error(`a lone backslash: ${JSON.stringify(t)}`);
      if (all === "\\") return "\\";
      return String.fromCodePoint(parseInt(c1 ?? x ?? big ?? u, 16));
    });
  const rnd = rng(5);
  const pieces = ["a", "b", "\\", "\n", "\u009b", "\u202e", "\u{e0041}", "\\x41", "\u00e9", "é"];
  for (let i = 0; i < 3000; i++) {
    let name = "";
    const n = 2 + Math.floor(rnd() * 40);
    for (let k = 0; k < n; k++) name += pieces[Math.floor(rnd() * pieces.length)];
    const w = 2 + Math.floor(rnd() * 30);
    for (const [how, cut] of [["fit", fit(name, w)], ["shortened", shortened(name, w)]]) {
      const at = cut.indexOf("\u2026");
      if (at < 0) {
        assertEquals(unescape(cut), name, `${how} ${JSON.stringify(name)}`);
        continue;
      }
      const [head, tail] = [cut.slice(0, at), cut.slice(at + 1)];
      const why = `${how}(${JSON.stringify(name)}, ${w}) = ${JSON.stringify(cut)}`;
      assert(name.startsWith(unescape(head)), why);
      assert(name.endsWith(unescape(tail)), why);
      if (how === "fit") assert(columns(cut) <= w, why);
      else assert([...cut].length <= w, why);
    }
  }
});

Deno.test("fit() cuts a name between grapheme clusters: never inside a flag or between a letter and its accent", () => {
  // names built from known clusters: a flag is two regional indicators, é
  // here is e and U+0301 (combining acute), 👍🏽 a thumb and a skin tone
  const flag = "\u{1F1EB}\u{1F1F7}", e = "e\u0301", thumb = "\u{1F44D}\u{1F3FD}";
  const names: string[][] = [
    Array(30).fill(flag),
    [..."r/", ...Array(40).fill(e), ..."x.txt"],
    [..."data/", ...Array(12).fill(thumb), ..."/", ...Array(9).fill(flag), ...Array(7).fill(e)],
  ];
  // (columns: lib/width.ts counts each code point, as fit() must fit them)
  const cols = (s: string) => [...s].reduce((n, c) => n + charColumns(c.codePointAt(0)!), 0);
  for (const clusters of names) {
    const name = clusters.join("");
    const starts = new Set<number>([0]); // offsets where a cluster starts (and the end)
    let at = 0;
    for (const c of clusters) starts.add(at += c.length);
    for (let w = 2; w <= cols(name); w++) {
      const got = fit(name, w);
      assert(cols(got) <= w, `${w}: ${got}`);
      if (!got.includes("…")) {
        assertEquals(got, name);
        continue;
      }
      const [head, tail] = got.split("…");
      assert(name.startsWith(head) && starts.has(head.length), `${w}: head ${head}`);
      assert(
        name.endsWith(tail) && starts.has(name.length - tail.length),
        `${w}: tail ${tail}`,
      );
    }
  }
});

Deno.test("columns() of a whole string is the sum of its code points' columns, Latin names (one scan) and mixed ones alike", () => {
  // (charColumns, one code point, is checked against the system's wcwidth
  // in cli_progress_test.ts; columns() skips the loop when no code unit is
  // at U+1100 or above, where the first wide character is)
  const pool = [
    ..."aZ09/._-~ ",
    "\u00e9",
    "\u0301",
    "\u07ff",
    "\u10ff", // the last code point before the first wide one: narrow
    "\u1100", // the first wide one (Hangul Jamo)
    "\u115f",
    "\u1160", // narrow again
    "\u30c7",
    "\uff01",
    "\ufffd",
    "\u{1F44D}",
    "\u{20000}",
    "\u{1F1EB}",
  ];
  const sum = (s: string) => [...s].reduce((n, c) => n + charColumns(c.codePointAt(0)!), 0);
  const next = rng(7);
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(next() * 40);
    let s = "";
    for (let k = 0; k < len; k++) s += pool[Math.floor(next() * pool.length)];
    assertEquals(columns(s), sum(s), JSON.stringify(s));
  }
  assertEquals(columns("/data/proj/file.txt"), 19);
  assertEquals(columns("a\u10ffb"), 3);
  assertEquals(columns("a\u1100b"), 4);
  assertEquals(columns("\u{20000}x"), 3);
});

Deno.test("outputWidth(): a terminal that tells 0 columns (script with no terminal above, some CI pseudo-terminals) takes $COLUMNS when 40 or more, else 80, as the progress line does; a width told wins (audit)", () => {
  const realSize = Deno.consoleSize, realTerminal = Deno.stdout.isTerminal;
  const before = Deno.env.get("COLUMNS");
  try {
    Deno.stdout.isTerminal = () => true;
    Deno.consoleSize = () => ({ columns: 0, rows: 0 });
    for (
      const [env, want] of [
        ["120", 120],
        ["40", 40],
        ["39", 80],
        ["0", 80],
        ["x", 80],
        ["", 80],
        [undefined, 80],
      ] as const
    ) {
      if (env === undefined) Deno.env.delete("COLUMNS");
      else Deno.env.set("COLUMNS", env);
      assertEquals(outputWidth(), want, `COLUMNS=${env}`);
    }
    // a width the terminal tells wins over $COLUMNS (40 at least)
    Deno.env.set("COLUMNS", "120");
    Deno.consoleSize = () => ({ columns: 100, rows: 30 });
    assertEquals(outputWidth(), 100);
    Deno.consoleSize = () => ({ columns: 20, rows: 30 });
    assertEquals(outputWidth(), 40);
    // not a terminal: $COLUMNS, else nothing cut (cron mail, > file)
    Deno.stdout.isTerminal = () => false;
    assertEquals(outputWidth(), 120);
    Deno.env.delete("COLUMNS");
    assertEquals(outputWidth(), Infinity);
  } finally {
    Deno.consoleSize = realSize;
    Deno.stdout.isTerminal = realTerminal;
    if (before === undefined) Deno.env.delete("COLUMNS");
    else Deno.env.set("COLUMNS", before);
  }
});
