/**
 * Every option of walk() and walkDirs() (issue 3), each with a test that
 * fails when the option is ignored.  Expectations are computed from the
 * readDir/lstat reference of tests/helpers/walk_tree.ts.
 *
 * onError and the unprivileged cases of skip/exclude are in walk_test.ts;
 * signal is in walk_lifecycle_test.ts.
 */
import { assert, assertEquals, assertNotEquals, assertRejects } from "@std/assert";
import {
  chown,
  nativeVersion,
  planShards,
  repair,
  report,
  walk,
  type WalkDir,
  walkDirs,
  type WalkEntry,
  type WalkOptions,
} from "../mod.ts";
import { canMountTmpfs, mountTmpfs, scratchDir, tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";
import { deno, run, UNPRIVILEGED } from "./helpers/run.ts";
import { PYTHON3, SETPRIV, testNeeding } from "./helpers/system.ts";
import { bytes, concat, join } from "./helpers/bytes.ts";
import { closeLibc, mkdirChain, writeFileRaw } from "./helpers/libc.ts";
import { referenceReport } from "./helpers/reference.ts";
import { decodeBatch, type Decoded } from "../lib/decode.ts";
import { native, Opt } from "../lib/ffi.ts";
import { NativeJob } from "../lib/job.ts";
import {
  blockedWorkers,
  hex,
  type RefEntry,
  reference,
  setDiff,
  sorted,
  stdDepth,
  threadsLeft,
  VanishOnAsk,
  weirdTree,
} from "./helpers/walk_tree.ts";

nativeVersion(); // load the library outside any test (it is a resource)

let refP: Promise<Map<string, RefEntry>> | undefined;
async function tree(): Promise<{ root: string; ref: Map<string, RefEntry> }> {
  const root = await weirdTree();
  refP ??= reference(root);
  return { root, ref: await refP };
}

async function paths(root: string | URL, o: Parameters<typeof walk>[1]): Promise<string[]> {
  const out: string[] = [];
  const it = walk(root, o);
  for await (const e of it) out.push(e.path);
  assertEquals(it.errors, []);
  return out;
}

function refPaths(ref: Map<string, RefEntry>, keep: (r: RefEntry) => boolean): string[] {
  return [...ref.values()].filter(keep).map((r) => r.path);
}

Deno.test("walk followSymlinks: viaLink marks a followed link and everything below it, so the entries without it are the tree walked without following", async () => {
  await using tmp = await tempDir();
  const root = `${tmp.path}/root`, out = `${tmp.path}/out`;
  for (const d of [`${root}/sub/deep`, `${out}/in/deeper`]) {
    await Deno.mkdir(d, { recursive: true });
  }
  for (
    const f of [`${root}/a.txt`, `${root}/sub/deep/b.txt`, `${out}/o.txt`, `${out}/in/deeper/d.txt`]
  ) {
    await Deno.writeTextFile(f, "x");
  }
  await Deno.symlink(out, `${root}/toout`); // a folder outside
  await Deno.symlink("sub", `${root}/tosub`); // a folder inside: its files come twice
  await Deno.symlink("a.txt", `${root}/toa`); // a file
  for (const canonicalize of [true, false]) {
    const followed: [string, boolean, boolean][] = [];
    for await (const e of walk(root, { followSymlinks: true, canonicalize })) {
      followed.push([e.path, e.viaLink, e.isFile]);
    }
    // the reference: Deno.realPath of each walked path, and whether any
    // folder on the way (below ROOT) or the entry itself is a link
    const throughLink = (p: string) => {
      const rel = p.slice(root.length + 1).split("/");
      return rel.some((_, i) =>
        Deno.lstatSync(`${root}/${rel.slice(0, i + 1).join("/")}`).isSymlink
      );
    };
    if (!canonicalize) {
      for (const [p, via] of followed) assertEquals(via, p !== root && throughLink(p), p);
    }
    // without viaLink: the tree itself, as walk without following gives it
    // (its links as the entries they are followed to)
    const plain: string[] = [];
    for await (const e of walk(root)) if (!e.isSymlink) plain.push(e.path);
    const kept = followed.filter(([, via]) => !via).map(([p]) => p);
    assertEquals(kept.sort(), plain.sort(), `canonicalize ${canonicalize}`);
    // every file below the folder links is marked: 2 outside, 1 inside
    const marked = followed.filter(([, via, isFile]) => via && isFile).length;
    assertEquals(marked, 4, `canonicalize ${canonicalize}`); // o, d, b again, and toa
  }
});

Deno.test("walk option threads: that many worker threads walk the tree", async () => {
  const { root, ref } = await tree();
  assertEquals(await threadsLeft(), []);
  for (const threads of [1, 3, 8]) {
    // A stalled consumer: the workers wait for free batches, so all of
    // them are alive while we look.
    const it = walk(root, { threads, batches: 1, batchBytes: 4096 });
    const first = await it.next(); // (the library names its workers)
    const seen: string[] = [first.value!.path];
    const during = await blockedWorkers();
    for await (const e of it) seen.push(e.path);
    assertEquals(during.length, threads, JSON.stringify(during));
    assertEquals(await threadsLeft(), [], "worker threads left after the walk");
    assertEquals(setDiff(seen, ref.keys()), "");
  }
});

Deno.test("walk option maxDepth: @std/fs depths (root 0), walkDirs within the limit", async () => {
  const { root, ref } = await tree();
  const depthOf = (p: string) => p === root ? 0 : p.slice(root.length).split("/").length - 1;
  for (const maxDepth of [0, 1, 2, 3, 7]) {
    // The walker itself stops there: it never asks about a deeper folder
    // (filtering deeper entries afterwards would give the same entries).
    const asked = new Recording("(?!)");
    const got = await paths(root, { maxDepth, skip: [asked] });
    assertEquals(
      setDiff(got, refPaths(ref, (r) => stdDepth(r) <= maxDepth)),
      "",
      `maxDepth ${maxDepth}`,
    );
    assertEquals(asked.asked.filter((p) => depthOf(p) > maxDepth), [], `maxDepth ${maxDepth}`);
    if (maxDepth >= 2) assert(asked.asked.some((p) => depthOf(p) === maxDepth));
  }
  // Infinity and a limit beyond the deepest entry: everything.
  const deepest = Math.max(...[...ref.values()].map(stdDepth));
  assertEquals(setDiff(await paths(root, { maxDepth: deepest }), ref.keys()), "");
  assertEquals(
    setDiff(
      await paths(root, { maxDepth: deepest - 1 }),
      refPaths(ref, (r) => stdDepth(r) < deepest),
    ),
    "",
  );
  assertEquals(setDiff(await paths(root, { maxDepth: Infinity }), ref.keys()), "");
  // Any larger number is a limit beyond the deepest entry too (the engine's
  // depth is 32-bit, its option 64-bit: neither may refuse or wrap it).
  for (
    const maxDepth of [2 ** 31 - 1, 2 ** 31 + 1, Number.MAX_SAFE_INTEGER, 2 ** 64, Number.MAX_VALUE]
  ) {
    assertEquals(setDiff(await paths(root, { maxDepth }), ref.keys()), "", `maxDepth ${maxDepth}`);
    let n = 0;
    for await (const _ of walkDirs(root, { maxDepth, stat: false })) n++;
    assertEquals(
      n,
      [...ref.values()].filter((r) => r.kind === "dir").length,
      `walkDirs ${maxDepth}`,
    );
  }
  // walkDirs: the folders whose whole listing is within the limit.
  for (const maxDepth of [1, 3]) {
    const dirs = new Map<string, WalkDir>();
    for await (const d of walkDirs(root, { maxDepth })) dirs.set(d.path, d);
    const want = [...ref.values()].filter((r) => r.kind === "dir" && stdDepth(r) < maxDepth);
    assertEquals(
      setDiff(dirs.keys(), want.map((r) => r.path)),
      "",
      `walkDirs maxDepth ${maxDepth}`,
    );
    for (const r of want) {
      assertEquals(sorted(dirs.get(r.path)!.dirs), sorted(r.dirs), r.path);
      assertEquals(sorted(dirs.get(r.path)!.files), sorted(r.files), r.path);
    }
  }
  // @std/fs: below 0 nothing, 1.5 as 1 (tests/walk_test.ts); NaN is no limit
  await assertRejects(() => walk(root, { maxDepth: NaN }).next(), RangeError);
});

Deno.test("walk option maxDepth: nothing is reported from beyond the limit", async () => {
  // a/gone (depth 2) vanishes between being listed and being read.
  for (const [maxDepth, root] of [[2, "depth-a"], [2, "depth-b/"], [3, "depth-c"]] as const) {
    const top = `${scratchDir()}/${root}`.replace(/\/$/, "");
    Deno.mkdirSync(`${top}/a/gone`, { recursive: true });
    Deno.writeTextFileSync(`${top}/a/gone/x`, "x");
    const it = walk(`${scratchDir()}/${root}`, {
      maxDepth,
      skip: [new VanishOnAsk(`${top}/a/gone`)],
    });
    const got: string[] = [];
    for await (const e of it) got.push(e.path.slice(top.length));
    // the root's own path keeps ROOT's trailing slash (@std/fs's normalize)
    assertEquals(sorted(got), [root.endsWith("/") ? "/" : "", "/a", "/a/gone"]);
    // At depth 2 the folder is not to be entered: its vanishing is no error.
    assertEquals(it.errors.map((e) => e.op), maxDepth === 2 ? [] : ["open"], root);
  }
});

Deno.test("walk options includeFiles, includeDirs, includeSymlinks", async () => {
  const { root, ref } = await tree();
  const cases: [Parameters<typeof walk>[1], (r: RefEntry) => boolean][] = [
    [{ includeFiles: false }, (r) => r.kind === "dir" || r.kind === "symlink"],
    [{ includeDirs: false }, (r) => r.kind !== "dir"],
    [{ includeSymlinks: false }, (r) => r.kind !== "symlink"],
    [
      { includeDirs: false, includeSymlinks: false },
      (r) => r.kind === "file" || r.kind === "other",
    ],
    [{ includeFiles: false, includeDirs: false }, (r) => r.kind === "symlink"],
  ];
  for (const [o, keep] of cases) {
    assertEquals(setDiff(await paths(root, o), refPaths(ref, keep)), "", JSON.stringify(o));
  }
  // The FIFO counts as a file.
  const noFiles = await paths(root, { includeFiles: false });
  assert(!noFiles.includes(`${root}/weird/fifo`));
});

Deno.test("walk option exts: only paths with these extensions (with or without the dot)", async () => {
  const { root, ref } = await tree();
  const got = await paths(root, { exts: ["csv", ".json", "gz"] });
  const want = refPaths(ref, (r) => /\.(csv|json|gz)$/.test(r.path));
  assert(want.length > 100);
  assertEquals(setDiff(got, want), "");
});

Deno.test("walk option match: only paths matching one of the expressions", async () => {
  const { root, ref } = await tree();
  const match = [/\/f0000\d_[^/]*$/, /\/weird\/[^/]*$/];
  const got = await paths(root, { match });
  const want = refPaths(ref, (r) => match.some((m) => m.test(r.path)));
  assert(want.length > 100);
  assertEquals(setDiff(got, want), "");
});

/** A RegExp that records every path it is asked about. */
class Recording extends RegExp {
  asked: string[] = [];
  override test(s: string): boolean {
    this.asked.push(s);
    return super.test(s);
  }
}

Deno.test("walk option skip: matching entries are not yielded, matching folders not entered", async () => {
  const { root, ref } = await tree();
  // One expression matches only the folder's own path: had the folder been
  // entered, its entries (which do not match) would show up.
  const skipped = [...ref.values()].find((r) =>
    r.kind === "dir" && r.depth === 1 && r.files.length > 0 && r.dirs.length > 0
  )!;
  const byName = new Recording(`/${skipped.name}$`);
  const weird = new Recording("/weird$");
  const files = /\/f0001\d_[^/]*$/;
  const skip = [byName, weird, files];
  const got = await paths(root, { skip });
  const under = (r: RefEntry, d: string) => r.path === d || r.path.startsWith(`${d}/`);
  const want = refPaths(
    ref,
    (r) => !under(r, skipped.path) && !under(r, `${root}/weird`) && !files.test(r.path),
  );
  assertEquals(setDiff(got, want), "");
  // Nothing below a skipped folder was ever asked about (not even natively).
  for (const rec of [byName, weird]) {
    const below = rec.asked.filter((p) =>
      p.startsWith(`${skipped.path}/`) || p.startsWith(`${root}/weird/`)
    );
    assertEquals(below, []);
  }
  // walkDirs, top-down and bottom-up: the skipped folders are neither
  // yielded nor entered, nor named in their parent's dirs.
  for (const topDown of [true, false]) {
    const dirs: string[] = [];
    const named: string[] = [];
    for await (const d of walkDirs(root, { skip: [/\/weird$/], topDown })) {
      dirs.push(d.path);
      named.push(...d.dirs);
    }
    assertEquals(
      setDiff(dirs, refPaths(ref, (r) => r.kind === "dir" && !under(r, `${root}/weird`))),
      "",
      `topDown ${topDown}`,
    );
    assert(!named.includes("weird"), `topDown ${topDown}`);
  }
  // walkDirs: files skip matches are left out of `files` too (as walk()
  // leaves them out), every other file of each folder listed there.
  for (const topDown of [true, false]) {
    const listed: string[] = [];
    for await (const d of walkDirs(root, { skip: [files], topDown })) {
      for (const f of d.files) listed.push(`${d.path}/${f}`);
    }
    // (links to folders are in dirs, os.walk's rule: Deno.statSync follows them)
    const toDir = (p: string) => {
      try {
        return Deno.statSync(p).isDirectory;
      } catch {
        return false;
      }
    };
    const want = refPaths(
      ref,
      (r) => r.kind !== "dir" && r.depth >= 0 && !files.test(r.path) && !toDir(r.path),
    );
    assert(want.length > 0 && refPaths(ref, (r) => files.test(r.path)).length > 0);
    assertEquals(setDiff(listed, want), "", `topDown ${topDown}`);
  }
  // A root that matches yields nothing.
  assertEquals(await paths(root, { skip: [/weird-tree$/] }), []);
});

Deno.test("walk option exclude: these folders and everything below them are left out", async () => {
  const { root, ref } = await tree();
  const dirs = [...ref.values()].filter((r) => r.kind === "dir" && r.depth >= 2 && r.fcount > 3);
  const ex = [dirs[0].path, `${dirs[dirs.length - 1].path}/`, `${root}/weird/deep`];
  const got = await paths(root, { exclude: ex });
  const bases = ex.map((p) => p.replace(/\/$/, ""));
  const want = refPaths(ref, (r) => !bases.some((b) => r.path === b || r.path.startsWith(`${b}/`)));
  assert(want.length < ref.size - 60);
  assertEquals(setDiff(got, want), "");
});

Deno.test("walk option stat: false: listing facts only, and no folder's dirsum (the root's neither)", async () => {
  const root = `${scratchDir()}/nostat`;
  for (const d of ["a/b", "c"]) Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  for (const [f, n] of [["top", 5], ["a/f", 7], ["a/b/g", 11], ["c/h", 13]] as const) {
    Deno.writeTextFileSync(`${root}/${f}`, "x".repeat(n));
  }
  // the reference: lstat of each entry, readDir of each folder
  const sumOf = (dir: string) =>
    [...Deno.readDirSync(dir)].reduce((n, e) => n + Deno.lstatSync(`${dir}/${e.name}`).size, 0);
  const countOf = (dir: string) => [...Deno.readDirSync(dir)].length;
  for (const o of [{}, { oneFileSystem: true }, { followSymlinks: true }] as WalkOptions[]) {
    const seen: string[] = [];
    for await (const e of walk(root, { ...o, stat: false })) {
      seen.push(e.path);
      const st = Deno.lstatSync(e.path);
      const what = `${JSON.stringify(o)} ${e.path}`;
      assertEquals(e.ino, st.ino, what);
      assertEquals(e.isDirectory, st.isDirectory, what);
      // the root is stat'ed to be walked, folders under oneFileSystem for their device
      if (e.path === root || (o.oneFileSystem && e.isDirectory)) {
        assertEquals([e.size, e.uid], [st.size, st.uid], `${what}: stat'ed`);
      } else assert(Number.isNaN(e.uid), `${what}: uid ${e.uid}`);
      if (e.isDirectory) {
        assertEquals(e.fcount, countOf(e.path), what);
        assert(Number.isNaN(e.dirsum), `${what}: dirsum ${e.dirsum}, children not stat'ed`);
      } else assertEquals([e.fcount, e.dirsum], [-1, e.path === root ? 0 : NaN], what);
    }
    assertEquals(seen.length, 8);
    for await (const d of walkDirs(root, { ...o, stat: false })) {
      assert(Number.isNaN(d.entry.dirsum), `walkDirs ${JSON.stringify(o)} ${d.path}: dirsum`);
      assertEquals(d.entry.fcount, countOf(d.path));
    }
  }
  // with stat, each folder's dirsum is its children's sizes, the root's too
  for await (const e of walk(root)) {
    if (e.isDirectory) assertEquals([e.fcount, e.dirsum], [countOf(e.path), sumOf(e.path)]);
  }
});

Deno.test("walk option noSnap: folders named .snapshot are not entered", async () => {
  const root = `${scratchDir()}/snap`;
  for (const d of [".snapshot/hourly.0", "x/.snapshot", "x/.snapshot2", "y"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  for (
    const f of [".snapshot/hourly.0/a", "x/.snapshot/b", "x/.snapshot2/c", "y/.snapshot", "x/d"]
  ) {
    Deno.writeTextFileSync(`${root}/${f}`, f);
  }
  const rel = (xs: string[]) => sorted(xs.map((p) => p.slice(root.length)));
  const all = rel(await paths(root, {}));
  assertEquals(all, [
    "",
    "/.snapshot",
    "/.snapshot/hourly.0",
    "/.snapshot/hourly.0/a",
    "/x",
    "/x/.snapshot",
    "/x/.snapshot/b",
    "/x/.snapshot2",
    "/x/.snapshot2/c",
    "/x/d",
    "/y",
    "/y/.snapshot",
  ]);
  // A file named .snapshot and a folder named .snapshot2 stay.
  assertEquals(rel(await paths(root, { noSnap: true })), [
    "",
    "/x",
    "/x/.snapshot2",
    "/x/.snapshot2/c",
    "/x/d",
    "/y",
    "/y/.snapshot",
  ]);
});

Deno.test({
  name: "walk option oneFileSystem: a file system mounted inside the tree is not entered",
  ignore: !canMountTmpfs(),
  async fn() {
    const root = `${scratchDir()}/onefs`;
    const mnt = `${root}/mnt`;
    Deno.mkdirSync(`${root}/a`, { recursive: true });
    Deno.mkdirSync(mnt);
    Deno.writeTextFileSync(`${root}/a/f`, "f");
    assertEquals(await mountTmpfs(mnt, "size=1m"), "");
    Deno.mkdirSync(`${mnt}/sub`);
    Deno.writeTextFileSync(`${mnt}/g`, "g");
    Deno.writeTextFileSync(`${mnt}/sub/h`, "h");
    const rootDev = Deno.statSync(root).dev;
    assertNotEquals(Deno.statSync(mnt).dev, rootDev, "the premise: another device");
    const rel = (xs: string[]) => sorted(xs.map((p) => p.slice(root.length)));
    const entries: WalkEntry[] = [];
    for await (const e of walk(root)) entries.push(e);
    assertEquals(rel(entries.map((e) => e.path)), [
      "",
      "/a",
      "/a/f",
      "/mnt",
      "/mnt/g",
      "/mnt/sub",
      "/mnt/sub/h",
    ]);
    assert(entries.some((e) => e.dev !== rootDev));
    const one: WalkEntry[] = [];
    for await (const e of walk(root, { oneFileSystem: true })) one.push(e);
    assertEquals(rel(one.map((e) => e.path)), ["", "/a", "/a/f"]);
    assert(one.every((e) => e.dev === rootDev));
  },
});

Deno.test("walk option followSymlinks: off, links are entries; on, they are entered and loops end", async () => {
  const base = `${scratchDir()}/follow`;
  const root = `${base}/root`;
  Deno.mkdirSync(`${base}/outside/osub`, { recursive: true });
  Deno.mkdirSync(`${root}/real`, { recursive: true });
  Deno.writeTextFileSync(`${base}/outside/o1.txt`, "o1!");
  Deno.writeTextFileSync(`${base}/outside/osub/o2.txt`, "o2");
  Deno.writeTextFileSync(`${root}/real/r.txt`, "12345");
  Deno.symlinkSync("..", `${root}/real/up`); // a loop back to the root
  Deno.symlinkSync("../outside", `${root}/tooutside`);
  Deno.symlinkSync("real/r.txt", `${root}/tofile`);
  Deno.symlinkSync("/nonexistent/target", `${root}/dangling`);
  Deno.symlinkSync("self", `${root}/self`);
  const rel = (p: string) => p.slice(root.length);

  const off = new Map<string, WalkEntry>();
  const offIt = walk(root);
  for await (const e of offIt) off.set(rel(e.path), e);
  assertEquals(offIt.errors, []);
  assertEquals(sorted(off.keys()), [
    "",
    "/dangling",
    "/real",
    "/real/r.txt",
    "/real/up",
    "/self",
    "/tofile",
    "/tooutside",
  ]);
  for (const l of ["/dangling", "/real/up", "/self", "/tofile", "/tooutside"]) {
    const e = off.get(l)!;
    assert(e.isSymlink && !e.isFile && !e.isDirectory && !e.viaLink, l);
    assertEquals(e.size, Deno.readLinkSync(`${root}${l}`).length, l); // a link's size
  }

  const on = new Map<string, WalkEntry>();
  // (the links' paths: canonicalize false; real paths are tested below)
  const onIt = walk(root, { followSymlinks: true, canonicalize: false });
  for await (const e of onIt) {
    on.set(rel(e.path), e);
    assert(on.size < 100, "the walk does not end");
  }
  assertEquals(sorted(on.keys()), [
    "",
    "/dangling",
    "/real",
    "/real/r.txt",
    "/real/up",
    "/self",
    "/tofile",
    "/tooutside",
    "/tooutside/o1.txt",
    "/tooutside/osub",
    "/tooutside/osub/o2.txt",
  ]);
  // The loop is reported, yielded as the folder it leads to, and not entered;
  // the link to itself cannot be followed (ELOOP): an error too.
  const selfCode = await Deno.stat(`${root}/self`).then(() => "", (e) => e.code);
  assertEquals(selfCode, "ELOOP");
  assertEquals(sorted(onIt.errors.map((e) => `${rel(e.path)} ${e.op} ${e.code}`)), [
    "/real/up loop ELOOP",
    `/self stat ${selfCode}`,
  ]);
  const up = on.get("/real/up")!;
  assert(up.isDirectory && up.viaLink && !up.isSymlink);
  assertEquals(up.ino, Deno.statSync(root).ino);
  const outside = Deno.statSync(`${base}/outside`);
  const dir = on.get("/tooutside")!;
  assert(dir.isDirectory && !dir.isSymlink && dir.viaLink);
  assertEquals(dir.ino, outside.ino);
  assertEquals(dir.fcount, 2);
  assertEquals(on.get("/tooutside/osub/o2.txt")!.size, 2);
  assertEquals(on.get("/tooutside/o1.txt")!.parentIno, outside.ino);
  const file = on.get("/tofile")!;
  assert(file.isFile && file.viaLink);
  assertEquals([file.size, file.ino], [5, Deno.statSync(`${root}/real/r.txt`).ino]);
  // Dangling and self-referencing links stay links.
  assert(on.get("/dangling")!.isSymlink && on.get("/self")!.isSymlink);

  // A loop that skip names is skipped, not an error (a skipped folder is
  // never asked about); skip that names another folder leaves its error.
  for (const [skip, errs] of [[/\/up$/, []], [/\/tooutside$/, [["/real/up", "loop"]]]] as const) {
    const it = walk(root, { followSymlinks: true, canonicalize: false, skip: [skip] });
    const seen: string[] = [];
    for await (const e of it) seen.push(rel(e.path));
    const walkErrs = it.errors.filter((e) => e.op !== "stat"); // (/self's, above)
    assertEquals(walkErrs.map((e) => [rel(e.path), e.op]), errs, `walk skip ${skip}`);
    assert(!seen.some((p) => skip.test(p)), `walk skip ${skip}`);
    for (const topDown of [true, false]) {
      const d = walkDirs(root, { followSymlinks: true, skip: [skip], topDown });
      for await (const _ of d) { /* the errors are what is looked at */ }
      assertEquals(d.errors.map((e) => [rel(e.path), e.op]), errs, `walkDirs ${topDown} ${skip}`);
    }
  }
});

/** walk() and walkDirs() following links, each link's Deno.stat as the reference (a child's JSON). */
const FOLLOW_CHILD = `
import { walk, walkDirs } from "${new URL("../mod.ts", import.meta.url).href}";
const root = Deno.args[0];
const stat = {};
for (const e of Deno.readDirSync(root)) {
  if (!e.isSymlink) continue;
  const p = root + "/" + e.name;
  stat[p] = await Deno.stat(p).then(() => "", (err) => err.code);
}
const it = walk(root, { followSymlinks: true });
const links = [];
for await (const e of it) if (e.isSymlink) links.push(e.path);
const errors = it.errors.map((e) => [e.path, e.op, e.code]);
const d = walkDirs(root, { followSymlinks: true });
const dirs = [];
for await (const x of d) dirs.push([x.path, [...x.dirs].sort(), [...x.files].sort()]);
const dirErrors = d.errors.map((e) => [e.path, e.code]);
console.log(JSON.stringify({ stat, links: links.sort(), errors: errors.sort(), dirs, dirErrors }));
`;

testNeeding([SETPRIV, PYTHON3], {
  name:
    "walk option followSymlinks: a link whose target cannot be reached (EACCES, ELOOP) is yielded as the link, with a 'stat' error; a dangling one with none; walkDirs as os.walk(followlinks=True)",
  async fn() {
    await using tmp = await tempDir("pwalk-follow-");
    const root = `${tmp.path}/r1`;
    await Deno.mkdir(`${tmp.path}/secret/d`, { recursive: true });
    await Deno.mkdir(`${root}/real`, { recursive: true });
    await Deno.writeTextFile(`${root}/f`, "");
    for (
      const [target, name] of [
        ["../secret/d", "hidden"], // EACCES: uid 0 without capabilities cannot search secret
        ["ping", "pong"], // ELOOP
        ["pong", "ping"],
        ["nowhere", "dangling"], // ENOENT
        ["f/x", "through-file"], // ENOTDIR
        ["real", "ok"],
      ]
    ) await Deno.symlink(target, `${root}/${name}`);
    await Deno.chmod(`${tmp.path}/secret`, 0o000);
    try {
      const script = `${tmp.path}/child.ts`;
      await Deno.writeTextFile(script, FOLLOW_CHILD);
      const r = await deno(["run", "-A", script, root], {
        prefix: UNPRIVILEGED,
        timeoutMs: 60_000,
      });
      assertEquals(r.code, 0, r.stderr);
      const got = JSON.parse(r.text);
      // the premise: each kind of failure is there
      assertEquals(
        Object.values(got.stat).sort(),
        ["", "EACCES", "ELOOP", "ELOOP", "ENOENT", "ENOTDIR"],
      );
      // walk(): every link that leads nowhere reachable is yielded as the
      // link; those whose target is there but cannot be reached are errors
      const unreached = Object.keys(got.stat).filter((p) => got.stat[p] !== "").sort();
      assertEquals(got.links, unreached);
      assertEquals(
        got.errors,
        unreached.filter((p) => !["ENOENT", "ENOTDIR"].includes(got.stat[p]))
          .map((p) => [p, "stat", got.stat[p]]).sort(),
      );
      // walkDirs(): os.walk(followlinks=True) lists them all among the
      // files, with no error
      const py = await run("python3", [
        "-c",
        `import errno, json, os, sys
errors = []
walked = [[p, sorted(d), sorted(f)] for p, d, f in os.walk(sys.argv[1], followlinks=True,
    onerror=lambda e: errors.append([e.filename, errno.errorcode[e.errno]]))]
print(json.dumps([walked, errors]))`,
        root,
      ], { prefix: UNPRIVILEGED });
      assertEquals(py.code, 0, py.stderr);
      const [walked, pyErrors] = JSON.parse(py.text);
      const asSet = (items: unknown[]) => new Set(items.map((i) => JSON.stringify(i)));
      assertEquals(asSet(got.dirs), asSet(walked));
      assertEquals(got.dirErrors, pyErrors);
    } finally {
      await Deno.chmod(`${tmp.path}/secret`, 0o755);
    }
  },
});

Deno.test("walk option followSymlinks: the generated tree's loop ends the walk with a loop error", async () => {
  const { root, ref } = await tree();
  const it = walk(root, { followSymlinks: true, canonicalize: false, threads: 4 });
  let n = 0;
  let sawLoopTarget = false;
  for await (const e of it) {
    if (++n > 2 * ref.size) throw new Error("the walk does not end");
    if (e.path.startsWith(`${root}/weird/loop/`)) sawLoopTarget = true;
  }
  assert(!sawLoopTarget, "weird/loop was entered");
  assertEquals(it.errors.map((e) => [e.path, e.op, e.message]), [[
    `${root}/weird/loop`,
    "loop",
    "Too many levels of symbolic links",
  ]]);
  // Off: the link is an entry, never entered, and nothing is reported.
  const off = await paths(root, {});
  assert(off.includes(`${root}/weird/loop`));
  assert(!off.some((p) => p.startsWith(`${root}/weird/loop/`)));
});

Deno.test("walk options batchBytes and batches: tiny batches give the same entries", async () => {
  const { root, ref } = await tree();
  const got: string[] = [];
  for await (const e of walk(root, { batchBytes: 4096, batches: 1, threads: 2 })) got.push(e.path);
  assertEquals(got.length, ref.size);
  assertEquals(setDiff(got, ref.keys()), "");
  await assertRejects(() => walk(root, { batchBytes: 10 }).next(), RangeError);
  // each tuning value out of range (or not a whole number) named with its range
  for (
    const [o, msg] of [
      [{ batchBytes: 100 }, "batchBytes must be an integer from 4096 to 67108864, got 100"],
      [{ batchBytes: NaN }, "batchBytes must be an integer from 4096 to 67108864, got NaN"],
      [{ batchBytes: 4096.5 }, "got 4096.5"],
      [{ batches: 0 }, "batches must be an integer from 1 to 1024, got 0"],
    ] as const
  ) {
    await assertRejects(() => walk(root, o).next(), RangeError, msg);
  }
});

Deno.test("walk option batchBytes: paths that are not UTF-8 count toward it too", async () => {
  // Chains of folders with long non-UTF-8 names (each path carried in the
  // batch's raw region as bytes), files at a few depths: ~1.5 KiB paths,
  // ~3.6 KiB, and paths longer than a whole 4096-byte batch.
  const root = `${scratchDir()}/rawbatch`;
  Deno.mkdirSync(root);
  const raw = (byte: number, i: number) =>
    concat(new Uint8Array(240).fill(byte), bytes(String(i).padStart(3, "0")));
  const names = Array.from({ length: 18 }, (_, i) => raw(0xff, i));
  const chain = mkdirChain(bytes(root), names);
  for (const [depth, files] of [[6, 120], [15, 40], [18, 10]]) {
    const dir = concat(bytes(root), ...names.slice(0, depth).flatMap((n) => [bytes("/"), n]));
    for (let k = 0; k < files; k++) writeFileRaw(join(dir, raw(0xfe, k)));
  }
  assert(chain.length > 4096 + 243);
  const ref = referenceReport(root);
  closeLibc();
  const batchBytes = 4096;
  const batches: { raw: number; nrec: number }[] = [];
  const got = new Map<string, { ino: number; size: number; isDir: boolean }>();
  await using job = await NativeJob.start(
    [[Opt.ROOT, root], [Opt.THREADS, 2], [Opt.BATCH_BYTES, batchBytes], [Opt.BATCHES, 1]],
    (o) => native().pw_walk_start(o),
  );
  for (
    let batch;
    (batch = await job.nextBatch((out) => {
      batches.push({ raw: Number(out[5]), nrec: Number(out[6]) });
      const into: Decoded[] = [];
      decodeBatch(out, into);
      return into;
    }));
  ) {
    for (const d of batch) {
      if (!("entry" in d)) throw new Error(`not an entry: ${JSON.stringify(d)}`);
      const e = d.entry;
      got.set(hex(e.pathBytes ?? bytes(e.path)), {
        ino: e.ino,
        size: e.size,
        isDir: e.isDirectory,
      });
    }
  }
  assertEquals((await job.finish()).errors, []);
  // Every entry, as the reference has it.
  const want = new Map(
    [...ref.rows.values()].map((
      r,
    ) => [hex(r.rawPath), { ino: r.ino, size: r.size, isDir: r.isDir }]),
  );
  assertEquals(setDiff(got.keys(), want.keys()), "");
  assertEquals(got, want);
  // No batch's raw region past batchBytes but one of a single record (a path
  // bigger than a batch goes through, alone).
  const over = batches.filter((b) => b.raw > batchBytes && b.nrec > 1);
  assertEquals(over, [], `batches: ${JSON.stringify(batches.slice(0, 40))}`);
  assert(batches.some((b) => b.raw > batchBytes && b.nrec === 1), "no oversized record seen");
  assert(batches.filter((b) => b.raw > 0).length > 30, `${batches.length} batches`);
});

Deno.test("walk options skip, match, exts: anything but an array (a bare RegExp) is refused, not ignored", async () => {
  const { root, ref } = await tree();
  for (
    const [o, msg] of [
      [{ skip: /x/ }, "skip must be an array of RegExps, e.g. [/x/], got /x/"],
      [{ match: /x/ }, "match must be an array of RegExps"],
      [{ skip: [/x/, "y"] }, 'got [/x/, "y"]'],
      [{ exts: "ts" }, 'exts must be an array of strings, e.g. ["ts"], got "ts"'],
    ] as const
  ) {
    // deno-lint-ignore no-explicit-any
    await assertRejects(() => walk(root, o as any).next(), TypeError, msg);
    if ("skip" in o) {
      // deno-lint-ignore no-explicit-any
      await assertRejects(() => walkDirs(root, o as any).next(), TypeError, msg);
    }
  }
  // the arrays themselves still work
  assertEquals((await paths(root, { skip: [] })).length, ref.size);
});

Deno.test("walk options of the wrong type (onError, maxDepth) are TypeErrors before anything is yielded", async () => {
  const { root } = await tree();
  for (
    const [o, msg] of [
      [{ onError: "log" }, 'onError must be a function, got "log" (a string)'],
      [{ onError: {} }, "onError must be a function, got [object Object] (an object)"],
      [{ maxDepth: "2" }, 'maxDepth must be a number, got "2" (a string)'],
      [{ maxDepth: 2n }, "maxDepth must be a number, got 2 (a bigint)"],
    ] as const
  ) {
    // the first next() rejects: no entry first, then a failure mid-walk
    // deno-lint-ignore no-explicit-any
    await assertRejects(() => walk(root, o as any).next(), TypeError, msg);
    // deno-lint-ignore no-explicit-any
    await assertRejects(() => walkDirs(root, o as any).next(), TypeError, msg);
  }
  // a number that is no limit is out of range, not of the wrong type
  await assertRejects(() => walk(root, { maxDepth: NaN }).next(), RangeError, "got NaN");
});

Deno.test("a NUL byte in a root or an exclude (walk, walkDirs, repair, chown, planShards): a RangeError naming it", async () => {
  const { root } = await tree();
  const nul = `${root}\0/x`;
  const said = (what: string, p: string) =>
    `pwalk: ${what} contains a NUL byte, which no path can hold: ${JSON.stringify(p)}`;
  // a string, and a file: URL whose %00 decodes to one (the path it names shown)
  for (const r of [nul, new URL(`file://${root}%00/x`)]) {
    await assertRejects(() => walk(r).next(), RangeError, said("the root folder", nul));
    await assertRejects(() => walkDirs(r).next(), RangeError, said("the root folder", nul));
  }
  const ex = `${root}/a\0`;
  await assertRejects(() => walk(root, { exclude: [ex] }).next(), RangeError, said("exclude", ex));
  await assertRejects(
    () => walkDirs(root, { exclude: [ex] }).next(),
    RangeError,
    said("exclude", ex),
  );
  await assertRejects(
    () => repair(nul, { journal: false }),
    RangeError,
    said("the root folder", nul),
  );
  await assertRejects(
    () => repair(root, { journal: false, exclude: [ex] }),
    RangeError,
    said("exclude", ex),
  );
  await assertRejects(
    () => chown(nul, { from: 1, to: { uid: 2 } }),
    RangeError,
    said("the root folder", nul),
  );
  await assertRejects(
    () => planShards(nul, { shards: 2 }),
    RangeError,
    said("the root folder", nul),
  );
  await assertRejects(
    () => planShards(root, { shards: 2, exclude: [ex] }),
    RangeError,
    said("exclude", ex),
  );
});

Deno.test("boolean options of walk, walkDirs and report: a value that is not true or false is a TypeError, not taken as on (audit)", async () => {
  await using tmp = await tempDir("pwalk-bool-");
  const root = `${tmp.path}/t`;
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  Deno.writeTextFileSync(`${root}/d/f`, "x");
  Deno.symlinkSync("d", `${root}/l`);
  const outDir = `${tmp.path}/out`;
  Deno.mkdirSync(outDir);
  const output = `${outDir}/r.csv`;
  const bad = (name: string, v: unknown, shown: string) =>
    [{ [name]: v }, `pwalk: ${name} must be true or false, got ${shown}`] as const;
  const both = [
    bad("followSymlinks", "false", '"false" (a string)'),
    bad("stat", "false", '"false" (a string)'),
    bad("stat", 0, "0 (a number)"),
    bad("noSnap", "yes", '"yes" (a string)'),
    bad("oneFileSystem", 1, "1 (a number)"),
    bad("canonicalize", "true", '"true" (a string)'),
  ];
  for (const [o, msg] of both) {
    // deno-lint-ignore no-explicit-any
    const e = await assertRejects(() => walk(root, o as any).next(), TypeError);
    assertEquals(e.message, msg);
    // deno-lint-ignore no-explicit-any
    const d = await assertRejects(() => walkDirs(root, o as any).next(), TypeError);
    assertEquals(d.message, msg);
  }
  for (
    const [o, msg] of [
      bad("includeFiles", "false", '"false" (a string)'),
      bad("includeDirs", 0, "0 (a number)"),
      bad("includeSymlinks", "no", '"no" (a string)'),
    ]
  ) {
    // deno-lint-ignore no-explicit-any
    const e = await assertRejects(() => walk(root, o as any).next(), TypeError);
    assertEquals(e.message, msg);
  }
  {
    const [o, msg] = bad("topDown", "false", '"false" (a string)');
    // deno-lint-ignore no-explicit-any
    const e = await assertRejects(() => walkDirs(root, o as any).next(), TypeError);
    assertEquals(e.message, msg);
  }
  for (
    const [o, msg] of [
      bad("noSnap", "yes", '"yes" (a string)'),
      bad("oneFileSystem", 1, "1 (a number)"),
      bad("header", "false", '"false" (a string)'),
      bad("printErrors", 1, "1 (a number)"),
      bad("clearLineBeforeErrors", "x", '"x" (a string)'),
    ]
  ) {
    // deno-lint-ignore no-explicit-any
    const e = await assertRejects(() => report(root, { output, ...o } as any), TypeError);
    assertEquals(e.message, msg);
  }
  // a frontier of the wrong form: pwalk's TypeError, not an internal one
  const fmsg = "pwalk: frontier must be an array of { path, dev, ino, parentIno, depth }";
  for (const f of ["x", [{ path: root }], [null], 5]) {
    // deno-lint-ignore no-explicit-any
    const e = await assertRejects(() => walk(root, { frontier: f } as any).next(), TypeError);
    assert(e.message.startsWith(fmsg), e.message);
    // deno-lint-ignore no-explicit-any
    const r = await assertRejects(() => report(root, { output, frontier: f } as any), TypeError);
    assert(r.message.startsWith(fmsg), r.message);
  }
  // level of the wrong type: a TypeError showing it as given
  const l = await assertRejects(
    // deno-lint-ignore no-explicit-any
    () => report(root, { output: `${output}.zst`, level: "3" } as any),
    TypeError,
  );
  assertEquals(l.message, 'pwalk: level must be an integer, got "3" (a string)');
  // none of them wrote a report
  assertEquals([...Deno.readDirSync(outDir)], []);
  // true, false and undefined are still taken
  const n = async (o: WalkOptions) => (await paths(root, o)).length;
  assertEquals(await n({ followSymlinks: false, stat: true, noSnap: false }), await n({}));
  assert((await report(root, { output, header: false, printErrors: false })).entries > 0);
});

Deno.test("walk and walkDirs: an option that is null is not given (its default), as undefined", async () => {
  const { root, ref } = await tree();
  // every option of walk() as null: the whole tree, as with none
  const nulls = Object.fromEntries(
    [
      "maxDepth",
      "includeFiles",
      "includeDirs",
      "includeSymlinks",
      "exts",
      "match",
      "skip",
      "followSymlinks",
      "canonicalize",
      "onError",
      "stat",
      "batchBytes",
      "batches",
      "threads",
      "noSnap",
      "exclude",
      "oneFileSystem",
      "signal",
    ].map((k) => [k, null]),
  );
  assertEquals(setDiff(await paths(root, nulls), ref.keys()), "");
  // walkDirs: walk()'s filters as null are not given, so not refused
  const folders = refPaths(ref, (r) => r.kind === "dir");
  const dirs = async (o: Record<string, unknown> | null) => {
    const out: string[] = [];
    // deno-lint-ignore no-explicit-any
    for await (const d of walkDirs(root, o as any)) out.push(d.path);
    return out;
  };
  assertEquals(setDiff(await dirs({ ...nulls, topDown: null }), folders), "");
  assertEquals(setDiff(await dirs({ includeDirs: null }), folders), "");
  // no options object at all, as none given
  assertEquals(setDiff(await dirs(null), folders), "");
  // deno-lint-ignore no-explicit-any
  assertEquals(setDiff(await paths(root, null as any), ref.keys()), "");
});

Deno.test("walk option match: [] matches nothing, as in @std/fs; walkDirs refuses walk's filters", async () => {
  const { root } = await tree();
  assertEquals(await paths(root, { match: [] }), []);
  for (const o of [{ exts: ["ts"] }, { match: [/x/] }, { includeFiles: false }]) {
    await assertRejects(
      async () => {
        // deno-lint-ignore no-explicit-any
        for await (const _ of walkDirs(root, o as any)) { /* never */ }
      },
      RangeError,
      "walkDirs lists every name",
    );
  }
});

Deno.test("walk, walkDirs: report()'s options onProgress, progressIntervalMs, pwalkDepth, maxErrors are refused, and names neither has", async () => {
  const { root } = await tree();
  const options = [
    { onProgress: () => {} },
    { progressIntervalMs: 10 },
    { pwalkDepth: 1 },
    { maxErrors: 5 },
  ];
  for (const o of options) {
    const name = Object.keys(o)[0];
    for (const [who, start] of [["walk", walk], ["walkDirs", walkDirs]] as const) {
      await assertRejects(
        async () => {
          // deno-lint-ignore no-explicit-any
          for await (const _ of start(root, o as any)) { /* never */ }
        },
        TypeError,
        `pwalk: ${who}: ${name}: report()'s and repair()'s options`,
      );
    }
  }
  // a name neither has: os.walk's spelling of topDown, a typo of maxDepth
  for (
    const [who, start, name, near] of [
      ["walk", walk, "maxDepht", "maxDepth"],
      ["walkDirs", walkDirs, "topdown", "topDown"],
    ] as const
  ) {
    await assertRejects(
      async () => {
        // deno-lint-ignore no-explicit-any
        for await (const _ of (start as any)(root, { [name]: false })) { /* never */ }
      },
      TypeError,
      `pwalk: ${who}: unknown option "${name}" (did you mean "${near}"?)`,
    );
  }
  await assertRejects(
    async () => {
      // deno-lint-ignore no-explicit-any
      for await (const _ of walkDirs(root, { followlinks: true } as any)) { /* never */ }
    },
    TypeError,
    `pwalk: walkDirs: unknown option "followlinks"`,
  );
  // undefined asks for nothing, as for every option
  const all = (await paths(root, {})).sort();
  // deno-lint-ignore no-explicit-any
  const some = await paths(root, { onProgress: undefined, maxErrors: undefined } as any);
  assertEquals(some.sort(), all);
});

/**
 * A walk given onProgress past the types, left after its first entry
 * without return(): the process ends, where a progress timer kept it alive.
 */
Deno.test("walk given onProgress past the types, dropped after one entry: the process ends", async () => {
  const { root } = await tree();
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code = `import { walk } from ${JSON.stringify(mod)};
const it = walk(${JSON.stringify(root)}, { onProgress: () => console.log("tick") });
try { await it.next(); } catch (e) { console.log(e.constructor.name); }
console.log("dropped");`;
  await using tmp = await tempDir("pwalk-walk-progress-");
  await Deno.writeTextFile(`${tmp.path}/drop.ts`, code);
  // (the guard only ends a process that stayed: it is no timing check)
  const r = await deno(["run", "-A", "--no-check", `${tmp.path}/drop.ts`], { timeoutMs: 60_000 });
  assertEquals([r.text, r.timedOut, r.code], ["TypeError\ndropped\n", false, 0], r.stderr);
});

/**
 * @std/fs walk's paths with followSymlinks and canonicalize (its default),
 * from Deno.readDir, Deno.realPath and Deno.stat as its code does: a link
 * is replaced by its real path (a link to nothing is yielded as itself),
 * a folder is walked under the path it is yielded as; `skip` drops a path
 * and what is below it, `match` only what is yielded. A folder of its own
 * walked path (by device and inode) is yielded, not entered (where @std/fs
 * goes round).
 */
function stdFollowed(root: string, skip?: RegExp, match?: RegExp): string[] {
  const out: string[] = [];
  const key = (p: string) => {
    const st = Deno.statSync(p);
    return `${st.dev}:${st.ino}`;
  };
  const keep = (p: string) => !skip?.test(p);
  const put = (p: string) => {
    if (!match || match.test(p)) out.push(p);
  };
  const visit = (dir: string, above: string[]) => {
    for (const e of Deno.readDirSync(dir)) {
      let path = `${dir}/${e.name}`;
      if (e.isSymlink) {
        try {
          path = Deno.realPathSync(path);
        } catch {
          put(path);
          continue;
        }
      }
      if (!keep(path)) continue;
      put(path);
      if (Deno.statSync(path).isDirectory && !above.includes(key(path))) {
        visit(path, [...above, key(path)]);
      }
    }
  };
  if (keep(root)) {
    put(root);
    visit(root, [key(root)]);
  }
  return out.sort();
}

Deno.test("walk option canonicalize: with followSymlinks, a followed link and all below it under its real path (@std/fs's default); false keeps the link's path", async () => {
  await using tmp = await tempDir("pwalk-canon-");
  const t = tmp.path;
  for (const d of ["real/sub", "out/inner/deep", "other/x"]) {
    await Deno.mkdir(`${t}/${d}`, { recursive: true });
  }
  for (
    const f of ["real/f.txt", "real/sub/g.txt", "out/o.txt", "out/inner/deep/h.txt", "other/x/y"]
  ) {
    await Deno.writeTextFile(`${t}/${f}`, "x");
  }
  await Deno.symlink("real", `${t}/root`); // ROOT itself a link: its paths stay "root/..."
  for (
    const [target, name] of [
      ["../out", "real/toout"], // a folder outside
      ["../../other/x/../x", "real/sub/toother"], // ".." in the target
      ["toout", "real/chain"], // a link to a link to a folder
      ["../out/o.txt", "real/tofile"], // a link to a file
      ["..", "out/inner/up"], // in a followed folder: back to out, a cycle
      ["nowhere", "real/dangling"],
    ]
  ) await Deno.symlink(target, `${t}/${name}`);
  const root = `${t}/root`;
  const all = async (o: WalkOptions) => {
    const it = walk(root, { followSymlinks: true, ...o });
    const out: string[] = [];
    const viaLink = new Map<string, boolean>();
    for await (const e of it) {
      out.push(e.path);
      if (e.viaLink) viaLink.set(e.path, true);
      assertEquals(e.name, e.path.slice(e.path.lastIndexOf("/") + 1), e.path);
    }
    return { paths: out.sort(), errors: it.errors.map((e) => [e.path, e.op]).sort(), viaLink };
  };
  const real = Deno.realPathSync(`${t}/out`);
  // the premise: real paths differ from the links' and the tree's
  assert(!real.startsWith(root));
  const canon = await all({});
  assertEquals(canon.paths, stdFollowed(root));
  assertEquals(canon.paths, (await all({ canonicalize: true })).paths);
  assert(canon.paths.includes(`${real}/inner/deep/h.txt`));
  assert(canon.viaLink.get(real) && canon.viaLink.get(Deno.realPathSync(`${t}/out/o.txt`)));
  // the cycle: yielded under its real path (out), reported there, not
  // entered, once for each path out is walked under (toout, chain)
  assertEquals(canon.errors, [[real, "loop"], [real, "loop"]]);
  // skip and match test the real paths, as @std/fs's do
  for (const [skip, match] of [[/\/inner$/, undefined], [undefined, /\/out\//]] as const) {
    const got = await all({ skip: skip ? [skip] : undefined, match: match ? [match] : undefined });
    assertEquals(got.paths, stdFollowed(root, skip, match), `skip ${skip} match ${match}`);
  }
  // exclude names a folder by the path it is yielded under: its real path
  const excluded = await all({ exclude: [`${real}/inner`] });
  assertEquals(excluded.paths, stdFollowed(root, new RegExp(`^${RegExp.escape(real)}/inner$`)));
  assert(excluded.paths.length < canon.paths.length);
  // canonicalize: false: the links' paths (each path under ROOT, as readDir joins them)
  const kept = await all({ canonicalize: false });
  assert(kept.paths.every((p) => p.startsWith(root)), kept.paths.join("\n"));
  assert(kept.paths.includes(`${root}/chain/inner/deep/h.txt`));
  assertEquals(
    kept.errors,
    [[`${root}/toout/inner/up`, "loop"], [`${root}/chain/inner/up`, "loop"]].sort(),
  );
  assertEquals(kept.paths.length, canon.paths.length);
  // without followSymlinks it changes nothing
  const plain = async (o: WalkOptions) => {
    const out: string[] = [];
    for await (const e of walk(root, o)) out.push(e.path);
    return out.sort();
  };
  assertEquals(await plain({ canonicalize: true }), await plain({}));
  assertEquals(await plain({ canonicalize: false }), await plain({}));
  // walkDirs keeps os.walk's link paths: true is refused
  await assertRejects(async () => {
    for await (const _ of walkDirs(root, { followSymlinks: true, canonicalize: true })) { /* */ }
  }, RangeError);
});

Deno.test("walk option canonicalize: an excluded folder, spelled any way, stays out when a followed link leads to it (walked under its real path)", async () => {
  await using tmp = await tempDir("pwalk-canon-exclude-");
  const t = tmp.path;
  await Deno.mkdir(`${t}/real/big/sub`, { recursive: true });
  await Deno.mkdir(`${t}/real/keep`);
  for (const f of ["real/big/f", "real/big/sub/g", "real/keep/k"]) {
    await Deno.writeTextFile(`${t}/${f}`, "x");
  }
  await Deno.symlink("big", `${t}/real/alias`); // big again, under its real path
  await Deno.symlink("real", `${t}/root`); // a linked ROOT: its own paths stay "root/..."
  const root = `${t}/root`, big = Deno.realPathSync(`${t}/real/big`);
  const paths = async (exclude: string[]) => {
    const out: string[] = [];
    for await (const e of walk(root, { followSymlinks: true, exclude })) out.push(e.path);
    return out.sort();
  };
  const cwd = Deno.cwd();
  Deno.chdir(t); // (relative spellings are looked up from the working folder)
  try {
    // the premise: big is reached twice, by ROOT's path and through the link by its real path
    const all = await paths([]);
    assertEquals(all, stdFollowed(root));
    assert(all.includes(`${root}/big/f`) && all.includes(`${big}/f`), all.join("\n"));
    // every spelling of big: left out both ways, as the reference skipping both paths
    const bothWays = stdFollowed(
      root,
      new RegExp(`^(${RegExp.escape(`${root}/big`)}|${RegExp.escape(big)})$`),
    );
    assert(!bothWays.some((p) => p.includes("/big")), bothWays.join("\n"));
    for (const ex of [`${root}/big`, `${big}/`, "root/big", "./real/big", "real//big/.", big]) {
      assertEquals(await paths([ex]), bothWays, ex);
    }
    // the link named: the folder it leads to, where it leads to it (by its real path)
    const viaLink = stdFollowed(root, new RegExp(`^${RegExp.escape(big)}$`));
    assert(viaLink.includes(`${root}/big/f`), viaLink.join("\n"));
    for (const ex of [`${t}/real/alias/`, "root/alias", "./real/alias"]) {
      assertEquals(await paths([ex]), viaLink, ex);
    }
    // a ROOT that is its real path: big reached directly and through the
    // link has one path; the link named keeps only the way through it out
    // (each path once: the reference's copies through the link dropped),
    // never the folder reached directly
    const realRoot = Deno.realPathSync(`${t}/real`);
    const both = stdFollowed(realRoot);
    const once = [...new Set(both)].sort();
    assert(both.length > once.length, "the premise: big is reached twice by one path");
    for (const ex of [`${realRoot}/alias`, "real/alias/", "./root/alias"]) {
      const got: string[] = [];
      for await (const e of walk(realRoot, { followSymlinks: true, exclude: [ex] })) {
        got.push(e.path);
      }
      assertEquals(got.sort(), once.filter((p) => p !== `${realRoot}/alias`), ex);
    }
    // a link outside the tree to big names no path in it: nothing left out
    await Deno.symlink("real/big", `${t}/outside`);
    assertEquals(await paths([`${t}/outside`]), all);
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("walk option canonicalize: a link whose real path cannot be had (past PATH_MAX) is yielded as the link, with a 'stat' error", async () => {
  await using tmp = await tempDir("pwalk-canon-long-");
  // 20 folders of 244-byte names (a path past 4,096 bytes), then a link to a folder
  await python(
    `import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(20):
    n = "d%02d" % i + "x" * 241
    os.mkdir(n, dir_fd=fd)
    sub = os.open(n, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = sub
os.mkdir("target", dir_fd=fd)
os.symlink("target", "link", dir_fd=fd)`,
    tmp.path,
  );
  const kinds = async (o: WalkOptions) => {
    const it = walk(tmp.path, { followSymlinks: true, ...o });
    let link: string[] = [];
    for await (const e of it) {
      if (e.name === "link") link = [e.path, e.isSymlink ? "symlink" : e.isDirectory ? "dir" : "?"];
    }
    return { link, errors: it.errors.map((e) => [e.path, e.op, e.code]) };
  };
  const kept = await kinds({ canonicalize: false });
  assertEquals(kept.errors, []);
  assertEquals(kept.link[1], "dir");
  const linkPath = kept.link[0];
  assert(new TextEncoder().encode(linkPath).length > 4096);
  // the premise: @std/fs's realPath cannot have it either
  const code = await Deno.realPath(linkPath).then(() => "", (e) => e.code);
  assertEquals(code, "ENAMETOOLONG");
  assertEquals(await kinds({}), {
    link: [linkPath, "symlink"],
    errors: [[linkPath, "stat", code]],
  });
});

Deno.test("walk option canonicalize: a link deeper than PATH_MAX to a short real path is followed under that path", async () => {
  await using tmp = await tempDir("pwalk-canon-deep-");
  // short/a holds a file and a folder; 20 folders of 244-byte names (past
  // 4,096 bytes) end in links to it, absolute and relative, to a file, and
  // to a folder named as the kernel marks a removed one ("x (deleted)")
  await python(
    `import os, sys
top = sys.argv[1]
os.makedirs(top + "/short/a/sub")
os.makedirs(top + "/short/t (deleted)/in")
open(top + "/short/a/f", "w").close()
fd = os.open(top, os.O_RDONLY)
for i in range(20):
    n = "d%02d" % i + "x" * 241
    os.mkdir(n, dir_fd=fd)
    sub = os.open(n, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = sub
os.symlink(top + "/short/a", "abs", dir_fd=fd)
os.symlink("../" * 20 + "short/a", "rel", dir_fd=fd)
os.symlink(top + "/short/a/f", "file", dir_fd=fd)
os.symlink(top + "/short/t (deleted)", "del", dir_fd=fd)`,
    tmp.path,
  );
  const real = await Deno.realPath(`${tmp.path}/short/a`);
  const found = new Map<string, string[]>();
  const it = walk(tmp.path, { followSymlinks: true });
  for await (const e of it) {
    const list = found.get(e.name) ?? [];
    list.push(`${e.path} ${e.isSymlink ? "symlink" : e.isDirectory ? "dir" : "file"}`);
    found.set(e.name, list);
  }
  assertEquals(it.errors, []);
  // the links: yielded as what they lead to, under its real path (as
  // Deno.realPath gives it); their folder walked under it
  assertEquals(found.get("a")?.sort(), [`${real} dir`, `${real} dir`, `${real} dir`]);
  assertEquals(found.get("sub"), [`${real}/sub dir`, `${real}/sub dir`, `${real}/sub dir`]);
  // short/a/f in the three walks of short/a, and the link "file" (named f)
  assertEquals(found.get("f"), Array(4).fill(`${real}/f file`));
  const t = await Deno.realPath(`${tmp.path}/short/t (deleted)`);
  assertEquals(found.get("t (deleted)"), [`${t} dir`, `${t} dir`]);
  assertEquals(found.get("in"), [`${t}/in dir`, `${t}/in dir`]);
  for (const name of ["abs", "rel", "file", "del"]) assertEquals(found.get(name), undefined);
});

Deno.test("walk and walkDirs take a file: URL as @std/fs walk does", async () => {
  const root = `${scratchDir()}/url- dir%`;
  await Deno.mkdir(`${root}/a b`, { recursive: true });
  await Deno.writeTextFile(`${root}/a b/f#1`, "x");
  const url = new URL(`file://${root.split("/").map(encodeURIComponent).join("/")}`);
  assertEquals(await paths(url, {}), await paths(root, {}));
  const dirs: string[] = [];
  for await (const d of walkDirs(url)) dirs.push(d.path);
  assertEquals(dirs.sort(), [root, `${root}/a b`]);
  // refused at the first next(), as @std/fs walk (an async generator) meets a bad root
  await rejectsAtNext(() => walk(new URL("https://example.com/x")), TypeError, "file: URL");
  await rejectsAtNext(() => walkDirs(new URL("file://otherhost/etc")), TypeError, "of this host");
  await rejectsAtNext(() => walk(new URL("file:///x%FF")), URIError);
  await rejectsAtNext(() => walkDirs(new URL("file:///x%FF")), URIError);
  // a "%" left unencoded in the URL is itself, as @std/path's fromFileUrl and Deno.readDir read it
  const raw = new URL(`file://${root.split("/").map((p) => p.replaceAll(" ", "%20")).join("/")}`);
  assert(raw.pathname.endsWith("dir%"), raw.pathname);
  assertEquals([...Deno.readDirSync(raw)].map((e) => e.name), ["a b"]);
  assertEquals(await paths(raw, {}), await paths(root, {}));
});

Deno.test('walk roots as @std/fs walk takes them: "" refused, / named /; a long root\'s error keeps its reason', async () => {
  // "" is no folder (Deno.readDir("") and os.walk("") find none), not ".":
  // refused at the first next(), where @std/fs walk yields "." and then
  // throws NotFound from its readDir("")
  await rejectsAtNext(() => walk(""), TypeError, "non-empty string");
  await rejectsAtNext(() => walkDirs(""), TypeError, "non-empty string");
  const rootOnly: WalkEntry[] = [];
  for await (const e of walk("/", { maxDepth: 0 })) rootOnly.push(e);
  assertEquals(rootOnly.map((e) => [e.path, e.name]), [["/", "/"]]);
  // a missing root of 530 bytes: the message's middle is cut, its reason kept
  const long = `${scratchDir()}/${"missing-folder/".repeat(35)}`;
  const err = await assertRejects(async () => {
    for await (const _ of walk(long)) { /* nothing */ }
  }, Deno.errors.NotFound);
  assert(err.message.endsWith(": No such file or directory"), err.message);
  assert(err.message.includes(`${scratchDir()}/missing-folder/`), err.message);
});

/**
 * `make()` returns its iterator without throwing (a try around the loop
 * alone sees the error), and the first next() rejects with `cls`.
 */
async function rejectsAtNext(
  make: () => AsyncIterator<unknown>,
  // deno-lint-ignore no-explicit-any
  cls: new (...args: any[]) => Error,
  msg?: string,
): Promise<void> {
  const it = make();
  await assertRejects(() => it.next(), cls, msg);
  assertEquals(await it.next(), { value: undefined, done: true });
}

Deno.test("a frozen RegExp in skip and match works, as with @std/fs's path.match (also /g: from the start each time)", async () => {
  await using tmp = await tempDir("pwalk-frozen-");
  const root = tmp.path;
  for (const d of ["node_modules/x", "src/node_modules", "src/lib"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  for (const f of ["a.ts", "node_modules/x/b.ts", "src/c.ts", "src/lib/d.js"]) {
    Deno.writeTextFileSync(`${root}/${f}`, "");
  }
  const all: string[] = [];
  for await (const e of walk(root)) all.push(e.path);
  const walked = async (o: WalkOptions) => {
    const out: string[] = [];
    for await (const e of walk(root, o)) out.push(e.path);
    return out.sort();
  };
  const dirs = async (skip: RegExp[]) => {
    const out: string[] = [];
    for await (const d of walkDirs(root, { skip })) out.push(d.path);
    return out.sort();
  };
  for (const src of [/node_modules/, /node_modules/g, /\.ts$/y, /\.ts$/gy]) {
    // the reference: String.prototype.match on a RegExp of its own (frozen,
    // a /g one throws there setting lastIndex)
    const hit = (p: string) => !!p.match(new RegExp(src.source, src.flags));
    const frozen = Object.freeze(new RegExp(src.source, src.flags));
    for (let run = 0; run < 2; run++) {
      assertEquals(await walked({ skip: [frozen] }), all.filter((p) => !hit(p)).sort(), `${src}`);
      assertEquals(await walked({ match: [frozen] }), all.filter(hit).sort(), `${src}`);
      const want: string[] = [];
      for await (const d of walkDirs(root, { skip: [new RegExp(src.source, src.flags)] })) {
        want.push(d.path);
      }
      assertEquals(await dirs([frozen]), want.sort(), `${src}`);
    }
    assertEquals(frozen.lastIndex, 0);
  }
  // a sticky RegExp matches at its start only: not a .ts path but for the
  // root's own text there (none): the same answer as without the flag
  assertEquals(
    await walked({ match: [Object.freeze(/.*\.ts$/y)] }),
    all.filter((p) => p.endsWith(".ts")).sort(),
  );
});

Deno.test("NativeJob: elapsedMs counts from before the start call, in which the threads start and already walk", async () => {
  // pw_*_start starts its threads one after another while the first walk
  // (--threads 1024: most of a short run): that time is the run's. The
  // start is made to take a while here (as many threads' does), and the
  // elapsed time told at the end must cover at least the span from entering
  // the start to just before finish() (no threshold: an order of clock
  // readings, which holds however long each part takes).
  await using tmp = await tempDir();
  for (let i = 0; i < 20; i++) await Deno.writeTextFile(`${tmp.path}/f${i}`, "x");
  let entered = NaN;
  await using job = await NativeJob.start([[Opt.ROOT, tmp.path], [Opt.THREADS, 2]], (o) => {
    entered = performance.now();
    const j = native().pw_walk_start(o);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // a slow start
    return j;
  });
  let n = 0;
  for (let b; (b = await job.nextBatch((out) => Number(out[6]))) !== undefined;) n += b;
  assertEquals(n, 21); // the root and its 20 files
  const before = performance.now();
  const { elapsedMs } = await job.finish();
  assert(elapsedMs >= before - entered, `elapsed ${elapsedMs} ms < ${before - entered} ms`);
});
