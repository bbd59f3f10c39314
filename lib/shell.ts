/**
 * Words for a POSIX shell: the commands pwalk prints for copying (a Slurm
 * script's lines, undo's hint after a repair or chown).
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// deno-lint-ignore no-control-regex
const DOLLAR_ESCAPED = /[\\'\x00-\x1f\x7f-\x9f]/g;

/** `\xHH` for a byte. */
const hex = (n: number) => `\\x${n.toString(16).padStart(2, "0")}`;

/**
 * A word for a shell, single-quoted when it needs to be. A word with a
 * control character (a newline, a tab, an escape) is written `$'…'`
 * instead (bash, zsh, ksh; POSIX since 2024), each such character as an
 * escape (`\n`, `\t`, `\xHH`; a C1 control as its two UTF-8 bytes): the
 * command stays one line, which a terminal shows as it is, and pasted into
 * the shell it names the very bytes (printed in single quotes, a newline
 * would be shown `\n` by the error printer, and name another file).
 *
 * @example
 * ```ts
 * import { shellQuote } from "jsr:@pwalk/cli";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(shellQuote("/scratch/scan-1"), "/scratch/scan-1"); // as it is
 * assertEquals(shellQuote("/scratch/my scan"), "'/scratch/my scan'");
 * assertEquals(shellQuote("/root/it's a\nj"), "$'/root/it\\'s a\\nj'");
 * ```
 */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) return s;
  if (!CONTROL.test(s)) return `'${s.replaceAll("'", `'\\''`)}'`;
  return `$'${
    s.replace(DOLLAR_ESCAPED, (c) => {
      const n = c.charCodeAt(0);
      return c === "\\" || c === "'"
        ? `\\${c}`
        : c === "\n"
        ? "\\n"
        : c === "\t"
        ? "\\t"
        : n >= 0x80
        ? hex(0xc2) + hex(n)
        : hex(n);
    })
  }'`;
}
