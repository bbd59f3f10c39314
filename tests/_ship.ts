/**
 * Helpers of the shipping tests (dist, cross, loopback, compile): the
 * checkout's paths, `deno task dist` run once per test file, a small test
 * tree with awkward names, and a command runner.
 *
 * @module
 */
import type { Manifest } from "../lib/fetchlib.ts";

/** The checkout's root folder (no trailing slash). */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What a finished command left. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to its end; stdin is closed. */
export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<Ran> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    clearEnv: opts.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Run a command and fail with its stderr unless it exits 0. */
export async function runOk(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<Ran> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  }
  return r;
}

let built: Promise<Manifest> | undefined;

/** `deno task dist` (once per test file): the fresh dist/manifest.json. */
export function buildDist(): Promise<Manifest> {
  built ??= runOk(Deno.execPath(), ["run", "-A", `${ROOT}/tools/dist.ts`]).then(async () =>
    JSON.parse(await Deno.readTextFile(`${ROOT}/dist/manifest.json`))
  );
  return built;
}

/** The committed manifest, lib/manifest.json. */
export async function committedManifest(): Promise<Manifest> {
  return JSON.parse(await Deno.readTextFile(`${ROOT}/lib/manifest.json`));
}

/**
 * A tree of a few hundred entries under `dir`: nested folders, files of
 * many sizes and extensions, names with commas, quotes, spaces and
 * non-ASCII letters, an empty folder, symbolic links (one dangling, one a
 * loop). Returns the number of entries below dir.
 */
export function makeTree(dir: string): number {
  let n = 0;
  const names = ["plain", "with space", 'quo"te', "com,ma", "ünï", "dot.tar.gz", ".hidden"];
  const mk = (path: string, depth: number) => {
    Deno.mkdirSync(path, { recursive: true });
    for (let i = 0; i < names.length; i++) {
      const f = `${path}/${names[i]}-${depth}.${["txt", "csv", "bin", "c"][i % 4]}`;
      Deno.writeFileSync(f, new Uint8Array((i * 997 + depth * 131) % 5000));
      n++;
    }
    if (depth < 4) {
      for (const sub of ["a", "b,c", "d é"]) {
        n++;
        mk(`${path}/${sub}`, depth + 1);
      }
    }
  };
  mk(dir, 0);
  Deno.mkdirSync(`${dir}/empty`);
  Deno.symlinkSync("plain-0.txt", `${dir}/link`);
  Deno.symlinkSync("does-not-exist", `${dir}/dangling`);
  Deno.symlinkSync(".", `${dir}/a/loop`);
  return n + 4;
}

/** CSV rows of a pwalk report, sorted (row order differs between runs). */
export function sortedRows(csv: string): string[] {
  return csv.split("\n").filter((l) => l.length > 0).sort();
}

/** A temporary folder removed by the returned function. */
export async function tempDir(prefix: string): Promise<[string, () => Promise<void>]> {
  const d = await Deno.makeTempDir({ prefix });
  return [d, () => Deno.remove(d, { recursive: true }).catch(() => {})];
}
