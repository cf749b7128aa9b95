import { z } from "zod";

/** The environment every projection service reads for the kit (presence, chatroom). */
export const projectionEnvSchema = z.object({
  // A replica killed without a word gives up its partitions after about this long.
  PROJECTION_LEASE_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
  // Events folded into one written batch at most.
  PROJECTION_BATCH: z.coerce.number().int().min(1).max(10_000).default(1_000),
});
