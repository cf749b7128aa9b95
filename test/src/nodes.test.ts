// Chat-core nodes as the queries show them: the gRPC PresenceService.ListNodes, the admin API's
// GET /v1/apps/{appId}/nodes and `herald nodes`, over a real gateway and presence on real NATS. The nodes
// come from real events published through the gateway (node.heartbeat with a lease, conn.online on it,
// node.reset), folded by presence.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment
   -- the admin API's JSON answers are read by path; the assertions check their shape. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  ListNodesRequest,
  NodeLeaseStatus,
  NodeResetReason,
  PresenceServiceClient,
  type ChatCoreNode,
  type DeepPartial,
  type Event,
  type HeraldServiceClient,
  type ListNodesResponse,
} from "@herald/proto";
import { waitFor } from "@herald/testkit";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import { publish } from "./grpc-client.js";
import { adminCaller, expectAdminError } from "./admin-client.js";
import { runCli } from "./cli-process.js";

const ADMIN_TOKEN = "admin-token-for-node-tests-0123456789";
const MARGIN_MS = 1000;
// Long enough that the leased node stays leased for the whole file.
const LONG_LEASE_S = 3600;
const APP = "nodes-app";
const LEASED = "节点-1🚀";
const UNLEASED = "核心-2🛰️";
const SHORT = "ノード-3⏳";
const REPORTED = "노드-4🔁";

let stack: DeliveryStack;
let client: HeraldServiceClient;
let presenceClient: PresenceServiceClient;
let n = 0;

const call = adminCaller(() => stack.gateway.adminUrl, ADMIN_TOKEN);

beforeAll(async () => {
  stack = await startDeliveryStack({
    env: { ADMIN_TOKEN, PRESENCE_NODE_LEASE_MARGIN_MS: String(MARGIN_MS) },
    also: ["presence"],
    deliverers: 0,
  });
  client = stack.client;
  presenceClient = new PresenceServiceClient(stack.gateway.grpcAddress, credentials.createInsecure());
  for (const app of [APP, "nodes-empty"]) {
    const put = await call("PUT", `/v1/apps/${app}`, { body: {} });
    expect(put.status, put.text).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  presenceClient?.close();
  await stack?.stop();
});

function event(payload: DeepPartial<Event>["payload"]): DeepPartial<Event> {
  n += 1;
  return { id: `nodes-${process.pid}-${n}`, appId: APP, operationId: `op-nodes-${n}`, payload };
}
const heartbeat = (nodeId: string, seconds: number) =>
  event({ $case: "nodeHeartbeat", value: { nodeId, lease: { seconds, nanos: 0 } } });
const online = (userId: string, connId: string, nodeId: string) =>
  event({ $case: "connectionOnline", value: { userId, connId, nodeId, platformId: 1 } });

function listNodes(appId: string): Promise<ListNodesResponse> {
  return new Promise((resolve, reject) =>
    presenceClient.listNodes(ListNodesRequest.fromPartial({ appId }), (err: ServiceError | null, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

/** A node as the admin API shows it (nodeJson of packages/admin/src/answers.ts). */
interface AdminNode {
  nodeId: string;
  status: string;
  lastHeartbeatAt: string | null;
  leaseMs: number;
  leaseExpiresAt: string | null;
  resetAt: string | null;
  resetReason: string | null;
  connections: number;
}

/** The admin API's nodes of the app, by node id. */
async function adminNodes(appId = APP): Promise<Partial<Record<string, AdminNode>>> {
  const res = await call("GET", `/v1/apps/${encodeURIComponent(appId)}/nodes`);
  expect(res.status, res.text).toBe(200);
  return Object.fromEntries((res.body.nodes as AdminNode[]).map((node) => [node.nodeId, node]));
}

describe("chat-core nodes", () => {
  beforeAll(async () => {
    await publish(client, [
      heartbeat(LEASED, LONG_LEASE_S),
      online("用户-1", "c1", LEASED),
      online("用户-2", "c2", LEASED),
      online("用户-3", "c3", UNLEASED),
      heartbeat(REPORTED, LONG_LEASE_S),
      online("用户-4", "c4", REPORTED),
    ]);
    await waitFor(
      async () => {
        const nodes = await adminNodes();
        return (
          nodes[LEASED]?.status === "leased" &&
          nodes[LEASED]?.connections === 2 &&
          nodes[UNLEASED]?.connections === 1 &&
          nodes[REPORTED]?.connections === 1
        );
      },
      { timeoutMs: 20_000, what: "the nodes folded from the published events" },
    );
  });

  it("shows each node's last heartbeat, lease and connections in the admin API", async () => {
    const res = await call("GET", `/v1/apps/${APP}/nodes`);
    expect(res.status, res.text).toBe(200);
    expect(Number.isNaN(Date.parse(res.body.now as string))).toBe(false);
    const ids = (res.body.nodes as { nodeId: string }[]).map((node) => node.nodeId);
    expect(ids).toEqual([...ids].sort());
    const nodes = await adminNodes();
    const leased = nodes[LEASED] as AdminNode;
    expect(leased).toMatchObject({
      nodeId: LEASED,
      status: "leased",
      leaseMs: LONG_LEASE_S * 1000,
      resetAt: null,
      resetReason: null,
      connections: 2,
    });
    const heartbeatAt = Date.parse(leased.lastHeartbeatAt ?? "");
    expect(Date.parse(leased.leaseExpiresAt ?? "")).toBe(heartbeatAt + LONG_LEASE_S * 1000 + MARGIN_MS);
    expect(nodes[UNLEASED]).toEqual({
      nodeId: UNLEASED,
      status: "unleased",
      lastHeartbeatAt: null,
      leaseMs: 0,
      leaseExpiresAt: null,
      resetAt: null,
      resetReason: null,
      connections: 1,
    });
    expect((await call("GET", "/v1/apps/nodes-empty/nodes")).body.nodes).toEqual([]);
    expectAdminError(await call("GET", "/v1/apps/no-such-app/nodes"), 404, "appId");
    expectAdminError(await call("GET", `/v1/apps/${APP}/nodes`, { token: null }), 401);
  });

  it("documents the route with its answer's schema", async () => {
    const doc = await call("GET", "/openapi.json", { token: null });
    const route = doc.body.paths["/v1/apps/{appId}/nodes"]?.get;
    expect(route?.tags).toEqual(["presence"]);
    const schema = route?.responses?.["200"]?.content?.["application/json"]?.schema;
    expect(JSON.stringify(schema)).toContain("lastHeartbeatAt");
  });

  it("lets the app's own key read its nodes, and no other app's", async () => {
    const key = await call("POST", `/v1/apps/${APP}/keys`);
    expect(key.status, key.text).toBe(201);
    const own = await call("GET", `/v1/apps/${APP}/nodes`, { token: key.body.key });
    expect(own.status, own.text).toBe(200);
    expectAdminError(await call("GET", "/v1/apps/nodes-empty/nodes", { token: key.body.key }), 404, "appId");
  });

  it("answers the same over gRPC ListNodes", async () => {
    const admin = await adminNodes();
    const byId = Object.fromEntries((await listNodes(APP)).nodes.map((node) => [node.nodeId, node]));
    const leased = byId[LEASED] as ChatCoreNode;
    expect(leased).toMatchObject({
      appId: APP,
      nodeId: LEASED,
      status: NodeLeaseStatus.NODE_LEASE_STATUS_LEASED,
      lease: { seconds: LONG_LEASE_S, nanos: 0 },
      resetAt: undefined,
      resetReason: NodeResetReason.NODE_RESET_REASON_UNSPECIFIED,
      connections: 2,
    });
    expect(leased.lastHeartbeat?.toISOString()).toBe(admin[LEASED]?.lastHeartbeatAt);
    expect(leased.leaseExpiresAt?.toISOString()).toBe(admin[LEASED]?.leaseExpiresAt);
    expect(byId[UNLEASED]).toEqual({
      appId: APP,
      nodeId: UNLEASED,
      status: NodeLeaseStatus.NODE_LEASE_STATUS_UNLEASED,
      lastHeartbeat: undefined,
      lease: undefined,
      leaseExpiresAt: undefined,
      resetAt: undefined,
      resetReason: NodeResetReason.NODE_RESET_REASON_UNSPECIFIED,
      connections: 1,
    });
    expect((await listNodes("nodes-empty")).nodes).toEqual([]);
    const empty = await listNodes("").then(
      () => undefined,
      (err: ServiceError) => err,
    );
    expect(empty?.code).toBe(status.INVALID_ARGUMENT);
    expect(empty?.details).toContain("app_id");
  });

  it("prints them with herald nodes", async () => {
    const env = {
      HERALD_ADMIN_URL: stack.gateway.adminUrl,
      ADMIN_TOKEN,
      HERALD_HOME: "/nonexistent-herald-home",
    };
    const text = await runCli(["nodes", "--app", APP], { env });
    expect(text.code, text.stderr).toBe(0);
    const line = (nodeId: string) => text.stdout.split("\n").find((l) => l.startsWith(`${nodeId}  `)) ?? "";
    expect(line(LEASED)).toMatch(
      new RegExp(
        `^${LEASED}  leased  heartbeat \\S+ ago  lease 1h  expires in \\S+( \\S+)?  2 connection\\(s\\)$`,
        "u",
      ),
    );
    expect(line(UNLEASED)).toBe(`${UNLEASED}  unleased  1 connection(s)`);
    const json = await runCli(["--json", "nodes", "--app", APP], { env });
    expect(json.code, json.stderr).toBe(0);
    const listed = JSON.parse(json.stdout) as { nodes: { nodeId: string; status: string }[] };
    expect(listed.nodes.find((node) => node.nodeId === LEASED)?.status).toBe("leased");
    const missing = await runCli(["nodes", "--app", "no-such-app"], { env });
    expect(missing.code).toBe(1);
    const usage = await runCli(["nodes"], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--app");
  });

  it("shows a reported reset, and a lease that ran out", async () => {
    await publish(client, [
      event({ $case: "nodeReset", value: { nodeId: REPORTED } }),
      heartbeat(SHORT, 1),
      online("用户-5", "c5", SHORT),
    ]);
    const nodes = await waitFor(
      async () => {
        const now = await adminNodes();
        // Connection counts are written about a second after they change.
        const settled = now[REPORTED]?.connections === 0 && now[SHORT]?.connections === 0;
        return now[REPORTED]?.status === "reset" && now[SHORT]?.status === "expired" && settled
          ? now
          : undefined;
      },
      { timeoutMs: 20_000, what: "a reported reset and an expired lease" },
    );
    expect(nodes[REPORTED]).toMatchObject({ status: "reset", resetReason: "reported", connections: 0 });
    expect(nodes[SHORT]).toMatchObject({
      status: "expired",
      leaseExpiresAt: null,
      resetReason: "lease_expired",
      connections: 0,
    });
    expect(nodes[SHORT]?.resetAt).not.toBeNull();
    const byId = Object.fromEntries((await listNodes(APP)).nodes.map((node) => [node.nodeId, node]));
    expect(byId[REPORTED]).toMatchObject({
      status: NodeLeaseStatus.NODE_LEASE_STATUS_RESET,
      resetReason: NodeResetReason.NODE_RESET_REASON_REPORTED,
      connections: 0,
    });
    expect(byId[SHORT]).toMatchObject({
      status: NodeLeaseStatus.NODE_LEASE_STATUS_EXPIRED,
      resetReason: NodeResetReason.NODE_RESET_REASON_LEASE_EXPIRED,
      leaseExpiresAt: undefined,
    });
    expect(byId[SHORT]?.resetAt?.toISOString()).toBe(nodes[SHORT]?.resetAt);
    // The leased node is untouched by the others' resets.
    expect(byId[LEASED]?.status).toBe(NodeLeaseStatus.NODE_LEASE_STATUS_LEASED);
  });
});
