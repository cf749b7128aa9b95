import { afterAll, beforeAll, expect, it } from "vitest";
import { startRecordingServer, type RecordingServer } from "@herald/testkit";
import { verifyStandardWebhook } from "@herald/receiver";
import { publish } from "./grpc-client.js";
import {
  attemptRecords,
  configureApp,
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
  await new Promise((r) => setTimeout(r, 500));
  const records = await attemptRecords(stack);
  expect(records.map((r) => [r.endpointId, r.outcome]).sort()).toEqual([
    ["mq", "delivered"],
    ["std", "delivered"],
  ]);
});
