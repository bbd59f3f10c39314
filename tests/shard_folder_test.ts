/**
 * What `pwalk status` and the shard commands make of a scan folder and a
 * plan edited or mixed by hand: outputs that no completion record names
 * (a rerun's old output under another suffix, a zero-padded name) are
 * named as strays, which a glob of the folder would read, and those a
 * record names are not, whatever scan-J number they carry (a shard's -o
 * named scan-J.* for another shard J in the plan's folder is refused); a frontier
 * folder edited to lie outside ROOT, or spelled with "", "." or ".."
 * names, is refused (exit 2) naming it, before any shard runs; a record
 * that is not one is said to be unreadable, not absent; `--shards` and
 * planShards take the same range.
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { MAX_SHARDS, planShards, readPlan, runShard } from "../mod.ts";
import { cli } from "./helpers/run.ts";
import { makePlan, runShards, shardArgs, unionLines, wholeLines } from "./helpers/shard.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";

/** A small tree: four folders of one file each. */
async function fourFolders(root: string): Promise<void> {
  for (const d of ["a", "b", "c", "d"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
}

/** TMP/tree (fourFolders) planned into 3 shards in TMP/scan, each run: the folder, plan and shard count. */
async function threeShardScan(
  tmp: string,
): Promise<{ dir: string; plan: string; shards: number }> {
  const root = `${tmp}/tree`;
  await fourFolders(root);
  const dir = `${tmp}/scan`;
  await Deno.mkdir(dir);
  const plan = `${dir}/plan.json`;
  const p = await makePlan(root, 3, plan);
  await runShards(plan, dir, p.shards);
  return { dir, plan, shards: p.shards };
}

/**
 * TMP/tree (fourFolders) planned into 2 shards in TMP/scan (--min-folders
 * 2), shard i run into TMP/scan/outs[i]: the folder, plan file and plan.
 */
async function twoShardScan(tmp: string, outs: readonly [string, string]) {
  const root = `${tmp}/tree`;
  await fourFolders(root);
  const dir = `${tmp}/scan`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  const p = await makePlan(root, 2, planFile, ["--min-folders", "2"]);
  assertEquals(p.shards, 2);
  for (const [i, out] of outs.entries()) {
    const r = await cli(shardArgs(planFile, i, `${dir}/${out}`));
    assertEquals(r.code, 0, r.stderr);
  }
  return { dir, planFile, p };
}

Deno.test("status names shard outputs no record names: a rerun's old output under another suffix, a zero-padded name", async () => {
  await using tmp = await tempDir();
  const { dir, plan, shards } = await threeShardScan(tmp.path);
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
  for (let i = 0; i < shards; i++) {
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
  // a glob of scan-* reads these: said so
  assertStringIncludes(t.text, `${dir}/scan-*.csv.zst reads them too: remove them)\n`);
  // strays that glob does not read (a .csv.gz, a .csv): not said so
  await Deno.remove(`${dir}/scan-01.csv.zst`);
  await Deno.remove(`${dir}/scan-2.csv.zst`);
  await Deno.copyFile(`${dir}/scan-2.csv.gz`, `${dir}/scan-02.csv.gz`);
  await Deno.writeTextFile(`${dir}/scan-7.csv`, "");
  const u = await cli(["status", dir]);
  assertEquals(u.code, 0, u.stderr);
  assertStringIncludes(u.text, "\nstray files: scan-02.csv.gz, scan-7.csv (not this plan's");
  assertEquals(u.text.includes("reads them too"), false, u.text);
});

/** The files of a folder, sorted by name. */
function namesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("status: shard outputs that done records name are no strays, whatever scan-J number they carry", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  const p = await makePlan(root, 3, planFile, ["--min-folders", "5"]);
  assertEquals(p.shards, 3);
  // run by the library (the CLI refuses such names now): shard 0 into
  // scan-1, shard 1 into scan-0, shard 2 into scan-7 (beyond the shards)
  const outs = ["scan-1.csv.zst", "scan-0.csv.zst", "scan-7.csv.zst"];
  const plan = await readPlan(planFile);
  for (const [i, o] of outs.entries()) await runShard(plan, i, { output: `${dir}/${o}` });
  // the outputs the records name, read from the records themselves
  const named = new Set<string>();
  for (const n of namesIn(dir).filter((n) => n.endsWith(".done.json"))) {
    named.add(JSON.parse(await Deno.readTextFile(`${dir}/${n}`)).output);
  }
  assertEquals([...named].sort(), [...outs].sort());
  const j = await cli(["status", dir, "--json"]);
  assertEquals(j.code, 0, j.stderr);
  const s = JSON.parse(j.text);
  assertEquals(s.shards.map((x: { state: string }) => x.state), ["done", "done", "done"]);
  assertEquals(s.strays, []);
  const t = await cli(["status", dir]);
  assertEquals(t.code, 0, t.stderr);
  assert(!t.text.includes("stray"), t.text);
  // a record of another plan naming a file this plan's done record names
  // (written over since): the record is a stray, the output is not
  const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-1.done.json`));
  await Deno.writeTextFile(`${dir}/old.done.json`, JSON.stringify({ ...rec, plan: "another" }));
  assertEquals(rec.output, "scan-1.csv.zst");
  const foreign = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(foreign.strays, ["old.done.json"]);
  // shard 2's canonical name, which its record does not name: still a stray
  await Deno.copyFile(`${dir}/scan-0.csv.zst`, `${dir}/scan-2.csv.zst`);
  const again = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(again.strays, ["old.done.json", "scan-2.csv.zst"]);
});

Deno.test("a shard's -o named scan-J.* in the plan's folder for another shard J: refused (2), nothing written; other names run", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  await Deno.symlink(dir, `${tmp.path}/link`);
  await Deno.mkdir(`${tmp.path}/elsewhere`);
  const planFile = `${dir}/plan.json`;
  const p = await makePlan(root, 3, planFile, ["--min-folders", "5"]);
  assertEquals(p.shards, 3);
  const before = namesIn(dir);
  for (
    const [shard, out] of [
      [0, `${dir}/scan-1.csv.zst`],
      [1, `${dir}/scan-0.csv`],
      [0, `${dir}/SCAN-2.CSV.GZ`],
      [0, `${dir}/scan-1`],
      [1, `${dir}/scan-01.csv.zst`],
      [0, `${dir}/scan-1.data.csv.zst`],
      [0, `${tmp.path}/link/scan-2.csv.zst`], // the same folder by another path
    ] as const
  ) {
    const r = await cli([...shardArgs(planFile, shard, out), "--errors", `${tmp.path}/e.csv`]);
    assertEquals(r.code, 2, `${shard} ${out}: ${r.stderr}`);
    assertEquals(r.stderr.split("\n").length, 2, r.stderr);
    assertStringIncludes(r.stderr, `pwalk: -o ${out}: in the plan's folder the files scan-J.* `);
    assertEquals(namesIn(dir), before, `${shard} ${out}: written`);
    assert(!(await Deno.lstat(`${tmp.path}/e.csv`).catch(() => null)), "--errors written");
  }
  // other names in the plan's folder, and scan-J elsewhere, run; status
  // takes the records' word for whose they are
  for (
    const [shard, out] of [[0, `${dir}/data-0.csv.zst`], [
      1,
      `${tmp.path}/elsewhere/scan-2.csv.zst`,
    ], [2, `${dir}/scan-2.csv.zst`]] as const
  ) {
    const r = await cli(shardArgs(planFile, shard, out));
    assertEquals(r.code, 0, `${shard} ${out}: ${r.stderr}`);
  }
  const s = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(s.shards.map((x: { state: string }) => x.state), ["done", "missing", "done"]);
  assertEquals(s.strays, []);
});

/** Each file of a folder with its bytes' SHA-256, by name. */
async function contentsOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of namesIn(dir)) {
    const b = await Deno.readFile(`${dir}/${n}`);
    out[n] = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b)))
      .map((x) => x.toString(16).padStart(2, "0")).join("");
  }
  return out;
}

Deno.test("a shard's -o in the folder of another plan (its plan.json another pwalk plan's, or a pwalk plan this pwalk cannot read): refused (2), that scan untouched; a copy of the plan there is the same scan", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const [a, b, c] = ["A", "B", "C"].map((d) => `${tmp.path}/${d}`);
  for (const d of [a, b, c]) await Deno.mkdir(d);
  const pa = await makePlan(root, 2, `${a}/plan.json`, ["--min-folders", "2"]);
  const pb = await makePlan(root, 2, `${b}/plan.json`, ["--min-folders", "2"]);
  assertEquals([pa.shards, pb.shards], [2, 2]);
  await runShards(`${a}/plan.json`, a, pa.shards);
  const before = await contentsOf(a);
  const idA = (await readPlan(`${a}/plan.json`)).id;
  const idB = (await readPlan(`${b}/plan.json`)).id;
  // B's shard 1 into A's folder (a mistyped --plan), under A's name or another
  for (const out of [`${a}/scan-1.csv.zst`, `${a}/data-1.csv.zst`, `${a}/scan-1.csv`]) {
    const r = await cli(shardArgs(`${b}/plan.json`, 1, out));
    assertEquals(r.code, 2, `${out}: ${r.stderr}`);
    assertEquals(r.stderr.split("\n").length, 2, r.stderr);
    assertStringIncludes(
      r.stderr,
      `pwalk: -o ${out}: its folder holds another plan (${a}/plan.json, plan ${idA}), ` +
        `not --plan ${b}/plan.json (plan ${idB})`,
    );
    assertEquals(await contentsOf(a), before, `${out}: A's folder changed`);
  }
  // B's plan put in A's folder by another name: A's plan.json decides
  await Deno.copyFile(`${b}/plan.json`, `${a}/p2.json`);
  const beside = await cli(shardArgs(`${a}/p2.json`, 1, `${a}/scan-1.csv.zst`));
  assertEquals(beside.code, 2, beside.stderr);
  assertStringIncludes(
    beside.stderr,
    `its folder holds another plan (${a}/plan.json, plan ${idA})`,
  );
  await Deno.remove(`${a}/p2.json`);
  assertEquals(await contentsOf(a), before);
  // a pwalk plan there that this pwalk cannot read (another version, cut
  // short): it may be another scan's, refused too
  const text = await Deno.readTextFile(`${a}/plan.json`);
  for (
    const [bad, why] of [
      [text.replace('"version": 1', '"version": 2'), "version 2, this pwalk reads 1"],
      [text.slice(0, text.length >> 1), "not JSON ("],
    ]
  ) {
    assertNotEquals(bad, text);
    await Deno.writeTextFile(`${c}/plan.json`, bad);
    const r = await cli(shardArgs(`${b}/plan.json`, 0, `${c}/scan-0.csv.zst`));
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(
      r.stderr,
      `its folder holds ${c}/plan.json, a pwalk plan this pwalk cannot read (${why}`,
    );
    assertEquals(namesIn(c), ["plan.json"]);
  }
  const st = JSON.parse((await cli(["status", a, "--json"])).text);
  assertEquals(st.shards.map((x: { state: string }) => x.state), ["done", "done"]);
  assertEquals(st.strays, []);
  // A's plan given by a copy elsewhere: A's folder is its scan folder
  // (same content), so scan-J there is still shard J's
  await Deno.copyFile(`${a}/plan.json`, `${tmp.path}/copy.json`);
  const wrong = await cli(shardArgs(`${tmp.path}/copy.json`, 0, `${a}/scan-1.csv.zst`));
  assertEquals(wrong.code, 2, wrong.stderr);
  assertStringIncludes(wrong.stderr, "in the plan's folder the files scan-J.* are shard J's");
  assertEquals(await contentsOf(a), before);
  const right = await cli(shardArgs(`${tmp.path}/copy.json`, 1, `${a}/scan-1.csv.zst`));
  assertEquals(right.code, 0, right.stderr);
  const again = JSON.parse((await cli(["status", a, "--json"])).text);
  assertEquals(again.shards.map((x: { state: string }) => x.state), ["done", "done"]);
});

Deno.test("a shard's -o in a folder whose plan.json is no pwalk plan (a Terraform plan, JSON of anything else, other text): the shard runs and is recorded", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const planFile = `${tmp.path}/plan.json`;
  const p = await makePlan(root, 2, planFile, ["--min-folders", "2"]);
  assertEquals(p.shards, 2);
  const w = `${tmp.path}/w`;
  await Deno.mkdir(w);
  const others = ['{"format_version":"1.2"}', "{}", "[]", "null", "plan: yes\n", ""];
  for (const [k, other] of others.entries()) {
    await Deno.writeTextFile(`${w}/plan.json`, other);
    const out = `${w}/out-${k}.csv`;
    const r = await cli(shardArgs(planFile, 0, out));
    assertEquals(r.code, 0, `${JSON.stringify(other)}: ${r.stderr}`);
    // the output is the one its record describes (size, SHA-256)
    const rec = JSON.parse(await Deno.readTextFile(`${w}/out-${k}.done.json`));
    assertEquals(rec.shard, 0);
    assertEquals(rec.outputBytes, (await Deno.stat(out)).size);
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(out))),
    ).map((x) => x.toString(16).padStart(2, "0")).join("");
    assertEquals(rec.sha256, sha);
    assertEquals(await Deno.readTextFile(`${w}/plan.json`), other);
  }
});

Deno.test("status: two records of one shard (outputs of two names): the latest run's is taken, said so, the earlier one's files are strays; summary reads the latest", async () => {
  await using tmp = await tempDir();
  const { dir, planFile, p } = await twoShardScan(tmp.path, ["scan-0.csv.zst", "data-1.csv.zst"]);
  // a file added in one of shard 1's frontier folders, then shard 1 run
  // again under its own name: the newer run, a row more
  const f = p.frontier.find((x) => x.shard === 1)!;
  await Deno.writeTextFile(`${f.path}/added`, "x");
  const again = await cli(shardArgs(planFile, 1, `${dir}/scan-1.csv.zst`));
  assertEquals(again.code, 0, again.stderr);
  const older = JSON.parse(await Deno.readTextFile(`${dir}/data-1.done.json`));
  const newer = JSON.parse(await Deno.readTextFile(`${dir}/scan-1.done.json`));
  assert(Date.parse(newer.end) > Date.parse(older.end), `${older.end} ${newer.end}`);
  assertEquals(newer.rows, older.rows + 1);
  const j = await cli(["status", dir, "--json"]);
  assertEquals(j.code, 0, j.stderr);
  const st = JSON.parse(j.text);
  assertEquals(st.shards.map((x: { state: string }) => x.state), ["done", "done"]);
  assertEquals(st.shards[1].record, newer);
  assertEquals(st.shards[1].output, `${dir}/scan-1.csv.zst`);
  assertEquals(st.strays, ["data-1.csv.zst", "data-1.done.json"]);
  const t = await cli(["status", dir]);
  assertStringIncludes(
    t.text,
    `ended ${newer.end}; the latest of 2 records (by their end): earlier run data-1.done.json set aside`,
  );
  assertStringIncludes(t.text, "stray files: data-1.csv.zst, data-1.done.json (");
  // no glob of scan-* reads data-1.csv.zst: not said to
  assertEquals(t.text.includes("scan-*.csv.zst reads them too"), false, t.text);
  // the merge reads the latest run's output: its rows, the added file's among them
  const zero = JSON.parse(await Deno.readTextFile(`${dir}/scan-0.done.json`));
  const sum = await cli(["summary", "--json", dir]);
  assertEquals(sum.code, 0, sum.stderr);
  const js = JSON.parse(sum.text);
  assertEquals(js.scans, [`${dir}/scan-0.csv.zst`, `${dir}/scan-1.csv.zst`]);
  assertEquals(js.totals.entries, zero.rows + newer.rows);
});

/** The inode and path of each row of CSV lines (line keys): what a walk listed. */
function listed(lines: string[]): string[] {
  return lines.map((l) => /^(\d+),-?\d+,-?\d+,"([^"]*)"/.exec(l)).map((m) => `${m![1]} ${m![2]}`)
    .sort();
}

Deno.test("a scan folder inside ROOT that the scan does not enter (--exclude): plan -o, a shard's -o and slurm --out take it, as a report does; one the scan enters is still refused", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  const dir = `${root}/x/scan`; // under an excluded folder
  await Deno.mkdir(dir, { recursive: true });
  const planFile = `${dir}/plan.json`;
  const p = await makePlan(root, 2, planFile, ["--exclude", `${root}/x`, "--min-folders", "2"]);
  assertEquals(p.shards, 2);
  for (let i = 0; i < p.shards; i++) {
    const r = await cli(shardArgs(planFile, i, `${dir}/scan-${i}.csv.zst`));
    assertEquals(r.code, 0, r.stderr);
  }
  const st = await cli(["status", dir]);
  assertEquals(st.code, 0, st.stdout);
  // the shards listed what a whole run with the same exclude lists: nothing of the scan folder
  const whole = listed(await wholeLines(root, ["report", "--exclude", `${root}/x`]));
  const union = listed(await unionLines(dir, p.shards));
  assertEquals(union, whole);
  assert(!union.some((l) => l.includes("/x/")), "the scan folder listed");
  const dry = await cli([
    "slurm",
    root,
    "--shards",
    "2",
    "--exclude",
    `${root}/x`,
    "--out",
    `${root}/x/s`,
    "--dry-run",
  ]);
  assertEquals(dry.code, 0, dry.stderr);
  // folders the scan enters: refused, as before, and left untouched (no
  // write test's probe file made there first: its mtime and ctime stay)
  const tail = "the shards would list each other's outputs; choose a folder outside it";
  const times = async (dir: string) => {
    const st = await Deno.lstat(dir);
    return [st.mtime?.getTime(), st.ctime?.getTime()];
  };
  for (
    const [args, folder] of [
      [["plan", root, "--shards", "2", "--exclude", `${root}/x`, "-o", `${root}/a/p.json`], "a"],
      [["plan", root, "--shards", "2", "-o", `${root}/x/p.json`], "x"],
      [["slurm", root, "--shards", "2", "--out", `${root}/x/s2`, "--dry-run"], "x"],
      [shardArgs(planFile, 0, `${root}/b/scan-0.csv.zst`), "b"],
    ] as const
  ) {
    const before = await times(`${root}/${folder}`);
    const r = await cli([...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(r.stderr, tail);
    assertEquals(await times(`${root}/${folder}`), before, `${args.join(" ")}: ${folder} changed`);
  }
  assert(!(await Deno.lstat(`${root}/x/s2`).catch(() => null)), "slurm --out made");
});

Deno.test({
  name:
    "a scan folder inside ROOT on another file system: taken with -x (the scan does not enter it), refused without",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await fourFolders(root);
    const m = `${root}/m`;
    await Deno.mkdir(m);
    assertEquals(await mountTmpfs(m, "size=16m"), "");
    assertNotEquals((await Deno.stat(m)).dev, (await Deno.stat(root)).dev);
    const planFile = `${m}/plan.json`;
    const p = await makePlan(root, 2, planFile, ["-x", "--min-folders", "2"]);
    assertEquals(p.shards, 2);
    for (let i = 0; i < p.shards; i++) {
      const r = await cli(shardArgs(planFile, i, `${m}/scan-${i}.csv.zst`));
      assertEquals(r.code, 0, r.stderr);
    }
    assertEquals((await cli(["status", m])).code, 0);
    const whole = listed(await wholeLines(root, ["report", "-x"]));
    assertEquals(listed(await unionLines(m, p.shards)), whole);
    assert(!whole.some((l) => l.includes("/m/")), "the mount's files listed");
    const dry = await cli(["slurm", root, "-x", "--shards", "2", "--out", `${m}/s`, "--dry-run"]);
    assertEquals(dry.code, 0, dry.stderr);
    // without -x the scan enters the mount: refused
    for (
      const args of [
        ["plan", root, "--shards", "2", "-o", `${m}/p2.json`],
        ["slurm", root, "--shards", "2", "--out", `${m}/s2`, "--dry-run"],
      ]
    ) {
      const r = await cli(args);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assertStringIncludes(r.stderr, `is inside ${root}: the shards would list`);
    }
  },
});

Deno.test("status: of two records of one shard, a latest run that left no whole output is set aside and the earlier whole one taken (never called a stray); none whole: failed, no stray; summary reads what status takes", async () => {
  await using tmp = await tempDir();
  const { dir, planFile } = await twoShardScan(tmp.path, ["scan-0.csv", "scan-1.csv"]);
  // shard 0 run again under another name: the newer record
  const again = await cli(shardArgs(planFile, 0, `${dir}/data-0.csv`));
  assertEquals(again.code, 0, again.stderr);
  const older = JSON.parse(await Deno.readTextFile(`${dir}/scan-0.done.json`));
  const newer = JSON.parse(await Deno.readTextFile(`${dir}/data-0.done.json`));
  const one = JSON.parse(await Deno.readTextFile(`${dir}/scan-1.done.json`));
  assert(Date.parse(newer.end) > Date.parse(older.end), `${older.end} ${newer.end}`);
  const statusOf = async (...more: string[]) => {
    const j = await cli(["status", dir, "--json", ...more]);
    assert(j.code === 0 || j.code === 1, j.stderr);
    return JSON.parse(j.text);
  };
  const summaryOf = async () => {
    const s = await cli(["summary", "--json", dir]);
    assertEquals(s.code, 0, s.stderr);
    return JSON.parse(s.text);
  };
  // both whole: the newer is taken (as before)
  assertEquals((await statusOf()).shards[0].record, newer);

  // the newer output emptied: the older whole one is the shard's
  await Deno.writeFile(`${dir}/data-0.csv`, new Uint8Array());
  assertEquals((await Deno.stat(`${dir}/data-0.csv`)).size, 0);
  assertEquals((await Deno.stat(`${dir}/scan-0.csv`)).size, older.outputBytes);
  let st = await statusOf();
  assertEquals(st.shards.map((x: { state: string }) => x.state), ["done", "done"]);
  assertEquals(st.shards[0].record, older);
  assertEquals(st.shards[0].output, `${dir}/scan-0.csv`);
  assertEquals(st.strays, ["data-0.csv", "data-0.done.json"]);
  const t = await cli(["status", dir]);
  assertEquals(t.code, 0, t.stderr);
  assertStringIncludes(
    t.text,
    `ended ${older.end}; scan-0.done.json taken, an earlier run's; set aside the later run, ` +
      `which left no whole output: data-0.done.json: its output data-0.csv has 0 bytes, the ` +
      `record says ${newer.outputBytes.toLocaleString("en-US")}\n`,
  );
  assertStringIncludes(t.text, "stray files: data-0.csv, data-0.done.json (");
  const sum = await summaryOf();
  assertEquals(sum.scans, [`${dir}/scan-0.csv`, `${dir}/scan-1.csv`]);
  assertEquals(sum.totals.entries, older.rows + one.rows);

  // the newer output its recorded size but not its bytes: taken by size,
  // set aside by --verify (its SHA-256)
  const good = await Deno.readFile(`${dir}/scan-0.csv`);
  const bad = new Uint8Array(newer.outputBytes).fill(0x78);
  bad.set(good.subarray(0, Math.min(good.length, bad.length - 1)));
  await Deno.writeFile(`${dir}/data-0.csv`, bad);
  assertEquals((await statusOf()).shards[0].record, newer);
  st = await statusOf("--verify");
  assertEquals(st.shards[0].record, older);
  assertEquals(st.strays, ["data-0.csv", "data-0.done.json"]);

  // no whole output: failed, by the latest record, each named, no stray
  await Deno.writeFile(`${dir}/data-0.csv`, new Uint8Array());
  await Deno.writeFile(`${dir}/scan-0.csv`, good.subarray(0, good.length - 1));
  st = await statusOf();
  assertEquals(st.shards.map((x: { state: string }) => x.state), ["failed", "done"]);
  assertEquals(st.strays, []);
  assertStringIncludes(st.shards[0].detail, "data-0.done.json: its output data-0.csv has 0 bytes");
  assertStringIncludes(
    st.shards[0].detail,
    `the earlier run's output is not whole either (scan-0.done.json: its output scan-0.csv has ` +
      `${(good.length - 1).toLocaleString("en-US")} bytes`,
  );
  const no = await cli(["summary", "--json", dir]);
  assertNotEquals(no.code, 0);
  assertStringIncludes(no.stderr, "shard 0: failed");
});

/** Every path below `dir` (links not followed), sorted. */
function treeOf(dir: string, pre = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${dir}${pre}`)) {
    out.push(`${pre}/${e.name}`);
    if (e.isDirectory) out.push(...treeOf(dir, `${pre}/${e.name}`));
  }
  return out.sort();
}

Deno.test("plan -o and a shard's -o inside ROOT (as reached through links): refused (2) as slurm --out is, nothing written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  await Deno.symlink(`${root}/a`, `${tmp.path}/into`);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  await makePlan(root, 2, planFile);
  const before = treeOf(root);
  const tail = ": the shards would list each other's outputs; choose a folder outside it (or " +
    "one the scan does not enter: excluded, or with -x on another file system)\n";
  const cases: [string[], string, string?][] = [
    [["plan", root, "--shards", "2", "-o", `${root}/p.json`], `-o ${root}/p.json`],
    [["plan", root, "--shards", "2", "-o", `${root}/a/p.json`], `-o ${root}/a/p.json`],
    [
      ["plan", root, "--shards", "2", "-o", `${tmp.path}/into/p.json`],
      `-o ${tmp.path}/into/p.json`,
    ],
    [["plan", ".", "--shards", "2", "-o", "p.json"], "-o p.json", root],
    [shardArgs(planFile, 0, `${root}/b/scan-0.csv.zst`), `-o ${root}/b/scan-0.csv.zst`],
    [shardArgs(planFile, 1, `${tmp.path}/into/s-1.csv`), `-o ${tmp.path}/into/s-1.csv`],
    [shardArgs(planFile, 1, "s-1.csv"), "-o s-1.csv", `${root}/c`],
    [
      ["slurm", root, "--shards", "2", "--out", `${tmp.path}/into/s`, "--dry-run"],
      `${tmp.path}/into/s`,
    ],
  ];
  for (const [args, what, cwd] of cases) {
    const r = await cli(args, { cwd });
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const named = args[0] === "plan" && args[1] === "." ? "." : root;
    assertEquals(r.stderr, `pwalk: ${what} is inside ${named}${tail}`);
    assertEquals(treeOf(root), before, `${args.join(" ")}: written`);
  }
  // outside ROOT, both run
  const ok = await cli(shardArgs(planFile, 0, `${dir}/scan-0.csv.zst`));
  assertEquals(ok.code, 0, ok.stderr);
  const plan2 = await cli(["plan", root, "--shards", "2", "-o", `${tmp.path}/p2.json`]);
  assertEquals(plan2.code, 0, plan2.stderr);
  assertEquals(treeOf(root), before);
});

Deno.test("status escapes what it prints: the folder, ROOT, a record's host, a Slurm log's last line, a stray's name", async () => {
  await using tmp = await tempDir();
  // an escape sequence, a title (OSC ... BEL), a line break and a C1 control (CSI)
  const odd = "x\x1b[31mRED\x1b]0;title\x07\nnext\u009b";
  const shown = "x\\x1b[31mRED\\x1b]0;title\\x07\\nnext\\xc2\\x9b"; // as eprint writes it
  const root = `${tmp.path}/R${odd}`;
  await fourFolders(root);
  const dir = `${tmp.path}/D${odd}`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  const p = await makePlan(root, 3, planFile, ["--min-folders", "5"]);
  assertEquals(p.shards, 3);
  // shard 0 done (its record's host edited), shard 1 failed in a Slurm log,
  // a record of another plan under an odd name
  const r0 = await cli(shardArgs(planFile, 0, `${dir}/scan-0.csv.zst`));
  assertEquals(r0.code, 0, r0.stderr);
  const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-0.done.json`));
  await Deno.writeTextFile(
    `${dir}/scan-0.done.json`,
    JSON.stringify({ ...rec, host: `node${odd}` }),
  );
  await Deno.mkdir(`${dir}/logs`);
  await Deno.writeTextFile(`${dir}/logs/7_1.out`, `started\nboom ${odd.replace("\n", " ")}\n`);
  await Deno.writeTextFile(
    `${dir}/old${odd}.done.json`,
    JSON.stringify({ ...rec, plan: "another", shard: 2, output: "gone.csv.zst" }),
  );
  const r = await cli(["status", dir]);
  assertEquals(r.code, 1, r.stderr);
  // deno-lint-ignore no-control-regex
  assert(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(r.text), JSON.stringify(r.text));
  const lines = r.text.split("\n");
  assertEquals(lines.length, 1 + 3 + 2 + 1, r.text); // head, shards, total, strays, ""
  assert(lines[0].startsWith(`${tmp.path}/D${shown}: 3 shards of ${tmp.path}/R${shown} (plan `));
  assertStringIncludes(lines[1], `, node${shown}, `);
  assertStringIncludes(lines[2], `logs/7_1.out: boom ${shown.replace("\\n", " ")}`);
  assertStringIncludes(lines[5], `old${shown}.done.json`);
  // --json: JSON's own escapes, the values as they are
  const j = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(j.plan.root.path, root);
  assertEquals(j.shards[0].record.host, `node${odd}`);
});

Deno.test("a plan whose frontier folder is not ROOT/NAME/... (edited by hand): status and a shard refuse it (2), naming it", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/T`;
  await fourFolders(root);
  await fourFolders(`${tmp.path}/T2`);
  await Deno.mkdir(`${tmp.path}/Tops`);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const planFile = `${dir}/plan.json`;
  const plan = await makePlan(root, 2, planFile);
  const f0 = plan.frontier[0];
  assertEquals(f0.path, `${root}/a`); // as planned: ROOT/NAME
  const good = await cli(shardArgs(planFile, f0.shard, `${tmp.path}/good.csv.zst`));
  assertEquals(good.code, 0, good.stderr);
  for (
    const path of [
      `${tmp.path}/T2/a`,
      `${root}/../T2`,
      `${root}/./a`,
      `${root}//a`,
      `${root}/a/`,
      `${root}/`,
      `${tmp.path}/Tops`,
      `${root}/..`,
    ]
  ) {
    const edited = { ...plan, frontier: [{ ...f0, path }, ...plan.frontier.slice(1)] };
    await Deno.writeTextFile(planFile, JSON.stringify(edited, null, 1) + "\n");
    const out = `${tmp.path}/bad-${f0.shard}.csv.zst`;
    for (const args of [["status", dir], shardArgs(planFile, f0.shard, out)]) {
      const r = await cli(args);
      assertEquals(r.code, 2, `${path}: ${args.join(" ")}: ${r.stderr}`);
      assertEquals(
        r.stderr,
        `pwalk: ${planFile}: frontier folder ${JSON.stringify(path)} (shard ${f0.shard}) is ` +
          `not a folder below the plan's root ${JSON.stringify(root)} spelled as the plan ` +
          "spells it (ROOT/NAME/...): the shard cannot walk it; make a new plan\n",
      );
    }
    assert(!(await Deno.lstat(out).catch(() => null)), `${path}: a shard ran`);
  }
});

Deno.test("a completion record that cannot be read: status says so, not that the record is absent", async () => {
  await using tmp = await tempDir();
  const { dir } = await threeShardScan(tmp.path);
  await Deno.writeTextFile(`${dir}/scan-1.done.json`, "{");
  await Deno.writeTextFile(`${dir}/scan-2.done.json`, "{}\n");
  const s = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(
    s.shards.map((x: { state: string; detail?: string }) => `${x.state}: ${x.detail ?? ""}`),
    [
      "done: ",
      "incomplete: scan-1.done.json is unreadable (not JSON), so scan-1.csv.zst is not known " +
      "whole: run the shard again",
      "incomplete: scan-2.done.json is unreadable (not a pwalk completion record), so " +
      "scan-2.csv.zst is not known whole: run the shard again",
    ],
  );
  await Deno.remove(`${dir}/scan-1.done.json`);
  const gone = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(
    gone.shards[1].detail,
    "scan-1.csv.zst is there without its record scan-1.done.json: its run did not end, or " +
      "could not write the record; run the shard again",
  );
});

Deno.test("--shards and planShards take one range: 1 to MAX_SHARDS (100,000)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await fourFolders(root);
  assertEquals(MAX_SHARDS, 100_000);
  for (const n of [0, MAX_SHARDS + 1]) {
    for (const cmd of ["plan", "slurm"]) {
      const r = await cli([cmd, root, "--shards", String(n), "--out", `${tmp.path}/s`, "--dry-run"]
        .slice(0, cmd === "plan" ? 4 : 8));
      assertEquals(r.code, 2, `${cmd} ${n}: ${r.stderr}`);
      assertStringIncludes(r.stderr, "--shards");
    }
    await assertRejects(() => planShards(root, { shards: n }), RangeError);
  }
  // the top of the range is taken (a tree of 4 folders gets fewer shards)
  const p = await planShards(root, { shards: MAX_SHARDS });
  assertEquals(p.requestedShards, MAX_SHARDS);
  assert(p.shards >= 1 && p.shards < MAX_SHARDS, `${p.shards} shards`);
  const r = await cli(["plan", root, "--shards", String(MAX_SHARDS), "-o", `${tmp.path}/p.json`]);
  assertEquals(r.code, 0, r.stderr);
});
