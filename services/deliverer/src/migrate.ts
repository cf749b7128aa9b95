// From the layout before partitions: one durable router consumer on EVENTS, and two durable
// consumers per endpoint on DELIVERIES (herald.dl.<app>.<endpoint>[.retry]).
import { isConsumerNotFound, jobMessage, publishMany, readJob, startConsumer } from "@herald/bus";
import type { Bus, ConsumerRunner } from "@herald/bus";
import { kitKeys, writeCheckpoint } from "@herald/projection";
import { Event, deliveryKey } from "@herald/proto";
import type { Logger } from "@herald/runtime";
import { LEGACY_ROUTER_DURABLE, ROUTER_NAME } from "./router.js";

const LEGACY_DRAIN_DURABLE = "legacy-jobs";
const DRAIN_CHECK_MS = 1_000;

/**
 * Seeds the router's checkpoints from the old router consumer's acknowledged floor (everything
 * below it was routed; what is above is routed again, and the jobs' Nats-Msg-Ids or the receivers'
 * delivery ids absorb the repeats), then deletes that consumer. Partitions that already have a
 * checkpoint keep it. Safe to run from several deliverers at once.
 */
export async function migrateLegacyRouter(
  bus: Bus,
  kv: Awaited<ReturnType<Bus["kv"]>>,
  log: Logger,
): Promise<void> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.events;
  let floor: number;
  try {
    floor = (await jsm.consumers.info(stream, LEGACY_ROUTER_DURABLE)).ack_floor.stream_seq;
  } catch (err) {
    if (isConsumerNotFound(err)) return; // nothing to move
    throw err;
  }
  // A partition left without a checkpoint would be routed from the stream's first event, all of its
  // history sent again: so a failure other than another deliverer's checkpoint being there first
  // stops the start, and the old consumer stays for the next try.
  for (let p = 0; p < bus.layout.partitions; p++) {
    const key = kitKeys.checkpoint(ROUTER_NAME, p);
    if ((await kv.get(key)) !== null) continue;
    try {
      await writeCheckpoint(kv, ROUTER_NAME, p, { through: floor, owner: "migrated" }, 0);
    } catch (err) {
      if ((await kv.get(key)) === null) throw err;
    }
  }
  await jsm.consumers.delete(stream, LEGACY_ROUTER_DURABLE).catch(() => false);
  log.info({ floor }, "router moved from the consumer before partitions to per-partition checkpoints");
}

/**
 * Moves jobs stored in the layout before partitions into the partitioned one: deletes the old
 * per-endpoint consumers, then reads herald.dl.> with one durable consumer and stores each job
 * again under herald.job.<partition>... with its ordering key (attempts and retry time kept; order
 * unknown, so they go before any newer job of their key). Once nothing is left, the consumer is
 * deleted. Runs in every deliverer; they share the one consumer.
 */
export async function startLegacyDrain(bus: Bus, log: Logger): Promise<{ stop(): Promise<void> }> {
  const jsm = await bus.jsm();
  const stream = bus.names.streams.deliveries;
  const legacy = bus.names.subjects.legacyJobs();
  const legacyRoot = legacy.slice(0, -1);
  // Listed in full before any is deleted: the server lists by offset, a page at a time, so deleting
  // while listing would skip as many as were deleted (a platform has thousands), and one left over
  // keeps the drain consumer from being created on the work-queue stream.
  const old: string[] = [];
  for await (const c of jsm.consumers.list(stream)) {
    if (c.name === LEGACY_DRAIN_DURABLE || !(c.config.filter_subject ?? "").startsWith(legacyRoot)) continue;
    old.push(c.name);
  }
  for (const name of old) await jsm.consumers.delete(stream, name).catch(() => false);
  const consumers = old.length;
  const info = await jsm.streams.info(stream, { subjects_filter: legacy });
  const waiting = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (waiting === 0) {
    await jsm.consumers.delete(stream, LEGACY_DRAIN_DURABLE).catch(() => false);
    if (consumers > 0)
      log.info({ consumers }, "per-endpoint consumers of the layout before partitions deleted");
    return { stop: () => Promise.resolve() };
  }
  log.info({ consumers, waiting }, "moving jobs of the layout before partitions");
  const runner: ConsumerRunner = startConsumer({
    bus,
    log: log.child({ component: "legacy-drain" }),
    concurrency: 64,
    spec: { stream, durable: LEGACY_DRAIN_DURABLE, filterSubject: legacy, maxAckPending: 1_000 },
    handle: async (d) => {
      const job = readJob(d);
      if (job === undefined) {
        // Acknowledged, so gone from the work queue: say so, as it may have been someone's callback.
        log.error(
          { subject: d.subject, seq: d.seq, headers: d.headers },
          "message of the layout before partitions is not a job; dropped",
        );
        return;
      }
      let key = "";
      try {
        key = deliveryKey(Event.decode(job.event));
      } catch {
        // It will be dead when sent: the key does not matter.
      }
      await publishMany(bus, [jobMessage(bus, { ...job, key }, `legacy:${d.seq}`)]);
    },
  });
  const check = setInterval(() => {
    void jsm.consumers
      .info(stream, LEGACY_DRAIN_DURABLE)
      .then(async (c) => {
        if (c.num_pending > 0 || c.num_ack_pending > 0) return;
        clearInterval(check);
        await runner.stop();
        await jsm.consumers.delete(stream, LEGACY_DRAIN_DURABLE).catch(() => false);
        log.info("jobs of the layout before partitions all moved");
      })
      .catch(() => undefined);
  }, DRAIN_CHECK_MS);
  return {
    async stop() {
      clearInterval(check);
      await runner.stop();
    },
  };
}
