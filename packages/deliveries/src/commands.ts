import { deliveryIdOf, publishDeliveryJob, publishDeliveryJobs, type Bus } from "@herald/bus";
import {
  deleteEndpointState,
  readEndpointState,
  writeEndpointState,
  type EndpointState,
} from "@herald/config";
import { Event } from "@herald/proto";
import { testEvent, type TestEventType } from "./test-event.js";

/**
 * The ways into DELIVERIES other than the router's: an operator's replay or test send. Each writes a
 * first job with a fresh message id (so it is never taken for the original) and the delivery id the
 * receiver already knows; the deliverer owns everything after that (signing, retries, the log).
 */

/** One delivery again, from the event the log store holds; answers its delivery id. */
export async function replayDelivery(
  bus: Bus,
  req: { appId: string; endpointId: string; event: Event; eventType?: string; deliveryId?: string },
): Promise<string> {
  const deliveryId = req.deliveryId ?? deliveryIdOf(req.event.id, req.endpointId);
  await publishDeliveryJob(bus, {
    appId: req.appId,
    endpointId: req.endpointId,
    eventId: req.event.id,
    eventType: req.event.type || (req.eventType ?? ""),
    trigger: "replay",
    event: Event.encode(req.event).finish(),
    deliveryId,
  });
  return deliveryId;
}

/** A dead delivery as the log store lists it: the event still encoded, as the record kept it. */
export interface StoredDelivery {
  deliveryId: string;
  eventId: string;
  eventType: string;
  event: Uint8Array;
}

/** A stored delivery and the endpoint it goes to: a filtered set may span endpoints. */
export interface StoredEndpointDelivery extends StoredDelivery {
  endpointId: string;
}

/** Several deliveries of one endpoint again, in the order given; answers how many were written. */
export function replayStored(
  bus: Bus,
  appId: string,
  endpointId: string,
  deliveries: readonly StoredDelivery[],
): Promise<number> {
  return replayDeliveries(
    bus,
    appId,
    deliveries.map((d) => ({ ...d, endpointId })),
  );
}

/**
 * Deliveries of an app again, each to its own endpoint (an operator's bulk replay of a filtered
 * set). The jobs are pipelined into DELIVERIES, in the order given, with no round trip awaited per
 * job; answers how many were stored, or fails as a whole (a replay asked again sends duplicates of
 * what was stored, which receivers tell apart by the delivery id they already know).
 */
export function replayDeliveries(
  bus: Bus,
  appId: string,
  deliveries: readonly StoredEndpointDelivery[],
): Promise<number> {
  return publishDeliveryJobs(
    bus,
    deliveries.map((d) => ({
      appId,
      endpointId: d.endpointId,
      eventId: d.eventId,
      eventType: d.eventType,
      trigger: "replay" as const,
      event: d.event,
      deliveryId: d.deliveryId,
    })),
  );
}

/** A synthetic event of `type` to one endpoint, through the deliverer like any other job. */
export async function sendTestEvent(
  bus: Bus,
  appId: string,
  endpointId: string,
  type: TestEventType,
): Promise<string> {
  const event = testEvent(appId, type);
  await publishDeliveryJob(bus, {
    appId,
    endpointId,
    eventId: event.id,
    eventType: type,
    trigger: "test",
    event: Event.encode(event).finish(),
  });
  return deliveryIdOf(event.id, endpointId);
}

/** An endpoint's state as the deliverer sees it; one with no state on record is active. */
export async function endpointStateOf(
  bus: Bus,
  appId: string,
  endpointId: string,
): Promise<EndpointState | { state: "active"; reason: "" }> {
  const entry = await readEndpointState(bus, appId, endpointId);
  return entry?.state ?? { state: "active", reason: "" };
}

/** An operator's change of an endpoint's state (enable, pause, disable); the deliverers follow it. */
export async function setEndpointState(
  bus: Bus,
  appId: string,
  endpointId: string,
  state: EndpointState,
): Promise<void> {
  await writeEndpointState(bus, appId, endpointId, state);
}

/** Forgets an endpoint's state (the endpoint or its app was deleted): a re-created one starts clean. */
export function forgetEndpointState(bus: Bus, appId: string, endpointId: string): Promise<void> {
  return deleteEndpointState(bus, appId, endpointId);
}
