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
 * planner needs each planned folder's device and inode).
 *
 * @module
 */
import { normalize } from "node:path/posix";
import { walk } from "../walk.ts";
import { joinPath, normaliseRoot, utf8 } from "./paths.ts";

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

async function listNative(root: string, t: ListTarget): Promise<Listing> {
  const id = t.depth < 0 ? t.id : await folderId(t.path, t.id);
  if (!id) return { count: 0, dirs: [], error: "not a folder any more" };
  const path = t.depth < 0 ? t.path : asWalkSpells(root, t.path);
  const dirs: SubFolder[] = [];
  let count = 0;
  let error: string | undefined;
  const it = walk(root, {
    // the root itself is walked as the root (a frontier folder has a depth >= 0)
    // (parentIno and depth only label rows, and no row of it is kept)
    frontier: t.depth >= 0 ? [{ path, ...id, parentIno: 0, depth: t.depth }] : undefined,
    maxDepth: t.depth + 2, // @std/fs numbering: its entries, not below
    threads: 1,
    onError: (e) => {
      if (e.pathBytes.length === path.length) error ??= `${e.op}: ${e.message}`;
    },
  });
  for await (const e of it) {
    if (e.depth !== t.depth + 1) continue;
    count++;
    if (e.isDirectory) {
      const p = e.pathBytes ?? enc.encode(e.path);
      const cut = p.lastIndexOf(0x2f);
      dirs.push({ name: p.slice(cut + 1), id: { dev: e.dev, ino: e.ino } });
    }
  }
  return error ? { count: 0, dirs: [], error } : { count, dirs };
}

/**
 * List the folder `t` below `root` (the root as the walk gets it).
 * Never throws for the folder: an unreadable one comes back with `error`;
 * throws when the process is out of descriptors (EMFILE, ENFILE) or memory.
 */
export async function listFolder(root: string, t: ListTarget): Promise<Listing> {
  const s = utf8(t.path);
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
          `${s}: ${text}${code === "ENOMEM" ? "" : ": raise the limit of open files (ulimit -n)"}`,
          { cause: e },
        );
      }
      if (!(e instanceof Error) || !/name too long/i.test(e.message)) {
        return { count: 0, dirs: [], error: (e as Error).message };
      }
    }
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
