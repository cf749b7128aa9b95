import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";

/**
 * The chatroom's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  // A member offline this long leaves with status 1 (0: off).
  CHATROOM_KICK_AFTER_MS: z.coerce.number().int().min(0).default(0),
  // Added to the kick after an abnormal disconnect; RongCloud delays such syncs by 5 minutes.
  CHATROOM_ABNORMAL_DELAY_MS: z.coerce.number().int().min(0).default(300_000),
  // An empty room is destroyed with status 3 after this long (0: off).
  CHATROOM_IDLE_DESTROY_MS: z.coerce.number().int().min(0).default(0),
  CHATROOM_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  CHATROOM_SWEEP_MS: z.coerce.number().int().min(10).optional(),
  // How soon the events a killed replica held are redelivered to another.
  CHATROOM_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
});
