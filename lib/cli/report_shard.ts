/**
 * `pwalk report --plan PLAN --shard I -o FILE`: one shard of a planned
 * scan (see lib/shard/run.ts).
 *
 * @module
 */
// deno-lint-ignore no-import-prefix
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import { eprint, exitStatus, intArg, isTerminal, unknownOptions, UsageError } from "../args.ts";
import { formatBytes, ProgressLine } from "../progress.ts";
import { PlanError, readPlan } from "../shard/plan.ts";
import { PlanMismatchError, runShard } from "../shard/run.ts";

/** `pwalk report --plan --help`. */
export const HELP = `pwalk report --plan: one shard of a planned scan (see pwalk plan --help)

Usage:
  pwalk report --plan PLAN --shard I [-o FILE] [options]

Shard I walks its frontier folders (shard 0 also the rows above them, and
the header line when planned with --header) with the plan's report options,
into FILE; then it writes FILE's completion record beside it
(scan-I.csv.zst gives scan-I.done.json: shard, rows, bytes, errors, host,
start, end, output size and SHA-256). A record left by an earlier run of the
shard is removed first. A plan whose ROOT is not the same folder (device
and inode) any more is refused.

Options:
  --plan PLAN            the plan (pwalk plan -o PLAN)
  --shard I              which shard, 0 to N-1
  -o, --output FILE      write to FILE (a .zst suffix compresses); default
                         stdout, and then no completion record
  --level N              zstd level 1-19 (default 1 with .zst); 0 = plain
  --threads N            worker threads (default: one per CPU, more, up to
                         16, while the file system makes them wait)
  --progress             progress line on stderr even when not a terminal
  --no-progress          no progress line, even on a terminal
  -h, --help             this help

The report options (--header, --NoSnap, --depth, --exclude, -x) are the
plan's: give them to pwalk plan.
`;

const n = (x: number) => x.toLocaleString("en-US");

/** `pwalk report --plan ... ARGS` (the arguments after `report`); resolves to the exit status. */
export function main(args: string[]): Promise<number> {
  return exitStatus(async () => {
    const unknown = unknownOptions();
    const fixed = ["header", "NoSnap", "x", "one-file-system", "depth", "exclude"];
    const flags = parseArgs(args, {
      string: ["plan", "shard", "output", "level", "threads", "maxthreads", "depth", "exclude"],
      boolean: ["help", "progress", "header", "NoSnap", "x", "one-file-system"],
      negatable: ["progress"],
      alias: { o: "output", h: "help" },
      default: { progress: undefined },
      unknown: unknown.hook,
    });
    unknown.check();
    if (flags.help) {
      console.log(HELP);
      return 0;
    }
    for (const f of fixed) {
      if (flags[f] !== undefined && flags[f] !== false) {
        throw new UsageError(
          `--${f}: a planned shard uses the plan's report options (give them to pwalk plan)`,
        );
      }
    }
    if (flags._.length) {
      throw new UsageError(`the plan names the root: no ROOT with --plan (got ${flags._[0]})`);
    }
    const planPath = flags.plan as string | undefined;
    if (!planPath) throw new UsageError("--plan needs a plan file (pwalk plan -o FILE)");
    if (flags.shard === undefined) throw new UsageError("missing --shard I");
    const threads = intArg("maxthreads", flags.maxthreads, 1, 1024) ??
      intArg("threads", flags.threads, 1, 1024);
    const level = intArg("level", flags.level, 0, 19);
    let output = flags.output as string | undefined;
    if (output === "") throw new UsageError("--output needs a file name");
    let plan;
    try {
      plan = await readPlan(planPath);
    } catch (e) {
      if (e instanceof PlanError) throw new UsageError(e.message);
      throw new UsageError(`--plan ${planPath}: ${(e as Error).message}`);
    }
    const shard = intArg("shard", flags.shard, 0, plan.shards - 1)!;
    // A relative root is the plan's folder's: run from there (the output
    // stays where it was asked for).
    if (!plan.root.path.startsWith("/") && Deno.cwd() !== plan.cwd) {
      if (output && output !== "-" && !output.startsWith("/")) output = `${Deno.cwd()}/${output}`;
      try {
        Deno.chdir(plan.cwd);
      } catch (e) {
        throw new Error(`the plan's folder ${plan.cwd}: ${(e as Error).message}`);
      }
    }

    const tty = isTerminal();
    const showProgress = (flags.progress as boolean | undefined) ?? tty;
    const line = showProgress ? new ProgressLine(tty) : undefined;
    const abort = new AbortController();
    let status = 130;
    const onSigint = () => abort.abort(new DOMException("interrupted", "AbortError"));
    const onSigterm = () => { // scancel sends SIGTERM first
      status = 143;
      onSigint();
    };
    Deno.addSignalListener("SIGINT", onSigint);
    Deno.addSignalListener("SIGTERM", onSigterm);
    try {
      const s = await runShard(plan, shard, {
        output,
        level,
        threads,
        printErrors: true,
        signal: abort.signal,
        onProgress: line ? (p) => line.update(p) : undefined,
      });
      line?.clear();
      if (showProgress) {
        const out = s.output ? ` -> ${s.output} (${formatBytes(s.outputBytes)})` : "";
        eprint(
          `pwalk: shard ${shard} of ${plan.shards}: ${n(s.rows)} entries (${
            n(s.folders)
          } folders, ` +
            `${formatBytes(s.bytes)}) in ${(s.elapsedMs / 1000).toFixed(2)} s, ${
              n(s.errors)
            } errors${out}`,
        );
      }
      return 0;
    } catch (e) {
      line?.clear();
      if (abort.signal.aborted) {
        eprint("pwalk: interrupted; no output file and no completion record were left");
        return status;
      }
      if (e instanceof PlanMismatchError) throw new Error(`pwalk: refused: ${e.message}`);
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        throw new Error((e as Error).message); // the output's folder: a failure, not usage
      }
      throw e;
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
      Deno.removeSignalListener("SIGTERM", onSigterm);
    }
  });
}
