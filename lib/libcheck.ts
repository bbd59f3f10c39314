/**
 * A cheap look at a library file before dlopen, for files no checksum
 * vouches for (PWALK_LIB, setLibraryPath(), a checkout's zig-out/ or
 * dist/): dlopen of a truncated file maps pages past its end, and the first
 * touch of one kills the process with SIGBUS, saying nothing; a library of
 * another architecture gets glibc's misleading "cannot open shared object
 * file: No such file or directory". Here both are one clear sentence.
 *
 * Linux only (ELF): other systems' files are left to dlopen.
 *
 * @module
 */
import { count } from "./digits.ts";

/** ELF e_machine of each Deno.build.arch. */
const MACHINE: Record<string, number> = { x86_64: 62, aarch64: 183 };

/** Names of e_machine values one may meet, for the message. */
const MACHINE_NAMES: Record<number, string> = {
  3: "x86 (32-bit)",
  8: "mips",
  20: "ppc",
  21: "ppc64",
  22: "s390",
  40: "arm (32-bit)",
  62: "x86_64",
  183: "aarch64",
  243: "riscv",
  258: "loongarch",
};

const ELF_HEADER = 64;
const PHDR_SIZE = 56;
const PT_LOAD = 1;
const ET_DYN = 3;

/** Read `len` bytes at `offset` (fewer at the end of the file). */
function readAt(f: Deno.FsFile, offset: number, len: number): Uint8Array {
  const buf = new Uint8Array(len);
  f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < len) {
    const n = f.readSync(buf.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Why the file at `path` cannot be a shared library of this platform
 * (`arch`: a Deno.build.arch), or undefined when its ELF header and
 * program headers look right: a 64-bit little-endian shared object of
 * this architecture, at least as long as every loadable segment's end in
 * the file. Also undefined on systems other than Linux, and when the file
 * cannot be read (dlopen then says why).
 *
 * @example
 * ```ts ignore
 * libraryProblem("/tmp/t.so"); // "truncated: 100000 bytes, its segments need 642960"
 * ```
 */
export function libraryProblem(
  path: string,
  arch: string = Deno.build.arch,
  os: string = Deno.build.os,
): string | undefined {
  if (os !== "linux") return undefined;
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const size = f.statSync().size;
    const h = readAt(f, 0, ELF_HEADER);
    if (h.length < 4 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) {
      const magic = h.length < 4 ? 0 : new DataView(h.buffer, h.byteOffset, 4).getUint32(0);
      // MH_MAGIC_64, MH_MAGIC (either byte order), FAT_MAGIC
      const macho = [0xfeedfacf, 0xcffaedfe, 0xfeedface, 0xcefaedfe, 0xcafebabe];
      return macho.includes(magic)
        ? "a macOS library (Mach-O), not a Linux one"
        : "not an ELF file";
    }
    if (h.length < ELF_HEADER) return `truncated: ${size} bytes, shorter than an ELF header`;
    if (h[4] !== 2) return h[4] === 1 ? "a 32-bit ELF file" : `an ELF file of class ${h[4]}`;
    if (h[5] !== 1) return "a big-endian ELF file";
    const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const type = v.getUint16(16, true);
    if (type !== ET_DYN) return `not a shared object (ELF type ${type})`;
    const machine = v.getUint16(18, true);
    const want = MACHINE[arch];
    if (want !== undefined && machine !== want) {
      return `built for ${MACHINE_NAMES[machine] ?? `ELF machine ${machine}`}, not ${arch}`;
    }
    const phoff = Number(v.getBigUint64(32, true));
    const phentsize = v.getUint16(54, true);
    const phnum = v.getUint16(56, true);
    if (phentsize < PHDR_SIZE) return `program headers of ${count(phentsize, "byte")}`;
    const phend = phoff + phentsize * phnum;
    if (phend > size) {
      return `truncated: ${size} bytes, its program headers end at byte ${phend}`;
    }
    const ph = readAt(f, phoff, phentsize * phnum);
    const pv = new DataView(ph.buffer, ph.byteOffset, ph.byteLength);
    let need = 0;
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      if (pv.getUint32(at, true) !== PT_LOAD) continue;
      const end = Number(pv.getBigUint64(at + 8, true)) + Number(pv.getBigUint64(at + 32, true));
      if (end > need) need = end;
    }
    if (need > size) return `truncated: ${size} bytes, its segments need ${need}`;
    return undefined;
  } catch {
    return undefined;
  } finally {
    f.close();
  }
}
