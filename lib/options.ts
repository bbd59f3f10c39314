/**
 * Options shared by every pwalk job (report, walk, repair), their defaults
 * and their translation into native options.
 *
 * @module
 */
import { Opt } from "./ffi.ts";
import type { NativeOption, Progress } from "./job.ts";
import { resolveExcludes } from "./exclude.ts";

/** Options every job understands. */
export interface CommonOptions {
  /**
   * Worker threads, all reading folders. Default: 16 workers of which one
   * per CPU read at first; every 10 ms the library looks at the CPU time it
   * used and lets more read (up to 16) while folders wait and the readers
   * leave the CPUs idle, blocked in the file system (NFS, Lustre, GPFS, cold
   * disks), and fewer again once the CPUs are saturated. On a local disk
   * extra readers only cost (16 fixed: 5-12% slower than 2 on 2 cores);
   * on a latency-bound file system 16 are 2.5x faster than 4.
   */
  threads?: number;
  /** Skip folders named exactly `.snapshot` (pwalk `--NoSnap`). Default false. */
  noSnap?: boolean;
  /**
   * pwalk's `--depth N`: folders whose depth column would be N or more are
   * neither listed nor entered; 0 (the default) means unlimited.
   */
  maxDepth?: number;
  /**
   * Folders to skip, with everything below them (pwalk `--exclude`): any
   * spelling of the folder (absolute under a relative root, `./x`, `x/`;
   * lib/exclude.ts resolveExcludes).
   */
  exclude?: string[];
  /** Stay on the root's file system (pwalk `-x`). Default false. */
  oneFileSystem?: boolean;
  /** Cancels the job: it stops promptly and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called about every `progressIntervalMs` while the job runs, and once at the end. */
  onProgress?: (progress: Progress) => void;
  /** Milliseconds between progress calls. Default 200. */
  progressIntervalMs?: number;
  /** How many error details to keep in the summary. Default 100. */
  maxErrors?: number;
  /**
   * An open file descriptor (e.g. from the native `pw_fd_open`) that gets
   * every error of the job as one CSV row, however many there are:
   * `"path",operation,errno,"message"`, with `"` doubled inside quotes and
   * the path's bytes as they are; errno is its name (`EACCES`, else
   * `E<number>`). No header: write `path,operation,errno,message` first.
   * The CLI's `--errors FILE`. Default: none.
   *
   * @example
   * ```ts ignore
   * // fd: a descriptor open for writing, the header already in it
   * await report("/data", { output: "scan.csv", errorsCsvFd: fd });
   * ```
   */
  errorsCsvFd?: number;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`pwalk: ${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
  return v;
}

/** Normalise an exclude path the way the walker builds paths. */
export function normaliseFolder(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, "") || "/" : p;
}

/** The native options for the common fields, validated. */
export function commonNative(root: string, o: CommonOptions): NativeOption[] {
  if (typeof root !== "string" || root.length === 0) {
    throw new TypeError("pwalk: the root folder must be a non-empty string");
  }
  const out: NativeOption[] = [[Opt.ROOT, root]];
  if (o.threads !== undefined) out.push([Opt.THREADS, checkInt("threads", o.threads, 1, 1024)]);
  if (o.noSnap) out.push([Opt.NOSNAP, 1]);
  if (o.maxDepth !== undefined) {
    out.push([Opt.MAXDEPTH, checkInt("maxDepth", o.maxDepth, 0, 2 ** 31 - 1)]);
  }
  if (o.oneFileSystem) out.push([Opt.ONE_FS, 1]);
  for (const e of resolveExcludes(root, o.exclude)) out.push([Opt.EXCLUDE, e]);
  out.push([Opt.MAX_ERRORS, checkInt("maxErrors", o.maxErrors ?? 100, 0, 1_000_000)]);
  if (o.errorsCsvFd !== undefined) {
    out.push([Opt.ERRORS_CSV_FD, checkInt("errorsCsvFd", o.errorsCsvFd, 0, 2 ** 31 - 1)]);
  }
  return out;
}
