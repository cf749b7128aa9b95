import { api, appPath } from "./api.js";
import { dialectDefaults, ORDERING_MEANING } from "./dialect-defaults.js";
import { formatTime, h, show, table } from "./dom.js";
import { endpointForm } from "./endpoint-form.js";
import { act, button, card } from "./section.js";

/** @typedef {import("./types.js").EndpointView} EndpointView */
/** @typedef {Record<string, { ordering?: string }>} DefaultsByDialect */

/**
 * The state an endpoint is in, and why: what an operator looks at first.
 * @param {EndpointView["state"]} state
 */
function stateCell(state) {
  const s = state ?? { state: "active", reason: "" };
  const lines = [h("span", { class: `badge state-${s.state}`, testid: "endpoint-state" }, s.state)];
  if (s.state === "paused" && s.until)
    lines.push(h("div", { class: "small" }, `until ${formatTime(s.until)}`));
  if (s.reason) lines.push(h("div", { class: "small reason", testid: "endpoint-reason" }, s.reason));
  if (s.since && s.state !== "active")
    lines.push(h("div", { class: "small muted" }, `since ${formatTime(s.since)}`));
  if (s.failingSince)
    lines.push(h("div", { class: "small warn" }, `failing since ${formatTime(s.failingSince)}`));
  return h("td", {}, lines);
}

/**
 * How the endpoint's callbacks are ordered, and whether that is its dialect's default.
 * @param {EndpointView} ep
 * @param {DefaultsByDialect} defaults
 */
function orderingCell(ep, defaults) {
  const fallback = defaults[ep.dialect]?.ordering;
  const ordering = ep.ordering ?? fallback ?? "";
  return h(
    "td",
    { testid: "endpoint-ordering", "data-ordering": ordering, title: ORDERING_MEANING[ordering] ?? "" },
    ordering,
    fallback === undefined
      ? null
      : h(
          "div",
          { class: "small muted", testid: "endpoint-ordering-default" },
          ordering === fallback ? "dialect default" : `${ep.dialect} default: ${fallback}`,
        ),
  );
}

/**
 * The app's endpoints with their state and the buttons that change them: add, edit and delete;
 * enable (re-enable), disable with a reason, rotate a standard secret, send a test event.
 * @param {import("./types.js").SectionContext} ctx
 */
export function endpointsSection(ctx) {
  const refreshButton = button("Refresh", "endpoints-refresh", () => void refresh());
  const addButton = button("Add endpoint", "endpoint-add", () => openForm({ mode: "create" }));
  const section = card({ title: "Endpoints", testid: "endpoints", tools: [addButton, refreshButton] });
  // One form at a time, above the table, so polling the table never clobbers what is being typed.
  const formBox = h("div", { testid: "endpoint-form-box" });
  section.body.before(formBox);
  let seq = 0;
  let shown = ""; // the list last rendered, as JSON

  /** @param {boolean} background */
  async function load(background) {
    const mine = ++seq;
    try {
      const [{ endpoints = [] }, defaults] = await Promise.all([
        /** @type {Promise<{ endpoints?: EndpointView[] }>} */ (api.get(appPath(ctx.appId, "endpoints"))),
        dialectDefaults(),
      ]);
      if (mine !== seq) return;
      section.error(null);
      ctx.onEndpoints(endpoints);
      const fingerprint = JSON.stringify(endpoints);
      // A background poll leaves the table alone when nothing changed or a disable form is open.
      if (background && (fingerprint === shown || section.body.querySelector(".inline-form") !== null))
        return;
      shown = fingerprint;
      render(endpoints, defaults);
    } catch (err) {
      if (mine === seq) section.error(err);
    }
  }
  const refresh = () => load(false);
  const poll = () => load(true);

  /** @param {{ mode: "create", endpoint?: undefined } | { mode: "edit", endpoint: EndpointView }} which */
  function openForm(which) {
    const close = () => show(formBox);
    show(
      formBox,
      endpointForm(ctx, {
        ...which, // mode, and the endpoint when editing
        onClose: close,
        // The table is redrawn before the form goes, so a click on it right after (a Delete and its
        // confirm) is never undone by a redraw still on its way.
        onSaved: async () => {
          ctx.onAppChanged?.();
          await refresh();
          close();
        },
      }),
    );
    formBox.querySelector("textarea")?.focus();
  }

  /**
   * @param {EndpointView[]} endpoints
   * @param {DefaultsByDialect} defaults
   */
  function render(endpoints, defaults) {
    if (endpoints.length === 0) {
      show(section.body, h("p", { class: "muted" }, "No endpoints."));
      return;
    }
    show(
      section.body,
      table(
        "endpoint-table",
        ["Endpoint", "Dialect", "URL", "Event types", "Ordering", "State", "Actions"],
        endpoints.map((ep) => row(ep, defaults)),
      ),
    );
  }

  /**
   * @param {EndpointView} ep
   * @param {DefaultsByDialect} defaults
   */
  function row(ep, defaults) {
    /** @type {(...rest: string[]) => string} */
    const path = (...rest) => appPath(ctx.appId, "endpoints", ep.id, ...rest);
    const state = ep.state?.state ?? "active";
    const actions = h("td", { class: "actions" });

    const enable = button(state === "active" ? "Enable" : "Re-enable", "enable-button", null, {
      disabled: state === "active",
    });
    enable.addEventListener(
      "click",
      act(enable, ctx.fail, async () => {
        await api.post(path("enable"));
        ctx.notify(`Endpoint ${ep.id} enabled.`);
        await refresh();
      }),
    );

    const disable = button("Disable", "disable-button", () => {
      const reason = h("input", { type: "text", placeholder: "reason (optional)", testid: "disable-reason" });
      const confirm = button("Confirm disable", "disable-confirm", null, { class: "danger" });
      confirm.addEventListener(
        "click",
        act(confirm, ctx.fail, async () => {
          await api.post(path("disable"), reason.value.trim() === "" ? {} : { reason: reason.value.trim() });
          ctx.notify(`Endpoint ${ep.id} disabled.`);
          await refresh();
        }),
      );
      const cancel = button("Cancel", "disable-cancel", () => show(actions, buttons));
      show(actions, h("div", { class: "inline-form" }, reason, confirm, cancel));
      reason.focus();
    });
    disable.disabled = state === "disabled";

    const buttons = [enable, disable];
    // An endpoint signed with whsec_ secrets can rotate them.
    if (ep.secrets.length > 0) {
      const rotate = button("Rotate secret", "rotate-button");
      rotate.addEventListener(
        "click",
        act(rotate, ctx.fail, async () => {
          const { secret } = /** @type {{ secret: string }} */ (await api.post(path("rotate-secret")));
          ctx.notify(
            `New secret for ${ep.id} (shown once; the old ones keep signing for a day): `,
            h("code", { testid: "new-secret" }, secret),
          );
          await refresh();
        }),
      );
      buttons.push(rotate);
    }
    const replay = button("Replay dead…", "replay-dead-button", () => {
      // Default: the last day; the log store lists what died since then and was not delivered after.
      const since = h("input", {
        type: "datetime-local",
        testid: "replay-since",
        value: toLocalInput(new Date(Date.now() - 24 * 60 * 60 * 1000)),
      });
      const confirm = button("Replay", "replay-dead-confirm");
      confirm.addEventListener(
        "click",
        act(confirm, ctx.fail, async () => {
          const { replayed } = /** @type {{ replayed: number }} */ (
            await api.post(path("replay"), { since: new Date(since.value).toISOString() })
          );
          ctx.notify(`${replayed} dead deliveries of ${ep.id} sent again.`);
          ctx.onActivity();
          show(actions, buttons);
        }),
      );
      const cancel = button("Cancel", "replay-dead-cancel", () => show(actions, buttons));
      show(
        actions,
        h("div", { class: "inline-form" }, h("span", { class: "small" }, "since"), since, confirm, cancel),
      );
    });
    buttons.push(replay);
    const test = button("Send test event", "test-button");
    test.addEventListener(
      "click",
      act(test, ctx.fail, async () => {
        const { deliveryId } = /** @type {{ deliveryId: string }} */ (await api.post(path("test")));
        ctx.notify(`Test event queued for ${ep.id}: delivery ${deliveryId}.`);
        ctx.onActivity();
      }),
    );
    buttons.push(test);
    // The implied endpoint is the app's OpenIM hook settings: it changes with them, not here.
    if (!ep.implied) {
      buttons.push(button("Edit", "edit-button", () => openForm({ mode: "edit", endpoint: ep })));
      const remove = button("Delete", "delete-button", () => {
        const confirm = button(`Delete ${ep.id}`, "delete-confirm", null, { class: "danger" });
        confirm.addEventListener(
          "click",
          act(confirm, ctx.fail, async () => {
            await api.del(path());
            ctx.notify(`Endpoint ${ep.id} deleted.`);
            if (formBox.querySelector(`[data-endpoint-id="${CSS.escape(ep.id)}"]`)) show(formBox);
            ctx.onAppChanged?.();
            await refresh();
          }),
        );
        const cancel = button("Cancel", "delete-cancel", () => show(actions, buttons));
        show(
          actions,
          h(
            "div",
            { class: "inline-form" },
            h("span", { class: "small" }, "Delete for good?"),
            confirm,
            cancel,
          ),
        );
      });
      buttons.push(remove);
    }
    show(actions, buttons);

    return h(
      "tr",
      { testid: "endpoint-row", "data-endpoint-id": ep.id, "data-state": state },
      h("td", {}, h("strong", {}, ep.id), ep.implied ? h("span", { class: "tag" }, "implied") : null),
      h("td", {}, ep.dialect ?? ""),
      h("td", { class: "url" }, ep.url ?? ""),
      h("td", { class: "small" }, (ep.eventTypes ?? []).join(", ")),
      orderingCell(ep, defaults),
      stateCell(ep.state),
      actions,
    );
  }

  return { root: section.root, refresh, poll };
}

/**
 * A Date as the value of a datetime-local input (local time, minutes).
 * @param {Date} date
 */
function toLocalInput(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}
