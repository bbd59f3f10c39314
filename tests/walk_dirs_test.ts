/**
 * walkDirs keeps Python's os.walk contract, checked against os.walk itself
 * on the same generated tree: top-down by default with pruning in place,
 * bottom-up on request, links to folders among the folder names (entered
 * only when following links), and the same answers without a stat per entry.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { walk, walkDirs, type WalkDirsOptions, type WalkError } from "../mod.ts";
import { mktree, python } from "./helpers/tree.ts";
import {
  canMountTmpfs,
  mountBind,
  mountOverlay,
  mountTmpfs,
  removeTree,
  tempDir,
} from "./helpers/temp.ts";
import { deno, REPO, run, runExample, UNPRIVILEGED } from "./helpers/run.ts";
import { must } from "./helpers/compare.ts";
import {
  CC,
  FUSERMOUNT,
  PKG_CONFIG,
  PRLIMIT,
  PYTHON3,
  SETPRIV,
  testNeeding,
} from "./helpers/system.ts";
import { deadMount } from "./helpers/slowfs.ts";

/** Which folder names both walks prune: a rule of the name alone. */
const PRUNE_RE = /[37]$/;

const OS_WALK = `
import json, os, re, sys
root, prune, topdown = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1"
out = []
for dirpath, dirnames, filenames in os.walk(root, topdown=topdown):
    if prune:
        dirnames[:] = [d for d in dirnames if not re.search(r"[37]$", d)]
    out.append([dirpath, sorted(dirnames), sorted(filenames)])
print(json.dumps(out))
`;

type Item = [string, string[], string[]];

async function osWalk(root: string, prune: boolean, topDown: boolean): Promise<Item[]> {
  return JSON.parse(await python(OS_WALK, root, prune ? "1" : "0", topDown ? "1" : "0"));
}

async function ours(root: string, prune: boolean, o: WalkDirsOptions = {}): Promise<Item[]> {
  const out: Item[] = [];
  for await (const d of walkDirs(root, o)) {
    if (prune) {
      for (let i = d.dirs.length - 1; i >= 0; i--) {
        if (PRUNE_RE.test(d.dirs[i])) d.dirs.splice(i, 1);
      }
    }
    out.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
  }
  return out;
}

const asSet = (items: Item[]) => new Set(items.map((i) => JSON.stringify(i)));

/** A generated tree plus links to folders, a dangling link and a FIFO. */
async function tree(root: string): Promise<void> {
  await mktree(root, 3000, 21);
  const dirs = [...Deno.readDirSync(root)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  Deno.mkdirSync(`${root}/../outside/inner`, { recursive: true });
  Deno.writeTextFileSync(`${root}/../outside/inner/f.txt`, "x");
  Deno.symlinkSync(`${root}/../outside`, `${root}/${dirs[1]}/link-to-dir`);
  Deno.symlinkSync("..", `${root}/${dirs[2]}/up`);
  Deno.symlinkSync(`${root}/nowhere`, `${root}/dangling`);
  await python("import os, sys; os.mkfifo(sys.argv[1])", `${root}/fifo`);
}

Deno.test("walkDirs equals os.walk: top-down with pruning, bottom-up, with and without stat", async (t) => {
  await using tmp = await tempDir("pwalk-walkdirs-");
  const root = `${tmp.path}/tree`;
  await tree(root);

  await t.step("top-down, pruning dirs in place", async () => {
    const want = await osWalk(root, true, true);
    const got = await ours(root, true);
    assertEquals(asSet(got), asSet(want));
    const all = await osWalk(root, false, true);
    assert(got.length < all.length * 0.9, `pruning left ${got.length} of ${all.length} folders`);
  });
  await t.step("top-down: every folder after its parent", async () => {
    const seen = new Set<string>();
    for await (const d of walkDirs(root, { threads: 4 })) {
      if (d.path !== root) {
        assert(seen.has(d.path.slice(0, d.path.lastIndexOf("/"))), `${d.path} before its parent`);
      }
      seen.add(d.path);
    }
  });
  await t.step("no stat: the same answers", async () => {
    assertEquals(
      asSet(await ours(root, true, { stat: false })),
      asSet(await osWalk(root, true, true)),
    );
  });
  await t.step(
    "top-down, pruning by a new array (d.dirs = d.dirs.filter(...)): the same as in place",
    async () => {
      const got: Item[] = [];
      for await (const d of walkDirs(root)) {
        d.dirs = d.dirs.filter((n) => !PRUNE_RE.test(n));
        got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
      }
      assertEquals(asSet(got), asSet(await osWalk(root, true, true)));
      // no array: a TypeError naming the folder, the walk ended
      const it = walkDirs(root);
      const first = (await it.next()).value!;
      (first as { dirs: unknown }).dirs = undefined;
      await assertRejects(
        () => it.next(),
        TypeError,
        `pwalk: walkDirs: ${root}: dirs must be an array of names, got undefined`,
      );
    },
  );
  await t.step("emptying dirs at the root: one folder", async () => {
    const got: string[] = [];
    for await (const d of walkDirs(root)) {
      got.push(d.path);
      d.dirs.length = 0;
    }
    assertEquals(got, [root]);
  });
  await t.step("bottom-up: every folder after its subfolders", async () => {
    const want = await osWalk(root, false, false);
    const got = await ours(root, false, { topDown: false, threads: 4 });
    assertEquals(asSet(got), asSet(want));
    const seen = new Set<string>();
    for (const [path, dirs] of got) {
      for (const d of dirs) {
        const sub = `${path}/${d}`;
        const isLink = Deno.lstatSync(sub).isSymlink;
        assert(isLink || seen.has(sub), `${path} came before its subfolder ${d}`);
      }
      seen.add(path);
    }
  });
  await t.step("links to folders: in dirs, entered only when following links", async () => {
    const plain = await ours(root, false);
    assert(!plain.some(([p]) => p.endsWith("/link-to-dir")), "a link was entered");
    assert(
      plain.some(([, dirs]) => dirs.includes("link-to-dir")),
      "a link to a folder not in dirs",
    );
    const followed = await ours(root, false, { followSymlinks: true });
    const inner = followed.find(([p]) => p.endsWith("/link-to-dir/inner"));
    assertEquals(inner?.[2], ["f.txt"], "the link was not followed");
  });
});

const OS_WALK_ROOT = `
import json, os, sys
errors = []
walked = [[p, sorted(d), sorted(f)] for p, d, f in
          os.walk(sys.argv[1], onerror=lambda e: errors.append([e.filename, e.strerror]))]
print(json.dumps([walked, errors]))
`;

Deno.test({
  name:
    "a mounted file system inside the root is entered with and without stat, as os.walk enters it",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-walkdirs-");
    const root = `${tmp.path}/tree`;
    await mktree(root, 200, 5);
    // a mount point: its listing's inode is the covered folder's, not the mounted root's
    await Deno.mkdir(`${root}/mnt`);
    assertEquals(await mountTmpfs(`${root}/mnt`, "size=1m"), "");
    await Deno.mkdir(`${root}/mnt/inside/deeper`, { recursive: true });
    await Deno.writeTextFile(`${root}/mnt/inside/deeper/g.txt`, "y");
    const want = await osWalk(root, false, true);
    assert(want.some(([p]) => p === `${root}/mnt/inside/deeper`), "os.walk enters the mount");
    for (const stat of [true, false]) {
      const errors: string[] = [];
      const got: Item[] = [];
      for await (const d of walkDirs(root, { stat, onError: (e) => errors.push(e.message) })) {
        got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
      }
      assertEquals(errors, [], `stat: ${stat}`);
      assertEquals(asSet(got), asSet(want), `stat: ${stat}`);
      const paths: string[] = [];
      for await (const e of walk(root, { stat })) paths.push(e.path);
      assert(paths.includes(`${root}/mnt/inside/deeper/g.txt`), `walk, stat: ${stat}`);
    }
  },
});

/** Every folder below root as [path, sorted dirs, sorted files], by Deno.readDir (which enters mounts). */
async function readDirTree(root: string): Promise<Item[]> {
  const out: Item[] = [];
  const todo = [root];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    const dirs: string[] = [], files: string[] = [];
    for await (const e of Deno.readDir(p)) (e.isDirectory ? dirs : files).push(e.name);
    out.push([p, dirs.sort(), files.sort()]);
    todo.push(...dirs.map((d) => `${p}/${d}`));
  }
  return out;
}

Deno.test({
  name: "stat: false walks the folders whose listing inode is not theirs (a bind mount of the " +
    "same file system, overlayfs folders, a tmpfs), as Deno.readDir; walk() too",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-listed-ino-");
    const root = `${tmp.path}/tree`;
    const dirs = ["bind", "ov", "tmp", "plain/sub"].map((d) => `tree/${d}`);
    for (const d of [...dirs, "src/sub", "lower/d/sub", "upper/d", "work"]) {
      Deno.mkdirSync(`${tmp.path}/${d}`, { recursive: true });
    }
    for (const f of ["tree/plain/sub/a", "src/f1", "src/sub/f2", "lower/d/lf", "lower/d/sub/g"]) {
      Deno.writeTextFileSync(`${tmp.path}/${f}`, f);
    }
    Deno.writeTextFileSync(`${tmp.path}/upper/d/uf`, "uf");
    // the bind mount's listing inode is the covered folder's, on the same device
    assertEquals(await mountBind(`${tmp.path}/src`, `${root}/bind`), "");
    assertEquals(await mountTmpfs(`${root}/tmp`, "size=1m"), "");
    Deno.mkdirSync(`${root}/tmp/in/deeper`, { recursive: true });
    Deno.writeTextFileSync(`${root}/tmp/in/deeper/h`, "h");
    // overlayfs: a merged folder lists with its layer's inode until it is
    // looked up, so each walk gets a fresh mount, read by Deno.readDir
    // after the walk (and unmounted then)
    const overlay = async (fn: () => Promise<Item[]>): Promise<[Item[], Item[]]> => {
      const ov = `${root}/ov`;
      const layers = ["lower", "upper", "work"].map((d) => `${tmp.path}/${d}`);
      assertEquals(await mountOverlay(layers[0], layers[1], layers[2], ov), "");
      try {
        const got = await fn();
        return [got, await readDirTree(root)];
      } finally {
        const u = await new Deno.Command("umount", { args: [ov] }).output();
        assert(u.success, "umount overlay");
      }
    };
    for (const stat of [false, true]) {
      const errors: string[] = [];
      const onError = (e: WalkError) => void errors.push(`${e.op} ${e.path}: ${e.message}`);
      const [got, want] = await overlay(async () => {
        const got: Item[] = [];
        for await (const d of walkDirs(root, { stat, onError })) {
          got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
        }
        return got;
      });
      for (const p of ["bind/sub", "ov/d/sub", "tmp/in/deeper"]) {
        assert(want.some(([w]) => w === `${root}/${p}`), `the reference enters ${p}`);
      }
      assertEquals(errors, [], `walkDirs, stat: ${stat}`);
      assertEquals(asSet(got), asSet(want), `walkDirs, stat: ${stat}`);
      const [paths, tree] = await overlay(async () => {
        const paths: Item[] = [];
        for await (const e of walk(root, { stat, onError })) paths.push([e.path, [], []]);
        return paths;
      });
      const wantPaths = tree.flatMap(([p, d, f]) => [...d, ...f].map((n) => `${p}/${n}`));
      assertEquals(errors, [], `walk, stat: ${stat}`);
      assertEquals(
        new Set(paths.map(([p]) => p)),
        new Set([root, ...wantPaths]),
        `walk, stat: ${stat}`,
      );
    }
  },
});

Deno.test({
  name: "stat: false: a mounted folder of the inode number of the folder it covers (as btrfs " +
    "subvolumes, all 256) has its own device below it: a mount point in it is walked, no race",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-same-ino-");
    const [a, b, c] = ["a", "b", "c"].map((d) => `${tmp.path}/${d}`);
    for (const d of [a, b, c]) {
      Deno.mkdirSync(d);
      assertEquals(await mountTmpfs(d, "size=1m"), "");
    }
    // each tmpfs numbers its own inodes from its root: a's first folder and b's alike
    Deno.mkdirSync(`${a}/top`);
    Deno.mkdirSync(`${b}/x/y`, { recursive: true });
    Deno.writeTextFileSync(`${b}/x/f`, "f");
    Deno.writeTextFileSync(`${c}/g`, "g");
    const [top, x] = [Deno.statSync(`${a}/top`), Deno.statSync(`${b}/x`)];
    assertEquals(top.ino, x.ino, "two tmpfs number their first folders alike");
    assertEquals(await mountBind(`${b}/x`, `${a}/top`), "");
    assertEquals(await mountBind(c, `${a}/top/y`), "");
    const want = await readDirTree(a);
    assert(want.some(([p, , f]) => p === `${a}/top/y` && f.includes("g")), "readDir enters y");
    for (const followSymlinks of [false, true]) {
      for (const stat of [false, true]) {
        const how = `stat: ${stat}, followSymlinks: ${followSymlinks}`;
        const errors: string[] = [];
        const onError = (e: WalkError) => void errors.push(`${e.op} ${e.path}: ${e.message}`);
        const got: Item[] = [];
        for await (const d of walkDirs(a, { stat, followSymlinks, onError })) {
          got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
        }
        assertEquals(errors, [], `walkDirs, ${how}`);
        assertEquals(asSet(got), asSet(want), `walkDirs, ${how}`);
        const paths = new Set<string>();
        for await (const e of walk(a, { stat, followSymlinks, onError })) paths.add(e.path);
        assertEquals(errors, [], `walk, ${how}`);
        assertEquals(
          paths,
          new Set([a, ...want.flatMap(([p, d, f]) => [...d, ...f].map((n) => `${p}/${n}`))]),
          `walk, ${how}`,
        );
      }
    }
  },
});

for (const kind of ["a tmpfs", "a bind mount of the same file system"] as const) {
  testNeeding([SETPRIV, PYTHON3], {
    name: `stat: false without capabilities enters a mount point (${kind}) whose root can be ` +
      "listed but not searched (its '..' cannot be looked up), as os.walk: its entries, no race",
    ignore: !canMountTmpfs(),
    fn: () => unsearchableMount(kind === "a tmpfs"),
  });
}

/** The test above, for a tmpfs (another device) or a bind mount (the same device). */
async function unsearchableMount(tmpfs: boolean) {
  await using tmp = await tempDir("pwalk-listed-ino-");
  const root = `${tmp.path}/t`, m = `${root}/m`;
  Deno.mkdirSync(m, { recursive: true });
  // a bind mount: the same device as the folder listing it, only its
  // mount differs (and its listing inode, the covered folder's)
  const src = tmpfs ? m : `${tmp.path}/src`;
  if (tmpfs) assertEquals(await mountTmpfs(m, "size=1m"), "");
  else Deno.mkdirSync(src);
  Deno.writeTextFileSync(`${src}/f1`, "f1");
  Deno.mkdirSync(`${src}/sub`);
  Deno.writeTextFileSync(`${src}/sub/g`, "g");
  // another owner's, mode 0744: uid 0 without capabilities may read it, not search it
  Deno.chownSync(src, 1042, 1042);
  Deno.chmodSync(src, 0o744);
  if (!tmpfs) {
    assertEquals(await mountBind(src, m), "");
    assertEquals(Deno.statSync(m).dev, Deno.statSync(root).dev, "the premise: one device");
  }
  const py = await run("python3", ["-c", OS_WALK, root, "0", "1"], { prefix: UNPRIVILEGED });
  assertEquals(py.code, 0, py.stderr);
  const want: Item[] = JSON.parse(py.text);
  // the premise: os.walk lists m (f1 and sub), and cannot enter sub
  assert(want.some(([p, d, f]) => p === m && d.includes("sub") && f.includes("f1")), py.text);
  assert(!want.some(([p]) => p === `${m}/sub`), py.text);
  const script = `${tmp.path}/child.ts`;
  await Deno.writeTextFile(
    script,
    `import { walk, walkDirs } from "${new URL("../mod.ts", import.meta.url).href}";
const errors = [];
const onError = (e) => void errors.push([e.op, e.path]);
const items = [];
for await (const d of walkDirs(Deno.args[0], { stat: false, onError })) {
  items.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
}
const paths = [];
for await (const e of walk(Deno.args[0], { stat: false, onError })) paths.push(e.path);
console.log(JSON.stringify({ items, paths, errors }));`,
  );
  const r = await deno(["run", "-A", script, root], { prefix: UNPRIVILEGED, timeoutMs: 60_000 });
  assertEquals(r.code, 0, r.stderr);
  const got: { items: Item[]; paths: string[]; errors: string[][] } = JSON.parse(r.text);
  assertEquals(asSet(got.items), asSet(want), r.text);
  const wantPaths = want.flatMap(([p, d, f]) => [...d, ...f].map((n) => `${p}/${n}`));
  assertEquals(got.paths.sort(), [root, ...wantPaths].sort(), r.text);
  // only sub, which nobody without search permission on m can open (once per walk)
  assertEquals(got.errors.map(([, p]) => p), [`${m}/sub`, `${m}/sub`], r.text);
  assert(!got.errors.some(([op]) => op === "race"), r.text);
}

Deno.test("walkDirs: under a ROOT ending in '//', each folder's entry.path and entry.pathBytes are spelled as os.walk's dirpath (bytes mode), as path is", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-slashes-");
  const d = `${tmp.path}/d`;
  // a folder whose name is not UTF-8 (its bytes only in pathBytes), and one below it
  await python(
    "import os, sys; os.makedirs(os.fsencode(sys.argv[1]) + b'/bad\\xfe/sub'); os.makedirs(sys.argv[1] + '/ok')",
    d,
  );
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  for (const root of [`${d}//`, `${d}///`]) {
    const want: string[] = JSON.parse(
      await python(
        "import json, os, sys\nprint(json.dumps([p.hex() for p, _, _ in os.walk(os.fsencode(sys.argv[1]))][1:]))",
        root,
      ),
    );
    const got: string[] = [];
    for await (const w of walkDirs(root)) {
      if (w.path === root) {
        assertEquals(w.entry.path, d); // the root's own: ROOT without its trailing slashes
        continue;
      }
      assertEquals(w.entry.path, w.path);
      got.push(hex(w.entry.pathBytes ?? new TextEncoder().encode(w.entry.path)));
    }
    assertEquals(got.sort(), want.sort(), root);
    assert(want.length === 3 && want.some((h) => h.includes("fe")), "the premise");
  }
});

Deno.test("walkDirs: a root os.walk cannot walk is an error, and ROOT is dirpath as given", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-root-");
  const d = `${tmp.path}/d`;
  Deno.mkdirSync(`${d}/sub`, { recursive: true });
  Deno.writeTextFileSync(`${d}/f`, "x");
  Deno.writeTextFileSync(`${d}/sub/g`, "y");
  Deno.symlinkSync("d", `${tmp.path}/link`);
  Deno.symlinkSync("loop", `${tmp.path}/loop`);
  const roots = ["missing", "d/f", "loop", "link", "d/", "d", "./d/", ".//d/./", "d//", "./d///"];
  for (const name of roots) {
    const root = name.startsWith(".") ? name : `${tmp.path}/${name}`;
    const [want, wantErrors] = JSON.parse(
      await python(`import os; os.chdir(${JSON.stringify(tmp.path)})\n${OS_WALK_ROOT}`, root),
    );
    const got: Item[] = [];
    const gotErrors: string[][] = [];
    const cwd = Deno.cwd();
    Deno.chdir(tmp.path);
    try {
      for await (
        const w of walkDirs(root, { onError: (e) => gotErrors.push([e.path, e.message]) })
      ) {
        got.push([w.path, [...w.dirs].sort(), [...w.files].sort()]);
      }
    } finally {
      Deno.chdir(cwd);
    }
    assertEquals(got, want, `walkDirs(${root})`);
    assertEquals(gotErrors, wantErrors, `walkDirs(${root}) errors`);
    // skip sees the paths as yielded: skipping os.walk's spelling of the
    // subfolder leaves exactly its folder out
    const sub = want.find(([p]: Item) => p.endsWith("sub"))?.[0];
    if (!sub) continue;
    const skipped: string[] = [];
    Deno.chdir(tmp.path);
    try {
      const esc = sub.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      for await (const w of walkDirs(root, { skip: [new RegExp(`^${esc}$`)] })) {
        skipped.push(w.path);
      }
    } finally {
      Deno.chdir(cwd);
    }
    assertEquals(
      skipped,
      want.map(([p]: Item) => p).filter((p: string) => p !== sub),
      `skip ${sub}`,
    );
  }
});

Deno.test("walkDirs: a ROOT of slashes alone ('//', '///') keeps them below it, as os.walk joins them", async () => {
  // two folders of / (the rest pruned by both), their names listed, not walked
  const keep = ["etc", "usr"];
  for (const root of ["/", "//", "///"]) {
    const want: Item[] = JSON.parse(
      await python(
        `import json, os, sys
out = []
for p, d, f in os.walk(sys.argv[1]):
    if p == sys.argv[1]: d[:] = [n for n in d if n in ${JSON.stringify(keep)}]
    out.append([p, sorted(d), sorted(f)])
    if p != sys.argv[1]: d[:] = []  # walkDirs' maxDepth 2
print(json.dumps(out))`,
        root,
      ),
    );
    assertEquals(want.length, 3, `the premise: os.walk(${root}) gives ROOT, etc and usr`);
    const walked = async (o: WalkDirsOptions) => {
      const got: Item[] = [];
      for await (const d of walkDirs(root, { maxDepth: 2, stat: false, ...o })) {
        if (d.path === root) {
          d.dirs.splice(
            0,
            d.dirs.length,
            ...d.dirs.filter((n) => keep.includes(n)),
          );
        }
        got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
      }
      return got.sort((a, b) => a[0] < b[0] ? -1 : 1);
    };
    assertEquals(await walked({}), want, `walkDirs(${root})`);
    // skip tests the paths as yielded: os.walk's spelling of usr
    const usr = want[2][0];
    const esc = usr.replace(/\//g, "\\/");
    assertEquals(
      (await walked({ skip: [new RegExp(`^${esc}$`)] })).map(([p]) => p),
      [want[0][0], want[1][0]],
      `walkDirs(${root}) skip ${usr}`,
    );
  }
});

Deno.test("followSymlinks: a folder reached by two paths is walked under both, as os.walk(followlinks=True)", async () => {
  await using tmp = await tempDir("pwalk-follow-");
  const root = `${tmp.path}/root`;
  await mktree(`${root}/data/a`, 400, 3);
  Deno.mkdirSync(`${root}/data/c`, { recursive: true });
  Deno.writeTextFileSync(`${root}/data/c/c.txt`, "c");
  Deno.mkdirSync(`${tmp.path}/outside/deep`, { recursive: true });
  Deno.writeTextFileSync(`${tmp.path}/outside/deep/x.txt`, "x");
  Deno.symlinkSync("data/a", `${root}/latest`); // a second way into the tree
  Deno.symlinkSync("../../outside", `${root}/data/c/ext`); // out of it
  Deno.symlinkSync("../outside", `${root}/ext2`); // the same folder twice
  const want: Item[] = JSON.parse(
    await python(
      `import json, os, sys
print(json.dumps([[p, sorted(d), sorted(f)] for p, d, f in os.walk(sys.argv[1], followlinks=True)]))`,
      root,
    ),
  );
  for (const topDown of [true, false]) {
    const got = await ours(root, false, { followSymlinks: true, topDown, threads: 4 });
    assertEquals(asSet(got), asSet(want), `topDown ${topDown}`);
  }
  assert(
    want.some(([p]) => p === `${root}/latest`) && want.some(([p]) => p === `${root}/ext2/deep`),
  );
  // walk(): every path once, the folder under the link as under its own path
  const paths = new Set<string>();
  const it = walk(root, { followSymlinks: true, canonicalize: false, threads: 4 });
  for await (const e of it) {
    assert(!paths.has(e.path), `${e.path} twice`);
    paths.add(e.path);
  }
  assertEquals(it.errors, []);
  const fromOsWalk = new Set([root]);
  for (const [p, d, f] of want) for (const n of [...d, ...f]) fromOsWalk.add(`${p}/${n}`);
  assertEquals(paths, fromOsWalk);
});

Deno.test("followSymlinks: a link back to an ancestor pruned from dirs is no error, as os.walk never looks at it", async () => {
  await using tmp = await tempDir("pwalk-loop-");
  const root = `${tmp.path}/root`;
  for (let i = 0; i < 30; i++) {
    Deno.mkdirSync(`${root}/d${i}/e`, { recursive: true });
    Deno.symlinkSync("..", `${root}/d${i}/up${i % 10}`); // a loop in every folder
    Deno.symlinkSync("../..", `${root}/d${i}/e/top`);
  }
  // os.walk(followlinks=True) pruning every loop link: no error, and the
  // same folders; pwalk the same, with and without keeping some links
  const want: Item[] = JSON.parse(
    await python(
      `import json, os, sys
errs = []
out = []
for p, d, f in os.walk(sys.argv[1], followlinks=True, onerror=errs.append):
    d[:] = [n for n in d if not (n.startswith("up") or n == "top")]
    out.append([p, sorted(d), sorted(f)])
assert not errs, errs
print(json.dumps(out))`,
      root,
    ),
  );
  const isLoop = (n: string) => n.startsWith("up") || n === "top";
  for (const keep of [undefined, "up3"]) {
    const got: Item[] = [];
    const it = walkDirs(root, { followSymlinks: true, threads: 4 });
    for await (const d of it) {
      for (let i = d.dirs.length - 1; i >= 0; i--) {
        if (isLoop(d.dirs[i]) && d.dirs[i] !== keep) d.dirs.splice(i, 1);
      }
      got.push([d.path, [...d.dirs].filter((n) => !isLoop(n)).sort(), [...d.files].sort()]);
    }
    if (!keep) assertEquals(asSet(got), asSet(want));
    // a link left in dirs is still the loop it is: d3, d13 and d23 keep up3
    const loops = it.errors.filter((e) => e.op === "loop").map((e) => e.path).sort();
    assertEquals(loops, keep ? ["d13", "d23", "d3"].map((d) => `${root}/${d}/up3`) : []);
    assertEquals(it.errors.length, loops.length, JSON.stringify(it.errors));
  }
});

Deno.test("walkDirs: names in runs across small batches, names not UTF-8, pruning in a wide folder", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-runs-");
  const root = `${tmp.path}/tree`;
  await mktree(root, 1500, 33, true);
  // A wide folder: files and subfolders interleaved in the listing, so runs
  // of names alternate and one listing spans many 4 KiB batches.
  const wide = `${root}/wide`;
  Deno.mkdirSync(wide);
  for (let i = 0; i < 2000; i++) {
    Deno.writeTextFileSync(`${wide}/file-with-a-longish-name-${i}.txt`, "");
    if (i % 40 === 0) {
      Deno.mkdirSync(`${wide}/sub${i / 40}`);
      Deno.writeTextFileSync(`${wide}/sub${i / 40}/inside.txt`, "");
    }
  }
  // os.walk's names as TextDecoder shows bytes that are not UTF-8 (U+FFFD)
  const want = JSON.parse(
    await python(
      OS_WALK.replace(
        "out.append([dirpath, sorted(dirnames), sorted(filenames)])",
        "fix = lambda n: os.fsencode(n).decode('utf-8', 'replace')\n" +
          "    out.append([fix(dirpath), sorted(map(fix, dirnames)), sorted(map(fix, filenames))])",
      ),
      root,
      "1",
      "1",
    ),
  ) as Item[];
  const fix = (items: Item[]) =>
    items.map(([p, d, f]) => [p, d.sort(), f.sort()] as Item).map((i) => JSON.stringify(i));
  for (const o of [{ stat: false }, { stat: true }, { stat: false, threads: 1 }]) {
    const got = await ours(root, true, { ...o, batchBytes: 4096 });
    assertEquals(new Set(fix(got)), new Set(fix(want)), JSON.stringify(o));
  }
  assert(want.some(([p]) => p === `${wide}/sub12`), "a kept subfolder of the wide folder");
  assert(!want.some(([p]) => p === `${wide}/sub13`), "a pruned subfolder of the wide folder");
});

/** walkDirs in all four stat/order combinations, printed as JSON (run without capabilities). */
const DIRS_CHILD = `
import { walkDirs } from "${new URL("../mod.ts", import.meta.url).href}";
const out = {};
for (const stat of [true, false]) for (const topDown of [true, false]) {
  const items = [];
  const it = walkDirs(Deno.args[0], { stat, topDown });
  for await (const d of it) items.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
  out[\`stat:\${stat} topDown:\${topDown}\`] = { items, errors: it.errors.length };
}
console.log(JSON.stringify(out));
`;

testNeeding([SETPRIV, PYTHON3], {
  name: "walkDirs equals os.walk without capabilities: folders that cannot be listed or searched",
  async fn() {
    await using tmp = await tempDir("pwalk-walkdirs-");
    // uid 0 without capabilities owns the tree: a 000 folder cannot be
    // listed, a 644 one listed but its names not stat'ed (nor entered)
    const root = `${tmp.path}/t`;
    await Deno.mkdir(`${root}/locked/sub`, { recursive: true });
    await Deno.mkdir(`${root}/rnox/sub`, { recursive: true });
    await Deno.mkdir(`${root}/ok/inner`, { recursive: true });
    for (const f of ["locked/f", "rnox/f.txt", "ok/g", "ok/inner/h"]) {
      await Deno.writeTextFile(`${root}/${f}`, "");
    }
    await Deno.chmod(`${root}/locked`, 0o000);
    await Deno.chmod(`${root}/rnox`, 0o644);
    try {
      const py = await run("python3", ["-c", OS_WALK, root, "0", "1"], { prefix: UNPRIVILEGED });
      assertEquals(py.code, 0, py.stderr);
      const want = asSet(JSON.parse(py.text));
      // the premise: os.walk leaves out locked, lists rnox's names, cannot enter rnox/sub
      assert(![...want].some((i) => i.includes(`${root}/locked"`)), "locked was listed");
      assert(want.has(JSON.stringify([`${root}/rnox`, ["sub"], ["f.txt"]])));
      const script = `${tmp.path}/child.ts`;
      await Deno.writeTextFile(script, DIRS_CHILD);
      const r = await deno(["run", "-A", script, root], {
        prefix: UNPRIVILEGED,
        timeoutMs: 60_000,
      });
      assertEquals(r.code, 0, r.stderr);
      for (const [how, got] of Object.entries(JSON.parse(r.text) as Record<string, Run>)) {
        assertEquals(asSet(got.items), want, how);
        assert(got.errors > 0, `${how}: no errors reported`);
      }
    } finally {
      await Deno.chmod(`${root}/locked`, 0o755);
      await Deno.chmod(`${root}/rnox`, 0o755);
    }
  },
});

interface Run {
  items: Item[];
  errors: number;
}

testNeeding([SETPRIV, PYTHON3], {
  name:
    "walkDirs without capabilities: an error's path is os.walk onerror's filename, ROOT's extra slashes kept ('d/', 'd//', '//d')",
  async fn() {
    await using tmp = await tempDir("pwalk-walkdirs-");
    const t = `${tmp.path}/t`;
    await Deno.mkdir(`${t}/a/b`, { recursive: true });
    await Deno.mkdir(`${t}/a/locked/inner`, { recursive: true });
    await Deno.mkdir(`${t}/locked/inner`, { recursive: true });
    await Deno.writeTextFile(`${t}/f`, "");
    for (const d of ["locked", "a/locked"]) await Deno.chmod(`${t}/${d}`, 0o000);
    const roots = [
      t,
      `${t}/`,
      `${t}//`,
      `${t}///`,
      `/${t}`,
      `/${t}//`,
      "t//",
      `${t}/locked/`,
      `${t}/locked//`,
    ];
    const script = `${tmp.path}/child.ts`;
    // both orders, errors by onError and in the iterator's list; the
    // bytes of an error's path are its text's
    await Deno.writeTextFile(
      script,
      `import { walkDirs } from "${new URL("../mod.ts", import.meta.url).href}";
const out = [];
for (const topDown of [true, false]) for (const viaOnError of [true, false]) {
  const errors = [];
  const onError = viaOnError ? (e) => errors.push(e) : undefined;
  const it = walkDirs(Deno.args[0], { topDown, onError });
  const items = [];
  for await (const d of it) items.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
  if (!viaOnError) errors.push(...it.errors);
  for (const e of errors) {
    if (new TextDecoder().decode(e.pathBytes) !== e.path) throw new Error(e.path);
  }
  out.push([items.sort(), errors.map((e) => [e.path, e.code]).sort()]);
}
console.log(JSON.stringify(out));`,
    );
    try {
      for (const root of roots) {
        const py = await run("python3", [
          "-c",
          `import errno, json, os, sys
for topdown in [True, False]:
    errors = []
    walked = sorted([p, sorted(d), sorted(f)] for p, d, f in os.walk(sys.argv[1], topdown=topdown,
        onerror=lambda e: errors.append([e.filename, errno.errorcode[e.errno]])))
    print(json.dumps([walked, sorted(errors)]))`,
          root,
        ], { prefix: UNPRIVILEGED, cwd: tmp.path });
        assertEquals(py.code, 0, py.stderr);
        const [down, up] = py.text.trim().split("\n").map((l) => JSON.parse(l));
        // the premise: os.walk cannot list the two 000 folders (or the
        // root, one of them), and names them after ROOT as typed
        const names = down[1].map(([p]: string[]) => p);
        assertEquals(names.length, root.includes("locked") ? 1 : 2, root);
        assert(names.every((p: string) => p.startsWith(root)), `${root}: ${names}`);
        const r = await deno(["run", "-A", script, root], {
          prefix: UNPRIVILEGED,
          cwd: tmp.path,
          timeoutMs: 60_000,
        });
        assertEquals(r.code, 0, r.stderr);
        assertEquals(JSON.parse(r.text), [down, down, up, up], `walkDirs(${root})`);
      }
    } finally {
      for (const d of ["locked", "a/locked"]) await Deno.chmod(`${t}/${d}`, 0o755);
    }
  },
});

Deno.test("walkDirs skip under ROOT 'd//' drops a loop error by the link's path as yielded ('d//x/up')", async () => {
  await using tmp = await tempDir("pwalk-loop-");
  const d = `${tmp.path}/d`;
  await Deno.mkdir(`${d}/x`, { recursive: true });
  await Deno.symlink("..", `${d}/x/up`);
  for (const root of [d, `${d}//`]) {
    const up = `${root}${root.endsWith("/") ? "" : "/"}x/up`;
    for (const topDown of [true, false]) {
      const loops = async (skip?: RegExp[]) => {
        const it = walkDirs(root, { followSymlinks: true, topDown, skip });
        for await (const _ of it) { /* walked */ }
        return it.errors.map((e) => [e.op, e.path]);
      };
      // as yielded: "d//x", and its link "d//x/up", a loop
      assertEquals(await loops(), [["loop", up]], `${root} topDown ${topDown}`);
      const esc = up.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      assertEquals(
        await loops([new RegExp(`^${esc}$`)]),
        [],
        `${root} topDown ${topDown}: skip ${up}`,
      );
    }
  }
});

testNeeding([SETPRIV, PYTHON3], {
  name:
    "walkDirs without capabilities: of two folders alike but for bytes that are not UTF-8, the unlistable one is left out",
  async fn() {
    await using tmp = await tempDir("pwalk-walkdirs-");
    const root = `${tmp.path}/t`;
    // x<i>\xfe (mode 000) and x<i>\xff (a file in it) both show as "x<i>\uFFFD"
    await python(
      `import os, sys
r = sys.argv[1].encode(); os.mkdir(r)
for i in range(40):
    os.mkdir(r + b'/x%d\\xfe' % i, 0)
    os.mkdir(r + b'/x%d\\xff' % i); open(r + b'/x%d\\xff/file' % i, 'w').close()`,
      root,
    );
    const py = await run("python3", [
      "-c",
      `import json, os, sys
print(json.dumps(sorted([p.hex(), sorted(x.hex() for x in f)] for p, d, f in os.walk(sys.argv[1].encode()))))`,
      root,
    ], { prefix: UNPRIVILEGED });
    assertEquals(py.code, 0, py.stderr);
    const want = JSON.parse(py.text);
    assertEquals(want.length, 41); // the premise: os.walk lists the 40 readable ones and ROOT
    const script = `${tmp.path}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { walkDirs } from "${new URL("../mod.ts", import.meta.url).href}";
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const enc = new TextEncoder();
const out = {};
for (const topDown of [true, false]) {
  const it = walkDirs(Deno.args[0], { topDown });
  const items = [];
  for await (const d of it) {
    items.push([hex(d.entry.pathBytes ?? enc.encode(d.path)), d.files.map((f) => hex(enc.encode(f))).sort()]);
  }
  out[topDown] = { items: items.sort(), errors: it.errors.length };
}
console.log(JSON.stringify(out));`,
    );
    for (let round = 0; round < 3; round++) {
      const r = await deno(["run", "-A", script, root], {
        prefix: UNPRIVILEGED,
        timeoutMs: 60_000,
      });
      assertEquals(r.code, 0, r.stderr);
      for (const [how, got] of Object.entries(JSON.parse(r.text))) {
        const { items, errors } = got as { items: unknown[]; errors: number };
        assertEquals(items.sort(), want.sort(), `topDown ${how}, round ${round}`);
        assertEquals(errors, 40);
      }
    }
  },
});

Deno.test("walkDirs: names that are not UTF-8 keep their bytes, and pruning one of two alike prunes one", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-bytes-");
  const root = `${tmp.path}/t`;
  // c\xff and c\xfe show alike ("c\uFFFD"); each holds a folder and a file
  await python(
    `import os, sys
r = sys.argv[1].encode(); os.mkdir(r)
for d in [b'c\\xff', b'c\\xfe', b'c\\xef\\xbf\\xbd', b'ok', b'bad\\xff\\xfedir']:
    os.makedirs(r + b'/' + d + b'/in')
    open(r + b'/' + d + b'/f\\xe9', 'w').close()
open(r + b'/plain.txt', 'w').close()
open(r + b'/x\\xed\\xa0\\x80', 'w').close()`,
    root,
  );
  // os.walk on bytes: every name exact
  const want: [string, string[], string[]][] = JSON.parse(
    await python(
      `import json, os, sys
h = lambda b: b.hex()
print(json.dumps([[h(p), sorted(map(h, d)), sorted(map(h, f))] for p, d, f in os.walk(sys.argv[1].encode())]))`,
      root,
    ),
  );
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const enc = new TextEncoder();
  const exact = (names: string[], bytes?: Map<string, Uint8Array[]>) => {
    const out: string[] = [];
    const used = new Map<string, number>();
    for (const n of names) {
      const raw = bytes?.get(n);
      if (!raw) out.push(hex(enc.encode(n)));
      else {
        const k = used.get(n) ?? 0;
        used.set(n, k + 1);
        out.push(hex(raw[k]));
      }
    }
    return out.sort();
  };
  const got: [string, string[], string[]][] = [];
  for await (const d of walkDirs(root, { stat: false })) {
    const self = d.entry.pathBytes ?? enc.encode(d.path);
    got.push([hex(self), exact(d.dirs, d.bytes), exact(d.files, d.bytes)]);
  }
  const key = (x: [string, string[], string[]]) => JSON.stringify(x);
  assertEquals(got.map(key).sort(), want.map(key).sort());
  // (c\xef\xbf\xbd is UTF-8: a real U+FFFD, which shows as the two do)
  // remove one "c\uFFFD" of the three: one of the three folders is not entered
  const seen: string[] = [];
  for await (const d of walkDirs(root, { stat: false })) {
    seen.push(d.path);
    if (d.path === root) d.dirs.splice(d.dirs.indexOf("c\uFFFD"), 1);
  }
  assertEquals(seen.filter((p) => p === `${root}/c\uFFFD`).length, 2, seen.join());
});

Deno.test("walkDirs: of folders that show alike, the ones whose bytes the caller removed from bytes are pruned, else the last listed", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-alike-");
  const root = `${tmp.path}/t`;
  // x\xfe, x\xef\xbf\xbd (a real U+FFFD) and x\xff all show as "x\uFFFD"
  await python(
    `import os, sys
r = sys.argv[1].encode(); os.mkdir(r)
for d in [b'x\\xfe', b'x\\xef\\xbf\\xbd', b'y', b'x\\xff']:
    os.makedirs(r + b'/' + d + b'/in')`,
    root,
  );
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const enc = new TextEncoder();
  const shown = "x\uFFFD";
  const alike = ["78fe", "78efbfbd", "78ff"];
  // os.walk on bytes, top-down, with `pruned` (hex names) removed from the
  // root's dirnames: the folders it lists (hex)
  const osWalk = async (pruned: string[]) =>
    JSON.parse(
      await python(
        `import json, os, sys
out = []
for p, d, f in os.walk(sys.argv[1].encode()):
    out.append(p.hex())
    if p == sys.argv[1].encode():
        d[:] = [x for x in d if x.hex() not in sys.argv[2].split(',')]
print(json.dumps(sorted(out)))`,
        root,
        pruned.join(","),
      ),
    ) as string[];
  // os.listdir's order (the listing's): the last of the three listed
  const listed: string[] = JSON.parse(
    await python(
      `import json, os, sys
print(json.dumps([n.hex() for n in os.listdir(sys.argv[1].encode())]))`,
      root,
    ),
  );
  const last = listed.filter((h) => alike.includes(h)).at(-1)!;
  /** walkDirs pruning one "x\uFFFD", and the bytes of `removed` from bytes */
  const walked = async (removed: string[]) => {
    const out: string[] = [];
    for await (const d of walkDirs(root, { stat: false })) {
      out.push(hex(d.entry.pathBytes ?? enc.encode(d.path)));
      if (d.path !== root) continue;
      assertEquals(d.bytes?.get(shown)?.map(hex).sort(), alike.slice().sort());
      d.dirs.splice(d.dirs.indexOf(shown), removed.length || 1);
      const list = d.bytes!.get(shown)!;
      for (const r of removed) list.splice(list.findIndex((b) => hex(b) === r), 1);
    }
    return out.sort();
  };
  // bytes left as they were: the last one listed is pruned
  assertEquals(await walked([]), await osWalk([last]));
  // the caller says which: each of the three, and two of them
  for (const which of [...alike.map((a) => [a]), ["78ff", "78fe"], ["78efbfbd", "78fe"]]) {
    assertEquals(await walked(which), await osWalk(which), which.join());
  }
});

testNeeding([CC, PKG_CONFIG, FUSERMOUNT, PYTHON3], {
  name:
    "a dead FUSE mount (its server killed): walkDirs reports the ROOT to onError as os.walk's onerror, " +
    "and walk() names the error ENOTCONN as Python does",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    await using fs = await deadMount(tmp.path);
    const py = await python(
      "import errno, json, os, sys\n" +
        "errs = []\n" +
        "dirs = [d for d, _, _ in os.walk(sys.argv[1], onerror=lambda e: " +
        "errs.append([e.filename, errno.errorcode[e.errno]]))]\n" +
        "try:\n  os.lstat(sys.argv[1] + '/a'); st = ''\n" +
        "except OSError as e:\n  st = errno.errorcode[e.errno]\n" +
        "print(json.dumps([dirs, errs, st]))",
      fs.path,
    );
    const [dirs, errs, st] = JSON.parse(py) as [string[], [string, string][], string];
    assertEquals(st, "ENOTCONN", "python's lstat below the dead mount");
    const got: [string, string][] = [];
    const yielded: string[] = [];
    for await (const d of walkDirs(fs.path, { onError: (e) => got.push([e.path, e.code]) })) {
      yielded.push(d.path);
    }
    assertEquals([yielded, got], [dirs, errs]);
    // walk() of the folder holding the mount: the mount point's stat fails
    const codes: string[] = [];
    for await (const _ of walk(tmp.path, { onError: (e) => codes.push(e.code) })) { /* all */ }
    assert(codes.length > 0 && codes.every((c) => c === st), codes.join(","));
  },
});

/**
 * The caller's changes to a folder's dirs (top-down), made in both walks
 * on a copy of the same tree by the folder's path below ROOT: at ROOT it
 * renames `sub` (and names the new name in dirs), creates `created/deep`,
 * a link `lnk` to `keep` and adds both, adds `missing` (no such folder)
 * and `keep` a second time, and prunes `gone`; in the renamed folder it
 * creates and adds `later` (a name added in a folder that was added).
 */
const OS_WALK_ADDED = `
import json, os, sys
root, follow = sys.argv[1], sys.argv[2] == "1"
out, errs = [], []
for p, d, f in os.walk(root, followlinks=follow, onerror=lambda e: errs.append([e.filename, e.strerror])):
    rel = p[len(root):]
    out.append([rel, sorted(d), sorted(f)])
    if rel == "":
        os.rename(root + "/sub", root + "/renamed"); d[d.index("sub")] = "renamed"
        os.makedirs(root + "/created/deep"); open(root + "/created/deep/g", "w").close()
        os.symlink("keep", root + "/lnk")
        d.remove("gone")
        d += ["created", "lnk", "missing", "keep"]
    elif rel == "/renamed":
        os.mkdir(root + "/renamed/later"); d.append("later")
print(json.dumps([sorted(out), sorted([[n[len(root):], m] for n, m in errs])]))
`;

function addedTree(root: string): void {
  Deno.mkdirSync(`${root}/sub/inner`, { recursive: true });
  Deno.mkdirSync(`${root}/keep/x`, { recursive: true });
  Deno.mkdirSync(`${root}/gone/y`, { recursive: true });
  Deno.writeTextFileSync(`${root}/sub/inner/f`, "x");
  Deno.writeTextFileSync(`${root}/top.txt`, "x");
}

async function walkAdded(root: string, o: WalkDirsOptions): Promise<[Item[], string[][]]> {
  const out: Item[] = [];
  const errs: string[][] = [];
  const it = walkDirs(root, o);
  for await (const d of it) {
    const rel = d.path.slice(root.length);
    out.push([rel, [...d.dirs].sort(), [...d.files].sort()]);
    // the depth below ROOT, also for the folders of an added name's walk
    assertEquals(d.entry.depth, rel.split("/").length - 2, d.path);
    if (rel === "") {
      Deno.renameSync(`${root}/sub`, `${root}/renamed`);
      d.dirs[d.dirs.indexOf("sub")] = "renamed";
      Deno.mkdirSync(`${root}/created/deep`, { recursive: true });
      Deno.writeTextFileSync(`${root}/created/deep/g`, "");
      Deno.symlinkSync("keep", `${root}/lnk`);
      d.dirs.splice(d.dirs.indexOf("gone"), 1);
      d.dirs.push("created", "lnk", "missing", "keep");
    } else if (rel === "/renamed") {
      Deno.mkdirSync(`${root}/renamed/later`);
      d.dirs.push("later");
    }
  }
  for (const e of o.onError ? [] : it.errors) errs.push([e.path.slice(root.length), e.message]);
  return [out.sort(), errs.sort()];
}

Deno.test("walkDirs top-down walks the names a caller adds to dirs (created, renamed), as os.walk does", async () => {
  await using tmp = await tempDir("pwalk-added-");
  let n = 0;
  for (const follow of [false, true]) {
    for (const o of [{}, { stat: false }, { threads: 1 }] as WalkDirsOptions[]) {
      const mine = `${tmp.path}/t${n}`;
      const theirs = `${tmp.path}/py${n++}`;
      addedTree(mine);
      addedTree(theirs);
      const want = JSON.parse(await python(OS_WALK_ADDED, theirs, follow ? "1" : "0"));
      const got = await walkAdded(mine, { ...o, followSymlinks: follow });
      assertEquals(got, want, `followSymlinks: ${follow}, ${JSON.stringify(o)}`);
      // (the reference has what is tested: the added folders, walked twice
      // for a name added twice, and the missing one's error)
      const paths = want[0].map(([p]: Item) => p);
      for (const p of ["/renamed/inner", "/renamed/later", "/created/deep"]) {
        assert(paths.includes(p), p);
      }
      assertEquals(paths.filter((p: string) => p === "/keep/x").length, 2);
      assertEquals(want[1], [["/missing", "No such file or directory"]]);
      assertEquals(paths.includes("/lnk"), follow);
    }
  }
});

Deno.test("walkDirs: an added name goes through the walk's own rules (maxDepth, skip, exclude, noSnap, onError)", async () => {
  await using tmp = await tempDir("pwalk-added-rules-");
  let n = 0;
  /** Walk a fresh ROOT; at `a`, move the folders `add` names into it from outside and add them. */
  const run = async (o: WalkDirsOptions, add: string[]) => {
    const root = `${tmp.path}/r${n}`;
    const outside = `${tmp.path}/x${n++}`;
    Deno.mkdirSync(`${root}/a`, { recursive: true });
    for (const d of ["new/b/c", "skipme/e", "out/f", ".snapshot/g"]) {
      Deno.mkdirSync(`${outside}/${d}`, { recursive: true });
    }
    const paths: string[] = [];
    const errs: string[] = [];
    const o2 = { ...o, onError: (e: { path: string }) => errs.push(e.path.slice(root.length)) };
    for await (const d of walkDirs(root, o2)) {
      paths.push(d.path.slice(root.length));
      if (d.path !== `${root}/a`) continue;
      for (const name of add) {
        try {
          Deno.renameSync(`${outside}/${name}`, `${root}/a/${name}`);
        } catch { /* "nothing": no such folder */ }
        d.dirs.push(name);
      }
    }
    return [paths.sort(), errs];
  };
  // maxDepth counts from ROOT: a/new is at depth 2, a/new/b at 3
  assertEquals(await run({ maxDepth: 4 }, ["new"]), [["", "/a", "/a/new", "/a/new/b"], []]);
  assertEquals(await run({ maxDepth: 3 }, ["new"]), [["", "/a", "/a/new"], []]);
  assertEquals(await run({ maxDepth: 2 }, ["new"]), [["", "/a"], []]);
  assertEquals(await run({}, ["nothing"]), [["", "/a"], ["/a/nothing"]]);
  // skip, exclude and noSnap leave an added folder out as they leave out a listed one
  assertEquals(await run({ skip: [/skipme/], maxDepth: 3 }, ["skipme", "new"]), [
    ["", "/a", "/a/new"],
    [],
  ]);
  assertEquals(
    await run({ exclude: [`${tmp.path}/r${n}/a/out`] }, ["out", "new"]),
    [["", "/a", "/a/new", "/a/new/b", "/a/new/b/c"], []],
  );
  assertEquals(await run({ noSnap: true }, [".snapshot"]), [["", "/a"], []]);
  assertEquals(await run({}, [".snapshot", "out"]), [
    ["", "/a", "/a/.snapshot", "/a/.snapshot/g", "/a/out", "/a/out/f"],
    [],
  ]);
});

Deno.test("walkDirs: an added name must be one name (no /, not . or ..); an added link followed has viaLink", async () => {
  await using tmp = await tempDir("pwalk-added-names-");
  const root = `${tmp.path}/r`;
  Deno.mkdirSync(`${root}/a/b/c`, { recursive: true });
  Deno.mkdirSync(`${root}/ex/out/f`, { recursive: true });
  Deno.mkdirSync(`${root}/keep/x`, { recursive: true });
  // paths, not names: each an EINVAL error, and nothing walked twice or
  // past an exclusion by another spelling of it
  const bad = ["a/b/c", ".", "", "..", "a/..", "./ex", "ex/./out", `${root}/a`];
  const paths: string[] = [];
  const errs: [string, string][] = [];
  for await (
    const d of walkDirs(root, {
      exclude: [`${root}/ex/out`],
      onError: (e) => errs.push([e.path, e.code]),
    })
  ) {
    paths.push(d.path);
    if (d.path === root) d.dirs.push(...bad);
  }
  assertEquals(
    paths.sort(),
    [
      root,
      `${root}/a`,
      `${root}/a/b`,
      `${root}/a/b/c`,
      `${root}/ex`,
      `${root}/keep`,
      `${root}/keep/x`,
    ].sort(),
  );
  assertEquals(
    errs.sort(),
    bad.map((n) => [n.startsWith("/") ? n : `${root}/${n}`, "EINVAL"] as [string, string]).sort(),
  );
  // an added link to a folder, followed: its folder came through a link,
  // as the listed link's did (Deno.lstat: a link)
  Deno.symlinkSync("keep", `${root}/lnk`);
  const via = new Map<string, boolean[]>();
  for await (const d of walkDirs(root, { followSymlinks: true, maxDepth: 3 })) {
    if (d.path.startsWith(`${root}/lnk`)) {
      via.set(d.path, [...via.get(d.path) ?? [], d.entry.viaLink]);
    }
    if (d.path === root) d.dirs.push("lnk"); // listed already: walked once more
  }
  assert(Deno.lstatSync(`${root}/lnk`).isSymlink);
  // (viaLink: the folder a followed link led to, and the folders below it,
  // reached through it too)
  assertEquals(
    [...via].sort(),
    [[`${root}/lnk`, [true, true]], [`${root}/lnk/x`, [true, true]]],
  );
});

Deno.test("walkDirs: a subfolder skip leaves out stays out when the caller puts its name back in dirs", async () => {
  await using tmp = await tempDir("pwalk-added-skip-");
  const root = tmp.path;
  Deno.mkdirSync(`${root}/a/inner`, { recursive: true });
  Deno.mkdirSync(`${root}/skipme/inner`, { recursive: true });
  const paths: string[] = [];
  for await (const d of walkDirs(root, { skip: [/skipme/] })) {
    paths.push(d.path.slice(root.length));
    if (d.path === root) {
      assertEquals(d.dirs, ["a"]);
      d.dirs.push("skipme");
    }
  }
  assertEquals(paths.sort(), ["", "/a", "/a/inner"]);
});

Deno.test({
  name:
    "walkDirs oneFileSystem: a mount point is in no dirs, and one the caller adds is not walked",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir("pwalk-added-mount-");
    const root = `${tmp.path}/r`;
    Deno.mkdirSync(`${root}/a`, { recursive: true });
    Deno.mkdirSync(`${root}/mnt`);
    assertEquals(await mountTmpfs(`${root}/mnt`, "size=1m"), "");
    Deno.mkdirSync(`${root}/mnt/in`);
    for (const oneFileSystem of [true, false]) {
      const got: Item[] = [];
      for await (const d of walkDirs(root, { oneFileSystem })) {
        got.push([d.path.slice(root.length), [...d.dirs].sort(), d.files]);
        if (d.path === root && oneFileSystem) {
          Deno.mkdirSync(`${root}/b`); // created: walked, not the added mount point
          d.dirs.push("mnt", "b");
        }
      }
      assertEquals(
        got.sort(),
        oneFileSystem ? [["", ["a"], []], ["/a", [], []], ["/b", [], []]] : [
          ["", ["a", "b", "mnt"], []],
          ["/a", [], []],
          ["/b", [], []],
          ["/mnt", ["in"], []],
          ["/mnt/in", [], []],
        ],
        `oneFileSystem: ${oneFileSystem}`,
      );
    }
  },
});

const OS_WALK_SWAP = `
import errno, json, os, shutil, sys
root, by = sys.argv[1], sys.argv[2]
out, errs = [], []
onerror = lambda e: errs.append([e.filename, errno.errorcode[e.errno]])
for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
    out.append(dirpath)
    if dirpath == root:
        shutil.rmtree(os.path.join(root, "a"))
        if by == "link":
            os.symlink("other", os.path.join(root, "a"))
        else:
            open(os.path.join(root, "a"), "w").close()
print(json.dumps([sorted(out), sorted(errs)]))
`;

testNeeding([PYTHON3], {
  name: "walkDirs: a folder the loop body replaces by a link is left out with no error, " +
    "by a file an ENOTDIR error, as os.walk",
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/swap`;
    const make = () => {
      removeTree(root);
      for (const d of ["a/x", "other/y", "b"]) Deno.mkdirSync(`${root}/${d}`, { recursive: true });
      Deno.writeTextFileSync(`${root}/a/x/f`, "f");
    };
    for (const by of ["link", "file"]) {
      make();
      const want = JSON.parse(await python(OS_WALK_SWAP, root, by));
      make();
      const out: string[] = [];
      const errs: [string, string][] = [];
      const onError = (e: WalkError) => errs.push([e.path, e.code]);
      for await (const d of walkDirs(root, { onError })) {
        out.push(d.path);
        if (d.path !== root) continue;
        // in the loop's body, as os.walk's caller above
        Deno.removeSync(`${root}/a`, { recursive: true });
        if (by === "link") Deno.symlinkSync("other", `${root}/a`);
        else Deno.writeTextFileSync(`${root}/a`, "");
      }
      assertEquals([out.sort(), errs.sort()], want, by);
    }
  },
});

/** A walkDirs names-only child: the loop swaps `a` for a link to `other` once yielded. */
const SWAP_TO_OTHER_FS = `import { walkDirs } from ${JSON.stringify(`${REPO}/mod.ts`)};
const [root, other, limit] = Deno.args;
// every descriptor taken but 3 before the walk: it holds no folder open
// for its subfolders (a quarter of those free), so it opens them by path
const held = [];
while ([...Deno.readDirSync("/proc/self/fd")].length - 1 < Number(limit) - 3) {
  held.push(Deno.openSync("/dev/null"));
}
const seen = {}, errors = [];
const onError = (e) => void errors.push([e.path, e.op, e.code]);
for await (const d of walkDirs(root, { stat: false, threads: 1, onError })) {
  seen[d.path] = d.files;
  if (d.path === root + "/a") {
    Deno.renameSync(root + "/a", root + "/a_old");
    Deno.symlinkSync(other, root + "/a");
  }
}
console.log(JSON.stringify({ seen, errors }));`;

testNeeding([PRLIMIT], {
  name: "walkDirs names-only: a folder opened by path through a folder swapped for a link " +
    "to another file system is a race, though its inode number is the one listed",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    // two fresh tmpfs number their inodes alike: a/b in one, x/b in the other
    const root = `${tmp.path}/t1`, elsewhere = `${tmp.path}/t2`;
    for (const dir of [root, elsewhere]) {
      await Deno.mkdir(dir);
      assertEquals(await mountTmpfs(dir, "size=1m"), "");
    }
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${root}/a/b/mine`, "");
    await Deno.mkdir(`${elsewhere}/x/b`, { recursive: true });
    await Deno.writeTextFile(`${elsewhere}/x/b/theirs`, "");
    const [b, other] = [await Deno.lstat(`${root}/a/b`), await Deno.lstat(`${elsewhere}/x/b`)];
    assertEquals(other.ino, b.ino, "the premise: the other file system's x/b has a/b's number");
    assert(other.dev !== b.dev);
    const limit = 64;
    const r = await run("prlimit", [
      `--nofile=${limit}:${limit}`,
      "--",
      Deno.execPath(),
      "eval",
      SWAP_TO_OTHER_FS,
      root,
      `${elsewhere}/x`,
      String(limit),
    ]);
    assertEquals(r.code, 0, r.stderr);
    const got = JSON.parse(r.text);
    // the other file system's names are not listed as a/b's; a/b is a race
    assertEquals(got, {
      seen: { [root]: [], [`${root}/a`]: [] },
      errors: [[`${root}/a/b`, "race", "ESTALE"]],
    });
  },
});

Deno.test("walkDirs: the documented examples (its JSDoc's, README's loop) print what os.walk pruning .git gives", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-example-");
  const data = `${tmp.path}/data`;
  for (const d of [".git/objects/ab", "src/.git/refs", "src/lib", "docs/.github", "empty"]) {
    await Deno.mkdir(`${data}/${d}`, { recursive: true });
  }
  for (const f of [".git/HEAD", ".git/objects/ab/cd", "src/a.ts", "src/lib/b.ts", "docs/c.md"]) {
    await Deno.writeTextFile(`${data}/${f}`, "x");
  }
  await Deno.writeTextFile(`${data}/docs/.git`, "gitdir: elsewhere"); // a file: not pruned
  // the reference: os.walk, ".git" removed from each folder's dirnames
  const reference = async (withDirs: boolean) =>
    JSON.parse(
      await python(
        `import json, os, sys
out = []
for p, d, f in os.walk(sys.argv[1]):
    d[:] = [n for n in d if n != ".git"]
    out.append(" ".join([p] + ([str(len(d))] if sys.argv[2] == "1" else []) + [str(len(f))]))
print(json.dumps(sorted(out)))`,
        data,
        withDirs ? "1" : "0",
      ),
    ) as string[];
  const runs = async (code: string) =>
    (await runExample(code, `${tmp.path}/example.ts`, data)).trim().split("\n").sort();
  const want = await reference(false);
  // the premise: os.walk pruned the .git folders, not .github (nor the file docs/.git)
  assert(!want.some((l) => /\/\.git[ /]/.test(l)), want.join("\n"));
  assert(want.some((l) => l.includes("/docs/.github ")), want.join("\n"));
  // walkDirs()'s JSDoc example (a doc test, `deno test --doc`, on a tree of
  // its own): its loop, on this tree
  const src = await Deno.readTextFile(`${REPO}/lib/walk.ts`);
  const jsdoc = must(
    src.match(/@example List every folder[^\n]*\n \* ```ts\n([^]*?) \* ```/),
    "walkDirs()'s example in lib/walk.ts",
  );
  const counts = must(
    jsdoc[1].replace(/^ \* ?/gm, "").match(/^const fileCounts[^]*?\n\}\n/m),
    "walkDirs()'s example loop",
  );
  const print = "for (const [p, n] of Object.entries(fileCounts)) console.log(p, n);\n";
  assertEquals(
    await runs(`import { walkDirs } from "./mod.ts";\nconst dir = "/data";\n${counts[0]}${print}`),
    want,
    counts[0],
  );
  // README's Deno API example: its walkDirs() loop
  const readme = await Deno.readTextFile(`${REPO}/README.md`);
  const block = readme.match(/## Deno API\n\n```ts\n([^]*?)```/);
  const loop = must(
    block?.[1].match(/^for await \(const d of walkDirs\([^]*?\n\}\n/m),
    "README's walkDirs() example",
  );
  assertEquals(
    await runs(`import { walkDirs } from "./mod.ts";\n${loop[0]}`),
    await reference(true),
    loop[0],
  );
});

Deno.test("walkDirs: maxDepth 1 yields the root alone with its names (Deno.readDir's), 0 and below nothing, as documented", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-");
  const root = `${tmp.path}/r`;
  await Deno.mkdir(`${root}/a/b`, { recursive: true });
  await Deno.writeTextFile(`${root}/f`, "x");
  await Deno.writeTextFile(`${root}/a/g`, "y");
  const listed = [...Deno.readDirSync(root)];
  const dirs = listed.filter((e) => e.isDirectory).map((e) => e.name).sort();
  const files = listed.filter((e) => !e.isDirectory).map((e) => e.name).sort();
  for (const topDown of [true, false]) {
    for (const stat of [true, false]) {
      const at = async (maxDepth: number) => {
        const got: [string, string[], string[]][] = [];
        for await (const d of walkDirs(root, { maxDepth, topDown, stat })) {
          got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
        }
        return got;
      };
      const how = `topDown ${topDown}, stat ${stat}`;
      assertEquals(await at(1), [[root, dirs, files]], how);
      assertEquals(await at(1.5), [[root, dirs, files]], how);
      assertEquals(await at(0), [], how);
      assertEquals(await at(-1), [], how);
      assertEquals((await at(2)).map((x) => x[0]).sort(), [root, `${root}/a`], how);
    }
  }
});

Deno.test("walkDirs: a name added to the dirs of a folder whose path is not UTF-8 is an EILSEQ error, never the look-alike folder walked", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-added-bytes-");
  const root = `${tmp.path}/t`;
  // b\xff (not UTF-8) and b\xef\xbf\xbd (a real U+FFFD) show alike
  await python(
    `import os, sys
r = sys.argv[1].encode()
os.makedirs(r + b'/b\\xff')
os.makedirs(r + b'/b\\xef\\xbf\\xbd/new/theirs')`,
    root,
  );
  const enc = new TextEncoder();
  const bad = new Uint8Array([...enc.encode(`${root}/b`), 0xff]);
  const errors: WalkError[] = [];
  const seen: string[] = [];
  for await (const d of walkDirs(root, { onError: (e) => errors.push(e) })) {
    seen.push(d.path);
    if (d.entry.pathBytes && String(d.entry.pathBytes) === String(bad)) {
      // made in b\xff, then added (os.walk walks it): through Python, by bytes
      await python(
        `import os, sys
os.makedirs(bytes.fromhex(sys.argv[1]) + b'/new/mine')`,
        Array.from(bad, (x) => x.toString(16).padStart(2, "0")).join(""),
      );
      d.dirs.push("new");
    }
  }
  // b\uFFFD/new (the real U+FFFD's) walked once, by the walk itself; b\xff/new never
  assertEquals(seen.filter((p) => p === `${root}/b\uFFFD/new`).length, 1, seen.join("\n"));
  assert(!seen.some((p) => p.endsWith("/mine")), seen.join("\n"));
  assertEquals(errors.map((e) => [e.code, e.op, String(e.pathBytes)]), [
    ["EILSEQ", "open", String(new Uint8Array([...bad, ...enc.encode("/new")]))],
  ]);
});

Deno.test("walkDirs: a folder in dirs the loop's body replaces (by another folder; links followed, by a link to one) is walked as it is now, as os.walk walks it", async () => {
  await using tmp = await tempDir("pwalk-walkdirs-replaced-");
  type Seen = [string, string[], string[]];
  // each case: the tree made afresh, then the same body in Python and here
  const cases = [
    {
      name: "build swapped for the staged folder",
      follow: false,
      py: `shutil.rmtree(r + "/build"); os.rename(r + "/staged", r + "/build"); d.remove("staged")`,
      body: async (r: string, dirs: string[]) => {
        await Deno.remove(`${r}/build`, { recursive: true });
        await Deno.rename(`${r}/staged`, `${r}/build`);
        dirs.splice(dirs.indexOf("staged"), 1);
      },
    },
    {
      name: "data swapped for a link to a folder, links followed",
      follow: true,
      py: `shutil.rmtree(r + "/data"); os.symlink(r + "/../elsewhere", r + "/data")`,
      body: async (r: string) => {
        await Deno.remove(`${r}/data`, { recursive: true });
        await Deno.symlink(`${r}/../elsewhere`, `${r}/data`);
      },
    },
  ];
  // each also with ROOT given as a link to the tree (os.walk follows ROOT)
  // and names only (stat: false: no device or inode facts but the listing's)
  const all = [...cases, ...cases.map((c) => ({ ...c, viaLink: true }))];
  for (const [i, c] of [...all, ...all.map((c) => ({ ...c, namesOnly: true }))].entries()) {
    const make = async (r: string) => {
      await Deno.remove(r, { recursive: true }).catch(() => {});
      await Deno.remove(`${r}/../elsewhere`, { recursive: true }).catch(() => {});
      for (const d of ["build/old", "staged/ready/in", "data/old", "../elsewhere/new"]) {
        await Deno.mkdir(`${r}/${d}`, { recursive: true });
      }
      await Deno.writeTextFile(`${r}/staged/ready/f`, "");
      await Deno.writeTextFile(`${r}/../elsewhere/new/g`, "");
    };
    const real = `${tmp.path}/c${i}/t`;
    await make(real);
    const root = "viaLink" in c ? `${tmp.path}/c${i}/link` : real;
    if (root !== real) await Deno.symlink(real, root);
    const want: Seen[] = JSON.parse(
      await python(
        `import json, os, shutil, sys
r = sys.argv[1]
out = []
for p, d, f in os.walk(r, followlinks=${c.follow ? "True" : "False"}):
    out.append([p, sorted(d), sorted(f)])
    if p == r:
        ${c.py}
print(json.dumps(out))`,
        root,
      ),
    );
    await make(real);
    const got: Seen[] = [];
    const errors: WalkError[] = [];
    const depths = new Map<string, number>();
    for await (
      const d of walkDirs(root, {
        followSymlinks: c.follow,
        stat: !("namesOnly" in c),
        onError: (e) => errors.push(e),
      })
    ) {
      got.push([d.path, [...d.dirs].sort(), [...d.files].sort()]);
      depths.set(d.path, d.entry.depth);
      if (d.path === root) await c.body(root, d.dirs);
    }
    const order = (x: Seen[]) => x.map((s) => JSON.stringify(s)).sort();
    assertEquals(order(got), order(want), c.name);
    assertEquals(errors, [], c.name);
    // the depth of what was walked again: from ROOT, as a fresh walk gives it
    const fresh = new Map<string, number>();
    for await (const d of walkDirs(root, { followSymlinks: c.follow })) {
      fresh.set(d.path, d.entry.depth);
    }
    assertEquals(depths, fresh, c.name);
  }
});

Deno.test({
  name:
    "walkDirs top-down: a subfolder the loop body swaps for a bind mount of a folder above it is a loop error, neither yielded nor entered (review)",
  ignore: !canMountTmpfs(),
  async fn() {
    await using tmp = await tempDir();
    const root = `${tmp.path}/root`;
    Deno.mkdirSync(`${root}/a/x`, { recursive: true });
    Deno.writeTextFileSync(`${root}/a/f`, "f");
    const errors: WalkError[] = [];
    const seen: string[] = [];
    for await (const d of walkDirs(root, { onError: (e) => errors.push(e) })) {
      seen.push(d.path);
      if (d.path === `${root}/a`) {
        // x, listed, replaced before it is read by another folder: a bind
        // mount of the root (a cycle once walked again by its name)
        Deno.removeSync(`${root}/a/x`);
        Deno.mkdirSync(`${root}/a/x`);
        assertEquals(await mountBind(root, `${root}/a/x`), "");
      }
    }
    assertEquals(seen.sort(), [root, `${root}/a`]);
    assertEquals(errors.map((e) => [e.op, e.path, e.code]), [["loop", `${root}/a/x`, "ELOOP"]]);
  },
});
