/**
 * What every `pwalk` command shares, written once: the option parser, usage
 * errors, the ROOT checks, the walk options (threads, depth, -x, --NoSnap,
 * --exclude), signals, the progress line and the exit statuses.
 *
 * @module
 */
import { pathBytes, type Progress } from "../job.ts";
import { excludeListLines, excludeLookedUp, tidy, unmatchedExcludes } from "../exclude.ts";
import { ensureNative, native } from "../ffi.ts";
import { DownloadInterrupted } from "../fetchlib.ts";
import { duration, ProgressLine, StatusLine } from "./progress.ts";
import { count, groupDigits, memorySize } from "../digits.ts";
import { absolutePath } from "../shard/paths.ts";
import { outputsPlaced, removePending, runQuitHooks } from "../interrupt.ts";
import {
  checkedOutput,
  fifoReader,
  MORE_FILES,
  openDirect,
  openPartial,
  osErrorText,
  outputTarget,
  PARTIAL_BESIDE,
  type PartialFile,
  removeBeside,
  tempPrefix,
  writeAll,
  writeWhole,
} from "../outfile.ts";
export { fifoReader } from "../outfile.ts";
import { errnoName } from "../errno.ts";
import { oneLine } from "../utf8.ts";
import { MAX_THREADS } from "../options.ts";
import { lstatSync, raiseSignal, readProcFile, realPathSync, statSync } from "../procfs.ts";
import denoJson from "../../deno.json" with { type: "json" };

/** The version of this package. */
export const VERSION: string = denoJson.version;

/** Bad usage: one line on stderr and exit status 2. */
export class UsageError extends Error {}

/** -h or --help met as an option (not as another option's value): print the help. */
export class HelpRequested extends Error {}

/**
 * Whether `-h` or `--help` stands among `args` before `--`, as an option or
 * taken as an option's value (`--plan --help`, `--top -h`): a command line
 * that is bad usage with it prints the help instead of the usage error,
 * while one that is not (`-o -h ROOT`: a file named -h) runs as written.
 */
export function helpAmong(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "-h" || a === "--help");
}

/** Exit statuses: 128 + the signal's number for a run stopped by a signal. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, PIPE: 141 } as const;

/**
 * Whether the process started with `signal` (a number) ignored, as `nohup`
 * and `trap '' HUP` leave SIGHUP. Read from /proc/self/status (Linux, with
 * or without --allow-all); elsewhere, false.
 */
function ignoredAtStart(signal: number): boolean {
  try {
    // through the C library where Deno refuses /proc (not under --allow-all)
    const status = readProcFile("/proc/self/status");
    const m = status && new TextDecoder().decode(status).match(/^SigIgn:\s*([0-9a-f]+)$/m);
    return !!m && (BigInt(`0x${m[1]}`) >> BigInt(signal - 1) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** The signals that cancel a run (Ctrl-C, batch schedulers, a closed terminal), with their statuses. */
const SIGNALS = [["SIGHUP", 129], ["SIGINT", 130], ["SIGTERM", 143]] as const;

/**
 * What a second signal's quit cannot do, said with it: a thread in a
 * request that a FUSE (or network) file system's server has already taken
 * waits for its answer uninterruptibly, even through SIGKILL, and the
 * process ends only then (or once the mount is forced off).
 */
const STILL_HELD = "(a thread in a request the file system's server already took keeps the " +
  "process until it answers, or until umount -f)";

/**
 * The signals among {@link SIGNALS} ignored when the process started: they
 * must stay so. nohup and `trap '' HUP` leave SIGHUP ignored; a shell that
 * is not interactive starts its background jobs (`pwalk ... &` in a script)
 * with SIGINT ignored, and `trap '' INT` does so too.
 */
const IGNORED_AT_START: ReadonlySet<string> = new Set(
  ([["SIGHUP", 1], ["SIGINT", 2], ["SIGTERM", 15]] as const)
    .filter(([, n]) => ignoredAtStart(n)).map(([name]) => name),
);

/**
 * Call `stop` on signal `name` until the returned function is called. A
 * signal ignored when the process started (SIGHUP under nohup, SIGINT in a
 * script's background job) stays ignored: Deno installs its own handler for
 * a signal as soon as it is listened to, and that handler ends the process
 * on a signal no listener takes, so a listener that does nothing takes it,
 * for the rest of the process's life.
 *
 * Each signal has one listener of Deno's for the life of the process,
 * which calls the `stop`s listening when it runs: a signal that came while
 * one phase listened, its event run only once that phase's listener was
 * gone (the main thread busy), is not lost between two phases. Heard when
 * none listens, it ends the process as the signal would (its pending
 * temporaries removed), 128 + its number.
 *
 * @example
 * ```ts ignore
 * const stop = listen("SIGINT", () => abort.abort());
 * try { await work(); } finally { stop(); }
 * ```
 */
export function listen(name: Deno.Signal, stop: () => void): () => void {
  if (IGNORED_AT_START.has(name)) {
    // for the life of the process: once Deno's handler is in, a signal
    // that no listener takes would end it (between two jobs, at the end)
    if (!ignoredTaken.has(name)) Deno.addSignalListener(name, () => {});
    ignoredTaken.add(name);
    return () => {};
  }
  let stops = listening.get(name);
  if (!stops) {
    const mine = stops = new Set();
    listening.set(name, mine);
    Deno.addSignalListener(name, () => {
      if (mine.size) {
        for (const f of [...mine]) f();
        return;
      }
      // heard between two phases: as the signal's own end would be
      removePending();
      runQuitHooks();
      exitProcess(SIGNALS.find(([n]) => n === name)?.[1] ?? 1);
    });
  }
  const taken = () => {
    signalled = true; // eprint blocks the main thread no more
    stop();
  };
  stops.add(taken);
  return () => stops.delete(taken);
}

/** The `stop`s listening to each signal, called by its one listener of Deno's ({@link listen}). */
const listening = new Map<Deno.Signal, Set<() => void>>();

/** A command's work that a signal stopped: the signal and its status, 128 + its number. */
export class Stopped extends Error {
  /** `cause`: what the work threw once its signal was aborted. */
  constructor(readonly by: readonly [string, number], cause?: unknown) {
    super(`interrupted by ${by[0]}`, { cause });
    this.name = "Stopped";
  }
}

/**
 * SIGHUP, SIGINT and SIGTERM listened to for a wait that may hang (a hung
 * file system, a hung sbatch): the first calls `first`, which may return a
 * line to quit with at once (the process ends with that signal's status);
 * if the wait has not ended 2 s later, `notice(signal)` is said, and a
 * second signal after it says `quit(signal)` and ends the process with the
 * first's status. Before the notice a second signal changes nothing, as in
 * a walk. `end()` stops listening; `stopped` is the first signal, `quitting`
 * whether the process is ending (its line being written).
 */
function waitingOnSignals(
  first: (s: (typeof SIGNALS)[number]) => string | void,
  notice: (s: (typeof SIGNALS)[number]) => string,
  quit: (s: (typeof SIGNALS)[number]) => string,
): { stopped?: (typeof SIGNALS)[number]; quitting: boolean; end(): void } {
  const state: { stopped?: (typeof SIGNALS)[number]; quitting: boolean; end(): void } = {
    quitting: false,
    end: () => {},
  };
  let slow: ReturnType<typeof setTimeout> | undefined;
  let noticed = false;
  const quitWith = (line: string, status: number) => {
    state.quitting = true;
    eprint(line);
    void eprintFlushed().then(() => exitProcess(status));
  };
  const forget = SIGNALS.map((s) =>
    listen(s[0], () => {
      if (state.quitting) return;
      if (state.stopped) {
        if (noticed) quitWith(quit(s), state.stopped[1]);
        return;
      }
      const now = first(s);
      if (now !== undefined) return quitWith(now, s[1]);
      state.stopped = s;
      slow = setTimeout(() => {
        noticed = true;
        eprint(notice(s));
      }, 2000);
    })
  );
  state.end = () => {
    clearTimeout(slow);
    for (const f of forget) f();
  };
  return state;
}

/**
 * Run `work` with SIGHUP, SIGINT and SIGTERM listened for: the first aborts
 * its signal (a child it waits for, sbatch, is not killed: the work ends
 * as it decides), and the process is not ended by them meanwhile. Returns
 * the work's value and the signal that came, if one did; a work that throws
 * after a signal throws {@link Stopped}.
 *
 * A work that has not ended 2 s after the signal (a listing in a hung
 * file system, a hung sbatch) is said to be waited for, `tag` first
 * ("pwalk slurm: stopping (SIGINT): waiting for the planning or sbatch;
 * SIGINT again quits without waiting"), and a second signal after that
 * ends the process with the first's status, `quitNote` said with it (what
 * is not known then).
 *
 * @example
 * ```ts ignore
 * const [s, stopped] = await underSignals((signal) => slurmScan(root, { out, signal }));
 * ```
 */
export async function underSignals<T>(
  work: (signal: AbortSignal) => Promise<T>,
  { tag = "pwalk:", what = "the work", quitNote = "" } = {},
): Promise<[T, readonly [string, number] | undefined]> {
  const abort = new AbortController();
  const w = waitingOnSignals(
    (s) => abort.abort(new DOMException(`interrupted by ${s[0]}`, "AbortError")),
    (s) =>
      `${tag} stopping (${s[0]}): waiting for ${what} (a hung file system?); ` +
      `${s[0]} again quits without waiting for it`,
    (s) => `${tag} ${s[0]} again: quit without waiting for ${what} ${STILL_HELD}${quitNote}`,
  );
  try {
    const value = await work(abort.signal);
    if (w.quitting) await new Promise<never>(() => {}); // ending: it goes no further
    return [value, w.stopped];
  } catch (e) {
    if (w.quitting) await new Promise<never>(() => {});
    if (w.stopped) throw new Stopped(w.stopped, e);
    throw e;
  } finally {
    w.end();
  }
}

/** The signals ignored at start whose do-nothing listener is in (it is never removed). */
const ignoredTaken = new Set<string>();

/** The status a signal's listener ends the process with, once it has said why (runAnswer). */
let quitting: number | undefined;

/**
 * End the process as {@link exitProcess} does, with `code`, once the lines
 * {@link eprint} queued after a signal are written (at most 2 s): unless a
 * signal's listener already decided how it ends. Never returns.
 *
 * @example
 * ```ts ignore
 * await exitAfterSaying(await main(Deno.args));
 * ```
 */
export async function exitAfterSaying(code: number): Promise<never> {
  await signalsHeard();
  await eprintFlushed();
  exitProcess(quitting ?? code);
}

/**
 * Wait until every signal sent to this process before now has reached its
 * Deno listener. One that came while the main thread was busy (the last
 * lines formatted, a summary's text) waits for a turn of the event loop,
 * and a process that ended first would pass over it: status 0 after a
 * Ctrl-C, and a shell loop goes on to the next folder. A harmless signal
 * sent to itself (SIGURG, ignored by default) goes the same way: once its
 * listener has run, every earlier one was handed to theirs (the signals
 * that came are taken together); one turn more lets those run. Without
 * the C library (`--allow-ffi`) or off Linux, nothing is waited for.
 *
 * @example
 * ```ts ignore
 * await work();
 * await signalsHeard(); // a Ctrl-C during work's last synchronous part has reached its listener
 * ```
 */
export async function signalsHeard(): Promise<void> {
  let heard!: () => void;
  const ping = new Promise<void>((r) => heard = r);
  try {
    Deno.addSignalListener("SIGURG", heard);
  } catch {
    return; // (a system without it)
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (!raiseSignal(23)) return; // SIGURG (Linux)
    await Promise.race([ping, new Promise((r) => timer = setTimeout(r, 500))]);
    await new Promise((r) => setTimeout(r, 0));
  } finally {
    clearTimeout(timer);
    Deno.removeSignalListener("SIGURG", heard);
  }
}

/** Signal numbers of the statuses that mean "stopped by a signal". */
const SIGNAL_OF: Record<number, number> = { 129: 1, 130: 2, 141: 13, 143: 15 };

/**
 * End the process with the status `code` (what main returned). A signal's
 * status (129, 130, 141, 143) ends it killed by that signal, as a shell
 * expects of a program stopped by Ctrl-C: `for d in ...; do pwalk $d; done`
 * then stops at Ctrl-C instead of going on to the next folder. Never returns.
 *
 * @example
 * ```ts ignore
 * exitProcess(await main(Deno.args));
 * ```
 */
export function exitProcess(code: number): never {
  const sig = SIGNAL_OF[code];
  if (sig) {
    try {
      native().pw_die_by_signal(sig);
    } catch { /* no library here (answers only, not downloaded): the status */ }
  }
  Deno.exit(code);
}

/**
 * Remove this process's temporary files beside `files` (the library's
 * FILE.partial-PID-N, a shard's FILE.top-PID..., a link's target's too):
 * what a run quit without waiting for its workers would leave. Returns
 * how many were removed.
 */
async function removeOwnTemporaries(files: readonly string[]): Promise<number> {
  let n = 0;
  const own = new RegExp(`^\\.(?:partial|top|front)-${Deno.pid}(?:[-.]|$)`);
  const places = new Set<string>();
  for (const f of files) {
    places.add(f);
    try {
      if ((await Deno.lstat(f)).isSymlink) places.add(await Deno.realPath(f));
    } catch { /* a new file */ }
  }
  for (const f of places) {
    const slash = f.lastIndexOf("/");
    const dir = slash < 0 ? "." : f.slice(0, slash) || "/";
    const base = tempPrefix(f.slice(slash + 1));
    try {
      for await (const e of Deno.readDir(dir)) {
        if (!e.name.startsWith(base) || !own.test(e.name.slice(base.length))) continue;
        try {
          await Deno.remove(`${dir}/${e.name}`);
          n++;
        } catch { /* gone already */ }
      }
    } catch { /* the folder cannot be listed */ }
  }
  return n;
}

/**
 * Whether `e` is stdout closed early (`pwalk /data | head`, `pwalk summary
 * --json scan.csv | head -1`): the command then stops quietly with status
 * 141 ({@link EXIT}.PIPE), as SIGPIPE would stop it.
 */
export function stdoutClosed(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe;
}

/**
 * Write `text` whole on stdout. Unlike console.log, which drops a write
 * error, a closed stdout throws (see {@link stdoutClosed}); any other
 * write error (a full disk, `> /dev/full`) throws "pwalk: cannot write
 * stdout: ...".
 */
export function writeStdout(text: string): void {
  // the answer, at the end of the work: the status line is done
  statusLine?.stop();
  const b = enc.encode(text);
  try {
    for (let i = 0; i < b.length;) i += Deno.stdout.writeSync(b.subarray(i));
  } catch (e) {
    throw stdoutError(e);
  }
}

/**
 * What a failed write of stdout throws: a closed reader's error as it is
 * (the CLI's quiet status 141), any other as one line naming stdout.
 */
function stdoutError(e: unknown): unknown {
  if (stdoutClosed(e)) return e;
  return new Error(`pwalk: cannot write stdout: ${osErrorText(e)}`, { cause: e });
}

/**
 * {@link writeStdout} without blocking the event loop, so that a signal's
 * listener runs while a reader is slow to read (or never reads): the
 * answers' handler then exits at once. With `signal`, its abort ends the
 * wait with its reason (the write is left to the process's exit): a plan
 * stopped while printed to a full pipe.
 */
export async function writeStdoutAsync(text: string, signal?: AbortSignal): Promise<void> {
  statusLine?.stop();
  signal?.throwIfAborted();
  const b = enc.encode(text);
  const write = (async () => {
    for (let i = 0; i < b.length;) i += await Deno.stdout.write(b.subarray(i));
  })();
  let stop: (() => void) | undefined;
  const aborted = signal && new Promise<never>((_, reject) => {
    stop = () => reject(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
  });
  try {
    await (aborted ? Promise.race([write, aborted]) : write);
  } catch (e) {
    if (signal?.aborted && e === signal.reason) {
      write.catch(() => {}); // its end, whatever it is, is the process's
      throw e;
    }
    throw stdoutError(e);
  } finally {
    if (stop) signal!.removeEventListener("abort", stop);
  }
}

/**
 * Print the one line of an error that ended a command and return the exit
 * status: 2 for bad usage, else 1 (a failure while running: the output or
 * the journal cannot be written). Example: `catch (e) { return exitStatus(e); }`.
 */
export function exitStatus(e: unknown): number {
  if (e instanceof Interrupted) {
    eprint(e.message);
    return e.status;
  }
  let text = plainMessage(e instanceof Error ? e.message : String(e));
  // one of pwalk's own modules not loaded (a command's, loaded when it
  // runs): Deno's "Import 'file:///...' failed.\n    0: WHY\n    at ..."
  // as one line (out of descriptors, it is the limit's fault, said below)
  const load = /^(?:pwalk: )?Import '([^']+)' failed\.\s*\n\s*0: ([^\n]+)/.exec(text);
  if (load) {
    const url = load[1];
    text =
      `cannot load ${url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url}: ` +
      load[2].replace(/\s*\(os error \d+\)\s*$/, "").trim();
  }
  // out of descriptors, wherever it happened (a folder, an input, the
  // output): what to do, as the library's own messages say it
  if (/Too many open files( in system)?$/.test(text)) text += `: ${MORE_FILES}`;
  eprint(e instanceof UsageError || !text.startsWith("pwalk") ? `pwalk: ${text}` : text);
  return e instanceof UsageError ? EXIT.USAGE : EXIT.FAILED;
}

/**
 * Deno's file system error text made a user's: "Permission denied (os error
 * 13): realpath 'x'" reads "x: Permission denied" (the path once).
 *
 * @example
 * ```ts
 * import { plainMessage } from "./common.ts";
 * console.log(plainMessage("--plan p.json: No such file or directory (os error 2): readfile 'p.json'"));
 * // "--plan p.json: No such file or directory"
 * console.log(plainMessage("pwalk: Permission denied (os error 13): open 's.csv'"));
 * // "pwalk: s.csv: Permission denied"
 * ```
 */
export function plainMessage(text: string): string {
  return text.replace(
    /^(.*?)([^:\n]*) \(os error \d+\)(?:: \w+ '([^']*)')?/s,
    (_all, pre: string, msg: string, path?: string) => {
      if (path === undefined || pre.includes(path)) return `${pre}${msg}`;
      // the path after the space that followed pre's colon ("pwalk: x: ...")
      const text = msg.trimStart();
      return `${pre}${msg.slice(0, msg.length - text.length)}${path}: ${text}`;
    },
  );
}

/**
 * Option kinds: a switch, a switch with `--no-NAME`, the same that also
 * takes an optional `--NAME=VALUE` (`--progress=SECONDS`), a value (last
 * wins: numbers, --level, --depth), a value that may be given only once (a
 * second is bad usage: the safety options of repair, chown and undo, where
 * a silently dropped value would change files other than those meant, a
 * shard's --plan and --shard, which would write another shard into the
 * output named, and every option naming where something is written: -o,
 * --errors, --html, slurm's --out and --resume), a repeatable value.
 */
export type Kind = "flag" | "toggle" | "toggle=" | "value" | "once" | "list";

/** Parsed arguments: values by long option name, operands in `_`. */
export type Flags = { [name: string]: string | string[] | boolean | undefined } & { _: string[] };

/** The options every walking command takes. */
export const WALK_OPTIONS: Record<string, Kind> = {
  threads: "value",
  maxthreads: "value",
  exclude: "list",
  "one-file-system": "flag",
  NoSnap: "flag",
  progress: "toggle=",
  // given twice, refused: the last one kept silently would put the errors
  // elsewhere than the reader of the command line looks
  errors: "once",
};

const SHORT: Record<string, string> = { x: "one-file-system", o: "output", V: "version" };

/**
 * The options that take a value on a command line of report's (a shard's
 * and chown's, which run without a command too): what {@link optionsAmong}
 * needs to tell which of them the command line gives, before it is
 * parsed by the command it picks.
 */
export const BARE_OPTIONS: Record<string, Kind> = {
  ...WALK_OPTIONS,
  depth: "value",
  output: "once",
  level: "value",
  plan: "once",
  shard: "once",
  journal: "once",
  chown_from: "once",
  chown_to: "once",
};

/**
 * The long names of the options `args` gives as options, read as
 * {@link parse} reads them by `spec`: an option's value (`-o --plan`: a
 * file named --plan) and anything after `--` are none; nothing refused (an
 * unknown option is taken to have no value: parse refuses it after).
 *
 * @example
 * ```ts
 * import { BARE_OPTIONS, optionsAmong } from "./common.ts";
 * console.log(optionsAmong(["-o", "--plan", "--", "--shard", "d"], BARE_OPTIONS).has("plan"));
 * // false
 * ```
 */
export function optionsAmong(args: readonly string[], spec: Record<string, Kind>): Set<string> {
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") continue;
    const eq = a.indexOf("=");
    const word = eq < 0 ? a : a.slice(0, eq);
    const name = word.startsWith("--") ? word.slice(2) : SHORT[word.slice(1)] ?? word.slice(1);
    given.add(name);
    const kind = spec[name];
    if (eq < 0 && (kind === "value" || kind === "once" || kind === "list")) i++; // its value
  }
  return given;
}

/**
 * python-pwalk's options (its `pwalk` command, PyPI `pwalk` 0.1.6) that
 * this CLI spells otherwise or has not: what to use instead, named in the
 * unknown-option line (typed from habit, `--max-threads 8`), where the
 * command has the option named (`[option, what to say]`: a summary has no
 * -o whose suffix picks a format).
 */
const FOREIGN_OPTIONS: Record<string, [string, string]> = {
  "max-threads": ["threads", "--threads N (or pwalk's --maxthreads N)"],
  format: ["output", "-o FILE, whose suffix picks the format (.csv, .csv.zst, .csv.gz, .parquet)"],
  "no-snapshots": ["NoSnap", ".snapshot folders are walked unless --NoSnap is given"],
};

/**
 * Parse arguments: an option that takes a value takes the next argument
 * whatever it looks like (`--depth -1`, `-o ""`, `-o -h`), or `--name=value`
 * (`-o=F` too; unlike getopt, no `-oF` and no clustered `-xo F`); `--` ends the options; unknown options are usage
 * errors; `-h`/`--help` as an option throws {@link HelpRequested}; an
 * argument that was not valid UTF-8 ({@link notUtf8}) is bad usage.
 * Example: `parse(["--threads", "4", "-x", "/d"], WALK_OPTIONS)` is
 * `{ _: ["/d"], threads: "4", "one-file-system": true }`.
 */
export function parse(args: string[], spec: Record<string, Kind>): Flags {
  const f: Flags = { _: [] };
  // the first argument that was not UTF-8: refused once all are read (--help wins)
  let lossy: UsageError | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      for (const o of args.slice(i + 1)) lossy ??= notUtf8(o, "");
      f._.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      lossy ??= notUtf8(a, "");
      f._.push(a);
      continue;
    }
    if (a === "-h" || a === "--help") throw new HelpRequested("--help");
    const eq = a.indexOf("=");
    const word = eq < 0 ? a : a.slice(0, eq);
    let name = word.startsWith("--") ? word.slice(2) : SHORT[word.slice(1)] ?? "";
    const negated = !spec[name] && name.startsWith("no-") &&
      (spec[name.slice(3)] === "toggle" || spec[name.slice(3)] === "toggle=");
    if (negated) name = name.slice(3);
    const kind = spec[name];
    if (!kind) {
      const [has, instead] = FOREIGN_OPTIONS[name] ?? [];
      throw new UsageError(
        `unknown option ${word} (${
          has && spec[has] && word.startsWith("--")
            ? `python-pwalk's; here: ${instead}`
            : "try --help"
        })`,
      );
    }
    if (kind === "toggle=" && eq >= 0 && !negated) {
      f[name] = a.slice(eq + 1); // --progress=SECONDS
      continue;
    }
    if (kind === "flag" || kind === "toggle" || kind === "toggle=") {
      if (eq >= 0) throw new UsageError(`${word} takes no value`);
      f[name] = !negated;
      continue;
    }
    if (eq < 0 && i + 1 === args.length) throw new UsageError(`${word} needs a value`);
    const v = eq < 0 ? args[++i] : a.slice(eq + 1);
    if (v === "") throw new UsageError(`${word} needs a value, not an empty string`);
    lossy ??= notUtf8(args[i], word, v);
    if (kind === "once" && f[name] !== undefined) {
      // (-o: named as typed, and as its long name)
      const shown = word.startsWith("--") ? word : `${word} (--${name})`;
      throw new UsageError(`${shown} given twice: give it once`);
    }
    f[name] = kind === "list" ? [...(f[name] as string[] ?? []), v] : v;
  }
  if (lossy) throw lossy;
  return f;
}

/**
 * A whole-number option value in [min, max], or undefined when absent:
 * `intArg("threads", "-5", 1, 1024)` throws a UsageError saying so.
 */
export function intArg(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || n < min || n > max) {
    throw new UsageError(`--${name} needs a whole number from ${min} to ${max}, got '${s}'`);
  }
  return n;
}

/** A user or group id (0-4294967294): `idArg("--chown_from", "1042")` is 1042. */
export function idArg(name: string, s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 0xfffffffe) {
    throw new UsageError(`${name} needs a numeric id (0-4294967294), got '${s}'`);
  }
  return n;
}

/** What {@link walkArgs} reads: the job's walk options, and `ui` for {@link runJob}. */
export interface WalkArgs {
  /** --threads / --maxthreads. */
  threads?: number;
  /** --depth (pwalk's). */
  pwalkDepth?: number;
  /** -x. */
  oneFileSystem: boolean;
  /** --NoSnap. */
  noSnap: boolean;
  /** --exclude: folders and the lines of list files, as given (a line not UTF-8 as bytes). */
  exclude: (string | Uint8Array)[];
  /** --progress, --errors, the --exclude list files, and the unmatched-exclude warnings. */
  ui: Pick<JobUi<unknown>, "progress" | "errors" | "inputs" | "warnings">;
}

/**
 * The walk options of parsed flags for `root`: --threads/--maxthreads,
 * --depth, -x, --NoSnap, and --exclude PATH (a folder, or a file listing
 * folders, one per line), with a warning line for each excluded path that
 * names no folder under root; and for {@link runJob}: --progress[=SECONDS]
 * and --errors FILE. Example: `await walkArgs(parse(args, WALK_OPTIONS), root)`.
 */
export async function walkArgs(f: Flags, root: string): Promise<WalkArgs> {
  const exclude = await excludeArgs(f, root);
  const warnings = excludeWarnings(root, exclude);
  return {
    threads: threadsArg(f),
    pwalkDepth: intArg("depth", f.depth, 0, 2 ** 31 - 1),
    oneFileSystem: !!f["one-file-system"],
    noSnap: !!f.NoSnap,
    exclude,
    ui: {
      progress: progressArg(f),
      errors: errorsArg(f),
      inputs: excludeLists(f),
      warnings,
    },
  };
}

/**
 * Checks --exclude's folders against `root` (report, plan and slurm alike):
 * ROOT itself, however spelled, is bad usage (nothing would be walked); the
 * warning lines for the folders that name nothing under `root`. Example:
 * `excludeWarnings("/data", await excludeArgs(flags, "/data"))`.
 */
export function excludeWarnings(root: string, exclude: (string | Uint8Array)[]): string[] {
  const r = statOrNull(root);
  const texts = exclude.filter((p): p is string => typeof p === "string");
  for (const p of texts) {
    const e = lstatOrNull(p);
    if (r && e?.isDirectory && e.dev === r.dev && e.ino === r.ino) {
      throw new UsageError(`--exclude ${p} is ROOT itself: nothing would be walked`);
    }
  }
  // a relative path is looked up from the current folder, not ROOT nor its
  // list's folder: the warning says where it was looked for
  return unmatchedExcludes(root, texts).map((p) =>
    `pwalk: warning: --exclude ${p}${
      p.startsWith("/") ? "" : ` (${excludeLookedUp(p)})`
    } matched nothing under ${root}`
  );
}

/** --maxthreads N (pwalk's spelling, which wins) or --threads N: 1-1024. */
export function threadsArg(f: Flags): number | undefined {
  // both checked (a bad --threads beside --maxthreads is still bad usage)
  const threads = intArg("threads", f.threads, 1, MAX_THREADS);
  return intArg("maxthreads", f.maxthreads, 1, 1024) ?? threads;
}

/**
 * --errors FILE as given; `--errors -` is stdout, as `-o -` is (opened as
 * /dev/stdout, named `-` in messages).
 */
export function errorsArg(f: Flags): string | undefined {
  return f.errors as string | undefined;
}

/** The file --errors FILE opens: `-` is /dev/stdout. */
const errorsFile = (path: string) => path === "-" ? "/dev/stdout" : path;

/** --progress (true), --progress=SECONDS (1-86400), --no-progress (false), or undefined. */
export function progressArg(f: Flags): boolean | number | undefined {
  return typeof f.progress === "string"
    ? intArg("progress", f.progress, 1, 86_400)
    : f.progress as boolean | undefined;
}

/** The --exclude PATHs that are list files (read, not folders): inputs no output may replace. */
export function excludeLists(f: Flags): string[] {
  return ((f.exclude as string[] | undefined) ?? []).filter((p) => {
    const s = statOrNull(p);
    return !!s && !s.isDirectory;
  });
}

/** Is `st` the null device's (its device number, whatever the name)? */
function isNullDevice(st: Deno.FileInfo): boolean {
  const nul = statOrNull("/dev/null");
  return !!nul && nul.isCharDevice === true && nul.rdev === st.rdev;
}

/**
 * The folders of --exclude PATH options: a PATH that is a folder, or the
 * lines of a PATH that is a file or a FIFO (one folder a line); the null
 * device lists none; any other device or a socket is bad usage.  A PATH that does not
 * exist is kept as a folder when it lies inside `root` (a folder deleted
 * since the job was written: walkArgs warns that it matched nothing, and
 * a nightly scan goes on); anywhere else it is bad usage (a missing list?).
 */
export async function excludeArgs(f: Flags, root?: string): Promise<(string | Uint8Array)[]> {
  const exclude: (string | Uint8Array)[] = [];
  for (const p of (f.exclude as string[] | undefined) ?? []) {
    try {
      const st = Deno.statSync(p);
      // the null device (any name of it) is an empty list, as a script's
      // ${EXCLUDE:-/dev/null} means it; every other device is refused
      if (st.isCharDevice && isNullDevice(st)) continue;
      const device = st.isCharDevice
        ? "a character device"
        : st.isBlockDevice
        ? "a block device"
        : st.isSocket
        ? "a socket"
        : "";
      // read to its end, /dev/zero would fill the memory; a FIFO (the
      // shell's <(...)) is read as a file is
      if (device) {
        throw new UsageError(`--exclude ${p}: ${device}, not a folder or a file listing folders`);
      }
      if (st.isDirectory) exclude.push(p);
      else {
        // (a FIFO waits for its writer: a signal meanwhile ends the run with its line)
        const list = st.isFifo
          ? await untilAnswered(`--exclude ${p}`, () => Deno.readFile(p), { atOnce: true })
          : await Deno.readFile(p);
        const nul = list.indexOf(0);
        if (nul >= 0) {
          const line = list.subarray(0, nul).filter((c) => c === 10).length + 1;
          throw new Error(`line ${line} contains a NUL byte, which no path can hold`);
        }
        // a line that is not UTF-8 stays bytes: the API resolves every
        // spelling of them, as it does of text lines (lib/options.ts excludeList)
        // one push per line: a spread of a long list (130,000 lines or
        // more) overflows the call stack ("Maximum call stack size exceeded")
        for (const line of excludeListBytes(list)) exclude.push(line);
      }
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof Deno.errors.NotFound && p.includes("\uFFFD")) {
        throw new UsageError(
          `--exclude ${p}: No such file or directory; ${NOT_UTF8}: list the folder in a file ` +
            `given to --exclude, which is read as bytes`,
        );
      }
      // a folder beyond PATH_MAX cannot be stat'ed by name: the walker
      // reaches it through its parents' descriptors, so it is taken as given
      const tooLong = /\(os error 36\)/.test(String((e as Error)?.message));
      if (
        (e instanceof Deno.errors.NotFound || tooLong) && root !== undefined && inside(root, p)
      ) {
        exclude.push(p);
        continue;
      }
      if (e instanceof Deno.errors.NotFound && !p.startsWith("/")) {
        // the usual slip: a PATH meant below ROOT (`--exclude d01 t` for
        // t/d01): where it was looked for, and the name below ROOT if that
        // is there
        const below = root === undefined ? undefined : tidy(`${root}/${p}`);
        let there = false;
        try {
          there = below !== undefined && Deno.statSync(below) !== undefined;
        } catch { /* not there either */ }
        throw new UsageError(
          `--exclude ${p} (${excludeLookedUp(p)}): No such file or directory (a relative PATH is ` +
            `taken from the current folder, not ROOT${there ? `: ${below}?` : ""})`,
        );
      }
      const why = e instanceof Deno.errors.NotFound
        ? "No such file or directory"
        : (e as Error).message;
      throw new UsageError(`--exclude ${p}: ${why}`);
    }
  }
  return exclude;
}

/** Why a name with U+FFFD may not be found: how Deno hands over arguments. */
const NOT_UTF8 = "a name that is not valid UTF-8 reaches pwalk as an argument with U+FFFD " +
  "in place of its bad bytes";

/**
 * The command line as the kernel handed it over, read once from
 * /proc/self/cmdline (the raw argv: the script's arguments are its last
 * Deno.args.length entries, after `deno run -A cli.ts` or a compiled
 * pwalk's own name). Two things Deno.args loses are taken from it:
 *
 * - **Trailing carriage returns.** Deno drops the `\r`s that end an
 *   argument (for shebang lines saved with Windows line endings), so
 *   `d\r` (a real name: macOS's `Icon\r`, folders made by CRLF scripts)
 *   would name `d`, and pwalk would walk, exclude or write that one.
 *   `args` has them back.
 * - **Bytes that are not valid UTF-8.** Deno puts U+FFFD in their place,
 *   and the text may name another file (one whose name holds a real
 *   U+FFFD): `lossy` holds such arguments (as `args` has them and as
 *   Deno.args has them), and {@link notUtf8} refuses them.
 *
 * Under `deno task report`, the task's process (the same deno, as parent)
 * decoded the arguments already: its own command line, `deno task report
 * ARGS`, is read too. A command line whose last entries are not Deno.args
 * but for those two losses (another shape) tells nothing; without /proc,
 * `args` is Deno.args and `lossy` is empty, and only a lookup that fails
 * says why (oneRoot, excludeArgs). A valid UTF-8 argument spelled like a
 * lossy one is taken for one: refused too, never walked in its place.
 */
let commandLine: { args: string[]; lossy: Set<string> } | undefined;

function readCommandLine(): { args: string[]; lossy: Set<string> } {
  if (commandLine) return commandLine;
  const given = [...Deno.args];
  const args = [...given];
  const lossySet = new Set<string>();
  const lossy = new TextDecoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  // take what a command line ending in Deno.args tells of each argument
  const learn = (cmdline: Uint8Array) => {
    const entries: Uint8Array[] = [];
    for (let start = 0, end; (end = cmdline.indexOf(0, start)) >= 0; start = end + 1) {
      entries.push(cmdline.subarray(start, end));
    }
    if (entries.length <= given.length) return;
    const tail = entries.slice(entries.length - given.length);
    const text = tail.map((e) => lossy.decode(e));
    if (text.some((t, i) => t.replace(/\r+$/, "") !== given[i])) return; // another shape
    text.forEach((t, i) => {
      if (t.length > args[i].length) args[i] = t; // its carriage returns back
      try {
        strict.decode(tail[i]);
      } catch {
        lossySet.add(t).add(given[i]);
      }
    });
  };
  try {
    const cmdline = readProcFile("/proc/self/cmdline"); // (Deno's refusal without --allow-all)
    if (cmdline) learn(cmdline);
  } catch { /* no /proc */ }
  try {
    const parent = `/proc/${Deno.ppid}`;
    if (Deno.realPathSync(`${parent}/exe`) === Deno.realPathSync(Deno.execPath())) {
      const cmdline = Deno.readFileSync(`${parent}/cmdline`);
      if (lossy.decode(cmdline).split("\0").includes("task")) learn(cmdline);
    }
  } catch { /* no /proc, or a parent of another user's */ }
  return commandLine = { args, lossy: lossySet };
}

/**
 * The script's arguments as the user typed them: Deno.args, with the
 * carriage returns that ended an argument put back (see
 * {@link readCommandLine}). What cli.ts hands to `runMain`.
 */
export function commandLineArgs(): string[] {
  return [...readCommandLine().args];
}

/**
 * A bad-usage error when `arg`, a command-line argument as Deno.args has
 * it, was not valid UTF-8 (see {@link readCommandLine}): its text, `value`
 * (what `word`, an option or "" for an operand, got), may name another
 * file, and pwalk would walk, exclude, read or write that one. Every
 * argument of {@link parse} goes through it, and slurm's --sbatch values.
 * Example: `notUtf8("--exclude=d\uFFFD", "--exclude", "d\uFFFD")`.
 */
export function notUtf8(arg: string, word: string, value = arg): UsageError | undefined {
  if (!arg.includes("\uFFFD") || !readCommandLine().lossy.has(arg)) return undefined;
  const hint = word === "--exclude"
    ? "; list the folder in a file given to --exclude, which is read as bytes"
    : "";
  return new UsageError(
    `${word ? `${word} ` : ""}${value}: not valid UTF-8, so it could name another file ` +
      `(${NOT_UTF8})${hint}`,
  );
}

/**
 * The folders an exclude list file names, one a line as
 * {@link excludeListLines} splits them: text lines (blank ones left out),
 * and a line that is not valid UTF-8
 * as its bytes (a folder whose name is not UTF-8, which no argument can
 * name exactly).
 */
function excludeListBytes(b: Uint8Array): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  for (const line of excludeListLines(b)) {
    try {
      const text = strict.decode(line);
      if (text.trim() !== "") out.push(text);
    } catch {
      out.push(line.slice());
    }
  }
  return out;
}

/** Whether `path` names something below `root` (as spelled, or below its real path). */
function inside(root: string, path: string): boolean {
  const p = absolutePath(path);
  const roots = [absolutePath(root)];
  try {
    roots.push(Deno.realPathSync(root));
  } catch { /* the root is checked elsewhere */ }
  return roots.some((r) => p.startsWith(r === "/" ? "/" : `${r}/`) && p.length > r.length + 1);
}

/**
 * The native library loaded (from JSR: downloaded) with the signals
 * listened to, as {@link runJob} loads it: stopped by one, an
 * {@link Interrupted} that says so ("interrupted by SIGTERM; the download
 * of the native library from URL stopped; nothing was cached").
 */
async function nativeUnderSignals(): Promise<void> {
  let stopped: readonly [string, number] | undefined;
  try {
    [, stopped] = await underSignals((signal) => ensureNative(signal), {
      what: "the native library's download",
    });
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
    const what = e.cause instanceof DownloadInterrupted ? e.cause.what : "nothing was done";
    throw new Interrupted(`pwalk: interrupted by ${e.by[0]}; ${what}`, e.by[1]);
  }
  if (stopped) {
    throw new Interrupted(`pwalk: interrupted by ${stopped[0]}; nothing was done`, stopped[1]);
  }
}

/** How {@link oneRoot} looks at ROOT. */
export interface RootChecks {
  /** The change a root of `/` is refused for unless --force ("repair"). */
  refuse?: string;
  /**
   * ROOT is walked by the native library (report, repair, chown): its
   * listing is tried by it too (pw_dir_probe), the library loaded (from JSR:
   * downloaded) first. plan and slurm list ROOT with Deno alone.
   */
  walked?: boolean;
  /**
   * A relative ROOT whose real path is past PATH_MAX is taken (report: the
   * walker opens ROOT as given); the commands that need its real path (a
   * journal's ROOT, a plan's) refuse it as bad usage.
   */
  deep?: boolean;
}

/** What `pwalk walk` (python-pwalk's command) is here. */
const WALK_HINT =
  " (python-pwalk's walk command: here, the API's walkDirs(); pwalk report lists every entry)";

/**
 * The one ROOT operand, a folder this process can open, list and search
 * (one it cannot is bad usage, as a missing one: nothing under it could be
 * walked, and a run would end with status 0 and only ROOT's row), looked at
 * as {@link RootChecks} say: `await oneRoot(flags, { walked: true })`. ROOT
 * is looked at off the main thread, with the signals listened to
 * ({@link untilAnswered}): a ROOT on a hung mount (a dead NFS server) is
 * stopped as a hung walk is.
 */
export async function oneRoot(
  f: Flags,
  { refuse, walked = false, deep = false }: RootChecks = {},
): Promise<string> {
  if (f._.length === 0) throw new UsageError("missing ROOT folder (try --help)");
  if (f._.length > 1) {
    // `--progress 5 ROOT`: the number taken for a folder
    // `pwalk walk ROOT`: python-pwalk's command, a line of counts per folder
    const hint = f.progress === true && /^\d+$/.test(f._[0])
      ? ` (a progress interval is --progress=${f._[0]})`
      : f._[0] === "walk"
      ? WALK_HINT
      : "";
    throw new UsageError(`one ROOT folder only, got ${f._.length}: ${f._.join(" ")}${hint}`);
  }
  const root = f._[0];
  // (the system's "No such file or directory" would name nothing: `pwalk ""`)
  if (root === "") throw new UsageError("ROOT is empty");
  const real = await untilAnswered(`ROOT ${root}`, async () => {
    try {
      // realpath(3) needs search permission on every folder above ROOT,
      // which a relative ROOT below a folder that cannot be searched (a
      // working folder inherited from another user by sudo -u or su) does
      // not have, and a real path within PATH_MAX (a relative ROOT deep
      // below a deep working folder): it is walked all the same, as C pwalk
      // walks it, and is not "/" (whose real path needs no permission), the
      // one thing the real path is asked here for
      let real: string | null;
      try {
        real = await Deno.realPath(root);
      } catch (e) {
        const tooLong = deep && (e as { code?: string }).code === "ENAMETOOLONG";
        if (!(e instanceof Deno.errors.PermissionDenied || tooLong) || root.startsWith("/")) {
          throw e;
        }
        real = null;
      }
      // (by ROOT as given, as the walker opens it, for the same reason)
      if (!(await Deno.stat(root)).isDirectory) throw new UsageError(`${root}: Not a directory`);
      (await Deno.open(root)).close(); // opened for reading, as the walker opens it
      // searchable: its entries looked at (a name looked up in it, `.`), as
      // the walker stats them; a ROOT with r but not x would be listed with
      // every entry an error, status 0 and only ROOT's row
      try {
        await Deno.stat(`${root}/.`);
      } catch (e) {
        if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
        throw new UsageError(
          `${root}: Permission denied (it can be listed but not searched: no x permission, ` +
            "so none of its entries could be looked at)",
        );
      }
      return real;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      // (`pwalk walk` alone: python-pwalk's command, with its folder forgotten)
      const why = e instanceof Deno.errors.NotFound
        ? "No such file or directory" +
          (root.includes("\uFFFD") ? ` (${NOT_UTF8})` : root === "walk" ? WALK_HINT : "")
        : osErrorText(e); // the system's words: the path Deno names may be the real one, not ROOT
      throw new UsageError(`${root}: ${why}`);
    }
  });
  // listable: its first names read, as the walker lists it (a folder can
  // open and refuse its listing: /proc/PID/map_files, a FUSE server failing
  // READDIR, a damaged folder's EIO), by the library (from JSR: downloaded
  // now, as the run would next)
  if (walked) {
    await nativeUnderSignals();
    const b = pathBytes(root);
    const listed = await untilAnswered(
      `ROOT ${root}`,
      () => native().pw_dir_probe(b, BigInt(b.length)),
    );
    if (listed < 0) throw new UsageError(`${root}: ${errnoName(-listed)[1]}`);
  }
  if (refuse && real === "/" && !f.force) {
    throw new UsageError(
      `refusing to ${refuse} / (the whole file system): add --force if you really mean it`,
    );
  }
  return root;
}

/**
 * A run stopped by a signal before its work began (nothing written):
 * {@link exitStatus} says its message and gives its status, 128 + n.
 */
export class Interrupted extends Error {
  /** An Interrupted error: `message` is its whole line, `status` the exit status. */
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "Interrupted";
  }
}

/**
 * Run `work` (asynchronous file system calls, which run off the main
 * thread) with SIGINT, SIGTERM and SIGHUP listened to, as {@link runJob}
 * listens to them during a walk: a signal stops the run once `work` is
 * done (an {@link Interrupted} thrown: "interrupted by SIGINT; nothing was
 * done"); if `work` has not answered 2 s later (a hung mount), it says
 * "stopping (SIGINT): WHAT does not answer; SIGINT again quits without
 * waiting for it", and a second signal after that ends the process without
 * waiting (a thread in a request a FUSE server already took holds it
 * until the server answers). With `atOnce` (work that changes nothing: a
 * list read from a FIFO whose writer has not come) the first signal says
 * "interrupted by SIGINT; nothing was done" and ends the process at once.
 */
export async function untilAnswered<T>(
  what: string,
  work: () => Promise<T>,
  options: { atOnce?: boolean } = {},
): Promise<T> {
  const w = waitingOnSignals(
    // a read that changes nothing (a FIFO's writer awaited): not waited for
    (s) => options.atOnce ? `pwalk: interrupted by ${s[0]}; nothing was done` : undefined,
    (s) =>
      `pwalk: stopping (${s[0]}): ${what} does not answer (a hung file system?); ` +
      `${s[0]} again quits without waiting for it`,
    (s) => `pwalk: ${s[0]} again: quit without waiting for ${what} ${STILL_HELD}; nothing was done`,
  );
  let result: T;
  try {
    result = await work();
  } catch (e) {
    if (!w.stopped && !w.quitting) throw e;
  } finally {
    w.end();
  }
  // atOnce, quitting: the process ends once its line is out (a stderr that
  // drains slowly); the work answered meanwhile goes no further
  if (w.quitting) await new Promise<never>(() => {});
  if (w.stopped) {
    throw new Interrupted(`pwalk: interrupted by ${w.stopped[0]}; nothing was done`, w.stopped[1]);
  }
  return result!;
}

/**
 * Why the scan folder `dir` is not there at all ("DIR: no such folder"),
 * or undefined when it is (a file too: the caller says what is wrong with
 * it). `pwalk status /nonexist` is told so, not that it has no plan.json.
 */
export function missingFolder(dir: string): string | undefined {
  try {
    Deno.statSync(dir);
    return undefined;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return undefined;
  }
  return `${dir}: no such folder`;
}

/** What {@link runJob} hands to a job's start: spread it into the job's options. */
export interface JobRun {
  /** Aborted by SIGINT, SIGTERM or SIGHUP. */
  signal: AbortSignal;
  /** Feeds the progress line (and what a signal left). */
  onProgress: (p: Progress) => void;
  /**
   * How often onProgress is called: undefined (200 ms) for a progress line;
   * runJob gives 1000 without one (what an interrupted run tells it had done).
   */
  progressIntervalMs?: number;
  /** --errors FILE, open for the native side. */
  errorsCsvFd?: number;
  /** The file --errors FILE will replace: no row of the walk. */
  skipPaths?: string[];
  /** A progress line is redrawn on stderr: error lines clear it first. */
  clearLineBeforeErrors?: boolean;
}

/**
 * Whether `path` is the terminal stderr is on: /dev/tty (the controlling
 * terminal), or the same character device as stderr (/dev/stderr,
 * /dev/pts/3). A report written there mixes with a redrawn line.
 */
export function isStderrTerminal(path: string): boolean {
  if (!Deno.stderr.isTerminal()) return false;
  if (path === "/dev/tty") return true;
  try {
    const a = statSync(path), b = statSync("/dev/stderr");
    return !!a.isCharDevice && a.rdev === b.rdev;
  } catch {
    return false;
  }
}

/**
 * How {@link runJob} runs a job: its stderr lines start with `tag`; the
 * progress setting ({@link walkArgs}); `errors`: a file for every error as
 * a CSV row; start it; the summary lines once done, or what a signal left
 * (after "interrupted by SIGTERM"; with the last progress record);
 * `warnings` come just before them (the summary stays a log's last line);
 * `toStdout`: the job writes to stdout.
 */
export interface JobUi<T> {
  /** "pwalk:", "pwalk repair:", ... */
  tag: string;
  /** --progress (true), --progress=SECONDS, --no-progress (false), or the default. */
  progress?: boolean | number;
  /** --errors FILE. */
  errors?: string;
  /** The files the job reads (a plan, --exclude lists): --errors FILE is none of them. */
  inputs?: string[];
  /** Printed after everything else. */
  warnings?: string[];
  /** Start the job. */
  start(run: JobRun): Promise<T>;
  /** The summary lines. */
  done(summary: T, last: Progress | undefined): string[];
  /** What a signal left, after "TAG interrupted by SIGNAL; ". */
  interrupted(last: Progress | undefined): string;
  /**
   * What a second signal, which quits without waiting for the workers,
   * leaves that its line must say (an applied repair: "every change made
   * is in the journal J"), or "".
   */
  quit?(): string;
  /** The job writes to stdout (no redrawn line on the same terminal; 141 when it closes). */
  toStdout?: boolean;
  /** The job writes to the terminal stderr is on (-o /dev/tty): no redrawn line there. */
  toTerminal?: boolean;
  /**
   * The files the job writes under temporary names (-o, a shard's record):
   * a second signal, which quits without waiting for the workers (a hung
   * file system), removes this process's temporaries beside them.
   */
  outputs?: string[];
}

/**
 * The progress line of a run: `--progress=SECONDS` a plain line every
 * SECONDS; `--progress` a redrawn line on a terminal, else a plain line
 * every 60 s; by default a redrawn line when stderr is a terminal;
 * `--no-progress` none. When the job's output goes to a terminal too
 * (stdout: a report's CSV, repair's change lines; `-o /dev/tty`), a line
 * redrawn there would be mixed into it: then none by default, and plain
 * lines every 60 s with `--progress`, which stay apart from the output's.
 */
function progressLine(
  setting: boolean | number | undefined,
  toStdout?: boolean,
  toTerminal?: boolean,
) {
  const tty = Deno.stderr.isTerminal();
  const shared = !!toTerminal || (!!toStdout && Deno.stdout.isTerminal());
  if (typeof setting === "number") return new ProgressLine(false, setting * 1000);
  if (setting === true) return new ProgressLine(tty && !shared, 60_000);
  if (setting === undefined && tty && !shared) return new ProgressLine(true);
}

/**
 * A file's name with its folder resolved as the kernel resolves it (links,
 * then `..`); the lexical absolute path when the folder is not there.
 */
function resolvedName(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const slash = abs.lastIndexOf("/");
  try {
    const dir = realPathSync(abs.slice(0, slash) || "/");
    return `${dir === "/" ? "" : dir}/${abs.slice(slash + 1)}`;
  } catch {
    return absolutePath(path);
  }
}

/**
 * Refuse --errors FILE when it is `other` (the report's output, the
 * journal): opening it would empty that file, or the report's rename would
 * drop the error rows.  The same file by device and inode when both exist,
 * else by the real path of the folder each would be made in (`out/scan.csv`
 * and `alias/scan.csv` with `alias -> out` are one new file).
 */
export function errorsApart(errors: string | undefined, other: string | undefined, what: string) {
  if (errors === undefined || other === undefined) return;
  let same: boolean;
  try {
    const a = statSync(errorsFile(errors)), b = statSync(other);
    same = a.dev === b.dev && a.ino === b.ino;
  } catch {
    same = resolvedName(errorsFile(errors)) === resolvedName(other);
  }
  if (same) {
    throw new UsageError(`--errors ${errors} is the ${what}: give the errors a file of their own`);
  }
}

/** The header of an --errors file. */
export const ERRORS_HEADER = "path,operation,errno,message";

/** An --errors file being written: its fd for the native side, then kept or dropped. */
interface ErrorsCsv {
  fd: number;
  /** The existing file it will replace when the run ends, if any. */
  replaces?: string;
  /** A pipe, FIFO or device written directly (its reader may leave: 141). */
  direct?: boolean;
  /**
   * Close it. `ended`: the run ended with its report, and the file takes
   * its name (replacing what was there); else it never appears, and what
   * was there stays.
   */
  close(ended: boolean): void;
  /**
   * Remove its temporary file without closing it or waiting for its data
   * (a forced quit). How many files it removed (0 or 1).
   */
  abandon(): Promise<number>;
}

/** A wait for a FIFO's reader ({@link fifoReader}) stopped by a signal: `what` says what was not done. */
export class FifoWaitInterrupted extends Error {
  /** "nothing was done (--errors FIFO had no reader yet)" */
  what: string;
  constructor(what: string, cause: unknown) {
    super(`pwalk: ${what}`, { cause });
    this.name = "FifoWaitInterrupted";
    this.what = what;
  }
}

/** What stdout carries, by the job's tag: "the report's stdout", or "stdout, which carries ...". */
function stdoutHolds(tag: string): string {
  if (tag === "pwalk repair:" || tag === "pwalk chown:") {
    return "stdout, which carries the change lines";
  }
  return tag === "pwalk plan:" ? "stdout, which carries the plan" : "the report's stdout";
}

/**
 * Start `given` (--errors FILE; `-` is stdout) with the CSV header and
 * open it for the native side to append rows. It follows -o's rules (lib/outfile.ts): written whole under
 * a temporary name beside it and renamed when the run ends with its report
 * (an existing file keeps its mode, owner and group; in a folder others
 * can change, its mode only: see safeByName), a link written
 * through, a character device or FIFO written directly; a folder, socket or
 * link to nothing is refused before anything is written, and so is one of
 * `inputs` or a shard's output in a scan folder (bad usage). This process's
 * own stdout or stderr (/dev/stderr, redirected to a log) is written
 * through its descriptor.
 */
async function openErrorsCsv(
  given: string,
  toStdout: boolean,
  inputs: readonly string[] = [],
  tag = "pwalk:",
  signal?: AbortSignal,
): Promise<ErrorsCsv> {
  await ensureNative();
  const fail = (why: string) => new Error(`pwalk: --errors ${given}: ${why}`);
  const path = errorsFile(given);
  // This process's own stdout or stderr (/dev/stderr, a log it is redirected
  // to, a pipe): written through its descriptor, whose offset is shared with
  // what else goes there; never replaced, and not the report's own stdout.
  const named = statOrNull(path);
  const same = (fd: string) => {
    const o = statOrNull(fd);
    return !!named && !!o && o.dev === named.dev && o.ino === named.ino;
  };
  for (const [name, fd, stream] of STD_STREAMS) {
    if (!same(name)) continue;
    if (fd === 1 && toStdout && !named!.isCharDevice) {
      throw new UsageError(
        `--errors ${given} is ${stdoutHolds(tag)}: give the errors a file of their own`,
      );
    }
    stream.writeSync(new TextEncoder().encode(ERRORS_HEADER + "\n"));
    return { fd, close: () => {}, abandon: () => Promise.resolve(0) };
  }
  if (named?.isDirectory) {
    throw new UsageError(`--errors ${given} is a folder: give the errors a file`);
  }
  // "pwalk: cannot write FILE: why" as "--errors FILE: cannot write: why"
  const told = (e: unknown) => {
    const m = (e as Error).message;
    const prefix = `pwalk: cannot write ${path}: `;
    return fail(
      m.startsWith(prefix)
        ? `cannot write: ${m.slice(prefix.length)}`
        : m.replace(/^pwalk: [^\n]*?: /, ""),
    );
  };
  let target;
  try {
    target = await checkedOutput(path, inputs, { who: "--errors" });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--errors ${usage(e).message}`);
    throw told(e);
  }
  // A FIFO or device: held open from the header to the end, so that a
  // FIFO's reader never sees the end of its input between the header and
  // the rows (the library opens its own descriptor meanwhile). Opened only
  // if it is still the file checked (openDirect: a FIFO another user
  // planted, replaced by a link to a file of root's, is not written), and
  // the library's descriptor checked to be that same file.
  let held: Deno.FsFile | undefined;
  // Else the temporary (lib/outfile.ts openPartial), made here, its header
  // written through its descriptor, and the library's own descriptor
  // checked to be that same file. It is not removed at exit by
  // removeOnInterrupt, which would wait on a hung mount: its close or
  // abandon does it.
  let partial: PartialFile | undefined;
  if (target.direct) {
    // a FIFO with no reader yet: waited for where a signal reaches the wait
    let release: () => void;
    try {
      release = await fifoReader(target.path, signal);
    } catch (e) {
      if (signal?.aborted) {
        throw new FifoWaitInterrupted(`nothing was done (--errors ${given} had no reader yet)`, e);
      }
      throw e;
    }
    try {
      held = await openDirect(target, path);
    } catch (e) {
      throw told(e);
    } finally {
      release();
    }
  }
  try {
    if (held) {
      await writeAll(held, new TextEncoder().encode(ERRORS_HEADER + "\n"));
    } else {
      // .FILE.partial-PID-UUID of runs killed before their end: removed now
      const slash = target.path.lastIndexOf("/");
      const hidden = `${target.path.slice(0, slash + 1)}.${target.path.slice(slash + 1)}`;
      for (const t of await removeBeside(hidden, PARTIAL_BESIDE, { locked: true })) {
        eprint(`pwalk: removed ${t}, left by an earlier run killed before its end`);
      }
      partial = await openPartial(target.path, { removeOnInterrupt: false });
      await writeAll(partial.file, new TextEncoder().encode(ERRORS_HEADER + "\n"));
    }
  } catch (e) {
    held?.close();
    partial?.discard();
    if (held && stdoutClosed(e)) throw e; // (its reader left before the header: 141)
    throw fail(`cannot write: ${osErrorText(e)}`);
  }
  const b = new TextEncoder().encode(partial?.path ?? target.path);
  // (a FIFO or device: by its name again, links followed (/dev/fd/63 of
  // >(cmd)), a FIFO whose reader has left never waited for; checked below)
  const fd = held
    ? native().pw_fd_open_direct(b, BigInt(b.length))
    : native().pw_fd_open(b, BigInt(b.length));
  if (fd < 0) {
    held?.close();
    partial?.discard();
    // a FIFO or pipe whose reader has left since the header (`head -1`):
    // closed early, as a reader leaving during the run is (SIGPIPE's 141)
    if (held && errnoName(-fd)[0] === "ENXIO") {
      throw new Deno.errors.BrokenPipe(`--errors ${given}: its reader has left`);
    }
    throw fail(errnoName(-fd)[1]);
  }
  if (held) {
    // (opened by its name again: the FIFO or device is still the one held,
    // not a file renamed there since)
    const mine = held.statSync();
    const theirs = statOrNull(`/proc/self/fd/${fd}`); // (Linux: the open file itself)
    if (theirs && (theirs.dev !== mine.dev || theirs.ino !== mine.ino)) {
      native().pw_fd_close(fd);
      held.close();
      throw fail("cannot write: it was replaced by another file since it was checked");
    }
  }
  if (partial) {
    // (opened by its name again, O_NOFOLLOW: another file renamed there
    // meanwhile, a hard link, is not written)
    const ours = partial.file.statSync(); // (held open to the rename: its inode number stays its own)
    const theirs = statOrNull(`/proc/self/fd/${fd}`); // (Linux: the open file itself)
    if (theirs && (theirs.dev !== ours.dev || theirs.ino !== ours.ino)) {
      native().pw_fd_close(fd);
      partial.discard();
      throw fail("cannot write: its temporary file was replaced while it was opened");
    }
  }
  return {
    fd,
    replaces: named && partial ? target.path : undefined,
    direct: !!held,
    close: (ended) => {
      // a failed flush (NFS, quota) is a lost row too: never renamed as whole
      const rc = native().pw_fd_close(fd);
      held?.close();
      if (!ended || rc < 0) partial?.discard();
      if (rc < 0 && ended) throw fail(`cannot write: ${errnoName(-rc)[1]}`);
      if (ended && partial) {
        try {
          partial.commit(); // (the old file's owner and mode, the checked rename)
        } catch (e) {
          throw fail(
            `cannot write: ${String((e as Error)?.message).replace(/ \(os error \d+\).*$/s, "")}`,
          );
        }
      }
    },
    abandon: async () => await partial?.abandon() ? 1 : 0,
  };
}

const STD_STREAMS = [
  ["/dev/stdout", 1, Deno.stdout],
  ["/dev/stderr", 2, Deno.stderr],
] as const;

/** lstat, or null; /dev and /proc also without --allow-all (lib/procfs.ts). */
function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** stat, or null; /dev and /proc also without --allow-all (lib/procfs.ts). */
function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * Run a job with the progress line and the summary on stderr. SIGINT,
 * SIGTERM and SIGHUP cancel it (a change in progress is finished first) and
 * the status is 128 + the signal's number; a closed stdout ends it quietly
 * (141). Example: `runJob({ tag: "pwalk:", start: (run) => report(root,
 * { ...run }), done: (s) => [...], interrupted: () => "..." })`.
 */
export async function runJob<T>(ui: JobUi<T>): Promise<number> {
  // opened once the signals are listened for: a FIFO with no reader is
  // waited for, and a signal then stops the wait with its line
  let errorsCsv: ErrorsCsv | undefined;
  let errorsCsvFd: number | undefined;
  let errorsClosed = false;
  const closeErrors = (whole: boolean) => {
    if (errorsClosed) return;
    errorsClosed = true;
    errorsCsv?.close(whole);
  };
  let ended = false, succeeded = false;
  const line = progressLine(ui.progress, ui.toStdout, ui.toTerminal);
  const abort = new AbortController();
  let stopped: (typeof SIGNALS)[number] | undefined;
  let last: Progress | undefined;
  let slow: ReturnType<typeof setTimeout> | undefined;
  let noticed = false; // the "stopping" notice was given: a second signal quits
  let quitting = false;
  const listeners = SIGNALS.map((s) => {
    const stop = () => {
      if (stopped && !ended) {
        // A second signal after the notice: the workers are stuck in a hung
        // file system (a dead NFS server), where no cancel reaches them.
        // Quit now; before the notice a second Ctrl-C changes nothing (the
        // orderly stop, a repair's change in progress, goes on).
        if (!noticed || quitting) return;
        quitting = true;
        line?.clear();
        const first = stopped;
        // (a write to an output that takes no more is interrupted)
        const inFileSystem = !last?.outputWriting;
        // The clean-up may itself block (the output on the hung mount):
        // off the main thread, and given 2 s at most.
        const cleanup = (async () => {
          // the output's and the --errors file's: each one counted
          const n = await removeOwnTemporaries(ui.outputs ?? []);
          return n + (await errorsCsv?.abandon() ?? 0);
        })();
        const limit = new Promise<number>((r) => setTimeout(() => r(-1), 2000));
        Promise.race([cleanup, limit]).then(async (n) => {
          // (an applied repair's system log line: its run never ends here)
          runQuitHooks();
          const left = ui.quit?.();
          eprint(
            `${ui.tag} ${s[0]} again: quit without waiting for the workers` +
              (inFileSystem ? ` ${STILL_HELD}` : "") +
              (n > 0 ? `; ${count(n, "temporary file")} removed` : "") +
              (n < 0 ? "; its temporary files could not be removed in time" : "") +
              (left ? `; ${left}` : "") +
              soFar(last),
          );
          await eprintFlushed();
          exitProcess(first[1]);
        });
        return;
      }
      stopped ??= s;
      abort.abort(new DOMException(`interrupted by ${s[0]}`, "AbortError"));
      // said when the stop takes long: workers blocked in the file system,
      // or in a write to an output that takes no more (a socket; a pipe or
      // FIFO stops at the cancel)
      slow = setTimeout(() => {
        if (ended) return;
        noticed = true;
        line?.clear();
        const what = last?.outputWriting
          ? "to return from writing the output, which takes no more"
          : "to return from the file system";
        eprint(
          `${ui.tag} stopping (${s[0]}): waiting for the workers ${what}; ` +
            `${s[0]} again quits without them`,
        );
      }, 2000);
    };
    return listen(s[0], stop);
  });
  const onProgress = (p: Progress) => {
    last = p;
    line?.update(p);
  };
  try {
    // the library first (downloaded, from JSR), stopped by a signal with a
    // DownloadInterrupted that says so (a job's start gives the signal's reason)
    await ensureNative(abort.signal);
    try {
      errorsCsv = ui.errors === undefined
        ? undefined
        : await openErrorsCsv(ui.errors, !!ui.toStdout, ui.inputs, ui.tag, abort.signal);
    } catch (e) {
      // the header of `--errors -` met a closed pipe, or the reader of an
      // --errors FIFO left after it
      if (stdoutClosed(e)) return EXIT.PIPE;
      throw e;
    }
    errorsCsvFd = errorsCsv?.fd;
    // without a line, once a second: what an interrupted run tells it had done
    const progressIntervalMs = line ? undefined : 1000;
    const s = await ui.start({
      signal: abort.signal,
      onProgress,
      progressIntervalMs,
      errorsCsvFd,
      ...(errorsCsv?.replaces ? { skipPaths: [errorsCsv.replaces] } : {}),
      clearLineBeforeErrors: line?.redrawn,
    });
    // one that came as it ended (its event waiting while the main thread
    // was busy) is this job's to tell, below
    await signalsHeard();
    ended = true;
    // in place before the summary names it (a failure is the run's error)
    closeErrors(true);
    succeeded = true;
    line?.clear();
    // a signal that came once nothing was left to stop (the output in
    // place, the last change made): the run is whole, and its status is
    // its own, as slurm's once sbatch ran; said, never passed over
    const late = stopped ? [`${ui.tag} ${stopped[0]} came as the run ended; it was let end`] : [];
    // the warnings, then the summary: a log's last line (tail -1) is the summary
    for (const l of [...ui.warnings ?? [], ...late, ...ui.done(s, last)]) eprint(l);
    return EXIT.OK;
  } catch (e) {
    line?.clear();
    if (stopped) {
      ended = true;
      for (const l of ui.warnings ?? []) eprint(l);
      // stopped while the library was downloaded (from JSR): no job ran
      eprint(
        `${ui.tag} interrupted by ${stopped[0]}; ` +
          (e instanceof DownloadInterrupted || e instanceof FifoWaitInterrupted
            ? e.what
            : `${ui.interrupted(last)}${soFar(last)}`),
      );
      return stopped[1];
    }
    // stdout closed early (`pwalk /data | head`): stop quietly, as SIGPIPE would.
    if (ui.toStdout && stdoutClosed(e)) return EXIT.PIPE;
    // the library's "cannot write the errors file: ..." names the file here
    const lost = /cannot write the errors file: (.*)$/.exec(String((e as Error)?.message));
    // the errors on stdout (`--errors - -o FILE | head`): stdout closed early
    // too; on a FIFO or >(cmd) whose reader left, as an -o FIFO's (141)
    if (lost && (errorsCsvFd === 1 || errorsCsv?.direct) && lost[1] === "Broken pipe") {
      return EXIT.PIPE;
    }
    if (lost && ui.errors) {
      throw new Error(`pwalk: --errors ${ui.errors}: cannot write: ${lost[1]}`);
    }
    throw e;
  } finally {
    clearTimeout(slow);
    for (const remove of listeners) remove();
    closeErrors(succeeded); // a signal after the job's end loses nothing
  }
}

/**
 * "; 12,345 entries walked, 3 errors in 4.2 s before it": what a stopped
 * run had done (entries walked, not rows an output took: those may lag).
 */
function soFar(p: Progress | undefined): string {
  if (!p) return "";
  return `; ${count(p.entries, "entry", "entries")} walked, ${count(p.errors, "error")} in ` +
    `${duration(p.elapsedMs)} before it`;
}

/**
 * "N errors", and where they went: `errorCount(3, "errs.csv")` is
 * "3 errors (listed in errs.csv)".
 */
export function errorCount(n: number, file: string | undefined): string {
  const where = file === "-" ? "stdout" : file;
  return count(n, "error") + (where === undefined ? "" : ` (listed in ${where})`);
}

const enc = new TextEncoder();

/**
 * A signal was taken ({@link listen}): from then on {@link eprint} queues
 * its lines for an asynchronous write, which leaves the main thread free:
 * a stderr nobody reads (a pipe to a stopped pager) would otherwise block
 * it in the "interrupted by" line, where no second signal is ever heard.
 */
let signalled = false;
/** The lines eprint queued since, written in order. */
let queued: Promise<void> = Promise.resolve();

/**
 * Wait for the lines {@link eprint} queued after a signal, at most `ms`
 * (stderr may take no more): what the process says before it ends.
 */
export async function eprintFlushed(ms = 2000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([queued, new Promise((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}

/**
 * A text as one line that cannot drive the terminal (lib/utf8.ts oneLine):
 * {@link eprint} writes every line so; lines on stdout that name paths
 * (`pwalk status`) go through it too.
 */
export { oneLine };

/**
 * One line on stderr (nothing when stderr is closed): `eprint("pwalk: ...")`.
 * Control characters in it are escaped ({@link oneLine}): one message is
 * one line, and a name cannot drive the terminal.
 */
export function eprint(s: string): void {
  const bytes = enc.encode(oneLine(s) + "\n");
  statusLine?.clear(); // (drawn again at its next redraw)
  if (signalled) {
    queued = queued.then(async () => {
      for (let off = 0; off < bytes.length;) off += await Deno.stderr.write(bytes.subarray(off));
    }).catch(() => {}); // stderr closed
    return;
  }
  try {
    Deno.stderr.writeSync(bytes);
  } catch {
    // stderr closed
  }
}

/**
 * A library error as bad usage: its message without the library's
 * "pwalk: " (the usage line adds it back). `catch (e) { throw usage(e); }`.
 */
export function usage(e: Error): UsageError {
  return new UsageError(e.message.replace(/^pwalk: /, ""));
}

/**
 * {@link usage} for a refusal of lib/report.ts's reportFormat, whose `level N`
 * (the API's option) is spelled as the CLI's, `--level N`.
 */
export function formatUsage(e: Error): UsageError {
  return usage(new Error(e.message.replace(/^(pwalk: )?level /, "--level ")));
}

// ---------------------------------------------------------------------------
// The commands that answer from scans: summary, diff and convert.

/** DuckDB's bounds, taken by summary, diff and convert. */
const ENGINE_OPTIONS = { "memory-limit": "value", "temp-dir": "value" } as const;

/** The engine options of parsed flags: --memory-limit M (a size such as 4GB), --temp-dir DIR. */
export function engineOptions(
  f: Flags,
): { memoryLimit?: string; tempDirectory?: string; onLeftoverRemoved: (path: string) => void } {
  const memoryLimit = f["memory-limit"] as string | undefined;
  if (memoryLimit !== undefined && memorySize(memoryLimit) === undefined) {
    throw new UsageError(
      `--memory-limit needs a size such as 4GB (1 byte or more, below 8 EiB), got '${memoryLimit}'`,
    );
  }
  return {
    memoryLimit,
    tempDirectory: f["temp-dir"] as string | undefined,
    onLeftoverRemoved: (p) =>
      eprint(`pwalk: removed ${p}, left by an earlier run killed before its end`),
  };
}

/**
 * The exit status of an error that ended summary, diff or convert: a bad
 * scan or value is bad usage (2), anything else a failure (1); the error's
 * first line is printed (DuckDB's errors go on over several). `paths`, the
 * names the command was given (its operands and option values) and the
 * scan files found in its folders and globs, are escaped in it first
 * ({@link oneLine}): a newline in one of them is no end of the first line
 * (the message would stop inside the name).
 */
export function answerStatus(e: unknown, paths: readonly string[] = []): number {
  // V8's limit on a string (about 512 MiB of text: a path of tens of MB
  // in a Parquet scan, whose rows have no line limit) is no bad usage
  const tooLong = e instanceof RangeError && e.message === "Invalid string length";
  const bad = e instanceof UsageError || (e instanceof RangeError && !tooLong) ||
    (e as Error)?.name === "ScanInputError";
  let full = tooLong
    ? "a part of the answer is longer than a JavaScript string can hold (Invalid string " +
      "length): a path in the scan of tens of megabytes, or an HTML page of a large --top?"
    : String((e as Error)?.message ?? e);
  // the longest first: a name that holds another is escaped whole
  for (const p of [...paths].filter((p) => p.includes("\n")).sort((a, b) => b.length - a.length)) {
    full = full.replaceAll(p, oneLine(p));
  }
  let message = full.split("\n")[0].replace(/^pwalk: /, "");
  // DuckDB's CSV errors put the reason on later lines: keep it on this one
  const cols = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(full);
  if (cols && /CSV Error on Line: \d+$/.test(message)) {
    message += ` has ${cols[2]} of the ${cols[1]} columns (a file cut short, or not pwalk's CSV?)`;
  }
  // a field that is no number where pwalk writes one (empty too: the
  // reader takes no empty number as NULL)
  const field = /^Error when converting column "([^"\n]+)"/m.exec(full);
  if (!cols && field && /CSV Error on Line: \d+$/.test(message)) {
    message += `: column ${field[1]} is not a number as pwalk's CSV writes it`;
    // ... the header again, further down: scans joined with cat
    if (/^Original Line: inode,parent-inode,/m.test(full)) {
      message += " (that line is pwalk's header: two scans joined with cat? give each file " +
        "as a SCAN of its own, or join them without their header lines)";
    }
  }
  // DuckDB's CSV reader lost in a line: say what pwalk knows to cause it
  if (/The CSV Parser state machine reached an invalid state\.$/.test(message)) {
    message += " (a line not as pwalk's CSV writes it: one that ends in CR LF among lines " +
      "that end in LF, a quote not closed?)";
  }
  return exitStatus(bad ? new UsageError(message) : new Error(`pwalk: ${message}`));
}

/**
 * The status line of the summary, diff or convert running (runAnswer):
 * {@link eprint} clears it before its line, {@link writeStdout} ends it.
 */
let statusLine: StatusLine | undefined;

/**
 * `fn` with a {@link StatusLine} of `command` ("pwalk plan") that
 * {@link eprint} clears and {@link writeStdout} ends, as runAnswer's; it
 * is stopped (cleared) when `fn` ends, before anything after it is said.
 */
export async function withStatusLine<T>(
  command: string,
  fn: (line: StatusLine) => Promise<T>,
): Promise<T> {
  const line = new StatusLine(command);
  const before = statusLine;
  statusLine = line;
  try {
    return await fn(line);
  } finally {
    line.stop();
    if (statusLine === line) statusLine = before;
  }
}

/**
 * Run summary, diff or convert: parse `args` by `spec` and
 * {@link ENGINE_OPTIONS}, then `body` with the flags, the operands and the
 * status line of `command` ("pwalk summary"; its `set` is the answers'
 * `onStage`), drawn on stderr while the work goes on when that is a
 * terminal ({@link StatusLine}), and cleared before anything else is
 * printed and at the end. Resolves to 0, or to {@link answerStatus} of
 * what failed. `outputs` names the files the command writes (default:
 * --html FILE): one there before, when a signal removes the partial
 * output, is said to be left as it was (as report says it).
 */
export async function runAnswer(
  args: string[],
  spec: Record<string, Kind>,
  command: string,
  body: (f: Flags, operands: string[], line: StatusLine) => Promise<void>,
  outputs: (f: Flags) => string[] = (f) => f.html === undefined ? [] : [String(f.html)],
): Promise<number> {
  let line: StatusLine | undefined;
  let flags: Flags | undefined;
  const placedBefore = outputsPlaced();
  // DuckDB's work cannot be cancelled midway: a signal removes the partial
  // output and the spill folder, says so, and exits at once.
  const listeners = SIGNALS.map(([name, status]) => {
    const stop = () => {
      line?.stop(); // before the message, and never drawn again
      // a device or FIFO (written directly) has no partial file: what the
      // command staged for it is removed, and nothing is said of a file
      const files = flags ? outputs(flags).filter((o) => !directOutput(o)) : [];
      const staged = removePending();
      runQuitHooks(); // (a name lookup's getent, killed: it would outlive the process)
      let removed = staged && files.length ? "; the partial output was removed" : "";
      // the temporary is gone; a file there now is the one there before
      // (the command renames its own over it only once done)
      const kept = removed ? files.filter((o) => lexists(o)) : [];
      if (kept.length) removed += ` (${kept.join(", ")} was left as it was)`;
      // (its output renamed in place already: the page or copy is whole,
      // what came after it, a summary's text on stdout, is not)
      if (!staged && files.length && outputsPlaced() > placedBefore) {
        removed = `; ${files.join(", ")} was written whole before it`;
      }
      eprint(`pwalk: interrupted by ${name}${removed}`);
      quitting = status; // (main's own end, should the work end meanwhile, keeps it)
      void eprintFlushed().then(() => exitProcess(status));
    };
    return listen(name, stop);
  });
  try {
    const f = flags = parse(args, { ...spec, ...ENGINE_OPTIONS });
    statusLine = line = new StatusLine(command);
    await body(f, f._, line);
    // one that came as it ended (its event waiting while the main thread
    // was busy) is said by this command's listener, as a moment earlier
    await signalsHeard();
    return EXIT.OK;
  } catch (e) {
    line?.stop(); // no half-drawn line before the error
    // a signal's listener said why the command ends (and ends it): the
    // work it cut short (a spill folder or output refused once its
    // clean-up ran: Interrupted) says nothing more
    if (quitting !== undefined) return quitting;
    if (e instanceof HelpRequested) throw e;
    if (e instanceof UsageError && helpAmong(args)) throw new HelpRequested("--help");
    if (stdoutClosed(e)) return EXIT.PIPE; // `pwalk summary --json scan.csv | head -1`
    // the names given: operands and option values (a path with a newline
    // in it is kept whole in the message)
    const given = flags
      ? [
        ...flags._,
        ...Object.values(flags).flatMap((v) =>
          typeof v === "string" ? [v] : Array.isArray(v) ? v : []
        ),
      ]
      : args;
    // and those found in a folder or by a glob, where a newline may be
    // (the module is loaded already when the work has begun)
    const found = String((e as Error)?.message ?? e).includes("\n")
      ? [...(await import("../answers/scan.ts")).FOUND_MULTILINE_NAMES]
      : [];
    return answerStatus(e, [...given, ...found]);
  } finally {
    line?.stop();
    if (statusLine === line) statusLine = undefined;
    for (const remove of listeners) remove();
  }
}

/** Whether `path` is (a link to) a device or FIFO: an output written directly. */
function directOutput(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return !st.isFile && !st.isDirectory;
  } catch {
    return false;
  }
}

/** Whether `path` names anything (a link to nothing too). */
function lexists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The exit statuses of summary, diff and convert, as their --help tells them (runAnswer). */
export const ANSWER_EXIT = `Exit status:
  0    done
  1    a scan that cannot be read whole (cut short, not pwalk's CSV, a
       sharded scan not complete), or an output that cannot be written
  2    bad usage: unknown option, bad value, a scan that names no file
  129, 130, 143   stopped by SIGHUP, SIGINT, SIGTERM (a partial output
       removed)
  141  stdout closed early (summary, diff | head), or convert's OUT, a
       FIFO, closed early by its reader: stopped quietly, as SIGPIPE would
`;

/** The options of the commands that print an answer (summary, diff). */
export const PRINT_OPTIONS: Record<string, Kind> = {
  top: "value",
  depth: "value",
  html: "once",
  json: "flag",
  names: "toggle",
};

/**
 * Check --html FILE before the work (DuckDB's can take minutes): refused
 * when it is one of the `scans` given, when it cannot be written, or when
 * it is a file (not a device or FIFO) named as a scan (.csv, .csv.zst,
 * .csv.gz, .parquet: a scan typed for the page, `--html old.csv.zst
 * new.csv`, would be replaced by HTML). Then starts importing ECharts,
 * which draws the page's charts.
 */
export async function checkHtmlOutput(f: Flags, scans: readonly string[]): Promise<void> {
  if (f.html === undefined) return;
  // `-` is stdout for -o and --errors; here stdout takes the text report,
  // and as a name it would be a file called - in this folder
  if (f.html === "-") {
    throw new UsageError(
      "--html - (stdout): give the page a file name (the text report goes to stdout)",
    );
  }
  const { resolveScans } = await import("../answers/scan.ts");
  // the files each SCAN names (a folder, a glob, a sharded scan), not only the words
  const files = [...scans];
  for (const scan of scans) {
    try {
      files.push(...(await resolveScans([scan])).map((s) => s.path));
    } catch { /* told by the work itself */ }
  }
  const target = await checkedOutput(String(f.html), files, { who: "--html" });
  const { CONVERT_OUTPUT } = await import("../answers/convert.ts");
  if (!target.direct && CONVERT_OUTPUT.test(String(f.html))) {
    throw new RangeError(
      `pwalk: --html ${f.html}: a scan's name (.csv, .csv.zst, .csv.gz, .parquet), ` +
        "not an HTML page's; nothing written",
    );
  }
  // ECharts reads NODE_ENV as it loads: without --allow-env for it, said
  // now, not after DuckDB's work (whose answers the refusal would lose)
  if (Deno.permissions.querySync({ name: "env", variable: "NODE_ENV" }).state !== "granted") {
    throw new Deno.errors.NotCapable(
      'Requires env access to "NODE_ENV" (ECharts reads it, for --html), run again with the ' +
        "--allow-env flag",
    );
  }
  // loaded while DuckDB works, so that Deno's fetch of its registry entry
  // ends (and is cached) before the process does (see preloadECharts)
  (await import("../answers/html.ts")).preloadECharts();
}

/**
 * Print an answer on stdout: as JSON with --json, else as `text` gives it;
 * with --html FILE also the page `html` gives, written whole (and the
 * temporaries beside FILE that runs killed outright left, removed).
 */
export async function printAnswer<T>(
  f: Flags,
  answer: T,
  html: (answer: T) => Promise<string>,
  text: (answer: T) => string | (string | Iterable<string>)[],
): Promise<void> {
  if (f.html) {
    const page = await html(answer), target = await outputTarget(String(f.html));
    await writeWhole(String(f.html), page, target);
    // temporaries a run killed outright (kill -9) left beside it, as convert
    // removes its own
    if (!target.direct) {
      const slash = target.path.lastIndexOf("/");
      await removeBeside(
        `${target.path.slice(0, slash + 1)}.${target.path.slice(slash + 1)}`,
        PARTIAL_BESIDE,
      );
    }
  }
  // In pieces of about 1 MiB: the answer to --top 1000000 (a million rows
  // each padded to the longest path) is more than one JavaScript string
  // holds. (Not blocking: a signal while a reader is slow stops the
  // command at once.)
  const { blockChunks, jsonChunks } = await import("../answers/text.ts");
  const t = f.json ? undefined : text(answer);
  const pieces = t === undefined
    ? jsonChunks(answer)
    : typeof t === "string"
    ? [t][Symbol.iterator]()
    : blockChunks(t);
  let batch: string[] = [], size = 0;
  for (const p of pieces) {
    batch.push(p);
    size += p.length;
    if (size >= 1 << 20) {
      await writeStdoutAsync(batch.join(""));
      batch = [];
      size = 0;
    }
  }
  batch.push("\n");
  await writeStdoutAsync(batch.join(""));
}

/** Thousands separators: 1234567 -> "1,234,567". */
export const num: (n: number) => string = groupDigits;

export { count };
