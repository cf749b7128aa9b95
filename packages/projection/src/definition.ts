import type { Event, EventLane } from "@herald/proto";
import type { Logger } from "@herald/runtime";

/** Where and when the event being applied was stored. */
export interface StoredAt {
  /** EVENTS stream sequence. */
  seq: number;
  /** When the stream stored it (ms since the epoch): the clock of the fold. */
  time: number;
}

/**
 * What a projection is: its fold, its keys and its lane; the kit does the rest (ownership,
 * ordered apply, batching, timers, rebuild). A state is one KV value per key; the fold changes
 * states only through the context, synchronously, with everything it needs in memory.
 */
export interface ProjectionDefinition<S> {
  /** Names its leases, checkpoints and metrics ("presence", "rooms"). */
  readonly name: string;
  /** The lane of EVENTS it folds. */
  readonly lane: EventLane;
  /** The KV bucket (name) that holds its states and the kit's keys. */
  readonly bucket: string;
  /**
   * The KV filter of one partition's state keys ("u.3.>"), or several for states of several kinds:
   * loaded whole when the partition is taken.
   */
  stateFilter(partition: number): string | readonly string[];
  /**
   * The KV filter of side keys the fold keeps in memory too (chatroom's memberships): read when
   * the partition is taken and handed to `loaded`. Without it, side keys are only written.
   */
  sideFilter?(partition: number): string;
  encode(state: S): Uint8Array;
  decode(key: string, data: Uint8Array): S;
  /** Folds one stored event. */
  apply(ctx: PartitionContext<S>, event: Event, stored: StoredAt): void;
  /** A timer set with ctx.setTimer came due; ctx.now() is the time it fired at. */
  fire?(ctx: PartitionContext<S>, key: string): void;
  /**
   * The settings of an app changed (ProjectionEngine.retime): set again the timers (and states)
   * that the app's settings timed, so a shorter time applies to what already waits.
   */
  retime?(ctx: PartitionContext<S>, appId: string): void;
  /**
   * The partition's states were loaded, before any event is applied: set timers, build indexes,
   * redo side writes a crashed owner may not have finished (changes after `through` may be unfinished).
   * `side` holds the live keys of `sideFilter` with their values (empty without one).
   */
  loaded?(ctx: PartitionContext<S>, through: number, side: ReadonlyMap<string, Uint8Array>): void;
}

/** One partition as its fold sees it: the states in memory and what a change causes. */
export interface PartitionContext<S> {
  readonly partition: number;
  /** The deployment's partition count. */
  readonly partitions: number;
  readonly log: Logger;
  /** The time of this step: the event's stored time, or the time a timer fired at. */
  now(): number;
  /**
   * This replica's clock now, not the fold's: only to pace what the fold asks of the stream (a
   * timer set at wallClock() + d fires about d later here), never to decide.
   */
  wallClock(): number;
  get(key: string): S | undefined;
  /** Every state of the partition, for the rare step that has no index. */
  entries(): IterableIterator<[string, S]>;
  /** Replaces a state: written (compare-and-set) with the batch, after its derived events. */
  set(key: string, state: S): void;
  /** Removes a state: deleted (compare-and-set on its revision) with the batch's states. */
  delete(key: string): void;
  /**
   * A side key (an index, a membership): put (a value) or deleted (undefined) after the batch's
   * states, in order. Not fenced by compare-and-set: keep them derivable from the states.
   */
  side(key: string, value: Uint8Array | string | undefined): void;
  /** A derived event, stored before the states of its batch; its id must be deterministic. */
  publish(event: Event): void;
  /**
   * Derived events that need a read first (a timer whose events depend on keys another projection
   * writes): `derive` runs when the batch is written, and its events are stored after the batch's
   * other derived events, before its states. Ids must be deterministic, and the events must be
   * harmless when `derive` runs again after a crash. A rebuild does not run it (nothing is published).
   */
  publishAsync(derive: () => Promise<readonly Event[]>): void;
  /**
   * The highest stream sequence of the batches already cut (the checkpoint, right after a load):
   * a change at a higher sequence is in the batch being gathered, whose states may be written
   * without its side keys if the owner crashes (see `loaded`).
   */
  cutThrough(): number;
  /** Sets (or with undefined, cancels) the one timer of a key. */
  setTimer(key: string, due: number | undefined): void;
}
