/**
 * bench/slowfs.c, a FUSE view of a folder that waits on every metadata
 * request (as NFS or Lustre make each one a network round trip), built and
 * mounted for a test. Needs cc, pkg-config with libfuse3-dev, and
 * fusermount3 (system.ts CC, PKG_CONFIG, FUSERMOUNT).
 *
 * @module
 */
import { REPO, run, runOk } from "./run.ts";
import { procStat } from "./system.ts";
import { waitFor } from "./wait.ts";

/** A mounted slowfs view, unmounted (and its server stopped) on dispose. */
export interface Slowfs extends AsyncDisposable {
  /** The mount point: src as slowfs serves it. */
  path: string;
  /**
   * Kill the server outright (SIGKILL), leaving the mount dead: every
   * request then fails with ENOTCONN, as on a network or FUSE file system
   * whose server is gone. Dispose still unmounts it.
   */
  killServer(): Promise<void>;
  /**
   * Stop the server (SIGSTOP): every request then waits, as on a hung NFS
   * or FUSE server, until {@link Slowfs.resume}. Dispose resumes it.
   * Settles once every thread of the server is stopped: a signal that stops
   * a process is taken by one of its threads, and until that one runs the
   * others go on answering requests (on a loaded machine a walk started
   * meanwhile went past the folder meant to hang it).
   */
  pause(): Promise<void>;
  /** Let a paused server go on (SIGCONT). */
  resume(): void;
  /**
   * The server's state and the mount's, for a failure's message, read
   * without a request to the mount (a stat there would wait on a stopped
   * server): `slowfs pid 123: T, paused; /tmp/x/mnt mounted (fuse)`.
   */
  describe(): string;
  /**
   * Whether a thread of the server is in a request's wait now (the
   * SLOWFS_DELAY_US sleep: with SLOWFS_ONLY, a request on a path that
   * holds that name), not a request answered at once: a client then waits
   * on the slow part of the tree (on a loaded machine, a client caught in
   * any FUSE request may be in a quick one, such as its ROOT's stat).
   */
  slowRequest(): boolean;
}

/**
 * Build bench/slowfs.c in `work` (a test's temporary folder) and mount `src`
 * at `mnt` (default `${work}/mnt`, made here) with it. `env` sets slowfs's
 * SLOWFS_DELAY_US (the wait per request, in microseconds), SLOWFS_ONLY
 * (wait only on paths that hold this name), SLOWFS_USE_INO ("1": the
 * source's inode numbers, the same after a remount), SLOWFS_LOOP (a
 * folder of this name is the source's root again: a directory cycle) and
 * SLOWFS_NLINK (every file's link count), SLOWFS_FOLDCASE ("1": a name is
 * found in any case, as on FAT, exFAT, SMB or APFS);
 * `options` are its -o mount
 * options (no kernel caching by default: every request waits).
 */
export async function mountSlowfs(
  work: string,
  src: string,
  env: {
    SLOWFS_DELAY_US: string;
    SLOWFS_ONLY?: string;
    SLOWFS_USE_INO?: string;
    SLOWFS_LOOP?: string;
    SLOWFS_NLINK?: string;
    SLOWFS_FOLDCASE?: string;
  },
  options = "ro,attr_timeout=0,entry_timeout=0",
  mnt = `${work}/mnt`,
): Promise<Slowfs> {
  const bin = `${work}/slowfs`;
  const fuse = (await runOk("pkg-config", ["--cflags", "--libs", "fuse3"])).text.trim();
  await runOk("cc", ["-O2", "-o", bin, `${REPO}/bench/slowfs.c`, ...fuse.split(/\s+/)]);
  await Deno.mkdir(mnt);
  const fs = new Deno.Command(bin, {
    args: [src, mnt, "-f", "-o", options],
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  let ended = false;
  let paused = false;
  const status = fs.status.finally(() => ended = true);
  const resume = () => {
    if (paused && !ended) fs.kill("SIGCONT");
    paused = false;
  };
  const stop = async () => {
    resume(); // (a stopped server would not end)
    if (!ended) fs.kill("SIGTERM");
    await status;
    await run("fusermount3", ["-uz", mnt]);
  };
  try {
    await waitFor(
      () => {
        if (ended) throw new Error("slowfs ended before it mounted");
        // mounted: on another device than the folder holding it (src's
        // may differ before: a src that is a mount of its own)
        return Deno.statSync(mnt).dev !== Deno.statSync(`${mnt}/..`).dev;
      },
      { what: `slowfs to mount ${src} at ${mnt}` },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const killServer = async () => {
    if (!ended) fs.kill("SIGKILL");
    await status;
  };
  const pause = async () => {
    paused = true;
    if (ended) return;
    fs.kill("SIGSTOP");
    // each thread's state, the first field after its command's name
    const states = () => {
      try {
        return [...Deno.readDirSync(`/proc/${fs.pid}/task`)]
          .map((t) => procStat(`/proc/${fs.pid}/task/${t.name}/stat`)[0]);
      } catch (e) {
        return [`unread (${(e as Error).message})`]; // (ended meanwhile: see ended)
      }
    };
    await waitFor(() => ended || states().every((s) => s === "T"), {
      what: "every thread of the slowfs server to stop",
      timeoutMs: 20_000,
      detail: () => `${JSON.stringify(states())}; ${describe()}`,
    });
  };
  const describe = () => {
    let state = "ended";
    if (!ended) {
      try {
        state = procStat(`/proc/${fs.pid}/stat`)[0];
      } catch (e) {
        state = `unknown (${(e as Error).message})`;
      }
    }
    // (mountinfo's 5th field is the mount point, 9th after " - " the type)
    const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .find((l) => l.split(" ")[4] === mnt);
    const mounted = line ? `mounted (${line.split(" - ")[1]?.split(" ")[0]})` : "not mounted";
    return `slowfs pid ${fs.pid}: ${state}${paused ? ", paused" : ""}; ${mnt} ${mounted}`;
  };
  const slowRequest = () => {
    let tasks: Deno.DirEntry[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${fs.pid}/task`)];
    } catch {
      return false; // (ended)
    }
    return tasks.some((t) => {
      try {
        // usleep(3): nanosleep, in the kernel's hrtimer_nanosleep
        return /nanosleep/.test(Deno.readTextFileSync(`/proc/${fs.pid}/task/${t.name}/wchan`));
      } catch {
        return false; // (the thread ended meanwhile)
      }
    });
  };
  return {
    path: mnt,
    killServer,
    pause,
    resume,
    describe,
    slowRequest,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A dead FUSE mount at `${work}/mnt`: slowfs over `${work}/src` (one folder,
 * `a`), its server killed, so that every request there fails with
 * ENOTCONN. Dispose unmounts it.
 */
export async function deadMount(work: string): Promise<Slowfs> {
  const src = `${work}/src`;
  await Deno.mkdir(`${src}/a`, { recursive: true });
  const fs = await mountSlowfs(work, src, { SLOWFS_DELAY_US: "0" });
  await fs.killServer();
  return fs;
}
