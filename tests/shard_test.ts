/**
 * Sharded scans without Slurm: `pwalk plan`, then N `pwalk report --plan
 * --shard I` processes at once; their outputs together must be a single
 * run's rows (sorted lines byte-identical; pw_fcount and pw_dirsum are in
 * every line) for every report option, on a tree with hostile names.
 *
 * Independent checks: the single run (`pwalk ROOT`, itself tested against
 * the reference elsewhere) and, once, the reference itself
 * (helpers/reference.ts); the `zstd` command decompresses; lstat by raw
 * bytes checks the planned frontier; Web Crypto checks the completion
 * records' SHA-256; DuckDB reads the shard files as one glob.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { concat } from "./helpers/bytes.ts";
import { shimTest } from "./helpers/shim.ts";
import { lockShard } from "../lib/shard/lock.ts";
import { key, lineSet, parsePwalk, type PwalkRow, splitHeader } from "./helpers/csv.ts";
import { duck } from "./helpers/duckdb.ts";
import { assertRowsMatch } from "./helpers/compare.ts";
import { printable, settledReference } from "./helpers/reference.ts";
import { CLI, cli, deno, REPO, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import {
  assertSameLines,
  bash,
  checkFrontier,
  checkRecords,
  makePlan,
  planPath,
  runShards,
  shardArgs,
  shardOutputs,
  shardTree,
  type TestPlan,
  unionLines,
  unzstd,
  wholeLines,
} from "./helpers/shard.ts";
import {
  canMountTmpfs,
  mountBind,
  mountOverlay,
  mountTmpfs,
  scratchDir,
  tempDir,
} from "./helpers/temp.ts";
import { flatTree, mktree, python } from "./helpers/tree.ts";
import {
  PlanError,
  PlanMismatchError,
  planShards,
  readPlan,
  runShard,
  ScanFolderError,
  scriptFolders,
  ShardBusyError,
  slurmScan,
  slurmScript,
  submitShards,
} from "../mod.ts";
import { existsSync } from "node:fs";
import { CC, FUSERMOUNT, PKG_CONFIG, SETPRIV, testNeeding, ZSTD } from "./helpers/system.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { iecTenths } from "./helpers/units.ts";

const DUCKDB_COLUMNS = "names=['inode','parent_inode','depth','filename','ext','uid','gid'," +
  "'size','dev','blocks','nlink','mode','atime','mtime','ctime','fcount','dirsum']";

async function duckCount(glob: string): Promise<number> {
  const q = `SELECT count(*) FROM read_csv('${glob}', header=false, ${DUCKDB_COLUMNS})`;
  return (await duck(q))[0][0];
}

let tree: string | undefined;
/** The hostile tree, built once for the module (its atimes settled by a first read). */
async function sharedTree(): Promise<string> {
  if (!tree) {
    tree = `${scratchDir()}/tree`;
    await shardTree(tree);
    await wholeLines(tree); // settle folder atimes (relatime)
  }
  return tree;
}

/** Plan, run every shard at once, and check the union, the frontier and the records. */
async function shardedEqualsWhole(
  root: string,
  dir: string,
  shards: number,
  args: string[],
  exclude: string[] = [],
  planOnly: string[] = [],
): Promise<TestPlan> {
  const whole = await wholeLines(root, args);
  const plan = await makePlan(root, shards, `${dir}/plan.json`, [...args, ...planOnly]);
  checkFrontier(plan, exclude);
  await runShards(`${dir}/plan.json`, dir, plan.shards);
  assertSameLines(await unionLines(dir, plan.shards), whole, "the shards' union");
  await checkRecords(dir, plan);
  return plan;
}

testNeeding([ZSTD], {
  name: "shards of a hostile tree equal a single run, for every report option",
  async fn(t) {
    const root = await sharedTree();
    await using tmp = await tempDir();
    const dirs = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name)
      .sort();
    // a folder of the first level, and a deeper one
    const deeper = [...Deno.readDirSync(`${root}/${dirs[1]}`)].find((e) => e.isDirectory)!.name;
    const exclude = [`${root}/${dirs[0]}`, `${root}/${dirs[1]}/${deeper}`];
    await Deno.writeTextFile(`${tmp.path}/exclude.txt`, exclude.join("\n") + "\n");
    const cases: [string, string[], string[]][] = [
      ["no option", [], []],
      ["--header", ["--header"], []],
      ["--NoSnap", ["--NoSnap"], []],
      ["--depth 3", ["--depth", "3"], []],
      ["--exclude", ["--exclude", `${tmp.path}/exclude.txt`], exclude],
      ["--NoSnap --depth 4 --header", ["--NoSnap", "--depth", "4", "--header"], []],
    ];
    let i = 0;
    for (const [name, args, excluded] of cases) {
      await t.step(name, async () => {
        const dir = `${tmp.path}/scan${i++}`;
        await Deno.mkdir(dir);
        const plan = await shardedEqualsWhole(root, dir, 3, args, excluded);
        assertEquals(plan.shards, 3);
        if (name === "no option") {
          // the frontier holds folders the planner reached by bytes only
          assert(plan.frontier.some((f) => f.pathBase64), "no frontier folder that is not UTF-8");
          assert(
            plan.frontier.some((f) => f.path.includes("\n")),
            "no frontier folder with a newline",
          );
        }
        if (args.includes("--header")) {
          const outs = await shardOutputs(dir, plan.shards);
          const header = splitHeader(outs[0]).header;
          assertMatch(header, /^inode,parent-inode,directory-depth,"filename"/);
          const all = lineSet(concat(...outs)).filter((l) => l === header);
          assertEquals(all.length, 1, "the header is in the union once");
        }
      });
    }
  },
});

testNeeding([ZSTD], {
  name: "shards of the hostile tree equal the independent reference",
  async fn() {
    const root = await sharedTree();
    await using tmp = await tempDir();
    const plan = await makePlan(root, 4, `${tmp.path}/plan.json`);
    await runShards(`${tmp.path}/plan.json`, tmp.path, plan.shards);
    const union = concat(...await shardOutputs(tmp.path, plan.shards));
    assertRowsMatch(parsePwalk(union).rows, settledReference(root).rows);
  },
});

/** A tree of three folders a, b, c, a file f in each: the smallest a plan splits. */
async function threeFolders(root: string): Promise<void> {
  for (const d of ["a", "b", "c"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
}

Deno.test("DuckDB reads a sharded scan as one glob: the single run's count and sums", async () => {
  // (DuckDB reads only UTF-8: a tree without the hostile names)
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 1500, 2);
  const whole = `${tmp.path}/whole.csv.zst`;
  for (let i = 0; i < 2; i++) assertEquals((await cli(["-o", whole, root])).code, 0);
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 4, `${dir}/plan.json`);
  await runShards(`${dir}/plan.json`, dir, plan.shards);
  const q = (from: string) =>
    `SELECT count(*), sum(size), sum(fcount), count(DISTINCT inode) FROM read_csv('${from}', ` +
    `header=false, ${DUCKDB_COLUMNS})`;
  assertEquals(await duck(q(`${dir}/scan-*.csv.zst`)), await duck(q(whole)));
});

testNeeding([ZSTD], {
  name: "-x: shards stay on the root's file system, as a single run does",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await shardTree(root, 600, 9);
    const dirs = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name)
      .sort();
    const mnt = `${root}/${dirs[0]}/mnt`;
    await Deno.mkdir(mnt);
    assertEquals(await mountTmpfs(mnt, "size=4m"), "");
    for (let d = 0; d < 20; d++) {
      await Deno.mkdir(`${mnt}/d${d}/e`, { recursive: true });
      await Deno.writeTextFile(`${mnt}/d${d}/e/f.txt`, "on the tmpfs");
    }
    await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await shardedEqualsWhole(root, dir, 3, ["-x"]);
    assert(!plan.frontier.some((f) => f.path.startsWith(mnt)), "a folder on the tmpfs was planned");
    // without -x the tmpfs is walked, and may be planned
    const dir2 = `${tmp.path}/scan2`;
    await Deno.mkdir(dir2);
    const plan2 = await shardedEqualsWhole(root, dir2, 3, [], [], ["--min-folders", "200"]);
    assert(plan2.frontier.some((f) => f.path.startsWith(mnt)), "the tmpfs was not planned");
  },
});

testNeeding([ZSTD], {
  name: "plans are deterministic; --from a previous scan gives exact estimates",
  async fn() {
    const root = await sharedTree();
    await using tmp = await tempDir();
    const a = await makePlan(root, 3, `${tmp.path}/a.json`);
    const b = await makePlan(root, 3, `${tmp.path}/b.json`);
    assertNotEquals(a.id, b.id);
    assertEquals(a.frontier, b.frontier);
    assertEquals(a.estimate, b.estimate);

    // a previous scan, as one file and as the folder of a sharded scan
    const scan = `${tmp.path}/whole.csv.zst`;
    const r = await cli(["-o", scan, root]);
    assertEquals(r.code, 0, r.stderr);
    const rows = parsePwalk(await unzstd(scan)).rows;
    const below = (p: string) =>
      rows.filter((x) => x.key === p || x.key.startsWith(p + "/")).length;
    const c = await makePlan(root, 3, `${tmp.path}/c.json`, ["--from", scan]);
    assertEquals(c.estimate.source, "scan");
    // the same scan as .csv.gz (many gzip members), alone and as a folder's file
    await Deno.mkdir(`${tmp.path}/gz`);
    const gz = `${tmp.path}/gz/whole.csv.gz`;
    assertEquals((await cli(["-o", gz, root])).code, 0);
    for (const [i, from] of [gz, `${tmp.path}/gz`].entries()) {
      const g = await makePlan(root, 3, `${tmp.path}/g${i}.json`, ["--from", from]);
      assertEquals([g.frontier, g.estimate.loads], [c.frontier, c.estimate.loads], from);
    }
    for (const f of c.frontier) {
      // (the rows print names without bytes below 32)
      assertEquals(f.estimate, below(key(printable(planPath(f)))), `the estimate of ${f.path}`);
    }
    // the estimated loads are each shard's rows
    await Deno.mkdir(`${tmp.path}/run`);
    await Deno.copyFile(`${tmp.path}/c.json`, `${tmp.path}/run/plan.json`);
    await runShards(`${tmp.path}/run/plan.json`, `${tmp.path}/run`, c.shards);
    const done = c.estimate.loads.map((_, i) =>
      JSON.parse(Deno.readTextFileSync(`${tmp.path}/run/scan-${i}.done.json`)).rows
    );
    assertEquals(c.estimate.loads, done);
    // shards 1.. are numbered biggest first (a throttled array starts them first)
    const rest = c.estimate.loads.slice(1);
    assertEquals(rest, [...rest].sort((x, y) => y - x));
    // a sharded scan's folder serves as well
    const d = await makePlan(root, 3, `${tmp.path}/d.json`, ["--from", `${tmp.path}/run`]);
    assertEquals(d.frontier, c.frontier);
    // ... reading its plan's shards only: a file left by an older plan of
    // more shards is not counted (summary DIR does not read it either)
    await Deno.copyFile(`${tmp.path}/run/scan-0.csv.zst`, `${tmp.path}/run/scan-7.csv.zst`);
    const e = await makePlan(root, 3, `${tmp.path}/e.json`, ["--from", `${tmp.path}/run`]);
    assertEquals([e.estimate.total, e.estimate.loads], [c.estimate.total, c.estimate.loads]);
    // ... and only when complete: a shard without its record is refused
    await Deno.remove(`${tmp.path}/run/scan-1.done.json`);
    const f = await cli([
      "plan",
      root,
      "--shards",
      "3",
      "-o",
      `${tmp.path}/f.json`,
      "--from",
      `${tmp.path}/run`,
    ]);
    assertEquals(f.code, 1, f.stderr);
    assertMatch(
      f.stderr,
      /^pwalk: [^\n]*\/run: the sharded scan is not complete \(2 of 3 shards done[^\n]*\n$/,
    );
  },
});

testNeeding([ZSTD], {
  name: "a tree with fewer folders than shards gets fewer shards, none empty",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/small`;
    for (const d of ["a", "b"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/f.txt`, d);
    }
    await Deno.writeTextFile(`${root}/top.txt`, "top");
    await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await shardedEqualsWhole(root, dir, 8, []);
    assertEquals([plan.shards, plan.requestedShards, plan.frontier.length], [3, 8, 2]);
    assertEquals(await duckCount(`${dir}/scan-*.csv.zst`), (await wholeLines(root)).length);
    const r = await cli(["report", "--plan", `${dir}/plan.json`, "--shard", "3", "-o", "x.csv"], {
      cwd: tmp.path,
    });
    assertEquals(r.code, 2);
    assertMatch(r.stderr, /^pwalk: --shard needs a whole number from 0 to 2, got '3'\n$/);
  },
});

Deno.test("a relative root: shards run from anywhere print the paths a run from the plan's folder prints", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/work/rel/a/b`, { recursive: true });
  await Deno.mkdir(`${tmp.path}/work/rel/c`, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/work/rel/a/b/f`, "f");
  await Deno.writeTextFile(`${tmp.path}/work/rel/c/g`, "g");
  const work = `${tmp.path}/work`;
  const whole = async () => {
    const r = await cli(["rel"], { cwd: work });
    assertEquals(r.code, 0, r.stderr);
    return lineSet(r.stdout);
  };
  await whole();
  const expected = await whole();
  const plan = await makePlan("rel", 2, "plan.json", [], work);
  assertEquals(plan.root.path, "rel");
  const outs: Uint8Array[] = [];
  for (let i = 0; i < plan.shards; i++) {
    const r = await cli(shardArgs(`${work}/plan.json`, i, `s${i}.csv`, "--errors", `e${i}.csv`), {
      cwd: tmp.path, // not the plan's folder; the output and errors file stay here
    });
    assertEquals(r.code, 0, r.stderr);
    outs.push(await Deno.readFile(`${tmp.path}/s${i}.csv`));
    assertEquals(Deno.readTextFileSync(`${tmp.path}/e${i}.csv`), "path,operation,errno,message\n");
  }
  assertEquals([...Deno.readDirSync(work)].filter((e) => e.name.startsWith("e")), []);
  assertSameLines(lineSet(concat(...outs)), expected, "relative root");
});

Deno.test("a root spelled ./t, t/. or a//t over a folder name that is not UTF-8: planned, shards equal a run", async () => {
  await using tmp = await tempDir();
  // a name that is not UTF-8 makes the planner list with the native walker
  await python(
    `import os, sys
t = os.fsencode(sys.argv[1])
for d in (b"a/\\xff/x", b"a/b", b"c"):
    os.makedirs(os.path.join(t, d))
    open(os.path.join(t, d, b"f"), "w").close()`,
    `${tmp.path}/t`,
  );
  for (const spelled of ["./t", "t/.", `${tmp.path}//t`]) {
    const whole = async () => {
      const r = await cli([spelled], { cwd: tmp.path });
      assertEquals(r.code, 0, r.stderr);
      return lineSet(r.stdout);
    };
    await whole(); // settle folder atimes
    const expected = await whole();
    const plan = await makePlan(spelled, 2, "plan.json", [], tmp.path);
    assertEquals(plan.shards, 2);
    const outs: Uint8Array[] = [];
    for (let i = 0; i < plan.shards; i++) {
      const r = await cli(shardArgs("plan.json", i, `s${i}.csv`), { cwd: tmp.path });
      assertEquals(r.code, 0, r.stderr);
      outs.push(await Deno.readFile(`${tmp.path}/s${i}.csv`));
    }
    assertSameLines(lineSet(concat(...outs)), expected, spelled);
    for (const f of ["plan.json", "s0.csv", "s1.csv", "s0.done.json", "s1.done.json"]) {
      await Deno.remove(`${tmp.path}/${f}`);
    }
  }
});

testNeeding([ZSTD], {
  name: "a plan whose root is another folder now is refused; status tells done, missing, failed",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await shardTree(root, 300, 3);
    await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 3, `${dir}/plan.json`);
    const shard = (i: number) =>
      cli([
        "report",
        "--plan",
        `${dir}/plan.json`,
        "--shard",
        String(i),
        "-o",
        `${dir}/scan-${i}.csv.zst`,
      ]);
    const status = (...a: string[]) => cli(["status", dir, ...a]);

    let s = await status();
    assertEquals(s.code, 1);
    assertMatch(s.text, /^shard 0 {2}missing/m);
    assertMatch(s.text, /3 shards: 3 missing; 0 rows in the 0 shards done so far/);
    for (const i of [0, 2]) assertEquals((await shard(i)).code, 0);
    s = await status("--json");
    assertEquals(s.code, 1);
    const st = JSON.parse(s.text);
    assertEquals(st.shards.map((x: { state: string }) => x.state), ["done", "missing", "done"]);
    assertEquals(st.counts.done, 2);
    const rowsDone = st.shards.reduce(
      (a: number, x: { record?: { rows: number } }) => a + (x.record?.rows ?? 0),
      0,
    );
    assertMatch(
      (await status()).text,
      new RegExp(
        `3 shards: 2 done, 1 missing; ${
          rowsDone.toLocaleString("en-US")
        } rows in the 2 shards done so far`,
      ),
    );
    assertEquals((await shard(1)).code, 0);
    s = await status("--verify");
    assertEquals(s.code, 0, s.text);
    assertMatch(s.text, /3 shards: 3 done; [\d,]+ rows\n/); // all there: not "so far"

    // an output changed after its record: failed
    const f = `${dir}/scan-1.csv.zst`;
    const data = await Deno.readFile(f);
    await Deno.writeFile(f, data.subarray(0, data.length - 1));
    s = await status();
    assertEquals(s.code, 1);
    assertMatch(s.text, /^shard 1 {2}failed +scan-1\.done\.json: its output scan-1\.csv\.zst has/m);
    // both sizes written alike, digits grouped (audit: "has 296,135 bytes, the record says 296235")
    const grouped = (n: number) => n.toLocaleString("en-US");
    assertStringIncludes(
      s.text,
      `has ${grouped(data.length - 1)} bytes, the record says ${grouped(data.length)}\n`,
    );
    data[data.length - 1] ^= 1; // same size, other bytes: only --verify sees it
    await Deno.writeFile(f, data);
    assertEquals((await status()).code, 0);
    s = await status("--verify");
    assertEquals(s.code, 1);
    assertMatch(s.text, /the SHA-256 of scan-1\.csv\.zst is not the record's/);

    // the root replaced by another folder: refused, nothing written
    await Deno.rename(root, `${tmp.path}/old`);
    await Deno.mkdir(root);
    await Deno.remove(`${dir}/scan-2.csv.zst`);
    await Deno.remove(`${dir}/scan-2.done.json`);
    const r = await shard(2);
    assertEquals(r.code, 1);
    assertMatch(
      r.stderr,
      /^pwalk: refused: .* is not the planned folder any more .*make a new plan\n$/,
    );
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("scan-2")), []);
    assertEquals(plan.shards, 3);

    // shard 2's record and output copied in from another plan's folder:
    // still missing here, and status says whose record it is
    const other = `${tmp.path}/other`;
    await Deno.mkdir(other);
    const otherPlan = await makePlan(`${tmp.path}/old`, 3, `${other}/plan.json`);
    const o2 = await cli(shardArgs(`${other}/plan.json`, 2, `${other}/scan-2.csv.zst`));
    assertEquals(o2.code, 0, o2.stderr);
    for (const f of ["scan-2.csv.zst", "scan-2.done.json"]) {
      await Deno.copyFile(`${other}/${f}`, `${dir}/${f}`);
    }
    s = await status();
    assertEquals(s.code, 1);
    assertMatch(
      s.text,
      new RegExp(
        `^shard 2 {2}missing +scan-2\\.done\\.json: a record of another plan \\(${otherPlan.id}\\)`,
        "m",
      ),
    );
  },
});

Deno.test("bad usage of plan, report --plan, slurm, status: one line on stderr, exit 2, nothing written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/notaplan.json`, `{"format":"something else"}`);
  const p = `${tmp.path}/p.json`;
  assertEquals((await cli(["plan", root, "--shards", "2", "-o", p])).code, 0);
  const first = await readPlan(p);
  // a real Parquet scan of the tree (pwalk's own): --from reads CSV only
  const parquet = `${tmp.path}/scan.parquet`;
  assertEquals((await cli(["-o", parquet, root])).code, 0);
  // a scan folder of pwalk plan: a plan, no job.sbatch
  const planned = `${tmp.path}/planned`;
  await Deno.mkdir(planned);
  assertEquals((await cli(["plan", root, "--shards", "2", "-o", `${planned}/plan.json`])).code, 0);
  const cases: [string[], RegExp][] = [
    [["plan", root], /missing --shards N/],
    [
      ["plan", root, "--shards", "2", "--from", parquet],
      /--from .*scan\.parquet: a Parquet scan is not read here .*pwalk convert it to \.csv\.zst/,
    ],
    [
      ["slurm", root, "--shards", "2", "--out", `${tmp.path}/sl`, "--from", parquet],
      /--from .*scan\.parquet: a Parquet scan is not read here/,
    ],
    [["plan", root, "--shards", "0"], /--shards needs a whole number from 1/],
    [["plan", `${tmp.path}/nope`, "--shards", "2"], /nope: No such file or directory/],
    [["plan", root, "--shards", "2", "--from", `${tmp.path}/nope.csv`], /--from .*nope\.csv/],
    [["plan", root, "--shards", "3", "-o", p], /p\.json already holds a plan \(.+, \d shards?\)/],
    // a plan is plain JSON: not under a compressed or archive name
    [
      ["plan", root, "--shards", "2", "-o", `${tmp.path}/q.xz`],
      /q\.xz names xz compression, but a plan is plain JSON/,
    ],
    [
      ["plan", root, "--shards", "2", "-o", `${tmp.path}/q.json.zst`],
      /names zstd compression, but a plan is plain JSON/,
    ],
    [["plan", root, "--shards", "2", "-o", `${tmp.path}/q.tgz`], /a plan is plain JSON/],
    [["report", "--plan", p], /missing --shard I/],
    [["report", "--plan", p, "--shard", "2"], /--shard needs a whole number from 0 to 1/],
    [
      ["report", "--plan", p, "--shard", "0", "--header"],
      /--header: a planned shard uses the plan's/,
    ],
    [["report", "--plan", p, "--shard", "0", root], /no ROOT with --plan/],
    // given once: a second would run another shard (plan) into the output named
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s-0.csv`, "--shard", "1"],
      /^pwalk: --shard given twice: give it once\n$/,
    ],
    [
      ["report", "--plan", p, "--shard=1", "--shard=1", "-o", `${tmp.path}/s-1.csv`],
      /^pwalk: --shard given twice: give it once\n$/,
    ],
    [
      ["report", `--plan=${p}`, "--shard", "0", "--plan", first.id, "-o", `${tmp.path}/s-0.csv`],
      /^pwalk: --plan given twice: give it once\n$/,
    ],
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.parquet`],
      /a shard writes CSV .* Parquet files cannot be/,
    ],
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.csv`, "--level", "5"],
      /^pwalk: --level 5 given for plain CSV to .*s\.csv \(a \.zst or \.gz name compresses\)/,
    ],
    // what a shard writes named, not .parquet, which it refuses
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.xz`],
      /s\.xz names xz compression, which pwalk does not write: name it \.zst or \.gz \(or \.csv for plain CSV\)/,
    ],
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.tar.zst`],
      /s\.tar\.zst names a zstd-compressed tar archive, .*: name it \.zst or \.gz /,
    ],
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.csv.gz`, "--level", "12"],
      /--level needs a whole number from 1 to 9, got '12'/,
    ],
    // gzip's range, not zstd's, named (as a report names it)
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.csv.gz`, "--level", "0"],
      /--level needs a whole number from 1 to 9, got '0'/,
    ],
    [
      ["report", "--plan", p, "--shard", "0", "-o", `${tmp.path}/s.csv.zst`, "--level", "0"],
      /--level needs a whole number from 1 to 19, got '0'/,
    ],
    [["report", "--plan", `${tmp.path}/notaplan.json`, "--shard", "0"], /not a pwalk shard plan/],
    [["report", "--plan", `${tmp.path}/nope.json`, "--shard", "0"], /--plan .*nope\.json/],
    [["slurm", root, "--shards", "2"], /missing --out DIR/],
    [
      ["slurm", root, "--shards", "2", "--out", `${root}/a/scan`],
      /is inside .*choose a folder outside/,
    ],
    [
      ["slurm", root, "--shards", "2", "--out", `${tmp.path}/50%`],
      /50%: Slurm cannot take '%' in a job's log path/,
    ],
    [["slurm", "--resume", tmp.path], /no plan\.json there/],
    [["slurm", "--resume", tmp.path, "--shards", "3"], /--resume takes the plan in DIR as it is/],
    [
      ["slurm", "--resume", planned],
      /planned has a plan but no job\.sbatch \(a folder of pwalk plan, not of pwalk slurm\): run its shards with pwalk report --plan/,
    ],
    [["status", tmp.path], /no plan\.json there/],
    // a folder that is not there is said to be missing, not planless
    [["status", `${tmp.path}/nonexist`], /^pwalk: \S+\/nonexist: no such folder\n$/],
    [["slurm", "--resume", `${tmp.path}/nonexist`], /^pwalk: \S+\/nonexist: no such folder\n$/],
    [["status"], /give one scan folder/],
  ];
  // the shard's own help, with its own options
  const help = await cli(["report", "--plan", p, "--help"]);
  assertEquals(help.code, 0, help.stderr);
  assertMatch(help.text, /^pwalk report --plan: one shard of a planned scan/);
  assertMatch(help.text, /--shard I/);
  // (every case is refused before any work: two at a time, then checked in turn)
  const ran = await pooled(cases, ([args]) => cli(args, { cwd: tmp.path }));
  for (const [i, [args, msg]] of cases.entries()) {
    const r = ran[i];
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertMatch(r.stderr, msg, args.join(" "));
    assertEquals(r.stderr.split("\n").length, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  // a plan into a missing folder: a failure (1), the file asked for named
  const lost = await cli(["plan", root, "--shards", "2", "-o", `${tmp.path}/gone/p.json`]);
  assertEquals(lost.code, 1, lost.stderr);
  assertEquals(
    lost.stderr,
    `pwalk: cannot write ${tmp.path}/gone/p.json: No such file or directory\n`,
  );
  assertEquals(
    [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(),
    ["notaplan.json", "p.json", "planned", "scan.parquet", "tree"],
  );
  assertEquals([...Deno.readDirSync(planned)].map((e) => e.name), ["plan.json"]);
  assertEquals([...Deno.readDirSync(`${root}/a`)], []);
  // the refused plan is the first one still, and a file that is no plan is replaced
  assertEquals(await readPlan(p), first);
  const other = await cli(["plan", root, "--shards", "2", "-o", `${tmp.path}/notaplan.json`]);
  assertEquals(other.code, 0, other.stderr);
  assertEquals((await readPlan(`${tmp.path}/notaplan.json`)).root, first.root);
});

testNeeding([ZSTD], {
  name: "pwalk slurm --dry-run: the batch script, run by hand as each array task, scans the tree",
  async fn() {
    const root = await sharedTree();
    await using tmp = await tempDir();
    const dir = `${tmp.path}/scan dir`; // a space: the script must quote
    const r = await cli([
      "slurm",
      root,
      "--shards",
      "3",
      "--out",
      dir,
      "--NoSnap",
      "--sbatch=--time=10",
      "--sbatch",
      "--partition=debug",
      "--max-running",
      "2",
      "--dry-run",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const script = await Deno.readTextFile(`${dir}/job.sbatch`);
    assertEquals(r.text, script + "\n");
    assertMatch(r.stderr, /submit with: sbatch --parsable --array=0-2%2 .*job\.sbatch'?\n$/);
    // the command as printed, pasted into a shell: sbatch gets the script's
    // path as one word (a fake sbatch tells its arguments, one per line)
    const fake = `${tmp.path}/bin`;
    await Deno.mkdir(fake);
    await Deno.writeTextFile(`${fake}/sbatch`, `#!/bin/sh\nprintf '%s\\n' "$@"\n`);
    await Deno.chmod(`${fake}/sbatch`, 0o755);
    const pasted = await run("sh", ["-c", r.stderr.split("submit with: ")[1].trimEnd()], {
      env: { PATH: `${fake}:${Deno.env.get("PATH")}` },
    });
    assertEquals(pasted.text.split("\n").slice(0, -1).at(-1), `${dir}/job.sbatch`, pasted.stderr);
    assertEquals(pasted.text.split("\n")[0], "--parsable");
    // the script's own note of how it is submitted: the same array, with
    // its %K (not that pwalk slurm did: a dry run submits nothing)
    const array = r.stderr.match(/ (--array=\S+) /)![1];
    assertStringIncludes(script, `#   submit:  sbatch ${array} '${dir}/job.sbatch'\n`);
    assertMatch(script, /^#SBATCH --time=10$/m);
    assertMatch(script, /^#SBATCH --partition=debug$/m);
    // double quotes: sbatch reads the blank as part of the value
    assertMatch(script, /^#SBATCH --output=".*\/scan dir\/logs\/%A_%a\.out"$/m);
    assert(script.includes(Deno.execPath()), "the script runs this Deno");
    assert(script.includes(CLI), "the script runs this checkout's cli.ts");
    const outside = await bash(`${dir}/job.sbatch`, {});
    assertNotEquals(outside.code, 0, "outside an array task it stops");
    assertMatch(outside.stderr, /run this script as a Slurm array/);
    for (let i = 0; i < 3; i++) {
      const t = await bash(`${dir}/job.sbatch`, { SLURM_ARRAY_TASK_ID: String(i) });
      assertEquals(t.code, 0, t.stderr);
      assertMatch(t.text, new RegExp(`^pwalk: shard ${i} of 3 on `));
    }
    assertSameLines(await unionLines(dir, 3), await wholeLines(root, ["--NoSnap"]), "union");
    const s = await cli(["status", dir]);
    assertEquals(s.code, 0, s.text);
  },
});

testNeeding([SETPRIV, ZSTD], {
  name:
    "summary of a shard folder: errors are the shards' own, from their completion records; an incomplete folder is refused",
  async fn() {
    await using tmp = await tempDir("pwalk-shard-errors-");
    const root = `${tmp.path}/tree`;
    await mktree(root, 300, 21);
    // Folders the shards cannot open: run without privileges, each is one
    // error (EACCES) of the shard that walks it.
    const locked = ["locked-a", "locked-b", "locked-c"];
    for (const d of locked) {
      await Deno.mkdir(`${root}/${d}/inner`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/inner/f.txt`, "x");
      await Deno.chmod(`${root}/${d}`, 0o000);
    }
    const out = `${tmp.path}/out`;
    await Deno.mkdir(out);
    // Planned by the same user as the shards (a plan made by root would
    // list inside the locked folders, and each shard would also report the
    // planned folders below them that it cannot reach).
    const planned = await cli(["plan", root, "--shards", "2", "-o", `${out}/plan.json`], {
      prefix: UNPRIVILEGED,
    });
    assertEquals(planned.code, 0, planned.stderr);
    const procs = [0, 1].map((i) =>
      spawnCli([
        "report",
        "--plan",
        `${out}/plan.json`,
        "--shard",
        String(i),
        "-o",
        `${out}/scan-${i}.csv.zst`,
      ], {
        prefix: UNPRIVILEGED,
      })
    );
    for (const [i, p] of procs.entries()) {
      const o = await p.output();
      assertEquals(o.code, 0, `shard ${i}: ${new TextDecoder().decode(o.stderr)}`);
    }
    const summary = async (...specs: string[]) => {
      const r = await cli(["summary", "--json", ...specs]);
      assertEquals(r.code, 0, r.stderr);
      return JSON.parse(r.text).totals.errors as number | null;
    };
    // One error per locked folder, wherever the plan put it: as many as a
    // single run by the same user reports.
    const whole = await cli(["-o", `${tmp.path}/whole.csv`, root], { prefix: UNPRIVILEGED });
    assertEquals(whole.code, 0, whole.stderr);
    assertMatch(whole.stderr, new RegExp(` ${locked.length} errors in `));
    assertEquals(await summary(out), locked.length);
    assertEquals(await summary(`${out}/scan-1.csv.zst`) !== null, true);
    // A file whose record is missing, or describes another file, has no
    // known errors; the folder (it holds plan.json) is then not a complete
    // scan: status 1, the shard named, no partial sums.
    const rec = JSON.parse(await Deno.readTextFile(`${out}/scan-0.done.json`));
    await Deno.writeTextFile(`${out}/scan-0.done.json`, JSON.stringify({ ...rec, outputBytes: 1 }));
    const glob = `${out}/scan-*.csv.zst`;
    assertEquals(await summary(glob), null);
    const partial = await cli(["summary", "--json", out]);
    assertEquals([partial.code, partial.text], [1, ""], partial.stderr);
    assertMatch(
      partial.stderr,
      /^pwalk: .*: the scan is not complete: 1 of 2 shards done \(shard 0: failed\)/,
    );
    await Deno.remove(`${out}/scan-0.done.json`);
    assertEquals(await summary(glob), null);
    assertEquals((await cli(["diff", `${out}/scan-1.csv.zst`, out])).code, 1);
    assertNotEquals(await summary(`${out}/scan-1.csv.zst`), null);
    for (const d of locked) await Deno.chmod(`${root}/${d}`, 0o755);
  },
});

testNeeding([ZSTD], {
  name:
    "the tree changed after the plan: frontier folders are reached from ROOT without following links",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const d of ["a", "b", "c", "d"]) {
      for (const n of ["1", "2", "3"]) {
        await Deno.mkdir(`${root}/${d}/${n}/x`, { recursive: true });
        for (const f of ["f1", "f2"]) await Deno.writeTextFile(`${root}/${d}/${n}/${f}`, f);
        await Deno.writeTextFile(`${root}/${d}/${n}/x/g`, "g");
      }
    }
    await Deno.mkdir(`${tmp.path}/elsewhere`);
    await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 3, `${dir}/plan.json`, ["--max-listed", "100"]);
    const below = (d: string) =>
      plan.frontier.some((f) => new TextDecoder().decode(planPath(f)).startsWith(`${root}/${d}/`));
    assert(below("a") && below("b") && below("c") && below("d"), "frontier folders below a-d");
    assert(
      plan.frontier.some((f) => new TextDecoder().decode(planPath(f)) === `${root}/d/2`),
      "d/2 in the frontier",
    );
    // a: moved away, a link left in its place (to outside ROOT);
    // b: renamed inside ROOT, a link to it in its place;
    // c: a new folder c holding the old c/1 (its parent inode changes)
    await Deno.rename(`${root}/a`, `${tmp.path}/elsewhere/a`);
    await Deno.symlink(`${tmp.path}/elsewhere/a`, `${root}/a`);
    await Deno.rename(`${root}/b`, `${root}/b_real`);
    await Deno.symlink("b_real", `${root}/b`);
    await Deno.rename(`${root}/c`, `${root}/c_old`);
    await Deno.mkdir(`${root}/c`);
    await Deno.rename(`${root}/c_old/1`, `${root}/c/1`);
    // d/2: another folder in its place (a new inode, other contents)
    await Deno.rename(`${root}/d/2`, `${root}/d2_old`);
    await Deno.mkdir(`${root}/d/2/new`, { recursive: true });
    await Deno.writeTextFile(`${root}/d/2/new/file`, "new");
    await wholeLines(root); // settle the changed folders' atimes (relatime)
    const whole = await wholeLines(root);
    const stderr = (await runShards(`${dir}/plan.json`, dir, plan.shards)).join("");
    // every row once, none from outside ROOT, c/1 under the new c
    assertSameLines(await unionLines(dir, plan.shards), whole, "the shards' union");
    assert(!stderr.includes("elsewhere"), stderr);
    // frontier folders now behind a link: races, not walked through the link
    assertMatch(stderr, new RegExp(`race '${root}/a/`));
    assertMatch(stderr, new RegExp(`race '${root}/b/`));
  },
});

/**
 * A chain of `levels` folders named `name` (Python bytes-literal text, so
 * "\\xff" is one byte) under `root`, made relative to each parent (past
 * PATH_MAX), a folder `side` with a file at each level and 50 files at the
 * bottom.
 */
async function deepChain(root: string, levels: number, name: string): Promise<void> {
  await python(
    `import os, sys
os.makedirs(sys.argv[1].encode()); fd = os.open(sys.argv[1].encode(), os.O_RDONLY)
for l in range(${levels}):
    n = b'${name}'; os.mkdir(n, dir_fd=fd); m = os.open(n, os.O_RDONLY, dir_fd=fd)
    os.mkdir(b'side', dir_fd=fd); os.close(os.open(b'side/f', os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd); fd = m
for i in range(50): os.close(os.open(b'f%d' % i, os.O_CREAT | os.O_WRONLY, dir_fd=fd))`,
    root,
  );
}

/**
 * A single run of `root` to `tmp/single.csv.zst`, a 2-shard plan `--from`
 * it in `tmp/scan` (a frontier folder past PATH_MAX asserted), and its
 * shards run.
 */
async function shardsFromSingleRun(tmp: string, root: string) {
  const single = `${tmp}/single.csv.zst`;
  assertEquals((await cli(["-o", single, root])).code, 0);
  const dir = `${tmp}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`, ["--from", single]);
  assert(
    plan.frontier.some((f) => planPath(f).length > 4096),
    "a frontier folder deeper than PATH_MAX",
  );
  await runShards(`${dir}/plan.json`, dir, plan.shards);
  return { single, dir, plan };
}

testNeeding([ZSTD], {
  name:
    "a frontier folder deeper than PATH_MAX, its names not UTF-8: the shards' union is the single run",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/deep`;
    // 20 levels of 251-byte names starting with the byte 0xff: 5,000+ bytes
    await deepChain(root, 20, "\\xff" + "y".repeat(250));
    await wholeLines(root); // settle the new folders' atimes (relatime)
    const whole = await wholeLines(root);
    const { dir, plan } = await shardsFromSingleRun(tmp.path, root);
    assertSameLines(await unionLines(dir, plan.shards), whole, "the shards' union");
  },
});

testNeeding([ZSTD], {
  name:
    "a frontier folder's path longer than PATH_MAX (UTF-8 names): estimated loads are the shards' rows",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/deep`;
    // 17 levels of 250-byte UTF-8 names (the listing by Deno, the folder
    // past PATH_MAX not stat-able by path), a side folder at each level
    await deepChain(root, 17, "y".repeat(250));
    const { single, dir, plan } = await shardsFromSingleRun(tmp.path, root);
    const rows = plan.estimate.loads.map((_, i) =>
      JSON.parse(Deno.readTextFileSync(`${dir}/scan-${i}.done.json`)).rows
    );
    assertEquals(plan.estimate.loads, rows);
    // the rows of the single run, counted by the zstd command's output
    const total = new TextDecoder().decode(await unzstd(single)).split("\n").length - 1;
    assertEquals(plan.estimate.total, total);
  },
});

Deno.test("plan --from a scan that does not match the tree, or made with a shallower --depth: one warning line; the tree's own scan: none", async () => {
  await using tmp = await tempDir();
  const { root } = await twoFolders(tmp.path);
  for (const d of ["a/x", "a/y", "b/z", "a/x/1", "a/y/1", "b/z/1"]) {
    await Deno.mkdir(`${root}/${d}`);
  }
  const other = `${tmp.path}/other`;
  for (const d of ["p", "q", "r/s"]) await Deno.mkdir(`${other}/${d}`, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/garbage.csv`, "hello,world\n");
  for (
    const [t, out, ...more] of [[root, "own.csv"], [other, "other.csv"], [
      root,
      "own1.csv",
      "--depth",
      "1",
    ], [other, "other1.csv", "--depth", "1"]]
  ) {
    assertEquals((await cli(["-o", `${tmp.path}/${out}`, ...more, t])).code, 0);
  }
  // python reads the --depth 1 scan: its folders are ROOT, a and b only
  const py = await python(
    "import csv, sys; print(sorted(r[3] for r in csv.reader(open(sys.argv[1])) if r[-2] != '-1'))",
    `${tmp.path}/own1.csv`,
  );
  assertEquals(py.trim(), `['${root}', '${root}/a', '${root}/b']`);
  const cases: [string, RegExp | null][] = [
    [
      "garbage.csv",
      /^pwalk: warning: --from: no folder row of a pwalk scan in .*garbage\.csv: the plan estimates from listings instead$/,
    ],
    ["other.csv", /^pwalk: warning: --from: the previous scan knows 0 of the root's 2 folders/],
    ["other1.csv", /^pwalk: warning: --from: the previous scan knows 0 of the root's 2 folders/],
    ["own.csv", null],
    // made with --depth 1: its counts leave out the folders at depth 1
    ["own1.csv", /^pwalk: warning: --from: the previous scan seems made with --depth 1 /],
    ["own1.csv --depth 1", null],
  ];
  for (const [from, warning] of cases) {
    const [file, ...more] = from.split(" ");
    const r = await cli(["plan", root, "--shards", "2", "--from", `${tmp.path}/${file}`, ...more]);
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    const warnings = lines.filter((l) => l.includes("warning"));
    if (warning) {
      assertEquals(warnings.length, 1, r.stderr);
      assertMatch(warnings[0], warning);
    } else assertEquals(warnings, [], r.stderr);
  }
});

Deno.test("scriptFolders: the folders a script of slurmScript names, for any folder name; an edited script's not guessed", async () => {
  await using tmp = await tempDir();
  const { root } = await twoFolders(tmp.path);
  const plan = await planShards(root, { shards: 2 });
  const command = [Deno.execPath(), "run", "-A", "/opt/it's here/cli.ts"];
  for (
    const dir of [
      "/scratch/scan",
      "/s/it's a 'scan'",
      "/s/$x `y`; z",
      "/s/ --plan /x -o y",
      // control characters: written $'…' (audit)
      "/s/a\tb c 'd\x01e\x85 é😀",
    ]
  ) {
    const script = slurmScript(plan, { dir, threads: 4, level: 3, sbatch: ["--time=1"], command });
    assertEquals(scriptFolders(script), { logs: dir, plan: dir, outputs: dir }, dir);
    // a script written before the log path was quoted
    const old = script.replace(
      `--output="${dir}/logs/%A_%a.out"`,
      `--output=${dir}/logs/%A_%a.out`,
    );
    assertNotEquals(old, script);
    assertEquals(scriptFolders(old).logs, dir);
    // lines edited by hand: not read as a folder
    assertEquals(
      scriptFolders(
        script.replace(/^(exec .*?) --plan /m, "$1 --plan=").replace(/^#SBATCH --output=.*$/m, ""),
      ),
      { logs: null, plan: null, outputs: dir },
    );
  }
});

Deno.test("pwalk slurm --resume when squeue does not answer: refused, nothing resubmitted or removed", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  const made = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  // a running shard's temporary output, and a Slurm that does not answer
  const partial = `${dir}/scan-1.csv.zst.partial-4242`;
  await Deno.writeTextFile(partial, "rows being written");
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/squeue`,
    "#!/bin/sh\necho 'slurm_load_jobs error: timeout' >&2\nexit 1\n",
  );
  await Deno.writeTextFile(
    `${bin}/sbatch`,
    `#!/bin/sh\necho called >> ${tmp.path}/sbatch-called\necho 4242\n`,
  );
  await Deno.chmod(`${bin}/squeue`, 0o755);
  await Deno.chmod(`${bin}/sbatch`, 0o755);
  const r = await cli(["slurm", "--resume", dir], {
    env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
  });
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stderr, /^pwalk[^\n]*squeue did not answer[^\n]*\n$/);
  assertEquals(Deno.readTextFileSync(partial), "rows being written");
  assertEquals(
    [...Deno.readDirSync(tmp.path)].map((e) => e.name).filter((n) => n === "sbatch-called"),
    [],
    "sbatch was called",
  );
});

Deno.test({
  name:
    "pwalk slurm: a DIR or DIR/logs not the runner's alone is refused (exit 2), the runner's own taken",
  ignore: Deno.uid() !== 0, // chown to another uid
  async fn() {
    await using tmp = await tempDir();
    const { root } = await twoFolders(tmp.path);
    const dir = `${tmp.path}/out`;
    const slurm = (args: string[] = []) =>
      cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run", ...args]);
    // stat, not pwalk, says whose each folder is and who may write it
    const owner = async (p: string) => (await run("stat", ["-c", "%u %a", p])).text.trim();
    const refused = async (what: string, why: RegExp) => {
      const r = await slurm();
      assertEquals(r.code, 2, `${what}: ${r.stderr}`);
      assertMatch(r.stderr, why, what);
      assertEquals(r.stderr.split("\n").length, 2, r.stderr);
      assert(!existsSync(`${dir}/plan.json`), `${what}: no plan written`);
    };
    await Deno.mkdir(`${dir}/logs`, { recursive: true });
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(`${dir}/logs`, 0o755);
    // logs, then DIR, owned by another user
    await Deno.chown(`${dir}/logs`, 60001, 60001);
    assertEquals(await owner(`${dir}/logs`), "60001 755");
    await refused("logs of uid 60001", /logs is owned by uid 60001, not by you \(uid 0\)/);
    await Deno.chown(`${dir}/logs`, 0, 0);
    await Deno.chown(dir, 60001, 60001);
    await refused("DIR of uid 60001", /out is owned by uid 60001/);
    await Deno.chown(dir, 0, 0);
    // the runner's, but others or its group may write it (sticky or not)
    for (
      const [p, mode, why] of [
        [`${dir}/logs`, 0o1777, /logs may be written by its group and others \(mode 1777\)/],
        [`${dir}/logs`, 0o775, /logs may be written by its group \(mode 0775\)/],
        [dir, 0o757, /out may be written by others \(mode 0757\)/],
      ] as const
    ) {
      await Deno.chmod(p, mode);
      assertEquals(await owner(p), `0 ${mode.toString(8)}`);
      await refused(`mode ${mode.toString(8)}`, why);
      await Deno.chmod(p, 0o755);
    }
    // the runner's own, written by no one else: taken
    const ok = await slurm();
    assertEquals(ok.code, 0, ok.stderr);
    assert(existsSync(`${dir}/plan.json`) && existsSync(`${dir}/job.sbatch`));
    // --resume is refused alike when logs became another's
    await Deno.chown(`${dir}/logs`, 60001, 60001);
    const res = await cli(["slurm", "--resume", dir, "--dry-run"]);
    assertEquals(res.code, 2, res.stderr);
    assertMatch(res.stderr, /logs is owned by uid 60001/);
  },
});

Deno.test("pwalk slurm refused by sbatch: every folder it made (mkdir -p) removed again, the others kept", async () => {
  await using tmp = await tempDir();
  const { root } = await twoFolders(tmp.path);
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/sbatch`,
    "#!/bin/sh\necho 'sbatch: error: Invalid --foo' >&2\nexit 1\n",
    { mode: 0o755 },
  );
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  const r = await cli(["slurm", root, "--shards", "2", "--out", `${tmp.path}/new/deep/scan`], {
    env,
  });
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stderr, /Invalid --foo.*nothing was submitted/);
  // find, not pwalk, lists what is left
  const left = async () =>
    (await run("find", [tmp.path, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\n"])).text
      .trim().split("\n").sort();
  assertEquals(await left(), ["bin", "scan", "tree"]);
  // a folder there already stays, with what someone else put in it
  await Deno.mkdir(`${tmp.path}/keep/deep`, { recursive: true });
  await Deno.writeTextFile(`${tmp.path}/keep/note`, "mine");
  const r2 = await cli(["slurm", root, "--shards", "2", "--out", `${tmp.path}/keep/deep/a/b`], {
    env,
  });
  assertEquals(r2.code, 1, r2.stderr);
  assertEquals(
    (await run("find", [`${tmp.path}/keep`, "-printf", "%P\n"])).text.trim().split("\n").sort(),
    ["deep", "note"],
  );
});

Deno.test("links put in a scan folder: slurm, submissions and shards never write or chmod their targets", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  // every name written in DIR, and the temporary name each is written under
  // (this process's pid: the API runs here)
  const names = [
    "job.sbatch",
    `job.sbatch.partial-${Deno.pid}`,
    `plan.json.partial-${Deno.pid}`,
    `slurm.json.partial-${Deno.pid}`,
    `scan-0.csv.zst.partial-${Deno.pid}.zst`,
    `scan-1.done.json.partial-${Deno.pid}`,
  ];
  const victims = names.map((_, i) => `${tmp.path}/victim-${i}`);
  for (const [i, n] of names.entries()) {
    await Deno.writeTextFile(victims[i], "important\n", { mode: 0o600 });
    await Deno.chmod(victims[i], 0o600);
    await Deno.symlink(victims[i], `${dir}/${n}`);
  }
  // a logs folder that is a link: refused before anything is written there
  await Deno.symlink(tmp.path, `${dir}/logs`);
  await assertRejects(
    () => slurmScan(root, { shards: 2, out: dir, dryRun: true }),
    ScanFolderError,
    "logs is a link",
  );
  await Deno.remove(`${dir}/logs`);
  const s = await slurmScan(root, { shards: 2, out: dir, dryRun: true });
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(`${bin}/sbatch`, "#!/bin/sh\necho 4242\n", { mode: 0o755 });
  const path = Deno.env.get("PATH")!;
  Deno.env.set("PATH", `${bin}:${path}`);
  try {
    assertEquals((await submitShards(dir, [0, 1])).jobId, "4242");
  } finally {
    Deno.env.set("PATH", path);
  }
  const plan = await readPlan(`${dir}/plan.json`);
  assertEquals(plan.id, s.plan.id);
  for (let i = 0; i < plan.shards; i++) {
    await runShard(plan, i, { output: `${dir}/scan-${i}.csv.zst` });
  }
  for (const v of victims) {
    assertEquals([Deno.readTextFileSync(v), Deno.statSync(v).mode! & 0o7777], [
      "important\n",
      0o600,
    ]);
  }
  // job.sbatch is the script now, executable; the scan is whole
  const job = Deno.lstatSync(`${dir}/job.sbatch`);
  assert(job.isFile && (job.mode! & 0o777) === 0o755, `${job.mode}`);
  assertEquals(Deno.readTextFileSync(`${dir}/job.sbatch`), s.script);
  const st = await cli(["status", "--verify", dir], { env: { PATH: `${bin}:${path}` } });
  assertEquals(st.code, 0, st.text + st.stderr);
});

/** TMP/tree with folders a and b of one file each, and an empty TMP/scan. */
async function twoFolders(tmp: string): Promise<{ root: string; dir: string }> {
  const root = `${tmp}/tree`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
  const dir = `${tmp}/scan`;
  await Deno.mkdir(dir);
  return { root, dir };
}

Deno.test("a shard written as .csv.gz: its record is scan-I.done.json, and status reads it", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  const plan = await makePlan(root, 2, `${dir}/plan.json`);
  for (let i = 0; i < plan.shards; i++) {
    const r = await cli(shardArgs(`${dir}/plan.json`, i, `${dir}/scan-${i}.csv.gz`));
    assertEquals(r.code, 0, r.stderr);
    const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-${i}.done.json`));
    assertEquals(rec.outputBytes, Deno.statSync(`${dir}/scan-${i}.csv.gz`).size);
  }
  const s = await cli(["status", dir]);
  assertEquals(s.code, 0, s.text);
  assertMatch(s.text, new RegExp(`${plan.shards} shards: ${plan.shards} done`));
});

testNeeding([ZSTD], {
  name:
    "shards killed with SIGKILL leave temporary outputs; the next run of each removes its own once whole",
  async fn() {
    await using tmp = await tempDir();
    const root = await sharedTree();
    const whole = await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 2, `${dir}/plan.json`);
    assertEquals(plan.shards, 2);
    const temp = (i: number) => new RegExp(`^scan-${i}\\.csv\\.zst\\.(top|front|partial)-\\d+`);
    const temps = () =>
      [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        /\.(top|front|partial)-\d/.test(n)
      );
    const tick = () => new Promise<boolean>((r) => setTimeout(() => r(false), 1));
    // kill each shard as soon as a temporary output of it is there
    for (let i = 0; i < 2; i++) {
      for (let attempt = 0;; attempt++) {
        const p = spawnCli(shardArgs(`${dir}/plan.json`, i, `${dir}/scan-${i}.csv.zst`));
        let seen = false;
        const ended = p.status.then(() => true);
        while (!seen && !(await Promise.race([ended, tick()]))) {
          seen = temps().some((n) => temp(i).test(n));
        }
        if (seen) {
          try {
            p.kill("SIGKILL");
          } catch { /* it ended meanwhile: tried again below */ }
        }
        await p.stdout.cancel();
        await p.stderr.cancel();
        const st = await p.status;
        if (seen && st.signal === "SIGKILL") break;
        assert(attempt < 10, `shard ${i} ended before a temporary output was seen 10 times`);
        for (const n of [...Deno.readDirSync(dir)].map((e) => e.name)) {
          if (n.startsWith(`scan-${i}.`)) await Deno.remove(`${dir}/${n}`);
        }
      }
    }
    const left = temps();
    for (let i = 0; i < 2; i++) assert(left.some((n) => temp(i).test(n)), left.join(" "));
    // names like a temporary's that are not one stay
    const keep = ["scan-0.csv.zst.partial-notes", "scan-0.csv.zst.top-1.txt", "other.partial-7-0"];
    for (const n of keep) await Deno.writeTextFile(`${dir}/${n}`, "mine");

    const stderr = await runShards(`${dir}/plan.json`, dir, plan.shards);
    for (let i = 0; i < 2; i++) {
      const named = left.filter((n) => temp(i).test(n));
      for (const n of named) {
        assertMatch(stderr[i], new RegExp(`removed ${dir}/${n.replaceAll(".", "\\.")}, left by`));
      }
      assertEquals(stderr[i].match(/removed .*, left by/g)?.length, named.length, stderr[i]);
      // the summary last (a log's tail -1), after the lines of what was removed
      const last = stderr[i].trimEnd().split("\n").at(-1)!;
      assertMatch(last, new RegExp(`^pwalk: shard ${i} of ${plan.shards}: `), stderr[i]);
    }
    assertEquals(temps().sort(), ["other.partial-7-0", "scan-0.csv.zst.top-1.txt"]);
    assert(keep.every((n) => Deno.statSync(`${dir}/${n}`).isFile));
    assertSameLines(await unionLines(dir, plan.shards), whole, "the shards' union");
    const st = await cli(["status", dir]);
    assertEquals(st.code, 0, st.stderr + st.stdout);
  },
});

Deno.test("pwalk slurm: a ROOT with a line break stays in the script's comment (no command injected)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/odd root\ntouch INJECTED; echo`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
  const dir = `${tmp.path}/scan`;
  const made = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  const script = await Deno.readTextFile(`${dir}/job.sbatch`);
  // every line is a comment, an #SBATCH line, or one of the script's own
  for (const line of script.split("\n")) assert(!line.startsWith("touch"), line);
  assertStringIncludes(script, "odd root\\x0atouch INJECTED; echo as a Slurm job array");
  // run as the array's task 0 would be (bash reads the whole script): nothing injected runs
  const r = await run("bash", [`${dir}/job.sbatch`], {
    cwd: tmp.path,
    env: { SLURM_ARRAY_TASK_ID: "0" },
  });
  assertEquals(r.code, 0, r.stderr);
  const injected = await Deno.stat(`${tmp.path}/INJECTED`).then(() => true, () => false);
  assert(!injected, "the line after the break ran");
});

/**
 * A tree T in `dir` of three folders (30 files and a subfolder each) and
 * a one-shard plan of it, `dir`/plan.json.
 */
async function oneShardPlan(dir: string): Promise<{ root: string; plan: string }> {
  const root = `${dir}/T`;
  for (const d of ["a", "b", "c"]) {
    await Deno.mkdir(`${root}/${d}/sub`, { recursive: true });
    for (let i = 0; i < 30; i++) await Deno.writeTextFile(`${root}/${d}/f${i}`, "x");
  }
  const plan = `${dir}/plan.json`;
  assertEquals((await cli(["plan", root, "--shards", "1", "-o", plan])).code, 0);
  return { root, plan };
}

Deno.test("shard 0 written inside a frontier folder (runShard(); the CLI refuses it): no row of its own temporary parts", async () => {
  await using tmp = await tempDir();
  const { root, plan } = await oneShardPlan(tmp.path);
  // a frontier folder holds the output, so the parts are made beside it, in
  // the part of the tree the frontier run walks
  const p = JSON.parse(await Deno.readTextFile(plan));
  const dir: string = p.frontier[0]?.path;
  assert(dir?.startsWith(root), "a frontier folder");
  const out = `${dir}/scan-0.csv`;
  // pwalk report --plan refuses an -o inside ROOT (the other shards would
  // list it); the library writes there, and leaves its own files out
  const r = await cli(["report", "--plan", plan, "--shard", "0", "-o", out]);
  assertEquals(r.code, 2, r.stderr);
  assert(!(await Deno.lstat(out).catch(() => null)), "written");
  await runShard(await readPlan(plan), 0, { output: out });
  const rows = parsePwalk(await Deno.readFile(out), { header: p.options.header }).rows;
  const text = new TextDecoder();
  const names = rows.map((row) => text.decode(row.path));
  assert(!names.some((n) => /\.(top|front|partial)-\d+/.test(n)), names.join("\n"));
  // the folder's count of direct children: what readDir sees, less the
  // output and its record (written after the walk)
  const folder = rows.find((row) => text.decode(row.path) === dir)!;
  const inDir = [...Deno.readDirSync(dir)]
    .filter((e) => !["scan-0.csv", "scan-0.done.json"].includes(e.name)).length;
  assertEquals(folder.fcount, inDir);
});

Deno.test("runShard() ended by Deno.exit() with its parts made: none of its temporaries is left", async () => {
  await using tmp = await tempDir();
  const { plan } = await oneShardPlan(tmp.path);
  const out = `${tmp.path}/scan-0.csv.zst`;
  // the front part's last progress call comes once it is renamed into
  // place, the top part done before it, and before they are joined: the
  // child exits there, with both parts beside the output
  const script = `${tmp.path}/exit.ts`;
  await Deno.writeTextFile(
    script,
    `import { readPlan, runShard } from "${REPO}/mod.ts";
const [plan, out] = Deno.args;
const dir = out.slice(0, out.lastIndexOf("/")), name = out.slice(out.lastIndexOf("/") + 1);
await runShard(await readPlan(plan), 0, { output: out, onProgress: () => {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(name + "."));
  if (names.some((n) => n.startsWith(name + ".front-"))) {
    console.log(names.sort().join(" "));
    Deno.exit(3);
  }
} });
console.log("finished");
`,
  );
  const r = await deno(["run", "-A", "--no-check", script, plan, out], { timeoutMs: 60_000 });
  assertEquals(r.code, 3, `${r.text}${r.stderr}`);
  const pid = /\.top-(\d+)\.zst/.exec(r.text)?.[1];
  assertEquals(r.text.trim().split(" ").filter((n) => !n.endsWith(".lock")), [
    `scan-0.csv.zst.front-${pid}.zst`,
    `scan-0.csv.zst.top-${pid}.zst`,
  ]);
  // the lock file stays, as after kill -9 (its lock went with the process)
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
    "T",
    "exit.ts",
    "plan.json",
    "scan-0.lock",
  ]);
});

Deno.test("a shard's -o: a device, FIFO or the plan is refused; a link is replaced", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/T`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${root}/${d}/sub`, { recursive: true });
    for (let i = 0; i < 5; i++) await Deno.writeTextFile(`${root}/${d}/sub/f${i}`, "x");
  }
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = `${dir}/plan.json`;
  assertEquals((await cli(["plan", root, "--shards", "2", "-o", plan])).code, 0);
  const planText = await Deno.readTextFile(plan);
  const fifo = `${tmp.path}/fifo`;
  assertEquals((await run("mkfifo", [fifo])).code, 0);
  for (const [out, text] of [[fifo, "must be a file"], [plan, "is also an input"]]) {
    for (const shard of ["0", "1"]) {
      const r = await cli(["report", "--plan", plan, "--shard", shard, "-o", out]);
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, text);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  }
  assert(Deno.lstatSync(fifo).isFifo, "the FIFO stays a FIFO");
  assertEquals(await Deno.readTextFile(plan), planText, "the plan untouched");
  // a character device of its own (never the system's /dev/null: a
  // regression would replace it), where root may make one
  const dev = `${tmp.path}/null`;
  if ((await run("mknod", [dev, "c", "1", "3"])).code === 0) {
    const r = await cli(["report", "--plan", plan, "--shard", "0", "-o", dev]);
    assertEquals(r.code, 2, r.stderr);
    assert(Deno.lstatSync(dev).isCharDevice, "the device stays a device");
  }
  // links, to a file, to nothing, to the FIFO: each replaced by the
  // output, never written through (a scan folder others may write)
  await Deno.mkdir(`${tmp.path}/elsewhere`);
  await Deno.writeTextFile(`${tmp.path}/elsewhere/s0.csv.zst`, "old");
  const links = [`${tmp.path}/elsewhere/s0.csv.zst`, `${tmp.path}/elsewhere/new`];
  for (const [i, t] of links.entries()) {
    await Deno.symlink(t, `${dir}/scan-${i}.csv.zst`);
    const r = await cli([
      "report",
      "--plan",
      plan,
      "--shard",
      `${i}`,
      "-o",
      `${dir}/scan-${i}.csv.zst`,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assert(Deno.lstatSync(`${dir}/scan-${i}.csv.zst`).isFile, "the link replaced by the output");
  }
  assertEquals(await Deno.readTextFile(links[0]), "old", "the link's target untouched");
  assertEquals([...Deno.readDirSync(`${tmp.path}/elsewhere`)].map((e) => e.name), ["s0.csv.zst"]);
  await Deno.symlink(fifo, `${dir}/scan-x.csv.zst`);
  const rx = await cli(["report", "--plan", plan, "--shard", "1", "-o", `${dir}/scan-x.csv.zst`]);
  assertEquals(rx.code, 0, rx.stderr);
  assert(Deno.lstatSync(fifo).isFifo, "the FIFO stays a FIFO");
  await Deno.remove(`${dir}/scan-x.csv.zst`);
  await Deno.remove(`${dir}/scan-x.done.json`);
  const st = await cli(["status", "--verify", dir]);
  assertEquals(st.code, 0, st.text + st.stderr);
  // status of a file, not a folder: bad usage
  const bad = await cli(["status", plan]);
  assertEquals(bad.code, 2, bad.stderr);
});

/**
 * `pwalk ARGS` (cli.ts, or `deno eval CODE` with `eval`) in a mount
 * namespace of its own whose /dev is the folder `dev` (bind-mounted over
 * it), from the folder `cwd`: the system's /dev never touched.
 */
function inOwnDev(dev: string, cwd: string, args: string[], evalCode?: string) {
  return run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount --bind "$0" /dev && cd "$1" && shift && exec "$@"`,
    dev,
    cwd,
    Deno.execPath(),
    ...(evalCode === undefined ? ["run", "-A", CLI, ...args] : ["eval", evalCode]),
  ], { cwd: REPO });
}

Deno.test({
  name:
    "a shard's -o /dev/stdout is stdout (no record); other descriptors' names are refused, never replaced",
  ignore: !canMountTmpfs(),
  fn: async () => {
    await using tmp = await tempDir();
    const { root, dir } = await twoFolders(tmp.path);
    const plan = `${dir}/plan.json`;
    await makePlan(root, 2, plan);
    // the reference: shard 1 written to a file
    const ref = await cli(shardArgs(plan, 1, `${dir}/scan-1.csv`));
    assertEquals(ref.code, 0, ref.stderr);
    const want = await Deno.readTextFile(`${dir}/scan-1.csv`);
    assert(want.includes(`"${root}/`), want);
    // a /dev of the test's own, with the system's links of this process's descriptors
    const dev = `${tmp.path}/dev`;
    await Deno.mkdir(dev);
    const links: Record<string, string> = {
      stdin: "/proc/self/fd/0",
      stdout: "/proc/self/fd/1",
      stderr: "/proc/self/fd/2",
      fd: "/proc/self/fd",
    };
    for (const [name, to] of Object.entries(links)) await Deno.symlink(to, `${dev}/${name}`);
    await Deno.symlink("/dev", `${tmp.path}/devlink`);
    await Deno.mkdir(`${tmp.path}/devb`);
    assertEquals(await mountBind(dev, `${tmp.path}/devb`), ""); // the /dev the runs see
    const devIntact = async (after: string) => {
      const names = [...Deno.readDirSync(dev)].map((e) => e.name).sort();
      assertEquals(names, Object.keys(links).sort(), `${after}: nothing added to /dev`);
      for (const [name, to] of Object.entries(links)) {
        assert(Deno.lstatSync(`${dev}/${name}`).isSymlink, `${after}: /dev/${name} still a link`);
        assertEquals(await Deno.readLink(`${dev}/${name}`), to, `${after}: /dev/${name}`);
      }
    };
    for (const name of ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]) {
      const r = await inOwnDev(dev, tmp.path, shardArgs(plan, 1, name));
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.text, want, `-o ${name}: the shard's CSV on stdout`);
      await devIntact(`-o ${name}`);
    }
    // other descriptors, and stdout spelled otherwise (relative, from /dev):
    // bad usage in one line, nothing replaced
    for (
      const [cwd, name] of [
        [tmp.path, "/dev/stderr"],
        [tmp.path, "/dev/./stdout"],
        [tmp.path, "//dev/stdin"],
        ["/dev", "stdout"],
        [tmp.path, "/dev/fd/2"],
        [tmp.path, "/proc/self/fd/2"],
        // its folder reached through links: the kernel's /dev all the same
        [tmp.path, "/proc/self/root/dev/stderr"],
        [tmp.path, `${tmp.path}/devlink/stderr`],
        // and through a bind mount of it (a chroot's /dev)
        [tmp.path, `${tmp.path}/devb/stderr`],
      ]
    ) {
      const r = await inOwnDev(dev, cwd, shardArgs(plan, 1, name));
      assertEquals(r.code, 2, `-o ${name}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertStringIncludes(r.stderr, "descriptor of this process");
      await devIntact(`-o ${name}`);
    }
    // the library: runShard() as the CLI
    const mod = JSON.stringify(`${REPO}/mod.ts`);
    const lib = await inOwnDev(
      dev,
      tmp.path,
      [],
      `import { readPlan, runShard } from ${mod};
const plan = await readPlan(${JSON.stringify(plan)});
try {
  await runShard(plan, 1, { output: "/dev/stderr" });
  console.error("written");
} catch (e) {
  console.error(e.constructor.name);
}
const s = await runShard(plan, 1, { output: "/dev/stdout" });
console.error(JSON.stringify(s.output ?? null));`,
    );
    assertEquals(lib.code, 0, lib.stderr);
    assertEquals(lib.text, want, 'runShard(..., { output: "/dev/stdout" }): the CSV on stdout');
    assertEquals(lib.stderr.trim().split("\n")[0], "RangeError", lib.stderr);
    await devIntact("runShard()");
  },
});

/** Run `args`; assert bad usage (2, one line with `text`) and that `file` is `copy`, not replaced. */
async function refusedUntouched(args: string[], text: string, file: string, copy: string) {
  const ino = Deno.statSync(file).ino;
  const r = await cli(args);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assertStringIncludes(r.stderr, text);
  assertEquals(await Deno.readFile(file), await Deno.readFile(copy), `${file} untouched`);
  assertEquals(Deno.statSync(file).ino, ino, `${file} not replaced`);
}

/** A two-shard scan of twoFolders' tree in its `dir`, run; shard 1's output and record copied to X.orig. */
async function twoShardScan(tmp: string) {
  const { root, dir } = await twoFolders(tmp);
  const plan = `${dir}/plan.json`;
  assertEquals((await cli(["plan", root, "--shards", "2", "-o", plan])).code, 0);
  await runShards(plan, dir, 2);
  const out = `${dir}/scan-1.csv.zst`, record = `${dir}/scan-1.done.json`;
  for (const f of [plan, out, record]) await Deno.copyFile(f, `${f}.orig`);
  return { root, dir, plan, out, record };
}

Deno.test("a shard's --errors is neither its output, its record, its lock file, its plan nor inside ROOT", async () => {
  await using tmp = await tempDir();
  const { root, dir, plan, out, record } = await twoShardScan(tmp.path);
  const shard = (
    errors: string,
    o = out,
  ) => ["report", "--plan", plan, "--shard", "1", "-o", o, "--errors", errors];
  // the shard's own output, its completion record (there from the run
  // before, or still to come: by name), and the plan it reads
  await refusedUntouched(
    shard(out),
    `--errors ${out} is the shard's output`,
    out,
    `${out}.orig`,
  );
  await refusedUntouched(
    shard(record),
    `--errors ${record} is the shard's completion record`,
    record,
    `${record}.orig`,
  );
  const fresh = `${tmp.path}/s1.csv.zst`;
  const r = await cli(shard(`${tmp.path}/s1.done.json`, fresh));
  assertEquals(r.code, 2, r.stderr);
  assertStringIncludes(r.stderr, "is the shard's completion record");
  assert(!existsSync(fresh) && !existsSync(`${tmp.path}/s1.done.json`), "nothing written");
  // its lock file, which the run takes and removes (and the next run takes
  // over): by name, and one a killed run left
  const unlocked = await cli(shard(`${tmp.path}/s1.lock`, fresh));
  assertEquals(unlocked.code, 2, unlocked.stderr);
  assertStringIncludes(unlocked.stderr, `--errors ${tmp.path}/s1.lock is the shard's lock file`);
  assertEquals(unlocked.stderr.split("\n").length, 2, unlocked.stderr);
  assert(!existsSync(fresh) && !existsSync(`${tmp.path}/s1.lock`), "nothing written");
  const lock = `${dir}/scan-1.lock`;
  await Deno.writeTextFile(lock, "left by a killed run\n");
  await Deno.copyFile(lock, `${lock}.orig`);
  await refusedUntouched(
    shard(lock),
    `--errors ${lock} is the shard's lock file`,
    lock,
    `${lock}.orig`,
  );
  await Deno.remove(lock);
  await refusedUntouched(
    shard(plan),
    `--errors ${plan} is also an input (${plan}): writing it would replace what is read`,
    plan,
    `${plan}.orig`,
  );
  // a plan of a relative root, run from another folder (the shard runs
  // from the plan's): the same file still
  assertEquals(
    (await cli(["plan", "tree", "--shards", "2", "-o", "rel.json"], { cwd: tmp.path }))
      .code,
    0,
  );
  await Deno.copyFile(`${tmp.path}/rel.json`, `${tmp.path}/rel.orig`);
  const rel = await cli(
    ["report", "--plan", "../rel.json", "--shard", "1", "-o", fresh, "--errors", "../rel.json"],
    { cwd: dir },
  );
  assertEquals(rel.code, 2, rel.stderr);
  assertStringIncludes(rel.stderr, "is also an input");
  assertEquals(
    await Deno.readFile(`${tmp.path}/rel.json`),
    await Deno.readFile(`${tmp.path}/rel.orig`),
  );
  // inside ROOT, where another shard would list it (a plain report leaves
  // its own out), through a link to ROOT too; ROOT stays as it was
  const before = [...Deno.readDirSync(root)].map((e) => e.name).sort();
  await Deno.symlink(root, `${tmp.path}/via`);
  for (const errors of [`${root}/errs.csv`, `${tmp.path}/via/errs.csv`]) {
    const inside = await cli(shard(errors, fresh));
    assertEquals(inside.code, 2, inside.stderr);
    assertEquals(
      inside.stderr,
      `pwalk: --errors ${errors} is inside ${root}: the shards would list each other's outputs; ` +
        "choose a folder outside it (or one the scan does not enter: excluded, or with -x on " +
        "another file system)\n",
    );
    assert(!existsSync(fresh), "nothing written");
  }
  assertEquals([...Deno.readDirSync(root)].map((e) => e.name).sort(), before);
  // the shards' folder is whole: status checks every output's SHA-256
  const st = await cli(["status", "--verify", dir]);
  assertEquals(st.code, 0, st.text + st.stderr);
});

Deno.test("plan -o is none of the scans it reads (--from), nor a shard's output", async () => {
  await using tmp = await tempDir();
  const { root, dir, out } = await twoShardScan(tmp.path);
  // plan -o onto a scan it reads with --from: a file, or one of a scan folder's
  const old = `${tmp.path}/old.csv.zst`;
  assertEquals((await cli(["--header", "-o", old, root])).code, 0);
  await Deno.copyFile(old, `${old}.orig`);
  await refusedUntouched(
    ["plan", root, "--shards", "2", "--from", old, "-o", old],
    `${old} is also an input (${old})`,
    old,
    `${old}.orig`,
  );
  await refusedUntouched(
    ["plan", root, "--shards", "2", "--from", dir, "-o", out],
    `${out} is also an input (${out})`,
    out,
    `${out}.orig`,
  );
  // nor a shard's output without --from: only its shard writes it
  await refusedUntouched(
    ["plan", root, "--shards", "2", "-o", out],
    `${out} is a shard's output of the scan in ${dir}`,
    out,
    `${out}.orig`,
  );
  // the shards' folder is whole: status checks every output's SHA-256
  const st = await cli(["status", "--verify", dir]);
  assertEquals(st.code, 0, st.text + st.stderr);
});

Deno.test("plan -o and a shard's -o that is a folder: bad usage (2), as report's -o", async () => {
  await using tmp = await tempDir();
  const { root } = await twoFolders(tmp.path);
  const plan = `${tmp.path}/plan.json`;
  assertEquals((await cli(["plan", root, "--shards", "2", "-o", plan])).code, 0);
  const folder = `${tmp.path}/out.csv`;
  await Deno.mkdir(folder);
  for (
    const args of [
      ["plan", root, "--shards", "2", "-o", folder],
      ["report", "--plan", plan, "--shard", "0", "-o", folder],
      ["report", "-o", folder, root],
    ]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(
      r.stderr.trim(),
      `pwalk: ${folder} is a folder: give the name of a file to write`,
    );
    assertEquals([...Deno.readDirSync(folder)], [], "nothing written in it");
  }
});

Deno.test("plan -o as report's -o: a device or FIFO is written directly, a link written through", async () => {
  await using tmp = await tempDir();
  const { root } = await twoFolders(tmp.path);
  const plan = (out: string) =>
    cli(["plan", root, "--shards", "2", "-o", out], { timeoutMs: 60_000 });
  // python reads each output as JSON: a plan of 2 shards, or why not
  const readAsPlan = (path: string) =>
    run("python3", [
      "-c",
      "import json, sys; p = json.load(open(sys.argv[1])); print(p['format'], p['shards'])",
      path,
    ], { timeoutMs: 60_000 });
  // a FIFO: never opened before the plan is written; its reader gets it
  const fifo = `${tmp.path}/fifo`;
  assertEquals((await run("mkfifo", [fifo])).code, 0);
  const reader = readAsPlan(fifo);
  const viaFifo = await plan(fifo);
  assertEquals([viaFifo.code, viaFifo.timedOut], [0, false], viaFifo.stderr);
  assertEquals((await reader).text, "pwalk-shard-plan 2\n");
  assert(Deno.lstatSync(fifo).isFifo, "the FIFO stays a FIFO");
  // a character device of its own (never the system's /dev/null)
  const dev = `${tmp.path}/null`;
  if ((await run("mknod", ["-m", "666", dev, "c", "1", "3"])).code === 0) {
    const r = await plan(dev);
    assertEquals(r.code, 0, r.stderr);
    const st = Deno.lstatSync(dev);
    assert(st.isCharDevice && st.rdev === Deno.statSync("/dev/null").rdev, "not the device now");
  }
  // a link: its target replaced by the plan, the link kept; then a plan
  // there is not replaced, read through the link
  const target = `${tmp.path}/target`;
  await Deno.writeTextFile(target, "keep\n");
  await Deno.symlink(target, `${tmp.path}/link`);
  const viaLink = await plan(`${tmp.path}/link`);
  assertEquals(viaLink.code, 0, viaLink.stderr);
  assert(Deno.lstatSync(`${tmp.path}/link`).isSymlink, "the link stays");
  assertEquals((await readAsPlan(target)).text, "pwalk-shard-plan 2\n");
  const again = await plan(`${tmp.path}/link`);
  assertEquals(again.code, 2, again.stderr);
  assertStringIncludes(again.stderr, `${tmp.path}/link already holds a plan`);
  // a link to nothing: refused as bad usage, as report's -o refuses it
  await Deno.symlink(`${tmp.path}/nothing`, `${tmp.path}/dangling`);
  const dangling = await plan(`${tmp.path}/dangling`);
  assertEquals(dangling.code, 2, dangling.stderr);
  assertStringIncludes(dangling.stderr, "a link to nothing");
  assert(!existsSync(`${tmp.path}/nothing`));
});

testNeeding([ZSTD], {
  name:
    "a shard's -o a link in the scan folder: replaced, its target never written; the format the name's",
  async fn() {
    await using tmp = await tempDir();
    const { root, dir } = await twoFolders(tmp.path);
    const plan = await makePlan(root, 2, `${dir}/plan.json`);
    // targets named for another format, or for none, in a folder of their own
    const victims = `${tmp.path}/V`;
    await Deno.mkdir(victims);
    const targets = [`${victims}/big0.csv`, `${victims}/big1`];
    for (const [i, t] of targets.entries()) {
      await Deno.writeTextFile(t, "precious");
      await Deno.symlink(t, `${dir}/scan-${i}.csv.zst`);
    }
    for (let i = 0; i < plan.shards; i++) {
      const r = await cli(shardArgs(`${dir}/plan.json`, i, `${dir}/scan-${i}.csv.zst`));
      assertEquals(r.code, 0, r.stderr);
      assert(Deno.lstatSync(`${dir}/scan-${i}.csv.zst`).isFile, "the link replaced");
    }
    // the targets as they were, and nothing (lock, temporary) beside them
    for (const t of targets) assertEquals(await Deno.readTextFile(t), "precious");
    assertEquals([...Deno.readDirSync(victims)].map((e) => e.name).sort(), ["big0.csv", "big1"]);
    // the zstd command reads each output: zstd, and together a single run's rows
    const outs = [];
    for (let i = 0; i < plan.shards; i++) outs.push(await unzstd(`${dir}/scan-${i}.csv.zst`));
    assertSameLines(lineSet(concat(...outs)), await wholeLines(root), "the shards' union");
    const st = await cli(["status", "--verify", dir]);
    assertEquals(st.code, 0, st.text + st.stderr);
    const sum = await cli(["summary", dir]);
    assertEquals(sum.code, 0, sum.stderr);
  },
});

Deno.test("two shards (or plans) given one output outside the plan's folder: the lock refusal names the shard that holds it, as its lock file says", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  await makePlan(root, 2, `${dir}/plan.json`);
  await makePlan(root, 2, `${dir}/other.json`);
  const [plan, other] = await Promise.all(
    [`${dir}/plan.json`, `${dir}/other.json`].map((p) => readPlan(p)),
  );
  const outDir = `${tmp.path}/out`;
  await Deno.mkdir(outDir);
  const out = `${outDir}/x.csv`, lock = `${outDir}/x.lock`;
  // shard 0 of the plan holds the output's lock (this process, as its run would)
  const held = await lockShard(out, 0, plan.id);
  assert(held);
  try {
    const [first, second] = (await Deno.readTextFile(lock)).split("\n");
    assertEquals(first, `pid ${Deno.pid} on ${Deno.hostname()}`);
    assertEquals(second, `shard 0 of plan ${plan.id}`);
    const who = `(pid ${Deno.pid} on ${Deno.hostname()})`;
    const cases: [string, number, string][] = [
      [`${dir}/plan.json`, 1, `shard 0 ${who} is running with the same record and lock`],
      [`${dir}/plan.json`, 0, `shard 0 is already running ${who}`],
      [
        `${dir}/other.json`,
        0,
        `shard 0 of another plan (${plan.id}) ${who} is running with the same record and lock`,
      ],
    ];
    for (const [p, shard, said] of cases) {
      const r = await cli(shardArgs(p, shard, out));
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.split("\n").length, 2, r.stderr);
      assertStringIncludes(r.stderr, `pwalk: refused: ${said}: ${lock} is locked by it; `);
    }
    assertEquals([...Deno.readDirSync(outDir)].map((e) => e.name), ["x.lock"]);
    assert(other.id !== plan.id);
  } finally {
    await held?.release();
  }
});

Deno.test("one output given to two shards of a plan, one after the other: the second is refused (2), the first's output and record kept; another plan's record there is replaced", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  await makePlan(root, 2, `${dir}/plan.json`);
  await makePlan(root, 2, `${dir}/other.json`);
  const outDir = `${tmp.path}/out`;
  await Deno.mkdir(outDir);
  const out = `${outDir}/x.csv`, rec = `${outDir}/x.done.json`;
  const first = await cli(shardArgs(`${dir}/plan.json`, 0, out));
  assertEquals(first.code, 0, first.stderr);
  const before = [await Deno.readFile(out), await Deno.readTextFile(rec)];
  assertEquals(JSON.parse(before[1] as string).shard, 0);
  for (const o of [out, `${outDir}/x.csv.zst`]) {
    const second = await cli(shardArgs(`${dir}/plan.json`, 1, o));
    assertEquals(second.code, 2, second.stderr);
    assertStringIncludes(
      second.stderr,
      `pwalk: -o ${o}: ${rec} is the record of shard 0 of this plan, not of shard 1: `,
    );
    assertEquals([await Deno.readFile(out), await Deno.readTextFile(rec)], before);
    assertEquals([...Deno.readDirSync(outDir)].map((e) => e.name).sort(), ["x.csv", "x.done.json"]);
  }
  // shard 0 again, and another plan's shard 1 (a later scan to the same file): they run
  for (const [p, i] of [[`${dir}/plan.json`, 0], [`${dir}/other.json`, 1]] as const) {
    const r = await cli(shardArgs(p, i, out));
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(await Deno.readTextFile(rec)).shard, i);
  }
});

Deno.test("a shard already running (its scan-I.lock held): a second run is refused, its output spelled with another suffix too, nothing touched", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  await makePlan(root, 2, `${dir}/plan.json`);
  const out = `${dir}/scan-1.csv`, lock = `${dir}/scan-1.lock`;
  const first = await cli(shardArgs(`${dir}/plan.json`, 1, out));
  assertEquals(first.code, 0, first.stderr);
  assert(!existsSync(lock), "the lock file was left after the run");
  const before = [Deno.readTextFileSync(out), Deno.readTextFileSync(`${dir}/scan-1.done.json`)];

  // Another process holds the lock, as a run of this shard does (flock, from Python).
  const holder = new Deno.Command("python3", {
    args: [
      "-c",
      `import fcntl, os, sys
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write("pid 4242 on node07\\n"); f.flush()
print("held", flush=True)
sys.stdin.read()`,
      lock,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  assertEquals(new TextDecoder().decode((await reader.read()).value).trim(), "held");

  // the same output, or one that differs in its suffix only (the same
  // record, scan-1.done.json, which both would write)
  for (const o of [out, `${dir}/scan-1.csv.zst`, `${dir}/scan-1.csv.gz`, `${dir}/scan-1`]) {
    const second = await cli(shardArgs(`${dir}/plan.json`, 1, o));
    assertEquals(second.code, 1, `${o}: ${second.stderr}`);
    assertEquals(
      second.stderr.trim(),
      `pwalk: refused: shard 1 is already running (pid 4242 on node07): ${lock} is locked ` +
        "by it; wait for it to end, or end it",
    );
  }
  // the running shard's output and record are untouched, no temporary was made
  assertEquals(
    [Deno.readTextFileSync(out), Deno.readTextFileSync(`${dir}/scan-1.done.json`)],
    before,
  );
  assertEquals(
    [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
    ["plan.json", "scan-1.csv", "scan-1.done.json", "scan-1.lock"],
  );
  const plan = await readPlan(`${dir}/plan.json`);
  await assertRejects(() => runShard(plan, 1, { output: out }), ShardBusyError);
  await assertRejects(
    () => runShard(plan, 1, { output: `${dir}/scan-1.csv.zst` }),
    ShardBusyError,
  );

  // once the holder is gone, the shard runs and leaves no lock file
  await holder.stdin.close();
  await reader.cancel();
  await holder.status;
  const third = await cli(shardArgs(`${dir}/plan.json`, 1, out));
  assertEquals(third.code, 0, third.stderr);
  assert(!existsSync(lock));
  const st = await cli(["status", "--verify", "--json", dir]);
  const shard1 = JSON.parse(st.text).shards.find((x: { shard: number }) => x.shard === 1);
  assertEquals(shard1.state, "done", st.text);

  // a lock file someone made a link (dangling, or to a file) or a second
  // name of another file: never opened through, nothing created or written
  const target = `${tmp.path}/made-by-root`;
  Deno.symlinkSync(target, lock);
  const linked = await cli(shardArgs(`${dir}/plan.json`, 1, out));
  assertEquals(linked.code, 1, linked.stderr);
  assertStringIncludes(linked.stderr, `${lock}: not a lock file of yours (a symbolic link)`);
  assert(!existsSync(target), "the link's target was created");
  Deno.removeSync(lock);
  Deno.writeTextFileSync(target, "precious\n");
  Deno.linkSync(target, lock);
  const hard = await cli(shardArgs(`${dir}/plan.json`, 1, out));
  assertEquals(hard.code, 1, hard.stderr);
  assertStringIncludes(hard.stderr, "(a file with 2 names)");
  assertEquals(Deno.readTextFileSync(target), "precious\n");
});

/**
 * A tree of 6 folders of 600 files under `tmp`/tree and its plan of 2
 * shards in `tmp`/scan/plan.json (shard rows of some 600 KiB, for the
 * full-disk tests): the scan folder.
 */
async function wideTreePlan(tmp: string): Promise<string> {
  const root = `${tmp}/tree`;
  await Deno.mkdir(root);
  await flatTree(root, 6, 600);
  const dir = `${tmp}/scan`;
  await Deno.mkdir(dir);
  await makePlan(root, 2, `${dir}/plan.json`);
  return dir;
}

Deno.test({
  name: "shard 0 joining its two parts on a full disk: one line naming the output, nothing left",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const dir = await wideTreePlan(tmp.path);
    // shard 0's plain CSV where there is room: its size S
    const roomy = await cli(shardArgs(`${dir}/plan.json`, 0, `${dir}/s0.csv`));
    assertEquals(roomy.code, 0, roomy.stderr);
    const size = (await Deno.stat(`${dir}/s0.csv`)).size;
    assert(size > 256 * 1024, `${size}`);
    // room for its two parts (S) but not for their join beside them (2S)
    const full = `${tmp.path}/full`;
    await Deno.mkdir(full);
    assertEquals(await mountTmpfs(full, `size=${Math.ceil((size * 1.5) / 1024)}k`), "");
    const r = await cli(shardArgs(`${dir}/plan.json`, 0, `${full}/s0.csv`));
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, `pwalk: cannot write ${full}/s0.csv: No space left on device\n`);
    assertEquals([...Deno.readDirSync(full)], [], "nothing left behind");
  },
});

Deno.test({
  name: "a shard writing a part on a full disk: one line naming the output given, nothing left",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const dir = await wideTreePlan(tmp.path);
    // each shard's rows (some 600 KiB) do not fit in 64 KiB
    const full = `${tmp.path}/full`;
    await Deno.mkdir(full);
    assertEquals(await mountTmpfs(full, "size=64k"), "");
    for (const [shard, out] of [[1, `${full}/s1.csv`], [0, `${full}/s0.csv`]] as const) {
      const r = await cli(shardArgs(`${dir}/plan.json`, shard, out));
      assertEquals(r.code, 1, r.stderr);
      // the -o given, not its temporary part (s1.csv.front-PID)
      assertEquals(r.stderr, `pwalk: cannot write ${out}: No space left on device\n`);
      assertEquals([...Deno.readDirSync(full)], [], "nothing left behind");
    }
  },
});

Deno.test({
  name: "a shard's lock file on a full disk: one line naming it, nothing left",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const { root, dir } = await twoFolders(tmp.path);
    await makePlan(root, 2, `${dir}/plan.json`);
    const full = `${tmp.path}/full`;
    await Deno.mkdir(full);
    assertEquals(await mountTmpfs(full, "size=64k"), "");
    // filled to the last block: new names still fit, no byte does
    const dd = await run("dd", ["if=/dev/zero", `of=${full}/filler`, "bs=4096"]);
    assertStringIncludes(dd.stderr, "No space left on device");
    const r = await cli(shardArgs(`${dir}/plan.json`, 1, `${full}/s1.csv`));
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, `pwalk: cannot write ${full}/s1.lock: No space left on device\n`);
    assertEquals([...Deno.readDirSync(full)].map((e) => e.name), ["filler"], "left behind");
  },
});

Deno.test("shards whose output names of 250 bytes begin alike: each its own lock and temporaries", async () => {
  await using tmp = await tempDir();
  const { lockShard } = await import("../lib/shard/lock.ts");
  const stem = `${tmp.path}/${"s".repeat(240)}`;
  const a = await lockShard(`${stem}-0.csv.zst`, 0);
  const b = await lockShard(`${stem}-1.csv.zst`, 1); // held at once: not the same lock
  if (!a || !b) throw new Error("no lock taken");
  const names = [...Deno.readDirSync(tmp.path)].map((e) => e.name);
  assertEquals(names.length, 2, names.join());
  for (const n of names) assert(new TextEncoder().encode(n).length <= 255, n);
  await a.release();
  await b.release();
});

testNeeding([ZSTD], {
  name: "a folder moved between two shards' walks: summary counts it under both paths and says so",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    for (let i = 0; i < 12; i++) {
      await Deno.mkdir(`${root}/a${i}/s`, { recursive: true });
      for (let k = 0; k < 30; k++) await Deno.writeTextFile(`${root}/a${i}/s/f${k}`, "x");
    }
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 2, `${dir}/plan.json`);
    // shard 1 walks, then one of its folders moves into one of shard 0's
    const r1 = await cli(shardArgs(`${dir}/plan.json`, 1, `${dir}/scan-1.csv.zst`));
    assertEquals(r1.code, 0, r1.stderr);
    const from = plan.frontier.find((f) => f.shard === 1)!.path;
    const into = plan.frontier.find((f) => f.shard === 0)!.path;
    await Deno.rename(from, `${into}/moved`);
    const r0 = await cli(shardArgs(`${dir}/plan.json`, 0, `${dir}/scan-0.csv.zst`));
    assertEquals(r0.code, 0, r0.stderr);
    // the folders (by st_dev and inode) with rows under two paths, counted here
    const seen = new Map<string, number>();
    for (const i of [0, 1]) {
      for (const row of parsePwalk(await unzstd(`${dir}/scan-${i}.csv.zst`)).rows) {
        if (!row.mode.startsWith("004")) continue;
        const k = `${row.dev} ${row.ino}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
    const twice = [...seen.values()].filter((n) => n > 1).length;
    assert(twice > 0);
    const s = await cli(["summary", "--json", dir]);
    assertEquals(s.code, 0, s.stderr);
    assertEquals(JSON.parse(s.text).totals.foldersSeenTwice, twice);
    const text = await cli(["summary", dir], { env: { COLUMNS: "80" } });
    assertStringIncludes(
      text.text,
      `warning: ${twice} folder${twice === 1 ? " has" : "s have"} rows under two or more paths`,
    );
    // a scan of one walk has none
    const single = `${tmp.path}/whole.csv`;
    assertEquals((await cli(["-o", single, root])).code, 0);
    const w = await cli(["summary", "--json", single]);
    assertEquals(JSON.parse(w.text).totals.foldersSeenTwice, 0);
  },
});

testNeeding([ZSTD], {
  name: "a folder moved from a shard not run yet into one already run: listed by none, unseen",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    for (const a of ["A", "B", "C", "D"]) {
      for (let i = 0; i < 6; i++) {
        await Deno.mkdir(`${root}/${a}/s${i}/inner`, { recursive: true });
        for (let k = 0; k < 30; k++) await Deno.writeTextFile(`${root}/${a}/s${i}/f${k}`, "x");
        await Deno.writeTextFile(`${root}/${a}/s${i}/inner/z`, "z");
      }
    }
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 4, `${dir}/plan.json`);
    // shard `into.shard` walks; then a folder below a planned folder of
    // another shard moves into its planned folder; then the others walk
    const planned = plan.frontier.filter((f) => /\/s\d$/.test(f.path));
    const from = planned[0];
    const into = planned.find((f) => f.shard !== from.shard)!;
    const out = (i: number) => `${dir}/scan-${i}.csv.zst`;
    const first = await cli(shardArgs(`${dir}/plan.json`, into.shard, out(into.shard)));
    assertEquals(first.code, 0, first.stderr);
    const moved = Deno.lstatSync(`${from.path}/inner`);
    await Deno.rename(`${from.path}/inner`, `${into.path}/moved`);
    for (let i = 0; i < plan.shards; i++) {
      if (i === into.shard) continue;
      const r = await cli(shardArgs(`${dir}/plan.json`, i, out(i)));
      assertEquals(r.code, 0, r.stderr);
    }
    // no row of the folder (by st_dev and inode) or of its file in any
    // shard; a single run now lists both
    const ours = (rows: PwalkRow[]) =>
      rows.filter((r) => (r.ino === moved.ino && r.dev === moved.dev) || r.key.endsWith("/moved/z"))
        .length;
    let found = 0;
    for (let i = 0; i < plan.shards; i++) found += ours(parsePwalk(await unzstd(out(i))).rows);
    assertEquals(found, 0);
    const whole = await cli(["-o", `${tmp.path}/whole.csv`, root]);
    assertEquals(whole.code, 0, whole.stderr);
    assertEquals(ours(parsePwalk(Deno.readFileSync(`${tmp.path}/whole.csv`)).rows), 2);
    // ... and nothing says so: no error, every shard done, no warning
    const st = await cli(["status", dir]);
    assertEquals(st.code, 0, st.stderr);
    assertStringIncludes(st.text, `${plan.shards} shards: ${plan.shards} done`);
    for (let i = 0; i < plan.shards; i++) {
      assertEquals(JSON.parse(Deno.readTextFileSync(`${dir}/scan-${i}.done.json`)).errors, 0);
    }
    const s = await cli(["summary", "--json", dir]);
    assertEquals(JSON.parse(s.text).totals.foldersSeenTwice, 0);
  },
});

Deno.test("status quotes a task log's last run (a log appended to), Slurm's cause of a cancel, and the log written last (review)", async () => {
  await using tmp = await tempDir();
  const root = await sharedTree();
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await makePlan(root, 2, `${dir}/plan.json`);
  const stopped =
    "pwalk: interrupted by SIGTERM; no output file and no completion record were left";
  // --open-mode=append: a run that ended done, then its requeued rerun, cut
  // by Slurm's time limit
  await Deno.writeTextFile(
    `${dir}/logs/9_0.out`,
    [
      "pwalk: shard 0 of 2 on node1, 2 CPUs allocated, 2 usable",
      `pwalk: shard 0 of 2: 5 entries, 0 errors in 0.01 s, record ${dir}/scan-0.done.json`,
      "pwalk: shard 0 of 2 on node2, 2 CPUs allocated, 2 usable",
      "slurmstepd: error: *** JOB 9 ON node2 CANCELLED AT 2026-12-06T22:19:45 DUE TO TIME LIMIT ***",
      stopped,
      "",
    ].join("\n"),
  );
  // shard 1 in two jobs: the later one refused by the first's lock, which
  // then was cancelled (scancel): its log is the one written last
  const refused = "pwalk: refused: shard 1 is already running (pid 2847 on node1)";
  await Deno.writeTextFile(`${dir}/logs/21_1.out`, `pwalk: shard 1 of 2 on node1\n${refused}\n`);
  await Deno.writeTextFile(
    `${dir}/logs/20_1.out`,
    "pwalk: shard 1 of 2 on node1\n" +
      "slurmstepd: error: *** JOB 20 ON node1 CANCELLED AT 2026-12-06T22:20:00 ***\n" +
      `${stopped}\n`,
  );
  await Deno.utime(`${dir}/logs/21_1.out`, 1_700_000_000, 1_700_000_000);
  await Deno.utime(`${dir}/logs/20_1.out`, 1_700_000_100, 1_700_000_100);
  const st = await cli(["status", "--json", dir]);
  assertEquals(st.code, 1, st.stderr);
  const shards = JSON.parse(st.text).shards;
  assertEquals(shards.map((s: { state: string }) => s.state), ["failed", "failed"]);
  assertEquals(shards[0].detail, `logs/9_0.out: ${stopped} (cancelled by Slurm due to time limit)`);
  assertEquals(shards[1].detail, `logs/20_1.out: ${stopped} (cancelled by Slurm)`);
});

testNeeding([ZSTD], {
  name: "a shard done in a Slurm log, then stopped in a rerun by hand: neither message says done",
  async fn() {
    await using tmp = await tempDir();
    const root = await sharedTree();
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(`${dir}/logs`, { recursive: true });
    await makePlan(root, 2, `${dir}/plan.json`);
    const out = `${dir}/scan-1.csv.zst`;
    const first = await cli(shardArgs(`${dir}/plan.json`, 1, out));
    assertEquals(first.code, 0, first.stderr);
    // what Slurm's task wrote: the shard's stderr, its success line last
    await Deno.writeTextFile(`${dir}/logs/7_1.out`, first.stderr);
    assertStringIncludes(first.stderr, `record ${dir}/scan-1.done.json`);
    let earlier: Uint8Array | null = await Deno.readFile(out);
    // run again by hand, stopped (SIGTERM) once its temporary output is there
    const tick = () => new Promise<boolean>((r) => setTimeout(() => r(false), 1));
    const stoppedRerun = async () => {
      for (let attempt = 0;; attempt++) {
        const p = spawnCli(shardArgs(`${dir}/plan.json`, 1, out, "--level", "19"));
        const ended = p.status.then(() => true);
        let seen = false;
        while (!seen && !(await Promise.race([ended, tick()]))) {
          seen = [...Deno.readDirSync(dir)].some((e) => /^scan-1\.csv\.zst\.front-\d/.test(e.name));
        }
        if (seen) {
          try {
            p.kill("SIGTERM");
          } catch { /* it ended meanwhile: tried again below */ }
        }
        const r = await p.output();
        const stderr = new TextDecoder().decode(r.stderr);
        if (seen && r.code === 143) return stderr;
        assert(attempt < 10, `the rerun ended before it was stopped 10 times: ${stderr}`);
        // finished: back to the state before it
        if (earlier) await Deno.writeFile(out, earlier);
        else await Deno.remove(out).catch(() => {});
        await Deno.remove(`${dir}/scan-1.done.json`).catch(() => {});
      }
    };
    let stderr = await stoppedRerun();
    // the earlier output is there, as it was, without its record: said so
    assertEquals(await Deno.readFile(out), earlier);
    assert(!existsSync(`${dir}/scan-1.done.json`));
    assertStringIncludes(
      stderr,
      `pwalk: interrupted by SIGTERM; no completion record was left; ${out} was not replaced ` +
        "(an earlier run's, without its record now)",
    );
    // status: failed, and not with the log's line of success as the reason
    const st = await cli(["status", "--json", dir]);
    assertEquals(st.code, 1, st.stderr);
    const s1 = JSON.parse(st.text).shards[1];
    assertEquals(s1.state, "failed");
    assertEquals(
      s1.detail,
      "logs/7_1.out ended done, but no record is there now: a later run (by hand) failed or " +
        "was stopped, or the record was removed",
    );
    // a log that ends otherwise is still quoted
    await Deno.writeTextFile(`${dir}/logs/8_1.out`, "slurmstepd: error: *** JOB 8 CANCELLED ***\n");
    const again = JSON.parse((await cli(["status", "--json", dir])).text).shards[1];
    assertEquals(again.detail, "logs/8_1.out: slurmstepd: error: *** JOB 8 CANCELLED ***");
    // with no output there at all, the message is the old one
    await Deno.remove(out);
    earlier = null;
    stderr = await stoppedRerun();
    assertStringIncludes(
      stderr,
      "pwalk: interrupted by SIGTERM; no output file and no completion record were left",
    );
    assert(!existsSync(out));
  },
});

Deno.test("shard 0 stopped in its second part: what it had done counts both parts", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // shard 0's first part: the root and its 10,000 files (above the
  // frontier); its second: 16 frontier folders of long-named files (4 MiB).
  // Every file a name of one empty file beside the tree (flatTree's
  // `links`): the shard only reads them, and links are made ten times
  // faster or more than files on a disk slow to make inodes
  const inFolders = await flatTree(root, 16, 1000, 0, true);
  await python(
    `import os, sys
for i in range(10000): os.link(sys.argv[1] + ".links", os.path.join(sys.argv[1], "t%05d" % i))`,
    root,
  );
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`);
  assertEquals(plan.frontier.length, 16);
  // to stdout, read until the second part's rows come, then no more: it
  // waits on the pipe in its second part, where SIGTERM stops it
  const p = spawnCli(["report", "--plan", `${dir}/plan.json`, "--shard", "0", "--threads", "2"]);
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes(`${root}/dir0`)) {
    const c = await reader.read();
    assert(!c.done, "stdout ended before the second part");
    text += new TextDecoder().decode(c.value);
  }
  p.kill("SIGTERM");
  // read the rest only once it has ended: drained at once, the pipe let a
  // loaded machine's shard write its last rows before it saw the signal
  // (it then ended 0, whole); stopped, it waits on the full pipe, and the
  // signal's cancel wakes it there
  const stderrText = new Response(p.stderr).bytes();
  const status = await p.status;
  for (let c = await reader.read(); !c.done; c = await reader.read()) {
    text += new TextDecoder().decode(c.value);
  }
  const stderr = new TextDecoder().decode(await stderrText);
  assertEquals(status.code, 143, stderr);
  // whole lines (the cancel may cut the last write short)
  const lines = text.split("\n").slice(0, -1);
  const rows = lines.length;
  const above = lines.filter((l) => !l.includes(`${root}/dir0`)).length;
  assertEquals(above, 10001, "the first part whole: the root and its files");
  assert(rows < 10001 + inFolders, "stopped before its end");
  // every row that reached stdout was counted: the first part's too
  const m = /^pwalk: interrupted by SIGTERM; .*; ([\d,]+) entries walked, 0 errors in /m.exec(
    stderr,
  );
  if (!m) throw new Error(`no count of what it had done: ${stderr}`);
  const told = Number(m[1].replaceAll(",", ""));
  assert(told >= rows, `told ${told} entries, ${rows} rows were written: ${stderr}`);
  assert(told <= 10001 + inFolders, stderr);
  // what reached stdout, both parts: the CSV there is incomplete (no file was meant)
  assertStringIncludes(
    stderr,
    `; the CSV on stdout is incomplete (${iecTenths(text.length)} were written); `,
  );
});

Deno.test("a planned folder, or one on the way to it, now a file or a link: race, ENOTDIR", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const a of ["A", "B"]) {
    for (let s = 0; s < 4; s++) {
      await Deno.mkdir(`${root}/${a}/s${s}/inner`, { recursive: true });
      for (let k = 0; k < 30; k++) await Deno.writeTextFile(`${root}/${a}/s${s}/f${k}`, "x");
    }
  }
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`, ["--min-folders", "8"]);
  const mine = plan.frontier.filter((f) => f.shard === 1).map((f) => f.path);
  const inA = mine.filter((p) => p.startsWith(`${root}/A/`));
  const inB = mine.filter((p) => p.startsWith(`${root}/B/`));
  assert(inA.length >= 1 && inB.length >= 2, mine.join(" "));
  // A (on the way to shard 1's folders in it): a link to it, moved away;
  // one of B's: a file; another: a link to a folder
  await Deno.rename(`${root}/A`, `${tmp.path}/A`);
  await Deno.symlink(`${tmp.path}/A`, `${root}/A`);
  await Deno.rename(inB[0], `${tmp.path}/b0`);
  await Deno.writeTextFile(inB[0], "a file now");
  await Deno.rename(inB[1], `${tmp.path}/b1`);
  await Deno.symlink(`${tmp.path}/b1`, inB[1]);
  assert(Deno.lstatSync(`${root}/A`).isSymlink && Deno.lstatSync(inB[0]).isFile);
  const errors = `${tmp.path}/errors.csv`;
  const r = await cli(shardArgs(`${dir}/plan.json`, 1, `${dir}/scan-1.csv`, "--errors", errors));
  assertEquals(r.code, 0, r.stderr);
  // the message of ENOTDIR, as Python's os.strerror gives it
  const message = (await python(
    "import errno, os; print(os.strerror(errno.ENOTDIR), end='')",
  )).trim();
  assertEquals(message, "Not a directory");
  const raced = [...inA, inB[0], inB[1]].sort();
  const [head, ...rows] = Deno.readTextFileSync(errors).split("\n").filter(Boolean);
  assertEquals(head, "path,operation,errno,message");
  assertEquals(rows.sort(), raced.map((p) => `"${p}",race,ENOTDIR,"${message}"`));
  for (const p of raced) assertStringIncludes(r.stderr, `pwalk: race '${p}': ${message}\n`);
  assert(!r.stderr.includes("Stale"), r.stderr);
});

testNeeding([ZSTD], {
  name: "-x: a mount on the way to a planned folder after the plan: not walked, as a single run",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    for (const a of ["A", "B"]) {
      for (let s = 0; s < 4; s++) {
        await Deno.mkdir(`${root}/${a}/s${s}/inner`, { recursive: true });
        for (let k = 0; k < 30; k++) await Deno.writeTextFile(`${root}/${a}/s${s}/f${k}`, "x");
      }
    }
    // a folder on the root's file system, outside the tree
    const other = `${tmp.path}/other`;
    await Deno.mkdir(`${other}/deep`, { recursive: true });
    for (let k = 0; k < 5; k++) await Deno.writeTextFile(`${other}/deep/o${k}`, "o");
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const plan = await makePlan(root, 2, `${dir}/plan.json`, ["-x", "--min-folders", "8"]);
    const inA = plan.frontier.filter((f) => f.path.startsWith(`${root}/A/`));
    assert(inA.length > 0, "no planned folder in A");
    // then A is mounted over (a tmpfs), and each planned folder's path in it
    // leads, by a bind mount, to a folder on the root's file system
    assertEquals(await mountTmpfs(`${root}/A`, "size=1m"), "");
    for (const f of inA) {
      await Deno.mkdir(f.path);
      assertEquals(await mountBind(other, f.path), "");
    }
    const dev = Deno.statSync(root).dev;
    assertNotEquals(Deno.statSync(`${root}/A`).dev, dev);
    assert(inA.every((f) => Deno.statSync(f.path).dev === dev));
    // a single -x run stops at A: no row at or below it, no error
    const whole = await wholeLines(root, ["-x"]);
    assert(!whole.some((l) => l.includes(`${root}/A`)), "a single run entered A");
    await runShards(`${dir}/plan.json`, dir, plan.shards);
    assertSameLines(await unionLines(dir, plan.shards), whole, "the shards' union");
    for (let i = 0; i < plan.shards; i++) {
      assertEquals(JSON.parse(Deno.readTextFileSync(`${dir}/scan-${i}.done.json`)).errors, 0);
    }
  },
});

Deno.test("status: a shard whose lock file is there before its temporary output is running (its lock held) or incomplete (not held: its pid dead, or another's now), not missing; another plan's lock is no trace", async () => {
  await using tmp = await tempDir();
  const { root, dir } = await twoFolders(tmp.path);
  await makePlan(root, 2, `${dir}/plan.json`);
  const lock = `${dir}/scan-1.lock`; // lockPath(): one per shard
  const states = async () => {
    const s = await cli(["status", dir, "--json"]);
    assertEquals(s.code, 1, s.stderr);
    return JSON.parse(s.text).shards.map((x: { state: string; detail?: string }) => x);
  };
  // a run by hand between taking its lock and making its temporary output:
  // a process alive on this host (this test's own, as kill -0 says), its
  // lock held (flock, as lockShard takes it)
  assertEquals((await run("kill", ["-0", String(Deno.pid)])).code, 0);
  await Deno.writeTextFile(lock, `pid ${Deno.pid} on ${Deno.hostname()}\n`);
  const held = await Deno.open(lock, { read: true });
  await held.lock(true);
  let s = await states();
  assertEquals(s.map((x: { state: string }) => x.state), ["missing", "running"]);
  assertMatch(s[1].detail, new RegExp(`pid ${Deno.pid} on .*outside Slurm`));
  // the same file, its lock not held: a run killed outright whose pid is
  // another live process's now (a reboot, a container's pids): it died
  held.close();
  s = await states();
  assertEquals(s.map((x: { state: string }) => x.state), ["missing", "incomplete"]);
  assertMatch(s[1].detail, /names pid \d+ on this host, which does not hold it .*: it died$/);
  // another plan's lock left so (the folder planned again since), nothing
  // else of a run there: shard 1 of this plan never ran
  await Deno.writeTextFile(lock, `pid ${Deno.pid} on ${Deno.hostname()}\nshard 1 of plan 0ld\n`);
  s = await states();
  assertEquals(s.map((x: { state: string }) => x.state), ["missing", "missing"]);
  // a process that has ended (kill -0 fails): it died there
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  assertNotEquals((await run("kill", ["-0", String(gone.pid)])).code, 0);
  await Deno.writeTextFile(lock, `pid ${gone.pid} on ${Deno.hostname()}\n`);
  s = await states();
  assertEquals(s.map((x: { state: string }) => x.state), ["missing", "incomplete"]);
  assertMatch(s[1].detail, /scan-1\.lock is there, and .* which is not running: it died/);
});

Deno.test("lockShard(): outputs that differ in their suffix only (one record) share one lock", async () => {
  await using tmp = await tempDir();
  const { lockShard } = await import("../lib/shard/lock.ts");
  const a = await lockShard(`${tmp.path}/scan-2.csv.zst`, 2);
  if (!a) throw new Error("no lock taken");
  for (const o of ["scan-2.csv", "scan-2.csv.gz", "scan-2.CSV.ZSTD", "scan-2"]) {
    await assertRejects(() => lockShard(`${tmp.path}/${o}`, 2), ShardBusyError, undefined, o);
  }
  // another shard's output: its own lock
  const b = await lockShard(`${tmp.path}/scan-20.csv.zst`, 20);
  if (!b) throw new Error("scan-20's lock not taken");
  await b.release();
  await a.release();
  assertEquals([...Deno.readDirSync(tmp.path)], [], "no lock file left");
});

Deno.test('shard errors are named as their classes (as RefusedError is), not "Error" (audit)', async () => {
  await using tmp = await tempDir("pwalk-shard-");
  const f = `${tmp.path}/plan.json`;
  Deno.writeTextFileSync(f, "not json");
  const e = await assertRejects(() => readPlan(f), PlanError);
  assertEquals(e.name, "PlanError");
  assert(String(e).startsWith("PlanError: "), String(e));
  for (const C of [PlanError, PlanMismatchError, ShardBusyError, ScanFolderError]) {
    const x = new C("m", { cause: 1 });
    assertEquals([x.name, x.message, x.cause, x instanceof Error], [C.name, "m", 1, true]);
  }
});

Deno.test("planShards: header, noSnap, oneFileSystem that are not true or false are TypeErrors, no plan (audit)", async () => {
  await using tmp = await tempDir("pwalk-shard-");
  Deno.mkdirSync(`${tmp.path}/t/d`, { recursive: true });
  for (const k of ["header", "noSnap", "oneFileSystem"]) {
    const e = await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => planShards(`${tmp.path}/t`, { shards: 2, [k]: "false" } as any),
      TypeError,
    );
    assertEquals(e.message, `pwalk: ${k} must be true or false, got "false" (a string)`);
  }
  const p = await planShards(`${tmp.path}/t`, { shards: 2, header: false, noSnap: true });
  assertEquals([p.options.header, p.options.noSnap, p.options.oneFileSystem], [false, true, false]);
});

testNeeding([ZSTD], {
  name:
    "plan.json edited after shards ran: their records do not count; a folder planned twice or inside another is refused (audit)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await shardTree(root, 600, 11);
    await wholeLines(root); // settle folder atimes
    const expected = await wholeLines(root);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const planFile = `${dir}/plan.json`;
    const plan = await makePlan(root, 3, planFile);
    assertEquals(plan.shards, 3);
    await runShards(planFile, dir, 3);
    assertEquals((await cli(["status", dir])).code, 0);
    const rerun = async (i: number) => {
      const r = await cli(shardArgs(planFile, i, `${dir}/scan-${i}.csv.zst`));
      assertEquals(r.code, 0, r.stderr);
    };
    const states = async () => {
      const r = await cli(["status", dir, "--json"]);
      const s = JSON.parse(r.text);
      return [
        r.code,
        s.shards.map((x: { state: string }) => x.state),
        s.shards.map((x: { detail?: string }) => x.detail ?? ""),
      ];
    };

    // a frontier folder of shard 1 moved to shard 2, and shard 2 run again:
    // shard 1's record (and shard 0's) are of the plan as it was
    const edited = structuredClone(plan);
    const moved = edited.frontier.find((f) => f.shard === 1)!;
    moved.shard = 2;
    await Deno.writeTextFile(planFile, JSON.stringify(edited, null, 1) + "\n");
    await rerun(2);
    let [code, st, details] = await states();
    assertEquals([code, st], [1, ["failed", "failed", "done"]], details.join("\n"));
    assertEquals(
      details[1],
      "scan-1.done.json: made from another version of plan.json (edited since): run the shard again",
    );
    const text = await cli(["status", dir]);
    assertMatch(text.text, /^shard 1 {2}failed +scan-1\.done\.json: made from another version/m);
    assertMatch(text.text, /3 shards: 1 done, 2 failed; [\d,]+ rows in the 1 shard done so far\n$/);
    // the folder is not a complete scan for summary either
    const sum = await cli(["summary", "--json", dir]);
    assertEquals(sum.code, 1, sum.stderr);
    assertMatch(sum.stderr, /the scan is not complete: 1 of 3 shards done/);
    // run again, the shards together are a whole run's rows once more
    await rerun(0);
    await rerun(1);
    [code, st] = await states();
    assertEquals([code, st], [0, ["done", "done", "done"]]);
    assertSameLines(await unionLines(dir, 3), expected, "after the edit");

    // a frontier folder removed: every record is of another version
    const fewer = structuredClone(edited);
    fewer.frontier.splice(0, 1);
    await Deno.writeTextFile(planFile, JSON.stringify(fewer, null, 1) + "\n");
    [code, st] = await states();
    assertEquals([code, st], [1, ["failed", "failed", "failed"]]);
    // the options changed: the same
    await Deno.writeTextFile(
      planFile,
      JSON.stringify({ ...edited, options: { ...edited.options, noSnap: true } }, null, 1) + "\n",
    );
    [code, st] = await states();
    assertEquals([code, st], [1, ["failed", "failed", "failed"]]);
    // only its layout changed (JSON.stringify without indentation): still done
    await Deno.writeTextFile(planFile, JSON.stringify(edited));
    [code, st] = await states();
    assertEquals([code, st], [0, ["done", "done", "done"]]);

    // a folder planned twice, or one inside another: refused by status,
    // a shard and summary, one line, exit 2
    const f0 = edited.frontier.find((f) => f.pathBase64 === undefined)!;
    const twice = {
      ...edited,
      frontier: [...edited.frontier, { ...f0, shard: (f0.shard + 1) % 3 }],
    };
    const inside = {
      ...edited,
      frontier: [...edited.frontier, { ...f0, path: `${f0.path}/x`, pathBase64: undefined }],
    };
    for (
      const [bad, why] of [
        [twice, /is planned twice \(shards \d and \d\): its rows would be counted twice/],
        [inside, /\(shard \d\) lies inside frontier folder .* \(shard \d\): its rows would be/],
      ] as const
    ) {
      await Deno.writeTextFile(planFile, JSON.stringify(bad, null, 1) + "\n");
      for (
        const args of [
          ["status", dir],
          shardArgs(planFile, 1, `${tmp.path}/other-1.csv.zst`),
        ]
      ) {
        const r = await cli(args);
        assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assertMatch(r.stderr, new RegExp(`^pwalk: ${planFile}: .*${why.source}.*\\n$`));
      }
    }
    assert(!existsSync(`${tmp.path}/other-1.csv.zst`), "no shard ran");
  },
});

testNeeding([ZSTD], {
  name:
    "a shard whose record could not be written: status says its output is there without it, not missing (audit)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await shardTree(root, 200, 4);
    const dir = `${tmp.path}/scan`;
    await Deno.mkdir(dir);
    const planFile = `${dir}/plan.json`;
    await makePlan(root, 2, planFile);
    // the record's name is a folder that is not empty: it cannot be replaced
    await Deno.mkdir(`${dir}/scan-1.done.json/x`, { recursive: true });
    const r = await cli(shardArgs(planFile, 1, `${dir}/scan-1.csv.zst`));
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, /cannot write .*scan-1\.done\.json/);
    assert((await Deno.stat(`${dir}/scan-1.csv.zst`)).size > 0, "the output is in place");
    const s = await cli(["status", dir]);
    assertEquals(s.code, 1);
    assertMatch(
      s.text,
      /^shard 1 {2}incomplete +scan-1\.csv\.zst is there without its record scan-1\.done\.json: its run did not end, or could not write the record; run the shard again$/m,
    );
    assertMatch(s.text, /^shard 0 {2}missing$/m); // no trace of shard 0
  },
});

Deno.test("status finds the tasks of job.sbatch submitted by hand (no slurm.json) in squeue; no squeue note once all are done (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  const made = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  const plan: TestPlan = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`));
  assertEquals(plan.shards, 2);
  const name = `pwalk-${plan.id.slice(0, 8)}`;
  assertStringIncludes(await Deno.readTextFile(`${dir}/job.sbatch`), `--job-name=${name}\n`);
  // a squeue that holds that job's two tasks (the user's own sbatch of
  // job.sbatch), and answers nothing for any other name
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/squeue`,
    `#!/bin/sh\ncase " $* " in *" --name=${name} "*) printf '0|PENDING|Priority\\n1|RUNNING|None\\n';; esac\n`,
  );
  await Deno.chmod(`${bin}/squeue`, 0o755);
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  const status = async () => {
    const r = await cli(["status", dir, "--json"], { env });
    return [r.code, JSON.parse(r.text).shards.map((x: { state: string }) => x.state)];
  };
  assert(!existsSync(`${dir}/slurm.json`));
  assertEquals(await status(), [1, ["pending", "running"]]);
  const text = await cli(["status", dir], { env });
  assertMatch(text.text, /^shard 0 {2}pending +Slurm: PENDING \(Priority\)$/m);
  assertMatch(text.text, /^shard 1 {2}running +Slurm: RUNNING$/m);

  // squeue that does not answer: told while shards are not done ...
  await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\necho 'timeout' >&2\nexit 1\n");
  let r = await cli(["status", dir], { env });
  assertEquals(r.code, 1);
  // (those queued tasks left no trace in the folder: they look missing, not failed)
  assertEquals(await status(), [1, ["missing", "missing"]]);
  assertMatch(
    r.text,
    /\(squeue did not answer: queued and running shards look incomplete, failed or missing\)\n$/,
  );
  // ... not once every shard is done (slurm.json listing a submission too)
  await runShards(`${dir}/plan.json`, dir, 2);
  await Deno.writeTextFile(
    `${dir}/slurm.json`,
    JSON.stringify({
      submissions: [{ jobId: "7", array: "0-1", submitted: "2026-12-04T00:00:00Z", sbatch: [] }],
    }),
  );
  r = await cli(["status", dir], { env });
  assertEquals(r.code, 0, r.text);
  assertMatch(r.text, /2 shards: 2 done; [\d,]+ rows\n$/);
  // a done shard's task still in the queue: ending (COMPLETING: the run that
  // wrote the record) it is done; pending again (requeued) it is not (review)
  const queue = async (lines: string) => {
    await Deno.writeTextFile(`${bin}/squeue`, `#!/bin/sh\nprintf '${lines}'\n`);
    return await status();
  };
  assertEquals(await queue("0|COMPLETING|None\\n1|STAGE_OUT|None\\n"), [0, ["done", "done"]]);
  assertEquals(await queue("1|PENDING|BeginTime\\n"), [1, ["done", "pending"]]);
  r = await cli(["status", dir], { env });
  assertMatch(
    r.text,
    /^shard 1 {2}pending +\d+ rows, .*; Slurm: PENDING \(BeginTime\), though scan-1\.done\.json is there: a rerun/m,
  );
});

Deno.test("pwalk slurm: slurm.json not written after sbatch took the job: the job id on stdout, a warning naming it, exit 3 (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  // an sbatch that takes the job, after which DIR/slurm.json cannot be
  // replaced (a folder that is not empty there); a squeue with nothing queued
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/sbatch`,
    '#!/bin/bash\nd=$(dirname "${@: -1}")\nmkdir -p "$d/slurm.json/x"\n' +
      `echo "$*" >> ${tmp.path}/sbatch-calls\necho 4242\n`,
  );
  await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\nexit 0\n");
  await Deno.chmod(`${bin}/sbatch`, 0o755);
  await Deno.chmod(`${bin}/squeue`, 0o755);
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  const warned = new RegExp(
    `^pwalk slurm: warning: job 4242 is submitted, but cannot write ${dir}/slurm\\.json: .*` +
      `${dir}/slurm\\.json does not record job 4242; status and --resume still find its tasks`,
    "m",
  );
  const r = await cli(["slurm", root, "--shards", "2", "--out", dir], { env });
  assertEquals([r.code, r.text], [3, "4242\n"], r.stderr);
  assertMatch(r.stderr, warned);
  assertMatch(r.stderr, /^pwalk slurm: submitted job 4242 /m);
  // the plan and the script are kept (the job runs them)
  assert(existsSync(`${dir}/plan.json`) && existsSync(`${dir}/job.sbatch`));
  // --resume reads slurm.json before it submits: a folder there is no
  // record to add to, and nothing is submitted over it
  const res = await cli(["slurm", "--resume", dir], { env });
  assertEquals([res.code, res.text], [2, ""], res.stderr);
  assertEquals(
    res.stderr,
    `pwalk: ${dir}/slurm.json: cannot be read: Is a directory\n`,
  );
  assertEquals(
    (await Deno.readTextFile(`${tmp.path}/sbatch-calls`)).trim().split("\n").length,
    1,
    "one sbatch, of the first command",
  );
});

Deno.test("pwalk slurm --resume: a damaged slurm.json is refused before sbatch, never written over; put right, it keeps the earlier job (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await threeFolders(root);
  const dir = `${tmp.path}/scan`;
  const bin = `${tmp.path}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/sbatch`,
    `#!/bin/sh\necho "$*" >> ${tmp.path}/sbatch-calls\necho 4343\n`,
  );
  await Deno.writeTextFile(`${bin}/squeue`, "#!/bin/sh\nexit 0\n");
  await Deno.chmod(`${bin}/sbatch`, 0o755);
  await Deno.chmod(`${bin}/squeue`, 0o755);
  const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
  const made = await cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  const earlier = {
    jobId: "4242",
    array: "0-1",
    submitted: "2026-01-01T00:00:00.000Z",
    sbatch: [],
  };
  const whole = JSON.stringify({ submissions: [earlier] }, null, 1) + "\n";
  const damaged = whole.slice(0, 30);
  await Deno.writeTextFile(`${dir}/slurm.json`, damaged);
  const r = await cli(["slurm", "--resume", dir], { env });
  assertEquals([r.code, r.text], [2, ""], r.stderr);
  assertEquals(
    r.stderr,
    `pwalk: ${dir}/slurm.json: not pwalk's record of Slurm jobs (damaged?): put it right ` +
      "or remove it (it lists the job ids of the earlier submissions)\n",
  );
  assertEquals(await Deno.readTextFile(`${dir}/slurm.json`), damaged);
  assert(!existsSync(`${tmp.path}/sbatch-calls`), "sbatch not run");
  // status still answers (the tasks of the plan's job name found in squeue)
  const st = await cli(["status", dir], { env });
  assertEquals(st.code, 1, st.stderr);
  assertMatch(st.text, /^2 shards: 2 missing; /m);
  // put right: the new job is added to the earlier one
  await Deno.writeTextFile(`${dir}/slurm.json`, whole);
  const ok = await cli(["slurm", "--resume", dir], { env });
  assertEquals([ok.code, ok.text], [0, "4343\n"], ok.stderr);
  const subs = JSON.parse(await Deno.readTextFile(`${dir}/slurm.json`)).submissions;
  assertEquals(subs.map((x: { jobId: string }) => x.jobId), ["4242", "4343"]);
});

Deno.test("a scan folder holding another plan's outputs and records: slurm and plan refuse to plan there, naming them; status names strays (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "b", "c", "d", "e", "f"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
  const dir = `${tmp.path}/scan`;
  const made = await cli(["slurm", root, "--shards", "4", "--out", dir, "--dry-run"]);
  assertEquals(made.code, 0, made.stderr);
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/plan.json`)).shards, 4);
  await runShards(`${dir}/plan.json`, dir, 4);
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  await Deno.writeTextFile(`${dir}/logs/17_3.out`, "pwalk: shard 3 of 4 on node1\n");
  // README: remove plan.json to plan again
  await Deno.remove(`${dir}/plan.json`);
  const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const olds = [0, 1, 2, 3].flatMap((i) => [`scan-${i}.csv.zst`, `scan-${i}.done.json`]);
  for (
    const args of [
      ["slurm", root, "--shards", "2", "--out", dir, "--dry-run"],
      ["plan", root, "--shards", "2", "-o", `${dir}/plan.json`],
    ]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 2, `${args[0]}: ${r.stderr}`);
    assertEquals(r.stderr.split("\n").length, 2, r.stderr);
    assertStringIncludes(
      r.stderr,
      `${dir} holds files of another scan (${olds.slice(0, 6).join(", ")}, and 3 more): ` +
        "a new plan there would mix with them",
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before, "nothing written");
  }
  // a 2-shard plan put there all the same: status names the old files
  const other = `${tmp.path}/other`;
  await Deno.mkdir(other);
  await makePlan(root, 2, `${other}/plan.json`);
  await Deno.copyFile(`${other}/plan.json`, `${dir}/plan.json`);
  const s = await cli(["status", dir]);
  assertEquals(s.code, 1);
  assertStringIncludes(s.text, `\nstray files: ${olds.join(", ")} (not this plan's`);
  const j = JSON.parse((await cli(["status", dir, "--json"])).text);
  assertEquals(j.strays, olds);
});

Deno.test("a shard removes the library's temporaries a killed run left whatever process has their PID now, unless locked; shard 0's unlocked parts of a live PID stay", async () => {
  // in a container every run has the same PID, after a reboot a dead run's
  // PID is another process's: here this test's own (alive) PID
  await using tmp = await tempDir();
  const root = await sharedTree();
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 2, `${dir}/plan.json`);
  const pid = Deno.pid;
  const stale = [
    `scan-0.csv.zst.partial-${pid}-0`,
    `scan-0.csv.zst.top-${pid}.zst.partial-${pid}-0`,
  ];
  const live = `scan-0.csv.zst.partial-${pid}-1`; // locked below, as a live run's
  const part = `scan-0.csv.zst.top-${pid}.zst`; // a part: never locked, its live PID keeps it
  for (const n of [...stale, live, part]) await Deno.writeTextFile(`${dir}/${n}`, "rows");
  // left an hour ago (one of a live PID's made in the last seconds is taken
  // for a run's between making and locking it)
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const n of stale) await Deno.utime(`${dir}/${n}`, hourAgo, hourAgo);
  using held = await Deno.open(`${dir}/${live}`, { read: true, write: true });
  await held.lock(true);
  const stderr = await runShards(`${dir}/plan.json`, dir, plan.shards);
  for (const n of stale) {
    assertMatch(stderr[0], new RegExp(`removed ${dir}/${n.replaceAll(".", "\\.")}, left by`));
  }
  assertEquals(stderr[0].match(/removed .*, left by/g)?.length, stale.length, stderr[0]);
  const temps = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    /\.(top|front|partial)-\d/.test(n)
  );
  assertEquals(temps.sort(), [live, part].sort());
});

Deno.test("plan --depth N: the estimates count the rows the scan writes (no row for the folders at depth N), each shard's as its record says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  // A<k>/x (depth 1) holds 60 folders (depth 2: no row at --depth 2) and 2 files (rows)
  for (let k = 0; k < 4; k++) {
    for (let f = 0; f < 60; f++) await Deno.mkdir(`${root}/A${k}/x/d${f}`, { recursive: true });
    for (let f = 0; f < 2; f++) await Deno.writeTextFile(`${root}/A${k}/x/f${f}`, "");
  }
  for (let k = 0; k < 2; k++) {
    await Deno.mkdir(`${root}/B${k}`);
    for (let f = 0; f < 150; f++) await Deno.writeTextFile(`${root}/B${k}/f${f}`, "");
  }
  const dir = `${tmp.path}/scan`;
  await Deno.mkdir(dir);
  const plan = await makePlan(root, 3, `${dir}/plan.json`, ["--depth", "2"]);
  const whole = await cli(["--depth", "2", root]);
  assertEquals(whole.code, 0, whole.stderr);
  const rows = whole.text.split("\n").filter(Boolean).length;
  assertEquals(plan.estimate.total, rows);
  await runShards(`${dir}/plan.json`, dir, plan.shards);
  const done = plan.estimate.loads.map((_, i) =>
    JSON.parse(Deno.readTextFileSync(`${dir}/scan-${i}.done.json`)).rows
  );
  assertEquals(plan.estimate.loads, done);
});

/**
 * A process of its own holding a flock on `lock`, as a shard run by hand
 * takes it (`first`: code it runs before, e.g. opening a folder of a mount);
 * killed outright on dispose.
 */
async function heldLock(lock: string, first = ""): Promise<{ pid: number } & AsyncDisposable> {
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `${first}
const f = await Deno.open(${JSON.stringify(lock)}, { read: true, write: true });
await f.lock(true);
console.log("locked");
await new Promise(() => setInterval(() => {}, 1000));`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  const dispose = async () => {
    holder.kill("SIGKILL");
    await holder.status;
    await reader.cancel();
  };
  const said = new TextDecoder().decode((await reader.read()).value).trim();
  if (said !== "locked") {
    await dispose();
    throw new Error(`the lock holder said ${JSON.stringify(said)}`);
  }
  return { pid: holder.pid, [Symbol.asyncDispose]: dispose };
}

/**
 * An overlay mount in `dir` (`dir`/merged): its lower layer a 1 MiB tmpfs
 * holding the empty `files`, its upper on `dir`'s disk; `why` is "" or why
 * mountOverlay could not mount it (`extra`: its options).
 */
async function tmpfsOverlay(
  dir: string,
  files: string[] = [],
  extra = "",
): Promise<{ merged: string; why: string }> {
  const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map((d) =>
    `${dir}/${d}`
  );
  for (const d of [lower, upper, work, merged]) await Deno.mkdir(d);
  assertEquals(await mountTmpfs(lower, "size=1m"), "");
  for (const n of files) await Deno.writeTextFile(`${lower}/${n}`, "");
  return { merged, why: await mountOverlay(lower, upper, work, merged, extra) };
}

Deno.test({
  name:
    "lockHeldHere: a lock held on overlayfs (stat's device not the one /proc/locks prints) is seen through its holder's descriptors; released, it is not",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const { lockHeldHere } = await import("../lib/shard/lock.ts");
    // the lower layer on a tmpfs, the upper on the temporary folder's disk
    const { merged, why } = await tmpfsOverlay(tmp.path);
    assertEquals(why, "");
    const lock = `${merged}/scan-0.lock`;
    await Deno.writeTextFile(lock, "");
    // a holder of its own, as a shard run by hand takes it (flock)
    const pid = await (async () => {
      await using holder = await heldLock(lock);
      assertEquals(await lockHeldHere(lock, holder.pid), true);
      return holder.pid;
    })();
    assertEquals(await lockHeldHere(lock, pid), false);
    assertEquals(await lockHeldHere(lock, Deno.pid), false);
  },
});

Deno.test({
  name:
    "lockHeldHere: inode numbers past 2^53 (overlayfs xino) told apart exactly: a lock on a file beside it is not its",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const { lockHeldHere } = await import("../lib/shard/lock.ts");
    // files of the lower layer (tmpfs), seen with xino: their numbers past 2^63
    const { merged, why } = await tmpfsOverlay(tmp.path, ["scan-0.lock", "scan-1.lock"], "xino=on");
    assertEquals(why, "");
    const [a, b] = ["scan-0.lock", "scan-1.lock"].map((n) => `${merged}/${n}`);
    const exact = (p: string) =>
      new TextDecoder().decode(
        new Deno.Command("stat", { args: ["-c", "%i", p] }).outputSync().stdout,
      )
        .trim();
    // the premise: two numbers that one JavaScript number stands for
    assertNotEquals(exact(a), exact(b));
    assertEquals((await Deno.stat(a)).ino, (await Deno.stat(b)).ino);
    await using holder = await heldLock(b);
    assertEquals(await lockHeldHere(b, holder.pid), true);
    assertEquals(await lockHeldHere(a, holder.pid), false);
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "lockHeldHere asks procfs alone: its holder's other descriptor on a hung mount does not hang it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const { lockHeldHere } = await import("../lib/shard/lock.ts");
    const src = `${tmp.path}/src`;
    await Deno.mkdir(`${src}/a`, { recursive: true });
    await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "0" });
    const lock = `${tmp.path}/scan-0.lock`;
    await Deno.writeTextFile(lock, "");
    // the holder: a folder of the mount open (its first descriptor), then the lock
    await using holder = await heldLock(
      lock,
      `const d = await Deno.open(${JSON.stringify(`${fs.path}/a`)});`,
    );
    await fs.pause(); // every request to the mount waits from now on
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<string>((r) => timer = setTimeout(() => r("no answer"), 30_000));
      const got = await Promise.race([lockHeldHere(lock, holder.pid), hung]);
      clearTimeout(timer);
      assertEquals(got, true, fs.describe());
    } finally {
      fs.resume();
    }
  },
});

Deno.test("pwalk slurm --progress=SECONDS: each task's command asks for a plain progress line every SECONDS", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a", "b"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}/f`, d);
  }
  const make = (dir: string, extra: string[]) =>
    cli(["slurm", root, "--shards", "2", "--out", dir, "--dry-run", ...extra]);
  const quiet = await make(`${tmp.path}/q`, []);
  assertEquals(quiet.code, 0, quiet.stderr);
  const exec = (script: string) => script.split("\n").find((l) => l.startsWith("exec "))!;
  assertStringIncludes(exec(quiet.text), " --no-progress ");
  const r = await make(`${tmp.path}/p`, ["--progress=600"]);
  assertEquals(r.code, 0, r.stderr);
  const line = exec(await Deno.readTextFile(`${tmp.path}/p/job.sbatch`));
  assertStringIncludes(line, " --progress=600 ");
  assert(!line.includes("--no-progress"), line);
  // the task runs with it: its shard is done, its summary the log's last line
  const t = await bash(`${tmp.path}/p/job.sbatch`, { SLURM_ARRAY_TASK_ID: "1" });
  assertEquals(t.code, 0, t.stderr);
  assertMatch(t.stderr.trimEnd().split("\n").at(-1)!, /^pwalk: shard 1 of 2: /);
  for (const bad of ["0", "86401", "x"]) {
    const b = await make(`${tmp.path}/b${bad}`, [`--progress=${bad}`]);
    assertEquals(b.code, 2, b.stderr);
    assertStringIncludes(b.stderr, "--progress needs a whole number from 1 to 86400");
  }
  // the API's slurmScript checks it too
  assertThrows(
    () =>
      slurmScript(JSON.parse(Deno.readTextFileSync(`${tmp.path}/p/plan.json`)), {
        dir: `${tmp.path}/p`,
        progress: 0.5,
      }),
    RangeError,
  );
});

/** statx of a name ending in RELEASE_AT (once) is followed by its removal: the lock's holder releasing it then. */
const RELEASE_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int done;
int statx(int fd, const char *p, int fl, unsigned int mask, struct statx *st) {
  static int (*real)(int, const char *, int, unsigned int, struct statx *);
  if (!real) real = (int (*)(int, const char *, int, unsigned int, struct statx *))dlsym(RTLD_NEXT, "statx");
  int r = real(fd, p, fl, mask, st);
  const char *at = getenv("RELEASE_AT");
  size_t n = strlen(p), k = at ? strlen(at) : 0;
  if (r == 0 && !done && k && n >= k && !strcmp(p + n - k, at)) {
    done = 1;
    unlinkat(fd, p, 0);
  }
  return r;
}
`;

shimTest(
  "a shard's lock file released by its holder while this run looks at it: looked at again, the run goes on",
  RELEASE_C,
  async (shim) => {
    const root = `${shim.dir}/tree`;
    for (const d of ["a", "b"]) {
      await Deno.mkdir(`${root}/${d}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${d}/f`, d);
    }
    const dir = `${shim.dir}/scan`;
    await Deno.mkdir(dir);
    const plan = await cli(["plan", root, "--shards", "2", "-o", `${dir}/plan.json`]);
    assertEquals(plan.code, 0, plan.stderr);
    // a lock file there (another run's, not held): this run's lstat of it is
    // followed by its removal, as when its holder ends at that moment
    await Deno.writeTextFile(`${dir}/scan-1.lock`, "pid 1 on elsewhere\n");
    const r = await shim.cli(
      ["report", "--plan", `${dir}/plan.json`, "--shard", "1", "-o", `${dir}/scan-1.csv.zst`],
      { RELEASE_AT: "/scan-1.lock" },
    );
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, /^pwalk: shard 1 of 2: /m);
    assert((await Deno.stat(`${dir}/scan-1.done.json`)).isFile);
  },
);

testNeeding([SETPRIV], {
  name:
    "status and slurm --resume: a plan or scan folder this user cannot read is status 2, saying so, not 1 ('not done yet') (review)",
  async fn() {
    await using tmp = await tempDir();
    Deno.chmodSync(tmp.path, 0o755);
    const root = `${tmp.path}/tree`, scan = `${tmp.path}/scan`;
    await Deno.mkdir(`${root}/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/f`, "x");
    await Deno.mkdir(scan);
    await makePlan(root, 1, `${scan}/plan.json`);
    const shard = await cli([
      "report",
      "--plan",
      `${scan}/plan.json`,
      "--shard",
      "0",
      "-o",
      `${scan}/scan-0.csv.zst`,
    ]);
    assertEquals(shard.code, 0, shard.stderr);
    // (uid 0 without capabilities: the owner's bits alone count)
    const as = { prefix: UNPRIVILEGED };
    assertEquals((await cli(["status", scan], as)).code, 0, "readable: done");
    Deno.chmodSync(`${scan}/plan.json`, 0o000);
    let r = await cli(["status", scan], as);
    assertEquals([r.code, r.stderr], [2, `pwalk: ${scan}/plan.json: Permission denied\n`]);
    r = await cli(["slurm", "--resume", scan, "--dry-run"], as);
    assertEquals([r.code, r.stderr], [2, `pwalk: ${scan}/plan.json: Permission denied\n`]);
    Deno.chmodSync(`${scan}/plan.json`, 0o644);
    Deno.chmodSync(scan, 0o000);
    r = await cli(["status", scan], as);
    assertEquals([r.code, r.stderr], [2, `pwalk: ${scan}/plan.json: Permission denied\n`]);
    r = await cli(["slurm", "--resume", scan, "--dry-run"], as);
    assertEquals(
      [r.code, r.stderr],
      [2, `pwalk: ${scan}/plan.json: cannot be read: Permission denied\n`],
    );
    Deno.chmodSync(scan, 0o755);
  },
});
