// What the deliverer's attempt records (ATTEMPTS) say about a run: how many attempts ended how,
// and the most frequent error, so a slow run shows whether callbacks failed and were retried.
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { decodeAttemptRecords } from "@herald/bus";

export interface AttemptOutcomes {
  byOutcome: Map<string, number>;
  /** The most frequent non-empty error text and how often it came. */
  topError: { text: string; count: number } | undefined;
}

/** Reads every record in the ATTEMPTS stream once (an ordered consumer), up to the last stored now. */
export async function attemptOutcomes(nc: NatsConnection, stream: string): Promise<AttemptOutcomes> {
  const byOutcome = new Map<string, number>();
  const errors = new Map<string, number>();
  const lastSeq = (await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq;
  if (lastSeq > 0) {
    const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      for (const record of decodeAttemptRecords(m.data) as { outcome?: string; error?: string }[]) {
        const outcome = record.outcome ?? "";
        byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
        // Numbers (ports, ids, ms) vary per record; the kind of error does not.
        const text = (record.error ?? "").replace(/\d+/g, "N").slice(0, 80);
        if (text !== "") errors.set(text, (errors.get(text) ?? 0) + 1);
      }
      if (m.seq >= lastSeq || m.info.pending === 0) break;
    }
    await messages.close();
  }
  const top = [...errors].sort((a, b) => b[1] - a[1])[0];
  return { byOutcome, topError: top === undefined ? undefined : { text: top[0], count: top[1] } };
}
