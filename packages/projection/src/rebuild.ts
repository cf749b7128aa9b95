import { Event } from "@herald/proto";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import { DeliverPolicy } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { encodeCheckpoint, kitKeys } from "./checkpoint.js";
import type { ProjectionDefinition } from "./definition.js";
import { PartitionState } from "./partition-state.js";

export interface RebuildOptions {
  /** The bucket to fill (default the projection's own); created when missing; it should be empty. */
  bucket?: string;
  /** Only these partitions (default all). */
  partitions?: readonly number[];
  /** The end of the replay's clock: timers due by then fire (default Date.now()). */
  now?: number;
  log: Logger;
}

export interface RebuildReport {
  events: number;
  states: number;
  /** The last EVENTS sequence replayed; every rebuilt partition's checkpoint. */
  lastSeq: number;
}

const WRITE_PARALLELISM = 256;

/**
 * Replays the projection's lane of EVENTS from the start through the same fold as the live
 * service, partition by partition, and writes the states, side keys and checkpoints it ends
 * with. Derived events are not published: they were, when the events were first folded. The
 * clock of each step is the event's stored time, as live, so the states equal the live ones.
 */
export async function rebuildProjection<S>(
  def: ProjectionDefinition<S>,
  bus: Bus,
  opts: RebuildOptions,
): Promise<RebuildReport> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.events;
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  const count = bus.layout.partitions;
  const wanted = new Set(opts.partitions ?? Array.from({ length: count }, (_, p) => p));
  const states = new Map<number, PartitionState<S>>();
  for (const p of wanted) states.set(p, new PartitionState(def, p, count, opts.log));
  // Side keys as the replay leaves them: the last change of each key wins.
  const side = new Map<string, Uint8Array | string | undefined>();
  // Deferred reads (publishAsync) only derive events: not run, like every derived event here.
  const absorb = (state: PartitionState<S>) => {
    for (const [k, v] of state.cut().side) {
      side.delete(k);
      side.set(k, v);
    }
  };
  let events = 0;

  // A lane with nothing stored would leave the consumer below waiting for its first message for ever.
  const lane = bus.names.subjects.lane(def.lane);
  const laneLastSeq =
    lastSeq === 0
      ? 0
      : await jsm.streams
          .getMessage(stream, { last_by_subj: lane })
          .then((m) => m?.seq ?? 0)
          .catch(() => 0);
  if (laneLastSeq > 0) {
    const consumer = await bus.js.consumers.get(stream, {
      filter_subjects: lane,
      deliver_policy: DeliverPolicy.All,
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const partition = bus.names.subjects.parseEvent(m.subject)?.partition;
      const state = partition === undefined ? undefined : states.get(partition);
      if (state !== undefined) {
        let event: Event | undefined;
        try {
          event = Event.decode(m.data);
        } catch {
          event = undefined; // the live fold skips it too
        }
        if (event !== undefined) {
          try {
            state.apply(event, { seq: m.seq, time: Math.floor(m.info.timestampNanos / 1_000_000) });
          } catch (err) {
            opts.log.error({ err, partition, seq: m.seq }, "fold failed; event skipped, as live");
          }
          absorb(state); // nothing is published; only the final states and side keys are written
          events++;
        }
      }
      if (m.seq >= laneLastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  }

  const kv = await new Kvm(bus.js).create(opts.bucket ?? def.bucket, { history: 1 });
  const end = opts.now ?? Date.now();
  let written = 0;
  for (const [partition, state] of states) {
    state.fireDue(end);
    absorb(state);
    const writes: [string, Uint8Array | string | undefined][] = [];
    for (const [key, s] of state.entries()) writes.push([key, def.encode(s)]);
    written += writes.length;
    for (let i = 0; i < writes.length; i += WRITE_PARALLELISM) {
      await Promise.all(
        writes
          .slice(i, i + WRITE_PARALLELISM)
          .map(([k, v]) => (v === undefined ? kv.delete(k) : kv.put(k, v))),
      );
    }
    await kv.put(
      kitKeys.checkpoint(def.name, partition),
      encodeCheckpoint({ through: lastSeq, owner: "rebuild" }),
    );
  }
  const sideWrites = [...side];
  for (let i = 0; i < sideWrites.length; i += WRITE_PARALLELISM) {
    await Promise.all(
      sideWrites
        .slice(i, i + WRITE_PARALLELISM)
        .map(([k, v]) => (v === undefined ? kv.delete(k) : kv.put(k, v))),
    );
  }
  return { events, states: written, lastSeq };
}
