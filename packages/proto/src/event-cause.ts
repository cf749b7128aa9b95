import type { Event } from "./gen/herald/v1/event.js";

/** The id of the event a derived event (presence's user.*, chatroom's room.*) came from; "" for any other. */
export function causeEventId(event: Event): string {
  const p = event.payload;
  switch (p?.$case) {
    case "userOnline":
    case "userOffline":
    case "userBackground":
    case "roomStatus":
    case "roomRejected":
      return p.value.causeEventId;
    default:
      return "";
  }
}
