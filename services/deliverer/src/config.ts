import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { egressEnvSchema } from "@herald/egress";

/**
 * The deliverer's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  ...egressEnvSchema,
  /** Events the router handles at once. */
  ROUTER_CONCURRENCY: z.coerce.number().int().min(1).max(4096).default(256),
});
