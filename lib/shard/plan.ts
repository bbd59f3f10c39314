/**
 * Planning a sharded scan: read the top of the tree until it holds enough
 * folders (the frontier) to share among N shards, and give each shard its
 * folders, balanced by an estimate of the work below them.
 *
 * A shard walks its frontier folders exactly as a whole run would (their
 * rows, and everything below them); shard 0 also walks the root with the
 * frontier folders excluded, which gives the rows above the frontier. The
 * union of the shards' rows is then a whole run's rows. That holds for any
 * frontier whose folders (1) would be walked and printed by a whole run
 * with the plan's options, and (2) do not hold one another; the planner
 * only decides which folders, and is careful about (1): it never plans a
 * folder that --exclude, --NoSnap or --depth would skip, nor one on another
 * file system with -x, nor a link.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { count as counted } from "../digits.ts";
import { errnoText } from "../errno.ts";
import {
  checkBools,
  checkExcludeNotRoot,
  checkInt,
  checkOptionNames,
  checkRootPath,
  excludeList,
  type OptionNames,
  typed,
  walkerSpelled,
  withoutNulls,
} from "../options.ts";
import { besidePath, writeWhole } from "../outfile.ts";
import { sha256Hex } from "../sha256.ts";
import { DeepListings, type FolderId, folderId, listFolder } from "./list.ts";
import { byteKey, joinPath, type JsonPath, jsonPath, normaliseRoot, pathOfJson } from "./paths.ts";
import { readScanCounts, type ScanCounts, scanFiles } from "./scan.ts";
import { abortable } from "../abortable.ts";
import { oneLine } from "../utf8.ts";
import { readProcFile } from "../procfs.ts";

/** The names of {@link PlanOptions} (any other: a TypeError). */
export const PLAN_OPTIONS: OptionNames<PlanOptions> = {
  header: true,
  noSnap: true,
  pwalkDepth: true,
  exclude: true,
  oneFileSystem: true,
  shards: true,
  from: true,
  minFolders: true,
  maxListed: true,
  concurrency: true,
  signal: true,
  onProgress: true,
  onWarning: true,
};

/** The report options a plan fixes for all its shards (pwalk's). */
export interface PlanReportOptions {
  /** pwalk `--header`: the header line, once, at the top of shard 0's output. */
  header?: boolean;
  /** pwalk `--NoSnap`. */
  noSnap?: boolean;
  /** pwalk `--depth N` (0: unlimited). */
  pwalkDepth?: number;
  /** pwalk `--exclude`: full folder paths. */
  exclude?: (string | Uint8Array)[];
  /** pwalk `-x`. */
  oneFileSystem?: boolean;
}

/** The most shards a plan may ask for (`--shards`, {@link PlanOptions.shards}). */
export const MAX_SHARDS = 100_000;

/** Options of {@link planShards}. */
export interface PlanOptions extends PlanReportOptions {
  /** How many shards (1 to {@link MAX_SHARDS}). A tree with fewer folders gets fewer. */
  shards: number;
  /**
   * Previous scans (pwalk CSV, .csv.zst or .csv.gz files, or folders of them, such
   * as an earlier sharded scan's folder): their recursive counts per folder
   * are the estimates. Default: estimates from listings.
   */
  from?: string[];
  /** The frontier grows to at least this many folders, when the tree has them. Default 16 x shards. */
  minFolders?: number;
  /**
   * The planner lists at most this many folders (more only to list all of
   * the root's folders). Default 1024 x shards within 16,384 and 131,072
   * (what the planner keeps in memory grows with it), and at least 4 x
   * minFolders (at most 1,000,000,000).
   */
  maxListed?: number;
  /**
   * Listings and stats in flight at once. Default 32 (a latency-bound file
   * system answers many at once).
   */
  concurrency?: number;
  /** Cancels the planning. */
  signal?: AbortSignal;
  /** Called after each folder is expanded. */
  onProgress?: (p: { listed: number; frontier: number }) => void;
  /**
   * Told (one line, at most once) what makes the previous scans of `from`
   * poor estimates; the plan is made all the same. When they hold no
   * folder row, or know less than half of the root's folders (not a pwalk
   * scan, or one of another tree), the plan estimates from listings as
   * without `from`. When they know less than half of the folders below
   * the root the planner saw in its listings, the others are estimated
   * from their listings (1 row a folder it did not list). When they were
   * made with a `--depth` shallower than the plan's (or the plan has
   * none), they leave out the deeper rows.
   */
  onWarning?: (message: string) => void;
}

/** One folder of the frontier: where it is, what it is, and which shard walks it. */
export interface PlannedFolder extends JsonPath {
  /**
   * Device when planned. A shard walks the folder at the path now, another
   * one too, as a whole run would (README, "What a shard walks"); when its
   * inode is the planned one, its device now is mapped to this one in the
   * shard's rows (a node that numbers the mounts differently).
   */
  dev: number;
  /** Inode when planned (not compared either). */
  ino: number;
  /**
   * Inode of the folder holding it when planned; the row prints the inode
   * of the folder holding it when the shard walks.
   */
  parentIno: number;
  /** Its row's directory-depth (the root's folders 0). */
  depth: number;
  /** The estimated rows below and including it. */
  estimate: number;
  /** The shard that walks it. */
  shard: number;
}

/** A plan, as written to plan.json. */
export interface ShardPlan {
  /** Always "pwalk-shard-plan". */
  format: "pwalk-shard-plan";
  /** Format version (1). */
  version: 1;
  /** Random id: completion records name the plan they belong to. */
  id: string;
  /** When it was made (ISO 8601). */
  created: string;
  /** The pwalk version that made it. */
  pwalk: string;
  /** The working folder it was made in (a relative root is relative to it). */
  cwd: string;
  /** The root as given (trailing slashes dropped), and its device and inode. */
  root: { path: string; dev: number; ino: number };
  /** The report options every shard uses. */
  options: {
    header: boolean;
    noSnap: boolean;
    pwalkDepth: number;
    exclude: JsonPath[];
    oneFileSystem: boolean;
  };
  /** How many shards (perhaps fewer than asked: see requestedShards). */
  shards: number;
  /** How many were asked for. */
  requestedShards: number;
  /** How the work was estimated, and the estimated rows per shard. */
  estimate: {
    /** "listing": rows seen one level below the frontier; "scan": a previous scan's counts. */
    source: "listing" | "scan";
    /** The scan files read (source "scan"). */
    scans: string[];
    /** Estimated rows of the whole tree. */
    total: number;
    /** Estimated rows above the frontier (shard 0 walks them). */
    top: number;
    /** Estimated rows per shard. */
    loads: number[];
  };
  /** Folders the planner listed. */
  listed: number;
  /**
   * How many frontier folders were left whole, for each reason (the plan
   * has fewer shards than asked when the frontier holds fewer than that
   * many folders). `budget`: the listing budget (`maxListed`) ran out
   * before they were listed; `share`: splitting them would have put more
   * than a shard's share of rows above the frontier (their own files),
   * as estimated; `bottom`: they hold no folder a whole run would walk
   * (none, `--depth`, `--exclude`, or not readable). `minFolders`: the
   * frontier reached `minFolders` folders, none more than half a shard's
   * share, and the splitting stopped there. `partial`: the listing budget
   * ran out with folders of the tree not listed (estimates from listings
   * then count only the rows the planner saw). (Plans of older versions
   * have none.)
   */
  unsplit?: {
    budget: number;
    share: number;
    bottom: number;
    minFolders: boolean;
    partial: boolean;
  };
  /** The frontier folders, sorted by path. */
  frontier: PlannedFolder[];
}

/** A folder of the tree as far as the planner read it. */
interface Node {
  /**
   * Its name (the root: its path). Its path is built when needed
   * ({@link pathOf}): a path kept in each node would take the square of
   * the depth down a chain (270 MB at 1,000 levels of 255-byte names).
   */
  name: Uint8Array;
  /** Its path's length in bytes. */
  len: number;
  /** pwalk depth of its row (the root -1). */
  depth: number;
  parent: Node | null;
  /** Device and inode, once stat-ed. */
  id: FolderId | undefined;
  /** A mount point or a folder below one (below the root), once listed: lstat-ed before its listing. */
  mounted?: boolean;
  /** Names in its listing, once listed. */
  count?: number;
  /** Why it could not be listed. */
  error?: string;
  /** Its folders a whole run would walk, once listed. */
  children: Node[] | undefined;
  /** Rows seen in its subtree (itself included). */
  seen: number;
  /** The estimate the plan balances by: a previous scan's count, else `seen`. */
  estimate: number;
  /** Not a folder a whole run would walk (gone, a link now, another file system with -x). */
  dead: boolean;
  /** Not to be split further. */
  leaf: boolean;
  /** Why not (a {@link ShardPlan.unsplit} reason). */
  stop?: "budget" | "share" | "bottom";
}

const enc = new TextEncoder();

/** Run f over items with at most n in flight; results in item order. */
async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Whether a slash comes between the path of `n`'s folder and its name (not after a root "/"). */
function slashBefore(n: Node): number {
  const up = n.parent!;
  return up.parent || up.name[up.name.length - 1] !== 0x2f ? 1 : 0;
}

/** The path of a node: its folders' names from the root's path (as joinPath joins them). */
function pathOf(n: Node): Uint8Array {
  if (!n.parent) return n.name;
  const out = new Uint8Array(n.len);
  let at = n.len;
  let a = n;
  for (; a.parent; a = a.parent) {
    at -= a.name.length;
    out.set(a.name, at);
    if (slashBefore(a)) out[--at] = 0x2f;
  }
  out.set(a.name, 0);
  return out;
}

/**
 * Byte order of two nodes' paths (paths.ts's compareBytes of them), from the
 * names below the folder they share, not building the paths.
 */
function compareNodes(a: Node, b: Node): number {
  if (a === b) return 0;
  let x = a, y = b;
  while (x.depth > y.depth) x = x.parent!;
  while (y.depth > x.depth) y = y.parent!;
  if (x === y) return a.depth - b.depth; // one holds the other: its path is a prefix
  while (x.parent !== y.parent) [x, y] = [x.parent!, y.parent!];
  const p = x.name, q = y.name;
  const n = Math.min(p.length, q.length);
  for (let i = 0; i < n; i++) if (p[i] !== q[i]) return p[i] - q[i];
  // one name is the start of the other: what follows it in its path, a
  // slash or the end
  if (p.length < q.length) return x === a ? -1 : 0x2f - q[n];
  return y === b ? 1 : p[n] - 0x2f;
}

/** Whether a is ahead of b: a bigger estimate, then the smaller path. */
function ahead(a: Node, b: Node): boolean {
  return a.estimate !== b.estimate ? a.estimate > b.estimate : compareNodes(a, b) < 0;
}

/**
 * The folders below `root` where something is mounted (a bind mount of the
 * root is one), by /proc/self/mountinfo: each as its path below the real
 * path of `root` ({@link byteKey} of its bytes). Null when it cannot be
 * told (no /proc, a root without a real path, a mount point's path not
 * UTF-8): then every folder is lstat-ed.
 */
function mountPointsBelow(root: string): Set<string> | null {
  let real: string, bytes: Uint8Array | undefined;
  try {
    real = Deno.realPathSync(root);
    bytes = readProcFile("/proc/self/mountinfo");
  } catch {
    return null;
  }
  if (!bytes) return null;
  const text = new TextDecoder().decode(bytes);
  if (text.includes("\uFFFD")) return null;
  const above = real === "/" ? "/" : `${real}/`;
  const below = new Set<string>();
  for (const line of text.split("\n")) {
    // the mount point, the fifth field: a space, tab, newline or backslash in it is \ooo
    const at = line.split(" ")[4]?.replace(
      /\\([0-7]{3})/g,
      (_, o: string) => String.fromCharCode(parseInt(o, 8)),
    );
    if (at?.startsWith(above) && at.length > above.length) {
      below.add(byteKey(enc.encode(at.slice(above.length))));
    }
  }
  return below;
}

/**
 * Plan a sharded scan of `root`: read the top of the tree (listings, and a
 * stat of each folder the frontier may hold), deeper under the biggest
 * folders, until the frontier holds `minFolders` folders and none of them
 * alone is more than half a shard's share; then give each shard folders,
 * biggest first, always to the least loaded shard (shard 0 starts with the
 * rows above the frontier; shards 1.. are then numbered biggest first).
 * Deterministic for a given tree: ties go by
 * path bytes and shard number.
 *
 * @example Plan 2 shards and run both here: together they give every row
 * ```ts
 * import { planShards, runShard, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * for (const name of ["a", "b", "c"]) {
 *   await Deno.mkdir(`${tmp}/data/${name}`, { recursive: true });
 *   await Deno.writeTextFile(`${tmp}/data/${name}/f.txt`, name);
 * }
 * const plan = await planShards(`${tmp}/data`, { shards: 2, noSnap: true });
 * await writePlan(plan, `${tmp}/plan.json`); // for shards run elsewhere
 * const s0 = await runShard(plan, 0, { output: `${tmp}/scan-0.csv.zst` });
 * const s1 = await runShard(plan, 1, { output: `${tmp}/scan-1.csv.zst` });
 * assertEquals(s0.rows + s1.rows, 7); // data, a, b, c and the three f.txt
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {Deno.errors.NotFound} when the root does not exist
 * @throws {Deno.errors.NotADirectory} when the root is not a folder
 */
export async function planShards(root: string, options: PlanOptions): Promise<ShardPlan> {
  if (options === undefined) throw new TypeError("pwalk: planShards needs its options: { shards }");
  options = withoutNulls(options);
  checkOptionNames("planShards", options, PLAN_OPTIONS);
  return await planOf(root, options);
}

/** {@link planShards} without the check of its option names (slurmScan's hold more). */
export async function planOf(root: string, options: PlanOptions): Promise<ShardPlan> {
  checkRootPath(root);
  // a plan fixes them for every shard: "false" must not be taken as on
  checkBools(options, ["header", "noSnap", "oneFileSystem"]);
  const shards = checkInt("shards", options.shards, 1, MAX_SHARDS);
  const minFolders = checkInt("minFolders", options.minFolders ?? 16 * shards, 1, 1e9);
  const maxListed = checkInt(
    "maxListed",
    // (the default stays within the range a given one must keep)
    options.maxListed ??
      Math.min(Math.max(Math.min(1024 * shards, 131072), 4 * minFolders, 16384), 1e9),
    1,
    1e9,
  );
  const concurrency = checkInt("concurrency", options.concurrency ?? 32, 1, 4096);
  const maxDepth = checkInt("pwalkDepth", options.pwalkDepth ?? 0, 0, 2 ** 31 - 1);
  const signal = options.signal;
  const rootPath = normaliseRoot(root);
  let rootStat: Deno.FileInfo;
  try {
    rootStat = await abortable(Deno.stat(rootPath), signal); // like the walker: a link to a folder is followed
  } catch (e) {
    // Deno's message names the root as given: shown as one line, as the walker's
    try {
      if (e instanceof Error && !signal?.aborted) e.message = oneLine(e.message);
    } catch { /* a message that cannot be set (DOMException) */ }
    throw e;
  }
  if (!rootStat.isDirectory) {
    throw new Deno.errors.NotADirectory(`${oneLine(root)}: Not a directory`);
  }
  const rootDev = rootStat.dev, rootIno = rootStat.ino!;
  const excludes = excludeList(rootPath, options.exclude).map((e) =>
    typeof e === "string" ? enc.encode(e) : e
  );
  const excluded = new Set(excludes.map(byteKey));
  checkExcludeNotRoot(rootPath, options.exclude);

  let scan: ScanCounts | undefined;
  const scans: string[] = [];
  // (a string would be taken a character at a time)
  const from = options.from;
  if (from !== undefined && (!Array.isArray(from) || from.some((f) => typeof f !== "string"))) {
    throw new TypeError(`pwalk: from must be an array of scans, got ${typed(from)}`);
  }
  for (const f of from ?? []) scans.push(...await scanFiles(f));
  if (scans.length) scan = await readScanCounts(scans, { signal });
  const rootBytes = enc.encode(rootPath);
  const relOf = (p: Uint8Array) =>
    p.subarray(rootBytes.length + (rootBytes[rootBytes.length - 1] === 0x2f ? 0 : 1));

  // a loop needs a mount: only the folders where something is mounted, and
  // those below them (a bind mount of a folder above the root holds the
  // root's folder again a level or more down), are lstat-ed before their
  // listing (on NFS or Lustre each lstat is a round trip: one per folder
  // listed made a plan take nearly twice as long)
  const mounts = mountPointsBelow(rootPath);
  let listed = 0;
  // the frontier's folders (below), told with the folders listed
  const cands = new Set<Node>();

  // The tree as far as it was read. A node is a folder a whole run would
  // walk and print: not a link, not skipped by --NoSnap, --exclude or
  // --depth, and with -x (checked once its device is known) on the root's
  // file system.
  const nodeOf = (
    name: Uint8Array,
    depth: number,
    parent: Node | null,
    id?: FolderId,
  ): Node => {
    const n: Node = {
      name,
      len: name.length,
      depth,
      parent,
      id,
      children: undefined,
      seen: 1,
      estimate: 1,
      dead: false,
      leaf: false,
    };
    if (parent) n.len += parent.len + slashBefore(n);
    if (scan) n.estimate = scan.get(relOf(pathOf(n))) ?? 1;
    return n;
  };
  const rootNode: Node = nodeOf(rootBytes, -1, null, { dev: rootDev, ino: rootIno });
  // folders past PATH_MAX listed ahead, a walk for many of them
  const deep = new DeepListings();

  // List a node (after its device check with -x) and make its children.
  const list = async (n: Node): Promise<void> => {
    signal?.throwIfAborted();
    const path = pathOf(n);
    n.mounted = mounts === null ||
      (n.parent !== null &&
        (n.parent.mounted || (mounts.size > 0 && mounts.has(byteKey(relOf(path))))));
    if (options.oneFileSystem) {
      n.id = await abortable(folderId(path, n.id), signal) ?? undefined;
      if (!n.id || n.id.dev !== rootDev) {
        n.dead = true;
        n.children = [];
        return;
      }
    } else if (n.parent && !n.id && n.len < 4096 && n.mounted) {
      // (one that lstat refuses is listed as before: split() drops it; one
      // past PATH_MAX has its device and inode from its folder's listing)
      n.id = await abortable(folderId(path), signal) ?? undefined;
      // (the folders above a mount point: lstat-ed once one is met)
      for (let a: Node | null = n.parent; n.id && a; a = a.parent) {
        if (!a.id && a.len < 4096) a.id = await abortable(folderId(pathOf(a)), signal) ?? undefined;
      }
    }
    // a folder above it again (a bind mount of one inside the tree), as
    // split() judges it: a whole run gives it a row and walks nothing below
    // it; not listed (through the loop, level after level, the listings
    // would eat the budget and count the tree again in the estimates)
    for (let a = n.parent; a && n.id; a = a.parent) {
      if (a.id && a.id.dev === n.id.dev && a.id.ino === n.id.ino) {
        n.count = 0;
        n.children = [];
        return;
      }
    }
    const l = await abortable(
      listFolder(rootPath, { path, depth: n.depth, id: n.id }, deep),
      signal,
    );
    listed++;
    // (the listing is most of the time on a big tree: told as it goes)
    options.onProgress?.({ listed, frontier: cands.size });
    n.error = l.error;
    const d = n.depth + 1;
    // at --depth's last level its folders get no row (its files do): not counted
    const cut = maxDepth > 0 && d >= maxDepth;
    n.count = cut ? l.count - l.dirs.length : l.count;
    n.children = cut ? [] : l.dirs.flatMap((s) => {
      if (options.noSnap && s.name.length === 9 && byteKey(s.name) === ".snapshot") return [];
      if (excluded.size && excluded.has(byteKey(joinPath(path, s.name)))) return [];
      return [nodeOf(s.name, d, n, s.id)];
    });
  };

  await list(rootNode);
  if (rootNode.error) throw new Error(`${oneLine(rootPath)}: ${oneLine(rootNode.error)}`);

  // What the warning line tells about the previous scans. Scans with no
  // folder row, or that know less than half of the root's folders, are
  // not this tree's: the plan estimates from listings, as without them.
  const warnings: string[] = [];
  if (scan) {
    const none = scan.get(new Uint8Array()) === undefined;
    const { known, all } = coverage(rootNode, scan, relOf, 1);
    if (none || known * 2 < all) {
      warnings.push(
        none
          ? `no folder row of a pwalk scan in ${
            scan.files.join(", ")
          }: the plan estimates from listings instead`
          : `the previous scan knows ${known} of the root's ${
            counted(all, "folder")
          }: is it a scan of this tree? The plan estimates from listings instead`,
      );
      scan = undefined;
    }
  }

  // Without a previous scan, read the top of the tree breadth first, about
  // 3/4 of the listing budget (the first level whole), the folders of a
  // level in the order of their parent's size: estimates are then the rows
  // seen below each folder.
  let partial = false; // folders left unlisted for the budget
  if (!scan) {
    let level = rootNode.children!;
    while (level.length && listed < (maxListed * 3) / 4) {
      const sorted = [...level].sort((a, b) =>
        (b.parent!.count ?? 0) - (a.parent!.count ?? 0) || compareNodes(a, b)
      );
      const room = level[0].depth === 0 ? sorted.length : Math.floor((maxListed * 3) / 4) - listed;
      const now = sorted.slice(0, Math.max(0, room));
      await pool(now, concurrency, list);
      partial ||= now.length < level.length;
      level = now.flatMap((n) => n.children ?? []).filter((c) => !c.dead);
    }
    partial ||= level.length > 0;
  }
  const settle = (n: Node): number => {
    let seen = 1;
    if (n.children) {
      seen += (n.count ?? 0) - n.children.length;
      for (const c of n.children) if (!c.dead) seen += settle(c);
    }
    n.seen = seen;
    n.estimate = (scan && scan.get(relOf(pathOf(n)))) ?? seen;
    return seen;
  };
  settle(rootNode);

  // The frontier: the root's folders, then the biggest split into its own
  // folders (its other entries join the rows above the frontier) while the
  // frontier is small or one folder alone is more than half a shard's share.
  let top = 0;
  const split = async (n: Node): Promise<void> => {
    const kids = n.children!.filter((c) => !c.dead);
    await pool(kids, concurrency, async (c) => {
      c.id = c.id ?? await abortable(folderId(pathOf(c)), signal) ?? undefined;
      if (!c.id || (options.oneFileSystem && c.id.dev !== rootDev)) c.dead = true;
      // a folder above it again (a bind mount of one inside the tree): a
      // whole run gives it a row and a loop error, and walks nothing below
      // it; its row is its parent's walker's, as a file's
      for (let a: Node | null = n; a && !c.dead; a = a.parent) {
        if (a.id && c.id && a.id.dev === c.id.dev && a.id.ino === c.id.ino) c.dead = true;
      }
    });
    let made = 0;
    for (const c of kids) {
      if (c.dead) continue;
      cands.add(c);
      made++;
    }
    top += 1 + (n.count ?? 0) - made;
    options.onProgress?.({ listed, frontier: cands.size });
  };
  await split(rootNode);
  let reachedMin = false;
  for (;;) {
    signal?.throwIfAborted();
    let best: Node | undefined;
    let sum = top;
    for (const c of cands.values()) {
      sum += c.estimate;
      if (!c.leaf && (!best || ahead(c, best))) best = c;
    }
    if (!best) break;
    if (cands.size >= minFolders && best.estimate * 2 * shards <= sum) {
      reachedMin = true;
      break;
    }
    if (!best.children) {
      // not read yet: read it now, while the budget lasts
      if (listed >= maxListed) {
        [best.leaf, best.stop] = [true, "budget"];
        continue;
      }
      await list(best);
      // (a folder the scan does not know: the rows seen in its listing)
      settle(best);
    }
    if (best.dead) {
      cands.delete(best); // gone, or not a folder a whole run would walk
      continue;
    }
    if (best.error || best.children!.every((c) => c.dead)) {
      // nothing to split it into (--depth, or no folders)
      [best.leaf, best.stop] = [true, "bottom"];
      continue;
    }
    // Its own entries would join the rows above the frontier (shard 0's):
    // split it only while those stay within a shard's share, or when it is
    // so big that it alone outweighs them twice.
    const own = 1 + (best.count ?? 0) - best.children!.filter((c) => !c.dead).length;
    if (top + own > Math.max(sum / shards, best.estimate / 2)) {
      [best.leaf, best.stop] = [true, "share"];
      continue;
    }
    cands.delete(best);
    await split(best);
  }
  if (scan) {
    // (those within the levels the scan reached and kept: a scan made with
    // --depth is not blamed for the levels below; folders made since count
    // as unknown)
    const { known, all } = coverage(rootNode, scan, relOf, scan.levels);
    if (known * 2 < all) {
      warnings.push(
        `the previous scan knows ${known} of the ${
          counted(all, "folder")
        } below the root in the planner's listings: is it a scan of this tree? The others are ` +
          "estimated from their listings (1 row a folder not listed)",
      );
    }
    const limit = scan.depthLimit;
    if (limit > 0 && (maxDepth === 0 || maxDepth > limit)) {
      warnings.push(
        `the previous scan seems made with --depth ${limit} (no row of its folders at depth ${limit}` +
          `), this plan (${maxDepth ? `--depth ${maxDepth}` : "no --depth"}) walks them: its ` +
          "estimates leave out those folders and all below them, and the shards may be unequal",
      );
    }
  }
  if (warnings.length) options.onWarning?.(`--from: ${warnings.join("; ")}`);
  const unsplit = { budget: 0, share: 0, bottom: 0, minFolders: reachedMin, partial };
  for (const c of cands.values()) if (c.stop) unsplit[c.stop]++;
  unsplit.partial ||= unsplit.budget > 0;
  // Biggest first, each to the least loaded shard (the lowest on ties).
  const front = [...cands.values()].sort((a, b) => (ahead(a, b) ? -1 : ahead(b, a) ? 1 : 0));
  const parentIno = (n: Node) => n.parent!.id!.ino;
  const count = Math.max(1, Math.min(shards, front.length + 1));
  const loads = new Array<number>(count).fill(0);
  loads[0] = top;
  const shardOf = new Map<Node, number>();
  for (const c of front) {
    let s = 0;
    for (let i = 1; i < count; i++) if (loads[i] < loads[s]) s = i;
    loads[s] += c.estimate;
    shardOf.set(c, s);
  }
  // Shards 1.. numbered biggest first: a throttled array (--array=...%K)
  // starts the longest shards first. (Shard 0 keeps the rows above the frontier.)
  const order = [
    0,
    ...loads.map((_, i) => i).slice(1).sort((a, b) => loads[b] - loads[a] || a - b),
  ];
  const renumber = new Array<number>(count);
  order.forEach((old, i) => (renumber[old] = i));
  const sortedLoads = order.map((i) => loads[i]);
  for (const [k, v] of shardOf) shardOf.set(k, renumber[v]);
  loads.splice(0, count, ...sortedLoads);
  front.sort(compareNodes);
  return {
    format: "pwalk-shard-plan",
    version: 1,
    id: crypto.randomUUID(),
    created: new Date().toISOString(),
    pwalk: denoJson.version,
    cwd: Deno.cwd(),
    root: { path: rootPath, dev: rootDev, ino: rootIno },
    options: {
      header: !!options.header,
      noSnap: !!options.noSnap,
      pwalkDepth: maxDepth,
      exclude: excludes.map(jsonPath),
      oneFileSystem: !!options.oneFileSystem,
    },
    shards: count,
    requestedShards: shards,
    estimate: {
      source: scan ? "scan" : "listing",
      scans: scan ? scans : [],
      total: loads.reduce((a, b) => a + b, 0),
      top,
      loads,
    },
    listed,
    unsplit,
    frontier: front.map((c) => ({
      ...jsonPath(pathOf(c)),
      dev: c.id!.dev,
      ino: c.id!.ino,
      parentIno: parentIno(c),
      depth: c.depth,
      estimate: c.estimate,
      shard: shardOf.get(c)!,
    })),
  };
}

/**
 * How many of the folders `levels` levels below the root or less that the
 * planner listed a previous scan knows.
 */
function coverage(
  root: Node,
  scan: ScanCounts,
  relOf: (p: Uint8Array) => Uint8Array,
  levels: number,
): { known: number; all: number } {
  let known = 0, all = 0;
  const visit = (n: Node) => {
    for (const c of n.children ?? []) {
      if (c.dead || c.depth + 1 > levels) continue;
      all++;
      if (scan.get(relOf(pathOf(c))) !== undefined) known++;
      visit(c);
    }
  };
  visit(root);
  return { known, all };
}

/**
 * SHA-256 (hex) of what a plan makes its shards write: its id, working
 * folder, root, report options, number of shards and every frontier folder
 * with its shard (not its estimates, its date or the pwalk that made it).
 * A completion record carries it (`planSha256`): a record of the same plan
 * id whose digest differs was made from another version of plan.json
 * (edited since), and counts as not done.
 *
 * @example A shard's record carries its plan's digest
 * ```ts
 * import { planDigest, planShards, readRecord, runShard } from "jsr:@pwalk/cli";
 * import { assertEquals, assertMatch, assertNotEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * const digest = planDigest(plan);
 * assertMatch(digest, /^[0-9a-f]{64}$/);
 * await runShard(plan, 0, { output: `${tmp}/scan-0.csv.zst` });
 * assertEquals((await readRecord(`${tmp}/scan-0.done.json`))!.planSha256, digest);
 * assertEquals(planDigest({ ...plan, created: "2001-01-01T00:00:00Z" }), digest); // not its date
 * assertNotEquals(planDigest({ ...plan, shards: 3 }), digest); // what the shards write
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export function planDigest(plan: ShardPlan): string {
  const p = (j: JsonPath) => [j.path, j.pathBase64 ?? null];
  const o = plan.options;
  const content = [
    plan.id,
    plan.cwd,
    [plan.root.path, plan.root.dev, plan.root.ino],
    [!!o.header, !!o.noSnap, o.pwalkDepth, o.exclude.map(p), !!o.oneFileSystem],
    plan.shards,
    plan.frontier.map((f) => [...p(f), f.dev, f.ino, f.parentIno, f.depth, f.shard]),
  ];
  return sha256Hex(enc.encode(JSON.stringify(content)));
}

/** The frontier folders of one shard, with their paths in bytes. */
export function shardFolders(
  plan: ShardPlan,
  shard: number,
): { path: Uint8Array; dev: number; ino: number; parentIno: number; depth: number }[] {
  return plan.frontier.filter((f) => f.shard === shard).map((f) => ({
    path: pathOfJson(f),
    dev: f.dev,
    ino: f.ino,
    parentIno: f.parentIno,
    depth: f.depth,
  }));
}

/**
 * A plan file that is not a plan (or not one this version understands).
 *
 * @example
 * ```ts
 * import { PlanError, readPlan } from "jsr:@pwalk/cli";
 * import { assertEquals, assertRejects } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${tmp}/plan.json`, '{"format": "something else"}');
 * const e = await assertRejects(() => readPlan(`${tmp}/plan.json`), PlanError);
 * assertEquals(
 *   e.message,
 *   `${tmp}/plan.json: not a pwalk shard plan (no format "pwalk-shard-plan")`,
 * );
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class PlanError extends Error {
  /** An error named "PlanError" (as RefusedError is named). */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlanError";
  }
}

function isInt(v: unknown, min = 0): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min;
}

/**
 * Check that a parsed JSON value is a plan; returns it typed. A frontier
 * folder planned twice, or inside another, is refused (its rows would be
 * counted twice), and one that is not `ROOT/NAME/...` as the plan spells
 * its root (outside it, or with an empty, `.` or `..` name: a shard
 * reaches it from ROOT one name at a time).
 *
 * @example A plan received as JSON (from a URL, a message queue...)
 * ```ts
 * import { checkPlan, PlanError, planShards } from "jsr:@pwalk/cli";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const sent = JSON.stringify(await planShards(`${tmp}/data`, { shards: 2 }));
 *
 * const plan = checkPlan(JSON.parse(sent), "the plan received");
 * assertEquals([plan.root.path, plan.shards], [`${tmp}/data`, 2]);
 * assertThrows(
 *   () => checkPlan({ ...JSON.parse(sent), shards: 0 }, "the plan received"),
 *   PlanError,
 *   "the plan received: not a pwalk shard plan (bad shards)",
 * );
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {PlanError} when it is not one
 */
export function checkPlan(v: unknown, where = "plan"): ShardPlan {
  const bad = (why: string): never => {
    throw new PlanError(`${where}: not a pwalk shard plan (${why})`);
  };
  if (typeof v !== "object" || v === null) bad("not a JSON object");
  const p = v as Partial<ShardPlan>;
  if (p.format !== "pwalk-shard-plan") bad('no format "pwalk-shard-plan"');
  if (p.version !== 1) bad(`version ${p.version}, this pwalk reads 1`);
  if (typeof p.id !== "string" || !p.id) bad("no id");
  if (!isInt(p.shards, 1)) bad("bad shards");
  const r = p.root;
  if (!r || typeof r.path !== "string" || !r.path || !isInt(r.dev) || !isInt(r.ino)) {
    bad("bad root");
  }
  const o = p.options;
  if (!o || !Array.isArray(o.exclude) || !isInt(o.pwalkDepth)) bad("bad options");
  if (typeof p.cwd !== "string") bad("no cwd");
  if (!Array.isArray(p.frontier)) bad("no frontier");
  for (const f of p.frontier!) {
    if (
      typeof f.path !== "string" || !isInt(f.dev) || !isInt(f.ino) || !isInt(f.parentIno) ||
      !isInt(f.depth) || !isInt(f.shard) || f.shard >= p.shards! ||
      (f.pathBase64 !== undefined && typeof f.pathBase64 !== "string")
    ) bad(`bad frontier folder ${JSON.stringify(f.path)}`);
  }
  // a folder twice, or one inside another, would be walked by two shards
  // (or twice by one): its rows counted twice
  const seen = new Map<string, PlannedFolder>();
  const root = enc.encode(r!.path);
  for (const f of p.frontier!) {
    let k: string;
    let bytes: Uint8Array;
    try {
      bytes = pathOfJson(f);
      k = byteKey(bytes);
    } catch {
      bad(`bad frontier folder ${JSON.stringify(f.path)}`);
    }
    // the shard reaches it from ROOT one name at a time: ROOT/NAME/... as
    // the plan spells ROOT, no "", "." or ".." name (a hand-edited plan)
    const rel = belowRoot(root, bytes!);
    if (rel === null || rel.split("/").some((n) => n === "" || n === "." || n === "..")) {
      throw new PlanError(
        `${where}: frontier folder ${JSON.stringify(f.path)} (shard ${f.shard}) is not a ` +
          `folder below the plan's root ${JSON.stringify(r!.path)} spelled as the plan spells ` +
          "it (ROOT/NAME/...): the shard cannot walk it; make a new plan",
      );
    }
    const twice = seen.get(k!);
    if (twice) {
      throw new PlanError(
        `${where}: frontier folder ${JSON.stringify(f.path)} is planned twice (shards ` +
          `${twice.shard} and ${f.shard}): its rows would be counted twice; make a new plan`,
      );
    }
    seen.set(k!, f);
  }
  for (const [k, f] of seen) {
    for (let i = k.indexOf("/", 1); i > 0; i = k.indexOf("/", i + 1)) {
      const outer = seen.get(k.slice(0, i));
      if (outer) {
        throw new PlanError(
          `${where}: frontier folder ${JSON.stringify(f.path)} (shard ${f.shard}) lies inside ` +
            `frontier folder ${JSON.stringify(outer.path)} (shard ${outer.shard}): its rows ` +
            "would be counted twice; make a new plan",
        );
      }
    }
  }
  // the shard prints the plan's depth on the folder's row and counts its
  // rows below from it: another depth than its path's (an edited plan)
  // would make every one of them wrong, silently
  for (const f of p.frontier!) {
    const names = belowRoot(root, pathOfJson(f))!.split("/").length;
    if (f.depth !== names - 1) {
      throw new PlanError(
        `${where}: frontier folder ${JSON.stringify(f.path)} (shard ${f.shard}) has depth ` +
          `${f.depth}, but its path is at depth ${names - 1}: its rows would carry wrong ` +
          "depths; make a new plan",
      );
    }
  }
  return p as ShardPlan;
}

/**
 * What follows `root` and a slash in `path` (as the walker joins them: no
 * second slash after a root "/"), one char per byte; null when `path` is
 * not below `root` so spelled.
 */
function belowRoot(root: Uint8Array, path: Uint8Array): string | null {
  const n = root.length === 1 && root[0] === 0x2f ? 0 : root.length;
  if (path.length <= n + 1 || path[n] !== 0x2f) return null;
  for (let i = 0; i < n; i++) if (path[i] !== root[i]) return null;
  return byteKey(path.subarray(n + 1));
}

/**
 * Read and check a plan file.
 *
 * @example
 * ```ts
 * import { planShards, readPlan, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * for (const name of ["a", "b", "c"]) await Deno.mkdir(`${tmp}/data/${name}`, { recursive: true });
 * await writePlan(await planShards(`${tmp}/data`, { shards: 2 }), `${tmp}/plan.json`);
 *
 * const plan = await readPlan(`${tmp}/plan.json`);
 * assertEquals(plan.shards, 2);
 * // the folders the shards share out: here the root's three
 * assertEquals(plan.frontier.map((f) => f.path).sort(), [
 *   `${tmp}/data/a`,
 *   `${tmp}/data/b`,
 *   `${tmp}/data/c`,
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {PlanError} when the file is not a plan
 */
export async function readPlan(path: string): Promise<ShardPlan> {
  const text = await Deno.readTextFile(path);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new PlanError(`${oneLine(path)}: not JSON (${(e as Error).message})`);
  }
  return checkPlan(v, oneLine(path));
}

/**
 * Write a file whole or not at all: a temporary name beside it, made new
 * (O_CREAT | O_EXCL: never through a link someone put there), then renamed
 * over `path`, which is replaced whatever it is (a link there is replaced,
 * never written through). For the files a shard or `pwalk slurm` keeps in
 * a scan folder that others may write: root must not write or chmod a file
 * a link there points to. The file's data is synced (fdatasync) before the
 * rename. `mode`: the new file's permission bits (default 0o666 less the
 * umask).
 */
export async function writeAtomic(
  path: string,
  data: string | Uint8Array,
  mode?: number,
): Promise<void> {
  const tmp = besidePath(path, `.partial-${Deno.pid}`);
  try {
    // one of a dead run with this pid, or anything put there: removed (a
    // link itself, not its target), then made new
    await Deno.remove(tmp).catch(() => {});
    // node's file handle: Deno's files have no fchmod (writeFile's mode is
    // one), nor Deno.writeFile a sync
    const { open } = await import("node:fs/promises"); // loaded only by the shard commands
    const f = await open(tmp, "wx", mode ?? 0o666); // O_CREAT | O_EXCL: never through a link
    try {
      await f.writeFile(typeof data === "string" ? enc.encode(data) : data);
      if (mode !== undefined) await f.chmod(mode); // the bits asked for, whatever the umask
      // on the disk before it takes the name (as the library's outputs): after
      // a crash the name holds the whole file or the old one, never a short one
      await f.datasync();
    } finally {
      await f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    // Deno's text names the temporary file: "No such file or directory (os
    // error 2): writefile '/x/plan.json.partial-42'", node's "ENOSPC: no
    // space left on device, write"; say which file it was, in C's words
    const code = (e as { code?: unknown })?.code;
    const why = (typeof code === "string" && errnoText(code)) ||
      String((e as Error)?.message ?? e).replace(/ \(os error \d+\).*$/s, "");
    throw new Error(`cannot write ${oneLine(path)}: ${why}`, { cause: e });
  }
}

/** A plan as its file holds it: JSON, one key a line, and a line break. */
export function planText(plan: ShardPlan): string {
  return JSON.stringify(plan, null, 1) + "\n";
}

/**
 * Write a plan as JSON, whole or not at all, as `pwalk plan -o` does (the
 * rules of report's -o): a missing or regular file is replaced by a
 * complete new one, a link's target is replaced (the link kept), a
 * character device or FIFO is written directly; a folder, a socket or a
 * link to nothing is refused.
 *
 * @example
 * ```ts
 * import { planShards, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 4 });
 * await writePlan(plan, `${tmp}/plan.json`);
 *
 * const file = JSON.parse(await Deno.readTextFile(`${tmp}/plan.json`));
 * assertEquals([file.format, file.id, file.shards], ["pwalk-shard-plan", plan.id, plan.shards]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function writePlan(plan: ShardPlan, path: string): Promise<void> {
  await writeWhole(path, planText(plan));
}

/** The exclude list of a plan, as the report options take it (resolved when it was made). */
export function planExcludes(plan: ShardPlan): Uint8Array[] {
  return walkerSpelled(plan.options.exclude.map(pathOfJson));
}
