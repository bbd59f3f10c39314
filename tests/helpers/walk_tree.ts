/**
 * Test helpers for walk() and walkDirs(): generated trees (built lazily,
 * once per test module, in its scratch folder), an independent reference
 * computed with Deno.readDirSync/Deno.lstatSync, and the walk's worker
 * threads as /proc shows them.
 *
 * @module
 */
import { mountTmpfs, scratchDir } from "./temp.ts";
import { mktree, python } from "./tree.ts";
import { waitFor } from "./wait.ts";
import { GOVERNOR_NAME, procStat, WORKER_NAME } from "./system.ts";
import { walk, walkDirs } from "../../mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function lazy(build: () => Promise<string>): () => Promise<string> {
  let p: Promise<string> | undefined;
  return () => (p ??= build());
}

/**
 * mktree.py --files 20000 --weird: hostile names (one not UTF-8), a path of
 * more than 6,000 bytes, the loop `weird/loop -> ..`, a dangling link, a
 * FIFO, a hard link, the mode-000 folder `weird/locked`.  Every folder is
 * read once after the build so that later reads do not move atimes
 * (relatime updates a folder's atime on its first read after a change).
 */
export const weirdTree: () => Promise<string> = lazy(async () => {
  const dest = `${scratchDir()}/weird-tree`;
  await mktree(dest, 20000, 3, true);
  await python(WARM, dest);
  return dest;
});

/** Read every folder once (by file descriptor: paths longer than PATH_MAX too). */
const WARM = `
import os, sys
for _ in os.fwalk(os.fsencode(sys.argv[1])):
    pass
`;

/** Files in the big tree (100 folders of 1,000 files). */
export const BIG_FILES = 100_000;

/**
 * A tree of 100,000 empty files in 100 folders, on a tmpfs mounted for it
 * when possible (a second to build, where a busy disk can take 20 s).
 */
export const bigTree: () => Promise<string> = lazy(async () => {
  const mnt = `${scratchDir()}/big`;
  Deno.mkdirSync(mnt);
  const why = await mountTmpfs(mnt, "size=64m,mode=0755");
  if (why) console.log(`bigTree: no tmpfs (${why}): building on disk`);
  const dest = `${mnt}/tree`;
  await python(
    `
import os, sys
root = sys.argv[1]
os.mkdir(root)
for d in range(100):
    dp = os.path.join(root, "dir%03d" % d)
    os.mkdir(dp)
    fd = os.open(dp, os.O_RDONLY)
    for f in range(1000):
        os.close(os.open("file-%03d-%04d-with-a-longer-name-for-bigger-batches.dat" % (d, f),
                         os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)
for _ in os.fwalk(root):
    pass
`,
    dest,
  );
  return dest;
});

/** Kind of an entry, from lstat. */
export type Kind = "file" | "dir" | "symlink" | "other";

/** One entry of the reference walk. */
export interface RefEntry {
  path: string;
  /** The path's bytes when they are not valid UTF-8 (from python). */
  rawPath?: Uint8Array;
  name: string;
  kind: Kind;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  ino: number;
  dev: number;
  nlink: number;
  blocks: number;
  /** Deno.lstat's Date.getTime(): ms, truncated. */
  mtime: number;
  atime: number;
  /** Deno.lstat's ctime has whole seconds only: ms precision is in ctimeNs. */
  ctime: number;
  /** ctime in ns from python's os.lstat (every entry). */
  ctimeNs: bigint;
  /** pwalk's depth: the root -1. */
  depth: number;
  parentIno: number;
  /** Folders: names in the listing and the sum of their lstat sizes. */
  fcount: number;
  dirsum: number;
  dirs: string[];
  files: string[];
}

/** Path bytes as lowercase hex (map keys for raw paths). */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Whether a link (relative to the current folder) leads to a folder. */
function isFolderTarget(name: string): boolean {
  try {
    return Deno.statSync(name).isDirectory;
  } catch {
    return false; // dangling, or a loop
  }
}

function kindOf(i: Deno.FileInfo): Kind {
  return i.isSymlink ? "symlink" : i.isDirectory ? "dir" : i.isFile ? "file" : "other";
}

/**
 * Python's view of the tree through directory file descriptors (no
 * PATH_MAX limit): for every entry its path bytes (hex), ctime in ns and,
 * for paths that are not UTF-8, every lstat fact.
 */
const PY_STAT = `
import os, sys, json, stat
root = os.fsencode(sys.argv[1])
out = {}
def put(p, st, full):
    try:
        p.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    d = {"ctime_ns": str(st.st_ctime_ns)}
    if not utf8 or full:
        d.update(mode=st.st_mode, size=st.st_size, uid=st.st_uid, gid=st.st_gid, ino=st.st_ino,
                 dev=st.st_dev, nlink=st.st_nlink, blocks=st.st_blocks,
                 mtime_ns=str(st.st_mtime_ns), atime_ns=str(st.st_atime_ns))
    out[p.hex()] = d
put(root, os.stat(root), True)
for dirpath, dirnames, filenames, dfd in os.fwalk(root):
    for n in dirnames + filenames:
        put(os.path.join(dirpath, n), os.lstat(n, dir_fd=dfd), False)
json.dump(out, sys.stdout)
`;

interface PyStat {
  ctime_ns: string;
  mode?: number;
  size?: number;
  uid?: number;
  gid?: number;
  ino?: number;
  dev?: number;
  nlink?: number;
  blocks?: number;
  mtime_ns?: string;
  atime_ns?: string;
}

/** What lstat says about an entry. */
type Facts = Pick<
  RefEntry,
  | "kind"
  | "size"
  | "mode"
  | "uid"
  | "gid"
  | "ino"
  | "dev"
  | "nlink"
  | "blocks"
  | "mtime"
  | "atime"
  | "ctime"
  | "ctimeNs"
>;

const S_IFMT = 0o170000;
const KINDS: Record<number, Kind> = { 0o040000: "dir", 0o120000: "symlink", 0o100000: "file" };

/** The facts python gave for a path that is not UTF-8. */
function fromPython(s: PyStat): Facts {
  return {
    kind: KINDS[s.mode! & S_IFMT] ?? "other",
    size: s.size!,
    mode: s.mode!,
    uid: s.uid!,
    gid: s.gid!,
    ino: s.ino!,
    dev: s.dev!,
    nlink: s.nlink!,
    blocks: s.blocks!,
    mtime: Number(BigInt(s.mtime_ns!) / 1_000_000n),
    atime: Number(BigInt(s.atime_ns!) / 1_000_000n),
    ctime: Number(BigInt(s.ctime_ns) / 1_000_000_000n) * 1000,
    ctimeNs: BigInt(s.ctime_ns),
  };
}

/**
 * The reference: every entry below `root` (and the root), computed with
 * Deno.readDirSync and Deno.lstatSync.  Folders are entered with
 * Deno.chdir and read by relative names so that paths longer than
 * PATH_MAX work; links are never followed.  Entries whose names are not
 * UTF-8 (Deno gives their names lossily and cannot lstat them) take their
 * facts from python.
 */
export async function reference(root: string): Promise<Map<string, RefEntry>> {
  const py: Record<string, PyStat> = JSON.parse(await python(PY_STAT, root));
  const map = new Map<string, RefEntry>();
  const rawByLossy = new Map<string, [Uint8Array, PyStat]>();
  for (const [h, st] of Object.entries(py)) {
    const bytes = fromHex(h);
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      rawByLossy.set(dec.decode(bytes), [bytes, st]);
    }
  }
  const entry = (
    path: string,
    name: string,
    facts: Facts,
    depth: number,
    parentIno: number,
    rawPath?: Uint8Array,
  ): RefEntry => ({
    path,
    ...(rawPath ? { rawPath } : {}),
    name,
    ...facts,
    depth,
    parentIno,
    fcount: -1,
    dirsum: 0,
    dirs: [],
    files: [],
  });
  const fromDeno = (path: string, i: Deno.FileInfo): Facts => ({
    kind: kindOf(i),
    size: i.size,
    mode: i.mode!,
    uid: i.uid!,
    gid: i.gid!,
    ino: i.ino!,
    dev: i.dev,
    nlink: i.nlink!,
    blocks: i.blocks!,
    mtime: i.mtime!.getTime(),
    atime: i.atime!.getTime(),
    ctime: i.ctime!.getTime(),
    ctimeNs: BigInt(py[hex(enc.encode(path))]?.ctime_ns ?? "-1"),
  });

  const cwd = Deno.cwd();
  try {
    const rootInfo = Deno.statSync(root);
    const top = entry(root, root.slice(root.lastIndexOf("/") + 1), fromDeno(root, rootInfo), -1, 0);
    map.set(root, top);
    Deno.chdir(root);
    const visit = (dir: RefEntry) => {
      dir.fcount = 0;
      for (const d of Deno.readDirSync(".")) {
        const path = `${dir.path}/${d.name}`;
        let e: RefEntry;
        const raw = rawByLossy.get(path);
        if (raw) {
          e = entry(path, d.name, fromPython(raw[1]), dir.depth + 1, dir.ino, raw[0]);
        } else {
          e = entry(path, d.name, fromDeno(path, Deno.lstatSync(d.name)), dir.depth + 1, dir.ino);
        }
        map.set(path, e);
        dir.fcount++;
        dir.dirsum += e.size;
        // os.walk's rule: a link to a folder is among the folder names too.
        const toDir = e.kind === "symlink" && isFolderTarget(d.name);
        (e.kind === "dir" || toDir ? dir.dirs : dir.files).push(e.name);
        if (e.kind === "dir") {
          Deno.chdir(d.name);
          visit(e);
          Deno.chdir("..");
        }
      }
    };
    visit(top);
  } finally {
    Deno.chdir(cwd);
  }
  return map;
}

/** std depth (@std/fs walk: the root 0) of a reference entry. */
export function stdDepth(e: { depth: number }): number {
  return e.depth + 1;
}

/** Sorted copy. */
export function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

/** Differences between two path sets, for readable assertion messages. */
export function setDiff(actual: Iterable<string>, expected: Iterable<string>): string {
  const a = new Set(actual);
  const e = new Set(expected);
  const extra = [...a].filter((x) => !e.has(x));
  const missing = [...e].filter((x) => !a.has(x));
  if (!extra.length && !missing.length) return "";
  const show = (xs: string[]) => JSON.stringify(xs.slice(0, 8)) + (xs.length > 8 ? " ..." : "");
  return `${extra.length} unexpected: ${show(extra)}; ${missing.length} missing: ${show(missing)}`;
}

/** One native worker thread: its id, name, state letter and CPU time in ticks. */
export interface ThreadInfo {
  tid: number;
  name: string;
  state: string;
  cpuTicks: number;
}

/**
 * The library's walk threads in this process, by the names it gives them:
 * the workers, and the governor of a walk whose thread count is not given.
 * (Deno's own threads carry names of their own, so none is taken for one.)
 */
export function nativeThreads(names: string[] = [WORKER_NAME, GOVERNOR_NAME]): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const t of Deno.readDirSync("/proc/self/task")) {
    let comm: string, f: string[];
    try {
      comm = Deno.readTextFileSync(`/proc/self/task/${t.name}/comm`).trim();
      f = procStat(`/proc/self/task/${t.name}/stat`);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (!names.includes(comm)) continue;
    // vsize (field 23) 0: the thread has left its address space, so it has
    // ended (pthread_join returns then) and only waits for the kernel to
    // remove its entry; it runs nothing of ours any more.
    if (Number(f[20]) === 0) continue;
    out.push({
      tid: Number(t.name),
      name: comm,
      state: f[0],
      cpuTicks: Number(f[11]) + Number(f[12]),
    });
  }
  return out;
}

/**
 * The workers still there after a walk that joined them: {@link nativeThreads}
 * once it is empty, or after 10 s (a loaded machine may be slow to drop them). The kernel wakes pthread_join (clearing
 * the thread id) before it drops the exiting thread's memory map, so for a
 * moment a joined thread still shows in /proc, running, with its map (seen
 * once: a worker in state R with 0 ticks). A thread that was not joined
 * (a leak) stays, and is returned.
 */
export async function threadsLeft(): Promise<ThreadInfo[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const ts = nativeThreads();
    if (ts.length === 0 || performance.now() > deadline) return ts;
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * Wait until the walk's threads ({@link nativeThreads}) are all asleep
 * (state S): with a consumer that stopped reading, they have filled every
 * free batch and wait for one. Returns them.
 */
export function blockedWorkers(): Promise<ThreadInfo[]> {
  return waitFor(() => {
    const ts = nativeThreads();
    return ts.length > 0 && ts.every((t) => t.state === "S") ? ts : undefined;
  }, {
    what: "the walk's workers to block on full batches",
    detail: () => JSON.stringify(nativeThreads()),
  });
}

/**
 * A RegExp for `skip` that never matches but removes `target` the first
 * time the walk asks about it (as its parent's listing is decoded, before
 * the folder is entered): the folder then vanishes between being listed
 * and being read; `replace` then puts something else in its place (a link,
 * a file).
 */
export class VanishOnAsk extends RegExp {
  /** The folder to remove. */
  target: string;
  /** What to put at `target` once it is removed. */
  replace?: (path: string) => void;
  /** How many times `target` was asked about. */
  asked = 0;
  constructor(target: string, replace?: (path: string) => void) {
    super("(?!)");
    this.target = target;
    this.replace = replace;
  }
  override test(path: string): boolean {
    // Asked again on the JavaScript side for the folder's own row.
    if (path === this.target && this.asked++ === 0) {
      Deno.removeSync(path, { recursive: true });
      this.replace?.(path);
    }
    return false;
  }
}

/** What the kernel shows of thread `tid` of this process: where it sleeps, and its stack. */
function kernelWait(tid: number): string {
  const read = (f: string) => {
    try {
      return Deno.readTextFileSync(`/proc/self/task/${tid}/${f}`).trim();
    } catch {
      return ""; // ended meanwhile, or no kernel stacks in this kernel
    }
  };
  return `${read("wchan")}\n${read("stack")}`;
}

/**
 * The library's worker threads waiting for an answer of a FUSE server:
 * asleep in the FUSE request code (`request_wait_answer`, or another
 * `fuse_` function where a kernel inlined that one).
 */
export function inFuse(): number[] {
  return nativeThreads([WORKER_NAME])
    .filter((t) => /request_wait_answer|\bfuse_/.test(kernelWait(t.tid)))
    .map((t) => t.tid);
}

/**
 * Start `api` ("walk", "walkDirs top-down" or "walkDirs bottom-up") on
 * `root` with 4 threads and `extra` options, wait (at most `guardMs`, a
 * hang guard) until one of its workers waits on a stopped FUSE server,
 * then leave it as `how` says: "abort"
 * (the signal aborted with `reason`, the loop run to its end) or "break"
 * (the iterator's return(), what `break` calls; the consumer holds an
 * item, the one just taken, a folder of walkDirs whose next never comes).
 * `left` settles when the walk does; `it` is the walk's iterator. If no
 * worker is seen waiting in time, the walk is left all the same (its
 * threads end once the server goes on) and the error says where each
 * worker was.
 */
export async function leaveHungWalk(
  api: string,
  how: string,
  root: string,
  extra: { errorsCsvFd?: number },
  what: string,
  guardMs: number,
  server?: { describe(): string },
): Promise<{ it: AsyncIterableIterator<unknown>; left: Promise<unknown>; reason: Error }> {
  const ac = new AbortController();
  const options = { threads: 4, signal: ac.signal, ...extra };
  const it: AsyncIterableIterator<unknown> = api === "walk"
    ? walk(root, options)
    : walkDirs(root, { ...options, topDown: api === "walkDirs top-down" });
  try {
    await it.next(); // the first one starts the workers
    // top-down, a/ is entered once the root's turn is over
    if (api === "walkDirs top-down") await it.next();
    await waitFor(() => inFuse().length > 0, {
      what: `${what}: a worker to wait on the stopped server`,
      timeoutMs: guardMs,
      detail: () =>
        JSON.stringify(
          nativeThreads().map((t) => ({ ...t, kernel: kernelWait(t.tid).split("\n").slice(0, 6) })),
        ),
    });
  } catch (e) {
    // what the walk and the server were doing: a walk that ended (no worker
    // left) had its answers, from a server not stopped or a mount gone
    const walkState = await Promise.race([
      it.next().then(
        (r) => r.done ? "the walk had ended" : "the walk was still yielding",
        (err) => `the walk had failed: ${(err as Error)?.message ?? err}`,
      ),
      new Promise<string>((r) => setTimeout(() => r("the walk was waiting"), 1000)),
    ]);
    // never leave a walk running for the tests after this one
    ac.abort(e);
    void it.return!(undefined).catch(() => {});
    const about = `${walkState}${server ? `; ${server.describe()}` : ""}`;
    throw new Error(`${(e as Error).message} (${about})`, { cause: e });
  }
  const reason = new Error("enough");
  const left: Promise<unknown> = how === "abort"
    ? (async () => {
      setTimeout(() => ac.abort(reason), 0);
      for await (const _ of it) { /* what comes before the abort */ }
    })()
    : it.return!(undefined);
  return { it, left, reason };
}
