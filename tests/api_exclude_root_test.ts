/**
 * The API's `exclude` naming the root itself: the walker tests the excludes
 * below the root only, so it would walk (and repair, chown) all of the tree
 * the caller meant to leave out. The CLI refuses `--exclude ROOT` ("nothing
 * would be walked"); the API refuses it the same way, a RangeError before
 * anything is walked or written, in report, walk, walkDirs, repair, chown
 * and planShards.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { chown, planShards, repair, report, walk, walkDirs } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";

const drain = async (it: AsyncIterable<unknown>) => {
  let n = 0;
  for await (const _ of it) n++;
  return n;
};

Deno.test("exclude naming the root itself, however spelled: a RangeError in every function, nothing walked or written (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/proj`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/sub/f`, "x");
  const out = `${tmp.path}/scan.csv`;
  const cwd = Deno.cwd();
  Deno.chdir(tmp.path);
  try {
    for (const spelling of [root, `${root}/`, `${root}/sub/..`, "proj", "./proj/"]) {
      const said = `pwalk: exclude ${spelling} is the root itself: nothing would be walked`;
      const exclude = [spelling];
      const calls: [string, () => Promise<unknown>][] = [
        ["report", () => report(root, { output: out, exclude })],
        ["walk", () => drain(walk(root, { exclude }))],
        ["walkDirs", () => drain(walkDirs(root, { exclude }))],
        ["repair", () => repair(root, { exclude })],
        ["chown", () => chown(root, { from: 1001, to: { uid: 1002 }, exclude })],
        ["planShards", () => planShards(root, { shards: 2, exclude })],
      ];
      for (const [name, call] of calls) {
        const e = await assertRejects(call, RangeError, undefined, `${name} ${spelling}`);
        assertEquals(e.message, said, `${name} ${spelling}`);
      }
    }
    // the root through a relative spelling of its own: "." from inside it
    Deno.chdir(root);
    await assertRejects(() => drain(walk(".", { exclude: ["."] })), RangeError);
    await assertRejects(() => report(".", { output: out, exclude: [root] }), RangeError);
  } finally {
    Deno.chdir(cwd);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["proj"], "nothing written");
  // a folder below the root is still excluded, and one that names nothing excludes nothing
  assertEquals(await drain(walk(root, { exclude: [`${root}/sub`] })), 1);
  assertEquals(await drain(walk(root, { exclude: [`${tmp.path}/nope`] })), 3);
});
