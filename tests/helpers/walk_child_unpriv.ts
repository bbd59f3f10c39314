/**
 * Child of tests/walk_test.ts, run without capabilities (setpriv): walks the
 * generated tree ROOT, whose `weird/locked` folder is mode 000, in several
 * ways and prints what it saw as JSON on stdout.
 *
 * usage: deno run -A walk_child_unpriv.ts ROOT
 *
 * @module
 */
import { walk, walkDirs, type WalkError } from "../../mod.ts";

const root = Deno.args[0];
const locked = `${root}/weird/locked`;
const brief = (e: WalkError) => ({ path: e.path, op: e.op, message: e.message });

let premise = "readable";
try {
  Deno.readDirSync(locked)[Symbol.iterator]().next();
} catch (e) {
  premise = (e as Error).name;
}

const plainIt = walk(root);
const paths: string[] = [];
let lockedCounts: number[] = [];
for await (const e of plainIt) {
  paths.push(e.path);
  if (e.path === locked) lockedCounts = [e.fcount, e.dirsum];
}

const calls: ReturnType<typeof brief>[] = [];
const onErrorIt = walk(root, { onError: (e) => calls.push(brief(e)) });
let onErrorCount = 0;
for await (const _ of onErrorIt) onErrorCount++;

// walkDirs, each order, with and without stat: the folders yielded
const dirs: Record<string, { paths: string[]; errors: ReturnType<typeof brief>[] }> = {};
for (const stat of [true, false]) {
  for (const topDown of [true, false]) {
    const it = walkDirs(root, { stat, topDown });
    const yielded: string[] = [];
    for await (const d of it) yielded.push(d.path);
    dirs[`stat:${stat} topDown:${topDown}`] = {
      paths: yielded.sort(),
      errors: it.errors.map(brief),
    };
  }
}

const skipIt = walk(root, { skip: [/\/locked$/] });
let skipCount = 0;
for await (const _ of skipIt) skipCount++;

const excludeIt = walk(root, { exclude: [locked] });
let excludeCount = 0;
for await (const _ of excludeIt) excludeCount++;

// maxDepth 2 (@std/fs numbering): weird/locked is at depth 2, yielded but
// not to be entered.
const depthIt = walk(root, { maxDepth: 2 });
const depthPaths: string[] = [];
for await (const e of depthIt) depthPaths.push(e.path);

// maxDepth 0 with the unreadable folder as the root: stat'ed only (as
// @std/fs walk), never opened, so no error
const leafIt = walk(locked, { maxDepth: 0 });
const leafEntries: unknown[] = [];
for await (const e of leafIt) leafEntries.push(e);

console.log(JSON.stringify({
  premise,
  plain: { paths, errors: plainIt.errors.map(brief), lockedCounts },
  onError: { calls, collected: onErrorIt.errors.length, count: onErrorCount },
  dirs,
  skip: { count: skipCount, errors: skipIt.errors.map(brief) },
  exclude: { count: excludeCount, errors: excludeIt.errors.map(brief) },
  maxDepth2: { paths: depthPaths, errors: depthIt.errors.map(brief) },
  rootMaxDepth0: { entries: leafEntries, errors: leafIt.errors.map(brief) },
}));
