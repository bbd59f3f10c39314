/**
 * `pwalk report --plan PLAN --shard I -o FILE`: one shard of a planned
 * scan (see lib/shard/run.ts).
 *
 * @module
 */
import { checkedOutput } from "../outfile.ts";
import {
  count,
  errorCount,
  errorsApart,
  errorsArg,
  formatUsage,
  intArg,
  parse,
  progressArg,
  runJob,
  threadsArg,
  UsageError,
  WALK_OPTIONS,
} from "./common.ts";
import { duration, formatBytes } from "./progress.ts";
import {
  checkPlan,
  planDigest,
  PlanError,
  planExcludes,
  readPlan,
  type ShardPlan,
} from "../shard/plan.ts";
import { notAFile, PlanMismatchError, recordPath, runShard, ShardBusyError } from "../shard/run.ts";
import { compressionOf, reportFormat, stdoutName } from "../report.ts";
import { insideRootText, scanEnters } from "../shard/paths.ts";
import { lockPath } from "../shard/lock.ts";
import { readRecord } from "../shard/status.ts";

/** `pwalk report --plan --help`. */
export const HELP = `pwalk report --plan: one shard of a planned scan (see pwalk plan --help)

Usage:
  pwalk report --plan PLAN --shard I [-o FILE] [options]

Shard I walks its frontier folders (shard 0 also the rows above them, and
the header line when planned with --header) with the plan's report options,
into FILE; then it writes FILE's completion record beside it
(scan-I.csv.zst gives scan-I.done.json: shard, rows, bytes, errors, host,
start, end, output size and SHA-256). A record left by an earlier run of the
shard is removed first. A plan whose ROOT is not the same folder (its
inode) any more is refused; another device number is not (each node numbers
its NFS, Lustre or FUSE mounts): the rows carry the plan's device numbers.

Options:
  --plan PLAN            the plan (pwalk plan -o PLAN); given once
  --shard I              which shard, 0 to N-1; given once
  -o, --output FILE      write to FILE (a .zst or .gz suffix compresses); default
                         stdout (-, /dev/stdout), and then no completion
                         record; another descriptor's name (/dev/stderr,
                         /dev/fd/N) is refused, and so is, in the plan's
                         folder, scan-J or scan-J.* for another shard J
                         (its record, lock and pwalk status go by it), a
                         FILE in a folder whose plan.json is another pwalk
                         plan, or one this pwalk cannot read (that scan's
                         shard would be replaced; a plan.json that is no
                         pwalk plan, a Terraform one, does not count), a
                         FILE whose record is another shard's of this
                         plan, and a FILE inside the plan's ROOT,
                         unless the plan leaves its folder out (the other
                         shards would list it)
  --level N              compression level: zstd 1-19, gzip 1-9 (default 1);
                         refused (exit 2) for plain CSV or out of the
                         suffix's range
  --threads N, --maxthreads N
                         worker threads (default: one per CPU, more while the
                         file system makes them wait: up to 64, 32 for a
                         cold disk)
  --progress[=SECONDS], --no-progress, --errors FILE: as for pwalk report
                         (--errors neither FILE, its record, its lock
                         file nor PLAN, nor inside ROOT where the scan
                         enters: the other shards would list it; nor,
                         in the plan's folder, named scan-J or scan-J.*,
                         which pwalk status reads as shard J's)
  -h, --help             this help

The report options (--header, --NoSnap, --depth, --exclude, -x) are the
plan's: give them to pwalk plan.
`;

/** The report options a shard takes from its plan, never from its arguments. */
const PLANNED = ["header", "NoSnap", "one-file-system", "depth", "exclude"];

/** The folder of a path as given: `.` for a bare name. */
function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : path.slice(0, i) || "/";
}

/**
 * What a folder's plan.json is: a plan this pwalk reads (`plan`), a pwalk
 * plan it cannot read (`damaged`: its `format` says pwalk's, or, not
 * JSON, its text names it), or no pwalk plan (`other`: JSON without
 * pwalk's format, such as a Terraform plan, or text that never names it).
 */
async function planFileKind(
  path: string,
): Promise<{ plan: ShardPlan } | { damaged: string } | { other: true }> {
  const text = await Deno.readTextFile(path); // unreadable: the caller refuses
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // a pwalk plan cut short still names its format near the top
    return text.includes("pwalk-shard-plan")
      ? { damaged: `not JSON (${(e as Error).message})` }
      : { other: true };
  }
  if ((v as { format?: unknown } | null)?.format !== "pwalk-shard-plan") return { other: true };
  try {
    return { plan: checkPlan(v, path) };
  } catch (e) {
    // checkPlan's "PATH: not a pwalk shard plan (WHY)", or its longer words
    const why = (e as Error).message.slice(path.length + 2);
    return { damaged: /^not a pwalk shard plan \((.*)\)$/s.exec(why)?.[1] ?? why };
  }
}

/**
 * Whether `output`'s folder is the scan folder of `plan` (read from
 * `planPath`): a folder whose plan.json is that plan (the same file, or
 * one with the same content: a copy, a link), or, holding no pwalk plan
 * as plan.json (none, or a plan.json of something else: a Terraform plan,
 * JSON without pwalk's `format`), the plan's own folder (the same folder,
 * by device and inode; the plan there by another name). Any other folder
 * without a pwalk plan takes a shard's output too. One whose plan.json is
 * another pwalk plan, or a pwalk plan this pwalk cannot read (another
 * version, damaged), or a plan.json that cannot be read at all (it may be
 * one), is refused (`refused` says why): its records, status and summary
 * go by that plan, and the shard would replace that scan's shard output
 * and record.
 */
async function scanFolderOf(
  output: string,
  planPath: string,
  plan: ShardPlan,
): Promise<{ scan: boolean; refused?: string }> {
  const dir = folderOf(output);
  let here: Deno.FileInfo;
  try {
    here = await Deno.stat(dir);
  } catch {
    return { scan: false }; // a folder that is not there: the write says so
  }
  const given = await Deno.stat(planPath).catch(() => null);
  const planDir = await Deno.stat(folderOf(planPath)).catch(() => null);
  // no pwalk plan there: the plan's own folder (its file by another name), or any other
  const ownFolder = () => ({
    scan: !!planDir && planDir.dev === here.dev && planDir.ino === here.ino,
  });
  const there = `${dir}/plan.json`;
  const advice = ": a shard there would replace that scan's shard output and record; write it " +
    "beside its own plan, or to a folder without a pwalk plan.json";
  let st: Deno.FileInfo;
  let kind;
  try {
    st = await Deno.stat(there);
    if (given && st.dev === given.dev && st.ino === given.ino) return { scan: true };
    kind = await planFileKind(there);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return ownFolder();
    const why = (e as Error).message.replace(/ \(os error \d+\).*$/s, "");
    return {
      scan: false,
      refused: `-o ${output}: its folder holds ${there}, which cannot be read (${why}): it may ` +
        `be another scan's plan${advice}`,
    };
  }
  if ("other" in kind) return ownFolder();
  if ("plan" in kind && planDigest(kind.plan) === planDigest(plan)) return { scan: true };
  return {
    scan: false,
    refused: `-o ${output}: its folder holds ${
      "plan" in kind
        ? `another plan (${there}, plan ${kind.plan.id})`
        : `${there}, a pwalk plan this pwalk cannot read (${kind.damaged})`
    }, not --plan ${planPath} (plan ${plan.id})${advice}`,
  };
}

/**
 * Why `output` may not be shard `shard`'s, or null: in the plan's scan
 * folder ({@link scanFolderOf}), a name `scan-J` or `scan-J.*` is
 * shard J's (its output, record and lock, and pwalk status reads them so),
 * and shard I writing there under another J (`scan-1.csv.zst` for shard 0,
 * or `scan-01.csv.zst` for shard 1) would share shard J's record and lock
 * and leave its output looking stray. Other names stay allowed: their
 * record says whose they are.
 */
function otherShardsName(output: string, shard: number): string | null {
  const name = output.slice(output.lastIndexOf("/") + 1);
  const m = /^scan-(\d+)(\.|$)/i.exec(name);
  if (!m || m[1] === String(shard)) return null;
  return `-o ${output}: in the plan's folder the files scan-J.* are shard J's (its output, ` +
    `record and lock; pwalk status reads them so), not shard ${shard}'s: write ` +
    `scan-${shard}.csv.zst (.csv, .csv.gz) there, or a name that is no scan-J`;
}

/** `pwalk report --plan ... ARGS` (the arguments after `report`); resolves to the exit status. */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, {
    ...WALK_OPTIONS,
    // given once: a second --shard (or --plan) would silently run another
    // shard (plan) into the output the first one was meant for
    plan: "once",
    shard: "once",
    output: "once",
    level: "value",
    header: "flag",
    depth: "value",
  });
  for (const o of PLANNED) {
    if (f[o] !== undefined) {
      throw new UsageError(
        `--${o}: a planned shard uses the plan's report options (give them to pwalk plan)`,
      );
    }
  }
  if (f._.length) {
    throw new UsageError(`the plan names the root: no ROOT with --plan (got ${f._[0]})`);
  }
  const planPath = f.plan as string;
  if (f.shard === undefined) throw new UsageError("missing --shard I");
  const threads = threadsArg(f);
  // -o /dev/stdout: this process's stdout, as -o - (by name it would be replaced)
  let output = stdoutName(f.output as string | undefined) ? "-" : f.output as string | undefined;
  // gzip's levels are 1-9, zstd's 1-19: the range the output takes (as for a report)
  const gzip = output !== undefined && output !== "-" && compressionOf(output) === "gzip";
  const level = intArg("level", f.level, 1, gzip ? 9 : 19);
  if (output && /\.parquet$/i.test(output)) {
    throw new UsageError(
      `a shard writes CSV (.csv, .csv.zst or .csv.gz), not ${output}: ` +
        "its parts are joined, and Parquet files cannot be (convert the merged scan)",
    );
  }
  // The suffix decides the format: a --level it contradicts is bad usage,
  // told before anything is written (as for a report).
  try {
    reportFormat(output === "-" ? undefined : output, undefined, level, ".zst or .gz");
  } catch (e) {
    if (e instanceof RangeError) throw formatUsage(e);
    throw e;
  }
  let plan;
  try {
    plan = await readPlan(planPath);
  } catch (e) {
    if (e instanceof PlanError) throw new UsageError(e.message);
    throw new UsageError(`--plan ${planPath}: ${(e as Error).message}`);
  }
  const shard = intArg("shard", f.shard, 0, plan.shards - 1)!;
  const root = plan.root.path;
  const reached = root.startsWith("/") ? root : `${plan.cwd}/${root}`;
  /**
   * Would the shards list `path`'s folder: inside ROOT, and not left out
   * (excluded, or with -x on another file system)? (A ROOT not there now:
   * no; the run says so.)
   */
  const skips = {
    exclude: planExcludes(plan),
    oneFileSystem: plan.options.oneFileSystem,
    noSnap: plan.options.noSnap,
    spelled: root,
  };
  const insideRoot = (path: string) =>
    scanEnters(folderOf(path), reached, skips).catch(() => false);
  // -o the plan itself, a device or FIFO (a shard's parts are joined into
  // a file, recorded), or a file the caller could not write: refused now;
  // a link there is replaced, never written through (runShard)
  if (output !== undefined && output !== "-") {
    let target;
    try {
      // inside ROOT, the other shards would list this one's output (and its
      // temporaries, its record), as pwalk plan -o and pwalk slurm refuse:
      // refused before the write test's probe file changes that folder
      const out = output;
      target = await checkedOutput(output, [planPath], {
        replaceLink: true,
        beforeProbe: async () => {
          if (await insideRoot(out)) throw new UsageError(insideRootText(`-o ${out}`, root));
        },
      });
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message.replace(/^pwalk: /, ""));
      throw e;
    }
    if (target.direct) throw new UsageError(notAFile(output));
    // the folder of another plan: that scan's output and record would be
    // replaced (a mistyped --plan); the plan's own: scan-J is shard J's
    const folder = await scanFolderOf(output, planPath, plan);
    if (folder.refused) throw new UsageError(folder.refused);
    const why = folder.scan ? otherShardsName(output, shard) : null;
    if (why) throw new UsageError(why);
    // the record beside it is another shard's of this plan (one -o given
    // to two shards): this run would replace that shard's finished output
    const old = await readRecord(recordPath(output));
    if (old && old.plan === plan.id && old.shard !== shard) {
      throw new UsageError(
        `-o ${output}: ${recordPath(output)} is the record of shard ${old.shard} of this ` +
          `plan, not of shard ${shard}: this run would replace that shard's output; write ` +
          `shard ${shard} to another file (or remove that record first)`,
      );
    }
  }
  let errors = errorsArg(f);
  // so would they list its errors file
  if (errors !== undefined && errors !== "-" && await insideRoot(errors)) {
    throw new UsageError(insideRootText(`--errors ${errors}`, root));
  }
  // --errors FILE is neither the shard's output, its record nor its lock
  // file (taken and removed by the run, and by the next one) (nor, told by
  // runJob, the plan it reads)
  if (output !== undefined && output !== "-") {
    errorsApart(errors, output, "shard's output");
    errorsApart(errors, recordPath(output), "shard's completion record");
    errorsApart(errors, lockPath(output), "shard's lock file");
  }
  // nor, in the plan's folder, named as a shard's file (scan-J, scan-J.*,
  // this shard's too): pwalk status reads such a name as shard J's output
  // (incomplete before J ran, a stray after), and J's run to scan-J.csv
  // would replace the list, which this run's summary line names
  if (errors !== undefined && errors !== "-") {
    const name = errors.slice(errors.lastIndexOf("/") + 1);
    if (/^scan-\d+(\.|$)/i.test(name) && (await scanFolderOf(errors, planPath, plan)).scan) {
      throw new UsageError(
        `--errors ${errors}: in the plan's folder the files scan-J.* are the shards' ` +
          "(outputs, records and locks: pwalk status reads them so): name the errors file " +
          `otherwise (errors-${shard}.csv), or put it in another folder`,
      );
    }
  }
  let inputs = [planPath];
  // A relative root is the plan's folder's: run from there (the output and
  // the errors file stay where they were asked for).
  if (!plan.root.path.startsWith("/") && Deno.cwd() !== plan.cwd) {
    const here = (p: string | undefined) =>
      p && p !== "-" && !p.startsWith("/") ? `${Deno.cwd()}/${p}` : p;
    output = here(output);
    errors = here(errors);
    inputs = inputs.map((p) => here(p)!);
    try {
      Deno.chdir(plan.cwd);
    } catch (e) {
      throw new Error(`pwalk: the plan's folder ${plan.cwd}: ${(e as Error).message}`);
    }
  }
  const toStdout = output === undefined || output === "-";
  return await runJob({
    tag: "pwalk:",
    progress: progressArg(f),
    errors,
    inputs,
    toStdout,
    // the output's temporaries (and shard 0's parts), the record's
    outputs: toStdout ? [] : [output!, recordPath(output!)],
    start: async (run) => {
      try {
        // (the run's fields runShard takes: a shard's progress comes at the
        // default interval, its parts are no --errors FILE's)
        const { signal, onProgress, errorsCsvFd, clearLineBeforeErrors } = run;
        return await runShard(plan, shard, {
          output,
          level,
          threads,
          printErrors: true,
          signal,
          onProgress,
          errorsCsvFd,
          clearLineBeforeErrors,
        });
      } catch (e) {
        if (e instanceof PlanMismatchError || e instanceof ShardBusyError) {
          throw new Error(`pwalk: refused: ${e.message}`);
        }
        throw e;
      }
    },
    // what an earlier run left, then the summary: a log's last line (tail -1)
    done: (s) => [
      ...s.leftovers.map((t) => `pwalk: removed ${t}, left by an earlier run of this shard`),
      `pwalk: shard ${shard} of ${plan.shards}: ${count(s.rows, "entry", "entries")}, ` +
      `${count(s.folders, "folder")}, ${formatBytes(s.bytes)} apparent, ` +
      `${formatBytes(s.allocatedBytes)} allocated, ${errorCount(s.errors, errors)} in ` +
      `${duration(s.elapsedMs)} -> ${s.output ?? "stdout"} (${formatBytes(s.outputBytes)})` +
      (s.record ? `, record ${s.record}` : ""),
    ],
    interrupted: (p) => {
      // to stdout: what reached it, shard 0's two parts (as a report says)
      if (toStdout) {
        if (p && !p.outputBytes) return "nothing was written to stdout";
        const before = p?.outputBytes ? ` (${formatBytes(p.outputBytes)} were written)` : "";
        return `the CSV on stdout is incomplete${before}`;
      }
      // the record goes when a run starts, an earlier run's output only
      // when this run's replaces it (renamed over it, then recorded)
      let earlier = false;
      try {
        earlier = !toStdout && !!Deno.lstatSync(output!);
      } catch { /* none there */ }
      return earlier
        ? `no completion record was left; ${f.output} was not replaced ` +
          "(an earlier run's, without its record now)"
        : "no output file and no completion record were left";
    },
  });
}
