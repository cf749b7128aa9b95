import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import type { DeepPartial, Event, HeraldServiceClient } from "@herald/proto";
import {
  applyTopology,
  busNames,
  connectBus,
  type AttemptRecord,
  type Bus,
  type BusNames,
} from "@herald/bus";
import { putApp, writeEndpointState, type AppConfig, type EndpointState } from "@herald/config";
import {
  startNats,
  startPostgres,
  startRecordingServer,
  waitFor,
  type NatsFixture,
  type PostgresFixture,
  type RecordingServer,
} from "@herald/testkit";
import { afterAll, beforeAll } from "vitest";
import { startService, stopAll, type ServiceName, type ServiceProcess } from "./harness.js";
import { heraldClient } from "./grpc-client.js";
import { storedAttemptRecords } from "./stream-contents.js";
import { adminCaller } from "./admin-client.js";

/**
 * NATS, a gateway and deliverers (and whatever else a test names), each its own process, plus a bus
 * connection for writing config and reading ATTEMPTS as an operator would.
 */
export interface DeliveryStack {
  nats: NatsFixture;
  names: BusNames;
  env: Record<string, string> & { NATS_URL: string };
  gateway: ServiceProcess;
  deliverers: ServiceProcess[];
  others: ServiceProcess[];
  client: HeraldServiceClient;
  bus: Bus;
  nc: NatsConnection;
  startDeliverer(extraEnv?: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export async function startDeliveryStack(
  opts: {
    env?: Record<string, string>;
    also?: ServiceName[];
    deliverers?: number;
    /** Runs a log store on this database first, for the gateway's admin API log routes (LOGSTORE_ADDRESS). */
    logStoreDatabaseUrl?: string;
  } = {},
): Promise<DeliveryStack> {
  const nats = await startNats();
  const env: Record<string, string> & { NATS_URL: string } = {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    DELIVERY_ALLOW_LOOPBACK: "true",
    ...opts.env,
  };
  const others: ServiceProcess[] = [];
  if (opts.logStoreDatabaseUrl !== undefined) {
    const logstore = await startService("logstore", { ...env, DATABASE_URL: opts.logStoreDatabaseUrl });
    others.push(logstore);
    await logstore.waitReady();
    env["LOGSTORE_ADDRESS"] = logstore.grpcAddress;
  }
  const gateway = await startService("gateway", env);
  others.push(...(await Promise.all((opts.also ?? []).map((name) => startService(name, env)))));
  await Promise.all([gateway, ...others].map((s) => s.waitReady()));
  const deliverers: ServiceProcess[] = [];
  const startDeliverer = async (extraEnv: Record<string, string> = {}) => {
    const deliverer = await startService("deliverer", { ...env, ...extraEnv });
    await deliverer.waitReady();
    deliverers.push(deliverer);
    return deliverer;
  };
  for (let i = 0; i < (opts.deliverers ?? 1); i++) await startDeliverer();
  const bus = await connectBus({
    servers: nats.url,
    name: "test-operator",
    namespace: nats.namespace,
    log: pino({ level: "silent" }),
  });
  // The services applied it already; this learns the partition count, as a tool reading EVENTS must.
  await applyTopology(bus, { replicas: 1 });
  const nc = await connect({ servers: nats.url });
  const client = heraldClient(gateway.grpcAddress);
  return {
    nats,
    names: busNames(nats.namespace),
    env,
    gateway,
    deliverers,
    others,
    client,
    bus,
    nc,
    startDeliverer,
    async stop() {
      client.close();
      await nc.close();
      await bus.drain().catch(() => undefined);
      await stopAll([gateway, ...others, ...deliverers]);
      await nats.stop();
    },
  };
}

/** A test file's delivery stack with a log store behind the admin API, and its business servers. */
export interface LoggedDeliveryStack {
  readonly stack: DeliveryStack;
  /** The gateway's admin API, with the stack's admin token. */
  readonly admin: ReturnType<typeof adminCaller>;
  /** A recording business server, closed with the stack. */
  readonly businessServer: () => Promise<RecordingServer>;
}

/**
 * For a test file: a delivery stack (also `also`) with a log store on a fresh database and the admin
 * API under `adminToken`, started before the file's tests and stopped after them.
 */
export function loggedDeliveryStack(opts: { adminToken: string; also?: ServiceName[] }): LoggedDeliveryStack {
  let pg: PostgresFixture | undefined;
  let started: DeliveryStack | undefined;
  const servers: RecordingServer[] = [];
  const stack = (): DeliveryStack => {
    if (started === undefined) throw new Error("the delivery stack is not started yet");
    return started;
  };
  beforeAll(async () => {
    pg = await startPostgres();
    started = await startDeliveryStack({
      also: opts.also,
      env: { ADMIN_TOKEN: opts.adminToken },
      logStoreDatabaseUrl: pg.url,
    });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await started?.stop();
    await pg?.stop();
  }, 60_000);
  return {
    get stack() {
      return stack();
    },
    admin: adminCaller(() => stack().gateway.adminUrl, opts.adminToken),
    businessServer: async () => {
      const server = await startRecordingServer();
      servers.push(server);
      return server;
    },
  };
}

/**
 * Writes an app (its endpoints filled with defaults) and waits until every deliverer's config view
 * holds it (its herald_deliverer_config_revision metric), as an operator would check a rollout.
 */
export async function configureApp(
  stack: DeliveryStack,
  app: { appId: string; endpoints: Array<{ id: string } & Record<string, unknown>> } & Partial<
    Omit<AppConfig, "endpoints">
  >,
): Promise<void> {
  const revision = await putApp(stack.bus, app as unknown as AppConfig);
  await waitForConfig(stack.deliverers, revision);
}

/** Waits until each deliverer has applied CONFIG through `revision`. */
export async function waitForConfig(deliverers: readonly ServiceProcess[], revision: number): Promise<void> {
  await waitFor(
    async () => {
      for (const d of deliverers) {
        if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
        const text = await fetch(`${d.httpUrl}/metrics`)
          .then((r) => r.text())
          .catch(() => "");
        const found = /^herald_deliverer_config_revision(?:\{[^}]*\})? (\d+)/m.exec(text);
        if (found === null || Number(found[1]) < revision) return false;
      }
      return true;
    },
    { timeoutMs: 10_000, what: `deliverers to apply config revision ${revision}` },
  );
}

export async function setEndpointState(
  stack: DeliveryStack,
  appId: string,
  endpointId: string,
  state: EndpointState,
): Promise<void> {
  // Returns once every deliverer holds it, as configureApp does.
  await waitForConfig(stack.deliverers, await writeEndpointState(stack.bus, appId, endpointId, state));
}

let counter = 0;

/** A msg.sent event with a fresh id. */
export function messageEvent(appId: string, overrides: DeepPartial<Event> = {}): DeepPartial<Event> {
  counter += 1;
  return {
    id: `msg-${process.pid}-${Date.now()}-${counter}`,
    appId,
    operationId: `op-msg-${counter}`,
    occurredAt: new Date(1_700_000_000_000 + counter * 1000),
    payload: {
      $case: "messageSent",
      value: {
        messageId: String(9000 + counter),
        fromUserId: "1",
        toUserId: "2",
        content: `hello ${counter}`,
        type: 0,
        p1: "a",
        p2: "b",
        p3: "c",
        contentType: 101,
        sentAt: new Date(1_700_000_000_000 + counter * 1000),
      },
    },
    ...overrides,
  };
}

/** Every attempt record in ATTEMPTS so far, oldest first. */
export async function attemptRecords(stack: DeliveryStack): Promise<AttemptRecord[]> {
  const records = await storedAttemptRecords(stack.nc, stack.names.streams.attempts);
  return records.filter((r) => r.kind === "delivery");
}

/** Waits until `appId` has at least `count` attempt records, and returns them all, oldest first. */
export async function waitForAttempts(
  stack: DeliveryStack,
  appId: string,
  count: number,
): Promise<AttemptRecord[]> {
  let records: AttemptRecord[] = [];
  await waitFor(
    async () => {
      records = (await attemptRecords(stack)).filter((r) => r.appId === appId);
      return records.length >= count;
    },
    { timeoutMs: 20_000, what: `${count} attempt records of ${appId}` },
  );
  return records;
}
