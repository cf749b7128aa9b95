import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import { heraldClient, onlineEvent, publish } from "./grpc-client.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const home = await mkdtemp(path.join(tmpdir(), "herald-home-"));

afterAll(() => rm(home, { recursive: true, force: true }));

/** Runs `npm start`'s script the way a user does, until it says Herald is running. */
async function start() {
  // Embedded defaults: whatever NATS or Postgres the test run was given is not passed on.
  const { NATS_URL: _nats, DATABASE_URL: _db, ...inherited } = process.env;
  const env = { ...inherited, HERALD_HOME: home, GRPC_PORT: "0" };
  const child = spawn(process.execPath, [path.join(root, "scripts/start.mjs")], { cwd: root, env });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  await waitFor(() => out.includes("Press Ctrl-C to stop.") || out.includes("herald: stopped"), {
    timeoutMs: 120_000,
    what: "Herald to start",
  });
  const grpc = /gRPC for the chat core\s+(\S+)/.exec(out)?.[1];
  const health = [...out.matchAll(/health\s+(http:\S+)\/healthz/g)].map((m) => m[1]);
  return { child, exited, grpc, health, output: () => out };
}

it("starts everything on embedded defaults, stops cleanly on Ctrl-C, and keeps the data for the next start", async () => {
  const first = await start();
  expect(first.output()).toContain("initialising Postgres");
  expect(first.grpc).toBeDefined();
  expect(first.health).toHaveLength(6);
  for (const url of first.health) expect((await fetch(`${url}/readyz`)).status).toBe(200);

  const event = onlineEvent("app1");
  const client = heraldClient(first.grpc!);
  const stored = await publish(client, [event]);
  client.close();

  first.child.kill("SIGINT");
  expect(await first.exited).toBe(0);
  expect(first.output()).toContain("herald: stopped");

  const second = await start();
  try {
    expect(second.output()).not.toContain("initialising Postgres");
    const again = heraldClient(second.grpc!);
    const res = await publish(again, [event]);
    again.close();
    // The same event in the same stream: JetStream still knows it after the restart.
    expect(res.results[0]).toEqual({ ...stored.results[0], duplicate: true });
  } finally {
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  }
});
