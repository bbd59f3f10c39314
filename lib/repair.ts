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
import { native, Opt, RecKind } from "./ffi.ts";
import { commonNative, type CommonOptions, normaliseFolder } from "./options.ts";
import { type Counters, NativeJob, type NativeOption, pathBytes, type WalkError } from "./job.ts";
import { errnoError } from "./errno.ts";
import type { ChangeRecord } from "./journal.ts";

export type { ChangeKind, ChangeRecord, EntryType, Ownership } from "./journal.ts";

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

/** Options of {@link repair} (docs/repair.md's options). */
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

function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

function basename(p: string): string {
  const s = p.replace(/\/+$/, "");
  return s.slice(s.lastIndexOf("/") + 1);
}

/**
 * Excluded folders are matched against the paths the walker builds (the
 * root as given, then names). Also accept other spellings of the same
 * folder (absolute for a relative root, through a linked root, ...).
 */
function mapExcludes(
  root: string,
  exclude: (string | Uint8Array)[] | undefined,
): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  let realRoot: string | undefined;
  try {
    realRoot = Deno.realPathSync(root);
  } catch {
    realRoot = undefined;
  }
  const given = normaliseFolder(root);
  for (const e of exclude ?? []) {
    if (typeof e !== "string") { // bytes (not UTF-8): taken as the walk spells them
      out.push(e);
      continue;
    }
    const n = normaliseFolder(e);
    out.push(n);
    if (!realRoot) continue;
    try {
      const real = `${Deno.realPathSync(dirname(n)).replace(/\/$/, "")}/${basename(n)}`;
      const prefix = realRoot === "/" ? "/" : realRoot + "/";
      if (real.startsWith(prefix)) {
        const walked = `${given === "/" ? "" : given}/${real.slice(prefix.length)}`;
        if (walked !== n) out.push(walked);
      }
    } catch {
      // not there (yet): the spelling given is all we have
    }
  }
  return out;
}

function openAppend(path: string): number {
  const b = pathBytes(path);
  const fd = native().pw_fd_open(b, BigInt(b.length));
  if (fd < 0) throw errnoError(-fd, `pwalk: ${path}: cannot open (errno ${-fd})`);
  return fd;
}

interface ChangeOutcome {
  counters: Counters;
  errors: WalkError[];
  elapsedMs: number;
  list?: ChangeRecord[];
}

/** Run a repair or chown job with its journal, change records and summary. */
async function runChangeJob(opts: NativeOption[], o: ChangeOptions): Promise<ChangeOutcome> {
  if (o.apply) opts.push([Opt.APPLY, 1]);
  if (o.printChanges) opts.push([Opt.CHANGES_FD, 1]);
  if (o.printErrors) opts.push([Opt.ERROR_FD, 2]);
  const records = !!(o.listChanges || o.onChange);
  if (records) opts.push([Opt.RECORDS, 1]);
  const list: ChangeRecord[] | undefined = o.listChanges ? [] : undefined;
  let journalFd: number | undefined;
  let out: ChangeOutcome;
  try {
    if (o.journal !== undefined) {
      journalFd = openAppend(o.journal);
      opts.push([Opt.JOURNAL_FD, journalFd]);
    }
    await using job = await NativeJob.start(opts, (p) => native().pw_repair_start(p), o);
    if (records) {
      for await (const batch of job.batches()) {
        for (const d of batch) {
          if (d.kind !== RecKind.CHANGE) continue;
          list?.push(d.change);
          o.onChange?.(d.change);
        }
      }
    }
    out = { ...await job.finish(), list };
  } finally {
    const rc = journalFd === undefined ? 0 : native().pw_fd_close(journalFd);
    if (rc < 0) {
      // deno-lint-ignore no-unsafe-finally
      throw errnoError(-rc, `pwalk: ${o.journal}: the journal could not be saved (errno ${-rc})`);
    }
  }
  return out;
}

function summary(root: string, o: ChangeOptions, r: ChangeOutcome): ChangeSummary {
  const c = r.counters;
  const s: ChangeSummary = {
    root,
    applied: !!o.apply,
    entriesSeen: c.entries,
    folders: c.folders,
    entriesChanged: c.entriesChanged,
    changes: {
      total: c.changes,
      mode: c.modeChanges,
      group: c.groupChanges,
      setgid: c.setgidAdded,
    },
    errors: c.errors,
    errorDetails: r.errors,
    journal: o.journal ?? null,
    elapsedMs: r.elapsedMs,
  };
  if (r.list) s.changeList = r.list;
  return s;
}

/**
 * Repair group sharing below `root` (docs/repair.md, repair-shared's
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
    exclude: mapExcludes(root, options.exclude),
  });
  if (options.forceGroupWritable) opts.push([Opt.FORCE_GW, 1]);
  for (const g of options.changeGids ?? []) opts.push([Opt.CHANGE_GID, checkId("changeGids", g)]);
  const r = await runChangeJob(opts, options);
  return { ...summary(root, options, r), noAncestor: r.counters.noAncestor };
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
  const opts = commonNative(root, { ...options, exclude: mapExcludes(root, options.exclude) });
  opts.push([Opt.CHOWN_FROM, checkId("from", options.from)]);
  opts.push([Opt.CHOWN_UID, checkId("to.uid", options.to.uid)]);
  if (options.to.gid !== undefined) opts.push([Opt.CHOWN_GID, checkId("to.gid", options.to.gid)]);
  const r = await runChangeJob(opts, options);
  return summary(root, options, r);
}
