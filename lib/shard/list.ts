/**
 * The planner's view of one folder: how many names it lists and which of
 * them are folders, from the listing alone (names and d_type, no stat per
 * entry), and the device and inode of a folder the plan keeps.
 *
 * Deno.readDir does the work for UTF-8 paths. It decodes a name that is
 * not UTF-8 lossily (U+FFFD), and such a name cannot be opened; a folder
 * with one (or a path Deno cannot reach, longer than PATH_MAX) is listed
 * by the native walker instead, which works on bytes and stats each entry,
 * as is a folder with a subfolder whose path is longer than PATH_MAX (the
 * planner needs each planned folder's device and inode). A folder past
 * PATH_MAX is listed with its subtree, 64 levels at most, by one walk
 * ({@link DeepListings}), not by one walk from ROOT per folder.
 *
 * @module
 */
import { normalize } from "node:path/posix";
import { walk, type WalkEntry } from "../walk.ts";
import type { WalkError } from "../job.ts";
import { Buffer } from "node:buffer";
import { byteKey, joinPath, normaliseRoot, utf8 } from "./paths.ts";
import { oneLine } from "../utf8.ts";

/** A folder's identity, as the walker checks it. */
export interface FolderId {
  dev: number;
  ino: number;
}

/** A folder to list. */
export interface ListTarget {
  /** Its path (the root as given, then names). */
  path: Uint8Array;
  /** pwalk depth of its row (the root -1, its folders 0). */
  depth: number;
  /** Its device and inode when known (else stat-ed if the native walker must list it). */
  id?: FolderId;
}

/** One subfolder seen in a listing. */
export interface SubFolder {
  /** Its name (bytes). */
  name: Uint8Array;
  /** Device and inode when the listing stat-ed it (the native fallback). */
  id?: FolderId;
}

/** What a listing found. */
export interface Listing {
  /** Names in the folder (pwalk's pw_fcount). */
  count: number;
  /** Its subfolders (not links to folders), in listing order. */
  dirs: SubFolder[];
  /** Why it could not be listed (then count is 0 and dirs empty). */
  error?: string;
}

const FFFD = "\uFFFD";
const enc = new TextEncoder();

/** Bytes of the longest path one call takes (Linux's PATH_MAX, less its NUL). */
const PATH_MAX = 4095;

async function listWithDeno(path: string): Promise<Listing | null> {
  const dirs: SubFolder[] = [];
  let count = 0;
  const room = PATH_MAX - enc.encode(path).length - 1; // for a name below it
  for await (const e of Deno.readDir(path)) {
    if (e.name.includes(FFFD)) return null; // perhaps lossy: the bytes are needed
    // a folder whose path is too long for lstat: its device and inode from
    // the native listing, which stats each entry (the planner drops a
    // folder it cannot stat, and its rows would then be nobody's estimate)
    if (e.isDirectory && e.name.length * 3 > room && enc.encode(e.name).length > room) return null;
    count++;
    if (e.isDirectory) dirs.push({ name: enc.encode(e.name) });
  }
  return { count, dirs };
}

/**
 * `path`, a path below `root` as the planner spells it (the root as given,
 * then names), spelled as walk() spells its root (normalized: "./t" is
 * "t", "a//b" is "a/b"): the walker takes a frontier folder only below the
 * root as it prints it.
 */
function asWalkSpells(root: string, path: Uint8Array): Uint8Array {
  const given = enc.encode(root);
  const rel = path.subarray(given.length + (given[given.length - 1] === 0x2f ? 0 : 1));
  return joinPath(enc.encode(normaliseRoot(normalize(root))), rel);
}

/**
 * Walk the folder `t` below `root`: its listing, and with `levels` > 1 the
 * listings of the folders below it too, `levels` levels of folders listed
 * in all, while `budget` entries last (the rest of the walk is then
 * cancelled). Each entry goes to `seen` with its path below the folder
 * (empty for the folder's own row), each error to `failed` with its path
 * below the folder (empty for the folder's own; with one level, only
 * those). False when the folder is no folder any more.
 */
async function walkBelow(
  root: string,
  t: ListTarget,
  levels: number,
  budget: number,
  seen: (e: WalkEntry, rel: Uint8Array) => void,
  failed: (e: WalkError, rel: Uint8Array) => void,
): Promise<boolean> {
  const id = t.depth < 0 ? t.id : await folderId(t.path, t.id);
  if (!id) return false;
  const path = t.depth < 0 ? t.path : asWalkSpells(root, t.path);
  const relOf = (p: Uint8Array) => p.subarray(Math.min(p.length, path.length + 1));
  // an entry's path is a string when UTF-8 (then so is the folder's, the
  // start of it): the part below the folder encoded, not all of it
  const pathText = levels > 1 ? utf8(path) : null;
  const relOfEntry = (e: WalkEntry) =>
    e.pathBytes
      ? relOf(e.pathBytes)
      : pathText !== null
      ? enc.encode(e.path.slice(Math.min(e.path.length, pathText.length + 1)))
      : relOf(enc.encode(e.path));
  const it = walk(root, {
    // the root itself is walked as the root (a frontier folder has a depth >= 0)
    // (parentIno and depth only label rows, and no row of it is kept)
    frontier: t.depth >= 0 ? [{ path, ...id, parentIno: 0, depth: t.depth }] : undefined,
    // @std/fs numbering: the entries of the last level listed, not below
    maxDepth: t.depth + 1 + levels,
    threads: 1,
    onError: (e) => {
      if (e.pathBytes.length === path.length) failed(e, new Uint8Array(0));
      else if (levels > 1 && e.pathBytes.length > path.length) failed(e, relOf(e.pathBytes));
    },
  });
  let n = 0;
  for await (const e of it) {
    seen(e, relOfEntry(e));
    if (++n >= budget) break; // (the walk is cancelled: the listings it finished stand)
  }
  return true;
}

/**
 * A listed subfolder's device and inode; none for one whose stat was
 * refused (its folder readable, not searchable): the walker keeps its row
 * with the listing's inode and no device (NaN), which no frontier takes.
 * The planner then treats it as it treats one that Deno's listing names
 * and lstat refuses.
 */
function idOf(e: WalkEntry): FolderId | undefined {
  return Number.isFinite(e.dev) && Number.isFinite(e.ino) ? { dev: e.dev, ino: e.ino } : undefined;
}

async function listNative(root: string, t: ListTarget): Promise<Listing> {
  const dirs: SubFolder[] = [];
  let count = 0;
  let error: string | undefined;
  const found = await walkBelow(root, t, 1, Infinity, (e) => {
    if (e.depth !== t.depth + 1) return;
    count++;
    if (e.isDirectory) {
      const p = e.pathBytes ?? enc.encode(e.path);
      const cut = p.lastIndexOf(0x2f);
      dirs.push({ name: p.slice(cut + 1), id: idOf(e) });
    }
  }, (e) => {
    error ??= `${e.op}: ${e.message}`;
  });
  if (!found) return { count: 0, dirs: [], error: "not a folder any more" };
  return error ? { count: 0, dirs: [], error } : { count, dirs };
}

/** Levels of folders one walk below a deep folder lists ({@link DeepListings}). */
const DEEP_LEVELS = 64;
/** Entries one such walk reads at most. */
const DEEP_BUDGET = 4096;
/** Listings kept for later at most (the oldest walks' dropped first). */
const DEEP_KEPT = 65536;

/** The listings one walk below a deep folder finished, for later. */
interface DeepWindow {
  /** The deep folder's path (the planner's spelling). */
  base: Uint8Array;
  /** By the path below it (byteKey): a listing and its folder's identity. */
  listings: Map<string, { id: FolderId; listing: Listing }>;
}

/**
 * Listings of folders past PATH_MAX made ahead, for one plan. The native
 * walker reaches a folder past PATH_MAX from the root, one name at a time:
 * a listing of each such folder by a walk of its own costs the depth in
 * opens each, the square of the depth down a chain. When the planner asks
 * for one that was not made ahead, a single walk lists it and the folders
 * below it ({@link DEEP_LEVELS} levels, within {@link DEEP_BUDGET}
 * entries), and keeps those listings that it finished (every name of the
 * folder seen, no error on it) for when the planner asks for them, each
 * given once, by its path and only to a folder of the same device and
 * inode. The listing asked for is that walk's when it finished it, else it
 * is listed alone, as any other.
 */
export class DeepListings {
  /** The walks' listings by their folder's {@link windowKey}. */
  #windows = new Map<string, DeepWindow[]>();
  /** The same, oldest first. */
  #order = new Set<DeepWindow>();
  #kept = 0;

  /** The listing of `t` made ahead (and forgotten now), or undefined. */
  take(t: ListTarget): Listing | undefined {
    if (!t.id) return undefined;
    // the folders above it that a walk's listings may have started at
    let end = t.path.length;
    for (let up = 0; up < DEEP_LEVELS; up++) {
      end = t.path.lastIndexOf(0x2f, end - 1);
      if (end <= 0) break;
      for (const w of this.#windows.get(windowKey(t.path.subarray(0, end))) ?? []) {
        if (!samePrefix(t.path, w.base)) continue;
        const key = byteKey(t.path.subarray(end + 1));
        const got = w.listings.get(key);
        if (!got) continue;
        w.listings.delete(key);
        this.#kept--;
        if (!w.listings.size) this.#drop(w);
        return got.id.dev === t.id.dev && got.id.ino === t.id.ino ? got.listing : undefined;
      }
    }
    return undefined;
  }

  #drop(w: DeepWindow): void {
    const k = windowKey(w.base);
    const ws = this.#windows.get(k)!.filter((x) => x !== w);
    if (ws.length) this.#windows.set(k, ws);
    else this.#windows.delete(k);
    this.#order.delete(w);
    this.#kept -= w.listings.size;
  }

  /**
   * List `t` (a folder past PATH_MAX, below the root) by a walk that also
   * lists the folders below it, keeping theirs for later; null when that
   * walk did not finish the listing of `t` itself.
   */
  async list(root: string, t: ListTarget): Promise<Listing | null> {
    // by the path below t: the folders' rows (names counted), the names
    // seen in each folder, and the folders with an error
    const rows = new Map<string, { id: FolderId; fcount: number }>();
    const seen = new Map<string, Listing>();
    const failed = new Set<string>();
    const found = await walkBelow(root, t, DEEP_LEVELS, DEEP_BUDGET, (e, rel) => {
      const key = byteKey(rel);
      if (e.isDirectory && e.fcount >= 0) {
        rows.set(key, { id: { dev: e.dev, ino: e.ino }, fcount: e.fcount });
      }
      if (!rel.length) return; // t's own row
      const cut = rel.lastIndexOf(0x2f);
      const parent = cut < 0 ? "" : key.slice(0, cut);
      let l = seen.get(parent);
      if (!l) seen.set(parent, l = { count: 0, dirs: [] });
      l.count++;
      if (e.isDirectory) l.dirs.push({ name: rel.slice(cut + 1), id: idOf(e) });
    }, (_e, rel) => failed.add(byteKey(rel)));
    if (!found) return { count: 0, dirs: [], error: "not a folder any more" };
    const done = (key: string) => {
      const row = rows.get(key);
      return row !== undefined && !failed.has(key) && (seen.get(key)?.count ?? 0) === row.fcount;
    };
    const listings = new Map<string, { id: FolderId; listing: Listing }>();
    for (const [key, row] of rows) {
      if (key !== "" && done(key)) {
        listings.set(key, { id: row.id, listing: seen.get(key) ?? { count: 0, dirs: [] } });
      }
    }
    if (listings.size) {
      const w = { base: t.path, listings };
      const k = windowKey(t.path);
      this.#windows.set(k, [...this.#windows.get(k) ?? [], w]);
      this.#order.add(w);
      this.#kept += listings.size;
      for (const old of this.#order) {
        if (this.#kept <= DEEP_KEPT || old === w) break;
        this.#drop(old);
      }
    }
    return done("") ? seen.get("") ?? { count: 0, dirs: [] } : null;
  }
}

/** A map key for a folder: its path's length and last name (a few folders share one). */
function windowKey(path: Uint8Array): string {
  return `${path.length}/${byteKey(path.subarray(path.lastIndexOf(0x2f) + 1))}`;
}

/** Whether `p` starts with the bytes of `prefix`. */
function samePrefix(p: Uint8Array, prefix: Uint8Array): boolean {
  const n = prefix.length;
  return Buffer.from(p.buffer, p.byteOffset, n).equals(
    Buffer.from(prefix.buffer, prefix.byteOffset, n),
  );
}

/**
 * List the folder `t` below `root` (the root as the walk gets it).
 * Never throws for the folder: an unreadable one comes back with `error`;
 * throws when the process is out of descriptors (EMFILE, ENFILE) or memory.
 */
export async function listFolder(
  root: string,
  t: ListTarget,
  deep?: DeepListings,
): Promise<Listing> {
  // (a longer path is refused by the system: ENAMETOOLONG)
  const s = t.path.length > PATH_MAX ? null : utf8(t.path);
  if (s !== null) {
    try {
      const l = await listWithDeno(s);
      if (l) return l;
    } catch (e) {
      // out of descriptors or memory is the run's, not the folder's: taken
      // as a folder that cannot be listed, its rows would be nobody's
      // estimate and the plan, said complete, balanced on what is left
      const code = (e as { code?: string })?.code;
      if (code === "EMFILE" || code === "ENFILE" || code === "ENOMEM") {
        const text = String((e as Error).message).replace(/ \(os error \d+\).*$/s, "");
        throw new Error(
          `${oneLine(s)}: ${text}${
            code === "ENOMEM" ? "" : ": raise the limit of open files (ulimit -n)"
          }`,
          { cause: e },
        );
      }
      if (!(e instanceof Error) || !/name too long/i.test(e.message)) {
        return { count: 0, dirs: [], error: (e as Error).message };
      }
    }
  }
  if (deep && t.depth >= 0 && t.path.length > PATH_MAX) {
    const id = await folderId(t.path, t.id);
    if (!id) return { count: 0, dirs: [], error: "not a folder any more" };
    const l = deep.take({ ...t, id }) ?? await deep.list(root, { ...t, id });
    if (l) return l;
  }
  return listNative(root, t);
}

/**
 * Device and inode of the folder at `path` (lstat: a link is not a folder),
 * or null when it is gone or not a folder. Paths that are not UTF-8 (or too
 * long for one call) need `known`, from a native listing.
 */
export async function folderId(path: Uint8Array, known?: FolderId): Promise<FolderId | null> {
  if (known) return known;
  const s = utf8(path);
  if (s === null) return null;
  try {
    const st = await Deno.lstat(s);
    return st.isDirectory ? { dev: st.dev, ino: st.ino! } : null;
  } catch {
    return null;
  }
}
