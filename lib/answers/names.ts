/**
 * User and group names through the system's name service: `getent passwd`
 * and `getent group` (getpwuid/getgrgid, so /etc files, LDAP, SSSD, NIS
 * alike), a few hundred ids per process. An id that no name service knows
 * keeps its number (name null).
 *
 * @module
 */
import { onQuit } from "../interrupt.ts";

/**
 * The program to start for the system tool `name` (getent, mkfifo): the
 * name, found on $PATH as usual; where $PATH is unset, empty or lacks it
 * (`env -i`, a job's bare environment), the system's own copy,
 * `/usr/bin/NAME` or `/bin/NAME`, as the C library's execvp searches
 * without a PATH (Deno does not: it fails to start the name, and the
 * names became numbers without a word, a scan's filter failed). The name
 * when neither is there, or when they cannot be looked at (no
 * --allow-env or --allow-read for them).
 */
export function systemTool(name: string): string {
  let path: string | undefined;
  try {
    path = Deno.env.get("PATH");
  } catch {
    return name;
  }
  const found = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  // (an absolute folder of $PATH: Deno takes a relative one from "/", where the tools start)
  if ((path ?? "").split(":").some((d) => d.startsWith("/") && found(`${d}/${name}`))) return name;
  return [`/usr/bin/${name}`, `/bin/${name}`].find(found) ?? name;
}

/** Which database to ask. */
export type NameDb = "passwd" | "group";

const BATCH = 500;

/**
 * How long one getent may take (a hung LDAP or SSSD server) before numbers
 * only, in seconds: 20, or `PWALK_NAMES_TIMEOUT` (above 0, at most 3600;
 * empty is unset).
 *
 * @throws {RangeError} when PWALK_NAMES_TIMEOUT is set to anything else
 */
export function namesTimeout(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("PWALK_NAMES_TIMEOUT");
  } catch { /* no env permission */ }
  if (v === undefined || v === "") return 20;
  const s = Number(v);
  // (setTimeout holds at most 2^31-1 ms: an hour is plenty)
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(v) || !(s > 0 && s <= 3600)) {
    throw new RangeError(
      `pwalk: PWALK_NAMES_TIMEOUT needs seconds above 0, at most 3600 (the wait for a name ` +
        `service), got '${v}'`,
    );
  }
  return s;
}

/**
 * Names of numeric ids, from `getent DB id...`, and whether getent timed
 * out (`seconds`, default {@link namesTimeout}: the ids not named by then
 * keep their numbers). An abort of `signal` kills getent and rejects with
 * its reason.
 *
 * @example
 * ```ts ignore
 * const { names } = await resolveNames("passwd", [0, 1000]);
 * names.get(0); // "root"
 * ```
 */
export async function resolveNames(
  db: NameDb,
  ids: number[],
  seconds: number = namesTimeout(),
  signal?: AbortSignal,
): Promise<{ names: Map<number, string>; timedOut: boolean; refused?: boolean }> {
  const out = new Map<number, string>();
  const todo = [...new Set(ids)].filter((i) => Number.isInteger(i) && i >= 0);
  for (let i = 0; i < todo.length; i += BATCH) {
    signal?.throwIfAborted();
    const batch = todo.slice(i, i + BATCH);
    let text = "";
    try {
      // getent exits 2 when some key is not found, and still prints the others.
      const child = new Deno.Command(systemTool("getent"), {
        args: [db, ...batch.map(String)],
        // not our working folder, which the runner may not search (Deno
        // starts a child there, and fails: every name a number, silently)
        cwd: "/",
        stdout: "piped",
        stderr: "null",
        stdin: "null",
      }).spawn();
      let hung = false;
      const reader = child.stdout.getReader();
      const kill = () => {
        try {
          child.kill("SIGKILL");
        } catch { /* ended meanwhile */ }
        // its output not waited for: a child it left (a wrapper script's
        // `sleep`) may hold the pipe open for as long as it runs
        reader.cancel().catch(() => {});
      };
      const timer = setTimeout(() => {
        hung = true;
        kill();
      }, seconds * 1000);
      // a signal that ends the command (its timer never fires then) kills
      // it too: a hung name service's getent would go on after pwalk
      const forget = onQuit(kill);
      signal?.addEventListener("abort", kill, { once: true });
      const dec = new TextDecoder();
      let got = "";
      try {
        for (let r; !(r = await reader.read()).done;) got += dec.decode(r.value, { stream: true });
        await child.status;
      } finally {
        clearTimeout(timer);
        forget();
        signal?.removeEventListener("abort", kill);
      }
      signal?.throwIfAborted();
      // the name service does not answer: numbers from here on
      if (hung) return { names: out, timedOut: true };
      text = got + dec.decode();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      // no getent here (macOS): numbers only; not allowed to run it: said
      const refused = e instanceof Deno.errors.NotCapable;
      return { names: out, timedOut: false, ...(refused ? { refused } : {}) };
    }
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f.length < 3) continue;
      const id = Number(f[2]);
      if (Number.isInteger(id) && !out.has(id)) out.set(id, f[0]);
    }
  }
  return { names: out, timedOut: false };
}

/**
 * User names of `uids` and group names of `gids`, both asked at once (a
 * hung name service costs one timeout, not two). When a lookup timed out,
 * `onTimeout` is told so in one line (the ids it did not name keep their
 * numbers). An abort of `signal` kills the lookups and rejects with its
 * reason.
 */
export async function lookupNames(
  uids: number[],
  gids: number[],
  onTimeout?: (message: string) => void,
  signal?: AbortSignal,
): Promise<[Map<number, string>, Map<number, string>]> {
  // (no ids at all, nothing to run: aborted all the same)
  signal?.throwIfAborted();
  const seconds = namesTimeout();
  const [u, g] = await Promise.all([
    resolveNames("passwd", uids, seconds, signal),
    resolveNames("group", gids, seconds, signal),
  ]);
  const slow = [u.timedOut && "passwd", g.timedOut && "group"].filter((x) => x);
  if ((u.refused || g.refused) && onTimeout) {
    try {
      onTimeout(
        "getent may not be run (no --allow-run for it): users and groups are shown as numbers",
      );
    } catch { /* a display that failed: the answer goes on */ }
  } else if (slow.length && onTimeout) {
    try {
      onTimeout(
        `getent ${slow.join(" and getent ")} did not answer within ${seconds} s (a name ` +
          `service that hangs?): ${
            [u.timedOut && "users", g.timedOut && "groups"].filter((x) => x).join(" and ")
          } not named by then are shown as numbers; PWALK_NAMES_TIMEOUT=SECONDS sets the wait`,
      );
    } catch { /* a display that failed: the answer goes on */ }
  }
  return [u.names, g.names];
}
