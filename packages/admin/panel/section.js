import { describeError, fieldOf } from "./api.js";
import { h, show } from "./dom.js";

/** @typedef {import("./dom.js").Content} Content */
/** @typedef {import("./dom.js").Props} Props */

/**
 * A titled card with a toolbar, an error line and a body. Each section loads on its own, so one
 * failing query (say the log store is down) leaves the others readable.
 * @param {{ title: string, testid: string, tools?: Content[] }} options
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
    /**
     * Shows an API error in this card (null clears it).
     * @param {unknown} err
     */
    error(err) {
      if (err == null) {
        error.hidden = true;
        show(error);
        return;
      }
      error.hidden = false;
      show(error, describeError(err));
    },
  };
}

/**
 * A small button.
 * @param {string} label
 * @param {string} testid
 * @param {((event: Event) => void) | null} [onclick] null: the caller adds its listener (often `act`)
 * @param {Props} [extra]
 */
export function button(label, testid, onclick, extra = {}) {
  return h("button", { type: "button", testid, onclick, ...extra }, label);
}

/**
 * Runs an async action from a button: disables the button meanwhile and sends failures to `fail`,
 * so no click ends in an unhandled rejection.
 * @param {HTMLButtonElement} buttonEl
 * @param {(err: unknown) => void} fail
 * @param {() => Promise<void>} action
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
 * @param {string} testid
 */
export function formError(testid) {
  const el = h("div", { class: "error", testid, role: "alert", hidden: true });
  return {
    el,
    /** @param {unknown} err */
    set(err) {
      if (err == null) {
        el.hidden = true;
        show(el);
        return;
      }
      el.hidden = false;
      const text = describeError(err);
      show(
        el,
        h("div", {}, text),
        fieldOf(err)
          ? h("div", { class: "small" }, "field: ", h("code", { testid: `${testid}-field` }, fieldOf(err)))
          : null,
      );
    },
  };
}
