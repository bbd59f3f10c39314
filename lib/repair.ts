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
import { ensureNative, native, Opt, RecKind } from "./ffi.ts";
import {
  checkBools,
  checkExcludeNotRoot,
  checkFunctions,
  checkInt,
  checkOptionNames,
  checkRootPath,
  COMMON_OPTIONS,
  commonNative,
  type CommonOptions,
  type OptionNames,
  typed,
  withoutNulls,
} from "./options.ts";
import { type Counters, NativeJob, type NativeOption, type WalkError } from "./job.ts";
import { codeError, errnoError, errnoText } from "./errno.ts";
import type { ChangeRecord } from "./journal.ts";
import {
  dropUnwritten,
  fsPath,
  mountTable,
  type OpenJournal,
  openJournal,
  RefusedError,
} from "./journal_file.ts";
import { logCount, logPath, syslogLine, whoRuns } from "./syslog.ts";
import { onQuit } from "./interrupt.ts";
import { readProcFile, unlessRefused } from "./procfs.ts";
import { runningUid } from "./fetchlib.ts";
import { oneLine } from "./utf8.ts";

export type { ChangeKind, ChangeRecord, EntryType, Ownership } from "./journal.ts";

/**
 * Options that repair() and chown() share: the common ones but `frontier`,
 * which is a TypeError. A repair or chown walks the whole tree from its
 * root: a shard's frontier folders alone would leave the root and the
 * folders above them unchanged, reach only the names of a hard-linked
 * file that lie in that shard (the others are in other shards: never
 * changed), and repair would not know the shared groups of the folders
 * above them (their private entries left alone, as if none had one).
 */
export interface ChangeOptions extends Omit<CommonOptions, "frontier"> {
  /** Make the changes. Default false: a dry run that plans and reports them but changes nothing. */
  apply?: boolean;
  /**
   * The journal: one line for every change, written before the change, for
   * `undo(file)`. Default with `apply: true`: a new file (0600) in
   * `$XDG_STATE_HOME/pwalk/` or `~/.local/state/pwalk/` (created 0700),
   * named in the summary's `journal`; none in a dry run. A path: that file,
   * created 0600, or appended to when it exists and is a journal of the
   * running user that nobody else may write (it starts with a journal
   * header: an existing empty file is refused too, `RefusedError`; name a
   * new file). `false`: no journal. Never a
   * symbolic link, never inside the tree, never in a folder another user
   * can change (one on the way hers, or writable by others and not sticky:
   * she could rename it away; all refused, `RefusedError`). A
   * dry run with a journal writes its plan, which undo() skips. A run that
   * fails before any line of it is written (a full disk under the header)
   * changed nothing: a journal file it created is removed then, and its
   * error says so (`; nothing was changed (the journal FILE, empty, was
   * removed)`).
   */
  journal?: string | false;
  /**
   * Called with the journal's path once it is open, before anything
   * changes. If it throws (or, async, its promise rejects: it is awaited),
   * the run rejects with what it threw, nothing changed.
   */
  onJournal?: (path: string) => void;
  /** Keep every change in the summary's `changeList` (memory grows with the changes). */
  listChanges?: boolean;
  /**
   * Called with each change made (or planned, in a dry run), in batches
   * while the run goes on (a value that is not a function: a TypeError
   * before anything changes). An async one is awaited before the next. If
   * it throws (or its promise rejects), the run stops and rejects with
   * what it threw; with `apply` the changes made so far stay, each in the
   * journal (written before the change), which {@link undo} puts back.
   */
  onChange?: (change: ChangeRecord) => void;
  /**
   * Print the CLI's change lines to stdout (the CLI does). Default false.
   * The list is never cut short silently: a stdout that cannot take a
   * line (a full disk) stops the run with `pwalk: cannot write stdout: ...`
   * (with `apply`, the changes made so far stay, each in the journal); a
   * closed pipe (`| head`) stops a dry run so too (a Deno.errors.BrokenPipe),
   * while with `apply` it ends the lines alone, and the run goes on.
   */
  printChanges?: boolean;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /**
   * With printErrors: each error line starts by clearing the terminal's
   * current line, where a progress line is drawn (the CLI's). Default false.
   */
  clearLineBeforeErrors?: boolean;
  /** Allow a root of `/` (or `/` bind-mounted elsewhere; refused otherwise). Default false. */
  force?: boolean;
  /**
   * Allow a root that is a system folder or below one (`/bin /boot /dev
   * /etc /lib /lib64 /proc /root /sbin /sys /usr`, by real path: a link to
   * one counts; and through a mount: a bind mount of one, or of a folder
   * below one; and the daemons' state, `/var/cache /var/lib /var/log
   * /var/mail /var/spool`, by real path only), and for repair one of
   * `/home /media /mnt /opt /srv /tmp /var /var/tmp` itself (by real path;
   * not a folder below it). Refused otherwise. Default false.
   */
  allowSystem?: boolean;
}

const { frontier: _frontier, ...NOT_FRONTIER } = COMMON_OPTIONS;
/** The names of {@link ChangeOptions}. */
const CHANGE_OPTIONS: OptionNames<ChangeOptions> = {
  ...NOT_FRONTIER,
  apply: true,
  journal: true,
  onJournal: true,
  listChanges: true,
  onChange: true,
  printChanges: true,
  printErrors: true,
  clearLineBeforeErrors: true,
  force: true,
  allowSystem: true,
};
const { pwalkDepth: _pwalkDepth, ...NOT_DEPTH } = CHANGE_OPTIONS;
/** The names of {@link RepairOptions} (any other: a TypeError). */
export const REPAIR_OPTIONS: OptionNames<RepairOptions> = {
  ...NOT_DEPTH,
  changeGids: true,
  forceGroupWritable: true,
};
/** The names of {@link ChownOptions} (any other: a TypeError). */
export const CHOWN_OPTIONS: OptionNames<ChownOptions> = { ...CHANGE_OPTIONS, from: true, to: true };

/** Options of {@link repair} (docs/repair.md's options). */
export interface RepairOptions extends Omit<ChangeOptions, "pwalkDepth"> {
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
  /**
   * Owner changes (chown: each entry given UID's new owner, and group, in
   * one lchown, its set-id bits dropped by the kernel as a consequence, not
   * counted apart); 0 for repair.
   */
  owner: number;
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
  /**
   * Changed (or, in a dry run, planned) entries of any type but a folder
   * that have other names (hard links, st_nlink above 1): regular files,
   * and FIFOs, sockets and, under chown, device nodes and symbolic links
   * too (link(2) takes any of them). Each change reaches every name
   * (repair changes one only when all its names lie in the tree; chown
   * whatever they are). The dry run's lines flag them.
   */
  hardLinked: number;
  /** Errors (refused changes, unreadable folders, races, the no-ancestor notice). */
  errors: number;
  /** The first errors (up to `maxErrors`), in detail. */
  errorDetails: WalkError[];
  /** Every change, when `listChanges` was set. */
  changeList?: ChangeRecord[];
  /** The journal file written (the default one, or `journal`), or null. */
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

/** A uid or gid: 0 to 4294967294 ((uid_t)-1 means "no change" to chown). */
const checkId = (name: string, v: number): number => checkInt(name, v, 0, 0xfffffffe);

/** The daemons' own state, refused by real path (see {@link SYSTEM_FOLDERS}). */
const DAEMON_STATE = ["/var/cache", "/var/lib", "/var/log", "/var/mail", "/var/spool"];

/**
 * The system folders a root may not be, nor be below, without
 * `allowSystem` (`--allow-system`): python-pwalk's protected list, and the
 * folders of the system's daemons' own state (`/var/lib`, `/var/spool`...:
 * a database's files made group-readable, a daemon's key folder opened to
 * its group, are no project's sharing). Those of the daemons are compared
 * by real path only, not through mounts: file systems are bound below
 * /var/lib (a container runtime's volumes) that are also mounted as
 * project space.
 *
 * @example
 * ```ts ignore
 * SYSTEM_FOLDERS.includes("/etc"); // true
 * ```
 */
export const SYSTEM_FOLDERS: readonly string[] = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib64",
  "/proc",
  "/root",
  "/sbin",
  "/sys",
  "/usr",
  ...DAEMON_STATE,
];

/**
 * Folders that hold many unrelated trees, which repair (not chown: a
 * departed user's files across /home are its use) refuses as a root
 * itself without `allowSystem`, though not a project folder below them: a
 * group-sharing repair of all /srv or /var at once is a slip of the hand.
 *
 * @example
 * ```ts ignore
 * SHARED_TOPS.includes("/srv"); // true: "/srv/projects/genome" is repaired
 * ```
 */
export const SHARED_TOPS: readonly string[] = [
  "/home",
  "/media",
  "/mnt",
  "/opt",
  "/srv",
  "/tmp",
  "/var",
  "/var/tmp",
];

function realOr(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/**
 * The system folder `path` (a real path) is, or is below, by its path;
 * `daemons`: the daemons' state folders count too.
 */
function systemOf(path: string, daemons = true): string | undefined {
  for (const f of SYSTEM_FOLDERS) {
    if (!daemons && DAEMON_STATE.includes(f)) continue;
    for (const s of new Set([f, realOr(f)])) {
      if (path === s || path.startsWith(`${s}/`)) return f;
    }
  }
  return undefined;
}

/**
 * The system folder the folder whose real path is `real` is, or is below,
 * through a mount (a bind mount of it, of a folder below it, or of a
 * folder above `real`): "F" or "PATH, below F" (PATH: the folder's path
 * there), or undefined. Compared by device and inode (`real` and the
 * folders above it, with each system folder: needs no /proc), and by
 * /proc/self/mountinfo: a bind mount of `/usr/share/doc` has no inode of
 * `/usr`'s, but shows the folder `/usr/share/doc` of the file system
 * mounted at `/`, which every mount of that file system shows at its own
 * path: a folder of it that one of them shows below a system folder is
 * below that system folder.
 */
function systemThroughMount(real: string): string | undefined {
  const stat = (p: string, pseudo = false) => {
    try {
      return Deno.statSync(p);
    } catch (e) {
      // (not looked at is no answer; but Deno opens /dev, /proc and /sys
      // only to --allow-all: file systems of their own, whose mounts
      // elsewhere the mount table below tells)
      if (!pseudo) unlessRefused(e);
      return undefined;
    }
  };
  const shown = (f: string, at: string) => at === f || at === realOr(f) ? f : `${at}, below ${f}`;
  const pseudo = ["/dev", "/proc", "/sys"];
  const systems = SYSTEM_FOLDERS.filter((f) => !DAEMON_STATE.includes(f))
    .map((f) => ({ f, st: stat(f, pseudo.includes(f)) }));
  for (let a = real; a !== "/"; a = a.slice(0, a.lastIndexOf("/")) || "/") {
    const st = stat(a);
    for (const s of systems) {
      if (st && s.st && s.st.dev === st.dev && s.st.ino === st.ino) {
        return shown(s.f, s.f + real.slice(a.length));
      }
    }
  }
  const table = mountTable();
  const mine = table && fsPath(table, real);
  if (!table || !mine) return undefined;
  for (const m of table) {
    if (m.dev !== mine.dev) continue;
    const top = m.root === "/" ? "" : m.root;
    if (mine.path !== m.root && !mine.path.startsWith(`${top}/`)) continue;
    const at = ((m.at === "/" ? "" : m.at) + mine.path.slice(top.length)) || "/";
    const f = systemOf(at, false); // (the daemons' folders by ROOT's own path only)
    if (f) return shown(f, at);
  }
  return undefined;
}

/**
 * Why a change run may not start at the folder whose real path is `real`,
 * or undefined: `/` without force, a system folder (or below one, by real
 * path, or through a mount: by device and inode, and by the folder a mount
 * shows) without allowSystem. `kind` names the run in the message.
 *
 * @example
 * ```ts ignore
 * rootRefusal("repair", "/usr/share", {}); // "refusing to repair /usr/share: a system folder (/usr); ..."
 * rootRefusal("repair", "/projects/genome", {}); // undefined
 * ```
 */
export function rootRefusal(
  kind: string,
  real: string,
  o: { force?: boolean; allowSystem?: boolean },
): string | undefined {
  const force = "add --force (API: force: true) if you really mean it";
  if (real === "/") {
    return o.force ? undefined : `refusing to ${kind} / (the whole file system): ${force}`;
  }
  if (!o.force) {
    // `/` mounted elsewhere (mount --bind / DIR): the whole file system again
    const [st, top] = [real, "/"].map((p) => {
      try {
        return Deno.statSync(p);
      } catch (e) {
        unlessRefused(e);
        return undefined;
      }
    });
    if (st && top && st.dev === top.dev && st.ino === top.ino) {
      return `refusing to ${kind} ${real}: / (the whole file system), through a mount: ${force}`;
    }
  }
  if (o.allowSystem) return undefined;
  const system = "add --allow-system (API: allowSystem: true) if you really mean it";
  const f = systemOf(real);
  if (f) return `refusing to ${kind} ${real}: a system folder (${f}); ${system}`;
  const top = kind === "repair" &&
    SHARED_TOPS.find((t) => real === t || real === realOr(t));
  if (top) {
    return `refusing to ${kind} ${real}: ${top} holds many unrelated trees: give the project ` +
      `folder below it, or ${system.slice(0, system.indexOf(" if "))} if you really mean it`;
  }
  const mounted = systemThroughMount(real);
  if (mounted) {
    return `refusing to ${kind} ${real}: a system folder (${mounted}, through a mount); ${system}`;
  }
  return undefined;
}

/**
 * Check the root: a non-empty string, not refused ({@link rootRefusal}:
 * throws RefusedError). Returns its real path.  A root that cannot be
 * resolved is not walked at all (fail closed: a moment later it could be a
 * link to a system folder that no check has seen): the error the engine
 * would give, e.g. Deno.errors.NotFound "pwalk: ROOT: No such file or
 * directory".
 */
function checkRoot(kind: string, root: string, o: ChangeOptions): string {
  checkRootPath(root);
  let real: string;
  try {
    real = Deno.realPathSync(root);
  } catch (e) {
    // the class and `code` report() and walk() give for the same root
    // (FilesystemLoop "ELOOP" for a link loop, not a plain Error)
    const code = (e as { code?: unknown }).code;
    const text = typeof code === "string" ? errnoText(code) : undefined;
    if (text) throw codeError(code as string, `pwalk: ${oneLine(root)}: ${text}`);
    throw new Error(`pwalk: ${oneLine(root)}: ${oneLine((e as Error).message)}`);
  }
  const why = rootRefusal(kind, real, o);
  if (why) throw new RefusedError(`pwalk: ${oneLine(why)}`);
  return real;
}

/**
 * The options of a repair or chown that are checked before anything else
 * (before the root is resolved; `apply: "false"` would be truthy): the
 * boolean ones (`more` besides the shared ones), the callbacks, the
 * journal, and no `frontier`.
 */
function checkChangeOptions(o: ChangeOptions, more: string[]): void {
  if ((o as { frontier?: unknown }).frontier !== undefined) {
    throw new TypeError(
      "pwalk: frontier is for report() and walk() shards, not repair() or chown(): they walk " +
        "the whole tree from the root (a shard's folders alone would leave the folders above " +
        "them unchanged, and miss its hard links' other names)",
    );
  }
  checkBools(o, [
    "apply",
    "listChanges",
    "printChanges",
    "printErrors",
    "clearLineBeforeErrors",
    "force",
    "allowSystem",
    ...more,
  ]);
  checkFunctions(o, ["onChange", "onJournal"]);
  if (
    o.journal !== undefined && o.journal !== false &&
    (typeof o.journal !== "string" || o.journal === "")
  ) {
    throw new TypeError(`pwalk: journal must be a file path or false, got ${typed(o.journal)}`);
  }
}

interface ChangeOutcome {
  counters: Counters;
  errors: WalkError[];
  elapsedMs: number;
  list?: ChangeRecord[];
  journal: string | null;
}

/** Run a repair or chown job with its journal, change records, syslog line and summary. */
async function runChangeJob(
  kind: "repair" | "chown",
  root: string,
  real: string,
  opts: NativeOption[],
  o: ChangeOptions,
): Promise<ChangeOutcome> {
  // The job walks only the folder whose real path was checked (a folder on
  // the way swapped for a link between the two lookups fails it).
  opts.push([Opt.ROOT_REAL, real]);
  if (o.apply) opts.push([Opt.APPLY, 1]);
  if (o.printChanges) opts.push([Opt.CHANGES_FD, 1]);
  if (o.printErrors) opts.push([Opt.ERROR_FD, 2]);
  if (o.printErrors && o.clearLineBeforeErrors) opts.push([Opt.ERROR_CLEAR, 1]);
  const records = !!(o.listChanges || o.onChange);
  if (records) opts.push([Opt.RECORDS, 1]);
  const list: ChangeRecord[] | undefined = o.listChanges ? [] : undefined;
  const wanted = o.journal ?? !!o.apply;
  let journal: OpenJournal | undefined;
  if (wanted !== false) {
    // the journal is opened through the library: loaded first (downloaded,
    // from JSR); aborted meanwhile, no journal is made
    await ensureNative();
    o.signal?.throwIfAborted();
    journal = await openJournal(kind, wanted === true ? undefined : wanted, real);
  }
  try {
    // (an async one awaited: its rejection is the run's, nothing changed)
    const r: unknown = journal ? o.onJournal?.(journal.path) : undefined;
    if (r instanceof Promise) await r;
  } catch (e) {
    native().pw_fd_close(journal!.fd);
    // nothing changed: the journal made for the run goes, as when it fails
    const note = dropUnwritten(journal!);
    if (note && e instanceof Error) {
      try {
        e.message += note;
      } catch { /* a message that cannot be set (DOMException) */ }
    }
    throw e;
  }
  let out: ChangeOutcome | undefined;
  let ended = "failed";
  let failure: { error: unknown } | undefined;
  try {
    if (journal) {
      opts.push([Opt.JOURNAL_FD, journal.fd]);
      // its folder is never changed, wherever a mount inside the tree shows
      // it: told by its path (the library also asks /proc for the
      // descriptor's, and the errors file's)
      const folder = realFolderOf(journal.path);
      if (folder) opts.push([Opt.GUARD_PATH, folder]);
    }
    await using job = await NativeJob.start(opts, (p) => native().pw_repair_start(p), o);
    // a process that quits without waiting for its workers (a second Ctrl-C
    // while one hangs in a file system) never reaches the finally below:
    // its applied run is logged all the same
    const forgetQuit = o.apply
      ? onQuit(() => logRun(kind, real ?? root, job.counters(), "quit", journal?.path))
      : () => {};
    try {
      if (records) {
        for (let batch; (batch = await job.nextBatch());) {
          for (const d of batch) {
            if (d.kind !== RecKind.CHANGE) continue;
            list?.push(d.change);
            const r: unknown = o.onChange?.(d.change);
            if (r instanceof Promise) await r; // its rejection stops the run, as a throw
          }
        }
      }
      out = { ...await job.finish(), list, journal: journal?.path ?? null };
      ended = "done";
    } catch (e) {
      if (o.signal?.aborted) ended = "stopped";
      throw e;
    } finally {
      forgetQuit();
      if (o.apply) logRun(kind, real ?? root, job.counters(), ended, journal?.path);
    }
  } catch (e) {
    failure = { error: e };
    throw e;
  } finally {
    const rc = journal ? native().pw_fd_close(journal.fd) : 0;
    // failed with nothing of the run in the journal: no journal to undo
    const note = failure && journal ? dropUnwritten(journal) : undefined;
    if (note && failure!.error instanceof Error) {
      try {
        failure!.error.message += note;
      } catch { /* a message that cannot be set (DOMException) */ }
    }
    if (rc < 0) {
      // deno-lint-ignore no-unsafe-finally
      throw errnoError(
        -rc,
        `pwalk: ${oneLine(journal!.path)}: the journal could not be saved (errno ${-rc})`,
      );
    }
  }
  return out;
}

/** The syslog line of an applied repair or chown. */
function logRun(
  kind: string,
  root: string,
  c: Counters,
  ended: string,
  journal: string | undefined,
): void {
  syslogLine(
    `${kind} --apply by ${whoRuns()} on ${logPath(root)}: ${ended}; ` +
      `${logCount(c.entries, "entry", "entries")} seen, ${c.entriesChanged} changed ` +
      `(${logCount(c.changes, "change")}), ${logCount(c.errors, "error")}; journal ` +
      (journal ? logPath(journal) : "none"),
  );
}

function summary(
  root: string,
  o: ChangeOptions,
  r: ChangeOutcome,
  kind: "repair" | "chown",
): ChangeSummary {
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
      owner: kind === "chown" ? c.changes - c.modeChanges - c.groupChanges - c.setgidAdded : 0,
    },
    hardLinked: c.hardLinked,
    errors: c.errors,
    errorDetails: r.errors,
    journal: r.journal,
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
 * **A dry run unless `apply: true`.** With `apply` a journal is written
 * (the default place unless `journal` names a file; `journal: false` for
 * none) so that {@link undo} can put everything back, and one line goes to
 * the system log. A root of `/` needs `force`, a system folder
 * (`SYSTEM_FOLDERS`, by real path or through a bind mount) `allowSystem`.
 *
 * @example Dry run: what would change?
 * ```ts
 * import { repair } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root (as the tests run): a project folder of group 4242 holding a
 * // file in root's private group 0 that the group cannot read
 * const project = await Deno.makeTempDir();
 * await Deno.chown(project, 0, 4242);
 * await Deno.writeTextFile(`${project}/a.txt`, "x", { mode: 0o600 });
 *
 * const plan = await repair(project, { listChanges: true });
 * assertEquals([plan.entriesSeen, plan.entriesChanged], [2, 1]); // the root is never changed
 * const c = plan.changeList![0];
 * assertEquals([c.path, c.kinds], [`${project}/a.txt`, ["group", "mode"]]);
 * assertEquals([c.new.gid, c.new.mode], [4242, 0o640]); // the folder's group, g+r
 * assertEquals((await Deno.lstat(`${project}/a.txt`)).gid, 0); // a dry run: unchanged
 * await Deno.remove(project, { recursive: true });
 * ```
 *
 * @example Apply, with a journal to undo it
 * ```ts
 * import { repair, undo } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root: a project folder of group 4242, a file in root's private group 0
 * const tmp = await Deno.makeTempDir();
 * const project = `${tmp}/project`;
 * const journal = `${tmp}/repair.journal`; // never inside the tree
 * await Deno.mkdir(project);
 * await Deno.chown(project, 0, 4242);
 * await Deno.writeTextFile(`${project}/a.txt`, "x", { mode: 0o600 });
 *
 * const s = await repair(project, { apply: true, journal });
 * assertEquals([s.entriesChanged, s.errors, s.journal], [1, 0, journal]);
 * assertEquals((await Deno.lstat(`${project}/a.txt`)).gid, 4242);
 * // changed your mind:
 * await undo(journal, { apply: true });
 * assertEquals((await Deno.lstat(`${project}/a.txt`)).gid, 0);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.NotADirectory} when the root is not a folder
 * @throws {RefusedError} (a Deno.errors.PermissionDenied) when the root is `/` without
 * `force`, a system folder without `allowSystem`, or the journal is inside the tree, a
 * link, or an existing file that is not a private journal of the running user
 * @throws the signal's reason when cancelled (changes made so far stay, and are in the journal)
 */
export async function repair(root: string, options: RepairOptions = {}): Promise<RepairSummary> {
  options = withoutNulls(options);
  checkOptionNames("repair", options, { ...REPAIR_OPTIONS, frontier: true }); // (frontier: below)
  checkChangeOptions(options, ["forceGroupWritable"]);
  if (options.changeGids !== undefined && !Array.isArray(options.changeGids)) {
    throw new TypeError(
      `pwalk: changeGids must be an array of group ids, got ${typed(options.changeGids)}`,
    );
  }
  const real = checkRoot("repair", root, options);
  const opts = commonNative(root, {
    ...options,
    pwalkDepth: undefined,
  });
  checkExcludeNotRoot(root, options.exclude);
  if (options.forceGroupWritable) opts.push([Opt.FORCE_GW, 1]);
  for (const g of options.changeGids ?? []) opts.push([Opt.CHANGE_GID, checkId("changeGids", g)]);
  const r = await runChangeJob("repair", root, real, opts, options);
  return { ...summary(root, options, r, "repair"), noAncestor: r.counters.noAncestor };
}

/**
 * pwalk's `--chown_from UID --chown_to UID:GID`: every entry below and
 * including `root` owned by `from` gets the owner `to.uid` (and the group
 * `to.gid` when given). Symbolic links are changed themselves (lchown),
 * never their targets.
 *
 * **A dry run unless `apply: true`**; the journal, the refusals and the
 * system log line as for {@link repair}.
 *
 * @example Give a departed user's files to the project account
 * ```ts
 * import { chown } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root: a project holding a file of uid 1042 and one of root's
 * const tmp = await Deno.makeTempDir();
 * const project = `${tmp}/project`;
 * await Deno.mkdir(project);
 * await Deno.writeTextFile(`${project}/old.txt`, "x");
 * await Deno.chown(`${project}/old.txt`, 1042, 1042);
 * await Deno.writeTextFile(`${project}/mine.txt`, "y");
 *
 * const s = await chown(project, {
 *   from: 1042,
 *   to: { uid: 2000, gid: 2000 },
 *   apply: true,
 *   journal: `${tmp}/chown-1042.journal`,
 * });
 * assertEquals(s.entriesChanged, 1);
 * const old = await Deno.lstat(`${project}/old.txt`);
 * assertEquals([old.uid, old.gid], [2000, 2000]);
 * assertEquals((await Deno.lstat(`${project}/mine.txt`)).uid, 0); // not 1042's: left alone
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.NotADirectory} when the root is not a folder
 * @throws {RefusedError} as {@link repair}; and with `apply`, without
 * CAP_CHOWN (not root), for a `to.uid` that is not `from`, or a `from` that
 * is not the caller: the system would refuse every entry
 */
export async function chown(root: string, options: ChownOptions): Promise<ChownSummary> {
  options = withoutNulls(options);
  checkOptionNames("chown", options, { ...CHOWN_OPTIONS, frontier: true }); // (frontier: below)
  if (!options || options.from === undefined || !options.to) {
    throw new TypeError("pwalk: chown needs { from: uid, to: { uid, gid? } }");
  }
  if (typeof options.to !== "object") {
    throw new TypeError(
      `pwalk: chown's to must be an object { uid, gid? }, got ${typed(options.to)}`,
    );
  }
  checkChangeOptions(options, []);
  const real = checkRoot("chown", root, options);
  const opts = commonNative(root, options);
  checkExcludeNotRoot(root, options.exclude);
  opts.push([Opt.CHOWN_FROM, checkId("from", options.from)]);
  opts.push([Opt.CHOWN_UID, checkId("to.uid", options.to.uid)]);
  if (options.to.gid !== undefined) opts.push([Opt.CHOWN_GID, checkId("to.gid", options.to.gid)]);
  // Without CAP_CHOWN the system refuses every entry of such a run (an
  // error line and a journal line each, and an undo offered for a run that
  // changed nothing): one line instead, before anything is written.
  const power = options.apply ? chownPower() : undefined;
  if (power && !power.cap) {
    const from = options.from, uid = options.to.uid, gid = options.to.gid;
    const why = "the system would refuse every one; run it as root (with CAP_CHOWN)";
    if (uid !== from) {
      throw new RefusedError(
        `pwalk: chown: giving uid ${from}'s entries to uid ${uid} needs CAP_CHOWN (root's), ` +
          `which this process lacks: ${why} (without it an owner can change only the group ` +
          `of her own entries, to one she is in: --chown_to ${from}:GID as uid ${from})`,
      );
    }
    if (from !== power.uid) {
      throw new RefusedError(
        `pwalk: chown: changing the group of uid ${from}'s entries needs CAP_CHOWN (root's) ` +
          `or being uid ${from}, and this process is uid ${power.uid}: ${why}`,
      );
    }
    if (gid !== undefined && power.groups && !power.groups.has(gid)) {
      throw new RefusedError(
        `pwalk: chown: giving entries to group ${gid} needs CAP_CHOWN (root's) or being in ` +
          `that group, which this process is not: ${why}`,
      );
    }
  }
  const r = await runChangeJob("chown", root, real, opts, options);
  return summary(root, options, r, "chown");
}

/**
 * What the kernel's chown checks by: whether this process has CAP_CHOWN
 * (Linux: /proc/self/status's CapEff, bit 0; elsewhere: being root), the
 * uid files are checked against (the file-system uid: the effective one),
 * and the groups it is in (undefined where not known). Without CAP_CHOWN
 * the system refuses every chown to another owner, of another owner's
 * file, or to a group the caller is not in.
 */
function chownPower(): { cap: boolean; uid: number; groups?: Set<number> } {
  if (Deno.build.os === "linux") {
    try {
      const text = new TextDecoder().decode(readProcFile("/proc/self/status"));
      const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
      const uid = /^Uid:\s+\d+\s+\d+\s+\d+\s+(\d+)$/m.exec(text); // real, effective, saved, fs
      const gid = /^Gid:\s+\d+\s+\d+\s+\d+\s+(\d+)$/m.exec(text);
      const groups = /^Groups:([\d \t]*)$/m.exec(text); // (a tab, then ids and blanks)
      if (cap && uid && gid && groups) {
        return {
          cap: (BigInt(`0x${cap[1]}`) & 1n) === 1n,
          uid: Number(uid[1]),
          groups: new Set([gid[1], ...groups[1].trim().split(/\s+/).filter(Boolean)].map(Number)),
        };
      }
    } catch { /* no /proc: as root or not, below */ }
  }
  const uid = runningUid();
  return { cap: uid === 0, uid };
}

/** The real path of the folder holding the file at path, or undefined. */
function realFolderOf(path: string): string | undefined {
  try {
    const real = Deno.realPathSync(path);
    return real.slice(0, real.lastIndexOf("/")) || "/";
  } catch {
    return undefined;
  }
}
