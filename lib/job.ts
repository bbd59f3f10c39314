/**
 * One native job seen from JavaScript ({@link NativeJob}): options in, a
 * nonblocking wait, progress by polling (never one call per entry), records
 * batch by batch, cancellation by AbortSignal, and the errors and counters
 * out.  report, walk and repair all run through it.
 *
 * @module
 */
import { Counter, ensureNative, native, Opt, Status } from "./ffi.ts";
import { errnoCode, errnoError, errnoName } from "./errno.ts";
import { decodeBatch, type Decoded } from "./decode.ts";
import { typed } from "./options.ts";
import { MORE_FILES } from "./outfile.ts";
import { DownloadInterrupted } from "./fetchlib.ts";
import { oneLine } from "./utf8.ts";

/** One error met during a walk: the walk went on. */
export interface WalkError {
  /** The path concerned, decoded as UTF-8 (invalid bytes become U+FFFD). */
  path: string;
  /** The path's exact bytes. */
  pathBytes: Uint8Array;
  /**
   * What failed: "open", "read", "stat", "write", "loop", "race" (a folder
   * replaced between its listing and its reading; ENOTDIR: by a link or a
   * file); repair and chown also "chown" and "chmod" (a change the system
   * refused), "change" (the entry could not be opened for its change),
   * "race" of other entries (with code "": a mode someone else changed
   * between the chmod and its read-back), "ancestor", and "loop" with code "" (ROOT
   * reached again through a bind mount inside the tree, or a folder above
   * ROOT, or the journal's or errors file's folder, shown there by a mount:
   * neither changed nor entered).
   */
  op: string;
  /**
   * The system's error text, e.g. "Permission denied", or a notice's
   * (an "acl" or "acl_named" notice with a code says the entry's ACL could
   * not be read, and why).
   */
  message: string;
  /**
   * The errno's name, e.g. "EACCES" (as Deno's errors' `code`, and the
   * `errno` column of `--errors`); "" for a notice of repair or chown
   * (ancestor, acl, links, ...), which is no system error, except for an
   * "acl", "acl_named" or "capability" notice of an entry whose attributes
   * could not be read (with "acl_named", and "capability" in repair, the
   * entry is then left alone).
   */
  code: string;
}

/** Live counters of a running job, given to `onProgress`. */
export interface Progress {
  /** Entries produced so far (folders included). */
  entries: number;
  /** Folders among them. */
  folders: number;
  /**
   * Sum of st_size of the entries produced (apparent size), modulo 2^64
   * (only sparse files of 16 EiB in all wrap it).
   */
  bytes: number;
  /**
   * Sum of st_blocks x 512 of the entries produced (allocated size; a file
   * with several names counts once per name, where `du` counts it once),
   * modulo 2^64.
   */
  allocatedBytes: number;
  /**
   * A folder being read now, for progress lines ("" when none): a path
   * longer than 1,024 bytes is "…" and its last bytes (at most 1,024, from
   * a whole character on).
   */
  current: string;
  /** Errors counted so far. */
  errors: number;
  /** Milliseconds since the job started. */
  elapsedMs: number;
  /** Entries per second since the start. */
  rate: number;
  /** Report only: bytes written to the output so far. */
  outputBytes: number;
  /**
   * Report only: workers in a write to the output now (a reader that
   * takes no more holds them there).
   */
  outputWriting: number;
  /** Repair only: changes made (or planned, in a dry run) so far. */
  changes: number;
}

/** The counters of a job (enum pw_counter in native/pwalk.h), by name. */
export interface Counters {
  /** Entries produced (folders included). */
  entries: number;
  /** Folders among them. */
  folders: number;
  /** Sum of st_size, modulo 2^64. */
  bytes: number;
  /** Sum of st_blocks x 512, modulo 2^64. */
  allocatedBytes: number;
  /** Errors counted. */
  errors: number;
  /** Names holding control bytes (pwalk's "Bad File"). */
  badNames: number;
  /** Repair/chown: changes made (or planned). */
  changes: number;
  /** Repair: mode changes. */
  modeChanges: number;
  /** Repair: group changes. */
  groupChanges: number;
  /** Repair: setgid bits added. */
  setgidAdded: number;
  /** Repair/chown: entries with at least one change. */
  entriesChanged: number;
  /** Repair: entries with a private group and no shared group above. */
  noAncestor: number;
  /** Report: bytes written to the output. */
  outputBytes: number;
  /** Report: workers in a write to the output now. */
  outputWriting: number;
  /** Repair/chown: changed (or planned) files (FIFOs, sockets... too) with other names (hard links). */
  hardLinked: number;
  /**
   * Report, walk and repair: parts of large folders whose names were handed to
   * idle workers, so that several stat them at once (0 when no worker
   * idled while a large folder was being read).
   */
  sharedParts: number;
}

/** The general decoder: every record as a {@link Decoded}. */
function decodeAll(out: BigUint64Array): Decoded[] {
  const batch: Decoded[] = [];
  decodeBatch(out, batch);
  return batch;
}

/** A native option: a key of `Opt` and its value. */
export type NativeOption = [key: number, value: number | string | Uint8Array];

/** What a finished job left. */
export interface JobOutcome {
  /** The final counters. */
  counters: Counters;
  /** The error details kept (up to the job's maxErrors). */
  errors: WalkError[];
  /** Wall time from start to end. */
  elapsedMs: number;
}

/** How a job is watched while it runs. */
export interface RunOptions {
  /** Cancels the job; it then ends with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Called about every `progressIntervalMs` while the job runs, and once at
   * the end, done or cancelled (not when the job fails). If it throws, the job is cancelled and its
   * promise rejects with what it threw (a report's partial output removed).
   * The call at the end comes once the job has ended and a report's output
   * is in place: a throw from it rejects too, and that output stays (as
   * does one from a periodic call that comes as the job ends, too late to
   * cancel it).
   */
  onProgress?: (p: Progress) => void;
  /**
   * Milliseconds between progress calls. Default 200. Infinity: only the
   * call at the end (no timer: Deno's first timer costs ~4 MiB of memory).
   */
  progressIntervalMs?: number;
}

const utf8 = new TextEncoder();
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/** Encode a path: strings as UTF-8, bytes as they are. */
export function pathBytes(p: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return p instanceof Uint8Array ? new Uint8Array(p) : utf8.encode(p);
}

/** Build native options; throws on a value the library refuses. */
function makeOptions(options: NativeOption[]): Deno.PointerValue {
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
      if (rc === -12) throw new Error("pwalk: out of memory"); // -ENOMEM
      throw new RangeError(`pwalk: invalid option value ${JSON.stringify(String(value))}`);
    }
  }
  return o;
}

function toCounters(c: BigUint64Array): Counters {
  const n = (i: number) => Number(c[i]);
  return {
    entries: n(Counter.ENTRIES),
    folders: n(Counter.DIRS),
    bytes: n(Counter.BYTES),
    allocatedBytes: n(Counter.ALLOC_BYTES),
    errors: n(Counter.ERRORS),
    badNames: n(Counter.BADNAMES),
    changes: n(Counter.CHANGES),
    modeChanges: n(Counter.MODE),
    groupChanges: n(Counter.GROUP),
    setgidAdded: n(Counter.SETGID),
    entriesChanged: n(Counter.CHANGED),
    noAncestor: n(Counter.NOANCESTOR),
    outputBytes: n(Counter.OUT_BYTES),
    outputWriting: n(Counter.OUT_WRITING),
    hardLinked: n(Counter.HARDLINKS),
    sharedParts: n(Counter.SHARED),
  };
}

/**
 * A running native job: report, walk or repair.  Start it with
 * {@link NativeJob.start}; take its records with {@link NativeJob.batches}
 * (walks, repairs with change records); end it with {@link NativeJob.finish};
 * `await using` frees it (cancelling it first if it still runs).
 *
 * @example
 * ```ts ignore
 * await using job = await NativeJob.start(opts, (o) => native().pw_report_start(o), { signal });
 * const { counters, errors } = await job.finish();
 * ```
 */
/**
 * What a job left behind needs freed: its pointer, and the FFI call in
 * flight with the buffer it writes to (kept alive here until it returns).
 */
interface Leftover {
  job: Deno.PointerObject;
  out: BigUint64Array;
  pending?: Promise<number>;
  /**
   * The job's wait (pw_job_wait) in flight, when finish() left it behind
   * after an abort: the job is freed only once it returned.
   */
  waiting?: Promise<number>;
  /** Takes the job's listener off the caller's signal. */
  unlisten?: () => void;
}

/**
 * A job whose owner was dropped without being ended (a walk's iterator
 * taken a step and forgotten, no `break`, no `return()`): when its
 * NativeJob is collected, cancel it and free it (its threads, descriptors
 * and batches), after the call in flight returns.
 */
const reclaim = new FinalizationRegistry<Leftover>((l) => {
  const sym = native();
  l.unlisten?.();
  sym.pw_job_cancel(l.job);
  Promise.allSettled([l.pending, l.waiting]).then(() => sym.pw_job_free(l.job))
    .finally(() => l.out.fill(0n)).catch(() => {});
});

/** The watching options checked before anything starts: one clear error, not a late one. */
export function checkRun(run: RunOptions): void {
  if (run.onProgress !== undefined && typeof run.onProgress !== "function") {
    throw new TypeError(`pwalk: onProgress must be a function, got a ${typeof run.onProgress}`);
  }
  const ms: unknown = run.progressIntervalMs;
  const want = "progressIntervalMs must be a number of milliseconds above 0 (or Infinity)";
  // a value of another type is a TypeError, as for every numeric option (checkInt)
  if (ms !== undefined && typeof ms !== "number") {
    throw new TypeError(`pwalk: ${want}, got ${typed(ms)}`);
  }
  if (ms !== undefined && !(ms > 0)) throw new RangeError(`pwalk: ${want}, got ${ms}`);
  if (run.signal !== undefined && !(run.signal instanceof AbortSignal)) {
    throw new TypeError("pwalk: signal must be an AbortSignal");
  }
}

/**
 * A listener that cancels `job` on `signal`'s abort, added to it, holding
 * the job only weakly; `leftover.unlisten` takes it off.  Made outside the
 * job's constructor: a closure made there shares the context of the
 * constructor's other closures, which hold the job itself.
 */
function weakCanceller(job: NativeJob, signal: AbortSignal | undefined, leftover: Leftover) {
  const ref = new WeakRef(job);
  const cancel = () => ref.deref()?.cancel();
  if (signal) {
    signal.addEventListener("abort", cancel);
    leftover.unlisten = () => signal.removeEventListener("abort", cancel);
  }
  return cancel;
}

export class NativeJob implements AsyncDisposable {
  readonly #job: Deno.PointerObject;
  readonly #run: RunOptions;
  /**
   * When the job was started: taken before the start call, in which the
   * library starts its threads one after another while the first already
   * walk (1024 of them take a while).
   */
  readonly #t0: number;
  /**
   * The signal's listener. It reaches the job through a WeakRef: a signal
   * that lives on (one controller for many walks) must not keep a dropped
   * walk's job from being collected and reclaimed.
   */
  readonly #cancel: () => void;
  #timer?: ReturnType<typeof setInterval>;
  /** What onProgress threw, if it did: the job was cancelled for it. */
  #thrown?: { error: unknown };
  #pending?: Promise<number>;
  readonly #out = new BigUint64Array(7);
  #freed = false;
  /**
   * finish() gave up waiting for the workers after an abort (one is in a
   * hung file system): dispose hands the job to the background at once.
   */
  #left = false;
  /**
   * The job writes to a descriptor of the caller's (`errorsCsvFd`): dispose
   * waits for every worker, however long one hangs in a file system. Left
   * to return in the background, a worker would write its error row to
   * whatever file the caller opened under that number after closing hers.
   */
  readonly #callerFd: boolean;
  readonly #leftover: Leftover;

  private constructor(
    job: Deno.PointerObject,
    run: RunOptions,
    t0: number,
    callerFd: boolean,
  ) {
    this.#job = job;
    this.#t0 = t0;
    this.#run = run;
    this.#callerFd = callerFd;
    this.#leftover = { job, out: this.#out };
    this.#cancel = weakCanceller(this, run.signal, this.#leftover);
    reclaim.register(this, this.#leftover, this.#leftover);
    if (run.onProgress && run.progressIntervalMs !== Infinity) {
      // Thrown from a timer (or rejected, by an async onProgress) it would
      // end the process, past the caller's try and with a partial output
      // left: it ends the job instead, and finish() throws it.
      const stop = (e: unknown) => {
        this.#thrown ??= { error: e };
        this.#stopWatching();
        this.cancel();
      };
      this.#timer = setInterval(() => {
        try {
          const r: unknown = run.onProgress!(this.progress());
          if (r instanceof Promise) r.catch(stop);
        } catch (e) {
          stop(e);
        }
      }, run.progressIntervalMs ?? 200);
    }
  }

  /**
   * Build the native options, start the job with `start` (which returns the
   * pw_job pointer), and watch it.
   */
  static async start(
    options: NativeOption[],
    start: (opts: Deno.PointerValue) => Deno.PointerValue,
    run: RunOptions = {},
  ): Promise<NativeJob> {
    checkRun(run);
    run.signal?.throwIfAborted();
    try {
      await ensureNative(run.signal);
    } catch (e) {
      // the download (from JSR) stopped by the signal: its reason, as a
      // job's abort gives it (a caller tests `e === signal.reason`, or its name)
      if (e instanceof DownloadInterrupted && run.signal?.aborted) throw run.signal.reason;
      throw e;
    }
    // aborted while the library loaded (a download, from JSR): nothing started
    run.signal?.throwIfAborted();
    const sym = native();
    const opts = makeOptions(options);
    let job: Deno.PointerValue;
    const t0 = performance.now(); // the walk begins inside start: its time counts
    try {
      job = start(opts);
    } finally {
      sym.pw_opts_free(opts);
    }
    if (!job) throw new Error("pwalk: out of memory");
    return new NativeJob(job, run, t0, options.some(([key]) => key === Opt.ERRORS_CSV_FD));
  }

  /** Milliseconds since the start. */
  get elapsedMs(): number {
    return performance.now() - this.#t0;
  }

  /** The live counters (final once the job ended). */
  counters(): Counters {
    const buf = new BigUint64Array(Counter.COUNT);
    native().pw_job_progress(this.#job, buf);
    return toCounters(buf);
  }

  /** The folder being read now ("" when none; "…" and its last bytes when longer than 1,024). */
  current(): string {
    const buf = new Uint8Array(1024);
    const len = Number(native().pw_job_current(this.#job, buf, BigInt(buf.length)));
    if (len <= buf.length) return lossy.decode(buf.subarray(0, len));
    // cut: from the first whole character (no U+FFFD for a cut one), led by "…"
    let i = 0;
    while (i < 4 && (buf[i] & 0xc0) === 0x80) i++;
    return "…" + lossy.decode(buf.subarray(i));
  }

  /** A progress record of now. */
  progress(current = this.current()): Progress {
    const c = this.counters();
    const elapsedMs = this.elapsedMs;
    return {
      entries: c.entries,
      folders: c.folders,
      bytes: c.bytes,
      allocatedBytes: c.allocatedBytes,
      current,
      errors: c.errors,
      elapsedMs,
      rate: elapsedMs > 0 ? Math.round(c.entries * 1000 / elapsedMs) : 0,
      outputBytes: c.outputBytes,
      outputWriting: c.outputWriting,
      changes: c.changes,
    };
  }

  /** Ask the job to stop (safe at any time, repeatable). */
  cancel(): void {
    if (!this.#freed) native().pw_job_cancel(this.#job);
  }

  /**
   * The job's next batch of records, decoded (every record a {@link Decoded},
   * or by `decode`), or undefined at the end.
   * While one batch is being used the workers fill the next (the call for
   * it is already made, unless `prefetch` is false: a call in flight keeps
   * the process alive). A method, not an async generator: a generator
   * frame kept each batch alive long enough for V8 to move its entries to
   * the old generation (measured: 62 MiB more heap on a 1M-entry walk).
   */
  async nextBatch(): Promise<Decoded[] | undefined>;
  async nextBatch<T>(
    decode: (out: BigUint64Array) => T,
    prefetch?: boolean,
  ): Promise<T | undefined>;
  async nextBatch<T>(
    decode: (out: BigUint64Array) => T | Decoded[] = decodeAll,
    prefetch = true,
  ): Promise<T | Decoded[] | undefined> {
    const sym = native();
    this.#pending ??= this.#leftover.pending = sym.pw_job_next(this.#job, this.#out);
    const more = await this.#pending;
    this.#pending = this.#leftover.pending = undefined;
    if (!more) return undefined;
    const batch = decode(this.#out); // copies everything: the batch can be refilled
    if (prefetch) this.#pending = this.#leftover.pending = sym.pw_job_next(this.#job, this.#out);
    return batch;
  }

  /**
   * Held walks: enter the subfolders of the folder whose row carried
   * `token`, those i with `mask[i]` set (in the order they were listed).
   */
  descend(token: number, mask: Uint8Array<ArrayBuffer>): void {
    const rc = native().pw_walk_descend(this.#job, token, mask, mask.length);
    if (rc !== 0) {
      throw new Error(`pwalk: internal error: no held folder ${token} of ${mask.length}`);
    }
  }

  /** The error details the job kept. */
  errors(): WalkError[] {
    const sym = native();
    const out: WalkError[] = [];
    let buf = new Uint8Array(4096);
    const n = sym.pw_job_error_count(this.#job);
    for (let i = 0; i < n; i++) {
      let len = Number(sym.pw_job_error(this.#job, i, buf, BigInt(buf.length)));
      if (len < 0) break;
      if (len > buf.length) {
        buf = new Uint8Array(len);
        len = Number(sym.pw_job_error(this.#job, i, buf, BigInt(buf.length)));
      }
      const rec = buf.subarray(0, len);
      const a = rec.indexOf(0);
      const b = rec.indexOf(0, a + 1);
      const c = rec.indexOf(0, b + 1);
      const raw = rec.slice(c + 1);
      out.push({
        op: lossy.decode(rec.subarray(0, a)),
        message: lossy.decode(rec.subarray(a + 1, b)),
        code: errnoCode(Number(lossy.decode(rec.subarray(b + 1, c)))),
        path: lossy.decode(raw),
        pathBytes: raw,
      });
    }
    return out;
  }

  /**
   * Wait for the end: the counters, errors and time of a finished job.
   * Throws the signal's reason when cancelled, and a Deno error class
   * (NotFound, PermissionDenied, ...) on a fatal error.  With `leave`, once
   * the signal aborted, the workers are waited for {@link FREE_WAIT_MS} at
   * most (only for a job whose workers write to nothing the caller may
   * close or reuse once this settled: a repair's journal, a caller's
   * errors file do not go): one
   * blocked in a file system call that does not return (a hung NFS or FUSE
   * server) cannot be interrupted, so the reason is thrown then, and
   * disposing of the job frees it in the background once its workers
   * return (what a report's job does at its end, e.g. removing its
   * temporary output, is then done only when they return).
   */
  async finish(leave = false): Promise<JobOutcome> {
    const sym = native();
    const waiting = sym.pw_job_wait(this.#job);
    const status = leave ? await this.#untilLeft(waiting) : await waiting;
    const elapsedMs = this.elapsedMs;
    if (status === Status.FAILED) {
      const buf = new Uint8Array(1024);
      const err = new Int32Array(1);
      const len = Number(sym.pw_job_message(this.#job, buf, BigInt(buf.length), err));
      let message = lossy.decode(buf.subarray(0, Math.min(len, buf.length)));
      // out of descriptors wherever it happened (an output, the errors
      // file, a folder): what to do, as the walker's own message says it
      const code = errnoName(err[0])[0];
      if ((code === "EMFILE" || code === "ENFILE") && !message.includes("ulimit")) {
        message += `: ${MORE_FILES}`;
      }
      // the root (and its real path) as the native side gives them: a
      // name with a newline or an escape sequence shown as one line
      throw errnoError(err[0], `pwalk: ${oneLine(message)}`);
    }
    this.#stopWatching();
    if (this.#thrown) throw this.#thrown.error;
    const last: unknown = this.#run.onProgress?.({ ...this.progress(""), elapsedMs });
    if (last instanceof Promise) await last; // an async onProgress: its rejection is the job's
    if (status === Status.CANCELLED) {
      throw this.#run.signal?.reason ?? new DOMException("pwalk: cancelled", "AbortError");
    }
    return { counters: this.counters(), errors: this.errors(), elapsedMs };
  }

  /**
   * `waiting`, or the signal's reason thrown {@link FREE_WAIT_MS} after it
   * aborted if `waiting` has not settled by then (the wait is then kept for
   * dispose, which frees the job only once it returned).
   */
  async #untilLeft(waiting: Promise<number>): Promise<number> {
    const signal = this.#run.signal;
    if (!signal) return await waiting;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let arm: (() => void) | undefined;
    const late = new Promise<"late">((resolve) => {
      arm = () => timer = setTimeout(resolve, FREE_WAIT_MS, "late");
      if (signal.aborted) arm();
      else signal.addEventListener("abort", arm, { once: true });
    });
    try {
      const first = await Promise.race([waiting, late]);
      if (first !== "late") return first;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", arm!);
    }
    this.#left = true;
    this.#leftover.waiting = waiting;
    this.#stopWatching();
    throw signal.reason;
  }

  #stopWatching(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#run.signal?.removeEventListener("abort", this.#cancel);
  }

  /**
   * Cancel if still running, wait for every thread, free everything. A
   * worker blocked in a file system call that does not return (a hung
   * NFS or FUSE server) cannot be interrupted: after {@link FREE_WAIT_MS}
   * this resolves anyway, and the job is freed in the background once its
   * workers come back (the call in flight keeps the process alive until
   * then). A job given the caller's `errorsCsvFd` waits for them (they
   * may still write to it).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#freed) return;
    reclaim.unregister(this.#leftover);
    this.#stopWatching();
    this.cancel(); // no-op when finished; wakes the workers otherwise
    // (returns at once once cancelled: the reader waits on no worker)
    if (this.#pending) await this.#pending;
    this.#freed = true;
    const out = this.#out; // what the job was handed stays alive until it is freed
    const job = this.#job;
    // a wait finish() left behind returns first: the job is never freed under it
    const freed = (this.#leftover.waiting ?? Promise.resolve(0))
      .then(() => native().pw_job_free(job)).then(() => void out.fill(0n));
    if (this.#callerFd) return await freed; // (its workers may still write to it)
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) =>
      timer = setTimeout(resolve, this.#left ? 0 : FREE_WAIT_MS, true)
    );
    if (await Promise.race([freed.then(() => false), late])) {
      // workers still in the file system: freed when they return
      freeing.add(freed);
      freed.finally(() => freeing.delete(freed));
    }
    clearTimeout(timer);
  }
}

/**
 * How long disposing of a job waits for its workers before it lets them
 * end in the background (ms): long enough for workers that finish the
 * entry at hand (they stop between entries) even on a loaded machine, so
 * that leaving a walk frees everything before the loop ends (a free left
 * pending would also be a leaking op to Deno's test sanitizer); a worker
 * in a hung file system call may never come back.
 */
export const FREE_WAIT_MS = 1000;

/** Jobs being freed in the background (their workers were in the file system). */
const freeing = new Set<Promise<void>>();

/**
 * Resolves once every job left to be freed in the background (see
 * NativeJob's dispose) is freed: for tests, after a hung file system
 * came back.
 */
export async function backgroundFrees(): Promise<void> {
  while (freeing.size) await Promise.all(freeing);
}

/**
 * Run a job to its end without records: start, wait, free. With `leave`,
 * an abort settles even while workers hang in the file system (see
 * {@link NativeJob.finish}).
 */
export async function runJob(
  options: NativeOption[],
  start: (opts: Deno.PointerValue) => Deno.PointerValue,
  run: RunOptions,
  leave = false,
): Promise<JobOutcome> {
  await using job = await NativeJob.start(options, start, run);
  return await job.finish(leave);
}
