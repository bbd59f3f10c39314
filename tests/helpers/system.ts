/**
 * What a test needs from the system that `deno task test` cannot install:
 * programs and files of Debian packages (qemu-user, llvm, gcc...), which
 * only .ci/run installs.
 *
 * A test that needs them is declared with {@link testNeeding}. When one is
 * missing, outside CI the test is ignored with one line naming the package;
 * in CI (`CI=true`, set by .ci/run) it fails, naming the package, so CI can
 * never skip it silently.
 *
 * @example
 * ```ts ignore
 * testNeeding([ZSTD], { name: "the zstd command reads it", async fn() { ... } });
 * ```
 *
 * @module
 */

/** A program (looked up on PATH) or an absolute file path, and the Debian package that has it. */
export interface Need {
  /** A command name, or an absolute path that must exist. */
  tool: string;
  /** The Debian package to install for it. */
  debianPackage: string;
}

/** A program or file a test needs, and its Debian package. */
export function requireTool(tool: string, debianPackage: string): Need {
  return { tool, debianPackage };
}

/** The C compiler (LD_PRELOAD shims). */
export const CC: Need = requireTool("cc", "gcc");
/** tmux (a terminal of a given width for the progress line). */
export const TMUX: Need = requireTool("tmux", "tmux");
/** script (a pseudo-terminal for stdout and stderr both). */
export const SCRIPT: Need = requireTool("script", "bsdutils");
/** Headless Chromium (the summary and diff HTML pages in a real browser). */
export const CHROMIUM: Need = requireTool("chromium", "chromium");
/** npm (README's install path). */
export const NPM: Need = requireTool("npm", "npm");
/** The zstd command (the independent decompressor). */
export const ZSTD: Need = requireTool("zstd", "zstd");
/** setpriv (run.ts: UNPRIVILEGED). */
export const SETPRIV: Need = requireTool("setpriv", "util-linux");
/** prlimit (a child run under a resource limit: RLIMIT_FSIZE). */
export const PRLIMIT: Need = requireTool("prlimit", "util-linux");
/** unshare (a run in a PID namespace of its own). */
export const UNSHARE: Need = requireTool("unshare", "util-linux");
/** qemu-aarch64, to run the aarch64 library. */
export const QEMU_AARCH64: Need = requireTool("qemu-aarch64", "qemu-user");
/** The aarch64 glibc qemu-aarch64 runs with (-L /usr/aarch64-linux-gnu). */
export const AARCH64_LIBC: Need = requireTool(
  "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
  "libc6-arm64-cross",
);
/** llvm-nm. */
export const LLVM_NM: Need = requireTool("llvm-nm", "llvm");
/** llvm-objdump. */
export const LLVM_OBJDUMP: Need = requireTool("llvm-objdump", "llvm");
/** llvm-readelf (ELF headers and program headers, as readelf prints them). */
export const LLVM_READELF: Need = requireTool("llvm-readelf", "llvm");
/** Python 3 (a syslog socket listener). */
export const PYTHON3: Need = requireTool("python3", "python3");
/** The file command. */
export const FILE: Need = requireTool("file", "file");
/** fusermount3 (bench/slowfs.c mounted by a test). */
export const FUSERMOUNT: Need = requireTool("fusermount3", "fuse3");
/** pkg-config, to build bench/slowfs.c against libfuse3 (libfuse3-dev). */
export const PKG_CONFIG: Need = requireTool("pkg-config", "pkg-config");

/** chattr (e2fsprogs), for an append-only folder. */
export const CHATTR: Need = requireTool("chattr", "e2fsprogs");
/** strace, to see the order of a run's system calls. */
export const STRACE: Need = requireTool("strace", "strace");

/**
 * The fields of a /proc stat file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`)
 * after the command's name, which may hold blanks and parentheses: [0] is
 * the state letter (field 3), [2] the process group, [20] vsize (field 23).
 * Throws when the file cannot be read (the process or thread is gone).
 */
export function procStat(path: string): string[] {
  const stat = Deno.readTextFileSync(path);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Whether this is CI (`CI=true`): there every need is required. */
export const IN_CI: boolean = Deno.env.get("CI") === "true";

/**
 * A test (or a case of one) that cannot run on this machine, for `why`
 * ("chattr +a fails here: ..."): outside CI one line says so, and the
 * caller returns; in CI (`CI=true`) it throws, as a test that passes
 * without testing anything is no place to land from.
 *
 * @example
 * ```ts ignore
 * if (a.code !== 0) return notHere(`chattr +a fails here: ${a.stderr}`);
 * ```
 */
export function notHere(why: string): void {
  if (IN_CI) throw new Error(`CI=true and this cannot be tested here: ${why}`);
  console.log(`not tested here: ${why}`);
}

function isExecutable(path: string): boolean {
  try {
    const s = Deno.statSync(path);
    return s.isFile && ((s.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Whether the need is met: the file exists, or the program is on PATH. */
export function present(n: Need): boolean {
  if (n.tool.startsWith("/")) {
    try {
      Deno.statSync(n.tool);
      return true;
    } catch {
      return false;
    }
  }
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  return dirs.some((d) => isExecutable(`${d}/${n.tool}`));
}

/** The needs not met, as `tool (Debian package p)`, joined; "" when all are met. */
export function missing(needs: Need[]): string {
  return needs.filter((n) => !present(n))
    .map((n) => `${n.tool} (Debian package ${n.debianPackage})`).join(", ");
}

/**
 * Deno.test(def) for a test that needs system packages. When one is
 * missing: outside CI the test is ignored and one line says which package
 * it needs; in CI the test fails with that message.
 */
export function testNeeding(needs: Need[], def: Deno.TestDefinition): void {
  const lack = missing(needs);
  if (lack === "") return Deno.test(def);
  if (IN_CI) {
    return Deno.test({
      ...def,
      fn() {
        const them = lack.includes(",") ? "them" : "it";
        throw new Error(`CI=true and this test needs ${lack}: .ci/run must install ${them}`);
      },
    });
  }
  if (!def.ignore) console.log(`ignored outside CI: "${def.name}" needs ${lack}`);
  Deno.test({ ...def, ignore: true });
}

/** CPUs this process may run on (what the native walk counts as its floor of readers). */
export function allowedCpus(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n")
    .find((l) => l.startsWith("Cpus_allowed_list:"))!;
  let n = 0;
  for (const part of line.split(":")[1].trim().split(",")) {
    const [a, b] = part.split("-").map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

/** The name the library gives a walk's worker threads (native/sys.h, pw_thread_name). */
export const WORKER_NAME = "pwalk-worker";

/** The name of the thread that governs how many workers read. */
export const GOVERNOR_NAME = "pwalk-governor";

/** The names the library gives its threads: workers, governor, repair's journal syncer. */
export const LIBRARY_THREADS = [WORKER_NAME, GOVERNOR_NAME, "pwalk-journal"];

/**
 * Threads of process `pid` named like its main thread or by the library
 * ({@link LIBRARY_THREADS}): the main thread, the threads it started
 * (they inherit its name) and the library's (-1 once the process is gone).
 */
export function namedLikeMain(pid: number): number {
  const read = (t: string) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/task/${t}/comm`);
    } catch {
      return "";
    }
  };
  try {
    const main = read(String(pid));
    return Array.from(Deno.readDirSync(`/proc/${pid}/task`)).filter((t) => {
      const name = read(t.name);
      if (name !== main && !LIBRARY_THREADS.includes(name.trim())) return false;
      // vsize 0: a thread that has ended and only waits for the kernel to
      // remove its entry (one the governor took away), as nativeThreads()
      try {
        return Number(procStat(`/proc/${pid}/task/${t.name}/stat`)[20]) !== 0;
      } catch {
        return false; // gone meanwhile
      }
    }).length;
  } catch {
    return -1;
  }
}

/** A thread count seen at a time (performance.now(), ms). */
export interface ThreadLook {
  /** When it was seen. */
  at: number;
  /** How many threads. */
  n: number;
}

/**
 * The highest thread count held through a span of at least `ms`: every
 * look over that span saw at least that many (0 when no span is that
 * long). A level the library keeps, not a moment's: a thread that is
 * replaced (the old one not yet gone from /proc), or a reader added and
 * taken back at the governor's next look, does not count, however loaded
 * the machine; readers kept for longer do. Throws when the looks span
 * less than 3 times `ms`.
 */
export function heldLevel(looks: ThreadLook[], ms: number): number {
  const span = looks.length ? looks.at(-1)!.at - looks[0].at : 0;
  if (span < 3 * ms) {
    throw new Error(
      `threads looked at for ${span.toFixed(0)} ms: too short to tell a level of ${ms} ms`,
    );
  }
  let best = 0;
  for (let i = 0; i < looks.length; i++) {
    let least = Infinity;
    for (let j = i; j < looks.length; j++) {
      least = Math.min(least, looks[j].n);
      if (least <= best) break;
      if (looks[j].at - looks[i].at >= ms) {
        best = least;
        break;
      }
    }
  }
  return best;
}

/**
 * Watch child `p` until it ends, counting its threads named like its main
 * one or by the library ({@link namedLikeMain}) every 2 ms: the most seen,
 * every look that saw it running (for {@link heldLevel}), and its output.
 * Fails unless it exits 0 after at least 10 looks.
 */
export async function watchThreads(
  p: Deno.ChildProcess,
): Promise<{ most: number; looks: number; seen: ThreadLook[]; out: Deno.CommandOutput }> {
  let most = 0;
  const seen: ThreadLook[] = [];
  const ended = p.status.then(() => true);
  while (!(await Promise.race([ended, new Promise<false>((r) => setTimeout(r, 2, false))]))) {
    const n = namedLikeMain(p.pid);
    if (n > 0) seen.push({ at: performance.now(), n });
    most = Math.max(most, n);
  }
  const looks = seen.length;
  const out = await p.output();
  if (!out.success) throw new Error(`exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  if (looks < 10) throw new Error(`the process ended after ${looks} looks: too soon to tell`);
  return { most, looks, seen, out };
}
