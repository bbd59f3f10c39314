/**
 * Root run with another user's Deno cache (`sudo -E` keeps her HOME or
 * XDG_CACHE_HOME; DENO_DIR alike): Deno loads pwalk's TypeScript from a
 * folder she can change, which pwalk's checks of its native library do not
 * cover. The command says so in one warning line; with root's own cache it
 * says nothing.
 */
import { assertEquals } from "@std/assert";
import { REPO, run, runOk } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

/** The Deno cache folder this test runs with (`deno info --json`). */
async function realDenoDir(): Promise<string> {
  const r = await runOk(Deno.execPath(), ["info", "--json"]);
  return JSON.parse(r.text).denoDir;
}

Deno.test({
  name: "cli: root with a Deno cache another user can change is warned, in one line",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-denodir-");
    const hers = `${tmp.path}/hers`;
    await Deno.mkdir(hers);
    // her folder holds (a link to) the modules root runs: she could swap them
    await Deno.symlink(await realDenoDir(), `${hers}/deno`);
    await Deno.chown(hers, 60001, 60001);
    const r = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, "--version"], {
      env: { DENO_DIR: `${hers}/deno` },
    });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      r.stderr,
      `pwalk: warning: running as root with Deno's module cache ${hers}/deno, which another ` +
        `user can change (${hers} is owned by uid 60001, not by you or root): the code Deno ` +
        "loaded from it, pwalk's included, may be theirs; run root's pwalk with root's own " +
        "environment (`sudo -i`, sudo's env_reset, no `sudo -E`) or a DENO_DIR of root's\n",
    );
    // her XDG_CACHE_HOME, no DENO_DIR: Deno's cache is XDG_CACHE_HOME/deno
    const xdg = await run(Deno.execPath(), [
      "eval",
      `import { denoCacheWarning } from "${REPO}/lib/fetchlib.ts"; console.log(denoCacheWarning());`,
    ], { env: { XDG_CACHE_HOME: hers, DENO_DIR: "" } });
    assertEquals(xdg.code, 0, xdg.stderr);
    assertEquals(xdg.text.includes(`module cache ${hers}/deno, `), true, xdg.text);
    // root's own cache: nothing said
    const own = await run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, "--version"], {
      env: { DENO_DIR: await realDenoDir() },
    });
    assertEquals(own.code, 0, own.stderr);
    assertEquals(own.stderr, "");
  },
});
