import { readFileSync } from "node:fs";
import { Event, OfflineReason, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import type { UrlStyle } from "./before.js";
import type { CommandNaming } from "./hooks.js";
import { renderOpenImConnection, renderOpenImPresence } from "./presence.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/openim/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

const OPERATION_ID = "1646445464564";

function event(payload: DeepPartial<Event>["payload"], operationId = OPERATION_ID): Event {
  return Event.fromPartial({
    id: "evt-1",
    appId: "app_1",
    occurredAt: new Date(1602511574_000),
    operationId,
    payload,
  });
}

// Seed 002's request package example, as the presence service derives it.
const seed002Online = event({
  $case: "userOnline",
  value: {
    userId: "user123",
    seq: 123456,
    connId: "conn123",
    platformId: 5,
    platform: "Web",
    isAppBackground: false,
    nodeId: "node-a",
    clientIp: "203.0.113.7",
    causeEventId: "conn-evt-1",
  },
});

const seed002Offline = event({
  $case: "userOffline",
  value: {
    userId: "user123",
    seq: 123457,
    connId: "conn123",
    platformId: 5,
    platform: "Web",
    reason: OfflineReason.OFFLINE_REASON_DISCONNECT,
    nodeId: "node-a",
    causeEventId: "conn-evt-2",
  },
});

const cases: Array<[UrlStyle, CommandNaming]> = [
  ["path", "seed"],
  ["path", "current"],
  ["query", "seed"],
  ["query", "current"],
];

describe("per-connection presence (conn.online / conn.offline), as OpenIM's msg-gateway sends it", () => {
  const login = (connId: string, platformId: number, platform: string, at: number) =>
    Event.fromPartial({
      id: `login-${connId}`,
      appId: "app_1",
      occurredAt: new Date(at),
      operationId: OPERATION_ID,
      payload: {
        $case: "connectionOnline",
        value: { userId: "李雷🙂", connId, platformId, platform, isAppBackground: false, nodeId: "n" },
      },
    });

  it("renders each login with its own connID and platform, seq the login's time in ms", () => {
    const opts = { baseUrl: "https://callbackurl", urlStyle: "path" as const, naming: "seed" as const };
    const phone = renderOpenImConnection(login("c-phone", 2, "Android", 1602511574_000), opts);
    const web = renderOpenImConnection(login("c-web", 5, "Web", 1602511575_250), opts);
    expect(phone?.url).toBe("https://callbackurl/callbackUserOnlineCommand?contenttype=json");
    expect(phone?.body).toBe(
      '{"userID":"李雷🙂","callbackCommand":"callbackUserOnlineCommand","seq":1602511574000,' +
        '"isAppBackground":false,"connID":"c-phone","platformID":2,"platform":"Android","operationID":"1646445464564"}',
    );
    expect(JSON.parse(web?.body ?? "{}")).toMatchObject({
      connID: "c-web",
      platformID: 5,
      seq: 1602511575250,
    });
  });

  it("renders a logout as callbackUserOfflineCommand with that connection, without isAppBackground", () => {
    const logout = Event.fromPartial({
      id: "logout-1",
      appId: "app_1",
      occurredAt: new Date(1602511580_000),
      payload: {
        $case: "connectionOffline",
        value: { userId: "u1", connId: "c-web", platformId: 5, platform: "Web", nodeId: "n" },
      },
    });
    const spec = renderOpenImConnection(logout, {
      baseUrl: "https://callbackurl",
      urlStyle: "query",
      naming: "current",
    });
    expect(spec?.url).toBe("https://callbackurl?command=callbackAfterUserOfflineCommand&contenttype=json");
    expect(spec?.body).toBe(
      '{"userID":"u1","callbackCommand":"callbackAfterUserOfflineCommand","seq":1602511580000,' +
        '"connID":"c-web","platformID":5,"platform":"Web","operationID":"logout-1"}',
    );
  });
});

describe("seed 002 presence requests", () => {
  it.each(cases)("renders user.online with %s URL and %s naming byte for byte", (urlStyle, naming) => {
    const spec = renderOpenImPresence(seed002Online, { baseUrl: "https://callbackurl", urlStyle, naming });
    expect(spec).toStrictEqual({
      method: "POST",
      url: golden(`seed002-user-online.url.${urlStyle}.${naming}.txt`),
      headers: JSON.parse(golden("seed002-user-presence.headers.json")) as unknown,
      body: golden(`seed002-user-online.body.${naming}.txt`),
    });
  });

  it.each(cases)("renders user.offline with %s URL and %s naming byte for byte", (urlStyle, naming) => {
    const spec = renderOpenImPresence(seed002Offline, { baseUrl: "https://callbackurl", urlStyle, naming });
    expect(spec).toStrictEqual({
      method: "POST",
      url: golden(`seed002-user-offline.url.${urlStyle}.${naming}.txt`),
      headers: JSON.parse(golden("seed002-user-presence.headers.json")) as unknown,
      body: golden(`seed002-user-offline.body.${naming}.txt`),
    });
  });

  it("starts with seed 002's example fields in its order", () => {
    const spec = renderOpenImPresence(seed002Online, {
      baseUrl: "https://callbackurl",
      urlStyle: "query",
      naming: "seed",
    });
    const body = JSON.parse(spec?.body ?? "{}") as Record<string, unknown>;
    expect(Object.keys(body).slice(0, 5)).toStrictEqual([
      "userID",
      "callbackCommand",
      "seq",
      "isAppBackground",
      "connID",
    ]);
    expect(body).toMatchObject({
      userID: "user123",
      callbackCommand: "callbackUserOnlineCommand",
      seq: 123456,
      isAppBackground: false,
      connID: "conn123",
    });
  });
});

describe("renderOpenImPresence", () => {
  const opts = { baseUrl: "https://callbackurl", urlStyle: "path", naming: "current" } as const;

  it("renders nothing for user.background, node.reset and other events", () => {
    const background = event({
      $case: "userBackground",
      value: { userId: "u1", seq: 2, connId: "c1", isAppBackground: true },
    });
    expect(renderOpenImPresence(background, opts)).toBeUndefined();
    expect(renderOpenImPresence(event({ $case: "nodeReset", value: { nodeId: "n" } }), opts)).toBeUndefined();
    expect(renderOpenImPresence(event(undefined), opts)).toBeUndefined();
  });

  it("traces an event without an operationId by its id", () => {
    const spec = renderOpenImPresence(
      event({ $case: "userOnline", value: { userId: "u1", seq: 1 } }, ""),
      opts,
    );
    expect(spec?.headers).toStrictEqual({ "content-type": "application/json", operationid: "evt-1" });
    expect(spec?.body.endsWith(',"operationID":"evt-1"}')).toBe(true);
  });

  it("reports a background online connection as isAppBackground true", () => {
    const spec = renderOpenImPresence(
      event({ $case: "userOnline", value: { userId: "u1", seq: 7, isAppBackground: true } }),
      opts,
    );
    expect(JSON.parse(spec?.body ?? "{}")).toMatchObject({ isAppBackground: true, seq: 7 });
  });
});
