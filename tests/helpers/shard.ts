/**
 * Sharded scans in the tests: a hostile tree to shard, the shards run as
 * separate `pwalk report --plan` processes, their union read back with the
 * `zstd` command, and the checks every sharded scan must pass (the plan's
 * frontier against lstat, the completion records against the files).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { bytes, concat, join } from "./bytes.ts";
import { key, lineSet } from "./csv.ts";
import { lstatRaw, mkdirRaw, writeFileRaw } from "./libc.ts";
import { cli, run, runOk, spawnCli } from "./run.ts";
import { mktree } from "./tree.ts";

/** A plan as the tests read it (only what they check). */
export interface TestPlan {
  id: string;
  shards: number;
  requestedShards: number;
  root: { path: string; dev: number; ino: number };
  options: { header: boolean; noSnap: boolean; maxDepth: number; oneFileSystem: boolean };
  estimate: { source: string; total: number; top: number; loads: number[] };
  frontier: {
    path: string;
    pathBase64?: string;
    dev: number;
    ino: number;
    parentIno: number;
    depth: number;
    estimate: number;
    shard: number;
  }[];
}

/** The bytes of a planned folder's path. */
export function planPath(f: { path: string; pathBase64?: string }): Uint8Array {
  return f.pathBase64 === undefined
    ? bytes(f.path)
    : Uint8Array.from(atob(f.pathBase64), (c) => c.charCodeAt(0));
}

/**
 * bench/mktree.py --weird (names with quotes, commas, newlines, bytes that
 * are not UTF-8, a path longer than PATH_MAX, loops, a FIFO, a mode-000
 * folder) plus folders the planner must handle by bytes: folders whose
 * names are not UTF-8 or hold a newline, with folders and files inside,
 * and .snapshot folders with content at two levels.
 */
export async function shardTree(root: string, files = 2000, seed = 5): Promise<void> {
  await mktree(root, files, seed, true);
  const r = bytes(root);
  const odd = [
    new Uint8Array([0x64, 0x69, 0x72, 0xe9]), // dir\xe9
    bytes("new\nline dir"),
    bytes('q"uote,comma dir'),
  ];
  for (const name of odd) {
    const d = join(r, name);
    mkdirRaw(d);
    for (let i = 0; i < 4; i++) {
      const sub = join(d, concat(bytes(`sub${i}-`), new Uint8Array([0xff, 0x41])));
      mkdirRaw(sub);
      for (let j = 0; j < 12; j++) writeFileRaw(join(sub, bytes(`f${j}.dat`)), bytes("x"));
      mkdirRaw(join(sub, bytes("inner")));
      writeFileRaw(join(join(sub, bytes("inner")), bytes("deep.txt")), bytes("deep"));
    }
  }
  const dirs = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  for (const d of ["", `${dirs[0]}/`]) {
    await Deno.mkdir(`${root}/${d}.snapshot/hourly.0/x`, { recursive: true });
    await Deno.writeTextFile(`${root}/${d}.snapshot/hourly.0/x/copy.txt`, "snap");
  }
}

/** The arguments of `pwalk report --plan PLAN --shard I -o OUT ...extra`. */
export function shardArgs(plan: string, shard: number, out: string, ...extra: string[]): string[] {
  return ["report", "--plan", plan, "--shard", String(shard), "-o", out, ...extra];
}

/**
 * Run `pwalk report --plan PLAN --shard I -o DIR/scan-I.csv.zst` for every
 * shard at once; each must exit 0. Their stderr texts, in shard order.
 */
export async function runShards(plan: string, dir: string, shards: number): Promise<string[]> {
  const procs = Array.from(
    { length: shards },
    (_, i) => spawnCli(shardArgs(plan, i, `${dir}/scan-${i}.csv.zst`)),
  );
  const outs = await Promise.all(procs.map((p) => p.output()));
  const stderr = outs.map((o) => new TextDecoder().decode(o.stderr));
  outs.forEach((o, i) => assertEquals(o.code, 0, `shard ${i}: ${stderr[i]}`));
  return stderr;
}

/** The decompressed bytes of a .zst file, by the zstd command. */
export async function unzstd(path: string): Promise<Uint8Array> {
  return (await runOk("zstd", ["-dc", "--", path])).stdout;
}

/** The shard outputs scan-0.. scan-(n-1) of a folder, decompressed, in shard order. */
export async function shardOutputs(dir: string, shards: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < shards; i++) out.push(await unzstd(`${dir}/scan-${i}.csv.zst`));
  return out;
}

/** The sorted lines of the shards' outputs together. */
export async function unionLines(dir: string, shards: number): Promise<string[]> {
  return lineSet(concat(...await shardOutputs(dir, shards)));
}

/** The sorted lines of a whole run `pwalk ARGS ROOT` (stdout). */
export async function wholeLines(root: string, args: string[] = []): Promise<string[]> {
  const r = await cli([...args, root]);
  assertEquals(r.code, 0, r.stderr);
  return lineSet(r.stdout);
}

/** Assert two sorted line lists are equal, saying what differs. */
export function assertSameLines(actual: string[], expected: string[], what: string): void {
  if (actual.length === expected.length && actual.every((l, i) => l === expected[i])) return;
  const a = new Set(actual), e = new Set(expected);
  const extra = actual.filter((l) => !e.has(l)).slice(0, 5);
  const missing = expected.filter((l) => !a.has(l)).slice(0, 5);
  throw new Error(
    `${what}: ${actual.length} lines, expected ${expected.length}\n` +
      `extra: ${JSON.stringify(extra)}\nmissing: ${JSON.stringify(missing)}`,
  );
}

/** SHA-256 hex by Web Crypto (not the code under test's node:crypto). */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Check each shard's completion record against its output file. */
export async function checkRecords(dir: string, plan: TestPlan): Promise<void> {
  const outs = await shardOutputs(dir, plan.shards);
  for (let i = 0; i < plan.shards; i++) {
    const rec = JSON.parse(await Deno.readTextFile(`${dir}/scan-${i}.done.json`));
    const file = await Deno.readFile(`${dir}/scan-${i}.csv.zst`);
    assertEquals(rec.plan, plan.id, `shard ${i}: the record's plan`);
    assertEquals(rec.shard, i);
    assertEquals(rec.output, `scan-${i}.csv.zst`);
    assertEquals(rec.outputBytes, file.length, `shard ${i}: the record's output size`);
    assertEquals(rec.sha256, await sha256Hex(file), `shard ${i}: the record's SHA-256`);
    const lines = lineSet(outs[i]).length - (i === 0 && plan.options.header ? 1 : 0);
    assertEquals(rec.rows, lines, `shard ${i}: the record's rows`);
    assertEquals(rec.host, Deno.hostname());
    assert(Date.parse(rec.start) <= Date.parse(rec.end), "start <= end");
    assert(outs[i].length > 0, `shard ${i} wrote nothing`);
  }
}

/**
 * Check a plan's frontier against the tree (lstat by raw bytes) and the
 * options: every folder is the planned device and inode, a folder (not a
 * link), at the depth and below the parent it claims, none inside another,
 * none excluded, below an excluded folder, a .snapshot with --NoSnap, at
 * --depth or deeper, or on another file system with -x.
 */
export function checkFrontier(plan: TestPlan, exclude: string[] = []): void {
  const root = bytes(plan.root.path);
  const paths = plan.frontier.map(planPath);
  const keys = paths.map(key);
  const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");
  for (const [i, f] of plan.frontier.entries()) {
    const p = paths[i];
    const what = JSON.stringify(f.path);
    assert(f.shard >= 0 && f.shard < plan.shards, `${what}: shard ${f.shard}`);
    const st = lstatRaw(p);
    assertEquals((st.mode & 0o170000) === 0o040000, true, `${what} is not a folder`);
    assertEquals([st.dev, st.ino], [f.dev, f.ino], `${what}: device and inode`);
    const cut = p.lastIndexOf(0x2f);
    const parent = p.subarray(0, cut);
    assertEquals(lstatRaw(parent).ino, f.parentIno, `${what}: parent inode`);
    const below = key(p.subarray(root.length + 1)).split("/");
    assertEquals(f.depth, below.length - 1, `${what}: depth`);
    assert(key(p).startsWith(key(root) + "/"), `${what} is not below the root`);
    for (const [j, k] of keys.entries()) {
      if (j !== i) assert(!inside(keys[i], k), `${what} is inside ${JSON.stringify(k)}`);
    }
    for (const e of exclude) assert(!inside(keys[i], key(bytes(e))), `${what} is excluded`);
    if (plan.options.noSnap) assert(!below.includes(".snapshot"), `${what}: a .snapshot`);
    if (plan.options.maxDepth) assert(f.depth < plan.options.maxDepth, `${what}: too deep`);
    if (plan.options.oneFileSystem) assertEquals(f.dev, plan.root.dev, `${what}: other device`);
  }
}

/** `pwalk plan ROOT --shards N -o PLAN ARGS`, returning the plan. */
export async function makePlan(
  root: string,
  shards: number,
  planFile: string,
  args: string[] = [],
  cwd?: string,
): Promise<TestPlan> {
  const r = await cli(["plan", root, "--shards", String(shards), "-o", planFile, ...args], { cwd });
  assertEquals(r.code, 0, r.stderr);
  return JSON.parse(
    await Deno.readTextFile(planFile.startsWith("/") ? planFile : `${cwd}/${planFile}`),
  );
}

/** Run a shell script file with bash (e.g. a generated batch script outside Slurm). */
export function bash(script: string, env: Record<string, string>) {
  return run("bash", [script], { env });
}
