/**
 * The `pwalk` command line: the table of commands, dispatch and the
 * top-level help. cli.ts and mod.ts, as the main module, only call
 * {@link runMain}.
 *
 * A first argument naming a command runs it; else arguments with
 * --chown_from/--chown_to run chown (pwalk's spelling); else a report.
 *
 * @module
 */
import {
  BARE_OPTIONS,
  EXIT,
  exitAfterSaying,
  exitStatus,
  helpAmong,
  HelpRequested,
  optionsAmong,
  stdoutClosed,
  UsageError,
  VERSION,
  writeStdout,
} from "./common.ts";
import { nodeLayerWorks } from "../node_layer.ts";
import { denoCacheWarning } from "../fetchlib.ts";

/** A row of the command table: `pwalk NAME ...`, its line in the help, and its run. */
export interface Command {
  /** The first argument that runs it. */
  name: string;
  /** Its line in `pwalk --help`. */
  about: string;
  /** Run with the arguments after NAME; resolves to the exit status. */
  run(args: string[]): Promise<number>;
}

/** What a command's file exports: its `--help` text and its run. */
type Module = { HELP: string; run(args: string[]): Promise<number> };

/**
 * Run a command's module: `-h`/`--help` among its options (as its parser
 * reads them: `-o -h` names a file) prints its HELP, or runs `onHelp`; so
 * does a command line that is bad usage with `-h`/`--help` anywhere in it
 * (`--top --help`: the value of --top).
 */
async function runModule(
  load: () => Promise<Module>,
  args: string[],
  onHelp?: () => Promise<number>,
): Promise<number> {
  const m = await load();
  try {
    return await m.run(args);
  } catch (e) {
    if (!(e instanceof HelpRequested || (e instanceof UsageError && helpAmong(args)))) throw e;
    if (onHelp) return await onHelp();
    writeStdout(`${m.HELP}\n`); // (a write error said as the report's: cannot write stdout)
    return 0;
  }
}

const loadReport = () => import("./report.ts");

/**
 * A command in its own file, loaded when it runs; `--help` prints its HELP.
 * One whose file loads Deno's Node.js layer (`node`: DuckDB, node:zlib)
 * first asks whether it can start here: without it, one line and status 1,
 * not Deno's panic (see lib/node_layer.ts).
 */
const row = (
  name: string,
  about: string,
  load: () => Promise<Module>,
  node = false,
): Command => ({
  name,
  about,
  run: (args) => {
    if (node && !nodeLayerWorks()) {
      throw new Error(
        `pwalk ${name}: /proc is not mounted, and Deno's Node.js layer, which this command ` +
          "loads, needs it: mount /proc (report, repair, chown and undo run without it)",
      );
    }
    return runModule(load, args);
  },
});

/** Every command. A new command is one file in lib/cli/ and one row here. */
export const COMMANDS: readonly Command[] = [
  row("report", "pwalk's CSV of every entry under ROOT (the default)", loadReport),
  row("repair", "fix group sharing under ROOT (dry run by default)", () => import("./repair.ts")),
  row("chown", "give UID's entries to UID:GID (dry run by default)", () => import("./chown.ts")),
  row(
    "undo",
    "put back what a repair or chown changed (dry run by default)",
    () => import("./undo.ts"),
  ),
  row("plan", "plan a scan of ROOT split into shards", () => import("./plan.ts"), true),
  row("slurm", "scan ROOT as a Slurm job array, or resume one", () => import("./slurm.ts"), true),
  row("status", "which shards of a scan folder are done", () => import("./status.ts"), true),
  row(
    "summary",
    "users, groups, sizes, ages, folders of a scan",
    () => import("./summary.ts"),
    true,
  ),
  row("diff", "what changed between two scans", () => import("./diff.ts"), true),
  row(
    "convert",
    "a scan between .csv, .csv.zst, .csv.gz and .parquet",
    () => import("./convert.ts"),
    true,
  ),
  { name: "help", about: "this help, or a command's: pwalk help COMMAND", run: help },
];

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env
  }
}

function command(name: string): Command {
  const c = COMMANDS.find((c) => c.name === name);
  if (c) return c;
  throw new UsageError(`no command '${name}' (${COMMANDS.map((c) => c.name).join(", ")})`);
}

async function help(args: string[]): Promise<number> {
  // one COMMAND at most: more is bad usage, unless -h/--help is among them (help wins)
  if (args.length > 1 && !helpAmong(args)) {
    throw new UsageError(`help takes one COMMAND, got '${args[1]}' after '${args[0]}'`);
  }
  // `pwalk help help`, `pwalk help --help`: this general help
  if (args.length && !["help", "--help", "-h"].includes(args[0])) {
    return await command(args[0]).run(["--help"]);
  }
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.about}`).join("\n");
  writeStdout(`pwalk ${VERSION}: inventory a file system fast (John Dey's pwalk CSV)

Usage: pwalk [COMMAND] [options] ...   (pwalk help COMMAND, pwalk COMMAND --help)

Commands:
${rows}

Without a command, --chown_from/--chown_to run chown (pwalk's spelling) and
anything else a report:

`);
  return await command("report").run(["--help"]);
}

/** The SIGXFSZ listener: the signal only makes the write fail (EFBIG). */
function ignore(): void {}

/**
 * Run the command line; resolves to the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "jsr:@pwalk/cli/cli";
 * Deno.exit(await main(["--header", "-o", "scan.csv.zst", "/data"]));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  // A file size limit (ulimit -f; Slurm passes the submitting shell's on)
  // sends SIGXFSZ, which kills at once: no message, status 153, the
  // temporary file left. Taken, the write fails with EFBIG instead, and the
  // run ends as on a full disk: one line, status 1, nothing left behind.
  Deno.addSignalListener("SIGXFSZ", ignore);
  // root with a user's Deno cache (`sudo -E`): pwalk's code may be theirs
  const warning = denoCacheWarning();
  if (warning) console.error(warning);
  try {
    // `deno task report` runs in the checkout; PWALK_CWD (the task's
    // "$INIT_CWD") is where the user typed it: ROOT and -o are relative to it.
    const cwd = env("PWALK_CWD");
    try {
      if (cwd) Deno.chdir(cwd);
    } catch (e) {
      // named as the variable's, not as ROOT's ("pwalk: /gone: No such file or directory")
      throw new Error(`PWALK_CWD=${cwd}: ${(e as Error).message}`);
    }
    const named = COMMANDS.find((c) => c.name === argv[0]);
    if (named) return await named.run(argv.slice(1));
    // as options: not a value (`-o --chown_from`), nor after `--`
    const given = optionsAmong(argv, BARE_OPTIONS);
    if (given.has("chown_from") || given.has("chown_to")) {
      return await command("chown").run(argv);
    }
    return await runModule(loadReport, argv, () => help([]));
  } catch (e) {
    // stdout closed early (`pwalk status DIR | head -1`): quietly, as SIGPIPE would
    if (stdoutClosed(e)) return EXIT.PIPE;
    return exitStatus(e);
  }
}

/**
 * Run the command line as the main module and end the process with its
 * status, through {@link exitAfterSaying}: stopped by a signal, it dies by that
 * signal, so a shell loop around it stops on Ctrl-C. What cli.ts and mod.ts
 * (`deno run jsr:@pwalk/cli`) run; never returns.
 *
 * @example
 * ```ts ignore
 * if (import.meta.main) await runMain(Deno.args);
 * ```
 */
export async function runMain(argv: string[]): Promise<never> {
  return await exitAfterSaying(await main(argv));
}
