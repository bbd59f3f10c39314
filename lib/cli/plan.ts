/**
 * `pwalk plan ROOT --shards N -o plan.json`: plan a sharded scan (see
 * lib/shard/plan.ts). Also the plan options `pwalk slurm` shares.
 *
 * @module
 */
import { duration, type StatusLine } from "./progress.ts";
import {
  count,
  eprint,
  excludeArgs,
  excludeLists,
  excludeWarnings,
  fifoReader,
  type Flags,
  intArg,
  type Kind,
  num,
  oneRoot,
  parse,
  runJob,
  usage,
  UsageError,
  withStatusLine,
  writeStdoutAsync,
} from "./common.ts";
import {
  MAX_SHARDS,
  type PlanOptions,
  planShards,
  planText,
  readPlan,
  type ShardPlan,
} from "../shard/plan.ts";
import { checkedOutput, type OutputTarget, writeWhole } from "../outfile.ts";
import { PARQUET, PARQUET_FROM, scanFiles } from "../shard/scan.ts";
import { sameFileTwice } from "../answers/scan.ts";
import { leftoversText, scanLeftovers } from "../shard/status.ts";
import { checkDescriptorOutput, compressionOf, foreignFormat, stdoutName } from "../report.ts";
import { insideRootText, scanEnters } from "../shard/paths.ts";
import { excludeList } from "../options.ts";

/** `pwalk plan --help`. */
export const HELP = `pwalk plan: split a scan of ROOT into shards that together give its rows

Usage:
  pwalk plan ROOT --shards N [-o plan.json] [options]

Then run each shard I (0 to N-1) anywhere that sees ROOT:
  pwalk report --plan plan.json --shard I -o scan-I.csv.zst
    (a shard's own options, --level, --threads, --errors, --progress:
    pwalk report --plan --help)
The shards' rows together are a single run's rows (the header, with
--header, only in shard 0's file); each writes scan-I.done.json last.

The planner reads the top of the tree (names and types from listings; a
stat only for the folders it may plan), deeper under the biggest folders,
until at least 16 x N folders (the frontier) share the work, and gives each
shard frontier folders, biggest first, to the least loaded shard.

Options:
  --shards N             how many shards, 1 to 100,000 (fewer when the tree has
                         fewer folders)
  -o, --output FILE      write the plan there (default: stdout), as report's -o
                         writes: a link through, a device or FIFO directly;
                         an existing plan is not replaced (shards may have
                         run from it), nor a --from scan or --exclude list;
                         a folder with another scan's completion records or
                         slurm.json is refused (remove its files first), and
                         so is a folder inside ROOT that the scan enters
                         (the shards would list each other's outputs
                         there; excluded, or with -x on another file
                         system, it is taken); a plan is plain JSON:
                         a compressed, Parquet or archive name (.zst, .gz,
                         .parquet, .xz, .tgz ...) is refused
  --from SCAN            estimate the work below each folder from a previous
                         scan (a pwalk .csv, .csv.zst or .csv.gz, or a folder
                         of them; not .parquet: convert it; an earlier
                         sharded scan's folder gives its plan's shards, all
                         done); repeatable. A warning line when it does
                         not fit the tree: one of another tree (it knows
                         less than half of ROOT's folders) is set aside,
                         the plan made from listings; one made with a
                         shallower --depth underestimates.
                         Default: the rows the planner sees in listings
  --min-folders N        frontier folders to aim for (default 16 x N)
  --max-listed N         folders the planner may list (default 1024 x N
                         within 16,384 and 131,072, and at least
                         4 x --min-folders, at most 1,000,000,000);
                         fewer shards than asked when it runs out too
                         soon (the line says why)

Report options, fixed in the plan for every shard (pwalk's):
  --header               the header line, at the top of shard 0's file
  --NoSnap               skip folders named .snapshot
  --depth N              do not list folders at depth N or deeper
  --exclude PATH         skip this folder, or the folders PATH lists (one a
                         line); repeatable
  -x, --one-file-system  stay on ROOT's file system
  -h, --help             this help

Exit status:
  0    the plan is written
  1    failed while running (the plan cannot be written, a --from scan
       cannot be read whole)
  2    bad usage: unknown option, bad value, a ROOT that is missing, not a
       folder, or that cannot be opened and listed, a plan already at -o
       or another scan's records beside it, an -o inside ROOT, or a folder, a file the plan reads or a shard's output there
  129, 130, 143   stopped by SIGHUP, SIGINT (Ctrl-C), SIGTERM: no plan
       is written (nor printed, unless stopped while a slow reader took
       it: then cut short, and said)
  141  stdout closed early (the plan printed | head): stopped quietly
`;

/** The options of a plan (pwalk plan and pwalk slurm take them). */
export const PLAN_OPTIONS: Record<string, Kind> = {
  shards: "value",
  from: "list",
  "min-folders": "value",
  "max-listed": "value",
  depth: "value",
  exclude: "list",
  header: "flag",
  NoSnap: "flag",
  "one-file-system": "flag",
};

/**
 * The plan options of parsed flags (pwalk plan and pwalk slurm share them),
 * and the warning lines for --exclude folders that match nothing (to print
 * once every argument is checked); an --exclude that is ROOT is bad usage.
 */
export async function planOptionsOf(
  flags: Flags,
): Promise<{ options: PlanOptions; warnings: string[] }> {
  const shards = intArg("shards", flags.shards, 1, MAX_SHARDS);
  if (shards === undefined) throw new UsageError("missing --shards N (try --help)");
  const exclude = await excludeArgs(flags, flags._[0]);
  const warnings = excludeWarnings(flags._[0], exclude);
  const from = (flags.from as string[] | undefined) ?? [];
  for (const f of from) {
    try {
      await Deno.stat(f);
    } catch (e) {
      throw new UsageError(`--from ${f}: ${(e as Error).message}`);
    }
    if (PARQUET.test(f)) throw new UsageError(`--from ${f}: ${PARQUET_FROM}`);
  }
  await refuseFromTwice(from);
  const options: PlanOptions = {
    shards,
    from,
    minFolders: intArg("min-folders", flags["min-folders"], 1, 1e9),
    maxListed: intArg("max-listed", flags["max-listed"], 1, 1e9),
    header: !!flags.header,
    noSnap: !!flags.NoSnap,
    pwalkDepth: intArg("depth", flags.depth, 0, 2 ** 31 - 1),
    exclude,
    oneFileSystem: !!flags["one-file-system"],
    onWarning: (m) => eprint(`pwalk: warning: ${m}`),
  };
  return { options, warnings };
}

/**
 * The same scan file read twice by --from (given twice, or by a folder and
 * by its name, or through a link) would count its rows twice and skew the
 * estimates: refused, as summary refuses it ("each file of a scan is read
 * once"). Folders are looked into as the planner reads them (scanFiles);
 * one that cannot be is left to the planner to tell.
 */
async function refuseFromTwice(from: readonly string[]): Promise<void> {
  const files: string[] = [];
  for (const spec of from) {
    try {
      files.push(...await scanFiles(spec));
    } catch {
      continue; // told by the planner itself
    }
  }
  const twice = await sameFileTwice(files);
  if (twice) {
    const [first, f] = twice;
    throw new UsageError(
      first === f
        ? `--from ${f} is given twice: each file of a scan is read once`
        : `--from: ${first} and ${f} are the same file: each file of a scan is read once`,
    );
  }
}

/** Why a plan has fewer shards than asked ("": it has not), for {@link describePlan}. */
export function fewerText(plan: ShardPlan): string {
  if (plan.shards >= plan.requestedShards) return "";
  const u = plan.unsplit;
  const reasons: string[] = [];
  if (!u) {
    // a plan of an older version: it did not say
    reasons.push(
      "the tree has no more, or splitting them would put more than a shard's share of rows " +
        "above them, in shard 0",
    );
  } else {
    const all = plan.frontier.length;
    if (u.budget) {
      reasons.push(
        `the listing budget (--max-listed) ran out before ${
          u.budget === all ? "they" : `${num(u.budget)} of them`
        } were listed`,
      );
    }
    if (u.share) {
      // (the planner's rule: a folder stays whole when its own entries
      // would take the rows above the frontier past both a shard's share
      // and half of the folder's rows)
      const one = u.share === 1;
      reasons.push(
        `splitting ${
          u.share === all ? (one ? "it" : "them") : `${num(u.share)} of them`
        } would put more estimated rows above ${one ? "it" : "them"}, in shard 0, than a ` +
          `shard's share and than half of the rows ${one ? "it holds" : "they hold"}`,
      );
    }
    if (u.bottom) {
      reasons.push(
        `${u.bottom === all ? "they hold" : `${num(u.bottom)} of them hold`} ` +
          "no folder to split into",
      );
    }
    if (u.minFolders) reasons.push("they are --min-folders, none more than half a shard's share");
    if (u.partial && plan.estimate.source === "listing" && !u.budget) {
      reasons.push(
        `the estimates count the rows in the ${
          count(plan.listed, "folder")
        } listed, as --max-listed allows: a larger one reads more`,
      );
    }
  }
  if (!reasons.length) {
    // (a frontier with folders always has a reason above)
    reasons.push(
      plan.frontier.length
        ? "the tree has no more folders to split into"
        : "ROOT holds no folder the scan walks (none, or only links, excluded folders, " +
          ".snapshot with --NoSnap, other file systems with -x, or beyond --depth)",
    );
  }
  return ` (not ${num(plan.requestedShards)}: ${count(plan.frontier.length, "frontier folder")}; ${
    reasons.join("; ")
  })`;
}

/**
 * The planner's progress on a status line (a terminal's, after 2 s):
 * `pwalk plan: listing 12,345 folders (frontier 678)  0:00:05`.
 */
export function listingStage(
  line: StatusLine,
): (p: { listed: number; frontier: number }) => void {
  return (p) =>
    line.update({
      step: "listing",
      // (no frontier yet while the top of the tree is read)
      name: count(p.listed, "folder") + (p.frontier ? ` (frontier ${num(p.frontier)})` : ""),
    });
}

/** Up to this many shards, {@link describePlan} lists each one's estimated rows. */
const PLAN_LOADS_LISTED = 16;

/** One line about a plan, for stderr. */
export function describePlan(plan: ShardPlan, ms: number): string {
  const e = plan.estimate;
  // every shard's estimate while they are few; else the spread (a line of
  // 100,000 numbers is no line), plan.json keeps each
  const sorted = [...e.loads].sort((a, b) => a - b);
  const loads = e.loads.length <= PLAN_LOADS_LISTED
    ? e.loads.map(num).join(", ")
    : `${num(sorted[0])} to ${num(sorted[sorted.length - 1])}, median ` +
      `${num(sorted[Math.floor((sorted.length - 1) / 2)])}, shard 0 ${num(e.loads[0])}`;
  return `pwalk plan: ${count(plan.shards, "shard")}${fewerText(plan)} over ` +
    `${count(plan.frontier.length, "frontier folder")}, ${count(plan.listed, "folder")} listed ` +
    `in ${duration(ms)}; estimated rows ` +
    `(${e.source === "scan" ? "from the previous scan" : "seen in listings"}): ${num(e.total)}, ` +
    `per shard ${loads} (shard 0 with the ${num(e.top)} above the frontier)`;
}

/**
 * A plan file may already have shards run against it: their completion
 * records name its id, and a new plan (a new id, new frontier) in its place
 * would orphan them. Refuse to write over one; any other file is replaced.
 * `path` is the regular file (or missing name) -o writes: never a FIFO,
 * whose open would wait for a writer.
 */
async function refuseReplacingPlan(output: string, path: string): Promise<void> {
  let old: ShardPlan;
  try {
    old = await readPlan(path);
  } catch {
    return; // missing, unreadable or not a plan: the write says what goes wrong
  }
  throw new UsageError(
    `${output} already holds a plan (${old.id}, ${
      count(old.shards, "shard")
    }): shards run from it would ` +
      "no longer match; remove it first or choose another file",
  );
}

/** The folder of a path as given: `.` for a bare name. */
function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

/**
 * A plan written where another sharded scan left its completion records
 * or slurm.json (plan.json removed to plan again) would mix with them:
 * refused, naming them ({@link scanLeftovers}).
 */
async function refuseOtherScan(path: string): Promise<void> {
  const dir = folderOf(path);
  const old = await scanLeftovers(dir);
  if (old.some((n) => n.endsWith(".done.json") || n === "slurm.json")) {
    throw new UsageError(leftoversText(dir, old));
  }
}

/** The files a plan reads: the --from scans (a folder's too) and the --exclude lists. */
async function planInputs(flags: Flags): Promise<string[]> {
  const files = [...(flags.from as string[] | undefined) ?? [], ...excludeLists(flags)];
  for (const from of (flags.from as string[] | undefined) ?? []) {
    try {
      files.push(...await scanFiles(from));
    } catch { /* told by the planner itself */ }
  }
  return files;
}

/** `pwalk plan ARGS`; resolves to the exit status. */
export async function run(args: string[]): Promise<number> {
  const flags = parse(args, { ...PLAN_OPTIONS, output: "once" });
  const root = await oneRoot(flags);
  const { options, warnings } = await planOptionsOf(flags);
  const given = flags.output as string | undefined;
  // -o /dev/stdout: this process's stdout, as -o - (by name it would be replaced)
  const output = given === undefined || given === "-" || stdoutName(given) ? undefined : given;
  // where -o goes, as report's -o: a device or FIFO written directly (as
  // the shell's > does), a link written through, a file replaced whole;
  // known (a FIFO never opened) before the plan is made
  let target: OutputTarget | undefined;
  // -o missing when checked: whatever is made there meanwhile is never replaced
  let missing = false;
  if (output !== undefined) {
    // the plan's folder is the scan folder (pwalk status reads it): inside
    // ROOT, each shard would list the others' outputs, as pwalk slurm refuses
    // (a folder the scan does not enter, excluded or with -x on another
    // file system, is as good as one outside ROOT); refused before the
    // write test's probe file would change that folder
    const skips = {
      exclude: excludeList(root, options.exclude),
      oneFileSystem: options.oneFileSystem,
      noSnap: options.noSnap,
    };
    const beforeProbe = async (path: string) => {
      if (await scanEnters(folderOf(output), root, skips)) {
        throw new UsageError(insideRootText(`-o ${output}`, root));
      }
      await refuseReplacingPlan(output, path);
      await refuseOtherScan(path);
    };
    try {
      checkDescriptorOutput(output); // -o /dev/fd/3 3>file: refused, as report's
      // neither a scan --from reads (a folder's files too) nor an --exclude list
      target = await checkedOutput(output, await planInputs(flags), { who: "plan", beforeProbe });
      missing = !target.direct && !(await Deno.lstat(target.path).then(() => true, () => false));
    } catch (e) {
      if (e instanceof RangeError) throw usage(e);
      throw e;
    }
    // a plan is plain JSON: never under a name every tool reads as compressed or archived
    const named = compressionOf(output);
    const format = named === "none"
      ? foreignFormat(output)
      : { zstd: "zstd compression", gzip: "gzip compression", parquet: "Parquet" }[named];
    if (format) {
      throw new UsageError(
        `-o ${output} names ${format}, but a plan is plain JSON: name it .json (plan.json)`,
      );
    }
  }
  for (const w of warnings) eprint(w);
  const t0 = performance.now();
  // as every command that works on a tree: SIGINT, SIGTERM, SIGHUP stop
  // the planner, with one line and 128 + the signal's number; no plan is
  // written then (one is written whole, or not at all)
  let printing = false; // the plan's print on stdout begun
  let writing = false; // the plan's write to a FIFO or device begun
  return await runJob({
    tag: "pwalk plan:",
    progress: false,
    toStdout: output === undefined,
    outputs: output === undefined || target!.direct ? [] : [output],
    start: async ({ signal }) => {
      const plan = await withStatusLine(
        "pwalk plan",
        (line) => planShards(root, { ...options, signal, onProgress: listingStage(line) }),
      );
      const ms = performance.now() - t0;
      signal.throwIfAborted(); // stopped as it ended: not written
      // (a signal while a reader is slow to take it stops the plan at once)
      if (output === undefined) {
        printing = true;
        await writeStdoutAsync(planText(plan).trimEnd() + "\n", signal);
      } else {
        // a FIFO with no reader yet: waited for where the signal reaches
        // the wait (Deno's blocking open would not return on a Ctrl-C)
        const release = target!.direct ? await fifoReader(target!.path, signal) : () => {};
        try {
          if (!target!.direct) {
            // checked again: another plan (and shards run from it) may have
            // come while this one listed the tree; and where -o was missing,
            // made only if still missing (another made meanwhile is kept)
            await refuseReplacingPlan(output, target!.path);
            await refuseOtherScan(target!.path);
          }
          writing = target!.direct; // (a FIFO's reader may have part of it then)
          await writeWhole(output, planText(plan), target, { noReplace: missing, signal }).catch(
            async (e) => {
              if (!(e?.cause instanceof Deno.errors.AlreadyExists)) throw e;
              await refuseReplacingPlan(output, target!.path); // a plan: says so
              throw new UsageError(
                `${output} was made by another process while this plan was made`,
              );
            },
          );
        } finally {
          release();
        }
      }
      return { plan, ms };
    },
    done: (
      { plan, ms },
    ) => [describePlan(plan, ms) + (output !== undefined ? ` -> ${output}` : "")],
    interrupted: () =>
      output !== undefined
        ? writing
          ? `the plan written to ${output} is incomplete`
          : `no plan was written to ${output}`
        : printing
        ? "the plan on stdout is incomplete"
        : "no plan was printed",
  });
}
