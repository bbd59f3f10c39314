/**
 * repair() and an access ACL whose group entry (group::) gives less than
 * its other entry (other::): docs/repair.md, rule 7.  The members of the
 * project group reach such an entry as others while it is in its owner's
 * private group; given the project group, they would be kept to group::
 * (no chmod changes it) and lose what they could read.  Such an entry is
 * left alone, with an acl_named notice, dry run and --apply alike; one
 * whose ACL gives the new group its due in an entry of its own
 * (group:PROJECT:r--) is changed as before.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { repair } from "../mod.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";

import { ACL, buildTree, G, setAccessAcls } from "./helpers/repair_tree.ts";

type Notices = { errorDetails: { op: string; path: string; message: string }[] };

function noticesOf(s: Notices, op: string): string[] {
  return s.errorDetails.filter((e) => e.op === op).map((e) => e.path).sort();
}

testNeeding([PYTHON3], {
  name: "an entry whose ACL gives its group less than others: not handed to the project group, " +
    "whose members would lose what they read as others (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-acl-other-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2775 },
      // group::--- mask::r-- other::r--: read by everyone, the group aside
      { rel: "world", type: "file", uid: 1001, gid: 1001, mode: 0o644 },
      // a folder: group::--- mask::rwx other::r-x (everything below it too)
      { rel: "dworld", type: "dir", uid: 1001, gid: 1001, mode: 0o775 },
      // group::--- group:PROJECT:r-- mask::r-- other::r--: its members keep r (through
      // the group's own entry: no acl notice)
      { rel: "named", type: "file", uid: 1001, gid: 1001, mode: 0o644 },
      // group::--- other::---: nobody loses anything (the acl notice, as before)
      { rel: "closed", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
      // no ACL: group bits given as before
      { rel: "plain", type: "file", uid: 1001, gid: 1001, mode: 0o604 },
    ]);
    // access ACLs (tag, perm, id)
    const { ANY } = ACL;
    await setAccessAcls(root, {
      world: [[1, 6, ANY], [2, 4, 1005], [4, 0, ANY], [0x10, 4, ANY], [0x20, 4, ANY]],
      dworld: [[1, 7, ANY], [2, 7, 1005], [4, 0, ANY], [0x10, 7, ANY], [0x20, 5, ANY]],
      named: [[1, 6, ANY], [4, 0, ANY], [8, 4, G.PROJECT], [0x10, 4, ANY], [0x20, 4, ANY]],
      closed: [[1, 6, ANY], [2, 0, 1005], [4, 0, ANY], [0x10, 0, ANY], [0x20, 0, ANY]],
    });
    const gidOf = (rel: string) => Deno.lstatSync(`${root}/${rel}`).gid;
    const left = [`${root}/dworld`, `${root}/world`];
    const dry = await repair(root, { journal: false, listChanges: true });
    assertEquals(noticesOf(dry, "acl_named"), left);
    assertStringIncludes(
      dry.errorDetails.find((e) => e.path === `${root}/world`)!.message,
      "other::",
    );
    assertEquals(
      dry.changeList!.map((c) => c.path).sort(),
      [`${root}/closed`, `${root}/named`, `${root}/plain`],
    );
    assertEquals(noticesOf(dry, "acl"), [`${root}/closed`]);
    const applied = await repair(root, { apply: true, journal: false });
    assertEquals(noticesOf(applied, "acl_named"), left);
    assertEquals(noticesOf(applied, "acl"), [`${root}/closed`]);
    assertEquals(applied.entriesChanged, 3);
    // left alone: their members still read them as others
    assertEquals([gidOf("world"), gidOf("dworld")], [1001, 1001]);
    assertEquals(Deno.lstatSync(`${root}/dworld`).mode! & 0o7777, 0o775);
    // changed: the group's own entry keeps its members in; nothing to lose
    assertEquals([gidOf("named"), gidOf("closed"), gidOf("plain")], [
      G.PROJECT,
      G.PROJECT,
      G.PROJECT,
    ]);
    assertEquals(Deno.lstatSync(`${root}/plain`).mode! & 0o7777, 0o644);
  },
});
