/**
 * The library download (lib/fetchlib.ts downloadLibrary) against servers
 * that misbehave: one that accepts and never answers is given up after
 * PWALK_DOWNLOAD_TIMEOUT seconds without a byte; one that sends more than
 * the manifest's size is not read further; a caller's signal stops it. And
 * the command, imported over loopback as from JSR, stops its download at
 * the first SIGTERM, saying so, instead of waiting for workers that do not
 * exist. No timing is asserted: the timeouts given only make the tests
 * short, and each child has a hang guard.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  DownloadInterrupted,
  downloadLibrary,
  MANIFEST,
  type Manifest,
  targetKey,
} from "../lib/fetchlib.ts";
import { REPO } from "./helpers/run.ts";
import { fakeManifest as shipManifest, remoteEnv } from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";

const BYTES = new TextEncoder().encode("a library of some bytes, checked by their SHA-256\n");
const FILE = `libpwalk-${targetKey()}.so`;

function fakeManifest(): Manifest {
  return shipManifest(BYTES, FILE, "0.0.0-stall");
}

/** A TCP server that accepts every connection and never answers; resolves `accepted` on the first. */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let accepted!: () => void;
  const first = new Promise<void>((r) => accepted = r);
  (async () => {
    try {
      for await (const c of listener) {
        conns.push(c);
        accepted();
      }
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`,
    first,
    close() {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      listener.close();
    },
  };
}

/** Run `fn` with these environment variables set in this process. */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

const listAll = (dir: string) => {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
};

Deno.test("fetchlib: a server that never answers is given up after PWALK_DOWNLOAD_TIMEOUT seconds without a byte", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  const srv = silentServer();
  try {
    await withEnv({ PWALK_LIB_URL: srv.url, PWALK_DOWNLOAD_TIMEOUT: "0.3" }, async () => {
      const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${tmp.path}/c`), Error);
      assertStringIncludes(e.message, `could not download the native library for ${targetKey()}`);
      assertStringIncludes(
        e.message,
        `${srv.url}${FILE}: no data for 0.3 s (PWALK_DOWNLOAD_TIMEOUT`,
      );
    });
  } finally {
    srv.close();
  }
  assertEquals(listAll(tmp.path), [], "nothing cached");
});

Deno.test("fetchlib: a caller's signal stops a download that gets no answer", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  const srv = silentServer();
  try {
    await withEnv({ PWALK_LIB_URL: srv.url }, async () => {
      const abort = new AbortController();
      const p = downloadLibrary(fakeManifest(), `${tmp.path}/c`, abort.signal);
      await srv.first;
      abort.abort(new Error("stopped by the test"));
      const e = await assertRejects(() => p, Error);
      assertInstanceOf(e, DownloadInterrupted);
      assertEquals(
        e.message,
        `pwalk: stopped by the test: the download of the native library from ${srv.url}${FILE} ` +
          "stopped; nothing was cached",
      );
    });
  } finally {
    srv.close();
  }
  assertEquals(listAll(tmp.path), []);
});

Deno.test("fetchlib: a server that sends more than the manifest's size is not read further", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  let sent = 0;
  const chunk = new Uint8Array(1 << 16);
  // BYTES, then an endless stream: only a reader that stops can finish
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(BYTES);
        },
        pull(c) {
          sent += chunk.length;
          c.enqueue(chunk);
        },
      }),
    ));
  try {
    await withEnv({ PWALK_LIB_URL: `http://127.0.0.1:${server.addr.port}/` }, async () => {
      const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${tmp.path}/c`), Error);
      assertStringIncludes(
        e.message,
        `the server sent more than the ${BYTES.length} bytes of the manifest`,
      );
    });
  } finally {
    await server.shutdown();
  }
  assert(sent < 1 << 30, `${sent} bytes sent`);
  assertEquals(listAll(tmp.path), [], "nothing cached");
});

/**
 * The module served over loopback as JSR would (cli.ts, mod.ts, deno.json,
 * lib/), the library's URL answered by `lib` (a silent server).
 */
function serveModule() {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(REPO + path);
      const type = path.endsWith(".ts") ? "application/typescript" : "application/json";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** A clean environment for a URL import (helpers/ship.ts remoteEnv), and DIR/tree to walk. */
function cleanEnv(dir: string, libUrl: string, extra: Record<string, string>) {
  Deno.mkdirSync(`${dir}/tree`);
  return remoteEnv(dir, libUrl, extra);
}

/** `deno run -A BASE/cli.ts DIR/tree` spawned, with a hang guard (SIGKILL after 120 s). */
function spawnRemote(dir: string, base: string, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${base}/cli.ts`, `${dir}/tree`],
    cwd: `${dir}/cwd`,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const out = child.output().then((o) => {
    clearTimeout(guard);
    return { code: o.code, stderr: new TextDecoder().decode(o.stderr) };
  });
  return { child, out };
}

Deno.test("cli: imported as from JSR, the first SIGTERM during the library's download stops it and says so", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  await using mod = serveModule();
  const srv = silentServer();
  try {
    const env = cleanEnv(tmp.path, srv.url, { PWALK_DOWNLOAD_TIMEOUT: "600" });
    const { child, out } = spawnRemote(tmp.path, mod.base, env);
    await srv.first; // the download has begun, and gets no answer
    child.kill("SIGTERM");
    const r = await out;
    const url = `${srv.url}${MANIFEST.targets[targetKey()].file}`;
    assertEquals(
      r.stderr.trim().split("\n").at(-1),
      `pwalk: interrupted by SIGTERM; the download of the native library from ${url} stopped; nothing was cached`,
    );
    assertEquals(r.code, 143, r.stderr);
  } finally {
    srv.close();
  }
  assertEquals(listAll(`${tmp.path}/deno/pwalk/${MANIFEST.version}`), [], "nothing cached");
});

Deno.test("cli: imported as from JSR, a download that gets no answer fails after PWALK_DOWNLOAD_TIMEOUT", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  await using mod = serveModule();
  const srv = silentServer();
  try {
    const env = cleanEnv(tmp.path, srv.url, { PWALK_DOWNLOAD_TIMEOUT: "0.5" });
    const r = await spawnRemote(tmp.path, mod.base, env).out;
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(
      r.stderr,
      "no data for 0.5 s (PWALK_DOWNLOAD_TIMEOUT sets how long to wait)",
    );
  } finally {
    srv.close();
  }
});

Deno.test("fetchlib: a PWALK_DOWNLOAD_TIMEOUT that is no number of seconds is refused, naming it (not 60 s instead)", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  const srv = silentServer();
  try {
    for (const bad of ["abc", "0", "-5", "1e9", "Infinity", " "]) {
      await withEnv({ PWALK_LIB_URL: srv.url, PWALK_DOWNLOAD_TIMEOUT: bad }, async () => {
        const e = await assertRejects(
          () => downloadLibrary(fakeManifest(), `${tmp.path}/c`),
          Error,
        );
        assertStringIncludes(e.message, "PWALK_DOWNLOAD_TIMEOUT must be a number of seconds");
        assertStringIncludes(e.message, `got '${bad}'`);
        assertEquals(e.message.split("\n").length, 1);
      });
    }
  } finally {
    srv.close();
  }
  assertEquals(listAll(tmp.path), [], "nothing cached");
});

Deno.test("cli: imported as from JSR, a bad PWALK_DOWNLOAD_TIMEOUT is one line naming it", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  await using mod = serveModule();
  const srv = silentServer();
  try {
    const env = cleanEnv(tmp.path, srv.url, { PWALK_DOWNLOAD_TIMEOUT: "abc" });
    const r = await spawnRemote(tmp.path, mod.base, env).out;
    assertEquals(r.code, 1, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("pwalk"));
    assertEquals(lines.length, 1, r.stderr);
    assertStringIncludes(lines[0], "PWALK_DOWNLOAD_TIMEOUT must be a number of seconds");
  } finally {
    srv.close();
  }
});

/**
 * The child of the test below: imports pwalk from BASE (as from JSR) and
 * runs report(), walk() and walkDirs() on ROOT, one after another, each
 * with a signal that SIGUSR1 aborts; prints a line per call: whether it
 * rejected with the signal's reason, and the name of what it threw.
 */
const ABORT_CHILD = `
const [base, root, out] = Deno.args;
const { report, walk, walkDirs } = await import(base + "/mod.ts");
const calls = {
  report: (signal) => report(root, { output: out, signal }),
  walk: async (signal) => { for await (const _ of walk(root, { signal })) {} },
  walkDirs: async (signal) => { for await (const _ of walkDirs(root, { signal })) {} },
};
for (const [api, call] of Object.entries(calls)) {
  const ac = new AbortController();
  const reason = new DOMException("stopped by the test", "AbortError");
  const stop = () => ac.abort(reason);
  Deno.addSignalListener("SIGUSR1", stop);
  let line;
  try {
    await call(ac.signal);
    line = { api, settled: "fulfilled" };
  } catch (e) {
    line = { api, settled: "rejected", isReason: e === reason, name: e?.name };
  }
  Deno.removeSignalListener("SIGUSR1", stop);
  console.log(JSON.stringify(line));
}
`;

Deno.test("report, walk, walkDirs: imported as from JSR, an abort during the library's download rejects with the signal's reason (audit)", async () => {
  await using tmp = await tempDir("pwalk-stall-");
  await using mod = serveModule();
  const env = cleanEnv(tmp.path, "", { PWALK_DOWNLOAD_TIMEOUT: "600" });
  const script = `${tmp.path}/child.ts`;
  await Deno.writeTextFile(script, ABORT_CHILD);
  // a library server that never answers: each download it accepts, the
  // child is told to abort (SIGUSR1)
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  env.PWALK_LIB_URL = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, mod.base, `${tmp.path}/tree`, `${tmp.path}/out.csv`],
    cwd: `${tmp.path}/cwd`,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    try {
      for await (const c of listener) {
        conns.push(c);
        child.kill("SIGUSR1");
      }
    } catch { /* closed */ }
  })();
  const o = await child.output();
  clearTimeout(guard);
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  listener.close();
  await serving;
  const stderr = new TextDecoder().decode(o.stderr);
  assertEquals(o.code, 0, stderr);
  const lines = new TextDecoder().decode(o.stdout).trim().split("\n").map((l) => JSON.parse(l));
  const want = (api: string) => ({ api, settled: "rejected", isReason: true, name: "AbortError" });
  assertEquals(lines, [want("report"), want("walk"), want("walkDirs")], stderr);
  assertEquals(conns.length, 3, "one download per call");
  assertEquals(listAll(tmp.path).filter((n) => n.startsWith("out.csv")), [], "no output");
  assertEquals(listAll(`${tmp.path}/deno/pwalk/${MANIFEST.version}`), [], "nothing cached");
});
