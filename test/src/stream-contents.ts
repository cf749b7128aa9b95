import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { COPY_HEADER, decodeAttemptRecords, type AttemptRecord, type Bus } from "@herald/bus";
import { Event, type EventLane } from "@herald/proto";

/** Every Nats-Msg-Id stored in a stream, read back from the server itself. */
export async function storedMsgIds(natsUrl: string, stream: string): Promise<Set<string>> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const ids = new Set<string>();
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq });
      const id = msg?.header?.get("Nats-Msg-Id");
      if (id) ids.add(id);
    }
    return ids;
  } finally {
    await nc.close();
  }
}

/** Every attempt record in the ATTEMPTS stream `stream` so far, oldest first. */
export async function storedAttemptRecords(nc: NatsConnection, stream: string): Promise<AttemptRecord[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const records: AttemptRecord[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg !== null) records.push(...(decodeAttemptRecords(msg.data) as AttemptRecord[]));
  }
  return records;
}

/** One event stored in EVENTS, with where and when the stream stored it. */
export interface StoredEvent {
  seq: number;
  /** The stream's clock, ms since the epoch. */
  time: number;
  event: Event;
}

/**
 * The events stored in EVENTS for an app, in stream order, per-partition copies (of a node.reset)
 * left out; only those of `lane` when given.
 */
export async function storedEvents(bus: Bus, appId: string, lane?: EventLane): Promise<StoredEvent[]> {
  const stream = bus.names.streams.events;
  const jsm = await bus.jsm();
  const { state } = await jsm.streams.info(stream);
  const out: StoredEvent[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg === null || msg.header?.has(COPY_HEADER)) continue;
    const at = bus.names.subjects.parseEvent(msg.subject);
    if (at?.appId !== appId || (lane !== undefined && at.lane !== lane)) continue;
    out.push({ seq, time: msg.time.getTime(), event: Event.decode(msg.data) });
  }
  return out;
}
