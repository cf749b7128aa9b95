import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { createApp, listenAddresses, startHerald, stopOrderProblems } from "./herald-start.js";

// The chat core publishes only for apps that exist: the test creates its app through the admin API.
const ADMIN_TOKEN = "admin-token-for-start-tests-0123456789";
const home = await mkdtemp(path.join(tmpdir(), "herald-home-"));

afterAll(() => rm(home, { recursive: true, force: true }));

it(
  "starts everything on embedded defaults, stops cleanly on Ctrl-C, and keeps the data for the next start",
  // Two starts, each given up to startHerald's limit on a loaded machine.
  {
    timeout: 540_000,
  },
  async () => {
    const first = await startHerald(home, { ADMIN_TOKEN });
    expect(first.output()).toContain("initialising Postgres");
    expect(first.grpc).toBeDefined();
    expect(Object.keys(first.health)).toHaveLength(6);
    for (const url of Object.values(first.health)) expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // One machine is local development: gRPC, admin, health, NATS and Postgres listen on loopback only.
    const banner = first.output().slice(first.output().indexOf("Herald is running."));
    const ports = [...banner.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    expect(ports.length).toBeGreaterThanOrEqual(12);
    for (const port of ports) {
      const addresses = listenAddresses(port);
      expect(addresses.length, `something listens on port ${port}`).toBeGreaterThan(0);
      for (const address of addresses) expect(["127.0.0.1", "::1"], `port ${port}`).toContain(address);
    }

    await createApp(first, ADMIN_TOKEN, "app1");
    const event = onlineEvent("app1");
    const client = heraldClient(first.grpc!);
    const stored = await publish(client, [event]);
    client.close();

    first.interrupt();
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("herald: stopped");
    // Ctrl-C reaches only the supervisor, which stops the services before NATS and Postgres.
    expect(stopOrderProblems(first.output())).toEqual([]);

    const second = await startHerald(home, { ADMIN_TOKEN });
    try {
      expect(second.output()).not.toContain("initialising Postgres");
      const again = heraldClient(second.grpc!);
      const res = await publish(again, [event]);
      again.close();
      // The same event in the same stream: JetStream still knows it after the restart.
      expect(res.results[0]).toEqual({ ...stored.results[0], duplicate: true });
    } finally {
      second.interrupt();
      expect(await second.exited).toBe(0);
    }
  },
);
