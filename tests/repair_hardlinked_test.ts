/**
 * ChangeSummary.hardLinked counts changed entries of any type but a folder
 * that have other names, as its documentation says: a FIFO under repair,
 * a symbolic link under chown, beside regular files (audit 8, finding 6:
 * it said "regular files"). The reference: Deno.lstat before and after,
 * the inodes with st_nlink above 1 whose owner or group changed.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { chown, repair } from "../mod.ts";
import { tempDir } from "./helpers/temp.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";
import { ctimesPast } from "./helpers/wait.ts";

/** Every entry below root (root left out), by path: its lstat. */
function lstats(root: string): Map<string, Deno.FileInfo> {
  const out = new Map<string, Deno.FileInfo>();
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      const s = Deno.lstatSync(p);
      out.set(p, s);
      if (s.isDirectory) walk(p);
    }
  };
  walk(root);
  return out;
}

/** Inodes of non-folders with other names whose owner or group changed between a and b. */
function linkedChanged(a: Map<string, Deno.FileInfo>, b: Map<string, Deno.FileInfo>): number {
  const inodes = new Set<number>();
  for (const [p, s] of a) {
    const t = b.get(p)!;
    if (!s.isDirectory && s.nlink! > 1 && (s.uid !== t.uid || s.gid !== t.gid)) inodes.add(s.ino!);
  }
  return inodes.size;
}

const sh = (cmd: string, args: string[]) =>
  assert(new Deno.Command(cmd, { args }).outputSync().success, `${cmd} ${args.join(" ")}`);

Deno.test("hardLinked counts a hard-linked FIFO (repair) and a hard-linked symbolic link (chown), as documented", async () => {
  await using tmp = await tempDir("pwalk-hardlinked-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
    { rel: "d", type: "dir", uid: 1001, gid: G.PROJECT, mode: 0o2770 },
    { rel: "d/f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
  ]);
  sh("mkfifo", ["-m", "600", `${root}/d/p`]);
  sh("chown", ["1001:1001", `${root}/d/p`]);
  Deno.symlinkSync("f", `${root}/d/l`);
  sh("chown", ["-h", "1001:1001", `${root}/d/l`]);
  for (const n of ["f", "p", "l"]) Deno.linkSync(`${root}/d/${n}`, `${root}/d/${n}2`);
  const before = lstats(root);
  // the premise: a FIFO and a symbolic link with two names each
  assert(before.get(`${root}/d/p`)!.nlink === 2 && !before.get(`${root}/d/p`)!.isFile);
  assert(before.get(`${root}/d/l`)!.isSymlink && before.get(`${root}/d/l`)!.nlink === 2);
  await ctimesPast(...before.keys()); // names settled before the run (rule 9)
  const r = await repair(root, { apply: true, journal: false });
  const afterRepair = lstats(root);
  const byRepair = linkedChanged(before, afterRepair);
  // the FIFO and the file (repair leaves symbolic links alone)
  assertEquals(byRepair, 2);
  assertEquals(r.hardLinked, byRepair, JSON.stringify(r.errorDetails));
  const c = await chown(root, {
    apply: true,
    journal: false,
    from: 1001,
    to: { uid: 1042, gid: 1042 },
  });
  const byChown = linkedChanged(afterRepair, lstats(root));
  // the file, the FIFO and the symbolic link
  assertEquals(byChown, 3);
  assertEquals(c.hardLinked, byChown, JSON.stringify(c.errorDetails));
});
