/**
 * Runs report() in its own process and prints the summary as JSON on
 * stdout, so tests can run the API as another user (setpriv) or with a
 * preloaded library.
 *
 * Usage: deno run -A tests/helpers/report_json.ts ROOT '{"output": "x.csv", ...}'
 *
 * @module
 */
import { report, type ReportOptions } from "../../mod.ts";

if (import.meta.main) {
  const [root, json] = Deno.args;
  const options: ReportOptions = JSON.parse(json ?? "{}");
  const s = await report(root, options);
  console.log(JSON.stringify({
    entries: s.entries,
    folders: s.folders,
    bytes: s.bytes,
    errors: s.errors,
    badNames: s.badNames,
    errorDetails: s.errorDetails.map((e) => ({ path: e.path, op: e.op, message: e.message })),
  }));
}
