/**
 * Shards on a node that numbers the file systems differently from the
 * planning node (NFS, Lustre, GPFS and FUSE give each mount a device number
 * of its own, in mount order): the shard runs when ROOT's inode is the
 * planned one, and its rows carry the plan's device numbers, so that the
 * merged scan is a single run's on the planning node. A ROOT that is
 * another folder (its inode) is still refused.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "@std/assert";
import { concat } from "./helpers/bytes.ts";
import { key, lineSet, unkey } from "./helpers/csv.ts";
import { duck } from "./helpers/duckdb.ts";
import { cli, runOk } from "./helpers/run.ts";
import {
  assertSameLines,
  makePlan,
  runShards,
  shardArgs,
  type TestPlan,
  unionLines,
  unzstd,
} from "./helpers/shard.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, testNeeding, ZSTD } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { report } from "../mod.ts";

/** A small tree: three folders of files, a hard link from one into another. */
async function smallTree(root: string): Promise<void> {
  for (const d of ["a", "b", "c", "c/d"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    for (let i = 1; i <= 3; i++) await Deno.writeTextFile(`${root}/${d}/f${i}`, "x".repeat(i));
  }
  await Deno.link(`${root}/a/f1`, `${root}/b/link-to-a-f1`);
}

/** Sorted lines with the st_dev column (the 9th; no comma in these names) `from` set to `to`. */
function mapDev(lines: string[], from: number, to: number): string[] {
  return lines.map((k) => {
    const f = new TextDecoder().decode(unkey(k)).split(",");
    assertEquals(f.length, 17, new TextDecoder().decode(unkey(k)));
    if (f[8] === String(from)) f[8] = String(to);
    return key(new TextEncoder().encode(f.join(",")));
  }).sort();
}

/** The st_dev column of every line. */
function devs(lines: string[]): Set<string> {
  return new Set(lines.map((k) => new TextDecoder().decode(unkey(k)).split(",")[8]));
}

testNeeding([ZSTD], {
  name: "shard: a plan whose device numbers differ from this node's runs, rows with the plan's",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`, dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    await smallTree(root);
    const planFile = `${dir}/plan.json`;
    await cli(["-o", "/dev/null", root]); // folders' atimes settle (relatime) before the reference
    const plan = await makePlan(root, 3, planFile);
    assertEquals(plan.shards, 3);
    const real = plan.root.dev;
    const whole = lineSet((await cli([root])).stdout);
    // The plan as another node made it: its mounts numbered the root's file
    // system 4242 (the plan file has no integrity check: edited as such a
    // node would have written it).
    const other = real === 4242 ? 4243 : 4242;
    const edited: TestPlan = {
      ...plan,
      root: { ...plan.root, dev: other },
      frontier: plan.frontier.map((f) => ({ ...f, dev: other })),
    };
    await Deno.writeTextFile(planFile, JSON.stringify(edited, null, 1) + "\n");
    // every format a shard writes: plain, gzip, zstd
    const outs = [`${dir}/scan-0.csv`, `${dir}/scan-1.csv.gz`, `${dir}/scan-2.csv.zst`];
    for (let i = 0; i < 3; i++) {
      const r = await cli(shardArgs(planFile, i, outs[i]));
      assertEquals(r.code, 0, `shard ${i}: ${r.stderr}`);
    }
    const parts = [
      await Deno.readFile(outs[0]),
      (await runOk("gzip", ["-dc", "--", outs[1]])).stdout,
      await unzstd(outs[2]),
    ];
    for (const [i, p] of parts.entries()) {
      const l = lineSet(p);
      assert(l.length > 0, `shard ${i} wrote rows`);
      assertEquals([...devs(l)], [String(other)], `shard ${i}'s st_dev`);
    }
    assertSameLines(lineSet(concat(...parts)), mapDev(whole, real, other), "the shards' rows");

    // the library's deviceMap, in Parquet too
    const pq = `${tmp.path}/mapped.parquet`;
    await report(root, { output: pq, deviceMap: [[real, other]] });
    assertEquals(await duck(`SELECT DISTINCT st_dev FROM '${pq}'`), [[other]]);

    // the root's inode on another device, but none of the frontier folders
    // the planned ones (another file system whose root has the same inode,
    // as every ext4's is 2): refused
    await Deno.writeTextFile(
      planFile,
      JSON.stringify({
        ...edited,
        frontier: edited.frontier.map((f) => ({ ...f, ino: f.ino + 1_000_000_007 })),
      }),
    );
    const fs = await cli(shardArgs(planFile, 2, `${dir}/other-fs-2.csv.zst`));
    assertEquals(fs.code, 1, fs.stderr);
    assertStringIncludes(fs.stderr, "another file system is mounted there; make a new plan");

    // a root with another inode is still another folder: refused
    await Deno.writeTextFile(
      planFile,
      JSON.stringify({ ...edited, root: { ...edited.root, ino: edited.root.ino + 1 } }),
    );
    const r = await cli(shardArgs(planFile, 1, `${dir}/again-1.csv.zst`));
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, "make a new plan");
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT, ZSTD], {
  name: "shard: a FUSE mount mounted again under another device number runs its shards",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`, dir = `${tmp.path}/scan`, mnt = `${tmp.path}/mnt`;
    await Deno.mkdir(dir);
    await smallTree(src);
    const env = { SLOWFS_DELAY_US: "0", SLOWFS_USE_INO: "1" };
    const opts = "ro,attr_timeout=0,entry_timeout=0";
    const mount = async (work: string, from: string, at: string) => {
      await Deno.mkdir(work);
      await Deno.remove(at).catch(() => {}); // mountSlowfs makes the mount point (again)
      return await mountSlowfs(work, from, env, opts, at);
    };
    const planFile = `${dir}/plan.json`;
    let plan: TestPlan, whole: string[];
    {
      await using _fs = await mount(`${tmp.path}/w1`, src, mnt);
      await cli(["-o", "/dev/null", mnt]); // atimes settle before the reference
      plan = await makePlan(mnt, 3, planFile);
      whole = lineSet((await cli([mnt])).stdout);
    }
    // another mount takes the device number, then the tree is mounted again
    const empty = `${tmp.path}/empty`;
    await Deno.mkdir(empty);
    await using _other = await mount(`${tmp.path}/w2`, empty, `${tmp.path}/m2`);
    await using _again = await mount(`${tmp.path}/w3`, src, mnt);
    const now = (await Deno.stat(mnt)).dev;
    assertNotEquals(now, plan.root.dev, "the remount has another device number");
    assertEquals((await Deno.stat(mnt)).ino, plan.root.ino, "slowfs gives the source's inodes");
    await runShards(planFile, dir, plan.shards);
    const union = await unionLines(dir, plan.shards);
    assertEquals([...devs(union)], [String(plan.root.dev)], "the shards' st_dev: the plan's");
    assertSameLines(union, whole, "the shards' rows");
    // merged by summary as a single run: one file system, the hard link once
    const s = await cli(["summary", "--json", dir]);
    assertEquals(s.code, 0, s.stderr);
  },
});

testNeeding([ZSTD], {
  name:
    "shard: a mount inside ROOT numbered otherwise here, its frontier in other shards: shard 0's rows above the frontier on it carry the plan's number too",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`, dir = `${tmp.path}/scan`, mnt = `${root}/mnt`;
    await Deno.mkdir(dir);
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        await Deno.mkdir(`${root}/top${a}/s${b}`, { recursive: true });
        for (let f = 0; f < 20; f++) await Deno.writeTextFile(`${root}/top${a}/s${b}/f${f}`, "");
      }
    }
    await Deno.mkdir(mnt);
    assertEquals(await mountTmpfs(mnt, "size=4m"), "");
    for (let k = 0; k < 3; k++) {
      await Deno.mkdir(`${mnt}/sub${k}/in`, { recursive: true });
      for (let f = 0; f < 40; f++) await Deno.writeTextFile(`${mnt}/sub${k}/g${f}`, "");
    }
    for (let f = 0; f < 3; f++) await Deno.writeTextFile(`${mnt}/direct${f}`, "");
    const planFile = `${dir}/plan.json`;
    await cli(["-o", "/dev/null", root]); // atimes settle before the reference
    const plan = await makePlan(root, 4, planFile);
    const here = (await Deno.stat(mnt)).dev;
    const onMount = plan.frontier.filter((f) => f.dev === here);
    const above = plan.frontier.filter((f) => f.dev !== here);
    assert(onMount.length > 0 && above.length > 0, "the premise: frontier folders on both");
    const whole = lineSet((await cli([root])).stdout);
    // The plan as a node that numbers the mount 4242 made it, its folders on
    // the mount given to shards other than 0, which writes the rows above
    // the frontier: the mount point's own, and the files directly in it.
    const other = here === 4242 ? 4243 : 4242;
    const edited: TestPlan = {
      ...plan,
      frontier: plan.frontier.map((f) =>
        f.dev === here ? { ...f, dev: other, shard: f.shard === 0 ? 1 : f.shard } : f
      ),
    };
    await Deno.writeTextFile(planFile, JSON.stringify(edited, null, 1) + "\n");
    await runShards(planFile, dir, plan.shards);
    const union = await unionLines(dir, plan.shards);
    // (the filename is the 4th column; no comma in these names)
    const mine = (l: string) =>
      new TextDecoder().decode(unkey(l)).split(",")[3].startsWith(`"${mnt}`);
    assert(union.filter(mine).length > 0, "rows on the mount");
    assertEquals([...devs(union.filter(mine))], [String(other)], "rows on the mount");
    assertSameLines(union, mapDev(whole, here, other), "the shards' rows");
  },
});
