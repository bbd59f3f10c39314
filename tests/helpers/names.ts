/**
 * How pwalk's lines show a group id: `5000 (genome)` when the name service
 * knows a name for it, `5000` when it does not (repair's and chown's change
 * lines, undo's restore lines, the links and group-access notices).
 *
 * The tests' ids (1001, 5000, 60001...) are numbers picked for their trees,
 * not ids known to be free: on a developer's machine uid or gid 1001 is
 * often a real user's. The expected text is computed here, from `getent`
 * (the system's name service, asked apart from the library's getgrgid_r),
 * never assumed to be the bare number.
 *
 * @example
 * ```ts ignore
 * assertEquals(line, `${p}: group ${groupShown(1001)} -> ${groupShown(5000)}`);
 * ```
 *
 * @module
 */

const known = new Map<string, string | undefined>();

/**
 * The name `getent DB ID` gives the id, or undefined when it has none (getent
 * exits 2). Anything else (no getent, a failing name service) throws: the
 * expected text would be a guess.
 */
export function nameOf(db: "passwd" | "group", id: number): string | undefined {
  const key = `${db} ${id}`;
  if (known.has(key)) return known.get(key);
  const r = new Deno.Command("getent", {
    args: [db, String(id)],
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  let name: string | undefined;
  if (r.code === 0) {
    name = new TextDecoder().decode(r.stdout).split("\n")[0].split(":")[0];
    if (!name) throw new Error(`getent ${db} ${id}: no name in its answer`);
  } else if (r.code !== 2) {
    throw new Error(
      `getent ${db} ${id} exited ${r.code}: ${new TextDecoder().decode(r.stderr).trim()}`,
    );
  }
  known.set(key, name);
  return name;
}

/** A group id as pwalk's lines show it: `5000 (genome)`, or `5000` when it has no name. */
export function groupShown(gid: number): string {
  const name = nameOf("group", gid);
  return name === undefined ? String(gid) : `${gid} (${name})`;
}
