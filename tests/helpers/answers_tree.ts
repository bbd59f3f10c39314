/**
 * Trees for the summary/diff tests, and their independent reference
 * computed with Deno.readDir + Deno.lstat (never with project code).
 *
 * The tree: nested folders (up to 4 levels), regular files with real data
 * (so they have allocated blocks) and some sparse ones (apparent size far
 * above allocated), owned by several uids and gids (the tests run as root),
 * with access and modification times spread over ten years, a few symbolic
 * links, and one hard-linked pair inside one folder (so `du` of any folder
 * counts it once, as the summary does).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { rng } from "./tree.ts";

/** Options of {@link answersTree}. */
export interface TreeOptions {
  seed: number;
  files: number;
  /** Owners to spread entries over. */
  uids: number[];
  gids: number[];
  /** Times are set as ages before this (seconds since the epoch). */
  now: number;
}

const EXTS = ["txt", "csv", "h5", "dat", "", "log", "tar.gz", "fastq"];

/** Make the tree under `root` (which must exist). Returns the files made. */
export async function answersTree(root: string, o: TreeOptions): Promise<string[]> {
  const r = rng(o.seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const dirs = [root];
  const made: string[] = [];
  const day = 86400;
  for (let i = 0; i < o.files; i++) {
    if (r() < 0.12 || dirs.length < 3) {
      const parent = pick(dirs);
      const depth = parent.slice(root.length).split("/").length - 1;
      if (depth < 4) {
        const d = `${parent}/d${dirs.length}_${pick(["raw", "proc", "run", "v"])}`;
        await Deno.mkdir(d);
        await Deno.chown(d, pick(o.uids), pick(o.gids));
        dirs.push(d);
      }
    }
    const dir = pick(dirs);
    const ext = pick(EXTS);
    const p = `${dir}/f${i}${ext ? "." + ext : ""}`;
    const size = r() < 0.1 ? 0 : Math.floor(2 ** (r() * 17));
    await Deno.writeFile(p, new Uint8Array(size).fill(0x61 + (i % 26)));
    if (r() < 0.08) await Deno.truncate(p, size + 50_000_000); // sparse tail
    await Deno.chown(p, pick(o.uids), pick(o.gids));
    const mtime = o.now - Math.floor(r() * 3650 * day);
    const atime = r() < 0.5 ? mtime : o.now - Math.floor(r() * 3650 * day);
    await Deno.utime(p, atime, mtime);
    made.push(p);
  }
  for (let i = 0; i < 3; i++) await Deno.symlink(made[i], `${pick(dirs)}/link${i}`);
  await Deno.link(made[made.length - 1], `${made[made.length - 1]}.hardlink`);
  return made;
}

/** One entry of the reference walk. */
export interface RefEntry {
  path: string;
  depth: number;
  kind: "f" | "d" | "l" | "o";
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  atime: number;
  mtime: number;
  ino: number;
  nlink: number;
  /** Folders: direct entries. */
  children: number;
}

/** Every entry below (and including) `root`, from Deno.readDir and Deno.lstat. */
export async function walkRef(root: string): Promise<RefEntry[]> {
  const out: RefEntry[] = [];
  const visit = async (path: string, depth: number) => {
    const st = depth < 0 ? await Deno.stat(path) : await Deno.lstat(path);
    const kind = st.isFile ? "f" : st.isDirectory ? "d" : st.isSymlink ? "l" : "o";
    const e: RefEntry = {
      path,
      depth,
      kind,
      uid: st.uid!,
      gid: st.gid!,
      size: st.size,
      blocks: st.blocks!,
      atime: Math.floor(st.atime!.getTime() / 1000),
      mtime: Math.floor(st.mtime!.getTime() / 1000),
      ino: st.ino!,
      nlink: st.nlink!,
      children: -1,
    };
    out.push(e);
    if (kind === "d") {
      e.children = 0;
      for await (const c of Deno.readDir(path)) {
        e.children++;
        await visit(`${path}/${c.name}`, depth + 1);
      }
    }
  };
  await visit(root, -1);
  return out;
}

/**
 * Bytes counting each hard-linked inode once: [apparent, allocated]. As the
 * summary documents, of the names of one inode (not a folder) the first in
 * byte order carries the bytes, whichever subset `entries` is.
 */
export function sums(entries: RefEntry[], all: RefEntry[] = entries): [number, number] {
  const extra = extraNames(all);
  let ab = 0, al = 0;
  for (const e of entries) {
    if (extra.has(e.path)) continue;
    ab += e.size;
    al += e.blocks * 512;
  }
  return [ab, al];
}

/**
 * The extra names of hard-linked inodes: every name of an inode but the
 * first in byte order (which keeps the bytes).
 */
export function extraNames(all: RefEntry[]): Set<string> {
  const first = new Map<number, string>();
  for (const e of all) {
    if (e.kind === "d" || e.nlink < 2) continue;
    const f = first.get(e.ino);
    if (f === undefined || Buffer.compare(Buffer.from(e.path), Buffer.from(f)) < 0) {
      first.set(e.ino, e.path);
    }
  }
  const extra = new Set<string>();
  for (const e of all) {
    if (e.kind !== "d" && e.nlink > 1 && first.get(e.ino) !== e.path) extra.add(e.path);
  }
  return extra;
}

/** `du -s -B1 [--apparent-size] PATH`: [apparent, allocated]. */
export async function du(path: string): Promise<[number, number]> {
  const one = async (args: string[]) => {
    const r = await new Deno.Command("du", { args: [...args, "-s", "-B1", "--", path] }).output();
    if (!r.success) throw new Error(`du ${path} failed: ${new TextDecoder().decode(r.stderr)}`);
    return Number(new TextDecoder().decode(r.stdout).split("\t")[0]);
  };
  return [await one(["--apparent-size"]), await one([])];
}
