import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import {
  Decision,
  DecisionSource,
  PublishStreamRequest,
  type HeraldServiceClient,
  type PublishStreamResponse,
} from "@herald/proto";
import { busNames } from "@herald/bus";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { before, beforeStream, heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { storedMsgIds } from "./stream-contents.js";
import { adminCaller } from "./admin-client.js";
import { configureApps } from "./apps.js";

// Apps are explicit: an event or a before-hook for an app configured nowhere is refused with
// NOT_FOUND naming app_id, so that a typo in an app id cannot turn moderation off unseen.

const ADMIN_TOKEN = "admin-token-for-unknown-apps-0123456789";
// Configured (no hooks, no endpoints), and the same id with a typo, configured nowhere.
const KNOWN = "moderated";
const TYPO = "moderatde";
const command = "callbackBeforeSendSingleMsgCommand";
const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

let nats: NatsFixture;
let env: { NATS_URL: string; HERALD_NAMESPACE: string };
let gateway: ServiceProcess;
// The same Herald, with HERALD_ACCEPT_UNKNOWN_APPS=true (a migration's setting).
let lenient: ServiceProcess;
let client: HeraldServiceClient;
let lenientClient: HeraldServiceClient;
const admin = adminCaller(() => gateway.adminUrl, ADMIN_TOKEN);

beforeAll(async () => {
  nats = await startNats();
  env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  gateway = await startService("gateway", { ...env, ADMIN_TOKEN });
  lenient = await startService("gateway", { ...env, HERALD_ACCEPT_UNKNOWN_APPS: "true" });
  await Promise.all([gateway.waitReady(), lenient.waitReady()]);
  await configureApps(env, [KNOWN]);
  client = heraldClient(gateway.grpcAddress);
  lenientClient = heraldClient(lenient.grpcAddress);
});

afterAll(async () => {
  client?.close();
  lenientClient?.close();
  await stopAll([gateway, lenient].filter((s) => s !== undefined));
  await nats?.stop();
});

const stored = () => storedMsgIds(nats.url, busNames(nats.namespace).streams.events);

function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: ServiceError) => err,
  );
}

function expectNotFound(err: ServiceError, field: string): void {
  expect({ code: status[err.code], field: err.metadata.get("herald-field") }).toEqual({
    code: "NOT_FOUND",
    field: [field],
  });
  expect(err.details).toContain(field);
  expect(err.details).toContain(JSON.stringify(TYPO));
}

describe("Publish", () => {
  it("refuses an event for an app configured nowhere with NOT_FOUND naming app_id, storing nothing", async () => {
    const event = onlineEvent(TYPO);
    expectNotFound(await grpcError(publish(client, [event])), "events[0].app_id");
    expect((await stored()).has(`${TYPO}:${event.id}`)).toBe(false);
  });

  it("refuses a batch mixing known and unknown apps whole, naming the unknown event's index", async () => {
    const batch = [onlineEvent(KNOWN), onlineEvent(KNOWN), onlineEvent(TYPO), onlineEvent(KNOWN)];
    const before = await stored();
    expectNotFound(await grpcError(publish(client, batch)), "events[2].app_id");
    expect(await stored()).toEqual(before);
    // The same events without the stray one are stored.
    const ok = await publish(client, [batch[0]!, batch[1]!, batch[3]!]);
    expect(ok.results.map((r) => r.duplicate)).toEqual([false, false, false]);
  });
});

describe("PublishStream", () => {
  it("reports a batch with an unknown app as NOT_FOUND naming app_id, stores none of it, and goes on", async () => {
    const call = client.publishStream();
    const answers: PublishStreamResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (res: PublishStreamResponse) => answers.push(res));
      call.on("end", resolve);
      call.on("error", reject);
    });
    const refused = [onlineEvent(KNOWN), onlineEvent(TYPO)];
    const batches = [
      { batchId: 1, events: [onlineEvent(KNOWN)] },
      { batchId: 2, events: refused },
      { batchId: 3, events: [onlineEvent(KNOWN)] },
    ];
    for (const b of batches) call.write(PublishStreamRequest.fromPartial(b));
    call.end();
    await done;

    expect(answers.map((a) => a.batchId)).toEqual([1, 2, 3]);
    expect(answers[1]).toMatchObject({
      results: [],
      error: { code: "NOT_FOUND", field: "events[1].app_id" },
    });
    expect(answers[1]?.error?.message).toContain(JSON.stringify(TYPO));
    expect(answers[0]?.error).toBeUndefined();
    expect(answers[2]?.error).toBeUndefined();
    const ids = await stored();
    for (const e of refused) expect(ids.has(`${e.appId}:${e.id}`)).toBe(false);
  });
});

describe("Before", () => {
  it("refuses an app configured nowhere with NOT_FOUND naming app_id", async () => {
    const err = await grpcError(before(client, { appId: TYPO, command, payload: single }));
    expectNotFound(err, "app_id");
  });

  it("still continues for an app that exists without hooks (HOOK_DISABLED)", async () => {
    const res = await before(client, { appId: KNOWN, command, payload: single });
    expect(res).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_HOOK_DISABLED,
    });
  });

  it("answers a BeforeStream request for an unknown app with a NOT_FOUND error naming app_id", async () => {
    const stream = beforeStream(client);
    const [unknown, known] = await Promise.all([
      stream.send({ appId: TYPO, command, payload: single }),
      stream.send({ appId: KNOWN, command, payload: single }),
    ]);
    stream.end();
    expect(unknown?.response).toBeUndefined();
    expect(unknown?.error).toMatchObject({ code: "NOT_FOUND", field: "app_id" });
    expect(unknown?.error?.message).toContain(JSON.stringify(TYPO));
    expect(known?.error).toBeUndefined();
    expect(known?.response?.source).toBe(DecisionSource.DECISION_SOURCE_HOOK_DISABLED);
  });
});

describe("an app created through the admin API", () => {
  it("is accepted by Publish and Before right after its creation, without waiting for the view", async () => {
    // Several in a row, each used the moment the API answers: the gateway's view may lag any of them.
    for (let i = 0; i < 5; i++) {
      const appId = `created${i}`;
      const created = await admin("PUT", `/v1/apps/${appId}`, { body: {} });
      expect(created.status, created.text).toBe(201);
      const [res, answer] = await Promise.all([
        publish(client, [onlineEvent(appId)]),
        before(client, { appId, command, payload: single }),
      ]);
      expect(res.results[0]?.duplicate).toBe(false);
      expect(answer.source).toBe(DecisionSource.DECISION_SOURCE_HOOK_DISABLED);
    }
  });

  it("is refused again once deleted and the gateway has seen it", async () => {
    expect((await admin("PUT", "/v1/apps/deleted1", { body: {} })).status).toBe(201);
    expect((await admin("DELETE", "/v1/apps/deleted1")).status).toBeLessThan(300);
    const err = await waitFor(
      () =>
        publish(client, [onlineEvent("deleted1")]).then(
          () => undefined,
          (e: ServiceError) => e,
        ),
      { what: "the deleted app to be refused" },
    );
    expect(err.code).toBe(status.NOT_FOUND);
  });
});

describe("HERALD_ACCEPT_UNKNOWN_APPS=true", () => {
  it("takes events and before-hooks for an app configured nowhere, as before apps were explicit", async () => {
    const event = onlineEvent(TYPO);
    const res = await publish(lenientClient, [event, onlineEvent(KNOWN)]);
    expect(res.results.map((r) => r.duplicate)).toEqual([false, false]);
    expect((await stored()).has(`${TYPO}:${event.id}`)).toBe(true);
    const answer = await before(lenientClient, { appId: TYPO, command, payload: single });
    expect(answer).toMatchObject({
      decision: Decision.DECISION_CONTINUE,
      source: DecisionSource.DECISION_SOURCE_HOOK_DISABLED,
    });
    const stream = beforeStream(lenientClient);
    const streamed = await stream.send({ appId: TYPO, command, payload: single });
    stream.end();
    expect(streamed?.response?.source).toBe(DecisionSource.DECISION_SOURCE_HOOK_DISABLED);
  });
});
