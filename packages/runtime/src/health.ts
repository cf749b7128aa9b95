import { fastify } from "fastify";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { deadlineTimeout, ensureError } from "./errors.js";
import type { Logger } from "./logger.js";

export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface HealthServer {
  readonly port: number;
  /** Where the server can be reached from this host (a wildcard host becomes loopback). */
  readonly url: string;
  /** From now on /readyz answers 503 so load balancers stop sending work. */
  setDraining(): void;
  close(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, boolean>;
  /** Why a check counted as false when it threw or timed out. */
  failures?: Record<string, string>;
}

const CHECK_TIMEOUT_MS = 1000;

/** Runs every check at once; one that throws or takes longer than a second counts as false. */
export async function evaluateReadiness(checks: Record<string, ReadinessCheck>): Promise<ReadinessReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        const passed = await deadlineTimeout(
          Promise.resolve().then(check),
          CHECK_TIMEOUT_MS,
          `readiness check ${name}`,
        );
        return { name, passed: passed === true, failure: undefined };
      } catch (err) {
        return { name, passed: false, failure: ensureError(err).message };
      }
    }),
  );
  const report: ReadinessReport = {
    ready: results.every((result) => result.passed),
    checks: Object.fromEntries(results.map((result) => [result.name, result.passed])),
  };
  const failures = results.filter((result) => result.failure !== undefined);
  if (failures.length > 0) {
    report.failures = Object.fromEntries(failures.map((result) => [result.name, result.failure]));
  }
  return report;
}

/** GET /healthz (liveness), /readyz (readiness) and /metrics (Prometheus text) on one port. */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  log: Logger;
  registry: Registry;
  checks: () => Record<string, ReadinessCheck>;
}): Promise<HealthServer> {
  const log = opts.log.child({ component: "health" });
  // Probes hit these routes every few seconds: logging each request would drown the service's own lines.
  const app = fastify({ logger: false });
  let draining = false;

  app.get("/healthz", (_request, reply) => reply.send({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    if (draining) return reply.code(503).send({ ready: false, draining: true });
    const report = await evaluateReadiness(opts.checks());
    if (!report.ready) log.debug({ report }, "not ready");
    return reply.code(report.ready ? 200 : 503).send(report);
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await opts.registry.metrics();
    return reply.header("content-type", opts.registry.contentType).send(body);
  });

  app.setErrorHandler((err, _request, reply) => {
    log.error({ err }, "health route failed");
    return reply.code(500).send({ error: "internal" });
  });

  await app.listen({ host: opts.host, port: opts.port });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${reachableHost(opts.host)}:${port}`;
  let closing: Promise<void> | undefined;

  return {
    port,
    url,
    setDraining() {
      draining = true;
    },
    close() {
      closing ??= app.close();
      return closing;
    },
  };
}

function reachableHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
