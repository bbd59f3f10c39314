/**
 * DuckDB (npm @duckdb/node-api) in the tests: an independent reader of
 * pwalk's reports, plain, compressed or sharded.
 *
 * @module
 */
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
