/**
 * A path with a newline in it, named by a message of summary, diff,
 * convert or plan: the message is one line that names the whole path
 * (escaped, `\n`) and then the reason, as report, undo and status print
 * theirs. (summary, diff and convert kept the message's first line before
 * escaping it, for DuckDB's errors that go on over several lines: the
 * line stopped inside the path and the reason was lost. Deno's own
 * "(os error N): op 'PATH'" tail stayed when PATH had a newline.)
 */
import { assertEquals, assertRejects } from "@std/assert";
import { cli, UNPRIVILEGED } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

/** A scan of a small tree, made by the CLI, in `dir` as s.csv. */
async function scanIn(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/tree/a`, { recursive: true });
  const r = await cli(["--header", "-o", "s.csv", "tree"], { cwd: dir });
  assertEquals(r.code, 0, r.stderr);
}

Deno.test("summary, diff, convert, plan: a path with a newline is named whole, then why", async () => {
  await using t = await tempDir();
  await scanIn(t.path);
  const cwd = t.path;
  // none of these names exists (as lstat says), nor the folder 'nod\nir'
  for (const p of ["no\nscan.csv", "x\ny.csv", "nod\nir", "a\nb"]) {
    await assertRejects(() => Deno.lstat(`${cwd}/${p}`), Deno.errors.NotFound);
  }
  const cases: [string[], number, string][] = [
    [["summary", "no\nscan.csv"], 2, "pwalk: no\\nscan.csv: No such file or directory"],
    [["diff", "s.csv", "x\ny.csv"], 2, "pwalk: x\\ny.csv: No such file or directory"],
    [
      ["convert", "s.csv", "nod\nir/x.csv"],
      1,
      "pwalk: cannot write nod\\nir/x.csv: No such file or directory",
    ],
    [
      ["summary", "--html", "nod\nir/x.html", "s.csv"],
      1,
      "pwalk: cannot write nod\\nir/x.html: No such file or directory",
    ],
    [
      ["plan", "--shards", "2", "--from", "a\nb", "tree"],
      2,
      "pwalk: --from a\\nb: No such file or directory",
    ],
  ];
  for (const [args, code, line] of cases) {
    const r = await cli(args, { cwd });
    assertEquals([r.code, lines(r.stderr)], [code, [line]], args.join(" "));
  }
  await assertRejects(() => Deno.lstat(`${cwd}/nod\nir`), Deno.errors.NotFound);
});

testNeeding([SETPRIV], {
  name:
    "summary of a scan it may not read, in a folder with a newline: path, then Permission denied",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using t = await tempDir();
    await scanIn(t.path);
    await Deno.mkdir(`${t.path}/nl\ndir`);
    await Deno.copyFile(`${t.path}/s.csv`, `${t.path}/nl\ndir/s.csv`);
    await Deno.chmod(`${t.path}/nl\ndir/s.csv`, 0o000);
    assertEquals((await Deno.lstat(`${t.path}/nl\ndir/s.csv`)).mode! & 0o777, 0);
    const r = await cli(["summary", "nl\ndir/s.csv"], { cwd: t.path, prefix: UNPRIVILEGED });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(lines(r.stderr), ["pwalk: nl\\ndir/s.csv: Permission denied"]);
  },
});
