/**
 * summary, diff and convert check their option values (--top, --depth,
 * --now, --memory-limit, --level) before anything else, as report, plan
 * and repair do: a bad value is one line on stderr, status 2, whatever
 * else is on the command line. Checked after the outputs and the scans,
 * it came after a warning about the scans (two lines), or behind an
 * output that cannot be written (status 1, naming the output: fixed,
 * the next run told of the value). A --memory-limit of less than a byte
 * (0KB) too: DuckDB took it, and failed at its first allocation, status 1.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli, type Ran } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { makePlan, runShards } from "./helpers/shard.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("summary, diff, convert: a bad option value is one line, status 2, before anything else", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a/b", "c/d", "e"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  for (const f of ["a/b/x.txt", "c/d/y.txt", "e/z.txt"]) {
    await Deno.writeTextFile(`${root}/${f}`, "data\n");
  }
  const dir = `${tmp.path}/scans`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`);
  assert(plan.shards >= 2, `${plan.shards} shards`);
  await runShards(`${dir}/plan.json`, dir, plan.shards);
  // one shard's output: read as given, with a warning that it is not the whole scan
  const part = `${dir}/scan-0.csv.zst`;
  const gone = `${tmp.path}/no-such-folder`;
  const cases: [args: string[], option: string, output?: string][] = [
    [["summary", "--top", "0", part], "--top"],
    [["summary", "--depth", "-1", part], "--depth"],
    [["summary", "--now", "1.5", part], "--now"],
    [["summary", "--memory-limit", "4G", part], "--memory-limit"],
    [["summary", "--top", "0", "--html", `${gone}/s.html`, part], "--top"],
    [["summary", "--top", "0", "--html", `${tmp.path}/s.html`, part], "--top", "s.html"],
    [["diff", "--depth", "x", part, part], "--depth"],
    [["diff", "--top", "0", "--html", `${gone}/d.html`, part, part], "--top"],
    [["convert", "--level", "99", part, `${tmp.path}/o.parquet`], "--level", "o.parquet"],
    [["convert", "--level", "99", part, `${gone}/o.parquet`], "--level"],
    [["convert", "--memory-limit", "4G", part, `${tmp.path}/o.csv`], "--memory-limit", "o.csv"],
    // a size of no byte: DuckDB takes it, then fails at its first allocation
    [["summary", "--memory-limit", "0KB", part], "--memory-limit"],
    [["diff", "--memory-limit", "0GB", part, part], "--memory-limit"],
    [
      ["convert", "--memory-limit", "0.0MB", part, `${tmp.path}/z.parquet`],
      "--memory-limit",
      "z.parquet",
    ],
  ];
  const ran: Ran[] = await pooled(cases, ([args]) => cli(args));
  for (const [i, [args, option, output]] of cases.entries()) {
    const r = ran[i], what = args.join(" ");
    assertEquals(r.code, 2, `${what}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    assertEquals(lines.length, 1, `${what}: ${r.stderr}`);
    assertStringIncludes(lines[0], `pwalk: ${option} needs`, what);
    assertEquals(r.text, "", what);
    if (output) assertEquals(Deno.readDirSync(tmp.path).some((e) => e.name === output), false);
  }
  // nothing but the tree and the scan folder was left
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["scans", "tree"]);
});
