import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  Event,
  ListUsersRequest,
  OfflineReason,
  PresenceServiceClient,
  UserStatus,
  type DeepPartial,
  type GetUserPresenceRequest,
  type GetUserPresenceResponse,
  type HeraldServiceClient,
  type ListUsersResponse,
} from "@herald/proto";
import { applyTopology, connectBus, storeEvent, type Bus } from "@herald/bus";
import { PRESENCE_PROJECTION } from "@herald/presence";
import { partitionsBehind } from "@herald/projection";
import { createLogger } from "@herald/runtime";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import { startService, stopAll, type ServiceProcess } from "./harness.js";
import { configureApps } from "./apps.js";
import { heraldClient, publish } from "./grpc-client.js";

// Long enough that a reconnect sent right after a disconnect is always inside it.
const GRACE_MS = 3000;

let nats: NatsFixture;
let bus: Bus;
let gateway: ServiceProcess;
let presence: ServiceProcess[] = [];
let client: HeraldServiceClient;
let env: Record<string, string> & { NATS_URL: string };
let n = 0;

beforeAll(async () => {
  nats = await startNats();
  env = {
    NATS_URL: nats.url,
    HERALD_NAMESPACE: nats.namespace,
    PRESENCE_GRACE_MS: String(GRACE_MS),
    // A killed replica's partitions move soon.
    PROJECTION_LEASE_MS: "3000",
  };
  gateway = await startService("gateway", env);
  presence = [await startService("presence", env)];
  await Promise.all([gateway, ...presence].map((s) => s.waitReady()));
  await configureApps(env, ["devices", "flap", "twice", "bg", "reset", "kill", "replicas", "queries"]);
  client = heraldClient(gateway.grpcAddress);
  const log = createLogger({ service: "presence-e2e", level: "silent" });
  bus = await connectBus({ servers: nats.url, name: "presence-e2e", log, namespace: nats.namespace });
  // The gateway laid EVENTS out: this learns its partitions.
  await applyTopology(bus, { replicas: 1 });
});

afterAll(async () => {
  client?.close();
  await bus?.drain();
  await stopAll([gateway, ...presence].filter(Boolean));
  await nats?.stop();
});

type Payload = DeepPartial<Event>["payload"];

function event(appId: string, payload: Payload): DeepPartial<Event> {
  n += 1;
  return { id: `pr-${process.pid}-${n}`, appId, operationId: `op-${n}`, payload };
}

const online = (appId: string, userId: string, connId: string, nodeId = "core-1"): DeepPartial<Event> =>
  event(appId, { $case: "connectionOnline", value: { userId, connId, nodeId, platformId: 1 } });
const offline = (
  appId: string,
  userId: string,
  connId: string,
  reason = OfflineReason.OFFLINE_REASON_LOGOUT,
): DeepPartial<Event> => event(appId, { $case: "connectionOffline", value: { userId, connId, reason } });
const background = (appId: string, userId: string, connId: string, isAppBackground: boolean) =>
  event(appId, { $case: "connectionBackground", value: { userId, connId, isAppBackground } });

/** Publishes through the gateway, one event at a time, each folded before the next is sent. */
async function send(...events: DeepPartial<Event>[]): Promise<void> {
  for (const e of events) {
    await publish(client, [e]);
    await folded();
  }
}

/** Every event stored so far has been folded, and what it caused written, in every partition. */
async function folded(): Promise<void> {
  const projection = { name: PRESENCE_PROJECTION, lane: "conn", bucket: bus.names.buckets.presence };
  await waitFor(async () => (await partitionsBehind(bus, projection)).length === 0, {
    timeoutMs: 30_000,
    what: "presence to fold every stored event",
  });
}

/** Every derived event stored for an app (lane user, any partition), duplicates included, as [id, type]. */
async function derived(appId: string): Promise<[string, string][]> {
  const stream = bus.names.streams.events;
  const lane = bus.names.subjects.lane("user");
  const jsm = await bus.jsm();
  const last = await jsm.streams
    .getMessage(stream, { last_by_subj: lane })
    .then((m) => m?.seq ?? 0)
    .catch(() => 0);
  if (last === 0) return [];
  const consumer = await bus.js.consumers.get(stream, { filter_subjects: lane });
  const out: [string, string][] = [];
  const messages = await consumer.consume();
  for await (const m of messages) {
    if (bus.names.subjects.parseEvent(m.subject)?.appId === appId) {
      const e = Event.decode(m.data);
      out.push([e.id, e.type]);
    }
    if (m.seq >= last || m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

const types = async (appId: string) => (await derived(appId)).map(([, type]) => type);

describe("presence service", () => {
  it("stays online while any device is, and goes offline once with the last", async () => {
    const app = "devices";
    await send(online(app, "u1", "phone"), online(app, "u1", "desk"), offline(app, "u1", "phone"));
    expect(await types(app)).toEqual(["user.online"]);
    await send(offline(app, "u1", "desk"));
    expect(await derived(app)).toEqual([
      [`${app}:u1:presence:1`, "user.online"],
      [`${app}:u1:presence:2`, "user.offline"],
    ]);
  });

  it("makes no flap for a reconnect within the grace period, and one offline after it", async () => {
    const app = "flap";
    await send(
      online(app, "u1", "c1"),
      offline(app, "u1", "c1", OfflineReason.OFFLINE_REASON_DISCONNECT),
      online(app, "u1", "c1"),
      offline(app, "u1", "c1", OfflineReason.OFFLINE_REASON_TIMEOUT),
      online(app, "u1", "c2"),
    );
    expect(await types(app)).toEqual(["user.online"]);
    await send(offline(app, "u1", "c2", OfflineReason.OFFLINE_REASON_DISCONNECT));
    await waitFor(async () => (await types(app)).length === 2, { timeoutMs: 30_000, what: "the offline" });
    expect(await types(app)).toEqual(["user.online", "user.offline"]);
  });

  it("derives nothing twice from the same event delivered twice", async () => {
    const app = "twice";
    const first = online(app, "u1", "c1");
    await send(first, first);
    // The same event stored again under another message id reaches presence as a second message.
    await storeEvent(bus, Event.fromPartial({ ...first, type: "conn.online" }), {
      msgId: `${app}:${String(first.id)}-again`,
    });
    await folded();
    expect(await derived(app)).toEqual([[`${app}:u1:presence:1`, "user.online"]]);
  });

  it("tracks background toggles: one user.background per change of the flag", async () => {
    const app = "bg";
    await send(
      online(app, "u1", "c1"),
      background(app, "u1", "c1", true),
      background(app, "u1", "c1", true),
      background(app, "u1", "c1", false),
    );
    expect(await types(app)).toEqual(["user.online", "user.background", "user.background"]);
  });

  it("takes a reset node's connections offline together: one offline per user whose last one was there", async () => {
    const app = "reset";
    await send(
      online(app, "only-there", "c1", "core-9"),
      online(app, "only-there", "c2", "core-9"),
      online(app, "also-elsewhere", "c3", "core-9"),
      online(app, "also-elsewhere", "c4", "core-2"),
      event(app, { $case: "nodeReset", value: { nodeId: "core-9" } }),
    );
    const stored = await derived(app);
    const offlines = stored.filter(([, type]) => type === "user.offline").map(([id]) => id);
    expect(offlines).toEqual([`${app}:only-there:presence:2`]);
    expect(stored).toHaveLength(3);
  });

  it("loses and duplicates nothing when the service is SIGKILLed mid-stream and restarted", async () => {
    const app = "kill";
    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    const sending = (async () => {
      for (const u of users) await publish(client, [online(app, u, "c1")]);
      for (const u of users) await publish(client, [offline(app, u, "c1")]);
    })();
    await waitFor(async () => (await derived(app)).length > 0, { timeoutMs: 30_000, what: "some folding" });
    const victim = presence[0] as ServiceProcess;
    await victim.stop("SIGKILL");
    await sending;
    presence[0] = await startService("presence", env);
    await presence[0].waitReady();
    await folded();
    const ids = (await derived(app)).map(([id]) => id);
    expect(ids.sort()).toEqual(
      users.flatMap((u) => [`${app}:${u}:presence:1`, `${app}:${u}:presence:2`]).sort(),
    );
  }, 90_000);

  it("with two replicas at once stores exactly one derived event per change", async () => {
    const second = await startService("presence", env);
    presence.push(second);
    await second.waitReady();
    const app = "replicas";
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    // Users in parallel (the replicas share them); each user's own events in order.
    await Promise.all(users.map((u) => publish(client, [online(app, u, "c1")])));
    await folded();
    await Promise.all(users.map((u) => publish(client, [online(app, u, "c2")])));
    await folded();
    await Promise.all(users.map((u) => publish(client, [offline(app, u, "c1")])));
    await folded();
    await Promise.all(users.map((u) => publish(client, [offline(app, u, "c2")])));
    await folded();
    const ids = (await derived(app)).map(([id]) => id);
    expect(ids.sort()).toEqual(
      users.flatMap((u) => [`${app}:${u}:presence:1`, `${app}:${u}:presence:2`]).sort(),
    );
  });
});

describe("presence queries over gRPC", () => {
  const presenceClient = () => new PresenceServiceClient(gateway.grpcAddress, credentials.createInsecure());
  const call = <Req, Res>(
    fn: (req: Req, cb: (err: ServiceError | null, res: Res) => void) => void,
    req: Req,
  ) => new Promise<Res>((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));

  it("answers one user's presence with their connections, and lists users by status and platform, paged", async () => {
    const app = "queries";
    await send(
      online(app, "alice", "a1"),
      event(app, {
        $case: "connectionOnline",
        value: { userId: "alice", connId: "a2", nodeId: "core-1", platformId: 5 },
      }),
      online(app, "bob", "b1"),
      online(app, "carol", "c1"),
      offline(app, "carol", "c1"),
    );
    const pc = presenceClient();
    try {
      const one = await call<GetUserPresenceRequest, GetUserPresenceResponse>(pc.getUserPresence.bind(pc), {
        appId: app,
        userId: "alice",
      });
      expect(one.presence).toMatchObject({ userId: "alice", status: UserStatus.USER_STATUS_ONLINE, seq: 1 });
      expect(one.presence?.connections.map((c) => [c.connId, c.platformId]).sort()).toEqual([
        ["a1", 1],
        ["a2", 5],
      ]);

      const missing = await call(pc.getUserPresence.bind(pc), { appId: app, userId: "nobody" }).catch(
        (e: ServiceError) => e,
      );
      expect((missing as ServiceError).code).toBe(status.NOT_FOUND);

      const list = (req: Partial<ListUsersRequest>) =>
        call<ListUsersRequest, ListUsersResponse>(
          pc.listUsers.bind(pc),
          ListUsersRequest.fromPartial({ appId: app, ...req }),
        );
      const onlineUsers = await list({ status: UserStatus.USER_STATUS_ONLINE });
      expect(onlineUsers.users.map((u) => u.userId).sort()).toEqual(["alice", "bob"]);
      const offlineUsers = await list({ status: UserStatus.USER_STATUS_OFFLINE });
      expect(offlineUsers.users.map((u) => u.userId)).toEqual(["carol"]);
      const web = await list({ platformId: 5 });
      expect(web.users.map((u) => u.userId)).toEqual(["alice"]);

      const seen: string[] = [];
      let token = "";
      for (let page = 0; page < 5; page++) {
        const res = await list({ pageSize: 2, pageToken: token });
        expect(res.users.length).toBeLessThanOrEqual(2);
        seen.push(...res.users.map((u) => u.userId));
        token = res.nextPageToken;
        if (token === "") break;
      }
      expect(seen.sort()).toEqual(["alice", "bob", "carol"]);

      const bad = await list({ pageSize: 5000 }).catch((e: ServiceError) => e);
      expect((bad as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    } finally {
      pc.close();
    }
  });
});
