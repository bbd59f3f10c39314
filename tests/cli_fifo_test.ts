/**
 * An output FIFO that no process reads yet, and a signal meanwhile: one
 * SIGINT or SIGTERM ends the run with its documented status and one
 * "interrupted" line, whatever output waits for its reader:
 * - `pwalk plan -o FIFO`: 130, "no plan was written to FIFO" (its open of
 *   the FIFO was a blocking one no signal reached: it hung until a second
 *   signal, blaming the file system);
 * - `pwalk --errors FIFO`: 143, "nothing was done" (the FIFO was opened
 *   before the signals were listened for: killed with no line at all);
 * Every FIFO is still a FIFO after (Deno.lstat), and no -o file was made.
 */
import { assert, assertEquals } from "@std/assert";
import { run, spawnCli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

const dec = new TextDecoder();

/** Whether process `pid` has the native library mapped: the CLI loads it once its signals are listened for. */
function libraryLoaded(pid: number): boolean {
  try {
    return /libpwalk[^/\n]*\.so/.test(Deno.readTextFileSync(`/proc/${pid}/maps`));
  } catch {
    return false;
  }
}

/**
 * Run the CLI with `args` in `cwd`; once the native library is loaded (the
 * signals are listened for by then), and a moment later (so that the
 * signal lands while the FIFO is waited for; any earlier the result must
 * be the same), send `signal`. A run that ignores it is killed by a hang
 * guard (SIGKILL: 137, which fails the status check).
 */
async function stopWhileWaiting(
  args: string[],
  cwd: string,
  signal: Deno.Signal,
): Promise<{ code: number; stderr: string }> {
  const p = spawnCli(args, { cwd });
  const guard = setTimeout(() => p.kill("SIGKILL"), 60_000); // a hang guard
  try {
    await waitFor(() => libraryLoaded(p.pid), { what: "the CLI to be ready", timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 500));
    p.kill(signal);
    // a run that ignored the signal: killed after a while, failing below
    const out = await p.output();
    return { code: out.code, stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(guard);
  }
}

async function mkfifo(path: string): Promise<void> {
  assertEquals((await run("mkfifo", [path])).code, 0);
}

Deno.test("plan -o FIFO with no reader: one SIGINT stops it (130), no plan written", async () => {
  await using t = await tempDir();
  await Deno.mkdir(`${t.path}/tree/a`, { recursive: true });
  const fifo = `${t.path}/plan.json`;
  await mkfifo(fifo);
  const r = await stopWhileWaiting(["plan", "--shards", "2", "-o", fifo, "tree"], t.path, "SIGINT");
  assertEquals(r.stderr.trimEnd().split("\n"), [
    `pwalk plan: interrupted by SIGINT; no plan was written to ${fifo}`,
  ]);
  assertEquals(r.code, 130);
  assert((await Deno.lstat(fifo)).isFifo);
});

Deno.test("--errors FIFO with no reader: one SIGTERM stops it (143) with its line", async () => {
  await using t = await tempDir();
  await Deno.mkdir(`${t.path}/tree/a`, { recursive: true });
  const fifo = `${t.path}/errors.csv`;
  await mkfifo(fifo);
  const r = await stopWhileWaiting(
    ["--errors", fifo, "-o", "out.csv", "tree"],
    t.path,
    "SIGTERM",
  );
  assertEquals(r.stderr.trimEnd().split("\n"), [
    `pwalk: interrupted by SIGTERM; nothing was done (--errors ${fifo} had no reader yet)`,
  ]);
  assertEquals(r.code, 143);
  assert((await Deno.lstat(fifo)).isFifo);
  const names = Array.from(Deno.readDirSync(t.path), (e) => e.name).sort();
  assertEquals(names, ["errors.csv", "tree"]); // no out.csv, no temporary
});
