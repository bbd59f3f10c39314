/**
 * walk() and walkDirs(): the parallel native walker as async iterators.
 *
 * The C workers fill binary batches; one `nonblocking` FFI call hands over
 * each full batch, decoded here in one pass (lib/decode.ts), or what the
 * workers have when none filled for 10 ms (a slow folder holds back no
 * entries read elsewhere).  A fixed pool of batches bounds memory: a slow
 * consumer makes the workers wait.
 *
 * @module
 */
import { normalize } from "node:path/posix";
import { native, Opt } from "./ffi.ts";
import { decodeDirsBatch, decodeEntries, type HeldAnswers, RecKind, WalkEntry } from "./decode.ts";
import { NativeJob, type NativeOption, type WalkError } from "./job.ts";
import {
  checkBools,
  checkExcludeNotRoot,
  checkInt,
  checkOptionNames,
  COMMON_OPTIONS,
  commonNative,
  type CommonOptions,
  excludeList,
  type OptionNames,
  typed,
  withoutNulls,
} from "./options.ts";
import { errnoText } from "./errno.ts";
import { realExcludes } from "./exclude.ts";
import { oneLine } from "./utf8.ts";

export { WalkEntry };

/**
 * Options of {@link walk} and {@link walkDirs} (after @std/fs walk's). An
 * option given as `null` is not given (its default), as `undefined`.
 * report()'s options that a walk has not (`onProgress`,
 * `progressIntervalMs`, `pwalkDepth`, `maxErrors`) are a TypeError at the
 * first `next()`, if given past the types.
 */
export interface WalkOptions
  extends Omit<CommonOptions, "pwalkDepth" | "onProgress" | "progressIntervalMs" | "maxErrors"> {
  /**
   * As in @std/fs walk: the root is depth 0, its entries depth 1, ...;
   * entries deeper than this are not yielded and folders at this depth are
   * not entered (their fcount is -1: never listed); 0 yields the root
   * alone, stat'ed only, as @std/fs walk does (never opened: a root that
   * cannot be listed is no error then). Below 0 nothing is yielded; a
   * fraction counts as the whole number below it (1.5 as 1), as @std/fs
   * reads it; NaN is a RangeError, a value that is no number a TypeError.
   * Default Infinity.
   */
  maxDepth?: number;
  /** Yield files (and everything that is not a folder or a link). Default true. */
  includeFiles?: boolean;
  /** Yield folders. Default true. */
  includeDirs?: boolean;
  /** Yield symbolic links. Default true. */
  includeSymlinks?: boolean;
  /** Yield only paths ending in one of these extensions ("ts" or ".ts"). */
  exts?: string[];
  /** Yield only paths matching one of these (tested as `skip`'s are; `[]` matches nothing, as in @std/fs). */
  match?: RegExp[];
  /**
   * Paths matching one of these are not yielded, and such folders are not
   * entered at all. (Folders are tested on the JavaScript thread as their
   * parent's listing arrives, and entered once answered; the names of a
   * large folder are then read by one worker, not shared among idle ones.)
   * Matched as @std/fs does, from the start of the path each time (also a
   * RegExp with the g flag; and with the y flag, where @std/fs's match
   * starts at the `lastIndex` the path before left and so passes every
   * other path); a frozen RegExp works too (a frozen /g or /y one through
   * a copy, where @std/fs throws setting its `lastIndex`). In walkDirs,
   * files `skip` matches are left out of `files` too. With `followSymlinks`, a link back to an
   * ancestor that `skip` names is skipped, not a "loop" error.
   */
  skip?: RegExp[];
  /**
   * Follow symbolic links: links to folders are entered (under the link's
   * path), links to files yield the target's facts (`isFile` true,
   * `isSymlink` false, where @std/fs keeps the link's own type), and a link
   * to nothing (ENOENT, ENOTDIR) is yielded as the link, with no error
   * (@std/fs throws NotFound from its realPath, ending its walk); a link
   * whose target cannot be reached for another reason (EACCES: a folder on
   * its way cannot be searched, ELOOP: a loop of links, EIO...) is yielded
   * as the link too, and is an error with op "stat" and that code (in
   * walkDirs, as in os.walk, it is a name in `files`, with no error). A folder reached by
   * several paths is walked under each, as @std/fs and os.walk walk it; a
   * link to a folder of its own path (by device and inode: a cycle) is not
   * entered: it is yielded as the folder it leads to, and is an error with
   * op "loop" (where @std/fs and os.walk go round until the path is too
   * long). Paths under a followed link: see `canonicalize`. Default false.
   */
  followSymlinks?: boolean;
  /**
   * As in @std/fs walk: with `followSymlinks`, a link followed is yielded
   * under its real path (`Deno.realPath`'s: absolute, every link on the way
   * resolved; `name` is its last name, where @std/fs keeps a link to a
   * file's own name) and its folder walked under it, so every path below it
   * is real too; `skip`, `match` and `exts` test those paths, as @std/fs's
   * do. Each `exclude` path, spelled any way, is then also resolved to its
   * real path (the folders above it resolved, its own name kept), so that
   * its folder stays out when reached through a link (an excluded link
   * stands for the folder it leads to there: that link is not followed,
   * while the folder, reached otherwise, is walked; bytes that are not
   * UTF-8 are not resolved so). A link whose real path cannot be had (that path longer than
   * PATH_MAX: ENAMETOOLONG; on Linux a link however deep is resolved from
   * its folder, elsewhere, or without /proc, the link's own path must fit
   * in PATH_MAX too) is yielded as the link, with a "stat" error. `false`:
   * paths under a followed link keep the link's path, at every depth, as the
   * docs of @std/fs say (its walk's recursion does not pass `canonicalize`
   * on: only links directly in the root keep their path there). Default
   * true; without `followSymlinks` it changes nothing.
   */
  canonicalize?: boolean;
  /**
   * Called for each error (unreadable folder, vanished entry); the walk goes
   * on. Without it errors are collected in the iterator's `errors`. Not a
   * function: a TypeError (at the first `next()`, before any entry). One
   * that throws ends the walk: the loop rejects with what it threw, and the
   * walk is stopped and freed (as os.walk ends when its onerror raises).
   * An async one whose promise rejects does the same: walk() awaits each
   * call before its batch is yielded; walkDirs() goes on meanwhile, its
   * loop rejecting at the next folder asked for, or at the end, which waits
   * for every call.
   */
  onError?: (error: WalkError) => void;
  /**
   * Stat each entry (the default). `false` lists names and types from the
   * folder listings alone, with no stat per entry (os.walk's and @std/fs
   * walk's use): much faster, and the stat facts of an entry (size, times,
   * uid, dev, ...) are then NaN, but for `ino` and the type bits of `mode`,
   * which the listing gives. Names whose type the file system does not give in
   * its listings, and folders under `oneFileSystem`, are still stat'ed; so is
   * the root (its facts are all there), but every folder's `dirsum`, the
   * root's too, is NaN: its children's sizes are not known.
   * With stat, a name whose stat is refused (EACCES: its folder may be read
   * but not searched) is an error and still yielded, as `stat: false`
   * would (listing's type, NaN facts), as @std/fs walk yields it.
   */
  stat?: boolean;
  /**
   * Tuning: bytes per batch region (default 128 KiB, walkDirs without
   * `skip` 32 KiB: smaller batches keep V8 from allocating each batch's
   * path string in large-object space, which only full GCs free); 4096
   * to 64 MiB.
   */
  batchBytes?: number;
  /** Tuning: batches beyond one per thread (default 4; 1 to 1024). */
  batches?: number;
}

/**
 * The iterator {@link walk} and {@link walkDirs} return: entries, then
 * `errors` once done. `return()` (or `await using`, which calls it) ends a
 * walk early and settles once its threads and descriptors are freed.
 */
export interface WalkIterator<T> extends AsyncIterableIterator<T>, AsyncDisposable {
  /** Errors met so far (when no onError is given). */
  readonly errors: WalkError[];
  /** End the walk: its threads stop, its descriptors close; then done. */
  return(value?: unknown): Promise<IteratorResult<T>>;
  /** End the walk as return() does, then reject with `error`. */
  throw(error?: unknown): Promise<IteratorResult<T>>;
}

/**
 * Options of {@link walkDirs}: {@link WalkOptions} but the filters of what
 * is yielded (os.walk has none: a folder's names are all listed; a
 * RangeError if given), and the order of folders.
 */
export interface WalkDirsOptions extends
  Omit<
    WalkOptions,
    | "includeFiles"
    | "includeDirs"
    | "includeSymlinks"
    | "exts"
    | "match"
    | "canonicalize"
    | "maxDepth"
  > {
  /**
   * As walk()'s (the root is depth 0, its entries depth 1, ...): a folder
   * is yielded with its names when it is entered, i.e. at a depth below
   * `maxDepth`; `1` yields the root alone with its names, `0` (the root not
   * entered) and below yield nothing. A fraction counts as the whole number
   * below it; NaN is a RangeError, a value that is no number a TypeError.
   * Default Infinity.
   */
  maxDepth?: number;
  /**
   * Only `false`, the default here: folders under a followed link keep the
   * link's path, as os.walk(followlinks=True) gives them (it has no
   * canonicalize); `true` is a RangeError. (Typed boolean, as walk()'s, so
   * that one options object can serve both.)
   */
  canonicalize?: boolean;
  /**
   * os.walk's `topdown`. `true` (the default): a folder is yielded before
   * its subfolders, and the names left in its `dirs` when the loop body
   * returns decide which subfolders are entered (remove names in place to
   * prune, as with os.walk, or set `dirs` to a new array:
   * `d.dirs = d.dirs.filter(...)` prunes too). A name added to `dirs` (a folder the caller
   * created, or renamed and named anew) is walked too, as os.walk walks
   * it: joined to the folder's path, once the rest of the walk has ended,
   * each as a walkDirs of its own with these options (maxDepth still
   * counted from ROOT; errors to the same onError or `errors`, a name that
   * is no folder among them; following links, a link in it back to a
   * folder above it, up to ROOT, is a "loop" as in the rest of the walk,
   * and so is an added name that is one); a link only with `followSymlinks` (os.walk's
   * islink test; its folder's entry and all below it then have `viaLink`), and not a name skip,
   * exclude, noSnap or oneFileSystem (another device than ROOT's) would
   * leave out. A name only: one with "/", or "", "." or "..", is an error
   * (EINVAL), not walked (os.walk would join it as a path). A name the walk
   * listed as a link to a folder it did not follow stays unwalked even if
   * the caller replaced the link with a folder meanwhile (os.walk looks
   * again, and walks it). `false`: a folder is yielded after all its
   * subfolders (bottom-up); changing `dirs` then changes nothing.
   */
  topDown?: boolean;
}

/** One folder, the shape of Python's os.walk: (dirpath, dirnames, filenames). */
export interface WalkDir {
  /** The folder's path. */
  path: string;
  /**
   * Names of its subfolders, and of symbolic links to folders (os.walk's
   * rule; entered only with `followSymlinks`), without those left out by
   * skip/exclude/noSnap, and with `oneFileSystem` without the mount points
   * of other file systems (not walked either). Top-down, remove names to
   * keep them from being entered, add names of folders created or renamed
   * to have them walked ({@link WalkDirsOptions.topDown}).
   */
  dirs: string[];
  /**
   * Names of everything else in it (files, other links, FIFOs, ...),
   * without those whose path `skip` or `skipPaths` names.
   */
  files: string[];
  /**
   * The folder itself, with its stat facts, fcount and dirsum. Below ROOT
   * its `path` (and `pathBytes`) is spelled as `path` is, also under a
   * ROOT ending in `//`; the root's own is ROOT without its trailing
   * slashes.
   */
  entry: WalkEntry;
  /**
   * Names in `dirs` and `files` that are not valid UTF-8 (shown with
   * U+FFFD for the bytes that are not): each such name as shown, with the
   * exact bytes of every name it stands for, those not UTF-8 in listing
   * order (two names may differ only in those bytes), then a UTF-8 name
   * that shows the same (holding a real U+FFFD), if there is one, last.
   * Join them with "/" to the folder's
   * bytes (`entry.pathBytes`, or `path` encoded when that is undefined) to
   * reach the entries. Undefined when every name is UTF-8. Top-down,
   * removing from `dirs` n of the names that show alike prunes n of those
   * folders: the ones whose bytes were removed from their list here too
   * (the caller says which), else the last ones listed.
   */
  bytes?: Map<string, Uint8Array[]>;
}

/**
 * Copies of the /g and /y RegExps whose `lastIndex` cannot be set (a
 * frozen RegExp): their `test()` would set it, and throw.
 */
const fixedIndex = new WeakMap<RegExp, RegExp>();

/**
 * Whether `s` matches one of `res`, as @std/fs walk tests it (`s.match(r)`):
 * from the start of `s` each time, also for a /g or /y RegExp, whose
 * `test()` would go on from the last match's end. Without g or y, `test()`
 * neither uses nor sets `lastIndex` (a frozen RegExp works as it is); a
 * frozen /g or /y one is tested through a copy of its own, from the start
 * as the others (where `s.match(r)` throws setting its `lastIndex`).
 */
function matchesAny(res: RegExp[] | undefined, s: string): boolean {
  return !!res?.some((r) => {
    if (r.global || r.sticky) {
      let copy = fixedIndex.get(r);
      if (!copy && Object.getOwnPropertyDescriptor(r, "lastIndex")?.writable === false) {
        fixedIndex.set(r, copy = new RegExp(r.source, r.flags));
      }
      if (copy) r = copy;
      r.lastIndex = 0;
    }
    return r.test(s);
  });
}

function normaliseExts(exts: string[] | undefined): string[] | undefined {
  return exts?.map((e) => (e.startsWith(".") ? e : `.${e}`));
}

interface Plan {
  native: NativeOption[];
  maxDepth: number;
}

/** What walkDirs asks of the native walk beyond walk()'s. */
interface DirsMode {
  /** Subfolders wait for the answer of their folder's row (top-down pruning). */
  hold: boolean;
}

/**
 * maxDepth as @std/fs walk reads it: below 0 nothing at all (-1 here), a
 * fraction as the whole number below it (its test is `depth < 1` at each
 * level), 2^31 and more as no limit. NaN and non-numbers are mistakes, not
 * limits (a TypeError for a wrong type, as for the other options).
 */
function depthLimit(d: number | undefined): number {
  if (d === undefined) return Infinity;
  if (typeof d !== "number") {
    throw new TypeError(`pwalk: maxDepth must be a number, got ${typed(d)}`);
  }
  if (Number.isNaN(d)) throw new RangeError("pwalk: maxDepth must be a number, got NaN");
  // no tree is 2^31 folders deep: a larger limit is no limit (and must not
  // reach the engine's 32-bit depth, or wrap in its 64-bit option)
  return d < 0 ? -1 : d >= 2 ** 31 ? Infinity : Math.floor(d);
}

const shown = (v: unknown): string =>
  v instanceof RegExp
    ? String(v)
    : Array.isArray(v)
    ? `[${v.map(shown).join(", ")}]`
    : JSON.stringify(v) ?? String(v);

/**
 * An option that takes an array (`skip: [/x/]`): a TypeError naming it for
 * anything else, as TypeScript would (a bare RegExp has no length: `skip`
 * would silently skip nothing).
 */
function checkList(name: string, v: unknown, ok: (x: unknown) => boolean, what: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every(ok)) {
    throw new TypeError(
      `pwalk: ${name} must be an array of ${what}s, e.g. [${
        what === "RegExp" ? "/x/" : '"ts"'
      }], got ${shown(v)}`,
    );
  }
}

/** walk()'s filters of what is yielded, which walkDirs (as os.walk) has not. */
const YIELD_FILTERS = ["includeFiles", "includeDirs", "includeSymlinks", "exts", "match"];

/**
 * report()'s and repair()'s options that a walk has not (WalkOptions leaves
 * them out): given anyway, past the types, onProgress would start a timer
 * that keeps the process alive after the iterator is dropped.
 */
const JOB_ONLY = ["onProgress", "progressIntervalMs", "pwalkDepth", "maxErrors"];

/** The names of {@link WalkOptions}: another is a TypeError, as report()'s are. */
const WALK_OPTIONS: OptionNames<WalkOptions> = {
  ...COMMON_OPTIONS,
  maxDepth: true,
  includeFiles: true,
  includeDirs: true,
  includeSymlinks: true,
  exts: true,
  match: true,
  skip: true,
  followSymlinks: true,
  canonicalize: true,
  onError: true,
  stat: true,
  batchBytes: true,
  batches: true,
};

/**
 * The names walkDirs takes: walk()'s and topDown (walk()'s filters pass
 * here, to be refused as such below).
 */
const DIRS_OPTIONS = { ...WALK_OPTIONS, topDown: true };

function plan(root: string, o: WalkOptions, dirs?: DirsMode): Plan {
  const who = dirs ? "walkDirs" : "walk";
  const jobOnly = JOB_ONLY.filter((k) => (o as Record<string, unknown>)[k] !== undefined);
  if (jobOnly.length) {
    throw new TypeError(
      `pwalk: ${who}: ${jobOnly.join(", ")}: report()'s and repair()'s ` +
        "options, not a walk's (its progress is the entries it yields; its depth is maxDepth; " +
        "onError sees every error)",
    );
  }
  checkOptionNames(who, o, dirs ? DIRS_OPTIONS : WALK_OPTIONS);
  const maxDepth = depthLimit(o.maxDepth);
  checkBools(o, [
    "followSymlinks",
    "canonicalize",
    "stat",
    ...(dirs ? ["topDown"] : ["includeFiles", "includeDirs", "includeSymlinks"]),
  ]);
  if (dirs && o.canonicalize === true) {
    throw new RangeError(
      "pwalk: walkDirs: canonicalize: only false (folders under a followed link keep its path, " +
        "as os.walk(followlinks=True) gives them)",
    );
  }
  const given = dirs &&
    YIELD_FILTERS.filter((k) => (o as Record<string, unknown>)[k] !== undefined);
  if (given?.length) {
    throw new RangeError(
      `pwalk: walkDirs lists every name of a folder (as os.walk): ${given.join(", ")} ` +
        "filter walk()'s entries only",
    );
  }
  for (const k of ["match", "skip"] as const) {
    checkList(k, o[k], (v) => v instanceof RegExp, "RegExp");
  }
  checkList("exts", o.exts, (v) => typeof v === "string", "string");
  // (called only once errors come: checked now, not in the middle of the walk)
  if (o.onError !== undefined && typeof o.onError !== "function") {
    throw new TypeError(`pwalk: onError must be a function, got ${typed(o.onError)}`);
  }
  const opts = commonNative(root, { ...o, pwalkDepth: undefined, maxErrors: 0 });
  const skip = !!o.skip?.length;
  if (o.stat === false) opts.push([Opt.NO_STAT, 1]);
  if (dirs) opts.push([Opt.LINK_DIRS, 1]);
  // skip: a record for each subfolder, held until JavaScript has tested it
  if (dirs || skip) opts.push([Opt.SUBDIRS, 1]);
  // walkDirs needs the names of entries, and their paths only for skip
  if (dirs && !skip) opts.push([Opt.NAMES_ONLY, 1]);
  if (dirs?.hold || skip) opts.push([Opt.HOLD, 1]);
  // @std/fs depth d is pwalk depth d-1: folders at the last level are handed
  // over as entries and never entered. (maxDepth 0: leaf depth -1, the root
  // itself is stat'ed only, never opened nor listed, as @std/fs walk does.)
  if (maxDepth !== Infinity) opts.push([Opt.LEAF_DEPTH, maxDepth - 1]);
  if (o.followSymlinks) opts.push([Opt.FOLLOW, 1]);
  // @std/fs's default: a followed link under its real path (walk() only)
  if (o.followSymlinks && !dirs && o.canonicalize !== false) {
    opts.push([Opt.CANONICAL, 1]);
    // folders reached through a link are then named by their real paths:
    // each exclude by its real path too, however it was spelled
    for (const r of realExcludes(o.exclude)) opts.push([Opt.EXCLUDE, r]);
  }
  if (o.batchBytes !== undefined) {
    opts.push([Opt.BATCH_BYTES, checkInt("batchBytes", o.batchBytes, 4096, 64 << 20)]);
  }
  if (o.batches !== undefined) opts.push([Opt.BATCHES, checkInt("batches", o.batches, 1, 1024)]);
  return { native: opts, maxDepth };
}

/**
 * Start the native walk. The caller takes the batches with
 * `job.nextBatch(decode)` in its own generator's loop: an async generator
 * in between (or a helper called per batch) kept the previous batch alive
 * in its suspended frame, long enough for V8 to move its entries to the
 * old generation (45 MiB more heap on a 1M-entry walk).
 */
async function startWalk(o: WalkOptions, p: Plan): Promise<NativeJob> {
  return await NativeJob.start(p.native, (opts) => native().pw_walk_start(opts), o);
}

/**
 * `skip` in a held walk: each subfolder to be entered is tested as its
 * record is decoded, and the folder's row, which comes after them, answers
 * for all of them at once (one FFI call per folder). Answered as each
 * batch is decoded, never from the caller's loop: a walk whose loop is
 * left waiting has no question pending, so nothing keeps the process
 * alive (a threadsafe callback had to be ref'd, and did).
 */
class SkipAnswers implements HeldAnswers {
  /** Tests so far of each listing (by group): [hold index, 1 enter or 0 skip] pairs. */
  readonly #open = new Map<number, number[]>();
  job?: NativeJob;
  constructor(readonly skip: RegExp[]) {}
  subdir(group: number, hold: number, path: string): void {
    this.decided(group, hold, !matchesAny(this.skip, path));
  }
  /** A held subfolder tested already (walkDirs' decoder tests each path once). */
  decided(group: number, hold: number, enter: boolean): void {
    let l = this.#open.get(group);
    if (!l) this.#open.set(group, l = []);
    l.push(hold, enter ? 1 : 0);
  }
  row(group: number, token: number): void {
    const l = this.#open.get(group) ?? [];
    this.#open.delete(group);
    const mask = new Uint8Array(l.length / 2);
    for (let i = 0; i < l.length; i += 2) mask[l[i] - 1] = l[i + 1];
    this.job!.descend(token, mask);
  }
}

function makeIterator<T>(gen: AsyncGenerator<T>, errors: WalkError[]): WalkIterator<T> {
  return Object.assign(gen, { errors }) as WalkIterator<T>;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * walk()'s iterator.  An async generator costs two promise turns per
 * `yield` (it awaits the value, then resolves the request); this one hands
 * out the entries of the batch at hand with one resolved promise each, and
 * awaits only to take the next batch (measured: 3x less time per entry in
 * the loop's machinery).  The batches come from an async generator, which
 * owns the native job (`await using`): `return()` on it, however the loop
 * ends, cancels the job and joins its threads.
 */
class EntryIterator implements WalkIterator<WalkEntry> {
  readonly errors: WalkError[] = [];
  readonly #signal?: AbortSignal;
  readonly #batches: AsyncGenerator<WalkEntry[]>;
  #batch: WalkEntry[] = [];
  #i = 0;
  #done = false;
  /** A step that awaits (taking a batch, ending): later calls wait for it. */
  #busy?: Promise<unknown>;
  /**
   * Calls made while a step awaits, in order: each runs once, when the
   * steps before it are done (a FIFO, so that N calls made at once cost N,
   * not N per batch taken meanwhile).
   */
  #waiting: (() => void)[] = [];
  #first = 0; // the next of #waiting to run

  constructor(root: string | URL, o: WalkOptions) {
    this.#signal = o.signal;
    this.#batches = entryBatches(root, o, this.errors);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<WalkEntry>> {
    if (this.#busy) return this.#wait(() => this.next());
    if (this.#i < this.#batch.length) {
      // Aborted while the consumer held an entry: no more of this batch.
      if (this.#signal?.aborted) return this.#step(this.#end(this.#signal.reason));
      return Promise.resolve({ value: this.#batch[this.#i++], done: false });
    }
    if (this.#done) return Promise.resolve(DONE);
    return this.#step(this.#refill());
  }

  return(value?: unknown): Promise<IteratorResult<WalkEntry>> {
    if (this.#busy) return this.#wait(() => this.return(value));
    return this.#step(this.#end().then(() => ({ value, done: true }) as IteratorResult<WalkEntry>));
  }

  throw(error?: unknown): Promise<IteratorResult<WalkEntry>> {
    return this.return().then(() => Promise.reject(error));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => {});
  }

  #step<T>(p: Promise<T>): Promise<T> {
    const busy = p.finally(() => {
      if (this.#busy !== busy) return;
      this.#busy = undefined;
      // The calls that waited, in order, until one of them awaits again.
      const w = this.#waiting;
      while (!this.#busy && this.#first < w.length) {
        const run = w[this.#first];
        w[this.#first++] = undefined!; // (let what it holds go)
        run();
      }
      if (this.#first === w.length) {
        this.#waiting = [];
        this.#first = 0;
      }
    });
    this.#busy = busy;
    return busy;
  }

  /** Run `call` once the steps before it are done. */
  #wait<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => call().then(resolve, reject));
    });
  }

  /** Take batches until one has an entry, or the walk ended. */
  async #refill(): Promise<IteratorResult<WalkEntry>> {
    // Let the spent batch go before waiting: held across the wait, its
    // entries would be moved to V8's old generation.
    this.#batch = [];
    try {
      for (;;) {
        const r = await this.#batches.next();
        if (r.done) {
          this.#done = true;
          return DONE;
        }
        if (!r.value.length) continue;
        this.#batch = r.value;
        this.#i = 0;
        if (this.#signal?.aborted) return await this.#end(this.#signal.reason);
        return { value: this.#batch[this.#i++], done: false };
      }
    } catch (e) {
      this.#batch = [];
      this.#done = true;
      throw e;
    }
  }

  /** Stop: free the job (if any), then reject with `reason` when given. */
  async #end(...reason: unknown[]): Promise<never | IteratorResult<WalkEntry>> {
    this.#batch = [];
    this.#done = true;
    await this.#batches.return(undefined);
    if (reason.length) throw reason[0];
    return DONE;
  }
}

/**
 * walk()'s batches: the entries to yield of each batch, filtered by the
 * options; errors go to onError, or to `errors`.  The job lives in this
 * generator's frame (`await using`), so its return() frees it.
 */
async function* entryBatches(
  rootIn: string | URL,
  o: WalkOptions,
  errors: WalkError[],
): AsyncGenerator<WalkEntry[]> {
  // ROOT as @std/fs walk normalizes it (node's POSIX normalize is the same
  // algorithm): "." and ".." resolved by name, one slash, a trailing one
  // kept. (Checked here, at the first next(), as the options are.)
  const root = normalize(rootPath(rootIn));
  const p = plan(root, o);
  checkExcludeNotRoot(root, o.exclude);
  // ROOT ".": "a", not "./a", below it (as @std/fs's join gives)
  if (root === "." || root === "./") p.native.push([Opt.BARE_DOT, 1]);
  const skip = o.skip?.length ? o.skip : undefined;
  if (p.maxDepth < 0 || matchesAny(skip, root)) return;
  const filter = entryFilter(o, p.maxDepth);
  // "d/": the root's entry is "d/" (one test per entry, only then)
  const keep = root.length > 1 && root.endsWith("/")
    ? (e: WalkEntry) => {
      if (e.depth < 0) slashRoot(e);
      return !filter || filter(e);
    }
    : filter;
  const batchErrors: WalkError[] = o.onError ? [] : errors;
  const answers = skip ? new SkipAnswers(skip) : undefined;
  const decode = (out: BigUint64Array) => {
    const entries: WalkEntry[] = [];
    const errorsBefore = batchErrors.length;
    decodeEntries(out, keep, entries, batchErrors, answers);
    if (skip && batchErrors.length > errorsBefore) {
      dropSkippedLoops(batchErrors, errorsBefore, skip);
    }
    return entries;
  };
  await using job = await startWalk(o, p);
  if (answers) answers.job = job;
  for (let batch; (batch = await job.nextBatch(decode));) {
    if (o.onError) {
      // an async one awaited: its rejection is the loop's, as a throw is
      for (const e of batchErrors) {
        const r: unknown = o.onError(e);
        if (r instanceof Promise) await r;
      }
      batchErrors.length = 0;
    }
    yield batch;
    batch = undefined; // not held while the next one is awaited
  }
  // Aborted: the reason now, not once every worker came back (one may
  // wait in a hung file system; the job is freed when it returns).
  o.signal?.throwIfAborted();
  await job.finish();
}

/**
 * Remove from `errors[from..]` the loop errors of folders `skip` names: the
 * engine finds a link back to an ancestor before JavaScript has tested
 * its path, and a skipped folder is never asked about. `path` gives an
 * error's path as skip tests it (walkDirs: as its folders are spelled).
 */
function dropSkippedLoops(
  errors: WalkError[],
  from: number,
  skip: RegExp[],
  path: (e: WalkError) => string = (e) => e.path,
): void {
  let k = from;
  for (let i = from; i < errors.length; i++) {
    const e = errors[i];
    if (!(e.op === "loop" && matchesAny(skip, path(e)))) errors[k++] = e;
  }
  errors.length = k;
}

/**
 * Give the root's entry (ROOT "d/") the one trailing slash @std/fs keeps
 * ("d/" normalised): the walker drops them, its children are "d/x".
 */
function slashRoot(e: WalkEntry): void {
  if (e.path.endsWith("/")) return; // "/"
  const path = `${e.path}/`;
  // Built by the decoder for this walk alone: its fields can be set here.
  const w = e as { path: string; pathBytes: Uint8Array | undefined };
  w.path = path;
  if (e.pathBytes) w.pathBytes = Uint8Array.of(...e.pathBytes, 0x2f);
}

/** The test an entry passes to be yielded (undefined: every entry passes). */
function entryFilter(o: WalkOptions, maxDepth: number): ((e: WalkEntry) => boolean) | undefined {
  const includeFiles = o.includeFiles ?? true;
  const includeDirs = o.includeDirs ?? true;
  const includeSymlinks = o.includeSymlinks ?? true;
  const exts = normaliseExts(o.exts);
  const match = o.match; // [] matches nothing, as in @std/fs
  const skip = o.skip?.length ? o.skip : undefined;
  const lastDepth = maxDepth - 1; // in pwalk's depth numbering
  if (
    includeFiles && includeDirs && includeSymlinks && !exts && !match && !skip &&
    lastDepth === Infinity
  ) {
    return undefined;
  }
  return (e) => {
    if (e.depth > lastDepth) return false;
    if (e.isDirectory ? !includeDirs : e.isSymlink ? !includeSymlinks : !includeFiles) {
      return false;
    }
    if (exts && !exts.some((x) => e.path.endsWith(x))) return false;
    if (match && !matchesAny(match, e.path)) return false;
    return !matchesAny(skip, e.path);
  };
}

/**
 * Walk `root` with the parallel native walker, yielding one {@link WalkEntry}
 * per file, folder and link, with its stat facts. It takes @std/fs walk's
 * options and gives its entry fields (ROOT normalized and paths joined as
 * it does: "." gives "a", not "./a"), with the stat facts added, but it is
 * no drop-in replacement: entries come in no defined order (a folder comes
 * after the files directly in it, like pwalk's rows, and most often before
 * its subfolders: not a large folder whose names idle workers shared; the
 * root too, where @std/fs yields it first, each folder before its names);
 * errors below the root (a folder that cannot be read, an entry gone) are
 * collected in the iterator's `errors` or given to `onError`, never thrown
 * (@std/fs throws the first and ends); a root that is a file throws before
 * anything is yielded (below); and each option's own differences are told
 * with it ({@link WalkOptions}: `followSymlinks`, `skip`, `stat`, ...).
 *
 * ROOT is normalized as text before it is opened: a `..` takes away the
 * name before it even when that name is a symbolic link, so
 * `walk("link/..")` walks the folder that holds `link` (and yields it as
 * `.`), where {@link walkDirs}, os.walk and `Deno.readDir("link/..")` open
 * the path as given and read the parent of the link's target. (@std/fs
 * walk normalizes the paths it yields but reads ROOT as given: it lists
 * the parent of the link's target under the link folder's names.)
 *
 * @example Sum the sizes of all files
 * ```ts
 * import { walk } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/sub`);
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * await Deno.writeTextFile(`${dir}/sub/b.txt`, "hi");
 * await Deno.symlink("sub/b.txt", `${dir}/link`);
 *
 * let bytes = 0;
 * // links (their size is their target's length) are left out; FIFOs,
 * // devices and sockets are no regular files: isFile tells them apart
 * for await (const e of walk(dir, { includeDirs: false, includeSymlinks: false })) {
 *   if (e.isFile) bytes += e.size;
 * }
 * assertEquals(bytes, 5 + 2); // a.txt and sub/b.txt, not the link
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist (on first
 * next()), whatever the options but a maxDepth below 0 or a `skip` that
 * matches the root, with which, as in @std/fs walk, the root is never
 * looked at: nothing yielded, nothing thrown (@std/fs walk, with maxDepth 0
 * and the root left out by includeDirs: false, exts or match, never looks
 * at it and yields nothing); `NotADirectory`, `FilesystemLoop`, `PermissionDenied` when it
 * is a file, a link loop, or cannot be stat'ed (a folder above it may not
 * be searched): the error's `code` is the errno name, before anything is
 * yielded, at every maxDepth, 0 too (@std/fs walk yields a file root
 * first, then throws at its listing; with maxDepth 0 it only yields it). A root that is stat'ed but cannot be
 * listed is yielded, and its listing's error goes to `onError`/`errors`
 * (with maxDepth 0 it is not listed: no error).
 * (The root's entry keeps a trailing slash of `root`: "d/".)
 * @throws the signal's reason when cancelled. A worker blocked in a hung
 * file system (an NFS or FUSE server that does not answer) cannot be
 * interrupted: 1 s after the abort (or the `break`) the loop is left
 * anyway, and the walk is freed when the file system answers (until then
 * its workers keep the process alive). With `errorsCsvFd` it waits for
 * them (they may still write to it).
 */
export function walk(root: string | URL, options: WalkOptions = {}): WalkIterator<WalkEntry> {
  return new EntryIterator(root, withoutNulls(options));
}

/** strerror(ELOOP), as the walker's loop errors say it. */
const LOOP_MESSAGE = "Too many levels of symbolic links";
/** The "loop" error of a folder at `path` not entered: a link back to a folder above it. */
const loopError = (path: string): WalkError => ({
  path,
  pathBytes: enc.encode(path),
  op: "loop",
  code: "ELOOP",
  message: LOOP_MESSAGE,
});

/**
 * Whether the folder at `path` (lstat, or stat with `follow`: device and
 * inode) is one of the folders above it, up to and including `top` (its
 * walk's root), each looked at by its path: a directory cycle.
 */
async function aboveItself(path: string, top: string, follow: boolean): Promise<boolean> {
  // (following links, a link put there is walked as its folder)
  const st = await (follow ? Deno.stat(path) : Deno.lstat(path)).catch(() => undefined);
  if (!st) return false;
  for (let at = path; at.length > top.length;) {
    const cut = at.lastIndexOf("/");
    at = cut > 0 ? at.slice(0, cut) : "/";
    const up = await Deno.stat(at).catch(() => undefined); // (ROOT may be given as a link)
    if (up && up.dev === st.dev && up.ino === st.ino) return true;
    if (cut <= 0) break;
  }
  return false;
}

/**
 * A root given as a `file:` URL (as @std/fs walk takes it) as its path.
 * Called at the first `next()` (an async generator's body), as @std/fs
 * walk meets a bad root, never by walk() or walkDirs() themselves.
 */
function rootPath(root: string | URL): string {
  if (!(root instanceof URL)) {
    // "" is refused (a TypeError): Deno.readDir("") and os.walk("") find
    // no folder there (NotFound; os.walk's onerror), where @std/fs walk
    // normalizes it to "." and yields that before its readDir("") throws
    // NotFound; normalized, it would walk the current folder
    if (typeof root !== "string" || root.length === 0) {
      throw new TypeError("pwalk: the root folder must be a non-empty string");
    }
    return root;
  }
  if (root.protocol !== "file:" || (root.hostname !== "" && root.hostname !== "localhost")) {
    throw new TypeError(`pwalk: a root URL must be a file: URL of this host, got ${root.href}`);
  }
  // a "%" not followed by two hex digits is itself, as @std/path's fromFileUrl reads it
  return decodeURIComponent(root.pathname.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"));
}

/** Why a root cannot be walked (not out of memory, not a bad option). */
const ROOT_ERRORS = new Set([
  "ENOENT",
  "ENOTDIR",
  "EACCES",
  "EPERM",
  "ELOOP",
  "ENAMETOOLONG",
  "EIO",
  "ESTALE",
  // a network or FUSE file system whose server is gone
  "ENOTCONN",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "ECONNABORTED",
  "ECONNRESET",
  "ECONNREFUSED",
  "EREMOTEIO",
  "ETIMEDOUT",
]);

/** What walkDirs gathers for a folder until it can be yielded. */
interface Gathered {
  dirs: string[];
  files: string[];
  /** Names that are not UTF-8: their bytes (WalkDir.bytes). */
  bytes?: Map<string, Uint8Array[]>;
  /**
   * Subfolders to be entered: [name, index + 1 in the native hold, its
   * bytes when the name is not UTF-8].
   */
  entered: [string, number, Uint8Array?][];
  /** Top-down: held subfolders that `skip` names (never entered, not in dirs). */
  skippedHolds?: number;
  /**
   * Top-down: names in `dirs` the walk holds no subfolder for (links to
   * folders not followed, folders at maxDepth, loops): left there, they
   * are no names the caller added.
   */
  unheld?: string[];
  /** Bottom-up: entered subfolders yielded so far. */
  done: number;
  /** The folder's own row, once it came. */
  entry?: WalkEntry;
  /** Bottom-up: the listing of the folder above (0: none). */
  parent: number;
  /** It could not be listed (or not to the end): not yielded, as os.walk. */
  unlisted?: boolean;
}

/**
 * Keep the bytes of a record's names that are not UTF-8 (a run's split at
 * "/"); returns them, name by name.
 */
function keepBytes(s: Gathered, shown: string, raw: Uint8Array, n: number): Uint8Array[] {
  const names = n > 1 ? shown.split("/") : [shown];
  const map = s.bytes ??= new Map();
  const kept: Uint8Array[] = [];
  let start = 0;
  for (const name of names) {
    let end = n > 1 ? raw.indexOf(0x2f, start) : raw.length;
    if (end < 0) end = raw.length;
    const list = map.get(name);
    const bytes = raw.slice(start, end);
    if (list) list.push(bytes);
    else map.set(name, [bytes]);
    kept.push(bytes);
    start = end + 1;
  }
  return kept;
}

const enc = new TextEncoder();

/** `a` then `b`, in a new array. */
function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Complete a folder's `bytes` before it is yielded: a name that is UTF-8
 * and holds a real U+FFFD shows the same as a name that is not: where a
 * shown name is in `dirs` and `files` more often than it has bytes, the
 * UTF-8 one is among them, and its bytes are its text's.
 */
function withUtf8Twins(s: Gathered): Map<string, Uint8Array[]> | undefined {
  if (!s.bytes) return undefined;
  for (const [name, list] of s.bytes) {
    let n = 0;
    for (const d of s.dirs) if (d === name) n++;
    for (const f of s.files) if (f === name) n++;
    if (n > list.length) list.push(enc.encode(name));
  }
  return s.bytes;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A path's bytes as a Map key that no other bytes share: the text itself
 * when they are UTF-8 (as an entry's `path`), else one character per byte
 * after a NUL (no path holds one). Displayed paths are no key: a folder
 * `x\xfe` and its sibling `x\xff` both show as `x\uFFFD`.
 */
function bytesKey(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return "\0" + Array.from(bytes, (b) => String.fromCharCode(b)).join("");
  }
}

/** Whether the path of `e` is a symbolic link now (false when it cannot be told). */
async function isLink(e: WalkError): Promise<boolean> {
  // (a path that is not UTF-8 cannot be named to Deno.lstat)
  if (bytesKey(e.pathBytes) !== e.path) return false;
  return (await Deno.lstat(e.path).catch(() => undefined))?.isSymlink === true;
}

/** {@link bytesKey} of an entry's path (pathBytes is set only when not UTF-8). */
function entryKey(e: WalkEntry): string {
  return e.pathBytes ? bytesKey(e.pathBytes) : e.path;
}

/**
 * Which of a folder's subfolders to enter: those whose names are still in
 * `dirs` (mask index: the native hold's order; `size` holds in all).
 * `dirs` comes in the listing's order and is most often left as it was:
 * one pass along it then finds every name; a count per name (names not
 * UTF-8 may show alike) only when the caller removed or reordered. Of the
 * subfolders that show alike, as many as `dirs` still holds of the name
 * are entered: first those whose bytes are still in the folder's `bytes`
 * (as the caller left it), in listing order; then the others. The names
 * in `dirs` that no held subfolder takes go to `others` (as many of each
 * as are left over).
 */
function enterMask(
  dirs: string[],
  entered: [string, number, Uint8Array?][],
  size: number,
  others: string[],
  bytes?: Map<string, Uint8Array[]>,
): Uint8Array<ArrayBuffer> {
  const mask = new Uint8Array(size);
  let j = 0;
  for (const [name, k] of entered) {
    while (j < dirs.length && dirs[j] !== name) others.push(dirs[j++]);
    if (j === dirs.length) {
      // as many of a name as are left (names not UTF-8 may show alike)
      others.length = 0;
      const left = new Map<string, number>();
      for (const d of dirs) left.set(d, (left.get(d) ?? 0) + 1);
      // the caller removed its bytes from `bytes`: entered last, if at all
      const listed = new Map<string, Set<string>>();
      const unlisted = (name: string, raw?: Uint8Array) => {
        const list = bytes?.get(name);
        if (!list) return false;
        let keys = listed.get(name);
        if (!keys) listed.set(name, keys = new Set(list.map(bytesKey)));
        return !keys.has(bytesKey(raw ?? enc.encode(name)));
      };
      const later: [string, number][] = [];
      for (const [name, k, raw] of entered) {
        const c = left.get(name) ?? 0;
        if (c > 0 && unlisted(name, raw)) {
          later.push([name, k]);
          continue;
        }
        mask[k - 1] = c > 0 ? 1 : 0;
        if (c > 0) left.set(name, c - 1);
      }
      for (const [name, k] of later) {
        const c = left.get(name) ?? 0;
        mask[k - 1] = c > 0 ? 1 : 0;
        if (c > 0) left.set(name, c - 1);
      }
      for (const [name, c] of left) for (let i = 0; i < c; i++) others.push(name);
      return mask;
    }
    mask[k - 1] = 1;
    j++;
  }
  while (j < dirs.length) others.push(dirs[j++]);
  return mask;
}

/**
 * The names of `others` that are not in `unheld` (each as often as it is
 * in `others` beyond its count there): the names the caller added to a
 * folder's `dirs`.
 */
function addedNames(others: string[], unheld: string[] | undefined): string[] {
  if (!unheld?.length) return others.slice();
  const left = new Map<string, number>();
  for (const u of unheld) left.set(u, (left.get(u) ?? 0) + 1);
  const out: string[] = [];
  for (const name of others) {
    const c = left.get(name) ?? 0;
    if (c > 0) left.set(name, c - 1);
    else out.push(name);
  }
  return out;
}

/** os.path.join(top, name): an absolute name replaces top. */
function joinName(top: string, name: string): string {
  return name.startsWith("/") ? name : top.endsWith("/") ? top + name : `${top}/${name}`;
}

/** A folder a caller added to a yielded folder's `dirs`, walked once the walk has ended. */
interface Added {
  path: string;
  /** Its path as the walker spells its folders (exclude's spelling). */
  walker: string;
  /** maxDepth of its own walk. */
  maxDepth: number;
  /** The folder whose dirs named it, as yielded. */
  parent: Base;
}

/** An added folder's walk: the folder whose dirs named it (depth below the first walk's root). */
interface Base {
  depth: number;
  ino: number;
  /**
   * The added name is a link, followed, or is below one: every entry of its
   * walk has viaLink (as a listed link's folder and what is below it).
   */
  viaLink: boolean;
  /**
   * Following links: the folders of the walked path above the added
   * folder, from the first walk's root down (device:inode, {@link
   * walkedPath}). Its walk's own walker knows only the folders from the
   * added one down: a link back to one of these is the cycle the walker
   * tells in the rest of the walk, and is not entered either.
   */
  above?: Set<string>;
}

/** A folder's key in {@link Base.above}: its device and inode. */
const folderKey = (st: Deno.FileInfo): string => `${st.dev}:${st.ino}`;

/**
 * Following links: `into`, plus the folder at `path` and each folder above
 * it up to and including `top` (the walk's root), each as Deno.stat finds
 * it by its path (a link on the way followed, as the walk followed it).
 */
async function walkedPath(path: string, top: string, into?: Set<string>): Promise<Set<string>> {
  const keys = new Set(into);
  for (let at = path;;) {
    const st = await Deno.stat(at).catch(() => undefined);
    if (st) keys.add(folderKey(st));
    if (at.length <= top.length) break;
    const cut = at.lastIndexOf("/");
    at = cut > 0 ? at.slice(0, cut) : "/";
  }
  return keys;
}

/**
 * Give a folder of an added folder's walk (depth from -1 there) the depth
 * below the first walk's root it has, and its root the inode of the folder
 * above. Built by the decoder for this walk alone: its fields can be set.
 */
function shiftEntry(e: WalkEntry, base: Base): WalkEntry {
  const w = e as { depth: number; parentIno: number; viaLink: boolean };
  if (e.depth < 0) w.parentIno = base.ino;
  if (base.viaLink) w.viaLink = true;
  w.depth = e.depth + base.depth + 2;
  return e;
}

/**
 * Walk `root` folder by folder, in the shape (and with the contract) of
 * Python's os.walk: one {@link WalkDir} per folder with its path and the
 * names of its subfolders and other entries. Top-down by default: a folder
 * comes before its subfolders, and removing names from its `dirs` (in
 * place) keeps the walk out of them; folders are still read in parallel,
 * many at a time. `topDown: false` gives every folder after its subfolders.
 * A folder that cannot be listed is an error, not yielded (as os.walk);
 * so is a root that cannot be walked (missing, a file, a link loop):
 * nothing is yielded. A folder replaced by a symbolic link after it was
 * listed (by the loop's body, say) is neither yielded nor an error
 * (os.walk's islink test), unless links are followed; top-down, one
 * replaced by another folder (or, links followed, by a link to one) is
 * walked as it is now, once the rest of the walk has ended, as os.walk
 * walks what is there. The root's `path` is `root` as given, and it is
 * opened as given (not normalized as {@link walk} does it): `"link/.."` is
 * the parent of the link's target, as os.walk and Deno.readDir read it.
 * Paths below it, the folders' and the errors', are os.path.join's
 * (`"d//"` gives `"d//sub"`), as os.walk's dirpath and its onerror's
 * `OSError.filename` spell them.
 * Order among folders that are not above one another is not defined; a
 * folder the caller adds to a `dirs` is walked once the rest of the walk
 * has ended ({@link WalkDirsOptions.topDown}).
 *
 * @example List every folder with its file count, skipping .git folders
 * ```ts
 * import { walkDirs } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/src/.git`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/src/main.ts`, "");
 * await Deno.writeTextFile(`${dir}/src/.git/HEAD`, "");
 *
 * const fileCounts: Record<string, number> = {};
 * for await (const d of walkDirs(dir, { stat: false })) {
 *   const i = d.dirs.indexOf(".git");
 *   if (i >= 0) d.dirs.splice(i, 1); // not entered
 *   fileCounts[d.path] = d.files.length;
 * }
 * assertEquals(fileCounts, { [dir]: 0, [`${dir}/src`]: 1 }); // no src/.git
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @throws the signal's reason when cancelled. A worker blocked in a hung
 * file system (an NFS or FUSE server that does not answer) cannot be
 * interrupted: 1 s after the abort (or the `break`) the loop is left
 * anyway, and the walk is freed when the file system answers (until then
 * its workers keep the process alive). With `errorsCsvFd` it waits for
 * them (they may still write to it).
 */
export function walkDirs(
  rootIn: string | URL,
  optionsIn: WalkDirsOptions = {},
): WalkIterator<WalkDir> {
  return dirsWalk(rootIn, optionsIn);
}

/** {@link walkDirs}; `base`: the walk of a folder the caller added below it. */
function dirsWalk(
  rootIn: string | URL,
  optionsIn: WalkDirsOptions,
  base?: Base,
): WalkIterator<WalkDir> {
  const options = withoutNulls(optionsIn);
  const errors: WalkError[] = [];
  const topDown = options.topDown ?? true;
  async function* gen(): AsyncGenerator<WalkDir> {
    const root = rootPath(rootIn); // at the first next(), as the options
    const p = plan(root, options, { hold: topDown });
    // (an added name's walk: tested against the excludes by its path)
    if (!base) checkExcludeNotRoot(root, options.exclude);
    const skip = options.skip?.length ? options.skip : undefined;
    if (p.maxDepth < 0 || matchesAny(skip, root)) return;
    const lastDepth = p.maxDepth - 1;
    // os.walk's dirpath: ROOT as given, and below it os.path.join's: with
    // ROOT "d//" its folders are "d//sub", with "//" "//sub" (the walker
    // drops the slashes; "/" alone gives "/sub" either way).
    const bare = root.replace(/\/+$/, "");
    const slashes = root.length - bare.length > 1;
    const dirPath = (e: WalkEntry) =>
      e.depth < 0 ? root : slashes ? root + e.path.slice(bare.length + 1) : e.path;
    // An error's path as os.walk's onerror gets it (OSError.filename): the
    // root's as given ("d/", "d//"), below it joined as dirPath joins; the
    // walker's own drop ROOT's trailing slashes ("d", and "/" for "//").
    const walkerRoot = bare === "" ? "/" : bare;
    const below = walkerRoot === "/" ? "/" : `${walkerRoot}/`;
    const rootBytes = enc.encode(root);
    const belowBytes = enc.encode(below).length;
    const spelled = (e: WalkError): WalkError => {
      if (root === walkerRoot) return e;
      if (e.path === walkerRoot) return { ...e, path: root, pathBytes: rootBytes.slice() };
      if (!slashes || !e.path.startsWith(below)) return e;
      return {
        ...e,
        path: root + e.path.slice(below.length),
        pathBytes: joinBytes(rootBytes, e.pathBytes.subarray(belowBytes)),
      };
    };
    // A yielded folder's entry below ROOT, its path and pathBytes spelled
    // as its dirpath (ROOT "d//": "d//sub", where the walker's is "d/sub"):
    // a copy, the walker's own staying the folder's key here.
    const asDir = (e: WalkEntry, path: string): WalkEntry => {
      if (!slashes || e.depth < 0) return e;
      const pathBytes = e.pathBytes && joinBytes(rootBytes, e.pathBytes.subarray(belowBytes));
      return Object.assign(Object.create(Object.getPrototypeOf(e)), e, { path, pathBytes });
    };
    // Folders by listing number: every record says which listing it came
    // from, so names are grouped without building a key per entry.
    const open = new Map<number, Gathered>();
    /** Folders whose listing failed (by exactKey), until their row comes. */
    const unlisted = new Set<string>();
    const slot = (group: number) => {
      let s = open.get(group);
      if (!s) open.set(group, s = { dirs: [], files: [], entered: [], done: 0, parent: 0 });
      return s;
    };
    const signal = options.signal;
    /** Bottom-up: the folders of group and above it that are now complete. */
    const complete = function* (group: number, s: Gathered): Generator<WalkDir> {
      while (s.entry && s.done === s.entered.length) {
        open.delete(group);
        const e = s.entry;
        if (!s.unlisted && e.depth + 1 <= lastDepth) {
          const path = dirPath(e);
          yield {
            path,
            dirs: s.dirs,
            files: s.files,
            entry: base ? shiftEntry(asDir(e, path), base) : asDir(e, path),
            bytes: withUtf8Twins(s),
          };
        }
        if (!s.parent) return; // the root
        group = s.parent;
        s = slot(group);
        s.done++;
      }
    };
    let lastGroup = -1;
    let last: Gathered | undefined;
    // Bottom-up with skip: held too, and answered as batches are decoded
    // (top-down, the loop answers for each folder after the caller's turn).
    const answers = skip && !topDown ? new SkipAnswers(skip) : undefined;
    // tested against the paths as yielded ("d//sub" under ROOT "d//")
    const skipTest = skip &&
      (slashes
        ? (path: string) => matchesAny(skip, root + path.slice(bare.length + 1))
        : (path: string) => matchesAny(skip, path));
    const decode = (out: BigUint64Array) => {
      const b = decodeDirsBatch(out, skipTest);
      if (answers) {
        for (let i = 0; i < b.n; i++) {
          if (!b.hold[i]) continue;
          if (b.kind[i] === RecKind.SUBDIR) answers.decided(b.group[i], b.hold[i], !b.skipped[i]);
          else if (b.kind[i] === RecKind.DIR) answers.row(b.group[i], b.hold[i]);
        }
      }
      return b;
    };
    await using job = await startWalk(options, p);
    if (answers) answers.job = job;
    // Top-down, the next batch is asked for only when this one is used up:
    // a call in flight while the caller holds a folder would keep the
    // process alive for an answer that may never come (a loop left waiting).
    let started = false;
    const report = (e: WalkError) => {
      if (!options.onError) return void errors.push(e);
      const r: unknown = options.onError(e);
      // an async one: its rejection is the loop's (seen at the next folder
      // asked for, or at the end, which waits for every call)
      if (r instanceof Promise) calls.watch(r);
    };
    // Top-down, a link back to an ancestor (a "loop" error, found as its
    // folder is listed) is told once the caller had its say on that
    // folder: removed from dirs, it is no error (os.walk never looks at a
    // name pruned). Kept by the folder's path until its row.
    const loops = topDown && options.followSymlinks ? new Map<string, WalkError[]>() : undefined;
    /** Top-down: names a folder's dirs holds beyond its held subfolders (reused). */
    const others: string[] = [];
    /** Top-down: folders the caller added to dirs, walked once the walk has ended. */
    const added: Added[] = [];
    /** Top-down: folders replaced since they were listed (race errors held), by walker path. */
    const replaced = new Map<string, WalkError>();
    let rootDev = NaN;
    for (let b; (b = await job.nextBatch(decode, !topDown));) {
      started = true;
      if (skip && b.errors.length) {
        dropSkippedLoops(b.errors, 0, skip, (e) => spelled(e).path);
      }
      for (const e of b.errors) {
        if (loops && e.op === "loop") {
          const cut = e.pathBytes.lastIndexOf(0x2f);
          const folder = cut > 0 ? bytesKey(e.pathBytes.subarray(0, cut)) : "/";
          const list = loops.get(folder);
          if (list) list.push(e);
          else loops.set(folder, [e]);
          continue;
        }
        // A folder that cannot be listed is reported, not yielded (its
        // row comes after its error, from the same worker); so is a
        // directory cycle, a folder above itself not listed again (as
        // links followed, above).
        if (e.op === "open" || e.op === "read" || e.op === "race" || e.op === "loop") {
          unlisted.add(bytesKey(e.pathBytes));
        }
        // A folder replaced by a link since it was listed (by the loop's
        // body, say): os.walk looks again (islink) and leaves it, no error.
        if (e.op === "race" && e.code === "ENOTDIR" && !options.followSymlinks && await isLink(e)) {
          continue;
        }
        // Top-down, a folder the loop's body replaced by another folder
        // (ESTALE: not the one listed), or, links followed, by a link:
        // os.walk walks what is there now, and so does this walk, as a
        // folder added to dirs (at its row, which comes next). The walker
        // itself enters only the folder it listed. (A path that is not
        // UTF-8 cannot be walked again by name: its error stays.)
        if (
          topDown && e.op === "race" && bytesKey(e.pathBytes) === e.path &&
          (e.code === "ESTALE" || (e.code === "ENOTDIR" && options.followSymlinks))
        ) {
          replaced.set(e.path, e);
          continue;
        }
        report(spelled(e));
      }
      for (let i = 0; i < b.n; i++) {
        if (signal?.aborted) throw signal.reason;
        const kind = b.kind[i];
        if (kind === RecKind.ERROR || kind === RecKind.CHANGE) continue;
        const group = b.group[i];
        const s = group === lastGroup ? last! : (last = slot(lastGroup = group));
        const n = b.count[i];
        let raw: Uint8Array[] | undefined;
        if (
          b.raw?.has(i) && !(skip && b.skipped[i]) && !(kind === RecKind.ENTRY && b.flags[i] & 2)
        ) {
          raw = keepBytes(s, b.name[i], b.raw.get(i)!, n);
        }
        if (kind === RecKind.SUBDIR) {
          const hold = b.hold[i];
          if (n > 1) {
            // a run of names (no skip then): holds count up from the first
            const names = b.name[i].split("/");
            for (let j = 0; j < n; j++) {
              if (hold) s.entered.push([names[j], hold + j, raw?.[j]]);
              s.dirs.push(names[j]);
            }
            if (!hold && topDown) (s.unheld ??= []).push(...names);
            continue;
          }
          // skipped: not in dirs, so not entered either (top-down, counted
          // for the answer's mask, with no name: put back in dirs by the
          // caller, it is a name added, which skip refuses too; bottom-up,
          // entered counts the rows to wait for, and a skipped folder's
          // never comes)
          const skipped = skip && b.skipped[i];
          if (hold && skipped && topDown) s.skippedHolds = (s.skippedHolds ?? 0) + 1;
          else if (hold && !skipped) s.entered.push([b.name[i], hold, raw?.[0]]);
          if (!skipped) s.dirs.push(b.name[i]);
          if (!hold && !skipped && topDown) (s.unheld ??= []).push(b.name[i]);
        } else if (kind === RecKind.ENTRY) {
          const flags = b.flags[i];
          // a folder at maxDepth comes as an entry: it is in dirs already
          if (flags & 2) continue;
          const into = flags & 1 ? s.dirs : s.files;
          if (n > 1) {
            const names = b.name[i].split("/");
            // the listing's first files: the split array itself
            if (into === s.files && !into.length) s.files = names;
            else for (const name of names) into.push(name);
            if (into === s.dirs && topDown) (s.unheld ??= []).push(...names);
            continue;
          }
          if (skip && b.skipped[i]) continue;
          into.push(b.name[i]);
          if (into === s.dirs && topDown) (s.unheld ??= []).push(b.name[i]);
        } else {
          const e = b.entry[i]!;
          s.entry = e;
          s.parent = b.parentGroup[i];
          if (e.depth < 0) rootDev = e.dev;
          if (unlisted.size) s.unlisted = unlisted.delete(entryKey(e));
          lastGroup = -1; // its listing is over
          if (!topDown) {
            yield* complete(group, s);
            continue;
          }
          open.delete(group);
          const race = s.unlisted ? replaced.get(e.path) : undefined;
          if (race) {
            // walked again by its name once the walk has ended (above), if
            // the folder that listed it is still there by its own name (not
            // a folder above swapped for a link: what that leads to is no
            // folder of this tree, and its race stays an error)
            replaced.delete(e.path);
            // (a link there followed only where the walk follows one: ROOT
            // given as a link, or links followed; the folder compared by
            // inode, as listed)
            const at = dirPath(e), cut = at.lastIndexOf("/");
            const parentPath = at.slice(0, cut) || "/";
            const named = await Deno.lstat(parentPath).catch(() => undefined);
            const follow = named?.isSymlink && (options.followSymlinks || e.depth === 0);
            const above = follow ? await Deno.stat(parentPath).catch(() => undefined) : named;
            const sub = p.maxDepth - (e.depth + 1);
            if (!above?.isDirectory || above.ino !== e.parentIno) {
              report(spelled(race));
            } else if (sub > 0 && await aboveItself(at, walkerRoot, !!options.followSymlinks)) {
              // the folder now there is one of the folders above it (a
              // directory cycle a FUSE or NFS server can make): walked
              // again it would be met again, each lap's paths longer; a
              // loop error as the walker's own, and, as its loop folders
              // are, neither yielded (not listed) nor entered
              report(spelled({ ...race, op: "loop", code: "ELOOP", message: LOOP_MESSAGE }));
            } else if (sub > 0) {
              const cutW = e.path.lastIndexOf("/");
              added.push({
                path: at,
                walker: e.path,
                maxDepth: sub,
                parent: {
                  depth: e.depth - 1,
                  ino: e.parentIno,
                  viaLink: e.viaLink,
                  above: options.followSymlinks
                    ? await walkedPath(e.path.slice(0, cutW) || "/", walkerRoot, base?.above)
                    : undefined,
                },
              });
            }
          }
          const yielded = !s.unlisted && e.depth + 1 <= lastDepth;
          // (this walk's depth: the entry's is below the first walk's root
          // once yielded, in the walk of an added folder)
          const depth = e.depth;
          const path = dirPath(e);
          if (yielded) {
            const d: WalkDir = {
              path,
              dirs: s.dirs,
              files: s.files,
              entry: base ? shiftEntry(asDir(e, path), base) : asDir(e, path),
              bytes: withUtf8Twins(s),
            };
            yield d;
            // `d.dirs = d.dirs.filter(...)`: the array left there decides,
            // as one changed in place does
            if (d.dirs !== s.dirs) {
              if (!Array.isArray(d.dirs)) {
                throw new TypeError(
                  `pwalk: walkDirs: ${oneLine(path)}: dirs must be an array of names, got ${
                    d.dirs === null ? "null" : typeof d.dirs
                  }`,
                );
              }
              s.dirs = d.dirs;
            }
          }
          const pending = loops?.get(entryKey(e));
          if (pending) {
            loops!.delete(entryKey(e));
            const kept = yielded ? new Set(s.dirs) : undefined;
            for (const err of pending) {
              if (!kept || kept.has(err.path.slice(err.path.lastIndexOf("/") + 1))) {
                report(spelled(err));
              }
            }
          }
          // The caller had its say: enter what is left in dirs, and keep
          // the names it added for walks of their own.
          const token = b.hold[i];
          if (!token && !yielded) continue;
          const held = s.entered.length + (s.skippedHolds ?? 0);
          const mask = enterMask(s.dirs, s.entered, held, others, s.bytes);
          // the walk of an added folder: a subfolder kept in dirs that is
          // a folder above that one (a link back: a cycle its walker cannot
          // see) is a loop, not entered, as the walker's own loops
          if (base?.above && yielded) {
            for (const [name, k, raw] of s.entered) {
              if (!mask[k - 1] || raw) continue;
              const at = joinName(path, name);
              const st = await Deno.stat(at).catch(() => undefined);
              if (st?.isDirectory && base.above.has(folderKey(st))) {
                mask[k - 1] = 0;
                report(loopError(at));
              }
            }
          }
          if (token) job.descend(token, mask);
          if (others.length) {
            const sub = p.maxDepth - (depth + 2);
            if (yielded && sub > 0) {
              const parent: Base = {
                depth: e.depth,
                ino: e.ino,
                viaLink: e.viaLink,
                above: options.followSymlinks
                  ? await walkedPath(e.path, walkerRoot, base?.above)
                  : undefined,
              };
              for (const name of addedNames(others, s.unheld)) {
                if (name === "" || name === "." || name === ".." || name.includes("/")) {
                  // a path, not a name: its depth, parent and exclusion
                  // would be another folder's (os.walk joins it anyway)
                  const at = joinName(path, name);
                  report({
                    path: at,
                    pathBytes: new TextEncoder().encode(at),
                    op: "open",
                    message: `${JSON.stringify(name)} added to the dirs of ${path} is not ` +
                      'one name in it (a folder added is walked by its name: no "/", not "." ' +
                      'or "..")',
                    code: "EINVAL",
                  });
                  continue;
                }
                if (e.pathBytes) {
                  // a folder whose path is not UTF-8: a string names it by
                  // its U+FFFD spelling, which may be another folder (or none)
                  const at = joinName(path, name);
                  report({
                    path: at,
                    pathBytes: joinBytes(e.pathBytes, new TextEncoder().encode(`/${name}`)),
                    op: "open",
                    message: `${JSON.stringify(name)} added to the dirs of ${path}, whose path ` +
                      "is not UTF-8, cannot be walked by name (a name added is walked by its path " +
                      "as a string)",
                    code: "EILSEQ",
                  });
                  continue;
                }
                added.push({
                  path: joinName(path, name),
                  walker: joinName(e.path, name),
                  maxDepth: sub,
                  parent,
                });
              }
            }
            others.length = 0;
          }
        }
      }
    }
    // aborted: the reason now, not once every worker came back (walk())
    signal?.throwIfAborted();
    // loops of folders whose rows came first (a large folder's shared parts)
    for (const list of loops?.values() ?? []) for (const err of list) report(spelled(err));
    // (a race whose folder's row never came: told as it was)
    for (const err of replaced.values()) report(spelled(err));
    try {
      await job.finish();
    } catch (e) {
      // A root that cannot be walked is an error like any folder's, and
      // nothing is yielded (os.walk calls onerror and yields nothing).
      const code = (e as { code?: unknown }).code;
      if (started || typeof code !== "string" || !ROOT_ERRORS.has(code)) throw e;
      report({
        path: root,
        pathBytes: new TextEncoder().encode(root),
        op: "open",
        message: errnoText(code) ?? (e as Error).message,
        code,
      });
    }
    // Folders the caller added to dirs (created, renamed), as os.walk
    // walks every name left in dirnames: each a walkDirs of its own, with
    // these options (its own added names walked the same way), once the
    // walk has ended. Not a link unless links are followed (os.walk's
    // islink test, just before it walks the name); left out as the walk
    // would leave it out: by exclude, noSnap, skip (the sub-walk's root
    // test), or oneFileSystem (on another device than the root).
    let excludes: Set<string> | undefined;
    for (const a of added) {
      if (signal?.aborted) throw signal.reason;
      const st = await Deno.lstat(a.path).catch(() => undefined);
      if (st?.isSymlink && !options.followSymlinks) continue;
      if (options.noSnap && a.path.replace(/\/+$/, "").endsWith("/.snapshot")) continue;
      if (options.exclude?.length) {
        // (an added name is a string: bytes that are not UTF-8 name none)
        excludes ??= new Set(
          excludeList(root, options.exclude).map((x) => typeof x === "string" ? x : bytesKey(x)),
        );
        if (excludes.has(a.walker.length > 1 ? a.walker.replace(/\/+$/, "") : a.walker)) continue;
      }
      if (options.oneFileSystem && st) {
        const dev = st.isSymlink ? (await Deno.stat(a.path).catch(() => undefined))?.dev : st.dev;
        if (dev !== undefined && dev !== rootDev) continue;
      }
      // following links: a folder above it (a link back to ROOT, say) is
      // a cycle, as the walker tells one (a name skip leaves out is none)
      if (a.parent.above && !matchesAny(skip, a.path)) {
        const to = await Deno.stat(a.path).catch(() => undefined);
        if (to?.isDirectory && a.parent.above.has(folderKey(to))) {
          report(loopError(a.path));
          continue;
        }
      }
      const subOptions = { ...options, maxDepth: a.maxDepth, onError: report };
      // a link followed: its folder came through it (viaLink), as a listed one does
      yield* dirsWalk(
        a.path,
        subOptions,
        st?.isSymlink ? { ...a.parent, viaLink: true } : a.parent,
      );
    }
  }
  const calls = new AsyncCalls();
  return makeIterator(options.onError ? calls.guard(gen()) : gen(), errors);
}

/**
 * The promises an async callback returned (walkDirs' onError, called
 * where the walk cannot wait for it): the first rejection ends the loop
 * that {@link AsyncCalls.guard} wraps, at the next value asked for, and the
 * loop's end waits for every call, so none is left unhandled.
 */
class AsyncCalls {
  #pending = new Set<Promise<void>>();
  #failed?: { error: unknown };

  /** Follow `r`: a rejection is kept (handled), not left to end the process. */
  watch(r: Promise<unknown>): void {
    const p = r.then(() => {}, (error) => void (this.#failed ??= { error }));
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  #check(): void {
    if (this.#failed) throw this.#failed.error;
  }

  /** `inner`, ended by the first rejection watched (its return() frees it). */
  async *guard<T>(inner: AsyncGenerator<T>): AsyncGenerator<T> {
    for await (const v of inner) {
      this.#check();
      yield v;
      this.#check();
    }
    while (this.#pending.size) await Promise.all(this.#pending);
    this.#check();
  }
}
