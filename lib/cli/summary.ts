/**
 * `pwalk summary SCAN...`: argument parsing and printing of
 * {@link summarize}. Exit status: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */
import {
  ANSWER_EXIT,
  checkHtmlOutput,
  engineOptions,
  eprint,
  intArg,
  PRINT_OPTIONS,
  printAnswer,
  runAnswer,
  UsageError,
} from "./common.ts";
import { type AgeBucket, summarize, type Summary } from "../answers/summary.ts";
import { recordWarnings, shardWarnings } from "../answers/scan.ts";
import {
  type Block,
  bytes,
  count,
  date,
  joinBlocks,
  outputWidth,
  seenTwiceWarning,
  tableLines,
  wrap,
} from "../answers/text.ts";
import { columns } from "../width.ts";

/** `pwalk summary --help`. */
export const HELP: string = `pwalk summary: who uses the space, what is big, old, cold

Usage:
  pwalk summary [options] SCAN...

SCAN is a pwalk scan: a .csv, .csv.zst, .csv.gz or .parquet file, a glob, or
a folder of shards (scan-*.csv.zst), with or without pwalk's header line;
all CSV (any mix of the three) or all Parquet, not both (an old C pwalk's
root typed with a trailing slash, "/data/" and "/data//a", is read as "/data"
and "/data/a"). The disk is not read: everything comes from the scan.

Prints totals; users and groups by allocated size; extensions; file sizes
(powers of two); ages by modification and by access time; folders by
recursive size (du's view) down to --depth; the folders with the most
entries; the largest files; per user, the bytes not read for a year.

The text is fitted to the terminal's width (40 columns at least; a terminal
that tells no width takes $COLUMNS when it is 40 or more, else 80), else to
$COLUMNS when it is 40 or more (a smaller one is ignored: nothing is cut).

On a terminal, after 2 s of work, a progress line on stderr shows the stage
and the time elapsed (pwalk summary: reading scan.csv.zst  0:00:42), cleared
before the answer; nothing is added to stderr in a log or a pipe.

Options:
  --top N            rows per table (default 10; at most 1,000,000)
  --depth D          deepest folder level of the folder view (root 0; default 2;
                     at most 10,000)
  --json             print the same numbers as JSON instead
  --html FILE        also write a self-contained HTML page with charts
                     (not named as a scan: .csv, .csv.zst, .csv.gz, .parquet)
  --now TIME         ages relative to TIME: seconds since 1970 (a whole
                     number), or a date 2026-01-31 (midnight UTC) or date
                     and time 2026-01-31T18:00[:SS[.fff]] with Z, +HH:MM or
                     -HH:MM (local time without a zone); default: the
                     scan's time (its newest file's modification time)
  --no-names         show uids and gids as numbers (no name service lookups;
                     a lookup waits 20 s, or $PWALK_NAMES_TIMEOUT seconds,
                     then gives numbers with a warning on stderr); --names:
                     names, the default
  --memory-limit M   DuckDB's memory limit (e.g. 4GB; default 25% of RAM, or
                     of the cgroup's memory limit when lower, that default at
                     most 8 GiB; a larger M is taken as given); beyond it
                     DuckDB spills to --temp-dir
  --temp-dir DIR     where DuckDB spills (default: the system's temp folder)
  -h, --help         this help

${ANSWER_EXIT}`;

/** --now's date forms: YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and Z or ±HH:MM. */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))?)?$/;

/**
 * Parse --now: seconds since the epoch (a whole number, optionally
 * negative, that JavaScript holds exactly: more digits would be rounded,
 * 400 of them Infinity) or an ISO 8601 date, `YYYY-MM-DD` (midnight UTC),
 * or date and time `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM` (local
 * time without one), of a real day and time: anything else (`1.5`, `12/31`,
 * `2026-02-30`, which JavaScript's Date.parse reads as some date; a local
 * time a clock change skips, which it moves on) is a usage error. A local
 * time the clock passes twice (set back) is the first of the two, as
 * Date.parse reads it.
 */
export function parseNow(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const bad = () =>
    new UsageError(
      `--now needs seconds since 1970 or a date (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]), got '${s}'`,
    );
  if (/^-?\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw bad();
    return n;
  }
  const m = ISO_DATE.exec(s);
  if (!m) throw bad();
  const [y, mo, d, h, mi, sec, oh, om] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (
    mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59
  ) {
    throw bad();
  }
  // (the forms checked above are those Date.parse reads as ISO 8601: a
  // date alone as UTC, a date and time without a zone as local time)
  const t = Date.parse(s);
  if (isNaN(t)) throw bad();
  // a local time (no zone) that the zone skips (a daylight-saving gap;
  // Samoa's 2011-12-30): Date.parse moves it on, silently; refused
  if (m[4] !== undefined && !/(?:Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const l = new Date(t);
    const local = [l.getFullYear(), l.getMonth() + 1, l.getDate(), l.getHours(), l.getMinutes()];
    if (local.join() !== [y, mo, d, h, mi].join() || l.getSeconds() !== sec) {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      throw new UsageError(
        `--now '${s}': no such local time in ${zone} (skipped by a clock change there); ` +
          "give its zone: Z or +HH:MM/-HH:MM",
      );
    }
  }
  return Math.floor(t / 1000);
}

/** Run `pwalk summary ARGS`; resolves to the exit status. */
export function run(args: string[]): Promise<number> {
  return runAnswer(
    args,
    { ...PRINT_OPTIONS, now: "value" },
    "pwalk summary",
    async (flags, scans, line) => {
      if (scans.length === 0) throw new UsageError("summary: missing SCAN (try --help)");
      if (scans.includes("")) throw new UsageError("SCAN is empty");
      // the values first: a bad one is one line, before the output's check
      // (a status 1 of its own) and the scans' warnings
      const options = {
        top: intArg("top", flags.top, 1, 1_000_000),
        depth: intArg("depth", flags.depth, 0, 10_000),
        now: parseNow(flags.now),
        names: flags.names !== false,
        ...engineOptions(flags),
      };
      await checkHtmlOutput(flags, scans);
      for (const w of await shardWarnings(scans)) eprint(`pwalk: ${w}`);
      for (const w of await recordWarnings(scans)) eprint(`pwalk: ${w}`);
      const s = await summarize(scans, {
        ...options,
        onStage: (stage) => line.set(stage),
        onNamesTimeout: (m) => eprint(`pwalk: ${m}`),
      });
      await printAnswer(
        flags,
        s,
        async (s) => (await import("../answers/html.ts")).summaryHtml(s),
        (s) => summaryBlocks(s, outputWidth()),
      );
    },
  );
}

const who = (name: string | null, id: number) => name ?? String(id);

function ageTable(title: string, ages: AgeBucket[], width: number): Iterable<string> {
  return tableLines(
    title,
    ["age", "allocated", "apparent", "files"],
    ages.map((a) => [a.label, bytes(a.allocatedBytes), bytes(a.apparentBytes), count(a.files)]),
    width,
  );
}

/**
 * A line of the totals fitted to `width`: broken between its items (two
 * spaces apart, "entries 12  files 10", each name kept with its figure)
 * when each fits a line, else between words.
 */
function lineOf(l: string, width: number): string {
  const items = l.split("  ");
  return items.length > 1 && items.every((x) => columns(x) <= width - 2)
    ? wrap(l, width, "  ", "  ")
    : wrap(l, width);
}

/** The text `pwalk summary` prints, fitted to `width` columns. */
export function formatSummary(s: Summary, width: number): string {
  return joinBlocks(summaryBlocks(s, width));
}

/** {@link formatSummary}'s blocks, its tables as lines (printed in pieces). */
export function summaryBlocks(s: Summary, width: number): Block[] {
  const t = s.totals;
  const parts: Block[] = [];
  const roots = s.roots.length ? s.roots.join(", ") : "(no root row)";
  const asOf = `${date(s.now)} UTC`;
  parts.push(
    [
      `pwalk summary of ${roots}: ${count(s.scans.length)} scan file(s), ages as of ${asOf}`,
      `entries ${count(t.entries)}  files ${count(t.files)}  folders ${count(t.folders)}  ` +
      `links ${count(t.links)}  other ${count(t.other)}`,
      `allocated ${bytes(t.allocatedBytes)}  apparent ${bytes(t.apparentBytes)}  ` +
      `users ${count(s.userCount)}  groups ${count(s.groupCount)}`,
      ...[[
        `hard links: ${count(t.hardLinkNames)} extra names (bytes counted once)`,
        `names not UTF-8: ${count(t.nonUtf8Names)}`,
        `errors: ${t.errors === null ? "not recorded in a scan" : count(t.errors)}`,
      ]].flatMap((l) => l.join("  ").length <= width ? [l.join("  ")] : l),
    ].map((l) => lineOf(l, width)).join("\n") +
      (t.foldersSeenTwice ? "\n" + wrap(seenTwiceWarning(t.foldersSeenTwice), width, "") : ""),
  );
  const owners = (title: string, label: string, rows: Summary["users"], total: number) =>
    tableLines(
      `${title} (top ${rows.length} of ${count(total)}) by allocated size`,
      [label, "allocated", "apparent", "entries", "files"],
      rows.map((u) => [
        who(u.name, u.id),
        bytes(u.allocatedBytes),
        bytes(u.apparentBytes),
        count(u.entries),
        count(u.files),
      ]),
      width,
    );
  parts.push(owners("Users", "user", s.users, s.userCount));
  parts.push(owners("Groups", "group", s.groups, s.groupCount));
  parts.push(tableLines(
    `Extensions (files; top ${s.extensions.length} of ${
      count(s.extensionCount)
    }) by allocated size`,
    ["extension", "allocated", "apparent", "files"],
    s.extensions.map((x) => [
      x.ext === "" ? "(none)" : x.ext,
      bytes(x.allocatedBytes),
      bytes(x.apparentBytes),
      count(x.files),
    ]),
    width,
  ));
  parts.push(tableLines(
    "File sizes",
    ["from", "below", "files", "apparent", "allocated"],
    s.sizeHistogram.map((b) => [
      // (two columns, as the HTML table's: "4.0 KiB - 8.0 KiB" read as
      // holding the files of 8 KiB, which are in the next row; and one cell
      // "256.0 KiB - <512.0 KiB" was cut on a narrow terminal)
      bytes(b.min),
      bytes(b.max),
      count(b.files),
      bytes(b.apparentBytes),
      bytes(b.allocatedBytes),
    ]),
    width,
  ));
  parts.push(ageTable("Files by last modification (mtime)", s.mtimeAges, width));
  parts.push(ageTable("Files by last access (atime)", s.atimeAges, width));
  parts.push(tableLines(
    `Folders by recursive allocated size (levels 0-${s.depth})`,
    ["folder", "level", "allocated", "apparent", "entries", "files"],
    s.folders.map((f) => [
      f.path,
      String(f.level),
      bytes(f.allocatedBytes),
      bytes(f.apparentBytes),
      count(f.entries),
      count(f.files),
    ]),
    width,
  ));
  parts.push(tableLines(
    "Folders with the most direct entries (pw_fcount)",
    ["folder", "entries", "bytes (pw_dirsum)", "owner"],
    s.busiestFolders.map((f) => [f.path, count(f.entries), bytes(f.bytes), who(f.user, f.uid)]),
    width,
  ));
  parts.push(tableLines(
    "Largest files",
    ["file", "apparent", "allocated", "owner", "modified", "accessed"],
    s.largestFiles.map((f) => [
      f.path,
      bytes(f.apparentBytes),
      bytes(f.allocatedBytes),
      who(f.user, f.uid),
      date(f.mtime),
      date(f.atime),
    ]),
    width,
  ));
  parts.push(tableLines(
    `Cold data: files not read for 365 days, per user (top ${s.coldByUser.length} of ${
      count(s.coldUserCount)
    })`,
    ["user", "allocated", "apparent", "files"],
    s.coldByUser.map((u) => [
      who(u.name, u.id),
      bytes(u.allocatedBytes),
      bytes(u.apparentBytes),
      count(u.files),
    ]),
    width,
  ));
  return parts;
}
