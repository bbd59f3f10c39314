/**
 * Child of tests/walk_lifecycle_test.ts (run with --v8-flags=--expose-gc):
 * starts N walks of ROOT (walk() and walkDirs() in turn), takes one item
 * of each, counts their workers and drops the iterators without ending them
 * (no `break`, no `return()`), then collects garbage until their worker threads are gone
 * or 30 s have passed. Prints
 * `{"started":T,"left":L,"fdsBefore":A,"fdsAfter":B}` on stdout: T worker
 * threads ran, L are left.
 *
 * With a third argument `signal`, every walk takes the signal of one
 * AbortController that lives on (and never fires): its listeners must not
 * keep the dropped walks alive.
 *
 * usage: deno run -A --v8-flags=--expose-gc walk_child_abandon.ts ROOT N [signal]
 *
 * @module
 */
import { walk, walkDirs } from "../../mod.ts";
import { nativeThreads } from "./walk_tree.ts";

const [root, n, withSignal] = Deno.args;
const controller = new AbortController();
const signal = withSignal === "signal" ? controller.signal : undefined;
const gc = (globalThis as unknown as { gc: () => void }).gc;
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fdsBefore = fds();
// Held until their workers are counted, then dropped: a collection before
// the count (V8 may collect them at any allocation, a loaded machine's
// slow walks allocating more meanwhile) had cancelled every walk, and
// counted no worker (started 0: the test could not tell it ran).
let held: AsyncIterator<unknown>[] = [];
async function start(i: number): Promise<void> {
  const it = i % 2 ? walkDirs(root, { threads: 2, signal }) : walk(root, { threads: 2, signal });
  await it.next(); // one item; the iterator is held, then dropped
  held.push(it);
}
for (let i = 0; i < Number(n); i++) await start(i);
await sleep(200); // the workers fill their batches and block
const started = nativeThreads().length;
held = []; // dropped, none ended
const deadline = performance.now() + 30_000;
while (nativeThreads().length > 0 && performance.now() < deadline) {
  gc();
  await sleep(50);
}
await sleep(200);
console.log(
  JSON.stringify({ started, left: nativeThreads().length, fdsBefore, fdsAfter: fds() }),
);
if (controller.signal.aborted) throw new Error("never aborted"); // the controller lives to here
