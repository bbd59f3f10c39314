/**
 * UTF-8 validity, byte by byte, as the library judges it: shared by the
 * escaping of names for one-line output (lib/journal.ts printablePath) and
 * the exclude lists that are not UTF-8 (lib/exclude.ts); and {@link oneLine},
 * the escaping of a text (a path in an error message) as one line. No imports.
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

/**
 * A text as one line that cannot drive the terminal: control characters
 * (a path with a newline or an escape sequence) written `\n`, `\t`,
 * `\xHH` (C1 controls `\xc2\xHH`), as the library writes them; the line
 * and paragraph separators U+2028, U+2029 (a line break to some
 * terminals) and every format character (Unicode's Cf: the bidirectional
 * controls, zero-width characters, the BOM) written `\u2028` (`\u{e0041}`
 * above U+FFFF), as summary writes them (lib/answers/text.ts visible).
 * The CLI writes every line of stderr so (lib/cli/common.ts eprint), and
 * the library's error messages give the paths they name so: a root or
 * output named with a newline or `ESC[31m` reads as `\n`, `\x1b[31m` in
 * `e.message`, to a log as to a terminal.
 *
 * @example
 * ```ts
 * import { oneLine } from "./utf8.ts";
 * oneLine("a\nb\x1b[31m"); // "a\\nb\\x1b[31m"
 * ```
 */
export function oneLine(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\p{Cf}]/gu, (c) => {
    const n = c.codePointAt(0)!;
    const h = (x: number) => `\\x${x.toString(16).padStart(2, "0")}`;
    if (n > 0xffff) return `\\u{${n.toString(16)}}`;
    if (n > 0x9f) return `\\u${n.toString(16).padStart(4, "0")}`;
    return c === "\n" ? "\\n" : c === "\t" ? "\\t" : n >= 0x80 ? h(0xc2) + h(n) : h(n);
  });
}
