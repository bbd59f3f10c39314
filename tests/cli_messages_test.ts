/**
 * What the CLI says (the audit's findings):
 * - counts in summaries are singular or plural as they should be
 *   ("1 error", "2 entries"), checked on trees with known counts;
 * - a bad option value says which value is bad (`--threads -5`,
 *   `--depth -1`, `--maxthreads=-2`, `--level -3`), and `-o ""` says the
 *   option needs a value, never "one ROOT folder only";
 * - --exclude means the same folder however it is spelled (absolute under a
 *   relative root, `./x`, trailing slashes, `a//b`, a list file with CRLF,
 *   a UTF-8 BOM, blank lines), in report, repair and walk(): each spelling
 *   gives exactly the rows of a run excluding the walker's own spelling;
 * - an exclude that names no folder under ROOT is one warning at the end,
 *   just before the summary.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertStringIncludes,
} from "@std/assert";
import { walk } from "../mod.ts";
import { lineSet } from "./helpers/csv.ts";
import { CLI, cli, type Ran, REPO, run, UNPRIVILEGED } from "./helpers/run.ts";
import { pooled } from "./helpers/pool.ts";
import { tempDir } from "./helpers/temp.ts";
import { deadMount } from "./helpers/slowfs.ts";
import { python } from "./helpers/tree.ts";
import { groupShown } from "./helpers/names.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, PYTHON3, testNeeding, UNSHARE } from "./helpers/system.ts";
import { printablePath } from "../lib/journal.ts";
import { seenTwiceWarning } from "../lib/answers/text.ts";
import { existsSync } from "node:fs";
import { closeLibc, lchown, lstatRaw, mkdirRaw, writeFileRaw } from "./helpers/libc.ts";

const dec = new TextDecoder();
const stderrLines = (s: string) => s.split("\n").filter((l) => l !== "");

Deno.test("CLI: counts are singular or plural as they should be", async () => {
  await using tmp = await tempDir();
  const one = `${tmp.path}/one`;
  await Deno.mkdir(one);
  const r1 = await cli(["--progress", "-o", `${tmp.path}/one.csv`, one]);
  assertEquals(r1.code, 0, r1.stderr);
  assertStringIncludes(r1.stderr, "pwalk: 1 entry, 1 folder, ");
  assertStringIncludes(r1.stderr, "0 errors");

  const locked = `${tmp.path}/locked`;
  await Deno.mkdir(`${locked}/no`, { recursive: true });
  await Deno.chmod(`${locked}/no`, 0o000);
  const r2 = await cli(["--progress", "-o", `${tmp.path}/l.csv`, locked], { prefix: UNPRIVILEGED });
  assertEquals(r2.code, 0, r2.stderr);
  assertStringIncludes(r2.stderr, "pwalk: 2 entries, 2 folders, ");
  assertStringIncludes(r2.stderr, ", 1 error");
  assert(!/\b1 (errors|entries|folders)\b/.test(r2.stderr), r2.stderr);

  // repair: one file with a private group below a shared one: 1 change, 1 entry changed.
  const proj = `${tmp.path}/proj`;
  await Deno.mkdir(proj);
  Deno.chownSync(proj, 0, 5000);
  await Deno.writeTextFile(`${proj}/f`, "x");
  Deno.chmodSync(`${proj}/f`, 0o640);
  const r3 = await cli(["repair", "--apply", "--journal", `${tmp.path}/j`, proj]);
  assertEquals(r3.code, 0, r3.stderr);
  assertStringIncludes(r3.stderr, "2 entries seen, 1 changed (1 change: 1 group,");
  assertStringIncludes(r3.stderr, ", 0 errors in");
  const r4 = await cli(["undo", "--apply", `${tmp.path}/j`]);
  assertEquals(r4.code, 0, r4.stderr);
  assertStringIncludes(r4.stderr, "pwalk undo: 1 journal entry, 1 restored");
  assertEquals(Deno.statSync(`${proj}/f`).gid, 0);
});

testNeeding([PYTHON3], {
  name: "the system log lines say 1 entry, 1 change, 1 error, not '1 changed (1 changes)'",
  async fn() {
    await using tmp = await tempDir();
    // a listener on its own datagram socket (PWALK_SYSLOG_SOCKET), until `stop` exists
    const sock = `${tmp.path}/log.sock`;
    const stop = `${tmp.path}/stop`;
    const listener = new Deno.Command("python3", {
      args: [
        "-c",
        `import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.05)
while True:
    try:
        sys.stdout.write(s.recv(65536).decode("utf-8", "replace") + "\\n")
    except socket.timeout:
        if os.path.exists(sys.argv[2]):
            break
`,
        sock,
        stop,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 10));
    const env = { PWALK_SYSLOG_SOCKET: sock };
    // an empty ROOT owned by 1001: chown changes it, the one entry, once
    const root = `${tmp.path}/one`;
    await Deno.mkdir(root);
    Deno.chownSync(root, 1001, 1001);
    const journal = `${tmp.path}/j`;
    const ch = await cli(
      ["--chown_from", "1001", "--chown_to", "1042:1042", "--apply", "--journal", journal, root],
      { env },
    );
    assertEquals(ch.code, 0, ch.stderr);
    assertEquals(Deno.statSync(root).uid, 1042);
    // undo it once ROOT is gone: its one entry is one error, and the run left alone is status 1
    await Deno.remove(root);
    const un = await cli(["undo", "--apply", journal], { env });
    assertEquals(un.code, 1, un.stderr);
    assertStringIncludes(un.stderr, ", 1 error in ");
    assertStringIncludes(
      un.stderr,
      "pwalk undo: 1 run of the journal left alone, ROOT not reached",
    );
    await Deno.writeTextFile(stop, "");
    const out = await listener.output();
    assert(out.success, dec.decode(out.stderr));
    const got = dec.decode(out.stdout).split("\n").filter((l) => l);
    assertEquals(got.length, 2, got.join("\n"));
    const entries = [...Deno.readTextFileSync(journal).matchAll(/^\d+ \d+ /gm)].length;
    assertEquals(entries, 1, "the journal holds the one change");
    assertStringIncludes(got[0], "; 1 entry seen, 1 changed (1 change), 0 errors; journal ");
    assertStringIncludes(got[1], ": done; 1 entry, 0 restored, 0 kept, 1 error");
    assert(!/\b1 (entries|changes|errors)\b/.test(got.join("\n")), got.join("\n"));
  },
});

Deno.test("CLI: plan, status, summary and diff say 1 shard, 1 error, 1 entry (not 1 shards)", async () => {
  await using tmp = await tempDir();
  // a tree of the root and one folder, which holds one folder nobody may read
  const tree = `${tmp.path}/t`;
  await Deno.mkdir(`${tree}/a/no`, { recursive: true });
  await Deno.chmod(`${tree}/a/no`, 0o000);
  const scan = `${tmp.path}/scan`;
  await Deno.mkdir(scan);
  await Deno.chmod(scan, 0o777); // the shard runs unprivileged
  const plan = await cli(["plan", tree, "--shards", "1", "-o", `${scan}/plan.json`]);
  assertEquals(plan.code, 0, plan.stderr);
  assertStringIncludes(plan.stderr, "pwalk plan: 1 shard over 1 frontier folder, ");
  const id = JSON.parse(Deno.readTextFileSync(`${scan}/plan.json`)).id;
  const again = await cli(["plan", tree, "--shards", "1", "-o", `${scan}/plan.json`]);
  assertEquals(again.code, 2, again.stderr);
  assertStringIncludes(again.stderr, `already holds a plan (${id}, 1 shard): `);
  const early = await cli(["summary", scan]);
  assertEquals(early.code, 1, early.stderr);
  assertStringIncludes(early.stderr, "the scan is not complete: 0 of 1 shard done");
  // the shard as nobody: the root, a and a/no (unreadable: 1 error)
  const shard = await cli(
    ["report", "--plan", `${scan}/plan.json`, "--shard", "0", "-o", `${scan}/scan-0.csv`],
    { prefix: UNPRIVILEGED },
  );
  assertEquals(shard.code, 0, shard.stderr);
  assertStringIncludes(shard.stderr, "pwalk: shard 0 of 1: 3 entries, 3 folders, ");
  assertStringIncludes(shard.stderr, ", 1 error in ");
  const st = await cli(["status", scan]);
  assertEquals(st.code, 0, st.stderr);
  const lines = st.text.trimEnd().split("\n");
  assertEquals(lines[0], `${scan}: 1 shard of ${tree} (plan ${id})`);
  assert(lines[1].startsWith("shard 0  done        3 rows, 1 error, "), lines[1]);
  assertEquals(lines.at(-1), "1 shard: 1 done; 3 rows");
  // diff: one entry, then two
  const d = `${tmp.path}/d`;
  await Deno.mkdir(d);
  assertEquals((await cli(["-o", `${tmp.path}/s1.csv`, d])).code, 0);
  await Deno.writeTextFile(`${d}/f`, "");
  assertEquals((await cli(["-o", `${tmp.path}/s2.csv`, d])).code, 0);
  const diff = await cli(["diff", `${tmp.path}/s1.csv`, `${tmp.path}/s2.csv`]);
  assertEquals(diff.code, 0, diff.stderr);
  assertStringIncludes(diff.text, "old: 1 entry, ");
  assertStringIncludes(diff.text, "; new: 2 entries, ");
  const added = /^added +1 entry +0 B allocated$/m.exec(diff.text);
  const removed = /^removed +0 entries +0 B allocated$/m.exec(diff.text);
  if (!added || !removed) throw new Error(diff.text);
  assertEquals(added[0].length, removed[0].length, "the columns stay aligned");
  // summary's and diff's warning of folders seen under two paths
  assertStringIncludes(seenTwiceWarning(1), "warning: 1 folder has rows under two or more paths");
  assertStringIncludes(seenTwiceWarning(2), "warning: 2 folders have rows under two or more paths");
  for (const text of [plan.stderr, again.stderr, early.stderr, shard.stderr, st.text, diff.text]) {
    assert(!/\b1 (shards|frontier folders|errors|rows|entries|folders)\b/.test(text), text);
  }
});

Deno.test("CLI: a bad option value is named as such", async () => {
  await using tmp = await tempDir();
  for (
    const [args, want] of [
      [["--threads", "-5"], "--threads needs a whole number from 1 to 1024, got '-5'"],
      [["--depth", "-1"], "--depth needs a whole number from 0 to 2147483647, got '-1'"],
      [["--maxthreads=-2"], "--maxthreads needs a whole number from 1 to 1024, got '-2'"],
      [["--level", "-3"], "--level needs a whole number from 1 to 19, got '-3'"],
      [["--level", "0"], "--level needs a whole number from 1 to 19, got '0'"],
      [["-o", ""], "-o needs a value, not an empty string"],
      [["--output="], "--output needs a value, not an empty string"],
      [["--exclude"], "--exclude needs a value"],
      [["--NoSnap=1"], "--NoSnap takes no value"],
      [
        ["--progress", "5"],
        `one ROOT folder only, got 2: 5 ${tmp.path} (a progress interval is --progress=5)`,
      ],
    ] as const
  ) {
    const r = await cli(args[0] === "--exclude" ? [tmp.path, ...args] : [...args, tmp.path]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stdout.length, 0);
    assertEquals(stderrLines(r.stderr), [`pwalk: ${want}`], args.join(" "));
  }
  const r = await cli(["repair", "--threads", "-5", tmp.path]);
  assertEquals(stderrLines(r.stderr), [
    "pwalk: --threads needs a whole number from 1 to 1024, got '-5'",
  ]);
  // an --exclude list line holding a NUL byte (no argument can hold one)
  const list = `${tmp.path}/nul.list`;
  await Deno.writeFile(list, new TextEncoder().encode(`${tmp.path}/a\n\n${tmp.path}/b\0c\n`));
  for (const cmd of [[], ["repair"], ["plan", "--shards", "2"]]) {
    const n = await cli([...cmd, "--exclude", list, tmp.path]);
    assertEquals(n.code, 2, n.stderr);
    assertEquals(n.stdout.length, 0);
    assertEquals(stderrLines(n.stderr), [
      `pwalk: --exclude ${list}: line 3 contains a NUL byte, which no path can hold`,
    ]);
  }
});

Deno.test("--exclude: every spelling excludes the same folder (report, repair, walk)", async (t) => {
  await using tmp = await tempDir();
  const data = `${tmp.path}/data`;
  for (const d of ["keep/a", "skip/deep", "skipper"]) {
    await Deno.mkdir(`${data}/${d}`, { recursive: true });
  }
  for (const f of ["keep/a/f", "skip/g", "skip/deep/h", "skipper/i", "top"]) {
    await Deno.writeTextFile(`${data}/${f}`, f);
  }
  Deno.chownSync(data, 0, 5000); // repair: everything below has a private group (0) to replace
  // the folders' atimes an hour ahead (past their mtime and ctime): the
  // runs' listings, two at a time, then leave them as they are (relatime),
  // and every report prints the same rows (a listing by the first run
  // moved them a second on in the second's rows, now and then)
  for (const d of ["", "/keep", "/keep/a", "/skip", "/skip/deep", "/skipper"]) {
    Deno.utimeSync(
      `${data}${d}`,
      new Date(Date.now() + 3600_000),
      Deno.lstatSync(`${data}${d}`).mtime!,
    );
  }
  const list = async (name: string, text: string | Uint8Array) => {
    const p = `${tmp.path}/${name}`;
    if (typeof text === "string") await Deno.writeTextFile(p, text);
    else await Deno.writeFile(p, text);
    return p;
  };
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("data/skip\n")]);
  const spellings: [string, string[]][] = [
    ["absolute under a relative root", [`${data}/skip`]],
    ["./x", ["./data/skip"]],
    ["trailing slashes", ["data/skip//"]],
    ["a//b", ["data//skip"]],
    ["list with CRLF and blank lines", [await list("crlf", "\r\n\r\ndata/skip\r\n\r\n")]],
    ["list with a UTF-8 BOM", [await list("bom", bom)]],
    ["list of absolute paths", [await list("abs", `${data}/skip/\n`)]],
  ];
  const opts = { cwd: tmp.path };

  for (const cmd of [[], ["repair"]]) {
    await t.step(`${cmd[0] ?? "report"}: each spelling = the canonical one`, async () => {
      const lines = (r: Ran) => {
        assertEquals(r.code, 0, r.stderr);
        assert(!r.stderr.includes("warning"), r.stderr);
        return lineSet(r.stdout);
      };
      // (every run two at a time, then checked in turn: none changes the tree)
      const canon = await list("canon", "data/skip\n");
      const [whole, canonRun, ...spelled] = await pooled([
        [],
        ["--exclude", canon],
        ...spellings.map(([, args]) => args.flatMap((a) => ["--exclude", a])),
      ], (extra) => cli([...cmd, ...extra, "data"], opts));
      const all = lines(whole);
      const canonical = lines(canonRun);
      assertNotEquals(canonical, all, "the canonical spelling excludes something");
      assert(canonical.some((l) => l.includes("data/skipper")), "skipper is not skip");
      assert(!canonical.some((l) => l.includes("data/skip/")), "skip's entries are gone");
      for (const [i, [what]] of spellings.entries()) {
        assertEquals(lines(spelled[i]), canonical, what);
      }
    });
  }

  await t.step("walk(): the same spellings", async () => {
    const cwd = Deno.cwd();
    Deno.chdir(tmp.path);
    try {
      const paths = async (exclude: string[]) => {
        const out: string[] = [];
        for await (const e of walk("data", { exclude })) out.push(e.path);
        return out.sort();
      };
      const canonical = await paths(["data/skip"]);
      assert(!canonical.includes("data/skip/g"));
      for (const e of [`${data}/skip`, "./data/skip", "data/skip/", "data//skip"]) {
        assertEquals(await paths([e]), canonical, e);
      }
      // from inside ROOT, walking "." (whose entries walk() spells "skip/g")
      Deno.chdir(data);
      const dot = async (root: string, exclude: string[]) => {
        const out: string[] = [];
        for await (const e of walk(root, { exclude })) out.push(e.path);
        return out.sort();
      };
      for (const root of [".", "./"]) {
        const plain = await dot(root, ["skip"]);
        assert(!plain.includes("skip/g") && plain.includes("skipper/i"), plain.join());
        for (const e of [`${data}/skip`, "../data/skip", "skip/deep/..", "./skip/"]) {
          assertEquals(await dot(root, [e]), plain, `${root} ${e}`);
        }
      }
    } finally {
      Deno.chdir(cwd);
    }
  });

  await t.step(
    "a folder whose name is not UTF-8: excluded by a list file, refused as an argument",
    async () => {
      // "bad\xff": an argument cannot carry that byte through Deno (U+FFFD
      // comes instead), a list file can
      const root = `${tmp.path}/raw`;
      const enc = new TextEncoder();
      const bad = new Uint8Array([...enc.encode(`${root}/bad`), 0xff]);
      await Deno.mkdir(root);
      Deno.chownSync(root, 0, 5000);
      mkdirRaw(bad, 0o700);
      lchown(bad, 1001, 1001);
      await Deno.writeTextFile(`${root}/ok`, "x");
      await Deno.chown(`${root}/ok`, 1001, 1001);
      const inside = `${root}/${"bad\uFFFD"}`; // how Deno names it
      const l = await list("rawlist", new Uint8Array([...bad, 10]));
      for (const cmd of [[], ["repair"]]) {
        const all = await cli([...cmd, root], opts);
        const ex = await cli([...cmd, "--exclude", l, root], opts);
        assertEquals(ex.code, 0, ex.stderr);
        assert(!ex.stderr.includes("warning"), ex.stderr);
        const rows = (r: typeof all) => dec.decode(r.stdout).split("\n").filter(Boolean);
        assert(rows(all).some((x) => x.includes("bad")), "the folder is there");
        assertEquals(rows(ex).filter((x) => x.includes("bad")), [], "and excluded by the list");
        // spelled another way than ROOT: relative to the working folder,
        // through ./ and a trailing slash, and ROOT given relative
        const rel = new TextEncoder().encode("./raw/bad");
        const other = await list("rawlist2", new Uint8Array([...rel, 0xff, 0x2f, 10]));
        // and through a link to ROOT, on either side
        if (!existsSync(`${tmp.path}/rawlink`)) Deno.symlinkSync("raw", `${tmp.path}/rawlink`);
        const viaLink = await list(
          "rawlist3",
          new Uint8Array([...new TextEncoder().encode("rawlink/bad"), 0xff, 10]),
        );
        for (
          const [r, lst] of [[root, other], ["raw", l], ["raw/", other], ["rawlink", l], [
            root,
            viaLink,
          ]]
        ) {
          const ex2 = await cli([...cmd, "--exclude", lst, r], opts);
          assertEquals(ex2.code, 0, ex2.stderr);
          assertEquals(rows(ex2).filter((x) => x.includes("bad")), [], `${r} ${lst}`);
        }
        // as an argument: refused before anything is walked or changed
        const arg = await cli(
          [...cmd, "--apply", "--exclude", inside, root].filter((a) =>
            cmd.length || a !== "--apply"
          ),
          opts,
        );
        assertEquals(arg.code, 2, arg.stderr);
        assertEquals(arg.stdout.length, 0);
        assertEquals(stderrLines(arg.stderr).length, 1, arg.stderr);
        assertStringIncludes(arg.stderr, "not valid UTF-8");
      }
      assertEquals(lstatRaw(bad).gid, 1001, "nothing was changed");
      closeLibc();
    },
  );

  await t.step("repair --apply: an exclude naming nothing is said before any change", async () => {
    const r = await cli(
      ["repair", "--apply", "--journal", `${tmp.path}/j`, "--exclude", "data/nothere", "data"],
      opts,
    );
    assertEquals(r.code, 0, r.stderr);
    const lines = stderrLines(r.stderr);
    const w = `pwalk: warning: --exclude data/nothere (${
      Deno.realPathSync(tmp.path)
    }/data/nothere) matched nothing under data`;
    const applying = lines.findIndex((x) => x.startsWith("pwalk repair: applying"));
    assert(applying > 0 && lines.slice(0, applying).includes(w), r.stderr);
    // and again at the end, just before the closing summary
    const summary = lines.findIndex((x) => /^pwalk repair: \d+ entries seen/.test(x));
    assert(summary > applying + 1, r.stderr);
    assertEquals(lines[summary - 1], w, r.stderr);
  });

  await t.step(
    "an exclude naming nothing under ROOT: one warning at the end, before the summary",
    async () => {
      const l = await list("stray", "/nowhere/x\r\ndata/skip\r\ndata/top\r\n");
      await Deno.mkdir(`${tmp.path}/outside`);
      for (const cmd of [[], ["repair"]]) {
        const r = await cli(
          [...cmd, "--exclude", l, "--exclude", `${tmp.path}/outside`, "data"],
          opts,
        );
        assertEquals(r.code, 0, r.stderr);
        const lines = stderrLines(r.stderr);
        const warnings = lines.filter((x) => x.includes("warning"));
        assertEquals(warnings, [
          "pwalk: warning: --exclude /nowhere/x matched nothing under data",
          `pwalk: warning: --exclude data/top (${
            Deno.realPathSync(tmp.path)
          }/data/top) matched nothing under data`,
          `pwalk: warning: --exclude ${tmp.path}/outside matched nothing under data`,
        ]);
        // the warnings, then the closing summary (report's one line, repair's
        // count and its dry-run line): a log's last line is the summary's
        const summary = lines.findIndex((x) => /^pwalk( repair)?: \d+ entries/.test(x));
        assertEquals(lines.slice(summary - 3, summary), warnings, r.stderr);
        assertEquals(lines.length - summary, cmd.length ? 2 : 1, r.stderr);
        assert(!dec.decode(r.stdout).includes("data/skip/"), "data/skip is still excluded");
      }
    },
  );
});

Deno.test("--exclude: a relative line is looked up from the current folder (not ROOT, not the list's folder), and the warning names where", async () => {
  await using tmp = await tempDir();
  const real = Deno.realPathSync(tmp.path);
  const root = `${real}/ex`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/f`, "f");
  await Deno.mkdir(`${real}/w`);
  const list = `${root}/list`; // in ROOT's folder: still not where `a` is looked up
  await Deno.writeTextFile(list, "a\n");
  const rowOf = (csv: string, path: string) =>
    csv.split("\n").some((l) => l.includes(`,"${path}",`));
  {
    // from /w: the line `a` is /w/a, not under ROOT: a warning naming /w/a, ex/a walked
    const r = await cli(["--exclude", list, root], { cwd: `${real}/w` });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(stderrLines(r.stderr).filter((l) => l.includes("warning")), [
      `pwalk: warning: --exclude a (${real}/w/a) matched nothing under ${root}`,
    ]);
    assert(rowOf(r.text, `${root}/a/f`), r.text);
    // from ROOT: the same line is ROOT/a, excluded, no warning
    const inRoot = await cli(["--exclude", list, root], { cwd: root });
    assertEquals(inRoot.code, 0, inRoot.stderr);
    assert(!inRoot.stderr.includes("warning"), inRoot.stderr);
    assert(rowOf(inRoot.text, `${root}/list`), inRoot.text);
    assert(!rowOf(inRoot.text, `${root}/a`), inRoot.text);
  }
});

Deno.test("--exclude PATH (relative) that is not there: bad usage naming where it was looked for, and the name below ROOT when that is there", async () => {
  await using tmp = await tempDir();
  const real = Deno.realPathSync(tmp.path);
  await Deno.mkdir(`${real}/t/d01`, { recursive: true });
  const why =
    "No such file or directory (a relative PATH is taken from the current folder, not ROOT";
  for (const cmd of [[], ["repair"], ["plan", "--shards", "2"]]) {
    const r = await cli([...cmd, "--exclude", "d01", "t"], { cwd: real });
    assertEquals([r.code, r.text], [2, ""], r.stderr);
    assertEquals(r.stderr, `pwalk: --exclude d01 (${real}/d01): ${why}: t/d01?)\n`, cmd.join(" "));
    // nothing of that name below ROOT either: no guess
    const none = await cli([...cmd, "--exclude", "zz", "t"], { cwd: real });
    assertEquals(none.code, 2, none.stderr);
    assertEquals(none.stderr, `pwalk: --exclude zz (${real}/zz): ${why})\n`, cmd.join(" "));
  }
  // spelled with ./: the guess is tidied as the path looked up is
  const dotted = await cli(["--exclude", "./d01", "./t"], { cwd: real });
  assertEquals(dotted.stderr, `pwalk: --exclude ./d01 (${real}/d01): ${why}: t/d01?)\n`);
});

Deno.test("CLI: a file system error reads as path and reason, without Deno's own wording", async () => {
  await using tmp = await tempDir();
  const hidden = `${tmp.path}/closed/inner`;
  await Deno.mkdir(hidden, { recursive: true });
  await Deno.chmod(`${tmp.path}/closed`, 0o000);
  const cases: [string[], string, string | undefined][] = [
    [
      ["report", "--plan", `${tmp.path}/no-plan.json`, "--shard", "0"],
      "No such file or directory",
      undefined,
    ],
    // a folder the runner may not search (setpriv drops root's capabilities)
    [[hidden, "-o", `${tmp.path}/x.csv`], "Permission denied", "unprivileged"],
  ];
  for (const [args, reason, how] of cases) {
    const r = await cli(args, how ? { prefix: UNPRIVILEGED } : {});
    assertNotEquals(r.code, 0);
    const lines = stderrLines(r.stderr);
    assertEquals(lines.length, 1, r.stderr);
    assertStringIncludes(lines[0], reason);
    assert(!/os error|readfile|realpath/.test(lines[0]), lines[0]);
  }
});

Deno.test("a ROOT that cannot be opened: bad usage (2) for every command that takes one, as its --help says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/locked`;
  await Deno.mkdir(`${root}/inside`, { recursive: true });
  await Deno.chmod(root, 0o000);
  // the premise: ls (the reference) cannot list it either, without capabilities
  const ls = await new Deno.Command(UNPRIVILEGED[0], {
    args: [...UNPRIVILEGED.slice(1), "ls", root],
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(ls.code, 2, "ls lists the locked folder");
  assertStringIncludes(dec.decode(ls.stderr), "Permission denied");
  const out = `${tmp.path}/out`;
  const commands: [string, string[]][] = [
    ["report", ["-o", `${out}.csv`, "--errors", `${out}.errors.csv`]],
    ["repair", ["--apply", "--journal", `${out}.journal`]],
    ["chown", ["--chown_from", "1", "--chown_to", "2:2", "--apply", "--journal", `${out}.j`]],
    ["plan", ["--shards", "2", "-o", `${out}.json`]],
    ["slurm", ["--shards", "2", "--out", `${out}.scan`, "--dry-run"]],
  ];
  for (const [name, options] of commands) {
    // ROOT itself, and a ROOT inside it (which cannot even be looked up)
    for (const r of [root, `${root}/inside`]) {
      const ran = await cli([name, ...options, r], { prefix: UNPRIVILEGED });
      assertEquals(ran.code, 2, `${name} ${r}: ${ran.stderr}`);
      assertEquals(stderrLines(ran.stderr), [`pwalk: ${r}: Permission denied`], name);
      assertEquals(ran.stdout.length, 0, name);
    }
    // what its --help tells (chown's: as for repair)
    const help = (await cli([name === "chown" ? "repair" : name, "--help"])).text;
    assert(
      /2 +bad usage[^]*?a ROOT (that is )?missing, not a\s+folder,? or that cannot be\s+opened and listed/
        .test(help),
      `${name}: ${help}`,
    );
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["locked"], "nothing written");
});

Deno.test("--journal - is refused (2): no file named -, nothing changed", async () => {
  await using tmp = await tempDir();
  // a change pending: a file with a private group below a shared folder
  const proj = `${tmp.path}/proj`;
  await Deno.mkdir(proj);
  Deno.chownSync(proj, 0, 5000);
  await Deno.writeTextFile(`${proj}/f`, "x");
  Deno.chownSync(`${proj}/f`, 1, 0);
  for (
    const args of [
      ["repair", "--apply", "--journal", "-", "proj"],
      ["repair", "--journal", "-", "proj"],
      ["chown", "--chown_from", "1", "--chown_to", "2:2", "--apply", "--journal=-", "proj"],
    ]
  ) {
    const r = await cli(args, { cwd: tmp.path });
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(stderrLines(r.stderr), [
      "pwalk: --journal - (stdout): a journal must be a file, which undo reads back",
    ]);
    assertEquals(r.stdout.length, 0);
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["proj"], args.join(" "));
    const st = Deno.statSync(`${proj}/f`);
    assertEquals([st.uid, st.gid], [1, 0], "nothing changed");
  }
});

Deno.test("--exclude naming ROOT itself, however spelled: bad usage, nothing written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/proj`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  for (const spelling of [root, `${root}/`, `${root}/sub/..`, "proj"]) {
    for (
      const cmd of [
        ["-o", `${tmp.path}/out.csv`],
        ["repair"],
        ["plan", "--shards", "2", "-o", `${tmp.path}/plan.json`],
        ["slurm", "--dry-run", "--shards", "2", "--out", `${tmp.path}/scan`],
      ]
    ) {
      const r = await cli([...cmd, "--exclude", spelling, root], { cwd: tmp.path });
      assertEquals(r.code, 2, `${spelling}: ${r.stderr}`);
      assertEquals(stderrLines(r.stderr), [
        `pwalk: --exclude ${spelling} is ROOT itself: nothing would be walked`,
      ]);
    }
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["proj"]);
  // plan and slurm warn of an exclude matching nothing, as report does
  for (const cmd of [["plan", "--shards", "2"], ["slurm", "--dry-run", "--shards", "2"]]) {
    const out = cmd[0] === "plan" ? ["-o", `${tmp.path}/plan.json`] : ["--out", `${tmp.path}/s`];
    const r = await cli([...cmd, ...out, "--exclude", "proj/nothere", "proj"], { cwd: tmp.path });
    assertEquals(r.code, 0, r.stderr);
    assert(
      stderrLines(r.stderr).includes(
        `pwalk: warning: --exclude proj/nothere (${
          Deno.realPathSync(tmp.path)
        }/proj/nothere) matched nothing under proj`,
      ),
      r.stderr,
    );
  }
});

Deno.test("stderr: a name's C1 control (U+009B, a terminal's CSI) is shown escaped, as repair's lines", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.mkdir(`${root}/x\u009b31mred`, { mode: 0o000 });
  const r = await cli(["-o", `${tmp.path}/out.csv`, root], { prefix: UNPRIVILEGED });
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, `pwalk: open '${root}/x\\xc2\\x9b31mred': Permission denied`);
  assert(!r.stderr.includes("\u009b"), JSON.stringify(r.stderr));
  // the same spelling as lib/journal.ts's printablePath (undo's lines)
  assertEquals(
    printablePath(new TextEncoder().encode(`${root}/x\u009b31mred`)),
    `${root}/x\\xc2\\x9b31mred`,
  );
});

Deno.test("stderr: bidirectional controls in a name (U+202E shows 'a<RLO>txt.exe' as 'aexe.txt') are shown \\uXXXX, as summary shows them", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const controls = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"];
  for (const c of controls) await Deno.mkdir(`${root}/a${c}txt.exe`, { mode: 0o000 });
  const r = await cli(["-o", `${tmp.path}/out.csv`, "--progress=1", root], {
    prefix: UNPRIVILEGED,
  });
  assertEquals(r.code, 0, r.stderr);
  // summary's spelling (lib/answers/text.ts visible) is the reference
  const { visible } = await import("../lib/answers/text.ts");
  const lines = stderrLines(r.stderr).filter((l) => l.startsWith("pwalk: open"));
  assertEquals(
    lines.sort(),
    controls.map((c) => `pwalk: open '${visible(`${root}/a${c}txt.exe`)}': Permission denied`)
      .sort(),
  );
  assert(!/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(r.stderr), r.stderr);
  // undo's lines (lib/journal.ts printablePath) spell them the same
  for (const c of controls) {
    const p = `${root}/a${c}txt.exe`;
    assertEquals(printablePath(new TextEncoder().encode(p)), visible(p));
  }
});

Deno.test("change lines: names that would read alike, or drive a terminal, are escaped apart", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/p`;
  await Deno.mkdir(root);
  Deno.chownSync(root, 0, 5000);
  const enc = new TextEncoder();
  // name bytes -> how a change line must show them
  const names: [Uint8Array, string][] = [
    [enc.encode("a\nb"), "a\\nb"], // a newline
    [enc.encode("a\\nb"), "a\\\\nb"], // a backslash and an n: not the same line
    [new Uint8Array([0x78, 0x9b, 0x79]), "x\\x9by"], // a lone 0x9b: CSI to an 8-bit terminal
    [new Uint8Array([0x71, 0xc2, 0x9b, 0x72]), "q\\xc2\\x9br"], // U+009B, the same in UTF-8
    [enc.encode("é€"), "é€"], // valid UTF-8 stays as it is
  ];
  for (const [n] of names) {
    const p = new Uint8Array([...enc.encode(`${root}/`), ...n]);
    writeFileRaw(p);
    lchown(p, 1001, 1001);
  }
  closeLibc();
  const r = await cli(["repair", root]);
  assertEquals(r.code, 0, r.stderr);
  const got = dec.decode(r.stdout).split("\n").filter((l) => l.includes(": group "));
  // the ids as the name service shows them (1001 may be a user's here)
  const change = `group ${groupShown(1001)} -> ${groupShown(5000)}`;
  assertEquals(
    got.sort(),
    names.map(([, shown]) => `would change: ${root}/${shown}: ${change}`).sort(),
  );
});

/**
 * The test's own spelling of a name on one line, from its bytes: the line
 * and paragraph separators, bidirectional controls and invisible
 * characters listed here written \\uXXXX, a backslash doubled, the rest (these
 * names are plain UTF-8 otherwise) as it is.
 */
function shownFromBytes(b: Uint8Array): string {
  const escaped = new Set([
    0x061c,
    0x200b,
    0x200c,
    0x200d,
    0x200e,
    0x200f,
    0x2028,
    0x2029,
    0x202a,
    0x202b,
    0x202c,
    0x202d,
    0x202e,
    0x2060,
    0x2061,
    0x2062,
    0x2063,
    0x2064,
    0x2066,
    0x2067,
    0x2068,
    0x2069,
    0xfeff,
  ]);
  let out = "";
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    const cp = n === 1
      ? c
      : n === 2
      ? ((c & 0x1f) << 6) | (b[i + 1] & 0x3f)
      : n === 3
      ? ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f)
      : ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) |
        (b[i + 3] & 0x3f);
    out += escaped.has(cp)
      ? `\\u${cp.toString(16).padStart(4, "0")}`
      : cp === 0x5c
      ? "\\\\"
      : String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

/** Names with a line separator, an override, invisible characters. */
const ALIKE = [
  "a\u2028b", // LINE SEPARATOR: a line break to some terminals
  "a\u2029b",
  "a\u202etxt.exe", // RLO: shows as "aexe.txt"
  "a\u200bb", // zero-width space: reads as "ab"
  "a\u200db",
  "\ufeffab", // BOM
  "a\u2060b", // word joiner
  "a\u061cb",
];

Deno.test("stderr: line separators and invisible characters in a name (U+2028, U+200B, U+FEFF) are shown \\uXXXX", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  for (const n of ALIKE) await Deno.mkdir(`${root}/${n}`, { mode: 0o000 });
  const r = await cli(["-o", `${tmp.path}/out.csv`, root], { prefix: UNPRIVILEGED });
  assertEquals(r.code, 0, r.stderr);
  const enc = new TextEncoder();
  const lines = stderrLines(r.stderr).filter((l) => l.startsWith("pwalk: open"));
  assertEquals(
    lines.sort(),
    ALIKE.map((n) =>
      `pwalk: open '${shownFromBytes(enc.encode(`${root}/${n}`))}': Permission denied`
    ).sort(),
  );
  assert(!/[\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/.test(r.stderr), r.stderr);
});

Deno.test("change lines: line separators and invisible characters in a name are shown \\uXXXX", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/p`;
  await Deno.mkdir(root);
  Deno.chownSync(root, 0, 5000);
  const enc = new TextEncoder();
  for (const n of ALIKE) {
    const p = enc.encode(`${root}/${n}`);
    writeFileRaw(p);
    lchown(p, 1001, 1001);
  }
  closeLibc();
  const r = await cli(["repair", root]);
  assertEquals(r.code, 0, r.stderr);
  const out = dec.decode(r.stdout);
  const got = out.split("\n").filter((l) => l.includes(": group "));
  // the ids as the name service shows them (1001 may be a user's here)
  const change = `group ${groupShown(1001)} -> ${groupShown(5000)}`;
  assertEquals(
    got.sort(),
    ALIKE.map((n) => `would change: ${shownFromBytes(enc.encode(`${root}/${n}`))}: ${change}`)
      .sort(),
  );
  assert(!/[\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/.test(out), out);
});

Deno.test("CLI: a message naming a path with control characters stays one line", async () => {
  for (const cmd of [[], ["repair"]]) {
    const r = await cli([...cmd, "/no\npe\x1b[2J\u009b"]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr, "pwalk: /no\\npe\\x1b[2J\\xc2\\x9b: No such file or directory\n");
  }
});

Deno.test("CLI: a message naming a path with a line separator or invisible characters shows them \\uXXXX", async () => {
  const enc = new TextEncoder();
  for (const cmd of [[], ["repair"]]) {
    for (const n of ALIKE) {
      const r = await cli([...cmd, `/no/${n}`]);
      assertEquals(r.code, 2, r.stderr);
      assertEquals(
        r.stderr,
        `pwalk: ${shownFromBytes(enc.encode(`/no/${n}`))}: No such file or directory\n`,
      );
    }
  }
});

Deno.test("undo's lines (printablePath) show line separators and invisible characters \\uXXXX, as the native lines", () => {
  const enc = new TextEncoder();
  for (const n of ALIKE) {
    const b = enc.encode(`/p/${n}`);
    assertEquals(printablePath(b), shownFromBytes(b));
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT, PYTHON3], {
  name:
    "a ROOT on a dead FUSE mount, typed relative or through a link: one line naming ROOT as typed",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // the message named the real path too, after a stray colon:
    // "pwalk: mnt:/tmp/.../mnt:  Transport endpoint is not connected"
    await using tmp = await tempDir();
    await using fs = await deadMount(tmp.path);
    await Deno.symlink(fs.path, `${tmp.path}/dead`);
    const text = (await python("import errno, os\nprint(os.strerror(errno.ENOTCONN))")).trim();
    for (const root of ["mnt", `${tmp.path}/dead`, fs.path]) {
      const r = await cli([root], { cwd: tmp.path });
      assertEquals([r.code, stderrLines(r.stderr)], [2, [`pwalk: ${root}: ${text}`]], root);
    }
  },
});

Deno.test("CLI: a report or an answer that stdout cannot take (a full disk, > /dev/full) says it was stdout", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/tree`);
  await Deno.writeTextFile(`${tmp.path}/tree/a`, "a\n");
  const made = await cli(["-o", `${tmp.path}/scan.csv`, `${tmp.path}/tree`]);
  assertEquals(made.code, 0, made.stderr);
  const full = { prefix: ["sh", "-c", 'exec "$@" > /dev/full', "sh"] };
  for (const args of [["summary"], ["summary", "--json"]]) {
    const r = await cli([...args, `${tmp.path}/scan.csv`], full);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, "pwalk: cannot write stdout: No space left on device\n");
  }
  // the report itself, plain and through the stdout's names that mean fd 1
  for (const args of [[], ["-o", "-"], ["-o", "/dev/stdout"]]) {
    const r = await cli([...args, `${tmp.path}/tree`], full);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr, "pwalk: cannot write stdout: No space left on device\n");
  }
});

Deno.test('an empty ROOT (pwalk ""): one line that says so, bad usage (2), for every command that takes one', async () => {
  await using tmp = await tempDir();
  const out = `${tmp.path}/out`;
  const commands: [string, string[]][] = [
    ["report", ["-o", `${out}.csv`]],
    ["repair", ["--apply", "--journal", `${out}.journal`]],
    ["plan", ["--shards", "2", "-o", `${out}.json`]],
  ];
  for (const [name, options] of commands) {
    const r = await cli([name, ...options, ""]);
    assertEquals(r.code, 2, `${name}: ${r.stderr}`);
    assertEquals(stderrLines(r.stderr), ["pwalk: ROOT is empty"], name);
    assertEquals(r.stdout.length, 0, name);
  }
  assertEquals([...Deno.readDirSync(tmp.path)], []); // nothing written
});

Deno.test("--help, --version and a command's help to a full device: 'cannot write stdout', as a report's, status 1", async () => {
  // /dev/full: every write fails with ENOSPC (the reference: the system's text for it)
  const why = "No space left on device";
  for (const args of [["--help"], ["help"], ["convert", "--help"], ["--version"]]) {
    const r = await run("sh", [
      "-c",
      `exec "$0" run -A "$@" > /dev/full`,
      Deno.execPath(),
      CLI,
      ...args,
    ]);
    assertEquals(r.code, 1, `${args}: ${r.stderr}`);
    assertEquals(stderrLines(r.stderr), [`pwalk: cannot write stdout: ${why}`], `${args}`);
  }
});

Deno.test("-o FIFO whose reader quits: stopped quietly with 141, as --help and README say", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // more rows than a pipe holds (64 KiB): the writer is still writing when the reader goes
  for (let i = 0; i < 3000; i++) Deno.writeTextFileSync(`${root}/f${i}`, "");
  const fifo = `${tmp.path}/fifo`;
  assertEquals((await run("mkfifo", [fifo])).code, 0);
  const reader = run("sh", ["-c", 'head -c 10 "$0" > /dev/null', fifo]);
  const r = await cli(["-o", fifo, root]);
  assertEquals((await reader).code, 0);
  assertEquals(r.code, 141, r.stderr);
  assertEquals(r.stderr, "");
  const help = (await cli(["--help"])).text;
  assertStringIncludes(help, "141  stdout, or an -o FIFO, closed early by its reader");
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assertStringIncludes(readme.replace(/\s+/g, " "), "or an `-o FIFO` whose reader quits, ends");
});

Deno.test("-o that is a link to nothing, a socket, or /dev/stderr open on a file: bad usage (2), nothing written, as --help's exit statuses say", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const link = `${tmp.path}/link`, sock = `${tmp.path}/sock`, log = `${tmp.path}/log`;
  await Deno.symlink(`${tmp.path}/nowhere`, link);
  using _listener = Deno.listen({ transport: "unix", path: sock });
  for (const out of [link, sock]) {
    const r = await cli(["-o", out, root]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(stderrLines(r.stderr).length, 1, r.stderr);
  }
  assertEquals(await Deno.lstat(`${tmp.path}/nowhere`).catch(() => null), null);
  await Deno.writeTextFile(log, "kept\n");
  const r = await run("sh", [
    "-c",
    `exec "$0" run -A "$1" -o /dev/stderr "$2" 2>> "$3"`,
    Deno.execPath(),
    CLI,
    root,
    log,
  ]);
  assertEquals(r.code, 2);
  const logged = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
  assertEquals(logged[0], "kept");
  assertEquals(logged.length, 2, logged.join("\n")); // the one line
  const help = (await cli(["--help"])).text.replace(/\s+/g, " ");
  assertStringIncludes(
    help,
    "an -o or --errors that is a folder, a socket, a link to nothing, a file the report reads, " +
      "or a descriptor of pwalk's open on a file (-o /dev/stderr 2>>log",
  );
});

Deno.test("a name that leads to a descriptor open on a log (/dev//stderr, a link to /dev/stderr), as -o, convert's OUT or --html: bad usage (2), the log kept", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const scan = `${tmp.path}/scan.csv`, link = `${tmp.path}/err.csv`, log = `${tmp.path}/log`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  await Deno.symlink("/dev/stderr", link);
  const cases: [string, string[]][] = [
    ["-o /dev//stderr", ["-o", "/dev//stderr", root]],
    ["-o link", ["-o", link, root]],
    ["convert to a link", ["convert", scan, link]],
    ["summary --html /dev/stderr", ["summary", "--html", "/dev/stderr", scan]],
    ["diff --html /dev/./stderr", ["diff", "--html", "/dev/./stderr", scan, scan]],
  ];
  for (const [what, args] of cases) {
    await Deno.writeTextFile(log, "kept\n");
    const r = await run("sh", [
      "-c",
      `log="$1"; shift; exec "$0" run -A "$@" >/dev/null 2>> "$log"`,
      Deno.execPath(),
      log,
      CLI,
      ...args,
    ]);
    const logged = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
    assertEquals(
      [r.code, logged[0], logged.length],
      [2, "kept", 2],
      `${what}: ${logged.join("\n")}`,
    );
    assertStringIncludes(logged[1], "a descriptor of this process open on a file", what);
  }
  // (the reference: the descriptor's file is the log, as the kernel resolves the names)
  const fd2 = await run("sh", ["-c", `readlink -f "$0" 2>> "$1"`, link, log]);
  assertEquals(dec.decode(fd2.stdout).trim(), await Deno.realPath(log));
});

Deno.test("-o a writable file in a folder the caller cannot write: refused (status 1, one line), where the shell's > would write it, as README says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const dir = `${tmp.path}/ro`, out = `${dir}/out.csv`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(out, "old\n");
  await Deno.chmod(out, 0o666);
  await Deno.chmod(dir, 0o555);
  try {
    // the reference: the shell's > writes it in place (no capabilities, as the run below)
    const sh = await run(UNPRIVILEGED[0], [
      ...UNPRIVILEGED.slice(1),
      "sh",
      "-c",
      'echo shell > "$0"',
      out,
    ]);
    assertEquals(sh.code, 0, sh.stderr);
    assertEquals(await Deno.readTextFile(out), "shell\n");
    const r = await cli(["-o", out, root], { prefix: UNPRIVILEGED });
    assertEquals(r.code, 1, r.stderr);
    const why = "Permission denied in its folder (a report is written whole beside it, then " +
      "renamed over it)";
    assertEquals(stderrLines(r.stderr), [`pwalk: cannot write ${out}: ${why}`]);
    assertEquals(await Deno.readTextFile(out), "shell\n");
    const readme = (await Deno.readTextFile(new URL("../README.md", import.meta.url)))
      .replace(/\s+/g, " ");
    assertStringIncludes(readme, "One file `>` would write is refused");
    assertStringIncludes(readme, `\`pwalk: cannot write FILE: ${why}\``);
    // --errors FILE so too, and nothing walked or written
    const e = await cli(["--errors", out, "-o", `${tmp.path}/r.csv`, root], {
      prefix: UNPRIVILEGED,
    });
    assertEquals(e.code, 1, e.stderr);
    assertEquals(stderrLines(e.stderr), [
      `pwalk: --errors ${out}: cannot write: Permission denied in its folder ` +
      "(it is written whole beside it, then renamed over it)",
    ]);
    assertEquals(await Deno.readTextFile(out), "shell\n");
    assertEquals((await Array.fromAsync(Deno.readDir(tmp.path))).map((d) => d.name).sort(), [
      "ro",
      "tree",
    ]);
  } finally {
    await Deno.chmod(dir, 0o755);
  }
});

/** The permissions README's "Install and use" lists: `base` for everything, `more` beside them. */
function readmePermissions(): { base: string[]; more: string[] } {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url)).replace(
    /\s+/g,
    " ",
  );
  const flags = (s: string) => [...s.matchAll(/`(--allow-[a-z]+)`/g)].map((m) => m[1]);
  const base = /The permissions are (.*?) \(HOME/.exec(readme)![1];
  const more = /the dry runs of repair and chown; (.*?) also need (.*?)\. /.exec(readme)!;
  return { base: flags(base), more: flags(more[2]) };
}

Deno.test("CLI: every command runs with exactly the permissions README lists (no false '/proc is not mounted'), and a missing one is named", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/f`, "x");
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["--header", "-o", scan, root])).code, 0);
  const { base, more } = readmePermissions();
  assertEquals(base, ["--allow-ffi", "--allow-read", "--allow-env"]);
  const limited = (perms: string[], args: string[]) =>
    run(Deno.execPath(), ["run", "--no-prompt", ...perms, CLI, ...args], {
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    });
  // the commands README says the three suffice for, with those alone (a
  // dry run of repair and chown: nothing changed), each beside its run with
  // -A; two runs at a time, then checked in turn
  const readOnly = [[root], ["repair", root], [
    "chown",
    "--chown_from",
    "1",
    "--chown_to",
    "2:2",
    root,
  ]];
  const both = await pooled(
    readOnly.flatMap((args) => [() => limited(base, args), () => cli(args)]),
    (go) => go(),
  );
  for (const [i] of readOnly.entries()) {
    const [r, want] = [both[2 * i], both[2 * i + 1]];
    assertEquals([r.code, r.text], [want.code, want.text], r.stderr);
  }
  // the others with the ones README adds, and the same answers as with -A:
  // those that change nothing of the tree two at a time, then repair
  // --apply and its undo in turn
  const all = [...base, ...more];
  const runs = [
    ["summary", scan],
    ["diff", scan, scan],
    ["convert", scan, `${tmp.path}/c.csv.zst`],
    ["plan", "--shards", "2", "-o", `${tmp.path}/p.json`, root],
    ["-o", `${tmp.path}/r.csv`, "--errors", `${tmp.path}/e.csv`, root],
    ["repair", "--apply", "--journal", `${tmp.path}/j`, root],
    ["undo", `${tmp.path}/j`],
  ];
  const together = runs.slice(0, 5);
  const ran = await pooled(
    together.map((args) => async () => ({
      r: await limited(all, args),
      withA: args[0] === "summary" || args[0] === "diff" ? await cli(args) : undefined,
    })),
    (go) => go(),
  );
  for (const args of runs.slice(5)) ran.push({ r: await limited(all, args), withA: undefined });
  for (const [i, args] of runs.entries()) {
    const { r, withA } = ran[i];
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert(!r.stderr.includes("/proc"), r.stderr);
    if (args[0] === "summary" || args[0] === "diff") assertEquals(r.text, withA!.text);
  }
  // one left out: one line that names it, not a word about /proc
  const leftOut = await pooled(
    more,
    (flag) => limited(all.filter((p) => p !== flag), ["summary", scan]),
  );
  for (const [i, flag] of more.entries()) {
    const r = leftOut[i];
    if (r.code === 0) continue; // (not every one is needed by summary)
    assertEquals(stderrLines(r.stderr).length, 1, r.stderr);
    assertStringIncludes(r.stderr, flag);
  }
});

testNeeding([UNSHARE], {
  name: "CLI: without -A, a command that loads Deno's Node.js layer still tells a missing /proc",
  async fn() {
    await using tmp = await tempDir();
    const scan = `${tmp.path}/s.csv`;
    assertEquals((await cli(["-o", scan, tmp.path])).code, 0);
    const r = await run("unshare", [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'umount -l /proc && exec "$0" run --no-prompt --allow-ffi --allow-read --allow-env ' +
      '--allow-write --allow-sys --allow-run "$@"',
      Deno.execPath(),
      CLI,
      "summary",
      scan,
    ]);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, "pwalk summary: /proc is not mounted");
  },
});

Deno.test("CLI: a PWALK_CWD that is no folder is named as PWALK_CWD, not taken for ROOT", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(`${tmp.path}/tree`);
  await Deno.writeTextFile(`${tmp.path}/file`, "");
  for (const cwd of [`${tmp.path}/gone`, `${tmp.path}/file`]) {
    const r = await cli(["tree"], { env: { PWALK_CWD: cwd } });
    assertEquals(r.code, 1, r.stderr);
    assertEquals(stderrLines(r.stderr).length, 1, r.stderr);
    assert(r.stderr.startsWith(`pwalk: PWALK_CWD=${cwd}: `), r.stderr);
    assertEquals(r.stdout.length, 0);
  }
  // and a good one is where ROOT is read from
  const r = await cli(["tree"], { env: { PWALK_CWD: tmp.path } });
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.text, '"tree"');
});

Deno.test("CLI: -V goes alone and help takes one COMMAND: anything more is bad usage (exit 2, one line), unless -h/--help is among it", async () => {
  const version = await cli(["-V"]);
  assertEquals(version.code, 0, version.stderr);
  for (
    const args of [
      ["-V", "extra", "args"],
      ["--threads", "x", "-V"],
      ["--version", "--header"],
      ["report", "-V", "/tmp"],
      ["help", "report", "extra"],
      ["help", "help", "extra"],
    ]
  ) {
    const r = await cli(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(stderrLines(r.stderr).length, 1, r.stderr);
    assertEquals(r.stdout.length, 0, args.join(" "));
  }
  // -h/--help anywhere still wins: the help of the command named, status 0
  const [reportHelp, mainHelp] = [await cli(["report", "--help"]), await cli(["help"])];
  for (
    const [args, want] of [
      [["-V", "extra", "--help"], mainHelp.text],
      [["help", "report", "extra", "--help"], reportHelp.text],
      [["help", "report"], reportHelp.text],
    ] as const
  ) {
    const r = await cli([...args]);
    assertEquals([r.code, r.text], [0, want], args.join(" "));
  }
});

Deno.test("CLI: options a command accepts are in its --help and README (convert --header, --names, a shard's --maxthreads)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["--header", "-o", scan, root])).code, 0);
  const plan = `${tmp.path}/p.json`;
  assertEquals((await cli(["plan", "--shards", "1", "-o", plan, root])).code, 0);
  const readme = (await Deno.readTextFile(new URL("../README.md", import.meta.url))).replace(
    /\s+/g,
    " ",
  );
  const cases: [string[], string, string[], RegExp][] = [
    [["convert", "--header", scan, `${tmp.path}/c.csv`], "--header", ["convert"], /`--header`/],
    [
      ["summary", "--names", scan],
      "--names",
      ["summary"],
      /`--no-names` \(`--names`, the default\)/,
    ],
    [
      ["diff", "--names", scan, scan],
      "--names",
      ["diff"],
      /`--no-names` \(`--names`, the default\)/,
    ],
    [
      ["report", "--plan", plan, "--shard", "0", "--maxthreads", "2", "-o", `${tmp.path}/s0.csv`],
      "--maxthreads",
      ["report", "--plan", plan],
      /`--threads` or `--maxthreads`/,
    ],
  ];
  // (each case's run and its --help, and the two summaries below: two at a
  // time, then checked in turn)
  const ran = await pooled([
    ...cases.flatMap(([args, , helpOf]) => [args, [...helpOf, "--help"]]),
    ["summary", "--names", scan],
    ["summary", scan],
  ], (args) => cli(args));
  for (const [i, [args, option, helpOf, inReadme]] of cases.entries()) {
    const r = ran[2 * i];
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    const help = ran[2 * i + 1];
    assert(
      help.text.split("\n").some((l) => l.includes(option)),
      `${helpOf.join(" ")} --help: ${option}`,
    );
    assertMatch(readme, inReadme);
  }
  // and the same answers as without the option (its default)
  assertEquals(ran[2 * cases.length].text, ran[2 * cases.length + 1].text);
});

Deno.test("summary --help's --now forms are the ones it takes: .fff and -HH:MM too, as README says", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const scan = `${tmp.path}/s.csv`;
  assertEquals((await cli(["--header", "-o", scan, root])).code, 0);
  const help = (await cli(["summary", "--help"])).text.replace(/\s+/g, " ");
  assertStringIncludes(help, "2026-01-31T18:00[:SS[.fff]] with Z, +HH:MM or -HH:MM");
  const readme = (await Deno.readTextFile(new URL("../README.md", import.meta.url)))
    .replace(/\s+/g, " ");
  assertStringIncludes(readme, "`.fff`, and `Z` or `+HH:MM`/`-HH:MM`");
  for (
    const now of [
      "2026-01-31T18:00:00.250-05:00",
      "2026-01-31T18:00:07.5Z",
      "2026-01-31T18:00+02:30",
    ]
  ) {
    const r = await cli(["summary", "--json", "--now", now, scan]);
    assertEquals(r.code, 0, `${now}: ${r.stderr}`);
    assertEquals(JSON.parse(r.text).now, Math.floor(Date.parse(now) / 1000), now);
  }
});

Deno.test("CLI: option values as README says: the next argument whatever it is, or after '=' (-o=F too); no -oF, no clustered -xo", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const readme = (await Deno.readTextFile(new URL("../README.md", import.meta.url))).replace(
    /\s+/g,
    " ",
  );
  assert(!readme.includes("as getopt does"), "README: pwalk's parsing is not getopt's");
  assertStringIncludes(readme, "short options are neither clustered (`-xo F`) nor joined");
  const eq = await cli(["-o=eq.csv", root], { cwd: tmp.path });
  assertEquals(eq.code, 0, eq.stderr);
  assert(existsSync(`${tmp.path}/eq.csv`));
  const next = await cli(["-o", "-x", root], { cwd: tmp.path });
  assertEquals(next.code, 0, next.stderr);
  assert(existsSync(`${tmp.path}/-x`));
  for (const args of [["-ojoined.csv", root], ["-xo", "c.csv", root]]) {
    const r = await cli(args, { cwd: tmp.path });
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr, `pwalk: unknown option ${args[0]} (try --help)\n`);
  }
  assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), ["-x", "eq.csv", "tree"]);
});

Deno.test("out of descriptors while a command's module loads: one line that names it and says to raise the limit", async () => {
  // Deno's own error of a dynamic import (a command's modules load when it
  // runs) with every descriptor taken, given to the CLI's last word
  const program = `const held = [];
try { for (;;) held.push(Deno.openSync("/dev/null")); } catch { /* all taken */ }
const spec = [${JSON.stringify(`file://${REPO}/lib`)}, "report.ts"].join("/");
const e = await import(spec).then(() => undefined, (e) => e);
for (const f of held) f.close();
if (!e) throw new Error("loaded: the premise does not hold");
console.log(JSON.stringify(e.message));
// (by a computed name too: a literal one would be loaded, with report.ts, before the run)
const { exitStatus } = await import([${
    JSON.stringify(`file://${REPO}/lib/cli`)
  }, "common.ts"].join("/"));
Deno.exit(exitStatus(e));`;
  const r = await run(Deno.execPath(), ["eval", program], {
    prefix: ["prlimit", "--nofile=64", "--"],
  });
  assertStringIncludes(JSON.parse(r.text), "Too many open files", "Deno's own message");
  assertEquals(r.code, 1, r.stderr);
  assertEquals(
    r.stderr,
    `pwalk: cannot load ${REPO}/lib/report.ts: Too many open files: raise the limit of open ` +
      "files (ulimit -n) or use fewer threads\n",
  );
});

Deno.test("out of descriptors (ulimit -n), wherever it happens (the errors file, the output, a folder): the message says to raise the limit, and nothing is written", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/t`;
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/b/f`, "x");
  const out = `${tmp.path}/x.parquet`;
  const errs = `${tmp.path}/x.err`;
  // limits from too few for Deno itself (it panics: not pwalk's to say)
  // to enough: the ones between run out in pwalk's own opening of files
  let hits = 0, ran = 0;
  for (let n = 16; n <= 48; n++) {
    const r = await cli(["--threads", "64", "-o", out, "--errors", errs, root], {
      prefix: ["prlimit", `--nofile=${n}`, "--"],
    });
    if (r.code === 0) {
      ran++;
      await Deno.remove(out);
      await Deno.remove(errs);
      continue;
    }
    if (r.stderr.includes("Deno has panicked")) continue;
    // the line that ended the run: the last (before it, a folder's error
    // line, or Deno's own warning of certificates it could not load)
    const line = r.stderr.trimEnd().split("\n").at(-1)!;
    if (!line.includes("Too many open files")) continue;
    hits++;
    assert(line.endsWith(": raise the limit of open files (ulimit -n) or use fewer threads"), line);
    assertEquals(r.code, 1, r.stderr);
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name), ["t"], `ulimit -n ${n}`);
  }
  assert(hits > 0, "no limit ran out in pwalk's own opening of files");
  assert(ran > 0, "no limit was enough to run");
});
