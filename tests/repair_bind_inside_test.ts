/**
 * A bind mount inside the tree of a folder of the tree, as docs/repair.md
 * tells it (audit 8, finding 2): the walk enters it, a dry run lists each
 * entry below it once per path, --apply changes each once; with the mount
 * point excluded, the dry run lists what --apply then changes. The
 * reference is Deno.lstat: which inodes are below the mount, and what
 * --apply changed.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { canMountTmpfs, mountBind, tempDir } from "./helpers/temp.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";

/** The paths a repair's change lines name, each once, sorted ("would change: " dropped). */
const named = (text: string) =>
  [
    ...new Set(
      text.split("\n").filter(Boolean).map((l) =>
        l.replace(/^would change: /, "").replace(/: [^:]*$/, "")
      ),
    ),
  ].sort();

Deno.test({
  name:
    "repair with a bind mount of a folder of ROOT inside ROOT: the dry run lists its entries by both paths, --apply changes each once; --exclude the mount point and both agree (documented)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-bindin-");
    for (const exclude of [false, true]) {
      const root = `${tmp.path}/p${exclude ? "x" : ""}`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        { rel: "n", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
        { rel: "n/g", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
        { rel: "n2", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      ]);
      const why = await mountBind(`${root}/n`, `${root}/n2`);
      if (why) throw new Error(`mount --bind: ${why}`);
      // the premise: n2 is n, by device and inode
      const a = Deno.lstatSync(`${root}/n`), b = Deno.lstatSync(`${root}/n2`);
      assertEquals([a.dev, a.ino], [b.dev, b.ino]);
      const both = [`${root}/n`, `${root}/n/g`, `${root}/n2`, `${root}/n2/g`];
      const before = both.map((p) => Deno.lstatSync(p).gid);
      const args = exclude ? ["--exclude", `${root}/n2`] : [];
      const dry = await cli(["repair", ...args, root]);
      assertEquals(dry.code, 0, dry.stderr);
      const apply = await cli(["repair", ...args, "--apply", "--journal", `${root}.j`, root]);
      assertEquals(apply.code, 0, apply.stderr);
      // --apply changed the two inodes once each (lstat), and its lines name each once
      const after = both.map((p) => Deno.lstatSync(p).gid);
      assertEquals(before.map((g) => g === G.PROJECT), [false, false, false, false]);
      assertEquals(after, [G.PROJECT, G.PROJECT, G.PROJECT, G.PROJECT]);
      const applied = named(apply.text);
      // one path of each inode at least (both, where two workers reached
      // both paths of one at the same moment: docs/repair.md), none other
      for (const pair of [[`${root}/n`, `${root}/n2`], [`${root}/n/g`, `${root}/n2/g`]]) {
        assert(pair.some((p) => applied.includes(p)), apply.text);
      }
      assert(applied.every((p) => both.includes(p)), apply.text);
      if (exclude) {
        assertEquals(applied, [`${root}/n`, `${root}/n/g`]);
        assertEquals(named(dry.text), applied);
      } else {
        // both paths of each, the one --apply took among them
        assertEquals(named(dry.text), both.sort());
        for (const p of applied) assertEquals(both.includes(p), true, p);
      }
    }
  },
});
