/**
 * A bind mount of the root inside the tree (a loop, as a looping NFS export
 * or FUSE server makes one): a whole run gives the mount point its row and
 * a `loop` error and walks nothing below it; the shards together must give
 * the same rows. Two ways it went wrong: the planner listed through the
 * loop and planned folders below it, and a shard walking a frontier folder
 * that holds the loop did not know the folders above its frontier folder,
 * so it walked the whole tree again below the mount point.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { parseCsv } from "./helpers/csv.ts";
import { cli } from "./helpers/run.ts";
import { assertSameLines, makePlan, runShards, unionLines, wholeLines } from "./helpers/shard.ts";
import { testNeeding, ZSTD } from "./helpers/system.ts";
import { canMountTmpfs, mountBind, tempDir } from "./helpers/temp.ts";

/** t/a0..a7/b0..b2/c0/f, and the folder `loop` where the root is bind-mounted. */
async function loopTree(t: string, loop: string): Promise<void> {
  for (let a = 0; a < 8; a++) {
    for (let b = 0; b < 3; b++) {
      await Deno.mkdir(`${t}/a${a}/b${b}/c0`, { recursive: true });
      await Deno.writeTextFile(`${t}/a${a}/b${b}/c0/f`, "x");
    }
  }
  await Deno.mkdir(`${t}/${loop}`);
  assertEquals(await mountBind(t, `${t}/${loop}`), "");
}

for (
  const [what, loop, args] of [
    // the planner lists the whole tree: it meets the loop
    ["planned from the whole tree", "a0/b0/loop", []],
    // a short listing budget: the loop lies inside a frontier folder
    ["inside a frontier folder", "a0/b0/c0/loop", ["--min-folders", "2", "--max-listed", "8"]],
  ] as const
) {
  testNeeding([ZSTD], {
    name: `shard: a bind mount of the root inside the tree (${what}) is a loop, as in a whole run`,
    ignore: !canMountTmpfs(),
    async fn() {
      await using tmp = await tempDir();
      const t = `${tmp.path}/t`;
      await loopTree(t, loop);
      const plan = await makePlan(t, 2, `${tmp.path}/plan.json`, [...args]);
      for (const f of plan.frontier) {
        assert(!f.path.startsWith(`${t}/${loop}`), `planned below the loop: ${f.path}`);
      }
      const holder = plan.frontier.find((f) => `${t}/${loop}`.startsWith(`${f.path}/`));
      assertEquals(holder !== undefined, args.length > 0, "the loop inside a frontier folder");
      await cli(["-o", "/dev/null", t]); // folders' atimes settle before the reference
      const whole = await wholeLines(t);
      const stderr = await runShards(`${tmp.path}/plan.json`, tmp.path, plan.shards);
      assertSameLines(await unionLines(tmp.path, plan.shards), whole, "the shards' rows");
      const loops = stderr.join("").split("\n").filter((l) => l.startsWith("pwalk: loop "));
      assertEquals(loops, [`pwalk: loop '${t}/${loop}': Too many levels of symbolic links`]);
    },
  });
}

/** t/a0..a3/b0..b3/c0..c3/f: 84 folders, a file in each of the 64 deepest. */
async function gridTree(t: string): Promise<void> {
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      for (let c = 0; c < 4; c++) {
        await Deno.mkdir(`${t}/a${a}/b${b}/c${c}`, { recursive: true });
        await Deno.writeTextFile(`${t}/a${a}/b${b}/c${c}/f`, "x");
      }
    }
  }
}

testNeeding([], {
  name: "plan: the listings stop at a bind mount of the root, as split() does: the budget and " +
    "the estimates are the real tree's",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const t = `${tmp.path}/t`;
    // 84 folders, all listed within 3/4 of 116; listed through t/loop (a
    // copy of the tree a level down, and so on), the budget runs out
    // before the real tree's last level is
    await gridTree(t);
    await Deno.mkdir(`${t}/loop`);
    assertEquals(await mountBind(t, `${t}/loop`), "");
    const plan = await makePlan(t, 2, `${tmp.path}/plan.json`, [
      "--min-folders",
      "2",
      "--max-listed",
      "116",
    ]);
    const r = await cli(["-o", "-", t]);
    const paths = parseCsv(r.stdout).map((f) => new TextDecoder().decode(f[3].bytes));
    const rowsBelow = (p: string) => paths.filter((q) => q === p || q.startsWith(`${p}/`)).length;
    assert(plan.frontier.length > 0);
    for (const f of plan.frontier) {
      assert(!f.path.startsWith(`${t}/loop`), `planned below the loop: ${f.path}`);
      assertEquals(f.estimate, rowsBelow(f.path), `the estimate of ${f.path}`);
    }
    assertEquals(plan.estimate.total, paths.length, "the estimated rows of the tree");
    assertEquals((plan as unknown as { unsplit: { partial: boolean } }).unsplit.partial, false);
  },
});

for (
  const [what, root, mountAt] of [
    // (mountinfo writes the space \040; the root is reached through a link)
    ["of the root, at a name with a space, the root through a link", "link", "t/lo op"],
    // the loop is met a level below the mount point: t/a0/b0/lo op/a0
    ["of a folder above the root", "link/a0", "t/a0/b0/lo op"],
  ] as const
) {
  testNeeding([], {
    name: `plan: the listings stop at a bind mount ${what}: the budget and the estimates are ` +
      "a whole run's",
    ignore: !canMountTmpfs(),
    async fn() {
      await using tmp = await tempDir();
      const t = `${tmp.path}/t`;
      await gridTree(t);
      await Deno.mkdir(`${tmp.path}/${mountAt}`);
      assertEquals(await mountBind(t, `${tmp.path}/${mountAt}`), "");
      await Deno.symlink("t", `${tmp.path}/link`);
      // (listed through the loop, level after level, the budget runs out)
      const args = ["--min-folders", "2", "--max-listed", "200"];
      const plan = await makePlan(root, 2, "plan.json", args, tmp.path);
      const r = await cli(["-o", "-", root], { cwd: tmp.path });
      const paths = parseCsv(r.stdout).map((f) => new TextDecoder().decode(f[3].bytes));
      const rowsBelow = (p: string) => paths.filter((q) => q === p || q.startsWith(`${p}/`)).length;
      assert(plan.frontier.length > 0);
      for (const f of plan.frontier) {
        assertEquals(f.estimate, rowsBelow(f.path), `the estimate of ${f.path}`);
      }
      assertEquals(plan.estimate.total, paths.length, "the estimated rows of the tree");
      assertEquals((plan as unknown as { unsplit: { partial: boolean } }).unsplit.partial, false);
      // each folder a whole run walks listed once, the loop not
      const folders = parseCsv(r.stdout).filter((f) =>
        new TextDecoder().decode(f[11].bytes).startsWith("004")
      ).length;
      const loops = r.stderr.split("\n").filter((l) => l.startsWith("pwalk: loop ")).length;
      assertEquals(loops, 1, r.stderr);
      assertEquals(
        (plan as unknown as { listed: number }).listed,
        folders - loops,
        "folders listed",
      );
    },
  });
}
