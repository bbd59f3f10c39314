/**
 * An empty `frontier` names no folder to walk: the walker took it as no
 * frontier at all and walked the whole root (a caller splitting folders
 * among its own runs would get every row again from the run whose share is
 * empty). A RangeError, before anything is walked or written; omitted (or
 * null), the root is walked.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
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

Deno.test("a frontier folder that is not below the root: the error names it (was 'bad frontier folder entry')", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/d/sub`, { recursive: true });
  await Deno.mkdir(`${tmp.path}/other`);
  // a frontier folder as a plan gives it, from the folder as it is (Deno's lstat)
  const folder = (path: string, depth: number) => {
    const st = Deno.lstatSync(path);
    return { path, dev: st.dev, ino: st.ino!, parentIno: Deno.lstatSync(`${path}/..`).ino!, depth };
  };
  assertEquals(
    await drain(walk(`${tmp.path}/d`, { frontier: [folder(`${tmp.path}/d/sub`, 0)] })),
    1,
  );
  for (
    const [path, why] of [[`${tmp.path}/other`, "is not below the root"], [
      `${tmp.path}/d/./sub`,
      "empty",
    ]]
  ) {
    const frontier = [folder(path, 0)];
    for (
      const run of [
        () => drain(walk(`${tmp.path}/d`, { frontier })),
        () => report(`${tmp.path}/d`, { output: `${tmp.path}/scan.csv`, frontier }),
      ]
    ) {
      const e = await assertRejects(run, TypeError);
      assertStringIncludes(e.message, `frontier folder ${path}`);
      assertStringIncludes(e.message, why);
    }
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["d", "other"]);
});
