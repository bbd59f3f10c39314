/**
 * `deno task bench`: wall time, CPU time and peak memory of pwalk beside the yardstick
 * (bench/limitwalk.c, the least work any walker that stats every entry must
 * do) and other tools, on a generated tree, in one run.
 *
 *     deno task bench                      # the main table, 1,000,000-file tree
 *     deno task bench --files 100000       # a smaller tree for a quick check
 *     deno task bench --runs 5 --only report-zst,find
 *     deno task bench --sweep              # report .csv.zst at 1,2,4,8,16,32 threads
 *     deno task bench --slowfs             # thread sweep on a latency-bound FUSE view
 *     deno task bench --shards --slowfs    # N local shard processes vs one, on slowfs
 *     deno task bench --shards             # the same on the 1,000,000-file tree (and plan times)
 *
 * Every command runs as its own process under bench/peakrss.c (fork, exec,
 * wait4), which gives its wall time, its CPU time in user space and in the
 * kernel (ru_utime, ru_stime) and the kernel's peak RSS (ru_maxrss): the
 * largest of the process and its children, not their sum. Runs go
 * round-robin over the commands so that a burst of load from elsewhere does
 * not fall on one row only; the table
 * shows the median wall and CPU times and the largest peak RSS of the runs,
 * and below it the wall time each target's CPU time allows at best.
 *
 * python-pwalk (PyPI `pwalk`, pinned), the main rival, is installed by pip
 * into bench/work/python-pwalk on first use.
 *
 * Helpers are compiled with `cc` (or `sh tools/zig.sh cc`) into bench/work/,
 * and trees are built there by bench/mktree.py once (a `.done` marker beside
 * the tree is written when mktree succeeded; a tree without one is rebuilt).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const HELP = `deno task bench [options]

  --files N        files in the generated tree (default 1000000; slowfs 20000)
  --seed S         mktree seed (default 7; slowfs 5)
  --runs N         timed runs of each command (default 3); the median is shown
  --only a,b,...   only these rows of the table (the yardstick row is always measured)
  --sweep          report .csv.zst at several thread counts instead of the main table
  --threads LIST   thread counts for --sweep / --slowfs (default 1,2,4,8,16,32 / 2,4,8,16,32,64)
  --slowfs         the thread sweep on bench/slowfs.c (FUSE, a delay per metadata request)
  --cold           cold cache: the page cache is dropped before every run (root only);
                   limitwalk at 2, 8, 32 and 64 threads, fd, and the report at default
                   settings and fixed thread counts
  --shards         a sharded scan (pwalk plan, then its shards, N or fewer on a small tree, as
                   pwalk report --plan --shard processes at once) against one process,
                   default settings; with --slowfs on slowfs
  --counts LIST    shard counts for --shards (default 1,2,4,8)
  --delay-us N     slowfs delay per request in microseconds (default 500)
  --keep           keep the report outputs in bench/work/out (plain CSV is deleted otherwise)
  --list           list the row names of the table the other options choose, and exit
  -h, --help       this help

PWALK_BENCH_WORK=DIR: helpers, trees, outputs and tables go to DIR instead of bench/work.

The python-pwalk rows run PyPI's pwalk==0.1.6 (Dirk Petersen's python-pwalk), which the first
run that needs them installs with the os.walk row's Python (pip install --no-deps --target
bench/work/python-pwalk); without pip, the wheel or the network they are left out, saying why.

One table a run: --cold, --sweep and --shards are not combined (--cold with
--slowfs neither); --slowfs is a thread sweep there (--sweep adds nothing),
--shards --slowfs the sharded scan there. An option the table does not use (--threads, --counts,
--delay-us), an unknown option, --only without names and an --only name
that is not one of the table's rows are refused (exit 1). A table this machine cannot make (--cold
without root, --slowfs without FUSE) is skipped, saying why: exit 77. A run
that fails (its status, or another number of entries than the tree holds,
or errors, where the command prints its counts) prints FAILED; its row shows
in how many runs it failed and why, and no median. Ctrl-C (SIGINT) stops the run in progress and the bench
(unmounting slowfs, removing the plain CSV): exit 130, no table.

Rows of the main table: ROWS
`;

// ---------------------------------------------------------------- paths

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
/** bench/work, or PWALK_BENCH_WORK (the tests' own folder: trees, helpers, outputs). */
const WORK = Deno.env.get("PWALK_BENCH_WORK") || `${ROOT}/bench/work`;
const OUT = `${WORK}/out`;
/**
 * The two scans of a tree for the summary and diff rows, named after the
 * tree (bench/work/out/answers-{old,new}-tree-N-sS.csv.zst), and the file
 * that says which tree and which pwalk made them (see {@link answersStamp}).
 */
export function answersFiles(tree: string): { old: string; new: string; made: string } {
  const name = tree.slice(tree.lastIndexOf("/") + 1);
  return {
    old: `${OUT}/answers-old-${name}.csv.zst`,
    new: `${OUT}/answers-new-${name}.csv.zst`,
    made: `${OUT}/answers-${name}.made`,
  };
}

/**
 * What the answers of a tree must have been made by: the tree (its path and
 * its .done marker's time) and pwalk (its version, the checkout's commit;
 * with uncommitted changes the time, so that they are made again each run).
 */
async function answersStamp(tree: string): Promise<string> {
  const version = (await sh(cli("--version"))).stdout.trim();
  const commit = (await sh(["git", "rev-parse", "HEAD"], { allowFail: true })).stdout.trim();
  const dirty = (await sh(["git", "status", "--porcelain", "--untracked-files=no"], {
    allowFail: true,
  })).stdout.trim();
  return [
    `tree ${tree} made ${await mtime(`${tree}.done`)}`,
    `${version} at ${commit || "no commit"}${
      dirty ? ` with uncommitted changes, ${Date.now()}` : ""
    }`,
  ].join("\n") + "\n";
}
const DENO = Deno.execPath();

// ---------------------------------------------------------------- small helpers

const enc = new TextEncoder();
const dec = new TextDecoder();

function say(s: string): void {
  Deno.stderr.writeSync(enc.encode(s + "\n"));
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function mtime(p: string): Promise<number> {
  try {
    return (await Deno.stat(p)).mtime?.getTime() ?? 0;
  } catch {
    return -1;
  }
}

/** Run a command to completion; throws with its stderr when it fails (unless allowFail). */
async function sh(
  argv: string[],
  opts: { env?: Record<string, string>; allowFail?: boolean; quiet?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: ROOT,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const r = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (r.code !== 0 && !opts.allowFail) {
    throw new Error(`${argv.join(" ")} failed (status ${r.code}):\n${r.stderr}${r.stdout}`);
  }
  return r;
}

async function which(cmd: string): Promise<string | null> {
  const r = await sh(["sh", "-c", `command -v ${cmd}`], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- helpers compiled here

let ccCache: string[] | null = null;
async function cc(): Promise<string[]> {
  if (ccCache) return ccCache;
  if (await which("cc")) ccCache = ["cc"];
  else if (await which("gcc")) ccCache = ["gcc"];
  else ccCache = ["sh", `${ROOT}/tools/zig.sh`, "cc"];
  return ccCache;
}

/** Compile bench/NAME.c into bench/work/NAME when the source is newer. */
async function compile(name: string, extra: string[] = []): Promise<string> {
  const src = `${ROOT}/bench/${name}.c`;
  const bin = `${WORK}/${name}`;
  if (await mtime(bin) >= await mtime(src)) return bin;
  say(`bench: compiling ${name}.c`);
  await sh([...await cc(), "-O2", "-o", bin, src, ...extra]);
  return bin;
}

/** The C driver of the library (native/driver/pwdrive.c), rebuilt each run. */
async function compileDriver(): Promise<string> {
  const bin = `${WORK}/pwdrive`;
  const lib = `${ROOT}/zig-out/lib`;
  await sh([
    ...await cc(),
    "-O2",
    "-o",
    bin,
    `${ROOT}/native/driver/pwdrive.c`,
    `-L${lib}`,
    "-lpwalk",
    `-Wl,-rpath,${lib}`,
  ]);
  return bin;
}

// ---------------------------------------------------------------- the tree

/** bench/work/tree-N-sS, built by mktree.py once; returns its path. */
async function ensureTree(files: number, seed: number): Promise<string> {
  const dir = `${WORK}/tree-${files}-s${seed}`;
  const marker = `${dir}.done`;
  if (await exists(marker)) return dir;
  if (await exists(dir)) {
    say(`bench: ${dir} has no ${marker.slice(WORK.length + 1)} marker (unfinished?): rebuilding`);
    await Deno.remove(dir, { recursive: true });
  }
  say(`bench: building ${dir} (mktree.py --files ${files} --seed ${seed}; ~1 min per 1M files)`);
  const t0 = performance.now();
  const r = await sh([
    "python3",
    `${ROOT}/bench/mktree.py`,
    dir,
    "--files",
    String(files),
    "--seed",
    String(seed),
  ]);
  const line = r.stderr.trim().split("\n").pop() ?? "";
  await Deno.writeTextFile(marker, `${line}\n`);
  say(`bench: ${line} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return dir;
}

/**
 * Owner, group and mode of the first `n` entries of a breadth-first walk: a
 * cheap check that a dry-run repair really left the shared tree alone.
 */
async function sample(tree: string, n: number): Promise<string[]> {
  const out: string[] = [];
  const queue = [tree];
  while (queue.length && out.length < n) {
    const dir = queue.shift()!;
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      const st = await Deno.lstat(p);
      out.push(`${p} ${st.uid} ${st.gid} ${st.mode}`);
      if (e.isDirectory) queue.push(p);
      if (out.length >= n) break;
    }
  }
  return out;
}

/**
 * A group for the tree's root that repair (docs/repair.md, rule 2) takes as
 * shared: not 0 and not the root's owner's id, one the running user may
 * give (root: any, "users" first; others: one of their own groups), or null.
 */
export function sharedGid(
  owner: number,
  uid: number,
  myGroups: number[],
  etcGroup: string,
): number | null {
  const ok = (g: number) => g !== 0 && g !== owner;
  if (uid !== 0) return myGroups.find(ok) ?? null;
  const gids = etcGroup.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 3)
    .map((f) => ({ name: f[0], gid: Number(f[2]) })).filter((g) => Number.isInteger(g.gid));
  return (gids.find((g) => g.name === "users" && ok(g.gid)) ?? gids.find((g) => ok(g.gid)))?.gid ??
    null;
}

/**
 * The repair-dry row's tree: its root gets a shared group (untimed), so that
 * the dry run decides a group, setgid and mode for every entry below it (the
 * trees mktree.py builds have the builder's group, private to repair: the
 * dry run found no folder above any entry with a shared group, and decided
 * nothing). Returns what it did, or why it could not.
 */
async function shareRootGroup(tree: string): Promise<string> {
  const st = await Deno.stat(tree);
  const uid = Deno.uid() ?? -1;
  if (st.gid !== null && st.gid !== 0 && st.gid !== st.uid) return `group ${st.gid} already`;
  const mine = (await sh(["id", "-G"], { allowFail: true })).stdout.trim().split(/\s+/)
    .filter(Boolean).map(Number);
  const etc = await Deno.readTextFile("/etc/group").catch(() => "");
  const gid = sharedGid(st.uid ?? -1, uid, mine, etc);
  if (gid === null) {
    return "no shared group to give it (not root, and no group of one's own but a private one)";
  }
  await Deno.chown(tree, null, gid);
  return `group ${gid} given`;
}

// ---------------------------------------------------------------- rows and measuring

/** A row of a table: a command (or a pipeline) timed under peakrss. */
export interface Row {
  /** Name for --only. */
  name: string;
  /** What it is, for the table. */
  label: string;
  /** Pipeline stages (usually one). */
  stages: string[][];
  /** Where the last stage's stdout goes (default: captured, must be small). */
  stdout?: string;
  /** Output file to check after each run (exists, non-empty). */
  output?: string;
  /** Targets. */
  maxRatio?: number;
  ratioOf?: string;
  maxRssMiB?: number;
  /** Target wall time in seconds (median). */
  maxSeconds?: number;
  /** Pause before each run (slowfs: let FUSE's entry cache expire). */
  pauseMs?: number;
  /** Run before each timed run, untimed (--cold: drop the page cache). */
  before?: () => Promise<void>;
  /** Count this row's system calls per entry (one extra run under strace -f -c). */
  syscalls?: boolean;
  /**
   * What a run says it walked, from its stdout and stderr (see
   * {@link limitwalkCounts}, {@link cliCounts}, {@link jsonCounts},
   * {@link pwdriveCounts}); a run that walked another number of entries than
   * the tree holds, or met errors, failed. Rows without it print no counts
   * to compare (find, fd, os.walk, walkDirs' scripts, whose folders and
   * files leave out links to folders, the plan and shard rows), or do not
   * walk the tree (summary, diff, deno-startup).
   */
  counts?: (stdout: string, stderr: string) => Walked | null;
  /**
   * What a run walked, read from its `output` file after the run (untimed),
   * for a command that prints no counts (python-pwalk: see
   * {@link pwalkCsvRows}); checked as `counts` is.
   */
  outputCounts?: (file: string) => Promise<Walked | null>;
}

/** What a run walked: its entries, ROOT included, and its errors when it counts them. */
export interface Walked {
  entries: number;
  errors?: number;
}

/** limitwalk's "N entries" (below ROOT; it skips what it cannot read, uncounted). */
export function limitwalkCounts(stdout: string): Walked | null {
  const m = /^(\d+) entries$/m.exec(stdout);
  return m ? { entries: Number(m[1]) + 1 } : null;
}

/** The CLI report's last line: "pwalk: N entries, F folders, ..., E errors in ...". */
export function cliCounts(_stdout: string, stderr: string): Walked | null {
  const all = [...stderr.matchAll(/^pwalk: ([\d,]+) entr(?:y|ies), .*?\b([\d,]+) errors? /gm)];
  const m = all.at(-1);
  const n = (x: string) => Number(x.replaceAll(",", ""));
  return m ? { entries: n(m[1]), errors: n(m[2]) } : null;
}

/** The JSON line of walk_api.ts, readdir_lstat.ts (entries) or repair_dry.ts (entriesSeen). */
export function jsonCounts(stdout: string): Walked | null {
  try {
    const j = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
    const entries = j.entries ?? j.entriesSeen;
    if (typeof entries !== "number") return null;
    return typeof j.errors === "number" ? { entries, errors: j.errors } : { entries };
  } catch {
    return null;
  }
}

/** The C driver's "status=S entries=N dirs=D bytes=B errors=E ..." (stderr). */
export function pwdriveCounts(_stdout: string, stderr: string): Walked | null {
  const m = /^status=\d+ entries=(\d+) .*\berrors=(\d+)/m.exec(stderr);
  return m ? { entries: Number(m[1]), errors: Number(m[2]) } : null;
}

/**
 * Counts the records of a CSV given in chunks: a line end outside quotes
 * ends one (a quoted name may hold a line end; a `""` inside quotes turns
 * the quoting off and on again).
 */
export class CsvRecords {
  records = 0;
  private quoted = false;
  push(b: Uint8Array): void {
    let quoted = this.quoted, records = this.records;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c === 0x22) quoted = !quoted;
      else if (c === 0x0a && !quoted) records++;
    }
    this.quoted = quoted;
    this.records = records;
  }
}

/** zstd's frame magic (RFC 8878), little-endian 0xFD2FB528. */
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * The rows of a pwalk CSV file that python-pwalk wrote, as entries (ROOT
 * included): its header line left out, and what follows it read as CSV or,
 * when it starts with a zstd frame, through `zstd -dc`. python-pwalk 0.1.6
 * writes its header line uncompressed in front of the zstd stream, into a
 * file named without `.zst` (`zstd -d` refuses such a file); null when the
 * file cannot be read so, with why on stderr.
 */
export async function pwalkCsvRows(file: string, zstd: string | null): Promise<Walked | null> {
  using f = await Deno.open(file);
  const buf = new Uint8Array(1 << 20);
  const next = async () => {
    const n = await f.read(buf);
    return n === null ? null : buf.slice(0, n);
  };
  let first = await next() ?? new Uint8Array();
  if (dec.decode(first.subarray(0, 6)) === "inode,") {
    const nl = first.indexOf(0x0a);
    first = nl < 0 ? new Uint8Array() : first.subarray(nl + 1);
  }
  const counter = new CsvRecords();
  if (!ZSTD_MAGIC.every((m, i) => first[i] === m)) {
    for (let c: Uint8Array | null = first; c; c = await next()) counter.push(c);
    return { entries: counter.records };
  }
  if (!zstd) {
    say(`bench: ${file}: zstd not on PATH to count its rows`);
    return null;
  }
  const child = new Deno.Command(zstd, {
    args: ["-dcq"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const feeding = (async () => {
    const w = child.stdin.getWriter();
    try {
      for (let c: Uint8Array | null = first; c; c = await next()) await w.write(c);
    } finally {
      await w.close().catch(() => {});
    }
  })();
  for await (const c of child.stdout) counter.push(c);
  const [fed, st] = await Promise.allSettled([feeding, child.status]);
  if (fed.status === "rejected" || st.status === "rejected" || !st.value.success) return null;
  return { entries: counter.records };
}

/**
 * Why a run's counts do not fit the tree of `expected` entries (ROOT
 * included), or null when they do.
 */
export function countsFailure(w: Walked | null, expected: number): string | null {
  if (!w) return "printed no entry count";
  const what: string[] = [];
  if (w.entries !== expected) {
    what.push(
      `walked ${w.entries.toLocaleString("en-US")} entries of the tree's ${
        expected.toLocaleString("en-US")
      }`,
    );
  }
  if (w.errors) what.push(`${w.errors.toLocaleString("en-US")} errors`);
  return what.length ? what.join(", ") : null;
}

/** A row's runs: the figures of those that succeeded, and why the others failed. */
export interface Measured {
  row: Row;
  walls: number[];
  rss: number[];
  sumRss: number[];
  /** CPU seconds of each run, in user space and in the kernel (all threads and stages). */
  user: number[];
  sys: number[];
  unavailable?: string;
  /** One entry per failed run: "run R: why". */
  failures: string[];
  info?: string;
}

/**
 * The tree's size in a table's title: limitwalk's count (the entries below
 * ROOT) and ROOT, as the rows count it (walk-api's entries, os.walk's and
 * walkDirs' folders, readdir-lstat's both).
 */
export function entriesTitle(belowRoot: number): string {
  return `${(belowRoot + 1).toLocaleString("en-US")} entries (ROOT included)`;
}

/** Whether a row's figures count: it ran, and no run of it failed. */
export function usable(m: Measured | undefined): m is Measured {
  return !!m && m.walls.length > 0 && m.failures.length === 0;
}

let peakrssBin = "";
let peakrssDir = WORK;
let treeEntries: number | undefined;

/** The run in progress (peakrss), which an interrupt stops. */
let running: Deno.ChildProcess | null = null;
/** Whether SIGINT came: the runs stop, the table is not made. */
let interrupted = false;
/** Whether the runs are going on (an interrupt then stops them, else ends the bench at once). */
let measuring = false;
/**
 * What is done when the bench ends, however it ends (an interrupt outside
 * the runs at once): unmount slowfs, remove the plain CSV.
 */
const cleanups: (() => Promise<void>)[] = [];

async function cleanUp(): Promise<void> {
  for (const f of cleanups.splice(0).reverse()) await f().catch(() => {});
}

/** Thrown by {@link measure} when SIGINT stopped its runs. */
class Interrupted extends Error {}

/**
 * SIGINT (Ctrl-C): during the runs, the one in progress is stopped (peakrss
 * hands the signal to its command) and no other starts; the bench ends with
 * status 130 once the run's files and the slowfs mount are cleaned up.
 * Outside the runs, that cleaning and the end come at once.
 */
function onSigint(): void {
  if (interrupted) return;
  interrupted = true;
  say("bench: interrupted (SIGINT): stopping");
  if (measuring) {
    try {
      running?.kill("SIGINT");
    } catch { /* it ended meanwhile */ }
    return;
  }
  cleanUp().finally(() => Deno.exit(130));
}

/**
 * The entries (ROOT included) of the tree the rows walk, which a row's
 * `counts` must give; undefined: not checked.
 */
export function expectEntries(n: number | undefined): void {
  treeEntries = n;
}

/**
 * The bench/peakrss.c binary that {@link runOnce} runs the rows under, and
 * the folder of its result and stderr files (default bench/work).
 */
export function usePeakrss(bin: string, dir = WORK): void {
  peakrssBin = bin;
  peakrssDir = dir;
}

/**
 * One timed run of a row: its figures added to `m`; why it failed, or null.
 * Its result is the one peakrss writes in this run (the file is removed
 * before): a peakrss that dies without writing one, or whose exit status is
 * not the one it wrote, failed.
 */
export async function runOnce(row: Row, m: Measured): Promise<string | null> {
  if (row.pauseMs) await sleep(row.pauseMs);
  if (row.before) await row.before();
  const res = `${peakrssDir}/peakrss.result`;
  const err = `${peakrssDir}/peakrss.stderr`;
  const args = ["-r", res, "-E", err];
  if (row.stdout) args.push("-O", row.stdout);
  args.push("--");
  row.stages.forEach((s, i) => args.push(...(i ? [":::"] : []), ...s));
  if (row.output) await Deno.remove(row.output).catch(() => {});
  for (const f of [res, err]) await Deno.remove(f).catch(() => {});
  running = new Deno.Command(peakrssBin, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = await running.output().finally(() => running = null);
  const stdout = dec.decode(out.stdout).trim();
  const stderr = await Deno.readTextFile(err).catch(() => "");
  const line = await Deno.readTextFile(res).catch(() => "");
  const f = Object.fromEntries(
    line.trim().split(/\s+/).filter(Boolean).map((kv) => kv.split("=") as [string, string]),
  );
  const said = (stderr + "\n" + stdout).trim().slice(-600);
  const peakrss = out.signal ? `killed by ${out.signal}` : `status ${out.code}`;
  if (f.status === undefined || f.wall_s === undefined) {
    return `peakrss wrote no result (${peakrss})${said ? `: ${said}` : ""}`;
  }
  const status = Number(f.status);
  if (out.code !== status) {
    return `peakrss exited with ${peakrss}, its result says status ${status}: ${said}`;
  }
  if (status === 3 && stdout.startsWith("not available")) {
    m.unavailable = stdout;
    return null;
  }
  if (status !== 0) return `status ${status}: ${said}`;
  if (row.counts && treeEntries !== undefined) {
    const why = countsFailure(row.counts(stdout, stderr), treeEntries);
    if (why) return said ? `${why}: ${said}` : why;
  }
  if (row.output) {
    const size = (await Deno.stat(row.output).catch(() => null))?.size ?? 0;
    if (size === 0) return `no output in ${row.output}`;
    m.info = `output ${(size / 2 ** 20).toFixed(1)} MiB`;
    if (row.outputCounts && treeEntries !== undefined) {
      const w = await row.outputCounts(row.output);
      const why = w ? countsFailure(w, treeEntries) : "its rows could not be counted";
      if (why) return `${why} (in ${row.output})`;
    }
  }
  if (stdout) m.info = stdout.split("\n").pop()!.slice(0, 200);
  m.walls.push(Number(f.wall_s));
  m.rss.push(Number(f.maxrss_kib) / 1024);
  m.sumRss.push(Number(f.sum_maxrss_kib) / 1024);
  m.user.push(Number(f.user_s));
  m.sys.push(Number(f.sys_s));
  return null;
}

/**
 * The progress line of run `r` of `runs` of a row (stderr), or null when
 * the row is not run any more (not available); `failure` is why this run
 * failed, or null. A failed run says FAILED whichever run it is.
 */
export function runLine(m: Measured, r: number, runs: number, failure: string | null): string {
  const what = m.unavailable
    ? "not available"
    : failure !== null
    ? `FAILED: ${failure.trim().replaceAll("\n", "\n    ")}`
    : `${m.walls.at(-1)!.toFixed(2)} s, ${m.rss.at(-1)!.toFixed(0)} MiB`;
  return `bench: run ${r}/${runs} ${m.row.name.padEnd(22)} ${what}`;
}

async function measure(rows: Row[], runs: number): Promise<Measured[]> {
  const ms: Measured[] = rows.map((row) => ({
    row,
    walls: [],
    rss: [],
    sumRss: [],
    user: [],
    sys: [],
    failures: [],
  }));
  measuring = true;
  try {
    for (let r = 1; r <= runs; r++) {
      for (const m of ms) {
        // a row that failed once is run still: the table says in how many runs
        if (m.unavailable) continue;
        if (interrupted) throw new Interrupted();
        const failure = await runOnce(m.row, m);
        if (interrupted) throw new Interrupted();
        if (failure !== null) m.failures.push(`run ${r}: ${failure}`);
        say(runLine(m, r, runs, failure));
      }
    }
  } finally {
    measuring = false;
  }
  return ms;
}

/**
 * System calls per entry of the rows marked `syscalls`: one more run each
 * under `strace -f -c` (which slows it, so it is not timed), its total of
 * calls divided by the tree's entries (ROOT included, as in the title).
 * "Less kernel work than limitwalk" shows here, independent of the
 * machine's noise.
 */
async function syscallTable(rows: Row[], entries: number): Promise<string[]> {
  const marked = rows.filter((r) => r.syscalls && r.stages.length === 1);
  if (!marked.length) return [];
  if (!await which("strace")) return ["- strace not on PATH: no system call counts"];
  const out = [
    "",
    `| row | system calls | per entry | the most frequent calls |`,
    "|---|---:|---:|---|",
  ];
  for (const r of marked) {
    if (r.before) await r.before();
    const file = `${WORK}/strace-${r.name}.txt`;
    const argv = ["strace", "-f", "-c", "-o", file, ...r.stages[0]];
    const p = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (!p.success) {
      out.push(`| ${r.name} | failed (status ${p.code}) | - | - |`);
      continue;
    }
    const text = await Deno.readTextFile(file);
    // "% time  seconds  usecs/call  calls  errors syscall": calls is the 4th field
    const calls = new Map<string, number>();
    for (const line of text.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 5 && /^\d/.test(f[0]) && /^\d+$/.test(f[3])) {
        calls.set(f.at(-1)!, Number(f[3]));
      }
    }
    const total = calls.get("total") ?? 0;
    calls.delete("total");
    const top = [...calls].sort((a, b) => b[1] - a[1]).slice(0, 5)
      .map(([n, c]) => `${n} ${(c / entries).toFixed(3)}`).join(", ");
    out.push(
      `| ${r.name} | ${total.toLocaleString("en-US")} | ${(total / entries).toFixed(3)} | ${top} |`,
    );
  }
  return out;
}

// ---------------------------------------------------------------- the table

/** A command argument as shown in the table: deno, TREE, bench/work/..., the checkout as "." (the commands' folder). */
let treeShown = "";
function shorten(a: string): string {
  if (a === DENO) return "deno";
  if (a === ROOT) return ".";
  if (treeShown && a === treeShown) return "TREE";
  if (a.startsWith(ROOT + "/")) return a.slice(ROOT.length + 1);
  // a script's line ends as \n: a table row is one line (os.walk's script has several)
  const shown = a.replaceAll("\n", "\\n");
  return /[\s"]/.test(a) ? `'${shown}'` : shown;
}

/**
 * Why a row has no figures, for its table cell: not available, or FAILED in
 * K of the N runs with the first failure's error (its lines joined) and the
 * other runs' times; their median is not shown as the row's.
 */
export function failureCell(m: Measured): string {
  if (m.unavailable) return "not available";
  const n = m.walls.length + m.failures.length;
  if (!m.failures.length) return "no run";
  const [, run, why] = /^run (\d+): ([^]*)$/.exec(m.failures[0]) ?? [, "?", m.failures[0]];
  let text = why.split("\n").map((l) => l.trim()).filter(Boolean).join(" / ");
  if (text.length > 400) text = "..." + text.slice(-400);
  const rest = m.walls.length
    ? `; the other ${m.walls.length} took ${Math.min(...m.walls).toFixed(2)}-${
      Math.max(...m.walls).toFixed(2)
    } s`
    : "";
  return `FAILED in ${m.failures.length} of ${n} runs (run ${run}: ${text})${rest}`
    .replaceAll("|", "\\|");
}

/** The table of a set of measured rows, ratios against the row named `yardstick`. */
export function table(ms: Measured[], yardstick: string): string {
  const byName = new Map(ms.map((m) => [m.row.name, m]));
  const ok = (m: Measured | undefined): boolean => usable(m);
  const y = byName.get(yardstick);
  const lines = [
    `| row | command | median s | min-max s | CPU s user+sys | peak RSS MiB | x ${yardstick} | target | verdict |`,
    "|---|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const m of ms) {
    const cmd = m.row.stages.map((s) => s.map(shorten).join(" ")).join(" \\| ");
    if (!ok(m)) {
      lines.push(
        `| ${m.row.name} | ${m.row.label}<br>\`${cmd}\` | - | - | - | - | - | - | ${
          failureCell(m)
        } |`,
      );
      continue;
    }
    const med = median(m.walls);
    const rss = Math.max(...m.rss);
    const sum = Math.max(...m.sumRss);
    const rssText = m.row.stages.length > 1
      ? `${rss.toFixed(0)} (sum ${sum.toFixed(0)})`
      : rss.toFixed(0);
    const ratio = ok(y) ? med / median(y!.walls) : NaN;
    const targets: string[] = [];
    const verdicts: string[] = [];
    if (m.row.maxRatio !== undefined) {
      const base = byName.get(m.row.ratioOf ?? yardstick);
      targets.push(`<= ${m.row.maxRatio}x ${m.row.ratioOf ?? yardstick}`);
      if (ok(base)) {
        const r = med / median(base!.walls);
        verdicts.push(`${r.toFixed(2)}x ${r <= m.row.maxRatio ? "ok" : "MISSED"}`);
      } else verdicts.push(`${m.row.ratioOf ?? yardstick} not measured`);
    }
    if (m.row.maxSeconds !== undefined) {
      targets.push(`<= ${m.row.maxSeconds} s`);
      verdicts.push(`${med.toFixed(2)} s ${med <= m.row.maxSeconds ? "ok" : "MISSED"}`);
    }
    if (m.row.maxRssMiB !== undefined) {
      targets.push(`<= ${m.row.maxRssMiB} MiB`);
      verdicts.push(`${rss.toFixed(0)} MiB ${rss <= m.row.maxRssMiB ? "ok" : "MISSED"}`);
    }
    lines.push(
      `| ${m.row.name} | ${m.row.label}<br>\`${cmd}\` | ${med.toFixed(2)} | ${
        Math.min(...m.walls).toFixed(2)
      }-${Math.max(...m.walls).toFixed(2)} | ${cpuText(m)} | ${rssText} | ${
        isNaN(ratio) ? "-" : ratio.toFixed(2)
      } | ${targets.join(", ") || "-"} | ${verdicts.join(", ") || "-"} |`,
    );
  }
  return lines.join("\n");
}

/** Median CPU seconds of a row's runs: "user+sys". */
function cpuText(m: Measured): string {
  return `${median(m.user).toFixed(2)}+${median(m.sys).toFixed(2)}`;
}

/** Median CPU seconds (user + sys) of a row's runs. */
function medianCpu(m: Measured): number {
  return median(m.user.map((u, i) => u + m.sys[i]));
}

/**
 * What the cores allow: a run that needs C CPU-seconds cannot take less
 * than C / cores of wall time.  For each row with a target against
 * another row, that floor beside the other row's wall time: a target below
 * it cannot be met on this machine by any schedule, only by less work
 * (limitwalk, the yardstick, does no output at all).
 */
function cpuFloorNotes(ms: Measured[], cores: number): string[] {
  const byName = new Map(ms.map((m) => [m.row.name, m]));
  const out: string[] = [];
  for (const m of ms) {
    const baseName = m.row.maxRatio !== undefined ? m.row.ratioOf ?? "limitwalk-2" : undefined;
    const base = baseName ? byName.get(baseName) : undefined;
    if (!usable(base) || !usable(m)) continue;
    const cpu = medianCpu(m), bw = median(base.walls);
    out.push(
      `- CPU floor of ${m.row.name}: ${cpu.toFixed(2)} CPU-s (${cpuText(m)}) on ${cores} cores ` +
        `need at least ${(cpu / cores).toFixed(2)} s, ${(cpu / cores / bw).toFixed(2)}x ` +
        `${baseName} (which used ${medianCpu(base).toFixed(2)} CPU-s in ${bw.toFixed(2)} s, ` +
        `${(medianCpu(base) / bw).toFixed(2)} cores busy)`,
    );
  }
  return out;
}

/** The median wall time of the row named `name`, NaN when it was not measured. */
function medianWall(ms: Measured[], name: string): number {
  const m = ms.find((m) => m.row.name === name);
  return usable(m) ? median(m.walls) : NaN;
}

/**
 * limitwalk scales almost 2x from 1 to 2 threads on an idle 2-core machine;
 * when it does not, the other core was busy elsewhere and the ratios are noise.
 */
function noiseNote(ms: Measured[]): string[] {
  const speedup = medianWall(ms, "limitwalk-1") / medianWall(ms, "limitwalk-2");
  if (!(speedup < 1.4)) return [];
  return [
    `- NOISY: limitwalk gained only ${speedup.toFixed(2)}x from 1 to 2 threads (about 1.9x on ` +
    `an idle 2-core machine): other work was using the cores, so the ratios above are not ` +
    `trustworthy; run again when the machine is quieter`,
  ];
}

async function machine(): Promise<string> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const nproc = (await sh(["nproc"], { allowFail: true })).stdout.trim() ||
    String(navigator.hardwareConcurrency);
  const commit = (await sh(["git", "rev-parse", "--short", "HEAD"], { allowFail: true })).stdout
    .trim();
  const dirty = (await sh(["git", "status", "--porcelain", "--untracked-files=no"], {
      allowFail: true,
    })).stdout.trim()
    ? " (+ uncommitted changes)"
    : "";
  return [
    `- machine: ${nproc} cores (nproc), ${model}, ${
      (memKb / 2 ** 20).toFixed(0)
    } GiB, kernel ${Deno.osRelease()}`,
    `- deno ${Deno.version.deno}; checkout ${commit}${dirty}; ${new Date().toISOString()}`,
    `- load average at start: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  ].join("\n");
}

/**
 * The Python of the os.walk row: the distribution's /usr/bin/python3 when
 * there is one (an optimised build, what the admin's system runs), else
 * python3 on PATH resolved to its executable (a pyenv shim adds a shell's
 * start to every run). Builds differ: on one machine a pyenv-built 3.11.7
 * took 2.2 s for the os.walk that Debian's 3.11.2 did in 1.5 s, so the
 * ratio to os.walk is only worth as much as this line says.
 */
async function osWalkPython(): Promise<{ exe: string; version: string }> {
  const ask = async (py: string) => {
    const r = await sh([
      py,
      "-c",
      "import sys, platform; print(sys.executable); print(platform.python_version())",
    ], {
      allowFail: true,
    });
    const [exe, version] = r.stdout.trim().split("\n");
    return r.code === 0 && exe && version ? { exe, version } : undefined;
  };
  const found = (await exists("/usr/bin/python3") ? await ask("/usr/bin/python3") : undefined) ??
    await ask("python3");
  if (!found) throw new Error("bench: no python3 to run os.walk with");
  return found;
}

/** /proc/stat's CPU ticks: stolen by the hypervisor, and all (undefined off Linux). */
function cpuTicks(): { steal: number; all: number } | undefined {
  try {
    const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    return { steal: f[7] ?? 0, all: f.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}
const TICKS_AT_START = cpuTicks();

/** The share of CPU time the hypervisor stole since the bench started. */
function stealNote(): string[] {
  const now = cpuTicks();
  if (!now || !TICKS_AT_START || now.all <= TICKS_AT_START.all) return [];
  const pct = (100 * (now.steal - TICKS_AT_START.steal)) / (now.all - TICKS_AT_START.all);
  return [
    `- CPU time stolen by the hypervisor during the bench (/proc/stat): ${pct.toFixed(1)}%` +
    (pct >= 2 ? " (a busy host: absolute times are slow, and ratios noisier than usual)" : ""),
  ];
}

/** The python-pwalk of the python-pwalk rows: PyPI's `pwalk`, pinned. */
export const PYTHON_PWALK = "0.1.6";

/**
 * python-pwalk installed for `python` into `dir` (bench/work/python-pwalk)
 * with pip (`--no-deps --target`), once: `dir/.done` names the version and
 * the interpreter it was installed for (a wheel fits one Python), and
 * another one is installed afresh. Returns the folder for PYTHONPATH, or
 * why there is none (no pip, no wheel, no network...), in one line.
 */
export async function ensurePythonPwalk(
  python: string,
  dir = `${WORK}/python-pwalk`,
): Promise<{ dir: string } | { why: string }> {
  const oneLine = (s: string) =>
    s.trim().split("\n").map((l) => l.trim()).filter((l) => l && !/^WARNING: /.test(l)).at(-1)
      ?.slice(0, 200) ?? "no message";
  const version = (await sh([python, "-c", "import sys; print(sys.version.split()[0])"], {
    allowFail: true,
  })).stdout.trim();
  const stamp = `pwalk==${PYTHON_PWALK} for ${python} ${version}\n`;
  const marker = `${dir}/.done`;
  if (await Deno.readTextFile(marker).catch(() => "") !== stamp) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    say(`bench: installing python-pwalk (pip install pwalk==${PYTHON_PWALK} into ${dir})`);
    const pip = await sh([
      python,
      "-m",
      "pip",
      "install",
      "--no-deps",
      "--disable-pip-version-check",
      "--no-input",
      "-q",
      "--target",
      dir,
      `pwalk==${PYTHON_PWALK}`,
    ], { allowFail: true });
    if (pip.code !== 0) {
      return {
        why: `${python} -m pip install pwalk==${PYTHON_PWALK} failed: ${
          oneLine(pip.stderr + pip.stdout)
        }`,
      };
    }
    await Deno.writeTextFile(marker, stamp);
  }
  const check = await sh([
    "env",
    `PYTHONPATH=${dir}`,
    python,
    "-c",
    "import pwalk; print(pwalk.__version__)",
  ], {
    allowFail: true,
  });
  if (check.code !== 0) return { why: `python-pwalk does not import: ${oneLine(check.stderr)}` };
  if (check.stdout.trim() !== PYTHON_PWALK) {
    return { why: `python-pwalk ${check.stdout.trim()} imported, not ${PYTHON_PWALK}` };
  }
  return { dir };
}

// ---------------------------------------------------------------- the row sets

/** What the rows of a table run: the tree and the helpers built for it. */
export interface Ctx {
  tree: string;
  limitwalk: string;
  /** native/driver/pwdrive.c linked to zig-out/lib: the library without Deno. */
  pwdrive: string;
  zstd: string | null;
  /** The interpreter of the os.walk row (see {@link osWalkPython}). */
  python: string;
  /**
   * The folder python-pwalk (PyPI `pwalk`, {@link PYTHON_PWALK}) is
   * installed in for `python` (see {@link ensurePythonPwalk}); null: no
   * python-pwalk rows.
   */
  pythonPwalk: string | null;
}

const FIND_FMT = '%i,%d,"%p",%U,%G,%s,%D,%b,%n,%m,%A@,%T@,%C@\\n';
const OS_WALK = `import os, sys
n = f = 0
for d, ds, fs in os.walk(sys.argv[1]):
    n += 1
    f += len(fs)
print(n, "folders", f, "files")`;
/** python-pwalk's report() of TREE into OUT, compress as given, its other arguments its defaults. */
const PY_PWALK_REPORT =
  "import sys, pwalk; pwalk.report(sys.argv[1], output=sys.argv[2], compress=sys.argv[3])";
const cli = (...a: string[]) => [DENO, "run", "-A", "cli.ts", ...a];
const script = (f: string, ...a: string[]) => [DENO, "run", "-A", `bench/${f}`, ...a];

function mainRows(c: Ctx): Row[] {
  const rows: Row[] = [
    {
      name: "limitwalk-2",
      label: "limitwalk, 2 threads (the yardstick)",
      stages: [[c.limitwalk, c.tree, "2"]],
      counts: limitwalkCounts,
      syscalls: true,
    },
    {
      name: "report-zst",
      label: "pwalk report to .csv.zst (CLI)",
      stages: [cli("-o", `${OUT}/report.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/report.csv.zst`,
      maxRatio: 1.0,
      maxRssMiB: 64,
    },
    {
      name: "report-zst-native",
      label: "the same report by the C driver (the library alone: no Deno start or exit)",
      stages: [[c.pwdrive, "-z", "1", c.tree, `${OUT}/native.csv.zst`]],
      counts: pwdriveCounts,
      output: `${OUT}/native.csv.zst`,
      syscalls: true,
    },
    {
      name: "report-csv-stdout",
      label: "pwalk report, plain CSV on stdout to /dev/null (CLI)",
      stages: [cli(c.tree)],
      counts: cliCounts,
      stdout: "/dev/null",
      maxRssMiB: 64,
    },
    {
      name: "report-csv-file",
      label: "pwalk report to a plain .csv file (CLI)",
      stages: [cli("-o", `${OUT}/report.csv`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/report.csv`,
      maxRssMiB: 64,
    },
    {
      name: "limitwalk-1",
      label: "limitwalk, 1 thread",
      stages: [[c.limitwalk, c.tree, "1"]],
      counts: limitwalkCounts,
    },
    {
      name: "find",
      label: "find -printf, 13 fields, to /dev/null",
      stages: [["find", c.tree, "-printf", FIND_FMT]],
      stdout: "/dev/null",
    },
  ];
  if (c.zstd) {
    rows.push({
      name: "find-zstd",
      label: "find -printf piped into zstd -1 -T2",
      stages: [
        ["find", c.tree, "-printf", FIND_FMT],
        [c.zstd, "-1", "-T2", "-q", "-f", "-o", `${OUT}/find.csv.zst`],
      ],
      output: `${OUT}/find.csv.zst`,
    });
  }
  if (c.pythonPwalk) {
    // python-pwalk prints no counts: its rows are counted in its file, after the run
    const py = (out: string, compress: string) => [
      "env",
      `PYTHONPATH=${c.pythonPwalk}`,
      c.python,
      "-c",
      PY_PWALK_REPORT,
      c.tree,
      out,
      compress,
    ];
    const counts = (f: string) => pwalkCsvRows(f, c.zstd);
    rows.push(
      {
        name: "python-pwalk-zst",
        label:
          `python-pwalk ${PYTHON_PWALK} report(compress='zstd'), its default threads (zstd level 1; it names the file without .zst)`,
        // it strips ".zst" from the name it is given: the file is python-pwalk.csv
        stages: [py(`${OUT}/python-pwalk.csv.zst`, "zstd")],
        output: `${OUT}/python-pwalk.csv`,
        // its rows are read through zstd -dc: without zstd, not counted (said below the table)
        outputCounts: c.zstd ? counts : undefined,
      },
      {
        name: "python-pwalk-csv",
        label:
          `python-pwalk ${PYTHON_PWALK} report(compress='none'), plain CSV, its default threads`,
        stages: [py(`${OUT}/python-pwalk-plain.csv`, "none")],
        output: `${OUT}/python-pwalk-plain.csv`,
        outputCounts: counts,
      },
    );
  }
  rows.push(
    {
      name: "walk-api",
      label: "walk() from mod.ts, reading each entry's size",
      stages: [script("walk_api.ts", c.tree)],
      counts: jsonCounts,
      maxRatio: 1.15,
      maxRssMiB: 128,
    },
    {
      name: "os-walk",
      label: "Python's os.walk (names only), counting files",
      stages: [[c.python, "-c", OS_WALK, c.tree]],
    },
    {
      name: "limitnames-2",
      label:
        "limitwalk names only (no stat, folders by d_type), 2 threads: the floor of a names-only walk",
      stages: [[c.limitwalk, c.tree, "2", "names"]],
      counts: limitwalkCounts,
      syscalls: true,
    },
    {
      name: "walkdirs-names",
      label: "walkDirs(root, { stat: false }) from mod.ts: os.walk's shape, names only",
      stages: [script("walkdirs_api.ts", c.tree, "names")],
      maxRatio: 0.333,
      ratioOf: "os-walk",
    },
    {
      name: "walkdirs-native",
      label:
        "the same walk by the C driver (names only, each folder held for its answer: the library alone)",
      stages: [[c.pwdrive, "-w", "-D", c.tree]],
      counts: pwdriveCounts,
      stdout: "/dev/null",
    },
    {
      name: "walkdirs-stat",
      label: "walkDirs(root) from mod.ts, with every entry's stat",
      stages: [script("walkdirs_api.ts", c.tree, "stat")],
    },
    {
      name: "readdir-lstat",
      label: "Deno.readDir + Deno.lstat (a folder's stats at once)",
      stages: [script("readdir_lstat.ts", c.tree)],
      counts: jsonCounts,
    },
    {
      name: "repair-dry",
      label: "repair(root, {apply: false}) from mod.ts (dry run; the root has a shared group)",
      stages: [script("repair_dry.ts", c.tree)],
      counts: jsonCounts,
      maxRatio: 1.5,
      ratioOf: "report-zst",
    },
    {
      name: "report-parquet",
      label: "pwalk report to .parquet (CLI: typed Parquet written by the library)",
      stages: [cli("-o", `${OUT}/report.parquet`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/report.parquet`,
      maxRatio: 1.5,
      ratioOf: "report-zst",
    },
    {
      name: "summary",
      label: "pwalk summary --json of the tree's scan (.csv.zst, with header)",
      stages: [cli("summary", "--json", answersFiles(c.tree).old)],
      stdout: "/dev/null",
      maxSeconds: 2,
    },
    {
      name: "diff",
      label: "pwalk diff --json of two scans of the tree",
      stages: [cli("diff", "--json", answersFiles(c.tree).old, answersFiles(c.tree).new)],
      stdout: "/dev/null",
      maxSeconds: 4,
    },
    {
      name: "deno-startup",
      label: "fixed cost of the CLI: `--version` (starts Deno, loads the library)",
      stages: [cli("--version")],
    },
  );
  return rows;
}

function sweepRows(c: Ctx, threads: number[], yardstick: Row, pauseMs = 0): Row[] {
  return [
    yardstick,
    {
      name: "report-zst-default",
      label:
        "pwalk report to .csv.zst, default threads (governed: one reader per CPU, more while they wait)",
      stages: [cli("-o", `${OUT}/sweep.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/sweep.csv.zst`,
      maxRssMiB: 64,
      pauseMs,
    },
    ...threads.map((t): Row => ({
      name: `report-zst-t${t}`,
      label: `pwalk report to .csv.zst, --threads ${t}`,
      stages: [cli("--threads", String(t), "-o", `${OUT}/sweep.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/sweep.csv.zst`,
      maxRssMiB: 64,
      pauseMs,
    })),
  ];
}

/** Drop the page cache (and the dentry and inode caches): the next run reads the disk. */
async function dropCaches(): Promise<void> {
  await sh(["sync"]);
  await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3");
}

/** The exit status of a table this machine cannot make (--cold not as root, --slowfs without FUSE). */
export const SKIPPED = 77;

/** Why --cold cannot run here (for the user `uid`), or null. */
export async function coldPrereqs(uid = Deno.uid()): Promise<string | null> {
  if (uid !== 0) return "dropping the page cache needs root";
  try {
    await dropCaches();
  } catch (e) {
    return `cannot write /proc/sys/vm/drop_caches: ${(e as Error).message}`;
  }
  return null;
}

/** --cold: every run starts with the caches dropped. */
function coldRows(c: Ctx, fd: string | null): Row[] {
  const before = dropCaches;
  const lw = (t: number): Row => ({
    name: `limitwalk-${t}`,
    label: `limitwalk, ${t} threads`,
    stages: [[c.limitwalk, c.tree, String(t)]],
    counts: limitwalkCounts,
    before,
  });
  const rows: Row[] = [lw(2), lw(8), lw(32), lw(64)];
  if (fd) {
    rows.push({
      name: "fd",
      label: "fd -u (every name, no stat per entry), to /dev/null",
      stages: [[fd, "-u", ".", c.tree]],
      stdout: "/dev/null",
      before,
    });
  }
  rows.push(
    {
      name: "report-zst-default",
      label: "pwalk report to .csv.zst, default threads (CLI)",
      stages: [cli("-o", `${OUT}/cold.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/cold.csv.zst`,
      before,
    },
    {
      name: "report-zst-native",
      label: "the same report by the C driver, default threads (no Deno)",
      stages: [[c.pwdrive, "-z", "1", c.tree, `${OUT}/cold-native.csv.zst`]],
      counts: pwdriveCounts,
      output: `${OUT}/cold-native.csv.zst`,
      before,
    },
    ...[32, 64].map((t): Row => ({
      name: `report-zst-t${t}`,
      label: `pwalk report to .csv.zst, --threads ${t} (CLI)`,
      stages: [cli("--threads", String(t), "-o", `${OUT}/cold.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/cold.csv.zst`,
      before,
    })),
    {
      name: "deno-startup",
      label:
        "Deno's own cold start (`cli.ts --version`: its binary, the modules, the library), which the CLI rows pay and limitwalk does not",
      stages: [cli("--version")],
      before,
    },
  );
  return rows;
}

/**
 * --cold: the default report against the best limitwalk and fd; none when
 * either the report or every limitwalk was not measured (--only, failed).
 */
export function coldNotes(ms: Measured[]): string[] {
  const med = (name: string) => medianWall(ms, name);
  const lws = ms.filter((m) => m.row.name.startsWith("limitwalk-") && usable(m));
  const ours = med("report-zst-default");
  if (!lws.length || isNaN(ours)) return [];
  const best = lws.reduce((a, b) => (median(a.walls) <= median(b.walls) ? a : b));
  const out = [
    `- best limitwalk: ${best.row.name} (${median(best.walls).toFixed(2)} s); ` +
    `report-zst-default: ${(ours / median(best.walls)).toFixed(2)}x of it (target <= 1.05x)`,
  ];
  if (!isNaN(med("fd"))) {
    out.push(`- report-zst-default: ${(ours / med("fd")).toFixed(2)}x fd (target <= 1.0x)`);
  }
  const mine = ms.find((m) => m.row.name === "report-zst-default");
  if (mine && usable(mine)) {
    const cores = navigator.hardwareConcurrency, cpu = medianCpu(mine);
    out.push(
      `- CPU: report-zst-default used ${cpu.toFixed(2)} CPU-s (${cpuText(mine)}), at least ` +
        `${(cpu / cores).toFixed(2)} s on ${cores} cores, ` +
        `${(cpu / cores / median(best.walls)).toFixed(2)}x ${best.row.name} ` +
        `(which used ${medianCpu(best).toFixed(2)} CPU-s, ${cpuText(best)})`,
    );
  }
  const start = med("deno-startup");
  if (!isNaN(start)) {
    out.push(
      `- report-zst-default less Deno's cold start (${start.toFixed(2)} s): ` +
        `${((ours - start) / median(best.walls)).toFixed(2)}x ${best.row.name}`,
    );
  }
  return out;
}

/** For --shards: each sharded run's wall time against the one process's. */
function shardNotes(ms: Measured[]): string[] {
  const one = medianWall(ms, "report-zst-default");
  if (isNaN(one)) return [];
  return ms.filter((m) => m.row.name.startsWith("shards-") && usable(m)).map((m) =>
    `- ${m.row.name}: ${(median(m.walls) / one).toFixed(2)}x the wall time of ` +
    `one process (${(one / median(m.walls)).toFixed(2)}x as fast)`
  );
}

/**
 * A sharded scan run here: `pwalk plan` and then its shards, `pwalk report
 * --plan --shard I` processes at once (bench/shards.sh: as many as the plan
 * made, which may be fewer than N on a small tree; one command for peakrss:
 * its wall time is the plan's and the slowest shard's; its peak RSS the
 * largest single process's, as wait4's ru_maxrss gives the maximum over the
 * process tree, not a sum). Beside it one process at default settings, and
 * the plan alone.
 */
function shardRows(c: Ctx, counts: number[], pauseMs: number): Row[] {
  const max = Math.max(...counts);
  return [
    {
      name: "report-zst-default",
      label: "one pwalk report to .csv.zst, default settings",
      stages: [cli("-o", `${OUT}/one.csv.zst`, c.tree)],
      counts: cliCounts,
      output: `${OUT}/one.csv.zst`,
      pauseMs,
    },
    {
      name: `plan-${max}`,
      label: `pwalk plan --shards ${max} alone`,
      stages: [cli("plan", c.tree, "--shards", String(max), "-o", `${OUT}/plan-alone.json`)],
      output: `${OUT}/plan-alone.json`,
      pauseMs,
    },
    ...counts.map((n): Row => ({
      name: `shards-${n}`,
      label:
        `pwalk plan --shards ${n}, then its shards (${n}, or fewer on a small tree) at once, default settings`,
      stages: [[
        "sh",
        `${ROOT}/bench/shards.sh`,
        DENO,
        ROOT,
        c.tree,
        String(n),
        `${OUT}/shards-${n}`,
      ]],
      output: `${OUT}/shards-${n}/scan-0.csv.zst`,
      pauseMs,
    })),
  ];
}

// ---------------------------------------------------------------- slowfs

async function mounted(mnt: string): Promise<boolean> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").some((l) => l.split(" ")[4] === mnt);
}

/** Entries in the largest folder of a tree and its path (small trees only). */
async function largestFolder(tree: string): Promise<[number, string]> {
  let best: [number, string] = [0, tree];
  const queue = [tree];
  while (queue.length) {
    const dir = queue.pop()!;
    let n = 0;
    for await (const e of Deno.readDir(dir)) {
      n++;
      if (e.isDirectory) queue.push(`${dir}/${e.name}`);
    }
    if (n > best[0]) best = [n, dir];
  }
  return best;
}

async function slowfsPrereqs(): Promise<string | null> {
  const missing: string[] = [];
  if (!(await which("pkg-config"))) missing.push("pkg-config");
  else if ((await sh(["pkg-config", "--exists", "fuse3"], { allowFail: true })).code !== 0) {
    missing.push("libfuse3-dev");
  }
  if (!(await which("fusermount3"))) missing.push("fuse3");
  if (missing.length) {
    return `missing ${missing.join(", ")}: as root run\n` +
      `  apt-get update && apt-get install -y fuse3 libfuse3-dev pkg-config\n` +
      `then run deno task bench --slowfs again.`;
  }
  if (!(await exists("/dev/fuse"))) {
    return "/dev/fuse does not exist: this machine (container) cannot mount FUSE file systems.";
  }
  return null;
}

async function withSlowfs<T>(
  src: string,
  delayUs: number,
  body: (mnt: string) => Promise<T>,
): Promise<T> {
  const bin = await compile(
    "slowfs",
    (await sh(["pkg-config", "--cflags", "--libs", "fuse3"]))
      .stdout.trim().split(/\s+/),
  );
  const mnt = `${WORK}/slowfs-mnt`;
  await Deno.mkdir(mnt, { recursive: true });
  if (await mounted(mnt)) await sh(["fusermount3", "-u", mnt], { allowFail: true });
  const opts = "ro,attr_timeout=0,entry_timeout=1,max_threads=64";
  say(`bench: mounting ${src} at ${mnt} (SLOWFS_DELAY_US=${delayUs}, -o ${opts})`);
  const child = new Deno.Command(bin, {
    args: [src, mnt, "-f", "-o", opts],
    env: { SLOWFS_DELAY_US: String(delayUs) },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const unmount = async () => {
    if (await mounted(mnt)) await sh(["fusermount3", "-u", mnt], { allowFail: true });
    const t = setTimeout(() => {
      if (!exited) child.kill("SIGTERM");
    }, 5000);
    await status;
    clearTimeout(t);
  };
  // an interrupt outside the runs ends the bench at once: unmount first
  cleanups.push(unmount);
  try {
    for (let i = 0; !(await mounted(mnt)); i++) {
      if (exited || i > 100) throw new Error("slowfs did not mount");
      await sleep(100);
    }
    return await body(mnt);
  } finally {
    cleanups.splice(cleanups.indexOf(unmount), 1);
    await unmount();
    say(`bench: unmounted ${mnt}`);
  }
}

// ---------------------------------------------------------------- main

/** The tables `deno task bench` makes: one a run. */
export type BenchKind = "main" | "sweep" | "shards" | "slowfs" | "shards-slowfs" | "cold";

/** The table options of a run, as parsed. */
export interface BenchFlags {
  sweep?: boolean;
  slowfs?: boolean;
  shards?: boolean;
  cold?: boolean;
  threads?: string;
  counts?: string;
  "delay-us"?: string;
}

/**
 * Which table the options ask for, its title's options and its file's
 * name (bench/work/bench-FILE-N.md); throws, saying why, on options that
 * make no table: --cold with --sweep, --slowfs or --shards (its rows are its
 * own, on the local tree), --sweep with --shards, and --threads, --counts
 * or --delay-us where the table does not use them. --sweep --slowfs is
 * --slowfs (a thread sweep already).
 */
export function benchMode(
  f: BenchFlags,
  delayUs = 500,
): { kind: BenchKind; title: string; file: string } {
  const given = (["sweep", "slowfs", "shards"] as const).filter((k) => f[k]);
  if (f.cold && given.length) {
    throw new Error(
      `--cold and --${given[0]} make no table: --cold has rows of its own (limitwalk at ` +
        "2-64 threads, fd, the report at default and fixed thread counts, on the local tree); " +
        "run them one at a time",
    );
  }
  if (f.sweep && f.shards) {
    throw new Error("--sweep and --shards make no table: run them one at a time");
  }
  const kind: BenchKind = f.cold
    ? "cold"
    : f.shards
    ? (f.slowfs ? "shards-slowfs" : "shards")
    : f.slowfs
    ? "slowfs"
    : f.sweep
    ? "sweep"
    : "main";
  const unused = ([
    ["threads", kind === "sweep" || kind === "slowfs", "--sweep or --slowfs (without --shards)"],
    ["counts", kind === "shards" || kind === "shards-slowfs", "--shards"],
    ["delay-us", kind === "slowfs" || kind === "shards-slowfs", "--slowfs"],
  ] as const).find(([k, used]) => f[k] !== undefined && !used);
  if (unused) {
    throw new Error(`--${unused[0]} is for ${unused[2]}: the ${kind} table does not use it`);
  }
  const title = {
    main: "",
    sweep: " --sweep",
    shards: " --shards",
    slowfs: " --slowfs",
    "shards-slowfs": " --shards --slowfs",
    cold: " --cold",
  }[kind];
  const file = {
    main: "main",
    sweep: "sweep",
    shards: "shards-local",
    slowfs: `slowfs-${delayUs}us`,
    "shards-slowfs": `shards-slowfs-${delayUs}us`,
    cold: "cold",
  }[kind];
  return { kind, title, file };
}

/** The slowfs tables' pause before each run: entry_timeout=1, so FUSE's entry cache has expired. */
const SLOWFS_PAUSE_MS = 1100;

/**
 * The rows of a table (its yardstick first). For slowfs, `c.tree` is the
 * mount and `src` the tree under it.
 */
export function tableRows(
  kind: BenchKind,
  c: Ctx,
  o: { threads: number[]; counts: number[]; fd: string | null; src: string },
): Row[] {
  const pauseMs = SLOWFS_PAUSE_MS;
  const lw = (t: number): Row => ({
    name: `limitwalk-${t}`,
    label: `limitwalk, ${t} threads`,
    stages: [[c.limitwalk, c.tree, String(t)]],
    counts: limitwalkCounts,
    pauseMs,
  });
  switch (kind) {
    case "main":
      return mainRows(c);
    case "sweep":
      return sweepRows(c, o.threads, mainRows(c)[0]);
    case "shards":
      return [mainRows(c)[0], ...shardRows(c, o.counts, 0)];
    case "cold":
      return coldRows(c, o.fd);
    case "shards-slowfs":
      return [lw(32), ...shardRows(c, o.counts, pauseMs)];
    case "slowfs":
      return [lw(32), lw(8), ...sweepRows(c, o.threads, lw(32), pauseMs).slice(1), {
        name: "limitwalk-2-local",
        label: "limitwalk, 2 threads, on the source tree (no FUSE)",
        stages: [[c.limitwalk, o.src, "2"]],
        counts: limitwalkCounts,
      }];
  }
}

/** The row every table measures, whatever --only says: the one the ratios are against. */
export function yardstickOf(kind: BenchKind): string {
  return kind === "slowfs" || kind === "shards-slowfs" ? "limitwalk-32" : "limitwalk-2";
}

/** Stand-ins for the paths of a table's rows, for their names (--list, --only). */
const NAMES_ONLY: Ctx = {
  tree: "TREE",
  limitwalk: "limitwalk",
  pwdrive: "pwdrive",
  zstd: "zstd",
  python: "python3",
  pythonPwalk: "PYTHON_PWALK",
};

async function main(): Promise<number> {
  const bad: string[] = [];
  const flags = parseArgs(Deno.args, {
    string: ["files", "seed", "runs", "only", "threads", "delay-us", "counts"],
    boolean: ["sweep", "slowfs", "shards", "cold", "keep", "list", "help"],
    alias: { h: "help" },
    unknown: (arg: string) => {
      bad.push(arg);
      return false;
    },
  });
  const nameList = mainRows(NAMES_ONLY).map((r) => r.name).join(", ");
  if (flags.help) {
    console.log(HELP.replace("ROWS", nameList));
    return 0;
  }
  if (bad.length) {
    throw new Error(
      bad[0].startsWith("-")
        ? `unknown option ${bad[0]} (try --help)`
        : `no arguments, only options: ${bad[0]} (try --help)`,
    );
  }
  const int = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--${name} needs a positive integer`);
    return Number(v);
  };
  const delayUs = int(flags["delay-us"], 500, "delay-us");
  const mode = benchMode(flags, delayUs);
  const slow = mode.kind === "slowfs" || mode.kind === "shards-slowfs";
  const files = int(flags.files, slow ? 20000 : 1_000_000, "files");
  const seed = int(flags.seed, slow ? 5 : 7, "seed");
  const runs = int(flags.runs, 3, "runs");
  const threads = (flags.threads ?? (slow ? "2,4,8,16,32,64" : "1,2,4,8,16,32"))
    .split(",").map((t: string) => int(t.trim(), 0, "threads"));
  const only = flags.only?.split(",").map((s: string) => s.trim()).filter(Boolean);
  if (only && !only.length) throw new Error("--only needs row names (a,b,...; see --list)");
  const counts = (flags.counts ?? "1,2,4,8").split(",").map((t: string) =>
    int(t.trim(), 0, "counts")
  );
  const cold = mode.kind === "cold";
  const yardstick = yardstickOf(mode.kind);
  // checked before any work (--cold drops the page cache at once)
  const names = tableRows(mode.kind, NAMES_ONLY, { threads, counts, fd: "fd", src: "SRC" })
    .map((r) => r.name);
  if (only) {
    const unknown = only.filter((n: string) => !names.includes(n));
    if (unknown.length) {
      throw new Error(`--only: no row named ${unknown.join(", ")} (rows: ${names.join(", ")})`);
    }
  }
  if (flags.list) {
    console.log(names.join(", "));
    return 0;
  }
  if (slow) {
    const why = await slowfsPrereqs();
    if (why) {
      say(`bench --slowfs: skipped: ${why}`);
      return SKIPPED;
    }
  }
  if (cold) {
    const why = await coldPrereqs();
    if (why) {
      say(`bench --cold: skipped: ${why}`);
      return SKIPPED;
    }
  }

  Deno.addSignalListener("SIGINT", onSigint);
  if (!flags.keep) {
    for (const f of ["report.csv", "python-pwalk-plain.csv"]) {
      cleanups.push(() => Deno.remove(`${OUT}/${f}`).catch(() => {}));
    }
  }
  await Deno.mkdir(OUT, { recursive: true });
  usePeakrss(await compile("peakrss"));
  const limitwalk = await compile("limitwalk", ["-pthread"]);
  const pwdrive = await compileDriver();
  const zstd = await which("zstd");
  const tree = await ensureTree(files, seed);
  const py = await osWalkPython();
  const header = `${await machine()}\n- os.walk's Python: ${py.exe} (${py.version})`;

  say("bench: warming the cache (one untimed limitwalk run, one untimed CLI start)");
  const warm = await sh([limitwalk, tree, "2"]);
  const entryCount = Number(/^(\d+)/.exec(warm.stdout)?.[1] ?? NaN);
  const entries = entriesTitle(entryCount);
  expectEntries(entryCount + 1);
  await sh(cli("--version"));

  let md: string;
  if (slow) {
    const [big, bigDir] = await largestFolder(tree);
    md = await withSlowfs(tree, delayUs, async (mnt) => {
      await sh([limitwalk, mnt, "32"]); // untimed: starts FUSE's threads
      const c: Ctx = { tree: mnt, limitwalk, pwdrive, zstd, python: py.exe, pythonPwalk: null };
      treeShown = mnt;
      const pauseMs = SLOWFS_PAUSE_MS;
      let rows = tableRows(mode.kind, c, { threads, counts, fd: null, src: tree });
      if (only) rows = rows.filter((r) => r.name === yardstick || only.includes(r.name));
      const ms = await measure(rows, runs);
      return [
        `## pwalk bench${mode.title}: ${entries} under ${tree}, FUSE ${delayUs} us per request`,
        `- TREE = ${mnt} (slowfs view of the tree above)`,
        header,
        `- slowfs -o ro,attr_timeout=0,entry_timeout=1,max_threads=64; ${runs} runs each, round-robin, ${pauseMs} ms pause before each`,
        `- largest folder: ${big} entries (${bigDir.slice(tree.length + 1)}). limitwalk ` +
        `splits work by folder, so one of its threads stats these one after another: about ` +
        `${big} x 2 requests x ${delayUs} us = ${(big * 2 * delayUs / 1e6).toFixed(1)} s ` +
        `is a floor no thread count removes; pwalk's engine hands the names of a large folder ` +
        `to idle workers (sharedParts), and walkDirs (one worker per folder) does not`,
        "",
        table(ms, yardstick),
        "",
        ...shardNotes(ms),
      ].join("\n");
    });
  } else {
    // python-pwalk: installed on first use, for the main table's rows that run it
    const wantPy = mode.kind === "main" &&
      (!only || only.some((n: string) => n.startsWith("python-pwalk")));
    const pyPwalk = wantPy ? await ensurePythonPwalk(py.exe) : null;
    const noPyPwalk = pyPwalk && "why" in pyPwalk ? pyPwalk.why : null;
    const c: Ctx = {
      tree,
      limitwalk,
      pwdrive,
      zstd,
      python: py.exe,
      pythonPwalk: pyPwalk && "dir" in pyPwalk ? pyPwalk.dir : null,
    };
    treeShown = tree;
    const fd = (await which("fdfind")) ?? (await which("fd"));
    let rows = tableRows(mode.kind, c, { threads, counts, fd, src: tree });
    if (only) rows = rows.filter((r) => r.name === yardstick || only.includes(r.name));
    if (rows.some((r) => r.name === "summary" || r.name === "diff")) {
      const a = answersFiles(tree);
      const stamp = await answersStamp(tree);
      if (await Deno.readTextFile(a.made).catch(() => "") !== stamp) {
        await Deno.remove(a.made).catch(() => {});
        for (const f of [a.old, a.new]) {
          say(`bench: writing ${f.slice(f.lastIndexOf("/") + 1)} (untimed)`);
          await sh(cli("--header", "-o", f, tree));
        }
        await Deno.writeTextFile(a.made, stamp);
      }
    }
    if (rows.some((r) => r.name === "repair-dry")) {
      say(`bench: the tree's root for repair-dry, a shared group: ${await shareRootGroup(tree)}`);
    }
    const guard = rows.some((r) => r.name === "repair-dry") ? await sample(tree, 3000) : [];
    const ms = await measure(rows, runs);
    const after = guard.length ? await sample(tree, 3000) : [];
    const changed = guard.filter((l, i) => after[i] !== l);
    if (changed.length) {
      say(
        `bench: WARNING: the dry-run repair changed the tree, e.g. ${changed[0]} -> ` +
          `${after[guard.indexOf(changed[0])]}; rebuild it (rm ${tree}.done)`,
      );
    }
    md = [
      `## pwalk bench${mode.title}: ${entries} under ${tree}`,
      header,
      `- ${runs} runs of each command, round-robin, ${
        cold ? "the page cache dropped before each" : "warm cache"
      }; median wall, largest peak RSS`,
      "",
      table(ms, yardstick),
      ...(cold ? [] : await syscallTable(rows, entryCount + 1)),
      "",
      ...(cold ? coldNotes(ms) : cpuFloorNotes(ms, navigator.hardwareConcurrency)),
      ...(cold && !fd ? ["- fd not on PATH (Debian: fd-find): no fd row"] : []),
      ...(noPyPwalk ? [`- no python-pwalk rows: ${noPyPwalk}`] : []),
      ...ms.filter((m) => m.info).map((m) => `- ${m.row.name}: ${m.info}`),
      ...shardNotes(ms),
      ...noiseNote(ms),
      ...(zstd ? [] : [
        `- zstd not on PATH: no find-zstd row${
          c.pythonPwalk ? ", and python-pwalk-zst's rows not counted" : ""
        }`,
      ]),
      ...(changed.length
        ? [`- WARNING: repair-dry changed ${changed.length} sampled entries`]
        : []),
    ].join("\n");
  }
  md += `${md.endsWith("\n") ? "" : "\n"}- load average at end: ${
    Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  }\n`;
  for (const line of stealNote()) md += `${line}\n`;
  console.log(md);
  const file = `${WORK}/bench-${mode.file}-${files}.md`;
  await Deno.writeTextFile(file, md);
  say(`bench: table also written to ${shorten(file)}`);
  return 0;
}

if (import.meta.main) {
  let status = 1;
  try {
    status = await main();
  } catch (e) {
    if (e instanceof Interrupted) status = 130;
    else say(`bench: ${e instanceof Error ? e.message : e}`);
  } finally {
    await cleanUp();
  }
  Deno.exit(status);
}
