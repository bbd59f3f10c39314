/**
 * pwalk's chown mode: `pwalk --chown_from UID --chown_to UID:GID [options]
 * ROOT` (also `pwalk chown ...`), a dry run unless --apply.
 *
 * @module
 */
import { chown } from "../repair.ts";
import { idArg, parse, UsageError } from "./common.ts";
import { CHANGE_OPTIONS, runChange } from "./repair.ts";

/** `pwalk chown --help`. */
export const HELP = `pwalk --chown_from UID --chown_to UID:GID [options] ROOT

Every entry of ROOT (ROOT included) owned by UID gets owner UID and group
GID; a symbolic link is changed itself, never its target (lchown). Each
changed path is printed, as pwalk does, with the mode the chown leaves
when it takes setuid/setgid off (PATH: mode 2755 -> 0755), with --apply
as in a dry run; ": " in a name is written ":\\x20" (a Unicode space
after a colon too, as its bytes: ":\\xc2\\xa0"; a file named
"x: mode 2755 -> 0755" is no mode line of x). Unlike pwalk, nothing changes
without --apply (default: show what would change; those lines start
"would change: ", and a file with other hard links says so).

Options: --apply, --dry-run, --journal FILE (default with --apply: a new
file, as for pwalk repair, chown-TIME-PID.journal; never inside ROOT nor -,
nor in a folder another user can change),
--NoSnap, --exclude PATH, -x (by device, as find -xdev: a bind mount of
ROOT's own file system is entered; ROOT itself reached again that way, a
folder above it, the journal's and errors file's folders are not entered, a
loop notice), --depth N, --threads N (--maxthreads N),
--force (ROOT may be /), --allow-system (ROOT may be a system folder:
/bin /boot /dev /etc /lib /lib64 /proc /root /sbin /sys /usr, /var/cache
/var/lib /var/log /var/mail /var/spool, or below one),
--errors FILE, --progress[=SECONDS], --no-progress; refusals, the system
log line and exit statuses as for pwalk repair (among them: 1 when stdout
cannot take the lines, a full disk, and the run stops; 141 a dry run's
stdout closed early, | head, the walk stopped quietly). Without CAP_CHOWN
(not root), --apply to another uid, of another uid's entries, or to a group
the process is not in is refused before it starts (2): the system would
refuse every entry. Undo with: pwalk undo --apply JOURNAL.
`;

/**
 * Run pwalk's chown mode (the whole argument list, or those after `chown`).
 * `Deno.exit(await run(["--chown_from", "1042", "--chown_to", "2000:2000", "--apply", "/p"]));`
 */
export async function run(args: string[]): Promise<number> {
  const f = parse(args, {
    ...CHANGE_OPTIONS,
    chown_from: "once",
    chown_to: "once",
    depth: "value",
  });
  if (f.chown_from === undefined || f.chown_to === undefined) {
    throw new UsageError("--chown_from UID and --chown_to UID:GID go together");
  }
  const from = idArg("--chown_from", f.chown_from as string);
  const m = /^(\d+):(\d+)$/.exec(f.chown_to as string);
  if (!m) throw new UsageError(`--chown_to needs UID:GID, got '${f.chown_to}'`);
  const to = { uid: idArg("--chown_to", m[1]), gid: idArg("--chown_to", m[2]) };
  return await runChange(
    "chown",
    f,
    [`chown UID_orig: ${from}  UID_new: ${to.uid} GID_new: ${to.gid}`],
    (root, o) => chown(root, { ...o, from, to }),
    () => [],
  );
}
