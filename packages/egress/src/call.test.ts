import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { startRecordingServer, type RecordingServer } from "@herald/testkit";
import { callBusinessServer } from "./call.js";
import { createGuardedAgent } from "./guarded-agent.js";

// Odd input on the outbound path fails cleanly, as a CallFailure naming the part, and sends nothing.

let server: RecordingServer;
const agent = createGuardedAgent({ allowLoopback: true, allowPrivate: false });
const post = (url: string, headers: Record<string, string> = {}) => ({
  method: "POST",
  url,
  headers,
  body: "{}",
});

beforeAll(async () => {
  server = await startRecordingServer();
});
afterEach(() => server.clear());
afterAll(async () => {
  await agent.close();
  await server.close();
});

it("sends a URL with a non-ASCII path and query percent-encoded", async () => {
  const result = await callBusinessServer(agent, post(`${server.url}/回调/李四?名=مستخدم&e=🙂`), 5_000);
  expect(result.ok).toBe(true);
  const [req] = await server.waitForRequests(1);
  expect(decodeURI(req!.url)).toBe("/回调/李四?名=مستخدم&e=🙂");
});

it.each([
  ["a CJK header value", { "x-id": "李四" }, /^header x-id: /],
  ["a Latin-1 header value", { "x-id": "é" }, /^header x-id: /],
  ["CR LF in a header value", { "x-id": "a\r\nx-injected: 1" }, /^header x-id: /],
  ["a bad header name", { "x id": "1" }, /^header "x id": /],
])("refuses %s as a request failure, and sends nothing", async (_, headers, detail) => {
  const result = await callBusinessServer(agent, post(`${server.url}/h`, headers), 5_000);
  const failure = result.ok ? undefined : result.failure;
  expect(failure?.reason).toBe("request");
  expect(failure?.detail).toMatch(detail);
  expect(server.requests).toHaveLength(0);
});

it.each(["not a url", "ftp://127.0.0.1/x", "http://[::1/"])(
  "refuses the URL %j as a request failure",
  async (url) => {
    const result = await callBusinessServer(agent, post(url), 5_000);
    const failure = result.ok ? undefined : result.failure;
    expect(failure?.reason).toBe("request");
    expect(failure?.detail).toMatch(/^url: /);
  },
);

it("reads an answer that is not valid UTF-8, and says so", async () => {
  server.reply({ status: 200, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) });
  const result = await callBusinessServer(agent, post(server.url), 5_000);
  expect(result).toMatchObject({ ok: true, status: 200, body: "{\ufffd\ufffd}", bodyIsUtf8: false });
  server.reply({ status: 200, body: '{"名":"李四"}' });
  expect(await callBusinessServer(agent, post(server.url), 5_000)).toMatchObject({
    body: '{"名":"李四"}',
    bodyIsUtf8: true,
  });
});
