import type { Command } from "commander";
import { eventType, type Event, type PublishResponse } from "@herald/proto";
import { globalsOf, print, printJson } from "./cli-context.js";
import { heraldClient, publish } from "./grpc.js";

export { Event } from "@herald/proto";
export { eventsFromJson, newId, offlineReason } from "./event-json.js";

/** What `herald publish` needs once it publishes: the generated code and the gRPC client. */
export async function send(cmd: Command, events: Event[]): Promise<void> {
  const { target, json } = globalsOf(cmd);
  const client = heraldClient(target);
  let res: PublishResponse;
  try {
    res = await publish(client, target, events);
  } finally {
    client.close();
  }
  if (json) {
    printJson({
      results: res.results.map((r, i) => ({ ...r, appId: events[i]?.appId, type: typeOf(events[i]) })),
    });
    return;
  }
  for (const [i, r] of res.results.entries()) {
    const event = events[i];
    print(
      `${r.duplicate ? "duplicate" : "stored"} ${r.eventId} (${typeOf(event)} of app ${event?.appId ?? "?"}) at stream seq ${r.streamSeq}` +
        (r.duplicate ? ": an event with this id was stored before; not stored again" : ""),
    );
  }
}

function typeOf(event: Event | undefined): string {
  return event === undefined ? "?" : eventType(event);
}
