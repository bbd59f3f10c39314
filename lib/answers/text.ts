/**
 * Plain-text tables fitted to a width, for `pwalk summary` and `pwalk diff`.
 *
 * @module
 */

import { count as counted, groupDigits } from "../digits.ts";
import { columns } from "../width.ts";
import type { Diff, UnlistedFolder } from "./diff.ts";

/** 1234567 -> "1,234,567" (see lib/digits.ts). */
export const count: (n: number) => string = groupDigits;

/**
 * Bytes in binary units: 1536 -> "1.5 KiB", 0 -> "0 B"; a sign for
 * negatives. The unit is the one where the rounded figure is under 1024:
 * 1048575 is "1.0 MiB", not "1024.0 KiB".
 */
export function bytes(n: number): string {
  const sign = n < 0 ? "-" : "";
  let v = Math.abs(n);
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while ((v >= 1024 || (i > 0 && v.toFixed(1) === "1024.0")) && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${sign}${v} B` : `${sign}${v.toFixed(1)} ${units[i]}`;
}

/**
 * The warning of a summary whose folders have rows under two or more paths
 * (Totals' foldersSeenTwice; the text and the HTML page both print it).
 */
export function seenTwiceWarning(folders: number): string {
  return `warning: ${counted(folders, "folder")} ${folders === 1 ? "has" : "have"} rows under ` +
    "two or more paths " +
    "(a folder moved between two shards' walks, or a bind mount), or twice under one (a scan " +
    "file read twice: a copy of a shard's output beside it): their entries count once per row";
}

/** A signed byte amount: "+1.5 KiB", "-2 B", "0 B". */
export function delta(n: number): string {
  return n > 0 ? `+${bytes(n)}` : bytes(n);
}

/**
 * The folders of {@link Diff.unlisted} as the text and the HTML page show
 * them, right below the totals: a table each side that has any, with its
 * id, title and the other scan's name (its column of names listed).
 */
export function unlistedTables(
  d: Pick<Diff, "unlisted">,
): { id: string; title: string; other: string; rows: UnlistedFolder[] }[] {
  const sides = [
    ["unlisted-new", "NEW", "OLD", d.unlisted.new, d.unlisted.newCount, "removed"],
    ["unlisted-old", "OLD", "NEW", d.unlisted.old, d.unlisted.oldCount, "added"],
  ] as const;
  return sides.filter(([, , , , n]) => n > 0).map(([id, side, other, rows, n, as]) => ({
    id,
    title: `Folders that listed nothing in ${side} though unchanged since ${other} (same ` +
      `inode, size and mtime): most likely unreadable when ${side} was scanned (see its ` +
      `errors), not emptied; the entries below them count as ${as} (top ${rows.length} of ` +
      `${count(n)})`,
    other,
    rows,
  }));
}

/** A signed count: "+12", "-3", "0". */
export function deltaCount(n: number): string {
  return n > 0 ? `+${count(n)}` : count(n);
}

/**
 * Seconds since the epoch as a UTC date, "2026-11-30", in the proleptic
 * Gregorian calendar. Any 64-bit time is a date (a file's mtime may be
 * anything: on tmpfs any user sets one with utimensat): a year outside
 * 0000-9999 is written with its sign and six digits at least, as
 * `Date.prototype.toISOString` writes one ("+255479-11-28",
 * "-001199-02-15"); past JavaScript's dates (about 275,000 years from 1970)
 * too, by integer arithmetic. A time beyond ±2^53 s (285 million years) is
 * read from the scan as the nearest double: its date is that one's.
 */
export function date(secs: number): string {
  if (!Number.isFinite(secs)) return String(secs);
  // days since 1970-01-01, then civil_from_days (H. Hinnant): 400-year eras
  // of 146097 days, years from March so the leap day ends the year
  const s = BigInt(Math.floor(secs));
  const days = s / 86400n - (s % 86400n < 0n ? 1n : 0n);
  const z = days + 719468n;
  const era = (z >= 0n ? z : z - 146096n) / 146097n;
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  const y = yoe + era * 400n + (m <= 2n ? 1n : 0n);
  const two = (n: bigint) => String(n).padStart(2, "0");
  const year = y >= 0n && y <= 9999n
    ? String(y).padStart(4, "0")
    : (y < 0n ? "-" : "+") + String(y < 0n ? -y : y).padStart(6, "0");
  return `${year}-${two(m)}-${two(d)}`;
}

/**
 * The width to fit: the terminal's when stdout is one, else $COLUMNS, else
 * none (Infinity: a report mailed by cron or written to a file keeps whole
 * paths, which are what an admin acts on). A terminal that tells 0 columns
 * (no size known) takes $COLUMNS, else 80.
 */
export function outputWidth(): number {
  let terminal = false;
  try {
    if (Deno.stdout.isTerminal()) {
      terminal = true;
      // 0: a terminal that tells no width (`script` with no terminal
      // above it, some CI pseudo-terminals): $COLUMNS, else 80, as the
      // progress line takes it, not 40 with $COLUMNS ignored
      const told = Deno.consoleSize().columns;
      if (told > 0) return Math.max(40, told);
    }
  } catch {
    // not a terminal, or one whose size cannot be read
  }
  let c = NaN;
  try {
    c = Number(Deno.env.get("COLUMNS"));
  } catch {
    // no --allow-env for it: asked after the answers are computed, which
    // such a refusal would throw away (none: whole paths, as for a file)
  }
  return Number.isInteger(c) && c >= 40 ? c : terminal ? 80 : Infinity;
}

/** What {@link visible} writes as an escape: one code point of it (`UNSAFE_ALL`: every one). */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}\\]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "gu");

/**
 * A name as it may reach a terminal: control characters (C0, DEL, and the
 * C1 controls U+0080-U+009F, which terminals honouring 8-bit controls act
 * on) written `\xHH` (a C1 control `\xc2\xHH`, its UTF-8 bytes, as
 * the CLI's messages write them); the line and paragraph separators
 * U+2028, U+2029 (a line break to some terminals); and every format
 * character (Unicode category Cf): the bidirectional controls, which
 * reorder what follows them on the line (embeddings, overrides and
 * isolates U+202A-U+202E, U+2066-U+2069; the marks U+200E, U+200F,
 * U+061C), and the invisible ones (zero-width space and joiners
 * U+200B-U+200D, word joiner and invisible operators U+2060-U+2064, the
 * BOM U+FEFF, the soft hyphen U+00AD, tag characters U+E0000-U+E007F,
 * ...), written `\u202e` (`\u{e0041}` above U+FFFF): a file named by
 * another user cannot drive the admin's terminal or disguise a path
 * ("a\u202etxt.exe" shown as "aexe.txt", "a\u200bb" as "ab"). An emoji
 * sequence joined by U+200D shows its parts with `\u200d` between: its
 * width differs between terminals. A backslash is written `\\`, so that
 * no escape reads as a name that holds it (a file named `a\u202eb`, with
 * a real backslash, shows as `a\\u202eb`), as the stderr lines and the
 * journal's paths write it. The HTML pages show names the same way.
 */
export function visible(s: string): string {
  // (most names have nothing to escape: tested first, a scan without the
  // replace's callback machinery)
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_ALL, (c) => {
    const n = c.codePointAt(0)!;
    const h = (x: number) => `\\x${x.toString(16).padStart(2, "0")}`;
    if (n > 0xffff) return `\\u{${n.toString(16)}}`;
    if (n > 0x9f) return `\\u${n.toString(16).padStart(4, "0")}`;
    if (c === "\\") return "\\\\";
    return n >= 0x80 ? h(0xc2) + h(n) : h(n);
  });
}

let graphemes: Intl.Segmenter | undefined;

/**
 * The longest start of `parts` (grapheme clusters) that fits in `room`
 * columns, each cluster taking the columns of its code points.
 */
function prefixOfClusters(parts: string[], room: number): string[] {
  const out: string[] = [];
  for (const p of parts) {
    room -= columns(p);
    if (room < 0) break;
    out.push(p);
  }
  return out;
}

/**
 * Cut a string to `w` terminal columns (a wide character, CJK or emoji,
 * takes two: see lib/width.ts), keeping its start and end ("/data/…/file"),
 * after making it {@link visible}: every name the text output prints goes
 * through here. The cut falls between grapheme clusters (Intl.Segmenter,
 * made when a name is first cut): never between a flag's two regional
 * indicators, nor between a letter and its combining accent; nor inside
 * an escape ({@link visibleUnits}).
 */
export function fit(s: string, w: number): string {
  return fitVisible(visible(s), w);
}

/** One escape {@link visible} writes (a C1 control's two `\xHH` one escape). */
const ESCAPE = /\\(?:\\|xc2\\x[0-9a-f]{2}|x[0-9a-f]{2}|u\{[0-9a-f]+\}|u[0-9a-f]{4})/g;

/**
 * The units a string made {@link visible} is cut between: its grapheme
 * clusters, and each escape whole (a cut inside `\x0a` or `\\` would leave
 * a lone backslash: `a\…` could be a newline or a backslash cut).
 */
export function visibleUnits(s: string): string[] {
  graphemes ??= new Intl.Segmenter("en", { granularity: "grapheme" });
  const out: string[] = [];
  let at = 0;
  const text = (t: string) => {
    for (const g of graphemes!.segment(t)) out.push(g.segment);
  };
  for (const m of s.matchAll(ESCAPE)) {
    text(s.slice(at, m.index));
    out.push(m[0]);
    at = m.index + m[0].length;
  }
  text(s.slice(at));
  return out;
}

/** {@link fit} of a string already made {@link visible}. */
function fitVisible(s: string, w: number): string {
  if (columns(s) <= w) return s;
  const parts = visibleUnits(s);
  if (w <= 1) return prefixOfClusters(parts, w).join("");
  const head = prefixOfClusters(parts, Math.ceil((w - 1) / 2));
  const room = w - 1 - columns(head.join(""));
  const tail = prefixOfClusters(parts.slice(head.length).reverse(), room).reverse();
  return head.join("") + "…" + tail.join("");
}

/**
 * A line fitted to `w` terminal columns by breaking it between words (at
 * `sep`, a space by default: "entries 12  files 10" broken at "  " keeps
 * each name with its figure; the lines after the first indented by
 * `indent`), never inside one: only a word wider than its line, a long
 * path, is cut by {@link fit} (keeping its start and end). Made
 * {@link visible} first, as fit() does.
 */
export function wrap(s: string, w: number, indent = "  ", sep = " "): string {
  s = visible(s);
  if (columns(s) <= w) return s;
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(sep).map((x) => x.trim()).filter((x) => x !== "")) {
    if (line !== "" && columns(line) + columns(sep) + columns(word) <= w) {
      line += sep + word;
      continue;
    }
    if (line !== "") lines.push(line);
    const lead = lines.length ? indent : "";
    // (the word is visible already: fit() would escape its escapes again)
    line = lead + fitVisible(word, Math.max(1, w - columns(lead)));
  }
  lines.push(line);
  return lines.join("\n");
}

/**
 * A table: a title (wrapped between words where it is too wide), a header,
 * rows, measured in terminal columns (a CJK name's characters take two
 * each). Column `flex` (default 0) takes
 * the width left by the others and is cut to fit; the other columns are
 * right-aligned unless listed in `left`. Columns listed in `optional`
 * (default: every column after the first besides the flex one) are left
 * out, the last listed first, while the flex column would get fewer than
 * 16 characters.
 */
export function table(
  title: string,
  head: string[],
  rows: string[][],
  width: number,
  o: { flex?: number; left?: number[]; optional?: number[] } = {},
): string {
  return [...tableLines(title, head, rows, width, o)].join("\n");
}

/**
 * {@link table}'s lines, made as they are taken: a table of a million rows
 * (`--top 1000000`), each padded to its longest path when stdout is no
 * terminal, is more text than one JavaScript string holds (about 512 MiB),
 * and more than memory need hold at once.
 */
export function* tableLines(
  title: string,
  head: string[],
  rows: string[][],
  width: number,
  o: { flex?: number; left?: number[]; optional?: number[] } = {},
): Generator<string> {
  let flex = o.flex ?? 0;
  const optional = [
    ...(o.optional ?? head.map((_, i) => i).filter((i) => i !== flex).slice(1)),
  ];
  const keep = (widths: number[], flex: number) =>
    widths.reduce((a, w, i) => (i === flex ? a : a + w + 2), 0);
  let left = o.left ?? [];
  head = head.map(visible);
  rows = rows.map((r) => r.map(visible));
  // (a loop: Math.max(...cells) takes no more than ~150,000 arguments)
  let widths = head.map((h) => columns(h));
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], columns(r[i]));
  }
  while (
    optional.length && width - keep(widths, flex) < Math.max(8, Math.min(16, widths[flex]))
  ) {
    const gone = optional.pop()!;
    const at = (i: number) => i - (i > gone ? 1 : 0);
    head = head.filter((_, i) => i !== gone);
    rows = rows.map((r) => r.filter((_, i) => i !== gone));
    widths = widths.filter((_, i) => i !== gone);
    left = left.filter((i) => i !== gone).map(at);
    optional.splice(0, optional.length, ...optional.map(at));
    flex = at(flex);
  }
  const aligned = new Set([flex, ...left]);
  const others = keep(widths, flex);
  widths[flex] = Math.max(8, Math.min(widths[flex], width - others));
  const line = (cells: string[]) =>
    cells.map((c, i) => {
      const s = i === flex ? fitVisible(c, widths[i]) : c;
      const pad = " ".repeat(Math.max(0, widths[i] - columns(s)));
      return aligned.has(i) ? s + pad : pad + s;
    }).join("  ").trimEnd();
  yield wrap(title, width);
  yield line(head);
  if (rows.length === 0) yield "  (none)";
  for (const r of rows) yield line(r);
}

/** A block of text: whole, or as its lines ({@link tableLines}). */
export type Block = string | Iterable<string>;

/** Blocks, a blank line between two, as pieces of text in order (no newline at the end). */
export function* blockChunks(blocks: Block[]): Generator<string> {
  for (let i = 0; i < blocks.length; i++) {
    if (i) yield "\n\n";
    const b = blocks[i];
    if (typeof b === "string") yield b;
    else {
      let first = true;
      for (const l of b) {
        yield first ? l : "\n" + l;
        first = false;
      }
    }
  }
}

/** {@link blockChunks} as one string (an answer of ordinary size). */
export function joinBlocks(blocks: Block[]): string {
  return [...blockChunks(blocks)].join("");
}

/**
 * `JSON.stringify(v, null, 2)` in pieces, in order: the top two levels
 * (an answer's lists and their rows) taken apart, each row stringified
 * alone, so that a `--top 1000000` answer never has to be one string.
 */
export function* jsonChunks(v: unknown, indent = "", depth = 0): Generator<string> {
  const plain = v !== null && typeof v === "object" &&
    typeof (v as { toJSON?: unknown }).toJSON !== "function";
  if (depth >= 2 || !plain) {
    const s = JSON.stringify(v, null, 2) ?? "null";
    // (a string's newline is "\\n" in JSON: only the layout's are real)
    yield indent ? s.replaceAll("\n", "\n" + indent) : s;
    return;
  }
  const inner = indent + "  ";
  if (Array.isArray(v)) {
    if (!v.length) return void (yield "[]");
    yield "[\n";
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      yield inner;
      yield* jsonChunks(
        x === undefined || typeof x === "function" || typeof x === "symbol" ? null : x,
        inner,
        depth + 1,
      );
      yield i < v.length - 1 ? ",\n" : "\n";
    }
    yield indent + "]";
    return;
  }
  const entries = Object.entries(v as object).filter(([, x]) =>
    x !== undefined && typeof x !== "function" && typeof x !== "symbol"
  );
  if (!entries.length) return void (yield "{}");
  yield "{\n";
  for (let i = 0; i < entries.length; i++) {
    yield `${inner}${JSON.stringify(entries[i][0])}: `;
    yield* jsonChunks(entries[i][1], inner, depth + 1);
    yield i < entries.length - 1 ? ",\n" : "\n";
  }
  yield indent + "}";
}
