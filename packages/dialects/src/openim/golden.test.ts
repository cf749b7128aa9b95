import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../types.js";
import { interpretOpenImBefore, renderOpenImBefore, type UrlStyle } from "./before.js";
import { findOpenImHook, openImCommand, type CommandNaming, type OpenImHook } from "./hooks.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/openim/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

function goldenJson(name: string): JsonObject {
  return JSON.parse(golden(name)) as JsonObject;
}

function hook(name: string): OpenImHook {
  const found = findOpenImHook(name);
  if (found === undefined) throw new Error(`no hook ${name}`);
  return found;
}

const OPERATION_ID = "1646445464564";
const beforePush = hook("beforeOfflinePush");

describe("seed 003 before-push request", () => {
  const cases: Array<[UrlStyle, CommandNaming]> = [
    ["path", "seed"],
    ["path", "current"],
    ["query", "seed"],
    ["query", "current"],
  ];
  it.each(cases)("renders %s URL with %s naming byte for byte", (urlStyle, naming) => {
    const spec = renderOpenImBefore({
      baseUrl: "https://callbackurl",
      urlStyle,
      command: openImCommand(beforePush, naming),
      operationId: OPERATION_ID,
      payload: goldenJson("seed003-before-push.request.json"),
    });
    expect(spec.method).toBe("POST");
    expect(spec.url).toBe(golden(`seed003-before-push.url.${urlStyle}.${naming}.txt`));
    expect(spec.headers).toStrictEqual(goldenJson("seed003-before-push.headers.json"));
    expect(spec.body).toBe(golden(`seed003-before-push.body.${naming}.txt`));
  });

  it("keeps callbackCommand first, as the chat core sent it", () => {
    const spec = renderOpenImBefore({
      baseUrl: "https://callbackurl",
      urlStyle: "query",
      command: "callbackBeforeOfflinePushCommand",
      operationId: OPERATION_ID,
      payload: goldenJson("seed003-before-push.request.json"),
    });
    expect(spec.body.startsWith('{"callbackCommand":"callbackBeforeOfflinePushCommand",')).toBe(true);
    expect(spec.body.endsWith(',"operationID":"1646445464564"}')).toBe(true);
  });
});

describe("seed responses", () => {
  it("seed 003's response applies userIDList and offlinePushInfo", () => {
    const request = goldenJson("seed003-before-push.request.json");
    const outcome = interpretOpenImBefore(beforePush, request, {
      status: 200,
      body: golden("seed003-before-push.response.json"),
    });
    const expected = goldenJson("seed003-before-push.modified.json");
    expect(outcome).toStrictEqual({ kind: "modify", payload: expected });
    if (outcome.kind !== "modify") return;
    expect(Object.keys(outcome.payload)).toStrictEqual(Object.keys(expected));
  });

  it('seed 002\'s response ("nextCode": "") continues', () => {
    const body = golden("seed002-user-online.response.json");
    const request = { userID: "user123", seq: 123456, isAppBackground: false, connID: "conn123" };
    expect(
      interpretOpenImBefore(hook("callbackUserOnlineCommand"), request, { status: 200, body }),
    ).toStrictEqual({
      kind: "continue",
    });
    expect(interpretOpenImBefore(hook("beforeSendSingleMsg"), request, { status: 200, body })).toStrictEqual({
      kind: "continue",
    });
  });
});

describe("seed 004 URL form", () => {
  it("is {WEBHOOK_ADDRESS}/callbackCommand?contenttype=json", () => {
    const spec = renderOpenImBefore({
      baseUrl: "http://127.0.0.1:10006/callbackExample",
      urlStyle: "path",
      command: openImCommand(hook("beforeSendSingleMsg"), "current"),
      operationId: OPERATION_ID,
      payload: {},
    });
    expect(spec.url).toBe(golden("seed004-send-single.url.path.txt"));
  });
});
