// How far a projection has got: its checkpoints against what was stored, and who owns its partitions.
import { readCurrent, type Bus } from "@herald/bus";
import { decodeCheckpoint, kitKeys, type ProjectionAddress } from "@herald/projection";
import type { LastStored } from "./jetstream-floor.js";

const WAIT_MS = Number(process.env.BENCH_WAIT_MS ?? 600_000);

/**
 * Resolves once every partition's checkpoint covers the last event stored in its lane (`last`),
 * watching the ckpt keys (one message per written batch) rather than asking per partition.
 */
export async function checkpointsCover(
  bus: Bus,
  projection: ProjectionAddress,
  last: LastStored,
): Promise<void> {
  const behind = new Map<number, number>();
  for (const [key, seq] of last) {
    const [lane, partition] = key.split(".");
    if (lane === projection.lane) behind.set(Number(partition), seq);
  }
  if (behind.size === 0) return;
  const kv = await bus.kv(projection.bucket);
  const deadline = Date.now() + WAIT_MS;
  // A watch can end on its own (its consumer reset); a new one starts from the current values.
  while (Date.now() < deadline) {
    const watch = await kv.watch({ key: kitKeys.checkpoints(projection.name) });
    const timer = setTimeout(() => watch.stop(), deadline - Date.now());
    try {
      for await (const e of watch) {
        if (e.operation !== "PUT") continue;
        const p = kitKeys.partitionOf(e.key);
        if (decodeCheckpoint(e.string()).through >= (behind.get(p) ?? Infinity)) behind.delete(p);
        if (behind.size === 0) return;
      }
    } finally {
      clearTimeout(timer);
      watch.stop();
    }
  }
  throw new Error(
    `projection ${projection.name}: after ${WAIT_MS} ms the checkpoints of partition(s) ` +
      `${[...behind.keys()].sort((a, b) => a - b).join(", ")} still miss events stored in lane ${projection.lane} ` +
      "(is the service running on the projection kit under these names?)",
  );
}

/** Resolves once `replicas` live owners hold every partition in fair shares (each within one of the others). */
export async function ownersSettled(
  bus: Bus,
  projection: ProjectionAddress,
  replicas: number,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const counts = new Map<string, number>();
    let leased = 0;
    for await (const e of readCurrent(bus, projection.bucket, kitKeys.leases(projection.name))) {
      const owner = (JSON.parse(new TextDecoder().decode(e.value)) as { owner?: string }).owner ?? "";
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
      leased++;
    }
    const shares = [...counts.values()];
    if (
      leased === bus.layout.partitions &&
      counts.size === replicas &&
      Math.max(...shares) - Math.min(...shares) <= 1
    )
      return;
    if (Date.now() > deadline) {
      throw new Error(
        `projection ${projection.name}: partitions never settled on ${replicas} owner(s): ${JSON.stringify([...counts])}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
