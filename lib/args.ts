/**
 * What both command lines (lib/cli.ts, lib/cli_repair.ts) share: usage
 * errors, number arguments, unknown options, stderr lines.
 *
 * @module
 */

/** Bad usage: one line on stderr and exit status 2. */
export class UsageError extends Error {}

/** A whole-number option value in [min, max], or undefined when absent. */
export function intArg(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || n < min || n > max) {
    throw new UsageError(`--${name} needs a whole number from ${min} to ${max}, got '${s}'`);
  }
  return n;
}

/**
 * parseArgs' `unknown` hook that keeps the first unknown option; call
 * `check()` after parsing to turn it into a UsageError.
 */
export function unknownOptions(): { hook: (arg: string) => boolean; check: () => void } {
  let first: string | undefined;
  return {
    hook: (arg: string) => {
      if (arg.startsWith("-") && arg !== "-") {
        first ??= arg;
        return false;
      }
      return true;
    },
    check: () => {
      if (first !== undefined) throw new UsageError(`unknown option ${first} (try --help)`);
    },
  };
}

/** Whether f is a terminal (false when that cannot be known). */
export function isTerminal(f: { isTerminal(): boolean } = Deno.stderr): boolean {
  try {
    return f.isTerminal();
  } catch {
    return false;
  }
}

const enc = new TextEncoder();

/** One line on stderr (nothing when stderr is closed). */
export function eprint(s: string): void {
  try {
    Deno.stderr.writeSync(enc.encode(s + "\n"));
  } catch {
    // stderr closed
  }
}
