import type { Event } from "@herald/proto";

/** A presence event without occurredAt: the gateway stamps every event, so this is a bug upstream. */
export class MissingOccurredAtError extends Error {
  override readonly name = "MissingOccurredAtError";
  readonly eventId: string;

  constructor(eventId: string, options?: ErrorOptions) {
    super(`event ${JSON.stringify(eventId)} has no occurredAt`, options);
    this.eventId = eventId;
  }
}

/** Epoch milliseconds of the event; dialects have no clock, so a missing time throws MissingOccurredAtError. */
export function occurredAtMs(event: Event): number {
  if (event.occurredAt === undefined) throw new MissingOccurredAtError(event.id);
  return event.occurredAt.getTime();
}
