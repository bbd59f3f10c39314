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
import { REPO, runOk } from "./helpers/run.ts";
import { buildDist, makeTree, sortedRows } from "./helpers/ship.ts";
import {
  AARCH64_LIBC,
  FILE,
  LLVM_NM,
  LLVM_OBJDUMP,
  QEMU_AARCH64,
  testNeeding,
  ZSTD,
} from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

/** The aarch64 glibc's root (AARCH64_LIBC) for qemu-aarch64 -L. */
const SYSROOT = "/usr/aarch64-linux-gnu";

/** Build pwdrive for a zig target, linked to a dist library copied beside it. */
async function driver(dir: string, zigTarget: string, libFile: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  // The library's SONAME is libpwalk.so: that is the name the driver needs.
  await Deno.copyFile(`${REPO}/dist/${libFile}`, `${dir}/libpwalk.so`);
  await runOk("sh", [
    `${REPO}/tools/zig.sh`,
    "cc",
    "-target",
    zigTarget,
    "-O2",
    `${REPO}/native/driver/pwdrive.c`,
    "-o",
    `${dir}/pwdrive`,
    `-L${dir}`,
    "-lpwalk",
    `-Wl,-rpath,${dir}`,
  ]);
  return `${dir}/pwdrive`;
}

testNeeding([QEMU_AARCH64, AARCH64_LIBC, FILE, ZSTD], {
  name: "cross: the aarch64 library under qemu gives the x86_64 library's CSV rows",
  async fn() {
    const m = await buildDist();
    await using tmp = await tempDir("pwalk-cross-");
    const tree = `${tmp.path}/tree`;
    const n = makeTree(tree);
    const x64 = await driver(
      `${tmp.path}/x64`,
      "x86_64-linux-gnu.2.27",
      m.targets["linux-x86_64"].file,
    );
    const a64 = await driver(
      `${tmp.path}/a64`,
      "aarch64-linux-gnu.2.27",
      m.targets["linux-aarch64"].file,
    );
    assertEquals((await runOk("file", [a64])).text.includes("ARM aarch64"), true);
    // A first walk may update folder access times (relatime): compare later walks.
    await runOk(x64, ["-t", "4", tree]);
    const native = await runOk(x64, ["-H", "-t", "4", tree]);
    const emulated = await runOk("qemu-aarch64", ["-L", SYSROOT, a64, "-H", "-t", "4", tree]);
    const want = sortedRows(native.text);
    assertEquals(want.length, n + 2, "rows: the header, the root and every entry");
    assertEquals(sortedRows(emulated.text), want);
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
      `${tmp.path}/a64.csv.zst`,
    ]);
    const unz = await runOk("zstd", ["-dc", `${tmp.path}/a64.csv.zst`]);
    assertEquals(sortedRows(unz.text), want.filter((l) => !l.startsWith("inode,")));
  },
});

/** The dist/ libraries built for `os`: their manifest entries and paths. */
async function libraries(os: string): Promise<{ file: string; arch: string; path: string }[]> {
  const m = await buildDist();
  return Object.values(m.targets).filter((t) => t.os === os).map((t) => ({
    file: t.file,
    arch: t.arch,
    path: `${REPO}/dist/${t.file}`,
  }));
}

/** The symbols lib/ffi.ts binds that llvm-nm (with these options) does not list in `path`. */
async function unexported(path: string, nmArgs: string[], prefix = ""): Promise<string[]> {
  const nm = (await runOk("llvm-nm", [...nmArgs, path])).text;
  const exported = new Set(nm.split("\n").map((l) => l.split(" ").pop()));
  return SYMBOL_NAMES.filter((s) => !exported.has(`${prefix}${s}`));
}

testNeeding([LLVM_OBJDUMP, LLVM_NM], {
  name: "cross: macOS libraries are Mach-O dylibs of their arch exporting every bound symbol",
  async fn() {
    const cpu: Record<string, string> = { x86_64: "X86_64", aarch64: "ARM64" };
    for (const lib of await libraries("darwin")) {
      const header = (await runOk("llvm-objdump", ["--macho", "--private-header", lib.path])).text;
      const fields = header.trim().split("\n").pop()!.trim().split(/\s+/);
      assertEquals(fields[0], "MH_MAGIC_64", lib.file);
      assertEquals(fields[1], cpu[lib.arch], lib.file);
      assertEquals(fields[4], "DYLIB", lib.file);
      assertEquals(
        await unexported(lib.path, ["-gU"], "_"),
        [],
        `${lib.file} does not export them`,
      );
    }
  },
});

testNeeding([FILE, LLVM_NM], {
  name: "cross: Linux libraries are ELF shared objects of their arch exporting every bound symbol",
  async fn() {
    const machine: Record<string, string> = { x86_64: "x86-64", aarch64: "ARM aarch64" };
    for (const lib of await libraries("linux")) {
      const f = (await runOk("file", ["-L", lib.path])).text;
      assert(f.includes("ELF 64-bit LSB shared object") && f.includes(machine[lib.arch]), f);
      assertEquals(
        await unexported(lib.path, ["-D", "--defined-only"]),
        [],
        `${lib.file} does not export them`,
      );
    }
  },
});
