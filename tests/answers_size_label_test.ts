/**
 * Summary's file-size rows are ranges from a power of two up to, not
 * including, the next: the text's columns say "from" and "below", as the
 * HTML table's do. Written
 * "2.0 KiB - 4.0 KiB", the row read as holding the files of exactly 4 KiB
 * (the commonest size of all), which are in the next row.
 */
import { assertEquals } from "@std/assert";
import { summarize } from "../mod.ts";
import { PWALK_HEADER } from "../lib/answers/scan.ts";
import { formatSummary } from "../lib/cli/summary.ts";
import { tempDir } from "./helpers/temp.ts";

const NOW = 1_800_000_000;

Deno.test("summary's file-size rows say their upper bound is excluded", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  const file = (i: number, size: number) =>
    `${i},1,0,"/r/f${i}","",0,0,${size},1,8,1,"0100644",${NOW},${NOW},${NOW},-1,0`;
  await Deno.writeTextFile(
    scan,
    [
      PWALK_HEADER,
      `1,0,-1,"/r","",0,0,4096,1,8,2,"0040755",${NOW},${NOW},${NOW},3,11192`,
      file(2, 3000),
      file(3, 4096),
      file(4, 4096),
    ].join("\n") + "\n",
  );
  const s = await summarize([scan], { now: NOW, names: false });
  const text = formatSummary(s, 200).split("\n");
  const at = text.indexOf("File sizes");
  assertEquals(text[at + 1].split(/ +/).slice(0, 3), ["from", "below", "files"]);
  const rows = text.slice(at + 2, at + 4).map((l) => l.split(/ {2,}/).slice(0, 3));
  assertEquals(rows, [["2.0 KiB", "4.0 KiB", "1"], ["4.0 KiB", "8.0 KiB", "2"]]);
});
