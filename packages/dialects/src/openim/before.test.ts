import { describe, expect, it } from "vitest";
import { interpretOpenImBefore, renderOpenImBefore, type UrlStyle } from "./before.js";
import { findOpenImHook, type OpenImHook } from "./hooks.js";

function hook(name: string): OpenImHook {
  const found = findOpenImHook(name);
  if (found === undefined) throw new Error(`no hook ${name}`);
  return found;
}

const sendSingle = hook("beforeSendSingleMsg");
const request = { sendID: "u1", recvID: "u2", contentType: 101, content: '{"content":"hi"}' };

function interpret(status: number, body: string) {
  return interpretOpenImBefore(sendSingle, request, { status, body });
}

describe("interpretOpenImBefore", () => {
  it("denies with the business server's code on nextCode 1", () => {
    const body = JSON.stringify({
      actionCode: 0,
      nextCode: 1,
      errCode: 5001,
      errMsg: "spam",
      errDlt: "word x",
    });
    expect(interpret(200, body)).toStrictEqual({
      kind: "deny",
      errCode: 5001,
      errMsg: "spam",
      errDlt: "word x",
    });
  });

  it('denies on nextCode "1" and a string errCode, with absent texts as ""', () => {
    expect(interpret(200, '{"nextCode":"1","errCode":"5002"}')).toStrictEqual({
      kind: "deny",
      errCode: 5002,
      errMsg: "",
      errDlt: "",
    });
  });

  it("continues on an empty object, nextCode 0, null codes and 204", () => {
    expect(interpret(200, "{}")).toStrictEqual({ kind: "continue" });
    expect(interpret(200, '{"actionCode":0,"nextCode":0}')).toStrictEqual({ kind: "continue" });
    expect(interpret(200, '{"actionCode":null,"nextCode":null,"errCode":null,"errMsg":null}')).toStrictEqual({
      kind: "continue",
    });
    expect(interpret(204, '{"nextCode":""}')).toStrictEqual({ kind: "continue" });
  });

  it("fails on a non-2xx status, also with a JSON body OpenIM would accept", () => {
    expect(interpret(500, "{}")).toStrictEqual({
      kind: "failed",
      failure: { reason: "status", status: 500, detail: "HTTP 500: {}" },
    });
    const denying = interpret(404, '{"nextCode":1,"errCode":5001}');
    expect(denying).toMatchObject({ kind: "failed", failure: { reason: "status", status: 404 } });
    expect(interpret(302, "")).toMatchObject({ kind: "failed", failure: { reason: "status", status: 302 } });
  });

  it("fails on garbage, HTML, empty, array and null bodies", () => {
    for (const body of [
      "not json",
      "<html><body>502 Bad Gateway</body></html>",
      "",
      "[]",
      "null",
      '"ok"',
      "1",
    ]) {
      expect(interpret(200, body), body).toMatchObject({ kind: "failed", failure: { reason: "body" } });
    }
    expect(interpret(200, "")).toStrictEqual({
      kind: "failed",
      failure: { reason: "body", detail: "response is not a JSON object: (empty body)" },
    });
  });

  it("cuts a long body in the detail", () => {
    const outcome = interpret(503, "x".repeat(5000));
    if (outcome.kind !== "failed") throw new Error("expected a failure");
    expect(outcome.failure.detail.length).toBeLessThan(300);
  });

  it("fails on actionCode != 0, even with nextCode 1", () => {
    expect(interpret(200, '{"actionCode":1,"nextCode":1,"errMsg":"busy"}')).toStrictEqual({
      kind: "failed",
      failure: { reason: "action", actionCode: 1, detail: "actionCode 1: busy" },
    });
    expect(interpret(200, '{"actionCode":"7"}')).toMatchObject({
      kind: "failed",
      failure: { reason: "action", actionCode: 7 },
    });
  });

  it("fails on codes that are not integers, naming the field", () => {
    expect(interpret(200, '{"nextCode":1.5}')).toStrictEqual({
      kind: "failed",
      failure: { reason: "body", detail: "nextCode must be an integer, got 1.5" },
    });
    expect(interpret(200, '{"nextCode":"yes"}')).toMatchObject({
      failure: { reason: "body", detail: 'nextCode must be an integer, got "yes"' },
    });
    expect(interpret(200, '{"actionCode":{}}')).toMatchObject({
      failure: { reason: "body", detail: "actionCode must be an integer, got {}" },
    });
    expect(interpret(200, '{"nextCode":1,"errCode":true}')).toMatchObject({
      failure: { reason: "body", detail: "errCode must be an integer, got true" },
    });
    expect(interpret(200, '{"nextCode":"1.0"}')).toMatchObject({ failure: { reason: "body" } });
  });

  it("fails on errMsg or errDlt that are not strings", () => {
    expect(interpret(200, '{"nextCode":1,"errMsg":42}')).toMatchObject({
      failure: { reason: "body", detail: "errMsg must be a string, got 42" },
    });
    expect(interpret(200, '{"errDlt":["a"]}')).toMatchObject({ failure: { reason: "body" } });
  });

  it("does not apply modifications when it denies", () => {
    const outcome = interpretOpenImBefore(
      hook("beforeOfflinePush"),
      { userIDList: ["a"] },
      {
        status: 200,
        body: '{"nextCode":1,"errCode":5003,"userIDList":["b"]}',
      },
    );
    expect(outcome).toStrictEqual({ kind: "deny", errCode: 5003, errMsg: "", errDlt: "" });
  });
});

describe("renderOpenImBefore", () => {
  function url(baseUrl: string, urlStyle: UrlStyle): string {
    return renderOpenImBefore({ baseUrl, urlStyle, command: "cmd", operationId: "op", payload: {} }).url;
  }

  it("strips one trailing slash in path style", () => {
    expect(url("http://h/cb/", "path")).toBe("http://h/cb/cmd?contenttype=json");
    expect(url("http://h/cb//", "path")).toBe("http://h/cb//cmd?contenttype=json");
  });

  it("keeps a base URL's query a query in path style", () => {
    expect(url("http://h/cb?t=1", "path")).toBe("http://h/cb/cmd?t=1&contenttype=json");
  });

  it("appends to an existing query in query style", () => {
    expect(url("http://h/cb", "query")).toBe("http://h/cb?command=cmd&contenttype=json");
    expect(url("http://h/cb?t=1", "query")).toBe("http://h/cb?t=1&command=cmd&contenttype=json");
    expect(url("http://h/cb?", "query")).toBe("http://h/cb?command=cmd&contenttype=json");
  });

  it("overrides callbackCommand and operationID in place and leaves the payload alone", () => {
    const payload = { operationID: "old", a: 1, callbackCommand: "old" };
    const spec = renderOpenImBefore({
      baseUrl: "http://h",
      urlStyle: "path",
      command: "cmd",
      operationId: "op-1",
      payload,
    });
    expect(spec.body).toBe('{"operationID":"op-1","a":1,"callbackCommand":"cmd"}');
    expect(spec.headers).toStrictEqual({ "content-type": "application/json", operationid: "op-1" });
    expect(payload).toStrictEqual({ operationID: "old", a: 1, callbackCommand: "old" });
  });
});
