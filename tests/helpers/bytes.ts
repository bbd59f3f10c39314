/**
 * Byte strings for the tests: paths and names that may not be UTF-8 are
 * handled as Uint8Array, never decoded.
 *
 * @module
 */

const enc = new TextEncoder();

/** UTF-8 bytes of a string (a byte string is returned as it is). */
export function bytes(s: string | Uint8Array): Uint8Array {
  return typeof s === "string" ? enc.encode(s) : s;
}

/** Concatenate byte strings (strings are taken as UTF-8) into a new array. */
export function concat(...parts: (string | Uint8Array)[]): Uint8Array {
  const bs = parts.map(bytes);
  const out = new Uint8Array(bs.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of bs) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

/** `dir + "/" + name` on bytes. */
export function join(dir: string | Uint8Array, name: string | Uint8Array): Uint8Array {
  return concat(dir, "/", name);
}
