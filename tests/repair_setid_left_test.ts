/**
 * repair() --force-group-writable and a setuid file that keeps its group
 * (docs/repair.md, rule 4): its `setid` notice says it was changed without
 * group write. One that another rule then leaves entirely alone (rule 7:
 * its ACL names a user whom the group bits would let in, an `acl_named`
 * notice) gets no `setid` notice, dry run and --apply alike: --apply once
 * told it before looking at the ACL, so its notices (and its error count)
 * differed from the dry run's for the same tree.
 *
 * Reference: the tree made here; `helper` (root's setuid program of the
 * project's group, user:1005:r-x kept out by its mask ---) is left as it
 * is, `plain` (the same without an ACL) gets g+r and the setid notice.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { repair } from "../mod.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { tempDir } from "./helpers/temp.ts";
import { ACL, buildTree, G, setAccessAcls } from "./helpers/repair_tree.ts";

type Notices = { errorDetails: { op: string; path: string }[] };

function noticesOf(s: Notices, op: string): string[] {
  return s.errorDetails.filter((e) => e.op === op).map((e) => e.path).sort();
}

testNeeding([PYTHON3], {
  name: "repair --force-group-writable: no setid notice for a setuid file an ACL leaves alone, " +
    "dry run and --apply alike (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-setid-left-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "helper", type: "file", uid: 0, gid: G.PROJECT, mode: 0o700 },
      { rel: "plain", type: "file", uid: 0, gid: G.PROJECT, mode: 0o4700 },
    ]);
    // user::rwx user:1005:r-x group::r-- mask::--- other::---
    await setAccessAcls(root, {
      helper: [
        [ACL.USER_OBJ, 7, ACL.ANY],
        [ACL.USER, 5, 1005],
        [ACL.GROUP_OBJ, 4, ACL.ANY],
        [ACL.MASK, 0, ACL.ANY],
        [ACL.OTHER, 0, ACL.ANY],
      ],
    });
    Deno.chmodSync(`${root}/helper`, 0o4700); // (the mask stays ---)
    const modeOf = (rel: string) => Deno.lstatSync(`${root}/${rel}`).mode! & 0o7777;
    assertEquals(modeOf("helper"), 0o4700);
    const dry = await repair(root, { forceGroupWritable: true, journal: false });
    const applied = await repair(root, { apply: true, forceGroupWritable: true, journal: false });
    for (const s of [dry, applied]) {
      assertEquals(noticesOf(s, "acl_named"), [`${root}/helper`]);
      assertEquals(noticesOf(s, "setid"), [`${root}/plain`]);
    }
    assertEquals(dry.errors, applied.errors);
    assertEquals(modeOf("helper"), 0o4700); // left alone
    assertEquals(modeOf("plain"), 0o4740); // g+r, no group write
  },
});
