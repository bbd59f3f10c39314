/**
 * Opening a journal (undo, readJournal, repair's `journal: FILE`) never
 * holds the JavaScript thread. A file shorter than a journal header is
 * looked at again for up to a second before it is taken for an empty file
 * (a run that made it may not have locked it yet): a program that embeds
 * the API (a service answering requests) must go on meanwhile, its timers,
 * other requests and signals too (audit h435: one stall of the event loop
 * of a second per call, for any empty file named as a journal).
 *
 * Shown without timing: a timer that the open lets run takes the file's
 * lock, and the open, still looking, finds it in use; an open that held
 * the thread ended first, and found only an empty file.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { readJournal, repair, undo } from "../mod.ts";
import { ensureNative } from "../lib/ffi.ts";
import { tempDir } from "./helpers/temp.ts";

/**
 * Run `call`, which opens the empty journal `path`, with `hook` (`Deno.lstat`
 * or `Deno.realPathSync`) wrapped: when it is called on `arg`, the last thing
 * the call does before the open (nothing awaited in between), a timer is
 * set that locks `path` (flock, exclusive). What `call` rejected with, for
 * each try: a machine so loaded that the timer waited the whole second may
 * give the empty file's error once; an open that holds the thread gives it
 * always.
 */
async function openedWhileLocked(
  path: string,
  hook: "lstat" | "realPathSync",
  arg: string,
  call: () => Promise<unknown>,
): Promise<string[]> {
  await ensureNative();
  const lstat = Deno.lstat;
  const realPathSync = Deno.realPathSync;
  const got: string[] = [];
  for (let tries = 0; tries < 3; tries++) {
    let locker: Deno.FsFile | undefined;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const lockSoon = () =>
      timers.push(setTimeout(() => {
        locker ??= Deno.openSync(path, { read: true });
        locker.lockSync(true);
      }, 0));
    if (hook === "lstat") {
      Deno.lstat = (p: string | URL) =>
        p === arg ? lstat(p).then((v) => (lockSoon(), v)) : lstat(p);
    } else {
      Deno.realPathSync = (p: string | URL) => {
        if (p === arg) lockSoon();
        return realPathSync(p);
      };
    }
    try {
      await call();
      got.push("resolved");
    } catch (e) {
      got.push(e instanceof Error ? e.message : String(e));
    } finally {
      Deno.lstat = lstat;
      Deno.realPathSync = realPathSync;
      for (const t of timers) clearTimeout(t);
      locker?.close();
    }
    if (got.at(-1)!.includes("in use")) break;
  }
  return got;
}

async function emptyJournal(path: string): Promise<void> {
  await Deno.writeFile(path, new Uint8Array(0), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

Deno.test("journal: opening an empty file as a journal lets the event loop run (audit h435)", async () => {
  await using tmp = await tempDir("pwalk-jwait-");
  const journal = `${tmp.path}/empty.journal`;
  await emptyJournal(journal);
  const inUse = `pwalk: journal ${journal}: in use by a repair or chown still running`;
  const reads: [string, () => Promise<unknown>][] = [
    ["readJournal", () => readJournal(journal)],
    ["undo", () => undo(journal)],
  ];
  for (const [name, call] of reads) {
    const got = await openedWhileLocked(journal, "lstat", journal, call);
    assert(got.at(-1)!.startsWith(inUse), `${name}: ${JSON.stringify(got)}`);
  }
  // repair appending to a journal named: the same open
  const project = `${tmp.path}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/a.txt`, "x", { mode: 0o600 });
  const before = (await Deno.lstat(`${project}/a.txt`)).mode;
  // (its folder's real path is looked at last before the open: may another user rename it away?)
  const got = await openedWhileLocked(
    journal,
    "realPathSync",
    tmp.path,
    () => repair(project, { apply: true, journal }),
  );
  assert(
    got.at(-1)!.startsWith(`pwalk: journal ${journal}: in use by another run`),
    JSON.stringify(got),
  );
  assertEquals((await Deno.lstat(`${project}/a.txt`)).mode, before); // nothing changed
  assertEquals((await Deno.lstat(journal)).size, 0);
});
