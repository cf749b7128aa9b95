import { z } from "zod";
import { baseEnvSchema, envBoolean } from "@herald/runtime";

/**
 * The deliverer's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  /** Lets every app reach 127.0.0.0/8 and ::1: for local development, never in production. */
  DELIVERY_ALLOW_LOOPBACK: envBoolean.default(false),
  /** Events the router handles at once. */
  ROUTER_CONCURRENCY: z.coerce.number().int().min(1).max(4096).default(256),
});
