/**
 * Decoding the records native jobs hand over (layout: native/channel.h):
 * walk's entries and errors, repair's changes.  One TextDecoder call per
 * batch; each path is a slice of it.
 *
 * @module
 */
import { OP_NAMES, REC_SIZE, RecFlag, RecKind } from "./ffi.ts";
import { errnoCode } from "./errno.ts";
import type { WalkError } from "./job.ts";
import { changeKinds, type ChangeRecord, typeOfMode } from "./journal.ts";

export { RecKind };
const KIND_MASK = 0xf;

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/**
 * One file, folder or link found by {@link walk}.  Keeps @std/fs walk's
 * names (`path`, `name`, `isFile`, `isDirectory`, `isSymlink`) and adds the
 * entry's lstat facts, named as in Deno.FileInfo.  Times are numbers:
 * milliseconds since the epoch (with the sub-millisecond fraction).
 */
export class WalkEntry {
  /**
   * Full path: the root as walk() normalizes it (as @std/fs walk does:
   * "./d//a" is "d/a"; the root's own entry keeps a trailing slash, "d/"),
   * then "/" and the names below it.
   */
  readonly path: string;
  /** Base name. */
  readonly name: string;
  /** A regular file (or, with followSymlinks, a link to one). */
  readonly isFile: boolean;
  /** A folder. */
  readonly isDirectory: boolean;
  /** A symbolic link (never followed unless followSymlinks). */
  readonly isSymlink: boolean;
  /** st_size in bytes (a double: exact up to 2^53, sparse files' sizes above that rounded). */
  readonly size: number;
  /** st_mtime, ms since the epoch. */
  readonly mtime: number;
  /** st_atime, ms since the epoch. */
  readonly atime: number;
  /** st_ctime, ms since the epoch. */
  readonly ctime: number;
  /** st_mode with the file-type bits (e.g. 0o100644); only the type bits with `stat: false`. */
  readonly mode: number;
  /** Owner uid. */
  readonly uid: number;
  /** Group gid. */
  readonly gid: number;
  /** Inode number (exact up to 2^53). */
  readonly ino: number;
  /** Device number. */
  readonly dev: number;
  /** Hard links. */
  readonly nlink: number;
  /** 512-byte blocks allocated (exact up to 2^53). */
  readonly blocks: number;
  /** pwalk's directory-depth: the root -1, entries directly inside it 0, ... */
  readonly depth: number;
  /**
   * Inode of the folder whose listing held the entry (0 for the root): for
   * a followed link yielded under its real path (walk's `canonicalize`),
   * the link's folder, not the one its real path names.
   */
  readonly parentIno: number;
  /**
   * Folders: names in its listing (pwalk's pw_fcount); -1 for others, and
   * for folders that were not entered (at walk's maxDepth). A folder
   * entered but not listable (no read permission, mode 000) has 0 (and
   * dirsum 0), as an empty folder has: its `open` error tells them apart.
   */
  readonly fcount: number;
  /**
   * Folders: sum of its direct children's sizes (pwalk's pw_dirsum; a
   * double, exact up to 2^53); others 0. With walk's `stat: false` NaN for
   * every entry: for every folder, the root too (its children's sizes are
   * not known), and for every other entry, as its other stat facts are.
   */
  readonly dirsum: number;
  /**
   * Reached through a symbolic link (followSymlinks): the followed link
   * itself, and every entry below a followed link to a folder. The entries
   * without it are the tree as walked without following, each once.
   */
  readonly viaLink: boolean;
  /**
   * The path's bytes when they are not valid UTF-8 (then `path` and `name`
   * hold U+FFFD for the invalid bytes); undefined otherwise.
   */
  readonly pathBytes: Uint8Array | undefined;

  /** Built by the decoder; not meant to be called by users. */
  constructor(
    path: string,
    name: string,
    v: DataView,
    o: number,
    flags: number,
    pathBytes: Uint8Array | undefined,
  ) {
    const mode = v.getUint32(o + 20, true);
    const fmt = mode & S_IFMT;
    this.path = path;
    this.name = name;
    this.isFile = fmt === S_IFREG;
    this.isDirectory = fmt === S_IFDIR;
    this.isSymlink = fmt === S_IFLNK;
    this.mode = mode;
    this.ino = v.getFloat64(o + 48, true);
    this.depth = v.getInt32(o + 16, true);
    this.parentIno = v.getFloat64(o + 72, true);
    this.fcount = v.getFloat64(o + 104, true);
    this.viaLink = (flags & RecFlag.VIA_LINK) !== 0;
    this.pathBytes = pathBytes;
    if (flags & RecFlag.NO_STAT) {
      // Only the listing's type and inode are known (walk's `stat: false`).
      this.size =
        this.mtime =
        this.atime =
        this.ctime =
          NaN;
      this.uid =
        this.gid =
        this.dev =
        this.nlink =
        this.blocks =
        this.dirsum =
          NaN;
      return;
    }
    this.size = v.getFloat64(o + 40, true);
    this.mtime = v.getFloat64(o + 88, true);
    this.atime = v.getFloat64(o + 80, true);
    this.ctime = v.getFloat64(o + 96, true);
    this.uid = v.getUint32(o + 24, true);
    this.gid = v.getUint32(o + 28, true);
    this.dev = v.getFloat64(o + 56, true);
    this.nlink = v.getFloat64(o + 32, true);
    this.blocks = v.getFloat64(o + 64, true);
    this.dirsum = v.getFloat64(o + 112, true);
  }
}

/** A decoded record: an entry (with its kind), an error, or a change. */
export type Decoded =
  | { kind: EntryKind; entry: WalkEntry }
  | { kind: typeof RecKind.ERROR; error: WalkError }
  | { kind: typeof RecKind.CHANGE; change: ChangeRecord };

/** The kinds of entry records. */
type EntryKind = typeof RecKind.ENTRY | typeof RecKind.DIR | typeof RecKind.SUBDIR;

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true }); // a name may begin with U+FEFF
const utf8Encoder = new TextEncoder();

/** The three regions of a batch (native/channel.h), as JavaScript sees them. */
function regions(
  out: BigUint64Array,
): { nrec: number; view: DataView; str: string; raw: Uint8Array } {
  const region = (addr: bigint, len: bigint) =>
    Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(addr)!, Number(len));
  return {
    nrec: Number(out[6]),
    view: new DataView(region(out[0], out[1])),
    // every UTF-8 path of the batch in one TextDecoder call
    str: out[3] ? utf8.decode(new Uint8Array(region(out[2], out[3]))) : "",
    raw: out[5] ? new Uint8Array(region(out[4], out[5])) : new Uint8Array(0),
  };
}

/** Decode one batch described by pw_job_next's out array. */
export function decodeBatch(out: BigUint64Array, into: Decoded[]): void {
  const { nrec, view, str, raw } = regions(out);
  for (let i = 0, o = 0; i < nrec; i++, o += REC_SIZE) decodeOne(view, o, str, raw, into);
}

/**
 * The answers of a held walk (PW_OPT_HOLD with PW_OPT_SUBDIRS), given as
 * its batches are decoded: `subdir` for each subfolder held for an answer
 * (in listing order), `row` for the row of the folder that listed them,
 * which carries the token to answer.
 */
export interface HeldAnswers {
  /** A subfolder held for an answer: its listing, its index in the hold (from 1), its path. */
  subdir(group: number, hold: number, path: string): void;
  /** The row of the folder that listed group, carrying the token to answer. */
  row(group: number, token: number): void;
}

/**
 * walk()'s decoder: the batch's entries (files, folders, links) that pass
 * `keep` (all when undefined) into `entries`, its errors into `errors`;
 * with `held`, the held subfolders and the rows that answer for them to
 * it; other records are passed over.  No object but the entry itself is
 * made per record.
 */
export function decodeEntries(
  out: BigUint64Array,
  keep: ((e: WalkEntry) => boolean) | undefined,
  entries: WalkEntry[],
  errors: WalkError[],
  held?: HeldAnswers,
): void {
  const { nrec, view, str, raw } = regions(out);
  for (let i = 0, o = 0; i < nrec; i++, o += REC_SIZE) {
    const kf = view.getUint32(o, true);
    const kind = kf & KIND_MASK;
    if (kind === RecKind.ENTRY || kind === RecKind.DIR) {
      const e = entryAt(view, o, kf, str, raw);
      if (!keep || keep(e)) entries.push(e);
      const token = held && kind === RecKind.DIR ? view.getUint32(o + 120, true) : 0;
      if (token) held!.row(view.getFloat64(o + 128, true), token);
    } else if (kind === RecKind.ERROR) {
      errors.push(errorAt(view, o, kf, str, raw));
    } else if (kind === RecKind.SUBDIR && held) {
      const hold = view.getUint32(o + 120, true);
      if (hold) held.subdir(view.getFloat64(o + 128, true), hold, pathText(view, o, kf, str, raw));
    }
  }
}

/** The entry record at offset o (flags kf) as a {@link WalkEntry}. */
function entryAt(view: DataView, o: number, kf: number, str: string, raw: Uint8Array): WalkEntry {
  const off = view.getUint32(o + 4, true);
  const len = view.getUint32(o + 8, true);
  const nameOff = view.getUint32(o + 12, true);
  if (kf & RecFlag.NOT_UTF8) {
    const bytes = raw.slice(off, off + len); // a copy: the batch is reused
    return new WalkEntry(
      utf8.decode(bytes),
      utf8.decode(bytes.subarray(nameOff)),
      view,
      o,
      kf,
      bytes,
    );
  }
  const path = str.slice(off, off + len);
  // the root "/" is named "/", as @std/fs walk (basename) names it
  return new WalkEntry(path, nameOff < len ? path.slice(nameOff) : path, view, o, kf, undefined);
}

/** Decode the record at offset o into `into`. */
function decodeOne(view: DataView, o: number, str: string, raw: Uint8Array, into: Decoded[]): void {
  const kf = view.getUint32(o, true);
  const kind = kf & KIND_MASK;
  if (kind === RecKind.ERROR) into.push({ kind, error: errorAt(view, o, kf, str, raw) });
  else if (kind === RecKind.CHANGE) into.push({ kind, change: changeAt(view, o, kf, str, raw) });
  else into.push({ kind: kind as EntryKind, entry: entryAt(view, o, kf, str, raw) });
}

/** The record's path as text (invalid UTF-8 bytes as U+FFFD). */
function pathText(view: DataView, o: number, kf: number, str: string, raw: Uint8Array): string {
  const off = view.getUint32(o + 4, true);
  const len = view.getUint32(o + 8, true);
  return kf & RecFlag.NOT_UTF8
    ? utf8.decode(raw.subarray(off, off + len))
    : str.slice(off, off + len);
}

/** A rare record's path, and its bytes (copied: the batch is reused). */
function pathAt(
  view: DataView,
  o: number,
  kf: number,
  str: string,
  raw: Uint8Array,
): { path: string; bytes: Uint8Array } {
  const off = view.getUint32(o + 4, true);
  const len = view.getUint32(o + 8, true);
  if (kf & RecFlag.NOT_UTF8) {
    const bytes = raw.slice(off, off + len);
    return { path: utf8.decode(bytes), bytes };
  }
  const path = str.slice(off, off + len);
  return { path, bytes: utf8Encoder.encode(path) };
}

/** The error record at offset o. */
function errorAt(view: DataView, o: number, kf: number, str: string, raw: Uint8Array): WalkError {
  const { path, bytes } = pathAt(view, o, kf, str, raw);
  const mlen = view.getUint32(o + 28, true);
  const moff = view.getFloat64(o + 32, true);
  return {
    path,
    pathBytes: bytes,
    op: OP_NAMES[view.getUint32(o + 20, true)] ?? "error",
    message: utf8.decode(raw.subarray(moff, moff + mlen)),
    code: errnoCode(view.getUint32(o + 24, true)),
  };
}

/** The change record at offset o (repair, chown). */
function changeAt(
  view: DataView,
  o: number,
  kf: number,
  str: string,
  raw: Uint8Array,
): ChangeRecord {
  const { path, bytes } = pathAt(view, o, kf, str, raw);
  const mode = view.getUint32(o + 20, true);
  const type = typeOfMode(mode);
  const old = {
    uid: view.getUint32(o + 108, true),
    gid: view.getUint32(o + 112, true),
    mode: view.getUint32(o + 104, true),
  };
  const now = {
    uid: view.getUint32(o + 24, true),
    gid: view.getUint32(o + 28, true),
    mode: mode & 0o7777,
  };
  return {
    path,
    pathBytes: bytes,
    type: type.name,
    dev: view.getFloat64(o + 56, true),
    ino: view.getFloat64(o + 48, true),
    kinds: changeKinds(type.letter, old, now),
    old,
    new: now,
  };
}

/**
 * A batch of a walkDirs walk, by column: what walkDirs needs of each
 * record, without an object per entry (only folders get a WalkEntry).
 */
export interface DirsBatch {
  /** Records in the batch. */
  n: number;
  /** Record kinds (RecKind). */
  kind: Uint8Array;
  /**
   * Base names: with `runs` (names-only walks) a run of `count[i]` names
   * of one listing, of one kind and type, joined by "/".
   */
  name: string[];
  /** Names in name[i]. */
  count: Uint32Array;
  /** Full paths, when asked for (`skip`), else empty. */
  path: string[];
  /** With `skip`: 1 for an entry or subfolder record whose path it names (tested once here). */
  skipped: Uint8Array;
  /** The listing each record came from; a folder row's own listing. */
  group: Float64Array;
  /** Folder rows: the listing of the folder above. */
  parentGroup: Float64Array;
  /** The hold field (channel.h). */
  hold: Uint32Array;
  /** 1: a link to a folder; 2: an entry that is a folder (walk's last level). */
  flags: Uint8Array;
  /** Folder rows: the folder, with its facts. */
  entry: (WalkEntry | undefined)[];
  /** Errors of the batch. */
  errors: WalkError[];
  /**
   * Names that are not UTF-8, by record: their exact bytes (a run's joined
   * by "/"); absent when the batch has none.
   */
  raw?: Map<number, Uint8Array>;
}

/**
 * Decode one batch for walkDirs (see {@link DirsBatch}); with `skip`, fill
 * `path` too, and `skipped` with its test of each entry and subfolder.
 */
export function decodeDirsBatch(
  out: BigUint64Array,
  skip?: (path: string) => boolean,
): DirsBatch {
  const paths = !!skip;
  const { nrec, view, str, raw } = regions(out);
  const b: DirsBatch = {
    n: nrec,
    kind: new Uint8Array(nrec),
    name: new Array(nrec),
    count: new Uint32Array(nrec),
    path: paths ? new Array(nrec) : [],
    skipped: new Uint8Array(paths ? nrec : 0),
    group: new Float64Array(nrec),
    parentGroup: new Float64Array(nrec),
    hold: new Uint32Array(nrec),
    flags: new Uint8Array(nrec),
    entry: new Array(nrec),
    errors: [],
  };
  for (let i = 0, o = 0; i < nrec; i++, o += REC_SIZE) {
    const kf = view.getUint32(o, true);
    const kind = kf & KIND_MASK;
    b.kind[i] = kind;
    if (kind === RecKind.ERROR) b.errors.push(errorAt(view, o, kf, str, raw));
    else if (kind === RecKind.CHANGE) continue;
    else if (kind === RecKind.DIR) {
      // a folder's own row: the folder, as walk() decodes it
      const e = entryAt(view, o, kf, str, raw);
      b.name[i] = e.name;
      if (paths) b.path[i] = e.path;
      b.entry[i] = e;
    } else {
      // names (and paths, for skip) only: no object per entry
      const off = view.getUint32(o + 4, true);
      const len = view.getUint32(o + 8, true);
      const nameOff = view.getUint32(o + 12, true);
      if (kf & RecFlag.NOT_UTF8) {
        const bytes = raw.slice(off + nameOff, off + len);
        b.name[i] = utf8.decode(bytes);
        (b.raw ??= new Map()).set(i, bytes);
        if (paths) b.path[i] = utf8.decode(raw.subarray(off, off + len));
      } else {
        b.name[i] = str.slice(off + nameOff, off + len);
        if (paths) b.path[i] = str.slice(off, off + len);
      }
      if (skip) b.skipped[i] = skip(b.path[i]) ? 1 : 0;
    }
    b.count[i] = view.getUint32(o + 124, true);
    b.group[i] = view.getFloat64(o + 128, true);
    b.parentGroup[i] = view.getFloat64(o + 136, true);
    b.hold[i] = view.getUint32(o + 120, true);
    const dirEntry = kind === RecKind.ENTRY &&
      (view.getUint32(o + 20, true) & S_IFMT) === S_IFDIR;
    b.flags[i] = (kf & RecFlag.LINK_DIR ? 1 : 0) | (dirEntry ? 2 : 0);
  }
  return b;
}
