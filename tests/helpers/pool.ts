/**
 * Independent child processes of a test started a few at a time
 * ({@link pooled}): most of a CLI run is Deno's start-up and DuckDB's load,
 * one core's work, so two at once take about half the wall time of one
 * after another. Only for runs that share nothing they change (each its
 * own output, or none) and whose results do not depend on the load (no
 * timing, signals, thread or descriptor counts).
 *
 * @module
 */

/** How many runs {@link pooled} starts at once unless told. */
export const POOL = 2;

/**
 * `fn` of each item, at most `limit` running at once, started in the
 * items' order; the results in that order. All run to their end before it
 * returns; then the first error (by item) is thrown, if any.
 */
export async function pooled<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  limit: number = POOL,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const errors: { i: number; e: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        errors.push({ i, e });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length > 0) throw errors.sort((a, b) => a.i - b.i)[0].e;
  return results;
}
