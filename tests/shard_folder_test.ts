/**
 * What `pwalk status` and the shard commands make of a scan folder and a
 * plan edited or mixed by hand: outputs that no completion record names
 * (a rerun's old output under another suffix, a zero-padded name) are
 * named as strays, which a glob of the folder would read.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { makePlan, runShards, shardArgs } from "./helpers/shard.ts";
import { tempDir } from "./helpers/temp.ts";

/** A small tree: four folders of one file each. */
async function fourFolders(root: string): Promise<void> {
  for (const d of ["a", "b", "c", "d"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
}

Deno.test("status names shard outputs no record names: a rerun's old output under another suffix, a zero-padded name", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = `${dir}/plan.json`;
  const p = await makePlan(root, 3, plan);
  await runShards(plan, dir, p.shards);
  const clean = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(clean.strays, []);
  // shard 2 run again as .csv.gz: its record now names that; the .zst stays
  const again = await cli(shardArgs(plan, 2, `${dir}/scan-2.csv.gz`));
  assertEquals(again.code, 0, again.stderr);
  const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-2.done.json`));
  assertEquals(rec.output, "scan-2.csv.gz");
  // a copy of shard 1's output under a zero-padded name
  await Deno.copyFile(`${dir}/scan-1.csv.zst`, `${dir}/scan-01.csv.zst`);
  // the folder's shard outputs, as readDir lists them, less those the records name
  const named = new Set<string>();
  for (let i = 0; i < p.shards; i++) {
    named.add(JSON.parse(await Deno.readTextFile(`${dir}/scan-${i}.done.json`)).output);
  }
  const unnamed = [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => /^scan-\d+\.csv/.test(n) && !named.has(n)).sort();
  assertEquals(unnamed, ["scan-01.csv.zst", "scan-2.csv.zst"]);
  const j = await cli(["status", dir, "--json"]);
  assertEquals(j.code, 0, j.stderr);
  const s = JSON.parse(j.text);
  assertEquals(s.shards.map((x: { state: string }) => x.state), ["done", "done", "done"]);
  assertEquals(s.strays, unnamed);
  const t = await cli(["status", dir]);
  assertEquals(t.code, 0, t.stderr);
  assertStringIncludes(t.text, `\nstray files: ${unnamed.join(", ")} (not this plan's`);
});
