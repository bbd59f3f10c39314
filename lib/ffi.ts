/**
 * The FFI binding of libpwalk: every symbol of native/pwalk.h, each
 * parameter commented with the C declaration it maps, and the lazy loader.
 *
 * The library is opened on first use, not at import, from the first of:
 * an explicit path ({@link setLibraryPath}), the `PWALK_LIB` environment
 * variable (read only with --allow-env; a relative path from the working
 * folder), the local build output
 * (`zig-out/lib/` of a checkout, then `dist/` of `deno task dist`). Before
 * dlopen, lib/libcheck.ts looks at the file's ELF headers (Linux): a
 * truncated file or one of another architecture is one clear error, not a
 * SIGBUS or glibc's "No such file or directory". Then the library's source
 * id (`pw_source_id()`, lib/source_id.ts) must be the one this TypeScript
 * expects: that of the native/ folder beside lib/ in a checkout, else the
 * one `deno task dist` recorded in lib/manifest.json; a library built from
 * other sources (a zig-out/ not rebuilt after `git pull`, an old PWALK_LIB)
 * is refused in one line that says to run `deno task build` (or, to a user
 * who cannot write the checkout, to ask its owner to), since it would take
 * the arguments of this interface wrongly. Run as root, pwalk opens
 * a PWALK_LIB only when root owns it, nobody else can write it, and every
 * folder on the way to it may be changed only by root (`su` without `-`
 * and `sudo -E` keep a user's PWALK_LIB); any other user's PWALK_LIB is
 * their own choice and is opened as given.
 *
 * Without a checkout (imported from jsr: or https:) the library of this
 * platform is downloaded once from the release (or `PWALK_LIB_URL`),
 * verified against lib/manifest.json and cached: see {@link ensureNative}
 * and lib/fetchlib.ts. A `deno compile` binary carries its library inside.
 *
 * @module
 */
import {
  downloadLibrary,
  envNote,
  fallbackNote,
  findLibrary,
  installEmbedded,
  MANIFEST,
  manifestTarget,
  readEnv,
  runningUid,
  targetKey,
} from "./fetchlib.ts";
import { libraryProblem } from "./libcheck.ts";
import { sourceId } from "./source_id.ts";
import { untrustedAncestor } from "./trust.ts";

const symbols = {
  pw_version: {
    parameters: [],
    result: "pointer", // const char *
  },
  pw_source_id: {
    parameters: [],
    result: "pointer", // const char *: SHA-256 hex of native/ (lib/source_id.ts)
  },
  pw_opts_new: {
    parameters: [],
    result: "pointer", // pw_opts *
  },
  pw_opts_free: {
    parameters: [
      "pointer", // pw_opts *o
    ],
    result: "void",
  },
  pw_opts_set_int: {
    parameters: [
      "pointer", // pw_opts *o
      "i32", // int32_t key
      "i64", // int64_t value
    ],
    result: "i32", // int32_t: 0 or -EINVAL
  },
  pw_opts_set_str: {
    parameters: [
      "pointer", // pw_opts *o
      "i32", // int32_t key
      "buffer", // const uint8_t *s
      "usize", // size_t len
    ],
    result: "i32", // int32_t: 0 or -errno
  },
  pw_report_start: {
    parameters: [
      "pointer", // const pw_opts *o
    ],
    result: "pointer", // pw_job *
  },
  pw_walk_start: {
    parameters: [
      "pointer", // const pw_opts *o
    ],
    result: "pointer", // pw_job *
  },
  pw_repair_start: {
    parameters: [
      "pointer", // const pw_opts *o (PW_OPT_CHOWN_FROM >= 0: pwalk's chown)
    ],
    result: "pointer", // pw_job *
  },
  pw_fd_open: {
    parameters: [
      "buffer", // const uint8_t *path
      "usize", // size_t len
    ],
    result: "i32", // int32_t: fd (append, an existing file) or -errno
  },
  pw_fd_open_direct: {
    parameters: [
      "buffer", // const uint8_t *path
      "usize", // size_t len
    ],
    result: "i32", // int32_t: fd (a FIFO, pipe or device, links followed, never waited for) or -errno
  },
  pw_dir_probe: {
    parameters: [
      "buffer", // const uint8_t *path
      "usize", // size_t len
    ],
    result: "i32", // int32_t: 0 (opened and listed) or -errno
    nonblocking: true, // a ROOT on a hung mount: the caller still hears signals
  },
  pw_fd_close: {
    parameters: [
      "i32", // int32_t fd
    ],
    result: "i32", // int32_t: 0 or -errno (after fsync)
  },
  pw_foreground: {
    parameters: [
      "i32", // int32_t fd
    ],
    result: "i32", // int32_t: 1 in the terminal's foreground, 0 in the background, -1 no terminal
  },
  pw_can_change_modes: {
    parameters: [],
    result: "i32", // int32_t: 1 modes can be changed through descriptors here, 0 not
  },
  pw_die_by_signal: {
    parameters: [
      "i32", // int32_t sig
    ],
    result: "void", // never returns: the process ends killed by sig
  },
  pw_journal_open: {
    parameters: [
      "buffer", // const uint8_t *path
      "usize", // size_t len
      "i32", // int32_t flags (PW_JOURNAL_NEW, PW_JOURNAL_READ)
      "buffer", // int64_t *info (dev, ino, st_mode, uid, size, is journal, made now)
    ],
    result: "i32", // int32_t: fd (read+append, or read-only; never through a link) or -errno
    // a file shorter than a header is looked at again for up to a second
    // (a run that made it may not have locked it yet): not on the
    // JavaScript thread, whose timers, signals and other work go on
    nonblocking: true,
  },
  pw_journal_cut: {
    parameters: [
      "i32", // int32_t fd (pw_journal_open)
    ],
    result: "i64", // int64_t: the size after a torn last line was cut off, or -errno
  },
  pw_fd_read: {
    parameters: [
      "i32", // int32_t fd
      "buffer", // uint8_t *buf
      "usize", // size_t len
      "u64", // uint64_t offset
    ],
    result: "i64", // int64_t: bytes read (0: the end) or -errno
  },
  pw_restore_root: {
    parameters: [
      "buffer", // const uint8_t *path (absolute, canonical)
      "usize", // size_t len
      "u64", // uint64_t dev
      "u64", // uint64_t ino
    ],
    result: "i32", // int32_t: fd of the verified root folder or -errno
  },
  pw_restore: {
    parameters: [
      "i32", // int32_t rootfd (pw_restore_root)
      "buffer", // const uint8_t *rel (below the root; "." for the root)
      "usize", // size_t len
      "buffer", // int64_t *v[22] (dev, ino, type, old uid/gid/mode, new uid/gid/mode; out: the mode put back, the uid/gid/mode left; in: judge from these uid/gid/mode; in: a newer line let others write it; in: the birth time; out: the mode found)
      "i32", // int32_t apply
    ],
    result: "i32", // int32_t: PW_RESTORE_* bits or -errno
  },
  pw_id_name: {
    parameters: [
      "i32", // int32_t kind (0 user, 1 group)
      "u32", // uint32_t id
      "buffer", // uint8_t *buf
      "usize", // size_t cap
    ],
    result: "i64", // int64_t: name length, 0 when none, or -errno
  },
  pw_syslog: {
    parameters: [
      "buffer", // const uint8_t *msg
      "usize", // size_t len
    ],
    result: "i32", // int32_t: 0 or -errno
  },
  pw_job_next: {
    parameters: [
      "pointer", // pw_job *j
      "buffer", // uint64_t *out (7 values: see native/channel.h)
    ],
    result: "i32", // int32_t: 1 batch, 0 end
    nonblocking: true,
  },
  pw_job_wait: {
    parameters: [
      "pointer", // pw_job *j
    ],
    result: "i32", // int32_t: pw_status
    nonblocking: true,
  },
  pw_job_cancel: {
    parameters: [
      "pointer", // pw_job *j
    ],
    result: "void",
  },
  pw_job_progress: {
    parameters: [
      "pointer", // pw_job *j
      "buffer", // uint64_t *out (PW_C_COUNT counters)
    ],
    result: "void",
  },
  pw_job_current: {
    parameters: [
      "pointer", // pw_job *j
      "buffer", // uint8_t *buf
      "usize", // size_t cap
    ],
    result: "i64", // int64_t: full length of the folder's path, 0 when none
  },
  pw_job_error_count: {
    parameters: [
      "pointer", // pw_job *j
    ],
    result: "u32", // uint32_t
  },
  pw_job_error: {
    parameters: [
      "pointer", // pw_job *j
      "u32", // uint32_t i
      "buffer", // uint8_t *buf
      "usize", // size_t cap
    ],
    result: "i64", // int64_t: full length or -1
  },
  pw_job_message: {
    parameters: [
      "pointer", // pw_job *j
      "buffer", // uint8_t *buf
      "usize", // size_t cap
      "buffer", // int32_t *err
    ],
    result: "i64", // int64_t: message length
  },
  pw_walk_descend: {
    parameters: [
      "pointer", // pw_job *j
      "u32", // uint32_t token
      "buffer", // const uint8_t *mask
      "u32", // uint32_t n
    ],
    result: "i32", // int32_t: 0 or -EINVAL
  },
  pw_job_free: {
    parameters: [
      "pointer", // pw_job *j
    ],
    result: "void",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbols. */
export type PwalkSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** Option keys: enum pw_opt in native/pwalk.h. */
export const Opt = {
  THREADS: 1,
  HEADER: 2,
  NOSNAP: 3,
  MAXDEPTH: 4,
  ONE_FS: 5,
  LEVEL: 6,
  OUTPUT_FD: 7,
  ERROR_FD: 8,
  MAX_ERRORS: 9,
  FOLLOW: 10,
  BATCH_BYTES: 11,
  BATCHES: 12,
  APPLY: 13,
  FORCE_GW: 14,
  CHOWN_FROM: 15,
  CHOWN_UID: 16,
  CHOWN_GID: 17,
  CHANGE_GID: 18,
  JOURNAL_FD: 19,
  CHANGES_FD: 20,
  RECORDS: 21,
  LEAF_DEPTH: 22,
  ERRORS_CSV_FD: 23,
  SKIP_FD: 24,
  COMPRESS: 25,
  HOLD: 26,
  NO_STAT: 27,
  LINK_DIRS: 28,
  SUBDIRS: 29,
  NAMES_ONLY: 30,
  BARE_DOT: 31,
  ERROR_CLEAR: 32,
  CANONICAL: 33,
  ROOT: 100,
  OUTPUT: 101,
  EXCLUDE: 102,
  FRONTIER: 103,
  ROOT_REAL: 104,
  SKIP_PATH: 105,
  DEV_MAP: 106,
  GUARD_PATH: 107,
} as const;

/** Bytes of a record: PW_REC_SIZE in native/channel.h. */
export const REC_SIZE = 144;

/** Record kinds: enum pw_rec_kind in native/channel.h. */
export const RecKind = { ENTRY: 0, DIR: 1, SUBDIR: 2, ERROR: 3, CHANGE: 4 } as const;

/** Record flags: enum pw_rec_flag in native/channel.h. */
export const RecFlag = {
  VIA_LINK: 1 << 4,
  NOT_UTF8: 1 << 5,
  LINK_DIR: 1 << 6,
  NO_STAT: 1 << 7,
} as const;

/** Error operations: enum pw_op in native/pwalk.h (index = value). */
export const OP_NAMES: readonly string[] = [
  "error",
  "open",
  "read",
  "stat",
  "write",
  "change",
  "race",
  "ancestor",
  "loop",
  "chown",
  "chmod",
  "acl",
  "capability",
  "links",
  "device",
  "hardlinks",
  "acl_named",
  "setid",
];

/** pw_restore's result bits: enum pw_restore_bits in native/pwalk.h. */
export const Restore = {
  OWNER: 1,
  MODE: 2,
  OWNER_KEPT: 4,
  MODE_KEPT: 8,
  SETID_KEPT: 16,
  SETID_WRITABLE: 32,
  SETGID_OWNER: 64,
  SETID_LOST: 128,
  ACL_KEPT: 256,
  GROUP_KEPT: 512,
} as const;

/** pw_journal_open's flags: enum pw_journal_flags in native/pwalk.h. */
export const JournalFlag = { NEW: 1, READ: 2 } as const;

/** Values of Opt.COMPRESS: enum pw_compress in native/pwalk.h. */
export const Compress = { NONE: 0, ZSTD: 1, GZIP: 2, PARQUET: 3 } as const;

/** Job status: enum pw_status. */
export const Status = { OK: 0, CANCELLED: 1, FAILED: 2 } as const;

/** Counter indexes: enum pw_counter. */
export const Counter = {
  ENTRIES: 0,
  DIRS: 1,
  BYTES: 2,
  ERRORS: 3,
  BADNAMES: 4,
  CHANGES: 5,
  MODE: 6,
  GROUP: 7,
  SETGID: 8,
  CHANGED: 9,
  NOANCESTOR: 10,
  OUT_BYTES: 11,
  ALLOC_BYTES: 12,
  HARDLINKS: 13,
  SHARED: 14,
  OUT_WRITING: 15,
  COUNT: 16,
} as const;

// ---------------------------------------------------------------------------
// The loader.

if (Deno.build.os === "windows") {
  throw new Error("pwalk does not support Windows yet: use it on Linux or macOS.");
}

/** The names of every symbol bound above (the release checks test each one is exported). */
export const SYMBOL_NAMES: readonly string[] = Object.keys(symbols);

let lib: Deno.DynamicLibrary<typeof symbols> | undefined;
let explicitPath: string | undefined;
let pending: Promise<void> | undefined;

/**
 * Use this library file instead of searching (must be called before first
 * use). A relative path is taken from the working folder now.
 */
export function setLibraryPath(path: string): void {
  if (lib) throw new Error("pwalk: the native library is already loaded");
  explicitPath = absolute(path);
}

/**
 * A relative path as an absolute one, from the working folder (the CLI's
 * is PWALK_CWD under `deno task report`, as for ROOT): dlopen would look a
 * name without "/" up on LD_LIBRARY_PATH and the system's folders instead
 * of the file the user named.
 */
function absolute(path: string): string {
  if (path.startsWith("/")) return path;
  try {
    return `${Deno.cwd()}/${path.replace(/^(?:\.\/+)+/, "")}`;
  } catch {
    return path; // the working folder not readable here: as given
  }
}

/** PWALK_LIB, absolute (from the working folder when relative); undefined when unset. */
function envLibrary(): string | undefined {
  const env = readEnv("PWALK_LIB");
  return env && absolute(env);
}

/** How this module was reached: a checkout, a `deno compile` binary, or a URL (jsr:, https:). */
function mode(): "checkout" | "standalone" | "remote" {
  if (!import.meta.url.startsWith("file:")) return "remote";
  return Deno.build.standalone ? "standalone" : "checkout";
}

function localFileName(): string {
  return Deno.build.os === "darwin" ? "libpwalk.dylib" : "libpwalk.so";
}

/** A file: URL's path, decoded (a checkout under "My Projects" or "josé"). */
function filePath(u: URL): string {
  return decodeURIComponent(u.pathname);
}

/** The candidate paths, in the order they are tried. */
export function libraryCandidates(): string[] {
  const out: string[] = [];
  if (explicitPath) out.push(explicitPath);
  const env = envLibrary();
  if (env) out.push(env);
  if (mode() === "checkout") {
    out.push(filePath(new URL(`../zig-out/lib/${localFileName()}`, import.meta.url)));
    const t = MANIFEST.targets[targetKey()];
    if (t) out.push(filePath(new URL(`../dist/${t.file}`, import.meta.url)));
  }
  return out;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (e) {
    // not looked at (no --allow-read for it): said so, not "not found"
    if (e instanceof Deno.errors.NotCapable) throw e;
    return false;
  }
}

/** What the file at `path` is when it is there but not a regular file ("a FIFO"), else undefined. */
function specialFile(path: string): string | undefined {
  try {
    const st = Deno.statSync(path);
    if (st.isFile || st.isDirectory) return undefined;
    return st.isFifo
      ? "a FIFO"
      : st.isCharDevice
      ? "a character device"
      : st.isBlockDevice
      ? "a block device"
      : st.isSocket
      ? "a socket"
      : "not a regular file";
  } catch {
    return undefined;
  }
}

/** The checkout this module is in (a file: URL beside native/), with no trailing slash. */
function checkoutRoot(): string {
  return filePath(new URL("..", import.meta.url)).replace(/\/+$/, "");
}

/**
 * A folder of the checkout that `deno task build` writes (as tools/build.sh
 * checks them) and this user cannot, or undefined: known only with write
 * permission for it (a file made and removed there); without, undefined.
 */
function unwritableBuildFolder(): string | undefined {
  const root = checkoutRoot();
  for (
    const d of [
      root,
      `${root}/.tools`,
      `${root}/.zig-cache`,
      `${root}/zig-out`,
      `${root}/zig-out/lib`,
    ]
  ) {
    try {
      if (!Deno.statSync(d).isDirectory) continue;
      if (Deno.permissions.querySync({ name: "write", path: d }).state !== "granted") {
        return undefined;
      }
      Deno.removeSync(Deno.makeTempFileSync({ dir: d, prefix: ".pwalk-write-" }));
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied || (e as { code?: string }).code === "EROFS") {
        return d;
      }
    }
  }
  return undefined;
}

/**
 * What to do about the checkout's own library (zig-out/lib) that is not
 * the one wanted: run `deno task build`, or, when this user cannot write
 * the checkout, ask its owner to (tools/build.sh's own line).
 */
function rebuildFix(): string {
  const d = unwritableBuildFolder();
  return d
    ? `it must be rebuilt, and you cannot write ${d}: ask the checkout's owner to run ` +
      `\`deno task build\` in ${checkoutRoot()}`
    : "rebuild it: run `deno task build`";
}

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The source id this module expects of its library, and where it comes from. */
interface Expected {
  /** The id (lib/source_id.ts). */
  id: string;
  /** Whose sources, for "built from other sources than WHAT": "/x/native/", "pwalk 0.1.0's". */
  what: string;
  /** Whether it came from a native/ folder, so that `deno task build` there makes a match. */
  checkout: boolean;
}

let expected: Expected | undefined;

/**
 * The source id the library must have, computed once per process: that of
 * the native/ folder beside lib/ when there is one (a checkout: edited
 * sources and a fresh `deno task build` agree), else, in a `deno compile`
 * binary, that of the dist/manifest.json it carries (written by the same
 * `deno task dist` that built its library), else lib/manifest.json's (the
 * published package has no native/).
 */
function expectedSourceId(): Expected {
  if (expected) return expected;
  if (import.meta.url.startsWith("file:")) {
    const dir = new URL("../native/", import.meta.url);
    const id = sourceId(dir);
    if (id) return expected = { id, what: filePath(dir), checkout: true };
  }
  if (mode() === "standalone") {
    try {
      const m = JSON.parse(
        Deno.readTextFileSync(new URL("../dist/manifest.json", import.meta.url)),
      );
      if (typeof m.sourceId === "string") {
        return expected = { id: m.sourceId, what: "this executable's build", checkout: false };
      }
    } catch { /* not carried: the module's manifest */ }
  }
  return expected = {
    id: MANIFEST.sourceId,
    what: `pwalk ${MANIFEST.version}'s (lib/manifest.json)`,
    checkout: false,
  };
}

/**
 * dlopen's error as one line naming the file (Deno repeats "Could not open
 * library: "), with what to do: `how` says where the path came from
 * ("PWALK_LIB", "setLibraryPath()", "" for the module's own choice).
 */
function openError(path: string, e: unknown, how = ""): Error {
  const m = String((e as Error)?.message ?? e).replace(/^(?:Could not open library: )+/, "");
  let fix = "";
  if (/Permission denied/.test(m)) {
    fix = `: make it readable by you (chmod a+r ${path})` +
      (how ? `, or give ${how} a copy you can read` : "");
  } else if (how) {
    const what = /position-independent executable/.test(m)
      ? "it is a program, not a library: "
      : "";
    fix = ` (${how}): ${what}give the path of a built libpwalk (\`deno task build\` makes ` +
      `zig-out/lib/${localFileName()})` + (how === "PWALK_LIB" ? ", or unset PWALK_LIB" : "");
  }
  return new Error(
    `pwalk: ${m.startsWith(path) ? m : `${path}: ${m}`}${fix}${fallbackNote(path)}`,
    { cause: e },
  );
}

/**
 * Open the library at `path` for its source id alone (a library older than
 * pw_source_id() lacks other symbols too, and dlopen of the full set would
 * fail naming one of those) and throw one line unless it is the expected
 * one; returns the library, to be closed once the full set is open (so
 * that the same mapping is the one checked). `how` says where the path
 * came from: "PWALK_LIB", "setLibraryPath()", or "" for the module's own
 * choice (a checkout's build, a cached or embedded release library).
 */
function checkSourceId(path: string, how: string): Deno.DynamicLibrary<typeof idSymbol> {
  const want = expectedSourceId();
  let probe: Deno.DynamicLibrary<typeof idSymbol>;
  try {
    probe = Deno.dlopen(path, idSymbol);
  } catch (e) {
    throw openError(path, e, how);
  }
  const fn = probe.symbols.pw_source_id;
  const p = fn ? fn() : null;
  const got = p ? new Deno.UnsafePointerView(p).getCString() : undefined;
  if (got === want.id) return probe;
  const pwalks = !!fn || !!probe.symbols.pw_version;
  probe.close();
  if (!pwalks) {
    // neither symbol: another library altogether (libz...), not an old pwalk
    const unset = how === "PWALK_LIB" ? ", or unset PWALK_LIB" : "";
    throw new Error(
      `pwalk: ${path}${how ? ` (${how})` : ""} is not pwalk's native library (it has neither ` +
        `pw_version() nor pw_source_id()): give the path of a built libpwalk (\`deno task build\` ` +
        `makes zig-out/lib/${localFileName()})${unset}`,
    );
  }
  const short = (id: string) => (/^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : JSON.stringify(id));
  const why = got === undefined
    ? "it has no pw_source_id(): built before pwalk checked its libraries"
    : `source id ${short(got)}, expected ${short(want.id)}`;
  const zigOut = `zig-out/lib/${localFileName()}`;
  const build = want.checkout
    ? "run `deno task build`"
    : `build one with \`deno task build\` in a checkout of pwalk ${MANIFEST.version}`;
  const own = want.checkout ? filePath(new URL(`../${zigOut}`, import.meta.url)) : `its ${zigOut}`;
  const fix = how === "PWALK_LIB"
    ? (want.checkout
      ? `${build} and unset PWALK_LIB (or set it to ${own})`
      : `${build} and set PWALK_LIB to ${own}, or unset PWALK_LIB`)
    : how
    ? `${build} and give ${how} ${own}`
    : want.checkout
    ? rebuildFix()
    : `${build} and set PWALK_LIB to ${own} (the release's library and manifest disagree: ` +
      "please report it)";
  throw new Error(
    `pwalk: the native library ${path}${how ? ` (${how})` : ""} was built from other sources ` +
      `than ${want.what} (${why}): ${fix}`,
  );
}

/** The one symbol {@link checkSourceId} opens a library for. */
const idSymbol = {
  pw_source_id: { parameters: [], result: "pointer", optional: true },
  pw_version: { parameters: [], result: "pointer", optional: true },
} as const;

/**
 * A `deno compile` binary carries dist/<file> (`--include`) in its virtual
 * file system, which dlopen cannot read: copy it, verified, to the cache.
 */
function embeddedLibrary(): string | undefined {
  const t = MANIFEST.targets[targetKey()];
  return t && installEmbedded(new URL(`../dist/${t.file}`, import.meta.url), t.file);
}

/** The library to open, found without waiting (no download); undefined if none. */
function locate(): string | undefined {
  // An explicit path or PWALK_LIB is used as given, even if it is wrong:
  // falling back silently would hide the mistake.
  const chosen = explicitPath ?? envLibrary();
  if (chosen) return chosen;
  switch (mode()) {
    case "checkout":
      return libraryCandidates().find(exists);
    case "standalone":
      return embeddedLibrary();
    case "remote": {
      const t = manifestTarget();
      return findLibrary(t.file, t.sha256);
    }
  }
}

/**
 * Make sure the native library can be opened, downloading it first when
 * this module was imported from a URL (jsr:, https:) and no verified copy
 * is cached yet. report(), walk(), walkDirs(), repair(), chown(), undo()
 * and runShard() call it before their first native call; call it yourself
 * before {@link nativeVersion} in code imported from JSR. Cheap and without
 * network access once the library is loaded or cached. `signal` stops the
 * download: it rejects with an Error whose `name` is "DownloadInterrupted"
 * and whose message gives the signal's reason and that nothing was cached
 * (report(), walk() and walkDirs() reject with the reason itself); a
 * download that gets no byte for PWALK_DOWNLOAD_TIMEOUT seconds (60) fails.
 *
 * @example
 * ```ts
 * import { ensureNative, nativeVersion } from "jsr:@pwalk/cli";
 * import { assertMatch } from "@std/assert";
 *
 * await ensureNative(); // imported from JSR: the library is downloaded (once) and verified
 * assertMatch(nativeVersion(), /^\d+\.\d+\.\d+/);
 * ```
 */
export function ensureNative(signal?: AbortSignal): Promise<void> {
  if (lib) return Promise.resolve();
  if (mode() !== "remote" || explicitPath || envLibrary()) {
    try {
      native();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
  if (signal) {
    // this caller's own download, stopped by its signal (the CLI's first Ctrl-C)
    return downloadLibrary(undefined, undefined, signal).then(() => void native());
  }
  pending ??= downloadLibrary().then(() => void native()).finally(() => pending = undefined);
  return pending;
}

/**
 * Why root may not open the PWALK_LIB file at `path`, or undefined: it
 * must be root's, writable by nobody else, and every folder on the way to
 * it (as written and by real path) root's and not writable by others
 * unless sticky, or another user could put their code in root's process.
 * Undefined for any other user: their PWALK_LIB is their own choice.
 */
function envLibraryRefusal(path: string): string | undefined {
  if (runningUid() !== 0) return undefined;
  const above = untrustedAncestor(path, 0); // the file itself too (lstat: a link must be root's)
  if (above) return above;
  const st = Deno.statSync(path); // the file a link leads to (its sticky bit counts for nothing)
  if (st.uid !== 0) return `${path} is owned by uid ${st.uid}, not by root`;
  const mode = st.mode! & 0o7777;
  if (mode & 0o022) {
    return `${path} is writable by group or others (mode ${mode.toString(8).padStart(4, "0")})`;
  }
  return undefined;
}

/** Open the native library on first use and return its symbols. */
export function native(): PwalkSymbols {
  if (lib) return lib.symbols;
  const chosen = locate();
  if (!chosen || !exists(chosen)) {
    if (mode() === "remote" && !chosen && !explicitPath) {
      throw new Error(
        `pwalk: the native library for ${targetKey()} is not downloaded yet: ` +
          "`await ensureNative()` first (report(), walk(), repair(), chown(), undo() and " +
          "runShard() do).",
      );
    }
    if (mode() === "standalone" && !chosen) {
      throw new Error(
        `pwalk: this executable carries no native library for ${targetKey()}: ` +
          `build it with \`deno task compile\`, or set PWALK_LIB to the library's path${envNote()}.`,
      );
    }
    if (chosen && !exists(chosen)) { // set by the caller: the only one tried
      const how = explicitPath ? "setLibraryPath()" : "PWALK_LIB";
      if (isFolder(chosen)) {
        throw new Error(
          `pwalk: the native library ${chosen} (${how}) is a folder, not a library file: ` +
            `give the path of the library file (${chosen.replace(/\/+$/, "")}/${localFileName()}?)`,
        );
      }
      const special = specialFile(chosen);
      throw new Error(
        `pwalk: the native library ${chosen} (${how}) ` +
          (special ? `is ${special}, not a regular file` : "does not exist") +
          ": give the path of a built libpwalk, or unset it",
      );
    }
    const candidates = libraryCandidates();
    throw new Error(
      `pwalk: native library not found (tried: ${candidates.join(", ") || "nothing"}). ` +
        `Build it with \`deno task build\` in a checkout, or set PWALK_LIB to its path${envNote()}.`,
    );
  }
  if (!explicitPath && chosen === envLibrary()) {
    const refused = envLibraryRefusal(chosen);
    if (refused) {
      throw new Error(
        `pwalk: PWALK_LIB ${chosen} is not opened as root: ${refused} ` +
          "(give root's own copy of the library, or unset PWALK_LIB)",
      );
    }
  }
  const how = explicitPath ? "setLibraryPath()" : chosen === envLibrary() ? "PWALK_LIB" : "";
  // a truncated file would kill the process with SIGBUS inside dlopen
  const why = libraryProblem(chosen);
  if (why) {
    const zigOut = `zig-out/lib/${localFileName()}`;
    const fix = how
      ? `: give the path of a built libpwalk (\`deno task build\` makes ${zigOut})` +
        (how === "PWALK_LIB" ? ", or unset PWALK_LIB" : "")
      : chosen === `${checkoutRoot()}/${zigOut}`
      ? `: ${rebuildFix()}`
      : chosen.startsWith(`${checkoutRoot()}/dist/`)
      ? ": rebuild it: run `deno task dist`"
      : "";
    throw new Error(
      `pwalk: ${chosen}${how ? ` (${how})` : ""} is not a usable library for ${targetKey()}: ` +
        `${why}${fix}`,
    );
  }
  // The checks (a cached copy's SHA-256 in findLibrary or installEmbedded,
  // root's PWALK_LIB's owner and mode above, the ELF headers) and dlopen
  // each open the file by path, yet nobody else can swap it in between:
  // every folder on the way to it may be changed only by root or this user
  // (lib/trust.ts), and the file itself only by them. (A checkout's build,
  // setLibraryPath() and a non-root user's PWALK_LIB are files the user
  // chose, where they chose.)
  const probe = checkSourceId(chosen, how);
  try {
    lib = Deno.dlopen(chosen, symbols);
  } catch (e) {
    throw openError(chosen, e, how);
  } finally {
    probe.close();
  }
  return lib.symbols;
}

/**
 * The version the native library reports, opening it on first use.
 * Imported from JSR, `await` {@link ensureNative} first: this throws while
 * the library is not downloaded yet.
 *
 * @example
 * ```ts
 * import { ensureNative, nativeVersion } from "jsr:@pwalk/cli";
 * import { assertMatch } from "@std/assert";
 *
 * await ensureNative();
 * assertMatch(nativeVersion(), /^\d+\.\d+\.\d+/); // as "0.1.0"
 * ```
 */
export function nativeVersion(): string {
  const p = native().pw_version();
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}
