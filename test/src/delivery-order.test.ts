// Callbacks ordered per key (SPEC-14), seen from the business server as a receiver would: real gateway,
// chatroom and deliverer processes, events over gRPC, HTTP on loopback. Per key, each callback first
// arrives after every earlier one, and never while an earlier one of its key is unanswered; other keys
// never wait for a slow one; and the deliverer's consumers no longer grow with endpoints. Failover of
// ordered delivery is in delivery-order-failover.test.ts.
import { afterAll, beforeAll, expect, it, onTestFinished } from "vitest";
import { DEFAULT_PARTITIONS } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import { startRecordingServer, waitFor } from "@herald/testkit";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import { publish } from "./grpc-client.js";
import {
  attemptsOf,
  configureAndProbe,
  conversation,
  conversations,
  findings,
  identifyByDeliveryId,
  identifyRoomRecords,
  messageLoad,
  probeMessage,
  probeRoom,
  publishLoad,
  report,
  roomLoad,
  waitForAll,
} from "./ordering-load.js";
import {
  firstArrivals,
  outOfOrder,
  randomDelay,
  startOrderingServer,
  type OrderingServer,
} from "./ordering-server.js";

let stack: DeliveryStack;
const servers: OrderingServer[] = [];

beforeAll(async () => {
  // The chatroom service turns room changes into the room.status events RongCloud endpoints are sent.
  stack = await startDeliveryStack({ also: ["chatroom"] });
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await stack?.stop();
});

async function server(...args: Parameters<typeof startOrderingServer>): Promise<OrderingServer> {
  const s = await startOrderingServer(...args);
  servers.push(s);
  return s;
}

it(
  "1,000 keys at concurrency 16: per key, callbacks first arrive in event order, one at a time",
  { timeout: 90_000 },
  async () => {
    const appId = "order1k";
    const load = messageLoad(appId, conversations("k", 1_000), 4);
    // A random 0-15 ms answer: requests of many keys overlap, so a key's next callback has every
    // chance to go out early.
    const business = await server(identifyByDeliveryId(load), randomDelay(15));
    await configureAndProbe(
      stack,
      {
        appId,
        endpoints: [
          {
            id: "mq",
            url: `${business.url}/cb`,
            dialect: "mqttchat",
            ordering: "key",
            concurrency: 16,
            timeoutMs: 10_000,
          },
        ],
      },
      [business],
      () => probeMessage(appId),
    );
    await publishLoad(stack, load);
    await waitForAll(business, load, 60_000);

    const disorder = outOfOrder(business.arrivals);
    report(
      `1,000 keys: ${load.callbacks.size} callbacks, ${business.arrivals.length} requests; ` +
        `${disorder.length} keys out of order, ${business.overlaps.length} overlaps within a key`,
    );
    expect(findings(disorder)).toEqual({ count: 0, first: [] });
    expect(findings(business.overlaps)).toEqual({ count: 0, first: [] });
  },
);

it(
  "a slow head holds back only its own key: later callbacks of the key wait, other keys keep arriving",
  { timeout: 60_000 },
  async () => {
    const appId = "slowhead";
    const held = conversation("张伟", "😀李娜");
    const failing = conversation("王芳", "🎉");
    const load = messageLoad(appId, [held, failing, ...conversations("h", 100)], 4);
    const [heldHead, ...heldTail] = load.byKey.get(held.key)!;
    const [failingHead, ...failingTail] = load.byKey.get(failing.key)!;
    const slow = new Set([held.key, failing.key]);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // A failed assertion must not leave the heads held for the tests after this one.
    onTestFinished(() => release());
    let failingTries = 0;
    const quick = randomDelay(3);
    // The held key's first callback is answered only when released; the failing key's first fails
    // twice with 500, is retried, and its third attempt is held the same way.
    const business = await server(identifyByDeliveryId(load), (callbacks, request) => {
      const ids = callbacks.map((c) => c.id);
      if (ids.includes(heldHead!)) return released.then(() => ({ status: 200 }));
      if (ids.includes(failingHead!)) {
        failingTries += 1;
        if (failingTries <= 2) return { status: 500, body: "try later" };
        return released.then(() => ({ status: 200 }));
      }
      return quick(callbacks, request);
    });
    await configureAndProbe(
      stack,
      {
        appId,
        endpoints: [
          {
            id: "mq",
            url: `${business.url}/cb`,
            dialect: "mqttchat",
            ordering: "key",
            concurrency: 16,
            // Longer than the heads are held.
            timeoutMs: 30_000,
            retry: { scheduleMs: [200, 200], jitter: 0 },
          },
        ],
      },
      [business],
      () => probeMessage(appId),
    );
    await publishLoad(stack, load);

    const others = [...load.callbacks.values()].filter((c) => !slow.has(c.key));
    await waitFor(
      () => others.every((c) => business.seen(c.id)) && failingTries >= 3 && business.seen(heldHead!),
      { timeoutMs: 30_000, intervalMs: 50, what: "every other key's callbacks while both heads are held" },
    );
    // Both heads still unanswered (one held on its first attempt, one on its third) and every other
    // key done: nothing later of the two keys has been sent.
    expect([...heldTail, ...failingTail].filter((id) => business.seen(id))).toEqual([]);

    release();
    await waitForAll(business, load, 30_000);
    const order = firstArrivals(business.arrivals);
    expect(order.get(held.key)).toEqual([0, 1, 2, 3]);
    expect(order.get(failing.key)).toEqual([0, 1, 2, 3]);
    expect(findings(outOfOrder(business.arrivals))).toEqual({ count: 0, first: [] });
    expect(findings(business.overlaps)).toEqual({ count: 0, first: [] });

    // The records say which key each callback kept the order of, and that the tails waited for it.
    const keyOf = new Map([...load.callbacks.values()].map((c) => [`${c.id}:mq`, c.key]));
    const records = await waitFor(
      async () => {
        const all = (await attemptsOf(stack, appId)).filter((r) => keyOf.has(r.deliveryId ?? ""));
        return all.filter((r) => r.outcome === "delivered").length >= load.callbacks.size ? all : undefined;
      },
      { timeoutMs: 20_000, what: "a delivered record of every callback" },
    );
    const wrongKey = records
      .filter((r) => r.orderingKey !== keyOf.get(r.deliveryId!))
      .map((r) => `${r.deliveryId}: ${String(r.orderingKey)}, expected ${keyOf.get(r.deliveryId!)}`);
    expect(findings(wrongKey)).toEqual({ count: 0, first: [] });
    // The callback next in line after each head waited for it (how long is not this test's business).
    const nextInLine = new Set([heldTail[0], failingTail[0]].map((id) => `${id!}:mq`));
    const waited = records.filter((r) => nextInLine.has(r.deliveryId!) && r.outcome === "delivered");
    expect(waited.map((r) => (r.keyWaitMs ?? 0) > 0)).toEqual([true, true]);
    report(
      `slow heads: ${others.length} callbacks of other keys arrived while two heads were held; ` +
        `the failing head took ${failingTries} attempts`,
    );
  },
);

it(
  "a head that runs out of retries is recorded dead and frees its key: the rest follow in order",
  { timeout: 60_000 },
  async () => {
    const appId = "deadhead";
    const doomed = conversation("赵敏", "💀");
    const load = messageLoad(appId, [doomed, ...conversations("d", 20)], 3);
    const [head, ...tail] = load.byKey.get(doomed.key)!;
    const quick = randomDelay(3);
    const business = await server(identifyByDeliveryId(load), (callbacks, request) =>
      callbacks.some((c) => c.id === head) ? { status: 500, body: "never" } : quick(callbacks, request),
    );
    await configureAndProbe(
      stack,
      {
        appId,
        endpoints: [
          {
            id: "mq",
            url: `${business.url}/cb`,
            dialect: "mqttchat",
            ordering: "key",
            concurrency: 16,
            timeoutMs: 10_000,
            retry: { scheduleMs: [100, 100], jitter: 0 },
          },
        ],
      },
      [business],
      () => probeMessage(appId),
    );
    await publishLoad(stack, load);
    await waitForAll(business, load, 30_000);
    const dead = await waitFor(
      async () => (await attemptsOf(stack, appId)).find((r) => r.outcome === "dead"),
      { timeoutMs: 20_000, what: "the head's dead record" },
    );
    expect(dead).toMatchObject({ deliveryId: `${head!}:mq`, attempt: 3 });

    // Every attempt of the head (three, the schedule's) came before the first of the rest of its key.
    const headAttempts = business.arrivals.flatMap((c, i) => (c.id === head ? [i] : []));
    const firstOfTail = business.arrivals.findIndex((c) => c.id === tail[0]);
    expect(headAttempts).toHaveLength(3);
    expect(firstOfTail).toBeGreaterThan(headAttempts[2]!);
    expect(firstArrivals(business.arrivals).get(doomed.key)).toEqual([0, 1, 2]);
    expect(findings(outOfOrder(business.arrivals))).toEqual({ count: 0, first: [] });
    expect(findings(business.overlaps)).toEqual({ count: 0, first: [] });
    expect(dead.orderingKey).toBe(doomed.key);
  },
);

it(
  "RongCloud batches: a room's status records keep key order inside each array and across arrays",
  { timeout: 60_000 },
  async () => {
    const appId = "rcorder";
    const rooms = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? `房间${i}🏠` : `room-${i}`));
    const load = roomLoad(appId, rooms, 6);
    const business = await server(identifyRoomRecords(load), randomDelay(20));
    await configureAndProbe(
      stack,
      {
        appId,
        endpoints: [
          {
            id: "rc",
            url: `${business.url}/chatroom`,
            dialect: "rongcloud",
            rongcloud: { appKey: "k", appSecret: "s" },
            eventTypes: ["room.status"],
            ordering: "key",
            concurrency: 8,
            timeoutMs: 10_000,
            batch: { maxRecords: 20, maxLingerMs: 20 },
          },
        ],
      },
      [business],
      () => probeRoom(appId),
    );
    await publishLoad(stack, load);
    await waitForAll(business, load, 45_000);

    const disorder = outOfOrder(business.arrivals);
    report(
      `rongcloud: ${load.callbacks.size} room.status records of ${rooms.length} rooms in ` +
        `${business.arrivals.length} record arrivals; ${disorder.length} rooms out of order, ` +
        `${business.overlaps.length} overlaps within a room`,
    );
    expect(findings(disorder)).toEqual({ count: 0, first: [] });
    expect(findings(business.overlaps)).toEqual({ count: 0, first: [] });
  },
);

it("an endpoint with ordering none still gets every callback", { timeout: 60_000 }, async () => {
  const appId = "unordered";
  const load = messageLoad(appId, conversations("n", 300), 3);
  const business = await server(identifyByDeliveryId(load), randomDelay(5));
  await configureAndProbe(
    stack,
    {
      appId,
      endpoints: [
        {
          id: "mq",
          url: `${business.url}/cb`,
          dialect: "mqttchat",
          ordering: "none",
          concurrency: 16,
          timeoutMs: 10_000,
        },
      ],
    },
    [business],
    () => probeMessage(appId),
  );
  await publishLoad(stack, load);
  await waitForAll(business, load, 45_000);
  expect(new Set(business.arrivals.map((c) => c.id))).toEqual(new Set(load.callbacks.keys()));
  // Unordered: no record claims a key's order.
  const records = await waitFor(
    async () => {
      const all = await attemptsOf(stack, appId);
      return all.filter((r) => r.outcome === "delivered").length >= load.callbacks.size ? all : undefined;
    },
    { timeoutMs: 20_000, what: "a delivered record of every callback" },
  );
  expect(records.filter((r) => (r.orderingKey ?? "") !== "").map((r) => r.deliveryId)).toEqual([]);
});

it(
  "the deliverer's consumers do not grow with endpoints: 30 more leave DELIVERIES at one per partition",
  { timeout: 60_000 },
  async () => {
    const appId = "manyendpoints";
    const recorder = await startRecordingServer();
    try {
      const paths = Array.from({ length: 30 }, (_, i) => `/ep${i}`);
      await putApp(stack.bus, {
        appId,
        endpoints: paths.map((path, i) => ({
          id: `ep${i}`,
          url: `${recorder.url}${path}`,
          dialect: "mqttchat",
          ordering: i % 2 === 0 ? "key" : "none",
        })),
      } as unknown as AppConfig);
      // Every endpoint being sent to: whatever consumers it takes exist by now.
      await waitFor(
        async () => {
          await publish(stack.client, [probeMessage(appId)]);
          const reached = new Set(recorder.requests.map((r) => r.path));
          return paths.every((p) => reached.has(p));
        },
        { timeoutMs: 30_000, intervalMs: 500, what: "a probe at every one of 30 endpoints" },
      );
      const jsm = await stack.bus.jsm();
      const names = async (stream: string) => {
        const out: string[] = [];
        for await (const c of jsm.consumers.list(stream)) out.push(c.name);
        return out;
      };
      const deliveries = await names(stack.names.streams.deliveries);
      const events = await names(stack.names.streams.events);
      report(`30 endpoints more: ${deliveries.length} consumers on DELIVERIES, ${events.length} on EVENTS`);
      const perEndpoint = [...deliveries, ...events].filter(
        (n) => /^d[lr]-/.test(n) || n === "deliverer-router",
      );
      expect(findings(perEndpoint)).toEqual({ count: 0, first: [] });
      expect(deliveries.length).toBeLessThanOrEqual(DEFAULT_PARTITIONS);
    } finally {
      await recorder.close();
    }
  },
);
