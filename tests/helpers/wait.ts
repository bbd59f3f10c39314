/**
 * Waiting for a state instead of sleeping for a guessed time.
 *
 * @module
 */

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** What is awaited, for the error message ("the workers to block"). */
  what: string;
  /** The deadline: a hang guard, generous, never a timing check. Default 30 s. */
  timeoutMs?: number;
  /** Time between two polls (default 5 ms). */
  everyMs?: number;
  /** What the state was at the deadline, added to the error message. */
  detail?: () => string;
}

/**
 * Poll `cond` until it returns a truthy value, and return that value; throw
 * `timed out after N ms waiting for <what>: <detail()>` if the deadline
 * passes first.
 *
 * @example
 * ```ts ignore
 * await waitFor(() => nativeThreads().every((t) => t.state === "S"), { what: "the workers to block" });
 * ```
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  { what, timeoutMs = 30_000, everyMs = 5, detail }: WaitOptions,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) {
      const state = detail ? `: ${detail()}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
