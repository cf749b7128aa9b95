// Delivery under faults, with real processes: an endpoint that hangs beside a healthy one, a deliverer
// killed mid-flow (alone, and beside another), and a NATS restart. No timing is asserted: "keeps its
// rate" is shown by order (all healthy deliveries recorded before the hanging endpoint's first answer).
import { afterEach, expect, it } from "vitest";
import type { DeepPartial, Event } from "@herald/proto";
import { startRecordingServer, waitFor, type RecordedRequest, type RecordingServer } from "@herald/testkit";
import { publish } from "./grpc-client.js";
import {
  attemptRecords,
  configureApp,
  messageEvent,
  startDeliveryStack,
  type DeliveryStack,
} from "./delivery-fixture.js";

const BATCH = 100;
const REDELIVERY_WAIT_MS = 90_000;

let stack: DeliveryStack | undefined;
const servers: RecordingServer[] = [];

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(): Promise<RecordingServer> {
  const s = await startRecordingServer();
  servers.push(s);
  return s;
}

async function publishAll(events: DeepPartial<Event>[]): Promise<void> {
  for (let i = 0; i < events.length; i += BATCH) {
    await publish(stack!.client, events.slice(i, i + BATCH));
  }
}

/** The counts a reader of the run wants to see (delivered, duplicates); lint keeps console for tools. */
function report(line: string): void {
  process.stdout.write(`${line}\n`);
}

function deliveryIds(requests: readonly RecordedRequest[]): string[] {
  return requests.map((r) => r.headers["herald-delivery-id"] ?? "");
}

/** Distinct delivery ids seen, and how many requests repeated one. */
function tally(requests: readonly RecordedRequest[]): { distinct: Set<string>; duplicates: number } {
  const distinct = new Set(deliveryIds(requests));
  return { distinct, duplicates: requests.length - distinct.size };
}

async function waitForAll(s: RecordingServer, expected: ReadonlySet<string>, what: string): Promise<void> {
  await waitFor(
    () => {
      const seen = new Set(deliveryIds(s.requests));
      for (const id of expected) if (!seen.has(id)) return false;
      return true;
    },
    { timeoutMs: REDELIVERY_WAIT_MS, intervalMs: 200, what },
  );
}

// The time limit is a backstop only: the waits fail as soon as deliveries stop coming.
it("a hanging endpoint never holds up a healthy one beside it", { timeout: 300_000 }, async () => {
  stack = await startDeliveryStack();
  const hanging = await server();
  const healthy = await server();
  // The hanging endpoint answers nothing until the healthy one has everything, however long a loaded
  // machine takes for that: what is compared is order, never which of two clocks runs out first.
  let release = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  hanging.fallback({ status: 500, after: released });
  const concurrency = 16;
  await configureApp(stack, {
    appId: "hang",
    endpoints: [
      // The longest timeout an endpoint may have, so that the deliverer does not give up first.
      { id: "stuck", url: `${hanging.url}/cb`, dialect: "mqttchat", timeoutMs: 60_000, concurrency },
      { id: "ok", url: `${healthy.url}/cb`, dialect: "mqttchat", concurrency },
    ],
  });
  // Each event in a conversation of its own, so the hanging endpoint fills every slot it has.
  const events = Array.from({ length: 300 }, (_, i) => {
    const event = messageEvent("hang");
    if (event.payload?.$case === "messageSent")
      event.payload.value = { ...event.payload.value, toUserId: `u${i}` };
    return event;
  });
  await publishAll(events);

  const okRecords = await waitFor(
    async () => {
      const ok = (await attemptRecords(stack!)).filter((r) => r.endpointId === "ok");
      return ok.length >= events.length ? ok : undefined;
    },
    {
      timeoutMs: 30_000,
      progress: () => healthy.requests.length,
      what: "every healthy delivery to be recorded",
    },
  );
  // Everything of the healthy endpoint is delivered and recorded while the hanging one holds as many
  // requests as it has slots, none of them finished.
  await waitFor(() => hanging.requests.length >= concurrency, {
    what: "the hanging endpoint's slots to fill",
  });
  const hangingSoFar = hanging.requests.length;
  const stuckRecordsSoFar = (await attemptRecords(stack)).filter((r) => r.endpointId === "stuck").length;
  const { distinct, duplicates } = tally(healthy.requests);
  expect(distinct).toEqual(new Set(events.map((e) => `${e.id}:ok`)));
  expect(duplicates).toBe(0);
  expect(okRecords.filter((r) => r.outcome === "delivered")).toHaveLength(events.length);
  expect(hangingSoFar).toBe(concurrency);
  expect(stuckRecordsSoFar, "the hanging endpoint's 60 s timeout passed before the healthy 300 were in").toBe(
    0,
  );

  // Then it answers 500: its attempts are recorded after every healthy one, as retries.
  release();
  const records = await waitFor(
    async () => {
      const all = await attemptRecords(stack!);
      return all.filter((r) => r.endpointId === "stuck").length >= hangingSoFar ? all : undefined;
    },
    { timeoutMs: 30_000, what: "the hanging endpoint's first answers" },
  );
  const firstStuck = records.findIndex((r) => r.endpointId === "stuck");
  const lastOk = records.findLastIndex((r) => r.endpointId === "ok");
  expect(lastOk).toBeLessThan(firstStuck);
  expect(records.filter((r) => r.endpointId === "stuck").every((r) => r.outcome === "retry")).toBe(true);
  report(
    `hanging beside healthy: healthy ${healthy.requests.length} requests (${distinct.size} distinct) ` +
      `while the hanging endpoint held ${hangingSoFar} requests with ${stuckRecordsSoFar} finished`,
  );
});

/**
 * Publishes `total` events to one slow-ish endpoint, SIGKILLs deliverer `victim` once some but not all
 * have arrived, runs `afterKill`, and checks that every event arrived, duplicates only by delivery id.
 */
async function killMidFlow(opts: {
  appId: string;
  total: number;
  deliverers: number;
  afterKill: () => Promise<unknown>;
}): Promise<{ atKill: number; requests: number; duplicates: number }> {
  stack = await startDeliveryStack({ deliverers: opts.deliverers });
  const business = await server();
  // Slow enough, with 4 slots per deliverer, that the flow is still going when the kill comes.
  business.fallback({ status: 200, delayMs: 5 });
  await configureApp(stack, {
    appId: opts.appId,
    endpoints: [
      // A low timeout keeps the consumers' ack wait (2 * timeout + 30 s) short: redelivery after the kill.
      { id: "mq", url: `${business.url}/cb`, dialect: "mqttchat", timeoutMs: 1_000, concurrency: 4 },
    ],
  });
  const events = Array.from({ length: opts.total }, () => messageEvent(opts.appId));
  const expected = new Set(events.map((e) => `${e.id}:mq`));
  const publishing = publishAll(events);

  await waitFor(() => business.requests.length >= opts.total / 10, {
    timeoutMs: 30_000,
    intervalMs: 5,
    what: "the first tenth of the deliveries",
  });
  await stack.deliverers[0]!.stop("SIGKILL");
  const atKill = business.requests.length;
  await opts.afterKill();
  await publishing;

  await waitForAll(business, expected, `every one of ${opts.total} events delivered`);
  const { distinct, duplicates } = tally(business.requests);
  expect(atKill).toBeLessThan(opts.total);
  expect(distinct).toEqual(expected);
  // A duplicate is the same delivery id again (what a receiver dedups on), never a different one.
  for (const r of business.requests) {
    expect(r.headers["herald-delivery-id"]).toMatch(/:mq$/);
  }
  return { atKill, requests: business.requests.length, duplicates };
}

it(
  "a deliverer SIGKILLed mid-flow: its successor delivers every event, duplicates only by delivery id",
  { timeout: 150_000 },
  async () => {
    const counts = await killMidFlow({
      appId: "killed",
      total: 2_000,
      deliverers: 1,
      afterKill: () => stack!.startDeliverer(),
    });
    report(
      `SIGKILL then restart: ${counts.atKill} arrived before the kill; ` +
        `${counts.requests} requests in all, 2000 distinct, ${counts.duplicates} duplicates`,
    );
  },
);

it(
  "one of two deliverers SIGKILLed mid-flow: the other delivers every event",
  { timeout: 150_000 },
  async () => {
    const counts = await killMidFlow({
      appId: "twokilled",
      total: 2_000,
      deliverers: 2,
      afterKill: () => Promise.resolve(),
    });
    expect(stack!.deliverers[1]!.child.exitCode).toBeNull();
    report(
      `SIGKILL one of two: ${counts.atKill} arrived before the kill; ` +
        `${counts.requests} requests in all, 2000 distinct, ${counts.duplicates} duplicates`,
    );
  },
);

it(
  "events stored before a NATS restart are delivered after it, and publishing goes on",
  { timeout: 150_000 },
  async (ctx) => {
    stack = await startDeliveryStack();
    // Only a nats-server of the fixture's own can be restarted (not a shared one or a container).
    if (stack.nats.source !== "local") ctx.skip();
    const business = await server();
    // At most 4 slots / 20 ms: most of the events are still waiting when NATS goes down.
    business.fallback({ status: 200, delayMs: 20 });
    await configureApp(stack, {
      appId: "restart",
      endpoints: [
        { id: "mq", url: `${business.url}/cb`, dialect: "mqttchat", timeoutMs: 1_000, concurrency: 4 },
      ],
    });
    const before = Array.from({ length: 1_000 }, () => messageEvent("restart"));
    await publishAll(before);
    const atRestart = business.requests.length;
    await stack.nats.restart();
    const after = Array.from({ length: 200 }, () => messageEvent("restart"));
    // The gateway reconnects on its own; until it has, a publish fails and the caller retries.
    await waitFor(() => publish(stack!.client, after.slice(0, BATCH)).then(() => true), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "the gateway to publish again after the restart",
    });
    await publish(stack.client, after.slice(BATCH));

    const expected = new Set([...before, ...after].map((e) => `${e.id}:mq`));
    await waitForAll(business, expected, "every event from before and after the restart");
    const { distinct, duplicates } = tally(business.requests);
    expect(atRestart).toBeLessThan(before.length);
    expect(distinct).toEqual(expected);
    report(
      `NATS restart: ${atRestart} of ${before.length} delivered before it; ` +
        `${business.requests.length} requests in all, ${distinct.size} distinct, ${duplicates} duplicates`,
    );
  },
);
