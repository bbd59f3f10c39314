/**
 * errno numbers, names and texts: the one table lib/ uses to turn a native
 * error number into a name, the system's message, and a Deno error class.
 *
 * @module
 */

/** strerror's text, as glibc words it (macOS: the exceptions below). */
const TEXT: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EEXIST: "File exists",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  EPIPE: "Broken pipe",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  ESTALE: "Stale file handle",
  EAGAIN: "Resource temporarily unavailable",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  ENXIO: "No such device or address",
  E2BIG: "Argument list too long",
  EBADF: "Bad file descriptor",
  EFAULT: "Bad address",
  ESPIPE: "Illegal seek",
  EBUSY: "Device or resource busy",
  EXDEV: "Invalid cross-device link",
  ENODEV: "No such device",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ETXTBSY: "Text file busy",
  EFBIG: "File too large",
  EMLINK: "Too many links",
  ERANGE: "Numerical result out of range",
  ENOSYS: "Function not implemented",
  ENOTEMPTY: "Directory not empty",
  EOVERFLOW: "Value too large for defined data type",
  ENOTSUP: "Operation not supported",
  ETIMEDOUT: "Connection timed out",
  EDQUOT: "Disk quota exceeded",
  // what a network or FUSE file system whose server is gone gives
  ENOTCONN: "Transport endpoint is not connected",
  EHOSTDOWN: "Host is down",
  EHOSTUNREACH: "No route to host",
  ECONNABORTED: "Software caused connection abort",
  ECONNRESET: "Connection reset by peer",
  ECONNREFUSED: "Connection refused",
  EREMOTEIO: "Remote I/O error",
  ENODATA: "No data available",
};
const DARWIN_TEXT: Record<string, string> = {
  ESTALE: "Stale NFS file handle",
  EXDEV: "Cross-device link",
  ENODEV: "Operation not supported by device",
  ERANGE: "Result too large",
  EOVERFLOW: "Value too large to be stored in data type",
  ETIMEDOUT: "Operation timed out",
  ENXIO: "Device not configured",
  EBUSY: "Resource busy",
  EDQUOT: "Disc quota exceeded",
  ENOTCONN: "Socket is not connected",
  ENODATA: "No message available on STREAM",
};

/** errno numbers the two systems share, then each one's own. */
const COMMON: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  34: "ERANGE",
};
const BY_OS: Record<string, Record<number, string>> = {
  linux: {
    ...COMMON,
    11: "EAGAIN",
    36: "ENAMETOOLONG",
    38: "ENOSYS",
    39: "ENOTEMPTY",
    40: "ELOOP",
    61: "ENODATA",
    75: "EOVERFLOW",
    95: "ENOTSUP",
    103: "ECONNABORTED",
    104: "ECONNRESET",
    107: "ENOTCONN",
    110: "ETIMEDOUT",
    111: "ECONNREFUSED",
    112: "EHOSTDOWN",
    113: "EHOSTUNREACH",
    116: "ESTALE",
    121: "EREMOTEIO",
    122: "EDQUOT",
  },
  darwin: {
    ...COMMON,
    35: "EAGAIN",
    45: "ENOTSUP",
    53: "ECONNABORTED",
    54: "ECONNRESET",
    57: "ENOTCONN",
    60: "ETIMEDOUT",
    61: "ECONNREFUSED",
    62: "ELOOP",
    63: "ENAMETOOLONG",
    64: "EHOSTDOWN",
    65: "EHOSTUNREACH",
    66: "ENOTEMPTY",
    69: "EDQUOT",
    70: "ESTALE",
    78: "ENOSYS",
    84: "EOVERFLOW",
    96: "ENODATA",
  },
};

/** An errno number's name ("EACCES"; "E<number>" beyond the table), "" for 0 (no system error). */
export function errnoCode(n: number): string {
  return n === 0 ? "" : errnoName(n)[0];
}

/**
 * The name and system message of an errno number of this platform.
 *
 * @example
 * ```ts
 * import { errnoName } from "./errno.ts";
 * console.log(errnoName(13)); // ["EACCES", "Permission denied"]
 * ```
 */
export function errnoName(n: number): [name: string, text: string] {
  const name = BY_OS[Deno.build.os]?.[n];
  if (!name) return [`E${n}`, `error ${n}`];
  return [name, (Deno.build.os === "darwin" && DARWIN_TEXT[name]) || TEXT[name]];
}

/**
 * The system message of an errno name (`"ENOENT"`: "No such file or
 * directory"); undefined for names the table does not hold.
 *
 * @example
 * ```ts
 * import { errnoText } from "./errno.ts";
 * console.log(errnoText("EACCES")); // "Permission denied"
 * ```
 */
export function errnoText(name: string): string | undefined {
  return (Deno.build.os === "darwin" && DARWIN_TEXT[name]) || TEXT[name];
}

/**
 * The Deno error class users test for, for a fatal errno of the library,
 * with the errno name as its `code` (as Deno's own file system errors have).
 *
 * @example
 * ```ts
 * import { errnoError } from "./errno.ts";
 * console.log(errnoError(2, "pwalk: /x: No such file") instanceof Deno.errors.NotFound); // true
 * ```
 */
export function errnoError(n: number, message: string): Error & { code: string } {
  const code = errnoName(n)[0];
  return Object.assign(errnoClass(code, message), { code });
}

/**
 * As {@link errnoError}, from an errno name (a Deno error's `code`:
 * `"ELOOP"`) rather than its number.
 *
 * @example
 * ```ts
 * import { codeError } from "./errno.ts";
 * console.log(codeError("ELOOP", "pwalk: /x: loop") instanceof Deno.errors.FilesystemLoop); // true
 * ```
 */
export function codeError(code: string, message: string): Error & { code: string } {
  return Object.assign(errnoClass(code, message), { code });
}

function errnoClass(code: string, message: string): Error {
  switch (code) {
    case "ENOENT":
      return new Deno.errors.NotFound(message);
    case "EACCES":
    case "EPERM":
      return new Deno.errors.PermissionDenied(message);
    case "ENOTDIR":
      return new Deno.errors.NotADirectory(message);
    case "EISDIR":
      return new Deno.errors.IsADirectory(message);
    case "EINVAL":
      return new TypeError(message);
    case "EPIPE":
      return new Deno.errors.BrokenPipe(message);
    case "ELOOP":
      return new Deno.errors.FilesystemLoop(message);
    case "ENOTCONN":
      return new Deno.errors.NotConnected(message);
    case "ECONNABORTED":
      return new Deno.errors.ConnectionAborted(message);
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(message);
    case "ECONNREFUSED":
      return new Deno.errors.ConnectionRefused(message);
    default:
      return new Error(message);
  }
}
