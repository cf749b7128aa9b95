// End-to-end tracing: a chat core's traceparent (gRPC metadata) is continued through the gateway,
// NATS, the evaluator and the deliverer to the business server's requests, and, with an OTLP endpoint
// set, every hop's span reaches a real OTLP/HTTP receiver in one trace.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  BeforeRequest,
  Decision,
  Event,
  PublishRequest,
  type BeforeResponse,
  type DeepPartial,
  type HeraldServiceClient,
  type PublishResponse,
} from "@herald/proto";
import {
  startPostgres,
  startRecordingServer,
  waitFor,
  type PostgresFixture,
  type RecordedRequest,
  type RecordingServer,
} from "@herald/testkit";
import { storedAttemptRecords } from "./stream-contents.js";
import { adminCaller } from "./admin-client.js";
import { putApp, validateAppConfig } from "@herald/config";
import { messageEvent, startDeliveryStack, waitForConfig, type DeliveryStack } from "./delivery-fixture.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";

const ADMIN_TOKEN = "trace-admin-token";
const CONTINUE = { actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: "" };
const single = { sendID: "用户-🛰", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

/** A chat core's traceparent: version 00, a trace id, its own span id, sampled. */
function chatCoreTrace(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function metadataOf(traceparent: string | undefined): Metadata {
  const md = new Metadata();
  if (traceparent !== undefined) {
    md.set("traceparent", traceparent);
    md.set("tracestate", "core=1");
  }
  return md;
}

function publishTraced(
  client: HeraldServiceClient,
  events: DeepPartial<Event>[],
  traceparent?: string,
): Promise<PublishResponse> {
  return new Promise((resolve, reject) =>
    client.publish(
      PublishRequest.fromPartial({ events }),
      metadataOf(traceparent),
      (err: ServiceError | null, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

function beforeTraced(
  client: HeraldServiceClient,
  appId: string,
  traceparent?: string,
): Promise<BeforeResponse> {
  return new Promise((resolve, reject) =>
    client.before(
      BeforeRequest.fromPartial({
        appId,
        command: "callbackBeforeSendSingleMsgCommand",
        payloadJson: JSON.stringify(single),
      }),
      metadataOf(traceparent),
      (err: ServiceError | null, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

/** An app with a before-hook and a callback endpoint, both at `server`. */
async function configureTracedApp(
  stack: DeliveryStack,
  appId: string,
  server: RecordingServer,
): Promise<void> {
  const app = validateAppConfig({
    appId,
    openim: {
      url: `${server.url}/openim`,
      hooks: { beforeSendSingleMsg: { enable: true, timeout: 5 } },
    },
    endpoints: [{ id: "cb", url: `${server.url}/callback`, dialect: "mqttchat" }],
  });
  await waitForConfig(stack.deliverers, await putApp(stack.bus, app));
}

/** The trace id and parent span id of a request's traceparent. */
function parentOf(req: RecordedRequest): { traceId: string; spanId: string } | undefined {
  const found = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(req.headers["traceparent"] ?? "");
  return found === null ? undefined : { traceId: found[1] as string, spanId: found[2] as string };
}

async function attemptsOf(stack: DeliveryStack, appId: string, count: number) {
  let records: Awaited<ReturnType<typeof storedAttemptRecords>> = [];
  await waitFor(
    async () => {
      records = (await storedAttemptRecords(stack.nc, stack.names.streams.attempts)).filter(
        (r) => r.appId === appId,
      );
      return records.length >= count;
    },
    { timeoutMs: 20_000, what: `${count} attempt records of ${appId}` },
  );
  return records;
}

describe("with OTEL_EXPORTER_OTLP_ENDPOINT set", () => {
  let otlp: OtlpReceiver;
  let pg: PostgresFixture;
  let stack: DeliveryStack;
  let server: RecordingServer;

  beforeAll(async () => {
    [otlp, pg, server] = await Promise.all([startOtlpReceiver(), startPostgres(), startRecordingServer()]);
    server.fallback({ status: 200, body: CONTINUE });
    stack = await startDeliveryStack({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, ADMIN_TOKEN },
      also: ["evaluator"],
      logStoreDatabaseUrl: pg.url,
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([otlp?.close(), pg?.stop(), server?.close()]);
  }, 60_000);

  it("holds the gateway, bus, evaluator and deliverer spans in the chat core's trace, whose id the business server gets", async () => {
    const appId = "traced";
    await configureTracedApp(stack, appId, server);
    const core = chatCoreTrace();

    // One chat core operation: the before-hook of a message, then the message itself, in one trace.
    const answer = await beforeTraced(stack.client, appId, core.traceparent);
    expect(answer.decision).toBe(Decision.DECISION_CONTINUE);
    const event = messageEvent(appId);
    await publishTraced(stack.client, [event], core.traceparent);

    const requests = await server.waitForRequests(2, { timeoutMs: 20_000 });
    const hookCall = requests.find((r) => r.path.startsWith("/openim"));
    const callback = requests.find((r) => r.path === "/callback");
    expect(parentOf(hookCall!)?.traceId).toBe(core.traceId);
    expect(parentOf(callback!)?.traceId).toBe(core.traceId);

    // Every service's spans of this trace, once the batch exporters have sent them.
    let spans: ReceivedSpan[] = [];
    const byService = (service: string) => spans.filter((s) => s.service === service);
    await waitFor(
      () => {
        spans = otlp.spans.filter((s) => s.traceId === core.traceId);
        return (
          byService("herald-gateway").length >= 4 &&
          byService("herald-evaluator").length >= 2 &&
          byService("herald-deliverer").length >= 2
        );
      },
      { timeoutMs: 30_000, what: "the trace's spans at the OTLP receiver" },
    );
    const named = (service: string, prefix: string) => {
      const span = byService(service).find((s) => s.name.startsWith(prefix));
      expect(span, `${service} span ${prefix}`).toBeDefined();
      return span as ReceivedSpan;
    };
    const beforeRpc = named("herald-gateway", "herald.v1.HeraldService/Before");
    const publishRpc = named("herald-gateway", "herald.v1.HeraldService/Publish");
    // Both calls are children of the chat core's span.
    expect(beforeRpc.parentSpanId).toBe(core.spanId);
    expect(publishRpc.parentSpanId).toBe(core.spanId);
    // Before: the gateway's NATS request, the evaluator's hook span, its HTTP call whose id the request names.
    const request = named("herald-gateway", "request ");
    expect(request.parentSpanId).toBe(beforeRpc.spanId);
    const hook = named("herald-evaluator", "before-hook ");
    expect(hook.parentSpanId).toBe(request.spanId);
    const hookHttp = named("herald-evaluator", "POST ");
    expect(hookHttp.parentSpanId).toBe(hook.spanId);
    expect(parentOf(hookCall!)?.spanId).toBe(hookHttp.spanId);
    // Publish: the bus hop into EVENTS, the router's hop into DELIVERIES, the attempt the callback names.
    const busPublish = named("herald-gateway", "publish ");
    expect(busPublish.parentSpanId).toBe(publishRpc.spanId);
    const route = named("herald-deliverer", "route ");
    expect(route.parentSpanId).toBe(busPublish.spanId);
    const attempt = named("herald-deliverer", "deliver ");
    expect(attempt.parentSpanId).toBe(route.spanId);
    expect(parentOf(callback!)?.spanId).toBe(attempt.spanId);

    // The attempt log keeps the trace id, through the log store to the admin API.
    const records = await attemptsOf(stack, appId, 2);
    expect(records.map((r) => [r.kind, r.traceId]).sort()).toEqual([
      ["before", core.traceId],
      ["delivery", core.traceId],
    ]);
    const call = adminCaller(() => stack.gateway.adminUrl, ADMIN_TOKEN);
    let listed: Array<{ kind: string; traceId?: string }> = [];
    await waitFor(
      async () => {
        const res = await call("GET", `/v1/apps/${encodeURIComponent(appId)}/attempts`);
        listed = res.status === 200 ? (res.body as { attempts: typeof listed }).attempts : [];
        return listed.length >= 2;
      },
      { timeoutMs: 20_000, what: "the attempts in the log store" },
    );
    expect(listed.map((a) => [a.kind, a.traceId]).sort()).toEqual([
      ["before", core.traceId],
      ["delivery", core.traceId],
    ]);
  });

  it("starts a trace when the chat core sends none, and logs carry its ids", async () => {
    const appId = "traced-new";
    await configureTracedApp(stack, appId, server);
    server.clear();
    // A business server that fails the hook: the evaluator logs it, with the trace's ids.
    server.reply({ status: 500, body: "down" });
    await beforeTraced(stack.client, appId);
    const [hookCall] = await server.waitForRequests(1, { timeoutMs: 20_000 });
    const started = parentOf(hookCall!);
    expect(started).toBeDefined();
    const evaluator = stack.others.find((s) => s.name === "evaluator")!;
    await waitFor(
      () =>
        evaluator.lines.some(
          (line) =>
            line.includes("before-hook callback failed") && line.includes(`"trace_id":"${started!.traceId}"`),
        ),
      { timeoutMs: 20_000, what: "the evaluator's log line with the trace id" },
    );
    await waitFor(
      () => otlp.spans.some((s) => s.traceId === started!.traceId && s.service === "herald-gateway"),
      {
        timeoutMs: 30_000,
        what: "the new trace's gateway span",
      },
    );
  });
});

describe("with tracing off", () => {
  let otlp: OtlpReceiver;
  let stack: DeliveryStack;
  let server: RecordingServer;

  beforeAll(async () => {
    [otlp, server] = await Promise.all([startOtlpReceiver(), startRecordingServer()]);
    server.fallback({ status: 200, body: CONTINUE });
    stack = await startDeliveryStack({ also: ["evaluator", "presence"] });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([otlp?.close(), server?.close()]);
  }, 60_000);

  it("still hands the chat core's traceparent on to the business server, and exports nothing", async () => {
    const appId = "untraced";
    await configureTracedApp(stack, appId, server);
    const core = chatCoreTrace();
    await beforeTraced(stack.client, appId, core.traceparent);
    await publishTraced(stack.client, [messageEvent(appId)], core.traceparent);
    const requests = await server.waitForRequests(2, { timeoutMs: 20_000 });
    for (const req of requests) {
      // No span of Herald's: the chat core's own traceparent arrives as it was sent, tracestate too.
      expect(req.headers["traceparent"]).toBe(core.traceparent);
      expect(req.headers["tracestate"]).toBe("core=1");
    }
    const records = await attemptsOf(stack, appId, 2);
    expect(records.map((r) => r.traceId)).toEqual([core.traceId, core.traceId]);

    // Without one from the chat core, nothing is invented.
    server.clear();
    await beforeTraced(stack.client, appId);
    await publishTraced(stack.client, [messageEvent(appId)]);
    const plain = await server.waitForRequests(2, { timeoutMs: 20_000 });
    expect(plain.map((r) => r.headers["traceparent"])).toEqual([undefined, undefined]);
    expect(otlp.requests).toBe(0);
    for (const s of [stack.gateway, ...stack.others, ...stack.deliverers]) {
      expect(s.lines.some((line) => line.includes("tracing: exporting spans"))).toBe(false);
    }

    // A derived event continues the trace of the event it came from: presence's user.online stored
    // with the chat core's traceparent of its conn.online.
    const stored: Array<{ event: Event; traceparent: string | undefined }> = [];
    const sub = stack.nc.subscribe(stack.names.subjects.events(appId), {
      callback: (_err, m) => {
        stored.push({ event: Event.decode(m.data), traceparent: m.headers?.get("traceparent") });
      },
    });
    await stack.nc.flush();
    const online = chatCoreTrace();
    await publishTraced(
      stack.client,
      [
        {
          id: `conn-${online.spanId}`,
          appId,
          operationId: "op-online",
          payload: {
            $case: "connectionOnline",
            value: { userId: "用户-🛰", connId: "c1", platformId: 5, nodeId: "core-1" },
          },
        },
      ],
      online.traceparent,
    );
    await waitFor(() => stored.some((s) => s.event.payload?.$case === "userOnline"), {
      timeoutMs: 20_000,
      what: "presence's user.online",
    });
    sub.unsubscribe();
    expect(stored.find((s) => s.event.payload?.$case === "userOnline")?.traceparent).toBe(online.traceparent);
  });
});
