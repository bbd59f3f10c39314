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
 *
 * And convert's OUT closed early by its reader (a FIFO; a link to
 * /dev/stdout, a pipe): 141 and nothing said, as report and convert's
 * --help say (it was 1, "cannot write OUT: Broken pipe").
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { ERRORS_HEADER } from "../lib/cli/common.ts";
import { native } from "../lib/ffi.ts";
import { cli, REPO, run, spawnCli, UNPRIVILEGED } from "./helpers/run.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
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

Deno.test("--errors FIFO whose reader leaves after the header: no hang, and 141 quietly when it had left", async () => {
  await using t = await tempDir();
  await Deno.mkdir(`${t.path}/tree/a`, { recursive: true });
  const fifo = `${t.path}/errors.csv`;
  await mkfifo(fifo);
  // (the library's own open of the FIFO, after the header, waited for a
  // reader no more to come, and no signal ended that wait)
  for (let i = 0; i < 3; i++) {
    // reads 10 bytes of the header, then closes its end
    const reader = new Deno.Command("dd", {
      args: [`if=${fifo}`, "bs=10", "count=1"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const r = await cli(["--errors", fifo, "-o", `${t.path}/out.csv`, `${t.path}/tree`], {
      timeoutMs: 60_000, // a hang guard
    });
    assertEquals(dec.decode((await reader.output()).stdout), ERRORS_HEADER.slice(0, 10));
    // gone before the library opened it: 141, quietly, no output left; else
    // (still there then) the run ends as usual (no error row to write)
    if (r.code === 141) {
      assertEquals(r.stderr, "");
      assertEquals(Array.from(Deno.readDirSync(t.path), (e) => e.name).sort(), [
        "errors.csv",
        "tree",
      ]);
    } else {
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stderr, " 0 errors (listed in ");
      await Deno.remove(`${t.path}/out.csv`);
    }
    assert((await Deno.lstat(fifo)).isFifo);
  }
  // the library's open of it: no reader, no wait (ENXIO at once)
  const b = new TextEncoder().encode(fifo);
  assertEquals(native().pw_fd_open_direct(b, BigInt(b.length)), -6);
});

testNeeding([SETPRIV], {
  name: "--errors FIFO whose reader leaves during the run: 141, quietly, as an -o FIFO's",
  async fn() {
    await using t = await tempDir();
    // 2,000 folders it may not read (without capabilities): 2,000 error
    // rows, far more than a pipe holds
    for (let i = 0; i < 2000; i++) await Deno.mkdir(`${t.path}/tree/l${i}`, { recursive: true });
    for (let i = 0; i < 2000; i++) await Deno.chmod(`${t.path}/tree/l${i}`, 0);
    const fifo = `${t.path}/errors.csv`;
    await mkfifo(fifo);
    // reads the header and a few bytes more, one at a time, then closes its end
    const reader = new Deno.Command("dd", {
      args: [`if=${fifo}`, "bs=1", "count=40"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const r = await cli(["--errors", fifo, "-o", `${t.path}/out.csv`, `${t.path}/tree`], {
      prefix: UNPRIVILEGED,
      timeoutMs: 120_000,
    });
    const read = dec.decode((await reader.output()).stdout);
    assertEquals(read, `${ERRORS_HEADER}\n"${t.path}/tree/l`.slice(0, 40));
    // the walk's own error lines, and nothing else: no "cannot write" line
    const other = r.stderr.split("\n").filter((l) => l && !l.startsWith("pwalk: open "));
    assertEquals([r.code, other], [141, []], r.stderr.slice(-2000));
    assertEquals(Array.from(Deno.readDirSync(t.path), (e) => e.name).sort(), [
      "errors.csv",
      "tree",
    ]);
  },
});

Deno.test("--errors >(cmd) (/dev/fd/63, a pipe): written there, as -o >(cmd) is", async () => {
  await using t = await tempDir();
  await Deno.mkdir(`${t.path}/tree/a`, { recursive: true });
  const got = `${t.path}/got.csv`;
  const r = await run("bash", [
    "-c",
    `"$0" run -A "$1" --errors >(cat > "$2") -o "$3" "$4"; s=$?; wait; exit $s`,
    Deno.execPath(),
    `${REPO}/cli.ts`,
    got,
    `${t.path}/out.csv`,
    `${t.path}/tree`,
  ], { timeoutMs: 60_000 });
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, " 0 errors (listed in /dev/fd/");
  // (cat may end a moment after bash's wait for the command)
  await waitFor(() => Deno.readTextFileSync(got) === ERRORS_HEADER + "\n", {
    what: "the header in the file cat writes",
    timeoutMs: 10_000,
  });
});

/** A scan of more rows than a pipe holds (64 KiB), made by the CLI as `dir`/s.csv. */
async function bigScan(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/tree`);
  for (let i = 0; i < 1500; i++) {
    await Deno.writeFile(`${dir}/tree/file-${i}.txt`, new Uint8Array());
  }
  const r = await cli(["--header", "-o", `${dir}/s.csv`, `${dir}/tree`]);
  assertEquals(r.code, 0, r.stderr);
  assert((await Deno.lstat(`${dir}/s.csv`)).size > 1 << 17);
}

Deno.test("convert to a FIFO its reader closes early: 141, quietly", async () => {
  await using t = await tempDir();
  await bigScan(t.path);
  const fifo = `${t.path}/f.csv`;
  await mkfifo(fifo);
  const spill = `${t.path}/spill`;
  await Deno.mkdir(spill);
  // reads 100 bytes, then closes its end
  const reader = new Deno.Command("head", { args: ["-c", "100", fifo], stdout: "piped" }).spawn();
  const r = await cli(["convert", "--temp-dir", spill, `${t.path}/s.csv`, fifo], {
    timeoutMs: 120_000,
  });
  const head = await reader.output();
  assertEquals(head.stdout.length, 100);
  assertEquals([r.code, r.stderr], [141, ""]);
  assert((await Deno.lstat(fifo)).isFifo);
  assertEquals(Array.from(Deno.readDirSync(spill)), []); // nothing staged left
});

Deno.test("summary --html to a FIFO its reader closes early: 141, quietly, as convert's OUT", async () => {
  await using t = await tempDir();
  // 100 folders of 5 files, each of its own extension: with --top 500 a page
  // larger than a pipe holds (64 KiB)
  for (let d = 0; d < 100; d++) {
    await Deno.mkdir(`${t.path}/tree/folder-${d}`, { recursive: true });
    for (let f = 0; f < 5; f++) {
      await Deno.writeFile(`${t.path}/tree/folder-${d}/x.e${d}_${f}`, new Uint8Array());
    }
  }
  const scan = await cli(["-o", `${t.path}/s.csv`, `${t.path}/tree`]);
  assertEquals(scan.code, 0, scan.stderr);
  const whole = await cli([
    "summary",
    "--html",
    `${t.path}/whole.html`,
    "--top",
    "500",
    `${t.path}/s.csv`,
  ]);
  assertEquals(whole.code, 0, whole.stderr);
  assert((await Deno.lstat(`${t.path}/whole.html`)).size > 1 << 17);
  const fifo = `${t.path}/page.html`;
  await mkfifo(fifo);
  // reads 100 bytes, then closes its end
  const reader = new Deno.Command("head", { args: ["-c", "100", fifo], stdout: "piped" }).spawn();
  const r = await cli(["summary", "--html", fifo, "--top", "500", `${t.path}/s.csv`], {
    timeoutMs: 120_000,
  });
  const head = await reader.output();
  assertEquals(head.stdout.length, 100);
  assertEquals([r.code, r.stderr], [141, ""]);
  assertEquals(r.stdout.length, 0); // stopped before the text answer
  assert((await Deno.lstat(fifo)).isFifo);
});

Deno.test("convert to a link to /dev/stdout, a pipe closed early: 141, quietly", async () => {
  await using t = await tempDir();
  await bigScan(t.path);
  await Deno.symlink("/dev/stdout", `${t.path}/so.csv`);
  const p = spawnCli(["convert", `${t.path}/s.csv`, `${t.path}/so.csv`]);
  const guard = setTimeout(() => p.kill("SIGKILL"), 120_000); // a hang guard
  try {
    const rd = p.stdout.getReader();
    const first = await rd.read(); // some of the CSV, then the pipe closed
    assert(!first.done && first.value.length > 0);
    await rd.cancel();
    const [status, err] = await Promise.all([p.status, new Response(p.stderr).text()]);
    assertEquals([status.code, err], [141, ""]);
  } finally {
    clearTimeout(guard);
  }
  assert((await Deno.lstat(`${t.path}/so.csv`)).isSymlink);
});
