import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startRecordingServer, type RecordingServer } from "./recording-server.js";

describe("startRecordingServer", () => {
  let server: RecordingServer;
  beforeEach(async () => {
    server = await startRecordingServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it("records method, url, query, lowercased headers and the exact body bytes", async () => {
    const body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d, 0xff]);
    await fetch(`${server.url}/callback/im?appId=a1&x=%20y`, {
      method: "PUT",
      headers: { "X-Signature": "abc", "Content-Type": "application/octet-stream" },
      body,
    });
    const [req] = await server.waitForRequests(1);
    expect(req?.method).toBe("PUT");
    expect(req?.url).toBe("/callback/im?appId=a1&x=%20y");
    expect(req?.path).toBe("/callback/im");
    expect(req?.query).toEqual({ appId: "a1", x: " y" });
    expect(req?.headers["x-signature"]).toBe("abc");
    expect(req?.headers["content-type"]).toBe("application/octet-stream");
    expect(req?.body.equals(body)).toBe(true);
  });

  it("parses a JSON body", async () => {
    await fetch(server.url, { method: "POST", body: JSON.stringify({ from_userid: "u1", n: 2 }) });
    const [req] = await server.waitForRequests(1);
    expect(req?.json()).toEqual({ from_userid: "u1", n: 2 });
    expect(req?.text).toBe('{"from_userid":"u1","n":2}');
  });

  it("answers from the script in order, then from the fallback", async () => {
    server.reply(
      { status: 500, body: "first" },
      { status: 201, body: { ok: true }, headers: { "X-Id": "7" } },
    );
    server.fallback((req) => ({ status: 202, body: `fallback for ${req.path}` }));
    const first = await fetch(`${server.url}/a`);
    const second = await fetch(`${server.url}/b`);
    const third = await fetch(`${server.url}/c`);
    expect([first.status, await first.text()]).toEqual([500, "first"]);
    expect(second.status).toBe(201);
    expect(second.headers.get("content-type")).toBe("application/json");
    expect(second.headers.get("x-id")).toBe("7");
    expect(await second.json()).toEqual({ ok: true });
    expect([third.status, await third.text()]).toEqual([202, "fallback for /c"]);
  });

  it("sends a Buffer body as its bytes", async () => {
    server.reply({ body: Buffer.from([0, 1, 254]) });
    const res = await fetch(server.url);
    expect(res.headers.get("content-type")).toBeNull();
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0, 1, 254]));
  });

  it("answers 200 with an empty body when nothing is scripted", async () => {
    const res = await fetch(server.url);
    expect([res.status, await res.text()]).toEqual([200, ""]);
  });

  it("clear() forgets requests and unused script entries", async () => {
    server.reply({ status: 503 });
    server.clear();
    await fetch(server.url);
    expect(server.requests).toHaveLength(1);
    server.clear();
    expect(server.requests).toHaveLength(0);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
  });

  it("delays a reply by delayMs and still answers", async () => {
    server.reply({ status: 204, delayMs: 50 });
    const res = await fetch(server.url);
    expect(res.status).toBe(204);
  });

  it("holds a reply until its `after` settles", async () => {
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    server.reply({ status: 201, after: released });
    let answered = false;
    const res = fetch(server.url).then((r) => ((answered = true), r));
    await server.waitForRequests(1);
    expect(answered).toBe(false);
    release();
    expect((await res).status).toBe(201);
  });

  it("hang never answers, so a client with a timeout aborts", async () => {
    server.reply({ hang: true });
    await expect(fetch(server.url, { signal: AbortSignal.timeout(200) })).rejects.toThrow(/abort|timeout/i);
    expect(server.requests).toHaveLength(1);
  });

  it("reset makes the client see a connection error", async () => {
    server.reply({ reset: true });
    const failure: unknown = await fetch(server.url, { method: "POST", body: "x" }).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(Error);
    const cause = (failure as Error).cause as { code?: string; message?: string } | undefined;
    expect(`${cause?.code} ${cause?.message}`).toMatch(/ECONNRESET|other side closed/);
    expect(server.requests).toHaveLength(1);
  });

  it("waitForRequests rejects on timeout, naming how many arrived", async () => {
    await fetch(`${server.url}/only-one`);
    await expect(server.waitForRequests(2, { timeoutMs: 100 })).rejects.toThrow(
      /waiting for 2 request\(s\).*1 arrived: GET \/only-one/,
    );
  });

  it("close() ends a hanging request", async () => {
    server.reply({ hang: true });
    const pending = fetch(server.url).catch((err: unknown) => err);
    await server.waitForRequests(1);
    await server.close();
    expect(await pending).toBeInstanceOf(Error);
  });
});
