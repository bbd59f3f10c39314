/**
 * A child's environment without some of this process's variables: the
 * Slurm commands' input variables that would change what pwalk asks of
 * them (sbatch's job name and logs, squeue's filters).
 *
 * @module
 */

/**
 * Deno.Command options that leave the variables `names` out of a child's
 * environment: `{}` when none is set, else `{ clearEnv, env }` with the
 * rest. Without leave to read the whole environment (`--allow-env=LIST`)
 * the rest cannot be handed on: an Error says so when one of them is set,
 * `why` telling what it would do to `command` ("would hide queued tasks").
 * A variable of `names` this process may not read is a NotCapable thrown,
 * or with `unreadable: "pass"` left as it is (not known to be set).
 *
 * @example
 * ```ts ignore
 * new Deno.Command("squeue", { args, ...envWithout(["SQUEUE_STATES"], "squeue", "would hide tasks") });
 * ```
 */
export function envWithout(
  names: readonly string[],
  command: string,
  why: string,
  { unreadable = "throw" }: { unreadable?: "throw" | "pass" } = {},
): { clearEnv?: boolean; env?: Record<string, string> } {
  let env: Record<string, string>;
  try {
    env = Deno.env.toObject();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    // not all of it may be read, so none can be handed on without them:
    // they must be unset, or must not be read either (then the NotCapable
    // names the variable; with unreadable "pass", the child gets the
    // environment as it is, as before these were looked at)
    const readable = (v: string) => {
      try {
        return Deno.env.get(v);
      } catch (e) {
        if (unreadable === "pass" && e instanceof Deno.errors.NotCapable) return undefined;
        throw e;
      }
    };
    const set = names.filter((v) => readable(v) !== undefined);
    if (set.length) {
      throw new Error(
        `${set.join(", ")} set in the environment ${why}, and without --allow-env for all of ` +
          `it ${command} cannot be run without them: unset them, or give --allow-env`,
      );
    }
    return {};
  }
  if (!names.some((v) => v in env)) return {};
  for (const v of names) delete env[v];
  return { clearEnv: true, env };
}
