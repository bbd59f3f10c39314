/**
 * Sizes as people read them, computed by the tests on their own.
 *
 * @module
 */

/**
 * The reference of a human size: exact integer arithmetic (BigInt), the
 * smallest unit whose figure, rounded to tenths, is under 1024 (integers
 * never fall on a tie: 1024^i / 20 is no integer), as README's sizes are
 * written ("41.3 MiB", "107 B"): the expected size in a message, computed
 * apart from the CLI's formatBytes.
 *
 * @example
 * ```ts ignore
 * iecTenths(1536); // "1.5 KiB"
 * ```
 */
export function iecTenths(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  const a = BigInt(Math.abs(n));
  const sign = n < 0 ? "-" : "";
  if (a < 1024n) return `${sign}${a} B`;
  for (let i = 1; i < units.length; i++) {
    const d = 1024n ** BigInt(i);
    const tenths = (a * 20n + d) / (2n * d); // round(a * 10 / d)
    if (tenths < 10240n || i === units.length - 1) {
      return `${sign}${tenths / 10n}.${tenths % 10n} ${units[i]}`;
    }
  }
  throw new Error("unreachable");
}
