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

Deno.test("a frontier folder's name in its error is escaped as the error lines escape names: one line, a backslash \\\\ (review)", async () => {
  await using tmp = await tempDir();
  // a name with a newline and a backslash: "a\nb" and "a\\nb" must not read the same
  const name = "ot\nh\\er";
  await Deno.mkdir(`${tmp.path}/d/${name}`, { recursive: true });
  await Deno.mkdir(`${tmp.path}/${name}`);
  const folder = (path: string) => {
    const st = Deno.lstatSync(path);
    return {
      path,
      dev: st.dev,
      ino: st.ino!,
      parentIno: Deno.lstatSync(`${path}/..`).ino!,
      depth: 0,
    };
  };
  // the escapes of README's error lines, for these two characters
  const shown = (p: string) => p.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  for (
    const [path, why] of [
      [`${tmp.path}/${name}`, ` is not below the root ${tmp.path}/d`],
      [`${tmp.path}/d/./${name}`, `: a name on its way from the root is empty, "." or ".."`],
    ]
  ) {
    const frontier = [folder(path)];
    for (
      const run of [
        () => drain(walk(`${tmp.path}/d`, { frontier })),
        () => report(`${tmp.path}/d`, { output: `${tmp.path}/scan.csv`, frontier }),
      ]
    ) {
      const e = await assertRejects(run, TypeError);
      assertEquals(e.message, `pwalk: frontier folder ${shown(path)}${why}`);
      assertEquals(e.message.split("\n").length, 1);
    }
  }
});
