import { readCurrent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { KV } from "@nats-io/kv";

/**
 * ckpt.<projection>.<partition>: the stream sequence through which everything the partition's
 * events caused is stored (states, side keys, derived events). Written with compare-and-set by
 * the owner before every batch, so it is also the fence: an owner that was replaced fails it.
 */
export interface Checkpoint {
  through: number;
  /** The instance that wrote it. */
  owner: string;
}

export const kitKeys = {
  checkpoint: (name: string, partition: number): string => `ckpt.${name}.${partition}`,
  checkpoints: (name: string): string => `ckpt.${name}.*`,
  lease: (name: string, partition: number): string => `lease.${name}.${partition}`,
  leases: (name: string): string => `lease.${name}.*`,
  member: (name: string, instanceId: string): string => `member.${name}.${instanceId}`,
  members: (name: string): string => `member.${name}.*`,
  /** The number at the end of a lease or checkpoint key. */
  partitionOf: (key: string): number => Number(key.slice(key.lastIndexOf(".") + 1)),
};

export function encodeCheckpoint(c: Checkpoint): string {
  return JSON.stringify(c);
}

export function decodeCheckpoint(text: string): Checkpoint {
  const parsed = JSON.parse(text) as Partial<Checkpoint>;
  return { through: Number(parsed.through ?? 0), owner: String(parsed.owner ?? "") };
}

/** The checkpoint with its revision (0: never written). */
export async function readCheckpoint(
  kv: KV,
  name: string,
  partition: number,
): Promise<{ checkpoint: Checkpoint; revision: number }> {
  const entry = await kv.get(kitKeys.checkpoint(name, partition));
  if (entry === null || entry.operation !== "PUT") {
    return { checkpoint: { through: 0, owner: "" }, revision: entry?.revision ?? 0 };
  }
  return { checkpoint: decodeCheckpoint(entry.string()), revision: entry.revision };
}

/** Every partition's checkpoint of a projection (partition -> through). */
export async function readCheckpoints(bus: Bus, bucket: string, name: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for await (const e of readCurrent(bus, bucket, kitKeys.checkpoints(name))) {
    out.set(kitKeys.partitionOf(e.key), decodeCheckpoint(new TextDecoder().decode(e.value)).through);
  }
  return out;
}

/** Writes a checkpoint with compare-and-set; resolves with the new revision. */
export async function writeCheckpoint(
  kv: KV,
  name: string,
  partition: number,
  checkpoint: Checkpoint,
  revision: number,
): Promise<number> {
  const key = kitKeys.checkpoint(name, partition);
  const data = encodeCheckpoint(checkpoint);
  return revision === 0 ? kv.create(key, data) : kv.update(key, data, revision);
}
