/**
 * The --errors file and the journal of a repair or chown, named through a
 * bind mount of a folder of the tree mounted elsewhere (`mount --bind
 * ROOT/u /alias`): refused, one line, exit 2, nothing written. Neither real
 * paths nor the device and inode of the folders above `/alias` tell that it
 * is inside ROOT; the mount table does (it shows ROOT's folder `u`). The
 * folder's user planted a link at the name, to a file outside the tree:
 * root wrote the errors CSV through it (audit 8, finding 1).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { cli } from "./helpers/run.ts";
import { canMountTmpfs, mountBind, tempDir } from "./helpers/temp.ts";
import { buildTree, diffSnapshots, G, snapshot } from "./helpers/repair_tree.ts";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test({
  name:
    "--errors FILE or a journal in a folder of ROOT bind-mounted elsewhere: refused, the link a user planted there not written through (audit)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-errmount-");
    const root = `${tmp.path}/t/p`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "u", type: "dir", uid: 65534, gid: 65534, mode: 0o755 },
      { rel: "u/f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    const victim = `${tmp.path}/victim`;
    Deno.writeTextFileSync(victim, "VICTIM\n");
    // the folder's owner (65534) makes the name a link to the victim
    Deno.symlinkSync(victim, `${root}/u/e.csv`);
    const ch = new Deno.Command("chown", { args: ["-h", "65534:65534", `${root}/u/e.csv`] });
    assert(ch.outputSync().success, "chown -h");
    const alias = `${tmp.path}/alias`;
    Deno.mkdirSync(alias);
    const why = await mountBind(`${root}/u`, alias);
    if (why) throw new Error(`mount --bind: ${why}`);
    // the premise: /alias is ROOT/u by device and inode, but no real path
    // nor any folder above it is ROOT or below it
    const a = Deno.statSync(alias), b = Deno.statSync(`${root}/u`), r = Deno.statSync(root);
    assertEquals([a.dev, a.ino], [b.dev, b.ino]);
    assertEquals(Deno.realPathSync(alias), alias);
    for (let p = alias; p !== "/"; p = p.slice(0, p.lastIndexOf("/")) || "/") {
      const s = Deno.statSync(p);
      assert(s.dev !== r.dev || s.ino !== r.ino, p);
    }
    const victimBefore = Deno.lstatSync(victim);
    const before = snapshot(root);
    const chown = ["chown", "--chown_from", "1001", "--chown_to", "1042:1042"];
    for (const cmd of [["repair"], chown]) {
      for (const apply of [[], ["--apply", "--journal", `${tmp.path}/j-${cmd[0]}`]]) {
        const errors = `${alias}/e.csv`;
        const r = await cli([...cmd, ...apply, "--errors", errors, root]);
        assertEquals(r.code, 2, r.stderr);
        assertEquals(
          r.stderr.trim(),
          `pwalk: --errors ${errors} would be inside the tree ${root}: put it outside ` +
            "(a link there would be written through)",
        );
        assertEquals(r.text, "");
        assertEquals(Deno.readTextFileSync(victim), "VICTIM\n");
        const v = Deno.lstatSync(victim);
        assertEquals([v.ino, v.mtime?.getTime()], [
          victimBefore.ino,
          victimBefore.mtime?.getTime(),
        ]);
        assert(!(await exists(`${tmp.path}/j-${cmd[0]}`)), "a journal was made");
      }
      // the journal there, too (a new file: no link written through, but
      // never inside the tree)
      const j = `${alias}/j.journal`;
      const rj = await cli([...cmd, "--apply", "--journal", j, root]);
      assertEquals(rj.code, 2, rj.stderr);
      assertStringIncludes(rj.stderr, `the journal ${j} would be inside the tree ${root}: put it`);
      assert(!(await exists(j)), "a journal was made");
    }
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    // a file beside the tree is taken, as before
    const e = `${tmp.path}/e.csv`;
    const ok = await cli(["repair", "--errors", e, root]);
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(Deno.readTextFileSync(e), "path,operation,errno,message\n");
  },
});
