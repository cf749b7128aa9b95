import {
  COPY_HEADER,
  deliveryIdOf,
  jobMessage,
  messageTrace,
  publishMany,
  routedJobMsgId,
} from "@herald/bus";
import { SpanKind, endSpan, startSpan } from "@herald/runtime";
import type { Bus, Job, OutgoingMessage } from "@herald/bus";
import type { ConfigView } from "@herald/config";
import { readCheckpoint, writeCheckpoint } from "@herald/projection";
import type { LeaseView } from "@herald/projection";
import { Event, deliveryKey } from "@herald/proto";
import type { Logger } from "@herald/runtime";
import { DeliverPolicy } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import type { DelivererMetrics } from "./metrics.js";
import { PULL_EXPIRES_MS, PartitionLoop } from "./partition-loop.js";
import { routeEvent } from "./routes.js";

/** Names the router's checkpoints (ckpt.router.<p>) in the DELIVERY bucket. */
export const ROUTER_NAME = "router";
/** The durable router consumer of the layout before partitions; its ack floor seeds the checkpoints. */
export const LEGACY_ROUTER_DURABLE = "deliverer-router";

const MAX_BATCH = 1000;
const CONFIG_WAIT_MS = 2_000;
const IDLE_FLUSH_MS = 20;
/** With nothing arriving for this long, the router checks that its consumer is not stuck. */
const STALL_CHECK_MS = 10_000;
const IDLE = Symbol("idle");

function idle(ms: number): Promise<typeof IDLE> {
  return new Promise((resolve) => setTimeout(() => resolve(IDLE), ms));
}

export interface RouterOptions {
  bus: Bus;
  kv: Awaited<ReturnType<Bus["kv"]>>;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  instanceId: string;
  partition: number;
  lease: LeaseView;
}

/**
 * Routes one partition of EVENTS: reads every lane of it in stream order from the checkpoint
 * ckpt.router.<p>, turns each event into one job per endpoint that takes it, and stores a batch of
 * jobs pipelined over the one connection (so DELIVERIES holds a key's jobs in event order), then
 * moves the checkpoint with compare-and-set, which also fences an owner that was replaced. A job's
 * Nats-Msg-Id is `<appId>:<eventId>:<endpointId>`, so a batch routed again after a failure or a
 * takeover makes each job once. A node.reset's per-partition copies are skipped: an event is routed
 * once, from its original. Any failure reads the partition again from the checkpoint.
 */
export class PartitionRouter extends PartitionLoop {
  constructor(private readonly opts: RouterOptions) {
    super({ ...opts, failed: "routing failed; reading again" });
  }

  protected async round(): Promise<void> {
    const { bus, kv, partition } = this.opts;
    const read = await readCheckpoint(kv, ROUTER_NAME, partition);
    let through = read.checkpoint.through;
    // Writing the checkpoint at once fences the previous owner now, not only at its next batch.
    let revision = await this.checkpoint(through, read.revision);
    const consumer = await bus.js.consumers.get(bus.names.streams.events, {
      filter_subjects: bus.names.subjects.partition(partition),
      ...(through === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: through + 1 }),
    });
    const messages = await consumer.consume({ max_messages: MAX_BATCH, expires: PULL_EXPIRES_MS });
    this.messages = messages;
    if (this.stopping) void messages.close();
    this.watch(messages);
    let batch: JsMsg[] = [];
    const iterator = messages[Symbol.asyncIterator]();
    let next = iterator.next();
    // Resolves IDLE_FLUSH_MS after the batch's first event: a batch waits that long for more at
    // most, as the pending counts of nats-server 2.9 can run ahead of what it will deliver.
    let deadline: Promise<typeof IDLE> | undefined;
    let stall: Promise<typeof IDLE> | undefined;
    let lastArrival = performance.now();
    try {
      while (!this.stopping) {
        const timer =
          batch.length > 0 ? (deadline ??= idle(IDLE_FLUSH_MS)) : (stall ??= idle(STALL_CHECK_MS));
        const r = await Promise.race([next, timer]);
        if (r === IDLE && batch.length === 0) {
          stall = undefined;
          if (performance.now() - lastArrival < STALL_CHECK_MS) continue;
          // Nothing came for a while: if the stream holds events past the checkpoint, the consumer
          // is stuck (a stream leader died under it in a cluster), so the round ends and reads again.
          if (await this.behind(through)) {
            this.opts.log.warn("router consumer stalled behind stored events; reading again");
            break;
          }
          continue;
        }
        if (r !== IDLE) {
          if (r.done === true) break;
          lastArrival = performance.now();
          next = iterator.next();
          batch.push(r.value);
          // Pending 0: nothing more is stored now, so the batch goes without waiting for more.
          if (batch.length < MAX_BATCH && r.value.info.pending > 0) continue;
        }
        // An app written before these events were stored must be routed with them.
        if (!(await this.opts.view.caughtUp(CONFIG_WAIT_MS))) {
          this.opts.log.warn("config view behind CONFIG; routing with what it holds");
        }
        const jobs = this.route(batch);
        through = batch[batch.length - 1]?.seq ?? through;
        batch = [];
        deadline = undefined;
        if (!this.opts.lease.valid()) return;
        await publishMany(bus, jobs);
        this.opts.metrics.routed.inc(jobs.length);
        revision = await this.checkpoint(through, revision);
      }
    } finally {
      void messages.close().catch(() => undefined);
    }
  }

  /** Whether EVENTS holds an event of this partition past `through` (false when it cannot say). */
  private async behind(through: number): Promise<boolean> {
    const { bus, partition } = this.opts;
    try {
      const jsm = await bus.jsm();
      const last = await jsm.streams.getMessage(bus.names.streams.events, {
        last_by_subj: bus.names.subjects.partition(partition),
      });
      return (last?.seq ?? 0) > through;
    } catch {
      return false;
    }
  }

  private checkpoint(through: number, revision: number): Promise<number> {
    const { kv, partition, instanceId } = this.opts;
    return writeCheckpoint(kv, ROUTER_NAME, partition, { through, owner: instanceId }, revision);
  }

  /** The jobs of a batch of events, in event order. */
  private route(batch: readonly JsMsg[]): OutgoingMessage[] {
    const { bus, view, log } = this.opts;
    const out: OutgoingMessage[] = [];
    for (const m of batch) {
      if (m.headers?.has(COPY_HEADER) === true) continue;
      const address = bus.names.subjects.parseEvent(m.subject);
      if (address === undefined) continue;
      const { appId, type } = address;
      const app = view.app(appId);
      if (app === undefined) continue;
      let event: Event;
      let targets;
      try {
        targets = routeEvent(app, type, m.data);
        if (targets.length === 0) continue;
        event = Event.decode(m.data);
      } catch (err) {
        // Not a job for anyone: the gateway stores only what decodes, so this was written by hand.
        log.error({ err, subject: m.subject, seq: m.seq }, "event does not decode; not routed");
        continue;
      }
      const key = deliveryKey(event);
      // The bus hop EVENTS → DELIVERIES: a span of the event's trace, which each of its jobs continues.
      const { span, ctx: trace } = startSpan(`route ${type}`, messageTrace(m.headers), {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "herald.event_id": event.id,
          "herald.jobs": targets.length,
        },
      });
      endSpan(span);
      for (const endpoint of targets) {
        const job: Job = {
          appId,
          endpointId: endpoint.id,
          // Not the Nats-Msg-Id: the gateway scopes that per app, derived events carry their own.
          deliveryId: deliveryIdOf(event.id, endpoint.id),
          eventId: event.id,
          eventType: type,
          attemptsMade: 0,
          notBefore: 0,
          trigger: "event",
          key,
          order: m.seq,
          event: m.data,
          trace,
        };
        out.push(jobMessage(bus, job, routedJobMsgId(job)));
      }
    }
    return out;
  }
}
