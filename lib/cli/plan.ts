/**
 * `pwalk plan ROOT --shards N -o plan.json`: plan a sharded scan (see
 * lib/shard/plan.ts). Also the plan options `pwalk slurm` shares.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import {
  eprint,
  exitStatus,
  intArg,
  readExcludeFile,
  unknownOptions,
  UsageError,
} from "../args.ts";
import { type PlanOptions, planShards, type ShardPlan, writePlan } from "../shard/plan.ts";

/** `pwalk plan --help`. */
export const HELP = `pwalk plan: split a scan of ROOT into shards that together give its rows

Usage:
  pwalk plan ROOT --shards N [-o plan.json] [options]

Then run each shard I (0 to N-1) anywhere that sees ROOT:
  pwalk report --plan plan.json --shard I -o scan-I.csv.zst
The shards' rows together are a single run's rows (the header, with
--header, only in shard 0's file); each writes scan-I.done.json last.

The planner reads the top of the tree (names and types from listings; a
stat only for the folders it may plan), deeper under the biggest folders,
until at least 16 x N folders (the frontier) share the work, and gives each
shard frontier folders, biggest first, to the least loaded shard.

Options:
  --shards N             how many shards (fewer when the tree has fewer folders)
  -o, --output FILE      write the plan there (default: stdout)
  --from SCAN            estimate the work below each folder from a previous
                         scan (a pwalk .csv or .csv.zst, or a folder of them,
                         such as an earlier sharded scan); repeatable.
                         Default: the rows the planner sees in listings
  --min-folders N        frontier folders to aim for (default 16 x N)
  --max-listed N         folders the planner may list (default 1024 x N,
                         at least 16,384, at most 131,072)

Report options, fixed in the plan for every shard (pwalk's):
  --header               the header line, at the top of shard 0's file
  --NoSnap               skip folders named .snapshot
  --depth N              do not list folders at depth N or deeper
  --exclude FILE         FILE lists full folder paths to skip, one per line
  -x, --one-file-system  stay on ROOT's file system
  -h, --help             this help
`;

/** Options parsed by {@link parsePlanFlags}. */
export const PLAN_STRINGS = ["shards", "from", "min-folders", "max-listed", "depth", "exclude"];
/** Boolean options of the plan. */
export const PLAN_BOOLEANS = ["header", "NoSnap", "x", "one-file-system"];

/** The plan options of parsed flags (pwalk plan and pwalk slurm share them). */
export async function planOptionsOf(flags: Record<string, unknown>): Promise<PlanOptions> {
  const shards = intArg("shards", flags.shards, 1, 100_000);
  if (shards === undefined) throw new UsageError("missing --shards N (try --help)");
  const exclude: string[] = [];
  for (const f of (flags.exclude as string[] | undefined) ?? []) {
    exclude.push(...await readExcludeFile(f));
  }
  const from = (flags.from as string[] | undefined) ?? [];
  for (const f of from) {
    try {
      await Deno.stat(f);
    } catch (e) {
      throw new UsageError(`--from ${f}: ${(e as Error).message}`);
    }
  }
  return {
    shards,
    from,
    minFolders: intArg("min-folders", flags["min-folders"], 1, 1e9),
    maxListed: intArg("max-listed", flags["max-listed"], 1, 1e9),
    header: !!flags.header,
    noSnap: !!flags.NoSnap,
    maxDepth: intArg("depth", flags.depth, 0, 2 ** 31 - 1),
    exclude,
    oneFileSystem: !!(flags.x || flags["one-file-system"]),
  };
}

/** The one ROOT of parsed flags, checked to be a folder (else a usage error). */
export function rootOf(flags: { _: unknown[] }): string {
  const roots = flags._.map(String);
  if (roots.length === 0) throw new UsageError("missing ROOT folder (try --help)");
  if (roots.length > 1) throw new UsageError(`one ROOT folder only, got ${roots.length}`);
  const root = roots[0];
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(root);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (e as Error).message;
    throw new UsageError(`${root}: ${why}`);
  }
  if (!info.isDirectory) throw new UsageError(`${root}: Not a directory`);
  return root;
}

const num = (n: number) => n.toLocaleString("en-US");

/** One line about a plan, for stderr. */
export function describePlan(plan: ShardPlan, ms: number): string {
  const e = plan.estimate;
  const fewer = plan.shards < plan.requestedShards
    ? ` (not ${plan.requestedShards}: the tree has only ${plan.frontier.length} folders to share)`
    : "";
  const loads = e.loads.map(num).join(", ");
  return `pwalk plan: ${plan.shards} shards${fewer} over ${num(plan.frontier.length)} frontier ` +
    `folders, ${num(plan.listed)} folders listed in ${(ms / 1000).toFixed(2)} s; estimated rows ` +
    `(${e.source === "scan" ? "from the previous scan" : "seen in listings"}): ${num(e.total)}, ` +
    `per shard ${loads} (shard 0 with the ${num(e.top)} above the frontier)`;
}

/** `pwalk plan ARGS`; resolves to the exit status. */
export function main(args: string[]): Promise<number> {
  return exitStatus(async () => {
    const unknown = unknownOptions();
    const flags = parseArgs(args, {
      string: [...PLAN_STRINGS, "output"],
      boolean: [...PLAN_BOOLEANS, "help"],
      collect: ["exclude", "from"],
      alias: { o: "output", h: "help" },
      unknown: unknown.hook,
    });
    unknown.check();
    if (flags.help) {
      console.log(HELP);
      return 0;
    }
    const root = rootOf(flags);
    const options = await planOptionsOf(flags);
    const output = flags.output as string | undefined;
    if (output === "") throw new UsageError("--output needs a file name");
    const t0 = performance.now();
    const plan = await planShards(root, options);
    const ms = performance.now() - t0;
    if (output === undefined || output === "-") console.log(JSON.stringify(plan, null, 1));
    else await writePlan(plan, output);
    eprint(describePlan(plan, ms) + (output && output !== "-" ? ` -> ${output}` : ""));
    return 0;
  });
}
