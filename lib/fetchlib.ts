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
 * @module
 */
import { sha256Hex } from "./sha256.ts";
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
 * `${XDG_CACHE_HOME:-~/.cache}/pwalk/<version>` elsewhere.
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

/** The cache path of a library with this checksum (content-addressed). */
export function cachePath(file: string, sha256: string, dir: string = cacheDir()): string {
  return `${dir}/${sha256.slice(0, 16)}-${file}`;
}

/** The cached file when it is there and its checksum is right, else undefined. */
export function cachedLibrary(file: string, sha256: string, dir?: string): string | undefined {
  let path: string;
  try {
    path = cachePath(file, sha256, dir);
    return sha256Hex(Deno.readFileSync(path)) === sha256 ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Put verified bytes into the cache atomically (temporary name, then
 * rename) and return their path. Throws, leaving nothing, when the bytes do
 * not have the expected checksum.
 */
export function installLibrary(
  bytes: Uint8Array,
  file: string,
  sha256: string,
  dir: string = cacheDir(),
  source = file,
): string {
  const got = sha256Hex(bytes);
  if (got !== sha256) {
    throw new Error(
      `pwalk: ${source} does not match its SHA-256 in pwalk's manifest ` +
        `(got ${got}, expected ${sha256}); it was refused and nothing was cached.`,
    );
  }
  const path = cachePath(file, sha256, dir);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.writeFileSync(tmp, bytes, { mode: 0o755 });
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
 * A library file that dlopen cannot open where it is (inside a `deno
 * compile` binary's embedded file system): copy it into the cache, verified
 * by its own SHA-256, and return the copy's path; undefined when there is
 * no such file. The bytes may come from a development build newer than the
 * manifest, so the copy is named and checked by the bytes' own hash.
 *
 * When there is no cache folder (no HOME, XDG_CACHE_HOME or DENO_DIR) or
 * it cannot be written (read-only), the copy goes to one folder of this
 * user per library under `tmp` (TMPDIR or /tmp), reused by every start:
 * `pwalk-lib-<sha256 prefix>-<uid>`, made 0700, and used only while it is
 * a folder of this user that nobody else can write (not a link).
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
  let first: unknown;
  try {
    dir ??= cacheDir();
    return cachedLibrary(file, sum, dir) ?? installLibrary(bytes, file, sum, dir, url.href);
  } catch (e) {
    first = e; // no cache folder, or one that cannot be written: the private temporary folder
  }
  try {
    const own = privateTempDir(tmp, sum);
    return cachedLibrary(file, sum, own) ?? installLibrary(bytes, file, sum, own, url.href);
  } catch (e) {
    const why = (x: unknown) =>
      (x instanceof Error ? x.message : String(x)).replace(/^pwalk: /, "");
    throw new Error(
      `pwalk: cannot copy the library this executable carries out of it: ${why(first)}; ` +
        `${why(e)}. Set PWALK_LIB to a copy of the library, or DENO_DIR to a folder to keep it in.`,
    );
  }
}

/** This process's user id: Deno.uid(), or (without --allow-sys) the owner of a file made now. */
function ownUid(tmp: string): number {
  try {
    const uid = Deno.uid();
    if (uid !== null) return uid;
  } catch { /* no --allow-sys */ }
  const probe = Deno.makeTempFileSync({ dir: tmp, prefix: ".pwalk-uid-" });
  try {
    return Deno.lstatSync(probe).uid!;
  } finally {
    Deno.removeSync(probe);
  }
}

/**
 * `tmp/pwalk-lib-<sha256 prefix>-<uid>`: made 0700 if missing; throws
 * unless it is a folder (not a link) of this user that group and others
 * cannot write, so nobody else can put a file there between its check and
 * dlopen.
 */
function privateTempDir(tmp: string, sha256: string): string {
  const uid = ownUid(tmp);
  const path = `${tmp.replace(/\/+$/, "")}/pwalk-lib-${sha256.slice(0, 16)}-${uid}`;
  try {
    Deno.mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const st = Deno.lstatSync(path);
  const problem = !st.isDirectory
    ? (st.isSymlink ? "a symbolic link" : "not a folder")
    : st.uid !== uid
    ? `owned by uid ${st.uid}, not ${uid}`
    : (st.mode! & 0o022)
    ? `writable by others (mode ${(st.mode! & 0o7777).toString(8)})`
    : "";
  if (problem) throw new Error(`pwalk: ${path} is ${problem}: remove it`);
  return path;
}

/** The base URL libraries are downloaded from (always ending in "/"). */
export function libraryBaseUrl(): string {
  const base = readEnv("PWALK_LIB_URL") ?? RELEASE_BASE_URL;
  return base.endsWith("/") ? base : base + "/";
}

/**
 * Download this platform's library from {@link libraryBaseUrl}, verify it
 * against the manifest and cache it; resolves to the cached path. A cached
 * copy with the right checksum is used without any network access.
 */
export async function downloadLibrary(
  manifest: Manifest = MANIFEST,
  dir?: string,
): Promise<string> {
  const t = manifestTarget(manifest);
  dir ??= cacheDir(manifest.version);
  const cached = cachedLibrary(t.file, t.sha256, dir);
  if (cached) return cached;
  const url = libraryBaseUrl() + t.file;
  const hint = `Set PWALK_LIB to a local copy of the library${envNote()}, or PWALK_LIB_URL ` +
    `to a mirror of the release files${envNote("PWALK_LIB_URL")}.`;
  let bytes: Uint8Array;
  try {
    const resp = await fetch(url);
    if (!resp.ok) {
      await resp.body?.cancel();
      throw new Error(`HTTP ${resp.status} ${resp.statusText}`.trim());
    }
    bytes = new Uint8Array(await resp.arrayBuffer());
  } catch (e) {
    throw new Error(
      `pwalk: could not download the native library for ${targetKey()} from ${url}: ` +
        `${e instanceof Error ? e.message : String(e)}. ${hint}`,
    );
  }
  return installLibrary(bytes, t.file, t.sha256, dir, url);
}
