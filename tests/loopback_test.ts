/**
 * Loading without a checkout, for real over loopback: this test serves the
 * repository and dist/ on 127.0.0.1 and runs
 * `deno run -A http://127.0.0.1:PORT/cli.ts TREE` with PWALK_LIB_URL at the
 * served dist/, and an empty DENO_DIR, HOME and XDG_CACHE_HOME.
 *
 * The served lib/manifest.json is the fresh dist/manifest.json: the module
 * as it would be released from this tree (tests/dist_test.ts checks that the
 * committed one equals it).
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { sha256Hex } from "../lib/fetchlib.ts";
import { REPO, run, runOk } from "./helpers/run.ts";
import { buildDist, makeTree, sortedRows } from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";

const TYPES: Record<string, string> = {
  ".ts": "application/typescript; charset=utf-8",
  ".json": "application/json",
};

/** Files under dir, recursively (relative paths). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory) walk(`${d}/${e.name}`, `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  walk(dir, "");
  return out;
}

Deno.test("loopback: a URL import downloads the library once, verifies it, caches it; a tampered one is refused", async () => {
  const m = await buildDist();
  const t = m.targets[`${Deno.build.os}-${Deno.build.arch}`];
  const libPath = `/dist/${t.file}`;
  const requests = new Map<string, number>();
  let tamper = false;

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path.includes("..")) return new Response("no", { status: 400 });
    const file = path === "/lib/manifest.json" ? `${REPO}/dist/manifest.json` : REPO + path;
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(file);
    } catch {
      return new Response("not found", { status: 404 });
    }
    if (tamper && path === libPath) body[body.length >> 1] ^= 0xff;
    const ext = /\.[a-z]+$/.exec(path)?.[0] ?? "";
    return new Response(body, {
      headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;

  await using tmp = await tempDir("pwalk-loopback-");
  try {
    const tree = `${tmp.path}/tree`;
    makeTree(tree);
    for (const d of ["home", "xdg", "deno", "cwd"]) await Deno.mkdir(`${tmp.path}/${d}`);
    // The caller's environment (proxies, CA certificates for the npm registry)
    // without PWALK_ settings or caches, then empty homes and caches.
    const env: Record<string, string> = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !/^(PWALK_|DENO_DIR$|XDG_)/.test(k)),
    );
    Object.assign(env, {
      HOME: `${tmp.path}/home`,
      XDG_CACHE_HOME: `${tmp.path}/xdg`,
      DENO_DIR: `${tmp.path}/deno`,
      PWALK_LIB_URL: `${base}/dist/`,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    });
    const remote = () =>
      run(Deno.execPath(), ["run", "-A", `${base}/cli.ts`, tree], {
        cwd: `${tmp.path}/cwd`,
        env,
        clearEnv: true,
      });
    const local = () => runOk(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, tree]);

    await local(); // a first walk may update folder access times (relatime)
    const first = await remote();
    assertEquals(first.code, 0, first.stderr);
    const want = sortedRows((await local()).text);
    assert(want.length > 100);
    assertEquals(sortedRows(first.text), want);
    assertEquals(requests.get(libPath), 1, "downloaded once");
    assert((requests.get("/cli.ts") ?? 0) >= 1, "the CLI itself came over loopback");

    // Cached under DENO_DIR/pwalk/<version>/, verified, and nowhere else.
    const cacheDir = `${tmp.path}/deno/pwalk/${m.version}`;
    const cached = listFiles(cacheDir);
    assertEquals(cached, [`${t.sha256.slice(0, 16)}-${t.file}`]);
    assertEquals(sha256Hex(await Deno.readFile(`${cacheDir}/${cached[0]}`)), t.sha256);
    assertEquals(listFiles(`${tmp.path}/home`), []);
    assertEquals(listFiles(`${tmp.path}/xdg`), []);

    // A second run uses the cache: no download.
    const second = await remote();
    assertEquals(second.code, 0, second.stderr);
    assertEquals(sortedRows(second.text), want);
    assertEquals(requests.get(libPath), 1, "not downloaded again");

    // A tampered library is refused, and nothing is cached.
    await Deno.remove(`${tmp.path}/deno/pwalk`, { recursive: true });
    tamper = true;
    const bad = await remote();
    assertEquals(bad.code, 1);
    assertEquals(bad.text, "");
    assertStringIncludes(bad.stderr, "does not match its SHA-256");
    assertEquals(requests.get(libPath), 2);
    assertEquals(listFiles(`${tmp.path}/deno/pwalk`), []);
    assertEquals(listFiles(`${tmp.path}/home`), []);
    assertEquals(listFiles(`${tmp.path}/xdg`), []);
  } finally {
    await server.shutdown();
  }
});
