/**
 * walk() lifecycle (issue 3): leaving the loop early, cancelling with an
 * AbortSignal, and memory with a slow consumer, over a 100,000-file tree.
 * In-process tests keep Deno's op and resource sanitizers on; the exit and
 * memory tests run child processes (tests/helpers/walk_child_*.ts).
 */
import {
  assert,
  assertEquals,
  assertLess,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { nativeVersion, walk, walkDirs, type WalkEntry } from "../mod.ts";
import { helperScript, REPO, run } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { allowedCpus, heldLevel, type ThreadLook } from "./helpers/system.ts";
import { waitFor } from "./helpers/wait.ts";
import {
  BIG_FILES,
  bigTree,
  blockedWorkers,
  nativeThreads,
  threadsLeft,
} from "./helpers/walk_tree.ts";

nativeVersion(); // load the library outside any test (it is a resource)

const BIG_ENTRIES = BIG_FILES + 101; // 100 folders and the root
const MiB = 1024;

Deno.test({
  name: "walk: break after 10 of 100,000 entries: threads stopped, nothing left (sanitizers on)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const root = await bigTree();
    for (const how of ["break", "stalled-break", "skip-break", "return", "throw"]) {
      // skip-break: the workers call back into JavaScript for every folder.
      const it = walk(root, { threads: 4, skip: how === "skip-break" ? [/no-such-name$/] : [] });
      await it.next();
      let n = 1;
      try {
        for await (const _ of it) {
          if (++n < 10) continue;
          if (how === "stalled-break") {
            // Every batch full: the workers wait; leaving must wake them.
            assertEquals((await blockedWorkers()).length, 4, "the 4 workers, waiting");
          }
          if (how.endsWith("break")) break;
          if (how === "return") await it.return!(undefined);
          if (how === "throw") throw new Error("consumer failed");
        }
      } catch (e) {
        if ((e as Error).message !== "consumer failed") throw e;
      }
      assertEquals(n, 10, how);
      // The generator's cleanup joined every worker before the loop ended.
      assertEquals(await threadsLeft(), [], how);
      assertEquals(await it.next(), { done: true, value: undefined });
    }
    const dirs = walkDirs(root);
    for await (const _ of dirs) break;
    assertEquals(await threadsLeft(), []);
  },
});

Deno.test("walk, walkDirs: 'await using' and return() (typed, no cast) end a walk left early: its threads joined, the iterator done", async () => {
  const root = await bigTree();
  for (const make of [() => walk(root), () => walkDirs(root)]) {
    let it;
    {
      await using w = make();
      it = w;
      await w.next(); // started: its workers run
      assert(nativeThreads().length > 0, "no worker ran");
    } // left early: disposed here
    assertEquals(await threadsLeft(), [], "workers left after await using");
    assertEquals((await it.next()).done, true);
    const again = make();
    await again.next();
    assertEquals((await again.return()).done, true); // return() without a cast
    assertEquals(await threadsLeft(), [], "workers left after return()");
  }
});

Deno.test("walk: a process that leaves a 100,000-file walk early exits by itself", async () => {
  const root = await bigTree();
  for (const how of ["break", "stalled-break", "skip-break", "return", "throw", "abort"]) {
    // a hang guard, not a time limit: a loaded machine starts Deno slowly
    const r = await helperScript("walk_child_break.ts", [root, how], { timeoutMs: 120_000 });
    assert(!r.timedOut, `${how}: the process did not exit (hung for 120 s)`);
    assertEquals(r.code, 0, `${how}: ${r.stderr}`);
    const out = JSON.parse(r.text);
    assertEquals(out.entries, 10, how);
    assertEquals(out.workersBefore, 4, how);
    assertEquals(out.workersLeft, 0, how);
  }
});

Deno.test("walk: a walk refused at its start leaves nothing that keeps the process alive", async () => {
  const root = await bigTree();
  const r = await helperScript("walk_child_break.ts", [root, "bad-option"], {
    timeoutMs: 120_000,
  });
  assert(!r.timedOut, "the process did not exit (hung for 120 s)");
  assertEquals(r.code, 0, r.stderr);
  assertEquals(JSON.parse(r.text), { rejected: "RangeError", workersLeft: 0 });
});

Deno.test({
  name: "walk option signal: abort rejects with the reason, stops yielding and frees everything",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const root = await bigTree();
    // Aborted inside the loop: the next step rejects with the very reason.
    {
      const ac = new AbortController();
      const reason = new Error("enough");
      const it = walk(root, { signal: ac.signal });
      await it.next();
      let n = 1;
      const err = await assertRejects(async () => {
        for await (const _ of it) if (++n === 100) ac.abort(reason);
      });
      assertStrictEquals(err, reason);
      assertEquals(n, 100, "entries yielded after abort()");
      assertEquals(await threadsLeft(), []);
    }
    // Aborted by a timer while the consumer is away and the workers wait:
    // the abort alone, without another next(), stops them.
    {
      const ac = new AbortController();
      const it = walkDirs(root, { signal: ac.signal, batches: 1, batchBytes: 4096, threads: 2 });
      await it.next();
      await blockedWorkers();
      setTimeout(() => ac.abort("timer"), 0);
      await waitFor(() => nativeThreads().length === 0, {
        what: "the abort to stop the workers",
        detail: () => JSON.stringify(nativeThreads()),
      });
      const err = await assertRejects(async () => {
        for await (const _ of it) { /* nothing */ }
      });
      assertStrictEquals(err, "timer");
    }
    // Aborted before the start: rejects at once, starts nothing.
    {
      const ac = new AbortController();
      ac.abort(new DOMException("before", "AbortError"));
      const err = await assertRejects(() => walk(root, { signal: ac.signal }).next());
      assertStrictEquals(err, ac.signal.reason);
      assertEquals(await threadsLeft(), []);
    }
    // A signal that never fires changes nothing.
    {
      let n = 0;
      for await (const _ of walk(root, { signal: new AbortController().signal })) n++;
      assertEquals(n, BIG_ENTRIES);
    }
  },
});

Deno.test("walk: iterators dropped without being ended are cancelled and freed when collected", async (t) => {
  const root = await bigTree();
  // with a signal that lives on, whose listeners must not hold the walks
  for (const mode of ["no signal", "signal"]) {
    await t.step(mode, async () => {
      const args = [root, "20", ...(mode === "signal" ? ["signal"] : [])];
      const r = await helperScript("walk_child_abandon.ts", args, { timeoutMs: 90_000 }, [
        "--v8-flags=--expose-gc",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const got = JSON.parse(r.text);
      assert(got.started > 0, `no worker ran: ${r.text}`);
      assertEquals(got.left, 0, `worker threads left: ${r.text}`);
      assert(got.fdsAfter <= got.fdsBefore + 2, `descriptors left: ${r.text}`);
    });
  }
});

Deno.test("walk: eight held walks at once in one process share its descriptors (ulimit -n 1024)", async () => {
  await using tmp = await tempDir();
  // 3,000 folders of one subfolder each: a walk holds thousands of them
  const root = `${tmp.path}/wide`;
  for (let i = 0; i < 3000; i++) await Deno.mkdir(`${root}/d${i}/s`, { recursive: true });
  const r = await run("sh", [
    "-c",
    `ulimit -n 1024 && exec "$0" run -A "$1" "$2" 8`,
    Deno.execPath(),
    `${REPO}/tests/helpers/walk_child_many.ts`,
    root,
  ], { timeoutMs: 120_000 });
  assertEquals(r.code, 0, r.stderr);
  const got = JSON.parse(r.text) as { items: number; errors: number; first: string }[];
  // walkDirs yields every folder, walk() every entry (the root too), none lost
  assertEquals(got, Array(8).fill({ items: 6001, errors: 0, first: "" }));
});

Deno.test("a low limit of open files (ulimit -n 40): every row and folder, nothing left out as an error", async () => {
  await using tmp = await tempDir();
  // 300 x 10 folders, two levels below each: many more than descriptors
  const root = `${tmp.path}/t`;
  for (let i = 0; i < 300; i++) {
    for (let j = 0; j < 10; j++) {
      await Deno.mkdir(`${root}/a${i}/b${j}/c`, { recursive: true });
      await Deno.writeTextFile(`${root}/a${i}/b${j}/f`, "");
    }
  }
  let entries = 1, folders = 1;
  const count = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      entries++;
      if (e.isDirectory) folders++, count(`${dir}/${e.name}`);
    }
  };
  count(root);
  const limited = (args: string[]) =>
    run("sh", ["-c", `ulimit -n 40 && exec "$@"`, "sh", Deno.execPath(), ...args]);
  // the CLI's report: every row, status 0, no error
  const r = await limited(["run", "-A", `${REPO}/cli.ts`, "--threads", "16", root]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.text.split("\n").filter(Boolean).length, entries);
  assertStringIncludes(r.stderr, " 0 errors");
  // walkDirs top-down (folders held with their descriptors): every folder
  const program = `import { walkDirs } from ${JSON.stringify(`${REPO}/mod.ts`)};
let n = 0;
const it = walkDirs(Deno.args[0], { threads: 16 });
for await (const _ of it) n++;
console.log(JSON.stringify({ n, errors: it.errors.map((e) => e.message) }));`;
  const w = await limited(["eval", program, root]);
  assertEquals(w.code, 0, w.stderr);
  assertEquals(JSON.parse(w.text), { n: folders, errors: [] });
});

Deno.test("walk: a consumer that sleeps between entries keeps memory bounded (backpressure)", async () => {
  const root = await bigTree();
  const r = await helperScript("walk_child_memory.ts", [root, String(BIG_ENTRIES), "1200"], {
    timeoutMs: 60_000,
  });
  assertEquals(r.code, 0, r.stderr);
  const m = JSON.parse(r.text);
  const detail = JSON.stringify(m);
  assertEquals(m.entries, BIG_ENTRIES);
  assertEquals(m.errors, 0);
  // While the consumer stalls at 10%, the two workers are alive (the walk
  // is not done: without backpressure it would be, in well under a second),
  // asleep, and burning no CPU: they wait for a free batch.
  for (const sample of [m.early, m.late]) {
    assertEquals(sample.length, 2, `workers during the stall: ${detail}`);
    for (const t of sample) assertEquals(t.state, "S", detail);
  }
  for (const t of m.late) {
    const before = m.early.find((e: { tid: number }) => e.tid === t.tid);
    assert(before, detail);
    assertLess(t.cpuTicks - before.cpuTicks, 3, `a worker kept running: ${detail}`);
  }
  // Nothing piles up meanwhile (an unbounded queue holds ~14 MiB more here:
  // the rest of the tree's entries), and the peak stays far from large.
  assertLess(m.rssStalled - m.rss10, 8 * MiB, detail);
  assertLess(m.hwm, 300 * MiB, detail);
  assertEquals(m.workersLeft, 0);
});

Deno.test({
  name: "walk: a slow consumer does not make the governor start more readers",
  // With 32 CPUs or more the floor (one reader per CPU) is near the ceiling.
  ignore: Deno.build.os !== "linux" || allowedCpus() >= 32,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const root = await bigTree();
    const ncpu = allowedCpus();
    // Default threads: governed, one reader per CPU at first, up to 64.
    const it = walk(root);
    await it.next();
    let n = 1;
    const seen: ThreadLook[] = [];
    for await (const _ of it) {
      // ~25 us per entry: the workers fill every batch and wait for this
      // loop, leaving the CPUs idle, which is what the governor reads as
      // readers blocked in the file system.
      const until = performance.now() + 0.025;
      while (performance.now() < until) { /* busy */ }
      if (++n % 250 === 0) seen.push({ at: performance.now(), n: nativeThreads().length });
      if (n === 20_000) break;
    }
    // The readers, and the governor thread; not 64 workers (the level
    // held for 100 ms: a reader added for a moment on a loaded machine
    // and taken back is not what this is about).
    const most = Math.max(...seen.map((l) => l.n));
    assert(most >= 1, "no worker thread seen");
    const held = heldLevel(seen, 100);
    assertLess(
      held,
      ncpu + 2,
      `named native threads: ${held} for 100 ms, at most ${most}, CPUs ${ncpu}`,
    );
    assertEquals(await threadsLeft(), []);
  },
});

Deno.test("walk: next() called 12,000 times at once: each call waits once, in order (FIFO), every entry once", async () => {
  await using tmp = await tempDir();
  const root = tmp.path;
  const want = new Set([root]);
  for (let d = 0; d < 20; d++) {
    Deno.mkdirSync(`${root}/d${d}`);
    want.add(`${root}/d${d}`);
    for (let f = 0; f < 500; f++) {
      Deno.writeFileSync(`${root}/d${d}/f${f}`, new Uint8Array());
      want.add(`${root}/d${d}/f${f}`);
    }
  }
  // Small batches: the 10,021 entries come in hundreds of them, each one a
  // step the calls not yet answered wait behind.
  const it = walk(root, { batchBytes: 4096 });
  const n = want.size + 2000;
  // The promise reactions made meanwhile, counted: calls waiting one
  // step at a time cost one each; chained anew on every batch taken, they
  // cost one per waiting call per batch (here millions: seconds and GBs
  // at 100,000 calls).
  const then = Promise.prototype.then;
  let reactions = 0;
  Promise.prototype.then = function (this: Promise<unknown>, ...a) {
    reactions++;
    return then.apply(this, a);
  } as typeof then;
  let results: IteratorResult<WalkEntry>[];
  try {
    results = await Promise.all(Array.from({ length: n }, () => it.next()));
  } finally {
    Promise.prototype.then = then;
  }
  assertLess(reactions, 4 * n);
  const got = results.filter((r) => !r.done).map((r) => (r.value as WalkEntry).path);
  // the entries first, then only ends
  assertEquals(results.slice(got.length).filter((r) => !r.done), []);
  assertEquals(got.length, want.size);
  assertEquals(new Set(got), want);
  assertEquals(it.errors, []);

  // Answered in the order made: the next() calls before a return() get
  // entries, the return() ends the walk, the calls after it get the end.
  const again = walk(root, { batchBytes: 4096 });
  const k = 5000;
  const calls = [
    ...Array.from({ length: k }, () => again.next()),
    again.return!("x"),
    ...Array.from({ length: k }, () => again.next()),
  ];
  const answers = await Promise.all(calls);
  const early = answers.slice(0, k).map((r) => r.done ? "(end)" : (r.value as WalkEntry).path);
  assertEquals(early.filter((p) => !want.has(p)), []);
  assertEquals(new Set(early).size, k);
  assertEquals(answers[k], { value: "x", done: true });
  assertEquals(answers.slice(k + 1).filter((r) => !r.done), []);
});
