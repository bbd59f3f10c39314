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
 * Folders not made yet are skipped. `uid`: the running user (Deno.uid()).
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
  const prefixes = (p: string) => {
    const parts = p.split("/").filter((x) => x);
    return ["/", ...parts.map((_, i) => "/" + parts.slice(0, i + 1).join("/"))];
  };
  let real: string[] = [];
  try {
    real = prefixes(Deno.realPathSync(dir));
  } catch { /* not made yet: the written path's prefixes */ }
  for (const p of [...prefixes(dir), ...real]) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      continue;
    }
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}, not by you or root`;
    const mode = st.mode! & 0o7777;
    if (!st.isSymlink && (mode & 0o022) && !(mode & 0o1000)) {
      return `${p} is writable by group or others (mode ${octal(mode)})`;
    }
  }
  return undefined;
}
