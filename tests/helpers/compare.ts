/**
 * Comparing parsed pwalk rows with the reference, field by field, with a
 * readable list of differences.
 *
 * @module
 */
import { assert } from "@std/assert";
import { key, type PwalkRow } from "./csv.ts";
import type { RefRow } from "./reference.ts";

/** The fields compared, in CSV order (filename is the key). */
export const FIELDS = [
  "ino",
  "parentIno",
  "depth",
  "ext",
  "uid",
  "gid",
  "size",
  "dev",
  "blocks",
  "nlink",
  "mode",
  "atime",
  "mtime",
  "ctime",
  "fcount",
  "dirsum",
] as const;

/** A comparable field name. */
export type FieldName = typeof FIELDS[number];

function val(r: PwalkRow | RefRow, f: FieldName): string | number {
  return f === "ext" ? key(r.ext) : r[f];
}

/**
 * Every difference between actual rows and expected rows: paths missing,
 * paths extra, and fields that differ (except those in `skip`).
 */
export function diffRows(
  actual: PwalkRow[],
  expected: Map<string, RefRow>,
  skip: FieldName[] = [],
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const a of actual) {
    if (seen.has(a.key)) out.push(`printed twice: ${JSON.stringify(a.key)}`);
    seen.add(a.key);
    const e = expected.get(a.key);
    if (!e) {
      out.push(`extra row: ${JSON.stringify(a.key)}`);
      continue;
    }
    for (const f of FIELDS) {
      if (skip.includes(f)) continue;
      if (val(a, f) !== val(e, f)) {
        out.push(`${JSON.stringify(a.key)}: ${f} is ${val(a, f)}, expected ${val(e, f)}`);
      }
    }
  }
  for (const k of expected.keys()) {
    if (!seen.has(k)) out.push(`missing row: ${JSON.stringify(k)}`);
  }
  return out;
}

/** Assert that actual rows equal the expected ones (see {@link diffRows}). */
export function assertRowsMatch(
  actual: PwalkRow[],
  expected: Map<string, RefRow>,
  skip: FieldName[] = [],
): void {
  const d = diffRows(actual, expected, skip);
  assert(
    d.length === 0,
    `${d.length} differences from the reference (${actual.length} rows, ${expected.size} expected):\n` +
      d.slice(0, 40).join("\n"),
  );
}

/** `v`, or a thrown error saying `what` is missing (narrows the type). */
export function must<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new Error(`missing: ${what}`);
  return v;
}
