// Live state folded from events: who is online, which rooms exist.
import { api, appPath } from "./api.js";
import { formatTime, h, show, table } from "./dom.js";
import { act, button, card } from "./section.js";

/** @typedef {import("./types.js").SectionContext} SectionContext */
/** @typedef {import("./types.js").Section} Section */
/** @typedef {import("./types.js").UserPresenceJson} UserPresenceJson */
/** @typedef {import("./types.js").RoomJson} RoomJson */
/** @typedef {import("./types.js").MemberJson} MemberJson */
/** @typedef {import("./types.js").Page} Page */
/** @typedef {import("../src/answers.js").NodeJson} NodeJson */
/** @typedef {import("../src/answers.js").NodeList} NodeList */

const PAGE_SIZE = 100;

/**
 * Proto enums arrive as names ("USER_STATUS_ONLINE") or numbers, depending on the serializer.
 * @param {UserPresenceJson["status"]} status
 */
function statusText(status) {
  if (typeof status === "string") return status.replace(/^USER_STATUS_/, "").toLowerCase();
  /** @type {Record<number, string>} */
  const names = { 1: "online", 2: "offline" };
  return (status === undefined ? undefined : names[status]) ?? "";
}

/** @param {import("./types.js").ConnectionJson} c */
function connectionText(c) {
  const platform = c.platform || (c.platformId != null ? `platform ${c.platformId}` : "");
  return [platform, c.isAppBackground ? "(background)" : "", c.nodeId ? `on ${c.nodeId}` : ""]
    .filter(Boolean)
    .join(" ");
}

/**
 * Online users (GET /v1/apps/{appId}/presence/users?status=online), paged.
 * @param {SectionContext} ctx
 * @returns {Section}
 */
export function usersSection(ctx) {
  const refreshButton = button("Refresh", "users-refresh", () => void refresh());
  const section = card({ title: "Online users", testid: "users", tools: [refreshButton] });
  /** @type {UserPresenceJson[]} */
  let users = [];
  let nextPageToken = "";

  /** @param {string} pageToken "" for the first page */
  async function load(pageToken) {
    try {
      const res = /** @type {Page & { users?: UserPresenceJson[] }} */ (
        await api.get(appPath(ctx.appId, "presence", "users"), {
          status: "online",
          pageSize: PAGE_SIZE,
          pageToken,
        })
      );
      section.error(null);
      users = pageToken ? users.concat(res.users ?? []) : (res.users ?? []);
      nextPageToken = res.nextPageToken ?? "";
      render();
    } catch (err) {
      section.error(err);
    }
  }

  const refresh = () => load("");

  function render() {
    const more = nextPageToken ? button("More", "users-more", () => void load(nextPageToken)) : null;
    if (users.length === 0) {
      show(section.body, h("p", { class: "muted", testid: "users-empty" }, "Nobody is online."), more);
      return;
    }
    show(
      section.body,
      table(
        "users-table",
        ["User", "Status", "Since", "Connections"],
        users.map((u) =>
          h(
            "tr",
            { testid: "user-row", "data-user-id": u.userId ?? "" },
            h("td", { class: "mono" }, u.userId ?? ""),
            h("td", {}, statusText(u.status)),
            h("td", { class: "nowrap" }, formatTime(u.since)),
            h(
              "td",
              { class: "small" },
              (u.connections ?? []).map((c) => h("div", {}, connectionText(c))),
            ),
          ),
        ),
      ),
      more,
    );
  }

  return { root: section.root, refresh };
}

/**
 * Rooms (GET /v1/apps/{appId}/rooms); a room's members load on demand.
 * @param {SectionContext} ctx
 * @returns {Section}
 */
export function roomsSection(ctx) {
  const refreshButton = button("Refresh", "rooms-refresh", () => void refresh());
  const section = card({ title: "Rooms", testid: "rooms", tools: [refreshButton] });

  async function refresh() {
    try {
      const res = /** @type {{ rooms?: RoomJson[] }} */ (await api.get(appPath(ctx.appId, "rooms")));
      section.error(null);
      render(res.rooms ?? []);
    } catch (err) {
      section.error(err);
    }
  }

  /** @param {RoomJson[]} rooms */
  function render(rooms) {
    if (rooms.length === 0) {
      show(section.body, h("p", { class: "muted", testid: "rooms-empty" }, "No rooms."));
      return;
    }
    show(
      section.body,
      table(
        "rooms-table",
        ["Room", "Members", "Created", ""],
        rooms.map((room) => {
          const roomId = room.roomId ?? room.id ?? "";
          const members = h("div", { class: "small" });
          const showMembers = button("Members", "room-members-button");
          showMembers.addEventListener(
            "click",
            act(showMembers, ctx.fail, async () => {
              const res = /** @type {Page & { members?: MemberJson[] }} */ (
                await api.get(appPath(ctx.appId, "rooms", roomId, "members"), { pageSize: 200 })
              );
              const list = res.members ?? [];
              show(
                members,
                list.length === 0
                  ? "no members"
                  : list.map((m) =>
                      h("div", {}, m.userId ?? "", m.joinedAt ? ` (${formatTime(m.joinedAt)})` : ""),
                    ),
                res.nextPageToken ? h("div", { class: "muted" }, "…more") : null,
              );
            }),
          );
          return h(
            "tr",
            { testid: "room-row", "data-room-id": roomId },
            h("td", { class: "mono" }, roomId),
            h("td", { class: "num" }, String(room.memberCount ?? "")),
            h("td", { class: "nowrap" }, formatTime(room.createdAt)),
            h("td", {}, showMembers, members),
          );
        }),
      ),
    );
  }

  return { root: section.root, refresh };
}

/**
 * A span of time, short: 850ms, 1.5s, 12s, 4m 10s, 2h 5m, 3d 4h.
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  /** @type {Array<[string, number]>} */
  const units = [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  const i = units.findIndex(([, size]) => s >= size);
  const [bigName, big] = /** @type {[string, number]} */ (units[i]);
  const [smallName, small] = /** @type {[string, number]} */ (units[i + 1]);
  const rest = Math.floor((s % big) / small);
  return `${Math.floor(s / big)}${bigName}${rest === 0 ? "" : ` ${rest}${smallName}`}`;
}

/**
 * A time relative to the server's now: "3s ago", or "in 41s".
 * @param {string} at
 * @param {number} now
 */
function agoText(at, now) {
  const ms = now - Date.parse(at);
  return ms >= 0 ? `${formatDuration(ms)} ago` : `in ${formatDuration(-ms)}`;
}

/** @type {Record<NodeJson["status"], string>} */
const NODE_STATUS_HINT = {
  leased: "its heartbeats hold a lease",
  expired: "its lease ran out: its connections were reset",
  reset: "the chat core reported its reset; no heartbeat since",
  unleased: "it never sent a heartbeat, so it is never reset on silence",
};

/**
 * Chat-core nodes (GET /v1/apps/{appId}/nodes): lease status, last heartbeat, lease and connections.
 * Times are read against the server's clock in the answer, not the browser's.
 * @param {SectionContext} ctx
 * @returns {Section}
 */
export function nodesSection(ctx) {
  const refreshButton = button("Refresh", "nodes-refresh", () => void refresh());
  const section = card({ title: "Nodes", testid: "nodes", tools: [refreshButton] });

  async function refresh() {
    try {
      const res = /** @type {NodeList} */ (await api.get(appPath(ctx.appId, "nodes")));
      section.error(null);
      render(res);
    } catch (err) {
      section.error(err);
    }
  }

  /** @param {NodeList} res */
  function render(res) {
    if (res.nodes.length === 0) {
      show(
        section.body,
        h(
          "p",
          { class: "muted", testid: "nodes-empty" },
          "No chat-core node has sent a heartbeat or holds a connection.",
        ),
      );
      return;
    }
    const now = Date.parse(res.now);
    show(
      section.body,
      table(
        "nodes-table",
        ["Node", "Status", "Last heartbeat", "Lease", "Expires in", "Reset", "Connections"],
        res.nodes.map((node) => {
          const left = node.leaseExpiresAt === null ? null : Date.parse(node.leaseExpiresAt) - now;
          return h(
            "tr",
            { class: "node", testid: "node-row", "data-node-id": node.nodeId, "data-status": node.status },
            h("td", { class: "mono", testid: "node-id", "data-label": "Node" }, node.nodeId),
            h(
              "td",
              { testid: "node-status", "data-label": "Status", title: NODE_STATUS_HINT[node.status] },
              node.status,
            ),
            h(
              "td",
              {
                class: "nowrap",
                testid: "node-heartbeat",
                "data-label": "Last heartbeat",
                title: node.lastHeartbeatAt === null ? null : formatTime(node.lastHeartbeatAt),
              },
              node.lastHeartbeatAt === null ? "—" : agoText(node.lastHeartbeatAt, now),
            ),
            h(
              "td",
              { class: "num", testid: "node-lease", "data-label": "Lease" },
              node.leaseMs > 0 ? formatDuration(node.leaseMs) : "—",
            ),
            h(
              "td",
              {
                class: "nowrap",
                testid: "node-expires",
                "data-label": "Expires in",
                title: node.leaseExpiresAt === null ? null : formatTime(node.leaseExpiresAt),
              },
              left === null ? "—" : left >= 0 ? formatDuration(left) : `overdue ${formatDuration(-left)}`,
            ),
            h(
              "td",
              {
                class: "small",
                testid: "node-reset",
                "data-label": "Reset",
                title: node.resetAt === null ? null : formatTime(node.resetAt),
              },
              node.resetAt === null
                ? "—"
                : `${node.resetReason === "lease_expired" ? "lease expired" : (node.resetReason ?? "")} ${agoText(node.resetAt, now)}`.trim(),
            ),
            h(
              "td",
              { class: "num", testid: "node-connections", "data-label": "Connections" },
              String(node.connections),
            ),
          );
        }),
      ),
    );
  }

  return { root: section.root, refresh };
}
