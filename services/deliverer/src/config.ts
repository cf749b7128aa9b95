import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { egressEnvSchema } from "@herald/egress";
import { projectionEnvSchema } from "@herald/projection";

/**
 * The deliverer's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  ...egressEnvSchema,
  /** Partition ownership, as for presence and the chatroom: a killed deliverer's partitions move after about this long. */
  PROJECTION_LEASE_MS: projectionEnvSchema.shape.PROJECTION_LEASE_MS,
  /**
   * Jobs one partition's owner holds at most (waiting for their key, a retry, a paused endpoint, or
   * being sent); past it the partition takes no new jobs until some are settled.
   */
  DELIVERY_PARTITION_MAX_JOBS: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
  /**
   * HTTP requests in flight in one deliverer, over every endpoint (each endpoint also keeps to its
   * own `concurrency`): thousands of endpoints sending at once would hold a socket each.
   */
  DELIVERY_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(512),
});
