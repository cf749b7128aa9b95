import { api, appPath } from "./api.js";
import { fact, formatTime, h, prettyBody, show, table } from "./dom.js";
import { act, button, card } from "./section.js";
import { showStory } from "./story.js";

const PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const COLUMNS = [
  "Time",
  "Endpoint",
  "Event type",
  "Delivery id",
  "Attempt",
  "Outcome",
  "Status",
  "Latency",
  "Ordering key",
  "Error",
];

/** An attempt's stable key, to keep rows open across refreshes. */
const keyOf = (a) => a.id || `${a.deliveryId}#${a.attempt}#${a.at}`;

/**
 * Recent attempts from the log store (GET /v1/apps/{appId}/attempts), newest first, filtered;
 * a row opens to show the request and response bodies and, for a dead delivery, a Replay button.
 */
export function deliveriesSection(ctx) {
  const endpointSelect = h(
    "select",
    { testid: "filter-endpoint", name: "endpointId" },
    h("option", { value: "" }, "any endpoint"),
  );
  const outcomeSelect = h(
    "select",
    { testid: "filter-outcome", name: "outcome" },
    ["", "delivered", "retry", "dead"].map((o) => h("option", { value: o }, o === "" ? "any outcome" : o)),
  );
  const kindSelect = h(
    "select",
    { testid: "filter-kind", name: "kind" },
    h("option", { value: "delivery" }, "deliveries"),
    h("option", { value: "before" }, "before-hooks"),
    h("option", { value: "" }, "both"),
  );
  const userInput = h("input", {
    type: "text",
    name: "userId",
    placeholder: "user id",
    testid: "filter-user",
  });
  const eventInput = h("input", {
    type: "text",
    name: "eventId",
    placeholder: "event id",
    testid: "filter-event",
  });
  const deliveryInput = h("input", {
    type: "text",
    name: "deliveryId",
    placeholder: "delivery id",
    testid: "filter-delivery",
  });
  const apply = h("button", { type: "submit", testid: "filter-apply" }, "Apply");
  const clear = button("Clear", "filter-clear", () => {
    for (const el of [endpointSelect, outcomeSelect, userInput, eventInput, deliveryInput]) el.value = "";
    kindSelect.value = "delivery";
    void refresh();
  });
  const filters = h(
    "form",
    {
      class: "filters",
      testid: "delivery-filters",
      onsubmit: (e) => {
        e.preventDefault();
        void refresh();
      },
    },
    endpointSelect,
    outcomeSelect,
    kindSelect,
    userInput,
    eventInput,
    deliveryInput,
    apply,
    clear,
  );
  for (const select of [endpointSelect, outcomeSelect, kindSelect]) {
    select.addEventListener("change", () => void refresh());
  }

  const refreshButton = button("Refresh", "deliveries-refresh", () => void refresh());
  const section = card({ title: "Recent deliveries", testid: "deliveries", tools: [refreshButton] });
  const storyBox = h("div", { class: "story", testid: "event-story" });
  const tableBox = h("div", { class: "scroll" });
  const more = h("div", { class: "more" });
  show(section.body, filters, storyBox, tableBox, more);

  const open = new Set();
  let attempts = [];
  let nextPageToken = "";
  let seq = 0;

  function query(pageToken) {
    return {
      endpointId: endpointSelect.value,
      outcome: outcomeSelect.value,
      kind: kindSelect.value,
      userId: userInput.value.trim(),
      eventId: eventInput.value.trim(),
      deliveryId: deliveryInput.value.trim(),
      // A refresh reloads as many rows as are shown, so older pages the user opened stay.
      pageSize: pageToken ? PAGE_SIZE : Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, attempts.length)),
      pageToken,
    };
  }

  async function load(background) {
    const mine = ++seq;
    try {
      const res = await api.get(appPath(ctx.appId, "attempts"), query(""));
      if (mine !== seq) return;
      section.error(null);
      // A background poll re-renders only on change, so it does not undo a text selection in a body.
      if (background && JSON.stringify(res.attempts ?? []) === JSON.stringify(attempts)) return;
      attempts = res.attempts ?? [];
      nextPageToken = res.nextPageToken ?? "";
      render();
    } catch (err) {
      if (mine === seq) section.error(err);
    }
  }

  /** With an event id in the filter, its story above the attempts: the events derived from it too. */
  let shownStory = "";
  async function loadStory(background) {
    const eventId = eventInput.value.trim();
    try {
      const story = eventId === "" ? null : await api.get(appPath(ctx.appId, "events", eventId));
      const text = JSON.stringify([eventId, story]);
      if (background && text === shownStory) return;
      shownStory = text;
      if (story === null) show(storyBox);
      else showStory(storyBox, eventId, story);
    } catch (err) {
      shownStory = "";
      if (err.status === 404) show(storyBox, h("p", { class: "muted" }, `No event ${eventId} on record.`));
      else section.error(err);
    }
  }
  const refresh = () => Promise.all([load(false), loadStory(false)]);
  const poll = () => Promise.all([load(true), loadStory(true)]);

  async function loadOlder() {
    const mine = ++seq;
    try {
      const res = await api.get(appPath(ctx.appId, "attempts"), query(nextPageToken));
      if (mine !== seq) return;
      section.error(null);
      attempts = attempts.concat(res.attempts ?? []);
      nextPageToken = res.nextPageToken ?? "";
      render();
    } catch (err) {
      if (mine === seq) section.error(err);
    }
  }

  function render() {
    if (attempts.length === 0) {
      show(tableBox, h("p", { class: "muted", testid: "deliveries-empty" }, "No attempts match."));
    } else {
      const deliveredIds = new Set(
        attempts.filter((a) => a.outcome === "delivered").map((a) => a.deliveryId),
      );
      show(
        tableBox,
        table(
          "delivery-table",
          COLUMNS,
          attempts.flatMap((a) => rows(a, deliveredIds)),
        ),
      );
    }
    show(more, nextPageToken ? button("Load older", "deliveries-older", () => void loadOlder()) : null);
  }

  function rows(a, deliveredIds) {
    const key = keyOf(a);
    const deliveredLater = a.outcome === "dead" && deliveredIds.has(a.deliveryId);
    const outcome = a.outcome ?? "";
    const row = h(
      "tr",
      {
        class: open.has(key) ? "attempt open" : "attempt",
        testid: "delivery-row",
        "data-delivery-id": a.deliveryId ?? "",
        "data-outcome": outcome,
        "data-attempt": a.attempt ?? 0,
        title: "Click to show the request and the response",
        onclick: () => {
          if (open.has(key)) open.delete(key);
          else open.add(key);
          render();
        },
      },
      h("td", { class: "nowrap" }, formatTime(a.at)),
      h("td", {}, a.endpointId || a.hook || ""),
      h("td", {}, a.eventType ?? ""),
      h("td", { class: "mono small", testid: "delivery-id" }, a.deliveryId ?? ""),
      h(
        "td",
        { class: "num" },
        String(a.attempt ?? ""),
        a.trigger && a.trigger !== "event" ? h("span", { class: "tag" }, a.trigger) : null,
      ),
      h(
        "td",
        { class: "nowrap" },
        h("span", { class: `badge outcome-${outcome}`, testid: "delivery-outcome" }, outcome),
        deliveredLater
          ? h("span", { class: "tag", title: "A later attempt was delivered" }, "delivered since")
          : null,
      ),
      h("td", { class: "num" }, a.statusCode ? String(a.statusCode) : "—"),
      h("td", { class: "num nowrap" }, a.latencyMs != null ? `${a.latencyMs} ms` : ""),
      h(
        "td",
        { testid: "delivery-ordering" },
        a.orderingKey
          ? h("span", { class: "mono small", testid: "delivery-ordering-key" }, a.orderingKey)
          : null,
        waitedForKey(a)
          ? h("div", { class: "small warn", testid: "delivery-key-wait" }, waitedForKey(a))
          : null,
      ),
      h("td", { class: "error-text", title: a.error ?? "" }, truncate(a.error ?? "", 80)),
    );
    return open.has(key) ? [row, detail(a)] : [row];
  }

  function detail(a) {
    const actions = [];
    if (a.outcome === "dead" && (a.kind ?? "delivery") === "delivery" && a.deliveryId) {
      const replay = button("Replay", "replay-button", null, { class: "primary" });
      replay.addEventListener(
        "click",
        act(replay, ctx.fail, async () => {
          const res = await api.post(appPath(ctx.appId, "deliveries", a.deliveryId, "replay"));
          ctx.notify(`Replay of ${res.deliveryId ?? a.deliveryId} queued.`);
          ctx.onActivity();
        }),
      );
      actions.push(replay);
    }
    if (a.deliveryId) {
      actions.push(
        button("All attempts of this delivery", "show-delivery", () => {
          deliveryInput.value = a.deliveryId;
          void refresh();
        }),
      );
    }
    if (a.eventId) {
      actions.push(
        button("Story of this event", "show-event", () => {
          eventInput.value = a.eventId;
          void refresh();
        }),
      );
    }
    return h(
      "tr",
      { class: "detail", testid: "delivery-detail", "data-delivery-id": a.deliveryId ?? "" },
      h(
        "td",
        { colspan: COLUMNS.length },
        h(
          "div",
          { class: "facts" },
          fact("URL", a.url),
          fact("Event id", a.eventId),
          fact("Dialect", a.dialect),
          fact("Kind", a.kind),
          fact("Trigger", a.trigger),
          a.orderingKey ? fact("Ordering key", a.orderingKey) : null,
          a.keyWaitMs > 0 ? fact("Key wait", `${a.keyWaitMs} ms, for an earlier callback of its key`) : null,
          a.hook ? fact("Hook", a.hook) : null,
          a.operationId ? fact("Operation id", a.operationId) : null,
          fact("Attempt id", a.id),
        ),
        a.error ? h("div", { class: "error-text full" }, a.error) : null,
        h(
          "div",
          { class: "bodies" },
          h(
            "div",
            {},
            h("h3", {}, "Request body"),
            h("pre", { testid: "request-body" }, prettyBody(a.requestBody)),
          ),
          h(
            "div",
            {},
            h("h3", {}, "Response body"),
            h("pre", { testid: "response-body" }, prettyBody(a.responseBody)),
          ),
        ),
        h("div", { class: "actions" }, actions),
      ),
    );
  }

  /** Keeps the endpoint filter's choices in step with the endpoints list. */
  function setEndpoints(endpoints) {
    const current = endpointSelect.value;
    const ids = endpoints.map((e) => e.id);
    if (current !== "" && !ids.includes(current)) ids.push(current);
    show(
      endpointSelect,
      h("option", { value: "" }, "any endpoint"),
      ids.map((id) => h("option", { value: id }, id)),
    );
    endpointSelect.value = current;
  }

  return { root: section.root, refresh, poll, setEndpoints };
}

/** "waited 1234 ms for its key" when an earlier callback of the key held this attempt back, else "". */
function waitedForKey(a) {
  return a.keyWaitMs > 0 ? `waited ${a.keyWaitMs} ms for its key` : "";
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
