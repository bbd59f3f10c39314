/**
 * A walk left unfinished, as a script may leave one (`(await
 * walk(root).next()).value` and nothing more, with or without `skip`): the
 * process still ends, with status 0, as with @std/fs walk. And `match`/`skip` test every path
 * from its start, as @std/fs does, also with a /g RegExp.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { walk } from "../mod.ts";
import { deno, REPO } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

/**
 * 40 folders of 500 files: workers still run when the first entry is out.
 * The files are names of one empty file (`file`, outside the tree): a walk
 * lists and stats them as any files, and links are made some ten times
 * faster than as many new files on a disk slow to make inodes.
 */
function wideTree(root: string, file: string): void {
  Deno.writeFileSync(file, new Uint8Array());
  for (let d = 0; d < 40; d++) {
    Deno.mkdirSync(`${root}/d${d}/sub`, { recursive: true });
    for (let f = 0; f < 500; f++) Deno.linkSync(file, `${root}/d${d}/f${f}`);
  }
}

const SCRIPTS: Record<string, string> = {
  "walk": "(await walk(root).next()).value",
  "walkDirs top-down": "(await walkDirs(root).next()).value",
  "walkDirs bottom-up": "(await walkDirs(root, { topDown: false }).next()).value",
  "walk with skip, aborted": `const ac = new AbortController();
(await walk(root, { skip: [/never/], signal: ac.signal }).next()).value;
ac.abort();`,
  // skip is tested on the JavaScript thread as listings arrive: nothing
  // waits for a loop that is never resumed
  "walk with skip": "(await walk(root, { skip: [/never/] }).next()).value",
  "walkDirs bottom-up with skip":
    "(await walkDirs(root, { topDown: false, skip: [/never/] }).next()).value",
  "walkDirs top-down with skip": "(await walkDirs(root, { skip: [/d1$/] }).next()).value",
};

Deno.test("a script that leaves a walk unfinished ends, status 0", async (t) => {
  await using tmp = await tempDir("pwalk-exit-");
  const root = `${tmp.path}/tree`;
  wideTree(root, `${tmp.path}/empty`);
  for (const [name, body] of Object.entries(SCRIPTS)) {
    await t.step(name, async () => {
      const script = `${tmp.path}/script.ts`;
      await Deno.writeTextFile(
        script,
        `import { walk, walkDirs } from "${REPO}/mod.ts";\nconst root = Deno.args[0];\n${body}\nconsole.log("done");\n`,
      );
      // three runs: the crash it guards against (the library unloaded
      // under running workers) came in most runs, not all
      for (let i = 0; i < 3; i++) {
        const r = await deno(["run", "-A", script, root], { timeoutMs: 60_000 });
        assertEquals(
          [r.code, r.timedOut, r.text.trim()],
          [0, false, "done"],
          `${name}, run ${i + 1}: ${r.stderr}`,
        );
      }
    });
  }
});

Deno.test("match and skip with a /g RegExp select as @std/fs's path.match does", async () => {
  await using tmp = await tempDir("pwalk-exit-");
  const root = tmp.path;
  for (let i = 1; i <= 6; i++) await Deno.writeTextFile(`${root}/f${i}.ts`, "");
  for (const d of ["skipme", "skipme2"]) {
    await Deno.mkdir(`${root}/${d}`);
    await Deno.writeTextFile(`${root}/${d}/x.ts`, "");
  }
  const all: string[] = [];
  for await (const e of walk(root)) all.push(e.path);
  const paths = async (o: Parameters<typeof walk>[1]) => {
    const out: string[] = [];
    for await (const e of walk(root, o)) out.push(e.path);
    return out.sort();
  };
  // the reference: String.prototype.match, which starts from 0 every time
  const ts = /\.ts$/g;
  assertEquals(await paths({ match: [ts] }), all.filter((p) => p.match(/\.ts$/g)).sort());
  const skip = /skipme/g;
  assertEquals(
    await paths({ skip: [skip] }),
    all.filter((p) => !p.match(/skipme/g)).sort(),
  );
});
