import { afterEach, describe, expect, it } from "vitest";
import type { HealthServer, ReadinessCheck } from "./index.js";
import { createLogger, createRegistry, startHealthServer } from "./index.js";

const log = createLogger({ service: "health-test", level: "silent" });
const servers: HealthServer[] = [];

async function serve(
  checks: () => Record<string, ReadinessCheck>,
  host = "127.0.0.1",
): Promise<HealthServer> {
  const registry = createRegistry("health-test");
  const server = await startHealthServer({ host, port: 0, log, registry, checks });
  servers.push(server);
  return server;
}

async function get(server: HealthServer, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: await response.json() };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("health server", () => {
  it("answers /healthz with 200 while it runs", async () => {
    const server = await serve(() => ({}));
    expect(server.port).toBeGreaterThan(0);
    expect(await get(server, "/healthz")).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("flips /readyz with its check", async () => {
    let natsConnected = false;
    const server = await serve(() => ({ nats: () => natsConnected, pool: () => Promise.resolve(true) }));
    expect(await get(server, "/readyz")).toEqual({
      status: 503,
      body: { ready: false, checks: { nats: false, pool: true } },
    });
    natsConnected = true;
    expect(await get(server, "/readyz")).toEqual({
      status: 200,
      body: { ready: true, checks: { nats: true, pool: true } },
    });
  });

  it("counts a check that throws or hangs as failed and says why", async () => {
    const server = await serve(() => ({
      nats: () => true,
      db: () => {
        throw new Error("pool closed");
      },
      kv: () => new Promise<boolean>(() => {}),
    }));
    expect(await get(server, "/readyz")).toEqual({
      status: 503,
      body: {
        ready: false,
        checks: { nats: true, db: false, kv: false },
        failures: { db: "pool closed", kv: "readiness check kv did not finish within 1000 ms" },
      },
    });
  });

  it("answers /readyz with 503 once draining, whatever the checks say", async () => {
    const server = await serve(() => ({ nats: () => true }));
    expect((await get(server, "/readyz")).status).toBe(200);
    server.setDraining();
    expect(await get(server, "/readyz")).toEqual({ status: 503, body: { ready: false, draining: true } });
    expect((await get(server, "/healthz")).status).toBe(200);
  });

  it("serves the registry's metrics in Prometheus text format", async () => {
    const server = await serve(() => ({}));
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="health-test"\} \d/m);
    expect(text).toContain("# TYPE nodejs_eventloop_lag_seconds gauge");
  });

  it("gives a loopback url when bound to every interface", async () => {
    const server = await serve(() => ({}), "0.0.0.0");
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect((await get(server, "/healthz")).status).toBe(200);
  });

  it("closes idempotently and stops answering", async () => {
    const server = await serve(() => ({}));
    await Promise.all([server.close(), server.close()]);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
