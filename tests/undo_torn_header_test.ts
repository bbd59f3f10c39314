/**
 * A journal whose first line, its header, was cut short (a run stopped
 * while writing it, before any change: every change waits for the header)
 * is told as such, and refused as no journal (status 2), wherever the cut
 * fell: within "#pwalk-journal " or after it (README, "Repair and chown":
 * "a file holding only the first bytes of a header"). Before, a cut after
 * those 15 bytes was taken for a torn last line: status 0, one error, and
 * "the lines before it are undone" of a file that has none.
 *
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import { indexJournal } from "../lib/journal.ts";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

const enc = new TextEncoder();
const HEADER = "#pwalk-journal 2 repair apply 65024 10223594 /projects/genome";

function told(file: string): string {
  return `pwalk: ${file} holds only the start of a pwalk journal's first line: a run stopped ` +
    "while writing it, which changed nothing: nothing to undo";
}

Deno.test("undo: a header cut short anywhere is the start of a journal, not a torn last line", () => {
  for (const cut of [3, 14, 15, 16, 30, HEADER.length]) {
    const bytes = enc.encode(HEADER.slice(0, cut));
    const e = assertThrows(() => indexJournal(bytes, "J"), SyntaxError);
    assertEquals(e.message, told("J"), `cut at ${cut}`);
  }
  // a whole header line, and a torn line after it: that one is torn
  const ix = indexJournal(enc.encode(HEADER + "\n65024 1 f 1 1 06"), "J");
  assertEquals(ix.tornLine, 2);
});

Deno.test("pwalk undo: a header cut after its first 15 bytes is refused, status 2", async () => {
  await using tmp = await tempDir("pwalk-tornheader-");
  const j = `${tmp.path}/j`;
  Deno.writeTextFileSync(j, HEADER.slice(0, 22), { mode: 0o600 });
  Deno.chmodSync(j, 0o600);
  const r = await cli(["undo", j]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.split("\n").filter((l) => l && !l.startsWith("Warning")), [told(j)]);
});
