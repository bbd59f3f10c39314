/**
 * Safety checks that must not pass for want of a Deno permission: a check
 * that could not look (Deno's NotCapable) is refused, never taken for "not
 * there"; and /proc, which Deno refuses to a script without `--allow-all`,
 * read through the C library (`--allow-ffi`, which pwalk needs anyway).
 *
 * @module
 */

/**
 * Throw `e` when it is Deno's refusal of a permission (NotCapable): for the
 * catches of safety checks, where anything else means "not there".
 *
 * @example
 * ```ts ignore
 * try { Deno.lstatSync(p); } catch (e) { unlessRefused(e); missing = p; }
 * ```
 */
export function unlessRefused(e: unknown): void {
  if (e instanceof Deno.errors.NotCapable) throw e;
}

import { errnoError, errnoName } from "./errno.ts";

const O_CLOEXEC = 0o2000000; // Linux (x86-64, arm64)

/**
 * The bytes of a file under /proc (`/proc/self/mountinfo`), or undefined
 * where it is not there (no /proc: a container without it, macOS). Without
 * `--allow-all` Deno refuses every path under /proc (NotCapable, whatever
 * `--allow-read` says): then it is read through the C library's open and
 * read, which `--allow-ffi` allows; without that either, the refusal is
 * thrown.
 *
 * @example
 * ```ts ignore
 * const text = new TextDecoder().decode(readProcFile("/proc/self/mountinfo"));
 * ```
 */
export function readProcFile(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (!(e instanceof Deno.errors.NotCapable) || Deno.build.os !== "linux") throw e;
  }
  const c = libc().symbols;
  const fd = c.open(cString(path), O_CLOEXEC);
  if (fd < 0) {
    const e = errno();
    if (e === 2) return undefined; // ENOENT: no /proc
    throw new Error(`pwalk: cannot read ${path} (errno ${e})`);
  }
  try {
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(64 << 10);
      const n = Number(c.read(fd, buf, BigInt(buf.length)));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue; // EINTR
        throw new Error(`pwalk: cannot read ${path} (errno ${e})`);
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) out.set(c, (o += c.length) - c.length);
    return out;
  } finally {
    c.close(fd);
  }
}

/** The C library's calls these checks make where Deno refuses the path (loaded once). */
let libcHandle: ReturnType<typeof openLibc> | undefined;

function openLibc() {
  return Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" }, // int open(const char *, int)
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" }, // ssize_t read(int, void *, size_t)
    // ssize_t write(int fd, const void *buf, size_t count)
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" }, // int close(int)
    // int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
    // (glibc 2.28 and later: optional, an older one's Deno refusal stands)
    statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32", optional: true },
    // ssize_t readlink(const char *path, char *buf, size_t size)
    readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
    // char *realpath(const char *path, char *resolved)
    realpath: { parameters: ["buffer", "buffer"], result: "pointer" },
    __errno_location: { parameters: [], result: "pointer" }, // int *__errno_location(void)
    raise: { parameters: ["i32"], result: "i32" }, // int raise(int sig)
  });
}

function libc(): ReturnType<typeof openLibc> {
  return libcHandle ??= openLibc();
}

function errno(): number {
  const p = libc().symbols.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

const enc = new TextEncoder();
const cString = (s: string) => enc.encode(`${s}\0`);

/** `e`, thrown as Deno throws a failed call of `op` on `path` (NotFound for ENOENT...). */
function failed(op: string, path: string, e: number): Error {
  const [, text] = errnoName(e);
  return errnoError(e, `${text} (os error ${e}): ${op} '${path}'`);
}

/**
 * Run `deno` (a Deno file system call on `path`); where Deno refuses it
 * although --allow-read grants the path (/proc, /dev and /sys want
 * --allow-all besides), on Linux, run `libcCall` instead, which the C
 * library answers (`--allow-ffi`). A path --allow-read does not grant
 * stays refused.
 */
function orThroughLibc<T>(path: string, deno: () => T, libcCall: () => T): T {
  try {
    return deno();
  } catch (e) {
    if (!refusedSpecial(e, path)) throw e;
  }
  try {
    libc();
  } catch {
    // (no --allow-ffi, or no glibc: Deno's refusal stands)
    return deno();
  }
  return libcCall();
}

const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, STATX_BASIC_STATS = 0x7ff, STATX_BTIME = 0x800;

/** glibc's makedev: major and minor into a dev_t, as Deno's dev and rdev hold it. */
function makedev(major: number, minor: number): number {
  const ma = BigInt(major), mi = BigInt(minor);
  return Number(
    ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) |
      ((mi & 0xffffff00n) << 12n),
  );
}

function statxOf(path: string, follow: boolean): Deno.FileInfo {
  const buf = new Uint8Array(256);
  const r = libc().symbols.statx!(
    AT_FDCWD,
    cString(path),
    follow ? 0 : AT_SYMLINK_NOFOLLOW,
    STATX_BASIC_STATS | STATX_BTIME,
    buf,
  );
  if (r !== 0) throw failed(follow ? "stat" : "lstat", path, errno());
  const v = new DataView(buf.buffer);
  const u64 = (o: number) => Number(v.getBigUint64(o, true));
  // (tv_sec signed: a time before 1970; tv_nsec added to it)
  const time = (o: number) =>
    new Date(Number(v.getBigInt64(o, true)) * 1000 + Math.floor(v.getUint32(o + 8, true) / 1e6));
  const mode = v.getUint16(28, true), type = mode & 0o170000;
  const mask = v.getUint32(0, true);
  return {
    isFile: type === 0o100000,
    isDirectory: type === 0o040000,
    isSymlink: type === 0o120000,
    isBlockDevice: type === 0o060000,
    isCharDevice: type === 0o020000,
    isFifo: type === 0o010000,
    isSocket: type === 0o140000,
    size: u64(40),
    atime: time(64),
    birthtime: mask & 0x800 ? time(80) : null,
    ctime: time(96),
    mtime: time(112),
    dev: makedev(v.getUint32(136, true), v.getUint32(140, true)),
    ino: u64(32),
    mode,
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    rdev: makedev(v.getUint32(128, true), v.getUint32(132, true)),
    blksize: v.getUint32(4, true),
    blocks: u64(48),
  };
}

/**
 * Deno.statSync, also where Deno refuses a path --allow-read grants to a
 * script without `--allow-all` (`/dev/stderr`, `/proc/self/fd/3`): then
 * the C library's statx answers (Linux), and a failure throws as Deno's
 * would (NotFound...).
 *
 * @example
 * ```ts ignore
 * statSync("/dev/stderr").rdev; // the terminal or file stderr is on
 * ```
 */
export function statSync(path: string): Deno.FileInfo {
  const deno = () => Deno.statSync(path);
  return orThroughLibc(path, deno, () => libc().symbols.statx ? statxOf(path, true) : deno());
}

/** Deno.lstatSync, also where Deno refuses the path ({@link statSync}). */
export function lstatSync(path: string): Deno.FileInfo {
  const deno = () => Deno.lstatSync(path);
  return orThroughLibc(path, deno, () => libc().symbols.statx ? statxOf(path, false) : deno());
}

/** Deno.readLinkSync, also where Deno refuses the path (`/proc/self/fd/2`, `/dev/stderr`). */
export function readLinkSync(path: string): string {
  return orThroughLibc(path, () => Deno.readLinkSync(path), () => {
    const buf = new Uint8Array(8192);
    const n = Number(libc().symbols.readlink(cString(path), buf, BigInt(buf.length)));
    if (n < 0) throw failed("readlink", path, errno());
    return new TextDecoder().decode(buf.subarray(0, n));
  });
}

/** Deno.realPathSync, also where Deno refuses the path (`/dev`, `/proc/self/fd`). */
export function realPathSync(path: string): string {
  return orThroughLibc(path, () => Deno.realPathSync(path), () => {
    const buf = new Uint8Array(4096 + 1); // PATH_MAX
    if (libc().symbols.realpath(cString(path), buf) === null) {
      throw failed("realpath", path, errno());
    }
    return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
  });
}

/** Whether `e` is Deno's refusal of `path` that --allow-read grants (/proc, /dev, /sys), on Linux. */
function refusedSpecial(e: unknown, path: string): boolean {
  return e instanceof Deno.errors.NotCapable && Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "read", path }).state === "granted";
}

/**
 * Deno's asynchronous call `deno` on `path`; where Deno refuses a path
 * --allow-read grants, the synchronous wrapper `sync` (through the C library).
 */
async function orSync<T>(path: string, deno: () => Promise<T>, sync: () => T): Promise<T> {
  try {
    return await deno();
  } catch (e) {
    if (!refusedSpecial(e, path)) throw e;
    return sync();
  }
}

/** Deno.stat, also where Deno refuses a path --allow-read grants ({@link statSync}). */
export function stat(path: string): Promise<Deno.FileInfo> {
  return orSync(path, () => Deno.stat(path), () => statSync(path));
}

/** Deno.lstat, also where Deno refuses a path --allow-read grants ({@link statSync}). */
export function lstat(path: string): Promise<Deno.FileInfo> {
  return orSync(path, () => Deno.lstat(path), () => lstatSync(path));
}

/** Deno.realPath, also where Deno refuses a path --allow-read grants ({@link statSync}). */
export function realPath(path: string): Promise<string> {
  return orSync(path, () => Deno.realPath(path), () => realPathSync(path));
}

const O_WRONLY = 0o1, O_NONBLOCK = 0o4000, O_NOCTTY = 0o400; // Linux (x86-64, arm64)

/**
 * Let go an open of the FIFO `path` for reading that waits for a writer:
 * a writer opened and closed at once (through the C library: neither a
 * write permission nor a wait; a FIFO with no reader left refuses it,
 * ENXIO, and nothing happens).
 *
 * @example
 * ```ts ignore
 * releaseFifo("/tmp/scan.fifo"); // the open waiting there reads end of file
 * ```
 */
export function releaseFifo(path: string): void {
  if (Deno.build.os !== "linux") return;
  try {
    const c = libc().symbols;
    const fd = c.open(cString(path), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) c.close(fd);
  } catch { /* no --allow-ffi: left waiting */ }
}

/**
 * A device or FIFO that Deno refuses to open for writing (`e`, its
 * NotCapable) although --allow-write grants it: a terminal (/dev/tty,
 * /dev/pts/3) wants --allow-all besides. Opened through the C library
 * (`--allow-ffi`) as a file that writes and closes; non-blocking, a full
 * terminal or pipe waited for between tries, so that a stopped terminal
 * never holds the main thread, where a signal's listener runs. Undefined
 * where that does not apply (another error, a path --allow-write does not
 * grant, no --allow-ffi, not Linux); a failed open is thrown as Deno
 * throws one.
 *
 * @example
 * ```ts ignore
 * try { f = await Deno.open(p, { write: true }); } catch (e) { f = writableThroughLibc(p, e) ?? fail(e); }
 * ```
 */
export function writableThroughLibc(path: string, e: unknown): Deno.FsFile | undefined {
  if (
    !(e instanceof Deno.errors.NotCapable) || Deno.build.os !== "linux" ||
    Deno.permissions.querySync({ name: "write", path }).state !== "granted"
  ) return undefined;
  let c: ReturnType<typeof openLibc>["symbols"];
  try {
    c = libc().symbols;
  } catch {
    return undefined; // (no --allow-ffi, or no glibc: Deno's refusal stands)
  }
  const fd = c.open(cString(path), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw failed("open", path, errno());
  let open = true;
  const close = () => {
    if (open) c.close(fd);
    open = false;
  };
  return {
    async write(b: Uint8Array): Promise<number> {
      for (;;) {
        const n = Number(c.write(fd, b, BigInt(b.length)));
        if (n >= 0) return n;
        const e = errno();
        if (e === 4) continue; // EINTR
        if (e !== 11) throw failed("write", path, e); // EPIPE, EIO, ENOSPC... (not EAGAIN)
        await new Promise((r) => setTimeout(r, 10)); // full: a reader, a terminal to go on
      }
    },
    statSync: () => statSync(`/proc/self/fd/${fd}`),
    close,
    [Symbol.dispose]: close,
  } as unknown as Deno.FsFile;
}

/**
 * Send the signal numbered `sig` to this thread through the C library
 * (Deno.kill wants --allow-run; this, --allow-ffi). False where it cannot
 * (no --allow-ffi, not Linux).
 *
 * @example
 * ```ts ignore
 * raiseSignal(23); // SIGURG, ignored unless listened to
 * ```
 */
export function raiseSignal(sig: number): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return libc().symbols.raise(sig) === 0;
  } catch {
    return false; // (no --allow-ffi, or no glibc)
  }
}
