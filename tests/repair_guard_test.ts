/**
 * Folders a repair or chown never changes, even where a mount inside ROOT
 * shows them there (review of mount topology): the folders above ROOT (a
 * bind mount of ROOT's parent inside it would otherwise open the parent
 * and ROOT's siblings to the project's group), and the folders of the
 * journal and of the --errors file (a root-owned state folder shown inside
 * the project would become group-writable). Each is told as a `loop`
 * notice, neither changed nor entered. The reference is Deno.lstat.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { CLI, cli, cliInMountNamespace, run } from "./helpers/run.ts";
import { testNeeding, UNSHARE } from "./helpers/system.ts";
import { canMountTmpfs, mountBind, mountOverlay, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";
import { groupShown } from "./helpers/names.ts";

/** uid, gid and permission bits of a path, by lstat. */
const ugm = (p: string) => {
  const s = Deno.lstatSync(p);
  return [s.uid, s.gid, s.mode! & 0o7777];
};

Deno.test({
  name:
    "repair and chown with a bind mount of ROOT's parent, or of the journal's or errors file's folder, inside ROOT: those folders neither changed nor entered, a loop notice each (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-guard-");
    const par = `${tmp.path}/par`, root = `${par}/root`, state = `${tmp.path}/state`;
    buildTree(par, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      { rel: "other", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
      { rel: "other/secret", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
      { rel: "root", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "root/d", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
      { rel: "root/d/f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
      { rel: "root/up", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "root/jview", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
      { rel: "root/eview", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    ]);
    buildTree(state, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      // root's (a journal's folder is the runner's or root's alone), in
      // root's group: repair would give it the project's group, g+rx, setgid
      { rel: "j", type: "dir", uid: 0, gid: 0, mode: 0o700 },
      { rel: "e", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
    ]);
    for (
      const [src, dst] of [[par, `${root}/up`], [`${state}/j`, `${root}/jview`], [
        `${state}/e`,
        `${root}/eview`,
      ]]
    ) {
      const why = await mountBind(src, dst);
      if (why) throw new Error(`mount --bind: ${why}`);
    }
    // the premise: ROOT/up is ROOT's parent, by device and inode
    const a = Deno.lstatSync(par), b = Deno.lstatSync(`${root}/up`);
    assertEquals([a.dev, a.ino], [b.dev, b.ino]);
    const kept = [par, `${par}/other`, `${par}/other/secret`, `${state}/j`, `${state}/e`];
    const before = kept.map(ugm);
    const journal = `${state}/j/journal`, errors = `${state}/e/errors.csv`;
    const notices = [`${root}/up`, `${root}/jview`, `${root}/eview`];
    for (
      const args of [
        ["repair", "--force-group-writable"],
        ["--chown_from", "1001", "--chown_to", "1002:1002"],
      ]
    ) {
      for (const apply of [[], ["--apply"]]) {
        const r = await cli([...args, ...apply, "--journal", journal, "--errors", errors, root]);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(kept.map(ugm), before, `${args[0]} ${apply}: ${r.text}`);
        for (const p of notices) {
          assertStringIncludes(
            r.stderr,
            `pwalk: loop '${p}': a folder above ROOT, or the journal's or errors file's, shown ` +
              "here by a mount inside the tree: not changed, not entered\n",
            `${args[0]} ${apply}`,
          );
          assert(!r.text.split("\n").some((l) => l.includes(`${p}/`)), `entered ${p}: ${r.text}`);
        }
        const rows = Deno.readTextFileSync(errors).split("\n").filter((l) => l.includes(",loop,"));
        assertEquals(rows.length, 3, Deno.readTextFileSync(errors));
      }
    }
    // the tree itself was repaired, then chowned
    assertEquals(ugm(`${root}/d/f`), [1002, 1002, 0o660]);
  },
});

Deno.test({
  name:
    "repair with a folder of the tree bind-mounted below itself: the loop is told and left, the folder changed only where it is, under its own parent's group (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-guard-");
    const root = `${tmp.path}/tree`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2775 },
      { rel: "proj", type: "dir", uid: 1001, gid: 1001, mode: 0o755 },
      // a shared folder of another group below it
      { rel: "proj/sub", type: "dir", uid: 1001, gid: 6000, mode: 0o2775 },
      { rel: "proj/sub/loop", type: "dir", uid: 1001, gid: 6000, mode: 0o2775 },
    ]);
    const why = await mountBind(`${root}/proj`, `${root}/proj/sub/loop`);
    if (why) throw new Error(`mount --bind: ${why}`);
    const loop = `${root}/proj/sub/loop`;
    const dry = await cli(["repair", root]);
    assertEquals(dry.code, 0, dry.stderr);
    assertStringIncludes(dry.stderr, `pwalk: loop '${loop}': Too many levels of symbolic links\n`);
    // planned where it is (group 1001 -> the project's), never at the loop
    // (there it would take sub's group 6000)
    const lines = dry.text.split("\n").filter(Boolean);
    const was = `would change: ${root}/proj: group ${groupShown(1001)} -> `;
    assert(lines.some((l) => l.startsWith(was)), dry.text);
    assert(!lines.some((l) => l.includes(`${loop}:`) || l.includes(`${loop}/`)), dry.text);
    for (let i = 0; i < 3; i++) {
      const r = await cli(["repair", "--apply", "--journal", `${tmp.path}/j${i}`, root]);
      assertEquals(r.code, 0, r.stderr);
      // told and not entered with --apply too, though the change of proj
      // (before its loop is met) gave it another change time
      assertStringIncludes(r.stderr, `pwalk: loop '${loop}': Too many levels of symbolic links\n`);
      assert(!r.text.includes(`${loop}:`) && !r.text.includes(`${loop}/`), r.text);
      assertEquals(Deno.lstatSync(`${root}/proj`).gid, G.PROJECT, r.text);
      Deno.chownSync(`${root}/proj`, 1001, 1001);
      Deno.chmodSync(`${root}/proj`, 0o755);
    }
  },
});

Deno.test({
  name:
    "-x on an overlayfs whose layers are other file systems: its files (their layer's device) are listed and repaired as without -x, as find -xdev lists them (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-guard-");
    const [lfs, ufs, mnt] = ["lfs", "ufs", "mnt"].map((d) => `${tmp.path}/${d}`);
    for (const d of [lfs, ufs, mnt]) {
      Deno.mkdirSync(d);
      if (d !== mnt) assertEquals(await mountTmpfs(d, "size=4m"), "");
    }
    buildTree(`${lfs}/l`, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      { rel: "proj", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2775 },
      { rel: "proj/d", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
      { rel: "proj/d/f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
      { rel: "proj/g", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    for (const d of ["u", "w"]) Deno.mkdirSync(`${ufs}/${d}`);
    assertEquals(
      await mountOverlay(`${lfs}/l`, `${ufs}/u`, `${ufs}/w`, mnt, "xino=off"),
      "",
    );
    const root = `${mnt}/proj`;
    // the premise: a file reports another device than its folder
    assert(Deno.lstatSync(`${root}/g`).dev !== Deno.lstatSync(root).dev, "same device");
    const rows = async (args: string[]) => {
      const r = await cli([...args, root]);
      assertEquals(r.code, 0, r.stderr);
      return r.text.split("\n").filter(Boolean).map((l) => l.replace(/,\d+,\d+,\d+,\d+$/, ""))
        .sort();
    };
    // report: the same rows (atime aside) with -x as without
    const cut = (t: string[]) => t.map((l) => l.split(",").slice(0, 12).join(","));
    assertEquals(cut(await rows(["-x"])), cut(await rows([])));
    assertEquals((await rows(["-x"])).length, 4);
    const { walk } = await import("../mod.ts");
    const seen = async (oneFileSystem: boolean) => {
      const out: string[] = [];
      for await (const e of walk(root, { oneFileSystem })) out.push(e.path);
      return out.sort();
    };
    assertEquals(await seen(true), await seen(false));
    // repair: the same plan with -x as without
    assertEquals(await rows(["repair", "-x"]), await rows(["repair"]));
    assertStringIncludes(
      (await rows(["repair", "-x"])).join("\n"),
      `${root}/g: group ${groupShown(1001)} -> `,
    );
  },
});

testNeeding([UNSHARE], {
  name:
    "repair --apply without /proc: the journal's folder shown inside ROOT by a mount is still guarded (told by its path); an errors file written into the tree through stderr leaves its folder repaired (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-guard-");
    const root = `${tmp.path}/root`, state = `${tmp.path}/state`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: 0, gid: G.PROJECT, mode: 0o2775 },
      { rel: "jview", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2775 },
      { rel: "logs", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
      { rel: "logs/old.log", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    ]);
    buildTree(state, [
      { rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 },
      // root's (a journal's folder is the runner's or root's alone), in
      // root's group: repair would give it the project's group, g+rx, setgid
      { rel: "j", type: "dir", uid: 0, gid: 0, mode: 0o700 },
    ]);
    assertEquals(await mountBind(`${state}/j`, `${root}/jview`), "");
    // --errors /dev/stderr, stderr a file in the tree: that folder is in the
    // tree by its own path, repaired (the file itself left out), no notice
    const e = await run("sh", [
      "-c",
      'exec "$0" run -A "$@" 2> "$ERR"',
      Deno.execPath(),
      CLI,
      "repair",
      "--apply",
      "--journal",
      `${state}/j/first`,
      "--errors",
      "/dev/stderr",
      root,
    ], { env: { ERR: `${root}/logs/err.log` } });
    const err = Deno.readTextFileSync(`${root}/logs/err.log`);
    assertEquals(e.code, 0, err);
    assert(!err.includes(`'${root}/logs'`), err);
    assertEquals(Deno.lstatSync(`${root}/logs`).gid, G.PROJECT, e.text);
    assertEquals(Deno.lstatSync(`${root}/logs/old.log`).gid, G.PROJECT, e.text);
    const before = Deno.lstatSync(`${state}/j`);
    assertEquals([before.uid, before.gid], [0, 0], "guarded by its descriptor too");
    const journal = `${state}/j/journal`;
    const r = await cliInMountNamespace("umount -l /proc", [
      "repair",
      "--apply",
      "--journal",
      journal,
      root,
    ]);
    assertEquals(r.code, 0, r.stderr);
    // the journal's folder: no /proc to tell the descriptor's path, told by the path
    const st = Deno.lstatSync(`${state}/j`);
    assertEquals([st.uid, st.gid, st.mode! & 0o7777], [0, 0, 0o700], r.stderr);
    assertStringIncludes(r.stderr, `loop '${root}/jview': a folder above ROOT`);
  },
});
