// Loads for the ordered-delivery tests: conversations and rooms whose events are numbered per ordering
// key. A key's events are published close together (a chat's burst), so that an unordered deliverer has
// them in hand at once; the order EVENTS stored them in is checked against the numbering.
import { decodeAttemptRecords, type AttemptRecord } from "@herald/bus";
import { putApp, type AppConfig } from "@herald/config";
import type { DeepPartial, Event } from "@herald/proto";
import { waitFor } from "@herald/testkit";
import type { DeliveryStack } from "./delivery-fixture.js";
import { publish } from "./grpc-client.js";
import type { Callback, CallbackRequest, OrderingServer } from "./ordering-server.js";

/** Events per publish call (the gateway takes up to 1,000). */
const PUBLISH_BATCH = 500;

export interface Load {
  /** Every event, in the order they are published. */
  events: DeepPartial<Event>[];
  /** Event id -> the callback it makes. */
  byEvent: Map<string, Callback>;
  /** Each callback's id (event id, or room and time) -> its key and place in the key's order. */
  callbacks: Map<string, Callback>;
  /** Every key's callback ids, in event order. */
  byKey: Map<string, string[]>;
}

export interface Conversation {
  a: string;
  b: string;
  /** The ordering key SPEC-14 gives a single chat: `conv:["<a>","<b>"]`, the two ids sorted. */
  key: string;
}

export function conversation(a: string, b: string): Conversation {
  return { a, b, key: `conv:${JSON.stringify([a, b].sort())}` };
}

/**
 * `count` single-chat conversations with user ids of every kind the gateway takes: CJK with emoji,
 * canonical integers (sent as JSON numbers by mqttchat), and ASCII.
 */
export function conversations(tag: string, count: number): Conversation[] {
  return Array.from({ length: count }, (_, i) => {
    switch (i % 3) {
      case 0:
        return conversation(`${tag}用户${i}`, `🐼${tag}${i}`);
      case 1:
        return conversation(String(1_000_000 + i), String(2_000_000 + i));
      default:
        return conversation(`${tag}-a${i}`, `${tag}-b${i}`);
    }
  });
}

let sequence = 0;
const runTag = `${process.pid}-${Date.now().toString(36)}`;

function newLoad(): Load {
  return { events: [], byEvent: new Map(), callbacks: new Map(), byKey: new Map() };
}

function add(load: Load, event: DeepPartial<Event>, callback: Callback): void {
  load.events.push(event);
  load.byEvent.set(event.id!, callback);
  load.callbacks.set(callback.id, callback);
  const ids = load.byKey.get(callback.key) ?? [];
  ids.push(callback.id);
  load.byKey.set(callback.key, ids);
}

/**
 * `perKey` messages in each conversation, in turns (a to b, then b to a...), all of one key. The
 * conversations go in groups of `stride`, each group's messages interleaved (c1 #0, c2 #0... c1 #1...):
 * a key's next message is `stride` events after the one before.
 */
export function messageLoad(appId: string, convs: readonly Conversation[], perKey: number, stride = 8): Load {
  const load = newLoad();
  for (let g = 0; g < convs.length; g += stride) {
    const group = convs.slice(g, g + stride);
    for (let seq = 0; seq < perKey; seq++) {
      for (const c of group) {
        sequence += 1;
        const id = `ord-${runTag}-${sequence}`;
        const [from, to] = seq % 2 === 0 ? [c.a, c.b] : [c.b, c.a];
        add(load, messageSent(appId, id, from, to, seq), { key: c.key, seq, id });
      }
    }
  }
  return load;
}

function messageSent(appId: string, id: string, from: string, to: string, seq: number): DeepPartial<Event> {
  return {
    id,
    appId,
    operationId: `op-${id}`,
    payload: {
      $case: "messageSent",
      value: {
        messageId: id,
        fromUserId: from,
        toUserId: to,
        content: `#${seq} 你好 👋`,
        type: 0,
        contentType: 101,
      },
    },
  };
}

/** A message no load knows (the servers count it as a stranger): shows an endpoint is being sent to. */
export function probeMessage(appId: string): DeepPartial<Event> {
  sequence += 1;
  const id = `probe-${runTag}-${sequence}`;
  return messageSent(appId, id, `probe-${sequence}`, "probe-peer", 0);
}

/** The callbacks of a mqttchat request, by its Herald-Delivery-Id (`<eventId>:<endpointId>`). */
export function identifyByDeliveryId(load: Load): (request: CallbackRequest) => Callback[] {
  return ({ headers }) => {
    const deliveryId = String(headers["herald-delivery-id"] ?? "");
    const callback = load.callbacks.get(deliveryId.slice(0, deliveryId.lastIndexOf(":")));
    return callback === undefined ? [] : [callback];
  };
}

/** A room's changes, each keyed by its time (occurredAt), which its room.status record carries. */
export function roomLoad(appId: string, roomIds: readonly string[], joins: number): Load {
  const load = newLoad();
  const base = Date.UTC(2026, 0, 1);
  const kinds: Array<(roomId: string, i: number) => DeepPartial<Event>["payload"]> = [
    (roomId) => ({ $case: "roomCreated", value: { roomId, status: 0 } }),
    ...Array.from({ length: joins }, (_, j) => (roomId: string, i: number) => ({
      $case: "roomJoined" as const,
      value: { roomId, userIds: [`成员${i}-${j}-🦊`], status: 0 },
    })),
    (roomId, i) => ({ $case: "roomLeft", value: { roomId, userIds: [`成员${i}-0-🦊`], status: 0 } }),
    (roomId) => ({ $case: "roomDestroyed", value: { roomId, status: 0 } }),
  ];
  // Rooms go in groups of 8, each group's changes interleaved, as messages do.
  const stride = 8;
  for (let g = 0; g < roomIds.length; g += stride) {
    kinds.forEach((payload, seq) => {
      roomIds.slice(g, g + stride).forEach((roomId, j) => {
        const i = g + j;
        sequence += 1;
        const time = base + seq;
        const event = {
          id: `room-${runTag}-${sequence}`,
          appId,
          operationId: `op-room-${sequence}`,
          occurredAt: new Date(time),
          payload: payload(roomId, i),
        };
        add(load, event, { key: `room:${roomId}`, seq, id: roomRecordId(roomId, time) });
      });
    });
  }
  return load;
}

function roomRecordId(roomId: string, time: number): string {
  return `${roomId}@${time}`;
}

/** A room change no load knows. */
export function probeRoom(appId: string): DeepPartial<Event> {
  sequence += 1;
  const roomId = `probe-room-${runTag}-${sequence}`;
  return {
    id: `probe-${runTag}-${sequence}`,
    appId,
    operationId: `op-probe-${sequence}`,
    payload: { $case: "roomCreated", value: { roomId, status: 0 } },
  };
}

/** The callbacks of a RongCloud chatroom status request: its array's records, in array order. */
export function identifyRoomRecords(load: Load): (request: CallbackRequest) => Callback[] {
  return ({ text }) => {
    let records: unknown;
    try {
      records = JSON.parse(text);
    } catch {
      return [];
    }
    if (!Array.isArray(records)) return [];
    return records.flatMap((r: { chatRoomId?: string; time?: number }) => {
      const callback = load.callbacks.get(roomRecordId(String(r.chatRoomId), Number(r.time)));
      return callback === undefined ? [] : [callback];
    });
  };
}

/**
 * Publishes the load in calls of at most PUBLISH_BATCH events, one after another, and checks that
 * EVENTS stored each key's events in the load's order (else the test would judge the deliverer by an
 * order that is not the events').
 */
export async function publishLoad(stack: DeliveryStack, load: Load): Promise<void> {
  const lastSeq = new Map<string, { seq: number; streamSeq: number }>();
  for (let i = 0; i < load.events.length; i += PUBLISH_BATCH) {
    const { results } = await publish(stack.client, load.events.slice(i, i + PUBLISH_BATCH));
    for (const { eventId, streamSeq } of results) {
      const callback = load.byEvent.get(eventId);
      if (callback === undefined) continue;
      const before = lastSeq.get(callback.key);
      if (before !== undefined && (before.seq > callback.seq || before.streamSeq > streamSeq))
        throw new Error(
          `EVENTS stored ${callback.key} #${callback.seq} at ${streamSeq}, before #${before.seq}`,
        );
      lastSeq.set(callback.key, { seq: callback.seq, streamSeq });
    }
  }
}

/**
 * Writes an app and waits until each of `servers` has been sent a probe, whatever consumers the
 * deliverer makes: an event routed before the deliverer knows the app is dropped, so probes go on
 * until one arrives.
 */
export async function configureAndProbe(
  stack: DeliveryStack,
  app: { appId: string; endpoints: Array<{ id: string } & Record<string, unknown>> },
  servers: readonly OrderingServer[],
  probe: () => DeepPartial<Event>,
): Promise<void> {
  await putApp(stack.bus, app as unknown as AppConfig);
  await waitFor(
    async () => {
      await publish(stack.client, [probe()]);
      await waitFor(() => servers.every((s) => s.strangers > 0), { timeoutMs: 1_500, intervalMs: 20 });
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 0, what: `a probe to reach every endpoint of ${app.appId}` },
  );
}

/** Waits until every callback of the load has arrived at `server` at least once. */
export async function waitForAll(server: OrderingServer, load: Load, timeoutMs: number): Promise<void> {
  await waitFor(
    () => {
      for (const id of load.callbacks.keys()) if (!server.seen(id)) return false;
      return true;
    },
    { timeoutMs, intervalMs: 100, what: `all ${load.callbacks.size} callbacks` },
  );
}

/** Keys with some callbacks arrived and some not: keys a fault hit in the middle. */
export function keysHalfway(server: OrderingServer, load: Load): number {
  let halfway = 0;
  for (const ids of load.byKey.values()) {
    const seen = ids.filter((id) => server.seen(id)).length;
    if (seen > 0 && seen < ids.length) halfway += 1;
  }
  return halfway;
}

/** An app's delivery attempt records, as stored in ATTEMPTS, oldest first. */
export async function attemptsOf(stack: DeliveryStack, appId: string): Promise<AttemptRecord[]> {
  const stream = stack.names.streams.attempts;
  const subject = stack.names.subjects.attempt(appId);
  const jsm = await stack.bus.jsm();
  const last = await jsm.streams
    .getMessage(stream, { last_by_subj: subject })
    .then((m) => m?.seq ?? 0)
    .catch(() => 0);
  if (last === 0) return [];
  const consumer = await stack.bus.js.consumers.get(stream, { filter_subjects: subject });
  const messages = await consumer.consume({ max_messages: 1000 });
  const out: AttemptRecord[] = [];
  for await (const m of messages) {
    out.push(...(decodeAttemptRecords(m.data) as AttemptRecord[]));
    if (m.seq >= last || m.info.pending === 0) break;
  }
  await messages.close();
  return out.filter((r) => r.kind === "delivery");
}

/** A list of findings, cut short for a readable failure: { count, first }. */
export function findings(items: readonly string[]): { count: number; first: string[] } {
  return { count: items.length, first: items.slice(0, 5) };
}

/** The counts a reader of the run wants to see; lint keeps console for tools. */
export function report(line: string): void {
  process.stdout.write(`${line}\n`);
}
