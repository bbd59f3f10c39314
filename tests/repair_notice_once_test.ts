/**
 * repair's `setid` and `device` notices are told once per file, at one of
 * its names, however many hard links it has in the tree (docs/repair.md,
 * rule 7), dry run and --apply alike, and counted once in the summary's
 * errors.  An audit found a setuid file of the project's group (its group
 * stays: rule 9 does not count its names) told at each of its 3 names
 * under --force-group-writable, and a device node at each of its 2: 5
 * notices, and "5 errors", for 2 files.
 *
 * Reference: the tree made here; `a/tool`, `b/tool`, `c/tool` (one inode:
 * root's setuid program, 4755, of the project's group) keep their mode and
 * group, and `a/null`, `b/null` (one character device, 1:3, of its owner's
 * private group) are left alone: no change, one notice each.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { repair } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";
import { buildTree } from "./helpers/repair_tree.ts";
import { cli } from "./helpers/run.ts";

/** The project's group and its members' user (numbers only: the tests run as root). */
const PROJECT = 61001, USER = 61002;

type Summary = { errors: number; errorDetails: { op: string; path: string }[] };

const sh = (cmd: string, args: string[]) =>
  assert(new Deno.Command(cmd, { args }).outputSync().success, `${cmd} ${args.join(" ")}`);

Deno.test({
  name: "repair: a hard-linked setuid file's setid notice and a hard-linked device's device " +
    "notice are told once per file, dry run and --apply alike, counted once (audit)",
  ignore: Deno.uid() !== 0, // mknod, chown
  async fn() {
    await using tmp = await tempDir("pwalk-notice-once-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [
      { rel: ".", type: "dir", uid: USER, gid: PROJECT, mode: 0o2770 },
      ...["a", "b", "c"].map((rel) => ({
        rel,
        type: "dir" as const,
        uid: USER,
        gid: PROJECT,
        mode: 0o2770,
      })),
      { rel: "a/tool", type: "file", uid: 0, gid: PROJECT, mode: 0o4755 },
    ]);
    Deno.linkSync(`${root}/a/tool`, `${root}/b/tool`);
    Deno.linkSync(`${root}/a/tool`, `${root}/c/tool`);
    sh("mknod", ["-m", "600", `${root}/a/null`, "c", "1", "3"]);
    sh("chown", [`${USER}:${USER}`, `${root}/a/null`]);
    Deno.linkSync(`${root}/a/null`, `${root}/b/null`);
    const tools = ["a", "b", "c"].map((d) => `${root}/${d}/tool`);
    const nulls = ["a", "b"].map((d) => `${root}/${d}/null`);
    // the premise: one inode each, setuid kept (its group stays), the device's group private
    const tool = Deno.lstatSync(tools[0]), dev = Deno.lstatSync(nulls[0]);
    assertEquals([tool.nlink, tool.mode! & 0o7777, tool.gid], [3, 0o4755, PROJECT]);
    assert(dev.isCharDevice && dev.nlink === 2 && dev.gid === USER);

    const runs: [string, Summary][] = [
      ["dry run", await repair(root, { forceGroupWritable: true, journal: false })],
      ["--apply", await repair(root, { apply: true, forceGroupWritable: true, journal: false })],
    ];
    const told: string[][] = [];
    for (const [what, s] of runs) {
      const why = `${what}: ${JSON.stringify(s.errorDetails)}`;
      const setid = s.errorDetails.filter((e) => e.op === "setid");
      const device = s.errorDetails.filter((e) => e.op === "device");
      assertEquals(setid.length, 1, why);
      assertEquals(device.length, 1, why);
      // at one of the file's names (whichever the walk reached first)
      assert(tools.includes(setid[0].path), why);
      assert(nulls.includes(device[0].path), why);
      // nothing else told: the summary counts the two notices, once each
      assertEquals(s.errorDetails.length, 2, why);
      assertEquals(s.errors, 2, why);
      told.push(s.errorDetails.map((e) => e.op).sort());
    }
    // the dry run tells what --apply tells
    assertEquals(told[0], told[1]);
    // left as they were
    assertEquals(Deno.lstatSync(tools[2]).mode! & 0o7777, 0o4755);
    assertEquals(Deno.lstatSync(nulls[1]).gid, USER);

    // the command's summary line says 2 errors, not 5
    const r = await cli(["repair", "--force-group-writable", root]);
    assertEquals(r.code, 0, r.stderr); // (notices: the run went through)
    assertMatch(r.stderr, /, 2 errors in /);
  },
});
