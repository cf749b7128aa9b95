import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { decodeAttemptRecords, type AttemptRecord } from "@herald/bus";

/** Every Nats-Msg-Id stored in a stream, read back from the server itself. */
export async function storedMsgIds(natsUrl: string, stream: string): Promise<Set<string>> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(stream);
    const ids = new Set<string>();
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq });
      const id = msg?.header?.get("Nats-Msg-Id");
      if (id) ids.add(id);
    }
    return ids;
  } finally {
    await nc.close();
  }
}

/** Every attempt record in the ATTEMPTS stream `stream` so far, oldest first. */
export async function storedAttemptRecords(nc: NatsConnection, stream: string): Promise<AttemptRecord[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const records: AttemptRecord[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg !== null) records.push(...(decodeAttemptRecords(msg.data) as AttemptRecord[]));
  }
  return records;
}
