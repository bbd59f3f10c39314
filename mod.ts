/**
 * pwalk: inventory very large file systems fast, from Deno.
 *
 * A native parallel walker (C, pthreads, getdents64 + fstatat through
 * directory file descriptors) behind a small typed API:
 *
 * - {@link report}: John Dey's pwalk CSV, byte for byte, plain, zstd or
 *   gzip (the output's suffix decides), readable by DuckDB directly.
 * - {@link walk}: every entry with its stat facts, as an async generator (a
 *   drop-in upgrade of @std/fs walk); {@link walkDirs}: os.walk's shape.
 * - {@link repair}: group-sharing repair of project folders, {@link chown}:
 *   pwalk's chown mode, {@link undo}: replay a journal backwards. All three
 *   are dry runs unless `apply: true`, and change entries only through
 *   verified file descriptors, never through paths.
 *
 * @example
 * ```ts ignore
 * import { report } from "jsr:@pwalk/cli";
 * const summary = await report("/data", { output: "scan.csv.zst" });
 * console.log(summary.entries, summary.errors);
 * ```
 *
 * @module
 */
export {
  walk,
  type WalkDir,
  walkDirs,
  WalkEntry,
  type WalkIterator,
  type WalkOptions,
} from "./lib/walk.ts";
export {
  type ChangeCounts,
  type ChangeKind,
  type ChangeOptions,
  type ChangeRecord,
  type ChangeSummary,
  chown,
  type ChownOptions,
  type ChownSummary,
  type EntryType,
  type Ownership,
  repair,
  type RepairOptions,
  type RepairSummary,
} from "./lib/repair.ts";
export {
  readJournal,
  restoreLine,
  type RestoreRecord,
  undo,
  type UndoOptions,
  type UndoSummary,
} from "./lib/undo.ts";
export {
  type Compression,
  DEFAULT_GZIP_LEVEL,
  DEFAULT_LEVEL,
  report,
  type ReportOptions,
  type ReportSummary,
} from "./lib/report.ts";
export type { Progress, WalkError } from "./lib/job.ts";
export type { CommonOptions } from "./lib/options.ts";
export { ensureNative, nativeVersion, setLibraryPath } from "./lib/ffi.ts";

// `deno run -A jsr:@pwalk/cli /data`: the package's main entry is the CLI.
if (import.meta.main) {
  const { main } = await import("./lib/cli.ts");
  Deno.exit(await main(Deno.args));
}
