/**
 * Thousands separators for the CLI's lines and the answers' tables, and
 * DuckDB's memory sizes, in one small module of its own: the CLI's static
 * module graph stays clear of lib/answers.
 *
 * @module
 */

/**
 * 1234567 -> "1,234,567", as Intl.NumberFormat("en-US") writes it (at
 * most 3 decimals), without it: Intl's first use loads ICU data, 6.6 MiB
 * of the CLI's peak memory and ~18 ms.
 */
export function groupDigits(n: number): string {
  if (!Number.isFinite(n) || Math.abs(n) >= 1e21) return String(n);
  let [int, frac = ""] = Math.abs(n) < 1e-6 ? ["0"] : String(Math.abs(n)).split(".");
  if (frac.length > 3) {
    // Intl rounds the shortest decimal form, half away from zero
    let d = BigInt(int + frac.slice(0, 3));
    if (frac[3] >= "5") d++;
    const s = d.toString().padStart(4, "0");
    [int, frac] = [s.slice(0, -3), s.slice(-3)];
  }
  frac = frac.replace(/0+$/, "");
  let out = "";
  for (let end = int.length; end > 0; end -= 3) {
    out = end - 3 > 0 ? `,${int.slice(end - 3, end)}${out}` : `${int.slice(0, end)}${out}`;
  }
  return `${n < 0 || Object.is(n, -0) ? "-" : ""}${out}${frac ? `.${frac}` : ""}`;
}

/**
 * A count and its noun, singular or plural, the count's digits grouped:
 * `count(1, "error")` is "1 error", `count(2, "entry", "entries")` "2
 * entries", `count(1200, "shard")` "1,200 shards". Every message that
 * counts something says it through this.
 */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${groupDigits(n)} ${n === 1 ? one : many}`;
}

/**
 * A memory size as DuckDB's memory_limit takes it ("4GB", "1.5 GiB": a
 * number, then KB, MB, GB or TB, or KiB ... TiB, in any case) in bytes, or
 * undefined when it is not one, is less than a byte (0KB, 0.0001KB: DuckDB
 * takes whole bytes, 0, and fails at its first allocation, an "Out of
 * Memory" error after the work has begun), or is 2^63 bytes (8 EiB) or
 * more: a bound kept well below DuckDB's own (about 2^64 bytes, past which
 * it fails with "Failed to set config", naming no option, or wraps to 0).
 */
export function memorySize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])(i?)B$/i.exec(s);
  if (!m) return undefined;
  const power = "KMGT".indexOf(m[2].toUpperCase()) + 1;
  const bytes = Number(m[1]) * (m[3] ? 1024 : 1000) ** power;
  return bytes >= 1 && bytes < 2 ** 63 ? bytes : undefined;
}
