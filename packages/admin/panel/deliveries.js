import { api, appPath } from "./api.js";
import { fact, formatTime, h, prettyBody, show, table } from "./dom.js";
import { act, button, card } from "./section.js";
import { showStory } from "./story.js";

/** @typedef {import("../src/answers.js").DeliveryJson} Delivery */
/** @typedef {import("../src/answers.js").DeliveryPage} DeliveryPage */
/** @typedef {import("../src/answers.js").BulkReplayResult} BulkReplayResult */
/** @typedef {import("../src/answers.js").AttemptJson} Attempt */
/** @typedef {import("../src/answers.js").AttemptPage} AttemptPage */
/** @typedef {import("../src/answers.js").EventStory} EventStory */
/** @typedef {import("./types.js").SectionContext} SectionContext */
/** @typedef {import("./types.js").Content} Content */
/** @typedef {{ count: number, more: boolean, filter: Record<string, string> }} BulkConfirm */

const PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const ATTEMPTS_SHOWN = 100;
const COLUMNS = [
  "Last attempt",
  "Endpoint",
  "Event type",
  "Delivery id",
  "Attempts",
  "Outcome",
  "Status",
  "Latency",
  "Error",
];
/** Ranges offered; "" is any time, "custom" the two inputs. */
const RANGES = [
  ["1h", "last hour", 3_600_000],
  ["24h", "last day", 86_400_000],
  ["7d", "last week", 7 * 86_400_000],
  ["", "any time", 0],
  ["custom", "from … to", 0],
];
const OUTCOMES = [
  ["", "any outcome"],
  ["delivered", "delivered"],
  ["retry", "failed, retrying"],
  ["dead", "dead"],
];

/**
 * Deliveries from the log store (GET /v1/apps/{appId}/deliveries): one row per delivery, newest
 * first, filtered; a row opens to its attempts (request, response, status, latency, error, trace),
 * with a Replay that confirms and answers next to the row. Above the rows, a replay of the whole
 * filtered set, counted and confirmed first (POST …/deliveries/replay).
 * @param {SectionContext} ctx
 */
export function deliveriesSection(ctx) {
  const rangeSelect = /** @type {HTMLSelectElement} */ (
    h(
      "select",
      { testid: "filter-range", name: "range", value: "24h" },
      RANGES.map(([value, label]) => h("option", { value, selected: value === "24h" }, label)),
    )
  );
  const fromInput = input("datetime-local", "from", "from", "filter-from");
  const toInput = input("datetime-local", "to", "to", "filter-to");
  const custom = h("span", { class: "range-custom", hidden: true }, fromInput, toInput);
  const endpointSelect = /** @type {HTMLSelectElement} */ (
    h("select", { testid: "filter-endpoint", name: "endpointId" }, h("option", { value: "" }, "any endpoint"))
  );
  const outcomeSelect = /** @type {HTMLSelectElement} */ (
    h(
      "select",
      { testid: "filter-outcome", name: "outcome" },
      OUTCOMES.map(([value, label]) => h("option", { value }, label)),
    )
  );
  const typeList = h("datalist", { id: "delivery-event-types" });
  const typeInput = input("text", "eventType", "event type", "filter-type");
  typeInput.setAttribute("list", "delivery-event-types");
  const userInput = input("text", "userId", "user id", "filter-user");
  const roomInput = input("text", "roomId", "room id", "filter-room");
  const eventInput = input("text", "eventId", "event id", "filter-event");
  const searchInput = input("search", "search", "text in bodies", "filter-search");
  const texts = [typeInput, userInput, roomInput, eventInput, searchInput, fromInput, toInput];

  const apply = h("button", { type: "submit", testid: "filter-apply", class: "primary" }, "Apply");
  const clear = button("Clear", "filter-clear", () => {
    for (const el of [...texts, endpointSelect, outcomeSelect]) el.value = "";
    rangeSelect.value = "24h";
    custom.hidden = true;
    void refresh();
  });
  const filters = h(
    "form",
    {
      class: "filters",
      testid: "delivery-filters",
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        void refresh();
      },
    },
    rangeSelect,
    custom,
    typeInput,
    typeList,
    outcomeSelect,
    endpointSelect,
    userInput,
    roomInput,
    eventInput,
    searchInput,
    h("span", { class: "filter-buttons" }, apply, clear),
  );
  rangeSelect.addEventListener("change", () => {
    custom.hidden = rangeSelect.value !== "custom";
    if (rangeSelect.value !== "custom") void refresh();
  });
  for (const select of [endpointSelect, outcomeSelect])
    select.addEventListener("change", () => void refresh());

  const refreshButton = button("Refresh", "deliveries-refresh", () => void refresh());
  const bulkButton = button("Replay these…", "bulk-replay", null);
  const section = card({ title: "Deliveries", testid: "deliveries", tools: [bulkButton, refreshButton] });
  const storyBox = h("div", { class: "story", testid: "event-story" });
  const bulkBox = h("div", { class: "bulk", testid: "bulk-box" });
  const listBox = h("div", { class: "deliveries-list" });
  const more = h("div", { class: "more" });
  show(section.body, filters, storyBox, bulkBox, listBox, more);

  /** @type {Set<string>} delivery ids whose attempts are shown */
  const open = new Set();
  /** @type {Map<string, { key: string, attempts: Attempt[] | null, error: string }>} attempts by delivery */
  const attemptsOf = new Map();
  /** @type {string} the delivery whose replay awaits a yes */
  let confirming = "";
  /** @type {Map<string, { kind: "notice" | "error", text: string }>} the answer to a row's replay */
  const toasts = new Map();
  /** @type {Delivery[]} */
  let deliveries = [];
  let nextPageToken = "";
  let seq = 0;

  /** The filters as the API takes them (query string or replay body); empty ones left out. */
  function filter() {
    /** @type {Record<string, string>} */
    const f = {};
    const range = RANGES.find(([value]) => value === rangeSelect.value);
    if (rangeSelect.value === "custom") {
      const from = isoOf(fromInput.value);
      const to = isoOf(toInput.value);
      if (from) f.from = from;
      if (to) f.to = to;
    } else if (range && typeof range[2] === "number" && range[2] > 0) {
      f.from = new Date(Date.now() - range[2]).toISOString();
    }
    const put = (/** @type {string} */ key, /** @type {string} */ value) => {
      if (value.trim() !== "") f[key] = value.trim();
    };
    put("eventType", typeInput.value);
    put("outcome", outcomeSelect.value);
    put("endpointId", endpointSelect.value);
    put("userId", userInput.value);
    put("roomId", roomInput.value);
    put("eventId", eventInput.value);
    // Search text is taken as typed: spaces may be part of it.
    if (searchInput.value !== "") f.search = searchInput.value;
    return f;
  }

  /** @param {string} pageToken */
  function query(pageToken) {
    return {
      ...filter(),
      // A refresh reloads as many rows as are shown, so older pages the user opened stay.
      pageSize: pageToken ? PAGE_SIZE : Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, deliveries.length)),
      pageToken,
    };
  }

  /** @param {boolean} background */
  async function load(background) {
    const mine = ++seq;
    try {
      const res = /** @type {DeliveryPage} */ (await api.get(appPath(ctx.appId, "deliveries"), query("")));
      if (mine !== seq) return;
      section.error(null);
      /** @type {Delivery[]} */
      const got = res.deliveries ?? [];
      // A background poll re-renders only on change, so it does not undo a text selection in a body.
      if (background && JSON.stringify(got) === JSON.stringify(deliveries)) return;
      deliveries = got;
      nextPageToken = res.nextPageToken ?? "";
      render();
    } catch (err) {
      if (mine === seq) section.error(err);
    }
  }

  async function loadOlder() {
    const mine = ++seq;
    try {
      const res = /** @type {DeliveryPage} */ (
        await api.get(appPath(ctx.appId, "deliveries"), query(nextPageToken))
      );
      if (mine !== seq) return;
      section.error(null);
      deliveries = deliveries.concat(res.deliveries ?? []);
      nextPageToken = res.nextPageToken ?? "";
      render();
    } catch (err) {
      if (mine === seq) section.error(err);
    }
  }

  /** With an event id in the filter, its story above the deliveries: the events derived from it too. */
  let shownStory = "";
  /** @param {boolean} background */
  async function loadStory(background) {
    const eventId = eventInput.value.trim();
    try {
      const story =
        eventId === ""
          ? null
          : /** @type {EventStory} */ (await api.get(appPath(ctx.appId, "events", eventId)));
      const text = JSON.stringify([eventId, story]);
      if (background && text === shownStory) return;
      shownStory = text;
      if (story === null) show(storyBox);
      else showStory(storyBox, eventId, story);
    } catch (err) {
      shownStory = "";
      if (statusOf(err) === 404) show(storyBox, h("p", { class: "muted" }, `No event ${eventId} on record.`));
      else section.error(err);
    }
  }
  const refresh = () => Promise.all([load(false), loadStory(false)]);
  const poll = () => Promise.all([load(true), loadStory(true)]);

  function render() {
    const types = new Set(deliveries.map((d) => d.eventType).filter((t) => t !== ""));
    show(
      typeList,
      [...types].sort().map((t) => h("option", { value: t })),
    );
    if (deliveries.length === 0) {
      show(listBox, h("p", { class: "muted", testid: "deliveries-empty" }, "No deliveries match."));
    } else {
      show(listBox, table("delivery-table", COLUMNS, deliveries.flatMap(rows)));
    }
    show(more, nextPageToken ? button("Load older", "deliveries-older", () => void loadOlder()) : null);
  }

  /** @param {Delivery} d */
  function rows(d) {
    const isOpen = open.has(d.deliveryId);
    const row = h(
      "tr",
      {
        class: isOpen ? "delivery open" : "delivery",
        testid: "delivery-row",
        "data-delivery-id": d.deliveryId,
        "data-outcome": d.outcome,
        "data-attempts": d.attemptCount,
        "aria-expanded": isOpen ? "true" : "false",
        title: "Click to show its attempts",
        onclick: () => {
          if (open.has(d.deliveryId)) open.delete(d.deliveryId);
          else open.add(d.deliveryId);
          render();
          if (open.has(d.deliveryId)) void loadAttempts(d);
        },
      },
      cell(COLUMNS[0], { class: "nowrap" }, formatTime(d.lastAt)),
      cell(COLUMNS[1], {}, d.endpointId),
      cell(COLUMNS[2], {}, d.eventType),
      cell(COLUMNS[3], { class: "mono small id", testid: "delivery-id" }, d.deliveryId),
      cell(
        COLUMNS[4],
        { class: "num", testid: "delivery-attempts" },
        String(d.attemptCount),
        d.trigger && d.trigger !== "event" ? h("span", { class: "tag" }, d.trigger) : null,
      ),
      cell(
        COLUMNS[5],
        { class: "nowrap" },
        h(
          "span",
          { class: `badge outcome-${d.outcome}`, testid: "delivery-outcome" },
          outcomeLabel(d.outcome),
        ),
      ),
      cell(COLUMNS[6], { class: "num" }, d.statusCode ? String(d.statusCode) : "—"),
      cell(COLUMNS[7], { class: "num nowrap" }, `${d.latencyMs} ms`),
      cell(COLUMNS[8], { class: "error-text", title: d.error }, truncate(d.error, 80)),
    );
    const toast = toasts.get(d.deliveryId);
    const below = [];
    if (isOpen) below.push(detail(d));
    else if (toast)
      below.push(h("tr", { class: "detail" }, h("td", { colspan: COLUMNS.length }, toastOf(toast))));
    return [row, ...below];
  }

  /** @param {Delivery} d */
  function detail(d) {
    const cached = attemptsOf.get(d.deliveryId);
    /** @type {Node | string} */
    let attemptsView = h("p", { class: "muted" }, "Loading attempts…");
    if (cached?.error) attemptsView = h("div", { class: "error", role: "alert" }, cached.error);
    else if (cached?.attempts) {
      attemptsView = h(
        "ol",
        { class: "attempts", testid: "delivery-attempts-list" },
        cached.attempts.map((a) => attemptView(a)),
      );
    }
    const actions = [];
    if (d.replayable) actions.push(replayControls(d));
    if (d.eventId) {
      actions.push(
        button("Story of this event", "show-event", () => {
          eventInput.value = d.eventId;
          void refresh();
        }),
      );
    }
    return h(
      "tr",
      { class: "detail", testid: "delivery-detail", "data-delivery-id": d.deliveryId },
      h(
        "td",
        { colspan: COLUMNS.length },
        h(
          "div",
          { class: "facts" },
          fact("Event id", d.eventId),
          fact("URL", d.url),
          fact("Dialect", d.dialect),
          fact("First attempt", formatTime(d.firstAt)),
        ),
        h("div", { class: "actions" }, actions),
        attemptsView,
      ),
    );
  }

  /**
   * Replay, its confirmation in place, and the answer beside them: all within the row's own box.
   * @param {Delivery} d
   */
  function replayControls(d) {
    const toast = toasts.get(d.deliveryId);
    if (confirming === d.deliveryId) {
      const yes = button("Replay", "replay-confirm", null, { class: "primary" });
      yes.addEventListener(
        "click",
        act(yes, ctx.fail, async () => {
          try {
            const res = /** @type {{ deliveryId?: string }} */ (
              await api.post(appPath(ctx.appId, "deliveries", d.deliveryId, "replay"))
            );
            toasts.set(d.deliveryId, {
              kind: "notice",
              text: `Replay of ${res.deliveryId ?? d.deliveryId} queued.`,
            });
            ctx.onActivity();
          } catch (err) {
            toasts.set(d.deliveryId, { kind: "error", text: describe(err) });
          }
          confirming = "";
          render();
          reveal(d.deliveryId);
        }),
      );
      return h(
        "span",
        { class: "confirm", testid: "replay-confirmation" },
        `Send ${d.deliveryId} again?`,
        yes,
        button("Cancel", "replay-cancel", () => {
          confirming = "";
          render();
        }),
      );
    }
    return h(
      "span",
      { class: "confirm" },
      button(
        "Replay",
        "replay-button",
        (/** @type {Event} */ e) => {
          e.stopPropagation();
          confirming = d.deliveryId;
          toasts.delete(d.deliveryId);
          render();
          reveal(d.deliveryId);
        },
        { class: "primary" },
      ),
      toast ? toastOf(toast) : null,
    );
  }

  /**
   * Keeps a row's confirmation or answer in view (at 400 px it could sit below the fold).
   * @param {string} deliveryId
   */
  function reveal(deliveryId) {
    const el = listBox.querySelector(
      `[data-testid="delivery-detail"][data-delivery-id="${CSS.escape(deliveryId)}"] .confirm`,
    );
    el?.scrollIntoView({ block: "nearest" });
  }

  /** @param {Delivery} d */
  async function loadAttempts(d) {
    const key = `${d.deliveryId}#${d.lastAttemptId}`;
    if (attemptsOf.get(d.deliveryId)?.key === key) return;
    try {
      const res = /** @type {AttemptPage} */ (
        await api.get(appPath(ctx.appId, "attempts"), {
          deliveryId: d.deliveryId,
          kind: "delivery",
          pageSize: ATTEMPTS_SHOWN,
        })
      );
      attemptsOf.set(d.deliveryId, { key, attempts: res.attempts ?? [], error: "" });
    } catch (err) {
      attemptsOf.set(d.deliveryId, { key, attempts: null, error: describe(err) });
    }
    if (open.has(d.deliveryId)) render();
  }

  /** An open delivery with a new attempt shows it: its attempts load again when a poll sees it. */
  function reloadOpen() {
    for (const d of deliveries) if (open.has(d.deliveryId)) void loadAttempts(d);
  }

  bulkButton.addEventListener(
    "click",
    act(bulkButton, ctx.fail, async () => {
      const f = filter();
      try {
        const res = /** @type {BulkReplayResult} */ (
          await api.post(appPath(ctx.appId, "deliveries", "replay"), { ...f, dryRun: true })
        );
        showBulk({ count: res.matched, more: res.more, filter: f });
      } catch (err) {
        // Said where the operator is looking (a bad filter names its field), not in the top banner.
        showBulk(null, toastOf({ kind: "error", text: describe(err) }, "bulk-result"));
      }
    }),
  );

  /**
   * The bulk replay's confirmation, above the rows it is about; null clears it.
   * @param {BulkConfirm | null} confirm
   * @param {Node | null} [answer]
   */
  function showBulk(confirm, answer = null) {
    if (confirm === null) {
      show(bulkBox, answer);
    } else if (confirm.count === 0) {
      show(
        bulkBox,
        h("p", { class: "muted", testid: "bulk-none" }, "No replayable deliveries match the filters."),
      );
    } else {
      const yes = button(`Replay ${confirm.count}`, "bulk-replay-confirm", null, { class: "primary" });
      yes.addEventListener(
        "click",
        act(yes, ctx.fail, async () => {
          try {
            const res = /** @type {BulkReplayResult} */ (
              await api.post(appPath(ctx.appId, "deliveries", "replay"), {
                ...confirm.filter,
                max: confirm.count,
              })
            );
            const queued = res.queued ?? 0;
            showBulk(
              null,
              toastOf(
                { kind: "notice", text: `${queued} ${plural(queued)} queued for replay.` },
                "bulk-result",
              ),
            );
            ctx.onActivity();
          } catch (err) {
            showBulk(null, toastOf({ kind: "error", text: describe(err) }, "bulk-result"));
          }
        }),
      );
      show(
        bulkBox,
        h(
          "div",
          { class: "confirm", testid: "bulk-confirmation", "data-count": confirm.count },
          h(
            "span",
            {},
            `Replay ${confirm.count} ${plural(confirm.count)} matching these filters?`,
            confirm.more ? " More match; only these many are sent (newest first, up to the limit)." : "",
          ),
          yes,
          button("Cancel", "bulk-replay-cancel", () => showBulk(null)),
        ),
      );
    }
    bulkBox.scrollIntoView({ block: "nearest" });
  }

  /**
   * Keeps the endpoint filter's choices in step with the endpoints list.
   * @param {Array<{ id: string }>} endpoints
   */
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

  return {
    root: section.root,
    refresh,
    poll: () => poll().then(reloadOpen),
    setEndpoints,
  };
}

/**
 * One attempt of an open delivery: what was sent and what came back.
 * @param {Attempt} a
 */
function attemptView(a) {
  const outcome = a.outcome ?? "";
  // Attempts carry a trace id once the deliverer records one; older attempts have none.
  const traceId = typeof a["traceId"] === "string" ? a["traceId"] : "";
  const wait = (a.keyWaitMs ?? 0) > 0 ? `waited ${a.keyWaitMs} ms for its key` : "";
  return h(
    "li",
    {
      class: "attempt-item",
      testid: "attempt-item",
      "data-attempt": a.attempt ?? 0,
      "data-outcome": outcome,
    },
    h(
      "div",
      { class: "attempt-head" },
      h("strong", {}, `#${a.attempt ?? 0}`),
      h("span", { class: "nowrap" }, formatTime(a.at)),
      h("span", { class: `badge outcome-${outcome}` }, outcomeLabel(outcome)),
      h("span", { testid: "attempt-status" }, a.statusCode ? String(a.statusCode) : "no answer"),
      h("span", { testid: "attempt-latency" }, `${a.latencyMs ?? 0} ms`),
      a.trigger && a.trigger !== "event" ? h("span", { class: "tag" }, a.trigger) : null,
    ),
    h(
      "div",
      { class: "facts" },
      traceId
        ? h(
            "div",
            { class: "fact" },
            h("span", { class: "label" }, "Trace"),
            h(
              "code",
              { testid: "attempt-trace", title: "W3C trace id: find it in your tracing backend" },
              traceId,
            ),
          )
        : null,
      a.orderingKey
        ? h(
            "div",
            { class: "fact" },
            h("span", { class: "label" }, "Ordering key"),
            h("span", { class: "mono small", testid: "delivery-ordering-key" }, a.orderingKey),
          )
        : null,
      wait ? h("div", { class: "fact small warn", testid: "delivery-key-wait" }, wait) : null,
      a.operationId ? fact("Operation id", a.operationId) : null,
      fact("Attempt id", a.id),
    ),
    a.error ? h("div", { class: "error-text full", testid: "attempt-error" }, a.error) : null,
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
  );
}

/**
 * A table cell that names its column, so at phone width (rows stacked) each value keeps its label.
 * @param {string | undefined} label
 * @param {import("./dom.js").Props} props
 * @param {...Content} children
 */
function cell(label, props, ...children) {
  return h("td", { ...props, "data-label": label ?? "" }, ...children);
}

/**
 * @param {string} type
 * @param {string} name
 * @param {string} placeholder
 * @param {string} testid
 */
function input(type, name, placeholder, testid) {
  return /** @type {HTMLInputElement} */ (
    h("input", { type, name, placeholder, testid, "aria-label": placeholder })
  );
}

/**
 * @param {{ kind: "notice" | "error", text: string }} toast
 * @param {string} [testid]
 */
function toastOf(toast, testid = "row-toast") {
  return h(
    "span",
    { class: `toast ${toast.kind}`, testid, role: toast.kind === "error" ? "alert" : "status" },
    toast.text,
  );
}

/** @param {string} outcome */
function outcomeLabel(outcome) {
  return outcome === "retry" ? "failed, retrying" : outcome;
}

/** @param {number} n */
function plural(n) {
  return n === 1 ? "delivery" : "deliveries";
}

/**
 * A datetime-local value (local time) as ISO 8601; "" when empty or not a time.
 * @param {string} value
 */
function isoOf(value) {
  if (value === "") return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** @param {unknown} err */
function describe(err) {
  const e = /** @type {{ describe?: () => string, message?: string }} */ (err);
  return typeof e?.describe === "function" ? e.describe() : String(e?.message ?? err);
}

/** @param {unknown} err */
function statusOf(err) {
  return /** @type {{ status?: number }} */ (err)?.status;
}

/**
 * @param {string} text
 * @param {number} max
 */
function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
