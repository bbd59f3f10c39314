/**
 * Runs report() or repair() in its own process and prints the summary as
 * JSON on stdout (byte arrays left out), so tests can run the API as
 * another user (setpriv) or with a preloaded shim (run.ts: apiInChild).
 *
 * Usage: deno run -A tests/helpers/api_json.ts report|repair ROOT '{"output": "x.csv", ...}'
 *
 * @module
 */
import { repair, type RepairOptions, report, type ReportOptions } from "../../mod.ts";

if (import.meta.main) {
  const [fn, root, json] = Deno.args;
  const options = JSON.parse(json ?? "{}");
  const s = fn === "repair"
    ? await repair(root, options as RepairOptions)
    : fn === "report"
    ? await report(root, options as ReportOptions)
    : undefined;
  if (!s) throw new Error(`api_json.ts: report or repair, not ${fn}`);
  console.log(JSON.stringify(s, (_, v) => v instanceof Uint8Array ? undefined : v));
}
