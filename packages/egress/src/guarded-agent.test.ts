import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Agent } from "undici";
import { freePort, startRecordingServer, type RecordingServer } from "@herald/testkit";
import type { EgressPolicy } from "./address-policy.js";
import { callBusinessServer, type CallResult } from "./call.js";
import { DestinationRefusedError } from "./errors.js";
import { checkConnectedSocket, createGuardedAgent } from "./guarded-agent.js";

const PUBLIC_ONLY: EgressPolicy = { allowLoopback: false, allowPrivate: false };
const LOCAL_DEV: EgressPolicy = { allowLoopback: true, allowPrivate: false };

const post = (url: string) => ({
  method: "POST",
  url,
  headers: { "content-type": "application/json" },
  body: '{"hello":1}',
});

/** A plain server on [::1], or undefined where this machine has no IPv6 loopback. */
async function listenOnIPv6Loopback(): Promise<
  { server: Server; port: number; hits: () => number } | undefined
> {
  let count = 0;
  const server = createServer((_req, res) => {
    count += 1;
    res.end("ok");
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "::1", resolve);
    });
  } catch {
    return undefined;
  }
  return { server, port: (server.address() as AddressInfo).port, hits: () => count };
}

function failureOf(result: CallResult) {
  expect(result.ok).toBe(false);
  return result.ok ? undefined : result.failure;
}

describe("createGuardedAgent with callBusinessServer", () => {
  let server: RecordingServer;
  const agents: Agent[] = [];
  const agent = (policy: EgressPolicy) => {
    const a = createGuardedAgent(policy, { connections: 4 });
    agents.push(a);
    return a;
  };

  beforeAll(async () => {
    server = await startRecordingServer();
  });
  afterEach(async () => {
    server.clear();
    await Promise.all(agents.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await server.close();
  });

  it("refuses a loopback IP literal, and the server hears nothing", async () => {
    const result = await callBusinessServer(agent(PUBLIC_ONLY), post(`${server.url}/hook`), 5_000);
    const failure = failureOf(result);
    expect(failure?.reason).toBe("refused");
    expect(failure?.detail).toContain("127.0.0.1");
    expect(failure?.detail).toContain("loopback");
    expect(result.status).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a name that resolves to loopback", async () => {
    const result = await callBusinessServer(
      agent(PUBLIC_ONLY),
      post(`http://localhost:${server.port}/hook`),
      5_000,
    );
    expect(failureOf(result)?.reason).toBe("refused");
    expect(failureOf(result)?.detail).toContain("loopback");
    expect(server.requests).toHaveLength(0);
  });

  it("allows loopback when the policy does", async () => {
    server.reply({ status: 200, body: { actionCode: 0 } });
    const byIp = await callBusinessServer(agent(LOCAL_DEV), post(`${server.url}/hook`), 5_000);
    expect(byIp).toMatchObject({ ok: true, status: 200, body: '{"actionCode":0}' });
    const byName = await callBusinessServer(
      agent({ allowLoopback: false, allowPrivate: true }),
      post(`http://localhost:${server.port}/hook`),
      5_000,
    );
    expect(byName).toMatchObject({ ok: true, status: 200 });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]?.text).toBe('{"hello":1}');
  });

  it("refuses [::1] under a public-only policy and allows it for local development", async (ctx) => {
    const v6 = await listenOnIPv6Loopback();
    if (v6 === undefined) {
      ctx.skip();
      return;
    }
    try {
      const url = `http://[::1]:${v6.port}/hook`;
      const refused = await callBusinessServer(agent(PUBLIC_ONLY), post(url), 5_000);
      expect(failureOf(refused)?.reason).toBe("refused");
      expect(failureOf(refused)?.detail).toContain("::1");
      expect(v6.hits()).toBe(0);
      const allowed = await callBusinessServer(agent(LOCAL_DEV), post(url), 5_000);
      expect(allowed).toMatchObject({ ok: true, status: 200, body: "ok" });
      expect(v6.hits()).toBe(1);
    } finally {
      await new Promise((resolve) => v6.server.close(resolve));
    }
  });

  it("reads Retry-After in seconds and as an HTTP-date", async () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    server.reply(
      { status: 429, headers: { "retry-after": "7" } },
      { status: 503, headers: { "Retry-After": inAMinute } },
      { status: 503, headers: { "retry-after": "later" } },
      { status: 200 },
    );
    const a = agent(LOCAL_DEV);
    const seconds = await callBusinessServer(a, post(server.url), 5_000);
    expect(seconds).toMatchObject({ ok: true, status: 429, headers: { retryAfterMs: 7_000 } });
    expect(seconds.headers.all["retry-after"]).toBe("7");
    const date = await callBusinessServer(a, post(server.url), 5_000);
    expect(date.status).toBe(503);
    expect(date.headers.retryAfterMs).toBeGreaterThan(0);
    expect(date.headers.retryAfterMs).toBeLessThanOrEqual(60_000);
    const unreadable = await callBusinessServer(a, post(server.url), 5_000);
    expect(unreadable.headers.retryAfterMs).toBeUndefined();
    const none = await callBusinessServer(a, post(server.url), 5_000);
    expect(none.headers.retryAfterMs).toBeUndefined();
  });

  it("reports a timeout when the server never answers", async () => {
    server.reply({ hang: true });
    const result = await callBusinessServer(agent(LOCAL_DEV), post(server.url), 200);
    expect(failureOf(result)).toEqual({ reason: "timeout", detail: "no answer within 200 ms" });
  });

  it("reports a closed port as connection refused", async () => {
    const port = await freePort();
    const result = await callBusinessServer(agent(LOCAL_DEV), post(`http://127.0.0.1:${port}/`), 5_000);
    expect(failureOf(result)).toEqual({ reason: "network", detail: "connection refused" });
  });

  it("reports a reset connection", async () => {
    server.reply({ reset: true });
    const result = await callBusinessServer(agent(LOCAL_DEV), post(server.url), 5_000);
    expect(failureOf(result)).toEqual({ reason: "network", detail: "connection reset" });
  });

  it("does not follow a redirect", async () => {
    server.reply({ status: 302, headers: { location: `${server.url}/elsewhere` } });
    const result = await callBusinessServer(agent(LOCAL_DEV), post(`${server.url}/hook`), 5_000);
    expect(result).toMatchObject({ ok: true, status: 302 });
    expect(result.headers.all.location).toBe(`${server.url}/elsewhere`);
    expect(server.requests.map((r) => r.path)).toEqual(["/hook"]);
  });
});

describe("checkConnectedSocket", () => {
  it("destroys a socket connected to a refused address", async () => {
    const server = await startRecordingServer();
    const socket = connect(server.port, "127.0.0.1");
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      expect(checkConnectedSocket(socket, "127.0.0.1", LOCAL_DEV)).toBeUndefined();
      expect(socket.destroyed).toBe(false);
      const refusal = checkConnectedSocket(socket, "127.0.0.1", PUBLIC_ONLY);
      expect(refusal).toBeInstanceOf(DestinationRefusedError);
      expect(refusal?.address).toBe("127.0.0.1");
      expect(socket.destroyed).toBe(true);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});
