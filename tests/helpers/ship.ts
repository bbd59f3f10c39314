/**
 * Helpers of the shipping tests (dist, cross, loopback, compile, fetchlib,
 * publish): `deno task dist` run once per test file, the committed
 * manifest, a small test tree with awkward names, and sorted CSV rows.
 *
 * @module
 */
import type { Manifest } from "../../lib/fetchlib.ts";
import { REPO, runOk } from "./run.ts";

let built: Promise<Manifest> | undefined;

/** `deno task dist` (once per test file): the fresh dist/manifest.json. */
export function buildDist(): Promise<Manifest> {
  built ??= runOk(Deno.execPath(), ["run", "-A", `${REPO}/tools/dist.ts`]).then(async () =>
    JSON.parse(await Deno.readTextFile(`${REPO}/dist/manifest.json`))
  );
  return built;
}

/** The committed manifest, lib/manifest.json. */
export async function committedManifest(): Promise<Manifest> {
  return JSON.parse(await Deno.readTextFile(`${REPO}/lib/manifest.json`));
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
