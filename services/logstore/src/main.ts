// Writes attempt records and the event log to Postgres (the log store issue fills this in).
import { z } from "zod";
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { createPool, migrate, pingDatabase } from "@herald/db";

const schema = baseEnvSchema.extend({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(5),
});

await runService({
  name: "logstore",
  schema,
  async start({ config, log }) {
    await migrate({ url: config.DATABASE_URL, log });
    const pool = createPool({ url: config.DATABASE_URL, log, max: config.DATABASE_POOL_MAX });
    const bus = await startBus({ config, name: "herald-logstore", log });
    return {
      checks: { nats: () => bus.isConnected(), postgres: () => pingDatabase(pool) },
      shutdown: [
        { name: "nats drain", run: () => bus.drain() },
        { name: "postgres pool", run: () => pool.end() },
      ],
    };
  },
});
