/**
 * The independent reference: what pwalk's CSV must say about a tree,
 * computed in TypeScript from the spec (tests/fixtures and
 * docs/csv-format.md), without any code of the project.
 *
 * Sources of truth, per path:
 * - `Deno.readDirSync` + `Deno.lstatSync` (`Deno.statSync` for the root) for
 *   every path that is valid UTF-8 and shorter than libc.ts's SHORT_PATH;
 * - libc through FFI (libc.ts: openat/fdopendir/readdir/fstatat on the raw
 *   bytes) for paths that are not UTF-8 or too long for one syscall, and for
 *   folders whose listing from Deno.readDir holds U+FFFD (Deno.readDir
 *   decodes non-UTF-8 names lossily, and the lossy name cannot be lstat-ed).
 *
 * `sources` counts how often each was used, so a test can show that the
 * Deno APIs carried the bulk.
 *
 * @module
 */
import { key, type PwalkRow } from "./csv.ts";
import { bytes, join } from "./bytes.ts";
import { closeLibc, listRaw, lstatRaw, type RawStat, SHORT_PATH } from "./libc.ts";

/**
 * One expected row: csv.ts's PwalkRow (its path with bytes below 32
 * dropped, as the filename column), plus the path on disk and isDir.
 */
export interface RefRow extends PwalkRow {
  /** The path on disk (control bytes kept). */
  rawPath: Uint8Array;
  isDir: boolean;
}

/** pwalk's options, as the spec defines them, plus simulated failures. */
export interface RefOptions {
  /** --NoSnap */
  noSnap?: boolean;
  /** --depth N (0 = unlimited) */
  pwalkDepth?: number;
  /** --exclude: full folder paths */
  exclude?: (string | Uint8Array)[];
  /** -x */
  oneFileSystem?: boolean;
  /** Raw paths (as keys) of folders the walking user cannot open. */
  unreadable?: Set<string>;
  /** Raw paths (as keys) of folders the walking user can list but not search (stat fails). */
  unsearchable?: Set<string>;
}

/** The reference of a tree. */
export interface Reference {
  /** Expected rows by printed path key. */
  rows: Map<string, RefRow>;
  /** How often each source of truth was used. */
  sources: { deno: number; libc: number };
}

const strict = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

function asUtf8(b: Uint8Array): string | null {
  if (b.length >= SHORT_PATH) return null;
  try {
    return strict.decode(b);
  } catch {
    return null;
  }
}

const secs = (d: Date | null): number => Math.floor(d!.getTime() / 1000);

function fromFileInfo(fi: Deno.FileInfo): RawStat {
  return {
    dev: fi.dev,
    ino: fi.ino!,
    mode: fi.mode!,
    nlink: fi.nlink!,
    uid: fi.uid!,
    gid: fi.gid!,
    size: fi.size,
    blocks: fi.blocks!,
    atime: secs(fi.atime),
    mtime: secs(fi.mtime),
    ctime: secs(fi.ctime),
  };
}

/** Drop bytes below 32, as pwalk does in printed names. */
export function printable(b: Uint8Array): Uint8Array {
  return b.filter((c) => c >= 32);
}

/** The spec's extension rule on a base name (raw bytes). */
export function extension(name: Uint8Array): Uint8Array {
  const dot = name.lastIndexOf(0x2e);
  if (dot <= 0) return new Uint8Array();
  return printable(name.subarray(dot + 1));
}

/** The spec's st_mode column. */
export function modeString(mode: number): string {
  return mode.toString(8).padStart(7, "0");
}

const S_IFMT = 0o170000, S_IFDIR = 0o040000;

/** Compute the reference report of `root` (given exactly as pwalk gets it). */
export function referenceReport(root: string, opts: RefOptions = {}): Reference {
  const sources = { deno: 0, libc: 0 };
  const exclude = new Set((opts.exclude ?? []).map((e) => key(bytes(e))));

  function lstat(path: Uint8Array): RawStat | null {
    const s = asUtf8(path);
    try {
      if (s !== null) {
        sources.deno++;
        return fromFileInfo(Deno.lstatSync(s));
      }
      sources.libc++;
      return lstatRaw(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || (e as { errno?: number }).errno === 2) return null;
      throw e;
    }
  }

  function list(path: Uint8Array): Uint8Array[] {
    const s = asUtf8(path);
    if (s !== null) {
      sources.deno++;
      const names = Array.from(Deno.readDirSync(s), (e) => e.name);
      if (!names.some((n) => n.includes("\uFFFD"))) return names.map((n) => enc.encode(n));
    }
    sources.libc++;
    return listRaw(path);
  }

  const rows = new Map<string, RefRow>();
  function add(
    rawPath: Uint8Array,
    st: RawStat,
    parentIno: number,
    depth: number,
    isDir: boolean,
    fcount: number,
    dirsum: number,
  ): void {
    const path = printable(rawPath);
    const k = key(path);
    if (rows.has(k)) throw new Error(`reference: two entries print as ${JSON.stringify(k)}`);
    const name = rawPath.subarray(rawPath.lastIndexOf(0x2f) + 1);
    rows.set(k, {
      ino: st.ino,
      parentIno,
      depth,
      path,
      key: k,
      rawPath,
      ext: isDir ? new Uint8Array() : extension(name),
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      dev: st.dev,
      blocks: st.blocks,
      nlink: st.nlink,
      mode: modeString(st.mode),
      atime: st.atime,
      mtime: st.mtime,
      ctime: st.ctime,
      fcount,
      dirsum,
      isDir,
    });
  }

  const rootBytes = enc.encode(root.length > 1 ? root.replace(/\/+$/, "") : root);
  const rootSt = fromFileInfo(Deno.statSync(root));
  const stack: { path: Uint8Array; st: RawStat; parentIno: number; depth: number }[] = [
    { path: rootBytes, st: rootSt, parentIno: 0, depth: -1 },
  ];
  while (stack.length) {
    const dir = stack.pop()!;
    const dk = key(dir.path);
    let fcount = 0, dirsum = 0;
    if (!opts.unreadable?.has(dk)) {
      const cdepth = dir.depth + 1;
      for (const name of list(dir.path)) {
        fcount++;
        const p = join(dir.path, name);
        const st = opts.unsearchable?.has(dk) ? null : lstat(p);
        if (!st) continue; // vanished, or stat refused: counted, no row, no size
        if (opts.oneFileSystem && st.dev !== rootSt.dev) continue;
        dirsum += st.size;
        if ((st.mode & S_IFMT) === S_IFDIR) {
          if (opts.noSnap && key(name) === ".snapshot") continue;
          if (opts.pwalkDepth && cdepth >= opts.pwalkDepth) continue;
          if (exclude.has(key(p))) continue;
          stack.push({ path: p, st, parentIno: dir.st.ino, depth: cdepth });
        } else {
          add(p, st, dir.st.ino, cdepth, false, -1, 0);
        }
      }
    }
    add(dir.path, dir.st, dir.parentIno, dir.depth, true, fcount, dirsum);
  }
  return { rows, sources };
}

/**
 * The reference of a tree listed once before, so that no folder's atime
 * moves any more (relatime updates it on the first read after a change);
 * the libc binding is closed after.
 */
export function settledReference(root: string, opts: RefOptions = {}): Reference {
  referenceReport(root);
  const ref = referenceReport(root, opts);
  closeLibc();
  return ref;
}
