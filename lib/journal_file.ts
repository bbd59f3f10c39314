/**
 * The journal as a file: where it goes by default, opening it for a run
 * (never through a link, never inside the tree being changed, a new file
 * unless named), and reading it for undo (only a regular file of the
 * running user that nobody else may write, as ssh and sudo treat theirs).
 * The format itself is lib/journal.ts's.
 *
 * @module
 */
import { JournalFlag, native } from "./ffi.ts";
import { errnoError, errnoName } from "./errno.ts";
import { checkJournal, JOURNAL_MAGIC, startsAsJournal } from "./journal.ts";
import { pathBytes } from "./job.ts";
import { osErrorText } from "./outfile.ts";
import { untrustedAncestor } from "./trust.ts";
import { runningUid } from "./fetchlib.ts";
import { readProcFile, unlessRefused } from "./procfs.ts";
import { oneLine } from "./utf8.ts";

/**
 * A run, or an undo, refused before anything changed: a protected ROOT, a
 * journal inside the tree, a journal file that is not safe to trust. The
 * CLI prints its message on one line and exits 2.
 *
 * @example
 * ```ts
 * import { RefusedError, repair } from "jsr:@pwalk/cli";
 * import { assertRejects } from "@std/assert";
 *
 * // a system folder: refused, a dry run too
 * await assertRejects(() => repair("/usr"), RefusedError, "a system folder (/usr)");
 * // a journal inside the tree it records
 * const tmp = await Deno.makeTempDir();
 * await assertRejects(
 *   () => repair(tmp, { apply: true, journal: `${tmp}/repair.journal` }),
 *   RefusedError,
 *   "would be inside the tree",
 * );
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class RefusedError extends Deno.errors.PermissionDenied {
  /** A refusal that `message` explains (named "RefusedError"). */
  constructor(message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

function getEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch (e) {
    // not allowed to read it (--allow-env=HOME): said so, never taken for
    // unset (a set XDG_STATE_HOME passed over, the journal put elsewhere)
    unlessRefused(e);
    return undefined;
  }
}

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");

/**
 * The running user's id: without --allow-sys too (a Deno.uid() thrown after
 * pw_journal_open made the file would leave it behind, open and locked).
 */
function me(): number {
  return runningUid();
}

/**
 * Why a file may not serve as a journal, or undefined: it must be a
 * regular file, owned by the running user, and writable by nobody else.
 * `what` describes the file (`isFile`, `uid`, `mode` of its fstat).
 *
 * @example
 * ```ts ignore
 * journalFileProblem({ isFile: true, uid: 0, mode: 0o100620 }); // "writable by group or others (mode 0620)"
 * ```
 */
export function journalFileProblem(what: { isFile: boolean; uid: number; mode: number }):
  | string
  | undefined {
  if (!what.isFile) return "not a regular file";
  const uid = me();
  if (what.uid !== uid) return `owned by uid ${what.uid}, not by you (uid ${uid})`;
  if (what.mode & 0o022) return `writable by group or others (mode ${octal(what.mode)})`;
  return undefined;
}

/**
 * The folder default journals go to: `$XDG_STATE_HOME/pwalk`, else
 * `$HOME/.local/state/pwalk`. Refused when neither variable is set to an
 * absolute path (a relative one is ignored, as the XDG spec says).
 *
 * @example
 * ```ts ignore
 * defaultJournalDir(); // "/root/.local/state/pwalk" (HOME=/root, no XDG_STATE_HOME)
 * ```
 */
export function defaultJournalDir(): string {
  // The XDG spec: a relative XDG_STATE_HOME is invalid, and ignored.
  const xdg = getEnv("XDG_STATE_HOME");
  const home = getEnv("HOME");
  const state = xdg?.startsWith("/") ? xdg : home?.startsWith("/")
    // HOME=/home/alice/ (or /): no doubled slash in the path shown
    ? `${home.replace(/\/+$/, "")}/.local/state`
    : undefined;
  if (!state) {
    throw new RefusedError(
      "pwalk: no place for the journal (neither XDG_STATE_HOME nor HOME is an absolute path): " +
        "give --journal FILE (API: journal) outside the tree",
    );
  }
  return `${state.replace(/\/+$/, "")}/pwalk`;
}

/**
 * Create the default journal folder (0700) if missing; refused when it is
 * a link, or not the running user's, or writable by others.
 */
function makePrivateDir(dir: string): void {
  // Folders on the way that someone else could change (sudo -E keeps a
  // user's HOME: they could make .local/state a link elsewhere, or swap it
  // back later) are refused, before anything is made through them and
  // after, as ssh treats the folders above its files.
  const before = untrustedAncestor(dir, me());
  if (before) {
    throw new RefusedError(`pwalk: journal folder ${oneLine(dir)}: ${before}: give --journal FILE`);
  }
  // the folders made now, outermost first: each one's parent is synced
  // after, so that a power loss keeps the journal's folder too
  const made: string[] = [];
  for (let d = dir; d !== "/" && d !== "." && !exists(d); d = parentOf(d)) made.unshift(d);
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    // no access where it goes (run as another user, HOME left as it was):
    // the journal has to be given, as for the refusals here
    if (e instanceof Error) {
      e.message = `pwalk: journal folder ${oneLine(dir)}: cannot be created: ${osErrorText(e)}: ` +
        "give --journal FILE (API: journal)";
    }
    throw e;
  }
  const after = untrustedAncestor(dir, me());
  if (after) {
    throw new RefusedError(`pwalk: journal folder ${oneLine(dir)}: ${after}: give --journal FILE`);
  }
  for (const d of made) syncFolder(parentOf(d));
  const s = Deno.lstatSync(dir);
  const uid = me();
  if (!s.isDirectory || s.uid !== uid || (s.mode! & 0o022)) {
    throw new RefusedError(
      `pwalk: ${oneLine(dir)}: not a private folder of yours (${
        s.isSymlink ? "a symbolic link" : `owner uid ${s.uid}, mode ${octal(s.mode!)}`
      }): give --journal FILE (API: journal)`,
    );
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    unlessRefused(e);
    return false;
  }
}

function parentOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i > 0 ? path.slice(0, i) : i === 0 ? "/" : ".";
}

/** fsync a folder (best effort: one that cannot be opened is left to the file system). */
function syncFolder(dir: string): void {
  try {
    using f = Deno.openSync(dir, { read: true });
    f.syncSync();
  } catch { /* not readable, or a file system without fsync of folders */ }
}

/**
 * A default journal's file name: `repair-20261125T123456Z-4242.journal`.
 *
 * @example
 * ```ts ignore
 * defaultJournalName("repair"); // "repair-20261125T123456Z-4242.journal"
 * ```
 */
export function defaultJournalName(kind: string, now: Date = new Date(), n = 0): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${kind}-${stamp}-${Deno.pid}${n ? `-${n}` : ""}.journal`;
}

/** `path`'s folder, made absolute. */
function folderOf(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const i = abs.lastIndexOf("/");
  return i <= 0 ? "/" : abs.slice(0, i);
}

/** Whether `path` is `folder` or below it (both real paths). */
function below(path: string, folder: string): boolean {
  return folder === "/" || path === folder || path.startsWith(`${folder}/`);
}

/**
 * The real path of `path` as far as it exists (links resolved), with the
 * names that do not exist yet after it.
 */
function realAsFarAsItExists(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const rest: string[] = [];
  for (let p = abs;;) {
    try {
      const real = Deno.realPathSync(p || "/");
      return [real === "/" ? "" : real, ...rest].join("/") || "/";
    } catch (e) {
      unlessRefused(e); // (not looked at is not "not there")
      const i = p.lastIndexOf("/");
      if (i < 0) return abs;
      rest.unshift(p.slice(i + 1));
      p = p.slice(0, i);
    }
  }
}

/** A mount of /proc/self/mountinfo: its id, its parent's, its file system
 * (major:minor), the folder of that file system it shows, and where. */
export interface Mount {
  id: number;
  parent: number;
  dev: string;
  root: string;
  at: string;
}

/**
 * The mounts of this process's namespace, or undefined (no /proc). Read
 * without `--allow-all` too (lib/procfs.ts): the checks that ask it must
 * not pass for want of a permission.
 */
export function mountTable(): Mount[] | undefined {
  const bytes = readProcFile("/proc/self/mountinfo");
  if (!bytes) return undefined;
  const text = new TextDecoder().decode(bytes);
  // a space, tab, newline or backslash in a path is written \ooo
  const path = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const table: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length < 5) continue;
    table.push({ id: +f[0], parent: +f[1], dev: f[2], root: path(f[3]), at: path(f[4]) });
  }
  return table;
}

/**
 * The mount through which the real path `real` is reached, as the kernel
 * walks it (from the root mount, each component stepping onto what is
 * mounted there, the last mount on top: a mount hidden by a later one on a
 * folder above it is never reached), and the path within that mount's file
 * system the folder has.
 */
export function fsPath(table: Mount[], real: string): { dev: string; path: string } | undefined {
  const ids = new Set(table.map((m) => m.id));
  let cur: Mount | undefined;
  for (const m of table) if (m.at === "/" && !ids.has(m.parent)) cur = m;
  if (!cur) return undefined;
  const on = (at: string) => {
    for (let up = true; up;) {
      up = false;
      for (const m of table) {
        if (m.parent === cur!.id && m.at === at) {
          cur = m;
          up = true;
        }
      }
    }
  };
  on("/");
  let at = "";
  for (const part of real.split("/").filter((p) => p !== "")) on(at += `/${part}`);
  const rest = cur.at === "/" ? real : real.slice(cur.at.length);
  return { dev: cur.dev, path: ((cur.root === "/" ? "" : cur.root) + rest) || "/" };
}

/**
 * Whether `root` itself (its device and inode) is the folder `real` (a real
 * path, as far as it exists) or one of its folders above: the tree reached
 * by another path, a bind mount of it (`mount --bind ROOT /alias`), which
 * real paths do not tell.
 */
function rootAbove(real: string, rootReal: string): boolean {
  let root: Deno.FileInfo;
  try {
    root = Deno.lstatSync(rootReal);
  } catch (e) {
    unlessRefused(e);
    return false;
  }
  for (let p = real;;) {
    try {
      const s = Deno.lstatSync(p || "/");
      if (s.dev === root.dev && s.ino === root.ino) return true;
    } catch (e) {
      unlessRefused(e); // else a name that does not exist yet
    }
    if (p === "/" || p === "") return false;
    p = p.slice(0, p.lastIndexOf("/"));
  }
}

/**
 * Whether the folder whose real path is `real` (as far as it exists) is,
 * by /proc/self/mountinfo, ROOT's folder of the same file system or one
 * below it, reached through another mount: a bind mount of a folder of
 * the tree elsewhere (`mount --bind ROOT/u /alias`), which neither real
 * paths nor the device and inode of the folders above tell (`/alias` is
 * ROOT/u, and above it are `/` and its folders). Every mount shows a
 * folder of its file system (major:minor); two mounts of one file system
 * show the same folder by the same path within it. False without /proc.
 */
function insideThroughMount(real: string, rootReal: string): boolean {
  const table = mountTable();
  if (!table) return false;
  const at = fsPath(table, real), root = fsPath(table, rootReal);
  return !!at && !!root && at.dev === root.dev && below(at.path, root.path);
}

/**
 * Whether the file `path` would be inside the tree whose real path is
 * `rootReal`: the real path of its folder (as far as it exists) is that
 * or below it, or that folder or one above it is the root's very device
 * and inode (the tree bind-mounted elsewhere), or a mount shows it as
 * the root's folder or one below it (a folder of the tree bind-mounted
 * elsewhere); never for a root of `/` (which holds every file).
 */
export function insideTree(path: string, rootReal: string): boolean {
  if (rootReal === "/") return false;
  const real = realAsFarAsItExists(folderOf(path));
  return below(real, rootReal) || rootAbove(real, rootReal) ||
    insideThroughMount(real, rootReal);
}

/**
 * Refuse a journal inside the tree being changed: the real path of its
 * folder (as far as it exists) is the root's real path or below it, or the
 * root's device and inode is that folder or one above it (the tree
 * reached through a bind mount of it), or a mount shows that folder as
 * the root's or one below it (a folder of the tree bind-mounted
 * elsewhere). (A
 * root of `/`, allowed only with force, holds every file: there the engine
 * leaves the journal's device and inode out of the walk, as it always does.)
 *
 * @example
 * ```ts ignore
 * refuseJournalInTree("/p/genome/run.journal", "/p/genome"); // throws RefusedError
 * ```
 */
export function refuseJournalInTree(journal: string, rootReal: string): void {
  if (insideTree(journal, rootReal)) {
    throw new RefusedError(
      `pwalk: the journal ${oneLine(journal)} would be inside the tree ${oneLine(rootReal)}: ` +
        "put it outside (--journal FILE)",
    );
  }
}

/** An open journal: its fd for the native side, its path, and what it was when opened. */
export interface OpenJournal {
  /** For PW_OPT_JOURNAL_FD; close with pw_fd_close. */
  fd: number;
  /** The file. */
  path: string;
  /** Its device and inode (lstat's), to know it again by its path. */
  dev: number;
  /** Its inode number. */
  ino: number;
  /** Its size in bytes when opened (a torn last line cut off): what earlier runs left. */
  size: number;
  /** Whether this run created it (else an existing journal is appended to). */
  made: boolean;
}

/**
 * Open a journal for a run. `named`: the user named it (--journal FILE,
 * `journal: "FILE"`): an existing file is appended to if it passes the
 * checks ({@link journalFileProblem}, and it starts with a journal header:
 * an existing empty file is refused; and undo would read it: a bad line,
 * which makes undo refuse the whole file, refuses it), else a new file is
 * made. Not named:
 * the default place, always a new file (O_EXCL; another name if taken).
 * Never through a symbolic link; 0600.
 *
 * @example
 * ```ts ignore
 * const { fd, path } = await openJournal("repair", undefined, "/projects/genome"); // the default place
 * native().pw_fd_close(fd);
 * ```
 */
export async function openJournal(
  kind: "repair" | "chown",
  named: string | undefined,
  rootReal: string,
): Promise<OpenJournal> {
  if (named !== undefined) {
    refuseJournalInTree(named, rootReal);
    // as the default folder: in a folder another user can change (hers, or
    // one writable by others and not sticky) she could rename the journal
    // away, or put another of the runner's journals at its name, and undo
    // would not find this run's lines
    const why = untrustedAncestor(folderOf(named), me());
    if (why) {
      throw new RefusedError(
        `pwalk: journal ${named}: ${why}: another user could rename it away; ` +
          "give a folder only you and root can change",
      );
    }
    return { ...(await openChecked(named, false))!, path: named };
  }
  const dir = defaultJournalDir();
  const now = new Date();
  // the default journal's folder: refused by the name the journal would take
  refuseJournalInTree(`${dir}/${defaultJournalName(kind, now)}`, rootReal);
  makePrivateDir(dir);
  for (let n = 0;; n++) {
    const path = `${dir}/${defaultJournalName(kind, now, n)}`;
    const opened = await openChecked(path, true, n < 100);
    if (opened) return { ...opened, path };
  }
}

/**
 * A device or inode number of the library's (64 bits, read as signed) as
 * Deno.lstat gives it: unsigned, a number (rounded to the nearest above
 * 2^53, as Deno rounds it).
 */
const asDeno = (v: bigint) => Number(BigInt.asUintN(64, v));

/** A {@link RefusedError} for errno `n`, its name as `code` (as {@link errnoError} gives). */
function refusedErrno(n: number, message: string): RefusedError & { code: string } {
  return Object.assign(new RefusedError(message), { code: errnoName(n)[0] });
}

/** Why an existing empty file is refused as a journal. */
const EMPTY = "an empty file, not a pwalk journal";

/** pw_journal_open and the checks; undefined for a taken name when `retry`. */
async function openChecked(
  path: string,
  mustBeNew: boolean,
  retry = false,
): Promise<Omit<OpenJournal, "path"> | undefined> {
  const sym = native();
  const info = new BigInt64Array(7);
  const b = pathBytes(path);
  const fd = await sym.pw_journal_open(b, BigInt(b.length), mustBeNew ? JournalFlag.NEW : 0, info);
  if (fd < 0) {
    // each with the errno's name as `code`, as the API's other system
    // errors (a refusal stays a RefusedError: the CLI's status 2)
    const [name, text] = errnoName(-fd);
    if (name === "EEXIST" && retry) return undefined;
    if (name === "EAGAIN") { // EWOULDBLOCK
      throw errnoError(
        -fd,
        `pwalk: journal ${oneLine(path)}: in use by another run (it holds the journal's lock); ` +
          "wait for it to end, or give another --journal",
      );
    }
    if (name === "EISDIR") {
      throw refusedErrno(
        -fd,
        `pwalk: journal ${oneLine(path)}: a folder: give the journal a file name`,
      );
    }
    if (name === "ELOOP") {
      throw refusedErrno(
        -fd,
        `pwalk: journal ${oneLine(path)}: a symbolic link (a journal is never written through one)`,
      );
    }
    throw errnoError(-fd, `pwalk: journal ${oneLine(path)}: cannot be created or opened: ${text}`);
  }
  const mode = Number(info[2]);
  const problem = journalFileProblem({
    isFile: (mode & 0o170000) === 0o100000,
    uid: Number(info[3]),
    mode,
  }) ?? (info[5]
    ? undefined
    // an existing empty file (an empty /etc/motd, a lock file, a mktemp
    // name) is no journal either: lines would go into whatever it is
    : info[4] === 0n
    ? EMPTY
    : "not a pwalk journal (it does not start with #pwalk-journal)");
  if (problem) {
    sym.pw_fd_close(fd);
    const hint = problem === EMPTY ? " (name a new file: it is created)" : "";
    throw new RefusedError(`pwalk: journal ${oneLine(path)}: ${problem}: not appended to${hint}`);
  }
  let size = Number(info[4]);
  if (info[6] === 0n) {
    // An existing journal: undo refuses a whole file with one bad line, so
    // a run appended to one could not be undone either (its torn last
    // line aside, which undo leaves out). Only one accepted loses that
    // torn line (cut off, lest the next header be glued to it): a refused
    // one is left as it was.
    let bad: string | undefined;
    try {
      bad = undoProblem(fd, path, size);
      if (bad === undefined) {
        const cut = Number(sym.pw_journal_cut(fd));
        if (cut < 0) {
          throw new Error(
            `pwalk: journal ${oneLine(path)}: its torn last line cannot be cut off: ${
              errnoName(-cut)[1]
            }`,
          );
        }
        size = cut;
      }
    } catch (e) {
      sym.pw_fd_close(fd);
      throw e;
    }
    if (bad !== undefined) {
      sym.pw_fd_close(fd);
      throw new RefusedError(
        `pwalk: journal ${
          oneLine(path)
        }: ${bad}: undo would refuse it whole, so it is not appended to ` +
          "(name a new file: it is created)",
      );
    }
  }
  return {
    fd,
    dev: asDeno(info[0]),
    ino: asDeno(info[1]),
    size,
    made: info[6] !== 0n,
  };
}

/**
 * Reads of the file open at `fd` from its start, a chunk at a time
 * (pread: the descriptor's own file, never its path again).
 */
function fdReader(fd: number, path: string): { readSync(p: Uint8Array): number | null } {
  let offset = 0;
  return {
    readSync(p: Uint8Array): number | null {
      const n = Number(native().pw_fd_read(fd, p, BigInt(p.length), BigInt(offset)));
      if (n < 0) {
        throw errnoError(
          -n,
          `pwalk: cannot read the journal ${oneLine(path)}: ${errnoName(-n)[1]}`,
        );
      }
      if (n === 0) return null;
      offset += n;
      return n;
    },
  };
}

/**
 * Why undo would refuse the journal open at `fd` (its first `size`
 * bytes), or undefined when it would read it.
 */
function undoProblem(fd: number, path: string, size: number): string | undefined {
  try {
    checkJournal(fdReader(fd, path), size, path);
    return undefined;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    // "pwalk: FILE:LINE: why": the line and why
    const m = e.message.slice(`pwalk: ${oneLine(path)}:`.length);
    return e.message.startsWith(`pwalk: ${oneLine(path)}:`) ? `line ${m}` : e.message;
  }
}

/**
 * After a run that failed: when its journal holds nothing of it (the header
 * could not be written: a full disk, a file size limit; or the run failed
 * before it), nothing was changed, since no change is made without its
 * line. The journal file is then removed if this run made it (an empty
 * file, which undo would refuse as no journal), or left as it was. Returns
 * what to add to the run's error message, or undefined when the journal
 * holds lines of the run (or is no longer the file the run opened).
 *
 * @example
 * ```ts ignore
 * const note = dropUnwritten(journal); // "; nothing was changed (the journal /j, empty, was removed)"
 * ```
 */
export function dropUnwritten(j: OpenJournal): string | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(j.path);
  } catch {
    return undefined;
  }
  if (!st.isFile || st.dev !== j.dev || st.ino !== j.ino || st.size !== j.size) return undefined;
  if (j.made && j.size === 0) {
    try {
      Deno.removeSync(j.path);
      return `; nothing was changed (the journal ${oneLine(j.path)}, empty, was removed)`;
    } catch { /* left: said so below */ }
  }
  return `; nothing was changed (the journal ${oneLine(j.path)} holds nothing of this run)`;
}

/**
 * Read a journal for undo, refusing (RefusedError, one line) a symbolic
 * link, anything but a regular file, a file of another user, or one that
 * group or others may write: such a journal could name any file; and one
 * that cannot be read ("cannot read the journal J: Permission denied").
 * It is looked at (lstat) before it is opened, then opened without
 * following a link and without waiting (a FIFO or a device swapped in
 * meanwhile is neither waited on nor read), and the open file must be the
 * one looked at. A refusal for an errno (a link ELOOP, a folder EISDIR, one
 * that cannot be read EACCES, ...) and a journal a run holds locked
 * (EAGAIN) carry its name as `code`, as openChecked's errors do.
 *
 * @throws {Deno.errors.NotFound} when there is no such file
 *
 * @example
 * ```ts ignore
 * const bytes = await readJournalFile("/root/.local/state/pwalk/repair-X.journal");
 * ```
 */
export async function readJournalFile(path: string): Promise<Uint8Array> {
  let l: Deno.FileInfo;
  try {
    l = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      e.message = oneLine(e.message); // (Deno's names the journal as given)
      throw e;
    }
    // with the errno's name as `code` (EACCES, ELOOP, ...), as openChecked's
    const code = (e as { code?: unknown }).code;
    const message = `pwalk: cannot read the journal ${oneLine(path)}: ${osErrorText(e)}`;
    throw typeof code === "string"
      ? Object.assign(new RefusedError(message), { code })
      : new RefusedError(message);
  }
  if (l.isSymlink) throw refusedLink(path);
  if (l.isDirectory) {
    throw Object.assign(
      new RefusedError(`pwalk: journal ${oneLine(path)}: not a regular file: not trusted`),
      { code: "EISDIR" },
    );
  }
  if (!l.isFile) {
    throw new RefusedError(`pwalk: journal ${oneLine(path)}: not a regular file: not trusted`);
  }
  const sym = native();
  const info = new BigInt64Array(7);
  const b = pathBytes(path);
  const fd = await sym.pw_journal_open(b, BigInt(b.length), JournalFlag.READ, info);
  if (fd < 0) {
    const [name, text] = errnoName(-fd);
    if (name === "ENOENT") throw errnoError(-fd, `pwalk: ${oneLine(path)}: no such journal`);
    if (name === "ELOOP") throw refusedLink(path);
    if (name === "EAGAIN") throw inUse(-fd, path); // EWOULDBLOCK
    throw refusedErrno(-fd, `pwalk: cannot read the journal ${oneLine(path)}: ${text}`);
  }
  try {
    const mode = Number(info[2]);
    // (as Deno.lstat gives them: numbers, rounded above 2^53, as Lustre's
    // inode numbers are; the library's are exact, and signed)
    if (asDeno(info[0]) !== l.dev || asDeno(info[1]) !== l.ino) {
      throw new RefusedError(
        `pwalk: journal ${oneLine(path)}: replaced while being opened: not trusted`,
      );
    }
    const problem = journalFileProblem({
      isFile: (mode & 0o170000) === 0o100000,
      uid: Number(info[3]),
      mode,
    });
    if (problem) throw new RefusedError(`pwalk: journal ${oneLine(path)}: ${problem}: not trusted`);
    // read to its end (a run may have appended since the fstat)
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = fdReader(fd, path);
    for (;;) {
      const buf = new Uint8Array(1 << 20);
      const n = reader.readSync(buf);
      if (n === null) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      // no journal: not read on (a disk image named by mistake)
      if (total >= JOURNAL_MAGIC.length && chunks.length === 1 && !startsAsJournal(chunks[0])) {
        throw new SyntaxError(`pwalk: ${oneLine(path)} is not a pwalk journal`);
      }
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  } finally {
    sym.pw_fd_close(fd);
  }
}

/** A journal that is a symbolic link, refused for reading (`code` ELOOP, as the open's errno). */
function refusedLink(path: string): RefusedError & { code: string } {
  return Object.assign(
    new RefusedError(`pwalk: journal ${oneLine(path)}: a symbolic link: not trusted`),
    { code: "ELOOP" },
  );
}

/**
 * A journal whose lock a run holds: its lines are not all there (errno
 * `n`, EAGAIN, as `code`, as openChecked's journal in use by another run).
 */
function inUse(n: number, path: string): Error & { code: string } {
  return errnoError(
    n,
    `pwalk: journal ${oneLine(path)}: in use by a repair or chown still running (it holds the ` +
      "journal's lock); undo it once that run has ended",
  );
}
