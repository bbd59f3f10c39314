/**
 * repair(), chown() and undo(): safe, parallel changes of owners, groups and
 * modes on the native engine (native/repair.c).
 *
 * Every change is made through file descriptors opened without following
 * links, after checking that the entry is still the one that was listed, so
 * swapping a folder for a symbolic link during a run changes nothing outside
 * the tree. Dry run is the default: nothing changes without `apply: true`.
 *
 * @module
 */
import { Counter as C, ensureNative, native, Opt } from "./ffi.ts";
import { commonNative, type CommonOptions, normaliseFolder } from "./options.ts";
import { resolveExcludes } from "./exclude.ts";
import {
  fatalError,
  type NativeOption,
  pathBytes,
  type Progress,
  runJob,
  type WalkError,
} from "./job.ts";
import {
  type ChangeRecord,
  JOURNAL_MAGIC,
  type JournalHeader,
  type JournalLine,
  type Ownership,
  parseHeader,
  parseLine,
  printablePath,
  splitLines,
  toRecord,
  typeBits,
} from "./journal.ts";

export type { ChangeKind, ChangeRecord, EntryType, Ownership } from "./journal.ts";

/** The message of the once-per-tree notice (native/errlog.h PW_NO_ANCESTOR_TEXT). */
export const NO_ANCESTOR_MESSAGE =
  "no ancestor folder has a shared group; private groups left as they are";

/** Options that repair() and chown() share. */
export interface ChangeOptions extends CommonOptions {
  /** Make the changes. Default false: a dry run that plans and reports them but changes nothing. */
  apply?: boolean;
  /**
   * Append a journal line for every change to this file before making it
   * (created 0600 if missing). `undo(file)` puts the old values back. A dry
   * run with a journal writes its plan, which undo() skips.
   */
  journal?: string;
  /** Keep every change in the summary's `changeList` (memory grows with the changes). */
  listChanges?: boolean;
  /** Called with each change made (or planned, in a dry run), in batches while the run goes on. */
  onChange?: (change: ChangeRecord) => void;
  /** Print the CLI's change lines to stdout (the CLI does). Default false. */
  printChanges?: boolean;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /** Allow a root of `/` (refused otherwise). Default false. */
  force?: boolean;
}

/** Options of {@link repair} (shared/spec/repair.md's options). */
export interface RepairOptions extends Omit<ChangeOptions, "maxDepth"> {
  /** Groups to replace as if they were private (repair-shared's `--change-gids`). */
  changeGids?: number[];
  /** Folders get g+rwx and everything else g+rw (instead of g+rx and g+r). Default false. */
  forceGroupWritable?: boolean;
}

/** Options of {@link chown}: pwalk's `--chown_from UID --chown_to UID:GID`. */
export interface ChownOptions extends ChangeOptions {
  /** Entries owned by this uid are changed. */
  from: number;
  /** Their new owner, and group (left as it is when omitted). */
  to: { uid: number; gid?: number };
}

/** Changes counted by kind. */
export interface ChangeCounts {
  /** All changes (an entry can have several). */
  total: number;
  /** Mode changes (group bits added; setuid/setgid dropped from files changing group). */
  mode: number;
  /** Group changes. */
  group: number;
  /** Setgid bits added to folders. */
  setgid: number;
}

/** What {@link repair} and {@link chown} return. */
export interface ChangeSummary {
  /** The root, as given. */
  root: string;
  /** Whether changes were made (false: dry run). */
  applied: boolean;
  /** Entries looked at (folders, files, links; the root included). */
  entriesSeen: number;
  /** Folders among them. */
  folders: number;
  /** Entries changed (or, in a dry run, that would be). */
  entriesChanged: number;
  /** Changes by kind. */
  changes: ChangeCounts;
  /** Errors (refused changes, unreadable folders, races, the no-ancestor notice). */
  errors: number;
  /** The first errors (up to `maxErrors`), in detail. */
  errorDetails: WalkError[];
  /** Every change, when `listChanges` was set. */
  changeList?: ChangeRecord[];
  /** The journal file written, or null. */
  journal: string | null;
  /** Wall time in milliseconds. */
  elapsedMs: number;
}

/** What {@link repair} returns. */
export interface RepairSummary extends ChangeSummary {
  /** Entries with a private group left alone because no ancestor folder has a shared group. */
  noAncestor: number;
}

/** What {@link chown} returns. */
export type ChownSummary = ChangeSummary;

const lossy = new TextDecoder();

function checkId(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) {
    throw new RangeError(`pwalk: ${name} must be an integer from 0 to 4294967294, got ${v}`);
  }
  return v;
}

/** Throw unless `root` is a folder other than `/` (or force). */
function checkRoot(root: string, force?: boolean): void {
  if (typeof root !== "string" || root.length === 0) {
    throw new TypeError("pwalk: the root folder must be a non-empty string");
  }
  let real: string;
  try {
    real = Deno.realPathSync(root);
  } catch {
    return; // the native side reports a missing root with the right error class
  }
  if (real === "/" && !force) {
    throw new Deno.errors.PermissionDenied(
      `pwalk: refusing to change the whole file system (${root} is /); pass force: true (--force)`,
    );
  }
}

/** Reads the lines native code appends to a file while a run goes on. */
class LineTail {
  #file: Deno.FsFile;
  #rest: Uint8Array = new Uint8Array(0);
  #buf = new Uint8Array(256 * 1024);

  constructor(path: string) {
    this.#file = Deno.openSync(path, { read: true });
  }

  /** Every complete line appended since the last call. */
  drain(): string[] {
    const lines: string[] = [];
    for (;;) {
      const n = this.#file.readSync(this.#buf);
      if (n === null || n === 0) break;
      const joined = new Uint8Array(this.#rest.length + n);
      joined.set(this.#rest, 0);
      joined.set(this.#buf.subarray(0, n), this.#rest.length);
      const s = splitLines(joined);
      lines.push(...s.lines);
      this.#rest = s.rest;
    }
    return lines;
  }

  close(): void {
    this.#file.close();
  }
}

function openAppend(path: string): number {
  const b = pathBytes(path);
  const fd = native().pw_fd_open(b, BigInt(b.length));
  if (fd < 0) throw fatalError(-fd, `${path}: cannot open (errno ${-fd})`);
  return fd;
}

function fixErrors(errors: WalkError[]): WalkError[] {
  return errors.map((e) => e.op === "ancestor" ? { ...e, message: NO_ANCESTOR_MESSAGE } : e);
}

/** Run a repair or chown job with its journal, change records and summary. */
async function runChangeJob(
  root: string,
  opts: NativeOption[],
  o: ChangeOptions,
): Promise<{ counters: number[]; errors: WalkError[]; elapsedMs: number; list?: ChangeRecord[] }> {
  await ensureNative();
  const sym = native();
  if (o.apply) opts.push([Opt.APPLY, 1]);
  if (o.printChanges) opts.push([Opt.CHANGES_FD, 1]);
  if (o.printErrors) opts.push([Opt.ERROR_FD, 2]);
  const fds: number[] = [];
  let tmp: string | undefined;
  let tail: LineTail | undefined;
  const list: ChangeRecord[] | undefined = o.listChanges ? [] : undefined;
  const rootBytes = pathBytes(normaliseFolder(root));
  const consume = () => {
    for (const line of tail!.drain()) {
      const rec = toRecord(parseLine(line), rootBytes);
      list?.push(rec);
      o.onChange?.(rec);
    }
  };
  let closeErr: number | undefined;
  let r: Awaited<ReturnType<typeof runJob>>;
  try {
    if (o.journal !== undefined) {
      const fd = openAppend(o.journal);
      fds.push(fd);
      opts.push([Opt.JOURNAL_FD, fd]);
    }
    if (o.listChanges || o.onChange) {
      tmp = await Deno.makeTempFile({ prefix: "pwalk-changes-" });
      const fd = openAppend(tmp);
      fds.push(fd);
      opts.push([Opt.RECORDS_FD, fd]);
      tail = new LineTail(tmp);
    }
    const onProgress = tail
      ? (p: Progress) => {
        consume();
        o.onProgress?.(p);
      }
      : o.onProgress;
    r = await runJob((p) => sym.pw_repair_start(p), opts, {
      signal: o.signal,
      onProgress,
      progressIntervalMs: o.progressIntervalMs ?? (tail ? 100 : undefined),
    });
    if (tail) consume();
  } finally {
    for (const fd of fds) {
      const rc = sym.pw_fd_close(fd);
      // the journal is the first fd when there is one
      if (rc < 0 && fd === fds[0] && o.journal !== undefined) closeErr ??= -rc;
    }
    tail?.close();
    if (tmp) await Deno.remove(tmp).catch(() => {});
  }
  if (closeErr !== undefined) {
    throw fatalError(closeErr, `${o.journal}: the journal could not be saved (errno ${closeErr})`);
  }
  return { counters: r.counters, errors: fixErrors(r.errors), elapsedMs: r.elapsedMs, list };
}

function summary(
  root: string,
  o: ChangeOptions,
  r: { counters: number[]; errors: WalkError[]; elapsedMs: number; list?: ChangeRecord[] },
): ChangeSummary {
  const c = r.counters;
  const s: ChangeSummary = {
    root,
    applied: !!o.apply,
    entriesSeen: c[C.ENTRIES],
    folders: c[C.DIRS],
    entriesChanged: c[C.CHANGED],
    changes: { total: c[C.CHANGES], mode: c[C.MODE], group: c[C.GROUP], setgid: c[C.SETGID] },
    errors: c[C.ERRORS],
    errorDetails: r.errors,
    journal: o.journal ?? null,
    elapsedMs: r.elapsedMs,
  };
  if (r.list) s.changeList = r.list;
  return s;
}

/**
 * Repair group sharing below `root` (shared/spec/repair.md, repair-shared's
 * rules): every entry below the root (not the root itself, never a link)
 * gets the nearest ancestor folder's shared group when its own group is
 * private (its owner's id, 0, or one of `changeGids`), folders get setgid,
 * and everything gets group read (folders also group search; with
 * `forceGroupWritable`, group write too).
 *
 * **A dry run unless `apply: true`.** With `apply`, pass a `journal` file so
 * that {@link undo} can put everything back.
 *
 * @example Dry run: what would change?
 * ```ts ignore
 * import { repair } from "jsr:@pwalk/cli";
 * const plan = await repair("/projects/genome", { listChanges: true });
 * for (const c of plan.changeList!) console.log(c.path, c.kinds.join(","));
 * console.log(`${plan.entriesChanged} of ${plan.entriesSeen} entries would change`);
 * ```
 *
 * @example Apply, with a journal to undo it
 * ```ts ignore
 * import { repair, undo } from "jsr:@pwalk/cli";
 * const s = await repair("/projects/genome", {
 *   apply: true,
 *   changeGids: [100],
 *   journal: "/root/genome-repair.journal",
 * });
 * console.log(s.changes, s.errors);
 * // changed your mind:
 * await undo("/root/genome-repair.journal");
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.PermissionDenied} when the root is `/` and `force` is not set
 * @throws the signal's reason when cancelled (changes made so far stay, and are in the journal)
 */
export async function repair(root: string, options: RepairOptions = {}): Promise<RepairSummary> {
  checkRoot(root, options.force);
  const opts = commonNative(root, {
    ...options,
    maxDepth: undefined,
    exclude: resolveExcludes(root, options.exclude),
  });
  if (options.forceGroupWritable) opts.push([Opt.FORCE_GW, 1]);
  for (const g of options.changeGids ?? []) opts.push([Opt.CHANGE_GID, checkId("changeGids", g)]);
  const r = await runChangeJob(root, opts, options);
  return { ...summary(root, options, r), noAncestor: r.counters[C.NOANCESTOR] };
}

/**
 * pwalk's `--chown_from UID --chown_to UID:GID`: every entry below and
 * including `root` owned by `from` gets the owner `to.uid` (and the group
 * `to.gid` when given). Symbolic links are changed themselves (lchown),
 * never their targets.
 *
 * **A dry run unless `apply: true`.**
 *
 * @example Give a departed user's files to the project account
 * ```ts ignore
 * import { chown } from "jsr:@pwalk/cli";
 * const s = await chown("/projects/genome", {
 *   from: 1042,
 *   to: { uid: 2000, gid: 2000 },
 *   apply: true,
 *   journal: "/root/chown-1042.journal",
 * });
 * console.log(`${s.entriesChanged} entries now belong to 2000`);
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.PermissionDenied} when the root is `/` and `force` is not set
 */
export async function chown(root: string, options: ChownOptions): Promise<ChownSummary> {
  checkRoot(root, options.force);
  if (!options || options.from === undefined || !options.to) {
    throw new TypeError("pwalk: chown needs { from: uid, to: { uid, gid? } }");
  }
  const opts = commonNative(root, { ...options, exclude: resolveExcludes(root, options.exclude) });
  opts.push([Opt.CHOWN_FROM, checkId("from", options.from)]);
  opts.push([Opt.CHOWN_UID, checkId("to.uid", options.to.uid)]);
  if (options.to.gid !== undefined) opts.push([Opt.CHOWN_GID, checkId("to.gid", options.to.gid)]);
  const r = await runChangeJob(root, opts, options);
  return summary(root, options, r);
}

/** Options of {@link undo}. */
export interface UndoOptions {
  /** Put the old values back. Default true; false only reports what would be restored. */
  apply?: boolean;
  /** Called for each entry restored (or that would be). */
  onRestore?: (restored: RestoreRecord) => void;
  /** Print one line per restored entry to stdout (the CLI does). Default false. */
  printChanges?: boolean;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /** Stops the undo between entries; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How many error details to keep. Default 100. */
  maxErrors?: number;
}

/** One entry put back by {@link undo}. */
export interface RestoreRecord {
  /** The entry's absolute path (the journal's real root, then the names). */
  path: string;
  /** Its exact bytes. */
  pathBytes: Uint8Array;
  /** What it was before undo. */
  from: Ownership;
  /** What undo made it (the journal's old values, except fields kept). */
  to: Ownership;
  /** Owner/group or mode changed again since the run: that field was left alone. */
  kept: ("owner" | "mode")[];
}

/** What {@link undo} returns. */
export interface UndoSummary {
  /** The journal file. */
  journal: string;
  /** Whether values were put back (false: `apply: false`). */
  applied: boolean;
  /** Entry lines of applied runs read from the journal. */
  entries: number;
  /** Entries put back (or that would be). */
  restored: number;
  /** Entries already holding their old values (nothing to do). */
  unchanged: number;
  /** Entries with a field changed again since the run: that field was left as it is. */
  kept: number;
  /** Entry lines of dry runs, skipped. */
  skippedDryRun: number;
  /** Entries not restored: replaced (dev+inode differ), vanished, a link on the way, refused. */
  errors: number;
  /** The first errors, in detail. */
  errorDetails: WalkError[];
  /** Wall time in milliseconds. */
  elapsedMs: number;
}

/** strerror's text, as glibc words it (macOS: the exceptions below). */
const ERRNO_TEXT: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  EINVAL: "Invalid argument",
  EROFS: "Read-only file system",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  ESTALE: "Stale file handle",
};

/** errno numbers the two systems share, then each one's own. */
const ERRNO_COMMON: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  13: "EACCES",
  20: "ENOTDIR",
  22: "EINVAL",
  30: "EROFS",
};
const ERRNO: Record<string, Record<number, string>> = {
  linux: { ...ERRNO_COMMON, 36: "ENAMETOOLONG", 40: "ELOOP", 116: "ESTALE" },
  darwin: { ...ERRNO_COMMON, 62: "ELOOP", 63: "ENAMETOOLONG", 70: "ESTALE" },
};

const DARWIN_TEXT: Record<string, string> = { ESTALE: "Stale NFS file handle" };

function errnoName(n: number): [string, string] {
  const name = ERRNO[Deno.build.os]?.[n];
  if (!name) return ["E" + n, `error ${n}`];
  return [name, (Deno.build.os === "darwin" && DARWIN_TEXT[name]) || ERRNO_TEXT[name]];
}

/** pw_restore's result bits (native/pwalk.h pw_restore_bits). */
const R = { OWNER: 1, MODE: 2, OWNER_KEPT: 4, MODE_KEPT: 8 } as const;

/**
 * Read a journal: its applied runs' entry lines with their headers, in file
 * order, and how many lines of dry runs it holds.
 *
 * @example What did a run change?
 * ```ts ignore
 * const { entries } = await readJournal("/root/genome.journal");
 * for (const { header, line } of entries) console.log(header.kind, line.old, line.new);
 * ```
 *
 * @throws {SyntaxError} when the file is not a pwalk journal
 */
export async function readJournal(
  file: string,
): Promise<{ entries: { header: JournalHeader; line: JournalLine }[]; dryRun: number }> {
  const bytes = await Deno.readFile(file);
  const { lines, rest } = splitLines(bytes);
  if (rest.length) lines.push(...splitLines(new Uint8Array([...rest, 0x0a])).lines);
  if (lines.length === 0 || !lines[0].startsWith(JOURNAL_MAGIC)) {
    throw new SyntaxError(`pwalk: ${file} is not a pwalk journal`);
  }
  const entries: { header: JournalHeader; line: JournalLine }[] = [];
  let header: JournalHeader | undefined;
  let dryRun = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length === 0) continue;
    try {
      if (l.startsWith("#")) {
        header = parseHeader(l);
        continue;
      }
      const line = parseLine(l);
      if (!header!.applied) dryRun++;
      else entries.push({ header: header!, line });
    } catch (e) {
      throw new SyntaxError(`pwalk: ${file}:${i + 1}: ${(e as Error).message}`);
    }
  }
  return { entries, dryRun };
}

/**
 * Undo a repair or chown from its journal: the last change first, each
 * entry reached component by component without following any link, and
 * changed only when it is still the same dev+inode. A field (owner/group,
 * or mode) is put back only while it still holds the value the run set; a
 * field changed again since is left alone and counted in `kept`.
 *
 * @example
 * ```ts ignore
 * import { undo } from "jsr:@pwalk/cli";
 * const u = await undo("/root/genome-repair.journal");
 * console.log(`${u.restored} restored, ${u.kept} changed since (left), ${u.errors} errors`);
 * ```
 *
 * @throws {SyntaxError} when the file is not a pwalk journal
 * @throws the signal's reason when cancelled
 */
export async function undo(journalFile: string, options: UndoOptions = {}): Promise<UndoSummary> {
  options.signal?.throwIfAborted();
  await ensureNative();
  const sym = native();
  const t0 = performance.now();
  const apply = options.apply ?? true;
  const maxErrors = options.maxErrors ?? 100;
  const { entries, dryRun } = await readJournal(journalFile);
  const out: UndoSummary = {
    journal: journalFile,
    applied: apply,
    entries: entries.length,
    restored: 0,
    unchanged: 0,
    kept: 0,
    skippedDryRun: dryRun,
    errors: 0,
    errorDetails: [],
    elapsedMs: 0,
  };
  const enc = new TextEncoder();
  const v = new BigInt64Array(9);
  for (let i = entries.length - 1; i >= 0; i--) {
    if ((entries.length - i) % 1000 === 0) {
      await new Promise((r) => setTimeout(r, 0)); // let signals and timers run
      options.signal?.throwIfAborted();
    }
    const { header, line } = entries[i];
    const p = new Uint8Array(
      line.rel.length === 1 && line.rel[0] === 0x2e
        ? header.root
        : [...header.root, ...(header.root.at(-1) === 0x2f ? [] : [0x2f]), ...line.rel],
    );
    v[0] = BigInt.asIntN(64, line.dev);
    v[1] = BigInt.asIntN(64, line.ino);
    v[2] = BigInt(typeBits(line.type));
    v[3] = BigInt(line.old.uid);
    v[4] = BigInt(line.old.gid);
    v[5] = BigInt(line.old.mode);
    v[6] = BigInt(line.new.uid);
    v[7] = BigInt(line.new.gid);
    v[8] = BigInt(line.new.mode);
    const rc = sym.pw_restore(p, BigInt(p.length), v, apply ? 1 : 0);
    if (rc < 0) {
      const [name, text] = errnoName(-rc);
      const message = name === "ESTALE"
        ? "a different entry is there now: left alone"
        : name === "ELOOP" || name === "ENOTDIR"
        ? "a symbolic link (or a non-folder) is on the way now: left alone"
        : text;
      out.errors++;
      const op = name === "ESTALE" ? "race" : "change";
      if (out.errorDetails.length < maxErrors) {
        out.errorDetails.push({ op, message, path: lossy.decode(p), pathBytes: p });
      }
      if (options.printErrors) {
        Deno.stderr.writeSync(enc.encode(`pwalk: undo '${printablePath(p)}': ${message}\n`));
      }
      continue;
    }
    const kept: ("owner" | "mode")[] = [];
    if (rc & R.OWNER_KEPT) kept.push("owner");
    if (rc & R.MODE_KEPT) kept.push("mode");
    if (kept.length) out.kept++;
    if (!(rc & (R.OWNER | R.MODE))) {
      if (!kept.length) out.unchanged++;
      continue;
    }
    out.restored++;
    const to: Ownership = {
      uid: rc & R.OWNER ? line.old.uid : line.new.uid,
      gid: rc & R.OWNER ? line.old.gid : line.new.gid,
      mode: rc & R.MODE ? line.old.mode : line.new.mode,
    };
    const rec: RestoreRecord = {
      path: lossy.decode(p),
      pathBytes: p,
      from: line.new,
      to,
      kept,
    };
    options.onRestore?.(rec);
    if (options.printChanges) {
      Deno.stdout.writeSync(enc.encode(restoreLine(rec) + "\n"));
    }
  }
  out.elapsedMs = performance.now() - t0;
  return out;
}

/**
 * The CLI's line for a restored entry: `path: group 5000 -> 1001, mode 2750 -> 0700`.
 *
 * @example
 * ```ts ignore
 * await undo("/root/genome.journal", { onRestore: (r) => console.log(restoreLine(r)) });
 * ```
 */
export function restoreLine(r: RestoreRecord): string {
  const parts: string[] = [];
  if (r.from.uid !== r.to.uid) parts.push(`owner ${r.from.uid} -> ${r.to.uid}`);
  if (r.from.gid !== r.to.gid) parts.push(`group ${r.from.gid} -> ${r.to.gid}`);
  if (r.from.mode !== r.to.mode) {
    parts.push(
      `mode ${r.from.mode.toString(8).padStart(4, "0")} -> ${
        r.to.mode.toString(8).padStart(4, "0")
      }`,
    );
  }
  if (r.kept.length) parts.push(`(${r.kept.join(" and ")} changed since: kept)`);
  return `${printablePath(r.pathBytes)}: ${parts.join(", ")}`;
}
