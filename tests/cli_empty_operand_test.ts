/**
 * An empty operand (a JOURNAL, DIR, SCAN, OLD, NEW, IN or OUT of "", an
 * unset variable in a script: `pwalk undo "$J"`) is bad usage named as
 * such, one line and status 2, as an empty ROOT is ("ROOT is empty"):
 * it was said as the file's error with the name left out
 * (`pwalk: : no such journal`, `pwalk: : No such file or directory`).
 */
import { assertEquals } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("an empty operand is bad usage that names the operand", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/t`);
  const scan = `${tmp.path}/s.csv`;
  const r0 = await cli(["-o", scan, `${tmp.path}/t`]);
  assertEquals(r0.code, 0, r0.stderr);
  const cases: [string[], string][] = [
    [["undo", ""], "JOURNAL is empty"],
    [["undo", "--apply", ""], "JOURNAL is empty"],
    [["status", ""], "DIR is empty"],
    [["summary", ""], "SCAN is empty"],
    [["summary", scan, ""], "SCAN is empty"],
    [["diff", "", scan], "OLD is empty"],
    [["diff", scan, ""], "NEW is empty"],
    [["convert", "", `${tmp.path}/o.csv`], "IN is empty"],
    [["convert", scan, ""], "OUT is empty"],
  ];
  const ran = await pooled(cases, ([args]) => cli(args));
  for (const [i, [args, says]] of cases.entries()) {
    const r = ran[i];
    assertEquals([r.code, r.stderr, r.text], [2, `pwalk: ${says}\n`, ""], JSON.stringify(args));
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["s.csv", "t"]);
});
