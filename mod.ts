/**
 * pwalk: inventory very large file systems fast, from Deno.
 *
 * A native parallel walker (C, pthreads, getdents64 + fstatat through
 * directory file descriptors) behind a small typed API:
 *
 * - {@link report}: John Dey's pwalk CSV, byte for byte, plain, zstd or
 *   gzip (the output's suffix decides), readable by DuckDB directly; or the
 *   same rows as typed Parquet (`.parquet`), written by the library.
 * - {@link walk}: every entry with its stat facts, as an async iterator
 *   with @std/fs walk's options and entry fields, plus the stat facts; entries in
 *   no defined order, errors collected (`errors`, `onError`), not thrown (the
 *   differences from @std/fs: {@link walk}, {@link WalkOptions});
 *   {@link walkDirs}: os.walk's shape.
 * - {@link planShards}, {@link runShard}, {@link slurmScan}: one scan split
 *   into shards that run anywhere (N processes, ssh, a Slurm job array) and
 *   together give a single run's rows; {@link scanStatus} tells which are done.
 * - {@link repair}: group-sharing repair of project folders, {@link chown}:
 *   pwalk's chown mode, {@link undo}: replay a journal backwards. All three
 *   are dry runs unless `apply: true`, and change entries only through
 *   verified file descriptors, never through paths.
 * - {@link summarize}, {@link diff}, {@link convert}: answers from scan
 *   files (who uses the space, what is big, old, cold, what grew), and
 *   conversions between formats, computed by DuckDB, which is loaded only
 *   when these run.
 *
 * @example
 * ```ts
 * import { report, walk } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * const tmp = await Deno.makeTempDir();
 * await Deno.mkdir(`${tmp}/data`);
 * await Deno.writeTextFile(`${tmp}/data/a.txt`, "hello");
 *
 * const summary = await report(`${tmp}/data`, { output: `${tmp}/scan.csv.zst` });
 * assertEquals([summary.entries, summary.errors], [2, 0]); // the folder and a.txt
 * const sizes: number[] = [];
 * for await (const e of walk(`${tmp}/data`, { includeDirs: false })) sizes.push(e.size);
 * assertEquals(sizes, [(await Deno.lstat(`${tmp}/data/a.txt`)).size]);
 * await Deno.remove(tmp, { recursive: true });
 * ```
 *
 * @module
 */
export {
  walk,
  type WalkDir,
  walkDirs,
  type WalkDirsOptions,
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
  type JournalContents,
  type KeptField,
  readJournal,
  restoreLine,
  type RestoreRecord,
  undo,
  type UndoOptions,
  type UndoSummary,
} from "./lib/undo.ts";
export { RefusedError } from "./lib/journal_file.ts";
export type { JournalHeader, JournalLine } from "./lib/journal.ts";
export {
  type Compression,
  DEFAULT_GZIP_LEVEL,
  DEFAULT_LEVEL,
  report,
  type ReportOptions,
  type ReportSummary,
} from "./lib/report.ts";
export type { Progress, WalkError } from "./lib/job.ts";
export type { CommonOptions, FrontierFolder } from "./lib/options.ts";
export { unmatchedExcludes } from "./lib/exclude.ts";
export {
  AGE_BUCKETS,
  type AgeBucket,
  type Amount,
  type BusyFolder,
  type ExtensionRow,
  type FileRow,
  type FolderRow,
  type OwnerRow,
  type SizeBucket,
  summarize,
  type Summary,
  type SummaryOptions,
  type Totals,
  type UserAges,
} from "./lib/answers/summary.ts";
export {
  type Change,
  type ChangeRow,
  type Diff,
  diff,
  type DiffOptions,
  type DiffSide,
  type FileChange,
  type FolderChange,
  type UnlistedFolder,
} from "./lib/answers/diff.ts";
export {
  convert,
  type ConvertOptions,
  type ConvertSummary,
  reportParquet,
  type ReportParquetOptions,
} from "./lib/answers/convert.ts";
export {
  PWALK_COLUMNS,
  PWALK_HEADER,
  recordedErrors,
  resolveScans,
  type ScanFile,
  type ScanFormat,
  ScanInputError,
  shardWarnings,
  TYPED_COLUMNS,
} from "./lib/answers/scan.ts";
export {
  type EngineOptions,
  MemoryLimitError,
  SpillFullError,
  type Stage,
  type StageOptions,
} from "./lib/answers/duck.ts";
export { diffHtml, summaryHtml } from "./lib/answers/html.ts";
export {
  checkPlan,
  MAX_SHARDS,
  planDigest,
  PlanError,
  type PlannedFolder,
  type PlanOptions,
  type PlanReportOptions,
  planShards,
  readPlan,
  type ShardPlan,
  writePlan,
} from "./lib/shard/plan.ts";
export {
  checkPlanRoot,
  PlanMismatchError,
  recordPath,
  runShard,
  ShardBusyError,
  type ShardRecord,
  type ShardRunOptions,
  type ShardSummary,
} from "./lib/shard/run.ts";
export type { JsonPath } from "./lib/shard/paths.ts";
export {
  readScanCounts,
  type ScanCountOptions,
  type ScanCounts,
  scanFiles,
} from "./lib/shard/scan.ts";
export {
  readRecord,
  scanLeftovers,
  type ScanStatus,
  scanStatus,
  type ShardState,
  type ShardStatus,
  type StatusOptions,
} from "./lib/shard/status.ts";
export {
  arrayList,
  jobName,
  ownSbatchOption,
  pwalkCommand,
  queuedTasks,
  readSubmissions,
  resumeScan,
  ScanFolderError,
  scriptFolders,
  type ScriptOptions,
  shellQuote,
  type SlurmScan,
  slurmScan,
  type SlurmScanOptions,
  slurmScript,
  type Submission,
  type SubmitOptions,
  submitShards,
  type Submitted,
} from "./lib/shard/slurm.ts";
export { ensureNative, nativeVersion, setLibraryPath } from "./lib/ffi.ts";

// `deno run -A jsr:@pwalk/cli /data`: the package's main entry is the CLI,
// ending as cli.ts does (killed by the signal that stopped it).
if (import.meta.main) {
  const { runMain } = await import("./lib/cli/main.ts");
  const { commandLineArgs } = await import("./lib/cli/common.ts");
  await runMain(commandLineArgs());
}
