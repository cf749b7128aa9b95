import type { Event } from "@herald/proto";
import type { Logger } from "@herald/runtime";
import type { PartitionContext, ProjectionDefinition, StoredAt } from "./definition.js";
import { TimerQueue } from "./timers.js";

/** What one batch of applied events and fired timers changed, encoded when the batch is cut. */
export interface Batch {
  /** The highest stream sequence applied in the batch (0 when it holds only timer changes). */
  toSeq: number;
  /** Events applied. */
  applied: number;
  /** Derived events, in the order they were derived. */
  events: Event[];
  /** States to write with compare-and-set on `revision` (0: the key must not exist yet); no data: delete. */
  writes: { key: string; data: Uint8Array | undefined; revision: number }[];
  /** Reads whose derived events are stored after `events` (see PartitionContext.publishAsync). */
  deferred: (() => Promise<readonly Event[]>)[];
  /** Side keys to put (a value) or delete (undefined), the last change of each key. */
  side: Map<string, Uint8Array | string | undefined>;
}

/**
 * One partition in memory: its states with their KV revisions, its timers, and the batch being
 * gathered. No I/O: the runner feeds it stored events and writes what it cuts; rebuild feeds it a
 * replay. Folds are synchronous, so a batch is cut only between two of them.
 */
export class PartitionState<S> implements PartitionContext<S> {
  readonly timers = new TimerQueue();
  private readonly states = new Map<string, S>();
  private readonly revisions = new Map<string, number>();
  private clock = 0;
  private dirty = new Set<string>();
  private events: Event[] = [];
  private sideWrites = new Map<string, Uint8Array | string | undefined>();
  private deferred: (() => Promise<readonly Event[]>)[] = [];
  private toSeq = 0;
  private cutSeq = 0;
  private applied = 0;

  constructor(
    private readonly def: ProjectionDefinition<S>,
    readonly partition: number,
    readonly partitions: number,
    readonly log: Logger,
    private readonly replicaClock: () => number = Date.now,
  ) {}

  now(): number {
    return this.clock;
  }

  wallClock(): number {
    return this.replicaClock();
  }

  get(key: string): S | undefined {
    return this.states.get(key);
  }

  entries(): IterableIterator<[string, S]> {
    return this.states.entries();
  }

  get size(): number {
    return this.states.size;
  }

  set(key: string, state: S): void {
    this.states.set(key, state);
    this.dirty.add(key);
  }

  delete(key: string): void {
    this.states.delete(key);
    this.dirty.add(key);
  }

  side(key: string, value: Uint8Array | string | undefined): void {
    // Re-inserted, so that the map's order is the order of each key's last change.
    this.sideWrites.delete(key);
    this.sideWrites.set(key, value);
  }

  publish(event: Event): void {
    this.events.push(event);
  }

  publishAsync(derive: () => Promise<readonly Event[]>): void {
    this.deferred.push(derive);
  }

  cutThrough(): number {
    return this.cutSeq;
  }

  setTimer(key: string, due: number | undefined): void {
    this.timers.set(key, due);
  }

  /** A state as read from KV when the partition is taken. */
  load(key: string, data: Uint8Array, revision: number): void {
    this.states.set(key, this.def.decode(key, data));
    this.revisions.set(key, revision);
  }

  /** Lets the fold set timers and redo unfinished side writes of the loaded states. */
  loaded(through: number, side: ReadonlyMap<string, Uint8Array> = new Map()): void {
    this.cutSeq = through;
    this.def.loaded?.(this, through, side);
  }

  /** Applies one stored event, after the timers due before it was stored. */
  apply(event: Event, stored: StoredAt): void {
    this.fireDue(stored.time);
    this.clock = stored.time;
    try {
      this.def.apply(this, event, stored);
    } finally {
      // Even when the fold throws (the event is skipped), the checkpoint must pass it.
      this.passed(stored.seq);
    }
  }

  /** A stored message that is behind the batch: applied, or skipped (it does not decode). */
  passed(seq: number): void {
    this.toSeq = Math.max(this.toSeq, seq);
    this.applied++;
  }

  /** Fires every timer due by `until`, each at its own due time. Resolves with how many fired. */
  fireDue(until: number): number {
    let fired = 0;
    for (let due = this.timers.next(); due !== undefined && due <= until; due = this.timers.next()) {
      const key = this.timers.popDue(until);
      if (key === undefined) break;
      this.clock = Math.max(this.clock, due);
      this.def.fire?.(this, key);
      fired++;
    }
    return fired;
  }

  /** Changes gathered since the last cut (or applied events with nothing to write). */
  get pending(): number {
    return this.applied + this.dirty.size + this.events.length + this.sideWrites.size + this.deferred.length;
  }

  /** Ends the batch: encodes its states, hands over its events and side writes, starts the next. */
  cut(): Batch {
    const batch: Batch = {
      toSeq: this.toSeq,
      applied: this.applied,
      events: this.events,
      writes: [...this.dirty].map((key) => {
        const state = this.states.get(key);
        return {
          key,
          data: state === undefined ? undefined : this.def.encode(state),
          revision: this.revisions.get(key) ?? 0,
        };
      }),
      deferred: this.deferred,
      side: this.sideWrites,
    };
    this.dirty = new Set();
    this.events = [];
    this.deferred = [];
    this.sideWrites = new Map();
    this.applied = 0;
    this.cutSeq = Math.max(this.cutSeq, this.toSeq);
    return batch;
  }

  /** The revision a state was written at, for its next compare-and-set (0: deleted). */
  written(key: string, revision: number): void {
    if (revision === 0) this.revisions.delete(key);
    else this.revisions.set(key, revision);
  }
}
