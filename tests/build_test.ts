/**
 * tools/build.sh and tools/zig.sh around zig: the fetched sources and tools
 * (complete, the pinned ones, healed when not), the up-to-date stamp (the
 * library it names, builds run at once, builds elsewhere), their one-line
 * messages, and the pins' copies agreeing; `deno task dist`'s one-line failures. zig, npm and pip are stubs in a
 * copy of the checkout's build inputs; zstd's tree is the checkout's own
 * (which tools/build.sh checked against its pinned SHA-256 when it built).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { REPO, run, runOk } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { sourceId } from "../lib/source_id.ts";

const ZSTD_LIB = ".tools/zstd/node_modules/zstd-napi/deps/zstd/lib";
const buildSh = Deno.readTextFileSync(`${REPO}/tools/build.sh`);
const zigSh = Deno.readTextFileSync(`${REPO}/tools/zig.sh`);
const pin = (text: string, name: string) => new RegExp(`^${name}=(\\S+)$`, "m").exec(text)![1];

/** A folder of links to the system commands the scripts use (and nothing else, npm and zig included). */
async function systemBin(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const tools = [
    "sh",
    "dirname",
    "find",
    "sort",
    "sha256sum",
    "shasum",
    "cut",
    "awk",
    "xargs",
    "cat",
    "uname",
    "mkdir",
    "rm",
    "mv",
    "cp",
    "touch",
    "ls",
    "wc",
    "sleep",
    "head",
    "sed",
    "tar",
    "chmod",
    "grep",
  ];
  for (const t of tools) {
    const r = await run("sh", ["-c", `command -v ${t}`]);
    if (r.code === 0) await Deno.symlink(r.text.trim(), `${dir}/${t}`);
  }
  return dir;
}

/**
 * A copy of the build inputs whose zig is a stub: it logs its arguments to
 * zig.log, writes "built" and native/'s source id (`built`) as the library
 * (into --prefix's lib/ when given, else zig-out/lib/) and, with BARRIER
 * set, waits until two stubs run. The fetched trees are the checkout's own;
 * no cargo (HOME is the temp folder).
 */
async function checkout(tmp: string) {
  const co = `${tmp}/checkout`;
  await Deno.mkdir(`${co}/tools`, { recursive: true });
  await runOk("cp", ["-R", `${REPO}/build.zig`, `${REPO}/native`, co]);
  await Deno.copyFile(`${REPO}/tools/build.sh`, `${co}/tools/build.sh`);
  const built = `built ${sourceId(`${co}/native`)}\n`;
  await Deno.writeTextFile(
    `${co}/tools/zig.sh`,
    `echo "$*" >>zig.log
if [ -n "\${BARRIER:-}" ]; then
  : >"$BARRIER.$$"; n=0
  while [ "$(ls "$BARRIER".* | wc -l)" -lt 2 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
fi
out=zig-out
while [ $# -gt 0 ]; do [ "$1" = --prefix ] && out=$2; shift; done
mkdir -p "$out/lib" && printf '${built}' >"$out/lib/libpwalk.so"
`,
  );
  await Deno.mkdir(`${co}/${ZSTD_LIB}`, { recursive: true });
  await runOk("cp", ["-R", `${REPO}/${ZSTD_LIB}/.`, `${co}/${ZSTD_LIB}`]);
  const deflate = `.tools/libdeflate/libdeflate-sys-${
    pin(buildSh, "LIBDEFLATE_SYS_VERSION")
  }/libdeflate`;
  await Deno.mkdir(`${co}/${deflate}`, { recursive: true });
  await runOk("cp", ["-R", `${REPO}/${deflate}/.`, `${co}/${deflate}`]);
  // npm: installs the checkout's zstd-napi into --prefix (BROKEN: less a file), logs to npm.log
  const bin = await systemBin(`${tmp}/bin`);
  await Deno.writeTextFile(
    `${bin}/npm`,
    `#!/bin/sh
echo "$*" >>"${co}/npm.log"
while [ $# -gt 0 ]; do [ "$1" = --prefix ] && p=$2; shift; done
cp -R "${REPO}/.tools/zstd/node_modules" "$p/"
[ -z "\${BROKEN:-}" ] || rm "$p/node_modules/zstd-napi/deps/zstd/lib/common/debug.c"
`,
    { mode: 0o755 },
  );
  const lines = (f: string) => {
    try {
      return Deno.readTextFileSync(`${co}/${f}`).split("\n").filter((l) => l).length;
    } catch {
      return 0;
    }
  };
  /** build.sh with `env` added (clearEnv: `env` alone, PATH then the stubs' unless given) */
  const build = (args: string[] = [], env: Record<string, string> = {}, clearEnv = false) =>
    run("sh", [`${co}/tools/build.sh`, ...args], {
      cwd: tmp,
      env: clearEnv ? { PATH: bin, ...env } : { PATH: bin, HOME: tmp, ...env },
      clearEnv,
      timeoutMs: 120_000,
    });
  return {
    co,
    bin,
    build,
    built,
    deflate,
    zigRuns: () => lines("zig.log"),
    npmRuns: () => lines("npm.log"),
  };
}

Deno.test("build: a zstd tree that is not the pinned one is fetched again; a fetch that is not it stops", async () => {
  await using tmp = await tempDir();
  const { co, build, npmRuns } = await checkout(tmp.path);
  const first = await build();
  assertEquals([first.code, npmRuns()], [0, 0], first.stderr);
  // a first build cut short left the tree without some of its files
  const debug = `${co}/${ZSTD_LIB}/common/debug.c`;
  await Deno.remove(debug);
  const healed = await build();
  assertEquals(healed.code, 0, healed.stderr);
  assertEquals(npmRuns(), 1);
  assertEquals(
    await Deno.readFile(debug),
    await Deno.readFile(`${REPO}/${ZSTD_LIB}/common/debug.c`),
  );
  // npm gives another tree (another version, a damaged package): nothing is built from it
  await Deno.remove(debug);
  const other = await build([], { BROKEN: "1" });
  assertEquals(other.code, 1);
  assertMatch(
    other.stderr,
    /^pwalk: zstd-napi@\S+'s deps\/zstd\/lib has SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}$/m,
  );
  assertEquals([...Deno.readDirSync(`${co}/.tools`)].map((e) => e.name).sort(), [
    "libdeflate",
    "zstd",
  ]);
});

Deno.test("build: no npm, no zstd sources: one line naming what to install", async () => {
  await using tmp = await tempDir();
  const { co, bin, build } = await checkout(tmp.path);
  await Deno.remove(`${bin}/npm`);
  await Deno.remove(`${co}/.tools/zstd`, { recursive: true });
  const r = await build();
  assertEquals(r.code, 1);
  assertEquals(
    r.stderr.split("\n").filter((l) => l).at(-1),
    `pwalk: npm (Node.js) is needed to fetch zstd's sources from npm (zstd-napi@${
      pin(buildSh, "ZSTD_NAPI_VERSION")
    })`,
  );
});

Deno.test("build: two builds at once both succeed and leave one stamp", async () => {
  await using tmp = await tempDir();
  const { co, build, zigRuns } = await checkout(tmp.path);
  // both are in zig at once (the stub waits for the other)
  const env = { BARRIER: `${tmp.path}/in-zig` };
  const [a, b] = await Promise.all([build([], env), build([], env)]);
  assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
  assertEquals(zigRuns(), 2);
  assertEquals([...Deno.readDirSync(`${co}/zig-out`)].map((e) => e.name).sort(), [
    ".pwalk-build",
    "lib",
  ]);
  const again = await build();
  assertEquals([again.code, zigRuns()], [0, 2], again.stderr);
});

Deno.test("build: the stamp names the library: one damaged or built otherwise is rebuilt; a build elsewhere keeps it", async () => {
  await using tmp = await tempDir();
  const { co, build, built, zigRuns } = await checkout(tmp.path);
  const lib = `${co}/zig-out/lib/libpwalk.so`;
  const steps: [string, () => Promise<unknown>, number][] = [
    ["first build", () => build(), 1],
    ["nothing changed", () => build(), 0],
    ["the library cut short", async () => (await Deno.truncate(lib, 2), await build()), 1],
    ["nothing changed since", () => build(), 0],
    [
      // as `sh tools/zig.sh build -Doptimize=Debug` leaves it
      "another library in its place",
      async () => (await Deno.writeTextFile(lib, "debug build\n"), await build()),
      1,
    ],
    [
      "a build into another --prefix (tools/dist.ts)",
      () => build(["--prefix", `${tmp.path}/d`]),
      1,
    ],
    ["after it", () => build(), 0],
    ["a build into zig-out with arguments", () => build(["-Dtarget=native"]), 1],
    ["after that", () => build(), 1],
  ];
  for (const [what, step, runs] of steps) {
    const before = zigRuns();
    const r = await step() as { code: number; stderr: string };
    assertEquals(r.code, 0, `${what}: ${r.stderr}`);
    assertEquals(zigRuns() - before, runs, what);
  }
  assertEquals(await Deno.readTextFile(lib), built);
});

const lastLine = (text: string) => text.split("\n").filter((l) => l).at(-1);

Deno.test("build: a zig that exits 0 having built nothing fails in one line and records no stamp", async () => {
  await using tmp = await tempDir();
  const { co, build } = await checkout(tmp.path);
  const stamp = `${co}/zig-out/.pwalk-build`;
  const first = await build();
  assertEquals(first.code, 0, first.stderr);
  // an empty zig binary (a copy cut short) runs as an empty script: exit 0
  await Deno.writeTextFile(`${co}/tools/zig.sh`, "");
  await Deno.writeTextFile(`${co}/native/pwalk.h`, "// y\n", { append: true });
  const id = sourceId(`${co}/native`)!;
  for (let i = 0; i < 2; i++) {
    const r = await build();
    assertEquals(r.code, 1, `run ${i}: ${r.stderr}`);
    assertEquals(
      r.stderr,
      `pwalk: zig exited 0 but built no library: ${co}/zig-out/lib/libpwalk.so does not carry native/'s source id ${id} (check that \`sh tools/zig.sh version\` prints zig's release)\n`,
    );
    assertEquals(await Deno.lstat(stamp).then(() => true, () => false), false, `run ${i}`);
  }
  await Deno.remove(`${co}/zig-out`, { recursive: true });
  const none = await build();
  assertEquals([none.code, lastLine(none.stderr)], [
    1,
    `pwalk: zig exited 0 but built no library: there is no ${co}/zig-out/lib/libpwalk.so (check that \`sh tools/zig.sh version\` prints zig's release)`,
  ]);
  assertEquals(await Deno.lstat(stamp).then(() => true, () => false), false);
});

Deno.test("build: a libdeflate tree that is not the pinned one, even under an old time, is fetched again, not compiled", async () => {
  await using tmp = await tempDir();
  const { co, build, deflate, zigRuns } = await checkout(tmp.path);
  const first = await build();
  assertEquals(first.code, 0, first.stderr);
  const file = `${co}/${deflate}/lib/deflate_compress.c`;
  const old = (await Deno.stat(file)).mtime!;
  await Deno.writeTextFile(file, "#error tampered libdeflate tree\n", { append: true });
  await Deno.utime(file, old, old);
  // no cargo (HOME is the temp folder): the fetch stops, and zig never sees the tree
  const r = await build();
  assertEquals(r.code, 1, r.stderr);
  assertEquals(r.stderr.split("\n").filter((l) => l), [
    `pwalk: fetching libdeflate sources (crates.io libdeflate-sys@${
      pin(buildSh, "LIBDEFLATE_SYS_VERSION")
    }) into .tools/libdeflate`,
    "pwalk: cargo (Rust) is needed to fetch libdeflate's sources from crates.io",
  ]);
  assertEquals(zigRuns(), 1);
  // the pinned tree back: up to date again, no zig
  await Deno.copyFile(`${REPO}/${deflate}/lib/deflate_compress.c`, file);
  await Deno.utime(file, old, old);
  const again = await build();
  assertEquals([again.code, zigRuns()], [0, 1], again.stderr);
});

Deno.test("build: no cargo and HOME unset: the one line naming cargo", async () => {
  await using tmp = await tempDir();
  const { co, build, deflate } = await checkout(tmp.path);
  await Deno.remove(`${co}/${deflate}`, { recursive: true });
  const r = await build([], {}, true);
  assertEquals(
    [r.code, lastLine(r.stderr)],
    [1, "pwalk: cargo (Rust) is needed to fetch libdeflate's sources from crates.io"],
    r.stderr,
  );
});

/** A copy of tools/zig.sh with no zig on PATH; python3 a stub whose pip "installs" ziglang (logged). */
async function zigCheckout(tmp: string) {
  const co = `${tmp}/checkout`;
  await Deno.mkdir(`${co}/tools`, { recursive: true });
  await Deno.copyFile(`${REPO}/tools/zig.sh`, `${co}/tools/zig.sh`);
  const bin = await systemBin(`${tmp}/bin`);
  await Deno.writeTextFile(
    `${bin}/python3`,
    `#!/bin/sh
[ "$1" = -m ] && [ "$2" = pip ] || exit 1
echo "$*" >>"${co}/pip.log"
for a; do case $a in ziglang==*) v=\${a#ziglang==} ;; esac; done
while [ $# -gt 0 ]; do [ "$1" = --target ] && t=$2; shift; done
mkdir -p "$t/ziglang" "$t/ziglang-$v.dist-info"
printf '#!/bin/sh\\necho %s\\n' "$v" >"$t/ziglang/zig" && chmod +x "$t/ziglang/zig"
`,
    { mode: 0o755 },
  );
  const zig = (args: string[]) =>
    run("sh", [`${co}/tools/zig.sh`, ...args], { env: { PATH: bin }, timeoutMs: 60_000 });
  return { co, bin, zig };
}

Deno.test("zig.sh: the zig in .tools of another release (the pin changed) is replaced by the pinned one", async () => {
  await using tmp = await tempDir();
  const { co, zig } = await zigCheckout(tmp.path);
  const want = pin(zigSh, "ZIG_VERSION");
  // the release installed before the pin moved
  await Deno.mkdir(`${co}/.tools/zig/ziglang`, { recursive: true });
  await Deno.mkdir(`${co}/.tools/zig/ziglang-0.0.1.dist-info`);
  await Deno.writeTextFile(`${co}/.tools/zig/ziglang/zig`, "#!/bin/sh\necho 0.0.1\n", {
    mode: 0o755,
  });
  const r = await zig(["version"]);
  assertEquals([r.code, r.text], [0, `${want}\n`], r.stderr);
  assertEquals(r.stderr, `pwalk: installing zig ${want} from PyPI into .tools/zig\n`);
  // installed once, then used as it is
  const again = await zig(["version"]);
  assertEquals([again.code, again.text, again.stderr], [0, `${want}\n`, ""]);
  assertEquals(Deno.readTextFileSync(`${co}/pip.log`).trim().split("\n").length, 1);
  assertEquals([...Deno.readDirSync(`${co}/.tools`)].map((e) => e.name), ["zig"]);
});

Deno.test("zig.sh: a damaged zig of the pinned release in .tools (missing, empty, not executable) is replaced", async () => {
  const want = pin(zigSh, "ZIG_VERSION");
  const damages: [string, (zig: string) => Promise<void>][] = [
    ["missing", (zig) => Deno.remove(zig)],
    ["empty", (zig) => Deno.writeTextFile(zig, "")],
    ["not executable", (zig) => Deno.chmod(zig, 0o644)],
  ];
  for (const [what, damage] of damages) {
    await using tmp = await tempDir();
    const { co, zig } = await zigCheckout(tmp.path);
    const installed = await zig(["version"]);
    assertEquals([installed.code, installed.text], [0, `${want}\n`], installed.stderr);
    await damage(`${co}/.tools/zig/ziglang/zig`);
    const r = await zig(["version"]);
    assertEquals([r.code, r.text], [0, `${want}\n`], `${what}: ${r.stderr}`);
    assertEquals(r.stderr, `pwalk: installing zig ${want} from PyPI into .tools/zig\n`, what);
    const again = await zig(["version"]);
    assertEquals([again.code, again.text, again.stderr], [0, `${want}\n`, ""], what);
    assertEquals(Deno.readTextFileSync(`${co}/pip.log`).trim().split("\n").length, 2, what);
    assertEquals([...Deno.readDirSync(`${co}/.tools`)].map((e) => e.name), ["zig"], what);
  }
});

Deno.test("zig.sh: no zig and no python3: one line naming what to install", async () => {
  await using tmp = await tempDir();
  const { bin, zig } = await zigCheckout(tmp.path);
  await Deno.remove(`${bin}/python3`);
  const r = await zig(["version"]);
  const want = pin(zigSh, "ZIG_VERSION");
  assertEquals([r.code, r.stderr], [
    1,
    `pwalk: python3 (with pip) is needed to install zig ${want} from PyPI (ziglang), or put zig ${want} on PATH\n`,
  ]);
});

Deno.test("the pinned versions' copies agree with the pins (tools/build.sh, tools/zig.sh)", async () => {
  const zigV = pin(zigSh, "ZIG_VERSION");
  const zstdV = pin(buildSh, "ZSTD_NAPI_VERSION");
  const deflateV = pin(buildSh, "LIBDEFLATE_SYS_VERSION");
  const buildZig = await Deno.readTextFile(`${REPO}/build.zig`);
  assert(buildZig.includes(`Written for zig ${zigV} (pinned in tools/zig.sh)`), "build.zig's zig");
  assert(buildZig.includes(`".tools/libdeflate/libdeflate-sys-${deflateV}/libdeflate"`));
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  for (
    const s of [
      `zig **${zigV}**`,
      `zig ${zigV} (PyPI`,
      `zstd-napi@${zstdV}`,
      `libdeflate-sys@${deflateV}`,
    ]
  ) {
    assert(readme.includes(s), `README: ${s}`);
  }
  // the release library's manifest names the zig that built it: the pinned one
  const manifest = JSON.parse(await Deno.readTextFile(`${REPO}/lib/manifest.json`));
  assertEquals(manifest.zig, zigV);
  const ran = await runOk("sh", [`${REPO}/tools/zig.sh`, "version"]);
  assertEquals(ran.text.trim(), zigV);
});

Deno.test("dist: a failing step is one line, `dist: ...`, exit 1 (no stack trace)", async () => {
  await using tmp = await tempDir();
  const co = `${tmp.path}/checkout`;
  await Deno.mkdir(`${co}/tools`, { recursive: true });
  await Deno.mkdir(`${co}/native`);
  await runOk("cp", ["-R", `${REPO}/deno.json`, `${REPO}/lib`, co]);
  await Deno.copyFile(`${REPO}/native/pwalk.h`, `${co}/native/pwalk.h`);
  await Deno.copyFile(`${REPO}/tools/dist.ts`, `${co}/tools/dist.ts`);
  // a zig that fails, as a damaged one does
  await Deno.writeTextFile(`${co}/tools/zig.sh`, "exit 3\n");
  const r = await run(Deno.execPath(), ["run", "-A", "--no-lock", `${co}/tools/dist.ts`], {
    cwd: co,
    timeoutMs: 60_000,
  });
  assertEquals([r.code, r.stderr], [1, "dist: `sh tools/zig.sh version` failed (exit 3)\n"]);
});
