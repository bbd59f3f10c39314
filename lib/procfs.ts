/**
 * Safety checks that must not pass for want of a Deno permission: a check
 * that could not look (Deno's NotCapable) is refused, never taken for "not
 * there"; and /proc, which Deno refuses to a script without `--allow-all`,
 * read through the C library (`--allow-ffi`, which pwalk needs anyway).
 *
 * @module
 */

/**
 * Throw `e` when it is Deno's refusal of a permission (NotCapable): for the
 * catches of safety checks, where anything else means "not there".
 *
 * @example
 * ```ts ignore
 * try { Deno.lstatSync(p); } catch (e) { unlessRefused(e); missing = p; }
 * ```
 */
export function unlessRefused(e: unknown): void {
  if (e instanceof Deno.errors.NotCapable) throw e;
}

const O_CLOEXEC = 0o2000000; // Linux (x86-64, arm64)

/**
 * The bytes of a file under /proc (`/proc/self/mountinfo`), or undefined
 * where it is not there (no /proc: a container without it, macOS). Without
 * `--allow-all` Deno refuses every path under /proc (NotCapable, whatever
 * `--allow-read` says): then it is read through the C library's open and
 * read, which `--allow-ffi` allows; without that either, the refusal is
 * thrown.
 *
 * @example
 * ```ts ignore
 * const text = new TextDecoder().decode(readProcFile("/proc/self/mountinfo"));
 * ```
 */
export function readProcFile(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (!(e instanceof Deno.errors.NotCapable) || Deno.build.os !== "linux") throw e;
  }
  const libc = Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
  try {
    const errno = () => {
      const p = libc.symbols.__errno_location();
      return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
    };
    const fd = libc.symbols.open(new TextEncoder().encode(`${path}\0`), O_CLOEXEC);
    if (fd < 0) {
      const e = errno();
      if (e === 2) return undefined; // ENOENT: no /proc
      throw new Error(`pwalk: cannot read ${path} (errno ${e})`);
    }
    try {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const buf = new Uint8Array(64 << 10);
        const n = Number(libc.symbols.read(fd, buf, BigInt(buf.length)));
        if (n < 0) {
          const e = errno();
          if (e === 4) continue; // EINTR
          throw new Error(`pwalk: cannot read ${path} (errno ${e})`);
        }
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
      }
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) out.set(c, (o += c.length) - c.length);
      return out;
    } finally {
      libc.symbols.close(fd);
    }
  } finally {
    libc.close();
  }
}
