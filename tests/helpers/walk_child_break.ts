/**
 * Child of tests/walk_lifecycle_test.ts: leaves a walk of ROOT after 10
 * entries (by `break`, `return`, a thrown error or an abort; "stalled-break"
 * first waits until the workers have filled every batch and block;
 * "skip-break" walks with a `skip` test, a callback the workers call), then
 * lets the process end by itself: it must exit, with status 0, promptly.
 * Prints `{"entries":10,"cleanupMs":...,"workersLeft":0}` on stdout.
 *
 * "bad-option" starts a walk with a skip test and a refused option.
 *
 * usage: deno run -A walk_child_break.ts ROOT break|stalled-break|skip-break|return|throw|abort|bad-option
 *
 * @module
 */
import { walk } from "../../mod.ts";
import { blockedWorkers, nativeThreads, threadsLeft } from "./walk_tree.ts";

const [root, how] = Deno.args;
if (how === "bad-option") {
  // A walk refused at its start (with a skip callback made): the process
  // must still end by itself.
  try {
    await walk(root, { skip: [/no-such-name$/], batchBytes: 10 }).next();
  } catch (e) {
    console.log(
      JSON.stringify({ rejected: (e as Error).name, workersLeft: (await threadsLeft()).length }),
    );
  }
} else {
  await leaveEarly();
}

async function leaveEarly(): Promise<void> {
  const ac = new AbortController();
  const it = walk(root, {
    threads: 4,
    signal: ac.signal,
    skip: how === "skip-break" ? [/no-such-name$/] : [],
  });
  await it.next();
  let entries = 1;
  let t0 = 0;
  let workersBefore = -1;
  try {
    for await (const _ of it) {
      if (++entries < 10) continue;
      if (entries > 10) continue; // aborted: still yielding (a bug)
      if (how === "stalled-break") await blockedWorkers();
      workersBefore = nativeThreads().length;
      t0 = performance.now();
      if (how.endsWith("break")) break;
      if (how === "return") await it.return!(undefined);
      if (how === "throw") throw new Error("consumer failed");
      if (how === "abort") ac.abort(new Error("stop"));
    }
  } catch (e) {
    if ((e as Error).message !== (how === "throw" ? "consumer failed" : "stop")) throw e;
  }
  const cleanupMs = performance.now() - t0;
  console.log(
    JSON.stringify({
      entries,
      cleanupMs,
      workersBefore,
      workersLeft: (await threadsLeft()).length,
    }),
  );
}
