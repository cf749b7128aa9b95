/* eslint-disable @typescript-eslint/no-unsafe-member-access -- the admin API's JSON answers are read by path */
import { beforeAll, describe, expect, it } from "vitest";
import { putApp, validateAppConfig } from "@herald/config";
import { Decision, DecisionSource } from "@herald/proto";
import { waitFor, type RecordingServer } from "@herald/testkit";
import { before } from "./grpc-client.js";
import { loggedDeliveryStack, waitForConfig, type DeliveryStack } from "./delivery-fixture.js";
import { storedMsgIds } from "./stream-contents.js";

// No evaluator runs: an async hook's answer never asks one (a hop would end CALLBACK_FAILED).
const ADMIN_TOKEN = "admin-token-for-async-hooks-0123456789";
const DENY = { actionCode: 0, nextCode: 1, errCode: 5001, errMsg: "no", errDlt: "" };
const COMMAND = "callbackBeforeSendSingleMsgCommand";
const WAIT = { timeoutMs: 60_000 };

const fixture = loggedDeliveryStack({ adminToken: ADMIN_TOKEN });
const { admin: call, businessServer } = fixture;
let stack: DeliveryStack;

beforeAll(() => {
  stack = fixture.stack;
});

/** An app whose webhooks.yml marks beforeSendSingleMsg async, with its own business server. */
async function asyncApp(appId: string, hooks: Record<string, unknown> = {}): Promise<RecordingServer> {
  const server = await businessServer();
  const app = validateAppConfig({
    appId,
    openim: {
      url: `${server.url}/callbackExample`,
      // Seconds per call: the business servers here answer, so never a timeout, even on a loaded machine.
      hooks: { beforeSendSingleMsg: { enable: true, async: true, timeout: 5 }, ...hooks },
    },
  });
  await waitForConfig(stack.deliverers, await putApp(stack.bus, app));
  return server;
}

const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };
const beforeSend = (appId: string, operationId: string, payload: object = single) =>
  before(stack.client, { appId, command: COMMAND, operationId, payload });

/** The attempts the log store holds for the app's implied endpoint, oldest first. */
async function loggedAttempts(appId: string): Promise<Array<Record<string, unknown>>> {
  const res = await call("GET", `/v1/apps/${appId}/attempts?endpointId=openim`);
  expect(res.status, res.text).toBe(200);
  return [...(res.body.attempts as Array<Record<string, unknown>>)].sort(
    (a, b) => Number(a.attempt) - Number(b.attempt),
  );
}

describe("an async before-hook", () => {
  it("answers continue (ASYNC) while the business server holds every request, then delivers the sync call's request", async () => {
    const server = await asyncApp("async-held", {
      beforeSendSingleMsg: { enable: true, async: true, timeout: 30 },
    });
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // It would deny: an async call's answer is logged, never enforced.
    server.fallback({ status: 200, body: DENY, after: released });

    const res = await beforeSend("async-held", "op-async-held-1");
    release();

    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_ASYNC,
      operationId: "op-async-held-1",
    });
    const [req] = await server.waitForRequests(1, WAIT);
    // What the synchronous call sends (before-hooks.test.ts): URL, operationID header, body bytes.
    expect(req?.method).toBe("POST");
    expect(req?.url).toBe(`/callbackExample/${COMMAND}?contenttype=json`);
    expect(req?.headers["operationid"]).toBe("op-async-held-1");
    expect(req?.text).toBe(
      JSON.stringify({ ...single, callbackCommand: COMMAND, operationID: "op-async-held-1" }),
    );
  });

  it("makes the answer's operationId the business server's operationID when the chat core gives none", async () => {
    const server = await asyncApp("async-opid");
    const res = await before(stack.client, { appId: "async-opid", command: COMMAND, payload: single });
    expect(res.source).toBe(DecisionSource.DECISION_SOURCE_ASYNC);
    expect(res.operationId).not.toBe("");
    const [req] = await server.waitForRequests(1, WAIT);
    expect(req?.headers["operationid"]).toBe(res.operationId);
    expect(req?.json()).toMatchObject({ operationID: res.operationId });
  });

  it("stores a Before the chat core sends again (same operationID and payload) once, and calls once", async () => {
    const server = await asyncApp("async-again");
    const first = await beforeSend("async-again", "op-again-1");
    const again = await beforeSend("async-again", "op-again-1");
    const other = await beforeSend("async-again", "op-again-1", { ...single, content: '{"content":"2"}' });
    for (const res of [first, again, other]) expect(res.source).toBe(DecisionSource.DECISION_SOURCE_ASYNC);
    const stored = await storedMsgIds(stack.nats.url, stack.names.streams.events);
    expect([...stored].filter((id) => id.startsWith("async-again:"))).toHaveLength(2);
    const requests = await server.waitForRequests(2, WAIT);
    expect(requests.map((r) => r.json<{ content: string }>().content).sort()).toEqual([
      '{"content":"2"}',
      '{"content":"hi"}',
    ]);
  });

  it("logs every attempt in the delivery log: a failed one, then the success", async () => {
    const server = await asyncApp("async-logged");
    server.reply({ status: 503, body: "busy" });
    server.fallback({ status: 200, body: DENY });

    const res = await beforeSend("async-logged", "op-async-logged-1");
    expect(res.source).toBe(DecisionSource.DECISION_SOURCE_ASYNC);
    await server.waitForRequests(2, WAIT);

    let attempts: Array<Record<string, unknown>> = [];
    await waitFor(
      async () => {
        attempts = await loggedAttempts("async-logged");
        return attempts.some((a) => a.outcome === "delivered");
      },
      { ...WAIT, what: "the delivered attempt in the log store" },
    );
    expect(attempts).toMatchObject([
      { attempt: 1, outcome: "retry", statusCode: 503, operationId: "op-async-logged-1" },
      { attempt: 2, outcome: "delivered", statusCode: 200, operationId: "op-async-logged-1" },
    ]);
    expect(attempts[0]?.eventType).toBe(`openim.${COMMAND}`);
    expect(attempts[0]?.deliveryId).toBe(attempts[1]?.deliveryId);
  });

  it("survives a deliverer killed before it delivered: its successor makes the call", async () => {
    const server = await asyncApp("async-killed");
    server.fallback({ status: 503, body: "down" });

    const res = await beforeSend("async-killed", "op-async-killed-1");
    expect(res.source).toBe(DecisionSource.DECISION_SOURCE_ASYNC);
    await server.waitForRequests(1, WAIT);
    await stack.deliverers[0]!.stop("SIGKILL");
    server.fallback({ status: 200, body: {} });
    const refused = server.requests.length;

    await stack.startDeliverer();
    await waitFor(() => server.requests.length > refused, {
      ...WAIT,
      what: "the call made by the restarted deliverer",
    });
    const last = server.requests.at(-1);
    expect(last?.url).toBe(`/callbackExample/${COMMAND}?contenttype=json`);
    expect(last?.headers["operationid"]).toBe("op-async-killed-1");
    await waitFor(async () => (await loggedAttempts("async-killed")).some((a) => a.outcome === "delivered"), {
      ...WAIT,
      what: "the delivered attempt in the log store",
    });
  }, 120_000);

  it("dead-letters a call out of retries, and replays it from the admin API", async () => {
    const server = await businessServer();
    // An explicit endpoint with the implied one's id takes its place: here, one with no retries.
    const app = validateAppConfig({
      appId: "async-dead",
      openim: {
        url: `${server.url}/callbackExample`,
        hooks: { beforeSendSingleMsg: { enable: true, async: true, timeout: 5 } },
      },
      endpoints: [
        { id: "openim", url: `${server.url}/callbackExample`, dialect: "openim", retry: { scheduleMs: [] } },
      ],
    });
    await waitForConfig(stack.deliverers, await putApp(stack.bus, app));
    server.fallback({ status: 500, body: "down" });

    await beforeSend("async-dead", "op-async-dead-1");
    let dead: Record<string, unknown> | undefined;
    await waitFor(
      async () => {
        dead = (await loggedAttempts("async-dead")).find((a) => a.outcome === "dead");
        return dead !== undefined;
      },
      { ...WAIT, what: "the dead attempt in the log store" },
    );
    server.fallback({ status: 200, body: {} });
    const deliveryId = String(dead?.deliveryId);
    const replay = await call(
      "POST",
      `/v1/apps/async-dead/deliveries/${encodeURIComponent(deliveryId)}/replay`,
    );
    expect(replay.status, replay.text).toBe(202);
    await waitFor(
      async () =>
        (await loggedAttempts("async-dead")).some((a) => a.outcome === "delivered" && a.trigger === "replay"),
      { ...WAIT, what: "the replayed call delivered" },
    );
    const last = server.requests.at(-1);
    expect(last?.url).toBe(`/callbackExample/${COMMAND}?contenttype=json`);
    expect(last?.headers["operationid"]).toBe("op-async-dead-1");
  });

  it("publishes nothing when the hook is off or its filter leaves the message out", async () => {
    const server = await asyncApp("async-filtered", {
      beforeSendSingleMsg: { enable: true, async: true, timeout: 5, deniedTypes: [102] },
      beforeSendGroupMsg: { enable: false, async: true },
    });
    const filtered = await beforeSend("async-filtered", "op-filtered", { ...single, contentType: 102 });
    const disabled = await before(stack.client, {
      appId: "async-filtered",
      command: "callbackBeforeSendGroupMsgCommand",
      operationId: "op-disabled",
      payload: { sendID: "u1", groupID: "g1", contentType: 101 },
    });
    expect(filtered.source).toBe(DecisionSource.DECISION_SOURCE_TYPE_FILTERED);
    expect(disabled.source).toBe(DecisionSource.DECISION_SOURCE_HOOK_DISABLED);
    // Answered only once stored, so whatever the two calls published is in EVENTS now.
    const stored = await storedMsgIds(stack.nats.url, stack.names.streams.events);
    expect([...stored].filter((id) => id.startsWith("async-filtered:"))).toEqual([]);

    // The same app's hook does publish a message it lets through.
    const fired = await beforeSend("async-filtered", "op-fired");
    expect(fired.source).toBe(DecisionSource.DECISION_SOURCE_ASYNC);
    const after = await storedMsgIds(stack.nats.url, stack.names.streams.events);
    expect([...after].filter((id) => id.startsWith("async-filtered:"))).toHaveLength(1);
    const [req] = await server.waitForRequests(1, WAIT);
    expect(req?.headers["operationid"]).toBe("op-fired");
    expect(server.requests).toHaveLength(1);
  });
});
