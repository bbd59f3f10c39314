/**
 * LD_PRELOAD shims: a few lines of C around a libc call, compiled for one
 * test and preloaded into the child process that runs pwalk (the CLI, or
 * the API through api_json.ts), so that a race happens at the very moment
 * the test wants it (an entry deleted between its listing and its stat, a
 * folder swapped for a link when it is opened...).
 *
 * @module
 */
import { apiInChild, cli, type JsonSummary, type Ran, runOk } from "./run.ts";
import { CC, testNeeding } from "./system.ts";
import { tempDir } from "./temp.ts";

/** What a {@link shimTest} body gets: its folder, and runners that preload the shim. */
export interface Shim {
  /** The test's temporary folder (the shim is built in it). */
  dir: string;
  /** `pwalk <args>` with the shim preloaded and these extra environment variables. */
  cli(args: string[], env?: Record<string, string>): Promise<Ran>;
  /** report() or repair() in a child process with the shim preloaded. */
  api(
    fn: "report" | "repair",
    root: string,
    options: Record<string, unknown>,
    env?: Record<string, string>,
  ): Promise<JsonSummary>;
}

/**
 * A test that compiles the C `source` into a shared object (cc, so the test
 * needs gcc: system.ts) in a fresh temporary folder and hands `fn` runners
 * that preload it.
 *
 * @example
 * ```ts ignore
 * shimTest("vanished entries are reported", VANISH_C, async (shim) => {
 *   const r = await shim.cli([`${shim.dir}/tree`]);
 * });
 * ```
 */
export function shimTest(
  name: string,
  source: string,
  fn: (shim: Shim, t: Deno.TestContext) => Promise<void>,
): void {
  testNeeding([CC], {
    name,
    async fn(t) {
      await using tmp = await tempDir("pwalk-shim-");
      const so = `${tmp.path}/shim.so`;
      await Deno.writeTextFile(`${tmp.path}/shim.c`, source);
      await runOk("cc", ["-shared", "-fPIC", "-O2", "-o", so, `${tmp.path}/shim.c`, "-ldl"]);
      const env = (extra: Record<string, string> = {}) => ({ env: { LD_PRELOAD: so, ...extra } });
      await fn({
        dir: tmp.path,
        cli: (args, extra) => cli(args, env(extra)),
        api: (f, root, options, extra) => apiInChild(f, root, options, env(extra)),
      }, t);
    },
  });
}
