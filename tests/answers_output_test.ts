/**
 * How the answer commands print: in pieces, so that an answer longer than
 * one JavaScript string holds (about 512 MiB: `--top 1000000` rows, each
 * padded to the longest path when stdout is no terminal) is printed whole,
 * as text and as JSON (review of the answers at scale). The references are
 * JSON.stringify and Python's json module.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { diff, summarize } from "../mod.ts";
import { jsonChunks, table } from "../lib/answers/text.ts";
import { cli, REPO, run } from "./helpers/run.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("jsonChunks joined is JSON.stringify(x, null, 2): a summary, a diff, and edge values", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/r`;
  await Deno.mkdir(`${root}/d`, { recursive: true });
  await Deno.writeTextFile(`${root}/d/a\nb.txt`, "x");
  const a = `${tmp.path}/a.csv`, b = `${tmp.path}/b.csv`;
  assertEquals((await cli(["-o", a, root])).code, 0);
  await Deno.writeTextFile(`${root}/c.log`, "yy");
  assertEquals((await cli(["-o", b, root])).code, 0);
  const edge = {
    a: [],
    b: {},
    c: [1, undefined, "x\ny", null, () => 1, { d: [[], {}, [{ e: "\u2028" }]] }],
    f: undefined,
    g: new Date(0),
    h: [new Date(1), { toJSON: () => "j" }],
    i: -0,
    j: NaN,
  };
  for (const v of [await summarize([b], { names: false }), await diff([a], [b]), edge, [], {}, 5]) {
    assertEquals([...jsonChunks(v)].join(""), JSON.stringify(v, null, 2));
  }
});

testNeeding([PYTHON3], {
  name:
    "summary's text and --json longer than a JavaScript string holds (19,000 rows padded to, or of, a 30,000-byte path): printed whole (review)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/r`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${root}/f`, "x");
    const scan = `${tmp.path}/s.csv`;
    assertEquals((await cli(["-o", scan, root])).code, 0);
    const child = `${tmp.path}/print.ts`;
    // the CLI's own printing of a summary whose largest files are many and
    // long. JSON: every row's path the one 30,000-byte string (the rows
    // themselves are small). Text: as `--top 1000000` prints to a file or a
    // pipe, every row padded to the longest path, here row 7,000's; the
    // others short and each its own, so that each line is told apart
    await Deno.writeTextFile(
      child,
      `import { summarize } from "${REPO}/mod.ts";
import { printAnswer } from "${REPO}/lib/cli/common.ts";
import { summaryBlocks } from "${REPO}/lib/cli/summary.ts";
const s = await summarize([${JSON.stringify(scan)}], { names: false });
const json = Deno.args[0] === "json";
const long = "/data/" + "p".repeat(30000);
const path = (i: number) => json || i === 7000 ? long : "/data/f" + i;
s.largestFiles = Array.from({ length: 19000 }, (_, i) => ({ ...s.largestFiles[0], path: path(i) }));
await printAnswer({ _: [], json }, s, () => Promise.resolve(""), (x) => summaryBlocks(x, Infinity));
`,
    );
    const check = {
      json: `import json, sys
d = json.load(sys.stdin)
print(len(d["largestFiles"]), len(d["largestFiles"][-1]["path"]), d["totals"]["entries"])`,
      // the table's rows in order, each its own path, all of one width (the
      // long path's and the other columns): 19,000 lines of more than 30,006
      // characters, past 2^29, more than one JavaScript string holds
      text: `import sys
n = wrong = 0
widths = set()
for l in sys.stdin:
  if not l.startswith("/data/"): continue
  want = "/data/" + "p" * 30000 if n == 7000 else "/data/f%d" % n
  wrong += l.split(" ", 1)[0] != want
  widths.add(len(l))
  n += 1
print(n, wrong, len(widths), min(widths) > 30006)`,
    };
    for (const how of ["json", "text"] as const) {
      const r = await run("bash", [
        "-c",
        `set -o pipefail; "$0" run -A --config "$1/deno.json" "$2" "$3" | python3 -c "$4"`,
        Deno.execPath(),
        REPO,
        child,
        how,
        check[how],
      ], { timeoutMs: 300_000 });
      assertEquals(r.code, 0, r.stderr);
      // every row (and, for JSON, the whole document parsed)
      const got = r.text.trim().split(" ");
      if (how === "json") assertEquals(got, ["19000", "30006", "2"]);
      else assertEquals(got, ["19000", "0", "1", "True"], r.text);
    }
  },
});

Deno.test("a table of 300,000 rows (--top 1000000 of a big scan) is laid out, not a RangeError of Math.max's arguments (review)", () => {
  const rows = Array.from({ length: 300_000 }, (_, i) => [`/data/f${i}`, String(i)]);
  const lines = table("Largest files", ["file", "size"], rows, Infinity).split("\n");
  assertEquals(lines.length, 2 + rows.length);
  // every row padded to the longest path, as a short table's are
  assertEquals(lines.at(-1), `/data/f299999  299999`);
  assertEquals(lines[2], `/data/f0       ${"0".padStart(6)}`);
});
