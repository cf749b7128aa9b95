import { randomBytes } from "node:crypto";
import { isConsumerNotFound } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { LeaseView } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { PULL_EXPIRES_MS, PartitionLoop } from "./partition-loop.js";

export interface JobPartitionOptions {
  bus: Bus;
  /** The DELIVERY bucket: the name of each partition's consumer is kept there. */
  kv: Awaited<ReturnType<Bus["kv"]>>;
  partition: number;
  lease: LeaseView;
  log: Logger;
  /** Jobs held at once (the consumer's max_ack_pending): past it, the partition takes no more. */
  maxHeld: number;
  /** Before each (re)load: forget what was held of the partition, once none of it is being sent. */
  reset(partition: number): Promise<void>;
  /** A job's message arrived (the backlog first, in stream order, then new jobs). */
  message(partition: number, m: JsMsg): void;
  /** The whole backlog is in: the partition's jobs may be sent. */
  loaded(partition: number): void;
}

/** Prefix of the one consumer of a partition's jobs; the rest of its name is its owner's claim. */
export const JOB_CONSUMER_PREFIX = "jobs";
/** The DELIVERY key holding the name of a partition's job consumer. */
export const jobConsumerKey = (partition: number): string => `consumer.jobs.${partition}`;
// Jobs stay unacknowledged while they wait (their key, a retry, a pause): the server must not hand
// them out again meanwhile. A new owner never relies on it: it reads the backlog anew.
const HOLD_ACK_WAIT_MS = 6 * 60 * 60 * 1000;
const PULL_BATCH = 1000;
const LOAD_CHECK_MS = 250;

/**
 * The jobs of one partition, for its owner. On taking it (and after any failure) the owner deletes
 * whatever consumer read the partition before (a previous owner's: on a work-queue stream only one
 * consumer may read a subject, so this also fences that owner out) and creates its own from the
 * first job still stored: the whole backlog, fresh jobs and retries, arrives in stream order and is
 * held before anything is sent, so each key's jobs are known in order (a retry's copy is stored after
 * later jobs of its key). Then new jobs follow as they are routed. Jobs are acknowledged one by one
 * as they are settled; a job the owner dies holding is simply read again by the next owner.
 */
export class JobPartition extends PartitionLoop {
  /**
   * This claim's consumer: one name for every round, so a create that timed out but was carried
   * out later (a cluster electing leaders) is still deleted by the next round.
   */
  private readonly name: string;
  /** Every consumer name met for the partition: each round deletes them all before creating. */
  private readonly readers = new Set<string>();

  constructor(private readonly opts: JobPartitionOptions) {
    super({ ...opts, failed: "job partition failed; loading it again" });
    this.name = `${JOB_CONSUMER_PREFIX}-${opts.partition}-${randomBytes(4).toString("hex")}`;
  }

  protected async round(): Promise<void> {
    await this.opts.reset(this.opts.partition);
    const { bus, kv, partition, log } = this.opts;
    const jsm = await bus.jsm();
    const stream = bus.names.streams.deliveries;
    const filter = bus.names.subjects.jobs(partition);
    // Every consumer that may read the partition: this claim's own, the one named in the bucket
    // (the previous owner's), and any other a listing shows (one made before its name was kept).
    // A listing can leave out consumers whose leader is being elected, so the names are what count.
    const { readers, name } = this;
    readers.add(name);
    const recorded = await kv.get(jobConsumerKey(partition));
    if (recorded !== null && recorded.operation === "PUT") readers.add(recorded.string());
    try {
      for await (const c of jsm.consumers.list(stream)) {
        if (c.config.filter_subject === filter) readers.add(c.name);
      }
    } catch (err) {
      log.warn({ err }, "could not list the job consumers; deleting the one on record");
    }
    for (const reader of readers) {
      await jsm.consumers.delete(stream, reader).catch((err: unknown) => {
        if (!isConsumerNotFound(err)) throw err;
      });
    }
    if (!this.opts.lease.valid() || this.stopping) return;
    // On record before it exists: an owner that dies right after making it leaves its name behind.
    await kv.put(jobConsumerKey(partition), name);
    const created = await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: filter,
      ack_wait: nanos(HOLD_ACK_WAIT_MS),
      max_deliver: -1,
      max_ack_pending: this.opts.maxHeld,
    });
    const backlog = created.num_pending;
    const consumer = await bus.js.consumers.get(stream, name);
    const messages = await consumer.consume({ max_messages: PULL_BATCH, expires: PULL_EXPIRES_MS });
    this.messages = messages;
    if (this.stopping) void messages.close();

    let received = 0;
    let loaded = false;
    const load = (why: string) => {
      if (loaded) return;
      loaded = true;
      clearInterval(checker);
      log.info({ partition, backlog, received, why }, "job partition loaded");
      this.opts.loaded(partition);
    };
    // The backlog may shrink while it is read (jobs acknowledged by an owner that had not yet
    // noticed), so the consumer is also asked whether anything is left to deliver.
    const checker = setInterval(() => {
      void consumer
        .info()
        .then((info) => {
          if (info.num_pending === 0) load("nothing pending");
          else if (info.num_ack_pending >= this.opts.maxHeld) {
            log.warn(
              { partition, held: info.num_ack_pending },
              "job partition holds its most; not all of the backlog is read",
            );
            load("holding its most");
          }
        })
        .catch(() => undefined);
    }, LOAD_CHECK_MS);
    if (backlog === 0) load("empty");
    this.watch(messages);
    try {
      for await (const m of messages) {
        if (this.stopping) break;
        this.opts.message(partition, m);
        received++;
        if (!loaded && received >= backlog) load("backlog read");
      }
    } finally {
      clearInterval(checker);
    }
    const closedWith = await messages.closed();
    if (closedWith instanceof Error) throw closedWith;
    if (!this.stopping && this.opts.lease.valid()) throw new Error("job consumer ended");
  }
}
