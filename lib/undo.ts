/**
 * undo(): putting back what a repair or chown changed, from its journal
 * (lib/journal.ts reads the format; native/undo.c restores each entry
 * without following any link).
 *
 * @module
 */
import { ensureNative, native, Restore as R } from "./ffi.ts";
import { errnoName } from "./errno.ts";
import type { WalkError } from "./job.ts";
import {
  joinRoot,
  JOURNAL_MAGIC,
  type JournalHeader,
  type JournalLine,
  type Ownership,
  parseHeader,
  parseLine,
  printablePath,
  splitLines,
  typeBits,
} from "./journal.ts";

const lossy = new TextDecoder();

/** Options of {@link undo}. */
export interface UndoOptions {
  /** Put the old values back. Default true; false only reports what would be restored. */
  apply?: boolean;
  /** Called for each entry restored (or that would be). */
  onRestore?: (restored: RestoreRecord) => void;
  /** Print one line per restored entry to stdout (the CLI does). Default false. */
  printChanges?: boolean;
  /** Stream one line per error to stderr (the CLI does). Default false. */
  printErrors?: boolean;
  /** Stops the undo between entries; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How many error details to keep. Default 100. */
  maxErrors?: number;
}

/** One entry put back by {@link undo}. */
export interface RestoreRecord {
  /** The entry's absolute path (the journal's real root, then the names). */
  path: string;
  /** Its exact bytes. */
  pathBytes: Uint8Array;
  /** What it was before undo. */
  from: Ownership;
  /** What undo made it (the journal's old values, except fields kept). */
  to: Ownership;
  /** Owner/group or mode changed again since the run: that field was left alone. */
  kept: ("owner" | "mode")[];
}

/** What {@link undo} returns. */
export interface UndoSummary {
  /** The journal file. */
  journal: string;
  /** Whether values were put back (false: `apply: false`). */
  applied: boolean;
  /** Entry lines of applied runs read from the journal. */
  entries: number;
  /** Entries put back (or that would be). */
  restored: number;
  /** Entries already holding their old values (nothing to do). */
  unchanged: number;
  /** Entries with a field changed again since the run: that field was left as it is. */
  kept: number;
  /** Entry lines of dry runs, skipped. */
  skippedDryRun: number;
  /** Entries not restored: replaced (dev+inode differ), vanished, a link on the way, refused. */
  errors: number;
  /** The first errors, in detail. */
  errorDetails: WalkError[];
  /** Wall time in milliseconds. */
  elapsedMs: number;
}

/**
 * Read a journal: its applied runs' entry lines with their headers, in file
 * order, and how many lines of dry runs it holds.
 *
 * @example What did a run change?
 * ```ts ignore
 * const { entries } = await readJournal("/root/genome.journal");
 * for (const { header, line } of entries) console.log(header.kind, line.old, line.new);
 * ```
 *
 * @throws {SyntaxError} when the file is not a pwalk journal
 */
export async function readJournal(
  file: string,
): Promise<{ entries: { header: JournalHeader; line: JournalLine }[]; dryRun: number }> {
  const bytes = await Deno.readFile(file);
  const { lines, rest } = splitLines(bytes);
  if (rest.length) lines.push(...splitLines(new Uint8Array([...rest, 0x0a])).lines);
  if (lines.length === 0 || !lines[0].startsWith(JOURNAL_MAGIC)) {
    throw new SyntaxError(`pwalk: ${file} is not a pwalk journal`);
  }
  const entries: { header: JournalHeader; line: JournalLine }[] = [];
  let header: JournalHeader | undefined;
  let dryRun = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length === 0) continue;
    try {
      if (l.startsWith("#")) {
        header = parseHeader(l);
        continue;
      }
      const line = parseLine(l);
      if (!header!.applied) dryRun++;
      else entries.push({ header: header!, line });
    } catch (e) {
      throw new SyntaxError(`pwalk: ${file}:${i + 1}: ${(e as Error).message}`);
    }
  }
  return { entries, dryRun };
}

/**
 * Undo a repair or chown from its journal: the last change first, each
 * entry reached component by component without following any link, and
 * changed only when it is still the same dev+inode. A field (owner/group,
 * or mode) is put back only while it still holds the value the run set; a
 * field changed again since is left alone and counted in `kept`.
 *
 * @example
 * ```ts ignore
 * import { undo } from "jsr:@pwalk/cli";
 * const u = await undo("/root/genome-repair.journal");
 * console.log(`${u.restored} restored, ${u.kept} changed since (left), ${u.errors} errors`);
 * ```
 *
 * @throws {SyntaxError} when the file is not a pwalk journal
 * @throws the signal's reason when cancelled
 */
export async function undo(journalFile: string, options: UndoOptions = {}): Promise<UndoSummary> {
  options.signal?.throwIfAborted();
  await ensureNative();
  const sym = native();
  const t0 = performance.now();
  const apply = options.apply ?? true;
  const maxErrors = options.maxErrors ?? 100;
  const { entries, dryRun } = await readJournal(journalFile);
  const out: UndoSummary = {
    journal: journalFile,
    applied: apply,
    entries: entries.length,
    restored: 0,
    unchanged: 0,
    kept: 0,
    skippedDryRun: dryRun,
    errors: 0,
    errorDetails: [],
    elapsedMs: 0,
  };
  const enc = new TextEncoder();
  const v = new BigInt64Array(9);
  for (let i = entries.length - 1; i >= 0; i--) {
    if ((entries.length - i) % 1000 === 0) {
      await new Promise((r) => setTimeout(r, 0)); // let signals and timers run
      options.signal?.throwIfAborted();
    }
    const { header, line } = entries[i];
    const p = new Uint8Array(joinRoot(header.root, line.rel));
    v[0] = BigInt.asIntN(64, line.dev);
    v[1] = BigInt.asIntN(64, line.ino);
    v[2] = BigInt(typeBits(line.type));
    v[3] = BigInt(line.old.uid);
    v[4] = BigInt(line.old.gid);
    v[5] = BigInt(line.old.mode);
    v[6] = BigInt(line.new.uid);
    v[7] = BigInt(line.new.gid);
    v[8] = BigInt(line.new.mode);
    const rc = sym.pw_restore(p, BigInt(p.length), v, apply ? 1 : 0);
    if (rc < 0) {
      const [name, text] = errnoName(-rc);
      const message = name === "ESTALE"
        ? "a different entry is there now: left alone"
        : name === "ELOOP" || name === "ENOTDIR"
        ? "a symbolic link (or a non-folder) is on the way now: left alone"
        : text;
      out.errors++;
      const op = name === "ESTALE" ? "race" : "change";
      if (out.errorDetails.length < maxErrors) {
        out.errorDetails.push({ op, message, path: lossy.decode(p), pathBytes: p });
      }
      if (options.printErrors) {
        Deno.stderr.writeSync(enc.encode(`pwalk: undo '${printablePath(p)}': ${message}\n`));
      }
      continue;
    }
    const kept: ("owner" | "mode")[] = [];
    if (rc & R.OWNER_KEPT) kept.push("owner");
    if (rc & R.MODE_KEPT) kept.push("mode");
    if (kept.length) out.kept++;
    if (!(rc & (R.OWNER | R.MODE))) {
      if (!kept.length) out.unchanged++;
      continue;
    }
    out.restored++;
    const to: Ownership = {
      uid: rc & R.OWNER ? line.old.uid : line.new.uid,
      gid: rc & R.OWNER ? line.old.gid : line.new.gid,
      mode: rc & R.MODE ? line.old.mode : line.new.mode,
    };
    const rec: RestoreRecord = {
      path: lossy.decode(p),
      pathBytes: p,
      from: line.new,
      to,
      kept,
    };
    options.onRestore?.(rec);
    if (options.printChanges) {
      Deno.stdout.writeSync(enc.encode(restoreLine(rec) + "\n"));
    }
  }
  out.elapsedMs = performance.now() - t0;
  return out;
}

/**
 * The CLI's line for a restored entry: `path: group 5000 -> 1001, mode 2750 -> 0700`.
 *
 * @example
 * ```ts ignore
 * await undo("/root/genome.journal", { onRestore: (r) => console.log(restoreLine(r)) });
 * ```
 */
export function restoreLine(r: RestoreRecord): string {
  const parts: string[] = [];
  if (r.from.uid !== r.to.uid) parts.push(`owner ${r.from.uid} -> ${r.to.uid}`);
  if (r.from.gid !== r.to.gid) parts.push(`group ${r.from.gid} -> ${r.to.gid}`);
  if (r.from.mode !== r.to.mode) {
    parts.push(
      `mode ${r.from.mode.toString(8).padStart(4, "0")} -> ${
        r.to.mode.toString(8).padStart(4, "0")
      }`,
    );
  }
  if (r.kept.length) parts.push(`(${r.kept.join(" and ")} changed since: kept)`);
  return `${printablePath(r.pathBytes)}: ${parts.join(", ")}`;
}
