// The gRPC ports of the gateway (chat core API and log queries) and of the log store, secured: a token
// on every method, unary and streaming; TLS; client certificates. Real processes, real grpc-js clients.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Client,
  credentials,
  Metadata,
  status,
  type ChannelCredentials,
  type MethodDefinition,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import {
  ChatroomServiceService,
  DeliveryLogServiceClient,
  DeliveryLogServiceService,
  GetEventDeliveriesRequest,
  HeraldServiceService,
  PresenceServiceService,
  PublishStreamRequest,
  type GetEventDeliveriesResponse,
  type PublishStreamResponse,
} from "@herald/proto";
import { grpcClientSetup, type GrpcClientSecurity } from "@herald/grpc";
import {
  makeTestPki,
  startNats,
  startPostgres,
  waitFor,
  type NatsFixture,
  type PostgresFixture,
  type TestPki,
} from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { before, beforeStream, heraldClient, onlineEvent, publish } from "./grpc-client.js";

const GATEWAY_TOKEN = "gateway-token-for-the-chat-core-0001";
const LOGSTORE_TOKEN = "logstore-token-for-the-gateway-0002";
const CALL_DEADLINE_MS = 15_000;
const single = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

let nats: NatsFixture;
let postgres: PostgresFixture;
let pki: TestPki;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  [nats, postgres, pki] = await Promise.all([startNats(), startPostgres(), makeTestPki()]);
}, 120_000);

afterAll(async () => {
  await stopAll(running);
  await postgres?.stop();
  await nats?.stop();
});

async function start(name: "gateway" | "logstore", env: Record<string, string>): Promise<ServiceProcess> {
  const service = await startService(name, {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    ...(name === "logstore" && { DATABASE_URL: postgres.url }),
    ...env,
  });
  running.push(service);
  await service.waitReady();
  // The apps the tests publish for (the gateway refuses unknown ones); the bucket exists once a gateway is up.
  if (name === "gateway") {
    await configureApps({ NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace }, [
      "tok",
      "tls",
      "fwd",
      "mtls",
    ]);
  }
  return service;
}

interface Answer {
  code: status;
  details: string;
}

/** Calls `method` with its empty request (unary, or one message on a stream) and returns the status. */
function callMethod(client: Client, method: MethodDefinition<unknown, unknown>, metadata: Metadata) {
  const request = method.requestDeserialize(Buffer.alloc(0));
  const options = { deadline: Date.now() + CALL_DEADLINE_MS };
  return new Promise<Answer>((resolve) => {
    if (!method.requestStream && !method.responseStream) {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        options,
        (err) => resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: "" }),
      );
      return;
    }
    const call = client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      options,
    );
    call.on("data", () => undefined);
    call.on("error", () => undefined);
    call.on("status", (s) => resolve({ code: s.code, details: s.details }));
    call.write(request);
    call.end();
  });
}

function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Every method of every service on the port, called three ways: what each answered. */
async function answersOfEveryMethod(
  address: string,
  services: Record<string, ServiceDefinition>,
  channel: ChannelCredentials,
  rightToken: string,
  otherToken: string,
) {
  const client = new Client(address, channel);
  const answers: Record<string, { none: status; wrong: status; other: status; right: status }> = {};
  try {
    for (const [service, definition] of Object.entries(services)) {
      for (const [name, method] of Object.entries(definition)) {
        const m = method as MethodDefinition<unknown, unknown>;
        const [none, wrong, other, right] = await Promise.all([
          callMethod(client, m, new Metadata()),
          callMethod(client, m, bearer("not-the-token-at-all-000000")),
          callMethod(client, m, bearer(otherToken)),
          callMethod(client, m, bearer(rightToken)),
        ]);
        answers[`${service}.${name}`] = {
          none: none.code,
          wrong: wrong.code,
          other: other.code,
          right: right.code,
        };
      }
    }
  } finally {
    client.close();
  }
  return answers;
}

function expectTokenEnforced(answers: Awaited<ReturnType<typeof answersOfEveryMethod>>, methods: number) {
  expect(Object.keys(answers)).toHaveLength(methods);
  for (const [method, a] of Object.entries(answers)) {
    expect({ method, none: a.none, wrong: a.wrong, other: a.other }).toEqual({
      method,
      none: status.UNAUTHENTICATED,
      wrong: status.UNAUTHENTICATED,
      other: status.UNAUTHENTICATED,
    });
    // The right token reaches the handler: whatever it says of an empty request, it is not about the caller.
    expect({ method, right: a.right }).not.toEqual({ method, right: status.UNAUTHENTICATED });
  }
}

function logClient(address: string, security: GrpcClientSecurity): DeliveryLogServiceClient {
  const setup = grpcClientSetup(security);
  return new DeliveryLogServiceClient(address, setup.credentials, setup.options);
}

function eventDeliveries(client: DeliveryLogServiceClient, appId: string, eventId: string) {
  return new Promise<GetEventDeliveriesResponse>((resolve, reject) =>
    client.getEventDeliveries(
      GetEventDeliveriesRequest.fromPartial({ appId, eventId }),
      new Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

function failure(promise: Promise<unknown>): Promise<{ code: status; details: string }> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: { code: status; details: string }) => err,
  );
}

/** Publishes an event through the gateway and waits until the log store, asked through `logs`, has it. */
async function publishedAndLogged(
  gatewayClient: ReturnType<typeof heraldClient>,
  logs: DeliveryLogServiceClient,
  appId: string,
) {
  const event = onlineEvent(appId);
  const res = await publish(gatewayClient, [event]);
  expect(res.results).toHaveLength(1);
  await waitFor(async () => (await eventDeliveries(logs, appId, event.id!)).event?.id === event.id, {
    timeoutMs: 30_000,
    what: `event ${event.id} in the log store`,
  });
}

const GATEWAY_SERVICES = {
  HeraldService: HeraldServiceService,
  PresenceService: PresenceServiceService,
  ChatroomService: ChatroomServiceService,
  DeliveryLogService: DeliveryLogServiceService,
};
/** Every method of `services`, counted from the definitions, so an answer missing for one fails. */
const methodCount = (services: Record<string, object>) =>
  Object.values(services).reduce((n, definition) => n + Object.keys(definition).length, 0);
const GATEWAY_METHOD_COUNT = methodCount(GATEWAY_SERVICES);

describe("a token on both gRPC ports", () => {
  let logstore: ServiceProcess;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    // One after the other: each process has the cores to itself within its readiness wait.
    logstore = await start("logstore", { GRPC_AUTH_TOKEN: LOGSTORE_TOKEN });
    gateway = await start("gateway", {
      GRPC_AUTH_TOKEN: GATEWAY_TOKEN,
      LOGSTORE_ADDRESS: logstore.grpcAddress,
      LOGSTORE_AUTH_TOKEN: LOGSTORE_TOKEN,
    });
  }, 120_000);
  // Two cores: the next group's services start once these are gone.
  afterAll(() => stopAll(running.splice(0)));

  it("the gateway answers UNAUTHENTICATED on every method, unary and streaming, without its token", async () => {
    const answers = await answersOfEveryMethod(
      gateway.grpcAddress,
      GATEWAY_SERVICES,
      credentials.createInsecure(),
      GATEWAY_TOKEN,
      LOGSTORE_TOKEN,
    );
    expectTokenEnforced(answers, GATEWAY_METHOD_COUNT);
    expect(Object.keys(answers)).toEqual(
      expect.arrayContaining(["HeraldService.publishStream", "HeraldService.beforeStream"]),
    );
  });

  it("the log store answers UNAUTHENTICATED on every DeliveryLogService method without its token", async () => {
    const answers = await answersOfEveryMethod(
      logstore.grpcAddress,
      { DeliveryLogService: DeliveryLogServiceService },
      credentials.createInsecure(),
      LOGSTORE_TOKEN,
      GATEWAY_TOKEN,
    );
    expectTokenEnforced(answers, methodCount({ DeliveryLogServiceService }));
  });

  it("with the token: Publish, PublishStream, Before and BeforeStream work", async () => {
    const client = heraldClient(gateway.grpcAddress, { token: GATEWAY_TOKEN });
    try {
      expect((await publish(client, [onlineEvent("tok")])).results).toHaveLength(1);
      const answer = await before(client, {
        appId: "tok",
        command: "callbackBeforeSendSingleMsgCommand",
        payload: single,
      });
      expect(answer.operationId).not.toBe("");
      const stream = beforeStream(client);
      const streamed = await stream.send({
        appId: "tok",
        command: "callbackBeforeSendSingleMsgCommand",
        payload: single,
      });
      stream.end();
      expect(streamed.response?.operationId).not.toBe("");

      const publishing = client.publishStream();
      const batch = new Promise<PublishStreamResponse>((resolve, reject) => {
        publishing.on("data", resolve);
        publishing.on("error", reject);
      });
      publishing.write(PublishStreamRequest.fromPartial({ batchId: 7, events: [onlineEvent("tok")] }));
      const acked = await batch;
      publishing.end();
      expect(acked).toMatchObject({ batchId: 7, error: undefined });
      expect(acked.results).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it("the gateway forwards log queries to the token-protected log store", async () => {
    const client = heraldClient(gateway.grpcAddress, { token: GATEWAY_TOKEN });
    const viaGateway = logClient(gateway.grpcAddress, { token: GATEWAY_TOKEN });
    const direct = logClient(logstore.grpcAddress, { token: LOGSTORE_TOKEN });
    try {
      await publishedAndLogged(client, viaGateway, "fwd");
      await publishedAndLogged(client, direct, "fwd");
    } finally {
      client.close();
      viaGateway.close();
      direct.close();
    }
  });

  it("a gateway the log store refuses says its own credentials are at fault, not the caller's", async () => {
    const adminToken = "admin-token-of-the-misconfigured-one";
    const misconfigured = await start("gateway", {
      GRPC_HOST: "0.0.0.0",
      ADMIN_TOKEN: adminToken,
      LOGSTORE_ADDRESS: logstore.grpcAddress,
      LOGSTORE_AUTH_TOKEN: "a-token-the-log-store-never-had",
    });
    const viaGateway = logClient(misconfigured.grpcAddress, {});
    try {
      const err = await failure(eventDeliveries(viaGateway, "fwd", "any"));
      expect(err.code).toBe(status.INTERNAL);
      expect(err.details).toMatch(/LOGSTORE_AUTH_TOKEN/);
    } finally {
      viaGateway.close();
    }
    const res = await fetch(`${misconfigured.adminUrl}/v1/apps/fwd/attempts`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(res.status).toBe(502);
    expect(JSON.stringify(await res.json())).toMatch(/LOGSTORE_AUTH_TOKEN/);
    // Listening on every interface without a token is allowed, and said at start.
    expect(misconfigured.lines.join("\n")).toMatch(/no authentication: set GRPC_AUTH_TOKEN/);
    expect(gateway.lines.join("\n")).not.toMatch(/no authentication/);
  }, 90_000);
});

describe("TLS on the gateway, client certificates on the log store", () => {
  let logstore: ServiceProcess;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    logstore = await start("logstore", {
      GRPC_TLS_CERT_FILE: pki.server.certFile,
      GRPC_TLS_KEY_FILE: pki.server.keyFile,
      GRPC_TLS_CLIENT_CA_FILE: pki.caFile,
      GRPC_AUTH_TOKEN: LOGSTORE_TOKEN,
    });
    gateway = await start("gateway", {
      GRPC_TLS_CERT_FILE: pki.server.certFile,
      GRPC_TLS_KEY_FILE: pki.server.keyFile,
      GRPC_AUTH_TOKEN: GATEWAY_TOKEN,
      // The server certificate names localhost and 127.0.0.1.
      LOGSTORE_ADDRESS: logstore.grpcAddress,
      LOGSTORE_TLS_CA_FILE: pki.caFile,
      LOGSTORE_TLS_CERT_FILE: pki.client.certFile,
      LOGSTORE_TLS_KEY_FILE: pki.client.keyFile,
      LOGSTORE_AUTH_TOKEN: LOGSTORE_TOKEN,
    });
  }, 120_000);
  // Two cores: the next group's services start once these are gone.
  afterAll(() => stopAll(running.splice(0)));

  it("an insecure client cannot reach the gateway; a client trusting the CA can, with the token", async () => {
    const insecure = heraldClient(gateway.grpcAddress, { token: GATEWAY_TOKEN });
    const untrusting = heraldClient(gateway.grpcAddress, {
      token: GATEWAY_TOKEN,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    const trusting = heraldClient(gateway.grpcAddress, { ca: pki.ca, token: GATEWAY_TOKEN });
    const trustingNoToken = heraldClient(gateway.grpcAddress, { ca: pki.ca });
    try {
      expect((await failure(publish(insecure, [onlineEvent("tls")]))).code).toBe(status.UNAVAILABLE);
      expect((await failure(publish(untrusting, [onlineEvent("tls")]))).code).toBe(status.UNAVAILABLE);
      expect((await failure(publish(trustingNoToken, [onlineEvent("tls")]))).code).toBe(
        status.UNAUTHENTICATED,
      );
      expect((await publish(trusting, [onlineEvent("tls")])).results).toHaveLength(1);
    } finally {
      for (const c of [insecure, untrusting, trusting, trustingNoToken]) c.close();
    }
  });

  it("the log store refuses a TLS client without a client certificate, and serves one with", async () => {
    const withoutCert = logClient(logstore.grpcAddress, { ca: pki.ca, token: LOGSTORE_TOKEN });
    const withCert = logClient(logstore.grpcAddress, {
      ca: pki.ca,
      cert: pki.client.cert,
      key: pki.client.key,
      token: LOGSTORE_TOKEN,
    });
    try {
      const refused = await failure(eventDeliveries(withoutCert, "mtls", "none"));
      expect(refused.code).toBe(status.UNAVAILABLE);
      // Served: the log store itself answers that it has no such event.
      const served = await failure(eventDeliveries(withCert, "mtls", "none"));
      expect(served.code).toBe(status.NOT_FOUND);
      expect(served.details).toMatch(/not on record/);
    } finally {
      withoutCert.close();
      withCert.close();
    }
  });

  it("the gateway forwards log queries to the log store over mTLS", async () => {
    const client = heraldClient(gateway.grpcAddress, { ca: pki.ca, token: GATEWAY_TOKEN });
    const viaGateway = logClient(gateway.grpcAddress, { ca: pki.ca, token: GATEWAY_TOKEN });
    try {
      await publishedAndLogged(client, viaGateway, "mtls");
    } finally {
      client.close();
      viaGateway.close();
    }
  });
});
