/**
 * Changes the kernel refuses under --apply, as README's warning and
 * docs/repair.md promise: an immutable (`chattr +i`) or append-only
 * (`chattr +a`) file and the entries of a read-only bind mount inside the
 * tree each give an error line, the run goes on (the other entries are
 * changed, exit 0), the journal marks their lines as refused (a line
 * after each, NEW as OLD), and undo leaves them alone: also an entry whose
 * owner has since given it, by hand, the very values the run was refused.
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
import { readJournal } from "../mod.ts";

/** Owner, group and mode of each path. */
const facts = (paths: string[]) =>
  paths.map((p) => {
    const s = Deno.lstatSync(p);
    return [p, s.uid, s.gid, s.mode! & 0o7777];
  });

for (const kind of ["repair", "chown"] as const) {
  Deno.test({
    name:
      `${kind} --apply on chattr +i/+a files and a read-only bind mount: an error line each, the others changed, exit 0; undo leaves the refused alone, also when set by hand to what the run was refused`,
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
        // the journal: a line for each change (written before it is
        // tried), and after each refused one a line of NEW as OLD
        const jl = Deno.readTextFileSync(journal).split("\n").filter((l) => /^\d/.test(l));
        const marks = jl.filter((l) => {
          const f = l.split(" ");
          return f.slice(3, 6).join(" ") === f.slice(6, 9).join(" ");
        });
        assertEquals(jl.length, all.length + refused.length, jl.join("\n"));
        assertEquals(marks.map((l) => l.split(" ").at(-1)).sort(), refused.toSorted());
        // readJournal: the changes made, the refused ones counted apart
        const read = await readJournal(journal);
        const dec = new TextDecoder();
        assertEquals(read.entries.map((e) => dec.decode(e.line.rel)).sort(), changed.toSorted());
        assertEquals(read.notMade, refused.length);
        // the refused entries' owner gives one, by hand, what the run
        // planned for it: that is hers, not the run's, and undo keeps it
        const byHand = flagged.length ? flagged[0][0] : "";
        const handValues = kind === "repair" ? [1001, G.PROJECT, 0o640] : [1042, 1042, 0o600];
        if (byHand) {
          await run("chattr", [flagged[0][1].replace("+", "-"), at(byHand)]);
          Deno.chownSync(at(byHand), handValues[0], handValues[1]);
          Deno.chmodSync(at(byHand), handValues[2]);
        }
        // undo: the refused changes are none of the run's: left alone
        const undo = `, ${changed.length} would be restored, 0 already as before, 0 with fields ` +
          `kept, ${refused.length} refused at the run (never made), 0 errors`;
        const u = await cli(["undo", journal]);
        assertEquals(u.code, 0, u.stderr);
        assertStringIncludes(u.stderr, undo);
        const ua = await cli(["undo", "--apply", journal]);
        assertEquals(ua.code, 0, ua.stderr);
        assertStringIncludes(ua.stderr, undo.replace("would be restored", "restored"));
        const expected = before.map((b) => b[0] === at(byHand) ? [b[0], ...handValues] : b);
        assertEquals(facts(all.map(at)), expected);
      } finally {
        for (const [rel, flag] of flagged) {
          await run("chattr", [flag.replace("+", "-"), at(rel)]);
        }
      }
    },
  });
}
