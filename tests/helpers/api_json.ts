/**
 * Runs report() or repair() in its own process and prints the summary as
 * JSON on stdout (byte arrays left out), so tests can run the API as
 * another user (setpriv) or with a preloaded shim (run.ts: apiInChild).
 * `walk` runs walk() and prints the paths of its files and folders and its
 * errors ({@link WalkJson}); its `skip` option is a list of RegExp sources.
 *
 * Usage: deno run -A tests/helpers/api_json.ts report|repair|walk ROOT '{"output": "x.csv", ...}'
 *
 * @module
 */
import {
  repair,
  type RepairOptions,
  report,
  type ReportOptions,
  walk,
  type WalkOptions,
} from "../../mod.ts";

/** What `api_json.ts walk` prints: paths by kind, and the errors. */
export interface WalkJson {
  files: string[];
  dirs: string[];
  errors: { path: string; op: string; message: string; code: string }[];
}

async function walkJson(root: string, o: Record<string, unknown>): Promise<WalkJson> {
  const skip = (o.skip as string[] | undefined)?.map((r) => new RegExp(r));
  const it = walk(root, { ...o, skip } as WalkOptions);
  const out: WalkJson = { files: [], dirs: [], errors: [] };
  for await (const e of it) (e.isDirectory ? out.dirs : out.files).push(e.path);
  out.errors = it.errors.map((e) => ({ path: e.path, op: e.op, message: e.message, code: e.code }));
  return out;
}

if (import.meta.main) {
  const [fn, root, json] = Deno.args;
  const options = JSON.parse(json ?? "{}");
  if (fn === "walk") {
    console.log(JSON.stringify(await walkJson(root, options)));
    Deno.exit(0);
  }
  const s = fn === "repair"
    ? await repair(root, options as RepairOptions)
    : fn === "report"
    ? await report(root, options as ReportOptions)
    : undefined;
  if (!s) throw new Error(`api_json.ts: report or repair, not ${fn}`);
  console.log(JSON.stringify(s, (_, v) => v instanceof Uint8Array ? undefined : v));
}
