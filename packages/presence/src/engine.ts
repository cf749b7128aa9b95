import type { Logger } from "@herald/runtime";
import { retryAllButTerminal, startConsumer } from "@herald/bus";
import type { Bus, ConsumerRunner, Delivery } from "@herald/bus";
import { createPresenceProcessor } from "./processor.js";
import type { PresenceHooks, PresenceProcessor } from "./processor.js";
import { presenceSubjects } from "./rebuild.js";

export interface PresenceEngineOptions {
  bus: Bus;
  log: Logger;
  /** Grace period for abnormal disconnects, in ms (0: off). */
  graceMs: number;
  /** Events folded at once per consumer (events of one user are always folded in order). */
  concurrency: number;
  /** How long a fold may take before the server redelivers its event (default 30 s). */
  ackWaitMs?: number;
  /** How often the grace sweeper looks for due grace periods (default: a quarter of graceMs, 50 ms-1 s). */
  sweepMs?: number;
  hooks?: PresenceHooks;
}

export interface PresenceEngine {
  readonly processor: PresenceProcessor;
  readonly consumers: readonly ConsumerRunner[];
  /** Stops the sweeper and both consumers, waiting for in-flight folds (or until `signal` aborts). */
  stop(signal?: AbortSignal): Promise<void>;
}

/** The durable consumers of the presence service; replicas share them. */
export function presenceDurables(): { connections: string; nodes: string } {
  return { connections: "presence-conn", nodes: "presence-node" };
}

/**
 * Runs presence in this process: one shared durable consumer per subject family (nats-server 2.9
 * takes one filter per consumer), and a grace sweeper that every replica runs (CAS makes it safe).
 */
export function startPresence(opts: PresenceEngineOptions): PresenceEngine {
  const { bus, log } = opts;
  const processor = createPresenceProcessor({
    bus,
    log,
    graceMs: opts.graceMs,
    ...(opts.hooks === undefined ? {} : { hooks: opts.hooks }),
  });
  const subjects = presenceSubjects(bus.names);
  const durables = presenceDurables();
  // Storage and publish failures cure themselves; only an event that does not decode is dead.
  const handle = retryAllButTerminal((d: Delivery) => processor.handle(d));
  const consumers = [
    { durable: durables.connections, filterSubject: subjects.connections },
    { durable: durables.nodes, filterSubject: subjects.nodes },
  ].map(({ durable, filterSubject }) =>
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
      handle,
      retryDelayMs: (n) => Math.min(5_000, 100 * 2 ** Math.max(0, n - 1)),
    }),
  );

  const stopping = new AbortController();
  const sweeper =
    opts.graceMs > 0
      ? runSweeper(
          () => sweepGraceOnce(bus, processor),
          opts.sweepMs ?? Math.min(1_000, Math.max(50, opts.graceMs / 4)),
          stopping.signal,
          log,
        )
      : Promise.resolve();

  return {
    processor,
    consumers,
    async stop(signal) {
      stopping.abort();
      await Promise.all([...consumers.map((c) => c.stop(signal)), sweeper]);
      await processor.close();
    },
  };
}

/**
 * When a backlog builds up, a reconnect sent in time may still wait in the stream; ending a
 * grace period then would make the very flap it exists to hide. The time of the oldest event
 * the connection consumer has not acknowledged bounds what the sweeper may end.
 */
async function foldedUntil(bus: Bus, durable: string): Promise<number> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.events;
  const info = await jsm.consumers.info(stream, durable);
  if (info.num_pending === 0 && info.num_ack_pending === 0) return Date.now();
  // The message right after the ack floor, whatever its subject, is no younger than the oldest
  // unfolded connection event: a safe bound. Without it, end nothing this round.
  const next = await jsm.streams.getMessage(stream, { seq: info.ack_floor.stream_seq + 1 }).catch(() => null);
  return next === null ? 0 : next.time.getTime();
}

/** One sweep of the grace periods, bounded by what the connection consumer has folded. */
export async function sweepGraceOnce(bus: Bus, processor: PresenceProcessor): Promise<number> {
  return processor.sweepGrace(await foldedUntil(bus, presenceDurables().connections));
}

async function runSweeper(sweep: () => Promise<number>, everyMs: number, signal: AbortSignal, log: Logger) {
  while (!signal.aborted) {
    try {
      await sweep();
    } catch (err) {
      log.warn({ err }, "grace sweep failed; trying again");
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
