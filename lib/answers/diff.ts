/**
 * diff(): what changed between two scans of the same tree, from the scan
 * files alone. Entries are matched by path; a path whose inode (or type)
 * changed counts as replaced (the old entry removed, the new one added).
 *
 * @module
 */
import type { Engine, EngineOptions, StageOptions } from "./duck.ts";
import { cancellable, checkEngineOptions, ENGINE_OPTIONS, num, tellStage } from "./duck.ts";
import { checkScanList, openLoaded, resolveScans } from "./scan.ts";
import { type Amount, CARRIER_KEY, folderTotals, loadForAnswers } from "./summary.ts";
import { lookupNames, namesTimeout } from "./names.ts";
import {
  checkBool,
  checkFunctions,
  checkInt,
  checkOptionNames,
  type OptionNames,
  withoutNulls,
} from "../options.ts";
import { count as counted } from "../digits.ts";

/** The names of {@link DiffOptions} (any other: a TypeError). */
export const DIFF_OPTIONS: OptionNames<DiffOptions> = {
  ...ENGINE_OPTIONS,
  top: true,
  depth: true,
  names: true,
  onNamesTimeout: true,
};

/** Options of {@link diff}. */
export interface DiffOptions extends EngineOptions, StageOptions {
  /** Rows per table. Default 10. */
  top?: number;
  /**
   * Folder level for the per-folder breakdown and the growing folders (the
   * scan's root is 0). Default 1: the folders directly below the root.
   */
  depth?: number;
  /**
   * Resolve uids and gids to names (getent; each lookup waits up to 20 s,
   * or `PWALK_NAMES_TIMEOUT` seconds). Default true.
   */
  names?: boolean;
  /**
   * Told in one line when a name lookup timed out (the ids it did not name
   * keep their numbers), or getent may not be run (no --allow-run for it:
   * every id keeps its number). Default: none.
   */
  onNamesTimeout?: (message: string) => void;
}

/** A number of entries and their bytes. */
export interface Change {
  /** How many entries (for `net`, NEW's count minus OLD's). */
  entries: number;
  /** st_size (each hard-linked inode once). */
  apparentBytes: number;
  /** st_blocks x 512 (each hard-linked inode once). */
  allocatedBytes: number;
}

/** What changed for one user, group or folder. */
export interface ChangeRow {
  /** uid, gid, or folder path. */
  key: string;
  /** uid or gid as a number (null for folders). */
  id: number | null;
  /** User or group name (null when unknown, and for folders). */
  name: string | null;
  /** Entries only in NEW, and NEW's side of replaced entries. */
  added: Change;
  /** Entries only in OLD, and OLD's side of replaced entries. */
  removed: Change;
  /** Same entry (path and inode), larger now: how many, and by how much. */
  grown: Change;
  /** Same entry, smaller now (negative bytes). */
  shrunk: Change;
  /** NEW minus OLD: entries and bytes (ownership changes included). */
  net: Change;
}

/** One entry that changed. */
export interface FileChange {
  /** The entry's path. */
  path: string;
  /** "added", "removed", "replaced" (inode or type changed), "changed" (size or mtime). */
  status: "added" | "removed" | "replaced" | "changed";
  /** null when absent on that side. */
  oldSize: number | null;
  /** st_size in NEW, bytes (null when absent from NEW). */
  newSize: number | null;
  /** st_mtime in OLD, seconds since the epoch (null when absent from OLD). */
  oldMtime: number | null;
  /** st_mtime in NEW, seconds since the epoch (null when absent from NEW). */
  newMtime: number | null;
  /**
   * The owner's uid on the side its list is about: in `deletedFiles` OLD's
   * (who owned what was deleted, also when another user's file replaced
   * it), in `newFiles` and `changedFiles` NEW's (who owns it now).
   */
  uid: number;
  /** The owner's user name (null when unknown, or names are not resolved). */
  user: string | null;
  /**
   * Counted as moved in the totals: in `newFiles`, an entry of OLD at a
   * path it is gone from (renamed or moved here, `totals.moved`); in
   * `deletedFiles`, the name it was moved from. Always false in
   * `changedFiles`.
   */
  moved: boolean;
  /**
   * Another name of a hard-linked file whose bytes another name carries on
   * the side its list is about (NEW's for `newFiles` and `changedFiles`,
   * OLD's for `deletedFiles`): the totals, users, groups and folders count
   * it as an entry with 0 bytes (each file's bytes once, as du), while its
   * sizes here are the file's.
   */
  extraName: boolean;
}

/**
 * The note of the recursive folder table's title ("" when none is due):
 * where hard-linked files' bytes are under another name than summary
 * counts them under ({@link Diff}'s `recarried`), the old or new sizes of
 * folders differ from summary's, and the table says why.
 */
export function recarriedNote(d: Pick<Diff, "recarried">): string {
  const sides = [
    d.recarried.old > 0 && `${counted(d.recarried.old, "file")} of OLD`,
    d.recarried.new > 0 && `${counted(d.recarried.new, "file")} of NEW`,
  ].filter((x) => x);
  return sides.length
    ? ` (hard links as in the totals: a file's bytes under a name it has in both scans, ` +
      `not summary's first name, for ${sides.join(" and ")})`
    : "";
}

/**
 * A {@link FileChange}'s status as the text and the HTML page show it:
 * "added", "replaced", ..., with ", moved" and ", link" (an extra name
 * of a hard-linked file) where they apply.
 */
export function fileStatus(f: FileChange): string {
  return f.status + (f.moved ? ", moved" : "") + (f.extraName ? ", link" : "");
}

/**
 * What the marks of {@link fileStatus} in `rows` mean, for a table's title
 * ("" when none is there).
 */
export function fileMarks(rows: FileChange[], list: "new" | "deleted" | "changed"): string {
  const marks = [
    rows.some((f) => f.moved) &&
    (list === "new" ? "moved: renamed or moved here" : "moved: renamed or moved away"),
    rows.some((f) => f.extraName) &&
    "link: another name of a hard-linked file, 0 bytes in the totals",
  ].filter((m) => m);
  return marks.length ? ` (${marks.join("; ")})` : "";
}

/**
 * A folder's recursive totals in both scans. A hard-linked file's bytes
 * are counted as the totals count them: under its first name present in
 * both scans (summary, and du, count them under its first name in byte
 * order), so that a link added or removed beside a file moves no bytes;
 * where that is another name than summary's ({@link Diff}'s `recarried`),
 * a folder's `old` or `new` bytes may differ from summary's of that scan.
 */
export interface FolderChange {
  /** The folder's path. */
  path: string;
  /** Level below the scan's root (root 0). */
  level: number;
  /** Its recursive totals in OLD (zeros when OLD lacks the folder), hard links as above. */
  old: Amount;
  /** Its recursive totals in NEW (zeros when NEW lacks the folder), hard links as above. */
  new: Amount;
  /** new minus old. */
  delta: Amount;
}

/** One side of a diff. */
export interface DiffSide {
  /** The scan files read. */
  scans: string[];
  /** Roots of the scan (rows at directory-depth -1). */
  roots: string[];
  /** Rows (entries) in the scan, folders included. */
  entries: number;
  /** Sum of st_size (each hard-linked inode once). */
  apparentBytes: number;
  /** Sum of st_blocks x 512 (each hard-linked inode once). */
  allocatedBytes: number;
}

/** A folder that listed nothing in one scan, unchanged since the other ({@link Diff.unlisted}). */
export interface UnlistedFolder {
  /** Its path, as the scans print it. */
  path: string;
  /** The names the other scan listed in it (pw_fcount). */
  listed: number;
}

/** What {@link diff} returns (and `pwalk diff --json` prints). */
export interface Diff {
  /** The older scan (OLD): its files and totals. */
  old: DiffSide;
  /** The newer scan (NEW): its files and totals. */
  new: DiffSide;
  /** Rows per table. */
  top: number;
  /** Folder level of `folders`, and deepest level of `growingFolders`. */
  depth: number;
  /** Whole-tree changes by kind, entries of every type. */
  totals: {
    added: Change;
    removed: Change;
    replaced: Change;
    /** Same path and inode, size or mtime differ (NEW's bytes). */
    changed: Change;
    /**
     * Of `added` and `replaced`: entries that are an entry of OLD at
     * another path, gone from it (the same file system, inode, type, size
     * and mtime), i.e. moved or renamed (NEW's bytes). One per name gone:
     * an inode's new names beyond the number of its OLD names gone are hard
     * links added (`mv a b; ln b c`: b moved, c added only), the names
     * that carry its bytes (the first in byte order) moved first: after
     * `mv a z; ln z c`, c is the name moved and z the link added. They are counted as
     * added and removed too. The file system is told by st_dev; across a
     * remount that changed it, OLD's and NEW's devices that hold the same
     * entry (inode and type) at some path are taken for one. Scans of
     * unrelated roots given together are apart (device numbers coincide
     * across hosts): an entry is never moved from one to another.
     */
    moved: Change;
    grown: Change;
    shrunk: Change;
    unchanged: Change;
    net: Change;
  };
  /**
   * The `top` users whose net allocated bytes changed most, growth or loss
   * alike (by the size of the change: a user who freed 1 TiB comes before
   * one who used 1 GiB more); ties by net apparent bytes, then net entries
   * (each by size), then growth before loss, then the uid as text.
   */
  users: ChangeRow[];
  /** Users with any change (`users` is the first `top` of them). */
  userCount: number;
  /** The `top` groups whose net allocated bytes changed most (ordered as `users`). */
  groups: ChangeRow[];
  /** Groups with any change (`groups` is the first `top` of them). */
  groupCount: number;
  /**
   * The `top` folders at level `depth` whose net allocated bytes changed
   * most (ordered as `users`), each with the entries below it: their
   * entries and bytes, and the bytes of the folder's own row too, as
   * `growingFolders` (and summary's folders, and `du -s`) count a folder,
   * so that a folder's net change here is its change there. Entries above
   * that level (the root's own row and files, at depth 1) are in none (the
   * totals and `growingFolders` hold them).
   */
  folders: ChangeRow[];
  /** Folders at level `depth` with any change (`folders` is the first `top` of them). */
  folderCount: number;
  /**
   * The `top` folders (levels 0..depth) whose recursive allocated size
   * changed most, grown or shrunk (by the size of the change; ties by the
   * apparent change's size, then the entries' change's size, then growth
   * before loss, then path, as `users`); a folder whose
   * recursive totals are the same in both scans is left out. Named for
   * what it held first, when only growth was listed.
   */
  growingFolders: FolderChange[];
  /**
   * Folders at levels 0..depth with any change (in one scan only, or
   * recursive totals that differ; `growingFolders` is the first `top` of
   * them), as `userCount` counts users with any change.
   */
  growingFolderCount: number;
  /**
   * Hard-linked files (in OLD, in NEW) whose bytes this diff counts under
   * another name than summary of that scan does: under their first name
   * present in both scans rather than their first in byte order (a link
   * removed or added beside a file then moves no bytes). Above 0, some
   * folders' recursive totals in `growingFolders` (`old`, `new`) differ
   * from summary's; the whole tree's do not.
   */
  recarried: { old: number; new: number };
  /**
   * Largest regular files added (replaced included), by NEW's st_size;
   * NEW's owner. Those moved here, and a hard link's extra names (0 bytes
   * in the totals), are marked (`moved`, `extraName`).
   */
  newFiles: FileChange[];
  /**
   * Largest regular files removed (replaced included), by OLD's st_size;
   * OLD's owner. Those moved away, and a hard link's extra names, are
   * marked.
   */
  deletedFiles: FileChange[];
  /**
   * Regular files whose size or mtime changed, largest size change first;
   * NEW's owner. A hard link's extra names are marked (`extraName`).
   */
  changedFiles: FileChange[];
  /**
   * Folders that listed nothing (pw_fcount 0) in one scan though they are
   * the same folder in both, unchanged (path, inode, size and mtime: adding
   * or removing a name changes a folder's mtime), and listed names in the
   * other: most likely folders that could not be read when that scan was
   * made (its `open` error; a scan does not keep its errors), not emptied.
   * The entries below them count as removed (`new`: listed nothing in
   * NEW) or added (`old`) all the same, and their owners' and folders'
   * changes with them. The first `top` of each, the most names first, with
   * how many there are.
   */
  unlisted: {
    new: UnlistedFolder[];
    newCount: number;
    old: UnlistedFolder[];
    oldCount: number;
  };
  /** Seconds DuckDB took (loading included). */
  elapsedSeconds: number;
}

function change(r: Record<string, unknown>, p: string): Change {
  return {
    entries: num(r[`${p}_n`]),
    apparentBytes: num(r[`${p}_ab`]),
    allocatedBytes: num(r[`${p}_al`]),
  };
}

const agg = (p: string, cond: string, ab = "ab", al = "al") =>
  `count(*) FILTER (${cond}) AS ${p}_n, coalesce(sum(${ab}) FILTER (${cond}), 0) AS ${p}_ab, ` +
  `coalesce(sum(${al}) FILTER (${cond}), 0) AS ${p}_al`;

/**
 * A hard-linked inode's bytes are carried by one of its names in each scan
 * (the first in byte order; a name that is not UTF-8 by its `\xNN` text;
 * one row of names that print the same, see {@link CARRIER_KEY}).
 * When both scans have it, the carrier is the first name present in both,
 * so that a name added (or removed) beside it moves no bytes: an rsnapshot tree's new link is not a user's, group's and
 * folder's whole file gained.
 *
 * A name is in both when its path holds the same entry in both, inode
 * and type (an inode number reused by a link or FIFO at a path of a file
 * deleted since is another entry: the file's bytes stay with its first
 * name, as summary counts them).
 *
 * The two scans' names are paired by path and inode, not st_dev: a file
 * system mounted again (NFS, Lustre, a reboot, another node) may have
 * another device number in NEW, and its paths and inodes are still the
 * same entries (as {@link joinSql} pairs them). st_dev only groups one
 * scan's names into inodes: each side's carrier is the first shared name
 * of its own (st_dev, inode), within one namespace (see markNamespaces).
 */
async function sameKeeper(e: Engine): Promise<{ old: number; new: number }> {
  await e.exec(`CREATE OR REPLACE TEMP TABLE hk AS
    SELECT o.nsp AS ons, n.nsp AS nns, o."st_dev" AS od, n."st_dev" AS nd, o."inode" AS i,
           o."filename" AS name
    FROM o JOIN n ON o."inode" = n."inode" AND o."filename" = n."filename"
    WHERE (o."st_nlink" > 1 OR n."st_nlink" > 1) AND o.kind <> 'd' AND o.kind = n.kind`);
  const moved: Record<string, number> = {};
  for (const t of ["o", "n"]) {
    // one row carries: of the names that print as the first shared one,
    // the least by CARRIER_KEY (pairOneToOne pairs OLD's carrier with NEW's).
    // Only rows whose part changes are updated (the others hold already
    // what they would be given): two per file whose carrier is no longer
    // the one the load (and summary) gave it.
    const r = await e.all(`UPDATE ${t} SET
        ab = CASE WHEN ${t}.rowid = k.r THEN ${t}."st_size" ELSE 0 END,
        al = CASE WHEN ${t}.rowid = k.r THEN ${t}."st_blocks"::HUGEINT * 512 ELSE 0 END,
        dupl = ${t}.rowid <> k.r
      FROM (SELECT ${t}.nsp AS s, ${t}."st_dev" AS d, ${t}."inode" AS i,
               arg_min(${t}.rowid, ${CARRIER_KEY}) AS r
        FROM ${t} JOIN (SELECT ${t}ns AS s, ${t}d AS d, i, min(name) AS keep FROM hk
                        GROUP BY 1, 2, 3) h
        ON ${t}.nsp = h.s AND ${t}."st_dev" = h.d AND ${t}."inode" = h.i AND
           ${t}."filename" = h.keep
        WHERE ${t}.kind <> 'd' GROUP BY 1, 2, 3) k
      WHERE ${t}.nsp = k.s AND ${t}."st_dev" = k.d AND ${t}."inode" = k.i AND ${t}.kind <> 'd'
        AND ${t}.dupl <> (${t}.rowid <> k.r)`);
    moved[t] = r.length ? num(Object.values(r[0])[0]) / 2 : 0;
  }
  await e.exec(`DROP TABLE hk`);
  return { old: moved.o, new: moved.n };
}

/** {@link agg} counting each row as its `e`: 1, or 0 for a folder's own row in its row of the folders table. */
const aggE = (p: string, cond: string) =>
  `coalesce(sum(e) FILTER (${cond}), 0) AS ${p}_n, coalesce(sum(ab) FILTER (${cond}), 0) AS ${p}_ab, ` +
  `coalesce(sum(al) FILTER (${cond}), 0) AS ${p}_al`;

/** SQL: the breakdown columns over table c (k, side, st, ab, al, dsz, e). */
const BREAKDOWN = [
  aggE("add", "side = 'n' AND st IN ('added', 'replaced')"),
  aggE("rem", "side = 'o' AND st IN ('removed', 'replaced')"),
  // grown or shrunk by st_size, each name: a hard link's other names carry
  // no bytes (counted once), yet they grew too
  aggE("gro", "side = 'g' AND dsz > 0"),
  aggE("shr", "side = 'g' AND dsz < 0"),
  `coalesce(sum(e) FILTER (side = 'n'), 0) - coalesce(sum(e) FILTER (side = 'o'), 0) AS net_n`,
  `coalesce(sum(ab) FILTER (side = 'n'), 0) - coalesce(sum(ab) FILTER (side = 'o'), 0) AS net_ab`,
  `coalesce(sum(al) FILTER (side = 'n'), 0) - coalesce(sum(al) FILTER (side = 'o'), 0) AS net_al`,
].join(",\n  ");

/**
 * SQL ORDER BY terms: the largest changes first, growth or loss alike (a
 * cut to --top that kept the largest growth only would hide who freed the
 * most), ties by the next figure's size, then growth before loss.
 */
const BY_SIZE = (al: string, ab: string, n: string) =>
  `abs(${al}) DESC, abs(${ab}) DESC, abs(${n}) DESC, ${al} DESC, ${ab} DESC, ${n} DESC`;

async function breakdown(
  e: Engine,
  newKey: string,
  oldKey: string,
  where: string,
  top: number,
  keyed: [string, string] = ["true", "true"],
  own: [string, string] = ["false", "false"],
): Promise<[ChangeRow[], number]> {
  // (keyed: SQL that is true of a row that has a key, on NEW's side and on
  // OLD's; the others are left out. Cheap conditions in each branch, not
  // 'WHERE k IS NOT NULL' over c: DuckDB pushes that filter down into each
  // branch beside `where`, and a key that is string work (the folders')
  // was then computed for every row of j, unchanged ones too, before the
  // OR of `where` (no table-scan filter, unlike st <> 'same' alone) left
  // them out: 28 s of a 1M-row diff of two equal scans, 0.07 s this way.)
  // (own: SQL that is true of a row that is its key's folder itself, on
  // NEW's side and on OLD's: its bytes count, as du -s counts a folder's
  // own, but it is no entry below the folder)
  const rows = await e.all(`WITH c AS (
    SELECT ${newKey} AS k, 'n' AS side, st, nab AS ab, nal AS al, 0 AS dsz,
      CASE WHEN ${own[0]} THEN 0 ELSE 1 END AS e FROM j
      WHERE ni IS NOT NULL AND (${where}) AND (${keyed[0]})
    UNION ALL
    SELECT ${oldKey} AS k, 'o' AS side, st, oab AS ab, oal AS al, 0 AS dsz,
      CASE WHEN ${own[1]} THEN 0 ELSE 1 END AS e FROM j
      WHERE oi IS NOT NULL AND (${where}) AND (${keyed[1]})
    UNION ALL
    SELECT ${newKey} AS k, 'g' AS side, st, nab::HUGEINT - oab AS ab, nal - oal AS al,
      sign(ns::HUGEINT - os) AS dsz, CASE WHEN ${own[0]} THEN 0 ELSE 1 END AS e FROM j
      WHERE st = 'changed' AND (${keyed[0]})
  )
  SELECT k::VARCHAR AS k, ${BREAKDOWN}, count(*) OVER () AS m FROM c GROUP BY k
  ORDER BY ${BY_SIZE("net_al", "net_ab", "net_n")}, k LIMIT ${top}`);
  const list = rows.map((r) => ({
    key: String(r.k),
    id: null,
    name: null,
    added: change(r, "add"),
    removed: change(r, "rem"),
    grown: change(r, "gro"),
    shrunk: change(r, "shr"),
    net: change(r, "net"),
  }));
  return [list, rows.length ? num(rows[0].m) : 0];
}

function fileChange(r: Record<string, unknown>): FileChange {
  const n = (v: unknown) => (v === null || v === undefined ? null : num(v));
  return {
    path: String(r.path),
    status: String(r.st) as FileChange["status"],
    oldSize: n(r.os),
    newSize: n(r.ns),
    oldMtime: n(r.om),
    newMtime: n(r.nm),
    uid: num(r.uid),
    user: null,
    moved: r.mvd === true,
    extraName: r.dup === true,
  };
}

/**
 * The table `j` of OLD's and NEW's rows side by side, joined `on`: a path
 * in both (same or changed), only in OLD (removed), only in NEW (added).
 */
function joinSql(o: string, n: string, on: string): string {
  return `CREATE OR REPLACE TEMP TABLE j AS
      SELECT coalesce(n."filename", o."filename") AS path,
        o."inode" AS oi, n."inode" AS ni, o.kind AS ok, n.kind AS nk,
        o."st_dev" AS odv, n."st_dev" AS ndv, o.nsp AS ons, n.nsp AS nns,
        o."UID" AS ou, n."UID" AS nu, o."GID" AS og, n."GID" AS ng,
        o.ab AS oab, n.ab AS nab, o.al AS oal, n.al AS nal, o.dupl AS odup, n.dupl AS ndup,
        o."st_size" AS os, n."st_size" AS ns, o."st_mtime" AS om, n."st_mtime" AS nm,
        o."pw_fcount" AS ofc, n."pw_fcount" AS nfc,
        coalesce(n.kind, o.kind) AS kind,
        coalesce(n."directory-depth", o."directory-depth") AS depth,
        o."directory-depth" AS od, n."directory-depth" AS nd,
        CASE WHEN o."filename" IS NULL THEN 'added' WHEN n."filename" IS NULL THEN 'removed'
             WHEN o."inode" <> n."inode" OR o.kind <> n.kind THEN 'replaced'
             WHEN o."st_size" <> n."st_size" OR o."st_mtime" <> n."st_mtime" THEN 'changed'
             ELSE 'same' END AS st
      FROM ${o} o FULL OUTER JOIN ${n} n ON ${on}`;
}

/**
 * Rebuild `j` pairing rows one to one when several rows print the same
 * path: first the rows of the same path and inode (the same entry, the
 * k-th with the k-th, the row that carries a hard link's bytes first, so
 * that OLD's carrier pairs with NEW's), then what is left of each path in inode order
 * (replaced); whatever is left over is added or removed.
 */
async function pairOneToOne(e: Engine): Promise<void> {
  for (const t of ["o", "n"]) {
    await e.exec(
      `CREATE OR REPLACE TEMP TABLE ${t}k AS SELECT *, ` +
        `row_number() OVER (PARTITION BY "filename", "inode" ORDER BY kind, dupl) AS k FROM ${t}`,
    );
  }
  for (const [t, other] of [["o", "n"], ["n", "o"]]) {
    await e.exec(
      `CREATE OR REPLACE TEMP TABLE ${t}p AS SELECT x.*, CASE WHEN h.k IS NULL ` +
        `THEN 'u' || row_number() OVER (PARTITION BY x."filename", h.k IS NULL ` +
        `ORDER BY x."inode", x.k) ELSE 'm' || x."inode" || ':' || x.k END AS pk ` +
        `FROM ${t}k x LEFT JOIN (SELECT "filename", "inode", k FROM ${other}k) h ` +
        `ON x."filename" = h."filename" AND x."inode" = h."inode" AND x.k = h.k`,
    );
  }
  await e.exec(joinSql("op", "np", `o."filename" = n."filename" AND o.pk = n.pk`));
  await e.exec(`DROP TABLE ok; DROP TABLE nk; DROP TABLE op; DROP TABLE np`);
}

/**
 * Compare two scans of the same tree (each: files, globs or shard folders).
 *
 * @example What grew since last week, and who grew it
 * ```ts
 * import { diff, report } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 * await report(`${tmp}/data`, { output: `${tmp}/last-week.csv.zst`, header: true });
 * await Deno.writeTextFile(`${tmp}/data/big.bin`, "x".repeat(1000));
 * await report(`${tmp}/data`, { output: `${tmp}/today.csv.zst`, header: true });
 *
 * const d = await diff([`${tmp}/last-week.csv.zst`], [`${tmp}/today.csv.zst`]);
 * assertEquals(d.newFiles.map((f) => [f.path, f.newSize]), [[`${tmp}/data/big.bin`, 1000]]);
 * assertEquals([d.totals.added.entries, d.totals.added.apparentBytes], [1, 1000]);
 * assertEquals(d.users.map((u) => u.id), [Deno.uid()]); // who grew it
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {TypeError} when `oldScans` or `newScans` is not an array of
 * strings (one scan alone too: give `["scan.csv"]`), or an option has another type
 * @throws {ScanInputError} when a scan names nothing readable
 * @throws {SpillFullError} when DuckDB's spill folder runs out of space
 * @throws {RangeError} when PWALK_NAMES_TIMEOUT is set to no number of seconds (names resolved)
 */
export async function diff(
  oldScans: string[],
  newScans: string[],
  options: DiffOptions = {},
): Promise<Diff> {
  options = withoutNulls(options);
  checkOptionNames("diff", options, DIFF_OPTIONS);
  checkEngineOptions(options);
  checkBool("names", options.names);
  checkFunctions(options, ["onNamesTimeout"]);
  checkScanList("oldScans", oldScans);
  checkScanList("newScans", newScans);
  const top = checkInt("top", options.top ?? 10, 1, 1_000_000);
  const depth = checkInt("depth", options.depth ?? 1, 0, 10_000);
  if (options.names !== false) namesTimeout(); // a bad PWALK_NAMES_TIMEOUT: refused before the work
  options.signal?.throwIfAborted();
  return await cancellable(options.signal, async () => {
    const oldFiles = await resolveScans(oldScans, options.signal);
    const newFiles = await resolveScans(newScans, options.signal);
    const t0 = performance.now();
    tellStage(options, "reading OLD", oldScans);
    const [e, loads] = await openLoaded(options, async (e, escape) => {
      tellStage(options, "reading OLD", oldScans);
      const o = await loadForAnswers(e, oldFiles, "o", escape);
      tellStage(options, "reading NEW", newScans);
      return [o, await loadForAnswers(e, newFiles, "n", escape)];
    });
    try {
      tellStage(options, "comparing");
      const recarried = await sameKeeper(e);
      await e.exec(joinSql("o", "n", `o."filename" = n."filename"`));
      // Names that print the same (pwalk drops control bytes: "a\nb" and "ab")
      // would pair every such row of OLD with every one of NEW: a row matched
      // twice shows the collision, and the pairs are then made one to one.
      const m = (await e.all(
        `SELECT (SELECT count(*) FROM o) AS o, (SELECT count(*) FROM n) AS n, ` +
          `count(oi) AS jo, count(ni) AS jn FROM j`,
      ))[0];
      if (num(m.jo) > num(m.o) || num(m.jn) > num(m.n)) await pairOneToOne(e);
      // each side's totals, and their exact sums (HUGEINT: the net is their
      // difference, which two sums rounded past 2^53 would lose)
      const exact = new Map<string, { ab: bigint; al: bigint }>();
      const side = async (t: string, files: string[]): Promise<DiffSide> => {
        const r = (await e.all(
          `SELECT count(*) AS n, coalesce(sum(ab), 0)::HUGEINT AS ab,
           coalesce(sum(al), 0)::HUGEINT AS al FROM ${t}`,
        ))[0];
        exact.set(t, { ab: BigInt(r.ab as bigint), al: BigInt(r.al as bigint) });
        const roots = (await e.all(
          `SELECT "filename" AS p FROM ${t} WHERE "directory-depth" = -1 ORDER BY 1`,
        )).map((x) => String(x.p));
        return {
          scans: files,
          roots,
          entries: num(r.n),
          apparentBytes: num(r.ab),
          allocatedBytes: num(r.al),
        };
      };
      const oldSide = await side("o", loads[0].files);
      const newSide = await side("n", loads[1].files);
      const [o, n] = [exact.get("o")!, exact.get("n")!];

      // Moved or renamed: an entry of NEW at a new path (added, or over a
      // replaced one) that OLD had at a path it is gone from, on the same
      // file system. Device numbers may differ between the scans (a file
      // system mounted again): an OLD and a NEW device are the same file
      // system when they hold the same entry at some path (same inode and
      // type); a device of either scan with no such path is matched by its
      // number alone.
      await e.exec(`CREATE OR REPLACE TEMP TABLE dm AS
      SELECT DISTINCT odv AS o, ndv AS n FROM j WHERE st IN ('same', 'changed')`);
      await e.exec(`INSERT INTO dm SELECT d, d FROM (
      SELECT DISTINCT odv AS d FROM j WHERE odv IS NOT NULL AND odv NOT IN (SELECT o FROM dm)
      INTERSECT
      SELECT DISTINCT ndv FROM j WHERE ndv IS NOT NULL AND ndv NOT IN (SELECT n FROM dm))`);
      // One name moved per name gone: an inode's new names (of one file
      // system, type, size and mtime) are moved as many as OLD's names of it
      // that are gone, the others are links added to it (`mv a b; ln b c`:
      // b moved, c added). The names that carry the bytes are taken first.
      // mvn: NEW's rows (of j) moved here; mvo: OLD's rows moved away, as
      // many of an inode's as of its NEW's (the names carrying bytes first)
      // Scans of unrelated roots are apart (see markNamespaces): hostB's new
      // file is no name of hostA's deleted one, whatever their st_dev and
      // inode. A namespace of OLD and one of NEW are one where their roots
      // are the same or nested (rows under no root, a shard's without shard
      // 0's, go with any).
      await e.exec(`CREATE OR REPLACE TEMP TABLE nsok AS
        WITH r AS (SELECT 'o' AS s, nsp, arg_min("filename", length("filename")) AS root
                   FROM o WHERE "directory-depth" = -1 GROUP BY nsp
                   UNION ALL
                   SELECT 'n', nsp, arg_min("filename", length("filename")) FROM n
                   WHERE "directory-depth" = -1 GROUP BY nsp),
        -- (namespace 0 without a root row: rows under no root; no scan of every row)
        z AS (SELECT s, 0 AS nsp, NULL AS root FROM (VALUES ('o'), ('n')) v(s)
              WHERE s NOT IN (SELECT s FROM r WHERE nsp = 0)),
        a AS (SELECT nsp, root FROM r WHERE s = 'o' UNION ALL SELECT nsp, root FROM z WHERE s = 'o'),
        b AS (SELECT nsp, root FROM r WHERE s = 'n' UNION ALL SELECT nsp, root FROM z WHERE s = 'n')
        SELECT a.nsp AS o, b.nsp AS n FROM a, b
        WHERE a.root IS NULL OR b.root IS NULL OR a.root = b.root OR a.root = '/' OR
          b.root = '/' OR starts_with(a.root, b.root || '/') OR starts_with(b.root, a.root || '/')`);
      await e.exec(`CREATE OR REPLACE TEMP TABLE mp AS
        SELECT a.rowid AS ar, b.rowid AS br, a.ndv, a.ni, a.nk, a.ns, a.nm
        FROM j a JOIN dm ON dm.n = a.ndv JOIN j b ON b.odv = dm.o
          JOIN nsok ON nsok.o = b.ons AND nsok.n = a.nns
        WHERE a.st IN ('added', 'replaced') AND b.st IN ('removed', 'replaced')
          AND b.oi = a.ni AND b.ok = a.nk AND b.os = a.ns AND b.om = a.nm AND b.path <> a.path`);
      for (const [t, r, other, o] of [["mvn", "ar", "br", "n"], ["mvo", "br", "ar", "o"]]) {
        await e.exec(`CREATE OR REPLACE TEMP TABLE ${t} AS WITH
        g AS (SELECT ndv, ni, nk, ns, nm, count(DISTINCT ${other}) AS m FROM mp GROUP BY ALL),
        c AS (SELECT x.${r} AS r, g.m, row_number() OVER (PARTITION BY x.ndv, x.ni, x.nk, x.ns, x.nm
            ORDER BY j.${o}al DESC, j.${o}ab DESC, j.path, x.${r}) AS k
          FROM (SELECT DISTINCT ${r}, ndv, ni, nk, ns, nm FROM mp) x
          JOIN g USING (ndv, ni, nk, ns, nm) JOIN j ON j.rowid = x.${r})
        SELECT r FROM c WHERE k <= m`);
      }
      const mv = (await e.all(`SELECT ${agg("mov", "true", "nab", "nal")} FROM j
      WHERE rowid IN (SELECT r FROM mvn)`))[0];
      await e.exec(`DROP TABLE dm; DROP TABLE mp; DROP TABLE nsok`);
      const t = (await e.all(`SELECT
      ${agg("add", "st = 'added'", "nab", "nal")},
      ${agg("rem", "st = 'removed'", "oab", "oal")},
      ${agg("rep", "st = 'replaced'", "nab", "nal")},
      ${agg("chg", "st = 'changed'", "nab", "nal")},
      ${agg("gro", "st = 'changed' AND ns > os", "nab::HUGEINT - oab", "nal - oal")},
      ${agg("shr", "st = 'changed' AND ns < os", "nab::HUGEINT - oab", "nal - oal")},
      ${agg("same", "st = 'same'", "nab", "nal")}
      FROM j`))[0];
      const totals: Diff["totals"] = {
        added: change(t, "add"),
        removed: change(t, "rem"),
        replaced: change(t, "rep"),
        changed: change(t, "chg"),
        moved: change(mv, "mov"),
        grown: change(t, "gro"),
        shrunk: change(t, "shr"),
        unchanged: change(t, "same"),
        net: {
          entries: newSide.entries - oldSide.entries,
          apparentBytes: Number(n.ab - o.ab),
          allocatedBytes: Number(n.al - o.al),
        },
      };

      // (an entry whose size and time stayed but whose allocation changed, a
      // file an HSM released to tape or recalled, preallocated, deduplicated,
      // or a hard link's bytes passed to another of its names, is no
      // 'changed' entry, but its bytes moved: the net counts them)
      const inNet = "st <> 'same' OR oal <> nal OR oab <> nab";
      const [users, userCount] = await breakdown(e, "nu", "ou", `${inNet} OR ou <> nu`, top);
      const [groups, groupCount] = await breakdown(e, "ng", "og", `${inNet} OR og <> ng`, top);
      // The folder at level `depth` holding each entry (or its parent chain up to there).
      // (computed for changed rows only: string work on every row would cost more than the join)
      // Each side by its own kind and depth: a file that became a folder is
      // removed from its parent, and the folder added as itself.
      // Entries above that level (the root's own row and files, at level 1)
      // are in no folder of the level: NULL, left out (by inFolder, which is
      // true of the rows whose key is not NULL, without the string work).
      const folderLevel = (kind: string, dep: string) =>
        `CASE WHEN ${kind} = 'd' THEN ${dep} + 1 ELSE ${dep} END`;
      const inFolder = (kind: string, dep: string) =>
        `((${folderLevel(kind, dep)}) < ${depth}) IS NOT TRUE`;
      const folderKey = (kind: string, dep: string) => {
        const dkey = `CASE WHEN ${kind} = 'd' THEN path ` +
          `ELSE coalesce(nullif(regexp_extract(path, '^(.*)/', 1), ''), '/') END`;
        const lvl = folderLevel(kind, dep);
        // (the folder's path split once, by a lambda over a one-item list:
        // written twice, DuckDB split it and ran the regexp twice per row,
        // four times the cost)
        return `CASE WHEN (${lvl}) < ${depth} THEN NULL ELSE ` +
          `list_transform([string_split(${dkey}, '/')], lambda parts: ` +
          `coalesce(nullif(array_to_string(list_slice(parts, 1, ` +
          `len(parts) - (${lvl}) + ${depth}), '/'), ''), '/'))[1] END`;
      };
      // A folder's own row (a folder at level `depth`) counts its bytes in
      // its row, as the recursive table and summary count them (du -s), but
      // not as an entry: the entries are those below it, as theirs are.
      const ownRow = (kind: string, dep: string) => `(${kind} = 'd' AND ${dep} + 1 = ${depth})`;
      const [folders, folderCount] = await breakdown(
        e,
        folderKey("coalesce(nk, ok)", "coalesce(nd, od)"),
        folderKey("coalesce(ok, nk)", "coalesce(od, nd)"),
        inNet,
        top,
        [
          inFolder("coalesce(nk, ok)", "coalesce(nd, od)"),
          inFolder("coalesce(ok, nk)", "coalesce(od, nd)"),
        ],
        [
          ownRow("coalesce(nk, ok)", "coalesce(nd, od)"),
          ownRow("coalesce(ok, nk)", "coalesce(od, nd)"),
        ],
      );
      for (const r of [...users, ...groups]) r.id = Number(r.key);

      await folderTotals(e, "o", depth, "ro");
      await folderTotals(e, "n", depth, "rn");
      const growing = await e.all(`SELECT coalesce(rn.path, ro.path) AS path,
        coalesce(rn.level, ro.level) AS level,
        coalesce(ro.al, 0) AS o_al, coalesce(ro.ab, 0) AS o_ab, coalesce(ro.n, 0) AS o_n,
        coalesce(ro.nf, 0) AS o_nf, coalesce(rn.al, 0) AS n_al, coalesce(rn.ab, 0) AS n_ab,
        coalesce(rn.n, 0) AS n_n, coalesce(rn.nf, 0) AS n_nf, count(*) OVER () AS m,
        -- (exact: two sums rounded past 2^53 would lose a small change)
        coalesce(rn.al, 0)::HUGEINT - coalesce(ro.al, 0) AS d_al,
        coalesce(rn.ab, 0)::HUGEINT - coalesce(ro.ab, 0) AS d_ab
      FROM ro FULL OUTER JOIN rn ON ro.path = rn.path AND ro.level = rn.level
      -- (a folder whose recursive totals are the same in both is no change)
      WHERE ro.path IS NULL OR rn.path IS NULL OR ro.al <> rn.al OR ro.ab <> rn.ab OR
        ro.n <> rn.n OR ro.nf <> rn.nf
      ORDER BY ${BY_SIZE("n_al - o_al", "n_ab - o_ab", "n_n - o_n")}, path LIMIT ${top}`);
      const growingFolders = growing.map((r) => {
        const a = (p: string): Amount => ({
          allocatedBytes: num(r[`${p}_al`]),
          apparentBytes: num(r[`${p}_ab`]),
          entries: num(r[`${p}_n`]),
          files: num(r[`${p}_nf`]),
        });
        const o = a("o"), n = a("n");
        return {
          path: String(r.path),
          level: num(r.level),
          old: o,
          new: n,
          delta: {
            allocatedBytes: num(r.d_al),
            apparentBytes: num(r.d_ab),
            entries: n.entries - o.entries,
            files: n.files - o.files,
          },
        };
      });

      // folders that listed nothing in one scan, the same unchanged folder in
      // both (removing a name changes a folder's mtime), listing names in the
      // other: unreadable when that scan was made, most likely
      const unlisted = async (none: "o" | "n", some: "o" | "n") => {
        const rows = await e.all(`SELECT path, ${some}fc AS listed, count(*) OVER () AS m FROM j
        WHERE st = 'same' AND kind = 'd' AND ${none}fc = 0 AND ${some}fc > 0
        ORDER BY listed DESC, path LIMIT ${top}`);
        return {
          list: rows.map((r) => ({ path: String(r.path), listed: num(r.listed) })),
          count: rows.length ? num(rows[0].m) : 0,
        };
      };
      const unlistedNew = await unlisted("n", "o"), unlistedOld = await unlisted("o", "n");

      // (ties of size and path, names that print the same, broken by every
      // other column shown: the rows listed, and their order, are the
      // scans' whatever the order of their rows)
      // the owner on the side each list is about: a deleted file's is OLD's
      // (what is gone was theirs, whoever's file took its path since)
      // (and whether it is counted as moved, and an extra name of a hard
      // link, on that side: the totals count such a name with 0 bytes)
      const files = async (where: string, order: string, side: "n" | "o", moved: string) =>
        (await e.all(`SELECT path, st, os, ns, om, nm, ${side}u AS uid, ${side}dup AS dup,
          rowid IN (SELECT r FROM ${moved}) AS mvd FROM j
        WHERE ${where} ORDER BY ${order}, path, st, dup, mvd, uid, om, nm, os, ns
        LIMIT ${top}`)).map(fileChange);
      const newFilesList = await files(
        "st IN ('added', 'replaced') AND nk = 'f'",
        "ns DESC",
        "n",
        "mvn",
      );
      const deletedFiles = await files(
        "st IN ('removed', 'replaced') AND ok = 'f'",
        "os DESC",
        "o",
        "mvo",
      );
      const changedFiles = await files(
        "st = 'changed' AND nk = 'f'",
        "abs(ns::HUGEINT - os) DESC, ns DESC",
        "n",
        "(SELECT NULL AS r WHERE false)",
      );
      await e.exec(`DROP TABLE mvn; DROP TABLE mvo`);

      if (options.names !== false) {
        tellStage(options, "user and group names");
        const [un, gn] = await lookupNames(
          [
            ...users.map((u) => u.id!),
            ...[...newFilesList, ...deletedFiles, ...changedFiles].map((f) => f.uid),
          ],
          groups.map((g) => g.id!),
          options.onNamesTimeout,
          options.signal,
        );
        for (const u of users) u.name = un.get(u.id!) ?? null;
        for (const g of groups) g.name = gn.get(g.id!) ?? null;
        for (const f of [...newFilesList, ...deletedFiles, ...changedFiles]) {
          f.user = un.get(f.uid) ?? null;
        }
      }
      return {
        old: oldSide,
        new: newSide,
        top,
        depth,
        totals,
        users,
        userCount,
        groups,
        groupCount,
        folders,
        folderCount,
        growingFolders,
        growingFolderCount: growing.length ? num(growing[0].m) : 0,
        unlisted: {
          new: unlistedNew.list,
          newCount: unlistedNew.count,
          old: unlistedOld.list,
          oldCount: unlistedOld.count,
        },
        recarried,
        newFiles: newFilesList,
        deletedFiles,
        changedFiles,
        elapsedSeconds: (performance.now() - t0) / 1000,
      };
    } finally {
      await e.close();
    }
  });
}
