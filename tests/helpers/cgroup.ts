/**
 * The cgroup hierarchy that holds a controller, for tests that make a
 * child cgroup in it (root only): cgroup v1's mount of that controller, or
 * the v2 mount whose cgroup.controllers lists it.
 *
 * @module
 */

/** Where a controller's hierarchy is mounted, and whether it is cgroup v2. */
export interface CgroupMount {
  /** The mount point. */
  dir: string;
  /** cgroup v2 (else v1). */
  v2: boolean;
}

/**
 * The mount of `controller` ("cpu", "memory") from /proc/self/mountinfo,
 * or why there is none.
 *
 * @example
 * ```ts ignore
 * const m = cgroupMount("memory"); // { dir: "/sys/fs/cgroup/memory", v2: false }
 * ```
 */
export function cgroupMount(controller: string): CgroupMount | string {
  let mounts: string;
  try {
    mounts = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch (e) {
    return `no /proc/self/mountinfo (${e})`;
  }
  for (const line of mounts.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const mountPoint = left.split(" ")[4];
    const [fstype, , superOpts = ""] = right.split(" ");
    if (fstype === "cgroup" && superOpts.split(",").includes(controller)) {
      return { dir: mountPoint, v2: false };
    }
    if (fstype === "cgroup2") {
      try {
        const ctl = Deno.readTextFileSync(`${mountPoint}/cgroup.controllers`);
        if (ctl.split(/\s+/).includes(controller)) return { dir: mountPoint, v2: true };
      } catch {
        // not this one
      }
    }
  }
  return `no cgroup mount with the ${controller} controller`;
}
