/**
 * The repair journal (format version 2, written by native/repair.c, and
 * version 1, read as before): parsing its lines, and turning them into
 * typed change records.
 *
 * A journal is ASCII text, one line per changed entry, appended with a
 * single write() before the entry is changed:
 *
 * ```text
 * #pwalk-journal 2 KIND MODE ROOTDEV ROOTINO ROOT
 * DEV INO T OLDUID OLDGID OLDMODE NEWUID NEWGID NEWMODE BIRTH PATH
 * ```
 *
 * KIND is `repair` or `chown`; MODE `apply` or `dry-run`; ROOT the real path
 * of the walked root (no symbolic links in it); T the entry type (`d` folder,
 * `f` file, `l` link, `p` FIFO, `s` socket, `c`/`b` devices); modes are four
 * octal digits; BIRTH is the entry's birth time when it was changed,
 * `SECONDS.NANOSECONDS` (nine digits; statx's STATX_BTIME), or `-` where
 * the file system gives none, on overlayfs (there the change itself copies
 * an entry of a lower layer up: same inode number, a new birth time), and
 * in a dry run: undo leaves alone a file born since, which took the
 * changed one's inode number. Version 1 (runs
 * before it; a journal may hold runs of both) has no BIRTH field, and its
 * lines are undone as before, by device, inode and type only. PATH is
 * relative to ROOT (`.` for the root itself). In ROOT
 * and PATH every byte outside 0x21-0x7e, and the backslash, is written as
 * `\xHH`, so any name (newlines, bytes that are not UTF-8) is one exact line.
 * A journal may hold several runs, each after its own header line. A
 * line whose NEW is its OLD marks the change of the line(s) before it
 * (same run, entry, PATH and OLD) as refused by the system: never made
 * ({@link isRefusalMark}).
 *
 * @module
 */
import { oneLine, utf8Seq } from "./utf8.ts";

/** What kind of entry a change concerns. */
export type EntryType =
  | "folder"
  | "file"
  | "symlink"
  | "fifo"
  | "socket"
  | "char-device"
  | "block-device"
  | "unknown";

/** One kind of change: a line of the CLI's output each. */
export type ChangeKind = "owner" | "group" | "mode" | "setgid";

/** Owner, group and permission bits (`mode & 0o7777`) of an entry. */
export interface Ownership {
  /** Owner's user id. */
  uid: number;
  /** Group id. */
  gid: number;
  /** Permission bits, setuid/setgid/sticky included (`mode & 0o7777`). */
  mode: number;
}

/** One changed entry: what it was and what it became (or would become, in a dry run). */
export interface ChangeRecord {
  /** The path as walked (the root as given, then the names below it), decoded as UTF-8. */
  path: string;
  /** The path's exact bytes. */
  pathBytes: Uint8Array;
  /** The entry's type. */
  type: EntryType;
  /** Device and inode of the entry that was changed. */
  dev: number;
  /** Inode number. */
  ino: number;
  /** What changed, in the order the CLI prints it. */
  kinds: ChangeKind[];
  /** Before. */
  old: Ownership;
  /** After. */
  new: Ownership;
}

/** A parsed entry line of a journal. */
export interface JournalLine {
  /** Device, exactly. */
  dev: bigint;
  /** Inode, exactly. */
  ino: bigint;
  /** The type letter (d f l p s c b; any other refuses the line). */
  type: string;
  /** Before the change. */
  old: Ownership;
  /** After the change. */
  new: Ownership;
  /**
   * The entry's birth time when it was changed (version 2): seconds and
   * nanoseconds; null where the file system gave none or on overlayfs
   * (`-`); absent in a version 1 line.
   */
  birth?: { sec: bigint; nsec: number } | null;
  /** The path below the root, exactly (`.` for the root itself). */
  rel: Uint8Array;
}

/** A parsed header line: the run the following entry lines belong to. */
export interface JournalHeader {
  /** The format version of the run's lines: 1 (no birth time) or 2. */
  version: 1 | 2;
  /** `repair` or `chown`. */
  kind: string;
  /** Whether the run changed things (false: a dry run's plan). */
  applied: boolean;
  /** The root's device and inode. */
  rootDev: bigint;
  /** The root's inode. */
  rootIno: bigint;
  /** The root's real path, exactly. */
  root: Uint8Array;
}

/** The first bytes of a journal's header line (any version). */
export const JOURNAL_MAGIC = "#pwalk-journal ";

/** A header's magic and version: `#pwalk-journal 1 ` or `#pwalk-journal 2 `. */
const HEADER = /^#pwalk-journal [12] /;

const enc = new TextEncoder();
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
const HEX = "0123456789abcdef"; // printablePath

/** Printable ASCII but the backslash: bytes as they are. */
const PLAIN = /^[\x21-\x5b\x5d-\x7e]*$/;

/** Decode the journal's `\xHH` escapes. */
export function unescapeBytes(s: string): Uint8Array {
  if (PLAIN.test(s)) { // no escape: the common name, one byte per char
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    return b;
  }
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      const hex = s.slice(i + 2, i + 4);
      const b = /^[0-9a-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
      // only as the journal writes them: a byte outside 0x21-0x7e, or the
      // backslash; never NUL, which no name holds (nor `\x2f` for a slash)
      if (s[i + 1] !== "x" || b <= 0 || (b >= 0x21 && b <= 0x7e && b !== 0x5c)) {
        throw new SyntaxError(`bad escape in journal path: ${JSON.stringify(s)}`);
      }
      out.push(b);
      i += 3;
    } else if (c < 0x21 || c > 0x7e) {
      throw new SyntaxError(`unescaped byte in journal path: ${JSON.stringify(s)}`);
    } else {
      out.push(c);
    }
  }
  return new Uint8Array(out);
}

/**
 * A uid or gid: 0 to 4294967294 (2^32 - 1 is chown's "no change", never an
 * id), in decimal as the journal writes it (no leading zero).
 */
function uint(s: string, what: string): number {
  if (!/^(?:0|[1-9]\d{0,9})$/.test(s) || Number(s) > 0xfffffffe) {
    throw new SyntaxError(`bad ${what} in journal: ${s}`);
  }
  return Number(s);
}

/** A device or inode number: 0 to 2^64 - 1, in decimal without a leading zero. */
function big(s: string, what: string): bigint {
  if (!/^(?:0|[1-9]\d{0,19})$/.test(s) || BigInt(s) > 0xffffffffffffffffn) {
    throw new SyntaxError(`bad ${what} in journal: ${s}`);
  }
  return BigInt(s);
}

function octal(s: string): number {
  if (!/^[0-7]{4}$/.test(s)) throw new SyntaxError(`bad mode in journal: ${s}`);
  return parseInt(s, 8);
}

/** Parse a header line (without its newline). */
export function parseHeader(line: string): JournalHeader {
  const f = line.split(" ");
  if (!HEADER.test(line) || f.length !== 7) {
    throw new SyntaxError(`not a pwalk journal header: ${line.slice(0, 80)}`);
  }
  if (f[2] !== "repair" && f[2] !== "chown") throw new SyntaxError(`bad journal kind: ${f[2]}`);
  if (f[3] !== "apply" && f[3] !== "dry-run") throw new SyntaxError(`bad journal mode: ${f[3]}`);
  const root = unescapeBytes(f[6]);
  if (root[0] !== 0x2f) throw new SyntaxError(`a journal ROOT that is not absolute: ${f[6]}`);
  if (root.length > 1 && !relOk(root.subarray(1))) {
    // as the run writes it: its real path (a journal edited by hand may not be)
    throw new SyntaxError(
      `a journal ROOT that is not a canonical path (an empty, . or .. component, or a ` +
        `trailing slash): ${f[6].slice(0, 80)}`,
    );
  }
  return {
    version: f[1] === "2" ? 2 : 1,
    kind: f[2],
    applied: f[3] === "apply",
    rootDev: big(f[4], "device"),
    rootIno: big(f[5], "inode"),
    root,
  };
}

/** Whether rel is names separated by single slashes, none of them `.` or `..`. */
function relOk(rel: Uint8Array): boolean {
  let start = 0;
  for (let i = 0; i <= rel.length; i++) {
    if (i < rel.length && rel[i] !== 0x2f) continue;
    const n = i - start;
    const dots = n <= 2 && rel.subarray(start, i).every((c) => c === 0x2e);
    if (n === 0 || dots) return false;
    start = i + 1;
  }
  return true;
}

/**
 * Throw unless rel stays below the root: `.` (the root itself), or names
 * separated by single slashes, none of them `.` or `..`.
 */
function checkRel(rel: Uint8Array, field: string): void {
  if (rel.length === 1 && rel[0] === 0x2e) return;
  if (!relOk(rel)) {
    throw new SyntaxError(`a path that does not stay below its ROOT: ${field.slice(0, 80)}`);
  }
}

/** A birth time as version 2 writes it: `SECONDS.NANOSECONDS` (nine digits), or `-`. */
function birth(s: string): { sec: bigint; nsec: number } | null {
  if (s === "-") return null;
  const m = /^(0|[1-9]\d{0,18})\.(\d{9})$/.exec(s);
  if (!m || BigInt(m[1]) > 0x7fffffffffffffffn) {
    throw new SyntaxError(`bad birth time in journal: ${s}`);
  }
  return { sec: BigInt(m[1]), nsec: Number(m[2]) };
}

/**
 * Parse an entry line (without its newline) of a run of format `version`
 * (its header's: 2 has the BIRTH field, 1 not).
 */
export function parseLine(line: string, version: 1 | 2 = 1): JournalLine {
  const f = line.split(" ");
  const n = version === 2 ? 11 : 10;
  if (f.length !== n || !/^[dflpscb]$/.test(f[2])) {
    throw new SyntaxError(`not a pwalk journal line: ${line.slice(0, 80)}`);
  }
  const path = f[n - 1];
  const rel = path === "." ? enc.encode(".") : unescapeBytes(path);
  checkRel(rel, path);
  return {
    dev: big(f[0], "device"),
    ino: big(f[1], "inode"),
    type: f[2],
    old: { uid: uint(f[3], "uid"), gid: uint(f[4], "gid"), mode: octal(f[5]) },
    new: { uid: uint(f[6], "uid"), gid: uint(f[7], "gid"), mode: octal(f[8]) },
    ...(version === 2 ? { birth: birth(f[9]) } : {}),
    rel,
  };
}

const TYPES: Record<string, EntryType> = {
  d: "folder",
  f: "file",
  l: "symlink",
  p: "fifo",
  s: "socket",
  c: "char-device",
  b: "block-device",
};

/** The type letter and name of a file type's S_IFMT bits (in st_mode). */
export function typeOfMode(mode: number): { letter: string; name: EntryType } {
  for (const [letter, bits] of Object.entries(TYPE_BITS)) {
    if ((mode & 0o170000) === bits) return { letter, name: TYPES[letter] };
  }
  return { letter: "?", name: "unknown" };
}

const TYPE_BITS: Record<string, number> = {
  d: 0o040000,
  f: 0o100000,
  l: 0o120000,
  p: 0o010000,
  s: 0o140000,
  c: 0o020000,
  b: 0o060000,
};

/** The S_IFMT bits of a type letter. */
export function typeBits(t: string): number {
  return TYPE_BITS[t] ?? 0;
}

/** The kinds of change between old and new, as native/repair.c prints them. */
export function changeKinds(type: string, old: Ownership, now: Ownership): ChangeKind[] {
  const kinds: ChangeKind[] = [];
  if (old.uid !== now.uid) kinds.push("owner");
  if (old.gid !== now.gid) kinds.push("group");
  const setgidAdded = type === "d" && !(old.mode & 0o2000) && (now.mode & 0o2000) !== 0;
  const shown = setgidAdded ? now.mode & ~0o2000 : now.mode;
  if (shown !== old.mode) kinds.push("mode");
  if (setgidAdded) kinds.push("setgid");
  return kinds;
}

/** The full path bytes of a journal line below a root (given or real). */
export function joinRoot(root: Uint8Array, rel: Uint8Array): Uint8Array {
  if (rel.length === 1 && rel[0] === 0x2e) return root;
  const slash = root.length > 0 && root[root.length - 1] === 0x2f;
  const out = new Uint8Array(root.length + (slash ? 0 : 1) + rel.length);
  out.set(root, 0);
  if (!slash) out[root.length] = 0x2f;
  out.set(rel, out.length - rel.length);
  return out;
}

/**
 * A character written `\uXXXX` on one line: every format character
 * (Unicode's Cf: a bidirectional control reorders what follows it, an
 * invisible one makes two names read alike) and the line and paragraph
 * separators (a line break to some terminals), as lib/cli/common.ts
 * oneLine escapes them. The set native/errlog.c's pw_escape_path escapes.
 */
const ESCAPED = /^[\u2028\u2029\p{Cf}]$/u;

/**
 * Show a path on one line: control bytes as `\n`, `\t`, `\xHH`, C1
 * controls (U+0080-U+009F) as their two UTF-8 bytes `\xc2\xHH`, bytes
 * that are not UTF-8 as `\xHH`, every format character (Unicode's Cf: the
 * bidirectional controls such as U+202E, which reorder what follows them,
 * "a\u202etxt.exe" showing as "aexe.txt"; the invisible ones such as
 * U+200B, U+180E or the tags U+E0020-U+E007F, "a\u200bb" reading as "ab")
 * and the line and paragraph separators U+2028, U+2029 (a line break to
 * some terminals) as `\uXXXX` (`\u{e0041}` above U+FFFF), and the
 * backslash as `\\`, as the native side does (native/errlog.c
 * pw_escape_path) and the CLI's messages do: no two names read the same.
 *
 * @example
 * ```ts
 * import { printablePath } from "./journal.ts";
 * printablePath(new Uint8Array([0x61, 0x0a, 0x5c, 0xff])); // "a\\n\\\\\\xff"
 * ```
 */
export function printablePath(b: Uint8Array): string {
  let s = "";
  const hex = (c: number) => `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
  for (let i = 0; i < b.length;) {
    const c = b[i];
    if (c < 0x80) {
      s += c === 10
        ? "\\n"
        : c === 9
        ? "\\t"
        : c === 0x5c
        ? "\\\\"
        : c < 32 || c === 127
        ? hex(c)
        : String.fromCharCode(c);
      i++;
      continue;
    }
    const n = utf8Seq(b, i);
    const ch = n ? lossy.decode(b.subarray(i, i + n)) : "";
    if (ESCAPED.test(ch)) { // reorders, breaks or hides: written \uXXXX, as summary writes it
      const cp = ch.codePointAt(0)!;
      s += cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
      i += n;
    } else if (n && !(c === 0xc2 && b[i + 1] <= 0x9f)) {
      s += ch;
      i += n;
    } else if (n) { // a C1 control: its UTF-8 bytes
      s += hex(0xc2) + hex(b[i + 1]);
      i += 2;
    } else {
      s += hex(c);
      i++;
    }
  }
  return s;
}

/**
 * A journal read for undo without an object per line (a repair of a large
 * tree journals millions): its bytes, where each entry line of an applied
 * run starts, and which run it belongs to; 12 bytes per line besides the
 * file's own.
 */
export interface JournalIndex {
  bytes: Uint8Array;
  /** Byte offset of each applied entry line, in file order. */
  starts: Float64Array;
  /** Its run: an index into `headers`. */
  runOf: Uint32Array;
  /** Entry lines of applied runs (refusal marks among them). */
  count: number;
  /** Refusal marks among `count` ({@link isRefusalMark}). */
  marks: number;
  /**
   * Per entry line (as `starts`), when the journal holds marks:
   * {@link REFUSAL_MARK} for a mark, {@link NOT_MADE} for a line it marks,
   * 0 for the others; undefined when it holds none.
   */
  refused: Uint8Array | undefined;
  headers: JournalHeader[];
  /**
   * Applied entry lines per header, refusal marks and the lines they mark
   * (never made) left out: the lines undo would put back.
   */
  perHeader: number[];
  dryRun: number;
  tornLine: number;
  /**
   * `dev:ino` of each non-folder an applied line would give setuid/setgid
   * back (its old mode has them): the only ones whose newer lines' owners
   * and modes undo needs to remember.
   */
  setid: Set<string>;
}

// (a byte order mark is kept, and refused as the byte no run writes it is:
// the default decoder drops one at the start of each line it decodes)
const ascii = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Longer than any line a run writes (a path has no length limit, but one of
 * 64 MiB, each byte written as `\xNN`, is deeper than any tree): a longer
 * line refuses the file before it is decoded (V8's strings end near 512
 * MiB; a file of NULs holds one such line).
 */
const MAX_LINE = 256 << 20;

/** The line starting at `start` (without its newline). Journal lines are
 *  ASCII: any other byte becomes U+FFFD, which the parser refuses. */
export function lineAt(bytes: Uint8Array, start: number): string {
  const nl = bytes.indexOf(0x0a, start);
  return ascii.decode(bytes.subarray(start, nl < 0 ? bytes.length : nl));
}

/**
 * Whether `l` is a refusal mark: a line whose NEW is its OLD, which a run
 * writes after the line of a change the system refused whole (an entry of
 * another user's without root, an immutable file, root squashed on NFS),
 * each line being written before its change is tried. It says that the
 * line(s) before it of the same run, entry, PATH and OLD ({@link refusalKey})
 * were never made: undo leaves them alone, for values the entry holds now
 * that equal theirs are someone else's (the owner's own `chgrp` since). No
 * line of a change made has NEW equal to OLD.
 */
export function isRefusalMark(l: JournalLine): boolean {
  return l.new.uid === l.old.uid && l.new.gid === l.old.gid && l.new.mode === l.old.mode;
}

/**
 * What a refusal mark and the lines it marks share: run, entry, OLD and
 * PATH. The path too: an entry a run reaches under two paths (a bind mount
 * of a folder inside the tree, read-only, say) may be changed by one
 * worker under the one and refused to another under the other, both lines
 * written before either change, with the same OLD: the mark of the refused
 * one must leave the other, made, to undo.
 */
export function refusalKey(run: number, l: JournalLine): string {
  let path = "";
  for (let i = 0; i < l.rel.length; i += 8192) {
    path += String.fromCharCode(...l.rel.subarray(i, i + 8192)); // a char per byte
  }
  return `${run} ${l.dev} ${l.ino} ${l.old.uid} ${l.old.gid} ${l.old.mode} ${path}`;
}

/** {@link JournalIndex.refused}: a refusal mark. */
export const REFUSAL_MARK = 1;
/** {@link JournalIndex.refused}: a line a refusal mark marks (its change never made). */
export const NOT_MADE = 2;

/** Whether `bytes` start as a journal does: with {@link JOURNAL_MAGIC}. */
export function startsAsJournal(bytes: Uint8Array): boolean {
  return ascii.decode(bytes.subarray(0, JOURNAL_MAGIC.length)) === JOURNAL_MAGIC;
}

/**
 * Check every line of a journal's bytes (any bad line refuses the whole
 * file, before anything changes) and index its applied entry lines;
 * `file` names it in errors.
 */
export function indexJournal(bytes: Uint8Array, file: string): JournalIndex {
  const lastNl = bytes.lastIndexOf(0x0a);
  const whole = lastNl + 1; // bytes in complete lines
  if (!bytes.length) {
    // a run writes its header before it changes anything: one stopped (a
    // SIGKILL, a power cut) between making its journal and that header
    // leaves it empty, having changed nothing
    throw new SyntaxError(
      `pwalk: ${oneLine(file)} is empty: no pwalk journal, or that of a run stopped before its ` +
        "first line, which changed nothing: nothing to undo",
    );
  }
  if (
    lastNl < 0 &&
    (startsAsJournal(bytes) || JOURNAL_MAGIC.startsWith(ascii.decode(bytes)))
  ) {
    // the first bytes of a header and no more, wherever the cut fell
    // (within "#pwalk-journal " or after it): a run stopped while writing
    // it, before its first change (which waits for the header); no torn
    // last line, which would be one error and status 0
    throw new SyntaxError(
      `pwalk: ${
        oneLine(file)
      } holds only the start of a pwalk journal's first line: a run stopped ` +
        "while writing it, which changed nothing: nothing to undo",
    );
  }
  if (!startsAsJournal(bytes)) {
    throw new SyntaxError(`pwalk: ${oneLine(file)} is not a pwalk journal`);
  }
  let starts = new Float64Array(1024);
  let runOf = new Uint32Array(1024);
  let count = 0;
  const headers: JournalHeader[] = [];
  const perHeader: number[] = [];
  let dryRun = 0;
  let marks = 0;
  let lineNo = 0;
  const setid = new Set<string>();
  for (let start = 0; start < whole;) {
    const nl = bytes.indexOf(0x0a, start);
    lineNo++;
    if (nl - start > MAX_LINE) {
      throw new SyntaxError(`pwalk: ${oneLine(file)}:${lineNo}: a line longer than any run writes`);
    }
    // an empty line too is one no run writes: it refuses the file
    const l = lineAt(bytes, start);
    try {
      if (l.startsWith("#")) {
        headers.push(parseHeader(l));
        perHeader.push(0);
      } else {
        if (!headers.length) throw new SyntaxError("an entry line before any header");
        const line = parseLine(l, headers[headers.length - 1].version);
        if (!headers[headers.length - 1].applied) {
          dryRun++;
        } else {
          if (count === starts.length) {
            const s2 = new Float64Array(count * 2), r2 = new Uint32Array(count * 2);
            s2.set(starts);
            r2.set(runOf);
            starts = s2;
            runOf = r2;
          }
          starts[count] = start;
          runOf[count++] = headers.length - 1;
          if (isRefusalMark(line)) marks++;
          else perHeader[headers.length - 1]++;
          if (line.old.mode & 0o6000 && line.type !== "d") setid.add(`${line.dev}:${line.ino}`);
        }
      }
    } catch (e) {
      throw new SyntaxError(`pwalk: ${oneLine(file)}:${lineNo}: ${(e as Error).message}`);
    }
    start = nl + 1;
  }
  // the lines marked as refused (their marks after them: newest first)
  // are none of what undo would put back; told once, here, for undo and
  // readJournal alike
  let refused: Uint8Array | undefined;
  if (marks) {
    refused = new Uint8Array(count);
    const keys = new Set<string>();
    for (let i = count - 1; i >= 0; i--) {
      const line = parseLine(lineAt(bytes, starts[i]), headers[runOf[i]].version);
      if (isRefusalMark(line)) {
        keys.add(refusalKey(runOf[i], line));
        refused[i] = REFUSAL_MARK;
      } else if (keys.has(refusalKey(runOf[i], line))) {
        perHeader[runOf[i]]--;
        refused[i] = NOT_MADE;
      }
    }
  }
  return {
    bytes,
    starts,
    runOf,
    count,
    marks,
    refused,
    headers,
    perHeader,
    dryRun,
    tornLine: whole < bytes.length ? lineNo + 1 : 0,
    setid,
  };
}

/**
 * Check the first `size` bytes of a journal as undo reads it
 * ({@link indexJournal}: any bad line refuses the whole file), reading
 * them from `f` a chunk at a time (a journal of millions of lines is not
 * held whole); a last line without its newline is left out, as undo leaves
 * it. A line with a byte no run writes (a NUL, a control byte, one past
 * 0x7e) is refused at its newline, and not kept meanwhile, however long.
 *
 * @throws {SyntaxError} as indexJournal does: `pwalk: FILE:LINE: why`
 */
export function checkJournal(
  f: { readSync(p: Uint8Array): number | null },
  size: number,
  file: string,
): void {
  const chunk = new Uint8Array(Math.min(size, 1 << 20) || 1);
  let line = new Uint8Array(4096); // the line being read
  let len = 0;
  let lineNo = 0;
  let headers = 0;
  let version: 1 | 2 = 1;
  const fail = (why: string): never => {
    throw new SyntaxError(`pwalk: ${oneLine(file)}:${lineNo + 1}: ${why}`);
  };
  const check = (l: string) => {
    if (lineNo === 0 && !l.startsWith(JOURNAL_MAGIC)) {
      throw new SyntaxError(`pwalk: ${oneLine(file)} is not a pwalk journal`);
    }
    try {
      if (l.startsWith("#")) {
        version = parseHeader(l).version;
        headers++;
      } else {
        if (!headers) throw new SyntaxError("an entry line before any header");
        parseLine(l, version);
      }
    } catch (e) {
      fail((e as Error).message);
    }
  };
  // the first byte no run writes in the line being read (-1: none): the
  // line is refused at its newline (a torn last line, which has none, is
  // left out as undo leaves it), and not kept meanwhile
  let bad = -1;
  for (let left = size; left > 0;) {
    const n = f.readSync(chunk.subarray(0, Math.min(left, chunk.length)));
    if (n === null) break;
    left -= n;
    let from = 0;
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      if (b === 0x0a) {
        if (bad >= 0) {
          fail(`a byte no run writes in a line (0x${bad.toString(16).padStart(2, "0")})`);
        }
        const part = chunk.subarray(from, i);
        if (len + part.length > MAX_LINE) fail("a line longer than any run writes");
        let whole = part;
        if (len) {
          if (len + part.length > line.length) {
            const l2 = new Uint8Array(2 * (len + part.length));
            l2.set(line.subarray(0, len));
            line = l2;
          }
          line.set(part, len);
          whole = line.subarray(0, len + part.length);
          len = 0;
        }
        check(ascii.decode(whole));
        lineNo++;
        from = i + 1;
      } else if ((b < 0x20 || b > 0x7e) && bad < 0) {
        bad = b;
        len = 0;
      }
    }
    if (bad >= 0) continue;
    const rest = chunk.subarray(from, n);
    if (len + rest.length > MAX_LINE) fail("a line longer than any run writes");
    if (len + rest.length > line.length) {
      const l2 = new Uint8Array(2 * (len + rest.length));
      l2.set(line.subarray(0, len));
      line = l2;
    }
    line.set(rest, len);
    len += rest.length;
  }
}
