// Herald's admin panel: plain DOM, no build step, nothing fetched but the admin API.
import { api, appPath, describeError, loadToken, saveToken } from "./api.js";
import { deliveriesSection } from "./deliveries.js";
import { h, show } from "./dom.js";
import { endpointsSection } from "./endpoints.js";
import { hooksSection } from "./hooks.js";
import { keysSection } from "./keys.js";
import { nodesSection, roomsSection, usersSection } from "./live.js";
import { overviewSection } from "./overview.js";
import { act, button } from "./section.js";

const AUTO_REFRESH_MS = 5_000;
// After a replay or a test event, look again soon: the deliverer answers in well under a second.
const ACTIVITY_REFRESH_MS = [700, 2_500];

/** @typedef {import("./types.js").AppSummary} AppSummary */
/** @typedef {import("./types.js").Content} Content */

/**
 * An element of index.html, of the type it has there: a page without it is not this panel's.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, name: string }} type
 * @returns {T}
 */
function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`index.html has no ${type.name} #${id}`);
  return el;
}

const tokenForm = byId("token-form", HTMLFormElement);
const tokenInput = byId("token-input", HTMLInputElement);
const banner = byId("banner", HTMLElement);
const appsBox = byId("apps", HTMLElement);
const appView = byId("app", HTMLElement);

/**
 * A message at the top that stays until dismissed: an error must not vanish before it is read.
 * @param {"notice" | "error"} kind
 * @param {string} testid
 * @param {...Content} content
 */
function message(kind, testid, ...content) {
  const item = h(
    "div",
    { class: `message ${kind}`, testid, role: kind === "error" ? "alert" : "status" },
    h("span", {}, content),
    button("×", `${testid}-dismiss`, () => item.remove(), { class: "dismiss", title: "Dismiss" }),
  );
  banner.prepend(item);
  // Keep the banner short: the newest few messages are the ones that matter.
  while (banner.children.length > 5) banner.lastElementChild?.remove();
}

/** @type {(...content: Content[]) => void} */
const notify = (...content) => message("notice", "notice", ...content);
/** @type {(err: unknown) => void} */
const fail = (err) => message("error", "error", describeError(err));

/** @type {{ appId: string, timers: number[], interval: number } | undefined} */
let current; // the open app

async function loadApps() {
  try {
    const { apps = [] } = /** @type {{ apps?: AppSummary[] }} */ (await api.get("/v1/apps"));
    renderApps(apps);
  } catch (err) {
    show(appsBox, h("p", { class: "muted" }, "Could not list the apps."));
    fail(err);
  }
}

/** @param {AppSummary[]} apps */
function renderApps(apps) {
  if (apps.length === 0) {
    show(appsBox, h("p", { class: "muted" }, "No apps."));
    return;
  }
  show(
    appsBox,
    h(
      "ul",
      {},
      apps.map((app) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              href: `#app=${encodeURIComponent(app.appId)}`,
              class: app.appId === selectedAppId() ? "app-link selected" : "app-link",
              testid: "app-item",
              "data-app-id": app.appId,
            },
            h("strong", {}, app.appId),
            h(
              "span",
              { class: "small muted" },
              ` ${app.endpointCount ?? 0} endpoint${app.endpointCount === 1 ? "" : "s"}`,
              app.hasOpenIm ? " · OpenIM" : "",
              app.source ? ` · ${app.source}` : "",
            ),
            // An admin edit keeps the app from the config file's changes until it is handed back.
            app.file?.differs
              ? h(
                  "span",
                  {
                    class: "small warn",
                    testid: "file-differs",
                    title: `Owned by the ${app.source}: the config file's version differs and is not applied. POST /v1/apps/${app.appId}/return-to-file hands it back.`,
                  },
                  " · config file differs",
                )
              : "",
          ),
        ),
      ),
    ),
  );
}

function selectedAppId() {
  const match = /^#app=(.+)$/.exec(location.hash);
  return match?.[1] !== undefined ? decodeURIComponent(match[1]) : "";
}

function closeApp() {
  if (!current) return;
  for (const timer of current.timers) clearTimeout(timer);
  clearInterval(current.interval);
  current = undefined;
}

/** @param {string} appId */
function openApp(appId) {
  closeApp();
  /** @type {number[]} */
  const timers = [];
  /** @type {import("./types.js").SectionContext} */
  const ctx = {
    appId,
    notify,
    fail,
    onEndpoints: (endpoints) => deliveries.setEndpoints(endpoints),
    // Endpoints or hook settings changed: the app list's counts, and the implied endpoint, with them.
    onAppChanged: () => {
      void loadApps();
      void endpoints.poll();
    },
    onActivity: () => {
      for (const ms of ACTIVITY_REFRESH_MS) {
        timers.push(
          setTimeout(() => {
            void deliveries.poll();
            void endpoints.poll();
          }, ms),
        );
      }
    },
  };
  const endpoints = endpointsSection(ctx);
  const deliveries = deliveriesSection(ctx);
  const hooks = hooksSection(ctx);
  const users = usersSection(ctx);
  const rooms = roomsSection(ctx);
  const nodes = nodesSection(ctx);
  const overview = overviewSection(ctx);
  const sections = [overview, endpoints, deliveries, hooks, users, nodes, rooms];
  // App keys are the admin's to make; an app key (hak_…) would only be refused.
  if (!loadToken().startsWith("hak_")) sections.push(keysSection(ctx));

  const auto = h("input", { type: "checkbox", testid: "auto-refresh", checked: true });
  const refreshAll = button("Refresh all", "refresh-all", () => sections.forEach((s) => void s.refresh()));
  const ownership = h("div", { class: "small", testid: "app-ownership", hidden: true });
  const settings = h("div", { class: "small muted", testid: "app-settings", hidden: true });
  show(
    appView,
    h(
      "div",
      { class: "app-head" },
      h("h2", { testid: "app-title" }, appId),
      h("label", { class: "small" }, auto, ` auto-refresh every ${AUTO_REFRESH_MS / 1000} s`),
      refreshAll,
    ),
    ownership,
    settings,
    sections.map((s) => s.root),
  );
  void showApp(ownership, settings, appId);
  const interval = setInterval(() => {
    if (!auto.checked || document.hidden) return;
    void deliveries.poll();
    void endpoints.poll();
    // A node's lease runs out in seconds: its row keeps up with it.
    void nodes.refresh();
  }, AUTO_REFRESH_MS);
  current = { appId, timers, interval };
  for (const s of sections) void s.refresh();
  for (const link of appsBox.querySelectorAll("[data-app-id]")) {
    link.classList.toggle("selected", link.getAttribute("data-app-id") === appId);
  }
}

/**
 * The head of an app: who owns it, and its presence and chatroom timings.
 * @param {HTMLElement} ownership
 * @param {HTMLElement} settings
 * @param {string} appId
 */
async function showApp(ownership, settings, appId) {
  let app;
  try {
    app = /** @type {import("./types.js").AppView} */ (await api.get(appPath(appId)));
  } catch {
    return; // the sections below report what is wrong with the app
  }
  showSettings(settings, app);
  showOwnership(ownership, app);
}

/** @param {number | undefined} ms */
function duration(ms) {
  if (ms === undefined) return "service default";
  if (ms === 0) return "off (0)";
  for (const [unit, size] of /** @type {const} */ ([
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ])) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * The app's presence and chatroom timings (set in the config file or PUT /v1/apps/{appId}); a value the
 * app does not set is the service's environment default.
 * @param {HTMLElement} box
 * @param {import("./types.js").AppView} app
 */
function showSettings(box, app) {
  const p = app.presence ?? {};
  const c = app.chatroom ?? {};
  /** @type {Array<[string, number | undefined, string]>} */
  const items = [
    ["presence grace", p.graceMs, "presence.graceMs"],
    ["node lease margin", p.nodeLeaseMarginMs, "presence.nodeLeaseMarginMs"],
    ["auto-kick after", c.kickAfterMs, "chatroom.kickAfterMs"],
    ["abnormal delay", c.abnormalDelayMs, "chatroom.abnormalDelayMs"],
    ["idle destroy", c.idleDestroyMs, "chatroom.idleDestroyMs"],
  ];
  show(
    box,
    items.map(([label, ms, field], i) =>
      h(
        "span",
        { testid: `setting-${field}`, title: `${field} (ms): ${ms ?? "not set"}` },
        i === 0 ? "" : " · ",
        `${label}: ${duration(ms)}`,
      ),
    ),
  );
  box.hidden = false;
}

/**
 * An app the config file declares but an operator edited here keeps the edit, and the file's version is
 * not applied; say so, and let the admin hand the app back to the file.
 * @param {HTMLElement} box
 * @param {import("./types.js").AppView} app
 */
function showOwnership(box, app) {
  const appId = app.appId;
  if (!app.file?.differs) return;
  const handBack = button("Hand back to the config file", "return-to-file", null);
  handBack.addEventListener(
    "click",
    act(handBack, fail, async () => {
      const sure = window.confirm(
        `Replace ${appId} with the config file's version? Edits made here are lost, and the file's later changes apply again.`,
      );
      if (!sure) return;
      await api.post(appPath(appId, "return-to-file"));
      notify(`${appId} is the config file's again.`);
      void loadApps();
      openApp(appId);
    }),
  );
  const admin = !loadToken().startsWith("hak_");
  show(
    box,
    h(
      "span",
      { class: "warn" },
      "Edited here: the config file declares this app, its version differs and is not applied. ",
    ),
    admin ? handBack : "",
  );
  box.hidden = false;
}

function route() {
  const appId = selectedAppId();
  if (appId === "") {
    closeApp();
    show(appView, h("p", { class: "muted" }, "Pick an app."));
  } else if (current?.appId !== appId && loadToken() !== "") {
    openApp(appId);
  }
}

tokenForm.addEventListener("submit", (e) => {
  e.preventDefault();
  saveToken(tokenInput.value.trim());
  tokenInput.value = "";
  tokenInput.placeholder = "token saved";
  closeApp();
  void loadApps().then(route);
});
byId("token-forget", HTMLButtonElement).addEventListener("click", () => {
  saveToken("");
  tokenInput.placeholder = "admin token or app key";
  closeApp();
  show(appsBox, h("p", { class: "muted" }, "Enter a token to list the apps."));
  show(appView, h("p", { class: "muted" }, "Pick an app."));
});
byId("apps-refresh", HTMLButtonElement).addEventListener("click", () => void loadApps());
window.addEventListener("hashchange", route);

if (loadToken() !== "") {
  tokenInput.placeholder = "token saved";
  void loadApps().then(route);
}
