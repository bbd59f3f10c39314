/**
 * Undo puts owner and group back while they hold the run's values, and
 * keeps a mode changed since the run (the owner's). Both at once would
 * hand the group access the owner gave the run's group to the old group
 * instead, which nobody gave it to: `repair --change-gids 100` (README's
 * example; 100 is `users`, every user's group) of a folder of user 1001,
 * `1001:100 0700`, made it `1001:PROJECT 2750`; its owner opened it to the
 * project, `chmod 2770`; an undo of the run then left it `1001:100 2770`,
 * a folder every user could write in (and `notes`, `0660`, a file every
 * user could rewrite), where before the run only its owner could. Owner
 * and group are kept then too, and the line says why; not when the old
 * group is the owner's own (its gid the owner's uid), nor when others
 * have that access anyway, nor when the mode goes back.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { undo } from "../mod.ts";
import { closeLibc, lchown } from "./helpers/libc.ts";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";
import { groupShown } from "./helpers/names.ts";

const PROJECT = 4242; // the project's shared group
const BROAD = 4343; // a group every user is in (users), given to --change-gids
const OWNER = 4141; // the owner, whose own group has its id

Deno.test({
  name: "undo: a mode changed since the run whose group access would go to the old group keeps " +
    "owner and group too (audit)",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-undo-group-access-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(`${root}/a`, { recursive: true });
    lchown(root, 0, PROJECT);
    Deno.chmodSync(root, 0o2775);
    lchown(`${root}/a`, OWNER, BROAD);
    Deno.chmodSync(`${root}/a`, 0o700);
    const files: [string, number, number][] = [
      ["notes", BROAD, 0o660], // g+w for the project: would go to BROAD
      ["world", BROAD, 0o664], // others may read it anyway: g+w still would
      ["readable", BROAD, 0o644], // others may read it anyway: no group access beyond theirs
      ["own", OWNER, 0o660], // its old group the owner's own: goes back
      ["plain", BROAD, 0o640], // the run's mode still: goes back whole
    ];
    for (const [name, gid] of files) {
      const p = `${root}/a/${name}`;
      Deno.writeTextFileSync(p, "x\n");
      lchown(p, OWNER, gid);
      Deno.chmodSync(p, 0o600);
    }
    const journal = `${tmp.path}/j`;
    const r = await cli([
      "repair",
      "--apply",
      "--change-gids",
      String(BROAD),
      "--journal",
      journal,
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    // the owner's changes since the run
    Deno.chmodSync(`${root}/a`, 0o2770);
    for (const [name, , mode] of files) Deno.chmodSync(`${root}/a/${name}`, mode);

    // the groups as the lines show them: "4242 (name)" where the name service has one
    const [project, broad, owner] = [PROJECT, BROAD, OWNER].map(groupShown);
    const note = (mode: string) =>
      `(mode changed since: kept; group kept: putting it back would give group ${broad} the ` +
      `access mode ${mode} gives the group, which the old mode did not)`;
    const want = [
      `${root}/a: left as it is ${note("2770")}`,
      `${root}/a/notes: left as it is ${note("0660")}`,
      `${root}/a/own: group ${project} -> ${owner} (mode changed since: kept)`,
      `${root}/a/plain: group ${project} -> ${broad}, mode 0640 -> 0600`,
      `${root}/a/readable: group ${project} -> ${broad} (mode changed since: kept)`,
      `${root}/a/world: left as it is ${note("0664")}`,
    ];
    const plan = await undo(journal);
    assertEquals(plan.restored, 3);
    const dry = await cli(["undo", journal]);
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals(
      dry.text.trimEnd().split("\n").sort(),
      want.map((l) => l.includes("left as it is") ? l : `would restore: ${l}`).sort(),
    );
    const un = await cli(["undo", "--apply", journal]);
    assertEquals(un.code, 0, un.stderr);
    assertEquals(un.text.trimEnd().split("\n").sort(), [...want].sort());
    assertStringIncludes(
      un.stderr,
      "6 journal entries, 3 restored, 0 already as before, 5 with fields kept",
    );
    const now = (rel: string) => {
      const st = Deno.lstatSync(`${root}/${rel}`);
      return [st.uid, st.gid, st.mode! & 0o7777];
    };
    // nobody in BROAD may write in the folder, nor rewrite its files
    assertEquals(now("a"), [OWNER, PROJECT, 0o2770]);
    assertEquals(now("a/notes"), [OWNER, PROJECT, 0o660]);
    assertEquals(now("a/world"), [OWNER, PROJECT, 0o664]);
    assertEquals(now("a/readable"), [OWNER, BROAD, 0o644]);
    assertEquals(now("a/own"), [OWNER, OWNER, 0o660]);
    assertEquals(now("a/plain"), [OWNER, BROAD, 0o600]);
    // a second undo: the same
    const again = await cli(["undo", "--apply", journal]);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(now("a"), [OWNER, PROJECT, 0o2770]);
    assertEquals(now("a/notes"), [OWNER, PROJECT, 0o660]);
    closeLibc();
  },
});
