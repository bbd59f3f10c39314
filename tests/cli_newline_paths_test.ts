/**
 * A path with a newline in it, named by a message of summary, diff,
 * convert or plan: the message is one line that names the whole path
 * (escaped, `\n`) and then the reason, as report, undo and status print
 * theirs. (summary, diff and convert kept the message's first line before
 * escaping it, for DuckDB's errors that go on over several lines: the
 * line stopped inside the path and the reason was lost. Deno's own
 * "(os error N): op 'PATH'" tail stayed when PATH had a newline.)
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  chown,
  convert,
  planShards,
  readJournal,
  readPlan,
  repair,
  report,
  scanFiles,
  slurmScan,
  summarize,
  undo,
  walk,
  writePlan,
} from "../mod.ts";
import { cli, UNPRIVILEGED } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

/** A scan of a small tree, made by the CLI, in `dir` as s.csv. */
async function scanIn(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/tree/a`, { recursive: true });
  const r = await cli(["--header", "-o", "s.csv", "tree"], { cwd: dir });
  assertEquals(r.code, 0, r.stderr);
}

Deno.test("summary, diff, convert, plan: a path with a newline is named whole, then why", async () => {
  await using t = await tempDir();
  await scanIn(t.path);
  const cwd = t.path;
  // none of these names exists (as lstat says), nor the folder 'nod\nir'
  for (const p of ["no\nscan.csv", "x\ny.csv", "nod\nir", "a\nb"]) {
    await assertRejects(() => Deno.lstat(`${cwd}/${p}`), Deno.errors.NotFound);
  }
  const cases: [string[], number, string][] = [
    [["summary", "no\nscan.csv"], 2, "pwalk: no\\nscan.csv: No such file or directory"],
    [["diff", "s.csv", "x\ny.csv"], 2, "pwalk: x\\ny.csv: No such file or directory"],
    [
      ["convert", "s.csv", "nod\nir/x.csv"],
      1,
      "pwalk: cannot write nod\\nir/x.csv: No such file or directory",
    ],
    [
      ["summary", "--html", "nod\nir/x.html", "s.csv"],
      1,
      "pwalk: cannot write nod\\nir/x.html: No such file or directory",
    ],
    [
      ["plan", "--shards", "2", "--from", "a\nb", "tree"],
      2,
      "pwalk: --from a\\nb: No such file or directory",
    ],
  ];
  for (const [args, code, line] of cases) {
    const r = await cli(args, { cwd });
    assertEquals([r.code, lines(r.stderr)], [code, [line]], args.join(" "));
  }
  await assertRejects(() => Deno.lstat(`${cwd}/nod\nir`), Deno.errors.NotFound);
});

testNeeding([SETPRIV], {
  name:
    "summary of a scan it may not read, in a folder with a newline: path, then Permission denied",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using t = await tempDir();
    await scanIn(t.path);
    await Deno.mkdir(`${t.path}/nl\ndir`);
    await Deno.copyFile(`${t.path}/s.csv`, `${t.path}/nl\ndir/s.csv`);
    await Deno.chmod(`${t.path}/nl\ndir/s.csv`, 0o000);
    assertEquals((await Deno.lstat(`${t.path}/nl\ndir/s.csv`)).mode! & 0o777, 0);
    const r = await cli(["summary", "nl\ndir/s.csv"], { cwd: t.path, prefix: UNPRIVILEGED });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(lines(r.stderr), ["pwalk: nl\\ndir/s.csv: Permission denied"]);
  },
});

/** A name's control characters as the CLI prints them (`\n`, `\xHH`, C1 `\xc2\xHH`). */
function escaped(s: string): string {
  let out = "";
  for (const c of s) {
    const n = c.codePointAt(0)!;
    const hex = (x: number) => "\\x" + x.toString(16).padStart(2, "0");
    out += c === "\n"
      ? "\\n"
      : n < 0x20 || n === 0x7f
      ? hex(n)
      : n >= 0x80 && n <= 0x9f
      ? hex(0xc2) + hex(n)
      : c;
  }
  return out;
}

Deno.test("API: a root with a newline, ESC[31m or a C1 control is named escaped in the error", async () => {
  await using t = await tempDir();
  const name = "no\nsuch\x1b[31mred\u009bx";
  const missing = `${t.path}/${name}`;
  const file = `${t.path}/f\n\x1b[31m`;
  await Deno.writeTextFile(file, "");
  await assertRejects(() => Deno.lstat(missing), Deno.errors.NotFound);
  assert((await Deno.lstat(file)).isFile);
  const out = `${t.path}/o.csv`;
  const calls: [string, (root: string) => Promise<unknown>][] = [
    ["walk", async (r) => {
      for await (const _ of walk(r)) { /* none */ }
    }],
    ["report", (r) => report(r, { output: out })],
    ["repair", (r) => repair(r, {})],
    ["chown", (r) => chown(r, { from: 61001, to: { uid: 61002 } })],
    ["planShards", (r) => planShards(r, { shards: 2 })],
  ];
  const roots = [[missing, Deno.errors.NotFound], [file, Deno.errors.NotADirectory]] as const;
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x1f\x7f-\x9f]/;
  for (const [root, cls] of roots) {
    for (const [what, call] of calls) {
      const e = await assertRejects(() => call(root), cls, undefined, what);
      // one line, no byte that drives a terminal, the whole root named
      assertEquals(control.test(e.message), false, `${what}: ${JSON.stringify(e.message)}`);
      assert(e.message.includes(escaped(root)), `${what}: ${JSON.stringify(e.message)}`);
    }
  }
  await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound);
});

Deno.test("API: a journal, scan or output path with a newline or ESC[31m is named escaped in the error", async () => {
  await using t = await tempDir();
  const tree = `${t.path}/tree`;
  await Deno.mkdir(tree);
  const scan = `${t.path}/s.csv`;
  await report(tree, { output: scan });
  const dir = `${t.path}/d\n\x1b[31m\u009b`; // not there: nothing below it is
  await assertRejects(() => Deno.lstat(dir), Deno.errors.NotFound);
  // a plan that is not JSON, a folder with no scan in it: both there
  const bad = `${t.path}/p\n\x1b[31m.json`;
  await Deno.writeTextFile(bad, "{ no");
  const empty = `${t.path}/e\n\x1b[31m`;
  await Deno.mkdir(empty);
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x1f\x7f-\x9f]/;
  const cases: [string, string, () => Promise<unknown>][] = [
    ["undo", `${dir}/j`, () => undo(`${dir}/j`)],
    ["readJournal", `${dir}/j`, () => readJournal(`${dir}/j`)],
    ["summarize", `${dir}/s.csv`, () => summarize([`${dir}/s.csv`], { names: false })],
    ["convert", `${dir}/o.csv.zst`, () => convert([scan], `${dir}/o.csv.zst`)],
    ["report to Parquet", `${dir}/o.parquet`, () => report(tree, { output: `${dir}/o.parquet` })],
    ["a spill folder", dir, () => summarize([scan], { names: false, tempDirectory: dir })],
    [
      "writePlan",
      `${dir}/plan.json`,
      async () => writePlan(await planShards(tree, { shards: 1 }), `${dir}/plan.json`),
    ],
    ["readPlan", bad, () => readPlan(bad)],
    ["scanFiles", empty, () => scanFiles(empty)],
    ["slurmScan", dir, () => slurmScan(tree, { shards: 2, out: dir })],
  ];
  for (const [what, path, call] of cases) {
    const e = await assertRejects(call, Error, undefined, what);
    assertEquals(control.test(e.message), false, `${what}: ${JSON.stringify(e.message)}`);
    assert(e.message.includes(escaped(path)), `${what}: ${JSON.stringify(e.message)}`);
  }
});
