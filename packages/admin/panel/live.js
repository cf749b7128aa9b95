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
