/**
 * Running one native job from JavaScript: options in, a nonblocking wait,
 * progress by polling (never one call per entry), cancellation by
 * AbortSignal, and the errors and counters out.  Shared by report, walk and
 * repair.
 *
 * @module
 */
import { Counter, ensureNative, native, Status } from "./ffi.ts";

/** One error met during a walk: the walk went on. */
export interface WalkError {
  /** The path concerned, decoded as UTF-8 (invalid bytes become U+FFFD). */
  path: string;
  /** The path's exact bytes. */
  pathBytes: Uint8Array;
  /** What failed: "open", "read", "stat", "change", "race", "ancestor", ... */
  op: string;
  /** The system's error text, e.g. "Permission denied". */
  message: string;
}

/** Live counters of a running job, given to `onProgress`. */
export interface Progress {
  /** Entries produced so far (folders included). */
  entries: number;
  /** Folders among them. */
  folders: number;
  /** Sum of st_size of the entries produced (apparent size). */
  bytes: number;
  /** Sum of st_blocks x 512 of the entries produced (allocated size, as `du`). */
  allocatedBytes: number;
  /** A folder being read now (its last 1,024 bytes at most; "" when none), for progress lines. */
  current: string;
  /** Errors counted so far. */
  errors: number;
  /** Milliseconds since the job started. */
  elapsedMs: number;
  /** Entries per second since the start. */
  rate: number;
  /** Report only: bytes written to the output so far. */
  outputBytes: number;
  /** Repair only: changes made (or planned, in a dry run) so far. */
  changes: number;
}

/** A native option: a key of `Opt` and its value. */
export type NativeOption = [key: number, value: number | string | Uint8Array];

/** What a finished job left. */
export interface JobOutcome {
  counters: number[];
  errors: WalkError[];
  elapsedMs: number;
}

const utf8 = new TextEncoder();
const lossy = new TextDecoder();

/** Encode a path: strings as UTF-8, bytes as they are. */
export function pathBytes(p: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return p instanceof Uint8Array ? new Uint8Array(p) : utf8.encode(p);
}

/** Build native options; throws on a value the library refuses. */
export function makeOptions(options: NativeOption[]): Deno.PointerValue {
  const sym = native();
  const o = sym.pw_opts_new();
  if (!o) throw new Error("pwalk: out of memory");
  for (const [key, value] of options) {
    let rc: number;
    if (typeof value === "number") {
      rc = sym.pw_opts_set_int(o, key, BigInt(Math.trunc(value)));
    } else {
      const b = pathBytes(value);
      rc = sym.pw_opts_set_str(o, key, b, BigInt(b.length));
    }
    if (rc !== 0) {
      sym.pw_opts_free(o);
      throw new RangeError(`pwalk: invalid option value ${JSON.stringify(String(value))}`);
    }
  }
  return o;
}

/** Map a fatal errno to the Deno error class users test for. */
export function fatalError(errno: number, message: string): Error {
  const text = `pwalk: ${message}`;
  switch (errno) {
    case 2:
      return new Deno.errors.NotFound(text);
    case 13:
    case 1:
      return new Deno.errors.PermissionDenied(text);
    case 20:
      return new Deno.errors.NotADirectory(text);
    case 21:
      return new Deno.errors.IsADirectory(text);
    case 22:
      return new TypeError(text);
    case 32:
      return new Deno.errors.BrokenPipe(text);
    default:
      return new Error(text);
  }
}

/** Copy the live counters of a job. */
export function readCounters(job: Deno.PointerObject): number[] {
  const buf = new BigUint64Array(Counter.COUNT);
  native().pw_job_progress(job, buf);
  return Array.from(buf, Number);
}

/** The error details a job kept. */
export function readErrors(job: Deno.PointerObject): WalkError[] {
  const sym = native();
  const out: WalkError[] = [];
  let buf = new Uint8Array(4096);
  const n = sym.pw_job_error_count(job);
  for (let i = 0; i < n; i++) {
    let len = Number(sym.pw_job_error(job, i, buf, BigInt(buf.length)));
    if (len < 0) break;
    if (len > buf.length) {
      buf = new Uint8Array(len);
      len = Number(sym.pw_job_error(job, i, buf, BigInt(buf.length)));
    }
    const rec = buf.subarray(0, len);
    const a = rec.indexOf(0);
    const b = rec.indexOf(0, a + 1);
    const raw = rec.slice(b + 1);
    out.push({
      op: lossy.decode(rec.subarray(0, a)),
      message: lossy.decode(rec.subarray(a + 1, b)),
      path: lossy.decode(raw),
      pathBytes: raw,
    });
  }
  return out;
}

/** The fatal message and errno of a failed job. */
export function readFatal(job: Deno.PointerObject): { errno: number; message: string } {
  const buf = new Uint8Array(1024);
  const err = new Int32Array(1);
  const len = Number(native().pw_job_message(job, buf, BigInt(buf.length), err));
  return { errno: err[0], message: lossy.decode(buf.subarray(0, Math.min(len, buf.length))) };
}

/** The folder a job is reading now ("" when none). */
export function readCurrent(job: Deno.PointerObject): string {
  const buf = new Uint8Array(1024);
  const len = Number(native().pw_job_current(job, buf, BigInt(buf.length)));
  return lossy.decode(buf.subarray(0, Math.min(len, buf.length)));
}

/** Turn counters into a Progress record. */
export function toProgress(c: number[], elapsedMs: number, current = ""): Progress {
  return {
    entries: c[Counter.ENTRIES],
    folders: c[Counter.DIRS],
    bytes: c[Counter.BYTES],
    allocatedBytes: c[Counter.ALLOC_BYTES],
    current,
    errors: c[Counter.ERRORS],
    elapsedMs,
    rate: elapsedMs > 0 ? Math.round(c[Counter.ENTRIES] * 1000 / elapsedMs) : 0,
    outputBytes: c[Counter.OUT_BYTES],
    changes: c[Counter.CHANGES],
  };
}

/** How a job is watched while it runs. */
export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
}

/**
 * Start a job with `start(options)`, wait for it without blocking the event
 * loop, report progress, honour the signal, and free it.  Throws the
 * signal's reason when cancelled and a Deno error class on a fatal error.
 */
export async function runJob(
  start: (opts: Deno.PointerValue) => Deno.PointerValue,
  options: NativeOption[],
  run: RunOptions,
): Promise<JobOutcome> {
  run.signal?.throwIfAborted();
  await ensureNative();
  const sym = native();
  const opts = makeOptions(options);
  const t0 = performance.now();
  const job = start(opts);
  sym.pw_opts_free(opts);
  if (!job) throw new Error("pwalk: out of memory");
  const cancel = () => sym.pw_job_cancel(job);
  run.signal?.addEventListener("abort", cancel);
  const timer = run.onProgress
    ? setInterval(() => {
      run.onProgress!(toProgress(readCounters(job), performance.now() - t0, readCurrent(job)));
    }, run.progressIntervalMs ?? 200)
    : undefined;
  try {
    const status = await sym.pw_job_wait(job);
    const elapsedMs = performance.now() - t0;
    const counters = readCounters(job);
    if (status === Status.FAILED) {
      const f = readFatal(job);
      throw fatalError(f.errno, f.message);
    }
    if (status === Status.CANCELLED) {
      throw run.signal?.reason ?? new DOMException("pwalk: cancelled", "AbortError");
    }
    run.onProgress?.(toProgress(counters, elapsedMs));
    return { counters, errors: readErrors(job), elapsedMs };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    run.signal?.removeEventListener("abort", cancel);
    await sym.pw_job_free(job);
  }
}
