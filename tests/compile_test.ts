/**
 * `deno task compile`: a standalone `pwalk` for this machine that embeds
 * its native library.
 *
 * The full test copies the executable alone into an empty folder and runs
 * it there with HOME and DENO_DIR at empty folders, no PWALK_ variables and
 * the checkout out of reach: its CSV for a test tree must equal the
 * library's, and `--help` and `--version` must work. `deno compile` needs
 * Deno's `denort` runtime, which Deno downloads from its own server on first
 * use; where that server cannot be reached and DENORT_BIN does not name a
 * denort binary, the full test is ignored (with the reason printed) and only
 * the packaging check runs.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cachePath, sha256Hex } from "../lib/fetchlib.ts";
import { REPO, run, runOk } from "./helpers/run.ts";
import { buildDist, makeTree, sortedRows } from "./helpers/ship.ts";
import { tempDir } from "./helpers/temp.ts";

const TARGET = Deno.build.target;

/** Why `deno compile` cannot get a denort here, or "" when it can. */
async function denortMissing(): Promise<string> {
  const bin = Deno.env.get("DENORT_BIN");
  if (bin) return (await Deno.stat(bin).catch(() => null)) ? "" : `DENORT_BIN=${bin} is missing`;
  const ver = Deno.version.deno;
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const cached = `${denoDir}/dl/release/v${ver}/denort-${TARGET}.zip`;
  if (await Deno.stat(cached).catch(() => null)) return "";
  const url = `https://dl.deno.land/release/v${ver}/denort-${TARGET}.zip`;
  try {
    const r = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(5000) });
    await r.body?.cancel();
    return r.ok ? "" : `${url}: HTTP ${r.status}`;
  } catch (e) {
    return `${url} cannot be reached (${(e as Error).message.split("\n")[0]})`;
  }
}

const missing = await denortMissing();
if (missing) {
  console.warn(
    `compile_test: the full deno compile test is ignored: ${missing}; ` +
      "set DENORT_BIN to the denort binary of this Deno to run it.",
  );
}

Deno.test({
  name: "compile: the executable alone, with empty HOME and DENO_DIR, prints the library's CSV",
  ignore: missing !== "",
  async fn() {
    const m = await buildDist();
    await using tmp = await tempDir("pwalk-compile-");
    await runOk(Deno.execPath(), [
      "run",
      "-A",
      `${REPO}/tools/compile.ts`,
      "--output",
      `${tmp.path}/build/pwalk`,
    ]);
    for (const d of ["alone", "home", "deno"]) await Deno.mkdir(`${tmp.path}/${d}`);
    await Deno.copyFile(`${tmp.path}/build/pwalk`, `${tmp.path}/alone/pwalk`);
    await Deno.chmod(`${tmp.path}/alone/pwalk`, 0o755);
    await Deno.remove(`${tmp.path}/build`, { recursive: true });
    const tree = `${tmp.path}/tree`;
    makeTree(tree);
    const opts = {
      cwd: `${tmp.path}/alone`,
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", HOME: `${tmp.path}/home`, DENO_DIR: `${tmp.path}/deno` },
    };
    const pwalk = `${tmp.path}/alone/pwalk`;

    const help = await runOk(pwalk, ["--help"], opts);
    assertStringIncludes(help.text, "Usage:");
    const version = await runOk(pwalk, ["--version"], opts);
    assertStringIncludes(version.text, "(native ");

    const local = () => runOk(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, tree]);
    await local(); // a first walk may update folder access times (relatime)
    const bin = await runOk(pwalk, [tree], opts);
    const want = sortedRows((await local()).text);
    assert(want.length > 100);
    assertEquals(sortedRows(bin.text), want);
    // The embedded library was copied, verified, into DENO_DIR's pwalk cache:
    // that file itself, with the bytes of dist/'s (the folder alone would
    // be there even if nothing was copied into it).
    const t = m.targets[`${Deno.build.os}-${Deno.build.arch}`];
    const copy = cachePath(t.file, t.sha256, `${tmp.path}/deno/pwalk/${m.version}`);
    assertEquals(sha256Hex(await Deno.readFile(copy)), t.sha256);
    assertEquals(
      [...Deno.readDirSync(`${tmp.path}/deno/pwalk/${m.version}`)].map((e) => e.name),
      [copy.slice(copy.lastIndexOf("/") + 1)],
    );
  },
});

Deno.test("compile: the package embeds cli.ts, lib/ and the host library side by side, and no test packages", async () => {
  // Only the packaging step: Deno itself stands in for denort, so the result
  // is not runnable; `deno compile` prints the embedded file tree.
  const m = await buildDist();
  const key = `${Deno.build.os}-${Deno.build.arch}`;
  await using tmp = await tempDir("pwalk-compile-");
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    `${REPO}/tools/compile.ts`,
    "--output",
    `${tmp.path}/pwalk`,
  ], { env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" } });
  assertEquals(r.code, 0, r.stderr);
  const tree = r.text + r.stderr;
  assertStringIncludes(tree, `dist/${m.targets[key].file}`);
  // dist/manifest.json beside it: the source id the binary expects of its
  // library (lib/ffi.ts); lib/'s own manifest.json is listed too unless
  // lib/ is listed as "lib/*" (the command line compile.ts prints left out)
  const listing = tree.split("\n").filter((l) => !l.startsWith("compile:")).join("\n");
  const manifests = listing.match(/manifest\.json/g)?.length ?? 0;
  assertEquals(manifests, tree.includes("lib/*") ? 1 : 2, listing);
  // lib/ listed file by file, or (deno compile's listing, once lib/ has
  // subfolders) as "lib/*": all of it, ffi.ts and manifest.json included
  if (!tree.includes("lib/*")) {
    assertStringIncludes(tree, "ffi.ts");
    assertStringIncludes(tree, "manifest.json");
  }
  assert(!tree.includes("duckdb"), "test-only npm packages are embedded:\n" + tree);
});
