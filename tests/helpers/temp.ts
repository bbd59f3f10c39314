/**
 * Temporary folders of the tests, and tmpfs mounts inside them: a folder per
 * test ({@link tempDir}, removed on dispose) or per test module
 * ({@link scratchDir}, removed when the module unloads). Either is removed
 * with any tmpfs or bind mount made below it by {@link mountTmpfs} or
 * {@link mountBind}, mode-000 folders and paths beyond PATH_MAX included.
 *
 * Nothing here assumes a file system: the tests also pass with TMPDIR on a
 * tmpfs (README, Development).
 *
 * @module
 */
import { IN_CI } from "./system.ts";

/** A temporary folder, removed (with any tmpfs mounted below it) on dispose. */
export interface Temp extends AsyncDisposable {
  path: string;
}

/** Mount points made by {@link mountTmpfs} and not unmounted yet. */
const mounted: string[] = [];

/** Unmount (lazily) every mount made here at or below path, deepest first. */
function unmountBelow(path: string): void {
  for (let i = mounted.length - 1; i >= 0; i--) {
    const m = mounted[i];
    if (m !== path && !m.startsWith(`${path}/`)) continue;
    new Deno.Command("umount", { args: ["-l", m], stdout: "null", stderr: "null" }).outputSync();
    mounted.splice(i, 1);
  }
}

/** Remove a tree and what is mounted below it; also mode-000 folders and long paths. */
export function removeTree(path: string): void {
  unmountBelow(path);
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // Not root: folders without permissions first; rm works below PATH_MAX's reach.
    new Deno.Command("chmod", { args: ["-R", "u+rwx", "--", path], stderr: "null" }).outputSync();
    new Deno.Command("rm", { args: ["-rf", "--", path] }).outputSync();
  }
}

/** Make a temporary folder; `await using tmp = await tempDir()`. */
export async function tempDir(prefix = "pwalk-test-"): Promise<Temp> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]() {
      removeTree(path);
      return Promise.resolve();
    },
  };
}

let scratch: string | undefined;

/** A folder for the whole test module (trees built once and shared), removed when it unloads. */
export function scratchDir(): string {
  if (!scratch) {
    const path = Deno.makeTempDirSync({ prefix: "pwalk-module-" });
    scratch = path;
    globalThis.addEventListener("unload", () => removeTree(path));
  }
  return scratch;
}

/**
 * Mount a tmpfs on the folder `dir` with mount options (e.g. "size=4m");
 * it is unmounted when the temporary folder holding it is removed. Returns
 * "" or why it could not be mounted.
 */
export function mountTmpfs(dir: string, options: string): Promise<string> {
  return mount(["-t", "tmpfs", "-o", options, "pwalk-test", dir], dir);
}

/** Run mount(8) with `args`, mounting on `dir` (unmounted with its temporary folder): "" or why not. */
async function mount(args: string[], dir: string): Promise<string> {
  const m = await new Deno.Command("mount", { args, stdout: "null", stderr: "piped" }).output();
  if (!m.success) return new TextDecoder().decode(m.stderr).trim() || `mount exited ${m.code}`;
  mounted.push(dir);
  return "";
}

/**
 * Bind-mount the folder `src` on the folder `dir` (root only: where
 * {@link canMountTmpfs} holds); it is unmounted when the temporary folder
 * holding `dir` is removed. Returns "" or why it could not be mounted.
 */
export function mountBind(src: string, dir: string): Promise<string> {
  return mount(["--bind", src, dir], dir);
}

/**
 * Mount an overlayfs on the folder `dir`: `lower` under `upper` (`work`:
 * an empty folder on upper's file system; `extra`: more options, `xino=on`);
 * root only, as {@link mountBind}.
 * Unmounted when the temporary folder holding `dir` is removed. Returns ""
 * or why it could not be mounted.
 */
export function mountOverlay(
  lower: string,
  upper: string,
  work: string,
  dir: string,
  extra = "",
) {
  const o = `lowerdir=${lower},upperdir=${upper},workdir=${work}${extra ? `,${extra}` : ""}`;
  return mount(["-t", "overlay", "-o", o, "pwalk-test", dir], dir);
}

/**
 * Make an ext4 file system of `sizeMiB` in the image file `image` (mkfs.ext4)
 * and mount it on the folder `dir` through a loop device (root only, where
 * loop devices are there): for what needs ext4 whatever TMPDIR is on (a
 * freed inode number handed out again, which tmpfs never does). Unmounted
 * with the temporary folder holding `dir`. Returns "" or why it could not
 * be mounted.
 */
export async function mountExt4(image: string, dir: string, sizeMiB = 16): Promise<string> {
  Deno.writeFileSync(image, new Uint8Array());
  Deno.truncateSync(image, sizeMiB * 1024 * 1024);
  let mk: Deno.CommandOutput;
  try {
    mk = await new Deno.Command("mkfs.ext4", {
      args: ["-q", "-F", image],
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (e) {
    return `mkfs.ext4: ${(e as Error).message}`;
  }
  if (!mk.success) {
    return new TextDecoder().decode(mk.stderr).trim() || `mkfs.ext4 exited ${mk.code}`;
  }
  return mount(["-t", "ext4", "-o", "loop", image, dir], dir);
}

let mountable: boolean | undefined;

/**
 * Fill the file system holding `dir` (a small tmpfs a test mounted) with
 * the file `dir`/fill, until no whole page more fits.
 *
 * @example
 * ```ts ignore
 * fillUp(mnt); // later writes there fail with ENOSPC (or are short)
 * ```
 */
export function fillUp(dir: string): void {
  const fill = Deno.openSync(`${dir}/fill`, { write: true, create: true });
  try {
    for (;;) if (fill.writeSync(new Uint8Array(4096)) < 4096) break;
  } catch (e) {
    if (!String(e).includes("No space left on device")) throw e;
  } finally {
    fill.close();
  }
}

/**
 * Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, outside
 * a locked container): tested once, by mounting one. When it may not, the
 * tests that need it are ignored (`ignore: !canMountTmpfs()`) and this says
 * so once, on one line; with CI=true it throws instead (they must run there).
 */
export function canMountTmpfs(): boolean {
  if (mountable === undefined) {
    mountable = false;
    if (Deno.build.os === "linux") {
      const dir = Deno.makeTempDirSync({ prefix: "pwalk-mount-probe-" });
      try {
        mountable = new Deno.Command("mount", {
          args: ["-t", "tmpfs", "-o", "size=1m", "pwalk-probe", dir],
          stdout: "null",
          stderr: "null",
        }).outputSync().success;
        if (mountable) new Deno.Command("umount", { args: [dir] }).outputSync();
      } catch {
        // no mount command
      } finally {
        Deno.removeSync(dir);
      }
    }
    if (!mountable && IN_CI) {
      // in CI they must run: a machine that cannot is no place to land from
      throw new Error(
        "CI=true and a tmpfs cannot be mounted here: the tests that mount one need root with CAP_SYS_ADMIN",
      );
    }
    if (!mountable) {
      console.log("ignored: the tests that mount a tmpfs (needs root with CAP_SYS_ADMIN)");
    }
  }
  return mountable;
}
