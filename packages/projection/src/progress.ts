import type { Bus } from "@herald/bus";
import { readCheckpoints } from "./checkpoint.js";

/** What progress needs to know of a projection. */
export interface ProjectionAddress {
  name: string;
  /** The lane it reads; without one, every lane of its partitions (the deliverer's router). */
  lane?: string;
  bucket: string;
}

/**
 * The partitions whose checkpoint is behind the last event stored in their lane: empty once
 * everything stored so far is folded and written. For tests, benchmarks and operators; a
 * request per partition, so not for a hot path.
 */
export async function partitionsBehind(bus: Bus, projection: ProjectionAddress): Promise<number[]> {
  const jsm = await bus.jsm();
  const checkpoints = await readCheckpoints(bus, projection.bucket, projection.name);
  const behind: number[] = [];
  await Promise.all(
    Array.from({ length: bus.layout.partitions }, async (_, p) => {
      const last = await jsm.streams
        .getMessage(bus.names.streams.events, {
          last_by_subj:
            projection.lane === undefined
              ? bus.names.subjects.partition(p)
              : bus.names.subjects.lane(projection.lane, p),
        })
        .then((m) => m?.seq ?? 0)
        .catch(() => 0);
      if (last > (checkpoints.get(p) ?? 0)) behind.push(p);
    }),
  );
  return behind.sort((a, b) => a - b);
}
