/**
 * The download-verify-cache steps of lib/fetchlib.ts, each failure on its
 * own: a missing target, no network, an HTTP error, a checksum mismatch, a
 * damaged cache file; and PWALK_LIB / PWALK_LIB_URL need no --allow-env
 * when they are not set. A cache folder or TMPDIR that another user could
 * change (uid 60001 plays her: the folders are chowned to it) is not used:
 * her copy at the exact cached name is never opened.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  cachedLibrary,
  cachePath,
  downloadLibrary,
  findLibrary,
  installEmbedded,
  installLibrary,
  MANIFEST,
  type Manifest,
  manifestTarget,
  sha256Hex,
  targetKey,
} from "../lib/fetchlib.ts";
import { REPO, run, runOk, UNPRIVILEGED } from "./helpers/run.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import {
  buildDist,
  fakeManifest as shipManifest,
  makeTree,
  standaloneLayout,
} from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";

const BYTES = new TextEncoder().encode("not really a library, but bytes with a checksum\n");
const FILE = `libpwalk-${targetKey()}.so`;

function fakeManifest(sha256 = sha256Hex(BYTES)): Manifest {
  return shipManifest(BYTES, FILE, "0.0.0-test", sha256);
}

function listAll(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Serve BYTES (or a status) and count requests; PWALK_LIB_URL points at it. */
async function withServer(
  respond: () => Response,
  fn: (hits: () => number) => Promise<void>,
): Promise<void> {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    n++;
    return respond();
  });
  const old = Deno.env.get("PWALK_LIB_URL");
  Deno.env.set("PWALK_LIB_URL", `http://127.0.0.1:${server.addr.port}/rel`); // no trailing "/"
  try {
    await fn(() => n);
  } finally {
    if (old === undefined) Deno.env.delete("PWALK_LIB_URL");
    else Deno.env.set("PWALK_LIB_URL", old);
    await server.shutdown();
  }
}

/** A port nothing listens on: a server's, shut down. */
async function deadPort(): Promise<number> {
  let port = 0;
  await withServer(() => new Response(BYTES), async () => {
    port = Number(new URL(Deno.env.get("PWALK_LIB_URL")!).port);
    await Promise.resolve();
  });
  return port;
}

Deno.test("fetchlib: a platform missing from the manifest is a clear error", () => {
  const m = fakeManifest();
  m.targets = { "plan9-mips": m.targets[targetKey()] };
  const e = assertThrows(() => manifestTarget(m), Error);
  assertStringIncludes(e.message, `no native library for ${Deno.build.os}/${Deno.build.arch}`);
  assertStringIncludes(e.message, "plan9-mips");
});

Deno.test("fetchlib: download, verify, cache atomically; later calls need no network", async () => {
  await using tmp = await tempDir("pwalk-fetch-");
  const dir = tmp.path;
  await withServer(() => new Response(BYTES), async (hits) => {
    const path = await downloadLibrary(fakeManifest(), `${dir}/c`);
    assertEquals(path, cachePath(FILE, sha256Hex(BYTES), `${dir}/c`));
    assertEquals(await Deno.readFile(path), BYTES);
    assertEquals(listAll(`${dir}/c`), [path.split("/").pop()]); // no temporary left
    assertEquals(hits(), 1);
    assertEquals(await downloadLibrary(fakeManifest(), `${dir}/c`), path);
    assertEquals(hits(), 1, "served from the cache");
  });
  // The server is gone: the cache still answers.
  assertEquals(cachedLibrary(FILE, sha256Hex(BYTES), `${dir}/c`) !== undefined, true);
});

Deno.test("fetchlib: no network, an HTTP error or a checksum mismatch leaves nothing in the cache", async () => {
  await using tmp = await tempDir("pwalk-fetch-");
  const dir = tmp.path;
  const port = await deadPort();
  Deno.env.set("PWALK_LIB_URL", `http://127.0.0.1:${port}/`);
  try {
    const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${dir}/c`), Error);
    assertStringIncludes(e.message, "could not download the native library");
    assertStringIncludes(e.message, `http://127.0.0.1:${port}/${FILE}`);
  } finally {
    Deno.env.delete("PWALK_LIB_URL");
  }
  assertEquals(listAll(dir), []);

  await withServer(() => new Response("gone", { status: 404 }), async () => {
    const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${dir}/c`), Error);
    assertStringIncludes(e.message, "HTTP 404");
  });
  assertEquals(listAll(dir), []);

  await withServer(() => new Response(BYTES.map((b) => b ^ 1)), async () => {
    const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${dir}/c`), Error);
    assertStringIncludes(e.message, "does not match its SHA-256");
  });
  assertEquals(listAll(dir), []);

  // a download cut short is said to be one, with what to do
  await withServer(() => new Response(BYTES.subarray(0, 10)), async () => {
    const e = await assertRejects(() => downloadLibrary(fakeManifest(), `${dir}/c`), Error);
    assertStringIncludes(
      e.message,
      `: the server sent 10 of the ${BYTES.length} bytes of the manifest (cut short). ` +
        "Set PWALK_LIB",
    );
  });
  assertEquals(listAll(dir), []);
});

Deno.test("fetchlib: offline, the error says why the copy in the cache was not used", async () => {
  await using tmp = await tempDir("pwalk-fetch-");
  const dir = `${tmp.path}/c`;
  const sum = sha256Hex(BYTES);
  const path = installLibrary(BYTES, FILE, sum, dir);
  Deno.env.set("PWALK_LIB_URL", `http://127.0.0.1:${await deadPort()}/`);
  try {
    const offline = () => assertRejects(() => downloadLibrary(fakeManifest(), dir), Error);
    await Deno.chmod(path, 0o775);
    assertStringIncludes(
      (await offline()).message,
      `(the copy in the cache was not used: ${path} is writable by group or others (mode 0775)).`,
    );
    await Deno.chmod(path, 0o755);
    await Deno.writeFile(path, BYTES.subarray(0, 5));
    assertStringIncludes(
      (await offline()).message,
      `(the copy in the cache was not used: ${path} does not match its SHA-256`,
    );
    await Deno.remove(path);
    assert(!(await offline()).message.includes("the copy in the cache"), "none there: none told");
  } finally {
    Deno.env.delete("PWALK_LIB_URL");
  }
});

Deno.test("fetchlib: a damaged cached copy is not used; a fresh download replaces it", async () => {
  await using tmp = await tempDir("pwalk-fetch-");
  const dir = tmp.path;
  const sum = sha256Hex(BYTES);
  const path = installLibrary(BYTES, FILE, sum, dir);
  await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
  assertEquals(cachedLibrary(FILE, sum, dir), undefined);
  await withServer(() => new Response(BYTES), async (hits) => {
    assertEquals(await downloadLibrary(fakeManifest(), dir), path);
    assertEquals(hits(), 1);
  });
  assertEquals(await Deno.readFile(path), BYTES);
  assertThrows(() => installLibrary(BYTES, FILE, "0".repeat(64), `${dir}/other`));
  assertEquals(listAll(`${dir}/other`), []);
});

Deno.test("fetchlib: a checkout runs without --allow-env (PWALK_LIB unset is not an error)", async () => {
  await using tmp = await tempDir("pwalk-noenv-");
  const dir = tmp.path;
  makeTree(`${dir}/t`);
  const r = await runOk(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-ffi",
    "--no-prompt",
    `${REPO}/cli.ts`,
    `${dir}/t`,
  ]);
  assert(r.text.split("\n").length > 100);
});

Deno.test("a checkout under a path with a space and a non-ASCII name finds its own library", async () => {
  await using tmp = await tempDir("pwalk-space-");
  const co = `${tmp.path}/My Projects/josé`;
  await Deno.mkdir(co, { recursive: true });
  // the module's files, and the built library where a checkout has it
  for (const f of ["cli.ts", "mod.ts", "deno.json", "deno.lock"]) {
    await Deno.copyFile(`${REPO}/${f}`, `${co}/${f}`);
  }
  for (const d of ["lib", "native"]) {
    await runOk("cp", ["-r", `${REPO}/${d}`, `${co}/${d}`]); // native/: the source id expected
  }
  await Deno.symlink(`${REPO}/zig-out`, `${co}/zig-out`);
  makeTree(`${tmp.path}/t`);
  const r = await run(Deno.execPath(), ["run", "-A", `${co}/cli.ts`, `${tmp.path}/t`], {
    env: { PWALK_LIB: "" },
  });
  assertEquals(r.code, 0, r.stderr);
  assert(r.text.split("\n").length > 100, r.text.slice(0, 200));
});

Deno.test("a PWALK_LIB that does not exist is named as the one tried, with no advice to build", async () => {
  await using tmp = await tempDir("pwalk-badlib-");
  makeTree(`${tmp.path}/t`);
  const r = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, `${tmp.path}/t`], {
    env: { PWALK_LIB: `${tmp.path}/nope.so` },
  });
  assertEquals(r.code, 1, r.stderr);
  assertEquals(
    r.stderr.trim(),
    `pwalk: the native library ${tmp.path}/nope.so (PWALK_LIB) does not exist: ` +
      "give the path of a built libpwalk, or unset it",
  );
});

Deno.test("a PWALK_LIB that is a folder is said to be one, not a missing file", async () => {
  await using tmp = await tempDir("pwalk-dirlib-");
  makeTree(`${tmp.path}/t`);
  const dir = `${REPO}/zig-out/lib`; // the folder of a built library: it is there, as a folder
  assert((await Deno.stat(dir)).isDirectory);
  for (const given of [dir, `${dir}/`]) {
    const r = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, `${tmp.path}/t`], {
      env: { PWALK_LIB: given },
    });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stderr.trim(),
      `pwalk: the native library ${given} (PWALK_LIB) is a folder, not a library file: ` +
        `give the path of the library file (${dir}/libpwalk.so?)`,
    );
  }
});

Deno.test("fetchlib: a bundled library (deno compile's case) is copied verified into the cache and opens there", async () => {
  const m = await buildDist();
  const t = m.targets[targetKey()];
  await using tmp = await tempDir("pwalk-embed-");
  const dir = tmp.path;
  const url = new URL(`file://${REPO}/dist/${t.file}`);
  const path = installEmbedded(url, t.file, dir)!;
  assertEquals(path, cachePath(t.file, t.sha256, dir));
  assertEquals(sha256Hex(await Deno.readFile(path)), t.sha256);
  assertEquals(installEmbedded(url, t.file, dir), path, "the second start reuses the copy");
  const lib = Deno.dlopen(path, { pw_version: { parameters: [], result: "pointer" } });
  try {
    const v = new Deno.UnsafePointerView(lib.symbols.pw_version()!).getCString();
    assertEquals(v, m.version);
  } finally {
    lib.close();
  }
  assertEquals(
    installEmbedded(new URL(`file://${dir}/nothing.so`), "nothing.so", dir),
    undefined,
  );
});

Deno.test("a relative PWALK_LIB or setLibraryPath() names the file in the working folder (PWALK_CWD's under deno task report)", async () => {
  await using tmp = await tempDir("pwalk-rellib-");
  await Deno.copyFile(`${REPO}/zig-out/lib/libpwalk.so`, `${tmp.path}/good.so`);
  makeTree(`${tmp.path}/t`);
  // dlopen would search a bare "good.so" on LD_LIBRARY_PATH and the system's folders
  const here = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, "t"], {
    cwd: tmp.path,
    env: { PWALK_LIB: "good.so" },
  });
  assertEquals(here.code, 0, here.stderr);
  assert(here.text.split("\n").length > 100, here.text.slice(0, 200));
  // `deno task report` runs in the checkout, PWALK_CWD where the user typed it
  const task = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, "t"], {
    cwd: REPO,
    env: { PWALK_LIB: "./good.so", PWALK_CWD: tmp.path },
  });
  assertEquals(task.code, 0, task.stderr);
  assertEquals(task.text.split("\n").length, here.text.split("\n").length);
  // the API: the path taken from the working folder when set; the kernel's
  // map of the process names the file opened
  const api = await run(Deno.execPath(), [
    "eval",
    `import { nativeVersion, setLibraryPath } from "${REPO}/mod.ts";
     setLibraryPath("good.so");
     Deno.chdir("/");
     nativeVersion();
     const maps = Deno.readTextFileSync("/proc/self/maps").split("\\n");
     console.log([...new Set(maps.filter((l) => /pwalk|good/.test(l)).map((l) => l.split(/ +/)[5]))].join(" "));`,
  ], { cwd: tmp.path, env: { PWALK_LIB: "" } });
  assertEquals(api.code, 0, api.stderr);
  assertEquals(api.text.trim(), `${tmp.path}/good.so`);
});

Deno.test("without --allow-env a set PWALK_LIB is not read, and a library not found says so", async () => {
  await using tmp = await tempDir("pwalk-noenv-");
  // a checkout without a build: nothing in zig-out/ or dist/
  const co = `${tmp.path}/co`;
  await Deno.mkdir(co);
  for (const f of ["cli.ts", "mod.ts", "deno.json", "deno.lock"]) {
    await Deno.copyFile(`${REPO}/${f}`, `${co}/${f}`);
  }
  await runOk("cp", ["-r", `${REPO}/lib`, `${co}/lib`]);
  makeTree(`${tmp.path}/t`);
  const env = { PWALK_LIB: `${REPO}/zig-out/lib/libpwalk.so` };
  const perms = ["--allow-read", "--allow-ffi", "--no-prompt"];
  const noEnv = await run(Deno.execPath(), ["run", ...perms, `${co}/cli.ts`, `${tmp.path}/t`], {
    env,
  });
  assertEquals(noEnv.code, 1, noEnv.stderr);
  assertStringIncludes(noEnv.stderr, "pwalk: native library not found (tried: ");
  assertStringIncludes(noEnv.stderr, "(PWALK_LIB is not read without --allow-env)");
  // allowed for that one name, it is read
  const withEnv = await run(Deno.execPath(), [
    "run",
    ...perms,
    "--allow-env=PWALK_LIB",
    `${co}/cli.ts`,
    `${tmp.path}/t`,
  ], { env });
  assertEquals(withEnv.code, 0, withEnv.stderr);
  assert(withEnv.text.split("\n").length > 100);
  // with env permission, not found says nothing of it
  const unset = await run(Deno.execPath(), ["run", "-A", `${co}/cli.ts`, `${tmp.path}/t`], {
    env: { PWALK_LIB: "" },
  });
  assertEquals(unset.code, 1, unset.stderr);
  assertStringIncludes(unset.stderr, "pwalk: native library not found (tried: ");
  assert(!unset.stderr.includes("--allow-env"), unset.stderr);
});

/** installEmbedded(LIB, "libpwalk.so", DIR?, TMP?) in a child process; its stdout is the path. */
function embedInChild(lib: string, args: string[], o: Parameters<typeof run>[2] = {}) {
  const call = [`new URL("file://${lib}")`, '"libpwalk.so"', ...args].join(", ");
  return run(Deno.execPath(), [
    "eval",
    `import { installEmbedded } from "file://${REPO}/lib/fetchlib.ts";
     console.log(installEmbedded(${call}));`,
  ], o);
}

Deno.test("fetchlib: a bundled library without HOME is copied once to a private folder under TMPDIR, reused by every start", async () => {
  await using tmp = await tempDir("pwalk-embed-");
  const lib = `${REPO}/zig-out/lib/libpwalk.so`;
  const sum = (await runOk("sha256sum", [lib])).text.split(" ")[0];
  const env = { TMPDIR: tmp.path }; // no HOME, XDG_CACHE_HOME or DENO_DIR: no cache folder
  const first = await embedInChild(lib, [], { cwd: tmp.path, env, clearEnv: true });
  assertEquals(first.code, 0, first.stderr);
  const dir = `${tmp.path}/pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
  assertEquals(first.text.trim(), cachePath("libpwalk.so", sum, dir));
  const second = await embedInChild(lib, [], { cwd: tmp.path, env, clearEnv: true });
  assertEquals(second.text, first.text, "the second start reuses the copy");
  assertEquals(listAll(tmp.path), [dir.slice(tmp.path.length + 1)]);
  assertEquals(listAll(dir).length, 1);
  const st = await Deno.lstat(dir);
  assert(st.isDirectory);
  assertEquals(st.mode! & 0o7777, 0o700);
  assertEquals((await runOk("sha256sum", [first.text.trim()])).text.split(" ")[0], sum);
});

testNeeding([SETPRIV], {
  name:
    "fetchlib: a bundled library whose cache folder cannot be written goes to the private temporary folder",
  async fn() {
    await using tmp = await tempDir("pwalk-embed-");
    const lib = `${REPO}/zig-out/lib/libpwalk.so`;
    const sum = sha256Hex(await Deno.readFile(lib));
    const cache = `${tmp.path}/cache`;
    await Deno.mkdir(cache);
    await Deno.chmod(cache, 0o555);
    // uid 0 without capabilities: an ordinary user for permissions
    const r = await embedInChild(lib, [JSON.stringify(cache), JSON.stringify(tmp.path)], {
      prefix: UNPRIVILEGED,
      cwd: tmp.path,
    });
    assertEquals(r.code, 0, r.stderr);
    const dir = `${tmp.path}/pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
    assertEquals(r.text.trim(), cachePath("libpwalk.so", sum, dir));
    assertEquals(listAll(cache), []);
    assertEquals(sha256Hex(await Deno.readFile(r.text.trim())), sum);
  },
});

Deno.test("fetchlib: a private temporary folder's name that is a link, another user's, or writable by others is not used: a fresh folder of an unpredictable name is", async () => {
  await using tmp = await tempDir("pwalk-embed-");
  const lib = `${REPO}/zig-out/lib/libpwalk.so`;
  const sum = sha256Hex(await Deno.readFile(lib));
  const url = new URL(`file://${lib}`);
  await Deno.writeTextFile(`${tmp.path}/file`, "");
  const noCache = `${tmp.path}/file/cache`; // below a file: cannot be made
  const name = `pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
  const dir = `${tmp.path}/${name}`;
  /** The copy is made in a fresh folder beside `dir`, of this user, mode 0700; nothing in `dir`. */
  const fresh = async () => {
    const before = new Set(listAll(tmp.path));
    const got = installEmbedded(url, "libpwalk.so", noCache, tmp.path)!;
    const made = listAll(tmp.path).filter((n) => !before.has(n));
    assertEquals(made.length, 1, made.join(" "));
    assert(made[0].startsWith(`${name}-`) && made[0].length > name.length + 4, made[0]);
    assertEquals(got, cachePath("libpwalk.so", sum, `${tmp.path}/${made[0]}`));
    const st = await Deno.lstat(`${tmp.path}/${made[0]}`);
    assertEquals([st.uid, st.mode! & 0o7777], [Deno.uid(), 0o700]);
    assertEquals(sha256Hex(await Deno.readFile(got)), sum);
    // found there by the next start (never in `dir`), and reused: one copy, not one per start
    assertEquals(findLibrary("libpwalk.so", sum, noCache, tmp.path), got);
    assertEquals(installEmbedded(url, "libpwalk.so", noCache, tmp.path), got);
    assertEquals(listAll(tmp.path).filter((n) => !before.has(n)), made);
    await Deno.remove(`${tmp.path}/${made[0]}`, { recursive: true });
  };
  await Deno.mkdir(`${tmp.path}/elsewhere`);
  await Deno.symlink(`${tmp.path}/elsewhere`, dir);
  await fresh();
  assertEquals(listAll(`${tmp.path}/elsewhere`), []);
  await Deno.remove(dir);
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o777);
  await fresh();
  await Deno.chmod(dir, 0o700);
  await Deno.chown(dir, 4321, 4321);
  await fresh();
  assertEquals(listAll(dir), []);
  await Deno.chown(dir, Deno.uid(), Deno.gid());
  assertEquals(
    installEmbedded(url, "libpwalk.so", noCache, tmp.path),
    cachePath("libpwalk.so", sum, dir),
  );
});

/** The attacker of the tests below: her folders are chowned to this uid. */
const OTHER = 60001;

/** Make `path` (and missing parents) as OTHER's folder, mode 0755. */
async function herFolder(path: string): Promise<string> {
  await Deno.mkdir(path, { recursive: true });
  await Deno.chown(path, OTHER, OTHER);
  return path;
}

/** Set TMPDIR in this process while `fn` runs. */
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const old = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", dir);
  try {
    return await fn();
  } finally {
    if (old === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", old);
  }
}

Deno.test("fetchlib: a cache folder another user could change is not used; the download goes to the private temporary folder", async () => {
  await using tmp = await tempDir("pwalk-fetch-");
  const sum = sha256Hex(BYTES);
  const own = `${tmp.path}/tmp`;
  await Deno.mkdir(own, { mode: 0o700 });
  const priv = `${own}/pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
  // her cache folder, reached directly or through root's link to it (its real path)
  const cache = await herFolder(`${tmp.path}/alice/cache/pwalk/0.0.0-test`);
  await Deno.symlink(`${tmp.path}/alice/cache`, `${tmp.path}/link`);
  for (const dir of [cache, `${tmp.path}/link/pwalk/0.0.0-test`]) {
    // her copy at the exact cached name, with the right checksum: she could
    // swap it between the check and dlopen, so it is never chosen
    const planted = cachePath(FILE, sum, cache);
    await Deno.writeFile(planted, BYTES, { mode: 0o755 });
    await Deno.chown(planted, OTHER, OTHER);
    assertEquals(cachedLibrary(FILE, sum, dir), undefined);
    await withTmpdir(own, () =>
      withServer(() => new Response(BYTES), async (hits) => {
        assertEquals(await downloadLibrary(fakeManifest(), dir), cachePath(FILE, sum, priv));
        assertEquals(hits(), 1, "downloaded: her copy was not taken");
        assertEquals(findLibrary(FILE, sum, dir, own), cachePath(FILE, sum, priv));
      }));
    assertEquals(listAll(cache), [planted.split("/").pop()], "nothing written in her folder");
    assertEquals((await Deno.lstat(planted)).uid, OTHER);
    await Deno.remove(priv, { recursive: true });
  }
});

Deno.test("fetchlib: a bundled library is not copied to, nor taken from, another user's cache folder: the private temporary folder's copy is the one mapped", async () => {
  await using tmp = await tempDir("pwalk-embed-");
  // deno compile's case, as a copy of lib/ with the library in dist/ and
  // Deno.build.standalone set before it loads (DENO_DIR hidden from pwalk)
  const t = MANIFEST.targets[targetKey()];
  const sa = await standaloneLayout(
    tmp.path,
    `nativeVersion();
     const maps = Deno.readTextFileSync("/proc/self/maps").split("\\n");
     console.log([...new Set(maps.filter((l) => l.includes("${t.file}")).map((l) => l.split(/ +/)[5]))].join(" "));`,
  );
  const bytes = await Deno.readFile(`${sa.sa}/dist/${t.file}`);
  const sum = sha256Hex(bytes);
  // her XDG_CACHE_HOME (kept by su without -), her copy at the exact cached name
  const cache = await herFolder(`${tmp.path}/alice/cache/pwalk/${MANIFEST.version}`);
  const planted = cachePath(t.file, sum, cache);
  await Deno.writeFile(planted, bytes, { mode: 0o755 });
  await Deno.chown(planted, OTHER, OTHER);
  const own = `${tmp.path}/tmp`;
  await Deno.mkdir(own, { mode: 0o700 });
  const r = await run(Deno.execPath(), sa.args, {
    env: { XDG_CACHE_HOME: `${tmp.path}/alice/cache`, TMPDIR: own },
  });
  assertEquals(r.code, 0, r.stderr);
  const priv = `${own}/pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
  // the kernel's map of the process names the file dlopen opened
  assertEquals(r.text.trim(), cachePath(t.file, sum, priv));
  assertEquals(listAll(cache), [planted.split("/").pop()], "nothing written in her folder");
});

Deno.test("fetchlib: a TMPDIR another user could change is refused, with the cache folder's reason, and nothing is made in it", async () => {
  await using tmp = await tempDir("pwalk-embed-");
  const lib = `${REPO}/zig-out/lib/libpwalk.so`;
  const url = new URL(`file://${lib}`);
  const sum = sha256Hex(await Deno.readFile(lib));
  await herFolder(`${tmp.path}/alice`);
  const cache = await herFolder(`${tmp.path}/alice/cache`);
  const hers = await herFolder(`${tmp.path}/alice/tmp`);
  // root's own folder, below hers: she can rename it away and put hers there
  const below = `${tmp.path}/alice/roottmp`;
  await Deno.mkdir(below, { mode: 0o700 });
  const cacheWhy = `cache folder ${cache}: ${tmp.path}/alice is owned by uid ${OTHER}, ` +
    "not by you or root";
  for (const dir of [hers, below]) {
    const e = assertThrows(() => installEmbedded(url, "libpwalk.so", cache, dir), Error);
    assertEquals(
      e.message,
      `pwalk: cannot copy the library this executable carries out of it: ${cacheWhy}; ` +
        `temporary folder ${dir}: ${tmp.path}/alice is owned by uid ${OTHER}, not by you or root: ` +
        "set TMPDIR to a folder of yours. Set PWALK_LIB to a copy of the library, or DENO_DIR " +
        "to a folder of yours to keep it in.",
    );
    assertEquals(listAll(dir), [], "nothing made in it");
    assertEquals(listAll(cache), []);
    // nor is a copy already there taken
    const priv = `${dir}/pwalk-lib-${sum.slice(0, 16)}-${Deno.uid()}`;
    await Deno.mkdir(priv, { mode: 0o700 });
    await Deno.copyFile(lib, cachePath("libpwalk.so", sum, priv));
    assertEquals(findLibrary("libpwalk.so", sum, cache, dir), undefined);
    await Deno.remove(priv, { recursive: true });
  }
  // no cache folder at all (no HOME, XDG_CACHE_HOME or DENO_DIR): both reasons, one sentence each
  const none = await embedInChild(lib, [], { env: { TMPDIR: hers }, clearEnv: true });
  assertEquals(none.code, 1, none.stderr);
  assertStringIncludes(
    none.stderr,
    "or set PWALK_LIB to a local copy; " +
      `temporary folder ${hers}: ${tmp.path}/alice is owned by uid ${OTHER}, not by you or root: `,
  );
  assertEquals(listAll(hers), []);
});
