/**
 * A shard's --errors FILE in the plan's folder is not named as a shard's
 * file (scan-J, scan-J.*), as its -o may not be another shard's: pwalk
 * status reads those names as the shards' outputs. Taken, shard 0's
 * `--errors scan/scan-1.csv` made status call shard 1 incomplete before
 * it ran, and shard 1's run with `-o scan/scan-1.csv` then replaced the
 * error list silently (shard 0's summary line naming it as where its
 * errors are).
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { makePlan, shardArgs } from "./helpers/shard.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("a shard's --errors in the plan's folder is no shard's name", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a/b", "c/d", "e"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`);
  assertEquals(plan.shards, 2);
  const out = `${dir}/scan-0.csv.zst`;
  const names = ["scan-1.csv", "scan-1", "SCAN-1.csv.zst", "scan-0.csv", "scan-7.errors.csv"];
  const ran = await pooled(
    names,
    (n) => cli(shardArgs(`${dir}/plan.json`, 0, out, "--errors", `${dir}/${n}`)),
  );
  for (const [i, n] of names.entries()) {
    const r = ran[i];
    assertEquals(r.code, 2, `${n}: ${r.stderr}`);
    assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assertStringIncludes(r.stderr, `pwalk: --errors ${dir}/${n}: in the plan's folder`);
  }
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["plan.json"]);
  // another name there, or scan-1.csv outside the plan's folder: taken
  for (const errors of [`${dir}/errors-0.csv`, `${tmp.path}/scan-1.csv`]) {
    const r = await cli(shardArgs(`${dir}/plan.json`, 0, out, "--errors", errors));
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.readTextFileSync(errors), "path,operation,errno,message\n");
  }
  const st = await cli(["status", dir]);
  assertStringIncludes(st.text, "shard 1  missing");
});
