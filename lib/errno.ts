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
};
const DARWIN_TEXT: Record<string, string> = { ESTALE: "Stale NFS file handle" };

/** errno numbers the two systems share, then each one's own. */
const COMMON: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  28: "ENOSPC",
  30: "EROFS",
  32: "EPIPE",
};
const BY_OS: Record<string, Record<number, string>> = {
  linux: { ...COMMON, 11: "EAGAIN", 36: "ENAMETOOLONG", 40: "ELOOP", 116: "ESTALE" },
  darwin: { ...COMMON, 35: "EAGAIN", 62: "ELOOP", 63: "ENAMETOOLONG", 70: "ESTALE" },
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
    default:
      return new Error(message);
  }
}
