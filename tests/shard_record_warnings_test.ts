/**
 * The shard outputs of a scan read without their plan (a copy of
 * `scan-*` into an archive folder, plan.json left behind): summary, diff
 * and convert read them as given, but say from the completion records
 * beside them when they are not the plan's whole scan (a shard not among
 * them, one read twice, one whose size is not its record's), rather than
 * pass a part of the tree for the whole in silence. The rows counted are
 * checked against the outputs decompressed by the zstd command.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli, runOk } from "./helpers/run.ts";
import { makePlan, runShards, unzstd } from "./helpers/shard.ts";
import { tempDir } from "./helpers/temp.ts";

/** Rows (lines) of a decompressed output. */
function lines(data: Uint8Array): number {
  return data.filter((b) => b === 0x0a).length;
}

/**
 * TMP/tree of four folders of 20 files planned into 3 shards in TMP/scan,
 * each run; its scan-* files (outputs and records, no plan.json) copied to
 * TMP/archive. The plan's id and shard count.
 */
async function archivedScan(tmp: string): Promise<{ id: string; shards: number }> {
  for (const d of ["a", "b", "c", "d"]) {
    await Deno.mkdir(`${tmp}/tree/${d}`, { recursive: true });
    for (let i = 0; i < 20; i++) await Deno.writeTextFile(`${tmp}/tree/${d}/f${i}`, d + i);
  }
  await Deno.mkdir(`${tmp}/scan`);
  const p = await makePlan(`${tmp}/tree`, 3, `${tmp}/scan/plan.json`);
  assertEquals(p.shards, 3);
  await runShards(`${tmp}/scan/plan.json`, `${tmp}/scan`, p.shards);
  await Deno.mkdir(`${tmp}/archive`);
  for await (const e of Deno.readDir(`${tmp}/scan`)) {
    if (e.name.startsWith("scan-")) {
      await Deno.copyFile(`${tmp}/scan/${e.name}`, `${tmp}/archive/${e.name}`);
    }
  }
  const plan = JSON.parse(await Deno.readTextFile(`${tmp}/scan/plan.json`));
  return { id: plan.id, shards: p.shards };
}

/** `pwalk summary --json --no-names ARGS`: its exit status, stderr and entries. */
async function summary(...args: string[]) {
  const r = await cli(["summary", "--json", "--no-names", ...args]);
  assertEquals(r.code, 0, r.stderr);
  return { stderr: r.stderr, entries: JSON.parse(r.text).totals.entries as number };
}

Deno.test("a copy of a scan's shards without plan.json: a shard not among them is warned of", async () => {
  await using tmp = await tempDir();
  const { id } = await archivedScan(tmp.path);
  const a = `${tmp.path}/archive`;
  const outs = [0, 1, 2].map((i) => `${a}/scan-${i}.csv.zst`);
  const rows = await Promise.all(outs.map(async (f) => lines(await unzstd(f))));
  // the whole copy: every row, no warning
  const whole = await summary(a);
  assertEquals(whole.entries, rows[0] + rows[1] + rows[2]);
  assertEquals(whole.stderr, "");
  // shard 1 not copied (its run had not ended, say): the rows of the two others, and a warning
  await Deno.remove(outs[1]);
  await Deno.remove(`${a}/scan-1.done.json`);
  const part = await summary(a);
  assertEquals(part.entries, rows[0] + rows[2]);
  assertEquals(
    part.stderr.trimEnd(),
    `pwalk: warning: the completion records of the files read are of 2 of the 3 shards of ` +
      `plan ${id} (not read: shard 1): the totals are not the whole scan's`,
  );
  // named one by one, the same
  const named = await summary(outs[0], outs[2]);
  assertStringIncludes(named.stderr, "(not read: shard 1)");
  // diff and convert say it too, and diff of OLD and NEW from one plan is no shard read twice
  const d = await cli(["diff", "--no-names", `${tmp.path}/scan`, a]);
  assertEquals(d.code, 0, d.stderr);
  assertStringIncludes(d.stderr, "(not read: shard 1)");
  assert(!d.stderr.includes("read twice"), d.stderr);
  const c = await cli(["convert", a, `${tmp.path}/out.csv`]);
  assertEquals(c.code, 0, c.stderr);
  assertStringIncludes(c.stderr, "(not read: shard 1)");
});

Deno.test("a copy of a scan's shards without plan.json: a shard read twice, one of another size than its record", async () => {
  await using tmp = await tempDir();
  const { id } = await archivedScan(tmp.path);
  const a = `${tmp.path}/archive`;
  // shard 2 run again under another name into the same folder, its record with it
  const again = await cli([
    "report",
    "--plan",
    `${tmp.path}/scan/plan.json`,
    "--shard",
    "2",
    "-o",
    `${tmp.path}/scan/data-2.csv.gz`,
  ]);
  assertEquals(again.code, 0, again.stderr);
  await Deno.copyFile(`${tmp.path}/scan/data-2.csv.gz`, `${a}/data-2.csv.gz`);
  await Deno.copyFile(`${tmp.path}/scan/data-2.done.json`, `${a}/data-2.done.json`);
  const twice = await summary(a);
  assertStringIncludes(
    twice.stderr,
    `pwalk: warning: shard 2 of plan ${id} is read twice (${a}/data-2.csv.gz, ` +
      `${a}/scan-2.csv.zst; by their completion records): its rows count more than once`,
  );
  await Deno.remove(`${a}/data-2.csv.gz`);
  await Deno.remove(`${a}/data-2.done.json`);
  // shard 1's output replaced by whole zstd data of its first rows only (a copy cut
  // at a frame's end reads so): nothing in the data shows it, its record does
  const out = `${a}/scan-1.csv.zst`;
  const text = new TextDecoder().decode(await unzstd(out));
  const kept = text.split("\n").slice(0, 3).join("\n") + "\n";
  await Deno.writeTextFile(`${tmp.path}/part.csv`, kept);
  await runOk("zstd", ["-q", "-f", "-o", out, `${tmp.path}/part.csv`]);
  const size = (await Deno.stat(out)).size;
  const recorded = JSON.parse(await Deno.readTextFile(`${a}/scan-1.done.json`)).outputBytes;
  assert(size !== recorded);
  const cut = await summary(a);
  assertEquals(
    cut.entries,
    lines(await unzstd(`${a}/scan-0.csv.zst`)) + 3 +
      lines(await unzstd(`${a}/scan-2.csv.zst`)),
  );
  assertEquals(
    cut.stderr.trimEnd(),
    `pwalk: warning: ${out} has ${size.toLocaleString("en-US")} bytes, but its completion record ` +
      `${a}/scan-1.done.json says ${recorded.toLocaleString("en-US")} bytes: cut short or ` +
      "changed since its shard wrote it; its rows are read as they are",
  );
});
