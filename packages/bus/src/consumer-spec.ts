import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { ConsumerConfig, ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { Bus } from "./connection.js";
import { isApiError } from "./topology.js";

/** A durable pull consumer, declared by the service that reads it. */
export interface ConsumerSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** How long the server waits for an outcome before redelivering (default 30 s). */
  ackWaitMs?: number;
  /** Attempts before a message is dead-lettered; enforced by the consume loop (default: unlimited). */
  maxDeliver?: number;
  /** Unacknowledged messages the server lets out at once, across all instances (default 1000). */
  maxAckPending?: number;
  /** Where a new consumer starts; ignored once it exists (default "all"). */
  deliverPolicy?: "all" | "new";
}

const CONSUMER_NOT_FOUND = 10014;

/** The JetStream API said the consumer does not exist. */
export function isConsumerNotFound(err: unknown): boolean {
  return isApiError(err, CONSUMER_NOT_FOUND);
}
const DEFAULT_ACK_WAIT_MS = 30_000;
const DEFAULT_MAX_ACK_PENDING = 1000;

/** The server-side config for a spec. */
export function consumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    filter_subject: spec.filterSubject,
    deliver_policy: spec.deliverPolicy === "new" ? DeliverPolicy.New : DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    // Unlimited on the server: the consume loop counts attempts itself, so a message whose
    // dead-lettering failed is redelivered instead of being stranded by the server's max_deliver.
    max_deliver: -1,
    max_ack_pending: spec.maxAckPending ?? DEFAULT_MAX_ACK_PENDING,
  };
}

/** Creates the consumer, or updates it when its declared settings drifted; idempotent and race-safe. */
export async function ensureConsumer(bus: Bus, spec: ConsumerSpec): Promise<void> {
  const jsm = await bus.jsm();
  const declared = consumerConfig(spec);
  // Two tries: another instance may create the consumer between our info and our add.
  for (let attempt = 1; ; attempt++) {
    const live = await consumerInfo(jsm, spec);
    if (live === undefined) {
      try {
        await jsm.consumers.add(spec.stream, declared);
        bus.log.info({ stream: spec.stream, durable: spec.durable }, "consumer created");
        return;
      } catch (err) {
        if (attempt < 2) continue;
        throw err;
      }
    }
    const drift = consumerDrift(live.config, declared);
    if (drift.length === 0) return;
    await jsm.consumers.update(spec.stream, spec.durable, {
      ack_wait: declared.ack_wait,
      max_deliver: declared.max_deliver,
      max_ack_pending: declared.max_ack_pending,
      ...(drift.includes("filter_subject") ? { filter_subject: declared.filter_subject } : {}),
    });
    bus.log.info({ stream: spec.stream, durable: spec.durable, drift }, "consumer updated");
    return;
  }
}

function consumerDrift(live: ConsumerConfig, declared: Partial<ConsumerConfig>): string[] {
  const fields = ["filter_subject", "ack_wait", "max_deliver", "max_ack_pending"] as const;
  return fields.filter((f) => live[f] !== declared[f]);
}

async function consumerInfo(jsm: JetStreamManager, spec: ConsumerSpec): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(spec.stream, spec.durable);
  } catch (err) {
    if (isConsumerNotFound(err)) return undefined;
    throw err;
  }
}
