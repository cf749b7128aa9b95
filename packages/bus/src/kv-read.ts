import { DeliverPolicy, type OrderedConsumerOptions } from "@nats-io/jetstream";
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
  yield* readFrom(bus, bucket, filter, { deliver_policy: DeliverPolicy.LastPerSubject }, 0);
}

/** One page of readCurrentPage: its entries, and the revision to read the next page after (0: none). */
export interface CurrentPage {
  entries: CurrentEntry[];
  nextAfter: number;
}

/**
 * Up to `limit` live keys of a bucket matching `filter`, in revision order, from the revision after
 * `after` (0: the first): a page costs its own entries, not the whole filter. Only for a bucket that
 * keeps one revision per key, where every stored message is a key's current value. A key written
 * again while the pages are read moves to a later revision: it may come twice, never not at all.
 */
export async function readCurrentPage(
  bus: Bus,
  bucket: string,
  filter: string,
  page: { after: number; limit: number },
): Promise<CurrentPage> {
  const from =
    page.after === 0
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: page.after + 1 };
  const entries: CurrentEntry[] = [];
  // One entry more than the page tells whether there is a next page.
  for await (const entry of readFrom(bus, bucket, filter, from, page.after, page.limit + 1)) {
    entries.push(entry);
    if (entries.length > page.limit) break;
  }
  const more = entries.length > page.limit;
  if (more) entries.pop();
  return { entries, nextAfter: more ? (entries.at(-1)?.revision ?? 0) : 0 };
}

/** The live entries matching `filter` from where `from` starts, up to the last one stored above `after`. */
async function* readFrom(
  bus: Bus,
  bucket: string,
  filter: string,
  from: Partial<Pick<OrderedConsumerOptions, "deliver_policy" | "opt_start_seq">>,
  after: number,
  batch = 1000,
): AsyncGenerator<CurrentEntry> {
  const jsm = await bus.jsm();
  const stream = `KV_${bucket}`;
  const prefix = `$KV.${bucket}.`;
  // Where to stop; null when nothing matches. Any other failure is the caller's to see, never "no keys".
  const last = (await jsm.streams.getMessage(stream, { last_by_subj: `${prefix}${filter}` }))?.seq ?? 0;
  if (last <= after) return;
  const consumer = await bus.js.consumers.get(stream, { filter_subjects: `${prefix}${filter}`, ...from });
  const messages = await consumer.consume({ max_messages: Math.min(batch, 1000) });
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
