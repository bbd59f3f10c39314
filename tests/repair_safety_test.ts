/**
 * repair, chown and undo against the findings of a security and fault
 * audit (root changes trees other people own). Each test failed on the code
 * before its fix:
 *
 * - undo never puts a setuid/setgid bit back on an entry whose owner or
 *   group is not the run's any more (a file given to root since would have
 *   become setuid root);
 * - the journal is never inside the tree (HOME unset, cwd in the tree),
 *   never written through a link, a new 0600 file unless named, appended to
 *   only when it is a journal of the running user nobody else may write; the
 *   engine leaves its inode out; undo trusts only such a journal (an
 *   attacker's appended line is never read), keeps every path below the
 *   recorded ROOT, and checks that ROOT's device and inode;
 * - a journal torn by a full disk (a real full tmpfs): the writer cuts the
 *   torn line back, undo applies every complete line, reports a torn last
 *   line as one error, and still refuses a bad line in the middle;
 * - undo is a dry run unless --apply (any order); the API writes a default
 *   journal when applying (`journal: false` opts out);
 * - system folders (`/usr`, `/etc`, a link to them...) are refused without
 *   --allow-system;
 * - every dry-run line says so; group names beside the numbers (checked
 *   against getent); a file with other hard links is flagged and counted;
 * - each applied run leaves one line in the system log (read from a socket
 *   the test listens on, named by PWALK_SYSLOG_SOCKET).
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { chown, readJournal, RefusedError, repair, undo } from "../mod.ts";
import { SHARED_TOPS, SYSTEM_FOLDERS } from "../lib/repair.ts";
import { closeLibc, mkfifo } from "./helpers/libc.ts";
import {
  apiInChild,
  CLI,
  cli,
  cliInMountNamespace,
  helperScript,
  REPO,
  run,
  runOk,
  UNPRIVILEGED,
} from "./helpers/run.ts";
import {
  notHere,
  PRLIMIT,
  procStat,
  PYTHON3,
  SETPRIV,
  STRACE,
  testNeeding,
} from "./helpers/system.ts";
import { canMountTmpfs, fillUp, mountBind, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";
import { groupShown } from "./helpers/names.ts";
import { ctimesPast, waitFor } from "./helpers/wait.ts";
import {
  at,
  buildTree,
  diffSnapshots,
  type EntrySpec,
  expectRepair,
  G,
  snapshot,
} from "./helpers/repair_tree.ts";

const dec = new TextDecoder();

/** stdout lines of a run. */
function lines(b: Uint8Array): string[] {
  return dec.decode(b).split("\n").filter((l) => l !== "");
}

/** stderr as lines. */
function errLines(s: string): string[] {
  return s.split("\n").filter((l) => l !== "");
}

/** A private entry of user 1001 (group 1001, no group bits): one that repair changes. */
function own(rel: string, type: "file" | "dir" = "file"): EntrySpec {
  return { rel, type, uid: 1001, gid: 1001, mode: type === "dir" ? 0o700 : 0o600 };
}

/** The project root entry: owned 100, the shared group, setgid. */
const PROJECT: EntrySpec = { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 };

/** owner:group:mode of a path (lstat). */
function ugm(path: string): string {
  const s = Deno.lstatSync(path);
  return `${s.uid}:${s.gid}:${(s.mode! & 0o7777).toString(8).padStart(4, "0")}`;
}

/** Every name below root ending in .journal. */
function journalsIn(root: string): string[] {
  return [...snapshot(root).keys()].filter((r) => r.endsWith(".journal"));
}

/** The environment of a CLI run with a private state folder (no default journal in HOME). */
function stateEnv(dir: string): Record<string, string> {
  return { XDG_STATE_HOME: `${dir}/state` };
}

// ---------------------------------------------------------------------------
// 6. setuid/setgid.

Deno.test("undo never puts setuid/setgid back on an entry someone else owns now", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    { rel: "tool", type: "file", uid: 1042, gid: 1042, mode: 0o4755 },
    { rel: "sgid", type: "file", uid: 1042, gid: 1042, mode: 0o2755 },
    { rel: "mine", type: "file", uid: 1043, gid: 1043, mode: 0o4755 },
  ]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  // Repair gave them the project group and took setuid/setgid off, as chgrp does.
  for (const f of ["tool", "sgid", "mine"]) assertEquals(ugm(at(root, f)).slice(-5), ":0755", f);
  // Since the run, someone gave "tool" to root and "sgid" to group 0.
  Deno.chownSync(at(root, "tool"), 0, 0);
  Deno.chownSync(at(root, "sgid"), 1042, 0);

  const plan = await undo(journal);
  assertEquals(plan.applied, false);
  assertEquals([plan.restored, plan.kept, plan.setidKept], [1, 2, 2]);
  assertEquals(ugm(at(root, "tool")), "0:0:0755", "a dry run changed it");

  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assertEquals(ugm(at(root, "tool")), "0:0:0755", "undo made a setuid-root file");
  assertEquals(ugm(at(root, "sgid")), "1042:0:0755", "undo made a setgid-root file");
  // The one still owned as the run left it goes back whole, setuid included.
  assertEquals(ugm(at(root, "mine")), "1043:1043:4755");
  assertEquals(diffSnapshots(before, snapshot(root), ["type", "ino"]), []);
  const out = lines(un.stdout);
  assertEquals(
    out.find((l) => l.startsWith(`${root}/tool: `)),
    `${root}/tool: left as it is (owner and group changed since: kept; mode kept: setuid/setgid ` +
      "never go back on an entry someone else owns now)",
  );
  // only its group changed: said so (audit)
  assertEquals(
    out.find((l) => l.startsWith(`${root}/sgid: `)),
    `${root}/sgid: left as it is (group changed since: kept; mode kept: setuid/setgid never ` +
      "go back on an entry someone else owns now)",
  );
  assertStringIncludes(un.stderr, "2 with fields kept (2 of them: setuid/setgid not put back)");
  closeLibc();
});

Deno.test("undo: a setuid/setgid bit taken off since the run never goes back, the rest of the mode does, the line shows the mode found (review)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    // a root helper of the project (setuid root, group execute only)
    { rel: "helper", type: "file", uid: 0, gid: G.PROJECT, mode: 0o4710 },
    // a member's folder: given the group and setgid
    { rel: "d", type: "dir", uid: 1001, gid: 1001, mode: 0o2700 },
    // ... and one without setgid before the run
    { rel: "e", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
  ]);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  assertEquals(ugm(at(root, "helper")), `0:${G.PROJECT}:4750`);
  assertEquals(ugm(at(root, "d")), `1001:${G.PROJECT}:2750`);
  assertEquals(ugm(at(root, "e")), `1001:${G.PROJECT}:2750`);
  // since the run: an admin disarms the helper, the members drop setgid
  Deno.chmodSync(at(root, "helper"), 0o750);
  Deno.chmodSync(at(root, "d"), 0o750);
  Deno.chmodSync(at(root, "e"), 0o750);
  const note = "(setuid/setgid off since the run's change (a chmod, chown or write since, " +
    "or the kernel at that change): not put back)";
  const want = [
    `${root}/helper: mode 0750 -> 0710 ${note}`,
    `${root}/d: group ${groupShown(G.PROJECT)} -> ${groupShown(1001)}, mode 0750 -> 0700 ${note}`,
    // (no setgid to put back: the mode found all the same)
    `${root}/e: group ${groupShown(G.PROJECT)} -> ${groupShown(1001)}, mode 0750 -> 0700`,
  ];
  const dry = await cli(["undo", journal]);
  assertEquals(dry.code, 0, dry.stderr);
  assertEquals(lines(dry.stdout).sort(), want.map((l) => `would restore: ${l}`).sort());
  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assertEquals(lines(un.stdout).sort(), [...want].sort());
  assertEquals(ugm(at(root, "helper")), `0:${G.PROJECT}:0710`, "undo armed the helper again");
  assertEquals(ugm(at(root, "d")), "1001:1001:0700");
  assertEquals(ugm(at(root, "e")), "1001:1001:0700");
  assertStringIncludes(un.stderr, "2 with fields kept (2 of them: setuid/setgid not put back)");
  // undone again: the same note, not "changed since" (undo's own doing)
  const again = await cli(["undo", "--apply", journal]);
  assertEquals(lines(again.stdout).sort(), [
    `${root}/d: left as it is ${note}`,
    `${root}/helper: left as it is ${note}`,
  ]);
  assertEquals(ugm(at(root, "helper")), `0:${G.PROJECT}:0710`);

  // chown mode: a folder's new owner drops its setgid; undo gives it back
  // to its old owner and leaves the bit off, and says so
  const cj = `${tmp.path}/cj`;
  Deno.chmodSync(at(root, "d"), 0o2750);
  const ch = await cli([
    "--chown_from",
    "1001",
    "--chown_to",
    "1002:1002",
    "--apply",
    "--journal",
    cj,
    root,
  ]);
  assertEquals(ch.code, 0, ch.stderr);
  assertEquals(ugm(at(root, "d")), "1002:1002:2750");
  Deno.chmodSync(at(root, "d"), 0o750);
  const cu = await cli(["undo", "--apply", cj]);
  assertEquals(cu.code, 0, cu.stderr);
  assertEquals(ugm(at(root, "d")), "1001:1001:0750", "undo put setgid back on");
  assertEquals(
    lines(cu.stdout).find((l) => l.startsWith(`${root}/d: `)),
    `${root}/d: owner 1002 -> 1001, group ${groupShown(1002)} -> ${groupShown(1001)} ${note}`,
  );
  closeLibc();
});

Deno.test("undo of a file chowned back by hand since the run: the mode without setuid/setgid, and a note that says why, not that someone else owns it (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    // repair gives them the project group and takes setuid off (rule 4)
    { rel: "su", type: "file", uid: 1042, gid: 1042, mode: 0o4755 },
    { rel: "su2", type: "file", uid: 1042, gid: 1042, mode: 0o4700 },
  ]);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  assertEquals(ugm(at(root, "su")), `1042:${G.PROJECT}:0755`);
  assertEquals(ugm(at(root, "su2")), `1042:${G.PROJECT}:0740`);
  // an admin gives them their old group back (chgrp, by hand)
  for (const f of ["su", "su2"]) Deno.chownSync(at(root, f), null, 1042);
  const why =
    "(setuid/setgid not put back: someone besides its owner could have rewritten it since the run)";
  // twice: a second undo says what the first did, not "already as before"
  for (const pass of [1, 2]) {
    const un = await cli(["undo", "--apply", journal]);
    assertEquals(un.code, 0, un.stderr);
    // owned by its old owner and group: its old mode but for setuid
    assertEquals(ugm(at(root, "su")), "1042:1042:0755", `pass ${pass}`);
    assertEquals(ugm(at(root, "su2")), "1042:1042:0700", `pass ${pass}`);
    const out = lines(un.stdout);
    const line = (f: string) => out.find((l) => l.startsWith(`${root}/${f}: `));
    assertEquals(line("su"), `${root}/su: left as it is ${why}`, un.stdout.toString());
    assertEquals(
      line("su2"),
      pass === 1 ? `${root}/su2: mode 0740 -> 0700 ${why}` : `${root}/su2: left as it is ${why}`,
    );
    assert(!out.some((l) => l.includes("someone else owns")), out.join("\n"));
    assertStringIncludes(un.stderr, "2 with fields kept (2 of them: setuid/setgid not put back)");
  }
  closeLibc();
});

Deno.test("a run killed between a file's chown and its chmod: undo puts the setgid/setuid the chown cleared back", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    // root's: setgid goes back on a file only when nobody but root could write it
    { rel: "tool", type: "file", uid: 0, gid: 0, mode: 0o2711 },
    { rel: "suid", type: "file", uid: 1043, gid: 1043, mode: 0o4700 },
  ]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  // The state a kill -9 after the chown and before the chmod leaves: the
  // project group, and the old mode less what the kernel's chown cleared
  // (setuid always, setgid of a group-executable file), as lstat shows it.
  for (const [f, mode] of [["tool", 0o0711], ["suid", 0o0700]] as const) {
    assertEquals(Deno.lstatSync(at(root, f)).gid, G.PROJECT);
    Deno.chmodSync(at(root, f), mode);
  }
  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assertEquals(ugm(at(root, "tool")), "0:0:2711");
  assertEquals(ugm(at(root, "suid")), "1043:1043:4700");
  assertEquals(diffSnapshots(before, snapshot(root), ["type", "ino"]), []);
  closeLibc();
});

Deno.test("undo puts setuid/setgid back only on a file nobody but its owner could have written since", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    // already group-writable: the run gives the project group write to it
    { rel: "grpw", type: "file", uid: 1042, gid: 1042, mode: 0o4775 },
    // only its owner can write it, before and after
    { rel: "mine", type: "file", uid: 1043, gid: 1043, mode: 0o4755 },
    { rel: "d", type: "dir", uid: 1043, gid: 1043, mode: 0o2700 },
    // setgid to root's group on a file of 1043's (which root set up): its
    // owner's write cleared setgid before the run, not after it (audit)
    { rel: "sg", type: "file", uid: 1043, gid: 0, mode: 0o2755 },
    // the same on a file of root's: nobody but root could write it
    { rel: "rootsg", type: "file", uid: 0, gid: 0, mode: 0o2755 },
  ]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  assertEquals(ugm(at(root, "grpw")), `1042:${G.PROJECT}:0775`);
  for (const f of ["sg", "rootsg"]) assertEquals(ugm(at(root, f)).slice(-5), ":0755", f);
  // A member of the project group rewrites grpw now, and 1043 its sg (as
  // root here; the kernel would have cleared setuid/setgid on such writes
  // before the run).
  Deno.writeTextFileSync(at(root, "grpw"), "#!/bin/sh\nid\n");
  Deno.writeTextFileSync(at(root, "sg"), "#!/bin/sh\nid\n");

  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assertEquals(ugm(at(root, "grpw")), "1042:1042:0775", "setuid put back on a group-writable file");
  assertEquals(ugm(at(root, "mine")), "1043:1043:4755");
  assertEquals(ugm(at(root, "d")), "1043:1043:2700");
  assertEquals(ugm(at(root, "sg")), "1043:0:0755", "setgid root put back on the owner's code");
  assertEquals(ugm(at(root, "rootsg")), "0:0:2755");
  assertEquals(
    lines(un.stdout).find((l) => l.startsWith(`${root}/sg: `)),
    `${root}/sg: group ${groupShown(G.PROJECT)} -> 0 (root) (setgid not put back: its owner ` +
      "could have rewritten it since the run, and setgid would run that with a group its owner " +
      "may not be in)",
  );
  const line = lines(un.stdout).find((l) => l.startsWith(`${root}/grpw: `)) ?? "";
  assertStringIncludes(line, `${root}/grpw: group ${groupShown(G.PROJECT)}`);
  assertStringIncludes(
    line,
    "(setuid/setgid not put back: someone besides its owner could have rewritten it since the run)",
  );
  assert(!line.includes("mode "), line); // 0775 before and after undo
  const lost = new Map([["grpw", 0o775], ["sg", 0o755]]); // the modes less setuid/setgid
  const back = new Map(
    [...before].map(([rel, s]) => [rel, lost.has(rel) ? { ...s, mode: lost.get(rel)! } : s]),
  );
  assertEquals(diffSnapshots(back, snapshot(root), ["type", "ino", "size"]), []);
  assertStringIncludes(un.stderr, "(2 of them: setuid/setgid not put back)");
  closeLibc();
});

Deno.test("undo's line and record tell the mode it put back, setuid/setgid left off", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  // its owner's private group: given the project's, setuid goes (rule 4)
  // and --force-group-writable adds g+w (0775)
  buildTree(root, [PROJECT, {
    rel: "tool",
    type: "file",
    uid: 1042,
    gid: 1042,
    mode: 0o4755,
  }]);
  const journal = `${tmp.path}/j`;
  const ap = await cli(["repair", "--apply", "--force-group-writable", "--journal", journal, root]);
  assertEquals(ap.code, 0, ap.stderr);
  assertEquals(ugm(at(root, "tool")), `1042:${G.PROJECT}:0775`);
  const seen: number[] = [];
  const u = await undo(journal, { apply: true, onRestore: (r) => seen.push(r.to.mode) });
  assertEquals(u.setidKept, 1);
  assertEquals(ugm(at(root, "tool")), "1042:1042:0755");
  assertEquals(seen, [Deno.lstatSync(at(root, "tool")).mode! & 0o7777], "the record's mode");
  closeLibc();
});

/** The project group of the tests below (its lines show it as {@link groupShown} does). */
const SHARED = 60010;

/** Write `text` to `path` as uid (group uid, and `groups`), without capabilities. */
async function writeAs(uid: number, groups: number[], path: string, text: string): Promise<void> {
  await runOk("sh", ["-c", 'printf "%s" "$1" > "$2"', "sh", text, path], {
    prefix: [
      ...UNPRIVILEGED.slice(0, -1),
      `--reuid=${uid}`,
      `--regid=${uid}`,
      ...(groups.length ? [`--groups=${groups.join(",")}`] : ["--clear-groups"]),
      "--",
    ],
  });
}

testNeeding([SETPRIV], {
  name:
    "undo: a later run that let others rewrite a file keeps setuid/setgid off it for older runs",
  async fn(t) {
    await using tmp = await tempDir("pwalk-safety-");
    Deno.chmodSync(tmp.path, 0o755); // the writers below reach the tree
    const note = "(setuid/setgid not put back: someone besides its owner could have rewritten " +
      "it since the run)";

    /** Case A's tree: a setuid file of 60001 in a folder of SHARED. */
    const caseA = (name: string) => {
      const root = `${tmp.path}/${name}`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 0, gid: SHARED, mode: 0o2770 },
        { rel: "tool", type: "file", uid: 60001, gid: 60001, mode: 0o4750 },
      ]);
      return root;
    };

    await t.step("repair, then repair --force-group-writable; a group member writes", async () => {
      const root = caseA("a");
      const journal = `${tmp.path}/a.journal`;
      for (const extra of [[], ["--force-group-writable"]]) {
        const r = await cli(["repair", "--apply", ...extra, "--journal", journal, root]);
        assertEquals(r.code, 0, r.stderr);
      }
      assertEquals(ugm(at(root, "tool")), `60001:${SHARED}:0770`);
      await writeAs(60009, [SHARED], at(root, "tool"), "group member code\n");
      const plan = await undo(journal); // the dry run says the same
      assertEquals([plan.restored, plan.setidKept], [2, 1]);
      const un = await cli(["undo", "--apply", journal]);
      assertEquals(un.code, 0, un.stderr);
      assertEquals(ugm(at(root, "tool")), "60001:60001:0750", "setuid back on a member's code");
      assertEquals(Deno.readTextFileSync(at(root, "tool")), "group member code\n");
      assertEquals(lines(un.stdout), [
        `${root}/tool: mode 0770 -> 0750`,
        `${root}/tool: group ${groupShown(SHARED)} -> ${groupShown(60001)} ${note}`,
      ]);
      assertStringIncludes(un.stderr, "(1 of them: setuid/setgid not put back)");
    });

    await t.step("repair, then chown to another user, who writes", async () => {
      const root = `${tmp.path}/b`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 0, gid: SHARED, mode: 0o2775 },
        { rel: "tool", type: "file", uid: 0, gid: 0, mode: 0o4755 },
      ]);
      const journal = `${tmp.path}/b.journal`;
      const r = await cli(["repair", "--apply", "--journal", journal, root]);
      assertEquals(r.code, 0, r.stderr);
      const c = await cli([
        "chown",
        "--chown_from",
        "0",
        "--chown_to",
        "60002:60002",
        "--apply",
        "--journal",
        journal,
        root,
      ]);
      assertEquals(c.code, 0, c.stderr);
      await writeAs(60002, [], at(root, "tool"), "#!/bin/sh\necho attacker\n");
      const un = await cli(["undo", "--apply", journal]);
      assertEquals(un.code, 0, un.stderr);
      assertEquals(ugm(at(root, "tool")), "0:0:0755", "a setuid-root file of the attacker's");
      assertEquals(ugm(root), `0:${SHARED}:2775`);
      assertEquals(
        lines(un.stdout).find((l) => l.includes("-> 0 (root)")),
        `${root}/tool: group ${groupShown(SHARED)} -> 0 (root) ${note}`,
      );
    });

    await t.step("a later run that lets nobody else write it: setuid goes back", async () => {
      const root = caseA("c");
      const journal = `${tmp.path}/c.journal`;
      const r = await cli(["repair", "--apply", "--journal", journal, root]);
      assertEquals(r.code, 0, r.stderr);
      // another group, the same owner, no group write
      const c = await cli([
        "chown",
        "--chown_from",
        "60001",
        "--chown_to",
        "60001:60011",
        "--apply",
        "--journal",
        journal,
        root,
      ]);
      assertEquals(c.code, 0, c.stderr);
      assertEquals(ugm(at(root, "tool")), "60001:60011:0750");
      const un = await cli(["undo", "--apply", journal]);
      assertEquals(un.code, 0, un.stderr);
      assertEquals(ugm(at(root, "tool")), "60001:60001:4750");
    });

    await t.step("in two journals, undone newest first: each judged alone (README)", async () => {
      const root = caseA("d");
      const j1 = `${tmp.path}/d1.journal`, j2 = `${tmp.path}/d2.journal`;
      for (const [journal, extra] of [[j1, []], [j2, ["--force-group-writable"]]] as const) {
        const r = await cli(["repair", "--apply", ...extra, "--journal", journal, root]);
        assertEquals(r.code, 0, r.stderr);
      }
      await writeAs(60009, [SHARED], at(root, "tool"), "group member code\n");
      for (const journal of [j2, j1]) {
        const un = await cli(["undo", "--apply", journal]);
        assertEquals(un.code, 0, un.stderr);
      }
      // the older journal alone cannot know the newer run let the group write
      assertEquals(ugm(at(root, "tool")), "60001:60001:4750");
    });
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "undo of a file under its old owner with the old mode less setuid: " +
    "setuid/setgid not put back, said so on a first undo and a second alike",
  async fn(t) {
    await using tmp = await tempDir("pwalk-safety-");
    Deno.chmodSync(tmp.path, 0o755); // the writer below reaches the tree
    const NOTE = "(setuid/setgid not put back: someone besides its owner could have rewritten " +
      "it since the run)";
    /** A folder of 60001 holding a 4755 file "s" of 60001, in group `gid`. */
    const setuidTree = (name: string, gid: number, dirMode = 0o755) => {
      const root = `${tmp.path}/${name}`;
      buildTree(root, [
        { rel: ".", type: "dir", uid: 60001, gid, mode: dirMode },
        { rel: "s", type: "file", uid: 60001, gid, mode: 0o4755 },
      ]);
      return root;
    };
    const chownApply = async (root: string, journal: string) => {
      const c = await cli([
        "chown",
        "--chown_from",
        "60001",
        "--chown_to",
        "60002:60003",
        "--apply",
        "--journal",
        journal,
        root,
      ]);
      assertEquals(c.code, 0, c.stderr);
    };

    await t.step("chown undone twice: the second undo says the bits stay off", async () => {
      const root = setuidTree("twice", 60001);
      const journal = `${tmp.path}/twice.journal`;
      await chownApply(root, journal);
      const first = await cli(["undo", "--apply", journal]);
      assertEquals(first.code, 0, first.stderr);
      assertEquals(ugm(at(root, "s")), "60001:60001:0755");
      assertEquals(ugm(root), "60001:60001:0755");
      const again = await cli(["undo", "--apply", journal]);
      assertEquals(again.code, 0, again.stderr);
      // not "someone else owns now" (the old owner has it), nor "already as before"
      assertEquals(lines(again.stdout), [`${root}/s: left as it is ${NOTE}`]);
      assertStringIncludes(
        again.stderr,
        "2 journal entries, 0 restored, 1 already as before, " +
          "1 with fields kept (1 of them: setuid/setgid not put back), 0 errors",
      );
      const u = await undo(journal);
      assertEquals([u.restored, u.unchanged, u.kept, u.setidKept], [0, 1, 1, 1]);
      assertEquals(ugm(at(root, "s")), "60001:60001:0755");
    });

    await t.step(
      "chowned back by hand before the first undo: the lost setuid is reported",
      async () => {
        const root = setuidTree("byhand", 60001);
        const journal = `${tmp.path}/byhand.journal`;
        await chownApply(root, journal);
        Deno.chownSync(at(root, "s"), 60001, 60001); // an admin's chown back
        assertEquals(ugm(at(root, "s")), "60001:60001:0755");
        const un = await cli(["undo", "--apply", journal]);
        assertEquals(un.code, 0, un.stderr);
        assertEquals(lines(un.stdout), [
          `${root}: owner 60002 -> 60001, group ${groupShown(60003)} -> ${groupShown(60001)}`,
          `${root}/s: left as it is ${NOTE}`,
        ]);
        assertStringIncludes(
          un.stderr,
          "2 journal entries, 1 restored, 0 already as before, " +
            "1 with fields kept (1 of them: setuid/setgid not put back), 0 errors",
        );
        assertEquals(ugm(at(root, "s")), "60001:60001:0755");
      },
    );

    await t.step(
      'a run that made it group-writable, undone twice: the same note, not "mode changed since"',
      async () => {
        // its owner's private group in a folder of SHARED: the run gives it
        // SHARED, takes setuid off (rule 4) and adds g+w
        const root = `${tmp.path}/modeonly`;
        buildTree(root, [
          { rel: ".", type: "dir", uid: 60001, gid: SHARED, mode: 0o2775 },
          { rel: "s", type: "file", uid: 60001, gid: 60001, mode: 0o4755 },
        ]);
        const journal = `${tmp.path}/modeonly.journal`;
        const r = await cli([
          "repair",
          "--force-group-writable",
          "--apply",
          "--journal",
          journal,
          root,
        ]);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(ugm(at(root, "s")), `60001:${SHARED}:0775`);
        await writeAs(60002, [SHARED], at(root, "s"), "group member code\n");
        const first = await cli(["undo", "--apply", journal]);
        assertEquals(first.code, 0, first.stderr);
        assertEquals(lines(first.stdout), [
          `${root}/s: group ${groupShown(SHARED)} -> ${groupShown(60001)}, mode 0775 -> 0755 ` +
          NOTE,
        ]);
        assertEquals(ugm(at(root, "s")), "60001:60001:0755");
        const again = await cli(["undo", "--apply", journal]);
        assertEquals(again.code, 0, again.stderr);
        assertEquals(lines(again.stdout), [`${root}/s: left as it is ${NOTE}`]);
        assertStringIncludes(
          again.stderr,
          "1 with fields kept (1 of them: setuid/setgid not put back)",
        );
        assertEquals(ugm(at(root, "s")), "60001:60001:0755");
      },
    );
    closeLibc();
  },
});

testNeeding([SETPRIV], {
  name: "undo by a caller outside a file's group: the setgid bit the kernel drops on its " +
    "chmod is an error, not a mode restored; one the kernel dropped at the run's own chmod " +
    "is not put back, and said",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    Deno.chmodSync(tmp.path, 0o755); // the user below reaches the tree
    const root = `${tmp.path}/P`, home = `${tmp.path}/home`;
    // root's (undo puts setgid back on a file only when root owns it)
    const tree = () =>
      buildTree(root, [
        { rel: ".", type: "dir", uid: 0, gid: 60100, mode: 0o2775 },
        { rel: "d", type: "dir", uid: 0, gid: 60200, mode: 0o700 },
        { rel: "d/sg", type: "file", uid: 0, gid: 60200, mode: 0o2600 },
      ]);
    Deno.mkdirSync(home, { mode: 0o755 });
    // uid 0 without capabilities, in groups 60001 and 60100 (not 60200)
    const prefix = [
      ...UNPRIVILEGED.slice(0, -1),
      "--reuid=0",
      "--regid=60001",
      "--groups=60100",
      "--",
    ];
    const env = { HOME: home };

    // the run as root (CAP_FSETID: setgid kept), the undo without: the
    // kernel drops the setgid bit undo's chmod puts back
    tree();
    let journal = `${home}/j`;
    let r = await cli(["repair", "--apply", "--journal", journal, root], { env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(ugm(at(root, "d/sg")), "0:60200:2640");
    let un = await cli(["undo", "--apply", journal], { prefix, env });
    assertEquals(un.code, 0, un.stderr);
    // the kernel dropped setgid: not the journal's old 2600
    assertEquals(ugm(at(root, "d/sg")), "0:60200:0600");
    assertEquals(ugm(at(root, "d")), "0:60200:0700");
    assertEquals(lines(un.stdout), [`${root}/d: mode 2750 -> 0700`]);
    assertStringIncludes(un.stderr, `pwalk: undo '${root}/d/sg': Operation not permitted\n`);
    assertStringIncludes(
      un.stderr,
      "2 journal entries, 1 restored, 0 already as before, 0 with fields kept, 1 error",
    );

    // both without: the kernel dropped setgid at the run's own chmod (an
    // error of the run's); undo does not put it back, and says so
    Deno.removeSync(root, { recursive: true });
    tree();
    journal = `${home}/j2`;
    r = await cli(["repair", "--apply", "--journal", journal, root], { prefix, env });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, `'${root}/d/sg': Operation not permitted`);
    assertEquals(ugm(at(root, "d/sg")), "0:60200:0640", "the kernel dropped setgid");
    un = await cli(["undo", "--apply", journal], { prefix, env });
    assertEquals(un.code, 0, un.stderr);
    assertEquals(ugm(at(root, "d/sg")), "0:60200:0600");
    assertEquals(
      lines(un.stdout).sort(),
      [
        `${root}/d/sg: mode 0640 -> 0600 (setuid/setgid off since the run's change (a chmod, ` +
        "chown or write since, or the kernel at that change): not put back)",
        // (the mode found: the kernel dropped d's setgid at the run's chmod too)
        `${root}/d: mode 0750 -> 0700`,
      ].sort(),
    );
    assertStringIncludes(
      un.stderr,
      "2 journal entries, 2 restored, 0 already as before, 1 with fields kept " +
        "(1 of them: setuid/setgid not put back), 0 errors",
    );
    closeLibc();
  },
});

// ---------------------------------------------------------------------------
// 7. The journal: where it goes, what is appended to, what undo trusts.

/** The environment of a process without HOME or XDG_STATE_HOME (Deno's cache still found). */
async function homelessEnv(): Promise<Record<string, string>> {
  const info = JSON.parse((await runOk(Deno.execPath(), ["info", "--json"])).text);
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    DENO_DIR: info.denoDir,
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
}

Deno.test("a default journal folder below a folder someone else owns is refused (sudo -E)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("f")]);
  const before = snapshot(root);
  // root runs with a user's HOME: the user could turn .local/state into a
  // link to anywhere, before the run or after it
  const home = `${tmp.path}/home/u`;
  Deno.mkdirSync(`${home}/.local`, { recursive: true });
  Deno.chownSync(home, 1001, 1001);
  Deno.chownSync(`${home}/.local`, 1001, 1001);
  const elsewhere = `${tmp.path}/elsewhere`;
  Deno.mkdirSync(elsewhere);
  Deno.symlinkSync(elsewhere, `${home}/.local/state`);
  const env = { ...(await homelessEnv()), HOME: home };
  const r = await cli(["repair", "--apply", root], { clearEnv: true, env });
  assertEquals(r.code, 2, r.stderr);
  assertEquals(
    errLines(r.stderr).filter((l) => l.startsWith("pwalk")).at(-1),
    `pwalk: journal folder ${home}/.local/state/pwalk: ${home} is owned by uid 1001, not by you ` +
      "or root: give --journal FILE",
  );
  assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree changed");
  assertEquals([...Deno.readDirSync(elsewhere)], [], "a folder was made through the link");
  // the same run with HOME owned by root makes its journal there
  Deno.chownSync(home, 0, 0);
  Deno.chownSync(`${home}/.local`, 0, 0);
  Deno.removeSync(`${home}/.local/state`);
  const ok = await cli(["repair", "--apply", root], { clearEnv: true, env });
  assertEquals(ok.code, 0, ok.stderr);
  assertEquals([...Deno.readDirSync(`${home}/.local/state/pwalk`)].length, 1);
});

testNeeding([SETPRIV], {
  name: "a default journal folder that cannot be created: the error says to give --journal",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [{ ...PROJECT, uid: 0, mode: 0o2775 }, own("f")]); // readable without capabilities
    const before = snapshot(root);
    // a HOME the run may not write in (a run as another user, HOME left as it was)
    const home = `${tmp.path}/home`;
    Deno.mkdirSync(home, { mode: 0o500 });
    Deno.chmodSync(home, 0o500);
    const env = { ...(await homelessEnv()), HOME: home };
    const r = await cli(["repair", "--apply", root], {
      clearEnv: true,
      env,
      prefix: UNPRIVILEGED,
    });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(
      errLines(r.stderr).at(-1),
      `pwalk: journal folder ${home}/.local/state/pwalk: cannot be created: Permission denied: ` +
        "give --journal FILE (API: journal)",
    );
    assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree changed");
    assertEquals([...Deno.readDirSync(home)], []);
  },
});

Deno.test("the journal is never inside the tree being changed", async (t) => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("sub", "dir"), own("sub/f"), own("g")]);
  const before = snapshot(root);
  const refused = (r: { code: number; stderr: string; stdout: Uint8Array }, why: string) => {
    assertEquals(r.code, 2, r.stderr);
    // one line: chown's banner (pwalk's "chown UID_orig: ...") is not said
    // before a refusal either
    assertEquals(errLines(r.stderr), [`pwalk: ${why}`]);
    assertEquals(r.stdout.length, 0);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree changed");
    assertEquals(journalsIn(root), []);
  };

  await t.step("HOME unset, started inside the tree: refused (no ./pwalk-*.journal)", async () => {
    const env = await homelessEnv();
    const o = { clearEnv: true, env, cwd: `${root}/sub` };
    const none =
      "no place for the journal (neither XDG_STATE_HOME nor HOME is an absolute path): " +
      "give --journal FILE (API: journal) outside the tree";
    refused(await cli(["repair", "--apply", root], o), none);
    // a relative XDG_STATE_HOME is no place either (the XDG spec: ignored)
    refused(
      await cli(["repair", "--apply", root], { ...o, env: { ...env, XDG_STATE_HOME: "relstate" } }),
      none,
    );
    refused(
      await cli(["--chown_from", "1001", "--chown_to", "1042:1042", "--apply", root], o),
      none,
    );
    // A dry run needs no journal.
    const dry = await cli(["repair", root], o);
    assertEquals(dry.code, 0, dry.stderr);
  });

  await t.step("--journal inside the tree, however it is spelled: refused", async () => {
    Deno.symlinkSync(`${root}/sub`, `${tmp.path}/into`);
    const inside = (j: string) =>
      `the journal ${j} would be inside the tree ${root}: put it outside (--journal FILE)`;
    for (const j of [`${root}/j.journal`, `${root}/sub/x.journal`, `${tmp.path}/into/y.journal`]) {
      refused(await cli(["repair", "--apply", "--journal", j, root]), inside(j));
    }
    refused(
      await cli(["repair", "--apply", "--journal", "rel.journal", root], { cwd: `${root}/sub` }),
      inside("rel.journal"),
    );
    for (const apply of [["--apply"], []]) {
      refused(
        await cli([
          "chown",
          "--chown_from",
          "1001",
          "--chown_to",
          "1042:1042",
          ...apply,
          "--journal",
          `${root}/c.journal`,
          root,
        ]),
        inside(`${root}/c.journal`),
      );
    }
    await assertRejects(
      () => repair(root, { apply: true, journal: `${root}/api.journal` }),
      RefusedError,
      "would be inside the tree",
    );
    // The default place inside the tree (XDG_STATE_HOME below ROOT): refused too.
    const e = await apiInChild("repair", root, { apply: true }, {
      env: { XDG_STATE_HOME: `${root}/sub/state` },
    }).then(() => "", (e: Error) => e.message);
    assertStringIncludes(e, `would be inside the tree ${root}`);
    // ... naming the journal it would have made there
    assertMatch(
      e,
      new RegExp(`the journal ${root}/sub/state/pwalk/repair-\\d{8}T\\d{6}Z-\\d+\\.journal `),
    );
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  });
  closeLibc();
});

Deno.test("--errors of a repair or chown is never inside the tree: a link planted there is not written through (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("d", "dir")]);
  const victim = `${tmp.path}/victim`;
  Deno.writeTextFileSync(victim, "keep\n");
  // a user of the tree plants a link where root's errors would go
  Deno.symlinkSync(victim, `${root}/d/errs.csv`);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  const chownArgs = ["chown", "--chown_from", "1001", "--chown_to", "1002:1002"];
  for (
    const [cmd, errors] of [
      [["repair"], `${root}/d/errs.csv`],
      [chownArgs, `${root}/d/errs.csv`],
      [["repair"], `${root}/d/new.csv`], // not there yet: a name it could take
    ] as const
  ) {
    const r = await cli([...cmd, "--apply", "--journal", journal, "--errors", errors, root]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(errLines(r.stderr), [
      `pwalk: --errors ${errors} would be inside the tree ${Deno.realPathSync(root)}: put it ` +
      "outside (a link there would be written through)",
    ]);
    assertEquals(Deno.readTextFileSync(victim), "keep\n");
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    assert(!(await Deno.lstat(journal).then(() => true, () => false)), "a journal was made");
  }
  // outside the tree: taken, as ever
  const r = await cli(["repair", "--errors", `${tmp.path}/errs.csv`, root]);
  assertEquals(r.code, 0, r.stderr);
  closeLibc();
});

Deno.test("a journal is a new private file, never a link; an existing one only if it is yours", async (t) => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("b")]);
  const env = stateEnv(tmp.path);

  await t.step("the default: a new 0600 file in a 0700 folder, one per run", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await cli(["repair", "--apply", root], { env });
      assertEquals(r.code, 0, r.stderr);
    }
    const dir = `${tmp.path}/state/pwalk`;
    assertEquals(Deno.statSync(dir).mode! & 0o777, 0o700);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(files.length, 2, files.join(" "));
    for (const f of files) {
      assert(/^repair-\d{8}T\d{6}Z-\d+\.journal$/.test(f), f);
      const s = Deno.lstatSync(`${dir}/${f}`);
      assertEquals([s.isFile, s.mode! & 0o777, s.uid], [true, 0o600, 0]);
    }
  });

  const victim = `${tmp.path}/victim`;
  Deno.writeTextFileSync(victim, "keep\n");
  Deno.chmodSync(victim, 0o600);
  const refused = async (journal: string, why: string) => {
    const r = await cli(["repair", "--apply", "--journal", journal, root], { timeoutMs: 60_000 });
    assertEquals(r.code, 2, r.stderr);
    assertEquals(errLines(r.stderr), [`pwalk: journal ${journal}: ${why}`]);
    assertEquals(Deno.readTextFileSync(victim), "keep\n");
  };

  await t.step(
    "a symbolic link (to a file, or to nothing yet) is never written through",
    async () => {
      Deno.symlinkSync(victim, `${tmp.path}/link`);
      await refused(`${tmp.path}/link`, "a symbolic link (a journal is never written through one)");
      Deno.symlinkSync(`${tmp.path}/created-through-link`, `${tmp.path}/dangling`);
      await refused(
        `${tmp.path}/dangling`,
        "a symbolic link (a journal is never written through one)",
      );
      assert(!(await Deno.lstat(`${tmp.path}/created-through-link`).then(() => true, () => false)));
    },
  );

  await t.step("an existing file that is not a private journal of yours", async () => {
    await refused(
      victim,
      "not a pwalk journal (it does not start with #pwalk-journal): not appended to",
    );
    const theirs = `${tmp.path}/theirs.journal`;
    await repair(root, { journal: theirs }); // a dry run's plan: a journal
    Deno.chownSync(theirs, 1042, 1042);
    await refused(theirs, "owned by uid 1042, not by you (uid 0): not appended to");
    const loose = `${tmp.path}/loose.journal`;
    await repair(root, { journal: loose });
    Deno.chmodSync(loose, 0o620);
    await refused(loose, "writable by group or others (mode 0620): not appended to");
    mkfifo(`${tmp.path}/fifo`, 0o600);
    await refused(`${tmp.path}/fifo`, "not a regular file: not appended to");
  });

  await t.step(
    "an existing empty file (a lock file, an empty motd, mktemp's): refused, left empty",
    async () => {
      // root's own, 0600 or 0644: nothing but the missing header tells it from a journal
      for (const mode of [0o600, 0o644]) {
        const empty = `${tmp.path}/empty-${mode.toString(8)}`;
        Deno.writeFileSync(empty, new Uint8Array(0), { mode });
        Deno.chmodSync(empty, mode);
        await refused(
          empty,
          "an empty file, not a pwalk journal: not appended to (name a new file: it is created)",
        );
        assertEquals(Deno.lstatSync(empty).size, 0);
      }
      const made = Deno.makeTempFileSync({ dir: tmp.path }); // mktemp: 0600, empty
      const e = await assertRejects(
        () => repair(root, { apply: true, journal: made }),
        RefusedError,
      );
      assertStringIncludes(e.message, `pwalk: journal ${made}: an empty file, not a pwalk journal`);
      assertEquals(Deno.lstatSync(made).size, 0);
      // a name that does not exist yet is created, as ever
      const fresh = `${tmp.path}/fresh.journal`;
      await repair(root, { journal: fresh });
      assert(Deno.readTextFileSync(fresh).startsWith("#pwalk-journal 2 repair dry-run "));
    },
  );

  await t.step("a journal of yours, named: appended to", async () => {
    const j = `${tmp.path}/mine.journal`;
    await repair(root, { journal: j });
    Deno.chmodSync(`${root}/a`, 0o600);
    const r = await cli(["repair", "--apply", "--journal", j, root]);
    assertEquals(r.code, 0, r.stderr);
    const heads = Deno.readTextFileSync(j).split("\n").filter((l) => l.startsWith("#pwalk"));
    assertEquals(heads.map((h) => h.split(" ")[3]), ["dry-run", "apply"]);
  });

  await t.step(
    "a journal of yours that undo would refuse (a bad line in the middle): not appended to",
    async () => {
      const j = `${tmp.path}/damaged.journal`;
      await repair(root, { journal: j });
      const ls = Deno.readTextFileSync(j).split("\n");
      ls.splice(1, 0, "GARBAGE");
      Deno.writeTextFileSync(j, ls.join("\n"));
      const text = Deno.readTextFileSync(j);
      // undo's own verdict on it, the reference
      const u = await cli(["undo", j]);
      assertEquals(u.code, 2, u.stderr);
      assertEquals(errLines(u.stderr), [`pwalk: ${j}:2: not a pwalk journal line: GARBAGE`]);
      const tree = snapshot(root);
      await refused(
        j,
        "line 2: not a pwalk journal line: GARBAGE: undo would refuse it whole, so it is not " +
          "appended to (name a new file: it is created)",
      );
      assertEquals(Deno.readTextFileSync(j), text);
      assertEquals(diffSnapshots(tree, snapshot(root)), []);
      // a torn last line is still cut off by an appending run, as before
      const torn = `${tmp.path}/torn.journal`;
      await repair(root, { journal: torn });
      Deno.writeTextFileSync(torn, "65024 1 f 0 0 06", { append: true });
      Deno.chmodSync(`${root}/b`, 0o600);
      const r = await cli(["repair", "--apply", "--journal", torn, root]);
      assertEquals(r.code, 0, r.stderr);
      const un = await cli(["undo", torn]);
      assertEquals(un.code, 0, un.stderr);
    },
  );
  closeLibc();
});

Deno.test("a safety option given twice is refused, not the last one kept (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  const a = `${tmp.path}/a.journal`, b = `${tmp.path}/b.journal`;
  const chownTo = ["--chown_from", "1001", "--chown_to", "1001:1001"];
  const cases: [string[], string][] = [
    [["repair", "--apply", "--journal", a, "--journal", b, root], "--journal"],
    [["repair", "--apply", `--journal=${a}`, `--journal=${a}`, root], "--journal"],
    [["repair", "--apply", "--errors", a, "--errors", b, "--journal", a, root], "--errors"],
    [["chown", ...chownTo, "--apply", "--journal", a, "--journal", b, root], "--journal"],
    [["chown", ...chownTo, "--chown_to", "0:0", "--apply", "--journal", a, root], "--chown_to"],
    [[...chownTo, "--chown_from", "0", "--apply", "--journal", a, root], "--chown_from"],
    [["repair", "--undo", a, "--undo", b, "--apply"], "--undo"],
  ];
  const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
  for (const [args, option] of cases) {
    const r = await cli(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(errLines(r.stderr), [`pwalk: ${option} given twice: give it once`]);
    assertEquals(diffSnapshots(before, snapshot(root)), [], args.join(" "));
    for (const f of [a, b]) assert(!(await exists(f)), `${f} made by ${args.join(" ")}`);
  }
  // a value option that is not one of them, and a flag, given twice: taken
  const r = await cli([
    "repair",
    "--threads",
    "1",
    "--threads",
    "2",
    "--dry-run",
    "--dry-run",
    root,
  ]);
  assertEquals(r.code, 0, r.stderr);
  closeLibc();
});

Deno.test("the undo command printed after a run is quoted for the shell, when it needs to be", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  const folder = `${tmp.path}/it's $(touch PWNED) here`;
  Deno.mkdirSync(folder, { mode: 0o700 });
  const journal = `${folder}/j`;
  const r = await cli(["repair", "--apply", "--journal", journal, root], { cwd: tmp.path });
  assertEquals(r.code, 0, r.stderr);
  const quoted = `'${tmp.path}/it'\\''s $(touch PWNED) here/j'`;
  const hint = errLines(r.stderr).at(-1)!;
  assertEquals(hint, `pwalk repair: journal ${journal} (undo: pwalk undo --apply ${quoted})`);
  // pasted into a shell, it names that journal and runs nothing else
  const command = hint.slice(hint.indexOf("(undo: ") + 7, -1);
  const sh = await run("sh", [
    "-c",
    `pwalk() { "$DENO" run -A "$CLI" "$@"; }\n${command}`,
  ], { cwd: tmp.path, env: { DENO: Deno.execPath(), CLI, NO_COLOR: "1" } });
  assertEquals(sh.code, 0, sh.stderr);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
    "it's $(touch PWNED) here",
    "proj",
  ]);
  // a plain path as it is
  const plain = `${tmp.path}/plain.journal`;
  const p = await cli(["repair", "--apply", "--journal", plain, root]);
  assertEquals(p.code, 0, p.stderr);
  assertEquals(
    errLines(p.stderr).at(-1),
    `pwalk repair: journal ${plain} (undo: pwalk undo --apply ${plain})`,
  );
  closeLibc();
});

Deno.test("the undo command printed for a journal named with control characters is $'…' quoted: bash reads back the very path (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  // a newline, a tab, an escape, a C1 control, a quote and a backslash
  const journal = `${tmp.path}/it's a\nj\tk\x1b[31m\x85 \\x01 é`;
  const r = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(r.code, 0, r.stderr);
  const hint = errLines(r.stderr).at(-1)!;
  const start = hint.indexOf("(undo: pwalk undo --apply ");
  assert(start > 0 && hint.endsWith(")"), hint);
  const word = hint.slice(start + "(undo: pwalk undo --apply ".length, -1);
  assert(word.startsWith("$'"), word);
  // the word, given to bash, is the journal's bytes
  const printed = await run("bash", ["-c", `printf '%s' ${word}`]);
  assertEquals(printed.code, 0, printed.stderr);
  assertEquals(printed.stdout, new TextEncoder().encode(journal));
  // and the whole command undoes the run
  const command = hint.slice(start + 7, -1);
  const sh = await run("bash", ["-c", `pwalk() { "$DENO" run -A "$CLI" "$@"; }\n${command}`], {
    env: { DENO: Deno.execPath(), CLI, NO_COLOR: "1" },
  });
  assertEquals(sh.code, 0, sh.stderr);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  closeLibc();
});

Deno.test("a dry run with --journal FILE names the file that holds its plan in its summary (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  for (
    const [kind, args] of [
      ["repair", ["repair"]],
      ["chown", ["--chown_from", "1001", "--chown_to", "1002:1002"]],
    ] as const
  ) {
    const journal = `${tmp.path}/${kind}.plan`;
    const r = await cli([...args, "--journal", journal, root]);
    assertEquals(r.code, 0, r.stderr);
    // the file is there, a dry run's journal
    const { entries } = await readJournal(journal);
    assertEquals(entries.length, 0, "a dry run's lines are not an applied run's");
    assertStringIncludes(Deno.readTextFileSync(journal), `#pwalk-journal 2 ${kind} dry-run `);
    assertEquals(errLines(r.stderr).slice(-2), [
      `pwalk ${kind}: the plan is in the journal ${journal} (a dry run's lines: undo skips them)`,
      `pwalk ${kind}: dry run, nothing was changed; add --apply to make these changes`,
    ]);
    // without --journal, no such line
    const plain = await cli([...args, root]);
    assert(!plain.stderr.includes("the plan is in"), plain.stderr);
  }
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  closeLibc();
});

Deno.test("the engine leaves the journal out of the walk (a hard link of it in the tree)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, { rel: "twin", type: "file", uid: 0, gid: 0, mode: 0o600 }]);
  const journal = `${tmp.path}/j`;
  await repair(root, { journal }); // creates it (a dry run's plan)
  Deno.linkSync(journal, `${root}/j-link`); // root:root 0600 below a shared group
  assertEquals(ugm(`${root}/j-link`), ugm(`${root}/twin`));
  const s = await repair(root, { apply: true, journal });
  assertEquals(s.errors, 0, JSON.stringify(s.errorDetails));
  assertEquals(ugm(`${root}/twin`), `0:${G.PROJECT}:0640`, "the twin was repaired");
  assertEquals(ugm(`${root}/j-link`), "0:0:0600", "the journal itself was changed");
  assertEquals(ugm(journal), "0:0:0600");
  closeLibc();
});

testNeeding([SETPRIV], {
  name: "undo trusts only a private journal of the running user, every path below its ROOT",
  async fn(t) {
    await using tmp = await tempDir("pwalk-safety-");
    Deno.chmodSync(tmp.path, 0o755); // the attacker (uid 1042) can reach the journal
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, { rel: "f", type: "file", uid: 1042, gid: 1042, mode: 0o600 }]);
    const outside = `${tmp.path}/outside`;
    buildTree(outside, [{ rel: ".", type: "dir", uid: 0, gid: 0, mode: 0o755 }, {
      rel: "tool",
      type: "file",
      uid: 0,
      gid: 0,
      mode: 0o755,
    }]);
    const journal = `${tmp.path}/j`;
    const s = await repair(root, { apply: true, journal });
    assertEquals(s.entriesChanged, 1);
    const repaired = ugm(`${root}/f`);
    const o = Deno.lstatSync(`${outside}/tool`);
    const evil = `${o.dev} ${o.ino} f 0 0 4755 0 0 0755 - ../outside/tool`;
    const untouched = () => {
      assertEquals(ugm(`${outside}/tool`), "0:0:0755", "undo changed a file outside the tree");
      assertEquals(ugm(`${root}/f`), repaired, "undo trusted the journal");
    };
    const refusedUndo = async (file: string, why: string) => {
      for (const args of [["undo", file], ["undo", "--apply", file]]) {
        const r = await cli(args);
        assertEquals(r.code, 2, r.stderr);
        assertEquals(errLines(r.stderr), [`pwalk: ${why}`]);
        untouched();
      }
    };

    await t.step(
      "a journal given away (as chown did) and appended to by its new owner",
      async () => {
        const given = `${tmp.path}/given.journal`;
        Deno.copyFileSync(journal, given);
        Deno.chmodSync(given, 0o600);
        Deno.chownSync(given, 1042, 1042);
        await runOk("sh", ["-c", 'printf "%s\\n" "$1" >> "$2"', "sh", evil, given], {
          prefix: [
            ...UNPRIVILEGED.slice(0, -1),
            "--reuid=1042",
            "--regid=1042",
            "--clear-groups",
            "--",
          ],
        });
        assert(Deno.readTextFileSync(given).endsWith(`${evil}\n`), "the attacker could not append");
        await refusedUndo(
          given,
          `journal ${given}: owned by uid 1042, not by you (uid 0): not trusted`,
        );
        await assertRejects(() => undo(given, { apply: true }), RefusedError, "owned by uid 1042");
      },
    );

    await t.step("writable by group or others, a symbolic link", async () => {
      const loose = `${tmp.path}/loose.journal`;
      Deno.copyFileSync(journal, loose);
      Deno.chmodSync(loose, 0o602);
      await refusedUndo(
        loose,
        `journal ${loose}: writable by group or others (mode 0602): not trusted`,
      );
      Deno.symlinkSync(journal, `${tmp.path}/link.journal`);
      await refusedUndo(
        `${tmp.path}/link.journal`,
        `journal ${tmp.path}/link.journal: a symbolic link: not trusted`,
      );
    });

    await t.step("a path that leaves its ROOT (..): the whole journal refused", async () => {
      const dots = `${tmp.path}/dots.journal`;
      Deno.writeTextFileSync(dots, Deno.readTextFileSync(journal) + evil + "\n", { mode: 0o600 });
      const n = Deno.readTextFileSync(dots).split("\n").length - 1;
      await refusedUndo(
        dots,
        `${dots}:${n}: a path that does not stay below its ROOT: ../outside/tool`,
      );
    });

    await t.step(
      "a ROOT that is not the recorded folder any more: nothing below it restored",
      async () => {
        // The tree moved aside, a new folder at its path holding a hard link
        // of the same file (same device and inode).
        Deno.renameSync(root, `${root}.old`);
        Deno.mkdirSync(root);
        Deno.linkSync(`${root}.old/f`, `${root}/f`);
        const r = await cli(["undo", "--apply", journal]);
        // a whole run left alone: status 1 (undo_root_test.ts)
        assertEquals(r.code, 1, r.stderr);
        assertEquals(
          errLines(r.stderr)[0],
          `pwalk: undo '${root}': not the folder the journal recorded (device and inode differ): the run's 1 entry below it left alone`,
        );
        assertStringIncludes(r.stderr, "1 error in");
        untouched();
      },
    );
    closeLibc();
  },
});

/**
 * Another run holding `journal` (flock, exclusive, from Python, as a run
 * does) until release().
 */
async function journalHolder(journal: string): Promise<{ release(): Promise<void> }> {
  const holder = new Deno.Command("python3", {
    args: [
      "-c",
      `import fcntl, sys
f = open(sys.argv[1], "r")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()`,
      journal,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  assertEquals(dec.decode((await reader.read()).value).trim(), "held");
  return {
    async release() {
      await holder.stdin.close();
      await reader.cancel();
      await holder.status;
    },
  };
}

testNeeding([PYTHON3], {
  name:
    "a journal another run has just made (empty, its header not written yet, locked) is in use, not an empty file",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const b = `${tmp.path}/B`;
    buildTree(b, [PROJECT, own("b1")]);
    const before = snapshot(b);
    const journal = `${tmp.path}/j`;
    // the other run: its journal made (O_EXCL, 0600) and locked, no header yet
    Deno.writeFileSync(journal, new Uint8Array(0), { mode: 0o600 });
    const holder = await journalHolder(journal);
    const busy = await cli(["repair", "--apply", "--journal", journal, b]);
    assertEquals(busy.code, 1, busy.stderr);
    assertStringIncludes(busy.stderr, `pwalk: journal ${journal}: in use by another run`);
    const undo = await cli(["undo", journal]);
    assertEquals(undo.code, 1, undo.stderr);
    assertStringIncludes(undo.stderr, "in use by a repair or chown still running");
    assertEquals(diffSnapshots(before, snapshot(b)), [], "B changed");
    assertEquals(Deno.readFileSync(journal).length, 0, "the journal written");
    await holder.release();
    // nobody holds it: an empty file, no journal (refused, exit 2)
    const empty = await cli(["repair", "--apply", "--journal", journal, b]);
    assertEquals(empty.code, 2, empty.stderr);
    assertStringIncludes(empty.stderr, "an empty file, not a pwalk journal");
    // undo of it (the journal of a run killed before its header): said
    // so, and that it changed nothing; refused as no journal (exit 2)
    const none = await cli(["undo", "--apply", journal]);
    assertEquals(none.code, 2, none.stderr);
    assertEquals(errLines(none.stderr), [
      `pwalk: ${journal} is empty: no pwalk journal, or that of a run stopped before its first ` +
      "line, which changed nothing: nothing to undo",
    ]);
    // a run killed within the first bytes of its header: said so too
    Deno.writeTextFileSync(journal, "#pwalk-jour");
    const cut = await cli(["undo", "--apply", journal]);
    assertEquals(cut.code, 2, cut.stderr);
    assertEquals(errLines(cut.stderr), [
      `pwalk: ${journal} holds only the start of a pwalk journal's first line: a run stopped ` +
      "while writing it, which changed nothing: nothing to undo",
    ]);
    assertEquals(diffSnapshots(before, snapshot(b)), [], "B changed");
  },
});

testNeeding([PYTHON3], {
  name: "one run appends to a journal at a time; undo waits for it to end; a torn tail is cut",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const a = `${tmp.path}/A`, b = `${tmp.path}/B`;
    buildTree(a, [PROJECT, own("a1"), own("a2")]);
    buildTree(b, [PROJECT, own("b1")]);
    const beforeA = snapshot(a), beforeB = snapshot(b);
    const journal = `${tmp.path}/j`;
    const first = await cli(["repair", "--apply", "--journal", journal, a]);
    assertEquals(first.code, 0, first.stderr);
    const kept = Deno.readFileSync(journal);

    // Another run holds the journal (flock, from Python, as a run does).
    const holder = await journalHolder(journal);
    const busy = await cli(["repair", "--apply", "--journal", journal, b]);
    assertEquals(busy.code, 1, busy.stderr);
    assertEquals(
      busy.stderr.trim(),
      `pwalk: journal ${journal}: in use by another run (it holds the journal's lock); wait for ` +
        "it to end, or give another --journal",
    );
    assertEquals(diffSnapshots(beforeB, snapshot(b)), [], "B changed without a journal");
    const early = await cli(["undo", journal]);
    assertEquals(early.code, 1, early.stderr);
    assertStringIncludes(early.stderr, "in use by a repair or chown still running");
    assertEquals(Deno.readFileSync(journal), kept, "the journal changed");
    await holder.release();

    // A torn last line (a run killed mid-write): cut off before the next
    // run's header, which would otherwise be glued to it.
    Deno.truncateSync(journal, kept.length - 5);
    const second = await cli(["repair", "--apply", "--journal", journal, b]);
    assertEquals(second.code, 0, second.stderr);
    const text = Deno.readTextFileSync(journal);
    const cut = dec.decode(kept).split("\n").slice(0, -2).join("\n") + "\n";
    assert(text.startsWith(cut + "#pwalk-journal 2 repair apply "), text);
    const un = await cli(["undo", "--apply", journal]);
    assertEquals(un.code, 0, un.stderr);
    // the cut line's change stays (its line is gone); everything else goes back
    const stays = diffSnapshots(beforeA, snapshot(a));
    assertEquals(stays.length, 1, stays.join("\n"));
    assertEquals(diffSnapshots(beforeB, snapshot(b)), []);
  },
});

Deno.test("undo of a journal of 500,000 lines: memory grows by a few bytes a line, not an object each", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT]);
  const st = Deno.statSync(root);
  // a run whose ROOT is not the recorded folder any more: every line is
  // read and checked, and the run's entries are left alone (one error)
  const lines = [`#pwalk-journal 1 repair apply ${st.dev} ${st.ino! + 1} ${root}`];
  for (let i = 0; i < 500_000; i++) {
    lines.push(`${st.dev} ${1_000_000 + i} f 1001 1001 0600 1001 5000 0640 data/run-${i}.fastq`);
  }
  const journal = `${tmp.path}/big.journal`;
  Deno.writeTextFileSync(journal, lines.join("\n") + "\n", { mode: 0o600 });
  const size = Deno.statSync(journal).size;
  const child = `${tmp.path}/child.ts`;
  Deno.writeTextFileSync(
    child,
    `import { undo } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
const kib = (f: string) =>
  Number(/(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status").split(f + ":")[1])![1]);
const before = kib("VmRSS");
const s = await undo(Deno.args[0]);
console.log(JSON.stringify({ entries: s.entries, errors: s.errors, before, hwm: kib("VmHWM") }));
`,
  );
  const r = await run(Deno.execPath(), ["run", "-A", child, journal]);
  assertEquals(r.code, 0, r.stderr);
  const m = JSON.parse(r.text);
  assertEquals([m.entries, m.errors], [500_000, 500_000]);
  // the file's bytes and 12 bytes a line, and the runtime's slack; a record
  // per line took about 2 KiB a line (1 GB here)
  const grown = (m.hwm - m.before) * 1024;
  assert(grown < size + 150 * 2 ** 20, `grew ${grown} bytes for a ${size}-byte journal`);
});

Deno.test("undo of a journal of 1,200 runs under a limit of 256 open files puts every one back", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  // 600 runs of one ROOT, then 600 runs of a ROOT each: every line puts a
  // file's mode 0600 back (the runs made it 0644)
  const shared = `${tmp.path}/shared`;
  Deno.mkdirSync(shared);
  const files: string[] = [];
  const text: string[] = [];
  const addRun = (root: string, name: string) => {
    const f = `${root}/${name}`;
    Deno.writeTextFileSync(f, name);
    Deno.chmodSync(f, 0o644);
    const r = Deno.statSync(root), s = Deno.statSync(f);
    text.push(`#pwalk-journal 1 repair apply ${r.dev} ${r.ino} ${root}`);
    text.push(`${s.dev} ${s.ino} f 0 0 0600 0 0 0644 ${name}`);
    files.push(f);
  };
  for (let i = 0; i < 600; i++) addRun(shared, `f${i}`);
  for (let i = 0; i < 600; i++) {
    Deno.mkdirSync(`${tmp.path}/r${i}`);
    addRun(`${tmp.path}/r${i}`, "f");
  }
  const journal = `${tmp.path}/j`;
  Deno.writeTextFileSync(journal, text.join("\n") + "\n", { mode: 0o600 });
  const r = await run(
    "sh",
    [
      "-c",
      'ulimit -n 256 && exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      CLI,
      "undo",
      "--apply",
      journal,
    ],
    { env: { NO_COLOR: "1" } },
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(
    errLines(r.stderr)[0].replace(/ in .*/, ""),
    "pwalk undo: 1,200 journal entries, 1,200 restored, 0 already as before, " +
      "0 with fields kept, 0 errors",
  );
  assertEquals(files.filter((f) => (Deno.statSync(f).mode! & 0o7777) !== 0o600), []);
});

/** How a run under a limit of open files ended. */
type LimitOutcome = "complete" | "out of descriptors" | "failed";

/**
 * Run `one` under limits of open files from 48 (where the CLI has enough)
 * down to where it runs out of descriptors: by 4 while the runs complete,
 * then one by one from just below the lowest that completed, until the
 * first that runs out (or 12). Every limit between the lowest that completed
 * and the first that ran out is tried, as a descent one by one from 48
 * would; only limits above one that completed (more descriptors to spare)
 * are left out. How many runs completed, and ran out.
 */
async function descendLimits(
  one: (n: number) => Promise<LimitOutcome>,
): Promise<{ done: number; fatal: number }> {
  const seen = new Map<number, LimitOutcome>();
  const at = async (n: number) => {
    if (!seen.has(n)) seen.set(n, await one(n));
    return seen.get(n)!;
  };
  let lowest = 49;
  for (let n = 48; n >= 12 && (await at(n)) === "complete"; n -= 4) lowest = n;
  for (let n = lowest - 1; n >= 12 && (await at(n)) !== "out of descriptors"; n--);
  const outcomes = [...seen.values()];
  return {
    done: outcomes.filter((o) => o === "complete").length,
    fatal: outcomes.filter((o) => o === "out of descriptors").length,
  };
}

testNeeding([PRLIMIT], {
  name:
    "out of descriptors during --apply: the run fails (Too many open files), never ends as complete with entries left; undo puts back what it did",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    // four folders of ten private files, four workers: each worker holds its
    // folder's descriptor and needs one more per entry it changes (an O_PATH
    // descriptor); at the right limit a worker's folder opens and its
    // entries' descriptors do not
    const spec: EntrySpec[] = [PROJECT];
    for (let d = 0; d < 4; d++) {
      spec.push(own(`s${d}`, "dir"));
      for (let i = 0; i < 10; i++) spec.push(own(`s${d}/f${i}`));
    }
    // the reference: the same tree repaired with descriptors to spare
    const ref = `${tmp.path}/ref`;
    buildTree(ref, spec);
    const r0 = await cli(["repair", "--apply", "--journal", `${tmp.path}/ref.j`, ref]);
    assertEquals(r0.code, 0, r0.stderr);
    const want = snapshot(ref);
    // Limits from where the CLI has enough down to where it runs out
    // (descendLimits): each run completes whole (status 0, the reference's
    // every entry), or fails saying why (the journal then undoes whatever it
    // did); the first that fails for want of descriptors ends the search.
    const { done, fatal } = await descendLimits(async (n) => {
      const root = `${tmp.path}/t${n}`, journal = `${tmp.path}/j${n}`;
      buildTree(root, spec);
      const before = snapshot(root);
      const r = await run("prlimit", [
        `--nofile=${n}:${n}`,
        "--",
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "repair",
        "--apply",
        "--threads",
        "4",
        "--journal",
        journal,
        root,
      ], { env: { NO_COLOR: "1" } });
      if (r.code === 0) {
        // (status 0 with entries left: each a "Too many open files" error)
        assertEquals(
          diffSnapshots(want, snapshot(root), ["uid", "gid", "mode", "type"]),
          [],
          `n=${n}`,
        );
        assertStringIncludes(r.stderr, " 0 errors", `n=${n}`);
        return "complete";
      }
      const ranOut = r.stderr.includes(
        "Too many open files: raise the limit of open files (ulimit -n)",
      );
      if (ranOut) assertEquals(r.code, 1, r.stderr);
      // failed (or the runtime could not start): undone, the tree is as before
      let jst: Deno.FileInfo | undefined;
      try {
        jst = Deno.statSync(journal);
      } catch { /* no journal: nothing was changed */ }
      if (jst) {
        const u = await cli(["undo", "--apply", journal]);
        assertEquals(u.code, 0, u.stderr);
        assertStringIncludes(u.stderr, " 0 errors", u.stderr);
      }
      assertEquals(diffSnapshots(before, snapshot(root)), [], `n=${n}: ${r.stderr}`);
      return ranOut ? "out of descriptors" : "failed";
    });
    assert(done > 0, "no limit was enough");
    assert(fatal > 0, "no limit ran out of descriptors during the walk");
  },
});

testNeeding([PRLIMIT], {
  name:
    "out of descriptors during undo: it fails (Too many open files), never ends as done with lines left; undone again, all is back",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    // entries a folder down: undo reaches each one name at a time, a
    // descriptor per folder on the way
    const spec: EntrySpec[] = [PROJECT, own("a", "dir")];
    for (let i = 0; i < 20; i++) spec.push(own(`a/f${i}`));
    // Limits from where the CLI has enough down to where it runs out
    // (descendLimits): each undo puts every entry back (status 0, no error),
    // or fails saying why (undone again, with descriptors to spare, every
    // entry is back); the first that fails for want of descriptors ends the
    // search.
    const { done, fatal } = await descendLimits(async (n) => {
      const root = `${tmp.path}/t${n}`, journal = `${tmp.path}/j${n}`;
      buildTree(root, spec);
      const before = snapshot(root);
      // (the repair to undo, by the API in this process: its journal as the
      // CLI's, without a runtime's start for each limit)
      const ap = await repair(root, { apply: true, journal });
      assertEquals(ap.errors, 0, JSON.stringify(ap.errorDetails));
      assert(diffSnapshots(before, snapshot(root)).length > 20, "the repair changed nothing");
      const r = await run("prlimit", [
        `--nofile=${n}:${n}`,
        "--",
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "undo",
        "--apply",
        journal,
      ], { env: { NO_COLOR: "1" } });
      if (r.code === 0) {
        // (status 0 with lines left: each a "Too many open files" error)
        assertStringIncludes(r.stderr, " 0 errors", `n=${n}`);
        assertEquals(diffSnapshots(before, snapshot(root)), [], `n=${n}`);
        return "complete";
      }
      const ranOut = r.stderr.includes(
        "Too many open files: raise the limit of open files (ulimit -n)",
      );
      if (ranOut) assertEquals(r.code, 1, r.stderr);
      const again = await cli(["undo", "--apply", journal]);
      assertEquals(again.code, 0, again.stderr);
      assertStringIncludes(again.stderr, " 0 errors", again.stderr);
      assertEquals(diffSnapshots(before, snapshot(root)), [], `n=${n}: ${r.stderr}`);
      return ranOut ? "out of descriptors" : "failed";
    });
    assert(done > 0, "no limit was enough");
    assert(fatal > 0, "no limit ran out of descriptors during the undo");
  },
});

// ---------------------------------------------------------------------------
// 8. A journal torn by a full disk.

Deno.test({
  name: "a full disk: the journal keeps whole lines only, and undo puts everything back",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    const spec: EntrySpec[] = [PROJECT];
    for (let i = 0; i < 300; i++) spec.push(own(`file-with-a-longish-name-${i}`));
    buildTree(root, spec);
    const before = snapshot(root);
    const mnt = `${tmp.path}/mnt`;
    Deno.mkdirSync(mnt);
    assertEquals(await mountTmpfs(mnt, "size=256k"), "");
    // The journal starts with a small dry run's plan (nothing for undo to
    // put back: not mentioned); then the file system is filled, so the only
    // room left is the rest of the journal's last page: the apply run's
    // header and a few lines fit, then a line is torn.
    const journal = `${mnt}/j`;
    const small = `${tmp.path}/small`;
    buildTree(small, [PROJECT, own("a")]);
    await repair(small, { journal });
    const room = 4096 - Deno.statSync(journal).size % 4096;
    assert(room > 600, `room ${room}`);
    fillUp(mnt);

    const r = await cli(["repair", "--apply", "--journal", journal, root]);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(
      r.stderr,
      `cannot write the journal: No space left on device; the changes made before it are in ` +
        `${journal}: pwalk undo --apply ${journal} puts them back\n`,
    );
    const text = Deno.readTextFileSync(journal);
    assert(text.endsWith("\n"), "a torn line was left at the end");
    const { entries, tornLine } = await readJournal(journal);
    assertEquals(tornLine, 0);
    assert(entries.length > 3, `only ${entries.length} lines fitted`);
    // Every change made has its line; nothing changed without one.
    const after = snapshot(root);
    const changed = [...after].filter(([rel, s]) => ugmOf(s) !== ugmOf(before.get(rel)!)).map((
      [rel],
    ) => rel).sort();
    assertEquals(entries.map((e) => dec.decode(e.line.rel)).sort(), changed);
    assert(changed.length < 300, "the run was not stopped by the full disk");

    const u = await cli(["undo", "--apply", journal]);
    assertEquals(u.code, 0, u.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), []);
    closeLibc();
  },
});

Deno.test({
  name: "a full disk under a dry run's journal: nothing was changed, and no undo is offered " +
    "(it would put back the earlier real runs the journal holds)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const spec: EntrySpec[] = [PROJECT];
    for (let i = 0; i < 300; i++) spec.push(own(`file-with-a-longish-name-${i}`));
    const b = `${tmp.path}/b`;
    buildTree(b, spec);
    const bBefore = snapshot(b);
    const dryRuns = [["repair"], ["chown", "--chown_from", "1001", "--chown_to", "1:1"]];
    for (const [i, args] of dryRuns.entries()) {
      // a real run of one change into the journal, on a file system of its
      // own then filled: the dry run's header fits in the rest of the
      // journal's last page, its 300 lines do not
      const a = `${tmp.path}/a${i}`;
      buildTree(a, [PROJECT, own("a")]);
      const mnt = `${tmp.path}/mnt${i}`;
      Deno.mkdirSync(mnt);
      assertEquals(await mountTmpfs(mnt, "size=256k"), "");
      const journal = `${mnt}/j`;
      const real = await cli(["repair", "--apply", "--journal", journal, a]);
      assertEquals(real.code, 0, real.stderr);
      const aAfter = snapshot(a);
      const room = 4096 - Deno.statSync(journal).size % 4096;
      assert(room > 2000, `room ${room}`);
      fillUp(mnt);
      const r = await cli([...args, "--journal", journal, b]);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(
        r.stderr.split("\n").find((l) => l.startsWith("pwalk: cannot write")),
        `pwalk: cannot write the journal: No space left on device; a dry run: nothing was ` +
          `changed (its plan in ${journal} is cut short)`,
        r.stderr,
      );
      assert(!r.stderr.includes("undo"), r.stderr);
      assertEquals(diffSnapshots(bBefore, snapshot(b)), [], args[0]);
      // the real run's changes, which its undo would put back, are still there
      assertEquals(diffSnapshots(aAfter, snapshot(a)), [], args[0]);
    }
    closeLibc();
  },
});

Deno.test({
  name:
    "repair --apply stopped by its --errors file (a full disk): the error line says the changes made are in the journal and how undo puts them back (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    // the files first (the root's listing, one thread), then a folder of
    // device nodes: a notice (an error row) each, 60 rows, past one page
    buildTree(root, [PROJECT, own("a"), own("b"), own("c"), {
      rel: "zz",
      type: "dir",
      uid: 100,
      gid: G.PROJECT,
      mode: 0o2770,
    }]);
    await python(
      `import os, stat, sys
for i in range(60):
  os.mknod(sys.argv[1] + '/zz/device-node-with-a-longish-name-%03d' % i, 0o600 | stat.S_IFCHR, os.makedev(1, 3))`,
      root,
    );
    const before = snapshot(root);
    // the --errors file on a tmpfs with one page left: its header fits, its rows do not
    const mnt = `${tmp.path}/mnt`;
    Deno.mkdirSync(mnt);
    assertEquals(await mountTmpfs(mnt, "size=256k"), "");
    Deno.writeFileSync(`${mnt}/spare`, new Uint8Array(4096));
    fillUp(mnt);
    Deno.removeSync(`${mnt}/spare`);
    const journal = `${tmp.path}/j`, errors = `${mnt}/errors.csv`;
    // one thread: the root's files are changed before the device nodes' rows
    const run = (...args: string[]) =>
      cli(["repair", "--threads", "1", ...args, "--errors", errors, root]);
    // a dry run (its plan journaled): nothing changed, no undo to offer
    const plan = `${tmp.path}/plan`;
    const dry = await run("--journal", plan);
    assertEquals(dry.code, 1, dry.stderr);
    assertEquals(
      dry.stderr.trimEnd().split("\n").at(-1),
      `pwalk: --errors ${errors}: cannot write: No space left on device`,
    );
    assertEquals(diffSnapshots(before, snapshot(root)), [], "a dry run changed nothing");
    const r = await run("--apply", "--journal", journal);
    assertEquals(r.code, 1, r.stderr);
    // the run stopped part way: what it changed before is in the journal
    assertEquals(
      r.stderr.trimEnd().split("\n").at(-1),
      `pwalk: --errors ${errors}: cannot write: No space left on device; the changes made ` +
        `before it are in ${journal}: pwalk undo --apply ${journal} puts them back`,
    );
    assert(diffSnapshots(before, snapshot(root)).length > 0, "the premise: something changed");
    const u = await cli(["undo", "--apply", journal]);
    assertEquals(u.code, 0, u.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "undo put back what it changed");
  },
});

testNeeding([PRLIMIT], {
  name:
    "a file size limit under the journal (RLIMIT_FSIZE): File too large, not a full disk; the API's process not killed",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a"), own("b", "dir")]);
    const before = snapshot(root);
    // A journal of an earlier run 40 bytes short of the limit: the next
    // header's write is cut short there. The limit is beyond Deno's own
    // cache files, which the process may write too (the API's process would
    // die of their SIGXFSZ): 64 MiB, or a power of two past twice the
    // largest of them, were one bigger than 32 MiB (a few MiB here). Lines
    // undo reads, 1 MiB each (a journal with a bad line, a sparse one's
    // NULs, is not appended to). Its every byte is read three times below
    // (readJournal, the CLI, the API): a smaller limit is quicker.
    const { denoDir } = JSON.parse((await runOk(Deno.execPath(), ["info", "--json"])).text);
    let cached = 0;
    for (const e of Deno.readDirSync(denoDir)) {
      if (e.isFile) cached = Math.max(cached, Deno.statSync(`${denoDir}/${e.name}`).size);
    }
    const limit = Math.max(64 * 2 ** 20, 2 ** Math.ceil(Math.log2(2 * cached)));
    const journal = `${tmp.path}/j`;
    let entries = 0;
    {
      using f = Deno.openSync(journal, { write: true, createNew: true, mode: 0o600 });
      const entry = (n: number) => `1 1 f 0 0 0600 0 0 0600 ${"a".repeat(n - 25)}\n`;
      const head = "#pwalk-journal 1 repair dry-run 1 2 /nowhere\n";
      let left = limit - 40 - head.length;
      const text = [head];
      while (left > 0) {
        const n = left > 2 * 2 ** 20 ? 2 ** 20 : left;
        text.push(entry(n));
        left -= n;
      }
      for (const t of text) {
        const b = new TextEncoder().encode(t);
        for (let o = 0; o < b.length;) o += f.writeSync(b.subarray(o));
      }
      entries = text.length - 1;
    }
    const oldSize = Deno.statSync(journal).size;
    assertEquals(oldSize, limit - 40);
    assertEquals((await readJournal(journal)).dryRun, entries, "a journal undo reads");
    const prefix = ["prlimit", `--fsize=${limit}`, "--"];
    const r = await cli(["repair", "--apply", "--journal", journal, root], { prefix });
    assertEquals([r.code, r.signal], [1, null], r.stderr);
    // the errno of the write of the rest, not a full disk the short write was taken for
    assertStringIncludes(
      r.stderr,
      `pwalk: cannot write the journal: File too large; nothing was changed (the journal ` +
        `${journal} holds nothing of this run)\n`,
    );
    // the API in a process of its own, which (unlike the CLI) takes no
    // SIGXFSZ: the write fails all the same, nothing kills the process
    const api = await helperScript("api_json.ts", [
      "repair",
      root,
      JSON.stringify({ apply: true, journal }),
    ], { prefix });
    assertEquals([api.code, api.signal], [1, null], api.stderr);
    assertStringIncludes(api.stderr, "cannot write the journal: File too large");
    assertEquals(Deno.statSync(journal).size, oldSize, "the journal changed");
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  },
});

Deno.test({
  name:
    "a full disk before the journal's header: nothing changed, no undo to give, an empty journal the run made removed",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a"), own("b", "dir")]);
    const before = snapshot(root);
    const mnt = `${tmp.path}/mnt`;
    Deno.mkdirSync(mnt);
    assertEquals(await mountTmpfs(mnt, "size=64k"), "");
    // an earlier run's journal that ends at a page's end: no room in it either
    const old = `${mnt}/old.journal`;
    const head = "#pwalk-journal 1 repair dry-run 1 2 /";
    const oldText = head + "x".repeat(4096 - head.length - 1) + "\n";
    Deno.writeTextFileSync(old, oldText, { mode: 0o600 });
    fillUp(mnt);
    for (const [journal, made] of [[`${mnt}/new.journal`, true], [old, false]] as const) {
      const r = await cli(["repair", "--apply", "--journal", journal, root]);
      assertEquals(r.code, 1, r.stderr);
      assertStringIncludes(
        r.stderr,
        `pwalk: cannot write the journal: No space left on device; nothing was changed (the ` +
          `journal ${journal}${made ? ", empty, was removed)" : " holds nothing of this run)"}\n`,
      );
      // no undo to run: it would refuse an empty file, or undo the earlier runs
      assert(!r.stderr.includes("undo"), r.stderr);
      assertEquals(diffSnapshots(before, snapshot(root)), []);
      if (made) {
        assertThrows(() => Deno.lstatSync(journal), Deno.errors.NotFound, undefined, "left");
      } else assertEquals(Deno.readTextFileSync(journal), oldText);
    }
  },
});

function ugmOf(s: { uid: number; gid: number; mode: number }): string {
  return `${s.uid}:${s.gid}:${s.mode}`;
}

Deno.test("undo's dry run of a journal of two runs tells what --apply then does", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    PROJECT,
    { rel: "f", type: "file", uid: 1001, gid: 1001, mode: 0o600 },
    { rel: "d", type: "dir", uid: 1001, gid: 1001, mode: 0o700 },
    { rel: "d/g", type: "file", uid: 1001, gid: 1001, mode: 0o4750 },
  ]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  // two runs, one journal: repair (group, modes), then chown 1001 -> 1042:1043
  const r = await cli(["repair", "--apply", "--journal", journal, root]);
  assertEquals(r.code, 0, r.stderr);
  const c = await cli([
    "--chown_from",
    "1001",
    "--chown_to",
    "1042:1043",
    "--apply",
    "--journal",
    journal,
    root,
  ]);
  assertEquals(c.code, 0, c.stderr);
  const dry = await cli(["undo", journal]);
  assertEquals(dry.code, 0, dry.stderr);
  const un = await cli(["undo", "--apply", journal]);
  assertEquals(un.code, 0, un.stderr);
  assertEquals(diffSnapshots(before, snapshot(root), ["type", "ino"]), []);
  // line for line, the dry run's lines are the apply's, "would restore: " aside
  const said = (b: Uint8Array) => lines(b).map((l) => l.replace(/^would restore: /, ""));
  assertEquals(said(dry.stdout), said(un.stdout));
  assert(!dry.stdout.length || !said(dry.stdout).some((l) => l.includes("changed since")));
  closeLibc();
});

Deno.test("undo: a torn last line is one error, a bad line in the middle refuses the file", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("b"), own("c"), own("d")]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  await repair(root, { apply: true, journal, threads: 1 });
  const mid = snapshot(root);
  const text = Deno.readTextFileSync(journal);
  const ls = text.split("\n").filter((l) => l);
  const last = ls[ls.length - 1].split(" ")[10];

  // The middle: refused whole, nothing changed.
  const bad = `${tmp.path}/bad`;
  Deno.writeTextFileSync(bad, [ls[0], ls[1], "0 0 f garbage", ...ls.slice(2)].join("\n") + "\n", {
    mode: 0o600,
  });
  const rb = await cli(["undo", "--apply", bad]);
  assertEquals(rb.code, 2, rb.stderr);
  assertEquals(errLines(rb.stderr), [`pwalk: ${bad}:3: not a pwalk journal line: 0 0 f garbage`]);
  assertEquals(diffSnapshots(mid, snapshot(root)), []);

  // An owner beyond 32 bits (2^32 would be cast to uid 0, root): refused whole.
  for (const id of ["4294967296", "4294967295", "99999999999"]) {
    const f = ls[1].split(" ");
    f[3] = id;
    Deno.writeTextFileSync(bad, [ls[0], f.join(" "), ...ls.slice(2)].join("\n") + "\n", {
      mode: 0o600,
    });
    const ru = await cli(["undo", "--apply", bad]);
    assertEquals(ru.code, 2, ru.stderr);
    assertStringIncludes(ru.stderr, `pwalk: ${bad}:2: `);
    assertEquals(diffSnapshots(mid, snapshot(root)), [], id);
  }

  // The end torn: every complete line undone, one error.
  Deno.writeTextFileSync(journal, text.slice(0, -7));
  const r = await cli(["undo", "--apply", journal]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(
    errLines(r.stderr)[0],
    `pwalk: undo '${journal}': line ${ls.length} has no end (the run stopped while writing it, ` +
      "e.g. a full disk): left out; the lines before it are undone",
  );
  assertStringIncludes(
    r.stderr,
    `${ls.length - 2} restored, 0 already as before, 0 with fields kept, 1 error in`,
  );
  const after = snapshot(root);
  assertEquals(after.get(last), mid.get(last), "the torn line's entry was touched");
  after.set(last, before.get(last)!);
  assertEquals(diffSnapshots(before, after), []);
  const api = await undo(journal);
  assertEquals([api.tornLastLine, api.errors, api.errorDetails[0].op], [true, 1, "torn"]);
  closeLibc();
});

Deno.test("undo refuses, whole, lines no run writes: an empty line, leading zeros, a device past 2^64 - 1, a NUL or needless escape, type ? (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("b"), own("c")]);
  const journal = `${tmp.path}/j`;
  await repair(root, { apply: true, journal, threads: 1 });
  const mid = snapshot(root);
  const ls = Deno.readTextFileSync(journal).split("\n").filter((l) => l);
  assertEquals(ls.length, 4, "a header and three lines");
  // the second entry line (line 3 of the file) with field k set to v
  const edit = (k: number, v: (old: string) => string) => {
    const f = ls[2].split(" ");
    f[k] = v(f[k]);
    return [ls[0], ls[1], f.join(" "), ls[3]];
  };
  const bad = `${tmp.path}/bad`;
  const cases: [string, string[], string][] = [
    ["an empty line", [ls[0], ls[1], "", ls[2], ls[3]], "not a pwalk journal line: "],
    ["a uid with a leading zero", edit(3, (u) => `0${u}`), "bad uid in journal: 0"],
    ["a gid with a leading zero", edit(7, (g) => `0${g}`), "bad gid in journal: 0"],
    ["a device with a leading zero", edit(0, (d) => `0${d}`), "bad device in journal: 0"],
    ["an inode with a leading zero", edit(1, (i) => `00${i}`), "bad inode in journal: 00"],
    ["a device of 2^64", edit(0, () => "18446744073709551616"), "bad device in journal: "],
    ["an inode past 2^64", edit(1, () => "99999999999999999999"), "bad inode in journal: "],
    ["a NUL byte", edit(10, (p) => `${p}\\x00x`), "bad escape in journal path: "],
    ["a slash escaped", edit(10, (p) => `${p}\\x2fx`), "bad escape in journal path: "],
    ["a letter escaped", edit(10, (p) => `\\x61${p}`), "bad escape in journal path: "],
    ["a birth time without its nine digits", edit(9, () => "12.5"), "bad birth time in journal: "],
    ["an empty birth time", edit(9, () => ""), "bad birth time in journal: "],
    [
      "a version 1 line (no birth time) in a version 2 run",
      [ls[0], ls[1], ls[2].split(" ").filter((_, k) => k !== 9).join(" "), ls[3]],
      "not a pwalk journal line: ",
    ],
    ["type ?", edit(2, () => "?"), "not a pwalk journal line: "],
  ];
  for (const [what, lines, message] of cases) {
    Deno.writeTextFileSync(bad, lines.join("\n") + "\n", { mode: 0o600 });
    const r = await cli(["undo", "--apply", bad]);
    assertEquals(r.code, 2, `${what}: ${r.stderr}`);
    assertStringIncludes(r.stderr, `pwalk: ${bad}:3: ${message}`, what);
    assertEquals(diffSnapshots(mid, snapshot(root)), [], what);
    await assertRejects(() => readJournal(bad), SyntaxError, `${bad}:3: ${message}`);
  }
  // what the journal does write reads: a device of 2^64 - 1, an escaped backslash
  Deno.writeTextFileSync(
    bad,
    [...edit(0, () => "18446744073709551615"), "0 0 f 0 0 0644 0 0 0640 - a\\x5cb\\x0a"].join(
      "\n",
    ) + "\n",
    { mode: 0o600 },
  );
  const { entries } = await readJournal(bad);
  assertEquals(entries[1].line.dev, 18446744073709551615n);
  assertEquals(entries[3].line.rel, new TextEncoder().encode("a\\b\n"));
  closeLibc();
});

Deno.test("a journal header whose ROOT is not canonical is refused as such, not as a path leaving its ROOT; repair's --errors - names what its stdout carries (audit)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const journal = `${tmp.path}/j`;
  await repair(root, { apply: true, journal, threads: 1 });
  const ls = Deno.readTextFileSync(journal).split("\n").filter((l) => l);
  assert(ls[0].endsWith(` ${root}`), ls[0]);
  const bad = `${tmp.path}/bad`;
  // respelled by hand: a trailing slash, a doubled one, a "." component
  const spelled = [`${root}/`, root.replace("/", "//"), `${tmp.path}/./proj`];
  for (const other of spelled) {
    const header = ls[0].slice(0, -root.length) + other;
    Deno.writeTextFileSync(bad, [header, ...ls.slice(1)].join("\n") + "\n", { mode: 0o600 });
    const r = await cli(["undo", bad]);
    assertEquals(r.code, 2, `${other}: ${r.stderr}`);
    assertStringIncludes(r.stderr, `pwalk: ${bad}:1: a journal ROOT that is not a canonical path`);
    assertStringIncludes(r.stderr, other);
    assert(!r.stderr.includes("does not stay below"), r.stderr);
  }
  // --errors - of a repair or chown: stdout carries the change lines, no report
  for (
    const args of [
      ["repair"],
      ["--chown_from", "4242", "--chown_to", "4243:4243"],
    ]
  ) {
    const r = await cli([...args, "--errors", "-", root]);
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(
      r.stderr,
      "pwalk: --errors - is stdout, which carries the change lines: give the errors a file of " +
        "their own",
    );
    assert(!r.stderr.includes("report"), r.stderr);
  }
});

// ---------------------------------------------------------------------------
// 9. Dry runs by default; the API's default journal.

Deno.test("undo is a dry run unless --apply; the API journals applied runs by default", async (t) => {
  await using tmp = await tempDir("pwalk-safety-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("d", "dir"), own("d/b")]);
  const before = snapshot(root);
  const journal = `${tmp.path}/j`;
  await repair(root, { apply: true, journal });
  const mid = snapshot(root);

  await t.step("CLI and API: nothing changes without --apply / apply: true", async () => {
    for (
      const args of [["undo", journal], ["undo", "--dry-run", journal], [
        "repair",
        "--undo",
        journal,
      ]]
    ) {
      const r = await cli(args);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(lines(r.stdout).length, 3);
      assertStringIncludes(r.stderr, "dry run, nothing was changed; add --apply to restore");
      assertEquals(diffSnapshots(mid, snapshot(root)), [], args.join(" "));
    }
    const u = await undo(journal);
    assertEquals([u.applied, u.restored], [false, 3]);
    assertEquals(diffSnapshots(mid, snapshot(root)), []);
    const both = await cli(["undo", "--apply", "--dry-run", journal]);
    assertEquals(both.code, 2);
  });

  await t.step("--apply before or after the journal, for undo and repair --undo", async () => {
    for (const args of [["undo", journal, "--apply"], ["repair", "--undo", journal, "--apply"]]) {
      const r = await cli(args);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(diffSnapshots(before, snapshot(root)), [], args.join(" "));
      await repair(root, { apply: true, journal: false });
      assertEquals(diffSnapshots(mid, snapshot(root)), []);
    }
  });

  await t.step(
    "repair(apply) writes a journal to the default place, journal: false none",
    async () => {
      const undone = await cli(["undo", "--apply", journal]);
      assertEquals(undone.code, 0, undone.stderr);
      for (
        const [env, dir] of [
          [{ XDG_STATE_HOME: `${tmp.path}/xdg` }, `${tmp.path}/xdg/pwalk`],
          [{ XDG_STATE_HOME: "", HOME: `${tmp.path}/home` }, `${tmp.path}/home/.local/state/pwalk`],
        ] as const
      ) {
        const s = await apiInChild("repair", root, { apply: true }, { env }) as unknown as {
          journal: string;
          entriesChanged: number;
        };
        assertEquals(s.entriesChanged, 3);
        assert(s.journal.startsWith(`${dir}/repair-`), s.journal);
        assertEquals(Deno.statSync(dir).mode! & 0o777, 0o700);
        assertEquals(Deno.statSync(s.journal).mode! & 0o777, 0o600);
        assertEquals((await readJournal(s.journal)).entries.length, 3);
        const u = await undo(s.journal, { apply: true });
        assertEquals(u.restored, 3);
        assertEquals(diffSnapshots(before, snapshot(root)), []);
      }
      const none = await apiInChild("repair", root, { apply: true, journal: false }, {
        env: { XDG_STATE_HOME: `${tmp.path}/none` },
      }) as unknown as { journal: string | null };
      assertEquals(none.journal, null);
      assert(!(await Deno.lstat(`${tmp.path}/none`).then(() => true, () => false)));
    },
  );
  closeLibc();
});

// ---------------------------------------------------------------------------
// 10. System folders.

Deno.test("system folders are refused without --allow-system (by real path)", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  Deno.symlinkSync("/usr/share", `${tmp.path}/share`);
  Deno.symlinkSync("/etc", `${tmp.path}/etc`);
  const cases: [string, string][] = [
    ["/usr", "/usr"],
    ["/usr/share", "/usr/share"],
    ["/etc", "/etc"],
    ["/root", "/root"],
    [`${tmp.path}/share`, "/usr/share"],
    [`${tmp.path}/etc/`, "/etc"],
    ["/usr/../etc", "/etc"],
  ];
  for (const [root, real] of cases) {
    for (
      const [kind, args] of [
        ["repair", ["repair", "--apply", root]],
        ["chown", ["--chown_from", "4242", "--chown_to", "4243:4243", "--apply", root]],
      ] as const
    ) {
      const r = await cli([...args]);
      assertEquals(r.code, 2, `${root}: ${r.stderr}`);
      assertEquals(r.stdout.length, 0);
      const line = errLines(r.stderr)[0];
      assert(
        line.startsWith(`pwalk: refusing to ${kind} ${real}: a system folder (`) &&
          line.endsWith("add --allow-system (API: allowSystem: true) if you really mean it"),
        line,
      );
    }
  }
  // /bin on a merged-/usr system is a link into /usr: refused either way.
  assertEquals((await cli(["repair", "/bin"])).code, 2);
  await assertRejects(() => repair("/usr/share"), RefusedError, "a system folder (/usr)");
  await assertRejects(
    () => chown(`${tmp.path}/etc`, { from: 4242, to: { uid: 4243 } }),
    RefusedError,
    "refusing to chown /etc",
  );
  // Allowed when asked (a dry run of /etc, nothing changes), and / still needs --force.
  const etc = await repair("/etc", { allowSystem: true });
  assertEquals(etc.applied, false);
  assert(etc.entriesSeen > 10);
  const slash = await cli(["repair", "--allow-system", "/"]);
  assertEquals(slash.code, 2);
  assertStringIncludes(slash.stderr, "refusing to repair / (the whole file system)");
  // An ordinary folder is not refused.
  assertEquals((await cli(["repair", tmp.path])).code, 0);
});

Deno.test("the daemons' state (/var/lib, /var/spool...) is refused as system folders are; repair refuses /var, /tmp themselves (not a folder below); chown takes them", async () => {
  const tail = "add --allow-system (API: allowSystem: true) if you really mean it";
  for (const kind of ["repair", "chown"] as const) {
    for (const root of ["/var/lib", "/var/spool", "/var/log"]) {
      const args = kind === "repair"
        ? ["repair", root]
        : ["--chown_from", "4242", "--chown_to", "1:1", root];
      const r = await cli(args);
      assertEquals([r.code, r.stdout.length], [2, 0], r.stderr);
      const real = Deno.realPathSync(root);
      const f = SYSTEM_FOLDERS.find((x) => real === x || real.startsWith(`${x}/`))!;
      assertEquals(errLines(r.stderr), [
        `pwalk: refusing to ${kind} ${real}: a system folder (${f}); ${tail}`,
      ]);
    }
  }
  // the premise: the daemons' folders are in the exported list
  for (const f of ["/var/lib", "/var/spool"]) assert(SYSTEM_FOLDERS.includes(f), f);
  for (const top of ["/var", "/tmp"]) {
    assert(SHARED_TOPS.includes(top), top);
    const r = await cli(["repair", top]);
    assertEquals([r.code, r.stdout.length], [2, 0], r.stderr);
    assertEquals(errLines(r.stderr), [
      `pwalk: refusing to repair ${top}: ${top} holds many unrelated trees: give the project ` +
      `folder below it, or ${tail}`,
    ]);
  }
  await assertRejects(() => repair("/var"), RefusedError, "holds many unrelated trees");
  // chown (a departed user's files across a top folder) walks it: a dry run of /var/tmp
  const c = await cli(["--chown_from", "4242", "--chown_to", "1:1", "/var/tmp"]);
  assertEquals(c.code, 0, c.stderr);
  // and a project folder below a top is repaired (a dry run)
  await using tmp = await tempDir("pwalk-safety-");
  assertEquals((await cli(["repair", tmp.path])).code, 0);
  // the daemons' folders by ROOT's own path only: a file system also bound
  // below /var/lib (a container runtime's volume) is still repaired where
  // it is (review: every repair of it was refused)
  if (canMountTmpfs()) {
    Deno.mkdirSync(`${tmp.path}/src/proj`, { recursive: true });
    const r = await cliInMountNamespace(
      `mount -t tmpfs none /var/lib && mkdir /var/lib/kubelet && ` +
        `mount --bind ${tmp.path}/src /var/lib/kubelet`,
      ["repair", `${tmp.path}/src/proj`],
    );
    assertEquals(r.code, 0, r.stderr);
  }
});

Deno.test({
  name:
    "a system folder reached through a bind mount is refused too: by device and inode, and by the folder the mount shows (audit)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const at = (name: string) => {
      Deno.mkdirSync(`${tmp.path}/${name}`);
      return `${tmp.path}/${name}`;
    };
    // a folder below /usr (a bind mount of it has no inode of /usr's), /usr
    // itself, and / (the whole file system again)
    let below = "/usr/share/doc";
    try {
      Deno.readDirSync(below);
    } catch {
      below = "/usr/share";
    }
    const [docb, usrb, rootb] = [at("docb"), at("usrb"), at("rootb")];
    const plain = at("plain"), src = at("src");
    const umount = (m: string) =>
      new Deno.Command("umount", { args: ["-l", m], stdout: "null", stderr: "null" }).output();
    /** A read-only bind mount: should it outlive the test, removing the
     * temporary folder must not reach into /usr or / through it. */
    const bindRo = async (from: string, to: string) => {
      const m = await run("mount", ["-o", "bind,ro", from, to]);
      if (m.code !== 0) return m.stderr.trim() || `mount exited ${m.code}`;
      try {
        Deno.removeSync(Deno.makeTempDirSync({ dir: to }));
      } catch (e) {
        if ((e as { code?: string }).code === "EROFS") return "";
        throw e;
      }
      await umount(to);
      return "the bind mount is not read-only";
    };
    try {
      for (const [from, to] of [[below, docb], ["/usr", usrb], ["/", rootb]]) {
        const why = await bindRo(from, to);
        if (why) return notHere(`mount -o bind,ro fails here: ${why}`);
      }
      const why = await mountBind(src, plain);
      if (why) return notHere(`mount --bind fails here: ${why}`);
      // each ROOT, the folder of the system it is (by real path: what the
      // admin would see refused there), the refusal's flag
      const cases: [string, string, string][] = [
        [docb, below, "--allow-system"],
        [`${usrb}/share`, "/usr/share", "--allow-system"],
        [usrb, "/usr", "--allow-system"],
        [`${rootb}/usr/share`, "/usr/share", "--allow-system"],
        [rootb, "/", "--force"],
      ];
      for (const [root, is, flag] of cases) {
        // the premise: the same folder, by device and inode
        const a = Deno.statSync(root), b = Deno.statSync(is);
        assertEquals([a.dev, a.ino], [b.dev, b.ino], root);
        for (
          const [kind, args] of [
            ["repair", ["repair", "--apply", "--journal", `${tmp.path}/j`, root]],
            [
              "chown",
              [
                "--chown_from",
                "4242",
                "--chown_to",
                "4243:4243",
                "--apply",
                "--journal",
                `${tmp.path}/j`,
                root,
              ],
            ],
          ] as const
        ) {
          const r = await cli([...args]);
          assertEquals(r.code, 2, `${root}: ${r.stderr}`);
          assertEquals(r.stdout.length, 0);
          const line = errLines(r.stderr)[0];
          assert(line.startsWith(`pwalk: refusing to ${kind} ${root}: `), line);
          assertStringIncludes(line, "through a mount");
          assert(
            line.endsWith(
              `add ${flag} (API: ${
                flag === "--force" ? "force" : "allowSystem"
              }: true) if you really mean it`,
            ),
            line,
          );
          if (is !== "/") {
            assertStringIncludes(line, is === "/usr" ? "(/usr, " : `(${is}, below /usr, `);
          }
        }
      }
      await assertRejects(() => repair(docb), RefusedError, "through a mount");
      // asked for: a dry run, nothing changed
      const s = await repair(docb, { allowSystem: true });
      assertEquals(s.applied, false);
      // a bind mount of an ordinary folder is not refused
      assertEquals((await cli(["repair", plain])).code, 0);
    } finally {
      // unmounted before the folder is removed (tempDir's disposal does it for plain too)
      for (const m of [docb, usrb, rootb, plain]) await umount(m);
    }
  },
});

// ---------------------------------------------------------------------------
// 11. Dry-run lines, group names, hard links.

/** The name of group gid by getent, or undefined. */
async function getentGroup(gid: number): Promise<string | undefined> {
  const r = await run("getent", ["group", String(gid)]);
  return r.code === 0 ? r.text.split(":")[0] : undefined;
}

testNeeding([PYTHON3], {
  name:
    "a file with several names is listed under the last one reached, as README and docs/repair.md say",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    const names = ["alpha", "beta", "gamma", "delta", "eps", "zeta"];
    buildTree(root, [PROJECT, own(names[0])]);
    for (const n of names.slice(1)) Deno.linkSync(`${root}/${names[0]}`, `${root}/${n}`);
    await ctimesPast(`${root}/${names[0]}`); // names settled before the run (rule 9)
    // one worker reaches a folder's names in the order the folder lists them
    // (getdents, as Python's os.listdir): the last of them is the one listed
    const order = JSON.parse(
      await python("import os, sys, json; print(json.dumps(os.listdir(sys.argv[1])))", root),
    );
    const r = await cli(["repair", "--threads", "1", root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      lines(r.stdout).map((l) => l.slice(`would change: ${root}/`.length).split(":")[0]),
      [order.at(-1), order.at(-1)], // group and mode
    );
    const says = (f: string, text: string) =>
      assert(
        Deno.readTextFileSync(`${REPO}/${f}`).replace(/\s+/g, " ").includes(text),
        `${f} does not say: ${text}`,
      );
    says(
      "README.md",
      "is changed, listed and counted once, under the last of its names a worker reaches",
    );
    says("docs/repair.md", "changed once, through the last of its names reached");
  },
});

Deno.test("change lines: dry runs say so, groups by name, files with other hard links flagged", async () => {
  await using tmp = await tempDir("pwalk-safety-");
  // A shared group that has a name here, and one that has none.
  const named = (await getentGroup(100)) ? 100 : 1;
  const name = (await getentGroup(named))!;
  const root0 = (await getentGroup(0))!;
  let unnamed = 4242420;
  while (await getentGroup(unnamed)) unnamed++;
  const root = `${tmp.path}/proj`;
  buildTree(root, [
    { rel: ".", type: "dir", uid: 0, gid: named, mode: 0o2770 },
    { rel: "z", type: "file", uid: 1001, gid: 0, mode: 0o644 },
    { rel: "u", type: "dir", uid: 1001, gid: unnamed, mode: 0o2750 },
    { rel: "u/x", type: "file", uid: 1002, gid: 1002, mode: 0o644 },
    own("linked"),
  ]);
  Deno.linkSync(`${root}/linked`, `${root}/linked-too`);
  Deno.linkSync(`${root}/linked`, `${root}/third-name`); // every name in the tree (rule 9)
  await ctimesPast(`${root}/linked`); // names settled before the runs (rule 9)
  const nlink = Deno.lstatSync(`${root}/linked`).nlink;
  assertEquals(nlink, 3);
  const before = snapshot(root);

  const dry = await cli(["repair", root]);
  assertEquals(dry.code, 0, dry.stderr);
  const flag = ` [${nlink} hard links: its other names change too]`;
  const g = async (gid: number) => {
    const n = await getentGroup(gid);
    return n ? `${gid} (${n})` : String(gid);
  };
  const shared = `${named} (${name})`;
  // the file is listed once, under the last of its names reached (as
  // --apply changes it once), with the flag
  const got = lines(dry.stdout).sort();
  const first = ["linked", "linked-too", "third-name"].find((n) =>
    got.some((l) => l.includes(`${root}/${n}:`))
  )!;
  assertEquals(
    got,
    [
      `would change: ${root}/${first}: group ${await g(1001)} -> ${shared}${flag}`,
      `would change: ${root}/${first}: mode 0600 -> 0640${flag}`,
      `would change: ${root}/u/x: group ${await g(1002)} -> ${unnamed}`,
      `would change: ${root}/z: group 0 (${root0}) -> ${shared}`,
    ].sort(),
  );
  assertStringIncludes(
    dry.stderr,
    "pwalk repair: 1 of them a file with other hard links: every name of each would change, " +
      "all of them in the tree",
  );
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  const api = await repair(root);
  assertEquals(api.hardLinked, 1);

  // Applied: the same lines without the dry-run words (one name changes the file).
  const ap = await cli(["repair", "--apply", "--journal", `${tmp.path}/j`, root]);
  assertEquals(ap.code, 0, ap.stderr);
  const want = expectRepair(root, before).after;
  assertEquals(diffSnapshots(want, snapshot(root)), []);
  const applied = lines(ap.stdout);
  assert(applied.every((l) => !l.startsWith("would") && !l.includes("hard links")), applied[0]);
  assert(
    applied.includes(`${root}/z: group 0 (${root0}) -> ${named} (${name})`),
    applied.join("\n"),
  );

  // chown's dry-run lines: the bare path, said to be a plan.
  const c = await cli(["--chown_from", "1002", "--chown_to", "1003:1003", root]);
  assertEquals(lines(c.stdout), [`would change: ${root}/u/x`]);
  closeLibc();
});

// ---------------------------------------------------------------------------
// 12. The system log.

const LISTENER = `
import os, socket, sys
path, stop = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.05)
got = []
while True:
    try:
        got.append(s.recv(65536))
    except socket.timeout:
        if os.path.exists(stop):
            break
for m in got:
    sys.stdout.write(m.decode("utf-8", "replace").replace("\\n", "\\\\n") + "\\n")
`;

/**
 * A datagram socket in `dir` listened on (LISTENER) as the system log,
 * for PWALK_SYSLOG_SOCKET; `lines()` ends the listener and gives what it
 * got, a line per message.
 */
async function syslogListener(dir: string): Promise<{ sock: string; lines(): Promise<string[]> }> {
  const sock = `${dir}/log.sock`, stop = `${dir}/stop`;
  const listener = new Deno.Command("python3", {
    args: ["-c", LISTENER, sock, stop],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await waitFor(() => Deno.lstat(sock).then(() => true, () => false), {
    what: "the listener's socket",
  });
  return {
    sock,
    lines: async () => {
      await Deno.writeTextFile(stop, "");
      const out = await listener.output();
      assert(out.success, dec.decode(out.stderr));
      return dec.decode(out.stdout).split("\n").filter((l) => l);
    },
  };
}

testNeeding([PYTHON3], {
  name: "each applied run writes one line to the system log (PWALK_SYSLOG_SOCKET)",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a"), own("d", "dir"), own("d/b")]);
    const { sock, lines: logged } = await syslogListener(tmp.path);
    const env = { PWALK_SYSLOG_SOCKET: sock, ...stateEnv(tmp.path), SUDO_USER: "alice" };
    const journal = `${tmp.path}/j`;
    const dry = await cli(["repair", root], { env });
    assertEquals(dry.code, 0, dry.stderr);
    // relative ROOT and journal: the log line holds them whole
    const ap = await cli(["repair", "--apply", "--journal", "j", "proj"], { env, cwd: tmp.path });
    assertEquals(ap.code, 0, ap.stderr);
    const ch = await cli(["--chown_from", "1001", "--chown_to", "1042:1042", "--apply", root], {
      env,
    });
    assertEquals(ch.code, 0, ch.stderr);
    const chownJournal = /journal (\S+) \(undo/.exec(ch.stderr)![1];
    const un = await cli(["undo", "--apply", chownJournal], { env });
    assertEquals(un.code, 0, un.stderr);
    await cli(["undo", journal], { env }); // a dry run: not logged
    const got = await logged();

    const user = (await runOk("id", ["-un"])).text.trim();
    const who = `${user} \\(uid 0, sudo from alice\\)`;
    const head = String.raw`^<85>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d pwalk\[\d+\]: `;
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const want = [
      // 4 entries seen (the root, a, d, d/b), 3 changed: 7 changes by kind
      `repair --apply by ${who} on ${
        esc(root)
      }: done; 4 entries seen, 3 changed \\(7 changes\\), 0 errors; journal ${esc(journal)}$`,
      `chown --apply by ${who} on ${
        esc(root)
      }: done; 4 entries seen, 3 changed \\(3 changes\\), 0 errors; journal ${esc(chownJournal)}$`,
      `undo --apply by ${who} of journal ${
        esc(chownJournal)
      }: done; 3 entries, 3 restored, 0 kept, 0 errors$`,
    ];
    assertEquals(got.length, want.length, got.join("\n"));
    for (let i = 0; i < want.length; i++) {
      assert(new RegExp(head + want[i]).test(got[i]), `${got[i]}\n  !~ ${want[i]}`);
    }
    closeLibc();
  },
});

/**
 * The CLI with `args` run under `strace -f` with `trace` (its -e, -P
 * options: the system calls it delays), its stderr piped, and `env`.
 */
function straced(trace: string[], args: string[], env: Record<string, string> = {}) {
  return new Deno.Command("strace", {
    args: ["-f", "-o", "/dev/null", ...trace, Deno.execPath(), "run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/**
 * The Deno process strace (`pid`) runs, once it runs Deno: strace forks
 * short-lived children of its own before its tracee, and the tracee runs
 * strace's program until it execs.
 */
function tracedDeno(pid: number): Promise<number> {
  return waitFor(() => {
    try {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(" ");
      return kids.map(Number).find((k) => {
        try {
          return Deno.readLinkSync(`/proc/${k}/exe`) === Deno.execPath();
        } catch {
          return false; // ended meanwhile
        }
      });
    } catch {
      return undefined;
    }
  }, { what: "strace's deno" });
}

testNeeding([PYTHON3, STRACE], {
  name: "an applied repair quit by a second signal (its workers hung) still writes its system " +
    "log line, and its last line names the journal",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    const spec: EntrySpec[] = [PROJECT];
    for (let i = 0; i < 400; i++) spec.push(own(`f${i}`));
    buildTree(root, spec);
    const { sock, lines: logged } = await syslogListener(tmp.path);
    const journal = `${tmp.path}/j`;
    // from the 50th chown on, each waits 20 s on entry: the workers hang in
    // the file system as on a dead NFS server
    const p = straced(
      ["-e", "trace=fchownat", "-e", "inject=fchownat:delay_enter=20000000:when=50+"],
      ["repair", "--apply", "--threads", "2", "--journal", journal, root],
      { PWALK_SYSLOG_SOCKET: sock },
    );
    const guard = setTimeout(() => p.kill("SIGKILL"), 120_000); // a hang guard
    let err = "";
    const reader = p.stderr.getReader();
    const readUntil = async (text: string) => {
      while (!err.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stderr ended without "${text}": ${err}`);
        err += dec.decode(value);
      }
    };
    try {
      await readUntil(`applying; journal ${journal}\n`);
      const deno = await tracedDeno(p.pid);
      // once the workers wait in their chowns (the journal, 49 lines or
      // more, grows no more for a second), the first signal
      let seen = -1, since = performance.now();
      await waitFor(() => {
        let n = 0;
        try {
          n = Deno.readTextFileSync(journal).split("\n").filter((l) => l && !l.startsWith("#"))
            .length;
        } catch { /* not yet */ }
        if (n !== seen) [seen, since] = [n, performance.now()];
        return n >= 49 && performance.now() - since > 1000;
      }, { what: "the workers to wait in their chowns", everyMs: 100 });
      Deno.kill(deno, "SIGINT");
      await readUntil("SIGINT again quits without them");
      Deno.kill(deno, "SIGINT");
      await readUntil("again: quit without waiting");
      // (to its end: one write, but a pipe may hand it over in parts)
      const at = err.indexOf("again: quit without waiting");
      while (!err.slice(at).includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        err += dec.decode(value);
      }
      // deno ended (its pid gone, or a zombie strace has not reaped); strace
      // itself waits out the chown it delays: not waited for
      await waitFor(() => {
        try {
          return /^[ZX]$/.test(procStat(`/proc/${deno}/stat`)[0]);
        } catch {
          return true;
        }
      }, { what: "the run to end" });
    } finally {
      clearTimeout(guard);
      p.kill("SIGKILL");
      await p.status;
      await reader.cancel();
    }
    assertStringIncludes(err, "pwalk repair: SIGINT again: quit without waiting for the workers");
    assertStringIncludes(err, `; every change made is in the journal ${journal}; `);
    const got = await logged();
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assertEquals(got.length, 1, got.join("\n"));
    assert(
      new RegExp(
        `pwalk\\[\\d+\\]: repair --apply by .* on ${esc(root)}: quit; \\d+ entries seen, \\d+ ` +
          `changed \\(\\d+ changes\\), 0 errors; journal ${esc(journal)}$`,
      ).test(got[0]),
      got[0],
    );
    // every change the tree shows is in the journal
    const { entries } = await readJournal(journal);
    const journaled = new Set(entries.map((e) => dec.decode(e.line.rel)));
    for (const e of Deno.readDirSync(root)) {
      const st = Deno.lstatSync(`${root}/${e.name}`);
      if (st.gid !== 1001) assert(journaled.has(e.name), `${e.name} changed, not journaled`);
    }
    closeLibc();
  },
});

testNeeding([STRACE], {
  name: "a signal while --errors is checked, before --journal FILE is opened: nothing was " +
    "changed, and no journal is named (FILE was never made)",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a"), own("b")]);
    const before = snapshot(root);
    const ed = `${tmp.path}/ed`;
    Deno.mkdirSync(ed);
    const journal = `${tmp.path}/j`;
    // the listing of the --errors folder (its leftovers looked for) waits
    // 3 s in the kernel: the signal lands while it does
    const p = straced(
      ["-P", ed, "-e", "trace=getdents64", "-e", "inject=getdents64:delay_enter=3000000:when=1"],
      ["repair", "--apply", "--journal", journal, "--errors", `${ed}/errs.csv`, root],
    );
    const guard = setTimeout(() => p.kill("SIGKILL"), 120_000); // a hang guard
    let deno = 0, ended = false;
    try {
      deno = await tracedDeno(p.pid);
      // a thread of it held by strace in getdents64 (x86-64: 217, aarch64: 61)
      const nr = Deno.build.arch === "x86_64" ? "217" : "61";
      await waitFor(() => {
        try {
          return [...Deno.readDirSync(`/proc/${deno}/task`)].some((t) => {
            const dir = `/proc/${deno}/task/${t.name}`;
            return procStat(`${dir}/stat`)[0] === "t" &&
              Deno.readTextFileSync(`${dir}/syscall`).split(" ")[0] === nr;
          });
        } catch {
          return false;
        }
      }, { what: "the listing of the --errors folder to wait" });
      Deno.kill(deno, "SIGINT");
      const out = await p.output();
      ended = true;
      const err = dec.decode(out.stderr);
      assertEquals(
        errLines(err).at(-1),
        "pwalk repair: interrupted by SIGINT; nothing was changed (no journal was opened)",
        err,
      );
      assertEquals(out.signal ?? out.code, out.signal ? "SIGINT" : 130, err);
    } finally {
      clearTimeout(guard);
      if (!ended) {
        // (failed before the end: strace and its deno are not left running)
        if (deno) {
          try {
            Deno.kill(deno, "SIGKILL");
          } catch { /* ended */ }
        }
        p.kill("SIGKILL");
        await p.stderr.cancel();
        await p.status;
      }
    }
    assert(!(await Deno.lstat(journal).then(() => true, () => false)), "a journal was made");
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  },
});

testNeeding([SETPRIV], {
  name: "ROOT below a folder its user may only search (0711): checked, not refused",
  async fn() {
    await using tmp = await tempDir("pwalk-safety-");
    // mid: another owner's folder, search only for uid 0 without capabilities;
    // the tree below is uid 0's (readable), its files in group 0 (private)
    const mid = `${tmp.path}/mid`;
    const root = `${mid}/proj`;
    const mine = (rel: string, type: "file" | "dir" = "file"): EntrySpec => ({
      rel,
      type,
      uid: 0,
      gid: 0,
      mode: type === "dir" ? 0o755 : 0o644,
    });
    buildTree(root, [{ ...PROJECT, uid: 0 }, mine("a"), mine("d", "dir"), mine("d/b")]);
    Deno.chownSync(mid, 1234, 1234);
    Deno.chmodSync(mid, 0o711);
    const r = await cli(["repair", root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.text, `would change: ${root}/d/b`);
    closeLibc();
  },
});
