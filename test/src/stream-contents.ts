import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

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
