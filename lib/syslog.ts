/**
 * One line to the system log per applied run (repair, chown, undo), as
 * repair-shared and python-pwalk log their changes: who ran it (the real
 * user, and the sudo user behind it), on what, what it did, and where its
 * journal is. Sent by native/syslog.c (facility authpriv, severity notice,
 * tag `pwalk`) to /dev/log, or to the socket named by PWALK_SYSLOG_SOCKET.
 * A system without a syslog socket gets nothing, silently.
 *
 * @module
 */
import { native } from "./ffi.ts";
import { printablePath } from "./journal.ts";
import { absolutePath } from "./shard/paths.ts";
import { runningUid } from "./fetchlib.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The name of user (kind 0) or group (kind 1) `id`, or undefined.
 *
 * @example
 * ```ts ignore
 * idName(1, 0); // "root"
 * ```
 */
export function idName(kind: 0 | 1, id: number): string | undefined {
  const buf = new Uint8Array(256);
  const n = Number(native().pw_id_name(kind, id, buf, BigInt(buf.length)));
  if (n <= 0 || n > buf.length) return undefined;
  return dec.decode(buf.subarray(0, n));
}

/**
 * Who runs this: `alice (uid 1000)`, `root (uid 0, sudo from alice)`.
 *
 * @example
 * ```ts ignore
 * whoRuns(); // "root (uid 0, sudo from alice)"
 * ```
 */
export function whoRuns(): string {
  // (not Deno.uid() alone: without --allow-sys it throws, and this is
  // asked after an applied run's changes, which it must not fail)
  let uid: number;
  try {
    uid = runningUid();
  } catch {
    return "unknown user";
  }
  const name = idName(0, uid);
  let sudo: string | undefined;
  try {
    sudo = Deno.env.get("SUDO_USER") || undefined;
  } catch { /* no env permission */ }
  return `${name ?? "uid"} (uid ${uid}${sudo ? `, sudo from ${sudo}` : ""})`;
}

/**
 * A path for the log line: absolute (a relative one is taken from the
 * working folder: an audit log has no working folder), one line, control
 * bytes spelled out.
 *
 * @example
 * ```ts ignore
 * logPath("/p/new\nline"); // "/p/new\\nline"
 * ```
 */
export function logPath(p: string): string {
  if (!p.startsWith("/")) {
    try {
      p = absolutePath(p);
    } catch { /* no read permission for the working folder: as given */ }
  }
  return printablePath(enc.encode(p));
}

/**
 * A count and its noun for a log line, singular or plural, its digits not
 * grouped (a log is parsed): `logCount(1, "change")` is "1 change",
 * `logCount(1204, "entry", "entries")` "1204 entries".
 */
export function logCount(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Send `text` to the system log; false when it could not be sent (no
 * syslog socket), which is not an error of the run.
 *
 * @example
 * ```ts ignore
 * syslogLine("repair --apply by root (uid 0) on /p: done; ...");
 * ```
 */
export function syslogLine(text: string): boolean {
  const b = enc.encode(text);
  return native().pw_syslog(b, BigInt(b.length)) === 0;
}
