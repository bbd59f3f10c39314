/**
 * A byte-level CSV parser for pwalk's output, written for the tests and
 * independent of the code under test.
 *
 * It works on bytes, not strings: file names that are not UTF-8 reach the
 * CSV raw, so decoding first would lose them. Records end with `\n`; fields
 * are separated by `,`; a field that starts with `"` is quoted, ends at the
 * next lone `"`, and holds `""` for each `"`. Anything else (a quote inside
 * an unquoted field, a byte after a closing quote, a missing final newline)
 * is an error, so the parser also checks the syntax.
 *
 * @module
 */
import { concat } from "./bytes.ts";

/** One CSV field: its bytes (unescaped) and whether it was quoted. */
export interface Field {
  bytes: Uint8Array;
  quoted: boolean;
}

const QUOTE = 0x22, COMMA = 0x2c, NL = 0x0a;

/** Parse CSV bytes into records of fields. Throws on malformed input. */
export function parseCsv(data: Uint8Array): Field[][] {
  const records: Field[][] = [];
  const n = data.length;
  let i = 0;
  while (i < n) {
    const rec: Field[] = [];
    for (;;) {
      if (data[i] === QUOTE) {
        const parts: Uint8Array[] = [];
        let s = i + 1;
        for (;;) {
          const j = data.indexOf(QUOTE, s);
          if (j < 0) throw new SyntaxError(`csv: unterminated quoted field at byte ${i}`);
          if (data[j + 1] === QUOTE) {
            parts.push(data.subarray(s, j + 1)); // keep one quote of the pair
            s = j + 2;
            continue;
          }
          parts.push(data.subarray(s, j));
          i = j + 1;
          break;
        }
        if (i < n && data[i] !== COMMA && data[i] !== NL) {
          throw new SyntaxError(`csv: byte ${data[i]} after a closing quote at byte ${i}`);
        }
        rec.push({ bytes: concat(...parts), quoted: true });
      } else {
        const start = i;
        while (i < n && data[i] !== COMMA && data[i] !== NL) {
          if (data[i] === QUOTE) {
            throw new SyntaxError(`csv: quote in an unquoted field at byte ${i}`);
          }
          i++;
        }
        rec.push({ bytes: data.slice(start, i), quoted: false });
      }
      if (i >= n) throw new SyntaxError("csv: the last record has no final newline");
      if (data[i++] === NL) break;
    }
    records.push(rec);
  }
  return records;
}

/** One pwalk CSV row, typed. */
export interface PwalkRow {
  ino: number;
  parentIno: number;
  depth: number;
  /** The filename column's bytes (full path, `""` unescaped). */
  path: Uint8Array;
  /** {@link key} of path. */
  key: string;
  ext: Uint8Array;
  uid: number;
  gid: number;
  size: number;
  dev: number;
  blocks: number;
  nlink: number;
  /** The st_mode column as printed: seven octal digits. */
  mode: string;
  atime: number;
  mtime: number;
  ctime: number;
  fcount: number;
  dirsum: number;
}

/** pwalk's column names, in order (the spec's header without quotes). */
export const COLUMNS = [
  "inode",
  "parent-inode",
  "directory-depth",
  "filename",
  "fileExtension",
  "UID",
  "GID",
  "st_size",
  "st_dev",
  "st_blocks",
  "st_nlink",
  "st_mode",
  "st_atime",
  "st_mtime",
  "st_ctime",
  "pw_fcount",
  "pw_dirsum",
] as const;

/** The columns the spec prints in quotes. */
const QUOTED = new Set([3, 4, 11]);

/** The fields of pwalk's header line as printed: {@link COLUMNS}, those the spec quotes in quotes. */
export const HEADER_FIELDS: readonly string[] = COLUMNS.map((c, i) => QUOTED.has(i) ? `"${c}"` : c);

const ascii = new TextDecoder();

/**
 * A string that stands for a byte string one to one (each byte becomes the
 * code unit of the same value), usable as a Map key and printable.
 */
export function key(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

/** The bytes of a {@link key}. */
export function unkey(k: string): Uint8Array {
  return Uint8Array.from(k, (c) => c.charCodeAt(0));
}

function int(f: Field, col: number, line: number): number {
  const b = f.bytes;
  const neg = b[0] === 0x2d;
  let v = 0;
  let ok = b.length > (neg ? 1 : 0) && !(b[neg ? 1 : 0] === 0x30 && b.length > (neg ? 2 : 1));
  for (let i = neg ? 1 : 0; ok && i < b.length; i++) {
    const d = b[i] - 0x30;
    if (d < 0 || d > 9) ok = false;
    v = v * 10 + d;
  }
  if (!ok || !Number.isSafeInteger(v) || (neg && v === 0)) {
    throw new SyntaxError(
      `pwalk csv line ${line}: ${COLUMNS[col]} is not an integer: '${ascii.decode(b)}'`,
    );
  }
  return neg ? -v : v;
}

/** A parsed pwalk report. */
export interface PwalkCsv {
  /** The header line (without its newline) when asked for, else null. */
  header: Uint8Array | null;
  rows: PwalkRow[];
}

/**
 * Parse a pwalk report, checking the format of every row: 17 fields,
 * filename, fileExtension and st_mode quoted, every other field an unquoted
 * integer, st_mode seven octal digits.
 */
export function parsePwalk(data: Uint8Array, opts: { header?: boolean } = {}): PwalkCsv {
  let header: Uint8Array | null = null;
  if (opts.header) {
    const nl = data.indexOf(NL);
    if (nl < 0) throw new SyntaxError("pwalk csv: no header line");
    header = data.slice(0, nl);
    data = data.subarray(nl + 1);
  }
  const rows: PwalkRow[] = [];
  const recs = parseCsv(data);
  recs.forEach((f, idx) => {
    const line = idx + 1 + (opts.header ? 1 : 0);
    if (f.length !== 17) {
      throw new SyntaxError(`pwalk csv line ${line}: ${f.length} fields, expected 17`);
    }
    f.forEach((x, col) => {
      if (x.quoted !== QUOTED.has(col)) {
        throw new SyntaxError(
          `pwalk csv line ${line}: ${COLUMNS[col]} is ${x.quoted ? "" : "not "}quoted`,
        );
      }
    });
    const mode = ascii.decode(f[11].bytes);
    if (!/^[0-7]{7}$/.test(mode)) {
      throw new SyntaxError(`pwalk csv line ${line}: st_mode '${mode}' is not 7 octal digits`);
    }
    rows.push({
      ino: int(f[0], 0, line),
      parentIno: int(f[1], 1, line),
      depth: int(f[2], 2, line),
      path: f[3].bytes,
      key: key(f[3].bytes),
      ext: f[4].bytes,
      uid: int(f[5], 5, line),
      gid: int(f[6], 6, line),
      size: int(f[7], 7, line),
      dev: int(f[8], 8, line),
      blocks: int(f[9], 9, line),
      nlink: int(f[10], 10, line),
      mode,
      atime: int(f[12], 12, line),
      mtime: int(f[13], 13, line),
      ctime: int(f[14], 14, line),
      fcount: int(f[15], 15, line),
      dirsum: int(f[16], 16, line),
    });
  });
  return { header, rows };
}

/** Rows by path key; throws when a path appears twice. */
export function byPath(rows: PwalkRow[]): Map<string, PwalkRow> {
  const m = new Map<string, PwalkRow>();
  for (const r of rows) {
    if (m.has(r.key)) throw new Error(`pwalk csv: path printed twice: ${JSON.stringify(r.key)}`);
    m.set(r.key, r);
  }
  return m;
}

/** The raw lines of a CSV (each without its newline), as keys, sorted: for set comparisons. */
export function lineSet(data: Uint8Array): string[] {
  const out: string[] = [];
  let s = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === NL) {
      out.push(key(data.subarray(s, i)));
      s = i + 1;
    }
  }
  if (s !== data.length) out.push(key(data.subarray(s)));
  return out.sort();
}

/**
 * A report's first line (decoded, without its newline) and the bytes after
 * it: the header of a report printed with `--header`, and its rows.
 */
export function splitHeader(data: Uint8Array): { header: string; rest: Uint8Array } {
  const nl = data.indexOf(NL);
  return { header: ascii.decode(data.subarray(0, nl)), rest: data.subarray(nl + 1) };
}
