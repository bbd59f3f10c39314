/**
 * Iterate pwalk's walkDirs() (os.walk's shape) over a whole tree, counting
 * folders and files. Prints `{"folders":N,"files":F}` on stdout.
 *
 * usage: deno run -A bench/walkdirs_api.ts ROOT [stat|names]
 *
 * @module
 */
import { walkDirs } from "../mod.ts";

const [root, mode = "names"] = Deno.args;
if (!root) {
  console.error("usage: walkdirs_api.ts ROOT [stat|names]");
  Deno.exit(2);
}
let folders = 0;
let files = 0;
for await (const d of walkDirs(root, { stat: mode === "stat" })) {
  folders++;
  files += d.files.length;
}
console.log(JSON.stringify({ folders, files }));
