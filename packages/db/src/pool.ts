import pg from "pg";
import type { Logger } from "@herald/runtime";

export interface PoolOptions {
  url: string;
  log: Logger;
  /** Upper bound of open connections; the log store writes in batches, so a few suffice. */
  max?: number;
  applicationName?: string;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 5,
    application_name: opts.applicationName ?? "herald",
    connectionTimeoutMillis: 5_000,
  });
  // An idle client that loses its server emits here; without a listener the process would crash.
  pool.on("error", (err) => opts.log.warn({ err }, "postgres connection lost"));
  // So may a client at moments the pool does not cover (checked out between two queries, or
  // between a query's end and its release): each client listens for itself, for its whole life.
  // Its next query fails, and the pool discards it.
  pool.on("connect", (client) => {
    client.on("error", (err) => opts.log.debug({ err }, "postgres client lost its connection"));
  });
  return pool;
}

/** True when the database answers a trivial query within a second. */
export async function pingDatabase(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query({ text: "SELECT 1", query_timeout: 1_000 } as pg.QueryConfig);
    return true;
  } catch {
    return false;
  }
}
