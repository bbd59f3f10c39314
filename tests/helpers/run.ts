/**
 * Running commands from the tests: any program ({@link run}, {@link runOk}),
 * Deno from the checkout ({@link deno}), the `pwalk` CLI ({@link cli},
 * {@link spawnCli}), a helper script of this folder ({@link helperScript}),
 * and the API in a child process ({@link apiInChild}, {@link walkInChild}); optionally without
 * privileges ({@link UNPRIVILEGED}), with extra environment variables (an
 * LD_PRELOAD shim: shim.ts) or killed after a time limit.
 *
 * @module
 */

import type { WalkJson } from "./api_json.ts";

/** The checkout's root folder (no trailing slash). */
export const REPO: string = decodeURIComponent(new URL("../../", import.meta.url).pathname)
  .replace(/\/$/, "");
/** cli.ts of the checkout. */
export const CLI: string = `${REPO}/cli.ts`;

/** What a finished child process left. */
export interface Ran {
  code: number;
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  /** stdout decoded as UTF-8. */
  readonly text: string;
  stderr: string;
  /** Killed because it outlived {@link RunOptions.timeoutMs}. */
  timedOut: boolean;
}

/**
 * The setpriv prefix that runs a command as uid 0 without any capability:
 * an ordinary user for file permissions (mode 000 folders owned by root are
 * unreadable), while Deno's cache under /root stays readable. Tests that
 * use it need setpriv (system.ts: SETPRIV) and root.
 */
export const UNPRIVILEGED: string[] = [
  "setpriv",
  "--bounding-set=-all",
  "--inh-caps=-all",
  "--ambient-caps=-all",
  "--",
];

/** Options of every runner here. */
export interface RunOptions {
  /** A command prefix, e.g. {@link UNPRIVILEGED}. */
  prefix?: string[];
  /** Extra environment variables (or the whole environment with clearEnv). */
  env?: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** The working folder (deno(), cli(): the checkout). */
  cwd?: string;
  /** Kill the process (SIGKILL) after this long: a hang guard, never a timing check. */
  timeoutMs?: number;
}

const dec = new TextDecoder();

function command(cmd: string, args: string[], o: RunOptions): Deno.Command {
  const argv = [...(o.prefix ?? []), cmd, ...args];
  return new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: o.cwd,
    env: o.env,
    clearEnv: o.clearEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Run a command to its end (stdin closed) and collect what it left. */
export async function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const child = command(cmd, args, o).spawn();
  let timedOut = false;
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, o.timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return {
    code: out.code,
    signal: out.signal,
    stdout: out.stdout,
    get text() {
      return dec.decode(out.stdout);
    },
    stderr: dec.decode(out.stderr),
    timedOut,
  };
}

/** Run a command and fail with its output unless it exits 0. */
export async function runOk(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.text}`);
  }
  return r;
}

/** Run `deno <args>` (the running Deno) from the checkout, without colors. */
export function deno(args: string[], o: RunOptions = {}): Promise<Ran> {
  return run(Deno.execPath(), args, {
    cwd: REPO,
    ...o,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
  });
}

/**
 * Run a documented example as written, at `file`, on the tree `data`: its
 * imports of the module (`jsr:@pwalk/cli`, `./mod.ts`) point at this
 * checkout and its `/data` at `data`. It must succeed: its stdout.
 */
export async function runExample(code: string, file: string, data: string): Promise<string> {
  const mod = JSON.stringify(`${REPO}/mod.ts`);
  await Deno.writeTextFile(
    file,
    code.replaceAll('"jsr:@pwalk/cli"', mod).replaceAll('"./mod.ts"', mod)
      .replaceAll('"/data"', JSON.stringify(data)),
  );
  const r = await deno(["run", "-A", file]);
  if (r.code !== 0) throw new Error(`the example ${file} exited ${r.code}:\n${r.stderr}`);
  return r.text;
}

/** Run `deno run -A cli.ts <args>`. */
export function cli(args: string[], o: RunOptions = {}): Promise<Ran> {
  return deno(["run", "-A", CLI, ...args], o);
}

/**
 * `pwalk ARGS` (cli.ts) in a mount namespace of its own (unshare), after
 * the shell commands `setup` there (which see `env`): /proc unmounted, or
 * replaced; run with the Deno permissions `perms` (all of them by default).
 */
export function cliInMountNamespace(
  setup: string,
  args: string[],
  env: Record<string, string> = {},
  perms: string[] = ["-A"],
): Promise<Ran> {
  return run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    `${setup} && exec "$0" run "$@"`,
    Deno.execPath(),
    ...perms,
    CLI,
    ...args,
  ], { env });
}

/** Start `deno run -A cli.ts <args>` with stdout and stderr piped (stdin closed). */
export function spawnCli(args: string[], o: RunOptions = {}): Deno.ChildProcess {
  return command(Deno.execPath(), ["run", "-A", CLI, ...args], {
    cwd: REPO,
    ...o,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
  }).spawn();
}

/**
 * Run `deno run -A [flags] tests/helpers/<script> <args>` (a child script of
 * the tests), e.g. with `flags` `["--v8-flags=--expose-gc"]`.
 */
export function helperScript(
  script: string,
  args: string[],
  o: RunOptions = {},
  flags: string[] = [],
): Promise<Ran> {
  return deno(["run", "-A", "--no-check", ...flags, `${REPO}/tests/helpers/${script}`, ...args], o);
}

/** A summary from api_json.ts: the JSON-safe fields of the function's summary. */
export interface JsonSummary {
  entries: number;
  folders: number;
  bytes: number;
  errors: number;
  badNames: number;
  entriesChanged: number;
  errorDetails: { path: string; op: string; message: string; code: string }[];
}

/** walk() in a child process (api_json.ts walk): paths by kind, and errors. */
export async function walkInChild(
  root: string,
  options: Record<string, unknown>,
  o: RunOptions = {},
): Promise<WalkJson> {
  const r = await helperScript("api_json.ts", ["walk", root, JSON.stringify(options)], o);
  if (r.code !== 0) throw new Error(`api_json.ts walk failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.text);
}

/**
 * Run report() or repair() in a child process (through api_json.ts), e.g.
 * as another user or with a preloaded shim, and return its summary.
 */
export async function apiInChild(
  fn: "report" | "repair",
  root: string,
  options: Record<string, unknown>,
  o: RunOptions = {},
): Promise<JsonSummary> {
  const r = await helperScript("api_json.ts", [fn, root, JSON.stringify(options)], o);
  if (r.code !== 0) throw new Error(`api_json.ts ${fn} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.text);
}
