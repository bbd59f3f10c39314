/**
 * summarize(): the answers storage admins want from a scan, computed by
 * DuckDB from the scan files alone (the disk is never read again): totals,
 * users and groups, extensions, size and age histograms, folders by
 * recursive size (du's view, in SQL), the folders with the most entries,
 * the largest files, and cold data per user.
 *
 * @module
 */
import type { Engine, EngineOptions, StageOptions } from "./duck.ts";
import { cancellable, checkEngineOptions, ENGINE_OPTIONS, lit, num, tellStage } from "./duck.ts";
import {
  checkOneScan,
  checkScanList,
  type LoadInfo,
  loadScan,
  openLoaded,
  recordedErrors,
  resolveScans,
  type ScanFile,
} from "./scan.ts";
import { lookupNames, namesTimeout } from "./names.ts";
import {
  checkBool,
  checkFunctions,
  checkInt,
  checkOptionNames,
  type OptionNames,
  withoutNulls,
} from "../options.ts";

/** The names of {@link SummaryOptions} (any other: a TypeError). */
export const SUMMARY_OPTIONS: OptionNames<SummaryOptions> = {
  ...ENGINE_OPTIONS,
  top: true,
  depth: true,
  now: true,
  names: true,
  onNamesTimeout: true,
};

/** Options of {@link summarize}. */
export interface SummaryOptions extends EngineOptions, StageOptions {
  /** Rows per table (users, groups, extensions, folders, files). Default 10. */
  top?: number;
  /** Deepest folder level of the folder view (the scan's root is level 0). Default 2. */
  depth?: number;
  /**
   * "Now" for ages, in seconds since the epoch. Default: the scan's time, the
   * modification time of its newest file (when the report finished writing
   * it), so that a summary of last month's scan tells the ages of last month.
   */
  now?: number;
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

/** Entry counts and sizes of the whole scan. */
export interface Totals {
  /** Rows (entries) in the scan, folders included. */
  entries: number;
  /** Regular files. */
  files: number;
  /** Folders. */
  folders: number;
  /** Symbolic links. */
  links: number;
  /** FIFOs, sockets, devices. */
  other: number;
  /** Sum of st_size (each hard-linked inode once). */
  apparentBytes: number;
  /** Sum of st_blocks x 512 (each hard-linked inode once, as du counts). */
  allocatedBytes: number;
  /** Extra names of hard-linked inodes (counted as entries, not as bytes). */
  hardLinkNames: number;
  /**
   * Errors of the walks, from the shards' completion records when every
   * scan file has one (a sharded scan's folder); else null, since a scan
   * file does not record them.
   */
  errors: number | null;
  /**
   * Rows whose name was not UTF-8 (read with `\xNN` escapes); 0 for a
   * Parquet scan, whose names are stored escaped already.
   */
  nonUtf8Names: number;
  /**
   * Folders (by st_dev and inode, within one namespace: see markNamespaces) with more than one row: a
   * folder moved between the walks of two shards (its entries then count
   * twice), a bind mount inside the tree, or one scan file read twice (a
   * copy of a shard's output under another name beside it). 0 in a scan
   * of one walk without bind mounts.
   */
  foldersSeenTwice: number;
}

/** Sizes and counts of a set of entries. */
export interface Amount {
  /** Sum of st_blocks x 512. */
  allocatedBytes: number;
  /** Sum of st_size. */
  apparentBytes: number;
  /** Entries (files, folders, links...). */
  entries: number;
  /** Regular files among them. */
  files: number;
}

/** One user's or group's share. */
export interface OwnerRow extends Amount {
  /** uid or gid. */
  id: number;
  /** Its name from the name service, or null when none knows it. */
  name: string | null;
}

/** One file extension's share (regular files only). */
export interface ExtensionRow extends Amount {
  /** The extension as pwalk prints it ("" for none). */
  ext: string;
}

/** One bucket of the file-size histogram: files with min <= st_size < max. */
export interface SizeBucket extends Amount {
  /** Lower bound (inclusive), bytes: 0 or a power of two. */
  min: number;
  /** Upper bound (exclusive), bytes. */
  max: number;
}

/** One bucket of an age histogram: files with minDays <= age < maxDays. */
export interface AgeBucket extends Amount {
  /** "under 1 month", "1-6 months", "6-12 months", "1-2 years", "2-5 years", "older". */
  label: string;
  /** Lower bound in days (inclusive). Times in the future count as age 0. */
  minDays: number;
  /** Upper bound in days (exclusive); null for the last bucket. */
  maxDays: number | null;
}

/** One user's allocated bytes per age bucket (same order as {@link AGE_BUCKETS}). */
export interface UserAges {
  /** uid. */
  id: number;
  /** Its name from the name service, or null when none knows it. */
  name: string | null;
  /** Allocated bytes of regular files per bucket. */
  allocatedBytes: number[];
  /** Apparent bytes per bucket. */
  apparentBytes: number[];
}

/** One folder with the totals of everything below it (itself included for the bytes). */
/**
 * A folder's recursive totals, as `du -s` counts: its bytes are its own
 * row's and every row's below it; its `entries` and `files` count the names
 * below it (not the folder itself, and every name of a hard-linked file:
 * `du --inodes` counts the folder and each inode once).
 */
export interface FolderRow extends Amount {
  /** The folder's path. */
  path: string;
  /** Level below the scan's root (root 0). */
  level: number;
  /** The folder above (null for a root). */
  parent: string | null;
  /**
   * In {@link Summary.folderTree}, of a folder above its `depth`: how many
   * subfolders it has (the tree holds the `top` largest of them).
   */
  subfolders?: number;
}

/** A folder by its direct entries (pwalk's pw_fcount, pw_dirsum). */
export interface BusyFolder {
  /** The folder's path. */
  path: string;
  /** Direct entries (pw_fcount). */
  entries: number;
  /** Sum of st_size of its direct entries (pw_dirsum: files, links, and its subfolders' own sizes). */
  bytes: number;
  /** The folder's owner (uid). */
  uid: number;
  /** The owner's user name, or null when none knows it. */
  user: string | null;
}

/** One of the largest files. */
export interface FileRow {
  /** The file's path. */
  path: string;
  /** st_size. */
  apparentBytes: number;
  /** st_blocks x 512. */
  allocatedBytes: number;
  /** The owner's uid. */
  uid: number;
  /** The owner's user name, or null when none knows it. */
  user: string | null;
  /** The file's gid. */
  gid: number;
  /** The group's name, or null when none knows it. */
  group: string | null;
  /** Seconds since the epoch. */
  mtime: number;
  /** Seconds since the epoch. */
  atime: number;
}

/** What {@link summarize} returns (and `pwalk summary --json` prints). */
export interface Summary {
  /** The scan files read. */
  scans: string[];
  /** Roots of the scan (rows at directory-depth -1). */
  roots: string[];
  /** Ages are relative to this time (seconds since the epoch). */
  now: number;
  /** Rows per table. */
  top: number;
  /** Deepest level of `folders` and `folderTree`. */
  depth: number;
  /** Entry counts and sizes of the whole scan. */
  totals: Totals;
  /** Distinct uids in the scan. */
  userCount: number;
  /** Distinct gids in the scan. */
  groupCount: number;
  /** Top users by allocated bytes. */
  users: OwnerRow[];
  /** Top groups by allocated bytes. */
  groups: OwnerRow[];
  /** Top extensions by allocated bytes, then apparent bytes, then count (regular files). */
  extensions: ExtensionRow[];
  /**
   * Distinct extensions of regular files, "" (none) among them
   * (`extensions` is the first `top` of them).
   */
  extensionCount: number;
  /** File sizes in powers of two (regular files; empty buckets left out). */
  sizeHistogram: SizeBucket[];
  /** Regular files by age of st_mtime, all six buckets. */
  mtimeAges: AgeBucket[];
  /** Regular files by age of st_atime, all six buckets. */
  atimeAges: AgeBucket[];
  /**
   * The top users' files by age of st_mtime (for stacked charts): the
   * users of `users`; the other users' bytes are `mtimeAges` less these
   * (the HTML page stacks them as "(other users)").
   */
  mtimeAgesByUser: UserAges[];
  /** The top users' files by age of st_atime (the others: `atimeAges` less these). */
  atimeAgesByUser: UserAges[];
  /** The largest folders by recursive allocated bytes, levels 0..depth. */
  folders: FolderRow[];
  /**
   * The folder tree to `depth` for charts: each root, and below each
   * folder its `top` largest subfolders.
   */
  folderTree: FolderRow[];
  /** Folders with the most direct entries. */
  busiestFolders: BusyFolder[];
  /**
   * The largest regular files, each hard-linked inode once (under its
   * first name in byte order, the one that keeps the bytes).
   */
  largestFiles: FileRow[];
  /** Per user, regular files not read (st_atime) for 365 days or more. */
  coldByUser: OwnerRow[];
  /**
   * Distinct uids owning such files (`coldByUser` is the first `top` of
   * them, as `users` of `userCount`).
   */
  coldUserCount: number;
  /** Seconds DuckDB took (loading included). */
  elapsedSeconds: number;
}

/** The age buckets, in days. */
export const AGE_BUCKETS: ReadonlyArray<readonly [string, number, number | null]> = [
  ["under 1 month", 0, 30],
  ["1-6 months", 30, 182],
  ["6-12 months", 182, 365],
  ["1-2 years", 365, 730],
  ["2-5 years", 730, 1826],
  ["older", 1826, null],
];

/**
 * Extra columns of a loaded scan: kind, and bytes that count each
 * hard-linked inode once. Allocated bytes are a HUGEINT: st_blocks x 512
 * of any 64-bit st_blocks (a FUSE file system's u64 may read as anything)
 * would overflow a BIGINT.
 */
export const SCAN_EXTRA = `CASE "st_mode" // 4096 WHEN 8 THEN 'f' WHEN 4 THEN 'd' ` +
  `WHEN 10 THEN 'l' ELSE 'o' END AS kind, "st_size" AS ab, "st_blocks"::HUGEINT * 512 AS al, ` +
  `false AS dupl, 0 AS nsp`;

/**
 * SQL: the key of a hard-linked inode's rows whose least (`arg_min`)
 * carries its bytes: the name first in byte order, then, among rows whose
 * names print the same (pwalk drops control bytes: hard links "ab" and
 * "a\nb" are two rows "ab"), the rest of the row, the newest stat first
 * (`~` reverses an integer's order, without overflow). Rows equal in all
 * of it are alike, whichever carries.
 */
export const CARRIER_KEY = `{'f': "filename", 'c': ~"st_ctime", 'm': ~"st_mtime", ` +
  `'s': ~"st_size", 'b': ~"st_blocks", 'a': ~"st_atime", 'n': ~"st_nlink", 'u': "UID", ` +
  `'g': "GID", 'o': "st_mode", 'p': "parent-inode", 'dd': "directory-depth", ` +
  `'e': "fileExtension"}`;

/**
 * Spell the paths of table `t` under a root written with a trailing slash
 * as under the root without it: the C pwalk prints ROOT as given and joins
 * names to it with another slash ("/data/", "/data//a"; for the root "/":
 * "/" and "//tmp"; docs/csv-format.md), where this pwalk drops it ("/data",
 * "/data/a"; "/tmp"), so that an old scan pairs with a new one of the same
 * tree by path (diff), and its folders print as this pwalk's (summary).
 * Nothing is rewritten when no root ends in "/" (the common case: one look
 * at the roots; a scan of "/" takes one more, for names spelled "//").
 */
export async function dropRootSlash(e: Engine, t: string): Promise<void> {
  const roots = (await e.all(
    `SELECT DISTINCT "filename" AS p FROM ${t} WHERE "directory-depth" = -1 ` +
      `AND "filename" LIKE '%/'`,
  )).map((r) => String(r.p));
  for (const r of roots) {
    const bare = r.replace(/\/+$/, "") || "/";
    const under = bare === "/" ? "/" : `${bare}/`;
    // (the root "/" is spelled alike by both: only the names below it change)
    const self = r === bare ? "" : `"filename" = ${lit(r)} OR `;
    await e.exec(`UPDATE ${t} SET "filename" = CASE WHEN "filename" = ${lit(r)} THEN ${lit(bare)}
        ELSE ${lit(under)} || substr("filename", length(${lit(r)}) + 2) END
      WHERE ${self}starts_with("filename", ${lit(`${r}/`)})`);
  }
}

/**
 * Load scan files into `table` with {@link SCAN_EXTRA}, an old C pwalk's
 * root typed with a trailing slash read as this pwalk writes it
 * ({@link dropRootSlash}), and mark the extra
 * names of hard-linked inodes (same st_dev and inode, not folders; the name
 * first in byte order, a name that is not UTF-8 by its `\xNN` text,
 * keeps the bytes; of names that print the same, one row: see
 * {@link CARRIER_KEY}) so that bytes count each inode once.
 */
export async function loadForAnswers(
  e: Engine,
  files: ScanFile[],
  table: string,
  escape = false,
): Promise<LoadInfo> {
  const info = await loadScan(e, files, table, SCAN_EXTRA, escape);
  await checkOneScan(e, table, files);
  await dropRootSlash(e, table);
  await markNamespaces(e, table, files.length);
  await e.exec(
    `UPDATE "${table}" SET ab = 0, al = 0, dupl = true FROM (` +
      `SELECT nsp AS s, "st_dev" AS d, "inode" AS i, arg_min(rowid, ${CARRIER_KEY}) AS r ` +
      `FROM "${table}" WHERE "st_nlink" > 1 AND kind <> 'd' GROUP BY 1, 2, 3 ` +
      `HAVING count(*) > 1) h ` +
      `WHERE "${table}".nsp = h.s AND "${table}"."st_dev" = h.d AND "${table}"."inode" = h.i ` +
      `AND "${table}".rowid <> h.r`,
  );
  return info;
}

/**
 * The roots of a loaded scan (its rows at directory-depth -1) in groups of
 * one tree: a root and the roots below it (by path; a trailing "/" of an
 * old C pwalk's root, "/data/", read as "/data"). Each group's outermost
 * root, the groups in no order.
 */
export function rootGroups(roots: string[]): string[] {
  const trim = (r: string) => r.replace(/\/+$/, "") || "/";
  const outer: string[] = [];
  for (const r of roots.map(trim).sort((a, b) => a.length - b.length)) {
    if (!outer.some((o) => o === "/" || r === o || r.startsWith(`${o}/`))) outer.push(r);
  }
  return outer;
}

/**
 * Number the file-system namespaces of loaded scan rows into their `nsp`
 * column: st_dev and inode tell one file only within one host's view, and
 * device numbers coincide across hosts (253:0, the first LVM volume, is
 * 64768 on every host; NFS mounts too). Rows under one root, or under
 * roots of which one holds the others (a scan and the shards of its plan:
 * shard 0's file holds ROOT's row, the others rows below it), are one
 * namespace (0, as loaded); the rows of scans of unrelated roots (hostA's
 * /home and hostB's /scratch) are numbered apart by their root, so that
 * their hard links and folders are never taken for one another's. Rows
 * under no root (a shard's file without shard 0's) stay 0, beside one root
 * too (that root's rows then 1): in `diff`, they go with any root.
 */
export async function markNamespaces(e: Engine, table: string, files = 2): Promise<void> {
  const roots = (await e.all(
    `SELECT DISTINCT "filename" AS p FROM "${table}" WHERE "directory-depth" = -1`,
  )).map((r) => String(r.p));
  const groups = rootGroups(roots);
  const under = (g: string) =>
    g === "/" ? "true" : `("filename" = ${lit(g)} OR starts_with("filename", ${lit(`${g}/`)}))`;
  // one root: numbered apart only when some rows are under no root (a
  // shard's file without shard 0's beside an unrelated root's scan), so
  // that they stay 0, as beside two roots; one scan file (`files`) holds
  // only rows under its root row (no pass over its rows then: the common
  // summary of one big scan)
  if (
    groups.length === 0 ||
    groups.length === 1 && (files < 2 || num(
            (await e.all(
              `SELECT count(*) AS n FROM "${table}" WHERE NOT ${under(groups[0])}`,
            ))[0].n,
          ) === 0)
  ) return;
  const cases = groups.map((g, i) => `WHEN ${under(g)} THEN ${i + 1}`).join(" ");
  await e.exec(`UPDATE "${table}" SET nsp = CASE ${cases} ELSE 0 END`);
}

const AMOUNT = `sum(al) AS al, sum(ab) AS ab, count(*) AS n, count(*) FILTER (kind = 'f') AS nf`;

function amount(r: Record<string, unknown>): Amount {
  return {
    allocatedBytes: num(r.al),
    apparentBytes: num(r.ab),
    entries: num(r.n),
    files: num(r.nf),
  };
}

/**
 * Recursive totals of every folder down to level `depth` below its root,
 * into temporary table `into` (path, level, parent, al, ab, n, nf), in SQL:
 * rows are first summed per folder (a folder's own row with it, a file's
 * with its parent), then each folder's sums are added to its ancestors.
 * Hard-linked inodes count once (see {@link loadForAnswers}).
 */
export async function folderTotals(
  e: Engine,
  table: string,
  depth: number,
  into: string,
): Promise<void> {
  // Step 1, over all rows: sums per folder, keyed by integers (a folder's
  // own st_dev and inode; a file's parent-inode and st_dev: a file lives on
  // its folder's device; within its namespace, see markNamespaces). Folder
  // rows give each key its path and level.
  await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}_g" AS
    SELECT CASE WHEN kind = 'd' THEN "inode" ELSE "parent-inode" END AS fino, "st_dev" AS fdev,
           nsp AS fns, ${AMOUNT}
    FROM "${table}" GROUP BY 1, 2, 3`);
  await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}_k" AS
    SELECT g.*, d."filename" AS key, d."directory-depth" + 1 AS lvl
    FROM "${into}_g" g LEFT JOIN (SELECT "inode", "st_dev", nsp, "filename", "directory-depth"
                                  FROM "${table}" WHERE kind = 'd') d
      ON d."inode" = g.fino AND d."st_dev" = g.fdev AND d.nsp = g.fns`);
  const orphans = num(
    (await e.all(
      `SELECT count(*) AS n FROM "${into}_k" WHERE key IS NULL`,
    ))[0].n,
  );
  // Rows whose folder is not in the scan (or two folder rows with one
  // device and inode): key them by path instead, which is slower.
  const dupFolders = num(
    (await e.all(
      `SELECT count(*) AS n FROM (SELECT fino, fdev, fns FROM "${into}_k" GROUP BY 1, 2, 3 HAVING count(*) > 1)`,
    ))[0].n,
  );
  const groups = orphans === 0 && dupFolders === 0
    ? `SELECT key, lvl, al, ab, n, nf FROM "${into}_k"`
    : `SELECT CASE WHEN kind = 'd' THEN "filename"
              ELSE coalesce(nullif(regexp_extract("filename", '^(.*)/', 1), ''), '/') END AS key,
         CASE WHEN kind = 'd' THEN "directory-depth" + 1 ELSE "directory-depth" END AS lvl,
         ${AMOUNT}
       FROM "${table}" GROUP BY 1, 2`;
  // Step 2, over folders only: each folder's sums added to its ancestors
  // down to level `depth`. A folder deeper than `depth` is first summed
  // into its ancestor at `depth` (the one path built for it); then the
  // folders are rolled up one level at a time, deepest first: each
  // level's folders (its own and the parents of the level below, their
  // sums added) are grouped by path, and each one's parent path taken once,
  // so that the work is about the folders' paths, once each, not each
  // folder's path again for every level above it (which took the cube of a
  // chain's depth). A folder's node is its path and level (folders whose
  // names print alike, d and d<newline>, are one; a path at two levels,
  // of a root inside another root, two).
  await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}_b" AS
WITH g AS NOT MATERIALIZED (${groups}),
-- a folder deeper than depth: its names, for its ancestor's path at depth
deep AS (SELECT string_split(key, '/') AS parts, lvl, al, ab, n, nf FROM g WHERE lvl > ${depth}),
-- (odd: a level above the count of slashes in the path, no pwalk scan's
-- row but a hand-made one's: its ancestors are not its path's prefixes,
-- and the path-prefix way below gives the answer it always gave)
r AS (
  SELECT coalesce(nullif(key, ''), '/') AS path, lvl, al, ab, n, nf,
         lvl > strlen(key) - strlen(replace(key, '/', '')) AS odd
  FROM g WHERE lvl >= 0 AND lvl <= ${depth}
  UNION ALL
  SELECT coalesce(nullif(array_to_string(list_slice(parts, 1, len(parts) - lvl + ${depth}), '/'),
                         ''), '/'),
         ${depth}, al, ab, n, nf, lvl > len(parts) - 1
  FROM deep)
SELECT path, lvl, sum(al)::HUGEINT AS al, sum(ab)::HUGEINT AS ab,
       sum(n)::HUGEINT AS n, sum(nf)::HUGEINT AS nf, bool_or(odd) AS odd
FROM r GROUP BY 1, 2`);
  const top = (await e.all(
    `SELECT max(lvl) AS m, bool_or(odd) AS odd FROM "${into}_b"`,
  ))[0];
  if (top.odd === true) {
    await e.exec(`DROP TABLE "${into}_b"`);
    await prefixTotals(e, table, depth, into, groups);
  } else {
    await levelTotals(e, table, into, top.m === null ? -1 : num(top.m));
  }
  await e.exec(`DROP TABLE "${into}_g"; DROP TABLE "${into}_k"`);
}

/**
 * Step 2 of {@link folderTotals} from the sums per folder `${into}_b`
 * (path, lvl, al, ab, n, nf; levels 0 to `lvlMax`): a level at a time,
 * deepest first, `LEVELS` levels per statement.
 */
async function levelTotals(e: Engine, table: string, into: string, lvlMax: number): Promise<void> {
  const sums = `sum(al) AS al, sum(ab) AS ab, sum(n) AS n, sum(nf) AS nf`;
  // entries below a folder: less its own row, when the scan has it (a shard's
  // files may hold a folder's entries without the folder's row), and less
  // every other folder row of that path (folders whose names print alike,
  // d and d<newline>, are one folder here: their rows are its own, not below it)
  const final = (t: string) =>
    `CREATE OR REPLACE TEMP TABLE "${into}" AS
SELECT t.path, t.parent, t.level, t.al, t.ab, t.n - coalesce(d.rows, 0) AS n, t.nf
FROM ${t} t LEFT JOIN (SELECT "filename", count(*) AS rows FROM "${table}" WHERE kind = 'd'
                  GROUP BY 1) d
  ON d."filename" = t.path`;
  if (lvlMax < 0) {
    await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}" (path VARCHAR, parent VARCHAR,
      level BIGINT, al HUGEINT, ab HUGEINT, n HUGEINT, nf HUGEINT); DROP TABLE "${into}_b"`);
    return;
  }
  // (levels above the deepest batch's: their sums so far, and the sums
  // carried to the level above the batch, none at first)
  let carried = false;
  for (let hi = lvlMax; hi >= 0; hi -= LEVELS) {
    const lo = Math.max(0, hi - LEVELS + 1);
    const steps: string[] = [];
    for (let l = hi; l >= lo; l--) {
      const below = l < hi
        ? ` UNION ALL SELECT parent, al, ab, n, nf FROM c${l + 1}`
        : carried
        ? ` UNION ALL SELECT path, al, ab, n, nf FROM "${into}_c"`
        : "";
      // the parent: the path less its last name ("/" of "/a", as the root "/" is spelled)
      const parent = l === 0
        ? "NULL::VARCHAR"
        : `coalesce(nullif(regexp_replace(path, '/[^/]*$', ''), ''), '/')`;
      steps.push(`c${l} AS MATERIALIZED (SELECT path, ${parent} AS parent, ${sums} FROM (
        SELECT path, al, ab, n, nf FROM bb WHERE lvl = ${l}${below}) GROUP BY path)`);
    }
    const batch =
      `WITH bb AS MATERIALIZED (SELECT * FROM "${into}_b" WHERE lvl BETWEEN ${lo} AND ${hi}),
      ${steps.join(",\n")},
      t AS (${
        steps.map((_, i) =>
          `SELECT path, parent, ${hi - i}::BIGINT AS level, al, ab, n, nf FROM c${hi - i}`
        ).join(" UNION ALL ")
      })`;
    if (lo === 0) {
      await e.exec(
        `${
          final(
            `(${batch} SELECT * FROM t${carried ? ` UNION ALL SELECT * FROM "${into}_a"` : ""})`,
          )
        };
        DROP TABLE "${into}_b"${carried ? `; DROP TABLE "${into}_a"; DROP TABLE "${into}_c"` : ""}`,
      );
    } else {
      await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}_l" AS ${batch} SELECT * FROM t;
        ${
        carried
          ? `INSERT INTO "${into}_a" SELECT * FROM "${into}_l"`
          : `CREATE OR REPLACE TEMP TABLE "${into}_a" AS SELECT * FROM "${into}_l"`
      };
        CREATE OR REPLACE TEMP TABLE "${into}_c" AS
          SELECT parent AS path, al, ab, n, nf FROM "${into}_l" WHERE level = ${lo};
        DROP TABLE "${into}_l"`);
      carried = true;
    }
  }
}

/** Levels rolled up per statement by {@link levelTotals}. */
const LEVELS = 16;

/**
 * Step 2 of {@link folderTotals} by path prefix, each folder's path split
 * and its ancestors' paths built for every level above it: slow on deep
 * trees (the cube of a chain's depth), kept for sums per folder whose
 * levels do not match their paths (a hand-made scan's).
 */
async function prefixTotals(
  e: Engine,
  table: string,
  depth: number,
  into: string,
  groups: string,
): Promise<void> {
  await e.exec(`CREATE OR REPLACE TEMP TABLE "${into}" AS
WITH g AS (${groups}),
split AS (
  SELECT string_split(key, '/') AS parts, lvl, al, ab, n, nf FROM g WHERE lvl >= 0),
-- (only the names of the ancestors down to level depth: a deep folder's
-- whole list, copied once per level, took memory with the square of a
-- chain's depth)
p AS (
  SELECT list_slice(parts, 1, len(parts) - lvl + least(lvl, ${depth})) AS parts,
         len(parts) - lvl AS rootn, lvl, al, ab, n, nf FROM split),
x AS (
  SELECT unnest(range(0, least(lvl, ${depth}) + 1)) AS k, rootn, parts, al, ab, n, nf FROM p),
y AS (
  SELECT coalesce(nullif(array_to_string(list_slice(parts, 1, rootn + k), '/'), ''), '/') AS path,
         CASE WHEN k = 0 THEN NULL ELSE
           coalesce(nullif(array_to_string(list_slice(parts, 1, rootn + k - 1), '/'), ''), '/')
         END AS parent,
         k AS level, al, ab, n, nf FROM x),
t AS (
  SELECT path, any_value(parent) AS parent, level, sum(al) AS al, sum(ab) AS ab,
         sum(n) AS n, sum(nf) AS nf
  FROM y GROUP BY path, level)
-- entries below a folder: less its own row, when the scan has it (a shard's
-- files may hold a folder's entries without the folder's row), and less
-- every other folder row of that path (folders whose names print alike,
-- d and d<newline>, are one folder here: their rows are its own, not below it)
SELECT t.path, t.parent, t.level, t.al, t.ab, t.n - coalesce(d.rows, 0) AS n, t.nf
FROM t LEFT JOIN (SELECT "filename", count(*) AS rows FROM "${table}" WHERE kind = 'd'
                  GROUP BY 1) d
  ON d."filename" = t.path`);
}

function folderRow(r: Record<string, unknown>): FolderRow {
  return {
    path: String(r.path),
    level: num(r.level),
    parent: r.parent === null || r.parent === undefined ? null : String(r.parent),
    ...amount(r),
  };
}

/** The newest modification time of the scan files (seconds), or now without one. */
async function scanTime(files: ScanFile[]): Promise<number> {
  let t = -Infinity;
  for (const f of files) {
    const m = (await Deno.stat(f.path)).mtime;
    if (m) t = Math.max(t, Math.floor(m.getTime() / 1000));
  }
  return Number.isFinite(t) ? t : Math.floor(Date.now() / 1000);
}

/**
 * Summarize scan files: pwalk CSV (`.csv`, `.csv.zst`, `.csv.gz`, with or
 * without header) or Parquet, as files, globs or folders of shards.
 *
 * @example Who uses the space, and what is cold
 * ```ts
 * import { report, summarize } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/sub`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 * await Deno.writeTextFile(`${tmp}/data/sub/b.txt`, "hi");
 * await report(`${tmp}/data`, { output: `${tmp}/scan.csv.zst`, header: true });
 *
 * const s = await summarize([`${tmp}/scan.csv.zst`], { top: 5, depth: 2 });
 * assertEquals([s.totals.files, s.totals.folders], [2, 2]);
 * assertEquals(s.users.map((u) => [u.id, u.files]), [[Deno.uid(), 2]]); // one owner: us
 * assertEquals(s.largestFiles.map((f) => [f.path, f.apparentBytes]), [
 *   [`${tmp}/data/a.txt`, 5],
 *   [`${tmp}/data/sub/b.txt`, 2],
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {TypeError} when `scans` is not an array of strings (one scan
 * alone too: give `["scan.csv"]`), or an option has another type
 * @throws {ScanInputError} when a scan names nothing readable
 * @throws {SpillFullError} when DuckDB's spill folder runs out of space
 * @throws {RangeError} when PWALK_NAMES_TIMEOUT is set to no number of seconds (names resolved)
 */
export async function summarize(
  scans: string[],
  options: SummaryOptions = {},
): Promise<Summary> {
  options = withoutNulls(options);
  checkOptionNames("summarize", options, SUMMARY_OPTIONS);
  checkEngineOptions(options);
  checkBool("names", options.names);
  checkFunctions(options, ["onNamesTimeout"]);
  checkScanList("scans", scans);
  const top = checkInt("top", options.top ?? 10, 1, 1_000_000);
  const depth = checkInt("depth", options.depth ?? 2, 0, 10_000);
  if (options.names !== false) namesTimeout(); // a bad PWALK_NAMES_TIMEOUT: refused before the work
  if (options.now !== undefined && (typeof options.now !== "number" || !isFinite(options.now))) {
    throw new RangeError(
      `pwalk: now must be seconds since 1970 (a finite number), got ${JSON.stringify(options.now)}`,
    );
  }
  options.signal?.throwIfAborted();
  return await cancellable(options.signal, async () => {
    const files = await resolveScans(scans, options.signal);
    const now = options.now ?? await scanTime(files);
    const t0 = performance.now();
    tellStage(options, "reading", scans);
    const [e, load] = await openLoaded(options, (e, escape) => {
      tellStage(options, "reading", scans);
      return loadForAnswers(e, files, "s", escape);
    });
    try {
      tellStage(options, "users, groups, sizes, ages");
      const tot = (await e.all(`SELECT count(*) AS n, count(*) FILTER (kind = 'f') AS nf,
      count(*) FILTER (kind = 'd') AS nd, count(*) FILTER (kind = 'l') AS nl,
      count(*) FILTER (kind = 'o') AS no, sum(ab) AS ab, sum(al) AS al,
      count(*) FILTER (dupl) AS dupl, count(DISTINCT "UID") AS users,
      count(DISTINCT "GID") AS groups FROM s`))[0];
      const seenTwice = (await e.all(`SELECT count(*) AS n FROM (SELECT 1 FROM s WHERE kind = 'd'
      GROUP BY nsp, "st_dev", "inode" HAVING count(*) > 1)`))[0];
      const totals: Totals = {
        entries: num(tot.n),
        files: num(tot.nf),
        folders: num(tot.nd),
        links: num(tot.nl),
        other: num(tot.no),
        apparentBytes: num(tot.ab),
        allocatedBytes: num(tot.al),
        hardLinkNames: num(tot.dupl),
        errors: await recordedErrors(files),
        nonUtf8Names: load.nonUtf8Rows,
        foldersSeenTwice: num(seenTwice.n),
      };
      const roots = (await e.all(
        `SELECT "filename" AS p FROM s WHERE "directory-depth" = -1 ORDER BY 1`,
      )).map((r) => String(r.p));

      const owners = async (col: string, where = "") =>
        (await e.all(
          `SELECT "${col}" AS id, ${AMOUNT} FROM s ${where} GROUP BY 1 ` +
            `ORDER BY al DESC, ab DESC, id LIMIT ${top}`,
        )).map((r) => ({ id: num(r.id), name: null as string | null, ...amount(r) }));
      const users = await owners("UID");
      const groups = await owners("GID");
      // Ages are now minus a time, in HUGEINT: any 64-bit time is real (on
      // tmpfs any user sets one with utimensat), and far from now it would
      // overflow a BIGINT. Times are whole seconds, so now's floor gives the
      // same buckets; beyond 2^64 from 0 (the API's now may be any finite
      // number) every time is as far from it.
      const nowSql = `${BigInt(Math.min(Math.max(Math.floor(now), -(2 ** 64)), 2 ** 64))}::HUGEINT`;
      const age = (col: string) => `${nowSql} - "${col}"`;
      // not read for 365 days or more: read at or before now - 365 days
      const coldWhere = `WHERE kind = 'f' AND "st_atime" <= ${nowSql} - ${365 * 86400}`;
      const cold = await owners("UID", coldWhere);
      const coldUsers = (await e.all(`SELECT count(DISTINCT "UID") AS n FROM s ${coldWhere}`))[0];

      const extRows = await e.all(
        `SELECT "fileExtension" AS ext, ${AMOUNT}, count(*) OVER () AS m FROM s ` +
          `WHERE kind = 'f' GROUP BY 1 ORDER BY al DESC, ab DESC, n DESC, ext LIMIT ${top}`,
      );
      const extensions = extRows.map((r) => ({ ext: String(r.ext ?? ""), ...amount(r) }));

      // floor(log2) in floating point, corrected by exact integer powers of
      // two (a double rounds 2^55 - 1 up to 2^55)
      const sizeHistogram = (await e.all(`WITH f AS (
        SELECT CASE WHEN "st_size" <= 0 THEN -1 ELSE floor(log2("st_size"))::INTEGER END AS b0,
               "st_size" AS sz, al, ab, kind FROM s WHERE kind = 'f'),
      g AS (SELECT CASE WHEN b0 < 0 THEN -1 WHEN (1::HUGEINT << b0) > sz THEN b0 - 1
                        WHEN (1::HUGEINT << (b0 + 1)) <= sz THEN b0 + 1 ELSE b0 END AS b, al, ab, kind FROM f)
      SELECT b, ${AMOUNT} FROM g GROUP BY b ORDER BY b`)).map((r): SizeBucket => {
        const b = num(r.b);
        return { min: b < 0 ? 0 : 2 ** b, max: b < 0 ? 1 : 2 ** (b + 1), ...amount(r) };
      });

      const ages = async (col: string): Promise<AgeBucket[]> => {
        const cases = AGE_BUCKETS.map(([, lo], i) => `WHEN age >= ${lo * 86400} THEN ${i}`)
          .reverse().join(" ");
        const rows = await e.all(`SELECT CASE ${cases} ELSE 0 END AS bucket, ${AMOUNT}
        FROM (SELECT ${age(col)} AS age, al, ab, kind FROM s WHERE kind = 'f')
        GROUP BY 1`);
        const by = new Map(rows.map((r) => [num(r.bucket), amount(r)]));
        return AGE_BUCKETS.map(([label, minDays, maxDays], i) => ({
          label,
          minDays,
          maxDays,
          ...(by.get(i) ?? { allocatedBytes: 0, apparentBytes: 0, entries: 0, files: 0 }),
        }));
      };
      const mtimeAges = await ages("st_mtime");
      const atimeAges = await ages("st_atime");
      const byUser = async (col: string): Promise<UserAges[]> => {
        if (users.length === 0) return [];
        const cases = AGE_BUCKETS.map(([, lo], i) => `WHEN age >= ${lo * 86400} THEN ${i}`)
          .reverse().join(" ");
        const rows = await e.all(`SELECT uid, CASE ${cases} ELSE 0 END AS bucket,
          sum(al) AS al, sum(ab) AS ab
        FROM (SELECT "UID" AS uid, ${age(col)} AS age, al, ab FROM s
              WHERE kind = 'f' AND "UID" IN (${users.map((u) => u.id).join(", ")}))
        GROUP BY 1, 2`);
        return users.map((u) => {
          const al = AGE_BUCKETS.map(() => 0), ab = AGE_BUCKETS.map(() => 0);
          for (const r of rows) {
            if (num(r.uid) !== u.id) continue;
            al[num(r.bucket)] = num(r.al);
            ab[num(r.bucket)] = num(r.ab);
          }
          return { id: u.id, name: null, allocatedBytes: al, apparentBytes: ab };
        });
      };
      const mtimeAgesByUser = await byUser("st_mtime");
      const atimeAgesByUser = await byUser("st_atime");

      tellStage(options, "folders, files");
      await folderTotals(e, "s", depth, "rec");
      const folders = (await e.all(
        `SELECT * FROM rec ORDER BY al DESC, ab DESC, path LIMIT ${top}`,
      )).map(folderRow);
      // (with how many subfolders each has in `rec`, of which `top` are kept)
      const folderTree = (await e.all(`SELECT t.*, coalesce(c.subs, 0) AS subs FROM (
        SELECT *, row_number() OVER (PARTITION BY parent ORDER BY al DESC, ab DESC, path) AS rn
        FROM rec) t
      LEFT JOIN (SELECT parent AS pp, level - 1 AS pl, count(*) AS subs FROM rec
        WHERE parent IS NOT NULL GROUP BY 1, 2) c ON c.pp = t.path AND c.pl = t.level
      WHERE t.parent IS NULL OR t.rn <= ${top} ORDER BY t.level, t.al DESC, t.path`))
        .map((r) => ({
          ...folderRow(r),
          ...(num(r.level) < depth ? { subfolders: num(r.subs) } : {}),
        }));
      // keep only nodes whose parent was kept
      const kept = new Set<string>();
      const tree = folderTree.filter((f) => {
        if (f.parent !== null && !kept.has(`${f.level - 1}\0${f.parent}`)) return false;
        kept.add(`${f.level}\0${f.path}`);
        return true;
      });

      const busiestFolders = (await e.all(
        `SELECT "filename" AS path, "pw_fcount" AS n, "pw_dirsum" AS b, "UID" AS uid FROM s ` +
          `WHERE kind = 'd' ORDER BY n DESC, path LIMIT ${top}`,
      )).map((r) => ({
        path: String(r.path),
        entries: num(r.n),
        bytes: num(r.b),
        uid: num(r.uid),
        user: null as string | null,
      }));
      const largestFiles = (await e.all(
        `SELECT "filename" AS path, "st_size" AS ab, al, "UID" AS uid, "GID" AS gid, ` +
          `"st_mtime" AS mt, "st_atime" AS at FROM s WHERE kind = 'f' AND NOT dupl ` +
          `ORDER BY "st_size" DESC, path LIMIT ${top}`,
      )).map((r): FileRow => ({
        path: String(r.path),
        apparentBytes: num(r.ab),
        allocatedBytes: num(r.al),
        uid: num(r.uid),
        user: null,
        gid: num(r.gid),
        group: null,
        mtime: num(r.mt),
        atime: num(r.at),
      }));

      if (options.names !== false) {
        tellStage(options, "user and group names");
        const [un, gn] = await lookupNames(
          [
            ...users.map((u) => u.id),
            ...cold.map((u) => u.id),
            ...largestFiles.map((f) => f.uid),
            ...busiestFolders.map((f) => f.uid),
          ],
          [...groups.map((g) => g.id), ...largestFiles.map((f) => f.gid)],
          options.onNamesTimeout,
          options.signal,
        );
        for (const u of [...users, ...cold, ...mtimeAgesByUser, ...atimeAgesByUser]) {
          u.name = un.get(u.id) ?? null;
        }
        for (const g of groups) g.name = gn.get(g.id) ?? null;
        for (const f of largestFiles) {
          f.user = un.get(f.uid) ?? null;
          f.group = gn.get(f.gid) ?? null;
        }
        for (const f of busiestFolders) f.user = un.get(f.uid) ?? null;
      }

      return {
        scans: load.files,
        roots,
        now,
        top,
        depth,
        totals,
        userCount: num(tot.users),
        groupCount: num(tot.groups),
        users,
        groups,
        extensions,
        extensionCount: extRows.length ? num(extRows[0].m) : 0,
        sizeHistogram,
        mtimeAges,
        atimeAges,
        mtimeAgesByUser,
        atimeAgesByUser,
        folders,
        folderTree: tree,
        busiestFolders,
        largestFiles,
        coldByUser: cold,
        coldUserCount: num(coldUsers.n),
        elapsedSeconds: (performance.now() - t0) / 1000,
      };
    } finally {
      await e.close();
    }
  });
}
