/**
 * A shard run by a user who cannot open the plan's ROOT, or can list it but
 * not search it, is refused as `pwalk report` refuses such a ROOT: no part
 * of the tree could be read. Shard 0 used to end "done" with ROOT's row
 * alone (and the other shards failed, or ended "done" with no row), so a
 * rerun of the failed shards as a user who can read ROOT made a scan that
 * `pwalk status` called complete without the rows above the frontier.
 * Needs root (ROOT is root's, mode 000 or 0444; the shards run as root
 * without capabilities, for whom its permission bits hold).
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli, UNPRIVILEGED } from "./helpers/run.ts";
import { makePlan, runShards, shardArgs, unionLines, wholeLines } from "./helpers/shard.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

testNeeding([SETPRIV], {
  name: "a shard whose user cannot open or search ROOT is refused, as a report of ROOT is",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const d of ["a/x", "b/y", "c/z", "d/w"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/f`, d);
    }
    await Deno.writeTextFile(`${root}/top`, "top");
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 3, `${dir}/plan.json`, ["--min-folders", "4"]);
    assert(plan.shards > 1, `${plan.shards} shards`);
    for (const [mode, why] of [[0o000, ""], [0o444, "listed but not searched"]] as const) {
      await Deno.chmod(root, mode);
      try {
        // the reference: a whole report of ROOT by that user is refused
        const whole = await cli(["-o", `${tmp.path}/whole.csv`, root], { prefix: UNPRIVILEGED });
        assertEquals(whole.code, 2, whole.stderr);
        for (let i = 0; i < plan.shards; i++) {
          const out = `${dir}/scan-${i}.csv.zst`;
          const r = await cli(shardArgs(`${dir}/plan.json`, i, out), { prefix: UNPRIVILEGED });
          assertEquals(r.code, 1, `mode ${mode.toString(8)}, shard ${i}: ${r.stderr}`);
          assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
          assertStringIncludes(
            r.stderr,
            `pwalk: refused: the plan's root ${root}: Permission denied`,
          );
          assertStringIncludes(r.stderr, why);
          for (const f of [out, `${dir}/scan-${i}.done.json`]) {
            assertEquals(await Deno.lstat(f).then(() => true, () => false), false, `${f} written`);
          }
        }
        const st = await cli(["status", dir, "--json"]);
        assertEquals(JSON.parse(st.text).counts.done ?? 0, 0);
      } finally {
        await Deno.chmod(root, 0o755);
      }
    }
    // readable again: the shards' rows are a whole run's (a first listing
    // after the chmod moves ROOT's atime under relatime: made before both)
    await wholeLines(root);
    await runShards(`${dir}/plan.json`, dir, plan.shards);
    assertEquals(await unionLines(dir, plan.shards), await wholeLines(root));
  },
});
