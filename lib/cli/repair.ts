/**
 * `pwalk repair [options] ROOT`: group sharing put right below ROOT
 * (repair-shared's rules), a dry run unless --apply; and what repair and
 * chown share: the default journal and the run with its summary.
 *
 * @module
 */
import { duration } from "./progress.ts";
import { type ChangeOptions, type ChangeSummary, repair, rootRefusal } from "../repair.ts";
import { insideTree, RefusedError } from "../journal_file.ts";
import { JOURNAL_MAGIC, parseHeader } from "../journal.ts";
import { shellQuote } from "../shell.ts";
import {
  count,
  eprint,
  errorCount,
  errorsApart,
  type Flags,
  idArg,
  type Kind,
  num,
  oneRoot,
  parse,
  runJob,
  usage,
  UsageError,
  WALK_OPTIONS,
  walkArgs,
} from "./common.ts";
import { run as undo } from "./undo.ts";

/** `pwalk repair --help`. */
export const HELP = `pwalk repair: fix group sharing in a project folder (repair-shared's rules)

Usage:
  pwalk repair [options] ROOT       show what would change (a dry run)
  pwalk repair --apply [options] ROOT
                                    make the changes, with a journal
  pwalk undo [--apply] JOURNAL      show (with --apply: put back) what a run
                                    changed (also: pwalk repair --undo JOURNAL)

For every entry below ROOT (ROOT itself is not changed, not even where a
bind mount inside the tree leads to it again, which is not entered then;
symbolic links are never followed nor changed):
  - folders get the setgid bit;
  - a private group (the owner's own id, 0, or one of --change-gids) becomes
    the group of the nearest folder above whose group is not private; with
    none up to (not including) /, such entries are reported once and left;
  - folders get g+rx, everything else g+r (with --force-group-writable:
    g+rwx and g+rw). A file whose group changes loses setuid/setgid, as
    with chgrp; one that keeps them is not made group-writable (a setid
    notice); a file with capabilities (setcap) that would change group or
    be made group-writable is left alone (a capability notice);
  - device nodes are left alone (a device notice): group access to a
    copied disk or memory node is access to the device;
  - a file with other hard links (a FIFO or socket too) is changed once
    every one of its names has been reached inside ROOT; one with a name elsewhere (another
    user's file linked in from outside ROOT), or whose names changed
    during the run or just before it (run again later), is left alone (a
    hardlinks notice).

Refused (one line, exit 2): ROOT / without --force (also / bind-mounted
elsewhere); a system folder or anything below one (/bin /boot /dev /etc /lib
/lib64 /proc /root /sbin /sys /usr, compared by real path: a link to one
counts; and through a mount: a bind mount of one, or of a folder below one;
and the daemons' state, /var/cache /var/lib /var/log /var/mail /var/spool,
by real path), and a folder of many unrelated trees itself (/home /media
/mnt /opt /srv /tmp /var /var/tmp, by real path; a project folder below one
is repaired), without --allow-system;
--journal, --errors or --undo (chown: --chown_from, --chown_to too) given
twice, rather than the last one kept.

Options:
  --apply                  make the changes (default: dry run, change nothing)
  --dry-run                print what would change (the default; for
                           repair-shared users)
  --change-gids LIST       comma-separated groups to replace as if private
                           (numeric ids; an empty item is bad usage)
  --force-group-writable   add group write too
  --exclude PATH           skip this folder and everything below it;
                           repeatable. A PATH that is a file lists folders,
                           one per line
  -x, --one-file-system    stay on ROOT's file system, by device (st_dev, as
                           find -xdev): a bind mount of a folder of ROOT's own
                           file system is entered (--exclude it); ROOT
                           itself reached again that way, a folder above it,
                           the journal's and errors file's folders are
                           neither changed nor entered (a loop notice)
  --NoSnap                 skip folders named .snapshot
  --threads N              worker threads (default: one per CPU, more while
                           the file system makes them wait; --maxthreads too)
  --journal FILE           the journal: one line per change, written before
                           the change. FILE is created 0600, or appended to
                           when it is already a journal of yours that nobody
                           else may write (an existing empty file, or one
                           with a bad line, which undo would refuse whole,
                           is refused). Default with --apply: a new file
                           $XDG_STATE_HOME/pwalk/repair-TIME-PID.journal
                           (~/.local/state/pwalk/... without XDG_STATE_HOME;
                           refused when HOME is unset too). Never a symbolic
                           link, never inside ROOT, never - (stdout), never
                           in a folder another user can change (hers, or
                           writable by others and not sticky): all
                           refused. A dry run writes its plan there (undo
                           skips it), and its summary names the file
  --force                  allow ROOT to be / (refused otherwise)
  --allow-system           allow a system folder (refused otherwise), and
                           /home /srv /tmp /var ... themselves (above)
  --errors FILE            every error also as a CSV row in FILE:
                           path,operation,errno,message (never inside
                           ROOT: refused)
  --progress, --progress=SECONDS, --no-progress
                           as for pwalk report (default: redrawn when stderr
                           is a terminal and stdout is not; --progress with
                           stdout on a terminal: a plain line every 60 s)
  -h, --help               this help

Output: one line per change on stdout (path: group 1001 -> 5000 (genome),
path: mode 0600 -> 0640, path: setgid added; group names where they
resolve); in a dry run each line starts "would change: ", and a file with
other hard links says so ([3 hard links: its other names change too]: its
other names, maybe outside ROOT, change with it). Errors on stderr, then a
summary. With --apply, one line goes to the system log (authpriv.notice, tag
pwalk: who, ROOT, the counts, the journal; PWALK_SYSLOG_SOCKET names another
socket). Exit status: 0 done (refused changes included), 1 failed (the
journal cannot be written, or stdout, or the --errors file: a full disk,
an I/O error; the run stops rather than leave its list cut short, and
with --apply every change made is in the journal, as the error line says;
out of open files past a 10 s wait: raise ulimit -n or use fewer
--threads, then undo or run again),
2 bad usage (a ROOT that is missing, not a folder, or that cannot be
opened and listed included; nothing is done) or refused, 129/130/143
stopped by SIGHUP/SIGINT/SIGTERM (the change in progress is finished;
every change made is in the journal), 141 stdout closed early in a dry
run (| head): the walk stopped quietly, as SIGPIPE would (with --apply
the run goes on to its end without its lines).
`;

/** The options repair and chown both take. */
export const CHANGE_OPTIONS: Record<string, Kind> = {
  ...WALK_OPTIONS,
  // given twice, refused rather than the last one silently kept
  errors: "once",
  apply: "flag",
  "dry-run": "flag",
  journal: "once",
  force: "flag",
  "allow-system": "flag",
};

/**
 * Run a repair or chown command line: ROOT (refused: / without --force, a
 * system folder without --allow-system), the walk options, --apply or
 * --dry-run and the journal, then the job with its progress and summary
 * lines (after the `banner` ones). Example: `runChange("chown", flags, [],
 * (root, o) => chown(root, { ...o, from, to }), () => [])`.
 */
export async function runChange<T extends ChangeSummary>(
  kind: "repair" | "chown",
  f: Flags,
  banner: string[],
  start: (root: string, o: ChangeOptions) => Promise<T>,
  extra: (s: T) => string[],
): Promise<number> {
  if (f.apply && f["dry-run"]) throw new UsageError("--apply and --dry-run exclude each other");
  const apply = !!f.apply;
  const root = await oneRoot(f, { walked: true });
  const rootReal = Deno.realPathSync(root);
  const why = rootRefusal(kind, rootReal, {
    force: !!f.force,
    allowSystem: !!f["allow-system"],
  });
  if (why) throw new UsageError(why);
  // Never inside the tree, as the journal: a user of the tree could make
  // its name a link there, for root to write the errors through.
  const errors = f.errors as string | undefined;
  if (errors !== undefined && errors !== "-" && insideTree(errors, rootReal)) {
    throw new UsageError(
      `--errors ${errors} would be inside the tree ${rootReal}: put it outside (a link there ` +
        "would be written through)",
    );
  }
  const { ui, ...walk } = await walkArgs(f, root);
  const given = f.journal as string | undefined;
  // the journal once the library has opened it (onJournal): until then
  // none, whatever --journal names (a run stopped before is no run of it)
  let journal: string | undefined;
  // --journal FILE appended to: its size before this run (earlier runs'
  // lines come before this one's)
  let priorSize = 0;
  // `-` is stdout for -o and --errors; a journal there could not be undone
  // (undo reads the file back), and as a name it would be a file called -
  if (given === "-") {
    throw new UsageError("--journal - (stdout): a journal must be a file, which undo reads back");
  }
  errorsApart(ui.errors, given, "journal");
  const tag = `pwalk ${kind}:`;
  // the banner, once: after the journal is accepted (a refused one is
  // one line), or at the start when there is none
  let bannerSaid = false;
  const sayBanner = () => {
    if (!bannerSaid) { for (const l of banner) eprint(l); }
    bannerSaid = true;
  };
  const o: ChangeOptions = {
    ...walk,
    apply,
    journal: given,
    force: !!f.force,
    allowSystem: !!f["allow-system"],
    printChanges: true,
    printErrors: true,
    onJournal: (path) => {
      journal = path;
      try {
        priorSize = Deno.lstatSync(path).size;
      } catch { /* gone: nothing to undo said below either way */ }
      sayBanner();
      if (apply) eprint(`${tag} applying; journal ${path}`);
    },
  };
  return await runJob({
    ...ui,
    tag,
    toStdout: true,
    start: (run) => {
      // once --errors FILE is checked and open (a refusal is one line);
      // with a journal, once the library has accepted it (onJournal)
      if (o.journal === undefined && !apply) sayBanner();
      // An exclusion that names nothing is said before any change too (and
      // again at the end, with the summary), when Ctrl-C can still save it.
      if (apply) { for (const l of ui.warnings ?? []) eprint(l); }
      return start(root, { ...o, ...run }).catch((e) => {
        if (e instanceof RefusedError) throw usage(e);
        // a full disk under the journal: what was changed is in it, whole
        // (unless nothing of the run is: then nothing was changed, and no
        // journal is left to undo, as the message says)
        const message = String((e as Error)?.message);
        // stdout (the change lines) not writable with --apply: the run
        // stopped, and the changes made up to then are in the journal, those
        // whose lines failed too (each is journaled before it is made)
        const lines = apply && /cannot write stdout: /.test(message);
        if (
          journal && !apply && /cannot write the journal: /.test(message) &&
          !message.includes("; nothing was changed (the journal ")
        ) {
          // a dry run's plan cut short: nothing was changed, and the
          // journal's earlier runs are no business of this message (undo
          // would put back a real run's changes)
          throw new Error(
            `${message.split("\n")[0]}; a dry run: nothing was changed (its plan in ${journal} ` +
              "is cut short)",
          );
        }
        if (
          // (the --errors file too with --apply: the run stopped at it, part
          // way; a dry run's changed nothing)
          journal &&
          (lines || /cannot write the journal: /.test(message) ||
            (apply && /cannot write the errors file: /.test(message))) &&
          !message.includes("; nothing was changed (the journal ")
        ) {
          throw new Error(
            `${(e as Error).message.split("\n")[0]}; ` +
              (lines
                ? "stopped part way: every change made, its line written or not, is in "
                : "the changes made before it are in ") +
              `${journal}: pwalk undo --apply ${undoArg(journal)} puts them back` +
              // undo puts back every run of a journal, newest first
              (earlierChanges(journal, priorSize)
                ? `, with the changes of the earlier runs it holds (pwalk undo ${
                  undoArg(journal)
                } lists them all)`
                : ""),
          );
        }
        throw e;
      });
    },
    done: (s) => {
      const k = s.changes;
      const kinds = kind === "chown"
        ? ""
        : ` (${count(k.total, "change")}: ${num(k.group)} group, ` +
          `${num(k.mode)} mode, ${num(k.setgid)} setgid)`;
      const changed = `${num(s.entriesChanged)} ${apply ? "changed" : "would change"}${kinds}`;
      const seen = count(s.entriesSeen, "entry", "entries");
      const links = s.hardLinked
        ? [
          `${tag} ${count(s.hardLinked, "of them a file", "of them files")} with other hard ` +
          `links: ${apply ? "every name of each was changed" : "every name of each would change"}` +
          (kind === "chown" ? ", some maybe outside the tree" : ", all of them in the tree"),
        ]
        : [];
      return [
        `${tag} ${seen} seen, ${changed}, ${errorCount(s.errors, ui.errors)} in ` +
        duration(s.elapsedMs),
        ...links,
        ...extra(s).map((l) => `${tag} ${l}`),
        // a dry run with --journal FILE wrote its plan there: said, as the
        // file is left behind (undo skips a dry run's lines)
        ...(!apply && s.journal
          ? [`${tag} the plan is in the journal ${s.journal} (a dry run's lines: undo skips them)`]
          : []),
        apply
          ? `${tag} journal ${s.journal} (undo: pwalk undo --apply ${undoArg(s.journal!)})`
          : `${tag} dry run, nothing was changed; add --apply to make these changes`,
      ];
    },
    quit: () => apply && journal ? `every change made is in the journal ${journal}` : "",
    interrupted: () =>
      apply
        ? journal
          ? `every change made is in the journal ${journal}`
          : "nothing was changed (no journal was opened)"
        : "nothing was changed",
  });
}

/**
 * The journal as the undo command printed for it takes it: its absolute
 * path (a relative --journal names it from this folder only: the command is
 * pasted elsewhere, or into a later shell), quoted for the shell; a name
 * that starts with `-`, which undo would take for an option, cannot then
 * be one. `./-jx` where this folder is gone.
 */
function undoArg(journal: string): string {
  let cwd: string | undefined;
  try {
    cwd = journal.startsWith("/") ? undefined : Deno.cwd();
  } catch { /* this folder is gone: named from it as given */ }
  const path = cwd === undefined
    ? journal
    : `${cwd === "/" ? "" : cwd}/${journal.replace(/^(\.\/+)+/, "")}`;
  return shellQuote(path.startsWith("-") ? `./${path}` : path);
}

/** Run `pwalk repair` (the arguments after its name): `await run(["--apply", "/p"])`. */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, {
    ...CHANGE_OPTIONS,
    "change-gids": "list",
    "force-group-writable": "flag",
    undo: "once",
  });
  if (f.undo !== undefined) {
    if (f._.length) throw new UsageError("--undo takes a journal, not a ROOT folder");
    // undo takes --apply or --dry-run alone: anything else would be ignored
    for (const o of Object.keys(f)) {
      if (!["_", "undo", "apply", "dry-run"].includes(o) && f[o] !== undefined) {
        throw new UsageError(`--${o} does not go with --undo`);
      }
    }
    return undo([
      ...(f.apply ? ["--apply"] : []),
      ...(f["dry-run"] ? ["--dry-run"] : []),
      // after --: a journal named -jx is not an option of undo's
      "--",
      f.undo as string,
    ]);
  }
  const changeGids: number[] = [];
  for (const list of (f["change-gids"] as string[] | undefined) ?? []) {
    for (const g of list.split(",")) {
      // an empty item (",", "5000,", "") is bad usage too: a list that
      // names no group would run as if none had been given
      if (g.trim() === "") {
        throw new UsageError(`--change-gids needs group ids separated by commas, got '${list}'`);
      }
      changeGids.push(idArg("--change-gids", g.trim()));
    }
  }
  return await runChange(
    "repair",
    f,
    [],
    (root, o) =>
      repair(root, { ...o, changeGids, forceGroupWritable: !!f["force-group-writable"] }),
    (s) =>
      s.noAncestor
        ? [
          `${count(s.noAncestor, "entry", "entries")} with a private group left alone: ` +
          "no folder above them has a shared group",
        ]
        : [],
  );
}

/**
 * Whether the first `size` bytes of a journal (what earlier runs left)
 * hold a change undo would put back: an applied run's entry line, not a
 * dry run's plan. Unreadable or not a journal: said to hold some (undo
 * reads it all, and would say why).
 */
function earlierChanges(journal: string, size: number): boolean {
  if (size === 0) return false;
  try {
    // (read 1 MiB at a time, each line's first bytes only: a journal of
    // earlier runs may be gigabytes, on the very disk that is full)
    using f = Deno.openSync(journal, { read: true });
    const buf = new Uint8Array(1 << 20);
    let head = "", open = true, applied = false;
    const line = () => {
      // (a header line is kept whole: journal.ts reads it)
      if (head.startsWith(JOURNAL_MAGIC)) applied = parseHeader(head).applied;
      else if (head !== "" && applied) return true;
      return false;
    };
    for (let left = size; left > 0;) {
      const n = f.readSync(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null) break;
      left -= n;
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (b === 10) {
          if (line()) return true;
          head = "";
          open = true;
        } else if (open) {
          // a header's mode is within its first 64 bytes
          head += String.fromCharCode(b);
          if (head.length === 64) {
            if (!head.startsWith("#") && line()) return true;
            open = head.startsWith("#");
            if (!open) head = "";
          }
        }
      }
    }
    return false;
  } catch {
    return true;
  }
}
