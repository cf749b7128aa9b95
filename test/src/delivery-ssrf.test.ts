import { afterAll, beforeAll, expect, it } from "vitest";
import { readEndpointState } from "@herald/config";
import { startRecordingServer, waitFor, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import {
  configureApp,
  messageEvent,
  startDeliveryStack,
  waitForAttempts,
  type DeliveryStack,
} from "./delivery-fixture.js";

const SECRET = `whsec_${Buffer.alloc(32, 5).toString("base64")}`;

// A deliverer as production runs it: loopback is not allowed unless the app allows private destinations.
let stack: DeliveryStack;
let server: RecordingServer;

beforeAll(async () => {
  stack = await startDeliveryStack({ env: { DELIVERY_ALLOW_LOOPBACK: "false" } });
  server = await startRecordingServer();
});

afterAll(async () => {
  await stack?.stop();
  await server?.close();
});

const recordsOf = (appId: string, count: number) => waitForAttempts(stack, appId, count);

it.each([
  ["an IP literal", () => `http://127.0.0.1:${server.port}/literal`],
  ["a name that resolves to loopback", () => `http://localhost:${server.port}/name`],
])("refuses a loopback destination given as %s: dead at once, nothing sent", async (_, url) => {
  const appId = url().includes("localhost") ? "ssrfname" : "ssrfliteral";
  await configureApp(stack, {
    appId,
    endpoints: [{ id: "std", url: url(), dialect: "standard", secrets: [{ value: SECRET }] }],
  });
  await publish(stack.client, [messageEvent(appId)]);
  const [record] = await recordsOf(appId, 1);
  expect(record).toMatchObject({ outcome: "dead", status: 0, attempt: 1 });
  expect(record?.error).toMatch(/^refused: .*(127\.0\.0\.1|::1).*loopback/);
  expect(server.requests).toHaveLength(0);
});

it("disables an mqttchat URL that points at a refused destination", async () => {
  await configureApp(stack, {
    appId: "ssrfmq",
    endpoints: [{ id: "mq", url: `http://127.0.0.1:${server.port}/mq`, dialect: "mqttchat" }],
  });
  await publish(stack.client, [messageEvent("ssrfmq")]);
  await waitFor(
    async () => (await readEndpointState(stack.bus, "ssrfmq", "mq"))?.state.state === "disabled",
    {
      what: "the endpoint to be disabled",
    },
  );
  const state = await readEndpointState(stack.bus, "ssrfmq", "mq");
  expect(state?.state.reason).toMatch(/^destination refused: /);
  expect(server.requests).toHaveLength(0);
});

it("delivers to a private destination when the app allows it", async () => {
  await configureApp(stack, {
    appId: "ssrfallowed",
    allowPrivateDestinations: true,
    endpoints: [
      {
        id: "std",
        url: `http://127.0.0.1:${server.port}/allowed`,
        dialect: "standard",
        secrets: [{ value: SECRET }],
      },
    ],
  });
  await publish(stack.client, [messageEvent("ssrfallowed")]);
  const [request] = await server.waitForRequests(1, { timeoutMs: 10_000 });
  expect(request?.path).toBe("/allowed");
  const [record] = await recordsOf("ssrfallowed", 1);
  expect(record?.outcome).toBe("delivered");
});
