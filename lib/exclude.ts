/**
 * Excluded folders, spelled the way the walker spells paths.
 *
 * The native walker matches each subfolder's path, built from the root as
 * given (trailing slashes dropped) and the names below it, exactly against
 * the exclude set. People spell the same folder in many ways: absolute
 * under a relative root, `./x`, `x/`, `a//b`, through a linked root, in
 * a list file written on Windows (CRLF, a UTF-8 BOM). {@link resolveExcludes}
 * turns each spelling into the walker's; report(), walk(), repair() and
 * chown() all go through it (lib/options.ts commonNative), so they agree.
 *
 * @module
 */

import { utf8Seq } from "./utf8.ts";

/** The walker's spelling of the root: trailing slashes dropped ("/" stays). */
function rootSpelling(root: string): string {
  return root.length > 1 ? root.replace(/\/+$/, "") || "/" : root;
}

/** Lexically tidy: no empty or `.` components, no trailing slash. */
export function tidy(p: string): string {
  const abs = p.startsWith("/");
  const parts = p.split("/").filter((c) => c !== "" && c !== ".");
  return (abs ? "/" : "") + parts.join("/") || (abs ? "/" : ".");
}

function realPath(p: string, cache: Map<string, string | null>): string | null {
  let r = cache.get(p);
  if (r === undefined) {
    try {
      r = Deno.realPathSync(p);
    } catch {
      r = null;
    }
    cache.set(p, r);
  }
  return r;
}

/**
 * Where `path` is, physically: its parent's real path plus its own name
 * (the folder itself is not resolved: a link is never entered anyway), or
 * null when its parent does not exist.
 */
function physical(path: string, cache: Map<string, string | null>): string | null {
  const abs = tidy(path.startsWith("/") ? path : `${Deno.cwd()}/${path}`);
  const cut = abs.lastIndexOf("/");
  const name = abs.slice(cut + 1);
  if (name === ".." || abs === "/") return realPath(abs, cache);
  const parent = realPath(abs.slice(0, cut) || "/", cache);
  return parent === null ? null : `${parent === "/" ? "" : parent}/${name}`;
}

/** A folder's names as listed, and by their lower case (listedSpelling). */
interface Listing {
  names: Set<string>;
  lower: Map<string, string>;
}

/**
 * `rel`, a path below the folder `dir`, with each name as its folder lists
 * it. On a file system that ignores case (FAT, exFAT, SMB, macOS's APFS) a
 * name spelled in another case finds the folder, but the walker compares
 * names as listed: `DEEP` would exclude nothing, and no warning would say
 * so. A folder is listed (once: `cache`) only when a name is there as
 * spelled and its case swapped finds an entry too; a name not there keeps
 * its spelling (on a file system that keeps case, `DATA` missing beside
 * `data` is not `data`).
 */
function listedSpelling(dir: string, rel: string, cache: Map<string, Listing | null>): string {
  let at = dir === "/" ? "" : dir;
  const out: string[] = [];
  for (const name of rel.split("/")) {
    const got = listedName(at || "/", name, cache);
    out.push(got);
    at = `${at}/${got}`;
  }
  return out.join("/");
}

/** The name `name` of the folder `dir` as `dir` lists it (listedSpelling). */
function listedName(dir: string, name: string, cache: Map<string, Listing | null>): string {
  const swapped = [...name].map((c) => c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())
    .join("");
  if (swapped === name) return name;
  const at = (n: string) => `${dir === "/" ? "" : dir}/${n}`;
  try {
    Deno.lstatSync(at(name));
    Deno.lstatSync(at(swapped));
  } catch {
    return name; // not there as spelled, or not in the other case: as given
  }
  let listing = cache.get(dir);
  if (listing === undefined) {
    listing = null;
    try {
      const names = new Set<string>(), lower = new Map<string, string>();
      for (const e of Deno.readDirSync(dir)) {
        names.add(e.name);
        if (!lower.has(e.name.toLowerCase())) lower.set(e.name.toLowerCase(), e.name);
      }
      listing = { names, lower };
    } catch {
      // not listed: as given
    }
    cache.set(dir, listing);
  }
  if (!listing || listing.names.has(name)) return name;
  return listing.lower.get(name.toLowerCase()) ?? name;
}

/**
 * Every exclude path in the walker's spelling under `root`: each path
 * tidied as given, plus, when it names something inside the root, the
 * root's own spelling followed by the path below it. Idempotent.
 *
 * @example A relative root, absolute and `./` spellings
 * ```ts ignore
 * Deno.chdir("/data");
 * resolveExcludes("projects", ["/data/projects/scratch/", "./projects/tmp"]);
 * // ["/data/projects/scratch", "projects/scratch", "projects/tmp"]
 * ```
 */
export function resolveExcludes(root: string, paths: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  if (!paths?.length) return [];
  const cache = new Map<string, string | null>();
  const listed = new Map<string, Listing | null>();
  const given = rootSpelling(root);
  const realRoot = realPath(root, cache);
  const prefix = realRoot === "/" ? "/" : `${realRoot}/`;
  for (const p of paths) {
    out.add(tidy(p));
    const real = realRoot === null ? null : physical(p, cache);
    const rel = real !== null && real.startsWith(prefix) && real.length > prefix.length
      ? listedSpelling(realRoot!, real.slice(prefix.length), listed)
      : tooLong(p)
      ? lexicalBelow(p, given, realRoot)
      : null;
    if (rel !== null) {
      out.add(`${given === "/" ? "" : given}/${rel}`);
      // walk() spells the entries of "." without "./" (as @std/fs does)
      if (given === ".") out.add(rel);
    }
  }
  return [...out];
}

/**
 * walk() with `followSymlinks` and `canonicalize`: a folder reached through
 * a link is walked under its real path (every link resolved, as
 * `Deno.realPath` gives it), which no spelling {@link resolveExcludes}
 * makes names unless it is written so. So each exclude path whose folder
 * is there is also given by its real path, any way it is spelled (relative,
 * through a linked ROOT or another link), the folders above resolved and
 * its own name kept: a link named stays that link (it stands for the
 * folder it leads to there, where the walk meets it), never the folder
 * itself wherever else it is reached. Paths whose folder is not there, or
 * too long to resolve, add nothing.
 *
 * @example
 * ```ts ignore
 * // p/alias -> big, followed: p/big is walked under /data/p/big through it
 * Deno.chdir("/data");
 * realExcludes(["p/big", "p/alias/"]); // ["/data/p/big", "/data/p/alias"]
 * ```
 */
export function realExcludes(paths: readonly (string | Uint8Array)[] | undefined): string[] {
  const out = new Set<string>();
  const cache = new Map<string, string | null>();
  for (const p of paths ?? []) {
    // (bytes, a name that is not UTF-8: no realPath takes them)
    if (typeof p !== "string" || p === "" || tooLong(p)) continue;
    // the folders above resolved, its own name kept (physical): a link
    // named stays that link, which stands for its folder only there, not
    // wherever else that folder is reached (by its real path)
    const real = physical(p, cache);
    if (real !== null) out.add(real);
  }
  return [...out];
}

const enc = new TextEncoder();
/** Linux's limit on a path given to a system call, its NUL included. */
const PATH_MAX = 4096;

/** A path no system call takes: no realpath or stat of it can tell where it is. */
function tooLong(p: string): boolean {
  return p.length >= PATH_MAX / 4 && enc.encode(p).length >= PATH_MAX;
}

/**
 * Where a path too long to resolve lies below ROOT, told by its spelling
 * alone (ROOT as given, or ROOT's real path; relative to the working
 * folder otherwise): the path below, or null.
 */
function lexicalBelow(p: string, given: string, realRoot: string | null): string | null {
  const abs = (q: string) => tidy(q.startsWith("/") ? q : `${Deno.cwd()}/${q}`);
  const path = abs(p);
  for (const r of [abs(given), realRoot]) {
    if (r === null) continue;
    const prefix = r === "/" ? "/" : `${r}/`;
    if (path.startsWith(prefix) && path.length > prefix.length) return path.slice(prefix.length);
  }
  return null;
}

/**
 * Where a relative exclude path is looked up: the current folder followed
 * by the path (tidied, `..` kept as given), not ROOT nor a list file's
 * folder; an absolute path as given, tidied. For warnings that name it.
 *
 * @example
 * ```ts ignore
 * Deno.chdir("/tmp/w");
 * excludeLookedUp("a/"); // "/tmp/w/a"
 * excludeLookedUp("/data/x"); // "/data/x"
 * ```
 */
export function excludeLookedUp(p: string): string {
  return tidy(p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
}

/**
 * The exclude paths that name no folder inside `root` (a typo, another
 * tree, a file): worth a warning, since they exclude nothing.
 *
 * @example
 * ```ts
 * import { unmatchedExcludes } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/scratch`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "");
 *
 * const excludes = [`${tmp}/data/scratch`, `${tmp}/dta/tmp`, `${tmp}/data/a.txt`];
 * assertEquals(unmatchedExcludes(`${tmp}/data`, excludes), [
 *   `${tmp}/dta/tmp`, // a typo
 *   `${tmp}/data/a.txt`, // a file
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function unmatchedExcludes(root: string, paths: readonly string[]): string[] {
  const cache = new Map<string, string | null>();
  const realRoot = realPath(root, cache);
  if (realRoot === null) return [];
  const prefix = realRoot === "/" ? "/" : `${realRoot}/`;
  return paths.filter((p) => {
    // past PATH_MAX no name can be resolved or stat'ed: warned about only
    // when its spelling puts it outside ROOT (the walker reaches such a
    // folder through its parents' descriptors, by the spelling below ROOT)
    if (tooLong(p)) return lexicalBelow(p, rootSpelling(root), realRoot) === null;
    const real = physical(p, cache);
    if (real === null || !real.startsWith(prefix) || real.length === prefix.length) return true;
    try {
      return !Deno.lstatSync(real).isDirectory;
    } catch {
      return true;
    }
  });
}

/**
 * The lines of an exclude list file's bytes, blank ones included. A UTF-8
 * byte order mark at the start is dropped; a line ends at each `\n`. The
 * `\r` of a CRLF line end is dropped only in a CRLF file, one where every
 * line that ends with `\n` ends with `\r\n`: in any other file (LF, or LF
 * and CRLF mixed) a line's `\r` is part of its name, as it is to pwalk,
 * which drops only the `\n` (a folder may end in `\r`: macOS's `Icon\r`,
 * folders made by CRLF scripts). The last line, when no `\n` ends it, is
 * taken exactly as it is, `\r` and all, in any file (no line end follows
 * it; a Windows editor ends a file with `\r\n` or with nothing).
 *
 * @example
 * ```ts ignore
 * const lines = (s: string) => excludeListLines(new TextEncoder().encode(s));
 * lines("\uFEFFa\r\n\r\nb\r\n"); // a, "", b, "" (a CRLF file)
 * lines("Icon\r\nb\n"); // "Icon\r", b, "" (not a CRLF file)
 * lines("a\r\nb\r"); // a, "b\r" (the last line taken as it is)
 * ```
 */
export function excludeListLines(b: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  for (let end; (end = b.indexOf(10, start)) >= 0; start = end + 1) {
    lines.push(b.subarray(start, end));
  }
  const crlf = lines.length > 0 && lines.every((l) => l.at(-1) === 13);
  return [...crlf ? lines.map((l) => l.subarray(0, l.length - 1)) : lines, b.subarray(start)];
}

const SLASH = new Uint8Array([0x2f]);
const DOT = new Uint8Array([0x2e]);
const isDotDot = (n: Uint8Array) => n.length === 2 && n[0] === 0x2e && n[1] === 0x2e;

function joinBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let i = 0;
  for (const b of parts) out.set(b, (i += b.length) - b.length);
  return out;
}

/** Where the bytes of `b` stop being UTF-8: the first bad byte's index, or b.length. */
function firstBadByte(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const n = b[i] < 0x80 ? 1 : utf8Seq(b, i);
    if (!n) return i;
    i += n;
  }
  return b.length;
}

/**
 * An excluded folder given as bytes (a name that is not UTF-8), in the
 * walker's spellings under `root`, as {@link resolveExcludes} does for
 * text: the folder above the first name that is not UTF-8 is resolved
 * (absolute, `./x`, `../x`, through a linked root), and the rest of the
 * bytes follow it, its `.` and empty names dropped and each `..` taking
 * away the name before it (by name: no system call takes such a path to
 * tell whether that name is a link). A `..` that takes away the name that
 * is not UTF-8 leaves a text path, resolved as text.
 */
export function resolveExcludeBytes(root: string, path: Uint8Array): Uint8Array[] {
  let end = path.length;
  while (end > 1 && path[end - 1] === 0x2f) end--; // trailing slashes
  const given = path.subarray(0, end);
  const at = given.lastIndexOf(0x2f, firstBadByte(given));
  const names: Uint8Array[] = [];
  for (let i = at + 1, j; i <= given.length; i = j + 1) {
    j = given.indexOf(0x2f, i);
    if (j < 0) j = given.length;
    const name = given.subarray(i, j);
    if (name.length === 0 || (name.length === 1 && name[0] === 0x2e)) continue;
    if (isDotDot(name) && names.length && !isDotDot(names.at(-1)!)) names.pop();
    else names.push(name);
  }
  const head = given.subarray(0, at + 1);
  const p = joinBytes([head, ...names.flatMap((n, i) => i ? [SLASH, n] : [n])]);
  if (firstBadByte(p) === p.length) {
    // the name that was not UTF-8 taken away by a `..`: a text path
    const text = new TextDecoder().decode(p.length ? p : DOT);
    return resolveExcludes(root, [text]).map((t) => new TextEncoder().encode(t));
  }
  const bad = firstBadByte(p);
  const cut = p.lastIndexOf(0x2f, bad); // the last "/" before it
  const dir = cut < 0
    ? "."
    : cut === 0
    ? "/"
    : new TextDecoder("utf-8", { ignoreBOM: true }).decode(p.subarray(0, cut));
  const rest = p.subarray(cut + 1);
  const out = new Map<string, Uint8Array>([[p.join(), p]]);
  const spellings = new Set(resolveExcludes(root, [dir]));
  // the root itself: its own spelling (and walk()'s bare entries of ".")
  const cache = new Map<string, string | null>();
  const realRoot = realPath(root, cache);
  if (
    realRoot !== null && (physical(dir, cache) === realRoot || realPath(dir, cache) === realRoot)
  ) {
    const given = rootSpelling(root);
    spellings.add(given);
    if (given === ".") spellings.add("");
  }
  const enc = new TextEncoder();
  for (const s of spellings) {
    const head = s === "" ? new Uint8Array() : enc.encode(s === "/" ? "/" : `${s}/`);
    const b = new Uint8Array(head.length + rest.length);
    b.set(head);
    b.set(rest, head.length);
    out.set(b.join(), b);
  }
  return [...out.values()];
}
