/**
 * Helpers of the shipping tests (dist, cross, loopback, compile, fetchlib,
 * publish): `deno task dist` run once per test file, the committed
 * manifest, a manifest of made-up bytes, deno compile's layout without
 * deno compile, a small test tree with awkward names, and sorted CSV rows.
 *
 * @module
 */
import { MANIFEST, type Manifest, sha256Hex, targetKey } from "../../lib/fetchlib.ts";
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
 * A manifest (version `version`) whose one target, this machine's, is
 * `bytes` as file `file` (its checksum `sha256`, by default theirs): for
 * the download and cache steps, whatever the bytes.
 */
export function fakeManifest(
  bytes: Uint8Array,
  file: string,
  version: string,
  sha256: string = sha256Hex(bytes),
): Manifest {
  return {
    ...MANIFEST,
    version,
    sourceId: "0".repeat(64),
    targets: {
      [targetKey()]: {
        os: Deno.build.os,
        arch: Deno.build.arch,
        zigTarget: "test",
        file,
        size: bytes.length,
        sha256,
      },
    },
  };
}

/**
 * The environment of a child that imports pwalk by URL as a user would:
 * the caller's (proxies, CA certificates for the npm registry) without
 * PWALK_ settings or caches, then empty homes and caches made under `dir`
 * (home, xdg, deno) and a working folder (cwd); the library fetched from
 * `libUrl`; `extra` last.
 */
export function remoteEnv(
  dir: string,
  libUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  for (const d of ["home", "xdg", "deno", "cwd"]) Deno.mkdirSync(`${dir}/${d}`);
  const env: Record<string, string> = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !/^(PWALK_|DENO_DIR$|XDG_)/.test(k)),
  );
  return Object.assign(env, {
    HOME: `${dir}/home`,
    XDG_CACHE_HOME: `${dir}/xdg`,
    DENO_DIR: `${dir}/deno`,
    PWALK_LIB_URL: libUrl,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    ...extra,
  });
}

/** {@link standaloneLayout}'s files. */
export interface Standalone {
  /** The copy of lib/ is `${sa}/lib`, the library `${sa}/dist/${file}`. */
  sa: string;
  /** The library's file name (this target's, as the manifest names it). */
  file: string;
  /** `deno` arguments that run the probe as a compiled binary would load lib/. */
  args: string[];
}

/**
 * deno compile's case without deno compile (its runtime cannot be
 * downloaded here): in `dir`, a copy of lib/ with the built library in
 * dist/, a preload script that hides DENO_DIR from pwalk and sets
 * Deno.build.standalone before lib/ loads, and probe.ts: an import of the
 * copy's `nativeVersion` followed by `body` (JavaScript).
 */
export async function standaloneLayout(dir: string, body: string): Promise<Standalone> {
  const file = MANIFEST.targets[targetKey()].file;
  const sa = `${dir}/sa`;
  await Deno.mkdir(`${sa}/dist`, { recursive: true });
  await runOk("cp", ["-r", `${REPO}/lib`, `${sa}/lib`]);
  await Deno.copyFile(`${REPO}/zig-out/lib/libpwalk.so`, `${sa}/dist/${file}`);
  await Deno.writeTextFile(
    `${dir}/standalone.ts`,
    `Deno.env.delete("DENO_DIR");
     Object.defineProperty(Deno, "build", { value: { ...Deno.build, standalone: true } });`,
  );
  await Deno.writeTextFile(
    `${dir}/probe.ts`,
    `import { nativeVersion } from "file://${sa}/lib/ffi.ts";\n${body}`,
  );
  return {
    sa,
    file,
    args: ["run", "-A", "--no-config", "--preload", `${dir}/standalone.ts`, `${dir}/probe.ts`],
  };
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
