/**
 * Running one shard of a plan: its frontier folders (and, for shard 0, the
 * rows above the frontier) into one output, then a small completion record
 * beside it, written last, so that a shard that did not finish is seen.
 *
 * @module
 */
import {
  type Compression,
  reportFormat,
  type ReportSummary,
  reportToEnd,
  stdoutName,
} from "../report.ts";
import type { Progress } from "../job.ts";
import {
  checkInt,
  checkOptionNames,
  type OptionNames,
  walkerSpelled,
  withoutNulls,
} from "../options.ts";
import { count } from "../digits.ts";
import { ensureNative, native } from "../ffi.ts";
import { besidePath, osErrorText, outputTarget, removeBeside } from "../outfile.ts";
import { removeOnInterrupt } from "../interrupt.ts";
import {
  planDigest,
  PlanError,
  planExcludes,
  shardFolders,
  type ShardPlan,
  writeAtomic,
} from "./plan.ts";
import { pathOfJson, recordPath, utf8 } from "./paths.ts";
import { lockShard, ShardBusyError } from "./lock.ts";
import { oneLine } from "../utf8.ts";

export { ShardBusyError };

export { recordPath };

/** The names of {@link ShardRunOptions} (any other: a TypeError). */
export const SHARD_RUN_OPTIONS: OptionNames<ShardRunOptions> = {
  output: true,
  level: true,
  threads: true,
  record: true,
  printErrors: true,
  clearLineBeforeErrors: true,
  signal: true,
  onProgress: true,
  errorsCsvFd: true,
};

/** Options of {@link runShard}. */
export interface ShardRunOptions {
  /**
   * The output file (a `.zst` or `.gz` suffix compresses; CSV only: a
   * `.parquet` name is a RangeError), written under a temporary
   * name beside it and renamed over it when complete (a link there is
   * replaced, never written through; a failure to write it, such as a full
   * disk, names it, never a temporary part); `"-"`, `"/dev/stdout"` (`/dev/fd/1`,
   * `/proc/self/fd/1`) or omitted: stdout, and then no completion record.
   * Another name of this process's descriptors (`/dev/stderr`, `/dev/fd/3`)
   * throws a RangeError: never replaced.
   */
  output?: string;
  /**
   * Compression level: zstd 1-19, gzip 1-9 (default 1); none for plain CSV
   * (the output's suffix decides the format, as in report()). A level the
   * suffix contradicts throws a RangeError.
   */
  level?: number;
  /** Worker threads (default: the walker's own, one reader per CPU and more while waiting). */
  threads?: number;
  /** Where the completion record goes. Default: {@link recordPath} of the output. */
  record?: string;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /** With printErrors: each error line first clears the terminal's line (a progress line there). */
  clearLineBeforeErrors?: boolean;
  /** Cancels the shard: no output and no record are left. */
  signal?: AbortSignal;
  /**
   * Progress of the shard: shard 0's second part (its frontier folders)
   * counts on from its first (the rows above them), and its time from the
   * shard's start.
   */
  onProgress?: (p: Progress) => void;
  /** Every error also as a CSV row to this open file (the CLI's --errors). */
  errorsCsvFd?: number;
}

/** The completion record of a shard (`scan-I.done.json`), written after its output. */
export interface ShardRecord {
  /** Always "pwalk-shard-done". */
  format: "pwalk-shard-done";
  /** Format version (1). */
  version: 1;
  /** The plan's id. */
  plan: string;
  /**
   * SHA-256 of the plan's content ({@link planDigest}): a record whose plan
   * has the same id but another digest was made from another version of
   * plan.json (edited after the shard ran), and does not count.
   */
  planSha256: string;
  /** This shard's number. */
  shard: number;
  /** The plan's number of shards. */
  shards: number;
  /** The output: its file name when it is in the record's folder, else an absolute path. */
  output: string;
  /** The output's size in bytes, as written. */
  outputBytes: number;
  /** SHA-256 of the output, hex. */
  sha256: string;
  /** Whether the output is compressed (zstd or gzip: its suffix says which). */
  compressed: boolean;
  /** Rows written. */
  rows: number;
  /** Folder rows. */
  folders: number;
  /** Sum of st_size over the rows. */
  bytes: number;
  /** Sum of st_blocks x 512 over the rows. */
  allocatedBytes: number;
  /** Errors met (unreadable folders, vanished entries; the walk went on). */
  errors: number;
  /** The first errors. */
  errorDetails: { path: string; op: string; message: string }[];
  /** Frontier folders this shard walked. */
  frontierFolders: number;
  /** Whether it also walked the rows above the frontier (shard 0). */
  top: boolean;
  /** The host it ran on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** When it started and ended (ISO 8601). */
  start: string;
  /** When it ended. */
  end: string;
  /** Wall time in milliseconds. */
  elapsedMs: number;
  /** The Slurm job, when it ran as one. */
  slurm?: { jobId: string; arrayJobId?: string; arrayTaskId?: string; node?: string };
}

/**
 * What {@link runShard} returns: {@link ReportSummary}'s numbers for the
 * shard's whole output (shard 0 writes it in up to two report runs), the
 * shard, its completion record and its rows.
 */
export interface ShardSummary extends
  Pick<
    ReportSummary,
    | "output"
    | "folders"
    | "bytes"
    | "allocatedBytes"
    | "outputBytes"
    | "errors"
    | "errorDetails"
    | "elapsedMs"
  > {
  /** The shard. */
  shard: number;
  /** The completion record written, or null (stdout). */
  record: string | null;
  /** Rows written (the report's `entries`). */
  rows: number;
  /**
   * Temporary outputs of earlier runs of this shard that were killed before
   * they could remove them (`OUTPUT.partial-PID-N`, `OUTPUT.top-PID...`),
   * removed once this run's output was in place.
   */
  leftovers: string[];
}

/**
 * The root of a plan is not the folder it was when planned (another device
 * or inode): the shard refuses to run.
 *
 * @example The planned folder was replaced: make a new plan
 * ```ts
 * import { PlanMismatchError, planShards, runShard } from "jsr:@pwalk/cli";
 * import { assertRejects } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * await Deno.rename(`${tmp}/data`, `${tmp}/old`); // (kept: its inode is not handed out again)
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 *
 * await assertRejects(
 *   () => runShard(plan, 0, { output: `${tmp}/scan-0.csv.zst` }),
 *   PlanMismatchError,
 *   "is not the planned folder any more",
 * );
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class PlanMismatchError extends Error {
  /** An error named "PlanMismatchError" (as RefusedError is named). */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlanMismatchError";
  }
}

/** The CSV kinds a shard writes (its parts are joined, which Parquet files cannot be). */
type CsvCompression = Exclude<Compression, "parquet">;

/** A suffix that names each kind (for the parts shard 0 joins). */
const SUFFIX: Record<CsvCompression, string> = { zstd: ".zst", gzip: ".gz", none: "" };

/** An empty output of each kind (a shard with nothing to walk, or that wrote no row). */
const EMPTY: Record<CsvCompression, Uint8Array> = {
  zstd: new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00]),
  gzip: new Uint8Array([31, 139, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  none: new Uint8Array(),
};

/**
 * SHA-256 of a file, hex, streamed (what completion records hold);
 * `signal` stops it between two MiB read (rejecting with its reason).
 *
 * @example
 * ```ts ignore
 * console.log(await sha256File("scan-0.csv.zst"));
 * ```
 */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const { createHash } = await import("node:crypto"); // loaded only by the shard commands
  const h = createHash("sha256");
  using f = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    signal?.throwIfAborted(); // (a large output: stopped between two MiB)
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/** Join `parts` into `to`, a new file (never opened through a link put there), synced. */
async function concatFiles(parts: string[], to: string): Promise<void> {
  await Deno.remove(to).catch(() => {}); // a dead run's with this pid, or anything put there
  using out = await Deno.open(to, { write: true, createNew: true });
  const buf = new Uint8Array(1 << 20);
  for (const p of parts) {
    using f = await Deno.open(p);
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await out.write(buf.subarray(off, n));
    }
  }
  // on the disk before it takes the output's name, as the library's outputs
  // (sink.c): after a crash a completion record never stands beside a short file
  await out.syncData();
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** The output as the record names it: its file name beside the record, else an absolute path. */
function outputFromRecord(record: string, output: string): string {
  if (dirname(record) === dirname(output)) return output.slice(output.lastIndexOf("/") + 1);
  return output.startsWith("/") ? output : `${Deno.cwd()}/${output}`;
}

function slurmInfo(): ShardRecord["slurm"] {
  const env = (k: string) => Deno.env.get(k) || undefined;
  const jobId = env("SLURM_JOB_ID");
  if (!jobId) return undefined;
  return {
    jobId,
    arrayJobId: env("SLURM_ARRAY_JOB_ID"),
    arrayTaskId: env("SLURM_ARRAY_TASK_ID"),
    node: env("SLURMD_NODENAME"),
  };
}

/**
 * Check that the plan's root is still the folder it was: the same inode,
 * on the planned device or on another device number (a file system
 * mounted again, or seen from another node: NFS, Lustre, GPFS and FUSE
 * number each mount on its own; then one of the plan's frontier folders on
 * ROOT's file system, up to 8 looked at, must be the planned one, or it is
 * another file system whose root has the same inode). Throws
 * {@link PlanMismatchError} otherwise. Returns the root's device now.
 *
 * @example
 * ```ts
 * import { checkPlanRoot, PlanMismatchError, planShards } from "jsr:@pwalk/cli";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * assertEquals(await checkPlanRoot(plan), (await Deno.stat(`${tmp}/data`)).dev);
 * // replaced by another folder (the old one kept: its inode is not handed out again)
 * await Deno.rename(`${tmp}/data`, `${tmp}/old`);
 * await Deno.mkdir(`${tmp}/data`);
 * await assertRejects(() => checkPlanRoot(plan), PlanMismatchError);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function checkPlanRoot(plan: ShardPlan): Promise<number> {
  const root = plan.root.path;
  if (!root.startsWith("/") && Deno.cwd() !== plan.cwd) {
    throw new PlanMismatchError(
      `the plan's root ${oneLine(root)} is relative to ${
        oneLine(plan.cwd)
      }; run the shard from there`,
    );
  }
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(root);
  } catch (e) {
    throw new PlanMismatchError(
      `the plan's root ${oneLine(root)}: ${oneLine((e as Error).message)}`,
    );
  }
  if (st.ino !== plan.root.ino) {
    throw new PlanMismatchError(
      `${
        oneLine(root)
      } is not the planned folder any more (planned device ${plan.root.dev} inode ` +
        `${plan.root.ino}, now ${st.dev} ${st.ino}): make a new plan`,
    );
  }
  if (st.dev !== plan.root.dev) {
    // Another device number: the same file system numbered by this node,
    // or another one whose root has the same inode (every ext4's is 2).
    // Some of the plan's frontier folders on ROOT's file system must be
    // the planned ones (up to 8 looked at, one lstat a name).
    const plain = new Map<string, boolean>();
    let looked = 0, found = 0;
    for (const f of plan.frontier) {
      if (f.dev !== plan.root.dev) continue;
      const id = await plainFolderId(root, pathOfJson(f), plain);
      looked++;
      if (id && id.ino === f.ino && id.dev === st.dev) found++;
      if (found || looked >= 8) break;
    }
    if (looked && !found) {
      throw new PlanMismatchError(
        `${oneLine(root)} has the planned inode ${plan.root.ino} on another device (planned ` +
          `${plan.root.dev}, now ${st.dev}), but none of the ${count(looked, "frontier folder")} ` +
          "looked at is the planned one: another file system is mounted there; make a new plan",
      );
    }
  }
  return st.dev;
}

/**
 * ROOT opened and searched by this user, as `pwalk report` checks its ROOT
 * (oneRoot): a ROOT this user cannot open, or can list but not search, lets
 * no part of the tree be read. Shard 0 would end "done" with ROOT's row
 * alone (its listing's error, or one per entry), and the other shards
 * would fail (their frontier is reached through ROOT) or end "done" with
 * none: every shard refuses it alike, with nothing written
 * ({@link PlanMismatchError}; the CLI's exit 1).
 */
async function checkRootAccess(root: string): Promise<void> {
  const hint = "no part of the tree could be read; run the shard as a user who can";
  try {
    (await Deno.open(root)).close(); // opened for reading, as the walker opens it
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    throw new PlanMismatchError(`the plan's root ${oneLine(root)}: Permission denied (${hint})`);
  }
  try {
    await Deno.stat(`${root}/.`); // searchable: a name looked up in it
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    throw new PlanMismatchError(
      `the plan's root ${
        oneLine(root)
      }: Permission denied (it can be listed but not searched: ${hint})`,
    );
  }
}

/**
 * The plan's device numbers as this node numbers them: the root's (checked
 * by {@link checkPlanRoot}), then each of the shard's frontier folders that
 * is still the planned one (its inode) under a one-to-one mapping: a
 * planned device maps to one device now, and no two planned devices to the
 * same one. A folder that breaks it, is gone or has another inode is
 * another folder now (walked as a whole run would, its rows with the
 * device numbers now) and maps nothing. Returns the pairs `[now, planned]`
 * that differ: the shard's rows carry the plan's numbers (report's
 * `deviceMap`), so shards run on nodes that number the file systems
 * differently merge as one run on the planning node.
 */
async function planDevices(
  plan: ShardPlan,
  rootDev: number,
  folders: { path: Uint8Array; dev: number; ino: number }[],
): Promise<[number, number][]> {
  const now = new Map<number, number>([[plan.root.dev, rootDev]]); // planned -> now
  const taken = new Set<number>([rootDev]);
  const plain = new Map<string, boolean>(); // folder -> reached without a link
  for (const f of folders) {
    // only a folder of a device not mapped yet is looked at (most are on
    // ROOT's: no request at all); reached one name at a time from ROOT with
    // lstat, never through a link (the walk does not follow one either, and
    // following one reads it: its atime would change under the report)
    if (now.has(f.dev)) continue;
    const st = await plainFolderId(plan.root.path, f.path, plain);
    if (!st || st.ino !== f.ino) continue;
    if (now.has(f.dev) || taken.has(st.dev)) continue; // mapped already (or inconsistent)
    now.set(f.dev, st.dev);
    taken.add(st.dev);
  }
  return [...now].filter(([p, n]) => p !== n).map(([p, n]) => [n, p]);
}

/**
 * The device and inode of the folder `path` below `root`, each folder on
 * the way from `root` lstat'ed (never followed): null when one of them is
 * a link or not a folder, is gone, or the name is not UTF-8 below `root`.
 * `plain` remembers the folders already found plain.
 */
async function plainFolderId(
  root: string,
  path: Uint8Array,
  plain: Map<string, boolean>,
): Promise<{ dev: number; ino: number } | null> {
  const s = utf8(path);
  const base = root.replace(/\/+$/, "");
  if (s === null || !s.startsWith(`${base}/`)) return null;
  let at = base, last: Deno.FileInfo | null = null;
  for (const name of s.slice(base.length + 1).split("/").filter((n) => n !== "")) {
    at = `${at}/${name}`;
    const known = plain.get(at);
    if (known === false) return null;
    if (known && at !== s) continue;
    try {
      last = await Deno.lstat(at);
    } catch {
      last = null;
    }
    plain.set(at, last?.isDirectory ?? false);
    if (!last?.isDirectory) return null;
  }
  return last ? { dev: last.dev, ino: last.ino! } : null;
}

/** Why a device or FIFO cannot be a shard's output. */
export function notAFile(output: string): string {
  return `${output}: a shard's output must be a file (its parts are joined into it, its size ` +
    "and SHA-256 recorded), not a device or FIFO";
}

/** A descriptor of `path` for skipFds (opened to append: nothing written), or -1. */
function openSkip(path: string): number {
  const b = new TextEncoder().encode(path);
  return native().pw_fd_open(b, BigInt(b.length));
}

/**
 * Run shard `shard` of a plan: the report rows of its frontier folders (and
 * for shard 0 the rows above the frontier, with the header when the plan
 * has one), into one output; then, for a file output, the completion
 * record ({@link recordPath}), written last. A record left by an earlier
 * run of this shard is removed first, so only a finished shard has one.
 * Its temporary parts beside the output (`OUTPUT.top-PID...`,
 * `OUTPUT.front-PID...`) are removed at its end, cancelled or failed too,
 * and by `Deno.exit()` while it runs.
 *
 * @example Run every shard of a plan here, one after the other
 * ```ts
 * import { planShards, readPlan, report, runShard, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a/b`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/a/b/f.txt`, "x");
 * await Deno.mkdir(`${tmp}/scan`);
 * await writePlan(await planShards(`${tmp}/data`, { shards: 3 }), `${tmp}/scan/plan.json`);
 *
 * const plan = await readPlan(`${tmp}/scan/plan.json`);
 * let rows = 0;
 * for (let i = 0; i < plan.shards; i++) {
 *   rows += (await runShard(plan, i, { output: `${tmp}/scan/scan-${i}.csv.zst` })).rows;
 * }
 * // the shards' rows are one report's
 * assertEquals(rows, (await report(`${tmp}/data`, { output: `${tmp}/whole.csv` })).entries);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {PlanMismatchError} when the root is not the planned folder any more
 * @throws {ShardBusyError} when another run of this shard holds its lock,
 *   `scan-I.lock` beside the record `scan-I.done.json` (nothing touched)
 * @throws {RangeError} when the shard is not one of the plan's, or the
 *   output is a device, FIFO, folder or another descriptor's name than
 *   stdout's (nothing written)
 */
export async function runShard(
  plan: ShardPlan,
  shard: number,
  options: ShardRunOptions = {},
): Promise<ShardSummary> {
  options = withoutNulls(options);
  checkOptionNames("runShard", options, SHARD_RUN_OPTIONS);
  checkInt("shard", shard, 0, plan.shards - 1);
  if (plan.format !== "pwalk-shard-plan") throw new PlanError("not a pwalk shard plan");
  const rootDev = await checkPlanRoot(plan);
  await checkRootAccess(plan.root.path);
  // -o /dev/stdout: this process's stdout, as "-" (by name it would be replaced)
  const toStdout = options.output === undefined || options.output === "-" ||
    stdoutName(options.output);
  const given = toStdout ? null : options.output!;
  // A shard's output is a file: its parts are joined into it, and its size
  // and SHA-256 recorded; a device or FIFO, which -o of a whole report
  // writes directly, is refused. Its folder is a scan folder (its record and
  // lock go there, status and summary read it), which others may write: a
  // link at the name is replaced, never written through, and the lock and
  // the temporaries lie beside the name given, not beside a link's target.
  const target = given === null ? null : await outputTarget(given, { replaceLink: true });
  if (target?.direct) throw new RangeError(`pwalk: ${notAFile(given!)}`);
  const output = given;
  // The output's suffix decides, as given (the temporary parts have their own).
  const format = reportFormat(given ?? undefined, undefined, options.level, ".zst or .gz");
  if (format.compress === "parquet") {
    throw new RangeError(
      `pwalk: a shard writes CSV (.csv, .csv.zst or .csv.gz), not ${given}: ` +
        "its parts are joined, and Parquet files cannot be (convert the merged scan)",
    );
  }
  const compress: CsvCompression = format.compress;
  const level = format.level;
  const record = given ? options.record ?? recordPath(given) : null;
  // what the record tells of the host and the Slurm task, asked now: a
  // permission missing for them (--allow-sys, --allow-env) refuses the run
  // before the walk, not after its output is in place without a record
  const host = record ? Deno.hostname() : "";
  const slurm = record ? slurmInfo() : undefined;
  // The lock's descriptor is opened through the library: loaded first
  // (downloaded, from JSR), before the lock is taken.
  await ensureNative();
  options.signal?.throwIfAborted();
  // One run of this shard at a time (the lock held until its record is written).
  const lock = output ? await lockShard(output, shard, plan.id) : null;
  // the lock file may lie in the walked tree (beside an output there): no row
  const lockFd = lock ? openSkip(lock.path) : -1;
  const lockSkip = lockFd >= 0 ? [lockFd] : [];
  try {
    if (record) await Deno.remove(record).catch(() => {});

    const start = new Date();
    const t0 = performance.now();
    const root = plan.root.path;
    const folders = shardFolders(plan, shard);
    // Shard 0 writes the rows above the frontier too: a file system mounted
    // there whose folders are all other shards' is known by theirs.
    const deviceMap = await planDevices(
      plan,
      rootDev,
      shard === 0
        ? plan.frontier.map((f) => ({ path: pathOfJson(f), dev: f.dev, ino: f.ino }))
        : folders,
    );
    const common = {
      noSnap: plan.options.noSnap,
      pwalkDepth: plan.options.pwalkDepth,
      oneFileSystem: plan.options.oneFileSystem,
      threads: options.threads,
      compress,
      level: compress === "none" ? undefined : level,
      printErrors: options.printErrors,
      clearLineBeforeErrors: options.clearLineBeforeErrors,
      signal: options.signal,
      onProgress: options.onProgress,
      errorsCsvFd: options.errorsCsvFd,
      skipFds: lockSkip.length ? lockSkip : undefined,
      deviceMap: deviceMap.length ? deviceMap : undefined,
    };
    const runs: ReportSummary[] = [];
    // The progress is the shard's: shard 0's second part goes on from its
    // first (a progress line does not start again from 0, and what a stopped
    // shard says it had done counts both parts).
    const onProgress = (before: readonly ReportSummary[]) => {
      const on = options.onProgress;
      const b = before[0];
      if (!on || !b) return on;
      return (p: Progress) => {
        const entries = b.entries + p.entries;
        const elapsedMs = performance.now() - t0;
        return on({
          ...p,
          entries,
          folders: b.folders + p.folders,
          bytes: b.bytes + p.bytes,
          allocatedBytes: b.allocatedBytes + p.allocatedBytes,
          errors: b.errors + p.errors,
          outputBytes: b.outputBytes + p.outputBytes,
          elapsedMs,
          rate: elapsedMs > 0 ? Math.round(entries * 1000 / elapsedMs) : 0,
        });
      };
    };
    const temps: string[] = [];
    const forget: (() => void)[] = [];
    const tmp = (what: string) => {
      const p = besidePath(output!, `.${what}-${Deno.pid}${SUFFIX[compress]}`); // the suffix tells the format
      temps.push(p);
      forget.push(removeOnInterrupt(p)); // Deno.exit() while they are made or joined
      return p;
    };
    // A part's failure (a full disk, a quota) names the output given, as a
    // report's names its -o: the part's temporary name is none of the user's.
    const part = async (to: string, run: () => Promise<ReportSummary>) => {
      try {
        return await run();
      } catch (e) {
        // (the library's messages name it escaped as one line: so does this)
        const named = output && e instanceof Error && to !== "-"
          ? [to, oneLine(to)].find((t) => e.message.includes(t))
          : undefined;
        if (output && e instanceof Error && named) {
          try {
            e.message = e.message.replaceAll(named, oneLine(output));
          } catch { /* a message that cannot be changed (a DOMException's) stays */ }
        }
        throw e;
      }
    };
    try {
      if (shard === 0) {
        // the rows above the frontier: the root with the frontier left out
        // the frontier's paths as the plan spelled them, never resolved again
        const exclude = [...planExcludes(plan), ...walkerSpelled(plan.frontier.map(pathOfJson))];
        const to = output ? tmp("top") : "-";
        runs.push(
          await part(
            to,
            () =>
              reportToEnd(root, { ...common, exclude, header: plan.options.header, output: to }),
          ),
        );
      }
      if (folders.length) {
        // shard 0's first part, done, may lie in a frontier folder: no row
        const top = output && shard === 0 ? temps[0] : null;
        const skip = top ? openSkip(top) : -1;
        // a part, renamed over the name given: the library's -o would
        // write a link's target
        const to = output ? tmp("front") : "-";
        try {
          runs.push(
            await part(to, () =>
              reportToEnd(root, {
                ...common,
                exclude: planExcludes(plan),
                frontier: folders,
                onProgress: onProgress(runs),
                output: to,
                skipFds: skip >= 0 ? [...lockSkip, skip] : common.skipFds,
              })),
          );
        } finally {
          if (skip >= 0) native().pw_fd_close(skip);
        }
      }
      if (output && runs.length) {
        // one part renamed, two (shard 0) joined: over the name itself, a
        // link there replaced
        const parts = temps.slice(0, runs.length);
        const whole = parts.length === 1 ? parts[0] : tmp("partial");
        try {
          if (whole !== parts[0]) await concatFiles(parts, whole);
          if (compress !== "none" && (await Deno.stat(whole)).size === 0) {
            // no row (every frontier folder gone, or on another file system
            // with -x): the library wrote no frame, and an empty .zst or
            // .gz is no valid file: an empty frame (member) instead
            await writeAtomic(output, EMPTY[compress]);
            await Deno.remove(whole);
          } else await Deno.rename(whole, output);
        } catch (e) {
          await Deno.remove(whole).catch(() => {});
          // a full disk while the two parts are joined: named as -o's failures are
          throw new Error(`pwalk: cannot write ${oneLine(output)}: ${osErrorText(e)}`);
        }
      } else if (output) {
        await writeAtomic(output, EMPTY[compress]);
      }
    } finally {
      for (const t of temps) await Deno.remove(t).catch(() => {});
      for (const f of forget) f();
    }

    const sum = (k: "entries" | "folders" | "bytes" | "allocatedBytes" | "errors") =>
      runs.reduce((a, r) => a + r[k], 0);
    const totals = {
      rows: sum("entries"),
      folders: sum("folders"),
      bytes: sum("bytes"),
      allocatedBytes: sum("allocatedBytes"),
      errors: sum("errors"),
    };
    const errorDetails = runs.flatMap((r) => r.errorDetails);
    const outputBytes = output
      ? (await Deno.stat(output)).size
      : runs.reduce((a, r) => a + r.outputBytes, 0);
    const elapsedMs = performance.now() - t0;
    if (output && record) {
      const rec: ShardRecord = {
        format: "pwalk-shard-done",
        version: 1,
        plan: plan.id,
        planSha256: planDigest(plan),
        shard,
        shards: plan.shards,
        output: outputFromRecord(record, given!),
        outputBytes,
        sha256: await sha256File(output),
        compressed: compress !== "none",
        ...totals,
        errorDetails: errorDetails.map((e) => ({ path: e.path, op: e.op, message: e.message })),
        frontierFolders: folders.length,
        top: shard === 0,
        host,
        pid: Deno.pid,
        start: start.toISOString(),
        end: new Date().toISOString(),
        elapsedMs: Math.round(elapsedMs),
        slurm,
      };
      await writeAtomic(record, JSON.stringify(rec, null, 1) + "\n");
    }
    const leftovers = output ? await removeLeftovers(output, record) : [];
    return {
      shard,
      output: given,
      record,
      ...totals,
      outputBytes,
      errorDetails,
      elapsedMs,
      leftovers,
    };
  } finally {
    // the lock file removed first: over NFS closing any descriptor of it
    // (lockFd too) lets the lock go
    await lock?.release();
    if (lockFd >= 0) native().pw_fd_close(lockFd);
  }
}

/**
 * Remove the temporary outputs that runs of this shard killed before their
 * end (kill -9, a node lost) left beside `output` (and beside its record),
 * and name them. Only once the output is whole, and not those a live
 * process holds locked (the library's temporaries), nor the unlocked
 * parts of shard 0 whose process is still alive on this host. (A run of
 * the same shard still writing, on another node, is kept out by the
 * shard's lock; only where
 * the file system has no locks would it lose its temporary and fail at
 * its end, this run's output and record standing.)
 */
async function removeLeftovers(output: string, record: string | null): Promise<string[]> {
  // the library's OUTPUT.partial-PID-N, and its temporary of a part of
  // shard 0, OUTPUT.top-PID.zst.partial-PID-N: locked while written, so
  // their lock tells (a PID in a container is every run's, and after a
  // reboot another process's)
  const library = /^\.(?:(?:top|front|partial)-\d+(?:\.zst|\.gz)?\.)?partial-(\d+)-\d+$/;
  const removed = await removeBeside(output, library, { locked: true });
  // shard 0's parts OUTPUT.(top|front|partial)-PID[.zst|.gz], written unlocked: their PID too
  removed.push(...await removeBeside(output, /^\.(?:top|front|partial)-(\d+)(?:\.zst|\.gz)?$/));
  // the record's own: RECORD.partial-PID (writeAtomic)
  if (record) removed.push(...await removeBeside(record, /^\.partial-(\d+)$/));
  return removed.sort();
}
