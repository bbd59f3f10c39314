/**
 * A plan.json whose frontier folder carries another depth than its path's
 * (edited by hand): the shard printed that depth on the folder's row and
 * counted every row below it from it, so the merged scan held wrong depths
 * while status said done. Refused now, as a folder planned twice is: one
 * line, exit 2, by the shard and by status.
 *
 * @module
 */
import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import { existsSync } from "node:fs";
import { checkPlan, PlanError } from "../lib/shard/plan.ts";
import { cli } from "./helpers/run.ts";
import { makePlan, shardArgs } from "./helpers/shard.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("a frontier folder whose depth is not its path's (an edited plan): refused by a shard and status", async () => {
  await using tmp = await tempDir();
  const t = `${tmp.path}/t`;
  for (const a of ["a", "b", "c"]) {
    for (const b of ["x", "y"]) {
      await Deno.mkdir(`${t}/${a}/${b}`, { recursive: true });
      await Deno.writeTextFile(`${t}/${a}/${b}/f`, "f");
    }
  }
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  const plan = await makePlan(t, 2, planFile);
  const f = plan.frontier[0];
  f.depth += 2;
  await Deno.writeTextFile(planFile, JSON.stringify(plan, null, 1) + "\n");
  const why = new RegExp(
    `^pwalk: ${planFile}: frontier folder "${f.path}" \\(shard ${f.shard}\\) has depth ` +
      `${f.depth}, but its path is at depth ${f.depth - 2}: its rows would carry wrong depths; ` +
      "make a new plan\\n$",
  );
  for (
    const args of [shardArgs(planFile, f.shard, `${dir}/scan-${f.shard}.csv.zst`), ["status", dir]]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, why);
  }
  assertEquals(existsSync(`${dir}/scan-${f.shard}.csv.zst`), false, "no shard ran");
});

Deno.test("checkPlan: a frontier folder's depth is its names below ROOT less one, ROOT / too", () => {
  const plan = (root: string, path: string, depth: number) => ({
    format: "pwalk-shard-plan",
    version: 1,
    id: "x",
    shards: 1,
    cwd: "/",
    root: { path: root, dev: 1, ino: 2 },
    options: { header: false, noSnap: false, pwalkDepth: 0, exclude: [], oneFileSystem: false },
    frontier: [{ path, dev: 1, ino: 3, parentIno: 2, depth, shard: 0 }],
  });
  checkPlan(plan("/", "/tmp", 0));
  checkPlan(plan("/", "/tmp/a", 1));
  checkPlan(plan("d", "d/a/b", 1));
  assertThrows(
    () => checkPlan(plan("/", "/tmp/a", 0)),
    PlanError,
    "has depth 0, but its path is at depth 1",
  );
  assertThrows(
    () => checkPlan(plan("d", "d/a", 3)),
    PlanError,
    "has depth 3, but its path is at depth 0",
  );
});
