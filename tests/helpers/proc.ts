/**
 * What a running process is doing, as /proc (Linux) shows it: where its
 * threads sleep in the kernel, what its descriptors name. For waiting on a
 * state (with waitFor) instead of sleeping for a guessed time.
 *
 * @module
 */

/**
 * Python source of `waiting_on_pipe(pid)`, for a test's Python driver: a
 * thread of process `pid` waits for room in a pipe (pipe_write: a blocking
 * write; poll_schedule: a poll after EAGAIN on a non-blocking one).
 */
export const PY_WAITING_ON_PIPE = `
def waiting_on_pipe(pid):
  try:
    tasks = os.listdir("/proc/%d/task" % pid)
  except OSError:
    return False
  for t in tasks:
    try:
      w = open("/proc/%d/task/%s/wchan" % (pid, t)).read()
    except OSError:
      continue
    if w.endswith("pipe_write") or w.startswith("poll_schedule"): return True
  return False
`;

/**
 * Where each thread of process `pid` sleeps in the kernel (its wchan: a
 * kernel function's name, "0" when running); [] once the process ended.
 */
export function threadWchans(pid: number): string[] {
  let tasks: Deno.DirEntry[];
  try {
    tasks = Array.from(Deno.readDirSync(`/proc/${pid}/task`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return []; // the process ended
    throw e;
  }
  return tasks.flatMap((t) => {
    try {
      return [Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/wchan`).trim()];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

/** What each open descriptor of process `pid` names; [] once the process ended. */
export function openNames(pid: number): string[] {
  let fds: Deno.DirEntry[];
  try {
    fds = Array.from(Deno.readDirSync(`/proc/${pid}/fd`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return fds.flatMap((f) => {
    try {
      return [Deno.readLinkSync(`/proc/${pid}/fd/${f.name}`)];
    } catch {
      return []; // closed meanwhile
    }
  });
}

/**
 * Whether process `pid` is waiting for a reader of a FIFO in folder `dir`:
 * the library opens the FIFO without blocking and, while no reader has it
 * (ENXIO), sleeps and tries again (native/sink.c open_fifo), holding a
 * descriptor of the FIFO's folder until it opens. So: that descriptor held
 * and a thread asleep in nanosleep (its wchan `hrtimer_nanosleep`, or
 * `do_nanosleep` on older kernels).
 */
export function waitingForFifoReader(pid: number, dir: string): boolean {
  return openNames(pid).includes(dir) &&
    threadWchans(pid).some((w) => w === "hrtimer_nanosleep" || w === "do_nanosleep");
}
