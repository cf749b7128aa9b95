import { Event, causeEventId, partitionKey } from "@herald/proto";
import { publishMany, readCurrent, storedCopies, traceHeaderValues } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { ensureError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import type { ProjectionDefinition } from "./definition.js";
import { PartitionState } from "./partition-state.js";
import type { Batch } from "./partition-state.js";

/** What a partition's runner asks of its lease. */
export interface LeaseView {
  /** False once the lease may have passed to another replica: from then on nothing is written. */
  valid(): boolean;
}

/** Counters a projection service keeps; every hook is optional. */
export interface ProjectionHooks {
  applied?(count: number): void;
  flushed?(batch: { events: number; writes: number; derived: number; ms: number }): void;
  /** A partition was (re)loaded: at takeover, or after a failure. */
  loaded?(partition: number, states: number, ms: number): void;
  /** A partition stopped on a failure and will be loaded again. */
  failed?(partition: number, reason: string): void;
  /**
   * A stored message was skipped: it is not a protobuf Event, or the fold threw on it (a bug: the
   * partition goes on rather than stopping on it forever; the error is logged with its sequence).
   */
  skipped?(reason: "undecodable" | "fold_failed"): void;
}

export interface PartitionRunnerOptions<S> {
  bus: Bus;
  kv: KV;
  def: ProjectionDefinition<S>;
  partition: number;
  instanceId: string;
  lease: LeaseView;
  log: Logger;
  hooks?: ProjectionHooks;
  /** Events applied per batch at most (default 1000). */
  maxBatch?: number;
  /** Messages the consumer holds ahead of the fold (default 1000). */
  prefetch?: number;
  /** This replica's clock, which timers fire by once caught up (default Date.now). */
  clock?: () => number;
}

/** The partition's owner gave it up: its lease may be another replica's now. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/**
 * Messages one batch's write keeps unanswered at most (publishMany's window). Without a bound a node.reset's batch sent
 * every derived event and state of a partition at once (100,000 requests over 16 partitions):
 * nats.js timed them out on the client while they waited to be written, the partitions failed
 * and loaded again, and the event loop was too busy to renew leases. A few hundred keep a local
 * nats-server as busy as thousands do.
 */
const WRITES_IN_FLIGHT = 256;

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;
const IDLE_TICK_MS = 250;

/**
 * Runs one owned partition: loads its states and checkpoint, folds its lane from the checkpoint in
 * stream order, and writes each batch (checkpoint as fence, derived events, states, side keys)
 * with no awaited round trip per event. Any failure reloads the partition from what is stored;
 * the lease going invalid stops it without another write.
 */
export class PartitionRunner<S> {
  private stopping = false;
  private abandon = false;
  private readonly done: Promise<void>;
  /** Resolves once the runner stopped, asked to or not (its lease ran out). */
  get finished(): Promise<void> {
    return this.done;
  }
  private wake: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  private caughtUp = false;
  private lastTime = 0;
  private lastSeq = 0;
  private traces: Traces = new Map();
  /** Apps whose settings changed, to retime at the next turn of the flush loop. */
  private readonly retiming = new Set<string>();
  /** Resolves once the partition has been loaded and consumes. */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(private readonly opts: PartitionRunnerOptions<S>) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.done = this.run();
  }

  get partition(): number {
    return this.opts.partition;
  }

  /** The settings of an app changed: its timers are set again at the next turn (see retime). */
  retime(appId: string): void {
    if (this.opts.def.retime === undefined) return;
    this.retiming.add(appId);
    this.wake?.();
  }

  /**
   * Stops: with `flush` the gathered batch is written first (a handover); without, nothing more
   * is written (the lease is lost). Resolves once the runner wrote its last byte.
   */
  async stop(flush: boolean): Promise<void> {
    this.stopping = true;
    if (!flush) this.abandon = true;
    void this.messages?.close().catch(() => undefined);
    this.wake?.();
    await this.done;
  }

  private async run(): Promise<void> {
    const { log, partition } = this.opts;
    for (let failures = 0; !this.stopping;) {
      try {
        await this.runOnce();
        failures = 0;
      } catch (thrown) {
        const err = ensureError(thrown);
        if (this.stopping) break;
        failures++;
        this.opts.hooks?.failed?.(partition, err.name);
        if (err instanceof LeaseLostError) break;
        const pauseMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
        log.warn({ err, partition, pauseMs }, "partition failed; loading it again");
        await this.pause(pauseMs);
      }
    }
    this.markReady();
  }

  /** Load, then fold and write until stopped or failed. */
  private async runOnce(): Promise<void> {
    const { bus, kv, def, partition, log } = this.opts;
    const started = performance.now();
    this.checkLease();
    const { checkpoint, revision } = await readCheckpoint(kv, def.name, partition);
    const state = new PartitionState(def, partition, bus.layout.partitions, log, this.opts.clock);
    const filters = def.stateFilter(partition);
    for (const filter of typeof filters === "string" ? [filters] : filters) {
      for await (const e of readCurrent(bus, def.bucket, filter)) state.load(e.key, e.value, e.revision);
    }
    const side = new Map<string, Uint8Array>();
    if (def.sideFilter !== undefined) {
      for await (const e of readCurrent(bus, def.bucket, def.sideFilter(partition))) side.set(e.key, e.value);
    }
    state.loaded(checkpoint.through, side);
    this.opts.hooks?.loaded?.(partition, state.size, performance.now() - started);
    log.info({ partition, through: checkpoint.through, states: state.size }, "partition loaded");

    const writer = new BatchWriter(this.opts, state, checkpoint.through, revision);
    // Writing the checkpoint at once fences the previous owner now, not only at the first batch.
    await writer.checkpoint();
    const consumer = await bus.js.consumers.get(bus.names.streams.events, {
      filter_subjects: bus.names.subjects.lane(def.lane, partition),
      ...(checkpoint.through === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: checkpoint.through + 1 }),
    });
    const messages = await consumer.consume({ max_messages: this.opts.prefetch ?? 1000 });
    this.messages = messages;
    if (this.stopping) void messages.close();
    // Anything gathered before the first event (redone side writes, timers long due) goes out first.
    this.caughtUp = false;
    this.lastSeq = checkpoint.through;
    this.traces = new Map();
    void this.noteCaughtUp(consumer);
    const flushing = this.flushLoop(state, writer).finally(
      () => void messages.close().catch(() => undefined),
    );
    const folding = this.foldLoop(messages, state, writer);
    this.markReady();
    const outcomes = await Promise.allSettled([folding, flushing]);
    for (const o of outcomes) if (o.status === "rejected") throw o.reason;
  }

  /**
   * An idle lane delivers nothing that would say so: ask the consumer once whether anything is
   * pending, so that timers of a partition without new events fire too.
   */
  private async noteCaughtUp(consumer: {
    info(cached?: boolean): Promise<{ num_pending: number; delivered: { stream_seq: number } }>;
  }) {
    try {
      const info = await consumer.info();
      if (info.num_pending === 0 && info.delivered.stream_seq <= this.lastSeq) this.caughtUp = true;
      this.wake?.();
    } catch {
      // Only a timer's promptness depends on it: the next event says it again.
    }
  }

  private async foldLoop(messages: ConsumerMessages, state: PartitionState<S>, writer: BatchWriter<S>) {
    const maxBatch = this.opts.maxBatch ?? 1000;
    try {
      for await (const m of messages) {
        if (this.stopping) break;
        writer.throwIfFailed();
        let event: Event;
        try {
          event = Event.decode(m.data);
        } catch {
          this.opts.hooks?.skipped?.("undecodable");
          state.passed(m.seq); // the checkpoint passes it, or the partition would look behind for ever
          continue;
        }
        this.lastTime = Math.floor(m.info.timestampNanos / 1_000_000);
        this.lastSeq = m.seq;
        try {
          // Derived events continue the trace of the event they come from (see publishInWaves).
          const trace = traceHeaderValues(m.headers);
          if (trace !== undefined) this.traces.set(event.id, trace);
          state.apply(event, { seq: m.seq, time: this.lastTime });
        } catch (err) {
          this.opts.hooks?.skipped?.("fold_failed");
          this.opts.log.error(
            { err, partition: this.opts.partition, seq: m.seq },
            "fold failed; event skipped",
          );
        }
        this.caughtUp = m.info.pending === 0;
        this.wake?.();
        // Past a full batch, the fold waits for the writer rather than running ahead of it.
        while (state.pending >= maxBatch && !this.stopping) {
          await writer.settled(state);
          writer.throwIfFailed();
        }
      }
    } finally {
      // The consumer ended (stopped, or closed on a failure): the flush loop writes what is left.
      writer.stopFolding();
      this.wake?.();
    }
  }

  private async flushLoop(state: PartitionState<S>, writer: BatchWriter<S>): Promise<void> {
    for (;;) {
      if (this.abandon) return;
      this.checkLease();
      for (const appId of this.retiming) this.opts.def.retime?.(state, appId);
      this.retiming.clear();
      // Timers fire only as far as every event stored before then has been folded.
      state.fireDue(this.caughtUp ? state.wallClock() : this.lastTime);
      if (state.pending > 0) {
        // The traces of the events folded into this batch, taken with it.
        const traces = this.traces;
        this.traces = new Map();
        await writer.flush(state.cut(), traces);
        continue;
      }
      if (writer.foldingStopped) {
        await writer.checkpoint();
        return;
      }
      if (writer.behind) {
        await writer.checkpoint();
        continue;
      }
      const next = state.timers.next();
      const waitMs =
        next === undefined ? IDLE_TICK_MS : Math.max(0, Math.min(IDLE_TICK_MS, next - state.wallClock()));
      await this.pause(waitMs);
    }
  }

  private checkLease(): void {
    if (!this.opts.lease.valid()) throw new LeaseLostError(`lease of partition ${this.opts.partition} lost`);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/**
 * Writes the batches of one load of a partition, one at a time: (1) the checkpoint of what is
 * already stored, with compare-and-set (the fence), (2) the derived events, in waves so that a
 * key's events stay in order even when a publish is retried, (3) the states with compare-and-set,
 * then the side keys. Only then does the next checkpoint cover the batch.
 */
class BatchWriter<S> {
  failed: Error | undefined;
  foldingStopped = false;
  private flushedThrough: number;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly opts: PartitionRunnerOptions<S>,
    private readonly state: PartitionState<S>,
    private checkpointed: number,
    private revision: number,
  ) {
    this.flushedThrough = checkpointed;
  }

  /** Stored batches the checkpoint does not cover yet. */
  get behind(): boolean {
    return this.flushedThrough > this.checkpointed;
  }

  throwIfFailed(): void {
    if (this.failed !== undefined) throw this.failed;
  }

  stopFolding(): void {
    this.foldingStopped = true;
  }

  /** Resolves when a batch was written (or writing failed). */
  settled(state: PartitionState<S>): Promise<void> {
    if (this.failed !== undefined || state.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async flush(batch: Batch, traces: Traces = new Map()): Promise<void> {
    const { bus, def, hooks } = this.opts;
    const started = performance.now();
    try {
      await this.checkpoint();
      const later = await Promise.all(batch.deferred.map((derive) => derive()));
      // Asked again before each wave: the lease may have run out while the checkpoint was written.
      await publishInWaves(bus, [...batch.events, ...later.flat()], () => this.checkLease(), traces);
      this.checkLease();
      // States: compare-and-set on the revision this owner read or wrote (0: must not exist).
      const kvSubject = (key: string) => `$KV.${def.bucket}.${key}`;
      const writes = batch.writes.filter((w) => w.data !== undefined || w.revision !== 0);
      const acks = await publishMany(
        bus,
        writes.map((w) => ({
          subject: kvSubject(w.key),
          data: w.data ?? EMPTY,
          expectedLastSubjectSeq: w.revision,
          kvDelete: w.data === undefined,
        })),
        { inFlight: WRITES_IN_FLIGHT },
      );
      writes.forEach((w, i) => this.state.written(w.key, acks[i]?.seq ?? 0));
      await publishMany(
        bus,
        [...batch.side].map(([key, value]) => ({
          subject: kvSubject(key),
          data: value === undefined ? EMPTY : typeof value === "string" ? encoder.encode(value) : value,
          kvDelete: value === undefined,
        })),
        { inFlight: WRITES_IN_FLIGHT },
      );
      this.flushedThrough = Math.max(this.flushedThrough, batch.toSeq);
      hooks?.applied?.(batch.applied);
      hooks?.flushed?.({
        events: batch.applied,
        writes: batch.writes.length,
        derived: batch.events.length,
        ms: performance.now() - started,
      });
    } catch (thrown) {
      this.failed = ensureError(thrown);
      throw this.failed;
    } finally {
      for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Writes the checkpoint of what is stored (compare-and-set: fails once another owner wrote it). */
  async checkpoint(): Promise<void> {
    const { kv, def, partition, instanceId } = this.opts;
    this.checkLease();
    const through = this.flushedThrough;
    this.revision = await writeCheckpoint(
      kv,
      def.name,
      partition,
      { through, owner: instanceId },
      this.revision,
    );
    this.checkpointed = through;
  }

  private checkLease(): void {
    if (!this.opts.lease.valid()) throw new LeaseLostError(`lease of partition ${this.opts.partition} lost`);
  }
}

/** The trace headers of the events of a batch that carried one, by event id. */
type Traces = Map<string, Record<string, string>>;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * Publishes derived events so that each key's events are stored in the order they were derived:
 * wave n holds the n-th event of every key, and starts only once wave n-1 is stored.
 */
async function publishInWaves(
  bus: Bus,
  events: readonly Event[],
  checkLease: () => void,
  traces: Traces,
): Promise<void> {
  if (events.length === 0) return;
  const waves: Event[][] = [];
  const seen = new Map<string, number>();
  for (const e of events) {
    const key = waveKey(e);
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    (waves[n] ??= []).push(e);
  }
  for (const wave of waves) {
    checkLease();
    const messages = wave.flatMap((e) => {
      const data = Event.encode(e).finish();
      // A derived event carries its cause's traceparent as it came (no span of its own), so its
      // callbacks are in the trace of the chat core's event that caused it.
      const trace = traces.get(causeEventId(e));
      return storedCopies(bus, e, e.id).map((c) => {
        const headers = trace === undefined ? c.headers : { ...c.headers, ...trace };
        return { subject: c.subject, data, msgId: c.msgId, ...(headers === undefined ? {} : { headers }) };
      });
    });
    await publishMany(bus, messages, { inFlight: WRITES_IN_FLIGHT });
  }
}

function waveKey(e: Event): string {
  return `${e.appId}\u0000${partitionKey(e)}`;
}
