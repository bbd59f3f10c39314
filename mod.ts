/**
 * pwalk: inventory very large file systems fast, from Deno.
 *
 * A native parallel walker (C, pthreads, getdents64 + fstatat through
 * directory file descriptors) behind a small typed API:
 *
 * - {@link report}: John Dey's pwalk CSV, byte for byte, plain or zstd,
 *   readable by DuckDB directly.
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
export { DEFAULT_LEVEL, report, type ReportOptions, type ReportSummary } from "./lib/report.ts";
export type { Progress, WalkError } from "./lib/job.ts";
export type { CommonOptions } from "./lib/options.ts";
export { nativeVersion, setLibraryPath } from "./lib/ffi.ts";
