/**
 * User and group names through the system's name service: `getent passwd`
 * and `getent group` (getpwuid/getgrgid, so /etc files, LDAP, SSSD, NIS
 * alike), a few hundred ids per process. An id that no name service knows
 * keeps its number (name null).
 *
 * @module
 */

/** Which database to ask. */
export type NameDb = "passwd" | "group";

const BATCH = 500;

/**
 * Names of numeric ids, from `getent DB id...`.
 *
 * @example
 * ```ts ignore
 * const users = await resolveNames("passwd", [0, 1000]);
 * users.get(0); // "root"
 * ```
 */
export async function resolveNames(db: NameDb, ids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const todo = [...new Set(ids)].filter((i) => Number.isInteger(i) && i >= 0);
  for (let i = 0; i < todo.length; i += BATCH) {
    const batch = todo.slice(i, i + BATCH);
    let text = "";
    try {
      // getent exits 2 when some key is not found, and still prints the others.
      const r = await new Deno.Command("getent", {
        args: [db, ...batch.map(String)],
        stdout: "piped",
        stderr: "null",
        stdin: "null",
      }).output();
      text = new TextDecoder().decode(r.stdout);
    } catch {
      return out; // no getent here (macOS): numbers only
    }
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f.length < 3) continue;
      const id = Number(f[2]);
      if (Number.isInteger(id) && !out.has(id)) out.set(id, f[0]);
    }
  }
  return out;
}
