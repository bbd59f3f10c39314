/**
 * DuckDB (npm @duckdb/node-api) in the tests: an independent reader of
 * pwalk's reports, plain, compressed or sharded.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";

/** The rows of a DuckDB query as plain numbers, from a fresh in-memory database. */
export async function duck(sql: string): Promise<number[][]> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r.getRows().map((row) => row.map((v) => Number(v)));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** How two Parquet files' rows compare (see {@link parquetDiff}). */
export interface ParquetDiff {
  /** Rows of each file. */
  rows: [number, number];
  /** Rows of the first the second lacks, and the other way (as multisets). */
  only: [number, number];
  /** The column names and types of each, "name:TYPE". */
  columns: [string[], string[]];
}

/** Compare two Parquet files row by row (EXCEPT ALL both ways) and by column types. */
export async function parquetDiff(a: string, b: string): Promise<ParquetDiff> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  const one = async (sql: string) => Number((await c.runAndReadAll(sql)).getRows()[0][0]);
  const columns = async (f: string) =>
    (await c.runAndReadAll(`DESCRIBE SELECT * FROM '${f}'`)).getRowObjectsJson()
      .map((r) => `${r.column_name}:${r.column_type}`);
  try {
    return {
      rows: [await one(`SELECT count(*) FROM '${a}'`), await one(`SELECT count(*) FROM '${b}'`)],
      only: [
        await one(`SELECT count(*) FROM (FROM '${a}' EXCEPT ALL FROM '${b}')`),
        await one(`SELECT count(*) FROM (FROM '${b}' EXCEPT ALL FROM '${a}')`),
      ],
      columns: [await columns(a), await columns(b)],
    };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/**
 * Assert that Parquet file `actual` holds the very rows of `expected` (as
 * multisets, `rows` of them each) under the same column names and types.
 */
export async function assertSameParquet(
  expected: string,
  actual: string,
  rows: number,
): Promise<void> {
  const d = await parquetDiff(expected, actual);
  assertEquals(d.rows, [rows, rows]);
  assertEquals(d.only, [0, 0]);
  assertEquals(d.columns[1], d.columns[0]);
}
