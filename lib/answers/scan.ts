/**
 * Reading scan files: pwalk CSV (`.csv`, `.csv.zst`, `.csv.gz`, with or
 * without pwalk's header line) and typed Parquet, given as files, globs or
 * folders of shards, into one DuckDB table of typed columns.
 *
 * **Names that are not UTF-8.** pwalk prints names exactly as the file
 * system has them; DuckDB's CSV reader refuses any byte sequence that is not
 * UTF-8 (with `ignore_errors=true` it drops the row silently, and its
 * `latin-1` encoding rejects the bytes 0x80-0x9F, which every UTF-8 name of
 * more than ASCII contains). So a file is first read directly; only when
 * DuckDB reports invalid UTF-8 is it read again through a filter that copies
 * the CSV unchanged except that, in a line holding bytes that are not
 * UTF-8, each byte that is not part of a UTF-8 character is written as the
 * four characters `\xNN` (the characters of the line stay: a folder named
 * in UTF-8 reads the same in the rows of the names below it). The filtered
 * text goes to DuckDB through a named pipe (no copy on disk). No row is
 * lost; such names read as `caf\xe9.txt`.
 *
 * @module
 */
import {
  Engine,
  type EngineOptions,
  lit,
  MemoryLimitError,
  num,
  patternOf,
  SpillFullError,
} from "./duck.ts";
import { decompressedStream } from "../decompress.ts";
import { systemTool } from "./names.ts";
import { recordPath } from "../shard/paths.ts";
import { scanStatus } from "../shard/status.ts";
import { compressionOf } from "../report.ts";
import { count } from "../digits.ts";
import { oneLine } from "../utf8.ts";
import {
  checkCsvComplete,
  checkGzipComplete,
  checkParquetComplete,
  checkZstdComplete,
} from "./files.ts";

/** pwalk's 17 columns, in order, as its header names them. */
export const PWALK_COLUMNS = [
  "inode",
  "parent-inode",
  "directory-depth",
  "filename",
  "fileExtension",
  "UID",
  "GID",
  "st_size",
  "st_dev",
  "st_blocks",
  "st_nlink",
  "st_mode",
  "st_atime",
  "st_mtime",
  "st_ctime",
  "pw_fcount",
  "pw_dirsum",
] as const;

/** pwalk's header line (without the newline). */
export const PWALK_HEADER: string =
  'inode,parent-inode,directory-depth,"filename","fileExtension",UID,GID,st_size,st_dev,' +
  'st_blocks,st_nlink,"st_mode",st_atime,st_mtime,st_ctime,pw_fcount,pw_dirsum';

/**
 * The typed columns (DuckDB types) every scan is read into, and that Parquet
 * files are written with. `st_mode` is the mode as a number (the CSV prints
 * it as a 7-digit octal string: "0100644" is 33188).
 */
export const TYPED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["inode", "UBIGINT"],
  ["parent-inode", "UBIGINT"],
  ["directory-depth", "INTEGER"],
  ["filename", "VARCHAR"],
  ["fileExtension", "VARCHAR"],
  ["UID", "UINTEGER"],
  ["GID", "UINTEGER"],
  ["st_size", "BIGINT"],
  ["st_dev", "BIGINT"], // a signed long in the CSV (macOS: a signed 32-bit dev_t)
  ["st_blocks", "BIGINT"],
  ["st_nlink", "UBIGINT"],
  ["st_mode", "UINTEGER"],
  ["st_atime", "BIGINT"],
  ["st_mtime", "BIGINT"],
  ["st_ctime", "BIGINT"],
  ["pw_fcount", "BIGINT"],
  ["pw_dirsum", "BIGINT"],
];

/** A scan file's format, from its name. */
export type ScanFormat = "csv" | "csv.zst" | "csv.gz" | "parquet";

/** One scan file. */
export interface ScanFile {
  /** The file's path. */
  path: string;
  /** Its format, from its name ({@link formatOf}). */
  format: ScanFormat;
}

/** A scan argument that names nothing readable (the CLI's usage error). */
export class ScanInputError extends Error {
  /** "ScanInputError". */
  override name = "ScanInputError";
}

const SCAN_NAME = /\.(csv|zstd?|gz|parquet)$/i;

/**
 * The format of a scan file from its name, in any case, as report's `-o`
 * names it: .zst/.zstd zstd CSV, .gz gzip CSV, .parquet Parquet, else CSV.
 */
export function formatOf(path: string): ScanFormat {
  const c = compressionOf(path);
  return c === "parquet" ? "parquet" : c === "zstd" ? "csv.zst" : c === "gzip" ? "csv.gz" : "csv";
}

/**
 * A file name pattern as the shell matches it (bash without dotglob): `*`,
 * `?`, `[set]` and `[!set]` (`[^set]` too), a `]` first in a set one of
 * its characters (`[]a]`), and a name starting with "." matched only by a
 * pattern that starts with one, so that a quoted `'scans/*'` reads what
 * the shell's `scans/*` would.
 */
function globRegExp(pattern: string): RegExp {
  let re = pattern.startsWith(".") ? "" : "(?!\\.)";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const neg = pattern[i + 1] === "!" || pattern[i + 1] === "^";
      const from = i + 1 + (neg ? 1 : 0);
      // (a "]" right after "[" or "[!" is in the set, not its end)
      const end = pattern.indexOf("]", from + 1);
      if (end < 0) re += "\\[";
      else {
        const set = pattern.slice(from, end).replace(/[\\\]^[]/g, "\\$&");
        re += `[${neg ? "^" : ""}${set}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * The scan files with a newline in their name that folder listings and
 * globs found (expandScans): names no command line gave, which the
 * CLI escapes in a message before it prints the message's first line
 * (such a name would end it). Only those names are kept.
 */
export const FOUND_MULTILINE_NAMES: Set<string> = new Set();

/**
 * The files in folder `dir` whose names `keep` takes, as paths, sorted.
 * Deno lists a name that is not UTF-8 with U+FFFD in place of its bad
 * bytes: by that name it is no file, or another one. Such a file is
 * refused as such an argument is ("not valid UTF-8"), not as a missing one.
 *
 * @throws {ScanInputError} for a name taken that is not UTF-8
 */
async function listDir(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory || !keep(e.name)) continue;
    const path = `${dir.replace(/\/+$/, "") || "/"}/${e.name}`;
    if (path.includes("\n")) FOUND_MULTILINE_NAMES.add(path);
    // (a name holding U+FFFD itself, in UTF-8, is there by its name)
    if (e.name.includes("\uFFFD") && !(await exists(path))) {
      throw new ScanInputError(
        `${
          oneLine(path)
        }: not valid UTF-8, so it could name another file (a name that is not valid ` +
          `UTF-8 reaches pwalk from ${
            oneLine(dir)
          }'s listing with U+FFFD in place of its bad bytes): ` +
          "rename it",
      );
    }
    out.push(path);
  }
  return out.sort();
}

/**
 * The files `specs` name (files, globs, folders; a sharded scan's folder
 * its outputs, once every shard is done), in order, without the checks
 * {@link resolveScans} makes of them.
 */
async function expandScans(specs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const spec of specs) {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(spec);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new ScanInputError(`${oneLine(spec)}: ${oneLine((e as Error).message)}`);
      }
    }
    if (info?.isDirectory && (await exists(`${spec}/plan.json`))) {
      files.push(...(await shardOutputs(spec)));
    } else if (info?.isDirectory) {
      const found = await listDir(spec, (n) => SCAN_NAME.test(n));
      if (found.length === 0) {
        throw new ScanInputError(
          `${oneLine(spec)}: no .csv, .csv.zst, .csv.gz or .parquet file inside`,
        );
      }
      files.push(...found);
    } else if (info && !info.isFile) {
      // DuckDB would read a pipe after the header check took its start
      throw new ScanInputError(
        `${oneLine(spec)}: not a regular file (a pipe or device): write the scan to a file first`,
      );
    } else if (info) {
      files.push(spec);
    } else if (/[*?[]/.test(spec)) {
      const slash = spec.lastIndexOf("/");
      const dir = slash < 0 ? "." : spec.slice(0, slash) || "/";
      const re = globRegExp(spec.slice(slash + 1));
      let found: string[] = [];
      try {
        found = await listDir(dir, (n) => re.test(n));
      } catch (e) {
        if (e instanceof ScanInputError) throw e; // (a name that is not UTF-8)
        // a missing folder matches nothing
      }
      if (found.length === 0) throw new ScanInputError(`${oneLine(spec)}: no file matches`);
      files.push(...(slash < 0 ? found.map((f) => f.slice(2)) : found));
    } else {
      throw new ScanInputError(`${oneLine(spec)}: No such file or directory`);
    }
  }
  for (const f of files) if (f.includes("\n")) FOUND_MULTILINE_NAMES.add(f);
  return files;
}

/**
 * A list of scans as summarize, diff, convert and resolveScans take it: an
 * array of strings (file names, globs, shard folders), else a TypeError
 * naming it (`name`). A string alone is refused, not taken as one scan: it
 * would be read character by character ("o: No such file or directory"),
 * and an array says where one scan ends and the next begins.
 */
export function checkScanList(name: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    const given = Array.isArray(v)
      ? "an array with another item"
      : typeof v === "string"
      ? `${JSON.stringify(v)} (a string: give [${JSON.stringify(v)}])`
      : v === null
      ? "null"
      : `a ${typeof v}`;
    throw new TypeError(
      `pwalk: ${name} must be an array of scan files, globs or folders, got ${given}`,
    );
  }
  return v;
}

/**
 * The first file of `files` that is one read before (by device and inode:
 * given twice, by a glob and by its name, or through a link), as [the name
 * it was read by first, this name]; files that cannot be stat'ed are
 * skipped (the caller tells them). Summary, diff and convert refuse such a
 * scan, and plan's `--from` too: its rows would count twice.
 */
export async function sameFileTwice(
  files: readonly string[],
): Promise<[first: string, again: string] | undefined> {
  const seen = new Map<string, string>();
  for (const f of files) {
    let key: string;
    try {
      const st = await Deno.stat(f);
      key = `${st.dev}:${st.ino}`;
    } catch {
      continue;
    }
    const first = seen.get(key);
    if (first !== undefined) return [first, f];
    seen.set(key, f);
  }
  return undefined;
}

/**
 * The scan files named by `specs`: files, globs (`*`, `?`, `[...]` in the
 * last path component; the shell usually expands them first) or folders
 * (every `.csv`, `.csv.zst`, `.csv.gz`, `.parquet` file directly inside;
 * a sharded scan's folder, which holds plan.json, gives its shards'
 * outputs, and only once every shard is done, as `pwalk status` tells).
 *
 * @example
 * ```ts
 * import { report, resolveScans } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * await Deno.mkdir(`${tmp}/data/b`);
 * await Deno.mkdir(`${tmp}/scans`);
 * // one scan in two files: a zstd and a gzip one
 * await report(`${tmp}/data/a`, { output: `${tmp}/scans/a.csv.zst` });
 * await report(`${tmp}/data/b`, { output: `${tmp}/scans/b.csv.gz` });
 * await Deno.writeTextFile(`${tmp}/scans/notes.txt`, "not a scan");
 *
 * assertEquals(await resolveScans([`${tmp}/scans/`]), [
 *   { path: `${tmp}/scans/a.csv.zst`, format: "csv.zst" },
 *   { path: `${tmp}/scans/b.csv.gz`, format: "csv.gz" },
 * ]);
 * assertEquals(await resolveScans([`${tmp}/scans/*.gz`]), [
 *   { path: `${tmp}/scans/b.csv.gz`, format: "csv.gz" },
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @throws {TypeError} when `specs` is not an array of strings (a string alone too: {@link checkScanList})
 * @throws {ScanInputError} when a spec names nothing readable
 * @throws {Error} when a sharded scan's folder has shards not done
 * @throws the reason of `signal` once it aborts (the check of a compressed
 * file's data, seconds a GiB, stops then)
 */
export async function resolveScans(specs: string[], signal?: AbortSignal): Promise<ScanFile[]> {
  checkScanList("scans", specs);
  if (specs.length === 0) throw new ScanInputError("no scan file given");
  const files = await expandScans(specs);
  // The same file twice (given twice, or by a glob and by its name) would
  // count every row twice.
  const twice = await sameFileTwice(files);
  if (twice) {
    const [first, f] = twice;
    throw new ScanInputError(
      first === f
        ? `${oneLine(f)} is given twice: each file of a scan is read once`
        : `${oneLine(first)} and ${oneLine(f)} are the same file: each file of a scan is read once`,
    );
  }
  const groups = new Set(files.map((f) => formatOf(f) === "parquet"));
  if (groups.size > 1) {
    throw new ScanInputError("one scan is either all Parquet or all CSV files, not both");
  }
  const out = files.map((path) => ({ path, format: formatOf(path) }));
  // DuckDB reads a file cut short as if it were whole: refuse it here.
  for (const f of out) {
    try {
      if (f.format === "csv.zst") await checkZstdComplete(f.path, signal);
      else if (f.format === "csv.gz") await checkGzipComplete(f.path, signal);
      else if (f.format === "parquet") checkParquetComplete(f.path);
      else checkCsvComplete(f.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new ScanInputError(`${oneLine(f.path)}: No such file or directory`);
      }
      throw e;
    }
  }
  return out;
}

/** Whether `path` names anything (a link too, whatever it points to). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The outputs of a sharded scan's folder (it holds plan.json), in shard
 * order, when every shard is done (pwalk status' rule: a completion record
 * of this plan and its whole output); else an error naming the shards that
 * are not, since their sum would pass for the whole tree's.
 */
async function shardOutputs(dir: string): Promise<string[]> {
  const st = await scanStatus(dir, { squeue: false });
  if (!st.complete) {
    const open = st.shards.filter((s) => s.state !== "done");
    const list = open.slice(0, 5).map((s) => `shard ${s.shard}: ${s.state}`).join(", ");
    throw new Error(
      `${dir}: the scan is not complete: ${st.counts.done} of ${
        count(st.plan.shards, "shard")
      } done ` +
        `(${list}${open.length > 5 ? ", ..." : ""}); see pwalk status ${dir}`,
    );
  }
  return st.shards.map((s) => s.output!);
}

/**
 * Warnings for scan files given one by one (or by a glob) from a sharded
 * scan's folder (it holds plan.json) that are not its whole scan: some of
 * its shards' outputs only, other files beside them, or a scan not
 * complete. Given as the folder, the scan is checked whole (and refused
 * when not complete); by its files, it is read as given, which these say.
 *
 * @example
 * ```ts
 * import { planShards, runShard, shardWarnings, writePlan } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * await Deno.mkdir(`${tmp}/scan`);
 * const plan = await planShards(`${tmp}/data`, { shards: 2 });
 * await writePlan(plan, `${tmp}/scan/plan.json`);
 * for (const i of [0, 1]) await runShard(plan, i, { output: `${tmp}/scan/scan-${i}.csv.zst` });
 *
 * assertEquals(await shardWarnings([`${tmp}/scan/scan-*.csv.zst`]), []); // every shard's
 * assertEquals(await shardWarnings([`${tmp}/scan/scan-1.csv.zst`]), [
 *   `warning: ${tmp}/scan holds a scan of 2 shards: 1 of their outputs is read as given; ` +
 *   `give the folder ${tmp}/scan to have the scan checked whole`,
 * ]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function shardWarnings(specs: string[]): Promise<string[]> {
  const byDir = new Map<string, string[]>();
  for (const spec of specs) {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.stat(spec);
    } catch { /* a glob, or missing: resolved below */ }
    if (info?.isDirectory) continue; // a folder: checked whole by resolveScans
    let files: string[];
    try {
      files = await expandScans([spec]);
    } catch {
      continue; // resolveScans tells it to the command
    }
    for (const f of files) {
      const slash = f.lastIndexOf("/");
      const dir = slash < 0 ? "." : f.slice(0, slash) || "/";
      if (!(await exists(`${dir}/plan.json`))) continue;
      const list = byDir.get(dir) ?? [];
      list.push(f);
      byDir.set(dir, list);
    }
  }
  const out: string[] = [];
  for (const [dir, given] of byDir) {
    let st;
    try {
      st = await scanStatus(dir, { squeue: false });
    } catch {
      continue; // not a plan this version reads: the files are read as given
    }
    const key = async (p: string) => {
      const i = await Deno.stat(p);
      return `${i.dev}:${i.ino}`;
    };
    const outputs = new Set<string>();
    for (const sh of st.shards) if (sh.output) outputs.add(await key(sh.output));
    let of = 0;
    for (const p of given) if (outputs.has(await key(p).catch(() => ""))) of++;
    const others = given.length - of;
    if (st.complete && of === st.plan.shards && others === 0) continue;
    out.push(
      `warning: ${dir} holds a scan of ${count(st.plan.shards, "shard")}` +
        `${st.complete ? "" : ` (${st.counts.done} done)`}: ${of} of their outputs` +
        `${others ? ` and ${count(others, "other file")}` : ""} ${
          of === 1 && !others ? "is" : "are"
        } read as given; ` +
        `give the folder ${dir} to have the scan checked whole`,
    );
  }
  return out;
}

/**
 * Warnings for the shard outputs of one scan read outside their plan's
 * folder (a copy of `scan-*` without plan.json, or files of a folder whose
 * plan.json is gone), told by the completion records beside them
 * (`scan-I.done.json`): nothing else says that such files are not the
 * plan's whole scan, and their sum would pass for the whole tree's. A file
 * whose record describes it (its name) with another size than it has (cut
 * at a zstd frame's end, which its data cannot show, or changed since); a
 * shard whose output is read twice (two runs of it, under two names); a
 * plan of N shards of which fewer are read. Files in a folder that holds
 * plan.json are left to {@link shardWarnings} and the folder's own check;
 * files without a record of their own say nothing (a plain report's).
 * The files are read as given all the same: these are warnings, as for a
 * glob of a plan's folder.
 */
export async function recordWarnings(specs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const spec of specs) {
    try {
      const info = await Deno.stat(spec).catch(() => null);
      if (info?.isDirectory && (await exists(`${spec}/plan.json`))) continue;
      files.push(...(await expandScans([spec])));
    } catch {
      continue; // resolveScans tells it to the command
    }
  }
  const out: string[] = [];
  const plans = new Map<string, { shards: number; read: Map<number, string[]> }>();
  let unrecorded = 0;
  for (const f of files) {
    const slash = f.lastIndexOf("/");
    const dir = slash < 0 ? "." : f.slice(0, slash) || "/";
    if (await exists(`${dir}/plan.json`)) continue;
    let r;
    try {
      r = JSON.parse(await Deno.readTextFile(recordPath(f)));
    } catch {
      unrecorded++;
      continue;
    }
    const output = String(r?.output ?? "");
    if (
      r?.format !== "pwalk-shard-done" || typeof r.plan !== "string" ||
      !Number.isInteger(r.shard) || !Number.isInteger(r.shards) ||
      output.slice(output.lastIndexOf("/") + 1) !== f.slice(slash + 1)
    ) {
      unrecorded++;
      continue;
    }
    let size: number;
    try {
      size = (await Deno.stat(f)).size;
    } catch {
      continue;
    }
    if (Number.isInteger(r.outputBytes) && r.outputBytes !== size) {
      out.push(
        `warning: ${f} has ${count(size, "byte")}, but its completion record ` +
          `${recordPath(f)} says ${count(r.outputBytes, "byte")}: cut short or changed ` +
          "since its shard wrote it; its rows are read as they are",
      );
    }
    const p = plans.get(r.plan) ?? { shards: r.shards, read: new Map<number, string[]>() };
    p.read.set(r.shard, [...(p.read.get(r.shard) ?? []), f]);
    plans.set(r.plan, p);
  }
  for (const [id, p] of plans) {
    for (const [shard, names] of [...p.read].sort((a, b) => a[0] - b[0])) {
      if (names.length < 2) continue;
      out.push(
        `warning: shard ${shard} of plan ${id} is read ${
          names.length === 2 ? "twice" : `${names.length} times`
        } (${names.join(", ")}; by their completion records): its rows count more than once`,
      );
    }
    const missing: number[] = [];
    for (let i = 0; i < p.shards; i++) if (!p.read.has(i)) missing.push(i);
    if (missing.length === 0) continue;
    const list = missing.slice(0, 5).join(", ") + (missing.length > 5 ? ", ..." : "");
    out.push(
      `warning: the completion records of the files read are of ${p.read.size} of the ` +
        `${count(p.shards, "shard")} of plan ${id} (not read: ${
          missing.length === 1 ? "shard" : "shards"
        } ${list}${
          unrecorded ? `; ${count(unrecorded, "file")} read without a record of its own` : ""
        }): the totals are not the whole scan's`,
    );
  }
  return out;
}

/**
 * The errors met by the walks that wrote `files`, from their completion
 * records (`scan-I.done.json`, written last by `pwalk report --plan
 * --shard`): their sum when every file has a record that describes it (its
 * name and its size in bytes), else null, since a scan file alone does not
 * record its walk's errors.
 *
 * @example
 * ```ts
 * import { planShards, recordedErrors, report, resolveScans, runShard } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data/a`, { recursive: true });
 * const plan = await planShards(`${tmp}/data`, { shards: 1 });
 * const shard = await runShard(plan, 0, { output: `${tmp}/scan-0.csv.zst` });
 * await report(`${tmp}/data`, { output: `${tmp}/whole.csv.zst` });
 *
 * const sharded = await resolveScans([`${tmp}/scan-0.csv.zst`]);
 * assertEquals(await recordedErrors(sharded), shard.errors); // 0: its record says so
 * const whole = await resolveScans([`${tmp}/whole.csv.zst`]);
 * assertEquals(await recordedErrors(whole), null); // no record: not known
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function recordedErrors(files: ScanFile[]): Promise<number | null> {
  let sum = 0;
  for (const f of files) {
    try {
      const r = JSON.parse(await Deno.readTextFile(recordPath(f.path)));
      const name = f.path.slice(f.path.lastIndexOf("/") + 1);
      const output = String(r?.output ?? "");
      if (
        r?.format !== "pwalk-shard-done" || !Number.isInteger(r.errors) ||
        output.slice(output.lastIndexOf("/") + 1) !== name ||
        r.outputBytes !== (await Deno.stat(f.path)).size
      ) return null;
      sum += r.errors;
    } catch {
      return null;
    }
  }
  return sum;
}

// ---------------------------------------------------------------- CSV reading

function columnsSql(typed: boolean): string {
  return "{" +
    TYPED_COLUMNS.map(([name, type]) =>
      `${lit(name)}: '${
        typed ? (name === "st_mode" ? "UBIGINT" : name === "st_nlink" ? "BIGINT" : type) : "VARCHAR"
      }'`
    ).join(", ") + "}";
}

/**
 * The longest line DuckDB's CSV reader is let read in a session
 * (max_line_size), where {@link readingLongLines} raised it from DuckDB's
 * default, 2,000,000 bytes (a larger value costs memory on every scan: its
 * buffers grow with it).
 */
const lineSizes = new WeakMap<Engine, number>();

/**
 * The size of DuckDB's CSV read buffers where max_line_size is raised:
 * its default, 32 MiB, or the longest line when larger (by default DuckDB
 * makes them 16 times max_line_size: 300 MiB a buffer for a 10 MB line,
 * past a --memory-limit of 256MiB).
 */
const CSV_BUFFER_SIZE = 2 ** 25;

/**
 * The longest line {@link readingLongLines} lets DuckDB read: 32 MiB.
 * Memory grows with the longest line, about 65 times it (a summary of a
 * scan with a 33 MB line peaks near 2 GB, with --html near 3 GB: the
 * copies of the path DuckDB and the answer make), and summary's text of a
 * 60 MB path is past the longest string JavaScript holds; a longer line is
 * refused, saying so ({@link namingScans}).
 */
export const MAX_LINE_SIZE = 2 ** 25;

/**
 * A line's length where `err` is DuckDB's CSV reader meeting a line longer
 * than it reads ("Maximum line size of 2000000 bytes exceeded. Actual
 * Size:3012063 bytes"), in bytes; else 0.
 */
function longLine(err: unknown): number {
  return Number(LONG_LINE.exec(String((err as Error)?.message ?? err))?.[2] ?? 0);
}

/** DuckDB's words for a line longer than it reads: its limit, the line's length. */
const LONG_LINE = /Maximum line size of (\d+) bytes exceeded\. Actual Size: ?(\d+) bytes/;

/**
 * Run `read` (a reading of CSV scans in session `e`), again with a larger
 * max_line_size each time it meets a line longer than DuckDB reads (pwalk
 * writes a path of any length: a tree 9,000 folders deep has lines of
 * megabytes): twice that line, up to {@link MAX_LINE_SIZE}, so that a scan
 * whose lines grow with its depth is read in a few tries. A line longer
 * than that is the error ({@link namingScans} words it).
 */
export async function readingLongLines<T>(e: Engine, read: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await read();
    } catch (err) {
      const next = lineSizeAfter(err, lineSizes.get(e) ?? 0);
      if (!next) throw err;
      lineSizes.set(e, next);
    }
  }
}

/**
 * Let DuckDB read lines of `size` bytes in session `e` (convert's reading
 * of a view, tried again in a new session: {@link lineSizeAfter}).
 */
export function allowLines(e: Engine, size: number): void {
  if (size > 0) lineSizes.set(e, size);
}

/**
 * The max_line_size to read again with after `err`, read with `size` (0:
 * DuckDB's default): as {@link readingLongLines}, and MAX_LINE_SIZE for a
 * quote not closed (DuckDB's words for a line past its read buffer); 0
 * when `err` is neither, or a line longer than {@link MAX_LINE_SIZE}, or
 * the reading had room for that already.
 */
export function lineSizeAfter(err: unknown, size: number): number {
  if (size >= MAX_LINE_SIZE) return 0;
  const need = longLine(err);
  if (need) return need > MAX_LINE_SIZE ? 0 : Math.min(MAX_LINE_SIZE, Math.max(2 * need, 2 * size));
  // a quoted field longer than DuckDB's read buffer (32 MiB by default) is
  // told as a quote not closed: once more with room for the longest line
  // (then it is read, or told as too long, or it is the CSV's fault)
  return /Value with unterminated quote found/.test(String((err as Error)?.message ?? err))
    ? MAX_LINE_SIZE
    : 0;
}

function csvOptions(e: Engine, header: boolean, compression: string, typed = true): string {
  const lines = lineSizes.get(e);
  return `header=${header}, auto_detect=false, delim=',', quote='"', escape='"', ` +
    (lines ? `max_line_size=${lines}, buffer_size=${Math.max(lines, CSV_BUFFER_SIZE)}, ` : "") +
    `new_line='\\n', columns=${columnsSql(typed)}, compression=${lit(compression)}, ` +
    `strict_mode=true, null_padding=false, force_not_null=[${
      TYPED_COLUMNS.filter(([, t]) => t !== "VARCHAR").map(([c]) => lit(c)).join(", ")
    }]`;
}

/** DuckDB's compression name for a CSV scan format (read, or written by COPY). */
export function duckCompression(format: ScanFormat): string {
  return format === "csv.zst" ? "zstd" : format === "csv.gz" ? "gzip" : "none";
}

/**
 * SQL: the mode as a number from `digits`, pwalk's octal text of st_mode
 * read as a decimal integer (the 7 octal digits "0100644" read as 100644:
 * integer parsing is much faster than string work): its digits are taken
 * as octal ones.
 */
function modeSql(digits: string): string {
  return "(" +
    [0, 1, 2, 3, 4, 5, 6].map((i) => `(${digits} // ${10 ** i} % 10) * ${8 ** i}`).join(" + ") +
    ")::UINTEGER";
}

/** SQL: the typed projection of a CSV source (st_mode read as UBIGINT, see {@link modeSql}). */
const TYPED_FROM_CSV = TYPED_COLUMNS.map(([name]) =>
  name === "st_mode" ? `${modeSql('"st_mode"')} AS "st_mode"` : name === "st_nlink"
    // pwalk prints it as a signed 32-bit number (C pwalk's %d): a link
    // count of 2^31 or more (a FUSE or NFS server's) is negative there,
    // and read back as the count it was (mod 2^32), as Parquet stores it
    ? `(CASE WHEN "st_nlink" < 0 THEN "st_nlink" + 4294967296 ELSE "st_nlink" END)::UBIGINT ` +
      `AS "st_nlink"`
    : name === "filename" || name === "fileExtension"
    ? `coalesce("${name}", '') AS "${name}"` // DuckDB reads "" as NULL
    : `"${name}"`
).join(", ");

/**
 * The column of the file's path that {@link parquetSource} reads beside a
 * Parquet file's own (DuckDB's `filename` option), for the message of
 * {@link nullError}.
 */
const FILE_COLUMN = "__pwalk_file";

/**
 * SQL: the reading stops on a NULL in number column `name` of a Parquet
 * file, with "FILE: column NAME holds NULL ..." (pwalk writes a number in
 * every row; a NULL read on would count as 0 in summary and diff, and
 * leave a field out of convert's CSV row).
 */
function nullError(name: string): string {
  return `error(${FILE_COLUMN} || ${lit(`: ${nullText(name)}`)})`;
}

/** Why a NULL in number column `name` is refused (the readers' and convert's words). */
export function nullText(name: string): string {
  return `column ${name} holds NULL (no value), not a number as pwalk writes it in every row`;
}

/**
 * Why a value of text column `name` stored as bytes (BLOB) that decode to
 * no text is refused (worded so that {@link isEncodingError} does not take
 * it for the CSV reader's).
 */
function blobText(name: string): string {
  return `column ${name} holds bytes (BLOB) that decode to no text: pwalk reads a Parquet ` +
    "scan's names as text, each byte of a name that is not text as \\xNN (as convert writes " +
    "it): cast the column to text so, or write the scan with pwalk convert";
}

/** DuckDB's integer types: a Parquet column of one holds the number itself. */
const INTEGER_TYPE = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;

/**
 * SQL: a Parquet column of text (`VARCHAR`, as DuckDB writes a view over
 * pwalk's CSV read with `types = {'st_mode': 'VARCHAR'}`, or with
 * `all_varchar`) as a number, when it is written as pwalk's CSV writes it:
 * `pattern` (checked: DuckDB's own cast would take "1.5" as 2 and "0x10"
 * as 16), then `value` of it; else the reading stops with the value and
 * what was wanted (`want`).
 */
function textAsNumber(name: string, pattern: string, value: string, want: string): string {
  const c = `"${name}"`;
  return `CASE WHEN ${c} IS NULL THEN ${nullError(name)} ` +
    `WHEN regexp_full_match(${c}, ${lit(pattern)}) ` +
    `THEN ${value} ELSE error(${lit(`column ${name} holds '`)} || ${c} || ${
      lit(`' (text), not ${want} as pwalk's CSV writes it`)
    }) END`;
}

/**
 * SQL: the typed projection of one Parquet file, from the DuckDB types of
 * its columns (`types`, by name in lower case: DuckDB binds names in any
 * case). A column of an integer type is cast to its type of
 * {@link TYPED_COLUMNS}; st_dev was written as UINT_64 before it was
 * BIGINT: a negative device number then reads as 2^64 minus its
 * magnitude, and is taken back to its signed value. A column of text is
 * read as pwalk's CSV writes it ({@link textAsNumber}): st_mode as its 7
 * octal digits (read as a decimal integer "0100644" would be 100644, a mode
 * of no file type), the others as decimal digits. A number column of any
 * other type (a TIMESTAMP, a DOUBLE) is refused, naming it: a cast would
 * misread it, or fail on a message that does not say which column. A NULL
 * in any number column stops the reading ({@link nullError}).
 */
function typedFromParquet(path: string, types: Map<string, string>): string {
  return TYPED_COLUMNS.map(([name, type]) => {
    const t = types.get(name.toLowerCase());
    const c = `"${name}"`;
    if (t === undefined) {
      throw new ScanInputError(
        `${path}: not a pwalk scan in Parquet (no column "${name}"; convert writes one)`,
      );
    }
    if (type === "VARCHAR" && t === "BLOB") {
      // raw bytes (pyarrow's binary, Spark's): the text they are when
      // UTF-8; other bytes refused, naming the column (DuckDB's text of a
      // BLOB writes \xHH for every byte outside printable ASCII, quotes
      // and backslashes too: another name than the file's)
      return `CASE WHEN ${c} IS NULL THEN '' ELSE coalesce(try(decode(${c})), ` +
        `error(${FILE_COLUMN} || ${lit(`: ${blobText(name)}`)})) END AS ${c}`;
    }
    if (type === "VARCHAR") return `coalesce(${c}::VARCHAR, '') AS ${c}`; // "" read as NULL before
    if (INTEGER_TYPE.test(t)) {
      return `CASE WHEN ${c} IS NULL THEN ${nullError(name)} ELSE ` +
        (name === "st_dev"
          ? `(CASE WHEN ${c}::HUGEINT > 9223372036854775807 ` +
            `THEN ${c}::HUGEINT - 18446744073709551616 ELSE ${c}::HUGEINT END)::BIGINT`
          : `${c}::${type}`) +
        ` END AS ${c}`;
    }
    if (t === "VARCHAR") {
      return (name === "st_mode"
        ? textAsNumber(name, "[0-7]{7}", modeSql(`${c}::UBIGINT`), "a mode in 7 octal digits")
        : textAsNumber(name, "-?[0-9]+", `${c}::${type}`, "a number in decimal digits")) +
        ` AS ${c}`;
    }
    throw new ScanInputError(
      `${path}: column "${name}" is ${t}, not an integer or pwalk's text of one: ` +
        "not a pwalk scan in Parquet (convert writes one)",
    );
  }).join(", ");
}

/**
 * The Parquet scan `files` as one SQL source of the typed columns: files
 * whose columns have the same types are read by one `read_parquet` (in
 * parallel), the groups joined by UNION ALL (DuckDB's `read_parquet` of
 * files of different types would cast them all to the first file's
 * types: the text "0100644" to the number 100644).
 */
async function parquetSource(e: Engine, files: ScanFile[]): Promise<string> {
  const paths = files.map((f) => f.path);
  const types = new Map<string, Map<string, string>>(paths.map((p) => [p, new Map()]));
  const given = await readables(e, paths);
  let rows;
  try {
    rows = await e.all(
      `SELECT file_name, name, duckdb_type FROM parquet_schema([${given(paths)}]) ` +
        `WHERE duckdb_type IS NOT NULL`,
    );
  } catch (err) {
    throw namingScans(err, paths);
  }
  for (const r of rows) {
    const m = types.get(e.given(String(r.file_name)));
    const name = String(r.name).toLowerCase();
    if (m && !m.has(name)) m.set(name, String(r.duckdb_type));
  }
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const sql = typedFromParquet(p, types.get(p)!);
    groups.set(sql, [...(groups.get(sql) ?? []), p]);
  }
  return [...groups].map(([sql, group]) =>
    `SELECT ${sql} FROM read_parquet([${given(group)}], ` +
    `filename = ${lit(FILE_COLUMN)})`
  ).join(" UNION ALL ");
}

/**
 * The paths to give DuckDB for `paths` ({@link Engine.readable}): a
 * function of some of them to their SQL list ('a', 'b').
 */
async function readables(e: Engine, paths: string[]): Promise<(some: string[]) => string> {
  const sql = new Map<string, string>();
  for (const p of paths) sql.set(p, lit(await e.readable(p)));
  return (some) => some.map((p) => sql.get(p)!).join(", ");
}

/**
 * Whether a CSV scan file starts with pwalk's header (reads its first
 * bytes only): its 17 names in order, each quoted as pwalk writes it or not
 * (DuckDB writes them without quotes), after a UTF-8 byte order mark or
 * not (DuckDB skips it). A first line whose first field is `inode` is any
 * other header: refused, naming the first name that differs, since the
 * columns are read by their place (a header of st_dev before st_size
 * would have the device numbers summed as sizes).
 *
 * @throws {ScanInputError} for a header other than pwalk's, or lines that end in CR LF
 */
async function hasHeader(f: ScanFile): Promise<boolean> {
  let got: Uint8Array = new Uint8Array(0);
  for await (const chunk of decompressed(f, true)) {
    got = concat(got, chunk);
    if (got.indexOf(0x0a) >= 0 || got.length >= 1 << 16) break;
  }
  // A file whose lines end in CR LF (through a Windows share or editor):
  // DuckDB, told lines end in LF, would read no row and no error. The
  // first line ends in CR with its quotes closed (a name holding CR LF is
  // inside quotes; a row ends with a number).
  const nl = got.indexOf(0x0a);
  if (
    nl > 0 && got[nl - 1] === 0x0d && got.subarray(0, nl).filter((b) => b === 0x22).length % 2 === 0
  ) {
    throw new ScanInputError(
      `${f.path}: its lines end in CR LF, pwalk's in LF: convert it back first (dos2unix)`,
    );
  }
  const bom = got[0] === 0xef && got[1] === 0xbb && got[2] === 0xbf ? 3 : 0;
  const line = new TextDecoder().decode(got.subarray(bom, nl < 0 ? got.length : nl));
  const names = line.split(",").map((n) => n.length > 1 && /^".*"$/s.test(n) ? n.slice(1, -1) : n);
  if (names[0].toLowerCase() !== "inode") return false; // a row: its first field a number
  const at = PWALK_COLUMNS.findIndex((c, i) => names[i] !== c);
  if (at < 0 && names.length === PWALK_COLUMNS.length) return true;
  const shown = (n: string) => JSON.stringify(n.length > 40 ? `${n.slice(0, 40)}...` : n);
  throw new ScanInputError(
    `${f.path}: its first line is a header other than pwalk's: ` +
      (at < 0 || at >= names.length
        ? `${names.length} names, pwalk's ${PWALK_COLUMNS.length}`
        : `name ${at + 1} is ${shown(names[at])}, pwalk's ${shown(PWALK_COLUMNS[at])}`) +
      " (its columns are read by their place: see pwalk's header in docs/csv-format.md)",
  );
}

/**
 * Whether a DuckDB error is its CSV reader meeting bytes that are not
 * UTF-8: "Invalid unicode", or an internal error that some of its code
 * paths raise instead (which ends the whole database session).
 */
export function isEncodingError(e: unknown): boolean {
  return /unicode|utf-?8|INTERNAL Error|invalidated/i.test(String((e as Error)?.message ?? e));
}

/** What loading a scan found. */
export interface LoadInfo {
  /** The files read. */
  files: string[];
  /** Rows read. */
  rows: number;
  /** Files whose first line was pwalk's header. */
  withHeader: number;
  /** Rows whose name (or extension) held bytes that are not UTF-8, read with `\xNN` escapes. */
  nonUtf8Rows: number;
}

/**
 * Read scan files into table `name` (the 17 typed columns of
 * {@link TYPED_COLUMNS}), plus `extra` SQL columns computed from them.
 * With `escape`, CSV files go through the filter that escapes names that
 * are not UTF-8 (see the module doc); without it DuckDB reads them directly
 * and fails ({@link isEncodingError}) on such a name. With `view`, a view
 * over the files (read when used) instead of a table where possible, and
 * `rows` is not counted.
 */
export async function loadScan(
  e: Engine,
  files: ScanFile[],
  name: string,
  extra = "",
  escape = false,
  view = false,
): Promise<LoadInfo> {
  const sel = extra ? `*, ${extra}` : "*";
  const info: LoadInfo = {
    files: files.map((f) => f.path),
    rows: 0,
    withHeader: 0,
    nonUtf8Rows: 0,
  };
  if (files[0].format === "parquet") {
    const source = await parquetSource(e, files);
    try {
      await e.exec(`CREATE ${view ? "VIEW" : "TABLE"} "${name}" AS SELECT ${sel} FROM (${source})`);
    } catch (err) {
      throw namingScans(err, files.map((f) => f.path));
    }
  } else {
    // One statement per (header, compression) group, which DuckDB reads in
    // parallel; or, with `escape`, file by file through the filter.
    const groups = new Map<string, ScanFile[]>();
    const heads: boolean[] = [];
    for (const f of files) {
      const header = await hasHeader(f);
      heads.push(header);
      if (header) info.withHeader++;
      const k = `${header}|${duckCompression(f.format)}`;
      const group = groups.get(k);
      if (group) group.push(f);
      else groups.set(k, [f]);
    }
    const given = await readables(e, escape ? [] : files.map((f) => f.path));
    if (view && !escape) {
      const parts = [...groups].map(([k, group]) =>
        `SELECT ${sel} FROM (SELECT ${TYPED_FROM_CSV} FROM read_csv([${
          given(group.map((f) => f.path))
        }], ${csvOptions(e, k.startsWith("true"), duckCompression(group[0].format))}))`
      );
      await e.exec(`CREATE VIEW "${name}" AS ${parts.join(" UNION ALL ")}`);
      return info;
    }
    const nulls = TYPED_COLUMNS.map(([c, t]) =>
      `NULL::${c === "st_mode" ? "UBIGINT" : t} AS "${c}"`
    ).join(", ");
    await e.exec(
      `CREATE TABLE "${name}" AS SELECT ${sel} FROM (SELECT ${TYPED_FROM_CSV} FROM ` +
        `(SELECT ${nulls})) WHERE false`,
    );
    // (the paths as SQL: the files' own, or a FIFO's of the escaping filter)
    const src = (paths: string, header: boolean, compression: string) =>
      `INSERT INTO "${name}" SELECT ${sel} FROM (SELECT ${TYPED_FROM_CSV} FROM read_csv([${paths}], ` +
      `${csvOptions(e, header, compression)}))`;
    if (escape) {
      for (const [i, f] of files.entries()) {
        try {
          info.nonUtf8Rows += await readingLongLines(
            e,
            () => loadEscaped(e, f, (fifo) => src(fifo, heads[i], "none")),
          );
        } catch (err) {
          throw namingScans(
            await columnCountFirst(
              e,
              err,
              (lines) => loadEscaped(e, f, (fifo) => probe(e, fifo, heads[i], "none", lines)),
            ),
            [f.path],
          );
        }
      }
    } else {
      for (const [k, group] of groups) {
        const paths = group.map((f) => f.path);
        const header = k.startsWith("true");
        const compression = duckCompression(group[0].format);
        try {
          await readingLongLines(e, () => e.exec(src(given(paths), header, compression)));
        } catch (err) {
          throw namingScans(
            await columnCountFirst(
              e,
              err,
              (lines) => e.all(probe(e, given(paths), header, compression, lines)),
            ),
            paths,
          );
        }
      }
    }
  }
  if (!view) info.rows = num((await e.all(`SELECT count(*) AS n FROM "${name}"`))[0].n);
  return info;
}

/**
 * SQL: the rows of CSV files as text, up to `lines` ({@link columnCountFirst});
 * `paths` their SQL list ({@link readables}).
 */
function probe(
  e: Engine,
  paths: string,
  header: boolean,
  compression: string,
  lines: number,
): string {
  return `SELECT count(*) FROM (SELECT 1 FROM read_csv([${paths}], ${
    csvOptions(e, header, compression, false)
  }) LIMIT ${lines})`;
}

/**
 * An error met reading the view {@link loadScan} made of CSV `files` (with
 * `view`, as convert reads them: DuckDB converts only the columns a query
 * uses, and may meet a row's count of columns before a value) as loading
 * the table tells it (summary's and diff's way: every column converted,
 * then {@link columnCountFirst}): the file DuckDB names is loaded so up to
 * the line of `err`, and the error met there by that line is returned, so
 * that convert says of one file what summary and diff say. Else `err`.
 */
export async function viewErrorAsLoaded(
  e: Engine,
  err: unknown,
  files: ScanFile[],
): Promise<unknown> {
  const msg = String((err as Error)?.message ?? err);
  const at = /^ *file = (.*)$/m.exec(msg)?.[1];
  const line = /CSV Error on Line: (\d+)/.exec(msg);
  const f = files.find((f) => f.path === at && f.format !== "parquet");
  if (!f || !line) return err;
  const header = await hasHeader(f), compression = duckCompression(f.format);
  const n = Number(line[1]);
  const given = lit(await e.readable(f.path));
  try {
    // rows in the file's order, so that the LIMIT stops at line N
    await e.exec("SET preserve_insertion_order = true");
    await e.exec(
      `CREATE TEMP TABLE __pwalk_probe AS SELECT * FROM (SELECT ${TYPED_FROM_CSV} FROM ` +
        `read_csv([${given}], ${csvOptions(e, header, compression)})) LIMIT ${n}`,
    );
  } catch (other) {
    const there = /CSV Error on Line: (\d+)/.exec(String((other as Error)?.message ?? other));
    if (there && Number(there[1]) <= n) {
      return await columnCountFirst(
        e,
        other,
        (lines) => e.all(probe(e, given, header, compression, lines)),
      );
    }
  } finally {
    await e.exec("SET preserve_insertion_order = false").catch(() => {});
    await e.exec("DROP TABLE IF EXISTS __pwalk_probe").catch(() => {});
  }
  return err;
}

/**
 * DuckDB, reading a CSV file into typed columns, may report a row of
 * other than 17 columns as a value it cannot convert ("Conversion Error:
 * CSV Error on Line: 1", "Could not convert string \"hello world\" to
 * 'UBIGINT'" further down), as its plan has it: the view that convert
 * reads meets the count of columns first, summary's and diff's table the
 * value. When `err` is such an error on line N, `probe(N)` reads the same
 * rows as text up to there (in `e`, in the file's order). A row of another
 * number of columns that it meets by line N is the error returned (the CLI
 * words it "has 1 of the 17 columns (a file cut short, or not pwalk's
 * CSV?)"), so that every command says the same of one file; so is bytes
 * that are not UTF-8 by line N, which DuckDB took into the value it could
 * not convert ({@link openLoaded} then reads the file again through the
 * escaping filter). Else `err`.
 */
async function columnCountFirst(
  e: Engine,
  err: unknown,
  probe: (lines: number) => Promise<unknown>,
): Promise<unknown> {
  const line = (x: unknown) => {
    const msg = String((x as Error)?.message ?? x);
    const m = /CSV Error on Line: (\d+)/.exec(msg);
    return m
      ? { n: Number(m[1]), columns: /Expected Number of Columns: \d+ Found/.test(msg) }
      : null;
  };
  const at = line(err);
  if (!at || at.columns) return err;
  try {
    // rows in the file's order, so that the probe's LIMIT stops at line N
    // (the engine reads in any order: see duck.ts)
    await e.exec("SET preserve_insertion_order = true");
    await probe(at.n);
  } catch (other) {
    const there = line(other);
    // (bytes that are not UTF-8 by then: the reading goes again through
    // the escaping filter, which meets the count of columns, if wrong)
    if (there && there.n <= at.n && (there.columns || isEncodingError(other))) return other;
  } finally {
    await e.exec("SET preserve_insertion_order = false").catch(() => {}); // (a session ended)
  }
  return err;
}

/**
 * Refuse what no one scan holds, once `name` is loaded (a table or a view:
 * one pass over it, two more when it has several roots): no row at all
 * (every scan has its root row: a file cut to nothing), one root row twice
 * (two scans of one tree given together, a scan beside its converted copy,
 * or two joined into one file; "R/" as an old C pwalk typed it is "R"), one
 * folder as two roots (one tree scanned by two names: the same st_dev,
 * inode, mtime, ctime, links, owner and mode; one root name for two
 * folders is refused as such), or a root that is also a folder row of
 * another scan (a scan of a tree beside a scan of a folder in it, by its
 * path or another: through a link, a bind mount), whose entries would
 * count twice. That folder is found as the root's folder itself, not its
 * path: the same st_dev and inode, and, by another path, the same mtime
 * and ctime too (scans from other hosts or file systems whose numbers
 * happen to coincide are told apart by their times). A scan of a folder
 * that the other scan left out (with `--exclude`, or `-x` at a mount
 * point: no row of it there) counts once and is read. Returns the number
 * of rows.
 */
export async function checkOneScan(e: Engine, name: string, files: ScanFile[]): Promise<number> {
  // a root as this pwalk spells it: an old C pwalk's scan of "/d/" and this
  // pwalk's of "/d" have one root (dropRootSlash)
  const rootName = (t: string) => `coalesce(nullif(rtrim(${t}"filename", '/'), ''), '/')`;
  const [r] = await e.all(
    // (the roots' names by CASE, not FILTER: DuckDB 1.5 computes a
    // DISTINCT aggregate's argument on every row before its FILTER, 30
    // times the cost of the rest of this pass: 220 ms against 7 on a
    // million rows)
    `SELECT count(*) AS n, count(*) FILTER ("directory-depth" = -1) AS roots, ` +
      `count(DISTINCT CASE WHEN "directory-depth" = -1 THEN ${rootName("")} END) AS names ` +
      `FROM "${name}"`,
  );
  const where = files.length === 1
    ? files[0].path
    : `${files.slice(0, 3).map((f) => f.path).join(", ")}${files.length > 3 ? ", ..." : ""}`;
  if (num(r.n) === 0) {
    throw new Error(
      `pwalk: ${where}: no rows: not a pwalk scan (every scan holds its root's row; ` +
        "an empty or incomplete copy?)",
    );
  }
  if (num(r.roots) > num(r.names)) {
    const [twice] = await e.all(
      `SELECT ${rootName("")} AS p, count(DISTINCT ("st_dev", "inode")) AS folders ` +
        `FROM "${name}" WHERE "directory-depth" = -1 GROUP BY 1 HAVING count(*) > 1 LIMIT 1`,
    );
    const p = String(twice.p);
    if (num(twice.folders) > 1) {
      // one name, two folders: relative roots ("data" in /proj1 and in
      // /proj2), or a tree made anew between the scans; their paths would
      // mix in every table by folder
      throw new ScanInputError(
        `the root ${p} names ${num(twice.folders)} folders (another st_dev or inode) ` +
          (files.length === 1 ? `in ${where}` : `among the ${files.length} files (${where})`) +
          ": their paths would mix; give the scans of one folder (scan by absolute paths)",
      );
    }
    throw new ScanInputError(
      (files.length === 1
        ? `the root ${p} has two rows in ${where}: two scans of one tree joined into one file`
        : `the root ${p} is in more than one of the ${files.length} files (${where})`) +
        ": two scans of one tree would count every entry twice; give one scan",
    );
  }
  if (num(r.names) > 1) {
    // a root that another scan lists as one of its folders (a scan's own
    // root is its only row at depth -1): the same folder (st_dev and
    // inode), not the same text (a scan through a link, or a bind mount,
    // names it otherwise). Scans from other hosts or file systems may
    // share those numbers: by another path, the folder's times must be
    // the same too (the same folder at the same moment); by the same path,
    // the numbers are enough (its scans at two moments, the folder changed
    // in between, by a file added or -o's own output written there). Another
    // scan's root is such a folder too: one tree scanned by two names ("t"
    // and "/home/me/t", or through a link), its entries counted twice as well.
    const [inner] = await e.all(
      `WITH r AS (SELECT "filename", "st_dev", "inode", "st_mtime", "st_ctime", "st_nlink", ` +
        `"UID", "GID", "st_mode" FROM "${name}" WHERE "directory-depth" = -1) ` +
        `SELECT r."filename" AS p, t."filename" AS q, t."directory-depth" AS qd ` +
        `FROM "${name}" t JOIN r ON t."st_dev" = r."st_dev" AND t."inode" = r."inode" ` +
        `WHERE (t."directory-depth" >= 0 OR (${rootName("t.")} <> ${rootName("r.")} AND ` +
        // (two roots: all of the folder's own facts alike, so that the
        // roots of two hosts' file systems, inode 2 on 253:0 in both,
        // made in the same second, stay apart)
        `t."st_nlink" = r."st_nlink" AND t."UID" = r."UID" AND t."GID" = r."GID" AND ` +
        `t."st_mode" = r."st_mode")) ` +
        `AND t."st_mode" // 4096 = 4 AND (t."filename" = r."filename" OR ` +
        `(t."st_mtime" = r."st_mtime" AND t."st_ctime" = r."st_ctime")) ` +
        `ORDER BY t."directory-depth" = -1 DESC, 1, 2 LIMIT 1`,
    );
    if (inner && num(inner.qd) === -1) {
      throw new ScanInputError(
        `the roots ${String(inner.p)} and ${String(inner.q)} are one folder (the same st_dev, ` +
          `inode, mtime, ctime, links, owner and mode), among the ${files.length} files (${where}): two scans of ` +
          "one tree would count every entry twice; give one scan",
      );
    }
    if (inner) {
      const [p, q] = [String(inner.p), String(inner.q)];
      const roots = (await e.all(
        `SELECT DISTINCT "filename" AS p FROM "${name}" WHERE "directory-depth" = -1`,
      )).map((x) => String(x.p)).filter((o) => o !== p);
      // the root whose scan holds it: the longest root above the folder's
      // path there, else the other root
      const outer = roots.filter((o) => o === "/" ? q !== "/" : q.startsWith(`${o}/`))
        .sort((a, b) => b.length - a.length)[0] ?? (roots.length === 1 ? roots[0] : undefined);
      throw new ScanInputError(
        `the root ${p} is also a folder in the scan of ${outer ?? "another root"}` +
          (q === p ? "" : ` (${q}: the same st_dev, inode, mtime and ctime)`) + ", " +
          (files.length === 1 ? `in ${where}` : `among the ${files.length} files (${where})`) +
          `: a scan and a scan of a folder in it would count every entry below ${p} twice; ` +
          "give one scan",
      );
    }
  }
  return num(r.n);
}

/**
 * A reading error that names the scan files it came from (DuckDB's "CSV
 * Error on Line: 8" does not say which of many): the same message, after
 * the file that DuckDB names further down its message when it is one of
 * them, else after the files (the first three, and how many more).  Errors that already
 * name one of them in their first line, a {@link SpillFullError} (the
 * spill folder's, not a scan's), a {@link MemoryLimitError} (the limit's)
 * and pwalk's own errors (their message starts "pwalk: ") are returned as
 * they are.
 */
export function namingScans(err: unknown, paths: string[]): Error {
  if (err instanceof SpillFullError || err instanceof MemoryLimitError) return err;
  let msg = err instanceof Error ? err.message : String(err);
  // a line too long: why, on the first line (DuckDB says it further down)
  const long = LONG_LINE.exec(msg);
  const eol = msg.indexOf("\n") < 0 ? msg.length : msg.indexOf("\n");
  if (long && /CSV Error on Line: \d+$/.test(msg.slice(0, eol))) {
    msg = `${msg.slice(0, eol)}: a line of ${long[2]} bytes, longer than the ${long[1]} ` +
      `that pwalk reads${msg.slice(eol)}`;
    err = new Error(msg, { cause: err });
  } else if (
    /^Value with unterminated quote found/m.test(msg) &&
    /CSV Error on Line: \d+$/.test(msg.slice(0, eol))
  ) {
    // (read again with lines of MAX_LINE_SIZE first: lineSizeAfter) DuckDB
    // tells a line longer than its read buffer so too
    msg = `${msg.slice(0, eol)}: a quoted value not closed (a line longer than the ` +
      `${MAX_LINE_SIZE} bytes that pwalk reads, or not pwalk's CSV)${msg.slice(eol)}`;
    err = new Error(msg, { cause: err });
  } else if (/^IO Error: Input is not a GZIP stream$/.test(msg.slice(0, eol))) {
    // (checkGzipComplete read its gzip data whole first: what follows it is
    // no gzip member, bytes zlib passes over and DuckDB does not)
    msg = `${msg.slice(0, eol)}: bytes follow its gzip data (zero padding, as a tape or ` +
      "dd conv=sync copy adds?); gzip -dc FILE | gzip > COPY.csv.gz writes a copy pwalk " +
      `reads${msg.slice(eol)}`;
    err = new Error(msg, { cause: err });
  } else if (/^IO Error: Unsupported GZIP archive/.test(msg.slice(0, eol))) {
    // (DuckDB refuses a member header with FTEXT, FHCRC or FCOMMENT set:
    // valid gzip, from pigz -C, zlib's gzsetparams users, some archivers)
    msg = `${msg.slice(0, eol)}: its gzip header has a comment, a header CRC or the text ` +
      "mark (FCOMMENT, FHCRC, FTEXT), valid gzip that pwalk's reader (DuckDB's) does not take; " +
      `gzip -dc FILE | gzip > COPY.csv.gz writes a copy pwalk reads${msg.slice(eol)}`;
    err = new Error(msg, { cause: err });
  }
  // pwalk's own messages say what they are about already (a --temp-dir
  // that cannot hold the spill folder is not a scan's fault)
  if (err instanceof Error && msg.startsWith("pwalk: ")) return err;
  // (DuckDB names the file far down its message; the CLI prints the first line)
  const first = msg.split("\n")[0];
  // pwalk's SQL error() that names its file ({@link nullError}): the file first, as below
  const own = /^([A-Za-z ]+ Error): /.exec(first);
  const file = own && paths.find((p) => first.startsWith(`${own[0]}${p}: `));
  if (own && file) {
    return new Error(
      `${oneLine(file)}: ${own[1]}: ${msg.slice(own[0].length + file.length + 2)}`,
      { cause: err },
    );
  }
  if (paths.some((p) => first.includes(p) || first.includes(oneLine(p)))) {
    return err instanceof Error ? err : new Error(msg);
  }
  // DuckDB's CSV reader names the file further down ("  file = PATH"): that one alone
  const at = /^ *file = (.*)$/m.exec(msg)?.[1];
  // (each shown as one line: a name with a newline would end the first)
  const names = at !== undefined && paths.includes(at)
    ? oneLine(at)
    : paths.length > 3
    ? `${paths.slice(0, 3).map(oneLine).join(", ")} and ${paths.length - 3} more`
    : paths.map(oneLine).join(", ");
  return new Error(`${names}: ${msg}`, { cause: err });
}

// ---------------------------------------------------------------- the escaping filter

/**
 * The decompressed bytes of a scan file; `firstOnly` may stop after the
 * first piece (enough for the header).
 */
async function* decompressed(f: ScanFile, firstOnly = false): AsyncGenerator<Uint8Array> {
  try {
    yield* decompressedBytes(f, firstOnly);
  } catch (e) {
    // "unexpected end of file" alone does not say which of many scans
    const msg = e instanceof Error ? e.message : String(e);
    const named = msg.includes(f.path) || msg.includes(oneLine(f.path));
    throw new Error(named ? msg : `${oneLine(f.path)}: ${msg}`, { cause: e });
  }
}

async function* decompressedBytes(f: ScanFile, firstOnly: boolean): AsyncGenerator<Uint8Array> {
  const file = await Deno.open(f.path);
  const kind = f.format === "csv.gz" ? "gzip" : f.format === "csv.zst" ? "zstd" : "none";
  if (kind === "zstd") {
    yield* decompressedStream(file.readable, kind);
    return;
  }
  for await (const chunk of decompressedStream(file.readable, kind)) {
    yield chunk;
    if (firstOnly) break;
  }
}

const strict = new TextDecoder("utf-8", { fatal: true });

function validUtf8(b: Uint8Array): boolean {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
}

const HEX = "0123456789abcdef";

/**
 * The length of the UTF-8 sequence starting at `b[i]` (a byte >= 0x80), or
 * 0 when none does: the rules of a strict decoder (no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Whether `b` is all UTF-8 (a line: no exception thrown per bad one, as a fatal decoder does). */
function isUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length;) {
    if (b[i] < 0x80) {
      i++;
      continue;
    }
    const n = utf8Length(b, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

/**
 * A line with each byte that is not part of a UTF-8 sequence written as
 * `\xNN`; its UTF-8 characters stay as they are, so a folder's path reads
 * the same in its own row and in the rows of names below it.
 */
function escapeLine(line: Uint8Array): Uint8Array {
  const out = new Uint8Array(line.length * 4);
  let j = 0;
  for (let i = 0; i < line.length;) {
    const b = line[i];
    if (b < 0x80) { // most bytes: no subarray per byte
      out[j++] = b;
      i++;
      continue;
    }
    const n = utf8Length(line, i);
    if (n) {
      for (let k = 0; k < n; k++) out[j++] = line[i + k];
      i += n;
    } else {
      out[j++] = 0x5c;
      out[j++] = 0x78;
      out[j++] = HEX.charCodeAt(b >> 4);
      out[j++] = HEX.charCodeAt(b & 15);
      i++;
    }
  }
  return out.slice(0, j);
}

/**
 * The CSV text with every line that is not UTF-8 escaped by
 * {@link escapeLine}; counts those lines in `counter.n`. Lines are cut at
 * `\n` (pwalk drops control bytes from names, so a newline ends a row).
 */
export async function* escapeNonUtf8(
  chunks: AsyncIterable<Uint8Array>,
  counter: { n: number },
): AsyncGenerator<Uint8Array> {
  let rest: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    const buf = rest.length ? concat(rest, chunk) : chunk;
    const cut = buf.lastIndexOf(0x0a) + 1;
    rest = buf.slice(cut);
    if (cut > 0) yield* fixLines(buf.subarray(0, cut), counter);
  }
  if (rest.length) yield* fixLines(rest, counter);
}

function* fixLines(block: Uint8Array, counter: { n: number }): Generator<Uint8Array> {
  if (validUtf8(block)) {
    yield block;
    return;
  }
  // The block again, its bad lines escaped, as one piece: a write to the
  // pipe per line made a scan whose every name is Latin-1 9x slower.
  const pieces: Uint8Array[] = [];
  let size = 0;
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf(0x0a, start);
    end = end < 0 ? block.length : end + 1;
    let line = block.subarray(start, end);
    if (!isUtf8(line)) {
      counter.n++;
      line = escapeLine(line);
    }
    pieces.push(line);
    size += line.length;
    start = end;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  yield out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Load one file through the escaping filter: its text goes through a named
 * pipe to the statement `sql(fifo)` (`fifo` the pipe's path as SQL, a
 * pattern of it: {@link patternOf}); in a transaction, so a failure on
 * either side leaves nothing. Returns the number of escaped lines. When the
 * statement fails (or the session's signal aborts), the writer is ended
 * before this rejects, whether DuckDB opened the pipe or not.
 */
export async function loadEscaped(
  e: Engine,
  f: ScanFile,
  sql: (fifo: string) => string,
): Promise<number> {
  const fifo = `${e.tempDir}/escaped-${crypto.randomUUID()}.csv`;
  // started in "/" (fifo is absolute): Deno starts a child in our working
  // folder, and fails when that cannot be searched (`runuser -u` from /root)
  const mk = await new Deno.Command(systemTool("mkfifo"), {
    args: ["-m", "600", fifo],
    cwd: "/",
    stderr: "piped",
  }).output();
  if (!mk.success) throw new Error(`mkfifo ${fifo}: ${new TextDecoder().decode(mk.stderr)}`);
  // (begun before the writer starts: a failure here leaves none waiting)
  await e.exec("BEGIN TRANSACTION");
  const counter = { n: 0 };
  let writerError: unknown = null;
  let out: Deno.FsFile | null = null;
  const writer = (async () => {
    out = await Deno.open(fifo, { write: true });
    const w = out.writable.getWriter();
    try {
      for await (const piece of escapeNonUtf8(decompressed(f), counter)) await w.write(piece);
      await w.close();
    } catch (err) {
      writerError = err;
      try {
        await w.abort(err);
      } catch {
        // already closed
      }
    }
  })();
  try {
    await e.exec(sql(lit(patternOf(fifo))));
  } catch (err) {
    // (a session cancelled runs no more statements: it is closed next)
    await e.exec("ROLLBACK").catch(() => {});
    // Unblock a writer still waiting for a reader (DuckDB failed before it
    // opened the pipe): a reader opened and closed at once, so that the
    // writes fail (EPIPE) instead of filling a pipe nobody reads; then let
    // it finish.
    if (out === null) (await Deno.open(fifo, { read: true }).catch(() => null))?.close();
    await writer.catch(() => {});
    await Deno.remove(fifo).catch(() => {});
    throw err;
  }
  await writer;
  await Deno.remove(fifo).catch(() => {});
  if (writerError) {
    await e.exec("ROLLBACK");
    throw new Error(`${oneLine(f.path)}: ${(writerError as Error).message}`);
  }
  await e.exec("COMMIT");
  return counter.n;
}

/**
 * A DuckDB session with scans loaded by `load(engine, escape)`: first with
 * DuckDB reading the files directly; when that meets a name that is not
 * UTF-8 ({@link isEncodingError}: the session may be dead then), again in a
 * new session through the escaping filter.
 */
export async function openLoaded<T>(
  options: EngineOptions,
  load: (e: Engine, escape: boolean) => Promise<T>,
): Promise<[Engine, T]> {
  let e = await Engine.open(options);
  try {
    return [e, await load(e, false)];
  } catch (err) {
    await e.close();
    if (!isEncodingError(err)) throw err;
  }
  e = await Engine.open(options);
  try {
    return [e, await load(e, true)];
  } catch (err) {
    await e.close();
    throw err;
  }
}
