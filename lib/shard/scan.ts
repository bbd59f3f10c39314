/**
 * Recursive counts per folder from a previous pwalk scan (CSV or
 * .csv.zst, one file or a folder of shard files): the planner's best
 * estimate of how much work lies below each folder.
 *
 * Only folder rows matter: the rows below a folder F number
 * 1 + the sum of pw_fcount over the folders of F's subtree (every entry is
 * counted once, in its parent's pw_fcount). Paths are kept relative to the
 * scan's root, so a scan of /data still serves a plan of /mnt/data.
 * Memory is bounded: when more than `maxFolders` folders are kept, the
 * deepest level kept is folded into its parents (the plan rarely goes
 * that deep; below the levels kept it estimates from listings).
 *
 * @module
 */
import { byteKey } from "./paths.ts";
import { count } from "../digits.ts";
import { decompressedStream } from "../decompress.ts";
import { checkInt, checkOptionNames, type OptionNames, typed, withoutNulls } from "../options.ts";
import { compressionOf } from "../report.ts";
import { releaseFifo } from "../procfs.ts";
import { abortable } from "../abortable.ts";
import { oneLine } from "../utf8.ts";

/** Recursive row counts of a previous scan, by path relative to its root. */
export interface ScanCounts {
  /**
   * Rows below (and including) the folder at `rel` ("" is the root), or
   * undefined. (Bytes below 32 are dropped from `rel` first, as the scan
   * printed the names.)
   */
  get(rel: Uint8Array): number | undefined;
  /**
   * Folder levels below the root known: those the scan reached (a scan made
   * with `--depth` lists no deeper folder), within those kept. Deeper
   * folders are not known.
   */
  readonly levels: number;
  /**
   * The `--depth N` the scan seems made with (0: none seen): its deepest
   * folder rows, at depth N - 1, counted more entries (pw_fcount) than it
   * has rows at depth N (a --depth N scan has no row of a folder at depth
   * N). Its counts then leave out the rows of those folders and below.
   */
  readonly depthLimit: number;
  /** Rows read. */
  readonly rows: number;
  /** Files read. */
  readonly files: string[];
}

/** The names of {@link ScanCountOptions} (any other: a TypeError). */
export const SCAN_COUNT_OPTIONS: OptionNames<ScanCountOptions> = {
  maxFolders: true,
  maxLevels: true,
  signal: true,
};

/** Options of {@link readScanCounts}. */
export interface ScanCountOptions {
  /** Folders kept before the deepest level is folded into its parents. Default 2,000,000. */
  maxFolders?: number;
  /** Folder levels below the root kept at most. Default 32. */
  maxLevels?: number;
  /**
   * Stops the reading (it rejects with the signal's reason): between
   * chunks, and while a FIFO among `files` waits for its writer.
   */
  signal?: AbortSignal;
}

const NL = 0x0a, COMMA = 0x2c, QUOTE = 0x22, SLASH = 0x2f, MINUS = 0x2d;

/** A Parquet scan's name: --from reads CSV only (its rows' bytes, as the report wrote them). */
export const PARQUET: RegExp = /\.parquet$/i;

/** Why a Parquet scan is not read by --from, and what to do. */
export const PARQUET_FROM =
  "a Parquet scan is not read here (.csv, .csv.zst or .csv.gz only): pwalk convert it to .csv.zst first";

/**
 * The scan files a --from argument names: the file (not a .parquet one:
 * an Error); a sharded scan's
 * folder (it holds plan.json): the outputs of its plan's shards, all done
 * (files of an older plan left there are not read, as `pwalk summary DIR`
 * reads none); any other folder: its *.csv, *.csv.zst and *.csv.gz.
 *
 * @example
 * ```ts
 * import { readScanCounts, report, scanFiles } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "a");
 * await Deno.mkdir(`${tmp}/last-scan`);
 * await report(`${tmp}/data`, { output: `${tmp}/last-scan/scan.csv.zst` });
 * await Deno.writeTextFile(`${tmp}/last-scan/notes.txt`, "not a scan");
 *
 * const files = await scanFiles(`${tmp}/last-scan`);
 * assertEquals(files, [`${tmp}/last-scan/scan.csv.zst`]);
 * const counts = await readScanCounts(files);
 * assertEquals(counts.rows, 2); // data and a.txt
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function scanFiles(from: string): Promise<string[]> {
  const st = await Deno.stat(from);
  if (!st.isDirectory && PARQUET.test(from)) throw new Error(`${oneLine(from)}: ${PARQUET_FROM}`);
  if (!st.isDirectory) return [from];
  const dir = from.replace(/(.)\/+$/, "$1");
  let planned = false;
  try {
    planned = (await Deno.stat(`${dir}/plan.json`)).isFile;
  } catch { /* a folder of scan files */ }
  if (planned) {
    const { scanStatus } = await import("./status.ts"); // (status.ts imports plan.ts, which imports this)
    const status = await scanStatus(dir, { squeue: false });
    if (!status.complete) {
      throw new Error(
        `${oneLine(from)}: the sharded scan is not complete (${status.counts.done} of ` +
          `${count(status.plan.shards, "shard")} done; see pwalk status ${oneLine(from)})`,
      );
    }
    return status.shards.map((s) => s.output!);
  }
  const out: string[] = [];
  for await (const e of Deno.readDir(from)) {
    if (e.isFile && /\.csv(\.zstd?|\.gz)?$/i.test(e.name)) {
      out.push(`${from.replace(/\/+$/, "")}/${e.name}`);
    }
  }
  if (out.length === 0) {
    throw new Error(`${oneLine(from)}: no .csv, .csv.zst or .csv.gz file in it`);
  }
  return out.sort();
}

/** The decompressed bytes of a scan file (by its suffix), chunk by chunk, until `signal`. */
async function* chunks(path: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const f = await openInput(path, signal);
  const it = decompressedStream(f.readable, compressionOf(path))[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      // (a read that waits for a FIFO's data, or a zstd frame being
      // gathered, is not waited for once the signal aborts)
      const r = await abortable(it.next(), signal);
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!done) {
      if (signal?.aborted) {
        // a read may be in flight: the file closed under it, not waited for
        try {
          f.close();
        } catch { /* closed already */ }
      } else await it.return?.(); // (the stream closes the file)
    }
  }
}

/**
 * `path` opened for reading. A FIFO (`--from <(zstdcat ...)`) waits in its
 * open for a writer, where no signal reaches: `signal` then stops the wait,
 * and the open left waiting is released by a writer of ours, opened and
 * closed at once (an open for writing that does not wait: it has its
 * reader, the open left waiting), and closed. (Another process waiting on
 * the same FIFO meanwhile is released too, with nothing to read: a FIFO
 * feeds one reader, whichever takes the bytes first, so two never share
 * one to any use.)
 */
async function openInput(path: string, signal?: AbortSignal): Promise<Deno.FsFile> {
  signal?.throwIfAborted();
  if (!signal || !(await Deno.stat(path).then((s) => s.isFifo, () => false))) {
    return await Deno.open(path);
  }
  const opening = Deno.open(path);
  try {
    return await abortable(opening, signal);
  } catch (e) {
    if (signal.aborted) {
      opening.then((f) => f.close(), () => {});
      releaseFifo(path);
    }
    throw e;
  }
}

function parseInt10(b: Uint8Array, s: number, e: number): number {
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = b[i] - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return e > s ? v : NaN;
}

/** The unquoted filename field starting at b[s] (a '"'), and where it ends. */
function quoted(b: Uint8Array, s: number, end: number): [Uint8Array, number] | null {
  if (b[s] !== QUOTE) return null;
  let i = s + 1;
  let doubled = false;
  for (;;) {
    const j = b.indexOf(QUOTE, i);
    if (j < 0 || j >= end) return null;
    if (b[j + 1] === QUOTE) {
      doubled = true;
      i = j + 2;
      continue;
    }
    const raw = b.subarray(s + 1, j);
    if (!doubled) return [raw, j + 1];
    const out: number[] = [];
    for (let k = 0; k < raw.length; k++) {
      out.push(raw[k]);
      if (raw[k] === QUOTE) k++;
    }
    return [Uint8Array.from(out), j + 1];
  }
}

/**
 * Read previous scans into recursive counts per folder. A file that cannot
 * be read (missing, damaged, truncated) rejects with its error, its message
 * naming the file: first, or, in Deno's own errors (a missing file's
 * NotFound), at the end.
 *
 * @example Estimate the rows below a folder from last week's scan
 * ```ts
 * import { readScanCounts, report } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/projects/alpha`, { recursive: true });
 * await Deno.writeTextFile(`${tmp}/data/projects/alpha/a.txt`, "a");
 * await Deno.writeTextFile(`${tmp}/data/projects/alpha/b.txt`, "b");
 * await report(`${tmp}/data`, { output: `${tmp}/last-week.csv.zst` });
 *
 * const counts = await readScanCounts([`${tmp}/last-week.csv.zst`]);
 * const rel = (p: string) => new TextEncoder().encode(p); // below the root
 * assertEquals(counts.get(rel("projects/alpha")), 3); // alpha, a.txt and b.txt
 * assertEquals(counts.get(rel("")), 5); // the root's: every row
 * assertEquals(counts.get(rel("projects/beta")), undefined); // not in the scan
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function readScanCounts(
  files: string[],
  options: ScanCountOptions = {},
): Promise<ScanCounts> {
  options = withoutNulls(options);
  checkOptionNames("readScanCounts", options, SCAN_COUNT_OPTIONS);
  // (a string would be read a character at a time: "x.csv" as "x", ".", ...)
  if (!Array.isArray(files) || files.some((f) => typeof f !== "string")) {
    throw new TypeError(`pwalk: files must be an array of paths, got ${typed(files)}`);
  }
  const maxFolders = checkInt("maxFolders", options.maxFolders ?? 2_000_000, 1, 2 ** 31);
  let maxLevel = checkInt("maxLevels", options.maxLevels ?? 32, 1, 10_000);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`pwalk: signal must be an AbortSignal, got ${typed(signal)}`);
  }
  // levels[k]: folders k levels below the root, by relative path key
  const levels: Map<string, number>[] = [new Map()];
  let kept = 0;
  let rows = 0;
  // by depth + 1: rows, and the entries the folders there counted (a
  // scan made with --depth N has no row of the folders its folders at
  // depth N - 1 counted)
  const rowsAt: number[] = [], countedAt: number[] = [];
  let deepest = -2; // the deepest folder row's depth
  const rowDepth = (depth: number, fcount: number) => {
    if (depth < -1 || depth > 1e6) return;
    rowsAt[depth + 1] = (rowsAt[depth + 1] ?? 0) + 1;
    if (fcount < 0) return;
    countedAt[depth + 1] = (countedAt[depth + 1] ?? 0) + fcount;
    if (depth > deepest) deepest = depth;
  };

  const fold = () => {
    // the deepest level joins its parents' entries
    const deep = levels[maxLevel];
    const up = levels[maxLevel - 1];
    if (deep && up) {
      for (const [k, v] of deep) {
        const p = k.slice(0, Math.max(0, k.lastIndexOf("/")));
        up.set(p, (up.get(p) ?? 0) + v);
      }
      kept -= deep.size;
      levels.length = maxLevel;
    }
    maxLevel--;
  };

  const add = (rel: Uint8Array, level: number, fcount: number) => {
    let cut = rel.length;
    if (level > maxLevel) {
      // keep the first maxLevel names
      let seen = 0;
      for (let i = 0; i < rel.length; i++) {
        if (rel[i] === SLASH && ++seen === maxLevel) {
          cut = i;
          break;
        }
      }
      level = maxLevel;
    }
    while (levels.length <= level) levels.push(new Map());
    const m = levels[level];
    const k = byteKey(rel.subarray(0, cut));
    const v = m.get(k);
    if (v === undefined) {
      m.set(k, fcount);
      if (++kept > maxFolders && maxLevel > 1) fold();
    } else m.set(k, v + fcount);
  };

  let rootLen = -1; // bytes of the scan's root in a filename, -1 until known
  const line = (b: Uint8Array, s: number, e: number) => {
    // ...,pw_fcount,pw_dirsum: files have pw_fcount -1
    const c2 = b.lastIndexOf(COMMA, e - 1);
    if (c2 <= s) return;
    const c1 = b.lastIndexOf(COMMA, c2 - 1);
    const a = b.indexOf(COMMA, s);
    const d = a < 0 ? -1 : b.indexOf(COMMA, a + 1);
    const p = d < 0 ? -1 : b.indexOf(COMMA, d + 1);
    const depth = p < 0 ? NaN : b[d + 1] === MINUS ? -1 : parseInt10(b, d + 1, p);
    if (c1 < s || b[c1 + 1] === MINUS) {
      rows++;
      if (!Number.isNaN(depth)) rowDepth(depth, -1);
      return;
    }
    const fcount = parseInt10(b, c1 + 1, c2);
    if (Number.isNaN(fcount)) return; // a header line
    rows++;
    if (p < 0 || p > c1) return;
    const q = quoted(b, p + 1, c1);
    if (!q || Number.isNaN(depth)) return;
    rowDepth(depth, fcount);
    const path = q[0];
    const level = depth + 1; // names below the root
    if (rootLen < 0) {
      // the root is the path without its last `level` names
      let cut = path.length;
      for (let i = 0; i < level; i++) {
        cut = path.lastIndexOf(SLASH, cut - 1);
        if (cut < 0) return;
      }
      // (a root "/" ends in the slash that separates the names after it)
      rootLen = level > 0 ? cut : path[path.length - 1] === SLASH ? path.length - 1 : path.length;
    }
    if (level === 0) add(new Uint8Array(), 0, fcount);
    else if (path.length > rootLen + 1) add(path.subarray(rootLen + 1), level, fcount);
  };

  for (const file of files) {
    try {
      await readOne(file);
    } catch (e) {
      // a damaged or truncated scan: which of the files (as summary says)
      if (signal?.aborted) throw e; // (stopped: its reason as it is)
      // (named escaped as one line, as the library's messages name paths;
      // Deno's own, which names it as given, too)
      const named = e instanceof Error && e.message.includes(file);
      if (e instanceof Error && (named || !e.message.includes(oneLine(file)))) {
        const message = named ? oneLine(e.message) : `${oneLine(file)}: ${e.message}`;
        try {
          e.message = message;
        } catch {
          throw new Error(message, { cause: e }); // (a DOMException's is read only)
        }
      }
      throw e;
    }
  }
  async function readOne(file: string): Promise<void> {
    rootLen = -1;
    let carry: Uint8Array | null = null;
    let size = 0;
    for await (const chunk of chunks(file, signal)) {
      size += chunk.length;
      let b = chunk;
      if (carry) {
        const joined = new Uint8Array(carry.length + chunk.length);
        joined.set(carry);
        joined.set(chunk, carry.length);
        b = joined;
        carry = null;
      }
      let s = 0;
      for (;;) {
        const e = b.indexOf(NL, s);
        if (e < 0) break;
        line(b, s, e);
        s = e + 1;
      }
      if (s < b.length) carry = b.slice(s);
    }
    // pwalk ends every row with a line end: a last one without is a scan
    // cut short (an incomplete copy), whose last row may be half a row (a
    // folder's mtime read as its count of entries), as summary refuses it
    if (carry) {
      throw new Error(
        `truncated: its last row has no line end (byte ${size}); an incomplete copy?`,
      );
    }
  }

  // roll up: each level adds into its parents, deepest first
  for (let k = levels.length - 1; k >= 1; k--) {
    const up = levels[k - 1];
    for (const [key, v] of levels[k]) {
      const p = key.slice(0, Math.max(0, key.lastIndexOf("/")));
      up.set(p, (up.get(p) ?? 0) + v);
    }
  }
  const depthOf = (rel: Uint8Array) => {
    if (rel.length === 0) return 0;
    let n = 1;
    for (const c of rel) if (c === SLASH) n++;
    return n;
  };
  return {
    get(rel: Uint8Array): number | undefined {
      // the scan printed names without their bytes below 32
      if (rel.some((c) => c < 32)) rel = rel.filter((c) => c >= 32);
      const k = depthOf(rel);
      if (k > maxLevel || k >= levels.length) return undefined;
      const v = levels[k].get(byteKey(rel));
      return v === undefined ? undefined : v + 1;
    },
    levels: Math.min(maxLevel, levels.length - 1), // the deepest level with a folder row
    depthLimit: deepest >= -1 && countedAt[deepest + 1] > (rowsAt[deepest + 2] ?? 0)
      ? deepest + 1
      : 0,
    rows,
    files,
  };
}
