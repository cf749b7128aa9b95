import { api, appPath, messageOf } from "./api.js";
import { dialectDefaults, dialectList, ORDERING_MEANING } from "./dialect-defaults.js";
import { h, show } from "./dom.js";
import { act, button, formError } from "./section.js";

/** @typedef {import("./types.js").DialectDescription} DialectDescription */
/** @typedef {import("./types.js").EndpointView} EndpointView */

/** A fresh Standard Webhooks secret (24 random bytes), so a new standard endpoint needs no tool to make one. */
function newSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The least a dialect needs, from its registry template; everything left out (eventTypes, timeoutMs,
 * retry, …) takes the dialect's defaults on the server. A dialect signed with whsec_ secrets gets a
 * fresh one.
 * @param {DialectDescription} dialect
 */
function template(dialect) {
  /** @type {Record<string, unknown>} */
  const base = { id: "", dialect: dialect.dialect, ...structuredClone(dialect.template ?? {}) };
  if (dialect.signsWithSecrets) base.secrets = [{ value: newSecret() }];
  return base;
}

/**
 * Dialects signed with secrets first: the most general one is the form's first choice.
 * @type {(a: DialectDescription, b: DialectDescription) => number}
 */
const byGenerality = (a, b) => Number(b.signsWithSecrets) - Number(a.signsWithSecrets);

/** @type {(value: unknown) => string} */
const asText = (value) => JSON.stringify(value, null, 2);

/**
 * The JSON typed so far, or undefined while it is not a JSON object.
 * @param {string} text
 * @returns {Record<string, unknown> | undefined}
 */
function typedObject(text) {
  try {
    const typed = JSON.parse(text);
    return typeof typed === "object" && typed !== null && !Array.isArray(typed) ? typed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A JSON form for one endpoint: `mode` "create" (POST, with a dialect select that swaps the template)
 * or "edit" (PUT of the endpoint as the list showed it: its secrets come back redacted, which the API
 * reads as "unchanged"). A refusal shows next to the form with the field it names.
 * @param {import("./types.js").SectionContext} ctx
 * @param {({ mode: "create", endpoint?: undefined } | { mode: "edit", endpoint: EndpointView }) & {
 *   onSaved: () => Promise<void>, onClose: () => void }} options
 */
export function endpointForm(ctx, { mode, endpoint, onSaved, onClose }) {
  const editing = mode === "edit";
  const error = formError("endpoint-form-error");
  const textarea = h("textarea", {
    testid: "endpoint-form-json",
    class: "json",
    rows: 14,
    spellcheck: "false",
    "aria-label": "endpoint JSON",
  });
  textarea.value = editing ? asText(editable(endpoint)) : "";

  // `ordering` has a control of its own, kept in step with the JSON both ways; "" leaves the field
  // out, so the endpoint takes its dialect's default.
  /** @type {Record<string, { ordering?: string }>} */
  let defaults = {};
  const defaultOption = h("option", { value: "" }, "dialect default");
  const orderingSelect = h(
    "select",
    { testid: "endpoint-form-ordering", "aria-label": "ordering" },
    defaultOption,
    Object.entries(ORDERING_MEANING).map(([value, meaning]) =>
      h("option", { value }, `${value}: ${meaning}`),
    ),
  );
  const orderingDefault = h("span", { class: "small muted", testid: "endpoint-form-ordering-default" });
  const showOrdering = () => {
    const typed = typedObject(textarea.value);
    if (typed !== undefined) {
      orderingSelect.value = typed.ordering === "key" || typed.ordering === "none" ? typed.ordering : "";
    }
    const dialectName = typeof typed?.dialect === "string" ? typed.dialect : "";
    const fallback = defaults[dialectName]?.ordering;
    show(orderingDefault, fallback === undefined ? "" : `${dialectName} default: ${fallback}`);
    defaultOption.textContent = fallback === undefined ? "dialect default" : `dialect default (${fallback})`;
  };
  orderingSelect.addEventListener("change", () => {
    const typed = typedObject(textarea.value);
    if (typed === undefined) {
      error.set(Object.assign(new Error("the JSON below does not parse: fix it first"), { field: "body" }));
      showOrdering();
      return;
    }
    const { ordering: _previous, ...rest } = typed;
    textarea.value = asText(orderingSelect.value === "" ? rest : { ...rest, ordering: orderingSelect.value });
    error.set(null);
    showOrdering();
  });
  textarea.addEventListener("input", showOrdering);
  void dialectDefaults().then((found) => {
    defaults = found;
    showOrdering();
  });

  /** @type {HTMLSelectElement | null} */
  let dialect = null;
  /** @type {DialectDescription[]} */
  let dialects = [];
  if (!editing) {
    const select = h("select", { testid: "endpoint-form-dialect", "aria-label": "dialect" });
    dialect = select;
    void dialectList().then((found) => {
      dialects = [...found].sort(byGenerality);
      select.replaceChildren(
        ...dialects.map((d) => h("option", { value: d.dialect, title: d.summary }, d.dialect)),
      );
      if (textarea.value === "" && dialects[0] !== undefined) {
        textarea.value = asText(template(dialects[0]));
        showOrdering();
      }
    });
    select.addEventListener("change", () => {
      const chosen = dialects.find((d) => d.dialect === select.value);
      if (chosen === undefined) return;
      // Keep what was typed for the fields every dialect has.
      const next = template(chosen);
      try {
        const typed = JSON.parse(textarea.value);
        if (typeof typed?.id === "string") next.id = typed.id;
        if (typeof typed?.url === "string") next.url = typed.url;
      } catch {
        // Not JSON (yet): the plain template.
      }
      if (orderingSelect.value !== "") next.ordering = orderingSelect.value;
      textarea.value = asText(next);
      error.set(null);
      showOrdering();
    });
  }

  const save = button(editing ? "Save" : "Create", "endpoint-form-save", null, { class: "primary" });
  save.addEventListener(
    "click",
    act(save, error.set, async () => {
      error.set(null);
      let body;
      try {
        body = JSON.parse(textarea.value);
      } catch (err) {
        throw Object.assign(new Error(`not JSON: ${messageOf(err)}`), { field: "body" });
      }
      const saved = /** @type {Partial<EndpointView>} */ (
        editing
          ? await api.put(appPath(ctx.appId, "endpoints", endpoint.id), body)
          : await api.post(appPath(ctx.appId, "endpoints"), body)
      );
      ctx.notify(`Endpoint ${saved.id ?? body.id} ${editing ? "saved" : "created"}.`);
      await onSaved();
    }),
  );
  const cancel = button("Cancel", "endpoint-form-cancel", () => onClose());

  return h(
    "div",
    {
      class: "panel",
      testid: "endpoint-form",
      "data-mode": mode,
      "data-endpoint-id": editing ? endpoint.id : null,
    },
    h("h3", {}, editing ? `Edit endpoint ${endpoint.id}` : "Add endpoint"),
    dialect ? h("label", { class: "small" }, "Dialect template ", dialect) : null,
    h("label", { class: "small" }, "Ordering ", orderingSelect, " ", orderingDefault),
    textarea,
    h(
      "p",
      { class: "small muted" },
      editing
        ? "Secrets show redacted; leave them as they are to keep them."
        : "Fields left out (eventTypes, timeoutMs, retry, …) take the dialect's defaults.",
    ),
    error.el,
    h("div", { class: "inline-form" }, save, cancel),
  );
}

/**
 * The endpoint as PUT takes it: the list adds its state (and `implied`), which are not configuration.
 * @param {EndpointView} endpoint
 */
function editable(endpoint) {
  const { state: _state, implied: _implied, ...config } = endpoint;
  return config;
}
