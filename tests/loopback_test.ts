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
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { sha256Hex } from "../lib/fetchlib.ts";
import { REPO, run, runOk } from "./helpers/run.ts";
import { buildDist, makeTree, remoteEnv, sortedRows } from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";
import {
  buildTree,
  changesBetween,
  diffSnapshots,
  expectRepair,
  generateTree,
  snapshot,
  undoneSnapshot,
} from "./helpers/repair_tree.ts";
import { readJournal } from "../lib/undo.ts";

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

/** The repository served on 127.0.0.1, lib/manifest.json being the fresh dist/manifest.json. */
interface Served extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** The served path of this platform's library (`/dist/FILE`). */
  libPath: string;
  /** Requests per path. */
  requests: Map<string, number>;
  /** Serve the library with one byte flipped. */
  tamper: boolean;
}

/** Serve the repository and dist/ over loopback (see the module doc). */
async function serveRepo(): Promise<Served> {
  const m = await buildDist();
  const t = m.targets[`${Deno.build.os}-${Deno.build.arch}`];
  const served: Omit<Served, "base" | typeof Symbol.asyncDispose> = {
    libPath: `/dist/${t.file}`,
    requests: new Map(),
    tamper: false,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    served.requests.set(path, (served.requests.get(path) ?? 0) + 1);
    if (path.includes("..")) return new Response("no", { status: 400 });
    const file = path === "/lib/manifest.json" ? `${REPO}/dist/manifest.json` : REPO + path;
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(file);
    } catch {
      return new Response("not found", { status: 404 });
    }
    if (served.tamper && path === served.libPath) body[body.length >> 1] ^= 0xff;
    const ext = /\.[a-z]+$/.exec(path)?.[0] ?? "";
    return new Response(body, {
      headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
    });
  });
  return Object.assign(served, {
    base: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  });
}

/** `deno run -A BASE/cli.ts ARGS` in dir/cwd with {@link remoteEnv}'s environment. */
function runRemote(dir: string, env: Record<string, string>, base: string, args: string[]) {
  return run(Deno.execPath(), ["run", "-A", `${base}/cli.ts`, ...args], {
    cwd: `${dir}/cwd`,
    env,
    clearEnv: true,
  });
}

Deno.test("loopback: a URL import downloads the library once, verifies it, caches it; a tampered one is refused", async () => {
  const m = await buildDist();
  const t = m.targets[`${Deno.build.os}-${Deno.build.arch}`];
  await using srv = await serveRepo();
  const { base, libPath, requests } = srv;
  await using tmp = await tempDir("pwalk-loopback-");
  const tree = `${tmp.path}/tree`;
  makeTree(tree);
  const env = remoteEnv(tmp.path, `${base}/dist/`);
  const remote = () => runRemote(tmp.path, env, base, [tree]);
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
  srv.tamper = true;
  const bad = await remote();
  assertEquals(bad.code, 1);
  assertEquals(bad.text, "");
  assertStringIncludes(bad.stderr, "does not match its SHA-256");
  assertEquals(requests.get(libPath), 2);
  assertEquals(listFiles(`${tmp.path}/deno/pwalk`), []);
  assertEquals(listFiles(`${tmp.path}/home`), []);
  assertEquals(listFiles(`${tmp.path}/xdg`), []);
});

Deno.test("loopback: from an empty cache, repair --apply --journal, repair({journal}), undo and a shard run download the library first", async () => {
  await using srv = await serveRepo();
  const { base, libPath, requests } = srv;
  await using tmp = await tempDir("pwalk-loopback-");
  const env = remoteEnv(tmp.path, `${base}/dist/`);
  const remote = (args: string[]) => runRemote(tmp.path, env, base, args);
  const emptyCache = () => Deno.removeSync(`${tmp.path}/deno/pwalk`, { recursive: true });
  const downloads = () => requests.get(libPath) ?? 0;

  // repair --apply --journal FILE: the journal is opened through the library
  const root = `${tmp.path}/proj`;
  buildTree(root, generateTree(3, 30));
  const before = snapshot(root);
  const want = expectRepair(root, before).after;
  const journal = `${tmp.path}/repair.journal`;
  const r = await remote(["repair", "--apply", "--journal", journal, root]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(downloads(), 1);
  const after = snapshot(root);
  assertEquals(diffSnapshots(want, after), []);
  const changed = changesBetween(before, after);
  assert(changed.length > 20, `only ${changed.length} changes`);
  assertEquals((await readJournal(journal)).entries.length, changed.length);

  // the API: repair(ROOT, { journal }) of a module imported by URL (a dry run)
  emptyCache();
  const dry = `${tmp.path}/dry.journal`;
  const api = await run(Deno.execPath(), [
    "eval",
    `const { repair } = await import("${base}/mod.ts");
     const s = await repair(${JSON.stringify(root)}, { journal: ${JSON.stringify(dry)} });
     console.log(s.entriesChanged, s.journal);`,
  ], { cwd: `${tmp.path}/cwd`, env, clearEnv: true });
  assertEquals(api.code, 0, api.stderr);
  assertEquals(api.text, `0 ${dry}\n`); // repaired above: nothing left to change
  assertEquals(downloads(), 2);

  // undo --apply of that journal puts the tree back as it was
  emptyCache();
  const u = await remote(["undo", "--apply", journal]);
  assertEquals(u.code, 0, u.stderr);
  assertEquals(downloads(), 3);
  // (setgid, which the repair took off files of users, stays off them)
  assertEquals(diffSnapshots(undoneSnapshot(before, after), snapshot(root)), []);

  // a shard run: plan (no library needed), then shard 0 (its lock opened through the library)
  emptyCache();
  const tree = `${tmp.path}/tree`;
  makeTree(tree);
  const scan = `${tmp.path}/scan`;
  await Deno.mkdir(scan);
  const p = await remote(["plan", tree, "--shards", "1", "-o", `${scan}/plan.json`]);
  assertEquals(p.code, 0, p.stderr);
  const local = () => runOk(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, tree]);
  await local(); // a first walk may update folder access times (relatime)
  const s = await remote([
    "report",
    "--plan",
    `${scan}/plan.json`,
    "--shard",
    "0",
    "-o",
    `${scan}/scan-0.csv`,
  ]);
  assertEquals(s.code, 0, s.stderr);
  assertEquals(downloads(), 4);
  const rows = sortedRows(await Deno.readTextFile(`${scan}/scan-0.csv`));
  assert(rows.length > 100);
  assertEquals(rows, sortedRows((await local()).text));
  assert(listFiles(scan).includes("scan-0.done.json"), listFiles(scan).join(" "));

  // status needs no library; --version loads it
  emptyCache();
  const st = await remote(["status", scan]);
  assertEquals(st.code, 0, st.stderr);
  assertEquals(downloads(), 4);
  const v = await remote(["--version"]);
  assertEquals(v.code, 0, v.stderr);
  assertMatch(v.text, /^pwalk \S+ \(native \S+\)\n$/);
  assertEquals(downloads(), 5);
});
