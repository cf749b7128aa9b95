import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { grpcServerEnv } from "@herald/grpc";

/**
 * The logstore's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(100).default(10),
  GRPC_HOST: z.string().min(1).default("0.0.0.0"),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50052),
  // TLS, client certificates and a token for the log queries' port (GRPC_TLS_*, GRPC_AUTH_TOKEN).
  ...grpcServerEnv,
  LOG_BATCH_MAX_ROWS: z.coerce.number().int().min(1).max(5_000).default(500),
  LOG_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(50),
  LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(14),
  LOG_PARTITION_CHECK_MS: z.coerce.number().int().min(100).max(86_400_000).default(3_600_000),
  // Daily partitions made ahead of today, so rows never wait for one.
  LOG_PARTITION_AHEAD_DAYS: z.coerce.number().int().min(1).max(31).default(2),
});
