import { isCopy, publishDeliveryJob, startConsumer } from "@herald/bus";
import type { Bus, ConsumerRunner, Delivery } from "@herald/bus";
import type { ConfigView } from "@herald/config";
import { Event } from "@herald/proto";
import { TerminalError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { DelivererMetrics } from "./metrics.js";
import { routeEvent } from "./routes.js";

export const ROUTER_DURABLE = "deliverer-router";

export interface RouterOptions {
  bus: Bus;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  /** Events routed at once. */
  concurrency: number;
}

/**
 * Turns each event into one job per endpoint that takes it, on herald.dl.<app>.<endpoint> with
 * Nats-Msg-Id `<appId>:<eventId>:<endpointId>`, so an event routed twice (a redelivery after a crash) makes
 * each job once. The event is acknowledged only after every job is stored. Starts from the first
 * event in the stream, so events published before the first deliverer ever ran are delivered too.
 * A node.reset's per-partition copies are skipped: an event is routed once, from its original.
 */
export function startRouter(opts: RouterOptions): ConsumerRunner {
  const { bus, view, metrics } = opts;
  return startConsumer({
    bus,
    log: opts.log.child({ component: "router" }),
    concurrency: opts.concurrency,
    spec: {
      stream: bus.names.streams.events,
      durable: ROUTER_DURABLE,
      filterSubject: bus.names.subjects.events(),
      maxAckPending: opts.concurrency * 2,
    },
    handle: async (d: Delivery) => {
      if (isCopy(d.headers)) return;
      const address = bus.names.subjects.parseEvent(d.subject);
      if (address === undefined)
        throw new TerminalError(`event at ${d.subject} #${d.seq} is not under an event subject`);
      const { appId, type } = address;
      const app = view.app(appId);
      if (app === undefined) return;
      let targets;
      try {
        targets = routeEvent(app, type, d.data);
      } catch (err) {
        throw new TerminalError(`event at ${d.subject} #${d.seq} does not decode`, { cause: err });
      }
      if (targets.length === 0) return;
      // Not the Nats-Msg-Id: the gateway scopes that per app, derived events carry their own.
      const eventId = Event.decode(d.data).id;
      await Promise.all(
        targets.map((endpoint) =>
          publishDeliveryJob(bus, {
            appId,
            endpointId: endpoint.id,
            eventId,
            eventType: type,
            trigger: "event",
            event: d.data,
          }),
        ),
      );
      metrics.routed.inc(targets.length);
    },
  });
}
