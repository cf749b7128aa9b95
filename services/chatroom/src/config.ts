import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { projectionEnvSchema } from "@herald/projection";

/**
 * The chatroom's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend(projectionEnvSchema.shape).extend({
  // Defaults for apps whose chatroom block in CONFIG sets none.
  // A member offline this long leaves with status 1 (0: off).
  CHATROOM_KICK_AFTER_MS: z.coerce.number().int().min(0).default(0),
  // Added to the kick after an abnormal disconnect; RongCloud delays such syncs by 5 minutes.
  CHATROOM_ABNORMAL_DELAY_MS: z.coerce.number().int().min(0).default(300_000),
  // An empty room is destroyed with status 3 after this long (0: off).
  CHATROOM_IDLE_DESTROY_MS: z.coerce.number().int().min(0).default(0),
});
