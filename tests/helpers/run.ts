/**
 * Running the `pwalk` CLI (and the API through a small script) in a child
 * process, optionally without privileges (setpriv) or with a preloaded shim.
 *
 * @module
 */

/** The checkout's root folder. */
export const REPO: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** cli.ts of the checkout. */
export const CLI: string = `${REPO}/cli.ts`;
/** The API runner script (report_json.ts). */
export const REPORT_JSON: string = `${REPO}/tests/helpers/report_json.ts`;

/** What a finished child process left. */
export interface Ran {
  code: number;
  signal: Deno.Signal | null;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * The setpriv prefix that runs a command as uid 0 without any capability:
 * an ordinary user for file permissions (mode 000 folders owned by root are
 * unreadable), while Deno's cache under /root stays readable.
 */
export const UNPRIVILEGED: string[] = [
  "setpriv",
  "--bounding-set=-all",
  "--inh-caps=-all",
  "--ambient-caps=-all",
  "--",
];

/** Options for {@link deno}. */
export interface RunOptions {
  /** A command prefix, e.g. {@link UNPRIVILEGED}. */
  prefix?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The working folder (default: the checkout). */
  cwd?: string;
}

function command(args: string[], o: RunOptions, piped: boolean): Deno.Command {
  const argv = [...(o.prefix ?? []), Deno.execPath(), ...args];
  return new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: o.cwd ?? REPO,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...o.env },
    stdin: "null",
    stdout: "piped",
    stderr: piped ? "piped" : "inherit",
  });
}

/** Run `deno <args>` from the checkout and collect its output. */
export async function deno(args: string[], o: RunOptions = {}): Promise<Ran> {
  const r = await command(args, o, true).output();
  return {
    code: r.code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: new TextDecoder().decode(r.stderr),
  };
}

/** Run `deno run -A cli.ts <args>` and collect its output. */
export function cli(args: string[], o: RunOptions = {}): Promise<Ran> {
  return deno(["run", "-A", CLI, ...args], o);
}

/** Start `deno run -A cli.ts <args>` with stdout and stderr piped. */
export function spawnCli(args: string[], o: RunOptions = {}): Deno.ChildProcess {
  return command(["run", "-A", CLI, ...args], o, true).spawn();
}

/** A summary from report_json.ts (JSON-safe fields of ReportSummary). */
export interface JsonSummary {
  entries: number;
  folders: number;
  bytes: number;
  errors: number;
  badNames: number;
  errorDetails: { path: string; op: string; message: string }[];
}

/** Run report() in a child process (through report_json.ts) and return its summary. */
export async function apiInChild(
  root: string,
  options: Record<string, unknown>,
  o: RunOptions = {},
): Promise<JsonSummary> {
  const r = await deno(["run", "-A", REPORT_JSON, root, JSON.stringify(options)], o);
  if (r.code !== 0) throw new Error(`report_json.ts failed (${r.code}): ${r.stderr}`);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/** Whether a program can be run (found on PATH and exits 0 with these args). */
export function canRun(cmd: string, args: string[] = ["--version"]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}
