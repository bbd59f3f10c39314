/**
 * One run of a shard at a time: a shard holds an exclusive lock on
 * `scan-I.lock`, named after its record `scan-I.done.json` (flock; over NFS
 * the client turns it into a lock the server keeps for every node, but a
 * share mounted with `nolock` or `local_lock=flock|all`, or Lustre with
 * `localflock`, keeps it on each node alone: runs on two nodes both take it) from
 * before it touches its record until its record is written, so that a
 * second run of the same shard (by hand, or a requeue while the first still
 * runs; its output spelled with another suffix too, which shares the
 * record) is refused at its start instead of racing the first for the
 * output and the record.
 *
 * @module
 */

import { readProcFile } from "../procfs.ts";
import { besidePath, osErrorText } from "../outfile.ts";
import { recordPath } from "./paths.ts";
import { nodeLayerWorks } from "../node_layer.ts";
import { oneLine } from "../utf8.ts";

/** A second run of a shard that is running now: refused, nothing touched. */
export class ShardBusyError extends Error {
  /** An error named "ShardBusyError" (as RefusedError is named). */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ShardBusyError";
  }
}

/** A held shard lock; {@link ShardLock.release} removes the lock file and lets go. */
export interface ShardLock {
  /** The lock file. */
  path: string;
  /** Remove the lock file (while still held) and release it. */
  release(): Promise<void>;
}

const same = (a: Deno.FileInfo, b: Deno.FileInfo) => a.dev === b.dev && a.ino === b.ino;

/**
 * The lock file of the shard writing `output`: its record's name
 * ({@link recordPath}) with `.lock` for `.done.json` (`scan-3.csv.zst` and
 * `scan-3.csv` both give `scan-3.lock`: they share the record, so one lock).
 */
export function lockPath(output: string): string {
  return besidePath(recordPath(output).replace(/\.done\.json$/, ""), ".lock");
}

/**
 * Lock {@link lockPath} of `output` for shard `shard` of the plan `plan`
 * (its id), both written into the file after the holder's pid and host
 * (`shard 3 of plan ID`); with `probe` (a dry run), only whether it could
 * be: the file neither made nor written, its release removing nothing.
 * Throws {@link ShardBusyError} when another process holds it, naming its
 * pid and host and, when that is another shard (two shards given one
 * output, outside the plan's folder) or another plan's, which one it is.
 * Resolves to null when the file system has no locks (Lustre mounted
 * without `flock`): the run goes on unlocked, as before.
 */
export function lockShard(
  output: string,
  shard: number,
  plan = "",
  { probe = false } = {},
): Promise<ShardLock | null> {
  const path = lockPath(output);
  const mine = `shard ${shard} of plan ${plan}`;
  return lockFile(
    path,
    (holder, theirs) => {
      const m = /^shard (\d+) of plan (\S*)$/.exec(theirs);
      const who = holder ? ` (${holder})` : "";
      // (a lock written without its shard, by an older pwalk: by its name, this shard's)
      if (!m || theirs === mine || (m[1] === String(shard) && (!m[2] || !plan))) {
        return new ShardBusyError(
          `shard ${shard} is already running${who}: ${oneLine(path)} is locked by it; ` +
            "wait for it to end, or end it",
        );
      }
      const whose = m[2] === plan ? `shard ${m[1]}` : `shard ${m[1]} of another plan (${m[2]})`;
      return new ShardBusyError(
        `${whose}${who} is running with the same record and lock: ${
          oneLine(path)
        } is locked by it; ` +
          `wait for it to end, or write shard ${shard} to another file`,
      );
    },
    mine,
    probe,
  );
}

/**
 * Lock a scan folder's `slurm.lock` while a `pwalk slurm` plans, submits
 * or resubmits its shards and records the submission in slurm.json: a
 * second one at once (two `--resume` of the same folder would both submit
 * the same shards, and slurm.json keep one of the two submissions) is
 * refused with {@link ShardBusyError} naming the first. Resolves to null
 * when the file system has no locks.
 */
export function lockScanFolder(dir: string): Promise<ShardLock | null> {
  const path = `${dir}/slurm.lock`;
  return lockFile(path, (holder) =>
    new ShardBusyError(
      `${oneLine(dir)} is being submitted by another pwalk slurm${holder ? ` (${holder})` : ""}, ` +
        `which holds ${oneLine(path)}: nothing was submitted; wait for it to end (pwalk status ${
          oneLine(dir)
        } ` +
        "then tells what is left)",
    ));
}

/**
 * Lock the file `path` (made if needed; {@link openLockFile}) and write
 * `pid N on HOST` in it, and the line `about` when given; `busy(holder,
 * about)` is thrown when another process holds it (what it wrote, or "").
 * Null when the file system has no locks. With `probe`, nothing is made or
 * written: a lock that no file is there for is free, and the release only
 * lets go.
 */
async function lockFile(
  path: string,
  busy: (holder: string, about: string) => Error,
  about = "",
  probe = false,
): Promise<ShardLock | null> {
  // A lock file removed by the run that held it, between our open and our
  // lock, is not the lock any more: open the new one (a few rounds at most).
  for (let round = 0;; round++) {
    const f = await openLockFile(path, !probe);
    if (!f && probe && !(await Deno.lstat(path).then(() => true, () => false))) {
      return { path, release: () => Promise.resolve() }; // no lock file: nobody holds it
    }
    if (!f) { // its holder ended (and removed it), or another run made it anew: again
      if (round < 100) continue;
      throw new Error(`${oneLine(path)}: replaced again and again while being opened`);
    }
    let held: boolean;
    try {
      held = await f.tryLock(true);
    } catch {
      f.close(); // ENOSYS, ENOLCK, EOPNOTSUPP: no locks here
      return null;
    }
    if (!held) {
      const [holder, theirs] = await holderOf(f);
      f.close();
      throw busy(holder, theirs);
    }
    let now: Deno.FileInfo | null = null;
    try {
      now = await Deno.lstat(path);
    } catch { /* removed meanwhile */ }
    const mine = await f.stat();
    if (!now || !same(now, mine)) {
      f.close();
      if (round < 100) continue;
      throw new Error(`${oneLine(path)}: replaced again and again while being locked`);
    }
    if (probe) return { path, release: () => Promise.resolve(f.close()) };
    try {
      await f.truncate(0);
      const text = `pid ${Deno.pid} on ${Deno.hostname()}\n${about ? `${about}\n` : ""}`;
      const b = new TextEncoder().encode(text);
      for (let n = 0; n < b.length;) n += await f.write(b.subarray(n));
    } catch (e) {
      // a full disk, a quota: the file removed while still held, and named
      await Deno.remove(path).catch(() => {});
      f.close();
      throw new Error(`pwalk: cannot write ${path}: ${osErrorText(e)}`);
    }
    return {
      path,
      release: async () => {
        await Deno.remove(path).catch(() => {});
        f.close();
      },
    };
  }
}

/**
 * Open the lock file: made new (O_CREAT | O_EXCL: never through a link,
 * dangling or not; unless `create` is false), or an existing regular file
 * of this user with one name only (root must not write through a link or a
 * hard link someone put in a scan folder they may write). Throws
 * RefusedError-like errors for anything else; null when it went (its holder
 * released it) or was made anew between the looks: the caller looks again.
 */
async function openLockFile(path: string, create = true): Promise<Deno.FsFile | null> {
  try {
    if (create) {
      return await Deno.open(path, { read: true, write: true, createNew: true, mode: 0o644 });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new Error(`pwalk: cannot write ${path}: ${osErrorText(e)}`);
    }
  }
  let l: Deno.FileInfo;
  try {
    l = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null; // released (removed) meanwhile
    throw e;
  }
  const uid = Deno.uid();
  if (!l.isFile || l.nlink !== 1 || (uid !== null && l.uid !== uid)) {
    throw new Error(
      `${oneLine(path)}: not a lock file of yours (${
        l.isSymlink
          ? "a symbolic link"
          : !l.isFile
          ? "not a regular file"
          : l.nlink !== 1
          ? `a file with ${l.nlink} names`
          : `owned by uid ${l.uid}`
      }): remove it, or run pwalk as its owner`,
    );
  }
  let f: Deno.FsFile;
  try {
    f = await openNoFollow(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null; // released (removed) meanwhile
    throw e;
  }
  const s = await f.stat();
  if (!same(s, l) || s.nlink !== 1) {
    // replaced between the lstat and the open: by another run's new lock
    // (its holder released it, another made it), looked at again from the
    // start (a link or another user's file there is refused then)
    f.close();
    return null;
  }
  return f;
}

/** Linux's O_PATH: a descriptor of the file itself, which opens nothing. */
const O_PATH = 0o10000000;

/**
 * `path` opened for reading and writing, never through a link: on Linux
 * its inode taken with O_PATH and O_NOFOLLOW (a link swapped in since the
 * lstat: ELOOP, nothing opened; a device or FIFO: not opened, its driver
 * never reached), then opened through /proc/self/fd only when it is a
 * regular file; elsewhere (or without /proc, or node:fs), by its name, the
 * caller's check after the open telling a swap.
 */
async function openNoFollow(path: string): Promise<Deno.FsFile> {
  if (Deno.build.os !== "linux" || !nodeLayerWorks()) {
    return await Deno.open(path, { read: true, write: true });
  }
  try {
    Deno.statSync("/proc/self/fd");
  } catch {
    return await Deno.open(path, { read: true, write: true });
  }
  const fs = await import("node:fs");
  let fd: number;
  try {
    fd = fs.openSync(path, O_PATH | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = String((e as { code?: string }).code);
    if (code === "ENOENT") throw new Deno.errors.NotFound(`${path}: No such file or directory`);
    if (code === "ELOOP") {
      throw new Error(`${oneLine(path)}: not a lock file of yours (a symbolic link)`);
    }
    throw e;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) {
      throw new Error(`${oneLine(path)}: not a lock file of yours (not a regular file)`);
    }
    return await Deno.open(`/proc/self/fd/${fd}`, { read: true, write: true });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The process a shard's lock file names (`pid N on HOST`, as its holder
 * wrote it, and the plan's id of its `shard I of plan ID` line), read
 * without taking the lock; null when there is none. The
 * file stays after a run killed outright (its lock does not), so the
 * process may be gone.
 */
export async function lockHolder(
  path: string,
): Promise<{ pid: number; host: string; plan?: string } | null> {
  try {
    const text = new TextDecoder().decode((await Deno.readFile(path)).subarray(0, 512));
    const m = /^pid (\d+) on (\S+)\n(?:shard \d+ of plan (\S+)\n)?/.exec(text);
    return m ? { pid: Number(m[1]), host: m[2], ...(m[3] ? { plan: m[3] } : {}) } : null;
  } catch {
    return null;
  }
}

/**
 * Whether a lock on the file `path` is held now on this host, as the
 * kernel tells it without the lock being taken (a shard that starts
 * meanwhile is never refused by the check) and without a request to any
 * file system but procfs (a descriptor on a hung mount answers nothing):
 * `pid`, the process its lock file names, has a descriptor of that inode
 * with a lock on it (its /proc/PID/fdinfo: `ino:` and a `lock:` line), or
 * /proc/locks lists one on its device and inode (a holder whose pid is
 * another here: a container's own pid numbers). False when that process
 * holds none (gone, or its pid another's now); undefined when it cannot be
 * told (no /proc, another user's process, the file gone). A lock file's pid
 * alone cannot tell it: a run killed outright leaves the file, and its pid
 * may be another process's since (a reboot, a container).
 */
export async function lockHeldHere(path: string, pid?: number): Promise<boolean | undefined> {
  if (!nodeLayerWorks()) return undefined; // no /proc
  const me = await ownFdinfo(path);
  if (!me) return undefined;
  const byPid = pid === undefined ? undefined : await heldBy(pid, me);
  if (byPid) return true;
  if (listedInProcLocks(me)) return true;
  return byPid;
}

/** The lock file as this process's own descriptor of it shows it in fdinfo (procfs's view of the very inode a holder's shows). */
interface FdId {
  /** fdinfo's `mnt_id:` and `ino:` lines, as text (an inode number past 2^53 exact). */
  mnt: string;
  ino: string;
  /** stat's device, for /proc/locks. */
  dev: number;
}

/**
 * Open `path` (read only, never a FIFO's wait, never through a link) and
 * read its fdinfo: the mount and inode a holder's descriptor of it shows
 * too (on overlayfs, the layer's file, which stat does not number so).
 */
async function ownFdinfo(path: string): Promise<FdId | undefined> {
  const fs = await import("node:fs");
  const c = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(path, c.O_RDONLY | c.O_NONBLOCK | c.O_NOFOLLOW | c.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return undefined;
    // (through the C library where Deno refuses /proc: not under --allow-all)
    const info = new TextDecoder().decode(readProcFile(`/proc/self/fdinfo/${fd}`));
    const mnt = /^mnt_id:\s*(\d+)$/m.exec(info)?.[1], ino = /^ino:\s*(\d+)$/m.exec(info)?.[1];
    return mnt && ino ? { mnt, ino, dev: st.dev } : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether process `pid` holds a lock on the file `me` names (a descriptor
 * whose fdinfo shows its mount and inode, and a `lock:` line), procfs
 * alone; undefined: not to be told.
 */
async function heldBy(pid: number, me: FdId): Promise<boolean | undefined> {
  const fds: string[] = [];
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/fdinfo`)) fds.push(e.name);
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? false : undefined; // gone; or not ours to read
  }
  for (const fd of fds) {
    let info: string;
    try {
      info = new TextDecoder().decode(readProcFile(`/proc/${pid}/fdinfo/${fd}`));
    } catch {
      continue; // closed meanwhile
    }
    if (
      /^lock:\s/m.test(info) && /^ino:\s*(\d+)$/m.exec(info)?.[1] === me.ino &&
      /^mnt_id:\s*(\d+)$/m.exec(info)?.[1] === me.mnt
    ) return true;
  }
  return false;
}

/**
 * Whether /proc/locks lists a flock lock on the file `me`, by the device
 * and inode it prints; undefined without /proc/locks. (The device it
 * prints is the file system's own: on overlayfs or a btrfs subvolume
 * stat's may differ, and the lock is not seen so: the holder's
 * descriptors tell it, heldBy.)
 */
function listedInProcLocks(me: FdId): boolean | undefined {
  let locks: string;
  try {
    const bytes = readProcFile("/proc/locks");
    if (!bytes) return undefined;
    locks = new TextDecoder().decode(bytes);
  } catch {
    return undefined;
  }
  // glibc's dev_t: the major in bits 8-19 and 44-63, the minor in bits 0-7 and 20-43
  const dev = BigInt(me.dev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  // "1: FLOCK  ADVISORY  WRITE 4242 00:2a:123456 0 EOF" (a waiter's: "1: -> FLOCK ...")
  for (const m of locks.matchAll(/^\d+: FLOCK +\S+ +\S+ +\S+ +([0-9a-f]+):([0-9a-f]+):(\d+) /gm)) {
    if (BigInt(`0x${m[1]}`) === major && BigInt(`0x${m[2]}`) === minor && m[3] === me.ino) {
      return true;
    }
  }
  return false;
}

/** What the holder wrote into the lock file: `pid N on HOST` (or ""), and its next line (or ""). */
async function holderOf(f: Deno.FsFile): Promise<[string, string]> {
  try {
    const b = new Uint8Array(512);
    const n = await f.read(b);
    const [line, next = ""] = new TextDecoder().decode(b.subarray(0, n ?? 0)).split("\n");
    return [/^pid \d+ on \S+$/.test(line) ? line : "", next];
  } catch {
    return ["", ""];
  }
}
