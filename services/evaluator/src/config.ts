import { z } from "zod";
import { baseEnvSchema } from "@herald/runtime";
import { egressEnvSchema } from "@herald/egress";

/** The environment an evaluator reads: in the evaluator service, and in a gateway with BEFORE_EVALUATION=local. */
export const evaluatorEnvSchema = {
  ...egressEnvSchema,
  // Keep-alive connections per business server origin.
  HTTP_CONNECTIONS_PER_ORIGIN: z.coerce.number().int().min(1).max(1024).default(64),
};

/**
 * The evaluator's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend(evaluatorEnvSchema);
