/**
 * The source id of the native library: which native/ sources it was built
 * from. build.zig computes it while it builds and compiles it in
 * (`pw_source_id()`, native/source_id.c); {@link sourceId} computes the
 * same over a native/ folder, and `deno task dist` records it in
 * lib/manifest.json for the published package, which has no native/.
 * lib/ffi.ts refuses a library whose id is not the one this TypeScript
 * expects: a library built from older sources would take the arguments of
 * a newer interface wrongly (pw_restore's value array grew from 10 to 18
 * entries while PW_VERSION stayed "0.1.0").
 *
 * The id: SHA-256, lowercase hex, over every regular file directly in
 * native/ whose name ends in ".c" or ".h", in byte order of their names,
 * each as its name, a NUL byte, its size in decimal, a NUL byte and its
 * bytes. No path, time or build option goes in: reproducible builds stay
 * reproducible.
 *
 * @module
 */
import { sha256Hex } from "./sha256.ts";

function byteOrder(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The source id of the native/ folder at `dir` (a path or a file: URL);
 * undefined when it cannot be listed (no such folder, no read permission)
 * or holds no source.
 *
 * @example
 * ```ts ignore
 * sourceId(new URL("../native/", import.meta.url)); // "5a2bdb77..."
 * ```
 */
export function sourceId(dir: string | URL): string | undefined {
  const enc = new TextEncoder();
  const base = typeof dir === "string" ? dir.replace(/\/*$/, "/") : dir;
  const parts: Uint8Array[] = [];
  try {
    const names = [...Deno.readDirSync(base)]
      .filter((e) => e.isFile && /\.[ch]$/.test(e.name))
      .map((e) => enc.encode(e.name))
      .sort(byteOrder);
    if (!names.length) return undefined;
    const dec = new TextDecoder();
    for (const name of names) {
      const n = dec.decode(name);
      const bytes = Deno.readFileSync(
        typeof base === "string" ? base + n : new URL(encodeURIComponent(n), base),
      );
      parts.push(name, enc.encode(`\0${bytes.length}\0`), bytes);
    }
  } catch {
    return undefined;
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return sha256Hex(all);
}
