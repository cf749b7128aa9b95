import type { Registry } from "prom-client";
import type { z } from "zod";
import { AttemptRecorder, largestPayloadBytes, messageLimitBytes, type Bus } from "@herald/bus";
import type { ConfigView } from "@herald/config";
import { createAppAgents, createHookProviders } from "@herald/egress";
import type { Logger } from "@herald/runtime";
import { Breakers } from "./breaker.js";
import type { evaluatorEnvSchema } from "./config.js";
import { createEvaluator } from "./evaluate.js";
import { createEvaluatorMetrics } from "./metrics.js";

const RECORD_LINGER_MS = 20;

export interface EvaluatorSetup {
  bus: Bus;
  config: ConfigView;
  log: Logger;
  registry: Registry;
  env: z.output<z.ZodObject<typeof evaluatorEnvSchema>>;
}

/**
 * An evaluator with its HTTP pools and hook provider streams, breakers, metrics and attempt records: what
 * the evaluator service serves over NATS, and what a gateway runs in its own process with
 * BEFORE_EVALUATION=local.
 */
export function createEvaluatorRuntime(setup: EvaluatorSetup) {
  const { bus, log } = setup;
  // Keep-alive pools per business server origin, every connection checked by the app's SSRF policy.
  const allowLoopback = setup.env.DELIVERY_ALLOW_LOOPBACK;
  const agents = createAppAgents(allowLoopback, { connections: setup.env.HTTP_CONNECTIONS_PER_ORIGIN });
  // One Decide stream per gRPC hook provider target, each resolved and checked by the app's policy.
  const providers = createHookProviders(allowLoopback);
  const breakers = new Breakers();
  const metrics = createEvaluatorMetrics(setup.registry, () => breakers.openCount());
  // One ATTEMPTS message per app every few ms, not one per hook: a NATS write costs the hot path.
  const records = new AttemptRecorder(bus, {
    lingerMs: RECORD_LINGER_MS,
    onError: (err, appId) => log.warn({ err, appId }, "attempt records not sent"),
  });
  const evaluate = createEvaluator({
    config: setup.config,
    agents,
    providers,
    breakers,
    metrics,
    log,
    maxPayloadBytes: largestPayloadBytes(messageLimitBytes(bus)),
    recordAttempt: (record) => records.record(record),
  });
  return {
    evaluate,
    /** Sends the records in hand; call before the bus drains. */
    flushRecords: () => records.flush(),
    close: () => Promise.all([agents.close(), providers.close()]).then(() => undefined),
  };
}

export type EvaluatorRuntime = ReturnType<typeof createEvaluatorRuntime>;
