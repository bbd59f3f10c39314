/**
 * Paths as the walker builds them, in bytes (names need not be UTF-8), and
 * their form in a plan's JSON.
 *
 * @module
 */

const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * An absolute, normalised form of a path, taken from the working folder
 * when relative; `.` and `..` resolved by name (no symbolic link is).
 *
 * @example
 * ```ts ignore
 * absolutePath("scans/./a/../b/"); // "/home/me/scans/b" (in /home/me)
 * ```
 */
export function absolutePath(p: string): string {
  const abs = p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  const parts: string[] = [];
  for (const s of abs.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") parts.pop();
    else parts.push(s);
  }
  return "/" + parts.join("/");
}

/**
 * Whether the folder `dir` is `root` or lies inside it, both as really
 * reached (links resolved; a `dir` not made yet by its deepest existing
 * ancestor): a scan folder there would have the shards list each other's
 * outputs. `root` must be there (its realPath is taken: the error of
 * Deno.realPath is thrown).
 *
 * @example
 * ```ts ignore
 * await folderInside("/data/scan", "/data"); // true
 * await folderInside("/scratch/scan", "/data"); // false
 * ```
 */
export async function folderInside(dir: string, root: string): Promise<boolean> {
  const realRoot = await Deno.realPath(root);
  const realDir = await reachedFolder(dir);
  return realDir === realRoot || realDir.startsWith(realRoot === "/" ? "/" : `${realRoot}/`);
}

/** A folder as really reached: links resolved, a part not made yet by its deepest existing ancestor. */
async function reachedFolder(dir: string): Promise<string> {
  let base = absolutePath(dir), rest = "";
  for (;;) {
    try {
      base = await Deno.realPath(base);
      break;
    } catch {
      rest = base.slice(base.lastIndexOf("/")) + rest;
      base = base.slice(0, base.lastIndexOf("/")) || "/";
    }
  }
  return (base === "/" ? "" : base) + rest || "/";
}

/** What a scan leaves out, for {@link scanEnters}. */
export interface ScanSkips {
  /**
   * The excluded folders in the walker's spelling under `spelled`
   * (lib/options.ts excludeList, or planExcludes of a plan).
   */
  exclude?: readonly (string | Uint8Array)[];
  /** -x: folders on another file system than ROOT's are not entered. */
  oneFileSystem?: boolean;
  /** --NoSnap: `.snapshot` folders are not entered. */
  noSnap?: boolean;
  /** ROOT as the walker is given it (the excludes' spelling); default `root`. */
  spelled?: string;
}

/**
 * Whether a scan of `root` would list what is in the folder `dir`: `dir`
 * is inside `root` as really reached ({@link folderInside}), and no folder
 * on the way down to it, itself included, is one the walk leaves out (an
 * excluded folder, with `oneFileSystem` one on another file system than
 * ROOT's, with `noSnap` a `.snapshot`). A scan folder the walk lists
 * would have the shards list each other's outputs; one it does not enter
 * is as good as one outside ROOT (`/` scanned with -x, written to
 * /dev/shm). `root` must be there (the error of Deno.realPath is thrown).
 *
 * @example
 * ```ts ignore
 * await scanEnters("/dev/shm/scan", "/", { oneFileSystem: true }); // false: a tmpfs
 * await scanEnters("/data/scan", "/data", { exclude: ["/data/scan"] }); // false
 * await scanEnters("/data/scan", "/data"); // true
 * ```
 */
export async function scanEnters(
  dir: string,
  root: string,
  skips: ScanSkips = {},
): Promise<boolean> {
  const realRoot = await Deno.realPath(root);
  const realDir = await reachedFolder(dir);
  if (realDir === realRoot) return true;
  const prefix = realRoot === "/" ? "/" : `${realRoot}/`;
  if (!realDir.startsWith(prefix)) return false;
  const given = normaliseRoot(skips.spelled ?? root);
  const excluded = new Set(
    (skips.exclude ?? []).map((e) => byteKey(typeof e === "string" ? enc.encode(e) : e)),
  );
  const rootDev = skips.oneFileSystem ? (await Deno.stat(root)).dev : 0;
  const names = realDir.slice(prefix.length).split("/");
  for (let i = 1; i <= names.length; i++) {
    const name = names[i - 1], rel = names.slice(0, i).join("/");
    if (skips.noSnap && name === ".snapshot") return false;
    // the walker's spelling of the folder: ROOT as given, then the names
    const spelled = [`${given === "/" ? "" : given}/${rel}`, ...(given === "." ? [rel] : [])];
    if (spelled.some((p) => excluded.has(byteKey(enc.encode(p))))) return false;
    if (skips.oneFileSystem) {
      // (a folder not made yet: on its parent's file system)
      const st = await Deno.lstat(`${prefix}${rel}`).catch(() => null);
      if (st && st.dev !== rootDev) return false;
    }
  }
  return true;
}

/** Why a scan folder (or a shard's output) inside the root is refused ({@link scanEnters}). */
export function insideRootText(what: string, root: string): string {
  return `${what} is inside ${root}: the shards would list each other's outputs; ` +
    "choose a folder outside it (or one the scan does not enter: excluded, or with -x on " +
    "another file system)";
}

/** The path as a string when it is valid UTF-8, else null. */
export function utf8(p: Uint8Array): string | null {
  try {
    return strict.decode(p);
  } catch {
    return null;
  }
}

/** The root as the walker prints it: trailing slashes dropped, "/" kept. */
export function normaliseRoot(root: string): string {
  let n = root.length;
  while (n > 1 && root[n - 1] === "/") n--;
  return root.slice(0, n);
}

/** `dir/name` as the walker joins them (no second slash after "/"). */
export function joinPath(dir: Uint8Array, name: Uint8Array): Uint8Array {
  const slash = dir.length === 0 || dir[dir.length - 1] !== 0x2f ? 1 : 0;
  const out = new Uint8Array(dir.length + slash + name.length);
  out.set(dir);
  if (slash) out[dir.length] = 0x2f;
  out.set(name, dir.length + slash);
  return out;
}

/** Byte order of two paths (a stable tie-break that needs no decoding). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** A map key for a path: one char per byte (distinct bytes give distinct keys). */
export function byteKey(p: Uint8Array): string {
  return latin1(p);
}

/**
 * One char per byte, 8 KiB at a time through `apply` (a spread walks the
 * bytes one by one through the array iterator: 8 times slower, and a path
 * past PATH_MAX takes one such key per folder the planner reads).
 */
function latin1(p: Uint8Array): string {
  let s = "";
  for (let i = 0; i < p.length; i += 8192) {
    s += String.fromCharCode.apply(null, p.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** A path in a plan's JSON: `path` for people, `pathBase64` when it is not UTF-8. */
export interface JsonPath {
  /** The path (with U+FFFD for bytes that are not UTF-8). */
  path: string;
  /** The exact bytes, present only when the path is not valid UTF-8. */
  pathBase64?: string;
}

function base64(b: Uint8Array): string {
  return btoa(latin1(b));
}

/** The JSON form of a path. */
export function jsonPath(p: Uint8Array): JsonPath {
  const s = utf8(p);
  return s !== null ? { path: s } : { path: lossy.decode(p), pathBase64: base64(p) };
}

/** The bytes of a path read from JSON. */
export function pathOfJson(j: JsonPath): Uint8Array {
  if (j.pathBase64 === undefined) return enc.encode(j.path);
  return Uint8Array.from(atob(j.pathBase64), (c) => c.charCodeAt(0));
}

/**
 * The completion record's path for an output: `scan-3.csv.zst` gives
 * `scan-3.done.json` (a `.csv`, `.csv.zst`, `.csv.zstd` or `.csv.gz` suffix,
 * in any case, is replaced; any other name gets `.done.json` appended).
 *
 * @example
 * ```ts
 * import { recordPath } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(recordPath("out/scan-3.csv.zst"), "out/scan-3.done.json");
 * assertEquals(recordPath("out/scan-3.CSV.GZ"), "out/scan-3.done.json");
 * assertEquals(recordPath("out/scan-3.parquet"), "out/scan-3.parquet.done.json");
 * ```
 */
export function recordPath(output: string): string {
  const m = /\.csv(\.zstd?|\.gz)?$/i.exec(output);
  return m ? output.slice(0, m.index) + ".done.json" : output + ".done.json";
}
