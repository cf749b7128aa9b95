import { startConsumer, type Bus, type ConsumerRunner, type Delivery } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import { Counter, type Registry } from "prom-client";
import { Batcher, type WriteBatch } from "./batcher.js";

export interface IngestOptions<T> {
  bus: Bus;
  log: Logger;
  metrics: IngestMetrics;
  table: "attempts" | "events";
  stream: string;
  filterSubject: string;
  durable: string;
  /** Decodes a message into its rows (a batch of records: several); throws TerminalError when it never can be stored. */
  toRows: (data: Uint8Array) => T[];
  /** Messages acked without a row: for events, a node.reset's per-partition copies (logged once). */
  skip?: (d: Delivery) => boolean;
  write: WriteBatch<T>;
  batchMaxRows: number;
  batchLingerMs: number;
}

// Two batches fill while a third commits: enough messages in hand to keep Postgres busy.
const BATCHES_IN_HAND = 2;
const WRITES_AT_ONCE = 2;

export interface IngestMetrics {
  rows: Counter<"table">;
  batches: Counter<"table" | "result">;
}

export function ingestMetrics(registry: Registry): IngestMetrics {
  return {
    rows: new Counter({
      name: "herald_logstore_rows_written_total",
      help: "Rows sent to Postgres in committed batches (redelivered ones included)",
      labelNames: ["table"] as const,
      registers: [registry],
    }),
    batches: new Counter({
      name: "herald_logstore_batches_total",
      help: "Batch writes by table and result (ok, failed)",
      labelNames: ["table", "result"] as const,
      registers: [registry],
    }),
  };
}

/**
 * One durable consumer feeding one batcher: a message is acked once its row has committed with
 * its batch; a batch that fails as a whole (Postgres down) naks every message of it with a
 * delay, so nothing is lost and the consumer catches up once Postgres is back.
 */
export function startIngest<T>(opts: IngestOptions<T>): { consumer: ConsumerRunner; batcher: Batcher<T> } {
  const m = opts.metrics;
  const batcher = new Batcher<T>({
    maxRows: opts.batchMaxRows,
    lingerMs: opts.batchLingerMs,
    maxWrites: WRITES_AT_ONCE,
    write: async (rows) => {
      try {
        const outcomes = await opts.write(rows);
        m.rows.inc({ table: opts.table }, rows.length);
        m.batches.inc({ table: opts.table, result: "ok" });
        return outcomes;
      } catch (err) {
        m.batches.inc({ table: opts.table, result: "failed" });
        throw err;
      }
    },
  });
  const concurrency = opts.batchMaxRows * BATCHES_IN_HAND;
  const consumer = startConsumer({
    bus: opts.bus,
    log: opts.log.child({ table: opts.table }),
    spec: {
      stream: opts.stream,
      durable: opts.durable,
      filterSubject: opts.filterSubject,
      maxAckPending: concurrency * 2,
    },
    concurrency,
    // Postgres back up should be noticed within seconds, not the default minute.
    retryDelayMs: (n) => Math.min(5_000, 250 * 2 ** Math.max(0, n - 1)),
    handle: async (d) => {
      if (opts.skip?.(d) === true) return;
      // The message is acked once every row of it has committed.
      await Promise.all(opts.toRows(d.data).map((row) => batcher.add(row)));
    },
  });
  return { consumer, batcher };
}
