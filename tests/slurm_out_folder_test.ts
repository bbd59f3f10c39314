/**
 * pwalk slurm --out DIR that is there but no folder (a file, a FIFO, a
 * link to nothing, a path through a file) is bad usage, said as such:
 * status 2, one line naming DIR, nothing made. It was status 1 with the
 * error of a file inside it (`DIR/plan.json: Not a directory`,
 * `DIR/logs: No such file or directory`), a failure to write, where
 * report's -o that is a folder, status DIR that is a file and
 * --resume DIR that is a file are all status 2.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("pwalk slurm --out that is not a folder: status 2, one line, nothing made", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  const file = `${tmp.path}/file`, fifo = `${tmp.path}/fifo`, dangling = `${tmp.path}/dangling`;
  await Deno.writeTextFile(file, "x");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  await Deno.symlink(`${tmp.path}/nowhere`, dangling);
  const before = [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();
  for (
    const [out, says] of [
      [file, `${file} is not a folder`],
      [fifo, `${fifo} is not a folder`],
      [dangling, `${dangling} is a link to nothing`],
      [`${file}/scan`, `${file}/scan: a part of its path is not a folder`],
    ]
  ) {
    const r = await cli(["slurm", root, "--shards", "2", "--out", out, "--dry-run"]);
    assertEquals(r.code, 2, `${out}: ${r.stderr}`);
    assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    assertStringIncludes(r.stderr, `pwalk: ${says}`);
    assertEquals(r.text, "");
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), before);
  assertEquals(Deno.readTextFileSync(file), "x");
  // a folder there, or a missing one, is the scan folder
  const ok = await cli([
    "slurm",
    root,
    "--shards",
    "2",
    "--out",
    `${tmp.path}/new/scan`,
    "--dry-run",
  ]);
  assertEquals(ok.code, 0, ok.stderr);
});
