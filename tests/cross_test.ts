/**
 * The shipped libraries of other architectures, proven rather than assumed:
 *
 * - aarch64 Linux: native/driver/pwdrive.c cross-built with zig for
 *   aarch64-linux-gnu.2.27 and linked to dist/libpwalk-linux-aarch64.so (the
 *   release file itself) runs under qemu-aarch64 (Debian's qemu-user, with
 *   the glibc of Debian's libc6-arm64-cross as its -L root) and walks a test
 *   tree; its CSV rows equal those of the same driver built for x86_64 and
 *   linked to dist/libpwalk-linux-x86_64.so, on the same tree.
 * - macOS: each .dylib is a Mach-O dynamic library of its architecture and
 *   exports every symbol lib/ffi.ts binds (llvm-objdump, llvm-nm).
 * - Linux: each .so is an ELF shared object of its architecture exporting
 *   every bound symbol.
 */
import { assert, assertEquals } from "@std/assert";
import { SYMBOL_NAMES } from "../lib/ffi.ts";
import { buildDist, makeTree, ROOT, run, runOk, sortedRows, tempDir } from "./_ship.ts";

const SYSROOT = "/usr/aarch64-linux-gnu";

/** Build pwdrive for a zig target, linked to a dist library copied beside it. */
async function driver(dir: string, zigTarget: string, libFile: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  // The library's SONAME is libpwalk.so: that is the name the driver needs.
  await Deno.copyFile(`${ROOT}/dist/${libFile}`, `${dir}/libpwalk.so`);
  await runOk("sh", [
    `${ROOT}/tools/zig.sh`,
    "cc",
    "-target",
    zigTarget,
    "-O2",
    `${ROOT}/native/driver/pwdrive.c`,
    "-o",
    `${dir}/pwdrive`,
    `-L${dir}`,
    "-lpwalk",
    `-Wl,-rpath,${dir}`,
  ]);
  return `${dir}/pwdrive`;
}

Deno.test("cross: the aarch64 library under qemu gives the x86_64 library's CSV rows", async () => {
  assert(
    (await run("sh", ["-c", "command -v qemu-aarch64"])).code === 0,
    "qemu-aarch64 is missing: apt-get install qemu-user",
  );
  assert(
    (await Deno.stat(`${SYSROOT}/lib/ld-linux-aarch64.so.1`).catch(() => null)) !== null,
    `${SYSROOT} has no aarch64 glibc: apt-get install libc6-arm64-cross`,
  );
  const m = await buildDist();
  const [tmp, cleanup] = await tempDir("pwalk-cross-");
  try {
    const tree = `${tmp}/tree`;
    const n = makeTree(tree);
    const x64 = await driver(`${tmp}/x64`, "x86_64-linux-gnu.2.27", m.targets["linux-x86_64"].file);
    const a64 = await driver(
      `${tmp}/a64`,
      "aarch64-linux-gnu.2.27",
      m.targets["linux-aarch64"].file,
    );
    assertEquals((await runOk("file", [a64])).stdout.includes("ARM aarch64"), true);
    // A first walk may update folder access times (relatime): compare later walks.
    await runOk(x64, ["-t", "4", tree]);
    const native = await runOk(x64, ["-H", "-t", "4", tree]);
    const emulated = await runOk("qemu-aarch64", ["-L", SYSROOT, a64, "-H", "-t", "4", tree]);
    const want = sortedRows(native.stdout);
    assertEquals(want.length, n + 2, "rows: the header, the root and every entry");
    assertEquals(sortedRows(emulated.stdout), want);
    // The summary lines (entries, folders, bytes, errors) agree too.
    const summary = (s: string) => s.split("\n").find((l) => l.startsWith("status="));
    assertEquals(summary(emulated.stderr), summary(native.stderr));
    // And the zstd path: the same rows once decompressed.
    await runOk("qemu-aarch64", [
      "-L",
      SYSROOT,
      a64,
      "-z",
      "3",
      "-t",
      "2",
      tree,
      `${tmp}/a64.csv.zst`,
    ]);
    const unz = await runOk("zstd", ["-dc", `${tmp}/a64.csv.zst`]);
    assertEquals(sortedRows(unz.stdout), want.filter((l) => !l.startsWith("inode,")));
  } finally {
    await cleanup();
  }
});

Deno.test("cross: macOS libraries are Mach-O dylibs of their arch exporting every bound symbol", async () => {
  const m = await buildDist();
  const cpu: Record<string, string> = { x86_64: "X86_64", aarch64: "ARM64" };
  for (const t of Object.values(m.targets).filter((t) => t.os === "darwin")) {
    const path = `${ROOT}/dist/${t.file}`;
    const header = (await runOk("llvm-objdump", ["--macho", "--private-header", path])).stdout;
    const fields = header.trim().split("\n").pop()!.trim().split(/\s+/);
    assertEquals(fields[0], "MH_MAGIC_64", t.file);
    assertEquals(fields[1], cpu[t.arch], t.file);
    assertEquals(fields[4], "DYLIB", t.file);
    const nm = (await runOk("llvm-nm", ["-gU", path])).stdout;
    const exported = new Set(nm.split("\n").map((l) => l.split(" ").pop()));
    const missing = SYMBOL_NAMES.filter((s) => !exported.has(`_${s}`));
    assertEquals(missing, [], `${t.file} does not export them`);
  }
});

Deno.test("cross: Linux libraries are ELF shared objects of their arch exporting every bound symbol", async () => {
  const m = await buildDist();
  const machine: Record<string, string> = { x86_64: "x86-64", aarch64: "ARM aarch64" };
  for (const t of Object.values(m.targets).filter((t) => t.os === "linux")) {
    const path = `${ROOT}/dist/${t.file}`;
    const f = (await runOk("file", ["-L", path])).stdout;
    assert(f.includes("ELF 64-bit LSB shared object") && f.includes(machine[t.arch]), f);
    const nm = (await runOk("llvm-nm", ["-D", "--defined-only", path])).stdout;
    const exported = new Set(nm.split("\n").map((l) => l.split(" ").pop()));
    const missing = SYMBOL_NAMES.filter((s) => !exported.has(s));
    assertEquals(missing, [], `${t.file} does not export them`);
  }
});
