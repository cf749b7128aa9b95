import { Event } from "@herald/proto";
import type { Bus, BusNames } from "@herald/bus";
import { Kvm } from "@nats-io/kv";
import { DeliverPolicy } from "@nats-io/jetstream";
import { expireGrace, foldPresence, presenceUserId } from "./fold.js";
import type { FoldResult } from "./fold.js";
import { presenceKeys } from "./keys.js";
import { emptyUserState, encodeUserState, graceDue } from "./state.js";
import type { UserState } from "./state.js";

/** The EVENTS subjects presence folds: connection events and node events of every app. */
export function presenceSubjects(names: BusNames): { connections: string; nodes: string } {
  const all = names.subjects.events(); // <root>.ev.>
  const prefix = all.slice(0, -1);
  return { connections: `${prefix}*.conn.>`, nodes: `${prefix}*.node.>` };
}

export interface RebuildOptions {
  /** The bucket to fill (default PRESENCE); created when missing; it should be empty. */
  bucket?: string;
  /** The grace period the live service runs with. */
  graceMs?: number;
  /** The end of the replay's clock: grace periods due by then end (default Date.now()). */
  now?: number;
}

export interface RebuildReport {
  events: number;
  users: number;
  /** The last EVENTS sequence replayed. */
  lastSeq: number;
}

/**
 * Replays EVENTS from the start and writes the state the live fold would have produced. Derived
 * events are not published. The clock of each step is the event's occurredAt, so grace periods
 * end where the replayed time passes them.
 */
export async function rebuildPresence(bus: Bus, opts: RebuildOptions = {}): Promise<RebuildReport> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.events;
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  const users = new Map<string, UserState>();
  const nodeIndex = new Map<string, Set<string>>(); // nodeUsers key -> user ids
  const resets = new Map<string, number>(); // nodeReset key -> seq
  const graceMs = opts.graceMs ?? 0;
  let events = 0;

  const apply = (key: string, fold: (s: UserState | undefined) => FoldResult): UserState => {
    const result = fold(users.get(key));
    if (result.changed) users.set(key, result.state);
    return result.state;
  };

  if (lastSeq > 0) {
    const consumer = await bus.js.consumers.get(stream, {
      filter_subjects: bus.names.subjects.events(),
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const seq = m.seq;
      const event = Event.decode(m.data);
      const p = event.payload;
      const at = event.occurredAt?.getTime() ?? 0;
      const userId = presenceUserId(event);
      if (userId !== undefined && userId !== "") {
        events++;
        const key = presenceKeys.user(event.appId, userId);
        apply(key, graceStep(event.appId, userId, at));
        let nodeResetSeq: number | undefined;
        if (p?.$case === "connectionOnline") {
          nodeResetSeq = resets.get(presenceKeys.nodeReset(event.appId, p.value.nodeId));
          addToSet(nodeIndex, presenceKeys.nodeUsers(event.appId, p.value.nodeId), userId);
        }
        apply(key, (s) =>
          foldPresence(s, event, seq, at, {
            graceMs,
            ...(nodeResetSeq === undefined ? {} : { nodeResetSeq }),
          }),
        );
      } else if (p?.$case === "nodeReset") {
        events++;
        const nodeId = p.value.nodeId;
        const resetKey = presenceKeys.nodeReset(event.appId, nodeId);
        resets.set(resetKey, Math.max(resets.get(resetKey) ?? 0, seq));
        const indexKey = presenceKeys.nodeUsers(event.appId, nodeId);
        for (const uid of nodeIndex.get(indexKey) ?? []) {
          const key = presenceKeys.user(event.appId, uid);
          apply(key, graceStep(event.appId, uid, at));
          const state = apply(key, (s) =>
            foldPresence(s ?? emptyUserState(event.appId, uid), event, seq, at),
          );
          if (!Object.values(state.connections).some((c) => c.nodeId === nodeId)) {
            nodeIndex.get(indexKey)?.delete(uid);
          }
        }
      }
      if (seq >= lastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  }

  const end = opts.now ?? Date.now();
  for (const [key, state] of users) users.set(key, expireGrace(state, end).state);
  await writeAll(bus, opts.bucket ?? bus.names.buckets.presence, users, nodeIndex, resets);
  return { events, users: users.size, lastSeq };
}

/** Ends due grace periods before a step at `at`; a user without state has none. */
function graceStep(appId: string, userId: string, at: number) {
  return (s: UserState | undefined): FoldResult =>
    s === undefined
      ? { state: emptyUserState(appId, userId), changed: false, derived: [] }
      : expireGrace(s, at);
}

function addToSet(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

async function writeAll(
  bus: Bus,
  bucket: string,
  users: Map<string, UserState>,
  nodeIndex: Map<string, Set<string>>,
  resets: Map<string, number>,
): Promise<void> {
  const kv = await new Kvm(bus.js).create(bucket, { history: 1 });
  for (const [key, state] of users) {
    await kv.put(key, encodeUserState(state));
    const due = graceDue(state);
    if (due !== undefined) await kv.put(presenceKeys.grace(state.appId, state.userId), String(due));
  }
  for (const [nodeUsersKey, userIds] of nodeIndex) {
    for (const uid of userIds) {
      const appId = presenceKeys.appId(nodeUsersKey);
      const nodeId = presenceKeys.lastId(nodeUsersKey.slice(0, -2));
      await kv.put(presenceKeys.nodeUser(appId, nodeId, uid), "");
    }
  }
  for (const [key, seq] of resets) await kv.put(key, String(seq));
}
