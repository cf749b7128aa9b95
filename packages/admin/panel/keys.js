import { api, appPath } from "./api.js";
import { h, show } from "./dom.js";
import { act, button, card, formError } from "./section.js";

/**
 * The app's API keys (admin token only): make one, shown once and never again (the server keeps
 * only its hash, so there is no list of keys to show), or revoke one by its id.
 * @param {import("./types.js").SectionContext} ctx
 * @returns {import("./types.js").Section}
 */
export function keysSection(ctx) {
  const newButton = button("New app key", "key-new", null, { class: "primary" });
  const section = card({ title: "App keys", testid: "keys", tools: [newButton] });
  const created = h("div", { testid: "key-created" });
  const revokeError = formError("key-revoke-error");
  const keyId = h("input", { type: "text", placeholder: "key id", testid: "key-revoke-id" });
  const revoke = button("Revoke", "key-revoke", null, { class: "danger" });
  show(
    section.body,
    h(
      "p",
      { class: "small muted" },
      `A key sees and changes only ${ctx.appId}. It is shown once, when made: copy it then.`,
    ),
    created,
    h("div", { class: "inline-form" }, keyId, revoke),
    revokeError.el,
  );

  newButton.addEventListener(
    "click",
    act(newButton, ctx.fail, async () => {
      const { id, key } = /** @type {{ id: string, key: string }} */ (
        await api.post(appPath(ctx.appId, "keys"))
      );
      show(
        created,
        h(
          "div",
          { class: "message notice" },
          h(
            "div",
            {},
            h("div", {}, "New key (id ", h("code", { testid: "new-key-id" }, id), "), shown this once:"),
            h("code", { testid: "new-app-key", class: "secret" }, key),
          ),
          button("×", "key-created-dismiss", () => show(created), { class: "dismiss", title: "Dismiss" }),
        ),
      );
    }),
  );
  revoke.addEventListener(
    "click",
    act(revoke, revokeError.set, async () => {
      revokeError.set(null);
      const id = keyId.value.trim();
      await api.del(appPath(ctx.appId, "keys", id));
      keyId.value = "";
      ctx.notify(`Key ${id} of ${ctx.appId} revoked.`);
    }),
  );

  // Nothing to load: keys are not listed.
  return { root: section.root, refresh: async () => undefined };
}
