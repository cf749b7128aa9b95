// Partitions: every event is stored in the partition of its key, so that one process at a time can
// own a key's state and apply its events in stream order.

import { ValidationError } from "@herald/runtime";

/** Partitions of a new deployment when HERALD_PARTITIONS is not set. */
export const DEFAULT_PARTITIONS = 16;
/** The most partitions a deployment may have (a partition costs a consumer per projection). */
export const MAX_PARTITIONS = 1024;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/**
 * The partition of a key of an app: FNV-1a (32 bit) of the UTF-8 bytes of `<app>` NUL `<key>`,
 * modulo the partition count. Stable across processes, versions and languages: queries, the
 * gateway and every projection compute the same partition for the same key.
 */
export function partitionOf(appId: string, key: string, partitions: number): number {
  let h = FNV_OFFSET;
  for (const byte of encoder.encode(appId)) h = Math.imul(h ^ byte, FNV_PRIME);
  h = Math.imul(h ^ 0, FNV_PRIME);
  for (const byte of encoder.encode(key)) h = Math.imul(h ^ byte, FNV_PRIME);
  return (h >>> 0) % partitions;
}

/** Checks a partition count: an integer 1-MAX_PARTITIONS. */
export function checkPartitions(partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new ValidationError(`partitions must be an integer 1-${MAX_PARTITIONS}, got ${partitions}`, {
      field: "partitions",
    });
  }
  return partitions;
}

/**
 * How EVENTS is laid out, learned from the stream when the topology is applied: the one place every
 * service reads the partition count from, so a gateway and a projection can never disagree.
 */
export class EventsLayout {
  #partitions: number | undefined;

  /** The partition count of EVENTS; throws until the topology was applied (or read). */
  get partitions(): number {
    if (this.#partitions === undefined) {
      throw new Error("the EVENTS layout is not known yet: apply the topology (startBus) first");
    }
    return this.#partitions;
  }

  get known(): boolean {
    return this.#partitions !== undefined;
  }

  /** Called by applyTopology with what the stream says. */
  learn(partitions: number): void {
    this.#partitions = checkPartitions(partitions);
  }
}
