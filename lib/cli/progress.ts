/**
 * The progress line (after ncdu/gdu) and the numbers of the summary line.
 *
 * On a terminal the line is redrawn in place and always fits the width of
 * the terminal (it never wraps): the folder being read is shortened in the
 * middle, and when even that is not enough the least useful fields go
 * first. In a log (Slurm, cron) it is a plain line every so many seconds.
 *
 * @module
 */
import type { Progress } from "../job.ts";
import { count, num } from "./common.ts";
import { native } from "../ffi.ts";

/**
 * Bytes in binary units: `formatBytes(1536)` is "1.5 KiB".
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
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

/** A run's duration for a summary: "2.31 s" under a minute, else h:mm:ss. */
export function duration(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(2)} s` : clock(ms);
}

/**
 * Every code point glibc's wcwidth (2.36, Unicode 15.0; Debian 12) shows two
 * columns wide, as ranges (the East Asian blocks, and the emoji of
 * Unicode's Emoji_Presentation list among the symbols: ⌚ ⌛ ✅ ❌ ⭐ ...): tests/cli_progress_test.ts checks it against the
 * running system's wcwidth.
 */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x2e99],
  [0x2e9b, 0x2ef3],
  [0x2f00, 0x2fd5],
  [0x2ff0, 0x2ffb],
  [0x3000, 0x3029],
  [0x302e, 0x303e],
  [0x3041, 0x3096],
  [0x309b, 0x30ff],
  [0x3105, 0x312f],
  [0x3131, 0x318e],
  [0x3190, 0x31e3],
  [0x31f0, 0x321e],
  [0x3220, 0xa48c],
  [0xa490, 0xa4c6],
  [0xa960, 0xa97c],
  [0xac00, 0xd7a3],
  [0xf900, 0xfa6d],
  [0xfa70, 0xfad9],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe52],
  [0xfe54, 0xfe66],
  [0xfe68, 0xfe6b],
  [0xff01, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe3],
  [0x16ff0, 0x16ff1],
  [0x17000, 0x187f7],
  [0x18800, 0x18cd5],
  [0x18d00, 0x18d08],
  [0x1aff0, 0x1aff3],
  [0x1aff5, 0x1affb],
  [0x1affd, 0x1affe],
  [0x1b000, 0x1b122],
  [0x1b150, 0x1b152],
  [0x1b164, 0x1b167],
  [0x1b170, 0x1b2fb],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f202],
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
  [0x1f260, 0x1f265],
  [0x1f300, 0x1f320],
  [0x1f32d, 0x1f335],
  [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393],
  [0x1f3a0, 0x1f3ca],
  [0x1f3cf, 0x1f3d3],
  [0x1f3e0, 0x1f3f0],
  [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e],
  [0x1f440, 0x1f440],
  [0x1f442, 0x1f4fc],
  [0x1f4ff, 0x1f53d],
  [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567],
  [0x1f57a, 0x1f57a],
  [0x1f595, 0x1f596],
  [0x1f5a4, 0x1f5a4],
  [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5],
  [0x1f6cc, 0x1f6cc],
  [0x1f6d0, 0x1f6d2],
  [0x1f6d5, 0x1f6d7],
  [0x1f6dd, 0x1f6df],
  [0x1f6eb, 0x1f6ec],
  [0x1f6f4, 0x1f6fc],
  [0x1f7e0, 0x1f7eb],
  [0x1f7f0, 0x1f7f0],
  [0x1f90c, 0x1f93a],
  [0x1f93c, 0x1f945],
  [0x1f947, 0x1f9ff],
  [0x1fa70, 0x1fa74],
  [0x1fa78, 0x1fa7c],
  [0x1fa80, 0x1fa86],
  [0x1fa90, 0x1faac],
  [0x1fab0, 0x1faba],
  [0x1fac0, 0x1fac5],
  [0x1fad0, 0x1fad9],
  [0x1fae0, 0x1fae7],
  [0x1faf0, 0x1faf6],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b738],
  [0x2b740, 0x2b81d],
  [0x2b820, 0x2cea1],
  [0x2ceb0, 0x2ebe0],
  [0x2f800, 0x2fa1d],
  [0x30000, 0x3134a],
];

/** Whether c lies in one of WIDE's ranges (binary search). */
function inWide(c: number): boolean {
  let lo = 0, hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < WIDE[mid][0]) hi = mid - 1;
    else if (c > WIDE[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * Terminal columns of one code point: 2 for wide ones (East Asian, emoji:
 * glibc's table, and whole blocks of them, so that code points newer than
 * the table count wide too), else 1. Zero-width marks count 1 too: a
 * column of slack, never a wrap.
 */
function width(c: number): number {
  if (c < 0x1100) return 1;
  if (inWide(c)) return 2;
  if (
    (c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f004 && c <= 0x1faff) || (c >= 0x20000 && c <= 0x3fffd)
  ) return 2;
  return 1;
}

/** Terminal columns a string takes. */
export function columns(s: string): number {
  let n = 0;
  for (const ch of s) n += width(ch.codePointAt(0)!);
  return n;
}

/**
 * `s` in at most `max` columns, shortened in the middle with "…"; control
 * characters (a newline in a name) become "?" so that it stays one line:
 * `middle("/data/projects/genome/raw", 16)` is "/data/pr…ome/raw".
 */
export function middle(s: string, max: number): string {
  // control characters (C0, DEL, C1) and bidirectional overrides, which a
  // terminal would act on, become "?"
  // deno-lint-ignore no-control-regex
  s = s.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "?");
  const chars = [...s];
  if (columns(s) <= max) return chars.join("");
  if (max < 1) return "";
  const take = (from: string[], room: number) => {
    const out: string[] = [];
    for (const ch of from) {
      room -= width(ch.codePointAt(0)!);
      if (room < 0) break;
      out.push(ch);
    }
    return out;
  };
  const room = max - 1;
  const head = take(chars, Math.floor(room / 2));
  const tail = take([...chars].reverse(), room - columns(head.join(""))).reverse();
  return `${head.join("")}…${tail.join("")}`;
}

/** The narrowest the folder being read is shown; below that it is left out. */
const MIN_PATH = 16;

/**
 * One progress line in at most `max` columns. Fields by importance: entries,
 * elapsed time, the folder being read, errors, changes (repair), rate,
 * apparent size, folders, allocated size, output written; the least
 * important go first when the line is narrow. In display order:
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
    const w = 2 + (rank === 3 ? MIN_PATH : columns(text));
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
  const line = parts.join("  ");
  if (!withPath) return line;
  return `${line}  ${middle(p.current, max === Infinity ? Infinity : max - columns(line) - 2)}`;
}

const enc = new TextEncoder();

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
      this.#write(`pwalk: progress ${formatProgress(p)}\n`);
      return;
    }
    // put in the background (Ctrl-Z, bg): the terminal is the shell's now,
    // the line would be drawn over its prompt; drawn again after fg
    if (!foreground()) {
      this.#drawn = false;
      return;
    }
    let cols = 80;
    try {
      // a terminal that tells 0 columns (some CI pseudo-terminals): 80
      cols = Deno.consoleSize().columns || 80;
    } catch {
      // no size known: 80 columns
    }
    // One column short of the width: a line reaching the last column may wrap.
    this.#write(`\r${formatProgress(p, cols - 1)}\x1b[K`);
    this.#drawn = true;
  }

  /** Clear the line (before printing something else). */
  clear(): void {
    if (this.#drawn && foreground()) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  #write(s: string): void {
    try {
      Deno.stderr.writeSync(enc.encode(s));
    } catch {
      // stderr closed: progress is best effort
    }
  }
}
