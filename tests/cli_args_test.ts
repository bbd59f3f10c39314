/**
 * How a command line is read, beyond the option parser itself:
 * - `--plan` (a shard) and `--chown_from`/`--chown_to` (chown) pick the
 *   command only as options: not as another option's value (`-o --plan`
 *   writes a file named --plan), nor after `--` (a ROOT named --plan is
 *   walked);
 */
import { assert, assertEquals } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

Deno.test("--plan and --chown_from as -o's value or after --: a report, as written", async () => {
  await using t = await tempDir();
  const cwd = t.path;
  await Deno.mkdir(`${cwd}/tree/a`, { recursive: true });
  for (const name of ["--plan", "--chown_from", "--chown_to"]) {
    // -o NAME: a file of that name, the report's
    for (const args of [["-o", name, "tree"], ["report", "-o", name, "tree"]]) {
      const r = await cli(args, { cwd });
      assertEquals(r.code, 0, r.stderr);
      const st = await Deno.lstat(`${cwd}/${name}`);
      assert(st.isFile);
      assertEquals(lines(await Deno.readTextFile(`${cwd}/${name}`)).length, 2); // tree, tree/a
      assertEquals(lines(r.stderr).length, 1, r.stderr);
      assert(lines(r.stderr)[0].endsWith(` -> ${name} (${st.size} B)`), r.stderr);
      await Deno.remove(`${cwd}/${name}`);
    }
    // -- NAME: the folder of that name walked
    await Deno.mkdir(`${cwd}/${name}`);
    const st = await Deno.lstat(`${cwd}/${name}`);
    for (const args of [["--", name], ["report", "--", name]]) {
      const r = await cli(args, { cwd });
      assertEquals(r.code, 0, r.stderr);
      const row = lines(r.text);
      assertEquals(row.length, 1, r.text);
      assert(row[0].startsWith(`${st.ino},0,-1,"${name}",`), row[0]);
    }
    await Deno.remove(`${cwd}/${name}`);
  }
});
