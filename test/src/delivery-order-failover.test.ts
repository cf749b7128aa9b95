// Ordered delivery (SPEC-14) when deliverers come and go mid-load: a SIGKILL and a successor, and two
// deliverers sharing the work with one stopped gracefully. At least once: a callback may come again,
// but per key the first arrival of each is in event order, and nothing is lost.
import { afterEach, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import { startDeliveryStack, type DeliveryStack } from "./delivery-fixture.js";
import {
  configureAndProbe,
  conversations,
  findings,
  identifyByDeliveryId,
  keysHalfway,
  messageLoad,
  probeMessage,
  publishLoad,
  report,
  waitForAll,
  type Load,
} from "./ordering-load.js";
import { outOfOrder, randomDelay, startOrderingServer, type OrderingServer } from "./ordering-server.js";

const KEYS = 300;
const PER_KEY = 5;
// Jobs a killed deliverer held come back after the ack wait (twice the timeout and a margin today).
const REDELIVERY_WAIT_MS = 90_000;

let stack: DeliveryStack | undefined;
let business: OrderingServer | undefined;

afterEach(async () => {
  await business?.close();
  business = undefined;
  await stack?.stop();
  stack = undefined;
});

/** A stack of `deliverers`, an ordered mqttchat endpoint at concurrency 16, and a load not yet sent. */
async function orderedSetup(
  appId: string,
  deliverers: number,
): Promise<{ stack: DeliveryStack; load: Load }> {
  // A short lease: partitions of a deliverer that died without a word move on soon.
  stack = await startDeliveryStack({ deliverers, env: { PROJECTION_LEASE_MS: "3000" } });
  const load = messageLoad(appId, conversations(appId, KEYS), PER_KEY);
  business = await startOrderingServer(identifyByDeliveryId(load), randomDelay(5));
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
          // Low, so that jobs a killed deliverer held are redelivered soon.
          timeoutMs: 1_000,
        },
      ],
    },
    [business],
    () => probeMessage(appId),
  );
  return { stack, load };
}

/** Waits until `fraction` of the load's callbacks have arrived (the fault then comes mid-load). */
async function partway(s: OrderingServer, load: Load, fraction: number): Promise<void> {
  await waitFor(() => new Set(s.arrivals.map((c) => c.id)).size >= load.callbacks.size * fraction, {
    timeoutMs: 45_000,
    intervalMs: 5,
    what: `${fraction * 100}% of the callbacks`,
  });
}

it(
  "a deliverer SIGKILLed mid-load: its successor delivers everything, per key first arrivals in order",
  { timeout: 150_000 },
  async () => {
    const { stack: s, load } = await orderedSetup("orderkill", 1);
    const server = business!;
    const publishing = publishLoad(s, load);
    await partway(server, load, 0.2);
    await s.deliverers[0]!.stop("SIGKILL");
    const halfway = keysHalfway(server, load);
    const atKill = server.arrivals.length;
    await s.startDeliverer();
    await publishing;
    await waitForAll(server, load, REDELIVERY_WAIT_MS);

    const disorder = outOfOrder(server.arrivals);
    report(
      `ordered SIGKILL: ${atKill} arrivals before the kill with ${halfway} keys halfway; ` +
        `${server.arrivals.length} arrivals for ${load.callbacks.size} callbacks; ` +
        `${disorder.length} keys out of order, ${server.overlaps.length} overlaps within a key`,
    );
    expect(halfway).toBeGreaterThan(0);
    expect(findings(disorder)).toEqual({ count: 0, first: [] });
  },
);

it(
  "two deliverers share the work, one stopped gracefully mid-load: nothing lost, per key in order",
  { timeout: 150_000 },
  async () => {
    const { stack: s, load } = await orderedSetup("ordertwo", 2);
    const server = business!;
    const publishing = publishLoad(s, load);
    await partway(server, load, 0.3);
    const code = await s.deliverers[0]!.stop("SIGTERM");
    const halfway = keysHalfway(server, load);
    await publishing;
    await waitForAll(server, load, REDELIVERY_WAIT_MS);

    const disorder = outOfOrder(server.arrivals);
    report(
      `ordered, one of two stopped: ${halfway} keys halfway at the stop; ` +
        `${server.arrivals.length} arrivals for ${load.callbacks.size} callbacks; ` +
        `${disorder.length} keys out of order, ${server.overlaps.length} overlaps within a key`,
    );
    expect(code).toBe(0);
    expect(s.deliverers[1]!.child.exitCode).toBeNull();
    expect(halfway).toBeGreaterThan(0);
    expect(findings(disorder)).toEqual({ count: 0, first: [] });
    // A graceful handover finishes what it sent before the other deliverer goes on with the key.
    expect(findings(server.overlaps)).toEqual({ count: 0, first: [] });
  },
);
