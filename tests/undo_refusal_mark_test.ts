/**
 * A refusal mark (a journal line whose NEW is its OLD, written after a
 * change the system refused) leaves alone the lines it marks, and no
 * other: an entry a run reaches under two paths (a read-only bind mount of
 * a folder inside the tree) was changed by one worker under the one path
 * while another worker, having read the same OLD before that change,
 * wrote its line under the other path and was refused (EROFS). The file
 * holds the run's values; the mark of the refused path must not make undo
 * take the change made for one never made (seen: `repair --apply` of a
 * 2,000-file folder bind-mounted read-only inside the tree, 8 threads,
 * left 4 to 5 files with the run's group and mode after `undo --apply`,
 * counted as "refused at the run"). The journal is written here as such a
 * run writes it, so that the interleaving is certain.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { readJournal } from "../mod.ts";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("undo: a refusal mark under one path of an entry leaves its change made under another to undo", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/proj`;
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  const f = `${root}/d/f`;
  Deno.writeTextFileSync(f, "x");
  Deno.chmodSync(f, 0o640); // the run's change, made under d/f
  const r = Deno.statSync(root), s = Deno.statSync(f);
  const own = `${s.uid} ${s.gid}`;
  const line = (rel: string, mode: string) =>
    `${s.dev} ${s.ino} f ${own} 0600 ${own} ${mode} - ${rel}`;
  const journal = `${tmp.path}/j`;
  Deno.writeTextFileSync(
    journal,
    [
      `#pwalk-journal 2 repair apply ${r.dev} ${r.ino} ${root}`,
      line("d/f", "0640"), // made
      line("ro/f", "0640"), // written before d/f's change was made, then refused
      line("ro/f", "0600"), // its refusal mark
    ].join("\n") + "\n",
    { mode: 0o600 },
  );
  const read = await readJournal(journal);
  assertEquals(read.entries.map((e) => new TextDecoder().decode(e.line.rel)), ["d/f"]);
  assertEquals(read.notMade, 1);
  const counts = (done: string) =>
    `2 journal entries, 1 ${done}, 0 already as before, 0 with fields kept, ` +
    "1 refused at the run (never made), 0 errors";
  const dry = await cli(["undo", journal]);
  assertEquals(dry.code, 0, dry.stderr);
  assertStringIncludes(dry.stderr, counts("would be restored"));
  const u = await cli(["undo", "--apply", journal]);
  assertEquals(u.code, 0, u.stderr);
  assertStringIncludes(u.stderr, counts("restored"));
  assertEquals(Deno.statSync(f).mode! & 0o7777, 0o600);
});

Deno.test("undo of a run whose ROOT is gone: the lines it marked as refused are neither errors nor left alone", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/gone`;
  Deno.mkdirSync(root);
  const r = Deno.statSync(root);
  Deno.removeSync(root);
  const line = (ino: number, rel: string, mode: string) =>
    `${r.dev} ${ino} f 1001 1001 0600 1001 5000 ${mode} - ${rel}`;
  const header = `#pwalk-journal 2 repair apply ${r.dev} ${r.ino} ${root}`;
  const refused = [line(8, "b", "0640"), `${r.dev} 8 f 1001 1001 0600 1001 1001 0600 - b`];
  const write = (name: string, lines: string[]) => {
    Deno.writeTextFileSync(`${tmp.path}/${name}`, lines.join("\n") + "\n", { mode: 0o600 });
    return `${tmp.path}/${name}`;
  };
  // one change made (a), one refused (b): the one made is left alone, one error
  const some = await cli(["undo", write("some", [header, line(7, "a", "0640"), ...refused])]);
  assertEquals(some.code, 1, some.stderr);
  assertStringIncludes(some.stderr, `: the run's 1 entry below it left alone\n`);
  assertStringIncludes(
    some.stderr,
    "2 journal entries, 0 would be restored, 0 already as before, 0 with fields kept, " +
      "1 refused at the run (never made), 1 error in ",
  );
  // every change refused: the run made none, nothing is left alone
  const none = await cli(["undo", write("none", [header, ...refused])]);
  assertEquals(none.code, 0, none.stderr);
  assertStringIncludes(
    none.stderr,
    "1 journal entry, 0 would be restored, 0 already as before, 0 with fields kept, " +
      "1 refused at the run (never made), 0 errors in ",
  );
  assertEquals(none.stderr.includes("left alone"), false, none.stderr);
});
