import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { projectionEnvSchema } from "@herald/projection";

/**
 * The presence's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend(projectionEnvSchema.shape).extend({
  // The grace period of apps whose presence block in CONFIG sets none.
  PRESENCE_GRACE_MS: z.coerce.number().int().min(0).default(0),
  // A leased chat-core node is reset once silent for its lease plus this long (apps' presence block may say otherwise).
  PRESENCE_NODE_LEASE_MARGIN_MS: z.coerce.number().int().min(0).default(5_000),
});
