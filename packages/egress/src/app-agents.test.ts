import { afterAll, beforeAll, expect, it } from "vitest";
import { startRecordingServer, type RecordingServer } from "@herald/testkit";
import { createAppAgents } from "./app-agents.js";
import { callBusinessServer } from "./call.js";

let server: RecordingServer;
const agents = createAppAgents(false, { connections: 2 });
const post = (url: string) => ({ method: "POST", url, headers: {}, body: "{}" });

beforeAll(async () => {
  server = await startRecordingServer();
});
afterAll(async () => {
  await agents.close();
  await server.close();
});

it("gives each app the pool of its own policy, the same one for apps that share it", async () => {
  const closed = { allowPrivateDestinations: false };
  const open = { allowPrivateDestinations: true };
  expect(agents.forApp(closed)).toBe(agents.forApp({ allowPrivateDestinations: false }));
  expect(agents.forApp(open)).not.toBe(agents.forApp(closed));

  const refused = await callBusinessServer(agents.forApp(closed), post(`${server.url}/a`), 5_000);
  expect(refused.ok ? undefined : refused.failure.reason).toBe("refused");
  const allowed = await callBusinessServer(agents.forApp(open), post(`${server.url}/b`), 5_000);
  expect(allowed.ok).toBe(true);
  expect(server.requests.map((r) => r.path)).toEqual(["/b"]);
});
