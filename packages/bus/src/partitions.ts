// Partitions: every event is stored in the partition of its key, so that one process at a time can
// own a key's state and apply its events in stream order.

import { ValidationError } from "@herald/runtime";

/** Partitions of a new deployment when HERALD_PARTITIONS is not set. */
export const DEFAULT_PARTITIONS = 16;
/** The most partitions a deployment may have (a partition costs a consumer per projection). */
export const MAX_PARTITIONS = 1024;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The partition of a key of an app: FNV-1a (32 bit) of the UTF-8 bytes of `<app>` NUL `<key>`,
 * modulo the partition count. Stable across processes, versions and languages: queries, the
 * gateway and every projection compute the same partition for the same key.
 */
export function partitionOf(appId: string, key: string, partitions: number): number {
  let h = fnvUtf8(FNV_OFFSET, appId);
  h = Math.imul(h, FNV_PRIME); // the NUL byte: h ^ 0 === h
  return (fnvUtf8(h, key) >>> 0) % partitions;
}

/** FNV-1a over the UTF-8 bytes of `s` (as TextEncoder writes them), without allocating them: a hot path. */
function fnvUtf8(hash: number, s: string): number {
  let h = hash;
  const byte = (b: number) => (h = Math.imul(h ^ b, FNV_PRIME));
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      byte(c);
      continue;
    }
    if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        byte(0xf0 | (cp >> 18));
        byte(0x80 | ((cp >> 12) & 0x3f));
        byte(0x80 | ((cp >> 6) & 0x3f));
        byte(0x80 | (cp & 0x3f));
        continue;
      }
      c = 0xfffd; // a lone surrogate: TextEncoder writes U+FFFD
    }
    byte(0xe0 | (c >> 12));
    byte(0x80 | ((c >> 6) & 0x3f));
    byte(0x80 | (c & 0x3f));
  }
  return h;
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
