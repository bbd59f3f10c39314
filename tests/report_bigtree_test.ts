/**
 * A wide tree (tens of thousands of entries with long names, so the report
 * runs long enough to be interrupted):
 * - cancelling report() with an AbortSignal mid-walk rejects with the
 *   signal's reason, leaves neither the output file nor a `*.partial-*`
 *   file, and leaves no worker thread behind;
 * - SIGINT to the CLI mid-walk: exit status 130, no output file;
 * - `--threads N` / `--maxthreads N` / `--maxthreads=N` really run N
 *   worker threads (counted in /proc while the walk is blocked on a full
 *   stdout pipe).
 * If a walk ever finishes before the cancellation lands, the tree is made
 * bigger and the step runs again, so a pass always means "cancelled
 * half-way".
 */
import { assert, assertEquals, assertStrictEquals, fail } from "@std/assert";
import { report } from "../mod.ts";
import { spawnCli } from "./helpers/run.ts";
import { namedLikeMain, procStat } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { growingTree } from "./helpers/tree.ts";
import { waitFor } from "./helpers/wait.ts";

const names = (dir: string) => Array.from(Deno.readDirSync(dir), (e) => e.name).sort();

/** Each thread of process `pid`: its state letter and where it sleeps (wchan). */
function tasks(pid: number): { state: string; wchan: string }[] {
  return Array.from(Deno.readDirSync(`/proc/${pid}/task`), (t) => {
    try {
      const state = procStat(`/proc/${pid}/task/${t.name}/stat`)[0];
      const wchan = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/wchan`);
      return { state, wchan };
    } catch {
      return { state: "gone", wchan: "" }; // the thread ended meanwhile
    }
  });
}

/**
 * Start the CLI with stdout piped and never read; once a thread waits to
 * write to that full pipe and every thread sleeps (the walk can neither
 * finish nor lose a worker now, and every worker has started), count the
 * the main thread and the threads named like it or by the library (Deno's
 * own pools name theirs, e.g. "tokio-runtime-w").
 */
async function threadsWhileBlocked(root: string, args: string[]): Promise<number> {
  const p = spawnCli([...args, root]);
  const pid = p.pid;
  try {
    await waitFor(() => {
      const ts = tasks(pid);
      // the writer waits for the full pipe in poll() (the library writes a
      // pipe through a non-blocking description of its own, so that a
      // signal can stop it), or in pipe_write where it cannot reopen it
      const writing = (w: string) => w.includes("pipe_write") || w.startsWith("poll_schedule");
      return ts.some((t) => writing(t.wchan)) && ts.every((t) => t.state === "S");
    }, {
      what: `pwalk ${args.join(" ")} to block on its output`,
      detail: () => JSON.stringify(tasks(pid)),
    });
    return namedLikeMain(pid);
  } finally {
    p.kill("SIGKILL");
    await p.stdout.cancel();
    await p.stderr.cancel();
    await p.status;
  }
}

/** Whether /proc shows where threads sleep (wchan names kernel functions here). */
const procOk = (() => {
  try {
    // Deno's idle pool threads sleep in the kernel: their wchan is a name, not "0".
    return Array.from(Deno.readDirSync(`/proc/${Deno.pid}/task`)).some((t) =>
      /^[a-z_]/.test(Deno.readTextFileSync(`/proc/${Deno.pid}/task/${t.name}/wchan`))
    );
  } catch {
    return false;
  }
})();
if (!procOk) console.log("thread-count step skipped: /proc/<pid>/task/<tid>/wchan unavailable");

Deno.test("a wide tree: cancellation (API, CLI) and real worker threads", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/wide`;
  const outDir = `${tmp.path}/out`;
  // ~40,000 entries, ~10 MB of CSV; its files links to one empty file
  // (flatTree's `links`: made in a second, not tens; every step only reads it)
  const wide = await growingTree(root, 40, 1000, true);
  await Deno.mkdir(outDir);

  await t.step("report(): abort mid-walk rejects with the reason, leaves nothing", async () => {
    for (let attempt = 0;; attempt++) {
      const before = procOk ? namedLikeMain(Deno.pid) : 0;
      const ac = new AbortController();
      const reason = new Error("stop, test");
      let abortedAt = -1;
      const out = `${outDir}/api.csv.zst`;
      const err = await report(root, {
        output: out,
        threads: 1,
        progressIntervalMs: 1,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.entries > 0 && abortedAt < 0) {
            abortedAt = p.entries;
            ac.abort(reason);
          }
        },
      }).then(() => undefined, (e) => e);
      if (err === undefined) {
        // finished before the abort: not a test of cancellation; go bigger
        if (attempt >= 2) fail(`the walk of ${wide.entries} entries always finished first`);
        await Deno.remove(out);
        await wide.grow();
        continue;
      }
      assertStrictEquals(err, reason, "rejects with the signal's reason");
      assert(
        abortedAt > 0 && abortedAt < wide.entries,
        `aborted at ${abortedAt} of ${wide.entries}`,
      );
      assertEquals(names(outDir), [], "no output file and no partial file");
      // (a worker joined may stay in /proc a moment longer, until the
      // kernel has let its memory go: waited for; one left stays)
      if (procOk) {
        await waitFor(() => namedLikeMain(Deno.pid) === before, {
          what: "the walk's threads to be gone",
          timeoutMs: 10_000,
          detail: () =>
            `${namedLikeMain(Deno.pid)} threads named like the main one, ${before} before`,
        });
      }
      break;
    }
  });

  await t.step(
    "report(): aborted right after the call (while the library loads): nothing",
    async () => {
      for (const output of [`${outDir}/y.csv`, `${outDir}/y.parquet`]) {
        const ac = new AbortController();
        const p = report(root, { output, signal: ac.signal });
        ac.abort(new Error("at once"));
        const err = await p.then(() => undefined, (e) => e);
        assertEquals((err as Error)?.message, "at once", output);
        assertEquals(names(outDir), [], output);
      }
    },
  );

  await t.step("report(): an already aborted signal starts nothing", async () => {
    const ac = new AbortController();
    ac.abort(new Error("early"));
    const err = await report(root, { output: `${outDir}/x.csv`, signal: ac.signal }).then(
      () => undefined,
      (e) => e,
    );
    assertEquals((err as Error)?.message, "early");
    assertEquals(names(outDir), []);
  });

  await t.step("CLI: SIGINT mid-walk exits 130 and leaves no output file", async () => {
    for (let attempt = 0;; attempt++) {
      const out = `${outDir}/cli.csv`;
      const p = spawnCli(["--threads", "1", "-o", out, root]);
      let ended = false;
      const result = p.output().finally(() => ended = true);
      // A hang guard, not a timing threshold: a hung CLI fails the test.
      const guard = setTimeout(() => p.kill("SIGKILL"), 30_000);
      // Wait until the walk is writing (the partial file holds data), or has ended.
      const { partial } = await waitFor(() => {
        if (ended) return { partial: undefined };
        const part = names(outDir).find((n) => n.startsWith("cli.csv.partial-"));
        try {
          if (part && Deno.statSync(`${outDir}/${part}`).size > 0) return { partial: part };
        } catch { /* renamed or removed meanwhile */ }
        return undefined;
      }, { what: "the CLI to write its output" });
      if (!ended) p.kill("SIGINT");
      const r = await result;
      clearTimeout(guard);
      const stderr = new TextDecoder().decode(r.stderr);
      if (r.code === 0) {
        if (attempt >= 2) fail(`the walk of ${wide.entries} entries always finished before SIGINT`);
        await Deno.remove(out);
        await wide.grow();
        continue;
      }
      // ended by SIGINT itself after its cleanup (not the hang guard's SIGKILL)
      assertEquals(r.signal, "SIGINT", stderr);
      assertEquals(r.code, 130, stderr);
      assert(partial !== undefined, "the walk never wrote");
      assertEquals(r.stdout.length, 0);
      assert(stderr.includes("interrupted"), stderr);
      assertEquals(names(outDir), [], "no output file and no partial file");
      break;
    }
  });

  await t.step({
    name: "--threads/--maxthreads N run N worker threads",
    ignore: !procOk,
    fn: async () => {
      const base = await threadsWhileBlocked(root, ["--threads", "1"]);
      const counts: Record<string, number> = {};
      for (const args of [["--threads", "2"], ["--maxthreads", "9"], ["--maxthreads=5"]]) {
        counts[args.join(" ")] = (await threadsWhileBlocked(root, args)) - base + 1;
      }
      assertEquals(counts, { "--threads 2": 2, "--maxthreads 9": 9, "--maxthreads=5": 5 });
    },
  });
});
