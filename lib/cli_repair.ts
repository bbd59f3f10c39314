/**
 * The `pwalk repair` command and pwalk's `--chown_from/--chown_to` mode:
 * argument parsing, the default journal, refusing `/`, the progress line
 * and the closing summary. lib/cli.ts dispatches here.
 *
 * Exit status: 0 done (refused changes and unreadable folders are reported
 * on stderr and counted, and the run goes on), 1 a fatal error while
 * running (the journal cannot be written), 2 bad usage, 130 interrupted.
 *
 * @module
 */
// A full specifier, as in lib/cli.ts: this module also runs when imported by URL.
// deno-lint-ignore no-import-prefix
import { parseArgs } from "npm:deno-std@1.4.0/cli/parse_args.js";
import { type ChangeSummary, chown, repair } from "./repair.ts";
import { undo } from "./undo.ts";
import { ProgressLine } from "./progress.ts";
import { normaliseFolder } from "./options.ts";
import { eprint, intArg, isTerminal, unknownOptions, UsageError } from "./args.ts";
import type { Progress } from "./job.ts";

/** `pwalk repair --help`. */
export const REPAIR_HELP: string =
  `pwalk repair: fix group sharing in a project folder (repair-shared's rules)

Usage:
  pwalk repair [options] ROOT       show what would change (a dry run)
  pwalk repair --apply [options] ROOT
                                    make the changes, with a journal
  pwalk repair --undo JOURNAL       put back what a run changed

For every entry below ROOT (ROOT itself is not changed; symbolic links are
never followed nor changed):
  - folders get the setgid bit;
  - a private group (the owner's own id, 0, or one of --change-gids) becomes
    the group of the nearest folder above whose group is not private; with
    none up to (not including) /, such entries are reported once and left;
  - folders get g+rx, everything else g+r (with --force-group-writable:
    g+rwx and g+rw). A file whose group changes loses setuid/setgid, as
    with chgrp.

Options:
  --apply                  make the changes (default: dry run, change nothing)
  --dry-run                print what would change (the default; for
                           repair-shared users)
  --change-gids LIST       comma-separated groups to replace as if private
  --force-group-writable   add group write too
  --exclude PATH           skip this folder and everything below it;
                           repeatable. A PATH that is a file lists folders,
                           one per line
  -x, --one-file-system    stay on ROOT's file system
  --NoSnap                 skip folders named .snapshot
  --threads N              worker threads (default: one per CPU, more, up to
                           16, while the file system makes them wait;
                           --maxthreads too)
  --journal FILE           append one line per change to FILE before making
                           it. With --apply and no --journal, the journal is
                           $XDG_STATE_HOME/pwalk/repair-TIME-PID.journal
                           (~/.local/state/pwalk/... without XDG_STATE_HOME)
  --undo FILE              restore the old owner, group and mode of every
                           entry in journal FILE (newest first); an entry
                           replaced since, or a field changed again since, is
                           left alone. With --dry-run: only show it
  --force                  allow ROOT to be / (refused otherwise)
  --progress, --no-progress  progress line on stderr (default: when stderr is
                           a terminal and stdout is not)
  -h, --help               this help

Output: one line per change on stdout (path: group 1001 -> 5000, path: mode
0600 -> 0640, path: setgid added), errors on stderr, then a summary.
`;

/** The chown part of `pwalk --help`. */
export const CHOWN_HELP: string = `pwalk --chown_from UID --chown_to UID:GID [options] ROOT

Every entry of ROOT (ROOT included) owned by UID gets owner UID and group
GID; a symbolic link is changed itself, never its target (lchown). Each
changed path is printed, as pwalk does. Unlike pwalk, nothing changes
without --apply (default: show what would change).

Options: --apply, --dry-run, --journal FILE (default with --apply: as for
pwalk repair, chown-TIME-PID.journal), --NoSnap, --exclude PATH, -x,
--depth N, --threads N (--maxthreads N), --force (ROOT may be /),
--progress/--no-progress. Undo with: pwalk repair --undo JOURNAL.
`;

const num = new Intl.NumberFormat("en-US");

function idArg(name: string, s: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 0xfffffffe) {
    throw new UsageError(`${name} needs a numeric id (0-4294967294), got '${s}'`);
  }
  return n;
}

function getEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a journal goes when --apply is given without --journal:
 * `$XDG_STATE_HOME/pwalk/KIND-TIME-PID.journal`, else under
 * `~/.local/state/pwalk/`, else `./pwalk-KIND-TIME-PID.journal` (the
 * folder is created 0700).
 *
 * @example
 * ```ts ignore
 * defaultJournal("repair"); // "/root/.local/state/pwalk/repair-20261125T123456Z-4242.journal"
 * ```
 */
export function defaultJournal(kind: "repair" | "chown", now: Date = new Date()): string {
  const state = getEnv("XDG_STATE_HOME") ??
    (getEnv("HOME") ? `${getEnv("HOME")}/.local/state` : undefined);
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const name = `${kind}-${stamp}-${Deno.pid}.journal`;
  if (!state) return `./pwalk-${name}`;
  const dir = `${state}/pwalk`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return `${dir}/${name}`;
}

/** --exclude PATH: a folder, or a file listing folders. */
async function excludeArg(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === "") throw new UsageError("--exclude needs a path");
    let isFile = false;
    try {
      isFile = Deno.statSync(p).isFile;
    } catch {
      isFile = false;
    }
    if (!isFile) {
      out.push(normaliseFolder(p));
      continue;
    }
    let text: string;
    try {
      text = await Deno.readTextFile(p);
    } catch (e) {
      throw new UsageError(`--exclude ${p}: ${(e as Error).message}`);
    }
    out.push(...text.split(/\r?\n/).filter((l) => l.length > 0).map(normaliseFolder));
  }
  return out;
}

function checkRoot(root: string, force: boolean, what: string): void {
  let real: string;
  try {
    real = Deno.realPathSync(root);
  } catch (e) {
    throw new UsageError(`${root}: ${(e as Error).message}`);
  }
  try {
    if (!Deno.statSync(real).isDirectory) throw new UsageError(`${root} is not a folder`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${root}: ${(e as Error).message}`);
  }
  if (real === "/" && !force) {
    throw new UsageError(
      `refusing to ${what} / (the whole file system): add --force if you really mean it`,
    );
  }
}

type Flags = Record<string, unknown> & { _: (string | number)[] };

function parse(
  args: string[],
  string: string[],
  boolean: string[],
): Flags {
  const unknown = unknownOptions();
  const flags = parseArgs(args, {
    string,
    boolean: [...boolean, "progress", "help"],
    collect: ["exclude", "change-gids"],
    negatable: ["progress"],
    alias: { h: "help" },
    default: { progress: undefined },
    unknown: unknown.hook,
  }) as Flags;
  unknown.check();
  for (const s of string) {
    const v = flags[s];
    if (Array.isArray(v) ? v.some((x) => x === "") : v === "") {
      throw new UsageError(`--${s} needs a value`);
    }
  }
  return flags;
}

function oneRoot(flags: Flags): string {
  const roots = flags._.map(String);
  if (roots.length === 0) throw new UsageError("missing ROOT folder (try --help)");
  if (roots.length > 1) throw new UsageError(`one ROOT folder only, got ${roots.length}`);
  return roots[0];
}

function applyMode(flags: Flags): boolean {
  if (flags.apply && flags["dry-run"]) {
    throw new UsageError("--apply and --dry-run exclude each other");
  }
  return !!flags.apply;
}

/** Run a change job with the progress line, Ctrl-C and the shared summary lines. */
async function runWithUi<T extends ChangeSummary>(
  what: string,
  flags: Flags,
  job: (signal: AbortSignal, onProgress?: (p: Progress) => void) => Promise<T>,
  applied: boolean,
  journal: string | undefined,
  extra: (s: T) => string[],
): Promise<number> {
  const errTty = isTerminal(Deno.stderr);
  const showProgress = (flags.progress as boolean | undefined) ??
    (errTty && !isTerminal(Deno.stdout));
  const line = showProgress ? new ProgressLine(errTty) : undefined;
  const abort = new AbortController();
  const onSigint = () => abort.abort(new DOMException("interrupted", "AbortError"));
  Deno.addSignalListener("SIGINT", onSigint);
  if (applied) eprint(`pwalk ${what}: applying; journal ${journal}`);
  try {
    const s = await job(abort.signal, line ? (p) => line.update(p) : undefined);
    line?.clear();
    const c = s.changes;
    const kinds = what === "repair"
      ? ` (${num.format(c.total)} changes: ${num.format(c.group)} group, ${
        num.format(c.mode)
      } mode, ${num.format(c.setgid)} setgid)`
      : "";
    eprint(
      `pwalk ${what}: ${num.format(s.entriesSeen)} entries seen, ${num.format(s.entriesChanged)} ${
        applied ? "changed" : "would change"
      }${kinds}, ${num.format(s.errors)} errors in ${(s.elapsedMs / 1000).toFixed(2)} s`,
    );
    for (const l of extra(s)) eprint(`pwalk ${what}: ${l}`);
    if (!applied) {
      eprint(`pwalk ${what}: dry run, nothing was changed; add --apply to make these changes`);
    } else if (journal) {
      eprint(`pwalk ${what}: journal ${journal} (undo: pwalk repair --undo ${journal})`);
    }
    return 0;
  } catch (e) {
    line?.clear();
    if (abort.signal.aborted) {
      eprint(
        `pwalk ${what}: interrupted` +
          (applied ? `; every change made so far is in the journal ${journal}` : ""),
      );
      return 130;
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

async function handleErrors(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof UsageError) {
      eprint(`pwalk: ${e.message}`);
      return 2;
    }
    if (
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory ||
      e instanceof Deno.errors.PermissionDenied
    ) {
      eprint((e as Error).message);
      return 2;
    }
    eprint(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

async function undoMain(file: string, flags: Flags): Promise<number> {
  if (flags.apply) throw new UsageError("--undo restores at once: --apply is not needed");
  if (flags._.length) throw new UsageError("--undo takes a journal, not a ROOT folder");
  for (const f of ["change-gids", "exclude", "journal"]) {
    const v = flags[f];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
      throw new UsageError(`--${f} does not go with --undo`);
    }
  }
  const dry = !!flags["dry-run"];
  let s;
  try {
    s = await undo(file, { apply: !dry, printChanges: true, printErrors: true });
  } catch (e) {
    if (e instanceof SyntaxError) throw new UsageError(e.message.replace(/^pwalk: /, ""));
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`${file}: no such journal`);
    throw e;
  }
  eprint(
    `pwalk repair --undo: ${num.format(s.entries)} journal entries, ${num.format(s.restored)} ${
      dry ? "would be restored" : "restored"
    }, ${num.format(s.unchanged)} already as before, ${
      num.format(s.kept)
    } changed again since (those fields kept), ${num.format(s.errors)} errors in ${
      (s.elapsedMs / 1000).toFixed(2)
    } s`,
  );
  if (s.skippedDryRun) {
    eprint(`pwalk repair --undo: ${num.format(s.skippedDryRun)} lines of dry runs skipped`);
  }
  if (dry) eprint("pwalk repair --undo: dry run, nothing was changed");
  return 0;
}

/**
 * `pwalk repair ...` (the arguments after `repair`); resolves to the exit status.
 *
 * @example
 * ```ts ignore
 * import { repairMain } from "./lib/cli_repair.ts";
 * Deno.exit(await repairMain(["--change-gids", "100", "/projects/genome"]));
 * ```
 */
export function repairMain(args: string[]): Promise<number> {
  return handleErrors(async () => {
    const flags = parse(
      args,
      ["change-gids", "exclude", "threads", "maxthreads", "journal", "undo"],
      ["apply", "dry-run", "force-group-writable", "x", "one-file-system", "NoSnap", "force"],
    );
    if (flags.help) {
      console.log(REPAIR_HELP);
      return 0;
    }
    if (flags.undo !== undefined) return await undoMain(String(flags.undo), flags);
    const apply = applyMode(flags);
    const root = oneRoot(flags);
    checkRoot(root, !!flags.force, "repair");
    const changeGids: number[] = [];
    for (const list of (flags["change-gids"] as string[] | undefined) ?? []) {
      for (const g of list.split(",")) {
        if (g.trim() !== "") changeGids.push(idArg("--change-gids", g.trim()));
      }
    }
    const threads = intArg("maxthreads", flags.maxthreads, 1, 1024) ??
      intArg("threads", flags.threads, 1, 1024);
    const exclude = await excludeArg((flags.exclude as string[] | undefined) ?? []);
    const journal = (flags.journal as string | undefined) ??
      (apply ? defaultJournal("repair") : undefined);
    return await runWithUi(
      "repair",
      flags,
      (signal, onProgress) =>
        repair(root, {
          apply,
          changeGids,
          forceGroupWritable: !!flags["force-group-writable"],
          ...runOptions(flags, exclude, threads, journal),
          signal,
          onProgress,
        }),
      apply,
      journal,
      (s) =>
        s.noAncestor
          ? [
            `${num.format(s.noAncestor)} entries with a private group left as they are: ` +
            "no folder above them has a shared group",
          ]
          : [],
    );
  });
}

/** The options repair and chown runs take alike from the command line. */
function runOptions(
  flags: Flags,
  exclude: string[],
  threads: number | undefined,
  journal: string | undefined,
) {
  return {
    exclude,
    oneFileSystem: !!(flags.x || flags["one-file-system"]),
    noSnap: !!flags.NoSnap,
    threads,
    journal,
    force: !!flags.force,
    printChanges: true,
    printErrors: true,
  };
}

/**
 * pwalk's chown mode: `pwalk --chown_from UID --chown_to UID:GID [options] ROOT`
 * (the full argument list); resolves to the exit status.
 *
 * @example
 * ```ts ignore
 * import { chownMain } from "./lib/cli_repair.ts";
 * Deno.exit(await chownMain(["--chown_from", "1042", "--chown_to", "2000:2000", "--apply", "/p"]));
 * ```
 */
export function chownMain(args: string[]): Promise<number> {
  return handleErrors(async () => {
    const flags = parse(
      args,
      ["chown_from", "chown_to", "exclude", "threads", "maxthreads", "journal", "depth"],
      ["apply", "dry-run", "x", "one-file-system", "NoSnap", "force"],
    );
    if (flags.help) {
      console.log(CHOWN_HELP);
      return 0;
    }
    if (flags.chown_from === undefined || flags.chown_to === undefined) {
      throw new UsageError("--chown_from UID and --chown_to UID:GID go together");
    }
    const from = idArg("--chown_from", String(flags.chown_from));
    const to = String(flags.chown_to);
    const m = /^(\d+):(\d+)$/.exec(to);
    if (!m) throw new UsageError(`--chown_to needs UID:GID, got '${to}'`);
    const uid = idArg("--chown_to", m[1]);
    const gid = idArg("--chown_to", m[2]);
    const apply = applyMode(flags);
    const root = oneRoot(flags);
    checkRoot(root, !!flags.force, "chown");
    const threads = intArg("maxthreads", flags.maxthreads, 1, 1024) ??
      intArg("threads", flags.threads, 1, 1024);
    const maxDepth = intArg("depth", flags.depth, 0, 2 ** 31 - 1);
    const exclude = await excludeArg((flags.exclude as string[] | undefined) ?? []);
    const journal = (flags.journal as string | undefined) ??
      (apply ? defaultJournal("chown") : undefined);
    eprint(`chown UID_orig: ${from}  UID_new: ${uid} GID_new: ${gid}`);
    return await runWithUi(
      "chown",
      flags,
      (signal, onProgress) =>
        chown(root, {
          from,
          to: { uid, gid },
          apply,
          ...runOptions(flags, exclude, threads, journal),
          pwalkDepth: maxDepth,
          signal,
          onProgress,
        }),
      apply,
      journal,
      () => [],
    );
  });
}
