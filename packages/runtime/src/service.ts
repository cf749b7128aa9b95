import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { Gauge } from "prom-client";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { BaseEnv } from "./config.js";
import { loadConfig } from "./config.js";
import { ConfigError, deadlineTimeout, ensureError } from "./errors.js";
import type { HealthServer, ReadinessCheck } from "./health.js";
import { evaluateReadiness, startHealthServer } from "./health.js";
import type { Logger } from "./logger.js";
import { createLogger, flushLogger } from "./logger.js";
import { createRegistry } from "./metrics.js";
import { startTracing } from "./tracing.js";

export type ServiceState = "starting" | "running" | "draining" | "stopped" | "failed";

const SERVICE_STATES: readonly ServiceState[] = ["starting", "running", "draining", "stopped", "failed"];
const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
// Past the deadline, steps get this long to react to their aborted signal before the process is killed.
const FORCE_EXIT_GRACE_MS = 1000;
const EXIT_FAILURE = 1;
const EXIT_BAD_CONFIG = 2;

export interface ShutdownStep {
  name: string;
  /** `signal` aborts when SHUTDOWN_DEADLINE_MS has passed since shutdown began. */
  run: (signal: AbortSignal) => Promise<void>;
}

export interface StartedService {
  /** Readiness checks, e.g. `{ nats: () => bus.isConnected() }`. */
  checks: Record<string, ReadinessCheck>;
  /** Run in order on shutdown: typically stop intake, finish in-flight, drain NATS, close pools. */
  shutdown: ShutdownStep[];
}

export interface ServiceContext<C> {
  config: C;
  log: Logger;
  registry: Registry;
  /**
   * What /readyz answers, as a boolean: started, not draining, every check passing. For other probes
   * of the same readiness (gRPC health).
   */
  ready: () => Promise<boolean>;
}

export interface ServiceHandle {
  readonly state: ServiceState;
  readonly health: HealthServer;
  /** Runs the same sequence as SIGTERM, without exiting the process; resolves with `stopped`. */
  stop(reason?: string): Promise<void>;
  /** Settles once shutdown is over; `state` then says whether it was clean ("stopped") or not ("failed"). */
  readonly stopped: Promise<void>;
}

/**
 * The composition root's frame: config, logger, metrics, the health server (up before
 * `start` so probes answer while starting), then `start`, then graceful shutdown on
 * SIGTERM/SIGINT. Exits 2 on bad config, 1 when start fails or shutdown overruns, 0 otherwise.
 */
export async function runService<S extends z.ZodType<BaseEnv & Record<string, unknown>>>(opts: {
  name: string;
  schema: S;
  env?: NodeJS.ProcessEnv;
  start: (ctx: ServiceContext<z.infer<S>>) => Promise<StartedService>;
}): Promise<ServiceHandle> {
  const config = loadConfigOrExit(opts.name, opts.schema, opts.env);
  const baseConfig: BaseEnv = config;
  const log = createLogger({ service: opts.name, level: baseConfig.LOG_LEVEL });
  const registry = createRegistry(opts.name);
  const lifecycle = trackState(registry);
  const tracing = await startTracing(opts.name, baseConfig, log);
  let started: StartedService | undefined;

  // "started" is false until start() has returned, so a probe never sees a half-built service as ready,
  // and false again once draining.
  const checks = () => ({ ...started?.checks, started: () => lifecycle.state === "running" });
  const ready = async () => (await evaluateReadiness(checks())).ready;
  // Each readiness check as a metric too (nats: connected), so an alert sees what /readyz sees.
  new Gauge({
    name: "herald_service_check",
    help: "1 while the readiness check passes (nats: the NATS connection is up; started: running), else 0",
    labelNames: ["check"],
    registers: [registry],
    async collect() {
      const report = await evaluateReadiness(checks());
      this.reset();
      for (const [check, passed] of Object.entries(report.checks)) this.set({ check }, passed ? 1 : 0);
    },
  });

  let health: HealthServer;
  try {
    health = await startHealthServer({
      host: baseConfig.HTTP_HOST,
      port: baseConfig.HTTP_PORT,
      log,
      registry,
      checks,
    });
  } catch (err) {
    lifecycle.enter("failed");
    log.fatal({ err }, "health server did not start");
    await flushLogger(log);
    process.exit(EXIT_FAILURE);
  }

  // Async wrapper: a start() that throws synchronously takes the same path as one that rejects.
  const startup = (async () => opts.start({ config, log, registry, ready }))();
  let shutdown: Promise<void> | undefined;
  let signalled = false;
  let markStopped = (): void => {};
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });

  const stop = (reason = "stop requested"): Promise<void> => {
    shutdown ??= runShutdown(reason);
    return shutdown;
  };

  async function runShutdown(reason: string): Promise<void> {
    lifecycle.enter("draining");
    health.setDraining();
    log.info({ reason }, "service draining");
    const deadlineMs = baseConfig.SHUTDOWN_DEADLINE_MS;
    const deadline = AbortSignal.timeout(deadlineMs);
    // A signal may arrive while start() still runs: its steps are only known once it returns.
    const service = await startup.catch(() => undefined);
    // A failed start() has its own path, which cleans up and exits 1.
    if (service === undefined) return;
    // Spans of the last requests are sent once everything else has stopped.
    const tracingStep: ShutdownStep = { name: "tracing", run: () => tracing.shutdown() };
    const steps = tracing.enabled ? [...service.shutdown, tracingStep] : service.shutdown;
    const sequence = runSteps(steps, deadline, log);
    try {
      await deadlineTimeout(sequence, deadlineMs + FORCE_EXIT_GRACE_MS, "shutdown");
      if (deadline.aborted) {
        log.error({ deadlineMs }, "shutdown finished after its deadline");
        lifecycle.enter("failed");
      } else {
        lifecycle.enter("stopped");
      }
    } catch (err) {
      log.fatal({ err, deadlineMs }, "shutdown abandoned: a step ignored its deadline");
      lifecycle.enter("failed");
    }
    await health.close().catch((err: unknown) => log.error({ err }, "health server did not close"));
    // After a signal the process is about to exit; keep ignoring repeats until it does.
    if (!signalled) removeSignalHandlers();
    log.info({ state: lifecycle.state }, "service stopped");
    await flushLogger(log);
    markStopped();
  }

  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, "signal ignored: already shutting down");
      return;
    }
    signalled = true;
    log.info({ signal }, "signal received");
    // The last word if a step hangs and ignores its AbortSignal.
    setTimeout(() => {
      log.fatal({ signal }, "shutdown overran its deadline: forcing exit");
      process.exit(EXIT_FAILURE);
    }, baseConfig.SHUTDOWN_DEADLINE_MS + FORCE_EXIT_GRACE_MS).unref();
    void stop(`signal ${signal}`).then(() => process.exit(lifecycle.state === "stopped" ? 0 : EXIT_FAILURE));
  };
  const removeSignalHandlers = (): void => {
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);

  try {
    started = await startup;
  } catch (err) {
    lifecycle.enter("failed");
    log.fatal({ err: ensureError(err) }, "service failed to start");
    removeSignalHandlers();
    await health
      .close()
      .catch((closeErr: unknown) => log.error({ err: closeErr }, "health server did not close"));
    await flushLogger(log);
    process.exit(EXIT_FAILURE);
  }

  if (shutdown === undefined) {
    lifecycle.enter("running");
    log.info({ httpUrl: health.url }, "service ready");
  }

  return {
    get state() {
      return lifecycle.state;
    },
    health,
    stop,
    stopped,
  };
}

async function runSteps(steps: readonly ShutdownStep[], deadline: AbortSignal, log: Logger): Promise<void> {
  for (const step of steps) {
    const began = performance.now();
    try {
      await step.run(deadline);
      log.info({ step: step.name, durationMs: elapsedMs(began) }, "shutdown step finished");
    } catch (err) {
      // One failed step must not keep the pools after it open.
      log.error(
        { err: ensureError(err), step: step.name, durationMs: elapsedMs(began) },
        "shutdown step failed",
      );
    }
  }
}

function elapsedMs(since: number): number {
  return Math.round(performance.now() - since);
}

function trackState(registry: Registry): { readonly state: ServiceState; enter(next: ServiceState): void } {
  const stateGauge = new Gauge({
    name: "herald_service_state",
    help: "1 for the lifecycle state the service is in, 0 for the others",
    labelNames: ["state"],
    registers: [registry],
  });
  const upGauge = new Gauge({
    name: "herald_service_up",
    help: "1 while the service is running (started and not draining)",
    registers: [registry],
  });
  let state: ServiceState = "starting";
  const enter = (next: ServiceState): void => {
    state = next;
    for (const candidate of SERVICE_STATES) stateGauge.set({ state: candidate }, candidate === next ? 1 : 0);
    upGauge.set(next === "running" ? 1 : 0);
  };
  enter("starting");
  return {
    get state() {
      return state;
    },
    enter,
  };
}

function loadConfigOrExit<S extends z.ZodType>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv | undefined,
): z.infer<S> {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The level is part of the bad config, so this one line goes to stderr whatever LOG_LEVEL says.
    const log = createLogger({ service, destination: pino.destination({ dest: 2, sync: true }) });
    // The message names every bad field; a stack trace would only bury it.
    log.fatal({ field: err.field }, err.message);
    process.exit(EXIT_BAD_CONFIG);
  }
}
