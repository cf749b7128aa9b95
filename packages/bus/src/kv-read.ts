import { DeliverPolicy } from "@nats-io/jetstream";
import type { Bus } from "./connection.js";

/** One live key of a bucket, as read by readCurrent. */
export interface CurrentEntry {
  key: string;
  value: Uint8Array;
  revision: number;
}

/**
 * Every live key of a bucket matching `filter`, with its value and revision, read with one
 * ordered consumer (no request per key). Ends at the last matching entry that existed when it
 * started, whatever is written meanwhile: nats.js's kv.history() and kv.keys() end only when the
 * keys stop changing, which keys being renewed never do.
 */
export async function* readCurrent(bus: Bus, bucket: string, filter: string): AsyncGenerator<CurrentEntry> {
  const jsm = await bus.jsm();
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.`;
  const last = await jsm.streams
    .getMessage(stream, { last_by_subj: `${prefix}${filter}` })
    .then((m) => m?.seq ?? 0)
    .catch(() => 0);
  if (last === 0) return;
  const consumer = await bus.js.consumers.get(stream, {
    filter_subjects: `${prefix}${filter}`,
    deliver_policy: DeliverPolicy.LastPerSubject,
  });
  const messages = await consumer.consume({ max_messages: 1000 });
  try {
    for await (const m of messages) {
      const op = m.headers?.get("KV-Operation") ?? "";
      if (op !== "DEL" && op !== "PURGE" && m.data.length > 0) {
        yield { key: m.subject.slice(prefix.length), value: m.data, revision: m.seq };
      }
      if (m.seq >= last || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}
