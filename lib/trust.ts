/**
 * Whether a path is safe to trust: the folders on the way to it may be
 * changed only by root or the running user (as ssh's StrictModes and sudo
 * treat theirs). A file found through such folders cannot be swapped by
 * anyone else between a check and its use by path: the journal's default
 * folder, the native library's cache, the temporary folders pwalk makes.
 *
 * A folder the running user owns that only their private group can also
 * write is trusted too, but never for root: Ubuntu's `umask 002` gives a
 * user's own folders (~/.cache made by any program) mode 0775 with the
 * group of the same name, which nobody else belongs to. As Debian's ssh
 * rule for StrictModes, the group must be the user's primary group, with
 * nobody else's primary group, and no member but the user; read from
 * /etc/passwd and /etc/group, and only when /etc/nsswitch.conf names no
 * other source of groups than `files` and `systemd` (groups from LDAP or
 * NIS cannot be listed here: the folder is refused).
 *
 * @module
 */

import { unlessRefused } from "./procfs.ts";

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");

/**
 * Why a folder on the way to `dir` (as written, and its real path) is not
 * to be trusted, or undefined: each must be owned by root or the running
 * user and not writable by group or others (unless sticky, as /tmp, or,
 * when `uid` is not root, a folder of `uid`'s that only its private group
 * can also write: see the module doc).
 * Links on the way are followed and the folders their targets name checked
 * the same way. Folders not made yet are skipped, but a `..` or `.` after
 * one is not trusted. `uid`: the running user (Deno.uid()).
 *
 * @example
 * ```ts ignore
 * untrustedAncestor("/home/ann/.cache/pwalk", 0); // "/home/ann is owned by uid 1042, not by you or root"
 * ```
 */
export function untrustedAncestor(
  dir: string,
  uid: number | null = Deno.uid(),
): string | undefined {
  if (uid === null) return undefined; // no uids here (Windows)
  return untrusted(dir, uid, 0);
}

/** {@link untrustedAncestor}, following the links met on the way (`hops` so far). */
function untrusted(dir: string, uid: number, hops: number): string | undefined {
  if (hops > 40) return `${dir}: too many levels of symbolic links`;
  const prefixes = (p: string) => {
    const parts = p.split("/").filter((x) => x);
    return ["/", ...parts.map((_, i) => "/" + parts.slice(0, i + 1).join("/"))];
  };
  let real: string[] = [];
  try {
    real = prefixes(Deno.realPathSync(dir));
  } catch (e) {
    unlessRefused(e); // else not made yet: the written path's prefixes
  }
  let missing: string | undefined;
  for (const p of [...prefixes(dir), ...real]) {
    const last = p.slice(p.lastIndexOf("/") + 1);
    // after a name not made yet, a ".." (or ".") would climb out of what is
    // checked, into a folder someone may make there afterwards
    if (missing && (last === ".." || last === ".")) {
      return `${dir} cannot be checked: "${last}" after ${missing}, which is not there`;
    }
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch (e) {
      unlessRefused(e); // (a folder not looked at is not "not made yet")
      missing ??= p;
      continue;
    }
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}, not by you or root`;
    const mode = st.mode! & 0o7777;
    if (!st.isSymlink && (mode & 0o022) && !(mode & 0o1000) && !ownPrivateGroup(st, uid)) {
      return `${p} is writable by group or others (mode ${octal(mode)})` +
        (uid !== 0 && st.uid === uid && !(mode & 0o002)
          ? `, and group ${st.gid} is not your private group: chmod g-w ${p}`
          : "");
    }
    if (st.isSymlink) {
      // the links it leads through, and the folders holding them
      let to: string;
      try {
        to = Deno.readLinkSync(p);
      } catch (e) {
        unlessRefused(e);
        continue;
      }
      const at = to.startsWith("/") ? to : `${p.slice(0, p.lastIndexOf("/")) || ""}/${to}`;
      const why = untrusted(at, uid, hops + 1);
      if (why) return why;
    }
  }
  return undefined;
}

/**
 * Whether `st` is a folder of `uid` (not root) writable by group but not by
 * others, whose group is `uid`'s private group ({@link privateGroup}).
 */
function ownPrivateGroup(st: Deno.FileInfo, uid: number): boolean {
  const mode = st.mode! & 0o7777;
  return uid !== 0 && st.uid === uid && !(mode & 0o002) && st.gid !== null &&
    privateGroup(uid) === st.gid;
}

const privateGroups = new Map<number, number | undefined>();

/** {@link privateGroupOf} from the system's files, once per uid; undefined when they cannot be read. */
function privateGroup(uid: number): number | undefined {
  if (privateGroups.has(uid)) return privateGroups.get(uid);
  let gid: number | undefined;
  try {
    // never a permission prompt: without --allow-read for them, no private group
    for (const path of ["/etc/passwd", "/etc/group", "/etc/nsswitch.conf"]) {
      if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") {
        throw new Error("not permitted");
      }
    }
    gid = privateGroupOf(
      uid,
      Deno.readTextFileSync("/etc/passwd"),
      Deno.readTextFileSync("/etc/group"),
      nsswitch(),
    );
  } catch { /* not readable (no --allow-read for them): no private group */ }
  privateGroups.set(uid, gid);
  return gid;
}

/** /etc/nsswitch.conf, or "" where there is none (files alone, as musl). */
function nsswitch(): string {
  try {
    return Deno.readTextFileSync("/etc/nsswitch.conf");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/**
 * The gid of `uid`'s private group, or undefined: `uid`'s primary group in
 * `passwd` (its first entry), when it is the primary group of no other uid,
 * is listed in `group` with no member but `uid`'s name, and `nsswitch`
 * (/etc/nsswitch.conf) takes groups and users from no source but `files`
 * and `systemd` (others, as LDAP, could add members not listed here).
 *
 * @example
 * ```ts ignore
 * privateGroupOf(1000, "ann:x:1000:1000::/home/ann:/bin/sh\n", "ann:x:1000:\n", ""); // 1000
 * ```
 */
export function privateGroupOf(
  uid: number,
  passwd: string,
  group: string,
  nsswitch: string,
): number | undefined {
  if (uid === 0) return undefined;
  for (const line of nsswitch.split("\n")) {
    const m = /^\s*(passwd|group)\s*:(.*)$/.exec(line.replace(/#.*/, ""));
    if (!m) continue;
    const sources = m[2].replace(/\[[^\]]*\]/g, " ").split(/\s+/).filter((x) => x);
    if (sources.some((x) => x !== "files" && x !== "systemd")) return undefined;
  }
  const rows = (text: string) =>
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
  const users = rows(passwd);
  const me = users.find((f) => Number(f[2]) === uid && f[2] !== "");
  if (!me || !/^\d+$/.test(me[3] ?? "")) return undefined;
  const name = me[0];
  const gid = Number(me[3]);
  if (gid === 0) return undefined;
  // another user whose primary group it is, or a "+" line (NIS compat) that may add one
  if (users.some((f) => f[0].startsWith("+") || f[0].startsWith("-"))) return undefined;
  if (users.some((f) => Number(f[3]) === gid && f[3] !== "" && Number(f[2]) !== uid)) {
    return undefined;
  }
  const groups = rows(group);
  if (groups.some((f) => f[0].startsWith("+") || f[0].startsWith("-"))) return undefined;
  const entries = groups.filter((f) => Number(f[2]) === gid && f[2] !== "");
  if (!entries.length) return undefined;
  for (const f of entries) {
    const members = (f[3] ?? "").split(",").map((x) => x.trim()).filter((x) => x);
    if (members.some((x) => x !== name)) return undefined;
  }
  return gid;
}
