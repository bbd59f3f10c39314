/**
 * Undo of a journal whose run's ROOT cannot be reached any more (renamed,
 * and a symbolic link put at its path; or another folder there): that
 * run's lines are all left alone, an error naming ROOT, the journal's other
 * runs are undone, and the CLI exits 1 with a line that says what to do (a
 * script must see a whole run not undone, which per-entry errors, status 0,
 * would hide). Giving the header the tree's new path undoes it: the device
 * and inode check still holds it to the same folder.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { native } from "../lib/ffi.ts";
import { undo } from "../mod.ts";
import { closeFd, closeLibc, lchown } from "./helpers/libc.ts";
import { cli } from "./helpers/run.ts";
import { tempDir } from "./helpers/temp.ts";

/** A folder of user 1042 holding a file of its. */
function tree(root: string): void {
  Deno.mkdirSync(root, { recursive: true });
  Deno.writeTextFileSync(`${root}/f`, "x");
  lchown(root, 1042, 1042);
  lchown(`${root}/f`, 1042, 1042);
}

function owner(p: string): number {
  return Deno.lstatSync(p).uid!;
}

Deno.test("undo: a run whose ROOT cannot be reached any more is left alone, status 1 with what to do; the other runs are undone; the header given the new path undoes it (audit)", async () => {
  await using tmp = await tempDir("pwalk-undoroot-");
  const a = `${tmp.path}/a`, b = `${tmp.path}/b`, j = `${tmp.path}/j`;
  tree(a);
  tree(b);
  for (const root of [a, b]) {
    const r = await cli(
      ["--chown_from", "1042", "--chown_to", "2000:2000", "--apply", "--journal", j, root],
    );
    assertEquals(r.code, 0, r.stderr);
  }
  // a moved away, a symbolic link to it put at its path
  Deno.renameSync(a, `${tmp.path}/moved`);
  Deno.symlinkSync(`${tmp.path}/moved`, a);

  const dry = await cli(["undo", j]);
  assertEquals(dry.code, 1, dry.stderr);
  const api = await undo(j);
  assertEquals([api.runsLeft, api.errors, api.restored], [1, 2, 2]);
  assertEquals(api.errorDetails[0].op, "root");

  const r = await cli(["undo", "--apply", j]);
  assertEquals(r.code, 1, r.stderr);
  assertStringIncludes(
    r.stderr,
    `pwalk: undo '${a}': a symbolic link (or a non-folder) is on the way now: the run's 2 entries below it left alone`,
  );
  assertStringIncludes(
    r.stderr,
    "pwalk undo: 1 run of the journal left alone, ROOT not reached (see above): put the tree " +
      "back at the path its header records (or give the header its new path), then undo the " +
      "journal again",
  );
  // b undone; the moved tree not
  assertEquals([owner(b), owner(`${b}/f`)], [1042, 1042]);
  assertEquals([owner(`${tmp.path}/moved`), owner(`${tmp.path}/moved/f`)], [2000, 2000]);

  // the header given the tree's new path: undone, status 0
  const text = Deno.readTextFileSync(j).replaceAll(` ${a}\n`, ` ${tmp.path}/moved\n`);
  Deno.writeTextFileSync(j, text, { mode: 0o600 });
  const again = await cli(["undo", "--apply", j]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals([owner(`${tmp.path}/moved`), owner(`${tmp.path}/moved/f`)], [1042, 1042]);
  closeLibc();
});

Deno.test("pw_restore: a rel with a trailing slash is refused (EINVAL) whatever its depth, as the component loop refuses it; not the folder it names (open_way_beneath's stretch took it whole)", () => {
  const tmp = Deno.makeTempDirSync({ prefix: "pwalk-relslash-" });
  try {
    Deno.mkdirSync(`${tmp}/a/b/c`, { recursive: true });
    const sym = native();
    const enc = new TextEncoder();
    const rs = Deno.statSync(tmp);
    const root = enc.encode(tmp);
    const rootFd = sym.pw_restore_root(root, BigInt(root.length), BigInt(rs.dev), BigInt(rs.ino!));
    assert(rootFd >= 0, `pw_restore_root: ${rootFd}`);
    try {
      const restore = (rel: string) => {
        const clean = rel.replace(/\/$/, "");
        const st = Deno.lstatSync(`${tmp}/${clean}`); // the reference: what it names
        const v = new BigInt64Array(32);
        v[0] = BigInt(st.dev);
        v[1] = BigInt(st.ino!);
        v[2] = BigInt(st.mode! & 0o170000);
        v[3] = v[6] = BigInt(st.uid!);
        v[4] = v[7] = BigInt(st.gid!);
        v[5] = v[8] = BigInt(st.mode! & 0o7777);
        const r = enc.encode(rel);
        return sym.pw_restore(rootFd, r, BigInt(r.length), v, 0);
      };
      // each names a folder that is there: the rel without its slash is taken
      assertEquals([restore("a"), restore("a/b"), restore("a/b/c")], [0, 0, 0]);
      // with it, refused, one component or three
      const EINVAL = -22;
      assertEquals([restore("a/"), restore("a/b/"), restore("a/b/c/")], [EINVAL, EINVAL, EINVAL]);
    } finally {
      closeFd(rootFd);
    }
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
