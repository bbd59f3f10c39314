/**
 * `pwalk diff OLD NEW`: argument parsing and printing of {@link diff}.
 * Exit status: 0 done, 1 failed, 2 bad usage.
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
import {
  type Change,
  type ChangeRow,
  type Diff,
  diff,
  type FileChange,
  fileMarks,
  fileStatus,
  recarriedNote,
} from "../answers/diff.ts";
import { recordWarnings, shardWarnings } from "../answers/scan.ts";
import {
  type Block,
  bytes,
  count,
  date,
  delta,
  deltaCount,
  joinBlocks,
  outputWidth,
  tableLines,
  unlistedTables,
  wrap,
} from "../answers/text.ts";
import { count as counted } from "../digits.ts";

/** `pwalk diff --help`. */
export const HELP: string = `pwalk diff: what changed between two scans of a tree

Usage:
  pwalk diff [options] OLD NEW

OLD and NEW are scans (a .csv, .csv.zst, .csv.gz or .parquet file, a glob in
quotes, or a folder of shards). Entries are matched by path (an old C
pwalk's root typed with a trailing slash, "/data/" and "/data//a", is read
as "/data" and "/data/a"); a path whose
inode changed counts as replaced; an entry at a new path that OLD had at a
path it is gone from (same inode, type, size, mtime) is also counted as
moved (one name per name gone, the one first in byte order, which carries
the bytes: of a name moved and a hard link made beside it, either). A
folder that listed nothing in one scan though unchanged since the other
(same inode, size, mtime) is named below the totals: most likely it could
not be read then, and its entries that look removed (or added) were not.
Prints the totals; per user, group and
folder (at --depth; a folder with the entries below it, and its own bytes,
as the recursive table and summary count it; the root's own files in none)
the bytes and entries added, removed, grown, shrunk and net; the
folders whose recursive size changed most (hard links counted as in the
totals, under a name in both scans: a folder's size may differ from summary's,
as its title then says); the largest new, deleted and
changed files (owner: a deleted file's in OLD, a new or changed file's in
NEW; marked "moved" when counted as moved, "link" when a hard link's extra
name: 0 bytes in the totals, its bytes under another name). The tables per user, group and folder list the --top largest net
changes, growth or loss alike (who freed the most is listed beside who used
the most), each titled with how many had a change ("top 10 of 25").

The text is fitted to the terminal's width (40 columns at least; a terminal
that tells no width takes $COLUMNS when it is 40 or more, else 80), else to
$COLUMNS when it is 40 or more (a smaller one is ignored: nothing is cut).

On a terminal, after 2 s of work, a progress line on stderr shows the stage
(reading OLD, reading NEW, comparing) and the time elapsed, cleared before
the answer; nothing is added to stderr in a log or a pipe.

Options:
  --top N            rows per table (default 10; at most 1,000,000)
  --depth D          folder level of the per-folder tables (root 0; default 1;
                     at most 10,000)
  --json             print the same numbers as JSON instead
  --html FILE        also write a self-contained HTML page with charts
                     (not named as a scan: .csv, .csv.zst, .csv.gz, .parquet)
  --no-names         uids and gids as numbers (no name service lookups; a
                     lookup waits 20 s, or $PWALK_NAMES_TIMEOUT seconds, then
                     gives numbers with a warning on stderr); --names:
                     names, the default
  --memory-limit M   DuckDB's memory limit (default 25% of RAM, or of the
                     cgroup's memory limit when lower, that default at most
                     8 GiB; a larger M is taken as given)
  --temp-dir DIR     where DuckDB spills
  -h, --help         this help

${ANSWER_EXIT}`;

/** Run `pwalk diff ARGS`; resolves to the exit status. */
export function run(args: string[]): Promise<number> {
  return runAnswer(args, PRINT_OPTIONS, "pwalk diff", async (flags, scans, line) => {
    if (scans.length !== 2) {
      throw new UsageError(`diff needs OLD and NEW scans, got ${scans.length} (try --help)`);
    }
    if (scans[0] === "") throw new UsageError("OLD is empty");
    if (scans[1] === "") throw new UsageError("NEW is empty");
    // the values first: a bad one is one line, before the output's check
    // (a status 1 of its own) and the scans' warnings
    const options = {
      top: intArg("top", flags.top, 1, 1_000_000),
      depth: intArg("depth", flags.depth, 0, 10_000),
      names: flags.names !== false,
      ...engineOptions(flags),
    };
    await checkHtmlOutput(flags, scans);
    for (const w of await shardWarnings(scans)) eprint(`pwalk: ${w}`);
    // OLD and NEW each one scan: the shards of one plan in both are no shard read twice
    for (const side of scans) {
      for (const w of await recordWarnings([side])) eprint(`pwalk: ${w}`);
    }
    const d = await diff([scans[0]], [scans[1]], {
      ...options,
      onStage: (stage) => line.set(stage),
      onNamesTimeout: (m) => eprint(`pwalk: ${m}`),
    });
    await printAnswer(
      flags,
      d,
      async (d) => (await import("../answers/html.ts")).diffHtml(d),
      (d) => diffBlocks(d, outputWidth()),
    );
    // Entries are paired by path: scans of one tree under two names (a
    // mount point moved, /gpfs/x and /x) show as all added and removed.
    const o = d.old.roots.join(", "), n = d.new.roots.join(", ");
    if (o !== n) {
      eprint(
        `pwalk diff: note: OLD's root (${o || "none"}) is not NEW's (${n || "none"}); ` +
          "entries are paired by path, so those under another root show as added and removed",
      );
    }
  });
}

function changeTable(
  what: string,
  label: string,
  rows: ChangeRow[],
  total: number,
  width: number,
): Iterable<string> {
  // added ... shrunk: entries, then their allocated bytes in parentheses;
  // left out from the right where the width is short
  const both = (n: number, b: string) => `${count(n)} (${b})`;
  const title = `${what} (top ${rows.length} of ${count(total)}) by net allocated change`;
  const legend = `${title} (added ... shrunk: entries (allocated))`;
  return tableLines(
    legend.length <= width ? legend : title,
    [label, "net alloc", "net apparent", "net entries", "added", "removed", "grown", "shrunk"],
    rows.map((r) => [
      r.name ?? r.key,
      delta(r.net.allocatedBytes),
      delta(r.net.apparentBytes),
      deltaCount(r.net.entries),
      both(r.added.entries, bytes(r.added.allocatedBytes)),
      both(r.removed.entries, bytes(r.removed.allocatedBytes)),
      both(r.grown.entries, delta(r.grown.allocatedBytes)),
      both(r.shrunk.entries, delta(r.shrunk.allocatedBytes)),
    ]),
    width,
    { optional: [2, 4, 5, 6, 7] },
  );
}

function fileTable(
  title: string,
  rows: FileChange[],
  list: "new" | "deleted" | "changed",
  width: number,
): Iterable<string> {
  const size = (v: number | null) => (v === null ? "-" : bytes(v));
  const when = (v: number | null) => (v === null ? "-" : date(v));
  return tableLines(
    title + fileMarks(rows, list),
    // (days in UTC, whatever $TZ is: said where they are)
    ["file", "status", "old size", "new size", "old mtime UTC", "new mtime UTC", "owner"],
    rows.map((f) => [
      f.path,
      fileStatus(f),
      size(f.oldSize),
      size(f.newSize),
      when(f.oldMtime),
      when(f.newMtime),
      f.user ?? String(f.uid),
    ]),
    width,
  );
}

/**
 * The totals' lines, one per kind of change, in the first layout whose
 * lines all fit `width`: the figures in wide columns; in columns as wide
 * as their widest figure; under a header ("entries", "allocated") when
 * even that is too wide. A line is never cut (nor a word in it).
 */
function totalsLines(t: Diff["totals"], width: number): string[] {
  const rows: [string, Change, boolean][] = [
    ["added", t.added, false],
    ["removed", t.removed, false],
    ["replaced", t.replaced, false],
    ["changed", t.changed, false],
    ["moved", t.moved, false],
    ["grown", t.grown, true],
    ["shrunk", t.shrunk, true],
    ["unchanged", t.unchanged, false],
    ["net", t.net, true],
  ];
  const size = (c: Change, signed: boolean) =>
    signed ? delta(c.allocatedBytes) : bytes(c.allocatedBytes);
  const cw = Math.max(...rows.map(([, c]) => count(c.entries).length));
  const bw = Math.max(...rows.map(([, c, signed]) => size(c, signed).length));
  // the moved note as it fits (cut, it broke the line's own words)
  const notes = [" (of added and replaced: renamed or moved here)", " (renamed or moved here)", ""];
  for (const [lw, nw, sw] of [[10, 12, 12], [10, cw, bw]]) {
    const lines = rows.map(([what, c, signed]) => {
      const l = `${what.padEnd(lw)} ${count(c.entries).padStart(nw)} ${
        (c.entries === 1 ? "entry" : "entries").padEnd(7)
      }  ${size(c, signed).padStart(sw)} allocated`;
      return what === "moved" ? notes.map((n) => l + n).find((x) => x.length <= width) ?? l : l;
    });
    if (lines.every((l) => l.length <= width)) return lines;
  }
  const [ew, aw] = [Math.max(cw, "entries".length), Math.max(bw, "allocated".length)];
  return [
    `${"".padEnd(9)}  ${"entries".padStart(ew)}  ${"allocated".padStart(aw)}`,
    ...rows.map(([what, c, signed]) =>
      `${what.padEnd(9)}  ${count(c.entries).padStart(ew)}  ${size(c, signed).padStart(aw)}`
    ),
  ];
}

/** The text `pwalk diff` prints, fitted to `width` columns. */
export function formatDiff(d: Diff, width: number): string {
  return joinBlocks(diffBlocks(d, width));
}

/**
 * The folders that listed nothing in one scan though unchanged since the
 * other: a table each, right below the totals (their entries look
 * removed, or added: an admin must not read them as deleted).
 */
function unlistedBlocks(d: Diff, width: number): Block[] {
  return unlistedTables(d).map(({ title, other, rows }) =>
    tableLines(
      title,
      ["folder", `names in ${other}`],
      rows.map((r) => [r.path, count(r.listed)]),
      width,
    )
  );
}

/** {@link formatDiff}'s blocks, its tables as lines (printed in pieces). */
export function diffBlocks(d: Diff, width: number): Block[] {
  const sides = [
    `old: ${counted(d.old.entries, "entry", "entries")}, ${bytes(d.old.allocatedBytes)} allocated`,
    `new: ${counted(d.new.entries, "entry", "entries")}, ${bytes(d.new.allocatedBytes)} allocated`,
  ];
  const parts: Block[] = [
    [
      wrap(
        `pwalk diff: ${d.old.roots.join(", ") || "(no root row)"} -> ${
          d.new.roots.join(", ") || "(no root row)"
        }`,
        width,
      ),
      // both sides on one line, or each on its own
      sides.join("; ").length <= width ? sides.join("; ") : sides.map((l) => wrap(l, width)),
      ...totalsLines(d.totals, width),
    ].flat().join("\n"),
    ...unlistedBlocks(d, width),
    changeTable("Users", "user", d.users, d.userCount, width),
    changeTable("Groups", "group", d.groups, d.groupCount, width),
    changeTable(`Folders at level ${d.depth}`, "folder", d.folders, d.folderCount, width),
    tableLines(
      `Folders (levels 0-${d.depth}; top ${d.growingFolders.length} of ${
        count(d.growingFolderCount)
      }) that changed most, recursive${recarriedNote(d)}`,
      ["folder", "old alloc", "new alloc", "change", "entries change"],
      d.growingFolders.map((f) => [
        f.path,
        bytes(f.old.allocatedBytes),
        bytes(f.new.allocatedBytes),
        delta(f.delta.allocatedBytes),
        deltaCount(f.delta.entries),
      ]),
      width,
    ),
    fileTable("Largest new files", d.newFiles, "new", width),
    fileTable("Largest deleted files", d.deletedFiles, "deleted", width),
    fileTable("Files changed most (size or mtime)", d.changedFiles, "changed", width),
  ];
  return parts;
}
