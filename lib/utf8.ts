/**
 * UTF-8 validity, byte by byte, as the library judges it: shared by the
 * escaping of names for one-line output (lib/journal.ts printablePath) and
 * the exclude lists that are not UTF-8 (lib/exclude.ts). No imports.
 *
 * @module
 */

/**
 * The length of the valid UTF-8 sequence at b[i] (a byte >= 0x80), or 0
 * when it is not one (a stray byte, an overlong form, a surrogate): the
 * rule of native/errlog.c's pw_escape_path.
 *
 * @example
 * ```ts
 * import { utf8Seq } from "./utf8.ts";
 * utf8Seq(new Uint8Array([0xc3, 0xa9]), 0); // 2
 * utf8Seq(new Uint8Array([0xff]), 0); // 0
 * ```
 */
export function utf8Seq(b: Uint8Array, i: number): number {
  const c = b[i];
  const n = c >= 0xc2 && c <= 0xdf
    ? 2
    : c >= 0xe0 && c <= 0xef
    ? 3
    : c >= 0xf0 && c <= 0xf4
    ? 4
    : 0;
  if (!n || i + n > b.length) return 0;
  const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
  const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
  if (b[i + 1] < lo || b[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return 0;
  return n;
}
