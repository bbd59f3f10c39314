/**
 * A wait that a signal ends: for work that goes on in another thread
 * (a listing of a hung mount, a read of a FIFO, a write to a pipe nobody
 * reads), which no abort reaches. No imports.
 *
 * @module
 */

/**
 * `p`, or the signal's reason as soon as `signal` aborts: a listing in a
 * hung (or slow) file system, a read of a FIFO, is not waited for once the
 * work is stopped (it settles later, unheard).
 *
 * @example
 * ```ts ignore
 * const l = await abortable(listFolder(root, folder), signal);
 * ```
 */
export function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  p.catch(() => {}); // (settled after an abort: nobody waits for it then)
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
