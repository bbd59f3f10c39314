/**
 * undo(): putting back what a repair or chown changed, from its journal
 * (lib/journal.ts reads the format; native/undo.c restores each entry
 * without following any link).
 *
 * @module
 */
import { ensureNative, native, Restore as R } from "./ffi.ts";
import { errnoName } from "./errno.ts";
import { abortable } from "./abortable.ts";
import {
  checkBools,
  checkFunctions,
  checkInt,
  checkOptionNames,
  type OptionNames,
  withoutNulls,
} from "./options.ts";
import type { WalkError } from "./job.ts";
import {
  indexJournal,
  joinRoot,
  type JournalHeader,
  type JournalLine,
  lineAt,
  NOT_MADE,
  type Ownership,
  parseLine,
  printablePath,
  typeBits,
} from "./journal.ts";
import { readJournalFile, RefusedError } from "./journal_file.ts";
import { osErrorText } from "./outfile.ts";
import { idName, logCount, logPath, syslogLine, whoRuns } from "./syslog.ts";

const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A colon and the space after it, the ASCII one or any Unicode space
 * separator (Zs), which a terminal shows as a space: as native/changes.c
 * finds them in repair's and chown's lines.
 */
const COLON_SPACE = /:([ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000])/g;
const utf8Bytes = new TextEncoder();

/** ":" and the space's UTF-8 bytes as `\xHH` (":\x20", ":\xc2\xa0"). */
function colonSpaceEscaped(_: string, space: string): string {
  return ":" + [...utf8Bytes.encode(space)].map((b) => `\\x${b.toString(16).padStart(2, "0")}`)
    .join("");
}

/** The names of {@link UndoOptions} (any other: a TypeError). */
export const UNDO_OPTIONS: OptionNames<UndoOptions> = {
  apply: true,
  onRestore: true,
  printChanges: true,
  printErrors: true,
  signal: true,
  maxErrors: true,
};

/** Options of {@link undo}. */
export interface UndoOptions {
  /**
   * Put the old values back. Default false: a dry run that reports what
   * would be restored and changes nothing (as repair and chown).
   */
  apply?: boolean;
  /**
   * Called for each entry restored (or that would be), and each with a
   * field kept; an async one is awaited before the next. If it throws (or
   * its promise rejects), the run stops and rejects with what it threw.
   */
  onRestore?: (restored: RestoreRecord) => void;
  /**
   * Print one line per restored entry to stdout (the CLI does). Default
   * false. A dry run's list is never cut short silently: a stdout that
   * cannot take a line (a full disk) stops it with `pwalk: cannot write
   * stdout: ...`, and a closed pipe (`| head`) stops it so too (a
   * Deno.errors.BrokenPipe). With `apply` the undo goes on to its end
   * without its lines either way (putting back is the point; half of it
   * done would be worse), and a write that failed for another reason than
   * a closed pipe is named in the summary's `stdoutError`.
   */
  printChanges?: boolean;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /** Stops the undo between entries; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How many error details to keep. Default 100. */
  maxErrors?: number;
}

/** Why a field was left as it is. */
export type KeptField =
  /** Owner/group changed again since the run. */
  | "owner"
  /** Mode changed again since the run. */
  | "mode"
  /**
   * The mode would put setuid/setgid back on an entry whose owner or group
   * is not the run's now, nor the one before it (someone else owns it now).
   */
  | "setid"
  /**
   * The mode went back without its setuid/setgid bits: someone besides the
   * file's owner could have rewritten it since the run (the run, or a later
   * run of the same journal, gave it another owner, or group or others
   * write; or its owner or group changed since the run, and is back to the
   * old one: chowned back by hand, whoever held it in between).
   */
  | "setid-bits"
  /**
   * The mode went back without its setgid bit: the file's owner (not root)
   * could have rewritten it since the run, while the bit was off, and
   * setgid would run that as the old group, which the owner may not be in.
   */
  | "setgid-owner"
  /**
   * The mode went back (or stayed) without the setuid/setgid bits the
   * entry lost since the run, its mode otherwise the run's (a chmod, a
   * chown or a write took them off): such a bit is never put back (an
   * admin's `chmod u-s` of a root helper undone would arm it again).
   */
  | "setid-lost"
  /**
   * The mode was kept: the group bits undo would take off (the access
   * ACL's mask) would shut out users or groups its ACL names, given access
   * by the owner since the run (`setfacl -m u:bob:r`).
   */
  | "acl"
  /**
   * Owner and group were kept (the run's), though they still held the
   * run's values: the mode, kept ("mode" or "acl"), gives the group access
   * the old mode did not (and others lack), which putting the old group
   * back would give to that group, which nobody gave it to (a
   * `--change-gids` group such as `users`). Not when the old group is the
   * old owner's own (its gid the owner's uid).
   */
  | "group-access";

/** One entry put back by {@link undo} (or, in a dry run, that would be). */
export interface RestoreRecord {
  /** The entry's absolute path (the journal's real root, then the names). */
  path: string;
  /** Its exact bytes. */
  pathBytes: Uint8Array;
  /** What it was before undo (the run's new values; a mode that lost setuid/setgid since: as found). */
  from: Ownership;
  /** What undo made it (the journal's old values, except fields kept). */
  to: Ownership;
  /**
   * What the run found (the journal's old values), whatever undo did.
   * Absent in records made elsewhere.
   */
  old?: Ownership;
  /** Fields left alone, and why. */
  kept: KeptField[];
  /**
   * What the entry holds after undo (in a dry run: would hold): `to` with
   * the fields kept as they are now (who changed the owner or the group
   * since the run, when "owner" is kept). Absent in records made
   * elsewhere.
   */
  left?: Ownership;
  /** Whether it was changed (false: a dry run, or only fields kept). */
  applied: boolean;
}

/** What {@link undo} returns. */
export interface UndoSummary {
  /** The journal file. */
  journal: string;
  /** Whether values were put back (false: a dry run, the default). */
  applied: boolean;
  /** Entry lines of applied runs read from the journal. */
  entries: number;
  /** Entries put back (or that would be). */
  restored: number;
  /** Entries already holding their old values (nothing to do). */
  unchanged: number;
  /**
   * Entries whose change the system refused at the run (its chown, or the
   * chmod of a change of mode alone: another user's entry without root, an
   * immutable file, root squashed on NFS), so the run made none of it: left
   * as they are, whatever they hold now. The run marked each in the journal
   * (the line after it, NEW as OLD).
   */
  notMade: number;
  /** Entries with a field left as it is (changed again since, or setuid/setgid): see `kept`. */
  kept: number;
  /**
   * Among `kept`: setuid/setgid not put back, on an entry someone else owns
   * now (its mode kept) or a file others could have rewritten since the run
   * (its mode put back without them), or setgid on a file its owner (not
   * root) could have, or bits a file lost since the run.
   */
  setidKept: number;
  /** Entry lines of dry runs, skipped. */
  skippedDryRun: number;
  /** A last line without its newline (a run stopped mid-write): left out, counted in errors. */
  tornLastLine: boolean;
  /**
   * Entries not restored: replaced (dev+inode differ, or another birth
   * time: a file written anew under the same inode number), vanished, a link on
   * the way, refused, below a ROOT that is not the recorded folder any
   * more; and a torn last line.
   */
  errors: number;
  /** The first errors, in detail. */
  errorDetails: WalkError[];
  /**
   * With `apply` and `printChanges`: why stdout stopped taking the lines
   * (`No space left on device`: a full disk, `> /dev/full`, an I/O
   * error); the undo went on to its end without them, and every count
   * here is whole. Absent when every line was written, or when the reader
   * went away (a closed pipe, `| head`: the lines end quietly).
   */
  stdoutError?: string;
  /**
   * Runs of the journal none of whose lines could be undone: their ROOT
   * could not be opened (gone, moved, a symbolic link on its path now) or
   * is not the folder the header recorded; each is also an error ("root")
   * counting its lines. The CLI exits 1 then.
   */
  runsLeft: number;
  /** Wall time in milliseconds. */
  elapsedMs: number;
}

/** A journal read: its applied runs' entry lines in file order, and what else it held. */
export interface JournalContents {
  /**
   * Entry lines of applied runs, each with its run's header: the changes
   * made (or made in part), not those the system refused whole, nor the
   * lines that mark them so.
   */
  entries: { header: JournalHeader; line: JournalLine }[];
  /** Entry lines of changes the system refused at the run: never made, left out of `entries`. */
  notMade: number;
  /** Entry lines of dry runs. */
  dryRun: number;
  /** The 1-based number of a last line without its newline (torn), or 0. */
  tornLine: number;
}

/** Parse a journal's bytes into one record per line (readJournal's; undo indexes instead). */
function parseJournal(bytes: Uint8Array, file: string): JournalContents {
  const ix = indexJournal(bytes, file);
  const entries: { header: JournalHeader; line: JournalLine }[] = [];
  let notMade = 0;
  for (let i = 0; i < ix.count; i++) {
    const refused = ix.refused?.[i];
    if (refused) {
      if (refused === NOT_MADE) notMade++;
      continue;
    }
    const header = ix.headers[ix.runOf[i]];
    entries.push({ header, line: parseLine(lineAt(bytes, ix.starts[i]), header.version) });
  }
  return { entries, notMade, dryRun: ix.dryRun, tornLine: ix.tornLine };
}

/**
 * Read a journal: its applied runs' entry lines with their headers, in file
 * order, how many lines of dry runs it holds, and whether its last line is
 * torn (no newline: the run stopped while writing it; that line is left
 * out). Any other line that does not parse makes the whole file refused.
 *
 * @example What did a run change?
 * ```ts
 * import { readJournal, repair } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root: a repair gives a file in root's private group 0 its folder's group 4242
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/project`);
 * await Deno.chown(`${tmp}/project`, 0, 4242);
 * await Deno.writeTextFile(`${tmp}/project/a.txt`, "x", { mode: 0o600 });
 * await repair(`${tmp}/project`, { apply: true, journal: `${tmp}/repair.journal` });
 *
 * const { entries } = await readJournal(`${tmp}/repair.journal`);
 * assertEquals(entries.length, 1);
 * const { header, line } = entries[0];
 * assertEquals([header.kind, new TextDecoder().decode(line.rel)], ["repair", "a.txt"]);
 * assertEquals([line.old.gid, line.new.gid], [0, 4242]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the journal does not exist
 * @throws {SyntaxError} when the file is not a pwalk journal, or a line in it is bad
 * @throws {RefusedError} as {@link undo} refuses a journal: a symbolic link,
 * anything but a regular file (a FIFO is not waited on, /dev/zero not read),
 * a file of another user or one that group or others may write
 */
export async function readJournal(file: string): Promise<JournalContents> {
  return parseJournal(await readJournalFile(file), file);
}

const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Why the folder at a run's ROOT is not the one its header recorded: another
 * folder; or the same inode under another device number, its file system
 * mounted anew (a reboot, another node, another loop or disk device: NFS,
 * Lustre, GPFS and btrfs number their mounts as they are made), which
 * moving the tree or giving the header a new path would not mend.
 */
function staleRoot(h: JournalHeader): string {
  const other = "not the folder the journal recorded (device and inode differ)";
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(strict.decode(h.root));
  } catch {
    return other; // (gone since, or a name that is no UTF-8: the plain words)
  }
  if (
    !st.isDirectory || st.ino === null || st.dev === null ||
    !Number.isSafeInteger(st.ino) || BigInt(st.ino) !== h.rootIno ||
    (Number.isSafeInteger(st.dev) && BigInt(st.dev) === h.rootDev)
  ) {
    return other;
  }
  return `the folder of the journal's inode, but under another device number (${st.dev} now, ` +
    `${h.rootDev} in the journal): its file system was mounted anew (a reboot, another node, ` +
    "another device); undo it where the run ran, or, if this is the same file system, give the " +
    `journal's lines the number it has now (the header's ROOTDEV, and each line's DEV that is ` +
    `${h.rootDev})`;
}

/** Whether two runs name the same ROOT: the same bytes, device and inode. */
function sameRoot(a: JournalHeader, b: JournalHeader): boolean {
  return a.rootDev === b.rootDev && a.rootIno === b.rootIno && a.root.length === b.root.length &&
    a.root.every((x, k) => x === b.root[k]);
}

/**
 * Modes are put back through /proc/self/fd (the entry held by an O_PATH
 * descriptor) or, without /proc, fchmodat2 (Linux 6.6): with neither, an
 * undo would put owners back and then fail every mode, setuid bits lost.
 * Refused before any change, as repair --apply is.
 */
function refuseWithoutModeChanges(): void {
  if (native().pw_can_change_modes()) return;
  throw new RefusedError(
    "pwalk: cannot change modes safely here: /proc is not mounted and the kernel has no " +
      "fchmodat2 (Linux 6.6): mount /proc",
  );
}

/**
 * Undo a repair or chown from its journal: the last change first. Each
 * run's ROOT is opened from `/` without following any link and must still
 * be the device and inode its header recorded; each entry is reached from
 * it component by component (never through a link or a `..`), and changed
 * only when it is still the same dev+inode (and, in a version 2 journal,
 * the same birth time, except on overlayfs, where the run's change copied
 * the entry up: a file born since under that inode number is left alone,
 * an error). A field (owner/group, or mode)
 * is put back only while it still holds the value the run set; a field
 * changed again since is left alone and counted in `kept`, and so is a
 * mode that would put setuid/setgid on an entry whose owner or group is
 * not the run's any more, nor the one before it. Setuid/setgid never go
 * back on a file that someone besides its owner could have rewritten since
 * the run (the run, or a later run of the same journal, gave it another
 * owner, or group or others write; or it was chowned back to its old owner
 * and group by hand since): its mode goes back without them (`kept` names
 * "setid-bits"); nor does setgid on a file owned by anyone but root, whose
 * owner could have rewritten it while the bit was off and have it run as
 * a group the owner may not be in ("setgid-owner"); nor a bit taken off
 * since the run, the rest of the mode the run's ("setid-lost"). Owner and
 * group are kept too when the mode kept gives the group access the old
 * mode did not (and others lack), which the old group, unless it is the
 * old owner's own, would get ("group-access"). Runs in another journal are not known: undo the newest
 * journal first, and mind that an older one may then put setuid/setgid
 * back on a file a newer run let others write (README).
 *
 * **A dry run unless `apply: true`.** The journal must be a regular file of
 * the running user that group and others cannot write (not a link): any
 * other is refused (`RefusedError`). A torn last line (a full disk) is one
 * error; the lines before it are undone. Each applied undo writes one line
 * to the system log.
 *
 * @example
 * ```ts
 * import { repair, undo } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root: a repair gives a file in root's private group 0 its folder's group 4242
 * const tmp = await Deno.makeTempDir();
 * const file = `${tmp}/project/a.txt`;
 * await Deno.mkdir(`${tmp}/project`);
 * await Deno.chown(`${tmp}/project`, 0, 4242);
 * await Deno.writeTextFile(file, "x", { mode: 0o600 });
 * await repair(`${tmp}/project`, { apply: true, journal: `${tmp}/repair.journal` });
 *
 * const plan = await undo(`${tmp}/repair.journal`); // nothing changes
 * assertEquals([plan.restored, (await Deno.lstat(file)).gid], [1, 4242]);
 * const u = await undo(`${tmp}/repair.journal`, { apply: true });
 * assertEquals([u.restored, u.kept, u.errors], [1, 0, 0]); // kept: changed since, left
 * const st = await Deno.lstat(file);
 * assertEquals([st.gid, st.mode! & 0o7777], [0, 0o600]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the journal does not exist
 * @throws {SyntaxError} when the file is not a pwalk journal, or holds a bad line
 * @throws {RefusedError} when the journal file is not safe to trust
 * @throws the signal's reason when cancelled
 * @throws {Error} when out of open files (after 10 s of waiting for one) or
 * of kernel memory: the lines not reached are left as they are, not counted
 * as errors (undo the journal again once there are more)
 */
export async function undo(journalFile: string, options: UndoOptions = {}): Promise<UndoSummary> {
  // checked first: a string "false" would be truthy, an apply
  options = withoutNulls(options);
  checkOptionNames("undo", options, UNDO_OPTIONS);
  checkBools(options, ["apply", "printChanges", "printErrors"]);
  checkFunctions(options, ["onRestore"]);
  const maxErrors = checkInt("maxErrors", options.maxErrors ?? 100, 0, 1_000_000);
  options.signal?.throwIfAborted();
  await ensureNative();
  const sym = native();
  const t0 = performance.now();
  const apply = options.apply ?? false;
  const ix = indexJournal(await readJournalFile(journalFile), journalFile);
  if (apply) refuseWithoutModeChanges();
  const { dryRun, tornLine } = ix;
  const out: UndoSummary = {
    journal: journalFile,
    applied: apply,
    entries: ix.count - ix.marks,
    restored: 0,
    unchanged: 0,
    notMade: 0,
    kept: 0,
    setidKept: 0,
    skippedDryRun: dryRun,
    tornLastLine: tornLine > 0,
    errors: 0,
    errorDetails: [],
    runsLeft: 0,
    elapsedMs: 0,
  };
  const enc = new TextEncoder();
  let printing = !!options.printChanges;
  // Written off the main thread: a reader that takes nothing (a pipe not
  // read, a terminal stopped with Ctrl-S) holds the write, not the signals
  // (the signal stops the wait); `final`: the lines of the entries done
  // when the loop was left, given 2 s, signal or not.
  const writeAll = async (b: Uint8Array, final = false) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      if (final) timer = setTimeout(() => reject(new Error("stdout takes no more")), 2000);
    });
    late.catch(() => {});
    try {
      for (let at = 0; at < b.length;) {
        const w = Deno.stdout.write(b.subarray(at));
        w.catch(() => {}); // (one given up on settles later, unheard)
        at += await (final ? Promise.race([w, late]) : abortable(w, options.signal));
      }
    } finally {
      clearTimeout(timer);
    }
  };
  // The lines, written 64 KiB at a time (and whenever the loop lets
  // signals run, every 50 ms at most), not one write per entry.
  let lines: string[] = [];
  let lineChars = 0;
  // (sync: before an error's line, in order; the loop's are asynchronous)
  const flushLinesSync = () => {
    if (!lines.length) return;
    const b = enc.encode(lines.join(""));
    lines = [];
    lineChars = 0;
    try {
      for (let at = 0; at < b.length;) at += Deno.stdout.writeSync(b.subarray(at));
    } catch (e) {
      // (as flushLines says it)
      if (!apply) {
        if (e instanceof Deno.errors.BrokenPipe) throw e;
        throw new Error(`pwalk: cannot write stdout: ${osErrorText(e)}`, { cause: e });
      }
      if (!(e instanceof Deno.errors.BrokenPipe)) out.stdoutError = osErrorText(e);
      printing = false;
    }
  };
  const flushLines = async (final = false) => {
    if (!lines.length) return;
    const text = lines.join("");
    lines = [];
    lineChars = 0;
    try {
      await writeAll(enc.encode(text), final);
    } catch (e) {
      if (!final && options.signal?.aborted) throw e; // (stopped: the loop's reason)
      // a dry run's list is never cut short silently: it stops there,
      // as repair's does (a closed pipe quietly, the CLI's status 141)
      if (!apply) {
        if (e instanceof Deno.errors.BrokenPipe) throw e;
        throw new Error(`pwalk: cannot write stdout: ${osErrorText(e)}`, { cause: e });
      }
      // --apply: the lines stop, the undo goes on to its end (half of
      // it done would be worse), as repair's does on a closed pipe; a
      // full disk is said at the end (the CLI: status 1)
      if (!(e instanceof Deno.errors.BrokenPipe)) out.stdoutError = osErrorText(e);
      printing = false;
    }
  };
  const fail = (op: string, message: string, p: Uint8Array, count = 1, code = "") => {
    out.errors += count;
    if (out.errorDetails.length < maxErrors) {
      out.errorDetails.push({ op, message, code, path: lossy.decode(p), pathBytes: p });
    }
    if (options.printErrors) {
      flushLinesSync(); // the lines of the entries before it come first, as unbuffered
      Deno.stderr.writeSync(enc.encode(`pwalk: undo '${printablePath(p)}': ${message}\n`));
    }
  };
  if (tornLine) {
    fail(
      "torn",
      `line ${tornLine} has no end (the run stopped while writing it, e.g. a full disk): ` +
        "left out; the lines before it are undone",
      enc.encode(journalFile),
    );
  }
  // Each run's ROOT, checked against its header's dev+inode: opened when
  // its newest line comes, and closed when the lines reach an older run of
  // another ROOT (a run's lines are together), so that a journal of
  // thousands of runs holds one descriptor, not one per run.
  let cur: { run: number; root: number | string } | undefined;
  const closeRoot = () => {
    if (typeof cur?.root === "number") sym.pw_fd_close(cur.root);
    cur = undefined;
  };
  // (fd: the root, already opened by the caller)
  const rootOf = (run: number, fd?: number): number | string => {
    if (cur?.run === run) return cur.root;
    const h = ix.headers[run];
    if (typeof cur?.root === "number" && sameRoot(ix.headers[cur.run], h)) {
      cur.run = run;
      return cur.root;
    }
    closeRoot();
    fd ??= sym.pw_restore_root(h.root, BigInt(h.root.length), h.rootDev, h.rootIno);
    // out of descriptors: the caller waits for one (its lines are not errors)
    if (lacking(fd)) return fd;
    let r: number | string = fd;
    if (fd < 0) {
      const [name, text] = errnoName(-fd);
      r = name === "ESTALE"
        ? staleRoot(h)
        : name === "ELOOP" || name === "ENOTDIR"
        ? "a symbolic link (or a non-folder) is on the way now"
        : text;
      const n = ix.perHeader[run];
      // (a run whose every change the system refused: nothing of it to
      // put back, nothing left alone)
      cur = { run, root: r };
      if (!n) return r;
      out.runsLeft++;
      const them = n === 1 ? "entry" : "entries";
      fail("root", `${r}: the run's ${n} ${them} below it left alone`, h.root, n, name);
    }
    cur = { run, root: r };
    return r;
  };
  const v = new BigInt64Array(22); // pw_restore's values (native/pwalk.h)
  // Files a newer line (undone first) gave another owner, or group or
  // others write: someone besides the owner could have rewritten them
  // since, so no older line puts setuid/setgid back on them either.
  const exposed = new Set<string>();
  // A dry run changes nothing, so an older run's line of an entry a newer
  // line would restore is judged by the state that restore would leave.
  const would = apply ? undefined : new Map<string, [bigint, bigint, bigint]>();
  let ended = false; // every line reached (not stopped, nor failed)
  try {
    // signals and timers run every 1000 entries, and every 50 ms however
    // few (a journal of 400 lines printed to a slow reader took seconds, a
    // Ctrl-C meanwhile went unheard and every entry was put back)
    let yielded = performance.now();
    for (let i = ix.count - 1; i >= 0; i--) {
      if ((ix.count - i) % 1000 === 0 || performance.now() - yielded > 50) {
        await flushLines();
        await new Promise((r) => setTimeout(r, 0)); // let signals and timers run
        yielded = performance.now();
      }
      options.signal?.throwIfAborted(); // before each entry: nothing more once aborted
      // a refusal mark, or a change the system refused at the run: never
      // made, so never put back
      const refused = ix.refused?.[i];
      if (refused) {
        if (refused === NOT_MADE) out.notMade++;
        continue;
      }
      const header = ix.headers[ix.runOf[i]];
      let rootFd = rootOf(ix.runOf[i]);
      if (typeof rootFd === "number" && rootFd < 0) {
        await flushLines(); // (whenFree may wait, signals heard meanwhile)
        const h = header;
        rootFd = rootOf(
          ix.runOf[i],
          await whenFree(
            () => sym.pw_restore_root(h.root, BigInt(h.root.length), h.rootDev, h.rootIno),
            rootFd,
          ),
        );
      }
      const line = parseLine(lineAt(ix.bytes, ix.starts[i]), ix.headers[ix.runOf[i]].version);
      const key = `${line.dev}:${line.ino}`;
      const watched = ix.setid.has(key);
      const exposedBefore = watched && exposed.has(key);
      if (
        watched && line.type !== "d" &&
        (line.new.uid !== line.old.uid || line.new.mode & 0o022)
      ) {
        exposed.add(key); // whether or not its line can be undone now
      }
      if (typeof rootFd === "string") continue;
      const p = joinRoot(header.root, line.rel);
      const rel = new Uint8Array(line.rel);
      v[0] = BigInt.asIntN(64, line.dev);
      v[1] = BigInt.asIntN(64, line.ino);
      v[2] = BigInt(typeBits(line.type));
      v[3] = BigInt(line.old.uid);
      v[4] = BigInt(line.old.gid);
      v[5] = BigInt(line.old.mode);
      v[6] = BigInt(line.new.uid);
      v[7] = BigInt(line.new.gid);
      v[8] = BigInt(line.new.mode);
      v[17] = exposedBefore ? 1n : 0n;
      // version 2: the birth time the entry had when the run changed it
      v[18] = line.birth ? 1n : 0n;
      v[19] = line.birth ? line.birth.sec : 0n;
      v[20] = line.birth ? BigInt(line.birth.nsec) : 0n;
      const state = would?.get(key);
      v[13] = state ? 1n : 0n;
      if (state) [v[14], v[15], v[16]] = state;
      const fd = rootFd;
      let rc = sym.pw_restore(fd, rel, BigInt(rel.length), v, apply ? 1 : 0);
      if (lacking(rc)) {
        await flushLines(); // (whenFree waits, signals heard meanwhile)
        rc = await whenFree(
          () => sym.pw_restore(fd, rel, BigInt(rel.length), v, apply ? 1 : 0),
          rc,
        );
      }
      if (rc >= 0) would?.set(key, [v[10], v[11], v[12]]);
      if (rc < 0) {
        const [name, text] = errnoName(-rc);
        const message = name === "ESTALE" && v[18] === 2n
          ? "a different file is there now (born since the run, under the same inode number): " +
            "left alone"
          : name === "ESTALE"
          ? "a different entry is there now: left alone"
          : name === "ELOOP" || name === "ENOTDIR"
          ? "a symbolic link (or a non-folder) is on the way now: left alone"
          : text;
        fail(name === "ESTALE" ? "race" : "change", message, p, 1, name);
        continue;
      }
      const kept: KeptField[] = [];
      if (rc & R.OWNER_KEPT) kept.push("owner");
      if (rc & R.SETID_KEPT) kept.push("setid");
      else if (rc & R.MODE_KEPT) kept.push("mode");
      if (rc & R.SETID_WRITABLE) kept.push("setid-bits");
      if (rc & R.SETGID_OWNER) kept.push("setgid-owner");
      if (rc & R.SETID_LOST) kept.push("setid-lost");
      if (rc & R.ACL_KEPT) kept.push("acl");
      if (rc & R.GROUP_KEPT) kept.push("group-access");
      if (kept.length) out.kept++;
      if (rc & (R.SETID_KEPT | R.SETID_WRITABLE | R.SETGID_OWNER | R.SETID_LOST)) out.setidKept++;
      const restored = (rc & (R.OWNER | R.MODE)) !== 0;
      if (!restored && !kept.length) {
        out.unchanged++;
        continue;
      }
      if (restored) out.restored++;
      const rec: RestoreRecord = {
        path: lossy.decode(p),
        pathBytes: p,
        // the run's values, but a mode put back, or one that lost
        // setuid/setgid since: as found
        from: rc & (R.MODE | R.SETID_LOST) ? { ...line.new, mode: Number(v[21]) } : line.new,
        to: {
          uid: rc & R.OWNER ? line.old.uid : line.new.uid,
          gid: rc & R.OWNER ? line.old.gid : line.new.gid,
          // the mode the library chose (without setuid/setgid the file lost since)
          mode: rc & R.MODE ? Number(v[9]) : rc & R.SETID_LOST ? Number(v[21]) : line.new.mode,
        },
        old: line.old,
        kept,
        left: { uid: Number(v[10]), gid: Number(v[11]), mode: Number(v[12]) },
        applied: apply && restored,
      };
      const called: unknown = options.onRestore?.(rec);
      if (called instanceof Promise) {
        await flushLines(); // (a signal's handler may run while it waits: the lines so far out first)
        await called; // its rejection is the run's, as a throw
      }
      if (printing) {
        const dry = !apply && restored ? "would restore: " : "";
        const line = dry + restoreLine(rec) + "\n";
        lines.push(line);
        lineChars += line.length;
        if (lineChars >= 65536) await flushLines();
      }
    }
    await flushLines();
    ended = true;
  } finally {
    // (lines of entries already restored, when the loop was left early:
    // an abort, an error; a write error then is not the one told)
    try {
      await flushLines(true);
    } catch {
      // the loop's own error is the one that counts
    }
    closeRoot();
    out.elapsedMs = performance.now() - t0;
    if (apply) {
      syslogLine(
        `undo --apply by ${whoRuns()} of journal ${logPath(journalFile)}: ` +
          `${options.signal?.aborted ? "stopped" : ended ? "done" : "failed"}; ` +
          `${logCount(out.entries, "entry", "entries")}, ` +
          `${out.restored} restored, ${out.kept} kept, ${logCount(out.errors, "error")}`,
      );
    }
  }
  return out;
}

/** Whether rc (-errno) is out of descriptors or kernel memory: the tool's lack, not the entry's. */
function lacking(rc: number): boolean {
  return rc < 0 && ["EMFILE", "ENFILE", "ENOMEM"].includes(errnoName(-rc)[0]);
}

/**
 * rc, from call, again once a descriptor came free (waited for 10 s in all,
 * as the walker waits); still out of them, or of kernel memory: an Error,
 * the lines not reached left as they are (never errors counted while the
 * undo goes on and ends as done).
 */
async function whenFree(call: () => number, rc: number): Promise<number> {
  for (let waited = 0; rc < 0 && waited < 10_000;) {
    const [name] = errnoName(-rc);
    if (name !== "EMFILE" && name !== "ENFILE") break;
    const ms = waited ? Math.min(waited, 256) : 1;
    await new Promise((r) => setTimeout(r, ms));
    waited += ms;
    rc = call();
  }
  if (!lacking(rc)) return rc;
  const [name, text] = errnoName(-rc);
  throw new Error(
    `pwalk undo: ${text}: ` +
      (name === "ENOMEM"
        ? "the system is out of memory"
        : "raise the limit of open files (ulimit -n)") +
      "; the lines not undone yet are left as they are: undo the journal again",
  );
}

const groupNames = new Map<number, string | undefined>();

/** A group id with its name when it has one: `5000 (genome)`. */
function groupText(gid: number): string {
  if (!groupNames.has(gid)) groupNames.set(gid, idName(1, gid));
  const name = groupNames.get(gid);
  return name ? `${gid} (${name})` : String(gid);
}

/**
 * The CLI's line for a restored entry: `path: group 5000 -> 1001 (alice),
 * mode 2750 -> 0700`, then what was kept and why; group names beside the
 * numbers where they resolve.
 *
 * @example
 * ```ts
 * import { repair, restoreLine, undo } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * // as root: a repair gives a file in root's private group 0 its folder's group 4242
 * // (a gid with no name here: one with a name is shown as `4242 (name)`)
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/project`);
 * await Deno.chown(`${tmp}/project`, 0, 4242);
 * await Deno.writeTextFile(`${tmp}/project/a.txt`, "x", { mode: 0o600 });
 * await repair(`${tmp}/project`, { apply: true, journal: `${tmp}/repair.journal` });
 *
 * const lines: string[] = [];
 * await undo(`${tmp}/repair.journal`, { onRestore: (r) => lines.push(restoreLine(r)) });
 * assertEquals(lines, [`${tmp}/project/a.txt: group 4242 -> 0 (root), mode 0640 -> 0600`]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function restoreLine(r: RestoreRecord): string {
  const parts: string[] = [];
  if (r.from.uid !== r.to.uid) parts.push(`owner ${r.from.uid} -> ${r.to.uid}`);
  if (r.from.gid !== r.to.gid) {
    parts.push(`group ${groupText(r.from.gid)} -> ${groupText(r.to.gid)}`);
  }
  if (r.from.mode !== r.to.mode) {
    parts.push(
      `mode ${r.from.mode.toString(8).padStart(4, "0")} -> ${
        r.to.mode.toString(8).padStart(4, "0")
      }`,
    );
  }
  const notes: string[] = [];
  // "owner" kept: owner and group, each said when it is the one changed
  const changed: string[] = [];
  if (r.kept.includes("owner")) {
    const uid = !r.left || r.left.uid !== r.from.uid;
    const gid = !!r.left && r.left.gid !== r.from.gid;
    if (uid || !gid) changed.push("owner");
    if (gid) changed.push("group");
  }
  if (r.kept.includes("mode")) changed.push("mode");
  if (changed.length) {
    const said = changed.length > 1
      ? `${changed.slice(0, -1).join(", ")} and ${changed.at(-1)}`
      : changed[0];
    notes.push(`${said} changed since: kept`);
  }
  if (r.kept.includes("setid")) {
    // (a mode put back all the same but for those bits: an owner or group
    // changed just before undo's chmod, which still took other bits off)
    notes.push(
      r.from.mode !== r.to.mode
        ? "setuid/setgid not put back: never on an entry someone else owns now"
        : "mode kept: setuid/setgid never go back on an entry someone else owns now",
    );
  }
  if (r.kept.includes("setid-bits")) {
    notes.push(
      "setuid/setgid not put back: someone besides its owner could have rewritten it since the run",
    );
  }
  if (r.kept.includes("acl")) {
    notes.push(
      "mode kept: its access ACL names users or groups the old mode's mask would shut out " +
        "(see getfacl)",
    );
  }
  if (r.kept.includes("group-access")) {
    const who = r.old && r.old.uid !== r.from.uid ? "owner and group kept" : "group kept";
    const group = r.old ? `group ${groupText(r.old.gid)}` : "the old group";
    const mode = r.left ? `mode ${r.left.mode.toString(8).padStart(4, "0")}` : "the mode kept";
    notes.push(
      `${who}: putting it back would give ${group} the access ${mode} gives the group, ` +
        "which the old mode did not",
    );
  }
  if (r.kept.includes("setid-lost")) {
    notes.push(
      "setuid/setgid off since the run's change (a chmod, chown or write since, " +
        "or the kernel at that change): not put back",
    );
  }
  if (r.kept.includes("setgid-owner")) {
    notes.push(
      "setgid not put back: its owner could have rewritten it since the run, " +
        "and setgid would run that with a group its owner may not be in",
    );
  }
  const what = parts.length ? parts.join(", ") : "left as it is";
  // (a colon and a space in the path: the space's bytes escaped, ":\x20",
  // as in repair's and chown's lines: no name reads as another's line)
  const path = printablePath(r.pathBytes).replace(COLON_SPACE, colonSpaceEscaped);
  return `${path}: ${what}${notes.length ? ` (${notes.join("; ")})` : ""}`;
}
