/**
 * Options shared by every pwalk job (report, walk, repair), their defaults
 * and their translation into native options.
 *
 * @module
 */
import { Opt } from "./ffi.ts";
import type { NativeOption, Progress } from "./job.ts";
import { resolveExcludeBytes, resolveExcludes } from "./exclude.ts";
import { oneLine } from "./utf8.ts";

/**
 * A folder of the tree a shard walks instead of the root (see
 * {@link CommonOptions.frontier}): where it is and what a whole run would
 * print for it.
 */
export interface FrontierFolder {
  /** Its path, as a whole run would print it (the root as given, then names). */
  path: string | Uint8Array;
  /**
   * Device it had when planned. Checked for form only: the folder at the
   * path now is walked, another one too (as a whole run would walk it),
   * and its row has its device and inode now.
   */
  dev: number | bigint;
  /** Inode number it had when planned (checked for form only, as `dev`). */
  ino: number | bigint;
  /**
   * Inode of the folder holding it when planned (checked for form only: its
   * row's parent-inode is that of the folder holding it now).
   */
  parentIno: number | bigint;
  /** Its row's directory-depth (pwalk's: the root -1, its folders 0, ...). */
  depth: number;
}

/** Options every job understands. */
export interface CommonOptions {
  /**
   * Worker threads, all reading folders. Default: 64 workers of which one
   * per CPU read at first; every 10 ms the library looks at what they do
   * and lets more read while folders wait and either the readers leave the
   * CPUs idle, blocked in the file system (NFS, Lustre, GPFS: up to 64),
   * or they make the kernel read the disk (a cold cache: up to 32), and
   * fewer again once the CPUs are saturated with nothing read from disk.
   * On a warm local disk extra readers only cost; on a latency-bound file
   * system or a cold disk they are 2-2.5x faster than 4.
   */
  threads?: number;
  /** Skip folders named exactly `.snapshot` (pwalk `--NoSnap`). Default false. */
  noSnap?: boolean;
  /**
   * pwalk's `--depth N`: folders whose directory-depth column would be N or
   * more (the root's folders are 0) get no row and are not entered; the
   * files beside them still get theirs. 0 (the default) means unlimited.
   * (Not @std/fs walk's `maxDepth`, which {@link walk} takes: a different
   * rule, hence a different name.)
   */
  pwalkDepth?: number;
  /**
   * Folders to skip, with everything below them (pwalk `--exclude`): any
   * spelling of the folder (absolute under a relative root, `./x`, `x/`;
   * lib/exclude.ts resolveExcludes), or its path's bytes when it is not
   * UTF-8, spelled any of those ways too (resolveExcludeBytes). A relative
   * path is looked up from the current folder (`Deno.cwd()`), not from the
   * root, as the CLI's `--exclude`: `exclude: ["a"]` with root `/data` is
   * `./a`, not `/data/a`. A path that names no folder the walk enters
   * excludes nothing, silently; {@link unmatchedExcludes} lists those (the
   * CLI warns of them). One naming the root itself is a RangeError, as the
   * CLI's `--exclude ROOT` is refused: the walker tests excludes below the
   * root only.
   */
  exclude?: (string | Uint8Array)[];
  /**
   * Stay on the root's file system (pwalk `-x`): a folder or file on another
   * device than the root's is left out, and nothing below such a folder is
   * walked (a mount point, which find -xdev lists, is left out too, as
   * pwalk leaves it); but an entry other than a folder in an overlayfs
   * folder, which reports its layer's device (or another, bind-mounted
   * onto it), is kept, as find -xdev keeps it. Default false.
   */
  oneFileSystem?: boolean;
  /**
   * Walk these folders below the root instead of the root (one shard of a
   * planned scan): each gets the row, and its contents the rows, a whole run
   * of the root would give them; the root itself gets no row. The root
   * still sets `oneFileSystem`'s device: with it, a folder on another device,
   * or one whose path crosses another device on the way (a mount above it),
   * is left out, with no row and no error, as a whole run leaves it out.
   * Default: walk the root; an empty array, which names no folder, is a
   * RangeError.
   */
  frontier?: FrontierFolder[];
  /**
   * Cancels the job: it stops promptly and rejects with the signal's
   * reason. A worker blocked in a file system call that does not return
   * (a hung NFS or FUSE server) cannot be interrupted: a walk or a report
   * still rejects (after 1 s; a report's temporary output removed) and is
   * freed in the background once the call returns (the process may not
   * exit before); given `errorsCsvFd`, which that worker may still write
   * to, it waits for it, as a repair or chown always does.
   */
  signal?: AbortSignal;
  /**
   * Called about every `progressIntervalMs` while the job runs, and once at
   * the end when the job ends, done or cancelled; a job that fails (a
   * fatal error: a root that does not exist, an output that cannot be
   * written or whose disk fills up) rejects without that last call. If it throws, the job is cancelled and rejects
   * with what it threw (a report's partial output removed). The call at
   * the end comes once the job has ended and a report's output is in
   * place: a throw from it rejects too, and that output stays (as does one
   * from a periodic call that comes as the job ends, too late to cancel it).
   */
  onProgress?: (progress: Progress) => void;
  /** Milliseconds between progress calls. Default 200. Infinity: only the call at the end. */
  progressIntervalMs?: number;
  /** How many error details to keep in the summary. Default 100. */
  maxErrors?: number;
  /**
   * An open file descriptor, one the process inherited (Deno's `FsFile`
   * gives no number): `3` of `deno run -A scan.ts 3>errors.csv`. It gets
   * every error of the job as one CSV row, however many there are:
   * `"path",operation,errno,"message"`, with `"` doubled inside quotes and
   * the path's bytes as they are; errno is its name (`EACCES`, else
   * `E<number>`). No header: write `path,operation,errno,message` first.
   * The CLI's `--errors FILE`. The job writes to it until it settled (a
   * walk: until its loop is left), also after an abort while a worker
   * hangs in a file system (see `signal`): close it only then. Default: none.
   *
   * @example Not run as a test: it needs descriptor 3 from the shell
   * ```ts ignore
   * // run as `deno run -A scan.ts 3>errors.csv` (rows only: no header)
   * await report("/data", { output: "scan.csv", errorsCsvFd: 3 });
   * ```
   */
  errorsCsvFd?: number;
  /**
   * Open file descriptors (up to 8) of files that are no rows of the walk,
   * wherever they lie in the tree (by device and inode): a sharded scan's
   * temporary parts. Default: none (the output and the error file are left
   * out anyway).
   */
  skipFds?: number[];
  /**
   * Paths (up to 8) of regular files that are no rows of the walk, by that
   * name only: files the caller will replace when the walk is done (the
   * CLI's `--errors FILE`, written beside it and renamed over it). Other
   * hard-linked names of such a file stay rows. Default: none (the file
   * `output` replaces is left out anyway).
   */
  skipPaths?: string[];
}

/**
 * A value of the wrong type as a message shows it: as given (a string
 * quoted), then its type: `"2" (a string)`.
 */
export function typed(v: unknown): string {
  const shown = typeof v === "string" ? JSON.stringify(v) : String(v);
  return `${shown} (${/^[aeiou]/.test(typeof v) ? "an" : "a"} ${typeof v})`;
}

/** The most worker threads a run takes (`threads`, `--threads`, `--maxthreads`). */
export const MAX_THREADS = 1024;

/**
 * An integer option in [min, max], else a RangeError naming it:
 * `checkInt("threads", 0, 1, 1024)` throws "pwalk: threads must be an
 * integer from 1 to 1024, got 0".
 */
export function checkInt(name: string, v: number, min: number, max: number): number {
  if (typeof v !== "number") {
    throw new TypeError(`pwalk: ${name} must be an integer from ${min} to ${max}, got ${typed(v)}`);
  }
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`pwalk: ${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
  return v;
}

/**
 * A boolean option, else a TypeError naming it (undefined: the default):
 * `checkBool("apply", "false")` throws 'pwalk: apply must be true or
 * false, got "false" (a string)' (a string "false" is truthy: taken as
 * given, it would turn the option on).
 */
export function checkBool(name: string, v: unknown): boolean | undefined {
  if (v !== undefined && typeof v !== "boolean") {
    throw new TypeError(`pwalk: ${name} must be true or false, got ${typed(v)}`);
  }
  return v;
}

/** {@link checkBool} for each of `names` in `o`. */
export function checkBools(o: object, names: readonly string[]): void {
  for (const k of names) checkBool(k, (o as Record<string, unknown>)[k]);
}

/**
 * Callback options: each of `names` in `o` a function or undefined, else a
 * TypeError naming it, checked before the job starts (called only once
 * the job runs, a value of another type would fail only after the work:
 * `onChange: "x"` after every change was made).
 */
export function checkFunctions(o: object, names: readonly string[]): void {
  for (const k of names) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== "function") {
      throw new TypeError(`pwalk: ${k} must be a function, got ${typed(v)}`);
    }
  }
}

/**
 * Every option name of an options interface `T`, each `true`: written as an
 * object literal typed `OptionNames<T>`, a list that lacks one of T's
 * names, or has one T lacks, does not type-check (the list the function
 * accepts stays the interface's).
 */
export type OptionNames<T> = Record<keyof T, true>;

/** The known name nearest `name` (a typo: case, or up to 2 edits), if any. */
function nearest(name: string, known: readonly string[]): string | undefined {
  // edits: a letter added, dropped or replaced, or two letters swapped
  // (one edit: "form" is one from "from", two from "force")
  const dist = (a: string, b: string) => {
    let before: number[] = [];
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) {
        cur[j] = Math.min(
          prev[j] + 1,
          cur[j - 1] + 1,
          prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          cur[j] = Math.min(cur[j], before[j - 2] + 1);
        }
      }
      [before, prev] = [prev, cur];
    }
    return prev[b.length];
  };
  const lower = name.toLowerCase();
  let best: string | undefined, bestD = 3;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : dist(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

/**
 * The options as given, without those that are null: `null` is no value,
 * the option's default, as `undefined` is (for every option of every
 * function alike: the checks, and walkDirs' refusal of walk()'s filters,
 * see undefined), and options of `null` are none. Anything but a plain
 * object is passed on as it is, for {@link checkOptionNames} to refuse.
 */
export function withoutNulls<T extends object>(o: T | null | undefined): T {
  if (o === null || o === undefined) return {} as T;
  if (typeof o !== "object" || Array.isArray(o) || !Object.values(o).includes(null)) return o;
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as T;
}

/**
 * The options object of `who` (a function's name), after {@link withoutNulls}:
 * undefined (none), else an object (null, an array or another value: a
 * TypeError) whose names are
 * all among `known` (made from an {@link OptionNames} literal), else a
 * TypeError naming the first other one, with the nearest known name:
 * `report("/x", { ouput: "scan.csv" })` throws 'pwalk: report: unknown
 * option "ouput" (did you mean "output"?)' rather than write to stdout. An
 * unknown name whose value is undefined asks for nothing and passes.
 */
export function checkOptionNames(
  who: string,
  o: unknown,
  known: OptionNames<unknown> | object,
): void {
  if (o === undefined) return;
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new TypeError(
      `pwalk: ${who}'s options must be an object, got ${
        o === null ? "null" : Array.isArray(o) ? "an array" : typed(o)
      }`,
    );
  }
  const names = Object.keys(known);
  for (const k of Object.keys(o)) {
    if (Object.hasOwn(known, k) || (o as Record<string, unknown>)[k] === undefined) continue;
    const near = nearest(k, names);
    throw new TypeError(
      `pwalk: ${who}: unknown option ${JSON.stringify(k)}` +
        (near ? ` (did you mean ${JSON.stringify(near)}?)` : ""),
    );
  }
}

/** The names of {@link CommonOptions}. */
export const COMMON_OPTIONS: OptionNames<CommonOptions> = {
  threads: true,
  noSnap: true,
  pwalkDepth: true,
  exclude: true,
  oneFileSystem: true,
  frontier: true,
  signal: true,
  onProgress: true,
  progressIntervalMs: true,
  maxErrors: true,
  errorsCsvFd: true,
  skipFds: true,
  skipPaths: true,
};

/**
 * A path option without a NUL byte (no path holds one: the system would cut
 * it there), else a RangeError naming the option: `checkNoNul("exclude",
 * "a\0b")` throws 'pwalk: exclude contains a NUL byte, which no path can
 * hold: "a\u0000b"'.
 */
export function checkNoNul<T extends string | Uint8Array>(name: string, p: T): T {
  if (typeof p === "string" ? p.includes("\0") : p.includes(0)) {
    const shown = typeof p === "string" ? p : new TextDecoder().decode(p);
    throw new RangeError(
      `pwalk: ${name} contains a NUL byte, which no path can hold: ${
        oneLine(JSON.stringify(shown))
      }`,
    );
  }
  return p;
}

/**
 * The root folder of a job as the API takes it: a non-empty string (else a
 * TypeError) without a NUL byte (else a RangeError, {@link checkNoNul}),
 * that Deno lets this process read (else Deno.errors.NotCapable, in Deno's
 * words, as @std/fs walk's first read would throw): the library reads
 * natively, past a scoped `--allow-read=/data/x`, so the scope is checked
 * here, for ROOT only: a `--deny-read` path below it, or a link followed
 * out of the grant, is not looked at (README, Deno API).
 */
export function checkRootPath(root: unknown): string {
  if (typeof root !== "string" || root.length === 0) {
    throw new TypeError("pwalk: the root folder must be a non-empty string");
  }
  checkNoNul("the root folder", root);
  if (Deno.permissions.querySync({ name: "read", path: root }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      `Requires read access to "${oneLine(root)}", run again with the --allow-read flag`,
    );
  }
  return root;
}

/**
 * Refuse an `exclude` that names the root folder itself, however spelled
 * (a RangeError, as the CLI refuses `--exclude ROOT`: nothing would be
 * walked): the walker tests the excludes against the folders below the root
 * only, so it would walk the very tree the caller meant to leave out (and
 * repair or chown would change it). Compared by device and inode, as the
 * CLI does: an exclude given as a string that is a folder (not a link to
 * one); one that cannot be looked at is left to the walk, as a root that
 * cannot be (the walk says what is wrong with it). For the API's entry
 * points, not for walkDirs' walk of a name the caller added (tested against
 * the excludes by its path before it starts).
 */
export function checkExcludeNotRoot(root: string, exclude: unknown): void {
  if (!Array.isArray(exclude) || exclude.length === 0) return;
  let r: Deno.FileInfo;
  try {
    r = Deno.statSync(root);
  } catch {
    return;
  }
  for (const p of exclude) {
    if (typeof p !== "string") continue;
    let e: Deno.FileInfo;
    try {
      e = Deno.lstatSync(p);
    } catch {
      continue;
    }
    if (e.isDirectory && e.dev === r.dev && e.ino === r.ino) {
      throw new RangeError(
        `pwalk: exclude ${oneLine(p)} is the root itself: nothing would be walked`,
      );
    }
  }
}

const isId = (v: unknown) =>
  (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
  (typeof v === "bigint" && v >= 0n);

/**
 * The frontier option checked for form, else a TypeError (not an internal one
 * later); an empty one, which names no folder, a RangeError (the walker,
 * given no frontier folder, walks the root: the whole tree, not nothing).
 */
function checkFrontier(frontier: unknown): FrontierFolder[] {
  if (frontier === undefined) return [];
  const ok = (f: unknown) => {
    if (typeof f !== "object" || f === null) return false;
    const x = f as Record<string, unknown>;
    return (typeof x.path === "string" || x.path instanceof Uint8Array) &&
      isId(x.dev) && isId(x.ino) && isId(x.parentIno) &&
      typeof x.depth === "number" && Number.isInteger(x.depth);
  };
  if (!Array.isArray(frontier) || !frontier.every(ok)) {
    throw new TypeError(
      "pwalk: frontier must be an array of { path, dev, ino, parentIno, depth } " +
        `(path a string or Uint8Array, the others integers), got ${
          Array.isArray(frontier) ? "an array with another item" : typed(frontier)
        }`,
    );
  }
  if (frontier.length === 0) {
    throw new RangeError(
      "pwalk: frontier is empty: it names no folder to walk (omit it to walk the root)",
    );
  }
  return frontier;
}

/** Exclude paths already in the walker's spelling: see {@link walkerSpelled}. */
const spelled = new WeakSet<Uint8Array>();

/**
 * Mark `paths` as already in the walker's spelling (a shard plan's frontier
 * folders and excludes, resolved when the plan was made): {@link excludeList}
 * passes them as they are. Resolved again, a link made since the plan could
 * name another folder through them (a frontier folder's parent renamed and
 * a link left in its place: the real folder, no longer reached by the
 * frontier's path, would be left out by the trunk too). Returns `paths`.
 */
export function walkerSpelled(paths: Uint8Array[]): Uint8Array[] {
  for (const p of paths) spelled.add(p);
  return paths;
}

/**
 * The exclude list as the walker compares it: each spelling of a folder
 * resolved into the walker's (lib/exclude.ts), a string by resolveExcludes,
 * bytes (names that are not UTF-8) by resolveExcludeBytes, so absolute,
 * `./x`, `x/` and relative spellings all exclude the same folder, as the
 * CLI's --exclude does; bytes marked {@link walkerSpelled} as they are.
 * Idempotent: spellings already resolved stay as they are.
 */
export function excludeList(root: string, exclude: readonly (string | Uint8Array)[] = []) {
  if (
    !Array.isArray(exclude) ||
    !exclude.every((e) => typeof e === "string" || e instanceof Uint8Array)
  ) {
    throw new TypeError("pwalk: exclude must be an array of paths (strings, or Uint8Array bytes)");
  }
  for (const e of exclude) checkNoNul("exclude", e);
  const strings = exclude.filter((e): e is string => typeof e === "string");
  const bytes = exclude.filter((e): e is Uint8Array => typeof e !== "string");
  const resolved = new Map<string, Uint8Array>();
  for (const b of bytes) {
    for (const r of spelled.has(b) ? [b] : resolveExcludeBytes(root, b)) resolved.set(r.join(), r);
  }
  return [...resolveExcludes(root, strings), ...resolved.values()];
}

/** The native options for the common fields, validated. */
export function commonNative(root: string, o: CommonOptions): NativeOption[] {
  checkRootPath(root);
  checkBools(o, ["noSnap", "oneFileSystem"]);
  const out: NativeOption[] = [[Opt.ROOT, root]];
  if (o.threads !== undefined) {
    out.push([Opt.THREADS, checkInt("threads", o.threads, 1, MAX_THREADS)]);
  }
  if (o.noSnap) out.push([Opt.NOSNAP, 1]);
  if (o.pwalkDepth !== undefined) {
    out.push([Opt.MAXDEPTH, checkInt("pwalkDepth", o.pwalkDepth, 0, 2 ** 31 - 1)]);
  }
  if (o.oneFileSystem) out.push([Opt.ONE_FS, 1]);
  for (const e of excludeList(root, o.exclude)) out.push([Opt.EXCLUDE, e]);
  const enc = new TextEncoder();
  for (const f of checkFrontier(o.frontier)) {
    const head = enc.encode(`${f.dev} ${f.ino} ${f.parentIno} ${f.depth} `);
    const path = checkNoNul("frontier", typeof f.path === "string" ? enc.encode(f.path) : f.path);
    const b = new Uint8Array(head.length + path.length);
    b.set(head);
    b.set(path, head.length);
    out.push([Opt.FRONTIER, b]);
  }
  out.push([Opt.MAX_ERRORS, checkInt("maxErrors", o.maxErrors ?? 100, 0, 1_000_000)]);
  if (o.errorsCsvFd !== undefined) {
    out.push([Opt.ERRORS_CSV_FD, checkInt("errorsCsvFd", o.errorsCsvFd, 0, 2 ** 31 - 1)]);
  }
  // an array each: a string would be taken character by character
  if (o.skipFds !== undefined && !Array.isArray(o.skipFds)) {
    throw new TypeError(
      `pwalk: skipFds must be an array of file descriptors, got ${typed(o.skipFds)}`,
    );
  }
  if (
    o.skipPaths !== undefined &&
    !(Array.isArray(o.skipPaths) && o.skipPaths.every((p) => typeof p === "string"))
  ) {
    throw new TypeError(
      `pwalk: skipPaths must be an array of paths (strings), got ${
        Array.isArray(o.skipPaths) ? "an array with another item" : typed(o.skipPaths)
      }`,
    );
  }
  if ((o.skipFds?.length ?? 0) > 8) throw new RangeError("pwalk: skipFds: at most 8");
  for (const fd of o.skipFds ?? []) {
    out.push([Opt.SKIP_FD, checkInt("skipFds", fd, 0, 2 ** 31 - 1)]);
  }
  if ((o.skipPaths?.length ?? 0) > 8) throw new RangeError("pwalk: skipPaths: at most 8");
  for (const p of o.skipPaths ?? []) {
    if (!p) throw new RangeError(`pwalk: skipPaths: not a path: ${JSON.stringify(p)}`);
    checkNoNul("skipPaths", p);
    out.push([Opt.SKIP_PATH, p]);
  }
  return out;
}
