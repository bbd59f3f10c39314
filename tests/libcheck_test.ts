/**
 * A library file no checksum vouches for (PWALK_LIB, a checkout's build)
 * is looked at before dlopen (lib/libcheck.ts): a truncated copy, which
 * dlopen would map past its end (SIGBUS, no message), or one of another
 * architecture (glibc: "cannot open shared object file: No such file or
 * directory") is one clear line and status 1. What dlopen itself refuses
 * is said once, without Deno's doubled "Could not open library: ".
 * llvm-readelf, on the same files, is the reference for what they hold.
 * Run as root, a PWALK_LIB another user could change is refused before it
 * is opened: a library whose constructor leaves a mark shows it never ran.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { libraryProblem } from "../lib/libcheck.ts";
import { targetKey } from "../lib/fetchlib.ts";
import { REPO, run, runOk, UNPRIVILEGED } from "./helpers/run.ts";
import { CC, LLVM_READELF, SETPRIV, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

const BUILT = `${REPO}/zig-out/lib/libpwalk.so`;
/** What a PWALK_LIB that is not a usable library is told. */
const GIVE =
  "give the path of a built libpwalk (`deno task build` makes zig-out/lib/libpwalk.so), " +
  "or unset PWALK_LIB";
/** ELF e_machine values: EM_X86_64, EM_AARCH64. */
const EM: Record<string, number> = { x86_64: 62, aarch64: 183 };

/** `pwalk TREE` with PWALK_LIB set (and more variables, a command prefix). */
function withLib(lib: string, tree: string, env: Record<string, string> = {}, prefix?: string[]) {
  return run(Deno.execPath(), ["run", "-A", `${REPO}/cli.ts`, tree], {
    env: { PWALK_LIB: lib, NO_COLOR: "1", ...env },
    timeoutMs: 60_000,
    prefix,
  });
}

/** A copy of the built library with bytes patched at `offset`. */
async function patched(dest: string, offset: number, bytes: number[]): Promise<string> {
  const b = await Deno.readFile(BUILT);
  b.set(bytes, offset);
  await Deno.writeFile(dest, b);
  return dest;
}

testNeeding([LLVM_READELF], {
  name: "a truncated library, or one of another architecture: one clear line, status 1",
  async fn() {
    await using tmp = await tempDir("pwalk-libcheck-");
    const tree = `${tmp.path}/t`;
    await Deno.mkdir(tree);
    await Deno.writeTextFile(`${tree}/f`, "x");
    const lib = (name: string) => `${tmp.path}/${name}`;

    // The loadable segments' end in the file, by llvm-readelf.
    const ph = (await runOk("llvm-readelf", ["-lW", BUILT])).text;
    const need = Math.max(
      ...ph.split("\n").filter((l) => /^\s*LOAD\s/.test(l)).map((l) => {
        const f = l.trim().split(/\s+/);
        return parseInt(f[1], 16) + parseInt(f[4], 16);
      }),
    );
    assert(need > 100_000, ph);
    assertEquals(libraryProblem(BUILT), undefined);
    const ok = await withLib(BUILT, tree);
    assertEquals(ok.code, 0, ok.stderr);

    // truncated: dlopen would map pages past the end (SIGBUS at the first touch)
    const cut = lib("t.so");
    await Deno.writeFile(cut, (await Deno.readFile(BUILT)).subarray(0, 100_000));
    const t = await withLib(cut, tree);
    assertEquals(t.signal, null, "killed by a signal: " + t.stderr);
    assertEquals(t.code, 1, t.stderr);
    assertEquals(t.text, "");
    assertEquals(
      t.stderr.trim(),
      `pwalk: ${cut} (PWALK_LIB) is not a usable library for ${targetKey()}: ` +
        `truncated: 100000 bytes, its segments need ${need}: ${GIVE}`,
    );

    // another architecture: e_machine (offset 18) of the other one
    const other = Deno.build.arch === "x86_64" ? "aarch64" : "x86_64";
    const arm = await patched(lib("other.so"), 18, [EM[other] & 0xff, EM[other] >> 8]);
    const h = (await runOk("llvm-readelf", ["-h", arm])).text;
    assertStringIncludes(h, other === "aarch64" ? "AArch64" : "X86-64");
    const a = await withLib(arm, tree);
    assertEquals(a.code, 1, a.stderr);
    assertEquals(
      a.stderr.trim(),
      `pwalk: ${arm} (PWALK_LIB) is not a usable library for ${targetKey()}: ` +
        `built for ${other}, not ${Deno.build.arch}: ${GIVE}`,
    );

    // not an ELF file at all
    const text = lib("text.so");
    await Deno.writeTextFile(text, "not a library\n");
    const n = await withLib(text, tree);
    assertEquals(n.code, 1, n.stderr);
    assertEquals(
      n.stderr.trim(),
      `pwalk: ${text} (PWALK_LIB) is not a usable library for ${targetKey()}: not an ELF file: ` +
        GIVE,
    );

    // a macOS library (Mach-O 64-bit, as tools/dist.ts builds; \`file\` is the reference)
    const mac = lib("mac.dylib");
    const m = new Uint8Array(4096);
    new DataView(m.buffer).setUint32(0, 0xfeedfacf, true); // MH_MAGIC_64, little-endian
    new DataView(m.buffer).setUint32(4, 0x0100000c, true); // CPU_TYPE_ARM64
    new DataView(m.buffer).setUint32(12, 6, true); // MH_DYLIB
    await Deno.writeFile(mac, m);
    if ((await run("file", ["-b", mac])).code === 0) {
      assertStringIncludes((await runOk("file", ["-b", mac])).text, "Mach-O");
    }
    const d = await withLib(mac, tree);
    assertEquals(d.code, 1, d.stderr);
    assertEquals(
      d.stderr.trim(),
      `pwalk: ${mac} (PWALK_LIB) is not a usable library for ${targetKey()}: ` +
        `a macOS library (Mach-O), not a Linux one: ${GIVE}`,
    );
  },
});

Deno.test("a PWALK_LIB that is a FIFO or a device is said to be no regular file, not a missing one", async () => {
  await using tmp = await tempDir("pwalk-libcheck-");
  await Deno.mkdir(`${tmp.path}/t`);
  const fifo = `${tmp.path}/fifo`;
  await runOk("mkfifo", [fifo]);
  for (const [path, what] of [[fifo, "a FIFO"], ["/dev/null", "a character device"]]) {
    assert(!Deno.statSync(path).isFile && !Deno.statSync(path).isDirectory, path);
    const r = await withLib(path, `${tmp.path}/t`);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      r.stderr.trim(),
      `pwalk: the native library ${path} (PWALK_LIB) is ${what}, not a regular file: ` +
        "give the path of a built libpwalk, or unset it",
    );
  }
});

/** A copy of the checkout (its TypeScript, native/ and zig-out/) in `dir`; returns its path. */
async function checkoutCopy(dir: string): Promise<string> {
  const co = `${dir}/checkout`;
  await Deno.mkdir(co);
  await runOk("cp", [
    "-R",
    ...["cli.ts", "mod.ts", "deno.json", "deno.lock", "lib", "native", "zig-out"].map((f) =>
      `${REPO}/${f}`
    ),
    co,
  ]);
  return co;
}

testNeeding([SETPRIV], {
  name:
    "the checkout's own library, damaged or stale: the line says to rebuild it, or, when the user cannot write the checkout, to ask its owner",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-libcheck-");
    await Deno.chmod(tmp.path, 0o755);
    const tree = `${tmp.path}/t`;
    await Deno.mkdir(tree);
    const co = await checkoutCopy(tmp.path);
    const zigOut = `${co}/zig-out/lib/libpwalk.so`;
    const pwalk = (prefix?: string[]) =>
      run(Deno.execPath(), ["run", "-A", `${co}/cli.ts`, tree], {
        env: { PWALK_LIB: "", NO_COLOR: "1" },
        prefix,
        timeoutMs: 60_000,
      });
    // damaged (cut short)
    const bytes = await Deno.readFile(zigOut);
    await Deno.writeFile(zigOut, bytes.subarray(0, 100_000));
    const cut = await pwalk();
    assertEquals(cut.code, 1, cut.stderr);
    assertEquals(
      cut.stderr.trim(),
      `pwalk: ${zigOut} is not a usable library for ${targetKey()}: ${libraryProblem(zigOut)}: ` +
        "rebuild it: run `deno task build`",
    );
    // stale: native/ changed since it was built
    await Deno.writeFile(zigOut, bytes);
    await Deno.writeTextFile(`${co}/native/pwalk.h`, "/* changed */\n", { append: true });
    const stale = await pwalk();
    assertEquals(stale.code, 1, stale.stderr);
    assertStringIncludes(stale.stderr, " was built from other sources than ");
    assert(stale.stderr.trim().endsWith("): rebuild it: run `deno task build`"), stale.stderr);
    // the same for a user who cannot write the checkout (another owner's, no capability)
    await runOk("chown", ["-R", "60001:60001", co]);
    const theirs = await pwalk(UNPRIVILEGED);
    assertEquals(theirs.code, 1, theirs.stderr);
    assert(
      theirs.stderr.trim().endsWith(
        `): it must be rebuilt, and you cannot write ${co}: ask the checkout's owner to run ` +
          `\`deno task build\` in ${co}`,
      ),
      theirs.stderr,
    );
    assertEquals([...Deno.readDirSync(co)].length, 7, "nothing left in the checkout");
  },
});

Deno.test("what dlopen refuses is said once, without Deno's doubled 'Could not open library: '", async () => {
  await using tmp = await tempDir("pwalk-libcheck-");
  await Deno.writeTextFile(`${tmp.path}/f`, "x");
  // EI_VERSION (offset 6) 0: the headers pass the check, glibc refuses the file
  const bad = await patched(`${tmp.path}/version.so`, 6, [0]);
  assertEquals(libraryProblem(bad), undefined);
  const r = await withLib(bad, tmp.path);
  assertEquals(r.code, 1, r.stderr);
  const line = r.stderr.trim();
  assert(!line.includes("Could not open library"), line);
  assert(line.startsWith(`pwalk: ${bad}: `), line);
  assertEquals(line.split(bad).length, 2, `the path once: ${line}`);
});

Deno.test("libraryProblem: only Linux files are judged; a 32-bit, big-endian or non-shared ELF is named", async () => {
  await using tmp = await tempDir("pwalk-libcheck-");
  const text = `${tmp.path}/text`;
  await Deno.writeTextFile(text, "not a library\n");
  assertEquals(libraryProblem(text, "x86_64", "darwin"), undefined);
  assertEquals(libraryProblem(`${tmp.path}/missing`), undefined, "dlopen says why");
  assertEquals(libraryProblem(await patched(`${tmp.path}/32`, 4, [1])), "a 32-bit ELF file");
  assertEquals(libraryProblem(await patched(`${tmp.path}/be`, 5, [2])), "a big-endian ELF file");
  assertEquals(
    libraryProblem(await patched(`${tmp.path}/exec`, 16, [2, 0])),
    "not a shared object (ELF type 2)",
  );
});

testNeeding([CC, SETPRIV], {
  name:
    "as root, a PWALK_LIB another user could change is refused before it runs; another user's is theirs",
  async fn() {
    await using tmp = await tempDir("pwalk-libcheck-");
    await Deno.chmod(tmp.path, 0o755); // uid 60001 reaches her folder and the tree below
    const tree = `${tmp.path}/t`;
    await Deno.mkdir(tree);
    await Deno.writeTextFile(`${tree}/f`, "x");
    const mark = `${tmp.path}/mark`;
    await Deno.writeTextFile(mark, "");
    await Deno.chmod(mark, 0o666);
    // her library: its constructor appends the uid it ran as to the mark
    await Deno.writeTextFile(
      `${tmp.path}/evil.c`,
      `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void ran(void) {
  FILE *f = fopen(getenv("PWALK_TEST_MARK"), "a");
  if (f) { fprintf(f, "uid=%d\\n", (int)getuid()); fclose(f); }
}
`,
    );
    const evil = `${tmp.path}/evil.so`;
    await runOk("cc", ["-shared", "-fPIC", "-o", evil, `${tmp.path}/evil.c`]);
    const env = { PWALK_TEST_MARK: mark };
    const refused = async (lib: string, why: string) => {
      const r = await withLib(lib, tree, env);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.text, "");
      assertEquals(
        r.stderr.trim(),
        `pwalk: PWALK_LIB ${lib} is not opened as root: ${why} ` +
          "(give root's own copy of the library, or unset PWALK_LIB)",
      );
      assertEquals(await Deno.readTextFile(mark), "", "her library never ran");
    };
    // owned by her (mode 0755)
    await Deno.chown(evil, 60001, 60001);
    await refused(evil, `${evil} is owned by uid 60001, not by you or root`);
    // root's, but anyone may rewrite it (sticky means nothing on a file)
    await Deno.chown(evil, 0, 0);
    await Deno.chmod(evil, 0o666);
    await refused(evil, `${evil} is writable by group or others (mode 0666)`);
    await Deno.chmod(evil, 0o1666);
    await refused(evil, `${evil} is writable by group or others (mode 1666)`);
    // root's 0755, in her folder (she can rename another file there), or through her link
    await Deno.chmod(evil, 0o755);
    const hers = `${tmp.path}/alice`;
    await Deno.mkdir(hers);
    await Deno.chown(hers, 60001, 60001);
    await Deno.copyFile(evil, `${hers}/lib.so`);
    await refused(`${hers}/lib.so`, `${hers} is owned by uid 60001, not by you or root`);
    await Deno.symlink(`${hers}/lib.so`, `${tmp.path}/via.so`); // root's link, to her folder
    await refused(`${tmp.path}/via.so`, `${hers} is owned by uid 60001, not by you or root`);
    // root's own copy, through folders only root can change: opened (and it is not pwalk)
    const r = await withLib(evil, tree, env);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, "is not pwalk's native library (it has neither"); // refused once opened
    assertEquals(await Deno.readTextFile(mark), "uid=0\n");
    await Deno.writeTextFile(mark, "");
    // uid 60001's own PWALK_LIB, in her folder and writable by all, is her choice
    await Deno.copyFile(evil, `${hers}/mine.so`);
    await Deno.chown(`${hers}/mine.so`, 60001, 60001);
    await Deno.chmod(`${hers}/mine.so`, 0o666);
    const as = [
      ...UNPRIVILEGED.slice(0, -1),
      "--reuid=60001",
      "--regid=60001",
      "--clear-groups",
      "--",
    ];
    const h = await withLib(`${hers}/mine.so`, tree, env, as);
    assertEquals(h.code, 1, h.stderr);
    assertStringIncludes(h.stderr, "is not pwalk's native library (it has neither");
    assertEquals(await Deno.readTextFile(mark), "uid=60001\n");
  },
});
