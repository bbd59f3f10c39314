/**
 * The progress line and the closing summary of the CLI (after ncdu/gdu):
 * position, rate, errors, and what was written.
 *
 * @module
 */
import type { Progress } from "../job.ts";

const num = new Intl.NumberFormat("en-US");

/** 1536 -> "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** One progress line, without line ending. */
export function formatProgress(p: Progress, what = "entries"): string {
  const parts = [
    `${num.format(p.entries)} ${what}`,
    `${num.format(p.rate)}/s`,
    `${num.format(p.folders)} folders`,
    formatBytes(p.bytes),
    `${num.format(p.errors)} errors`,
    `${(p.elapsedMs / 1000).toFixed(1)} s`,
  ];
  if (p.outputBytes) parts.push(`out ${formatBytes(p.outputBytes)}`);
  if (p.changes) parts.push(`${num.format(p.changes)} changes`);
  return `pwalk: ${parts.join("  ")}`;
}

/** Writes progress lines to stderr: redrawn in place on a terminal, else one per call. */
export class ProgressLine {
  #enc = new TextEncoder();
  #tty: boolean;
  #last = 0;
  #drawn = false;
  #minGapMs: number;

  /** @param tty redraw in place (stderr is a terminal) */
  constructor(tty: boolean) {
    this.#tty = tty;
    this.#minGapMs = tty ? 0 : 1000;
  }

  /** Show a progress record. */
  update(p: Progress): void {
    if (p.elapsedMs - this.#last < this.#minGapMs) return;
    this.#last = p.elapsedMs;
    const line = formatProgress(p);
    this.#write(this.#tty ? `\r\x1b[K${line}` : `${line}\n`);
    this.#drawn = this.#tty;
  }

  /** Clear the line (before printing something else). */
  clear(): void {
    if (this.#drawn) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  #write(s: string): void {
    try {
      Deno.stderr.writeSync(this.#enc.encode(s));
    } catch {
      // stderr closed: progress is best effort
    }
  }
}
