/**
 * Test trees: the spec's example tree, generated trees (bench/mktree.py), a
 * wide flat tree (and one that grows), and the edge-case tree; a seeded
 * PRNG for the trees tests generate themselves; python3 for what Deno
 * cannot make quickly or at all.
 *
 * @module
 */
import { REPO, runOk } from "./run.ts";
import { bytes, join } from "./bytes.ts";
import { lutimes, mkdirChain, mkdirRaw, mkfifo, symlinkRaw, writeFileRaw } from "./libc.ts";

/** Run python3 with a script and arguments; throw on failure, return its stdout. */
export async function python(script: string, ...args: string[]): Promise<string> {
  return (await runOk("python3", ["-c", script, ...args])).text;
}

/** bench/mktree.py DEST --files N --seed S [--weird]. */
export async function mktree(dest: string, files: number, seed: number, weird = false) {
  const args = [`${REPO}/bench/mktree.py`, dest, "--files", String(files), "--seed", String(seed)];
  await runOk("python3", weird ? [...args, "--weird"] : args);
}

/**
 * A wide tree made fast: folders `dir<first>`... `dir<first+dirs-1>` of
 * `perDir` empty files each, with names of about 200 bytes (so rows are
 * long and a report grows quickly). Returns the number of entries made.
 *
 * With `links`, the files are names of one empty file, `ROOT.links` beside
 * the tree (mode 0644, as the files would be; past the 65,000 names ext4
 * gives a file, of `ROOT.links-1` and so on): a walk lists and stats each
 * name as the empty file it is, only st_ino (the same for all) and st_nlink
 * differ, and on a disk slow to make inodes (the dev and CI machines',
 * ~0.3 ms a file) the tree is made ten times faster or more. For trees that
 * are only read; not where files are changed (repair, chown: a change to
 * one name is a change to all) or inodes are counted.
 */
export async function flatTree(
  root: string,
  dirs: number,
  perDir: number,
  first = 0,
  links = false,
): Promise<number> {
  await python(
    `import errno, os, sys
root, dirs, per, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
links = root.rstrip("/") + ".links" if sys.argv[5] == "1" else None
made = 0
def target():
    t = links if made == 0 else "%s-%d" % (links, made)
    os.close(os.open(t, os.O_CREAT | os.O_WRONLY, 0o644))
    return t
if links: t = target()
pad = "w" * 190
for d in range(first, first + dirs):
    p = os.path.join(root, "dir%04d" % d)
    os.mkdir(p)
    for i in range(per):
        f = os.path.join(p, "f%06d-%s.dat" % (i, pad))
        if not links:
            os.close(os.open(f, os.O_CREAT | os.O_WRONLY, 0o644))
            continue
        while True:
            try:
                os.link(t, f)
                break
            except OSError as e:
                # a file takes 65,000 names on ext4 (a grown tree has more):
                # the next names go to ROOT.links-1, -2...
                if e.errno != errno.EMLINK: raise
                made += 1
                t = target()
`,
    root,
    String(dirs),
    String(perDir),
    String(first),
    links ? "1" : "0",
  );
  return dirs + dirs * perDir;
}

/**
 * `dirs` folders (d00, d01...) of `perDir` empty files with short names
 * (f0000...): a tree for tests that watch a whole report run (threads,
 * the governor), made as fast as the file system creates files. Returns
 * the number of entries made (the root's not counted).
 */
export async function emptyFilesTree(root: string, dirs: number, perDir: number): Promise<number> {
  await python(
    `import os, sys
root, dirs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    p = os.path.join(root, "d%02d" % d); os.makedirs(p)
    for f in range(per): os.close(os.open(os.path.join(p, "f%04d" % f), os.O_CREAT | os.O_WRONLY))`,
    root,
    String(dirs),
    String(perDir),
  );
  return dirs + dirs * perDir;
}

/** A {@link flatTree} that can be made bigger: see {@link growingTree}. */
export interface GrowingTree {
  /** The entries in the tree now, its root included. */
  readonly entries: number;
  /** Double the number of folders (each of as many files as the first). */
  grow(): Promise<void>;
}

/**
 * A wide tree to interrupt a run in: the folder `root` (made here) holding
 * a {@link flatTree} of `dirs` folders of `perDir` files (by default about
 * 40,000 entries, 10 MB of CSV), of `links` to one file if asked (see
 * flatTree). When a run finished before the interruption landed, `grow()`
 * doubles it and the test tries again.
 */
export async function growingTree(
  root: string,
  dirs = 40,
  perDir = 1000,
  links = false,
): Promise<GrowingTree> {
  await Deno.mkdir(root);
  let entries = 1 + await flatTree(root, dirs, perDir, 0, links);
  return {
    get entries() {
      return entries;
    },
    async grow() {
      entries += await flatTree(root, dirs, perDir, dirs, links);
      dirs *= 2;
    },
  };
}

/** A small seeded PRNG (mulberry32): the same tree for the same seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The time the spec's example tree carries on every entry but the root. */
export const EXAMPLE_TIME = 1700000000;

/** Entries of the example tree other than the root, children before their folders. */
const SMALL_ENTRIES = [
  "empty",
  "proj/a.txt",
  "proj/multi.dot.tar.gz",
  "proj/.bashrc",
  "proj/trailing.",
  'proj/quo"te,comma.csv',
  "proj/new\nline.txt",
  "proj/link",
  "proj/fifo",
  "proj/sub.d/big.dat",
  "proj/sub.d",
  "proj",
];

/**
 * The tree of the spec's example-small.csv, under `root` (which must exist):
 * modes 0755/0644 as made by coreutils with umask 022.
 */
export async function smallTree(root: string): Promise<void> {
  await Deno.chmod(root, 0o755);
  await Deno.mkdir(`${root}/empty`, { mode: 0o755 });
  await Deno.mkdir(`${root}/proj/sub.d`, { recursive: true, mode: 0o755 });
  const file = async (p: string, size: number) => {
    await Deno.writeFile(`${root}/${p}`, new Uint8Array(size).fill(0x78), { mode: 0o644 });
    await Deno.chmod(`${root}/${p}`, 0o644);
  };
  await file("proj/a.txt", 5);
  await file("proj/multi.dot.tar.gz", 10);
  await file("proj/.bashrc", 0);
  await file("proj/trailing.", 0);
  await file('proj/quo"te,comma.csv', 0);
  await file("proj/new\nline.txt", 0);
  await file("proj/sub.d/big.dat", 5000);
  await Deno.symlink("a.txt", `${root}/proj/link`);
  mkfifo(`${root}/proj/fifo`, 0o644);
  await Deno.chmod(`${root}/proj/fifo`, 0o644);
  for (const d of ["empty", "proj", "proj/sub.d"]) await Deno.chmod(`${root}/${d}`, 0o755);
  setSmallTimes(root);
}

/**
 * Set every entry's atime and mtime (links included, not followed) to the
 * example's time. Call it again before each walk: listing a folder updates
 * its atime (relatime).
 */
export function setSmallTimes(root: string): void {
  for (const p of SMALL_ENTRIES) lutimes(`${root}/${p}`, EXAMPLE_TIME, EXAMPLE_TIME);
}

/**
 * The spec's option example: `ex/{a/b/c/f, skip/x/g, .snapshot/s/}` with f
 * holding 3 bytes.
 */
export async function specExTree(root: string): Promise<void> {
  await Deno.mkdir(`${root}/a/b/c`, { recursive: true });
  await Deno.mkdir(`${root}/skip/x`, { recursive: true });
  await Deno.mkdir(`${root}/.snapshot/s`, { recursive: true });
  await Deno.writeTextFile(`${root}/a/b/c/f`, "abc");
  await Deno.writeTextFile(`${root}/skip/x/g`, "g");
}

/** What {@link edgeTree} made, for targeted assertions. */
export interface EdgeTree {
  /** Names (raw) of entries that hold bytes below 32. */
  controlNames: Uint8Array[];
  /** Raw paths of the symbolic links. */
  links: Uint8Array[];
  /** Raw path of the deepest folder of the 2,000-folder chain. */
  deepest: Uint8Array;
  /** Raw path of the file at the bottom of the long-names chain. */
  longest: Uint8Array;
  /** Depth of the 2,000-folder chain. */
  chainDepth: number;
}

/**
 * Names with quotes, commas, newlines, tabs, carriage returns, backslashes
 * and bytes that are not UTF-8 (files and a folder); symlink loops, a
 * dangling link, a FIFO; a chain of 2,000 nested folders; a chain of long
 * names making a path of more than 6,000 bytes.
 */
export function edgeTree(root: string): EdgeTree {
  const r = bytes(root);
  const names: (string | Uint8Array)[] = [
    'quo"te.txt',
    '"',
    '""double""',
    "com,ma.csv",
    ",",
    "back\\slash.txt",
    "sp ace .txt",
    "日本語.txt",
    ".hidden",
    "trailing.",
    "..two.dots.txt",
    "a.tar.gz",
    new Uint8Array([0x6c, 0x61, 0x74, 0x69, 0x6e, 0x31, 0x2d, 0xe9, 0xff, 0x2e, 0x62, 0x69, 0x6e]), // latin1-\xe9\xff.bin
    new Uint8Array([0x80, 0x81, 0xfe]), // no extension, invalid UTF-8 only
    new Uint8Array([0x78, 0x2e, 0xc3]), // "x." + a truncated UTF-8 sequence as extension
  ];
  const controlNames = [
    bytes("new\nline.txt"),
    bytes("tab\there.log"),
    bytes("car\rriage.dat"),
    bytes("\x01start.bin"),
  ];
  for (const n of [...names, ...controlNames]) writeFileRaw(join(r, n), bytes("0123456789"));
  // a folder whose name is not UTF-8, with content, and one with a quote and a comma
  const bad = join(r, new Uint8Array([0x64, 0x69, 0x72, 0xe9])); // dir\xe9
  mkdirRaw(bad);
  writeFileRaw(join(bad, "inside.txt"), bytes("abc"));
  writeFileRaw(join(bad, new Uint8Array([0xff])));
  mkdirRaw(join(r, 'q"d,ir'));
  writeFileRaw(join(join(r, 'q"d,ir'), "x.y"));
  // links: loops, a self loop, a dangling one, a link to a folder
  mkdirRaw(join(r, "links"));
  const l = join(r, "links");
  const links: [string, string][] = [
    [".", "loop-dot"],
    ["..", "loop-up"],
    ["self", "self"],
    ["pong", "ping"],
    ["ping", "pong"],
    ["/nonexistent/target/of/a/dangling/link", "dangling"],
    [root, "to-root"],
  ];
  for (const [target, name] of links) symlinkRaw(target, join(l, name));
  mkfifo(join(r, "fifo"));
  // 2,000 nested folders, then a file at the bottom
  const chainDepth = 2000;
  mkdirRaw(join(r, "deep"));
  const deepest = mkdirChain(
    join(r, "deep"),
    Array.from({ length: chainDepth - 1 }, (_, i) => bytes(`d${i % 10}`)),
  );
  writeFileRaw(join(deepest, "bottom.txt"), bytes("bottom"));
  // long names: 26 x 240 bytes = a path of more than 6,000 bytes
  mkdirRaw(join(r, "long"));
  const longDir = mkdirChain(
    join(r, "long"),
    Array.from({ length: 26 }, (_, i) => bytes(String(i).padStart(3, "0") + "L".repeat(237))),
  );
  const longest = join(longDir, "end.of.a.very.long.path.txt");
  writeFileRaw(longest, bytes("x"));
  return {
    controlNames,
    links: links.map(([, n]) => join(l, n)),
    deepest,
    longest,
    chainDepth,
  };
}
