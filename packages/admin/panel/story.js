import { formatTime, h, show, table } from "./dom.js";

/** @typedef {import("../src/answers.js").AttemptJson} AttemptJson */
/** @typedef {import("../src/answers.js").EventJson} EventJson */
/** @typedef {import("../src/answers.js").EventStory} EventStory */

const COLUMNS = ["Time", "Endpoint", "Attempt", "Outcome", "Status", "Error"];

/**
 * An event's story as GET /v1/apps/{appId}/events/{eventId} gives it: the event, the events Herald
 * derived from it (user.online, room.status…) and every attempt to deliver each. The chat core's
 * event often has no callbacks of its own: they hang off the events derived from it.
 * @param {Element} box
 * @param {string} eventId
 * @param {EventStory} story
 */
export function showStory(box, eventId, story) {
  const parts = [];
  if (story.event) parts.push(eventBlock(story.event, story.attempts ?? [], "story-event", null));
  else parts.push(h("p", { class: "muted" }, `Event ${eventId} itself is not in the event log.`));
  for (const derived of story.derived ?? []) {
    parts.push(eventBlock(derived.event, derived.attempts ?? [], "story-derived", causeOf(derived.event)));
  }
  show(box, h("h3", {}, `Story of event ${eventId}`), parts);
}

/**
 * @param {EventJson} event
 * @param {AttemptJson[]} attempts
 * @param {string} testid
 * @param {string | null} cause
 */
function eventBlock(event, attempts, testid, cause) {
  return h(
    "div",
    { class: "story-event", testid, "data-event-id": event.id, "data-event-type": event.type ?? "" },
    h(
      "div",
      {},
      h("span", { class: "tag" }, event.type ?? ""),
      " ",
      h("span", { class: "mono small" }, event.id),
      " ",
      h("span", { class: "muted small" }, formatTime(event.occurredAt)),
      cause ? h("span", { class: "muted small" }, ` derived from ${cause}`) : null,
    ),
    attempts.length === 0
      ? h("p", { class: "muted small" }, "No delivery attempts.")
      : table(`${testid}-attempts`, COLUMNS, attempts.map(attemptRow)),
  );
}

/** @param {AttemptJson} a */
function attemptRow(a) {
  const outcome = a.outcome ?? "";
  return h(
    "tr",
    { testid: "story-attempt", "data-delivery-id": a.deliveryId ?? "", "data-outcome": outcome },
    h("td", { class: "nowrap" }, formatTime(a.at)),
    h("td", {}, a.endpointId || a.hook || ""),
    h("td", { class: "num" }, String(a.attempt ?? "")),
    h("td", {}, h("span", { class: `badge outcome-${outcome}` }, outcome)),
    h("td", { class: "num" }, a.statusCode ? String(a.statusCode) : "—"),
    h("td", { class: "error-text" }, a.error ?? ""),
  );
}

/**
 * The causeEventId in the derived event's payload (it sits under the payload's oneof case).
 * @param {EventJson} event
 */
function causeOf(event) {
  for (const value of Object.values(event)) {
    if (
      value &&
      typeof value === "object" &&
      "causeEventId" in value &&
      typeof value.causeEventId === "string"
    )
      return value.causeEventId;
  }
  return null;
}
