/**
 * A dry-run repair (issue 4) over a whole tree: `repair(root, {apply: false})`
 * (dry run is the API's default; it is spelled out here so that a benchmark
 * never changes the shared tree). Prints the summary's scalar fields (and flat
 * records of them, like `changes`) as JSON;
 * exits with status 3 and "not available: ..." when mod.ts does not export
 * repair yet.
 *
 * usage: deno run -A bench/repair_dry.ts ROOT [THREADS]
 *
 * @module
 */

type RepairFn = (
  root: string,
  options: { apply: false; threads?: number },
) => Promise<Record<string, unknown>>;

const [root, threadsArg] = Deno.args;
if (!root) {
  console.error("usage: repair_dry.ts ROOT [THREADS]");
  Deno.exit(2);
}
const mod: Record<string, unknown> = await import("../mod.ts");
if (typeof mod.repair !== "function") {
  console.log("not available: mod.ts does not export repair()");
  Deno.exit(3);
}
const repair = mod.repair as RepairFn;
const summary = await repair(root, {
  apply: false,
  ...(threadsArg ? { threads: Number(threadsArg) } : {}),
});
const scalars: Record<string, unknown> = {};
for (const [k, v] of Object.entries(summary ?? {})) {
  const scalar = (x: unknown) => ["number", "string", "boolean"].includes(typeof x);
  const flat = v !== null && typeof v === "object" && !Array.isArray(v) &&
    Object.values(v).every(scalar);
  if (scalar(v) || flat) scalars[k] = v;
}
console.log(JSON.stringify(scalars));
