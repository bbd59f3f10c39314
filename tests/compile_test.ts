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
import { buildDist, makeTree, ROOT, run, runOk, sortedRows, tempDir } from "./_ship.ts";

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
    await buildDist();
    const [tmp, cleanup] = await tempDir("pwalk-compile-");
    try {
      await runOk(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}/tools/compile.ts`,
        "--output",
        `${tmp}/build/pwalk`,
      ]);
      for (const d of ["alone", "home", "deno"]) await Deno.mkdir(`${tmp}/${d}`);
      await Deno.copyFile(`${tmp}/build/pwalk`, `${tmp}/alone/pwalk`);
      await Deno.chmod(`${tmp}/alone/pwalk`, 0o755);
      await Deno.remove(`${tmp}/build`, { recursive: true });
      const tree = `${tmp}/tree`;
      makeTree(tree);
      const opts = {
        cwd: `${tmp}/alone`,
        clearEnv: true,
        env: { PATH: "/usr/bin:/bin", HOME: `${tmp}/home`, DENO_DIR: `${tmp}/deno` },
      };
      const pwalk = `${tmp}/alone/pwalk`;

      const help = await runOk(pwalk, ["--help"], opts);
      assertStringIncludes(help.stdout, "Usage:");
      const version = await runOk(pwalk, ["--version"], opts);
      assertStringIncludes(version.stdout, "(native ");

      const local = () => runOk(Deno.execPath(), ["run", "-A", `${ROOT}/cli.ts`, tree]);
      await local(); // a first walk may update folder access times (relatime)
      const bin = await runOk(pwalk, [tree], opts);
      const want = sortedRows((await local()).stdout);
      assert(want.length > 100);
      assertEquals(sortedRows(bin.stdout), want);
      // The embedded library was copied, verified, into DENO_DIR's pwalk cache.
      const cached = [...Deno.readDirSync(`${tmp}/deno/pwalk`)];
      assertEquals(cached.length, 1);
    } finally {
      await cleanup();
    }
  },
});

Deno.test("compile: the package embeds cli.ts, lib/ and the host library side by side, and no test packages", async () => {
  // Only the packaging step: Deno itself stands in for denort, so the result
  // is not runnable; `deno compile` prints the embedded file tree.
  const m = await buildDist();
  const key = `${Deno.build.os}-${Deno.build.arch}`;
  const [tmp, cleanup] = await tempDir("pwalk-compile-");
  try {
    const r = await run(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}/tools/compile.ts`,
      "--output",
      `${tmp}/pwalk`,
    ], { env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" } });
    assertEquals(r.code, 0, r.stderr);
    const tree = r.stdout + r.stderr;
    assertStringIncludes(tree, `dist/${m.targets[key].file}`);
    assertStringIncludes(tree, "lib");
    assertStringIncludes(tree, "ffi.ts");
    assertStringIncludes(tree, "manifest.json");
    assert(!tree.includes("duckdb"), "test-only npm packages are embedded:\n" + tree);
  } finally {
    await cleanup();
  }
});
