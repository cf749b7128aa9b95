import { expect, it } from "vitest";
import pg from "pg";
import { startNats, startPostgres } from "@herald/testkit";
import { startService } from "./harness.js";

// A Postgres that ends every session again and again (a failover, an operator's terminate) while
// partition maintenance runs often: a client dropped between two queries of a transaction must not
// take the log store down.
it("keeps running while Postgres ends its sessions under partition maintenance", async () => {
  const nats = await startNats();
  const postgres = await startPostgres();
  const logstore = await startService("logstore", {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DATABASE_URL: postgres.url,
    LOG_PARTITION_CHECK_MS: "100",
  });
  const admin = new pg.Client({ connectionString: postgres.url });
  try {
    await logstore.waitReady();
    await admin.connect();
    for (let i = 0; i < 150; i++) {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      await new Promise((r) => setTimeout(r, 7 + (i % 13)));
    }
    expect(logstore.child.exitCode, logstore.lines.slice(-40).join("\n")).toBeNull();
    await logstore.waitReady();
  } finally {
    await admin.end().catch(() => undefined);
    await logstore.stop();
    await postgres.stop();
    await nats.stop();
  }
}, 120_000);
