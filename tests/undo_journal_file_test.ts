/**
 * The journal file undo reads, and the one repair appends to, against the
 * findings of an audit of undo:
 *
 * - undo opens the journal without following a link and without waiting:
 *   a FIFO (or a link to one) swapped in between its lstat and its open
 *   is refused at once, not waited on for ever;
 * - a journal that cannot be read is named, and bad input (status 2);
 * - a journal repair cannot create or open throws with the errno's class
 *   and name (`code`), as the API's other system errors;
 * - a journal repair refuses to append to is left as it was, its torn
 *   last line too;
 * - the undo command printed for a journal named `-jx` works, and so does
 *   `repair --undo=-jx`;
 * - undo's and repair's lines escape every format character (Cf), as the
 *   CLI's messages do: no two names read the same;
 * - a dry-run undo of a journal of dry runs only does not say to add --apply.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { indexJournal } from "../lib/journal.ts";
import { readJournal, repair } from "../mod.ts";
import { ensureNative } from "../lib/ffi.ts";
import { readJournalFile, RefusedError } from "../lib/journal_file.ts";
import { closeLibc, mkfifo } from "./helpers/libc.ts";
import { CLI, cli, deno, REPO, run, UNPRIVILEGED } from "./helpers/run.ts";
import { PYTHON3, SETPRIV, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountOverlay, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { buildTree, diffSnapshots, type EntrySpec, G, snapshot } from "./helpers/repair_tree.ts";
import { groupShown } from "./helpers/names.ts";

function errLines(s: string): string[] {
  return s.split("\n").filter((l) => l && !l.startsWith("Warning"));
}

/** A hang guard only (not a timing threshold): what a run that never returns gets. */
const HUNG = 60_000;

Deno.test("undo: a FIFO or a link to one swapped in after the lstat is refused, not waited on (audit)", async () => {
  await ensureNative();
  await using tmp = await tempDir("pwalk-undofile-");
  const fifo = `${tmp.path}/fifo`;
  mkfifo(fifo, 0o600);
  const realLstat = Deno.lstat;
  for (
    const [name, swapped, why] of [
      ["link", () => Deno.symlinkSync("fifo", `${tmp.path}/link`), "a symbolic link: not trusted"],
      ["fifo", () => {}, "not a regular file: not trusted"],
    ] as const
  ) {
    swapped();
    const path = `${tmp.path}/${name}`;
    // the swap at its worst moment: lstat still saw a regular file there
    // (the FIFO's own device and inode, as a rename of it over the name does)
    const seen = { ...(await realLstat(fifo)), isFile: true, isSymlink: false, isFifo: false };
    Deno.lstat = (p: string | URL) => p === path ? Promise.resolve(seen) : realLstat(p);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const read = readJournalFile(path).then(() => "read", (e) => e);
      const got = await Promise.race([
        read,
        new Promise<"hung">((ok) => timer = setTimeout(() => ok("hung"), HUNG)),
      ]);
      if (got === "hung") {
        // a writer lets the open return, so that the test can end
        Deno.openSync(fifo, { write: true }).close();
        await read;
      }
      assert(got instanceof RefusedError, `${name}: ${got}`);
      assertEquals(got.message, `pwalk: journal ${path}: ${why}`);
    } finally {
      clearTimeout(timer);
      Deno.lstat = realLstat;
    }
  }
  // and named as such, the CLI refuses them in one line
  for (
    const [path, why] of [[`${tmp.path}/link`, "a symbolic link"], [fifo, "not a regular file"]]
  ) {
    const r = await cli(["undo", "--apply", path], { timeoutMs: HUNG });
    assertEquals(r.code, 2, r.stderr);
    assertEquals(errLines(r.stderr), [`pwalk: journal ${path}: ${why}: not trusted`]);
  }
  await assertRejects(() => readJournalFile(`${tmp.path}/none`), Deno.errors.NotFound);
  closeLibc();
});

/** A private entry of user 1001 (group 1001, no group bits): one that repair changes. */
function own(rel: string): EntrySpec {
  return { rel, type: "file", uid: 1001, gid: 1001, mode: 0o600 };
}

/** The project root entry: owned 100, the shared group, setgid. */
const PROJECT: EntrySpec = { rel: ".", type: "dir", uid: 100, gid: G.PROJECT, mode: 0o2770 };

testNeeding([SETPRIV], {
  name: "undo: a journal that cannot be read is named, status 2 as bad input (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-undofile-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a")]);
    const j = `${tmp.path}/j`;
    await repair(root, { journal: j });
    Deno.chmodSync(j, 0o200);
    Deno.mkdirSync(`${tmp.path}/shut`, { mode: 0o700 });
    Deno.copyFileSync(j, `${tmp.path}/shut/j`);
    Deno.chmodSync(`${tmp.path}/shut/j`, 0o600);
    Deno.chmodSync(`${tmp.path}/shut`, 0);
    // uid 0 without capabilities: the modes hold for it
    for (
      const [path, why] of [[j, "Permission denied"], [`${tmp.path}/shut/j`, "Permission denied"]]
    ) {
      const r = await cli(["undo", path], { prefix: UNPRIVILEGED, timeoutMs: HUNG });
      assertEquals(r.code, 2, r.stderr);
      assertEquals(errLines(r.stderr), [`pwalk: cannot read the journal ${path}: ${why}`]);
    }
    Deno.chmodSync(`${tmp.path}/shut`, 0o700);
    const r = await cli(["undo", `${j}/`], { timeoutMs: HUNG });
    assertEquals(r.code, 2, r.stderr);
    assertEquals(errLines(r.stderr), [`pwalk: cannot read the journal ${j}/: Not a directory`]);
    closeLibc();
  },
});

/**
 * The errno name Python's os.open gives for `path`, opened as the library
 * opens a journal for a run (a new file, else an existing one, never
 * through a link): the independent reference for the API's `code`.
 */
const OPEN_PROBE = `
import errno, os, sys
for p in sys.argv[1:]:
    base = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        try:
            fd = os.open(p, base | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = os.open(p, base)
        os.close(fd)
        print("opened")
    except OSError as e:
        print(errno.errorcode[e.errno])
`;

testNeeding([SETPRIV, PYTHON3], {
  name:
    "repair: a journal that cannot be created or opened throws with the errno's name as code, and its class (review)",
  async fn() {
    await using tmp = await tempDir("pwalk-undofile-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(root);
    Deno.writeTextFileSync(`${tmp.path}/file`, "");
    Deno.mkdirSync(`${tmp.path}/dir`);
    Deno.symlinkSync(`${tmp.path}/target`, `${tmp.path}/link`);
    Deno.mkdirSync(`${tmp.path}/shut`, { mode: 0o555 });
    Deno.chmodSync(`${tmp.path}/shut`, 0o555);
    const probe = async (paths: string[], prefix: string[] = []) =>
      (await run("python3", ["-c", OPEN_PROBE, ...paths], { prefix })).text.trim().split("\n");
    // (the journal's text and class: what each says and is, the code added)
    const cases: [string, string, new (...a: never[]) => Error, string][] = [
      [`${tmp.path}/none/j`, "ENOENT", Deno.errors.NotFound, "cannot be created or opened"],
      [`${tmp.path}/file/j`, "ENOTDIR", Deno.errors.NotADirectory, "cannot be created or opened"],
      [`${tmp.path}/dir`, "EISDIR", RefusedError, "a folder: give the journal a file name"],
      [`${tmp.path}/link`, "ELOOP", RefusedError, "a symbolic link (a journal is never written"],
    ];
    const codes = await probe(cases.map(([j]) => j));
    assertEquals(codes, cases.map(([, code]) => code)); // the premise
    for (const [i, [j, , type, text]] of cases.entries()) {
      const e = await assertRejects(() => repair(root, { journal: j }), type) as Error & {
        code?: string;
      };
      assertEquals(e.code, codes[i], e.message);
      assert(e.message.startsWith(`pwalk: journal ${j}: ${text}`), e.message);
    }
    // a folder its user may not write: uid 0 without capabilities, the
    // modes hold for it (the probe and the API both)
    const shut = `${tmp.path}/shut/j`;
    const [code] = await probe([shut], UNPRIVILEGED);
    assertEquals(code, "EACCES");
    const api = `
      import { repair } from ${JSON.stringify(`${REPO}/mod.ts`)};
      try {
        await repair(${JSON.stringify(root)}, { journal: ${JSON.stringify(shut)} });
      } catch (e) {
        console.log(JSON.stringify([e.constructor.name, e.code, e.message]));
      }`;
    const r = await deno(["eval", api], { prefix: UNPRIVILEGED, timeoutMs: HUNG });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.text), [
      "PermissionDenied",
      code,
      `pwalk: journal ${shut}: cannot be created or opened: Permission denied`,
    ]);
    // nothing made, through the link either
    assertEquals([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), [
      "dir",
      "file",
      "link",
      "proj",
      "shut",
    ]);
  },
});

/**
 * The errno name Python gives reading `path` as undo reads a journal: not
 * through a link (O_NOFOLLOW), then a shared lock without waiting.
 */
const READ_PROBE = `
import errno, fcntl, os, sys
for p in sys.argv[1:]:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if os.path.isdir(p):
                os.read(fd, 1)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        print("read")
    except OSError as e:
        print(errno.errorcode[e.errno])
`;

testNeeding([SETPRIV, PYTHON3], {
  name:
    "undo, readJournal: a journal refused for reading carries the errno's name as code, as a journal repair cannot open does",
  async fn() {
    await using tmp = await tempDir("pwalk-undofile-");
    const root = `${tmp.path}/proj`;
    Deno.mkdirSync(root);
    const j = `${tmp.path}/j`;
    await repair(root, { journal: j }); // a dry run's journal
    Deno.symlinkSync(j, `${tmp.path}/link`);
    Deno.mkdirSync(`${tmp.path}/dir`);
    const probe = async (paths: string[], prefix: string[] = []) =>
      (await run("python3", ["-c", READ_PROBE, ...paths], { prefix })).text.trim().split("\n");
    // a run still holding the journal's lock (python's flock, as a run's)
    const holder = new Deno.Command("python3", {
      args: [
        "-c",
        "import fcntl,sys;f=open(sys.argv[1],'a');fcntl.flock(f,fcntl.LOCK_EX);print(1,flush=True);sys.stdin.read()",
        j,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const out = holder.stdout.getReader();
    await out.read(); // locked
    try {
      const cases: [string, new (...a: never[]) => Error][] = [
        [`${tmp.path}/link`, RefusedError],
        [`${tmp.path}/dir`, RefusedError],
        [j, Error],
      ];
      const codes = await probe(cases.map(([p]) => p));
      assertEquals(codes, ["ELOOP", "EISDIR", "EAGAIN"]); // the premise
      for (const [i, [p, type]] of cases.entries()) {
        const e = await assertRejects(() => readJournal(p), type) as Error & { code?: string };
        assertEquals(e.code, codes[i], e.message);
      }
    } finally {
      await holder.stdin.close();
      out.releaseLock();
      await holder.stdout.cancel();
      await holder.status;
    }
    // one its user may not read (uid 0 without capabilities: the modes hold)
    Deno.chmodSync(j, 0o000);
    const [code] = await probe([j], UNPRIVILEGED);
    assertEquals(code, "EACCES");
    const api = `
      import { readJournal } from ${JSON.stringify(`${REPO}/mod.ts`)};
      try {
        await readJournal(${JSON.stringify(j)});
      } catch (e) {
        console.log(JSON.stringify([e.constructor.name, e.code]));
      }`;
    const r = await deno(["eval", api], { prefix: UNPRIVILEGED, timeoutMs: HUNG });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.text), ["RefusedError", code]);
  },
});

Deno.test("repair: a journal it refuses is left as it was, its torn last line too (audit)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const tree = snapshot(root);
  const j = `${tmp.path}/j`;
  await repair(root, { journal: j });
  const ls = Deno.readTextFileSync(j).split("\n");
  ls.splice(2, 0, "GARBAGE");
  Deno.writeTextFileSync(j, ls.join("\n") + "65024 1 f 0 0 0644 0 5000 0644 - torn");
  const bytes = Deno.readFileSync(j);
  const r = await cli(["repair", "--apply", "--journal", j, root], { timeoutMs: HUNG });
  assertEquals(r.code, 2, r.stderr);
  assertEquals(errLines(r.stderr), [
    `pwalk: journal ${j}: line 3: not a pwalk journal line: GARBAGE: undo would refuse it whole, ` +
    "so it is not appended to (name a new file: it is created)",
  ]);
  assertEquals(Deno.readFileSync(j), bytes, "the refused journal was changed");
  assertEquals(diffSnapshots(tree, snapshot(root)), []);
  // one it takes loses its torn last line (which undo leaves out, whatever
  // its bytes), and the run's lines follow the complete ones
  const k = `${tmp.path}/k`;
  await repair(root, { journal: k });
  const whole = Deno.readFileSync(k);
  const torn = new Uint8Array([...whole, ...new TextEncoder().encode("65024 1 f \xff"), 0xff]);
  Deno.writeFileSync(k, torn);
  const u = await cli(["undo", k], { timeoutMs: HUNG });
  assertEquals(u.code, 0, u.stderr); // undo's own verdict: read, the torn line an error
  const a = await cli(["repair", "--apply", "--journal", k, root], { timeoutMs: HUNG });
  assertEquals(a.code, 0, a.stderr);
  const after = Deno.readFileSync(k);
  assertEquals(after.subarray(0, whole.length), whole);
  assert(
    new TextDecoder().decode(after.subarray(whole.length)).startsWith(
      "#pwalk-journal 2 repair apply ",
    ),
  );
  closeLibc();
});

Deno.test("the undo command printed for a journal named -jx (relative) works from any folder, and so does repair --undo=-jx (audit)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  const r = await cli(["repair", "--apply", "--journal", "-jx", root], {
    cwd: tmp.path,
    timeoutMs: HUNG,
  });
  assertEquals(r.code, 0, r.stderr);
  const hint = errLines(r.stderr).at(-1)!;
  // the journal's absolute path: the command works wherever it is pasted
  assertEquals(hint, `pwalk repair: journal -jx (undo: pwalk undo --apply ${tmp.path}/-jx)`);
  const dry = await cli(["repair", "--undo=-jx"], { cwd: tmp.path, timeoutMs: HUNG });
  assertEquals(dry.code, 0, dry.stderr);
  assertEquals(dry.text.split("\n").filter((l) => l).length, 1, dry.text);
  assert(dry.text.startsWith("would restore: "), dry.text);
  // the command as printed, in a shell, undoes the run
  const command = hint.slice(hint.indexOf("(undo: ") + 7, -1);
  const sh = await run("sh", ["-c", `pwalk() { "$DENO" run -A "$CLI" "$@"; }\n${command}`], {
    cwd: "/",
    env: { DENO: Deno.execPath(), CLI, NO_COLOR: "1" },
    timeoutMs: HUNG,
  });
  assertEquals(sh.code, 0, sh.stderr);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  closeLibc();
});

Deno.test({
  name:
    "--journal FILE in a folder another user can change (hers, or open to all and not sticky) is refused before anything changes; a sticky one is taken",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using tmp = await tempDir("pwalk-undofile-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a")]);
    const before = snapshot(root);
    const hers = `${tmp.path}/hers`, open = `${tmp.path}/open`, sticky = `${tmp.path}/sticky`;
    for (const d of [hers, open, sticky]) Deno.mkdirSync(d);
    Deno.chownSync(hers, 60001, 60001);
    Deno.chmodSync(open, 0o777);
    Deno.chmodSync(sticky, 0o1777);
    for (
      const [dir, why] of [
        [hers, `${hers} is owned by uid 60001, not by you or root`],
        [open, `${open} is writable by group or others (mode 0777)`],
      ]
    ) {
      for (
        const args of [["repair", "--apply"], [
          "chown",
          "--apply",
          "--chown_from",
          "0",
          "--chown_to",
          "5:5",
        ]]
      ) {
        const r = await cli([...args, "--journal", `${dir}/j`, root], { timeoutMs: HUNG });
        assertEquals(r.code, 2, r.stderr);
        assertEquals(errLines(r.stderr), [
          `pwalk: journal ${dir}/j: ${why}: another user could rename it away; give a folder ` +
          "only you and root can change",
        ]);
        assertEquals([...Deno.readDirSync(dir)], [], "a journal made");
        assertEquals(diffSnapshots(before, snapshot(root)), [], "the tree changed");
      }
    }
    // the API too
    await assertRejects(() => repair(root, { apply: true, journal: `${hers}/j` }), RefusedError);
    // a sticky folder (/tmp's kind): nobody renames another's file there
    const ok = await cli(["repair", "--apply", "--journal", `${sticky}/j`, root], {
      timeoutMs: HUNG,
    });
    assertEquals(ok.code, 0, ok.stderr);
    assert(Deno.lstatSync(`${sticky}/j`).isFile);
    closeLibc();
  },
});

/** Every code point written \\u on one line, as the CLI's messages write them. */
const SHOWN_ESCAPED = /[\u2028\u2029\p{Cf}]/u;

/** The escaped code points, as ranges in order. */
function escapedRanges(): [number, number][] {
  const r: [number, number][] = [];
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (!SHOWN_ESCAPED.test(String.fromCodePoint(c))) continue;
    const last = r.at(-1);
    if (last && last[1] === c - 1) last[1] = c;
    else r.push([c, c]);
  }
  return r;
}

/** A name as the lines should show it: the escaped code points as `\\uXXXX`, `\\u{XXXXX}`. */
function shown(s: string): string {
  return s.replace(new RegExp(SHOWN_ESCAPED.source, "gu"), (c) => {
    const n = c.codePointAt(0)!;
    return n > 0xffff ? `\\u{${n.toString(16)}}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

Deno.test("native/errlog.c escapes the code points JavaScript's \\p{Cf} (and U+2028, U+2029) holds, every one", () => {
  const src = Deno.readTextFileSync(new URL("../native/errlog.c", import.meta.url));
  const table = src.slice(
    src.indexOf("/* escaped ranges: begin */"),
    src.indexOf("/* escaped ranges: end */"),
  );
  const native = [...table.matchAll(/\{0x([0-9a-f]+), 0x([0-9a-f]+)\}/g)]
    .map((m) => [parseInt(m[1], 16), parseInt(m[2], 16)]);
  const js = escapedRanges();
  const c = (r: number[][]) => r.map(([a, b]) => `{0x${a.toString(16)}, 0x${b.toString(16)}}`);
  // when Unicode has grown: the table as it should now be
  assertEquals(c(native).join(", "), c(js).join(", "), "native/errlog.c escaped_ranges");
});

Deno.test("repair's and undo's lines escape every format character: no two names read the same (audit)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  // the audit's three, then every escaped code point and those beside each range
  const set = new Set(["xy", "x\u{e0041}y", "x\u{180e}y"]);
  for (const [a, b] of escapedRanges()) {
    for (let c = a - 1; c <= b + 1; c++) {
      if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2f) continue; // controls, "/"
      set.add(`c${String.fromCodePoint(c)}.${c.toString(16)}`);
    }
  }
  const names = [...set];
  buildTree(root, [PROJECT, ...names.map(own)]);
  const j = `${tmp.path}/j`;
  const r = await cli(["repair", "--apply", "--journal", j, root], { timeoutMs: HUNG });
  assertEquals(r.code, 0, r.stderr);
  const u = await cli(["undo", j], { timeoutMs: HUNG });
  assertEquals(u.code, 0, u.stderr);
  const repaired = new Set(r.text.split("\n").filter((l) => l.includes(": group ")));
  const undone = new Set(u.text.split("\n").filter((l) => l));
  // the groups as the lines show them: "1001 (name)" where the name service has one
  const [mine, project] = [1001, G.PROJECT].map(groupShown);
  for (const name of names) {
    const p = `${root}/${shown(name)}`;
    assert(repaired.has(`${p}: group ${mine} -> ${project}`), `repair: ${p}\n${r.text}`);
    assert(
      undone.has(`would restore: ${p}: group ${project} -> ${mine}, mode 0640 -> 0600`),
      `undo: ${p}`,
    );
  }
  assertEquals(repaired.size, names.length);
  assertEquals(undone.size, names.length);
  closeLibc();
});

Deno.test("undo: a dry run of a journal already undone does not say to add --apply (review r2)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a"), own("b")]);
  const before = snapshot(root);
  const j = `${tmp.path}/j`;
  await repair(root, { apply: true, journal: j });
  assert(diffSnapshots(before, snapshot(root)).length > 0, "the repair changed the tree");
  const a = await cli(["undo", "--apply", j], { timeoutMs: HUNG });
  assertEquals(a.code, 0, a.stderr);
  assertEquals(diffSnapshots(before, snapshot(root)), [], "the undo put the tree back");
  // each entry as before now: --apply would restore nothing
  const r = await cli(["undo", j], { timeoutMs: HUNG });
  assertEquals(r.code, 0, r.stderr);
  const [sum, ...rest] = errLines(r.stderr);
  assert(sum.includes(", 0 would be restored, "), sum);
  assertEquals(rest, [
    "pwalk undo: dry run, nothing was changed; --apply would restore nothing either",
  ]);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  closeLibc();
});

Deno.test("undo: a dry run of a journal of dry runs only does not say --apply would restore (audit)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const j = `${tmp.path}/j`;
  await repair(root, { journal: j }); // a dry run: its plan in the journal
  const r = await cli(["undo", j], { timeoutMs: HUNG });
  assertEquals(r.code, 0, r.stderr);
  assertEquals(errLines(r.stderr).slice(1), [
    "pwalk undo: 1 line of dry runs skipped",
    "pwalk undo: dry run, nothing was changed; the journal holds no change of an applied run to " +
    "restore",
  ]);
  closeLibc();
});

Deno.test({
  name:
    "undo: a journal whose inode number is above 2^53 (overlayfs xino, as Lustre's) is read and undone (review)",
  ignore: !canMountTmpfs(),
  fn: async () => {
    await using tmp = await tempDir("pwalk-undofile-");
    const root = `${tmp.path}/proj`;
    buildTree(root, [PROJECT, own("a"), own("b")]);
    const before = snapshot(root);
    const [l1, l2, up, m] = ["l1", "l2", "up", "m"].map((d) => `${tmp.path}/${d}`);
    for (const d of [l1, l2, up, m]) Deno.mkdirSync(d);
    for (const d of [l1, l2, up]) assertEquals(await mountTmpfs(d, "size=1m"), "");
    Deno.mkdirSync(`${up}/u`);
    Deno.mkdirSync(`${up}/w`);
    await repair(root, { apply: true, journal: `${l1}/j` });
    const changed = snapshot(root);
    assert(diffSnapshots(before, changed).length > 0, "the repair changed the tree");
    // the same journal through an overlay of two lower layers: xino puts the
    // layer's number in the inode's high bits, above what a double holds
    assertEquals(await mountOverlay(`${l1}:${l2}`, `${up}/u`, `${up}/w`, m, "xino=on"), "");
    const j = `${m}/j`;
    assert(Deno.lstatSync(j).ino! > 2 ** 53, `inode ${Deno.lstatSync(j).ino}`);
    const dry = await cli(["undo", j], { timeoutMs: HUNG });
    const ref = await cli(["undo", `${l1}/j`], { timeoutMs: HUNG });
    assertEquals([dry.code, ref.code], [0, 0], dry.stderr);
    const counts = (s: string) => s.split("\n")[0].replace(/ in [0-9.]+ s$/, "");
    assertEquals(counts(dry.stderr), counts(ref.stderr));
    assert(dry.stderr.includes(", 2 would be restored, "), dry.stderr);
    assertEquals(diffSnapshots(changed, snapshot(root)), [], "a dry run");
    const a = await cli(["undo", "--apply", j], { timeoutMs: HUNG });
    assertEquals(a.code, 0, a.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), [], "the undo put the tree back");
    closeLibc();
  },
});

Deno.test("repair --apply without --allow-sys: the run's result, not a refusal after its changes; no journal left locked (review)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const script = `${tmp.path}/apply.ts`;
  // without --allow-sys Deno.uid() throws: the syslog line (asked after the
  // changes) and the journal's owner check (asked after the library made
  // the file) take the user id another way
  Deno.writeTextFileSync(
    script,
    `import { repair } from ${JSON.stringify(`${REPO}/mod.ts`)};
const [root, journal] = Deno.args;
const s = await repair(root, { apply: true, journal: journal === "-" ? false : journal });
console.log(JSON.stringify({ changed: s.entriesChanged, journal: s.journal }));`,
  );
  const perms = ["--no-prompt", "--allow-read", "--allow-write", "--allow-ffi", "--allow-env"];
  for (const journal of ["-", `${tmp.path}/j`]) {
    const root = `${tmp.path}/proj${journal === "-" ? "" : "2"}`;
    buildTree(root, [PROJECT, own("a"), own("b")]);
    const before = snapshot(root);
    const r = await deno(["run", ...perms, "--no-check", script, root, journal], {
      timeoutMs: HUNG,
    });
    assertEquals(r.code, 0, r.stderr);
    const changes = diffSnapshots(before, snapshot(root)).length;
    assert(changes > 0, "the repair changed the tree");
    assertEquals(JSON.parse(r.text), {
      changed: 2,
      journal: journal === "-" ? null : journal,
    });
    if (journal === "-") continue;
    // the journal it wrote undoes the run
    const u = await cli(["undo", "--apply", journal], { timeoutMs: HUNG });
    assertEquals(u.code, 0, u.stderr);
    assertEquals(diffSnapshots(before, snapshot(root)), []);
  }
  closeLibc();
});

Deno.test("repair: an onJournal that throws leaves no journal behind, as a run that fails later (review)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const before = snapshot(root);
  const j = `${tmp.path}/j`;
  const e = await assertRejects(() =>
    repair(root, {
      apply: true,
      journal: j,
      onJournal: () => {
        throw new Error("no");
      },
    })
  );
  assertEquals(
    (e as Error).message,
    `no; nothing was changed (the journal ${j}, empty, was removed)`,
  );
  await assertRejects(() => Deno.lstat(j), Deno.errors.NotFound);
  assertEquals(diffSnapshots(before, snapshot(root)), []);
  // the name is free for the next run
  assertEquals((await repair(root, { apply: true, journal: j })).journal, j);
  closeLibc();
});

Deno.test("undo and readJournal: a byte order mark, an overlong line or a big file of NULs is no journal; readJournal trusts what undo does (review)", async () => {
  await using tmp = await tempDir("pwalk-undofile-");
  const root = `${tmp.path}/proj`;
  buildTree(root, [PROJECT, own("a")]);
  const j = `${tmp.path}/j`;
  await repair(root, { apply: true, journal: j });
  const good = Deno.readFileSync(j);
  const changed = snapshot(root);
  const bad = `${tmp.path}/bad`;
  const refused = async (bytes: Uint8Array | null, why: RegExp) => {
    Deno.removeSync(bad);
    if (bytes) Deno.writeFileSync(bad, bytes, { mode: 0o600 });
    else {
      // 600 MiB of NULs (sparse): refused at its first bytes, not read whole
      Deno.writeFileSync(bad, new Uint8Array(), { mode: 0o600 });
      Deno.truncateSync(bad, 600 << 20);
    }
    for (const args of [["undo", bad], ["undo", "--apply", bad]]) {
      const r = await cli(args, { timeoutMs: HUNG });
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, why);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    await assertRejects(() => readJournal(bad), SyntaxError);
    assertEquals(diffSnapshots(changed, snapshot(root)), [], "nothing restored");
  };
  Deno.writeFileSync(bad, good, { mode: 0o600 });
  const bom = Uint8Array.of(0xef, 0xbb, 0xbf);
  await refused(new Uint8Array([...bom, ...good]), /^pwalk: .*\/bad is not a pwalk journal$/m);
  // a BOM at the start of an entry line: a byte no run writes
  const nl = good.indexOf(0x0a) + 1;
  await refused(
    new Uint8Array([...good.subarray(0, nl), ...bom, ...good.subarray(nl)]),
    /^pwalk: .*\/bad:2: /m,
  );
  // a line longer than any run writes (257 MiB), refused before it is
  // decoded: V8's strings end near 512 MiB
  const long = new Uint8Array(nl + (257 << 20) + 1).fill(0x61);
  long.set(good.subarray(0, nl));
  long[long.length - 1] = 0x0a;
  assertThrows(
    () => indexJournal(long, "x"),
    SyntaxError,
    "x:2: a line longer than any run writes",
  );
  await refused(null, /^pwalk: .*\/bad is not a pwalk journal$/m);
  // readJournal refuses what undo refuses, before reading: /dev/zero is not
  // read without end, a FIFO not waited on, a link not followed
  await assertRejects(() => readJournal("/dev/zero"), RefusedError, "not a regular file");
  mkfifo(`${tmp.path}/fifo`);
  await assertRejects(() => readJournal(`${tmp.path}/fifo`), RefusedError, "not a regular file");
  Deno.symlinkSync(j, `${tmp.path}/link`);
  await assertRejects(() => readJournal(`${tmp.path}/link`), RefusedError, "a symbolic link");
  assertEquals((await readJournal(j)).entries.length, 1);
  closeLibc();
});
