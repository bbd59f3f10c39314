/**
 * What an interrupted command must remove: partial outputs and spill
 * folders registered while they exist, removed by the CLI's signal handler
 * (lib/cli/common.ts) before it exits, and by the "unload" event that
 * `Deno.exit()` dispatches (a script of the API's ending its process while
 * a report is written). No imports: the CLI's static module graph stays
 * small.
 *
 * @module
 */

/** Paths to remove when the process is interrupted: partial outputs (true), spill folders and probes. */
const pending = new Map<string, boolean>();

/** Whether {@link removePending} ran: the process is ending. */
let ended = false;

/**
 * Whether an interrupt's clean-up ({@link removePending}) ran: the process
 * is ending, and a temporary made now would not be removed.
 */
export function interrupted(): boolean {
  return ended;
}

/** The "unload" listener, in place while anything is pending. */
const onUnload = () => removePending();

/**
 * Remove `path` (a partial output, or a spill folder or an empty probe
 * when `output` is false) if the process is interrupted before the returned function is
 * called: by a signal the CLI takes, or by `Deno.exit()` (its "unload"
 * event; a process killed outright, `kill -9`, leaves it).
 *
 * @example
 * ```ts ignore
 * const forget = removeOnInterrupt(partial);
 * try { await write(partial); await Deno.rename(partial, out); } finally { forget(); }
 * ```
 */
export function removeOnInterrupt(path: string, output = true): () => void {
  if (!pending.size) globalThis.addEventListener("unload", onUnload);
  pending.set(path, output);
  return () => {
    if (pending.delete(path) && !pending.size) globalThis.removeEventListener("unload", onUnload);
  };
}

/**
 * Remove every path registered by {@link removeOnInterrupt} (the CLI's
 * signal handler); returns how many partial outputs there were.
 */
export function removePending(): number {
  ended = true;
  let outputs = 0;
  for (const [p, output] of pending) {
    try {
      Deno.removeSync(p, { recursive: true });
      if (output) outputs++;
    } catch {
      // gone already
    }
  }
  pending.clear();
  globalThis.removeEventListener("unload", onUnload);
  return outputs;
}

/** How many outputs took their names whole in this process ({@link outputPlaced}). */
let placed = 0;

/**
 * Count an output put in place whole (a temporary renamed over its name):
 * the CLI's signal handler tells a file written whole before the signal
 * from one left as it was.
 */
export function outputPlaced(): void {
  placed++;
}

/** How many outputs {@link outputPlaced} counted so far. */
export function outputsPlaced(): number {
  return placed;
}

/** What must be done before a process quits without waiting for its workers. */
const quitHooks = new Set<() => void>();

/**
 * Call `hook` should the process quit without waiting for its workers (a
 * second Ctrl-C while they hang in a file system: the CLI ends at once,
 * and nothing after the wait runs): an applied repair's system log line,
 * say. Until the returned function is called.
 *
 * @example
 * ```ts ignore
 * const forget = onQuit(() => logRun("quit"));
 * try { await job.finish(); } finally { forget(); logRun("done"); }
 * ```
 */
export function onQuit(hook: () => void): () => void {
  quitHooks.add(hook);
  return () => void quitHooks.delete(hook);
}

/** Run every {@link onQuit} hook once (the CLI, as it quits); one that throws does not stop the others. */
export function runQuitHooks(): void {
  for (const hook of quitHooks) {
    quitHooks.delete(hook);
    try {
      hook();
    } catch { /* the next one */ }
  }
}
