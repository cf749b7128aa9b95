import { api } from "./api.js";

/** What an endpoint's `ordering` means, for titles and the form's choices. */
export const ORDERING_MEANING = {
  key: "a user's, room's or conversation's callbacks one after another",
  none: "callbacks in any order",
};

let loading = null;

/**
 * Each dialect's defaults as the gateway has them (GET /v1/dialects), by dialect, loaded once: the
 * panel keeps no copy of its own. A gateway that cannot say gives {} (asked again next time), and
 * the panel then shows the settings without their defaults.
 */
export function dialectDefaults() {
  loading ??= api.get("/v1/dialects").then(
    ({ dialects = [] }) => Object.fromEntries(dialects.map((d) => [d.dialect, d.defaults ?? {}])),
    () => {
      loading = null;
      return {};
    },
  );
  return loading;
}
