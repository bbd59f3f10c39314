/**
 * Getting the native library when there is no checkout: the release
 * manifest (lib/manifest.json, written by `deno task dist`), the per-version
 * cache folder, SHA-256 verification, and the download.
 *
 * Nothing unverified ever reaches the cache: bytes are checked against the
 * manifest before anything is written, written under a temporary name in
 * the cache folder and renamed into place, so a failed or tampered download
 * leaves nothing behind, and a cached file is checked again before each use.
 *
 * A folder that holds a library (the cache folder, the private temporary
 * folder) is used only while every folder on the way to it, as written and
 * by real path, can be changed by nobody but root and the running user
 * (lib/trust.ts): then nobody else can swap the file between its SHA-256
 * check and dlopen. A cache folder that fails this is not used, as one that
 * cannot be written: the library goes to the private temporary folder.
 *
 * @module
 */
import { sha256Hex } from "./sha256.ts";
import { untrustedAncestor } from "./trust.ts";
import manifestJson from "./manifest.json" with { type: "json" };

/** One target's entry in the manifest. */
export interface ManifestTarget {
  /** `Deno.build.os` of the target. */
  os: string;
  /** `Deno.build.arch` of the target. */
  arch: string;
  /** zig's target triple it was built for. */
  zigTarget: string;
  /** The file name in dist/ and in a release. */
  file: string;
  /** Its size in bytes. */
  size: number;
  /** Its SHA-256, lowercase hex. */
  sha256: string;
}

/** What `deno task dist` writes to dist/manifest.json. */
export interface Manifest {
  /** The JSR package name. */
  name: string;
  /** The package version the libraries belong to. */
  version: string;
  /** The zig release that built them. */
  zig: string;
  /**
   * The source id of the native/ sources they were built from
   * (lib/source_id.ts): what the published package, which has no native/,
   * expects of a library (lib/ffi.ts).
   */
  sourceId: string;
  /** Per `${os}-${arch}` target. */
  targets: Record<string, ManifestTarget>;
}

/** The manifest this module was published with. */
export const MANIFEST: Manifest = manifestJson;

/** Where releases keep the libraries; `PWALK_LIB_URL` replaces it. */
export const RELEASE_BASE_URL: string =
  `https://github.com/pwalk/pwalk/releases/download/v${MANIFEST.version}/`;

/** Read an environment variable; undefined when unset or not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: the user did not mean to set it
  }
}

/**
 * What to add to a failure to find the library when `name` cannot be read
 * (no --allow-env for it): " (PWALK_LIB is not read without --allow-env)",
 * since the user may have set it; "" when it can be.
 */
export function envNote(name = "PWALK_LIB"): string {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state === "granted") return "";
  } catch {
    return "";
  }
  return ` (${name} is not read without --allow-env)`;
}

/** `linux-x86_64` and the like: the manifest key of a platform. */
export function targetKey(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  return `${os}-${arch}`;
}

/** This platform's manifest entry; a clear error when none is published. */
export function manifestTarget(manifest: Manifest = MANIFEST): ManifestTarget {
  const key = targetKey();
  const t = manifest.targets[key];
  if (!t) {
    throw new Error(
      `pwalk ${manifest.version} has no native library for ${Deno.build.os}/${Deno.build.arch} ` +
        `(there are: ${Object.keys(manifest.targets).join(", ")}); ` +
        "build one with `deno task build` in a checkout and set PWALK_LIB to it.",
    );
  }
  return t;
}

export { sha256Hex };

/**
 * The cache folder of a version: `$DENO_DIR/pwalk/<version>` when DENO_DIR
 * is set, else `~/Library/Caches/pwalk/<version>` on macOS and
 * `${XDG_CACHE_HOME:-~/.cache}/pwalk/<version>` elsewhere. Only named
 * here: {@link cachedLibrary} and {@link installLibrary} judge whether the
 * folders on the way may be trusted.
 */
export function cacheDir(version: string = MANIFEST.version): string {
  const denoDir = readEnv("DENO_DIR");
  if (denoDir) return `${denoDir.replace(/\/+$/, "")}/pwalk/${version}`;
  const home = readEnv("HOME");
  let base: string | undefined;
  if (Deno.build.os === "darwin") base = home && `${home}/Library/Caches`;
  else base = readEnv("XDG_CACHE_HOME") ?? (home && `${home}/.cache`);
  if (!base) {
    throw new Error(
      "pwalk: no cache folder for the native library: set HOME, XDG_CACHE_HOME or DENO_DIR " +
        "(and allow reading them with --allow-env), or set PWALK_LIB to a local copy.",
    );
  }
  return `${base}/pwalk/${version}`;
}

/**
 * Deno's own cache folder, where it keeps the modules it downloaded (pwalk's
 * TypeScript from JSR, npm packages) and their compiled form: DENO_DIR,
 * else `$XDG_CACHE_HOME/deno` or `~/.cache/deno` (`~/Library/Caches/deno`
 * on macOS); undefined when none can be named.
 */
export function denoCacheDir(): string | undefined {
  const denoDir = readEnv("DENO_DIR");
  if (denoDir) return absoluteDir(denoDir);
  const home = readEnv("HOME");
  if (Deno.build.os === "darwin") return home && absoluteDir(`${home}/Library/Caches/deno`);
  const base = readEnv("XDG_CACHE_HOME") ?? (home && `${home}/.cache`);
  return base && absoluteDir(`${base}/deno`);
}

/**
 * Run as root, a warning when another user could change Deno's cache
 * folder ({@link denoCacheDir}; lib/trust.ts's rule): what Deno loaded from
 * it, pwalk's own code included, may be theirs (another user's HOME or
 * XDG_CACHE_HOME kept by `sudo -E` or `su` without `-`). pwalk's checks
 * protect only its native library, whose SHA-256 it verifies. Undefined
 * for any other user, or when the folder passes.
 */
export function denoCacheWarning(): string | undefined {
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch { /* no --allow-sys: not checked */ }
  if (uid !== 0) return undefined;
  try {
    const dir = denoCacheDir();
    const why = dir && untrustedAncestor(dir, 0);
    if (!why) return undefined;
    return `pwalk: warning: running as root with Deno's module cache ${dir}, which another user ` +
      `can change (${why}): the code Deno loaded from it, pwalk's included, may be theirs; ` +
      "run root's pwalk with root's own environment (`sudo -i`, sudo's env_reset, no `sudo -E`) " +
      "or a DENO_DIR of root's";
  } catch {
    return undefined; // not readable here: nothing to say
  }
}

/** The cache path of a library with this checksum (content-addressed). */
export function cachePath(file: string, sha256: string, dir: string = cacheDir()): string {
  return `${dir}/${sha256.slice(0, 16)}-${file}`;
}

/** `dir` as an absolute path (a relative DENO_DIR is taken from the working folder). */
function absoluteDir(dir: string): string {
  return dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir.replace(/^(?:\.\/+)+/, "")}`;
}

/**
 * This process's user id: Deno.uid(); without --allow-sys, getuid() of the
 * C library through FFI (loading pwalk needs --allow-ffi anyway); else the
 * owner, by fstat, of a file made now in `tmp` (TMPDIR or /tmp).
 *
 * @example
 * ```ts ignore
 * runningUid(); // 0 as root
 * ```
 */
export function runningUid(tmp: string = readEnv("TMPDIR") ?? "/tmp"): number {
  try {
    const uid = Deno.uid();
    if (uid !== null) return uid;
  } catch { /* no --allow-sys */ }
  try {
    const libc = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      getuid: { parameters: [], result: "u32" },
    });
    try {
      return libc.symbols.getuid();
    } finally {
      libc.close();
    }
  } catch { /* no --allow-ffi, or another C library */ }
  // made here by this process (O_EXCL): its owner is this user, whoever can rename it later
  const probe = `${tmp.replace(/\/+$/, "")}/.pwalk-uid-${crypto.randomUUID()}`;
  const f = Deno.openSync(probe, { write: true, createNew: true, mode: 0o600 });
  try {
    return f.statSync().uid!;
  } finally {
    f.close();
    Deno.removeSync(probe);
  }
}

/**
 * Why `dir` may not hold a library pwalk opens, or undefined: a folder on
 * the way (as written and by real path, lib/trust.ts) that someone other
 * than root or this user (`uid`) owns, or that group or others can write
 * (unless sticky, as /tmp).
 */
function folderProblem(dir: string, uid: number): string | undefined {
  const why = untrustedAncestor(absoluteDir(dir), uid);
  return why && `${dir}: ${why}`;
}

/**
 * The cached file when it is there and its checksum is right, else
 * undefined; also undefined when a folder on the way to `dir` could be
 * changed by someone other than root or this user, or the file is not a
 * regular file of theirs that only they can write: another user could
 * then replace it between its check and dlopen.
 */
export function cachedLibrary(file: string, sha256: string, dir?: string): string | undefined {
  try {
    dir ??= cacheDir();
    const uid = runningUid();
    if (folderProblem(dir, uid)) return undefined;
    const path = cachePath(file, sha256, dir);
    if (!Deno.lstatSync(path).isFile) return undefined;
    using f = Deno.openSync(path, { read: true });
    const st = f.statSync();
    if ((st.uid !== 0 && st.uid !== uid) || (st.mode! & 0o022)) return undefined;
    const bytes = new Uint8Array(st.size);
    let got = 0;
    while (got < bytes.length) {
      const n = f.readSync(bytes.subarray(got));
      if (!n) break;
      got += n;
    }
    return got === st.size && sha256Hex(bytes) === sha256 ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the file at the cache path in `dir` (one that is there) is not used
 * ({@link cachedLibrary}), for the error of a download that then failed;
 * undefined when there is no file there, or it would be used.
 */
function cacheRefusal(t: ManifestTarget, dir: string): string | undefined {
  const { file, sha256 } = t;
  const path = cachePath(file, sha256, dir);
  try {
    const l = Deno.lstatSync(path);
    const uid = runningUid();
    const above = folderProblem(dir, uid);
    if (above) return `${path}: its folder ${above.slice(dir.length + 2)}`;
    if (!l.isFile) return `${path} is ${l.isSymlink ? "a symbolic link" : "not a regular file"}`;
    if (l.uid !== 0 && l.uid !== uid) return `${path} is owned by uid ${l.uid}`;
    const mode = l.mode! & 0o7777;
    if (mode & 0o022) {
      return `${path} is writable by group or others (mode ${mode.toString(8).padStart(4, "0")})`;
    }
    if (cachedLibrary(file, sha256, dir)) return undefined;
    return `${path} does not match its SHA-256 in pwalk's manifest (${l.size} bytes, ` +
      `the manifest's ${t.size}): remove it`;
  } catch (e) {
    // (a cache folder that is a file holds no copy)
    return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory
      ? undefined
      : `${path}: ${message(e)}`;
  }
}

/** The error of a library whose bytes do not have the expected checksum. */
function mismatch(source: string, got: string, sha256: string): Error {
  return new Error(
    `pwalk: ${source} does not match its SHA-256 in pwalk's manifest ` +
      `(got ${got}, expected ${sha256}); it was refused and nothing was cached.`,
  );
}

/**
 * Make `dir` and the folders missing on the way to it, each mode 0755 less
 * the umask: never writable by group or others (under `umask 002`,
 * Ubuntu's for a user, mkdir's usual 0775 would make pwalk refuse the
 * folder it just made: lib/trust.ts). Folders already there are left as
 * they are. Nothing is changed by path once made: in a world-writable
 * folder (a cache under /tmp) another user can swap a folder just made
 * for a link to a file of root's, which a chmod would follow; the check
 * after (installLibrary) refuses what was swapped.
 */
function makeFolders(dir: string): void {
  const parts = dir.split("/").filter((x) => x);
  for (let i = 1; i <= parts.length; i++) {
    const p = "/" + parts.slice(0, i).join("/");
    try {
      Deno.mkdirSync(p, { mode: 0o755 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) continue;
      throw e;
    }
  }
}

/**
 * Put verified bytes into the cache atomically (temporary name, then
 * rename) and return their path. Throws, leaving nothing, when the bytes do
 * not have the expected checksum, or when a folder on the way to `dir`
 * (checked before it is made and after) could be changed by someone other
 * than root or the running user.
 */
export function installLibrary(
  bytes: Uint8Array,
  file: string,
  sha256: string,
  dir: string = cacheDir(),
  source = file,
): string {
  const got = sha256Hex(bytes);
  if (got !== sha256) throw mismatch(source, got, sha256);
  const uid = runningUid();
  const refuse = (why: string | undefined) => {
    if (why) throw new Error(`pwalk: cache folder ${why}`);
  };
  refuse(folderProblem(dir, uid)); // nothing made through another user's folder
  const path = cachePath(file, sha256, dir);
  makeFolders(absoluteDir(dir));
  refuse(folderProblem(dir, uid)); // the folder itself, and the real path, once made
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.writeFileSync(tmp, bytes, { mode: 0o755, createNew: true });
    Deno.chmodSync(tmp, 0o755); // whatever the umask: cachedLibrary refuses a group-writable copy
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never written */ }
    throw e;
  }
  return path;
}

/**
 * The verified copy of a library with this checksum: from the cache folder
 * (`dir`, else {@link cacheDir}), else from the private temporary folder
 * under `tmp` (see {@link installEmbedded}); undefined when neither holds
 * one that may be trusted ({@link cachedLibrary}).
 */
export function findLibrary(
  file: string,
  sha256: string,
  dir?: string,
  tmp: string = readEnv("TMPDIR") ?? "/tmp",
): string | undefined {
  let found: string | undefined;
  try {
    found = cachedLibrary(file, sha256, dir ?? cacheDir());
  } catch { /* no cache folder */ }
  if (found) return found;
  try {
    const own = privateTempDir(tmp, sha256, false);
    const copy = own && cachedLibrary(file, sha256, own);
    if (copy) noteFallback(copy, dir);
    return copy;
  } catch {
    return undefined; // refused: nothing there is opened
  }
}

/** Why the cache folder was not used, per copy in the private temporary folder. */
const fallbacks = new Map<string, string>();

/** An error's message without "pwalk: " and the final period. */
function message(x: unknown): string {
  return (x instanceof Error ? x.message : String(x)).replace(/^pwalk: /, "").replace(/\.$/, "");
}

/** Remember why `copy`, found in the private temporary folder, was not taken from the cache `dir`. */
function noteFallback(copy: string, dir: string | undefined): void {
  let why: string | undefined;
  try {
    dir ??= cacheDir();
    const bad = folderProblem(dir, runningUid());
    why = bad ? `cache folder ${bad}` : `cache folder ${dir} holds no copy`;
  } catch (e) {
    why = message(e);
  }
  fallbacks.set(copy, why);
}

/**
 * What to add to dlopen's failure to open `path` when it is a copy in the
 * private temporary folder (a TMPDIR or /tmp mounted noexec cannot map it):
 * why the cache folder was not used, and what to do; "" for any other path.
 */
export function fallbackNote(path: string): string {
  const why = fallbacks.get(path);
  if (why === undefined) return "";
  return ` (it is in a temporary folder, not in the cache: ${why}; ` +
    "make the cache folder yours and not writable by others, or set DENO_DIR to a folder of " +
    "yours, TMPDIR to one that may hold programs, or PWALK_LIB to a copy of the library)";
}

/**
 * Keep verified bytes: in the cache folder (`dir`, else {@link cacheDir}),
 * else, when there is none, it cannot be written or a folder on the way to
 * it could be changed by another user, in the private temporary folder
 * under `tmp`. Returns the copy's path; throws one line naming why both
 * were refused, starting with `what`. A copy already there is reused.
 */
function keepLibrary(
  bytes: Uint8Array,
  file: string,
  sha256: string,
  source: string,
  what: string,
  dir?: string,
  tmp: string = readEnv("TMPDIR") ?? "/tmp",
): string {
  const got = sha256Hex(bytes);
  if (got !== sha256) throw mismatch(source, got, sha256);
  let first: unknown;
  try {
    dir ??= cacheDir();
    return cachedLibrary(file, sha256, dir) ?? installLibrary(bytes, file, sha256, dir, source);
  } catch (e) {
    first = e; // no cache folder, one that cannot be written or is not trusted: the private temporary folder
  }
  try {
    const own = privateTempDir(tmp, sha256, true)!;
    const copy = cachedLibrary(file, sha256, own) ??
      installLibrary(bytes, file, sha256, own, source);
    fallbacks.set(copy, message(first));
    return copy;
  } catch (e) {
    const why = message;
    throw new Error(
      `pwalk: ${what}: ${why(first)}; ${why(e)}. ` +
        "Set PWALK_LIB to a copy of the library, or DENO_DIR to a folder of yours to keep it in.",
    );
  }
}

/**
 * A library file that dlopen cannot open where it is (inside a `deno
 * compile` binary's embedded file system): copy it into the cache, verified
 * by its own SHA-256, and return the copy's path; undefined when there is
 * no such file. The bytes may come from a development build newer than the
 * manifest, so the copy is named and checked by the bytes' own hash.
 *
 * When there is no cache folder (no HOME, XDG_CACHE_HOME or DENO_DIR), it
 * cannot be written (read-only), or a folder on the way to it could be
 * changed by someone other than root or this user (lib/trust.ts: another
 * user's XDG_CACHE_HOME kept by `su` or `sudo -E`), the copy goes to one
 * folder of this user per library under `tmp` (TMPDIR or /tmp), reused by
 * every start: `pwalk-lib-<sha256 prefix>-<uid>`, made 0700, and used only
 * while it is a folder of this user that nobody else can write (not a
 * link) and the folders on the way to it pass the same rule; when that
 * name is taken by something else (another user made it first), a fresh
 * folder of an unpredictable name beside it is made for this start. A TMPDIR that
 * fails it is refused, not replaced by /tmp: it may have been set because
 * /tmp is small or cannot hold programs (noexec), and the error says why.
 */
export function installEmbedded(
  url: URL,
  file: string,
  dir?: string,
  tmp: string = readEnv("TMPDIR") ?? "/tmp",
): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(url);
  } catch {
    return undefined;
  }
  const sum = sha256Hex(bytes);
  return keepLibrary(
    bytes,
    file,
    sum,
    url.href,
    "cannot copy the library this executable carries out of it",
    dir,
    tmp,
  );
}

/**
 * `tmp/pwalk-lib-<sha256 prefix>-<uid>`: made 0700 if missing (with
 * `make`; else undefined when missing); throws unless every folder on the
 * way to it may be changed only by root or this user (lib/trust.ts: a
 * TMPDIR of another user is refused). It is used only while it is a
 * folder (not a link) of this user that group and others cannot write, so
 * nobody else can put a file there, or swap the folder, between its check
 * and dlopen; when it is not (another user made it first), nothing in it
 * is opened, and with `make` a fresh folder of an unpredictable name,
 * `pwalk-lib-<sha256 prefix>-<uid>-XXXXXX` (0700), is made and returned.
 */
function privateTempDir(tmp: string, sha256: string, make: boolean): string | undefined {
  const uid = runningUid(tmp);
  const path = `${tmp.replace(/\/+$/, "")}/pwalk-lib-${sha256.slice(0, 16)}-${uid}`;
  const above = folderProblem(tmp, uid);
  if (above) throw new Error(`pwalk: temporary folder ${above}: set TMPDIR to a folder of yours`);
  if (make) {
    try {
      Deno.mkdirSync(path, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (e) {
    if (!make && e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const problem = !st.isDirectory
    ? (st.isSymlink ? "a symbolic link" : "not a folder")
    : st.uid !== uid
    ? `owned by uid ${st.uid}, not ${uid}`
    : (st.mode! & 0o022)
    ? `writable by others (mode ${(st.mode! & 0o7777).toString(8)})`
    : "";
  if (!problem) return path;
  // Someone else's (made before this user's first run: the name is
  // predictable), or one this user cannot remove from a sticky /tmp: nothing
  // in it is opened. A fresh folder of an unpredictable name beside it,
  // made 0700 by an earlier start, is reused (one copy, not one per start),
  // else (with `make`) one is made now.
  const prefix = `${path.slice(path.lastIndexOf("/") + 1)}-`;
  const earlier = ownFreshDir(tmp, prefix, uid);
  if (earlier || !make) return earlier;
  return Deno.makeTempDirSync({ dir: tmp, prefix });
}

/**
 * A folder `tmp/<prefix><random>` (Deno.makeTempDirSync's name: letters
 * and digits after the prefix) of this user that nobody else can write
 * (not a link), as privateTempDir makes; undefined when there is none (or
 * `tmp` cannot be listed).
 */
function ownFreshDir(tmp: string, prefix: string, uid: number): string | undefined {
  try {
    for (const e of Deno.readDirSync(tmp)) {
      if (!e.isDirectory || !e.name.startsWith(prefix)) continue;
      if (!/^[0-9A-Za-z]{6,64}$/.test(e.name.slice(prefix.length))) continue;
      const dir = `${tmp.replace(/\/+$/, "")}/${e.name}`;
      const st = Deno.lstatSync(dir);
      if (st.isDirectory && st.uid === uid && !(st.mode! & 0o022)) return dir;
    }
  } catch { /* not listed: none */ }
  return undefined;
}

/** The base URL libraries are downloaded from (always ending in "/"). */
export function libraryBaseUrl(): string {
  const base = readEnv("PWALK_LIB_URL") ?? RELEASE_BASE_URL;
  return base.endsWith("/") ? base : base + "/";
}

/** A download stopped by its caller's signal ({@link downloadLibrary}): nothing was cached. */
export class DownloadInterrupted extends Error {
  /** "the download of the native library from URL stopped; nothing was cached" */
  what: string;
  constructor(url: string, reason: unknown, cause?: unknown) {
    const what = `the download of the native library from ${url} stopped; nothing was cached`;
    super(`pwalk: ${reason instanceof Error ? reason.message : String(reason)}: ${what}`, {
      cause,
    });
    this.name = "DownloadInterrupted";
    this.what = what;
  }
}

/**
 * Seconds without a byte after which a download is given up:
 * PWALK_DOWNLOAD_TIMEOUT, else 60. A value that is not a number of seconds
 * above 0 and at most 2,147,483 (setTimeout's longest wait) throws, naming
 * the variable: it was meant, and 60 s would not be what was meant.
 */
export function downloadTimeout(): number {
  const given = readEnv("PWALK_DOWNLOAD_TIMEOUT");
  if (given === undefined) return 60;
  const v = Number(given.trim());
  if (given.trim() === "" || !(v > 0 && v <= 2147483)) {
    throw new Error(
      `pwalk: PWALK_DOWNLOAD_TIMEOUT must be a number of seconds above 0 (at most 2147483), got '${given}'`,
    );
  }
  return v;
}

/**
 * Download this platform's library from {@link libraryBaseUrl}, verify it
 * against the manifest and cache it; resolves to the cached path. A cached
 * copy with the right checksum is used without any network access. The
 * cache folder, or the private temporary folder when it cannot be used, is
 * chosen as for {@link installEmbedded}.
 *
 * The download is given up when no byte comes for
 * {@link downloadTimeout} seconds (PWALK_DOWNLOAD_TIMEOUT), or when the
 * server sends more bytes than the manifest's size (read no further), and
 * stops when `signal` aborts: then it rejects with a
 * {@link DownloadInterrupted} (the CLI's first Ctrl-C or SIGTERM). Nothing is
 * cached in any of these cases.
 */
export async function downloadLibrary(
  manifest: Manifest = MANIFEST,
  dir?: string,
  signal?: AbortSignal,
): Promise<string> {
  const t = manifestTarget(manifest);
  try {
    dir ??= cacheDir(manifest.version);
  } catch { /* no cache folder: the private temporary folder (keepLibrary says why) */ }
  const cached = findLibrary(t.file, t.sha256, dir);
  if (cached) return cached;
  const url = libraryBaseUrl() + t.file;
  const hint = `Set PWALK_LIB to a local copy of the library${envNote()}, or PWALK_LIB_URL ` +
    `to a mirror of the release files${envNote("PWALK_LIB_URL")}.`;
  signal?.throwIfAborted();
  const seconds = downloadTimeout();
  const abort = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      abort.abort(new Error(`no data for ${seconds} s`));
    }, seconds * 1000);
  };
  const onSignal = () => abort.abort(signal!.reason);
  signal?.addEventListener("abort", onSignal, { once: true });
  let bytes: Uint8Array;
  try {
    wait();
    const resp = await fetch(url, { signal: abort.signal });
    if (!resp.ok) {
      await resp.body?.cancel();
      throw new Error(`HTTP ${resp.status} ${resp.statusText}`.trim());
    }
    bytes = new Uint8Array(t.size);
    let got = 0;
    const reader = resp.body!.getReader();
    for (;;) {
      wait();
      const { done, value } = await reader.read();
      if (done) break;
      if (got + value.length > t.size) {
        await reader.cancel().catch(() => {});
        throw new Error(`the server sent more than the ${t.size} bytes of the manifest`);
      }
      bytes.set(value, got);
      got += value.length;
    }
    if (got < t.size) {
      throw new Error(`the server sent ${got} of the ${t.size} bytes of the manifest (cut short)`);
    }
  } catch (e) {
    if (signal?.aborted && !stalled) throw new DownloadInterrupted(url, signal.reason, e);
    const why = stalled
      ? `no data for ${seconds} s (PWALK_DOWNLOAD_TIMEOUT sets how long to wait)`
      : (e instanceof Error ? e.message : String(e));
    const refused = dir === undefined ? undefined : cacheRefusal(t, dir);
    throw new Error(
      `pwalk: could not download the native library for ${targetKey()} from ${url}: ${why}` +
        `${refused ? ` (the copy in the cache was not used: ${refused})` : ""}. ${hint}`,
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onSignal);
  }
  return keepLibrary(bytes, t.file, t.sha256, url, "cannot keep the downloaded library", dir);
}
