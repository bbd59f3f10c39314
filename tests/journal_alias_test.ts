/**
 * The journal and the --errors file of a repair or chown are never inside
 * the tree, also when the path names it through a bind mount of ROOT (or
 * of a folder above it), which real paths do not tell: the folder's device
 * and inode is ROOT's.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { canMountTmpfs, mountBind, tempDir } from "./helpers/temp.ts";
import { buildTree, diffSnapshots, G, snapshot } from "./helpers/repair_tree.ts";

Deno.test({
  name:
    "a journal or --errors file in ROOT reached through a bind mount of ROOT, or of a folder above it: refused (audit)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-alias-");
    const root = `${tmp.path}/t/p`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "sub", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
      { rel: "sub/f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    const alias = `${tmp.path}/alias`, above = `${tmp.path}/above`;
    Deno.mkdirSync(alias);
    Deno.mkdirSync(above);
    for (const [src, dir] of [[root, alias], [`${tmp.path}/t`, above]]) {
      const why = await mountBind(src, dir);
      if (why) throw new Error(`mount --bind: ${why}`);
    }
    // the premise: the same folder by device and inode, by another real path
    const a = Deno.statSync(`${alias}/sub`), b = Deno.statSync(`${root}/sub`);
    assertEquals([a.dev, a.ino], [b.dev, b.ino]);
    assert(Deno.realPathSync(`${alias}/sub`) !== Deno.realPathSync(`${root}/sub`));
    const before = snapshot(root);
    const chown = ["chown", "--chown_from", "1001", "--chown_to", "1042:1042"];
    for (const j of [`${alias}/sub/j.journal`, `${above}/p/sub/j.journal`, `${alias}/j.journal`]) {
      for (const cmd of [["repair"], chown]) {
        const r = await cli([...cmd, "--apply", "--journal", j, root]);
        assertEquals(r.code, 2, r.stderr);
        assertStringIncludes(
          r.stderr,
          `the journal ${j} would be inside the tree ${root}: put it outside`,
        );
        assert(!(await Deno.lstat(j).then(() => true, () => false)), "a journal was made");
      }
      const errors = j.replace(/j\.journal$/, "e.csv");
      const r = await cli([
        "repair",
        "--apply",
        "--journal",
        `${tmp.path}/j`,
        "--errors",
        errors,
        root,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertStringIncludes(r.stderr, `--errors ${errors} would be inside the tree ${root}`);
      assert(!(await Deno.lstat(errors).then(() => true, () => false)), "an errors file was made");
    }
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    // beside the tree through the same mount: taken
    const r = await cli(["repair", "--apply", "--journal", `${above}/j.journal`, root]);
    assertEquals(r.code, 0, r.stderr);
    assert(Deno.lstatSync(`${tmp.path}/t/j.journal`).isFile);
  },
});
