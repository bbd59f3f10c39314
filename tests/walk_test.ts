/**
 * walk() and walkDirs() (issue 3) against an independent reference computed
 * with Deno.readDirSync/Deno.lstatSync on a generated hostile tree; errors
 * that never end the walk; long paths, deep trees, non-UTF-8 names and an
 * unreadable folder walked without root's capabilities.
 *
 * Options are in walk_options_test.ts; early exit, cancellation and memory
 * in walk_lifecycle_test.ts.
 */
import * as posix from "node:path/posix";
import { assert, assertEquals, assertRejects, assertStrictEquals } from "@std/assert";
import {
  nativeVersion,
  walk,
  type WalkDir,
  walkDirs,
  type WalkEntry,
  type WalkOptions,
} from "../mod.ts";
import { deno, helperScript, REPO, runExample, UNPRIVILEGED, walkInChild } from "./helpers/run.ts";
import { shimTest, VANISH_C } from "./helpers/shim.ts";
import { SETPRIV, testNeeding } from "./helpers/system.ts";
import { must } from "./helpers/compare.ts";
import { closeFd, openFile } from "./helpers/libc.ts";
import { canMountTmpfs, mountTmpfs, scratchDir, tempDir } from "./helpers/temp.ts";
import { python } from "./helpers/tree.ts";
import {
  hex,
  type RefEntry,
  reference,
  setDiff,
  sorted,
  threadsLeft,
  VanishOnAsk,
  weirdTree,
} from "./helpers/walk_tree.ts";

// Open the library before the first test: a DynamicLibrary is a resource
// and would trip the resource sanitizer of whichever test loaded it.
nativeVersion();

const enc = new TextEncoder();
const lossy = new TextDecoder();

/** Every fact of `e` that differs from the reference entry `r`. */
function compare(e: WalkEntry, r: RefEntry): string[] {
  const bad: string[] = [];
  const eq = (what: string, a: unknown, b: unknown) => {
    if (a !== b) bad.push(`${e.path}: ${what} ${a} != ${b}`);
  };
  eq("name", e.name, r.name);
  eq("isFile", e.isFile, r.kind === "file");
  eq("isDirectory", e.isDirectory, r.kind === "dir");
  eq("isSymlink", e.isSymlink, r.kind === "symlink");
  eq("size", e.size, r.size);
  eq("mode", e.mode, r.mode);
  eq("uid", e.uid, r.uid);
  eq("gid", e.gid, r.gid);
  eq("ino", e.ino, r.ino);
  eq("dev", e.dev, r.dev);
  eq("nlink", e.nlink, r.nlink);
  eq("blocks", e.blocks, r.blocks);
  eq("depth", e.depth, r.depth);
  eq("parentIno", e.parentIno, r.parentIno);
  eq("viaLink", e.viaLink, false);
  // Deno's Date has whole milliseconds (truncated); pwalk keeps the fraction
  // (a double, so x.9999999 may round up to the next millisecond).
  if (!(Math.abs(e.mtime - r.mtime) <= 1)) bad.push(`${e.path}: mtime ${e.mtime} != ${r.mtime}`);
  if (!(Math.abs(e.atime - r.atime) <= 1)) bad.push(`${e.path}: atime ${e.atime} != ${r.atime}`);
  // Deno.lstat's ctime has whole seconds; python's st_ctime_ns gives the rest.
  eq("ctime (s)", Math.floor(e.ctime / 1000) * 1000, r.ctime);
  if (!(Math.abs(e.ctime - Number(r.ctimeNs) / 1e6) <= 0.001)) {
    bad.push(`${e.path}: ctime ${e.ctime} != ${Number(r.ctimeNs) / 1e6} (ns/1e6)`);
  }
  eq("fcount", e.fcount, r.kind === "dir" ? r.fcount : -1);
  eq("dirsum", e.dirsum, r.kind === "dir" ? r.dirsum : 0);
  if (r.rawPath) {
    if (!e.pathBytes || hex(e.pathBytes) !== hex(r.rawPath)) {
      bad.push(`${e.path}: pathBytes ${e.pathBytes && hex(e.pathBytes)} != ${hex(r.rawPath)}`);
    }
  } else {
    eq("pathBytes", e.pathBytes, undefined);
  }
  return bad;
}

function noProblems(problems: string[]): void {
  assertEquals(problems.length, 0, problems.slice(0, 20).join("\n"));
}

Deno.test("walk: every entry of a generated tree equals the readDir/lstat reference", async () => {
  const root = await weirdTree();
  const ref = await reference(root);
  const it = walk(root);
  const seen: string[] = [];
  const problems: string[] = [];
  for await (const e of it) {
    seen.push(e.path);
    const r = ref.get(e.path);
    if (r) problems.push(...compare(e, r));
  }
  assertEquals(seen.length, new Set(seen).size, "an entry was yielded twice");
  assertEquals(setDiff(seen, ref.keys()), "");
  noProblems(problems);
  assertEquals(it.errors, []);
  // The premises the hostile tree is meant to provide.
  assert(ref.size > 21_000, `only ${ref.size} entries`);
  const kinds = new Set([...ref.values()].map((r) => r.kind));
  assertEquals(sorted(kinds), ["dir", "file", "other", "symlink"]);
  assert([...ref.values()].some((r) => r.rawPath), "no non-UTF-8 name in the tree");
  assert([...ref.values()].some((r) => r.nlink === 2 && r.kind === "file"), "no hard link");
  assert([...ref.keys()].some((p) => enc.encode(p).length > 6000), "no path over 6,000 bytes");
});

Deno.test("walkDirs: one item per folder, with readDir's subfolder and file names", async () => {
  const root = await weirdTree();
  const ref = await reference(root);
  const refDirs = [...ref.values()].filter((r) => r.kind === "dir");
  const it = walkDirs(root, { threads: 3 });
  const got = new Map<string, WalkDir>();
  const problems: string[] = [];
  for await (const d of it) {
    assert(!got.has(d.path), `${d.path} yielded twice`);
    got.set(d.path, d);
    const r = ref.get(d.path);
    if (!r) continue;
    assertStrictEquals(d.entry.path, d.path);
    problems.push(...compare(d.entry, r));
    if (sorted(d.dirs).join("\0") !== sorted(r.dirs).join("\0")) {
      problems.push(`${d.path}: dirs ${sorted(d.dirs)} != ${sorted(r.dirs)}`);
    }
    if (sorted(d.files).join("\0") !== sorted(r.files).join("\0")) {
      problems.push(`${d.path}: files ${sorted(d.files)} != ${sorted(r.files)}`);
    }
  }
  assertEquals(setDiff(got.keys(), refDirs.map((r) => r.path)), "");
  noProblems(problems);
  assertEquals(it.errors, []);
  // A dangling link, the FIFO and the non-UTF-8 file are "files"; a link
  // to a folder is among the folders (os.walk's rule), not entered.
  const weird = got.get(`${root}/weird`)!;
  for (const n of ["dangling", "fifo", "latin1-\uFFFD\uFFFD.bin"]) {
    assert(weird.files.includes(n), `${n} not among weird's files`);
  }
  assertEquals(sorted(weird.dirs), ["deep", "locked", "loop"]);
  assert(!got.has(`${root}/weird/loop`), "a link to a folder was entered");
});

Deno.test("walk: a root that cannot be walked throws, as @std/fs walk's Deno.stat of it does", async () => {
  const missing = `${scratchDir()}/no/such/folder`;
  const err = await assertRejects(async () => {
    for await (const _ of walk(missing)) { /* nothing */ }
  }, Deno.errors.NotFound);
  assertEquals((err as { code?: string }).code, "ENOENT");
  // A file as root is not a folder to walk.
  const file = `${scratchDir()}/a-file`;
  Deno.writeTextFileSync(file, "x");
  await assertRejects(async () => {
    for await (const _ of walk(file)) { /* nothing */ }
  }, Deno.errors.NotADirectory);
  // A link to itself: the class Deno.stat throws for it.
  const loop = `${scratchDir()}/self-loop`;
  Deno.symlinkSync("self-loop", loop);
  const cls = (() => {
    try {
      Deno.statSync(loop);
    } catch (e) {
      return (e as Error).constructor as new () => Error;
    }
    throw new Error("Deno.stat followed a self-loop");
  })();
  await assertRejects(async () => {
    for await (const _ of walk(loop)) { /* nothing */ }
  }, cls);
  // walkDirs reports it as an error instead (tests/walk_dirs_test.ts).
  const it = walkDirs(missing);
  for await (const _ of it) throw new Error("walkDirs yielded a missing root");
  assertEquals(it.errors.map((e) => [e.path, e.op]), [[missing, "open"]]);
});

Deno.test("walk: maxDepth below 0 yields nothing, a fraction counts as the whole number below", async () => {
  const root = `${scratchDir()}/depths`;
  Deno.mkdirSync(`${root}/a/b/c`, { recursive: true });
  Deno.writeTextFileSync(`${root}/a/b/f`, "x");
  const paths = async (o: WalkOptions) => {
    const out: string[] = [];
    for await (const e of walk(root, o)) out.push(e.path);
    return out.sort();
  };
  const dirs = async (o: WalkOptions) => {
    const out: string[] = [];
    for await (const d of walkDirs(root, o)) out.push(d.path);
    return out.sort();
  };
  assertEquals(await paths({ maxDepth: -1 }), []);
  assertEquals(await dirs({ maxDepth: -0.5 }), []);
  for (const d of [0, 1, 2]) {
    const whole = await paths({ maxDepth: d });
    assertEquals(whole.length, d + 1, `maxDepth ${d}: ${whole}`);
    assertEquals(await paths({ maxDepth: d + 0.5 }), whole);
    assertEquals(await dirs({ maxDepth: d + 0.5 }), await dirs({ maxDepth: d }));
  }
  // maxDepth 0: the root is stat'ed, never listed (fcount -1, as any folder not entered)
  const only: [string, number, number][] = [];
  for await (const e of walk(root, { maxDepth: 0 })) only.push([e.path, e.fcount, e.ino]);
  assertEquals(only, [[root, -1, Deno.lstatSync(root).ino]]);
  await assertRejects(async () => {
    for await (const _ of walk(root, { maxDepth: NaN })) { /* nothing */ }
  }, RangeError);
});

Deno.test("walk: ROOT with a trailing slash is the root entry's path, children have one slash", async () => {
  const root = `${scratchDir()}/slash`;
  Deno.mkdirSync(`${root}/sub`, { recursive: true });
  Deno.writeTextFileSync(`${root}/f`, "x");
  const got: string[] = [];
  for await (const e of walk(`${root}/`)) got.push(e.path);
  // @std/fs: normalize("d/") keeps the slash; join("d/", "f") is "d/f".
  assertEquals(got.sort(), [`${root}/`, `${root}/f`, `${root}/sub`]);
  const st = Deno.lstatSync(`${root}/`);
  const rootEntry = await (async () => {
    for await (const e of walk(`${root}/`, { maxDepth: 0 })) return e;
  })();
  assertEquals([rootEntry?.ino, rootEntry?.isDirectory], [st.ino, true]);
});

Deno.test("walk: ROOT as @std/fs normalizes it ('.', './x', 'x//y/./z/..'), paths below as join gives them", async () => {
  const base = `${scratchDir()}/norm`;
  for (const d of ["t/a/b", "t/c"]) Deno.mkdirSync(`${base}/${d}`, { recursive: true });
  for (const f of ["t/a/x.ts", "t/a/b/y.js", "t/c.txt"]) Deno.writeTextFileSync(`${base}/${f}`, f);
  // the tree's paths relative to a folder, by readDir
  const below = (dir: string, pre = ""): string[] =>
    [...Deno.readDirSync(dir)].flatMap((e) => {
      const rel = pre ? `${pre}/${e.name}` : e.name;
      return e.isDirectory ? [rel, ...below(`${dir}/${e.name}`, rel)] : [rel];
    });
  const cases: [cwd: string, root: string, folder: string][] = [
    [`${base}/t`, ".", `${base}/t`],
    [`${base}/t`, "./", `${base}/t`],
    [base, "./t", `${base}/t`],
    [base, "t//a/./b/..", `${base}/t/a`],
    [`${base}/t/a`, "../", `${base}/t`],
  ];
  for (const [cwd, root, folder] of cases) {
    // what @std/fs walk yields: normalize(root), then join(normalize(root), rel)
    const norm = posix.normalize(root);
    const want = [norm, ...below(folder).map((r) => posix.join(norm, r))].sort();
    const got = await walkInChild(root, {}, { cwd });
    assertEquals([...got.dirs, ...got.files].sort(), want, `root ${root}`);
  }
  // a skip anchored at the start works on those paths
  const got = await walkInChild(".", { skip: ["^a(/|$)"] }, { cwd: `${base}/t` });
  assertEquals([...got.dirs, ...got.files].sort(), [".", "c", "c.txt"].sort());
});

Deno.test("walk normalizes 'link/..' as text (the folder holding link); walkDirs opens it as given (the target's parent)", async () => {
  const base = `${scratchDir()}/dotdot`;
  Deno.mkdirSync(`${base}/here`, { recursive: true });
  Deno.mkdirSync(`${base}/there/target`, { recursive: true });
  Deno.writeTextFileSync(`${base}/here/h.txt`, "h");
  Deno.writeTextFileSync(`${base}/there/t.txt`, "t");
  Deno.symlinkSync("../there/target", `${base}/here/link`);
  const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  // the premise: the kernel (Deno.readDir) reads the target's parent
  assertEquals(names(`${base}/here/link/..`), names(`${base}/there`));
  assertEquals(names(`${base}/there`), ["t.txt", "target"]);
  for (const [cwd, root] of [[`${base}/here`, "link/.."], [base, `${base}/here/link/..`]]) {
    const norm = posix.normalize(root); // "." and ".../here": the folder holding link
    const cwdWas = Deno.cwd();
    Deno.chdir(cwd);
    try {
      // walk: @std/fs's normalize, before anything is opened
      const got: WalkEntry[] = [];
      for await (const e of walk(root, { maxDepth: 1 })) got.push(e);
      assertEquals(
        got.map((e) => e.path).sort(),
        [norm, ...names(norm).map((n) => posix.join(norm, n))].sort(),
        `walk(${root})`,
      );
      assertEquals(got.find((e) => e.depth < 0)?.ino, Deno.lstatSync(norm).ino);
      // walkDirs: ROOT opened as given, as os.walk and Deno.readDir open it
      const dirs: WalkDir[] = [];
      for await (const d of walkDirs(root, { maxDepth: 1 })) dirs.push(d);
      assertEquals(dirs.length, 1);
      assertEquals(dirs[0].path, root);
      assertEquals([...dirs[0].dirs, ...dirs[0].files].sort(), names(root), `walkDirs(${root})`);
      assertEquals(dirs[0].entry.ino, Deno.statSync(root).ino);
    } finally {
      Deno.chdir(cwdWas);
    }
  }
});

function vanishTree(tag: string): string {
  const root = `${scratchDir()}/vanish-${tag}`;
  for (const d of ["keep1", "keep2", "gone", "keep1/sub"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  for (const f of ["keep1/a", "keep1/sub/b", "keep2/c", "gone/x", "gone/y", "top"]) {
    Deno.writeTextFileSync(`${root}/${f}`, f);
  }
  return root;
}

Deno.test("walk: a folder that vanishes mid-walk is an error; the walk goes on", async (t) => {
  await t.step("collected in iterator.errors without onError", async () => {
    const root = vanishTree("collect");
    const it = walk(root, { skip: [new VanishOnAsk(`${root}/gone`)], threads: 1 });
    const paths: string[] = [];
    for await (const e of it) paths.push(e.path.slice(root.length));
    // Everything else is there (gone's own row comes from its listing).
    for (const p of ["", "/top", "/keep1", "/keep1/a", "/keep1/sub", "/keep1/sub/b", "/keep2/c"]) {
      assert(paths.includes(p), `${p} missing`);
    }
    assert(!paths.includes("/gone/x"));
    assertEquals(it.errors.length, 1, JSON.stringify(it.errors));
    const err = it.errors[0];
    assertEquals(err.path, `${root}/gone`);
    assertEquals(lossy.decode(err.pathBytes), `${root}/gone`);
    assertEquals(err.op, "open");
    assertEquals(err.message, "No such file or directory");
    assertEquals(err.code, "ENOENT"); // as os.walk's OSError.errno and Deno's errors tell it
  });
  await t.step("handed to onError (and not collected) when given", async () => {
    const root = vanishTree("onerror");
    const calls: { path: string; op: string; message: string; code: string }[] = [];
    const it = walkDirs(root, {
      skip: [new VanishOnAsk(`${root}/gone`)],
      onError: (e) => calls.push({ path: e.path, op: e.op, message: e.message, code: e.code }),
    });
    const dirs: string[] = [];
    for await (const d of it) dirs.push(d.path.slice(root.length));
    assertEquals(calls, [{
      path: `${root}/gone`,
      op: "open",
      message: "No such file or directory",
      code: "ENOENT",
    }]);
    assertEquals(it.errors, []);
    for (const p of ["", "/keep1", "/keep1/sub", "/keep2"]) {
      assert(dirs.includes(p), `${p} missing`);
    }
  });
  await t.step("an onError that throws ends the walk with its error, cleanly", async () => {
    const root = vanishTree("throws");
    const boom = new Error("boom");
    const it = walk(root, {
      skip: [new VanishOnAsk(`${root}/gone`)],
      onError: () => {
        throw boom;
      },
    });
    const err = await assertRejects(async () => {
      await it.next(); // the error may come with the very first batch
      for await (const _ of it) { /* nothing */ }
    });
    assertStrictEquals(err, boom);
    assertEquals(await threadsLeft(), []);
  });
  await t.step(
    "an async onError whose promise rejects ends walk and walkDirs with its error, none left unhandled",
    async () => {
      const root = `${scratchDir()}/async-onerror`;
      Deno.mkdirSync(`${root}/d/e`, { recursive: true });
      Deno.symlinkSync("..", `${root}/d/up`); // followed: a "loop" error
      for (const which of ["walk", "walkDirs"] as const) {
        const boom = new Error(`boom ${which}`);
        const seen: string[] = [];
        const onError = async (e: { op: string }) => {
          seen.push(e.op);
          await new Promise((r) => setTimeout(r, 5));
          throw boom;
        };
        const opts = { followSymlinks: true, onError };
        const err = await assertRejects(async () => {
          for await (const _ of which === "walk" ? walk(root, opts) : walkDirs(root, opts)) {
            // nothing
          }
        });
        assertStrictEquals(err, boom);
        assertEquals(seen, ["loop"], which);
        assertEquals(await threadsLeft(), [], which);
      }
    },
  );
});

Deno.test("walk: a folder replaced by a link or a file between its listing and its reading is a race, ENOTDIR", async () => {
  for (const by of ["link", "file"] as const) {
    const root = vanishTree(`replaced-${by}`);
    const target = `${root}/gone`;
    const swap = new VanishOnAsk(target, (p) => {
      if (by === "link") Deno.symlinkSync("keep2", p);
      else Deno.writeTextFileSync(p, "now a file");
    });
    const it = walk(root, { skip: [swap], threads: 1 });
    const paths: string[] = [];
    for await (const e of it) paths.push(e.path.slice(root.length));
    // the swap really happened, before the folder was read
    const now = Deno.lstatSync(target);
    assertEquals([now.isSymlink, now.isFile], [by === "link", by === "file"], by);
    // yielded as listed, never entered (not through the link either)
    assert(paths.includes("/gone"), by);
    assertEquals(paths.filter((p) => p.startsWith("/gone/")), [], by);
    assertEquals(paths.filter((p) => p === "/keep2/c").length, 1, by);
    // the error says what happened: replaced ("race"), no longer a folder
    assertEquals(
      it.errors.map((e) => [e.path, e.op, e.code, e.message]),
      [[target, "race", "ENOTDIR", "Not a directory"]],
      by,
    );
  }
});

Deno.test("walk: a folder replaced by another folder between its listing and its reading is a race, ESTALE, with and without stat", async () => {
  for (const stat of [true, false]) {
    const root = vanishTree(`swapped-${stat}`);
    const target = `${root}/gone`;
    // the other folder made before gone is removed: its inode is not gone's
    const other = `${root}-other`;
    Deno.mkdirSync(`${other}/inner`, { recursive: true });
    const was = Deno.lstatSync(target).ino;
    const swap = new VanishOnAsk(target, (p) => Deno.renameSync(other, p));
    // the errors CSV too (written by the library's error log, as the CLI's --errors)
    const csv = `${root}-errors.csv`;
    Deno.writeFileSync(csv, new Uint8Array());
    const fd = openFile(csv, true);
    const it = walk(root, { skip: [swap], threads: 1, stat, errorsCsvFd: fd });
    const paths: string[] = [];
    try {
      for await (const e of it) paths.push(e.path.slice(root.length));
    } finally {
      closeFd(fd);
    }
    assertEquals(
      Deno.readTextFileSync(csv).split("\n").filter((l) => l.includes(",race,")),
      [
        `"${target}",race,ESTALE,` +
        '"replaced since it was seen: another entry is at its name (Stale file handle)"',
      ],
    );
    // the swap really happened, before the folder was read
    assert(Deno.lstatSync(target).isDirectory && Deno.lstatSync(target).ino !== was, `${stat}`);
    assert(paths.includes("/gone"), `stat: ${stat}`);
    assertEquals(paths.filter((p) => p.startsWith("/gone/")), [], `stat: ${stat}`);
    assertEquals(paths.filter((p) => p === "/keep2/c").length, 1, `stat: ${stat}`);
    assertEquals(
      it.errors.map((e) => [e.path, e.op, e.code, e.message]),
      [[
        target,
        "race",
        "ESTALE",
        "replaced since it was seen: another entry is at its name (Stale file handle)",
      ]],
      `stat: ${stat}`,
    );
  }
});

shimTest(
  "walk: a file that vanishes between listing and stat is a stat error, with and without skip",
  VANISH_C,
  async (shim) => {
    // 20 folders holding a file that will vanish at its stat (the shim
    // removes vanish-* in fstatat) and one that stays; the same in the root
    const root = `${shim.dir}/tree`;
    Deno.mkdirSync(root);
    const folders = ["", ...Array.from({ length: 20 }, (_, i) => `/s${i}`)];
    for (const d of folders) {
      Deno.mkdirSync(`${root}${d}`, { recursive: true });
      Deno.writeTextFileSync(`${root}${d}/vanish-${d.slice(2) || "r"}`, "x");
      Deno.writeTextFileSync(`${root}${d}/keep`, "y");
    }
    // skip tested on held folders (s1 pruned), and a skip that prunes nothing
    for (const [skip, pruned] of [[[], ""], [["/s1$"], "/s1"], [["never"], ""]] as const) {
      const walked = folders.filter((d) => d !== pruned || !pruned);
      const r = await shim.walk(root, { skip, threads: 2 });
      const what = `skip ${JSON.stringify(skip)}`;
      assertEquals(r.dirs.sort(), walked.map((d) => `${root}${d}`).sort(), what);
      assertEquals(r.files.sort(), walked.map((d) => `${root}${d}/keep`).sort(), what);
      assertEquals(
        r.errors.map((e) => `${e.op}|${e.message}|${e.path}`).sort(),
        walked.map((d) => `stat|No such file or directory|${root}${d}/vanish-${d.slice(2) || "r"}`)
          .sort(),
        what,
      );
      // they really vanished, by the shim, during the walk
      const gone = (p: string) => Deno.lstat(p).then(() => false, () => true);
      for (const d of walked) assert(await gone(`${root}${d}/vanish-${d.slice(2) || "r"}`), d);
      for (const d of walked) {
        Deno.writeTextFileSync(`${root}${d}/vanish-${d.slice(2) || "r"}`, "x");
      }
    }
  },
);

Deno.test("walk: a path longer than 6,000 bytes is walked like any other", async () => {
  const root = await weirdTree();
  const ref = await reference(root);
  const long = [...ref.values()].filter((r) => enc.encode(r.path).length > 6000);
  assert(long.length > 0);
  const want = new Map(long.map((r) => [r.path, r]));
  const got: WalkEntry[] = [];
  // The smallest batch: each long path is bigger than a whole batch.
  for await (const e of walk(`${root}/weird/deep`, { batchBytes: 4096 })) {
    if (want.has(e.path)) got.push(e);
  }
  assertEquals(setDiff(got.map((e) => e.path), want.keys()), "");
  const bottom = got.find((e) => e.name === "bottom.txt")!;
  assert(bottom && bottom.isFile, "bottom.txt not found");
  // The walk from weird/deep numbers depths from there: compare the rest.
  noProblems(got.flatMap((e) => {
    const r = want.get(e.path)!;
    return compare(e, { ...r, depth: e.depth, parentIno: r.parentIno }).filter((p) =>
      !p.includes(": depth ")
    );
  }));
  assertEquals(bottom.depth, 60);
});

Deno.test("walk: a chain of 2,000 folders (8,000-byte paths) is walked to the bottom", async () => {
  const root = `${scratchDir()}/deep2000`;
  const N = 2000;
  await python(
    `
import os, sys
os.mkdir(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(${N}):
    os.mkdir("dir", dir_fd=fd)
    nfd = os.open("dir", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
os.close(os.open("bottom.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
os.close(os.open(b"raw-\\xff", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
os.close(fd)
`,
    root,
  );
  // Reference inodes, one level at a time (Deno.chdir + relative lstat).
  const refIno: number[] = [Deno.statSync(root).ino!];
  const cwd = Deno.cwd();
  try {
    Deno.chdir(root);
    for (let i = 0; i < N; i++) {
      refIno.push(Deno.lstatSync("dir").ino!);
      Deno.chdir("dir");
    }
    refIno.push(Deno.lstatSync("bottom.txt").ino!);
  } finally {
    Deno.chdir(cwd);
  }
  const byPath = new Map<string, WalkEntry>();
  const it = walk(root);
  for await (const e of it) byPath.set(e.path, e);
  assertEquals(it.errors, []);
  assertEquals(byPath.size, N + 3);
  // A non-UTF-8 name at the bottom: 8,000 raw bytes, longer than the batch's
  // raw region.
  const raw = byPath.get(`${root}${"/dir".repeat(N)}/raw-\uFFFD`)!;
  assert(raw, "raw-\\xff missing");
  assertEquals(
    hex(raw.pathBytes!),
    hex(new Uint8Array([...enc.encode(`${root}${"/dir".repeat(N)}/raw-`), 0xff])),
  );
  let path = root;
  for (let level = 0; level <= N + 1; level++) {
    if (level > 0) path += level === N + 1 ? "/bottom.txt" : "/dir";
    const e = byPath.get(path)!;
    assert(e, `level ${level} missing`);
    assertEquals(e.depth, level - 1, path.slice(-40));
    assertEquals(e.ino, refIno[level]);
    if (level > 0) assertEquals(e.parentIno, refIno[level - 1]);
    if (level <= N) {
      assert(e.isDirectory);
      assertEquals(e.fcount, level === N ? 2 : 1);
    }
  }
  assertEquals(enc.encode(path).length, root.length + 4 * N + 11);
  let folders = 0;
  for await (const d of walkDirs(root)) {
    folders++;
    const bottom = d.entry.depth === N - 1;
    assertEquals(d.dirs, bottom ? [] : ["dir"]);
    assertEquals(sorted(d.files), bottom ? ["bottom.txt", "raw-\uFFFD"] : []);
  }
  assertEquals(folders, N + 1);
});

Deno.test("walk: names that are not UTF-8 keep their bytes in pathBytes", async () => {
  const root = `${scratchDir()}/bytes`;
  const b = (s: string) => enc.encode(s);
  const x = (...bytes: number[]) => new Uint8Array(bytes);
  const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
  const dirFE = cat(b("dir-"), x(0xfe));
  const tree: [Uint8Array[], "file" | "dir"][] = [
    [[cat(b("latin1-"), x(0xe9, 0xff), b(".bin"))], "file"],
    [[x(0xff)], "file"], // a lone byte
    [[cat(b("trunc-"), x(0xe6, 0x97))], "file"], // a cut sequence
    [[cat(b("sur-"), x(0xed, 0xa0, 0x80))], "file"], // an encoded surrogate
    [[b("ok-café")], "file"],
    [[dirFE], "dir"], // a folder whose name is not UTF-8, and below it:
    [[dirFE, b("inner.txt")], "file"],
    [[dirFE, x(0xc0, 0xaf)], "file"], // an overlong "/"
    // Valid multi-byte names around them (UTF-16 offsets into the batch).
    [[b("répertoire-日本")], "dir"],
    [[b("répertoire-日本"), b("fichier-é.txt")], "file"],
    [[b("répertoire-日本"), b("😀.txt")], "file"],
    [[b("😀dir")], "dir"],
    [[b("😀dir"), b("after-emoji")], "file"],
    [[b("😀dir"), cat(b("raw-"), x(0x80))], "file"],
  ];
  await python(
    `
import os, sys, json
root = os.fsencode(sys.argv[1])
os.mkdir(root)
for parts, kind in json.loads(sys.argv[2]):
    p = os.path.join(root, *[bytes.fromhex(x) for x in parts])
    if kind == "dir":
        os.mkdir(p)
    else:
        with open(p, "wb") as f:
            f.write(b"x" * len(p))
`,
    root,
    JSON.stringify(tree.map(([parts, kind]) => [parts.map(hex), kind])),
  );
  const expected = new Map<string, Uint8Array>(); // lossy path -> bytes
  for (const [parts] of tree) {
    const bytes = cat(b(root), ...parts.flatMap((p) => [x(0x2f), p]));
    expected.set(lossy.decode(bytes), bytes);
  }
  const got = new Map<string, WalkEntry>();
  for await (const e of walk(root, { batchBytes: 4096 })) got.set(e.path, e);
  got.delete(root);
  assertEquals(setDiff(got.keys(), expected.keys()), "");
  for (const [path, bytes] of expected) {
    const e = got.get(path)!;
    let valid = true;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      valid = false;
    }
    if (valid) {
      assertEquals(e.pathBytes, undefined, path);
    } else {
      assert(e.path.includes("\uFFFD"), path);
      assertEquals(hex(e.pathBytes!), hex(bytes), path);
    }
    assertEquals(e.name, lossy.decode(bytes.subarray(bytes.lastIndexOf(0x2f) + 1)), path);
    if (!e.isDirectory) assertEquals(e.size, bytes.length, path); // written by python
  }
  // The non-UTF-8 folder was entered, and listed by walkDirs.
  const dirs = new Map<string, WalkDir>();
  for await (const d of walkDirs(root)) dirs.set(d.path, d);
  const sub = dirs.get(`${root}/dir-\uFFFD`)!;
  assert(sub, "the non-UTF-8 folder was not yielded");
  assertEquals(sorted(sub.files), sorted(["inner.txt", "\uFFFD\uFFFD"]));
  assertEquals(sub.entry.fcount, 2);
  assertEquals(sorted(dirs.get(`${root}/😀dir`)!.files), ["after-emoji", "raw-\uFFFD"]);
  assertEquals(sorted(dirs.get(`${root}/répertoire-日本`)!.files), ["fichier-é.txt", "😀.txt"]);
  assert(dirs.get(root)!.files.includes("latin1-\uFFFD\uFFFD.bin"));
});

Deno.test("walkDirs: folders whose names differ only in invalid bytes keep their own contents", async () => {
  // dir-\xfe, dir-\xff and dir-\uFFFD (valid UTF-8) all read "dir-\uFFFD".
  const root = `${scratchDir()}/lookalike`;
  await python(
    `
import os, sys
root = os.fsencode(sys.argv[1])
os.mkdir(root)
for tag, name in ((b"fe", b"dir-\\xfe"), (b"ff", b"dir-\\xff"), (b"ok", "dir-\\ufffd".encode())):
    d = os.path.join(root, name)
    os.mkdir(d)
    os.mkdir(os.path.join(d, b"sub-" + tag))
    for i in range(1500):
        open(os.path.join(d, b"%s-%04d" % (tag, i)), "wb").close()
`,
    root,
  );
  for (const threads of [1, 2, 4]) {
    const items: WalkDir[] = [];
    // Small batches from several workers: the listings interleave.
    for await (const d of walkDirs(root, { threads, batchBytes: 4096 })) {
      if (d.path === `${root}/dir-\uFFFD`) items.push(d);
    }
    assertEquals(items.length, 3, `threads ${threads}`);
    const tags = items.map((d) => {
      const raw = d.entry.pathBytes;
      const tag = raw ? hex(raw.subarray(raw.length - 1)) : "ok";
      assertEquals(d.files.length, 1500, `threads ${threads}, dir-${tag}: ${d.files.length} files`);
      assert(d.files.every((f) => f.startsWith(`${tag}-`)), `threads ${threads}: dir-${tag} mixed`);
      assertEquals(d.dirs, [`sub-${tag}`]);
      return tag;
    });
    assertEquals(sorted(tags), ["fe", "ff", "ok"]);
  }
});

Deno.test("walk: the documented examples that sum sizes sum regular files alone (not links, FIFOs), as lstat tells", async () => {
  const data = Deno.makeTempDirSync({ dir: scratchDir() });
  Deno.mkdirSync(`${data}/sub`);
  Deno.writeTextFileSync(`${data}/a.h5`, "a".repeat(100));
  Deno.writeTextFileSync(`${data}/sub/b.h5`, "b".repeat(50));
  Deno.writeTextFileSync(`${data}/c.txt`, "c".repeat(7));
  // a link (its size: its target's length) and a FIFO, both named .h5
  Deno.symlinkSync("sub/b.h5-and-a-long-target-name/../../a.h5", `${data}/link.h5`);
  await python("import os, sys; os.mkfifo(sys.argv[1])", `${data}/fifo.h5`);
  // the reference: python's lstat, regular files only, all and .h5
  const [all, h5] = JSON.parse(
    await python(
      `import json, os, stat, sys
sizes = [(n, os.lstat(os.path.join(p, n))) for p, _, fs in os.walk(sys.argv[1]) for n in fs]
reg = [(n, s.st_size) for n, s in sizes if stat.S_ISREG(s.st_mode)]
print(json.dumps([sum(z for _, z in reg), sum(z for n, z in reg if n.endswith(".h5"))]))`,
      data,
    ),
  );
  assertEquals([all, h5], [157, 150]); // the premise
  // run each example as written, on this tree
  const runs = async (code: string) =>
    Number((await runExample(code, `${data}.example.ts`, data)).trim());
  // walk()'s JSDoc example (a doc test, `deno test --doc`, on a tree of its
  // own without a FIFO): its loop, on this tree
  const src = Deno.readTextFileSync(`${REPO}/lib/walk.ts`);
  const jsdoc = must(
    src.match(/@example Sum the sizes of all files\n \* ```ts\n([^]*?) \* ```/),
    "walk()'s example in lib/walk.ts",
  );
  const sum = must(
    jsdoc[1].replace(/^ \* ?/gm, "").match(/^let bytes = 0;\n[^]*?\n\}\n/m),
    "walk()'s example loop",
  );
  assertEquals(
    await runs(
      `import { walk } from "./mod.ts";\nconst dir = "/data";\n${sum[0]}console.log(bytes);\n`,
    ),
    all,
    sum[0],
  );
  // README's Deno API example: its walk() loop
  const readme = Deno.readTextFileSync(`${REPO}/README.md`);
  const block = readme.match(/## Deno API\n\n```ts\n([^]*?)```/);
  const loop = must(block?.[1].match(/^let bytes = 0;\n[^]*?\n\}\n/m), "README's walk() example");
  assertEquals(
    await runs(`import { walk } from "./mod.ts";\n${loop[0]}console.log(bytes);\n`),
    h5,
    loop[0],
  );
});

testNeeding([SETPRIV], {
  name:
    "walk: a link or a folder in a folder readable but not searchable is one stat error each, followed or not (as its lstat's); the folder yielded, not entered",
  ignore: Deno.uid() !== 0,
  async fn() {
    const root = `${scratchDir()}/ronly-link`;
    Deno.mkdirSync(`${root}/ronly/sub`, { recursive: true });
    Deno.symlinkSync("/etc/hostname", `${root}/ronly/lnk`);
    Deno.chmodSync(`${root}/ronly`, 0o444);
    const code = `import { walk, walkDirs } from "./mod.ts";
const root = ${JSON.stringify(root)};
const out = {};
try { Deno.lstatSync(root + "/ronly/lnk"); out.premise = "statted"; } catch (e) { out.premise = e.name; }
const errs = (it) => it.errors.map((e) => [e.op, e.path, e.code]).sort();
for (const follow of [false, true]) {
  const w = walk(root, { followSymlinks: follow });
  const paths = [];
  for await (const e of w) if (e.path.startsWith(root + "/ronly/")) paths.push([e.path, e.isDirectory]);
  out["walk " + follow] = errs(w);
  out["walk yields " + follow] = paths.sort();
  const d = walkDirs(root, { followSymlinks: follow });
  const dirs = [];
  for await (const t of d) dirs.push([t.path, [...t.dirs], [...t.files]]);
  out["walkDirs " + follow] = errs(d);
  out["walkDirs yields " + follow] = dirs.sort();
}
console.log(JSON.stringify(out));`;
    const r = await deno(["eval", code], { prefix: UNPRIVILEGED, timeoutMs: 60_000 });
    assertEquals(r.code, 0, r.stderr);
    const out = JSON.parse(r.text);
    assertEquals(out.premise, "PermissionDenied"); // uid 0 without capabilities cannot search it
    // one error each, as their lstat's; os.walk too tells the folder once
    // (its scandir's), and lists it among the dirnames
    const each = [["stat", `${root}/ronly/lnk`, "EACCES"], ["stat", `${root}/ronly/sub`, "EACCES"]];
    for (const how of ["walk false", "walk true", "walkDirs false", "walkDirs true"]) {
      assertEquals(out[how], each, how);
    }
    for (const follow of [false, true]) {
      assertEquals(out["walk yields " + follow], [
        [`${root}/ronly/lnk`, false],
        [`${root}/ronly/sub`, true],
      ]);
      assertEquals(out["walkDirs yields " + follow], [
        [root, ["ronly"], []],
        [`${root}/ronly`, ["sub"], ["lnk"]],
      ]);
    }
  },
});

/** One walkDirs run of walk_child_unpriv.ts: the folders it yielded, its errors. */
interface DirsRun {
  paths: string[];
  errors: unknown[];
}

testNeeding([SETPRIV], {
  name: "walk: an unreadable folder, walked without root's capabilities",
  async fn() {
    const root = await weirdTree();
    const ref = await reference(root);
    const r = await helperScript("walk_child_unpriv.ts", [root], {
      prefix: UNPRIVILEGED,
      timeoutMs: 60_000,
    });
    assertEquals(r.code, 0, r.stderr);
    const out = JSON.parse(r.text);
    const locked = `${root}/weird/locked`;
    // The premise: uid 0 without capabilities cannot read a mode-000 folder.
    assertEquals(out.premise, "PermissionDenied");
    const denied = { path: locked, op: "open", message: "Permission denied" };

    // Errors collected in iterator.errors; every other entry still yielded,
    // the folder's own row included.
    const expected = [...ref.keys()].filter((p) => p !== `${locked}/secret.txt`);
    assertEquals(setDiff(out.plain.paths, expected), "");
    assertEquals(out.plain.errors, [denied]);
    // its fcount and dirsum are 0, as an empty folder's (WalkEntry.fcount)
    assertEquals(out.plain.lockedCounts, [0, 0]);
    // onError gets the error with path, op and message; nothing is collected.
    assertEquals(out.onError.calls, [denied]);
    assertEquals(out.onError.collected, 0);
    assertEquals(out.onError.count, expected.length);
    // walkDirs, as os.walk: the folder that cannot be listed is reported,
    // not yielded (it would look empty); every other folder is.
    const folders = [...ref.values()].filter((r) => r.kind === "dir" && r.path !== locked)
      .map((r) => r.path).sort();
    for (const [how, d] of Object.entries(out.dirs as Record<string, DirsRun>)) {
      assertEquals(d.errors, [denied], how);
      assertEquals(setDiff(d.paths, folders), "", how);
    }
    // Not entered at all: skip or exclude it, and no error comes from below it.
    assertEquals(out.skip.errors, []);
    assertEquals(out.skip.count, expected.length - 1);
    assertEquals(out.exclude.errors, []);
    assertEquals(out.exclude.count, expected.length - 1);
    // maxDepth 2 (@std/fs numbering): weird/locked, at depth 2, is yielded
    // but not descended into, so nothing is reported about its contents.
    assertEquals(
      setDiff(
        out.maxDepth2.paths,
        [...ref.values()].filter((r) => r.depth <= 1).map((r) => r.path),
      ),
      "",
    );
    assert(out.maxDepth2.paths.includes(locked));
    assertEquals(out.maxDepth2.errors, []);
    // maxDepth 0 with that folder as the root: stat'ed only, as @std/fs
    // walk does: one entry, its lstat facts, fcount -1 (never listed), and
    // no error from a listing that is not made.
    assertEquals(out.rootMaxDepth0.errors, []);
    assertEquals(out.rootMaxDepth0.entries.length, 1);
    const asRoot = { ...ref.get(locked)!, depth: -1, parentIno: 0, fcount: -1, dirsum: 0 };
    noProblems(compare(out.rootMaxDepth0.entries[0], asRoot));
  },
});

Deno.test("walk and walkDirs: a root and names that begin with U+FEFF keep it (no decoder drops it as a BOM)", async () => {
  const dir = Deno.makeTempDirSync({ dir: scratchDir() });
  const root = `${dir}/\uFEFFd`;
  Deno.mkdirSync(`${root}/sub`, { recursive: true });
  Deno.mkdirSync(`${root}/\uFEFFinner`);
  for (const f of ["file1", "sub/f2", "sub/\uFEFFbom"]) {
    Deno.writeFileSync(`${root}/${f}`, new Uint8Array());
  }
  // the reference: Deno.readDir, folder by folder
  const want: string[] = [];
  const list = (p: string) => {
    want.push(p);
    for (const e of Deno.readDirSync(p)) {
      if (e.isDirectory) list(`${p}/${e.name}`);
      else want.push(`${p}/${e.name}`);
    }
  };
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    list("\uFEFFd"); // a relative root: the batch's text begins with the BOM
    const got: string[] = [];
    for await (const e of walk("\uFEFFd")) got.push(e.path);
    assertEquals(got.sort(), want.sort());
    const dirs: string[] = [];
    for await (const d of walkDirs("\uFEFFd")) {
      dirs.push(d.path);
      for (const f of d.files) assert(want.includes(`${d.path}/${f}`), `${d.path}/${f}`);
      for (const s of d.dirs) assert(want.includes(`${d.path}/${s}`), `${d.path}/${s}`);
    }
    assertEquals(dirs.sort(), ["\uFEFFd", "\uFEFFd/sub", "\uFEFFd/\uFEFFinner"].sort());
  } finally {
    Deno.chdir(cwd);
  }
});

Deno.test("walk: its docs say how it differs from @std/fs walk (no 'drop-in'), and those differences hold", async () => {
  // the headline in mod.ts and walk()'s JSDoc
  const mod = await Deno.readTextFile(`${REPO}/mod.ts`);
  const headline = must(mod.match(/ \* - \{@link walk\}[^]*?\{@link walkDirs\}/), "mod.ts: walk()");
  const src = await Deno.readTextFile(`${REPO}/lib/walk.ts`);
  const jsdoc = must(
    src.match(/\/\*\*\n \* Walk `root` with the parallel native walker[^]*?\*\//),
    "walk()'s JSDoc",
  );
  for (const [where, text] of [["mod.ts", headline[0]], ["walk()", jsdoc[0]]]) {
    assert(!/drop-in (upgrade|replacement) of/.test(text), `${where} says drop-in: ${text}`);
    assert(/no defined\s+(\*\s+)?order/.test(text), `${where}: order`);
    assert(/`errors`/.test(text) && /`onError`/.test(text), `${where}: errors`);
  }
  // what they say: the root comes after its files (@std/fs yields it first)
  const root = Deno.makeTempDirSync({ dir: scratchDir() });
  for (const f of ["a", "b", "c"]) Deno.writeTextFileSync(`${root}/${f}`, "");
  Deno.symlinkSync("loop2", `${root}/loop1`);
  Deno.symlinkSync("loop1", `${root}/loop2`);
  const order: string[] = [];
  const it = walk(root, { followSymlinks: true });
  for await (const e of it) order.push(e.path);
  assertEquals(order.length, [...Deno.readDirSync(root)].length + 1);
  assertEquals(order.at(-1), root);
  // an error is collected, not thrown, where @std/fs's realPath throws
  const thrown = await Deno.realPath(`${root}/loop1`).then(() => "", (e) => e.code);
  assertEquals(thrown, "ELOOP");
  assertEquals(it.errors.map((e) => e.code), [thrown, thrown]);
  // a root that is a file throws before anything is yielded (@std/fs yields it first)
  const fileRoot = walk(`${root}/a`);
  await assertRejects(() => fileRoot.next(), Deno.errors.NotADirectory);
});

Deno.test("walk: times in ms never round past the time itself: Math.floor(mtime / 1000) is stat's seconds, as report prints (review)", async () => {
  const root = `${scratchDir()}/rounding`;
  Deno.mkdirSync(root, { recursive: true });
  // nanoseconds a double in ms rounds up into the next ms and second, 2^31's
  // boundary among them; a negative one; one that rounds down anyway
  await roundingChecked(root, [
    1700000000999999880n,
    2147483647999999999n,
    1700000000999999999n,
    -1n,
    -1500000001n,
    1700000000123456789n,
  ]);
});

Deno.test({
  name: "walk: times past 2^43 s (tmpfs keeps them) never round into the next second either, " +
    "up to 2^53 ms (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-far-times-");
    const m = `${tmp.path}/m`;
    Deno.mkdirSync(m);
    assertEquals(await mountTmpfs(m, "size=1m"), "");
    await roundingChecked(m, [
      8796093022209999999999n, // 2^43 + 1 s, less a nanosecond
      -8796093022208000000001n, // -(2^43 + 1) s and 0.999999999
      9007199254739999999999n, // the last second whose ms are whole below 2^53
      -9007199254739000000001n,
    ]);
  },
});

/**
 * Files in `root` of these mtimes and atimes (nanoseconds, by Python's
 * os.utime), then walk()'s mtime of each against the time itself: its
 * seconds and milliseconds, floored.
 */
async function roundingChecked(root: string, ns: bigint[]): Promise<void> {
  await python(
    `import os, sys
root = sys.argv[1]
for i, n in enumerate(sys.argv[2:]):
  p = os.path.join(root, "f%d" % i)
  open(p, "w").close()
  os.utime(p, ns=(int(n), int(n)))`,
    root,
    ...ns.map(String),
  );
  const seen = new Map<string, number>();
  for await (const e of walk(root)) if (e.isFile) seen.set(e.name, e.mtime);
  ns.forEach((n, i) => {
    const mtime = seen.get(`f${i}`)!;
    const floorDiv = (a: bigint, b: bigint) => (a - ((a % b) + b) % b) / b;
    assertEquals(Math.floor(mtime / 1000), Number(floorDiv(n, 1_000_000_000n)), `${n}: ${mtime}`);
    assertEquals(Math.floor(mtime), Number(floorDiv(n, 1_000_000n)), `${n}: ${mtime}`);
  });
}
