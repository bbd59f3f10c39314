/**
 * Options shared by every pwalk job (report, walk, repair), their defaults
 * and their translation into native options.
 *
 * @module
 */
import { Opt } from "./ffi.ts";
import type { NativeOption, Progress } from "./job.ts";

/** Options every job understands. */
export interface CommonOptions {
  /**
   * Worker threads. Default 16: on a local disk (2 cores) 2 threads already
   * saturate the machine and 16 cost 2%; on a latency-bound file system
   * (NFS, Lustre, GPFS; measured with bench/slowfs at 500 us per request)
   * 16 threads are 22-25% faster than 8 and within 4% of 32 or 64.
   */
  threads?: number;
  /** Skip folders named exactly `.snapshot` (pwalk `--NoSnap`). Default false. */
  noSnap?: boolean;
  /**
   * pwalk's `--depth N`: folders whose depth column would be N or more are
   * neither listed nor entered; 0 (the default) means unlimited.
   */
  maxDepth?: number;
  /** Full folder paths to skip, with everything below them (pwalk `--exclude`). */
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
  for (const e of o.exclude ?? []) out.push([Opt.EXCLUDE, normaliseFolder(e)]);
  out.push([Opt.MAX_ERRORS, checkInt("maxErrors", o.maxErrors ?? 100, 0, 1_000_000)]);
  return out;
}
