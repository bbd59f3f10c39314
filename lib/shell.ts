/**
 * Words for a POSIX shell: the commands pwalk prints for copying (a Slurm
 * script's lines, undo's hint after a repair or chown).
 *
 * @module
 */

/**
 * A word for a POSIX shell, single-quoted when it needs to be.
 *
 * @example
 * ```ts ignore
 * import { shellQuote } from "jsr:@pwalk/cli";
 * shellQuote("/scratch/my scan"); // "'/scratch/my scan'"
 * ```
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
