import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  openImAnswer,
  serveHookProvider,
  type HookProviderAnswer,
  type HookProviderCall,
  type HookProviderServer,
} from "@herald/receiver";
import { freePort, waitFor } from "@herald/testkit";
import {
  createHookProviders,
  type HookCall,
  type HookProviders,
  type ProviderTarget,
} from "./hook-provider.js";

// Real gRPC servers on loopback, the evaluator's transport against them.
const LOCAL = { allowPrivateDestinations: false };
const target = (port: number, host = "127.0.0.1"): ProviderTarget => ({
  target: `grpc://${host}:${port}`,
  host,
  port,
});
const call = (operationId: string, body: object = {}): HookCall => ({
  appId: "app1",
  dialect: "openim",
  hook: "beforeSendSingleMsg",
  command: "callbackBeforeSendSingleMsgCommand",
  operationId,
  body: JSON.stringify(body),
});

type Decide = (call: HookProviderCall) => HookProviderAnswer | Promise<HookProviderAnswer>;

/** A provider that records which operations it was asked about and answers by `decide`. */
async function provider(decide: Decide = () => openImAnswer.allow(), port = 0) {
  const seen: string[] = [];
  const server = await serveHookProvider({
    host: "127.0.0.1",
    port,
    decide: (c) => {
      seen.push(c.operationId);
      return decide(c);
    },
  });
  return { server, seen };
}

let providers: HookProviders;
const servers: HookProviderServer[] = [];

beforeAll(() => {
  providers = createHookProviders(true, { reconnectMinMs: 20, reconnectMaxMs: 200 });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => providers.close());

describe("createHookProviders", () => {
  it("matches answers to calls by id, whatever their order, in callBusinessServer's shape", async () => {
    const p = await provider(async (c) => {
      // The first call is answered last.
      if (c.payload["slow"] === true) await new Promise((resolve) => setTimeout(resolve, 100));
      return { body: { actionCode: 0, echo: c.operationId }, retryAfterMs: c.payload["slow"] ? 0 : 250 };
    });
    servers.push(p.server);
    const t = [target(p.server.port)];
    const [slow, fast] = await Promise.all([
      providers.decide(LOCAL, t, call("op-slow", { slow: true }), 2_000),
      providers.decide(LOCAL, t, call("op-fast"), 2_000),
    ]);
    expect(slow).toMatchObject({ ok: true, status: 200, bodyIsUtf8: true });
    expect(JSON.parse(slow.body)).toEqual({ actionCode: 0, echo: "op-slow" });
    expect(JSON.parse(fast.body)).toEqual({ actionCode: 0, echo: "op-fast" });
    expect(fast.headers.retryAfterMs).toBe(250);
    expect(slow.headers.retryAfterMs).toBeUndefined();
  });

  it("gives the status the provider says, as HTTP would", async () => {
    const p = await provider(() => ({ status: 503, body: "busy" }));
    servers.push(p.server);
    const result = await providers.decide(LOCAL, [target(p.server.port)], call("op-503"), 2_000);
    expect(result).toMatchObject({ ok: true, status: 503, body: "busy" });
  });

  it("fails an unanswered call as a timeout", async () => {
    const p = await provider(() => new Promise(() => {}));
    servers.push(p.server);
    const result = await providers.decide(LOCAL, [target(p.server.port)], call("op-late"), 200);
    expect(result).toMatchObject({
      ok: false,
      failure: { reason: "timeout", detail: "no answer within 200 ms" },
    });
  });

  it("refuses a target the app's policy refuses, without connecting", async () => {
    const p = await provider();
    servers.push(p.server);
    const strict = createHookProviders(false);
    const result = await strict.decide(LOCAL, [target(p.server.port, "localhost")], call("op-ssrf"), 2_000);
    await strict.close();
    expect(result).toMatchObject({ ok: false, failure: { reason: "refused" } });
    expect(result.ok ? "" : result.failure.detail).toMatch(/loopback/);
    expect(p.seen).toEqual([]);
  });

  it("fails the calls pending on a broken stream at once, and reconnects when the provider is back", async () => {
    const port = await freePort();
    const p = await provider(() => new Promise(() => {}), port);
    const t = [target(port)];
    const held = providers.decide(LOCAL, t, call("op-held"), 30_000);
    await waitFor(() => p.seen.includes("op-held"), { what: "the provider to hold the call" });
    await p.server.close();
    const result = await held;
    expect(result).toMatchObject({ ok: false, failure: { reason: "network" } });
    expect(result.ok ? "" : result.failure.detail).toMatch(/the stream broke/);

    const back = await provider(undefined, port);
    servers.push(back.server);
    let n = 0;
    await waitFor(async () => (await providers.decide(LOCAL, t, call(`op-back-${n++}`), 1_000)).ok, {
      what: "a call answered after the provider came back",
    });
    expect(back.seen.length).toBeGreaterThan(0);
  });

  it("round-robins over targets that are up, and sends an operation's next call to another target", async () => {
    const a = await provider(() => ({ status: 503, body: "" }));
    const b = await provider(() => ({ status: 503, body: "" }));
    servers.push(a.server, b.server);
    const t = [target(a.server.port), target(b.server.port)];
    // Both streams up first, so that neither is skipped as connecting.
    await waitFor(
      async () => {
        await providers.decide(LOCAL, t, call("warm-up"), 1_000);
        return a.seen.length > 0 && b.seen.length > 0;
      },
      { what: "both targets to take calls" },
    );
    for (let i = 0; i < 6; i++) await providers.decide(LOCAL, t, call(`op-${i}`), 1_000);
    const onA = a.seen.filter((op) => op.startsWith("op-")).length;
    expect(onA).toBe(3);
    // A 503 for op-r on one target: its retry goes to the other, whatever the turn.
    for (let i = 0; i < 4; i++) {
      a.seen.length = 0;
      b.seen.length = 0;
      await providers.decide(LOCAL, t, call(`op-r${i}`), 1_000);
      await providers.decide(LOCAL, t, call(`op-r${i}`), 1_000);
      expect([a.seen, b.seen].map((s) => s.length)).toEqual([1, 1]);
    }
  });
});
