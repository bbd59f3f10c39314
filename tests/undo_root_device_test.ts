/**
 * Undo of a run whose ROOT is the same inode under another device number:
 * its file system mounted anew (a reboot that renumbered the disks, the
 * image on another loop device, an NFS or Lustre mount made in another
 * order, another node). Every line is left alone, as for another folder,
 * but the error said only "device and inode differ" and the advice after
 * it (move the tree back, or give the header its new path) could not mend
 * it: the path is the same. It now says which number changed, and how to
 * go on; giving the journal's lines the number the device has now undoes
 * the run. (Here the journal is given another number instead, as a run
 * before the remount would have written it.)
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { closeLibc, lchown } from "./helpers/libc.ts";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test({
  name: "undo: ROOT's inode under another device number (a remount) is said so, with the way on " +
    "(audit)",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-undo-rootdev-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(root);
    Deno.writeTextFileSync(`${root}/f`, "x");
    lchown(root, 4141, 4141);
    lchown(`${root}/f`, 4141, 4141);
    const j = `${tmp.path}/j`;
    const r = await cli(
      ["--chown_from", "4141", "--chown_to", "4242:4242", "--apply", "--journal", j, root],
    );
    assertEquals(r.code, 0, r.stderr);
    const dev = String(Deno.lstatSync(root).dev);
    const then = String(Number(dev) + 1);
    const text = Deno.readTextFileSync(j);
    const lines = text.trimEnd().split("\n");
    assertEquals(lines.length, 3, text);
    // the numbers as a run on the device numbered `then` wrote them
    const renumber = (from: string, to: string) =>
      lines.map((l, i) => {
        const f = l.split(" ");
        if (i === 0) f[4] = f[4] === from ? to : f[4];
        else f[0] = f[0] === from ? to : f[0];
        return f.join(" ");
      }).join("\n") + "\n";
    Deno.writeTextFileSync(j, renumber(dev, then), { mode: 0o600 });

    const u = await cli(["undo", "--apply", j]);
    assertEquals(u.code, 1, u.stderr);
    assertStringIncludes(
      u.stderr,
      `pwalk: undo '${root}': the folder of the journal's inode, but under another device ` +
        `number (${dev} now, ${then} in the journal): its file system was mounted anew (a ` +
        "reboot, another node, another device); undo it where the run ran, or, if this is the " +
        "same file system, give the journal's lines the number it has now (the header's " +
        `ROOTDEV, and each line's DEV that is ${then}): the run's 2 entries below it left alone`,
    );
    assertEquals(Deno.lstatSync(`${root}/f`).uid, 4242, "nothing changed");

    // another folder at ROOT's path: the words as before
    Deno.renameSync(root, `${root}.moved`);
    Deno.mkdirSync(root);
    const o = await cli(["undo", "--apply", j]);
    assertEquals(o.code, 1, o.stderr);
    assertStringIncludes(
      o.stderr,
      `pwalk: undo '${root}': not the folder the journal recorded (device and inode differ)`,
    );
    Deno.removeSync(root);
    Deno.renameSync(`${root}.moved`, root);

    // the way on: the journal's lines given the number the device has now
    Deno.writeTextFileSync(j, renumber(then, dev), { mode: 0o600 });
    const ok = await cli(["undo", "--apply", j]);
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(Deno.lstatSync(`${root}/f`).uid, 4141);
    assertEquals(Deno.lstatSync(root).uid, 4141);
    closeLibc();
  },
});
