/**
 * DuckDB, loaded only when a command that answers questions runs: a report,
 * a walk or `--version` never imports it (tests/answers_input_test.ts checks
 * the module graph). The specifier is built at run time so that neither
 * `deno compile` nor `deno info` puts DuckDB into pwalk's static graph.
 *
 * Every session is bounded: `memory_limit` (default a quarter of the
 * machine's memory, or of the process's cgroup memory limit when smaller,
 * at most 8 GiB: {@link defaultMemoryLimit}) and a private `temp_directory` where
 * DuckDB spills sorts, joins and aggregates that do not fit, removed on
 * close.
 *
 * @module
 */
import { readProcFile } from "../procfs.ts";
import { interrupted, removeOnInterrupt } from "../interrupt.ts";
import { untrustedAncestor } from "../trust.ts";
import { aliveHere } from "../outfile.ts";
import { checkFunctions, checkInt, type OptionNames, typed } from "../options.ts";
import { memorySize } from "../digits.ts";
import { oneLine } from "../utf8.ts";

/** The pinned DuckDB client (deno.json maps "@duckdb/node-api" to the same version). */
export const DUCKDB_SPECIFIER = "npm:@duckdb/node-api@1.5.6-r.1";

/** The names of {@link EngineOptions} and {@link StageOptions}. */
export const ENGINE_OPTIONS: OptionNames<EngineOptions & StageOptions> = {
  memoryLimit: true,
  tempDirectory: true,
  threads: true,
  onLeftoverRemoved: true,
  onStage: true,
  signal: true,
};

/**
 * The options of a DuckDB session (and `onStage`) checked before any work,
 * with pwalk's messages (DuckDB would say "Failed to set config" of a
 * memoryLimit it cannot read; threads 0 would be dropped silently):
 * threads an integer from 1 to 1024, memoryLimit a size such as "4GB"
 * (a number, then KB, MB, GB or TB, or KiB...TiB; 1 byte or more: DuckDB
 * takes "0KB" and fails at its first allocation), tempDirectory a
 * non-empty string, the callbacks functions.
 */
export function checkEngineOptions(o: EngineOptions & StageOptions): void {
  if (o.threads !== undefined) checkInt("threads", o.threads, 1, 1024);
  const m: unknown = o.memoryLimit;
  if (m !== undefined && typeof m !== "string") {
    throw new TypeError(`pwalk: memoryLimit must be a size such as "4GB", got ${typed(m)}`);
  }
  if (m !== undefined && memorySize(m) === undefined) {
    throw new RangeError(
      `pwalk: memoryLimit must be a size such as "4GB" (1 byte or more, below 8 EiB), got ${
        JSON.stringify(m)
      }`,
    );
  }
  const t: unknown = o.tempDirectory;
  if (t !== undefined && (typeof t !== "string" || t === "")) {
    throw new TypeError(`pwalk: tempDirectory must be a folder's path, got ${typed(t)}`);
  }
  checkFunctions(o, ["onLeftoverRemoved", "onStage"]);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`pwalk: signal must be an AbortSignal, got ${typed(o.signal)}`);
  }
}

/**
 * `work()`'s result; once `signal` aborted, whatever `work` rejects with
 * (DuckDB's interrupted query, a scan's name put before it, a clean-up's
 * error) is the signal's reason instead: summarize, diff and convert reject
 * as walk and report do. A result `work` gives is returned even when the
 * signal aborted meanwhile (at the engine's close): the answer is whole.
 */
export async function cancellable<T>(
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
}

/** Options of a DuckDB session. */
export interface EngineOptions {
  /**
   * DuckDB's memory_limit, e.g. "2GB" (a number, then KB, MB, GB or TB, or KiB...TiB). Default: 25% of RAM (or of the
   * process's cgroup memory limit when smaller), at least 256 MiB (but at
   * most half of a smaller limit), at most 8 GiB.
   */
  memoryLimit?: string;
  /**
   * Parent folder of the spill folder. Default: the system's temporary
   * folder ($TMPDIR, else /tmp). Either must pass the journal's rule (see
   * {@link spillParent}): each folder on its path owned by root or the
   * runner, and not writable by group or others unless sticky (`/tmp` is
   * fine; a 0777 folder is not); else a RangeError for `tempDirectory` (an
   * Error for $TMPDIR).
   */
  tempDirectory?: string;
  /** DuckDB worker threads, 1 to 1024. Default: DuckDB's (one per CPU). */
  threads?: number;
  /**
   * Told each temporary of a run on this host that was killed before its
   * end (SIGKILL, the OOM killer: no cleanup ran) as it is removed, when a
   * session starts: a spill folder `pwalk-duckdb-HOST-PID-*` or convert's
   * `.pwalk-convert-HOST-PID-*` in the spill folder's parent whose process
   * is gone (see {@link removeDeadSpills}).
   */
  onLeftoverRemoved?: (path: string) => void;
  /**
   * Cancels the work: DuckDB's query is interrupted, the spill folder and
   * any output being made are removed, and the call rejects with the
   * signal's reason (already aborted: before any work). An abort that
   * comes once the answer is whole (summarize's and diff's every query and
   * name lookup done; convert's output in its place), while the engine
   * closes and its spill folder is removed, cancels nothing: the call
   * resolves with that answer (the spill folder removed all the same), as
   * the caller would have it had the abort come a moment later; check
   * `signal.aborted` to tell. Default: none.
   */
  signal?: AbortSignal;
}

/**
 * A stage of the work of `summarize`, `diff` or `convert` (answers),
 * told to {@link StageOptions.onStage} as it begins: what a progress line
 * shows while DuckDB works (minutes on a scan of hundreds of millions of
 * rows), e.g. `{ step: "reading", name: "/data/scan.csv.zst" }`, then
 * `{ step: "users, groups, sizes, ages" }`.
 */
export interface Stage {
  /**
   * What is being done: "reading" (summary, convert), "reading OLD",
   * "reading NEW", "comparing" (diff), "users, groups, sizes, ages",
   * "folders, files" (summary), "user and group names" (summary, diff),
   * "writing" (convert).
   */
  step: string;
  /**
   * The scan being read or the output being written, as given (several
   * joined by ", "); absent for a step over what is already read.
   */
  name?: string;
}

/** The progress side of the options of summarize, diff and convert. */
export interface StageOptions {
  /**
   * Called with each {@link Stage} as it begins (a stage may be told again,
   * as when a scan is read a second time through the filter for names that
   * are not UTF-8). Whatever it throws is ignored. Default: none.
   */
  onStage?: (stage: Stage) => void;
}

/** Tell `o.onStage` (if any) that `step` begins, on `name` when given. */
export function tellStage(o: StageOptions, step: string, name?: readonly string[] | string): void {
  if (!o.onStage) return;
  try {
    o.onStage(name === undefined ? { step } : { step, name: [name].flat().join(", ") });
  } catch {
    // a progress display that failed: the work goes on
  }
}

// The few parts of @duckdb/node-api used here (the module itself is imported dynamically).
interface Reader {
  getRowObjectsJS(): Record<string, unknown>[];
}
interface Connection {
  run(sql: string): Promise<unknown>;
  runAndReadAll(sql: string): Promise<Reader>;
  closeSync(): void;
  interrupt(): void;
}
interface Instance {
  connect(): Promise<Connection>;
  closeSync(): void;
}
interface DuckModule {
  DuckDBInstance: { create(path: string, options: Record<string, string>): Promise<Instance> };
}

let duckModule: Promise<DuckModule> | undefined;

/** Import DuckDB once (dynamically). */
export function loadDuckDB(): Promise<DuckModule> {
  const spec = [DUCKDB_SPECIFIER][0]; // not a literal: kept out of the static graph
  duckModule ??= (import(spec) as Promise<DuckModule>).catch((e) => {
    duckModule = undefined;
    throw new Error(
      `pwalk: DuckDB (${DUCKDB_SPECIFIER}) could not be loaded: ${(e as Error).message}. ` +
        "summary, diff and convert need it: run pwalk with `deno run -A` (a compiled pwalk " +
        "binary does not embed DuckDB)",
    );
  });
  return duckModule;
}

/**
 * Read a text file, or undefined when it cannot be (missing, not allowed):
 * /proc and /sys through the C library where Deno refuses them (not under
 * --allow-all), or a Slurm job's --mem would go unseen.
 */
function readText(path: string): string | undefined {
  try {
    const bytes = readProcFile(path);
    return bytes && new TextDecoder().decode(bytes);
  } catch {
    return undefined;
  }
}

/** The mount point and root of a cgroup hierarchy, as /proc/self/mountinfo shows it. */
interface CgroupMount {
  /** Where it is mounted. */
  point: string;
  /** The cgroup shown at the mount point ("/", or a cgroup below the top). */
  root: string;
}

/** mountinfo's field with its \NNN escapes (space, tab, newline, backslash) decoded. */
function mountField(s: string): string {
  return s.replace(/\\([0-3][0-7]{2})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** How much of the cgroup path `cg` a mount of cgroup `root` covers: its length, or -1. */
function covers(root: string, cg: string): number {
  if (root === "/") return 0;
  return cg === root || cg.startsWith(`${root}/`) ? root.length : -1;
}

/**
 * The mount of the hierarchy with the memory controller (v2: a cgroup2
 * mount; v1: a cgroup mount with the memory option): of several, the one
 * whose root holds `cg` most closely; of none that holds it (a cgroup
 * namespace's view), the first. As native/sys.c finds the cpu controller's.
 */
function memoryMount(mountinfo: string, v2: boolean, cg: string): CgroupMount | undefined {
  let best: CgroupMount | undefined, most = -2;
  for (const line of mountinfo.split("\n")) {
    // id parent maj:min ROOT MOUNTPOINT options [optional...] - FSTYPE SOURCE SUPEROPTS
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const [fstype, , superOpts = ""] = right.split(" ");
    if (
      v2 ? fstype !== "cgroup2" : fstype !== "cgroup" || !superOpts.split(",").includes("memory")
    ) {
      continue;
    }
    const f = left.split(" ");
    if (f.length < 5) continue;
    const m = { root: mountField(f[3]), point: mountField(f[4]) };
    const c = covers(m.root, cg);
    if (c > most || (most === -2 && c === -1)) [best, most] = [m, c];
  }
  return best;
}

/**
 * The memory limit of this process's cgroups in bytes, the smallest along
 * each hierarchy's folders from its own cgroup up to the mount (cgroup v2:
 * `memory.max`, "max" for none; v1: `memory.limit_in_bytes`, about 2^63
 * for none), or undefined when none is set or none can be read. `prefix` is where /proc and the
 * cgroup mounts are: "" but in tests, which build a fake tree.
 *
 * @example
 * ```ts ignore
 * cgroupMemoryLimit(); // 4294967296 in a Slurm job given --mem=4G
 * ```
 */
export function cgroupMemoryLimit(prefix = ""): number | undefined {
  const cgroups = readText(`${prefix}/proc/self/cgroup`);
  const mountinfo = readText(`${prefix}/proc/self/mountinfo`);
  if (cgroups === undefined || mountinfo === undefined) return undefined;
  let least: number | undefined;
  for (const line of cgroups.split("\n")) {
    // "0::/path" (v2), "N:memory:/path" (v1)
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const v2 = m[1] === "0" && m[2] === "";
    if (!v2 && !m[2].split(",").includes("memory")) continue;
    const mount = memoryMount(mountinfo, v2, m[3]);
    if (!mount) continue;
    let cg = m[3];
    const skip = covers(mount.root, cg);
    if (skip > 0) cg = cg.slice(skip); // a mount of a cgroup below the top: relative to it
    if (cg.includes("/..")) continue; // outside what the mount shows
    const base = `${prefix}${mount.point}`.replace(/\/+$/, "");
    for (let dir = base + (cg === "/" ? "" : cg);; dir = dir.slice(0, dir.lastIndexOf("/"))) {
      const text = readText(`${dir}/${v2 ? "memory.max" : "memory.limit_in_bytes"}`)?.trim();
      // (v1's "no limit" is 2^63 - 1 rounded down to a page: none either)
      const limit = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
      if (limit < 2 ** 62 && (least === undefined || limit < least)) least = limit;
      if (dir.length <= base.length) break;
    }
  }
  return least;
}

/**
 * DuckDB's memory limit when none is given: a quarter of the memory this
 * process may use (the machine's, or its cgroup's limit when smaller: a
 * Slurm job's, a container's), at least 256 MiB and at most 8 GiB; but
 * never more than half of what it may use: in a job limited to 300 MiB a
 * floor of 256 MiB for DuckDB alone, with Deno and the scan's reader
 * beside it, had the kernel kill the process rather than DuckDB spill.
 */
export function defaultMemoryLimit(): string {
  let total = 8 * 2 ** 30;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch {
    // not allowed or not known: keep 8 GiB as the machine's size
  }
  total = Math.min(total, cgroupMemoryLimit() ?? Infinity);
  const quarter = Math.floor(total / 4 / 2 ** 20), half = Math.floor(total / 2 / 2 ** 20);
  const mib = Math.min(8 * 1024, Math.max(quarter, Math.min(256, half)));
  return `${mib}MiB`;
}

/**
 * DuckDB's spill folder ran out of room (its `max_temp_directory_size`,
 * which is the free space of its disk when the session starts, or the disk
 * itself): the folder's and the limits' fault, not a scan's, so the
 * message names the folder, not the scan read at the time (see
 * `namingScans`, which leaves it as it is).
 */
export class SpillFullError extends Error {
  /** "SpillFullError". */
  override name = "SpillFullError";
}

/**
 * DuckDB could not hold what a query needs within its memory limit (its
 * "Out of Memory Error: could not allocate block ..." that no spilling
 * avoids): the limit's fault, not a scan's, so the message names the
 * limit and the option, not the scan read at the time.
 */
export class MemoryLimitError extends Error {
  /** "MemoryLimitError". */
  override name = "MemoryLimitError";
}

/** A value from DuckDB as a JavaScript number (BIGINT/HUGEINT sums included). */
export function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : Number(v);
}

/**
 * A glob pattern that matches exactly the absolute path `path` (DuckDB
 * globs a path that holds `*`, `?` or `[`): each of them as a bracket
 * class (`[[]`, `[*]`, `[?]`). (A backslash in such a path would still be
 * taken as a folder's end: {@link Engine.readable} gives a link instead.)
 */
export function patternOf(path: string): string {
  return path.replace(/[[*?]/g, "[$&]");
}

/**
 * A name DuckDB would take for a remote or special location rather than
 * the local file it names: one that starts with what reads as a URL's
 * scheme and a colon (`s3://b/x.csv`, `https://...`, `hf://...`, and
 * `file:/x.csv`, which DuckDB reads as `/x.csv`), or with `~` ($HOME).
 */
function notLocal(path: string): boolean {
  return path.startsWith("~") || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(path);
}

/**
 * A path DuckDB writes (COPY TO) as the file it names: DuckDB takes a
 * leading `~` as $HOME and a name such as `s3://b/o.csv` as a bucket's
 * (it globs no path it writes), so those are given as `./NAME`.
 */
export function writable(path: string): string {
  return notLocal(path) ? `./${path}` : path;
}

/** A SQL string literal. */
export function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * The error for `what` (a spill folder, a temporary file) that could not be
 * made in {@link spillParent}'s folder: naming the folder and the option
 * (Deno's message names neither); a RangeError (bad usage) for --temp-dir.
 */
export function spillError(o: EngineOptions, e: unknown, what: string): Error {
  const why = (e as Error).message.replace(/ \(os error \d+\).*$/s, "").replace(/:.*$/s, "");
  if (o.tempDirectory === undefined) {
    let env: string | undefined;
    try {
      env = Deno.env.get("TMPDIR") || undefined;
    } catch { /* no --allow-env: the system's default */ }
    // the folder named (a batch job's TMPDIR of a node-local folder not
    // made on this node: "$TMPDIR (or /tmp)" left it to guess)
    return new Error(
      `pwalk: cannot make ${oneLine(what)} in ${
        env ? `${oneLine(env)} ($TMPDIR)` : "/tmp"
      }: ${why}`,
    );
  }
  return new RangeError(
    `pwalk: --temp-dir ${oneLine(o.tempDirectory)}: cannot make ${oneLine(what)}: ${why}`,
  );
}

/**
 * The folder the spill folder (and convert's temporary for a device or
 * FIFO) is made in: `o.tempDirectory`, else $TMPDIR, else /tmp, checked
 * as the journal's folder is ({@link untrustedAncestor}): each folder on
 * the way owned by root or the runner and not writable by group or others
 * unless sticky. DuckDB writes in it by name; in a folder another user can
 * change she could move root's spill folder aside and put hers there, with
 * a link where DuckDB writes. Refused: a RangeError for `--temp-dir`, an
 * Error for $TMPDIR, naming the folder and the fix.
 */
export function spillParent(o: EngineOptions = {}): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("TMPDIR") || undefined;
  } catch { /* no --allow-env: the system's default */ }
  const dir = o.tempDirectory ?? env ?? "/tmp";
  const why = untrustedAncestor(dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`);
  if (why === undefined) return dir;
  if (o.tempDirectory !== undefined) {
    throw new RangeError(
      `pwalk: --temp-dir ${oneLine(dir)}: others can change it (${
        oneLine(why)
      }): give a folder of yours`,
    );
  }
  throw new Error(
    `pwalk: DuckDB's spill folder would go in ${oneLine(dir)}${
      env ? " ($TMPDIR)" : ""
    }, which others can change (${oneLine(why)}): ` +
      "set TMPDIR or --temp-dir to a folder of yours",
  );
}

/** This host's name as temporaries' names carry it: letters, digits, `.` and `_` only. */
function hostTag(): string {
  try {
    return Deno.hostname().replace(/[^A-Za-z0-9._]/g, "_") || "host";
  } catch {
    return "host"; // (no --allow-sys)
  }
}

/**
 * The start of the name of a temporary of this run in the spill folder's
 * parent (`pwalk-duckdb`: the spill folder; `.pwalk-convert`: convert's
 * output for a device or FIFO): `KIND-HOST-PID-`, so that a later run on
 * this host can tell that its process is gone ({@link removeDeadSpills}).
 */
export function spillPrefix(kind: "pwalk-duckdb" | ".pwalk-convert"): string {
  return `${kind}-${hostTag()}-${Deno.pid}-`;
}

const SPILL_NAME = /^(pwalk-duckdb|\.pwalk-convert)-([A-Za-z0-9._]+)-(\d+)-[^\/-]+$/;

/**
 * Remove from `dir` (a spill folder's parent) the temporaries
 * ({@link spillPrefix}) of runs on this host whose process is no longer
 * alive: a run killed outright (SIGKILL, the OOM killer) leaves its spill
 * folder, which may hold a large staged body. Those of other hosts (a
 * shared folder), of live processes and of other users (root's run too
 * leaves them) are kept. Returns the paths removed.
 */
export async function removeDeadSpills(dir: string): Promise<string[]> {
  const host = hostTag(), removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = SPILL_NAME.exec(e.name);
      if (!m || m[2] !== host || aliveHere(Number(m[3]))) continue;
      if (m[1] === "pwalk-duckdb" ? !e.isDirectory : !e.isFile) continue;
      const path = `${dir === "/" ? "" : dir.replace(/\/+$/, "")}/${e.name}`;
      try {
        // only the running user's own (root in a shared /tmp too)
        if ((await Deno.lstat(path)).uid !== Deno.uid()) continue;
        await Deno.remove(path, { recursive: true });
        removed.push(path);
      } catch { /* gone already, or not ours to remove: left */ }
    }
  } catch { /* the folder cannot be listed: nothing to tidy */ }
  return removed;
}

/** One DuckDB database in memory, with bounded memory and its own spill folder. */
export class Engine {
  #db: Instance;
  #con: Connection;
  /** The spill folder (removed by close). */
  readonly tempDir: string;
  /** Stop removing the spill folder on an interruption (close removes it). */
  #forget: () => void;
  /** The options the session was opened with. */
  #options: EngineOptions;
  /** Its memory_limit. */
  #memoryLimit: string;
  /** The links {@link readable} made: the file's path as given -> the link's. */
  #links = new Map<string, string>();
  /** The other way: the link's path -> the file's as given. */
  #linked = new Map<string, string>();

  private constructor(
    db: Instance,
    con: Connection,
    tempDir: string,
    forget: () => void,
    options: EngineOptions,
    memoryLimit: string,
  ) {
    this.#db = db;
    this.#con = con;
    this.tempDir = tempDir;
    this.#forget = forget;
    this.#options = options;
    this.#memoryLimit = memoryLimit;
  }

  /**
   * DuckDB's error `err`, or a {@link SpillFullError} when it says that the
   * spill folder is full: "failed to offload data block ... set by the
   * 'max_temp_directory_size' setting", or a write there that failed for
   * want of space; a {@link MemoryLimitError} for any other "Out of Memory
   * Error".
   */
  #told(err: unknown): unknown {
    if (this.#linked.size && err instanceof Error) {
      // (a file read through a link of readable's is named as it was given)
      for (const [link, path] of this.#linked) err.message = err.message.replaceAll(link, path);
    }
    const msg = String((err as Error)?.message ?? err);
    const limit = msg.includes(this.tempDir) && /File too large/.test(msg);
    const full = /failed to offload data block|max_temp_directory_size/.test(msg) || limit ||
      (msg.includes(this.tempDir) && /No space left on device|Disk quota exceeded/.test(msg));
    // convert's OUT made there first (its folder others can write to)
    const staged = [`${this.tempDir}/body.csv`, `${this.tempDir}/out.parquet`].some((p) =>
      msg.includes(p)
    );
    if (!full && /^Out of Memory Error: /m.test(msg)) {
      const what = msg.match(/^Out of Memory Error: ([^\n]*)/m)![1];
      return new MemoryLimitError(
        `pwalk: DuckDB ran out of memory within its limit of ${this.#memoryLimit} (${what}): ` +
          "give a larger --memory-limit",
        { cause: err },
      );
    }
    if (!full) return err;
    const where = this.#options.tempDirectory === undefined
      ? `${this.tempDir.slice(0, this.tempDir.lastIndexOf("/")) || "/"} ($TMPDIR, or /tmp)`
      : `--temp-dir ${this.#options.tempDirectory}`;
    if (limit && staged) {
      return new SpillFullError(
        `pwalk: DuckDB's spill folder in ${where}: the output, made there first (its folder is ` +
          "one others can write to), grew past the file size limit (ulimit -f): raise it",
        { cause: err },
      );
    }
    if (limit) {
      return new SpillFullError(
        `pwalk: DuckDB's spill folder in ${where}: a file there grew past the file size limit ` +
          "(ulimit -f): raise it, or give a larger --memory-limit",
        { cause: err },
      );
    }
    return new SpillFullError(
      staged
        ? `pwalk: DuckDB's spill folder in ${where} ran out of space for the output, made ` +
          "there first (its folder is one others can write to): give --temp-dir a folder on a " +
          "disk with room for it"
        : `pwalk: DuckDB's spill folder in ${where} ran out of space (memory limit ` +
          `${this.#memoryLimit}): give --temp-dir a folder on a larger disk, or a larger ` +
          "--memory-limit",
      { cause: err },
    );
  }

  /** Start a session. */
  static async open(o: EngineOptions = {}): Promise<Engine> {
    checkEngineOptions(o);
    o.signal?.throwIfAborted();
    const dir = spillParent(o);
    const { DuckDBInstance } = await loadDuckDB();
    o.signal?.throwIfAborted();
    for (const p of await removeDeadSpills(dir)) o.onLeftoverRemoved?.(p);
    let tempDir: string;
    let forget: () => void;
    try {
      // an interrupt's clean-up ran: none made now, it would be left
      if (interrupted()) throw new Deno.errors.Interrupted("Interrupted");
      // made and registered in one synchronous step: a signal's handler,
      // which runs between steps, finds it registered or not made
      tempDir = Deno.makeTempDirSync({ dir, prefix: spillPrefix("pwalk-duckdb") });
      forget = removeOnInterrupt(tempDir, false);
      // absolute: DuckDB takes a path that starts with '~' as one in $HOME
      if (!tempDir.startsWith("/")) tempDir = `${Deno.cwd()}/${tempDir}`;
    } catch (e) {
      if (e instanceof Deno.errors.Interrupted) throw e;
      throw spillError(o, e, "DuckDB's spill folder");
    }
    const memoryLimit = o.memoryLimit ?? defaultMemoryLimit();
    const options: Record<string, string> = {
      memory_limit: memoryLimit,
      temp_directory: tempDir,
      preserve_insertion_order: "false",
      // never fetch or load an extension on DuckDB's own initiative (httpfs
      // for a name that reads as a URL): what pwalk uses (CSV, Parquet,
      // JSON, zstd, gzip) is built in
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    };
    if (o.threads) options.threads = String(o.threads);
    try {
      const db = await DuckDBInstance.create(":memory:", options);
      return new Engine(db, await db.connect(), tempDir, forget, o, memoryLimit);
    } catch (e) {
      await Deno.remove(tempDir, { recursive: true }).catch(() => {});
      forget();
      throw e;
    }
  }

  /**
   * The path to give DuckDB's readers (read_csv, read_parquet,
   * parquet_schema) so that they read the file `path` and only it: DuckDB
   * takes a path as a glob pattern when it holds `*`, `?` or `[` (then
   * `scan[1].csv` reads scan1.csv, `st*r.csv` every file it matches, and
   * the name itself only when nothing matches), a leading `~` as $HOME,
   * and a name that starts like a URL (`s3://b/x.csv`, `https://...`,
   * `file:/x.csv`) as a remote or other file. Such a path is given as a
   * link of a plain name in the spill folder (a pattern cannot name every
   * file: DuckDB's splits it at a backslash too); the messages of {@link exec} and {@link all}, and
   * {@link given}, name it as `path` again.
   */
  async readable(path: string): Promise<string> {
    if (!/[*?[]/.test(path) && !notLocal(path)) return path;
    let link = this.#links.get(path);
    if (link === undefined) {
      link = `${this.tempDir}/file-${this.#links.size}.link`;
      await Deno.symlink(path.startsWith("/") ? path : `${Deno.cwd()}/${path}`, link);
      this.#links.set(path, link);
      this.#linked.set(link, path);
    }
    return patternOf(link);
  }

  /**
   * The path as given to {@link readable} of a file that DuckDB names
   * `name` (parquet_schema's file_name, read_parquet's filename column).
   */
  given(name: string): string {
    return this.#linked.get(name) ?? name;
  }

  /**
   * Run statements that return nothing of interest.
   *
   * @throws {SpillFullError} when the spill folder ran out of space
   */
  async exec(sql: string): Promise<void> {
    await this.#run(() => this.#con.run(sql));
  }

  /**
   * Run a query and return its rows as objects.
   *
   * @throws {SpillFullError} when the spill folder ran out of space
   */
  async all(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.#run(() => this.#con.runAndReadAll(sql))).getRowObjectsJS();
  }

  /**
   * `query()`'s result; its error as {@link #told} tells it, or the
   * signal's reason once the signal aborted (before the query, or while it
   * runs: DuckDB interrupts it then).
   */
  async #run<T>(query: () => Promise<T>): Promise<T> {
    const signal = this.#options.signal;
    signal?.throwIfAborted();
    const onAbort = () => this.#con.interrupt();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await query();
    } catch (err) {
      signal?.throwIfAborted();
      throw this.#told(err);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Close the database and remove the spill folder. */
  async close(): Promise<void> {
    try {
      this.#con.closeSync();
      this.#db.closeSync();
    } finally {
      await Deno.remove(this.tempDir, { recursive: true }).catch(() => {});
      this.#forget();
    }
  }
}
