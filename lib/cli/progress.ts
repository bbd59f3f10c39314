/**
 * The progress line (after ncdu/gdu) and the numbers of the summary line.
 *
 * On a terminal the line is redrawn in place and always fits the width of
 * the terminal (it never wraps): the folder being read is shortened in the
 * middle, and when even that is not enough the least useful fields go
 * first (on a dumb terminal, TERM=dumb, which knows no escape sequence:
 * blanks over the rest of the previous line). In a log (Slurm, cron) it
 * is a plain line every so many seconds.
 *
 * @module
 */
import type { Progress } from "../job.ts";
import type { Stage } from "../answers/duck.ts";
import { count, num } from "./common.ts";
import { native } from "../ffi.ts";
import { columns, prefixInColumns } from "../width.ts";

/**
 * Bytes in binary units: `formatBytes(1536)` is "1.5 KiB"; the unit is the
 * one where the rounded figure is under 1024 (1048575 is "1.0 MiB", not
 * "1024.0 KiB").
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while ((n >= 1024 || (i > 0 && n.toFixed(1) === "1024.0")) && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** Elapsed time as h:mm:ss: `clock(83_000)` is "0:01:23". */
export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/**
 * A run's duration for a summary: "2.31 s" under a minute (as rounded to
 * hundredths: 59,999 ms is "0:01:00", not "60.00 s"), else h:mm:ss.
 */
export function duration(ms: number): string {
  const cs = Math.round(ms / 10);
  return cs < 6000 ? `${(cs / 100).toFixed(2)} s` : clock(Math.max(ms, 60_000));
}

/**
 * `s` in at most `max` columns, shortened in the middle with "…"; control
 * characters (a newline in a name), U+2028, U+2029 and format characters
 * (U+202E, U+200B, ...) become "?" so that it stays one line and shows
 * what is there:
 * `middle("/data/projects/genome/raw", 16)` is "/data/pr…ome/raw".
 */
export function middle(s: string, max: number): string {
  // control characters (C0, DEL, C1), which a terminal would act on, the
  // line and paragraph separators U+2028, U+2029 (a line break to some
  // terminals) and the format characters (Unicode's Cf: bidirectional
  // controls, zero-width characters, the BOM), the set summary escapes
  // (lib/answers/text.ts visible), become "?"
  // deno-lint-ignore no-control-regex
  s = s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/gu, "?");
  const chars = [...s];
  if (columns(s) <= max) return chars.join("");
  if (max < 1) return "";
  const room = max - 1;
  const head = prefixInColumns(chars, Math.floor(room / 2));
  const tail = prefixInColumns([...chars].reverse(), room - columns(head.join(""))).reverse();
  return `${head.join("")}…${tail.join("")}`;
}

/** The narrowest the folder being read is shown; below that it is left out. */
const MIN_PATH = 16;

/**
 * One progress line in at most `max` columns. Fields by importance: entries,
 * elapsed time, the folder being read, errors, changes (repair), rate,
 * apparent size, folders, allocated size, output written; the least
 * important go first when the line is narrow; too narrow for the clock
 * after the entries, the shortest forms that fit: the clock and the bare
 * count, the clock, the clock without its hour. In display
 * order:
 * `0:01:23  1,234,567 entries  14,874/s  45,678 folders  1.2 TiB (1.1 TiB
 * alloc)  0 errors  /data/pro…/run1`.
 */
export function formatProgress(p: Progress, max = Infinity): string {
  const fields: [rank: number, text: string][] = [
    [2, clock(p.elapsedMs)],
    [1, count(p.entries, "entry", "entries")],
    [6, `${num(p.rate)}/s`],
    [8, count(p.folders, "folder")],
    [7, formatBytes(p.bytes)],
    [9, `(${formatBytes(p.allocatedBytes)} alloc)`],
    [4, count(p.errors, "error")],
  ];
  if (p.changes) fields.push([5, count(p.changes, "change")]);
  if (p.outputBytes) fields.push([10, `out ${formatBytes(p.outputBytes)}`]);
  const path = p.current ? [3, p.current] as const : undefined;
  // Keep fields by rank while they fit, the path at its narrowest.
  const kept = new Set<number>();
  let used = -2;
  let withPath = false;
  for (const [rank, text] of [...fields, ...path ? [path] : []].sort((a, b) => a[0] - b[0])) {
    // (the folder: its own width when shorter than the narrowest shown)
    const w = 2 +
      (rank === 3 ? Math.min(MIN_PATH, columns(middle(text, Infinity))) : columns(text));
    // a field that does not fit ends the line: the next ones rank lower
    // (the folder being read alone is left out and the rest go on)
    if (used + w > max) {
      if (rank === 3) continue;
      break;
    }
    used += w;
    if (rank === 3) withPath = true;
    else kept.add(rank);
  }
  const parts = fields.filter(([rank]) => kept.has(rank)).map(([, text]) => text);
  if (!kept.has(2)) {
    // a pane too narrow for the entries and the clock (a tmux split): the
    // shortest forms, never an empty line while one fits
    const t = clock(p.elapsedMs);
    // (the clock before the entries alone: it shows the run is alive)
    const short = [`${t}  ${num(p.entries)}`, t, t.replace(/^0:/, "")];
    return short.find((s) => columns(s) <= max) ?? "";
  }
  const line = parts.join("  ");
  if (!withPath) return line;
  return `${line}  ${middle(p.current, max === Infinity ? Infinity : max - columns(line) - 2)}`;
}

const enc = new TextEncoder();

/**
 * The terminal's width in columns, read at each draw (a resized pane is
 * followed); when it tells 0 (`script` with no terminal above it, some CI
 * pseudo-terminals) or none, $COLUMNS when it is a whole number of columns
 * (1 to 10000), else 80.
 */
export function terminalColumns(): number {
  try {
    const cols = Deno.consoleSize().columns;
    if (cols > 0) return cols;
  } catch {
    // no size known
  }
  let env: string | undefined;
  try {
    env = Deno.env.get("COLUMNS");
  } catch {
    // no --allow-env
  }
  const n = env !== undefined && /^\d{1,5}$/.test(env.trim()) ? Number(env.trim()) : 0;
  return n >= 1 && n <= 10_000 ? n : 80;
}

/** Whether $TERM is "dumb" (Emacs' shell, some CI consoles): a terminal without ESC[K. */
function dumbTerminal(): boolean {
  try {
    return Deno.env.get("TERM") === "dumb";
  } catch {
    return false; // no --allow-env: as before
  }
}

/**
 * A line redrawn in place on stderr's terminal: `\r`, the line, ESC[K
 * (clear to its end). A dumb terminal (TERM=dumb) knows no escape
 * sequence and would show ESC[K as text: there the line is padded with
 * blanks over what the previous one left, and cleared with blanks.
 */
class InPlace {
  #dumb = dumbTerminal();
  /** Columns of the line on screen (a dumb terminal's, to blank). */
  #shown = 0;

  draw(line: string): void {
    if (!this.#dumb) {
      write(`\r${line}\x1b[K`);
      return;
    }
    const w = columns(line);
    write(`\r${line}${" ".repeat(Math.max(0, this.#shown - w))}`);
    this.#shown = w;
  }

  clear(): void {
    if (!this.#dumb) {
      write("\r\x1b[K");
      return;
    }
    write(`\r${" ".repeat(this.#shown)}\r`);
    this.#shown = 0;
  }
}

/** Whether this process has the foreground of stderr's terminal (true when unknown). */
function foreground(): boolean {
  try {
    return native().pw_foreground(2) !== 0;
  } catch {
    return true; // no library loaded here: drawn as before
  }
}

/**
 * The progress line on stderr: on a terminal redrawn in place, fitting its
 * width (read at each draw: a resized pane is followed); otherwise one plain
 * line every `everyMs` for logs.
 *
 * @example
 * ```ts ignore
 * const line = new ProgressLine(Deno.stderr.isTerminal(), 60_000);
 * await report("/data", { onProgress: (p) => line.update(p) });
 * line.clear();
 * ```
 */
export class ProgressLine {
  #tty: boolean;
  #line = new InPlace();
  #everyMs: number;
  #last = 0;
  #drawn = false;

  /**
   * A progress line: redrawn in place when `tty` (stderr is a terminal),
   * else a plain line every `everyMs`.
   */
  constructor(tty: boolean, everyMs = 60_000) {
    this.#tty = tty;
    this.#everyMs = everyMs;
  }

  /** Whether the line is redrawn in place (a terminal), not printed as lines. */
  get redrawn(): boolean {
    return this.#tty;
  }

  /** Show a progress record. */
  update(p: Progress): void {
    if (!this.#tty) {
      if (p.elapsedMs - this.#last < this.#everyMs) return;
      this.#last = p.elapsedMs;
      write(`pwalk: progress ${formatProgress(p)}\n`);
      return;
    }
    // put in the background (Ctrl-Z, bg): the terminal is the shell's now,
    // the line would be drawn over its prompt; drawn again after fg
    if (!foreground()) {
      this.#drawn = false;
      return;
    }
    const cols = terminalColumns();
    // One column short of the width: a line reaching the last column may wrap.
    this.#line.draw(formatProgress(p, cols - 1));
    this.#drawn = true;
  }

  /** Clear the line (before printing something else). */
  clear(): void {
    if (this.#drawn && foreground()) this.#line.clear();
    this.#drawn = false;
  }
}

/** The narrowest a scan's name is shown in a status line; below that it is left out. */
const MIN_NAME = 16;

/**
 * The status line of summary, diff and convert in at most `max` columns:
 * `pwalk summary: reading /data/scan.csv.zst  0:00:42`, `command: step
 * name  h:mm:ss`. A narrow terminal shortens the name in the middle (see
 * {@link middle}); narrower still, the name goes, then the command, then
 * the step: the clock goes last (its hour first), and an empty line only
 * where not even that fits.
 */
export function formatStage(
  command: string,
  stage: Stage,
  elapsedMs: number,
  max = Infinity,
): string {
  const t = clock(elapsedMs);
  const head = `${command}: ${stage.step}`;
  if (stage.name !== undefined) {
    const room = max - columns(head) - 1 - 2 - columns(t);
    // (a short name is shown whole where it fits, a long one down to MIN_NAME)
    const whole = columns(middle(stage.name, Infinity));
    if (whole > 0 && room >= Math.min(MIN_NAME, whole)) {
      return `${head} ${middle(stage.name, room)}  ${t}`;
    }
  }
  const short = [`${head}  ${t}`, `${stage.step}  ${t}`, t, t.replace(/^0:/, "")];
  return short.find((s) => columns(s) <= max) ?? "";
}

/** Options of a {@link StatusLine}. */
export interface StatusLineOptions {
  /** Whether stderr is a terminal. Default: `Deno.stderr.isTerminal()`. */
  tty?: boolean;
  /**
   * How long the work goes on before the line is first drawn, in ms.
   * Default 2000, or the environment variable PWALK_PROGRESS_AFTER_MS (for
   * tests).
   */
  afterMs?: number;
  /** How often it is redrawn, in ms. Default 500. */
  everyMs?: number;
}

/** PWALK_PROGRESS_AFTER_MS (a whole number of ms), else 2000. */
function delayFromEnv(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("PWALK_PROGRESS_AFTER_MS");
  } catch {
    // no --allow-env: the default
  }
  return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : 2000;
}

/**
 * The status line of a long answer (summary, diff, convert), after
 * DuckDB's own CLI and ncdu: on a terminal, once the work has gone on
 * for 2 s, one line on stderr redrawn in place every 0.5 s with the
 * command, the stage ({@link Stage}) and the time elapsed, fitting the
 * terminal's width (see {@link formatStage}); not drawn while the process
 * is in the background. Not a terminal: nothing at all. Its timer never
 * keeps the process alive; {@link StatusLine.stop} ends it.
 *
 * @example
 * ```ts ignore
 * const line = new StatusLine("pwalk summary");
 * try {
 *   const s = await summarize(scans, { onStage: (st) => line.set(st) });
 *   line.stop();
 *   console.log(s.totals);
 * } finally {
 *   line.stop();
 * }
 * ```
 */
export class StatusLine {
  #command: string;
  #stage: Stage | undefined;
  #start = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #interval: ReturnType<typeof setInterval> | undefined;
  #drawn = false;
  #stopped = false;
  #line = new InPlace();

  /** A status line for `command` ("pwalk summary"), started now. */
  constructor(command: string, o: StatusLineOptions = {}) {
    this.#command = command;
    const tty = o.tty ?? isTerminal();
    if (!tty) {
      this.#stopped = true;
      return;
    }
    const every = o.everyMs ?? 500;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#draw();
      const interval = setInterval(() => this.#draw(), every);
      Deno.unrefTimer(interval);
      this.#interval = interval;
    }, o.afterMs ?? delayFromEnv());
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** The stage now begun: drawn at once once the line shows, else when it first does. */
  set(stage: Stage): void {
    this.#stage = stage;
    if (this.#interval !== undefined) this.#draw();
  }

  /**
   * The stage's new figures (counts that change with each folder): shown
   * at the next redraw, not at once (one write per change would be one
   * per folder).
   */
  update(stage: Stage): void {
    this.#stage = stage;
  }

  /** Clear the line if drawn (before something else is printed); drawn again at the next redraw. */
  clear(): void {
    if (this.#drawn && foreground()) this.#line.clear();
    this.#drawn = false;
  }

  /** Clear the line and draw it no more (the work ended, or the answer is printed). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#interval);
    this.#timer = this.#interval = undefined;
    this.clear();
  }

  #draw(): void {
    if (this.#stopped || !this.#stage) return;
    // in the background (Ctrl-Z, bg): the terminal is the shell's now
    if (!foreground()) {
      this.#drawn = false;
      return;
    }
    const cols = terminalColumns();
    // One column short of the width: a line reaching the last column may wrap.
    const line = formatStage(this.#command, this.#stage, performance.now() - this.#start, cols - 1);
    this.#line.draw(line);
    this.#drawn = true;
  }
}

/** Whether stderr is a terminal (false when unknown). */
function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Write to stderr, best effort. */
function write(s: string): void {
  try {
    Deno.stderr.writeSync(enc.encode(s));
  } catch {
    // stderr closed: progress is best effort
  }
}
