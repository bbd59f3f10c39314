/**
 * A tiny libc binding for the tests: the few things Deno's own file API
 * cannot do on raw byte paths.
 *
 * Deno.readDir decodes names lossily (a name that is not UTF-8 comes back
 * with U+FFFD in it, and Deno.lstat of that string then fails with
 * NotFound), and Deno.lstat cannot reach paths longer than PATH_MAX. The
 * test reference (reference.ts) therefore uses Deno.readDir/Deno.lstat for
 * every path that is valid UTF-8 and shorter than {@link SHORT_PATH}, and
 * this module (glibc's openat/fdopendir/readdir/fstatat on the exact bytes)
 * for the rest. Long paths are opened in chunks shorter than PATH_MAX, one
 * openat per chunk, relative to the previous chunk's folder.
 *
 * It also creates what Deno cannot: FIFOs, files and folders with raw byte
 * names, folder chains deeper than PATH_MAX, link times (lutimes) and link
 * owners (lchown).
 *
 * Linux (glibc) only, x86_64 and aarch64 `struct stat` layouts.
 *
 * @module
 */

import { bytes, concat } from "./bytes.ts";

/** Paths at least this long are handled here rather than by Deno.lstat. */
export const SHORT_PATH = 4000;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = Deno.build.arch === "aarch64" ? 0o40000 : 0o200000;
const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;

const symbols = {
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  mkfifoat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  fdopendir: { parameters: ["i32"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof symbols>["symbols"];
let lib: Deno.DynamicLibrary<typeof symbols> | undefined;

function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", symbols);
  return lib.symbols;
}

/** Close the library (tests call this when done; reopened on next use). */
export function closeLibc(): void {
  lib?.close();
  lib = undefined;
}

/** A failed libc call, with errno. */
export class LibcError extends Error {
  /** The errno value. */
  errno: number;
  constructor(what: string, errno: number) {
    const p = libc().strerror(errno);
    super(`${what}: ${p ? Deno.UnsafePointerView.getCString(p) : errno}`);
    this.errno = errno;
  }
}

function errno(): number {
  const p = libc().__errno_location();
  return new Deno.UnsafePointerView(p!).getInt32();
}

function cstr(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** What lstat says about an entry, in the units of pwalk's CSV. */
export interface RawStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

function decodeStat(b: Uint8Array<ArrayBuffer>): RawStat {
  const v = new DataView(b.buffer);
  const u64 = (o: number) => Number(v.getBigUint64(o, true));
  const i64 = (o: number) => Number(v.getBigInt64(o, true));
  if (Deno.build.arch === "aarch64") {
    return {
      dev: u64(0),
      ino: u64(8),
      mode: v.getUint32(16, true),
      nlink: v.getUint32(20, true),
      uid: v.getUint32(24, true),
      gid: v.getUint32(28, true),
      size: i64(48),
      blocks: i64(64),
      atime: i64(72),
      mtime: i64(88),
      ctime: i64(104),
    };
  }
  return {
    dev: u64(0),
    ino: u64(8),
    nlink: u64(16),
    mode: v.getUint32(24, true),
    uid: v.getUint32(28, true),
    gid: v.getUint32(32, true),
    size: i64(48),
    blocks: i64(64),
    atime: i64(72),
    mtime: i64(88),
    ctime: i64(104),
  };
}

/**
 * Open the folder at `path` (bytes, any length) and return its fd. Paths of
 * SHORT_PATH bytes or more are opened chunk by chunk, each chunk ending at a
 * '/', each opened relative to the previous one.
 */
export function openDir(path: Uint8Array): number {
  const c = libc();
  const flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  let fd = AT_FDCWD;
  let start = 0;
  for (;;) {
    let end = path.length;
    if (end - start >= SHORT_PATH) {
      end = start + SHORT_PATH - 1;
      while (end > start && path[end] !== 0x2f) end--;
      if (end === start) throw new Error("openDir: a path component is too long");
    }
    const chunk = end === 0 ? bytes("/") : path.subarray(start, end);
    const next = c.openat(fd, cstr(chunk), flags, 0);
    const e = next < 0 ? errno() : 0;
    if (fd !== AT_FDCWD) c.close(fd);
    if (next < 0) throw new LibcError(`open ${new TextDecoder().decode(path)}`, e);
    fd = next;
    if (end === path.length) return fd;
    start = end + 1;
  }
}

/**
 * Open the file at `path` read-only (`write`: write-only) and return its fd
 * (a descriptor number to hand to the library, as report()'s skipFds and
 * errorsCsvFd take); {@link closeFd} it.
 */
export function openFile(path: string | Uint8Array, write = false): number {
  const flags = (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC;
  const fd = libc().openat(AT_FDCWD, cstr(bytes(path)), flags, 0);
  if (fd < 0) throw new LibcError(`open ${String(path)}`, errno());
  return fd;
}

/** Close a descriptor of {@link openFile}. */
export function closeFd(fd: number): void {
  libc().close(fd);
}

function split(path: Uint8Array): [Uint8Array, Uint8Array] {
  const i = path.lastIndexOf(0x2f);
  if (i < 0) return [bytes("."), path];
  return [i === 0 ? bytes("/") : path.subarray(0, i), path.subarray(i + 1)];
}

/** Run fn with an fd of path's parent folder and path's last name. */
export function inParent<T>(path: Uint8Array, fn: (dirfd: number, name: Uint8Array) => T): T {
  const [dir, name] = split(path);
  const fd = openDir(dir);
  try {
    return fn(fd, cstr(name));
  } finally {
    libc().close(fd);
  }
}

/** lstat of a raw path of any length. */
export function lstatRaw(path: Uint8Array): RawStat {
  return inParent(path, (fd, name) => {
    const buf = new Uint8Array(256);
    if (libc().fstatat(fd, name, buf, AT_SYMLINK_NOFOLLOW) !== 0) {
      throw new LibcError(`lstat ${new TextDecoder().decode(path)}`, errno());
    }
    return decodeStat(buf);
  });
}

/** The names in a folder (raw bytes, `.` and `..` left out), through readdir(3). */
export function listRaw(path: Uint8Array): Uint8Array[] {
  const c = libc();
  const fd = openDir(path);
  const dir = c.fdopendir(fd);
  if (!dir) {
    const e = errno();
    c.close(fd);
    throw new LibcError("fdopendir", e);
  }
  const out: Uint8Array[] = [];
  try {
    for (;;) {
      const ent = c.readdir(dir);
      if (!ent) break;
      const view = new Deno.UnsafePointerView(ent);
      const reclen = view.getUint16(16);
      // struct dirent: d_ino, d_off, d_reclen (u16), d_type (u8), d_name at 19
      const raw = new Uint8Array(view.getArrayBuffer(reclen - 19, 19));
      const name = raw.slice(0, raw.indexOf(0));
      if (name.length === 1 && name[0] === 0x2e) continue;
      if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) continue;
      out.push(name);
    }
  } finally {
    c.closedir(dir);
  }
  return out;
}

/** Create an empty (or filled) file with a raw name. */
export function writeFileRaw(path: Uint8Array, data: Uint8Array = new Uint8Array()): void {
  inParent(path, (fd, name) => {
    const f = libc().openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644);
    if (f < 0) throw new LibcError("create", errno());
    libc().close(f);
  });
  if (data.length) {
    // Deno can write it when the path is short and UTF-8; else go through /proc.
    inParent(path, (fd, name) => {
      const f = libc().openat(fd, name, O_WRONLY | O_CLOEXEC, 0);
      if (f < 0) throw new LibcError("open", errno());
      try {
        Deno.writeFileSync(`/proc/self/fd/${f}`, data);
      } finally {
        libc().close(f);
      }
    });
  }
}

/** mkdir with a raw path of any length. */
export function mkdirRaw(path: Uint8Array, mode = 0o755): void {
  inParent(path, (fd, name) => {
    if (libc().mkdirat(fd, name, mode) !== 0) throw new LibcError("mkdir", errno());
  });
}

/** mkfifo with a raw path. */
export function mkfifo(path: string | Uint8Array, mode = 0o644): void {
  inParent(bytes(path), (fd, name) => {
    if (libc().mkfifoat(fd, name, mode) !== 0) throw new LibcError("mkfifo", errno());
  });
}

/** symlink with raw bytes for both the target and the link path. */
export function symlinkRaw(target: string | Uint8Array, path: string | Uint8Array): void {
  inParent(bytes(path), (fd, name) => {
    if (libc().symlinkat(cstr(bytes(target)), fd, name) !== 0) {
      throw new LibcError("symlink", errno());
    }
  });
}

/**
 * Set atime and mtime (whole seconds; a bigint for times a number does not
 * hold, up to 2^63 - 1) without following a link (lutimes).
 */
export function lutimes(
  path: string | Uint8Array,
  atime: number | bigint,
  mtime: number | bigint,
): void {
  const ts = new BigInt64Array([BigInt(atime), 0n, BigInt(mtime), 0n]);
  inParent(bytes(path), (fd, name) => {
    if (libc().utimensat(fd, name, new Uint8Array(ts.buffer), AT_SYMLINK_NOFOLLOW) !== 0) {
      throw new LibcError("utimensat", errno());
    }
  });
}

/** Change the owner and group of an entry itself, links included (Deno.chown follows links). */
export function lchown(path: string | Uint8Array, uid: number, gid: number): void {
  inParent(bytes(path), (fd, name) => {
    if (libc().fchownat(fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) !== 0) {
      throw new LibcError(`lchown ${new TextDecoder().decode(bytes(path))}`, errno());
    }
  });
}

/**
 * A chain of nested folders `names[0]/names[1]/...` under `base`, made with
 * mkdirat/openat relative to the previous folder (so its length is not
 * limited by PATH_MAX). Returns the chain's full path.
 */
export function mkdirChain(base: Uint8Array, names: Uint8Array[]): Uint8Array {
  const c = libc();
  let fd = openDir(base);
  try {
    for (const n of names) {
      const name = cstr(n);
      if (c.mkdirat(fd, name, 0o755) !== 0) throw new LibcError("mkdirat", errno());
      const next = c.openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
      if (next < 0) throw new LibcError("openat", errno());
      c.close(fd);
      fd = next;
    }
  } finally {
    c.close(fd);
  }
  const parts: Uint8Array[] = [base];
  for (const n of names) parts.push(bytes("/"), n);
  return concat(...parts);
}
