/**
 * An empty `frontier` names no folder to walk: the walker took it as no
 * frontier at all and walked the whole root (a caller splitting folders
 * among its own runs would get every row again from the run whose share is
 * empty). A RangeError, before anything is walked or written; omitted (or
 * null), the root is walked.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { report, walk } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";

const drain = async (it: AsyncIterable<unknown>) => {
  let n = 0;
  for await (const _ of it) n++;
  return n;
};

Deno.test("frontier: [] names no folder: a RangeError, not a walk of the whole root (audit)", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/d/sub`, { recursive: true });
  const said = "pwalk: frontier is empty: it names no folder to walk (omit it to walk the root)";
  const e1 = await assertRejects(
    () => report(`${tmp.path}/d`, { output: `${tmp.path}/scan.csv`, frontier: [] }),
    RangeError,
  );
  assertEquals(e1.message, said);
  const e2 = await assertRejects(() => drain(walk(`${tmp.path}/d`, { frontier: [] })), RangeError);
  assertEquals(e2.message, said);
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["d"], "nothing written");
  // omitted (or null): the root
  assertEquals(await drain(walk(`${tmp.path}/d`, { frontier: undefined })), 2);
});
