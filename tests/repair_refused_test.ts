/**
 * Changes the kernel refuses under --apply, as README's warning and
 * docs/repair.md promise: an immutable (`chattr +i`) or append-only
 * (`chattr +a`) file and the entries of a read-only bind mount inside the
 * tree each give an error line, the run goes on (the other entries are
 * changed, exit 0), and undo finds their journal lines already as before.
 * Root only (chattr and mounts); the chattr part is skipped, with a line
 * saying so, where the temporary folder's file system has no such flags.
 *
 * @module
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { cli, run } from "./helpers/run.ts";
import { notHere } from "./helpers/system.ts";
import { canMountTmpfs, mountBind, tempDir } from "./helpers/temp.ts";
import { buildTree, G } from "./helpers/repair_tree.ts";

/** Owner, group and mode of each path. */
const facts = (paths: string[]) =>
  paths.map((p) => {
    const s = Deno.lstatSync(p);
    return [p, s.uid, s.gid, s.mode! & 0o7777];
  });

for (const kind of ["repair", "chown"] as const) {
  Deno.test({
    name:
      `${kind} --apply on chattr +i/+a files and a read-only bind mount: an error line each, the others changed, exit 0; undo: already as before`,
    ignore: !canMountTmpfs(),
    async fn() {
      await using tmp = await tempDir("pwalk-refused-");
      const root = `${tmp.path}/proj`;
      const own = (rel: string, dir = false) => ({
        rel,
        type: dir ? "dir" as const : "file" as const,
        uid: 1001,
        gid: 1001,
        mode: dir ? 0o700 : 0o600,
      });
      buildTree(root, [
        { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 },
        own("d", true),
        own("d/f"),
        own("d/fi"),
        own("d/fa"),
        own("ro", true),
        own("ro/g"),
      ]);
      const at = (rel: string) => `${root}/${rel}`;
      // flags the file system may not have (not tried there, said)
      const flagged: [string, string][] = [];
      for (const [rel, flag] of [["d/fi", "+i"], ["d/fa", "+a"]]) {
        const r = await run("chattr", [flag, at(rel)]).then(
          (r) => r.code === 0 ? "" : r.stderr.trim(),
          (e) => String(e),
        );
        if (r) notHere(`chattr ${flag} ${at(rel)} fails: ${r}`);
        else flagged.push([rel, flag]);
      }
      try {
        const bound = await mountBind(at("ro"), at("ro"));
        if (bound) throw new Error(`mount --bind: ${bound}`);
        const ro = await run("mount", ["-o", "remount,bind,ro", at("ro")]);
        assertEquals(ro.code, 0, ro.stderr);
        // the premise: the mount refuses writes
        assertEquals(
          await Deno.chmod(at("ro/g"), 0o600).then(() => "", (e) => e.constructor.name),
          "Error",
          "the bind mount is not read-only",
        );
        const refused = [...flagged.map(([rel]) => rel), "ro", "ro/g"];
        const changed = ["d", "d/f"];
        const all = [...refused, ...changed];
        const before = facts(all.map(at));
        const args = kind === "repair"
          ? ["repair"]
          : ["chown", "--chown_from", "1001", "--chown_to", "1042:1042"];
        const journal = `${tmp.path}/j`;
        const r = await cli([...args, "--apply", "--journal", journal, root]);
        assertEquals(r.code, 0, r.stderr);
        for (const rel of flagged.map(([rel]) => rel)) {
          assertStringIncludes(r.stderr, `pwalk: chown '${at(rel)}': Operation not permitted\n`);
        }
        for (const rel of ["ro", "ro/g"]) {
          assertStringIncludes(r.stderr, `pwalk: chown '${at(rel)}': Read-only file system\n`);
        }
        const lines = r.stderr.split("\n").filter((l) => /^pwalk: chown '/.test(l));
        assertEquals(lines.length, refused.length, r.stderr);
        assertStringIncludes(r.stderr, ` ${refused.length} errors in `);
        assertStringIncludes(r.stderr, ` ${changed.length} changed`);
        // the refused entries as they were, by lstat; the others changed, by lstat
        const after = facts(all.map(at));
        assertEquals(after.slice(0, refused.length), before.slice(0, refused.length));
        for (const rel of changed) {
          const s = Deno.lstatSync(at(rel));
          if (kind === "chown") assertEquals([s.uid, s.gid], [1042, 1042], rel);
          else assertEquals(s.gid, G.PROJECT, rel);
        }
        const f = Deno.lstatSync(at("d/f"));
        if (kind === "repair") assertEquals(f.mode! & 0o7777, 0o640);
        // the change lines on stdout name the changed entries only
        // (chown prints the path alone, as pwalk; repair "PATH: what")
        const listed = r.text.split("\n").filter(Boolean).map((l) =>
          kind === "chown" ? l : l.slice(0, l.indexOf(": "))
        );
        assertEquals(new Set(listed), new Set(changed.map(at)), r.text);
        // undo: the refused changes' lines (journalled before each change) are already as before
        const undo = `, ${changed.length} would be restored, ${refused.length} already as before, `;
        const u = await cli(["undo", journal]);
        assertEquals(u.code, 0, u.stderr);
        assertStringIncludes(u.stderr, undo);
        const ua = await cli(["undo", "--apply", journal]);
        assertEquals(ua.code, 0, ua.stderr);
        assertStringIncludes(ua.stderr, undo.replace("would be restored", "restored"));
        assertEquals(facts(all.map(at)), before);
      } finally {
        for (const [rel, flag] of flagged) {
          await run("chattr", [flag.replace("+", "-"), at(rel)]);
        }
      }
    },
  });
}
