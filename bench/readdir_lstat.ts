/**
 * The baseline of issue 3: walk a tree with Deno.readDir + Deno.lstat only,
 * all the stats of a folder at once (Promise.all), reading each entry's size.
 * Prints `{"entries":N,"folders":F,"bytes":B,"errors":E}` on stdout, ROOT
 * counted (as walk() and walkDirs() count it: one table, one count).
 *
 * usage: deno run -A bench/readdir_lstat.ts ROOT
 *
 * @module
 */

const root = Deno.args[0];
if (!root) {
  console.error("usage: readdir_lstat.ts ROOT");
  Deno.exit(2);
}

let entries = 0;
let folders = 0;
let bytes = 0;
let errors = 0;

async function visit(dir: string): Promise<void> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch {
    errors++;
    return;
  }
  const paths = names.map((n) => `${dir}/${n}`);
  const infos = await Promise.all(paths.map((p) => Deno.lstat(p).catch(() => null)));
  const subs: string[] = [];
  for (let i = 0; i < infos.length; i++) {
    const info = infos[i];
    if (info === null) {
      errors++;
      continue;
    }
    entries++;
    bytes += info.size;
    if (info.isDirectory) {
      folders++;
      subs.push(paths[i]);
    }
  }
  for (const s of subs) await visit(s);
}

const top = root.length > 1 ? root.replace(/\/+$/, "") : root;
// ROOT itself: an entry and a folder, as walk()'s first row and os.walk's first folder
const info = await Deno.lstat(top);
entries++;
bytes += info.size;
if (info.isDirectory) folders++;
await visit(top);
console.log(JSON.stringify({ entries, folders, bytes, errors }));
