/**
 * Iterate pwalk's walk() (issue 3) over a whole tree, reading each entry's
 * size. Prints `{"entries":N,"bytes":B}` on stdout; exits with status 3 and
 * "not available: ..." when mod.ts does not export walk yet.
 *
 * usage: deno run -A bench/walk_api.ts ROOT [THREADS]
 *
 * @module
 */

type Entry = { size: number | bigint };
type WalkFn = (root: string, options?: { threads?: number }) => AsyncIterable<Entry>;

const [root, threadsArg] = Deno.args;
if (!root) {
  console.error("usage: walk_api.ts ROOT [THREADS]");
  Deno.exit(2);
}
const mod: Record<string, unknown> = await import("../mod.ts");
if (typeof mod.walk !== "function") {
  console.log("not available: mod.ts does not export walk()");
  Deno.exit(3);
}
const walk = mod.walk as WalkFn;
const options = threadsArg ? { threads: Number(threadsArg) } : undefined;

let entries = 0;
let bytes = 0;
for await (const e of walk(root, options)) {
  entries++;
  bytes += Number(e.size);
}
console.log(JSON.stringify({ entries, bytes }));
