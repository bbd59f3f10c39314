/**
 * A shard that writes no row (every frontier folder of it gone since the
 * plan): its output is still a valid file of its format (an empty zstd
 * frame, an empty gzip member), which summary, diff and convert read as a
 * shard with no rows, not as a cut file.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { lineSet } from "./helpers/csv.ts";
import { cli, runOk } from "./helpers/run.ts";
import { makePlan, shardArgs } from "./helpers/shard.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

testNeeding([ZSTD], {
  name: "shard: one whose frontier folders are all gone writes a valid empty .csv.zst / .csv.gz",
  async fn() {
    await using tmp = await tempDir();
    const t = `${tmp.path}/t`;
    for (const d of ["a", "b", "c"]) {
      await Deno.mkdir(`${t}/${d}`, { recursive: true });
      for (const f of ["f1", "f2", "f3"]) await Deno.writeTextFile(`${t}/${d}/${f}`, "");
    }
    const planFile = `${tmp.path}/plan.json`;
    const plan = await makePlan(t, 4, planFile);
    assertEquals(plan.shards, 4);
    const gone = plan.frontier.find((f) => f.path === `${t}/c`)!;
    assertEquals(plan.frontier.filter((f) => f.shard === gone.shard).length, 1);
    await Deno.remove(`${t}/c`, { recursive: true });
    await cli(["-o", "/dev/null", t]); // folders' atimes settle before the reference
    const whole = lineSet((await cli([t])).stdout);

    for (const [suffix, unpack] of [[".csv.zst", "zstd"], [".csv.gz", "gzip"]] as const) {
      const dir = `${tmp.path}/scan${suffix}`;
      await Deno.mkdir(dir);
      for (let i = 0; i < plan.shards; i++) {
        const r = await cli(shardArgs(planFile, i, `${dir}/scan-${i}${suffix}`));
        assertEquals(r.code, 0, `shard ${i}: ${r.stderr}`);
      }
      const empty = `${dir}/scan-${gone.shard}${suffix}`;
      assertEquals((await runOk(unpack, ["-dc", "--", empty])).stdout.length, 0, empty);
      const s = await cli(["summary", "--json", dir]);
      assertEquals(s.code, 0, `summary ${suffix}: ${s.stderr}`);
      assertEquals(JSON.parse(s.text).totals.entries, whole.length, `summary ${suffix}`);
      const d = await cli(["diff", dir, dir]);
      assertEquals(d.code, 0, `diff ${suffix}: ${d.stderr}`);
      const merged = `${tmp.path}/merged${suffix}.csv`;
      const c = await cli(["convert", "--no-header", dir, merged]);
      assertEquals(c.code, 0, `convert ${suffix}: ${c.stderr}`);
      assertEquals(lineSet(await Deno.readFile(merged)), whole, `convert ${suffix}`);
    }
  },
});
