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

/**
 * Wait until the wall clock is in a second later than the ctime of every
 * one of `paths` (none: than now). Repair changes a file with other hard
 * links only when its ctime is older than the second the run starts in
 * (docs/repair.md, rule 9: its names cannot have changed during the run),
 * so a test that links names and then expects the change waits for this
 * first (at most a second).
 *
 * @example
 * ```ts ignore
 * Deno.linkSync(`${root}/a/f`, `${root}/b/f2`);
 * await ctimesPast(`${root}/a/f`);
 * ```
 */
export async function ctimesPast(...paths: string[]): Promise<void> {
  const seconds = paths.length
    ? paths.map((p) => Math.floor(Deno.lstatSync(p).ctime!.getTime() / 1000))
    : [Math.floor(Date.now() / 1000)];
  // (and a tick more: repair reads its start second from the coarse
  // clock, CLOCK_REALTIME_COARSE, which runs up to a tick, 10 ms at most,
  // behind Date.now(): 50 ms past the second, both have passed it)
  const after = (Math.max(...seconds) + 1) * 1000 + 50;
  await waitFor(() => Date.now() >= after, { what: "the next second", everyMs: 20 });
}
