/**
 * `pwalk undo [--apply] JOURNAL`: put back what a repair or chown changed
 * (also `pwalk repair --undo JOURNAL [--apply]`); a dry run unless --apply.
 *
 * @module
 */
import { duration } from "./progress.ts";
import { undo } from "../undo.ts";
import { RefusedError } from "../journal_file.ts";
import { count, eprint, EXIT, num, parse, runJob, usage, UsageError } from "./common.ts";

/** `pwalk undo --help`. */
export const HELP = `Usage: pwalk undo [--apply | --dry-run] JOURNAL
       (also: pwalk repair --undo JOURNAL [--apply])

Show, or with --apply restore, the old owner, group and mode of every entry
in the journal of a repair or chown, newest first. Without --apply nothing
changes (a dry run: the lines of what it would put back start "would
restore: "; an entry left as it is is told alike in both).

The journal must be a regular file (not a symbolic link) of the user running
undo, that group and others cannot write; any other is refused, since a
journal names the files undo changes. Each run's ROOT must still be the
folder (device and inode) its journal header recorded; every entry is
reached from it name by name, never through a symbolic link or "..", and
only while it is still the same device and inode (and, in a journal of
version 2, the same birth time: not a file written anew since under the
inode number of the one changed). A field changed again
since the run is left as it is; so is a mode that would put setuid or setgid
back on an entry whose owner or group is not the run's any more, nor the one
before it ("kept"; one chowned back by hand gets its mode back without them).
A setuid or setgid bit the entry lost since the run never goes back (the
rest of its mode does), and a mode whose group bits taken off would shut out
users or groups its access ACL names (given access since) is kept. Owner and
group are kept too when the mode kept gives the group access the old mode
did not (and others lack), which would go to the old group (not the old
owner's own) if it went back.
A change the system refused at the run (another user's entry without root,
an immutable file, root squashed on NFS), marked so in the journal, is never
put back: the run made none of it ("refused at the run (never made)").
A torn last line (the run stopped while writing it, e.g. a full disk) is one
error; the lines before it are still undone. A bad line anywhere else makes
the whole journal refused.

With --apply, one line goes to the system log (authpriv.notice, tag pwalk:
who, the journal, the counts; PWALK_SYSLOG_SOCKET names another socket).
One line per entry on stdout, errors on stderr, then a summary.
Exit status: 0 done (errors included), 1 failed (also: a run's ROOT that
could not be reached, gone, moved, or not the folder its header records:
none of that run's lines undone, the others are; a journal a repair
or chown still running holds; out of open files past a 10 s wait: raise
ulimit -n and undo the journal again; stdout cannot be written, a full
disk: a dry run stops there, while --apply goes on to its end without its
lines, then says so after its summary), 2 bad usage, a journal that is
missing or cannot be read ("cannot read the journal J: Permission denied"),
or a refused journal, 129/130/143 stopped by a signal between two entries, 141 stdout closed
early in a dry run (| head): stopped quietly, as SIGPIPE would (--apply
goes on to its end without its lines, status as it would be).
`;

/**
 * Run `pwalk undo` with the arguments after the command's name.
 * `Deno.exit(await run(["--apply", "/root/.local/state/pwalk/repair-X.journal"]));`
 */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, { apply: "flag", "dry-run": "flag" });
  if (f._.length !== 1) throw new UsageError("undo takes one JOURNAL file (try --help)");
  if (f.apply && f["dry-run"]) throw new UsageError("--apply and --dry-run exclude each other");
  const file = f._[0];
  // ("$J" of an unset J: no name to tell the journal by)
  if (file === "") throw new UsageError("JOURNAL is empty");
  const apply = !!f.apply;
  const tag = "pwalk undo:";
  // --apply with a stdout that took no more lines (a full disk): the undo
  // went on to its end, then says so and fails (repair's status for it)
  let stdoutError: string | undefined;
  // runs whose ROOT could not be reached: none of their lines undone
  let runsLeft = 0;
  const status = await runJob({
    tag,
    progress: false,
    // a dry run's lines meeting a closed pipe (`| head`): 141, quietly
    toStdout: true,
    start: ({ signal }) =>
      undo(file, { apply, printChanges: true, printErrors: true, signal }).catch((e) => {
        if (e instanceof SyntaxError || e instanceof RefusedError) throw usage(e);
        if (e instanceof Deno.errors.NotFound) throw new UsageError(`${file}: no such journal`);
        throw e;
      }),
    done: (s) => {
      stdoutError = s.stdoutError;
      runsLeft = s.runsLeft;
      const restored = `${num(s.restored)} ${apply ? "restored" : "would be restored"}`;
      // --apply advised only when it would restore something
      const advice = s.restored ? "add --apply to restore" : s.entries
        // every entry already as before, or kept, or failing
        ? "--apply would restore nothing either"
        // only dry runs' lines (or none)
        : "the journal holds no change of an applied run to restore";
      const setid = s.setidKept ? ` (${num(s.setidKept)} of them: setuid/setgid not put back)` : "";
      // (said only when there are any: the run's refusals are rare)
      const notMade = s.notMade ? `, ${num(s.notMade)} refused at the run (never made)` : "";
      return [
        `${tag} ${count(s.entries, "journal entry", "journal entries")}, ${restored}, ` +
        `${num(s.unchanged)} already as before, ${
          num(s.kept)
        } with fields kept${setid}${notMade}, ` +
        `${count(s.errors, "error")} in ${duration(s.elapsedMs)}`,
        ...(s.skippedDryRun
          ? [`${tag} ${count(s.skippedDryRun, "line")} of dry runs skipped`]
          : []),
        ...(apply ? [] : [`${tag} dry run, nothing was changed; ${advice}`]),
      ];
    },
    interrupted: () => "the entries not reached yet were left as they are",
  });
  if (status !== EXIT.OK) return status;
  if (runsLeft) {
    // a whole run not undone is no per-entry error: a script must see it
    eprint(
      `pwalk undo: ${count(runsLeft, "run")} of the journal left alone, ROOT not reached (see ` +
        "above): put the tree back at the path its header records (or give the header its new " +
        "path), then undo the journal again",
    );
  }
  if (stdoutError === undefined) return runsLeft ? EXIT.FAILED : status;
  eprint(
    `pwalk: cannot write stdout: ${stdoutError}; the undo went on to its end without its ` +
      "lines: every entry was handled, and the summary above counts them all",
  );
  return EXIT.FAILED;
}
