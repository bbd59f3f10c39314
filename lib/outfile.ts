/**
 * Where a file written whole goes, by what is at its name now, as report's
 * `-o` decides it: shared by the answer commands' outputs and the CLI's
 * `--errors FILE`. (Four imports, themselves without any: the CLI's
 * static module graph stays small; node:fs is loaded only to check an
 * output that is there.)
 *
 * @module
 */
import { interrupted, outputPlaced, removeOnInterrupt } from "./interrupt.ts";
import { untrustedAncestor } from "./trust.ts";
import { errnoText } from "./errno.ts";
import { abortable } from "./abortable.ts";
import { oneLine } from "./utf8.ts";
import {
  lstat,
  readLinkSync,
  readProcFile,
  realPath,
  realPathSync,
  stat,
  statSync,
  unlessRefused,
  writableThroughLibc,
} from "./procfs.ts";
import { nodeLayerWorks } from "./node_layer.ts";

/** A file system error's text without Deno's " (os error N): op 'path'" tail. */
export function osErrorText(e: unknown): string {
  const text = String((e as Error)?.message ?? e).replace(/:? ?\(os error \d+\).*$/s, "");
  // out of descriptors (EMFILE, ENFILE): what to do, as the walker says it
  return /^Too many open files( in system)?$/.test(text) ? `${text}: ${MORE_FILES}` : text;
}

/** What to do when out of descriptors (EMFILE, ENFILE), as every message says it. */
export const MORE_FILES = "raise the limit of open files (ulimit -n) or use fewer threads";

/**
 * Bytes of a file's name kept whole at the head of the temporary names
 * beside it (FILE.partial-PID-N, a shard's FILE.top-PID.zst, ...): up to
 * 191, so that any of those suffixes (under 64 bytes) fits the 255-byte
 * limit of a name. A longer name is cut to its first 175 bytes, "~" and 8
 * hex digits of its FNV-1a hash, so that two long names that begin alike
 * (shards of one plan) keep apart. native/sink.c cuts the same way.
 */
const TEMP_PREFIX_MAX = 191;
const TEMP_HEAD = 175;

/**
 * The head of the temporary names beside a file named `base`: `base`
 * itself, or, when it is longer than 191 bytes, its first 175 bytes (whole
 * characters), "~" and the FNV-1a hash of all its bytes in 8 hex digits.
 *
 * @example
 * ```ts
 * import { tempPrefix } from "./outfile.ts";
 * tempPrefix("scan.csv.zst"); // "scan.csv.zst"
 * tempPrefix("n".repeat(250)).length; // 184
 * ```
 */
export function tempPrefix(base: string): string {
  const b = new TextEncoder().encode(base);
  if (b.length <= TEMP_PREFIX_MAX) return base;
  let cut = TEMP_HEAD;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--; // not inside a character
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return `${new TextDecoder("utf-8", { ignoreBOM: true }).decode(b.subarray(0, cut))}~${
    h.toString(16).padStart(8, "0")
  }`;
}

/** `path` with its last name replaced by its {@link tempPrefix} followed by `suffix`. */
export function besidePath(path: string, suffix: string): string {
  const slash = path.lastIndexOf("/");
  return path.slice(0, slash + 1) + tempPrefix(path.slice(slash + 1)) + suffix;
}

/** A hidden temporary name in the folder of `file`, for writing it whole and renaming. */
function partialBeside(file: string): string {
  const slash = file.lastIndexOf("/");
  const dir = slash < 0 ? "." : file.slice(0, slash) || "/";
  return `${dir}/${
    tempPrefix(`.${file.slice(slash + 1)}`)
  }.partial-${Deno.pid}-${crypto.randomUUID()}`;
}

/** What {@link partialBeside} names, after `.NAME`: a dead run's are removed by {@link removeBeside}. */
export const PARTIAL_BESIDE: RegExp = /^\.partial-(\d+)-[0-9a-f-]{36}$/;

/**
 * What the library names its temporary beside FILE, after FILE's
 * {@link tempPrefix}: `.partial-PID-N` (native/sink.c). A dead run's are
 * removed by {@link removeBeside}.
 */
export const LIBRARY_PARTIAL: RegExp = /^\.partial-(\d+)-\d+$/;

/**
 * The temporary name the library's next output to the file `path` takes
 * beside it, told before it starts: `FILE.partial-PID-N` with the first N
 * (0-99) that names nothing now, as the library tries them (each made
 * with O_EXCL, in this order). Undefined when none is free or the folder
 * cannot be looked in. Told and used in one synchronous step with the
 * start, no other output of this process can take it in between; the
 * caller checks that the name is there after the start.
 */
export function libraryPartial(path: string): string | undefined {
  for (let n = 0; n < 100; n++) {
    const name = besidePath(path, `.partial-${Deno.pid}-${n}`);
    try {
      Deno.lstatSync(name);
    } catch (e) {
      return e instanceof Deno.errors.NotFound ? name : undefined;
    }
  }
  return undefined;
}

/**
 * Give the new file `tmp`, about to replace `old` (its stat, or null for a
 * new name), the old file's owner and group (where allowed: root) and
 * permission bits, as -o does: a private file stays private.
 */
function keepOwnerMode(tmp: string, old: Deno.FileInfo | null): void {
  if (!old) return;
  // The mode first, while the file is the runner's: once chowned to another
  // user, she may rename a link over it even in a sticky folder, and a
  // chmod by its name would follow the link (a file of her choosing made
  // set-id). So nothing is done by its name after the chown (the rename
  // that follows is checked, renameWhole), and the kernel's chown clears
  // set-id bits: they are kept only where the owner stays the same.
  Deno.chmodSync(tmp, old.mode! & 0o7777);
  try {
    Deno.chownSync(tmp, old.uid, old.gid);
  } catch { /* not root: the file is the runner's */ }
}

/**
 * Whether a new file beside `file` may be handled by its name after it is
 * made (chowned and chmodded by {@link keepOwnerMode}, written by DuckDB):
 * only when no one but root and the runner can rename names in its folder
 * or the folders above ({@link untrustedAncestor}; a sticky folder such as
 * /tmp passes). Elsewhere another user could rename a link over the
 * temporary name between two calls and have them act on a file of her
 * choosing: there the temporary is written through the descriptor that
 * made it ({@link createPartial}) and keeps no other owner.
 */
export function safeByName(file: string): boolean {
  return untrustedAncestor(folderOf(file)) === undefined;
}

/**
 * Make `tmp`, the temporary that will replace `old` (its stat, or null for
 * a new name), open for writing: never through a link (O_CREAT|O_EXCL),
 * with the old file's permission bits from the start (less the umask; a
 * private file stays private), for writing through the descriptor.
 */
async function createPartial(
  tmp: string,
  old: Deno.FileInfo | null,
): Promise<Deno.FsFile> {
  return await Deno.open(tmp, partialOpen(old));
}

/**
 * {@link createPartial} in one synchronous step, for a temporary registered
 * for removal on interrupt in the same step: a signal's handler runs only
 * between steps, so it finds the file made and registered, or neither (made
 * by an asynchronous call, the file could appear after the handler's
 * removal, and be left though the handler said it removed it).
 */
function createPartialSync(tmp: string, old: Deno.FileInfo | null): Deno.FsFile {
  return Deno.openSync(tmp, partialOpen(old));
}

function partialOpen(old: Deno.FileInfo | null): Deno.OpenOptions {
  return { write: true, createNew: true, mode: old ? old.mode! & 0o777 : 0o666 };
}

/**
 * Write all of `bytes` to `f`; `signal` stops a write that waits (a FIFO
 * whose reader takes nothing): it rejects with the signal's reason.
 */
export async function writeAll(
  f: Deno.FsFile,
  bytes: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await abortable(f.write(bytes.subarray(off)), signal);
  }
}

/** A file's identity: its device and inode (a Deno.FileInfo's). */
export type FileId = Pick<Deno.FileInfo, "dev" | "ino">;

/**
 * Rename the temporary `tmp` over `dest`, then check that `dest` is `id`
 * (the temporary's fstat, through a descriptor the caller holds open until
 * this returns: a file closed and replaced could free its inode number for
 * hers): another user who renamed a file or link of hers over the
 * temporary just before would otherwise have it put at `dest` by this
 * rename, the run's output lost with a status of success. Throws, naming
 * what happened (callers put it after "cannot write FILE: ").
 */
/**
 * Make `dest` the temporary `tmp` (the file `id`) if `dest` is missing (a
 * hard link, then `tmp` removed); true when done, false where links cannot
 * be made (the caller renames). Throws AlreadyExists when `dest` is there
 * now, and as {@link renameWhole} does when what was linked is not the
 * file written (another user put their own at the temporary's name).
 */
function linkWhole(tmp: string, dest: string, id: FileId): boolean {
  checkTemporary(tmp, id, "linked");
  try {
    Deno.linkSync(tmp, dest);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw e;
    return false; // (a file system without hard links: EPERM, ENOTSUP)
  }
  const same = (p: string) => {
    try {
      const st = Deno.lstatSync(p);
      return st.dev === id.dev && st.ino === id.ino;
    } catch {
      return false;
    }
  };
  if (!same(dest)) {
    // (what was linked, if it is still at dest: not left in place)
    try {
      const at = Deno.lstatSync(dest), was = Deno.lstatSync(tmp);
      if (at.dev === was.dev && at.ino === was.ino) Deno.removeSync(dest);
    } catch { /* gone, or not what was linked */ }
    throw new Error(
      "another file took the place of the one written as it was linked " +
        "(another run writing to the same name at once, or another user who can change its " +
        "folder): give each run a name of its own in a folder of yours",
    );
  }
  if (same(tmp)) {
    try {
      Deno.removeSync(tmp);
    } catch { /* gone already */ }
  }
  return true;
}

/**
 * Throw (as {@link renameWhole}) when the temporary's name no longer holds
 * the file written, `id`: before it is renamed or linked into place (it is
 * checked again after, for a change in between).
 */
function checkTemporary(tmp: string, id: FileId, how: string): void {
  let was: Deno.FileInfo | undefined;
  try {
    was = Deno.lstatSync(tmp);
  } catch { /* gone: the rename or link says so */ }
  if (was && (was.dev !== id.dev || was.ino !== id.ino)) {
    throw new Error(
      `another file took the place of the one written before it was ${how} ` +
        "(another run writing to the same name at once, or another user who can change its " +
        "folder): give each run a name of its own in a folder of yours",
    );
  }
}

function renameWhole(tmp: string, dest: string, id: FileId): void {
  checkTemporary(tmp, id, "renamed");
  Deno.renameSync(tmp, dest);
  let now: Deno.FileInfo | undefined;
  try {
    now = Deno.lstatSync(dest);
  } catch { /* gone already: not ours either */ }
  if (now?.dev !== id.dev || now?.ino !== id.ino) {
    throw new Error(
      "another file took the place of the one written as it was renamed " +
        "(another run writing to the same name at once, or another user who can change its " +
        "folder): give each run a name of its own in a folder of yours",
    );
  }
}

/**
 * Open a direct target (a character device or FIFO, {@link outputTarget})
 * for writing, neither created nor truncated, and only if it is still the
 * file that was looked at: a FIFO another user planted and then replaced by
 * a link to a file of root's, during a long convert, is not written.
 * Throws naming `shown`.
 */
export async function openDirect(target: OutputTarget, shown: string): Promise<Deno.FsFile> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(target.path, { write: true });
  } catch (e) {
    // /dev/stdout, /dev/pts/3: Deno refuses /dev to a script without
    // --allow-all (and a link to /dev/stdout leads it to "pipe:[...]"):
    // this process's own stdout or stderr is written through its
    // descriptor all the same
    const own = await ownStream(target);
    if (own) return own;
    // another terminal (/dev/tty, /dev/pts/3): through the C library
    let dev, why = e;
    try {
      dev = writableThroughLibc(target.path, e);
    } catch (failed) {
      why = failed;
    }
    if (!dev) throw new Error(`pwalk: cannot write ${oneLine(shown)}: ${osErrorText(why)}`);
    f = dev;
  }
  const st = f.statSync();
  if (
    target.id && (st.dev !== target.id.dev || st.ino !== target.id.ino ||
      !(st.isFifo || st.isCharDevice))
  ) {
    f.close();
    throw new Error(
      `pwalk: cannot write ${oneLine(shown)}: it was replaced by another file since it was checked`,
    );
  }
  return f;
}

/**
 * This process's stdout or stderr as the file {@link openDirect} gives
 * (write, and a close that leaves it open), when `target` is the file one
 * of them is open on (node:fs's fstat of a descriptor asks no permission);
 * otherwise undefined.
 */
async function ownStream(target: OutputTarget): Promise<Deno.FsFile | undefined> {
  if (!target.id || !nodeLayerWorks()) return undefined;
  const fs = await import("node:fs");
  for (const [fd, stream] of [[1, Deno.stdout], [2, Deno.stderr]] as const) {
    let st;
    try {
      st = fs.fstatSync(fd);
    } catch {
      continue; // closed
    }
    if (st.dev !== target.id.dev || st.ino !== target.id.ino) continue;
    return {
      write: (b: Uint8Array) => stream.write(b),
      statSync: () => statSync(`/proc/self/fd/${fd}`),
      close: () => {},
      [Symbol.dispose]: () => {},
    } as unknown as Deno.FsFile;
  }
  return undefined;
}

/**
 * Wait until the FIFO `path` has a reader, as the library's report output
 * waits (a non-blocking open every 20 ms), so that `signal` reaches the
 * wait: a blocking open (Deno.open) of a FIFO with no reader is an
 * operation no abort ends, and a first Ctrl-C or SIGTERM would go
 * unheeded. Throws `signal`'s reason once it aborts. Resolves to a closer
 * of the descriptor that found the reader: kept open until the output is
 * opened (its own open then returns at once), so that the FIFO has a
 * writer meanwhile. Anything that is not a FIFO, and any other error
 * (where node:fs cannot load: no wait), resolves at once to a closer that
 * does nothing: the output's own open tells.
 */
export async function fifoReader(path: string, signal?: AbortSignal): Promise<() => void> {
  const none = () => {};
  try {
    if (!Deno.statSync(path).isFifo || !nodeLayerWorks()) return none;
  } catch {
    return none;
  }
  const fs = await import("node:fs");
  const c = fs.constants;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const fd = fs.openSync(path, c.O_WRONLY | c.O_NONBLOCK | c.O_NOCTTY);
      return () => fs.closeSync(fd);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENXIO") return none; // no reader yet: ENXIO
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Where an output file is written. */
export interface OutputTarget {
  /** The file to write (a link's target, when the name is a link). */
  path: string;
  /** A character device or FIFO: written as it is, not replaced by a new file. */
  direct: boolean;
  /** A direct target's device and inode when it was looked at: {@link openDirect} opens only it. */
  id?: FileId;
}

/** Options of {@link outputTarget} and {@link checkedOutput}. */
export interface OutputTargetOptions {
  /**
   * A link at the name is replaced (a new file renamed over the link
   * itself), never written through, whatever it points to: a shard's output
   * in a scan folder, where others may have put it. A name of this
   * process's descriptors (`/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/2`,
   * spelled so or otherwise) is refused (a RangeError): never replaced.
   * Default false (report's `-o`: a link is written through).
   */
  replaceLink?: boolean;
  /**
   * The command or option that writes the file (`"convert"`, `"--html"`):
   * given, a shard's output in a sharded scan's folder is refused too
   * ({@link checkedOutput}), as only its shard writes it.
   */
  who?: string;
  /**
   * {@link checkedOutput}: a check of the file to be written (its path as
   * resolved; not for a device or FIFO, written directly), made once it is
   * known writable as it was seen, before the probe file is made in its
   * folder: what it refuses (a folder the scan enters, whose mtime the
   * probe would change) is left untouched.
   */
  beforeProbe?: (path: string) => Promise<void>;
}

/**
 * Whether `file`, spelled out whole (made absolute, `.`, `..` and doubled
 * slashes resolved by name), names one of this process's descriptors:
 * `/dev/stdout`, `/dev/stderr`, `/dev/fd/3`, `/proc/self/fd/1`. These are
 * links (in /dev, of the system; in /proc, of the kernel), never a file of
 * a scan folder to be replaced.
 */
function descriptorName(file: string): boolean {
  let abs = file;
  if (!abs.startsWith("/")) {
    try {
      abs = `${Deno.cwd()}/${file}`;
    } catch {
      return false; // the working folder is gone: the write fails too
    }
  }
  const names: string[] = [];
  for (const n of abs.split("/")) {
    if (n === "" || n === ".") continue;
    if (n === "..") names.pop();
    else names.push(n);
  }
  return DESCRIPTOR_PATH.test(`/${names.join("/")}`);
}
const DESCRIPTOR_PATH =
  /^\/(?:dev\/std(?:in|out|err)|dev\/fd\/\d+|proc\/(?:self|thread-self|\d+)\/(?:task\/\d+\/)?fd\/\d+)$/;

/**
 * The descriptor `file` leads to, as the kernel resolves it: its links
 * followed (`err.csv -> /dev/stderr`, `/dev//stderr`, `/dev/fd/3`) until a
 * name in a process's descriptor folder, `/proc/PID/fd/N` (or
 * `/proc/PID/task/TID/fd/N`), which is returned, its PID as a number;
 * undefined when the path reaches no such name (or cannot be resolved:
 * what opens it then tells why). Such a name is a link of the kernel's to
 * whatever the descriptor holds: a file written whole and renamed over
 * what it leads to would replace that file (a log the process's stderr
 * appends to), never reaching the descriptor.
 *
 * @example
 * ```ts ignore
 * import { descriptorBehind } from "./outfile.ts";
 * console.log(descriptorBehind("/dev/stderr")); // `/proc/${Deno.pid}/fd/2`
 * ```
 */
export function descriptorBehind(file: string): string | undefined {
  let path = file;
  for (let hops = 0; hops < 40; hops++) {
    const slash = path.lastIndexOf("/");
    const name = path.slice(slash + 1);
    let folder: string;
    try {
      folder = realPathSync(slash < 0 ? "." : path.slice(0, slash) || "/");
    } catch (e) {
      unlessRefused(e); // (a scoped --allow-read that hides it: never taken for "none")
      return undefined;
    }
    if (name === "" || name === "." || name === "..") return undefined;
    if (/^\/proc\/\d+\/(?:task\/\d+\/)?fd$/.test(folder)) {
      return /^\d+$/.test(name) ? `${folder}/${name}` : undefined;
    }
    const at = folder === "/" ? `/${name}` : `${folder}/${name}`;
    let to: string;
    try {
      to = readLinkSync(at);
    } catch (e) {
      unlessRefused(e);
      return undefined; // not a link (EINVAL), or nothing there
    }
    path = to.startsWith("/") ? to : `${folder === "/" ? "" : folder}/${to}`;
  }
  return undefined;
}

/**
 * Refuse `file` when it leads to a process's descriptor
 * ({@link descriptorBehind}) behind which lies a regular file: `-o
 * /dev/fd/3 3>scan.csv`, `-o /dev/stderr 2>>run.log`. A file written whole
 * is renamed over its name, which the descriptor would never see (the
 * log would be replaced by the report). A FIFO or device behind it (`-o
 * /dev/fd/63` of `>(zstd ...)`) is written directly, as any FIFO is.
 */
export function refuseDescriptorFile(file: string): void {
  const fd = descriptorBehind(file);
  if (fd === undefined) return;
  let info: Deno.FileInfo;
  try {
    info = statSync(fd);
  } catch (e) {
    unlessRefused(e);
    return; // not open: opening it says so
  }
  if (info.isFile) {
    const mine = fd.startsWith(`/proc/${Deno.pid}/`) ? "this process" : "another process";
    const is = descriptorName(file) ? "is" : `leads to ${fd},`;
    throw new RangeError(
      `pwalk: output ${oneLine(file)} ${is} a descriptor of ${mine} open on a file, which a file ` +
        "written whole, then renamed over it, would not reach: give the file's own name",
    );
  }
}

/** An output that is a folder: bad usage, in the same words for every command. */
function folderRefused(file: string): RangeError {
  return new RangeError(`pwalk: ${oneLine(file)} is a folder: give the name of a file to write`);
}

/**
 * The rule every command's outputs follow, before any work: an output is
 * not a folder, nor one of the files the command reads (`inputs`: its
 * scans, plan, `--from` scans, `--exclude` lists), compared as the kernel
 * would write them, by device and inode, through links; writing it would
 * replace what is read. Each is bad usage: a RangeError naming `file`.
 * Inputs that are not there are skipped. `path`: where `file` is written,
 * when {@link outputTarget} said it (a link's target).
 */
export async function outputApart(
  file: string,
  inputs: readonly string[],
  path: string = file,
): Promise<void> {
  let now: Deno.FileInfo;
  try {
    now = await Deno.stat(path);
  } catch {
    return; // a new file (or a link to nothing, which its writer refuses)
  }
  if (now.isDirectory) throw folderRefused(file);
  for (const input of inputs) {
    let s: Deno.FileInfo;
    try {
      s = await Deno.stat(input);
    } catch {
      continue;
    }
    if (s.dev === now.dev && s.ino === now.ino) {
      throw new RangeError(
        `pwalk: ${oneLine(file)} is also an input (${
          oneLine(input)
        }): writing it would replace what is read`,
      );
    }
  }
}

/**
 * A shard's output in a sharded scan's folder (plan.json beside it, and
 * the shard's record scan-I.done.json) is the scan itself: writing over it
 * (`convert scans/scan-*.csv.zst`, OUT forgotten, the glob's last file
 * taken for it; `summary --html` naming a shard) would replace a shard's
 * rows; so is its plan.json (but for `plan` itself, writing a new plan)
 * and a shard's record, which the folder is read through. Refused
 * (RangeError: bad usage); `who` names the command.
 */
async function refuseShardOutput(output: string, path: string, who: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  // the scan's plan (but for a new plan) and a shard's record: what the
  // scan folder is read through (status, summary, merge)
  const base = path.slice(slash + 1);
  const own = base === "plan.json" ? who !== "plan" : base.endsWith(".done.json");
  if (own && await named(`${dir}/plan.json`)) {
    throw new RangeError(
      `pwalk: ${oneLine(output)} is ${
        base === "plan.json" ? "the plan" : "a shard's record"
      } of the sharded scan in ${
        oneLine(dir)
      }: ${who} would replace it; name a file outside the scan's folder`,
    );
  }
  const record = path.replace(/\.(csv|csv\.zst|csv\.gz|parquet)$/, ".done.json");
  if (record === path || !(await named(`${dir}/plan.json`)) || !(await named(record))) return;
  throw new RangeError(
    `pwalk: ${oneLine(output)} is a shard's output of the scan in ${oneLine(dir)} (${
      record.slice(slash + 1)
    } records it): ${who} would replace it; name a file outside the scan's folder`,
  );
}

/** Whether `path` names anything (a link too, whatever it points to). */
async function named(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** An output's link that the kernel's fs.protected_symlinks would not follow: refused. */
export class ProtectedLinkError extends Error {}

/** The links the kernel follows in one path before it gives up (ELOOP). */
const MAX_LINKS = 40;

/**
 * Refuse (a {@link ProtectedLinkError} naming `file`) a path to `file`
 * that meets, anywhere in it, a link the kernel's fs.protected_symlinks
 * would not follow for this process, whatever the sysctl says: a link in a
 * sticky folder that others can write (/tmp), owned by neither the runner
 * nor the folder's owner. Another user could have put it there for root to
 * write (and replace) a file of her choosing: at the last name, or as a
 * folder of the path (`/tmp/hers/out.csv`, `hers` her link to a folder of
 * root's); with fs.protected_symlinks = 1 the shell's `>` refuses both.
 *
 * The path is walked as the kernel resolves it: name by name from the
 * working folder (or /), `..` taken in the folder reached (not in the name
 * as written), each link's target put in its place, and every link met
 * checked; more than 40 links is an error, as the kernel's ELOOP. With
 * `followLast` false a link at the last name is not followed (it is
 * replaced, not written through), but the folders that lead to it are
 * checked all the same. The walk stops quietly at a name that is not there
 * (a new file) or cannot be looked at: what opens the file then says why.
 */
function linksFollowable(file: string, followLast: boolean): void {
  const uid = Deno.uid();
  if (uid === null) return; // no owners here (Windows)
  let at: string; // the folder reached: a path without links
  try {
    at = file.startsWith("/") ? "/" : Deno.cwd();
  } catch {
    return; // the working folder is gone: the open fails too
  }
  // The names still to walk, the next one last; `via`: the link whose
  // target they come from (null: names of `file` itself).
  type Name = { name: string; via: string | null };
  const names = (path: string, via: string | null): Name[] =>
    path.split("/").filter((n) => n !== "").reverse().map((name) => ({ name, via }));
  const todo = names(file, null);
  let links = 0;
  while (todo.length) {
    const { name, via } = todo.pop()!;
    if (name === ".") continue;
    if (name === "..") {
      at = at.slice(0, at.lastIndexOf("/")) || "/";
      continue;
    }
    const path = at === "/" ? `/${name}` : `${at}/${name}`;
    const last = todo.length === 0;
    let link: Deno.FileInfo, folder: Deno.FileInfo, to: string;
    try {
      link = Deno.lstatSync(path);
      if (!link.isSymlink) {
        at = path;
        continue;
      }
      if (last && !followLast) return;
      folder = Deno.statSync(at);
      to = Deno.readLinkSync(path);
    } catch {
      return; // not there (a new file), or not to be looked at: told by the caller
    }
    if (++links > MAX_LINKS) {
      throw new Error(`pwalk: ${oneLine(file)}: too many levels of symbolic links`);
    }
    if (
      (folder.mode! & 0o1002) === 0o1002 && link.uid !== uid && link.uid !== folder.uid
    ) {
      const which = via !== null
        ? `the link ${oneLine(path)} it leads to`
        : last
        ? "a link"
        : `the link ${oneLine(path)} in its path`;
      throw new ProtectedLinkError(
        `pwalk: ${oneLine(file)}: not followed: ${which} owned by uid ${link.uid} in ${
          oneLine(at)
        }, a sticky ` +
          "folder others can write, which the kernel's protected_symlinks refuses to follow " +
          "(write to its target's name instead)",
      );
    }
    if (to.startsWith("/")) at = "/";
    todo.push(...names(to, path));
  }
}

/**
 * `file` with its folder resolved as the kernel resolves it (links
 * followed: `/proc/self/root/dev/stderr`, a link to /dev; a bind mount of
 * /dev told as /dev), its last name as given; `file` itself when the
 * folder cannot be resolved.
 */
function resolvedName(file: string): string {
  const slash = file.lastIndexOf("/");
  try {
    const folder = realPathSync(slash < 0 ? "." : file.slice(0, slash) || "/");
    // /dev reached through a bind mount of it (a chroot's): /dev, by device and inode
    const [at, dev] = [statSync(folder), statSync("/dev")];
    const same = at.dev === dev.dev && at.ino === dev.ino;
    return `${same ? "/dev" : folder === "/" ? "" : folder}/${file.slice(slash + 1)}`;
  } catch {
    return file;
  }
}

/** The folder of `file` as an absolute path ("/" for a name in the root). */
function folderOf(file: string): string {
  const abs = file.startsWith("/") ? file : `${Deno.cwd()}/${file}`;
  return abs.slice(0, abs.lastIndexOf("/")) || "/";
}

/**
 * Where writing `file` whole should go, as report's `-o` does: a missing or
 * regular file is replaced by a complete new one, a link is written through
 * (its target replaced, the link kept; with `replaceLink`, the link itself
 * replaced, but never `/dev/stdout` or another name of this process's
 * descriptors: a RangeError), a character device or FIFO is written directly. Anything else
 * (a block device) is refused: replacing /dev/null as root would harm the
 * system; a folder, a socket and a link to nothing are bad usage (a
 * RangeError). So is a path that meets, at its last name or in a folder of
 * it, a link the kernel's protected_symlinks would not follow (a
 * {@link ProtectedLinkError}), whether or not the file is there yet.
 */
export async function outputTarget(
  file: string,
  options: OutputTargetOptions = {},
): Promise<OutputTarget> {
  // A link replaced: never the system's /dev/stdout or /dev/fd/3 (a shard's
  // `-o /dev/stderr` as root would put the CSV in its place).
  if (options.replaceLink && (descriptorName(file) || descriptorName(resolvedName(file)))) {
    throw new RangeError(
      `pwalk: output ${
        oneLine(file)
      } is a descriptor of this process, which a file written whole and ` +
        "renamed over its name would replace (the system's link): give a file's own name " +
        "(or - for stdout)",
    );
  }
  // a log a descriptor of the process appends to (-o /dev/stderr 2>>log)
  if (!options.replaceLink) refuseDescriptorFile(file);
  // every link on the way, the last name's only when it is followed
  linksFollowable(file, !options.replaceLink);
  let info: Deno.FileInfo;
  try {
    info = await lstat(file); // (/dev/stderr also without --allow-all: lib/procfs.ts)
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { path: file, direct: false };
    throw e;
  }
  let path = file;
  if (info.isSymlink && options.replaceLink) return { path: file, direct: false };
  if (info.isSymlink) {
    try {
      info = await stat(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new RangeError(
        `pwalk: ${oneLine(file)} is a link to nothing: write to its target's name instead`,
      );
    }
    // a descriptor's link to a pipe (/dev/fd/63 of >(zstd)) has no path: its own name
    path = await realPath(file).catch(() => file);
  }
  if (info.isFile) return { path, direct: false };
  if (info.isCharDevice || info.isFifo) {
    return { path, direct: true, id: { dev: info.dev, ino: info.ino } };
  }
  if (info.isDirectory) throw folderRefused(file);
  if (info.isSocket) {
    throw new RangeError(`pwalk: ${oneLine(file)} is a socket: give the name of a file to write`);
  }
  throw new Error(`pwalk: ${oneLine(file)}: not a file, character device or FIFO`);
}

/** Linux's O_PATH: a descriptor of the file itself, which opens nothing (no FIFO waited for, no device's driver). */
const O_PATH = 0o10000000;

/** The error of {@link writableAsSeen} when another file is at the name now. */
class ReplacedError extends Error {}

/** Whether `path` is a regular file now (not followed). */
function regularFile(path: string): boolean {
  try {
    return Deno.lstatSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether this process may write the regular file `path`, `seen` when it
 * was looked at (lstat), as the kernel answers it (owner, group and mode,
 * ACLs, an immutable file, a read-only mount, an NFS server's say), with
 * nothing opened that is not that file: a FIFO renamed there since would
 * have the check wait forever for a reader, a device be opened (a tape
 * rewound). Linux: the name's inode is taken with O_PATH and O_NOFOLLOW
 * (opening nothing), checked to be `seen`, and only then opened for
 * writing through /proc/self/fd, and closed. Elsewhere: opened for
 * writing with O_NONBLOCK and O_NOFOLLOW (a FIFO not waited for), then
 * checked. Throws an Error saying why not ("Permission denied"; "it was
 * replaced by another file since it was checked").
 */
async function writableAsSeen(path: string, seen: Deno.FileInfo): Promise<void> {
  if (Deno.build.os === "windows") return (await Deno.open(path, { write: true })).close();
  // Linux without /proc: node:fs cannot load (nodeLayerWorks), nor is a
  // descriptor reopened for writing: not asked now; the write tells, after
  // the work (the probe beside it still checks its folder takes a file)
  if (!nodeLayerWorks()) return;
  const fs = await import("node:fs"); // only here: other outputs never load it
  const c = fs.constants;
  let proc = Deno.build.os === "linux";
  try {
    if (proc) Deno.statSync("/proc/self/fd");
  } catch {
    proc = false; // no /proc mounted
  }
  const replaced = () => new ReplacedError("it was replaced by another file since it was checked");
  let fd: number;
  try {
    fd = fs.openSync(
      path,
      proc ? O_PATH | c.O_NOFOLLOW : c.O_WRONLY | c.O_NONBLOCK | c.O_NOFOLLOW | c.O_NOCTTY,
    );
  } catch (e) {
    const code = String((e as { code?: string }).code);
    // a link now (O_NOFOLLOW), a FIFO with no reader (O_NONBLOCK)
    if (code === "ELOOP" || code === "ENXIO") throw replaced();
    throw new Error(errnoText(code) ?? osErrorText(e));
  }
  try {
    const now = fs.fstatSync(fd);
    if (!now.isFile() || now.dev !== seen.dev || now.ino !== seen.ino) throw replaced();
    if (proc) Deno.openSync(`/proc/self/fd/${fd}`, { write: true }).close();
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * {@link outputTarget}, checked before any work is done: a folder, or a
 * file there that is one of `inputs` ({@link outputApart}), or with `who`
 * a shard's output in a sharded scan's folder, is refused as bad usage
 * (RangeError: writing it would replace what is being read); a file the
 * caller could not write itself (`>` in a shell refuses it; a new file
 * renamed over it would take its place, with the caller as owner: asked
 * of the kernel without opening a FIFO or device renamed there since), and a
 * folder that takes no new file (missing, not writable) fail now, not
 * after the work. Messages name `file`, never a temporary.
 */
export async function checkedOutput(
  file: string,
  inputs: readonly string[] = [],
  options: OutputTargetOptions = {},
): Promise<OutputTarget> {
  const target = await outputTarget(file, options);
  if (target.direct) return target;
  let now: Deno.FileInfo | null = null;
  // (a regular file renamed over it meanwhile, as another run writing the
  // same file does at its end: looked at again, a few times at most)
  for (let round = 0;; round++) {
    now = null;
    try {
      now = await Deno.lstat(target.path);
      if (now.isSymlink) now = null; // replaced (replaceLink): as a new name
    } catch {
      // a new file
    }
    if (now) await outputApart(file, inputs, target.path);
    if (options.who !== undefined) await refuseShardOutput(file, target.path, options.who);
    if (!now) break;
    try {
      await writableAsSeen(target.path, now);
      break;
    } catch (e) {
      if (e instanceof ReplacedError && round < 10 && regularFile(target.path)) continue;
      throw new Error(`pwalk: cannot write ${oneLine(file)}: ${osErrorText(e)}`);
    }
  }
  await options.beforeProbe?.(target.path);
  const probe = partialBeside(target.path);
  let forget: () => void;
  try {
    if (interrupted()) throw new Deno.errors.Interrupted("Interrupted"); // ending: none made
    // made and registered for removal on interrupt in one synchronous step
    // (see createPartialSync); not counted as a partial output
    Deno.openSync(probe, { write: true, createNew: true }).close();
    forget = removeOnInterrupt(probe, false);
  } catch (e) {
    // a file one may write, in a folder one may not (where `>` would write it)
    const folder = now && e instanceof Deno.errors.PermissionDenied
      ? " in its folder (it is written whole beside it, then renamed over it)"
      : "";
    throw new Error(`pwalk: cannot write ${oneLine(file)}: ${osErrorText(e)}${folder}`);
  }
  await Deno.remove(probe).catch(() => {});
  forget();
  return target;
}

/** Options of {@link openPartial}. */
export interface OpenPartialOptions {
  /**
   * Remove the temporary if the process is interrupted while it exists
   * ({@link removeOnInterrupt}). Default true. The CLI's --errors file says
   * false: its own close or abandon removes it, never the synchronous
   * removal at exit, which a hung mount would block (the forced quit gives
   * its clean-up 2 s).
   */
  removeOnInterrupt?: boolean;
  /**
   * The caller saw `path` missing (when it checked, before its work): a
   * file there now is never replaced. The open throws
   * Deno.errors.AlreadyExists when something is there already, and the
   * commit makes `path` only if it is still missing (a hard link, checked
   * to be the file written, then the temporary removed; a file another
   * process made there meanwhile is kept, and the commit throws
   * AlreadyExists); where hard links cannot be made, renamed as otherwise.
   * Default false: renamed over whatever is there.
   */
  noReplace?: boolean;
}

/**
 * A new file written whole under a hidden temporary name beside the file
 * it will replace, then renamed over it: made by {@link openPartial}.
 * Disposing of it (`using`) discards it unless it was committed.
 */
export interface PartialFile extends Disposable {
  /**
   * The temporary's name. Another writer (DuckDB, the library) may open
   * it by this name only where {@link safeByName}; elsewhere the file is
   * written through {@link PartialFile.file}.
   */
  readonly path: string;
  /**
   * The descriptor that made it, for writing, held open until it is
   * committed or discarded: the temporary's inode number cannot go to
   * another file meanwhile, so its fstat still tells it apart.
   */
  readonly file: Deno.FsFile;
  /**
   * Give it the replaced file's permission bits, owner and group (only
   * where {@link safeByName} says now: elsewhere it stays the runner's,
   * with the old mode it was made with), rename it over the file, check
   * that the name then holds it ({@link renameWhole}), and close it. On
   * failure the temporary is removed and the error thrown as the system
   * gave it: callers tell it as the file's ({@link osErrorText}).
   */
  commit(): void;
  /** Close and remove the temporary (the file it was to replace stays as it was); nothing once committed or discarded. */
  discard(): void;
  /**
   * {@link PartialFile.discard}, the removal not waited for on the main
   * thread (a forced quit, on a mount that may hang). Whether it removed
   * the temporary (false once committed or discarded, or if it was gone).
   */
  abandon(): Promise<boolean>;
}

/**
 * Start replacing `path` (a regular file or a new name: {@link outputTarget}'s
 * path, not a direct one) with a file written whole: a temporary named by
 * {@link partialBeside}, removed if the process is interrupted
 * ({@link removeOnInterrupt}; made and registered in one synchronous step,
 * none made once an interrupt's clean-up ran: Deno.errors.Interrupted), made never through a link with the old
 * file's permission bits ({@link createPartial}), locked while open so that
 * no other run takes it for a dead run's leftover ({@link removeBeside}),
 * and kept open until
 * {@link PartialFile.commit} puts it in place or
 * {@link PartialFile.discard} removes it. Errors are thrown as the system
 * gave them (Deno's text names the temporary): callers tell them as
 * `path`'s ({@link osErrorText}).
 *
 * @example Written through its descriptor
 * ```ts ignore
 * import { openPartial, writeAll } from "./outfile.ts";
 * using out = await openPartial("report.html");
 * await writeAll(out.file, new TextEncoder().encode("<html></html>\n"));
 * out.commit(); // without it, `using` removes the temporary
 * ```
 */
export async function openPartial(
  path: string,
  options: OpenPartialOptions = {},
): Promise<PartialFile> {
  const old = await Deno.stat(path).catch(() => null);
  if (options.noReplace && await Deno.lstat(path).then(() => true, () => false)) {
    throw new Deno.errors.AlreadyExists(`${oneLine(path)}: made by another process meanwhile`);
  }
  let tmp: string, forget: () => void, file: Deno.FsFile;
  for (let attempt = 0;; attempt++) {
    tmp = partialBeside(path);
    if (options.removeOnInterrupt === false) {
      forget = () => {};
      file = await createPartial(tmp, old);
    } else {
      // an interrupt's handler ran (it removed what was registered, this
      // run's temporary too): no new one, it would be left at the exit
      if (interrupted()) throw new Deno.errors.Interrupted("Interrupted");
      // made and registered in one synchronous step (createPartialSync)
      file = createPartialSync(tmp, old);
      forget = removeOnInterrupt(tmp);
    }
    // locked for its whole life: another run's tidying never takes it
    if (await claimTemp(tmp, file) || attempt >= 99) break;
    file.close(); // being removed by another run's tidying: another name
    forget();
  }
  let open = true;
  const close = (): boolean => {
    if (!open) return false;
    open = false;
    file.close();
    return true;
  };
  const discard = () => {
    if (!close()) return;
    try {
      Deno.removeSync(tmp);
    } catch { /* gone already */ }
    forget();
  };
  return {
    path: tmp,
    file,
    commit() {
      // (discarded meanwhile: the rename would find nothing to rename)
      if (!open) throw new Deno.errors.NotFound("No such file or directory");
      // an interrupt's handler removed the temporary and said the file was
      // left as it was: a writer that went on by name (DuckDB's COPY) may
      // have made another there since, never to be put in place
      if (options.removeOnInterrupt !== false && interrupted()) {
        discard();
        throw new Deno.errors.Interrupted("Interrupted");
      }
      try {
        // by its name only where nobody else can rename names there (the
        // temporary is the runner's until then)
        if (safeByName(path)) keepOwnerMode(tmp, old);
        if (!(options.noReplace && linkWhole(tmp, path, file.statSync()))) {
          renameWhole(tmp, path, file.statSync());
        }
      } catch (e) {
        discard();
        throw e;
      }
      outputPlaced();
      close();
      forget();
    },
    discard,
    async abandon() {
      if (!close()) return false;
      const removed = await Deno.remove(tmp).then(() => true, () => false);
      forget();
      return removed;
    },
    [Symbol.dispose]: discard,
  };
}

/**
 * Write `data` to `file` whole, where {@link outputTarget} says (or
 * `target`, when {@link checkedOutput} said it before the work): a missing
 * or regular file is replaced by a complete new one (made under a hidden
 * temporary name beside it, never through a link, with the old file's
 * owner and mode, then renamed over it: {@link openPartial}; in a folder
 * others can change, see {@link safeByName}: the runner's, with the old
 * mode); a link's target is replaced, the link kept; a character device or
 * FIFO is written directly, as the shell's `>` does (`signal` stops a
 * write its reader does not take). Errors name `file`, never a temporary.
 */
export async function writeWhole(
  file: string,
  data: string | Uint8Array,
  target?: OutputTarget,
  options: { noReplace?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const fail = (e: unknown) =>
    new Error(`pwalk: cannot write ${oneLine(file)}: ${osErrorText(e)}`, { cause: e });
  target ??= await outputTarget(file);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  if (target.direct) {
    using f = await openDirect(target, file);
    return await writeAll(f, bytes, options.signal).catch((e) => {
      if (options.signal?.aborted) throw e; // (stopped while its reader took nothing)
      // its reader closed it early: still a BrokenPipe (the CLI's quiet 141,
      // as for stdout and convert's OUT), with the file's name
      if (e instanceof Deno.errors.BrokenPipe) throw new Deno.errors.BrokenPipe(fail(e).message);
      throw fail(e);
    });
  }
  try {
    using out = await openPartial(target.path, { noReplace: options.noReplace });
    await writeAll(out.file, bytes);
    out.commit();
  } catch (e) {
    throw fail(e);
  }
}

/**
 * Whether process `pid` runs on this host (Linux's /proc; elsewhere: not
 * known, false). A zombie (state Z or X in /proc/PID/stat: ended, its
 * parent not yet told) does not run.
 */
export function aliveHere(pid: number): boolean {
  if (pid === Deno.pid) return true;
  let bytes: Uint8Array | undefined;
  try {
    // (through the C library where Deno refuses /proc: not under --allow-all)
    bytes = readProcFile(`/proc/${pid}/stat`);
  } catch {
    return true; // not to be read (no --allow-ffi either): taken for running
  }
  if (!bytes) return false; // no such process (or no /proc)
  // "PID (COMM) S ...": COMM may hold ") ", the state follows the last ")"
  const stat = new TextDecoder().decode(bytes);
  const state = stat[stat.lastIndexOf(")") + 2];
  return state !== "Z" && state !== "X";
}

/** Options of {@link removeBeside}. */
export interface RemoveBesideOptions {
  /**
   * Every file `temp` matches is locked by its writer for as long as it
   * writes it ({@link openPartial}'s, the library's `FILE.partial-PID-N`):
   * then the lock alone tells a live run's, and the PID in the name is
   * asked only where the file system has no locks. A PID names nothing
   * sure: in a PID namespace (a container, a Kubernetes job) every run has
   * the same one, and after a reboot a dead run's PID is another process's
   * (this one's too). Default false: a file whose process is alive on this
   * host is kept, locked or not (temporaries written unlocked).
   */
  locked?: boolean;
}

/**
 * Remove the files beside `file` named `file` + a suffix `temp` matches
 * (its first group that matched: a PID) that a run killed before its end
 * (kill -9, a lost node) left: those that no live run holds locked and,
 * unless {@link RemoveBesideOptions.locked} says their writers lock them,
 * whose process is not alive on this host. A run locks its temporary for
 * as long as it writes it (flock: the library's `FILE.partial-PID-N`, and
 * {@link openPartial}'s), and over NFS the server keeps that lock for
 * every node, so a live run on another host, in another PID namespace or
 * hidden from /proc (hidepid) keeps its file; a dead run's lock is gone.
 * Where the file system has no locks only the PID is asked. Returns their
 * paths.
 */
export async function removeBeside(
  file: string,
  temp: RegExp,
  options: RemoveBesideOptions = {},
): Promise<string[]> {
  const slash = file.lastIndexOf("/");
  const dir = slash < 0 ? "." : file.slice(0, slash) || "/";
  const base = tempPrefix(file.slice(slash + 1));
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.startsWith(base)) continue;
      const m = temp.exec(e.name.slice(base.length));
      if (!m) continue;
      const pid = Number(m.slice(1).find((g) => g !== undefined));
      if (!options.locked && aliveHere(pid)) continue;
      const path = slash < 0 ? e.name : `${dir === "/" ? "" : dir}/${e.name}`;
      try {
        if (await removeUnlocked(path, pid)) removed.push(path);
      } catch { /* gone already, or not ours to remove: left */ }
    }
  } catch { /* the folder cannot be listed: nothing to tidy */ }
  return removed;
}

/** How new a temporary of a live PID's is left by {@link removeUnlocked}: 10 s. */
const FRESH_TEMP_MS = 10_000;

/**
 * Remove the regular file `path` unless a live process holds a lock on it
 * ({@link claimTemp}): a shared lock is taken (no writer's exclusive one
 * can be held meanwhile) and the name removed while it is held, if it
 * still names the file locked. Nothing but that file is opened: not a
 * FIFO (no waiting for a writer), nor a device put there since it was
 * listed. Where the file system has no locks, only if process `pid` (its
 * name's) is not alive on this host. Whether it was removed.
 */
async function removeUnlocked(path: string, pid: number): Promise<boolean> {
  if (!nodeLayerWorks()) return false; // left: no safe way to open only that file here
  const fs = await import("node:fs/promises");
  const c = (await import("node:fs")).constants;
  // the file itself, no link followed, no FIFO waited for
  const h = await fs.open(path, c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK | c.O_NOCTTY);
  try {
    const seen = await h.stat();
    if (!seen.isFile()) return false;
    // made in the last seconds by a live process of its name's PID: most
    // likely a run between making it and locking it (claimTemp), not a dead
    // run's (a PID reused so soon is not); left, as a locked one is
    if (aliveHere(pid) && Date.now() - seen.mtimeMs < FRESH_TEMP_MS) return false;
    let f: Deno.FsFile;
    try {
      f = await Deno.open(`/proc/self/fd/${h.fd}`, { read: true }); // a description with a lock of its own
    } catch {
      f = await Deno.open(path, { read: true }); // no /proc: by its name, checked below
    }
    try {
      const st = await f.stat();
      if (st.dev !== seen.dev || st.ino !== seen.ino) return false;
      try {
        if (!await f.tryLock(false)) return false; // a live run writes it
      } catch { // no locks here (ENOLCK, EOPNOTSUPP): only the PID can tell
        if (aliveHere(pid)) return false;
      }
      const now = await Deno.lstat(path);
      if (now.dev !== st.dev || now.ino !== st.ino) return false;
      await Deno.remove(path);
      return true;
    } finally {
      f.close();
    }
  } finally {
    await h.close();
  }
}

/**
 * Lock `f`, the temporary just made as `path`, for as long as it is open
 * (flock, exclusive), so that {@link removeBeside} in another run never
 * takes it for a dead run's leftover. False when the name is being removed
 * by such a run (it holds a lock on the file, or the name no longer holds
 * it once locked): the caller closes it and takes another name. True when
 * locked, or when the file system has no locks.
 */
async function claimTemp(path: string, f: Deno.FsFile): Promise<boolean> {
  try {
    if (!await f.tryLock(true)) return false;
  } catch {
    return true; // no locks here: as before, the PID in the name tells
  }
  try {
    const [mine, now] = [await f.stat(), await Deno.lstat(path)];
    return mine.dev === now.dev && mine.ino === now.ino;
  } catch {
    return false;
  }
}
