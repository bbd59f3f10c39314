/**
 * The native library's source id (native/source_id.c, lib/source_id.ts):
 * a library built from other native/ sources than the TypeScript beside it
 * is refused before anything calls it (an older library would take a newer
 * interface's arguments wrongly: pw_restore's value array grew from 10 to
 * 18 entries under the same PW_VERSION).
 *
 * - build.zig's id in the checkout's build equals lib/source_id.ts's and
 *   Python's hashlib over the same framing;
 * - a library really built (zig, as tools/build.sh does) from a copy of
 *   native/ with one byte changed carries that copy's id, and is refused by
 *   the CLI (one line, status 1, no output) and by the API (a clear Error);
 * - a library without pw_source_id() (as every build before it) gets the
 *   same line, not Deno's "undefined symbol".
 */
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { sourceId } from "../lib/source_id.ts";
import { CLI, REPO, run, runOk } from "./helpers/run.ts";
import { makeTree } from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";

const BUILT = `${REPO}/zig-out/lib/libpwalk.so`;
const NATIVE = `${REPO}/native/`;

/** pw_source_id() of the library at path, or null when it has none. */
function idOf(path: string): string | null {
  const lib = Deno.dlopen(path, {
    pw_source_id: { parameters: [], result: "pointer", optional: true },
  });
  try {
    const p = lib.symbols.pw_source_id?.();
    return p ? new Deno.UnsafePointerView(p).getCString() : null;
  } finally {
    lib.close();
  }
}

/** The id by Python's hashlib: the framing of lib/source_id.ts written again. */
async function pythonId(dir: string): Promise<string> {
  const { text } = await runOk("python3", [
    "-c",
    `import hashlib, os, stat, sys
d = sys.argv[1]
h = hashlib.sha256()
for n in sorted(os.listdir(d), key=os.fsencode):
    st = os.lstat(os.path.join(d, n))
    if stat.S_ISREG(st.st_mode) and (n.endswith(".c") or n.endswith(".h")):
        b = open(os.path.join(d, n), "rb").read()
        h.update(os.fsencode(n) + b"\\0" + str(len(b)).encode() + b"\\0" + b)
print(h.hexdigest())`,
    dir,
  ]);
  return text.trim();
}

Deno.test("source id: the checkout's build carries the id of native/ that lib/source_id.ts and Python compute", async () => {
  const want = await pythonId(NATIVE);
  assertEquals(sourceId(NATIVE), want);
  assertEquals(sourceId(new URL("../native/", import.meta.url)), want);
  assertEquals(idOf(BUILT), want, "zig-out is stale: run `deno task build`");
  assertEquals(sourceId(`${REPO}/no-such-folder`), undefined);
});

/**
 * Build the library, as tools/build.sh does, from a copy of build.zig and
 * native/ with one byte of native/opts.c changed. The copy lives at a fixed
 * path in the checkout's zig cache folder, built with that cache: a later
 * run recompiles only the changed files (the first one, every pwalk file).
 */
async function buildChanged(): Promise<{ lib: string; src: string }> {
  const work = `${REPO}/.zig-cache/pwalk-source-id-test`;
  const src = `${work}/src`;
  await Deno.remove(src, { recursive: true }).catch(() => {});
  await Deno.mkdir(src, { recursive: true });
  await runOk("cp", ["-R", `${REPO}/build.zig`, `${REPO}/native`, src]);
  const opts = await Deno.readTextFile(`${src}/native/opts.c`);
  assert(opts.startsWith("/* opts.c"), opts.slice(0, 40));
  await Deno.writeTextFile(`${src}/native/opts.c`, "/* Opts.c" + opts.slice("/* opts.c".length));
  const sh = await Deno.readTextFile(`${REPO}/tools/build.sh`);
  const deflate = /^LIBDEFLATE_SYS_VERSION=(\S+)$/m.exec(sh)![1];
  await runOk("sh", [
    `${REPO}/tools/zig.sh`,
    "build",
    "-Doptimize=ReleaseFast",
    `-Dzstd=${REPO}/.tools/zstd/node_modules/zstd-napi/deps/zstd/lib`,
    `-Dlibdeflate=${REPO}/.tools/libdeflate/libdeflate-sys-${deflate}/libdeflate`,
    "--prefix",
    `${work}/out`,
    "--cache-dir",
    `${REPO}/.zig-cache`,
  ], { cwd: src });
  return { lib: `${work}/out/lib/libpwalk.so`, src: `${src}/native` };
}

Deno.test("source id: a library built from native/ with one byte changed is refused by the CLI and the API", async () => {
  const { lib, src } = await buildChanged();
  const changed = idOf(lib)!;
  assertEquals(changed, await pythonId(src), "the build carries the id of its own sources");
  const want = sourceId(NATIVE)!;
  assertNotEquals(changed, want);
  await using tmp = await tempDir("pwalk-sourceid-");
  const bad = `${tmp.path}/old.so`;
  await Deno.copyFile(lib, bad);
  makeTree(`${tmp.path}/t`);

  const line = `pwalk: the native library ${bad} (PWALK_LIB) was built from other sources than ` +
    `${NATIVE} (source id ${changed.slice(0, 12)}, expected ${want.slice(0, 12)}): run ` +
    `\`deno task build\` and unset PWALK_LIB (or set it to ${BUILT})`;
  const r = await run(Deno.execPath(), ["run", "-A", CLI, "-o", `${tmp.path}/out.csv`, "t"], {
    cwd: tmp.path,
    env: { PWALK_LIB: bad },
  });
  assertEquals(r.code, 1, r.stderr);
  assertEquals(r.stderr.trim(), line);
  assertEquals(r.text, "");
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["old.so", "t"]);

  // the API: report() rejects with the line (setLibraryPath() named), nothing written
  const api = await run(Deno.execPath(), [
    "eval",
    `import { report, setLibraryPath } from "${REPO}/mod.ts";
     setLibraryPath(${JSON.stringify(bad)});
     try {
       await report("t", { output: "api.csv" });
       console.log("no error");
     } catch (e) {
       console.log(e instanceof Error ? e.message : "not an Error: " + e);
     }`,
  ], { cwd: tmp.path, env: { PWALK_LIB: "" } });
  assertEquals(api.code, 0, api.stderr);
  assertEquals(
    api.text.trim(),
    line.replace("(PWALK_LIB)", "(setLibraryPath())").replace(
      /and unset PWALK_LIB \(or set it to (.*)\)$/,
      "and give setLibraryPath() $1",
    ),
  );
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["old.so", "t"]);
});

Deno.test("source id: a library without pw_source_id() (built before it) gets the same line, not 'undefined symbol'", async () => {
  // the checkout's build with its symbol renamed in the dynamic string
  // table (same length): dlsym cannot find pw_source_id, as in an older build
  const bytes = await Deno.readFile(BUILT);
  const name = new TextEncoder().encode("\0pw_source_id\0");
  let at = -1;
  for (let i = bytes.indexOf(0); i >= 0 && at < 0; i = bytes.indexOf(0, i + 1)) {
    if (name.every((b, j) => bytes[i + j] === b)) at = i;
  }
  assert(at >= 0, "pw_source_id is in the library's string table");
  bytes[at + name.length - 2] = "x".charCodeAt(0); // pw_source_ix
  await using tmp = await tempDir("pwalk-sourceid-");
  const old = `${tmp.path}/old.so`;
  await Deno.writeFile(old, bytes);
  assertEquals(idOf(old), null);
  makeTree(`${tmp.path}/t`);
  const r = await run(Deno.execPath(), ["run", "-A", CLI, "t"], {
    cwd: tmp.path,
    env: { PWALK_LIB: old },
  });
  assertEquals(r.code, 1, r.stderr);
  assertEquals(
    r.stderr.trim(),
    `pwalk: the native library ${old} (PWALK_LIB) was built from other sources than ${NATIVE} ` +
      "(it has no pw_source_id(): built before pwalk checked its libraries): run " +
      `\`deno task build\` and unset PWALK_LIB (or set it to ${BUILT})`,
  );
  assertEquals(r.text, "");
});
