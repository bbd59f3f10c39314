/**
 * The default journal's place built from HOME: a HOME written with a
 * trailing slash (`HOME=/home/alice/`, or `HOME=/`) gives the same folder
 * as without it, and the path pwalk prints (the journal, the undo command,
 * the system log line, an error) has no doubled slash.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";

Deno.test("a HOME with a trailing slash: the default journal's path has no doubled slash (audit)", async () => {
  await using tmp = await tempDir("pwalk-home-");
  const root = `${tmp.path}/p`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
  ]);
  const home = `${tmp.path}/home`;
  Deno.mkdirSync(home, { mode: 0o700 });
  const r = await cli(["repair", "--apply", root], {
    env: { HOME: `${home}/`, XDG_STATE_HOME: "" },
  });
  assertEquals(r.code, 0, r.stderr);
  const dir = `${home}/.local/state/pwalk`;
  assertStringIncludes(r.stderr, `pwalk repair: applying; journal ${dir}/repair-`);
  assert(!r.stderr.includes("//"), r.stderr);
  const journal = r.stderr.match(/applying; journal (\S+)/)![1];
  assert(journal.startsWith(`${dir}/repair-`), journal);
  const undone = await cli(["undo", "--apply", journal]);
  assertEquals(undone.code, 0, undone.stderr);

  // a HOME where no folder can be made (.local a file): the error names the
  // folder without a doubled slash either
  Deno.mkdirSync(`${tmp.path}/h2`, { mode: 0o700 });
  Deno.writeTextFileSync(`${tmp.path}/h2/.local`, "");
  const bad = await cli(["repair", "--apply", root], {
    env: { HOME: `${tmp.path}/h2/`, XDG_STATE_HOME: "" },
  });
  assertEquals(bad.code, 1, bad.stderr);
  assertStringIncludes(
    bad.stderr,
    `pwalk: journal folder ${tmp.path}/h2/.local/state/pwalk: cannot be created`,
  );
});
