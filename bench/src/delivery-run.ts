// One timed delivery run: events published through the gateway (gRPC Publish, batches in flight)
// until every expected callback first arrived at the business server, or a deadline passed.
import type { HeraldServiceClient } from "@herald/proto";
import { publish } from "@herald/e2e";
import { within, type BusinessServer } from "./business-server.js";
import type { KeyedEvents, MessageEvent } from "./keyed-events.js";
import { ms } from "./stats.js";

const BATCH = 100;
const WINDOW = 8; // Publish batches in flight

export interface DeliveryRun {
  /** Callbacks that first arrived per second, from the first Publish to the last arrival (or the deadline). */
  perSecond: number;
  seconds: number;
  delivered: number;
  expected: number;
  /** Every expected callback arrived before the deadline. */
  finished: boolean;
  /** First deliveries out of their key's stream order (KeyedEvents.outOfOrder). */
  outOfOrder: number;
}

/** Publishes `events` and waits for one callback per event and endpoint id (all if unbounded). */
export async function deliver(
  client: HeraldServiceClient,
  business: BusinessServer,
  keyed: KeyedEvents,
  events: readonly MessageEvent[],
  endpointIds: readonly string[],
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<DeliveryRun> {
  const ids = events.flatMap((e) => endpointIds.map((endpointId) => `${e.id}:${endpointId}`));
  const arrived = business.expect(ids);
  const t = process.hrtime.bigint();
  let next = 0;
  const publishing = Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < events.length) {
        const batch = events.slice(next, next + BATCH);
        next += BATCH;
        keyed.stored(await publish(client, batch));
      }
    }),
  );
  const finished = await within(
    Promise.all([publishing, arrived]),
    Number.isFinite(timeoutMs) ? timeoutMs : 2 ** 31 - 1,
  );
  const seconds = ms(process.hrtime.bigint() - t) / 1000;
  const delivered = finished ? ids.length : ids.filter((id) => business.arrivals.has(id)).length;
  return {
    perSecond: delivered / seconds,
    seconds,
    delivered,
    expected: ids.length,
    finished,
    outOfOrder: keyed.outOfOrder(business.arrivals.keys()),
  };
}
