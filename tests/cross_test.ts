/**
 * The shipped libraries of other architectures, proven rather than assumed:
 *
 * - aarch64 Linux: native/driver/pwdrive.c cross-built with zig for
 *   aarch64-linux-gnu.2.27 and linked to dist/libpwalk-linux-aarch64.so (the
 *   release file itself) runs under qemu-aarch64 (Debian's qemu-user, with
 *   the glibc of Debian's libc6-arm64-cross as its -L root) and walks a test
 *   tree; its CSV rows equal those of the same driver built for x86_64 and
 *   linked to dist/libpwalk-linux-x86_64.so, on the same tree.
 * - macOS: each .dylib is a Mach-O dynamic library of its architecture for
 *   macOS 11.0 or newer (LC_BUILD_VERSION), ad hoc signed on arm64
 *   (LC_CODE_SIGNATURE, its CodeDirectory's CS_ADHOC flag), and exports
 *   every symbol lib/ffi.ts binds (llvm-objdump, llvm-nm, the load commands
 *   read here too).
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

/** What the load commands of a 64-bit little-endian Mach-O file say, read here from its bytes. */
interface MachOFacts {
  /** LC_BUILD_VERSION's platform (1: macOS) and minimum OS ("11.0"), if there is one. */
  build?: { platform: number; minos: string };
  /** LC_CODE_SIGNATURE's blob: whether its CodeDirectory is ad hoc (CS_ADHOC), if there is one. */
  signature?: { adhoc: boolean };
}

/** Read `bytes`' load commands (mach-o/loader.h) and code signature (the kernel's cs_blobs.h). */
function machO(bytes: Uint8Array): MachOFacts {
  const le = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assertEquals(le.getUint32(0, true), 0xfeedfacf, "MH_MAGIC_64");
  const ncmds = le.getUint32(16, true);
  const out: MachOFacts = {};
  for (let i = 0, at = 32; i < ncmds; i++) {
    const cmd = le.getUint32(at, true);
    const size = le.getUint32(at + 4, true);
    if (cmd === 0x32) { // LC_BUILD_VERSION: platform, minos (xxxx.yy.zz nibbles)
      const v = le.getUint32(at + 12, true);
      const patch = v & 0xff;
      out.build = {
        platform: le.getUint32(at + 8, true),
        minos: `${v >>> 16}.${(v >>> 8) & 0xff}${patch ? `.${patch}` : ""}`,
      };
    } else if (cmd === 0x1d) { // LC_CODE_SIGNATURE: dataoff, datasize
      const off = le.getUint32(at + 8, true);
      // a SuperBlob (big-endian): magic, length, count, then {type, offset}
      assertEquals(le.getUint32(off), 0xfade0cc0, "CSMAGIC_EMBEDDED_SIGNATURE");
      let adhoc = false;
      for (let j = 0; j < le.getUint32(off + 8); j++) {
        const type = le.getUint32(off + 12 + 8 * j);
        const blob = off + le.getUint32(off + 16 + 8 * j);
        // the CodeDirectory: magic, length, version, flags (CS_ADHOC 0x2)
        if (type === 0 && le.getUint32(blob) === 0xfade0c02) {
          adhoc = (le.getUint32(blob + 12) & 0x2) !== 0;
        }
      }
      out.signature = { adhoc };
    }
    at += size;
  }
  return out;
}

testNeeding([LLVM_OBJDUMP, LLVM_NM], {
  name:
    "cross: macOS libraries are Mach-O dylibs of their arch for macOS 11, ad hoc signed on arm64, exporting every bound symbol",
  async fn() {
    const cpu: Record<string, string> = { x86_64: "X86_64", aarch64: "ARM64" };
    for (const lib of await libraries("darwin")) {
      const header = (await runOk("llvm-objdump", ["--macho", "--private-header", lib.path])).text;
      const fields = header.trim().split("\n").pop()!.trim().split(/\s+/);
      assertEquals(fields[0], "MH_MAGIC_64", lib.file);
      assertEquals(fields[1], cpu[lib.arch], lib.file);
      assertEquals(fields[4], "DYLIB", lib.file);
      // macOS 11 or newer (README's Supported targets), as llvm-objdump reads it too
      const facts = machO(await Deno.readFile(lib.path));
      assertEquals(facts.build, { platform: 1, minos: "11.0" }, lib.file);
      const cmds = (await runOk("llvm-objdump", ["--macho", "--private-headers", lib.path])).text;
      assertEquals(/^\s*minos (\S+)$/m.exec(cmds)?.[1], "11.0", lib.file);
      // arm64 macOS runs only signed code: an ad hoc signature (none needed on x86_64)
      if (lib.arch === "aarch64") {
        assertEquals(facts.signature, { adhoc: true }, lib.file);
        assert(/^\s*cmd LC_CODE_SIGNATURE$/m.test(cmds), lib.file);
      }
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
