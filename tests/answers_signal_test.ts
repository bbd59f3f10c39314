/**
 * Cancelling summarize, diff and convert with an AbortSignal: each rejects
 * with the signal's reason, leaves no spill folder in its tempDirectory and
 * no output (nor a temporary beside it), aborted before it starts or at any
 * stage it tells, the second reading of a scan with a name that is not
 * UTF-8 (the escaping filter's pipe) included, and the copy out of the spill
 * folder into an output folder others can change.
 *
 * Two checks of the means below: a DuckDB query that would run for hours
 * (a cross join of 10^12 rows) ends once the signal aborts, which only
 * DuckDB's interrupt does; and the escaping filter's writer, whose pipe
 * DuckDB never opened (its statement failed first), is ended instead of
 * left writing a scan larger than a pipe holds into a pipe nobody reads.
 * A hang guard (minutes, never a timing check) fails a test that waits
 * for ever.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { convert, diff, summarize } from "../mod.ts";
import { Engine } from "../lib/answers/duck.ts";
import { loadEscaped } from "../lib/answers/scan.ts";
import { recompressInto } from "../lib/answers/convert.ts";
import { checkGzipComplete, checkZstdComplete } from "../lib/answers/files.ts";
import { concat } from "./helpers/bytes.ts";
import { tempDir } from "./helpers/temp.ts";
import { waitFor } from "./helpers/wait.ts";

/** `p`, or a failure after `minutes` (a hang guard: the test would wait for ever). */
async function guarded<T>(p: Promise<T>, what: string, minutes = 3): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still waiting after ${minutes} min`)),
      minutes * 60_000,
    );
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** What `p` rejects with, or null when it resolves. */
function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => null, (x) => x);
}

/**
 * A scan in pwalk's CSV of a root folder and `n` files below it, owned by
 * a few uids and gids; with `weird`, one name holds the byte 0xff (not
 * UTF-8: read through the escaping filter).
 */
function scanBytes(n: number, weird: boolean, seed = 0): Uint8Array {
  const parts: (string | Uint8Array)[] = [
    `1,0,-1,"/p","",0,0,4096,7,8,2,"0040755",1700000000,1700000000,1700000000,${n},0\n`,
  ];
  let s = "";
  for (let i = 2; i < n + 2; i++) {
    s += `${i},1,0,"/p/f${i}.${i % 3 ? "txt" : "dat"}","${i % 3 ? "txt" : "dat"}",${i % 5},${
      i % 3
    },${(i * 37 + seed) % 100000},7,8,1,"0100644",${1600000000 + i},${1600000000 + i},${
      1600000000 + i
    },-1,0\n`;
  }
  parts.push(s);
  if (weird) {
    parts.push(`${n + 2},1,0,"/p/bad`, new Uint8Array([0xff]));
    parts.push(`.txt","txt",0,0,5,7,8,1,"0100644",1600000000,1600000000,1600000000,-1,0\n`);
  }
  return concat(...parts);
}

/** The names in a folder, sorted. */
function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("answers: a DuckDB query that would run for hours ends once the signal aborts", async () => {
  await using tmp = await tempDir();
  const ac = new AbortController();
  const e = await Engine.open({ tempDirectory: tmp.path, signal: ac.signal, threads: 1 });
  try {
    const reason = new Error("stop");
    const q = e.all(
      "SELECT sum(a.range * b.range) AS s FROM range(1000000) a, range(1000000) b",
    );
    const t = setTimeout(() => ac.abort(reason), 300);
    const err = await guarded(rejection(q), "the interrupted query");
    clearTimeout(t);
    assert(err === reason, `rejected with ${err}, not the signal's reason`);
    // the session is still usable for closing, and a new query is refused
    await assertRejects(() => e.all("SELECT 1"), Error, "stop");
  } finally {
    await e.close();
  }
  assertEquals(names(tmp.path), [], "the spill folder is removed");
});

Deno.test("answers: the escaping filter's writer ends when DuckDB fails before opening its pipe", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  // 40,000 rows, about 4 MB: far more than a pipe holds
  await Deno.writeFile(scan, scanBytes(40_000, true));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const e = await Engine.open({ tempDirectory: spill, threads: 1 });
  try {
    const err = await guarded(
      rejection(
        loadEscaped(e, { path: scan, format: "csv" }, () => "SELECT * FROM no_such_table"),
      ),
      "the failed load",
    );
    assert(err instanceof Error && /no_such_table/.test(err.message), `got ${err}`);
  } finally {
    await e.close();
  }
  assertEquals(names(spill), []);
});

Deno.test("answers: convert's recompression to another zstd level stops once the signal aborts", async () => {
  // (.csv.zst at a level other than 3: DuckDB's text compressed again,
  // minutes at level 19 on a large scan.) A body that never ends, a FIFO
  // fed one frame and then nothing, stands for one that takes that long.
  await using tmp = await tempDir();
  const body = `${tmp.path}/body.csv.zst`, out = `${tmp.path}/out.csv.zst`;
  const mk = await new Deno.Command("mkfifo", { args: [body] }).output();
  assert(mk.success);
  const { zstdCompressSync } = await import("node:zlib");
  const ac = new AbortController();
  const reason = new Error("stop");
  const p = rejection(recompressInto(out, body, 19, out, ac.signal));
  const w = await Deno.open(body, { write: true });
  try {
    const frame = zstdCompressSync(new TextEncoder().encode('1,0,-1,"/p"\n'.repeat(1000)));
    await w.write(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
    ac.abort(reason);
    const err = await guarded(p, "the recompression aborted");
    assert(err !== null, "it resolved");
  } finally {
    w.close();
    await p;
  }
});

Deno.test("answers: the check that a compressed scan is whole stops once the signal aborts", async () => {
  // (it reads all of a .csv.gz, and all of the last frame of a .csv.zst,
  // before DuckDB starts: seconds a GiB, which an abort did not stop)
  await using tmp = await tempDir();
  const { gzipSync, zstdCompressSync } = await import("node:zlib");
  const text = scanBytes(20_000, false);
  const gz = `${tmp.path}/a.csv.gz`, zst = `${tmp.path}/a.csv.zst`;
  await Deno.writeFile(gz, gzipSync(text));
  await Deno.writeFile(zst, zstdCompressSync(text));
  const checks: [string, (signal?: AbortSignal) => Promise<void>][] = [
    [gz, (signal) => checkGzipComplete(gz, signal)],
    [zst, (signal) => checkZstdComplete(zst, signal)],
  ];
  for (const [what, check] of checks) {
    await check(); // (whole)
    const ac = new AbortController();
    const reason = new Error("stop");
    const p = rejection(check(ac.signal));
    ac.abort(reason); // (while it reads)
    const err = await guarded(p, `the check of ${what}`);
    assert(err === reason, `${what}: resolved or rejected with ${err}, not the signal's reason`);
  }
});

Deno.test("answers: summarize, diff and convert cancelled at each stage reject with the reason and leave nothing", async () => {
  await using tmp = await tempDir();
  const a = `${tmp.path}/a.csv`, b = `${tmp.path}/b.csv`;
  await Deno.writeFile(a, scanBytes(3000, true));
  await Deno.writeFile(b, scanBytes(3500, true, 11));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const outDir = `${tmp.path}/out`;
  await Deno.mkdir(outDir);
  type Run = (o: {
    signal?: AbortSignal;
    onStage?: (s: { step: string }) => void;
    tempDirectory: string;
  }) => Promise<unknown>;
  const runs: Record<string, Run> = {
    summarize: (o) => summarize([a], o),
    diff: (o) => diff([a], [b], o),
    "convert to .parquet": (o) => convert([a], `${outDir}/a.parquet`, o),
    "convert to .csv.zst, level 9": (o) => convert([a], `${outDir}/a.csv.zst`, { ...o, level: 9 }),
  };
  for (const [what, run] of Object.entries(runs)) {
    // the stages of a whole run (each scan read twice: its name with 0xff)
    const stages: string[] = [];
    await run({ tempDirectory: spill, onStage: (s) => stages.push(s.step) });
    assert(stages.filter((s) => s.startsWith("reading")).length >= 2, `${what}: ${stages}`);
    await Deno.remove(outDir, { recursive: true });
    await Deno.mkdir(outDir);

    // aborted before it starts: no stage told
    const before = new AbortController();
    const r0 = new Error("before");
    before.abort(r0);
    const told: string[] = [];
    const e0 = await rejection(run({
      tempDirectory: spill,
      signal: before.signal,
      onStage: (s) => told.push(s.step),
    }));
    assert(e0 === r0, `${what}: rejected with ${e0}`);
    assertEquals(told, [], what);
    assertEquals(names(spill), [], `${what}: spill folder left`);
    assertEquals(names(outDir), [], `${what}: output left`);

    for (let k = 0; k < stages.length; k++) {
      const ac = new AbortController();
      const reason = new Error(`stage ${k}`);
      let n = 0;
      const err = await guarded(
        rejection(run({
          tempDirectory: spill,
          signal: ac.signal,
          onStage: () => {
            if (n++ === k) ac.abort(reason);
          },
        })),
        `${what} at ${stages[k]}`,
      );
      assert(err === reason, `${what}, aborted at stage ${k} (${stages[k]}): got ${err}`);
      assertEquals(names(spill), [], `${what} at ${stages[k]}: spill folder left`);
      assertEquals(names(outDir), [], `${what} at ${stages[k]}: output left`);
    }
  }
});

Deno.test("answers: summarize and diff aborted at the engine's close, their answer whole, resolve with it and leave nothing (as documented)", async () => {
  await using tmp = await tempDir();
  const a = `${tmp.path}/a.csv`, b = `${tmp.path}/b.csv`;
  await Deno.writeFile(a, scanBytes(300, false));
  await Deno.writeFile(b, scanBytes(350, false, 11));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const plain = (x: unknown) => ({ ...(x as Record<string, unknown>), elapsedSeconds: 0 });
  const runs: Record<string, (signal?: AbortSignal) => Promise<unknown>> = {
    summarize: (signal) => summarize([a], { tempDirectory: spill, signal, now: 1700000000 }),
    diff: (signal) => diff([a], [b], { tempDirectory: spill, signal }),
  };
  const realRemove = Deno.remove;
  for (const [what, run] of Object.entries(runs)) {
    const whole = plain(await run());
    // the signal aborts as the engine's close removes its spill folder:
    // every query and name lookup is done, the answer whole
    const ac = new AbortController();
    let removing = 0;
    Deno.remove = (p: string | URL, o?: Deno.RemoveOptions) => {
      if (String(p).startsWith(`${spill}/`)) {
        removing++;
        ac.abort(new Error("too late"));
      }
      return realRemove(p, o);
    };
    let got: unknown;
    try {
      got = await guarded(run(ac.signal), what);
    } finally {
      Deno.remove = realRemove;
    }
    assertEquals(removing, 1, what);
    assert(ac.signal.aborted, what);
    assertEquals(plain(got), whole, what);
    assertEquals(names(spill), [], `${what}: spill folder left`);
  }
});

Deno.test("answers: a getent whose child holds its output open ends the wait on abort and on timeout", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/a.csv`;
  await Deno.writeFile(scan, scanBytes(100, false));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  // a getent that hangs in a child of its own (a wrapper script, no exec):
  // killing getent leaves the child with getent's stdout open
  const bin = `${tmp.path}/bin`, pids = `${tmp.path}/pids`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/getent`,
    `#!/bin/sh\nsleep 600 &\necho $! >> '${pids}'\nwait\n`,
    { mode: 0o755 },
  );
  const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
  Deno.env.set("PATH", `${bin}:${path}`);
  try {
    const ac = new AbortController();
    const reason = new Error("stop");
    const p = rejection(summarize([scan], { tempDirectory: spill, signal: ac.signal }));
    await waitFor(() => Deno.readTextFile(pids).then((t) => t.trim() !== "", () => false), {
      what: "getent to start",
      timeoutMs: 120_000,
    });
    ac.abort(reason);
    const err = await guarded(p, "summarize aborted while getent's child holds its output");
    assert(err === reason, `rejected with ${err}, not the signal's reason`);
    assertEquals(names(spill), []);
    // the name service's timeout kills it the same way: numbers, not a hang
    Deno.env.set("PWALK_NAMES_TIMEOUT", "1");
    const s = await guarded(
      summarize([scan], { tempDirectory: spill, onNamesTimeout: () => {} }),
      "summarize with a getent that times out",
    );
    assert(s.users.length > 0 && s.users.every((u) => u.name === null), JSON.stringify(s.users));
  } finally {
    Deno.env.set("PATH", path);
    Deno.env.delete("PWALK_NAMES_TIMEOUT");
    const left = await Deno.readTextFile(pids).catch(() => "");
    for (const pid of left.split("\n").filter((x) => x)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* ended */ }
    }
  }
});

Deno.test("answers: convert into a FIFO stops on abort, with no reader yet or one that takes nothing", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/a.csv`;
  // about 300 KB of CSV: more than a pipe holds
  await Deno.writeFile(scan, scanBytes(3000, false));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const fifo = `${tmp.path}/out.csv`;
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert(mk.success);

  // no reader: aborted once DuckDB's work is done (its session closed, the
  // spill folder gone), while convert waits to open the FIFO
  {
    const ac = new AbortController();
    const reason = new Error("no reader");
    let writing = false;
    const p = rejection(convert([scan], fifo, {
      tempDirectory: spill,
      signal: ac.signal,
      onStage: (s) => writing ||= s.step === "writing",
    }));
    await waitFor(() => writing && !names(spill).some((n) => n.startsWith("pwalk-duckdb-")), {
      what: "DuckDB's session to close",
      timeoutMs: 120_000,
    });
    ac.abort(reason);
    let err;
    try {
      err = await guarded(p, "convert into a FIFO with no reader, aborted");
    } finally {
      // (a writer blocked in its open: a reader lets it go on, and fail)
      if (err === undefined) (await Deno.open(fifo, { read: true })).close();
    }
    assert(err === reason, `rejected with ${err}, not the signal's reason`);
    assertEquals(names(spill), [], "the temporary is removed");
  }

  // a reader that opened it and takes nothing: aborted once convert opened it
  {
    const ac = new AbortController();
    const reason = new Error("reader asleep");
    const p = rejection(convert([scan], fifo, { tempDirectory: spill, signal: ac.signal }));
    const r = await Deno.open(fifo, { read: true }); // (once convert opens it to write)
    try {
      ac.abort(reason);
      const err = await guarded(p, "convert into a FIFO whose reader takes nothing, aborted");
      assert(err === reason, `rejected with ${err}, not the signal's reason`);
    } finally {
      r.close(); // (the write still waiting fails)
      await p;
    }
    assertEquals(names(spill), [], "the temporary is removed");
  }
});

Deno.test("answers: diff aborted as it looks up no names (nothing changed) rejects with the reason", async () => {
  await using tmp = await tempDir();
  const a = `${tmp.path}/a.csv`, b = `${tmp.path}/b.csv`;
  await Deno.writeFile(a, scanBytes(50, false));
  await Deno.copyFile(a, b);
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const ac = new AbortController();
  const reason = new Error("stop");
  const told: string[] = [];
  const err = await guarded(
    rejection(diff([a], [b], {
      tempDirectory: spill,
      signal: ac.signal,
      onStage: (s) => {
        told.push(s.step);
        if (s.step === "user and group names") ac.abort(reason);
      },
    })),
    "diff aborted at its names",
  );
  assert(told.includes("user and group names"), `${told}`);
  assert(err === reason, `resolved or rejected with ${err}, not the signal's reason`);
  assertEquals(names(spill), []);
});

Deno.test("answers: a signal that is no AbortSignal is refused", async () => {
  for (const bad of [true, "x", {}, { aborted: false }]) {
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => summarize(["/nonexistent.csv"], { signal: bad as any }),
      TypeError,
      "signal must be an AbortSignal",
    );
  }
});

Deno.test("answers: convert's copy out of its spill folder (into a folder others can change) stops once the signal aborts", async () => {
  // Into a folder another user could change (writable by all, not sticky)
  // DuckDB writes in the private spill folder, and convert then copies that
  // file into the temporary beside OUT through its descriptor: minutes for
  // a large scan. DuckDB's file read through a FIFO, fed a block at a time,
  // stands for one that takes that long.
  await using tmp = await tempDir();
  const scan = `${tmp.path}/a.csv`;
  await Deno.writeFile(scan, scanBytes(3000, false));
  const spill = `${tmp.path}/spill`;
  await Deno.mkdir(spill);
  const outDir = `${tmp.path}/open`;
  await Deno.mkdir(outDir);
  await Deno.chmod(outDir, 0o777);
  const fifo = `${tmp.path}/body`;
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert(mk.success);
  const open = Deno.open;
  const copied: string[] = [];
  Deno.open = ((path: string | URL, options?: Deno.OpenOptions) => {
    if (typeof path === "string" && /\/pwalk-duckdb-[^/]*\/(out\.parquet|body\.csv)$/.test(path)) {
      copied.push(path.slice(path.lastIndexOf("/") + 1));
      return open(fifo, options);
    }
    return open(path, options);
  }) as typeof Deno.open;
  // (no more than a pipe writes at once: never half written when its reader goes)
  const block = new Uint8Array(4096).fill(0x61);
  try {
    for (const out of [`${outDir}/a.parquet`, `${outDir}/a.csv`]) {
      const ac = new AbortController();
      const reason = new Error("stop");
      const p = rejection(convert([scan], out, { tempDirectory: spill, signal: ac.signal }));
      const w = await open(fifo, { write: true }); // (once the copy opens it to read)
      try {
        assertEquals(await w.write(block), block.length);
        // the copy under way: its first bytes in the temporary beside OUT
        await waitFor(
          () => names(outDir).some((n) => Deno.statSync(`${outDir}/${n}`).size === block.length),
          { what: "the first bytes copied", timeoutMs: 120_000 },
        );
        ac.abort(reason);
        // more to copy: a copy that goes on takes it, and waits for more
        assertEquals(await w.write(block), block.length);
        const err = await guarded(p, `convert to ${out}, aborted in its copy`, 1);
        assert(err === reason, `${out}: resolved or rejected with ${err}, not the signal's reason`);
      } finally {
        w.close(); // (a copy still reading ends)
        await p;
      }
      assertEquals(names(spill), [], `${out}: spill folder left`);
      assertEquals(names(outDir), [], `${out}: output or temporary left`);
    }
  } finally {
    Deno.open = open;
  }
  assertEquals(copied, ["out.parquet", "body.csv"]);
});
