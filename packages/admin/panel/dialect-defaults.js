import { api } from "./api.js";

/** @typedef {import("./types.js").DialectDescription} DialectDescription */

/**
 * What an endpoint's `ordering` means, for titles and the form's choices.
 * @type {Record<string, string>}
 */
export const ORDERING_MEANING = {
  key: "a user's, room's or conversation's callbacks one after another",
  none: "callbacks in any order",
};

/** @type {Promise<DialectDescription[]> | null} */
let loading = null;

/**
 * The dialects as the gateway's registry describes them (GET /v1/dialects: name, title, template,
 * defaults), loaded once: the panel keeps no list of its own. A gateway that cannot say gives []
 * (asked again next time).
 * @returns {Promise<DialectDescription[]>}
 */
export function dialectList() {
  loading ??= api.get("/v1/dialects").then(
    (answer) => /** @type {{ dialects?: DialectDescription[] }} */ (answer).dialects ?? [],
    () => {
      loading = null;
      return [];
    },
  );
  return loading;
}

/**
 * Each dialect's defaults, by dialect; {} when the gateway cannot say (the settings then show without them).
 * @returns {Promise<Record<string, NonNullable<DialectDescription["defaults"]>>>}
 */
export function dialectDefaults() {
  return dialectList().then((dialects) =>
    Object.fromEntries(dialects.map((d) => [d.dialect, d.defaults ?? {}])),
  );
}
