// Property tests over the three doors a stranger can knock on: Publish, Before and the admin API.
// Fixed seeds and bounded counts, so a run is repeatable and its length known; a failure prints the
// smallest input that broke the rule.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BeforeRequest,
  Decision,
  DecisionSource,
  PublishRequest,
  type DeepPartial,
  type Event,
  type HeraldServiceClient,
} from "@herald/proto";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { before, heraldClient, onlineEvent, publish } from "./grpc-client.js";
import { startService, stopAll, type ServiceProcess } from "./harness.js";

const ADMIN_TOKEN = "admin-token-for-fuzz-0123456789";
const APP = "fz";
const SEED = 20261202;
/** What a caller may see for input it got wrong: a refusal that names the problem, never a crash. */
// NOT_FOUND: a well-formed app id of an app configured nowhere (apps are explicit).
const REFUSALS = new Set([
  status.INVALID_ARGUMENT,
  status.RESOURCE_EXHAUSTED,
  status.OUT_OF_RANGE,
  status.NOT_FOUND,
]);

let nats: NatsFixture;
let pg: PostgresFixture;
let business: RecordingServer;
const services: ServiceProcess[] = [];
let gateway: ServiceProcess;
let client: HeraldServiceClient;
let raw: Client;

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  business = await startRecordingServer();
  business.fallback({
    status: 200,
    body: { actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: 0 },
  });
  const on = { enable: true, timeout: 2, failedContinue: false };
  const file = path.join(await mkdtemp(path.join(tmpdir(), "herald-fuzz-")), "herald.yaml");
  await writeFile(
    file,
    JSON.stringify({
      apps: {
        [APP]: {
          allowPrivateDestinations: true,
          openim: {
            url: `${business.url}/callbackExample`,
            webhooks: {
              beforeSendSingleMsg: on,
              beforeOfflinePush: on,
              beforeMsgModify: on,
              beforeAddFriend: on,
            },
          },
          // Low, so that inputs which make the business call fail would open it and show up below.
          breaker: { failureThreshold: 3, openMs: 60_000 },
        },
      },
    }),
  );
  const env = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace, DELIVERY_ALLOW_LOOPBACK: "true" };
  // One at a time: on a loaded machine, six processes starting at once can miss their readiness wait.
  const logstore = await startService("logstore", { ...env, DATABASE_URL: pg.url });
  services.push(logstore);
  await logstore.waitReady();
  gateway = await startService("gateway", {
    ...env,
    HERALD_CONFIG: file,
    ADMIN_TOKEN,
    LOGSTORE_ADDRESS: logstore.grpcAddress,
  });
  services.push(gateway);
  await gateway.waitReady();
  const evaluator = await startService("evaluator", env);
  services.push(evaluator);
  await evaluator.waitReady();
  client = heraldClient(gateway.grpcAddress);
  raw = new Client(gateway.grpcAddress, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  raw?.close();
  await stopAll(services);
  await business?.close();
  await Promise.all([nats?.stop(), pg?.stop()]);
});

/** The outcome of a gRPC call: OK, or the status and the field the gateway named. */
interface Outcome {
  code: status;
  details: string;
  field: string | undefined;
}

function outcomeOf(err: ServiceError | null): Outcome {
  if (err === null) return { code: status.OK, details: "", field: undefined };
  const field = err.metadata?.get("herald-field")[0];
  return { code: err.code, details: err.details, field: typeof field === "string" ? field : undefined };
}

function publishOutcome(events: DeepPartial<Event>[]): Promise<Outcome> {
  return new Promise((resolve) =>
    client.publish(PublishRequest.fromPartial({ events }), (err) => resolve(outcomeOf(err))),
  );
}

function beforeOutcome(req: DeepPartial<BeforeRequest>): Promise<Outcome> {
  return new Promise((resolve) =>
    client.before(BeforeRequest.fromPartial(req), (err) => resolve(outcomeOf(err))),
  );
}

/** Sends bytes as they are, as a chat core with a broken encoder would. */
function rawCall(method: "Publish" | "Before", bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) =>
    raw.makeUnaryRequest(
      `/herald.v1.HeraldService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      (err: ServiceError | null) => resolve(outcomeOf(err)),
    ),
  );
}

/** A refusal must name what was wrong; anything else (INTERNAL, UNKNOWN, a hang) is a defect. */
function expectAnswerOrRefusal(outcome: Outcome, input: unknown): void {
  if (outcome.code === status.OK) return;
  const what = `${status[outcome.code]} ${outcome.details} for ${JSON.stringify(input)?.slice(0, 500)}`;
  expect(REFUSALS.has(outcome.code), what).toBe(true);
  expect(outcome.details, what).not.toBe("");
}

// Strings of the kinds a chat app really has, and of the kinds an attacker sends.
const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "42",
    "李四",
    "🙂👩‍💻",
    "مستخدم",
    "a\u0000b",
    "\uD800",
    "a.b",
    "a b",
    "*",
    ">",
    "../../etc/passwd",
    "%2e%2e",
    "x".repeat(129),
    "x".repeat(300),
    "操作",
    "",
  ),
);
const id = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/) },
  { weight: 2, arbitrary: text },
);
// Every integer field of the contract is 32 bits wide; wider numbers cannot even be encoded.
const int = fc.oneof(
  fc.integer({ min: -5, max: 20 }),
  fc.integer(),
  fc.constantFrom(2 ** 31 - 1, -(2 ** 31)),
);
const jsonText = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 60 }),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`),
  fc.constantFrom('{"content":"李四 🙂 مرحبا"}', "{}", "null", "[]", '{"a":1e999}', '{"__proto__":{"x":1}}'),
);
const date = fc.oneof(
  fc.date({ noInvalidDate: true }),
  fc.date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true }),
);

const payload = fc.oneof(
  fc.record({
    $case: fc.constant("connectionOnline" as const),
    value: fc.record({ userId: id, connId: id, platformId: int, nodeId: id, clientIp: text }),
  }),
  fc.record({
    $case: fc.constant("connectionOffline" as const),
    value: fc.record({ userId: id, connId: id, platformId: int, nodeId: id, reason: int }),
  }),
  fc.record({
    $case: fc.constant("connectionBackground" as const),
    value: fc.record({ userId: id, connId: id, nodeId: id, isAppBackground: fc.boolean() }),
  }),
  fc.record({ $case: fc.constant("nodeReset" as const), value: fc.record({ nodeId: id }) }),
  fc.record({
    $case: fc.constant("messageSent" as const),
    value: fc.record({
      messageId: id,
      fromUserId: id,
      toUserId: id,
      groupId: fc.constantFrom("", "g1"),
      type: int,
      content: text,
      contentType: int,
      sentAt: date,
    }),
  }),
  fc.record({ $case: fc.constant("roomCreated" as const), value: fc.record({ roomId: id, status: int }) }),
  fc.record({
    $case: fc.constant("roomJoined" as const),
    value: fc.record({ roomId: id, userIds: fc.array(id, { maxLength: 5 }), status: int }),
  }),
  fc.record({
    $case: fc.constant("roomLeft" as const),
    value: fc.record({ roomId: id, userIds: fc.array(id, { maxLength: 5 }), status: int }),
  }),
  fc.record({ $case: fc.constant("roomDestroyed" as const), value: fc.record({ roomId: id, status: int }) }),
  fc.record({
    $case: fc.constant("passthrough" as const),
    value: fc.record({ command: text, payloadJson: jsonText }),
  }),
  fc.record({ $case: fc.constant("userOnline" as const), value: fc.record({ userId: id }) }),
);

const event = fc.record(
  {
    id,
    appId: fc.oneof({ weight: 3, arbitrary: fc.constant(APP) }, { weight: 1, arbitrary: text }),
    occurredAt: date,
    operationId: fc.oneof(fc.constant(""), id, text),
    payload,
  },
  { requiredKeys: ["id", "appId", "payload"] },
);

describe("fuzz", () => {
  it("Publish answers every batch with its results or a refusal naming the field", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 4 }), async (events) => {
        const outcome = await publishOutcome(events);
        expectAnswerOrRefusal(outcome, events);
        if (outcome.code === status.INVALID_ARGUMENT || outcome.code === status.NOT_FOUND) {
          expect(outcome.field, outcome.details).toBeTruthy();
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Whatever came before, an ordinary batch is still stored.
    const ok = await publish(client, [onlineEvent(APP)]);
    expect(ok.results).toHaveLength(1);
  });

  it("Before answers every call with a decision or a refusal, and a later honest call still reaches the business server", async () => {
    const commands = fc.oneof(
      fc.constantFrom(
        "callbackBeforeSendSingleMsgCommand",
        "beforeSendSingleMsg",
        "callbackBeforePushCommand",
        "beforeMsgModify",
      ),
      text,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          appId: fc.oneof(fc.constant(APP), text),
          command: commands,
          operationId: fc.oneof(id, text),
          payloadJson: jsonText,
        }),
        async (req) => {
          const outcome = await beforeOutcome(req);
          expectAnswerOrRefusal(outcome, req);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    business.clear();
    const answer = await before(client, {
      appId: APP,
      command: "callbackBeforeSendSingleMsgCommand",
      operationId: "op-after-fuzz",
      payload: { sendID: "李四", recvID: "🙂", contentType: 101, content: "hi" },
    });
    expect(answer.decision).toBe(Decision.DECISION_CONTINUE);
    expect(answer.source).toBe(DecisionSource.DECISION_SOURCE_BUSINESS_SERVER);
    expect(business.requests.length).toBeGreaterThan(0);
  });

  it("bytes that are not a valid message get a refusal, never a crash", async () => {
    const valid = Buffer.from(
      PublishRequest.encode(PublishRequest.fromPartial({ events: [onlineEvent(APP)] })).finish(),
    );
    const validBefore = Buffer.from(
      BeforeRequest.encode(
        BeforeRequest.fromPartial({
          appId: APP,
          command: "beforeSendSingleMsg",
          operationId: "op",
          payloadJson: "{}",
        }),
      ).finish(),
    );
    const mutated = (base: Buffer) =>
      fc
        .array(fc.record({ at: fc.nat({ max: base.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        })
        .map((flips) => {
          const copy = Buffer.from(base);
          for (const { at, byte } of flips) copy[at] = byte;
          return copy;
        });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated(valid).map((bytes) => ["Publish", bytes] as const),
          mutated(validBefore).map((bytes) => ["Before", bytes] as const),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => ["Publish", Buffer.from(bytes)] as const),
        ),
        async ([method, bytes]) => expectAnswerOrRefusal(await rawCall(method, bytes), bytes.toString("hex")),
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("the admin API answers every request without a 5xx, and nothing without a token", async () => {
    const spec = (await (await fetch(`${gateway.adminUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(spec.paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((method) => ({ route, method: method.toUpperCase() })),
    );
    expect(routes.length).toBeGreaterThan(20);
    const segment = fc.oneof(
      fc.constantFrom(APP, "李四", "🙂", "a%2Fb", "..", "%00", "x".repeat(400)),
      text.map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, "?"))),
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.constant(undefined),
      fc.string({ maxLength: 80 }),
    );
    const token = fc.constantFrom<string | undefined>(ADMIN_TOKEN, undefined, "wrong-token-0123456789abcdef");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.array(segment, { minLength: 4, maxLength: 4 }),
        body,
        token,
        async ({ route, method }, params, json, bearer) => {
          let i = 0;
          const url = route.replace(/\{[^}]+\}/g, () => params[i++] ?? APP);
          const headers: Record<string, string> = {};
          if (bearer !== undefined) headers["authorization"] = `Bearer ${bearer}`;
          const hasBody = json !== undefined && method !== "GET" && method !== "DELETE";
          if (hasBody) headers["content-type"] = "application/json";
          const res = await fetch(`${gateway.adminUrl}${url}`, {
            method,
            headers,
            body: hasBody ? (typeof json === "string" ? json : JSON.stringify(json)) : undefined,
          });
          const answer = await res.text();
          const what = `${method} ${url} (${bearer === ADMIN_TOKEN ? "admin" : (bearer ?? "no token")}) -> ${res.status} ${answer.slice(0, 300)}`;
          expect(res.status, what).toBeLessThan(500);
          if (bearer !== ADMIN_TOKEN) expect(res.status, what).toBeGreaterThanOrEqual(400);
          if (res.status >= 400)
            expect((JSON.parse(answer) as { error?: { code?: unknown } }).error?.code, what).toBeTypeOf(
              "string",
            );
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });
});
