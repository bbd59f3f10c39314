/**
 * `pwalk undo JOURNAL`: put back what a repair or chown changed (also
 * `pwalk repair --undo JOURNAL`).
 *
 * @module
 */
import { undo } from "../undo.ts";
import { count, num, parse, runJob, UsageError } from "./common.ts";

/** `pwalk undo --help`. */
export const HELP = `Usage: pwalk undo [--dry-run] JOURNAL

Restore the old owner, group and mode of every entry in the journal of a
repair or chown (newest first); an entry replaced since, or a field changed
again since, is left alone. With --dry-run: only show what would be restored.
One line per restored entry on stdout, errors on stderr, then a summary.
Exit status: 0 done, 1 failed, 2 bad usage (not a journal), 129/130/143
stopped by a signal between two entries.
`;

/**
 * Run `pwalk undo` with the arguments after the command's name.
 * `Deno.exit(await run(["--dry-run", "/root/.local/state/pwalk/repair-X.journal"]));`
 */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, { "dry-run": "flag" });
  if (f._.length !== 1) throw new UsageError("undo takes one JOURNAL file (try --help)");
  const file = f._[0];
  const dry = !!f["dry-run"];
  const tag = "pwalk undo:";
  return await runJob({
    tag,
    progress: false,
    start: ({ signal }) =>
      undo(file, { apply: !dry, printChanges: true, printErrors: true, signal }).catch((e) => {
        if (e instanceof SyntaxError) throw new UsageError(e.message.replace(/^pwalk: /, ""));
        if (e instanceof Deno.errors.NotFound) throw new UsageError(`${file}: no such journal`);
        throw e;
      }),
    done: (s) => {
      const restored = `${num(s.restored)} ${dry ? "would be restored" : "restored"}`;
      return [
        `${tag} ${count(s.entries, "journal entry", "journal entries")}, ${restored}, ` +
        `${num(s.unchanged)} already as before, ${num(s.kept)} changed again since (those ` +
        `fields kept), ${count(s.errors, "error")} in ${(s.elapsedMs / 1000).toFixed(2)} s`,
        ...(s.skippedDryRun
          ? [`${tag} ${count(s.skippedDryRun, "line")} of dry runs skipped`]
          : []),
        ...(dry ? [`${tag} dry run, nothing was changed`] : []),
      ];
    },
    interrupted: () => "the entries not reached yet were left as they are",
  });
}
