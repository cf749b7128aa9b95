import { api } from "./api.js";

/** What an endpoint's `ordering` means, for titles and the form's choices. */
export const ORDERING_MEANING = {
  key: "a user's, room's or conversation's callbacks one after another",
  none: "callbacks in any order",
};

let loading = null;

/**
 * The dialects as the gateway's registry describes them (GET /v1/dialects: name, title, template,
 * defaults), loaded once: the panel keeps no list of its own. A gateway that cannot say gives []
 * (asked again next time).
 */
export function dialectList() {
  loading ??= api.get("/v1/dialects").then(
    ({ dialects = [] }) => dialects,
    () => {
      loading = null;
      return [];
    },
  );
  return loading;
}

/** Each dialect's defaults, by dialect; {} when the gateway cannot say (the settings then show without them). */
export function dialectDefaults() {
  return dialectList().then((dialects) =>
    Object.fromEntries(dialects.map((d) => [d.dialect, d.defaults ?? {}])),
  );
}
