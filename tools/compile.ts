/**
 * `deno task compile`: a standalone `pwalk` executable that embeds the
 * native library of its target (`deno compile --include`). It runs after
 * `deno task dist` (a task dependency), so dist/ holds every library.
 *
 *   deno task compile                                  dist/pwalk for this machine
 *   deno task compile --target aarch64-unknown-linux-gnu   dist/pwalk-linux-aarch64
 *   deno task compile --output /opt/site/bin/pwalk     another output path
 *                                                      (a relative one: from where you are)
 *
 * At run time the binary finds dist/<library> in its embedded file system,
 * copies it (verified by SHA-256) into the cache folder and opens it there:
 * see lib/ffi.ts. It carries dist/manifest.json too: the source id there is
 * the one its library (and a PWALK_LIB given to it) must have. `deno compile` needs Deno's `denort` runtime for the
 * target: Deno downloads it on first use, or takes the file named by the
 * DENORT_BIN environment variable (for machines without internet access).
 *
 * @module
 */
import type { Manifest } from "../lib/fetchlib.ts";

/** Deno's compile targets and the manifest key of each. */
export const COMPILE_TARGETS: Record<string, string> = {
  "x86_64-unknown-linux-gnu": "linux-x86_64",
  "aarch64-unknown-linux-gnu": "linux-aarch64",
  "x86_64-apple-darwin": "darwin-x86_64",
  "aarch64-apple-darwin": "darwin-aarch64",
};

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

function fail(msg: string): never {
  console.error(`compile: ${msg}`);
  Deno.exit(2);
}

if (import.meta.main) {
  let target: string | undefined;
  let output: string | undefined;
  const args = [...Deno.args];
  while (args.length) {
    const a = args.shift()!;
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s, 2) : [a, undefined];
    const value = () => inline ?? args.shift() ?? fail(`${flag} needs a value`);
    if (flag === "--target") target = value();
    else if (flag === "--output" || flag === "-o") output = value();
    else fail(`unknown option ${a} (use --target T, --output FILE)`);
  }
  const host = !target || target === Deno.build.target;
  target ??= Deno.build.target;
  const key = COMPILE_TARGETS[target];
  if (!key) {
    fail(
      `no native library for ${target}` +
        (target.includes("windows")
          ? ": pwalk does not support Windows yet"
          : ` (targets: ${Object.keys(COMPILE_TARGETS).join(", ")})`),
    );
  }
  const manifest: Manifest = JSON.parse(await Deno.readTextFile(`${root}/dist/manifest.json`));
  const lib = `dist/${manifest.targets[key].file}`;
  // a relative --output names a file where the user typed the command
  // (`deno task` runs in the checkout and gives that folder as INIT_CWD)
  if (output !== undefined && !output.startsWith("/")) {
    output = `${Deno.env.get("INIT_CWD") || Deno.cwd()}/${output}`;
  }
  output ??= host ? `${root}/dist/pwalk` : `${root}/dist/pwalk-${key}`;
  const cmd = [
    "compile",
    "-A",
    // deno.json's imports hold test-only npm packages (DuckDB, 140 MB) that
    // deno compile would embed; lib/ imports by full specifiers.
    "--no-config",
    "--include",
    lib,
    "--include",
    "dist/manifest.json",
    ...(host ? [] : ["--target", target]),
    "--output",
    output,
    "cli.ts",
  ];
  console.error(`compile: deno ${cmd.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: cmd,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (code !== 0) {
    console.error(
      "compile: deno compile failed; without internet access it needs DENORT_BIN set to " +
        `the denort binary of Deno ${Deno.version.deno} for ${target}`,
    );
    Deno.exit(code);
  }
}
