/**
 * Edge cases and errors:
 * - names with quotes, commas, newlines, tabs, carriage returns and bytes
 *   that are not UTF-8 (files and a folder), symlink loops (never followed),
 *   a dangling link, a FIFO, a chain of 2,000 nested folders and a path of
 *   more than 6,000 bytes: every entry is present, every field equals the
 *   reference;
 * - a folder the walking user cannot open and one it can list but not
 *   search, walked without privileges (setpriv: uid 0 without capabilities):
 *   the folder's row is present with pw_fcount 0 and pw_dirsum 0, the error
 *   is on the CLI's stderr and in report()'s errorDetails, and everything
 *   else is walked;
 * - entries that vanish between the listing and their stat (made to vanish
 *   exactly then by an LD_PRELOAD shim around fstatat): reported with path,
 *   operation and message; counted in pw_fcount, not in pw_dirsum;
 * - ROOT `/` and `t//`: names joined with one slash (pwalk prints "//tmp");
 * - sparse files whose sizes add up past 2^64 (on a tmpfs): report()'s
 *   bytes is their sum modulo 2^64, as documented.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { report } from "../mod.ts";
import { key, parsePwalk, type PwalkRow } from "./helpers/csv.ts";
import { assertRowsMatch, must } from "./helpers/compare.ts";
import { printable, settledReference } from "./helpers/reference.ts";
import { apiInChild, cli, UNPRIVILEGED } from "./helpers/run.ts";
import { shimTest, VANISH_C } from "./helpers/shim.ts";
import { CC, FUSERMOUNT, PKG_CONFIG, SETPRIV, testNeeding } from "./helpers/system.ts";
import { mountSlowfs } from "./helpers/slowfs.ts";
import { canMountTmpfs, mountBind, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { edgeTree } from "./helpers/tree.ts";

const dec = new TextDecoder();

Deno.test("edge names, link loops, FIFO, 2,000-deep and 6,000-byte paths", async (t) => {
  await using tmp = await tempDir();
  await using outDir = await tempDir();
  const root = `${tmp.path}/edge`;
  await Deno.mkdir(root);
  const edge = edgeTree(root);
  const ref = settledReference(root);
  const out = `${outDir.path}/edge.csv`;
  const s = await report(root, { output: out });
  const { rows } = parsePwalk(await Deno.readFile(out));
  const by = new Map(rows.map((r) => [r.key, r]));
  const row = (raw: Uint8Array): PwalkRow =>
    must(by.get(key(printable(raw))), `the row of ${JSON.stringify(dec.decode(raw))}`);

  await t.step("every entry present, every field equal to the reference", () => {
    assertRowsMatch(rows, ref.rows);
    assertEquals(s.entries, rows.length);
    assertEquals(s.errors, 0, JSON.stringify(s.errorDetails));
  });

  await t.step("names with control bytes: printed without them, counted as bad names", () => {
    assertEquals(s.badNames, edge.controlNames.length);
    for (const n of edge.controlNames) {
      const r = row(new TextEncoder().encode(`${root}/${dec.decode(n)}`));
      assert(r.path.every((b) => b >= 32));
    }
  });

  await t.step("names that are not UTF-8 are printed raw", () => {
    const latin1 = by.get(`${root}/latin1-\xe9\xff.bin`);
    assertEquals(must(latin1, "latin1 row").size, 10);
    assertEquals(key(must(latin1, "latin1 row").ext), "bin");
    const dir = must(by.get(`${root}/dir\xe9`), "the non-UTF-8 folder");
    assertEquals([dir.fcount, dir.dirsum], [2, 3]);
    assertEquals(must(by.get(`${root}/dir\xe9/\xff`), "a one-byte name").parentIno, dir.ino);
    assertEquals(key(must(by.get(`${root}/x.\xc3`), "x.<C3>").ext), "\xc3");
  });

  await t.step("links are one row each, never followed", () => {
    for (const l of edge.links) {
      const r = row(l);
      assertEquals(r.mode, "0120777", dec.decode(l));
      assertEquals(r.fcount, -1);
      const prefix = key(l) + "/";
      assert(!rows.some((x) => x.key.startsWith(prefix)), `${dec.decode(l)} was followed`);
    }
    const links = must(by.get(`${root}/links`), "links/");
    assertEquals(links.fcount, edge.links.length);
  });

  await t.step("the FIFO is a row of its own", () => {
    assertEquals(row(new TextEncoder().encode(`${root}/fifo`)).mode, "0010644");
  });

  await t.step("2,000 nested folders: every one is there, with its depth", () => {
    const chain = rows.filter((r) => r.key.startsWith(`${root}/deep/`));
    assertEquals(chain.length, edge.chainDepth); // 1,999 folders below deep/ + bottom.txt
    const deepest = row(edge.deepest);
    assertEquals(deepest.depth, edge.chainDepth - 1);
    assertEquals(deepest.fcount, 1);
    const bottom = row(new TextEncoder().encode(`${dec.decode(edge.deepest)}/bottom.txt`));
    assertEquals(bottom.depth, edge.chainDepth);
    assertEquals(bottom.parentIno, deepest.ino);
    assert(bottom.path.length > 6000, `${bottom.path.length} bytes`);
  });

  await t.step("a path of more than 6,000 bytes", () => {
    assert(edge.longest.length > 6000);
    const r = row(edge.longest);
    assertEquals([r.size, r.depth], [1, 27]);
    assertEquals(key(r.ext), "txt");
  });

  await t.step("the CLI prints the same rows, and one 'Bad File' line per such name", async () => {
    const r = await cli(["--threads", "3", root]);
    assertEquals(r.code, 0, r.stderr);
    assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    assertMatch(lines.pop()!, / 0 errors in .* -> stdout \(/, "the summary line comes last");
    assertEquals(lines.filter((l) => l.startsWith("Bad File: ")).length, edge.controlNames.length);
    assertEquals(lines.filter((l) => !l.startsWith("Bad File: ")), [], "no errors");
  });
});

testNeeding([SETPRIV], {
  name: "unreadable folders, walked without privileges: rows present, errors reported",
  ignore: Deno.uid() !== 0,
  async fn(t) {
    await using tmp = await tempDir();
    await using outDir = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(`${root}/locked/sub`, { recursive: true });
    await Deno.writeTextFile(`${root}/locked/secret.txt`, "secret");
    await Deno.mkdir(`${root}/noexec`);
    await Deno.writeTextFile(`${root}/noexec/a.txt`, "a".repeat(100));
    await Deno.writeTextFile(`${root}/noexec/b.txt`, "b");
    await Deno.mkdir(`${root}/ok/deeper`, { recursive: true });
    await Deno.writeTextFile(`${root}/ok/deeper/f.dat`, "12345");
    await Deno.writeTextFile(`${root}/top.txt`, "top");
    await Deno.chmod(root, 0o755);
    await Deno.chmod(`${root}/locked`, 0o000);
    await Deno.chmod(`${root}/noexec`, 0o444);

    // The premise: as uid 0 without capabilities, root-owned mode-000 and
    // mode-444 folders are closed, and the rest of the tree is open.
    const probe = (args: string[]) =>
      new Deno.Command(UNPRIVILEGED[0], {
        args: [...UNPRIVILEGED.slice(1), ...args],
        stdout: "null",
        stderr: "null",
      }).output();
    assertEquals((await probe(["ls", `${root}/locked`])).code === 0, false, "locked is readable");
    assertEquals((await probe(["stat", `${root}/noexec/a.txt`])).code === 0, false);
    assertEquals((await probe(["ls", `${root}/noexec`])).success, true, "noexec is listable");
    assertEquals((await probe(["ls", `${root}/ok`])).success, true, "ok is readable");

    const ref = settledReference(root, {
      unreadable: new Set([`${root}/locked`]),
      unsearchable: new Set([`${root}/noexec`]),
    });
    const locked = must(ref.rows.get(`${root}/locked`), "reference row of locked");
    assertEquals([locked.fcount, locked.dirsum], [0, 0]);
    const noexec = must(ref.rows.get(`${root}/noexec`), "reference row of noexec");
    assertEquals([noexec.fcount, noexec.dirsum], [2, 0]);
    assertEquals(ref.rows.size, 7);

    await t.step("CLI: rows present, every other entry walked, errors on stderr", async () => {
      const r = await cli([root], { prefix: UNPRIVILEGED });
      assertEquals(r.code, 0, r.stderr);
      assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
      const lines = r.stderr.split("\n").filter((l) => l !== "");
      assertMatch(lines.pop()!, / 3 errors in .* -> stdout \(/, "the summary line comes last");
      assertEquals(lines.sort(), [
        `pwalk: open '${root}/locked': Permission denied`,
        `pwalk: stat '${root}/noexec/a.txt': Permission denied`,
        `pwalk: stat '${root}/noexec/b.txt': Permission denied`,
      ]);
    });

    await t.step("API: errors and errorDetails in the summary", async () => {
      const out = `${outDir.path}/r.csv`;
      const s = await apiInChild("report", root, { output: out }, { prefix: UNPRIVILEGED });
      assertRowsMatch(parsePwalk(await Deno.readFile(out)).rows, ref.rows);
      assertEquals(s.errors, 3);
      assertEquals(s.entries, ref.rows.size);
      const details = s.errorDetails.map((e) => `${e.op}|${e.message}|${e.code}|${e.path}`).sort();
      assertEquals(details, [
        `open|Permission denied|EACCES|${root}/locked`,
        `stat|Permission denied|EACCES|${root}/noexec/a.txt`,
        `stat|Permission denied|EACCES|${root}/noexec/b.txt`,
      ]);
    });
  },
});

shimTest(
  "vanished entries: reported with path, operation and message; the walk goes on",
  VANISH_C,
  async (shim, t) => {
    const root = `${shim.dir}/tree`;
    const make = async () => {
      await Deno.mkdir(`${root}/v`, { recursive: true });
      await Deno.writeTextFile(`${root}/v/vanish-1.dat`, "x".repeat(100));
      await Deno.writeTextFile(`${root}/v/vanish-2.dat`, "x".repeat(50));
      await Deno.writeTextFile(`${root}/v/keep.txt`, "1234567");
      await Deno.writeTextFile(`${root}/other.txt`, "o");
    };
    const check = async (rows: PwalkRow[]) => {
      const by = new Map(rows.map((r) => [r.key, r]));
      assertEquals([...by.keys()].sort(), [
        root,
        `${root}/other.txt`,
        `${root}/v`,
        `${root}/v/keep.txt`,
      ]);
      const v = must(by.get(`${root}/v`), "row of v");
      assertEquals([v.fcount, v.dirsum], [3, 7], "vanished names count, their sizes do not");
      // They really vanished during the walk.
      for (const f of ["vanish-1.dat", "vanish-2.dat"]) {
        assert(!(await Deno.stat(`${root}/v/${f}`).then(() => true, () => false)), f);
      }
    };
    await t.step("API: errorDetails", async () => {
      await make();
      const out = `${shim.dir}/r.csv`;
      const s = await shim.api("report", root, { output: out });
      await check(parsePwalk(await Deno.readFile(out)).rows);
      assertEquals(s.errors, 2);
      assertEquals(
        s.errorDetails.map((e) => `${e.op}|${e.message}|${e.path}`).sort(),
        [1, 2].map((i) => `stat|No such file or directory|${root}/v/vanish-${i}.dat`),
      );
    });

    await t.step("CLI: one line per error on stderr", async () => {
      await make();
      const r = await shim.cli([root]);
      assertEquals(r.code, 0, r.stderr);
      await check(parsePwalk(r.stdout).rows);
      for (const i of [1, 2]) {
        assertStringIncludes(
          r.stderr,
          `pwalk: stat '${root}/v/vanish-${i}.dat': No such file or directory\n`,
        );
      }
    });
  },
);

Deno.test('ROOT `/` and `t//`: names joined with one slash ("/tmp", "t/f"), where pwalk prints "//tmp" and "t///f"', async () => {
  await using tmp = await tempDir();
  Deno.mkdirSync(`${tmp.path}/t/sub`, { recursive: true });
  Deno.writeTextFileSync(`${tmp.path}/t/sub/f`, "x");
  Deno.writeTextFileSync(`${tmp.path}/t/a`, "x");
  const paths = (r: { stdout: Uint8Array }, depth = Infinity) =>
    parsePwalk(r.stdout).rows.filter((x) => x.depth <= depth).map((x) => dec.decode(x.path)).sort();
  const t = await cli(["t//"], { cwd: tmp.path });
  assertEquals(t.code, 0, t.stderr);
  assertEquals(paths(t), ["t", "t/a", "t/sub", "t/sub/f"]);
  // `/`: its entries by Deno.readDir (--depth 1: no folder below them entered)
  const slash = await cli(["--depth", "1", "/"]);
  assertEquals(slash.code, 0, slash.stderr); // errors met on the way (an unreadable /root) too
  const names = [...Deno.readDirSync("/")].map((e) => `/${e.name}`);
  assertEquals(paths(slash, 0), ["/", ...names].sort());
  assertEquals(paths(slash).filter((p) => p.startsWith("//")), []);
});

Deno.test({
  name:
    "report(): bytes is the apparent size modulo 2^64, as its doc says (three sparse files of " +
    "2^63 - 1 bytes on a tmpfs)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-wrap-");
    const root = `${tmp.path}/t`;
    await Deno.mkdir(root);
    assertEquals(await mountTmpfs(root, "size=1m"), "");
    const files = ["a", "b", "c"].map((f) => `${root}/${f}`);
    const t = await new Deno.Command("truncate", { args: ["-s", `${2n ** 63n - 1n}`, ...files] })
      .output();
    assert(t.success, new TextDecoder().decode(t.stderr));
    // by Deno.lstat: the true sum, past 2^64
    let sum = 0n;
    for (const p of [root, ...files]) sum += BigInt(Deno.lstatSync(p).size);
    assert(sum >= 2n ** 64n, `${sum}`);
    const r = await report(root, { output: `${tmp.path}/out.csv` });
    assertEquals(r.bytes, Number(BigInt.asUintN(64, sum)));
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name: "on a file system that ignores case, an exclude spelled in another case excludes the " +
    "folder as listed (report, walk()); one not there in any case is still warned about",
  async fn() {
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(`${src}/proj/deep/x`, { recursive: true });
    await Deno.writeTextFile(`${src}/proj/deep/x/f`, "x");
    await Deno.writeTextFile(`${src}/proj/top`, "x");
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "0",
      SLOWFS_FOLDCASE: "1",
    });
    const mnt = fs.path;
    // the premise: found in any case, listed as the source spells it
    assert(Deno.statSync(`${mnt}/PROJ/Deep/X`).isDirectory);
    assertEquals([...Deno.readDirSync(`${mnt}/proj`)].map((e) => e.name).sort(), ["deep", "top"]);
    const kept = [mnt, `${mnt}/proj`, `${mnt}/proj/top`];
    const r = await cli(["--exclude", `${mnt}/PROJ/Deep`, "--exclude", `${mnt}/proj/gone`, mnt]);
    assertEquals(r.code, 0, r.stderr);
    const rows = parsePwalk(r.stdout).rows.map((x) => new TextDecoder().decode(x.path));
    assertEquals(rows.sort(), kept.sort());
    assertEquals(r.stderr.split("\n").filter((l) => l.includes("warning")), [
      `pwalk: warning: --exclude ${mnt}/proj/gone matched nothing under ${mnt}`,
    ]);
    const { walk } = await import("../mod.ts");
    const seen: string[] = [];
    for await (const e of walk(mnt, { exclude: [`${mnt}/proj/DEEP`] })) seen.push(e.path);
    assertEquals(seen.sort(), kept.sort());
    // on the source's file system, which keeps case, DEEP is no folder:
    // deep is walked, and the exclude is warned about (review)
    const all = await cli(["--exclude", `${src}/proj/DEEP`, src]);
    assertEquals(all.code, 0, all.stderr);
    assertEquals(parsePwalk(all.stdout).rows.length, 6);
    assertStringIncludes(all.stderr, `--exclude ${src}/proj/DEEP matched nothing under ${src}`);
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "a directory cycle (a FUSE folder that is its root again): told as a loop, walked once, the run ends; report, walk() and walkDirs() (review)",
  async fn() {
    // a FUSE server (a looping export, sshfs following links) can give a
    // folder below the root the root's device and inode: each lap was
    // walked again, without end, and no error said so
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(`${src}/a/loop`, { recursive: true });
    await Deno.writeTextFile(`${src}/a/f`, "x");
    await Deno.writeTextFile(`${src}/top`, "x");
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "0",
      SLOWFS_USE_INO: "1",
      SLOWFS_LOOP: "loop",
    });
    const mnt = fs.path;
    // the premise: a/loop is the root's folder (device and inode), its names the root's
    const [rst, lst] = [Deno.lstatSync(mnt), Deno.lstatSync(`${mnt}/a/loop`)];
    assertEquals([lst.dev, lst.ino], [rst.dev, rst.ino]);
    assertEquals([...Deno.readDirSync(`${mnt}/a/loop`)].map((e) => e.name).sort(), ["a", "top"]);
    const out = `${tmp.path}/scan.csv`, errors = `${tmp.path}/errors.csv`;
    const r = await cli(["--errors", errors, "-o", out, mnt], { timeoutMs: 60_000 });
    assertEquals(r.code, 0, r.stderr);
    const rows = parsePwalk(Deno.readFileSync(out)).rows.map((x) =>
      new TextDecoder().decode(x.path)
    )
      .sort();
    // every entry once, the looping folder a row of its own, not entered
    assertEquals(rows, [mnt, `${mnt}/a`, `${mnt}/a/f`, `${mnt}/a/loop`, `${mnt}/top`].sort());
    assertEquals(
      Deno.readTextFileSync(errors),
      `path,operation,errno,message\n"${mnt}/a/loop",loop,ELOOP,"Too many levels of symbolic links"\n`,
    );
    assertStringIncludes(r.stderr, "1 error");
    // the API: walk() and walkDirs(), with and without a stat per name
    const { walk, walkDirs } = await import("../mod.ts");
    for (const stat of [true, false]) {
      const seen: string[] = [];
      const errs: string[] = [];
      for await (const e of walk(mnt, { stat, onError: (x) => errs.push(`${x.op} ${x.path}`) })) {
        seen.push(e.path);
      }
      assertEquals(
        seen.sort(),
        [mnt, `${mnt}/a`, `${mnt}/a/f`, `${mnt}/a/loop`, `${mnt}/top`].sort(),
      );
      // (by names too: the listing's inode of a/loop is not the root's, but
      // on FUSE a folder's listed number need not be its own: opened, it
      // is the root's folder, a loop)
      assertEquals(errs, [`loop ${mnt}/a/loop`], `walk stat ${stat}`);
      const dirs: string[] = [];
      for await (const d of walkDirs(mnt, { stat, onError: () => {} })) dirs.push(d.path);
      // (not listed, the cycle is not yielded, as a folder that cannot be
      // listed is not: a/loop is among a's dirs only)
      assertEquals(dirs.sort(), [mnt, `${mnt}/a`].sort(), `walkDirs stat ${stat}`);
    }
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "FUSE passing its source's inode numbers through: a mount nested in the source (its root inode 1, as the source's) is no loop; report, walk() and walkDirs() walk it (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    // two tmpfs roots, both inode 1, on the one FUSE device: taken for a
    // cycle by device and inode alone, the nested one was not walked
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(src);
    assertEquals(await mountTmpfs(src, "size=1m"), "");
    await Deno.mkdir(`${src}/a/b/inner`, { recursive: true });
    // the two file systems' folders of one inode number (the roots, 1; a
    // and deep, 2) told apart by their change times (the walker's test
    // beside device and inode): made a few clock ticks apart
    await new Promise((r) => setTimeout(r, 50));
    assertEquals(await mountTmpfs(`${src}/a/b/inner`, "size=1m"), "");
    await Deno.mkdir(`${src}/a/b/inner/deep`);
    await Deno.writeTextFile(`${src}/a/b/inner/deep/f`, "x");
    // (the outer root's changed later still)
    await new Promise((r) => setTimeout(r, 50));
    await Deno.writeTextFile(`${src}/top`, "x");
    await using fs = await mountSlowfs(tmp.path, src, {
      SLOWFS_DELAY_US: "0",
      SLOWFS_USE_INO: "1",
    });
    const mnt = fs.path;
    // the premise: the nested root has the root's device and inode
    const [rst, ist] = [Deno.lstatSync(mnt), Deno.lstatSync(`${mnt}/a/b/inner`)];
    assertEquals([ist.dev, ist.ino], [rst.dev, rst.ino]);
    const want = ["", "/a", "/a/b", "/a/b/inner", "/a/b/inner/deep", "/a/b/inner/deep/f", "/top"]
      .map((p) => mnt + p).sort();
    const out = `${tmp.path}/scan.csv`;
    const r = await cli(["-o", out, mnt], { timeoutMs: 60_000 });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, " 0 errors");
    const rows = parsePwalk(Deno.readFileSync(out)).rows.map((x) =>
      new TextDecoder().decode(x.path)
    );
    assertEquals(rows.sort(), want);
    const { walk, walkDirs } = await import("../mod.ts");
    // (by names only too: the listing's number of the nested root is the
    // folder it covers, not the root's, which on FUSE is no race)
    for (const stat of [true, false]) {
      const errs: string[] = [];
      const seen: string[] = [];
      for await (const e of walk(mnt, { stat, onError: (x) => errs.push(`${x.op} ${x.path}`) })) {
        seen.push(e.path);
      }
      assertEquals([seen.sort(), errs], [want, []], `walk stat ${stat}`);
      const dirs: string[] = [];
      for await (const d of walkDirs(mnt, { stat, onError: (x) => errs.push(x.path) })) {
        dirs.push(d.path);
      }
      assertEquals([dirs.sort(), errs], [want.filter((p) => !/\/(f|top)$/.test(p)), []]);
    }
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "links followed: a link in a FUSE folder back to a folder above it, on another file system, whose change time moved meanwhile, is a loop (the candidate's file system is asked, not the listing's) (review)",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/root`, src = `${tmp.path}/src`;
    await Deno.mkdir(`${root}/d`, { recursive: true });
    await Deno.writeTextFile(`${root}/d/x`, "x");
    await Deno.mkdir(`${src}/s`, { recursive: true });
    await Deno.writeTextFile(`${src}/s/f`, "f");
    await Deno.symlink(root, `${src}/up`);
    await using fs = await mountSlowfs(
      tmp.path,
      src,
      { SLOWFS_DELAY_US: "0" },
      undefined,
      `${root}/fuse`,
    );
    assertEquals(fs.path, `${root}/fuse`);
    const { walkDirs } = await import("../mod.ts");
    const seen: string[] = [];
    const errors: string[] = [];
    for await (
      const t of walkDirs(root, {
        followSymlinks: true,
        onError: (e) => errors.push(`${e.op} ${e.path}`),
      })
    ) {
      seen.push(t.path);
      // top-down, before anything below it is queued: the root's change
      // time moves (a file made in it, say), after its node was taken
      if (t.path === root) Deno.chmodSync(root, 0o750);
    }
    assertEquals(errors, [`loop ${root}/fuse/up`]);
    assert(!seen.some((p) => p.startsWith(`${root}/fuse/up`)), seen.join("\n"));
    assertEquals(seen.sort(), [root, `${root}/d`, `${root}/fuse`, `${root}/fuse/s`]);
  },
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT], {
  name:
    "walk() and walkDirs() by names on FUSE without its own inode numbers (libfuse gives every name 0xffffffff): no false loop, every folder entered (review)",
  async fn() {
    // the listing's number, the same for every folder, was taken for the
    // folder's own: a/b looked like a, a loop, and nothing below it was walked
    await using tmp = await tempDir();
    const src = `${tmp.path}/src`;
    await Deno.mkdir(`${src}/a/b/c`, { recursive: true });
    await Deno.writeTextFile(`${src}/a/b/c/f`, "x");
    await using fs = await mountSlowfs(tmp.path, src, { SLOWFS_DELAY_US: "0" });
    const mnt = fs.path;
    const { walk, walkDirs } = await import("../mod.ts");
    const want = [mnt, `${mnt}/a`, `${mnt}/a/b`, `${mnt}/a/b/c`, `${mnt}/a/b/c/f`];
    for (const stat of [true, false]) {
      const seen: string[] = [], errs: string[] = [];
      for await (const e of walk(mnt, { stat, onError: (x) => errs.push(`${x.op} ${x.path}`) })) {
        seen.push(e.path);
      }
      assertEquals([seen.sort(), errs], [want, []], `walk, stat ${stat}`);
      const dirs: string[] = [], derrs: string[] = [];
      for await (const d of walkDirs(mnt, { stat, onError: (x) => derrs.push(x.op) })) {
        dirs.push(d.path);
      }
      assertEquals([dirs.sort(), derrs], [want.slice(0, 4), []], `walkDirs, stat ${stat}`);
    }
  },
});

Deno.test({
  name:
    "a bind mount of a folder above it inside the tree: its row and a loop error, not walked again (as GNU find)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/t`;
    await Deno.mkdir(`${root}/a/b/up`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/f`, "x");
    assertEquals(await mountBind(`${root}/a`, `${root}/a/b/up`), "");
    const out = `${tmp.path}/scan.csv`, errors = `${tmp.path}/errors.csv`;
    const r = await cli(["--errors", errors, "-o", out, root]);
    assertEquals(r.code, 0, r.stderr);
    const rows = parsePwalk(Deno.readFileSync(out)).rows.map((x) =>
      new TextDecoder().decode(x.path)
    )
      .sort();
    assertEquals(rows, [root, `${root}/a`, `${root}/a/b`, `${root}/a/b/up`, `${root}/a/f`].sort());
    assertEquals(
      Deno.readTextFileSync(errors),
      `path,operation,errno,message\n"${root}/a/b/up",loop,ELOOP,"Too many levels of symbolic links"\n`,
    );
  },
});
