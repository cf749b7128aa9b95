import { afterAll, beforeAll, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { startRecordingServer, waitFor, type RecordingServer } from "@herald/testkit";
import { verifyStandardWebhook } from "@herald/receiver";
import { partitionsBehind } from "@herald/projection";
import { publish } from "./grpc-client.js";
import {
  configureApp,
  waitForAttempts,
  messageEvent,
  startDeliveryStack,
  type DeliveryStack,
} from "./delivery-fixture.js";

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
let stack: DeliveryStack;
let server: RecordingServer;

beforeAll(async () => {
  stack = await startDeliveryStack();
  server = await startRecordingServer();
});

afterAll(async () => {
  await stack?.stop();
  await server?.close();
});

it("delivers a message to a standard and an mqttchat endpoint", async () => {
  await configureApp(stack, {
    appId: "smoke",
    endpoints: [
      { id: "std", url: `${server.url}/std`, dialect: "standard", secrets: [{ value: SECRET }] },
      { id: "mq", url: `${server.url}/mq`, dialect: "mqttchat" },
    ],
  });
  const event = messageEvent("smoke");
  await publish(stack.client, [event]);
  const requests = await server.waitForRequests(2, { timeoutMs: 10_000 });
  const std = requests.find((r) => r.path === "/std");
  const mq = requests.find((r) => r.path === "/mq");
  expect(std).toBeDefined();
  expect(mq).toBeDefined();
  verifyStandardWebhook({ headers: std!.headers, body: std!.body, secrets: [SECRET] });
  expect(std!.headers["webhook-id"]).toBe(`${event.id}:std`);
  expect(JSON.parse(mq!.text)).toMatchObject({ from_userid: 1, to_userid: 2 });
  const records = await waitForAttempts(stack, "smoke", 2);
  expect(records.map((r) => [r.endpointId, r.outcome]).sort()).toEqual([
    ["mq", "delivered"],
    ["std", "delivered"],
  ]);
});

it("routes a node.reset once, from its original, though it is stored in every partition", async () => {
  const appId = "reset";
  await configureApp(stack, {
    appId,
    endpoints: [{ id: "mq", url: `${server.url}/reset`, dialect: "mqttchat" }],
  });
  // Every job the router publishes, duplicates included (DELIVERIES would store a repeat once).
  const jobs: string[] = [];
  const sub = stack.nc.subscribe(`${stack.names.subjects.jobs().slice(0, -1)}*.${appId}.mq`);
  void (async () => {
    for await (const m of sub) jobs.push(m.headers?.get("Nats-Msg-Id") ?? m.subject);
  })();
  await stack.nc.flush();

  const reset = {
    id: "reset-1",
    appId,
    occurredAt: new Date(1_602_511_580_000),
    payload: { $case: "nodeReset" as const, value: { nodeId: "core-1" } },
  };
  await publish(stack.client, [reset]);
  const jsm = await jetstreamManager(stack.nc);
  const { state } = await jsm.streams.info(stack.names.streams.events, {
    subjects_filter: stack.names.subjects.events(appId),
  });
  expect(state.messages).toBeGreaterThan(1); // the original and its copies
  await waitFor(
    async () =>
      (await partitionsBehind(stack.bus, { name: "router", bucket: stack.names.buckets.delivery })).length ===
      0,
    { timeoutMs: 10_000, what: "the router to take every stored event" },
  );
  await waitForAttempts(stack, appId, 1);
  sub.unsubscribe();

  expect(jobs).toEqual([`${appId}:reset-1:mq`]);
  const calls = server.requests.filter((r) => r.path === "/reset");
  expect(calls.map((r) => r.text)).toEqual(['{"userid":0,"status":"offline","timestamp":1602511580}']);
});
