/**
 * Summary's cold-data table is cut to --top like the users table, and says
 * so as that one does: "(top 1 of 3)", `coldUserCount` in --json. Without
 * it, a cut list read as every user's cold data (its sum as the tree's).
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { summarize } from "../mod.ts";
import { PWALK_HEADER } from "../lib/answers/scan.ts";
import { formatSummary } from "../lib/cli/summary.ts";
import { summaryHtml } from "../lib/answers/html.ts";
import { tempDir } from "./helpers/temp.ts";

const NOW = 1_800_000_000;
const OLD = NOW - 400 * 86400;

Deno.test("summary's cold data says how many users have cold files, as the users table does", async () => {
  await using tmp = await tempDir();
  const scan = `${tmp.path}/scan.csv`;
  const row = (
    i: number,
    p: number,
    d: number,
    name: string,
    uid: number,
    mode: string,
    t: number,
  ) =>
    `${i},${p},${d},"${name}","",${uid},0,1000,1,8,1,"${mode}",${t},${t},${t},` +
    (mode === "0040755" ? "4,4000" : "-1,0");
  await Deno.writeTextFile(
    scan,
    [
      PWALK_HEADER,
      row(1, 0, -1, "/r", 0, "0040755", NOW),
      row(2, 1, 0, "/r/a", 1001, "0100644", OLD),
      row(3, 1, 0, "/r/b", 1002, "0100644", OLD),
      row(4, 1, 0, "/r/c", 1003, "0100644", OLD),
      row(5, 1, 0, "/r/new", 1004, "0100644", NOW),
    ].join("\n") + "\n",
  );
  const s = await summarize([scan], { top: 1, now: NOW, names: false });
  assertEquals([s.coldByUser.length, s.coldUserCount, s.userCount], [1, 3, 5]);
  assertStringIncludes(
    formatSummary(s, 200),
    "Cold data: files not read for 365 days, per user (top 1 of 3)",
  );
  assertStringIncludes(
    await summaryHtml(s),
    "Cold data: files not read for 365 days, per user (top 1 of 3)",
  );
  const all = await summarize([scan], { top: 10, now: NOW, names: false });
  assertEquals([all.coldByUser.length, all.coldUserCount], [3, 3]);
});
