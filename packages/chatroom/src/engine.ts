import type { Logger } from "@herald/runtime";
import { retryAllButTerminal, startConsumer } from "@herald/bus";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { Bus, BusNames, ConsumerRunner, Delivery } from "@herald/bus";
import { createChatroomProcessor } from "./processor.js";
import type { ChatroomHooks, ChatroomProcessor } from "./processor.js";
import type { ChatroomTimers } from "./timers.js";

export interface ChatroomEngineOptions {
  bus: Bus;
  log: Logger;
  timers: ChatroomTimers;
  /** Events folded at once per consumer (events of one room are always folded in order here). */
  concurrency: number;
  /** How long a fold may take before the server redelivers its event (default 30 s). */
  ackWaitMs?: number;
  /** How often the sweeper looks for due timers (default: a quarter of the shortest timer, 50 ms-1 s). */
  sweepMs?: number;
  hooks?: ChatroomHooks;
}

export interface ChatroomEngine {
  readonly processor: ChatroomProcessor;
  readonly consumers: readonly ConsumerRunner[];
  /** Stops the sweeper and both consumers, waiting for in-flight folds (or until `signal` aborts). */
  stop(signal?: AbortSignal): Promise<void>;
}

/** The durable consumers of the chatroom service; replicas share them. */
export function chatroomDurables(): { rooms: string; users: string } {
  return { rooms: "chatroom-rooms", users: "chatroom-users" };
}

/** The EVENTS subjects the chatroom service reads: room events, and presence's derived user events. */
export function chatroomSubjects(names: BusNames): { rooms: string; users: string } {
  const prefix = names.subjects.events().slice(0, -1); // <root>.ev.
  return { rooms: `${prefix}*.room.>`, users: `${prefix}*.user.>` };
}

/**
 * Runs the chatroom service in this process: one shared durable consumer per subject family
 * (nats-server 2.9 takes one filter per consumer), and a timer sweeper that every replica runs
 * (deterministic event ids and CAS on the timer keys make it fire once).
 */
export function startChatroom(opts: ChatroomEngineOptions): ChatroomEngine {
  const { bus, log, timers } = opts;
  const subjects = chatroomSubjects(bus.names);
  const durables = chatroomDurables();
  const processor = createChatroomProcessor({
    bus,
    log,
    timers,
    earlierSettled: (seq) => earlierSettled(bus, durables.rooms, subjects.rooms, seq),
    maxWaiting: Math.max(1, Math.floor(opts.concurrency / 4)),
    ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }),
  });
  const consumers = [
    {
      durable: durables.rooms,
      filterSubject: subjects.rooms,
      handle: (d: Delivery) => processor.handleRoomEvent(d),
    },
    {
      durable: durables.users,
      filterSubject: subjects.users,
      handle: (d: Delivery) => processor.handleUserEvent(d),
    },
  ].map(({ durable, filterSubject, handle }) =>
    startConsumer({
      bus,
      log,
      concurrency: opts.concurrency,
      spec: {
        stream: bus.names.streams.events,
        durable,
        filterSubject,
        ...(opts.ackWaitMs === undefined ? {} : { ackWaitMs: opts.ackWaitMs }),
      },
      // Storage and publish failures cure themselves; only an event that does not decode is dead.
      handle: retryAllButTerminal(handle),
      retryDelayMs: (n) => Math.min(5_000, 100 * 2 ** Math.max(0, n - 1)),
    }),
  );

  const stopping = new AbortController();
  const shortest = Math.min(
    ...[timers.kickAfterMs, timers.abnormalDelayMs, timers.idleDestroyMs].filter((ms) => ms > 0),
  );
  const sweeping = timers.kickAfterMs > 0 || timers.idleDestroyMs > 0;
  const sweeper = sweeping
    ? runSweeper(processor, opts.sweepMs ?? Math.min(1_000, Math.max(50, shortest / 4)), stopping.signal, log)
    : Promise.resolve();

  return {
    processor,
    consumers,
    async stop(signal) {
      stopping.abort();
      await Promise.all([...consumers.map((c) => c.stop(signal)), sweeper]);
    },
  };
}

/** True when every message of the consumer's filter stored before `seq` is acked. */
async function earlierSettled(bus: Bus, durable: string, filter: string, seq: number): Promise<boolean> {
  const stream = bus.names.streams.events;
  const floor = (await (await bus.jsm()).consumers.info(stream, durable)).ack_floor.stream_seq;
  if (floor >= seq - 1) return true;
  // Other subjects interleave: settled when the first room event after the floor is this one.
  const consumer = await bus.js.consumers.get(stream, {
    filter_subjects: filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: floor + 1,
  });
  const next = await consumer.next({ expires: 1000 });
  return next === null || next.seq >= seq;
}

async function runSweeper(processor: ChatroomProcessor, everyMs: number, signal: AbortSignal, log: Logger) {
  while (!signal.aborted) {
    try {
      await processor.sweep();
    } catch (err) {
      log.warn({ err }, "chatroom timer sweep failed; trying again");
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, everyMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
