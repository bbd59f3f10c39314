/**
 * Child of tests/walk_lifecycle_test.ts: a slow consumer of walk(ROOT).
 * It sleeps 1 ms every 1,000 entries and stalls once at 10% of the walk
 * (until the workers block, then STALL_MS more), sampling its memory
 * (VmRSS) and the walk's worker threads (alive? state? CPU time?) before,
 * during and after the stall.  Prints JSON on stdout.
 *
 * usage: deno run -A walk_child_memory.ts ROOT EXPECTED_ENTRIES STALL_MS
 *
 * @module
 */
import { walk } from "../../mod.ts";
import { blockedWorkers, nativeThreads, threadsLeft } from "./walk_tree.ts";

const [root, expectedArg, stallArg] = Deno.args;
const expected = Number(expectedArg);
const stallMs = Number(stallArg);
const status = () => Deno.readTextFileSync("/proc/self/status");
const kib = (field: string) =>
  Number(status().match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))![1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rssStart = kib("VmRSS");
let rss10 = 0, rssStalled = 0, rss90 = 0;
let early: ReturnType<typeof nativeThreads> = [];
let late: ReturnType<typeof nativeThreads> = [];
const it = walk(root, { threads: 2, batches: 1 });
await it.next(); // the library names its workers: nativeThreads() finds them
let entries = 1;
for await (const _ of it) {
  entries++;
  // The slow consumer is what is tested: these sleeps stay.
  if (entries % 1000 === 0) await sleep(1);
  if (entries === Math.floor(expected / 10)) {
    rss10 = kib("VmRSS");
    early = await blockedWorkers(); // they fill the free batches and wait
    await sleep(stallMs); // the stall: nothing may run or pile up meanwhile
    late = nativeThreads();
    rssStalled = kib("VmRSS");
  }
  if (entries === Math.floor((expected * 9) / 10)) rss90 = kib("VmRSS");
}
console.log(JSON.stringify({
  entries,
  errors: it.errors.length,
  rssStart,
  rss10,
  rssStalled,
  rss90,
  rssEnd: kib("VmRSS"),
  hwm: kib("VmHWM"),
  early,
  late,
  workersLeft: (await threadsLeft()).length,
}));
