import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";

/**
 * The presence's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  // One grace period for every app for now; a per-app setting in CONFIG can replace it later.
  PRESENCE_GRACE_MS: z.coerce.number().int().min(0).default(0),
  PRESENCE_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  PRESENCE_SWEEP_MS: z.coerce.number().int().min(10).optional(),
  // How soon the events a killed replica held are redelivered to another.
  PRESENCE_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
});
