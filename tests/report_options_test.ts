/**
 * pwalk's options, through the CLI and report():
 * - the spec's own example for --NoSnap --exclude and --depth 1 (exact rows,
 *   pw_fcount and pw_dirsum as the spec lists them);
 * - --NoSnap, --depth N, --exclude on a generated tree with .snapshot
 *   folders, against the reference with the same options;
 * - an --exclude list of more than 512 lines (pwalk's overflow);
 * - -x/--one-file-system with a tmpfs mounted inside the tree;
 * - the thread option: the same rows for 1, 2 and 16 threads (that the
 *   threads really run: report_bigtree_test.ts).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { report } from "../mod.ts";

const existsFull = () => {
  try {
    return Deno.statSync("/dev/full").isCharDevice === true;
  } catch {
    return false;
  }
};
import { key, parsePwalk, type PwalkRow } from "./helpers/csv.ts";
import { assertRowsMatch } from "./helpers/compare.ts";
import { referenceReport, type RefOptions, settledReference } from "./helpers/reference.ts";
import {
  closeFd,
  closeLibc,
  lstatRaw,
  mkdirChain,
  mkdirRaw,
  openFile,
  writeFileRaw,
} from "./helpers/libc.ts";
import { bytes, concat } from "./helpers/bytes.ts";
import { CLI, cli, run } from "./helpers/run.ts";
import { PYTHON3, testNeeding } from "./helpers/system.ts";
import { canMountTmpfs, mountTmpfs, tempDir } from "./helpers/temp.ts";
import { emptyFilesTree, mktree, specExTree } from "./helpers/tree.ts";

/** depth,"filename",pw_fcount,pw_dirsum, as the spec lists rows. */
function specLines(rows: PwalkRow[]): string[] {
  return rows.map((r) => `${r.depth},"${r.key}",${r.fcount},${r.dirsum}`).sort();
}

/**
 * The spec's expected lines (docs/csv-format.md) for its tree at
 * `root`, whose folders have the sizes `size` gives (by path below root):
 * the spec's own numbers are for /tmp/ex on 4,096-byte folders; the tests
 * take the sizes from Deno.lstat (a folder's size depends on the file
 * system: 4,096 on ext4, 20 bytes an entry on tmpfs, its names' lengths on
 * btrfs).
 */
function specExample(root: string, size: (rel: string) => number) {
  const top = `-1,"${root}",3,${size("a") + size("skip") + size(".snapshot")}`;
  return {
    noSnapExclude: [
      top,
      `0,"${root}/a",1,${size("a/b")}`,
      `1,"${root}/a/b",1,${size("a/b/c")}`,
      `2,"${root}/a/b/c",1,3`,
      `3,"${root}/a/b/c/f",-1,0`,
    ].sort(),
    depth1: [
      top,
      `0,"${root}/.snapshot",1,${size(".snapshot/s")}`,
      `0,"${root}/a",1,${size("a/b")}`,
      `0,"${root}/skip",1,${size("skip/x")}`,
    ].sort(),
  };
}

Deno.test("the spec's example lines are those of specExample() on 4,096-byte folders", () => {
  // As docs/csv-format.md prints them.
  assertEquals(specExample("/tmp/ex", () => 4096), {
    noSnapExclude: [
      '-1,"/tmp/ex",3,12288',
      '0,"/tmp/ex/a",1,4096',
      '1,"/tmp/ex/a/b",1,4096',
      '2,"/tmp/ex/a/b/c",1,3',
      '3,"/tmp/ex/a/b/c/f",-1,0',
    ].sort(),
    depth1: [
      '-1,"/tmp/ex",3,12288',
      '0,"/tmp/ex/.snapshot",1,4096',
      '0,"/tmp/ex/a",1,4096',
      '0,"/tmp/ex/skip",1,4096',
    ].sort(),
  });
});

Deno.test("the spec's example: --NoSnap --exclude LIST, and --depth 1", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/ex`;
  await specExTree(root);
  const want = specExample(root, (rel) => Deno.lstatSync(`${root}/${rel}`).size);
  const list = `${tmp.path}/LIST`;
  await Deno.writeTextFile(list, `${root}/skip\n`);

  await t.step("CLI --NoSnap --exclude LIST", async () => {
    const r = await cli(["--NoSnap", "--exclude", list, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(specLines(parsePwalk(r.stdout).rows), want.noSnapExclude);
  });
  await t.step("CLI --depth 1", async () => {
    const r = await cli(["--depth", "1", root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(specLines(parsePwalk(r.stdout).rows), want.depth1);
  });
  await t.step("report() with noSnap + exclude, and pwalkDepth 1", async () => {
    const out = `${tmp.path}/r.csv`;
    await report(root, { output: out, noSnap: true, exclude: [`${root}/skip`] });
    assertEquals(specLines(parsePwalk(await Deno.readFile(out)).rows), want.noSnapExclude);
    await report(root, { output: out, pwalkDepth: 1 });
    assertEquals(specLines(parsePwalk(await Deno.readFile(out)).rows), want.depth1);
  });
});

Deno.test("--NoSnap, --depth N, --exclude on a generated tree equal the reference", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 3000, 11);
  // .snapshot folders at several levels, with content; and a file named .snapshot.
  const dirs = [root];
  for (const e of Deno.readDirSync(root)) if (e.isDirectory) dirs.push(`${root}/${e.name}`);
  for (const d of dirs.slice(0, 4)) {
    await Deno.mkdir(`${d}/.snapshot/hourly.0`, { recursive: true });
    await Deno.writeTextFile(`${d}/.snapshot/hourly.0/copy.txt`, "snap");
  }
  await Deno.mkdir(`${root}/.snapshotx`);
  await Deno.writeTextFile(`${dirs[1]}/.snapshot2`, "not a folder");
  referenceReport(root); // settle atimes
  const excluded = dirs.slice(2, 4);

  const cases: [string, string[], RefOptions][] = [
    ["--NoSnap", ["--NoSnap"], { noSnap: true }],
    ["--depth 2", ["--depth", "2"], { pwalkDepth: 2 }],
    ["--depth 3 --NoSnap", ["--depth", "3", "--NoSnap"], { pwalkDepth: 3, noSnap: true }],
    ["--exclude (2 folders)", ["--exclude", `${tmp.path}/ex.txt`], { exclude: excluded }],
    ["--depth 0 (unlimited)", ["--depth", "0"], {}],
  ];
  await Deno.writeTextFile(`${tmp.path}/ex.txt`, excluded.join("\n") + "\n");
  const full = referenceReport(root).rows.size;
  for (const [name, args, opts] of cases) {
    await t.step(name, async () => {
      const ref = referenceReport(root, opts);
      if (name.startsWith("--depth 0")) assertEquals(ref.rows.size, full);
      else assert(ref.rows.size < full, "the option must remove rows");
      const r = await cli([...args, root]);
      assertEquals(r.code, 0, r.stderr);
      assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    });
  }
  closeLibc();
});

Deno.test("--exclude with more than 512 lines", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const n = 700;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = `${root}/x${String(i).padStart(4, "0")}`;
    await Deno.mkdir(`${d}/inner`, { recursive: true });
    await Deno.writeTextFile(`${d}/inner/file.txt`, "x");
    // every other folder excluded, listed among lines for paths that do not exist
    if (i % 2 === 0) lines.push(d);
    lines.push(`${root}/nonexistent-${i}`);
  }
  assert(lines.length > 512);
  await Deno.writeTextFile(`${tmp.path}/list`, lines.join("\n") + "\n");
  const ref = settledReference(root, { exclude: lines });
  const r = await cli(["--exclude", `${tmp.path}/list`, root]);
  assertEquals(r.code, 0, r.stderr);
  const rows = parsePwalk(r.stdout).rows;
  assertRowsMatch(rows, ref.rows);
  const top = rows.filter((x) => x.depth === 0).length;
  assertEquals(top, n / 2, "only the folders not listed have rows");
  const rootRow = rows.find((x) => x.depth === -1)!;
  assertEquals(rootRow.fcount, n, "excluded folders still count in pw_fcount");
  let sizes = 0;
  for (const e of Deno.readDirSync(root)) sizes += Deno.lstatSync(`${root}/${e.name}`).size;
  assertEquals(rootRow.dirsum, sizes, "and in pw_dirsum");
});

Deno.test("--exclude LIST: the \\r before \\n is dropped only in a CRLF file; elsewhere it is part of the name", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/cr`;
  // p and p\r side by side, q, and a name that is not UTF-8 ending in \r (and without)
  const BAD = Uint8Array.of(0x62, 0xff); // "b\xff"
  const at = (...d: (string | Uint8Array)[]) => concat(root, "/", ...d);
  const dirs = [at("p"), at("p\r"), at("q"), at(BAD), at(BAD, "\r")];
  mkdirRaw(bytes(root));
  for (const d of dirs) {
    mkdirRaw(d);
    writeFileRaw(concat(d, "/f"), bytes("x"));
  }
  // p and p\r print alike (a row drops control bytes): the rows are told
  // apart by inode, against lstat(2) of the folders left and their files
  const expected = (excluded: Uint8Array[]) => {
    const left = dirs.filter((d) => !excluded.some((e) => key(e) === key(d)));
    return [bytes(root), ...left, ...left.map((d) => concat(d, "/f"))]
      .map((p) => lstatRaw(p).ino).sort((a, b) => a - b);
  };
  const cases: [string, Uint8Array, Uint8Array[]][] = [
    // every line ending with \n ends with \r\n: a CRLF file, as Windows writes it
    ["CRLF file", concat(at("p"), "\r\n", at("q"), "\r\n"), [at("p"), at("q")]],
    ["CRLF file, last line without a line end", concat(at("p"), "\r\n", at("q")), [
      at("p"),
      at("q"),
    ]],
    ["CRLF file, a line not UTF-8", concat(at(BAD), "\r\n", at("q"), "\r\n"), [at(BAD), at("q")]],
    // an LF file (or a mixed one): a \r is the name's, as C pwalk has it
    ["LF file", concat(at("p\r"), "\n", at("q"), "\n"), [at("p\r"), at("q")]],
    // (so the line p\r\n names p\r here, and p in a CRLF file)
    ["mixed file", concat(at("q"), "\n", at("p"), "\r\n"), [at("q"), at("p\r")]],
    ["LF file, a line not UTF-8", concat(at(BAD, "\r"), "\n", at("q"), "\n"), [
      at(BAD, "\r"),
      at("q"),
    ]],
    // one folder ending in \r: no line end, or a blank line after it
    ["one line, no line end", at("p\r"), [at("p\r")]],
    ["one line, then a blank line", concat(at("p\r"), "\n\n"), [at("p\r")]],
    ["CRLF file ending in \\r: the last line as it is", concat(at("q"), "\r\n", at("p\r")), [
      at("q"),
      at("p\r"),
    ]],
  ];
  for (const [name, text, excluded] of cases) {
    await t.step(name, async () => {
      const list = `${tmp.path}/list`;
      await Deno.writeFile(list, text);
      const r = await cli(["--exclude", list, root]);
      assertEquals(r.code, 0, r.stderr);
      const rows = parsePwalk(r.stdout).rows.map((x) => x.ino).sort((a, b) => a - b);
      assertEquals(rows, expected(excluded));
    });
  }
  closeLibc();
});

Deno.test("--exclude DEVICE or SOCKET is refused, exit 2 (/dev/zero would fill the memory); a FIFO, <(...), is read as a list", async (t) => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  for (const d of ["a/in", "b/in"]) await Deno.mkdir(`${root}/${d}`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/in/f`, "x");
  const sock = `${tmp.path}/sock`;
  using _listener = Deno.listen({ transport: "unix", path: sock });
  const loop = [...Deno.readDirSync("/dev")].map((e) => `/dev/${e.name}`)
    .find((p) => /^\/dev\/loop\d+$/.test(p) && Deno.statSync(p).isBlockDevice);
  const cases: [string, string, string][] = [
    ["/dev/zero", "/dev/zero", "a character device"],
    ["a socket", sock, "a socket"],
    ...loop ? [["a loop device", loop, "a block device"] as [string, string, string]] : [],
  ];
  for (const [name, path, kind] of cases) {
    await t.step(name, async () => {
      const st = Deno.statSync(path); // the reference for the kind
      assertEquals(
        st.isCharDevice ? "a character device" : st.isBlockDevice ? "a block device" : "a socket",
        kind,
      );
      // a data limit: were the device read, the test ends and says so
      const r = await cli(["--exclude", path, root], {
        prefix: ["prlimit", `--data=${2 ** 30}`, "--"],
      });
      assertEquals(r.code, 2, r.stderr);
      assertEquals(r.text, "");
      assertEquals(
        r.stderr,
        `pwalk: --exclude ${path}: ${kind}, not a folder or a file listing folders\n`,
      );
    });
  }
  await t.step("the null device: an empty list, every row there", async () => {
    const ref = settledReference(root);
    const r = await cli(["--exclude", "/dev/null", root]);
    assertEquals(r.code, 0, r.stderr);
    assert(!r.stderr.includes("warning"), r.stderr);
    assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    assertEquals(ref.rows.size, 6); // ROOT, a, a/in, a/in/f, b and b/in
  });
  await t.step("a FIFO: process substitution", async () => {
    const ref = settledReference(root, { exclude: [`${root}/a`] });
    const r = await run("bash", [
      "-c",
      'exec "$0" run -A "$1" --exclude <(printf "%s\\n" "$2") "$3"',
      Deno.execPath(),
      CLI,
      `${root}/a`,
      root,
    ], { env: { NO_COLOR: "1" } });
    assertEquals(r.code, 0, r.stderr);
    assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    assertEquals(ref.rows.size, 3); // ROOT, b and b/in: a and all below it gone
  });
});

Deno.test("--exclude of a folder past PATH_MAX, as an argument and in a list: excluded, no warning", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // 30 levels of 200-byte names, a file in each: the 25th is some 5,000 bytes deep
  const names = Array.from(
    { length: 30 },
    (_, i) => `${String(i).padStart(2, "0")}${"n".repeat(198)}`,
  );
  const deep = mkdirChain(bytes(root), names.map((n) => bytes(n)));
  for (let i = 1; i <= names.length; i++) {
    writeFileRaw(bytes(`${root}/${names.slice(0, i).join("/")}/f`), bytes("x"));
  }
  assert(deep.length > 6000);
  const ex = `${root}/${names.slice(0, 25).join("/")}`;
  assert(new TextEncoder().encode(ex).length > 4096);
  const ref = settledReference(root, { exclude: [ex] });
  await Deno.writeTextFile(`${tmp.path}/list`, ex + "\n");
  for (const how of [["--exclude", ex], ["--exclude", `${tmp.path}/list`]]) {
    const r = await cli([...how, root]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stderr.includes("warning"), false, r.stderr);
    assertRowsMatch(parsePwalk(r.stdout).rows, ref.rows);
    // ROOT spelled relative, the folder absolute: told apart by spelling alone
    const rel = await cli([...how, "tree"], { cwd: tmp.path });
    assertEquals(rel.code, 0, rel.stderr);
    assertEquals(parsePwalk(rel.stdout).rows.length, ref.rows.size);
    assertEquals(parsePwalk(r.stdout).rows.length, 2 * 24 + 1); // 24 levels, their files, ROOT
  }
});

testNeeding([PYTHON3], {
  name: "a relative ROOT whose real path is past PATH_MAX (below a deep working folder) is " +
    "reported, as '.' there is (review)",
  async fn() {
    await using tmp = await tempDir();
    const names = Array.from(
      { length: 22 },
      (_, i) => `${String(i).padStart(2, "0")}${"n".repeat(198)}`,
    );
    const deep = mkdirChain(bytes(tmp.path), names.map((n) => bytes(n)));
    mkdirChain(deep, [bytes("leaf")]);
    writeFileRaw(concat(deep, bytes("/leaf/f")), bytes("x"));
    assert(deep.length + 5 > 4096);
    // the working folder reached by relative steps, each short (a shell's cd
    // would name it whole)
    const cd = [
      "python3",
      "-c",
      "import os, sys\nfor n in sys.argv[1].split('/'): os.chdir(n)\nos.execvp(sys.argv[2], sys.argv[2:])",
      names.join("/"),
    ];
    for (const root of ["leaf", "./leaf/"]) {
      const r = await cli([root], { cwd: tmp.path, prefix: cd });
      assertEquals(r.code, 0, r.stderr);
      const paths = parsePwalk(r.stdout).rows.map((x) => new TextDecoder().decode(x.path)).sort();
      const given = root.replace(/\/$/, "");
      assertEquals(paths, [given, `${given}/f`]);
    }
    // repair needs ROOT's real path (its journal names it): bad usage there, nothing written
    const r = await cli(["repair", "leaf"], { cwd: tmp.path, prefix: cd });
    assertEquals([r.code, r.text], [2, ""]);
    assertMatch(r.stderr, /^pwalk: leaf: File name too long/);
  },
});

Deno.test({
  name: "-x / --one-file-system: entries on another device are skipped",
  ignore: !canMountTmpfs(),
  async fn(t) {
    await using tmp = await tempDir();
    const root = `${tmp.path}/tree`;
    await Deno.mkdir(`${root}/local/sub`, { recursive: true });
    await Deno.writeTextFile(`${root}/local/sub/a.txt`, "aaaa");
    await Deno.mkdir(`${root}/mnt`);
    assertEquals(await mountTmpfs(`${root}/mnt`, "size=4m,mode=0755"), "");
    await Deno.mkdir(`${root}/mnt/inner`);
    await Deno.writeTextFile(`${root}/mnt/inner/b.txt`, "bbbbbbbb");
    await Deno.writeTextFile(`${root}/mnt/c.txt`, "c");
    const rootDev = Deno.statSync(root).dev;
    const mntSt = Deno.lstatSync(`${root}/mnt`);
    assertNotEquals(mntSt.dev, rootDev, "the tmpfs is another device");
    const all = settledReference(root);
    const one = settledReference(root, { oneFileSystem: true });
    assert(one.rows.size < all.rows.size);
    const rootAll = all.rows.get(root)!, rootOne = one.rows.get(root)!;
    assertEquals(rootOne.fcount, rootAll.fcount, "the mount point still counts in pw_fcount");
    assertEquals(rootOne.dirsum, rootAll.dirsum - mntSt.size, "but not in pw_dirsum");

    for (const flag of ["-x", "--one-file-system"]) {
      await t.step(flag, async () => {
        const r = await cli([flag, root]);
        assertEquals(r.code, 0, r.stderr);
        const rows = parsePwalk(r.stdout).rows;
        assertRowsMatch(rows, one.rows);
        assert(!rows.some((x) => x.key.startsWith(`${root}/mnt`)));
      });
    }
    await t.step("without -x the other device is walked", async () => {
      const r = await cli([root]);
      assertEquals(r.code, 0, r.stderr);
      const rows = parsePwalk(r.stdout).rows;
      assertRowsMatch(rows, all.rows);
      assertEquals(rows.find((x) => x.key === `${root}/mnt/inner/b.txt`)?.dev, mntSt.dev);
    });
    await t.step("report({ oneFileSystem: true })", async () => {
      const out = `${tmp.path}/r.csv`;
      await report(root, { output: out, oneFileSystem: true });
      assertRowsMatch(parsePwalk(await Deno.readFile(out)).rows, one.rows);
    });
  },
});

Deno.test("threads: report() rows are the same for threads 1, 2, 16", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await mktree(root, 2000, 5);
  const ref = settledReference(root);
  for (const threads of [1, 2, 16]) {
    const out = `${tmp.path}/r${threads}.csv`;
    await report(root, { output: out, threads });
    assertRowsMatch(parsePwalk(await Deno.readFile(out)).rows, ref.rows);
  }
});

Deno.test("report(): progressIntervalMs Infinity gives one progress call, the final count", async () => {
  await using tmp = await tempDir("pwalk-progress-");
  const root = `${tmp.path}/tree`;
  await mktree(root, 400, 5);
  // the reference: entries and allocated bytes by Deno.lstat
  let entries = 1;
  let allocated = Deno.lstatSync(root).blocks! * 512;
  const visit = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const st = Deno.lstatSync(`${dir}/${e.name}`);
      entries++;
      allocated += st.blocks! * 512;
      if (st.isDirectory) visit(`${dir}/${e.name}`);
    }
  };
  visit(root);
  const calls: number[][] = [];
  const s = await report(root, {
    output: `${tmp.path}/out.csv`,
    threads: 1,
    progressIntervalMs: Infinity,
    onProgress: (p) => calls.push([p.entries, p.allocatedBytes]),
  });
  assertEquals(calls, [[entries, allocated]]);
  assertEquals([s.entries, s.allocatedBytes], [entries, allocated]);
});

Deno.test("report(): an onProgress that throws ends the job; report() rejects with it, nothing left", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // a tmpfs when root may mount one: made fast, and walked long enough to tick
  if (canMountTmpfs()) assertEquals(await mountTmpfs(root, "size=64m"), "");
  await emptyFilesTree(root, 20, 1000);
  const out = `${tmp.path}/out.csv`;
  const thrown = new Error("stop here");
  for (let attempt = 1;; attempt++) {
    let calls = 0;
    const err = await report(root, {
      output: out,
      threads: 1,
      progressIntervalMs: 1,
      onProgress: (p) => {
        calls++;
        if (p.entries > 0) throw thrown; // a tick while it walks: not the final call
      },
    }).then(() => null, (e) => e);
    assert(err === thrown, `report() rejected with ${err}`);
    assert(calls >= 1);
    // the output there: no tick came before the walk ended (a loaded
    // machine), the final call threw, and the output stays, as documented;
    // again, on a larger tree
    const finishedFirst = [...Deno.readDirSync(tmp.path)].some((e) => e.name === "out.csv");
    if (!finishedFirst) break;
    assert(attempt < 4, "no progress call came while the walk ran, in 4 tries");
    await Deno.remove(out);
    await emptyFilesTree(`${root}/more${attempt}`, 20, 1000);
  }
  assertEquals(
    [...Deno.readDirSync(tmp.path)].map((e) => e.name),
    ["tree"],
    "no output, no partial",
  );
});

Deno.test('report(): output "" is refused at once, nothing walked, nothing made in the current folder', async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  // as for the onProgress test above: a tmpfs when root may mount one, made
  // fast, and walked long enough to tick were a job started
  if (canMountTmpfs()) assertEquals(await mountTmpfs(root, "size=64m"), "");
  await emptyFilesTree(root, 20, 1000);
  const cwd = `${tmp.path}/cwd`;
  await Deno.mkdir(cwd);
  const listing = () => [...Deno.readDirSync(cwd)].map((e) => e.name);
  const seen: string[][] = [];
  const before = Deno.cwd();
  Deno.chdir(cwd); // a relative name's temporary file would land here
  try {
    await assertRejects(
      () =>
        report(root, {
          output: "",
          threads: 1,
          progressIntervalMs: 1,
          onProgress: (p) => void seen.push([String(p.entries), ...listing()]),
        }),
      TypeError,
      'pwalk: output must be a file name, or "-" (or omitted) for stdout, got ""',
    );
  } finally {
    Deno.chdir(before);
  }
  assertEquals(seen, [], "a job ran");
  assertEquals(listing(), []);
});

Deno.test("report(): skipFds leaves out the files open on them, every name of each (by device and inode); more than 8 is a RangeError", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  await Deno.mkdir(`${root}/c`);
  for (const f of ["a/part1", "a/b/part2", "c/keep", "keep2"]) {
    await Deno.writeTextFile(`${root}/${f}`, f);
  }
  await Deno.link(`${root}/a/part1`, `${root}/c/part1-link`); // another name, same inode
  const ref = settledReference(root);
  const skipped = new Set(
    [`${root}/a/part1`, `${root}/a/b/part2`].map((p) => Deno.lstatSync(p).ino),
  );
  const keys = (rows: { key: string }[]) => rows.map((r) => r.key).sort();
  const all = keys([...ref.rows.values()]);
  // by the reference (Deno.lstat): the names of the skipped inodes go, the rest stay
  const kept = keys([...ref.rows.values()].filter((r) => !skipped.has(Deno.lstatSync(r.key).ino)));
  assertEquals(all.length - kept.length, 3);
  const fds = [openFile(`${root}/a/part1`), openFile(`${root}/a/b/part2`)];
  try {
    const plain = `${tmp.path}/plain.csv`;
    await report(root, { output: plain });
    assertEquals(keys(parsePwalk(await Deno.readFile(plain)).rows), all);
    const out = `${tmp.path}/skip.csv`;
    await report(root, { output: out, skipFds: fds });
    assertEquals(keys(parsePwalk(await Deno.readFile(out)).rows), kept);
    // at most 8: 8 are taken, 9 refused before any work, nothing written
    const eight = `${tmp.path}/eight.csv`;
    await report(root, { output: eight, skipFds: Array(8).fill(fds[0]) });
    assert(Deno.lstatSync(eight).isFile);
    const nine = `${tmp.path}/nine.csv`;
    await assertRejects(
      () => report(root, { output: nine, skipFds: Array(9).fill(fds[0]) }),
      RangeError,
      "pwalk: skipFds: at most 8",
    );
    assertEquals(Deno.readDirSync(tmp.path).some((e) => e.name.startsWith("nine")), false);
  } finally {
    fds.forEach(closeFd);
    closeLibc();
  }
});

Deno.test("report(): with 8 skipFds, 8 skipPaths and errorsCsvFd in ROOT, its own output (and the file it replaces) is still no row (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  const fdFiles = Array.from({ length: 8 }, (_, i) => `${root}/fd${i}`);
  const pathFiles = Array.from({ length: 8 }, (_, i) => `${root}/sub/p${i}`);
  const errorsFile = `${root}/errors.csv`, out = `${root}/out.csv`;
  for (const f of [...fdFiles, ...pathFiles, errorsFile, out, `${root}/keep`, `${root}/sub/keep`]) {
    await Deno.writeTextFile(f, "x");
  }
  // by the reference (Deno.lstat, before the run): every row but the 18 left out
  const ref = settledReference(root);
  const gone = new Set([...fdFiles, ...pathFiles, errorsFile, out]);
  const kept = [...ref.rows.values()].filter((r) => !gone.has(r.key));
  assertEquals(ref.rows.size - kept.length, 18);
  const fds = [...fdFiles.map((f) => openFile(f)), openFile(errorsFile, true)];
  try {
    await report(root, {
      output: out,
      skipFds: fds.slice(0, 8),
      errorsCsvFd: fds[8],
      skipPaths: pathFiles,
    });
    const rows = parsePwalk(await Deno.readFile(out)).rows;
    assertEquals(rows.map((r) => r.key).sort(), kept.map((r) => r.key).sort());
    // ROOT's pw_fcount counts neither the output being written nor the one
    // it replaced, nor the 9 files of descriptors there
    assertEquals(rows.find((r) => r.key === root)?.fcount, ref.rows.get(root)!.fcount - 10);
  } finally {
    fds.forEach(closeFd);
    closeLibc();
  }
});

Deno.test("an option name no function knows (a typo) is a TypeError naming it, before any work; null options too (audit)", async () => {
  const api = await import("../mod.ts");
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/f`, "x");
  const out = `${tmp.path}/scan.csv`;
  const scan = `${tmp.path}/in.csv`;
  await Deno.copyFile(new URL("./fixtures/example-small.csv", import.meta.url), scan);
  const cases: [string, (o: never) => Promise<unknown>, Record<string, unknown>, string][] = [
    ["report", (o) => api.report(root, o), { ouput: out }, ' (did you mean "output"?)'],
    [
      "report",
      (o) => api.report(root, o),
      { Threads: 2, output: out },
      ' (did you mean "threads"?)',
    ],
    ["report", (o) => api.report(root, o), { zzzzzzzz: 1, output: out }, ""],
    [
      "reportParquet",
      (o) => api.reportParquet(root, o),
      { output: `${out}.parquet`, heder: 1 },
      "",
    ],
    ["repair", (o) => api.repair(root, o), { aply: true }, ' (did you mean "apply"?)'],
    ["repair", (o) => api.repair(root, o), { pwalkDepth: 1 }, ""],
    [
      "chown",
      (o) => api.chown(root, o),
      { from: 0, to: { uid: 1 }, apply: true, jurnal: out },
      ' (did you mean "journal"?)',
    ],
    ["undo", (o) => api.undo(out, o), { aply: true }, ' (did you mean "apply"?)'],
    // two letters swapped: one edit, nearer than "force"'s two
    ["chown", (o) => api.chown(out, o), { form: 1001 }, ' (did you mean "from"?)'],
    ["summarize", (o) => api.summarize([scan], o), { tpo: 3 }, ' (did you mean "top"?)'],
    ["diff", (o) => api.diff([scan], [scan], o), { dpeth: 3 }, ' (did you mean "depth"?)'],
    [
      "convert",
      (o) => api.convert([scan], out, o),
      { headers: false },
      ' (did you mean "header"?)',
    ],
  ];
  for (const [who, call, opts, hint] of cases) {
    const name = Object.keys(opts).find((k) => !["output", "from", "to", "apply"].includes(k))!;
    const e = await assertRejects(() => call(opts as never), TypeError);
    assertEquals(e.message, `pwalk: ${who}: unknown option ${JSON.stringify(name)}${hint}`);
    await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound, undefined, who);
    await assertRejects(() => Deno.lstat(`${out}.parquet`), Deno.errors.NotFound);
  }
  // the shard functions
  const plan = await api.planShards(root, { shards: 2 });
  const shardCases: [string, () => Promise<unknown>, string][] = [
    [
      "planShards",
      () => api.planShards(root, { shards: 2, shard: 1 } as never),
      '"shard" (did you mean "shards"?)',
    ],
    [
      "runShard",
      () => api.runShard(plan, 0, { ouput: out } as never),
      '"ouput" (did you mean "output"?)',
    ],
    [
      "slurmScan",
      () => api.slurmScan(root, { shards: 2, out: `${tmp.path}/s`, sbtach: [] } as never),
      '"sbtach" (did you mean "sbatch"?)',
    ],
    [
      "slurmScript",
      () =>
        Promise.resolve().then(() => api.slurmScript(plan, { dir: tmp.path, treads: 2 } as never)),
      '"treads" (did you mean "threads"?)',
    ],
    [
      "submitShards",
      () => api.submitShards(tmp.path, [0], { dryrun: true } as never),
      '"dryrun" (did you mean "dryRun"?)',
    ],
    [
      "resumeScan",
      () => api.resumeScan(tmp.path, { dryrun: true } as never),
      '"dryrun" (did you mean "dryRun"?)',
    ],
    [
      "scanStatus",
      () => api.scanStatus(tmp.path, { verfy: true } as never),
      '"verfy" (did you mean "verify"?)',
    ],
    [
      "readScanCounts",
      () => api.readScanCounts([scan], { maxFolder: 1 } as never),
      '"maxFolder" (did you mean "maxFolders"?)',
    ],
  ];
  for (const [who, call, what] of shardCases) {
    const e = await assertRejects(call, TypeError);
    assertEquals(e.message, `pwalk: ${who}: unknown option ${what}`);
  }
  await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound);
  await assertRejects(() => Deno.lstat(`${tmp.path}/s`), Deno.errors.NotFound);
  // an array or another value for the options: a TypeError saying so, not
  // a property read of it ([null] is no options object with its nulls left out)
  for (
    const [who, call] of [
      ["report", (o: never) => api.report(root, o)],
      ["summarize", (o: never) => api.summarize([scan], o)],
    ] as const
  ) {
    for (
      const [v, shown] of [[[], "an array"], [[null], "an array"], ["x", '"x" (a string)']] as const
    ) {
      const e = await assertRejects(() => call(v as never), TypeError);
      assertEquals(e.message, `pwalk: ${who}'s options must be an object, got ${shown}`);
    }
  }
  await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound);
  // null options are none, and an option that is null is not given (its
  // default), as undefined, in every function as in walk(): the same
  // answers as without them
  const answers = async (o?: unknown) => {
    const { elapsedSeconds: _, ...rest } = await api.summarize([scan], o as never);
    return rest;
  };
  const plain = await answers();
  assertEquals(await answers(null), plain);
  assertEquals(await answers({ top: null, depth: null }), plain);
  const nulls = await api.report(root, { output: out, threads: null, maxDepth: null } as never);
  assertEquals([nulls.entries, nulls.output], [2, out]);
  assertEquals((await api.repair(root, null as never)).entriesChanged, 0);
  const dry = await api.repair(root, { apply: null, journal: null } as never);
  assertEquals([dry.entriesChanged, dry.journal], [0, null]);
  await Deno.remove(out);
  // the names they know still pass, undefined values of other names too
  const s = await api.report(root, { output: out, threads: 2, typo: undefined } as never);
  assertEquals(s.entries, 2);
  closeLibc();
});

Deno.test("skipFds and skipPaths: a string or items of another type is a TypeError saying what they take, not read character by character (audit)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(root);
  const out = `${tmp.path}/scan.csv`;
  const cases: [Record<string, unknown>, string][] = [
    [
      { skipPaths: "abc" },
      'pwalk: skipPaths must be an array of paths (strings), got "abc" (a string)',
    ],
    [
      { skipPaths: [1] },
      "pwalk: skipPaths must be an array of paths (strings), got an array with another item",
    ],
    [{ skipFds: "12" }, 'pwalk: skipFds must be an array of file descriptors, got "12" (a string)'],
    [{ skipFds: 3 }, "pwalk: skipFds must be an array of file descriptors, got 3 (a number)"],
  ];
  for (const [opts, msg] of cases) {
    const e = await assertRejects(() => report(root, { output: out, ...opts }), TypeError);
    assertEquals(e.message, msg);
    await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound);
  }
});

Deno.test({
  ignore: !existsFull(),
  name:
    "report(): a job that fails (root missing, output /dev/full) rejects without the call at the end, as onProgress's doc says (audit)",
  async fn() {
    await using tmp = await tempDir("pwalk-progress-");
    const root = `${tmp.path}/tree`;
    await mktree(root, 50, 2);
    // deno-lint-ignore no-explicit-any
    const runs: [string, string, new (...a: any[]) => Error][] = [
      [`${tmp.path}/missing`, `${tmp.path}/out.csv`, Deno.errors.NotFound],
      [root, "/dev/full", Error],
    ];
    for (const [r, output, type] of runs) {
      let calls = 0;
      await assertRejects(
        () => report(r, { output, progressIntervalMs: Infinity, onProgress: () => void calls++ }),
        type,
      );
      assertEquals(calls, 0, `${r} -> ${output}`);
    }
    // done: the one call at the end
    let calls = 0;
    await report(root, {
      output: `${tmp.path}/ok.csv`,
      progressIntervalMs: Infinity,
      onProgress: () => void calls++,
    });
    assertEquals(calls, 1);
    closeLibc();
  },
});

Deno.test("the shard functions: a value of the wrong type or out of range is refused before any plan, script or job (a task would fail on it after queueing), missing options too (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a`, { recursive: true });
  await Deno.mkdir(`${root}/b`);
  const api = await import("../mod.ts");
  const plan = await api.planShards(root, { shards: 2 });
  const scan = `${tmp.path}/scan.csv`;
  assertEquals((await cli(["-o", scan, root])).code, 0);
  const out = `${tmp.path}/s`;
  const slurm = (o: Record<string, unknown>) =>
    api.slurmScan(root, { shards: 2, out, dryRun: true, ...o } as never);
  const cases: [() => unknown, ErrorConstructor, string][] = [
    [
      () => slurm({ threads: 0 }),
      RangeError,
      "pwalk: threads must be an integer from 1 to 1024, got 0",
    ],
    [
      () => slurm({ threads: "4" }),
      TypeError,
      'pwalk: threads must be an integer from 1 to 1024, got "4" (a string)',
    ],
    [
      () => slurm({ level: 99 }),
      RangeError,
      "pwalk: level must be an integer from 1 to 19, got 99",
    ],
    [
      () => slurm({ maxRunning: "2; rm" }),
      TypeError,
      'pwalk: maxRunning must be an integer from 1 to 1000000, got "2; rm" (a string)',
    ],
    [
      () => slurm({ sbatch: "--time=1:00:00" }),
      TypeError,
      'pwalk: sbatch must be an array of strings, got "--time=1:00:00" (a string)',
    ],
    [
      () => slurm({ command: "deno run" }),
      TypeError,
      'pwalk: command must be an array of strings, got "deno run" (a string)',
    ],
    [
      () => api.slurmScan(root, undefined as never),
      TypeError,
      "pwalk: slurmScan needs its options: { shards, out }",
    ],
    [
      () => api.slurmScript(plan, { dir: 5 } as never),
      TypeError,
      "pwalk: dir must be a string, got 5 (a number)",
    ],
    // relative: sbatch runs the script in the folder it is submitted from
    [
      () => api.slurmScript(plan, { dir: "scan" }),
      RangeError,
      "pwalk: dir must be an absolute path (the script's tasks run in the folder sbatch is run " +
      "from), got 'scan'",
    ],
    [
      () => api.slurmScript(plan, { dir: "" }),
      RangeError,
      "pwalk: dir must be an absolute path (the script's tasks run in the folder sbatch is run " +
      "from), got ''",
    ],
    // a line break would end the #SBATCH --output line: the rest a command
    [
      () => api.slurmScript(plan, { dir: "/tmp/x\n touch /tmp/y #" }),
      RangeError,
      "pwalk: dir: Slurm cannot take a line break in a job's log path (#SBATCH --output), got " +
      "'/tmp/x\\n touch /tmp/y #'",
    ],
    [
      () => api.slurmScript(plan, { dir: "/tmp/x\r" }),
      RangeError,
      "pwalk: dir: Slurm cannot take a line break in a job's log path (#SBATCH --output), got " +
      "'/tmp/x\\x0d'",
    ],
    // '"' would end --output="...", '%' be expanded, and a '\' make Slurm
    // expand no %A_%a at all (every task's log one file)
    ...['"', "%", "\\"].map((c) =>
      [
        () => api.slurmScript(plan, { dir: `/tmp/a${c}b` }),
        RangeError,
        `pwalk: dir: Slurm cannot take '${c}' in a job's log path (#SBATCH --output), got ` +
        `'/tmp/a${c}b'`,
      ] as [() => unknown, ErrorConstructor, string]
    ),
    [
      () => api.slurmScript(plan, { dir: tmp.path, level: 0 }),
      RangeError,
      "pwalk: level must be an integer from 1 to 19, got 0",
    ],
    [
      () => api.submitShards(out, [0], { maxRunning: 0, dryRun: true }),
      RangeError,
      "pwalk: maxRunning must be an integer from 1 to 1000000, got 0",
    ],
    [
      () => api.scanStatus(out, { verify: "false" } as never),
      TypeError,
      'pwalk: verify must be true or false, got "false" (a string)',
    ],
    [
      () => api.scanStatus(out, { squeue: "false" } as never),
      TypeError,
      'pwalk: squeue must be true or false, got "false" (a string)',
    ],
    [
      () => api.readScanCounts(scan as never),
      TypeError,
      `pwalk: files must be an array of paths, got "${scan}" (a string)`,
    ],
    [
      () => api.readScanCounts([scan], { maxFolders: "5" } as never),
      TypeError,
      'pwalk: maxFolders must be an integer from 1 to 2147483648, got "5" (a string)',
    ],
    [
      () => api.readScanCounts([scan], { maxLevels: NaN }),
      RangeError,
      "pwalk: maxLevels must be an integer from 1 to 10000, got NaN",
    ],
    [
      () => api.planShards(root, undefined as never),
      TypeError,
      "pwalk: planShards needs its options: { shards }",
    ],
    [
      () => api.planShards(root, { shards: 2, from: scan as never }),
      TypeError,
      `pwalk: from must be an array of scans, got "${scan}" (a string)`,
    ],
    [
      () => api.arrayList("1,2" as never),
      TypeError,
      'pwalk: indexes must be an array of shard numbers, got "1,2" (a string)',
    ],
    [
      () => api.arrayList([-1, 1.5]),
      RangeError,
      "pwalk: a shard number is a whole number from 0, got -1 (a number)",
    ],
  ];
  for (const [call, type, message] of cases) {
    const e = await assertRejects(async () => await call(), type);
    assertEquals(e.message, message);
  }
  // nothing planned, written or submitted
  await assertRejects(() => Deno.lstat(out), Deno.errors.NotFound);
  // the values they take still pass
  assertEquals(api.arrayList([3, 0, 1, 2]), "0-3");
  const s = await slurm({ threads: 4, level: 3, maxRunning: 1, sbatch: ["--time=1:00:00"] });
  assertStringIncludes(Deno.readTextFileSync(`${out}/job.sbatch`), "--threads 4 --level 3");
  assertEquals(s.plan.shards, 2);
});

Deno.test("exclude: a relative path is looked up from the current folder, not the root; unmatchedExcludes names those that exclude nothing (review)", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/tree`;
  await Deno.mkdir(`${root}/a/deep`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/deep/f`, "x");
  await Deno.writeTextFile(`${root}/g`, "x");
  const { report, unmatchedExcludes } = await import("../mod.ts");
  const out = `${tmp.path}/scan.csv`;
  const entries = async (exclude: string[]) =>
    (await report(root, { output: out, exclude })).entries;
  const all = await entries([]);
  assertEquals(all, 5); // the root, a, a/deep, a/deep/f, g
  const cwd = Deno.cwd();
  try {
    Deno.chdir(tmp.path); // "a" is tmp/a here: no such folder, nothing excluded
    assertEquals(await entries(["a"]), all);
    assertEquals(unmatchedExcludes(root, ["a", `${root}/a`, "tree/a"]), ["a"]);
    assertEquals(await entries(["tree/a"]), all - 3);
    Deno.chdir(root); // now "a" is the root's a
    assertEquals(unmatchedExcludes(root, ["a", "g", "nope"]), ["g", "nope"]); // g: a file
    assertEquals(await entries(["a"]), all - 3);
  } finally {
    Deno.chdir(cwd);
  }
  closeLibc();
});

Deno.test("chown's to as a number or string: a TypeError saying it is an object, not 'to.uid ... got undefined' (review)", async () => {
  await using tmp = await tempDir();
  const { chown } = await import("../mod.ts");
  for (const [to, shown] of [[5, "5 (a number)"], ["1002:5000", '"1002:5000" (a string)']]) {
    const e = await assertRejects(() => chown(tmp.path, { from: 1001, to } as never), TypeError);
    assertEquals(e.message, `pwalk: chown's to must be an object { uid, gid? }, got ${shown}`);
  }
});
