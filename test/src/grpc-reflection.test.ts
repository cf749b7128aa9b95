// gRPC server reflection and health on the gateway and the log store (issue 17), the way grpcurl,
// grpcui, Postman and Kubernetes use them: no .proto files on the client's side. A reflection client
// lists the services, fetches the descriptors, builds a Publish from JSON with enum names and
// numbers (proto3's JSON mapping, as grpcurl does), and reads the stored event back the same way.
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Client,
  credentials,
  loadPackageDefinition,
  makeClientConstructor,
  Metadata,
  status,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import {
  create,
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
} from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { startNats, startPostgres, waitFor, type NatsFixture, type PostgresFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";

const TOKEN = "reflection-test-token-0123456789";
const APP_ID = "reflect";
const DEADLINE_MS = 15_000;

// The reflection service's own .proto, as @grpc/reflection ships it: what a reflection client starts from.
const reflectionProto = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
  "../proto/grpc/reflection/v1/reflection.proto",
);
const reflectionPackage = loadPackageDefinition(
  loadSync(reflectionProto, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
) as unknown as { grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } } };
const ReflectionClient = reflectionPackage.grpc.reflection.v1.ServerReflection;
const HealthClient = makeClientConstructor(healthService, "grpc.health.v1.Health");

interface ReflectionResponse {
  list_services_response?: { service: Array<{ name: string }> };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

let nats: NatsFixture;
let postgres: PostgresFixture;
let logstore: ServiceProcess;
let gateway: ServiceProcess;

beforeAll(async () => {
  [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  const base = { NATS_URL: nats.url, HERALD_NAMESPACE: nats.namespace };
  logstore = await startService("logstore", { ...base, DATABASE_URL: postgres.url });
  gateway = await startService("gateway", {
    ...base,
    GRPC_AUTH_TOKEN: TOKEN,
    LOGSTORE_ADDRESS: logstore.grpcAddress,
  });
  await Promise.all([logstore.waitReady(), gateway.waitReady()]);
  await configureApps(base, [APP_ID]);
}, 120_000);

afterAll(async () => {
  await stopAll([gateway, logstore].filter(Boolean));
  await postgres?.stop();
  await nats?.stop();
});

function bearer(): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${TOKEN}`);
  return metadata;
}

/** Sends each request on one ServerReflectionInfo stream; the answers, in order. */
function reflect(
  address: string,
  requests: object[],
  metadata = new Metadata(),
): Promise<ReflectionResponse[]> {
  const client = new ReflectionClient(address, credentials.createInsecure());
  const call = (
    client as unknown as {
      ServerReflectionInfo(md: Metadata): ClientDuplexStream<object, ReflectionResponse>;
    }
  ).ServerReflectionInfo(metadata);
  const answers: ReflectionResponse[] = [];
  return new Promise<ReflectionResponse[]>((resolve, reject) => {
    call.on("data", (answer: ReflectionResponse) => answers.push(answer));
    call.on("error", reject);
    call.on("end", () => resolve(answers));
    for (const request of requests) call.write(request);
    call.end();
  }).finally(() => client.close());
}

async function listServices(address: string, metadata?: Metadata): Promise<string[]> {
  const [answer] = await reflect(address, [{ list_services: "*" }], metadata);
  return (answer?.list_services_response?.service ?? []).map((s) => s.name).sort();
}

/** The files reflection gives for each symbol (each with its imports), as a registry to build messages with. */
async function registryOf(
  address: string,
  symbols: string[],
): Promise<{ registry: FileRegistry; names: string[] }> {
  const answers = await reflect(
    address,
    symbols.map((symbol) => ({ file_containing_symbol: symbol })),
    bearer(),
  );
  const files = new Map<string, FileDescriptorProto>();
  for (const answer of answers) {
    expect(answer.error_response).toBeUndefined();
    for (const bytes of answer.file_descriptor_response?.file_descriptor_proto ?? []) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  }
  // A registry takes each file after its imports.
  const ordered: FileDescriptorProto[] = [];
  const place = (name: string) => {
    const file = files.get(name);
    if (file === undefined) throw new Error(`reflection gave no ${name}`);
    if (ordered.includes(file)) return;
    file.dependency.forEach(place);
    ordered.push(file);
  };
  [...files.keys()].forEach(place);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  return { registry, names: [...files.keys()].sort() };
}

/** A unary call built from JSON with reflected descriptors, answered as JSON: what grpcurl does. */
function callWithJson(
  address: string,
  registry: FileRegistry,
  method: { service: string; name: string },
  body: JsonValue,
): Promise<JsonValue> {
  const service = registry.getService(method.service);
  const rpc = service?.methods.find((m) => m.name === method.name);
  if (rpc === undefined) throw new Error(`${method.service}/${method.name} is not described`);
  const input: DescMessage = rpc.input;
  const output: DescMessage = rpc.output;
  const client = new Client(address, credentials.createInsecure());
  return new Promise<JsonValue>((resolve, reject) => {
    client.makeUnaryRequest(
      `/${method.service}/${method.name}`,
      (message: ReturnType<typeof fromJson>) => Buffer.from(toBinary(input, message)),
      (bytes: Buffer) => fromBinary(output, bytes),
      fromJson(input, body),
      bearer(),
      { deadline: Date.now() + DEADLINE_MS },
      (err: ServiceError | null, res) =>
        err ? reject(err) : resolve(toJson(output, res!, { alwaysEmitImplicit: false })),
    );
  }).finally(() => client.close());
}

function healthCheck(address: string, service: string): Promise<{ status: string }> {
  const client = new HealthClient(address, credentials.createInsecure());
  return new Promise<{ status: string }>((resolve, reject) =>
    (
      client as unknown as {
        Check(
          req: { service: string },
          opts: { deadline: number },
          cb: (err: ServiceError | null, res: { status: string }) => void,
        ): void;
      }
    ).Check({ service }, { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  ).finally(() => client.close());
}

function healthWatch(address: string, service: string) {
  const client = new HealthClient(address, credentials.createInsecure());
  const call = (
    client as unknown as { Watch(req: { service: string }): ClientReadableStream<{ status: string }> }
  ).Watch({ service });
  const seen: string[] = [];
  let ended = false;
  call.on("data", (res: { status: string }) => seen.push(res.status));
  call.on("error", () => undefined);
  call.on("status", () => {
    ended = true;
  });
  return {
    seen,
    get ended() {
      return ended;
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

describe("reflection", () => {
  it("lists exactly the services each port serves", async () => {
    const standard = [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ];
    expect(await listServices(gateway.grpcAddress, bearer())).toEqual(
      [
        "herald.v1.ChatroomService",
        "herald.v1.DeliveryLogService",
        "herald.v1.HeraldService",
        "herald.v1.PresenceService",
        ...standard,
      ].sort(),
    );
    expect(await listServices(logstore.grpcAddress)).toEqual(
      ["herald.v1.DeliveryLogService", ...standard].sort(),
    );
  });

  it("answers v1alpha too, which grpcurl asks first", async () => {
    const loaded = loadPackageDefinition(
      loadSync(reflectionProto.replace("/v1/", "/v1alpha/"), {
        keepCase: true,
        defaults: true,
        oneofs: true,
      }),
    ) as unknown as { grpc: { reflection: { v1alpha: { ServerReflection: ServiceClientConstructor } } } };
    const client = new loaded.grpc.reflection.v1alpha.ServerReflection(
      logstore.grpcAddress,
      credentials.createInsecure(),
    );
    const call = (
      client as unknown as { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse> }
    ).ServerReflectionInfo();
    const answer = await new Promise<ReflectionResponse>((resolve, reject) => {
      call.on("data", resolve);
      call.on("error", reject);
      call.write({ list_services: "*" });
      call.end();
    });
    client.close();
    expect(answer.list_services_response?.service.map((s) => s.name)).toContain(
      "herald.v1.DeliveryLogService",
    );
  });

  it("takes the gateway's token, like every method the chat core calls", async () => {
    const refused = await reflect(gateway.grpcAddress, [{ list_services: "*" }]).then(
      () => undefined,
      (err: ServiceError) => err.code,
    );
    expect(refused).toBe(status.UNAUTHENTICATED);
  });

  it("gives the files that declare herald.v1.HeraldService with their imports and comments", async () => {
    const { registry, names } = await registryOf(gateway.grpcAddress, ["herald.v1.HeraldService"]);
    expect(names).toEqual([
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "herald/v1/event.proto",
      "herald/v1/herald.proto",
    ]);
    expect(registry.getService("herald.v1.HeraldService")?.methods.map((m) => m.name)).toContain("Publish");
    // Source info travels along: grpcurl describe and grpcui show the proto's comments.
    const [answer] = await reflect(
      gateway.grpcAddress,
      [{ file_by_filename: "herald/v1/herald.proto" }],
      bearer(),
    );
    const file = fromBinary(
      FileDescriptorProtoSchema,
      answer!.file_descriptor_response!.file_descriptor_proto[0]!,
    );
    expect(
      file.sourceCodeInfo?.location.some((l) => l.leadingComments.includes("Stores a batch of events")),
    ).toBe(true);
  });

  it("is enough to publish from JSON with an enum by name or by number, and to read the event back", async () => {
    const { registry } = await registryOf(gateway.grpcAddress, [
      "herald.v1.HeraldService",
      "herald.v1.DeliveryLogService",
    ]);
    const id = (n: number) => `reflect-${process.pid}-${Date.now()}-${n}`;
    const offline = (eventId: string, reason: JsonValue) => ({
      id: eventId,
      appId: APP_ID,
      connectionOffline: { userId: "u1", connId: "c1", platformId: 5, reason },
    });
    const [byName, byNumber] = [id(1), id(2)];
    const published = await callWithJson(
      gateway.grpcAddress,
      registry,
      { service: "herald.v1.HeraldService", name: "Publish" },
      { events: [offline(byName, "OFFLINE_REASON_LOGOUT"), offline(byNumber, 3)] },
    );
    expect(published).toBeTypeOf("object");

    const storedReason = async (eventId: string) => {
      const found = (await callWithJson(
        gateway.grpcAddress,
        registry,
        { service: "herald.v1.DeliveryLogService", name: "GetEventDeliveries" },
        { appId: APP_ID, eventId },
      )) as { event?: { connectionOffline?: { reason?: string } } };
      return found.event?.connectionOffline?.reason;
    };
    let reasons: Array<string | undefined> = [];
    await waitFor(
      async () => {
        reasons = await Promise.all([byName, byNumber].map((e) => storedReason(e).catch(() => undefined)));
        return reasons.every((r) => r !== undefined);
      },
      { timeoutMs: 20_000, what: "both events in the log store" },
    );
    expect(reasons).toEqual(["OFFLINE_REASON_LOGOUT", "OFFLINE_REASON_TIMEOUT"]);
  });
});

describe("health", () => {
  it("answers SERVING for the server and each service, without a token", async () => {
    for (const service of [
      "",
      "herald.v1.HeraldService",
      "herald.v1.DeliveryLogService",
      "grpc.health.v1.Health",
    ]) {
      expect(await healthCheck(gateway.grpcAddress, service)).toEqual({ status: "SERVING" });
    }
    expect(await healthCheck(logstore.grpcAddress, "herald.v1.DeliveryLogService")).toEqual({
      status: "SERVING",
    });
    const unknown = await healthCheck(logstore.grpcAddress, "herald.v1.HeraldService").then(
      () => undefined,
      (err: ServiceError) => err.code,
    );
    expect(unknown).toBe(status.NOT_FOUND);
  });

  it("watches: SERVING, then NOT_SERVING when the service drains, and the watch does not hold up the shutdown", async () => {
    const own = await startService("logstore", {
      NATS_URL: nats.url,
      HERALD_NAMESPACE: nats.namespace,
      DATABASE_URL: postgres.url,
    });
    await own.waitReady();
    const watch = healthWatch(own.grpcAddress, "");
    const unknown = healthWatch(own.grpcAddress, "no.such.Service");
    try {
      await waitFor(() => watch.seen.includes("SERVING") && unknown.seen.length > 0, {
        what: "the first answers of both watches",
      });
      expect(unknown.seen).toEqual(["SERVICE_UNKNOWN"]);
      const exitCode = own.stop();
      await waitFor(() => watch.seen.includes("NOT_SERVING"), {
        what: "NOT_SERVING while the log store drains",
      });
      expect(await exitCode).toBe(0);
      expect(watch.seen).toEqual(["SERVING", "NOT_SERVING"]);
      expect(watch.ended && unknown.ended).toBe(true);
      expect(own.lines.join("\n")).not.toContain("grpc calls still open at the deadline");
    } finally {
      watch.close();
      unknown.close();
      await stopAll([own]);
    }
  }, 60_000);
});
