/**
 * An `--exclude` list of many lines: README promises "no limit on lines",
 * and a generated list (`find /proj -name scratch -type d > list`) can hold
 * hundreds of thousands. The CLI once put the list's lines into the
 * excludes with one spread call (`push(...lines)`), which overflows the
 * call stack from about 130,000 lines: the run stopped at its start with
 * `pwalk: --exclude LIST: Maximum call stack size exceeded`, exit 2.
 *
 * Reference: the tree made here, whose one excluded folder is named by the
 * list's last line (the lines before it name folders that do not exist, a
 * warning each): a repair dry run lists the change of the file beside it,
 * and nothing below the excluded folder.
 *
 * Root only (files given to another uid and group).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

const LINES = 200_000;

Deno.test({
  name: `repair --exclude LIST of ${LINES} lines: read whole, its last folder excluded, exit 0`,
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-exclude-long-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(`${root}/keep`, { recursive: true });
    Deno.mkdirSync(`${root}/skip`);
    Deno.chownSync(root, 0, 61001); // a shared group
    for (const d of ["keep", "skip"]) {
      Deno.writeTextFileSync(`${root}/${d}/f`, "x");
      Deno.chownSync(`${root}/${d}/f`, 61002, 61001);
      Deno.chmodSync(`${root}/${d}/f`, 0o600); // wants g+r
      Deno.chownSync(`${root}/${d}`, 0, 61001);
    }
    const list = `${tmp.path}/exclude.list`;
    const lines: string[] = [];
    for (let i = 0; i < LINES - 1; i++) lines.push(`${root}/none/d${i}`);
    lines.push(`${root}/skip`);
    Deno.writeTextFileSync(list, lines.join("\n") + "\n");
    const r = await cli(["repair", "--exclude", list, root]);
    assertEquals(r.code, 0, r.stderr.slice(0, 2000));
    assertStringIncludes(r.text, `would change: ${root}/keep/f: mode 0600 -> 0640\n`);
    assert(!r.text.includes(`${root}/skip`), r.text);
    const warned = r.stderr.split("\n").filter((l) => l.startsWith("pwalk: warning: --exclude "));
    assertEquals(warned.length, LINES - 1);
  },
});
