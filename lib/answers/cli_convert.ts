/**
 * `pwalk convert IN... OUT`: argument parsing for {@link convert}.
 * Exit status: 0 done, 1 failed, 2 bad usage.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import { eprint, intArg, unknownOptions, UsageError } from "../args.ts";
import { convert } from "./convert.ts";
import { ScanInputError } from "./scan.ts";
import { ENGINE_FLAGS, engineOptions } from "./cli_summary.ts";

/** `pwalk convert --help`. */
export const HELP: string = `pwalk convert: a scan in another format

Usage:
  pwalk convert [options] IN... OUT

IN is a scan: .csv, .csv.zst, .csv.gz or .parquet files, a glob, or a folder
of shards (with or without pwalk's header). OUT's name picks the format:
.csv, .csv.zst, .csv.gz (pwalk's CSV, byte for byte) or .parquet (typed
columns under the header's names; st_mode as a number). OUT appears only
when complete.

Options:
  --no-header        CSV output without pwalk's header line
  --level N          zstd level of .csv.zst and .parquet output (1-19, default 3)
  --memory-limit M   DuckDB's memory limit (default 25% of RAM, at most 8 GiB)
  --temp-dir DIR     where DuckDB spills
  -h, --help         this help
`;

/** Run `pwalk convert ARGS`; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  try {
    const unknown = unknownOptions();
    const flags = parseArgs(args, {
      string: ["level", ...ENGINE_FLAGS],
      boolean: ["help", "header"],
      negatable: ["header"],
      default: { header: true },
      alias: { h: "help" },
      unknown: unknown.hook,
    });
    unknown.check();
    if (flags.help) {
      console.log(HELP);
      return 0;
    }
    const pos = (flags._ as unknown[]).map(String);
    if (pos.length < 2) throw new UsageError("convert needs IN and OUT (try --help)");
    const out = pos.pop()!;
    if (!/\.(csv|csv\.zst|csv\.gz|parquet)$/.test(out)) {
      throw new UsageError(`${out}: OUT must end in .csv, .csv.zst, .csv.gz or .parquet`);
    }
    await convert(pos, out, {
      header: flags.header,
      level: intArg("level", flags.level, 1, 19),
      ...engineOptions(flags),
    });
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof ScanInputError || e instanceof RangeError) {
      eprint(`pwalk: ${e.message.replace(/^pwalk: /, "")}`);
      return 2;
    }
    eprint(`pwalk: ${String((e as Error)?.message ?? e).split("\n")[0].replace(/^pwalk: /, "")}`);
    return 1;
  }
}
