import type pg from "pg";
import type { Logger } from "@herald/runtime";

const DAY_MS = 86_400_000;
// Two maintainers (two log store instances) take turns.
const LOCK_KEY = 7_270_301;

/** A day-partitioned table and the column it is partitioned on. */
interface PartitionedTable {
  name: "attempts" | "events";
  key: "at" | "occurred_at";
}

export const PARTITIONED_TABLES: readonly PartitionedTable[] = [
  { name: "attempts", key: "at" },
  { name: "events", key: "occurred_at" },
];

export interface MaintenanceOptions {
  /** Days kept, today not counted: a partition goes once its whole day is older than this. */
  retentionDays: number;
  /** Days created ahead of today (today is always created). */
  aheadDays: number;
  now?: Date;
}

export interface MaintenanceReport {
  created: string[];
  dropped: string[];
  /** Rows deleted from the DEFAULT partitions for being past retention. */
  purgedDefaultRows: number;
  /** Overview rollup rows deleted for being past retention (they go with the attempts they count). */
  purgedRollupRows: number;
}

/** The UTC day a time falls on, as its midnight. */
export function dayStart(t: Date): Date {
  return new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
}

export function partitionName(table: string, day: Date): string {
  return `${table}_p${day.toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/**
 * Creates today's and the next days' partitions and drops those past retention. Rows for a day
 * that had no partition sit in the DEFAULT partition; Postgres refuses to create a partition over
 * them, so creating one moves them in (in one transaction). Past-retention rows of the DEFAULT
 * partition are deleted too.
 */
export async function maintainPartitions(
  pool: pg.Pool,
  log: Logger,
  opts: MaintenanceOptions,
): Promise<MaintenanceReport> {
  const today = dayStart(opts.now ?? new Date());
  const report: MaintenanceReport = {
    created: [],
    dropped: [],
    purgedDefaultRows: 0,
    purgedRollupRows: 0,
  };
  const cutoff = new Date(today.getTime() - opts.retentionDays * DAY_MS);
  for (const table of PARTITIONED_TABLES) {
    for (let i = 0; i <= opts.aheadDays; i++) {
      const day = new Date(today.getTime() + i * DAY_MS);
      if (await createPartition(pool, table, day)) report.created.push(partitionName(table.name, day));
    }
    for (const name of await partitionsBefore(pool, table, cutoff)) {
      await inTransaction(pool, async (c) => {
        await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
        await c.query(`DROP TABLE IF EXISTS herald.${name}`);
      });
      report.dropped.push(name);
    }
    const purged = await pool.query(`DELETE FROM herald.${table.name}_default WHERE ${table.key} < $1`, [
      cutoff,
    ]);
    report.purgedDefaultRows += purged.rowCount ?? 0;
  }
  // Kept as long as the attempts: the overview then never counts what the attempt log no longer shows.
  const rollups = await pool.query("DELETE FROM herald.attempt_rollups WHERE bucket_start < $1", [cutoff]);
  report.purgedRollupRows = rollups.rowCount ?? 0;
  const changes = report.created.length + report.dropped.length;
  if (changes + report.purgedDefaultRows + report.purgedRollupRows > 0) {
    log.info(report, "partitions maintained");
  }
  return report;
}

/** Creates one day's partition unless it exists; true when it did. */
export async function createPartition(pool: pg.Pool, table: PartitionedTable, day: Date): Promise<boolean> {
  const name = partitionName(table.name, day);
  const from = day.toISOString();
  const to = new Date(day.getTime() + DAY_MS).toISOString();
  const bounds = `FOR VALUES FROM ('${from}') TO ('${to}')`;
  return inTransaction(pool, async (c) => {
    await c.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    const exists = await c.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [
      `herald.${name}`,
    ]);
    if (exists.rows[0]?.exists === true) return false;
    const stray = await c.query<{ stray: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM herald.${table.name}_default WHERE ${table.key} >= $1 AND ${table.key} < $2) AS stray`,
      [from, to],
    );
    if (stray.rows[0]?.stray !== true) {
      await c.query(`CREATE TABLE herald.${name} PARTITION OF herald.${table.name} ${bounds}`);
      return true;
    }
    // The day already has rows (in DEFAULT): build the partition beside the table, move them in, attach.
    await c.query(`CREATE TABLE herald.${name} (LIKE herald.${table.name} INCLUDING DEFAULTS)`);
    await c.query(
      `WITH moved AS (DELETE FROM herald.${table.name}_default WHERE ${table.key} >= $1 AND ${table.key} < $2 RETURNING *)
       INSERT INTO herald.${name} SELECT * FROM moved`,
      [from, to],
    );
    await c.query(`ALTER TABLE herald.${table.name} ATTACH PARTITION herald.${name} ${bounds}`);
    return true;
  });
}

/** Daily partitions whose whole day lies before `cutoff`. */
async function partitionsBefore(pool: pg.Pool, table: PartitionedTable, cutoff: Date): Promise<string[]> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = $1::regclass AND c.relname ~ $2`,
    [`herald.${table.name}`, `^${table.name}_p[0-9]{8}$`],
  );
  return rows
    .map((r) => r.relname)
    .filter((name) => {
      const ymd = name.slice(-8);
      const day = Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(4, 6)) - 1, Number(ymd.slice(6, 8)));
      return day + DAY_MS <= cutoff.getTime();
    })
    .sort();
}

async function inTransaction<T>(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let failed = false;
  // A checked-out client whose connection drops between two queries emits "error"; the pool listens
  // only to idle clients, so without this the process would crash. The next query fails instead.
  const lost = () => (failed = true);
  c.on("error", lost);
  try {
    await c.query("BEGIN");
    const result = await work(c);
    await c.query("COMMIT");
    return result;
  } catch (err) {
    failed = true;
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    // A client that failed may have lost its connection: the pool discards it rather than reuse it.
    c.off("error", lost);
    c.release(failed);
  }
}
