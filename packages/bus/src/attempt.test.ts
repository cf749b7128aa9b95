import { createLogger } from "@herald/runtime";
import { startNats, waitFor, type NatsFixture } from "@herald/testkit";
import type { Msg } from "@nats-io/nats-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AttemptRecorder,
  decodeAttemptRecords,
  truncateBody,
  type AttemptRecord,
  type NewAttemptRecord,
} from "./attempt.js";
import { connectBus, messageLimitBytes, type Bus } from "./connection.js";

const log = createLogger({ service: "attempt-test", level: process.env["LOG_LEVEL"] ?? "silent" });
let nats: NatsFixture;
let bus: Bus;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: nats.url, name: "attempts", log, namespace: nats.namespace || "a" });
});

afterAll(async () => {
  await bus?.drain();
  await nats?.stop();
});

const record = (appId: string, n: number, body = ""): NewAttemptRecord => ({
  kind: "before",
  appId,
  hook: "beforeSendSingleMsg",
  operationId: `op-${n}`,
  url: "http://biz.example/cb",
  requestBody: body,
  status: 200,
  responseBody: "{}",
  latencyMs: 1,
  outcome: "continue",
  error: "",
});

/** Every message published on the apps' attempt subjects while `act` runs and the recorder flushes. */
async function published(apps: string[], act: (recorder: AttemptRecorder) => void): Promise<Msg[]> {
  const seen: Msg[] = [];
  const subs = apps.map((app) =>
    bus.nc.subscribe(bus.names.subjects.attempt(app), { callback: (_err, msg) => void seen.push(msg) }),
  );
  await bus.nc.flush();
  const recorder = new AttemptRecorder(bus, { lingerMs: 20, onError: () => undefined });
  act(recorder);
  return settle(seen, subs);
}

async function settle(seen: Msg[], subs: { unsubscribe(): void }[]): Promise<Msg[]> {
  let last = -1;
  // Flushed by its timer: wait until the count stops growing across a round trip to the server.
  await waitFor(async () => {
    await bus.nc.flush();
    const stable = seen.length > 0 && seen.length === last;
    last = seen.length;
    return stable;
  });
  for (const s of subs) s.unsubscribe();
  return seen;
}

it("publishes the records of a moment as one message per app, each record complete", async () => {
  const messages = await published(["a1", "a2"], (recorder) => {
    for (let n = 0; n < 50; n++) recorder.record(record(n % 2 === 0 ? "a1" : "a2", n));
  });
  expect(messages).toHaveLength(2);
  const records = messages.flatMap((m) => decodeAttemptRecords(m.data) as AttemptRecord[]);
  expect(records).toHaveLength(50);
  expect(new Set(records.map((r) => r.id)).size).toBe(50);
  for (const m of messages) {
    const batch = decodeAttemptRecords(m.data) as AttemptRecord[];
    expect(new Set(batch.map((r) => r.appId)).size).toBe(1);
    expect(m.subject).toBe(bus.names.subjects.attempt(batch[0]!.appId));
    expect(m.headers?.get("Nats-Msg-Id")).not.toBe("");
  }
  expect(records.every((r) => typeof r.at === "string" && !Number.isNaN(Date.parse(r.at)))).toBe(true);
});

it("splits a batch that would not fit in one NATS message, losing no record", async () => {
  // Bodies are cut to 4 KiB characters each; emoji take 4 bytes, escaped JSON text up to 6.
  const big = "😀".repeat(4096);
  const perRecord = Buffer.byteLength(JSON.stringify({ requestBody: truncateBody(big) }));
  const count = Math.ceil((messageLimitBytes(bus) * 2.5) / perRecord);
  const messages = await published(["big"], (recorder) => {
    for (let n = 0; n < count; n++) recorder.record(record("big", n, big));
  });
  expect(messages.length).toBeGreaterThanOrEqual(3);
  for (const m of messages) expect(m.data.length).toBeLessThanOrEqual(messageLimitBytes(bus));
  const ops = messages.flatMap((m) =>
    (decodeAttemptRecords(m.data) as AttemptRecord[]).map((r) => r.operationId),
  );
  expect(ops).toEqual(Array.from({ length: count }, (_, n) => `op-${n}`));
});

it("reads a single record (publishAttempt's form) as a batch of one", () => {
  const one = new TextEncoder().encode(JSON.stringify({ id: "x", appId: "a" }));
  expect(decodeAttemptRecords(one)).toEqual([{ id: "x", appId: "a" }]);
});
