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
 * How long one getent may take (a hung LDAP or SSSD server) before numbers
 * only: 20 s, or `PWALK_NAMES_TIMEOUT` seconds.
 */
function timeoutMs(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("PWALK_NAMES_TIMEOUT");
  } catch { /* no env permission */ }
  const s = Number(v);
  // (setTimeout holds at most 2^31-1 ms: an hour is plenty)
  return v !== undefined && Number.isFinite(s) && s > 0 ? Math.min(s, 3600) * 1000 : 20_000;
}

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
      const child = new Deno.Command("getent", {
        args: [db, ...batch.map(String)],
        stdout: "piped",
        stderr: "null",
        stdin: "null",
      }).spawn();
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        try {
          child.kill("SIGKILL");
        } catch { /* ended meanwhile */ }
      }, timeoutMs());
      const r = await child.output().finally(() => clearTimeout(timer));
      if (hung) return out; // the name service does not answer: numbers from here on
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
