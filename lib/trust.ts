/**
 * Whether a path is safe to trust: the folders on the way to it may be
 * changed only by root or the running user (as ssh's StrictModes and sudo
 * treat theirs). A file found through such folders cannot be swapped by
 * anyone else between a check and its use by path: the journal's default
 * folder, the native library's cache, the temporary folders pwalk makes.
 *
 * @module
 */

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");

/**
 * Why a folder on the way to `dir` (as written, and its real path) is not
 * to be trusted, or undefined: each must be owned by root or the running
 * user and not writable by group or others (unless sticky, as /tmp).
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
  } catch { /* not made yet: the written path's prefixes */ }
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
    } catch {
      missing ??= p;
      continue;
    }
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}, not by you or root`;
    const mode = st.mode! & 0o7777;
    if (!st.isSymlink && (mode & 0o022) && !(mode & 0o1000)) {
      return `${p} is writable by group or others (mode ${octal(mode)})`;
    }
    if (st.isSymlink) {
      // the links it leads through, and the folders holding them
      let to: string;
      try {
        to = Deno.readLinkSync(p);
      } catch {
        continue;
      }
      const at = to.startsWith("/") ? to : `${p.slice(0, p.lastIndexOf("/")) || ""}/${to}`;
      const why = untrusted(at, uid, hops + 1);
      if (why) return why;
    }
  }
  return undefined;
}
