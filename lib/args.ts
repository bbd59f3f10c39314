/**
 * What both command lines (lib/cli.ts, lib/cli_repair.ts) share: usage
 * errors, number arguments, unknown options, stderr lines.
 *
 * @module
 */
import { normaliseFolder } from "./options.ts";

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

/** The folders an `--exclude FILE` lists (one full path a line), normalised as the walker builds paths. */
export async function readExcludeFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`--exclude ${path}: ${(e as Error).message}`);
  }
  return text.split(/\r?\n/).filter((l) => l.length > 0).map(normaliseFolder);
}

/**
 * Run a command's body and turn what it throws into an exit status: a
 * {@link UsageError} or a missing root is 2, anything else 1, each with
 * one line on stderr.
 */
export async function exitStatus(body: () => Promise<number>, prefix = "pwalk"): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      eprint(`${prefix}: ${e.message}`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    eprint(msg.startsWith("pwalk") ? msg : `${prefix}: ${msg}`);
    return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory ? 2 : 1;
  }
}
