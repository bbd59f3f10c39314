/**
 * `deno task dist`: cross-compile libpwalk with zig for every supported
 * target and write the libraries and `dist/manifest.json` (version, the
 * source id of native/ that every library carries (lib/source_id.ts), and
 * per target: os, arch, zig target, file, size, SHA-256).
 *
 *   deno task dist                    build dist/ (fast when zig's cache is warm)
 *   deno task dist --update-manifest  ... then copy dist/manifest.json to
 *                                     lib/manifest.json (the one the module uses;
 *                                     not when --verify-repro, given too, fails)
 *   deno task dist --check            ... then fail unless lib/manifest.json matches
 *   deno task dist --verify-repro     ... then rebuild every target from a copy of
 *                                     the sources at another path with empty zig
 *                                     caches and fail unless the bytes are identical
 *
 * Builds are ReleaseFast for the target's baseline CPU (never the build
 * machine's), stripped, with no build-id, so they are reproducible: the same
 * sources and zig give the same bytes on any machine and at any path.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import type { Manifest } from "../lib/fetchlib.ts";
import { sourceId } from "../lib/source_id.ts";

/** One shipped library. */
export interface DistTarget {
  /** `Deno.build.os`. */
  os: "linux" | "darwin";
  /** `Deno.build.arch`. */
  arch: "x86_64" | "aarch64";
  /**
   * zig's target triple (glibc 2.27 floor on Linux, as Deno's own builds).
   * build.zig builds the host's own triple from this list when no -Dtarget
   * is given (tests/dist_test.ts checks they agree).
   */
  zigTarget: string;
  /** The file name in dist/ and in a release. */
  file: string;
}

/** Every target `deno task dist` builds. The key is `${os}-${arch}`. */
export const TARGETS: readonly DistTarget[] = [
  {
    os: "linux",
    arch: "x86_64",
    zigTarget: "x86_64-linux-gnu.2.27",
    file: "libpwalk-linux-x86_64.so",
  },
  {
    os: "linux",
    arch: "aarch64",
    zigTarget: "aarch64-linux-gnu.2.27",
    file: "libpwalk-linux-aarch64.so",
  },
  {
    os: "darwin",
    arch: "x86_64",
    zigTarget: "x86_64-macos.11.0",
    file: "libpwalk-darwin-x86_64.dylib",
  },
  {
    os: "darwin",
    arch: "aarch64",
    zigTarget: "aarch64-macos.11.0",
    file: "libpwalk-darwin-aarch64.dylib",
  },
];

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const dist = `${root}/dist`;

function sha256(bytes: Uint8Array): Promise<string> {
  return crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>).then((d) =>
    Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("")
  );
}

async function run(cmd: string, args: string[], opts: Deno.CommandOptions = {}): Promise<void> {
  const p = new Deno.Command(cmd, { ...opts, args, stdout: "inherit", stderr: "inherit" });
  const { code } = await p.output();
  if (code !== 0) throw new Error(`dist: ${cmd} ${args.join(" ")} failed (exit ${code})`);
}

/** libdeflate's source folder, at the version tools/build.sh pins. */
function libdeflateDir(): string {
  const sh = Deno.readTextFileSync(`${root}/tools/build.sh`);
  const v = /^LIBDEFLATE_SYS_VERSION=(\S+)$/m.exec(sh)?.[1];
  if (!v) throw new Error("dist: no LIBDEFLATE_SYS_VERSION in tools/build.sh");
  return `.tools/libdeflate/libdeflate-sys-${v}/libdeflate`;
}

/** The release of the zig that builds (`tools/zig.sh version`: the one tools/zig.sh pins). */
async function zigVersion(): Promise<string> {
  const p = new Deno.Command("sh", {
    args: [`${root}/tools/zig.sh`, "version"],
    stderr: "inherit",
  });
  const { code, stdout } = await p.output();
  const v = new TextDecoder().decode(stdout).trim();
  if (code !== 0 || !v) throw new Error(`dist: \`sh tools/zig.sh version\` failed (exit ${code})`);
  return v;
}

function nativeVersion(): string {
  const h = Deno.readTextFileSync(`${root}/native/pwalk.h`);
  return /#define PW_VERSION "([^"]+)"/.exec(h)?.[1] ?? "";
}

/** Build one target into `${prefix}/lib/` with tools/build.sh (which fetches zstd and libdeflate). */
async function build(t: DistTarget, prefix: string): Promise<string> {
  await run("sh", [`${root}/tools/build.sh`, `-Dtarget=${t.zigTarget}`, "--prefix", prefix], {
    env: { PWALK_OPTIMIZE: "ReleaseFast" },
  });
  return `${prefix}/lib/libpwalk.${t.os === "darwin" ? "dylib" : "so"}`;
}

/** Whether `bytes` hold `text` (ASCII). */
function holds(bytes: Uint8Array, text: string): boolean {
  const t = new TextEncoder().encode(text);
  outer: for (let i = bytes.indexOf(t[0]); i >= 0; i = bytes.indexOf(t[0], i + 1)) {
    for (let j = 1; j < t.length; j++) if (bytes[i + j] !== t[j]) continue outer;
    return true;
  }
  return false;
}

async function buildAll(): Promise<Manifest> {
  const id = sourceId(`${root}/native`);
  if (!id) throw new Error(`dist: no C sources in ${root}/native`);
  const manifest: Manifest = {
    name: denoJson.name,
    version: denoJson.version,
    zig: await zigVersion(),
    sourceId: id,
    targets: {},
  };
  await Deno.mkdir(`${dist}/tmp`, { recursive: true });
  for (const t of TARGETS) {
    const key = `${t.os}-${t.arch}`;
    console.error(`dist: ${key} (${t.zigTarget})`);
    const built = await build(t, `${dist}/tmp/${key}`);
    const bytes = await Deno.readFile(built);
    // build.zig hashes native/ itself: its id and lib/source_id.ts's must agree
    if (!holds(bytes, id)) {
      throw new Error(
        `dist: ${built} does not carry source id ${id} (build.zig and lib/source_id.ts differ)`,
      );
    }
    const tmp = `${dist}/.${t.file}.tmp`;
    await Deno.writeFile(tmp, bytes, { mode: 0o755 });
    await Deno.rename(tmp, `${dist}/${t.file}`);
    manifest.targets[key] = { ...t, size: bytes.length, sha256: await sha256(bytes) };
  }
  const text = JSON.stringify(manifest, null, 2) + "\n";
  await Deno.writeTextFile(`${dist}/manifest.json.tmp`, text);
  await Deno.rename(`${dist}/manifest.json.tmp`, `${dist}/manifest.json`);
  return manifest;
}

/** Rebuild from a copy of the sources elsewhere with empty caches; compare bytes. */
async function verifyRepro(m: Manifest): Promise<boolean> {
  const tmp = await Deno.makeTempDir({ prefix: "pwalk-repro-" });
  try {
    const src = `${tmp}/elsewhere/src`;
    await Deno.mkdir(src, { recursive: true });
    await run("cp", ["-R", `${root}/build.zig`, `${root}/native`, src]);
    // The zstd and libdeflate sources too, at a different path.
    const zstd = ".tools/zstd/node_modules/zstd-napi/deps/zstd/lib";
    const deflate = libdeflateDir();
    for (const dir of [zstd, deflate]) {
      await Deno.mkdir(`${src}/${dir}`, { recursive: true });
      await run("cp", ["-R", `${root}/${dir}/.`, `${src}/${dir}`]);
    }
    let same = true;
    for (const t of TARGETS) {
      const key = `${t.os}-${t.arch}`;
      const prefix = `${tmp}/out/${key}`;
      await run("sh", [
        `${root}/tools/zig.sh`,
        "build",
        "-Doptimize=ReleaseFast",
        `-Dzstd=${src}/${zstd}`,
        `-Dlibdeflate=${src}/${deflate}`,
        `-Dtarget=${t.zigTarget}`,
        "--prefix",
        prefix,
        "--cache-dir",
        `${tmp}/cache`,
        "--global-cache-dir",
        `${tmp}/global-cache`,
      ], { cwd: src });
      const built = `${prefix}/lib/libpwalk.${t.os === "darwin" ? "dylib" : "so"}`;
      const sum = await sha256(await Deno.readFile(built));
      const ok = sum === m.targets[key].sha256;
      same &&= ok;
      console.error(`dist: ${key} rebuilt elsewhere: ${ok ? "identical" : `DIFFERENT (${sum})`}`);
    }
    return same;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * How two manifests differ: name, version, zig release, source id, and per
 * target its presence, os, arch, zig target, file, size and checksum.
 */
export function manifestDiff(a: Manifest, b: Manifest): string[] {
  const out: string[] = [];
  for (const f of ["name", "version", "zig", "sourceId"] as const) {
    if (a[f] !== b[f]) out.push(`${f} ${a[f]} != ${b[f]}`);
  }
  const keys = new Set([...Object.keys(a.targets), ...Object.keys(b.targets)]);
  for (const k of keys) {
    const x = a.targets[k], y = b.targets[k];
    if (!x || !y) out.push(`${k}: only in one manifest`);
    else {
      for (const f of ["os", "arch", "zigTarget", "file", "size", "sha256"] as const) {
        if (x[f] !== y[f]) out.push(`${k}: ${f} ${x[f]} != ${y[f]}`);
      }
    }
  }
  return out;
}

/** Runs `deno task dist`; a failure is one line, `dist: ...`, and exit 1. */
async function main(): Promise<void> {
  const args = new Set(Deno.args);
  for (const a of args) {
    if (!["--update-manifest", "--check", "--verify-repro"].includes(a)) {
      console.error(`dist: unknown option ${a}`);
      Deno.exit(2);
    }
  }
  if (nativeVersion() !== denoJson.version) {
    console.error(
      `dist: deno.json version ${denoJson.version} differs from PW_VERSION ` +
        `${nativeVersion()} in native/pwalk.h: make them equal`,
    );
    Deno.exit(1);
  }
  const m = await buildAll();
  for (const [k, t] of Object.entries(m.targets)) {
    console.error(`dist: ${t.file.padEnd(30)} ${String(t.size).padStart(8)}  ${t.sha256}  ${k}`);
  }
  let failed = false;
  if (args.has("--verify-repro")) failed = !(await verifyRepro(m));
  if (args.has("--update-manifest") && failed) {
    // libraries that another build does not reproduce are not to be published
    console.error("dist: lib/manifest.json not updated: the build is not reproducible");
  } else if (args.has("--update-manifest")) {
    await Deno.copyFile(`${dist}/manifest.json`, `${root}/lib/manifest.json`);
    console.error("dist: lib/manifest.json updated");
  } else if (args.has("--check")) {
    let committed: Manifest | undefined;
    try {
      committed = JSON.parse(await Deno.readTextFile(`${root}/lib/manifest.json`));
    } catch { /* reported below */ }
    const diff = committed ? manifestDiff(committed, m) : ["lib/manifest.json is missing"];
    if (diff.length) {
      console.error("dist: lib/manifest.json is stale:\n  " + diff.join("\n  "));
      console.error("dist: run `deno task dist --update-manifest` and commit lib/manifest.json");
      failed = true;
    }
  }
  Deno.exit(failed ? 1 : 0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.error(msg.startsWith("dist: ") ? msg : `dist: ${msg}`);
    Deno.exit(1);
  }
}
