import { h, show } from "./dom.js";

/**
 * A titled card with a toolbar, an error line and a body. Each section loads on its own, so one
 * failing query (say the log store is down) leaves the others readable.
 */
export function card({ title, testid, tools = [] }) {
  const error = h("div", { class: "error", testid: `${testid}-error`, role: "alert", hidden: true });
  const body = h("div", { class: "card-body", testid: `${testid}-body` });
  const root = h(
    "section",
    { class: "card", testid },
    h("div", { class: "card-head" }, h("h2", {}, title), h("div", { class: "tools" }, tools)),
    error,
    body,
  );
  return {
    root,
    body,
    /** Shows an API error in this card (null clears it). */
    error(err) {
      if (err == null) {
        error.hidden = true;
        show(error);
        return;
      }
      error.hidden = false;
      show(error, typeof err.describe === "function" ? err.describe() : String(err?.message ?? err));
    },
  };
}

/** A small button. */
export function button(label, testid, onclick, extra = {}) {
  return h("button", { type: "button", testid, onclick, ...extra }, label);
}

/**
 * Runs an async action from a button: disables the button meanwhile and sends failures to `fail`,
 * so no click ends in an unhandled rejection.
 */
export function act(buttonEl, fail, action) {
  return async () => {
    buttonEl.disabled = true;
    try {
      await action();
    } catch (err) {
      fail(err);
    } finally {
      buttonEl.disabled = false;
    }
  };
}

/**
 * An error line for a form: the API's message and, apart, the field it names, so the operator sees
 * which part of what they typed to fix. `set(null)` clears it.
 */
export function formError(testid) {
  const el = h("div", { class: "error", testid, role: "alert", hidden: true });
  return {
    el,
    set(err) {
      if (err == null) {
        el.hidden = true;
        show(el);
        return;
      }
      el.hidden = false;
      const text = typeof err.describe === "function" ? err.describe() : String(err?.message ?? err);
      show(
        el,
        h("div", {}, text),
        err.field
          ? h("div", { class: "small" }, "field: ", h("code", { testid: `${testid}-field` }, err.field))
          : null,
      );
    },
  };
}
