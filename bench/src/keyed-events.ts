// The delivery benchmarks' events, each with the ordering key Herald gives it, and the check that
// every key's callbacks first arrived at each endpoint in the order EVENTS stored them.
import type { DeepPartial, Event, PublishResponse } from "@herald/proto";

export type MessageEvent = DeepPartial<Event> & { id: string; appId: string };

let counter = 0;

/** A seeded generator (mulberry32): the same key sequence in every run, random within it. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Events of a run: makes them (a single-chat msg.sent between the two users of pair `pair`, so
 * the key is that conversation), keeps each one's key and, once the gateway answered, its EVENTS sequence.
 */
export class KeyedEvents {
  private readonly keys = new Map<string, string>();
  private readonly seqs = new Map<string, number>();

  /** A msg.sent (which mqttchat and standard endpoints take by default) with a fresh id. */
  message(appId: string, pair: number): MessageEvent {
    counter += 1;
    const now = new Date();
    const from = String(1_000_000 + pair);
    const to = String(2_000_000 + pair);
    const id = `db-${process.pid}-${counter}`;
    // As deliveryKey says for a single chat: the conversation, its two user ids sorted.
    this.keys.set(id, `${appId}/conv:${from},${to}`);
    return {
      id,
      appId,
      operationId: `op-${counter}`,
      occurredAt: now,
      payload: {
        $case: "messageSent",
        value: {
          messageId: String(counter),
          fromUserId: from,
          toUserId: to,
          content: `hello ${counter}`,
          type: 0,
          p1: "a",
          p2: "b",
          p3: "c",
          contentType: 101,
          sentAt: now,
        },
      },
    };
  }

  /** Keeps the EVENTS sequence the gateway stored each event at. */
  stored(response: PublishResponse): void {
    for (const r of response.results) if (!r.duplicate) this.seqs.set(r.eventId, r.streamSeq);
  }

  /**
   * First deliveries (delivery ids `<eventId>:<endpointId>` in arrival order) that arrived after a
   * later-stored event of the same key at the same endpoint: 0 when every key kept its order.
   * Ids of other runs are skipped.
   */
  outOfOrder(arrivals: Iterable<string>): number {
    const highest = new Map<string, number>();
    let count = 0;
    for (const deliveryId of arrivals) {
      const cut = deliveryId.lastIndexOf(":");
      const eventId = deliveryId.slice(0, cut);
      const key = this.keys.get(eventId);
      const seq = this.seqs.get(eventId);
      if (key === undefined || seq === undefined) continue;
      const at = `${key}@${deliveryId.slice(cut + 1)}`;
      if (seq < (highest.get(at) ?? 0)) count += 1;
      else highest.set(at, seq);
    }
    return count;
  }
}
