import { afterAll, beforeAll, expect, it } from "vitest";
import { startNats, startPostgres, waitFor, type NatsFixture, type PostgresFixture } from "@herald/testkit";
import { status, type ServiceError } from "@grpc/grpc-js";
import { startService, stopAll, type ServiceName, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";

const names: ServiceName[] = ["gateway", "evaluator", "presence", "chatroom", "deliverer", "logstore"];
let nats: NatsFixture;
let pg: PostgresFixture;
let services: ServiceProcess[] = [];

beforeAll(async () => {
  // This test stops and restarts NATS, so it needs a server of its own, never a shared one.
  [nats, pg] = await Promise.all([startNats({ source: "local" }), startPostgres()]);
  services = await Promise.all(
    names.map((name) =>
      startService(name, {
        NATS_URL: nats.url,
        HERALD_NAMESPACE: nats.namespace,
        DATABASE_URL: pg.url,
        PUBLISH_TIMEOUT_MS: "1000",
      }),
    ),
  );
  await Promise.all(services.map((s) => s.waitReady()));
  await configureApps({ NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace }, ["app1"]);
});

afterAll(async () => {
  await stopAll(services);
  await nats?.stop();
  await pg?.stop();
});

const statuses = () => Promise.all(services.map((s) => s.readyz().catch(() => 0)));

it("reports not ready while NATS is down and ready again once it is back, in every service", async () => {
  expect(await statuses()).toEqual(names.map(() => 200));
  for (const s of services) {
    const body = (await (await fetch(`${s.httpUrl}/readyz`)).json()) as { checks: Record<string, boolean> };
    expect(body.checks).toMatchObject({ nats: true });
  }

  await nats.kill();
  await waitFor(async () => (await statuses()).every((s) => s === 503), {
    timeoutMs: 20_000,
    what: "every service to report not ready",
  });
  expect(
    (await Promise.all(services.map((s) => fetch(`${s.httpUrl}/healthz`)))).map((r) => r.status),
  ).toEqual(names.map(() => 200));

  // Publishing meanwhile is refused as retryable: nothing is acknowledged that is not stored.
  const client = heraldClient(services[0]!.grpcAddress);
  const refused = await publish(client, [onlineEvent("app1")]).catch((e: ServiceError) => e);
  expect((refused as ServiceError).code).toBe(status.UNAVAILABLE);
  // An app the gateway does not know cannot be looked up in CONFIG now: retryable too, not NOT_FOUND.
  const unknown = await publish(client, [onlineEvent("notyet")]).catch((e: ServiceError) => e);
  expect((unknown as ServiceError).code).toBe(status.UNAVAILABLE);

  await nats.start();
  await waitFor(async () => (await statuses()).every((s) => s === 200), {
    timeoutMs: 30_000,
    what: "every service to report ready again",
  });
  const res = await publish(client, [onlineEvent("app1")]);
  expect(res.results[0]?.duplicate).toBe(false);
  client.close();
});

it("serves Prometheus metrics from every service", async () => {
  for (const s of services) {
    const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(text).toContain("process_cpu_user_seconds_total");
  }
});

it("shuts every service down cleanly on SIGTERM (exit 0)", async () => {
  const codes = await Promise.all(services.map((s) => s.stop("SIGTERM")));
  expect(codes).toEqual(names.map(() => 0));
});
